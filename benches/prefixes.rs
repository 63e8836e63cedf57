//! `cargo bench -p etcd-autopsy-benches --bench prefixes`: `prefixes` and `report` on a
//! 1.1 GiB Kubernetes-like db (made on first run into benches/data/, not committed), warm
//! cache, one thread against two, against `cat db > /dev/null`; peak RSS per command.
//! Target: within 1.5x of cat. `BENCH_RUNS=N` sets the runs per figure (default 5).

#[path = "prefixes_harness.rs"]
mod harness;

fn main() {
    harness::bench(&["prefixes", "report"]);
}
