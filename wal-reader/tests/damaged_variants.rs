//! Each damaged WAL variant made by fixtures/damage_wal.py (from a real etcd segment) gives
//! exactly the finding the manifest expects, with segment file name and byte offset, in
//! default mode and in raw mode, and never panics.

use std::path::{Path, PathBuf};
use wal_reader::{scan_wal, ScanOptions, WalDir};

fn damaged() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/damaged")
}

fn wal_variants() -> Vec<serde_json::Value> {
    let Ok(text) = std::fs::read_to_string(damaged().join("manifest.json")) else {
        return Vec::new();
    };
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let list = match &doc {
        serde_json::Value::Array(a) => a.clone(),
        serde_json::Value::Object(o) => o
            .values()
            .find_map(|v| v.as_array().cloned())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    list.into_iter()
        .filter(|e| e["component"] == "wal")
        .collect()
}

#[test]
fn every_wal_variant_gives_its_expected_finding_in_default_and_raw_mode() {
    let vs = wal_variants();
    if vs.is_empty() {
        eprintln!("no damaged wal variants (run fixtures/damage_wal.py); skipped");
        return;
    }
    assert!(vs.len() >= 7, "all variants listed");
    for v in vs {
        let name = v["name"].as_str().unwrap();
        let dir = damaged()
            .join(v["path"].as_str().unwrap())
            .join("member/wal");
        let wal = WalDir::open(&dir).unwrap();
        for raw in [false, true] {
            let scan = scan_wal(
                &wal.segment_bytes(),
                wal.findings.clone(),
                ScanOptions { raw },
            );
            let expected = v["expected_findings"].as_array().unwrap();
            // A finding etcd tolerates is marked "severity": "info" in the manifest.
            let is_info = |ex: &serde_json::Value| ex["severity"] == "info";
            if expected.iter().all(is_info) {
                assert!(
                    !scan.has_damage(),
                    "{name}: clean variant has damage: {:?}",
                    scan.findings
                );
            }
            for ex in expected {
                let kind = ex["kind"].as_str().unwrap();
                let file = ex["file"].as_str().unwrap();
                let offset = ex["offset"].as_u64();
                let hit = scan.findings.iter().any(|f| {
                    f.is_damage() != is_info(ex)
                        && serde_json::to_value(f.kind).unwrap() == kind
                        && f.file == file
                        && f.offset == offset
                });
                assert!(
                    hit,
                    "{name} (raw={raw}): expected {kind} in {file} at {offset:?}, got {:#?}",
                    scan.findings
                );
            }
            if !raw {
                // Default mode stops at the first damage: it is the first damage reported.
                if let Some(ex) = expected.iter().find(|ex| !is_info(ex)) {
                    let first = scan.findings.iter().find(|f| f.is_damage()).unwrap();
                    assert_eq!(
                        serde_json::to_value(first.kind).unwrap(),
                        ex["kind"],
                        "{name}"
                    );
                }
            }
        }
    }
}

#[test]
fn raw_mode_reads_past_a_flipped_byte_to_the_last_entry() {
    let base = damaged().join("wal/flipped-byte/member/wal");
    if !base.is_dir() {
        return;
    }
    let wal = WalDir::open(&base).unwrap();
    let def = scan_wal(&wal.segment_bytes(), Vec::new(), ScanOptions { raw: false });
    let raw = scan_wal(&wal.segment_bytes(), Vec::new(), ScanOptions { raw: true });
    let clean_dir = damaged().join("wal/three-segments/member/wal");
    let clean = WalDir::open(&clean_dir).unwrap();
    let clean = scan_wal(&clean.segment_bytes(), Vec::new(), ScanOptions::default());
    assert!(
        def.last_index() < clean.last_index(),
        "default mode stops early"
    );
    assert_eq!(
        raw.last_index(),
        clean.last_index(),
        "raw mode reads to the end"
    );
    // Exactly one entry is lost: the damaged one (raw mode leaves it out and reports a gap).
    assert_eq!(raw.entries.len() + 1, clean.entries.len());
}

#[test]
fn raw_mode_resyncs_after_a_length_that_runs_past_the_file() {
    let base = damaged().join("wal/length-past-eof/member/wal");
    if !base.is_dir() {
        return;
    }
    let wal = WalDir::open(&base).unwrap();
    let raw = scan_wal(&wal.segment_bytes(), Vec::new(), ScanOptions { raw: true });
    assert!(raw
        .findings
        .iter()
        .any(|f| f.kind == wal_reader::FindingKind::Resynced));
    let clean_dir = damaged().join("wal/three-segments/member/wal");
    let clean = WalDir::open(&clean_dir).unwrap();
    let clean = scan_wal(&clean.segment_bytes(), Vec::new(), ScanOptions::default());
    assert_eq!(raw.last_index(), clean.last_index());
}
