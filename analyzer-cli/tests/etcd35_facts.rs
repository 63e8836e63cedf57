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
    let out = member_truths();
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
    // The snapshot files too (`etcdctl snapshot save` of a 3.4 and of a 3.5.1 member).
    for (file, want) in [
        ("snapshot/snapshot.db", "3.4"),
        ("v3.5/restored/snapshot.db", "3.5"),
    ] {
        let p = fixtures().join(file);
        if !p.is_file() {
            continue;
        }
        let (_, r) = run_json(&["report", "--json", s(&p)]);
        assert_eq!(r["written_by"], want, "{file}");
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

fn upgrade(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["check", "--json"];
    all.extend_from_slice(args);
    let (code, v) = run_json(&all);
    (code, v)
}

fn answer<'a>(v: &'a Value, rule: &str) -> &'a Value {
    v["upgrade"]["answers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule"] == rule)
        .unwrap_or_else(|| panic!("no answer for {rule}: {v}"))
}

#[test]
fn upgrade_to_3_6_is_ready_for_3_5_members_and_blocked_for_3_4_ones_citing_each_rule() {
    for (name, data, _) in members() {
        if name.ends_with("killed") {
            continue;
        }
        let (code, v) = upgrade(&["--upgrade-to", "3.6", s(&data)]);
        let u = &v["upgrade"];
        assert_eq!(u["target"], "3.6", "{name}");
        for a in u["answers"].as_array().unwrap() {
            assert!(
                a["cites"].as_str().is_some_and(|c| c.len() > 20),
                "{name}: every answer cites its rule: {a}"
            );
        }
        if name.starts_with("v3.5/") {
            assert_eq!((code, &u["ready"]), (0, &Value::Bool(true)), "{name}: {v}");
        } else {
            assert_eq!((code, &u["ready"]), (1, &Value::Bool(false)), "{name}: {v}");
            let a = answer(&v, "storage_version_path");
            assert_eq!(a["ok"], false, "{name}");
            assert!(a["detail"]
                .as_str()
                .unwrap()
                .contains("run the member on 3.5 first"));
            assert_eq!(answer(&v, "cluster_version")["ok"], false, "{name}");
        }
    }
    // 3.5 data cannot go to 3.7 in one step.
    let data = fixtures().join("v3.5/k8s/data");
    let (code, v) = upgrade(&["--upgrade-to", "3.7", s(&data)]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(answer(&v, "storage_version_path")["ok"], false);
    let (_, text, _) = run(&["check", "--upgrade-to", "3.7", s(&data)]);
    assert!(text.contains("upgrade to 3.7: NOT READY"), "{text}");
    assert!(text.contains("BLOCKS storage_version_path: "), "{text}");
    assert!(
        text.contains("[rule: etcd upgrades one minor release at a time"),
        "{text}"
    );
}

#[test]
fn upgrade_to_3_6_needs_every_peer_on_the_same_storage_version() {
    let m = |d: &str| fixtures().join(d).join("data");
    let (a, b, c) = (m("v3.5/cluster/m1"), m("v3.5/cluster/m2"), m("cluster/m3"));
    if !a.is_dir() || !c.is_dir() {
        return;
    }
    let (code, v) = upgrade(&["--upgrade-to", "3.6", s(&a), "--peer", s(&b)]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(answer(&v, "members_same_version")["ok"], true);
    let (code, v) = upgrade(&[
        "--upgrade-to",
        "3.6",
        s(&a),
        "--peer",
        s(&b),
        "--peer",
        s(&c),
    ]);
    assert_eq!(code, 1, "{v}");
    let ans = answer(&v, "members_same_version");
    assert_eq!(ans["ok"], false);
    assert!(ans["detail"].as_str().unwrap().contains("(3.4)"), "{ans}");
}

/// Protobuf fields of `buf` as (number, payload) for length-delimited ones (enough for
/// the .snap wrapper).
fn ld_fields(buf: &[u8]) -> Vec<(u64, u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut i = 0;
    let varint = |i: &mut usize| {
        let (mut x, mut shift) = (0u64, 0);
        loop {
            let b = buf[*i];
            *i += 1;
            x |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return x;
            }
            shift += 7;
        }
    };
    while i < buf.len() {
        let tag = varint(&mut i);
        match tag & 7 {
            0 => out.push((tag >> 3, varint(&mut i), Vec::new())),
            2 => {
                let n = varint(&mut i) as usize;
                out.push((tag >> 3, 0, buf[i..i + n].to_vec()));
                i += n;
            }
            w => panic!("wire type {w}"),
        }
    }
    out
}

fn put_ld(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    let mut v = field << 3 | 2;
    let push = |mut x: u64, out: &mut Vec<u8>| {
        while x >= 0x80 {
            out.push(x as u8 | 0x80);
            x >>= 7;
        }
        out.push(x as u8);
    };
    push(v, out);
    v = b.len() as u64;
    push(v, out);
    out.extend_from_slice(b);
}

#[test]
fn upgrade_to_3_6_is_blocked_by_custom_content_in_the_v2_store_of_the_newest_snap() {
    let src = fixtures().join("v3.5/restored/data");
    if !src.is_dir() {
        return;
    }
    let data = scratch("v2store-custom").join("data");
    copy_dir(&src, &data);
    let snap = data.join("member/snap/0000000000000001-0000000000000001.snap");
    let outer = ld_fields(&std::fs::read(&snap).unwrap());
    let inner = ld_fields(&outer.iter().find(|f| f.0 == 2).unwrap().2);
    let json = String::from_utf8(inner.iter().find(|f| f.0 == 1).unwrap().2.clone()).unwrap();
    let meta = inner.iter().find(|f| f.0 == 2).unwrap().2.clone();
    // A v2 key written by a user (etcdctl v2 `set /foo bar`) lives under /1.
    let empty_1 = r#""1":{"Path":"/1","CreatedIndex":0,"ModifiedIndex":0,"ExpireTime":"0001-01-01T00:00:00Z","Value":"","Children":{}}"#;
    assert!(json.contains(empty_1), "{json}");
    let custom = json.replace(
        empty_1,
        r#""1":{"Path":"/1","Children":{"foo":{"Path":"/1/foo","Value":"bar","Children":null}}}"#,
    );
    let mut data_msg = Vec::new();
    put_ld(&mut data_msg, 1, custom.as_bytes());
    put_ld(&mut data_msg, 2, &meta);
    let mut file = vec![0x08];
    let mut crc = u64::from(crc32c::crc32c(&data_msg));
    while crc >= 0x80 {
        file.push(crc as u8 | 0x80);
        crc >>= 7;
    }
    file.push(crc as u8);
    put_ld(&mut file, 2, &data_msg);
    std::fs::write(&snap, file).unwrap();
    let (code, v) = upgrade(&["--upgrade-to", "3.6", s(&data)]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["ok"], true, "the .snap itself is sound: {v}");
    let a = answer(&v, "v2_store_meta_only");
    assert_eq!(a["ok"], false, "{a}");
    assert!(a["detail"].as_str().unwrap().contains("/1"), "{a}");
    assert!(
        a["cites"]
            .as_str()
            .unwrap()
            .contains("etcdutl check v2store"),
        "{a}"
    );
}

/// Copies the db at `src` to `dst` with bbolt-writer, adding `extra` (bucket, key, value)
/// entries: a db as a later etcd, or one in another state, would have left it (3.6 writes
/// `meta/storageVersion`; an enabled downgrade writes `cluster/downgrade`).
fn copy_db_with(src: &std::path::Path, dst: &std::path::Path, extra: &[(&[u8], &[u8], &[u8])]) {
    let bytes = std::fs::read(src).unwrap();
    let db = bbolt_reader::Db::open(&bytes).unwrap();
    let mut w =
        bbolt_writer::BoltWriter::create(dst, bbolt_writer::Options::default(), true).unwrap();
    let names: Vec<Vec<u8>> = db.root().iter().map(|i| i.unwrap().key.to_vec()).collect();
    for name in names {
        w.begin_bucket(&name).unwrap();
        let b = db.bucket(&name).unwrap().unwrap();
        let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = b
            .iter()
            .map(|i| {
                let i = i.unwrap();
                (i.key.to_vec(), i.value.to_vec())
            })
            .collect();
        pairs.extend(
            extra
                .iter()
                .filter(|(b, ..)| *b == name.as_slice())
                .map(|(_, k, v)| (k.to_vec(), v.to_vec())),
        );
        pairs.sort();
        for (k, v) in &pairs {
            w.put(k, v).unwrap();
        }
        w.end_bucket().unwrap();
    }
    w.finish_file().unwrap();
}

#[test]
fn status_gives_both_total_key_figures_and_total_key_follows_the_writing_version() {
    let Some(t) = truth("v3.5/restored") else {
        return;
    };
    let snap = fixtures().join("v3.5/restored/snapshot.db");
    let st = read_json(&fixtures().join("v3.5/restored/truth/snapshot-status.json"));
    let (code, v) = run_json(&["status", "--json", s(&snap)]);
    assert_eq!(code, 0, "{v}");
    // etcdutl 3.5.1's figure: every key of every bucket.
    assert_eq!(v["totalKey"], st["totalKey"], "{v}");
    assert_eq!(v["total_key_all_buckets"], st["totalKey"]);
    assert_eq!(v["total_key_live_user_keys"], t["total_live_keys"]);
    assert_eq!(v["totalKey_semantics"], "all_buckets");
    assert_eq!(v["written_by"], "3.5");
    // The same db as 3.6 leaves it (meta/storageVersion): etcdutl 3.6 counts live user keys.
    let dir = scratch("status-3-6");
    let db36 = dir.join("db36");
    copy_db_with(
        &fixtures().join("v3.5/restored/data/member/snap/db"),
        &db36,
        &[(b"meta", b"storageVersion", b"3.6.0")],
    );
    let (code, v) = run_json(&["status", "--json", s(&db36)]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["written_by"], "3.6");
    assert_eq!(v["totalKey_semantics"], "live_user_keys");
    assert_eq!(v["totalKey"], t["total_live_keys"], "{v}");
    assert_eq!(
        v["total_key_all_buckets"].as_u64().unwrap(),
        st["totalKey"].as_u64().unwrap() + 1,
        "the added meta key counts among all bucket keys"
    );
    let (_, text, _) = run(&["status", s(&db36)]);
    assert!(
        text.contains("live user keys (totalKey of etcdutl 3.6+); written by etcd 3.6"),
        "{text}"
    );
    // report and check --upgrade-to read the same storage version.
    let (_, r) = run_json(&["report", "--json", s(&db36)]);
    assert_eq!(r["written_by"], "3.6");
    assert!(r["written_by_rule"]
        .as_str()
        .unwrap()
        .contains("meta/storageVersion is \"3.6.0\""));
    let data = dir.join("data");
    copy_dir(&fixtures().join("v3.5/restored/data"), &data);
    std::fs::copy(&db36, data.join("member/snap/db")).unwrap();
    let (_, v) = upgrade(&["--upgrade-to", "3.7", s(&data)]);
    assert_eq!(answer(&v, "storage_version_path")["ok"], true, "{v}");
    let (_, v) = upgrade(&["--upgrade-to", "3.6", s(&data)]);
    let a = answer(&v, "storage_version_path");
    assert!(
        a["detail"].as_str().unwrap().contains("already 3.6 data"),
        "{a}"
    );
}

#[test]
fn cluster_downgrade_is_decoded_shown_and_blocks_an_upgrade_while_enabled() {
    let src = fixtures().join("v3.5/k8s/data");
    if !src.is_dir() {
        return;
    }
    // 3.5.1 writes cluster/downgrade only once a downgrade is enabled (a 3.6 etcdctl
    // command), so the value is built as etcd's DowngradeInfo JSON.
    let data = scratch("downgrade").join("data");
    copy_dir(&src, &data);
    let db = data.join("member/snap/db");
    let built = db.with_extension("built");
    copy_db_with(
        &db,
        &built,
        &[(
            b"cluster",
            b"downgrade",
            br#"{"target-version":"3.4.0","enabled":true}"#,
        )],
    );
    std::fs::rename(&built, &db).unwrap();
    let (_, r) = run_json(&["report", "--json", s(&data)]);
    assert_eq!(
        r["downgrade"],
        serde_json::json!({"target-version": "3.4.0", "enabled": true}),
        "{r}"
    );
    let (_, text, _) = run(&["report", s(&data)]);
    assert!(
        text.contains("downgrade    in progress (target version 3.4.0)"),
        "{text}"
    );
    let (code, v) = upgrade(&["--upgrade-to", "3.6", s(&data)]);
    assert_eq!(code, 1, "{v}");
    let a = answer(&v, "no_downgrade_enabled");
    assert_eq!(a["ok"], false);
    assert!(a["detail"].as_str().unwrap().contains("3.4.0"), "{a}");
}

#[test]
fn check_advice_names_the_restore_tool_of_the_writing_version() {
    for (scenario, tool) in [("k8s", "etcdctl"), ("v3.5/k8s", "etcdutl")] {
        let src = fixtures().join(scenario).join("data");
        if !src.is_dir() {
            continue;
        }
        let data = scratch(&format!("no-wal-{}", scenario.replace('/', "_"))).join("data");
        copy_dir(&src, &data);
        std::fs::remove_dir_all(data.join("member/wal")).unwrap();
        let (code, v) = run_json(&["check", "--json", s(&data)]);
        assert_eq!(code, 1, "{v}");
        let f = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == "no_wal")
            .unwrap_or_else(|| panic!("{scenario}: {v}"));
        assert!(
            f["message"]
                .as_str()
                .unwrap()
                .contains(&format!("{tool} snapshot restore")),
            "{scenario}: {f}"
        );
    }
}

#[test]
fn members_names_each_members_storage_version_and_says_when_they_differ() {
    let m = |d: &str| fixtures().join(d).join("data");
    let (a, b, c) = (m("v3.5/cluster/m1"), m("v3.5/cluster/m2"), m("cluster/m3"));
    if !a.is_dir() || !c.is_dir() {
        return;
    }
    let (code, r) = run_json(&["members", "--json", s(&a), s(&b)]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["storage_versions_differ"], false);
    assert!(r["members"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["written_by"] == "3.5"));
    let (_, r) = run_json(&["members", "--json", s(&a), s(&c)]);
    assert_eq!(r["storage_versions_differ"], true, "{r}");
    let (_, text, _) = run(&["members", s(&a), s(&c)]);
    assert!(text.contains("storage versions differ"), "{text}");
}
