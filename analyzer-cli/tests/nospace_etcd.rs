//! The space predictions against what real etcd 3.4 does: a copy of a fixture's data dir is
//! started with etcd (127.0.0.1, ports 24400-24499, a temp dir, stopped by PID),
//! defragmented, compacted at its newest revision and defragmented again; its dbSize must match `space`'s
//! `compaction.predicted_size_after` within 5% (and `predicted_defrag_size` for defrag
//! alone). Skipped when no etcd binary is installed.

mod common;

use common::*;
use serde_json::Value;
use std::net::TcpListener;
use std::path::PathBuf;

const PORT_BASE: u16 = 24400;
const PORT_LAST: u16 = 24499;

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(bin))
            .find(|f| f.is_file())
    })
}

/// A client port in this test's range whose peer port (the next one) is free as well.
fn free_port_pair() -> u16 {
    let mut p = PORT_BASE + (std::process::id() % 40) as u16 * 2;
    loop {
        if TcpListener::bind(("127.0.0.1", p)).is_ok()
            && TcpListener::bind(("127.0.0.1", p + 1)).is_ok()
        {
            return p;
        }
        p += 2;
        if p + 1 > PORT_LAST {
            p = PORT_BASE;
        }
    }
}

fn db_size(etcd: &Etcd) -> u64 {
    let v: Value = serde_json::from_str(&etcd.must(&["endpoint", "status", "-w", "json"])).unwrap();
    v[0]["Status"]["dbSize"].as_u64().unwrap()
}

fn check(scenario: &str) {
    let src = fixtures().join(scenario).join("data");
    if !src.is_dir() {
        eprintln!("note: fixture {scenario} not generated; skipped");
        return;
    }
    let (_, sp) = run_json(&["space", "--json", s(&src)]);
    let rev = sp["compaction"]["revision"].as_i64().unwrap();
    let (_, report) = run_json(&["report", "--json", s(&src)]);
    let name = report["members"][0]["name"]
        .as_str()
        .unwrap_or("default")
        .to_string();

    let tmp = scratch(scenario);
    copy_dir(&src, &tmp.join("data"));
    let client = free_port_pair();
    let etcd = Etcd::start(
        &name,
        &tmp.join("data"),
        client,
        &["--quota-backend-bytes", "8589934592"],
    );
    etcd.must(&["defrag"]);
    let after_defrag = db_size(&etcd);
    // --physical waits until the compaction has deleted the revisions; a defrag that runs
    // while it is still going copies what is not yet deleted.
    etcd.must(&["compact", "--physical", &rev.to_string()]);
    etcd.must(&["defrag"]);
    let after_compaction = db_size(&etcd);
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
