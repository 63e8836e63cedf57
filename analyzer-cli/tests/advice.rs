//! Advice that is right and consistent across `check`, `report` and `members` (issue 8):
//! each test names the contradiction or wrong advice it proves gone.

mod common;
use common::*;
use std::path::PathBuf;

/// The k8s data dir with its WAL replaced by the damaged variant `variant` (a db that
/// has applied more than the readable WAL holds). `None` when the damaged variants were
/// not generated.
fn k8s_with_wal(variant: &str, name: &str) -> Option<PathBuf> {
    let wal = fixtures()
        .join("damaged/wal")
        .join(variant)
        .join("member/wal");
    if !wal.is_dir() {
        eprintln!("no damaged variant {variant}; run fixtures/make-damaged.sh");
        return None;
    }
    let dir = scratch(name);
    copy_dir(&fixtures().join("k8s/data"), &dir.join("data"));
    let w = dir.join("data/member/wal");
    std::fs::remove_dir_all(&w).unwrap();
    copy_dir(&wal, &w);
    Some(dir.join("data"))
}

fn text(args: &[&str]) -> (i32, String) {
    let (code, out, _) = run(args);
    (code, out)
}

#[test]
fn check_of_a_mid_log_crc_error_says_only_that_etcd_refuses_to_start() {
    let Some(d) = k8s_with_wal("crc-middle-segment", "crc-check") else {
        return;
    };
    let (code, out) = text(&["check", s(&d)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("etcd will refuse to start"), "{out}");
    assert!(!out.contains("etcd will start"), "{out}");
    let verdicts: Vec<&str> = out.lines().filter(|l| l.starts_with("verdict:")).collect();
    assert_eq!(verdicts.len(), 1, "{out}");
    let (_, v) = run_json(&["check", s(&d), "--json"]);
    let kinds = strs(&v["findings"], "kind");
    assert!(kinds.contains(&"wal_blocks_start"), "{v}");
    assert!(kinds.contains(&"db_ahead_of_wal"), "{v}");
}

#[test]
fn members_never_recommends_restoring_from_a_damaged_or_empty_member() {
    let d = fixtures().join("damaged/wal");
    let (a, b) = (d.join("crc-middle-segment"), d.join("zeroed-sector"));
    if !a.is_dir() {
        return;
    }
    let (code, v) = run_json(&["members", s(&a), s(&b), "--json"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["most_committed"].as_array().unwrap().len(), 0, "{v}");
    let (_, out) = text(&["members", s(&a), s(&b)]);
    assert!(out.contains("do not restore from any of them"), "{out}");
    assert!(!out.contains("(restore from it"), "{out}");
    // With a healthy member among them, it is the one named.
    let k8s = fixtures().join("k8s/data");
    let (_, v) = run_json(&["members", s(&a), s(&k8s), "--json"]);
    assert_eq!(v["most_committed"][0].as_str(), Some(s(&k8s)), "{v}");
    // An empty member (a data dir with an empty WAL dir and no db) is not named either.
    let empty = scratch("empty-member");
    std::fs::create_dir_all(empty.join("member/wal")).unwrap();
    let (_, v) = run_json(&["members", s(&empty), s(&a), "--json"]);
    assert_eq!(v["most_committed"].as_array().unwrap().len(), 0, "{v}");
}
