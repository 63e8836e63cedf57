//! WAL replay against the real etcd: applying a member's whole WAL to an empty store
//! gives the keyspace etcd served (truth/kvs.json), and `export --replay-wal` on the
//! killed member equals what etcd serves after restarting on a copy of it. The 3.5.1
//! fixtures run with etcd 3.5.1 (ports 25160-25169).

mod common;

use common::*;
use etcd_mvcc::replay::{replay, State};
use serde_json::Value;
use std::path::PathBuf;
use wal_reader::{scan_wal, ScanOptions, WalDir};

fn state_kvs(s: &State<'_>) -> Kvs {
    s.keys
        .iter()
        .map(|(k, v)| {
            (
                k.to_vec(),
                (
                    v.value.to_vec(),
                    v.create_revision,
                    v.mod_revision,
                    v.version,
                    v.lease,
                ),
            )
        })
        .collect()
}

#[test]
fn replaying_the_whole_wal_onto_an_empty_store_gives_the_keys_etcd_served() {
    let mut tried = 0;
    for scenario in and_v35(&["k8s", "nospace", "cluster/m1"]) {
        let scenario = scenario.as_str();
        let dir = fixtures().join(scenario);
        let kvs = dir.join("truth/kvs.json");
        let wal_dir = dir.join("data/member/wal");
        if !kvs.is_file() || !wal_dir.is_dir() {
            continue;
        }
        tried += 1;
        let truth = read_json(&kvs);
        let wal = WalDir::open(&wal_dir).unwrap();
        let scan = scan_wal(&wal.segment_bytes(), Vec::new(), ScanOptions { raw: false });
        assert!(scan.stopped_at.is_none(), "{scenario}: WAL damaged");
        // A fresh etcd store is at revision 1; its first write takes revision 2.
        let mut state = State {
            revision: 1,
            compact_revision: -1,
            ..State::default()
        };
        let commit = scan.hard_state.unwrap().commit;
        let rep = replay(&mut state, &scan.entries, 0, commit);
        let want = etcdctl_kvs(&truth);
        let got = state_kvs(&state);
        let rev = truth["header"]["revision"].as_i64().unwrap();
        // The truth was taken while the member ran; later entries (if any) must not
        // change the keyspace for the comparison to hold, which the revision shows.
        assert_eq!(state.revision, rev, "{scenario}: {rep:?}");
        let differing: Vec<_> = want
            .keys()
            .chain(got.keys())
            .filter(|k| want.get(*k) != got.get(*k))
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect();
        assert!(
            differing.is_empty(),
            "{scenario}: {} keys differ, e.g. {:?}; replay {rep:?}",
            differing.len(),
            &differing[..differing.len().min(5)]
        );
        assert!(rep.applied.contains_key("txn") || rep.applied.contains_key("put"));
        eprintln!(
            "{scenario}: {} entries, applied {:?}, refused {:?}, revision {}",
            rep.entries, rep.applied, rep.refused, state.revision
        );
    }
    assert!(tried > 0, "no fixture with a WAL and truth/kvs.json");
}

// ---------------------------------------------------------------------------------------
// A workload on a real etcd, with the request kinds the fixtures do not hold.

/// Grants a lease of `ttl` seconds; returns its id in hex.
fn lease(e: &Etcd, ttl: &str) -> String {
    // "lease 694d77aa9e38260f granted with TTL(600s)"
    let out = e.must(&["lease", "grant", ttl]);
    out.split_whitespace().nth(1).unwrap().to_string()
}

