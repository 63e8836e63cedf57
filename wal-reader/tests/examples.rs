//! The `examples/` programs run on a fixture and print what the library computes.

use std::path::Path;
use std::process::Command;

#[test]
fn entries_prints_every_entry_of_the_wal_up_to_the_last_raft_index() {
    let out = run_example("entries", &["../fixtures/k8s/data"]);
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("../fixtures/k8s/truth.json").unwrap())
            .unwrap();
    let wal = wal_reader::WalDir::open_data_dir("../fixtures/k8s/data").unwrap();
    let scan = wal.scan(wal_reader::ScanOptions::default());
    assert_eq!(out.lines().count(), scan.entries.len());
    let last: Vec<&str> = out.lines().last().unwrap().split('\t').collect();
    assert_eq!(last[1], truth["raft_index"].to_string(), "{out}");
    assert!(out.lines().any(|l| l.ends_with("\tput")), "{out}");
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
