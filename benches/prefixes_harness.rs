//! Shared by the `prefixes` and `report` benches: makes the 1 GiB Kubernetes-like db when
//! missing, and times commands in child processes on a warm page cache against
//! `cat db > /dev/null`, with peak RSS from `/usr/bin/time -f %M` when it is installed.
//!
//! Each command runs in a child process (this bench executable re-run with `--child`), which
//! calls the same library function the `etcd-autopsy` binary calls, with stdout sent to
//! /dev/null; so the figures include mapping the file, the scan and writing the output.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

#[path = "make-k8s-db.rs"]
mod make_k8s_db;

/// Runs the command named by a `--child` invocation, if this is one; never returns then.
pub fn maybe_child() {
    let args: Vec<String> = std::env::args().collect();
    let Some(pos) = args.iter().position(|a| a == "--child") else {
        return;
    };
    let rest = &args[pos + 1..];
    let (cmd, threads, db) = (
        &rest[0],
        rest[1].parse::<usize>().ok(),
        PathBuf::from(&rest[2]),
    );
    let r = match cmd.as_str() {
        "prefixes" => etcd_autopsy::cmd::prefixes::run(&etcd_autopsy::cmd::prefixes::Args {
            input: db,
            depth: 3,
            top: None,
            prefix: String::new(),
            threads,
            json: true,
        }),
        "report" => etcd_autopsy::cmd::report::run(&etcd_autopsy::cmd::report::Args {
            input: db,
            quota: 2 << 30,
            top: 10,
            depth: 3,
            threads,
            json: true,
        }),
        other => {
            eprintln!("unknown child command {other}");
            std::process::exit(2);
        }
    };
    std::process::exit(match r {
        Ok(c) => i32::from(c),
        Err(e) => {
            eprintln!("{e}");
            2
        }
    });
}

/// The bench db, made if missing (about 1.1 GiB; takes a minute).
pub fn bench_db() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data");
    let db = dir.join("k8s.db");
    if !db.is_file() {
        std::fs::create_dir_all(&dir).expect("benches/data");
        eprintln!("making {} (about 1.1 GiB) ...", db.display());
        let t = Instant::now();
        let m = make_k8s_db::generate(&db, 1100).expect("generate bench db");
        eprintln!(
            "made {} bytes, {} revisions in {:.1}s",
            m.bytes,
            m.revisions,
            t.elapsed().as_secs_f64()
        );
    }
    db
}

fn devnull() -> Stdio {
    Stdio::from(std::fs::File::create("/dev/null").expect("/dev/null"))
}

/// One measured run: wall seconds and peak RSS in KiB (None without /usr/bin/time).
pub fn run_once(argv: &[String]) -> (f64, Option<u64>) {
    let time = Path::new("/usr/bin/time");
    let mut c = if time.is_file() {
        let mut c = Command::new(time);
        c.args(["-f", "RSS_KB %M"]).args(argv);
        c
    } else {
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    };
    c.stdout(devnull()).stderr(Stdio::piped());
    let t = Instant::now();
    let out = c.output().expect("child runs");
    let secs = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    let rss = err
        .lines()
        .filter_map(|l| l.strip_prefix("RSS_KB "))
        .last()
        .and_then(|s| s.trim().parse().ok());
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{argv:?} failed: {err}"
    );
    (secs, rss)
}

/// Median wall time and largest peak RSS over `n` runs.
pub fn measure(argv: &[String], n: usize) -> (f64, Option<u64>) {
    let mut times = Vec::new();
    let mut rss = None;
    for _ in 0..n {
        let (t, r) = run_once(argv);
        times.push(t);
        rss = rss.max(r);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    (times[times.len() / 2], rss)
}

/// argv for a child running `cmd` with `threads` on `db`.
pub fn child_argv(cmd: &str, threads: usize, db: &Path) -> Vec<String> {
    vec![
        std::env::current_exe()
            .expect("current exe")
            .display()
            .to_string(),
        "--child".into(),
        cmd.into(),
        threads.to_string(),
        db.display().to_string(),
    ]
}

/// Runs the comparison for `cmds` and prints a table.
pub fn bench(cmds: &[&str]) {
    maybe_child();
    let db = bench_db();
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    let runs = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let cat = vec!["cat".to_string(), db.display().to_string()];
    // Warm the page cache.
    run_once(&cat);
    run_once(&cat);
    let (cat_t, cat_rss) = measure(&cat, runs);
    println!(
        "db {} ({:.2} GiB), warm cache, median of {runs} runs",
        db.display(),
        size as f64 / (1u64 << 30) as f64
    );
    println!(
        "{:<24} {:>9} {:>9} {:>12}",
        "command", "seconds", "x cat", "peak RSS"
    );
    let rss_s = |r: Option<u64>| r.map_or("-".to_string(), |k| format!("{} MiB", k / 1024));
    println!(
        "{:<24} {:>9.3} {:>9.2} {:>12}",
        "cat db > /dev/null",
        cat_t,
        1.0,
        rss_s(cat_rss)
    );
    for cmd in cmds {
        for threads in [1, 2] {
            let (t, rss) = measure(&child_argv(cmd, threads, &db), runs);
            println!(
                "{:<24} {:>9.3} {:>9.2} {:>12}",
                format!("{cmd} --threads {threads}"),
                t,
                t / cat_t,
                rss_s(rss)
            );
        }
    }
}
