//! The space predictions against what real etcd does: a copy of a fixture's data dir is
//! started with the etcd that wrote it (3.4 on ports 24400-24499, 3.5.1 on 25150-25159;
//! 127.0.0.1, a temp dir, stopped by PID),
//! defragmented, compacted at its newest revision and defragmented again; its dbSize must match `space`'s
//! `compaction.predicted_size_after` within 5% (and `predicted_defrag_size` for defrag
//! alone). Skipped when no etcd binary is installed.

mod common;

use common::*;
use serde_json::Value;
use std::net::TcpListener;
use std::path::PathBuf;

/// Client/peer port ranges: (first, last) for 3.4, and for 3.5.1.
const PORTS_V34: (u16, u16) = (24400, 24499);
const PORTS_V35: (u16, u16) = (25150, 25159);

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(bin))
            .find(|f| f.is_file())
    })
}

/// A client port in `range` whose peer port (the next one) is free as well.
fn free_port_pair((base, last): (u16, u16)) -> u16 {
    let pairs = (last - base).div_ceil(2);
    let mut p = base + (std::process::id() % u32::from(pairs)) as u16 * 2;
    loop {
        if TcpListener::bind(("127.0.0.1", p)).is_ok()
            && TcpListener::bind(("127.0.0.1", p + 1)).is_ok()
        {
            return p;
        }
        p += 2;
        if p + 1 > last {
            p = base;
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

    let release = Release::of_scenario(scenario);
    if !release.available() {
        eprintln!("note: etcd of {release:?} not installed; {scenario} skipped");
        return;
    }
    let tmp = scratch(&scenario.replace('/', "_"));
    copy_dir(&src, &tmp.join("data"));
    let ports = match release {
        Release::V34 => PORTS_V34,
        Release::V35 => PORTS_V35,
    };
    let client = free_port_pair(ports);
    let etcd = Etcd::start_release(
        release,
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
    for s in ["k8s", "nospace", "many-snaps", "v3.5/k8s", "v3.5/nospace"] {
        check(s);
    }
}
