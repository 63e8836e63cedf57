//! WAL decode + verify throughput on a real etcd WAL, against `cat` of the same files.
//!
//! Needs the corpus from `benches/make-wal-corpus.sh` (>= 300 MB of real WAL under
//! benches/data/wal-corpus); without it, prints how to make it and exits. Override the
//! directory with `WAL_BENCH_DIR`. Run: `cargo bench -p etcd-autopsy-benches --bench wal`.
//!
//! Each figure is the best of several runs on warm page cache (the files are read once
//! first). "verify" = map the segments, check every record's frame and CRC-32C chain, decode
//! every record's walpb.Record and payload (entries, states, metadata), link the segments
//! and replay the raft log; "decode requests" adds decoding every normal entry's
//! InternalRaftRequest with prost.
//!
//! Measured 2026-11-21 on the 2-core dev machine, idle, corpus of 384 MB / 6 segments /
//! 225k entries, after segments stopped being pre-faulted (two runs): cat 5.2 GB/s; verify
//! on 2 threads 4.2-4.9 GB/s (1.05-1.24x cat's time), on 1 thread 3.1 GB/s (1.7x); verify +
//! decode all requests 2.3-2.4 GB/s. Before that change: verify 1.25-1.35x cat's time.

use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use wal_reader::{scan_wal, ScanOptions, WalDir};

const RUNS: usize = 7;

fn best<F: FnMut()>(mut f: F) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..RUNS {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed());
    }
    best
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn main() {
    let dir = std::env::var_os("WAL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("data/wal-corpus/member/wal")
        });
    if !dir.is_dir() {
        println!(
            "wal bench: no corpus at {}; make it with benches/make-wal-corpus.sh (needs etcd)",
            dir.display()
        );
        return;
    }
    let files: Vec<PathBuf> = {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("read wal dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "wal"))
            .collect();
        v.sort();
        v
    };
    let total: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    // Warm the page cache.
    for f in &files {
        let _ = std::fs::read(f);
    }
    let cat = best(|| {
        let st = Command::new("cat")
            .args(&files)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run cat");
        assert!(st.success());
    });

    let mut records = 0u64;
    let mut entries = 0usize;
    let verify = best(|| {
        let wal = WalDir::open(&dir).expect("open wal");
        let scan = scan_wal(
            &wal.segment_bytes(),
            wal.findings.clone(),
            ScanOptions::default(),
        );
        assert!(!scan.has_damage(), "corpus has damage: {:?}", scan.findings);
        records = scan.segments.iter().map(|s| s.records).sum();
        entries = scan.entries.len();
    });
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let verify_1 = one_thread.install(|| {
        best(|| {
            let wal = WalDir::open(&dir).expect("open wal");
            let scan = scan_wal(&wal.segment_bytes(), Vec::new(), ScanOptions::default());
            assert!(!scan.has_damage());
        })
    });
    let decode = best(|| {
        let wal = WalDir::open(&dir).expect("open wal");
        let scan = scan_wal(&wal.segment_bytes(), Vec::new(), ScanOptions::default());
        let n: usize = scan
            .entries
            .par_iter()
            .map(|e| match wal_reader::pb::NormalData::decode(e.entry.data) {
                wal_reader::pb::NormalData::Internal(r) => r.request_names().len(),
                _ => 0,
            })
            .sum();
        assert!(n > 0);
    });

    println!(
        "wal corpus: {} segments, {:.1} MB on disk, {} records, {} entries, {} threads",
        files.len(),
        total as f64 / 1e6,
        records,
        entries,
        rayon::current_num_threads()
    );
    println!(
        "cat > /dev/null (warm cache):    {:8.1} MB/s  {:?}",
        mbps(total, cat),
        cat
    );
    println!(
        "verify (all threads):            {:8.1} MB/s  {:?}  = {:.2}x cat's time",
        mbps(total, verify),
        verify,
        verify.as_secs_f64() / cat.as_secs_f64()
    );
    println!(
        "verify (1 thread):               {:8.1} MB/s  {:?}",
        mbps(total, verify_1),
        verify_1
    );
    println!(
        "verify + decode all requests:    {:8.1} MB/s  {:?}",
        mbps(total, decode),
        decode
    );
}
