//! `export`, `check <DATA-DIR>`, `members` and `diff` against the real-etcd fixtures and
//! their truth (fixtures/<scenario>/truth.json and truth/kvs.json, the live member's
//! `etcdctl get "" --from-key -w json`), the damaged variants of fixtures/damaged/, and
//! members made to diverge.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// (scenario, input for the db, truth/kvs.json)
fn live_fixtures() -> Vec<(String, PathBuf, PathBuf)> {
    let mut out = Vec::new();
    let mut names = and_v35(&[
        "k8s",
        "k8s-defrag",
        "nospace",
        "many-snaps",
        "cluster/m1",
        "cluster/m2",
        "cluster/m3",
    ]);
    names.push("v3.5/restored".into());
    for sc in &names {
        let d = fixtures().join(sc);
        if d.join("data").is_dir() && d.join("truth/kvs.json").is_file() {
            out.push((sc.to_string(), d.join("data"), d.join("truth/kvs.json")));
        }
    }
    for sc in ["snapshot", "v3.5/restored"] {
        let snap = fixtures().join(sc);
        if snap.join("snapshot.db").is_file() && snap.join("truth/kvs.json").is_file() {
            out.push((
                format!("{sc}/snapshot.db"),
                snap.join("snapshot.db"),
                snap.join("truth/kvs.json"),
            ));
        }
    }
    assert!(
        !out.is_empty(),
        "no fixtures under {}",
        fixtures().display()
    );
    out
}

fn first_difference(a: &BTreeMap<Vec<u8>, Kv>, b: &BTreeMap<Vec<u8>, Kv>) -> Option<String> {
    a.keys()
        .chain(b.keys())
        .find(|k| a.get(*k) != b.get(*k))
        .map(|k| String::from_utf8_lossy(k).into_owned())
}

#[test]
fn export_equals_the_live_members_keys_on_every_fixture() {
    for (name, input, kvs) in live_fixtures() {
        let want = truth_kvs(&kvs);
        let (code, got, _, _) = export(&[s(&input), "--show-secrets"]);
        assert_eq!(code, 0, "{name}");
        assert_eq!(got.len(), want.len(), "{name}");
        assert_eq!(first_difference(&got, &want), None, "{name}");
    }
}

#[test]
fn export_redacts_secrets_unless_asked() {
    let input = fixtures().join("k8s/data");
    let (_, _, lines, _) = export(&[s(&input)]);
    let secrets: Vec<&Value> = lines
        .iter()
        .filter(|l| bytes(&l["key"]).starts_with(b"/registry/secrets/"))
        .collect();
    assert!(!secrets.is_empty());
    for l in &secrets {
        assert!(l["value"].is_null() && l["redacted"] == true, "{l}");
    }
    let others = lines.iter().filter(|l| l["redacted"].is_null()).count();
    assert_eq!(others + secrets.len(), lines.len());
}

#[test]
fn export_prints_json_lines_by_default_and_a_readable_view_with_text() {
    let input = fixtures().join("k8s/data");
    let (code, plain, _) = run(&["export", s(&input)]);
    let (_, with_flag, _) = run(&["export", s(&input), "--json"]);
    assert_eq!(code, 0);
    assert_eq!(plain, with_flag, "--json is the default");
    assert!(plain
        .lines()
        .all(|l| serde_json::from_str::<Value>(l).is_ok()));
    let (code, text, _) = run(&["export", s(&input), "--text"]);
    assert_eq!(code, 0);
    assert_eq!(text.lines().count(), plain.lines().count());
    assert!(text.lines().all(|l| !l.starts_with('{')));
    assert!(!text.contains("\"base64\""));
}

