//! `report` as the on-call engineer runs it: on the NOSPACE fixture it must name the
//! prefix that filled the db and say what to do; on a healthy member it must identify the
//! member from the WAL and give the figures of the other commands.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn nospace_report_names_the_filling_prefix_and_the_way_out() {
    let Some(t) = truth("nospace") else {
        eprintln!("note: fixture nospace not generated; skipped");
        return;
    };
    let data = fixtures().join("nospace/data");
    let data = data.to_str().unwrap();
    let (code, text, _) = run(&["report", data]);
    assert_eq!(
        code, 0,
        "out of space is the member's state, not damage: {text}"
    );
    let (_, json, _) = run(&["report", "--json", data]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["nospace"], true, "{json}");
    let dominant = t["dominant_prefix"].as_str().unwrap();
    assert!(text.contains(&format!("{dominant} filled it")), "{text}");
    for cmd in [
        format!("etcdctl compact {}", t["revision"]),
        "etcdctl defrag".to_string(),
        "etcdctl alarm disarm".to_string(),
    ] {
        assert!(text.contains(&cmd), "missing `{cmd}` in:\n{text}");
    }
    assert!(text.contains("NOSPACE"), "{text}");

    let (_, json, _) = run(&["report", "--json", data]);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["nospace"], true);
    assert_eq!(v["dominant_prefix"]["prefix"], dominant);
    assert_eq!(v["alarms"][0]["alarm"], "NOSPACE");
    assert_eq!(
        v["alarms"][0]["member_id_hex"],
        t["alarms"][0]["member_id_hex"]
    );
    let ids = strs(&v["next_steps"], "id");
    let pos = |id: &str| ids.iter().position(|x| *x == id).unwrap_or(usize::MAX);
    assert!(
        pos("compact") < pos("defrag") && pos("defrag") < pos("disarm"),
        "{ids:?}"
    );
    // The db alone reached the quota the fixture ran with: the report infers its bound.
    assert_eq!(v["quota_inferred_max"], t["db_size"]);
}

#[test]
fn report_identifies_the_member_and_matches_the_other_commands() {
    let t = truth("k8s").expect("k8s fixture");
    let data = fixtures().join("k8s/data");
    let data = data.to_str().unwrap();
    let (code, json, _) = run(&["report", "--json", data]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["member"]["member_id_hex"], t["member_id_hex"]);
    assert_eq!(v["member"]["cluster_id_hex"], t["cluster_id_hex"]);
    assert_eq!(v["member"]["source"], "wal");
    assert_eq!(v["revision"], t["revision"]);
    assert_eq!(v["compact_revision"], t["compact_revision"]);
    assert_eq!(v["keys"]["live"], t["total_live_keys"]);
    assert_eq!(v["space"]["db_size"], t["db_size"]);
    let d = &v["division"];
    let sum: u64 = [
        "live_bytes",
        "history_bytes",
        "overhead_bytes",
        "free_bytes",
    ]
    .iter()
    .map(|k| d[k].as_u64().unwrap())
    .sum();
    assert_eq!(
        sum,
        d["db_size"].as_u64().unwrap(),
        "the division adds up to the db size"
    );
    // The db's consistent index is the last raft entry applied to it: at most the live
    // member's applied index (entries that change no key, like the leader's no-op after a
    // restart, need not reach the db).
    let ci = v["consistent_index"].as_u64().unwrap();
    let applied = t["raft_applied_index"].as_u64().unwrap();
    assert!(
        ci <= applied && applied - ci <= 5,
        "consistent index {ci}, applied {applied}"
    );
}

#[test]
fn report_on_a_bare_db_file_takes_the_member_from_the_members_bucket() {
    let t = truth("k8s").expect("k8s fixture");
    let db = fixtures().join("k8s/data/member/snap/db");
    let (_, json, _) = run(&["report", "--json", db.to_str().unwrap()]);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["member"]["member_id_hex"], t["member_id_hex"]);
    assert_eq!(v["member"]["source"], "db");
    assert_eq!(v["wal"], Value::Null);
}

#[test]
fn each_cluster_member_is_identified_from_its_own_wal() {
    for m in and_v35(&["cluster/m1", "cluster/m2", "cluster/m3"]) {
        let dir = fixtures().join(&m);
        let Some(t) = truth(&m) else {
            eprintln!("note: fixture {m} not generated; skipped");
            continue;
        };
        let (_, json, _) = run(&["report", "--json", dir.join("data").to_str().unwrap()]);
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["member"]["member_id_hex"], t["member_id_hex"], "{m}");
        assert_eq!(v["member"]["cluster_id_hex"], t["cluster_id_hex"], "{m}");
        assert_eq!(v["members"].as_array().unwrap().len(), 3, "{m}");
    }
}

#[test]
fn a_killed_member_shows_the_wal_entries_its_db_has_not_applied() {
    for sc in and_v35(&["killed"]) {
        let Some(t) = truth(&sc) else {
            eprintln!("note: fixture {sc} not generated; skipped");
            continue;
        };
        let data = fixtures().join(&sc).join("data");
        let (_, json, _) = run(&["report", "--json", data.to_str().unwrap()]);
        let v: Value = serde_json::from_str(&json).unwrap();
        let ci = v["consistent_index"].as_u64().unwrap();
        let commit = v["wal"]["commit"].as_u64().unwrap();
        assert_eq!(
            v["wal"]["entries_after_db"].as_u64().unwrap(),
            commit - ci,
            "{sc}"
        );
        // Every acknowledged write is either in the db or in the WAL ahead of it.
        assert!(
            v["revision"].as_i64().unwrap() <= t["last_acked_revision"].as_i64().unwrap(),
            "{sc}"
        );
    }
}
