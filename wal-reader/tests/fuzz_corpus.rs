//! Replays the committed fuzz corpus (fuzz/corpus/wal_segment_decode/) through the fuzz
//! body, and checks that the hand-made damage seeds are recognised as what they are.

use std::path::{Path, PathBuf};
use wal_reader::{scan_segment, FindingKind, ScanOptions};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/wal_segment_decode")
}

#[test]
fn every_corpus_input_decodes_without_panic() {
    let Ok(rd) = std::fs::read_dir(corpus()) else {
        eprintln!("no corpus; skipped");
        return;
    };
    let mut n = 0;
    for e in rd.flatten() {
        let data = std::fs::read(e.path()).unwrap();
        wal_reader::fuzz::exercise(&data);
        n += 1;
    }
    assert!(n > 0);
}

fn first_damage(name: &str) -> Option<FindingKind> {
    let data = std::fs::read(corpus().join(name)).ok()?;
    let s = scan_segment(name, &data, ScanOptions::default());
    s.findings.iter().find(|f| f.is_damage()).map(|f| f.kind)
}

#[test]
fn damage_seeds_are_recognised() {
    if !corpus().join("real-prefix-16k").exists() {
        return;
    }
    assert_eq!(first_damage("real-prefix-16k"), None);
    assert_eq!(first_damage("real-prefix-16k-zero-tail"), None);
    assert_eq!(
        first_damage("real-prefix-cut-mid-record"),
        Some(FindingKind::TruncatedRecord)
    );
    assert_eq!(first_damage("flipped-byte"), Some(FindingKind::CrcMismatch));
    assert_eq!(first_damage("zeroed-sector"), Some(FindingKind::TornWrite));
    assert_eq!(
        first_damage("length-past-eof"),
        Some(FindingKind::TruncatedRecord)
    );
    assert_eq!(
        first_damage("unknown-record-type"),
        Some(FindingKind::UnknownRecordType)
    );
    assert_eq!(first_damage("bad-padding"), Some(FindingKind::BadPadding));
}

#[test]
fn hostile_lengths_and_empty_input_do_not_panic_or_allocate_by_length() {
    wal_reader::fuzz::exercise(&[]);
    wal_reader::fuzz::exercise(&[0xff; 8]);
    wal_reader::fuzz::exercise(&[0xff; 4096]);
    let mut v = vec![0u8; 64];
    v[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    wal_reader::fuzz::exercise(&v);
}

#[test]
fn raw_mode_search_on_a_file_of_plausible_lengths_stays_bounded() {
    // Every 8-byte word is a canonical length of 1 MiB: each offset looks like a record.
    let mut v = Vec::with_capacity(8 << 20);
    while v.len() < (8 << 20) {
        v.extend_from_slice(&(1u64 << 20).to_le_bytes());
    }
    let s = scan_segment("x.wal", &v, ScanOptions { raw: true });
    assert!(s.findings.iter().any(|f| f.is_damage()));
}
