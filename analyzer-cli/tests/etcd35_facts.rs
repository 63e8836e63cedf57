//! The facts etcd 3.5 adds to a data dir, read from the fixtures made by the real etcd
//! 3.5.1 (fixtures/v3.5/) and set against those of 3.4.23: the writing version, the
//! db's raft term and conf state against the WAL and `.snap`, and the client URLs that only
//! the WAL's publish entries hold.

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;

/// Every member data dir with a truth.json: (scenario, data dir, truth).
fn members() -> Vec<(String, PathBuf, Value)> {
    let mut names = and_v35(&[
        "k8s",
        "k8s-defrag",
        "nospace",
        "many-snaps",
        "killed",
        "cluster/m1",
        "cluster/m2",
        "cluster/m3",
    ]);
    names.push("v3.5/restored".into());
    let out: Vec<_> = names
        .into_iter()
        .filter_map(|n| {
            let d = fixtures().join(&n).join("data");
            let t = truth(&n)?;
            d.is_dir().then_some((n, d, t))
        })
        .collect();
    assert!(out.iter().any(|(n, ..)| n == "v3.5/k8s"), "v3.5 fixtures");
    out
}

fn hex(v: &Value) -> String {
    format!("{:016x}", v.as_u64().unwrap())
}

#[test]
fn report_and_check_name_the_version_that_wrote_every_fixture() {
    for (name, data, t) in members() {
        let want = if name.starts_with("v3.5/") {
            "3.5"
        } else {
            "3.4"
        };
        assert_eq!(t["etcd_version"].as_str().unwrap()[..3], *want, "{name}");
        let (_, r) = run_json(&["report", "--json", s(&data)]);
        assert_eq!(r["written_by"], want, "{name}: report");
        let rule = r["written_by_rule"].as_str().unwrap();
        assert!(rule.contains("meta/term"), "{name}: {rule}");
        let (_, text, _) = run(&["report", s(&data)]);
        assert!(
            text.contains(&format!("written by   etcd {want} (")),
            "{name}: {text}"
        );
        let (_, c) = run_json(&["check", "--json", s(&data)]);
        assert_eq!(c["member"]["written_by"], want, "{name}: check");
        let (_, text, _) = run(&["check", s(&data)]);
        assert!(
            text.contains(&format!("written by etcd {want}: ")),
            "{name}: {text}"
        );
    }
}

