//! The measuring harness shared by the db benches (`prefixes`, `report`, `history`).
//!
//! Every command runs in a child process: this bench executable re-run as
//! `--child <etcd-autopsy argv>`, which parses the argv with the same clap argument structs
//! the `etcd-autopsy` binary uses and calls the same library function, with stdout on
//! /dev/null; so a figure includes mapping the file, the scan and writing the output.
//!
//! - Time: wall clock of the child, and its CPU time (user + system) from
//!   `/usr/bin/time`, which contention on a shared machine distorts less than wall time.
//! - Ratios: a series is a list of commands plus `cat FILE > /dev/null`; each round runs
//!   every command of the series once, interleaved, and a command's ratio in a round is its
//!   time over `cat`'s time in the same round. Tables give the median ratio and its range
//!   over the rounds.
//! - Heap: the child counts its allocations with a global allocator (live bytes and their
//!   peak) and prints the peak at exit; this is the heap at its peak, not what is left at
//!   exit. File pages of the read-only mapping are not heap.
//! - Load: `/proc/loadavg` is printed before and after each table.
//! - Floor: the warm tables also time `touch mapped pages -tN`, this executable re-run as
//!   `--touch N FILES`: it maps each file read-only as the commands do
//!   (`regular_file::MappedFile`) and reads one byte of every 4 KiB page, on N threads
//!   (contiguous ranges), then exits. No reader of the mapping can be faster: its ratio
//!   to `cat` is what the page faults and TLB misses of the mapping cost on the machine.

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Counts live heap bytes and their peak; forwards to the system allocator.
struct CountingAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

impl CountingAlloc {
    #[inline]
    fn grew(n: usize) {
        let live = LIVE.fetch_add(n, Ordering::Relaxed) + n;
        PEAK.fetch_max(live, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds GlobalAlloc's
// contract; the counters are plain atomics and never touch the memory handed out.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same layout as given to us, as GlobalAlloc::alloc requires.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            Self::grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for alloc.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            Self::grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr was allocated by System with this layout (alloc above).
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: ptr/layout come from this allocator, as GlobalAlloc::realloc requires.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                Self::grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[derive(clap::Parser)]
#[command(name = "etcd-autopsy")]
struct ChildCli {
    #[command(subcommand)]
    command: ChildCommand,
}

#[derive(clap::Subcommand)]
enum ChildCommand {
    Prefixes(etcd_autopsy::cmd::prefixes::Args),
    Report(etcd_autopsy::cmd::report::Args),
    Space(etcd_autopsy::cmd::space::Args),
    Export(etcd_autopsy::cmd::export::Args),
    Hash(etcd_autopsy::cmd::hash::Args),
    Status(etcd_autopsy::cmd::status::Args),
    Wal(etcd_autopsy::cmd::wal::WalArgs),
}

/// `--touch THREADS FILES`: one byte of every page of each file's read-only mapping.
fn touch_pages(threads: usize, files: &[String]) {
    const PAGE: usize = 4096;
    let mut sum = 0u64;
    for f in files {
        let mut m = regular_file::MappedFile::open(Path::new(f)).expect("maps the file");
        m.keep_mapped_after_drop();
        let bytes = m.bytes();
        let per = bytes
            .len()
            .div_ceil(threads.max(1))
            .next_multiple_of(PAGE)
            .max(PAGE);
        sum += std::thread::scope(|s| {
            let parts: Vec<_> = bytes
                .chunks(per)
                .map(|c| {
                    s.spawn(move || c.iter().step_by(PAGE).map(|&b| u64::from(b)).sum::<u64>())
                })
                .collect();
            parts
                .into_iter()
                .map(|h| h.join().expect("touch thread"))
                .sum::<u64>()
        });
    }
    std::hint::black_box(sum);
}

/// Runs the command of a `--child` (or `--touch`) invocation, if this is one; never
/// returns then.
pub fn maybe_child() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--touch") {
        let threads = args.get(pos + 1).and_then(|t| t.parse().ok()).unwrap_or(1);
        touch_pages(threads, args.get(pos + 2..).unwrap_or_default());
        std::process::exit(0);
    }
    let Some(pos) = args.iter().position(|a| a == "--child") else {
        return;
    };
    use clap::Parser as _;
    let argv = std::iter::once("etcd-autopsy".to_string()).chain(args[pos + 1..].iter().cloned());
    let cli = ChildCli::parse_from(argv);
    use etcd_autopsy::cmd;
    let r = match &cli.command {
        ChildCommand::Prefixes(a) => cmd::prefixes::run(a),
        ChildCommand::Report(a) => cmd::report::run(a),
        ChildCommand::Space(a) => cmd::space::run(a),
        ChildCommand::Export(a) => cmd::export::run(a),
        ChildCommand::Hash(a) => cmd::hash::run(a),
        ChildCommand::Status(a) => cmd::status::run(a),
        ChildCommand::Wal(a) => cmd::wal::run(a),
    };
    eprintln!("HEAP_PEAK {}", PEAK.load(Ordering::Relaxed));
    std::process::exit(match r {
        Ok(c) => i32::from(c),
        Err(e) if etcd_autopsy::output::is_broken_pipe(&e) => 0,
        Err(e) => {
            eprintln!("{e}");
            2
        }
    });
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
    /// Peak heap bytes counted in the child (bench children only).
    pub heap: Option<u64>,
}

/// What to run: a label and an argv (for `cat`, `cat FILES`; else etcd-autopsy's argv).
#[derive(Debug, Clone)]
pub struct Job {
    /// Row label.
    pub label: String,
    /// The full argv of the process.
    pub argv: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
}

impl Job {
    /// `cat FILES > /dev/null`.
    pub fn cat(label: &str, files: &[PathBuf]) -> Job {
        let mut argv = vec!["cat".to_string()];
        argv.extend(files.iter().map(|f| f.display().to_string()));
        Job {
            label: label.into(),
            argv,
            env: Vec::new(),
        }
    }

