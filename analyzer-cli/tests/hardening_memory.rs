//! Hardening, fault class "memory grows with one record or with the file's apparent
//! size": `wal --json` on one valid 9.4 MiB entry (a txn of 580,000 puts, from
//! fixtures/damage_wal.py's huge-txn-entry) streams within a 768 MiB address-space limit
//! (it needed 3.3 GB of RSS when it built a JSON tree), and a db extended sparse to
//! 5.5 GiB is read by every db command under a 4 GiB address-space limit through a
//! mapping of the part below its high-water mark. Limits are set with `ulimit -v` in a
//! shell around the binary; nothing is timed.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs the binary with `args` under `ulimit -v <kib>`, stdout to `stdout`.
fn run_limited(kib: u64, args: &[&str], stdout: &Path) -> Output {
    let mut script = format!("ulimit -v {kib} && exec \"$0\"");
    for i in 1..=args.len() {
        script.push_str(&format!(" \"${i}\""));
    }
    script.push_str(" > \"$OUT\"");
    Command::new("bash")
        .arg("-c")
        .arg(&script)
        .arg(BIN)
        .args(args)
        .env("OUT", stdout)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn wal_json_of_one_9_mib_txn_entry_streams_within_768_mib_of_address_space() {
    let dir = fixtures().join("damaged/huge/huge-txn-entry");
    if !dir.is_dir() {
        eprintln!("huge-txn-entry not derived (run fixtures/make-damaged.sh); skipped");
        return;
    }
    let out = scratch("huge-wal").join("out.jsonl");
    let o = run_limited(768 * 1024, &["wal", "--json", s(&dir)], &out);
    assert!(
        o.status.success(),
        "{:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read(&out).unwrap();
    // The huge entry is the last entry line: all 580,000 puts are in it.
    let line = text
        .split(|&b| b == b'\n')
        .rfind(|l| l.starts_with(b"{\"data_kind\""))
        .unwrap();
    let puts = line.windows(13).filter(|w| w == b"\"request_put\"").count();
    assert_eq!(puts, 580_000);
    assert!(line.ends_with(b"\"type\":\"EntryNormal\"}"));
}

#[test]
fn a_db_extended_sparse_to_5_5_gib_is_read_under_a_4_gib_address_space_limit() {
    let dir = scratch("sparse-db");
    let db = dir.join("db");
    std::fs::copy(fixtures().join("k8s/data/member/snap/db"), &db).unwrap();
    // Sparse: no data blocks are written.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(5632 << 20)
        .unwrap();
    let out = dir.join("out");
    for cmd in [
        "info", "check", "report", "space", "status", "prefixes", "hash", "export",
    ] {
        let o = run_limited(4 << 20, &[cmd, s(&db)], &out);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{cmd}: {:?}: {err}", o.status);
        assert!(!err.contains("Cannot allocate memory"), "{cmd}: {err}");
    }
    // The figures come from the file as it is: its size is the size on disk.
    let (code, v) = run_json(&["info", "--json", s(&db)]);
    assert_eq!(code, 0);
    assert!(v.to_string().contains(&(5632u64 << 20).to_string()), "{v}");
}
