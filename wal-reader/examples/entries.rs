//! Iterates the WAL entries of a data dir, as etcd reads them: term, index and what each
//! entry is (request names only: keys and values may be secrets), then what stopped the
//! reading, if anything did.
//!
//! ```text
//! cargo run -p wal-reader --example entries -- fixtures/k8s/data
//! ```

use wal_reader::{ScanOptions, WalDir};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("give a data dir")?;
    let wal = WalDir::open_data_dir(dir)?;
    let scan = wal.scan(ScanOptions::default()); // stops at the first damage, as etcd does
    for e in &scan.entries {
        let summary = e.entry.decoded().summary();
        println!("{}\t{}\t{summary}", e.entry.term, e.entry.index);
    }
    scan.findings.iter().for_each(|f| eprintln!("{f}"));
    Ok(())
}
