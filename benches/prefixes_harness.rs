//! Shared by the `prefixes` and `report` benches (the first also times `space`): makes the 1 GiB Kubernetes-like db when
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
            format: None,
        }),
        "space" => etcd_autopsy::cmd::space::run(&etcd_autopsy::cmd::space::Args {
            input: db,
            rev: None,
            quota: 2 << 30,
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
            html: None,
        }),
        // `report` writing its HTML page as well (stdout as for `report`).
        "report-html" => etcd_autopsy::cmd::report::run(&etcd_autopsy::cmd::report::Args {
            input: db,
            quota: 2 << 30,
            top: 10,
            depth: 3,
            threads,
            json: true,
            html: Some(
                std::env::temp_dir()
                    .join(format!("etcd-autopsy-bench-{}.html", std::process::id())),
            ),
        })
        .inspect(|_| {
            std::fs::remove_file(
                std::env::temp_dir()
                    .join(format!("etcd-autopsy-bench-{}.html", std::process::id())),
            )
            .ok();
        }),
        other => {
            eprintln!("unknown child command {other}");
            std::process::exit(2);
        }
    };
    // Anonymous memory still held (the parent sets glibc to keep freed memory, so this is
    // close to the peak of heap use); file pages of the mapping are not counted here.
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(l) = status.lines().find(|l| l.starts_with("RssAnon:")) {
            let kb = l.split_whitespace().nth(1).unwrap_or("0");
            eprintln!("ANON_KB {kb}");
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

/// One measured run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Run {
    /// Wall seconds.
    pub secs: f64,
    /// CPU seconds (user + system) from /usr/bin/time.
    pub cpu: Option<f64>,
    /// Peak RSS in KiB from /usr/bin/time (mapped file pages included).
    pub rss_kb: Option<u64>,
    /// Anonymous memory at exit in KiB (children of this bench only).
    pub anon_kb: Option<u64>,
}

/// One measured run: wall seconds, CPU, peak RSS (None without /usr/bin/time), anon KiB.
pub fn run_once(argv: &[String]) -> Run {
    let time = Path::new("/usr/bin/time");
    let mut c = if time.is_file() {
        let mut c = Command::new(time);
        c.args(["-f", "RSS_KB %M CPU %U %S"]).args(argv);
        c
    } else {
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    };
    c.stdout(devnull()).stderr(Stdio::piped());
    // Keep freed heap memory in the process so RssAnon at exit shows the peak.
    c.env("MALLOC_MMAP_THRESHOLD_", "33554432")
        .env("MALLOC_TRIM_THRESHOLD_", "1099511627776");
    let t = Instant::now();
    let out = c.output().expect("child runs");
    let secs = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    let time_line = err.lines().rev().find_map(|l| l.strip_prefix("RSS_KB "));
    let rss_kb = time_line
        .and_then(|l| l.split_whitespace().next())
        .and_then(|s| s.parse().ok());
    let cpu = time_line.and_then(|l| {
        let f: Vec<f64> = l
            .split_whitespace()
            .skip(2)
            .filter_map(|s| s.parse().ok())
            .collect();
        (f.len() == 2).then(|| f[0] + f[1])
    });
    let anon_kb = err
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("ANON_KB "))
        .and_then(|s| s.trim().parse().ok());
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{argv:?} failed: {err}"
    );
    Run {
        secs,
        cpu,
        rss_kb,
        anon_kb,
    }
}

/// Median wall and CPU time, largest memory figures over `n` runs.
pub fn measure(argv: &[String], n: usize) -> Run {
    let runs: Vec<Run> = (0..n.max(1)).map(|_| run_once(argv)).collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied()
    };
    Run {
        secs: median(runs.iter().map(|r| r.secs).collect()).unwrap_or(0.0),
        cpu: median(runs.iter().filter_map(|r| r.cpu).collect()),
        rss_kb: runs.iter().filter_map(|r| r.rss_kb).max(),
        anon_kb: runs.iter().filter_map(|r| r.anon_kb).max(),
    }
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
    let c = measure(&cat, runs);
    println!(
        "db {} ({:.2} GiB), warm cache, median of {runs} runs (2 cores shared with whatever else runs)",
        db.display(),
        size as f64 / (1u64 << 30) as f64
    );
    println!(
        "{:<24} {:>8} {:>7} {:>8} {:>7} {:>10} {:>10}",
        "command", "wall s", "x cat", "cpu s", "x cat", "peak RSS", "heap"
    );
    let mib = |k: Option<u64>| k.map_or("-".to_string(), |k| format!("{} MiB", k / 1024));
    let opt = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.3}"));
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".to_string(),
    };
    let line = |name: &str, r: &Run| {
        println!(
            "{:<24} {:>8.3} {:>7.2} {:>8} {:>7} {:>10} {:>10}",
            name,
            r.secs,
            r.secs / c.secs,
            opt(r.cpu),
            ratio(r.cpu, c.cpu),
            mib(r.rss_kb),
            mib(r.anon_kb)
        )
    };
    line("cat db > /dev/null", &c);
    for cmd in cmds {
        for threads in [1, 2] {
            let r = measure(&child_argv(cmd, threads, &db), runs);
            line(&format!("{cmd} --threads {threads}"), &r);
        }
    }
    println!("peak RSS counts the file pages the kernel maps around each touched page; heap = anonymous memory");
}
