//! Helpers shared by the recovery tests: fixture paths, running the binary, reading
//! etcdctl's and `export`'s JSON into one comparable form.
#![allow(dead_code)]

use base64::Engine as _;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_etcd-autopsy");

/// One key as etcd serves it: value, create_revision, mod_revision, version, lease.
pub type Kv = (Vec<u8>, i64, i64, i64, i64);

/// Keys in order.
pub type Kvs = BTreeMap<Vec<u8>, Kv>;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs the binary: (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN).args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs the binary and parses stdout as one JSON document.
pub fn run_json(args: &[&str]) -> (i32, Value) {
    let (code, out, err) = run(args);
    let v = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}\nstderr: {err}"));
    (code, v)
}

pub fn b64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap_or(""))
        .unwrap()
}

/// `{"text"}` / `{"base64"}` to bytes.
pub fn bytes(b: &Value) -> Vec<u8> {
    match (b.get("text"), b.get("base64")) {
        (Some(t), _) => t.as_str().unwrap().as_bytes().to_vec(),
        (_, Some(x)) => b64(x),
        _ => Vec::new(),
    }
}

/// `etcdctl get "" --from-key -w json` output.
pub fn etcdctl_kvs(v: &Value) -> Kvs {
    v["kvs"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or(&[])
        .iter()
        .map(|kv| {
            let i = |f: &str| kv[f].as_i64().unwrap_or(0);
            (
                b64(&kv["key"]),
                (
                    b64(&kv["value"]),
                    i("create_revision"),
                    i("mod_revision"),
                    i("version"),
                    i("lease"),
                ),
            )
        })
        .collect()
}

/// A fixture's truth/kvs.json.
pub fn truth_kvs(path: &Path) -> Kvs {
    etcdctl_kvs(&serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap())
}

/// What `export --json <args>` printed: (exit code, keys, raw lines, stderr).
pub fn export(args: &[&str]) -> (i32, Kvs, Vec<Value>, String) {
    let mut all = vec!["export", "--json"];
    all.extend_from_slice(args);
    let (code, out, err) = run(&all);
    assert!(code == 0 || code == 1, "{args:?}: {err}");
    let mut m = BTreeMap::new();
    let mut lines = Vec::new();
    for line in out.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let i = |f: &str| v[f].as_i64().unwrap();
        m.insert(
            bytes(&v["key"]),
            (
                bytes(&v["value"]),
                i("create_revision"),
                i("mod_revision"),
                i("version"),
                i("lease"),
            ),
        );
        lines.push(v);
    }
    (code, m, lines, err)
}

/// An empty temp dir for one test case.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir()
        .join(format!("etcd-autopsy-recovery-{}", std::process::id()))
        .join(name);
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `cp -a src dst` (dst must not exist yet; its parent is created).
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::remove_dir_all(dst).ok();
    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
    let st = Command::new("cp")
        .arg("-a")
        .arg(src)
        .arg(dst)
        .status()
        .unwrap();
    assert!(st.success());
}