#[test]
fn export_at_an_older_revision_shows_keys_deleted_later_and_refuses_compacted_ones() {
    let dir = fixtures().join("k8s");
    let t = truth("k8s").expect("k8s fixture");
    let pd = &t["prefix_delete"];
    let (prefix, rev, deleted) = (
        pd["prefix"].as_str().unwrap(),
        pd["revision"].as_i64().unwrap(),
        pd["deleted"].as_u64().unwrap(),
    );
    let data = dir.join("data");
    let before = (rev - 1).to_string();
    let (_, old, _, _) = export(&[s(&data), "--rev", &before, "--prefix", prefix]);
    let (_, now, _, _) = export(&[s(&data), "--prefix", prefix]);
    assert_eq!(old.len() as u64 - now.len() as u64, deleted);
    assert!(old.keys().all(|k| k.starts_with(prefix.as_bytes())));
    let compact = t["compact_revision"].as_i64().unwrap();
    let (code, _, err) = run(&["export", s(&data), "--rev", &(compact - 1).to_string()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("compacted"), "{err}");
}

#[test]
fn check_of_a_healthy_data_dir_is_clean() {
    for (name, input, _) in live_fixtures() {
        if name.ends_with("snapshot.db") {
            continue;
        }
        let (code, v) = run_json(&["check", s(&input), "--json"]);
        assert_eq!(code, 0, "{name}: {v}");
        assert_eq!(v["ok"], true, "{name}");
        assert!(v["findings"].as_array().unwrap().is_empty(), "{name}: {v}");
        let m = &v["member"];
        assert!(m["consistent_index"].as_u64().unwrap() <= m["commit"].as_u64().unwrap());
        let (_, text, _) = run(&["check", s(&input)]);
        assert_eq!(text.trim().lines().last(), Some("OK"), "{name}: {text}");
        assert!(text.contains("verdict: healthy"), "{name}: {text}");
    }
    // The killed members too: their db lags the WAL, which etcd replays on start.
    for sc in ["killed", "v3.5/killed"] {
        let killed = fixtures().join(sc).join("data");
        if !killed.is_dir() {
            continue;
        }
        let (code, v) = run_json(&["check", s(&killed), "--json"]);
        assert_eq!(code, 0, "{sc}: {v}");
        let notes = v["member"]["notes"].as_array().unwrap();
        assert!(
            notes.iter().any(|n| n["kind"] == "unapplied_entries"),
            "{sc}: {v}"
        );
        assert!(
            v["member"]["unapplied_committed_entries"].as_u64().unwrap() > 0,
            "{sc}"
        );
    }
}

#[test]
fn check_reports_each_damaged_wal_variant_with_component_wal() {
    let manifest = fixtures().join("damaged/manifest.json");
    let Ok(bytes) = std::fs::read(&manifest) else {
        eprintln!("no damaged manifest; skipped");
        return;
    };
    let m: Value = serde_json::from_slice(&bytes).unwrap();
    let mut seen = 0;
    for v in m["variants"].as_array().unwrap() {
        if v["component"] != "wal" {
            continue;
        }
        seen += 1;
        let dir = fixtures().join("damaged").join(v["path"].as_str().unwrap());
        let (code, r) = run_json(&["check", s(&dir), "--json"]);
        assert_eq!(
            code as i64,
            v["expected_exit"].as_i64().unwrap(),
            "{}: {r}",
            v["name"]
        );
        for want in v["expected_findings"].as_array().unwrap() {
            // Findings etcd tolerates ("severity": "info") are notes, not damage.
            let found = if want["severity"] == "info" {
                r["member"]["notes"].as_array().unwrap()
            } else {
                r["findings"].as_array().unwrap()
            };
            assert!(
                found.iter().any(|f| f["component"] == "wal"
                    && f["kind"] == want["kind"]
                    && f["file"] == want["file"]
                    && f["offset"] == want["offset"]),
                "{}: missing {want} in {r}",
                v["name"]
            );
        }
        if code == 1 {
            assert_eq!(r["ok"], false);
            assert!(!r["member"]["verdicts"].as_array().unwrap().is_empty());
        }
    }
    assert!(seen > 0);
}

#[test]
fn a_torn_wal_tail_is_judged_repairable_and_a_crc_mismatch_blocks_start() {
    let d = fixtures().join("damaged/wal");
    if !d.is_dir() {
        return;
    }
    for (variant, verdict) in [
        ("zeroed-sector", "wal_tail_truncated_on_start"),
        ("truncated-record", "wal_tail_truncated_on_start"),
        ("flipped-byte", "wal_blocks_start"),
        ("missing-segment", "wal_blocks_start"),
    ] {
        let (_, r) = run_json(&["check", s(&d.join(variant)), "--json"]);
        let f = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == verdict)
            .unwrap_or_else(|| panic!("{variant}: no {verdict} in {r}"));
        assert_eq!(f["component"], "wal");
        let msg = f["message"].as_str().unwrap();
        assert!(msg.contains("after index"), "{msg}");
    }
}

