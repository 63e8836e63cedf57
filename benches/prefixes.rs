//! `cargo bench -p etcd-autopsy-benches --bench prefixes`: `prefixes`, `space` and `report` on a
//! 1.3 GiB Kubernetes-like db (made on first run into benches/data/ by make-k8s-db, not
//! committed), warm cache, one thread against two, against `cat db > /dev/null`; CPU time,
//! peak RSS and heap per command. Target: within 1.5x of cat. `BENCH_RUNS=N` sets the runs
//! per figure (default 5).
//!
//! Measured 2026-11-21 on the idle 2-core build machine (VM; medians of 7; from one run
//! to the next the same figure moves by up to 15%, cat included: three runs gave
//! report --threads 1 at 1.22x-1.69x cat and space --threads 1 at 1.12x-1.58x):
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
//!
//! Where the rest goes (perf, report --threads 1): first touches of the mapping (page
//! faults, mostly in the page walk), the per-key map in the scan and prefix grouping
//! (each look-up compares against a user key stored elsewhere in the file: a cache and TLB
//! miss), and unmapping the 1.3 GiB mapping at exit (~9%).
//!
//! Peak RSS is almost all file pages of the read-only mapping (the kernel maps the cached
//! pages around each touched page), shared with the page cache; the process's own memory
//! is the heap column.

#[path = "prefixes_harness.rs"]
mod harness;

fn main() {
    harness::bench(&["prefixes", "space", "report"]);
}
