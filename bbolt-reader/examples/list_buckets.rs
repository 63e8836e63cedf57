//! Lists the buckets of any bbolt file (nested ones as paths) with their key counts.
//!
//! ```text
//! cargo run -p bbolt-reader --example list_buckets -- path/to/db
//! ```

use bbolt_reader::{Bucket, MappedFile};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: list_buckets <bbolt file>");
        std::process::exit(2);
    };
    let file = MappedFile::open(&path)?;
    let db = file.db()?;
    println!(
        "page size {}, meta {} (txid {}), high-water mark {}",
        db.page_size(),
        db.meta_index(),
        db.meta().txid,
        db.meta().high_water_mark
    );
    list(&db.root(), &mut Vec::new(), 0)?;
    Ok(())
}

/// Prints each nested bucket of `bucket` with the number of plain keys it holds.
fn list(
    bucket: &Bucket<'_>,
    path: &mut Vec<String>,
    depth: usize,
) -> Result<(), bbolt_reader::Error> {
    // Real files nest a few levels at most; stop well before a forged file could overflow
    // the stack.
    if depth > 32 {
        return Ok(());
    }
    for entry in bucket.iter() {
        let entry = entry?;
        if !entry.is_bucket() {
            continue;
        }
        let Some(child) = bucket.bucket(entry.key)? else {
            continue;
        };
        path.push(String::from_utf8_lossy(entry.key).into_owned());
        let keys = child
            .iter()
            .filter(|e| e.as_ref().is_ok_and(|e| !e.is_bucket()))
            .count();
        println!("{:<40} {keys}", path.join("/"));
        list(&child, path, depth + 1)?;
        path.pop();
    }
    Ok(())
}
