//! The `examples/` programs run on fixtures and print what etcd itself reported when the
//! fixtures were made (their truth files).

use std::path::Path;
use std::process::Command;

fn truth(fixture: &str) -> serde_json::Value {
    let path = format!("../fixtures/{fixture}/truth.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn hash_and_prefixes_prints_etcds_hashkv_and_the_registry_prefixes() {
    let out = run_example("hash_and_prefixes", &["../fixtures/k8s/data"]);
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
    let out = run_example("export_keyspace", &["../fixtures/killed/data"]);
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

/// Runs the example program `name` from the crate's directory and returns its stdout.
/// `cargo test` builds the examples before it runs the tests (a run limited to this file
/// needs `cargo build --examples` first); a missing or stale build is an error that says so.
fn run_example(name: &str, args: &[&str]) -> String {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = bin
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}.rs"));
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    assert!(
        modified(&bin) >= modified(&src),
        "{} is missing or older than {}: run `cargo test` (it builds the examples) or `cargo build --examples`",
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
