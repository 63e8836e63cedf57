//! The space predictions against what real etcd 3.4 does: a copy of a fixture's data dir is
//! started with etcd (127.0.0.1, ports 24400-24499, a temp dir, stopped by PID),
//! defragmented, compacted at its newest revision and defragmented again; its dbSize must match `space`'s
//! `compaction.predicted_size_after` within 5% (and `predicted_defrag_size` for defrag
//! alone). Skipped when no etcd binary is installed.

use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PORT_BASE: u16 = 24400;
const PORT_LAST: u16 = 24499;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(bin))
            .find(|f| f.is_file())
    })
}

fn free_port_pair() -> (u16, u16) {
    let mut p = PORT_BASE + (std::process::id() % 40) as u16 * 2;
    loop {
        if TcpListener::bind(("127.0.0.1", p)).is_ok()
            && TcpListener::bind(("127.0.0.1", p + 1)).is_ok()
        {
            return (p, p + 1);
        }
        p += 2;
        if p + 1 > PORT_LAST {
            p = PORT_BASE;
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

struct Etcd {
    child: Child,
    endpoint: String,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ctl(endpoint: &str, args: &[&str]) -> String {
    let out = Command::new("etcdctl")
        .arg("--endpoints")
        .arg(endpoint)
        .args(args)
        .env("ETCDCTL_API", "3")
        .output()
        .expect("etcdctl runs");
    assert!(
        out.status.success(),
        "etcdctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn start(data: &Path, name: &str) -> Etcd {
    let (c, p) = free_port_pair();
    let client = format!("http://127.0.0.1:{c}");
    let peer = format!("http://127.0.0.1:{p}");
    let child = Command::new("etcd")
        .arg("--data-dir")
        .arg(data)
        .args(["--name", name])
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
        .args(["--initial-cluster", &format!("{name}={peer}")])
        .args(["--quota-backend-bytes", "8589934592"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("etcd starts");
    let e = Etcd {
        child,
        endpoint: client,
    };
    let t = Instant::now();
    loop {
        let ok = Command::new("etcdctl")
            .args(["--endpoints", &e.endpoint, "endpoint", "health"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return e;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "etcd did not become healthy"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn db_size(endpoint: &str) -> u64 {
    let v: Value =
        serde_json::from_str(&ctl(endpoint, &["endpoint", "status", "-w", "json"])).unwrap();
    v[0]["Status"]["dbSize"].as_u64().unwrap()
}

fn check(scenario: &str) {
    let src = fixtures().join(scenario).join("data");
    if !src.is_dir() {
        eprintln!("note: fixture {scenario} not generated; skipped");
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_etcd-autopsy"))
        .args(["space", "--json"])
        .arg(&src)
        .output()
        .unwrap();
    let sp: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rev = sp["compaction"]["revision"].as_i64().unwrap();
    let report: Value = serde_json::from_slice(
        &Command::new(env!("CARGO_BIN_EXE_etcd-autopsy"))
            .args(["report", "--json"])
            .arg(&src)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let name = report["members"][0]["name"]
        .as_str()
        .unwrap_or("default")
        .to_string();

    let tmp = std::env::temp_dir().join(format!("nospace-etcd-{scenario}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    copy_dir(&src, &tmp.join("data"));
    let etcd = start(&tmp.join("data"), &name);
    ctl(&etcd.endpoint, &["defrag"]);
    let after_defrag = db_size(&etcd.endpoint);
    // --physical waits until the compaction has deleted the revisions; a defrag that runs
    // while it is still going copies what is not yet deleted.
    ctl(&etcd.endpoint, &["compact", "--physical", &rev.to_string()]);
    ctl(&etcd.endpoint, &["defrag"]);
    let after_compaction = db_size(&etcd.endpoint);
    drop(etcd);
    let _ = std::fs::remove_dir_all(&tmp);

    let close = |pred: u64, real: u64| (pred as f64 - real as f64).abs() / real as f64 <= 0.05;
    let pd = sp["predicted_defrag_size"].as_u64().unwrap();
    let pc = sp["compaction"]["predicted_size_after"].as_u64().unwrap();
    assert!(
        close(pd, after_defrag),
        "{scenario}: defrag predicted {pd}, etcd made {after_defrag}"
    );
    assert!(
        close(pc, after_compaction),
        "{scenario}: compaction at {rev} + defrag predicted {pc}, etcd made {after_compaction}"
    );
}

#[test]
fn defrag_and_compaction_predictions_match_real_etcd() {
    if which("etcd").is_none() || which("etcdctl").is_none() {
        eprintln!("note: etcd not installed; skipped");
        return;
    }
    for s in ["k8s", "nospace", "many-snaps"] {
        check(s);
    }
}
