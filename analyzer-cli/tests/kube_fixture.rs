//! The `kube` fixture (values encoded as kube-apiserver stores them, fixtures/kube-gen)
//! against what the tool can read today: `prefixes` at depth 3 equals the per-key truth of
//! fixtures/kube/truth-k8s.json summed per resource prefix, `export` equals the live
//! member's keys, `check` finds nothing. The Kubernetes lens (issue 10) is checked against
//! the same truth by its own tests.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;

/// The committed fixture: (data dir, truth-k8s.json).
fn kube() -> (std::path::PathBuf, Value) {
    let d = fixtures().join("kube");
    (d.join("data"), read_json(&d.join("truth-k8s.json")))
}

/// The key up to and including its 3rd '/' (as `prefixes --depth 3` groups it).
fn depth3(key: &str) -> String {
    match key.match_indices('/').nth(2) {
        Some((i, _)) => key[..=i].to_string(),
        None => key[..=key.rfind('/').unwrap()].to_string(),
    }
}

#[derive(Default, Debug, PartialEq)]
struct Sums {
    live_keys: u64,
    revisions: u64,
    live_value_bytes: u64,
    value_bytes: u64,
}

#[test]
fn prefixes_at_depth_3_equal_truth_k8s_objects_revisions_and_bytes_per_resource_prefix() {
    let (data, truth) = kube();
    let mut want: BTreeMap<String, Sums> = BTreeMap::new();
    for k in truth["keys"].as_array().unwrap() {
        let u = |f: &str| k[f].as_u64().unwrap();
        let s = want.entry(depth3(k["key"].as_str().unwrap())).or_default();
        s.live_keys += k["live"].as_bool().unwrap() as u64;
        s.revisions += u("revisions");
        s.live_value_bytes += u("live_bytes");
        s.value_bytes += u("live_bytes") + u("history_bytes");
    }
    let (code, v) = run_json(&["prefixes", s(&data), "--depth", "3", "--json"]);
    assert_eq!(code, 0, "{v}");
    let got: BTreeMap<String, Sums> = v["prefixes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["prefix"].as_str().unwrap().starts_with("/registry/"))
        .map(|p| {
            let u = |f: &str| p[f].as_u64().unwrap();
            let sums = Sums {
                live_keys: u("live_keys"),
                revisions: u("revisions"),
                live_value_bytes: u("live_value_bytes"),
                value_bytes: u("value_bytes"),
            };
            (p["prefix"].as_str().unwrap().to_string(), sums)
        })
        .collect();
    assert_eq!(got, want);
    // The CRD groups share one depth-3 prefix; both encodings are in it.
    assert!(want.contains_key("/registry/example.com/"));
    assert_eq!(v["compact_revision"], truth["compact_revision"]);
}

#[test]
fn truth_k8s_group_figures_are_the_sums_of_its_per_key_rows() {
    let (_, truth) = kube();
    let fields = [
        "objects",
        "revisions",
        "live_bytes",
        "history_bytes",
        "managed_fields_bytes",
        "last_applied_bytes",
        "other_annotations_bytes",
        "encrypted",
    ];
    for by in ["resource", "namespace", "kind", "owner"] {
        for f in fields {
            let sum: u64 = truth["by"][by]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g[f].as_u64().unwrap())
                .sum();
            assert_eq!(sum, truth["totals"][f].as_u64().unwrap(), "by {by}: {f}");
        }
    }
    let live = truth["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["live"] == true)
        .count() as u64;
    assert_eq!(truth["totals"]["objects"].as_u64().unwrap(), live);
}

#[test]
fn export_of_the_kube_fixture_equals_the_live_members_keys() {
    let (data, _) = kube();
    let want = truth_kvs(&fixtures().join("kube/truth/kvs.json"));
    let (code, got, _, _) = export(&[s(&data), "--show-secrets"]);
    assert_eq!(code, 0);
    assert_eq!(got.len(), want.len());
    let diff = got
        .keys()
        .chain(want.keys())
        .find(|k| got.get(*k) != want.get(*k));
    assert_eq!(diff.map(|k| String::from_utf8_lossy(k).into_owned()), None);
}

#[test]
fn check_of_the_kube_fixture_is_clean() {
    let (data, _) = kube();
    let (code, v) = run_json(&["check", s(&data), "--json"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["ok"], true);
    assert!(v["findings"].as_array().unwrap().is_empty(), "{v}");
}

#[test]
fn truth_k8s_per_key_figures_equal_an_independent_reading_of_the_stored_values() {
    // fixtures/lib/kube_check.py decodes every live value of truth/kvs.json with its own
    // protobuf, JSON and CBOR walkers and compares encoding, kind, names and byte figures
    // with truth-k8s.json (no code shared with the generator or with this crate).
    let script = fixtures().join("lib/kube_check.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg("values")
        .arg(fixtures().join("kube"))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("340 live values"));
}
