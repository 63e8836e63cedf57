//! `cargo bench -p etcd-autopsy-benches --bench k8s`: `k8s` against `prefixes` on the 1 GiB+
//! Kubernetes-like db with values encoded as kube-apiserver writes them
//! (benches/data/k8s-kube.db, made on first run by make-k8s-db's `--kube` mode, not
//! committed), warm cache, one thread and two; CPU time, peak RSS and heap. Target: `k8s`
//! within 2x of `prefixes`. `BENCH_RUNS=N` sets the runs per figure (default 5).
//!
//! Measured 2026-12-01 on the 2-core build machine, load average 4.3-4.6 (other engineers'
//! builds: not idle), two runs of median-of-5:
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

#[path = "prefixes_harness.rs"]
mod harness;

use std::path::PathBuf;

/// The child side: runs one command on the db, output to /dev/null by the parent.
fn maybe_child() {
    let args: Vec<String> = std::env::args().collect();
    let Some(pos) = args.iter().position(|a| a == "--child") else {
        return;
    };
    let rest = &args[pos + 1..];
    let (cmd, threads, db) = (&rest[0], rest[1].parse().ok(), PathBuf::from(&rest[2]));
    let r = match cmd.as_str() {
        "prefixes" => etcd_autopsy::cmd::prefixes::run(&etcd_autopsy::cmd::prefixes::Args {
            input: db,
            depth: 3,
            top: None,
            prefix: String::new(),
            threads,
            json: true,
        }),
        "k8s" => etcd_autopsy::cmd::k8s::run(&etcd_autopsy::cmd::k8s::Args {
            input: db,
            by: etcd_autopsy::cmd::k8s::By::Resource,
            top: None,
            prefix: String::new(),
            threads,
            json: true,
        }),
        other => {
            eprintln!("unknown child command {other}");
            std::process::exit(2);
        }
    };
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(l) = status.lines().find(|l| l.starts_with("RssAnon:")) {
            eprintln!("ANON_KB {}", l.split_whitespace().nth(1).unwrap_or("0"));
        }
    }
    std::process::exit(match r {
        Ok(c) => i32::from(c),
        Err(e) => {
            eprintln!("{e}");
            2
        }
    });
}

fn main() {
    maybe_child();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data");
    let db = dir.join("k8s-kube.db");
    if !db.is_file() {
        std::fs::create_dir_all(&dir).expect("benches/data");
        eprintln!("making {} (about 1.1 GiB) ...", db.display());
        let ok = std::process::Command::new(env!("CARGO_BIN_EXE_make-k8s-db"))
            .arg("--kube")
            .arg(&db)
            .arg("1100")
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "make-k8s-db --kube failed");
    }
    let runs = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let cat = vec!["cat".to_string(), db.display().to_string()];
    harness::run_once(&cat);
    let c = harness::measure(&cat, runs);
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    println!(
        "db {} ({:.2} GiB), warm cache, median of {runs} runs",
        db.display(),
        size as f64 / (1u64 << 30) as f64
    );
    println!(
        "{:<22} {:>8} {:>8} {:>12} {:>10} {:>10}",
        "command", "wall s", "cpu s", "x prefixes", "peak RSS", "heap"
    );
    let mib = |k: Option<u64>| k.map_or("-".to_string(), |k| format!("{} MiB", k / 1024));
    println!(
        "{:<22} {:>8.3} {:>8} {:>12} {:>10} {:>10}",
        "cat db > /dev/null",
        c.secs,
        c.cpu.map_or("-".into(), |x| format!("{x:.3}")),
        "-",
        mib(c.rss_kb),
        "-"
    );
    for threads in [1, 2] {
        let p = harness::measure(&harness::child_argv("prefixes", threads, &db), runs);
        let k = harness::measure(&harness::child_argv("k8s", threads, &db), runs);
        for (name, r) in [("prefixes", &p), ("k8s", &k)] {
            println!(
                "{:<22} {:>8.3} {:>8} {:>12.2} {:>10} {:>10}",
                format!("{name} --threads {threads}"),
                r.secs,
                r.cpu.map_or("-".into(), |x| format!("{x:.3}")),
                r.secs / p.secs,
                mib(r.rss_kb),
                mib(r.anon_kb)
            );
        }
    }
}
