//! The library crates' `examples/` programs (bbolt-reader, wal-reader, etcd-mvcc) run on
//! fixtures and print what the libraries compute, or what etcd itself reported when the
//! fixtures were made (their truth files). One file for the three crates, since the
//! examples of a workspace are built into one directory: `cargo test --workspace` builds
//! them before it runs this; a narrower run needs `cargo build --workspace --examples`
//! first (a missing or stale example is an error that says so).

use std::path::Path;
use std::process::Command;

const DB: &str = "../fixtures/k8s/data/member/snap/db";

#[test]
fn count_keys_prints_every_top_level_bucket_with_its_key_count() {
    let out = run_example("bbolt-reader", "count_keys", &[DB]);
    let file = bbolt_reader::MappedFile::open(DB).unwrap();
    let db = file.db().unwrap();
    let mut want = String::new();
    for item in db.root().iter() {
        let item = item.unwrap();
        let name = std::str::from_utf8(item.key).unwrap();
        let keys = db.bucket(item.key).unwrap().unwrap().iter().count();
        want += &format!("{name}\t{keys}\n");
    }
    assert_eq!(out, want);
    assert!(out.contains("\nkey\t") && out.contains("\nmeta\t"), "{out}");
}

#[test]
fn entries_prints_every_entry_of_the_wal_up_to_the_last_raft_index() {
    let out = run_example("wal-reader", "entries", &["../fixtures/k8s/data"]);
    let wal = wal_reader::WalDir::open_data_dir("../fixtures/k8s/data").unwrap();
    let scan = wal.scan(wal_reader::ScanOptions::default());
    assert_eq!(out.lines().count(), scan.entries.len());
    let last: Vec<&str> = out.lines().last().unwrap().split('\t').collect();
    assert_eq!(last[1], truth("k8s")["raft_index"].to_string(), "{out}");
    assert!(out.lines().any(|l| l.ends_with("\tput")), "{out}");
}

fn truth(fixture: &str) -> serde_json::Value {
    let path = format!("../fixtures/{fixture}/truth.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn hash_and_prefixes_prints_etcds_hashkv_and_the_registry_prefixes() {
    let out = run_example("etcd-mvcc", "hash_and_prefixes", &["../fixtures/k8s/data"]);
    let t = truth("k8s");
    let first = out.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            "hashkv {} at revision {}",
            t["hashkv_hash"], t["hashkv_revision"]
        )
    );
    assert!(
        out.lines().any(|l| l.starts_with("/registry/pods/\t")),
        "{out}"
    );
}

#[test]
fn export_keyspace_replays_the_acked_writes_of_a_killed_member() {
    let out = run_example("etcd-mvcc", "export_keyspace", &["../fixtures/killed/data"]);
    let t = truth("killed");
    let revision: i64 = out.lines().next().unwrap()["revision ".len()..]
        .parse()
        .unwrap();
    assert!(
        revision >= t["last_acked_revision"].as_i64().unwrap(),
        "{out}"
    );
    let key = t["last_acked_key"].as_str().unwrap();
    assert!(
        out.lines().any(|l| l.starts_with(&format!("{key}\t"))),
        "{out}"
    );
}

/// Runs the example program `name` of crate `krate` from this crate's directory and
/// returns its stdout.
fn run_example(krate: &str, name: &str, args: &[&str]) -> String {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = bin
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../{krate}/examples/{name}.rs"));
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    assert!(
        modified(&bin) >= modified(&src),
        "{} is missing or older than {}: run `cargo build --workspace --examples`",
        bin.display(),
        src.display()
    );
    let out = Command::new(&bin)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
