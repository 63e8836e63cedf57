//! Prints what the library reads from a WAL directory: findings, segments and the last
//! entries. `cargo run -p wal-reader --example walscan -- <member/wal> [raw] [N]`.
//! Prints the time to map and to verify on stderr; with `WALSCAN_SEGMENTS_ONLY` set, also
//! the time of the per-segment pass alone and of a bare CRC-32C over all bytes.

use wal_reader::text::dump_row;
use wal_reader::EntryView;
use wal_reader::{scan_wal, ScanOptions, WalDir};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1) else {
        eprintln!("usage: walscan <member/wal> [raw] [last-N]");
        std::process::exit(2);
    };
    let raw = args.iter().any(|a| a == "raw");
    let n: usize = args
        .iter()
        .skip(2)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    let t0 = std::time::Instant::now();
    let wal = match WalDir::open(std::path::Path::new(dir)) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let t1 = std::time::Instant::now();
    let scan = scan_wal(
        &wal.segment_bytes(),
        wal.findings.clone(),
        ScanOptions { raw },
    );
    eprintln!("open+map {:?}, verify {:?}", t1 - t0, t1.elapsed());
    if std::env::var_os("WALSCAN_SEGMENTS_ONLY").is_some() {
        use rayon::prelude::*;
        let t2 = std::time::Instant::now();
        let n: u64 = wal
            .segment_bytes()
            .par_iter()
            .map(|(n, d)| wal_reader::scan_segment(n, d, ScanOptions { raw }).records)
            .sum();
        let t3 = std::time::Instant::now();
        let c: u32 = wal
            .segment_bytes()
            .par_iter()
            .map(|(_, d)| crc32c::crc32c(d))
            .reduce(|| 0, |a, b| a ^ b);
        eprintln!(
            "segments only {:?} ({n} records); crc32c of all bytes {:?} ({c})",
            t3 - t2,
            t3.elapsed()
        );
    }
    for f in &scan.findings {
        println!("{f}");
    }
    for s in &scan.segments {
        println!(
            "{} records={} valid_bytes={} end={:?} first={:?} last={:?}",
            s.name,
            s.records,
            s.valid_bytes,
            s.end,
            s.first_index(),
            s.last_index()
        );
    }
    println!(
        "metadata={:?} hard_state={:?}",
        scan.metadata, scan.hard_state
    );
    println!("snapshots={:?}", scan.snapshots);
    let start = scan.entries.len().saturating_sub(n);
    for e in &scan.entries[start..] {
        println!("{}", dump_row(&e.entry, &EntryView::new(&e.entry), None));
    }
}
