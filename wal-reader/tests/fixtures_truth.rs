//! The WAL of each real-etcd fixture (3.4.23 and 3.5.1) reads cleanly and agrees with the truth recorded from
//! the live member before it stopped. Scenarios not generated yet are skipped with a note.

use std::path::{Path, PathBuf};
use wal_reader::pb::NormalData;
use wal_reader::text::DecodedEntry;
use wal_reader::{restart_view, scan_wal, ScanOptions, SnapDir, WalDir};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn truth(dir: &Path) -> Option<serde_json::Value> {
    let t = std::fs::read_to_string(dir.join("truth.json")).ok()?;
    serde_json::from_str(&t).ok()
}

fn hex(v: &serde_json::Value, k: &str) -> u64 {
    u64::from_str_radix(v[k].as_str().unwrap(), 16).unwrap()
}

/// Every member data dir under fixtures/ with a truth.json (cluster members too).
fn members() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    // The etcd 3.4.23 scenarios, then those written by etcd 3.5.1 under v3.5/.
    for v in ["", "v3.5/"] {
        for sc in [
            "k8s",
            "k8s-defrag",
            "nospace",
            "many-snaps",
            "killed",
            "snapshot",
            "restored",
            "cluster/m1",
            "cluster/m2",
            "cluster/m3",
        ] {
            let d = fixtures().join(format!("{v}{sc}"));
            if d.join("data/member/wal").is_dir() {
                out.push((format!("{v}{sc}"), d));
            }
        }
    }
    out
}

#[test]
fn fixture_wals_match_truth_ids_and_last_index_and_term() {
    let ms = members();
    if ms.is_empty() {
        eprintln!("no fixtures yet; skipped");
        return;
    }
    for (name, dir) in ms {
        let Some(t) = truth(&dir) else { continue };
        let wal = WalDir::open(&dir.join("data/member/wal")).unwrap();
        let scan = scan_wal(
            &wal.segment_bytes(),
            wal.findings.clone(),
            ScanOptions::default(),
        );
        let killed = name.ends_with("killed");
        for f in &scan.findings {
            // The killed member may end in a torn tail; every other WAL must be clean.
            if f.is_damage() {
                assert!(
                    killed
                        && matches!(
                            f.kind,
                            wal_reader::FindingKind::TornWrite
                                | wal_reader::FindingKind::TruncatedRecord
                                | wal_reader::FindingKind::TruncatedLength
                        ),
                    "{name}: unexpected finding {f}"
                );
            }
        }
        let md = scan.metadata.expect("metadata record");
        assert_eq!(md.node_id, hex(&t, "member_id_hex"), "{name}: member id");
        assert_eq!(
            md.cluster_id,
            hex(&t, "cluster_id_hex"),
            "{name}: cluster id"
        );
        let last = scan.entries.last().expect("entries");
        let raft_index = t["raft_index"].as_u64().unwrap();
        let raft_term = t["raft_term"].as_u64().unwrap();
        // The truth is taken before `etcdctl alarm list`, which is itself a raft request: the
        // WAL may hold a few alarm GET entries after raft_index, and nothing else.
        assert!(last.entry.index >= raft_index, "{name}: last index");
        let at = scan
            .entries
            .iter()
            .find(|e| e.entry.index == raft_index)
            .expect("entry at raft_index");
        assert_eq!(at.entry.term, raft_term, "{name}: term at raft_index");
        if !killed {
            for e in scan.entries.iter().filter(|e| e.entry.index > raft_index) {
                let d = DecodedEntry::decode(&e.entry);
                let names = match &d {
                    DecodedEntry::Normal(NormalData::Internal(r)) => r.request_names(),
                    _ => vec![],
                };
                assert_eq!(
                    names,
                    vec!["alarm"],
                    "{name}: entry {} after raft_index",
                    e.entry.index
                );
            }
            assert_eq!(last.entry.term, raft_term, "{name}: last term");
            assert_eq!(
                scan.hard_state.unwrap().commit,
                last.entry.index,
                "{name}: commit"
            );
        }
        if killed {
            // Every write acknowledged before SIGKILL is in the WAL: the last acked key too.
            if let Some(k) = t["last_acked_key"].as_str() {
                let found = scan.entries.iter().any(|e| {
                    matches!(DecodedEntry::decode(&e.entry),
                        DecodedEntry::Normal(NormalData::Internal(r))
                            if r.put.as_ref().is_some_and(|p| p.key == k.as_bytes()))
                });
                assert!(found, "killed: last acked key {k} in the WAL");
            }
        }
        // The log read from the first segment on is contiguous.
        for w in scan.entries.windows(2) {
            assert_eq!(w[1].entry.index, w[0].entry.index + 1, "{name}: contiguous");
        }
        assert_eq!(
            scan.entries.len() as u64,
            last.entry.index - scan.entries[0].entry.index + 1
        );
        // Restart view against the loaded snapshot.
        let snaps = SnapDir::open(&dir.join("data/member/snap")).unwrap();
        let loaded = snaps
            .loaded()
            .and_then(|s| s.metadata.as_ref())
            .map(|m| (m.index, m.term));
        let rv = restart_view(&scan, loaded);
        assert!(rv.snapshot_in_wal, "{name}: snapshot marker in WAL");
        assert_eq!(
            rv.entries,
            last.entry.index - rv.snapshot_index,
            "{name}: entries after snapshot"
        );
        if !killed {
            assert_eq!(
                rv.uncommitted, 0,
                "{name}: nothing uncommitted after a clean stop"
            );
        }
    }
}

#[test]
fn many_snaps_fixture_has_several_valid_snap_files_and_the_newest_is_loaded() {
    let d = fixtures().join("many-snaps/data/member/snap");
    if !d.is_dir() {
        eprintln!("many-snaps not generated yet; skipped");
        return;
    }
    let snaps = SnapDir::open(&d).unwrap();
    assert!(snaps.files.len() >= 2, "several .snap files");
    assert!(snaps.files.iter().all(|f| f.is_ok()));
    let l = snaps.loaded().unwrap();
    assert_eq!(l.name, snaps.files[0].name);
    let m = l.metadata.as_ref().unwrap();
    assert_eq!((m.term, m.index), (l.name_term, l.name_index));
    assert!(!m.conf_state.voters.is_empty());
}