#[test]
fn check_of_a_data_dir_with_a_damaged_db_reports_component_db() {
    let manifest = fixtures().join("damaged/manifest.json");
    let src = fixtures().join("k8s/data");
    let Ok(bytes) = std::fs::read(&manifest) else {
        return;
    };
    let m: Value = serde_json::from_slice(&bytes).unwrap();
    let mut seen = 0;
    for v in m["variants"].as_array().unwrap() {
        if v["component"] != "bbolt" || v["derived_from"] != "k8s/data/member/snap/db" {
            continue;
        }
        let name = v["name"].as_str().unwrap();
        let dir = scratch(name);
        copy_dir(&src, &dir);
        std::fs::copy(
            fixtures().join("damaged").join(v["file"].as_str().unwrap()),
            dir.join("member/snap/db"),
        )
        .unwrap();
        let (code, r) = run_json(&["check", s(&dir), "--json"]);
        if v["expected_exit"].as_i64() == Some(0) {
            continue;
        }
        seen += 1;
        assert_eq!(code, 1, "{name}: {r}");
        assert!(
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["component"] == "db"),
            "{name}: {r}"
        );
    }
    assert!(
        seen > 0,
        "no damaged bbolt variant of the k8s db in the manifest"
    );
}

/// `check <dir> --json`: exit code, the kinds of its damage findings, the report.
fn check_kinds(dir: &Path) -> (i32, Vec<String>, Value) {
    let (code, r) = run_json(&["check", s(dir), "--json"]);
    let kinds = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect();
    (code, kinds, r)
}

#[test]
fn check_finds_a_db_from_another_member_and_a_db_behind_the_snapshot() {
    let many = fixtures().join("many-snaps/data");
    let k8s_db = fixtures().join("k8s/data/member/snap/db");
    if !many.is_dir() {
        return;
    }
    let dir = scratch("foreign-db");
    copy_dir(&many, &dir);
    std::fs::copy(&k8s_db, dir.join("member/snap/db")).unwrap();
    let (code, kinds, r) = check_kinds(&dir);
    assert_eq!(code, 1, "{r}");
    let notes = r["member"]["notes"].to_string();
    assert!(notes.contains("member_not_in_db"), "{r}");
    assert!(kinds.iter().any(|k| k == "db_behind_snapshot"), "{r}");
}

/// The data dirs of the 3-member cluster fixture `dir` ("cluster" or "v3.5/cluster").
fn cluster_at(dir: &str) -> Option<Vec<PathBuf>> {
    let ms: Vec<PathBuf> = (1..=3)
        .map(|i| fixtures().join(format!("{dir}/m{i}/data")))
        .collect();
    ms.iter().all(|m| m.is_dir()).then_some(ms)
}

fn cluster() -> Option<Vec<PathBuf>> {
    cluster_at("cluster")
}

#[test]
fn members_of_the_cluster_fixture_agree_and_hash_as_etcd_did() {
    for dir in ["cluster", "v3.5/cluster"] {
        let Some(ms) = cluster_at(dir) else { continue };
        members_agree_and_hash_as_etcd_did(dir, &ms);
    }
}

