//! `cargo bench -p etcd-autopsy-benches --bench k8s`: `k8s` against `prefixes` on the 1 GiB+
//! Kubernetes-like db with values encoded as kube-apiserver writes them
//! (benches/data/k8s-kube.db, made on first run by make-k8s-db's `--kube` mode, not
//! committed), warm cache, one thread and two, in the interleaved rounds of harness.rs (ratios to `cat`
//! in the same round; `k8s` / `prefixes` is the ratio of the two rows). Target: `k8s`
//! within 2x of `prefixes`. `BENCH_RUNS=N` sets the rounds (default 5).
//!
//! Measured 2026-12-01 on the 2-core build machine with the previous harness (medians of 5
//! runs), load average 4.3-4.6 (other engineers' builds: not idle), two runs:
//!
//! ```text
//! command                  wall s    cpu s   x prefixes   peak RSS       heap
//! cat db > /dev/null        0.336    0.250            -      1 MiB          -
//! prefixes --threads 1      0.455    0.270         1.00   1257 MiB     30 MiB
//! k8s --threads 1           0.884    0.630         1.94   1310 MiB     82 MiB
//! prefixes --threads 2      0.313    0.310         1.00   1275 MiB     47 MiB
//! k8s --threads 2           0.574    0.630         1.83   1311 MiB     75 MiB
//! (second run: k8s 1.93x / 1.78x prefixes)
//! ```
//!
//! Where the extra time goes (perf): decoding each key's newest value (~40% of the
//! accounting), the findings (one orphan per Pod here: every Pod names a ReplicaSet uid
//! that is not stored; 60k Event groups), and the pass that finds the put before each
//! tombstone. Heap: one record per distinct key (about 160k here), none per revision.

#[path = "harness.rs"]
mod harness;
#[path = "make-k8s-db.rs"]
mod make_k8s_db;

fn main() {
    harness::maybe_child();
    let db = harness::data_dir().join("k8s-kube.db");
    if !db.is_file() {
        std::fs::create_dir_all(harness::data_dir()).expect("benches/data");
        eprintln!("making {} (about 1.1 GiB) ...", db.display());
        make_k8s_db::generate_with(&db, 1100, true).expect("make-k8s-db --kube");
    }
    harness::warm_table(
        &format!(
            "warm cache, Kubernetes-encoded db {}: {}",
            db.display(),
            harness::db_shape(&db)
        ),
        &db,
        std::slice::from_ref(&db),
        &[&["prefixes", "{}"], &["k8s", "{}"]],
    );
}
