//! `prefixes`, `hash`, `status` and `space` on the fixtures made by real etcd 3.4 and 3.5.1,
//! compared with what the live etcd reported before it was stopped (truth.json).
//! Scenarios whose fixture has not been generated are skipped with a note; `k8s` is
//! committed and always checked.

mod common;

use common::*;
use serde_json::Value;

/// (scenario, data argument, truth) for every generated scenario of a live member.
fn scenarios() -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    let mut names = and_v35(&[
        "k8s",
        "k8s-defrag",
        "nospace",
        "many-snaps",
        "snapshot",
        "killed",
    ]);
    names.push("v3.5/restored".into());
    for s in &names {
        let data = fixtures().join(s).join("data");
        let (Some(t), true) = (truth(s), data.is_dir()) else {
            eprintln!("note: fixture {s} not generated; skipped");
            continue;
        };
        out.push((s.to_string(), data.display().to_string(), t));
    }
    for c in ["cluster", "v3.5/cluster"] {
        for m in ["m1", "m2", "m3"] {
            let dir = fixtures().join(c).join(m);
            if let (true, Some(t)) = (dir.join("data").is_dir(), truth(&format!("{c}/{m}"))) {
                out.push((
                    format!("{c}/{m}"),
                    dir.join("data").display().to_string(),
                    t,
                ));
            }
        }
    }
    assert!(
        out.iter().any(|(s, ..)| s == "k8s"),
        "the k8s fixture must be present"
    );
    out
}

/// The killed member's truth was recorded before a burst of writes that the db holds too
/// (it lists the fields so recorded); its hashkv at the recorded revision still applies.
fn truth_is_final(t: &Value) -> bool {
    t.get("truth_recorded_before_burst").is_none()
}

#[test]
fn live_keys_per_depth_3_prefix_equal_the_live_etcd() {
    for (s, data, t) in scenarios() {
        if !truth_is_final(&t) {
            continue;
        }
        let (code, v) = run_json(&["prefixes", "--json", "--depth", "3", &data]);
        assert_eq!(code, 0, "{s}");
        let mut got = serde_json::Map::new();
        for p in v["prefixes"].as_array().unwrap() {
            if p["live_keys"].as_u64().unwrap() > 0 {
                got.insert(
                    p["prefix"].as_str().unwrap().to_string(),
                    p["live_keys"].clone(),
                );
            }
        }
        assert_eq!(Value::Object(got), t["live_keys_by_prefix"], "{s}");
        assert_eq!(v["totals"]["live_keys"], t["total_live_keys"], "{s}");
        if let Some(leased) = t.get("live_keys_with_lease") {
            assert_eq!(&v["totals"]["leased_keys"], leased, "{s}");
        }
        assert_eq!(v["revision"], t["revision"], "{s}");
        assert_eq!(v["compact_revision"], t["compact_revision"], "{s}");
    }
}

#[test]
fn hashkv_equals_etcdctl_endpoint_hashkv() {
    for (s, data, t) in scenarios() {
        let rev = t["hashkv_revision"].as_i64().unwrap().to_string();
        let (code, v) = run_json(&["hash", "--json", "--rev", &rev, &data]);
        assert_eq!(code, 0, "{s}");
        assert_eq!(v["hash"], t["hashkv_hash"], "{s}");
        assert_eq!(v["revision"], t["hashkv_revision"], "{s}");
        assert_eq!(v["compact_revision"], t["hashkv_compact_revision"], "{s}");
    }
}

#[test]
fn hashkv_defaults_to_the_newest_revision() {
    for (s, data, t) in scenarios() {
        if !truth_is_final(&t) {
            continue;
        }
        let (_, v) = run_json(&["hash", "--json", &data]);
        assert_eq!(v["hash"], t["hashkv_hash"], "{s}");
    }
}

