//! Iterates the WAL entries of a data dir, as etcd reads them: term, index and what each
//! entry is (request names only: keys and values may be secrets).
//!
//! ```text
//! cargo run -p wal-reader --example entries -- fixtures/k8s/data
//! ```

use wal_reader::{DecodedEntry, ScanOptions, WalDir};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: entries <data dir>")?;
    let wal = WalDir::open_data_dir(dir)?;
    let scan = wal.scan(ScanOptions::default());
    for e in &scan.entries {
        let data = DecodedEntry::decode(&e.entry);
        println!("{}\t{}\t{}", e.entry.term, e.entry.index, data.summary());
    }
    for f in &scan.findings {
        eprintln!("{f}");
    }
    Ok(())
}
