//! `cargo bench -p etcd-autopsy-benches --bench prefixes`: `prefixes`, `space` and `report` on a
//! 1.3 GiB Kubernetes-like db (made on first run into benches/data/ by make-k8s-db, not
//! committed), warm cache, one thread against two, against `cat db > /dev/null` in the
//! same interleaved rounds; CPU time and peak heap per command (see harness.rs).
//! `BENCH_RUNS=N` sets the rounds (default 5). The history-heavy shape is `--bench history`.
//!
//! Measured 2026-11-21 on the idle 2-core build machine with the previous harness (medians
//! of 7 runs per command, heap = RssAnon at exit; from one run to the next the same figure
//! moved by up to 15%, cat included):
//!
//! ```text
//! command                    wall s   x cat    cpu s   x cat   peak RSS       heap
//! cat db > /dev/null          0.249    1.00    0.240    1.00      1 MiB          -
//! prefixes --threads 1        0.250    1.00    0.220    0.92   1267 MiB     30 MiB
//! prefixes --threads 2        0.236    0.95    0.240    1.00   1284 MiB     47 MiB
//! space --threads 1           0.279    1.12    0.260    1.08   1269 MiB     32 MiB
//! space --threads 2           0.217    0.87    0.290    1.21   1286 MiB     49 MiB
//! report --threads 1          0.304    1.22    0.270    1.13   1270 MiB     33 MiB
//! report --threads 2          0.233    0.94    0.320    1.33   1287 MiB     50 MiB
//! ```

#[path = "harness.rs"]
mod harness;
#[path = "make-k8s-db.rs"]
mod make_k8s_db;

/// The bench db, made if missing (about 1.1 GiB of key/value data; takes a minute).
pub fn bench_db() -> std::path::PathBuf {
    let db = harness::data_dir().join("k8s.db");
    if !db.is_file() {
        std::fs::create_dir_all(harness::data_dir()).expect("benches/data");
        eprintln!("making {} ...", db.display());
        make_k8s_db::generate(&db, 1100).expect("generate bench db");
    }
    db
}

/// Runs the bench rows for `cmds` (each an etcd-autopsy command line) on the bench db.
pub fn run(cmds: &[&[&str]]) {
    harness::maybe_child();
    let db = bench_db();
    harness::warm_table(
        &format!(
            "warm cache, Kubernetes-like db {}: {}",
            db.display(),
            harness::db_shape(&db)
        ),
        &db,
        std::slice::from_ref(&db),
        cmds,
    );
}

#[allow(dead_code)]
fn main() {
    run(&[&["prefixes", "{}"], &["space", "{}"], &["report", "{}"]]);
}