/// Every request kind the replay models, with outcomes etcd refuses as well.
fn workload(e: &Etcd) {
    for i in 0..20 {
        e.must(&["put", &format!("/app/k{i:02}"), &format!("v{i}")]);
    }
    let l1 = lease(e, "600");
    let l2 = lease(e, "600");
    e.must(&["put", "/leased/a", "1", &format!("--lease={l1}")]);
    e.must(&["put", "/leased/b", "1", &format!("--lease={l1}")]);
    e.must(&["put", "/leased/c", "1", &format!("--lease={l2}")]);
    // ignore_value keeps the value and takes the new lease; ignore_lease the reverse.
    e.must(&[
        "put",
        "/leased/c",
        "--ignore-value",
        &format!("--lease={l1}"),
    ]);
    e.must(&["put", "/app/k00", "new", "--ignore-lease", "--prev-kv"]);
    // Refused by etcd: ignore_value on a missing key; a lease that does not exist.
    assert!(!e.ctl(&["put", "/missing", "--ignore-value"]).0);
    assert!(!e.ctl(&["put", "/x", "1", "--lease=1234abcd"]).0);
    // Txns: success branch, failure branch, a failing lease check, a txn that writes nothing.
    e.ctl_in(
        &["txn"],
        "mod(\"/app/k01\") > \"0\"\nvalue(\"/app/k02\") = \"v2\"\n\nput /txn/ok yes\ndel /app/k03\n\nput /txn/bad no\n\n",
    );
    e.ctl_in(
        &["txn"],
        "version(\"/app/k04\") = \"7\"\n\nput /txn/never x\n\nput /txn/failure-branch y\nput /app/k04 changed\n\n",
    );
    e.ctl_in(
        &["txn"],
        "create(\"/nope\") = \"0\"\n\ndel /also-nothing\n\n\n",
    );
    e.ctl_in(
        &["txn"],
        &format!("lease(\"/leased/a\") = \"{l1}\"\n\nput /txn/lease-ok 1\n\n\n"),
    );
    e.ctl_in(
        &["txn"],
        "value(\"/absent\") != \"x\"\n\nput /txn/never2 1\n\nput /txn/value-on-absent 1\n\n",
    );
    e.must(&["del", "/app/k1", "--prefix"]);
    e.must(&["del", "/app/k18", "--from-key"]);
    e.must(&["del", "/nothing-here"]);
    // Compaction, then more writes and a revoke that deletes two keys.
    let rev: i64 = {
        let v: Value = serde_json::from_str(&e.must(&["get", "/app/k00", "-w", "json"])).unwrap();
        v["header"]["revision"].as_i64().unwrap()
    };
    e.must(&["compaction", &(rev - 3).to_string()]);
    e.must(&["put", "/after/compaction", "1"]);
    e.must(&["lease", "revoke", &l1]);
    e.must(&["put", "/last", "1"]);
}

#[test]
fn replay_of_a_workload_with_txns_leases_and_deletes_matches_the_real_etcd() {
    let dir = scratch("workload");
    let data = dir.join("data");
    let e = Etcd::start("w", &data, 24200, &[]);
    workload(&e);
    let served: Value =
        serde_json::from_str(&e.must(&["get", "", "--from-key", "-w", "json"])).unwrap();
    let want = etcdctl_kvs(&served);
    let want_rev = served["header"]["revision"].as_i64().unwrap();
    // Stop hard, as a crash would: the db may lag the WAL.
    drop(e);

    // 1. The whole WAL applied to an empty store.
    let wal = WalDir::open(&data.join("member/wal")).unwrap();
    let scan = scan_wal(&wal.segment_bytes(), Vec::new(), ScanOptions { raw: false });
    let mut state = State {
        revision: 1,
        compact_revision: -1,
        ..State::default()
    };
    let last = scan.last_index().unwrap();
    let rep = replay(&mut state, &scan.entries, 0, last);
    assert_eq!(state_kvs(&state), want, "replay from empty: {rep:?}");
    assert_eq!(state.revision, want_rev, "{rep:?}");
    assert!(rep.applied.contains_key("txn"), "{rep:?}");
    assert!(rep.applied.contains_key("lease_revoke"), "{rep:?}");
    assert!(rep.refused.values().sum::<u64>() >= 2, "{rep:?}");
    eprintln!(
        "workload: {} entries, applied {:?}, refused {:?}, revision {}",
        rep.entries, rep.applied, rep.refused, state.revision
    );

    // 2. The db plus its unapplied WAL tail, through the CLI.
    let (_, got, _, note) = export(&[s(&data), "--show-secrets", "--replay-wal"]);
    assert_eq!(got, want, "export --replay-wal: {note}");
    assert!(note.contains(&format!("revision {want_rev}")), "{note}");
}

#[test]
fn export_replay_wal_on_the_killed_member_equals_etcd_restarted_on_a_copy() {
    killed_member_replays_as_etcd_restarted("killed", 24204);
    killed_member_replays_as_etcd_restarted("v3.5/killed", 25160);
}

