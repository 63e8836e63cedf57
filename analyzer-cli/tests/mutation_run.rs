//! The CI-sized mutation run: seeded mutants of real fixture files (the k8s db and WAL
//! segment, a many-snaps `.snap` file), each put into a data dir and given to every
//! command family, each run under a timeout and an address-space limit. The run fails on
//! any panic, hang (timeout), death by a signal, or exit code outside 0/1/2; and every
//! variant the damage scripts mark as damaged (fixtures/damaged/manifest.json) must not
//! pass `check` with exit 0.
//!
//! `MUTATION_VARIANTS` (default 900) sets the number of random variants, `MUTATION_SEED`
//! (default 13) the seed; each variant runs 3 or 4 commands. No sleeps: the timeout is
//! coreutils `timeout`, the limit `ulimit -v`.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Seconds one run may take before it counts as a hang (the debug binary needs < 1 s).
const TIMEOUT_S: &str = "60";
/// Address-space limit per run, KiB.
const LIMIT_KIB: u64 = 2 << 20;

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The fault kinds a mutant is made with.
const FAULTS: [&str; 8] = [
    "flip_bytes",
    "zero_sector",
    "truncate",
    "insert_bytes",
    "random_u64",
    "copy_page",
    "page_flags",
    "append_bytes",
];

fn mutate(base: &[u8], rng: &mut Rng, fault: &str) -> Vec<u8> {
    let mut d = base.to_vec();
    let n = d.len().max(1);
    match fault {
        "flip_bytes" => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(n);
                if let Some(b) = d.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
        }
        "zero_sector" => {
            let s = rng.below(n / 512 + 1) * 512;
            let e = (s + 512).min(d.len());
            d[s.min(e)..e].fill(0);
        }
        "truncate" => d.truncate(rng.below(n)),
        "insert_bytes" => {
            let at = rng.below(n);
            let k = 1 + rng.below(64);
            let bytes: Vec<u8> = (0..k).map(|_| rng.next() as u8).collect();
            d.splice(at.min(d.len())..at.min(d.len()), bytes);
        }
        "random_u64" => {
            // Lengths, pgids, counts and offsets are 8-aligned u64s or start there.
            let at = rng.below(n / 8 + 1) * 8;
            let v = match rng.below(4) {
                0 => u64::MAX,
                1 => rng.next() >> rng.below(64),
                2 => 0,
                _ => rng.next(),
            };
            if at + 8 <= d.len() {
                d[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
        }
        "copy_page" => {
            let pages = n / 4096;
            if pages > 2 {
                let (a, b) = (rng.below(pages) * 4096, rng.below(pages) * 4096);
                let src = d[a..a + 4096].to_vec();
                d[b..b + 4096].copy_from_slice(&src);
            }
        }
        "page_flags" => {
            let pages = n / 4096;
            if pages > 0 {
                let at = rng.below(pages) * 4096 + 8;
                let flags = [0u16, 1, 2, 4, 0x10, 0xFFFF, rng.next() as u16][rng.below(7)];
                if at + 2 <= d.len() {
                    d[at..at + 2].copy_from_slice(&flags.to_le_bytes());
                }
            }
        }
        _ => {
            let k = 1 + rng.below(5000);
            d.extend((0..k).map(|_| rng.next() as u8));
        }
    }
    d
}

/// Runs the binary under the timeout and the address-space limit; the exit code, or a
/// description of how it ended otherwise.
fn run_capped(args: &[String]) -> Result<i32, String> {
    let mut script = format!("ulimit -v {LIMIT_KIB} && exec timeout -s KILL {TIMEOUT_S} \"$0\"");
    for i in 1..=args.len() {
        script.push_str(&format!(" \"${i}\""));
    }
    let o = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .arg(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&o.stderr);
    match o.status.code() {
        Some(c @ 0..=2) if !err.contains("panicked") => Ok(c),
        Some(137) | Some(124) => Err("timeout (hang)".into()),
        Some(c) => Err(format!("exit {c}: {}", err.lines().last().unwrap_or(""))),
        None => Err(format!("killed by a signal: {err}")),
    }
}

struct Template {
    dir: PathBuf,
    /// (component, path in the data dir, original bytes)
    files: Vec<(&'static str, PathBuf, Vec<u8>)>,
}

fn template(root: &Path, scenario: &str) -> Template {
    let dir = root.join(scenario).join("data");
    copy_dir(&fixtures().join(scenario).join("data"), &dir);
    let mut files = Vec::new();
    let db = dir.join("member/snap/db");
    files.push(("db", db.clone(), std::fs::read(&db).unwrap()));
    for e in std::fs::read_dir(dir.join("member/wal")).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "wal") {
            files.push(("wal", e.path(), std::fs::read(e.path()).unwrap()));
        }
    }
    let mut snaps: Vec<PathBuf> = std::fs::read_dir(dir.join("member/snap"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "snap"))
        .collect();
    snaps.sort();
    if let Some(newest) = snaps.pop() {
        files.push(("snap", newest.clone(), std::fs::read(&newest).unwrap()));
    }
    Template { dir, files }
}

