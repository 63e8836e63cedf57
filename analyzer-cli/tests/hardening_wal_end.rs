//! Hardening, fault class "the verdict on the WAL's end disagrees with what etcd does":
//! every WAL variant of fixtures/damage_wal.py (torn tails, zeroed sectors, a zero length
//! field in the middle of the log, random bytes after the last record or 4 KiB after it,
//! lengths past the end, the only segment renamed to sequence 1, ...) is put under the
//! k8s data dir; `check` predicts whether etcd 3.4 starts on it, the prediction equals the
//! manifest's `etcd` field, and a real etcd 3.4 booted on a copy does exactly that.
//! Ports 25420-25459.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

/// The wal manifest entries (empty when not derived).
fn variants() -> Vec<Value> {
    derived_variants("wal", "path")
}

/// The k8s data dir with its WAL replaced by the variant's, under `dst`.
fn member_with_wal(v: &Value, dst: &Path) {
    copy_dir(&fixtures().join("k8s/data"), dst);
    let wal = dst.join("member/wal");
    std::fs::remove_dir_all(&wal).unwrap();
    copy_dir(
        &fixtures()
            .join("damaged")
            .join(v["path"].as_str().unwrap())
            .join("member/wal"),
        &wal,
    );
}

/// What `check` says etcd will do: it refuses when a verdict says the WAL blocks start,
/// or when there is WAL damage that no "truncated on start" verdict covers.
fn check_predicts_start(dir: &Path) -> (bool, Value) {
    let (code, r) = run_json(&["check", "--json", s(dir)]);
    assert!(code == 0 || code == 1, "{r}");
    let wal: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["component"] == "wal")
        .collect();
    let blocks = wal.iter().any(|f| f["kind"] == "wal_blocks_start");
    let repaired = wal
        .iter()
        .any(|f| f["kind"] == "wal_tail_truncated_on_start");
    (!blocks && (wal.is_empty() || repaired), r)
}

/// Boots etcd 3.4 on `dir`: true when it serves the keyspace, false when it exits.
fn etcd_starts(dir: &Path, port: u16) -> (bool, String) {
    // The k8s fixture's member name and peer URL are in its WAL; any name works for
    // an existing member, the cluster flags are ignored once the WAL exists.
    let (mut child, log) = spawn_etcd(Release::V34, "k8s", dir, port, &[]);
    let deadline = Instant::now() + Duration::from_secs(90);
    let started = loop {
        if child.try_wait().unwrap().is_some() {
            break false;
        }
        let o = etcdctl(&[
            "--endpoints",
            &format!("127.0.0.1:{port}"),
            "--command-timeout",
            "5s",
            "get",
            "--prefix",
            "/registry/",
            "--keys-only",
        ]);
        if o.status.success() && !o.stdout.is_empty() {
            break true;
        }
        assert!(
            Instant::now() < deadline,
            "etcd neither served nor exited; see {}",
            log.display()
        );
    };
    child.kill().ok();
    child.wait().ok();
    (started, std::fs::read_to_string(&log).unwrap_or_default())
}

#[test]
fn check_predicts_what_the_manifest_says_etcd_does_on_each_wal_variant() {
    for v in variants() {
        let name = v["name"].as_str().unwrap();
        let dir = scratch("wal-end-predict").join(name);
        member_with_wal(&v, &dir);
        let (starts, r) = check_predicts_start(&dir);
        assert_eq!(
            if starts { "starts" } else { "refuses" },
            v["etcd"].as_str().unwrap(),
            "{name}: {}",
            r["member"]["verdicts"]
        );
    }
}

#[test]
fn etcd_3_4_booted_on_each_wal_variant_does_what_check_predicts() {
    let mut port = 25420;
    for v in variants() {
        let name = v["name"].as_str().unwrap();
        let dir = scratch("wal-end-boot").join(name);
        member_with_wal(&v, &dir);
        // Predict on a copy first: etcd repairs (rewrites) the WAL it boots on.
        let probe = scratch("wal-end-probe").join(name);
        copy_dir(&dir, &probe);
        let (predicted, r) = check_predicts_start(&probe);
        let (started, log) = etcd_starts(&dir, port);
        port += 2;
        assert_eq!(
            started,
            predicted,
            "{name}: check said {}, etcd {}: {}\n{}",
            if predicted { "starts" } else { "refuses" },
            if started { "started" } else { "exited" },
            r["member"]["verdicts"],
            log.lines().rev().take(3).collect::<Vec<_>>().join("\n")
        );
    }
}
