//! Hardening, fault class "memory grows with one record or with the file's apparent
//! size": `wal --json` on one valid 9.4 MiB entry (a txn of 580,000 puts, from
//! fixtures/damage_wal.py's huge-txn-entry) streams within a 768 MiB address-space limit
//! (it needed 3.3 GB of RSS when it built a JSON tree) and, like the text dump, peaks at
//! a small multiple of the entry (the entry is read in place, never decoded into structs,
//! and written through a draining buffer); a db extended sparse to 5.5 GiB is read by
//! every db command under a 4 GiB address-space limit through a mapping of the part below
//! its high-water mark, and a WAL segment extended sparse past the limit through a mapping
//! of its written part. Limits are set with `ulimit -v` in a shell around the binary, or
//! with `setrlimit` by a python3 wrapper that also reports the child's peak RSS
//! (`ru_maxrss`, the kernel's VmHWM); nothing is timed.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs the binary with `args` under `ulimit -v <kib>`, stdout to `stdout`.
fn run_limited(kib: u64, args: &[&str], stdout: &Path) -> Output {
    let mut script = format!("ulimit -v {kib} && exec \"$0\"");
    for i in 1..=args.len() {
        script.push_str(&format!(" \"${i}\""));
    }
    script.push_str(" > \"$OUT\"");
    Command::new("bash")
        .arg("-c")
        .arg(&script)
        .arg(BIN)
        .args(args)
        .env("OUT", stdout)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn wal_json_of_one_9_mib_txn_entry_streams_within_768_mib_of_address_space() {
    let dir = fixtures().join("damaged/huge/huge-txn-entry");
    if !dir.is_dir() {
        eprintln!("huge-txn-entry not derived (run fixtures/make-damaged.sh); skipped");
        return;
    }
    let out = scratch("huge-wal").join("out.jsonl");
    let o = run_limited(768 * 1024, &["wal", "--json", s(&dir)], &out);
    assert!(
        o.status.success(),
        "{:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read(&out).unwrap();
    // The huge entry is the last entry line: all 580,000 puts are in it.
    let line = text
        .split(|&b| b == b'\n')
        .rfind(|l| l.starts_with(b"{\"data_kind\""))
        .unwrap();
    let puts = line.windows(13).filter(|w| w == b"\"request_put\"").count();
    assert_eq!(puts, 580_000);
    assert!(line.ends_with(b"\"type\":\"EntryNormal\"}"));
}

#[test]
fn a_db_extended_sparse_to_5_5_gib_is_read_under_a_4_gib_address_space_limit() {
    let dir = scratch("sparse-db");
    let db = dir.join("db");
    std::fs::copy(fixtures().join("k8s/data/member/snap/db"), &db).unwrap();
    // Sparse: no data blocks are written.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(5632 << 20)
        .unwrap();
    let out = dir.join("out");
    for cmd in [
        "info", "check", "report", "space", "status", "prefixes", "hash", "export",
    ] {
        let o = run_limited(4 << 20, &[cmd, s(&db)], &out);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{cmd}: {:?}: {err}", o.status);
        assert!(!err.contains("Cannot allocate memory"), "{cmd}: {err}");
    }
    // The figures come from the file as it is: its size is the size on disk.
    let (code, v) = run_json(&["info", "--json", s(&db)]);
    assert_eq!(code, 0);
    assert!(v.to_string().contains(&(5632u64 << 20).to_string()), "{v}");
}

/// Runs the binary with `args` (stdout to `stdout`) under an address-space limit of `kib`
/// through python3, which reports the child's peak resident set (KiB). `None` without python3.
fn run_measured(kib: u64, args: &[&str], stdout: &Path) -> Option<(Output, u64)> {
    const WRAP: &str = "import resource, subprocess, sys\n\
lim = int(sys.argv[1]) * 1024\n\
def cap():\n    resource.setrlimit(resource.RLIMIT_AS, (lim, lim))\n\
with open(sys.argv[2], 'wb') as out:\n    r = subprocess.run(sys.argv[3:], stdout=out, preexec_fn=cap)\n\
sys.stderr.write('PEAK_RSS_KIB %d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
sys.exit(r.returncode)\n";
    let o = Command::new("python3")
        .arg("-c")
        .arg(WRAP)
        .arg(kib.to_string())
        .arg(stdout)
        .arg(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let peak = err
        .lines()
        .find_map(|l| l.strip_prefix("PEAK_RSS_KIB "))
        .and_then(|v| v.trim().parse().ok())?;
    Some((o, peak))
}

#[test]
fn wal_text_and_json_of_one_9_mib_txn_entry_peak_at_a_small_multiple_of_the_entry() {
    let dir = fixtures().join("damaged/huge/huge-txn-entry");
    if !dir.is_dir() {
        eprintln!("huge-txn-entry not derived (run fixtures/make-damaged.sh); skipped");
        return;
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("damaged/manifest.json")).unwrap())
            .unwrap();
    let entry_bytes = manifest["variants"]
        .as_array()
        .and_then(|a| a.iter().find(|v| v["name"] == "huge-txn-entry"))
        .and_then(|v| v["entry_bytes"].as_u64())
        .expect("manifest has huge-txn-entry with entry_bytes");
    let out = scratch("huge-wal-rss").join("out");
    for args in [vec!["wal", "--json"], vec!["wal"]] {
        let mut a = args.clone();
        a.push(s(&dir));
        let Some((o, peak_kib)) = run_measured(768 * 1024, &a, &out) else {
            eprintln!("python3 not available; peak RSS not measured");
            return;
        };
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let peak = peak_kib * 1024;
        // The mapping of the 10.8 MB segment and the binary's own pages count too: four
        // times the entry covers them with room; decoding into structs took twelve times.
        assert!(
            peak <= 4 * entry_bytes,
            "{args:?}: peak RSS {peak} bytes for an entry of {entry_bytes} bytes"
        );
        let printed = std::fs::metadata(&out).unwrap().len();
        assert!(
            printed > 3 * entry_bytes,
            "{args:?}: only {printed} bytes printed"
        );
    }
}

/// A copy of the k8s fixture's WAL dir whose last segment is extended sparse to `len`.
fn wal_with_sparse_segment(tag: &str, len: u64) -> std::path::PathBuf {
    let src = fixtures().join("k8s/data/member/wal");
    let dir = scratch(tag).join("member/wal");
    std::fs::create_dir_all(&dir).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().ends_with(".wal"))
        .collect();
    names.sort();
    for n in &names {
        std::fs::copy(src.join(n), dir.join(n)).unwrap();
    }
    let last = dir.join(names.last().unwrap());
    std::fs::OpenOptions::new()
        .write(true)
        .open(&last)
        .unwrap()
        .set_len(len)
        .unwrap();
    dir
}

#[test]
fn a_wal_segment_extended_sparse_past_the_address_space_limit_is_read_through_its_written_part() {
    let dir = wal_with_sparse_segment("sparse-wal", 1 << 30);
    let out = scratch("sparse-wal-out").join("out.json");
    let unlimited = bin()
        .args(["wal", "--summary", "--json", s(&dir)])
        .output()
        .unwrap();
    assert_eq!(
        unlimited.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&unlimited.stderr)
    );
    let o = run_limited(768 << 10, &["wal", "--summary", "--json", s(&dir)], &out);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("Cannot allocate memory"), "{err}");
    // Same summary as with the whole file mapped, its size on disk included.
    assert_eq!(std::fs::read(&out).unwrap(), unlimited.stdout);
    assert!(String::from_utf8_lossy(&unlimited.stdout).contains(&(1u64 << 30).to_string()));
}

#[test]
fn a_wal_segment_that_cannot_be_mapped_at_all_names_the_address_space_limit() {
    let dir = wal_with_sparse_segment("sparse-wal-full", 1 << 30);
    // A non-zero byte at the very end: the written part is the whole file.
    let last = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .max()
        .unwrap();
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&last).unwrap();
        f.write_all_at(&[0xff], (1 << 30) - 1).unwrap();
    }
    let out = scratch("sparse-wal-full-out").join("out");
    let o = run_limited(768 << 10, &["wal", "--summary", s(&dir)], &out);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("address-space limit") && err.contains("ulimit -v"),
        "{err}"
    );
    assert!(
        err.contains(&last.file_name().unwrap().to_string_lossy().to_string()),
        "{err}"
    );
}