fn killed_member_replays_as_etcd_restarted(scenario: &str, port: u16) {
    let src = fixtures().join(scenario).join("data");
    let (true, Some(t)) = (src.is_dir(), truth(scenario)) else {
        eprintln!("{scenario} fixture missing; skipped");
        return;
    };
    let release = Release::of_scenario(scenario);
    if !release.available() {
        eprintln!("note: etcd of {release:?} not installed; {scenario} skipped");
        return;
    }
    let dir = scratch(&scenario.replace('/', "_"));
    let data = dir.join("data");
    copy_dir(&src, &data);
    // Export first: the copy is untouched by etcd yet.
    let (_, got, _, note) = export(&[s(&data), "--show-secrets", "--replay-wal"]);
    let (_, plain, _, _) = export(&[s(&data), "--show-secrets"]);
    // The last acknowledged put is there at the acknowledged revision.
    let last_key = t["last_acked_key"].as_str().unwrap().as_bytes().to_vec();
    let last_rev = t["last_acked_revision"].as_i64().unwrap();
    let kv = got.get(&last_key).expect("last acked key exported");
    assert_eq!(kv.2, last_rev, "{note}");
    // Every acknowledged put of the burst is there with its revision.
    let acked = std::fs::read_to_string(fixtures().join(scenario).join("truth/acked.txt")).unwrap();
    for line in acked.lines().filter(|l| !l.is_empty()) {
        let (rev, key) = line.split_once(' ').unwrap();
        let kv = got
            .get(key.as_bytes())
            .unwrap_or_else(|| panic!("{key} lost"));
        assert_eq!(kv.2, rev.parse::<i64>().unwrap(), "{key}");
    }
    eprintln!(
        "{scenario}: db alone {} keys, with the WAL tail {} keys; {note}",
        plain.len(),
        got.len()
    );
    // etcd itself, restarted on the copy, serves the same.
    let e = Etcd::start_release(release, "killed", &data, port, &[]);
    let served: Value =
        serde_json::from_str(&e.must(&["get", "", "--from-key", "-w", "json"])).unwrap();
    drop(e);
    assert_eq!(got, etcdctl_kvs(&served), "{scenario}");
}

#[test]
fn members_finds_a_split_brain_made_with_force_new_cluster() {
    let ms: Vec<PathBuf> = (1..=3)
        .map(|i| fixtures().join(format!("cluster/m{i}/data")))
        .collect();
    if !ms.iter().all(|m| m.is_dir()) {
        eprintln!("cluster fixture missing; skipped");
        return;
    }
    // m2 and m3 each restarted alone with --force-new-cluster, each taking one other write.
    let dir = scratch("split-brain");
    let mut copies = Vec::new();
    for (i, port) in [(1usize, 24210u16), (2, 24220)] {
        let data = dir.join(format!("m{}", i + 1));
        copy_dir(&ms[i], &data);
        let e = Etcd::start(
            &format!("m{}", i + 1),
            &data,
            port,
            &["--force-new-cluster"],
        );
        e.must(&["put", "/split/brain", &format!("written on m{}", i + 1)]);
        e.stop_gracefully();
        copies.push(data);
    }
    let out = bin()
        .args(["members", "--json"])
        .arg(&ms[0])
        .args(&copies)
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{r}");
    assert_eq!(r["agree"], false);
    let d = r["disagreements"].to_string();
    assert!(d.contains("diverged after revision"), "{r}");
    assert!(d.contains("different memberships"), "{r}");
    // The two restarted members hold more than m1 did when it stopped.
    let most = r["most_committed"].to_string();
    assert!(!most.contains(ms[0].to_str().unwrap()), "{r}");
    // diff names the key each side wrote.
    let out = bin()
        .args(["diff", "--keys", "--json"])
        .args(&copies)
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["different_value"], 1, "{r}");
    assert_eq!(r["keys"][0]["key"]["text"], "/split/brain");
}

#[test]
fn a_data_dir_made_by_snapshot_restore_checks_clean_and_equals_its_snapshot() {
    // 3.4 restores with etcdctl, 3.5 with etcdutl (etcdctl's restore is deprecated there).
    snapshot_restore_checks_clean("snapshot");
    snapshot_restore_checks_clean("v3.5/restored");
}

fn snapshot_restore_checks_clean(scenario: &str) {
    let snap = fixtures().join(scenario).join("snapshot.db");
    let release = Release::of_scenario(scenario);
    if !snap.is_file() || !release.available() {
        return;
    }
    let dir = scratch(&format!("restored-{}", scenario.replace('/', "_")));
    let data = dir.join("data");
    let tool = match release {
        Release::V34 => "etcdctl",
        Release::V35 => "etcdutl",
    };
    let out = std::process::Command::new(release.tool(tool))
        .env("ETCDCTL_API", "3")
        .args([
            "snapshot",
            "restore",
            s(&snap),
            "--data-dir",
            s(&data),
            "--name",
            "r1",
            "--initial-cluster",
            "r1=http://127.0.0.1:24230",
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:24230",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, r) = run_json(&["check", s(&data), "--json"]);
    assert_eq!(code, 0, "{scenario}: {r}");
    let (code, r) = run_json(&["diff", s(&data), s(&snap), "--json"]);
    assert_eq!(
        (code, &r["identical"]),
        (0, &Value::Bool(true)),
        "{scenario}: {r}"
    );
}
