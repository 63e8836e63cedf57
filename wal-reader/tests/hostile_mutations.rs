//! Randomized damage to a real WAL segment (fixtures/k8s): flipped bytes, zeroed sectors,
//! forged length fields and truncation, each run through the fuzz body (default and raw
//! scans, entry decoding and printing, restart view, `.snap` decoding). Deterministic seed
//! and a fixed number of rounds, so a failure reproduces; none may panic or hang.

use std::path::PathBuf;

fn fixture_segment() -> Option<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/k8s/data/member/wal");
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    names.sort();
    std::fs::read(names.first()?).ok()
}

/// xorshift64: small, deterministic, good enough to pick offsets.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The written part of the segment (up to the first zero length field at a record
/// boundary is not known here, so: up to the last non-zero byte, 8-aligned).
fn written_len(seg: &[u8]) -> usize {
    let last = seg.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    last.div_ceil(8) * 8
}

fn mutate(src: &[u8], rng: &mut Rng, round: usize) -> Vec<u8> {
    let mut d = src.to_vec();
    let w = written_len(&d).clamp(8, d.len());
    match round % 5 {
        // Flip a few random bytes in the written part.
        0 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(w);
                d[i] ^= 1 << rng.below(8);
            }
        }
        // Zero a 512-byte sector (a torn write).
        1 => {
            let start = rng.below(w) / 512 * 512;
            let end = (start + 512).min(d.len());
            d[start..end].fill(0);
        }
        // Truncate inside the written part.
        2 => d.truncate(rng.below(w)),
        // Forge an 8-aligned word as a length field: huge, canonical-looking, or small.
        3 => {
            let at = rng.below(w) / 8 * 8;
            let v = [
                u64::MAX,
                rng.next() & 0x00ff_ffff_ffff_fff8,
                (1 << 20) as u64,
                8,
                0x8700_0000_0000_0001,
            ][rng.below(5)];
            if at + 8 <= d.len() {
                d[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
        }
        // Copy one range over another (a misdirected write).
        _ => {
            let len = 64 + rng.below(4096);
            let (a, b) = (
                rng.below(w.saturating_sub(len)),
                rng.below(w.saturating_sub(len)),
            );
            let chunk = d[b..b + len].to_vec();
            d[a..a + len].copy_from_slice(&chunk);
        }
    }
    // Keep each round quick: the zero tail beyond the written part adds nothing.
    let keep = (w + 4096).min(d.len());
    d.truncate(keep);
    d
}

#[test]
fn random_damage_to_a_real_wal_segment_never_panics_or_hangs() {
    let Some(src) = fixture_segment() else {
        eprintln!("fixtures/k8s WAL missing: skipped");
        return;
    };
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let rounds: usize = std::env::var("HOSTILE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    for round in 0..rounds {
        let d = mutate(&src, &mut rng, round);
        wal_reader::fuzz::exercise(&d);
    }
}