#[test]
fn conf_state_of_each_3_5_member_equals_raft_and_the_live_member_list() {
    for (name, data, _) in members() {
        if !name.starts_with("v3.5/") || name == "v3.5/restored" {
            continue;
        }
        let list = read_json(&data.parent().unwrap().join("truth/member-list.json"));
        let mut live: Vec<String> = list["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| hex(&m["ID"]))
            .collect();
        live.sort();
        let (code, c) = run_json(&["check", "--json", s(&data)]);
        assert_eq!(code, 0, "{name}: {c}");
        let m = &c["member"];
        let mut db: Vec<String> = m["conf_state"]["voters"]
            .as_array()
            .unwrap()
            .iter()
            .map(hex)
            .collect();
        db.sort();
        assert_eq!(db, live, "{name}: meta/confState voters");
        let raft: Vec<String> = m["raft_conf"]["voters"]
            .as_array()
            .unwrap()
            .iter()
            .map(hex)
            .collect();
        assert_eq!(raft, live, "{name}: raft voters");
        assert!(!c.to_string().contains("conf_state_"), "{name}: {c}");
        // meta/term is the term of the applied entry: the live raft term.
        assert_eq!(m["db_term"], m["term"], "{name}");
    }
}

#[test]
fn a_restored_member_keeps_the_snapshot_source_as_its_db_voter_and_check_says_what_it_means() {
    let Some(t) = truth("v3.5/restored") else {
        return;
    };
    let data = fixtures().join("v3.5/restored/data");
    let (code, c) = run_json(&["check", "--json", s(&data)]);
    assert_eq!(code, 0, "not damage: {c}");
    let m = &c["member"];
    let source = t["source_member_id_hex"].as_str().unwrap();
    let me = t["member_id_hex"].as_str().unwrap();
    assert_eq!(hex(&m["conf_state"]["voters"][0]), source);
    assert_eq!(hex(&m["raft_conf"]["voters"][0]), me);
    let note = m["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "conf_state_from_restore_source")
        .unwrap_or_else(|| panic!("{c}"));
    let msg = note["message"].as_str().unwrap();
    assert!(msg.contains(source) && msg.contains(me), "{msg}");
    assert!(msg.contains("etcdutl snapshot restore"), "{msg}");
    assert!(msg.contains("next membership change"), "{msg}");
    let (_, text, _) = run(&["check", s(&data)]);
    assert!(
        text.contains("info conf_state_from_restore_source"),
        "{text}"
    );
}

/// Replaces every `term` meta value `from` by `to` in a copy of `data`'s db (same length,
/// so the bbolt file stays well-formed).
fn set_db_term(data: &std::path::Path, from: u64, to: u64) {
    let db = data.join("member/snap/db");
    let mut bytes = std::fs::read(&db).unwrap();
    let mut pat = b"term".to_vec();
    pat.extend(from.to_be_bytes());
    let mut hits = 0;
    let mut i = 0;
    while let Some(p) = bytes[i..].windows(pat.len()).position(|w| w == pat) {
        let at = i + p + 4;
        bytes[at..at + 8].copy_from_slice(&to.to_be_bytes());
        hits += 1;
        i = at + 8;
    }
    assert!(hits > 0, "meta/term found");
    std::fs::write(&db, bytes).unwrap();
}

#[test]
fn a_db_term_above_the_wal_term_is_damage() {
    let src = fixtures().join("v3.5/k8s/data");
    if !src.is_dir() {
        return;
    }
    let dir = scratch("term-ahead").join("data");
    copy_dir(&src, &dir);
    set_db_term(&dir, 2, 9);
    let (code, c) = run_json(&["check", "--json", s(&dir)]);
    assert_eq!(code, 1, "{c}");
    let f = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "db_term_ahead_of_wal")
        .unwrap_or_else(|| panic!("{c}"));
    assert!(
        f["message"].as_str().unwrap().contains("meta/term 9"),
        "{f}"
    );
}

#[test]
fn a_db_from_another_member_has_a_conf_state_that_differs_from_raft() {
    let (a, b) = (
        fixtures().join("v3.5/nospace/data"),
        fixtures().join("v3.5/k8s/data/member/snap/db"),
    );
    if !a.is_dir() || !b.is_file() {
        return;
    }
    let dir = scratch("foreign-conf").join("data");
    copy_dir(&a, &dir);
    std::fs::copy(&b, dir.join("member/snap/db")).unwrap();
    let (code, c) = run_json(&["check", "--json", s(&dir)]);
    assert_eq!(code, 1, "{c}");
    assert!(
        c["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "conf_state_mismatch"),
        "{c}"
    );
}

#[test]
fn client_urls_of_3_5_members_come_from_the_wals_publish_entries() {
    for (name, data, _) in members() {
        let list = read_json(&data.parent().unwrap().join("truth/member-list.json"));
        let (_, r) = run_json(&["report", "--json", s(&data)]);
        for live in list["members"].as_array().unwrap() {
            let id = hex(&live["ID"]);
            let m = r["members"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["id_hex"] == id.as_str())
                .unwrap_or_else(|| panic!("{name}: member {id} in the report"));
            assert_eq!(m["clientURLs"], live["clientURLs"], "{name}: {id}");
            if name.starts_with("v3.5/") {
                // 3.5's members bucket has no client URLs: the WAL's publish entry does.
                let src = m["clientURLs_source"].as_str().unwrap_or_default();
                assert!(
                    src.starts_with("WAL entry ") && src.contains("/0/members/<id>/attributes"),
                    "{name}: {m}"
                );
            } else {
                assert!(m.get("clientURLs_source").is_none(), "{name}: {m}");
            }
        }
    }
}

/// The `meta` bucket of a db file as `iterate-bucket` prints it: key -> value text.
fn meta_lines(db: &std::path::Path) -> Vec<String> {
    let (code, out, err) = run(&["iterate-bucket", s(db), "meta"]);
    assert_eq!(code, 0, "{err}");
    let mut l: Vec<String> = out.lines().map(str::to_string).collect();
    l.sort();
    l
}

#[test]
fn salvage_carries_meta_term_and_conf_state_of_a_3_5_db_and_says_so() {
    for (scenario, want) in [
        ("v3.5/k8s", vec!["confState", "consistent_index", "term"]),
        ("k8s", vec!["consistent_index"]),
    ] {
        let data = fixtures().join(scenario).join("data");
        if !data.is_dir() {
            continue;
        }
        let out = scratch(&format!("salvage-meta-{}", scenario.replace('/', "_"))).join("s.db");
        let (code, r) = run_json(&["salvage", s(&data), "--out", s(&out), "--json"]);
        assert_eq!(code, 0, "{scenario}: {r}");
        assert_eq!(r["meta_carried"], serde_json::json!(want), "{scenario}");
        assert_eq!(r["meta_not_carried"], serde_json::json!([]), "{scenario}");
        // The carried values are the input's, byte for byte.
        let input = meta_lines(&data.join("member/snap/db"));
        let output = meta_lines(&out);
        for k in &want {
            let line = |v: &[String]| {
                v.iter()
                    .find(|l| l.starts_with(&format!("key=\"{k}\"")))
                    .cloned()
            };
            assert_eq!(line(&output), line(&input), "{scenario}: {k}");
        }
        // So the salvaged db is still detected as written by the same version.
        let (_, rep) = run_json(&["report", "--json", s(&out)]);
        let v = if scenario.starts_with("v3.5/") {
            "3.5"
        } else {
            "3.4"
        };
        assert_eq!(rep["written_by"], v, "{scenario}");
        let (_, text, _) = run(&["salvage", s(&data), "--out", s(&out.with_extension("2"))]);
        assert!(
            text.contains(&format!("meta carried: {}", want.join(", "))),
            "{scenario}: {text}"
        );
    }
}
