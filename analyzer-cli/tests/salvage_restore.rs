//! `salvage` output restores with the real etcd and serves exactly the salvaged keys (3.4
//! with `etcdctl snapshot restore`; the 3.5.1 fixtures with 3.5.1's `etcdutl snapshot
//! restore` and etcd 3.5.1 on ports 25170-25179).
//!
//! For every fixture db (healthy scenarios, the damaged variants listed in
//! fixtures/damaged/manifest.json, and damage this test derives itself from the k8s
//! fixture): `etcd-autopsy salvage` → `etcdctl snapshot restore --skip-hash-check` → etcd
//! started on the restored dir (ports 24100-24199, temp dirs, stopped by PID) →
//! `etcdctl get "" --from-key -w json` must equal the `key` bucket of the salvaged file,
//! key for key and field for field. A healthy fixture must also equal its truth/kvs.json;
//! for a damaged one the test prints how many of the truth's keys came back.

mod common;

use bbolt_reader::Db;
use common::*;
use etcd_mvcc::KeyValueRef;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// First port of this test's range; each case takes a client and a peer port.
const PORT_BASE: u16 = 24100;
const PORT_LAST: u16 = 24199;
/// The same for the cases run with etcd 3.5.1.
const PORT_BASE_V35: u16 = 25170;
const PORT_LAST_V35: u16 = 25179;

