//! Replays the committed fuzz corpus (fuzz/corpus/bbolt_open_walk_check) through the fuzz
//! target's body, and keeps the hand-built seed files in that corpus up to date.
//!
//! `BBOLT_WRITE_SEEDS=1 cargo test -p bbolt-reader --test fuzz_corpus` rewrites the seeds.

mod common;

use std::path::PathBuf;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/bbolt_open_walk_check")
}

/// Small files that reach the interesting paths: sound trees, inline buckets, both
/// freelist forms, and one example of each kind of damage.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    use common::*;
    let mut out = vec![("seed-sample", sample()), ("seed-wide", wide(4))];
    let mut cycle = wide(4);
    let off = 3 * PS + 16 + 3 * 16 + 8;
    cycle[off..off + 8].copy_from_slice(&3u64.to_le_bytes());
    out.push(("seed-cycle", cycle));
    let mut twice = wide(4);
    twice[off..off + 8].copy_from_slice(&4u64.to_le_bytes());
    out.push(("seed-referenced-twice", twice));
    let mut oob = wide(4);
    oob[off..off + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    out.push(("seed-out-of-bounds", oob));
    let mut ovf = wide(4);
    ovf[5 * PS + 12..5 * PS + 16].copy_from_slice(&u32::MAX.to_le_bytes());
    out.push(("seed-overflow-past-end", ovf));
    let mut fl = FileBuilder::new(PS, 5);
    fl.freelist(2, &[4, 4, 9], true);
    fl.leaf(3, &[]);
    fl.meta(0, 3, 2, 5, 0);
    fl.meta(1, 3, 2, 5, 1);
    out.push(("seed-freelist-0xffff", fl.bytes));
    let small = wide(1);
    out.push(("seed-truncated", small[..small.len() - 1000].to_vec()));
    out
}

#[test]
fn corpus_replays_without_panic() {
    if std::env::var_os("BBOLT_WRITE_SEEDS").is_some() {
        std::fs::create_dir_all(corpus_dir()).unwrap();
        for (name, bytes) in seeds() {
            std::fs::write(corpus_dir().join(name), bytes).unwrap();
        }
    }
    let mut n = 0;
    for entry in std::fs::read_dir(corpus_dir()).expect("corpus directory exists") {
        let path = entry.unwrap().path();
        if path.is_file() {
            let data = std::fs::read(&path).unwrap();
            bbolt_reader::fuzz::exercise(&data);
            n += 1;
        }
    }
    assert!(n >= 2, "corpus has only {n} files");
}

#[test]
fn seeds_replay_without_panic() {
    for (_, bytes) in seeds() {
        bbolt_reader::fuzz::exercise(&bytes);
    }
}
