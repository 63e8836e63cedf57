//! The bbolt-layer commands run as a user would run them, on the fixtures made by real
//! etcd 3.4 and 3.5.1, compared with the truth recorded from the live etcd.

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;

/// Healthy fixtures: (scenario, the DB argument, truth.json).
fn healthy() -> Vec<(String, PathBuf, Value)> {
    let mut out = member_truths();
    for sc in ["snapshot", "v3.5/restored"] {
        let snap = fixtures().join(sc);
        if let (true, Some(t)) = (snap.join("snapshot.db").is_file(), truth(sc)) {
            out.push((format!("{sc}/snapshot.db"), snap.join("snapshot.db"), t));
        }
    }
    assert!(
        !out.is_empty(),
        "no fixtures found under {}",
        fixtures().display()
    );
    out
}

#[test]
fn check_is_clean_on_every_healthy_fixture() {
    for (name, db, _) in healthy() {
        let (code, v) = run_json(&["check", s(&db), "--json"]);
        assert_eq!(v["ok"], true, "{name}: {v}");
        assert_eq!(v["findings"].as_array().unwrap().len(), 0, "{name}: {v}");
        assert_eq!(code, 0, "{name}");
        // A db prints just OK; a data dir prints the member's figures and verdict first.
        let (code, text, _) = run(&["check", s(&db)]);
        assert_eq!(
            (code, text.trim().lines().last()),
            (0, Some("OK")),
            "{name}: {text}"
        );
    }
}

#[test]
fn stats_size_matches_the_db_size_etcd_reported() {
    for (name, db, truth) in healthy() {
        let (code, v) = run_json(&["stats", s(&db), "--json"]);
        assert_eq!(code, 0, "{name}");
        let size = v["high_water_mark"].as_u64().unwrap() * v["page_size"].as_u64().unwrap();
        // etcd's dbSize is bbolt's tx.Size(): high-water mark x page size. The killed
        // scenario's truth was recorded before the final burst of writes.
        if truth.get("truth_recorded_before_burst").is_none() {
            assert_eq!(size, truth["db_size"].as_u64().unwrap(), "{name}: db_size");
        }
        // In-use size: etcd subtracts the free pages it knows of (pending ones included,
        // which we cannot see after a restart), so ours is never smaller.
        let inuse = size - v["free_pages"].as_u64().unwrap() * v["page_size"].as_u64().unwrap();
        if truth.get("truth_recorded_before_burst").is_none() {
            let want = truth["db_size_in_use"].as_u64().unwrap();
            assert!(
                inuse <= size && inuse + 64 * 4096 >= want && inuse <= want + 64 * 4096,
                "{name}: in use {inuse} vs etcd {want}"
            );
        }
        let names = strs(&v["buckets"], "name");
        for b in [
            "key", "meta", "lease", "members", "cluster", "alarm", "auth",
        ] {
            assert!(
                names.contains(&b),
                "{name}: bucket {b} missing from {names:?}"
            );
        }
    }
}

