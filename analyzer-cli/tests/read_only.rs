//! The tool never writes to its input and says so when the member it reads is still
//! running. Uses a real etcd on ports 24500-24501.

mod common;

use common::{copy_dir, fixtures, run, s, scratch, Etcd};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Every file under `dir` with its size, modification time and contents.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.clone(),
                    (m.len(), m.modified().unwrap(), std::fs::read(&p).unwrap()),
                );
            }
        }
    }
    out
}

#[test]
fn no_command_changes_or_adds_a_file_in_the_member_it_reads() {
    let root = scratch("read-only");
    let data = root.join("k8s");
    copy_dir(&fixtures().join("k8s/data"), &data);
    let before = snapshot(&root);
    let d = s(&data);
    let commands: Vec<Vec<&str>> = vec![
        vec!["info", d],
        vec!["buckets", d],
        vec!["stats", d],
        vec!["pages", d],
        vec!["page", d, "2"],
        vec!["keys", d, "meta"],
        vec!["bbolt-get", d, "meta", "consistent_index"],
        vec!["info", "--detail", d],
        vec!["stats", "--detail", d],
        vec!["check", d],
        vec!["list-bucket", d],
        vec!["iterate-bucket", d, "key", "--limit", "3", "--decode"],
        vec!["prefixes", d],
        vec!["hash", d],
        vec!["hash", "--db", d],
        vec!["status", d],
        vec!["space", d],
        vec!["report", d],
        vec!["wal", d],
        vec!["wal", "--summary", d],
        vec!["snap", d],
        vec!["export", d],
        vec!["export", "--replay-wal", d],
        vec!["members", d],
        vec!["diff", d, d],
    ];
    for args in &commands {
        let (code, _, err) = run(args);
        assert!(code == 0 || code == 1, "{args:?} exited {code}: {err}");
    }
    assert!(
        before == snapshot(&root),
        "a command changed or added a file under {}",
        root.display()
    );
}

#[test]
fn a_member_that_is_still_running_is_named_with_its_pid() {
    let root = scratch("live-member");
    let data = root.join("live");
    let etcd = Etcd::start("live", &data, 24500, &[]);
    etcd.must(&["put", "/registry/pods/default/a", "v"]);
    let pid = etcd.pid().to_string();
    for cmd in ["report", "check", "wal"] {
        let (_, _, err) = run(&[cmd, s(&data)]);
        assert!(
            err.contains("running") && err.contains(&pid),
            "{cmd}: no live-member warning: {err}"
        );
    }
    etcd.stop_gracefully();
    let (code, _, err) = run(&["report", s(&data)]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !err.contains("running"),
        "stopped member reported as running: {err}"
    );
}
