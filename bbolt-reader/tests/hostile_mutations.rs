//! Randomized damage to a real etcd db (fixtures/k8s): flipped bytes, zeroed ranges,
//! forged header fields and truncation, each run through the fuzz body (open, cursor
//! walks, leaf listing, whole-file walk, check). Deterministic seed and a fixed number of
//! rounds, so a failure reproduces; none may panic or hang.

use std::path::PathBuf;

fn fixture_db() -> Option<Vec<u8>> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/k8s/data/member/snap/db");
    std::fs::read(p).ok()
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

/// One damaged copy of `src`, chosen by `round`.
fn mutate(src: &[u8], rng: &mut Rng, round: usize) -> Vec<u8> {
    let mut d = src.to_vec();
    let ps = 4096;
    let pages = d.len() / ps;
    match round % 6 {
        // Flip a few random bytes anywhere.
        0 => {
            for _ in 0..1 + rng.below(16) {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
        }
        // Zero a random range (a torn sector or a lost page).
        1 => {
            let start = rng.below(d.len());
            let len = [512, 4096, 3 * 4096][rng.below(3)];
            let end = (start + len).min(d.len());
            d[start..end].fill(0);
        }
        // Truncate anywhere.
        2 => d.truncate(rng.below(d.len())),
        // Forge a page header field of a random page: count, overflow or flags.
        3 => {
            let off = rng.below(pages) * ps;
            let field = [(10, 2), (12, 4), (8, 2)][rng.below(3)];
            let v = rng.next().to_le_bytes();
            d[off + field.0..off + field.0 + field.1].copy_from_slice(&v[..field.1]);
        }
        // Forge an element header (pos / ksize / vsize / pgid) on a random page.
        4 => {
            let off = rng.below(pages) * ps + 16 + 16 * rng.below(16);
            let at = off + 4 * rng.below(4);
            let v = [u32::MAX, 0, 1 << 20, rng.next() as u32][rng.below(4)];
            d[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        // Overwrite a random page with a copy of another (a misdirected write).
        _ => {
            let (a, b) = (rng.below(pages), rng.below(pages));
            let page = d[b * ps..(b + 1) * ps].to_vec();
            d[a * ps..(a + 1) * ps].copy_from_slice(&page);
        }
    }
    d
}

#[test]
fn random_damage_to_a_real_db_never_panics_or_hangs() {
    let Some(src) = fixture_db() else {
        eprintln!("fixtures/k8s db missing: skipped");
        return;
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let rounds: usize = std::env::var("HOSTILE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    for round in 0..rounds {
        let d = mutate(&src, &mut rng, round);
        bbolt_reader::fuzz::exercise(&d);
    }
}