fn members_agree_and_hash_as_etcd_did(dir: &str, ms: &[PathBuf]) {
    let args: Vec<&str> = ["members", "--json"]
        .into_iter()
        .chain(ms.iter().map(|m| s(m)))
        .collect();
    let (code, r) = run_json(&args);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["agree"], true);
    assert_eq!(r["most_committed"].as_array().unwrap().len(), 3, "{r}");
    for (i, row) in r["members"].as_array().unwrap().iter().enumerate() {
        let t: Value = serde_json::from_slice(
            &std::fs::read(fixtures().join(format!("{dir}/m{}/truth.json", i + 1))).unwrap(),
        )
        .unwrap();
        assert_eq!(row["member_id_hex"], t["member_id_hex"]);
        assert_eq!(row["cluster_id_hex"], t["cluster_id_hex"]);
        assert_eq!(row["revision"], t["revision"]);
        if r["common_revision"] == t["hashkv_revision"] {
            assert_eq!(row["hash"], t["hashkv_hash"], "{row}");
        }
    }
}

/// Changes one byte of `key`'s newest value inside the db file (same length, so the
/// bbolt file stays well-formed): the member now holds other data at the same revision.
fn corrupt_value(db: &Path, value: &[u8]) {
    let mut bytes = std::fs::read(db).unwrap();
    let mut hits = 0;
    let mut i = 0;
    while let Some(p) = bytes[i..]
        .windows(value.len())
        .position(|w| w == value)
        .map(|p| p + i)
    {
        bytes[p + value.len() - 1] ^= 0x01;
        hits += 1;
        i = p + value.len();
    }
    assert!(hits > 0);
    std::fs::write(db, bytes).unwrap();
}

#[test]
fn members_and_diff_report_a_member_whose_value_was_altered() {
    let Some(ms) = cluster() else { return };
    // A live text value to alter: /other/app/config.
    let kvs = truth_kvs(&fixtures().join("cluster/m2/truth/kvs.json"));
    let (key, kv) = kvs
        .iter()
        .find(|(k, v)| k.starts_with(b"/other/app/") && v.0.len() > 8)
        .expect("a text value under /other/app/");
    let dir = scratch("altered-m2");
    copy_dir(&ms[1], &dir);
    corrupt_value(&dir.join("member/snap/db"), &kv.0);
    let (code, r) = run_json(&["members", "--json", s(&ms[0]), s(&dir), s(&ms[2])]);
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["agree"], false);
    let d = r["disagreements"].to_string();
    assert!(d.contains("differ at revision"), "{r}");
    let (code, r) = run_json(&["diff", s(&ms[1]), s(&dir), "--keys", "--json"]);
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["different_value"], 1, "{r}");
    assert_eq!(
        r["only_a"].as_u64().unwrap() + r["only_b"].as_u64().unwrap(),
        0
    );
    let k = &r["keys"][0];
    assert_eq!(bytes(&k["key"]), *key);
    assert_eq!(k["status"], "different_value");
}

