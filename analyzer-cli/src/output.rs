//! Writing results: human text or JSON, with a closed pipe (`| head`) treated as a normal end.

use crate::error::{CliError, Result};
use base64::Engine as _;
use serde::Serialize;
use std::io::{BufWriter, Write};

/// Buffered stdout for a command's output.
pub fn stdout() -> BufWriter<std::io::StdoutLock<'static>> {
    BufWriter::with_capacity(1 << 16, std::io::stdout().lock())
}

/// Prints `value` as pretty JSON followed by a newline.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let mut out = stdout();
    serde_json::to_writer_pretty(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// True when `err` is a write to a closed pipe, which ends output normally.
pub fn is_broken_pipe(err: &CliError) -> bool {
    matches!(err, CliError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Bytes for JSON: `{"text": ...}` when valid UTF-8, else `{"base64": ...}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonBytes {
    /// The bytes were valid UTF-8.
    Text(String),
    /// The bytes were not valid UTF-8; standard base64.
    Base64(String),
}

impl JsonBytes {
    /// Encodes `b`.
    pub fn new(b: &[u8]) -> Self {
        match std::str::from_utf8(b) {
            Ok(s) => JsonBytes::Text(s.to_string()),
            Err(_) => JsonBytes::Base64(base64::engine::general_purpose::STANDARD.encode(b)),
        }
    }
}

pub use etcd_mvcc::display::sanitize;

/// `n` bytes in human units (KiB, MiB, GiB, binary), with the exact count for small sizes.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII
/// space. Approximated with Rust's character properties: control characters, whitespace
/// other than ' ', format characters and private-use code points are not printable;
/// unassigned code points are taken as printable.
pub fn go_is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c as u32,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x890..=0x891 | 0x8E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F
        | 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD
        | 0xFFFE | 0xFFFF)
}

/// Go's `fmt.Sprintf("%q", s)` (strconv.Quote) of a byte string.
pub fn go_quote(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('"');
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if go_is_print(c) => out.push(c),
                '\x07' => out.push_str("\\a"),
                '\x08' => out.push_str("\\b"),
                '\x0c' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\x0b' => out.push_str("\\v"),
                c if (c as u32) < 0x20 || c == '\x7f' => {
                    out.push_str(&format!("\\x{:02x}", c as u32))
                }
                c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push_str(&format!("\\U{:08x}", c as u32)),
            }
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_quote_matches_strconv_quote() {
        assert_eq!(go_quote(b"abc"), "\"abc\"");
        assert_eq!(go_quote(b"a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(go_quote(b"\n\t\x00\x7f"), "\"\\n\\t\\x00\\x7f\"");
        assert_eq!(go_quote(b"\xff\xfe"), "\"\\xff\\xfe\"");
        assert_eq!(go_quote("é✓".as_bytes()), "\"é✓\"");
        assert_eq!(go_quote("\u{a0}\u{200b}".as_bytes()), "\"\\u00a0\\u200b\"");
        assert_eq!(
            go_quote(b"\x00\x00\x00\x00\x00\x00\x00\x02_\x00"),
            "\"\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02_\\x00\""
        );
    }
}
