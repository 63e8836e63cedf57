//! `salvage` output restores with the real etcd 3.4 and serves exactly the salvaged keys.
//!
//! For every fixture db (healthy scenarios, the damaged variants listed in
//! fixtures/damaged/manifest.json, and damage this test derives itself from the k8s
//! fixture): `etcd-autopsy salvage` → `etcdctl snapshot restore --skip-hash-check` → etcd
//! started on the restored dir (ports 24100-24199, temp dirs, stopped by PID) →
//! `etcdctl get "" --from-key -w json` must equal the `key` bucket of the salvaged file,
//! key for key and field for field. A healthy fixture must also equal its truth/kvs.json;
//! for a damaged one the test prints how many of the truth's keys came back.

use base64::Engine as _;
use bbolt_reader::Db;
use etcd_autopsy::mvcc::KeyValueRef;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_etcd-autopsy");
/// First port of this test's range; each case takes a client and a peer port.
const PORT_BASE: u16 = 24100;
const PORT_LAST: u16 = 24199;

/// One key as etcd serves it: value, create_revision, mod_revision, version, lease.
type Kv = (Vec<u8>, i64, i64, i64, i64);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("etcd-autopsy-salvage-{}", std::process::id()))
        .join(name);
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An etcd process, killed by PID when dropped.
struct Etcd {
    child: Child,
    client_port: u16,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn etcdctl(args: &[&str]) -> std::process::Output {
    Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(args)
        .output()
        .expect("etcdctl (etcd 3.4) is installed")
}

/// Restores `db` into `dir/restored` and starts etcd on it.
fn restore_and_start(db: &Path, dir: &Path, client_port: u16) -> Etcd {
    let peer_port = client_port + 1;
    let peer = format!("http://127.0.0.1:{peer_port}");
    let client = format!("http://127.0.0.1:{client_port}");
    let data = dir.join("restored");
    let cluster = format!("salvaged={peer}");
    let out = etcdctl(&[
        "snapshot",
        "restore",
        db.to_str().unwrap(),
        "--skip-hash-check",
        "--data-dir",
        data.to_str().unwrap(),
        "--name",
        "salvaged",
        "--initial-cluster",
        &cluster,
        "--initial-advertise-peer-urls",
        &peer,
    ]);
    assert!(
        out.status.success(),
        "snapshot restore of {} failed: {}",
        db.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::File::create(dir.join("etcd.log")).unwrap();
    let child = Command::new("etcd")
        .args(["--name", "salvaged", "--data-dir"])
        .arg(&data)
        .args([
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
        ])
        .args([
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
        ])
        .args(["--initial-cluster", &cluster])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("etcd (3.4) is installed");
    let etcd = Etcd { child, client_port };
    // Ready when it answers a linearizable read; bounded by a deadline, not a sleep.
    let deadline = Instant::now() + Duration::from_secs(60);
    let endpoint = format!("127.0.0.1:{client_port}");
    loop {
        if TcpStream::connect(&endpoint).is_ok() {
            let o = etcdctl(&["--endpoints", &endpoint, "get", "health-probe"]);
            if o.status.success() {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "etcd on {} did not become ready; see {}",
            db.display(),
            dir.join("etcd.log").display()
        );
        std::thread::yield_now();
    }
    etcd
}

fn b64(v: &Value) -> Vec<u8> {
    v.as_str()
        .map(|s| base64::engine::general_purpose::STANDARD.decode(s).unwrap())
        .unwrap_or_default()
}

fn kvs_from_json(v: &Value) -> BTreeMap<Vec<u8>, Kv> {
    let n = |kv: &Value, f: &str| kv[f].as_i64().unwrap_or(0);
    v["kvs"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|kv| {
                    (
                        b64(&kv["key"]),
                        (
                            b64(&kv["value"]),
                            n(kv, "create_revision"),
                            n(kv, "mod_revision"),
                            n(kv, "version"),
                            n(kv, "lease"),
                        ),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn served_kvs(etcd: &Etcd) -> (BTreeMap<Vec<u8>, Kv>, i64) {
    let endpoint = format!("127.0.0.1:{}", etcd.client_port);
    let out = etcdctl(&[
        "--endpoints",
        &endpoint,
        "get",
        "",
        "--from-key",
        "-w",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        kvs_from_json(&v),
        v["header"]["revision"].as_i64().unwrap_or(0),
    )
}

/// The `key` bucket of a salvaged file, decoded.
fn salvaged_kvs(db: &Path) -> BTreeMap<Vec<u8>, Kv> {
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
    let o = Command::new(BIN)
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
    let dir = scratch(&case.name);
    let out = dir.join("salvaged.db");
    let (report, code) = salvage(&case.input, &out);
    let salvaged = salvaged_kvs(&out);
    assert_eq!(
        report["keys_recovered"].as_u64(),
        Some(salvaged.len() as u64)
    );
    assert_eq!(report["written"]["verified"], Value::Bool(true));

    let etcd = restore_and_start(&out, &dir, port);
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
        let t: Value = serde_json::from_slice(&std::fs::read(truth).unwrap()).unwrap();
        let truth = kvs_from_json(&t);
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
    let root = fixtures();
    let mut cases = Vec::new();
    let Ok(entries) = std::fs::read_dir(&root) else {
        return cases;
    };
    let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if name == "damaged" || name == "lib" {
            continue;
        }
        let truth = dir.join("truth/kvs.json");
        let truth = truth.is_file().then_some(truth);
        // A killed member's db may trail its truth (the WAL holds the rest).
        let exact = name != "killed";
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
    for (i, case) in cases.iter().enumerate() {
        let port = PORT_BASE + 2 * (i % slots) as u16;
        run_case(case, port);
    }
    std::fs::remove_dir_all(
        std::env::temp_dir().join(format!("etcd-autopsy-salvage-{}", std::process::id())),
    )
    .ok();
}

#[test]
fn salvage_refuses_an_output_inside_the_input_member_dir_or_an_existing_file() {
    let data = fixtures().join("k8s/data");
    if !data.is_dir() {
        return;
    }
    let inside = data.join("member/salvaged.db");
    let o = Command::new(BIN)
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
    let o = Command::new(BIN)
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
