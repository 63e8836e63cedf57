//! Checks any bbolt file and prints per-bucket statistics and findings.
//!
//! ```text
//! cargo run -p bbolt-reader --example check_file -- path/to/db
//! ```

use bbolt_reader::{check, walk, MappedFile};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: check_file <bbolt file>");
        std::process::exit(2);
    };
    let file = MappedFile::open(&path)?;
    let db = file.db()?;
    let w = walk::walk(&db);
    let stats = w.bucket_stats();
    for i in w.top_level() {
        let name: Vec<String> = w
            .path(i)
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        let s = &stats[i];
        println!(
            "{:<20} keys {:>8} depth {} leaf pages {:>6} (+{} overflow) branch pages {:>4}",
            name.join("/"),
            s.keys,
            s.depth,
            s.leaf_pages,
            s.leaf_overflow,
            s.branch_pages
        );
    }
    println!(
        "free pages {}, reachable {}, past high-water mark {}",
        w.graph.free_count(),
        w.graph.reachable_count(),
        w.graph.past_high_water_count()
    );
    let report = check::check_walk(&db, &w);
    for f in &report.findings {
        println!("{f}");
    }
    if !report.is_clean() {
        std::process::exit(1);
    }
    Ok(())
}
