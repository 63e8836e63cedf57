//! `prefixes --format ncdu`: ncdu's JSON export format, checked against the format's
//! structure (`[1, 0, {metadata}, [root info, entries...]]`), against `prefixes --json`'s
//! figures, and, when Debian's ncdu is installed, by ncdu itself importing it (`ncdu -f`)
//! and exporting it again (`-o`) unchanged.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

/// path -> (asize, dsize) of every file; panics where the structure is not ncdu's.
fn files(dir: &Value, path: &str, out: &mut BTreeMap<String, (u64, u64)>) {
    let d = dir.as_array().expect("a directory is an array");
    let info = d.first().expect("a directory starts with its info object");
    let name = info["name"].as_str().expect("every info object has a name");
    assert!(!name.is_empty());
    for e in &d[1..] {
        if e.is_array() {
            let sub = e[0]["name"].as_str().unwrap();
            assert!(!sub.contains('/'), "{sub}");
            files(e, &format!("{path}{sub}/"), out);
        } else {
            let n = e["name"].as_str().expect("file name");
            assert!(!n.is_empty() && !n.contains('/'), "{n:?}");
            // Both are optional in the format (0 when absent; ncdu leaves out zeros).
            let size = |f: &str| match &e[f] {
                Value::Null => 0,
                v => v.as_u64().expect("sizes are numbers"),
            };
            let (asize, dsize) = (size("asize"), size("dsize"));
            assert!(
                asize <= dsize,
                "{path}{n}: live bytes are part of the kept bytes"
            );
            assert!(out.insert(format!("{path}{n}"), (asize, dsize)).is_none());
        }
    }
}

fn export(input: &str) -> Value {
    let (code, out, err) = run(&["prefixes", "--format", "ncdu", input]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("one JSON document")
}

#[test]
fn ncdu_export_has_the_formats_structure_and_the_prefix_totals() {
    for scenario in ["k8s", "nospace", "many-snaps"] {
        let data = fixtures().join(scenario).join("data");
        if !data.exists() {
            eprintln!("note: fixture {scenario} not generated; skipped");
            continue;
        }
        let v = export(s(&data));
        let top = v.as_array().unwrap();
        assert_eq!(top.len(), 4);
        assert_eq!(top[0], 1, "major version");
        assert_eq!(top[1], 0, "minor version");
        assert_eq!(top[2]["progname"], "etcd-autopsy");
        assert!(top[2]["timestamp"].is_u64());
        assert_eq!(top[3][0]["name"], "/");
        let mut f = BTreeMap::new();
        files(&top[3], "/", &mut f);
        let (_, p) = run_json(&["prefixes", "--json", s(&data)]);
        let t = &p["totals"];
        assert_eq!(
            f.len() as u64,
            t["keys"].as_u64().unwrap(),
            "{scenario}: one file per key"
        );
        let live = f.values().filter(|(a, _)| *a > 0).count() as u64;
        assert_eq!(live, t["live_keys"].as_u64().unwrap(), "{scenario}");
        let dsize: u64 = f.values().map(|x| x.1).sum();
        assert_eq!(
            dsize,
            t["key_bytes"].as_u64().unwrap() + t["value_bytes"].as_u64().unwrap(),
            "{scenario}: disk usage is key + value bytes over every revision"
        );
        // Keys under `/` are their own paths.
        if truth(scenario).is_some() {
            let kvs = truth_kvs(&fixtures().join(scenario).join("truth/kvs.json"));
            for k in kvs.keys().filter(|k| k.starts_with(b"/")) {
                let k = String::from_utf8_lossy(k);
                if k.contains("//") || k.ends_with('/') {
                    continue;
                }
                assert!(f.contains_key(&*k), "{scenario}: {k} not a file");
            }
        }
    }
}

#[test]
fn ncdu_imports_the_export_and_writes_it_back_unchanged() {
    let ncdu = Command::new("ncdu").arg("-v").output();
    if !ncdu.is_ok_and(|o| o.status.success()) {
        eprintln!("note: ncdu not installed (apt-get install ncdu); skipped");
        return;
    }
    let data = fixtures().join("k8s/data");
    if !data.exists() {
        eprintln!("note: fixture k8s not generated; skipped");
        return;
    }
    let dir = scratch("ncdu");
    let file = dir.join("k8s.ncdu");
    let (code, out, _) = run(&["prefixes", "--format", "ncdu", s(&data)]);
    assert_eq!(code, 0);
    std::fs::write(&file, out.as_bytes()).unwrap();
    let again = dir.join("again.ncdu");
    let o = Command::new("ncdu")
        .arg("-f")
        .arg(&file)
        .arg("-o")
        .arg(&again)
        .env("TERM", "dumb")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ours: Value = serde_json::from_str(&out).unwrap();
    let theirs: Value = serde_json::from_slice(&std::fs::read(&again).unwrap()).unwrap();
    assert_eq!(theirs[2]["progname"], "ncdu");
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    files(&ours[3], "/", &mut a);
    files(&theirs[3], "/", &mut b);
    assert!(a.len() > 200);
    assert_eq!(a, b, "ncdu read every key with its sizes");
}
