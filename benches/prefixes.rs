//! `cargo bench -p etcd-autopsy-benches --bench prefixes`: `prefixes` and `report` on a
//! 1.3 GiB Kubernetes-like db (made on first run into benches/data/ by make-k8s-db, not
//! committed), warm cache, one thread against two, against `cat db > /dev/null`; CPU time,
//! peak RSS and heap per command. Target: within 1.5x of cat. `BENCH_RUNS=N` sets the runs
//! per figure (default 5).
//!
//! Measured 2026-11-21 on the 2-core build machine while other builds ran (load ~2.4, so
//! the second thread had no free core; medians of 7):
//!
//! ```text
//! command                    wall s   x cat    cpu s   x cat   peak RSS       heap
//! cat db > /dev/null          0.220    1.00    0.210    1.00      1 MiB          -
//! prefixes --threads 1        0.236    1.07    0.210    1.00   1317 MiB     23 MiB
//! prefixes --threads 2        0.256    1.17    0.230    1.10   1334 MiB     40 MiB
//! report --threads 1          0.320    1.46    0.290    1.38   1320 MiB     26 MiB
//! report --threads 2          0.392    1.79    0.360    1.71   1337 MiB     43 MiB
//! ```
//!
//! Peak RSS is almost all file pages of the read-only mapping (the kernel maps the cached
//! pages around each touched page), shared with the page cache; the process's own memory
//! is the heap column.

#[path = "prefixes_harness.rs"]
mod harness;

fn main() {
    harness::bench(&["prefixes", "report"]);
}
