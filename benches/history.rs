//! `cargo bench -p etcd-autopsy-benches --bench history`: the commands on a history-heavy
//! member (about 231k keys, revisions growing with the size: node Leases renewed all the
//! time, node status, events on leases, pods), against `cat` in the same series.
//!
//! Inputs (not committed; made by `benches/make-history-db.sh`, checked against a real
//! etcd by its `--validate`): `benches/data/history-2048.db` (made here when missing),
//! `history-{512,1024,4096,8192}.db` for the scaling table (`make-history-db.sh
//! --scaling`; sizes missing are left out) and the WAL corpus of `make-wal-corpus.sh`.
//!
//! Parts (`BENCH_PARTS=warm,cold,scaling,wal,k8s`, default all; `BENCH_RUNS=N` rounds,
//! default 5; `BENCH_CMDS=export,hash,status` only those commands in the warm tables;
//! `HISTORY_DB=path` another db for the warm and cold tables):
//! - warm: prefixes, report, space, export, hash, status at 1 and 2 threads against
//!   `cat db > /dev/null` (median and range of the ratio over interleaved rounds; CPU
//!   time ratio; peak heap from the child's counting allocator);
//! - cold: `report` against `cat` with the db's private copy evicted before every run;
//! - scaling: prefixes and report (2 threads) at each size: time, ratio and heap;
//! - wal: `wal --summary` and the full dump to /dev/null against `cat` of the segments;
//! - k8s: the warm table on the original Kubernetes-like bench db (`make-k8s-db.sh`).
//!
//! See the harness (harness.rs) for how each figure is taken. Figures measured on
//! 2026-12-01 (with `BENCH_BEFORE` = main before issue 14, on a machine at load 8-20) are
//! in the README's "Measured" section.

#[path = "harness.rs"]
mod harness;
#[path = "make-k8s-db.rs"]
mod make_k8s_db;

use harness::{cold_table, data_dir, db_shape, part, rounds, series, warm, warm_table, Job};
use std::path::PathBuf;

const DB_CMDS: &[&[&str]] = &[
    &["prefixes", "{}"],
    &["report", "{}"],
    &["space", "{}"],
    &["export", "{}"],
    &["hash", "{}"],
    &["status", "{}"],
];

fn history_db(mib: u64) -> PathBuf {
    let db = data_dir().join(format!("history-{mib}.db"));
    if !db.is_file() && mib == 2048 {
        std::fs::create_dir_all(data_dir()).expect("benches/data");
        eprintln!("making {} ...", db.display());
        let part = db.with_extension("partial");
        make_k8s_db::generate_shape(&part, mib, make_k8s_db::Shape::History)
            .expect("generate history db");
        std::fs::rename(&part, &db).expect("rename");
    }
    db
}

fn main() {
    harness::maybe_child();
    let db = std::env::var_os("HISTORY_DB")
        .map(PathBuf::from)
        .unwrap_or_else(|| history_db(2048));
    if part("warm") {
        warm_table(
            &format!(
                "warm cache, history-heavy db {}: {}",
                db.display(),
                db_shape(&db)
            ),
            &db,
            std::slice::from_ref(&db),
            DB_CMDS,
        );
    }
    if part("cold") {
        cold_table(&db, rounds());
    }
    if part("scaling") {
        scaling();
    }
    if part("wal") {
        wal();
    }
    if part("k8s") {
        let k8s = data_dir().join("k8s.db");
        if k8s.is_file() {
            warm_table(
                &format!(
                    "warm cache, Kubernetes-like db {}: {}",
                    k8s.display(),
                    db_shape(&k8s)
                ),
                &k8s,
                std::slice::from_ref(&k8s),
                &[&["prefixes", "{}"], &["report", "{}"], &["space", "{}"]],
            );
        } else {
            println!(
                "k8s: no {} (benches/make-k8s-db.sh makes it)\n",
                k8s.display()
            );
        }
    }
}

fn scaling() {
    println!("scaling: history-heavy dbs, warm cache, 2 threads, each size its own series");
    println!(
        "{:<52} {:>7} {:>16} {:>10} {:>16} {:>10} load",
        "db", "cat s", "prefixes s (x)", "heap", "report s (x)", "heap"
    );
    for mib in [512u64, 1024, 2048, 4096, 8192] {
        let db = history_db(mib);
        if !db.is_file() {
            println!(
                "{:<52} (missing: benches/make-history-db.sh --scaling)",
                db.display()
            );
            continue;
        }
        let files = [db.clone()];
        warm(&files);
        let d = db.display().to_string();
        let s = series(
            vec![
                Job::cat("cat", &files),
                Job::autopsy("prefixes", &["prefixes", "--threads", "2", &d], 2),
                Job::autopsy("report", &["report", "--threads", "2", &d], 2),
            ],
            rounds().min(3),
            &|_| {},
        );
        let (cat, _, _) = s.wall_and_heap(0);
        let (p, px, ph) = s.wall_and_heap(1);
        let (r, rx, rh) = s.wall_and_heap(2);
        let mib_of =
            |h: Option<u64>| h.map_or("-".into(), |h| format!("{:.1} MiB", h as f64 / 1048576.0));
        println!(
            "{:<52} {:>7.3} {:>16} {:>10} {:>16} {:>10} {}",
            db_shape(&db),
            cat,
            format!("{p:.3} ({px:.2}x)"),
            mib_of(ph),
            format!("{r:.3} ({rx:.2}x)"),
            mib_of(rh),
            s.load.1
        );
    }
    println!();
}

fn wal() {
    let dir = std::env::var_os("WAL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| data_dir().join("wal-corpus/member/wal"));
    if !dir.is_dir() {
        println!(
            "wal: no corpus at {} (benches/make-wal-corpus.sh makes it)\n",
            dir.display()
        );
        return;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("wal dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    files.sort();
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    warm_table(
        &format!(
            "warm cache, WAL corpus {}: {} segments, {:.0} MB",
            dir.display(),
            files.len(),
            total as f64 / 1e6
        ),
        &dir,
        &files,
        &[&["wal", "--summary", "{}"], &["wal", "{}"]],
    );
}