    /// One byte of every page of `files`' read-only mappings on `threads` threads (the
    /// floor of any reader of the mapping; see the module docs).
    pub fn touch(label: &str, files: &[PathBuf], threads: usize) -> Job {
        let mut argv = self_argv("--touch");
        argv.push(threads.to_string());
        argv.extend(files.iter().map(|f| f.display().to_string()));
        Job {
            label: label.into(),
            argv,
            env: Vec::new(),
        }
    }

    /// An etcd-autopsy command line run in a bench child; `threads` also sets rayon's
    /// global pool size for commands without `--threads`.
    pub fn autopsy(label: &str, args: &[&str], threads: usize) -> Job {
        let mut argv = self_argv("--child");
        argv.extend(args.iter().map(|s| s.to_string()));
        Job {
            label: label.into(),
            argv,
            env: vec![("RAYON_NUM_THREADS".into(), threads.to_string())],
        }
    }
}

/// This bench executable re-run in the child `mode` (`--child`, `--touch`).
fn self_argv(mode: &str) -> Vec<String> {
    vec![
        std::env::current_exe()
            .expect("current exe")
            .display()
            .to_string(),
        mode.into(),
    ]
}

/// Runs `job` once.
pub fn run_once(job: &Job) -> Run {
    let time = Path::new("/usr/bin/time");
    let mut c = if time.is_file() {
        let mut c = Command::new(time);
        c.args(["-f", "CPU_S %U %S"]).args(&job.argv);
        c
    } else {
        let mut c = Command::new(&job.argv[0]);
        c.args(&job.argv[1..]);
        c
    };
    c.envs(job.env.iter().map(|(k, v)| (k, v)));
    c.stdout(devnull()).stderr(Stdio::piped());
    let t = Instant::now();
    let out = c.output().expect("child runs");
    let secs = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    let cpu = err
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("CPU_S "))
        .and_then(|l| {
            let f: Vec<f64> = l
                .split_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect();
            (f.len() == 2).then(|| f[0] + f[1])
        });
    let heap = err
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("HEAP_PEAK "))
        .and_then(|s| s.trim().parse().ok());
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{:?} failed: {err}",
        job.argv
    );
    Run { secs, cpu, heap }
}

/// The machine's load average line.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Median, minimum and maximum.
fn stats(mut v: Vec<f64>) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let med = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((med, v[0], v[n - 1]))
}

/// Runs of every job of a series, by round.
#[derive(Debug)]
pub struct Series {
    /// `jobs[0]` is the baseline (`cat`).
    pub jobs: Vec<Job>,
    /// `runs[round][job]`.
    pub runs: Vec<Vec<Run>>,
    /// Load average before and after.
    pub load: (String, String),
}

