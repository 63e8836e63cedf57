//! Value parsers shared by the commands' flags, so a nonsensical value is refused before
//! any work starts (exit status [`crate::error::EXIT_USAGE`]).

/// Parses a byte size: a plain number of bytes, or a number with a unit. Binary units
/// (`Ki`, `KiB`, `Mi`, `MiB`, `Gi`, `GiB`, `Ti`, `TiB`) are powers of 1024; decimal units
/// (`K`/`KB`, `M`/`MB`, `G`/`GB`, `T`/`TB`) are powers of 1000, as Kubernetes quantities
/// and most sizes tools read them. Units are case-insensitive; a fraction is allowed with
/// a unit (`2.5GiB`). `8GiB` is 8589934592.
pub fn size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let mult: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "ki" | "kib" => 1 << 10,
        "m" | "mb" => 1000 * 1000,
        "mi" | "mib" => 1 << 20,
        "g" | "gb" => 1000 * 1000 * 1000,
        "gi" | "gib" => 1 << 30,
        "t" | "tb" => 1000u64.pow(4),
        "ti" | "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "`{s}`: unknown unit `{unit}` (bytes, or KiB MiB GiB TiB / KB MB GB TB)"
            ))
        }
    };
    if num.is_empty() {
        return Err(format!("`{s}`: no number"));
    }
    let bytes = if let Ok(n) = num.parse::<u64>() {
        n.checked_mul(mult)
    } else {
        let f: f64 = num
            .parse()
            .map_err(|_| format!("`{s}`: `{num}` is not a number"))?;
        let b = f * mult as f64;
        (b.is_finite() && b >= 0.0 && b < u64::MAX as f64).then_some(b.round() as u64)
    };
    match bytes {
        Some(0) => Err(format!("`{s}`: a size must be more than 0 bytes")),
        Some(b) => Ok(b),
        None => Err(format!("`{s}`: too large")),
    }
}

/// The most worker threads a command accepts: more than a few per core only adds
/// scheduling and memory, and a huge number would spend minutes creating threads.
pub fn max_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores * 4).clamp(4, 1024)
}

/// Parses `--threads`: 1 up to [`max_threads`].
pub fn threads(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number"))?;
    let max = max_threads();
    match n {
        0 => Err("must be at least 1 (leave --threads out to use every core)".into()),
        n if n > max => Err(format!(
            "{n} threads would not help on this machine ({} cores); at most {max}",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        )),
        n => Ok(n),
    }
}

/// Parses a prefix `--depth`: at least 1 (depth 0 would put every key in one group).
pub fn depth(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number"))?;
    match n {
        0 => Err("must be at least 1: depth N groups keys by their first N '/'".into()),
        n if n > 64 => Err(format!(
            "{n} is deeper than any key path needs (at most 64)"
        )),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(size("16777216"), Ok(16_777_216));
        assert_eq!(size("8GiB"), Ok(8 << 30));
        assert_eq!(size("8gib"), Ok(8 << 30));
        assert_eq!(size("8Gi"), Ok(8 << 30));
        assert_eq!(size("2GB"), Ok(2_000_000_000));
        assert_eq!(size("2.5GiB"), Ok(5 << 29));
        assert_eq!(size("512 MiB"), Ok(512 << 20));
        assert!(size("0").is_err());
        assert!(size("8XB").is_err());
        assert!(size("GiB").is_err());
        assert!(size("99999999999TiB").is_err());
    }

    #[test]
    fn threads_and_depth_refuse_what_makes_no_sense() {
        assert!(threads("0").is_err());
        assert!(threads("100000").is_err());
        assert_eq!(threads("1"), Ok(1));
        assert_eq!(threads("4"), Ok(4));
        assert!(depth("0").is_err());
        assert_eq!(depth("3"), Ok(3));
    }
}