#[test]
fn diff_of_a_member_with_itself_and_with_an_older_snapshot() {
    let k8s = fixtures().join("k8s/data");
    let (code, r) = run_json(&["diff", s(&k8s), s(&k8s), "--json"]);
    assert_eq!((code, &r["identical"]), (0, &Value::Bool(true)));
    let snap = fixtures().join("snapshot/snapshot.db");
    if !snap.is_file() {
        return;
    }
    let a = truth_kvs(&fixtures().join("k8s/truth/kvs.json"));
    let b = truth_kvs(&fixtures().join("snapshot/truth/kvs.json"));
    let (code, r) = run_json(&["diff", s(&k8s), s(&snap), "--json"]);
    assert_eq!(code, 1);
    let only_a = a.keys().filter(|k| !b.contains_key(*k)).count() as u64;
    let only_b = b.keys().filter(|k| !a.contains_key(*k)).count() as u64;
    let changed = a
        .iter()
        .filter(|(k, v)| b.get(*k).is_some_and(|w| w.0 != v.0))
        .count() as u64;
    assert_eq!(r["only_a"].as_u64(), Some(only_a));
    assert_eq!(r["only_b"].as_u64(), Some(only_b));
    assert_eq!(r["different_value"].as_u64(), Some(changed));
    let per: u64 = r["prefixes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["only_a"].as_u64().unwrap())
        .sum();
    assert_eq!(per, only_a);
}

#[test]
fn export_replay_wal_without_a_db_rebuilds_the_keyspace_from_the_wal() {
    let three = fixtures().join("damaged/wal/three-segments");
    let torn = fixtures().join("damaged/wal/zeroed-sector");
    if !three.is_dir() || !torn.is_dir() {
        return;
    }
    // The re-cut WAL of the k8s member holds its whole history from index 1. It may come
    // from an earlier run of the same deterministic k8s workload, whose lease IDs (chosen
    // by etcd at random) differ: leases are compared as attached or not.
    let unlease = |m: Kvs| -> Kvs {
        m.into_iter()
            .map(|(k, (v, c, md, ver, l))| (k, (v, c, md, ver, i64::from(l != 0))))
            .collect()
    };
    let want = unlease(truth_kvs(&fixtures().join("k8s/truth/kvs.json")));
    let (code, got, _, note) = export(&[s(&three), "--replay-wal", "--show-secrets"]);
    assert_eq!(code, 0, "{note}");
    assert_eq!(first_difference(&unlease(got), &want), None, "{note}");
    assert!(note.contains("rebuilt from the WAL"), "{note}");
    // A torn WAL gives what etcd would rebuild after cutting the tail, and says so.
    let (code, got, _, note) = export(&[s(&torn), "--replay-wal"]);
    assert_eq!(code, 1, "{note}");
    assert!(note.contains("WAL unreadable from"), "{note}");
    assert!(!got.is_empty() && got.len() < want.len());
}

#[test]
fn check_of_a_db_with_a_torn_wal_says_the_db_is_ahead_of_what_remains() {
    let k8s = fixtures().join("k8s/data");
    let torn = fixtures().join("damaged/wal/truncated-record/member/wal");
    if !torn.is_dir() {
        return;
    }
    let dir = scratch("db-ahead");
    copy_dir(&k8s, &dir.join("data"));
    let wal = dir.join("data/member/wal");
    std::fs::remove_dir_all(&wal).unwrap();
    copy_dir(&torn, &wal);
    let (code, kinds, r) = check_kinds(&dir.join("data"));
    assert_eq!(code, 1, "{r}");
    assert!(kinds.iter().any(|k| k == "truncated_record"), "{r}");
    assert!(
        kinds.iter().any(|k| k == "wal_tail_truncated_on_start"),
        "{r}"
    );
    assert!(kinds.iter().any(|k| k == "db_ahead_of_wal"), "{r}");
}

#[test]
fn replaying_damaged_and_fuzz_seed_segments_never_panics() {
    use etcd_mvcc::replay::{replay, State};
    let dir = fixtures().join("../fuzz/corpus/wal_segment_decode");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut n = 0;
    for e in rd.flatten() {
        let bytes = std::fs::read(e.path()).unwrap();
        for raw in [false, true] {
            let scan = wal_reader::scan_wal(
                &[("0000000000000000-0000000000000000.wal", &bytes)],
                Vec::new(),
                wal_reader::ScanOptions { raw },
            );
            // Extreme starting points a hostile db could claim.
            for (rev, after) in [(1, 0), (i64::MAX, 0), (1, u64::MAX), (-5, 3)] {
                let mut st = State {
                    revision: rev,
                    ..State::default()
                };
                replay(&mut st, &scan.entries, after, u64::MAX);
            }
        }
        n += 1;
    }
    assert!(n > 0);
}
