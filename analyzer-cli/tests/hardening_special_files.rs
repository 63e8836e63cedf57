//! Hardening, fault class "an input path is not a regular file": a data dir whose db, WAL
//! segment or newest `.snap` is a directory, a FIFO, a link to /dev/zero or a link to
//! itself (fixtures/damage_special.py). Every command finishes (none blocks on a FIFO),
//! `check` reports damage naming the path, and etcd 3.4 booted on a copy refuses the
//! variants the manifest says it refuses. Ports 25400-25419.

mod common;

use common::*;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The `special` entries of fixtures/damaged/manifest.json (empty when not derived).
fn variants() -> Vec<Value> {
    let list: Vec<Value> = damaged_manifest()
        .into_iter()
        .filter(|e| e["component"] == "special")
        .collect();
    let derived = list.iter().all(|e| {
        fixtures()
            .join("damaged")
            .join(e["dir"].as_str().unwrap())
            .is_dir()
    });
    if !derived {
        eprintln!("special variants not derived (run fixtures/make-damaged.sh); skipped");
        return Vec::new();
    }
    list
}

/// Runs the binary under coreutils `timeout` (a hang shows as exit 124, not as a test that
/// never ends): (exit code, stdout, stderr).
fn run_bounded(args: &[&str]) -> (i32, String, String) {
    let o = Command::new("timeout")
        .args(["-s", "KILL", "120", BIN])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn a_db_wal_segment_or_snap_that_is_not_a_regular_file_is_damage_in_check() {
    for v in variants() {
        let dir = fixtures().join("damaged").join(v["dir"].as_str().unwrap());
        let want = &v["expected_finding"];
        let (code, out, err) = run_bounded(&["check", "--json", s(&dir)]);
        assert_eq!(code, 1, "{}: check exit {code}: {out}{err}", v["name"]);
        let r: Value = serde_json::from_str(&out).unwrap();
        let path = v["path"].as_str().unwrap();
        let file = path.rsplit('/').next().unwrap();
        let hit = r["findings"].as_array().unwrap().iter().any(|f| {
            f["component"] == want["component"]
                && f["kind"] == want["kind"]
                && f["severity"] == "damage"
                && f["file"].as_str().is_some_and(|x| x.ends_with(file))
        });
        assert!(hit, "{}: no {want} naming {file}: {out}", v["name"]);
        // Never the old "etcd rebuilds the keyspace from the WAL" for a db etcd cannot open.
        assert!(
            !out.contains("db_missing_rebuildable"),
            "{}: {out}",
            v["name"]
        );
    }
}

#[test]
fn no_command_blocks_or_passes_on_a_file_that_is_not_regular() {
    for v in variants() {
        let dir = fixtures().join("damaged").join(v["dir"].as_str().unwrap());
        let d = s(&dir);
        let db_commands: &[&[&str]] = &[
            &["info", d],
            &["report", d],
            &["report", "--json", d],
            &["prefixes", d],
            &["space", d],
            &["hash", d],
            &["status", d],
            &["export", d],
            &["buckets", d],
            &["list-bucket", d],
        ];
        let member_commands: &[&[&str]] = &[
            &["check", d],
            &["wal", "--summary", d],
            &["wal", "--json", d],
            &["snap", "--json", d],
            &["members", d],
        ];
        let component = v["expected_finding"]["component"].as_str().unwrap();
        for args in db_commands.iter().chain(member_commands) {
            let (code, out, err) = run_bounded(args);
            assert_ne!(code, 124, "{}: {args:?} hung", v["name"]);
            assert!(
                (0..=2).contains(&code),
                "{}: {args:?} exit {code}: {err}",
                v["name"]
            );
            // Commands that read the broken file must not say all is well.
            let reads_it = match component {
                "db" => db_commands.contains(args) || args[0] == "check" || args[0] == "members",
                "wal" => args[0] == "wal" || args[0] == "check",
                _ => args[0] == "snap" || args[0] == "check",
            };
            if reads_it {
                assert_ne!(code, 0, "{}: {args:?} exit 0: {out}", v["name"]);
            }
        }
    }
}

/// Boots etcd 3.4 on a copy and waits (bounded) for it to exit; returns (exited with
/// an error, its log).
fn etcd_exits_with_error(data: &std::path::Path, port: u16) -> (bool, String) {
    let (status, log) = etcd_until_exit("default", data, port, Duration::from_secs(60));
    (status.is_some_and(|s| !s.success()), log)
}

#[test]
fn etcd_3_4_refuses_or_sets_aside_each_special_file_variant_as_the_manifest_says() {
    let mut port = 25400;
    for v in variants() {
        let src = fixtures().join("damaged").join(v["dir"].as_str().unwrap());
        let copy = scratch("special").join(v["name"].as_str().unwrap());
        match v["etcd"].as_str().unwrap() {
            "refuses" => {
                copy_dir(&src, &copy);
                let (refused, log) = etcd_exits_with_error(&copy, port);
                assert!(refused, "{}: etcd did not refuse it:\n{log}", v["name"]);
            }
            "sets_aside" => {
                copy_dir(&src, &copy);
                let etcd = Etcd::start("default", &copy, port, &[]);
                etcd.must(&["get", "--prefix", "/"]);
                drop(etcd);
                let broken = copy.join(format!("{}.broken", v["path"].as_str().unwrap()));
                assert!(broken.exists(), "{}: etcd did not set it aside", v["name"]);
            }
            // A FIFO blocks etcd's read forever: nothing to boot.
            _ => {}
        }
        port += 2;
    }
}