/// Runs `rounds` interleaved rounds of `jobs` (the first is the baseline); `before` runs
/// before every single run (cache eviction for the cold rows).
pub fn series(jobs: Vec<Job>, rounds: usize, before: &dyn Fn(&Job)) -> Series {
    let load0 = loadavg();
    let mut runs = Vec::new();
    for _ in 0..rounds.max(1) {
        let mut round = Vec::new();
        for j in &jobs {
            before(j);
            round.push(run_once(j));
        }
        runs.push(round);
    }
    Series {
        jobs,
        runs,
        load: (load0, loadavg()),
    }
}

impl Series {
    /// Prints the table: per job, wall median, ratio to the baseline (median and range over
    /// rounds), CPU median and CPU ratio (median, range), peak heap (largest over rounds).
    pub fn print(&self, title: &str) {
        println!("{title}");
        println!(
            "{} rounds, interleaved; load average before {} / after {}",
            self.runs.len(),
            self.load.0,
            self.load.1
        );
        println!(
            "{:<34} {:>7} {:>18} {:>7} {:>18} {:>10}",
            "command", "wall s", "x cat (range)", "cpu s", "cpu x cat (range)", "peak heap"
        );
        let fmt_r = |s: Option<(f64, f64, f64)>| {
            s.map_or("-".to_string(), |(m, lo, hi)| {
                format!("{m:.2} ({lo:.2}-{hi:.2})")
            })
        };
        for (j, job) in self.jobs.iter().enumerate() {
            let wall = stats(self.runs.iter().map(|r| r[j].secs).collect());
            let ratio = stats(self.runs.iter().map(|r| r[j].secs / r[0].secs).collect());
            let cpu = stats(self.runs.iter().filter_map(|r| r[j].cpu).collect());
            let cpu_ratio = stats(
                self.runs
                    .iter()
                    .filter_map(|r| match (r[j].cpu, r[0].cpu) {
                        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                        _ => None,
                    })
                    .collect(),
            );
            let heap = self.runs.iter().filter_map(|r| r[j].heap).max();
            println!(
                "{:<34} {:>7} {:>18} {:>7} {:>18} {:>10}",
                job.label,
                wall.map_or("-".into(), |w| format!("{:.3}", w.0)),
                fmt_r(ratio),
                cpu.map_or("-".into(), |c| format!("{:.2}", c.0)),
                fmt_r(cpu_ratio),
                heap.map_or("-".into(), |h| format!("{:.1} MiB", h as f64 / 1048576.0))
            );
        }
        println!();
    }

    /// Median wall seconds and largest heap of job `j`.
    pub fn wall_and_heap(&self, j: usize) -> (f64, f64, Option<u64>) {
        let wall = stats(self.runs.iter().map(|r| r[j].secs).collect()).map_or(0.0, |s| s.0);
        let ratio =
            stats(self.runs.iter().map(|r| r[j].secs / r[0].secs).collect()).map_or(0.0, |s| s.0);
        (
            wall,
            ratio,
            self.runs.iter().filter_map(|r| r[j].heap).max(),
        )
    }
}

/// Rounds per series: `BENCH_RUNS` (default 5).
pub fn rounds() -> usize {
    std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
}

/// Reads `files` once so that the page cache holds them.
pub fn warm(files: &[PathBuf]) {
    for _ in 0..2 {
        run_once(&Job::cat("warm", files));
    }
}