fn commands(
    component: &str,
    data: &Path,
    db: &Path,
    out: &Path,
    rng: &mut Rng,
) -> Vec<Vec<String>> {
    let d = data.display().to_string();
    let f = db.display().to_string();
    let o = out.display().to_string();
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let pool: Vec<Vec<String>> = match component {
        "db" => vec![
            v(&["report", "--json", &d]),
            v(&["export", &d]),
            v(&["salvage", &f, "--out", &o]),
            v(&["prefixes", &f]),
            v(&["space", &f]),
            v(&["status", "--json", &f]),
            v(&["hash", &f]),
            v(&["info", &f]),
            v(&["pages", &f]),
            v(&["buckets", &f]),
            v(&["iterate-bucket", &f, "key", "--limit", "50"]),
            v(&["members", &d]),
        ],
        "wal" => vec![
            v(&["wal", "--summary", &d]),
            v(&["wal", "--summary", "--raw", &d]),
            v(&["wal", &d]),
            v(&["export", "--replay-wal", &d]),
            v(&["report", &d]),
        ],
        _ => vec![v(&["snap", "--json", &d]), v(&["wal", "--summary", &d])],
    };
    let mut cmds = vec![v(&["check", "--json", &d])];
    for _ in 0..2 {
        cmds.push(pool[rng.below(pool.len())].clone());
    }
    if component == "wal" && rng.below(8) == 0 {
        cmds.push(v(&["wal", "--json", &d]));
    }
    cmds
}

#[test]
fn seeded_mutants_of_the_fixtures_never_panic_hang_or_leave_exit_0_1_2() {
    let variants: u64 = std::env::var("MUTATION_VARIANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(900);
    let seed: u64 = std::env::var("MUTATION_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(13);
    let root = scratch("mutation");
    let next = AtomicU64::new(0);
    let runs = AtomicU64::new(0);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let by_fault: Mutex<std::collections::BTreeMap<String, (u64, [u64; 3])>> =
        Mutex::new(Default::default());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    std::thread::scope(|sc| {
        for t in 0..threads {
            let (root, next, runs, failures, by_fault) =
                (&root, &next, &runs, &failures, &by_fault);
            sc.spawn(move || {
                let own = root.join(format!("t{t}"));
                let k8s = template(&own, "k8s");
                let snaps = template(&own, "many-snaps");
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= variants {
                        break;
                    }
                    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i + 1));
                    rng.next();
                    // Two thirds db and WAL mutants of k8s, one third .snap of many-snaps.
                    let tpl = if rng.below(6) == 0 { &snaps } else { &k8s };
                    let candidates: Vec<&(&str, PathBuf, Vec<u8>)> = tpl
                        .files
                        .iter()
                        .filter(|f| std::ptr::eq(tpl, &snaps) == (f.0 == "snap"))
                        .collect();
                    let (component, path, base) = candidates[rng.below(candidates.len())];
                    let fault = FAULTS[rng.below(FAULTS.len())];
                    std::fs::write(path, mutate(base, &mut rng, fault)).unwrap();
                    let out = own.join("salvaged.db");
                    let db = tpl.dir.join("member/snap/db");
                    for args in commands(component, &tpl.dir, &db, &out, &mut rng) {
                        std::fs::remove_file(&out).ok();
                        runs.fetch_add(1, Ordering::Relaxed);
                        match run_capped(&args) {
                            Ok(code) => {
                                let mut m = by_fault.lock().unwrap();
                                let e = m.entry(format!("{component}/{fault}")).or_default();
                                e.1[code as usize] += 1;
                            }
                            Err(why) => failures.lock().unwrap().push(format!(
                                "variant {i} ({component} {fault}, seed {seed}): {args:?}: {why}"
                            )),
                        }
                    }
                    by_fault
                        .lock()
                        .unwrap()
                        .entry(format!("{component}/{fault}"))
                        .or_default()
                        .0 += 1;
                    std::fs::write(path, base).unwrap();
                }
            });
        }
    });
    let by_fault = by_fault.into_inner().unwrap();
    eprintln!(
        "mutation run: {variants} variants, {} runs, seed {seed}; per fault: variants, exits 0/1/2:",
        runs.load(Ordering::Relaxed)
    );
    for (k, (n, codes)) in &by_fault {
        eprintln!("  {k}: {n} variants, exits {codes:?}");
    }
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_variant_the_damage_scripts_mark_as_damaged_fails_check() {
    let Ok(text) = std::fs::read(fixtures().join("damaged/manifest.json")) else {
        return;
    };
    let m: Value = serde_json::from_slice(&text).unwrap();
    let mut checked = 0;
    for v in m["variants"].as_array().unwrap() {
        let damaged = match v["component"].as_str().unwrap() {
            "bbolt" | "special" | "size" => true,
            "wal" => v["expected_exit"] == 1,
            _ => false,
        };
        let rel = ["file", "dir", "path"]
            .iter()
            .find_map(|k| v[*k].as_str())
            .unwrap();
        let path = fixtures().join("damaged").join(rel);
        if !damaged || !(path.exists() || path.symlink_metadata().is_ok()) {
            continue;
        }
        // `status` reads the size; the others' damage is for `check`.
        let cmd = if v["component"] == "size" {
            "status"
        } else {
            "check"
        };
        let code = run_capped(&[cmd.to_string(), path.display().to_string()])
            .unwrap_or_else(|why| panic!("{}: {why}", v["name"]));
        assert_ne!(code, 0, "{}: {cmd} exits 0 on a damaged variant", v["name"]);
        checked += 1;
    }
    eprintln!("{checked} damaged variants: none passes");
}
