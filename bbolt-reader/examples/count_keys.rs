//! Counts the keys of each top-level bucket of any bbolt file.
//!
//! ```text
//! cargo run -p bbolt-reader --example count_keys -- fixtures/k8s/data/member/snap/db
//! ```

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("give a bbolt file")?;
    let file = bbolt_reader::MappedFile::open(path)?;
    for bucket in file.db()?.buckets() {
        let (name, bucket) = bucket?;
        println!("{}\t{}", name.escape_ascii(), bucket.iter().count());
    }
    Ok(())
}
