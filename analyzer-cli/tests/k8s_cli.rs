//! The Kubernetes lens (`k8s`, `get`, `history`, `churn`, report's section) run as a user
//! runs it, on the committed fixtures made by real etcd 3.4; and, when the `kube` fixture
//! (values written as kube-apiserver writes them) is present, compared with its generator's
//! truth (`fixtures/kube/truth-k8s.json`) figure by figure.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;

fn k8s_data() -> String {
    fixtures().join("k8s/data").display().to_string()
}

fn by_name<'a>(list: &'a Value, field: &str) -> BTreeMap<String, &'a Value> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| (v[field].as_str().unwrap().to_string(), v))
        .collect()
}

#[test]
fn live_objects_and_revisions_per_resource_equal_prefixes_at_depth_3() {
    let data = k8s_data();
    let (code, k) = run_json(&["k8s", &data, "--by", "resource", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(k["schema"], "etcd-autopsy/k8s/v1");
    let (_, p) = run_json(&["prefixes", &data, "--depth", "3", "--json"]);
    let prefixes = by_name(&p["prefixes"], "prefix");
    let groups = by_name(&k["groups"], "group");
    // A resource stored under its group name (`<group>/<plural>`) sits under prefix
    // /registry/<group>/ at depth 3; sum the groups per prefix.
    let mut per_prefix: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (g, v) in &groups {
        let first = g.split('/').next().unwrap();
        let e = per_prefix.entry(format!("/registry/{first}/")).or_default();
        e.0 += v["objects"].as_u64().unwrap();
        e.1 += v["revisions"].as_u64().unwrap();
    }
    assert!(!per_prefix.is_empty());
    for (prefix, (objects, revisions)) in &per_prefix {
        let p = prefixes[prefix];
        assert_eq!(*objects, p["live_keys"].as_u64().unwrap(), "{prefix}");
        assert_eq!(*revisions, p["revisions"].as_u64().unwrap(), "{prefix}");
    }
    let registry: u64 = prefixes
        .iter()
        .filter(|(p, _)| p.starts_with("/registry/"))
        .map(|(_, v)| v["live_keys"].as_u64().unwrap())
        .sum();
    assert_eq!(k["totals"]["objects"].as_u64().unwrap(), registry);
}

#[test]
fn every_grouping_sums_to_the_same_totals() {
    let data = k8s_data();
    let mut totals = Vec::new();
    for by in ["resource", "namespace", "kind", "owner"] {
        let (_, k) = run_json(&["k8s", &data, "--by", by, "--json"]);
        assert_eq!(k["by"], by);
        let sum = |f: &str| -> u64 {
            k["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g[f].as_u64().unwrap())
                .sum()
        };
        for f in [
            "objects",
            "revisions",
            "live_bytes",
            "history_bytes",
            "managed_fields_bytes",
        ] {
            assert_eq!(sum(f), k["totals"][f].as_u64().unwrap(), "{by} {f}");
        }
        totals.push(k["totals"].clone());
    }
    assert!(totals.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn get_decodes_the_newest_revision_and_hides_secret_bodies() {
    let data = k8s_data();
    let (code, k) = run_json(&[
        "k8s",
        &data,
        "--prefix",
        "/registry/pods/",
        "--json",
        "--top",
        "1",
    ]);
    assert_eq!(code, 0);
    let key = k["largest"][0]["key"].as_str().unwrap().to_string();
    let (code, o) = run_json(&["get", &data, &key, "-o", "json"]);
    assert_eq!(code, 0);
    assert_eq!(o["schema"], "etcd-autopsy/k8s-get/v1");
    assert_eq!(o["kind"], "Pod");
    assert_eq!(o["encoding"], "protobuf");
    assert_eq!(o["metadata"]["name"], k["largest"][0]["name"]);
    assert_eq!(o["bytes"], k["largest"][0]["bytes"]);
    assert_eq!(o["fields"][0]["field"], 1);
    // Raw output is the stored value: its length is the object's size.
    let raw = bin()
        .args(["get", &data, &key, "-o", "raw"])
        .output()
        .unwrap();
    assert!(raw.status.success());
    assert_eq!(raw.stdout.len() as u64, o["bytes"].as_u64().unwrap());
    assert!(raw.stdout.starts_with(b"k8s\0"));

    let (_, s) = run_json(&[
        "k8s",
        &data,
        "--prefix",
        "/registry/secrets/",
        "--json",
        "--top",
        "1",
    ]);
    let secret = s["largest"][0]["key"].as_str().unwrap().to_string();
    let (_, hidden) = run_json(&["get", &data, &secret]);
    assert!(hidden["redacted"].is_string());
    assert!(hidden.get("fields").is_none());
    let (code, _, err) = run(&["get", &data, &secret, "-o", "raw"]);
    assert_ne!(code, 0);
    assert!(err.contains("--show-secrets"));
    let (_, shown) = run_json(&["get", &data, &secret, "--show-secrets"]);
    assert!(shown["fields"].is_array());
    let (code, _, _) = run(&["get", &data, "/registry/pods/nowhere/none"]);
    assert_eq!(code, 2);
}

#[test]
fn history_lists_every_kept_revision_oldest_first() {
    let data = k8s_data();
    let (_, k) = run_json(&["k8s", &data, "--json", "--top", "1"]);
    let top = &k["most_revisions"][0];
    let key = top["key"].as_str().unwrap();
    let (code, h) = run_json(&["history", &data, key, "--json"]);
    assert_eq!(code, 0);
    assert_eq!(h["schema"], "etcd-autopsy/k8s-history/v1");
    let revs = h["revisions"].as_array().unwrap();
    assert_eq!(revs.len() as u64, top["revisions"].as_u64().unwrap());
    assert!(revs
        .windows(2)
        .all(|w| w[0]["mod_revision"].as_i64() < w[1]["mod_revision"].as_i64()));
    let bytes: u64 = revs.iter().map(|r| r["bytes"].as_u64().unwrap()).sum();
    assert_eq!(
        bytes,
        top["bytes"].as_u64().unwrap() + top["history_bytes"].as_u64().unwrap()
    );
}

#[test]
fn churn_over_the_whole_file_counts_every_kept_revision() {
    let data = k8s_data();
    let (code, c) = run_json(&["churn", &data, "--from-rev", "1", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(c["schema"], "etcd-autopsy/k8s-churn/v1");
    let (_, p) = run_json(&["prefixes", &data, "--depth", "1", "--json"]);
    assert_eq!(c["revisions"], p["totals"]["revisions"]);
    assert_eq!(c["bytes"], p["totals"]["value_bytes"]);
    let (_, later) = run_json(&[
        "churn",
        &data,
        "--from-rev",
        "500",
        "--to-rev",
        "520",
        "--json",
    ]);
    let n = later["revisions"].as_u64().unwrap();
    assert!(n > 0 && n < c["revisions"].as_u64().unwrap());
}

#[test]
fn report_has_a_kubernetes_section() {
    let (_, r) = run_json(&["report", &k8s_data(), "--json"]);
    let k = &r["kubernetes"];
    assert!(k["objects"].as_u64().unwrap() > 0);
    assert!(!k["top_kinds"].as_array().unwrap().is_empty());
    let (_, text, _) = run(&["report", &k8s_data()]);
    assert!(text.contains("top kinds:"));
}

/// The `kube` fixture (values as kube-apiserver writes them) and its generator's truth.
fn kube() -> Option<(String, Value)> {
    let dir = fixtures().join("kube");
    let t = std::fs::read(dir.join("truth-k8s.json")).ok()?;
    Some((
        dir.join("data").display().to_string(),
        serde_json::from_slice(&t).unwrap(),
    ))
}

/// Every field the truth gives for `t` equals the same field of `mine`.
fn same_fields(what: &str, mine: &Value, t: &Value) {
    for (f, v) in t.as_object().unwrap() {
        assert_eq!(&mine[f], v, "{what}: field {f}");
    }
}

#[test]
fn kube_fixture_groups_totals_and_lists_equal_the_truth() {
    let Some((data, t)) = kube() else {
        eprintln!("no fixtures/kube; skipped");
        return;
    };
    for by in ["resource", "namespace", "kind", "owner"] {
        let (code, k) = run_json(&["k8s", &data, "--by", by, "--json"]);
        assert_eq!(code, 0);
        let mine = by_name(&k["groups"], "group");
        let truth = t["by"][by].as_array().unwrap();
        assert_eq!(mine.len(), truth.len(), "{by}: groups");
        for g in truth {
            let name = g["group"].as_str().unwrap();
            let m = mine
                .get(name)
                .unwrap_or_else(|| panic!("{by} {name} missing"));
            same_fields(&format!("{by} {name}"), m, g);
        }
        let mut totals = k["totals"].clone();
        totals["group"] = t["totals"]["group"].clone();
        same_fields("totals", &totals, &t["totals"]);
    }
    let (_, k) = run_json(&["k8s", &data, "--json", "--top", "100000"]);
    for list in ["largest", "most_revisions"] {
        let truth = t[list].as_array().unwrap();
        for (i, row) in truth.iter().enumerate() {
            same_fields(&format!("{list}[{i}]"), &k[list][i], row);
        }
    }
    assert_eq!(k["encodings"], t["live_objects_by_encoding"]);
    // Per key: every key's figures, from the most-revisions list (it holds every key).
    let all = by_name(&k["most_revisions"], "key");
    for key in t["keys"].as_array().unwrap() {
        let name = key["key"].as_str().unwrap();
        let m = all.get(name).unwrap_or_else(|| panic!("{name} missing"));
        for (f, mine) in [
            ("kind", "kind"),
            ("namespace", "namespace"),
            ("name", "name"),
            ("revisions", "revisions"),
            ("live_bytes", "bytes"),
            ("history_bytes", "history_bytes"),
            ("live", "live"),
            ("encoding", "encoding"),
        ] {
            assert_eq!(m[mine], key[f], "{name}: {f}");
        }
    }
}

#[test]
fn kube_fixture_findings_and_event_groups_equal_the_truth() {
    let Some((data, t)) = kube() else {
        return;
    };
    let (_, k) = run_json(&["k8s", &data, "--json"]);
    let truth = t["findings"].as_array().unwrap();
    assert_eq!(k["findings"].as_array().unwrap().len(), truth.len());
    for (i, f) in truth.iter().enumerate() {
        same_fields(&format!("finding {i} {}", f["kind"]), &k["findings"][i], f);
    }
    for kind in [
        "stuck_deletion",
        "orphan_owner",
        "stale_lease",
        "mixed_encryption",
    ] {
        assert!(
            truth.iter().any(|f| f["kind"] == kind),
            "the fixture has no {kind}"
        );
    }
    let key = |g: &Value| {
        ["namespace", "kind", "name", "reason"].map(|f| g[f].as_str().unwrap().to_string())
    };
    let mine: BTreeMap<[String; 4], &Value> = k["event_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (key(g), g))
        .collect();
    let groups = t["event_groups"].as_array().unwrap();
    assert_eq!(mine.len(), groups.len());
    for g in groups {
        assert_eq!(mine[&key(g)], g);
    }
}

#[test]
fn kube_fixture_churn_and_history_equal_the_truth() {
    let Some((data, t)) = kube() else {
        return;
    };
    for c in t["churn"].as_array().unwrap() {
        let (from, to) = (c["from_rev"].to_string(), c["to_rev"].to_string());
        let (code, m) = run_json(&[
            "churn",
            &data,
            "--from-rev",
            &from,
            "--to-rev",
            &to,
            "--json",
        ]);
        assert_eq!(code, 0);
        assert_eq!(
            (&m["revisions"], &m["bytes"]),
            (&c["revisions"], &c["bytes"])
        );
        for (list, field) in [
            ("by_key", "key"),
            ("by_resource", "resource"),
            ("by_kind", "kind"),
        ] {
            assert_eq!(
                by_name(&m[list], field),
                by_name(&c[list], field),
                "churn {from}..{to} {list}"
            );
        }
    }
    for h in t["history"].as_array().unwrap() {
        let key = h["key"].as_str().unwrap();
        let (code, m) = run_json(&["history", &data, key, "--json"]);
        assert_eq!(code, 0);
        let truth = h["revisions"].as_array().unwrap();
        assert_eq!(
            m["revisions"].as_array().unwrap().len(),
            truth.len(),
            "{key}"
        );
        for (i, r) in truth.iter().enumerate() {
            same_fields(&format!("{key} [{i}]"), &m["revisions"][i], r);
        }
    }
}

#[test]
fn kube_fixture_get_decodes_every_live_object_as_the_truth_says() {
    let Some((data, t)) = kube() else {
        return;
    };
    let mut secrets = 0;
    for key in t["keys"].as_array().unwrap() {
        if key["live"] != true {
            continue;
        }
        let name = key["key"].as_str().unwrap();
        let (code, o) = run_json(&["get", &data, name, "--show-secrets"]);
        assert_eq!(code, 0, "{name}");
        assert_eq!(o["encoding"], key["encoding"], "{name}");
        assert_eq!(o["bytes"], key["live_bytes"], "{name}");
        assert_eq!(o["mod_revision"], key["mod_revision"], "{name}");
        match key["encoding"].as_str().unwrap() {
            "encrypted" => {
                let e = &key["encryption"];
                assert_eq!(o["encryption"]["provider"], e["provider"], "{name}");
                assert_eq!(o["encryption"]["key"], e["key"], "{name}");
            }
            "unknown" => {}
            _ => {
                assert_eq!(o["kind"], key["kind"], "{name}");
                assert_eq!(o["apiVersion"], key["api_version"], "{name}");
                assert_eq!(o["metadata"]["name"], key["name"], "{name}");
                assert_eq!(o["metadata"]["namespace"], key["namespace"], "{name}");
            }
        }
        if name.starts_with("/registry/secrets/") {
            secrets += 1;
            let (_, hidden) = run_json(&["get", &data, name]);
            assert!(hidden["redacted"].is_string(), "{name}");
            assert!(hidden.get("fields").is_none() && hidden.get("object").is_none());
        }
    }
    assert!(secrets > 0);
}
