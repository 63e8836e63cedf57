//! `hash --replay-wal` against the real etcd: the HashKV computed offline on a copy of a
//! member whose db lags its WAL (the killed fixtures, 3.4.23 and 3.5.1) equals what that
//! etcd reports (`endpoint hashkv`) once it has booted on the copy and applied the tail.
//! etcd runs on 127.0.0.1 (3.4: port 24206; 3.5.1: 25180), in a temp dir, stopped by PID.

mod common;

use common::*;
use serde_json::Value;

fn hash_replay_equals_booted_etcd(scenario: &str, port: u16) {
    let src = fixtures().join(scenario).join("data");
    let release = Release::of_scenario(scenario);
    if !src.is_dir() || !release.available() {
        eprintln!("note: {scenario} or its etcd missing; skipped");
        return;
    }
    let data = scratch(&format!("hash-replay-{}", scenario.replace('/', "_"))).join("data");
    copy_dir(&src, &data);
    let (code, plain) = run_json(&["hash", "--json", s(&data)]);
    assert_eq!(code, 0, "{plain}");
    let (code, offline) = run_json(&["hash", "--replay-wal", "--json", s(&data)]);
    assert_eq!(code, 0, "{offline}");
    assert_eq!(offline["schema"], "etcd-autopsy/hash/v1");
    assert_eq!(offline["kind"], "hashkv");
    // The tail adds revisions: the figure is not the db's own.
    assert!(
        offline["revision"].as_i64() > plain["revision"].as_i64(),
        "{scenario}: {plain} vs {offline}"
    );
    let e = Etcd::start_release(release, "killed", &data, port, &[]);
    let live: Value = serde_json::from_str(&e.must(&["endpoint", "hashkv", "-w", "json"])).unwrap();
    drop(e);
    let hk = &live[0]["HashKV"];
    assert_eq!(
        offline["revision"], hk["header"]["revision"],
        "{scenario}: revision after the tail"
    );
    assert_eq!(
        offline["compact_revision"], hk["compact_revision"],
        "{scenario}: compact revision"
    );
    assert_eq!(offline["hash"], hk["hash"], "{scenario}: HashKV");
}

#[test]
fn hash_replay_wal_equals_the_hashkv_of_etcd_booted_on_a_copy() {
    hash_replay_equals_booted_etcd("killed", 24206);
    hash_replay_equals_booted_etcd("v3.5/killed", 25180);
}