/// The warm-cache table of `cmds` (etcd-autopsy argv templates where `{}` is the input)
/// at 1 and 2 threads against `cat input`. With `BENCH_BEFORE=BINARY` each row is also run
/// with that etcd-autopsy binary in the same rounds, labelled "(before)" (no heap figure).
pub fn warm_table(title: &str, input: &Path, cat_files: &[PathBuf], cmds: &[&[&str]]) {
    warm(cat_files);
    let mut jobs = vec![Job::cat("cat > /dev/null", cat_files)];
    for threads in [1usize, 2] {
        jobs.push(Job::touch(
            &format!("touch mapped pages -t{threads}"),
            cat_files,
            threads,
        ));
    }
    let inp = input.display().to_string();
    for cmd in cmds.iter().filter(|c| command_wanted(c[0])) {
        for threads in [1usize, 2] {
            let t = threads.to_string();
            let mut argv: Vec<&str> = cmd
                .iter()
                .map(|a| if *a == "{}" { inp.as_str() } else { a })
                .collect();
            let takes_threads = !matches!(argv[0], "wal");
            if takes_threads {
                argv.insert(1, "--threads");
                argv.insert(2, &t);
            }
            let label = format!(
                "{} -t{threads}",
                cmd.iter()
                    .filter(|a| **a != "{}")
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            jobs.push(Job::autopsy(&label, &argv, threads));
            if let Some(before) = std::env::var_os("BENCH_BEFORE") {
                let mut b = Job::autopsy(&format!("{label} (before)"), &argv, threads);
                b.argv.splice(0..2, [before.to_string_lossy().into_owned()]);
                jobs.push(b);
            }
        }
    }
    series(jobs, rounds(), &|_| {}).print(title);
}

/// Drops `file`'s pages from the page cache (posix_fadvise DONTNEED, through python3's
/// os module) and checks with util-linux `fincore` that none are left resident.
pub fn evict(file: &Path) {
    let st = Command::new("python3")
        .args([
            "-c",
            "import os,sys\nfd=os.open(sys.argv[1],os.O_RDONLY)\nos.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)\nos.close(fd)",
        ])
        .arg(file)
        .status()
        .expect("python3 runs");
    assert!(st.success(), "posix_fadvise on {}", file.display());
    let out = Command::new("fincore")
        .args(["--bytes", "--noheadings", "--output", "RES"])
        .arg(file)
        .output()
        .expect("fincore (util-linux) runs");
    let res: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(u64::MAX);
    // Pages another process maps stay; a few are allowed, not the file.
    assert!(
        res < 1 << 20,
        "{} still has {res} bytes in the page cache after DONTNEED",
        file.display()
    );
}

/// The cold-cache table: a private copy of `db` (so nobody else's reads warm it), evicted
/// before every run, `report` against `cat`.
pub fn cold_table(db: &Path, rounds: usize) {
    let copy = db.with_extension("cold-copy.db");
    if !copy.is_file()
        || std::fs::metadata(&copy).map(|m| m.len()).ok()
            != std::fs::metadata(db).map(|m| m.len()).ok()
    {
        std::fs::copy(db, &copy).expect("private copy of the db");
    }
    // Written back first: DONTNEED leaves dirty pages of a fresh copy in the cache.
    std::fs::File::open(&copy)
        .and_then(|f| f.sync_all())
        .expect("the copy written back");
    let c = copy.display().to_string();
    let mut jobs = vec![
        Job::cat("cat > /dev/null (cold)", std::slice::from_ref(&copy)),
        Job::autopsy("report -t2 (cold)", &["report", "--threads", "2", &c], 2),
        Job::autopsy("report -t1 (cold)", &["report", "--threads", "1", &c], 1),
    ];
    if let Some(before) = std::env::var_os("BENCH_BEFORE") {
        let mut b = Job::autopsy(
            "report -t2 (cold, before)",
            &["report", "--threads", "2", &c],
            2,
        );
        b.argv.splice(0..2, [before.to_string_lossy().into_owned()]);
        jobs.push(b);
    }
    let s = series(jobs, rounds, &|_| evict(&copy));
    s.print(&format!(
        "cold cache: {} evicted before every run (posix_fadvise DONTNEED, checked with fincore)",
        copy.display()
    ));
    let _ = std::fs::remove_file(&copy);
}

/// Entries and distinct keys of a db, from `prefixes --json` of the etcd-autopsy library.
pub fn db_shape(db: &Path) -> String {
    let out = Command::new(std::env::current_exe().expect("exe"))
        .args(["--child", "prefixes", "--json"])
        .arg(db)
        .stderr(Stdio::null())
        .output()
        .expect("child runs");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let t = &v["totals"];
    format!(
        "{:.2} GiB, {} revisions, {} keys ({} live)",
        std::fs::metadata(db).map(|m| m.len()).unwrap_or(0) as f64 / (1u64 << 30) as f64,
        t["revisions"],
        t["keys"],
        t["live_keys"]
    )
}

/// The data directory of benches.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// Whether the warm tables run `command`: `BENCH_CMDS` (comma separated command names,
/// e.g. `export,hash,status`), default all.
pub fn command_wanted(command: &str) -> bool {
    std::env::var("BENCH_CMDS").map_or(true, |c| c.split(',').any(|x| x == command))
}

/// Which parts to run: `BENCH_PARTS` (comma separated), default all.
pub fn part(name: &str) -> bool {
    std::env::var("BENCH_PARTS").map_or(true, |p| p.split(',').any(|x| x == name))
}