#[test]
fn snapshot_totals_match_etcdctl_snapshot_status() {
    let snap = fixtures().join("snapshot/snapshot.db");
    let status = fixtures().join("snapshot/truth/snapshot-status.json");
    if !snap.is_file() || !status.is_file() {
        return;
    }
    let st = read_json(&status);
    let (_, v) = run_json(&["stats", s(&snap), "--json"]);
    // `snapshot status` sums KeyN of every bucket and reports tx.Size().
    let total_keys: u64 = v["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["keys"].as_u64().unwrap())
        .sum();
    assert_eq!(total_keys, st["totalKey"].as_u64().unwrap());
    assert_eq!(v["total"]["keys"].as_u64().unwrap(), total_keys);
    let size = v["high_water_mark"].as_u64().unwrap() * v["page_size"].as_u64().unwrap();
    assert_eq!(size, st["totalSize"].as_u64().unwrap());
    let (code, info) = run_json(&["info", s(&snap), "--json"]);
    assert_eq!(code, 0);
    assert_eq!(info["input_kind"], "snapshot_file");
    assert_eq!(info["sha256_trailer_ok"], true);
    assert_eq!(info["metas"][0]["valid"], true);
}

#[test]
fn buckets_key_counts_agree_with_stats_and_iterate_bucket() {
    let (name, db, truth) = healthy().into_iter().next().unwrap();
    let (_, b) = run_json(&["buckets", s(&db), "--json"]);
    let list = b["buckets"].as_array().unwrap();
    let key = list.iter().find(|x| x["name"] == "key").unwrap();
    let key_n = key["keys"].as_u64().unwrap();
    // Every revision written and not compacted away is a key of the key bucket.
    assert!(
        key_n >= truth["total_live_keys"].as_u64().unwrap(),
        "{name}"
    );
    let (code, out, _) = run(&["iterate-bucket", s(&db), "key"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count() as u64, key_n, "{name}");
    let (_, lim, _) = run(&["iterate-bucket", s(&db), "key", "--limit", "5"]);
    assert_eq!(lim.lines().count(), 5);
    // Reverse order: the first line is the newest revision.
    assert_eq!(lim.lines().next(), out.lines().next());
    let lease = list.iter().find(|x| x["name"] == "lease").unwrap();
    let (_, leases, _) = run(&["iterate-bucket", s(&db), "lease", "--decode"]);
    assert_eq!(
        leases.lines().count() as u64,
        lease["keys"].as_u64().unwrap()
    );
    assert!(leases
        .lines()
        .all(|l| l.starts_with("lease ID=") && l.ends_with('s')));
}

#[test]
fn iterate_bucket_decodes_revisions_and_redacts_secrets() {
    let (name, db, _) = healthy().into_iter().next().unwrap();
    let (code, out, _) = run(&["iterate-bucket", s(&db), "key", "--decode"]);
    assert_eq!(code, 0);
    let mut secrets = 0;
    for line in out.lines() {
        assert!(line.starts_with("rev={main:"), "{name}: {line}");
        assert!(line.contains(" | created "), "{line}");
        if line.contains("[key \"/registry/secrets/") {
            secrets += 1;
            assert!(line.contains("<redacted"), "{line}");
        }
    }
    let (_, raw, _) = run(&["iterate-bucket", s(&db), "key"]);
    for line in raw.lines() {
        assert!(line.starts_with("key=\"\\x00"), "{line}");
    }
    if secrets > 0 {
        let (_, shown, _) = run(&[
            "iterate-bucket",
            s(&db),
            "key",
            "--decode",
            "--show-secrets",
        ]);
        assert!(!shown.contains("<redacted"));
    }
}

#[test]
fn list_bucket_prints_the_etcd_buckets_in_key_order() {
    let (_, db, _) = healthy().into_iter().next().unwrap();
    let (code, out, _) = run(&["list-bucket", s(&db)]);
    assert_eq!(code, 0);
    let names: Vec<&str> = out.lines().collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    for b in [
        "alarm", "auth", "cluster", "key", "lease", "members", "meta",
    ] {
        assert!(names.contains(&b), "{names:?}");
    }
}

#[test]
fn pages_cover_every_page_below_the_high_water_mark() {
    for (name, db, _) in healthy() {
        let (code, v) = run_json(&["pages", s(&db), "--json"]);
        assert_eq!(code, 0);
        let hwm = v["high_water_mark"].as_u64().unwrap();
        let mut covered = 0;
        let mut next = 0;
        for p in v["pages"].as_array().unwrap() {
            assert_eq!(p["id"].as_u64().unwrap(), next, "{name}");
            let span = if p["free"] == true {
                1
            } else {
                1 + p["overflow"].as_u64().unwrap()
            };
            covered += span;
            next += span;
        }
        assert_eq!(covered, hwm, "{name}");
        let (_, text, _) = run(&["pages", s(&db)]);
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("ID       TYPE       ITEMS  OVRFLW"));
        assert_eq!(lines.next(), Some("======== ========== ====== ======"));
        assert!(lines.next().unwrap().starts_with("0        meta       0"));
    }
}

#[test]
fn page_prints_meta_and_leaf_like_bbolt_page() {
    let (_, db, _) = healthy().into_iter().next().unwrap();
    let (code, out, _) = run(&["page", s(&db), "0"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Page ID:    0\nPage Type:  meta\nTotal Size: 4096 bytes\n"));
    assert!(out.contains("\nVersion:    2\n"));
    let (_, v) = run_json(&["pages", s(&db), "--json"]);
    let leaf = v["pages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "leaf")
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    let (code, out, _) = run(&["page", s(&db), &leaf.to_string(), "0"]);
    assert_eq!(code, 0);
    assert!(out.contains("Page Type:  leaf\n"));
    assert!(out.contains("Item Count: "));
    assert!(out.contains("==============================================="));
}

#[test]
fn info_shows_both_metas_and_picks_the_newer() {
    for (name, db, _) in healthy() {
        let (code, v) = run_json(&["info", s(&db), "--json"]);
        assert_eq!(code, 0, "{name}");
        let m = v["metas"].as_array().unwrap();
        let t0 = m[0]["txid"].as_u64().unwrap();
        let t1 = m[1]["txid"].as_u64().unwrap();
        let want = usize::from(t1 > t0) as u64;
        assert_eq!(v["meta_in_use"].as_u64().unwrap(), want, "{name}");
        assert_eq!(v["page_size"], 4096);
        // etcd on Linux does not persist the freelist.
        assert!(m[0]["freelist"].is_null(), "{name}");
    }
}

#[test]
fn the_older_meta_can_be_read_and_checks_clean() {
    for (name, db, _) in healthy() {
        let (_, info) = run_json(&["info", s(&db), "--json"]);
        let older = 1 - info["meta_in_use"].as_u64().unwrap();
        let (code, v) = run_json(&["check", s(&db), "--meta", &older.to_string(), "--json"]);
        assert_eq!(v["meta_in_use"].as_u64(), Some(older), "{name}");
        assert_eq!(code, 0, "{name}: {v}");
    }
}

#[test]
fn check_exits_2_on_a_file_that_is_not_bbolt() {
    let (code, _, err) = run(&["check", s(&fixtures().join("../Cargo.toml"))]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = run(&["check", "/nonexistent/path/db"]);
    assert_eq!(code, 2);
}

#[test]
fn damaged_bbolt_variants_report_each_expected_finding() {
    let manifest = fixtures().join("damaged/manifest.json");
    let Ok(bytes) = std::fs::read(&manifest) else {
        return;
    };
    let m: Value = serde_json::from_slice(&bytes).unwrap();
    let variants: Vec<&Value> = m["variants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["component"] == "bbolt")
        .collect();
    for v in variants {
        let name = v["name"].as_str().unwrap_or("?");
        let rel = v["file"].as_str().or(v["path"].as_str()).unwrap();
        let path = fixtures().join("damaged").join(rel);
        let (code, out, err) = run(&["check", s(&path), "--json"]);
        assert!(!err.contains("panicked"), "{name}: {err}");
        // Damage found and reported: exit 1, also when no meta is valid.
        assert_eq!(code, 1, "{name}: {out}{err}");
        let got: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(got["ok"], false, "{name}");
        let findings = got["findings"].as_array().unwrap();
        let mut allowed: Vec<&str> = Vec::new();
        for f in v["expected_findings"].as_array().unwrap() {
            allowed.push(f["kind"].as_str().unwrap());
            let hit = findings
                .iter()
                .any(|g| g["kind"] == f["kind"] && (f["page"].is_null() || g["page"] == f["page"]));
            assert!(hit, "{name}: expected {f} in {out}");
        }
        if let Some(extra) = v["also_possible"].as_array() {
            allowed.extend(extra.iter().filter_map(|k| k.as_str()));
        }
        allowed.push("page_id_mismatch");
        for g in findings {
            let kind = g["kind"].as_str().unwrap();
            assert!(allowed.contains(&kind), "{name}: unexpected finding {g}");
        }
        if v["expect_open"] == false {
            assert!(got["meta_in_use"].is_null(), "{name}");
        }
    }
}

#[test]
fn info_reports_both_broken_metas_with_exit_1() {
    let db = fixtures().join("damaged/bbolt/both-metas-checksum.db");
    if !db.is_file() {
        return;
    }
    let (code, v) = run_json(&["info", s(&db), "--json"]);
    assert_eq!(code, 1);
    assert!(v["meta_in_use"].is_null());
    for m in v["metas"].as_array().unwrap() {
        assert_eq!(m["valid"], false);
        assert_eq!(m["checksum_ok"], false);
        assert!(m["problem"].as_str().unwrap().contains("checksum"));
    }
}

#[test]
fn iterate_bucket_json_carries_the_text_lines() {
    let (_, db, _) = healthy().into_iter().next().unwrap();
    let (code, v) = run_json(&["iterate-bucket", s(&db), "meta", "--json"]);
    assert_eq!(code, 0);
    let (_, text, _) = run(&["iterate-bucket", s(&db), "meta"]);
    let lines = strs(&v["entries"], "line");
    assert_eq!(lines, text.lines().collect::<Vec<_>>());
    assert!(lines
        .iter()
        .any(|l| l.starts_with("key=\"consistent_index\", value=")));
    let (code, _, err) = run(&["iterate-bucket", s(&db), "no-such-bucket"]);
    assert_eq!(code, 2);
    assert!(err.contains("got nil bucket for no-such-bucket"), "{err}");
}

#[test]
fn bucket_key_counts_match_the_truth_of_every_fixture() {
    for (name, db, truth) in healthy() {
        let (code, v) = run_json(&["buckets", s(&db), "--json"]);
        assert_eq!(code, 0, "{name}");
        let count = |b: &str| {
            v["buckets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["name"] == b)
                .unwrap_or_else(|| panic!("{name}: no bucket {b}"))["keys"]
                .as_u64()
                .unwrap()
        };
        if truth.get("truth_recorded_before_burst").is_some() {
            continue;
        }
        // One lease bucket entry per live lease (`etcdctl lease list`).
        if let Some(leases) = truth["leases"].as_u64() {
            assert_eq!(count("lease"), leases, "{name}: leases");
        }
        let members = if name.contains("cluster/") { 3 } else { 1 };
        assert_eq!(count("members"), members, "{name}: members");
        // Without a compaction every revision written is still in the key bucket.
        if truth["compact_revision"].as_i64() == Some(-1) {
            assert_eq!(
                count("key"),
                truth["revisions_written"].as_u64().unwrap(),
                "{name}: revisions"
            );
        }
    }
}

#[test]
fn a_damaged_secret_keyvalue_is_redacted_by_bbolt_get_page_and_iterate_bucket() {
    // A key-bucket record of a Secret whose value length runs 3 bytes past the end: it
    // does not decode as a KeyValue, yet holds the Secret's bytes.
    let key = b"/registry/secrets/default/token";
    // Long enough that the key bucket is not inline: `page` prints its leaf.
    let mut secret = b"hunter2-".to_vec();
    secret.resize(1500, b'x');
    let claimed = secret.len() + 3;
    let mut kv = vec![0x0a, key.len() as u8];
    kv.extend_from_slice(key);
    kv.extend_from_slice(&[0x10, 2, 0x18, 2, 0x20, 1, 0x2a]);
    kv.extend_from_slice(&[(claimed & 0x7f) as u8 | 0x80, (claimed >> 7) as u8]);
    kv.extend_from_slice(&secret);
    let dir = scratch("damaged-secret-kv");
    let db = dir.join("db");
    let mut w =
        bbolt_writer::BoltWriter::create(&db, bbolt_writer::Options::default(), false).unwrap();
    w.begin_bucket(b"key").unwrap();
    // Revision key {main 2, sub 0}.
    w.put(&[0, 0, 0, 0, 0, 0, 0, 2, b'_', 0, 0, 0, 0, 0, 0, 0, 0], &kv)
        .unwrap();
    w.end_bucket().unwrap();
    w.finish_file().unwrap();
    let d = db.display().to_string();
    let rev = "00000000000000025f0000000000000000";
    for args in [
        vec!["bbolt-get", &d, "--parse-format", "hex", "key", rev],
        vec![
            "bbolt-get",
            &d,
            "--parse-format",
            "hex",
            "key",
            rev,
            "--json",
        ],
        vec!["page", &d, "--all"],
        vec!["page", &d, "--all", "--json"],
        vec!["iterate-bucket", &d, "key"],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(
            !out.contains("hunter2"),
            "{args:?} leaks the secret:\n{out}"
        );
        // Neither in hex nor base64.
        assert!(!out.contains("68756e74657232"), "{args:?}:\n{out}");
        assert!(!out.contains("aHVudGVyM"), "{args:?}:\n{out}");
        let mut shown = args.clone();
        shown.push("--show-secrets");
        let (_, out, _) = run(&shown);
        assert!(
            out.contains("hunter2") || out.contains("68756e74657232") || out.contains("aHVudGVy"),
            "{shown:?} shows no value:\n{out}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