#[test]
fn hash_at_a_compacted_revision_is_refused_like_etcd() {
    let data = fixtures().join("k8s/data");
    let out = bin()
        .args(["hash", "--rev", "100"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("compacted"));
}

#[test]
fn db_size_equals_etcd_and_in_use_is_what_etcd_reports_after_a_restart() {
    for (s, data, t) in scenarios() {
        if !truth_is_final(&t) {
            continue;
        }
        let (_, v) = run_json(&["space", "--json", &data]);
        assert_eq!(v["db_size"], t["db_size"], "{s}");
        let ps = v["page_size"].as_u64().unwrap();
        let total = v["pages_total"].as_u64().unwrap();
        assert_eq!(
            total,
            v["pages_reachable"].as_u64().unwrap() + v["pages_free"].as_u64().unwrap(),
            "{s}"
        );
        // The live member counts the pages freed by its last commits as in use (bbolt keeps
        // them pending while a read transaction from before that commit is open); a restart
        // frees them. So the live figure may exceed ours by those few pages, never less.
        let ours = v["bytes_in_use"].as_u64().unwrap();
        let live = t["db_size_in_use"].as_u64().unwrap();
        assert!(
            ours <= live && live - ours <= 8 * ps,
            "{s}: in use {ours}, live etcd said {live}"
        );
    }
}

#[test]
fn in_use_after_defrag_equals_etcd_exactly() {
    let Some(t) = truth("k8s-defrag") else {
        eprintln!("note: fixture k8s-defrag not generated; skipped");
        return;
    };
    let dir = fixtures().join("k8s-defrag");
    let (_, v) = run_json(&["space", "--json", dir.join("data").to_str().unwrap()]);
    assert_eq!(v["bytes_in_use"], t["db_size_in_use"]);
}

#[test]
fn predicted_defrag_size_is_within_5_percent_of_etcdctl_defrag() {
    let Some(t) = truth("k8s-defrag") else {
        eprintln!("note: fixture k8s-defrag not generated; skipped");
        return;
    };
    let real = t["db_size_after_defrag"].as_f64().unwrap();
    // Before defrag (the k8s member it was derived from) and after (defrag of a defragged file).
    for s in ["k8s", "k8s-defrag"] {
        let (_, v) = run_json(&[
            "space",
            "--json",
            fixtures().join(s).join("data").to_str().unwrap(),
        ]);
        let predicted = v["predicted_defrag_size"].as_f64().unwrap();
        assert!(
            (predicted - real).abs() / real <= 0.05,
            "{s}: predicted {predicted}, etcdctl defrag gave {real}"
        );
    }
}

#[test]
fn snapshot_status_equals_etcdctl_snapshot_status() {
    let dir = fixtures().join("snapshot");
    let file = dir.join("snapshot.db");
    if !file.is_file() {
        eprintln!("note: fixture snapshot not generated; skipped");
        return;
    }
    let want = read_json(&dir.join("truth/snapshot-status.json"));
    let (code, v) = run_json(&["status", "--json", file.to_str().unwrap()]);
    assert_eq!(code, 0);
    for k in ["hash", "revision", "totalKey", "totalSize"] {
        assert_eq!(v[k], want[k], "{k}");
    }
    assert_eq!(v["sha256"]["present"], true);
    assert_eq!(v["sha256"]["matches"], true);
}

#[test]
fn a_changed_snapshot_fails_its_sha256_trailer() {
    let file = fixtures().join("snapshot/snapshot.db");
    if !file.is_file() {
        eprintln!("note: fixture snapshot not generated; skipped");
        return;
    }
    let mut bytes = std::fs::read(&file).unwrap();
    // Flip one byte of the trailer: the db stays readable, the checksum no longer matches.
    let n = bytes.len();
    bytes[n - 1] ^= 0xff;
    let dir = std::env::temp_dir().join(format!("nospace-sha-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("snapshot.db");
    std::fs::write(&path, &bytes).unwrap();
    let (code, v) = run_json(&["status", "--json", path.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(code, 1);
    assert_eq!(v["sha256"]["present"], true);
    assert_eq!(v["sha256"]["matches"], false);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    for (s, data, _) in scenarios() {
        for cmd in ["prefixes", "hash", "space"] {
            let (_, one) = run_json(&[cmd, "--json", "--threads", "1", &data]);
            let (_, three) = run_json(&[cmd, "--json", "--threads", "3", &data]);
            assert_eq!(one, three, "{s} {cmd}");
        }
    }
}
