//! The `examples/` programs run on a fixture and print what the library computes.

use std::path::Path;
use std::process::Command;

const DB: &str = "../fixtures/k8s/data/member/snap/db";

#[test]
fn count_keys_prints_every_top_level_bucket_with_its_key_count() {
    let out = run_example("count_keys", &[DB]);
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
