//! Advice that is right and consistent across `check`, `report` and `members` (issue 8):
//! each test names the contradiction or wrong advice it proves gone.

mod common;
use common::*;
use std::path::{Path, PathBuf};

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

#[allow(dead_code)]
fn unused(_: &Path) {}