/// Restores `db` into `dir/restored` with `release`'s tool and starts its etcd on it.
fn restore_and_start(release: Release, db: &Path, dir: &Path, client_port: u16) -> Etcd {
    let peer = format!("http://127.0.0.1:{}", client_port + 1);
    let data = dir.join("restored");
    let tool = match release {
        Release::V34 => "etcdctl",
        Release::V35 => "etcdutl",
    };
    let out = std::process::Command::new(release.tool(tool))
        .env("ETCDCTL_API", "3")
        .args([
            "snapshot",
            "restore",
            s(db),
            "--skip-hash-check",
            "--data-dir",
            s(&data),
            "--name",
            "salvaged",
            "--initial-cluster",
            &format!("salvaged={peer}"),
            "--initial-advertise-peer-urls",
            &peer,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "snapshot restore of {} failed: {}",
        db.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Etcd::start_release(release, "salvaged", &data, client_port, &[])
}

fn served_kvs(etcd: &Etcd) -> (Kvs, i64) {
    let out = etcd.must(&["get", "", "--from-key", "-w", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    (
        etcdctl_kvs(&v),
        v["header"]["revision"].as_i64().unwrap_or(0),
    )
}

/// The `key` bucket of a salvaged file, decoded.
fn salvaged_kvs(db: &Path) -> Kvs {
    let bytes = std::fs::read(db).unwrap();
    let db = Db::open(&bytes).unwrap();
    let bucket = db.bucket(b"key").unwrap().expect("key bucket");
    let mut out = BTreeMap::new();
    for item in bucket.iter() {
        let item = item.unwrap();
        let kv = KeyValueRef::parse(item.value).unwrap();
        let old = out.insert(
            kv.key.to_vec(),
            (
                kv.value.to_vec(),
                kv.create_revision,
                kv.mod_revision,
                kv.version,
                kv.lease,
            ),
        );
        assert!(old.is_none(), "one revision per user key");
    }
    out
}

/// Runs `salvage`, returning the JSON report and its exit status.
fn salvage(input: &Path, out: &Path) -> (Value, i32) {
    let o = bin()
        .arg("salvage")
        .arg(input)
        .arg("--out")
        .arg(out)
        .arg("--json")
        .output()
        .unwrap();
    let code = o.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "salvage {} exited {code}: {}",
        input.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    (serde_json::from_slice(&o.stdout).unwrap(), code)
}

struct Case {
    name: String,
    input: PathBuf,
    /// truth/kvs.json of the scenario it derives from.
    truth: Option<PathBuf>,
    /// The salvaged keys must equal the truth (a healthy fixture).
    must_equal_truth: bool,
}

/// Salvages, restores, serves and compares one case. Returns (salvaged keys, truth keys
/// that came back identical, truth keys).
fn run_case(case: &Case, port: u16) -> (usize, usize, usize) {
    let dir = scratch(&case.name.replace('/', "_"));
    let out = dir.join("salvaged.db");
    let (report, code) = salvage(&case.input, &out);
    let salvaged = salvaged_kvs(&out);
    assert_eq!(
        report["keys_recovered"].as_u64(),
        Some(salvaged.len() as u64)
    );
    assert_eq!(report["written"]["verified"], Value::Bool(true));

    let etcd = restore_and_start(Release::of_scenario(&case.name), &out, &dir, port);
    let (served, revision) = served_kvs(&etcd);
    drop(etcd);
    assert_eq!(
        served.len(),
        salvaged.len(),
        "{}: etcd serves {} keys, the salvaged db holds {}",
        case.name,
        served.len(),
        salvaged.len()
    );
    assert!(
        served == salvaged,
        "{}: etcd serves other keys or values than salvaged",
        case.name
    );
    assert_eq!(
        revision,
        report["compact_revision_out"].as_i64().unwrap(),
        "{}: the restored store keeps the newest revision",
        case.name
    );

    let (mut same, mut total) = (0, 0);
    if let Some(truth) = &case.truth {
        let truth = truth_kvs(truth);
        total = truth.len();
        same = truth
            .iter()
            .filter(|(k, v)| served.get(*k) == Some(v))
            .count();
        if case.must_equal_truth {
            assert!(
                served == truth,
                "{}: restored keys differ from truth/kvs.json",
                case.name
            );
            assert_eq!(
                code, 0,
                "{}: a sound db salvages with nothing lost",
                case.name
            );
        }
    }
    println!(
        "salvage {:<40} keys recovered {:>6}; truth keys back identical {:>6} / {:<6} exit {code}",
        case.name,
        salvaged.len(),
        same,
        total
    );
    std::fs::remove_dir_all(&dir).ok();
    (salvaged.len(), same, total)
}

/// Healthy scenario dbs: data dirs (and cluster members) and snapshot files.
fn healthy_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // The 3.4 scenarios, then the 3.5.1 ones under v3.5/ (named "v3.5/<scenario>").
    let mut dirs: Vec<(String, PathBuf)> = Vec::new();
    for (prefix, root) in [("", fixtures()), ("v3.5/", fixtures().join("v3.5"))] {
        if prefix == "v3.5/" && !Release::V35.available() {
            eprintln!("note: etcd 3.5.1 not installed; the v3.5 fixtures are skipped");
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&root) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        found.sort();
        for dir in found {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            dirs.push((format!("{prefix}{name}"), dir));
        }
    }
    for (name, dir) in dirs {
        if name == "damaged" || name == "lib" || name == "v3.5" {
            continue;
        }
        let truth = dir.join("truth/kvs.json");
        let truth = truth.is_file().then_some(truth);
        // A killed member's db may trail its truth (the WAL holds the rest).
        let exact = !name.ends_with("killed");
        if dir.join("data/member/snap/db").is_file() {
            cases.push(Case {
                name: name.clone(),
                input: dir.join("data"),
                must_equal_truth: exact && truth.is_some(),
                truth: truth.clone(),
            });
        }
        if dir.join("snapshot.db").is_file() {
            cases.push(Case {
                name: format!("{name}/snapshot.db"),
                input: dir.join("snapshot.db"),
                must_equal_truth: false,
                truth: truth.clone(),
            });
        }
        for m in ["m1", "m2", "m3"] {
            if dir.join(m).join("data/member/snap/db").is_file() {
                let t = dir.join(m).join("truth/kvs.json");
                let t = if t.is_file() { Some(t) } else { truth.clone() };
                cases.push(Case {
                    name: format!("{name}/{m}"),
                    input: dir.join(m).join("data"),
                    must_equal_truth: t.is_some(),
                    truth: t,
                });
            }
        }
    }
    cases
}

/// The bbolt variants listed in fixtures/damaged/manifest.json.
fn manifest_cases() -> Vec<Case> {
    let dir = fixtures().join("damaged");
    let Ok(text) = std::fs::read(dir.join("manifest.json")) else {
        return Vec::new();
    };
    let v: Value = serde_json::from_slice(&text).expect("manifest.json is JSON");
    let list = v
        .get("variants")
        .and_then(Value::as_array)
        .or_else(|| v.as_array())
        .cloned()
        .unwrap_or_default();
    let mut cases = Vec::new();
    for e in list {
        let Some(path) = ["path", "file", "db", "data", "data_dir"]
            .iter()
            .find_map(|f| e.get(*f).and_then(Value::as_str))
        else {
            continue;
        };
        // Only the bbolt variants; WAL and .snap damage is not salvage's business.
        let kind = ["component", "kind", "type"]
            .iter()
            .find_map(|f| e.get(*f).and_then(Value::as_str))
            .unwrap_or("");
        if !kind.is_empty() && !["bbolt", "db", "boltdb"].contains(&kind) {
            continue;
        }
        let input = dir.join(path);
        let is_db = input.join("member/snap/db").is_file()
            || input.join("snap/db").is_file()
            || input.is_file() && !path.ends_with(".wal") && !path.ends_with(".snap");
        if !is_db {
            continue;
        }
        let source = e
            .get("derived_from")
            .or_else(|| e.get("source"))
            .or_else(|| e.get("scenario"))
            .or_else(|| e.get("from"))
            .and_then(Value::as_str)
            .unwrap_or("k8s");
        let scenario = source.split('/').next().unwrap_or("k8s");
        let truth = fixtures().join(scenario).join("truth/kvs.json");
        let name = e
            .get("name")
            .or_else(|| e.get("id"))
            .and_then(Value::as_str)
            .unwrap_or(path)
            .to_string();
        cases.push(Case {
            name: format!("damaged/{name}"),
            input,
            truth: truth.is_file().then_some(truth),
            must_equal_truth: false,
        });
    }
    cases
}

/// Damage this test derives from the k8s fixture, one fault each.
fn derived_cases() -> Vec<Case> {
    let src = fixtures().join("k8s/data/member/snap/db");
    let Ok(bytes) = std::fs::read(&src) else {
        return Vec::new();
    };
    let truth = fixtures().join("k8s/truth/kvs.json");
    let db = Db::open(&bytes).unwrap();
    let ps = db.page_size();
    let key_root = db.bucket(b"key").unwrap().unwrap().root_pgid().unwrap();
    let root = db.meta().root;
    let leaf = db.bucket(b"key").unwrap().unwrap().leaf_pages().unwrap()[3].pgid();
    let dir = scratch("derived-inputs");
    let zero = |pgid: u64| {
        let mut d = bytes.clone();
        let at = pgid as usize * ps;
        d[at..at + ps].fill(0);
        d
    };
    let mut variants: Vec<(&str, Vec<u8>)> = vec![
        ("zeroed-key-leaf", zero(leaf)),
        ("zeroed-key-root", zero(key_root)),
        ("zeroed-root-page", zero(root)),
        ("both-metas-zeroed", {
            let mut d = bytes.clone();
            d[..2 * ps].fill(0);
            d
        }),
        ("truncated-half", bytes[..bytes.len() / 2].to_vec()),
    ];
    let newest = db.meta_index();
    let mut bad_meta = bytes.clone();
    bad_meta[newest * ps + 16 + 56] ^= 0xff;
    variants.push(("newest-meta-bad-checksum", bad_meta));
    variants
        .into_iter()
        .map(|(name, data)| {
            let p = dir.join(format!("{name}.db"));
            std::fs::write(&p, data).unwrap();
            Case {
                name: format!("derived/{name}"),
                input: p,
                truth: truth.is_file().then(|| truth.clone()),
                must_equal_truth: false,
            }
        })
        .collect()
}

#[test]
fn salvaged_dbs_restore_and_etcd_serves_exactly_the_salvaged_keys() {
    let mut cases = healthy_cases();
    cases.extend(manifest_cases());
    cases.extend(derived_cases());
    assert!(
        !cases.is_empty(),
        "no fixtures found under {}",
        fixtures().display()
    );
    let slots = usize::from((PORT_LAST - PORT_BASE).div_ceil(2));
    let slots_v35 = usize::from((PORT_LAST_V35 - PORT_BASE_V35).div_ceil(2));
    for (i, case) in cases.iter().enumerate() {
        let port = match Release::of_scenario(&case.name) {
            Release::V34 => PORT_BASE + 2 * (i % slots) as u16,
            Release::V35 => PORT_BASE_V35 + 2 * (i % slots_v35) as u16,
        };
        run_case(case, port);
    }
    std::fs::remove_dir_all(scratch_root()).ok();
}

#[test]
fn salvage_refuses_an_output_inside_the_input_member_dir_or_an_existing_file() {
    let data = fixtures().join("k8s/data");
    if !data.is_dir() {
        return;
    }
    let inside = data.join("member/salvaged.db");
    let o = bin()
        .args(["salvage"])
        .arg(&data)
        .arg("--out")
        .arg(&inside)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(!inside.exists(), "nothing written inside the member dir");

    let dir = scratch("refuse");
    let existing = dir.join("exists.db");
    std::fs::write(&existing, b"keep me").unwrap();
    let o = bin()
        .args(["salvage"])
        .arg(&data)
        .arg("--out")
        .arg(&existing)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");
    std::fs::remove_dir_all(&dir).ok();
}
