//! Hardening, fault class "a meta page that passes its checksum but does not describe the
//! etcd keyspace": fixtures/damage_bbolt.py's forged-meta-root-key-leaf (the newest meta's
//! root rewritten to a key-bucket leaf, checksum recomputed), forged-meta-root-meta-page,
//! root-no-etcd-bucket (sound bbolt, no etcd bucket names) and key-bucket-root-meta-page.
//! check, report and export never call any of them sound, export never reports success
//! with an empty keyspace the pages contradict, and salvage still recovers the keys. Also
//! the one-invalid-meta case: report exits 1 like check.

mod common;

use common::*;

/// The bbolt manifest entries whose keyspace the meta's root no longer reaches.
fn unreachable_keyspace_variants() -> Vec<(String, std::path::PathBuf)> {
    let out: Vec<(String, std::path::PathBuf)> = damaged_manifest()
        .into_iter()
        .filter(|v| v["component"] == "bbolt" && v["etcd_keys_unreachable"] == true)
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_string(),
                fixtures().join("damaged").join(v["file"].as_str().unwrap()),
            )
        })
        .filter(|(_, p)| p.is_file())
        .collect();
    if out.is_empty() {
        eprintln!("forged variants not derived (run fixtures/make-damaged.sh); skipped");
    }
    out
}

#[test]
fn a_forged_meta_or_a_root_without_etcd_buckets_is_damage_in_check_report_and_export() {
    let variants = unreachable_keyspace_variants();
    for (name, db) in &variants {
        let (code, out, err) = run(&["check", s(db)]);
        assert_eq!(code, 1, "{name}: check: {out}{err}");
        // report reads the keyspace: damage (1), or unreadable (2) when the root is not a
        // tree page at all; never 0.
        let (code, out, err) = run(&["report", s(db)]);
        assert!(
            code == 1 || code == 2,
            "{name}: report exit {code}: {out}{err}"
        );
        let (code, _, err) = run(&["export", s(db)]);
        assert!(code == 1 || code == 2, "{name}: export exit {code}: {err}");
        if code == 1 {
            assert!(err.contains("DAMAGE"), "{name}: {err}");
        }
    }
    // The forged root pointing at a key leaf: the walk names the page, and the layout
    // check says there is no etcd bucket and the revisions are unreachable.
    let Some((_, forged)) = variants
        .iter()
        .find(|(n, _)| n == "bbolt-forged-meta-root-key-leaf")
    else {
        return;
    };
    let (code, v) = run_json(&["check", "--json", s(forged)]);
    assert_eq!(code, 1);
    let kinds = strs(&v["findings"], "kind");
    for k in [
        "root_element_not_bucket",
        "no_etcd_bucket",
        "revisions_unreachable",
    ] {
        assert!(kinds.contains(&k), "{k} missing: {v}");
    }
    let (code, r) = run_json(&["report", "--json", s(forged)]);
    assert_eq!(code, 1);
    let problems = r["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().unwrap().contains("no_etcd_bucket")),
        "{r}"
    );
}

#[test]
fn salvage_recovers_every_key_of_a_forged_meta_db() {
    let Some((_, forged)) = unreachable_keyspace_variants()
        .into_iter()
        .find(|(n, _)| n == "bbolt-forged-meta-root-key-leaf")
    else {
        return;
    };
    let out = scratch("forged-salvage").join("salvaged.db");
    let (code, _, err) = run(&["salvage", s(&forged), "--out", s(&out)]);
    assert!(code == 0 || code == 1, "{err}");
    // Secret values are compared too, so they are not redacted.
    let (code, kvs, _, err) = export(&["--show-secrets", s(&out)]);
    assert_eq!(code, 0, "{err}");
    let truth = truth_kvs(&fixtures().join("k8s/truth/kvs.json"));
    assert_eq!(kvs.len(), truth.len(), "{err}");
    let differ: Vec<String> = truth
        .iter()
        .filter(|(k, v)| kvs.get(*k) != Some(v))
        .map(|(k, v)| {
            format!(
                "{}: truth {:?} got {:?}",
                String::from_utf8_lossy(k),
                (v.1, v.2, v.3, v.4),
                kvs.get(k).map(|g| (g.1, g.2, g.3, g.4))
            )
        })
        .take(3)
        .collect();
    assert!(differ.is_empty(), "{differ:?}");
}

#[test]
fn a_data_dir_whose_db_has_a_forged_meta_is_damage_in_check() {
    let Some((_, forged)) = unreachable_keyspace_variants()
        .into_iter()
        .find(|(n, _)| n == "bbolt-forged-meta-root-key-leaf")
    else {
        return;
    };
    let dir = scratch("forged-data-dir").join("data");
    copy_dir(&fixtures().join("k8s/data"), &dir);
    std::fs::copy(&forged, dir.join("member/snap/db")).unwrap();
    let (code, v) = run_json(&["check", "--json", s(&dir)]);
    assert_eq!(code, 1, "{v}");
    let hit = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["component"] == "db" && f["kind"] == "no_etcd_bucket");
    assert!(hit, "{v}");
}

#[test]
fn report_and_export_exit_1_like_check_when_one_meta_page_is_invalid() {
    for which in ["meta0-checksum", "meta1-checksum"] {
        let db = fixtures().join(format!("damaged/bbolt/{which}.db"));
        if !db.is_file() {
            eprintln!("{which} not derived; skipped");
            continue;
        }
        let (check, _, _) = run(&["check", s(&db)]);
        assert_eq!(check, 1, "{which}");
        let (code, r) = run_json(&["report", "--json", s(&db)]);
        assert_eq!(code, check, "{which}: report exit differs from check: {r}");
        let problems = r["problems"].as_array().unwrap();
        assert!(
            problems
                .iter()
                .any(|p| p.as_str().unwrap().contains("meta_invalid")),
            "{which}: {r}"
        );
        let (code, kvs, _, err) = export(&[s(&db)]);
        assert_eq!(code, 1, "{which}: {err}");
        assert!(err.contains("meta page"), "{which}: {err}");
        assert!(!kvs.is_empty());
    }
}
