//! Counts the keys of each top-level bucket of any bbolt file.
//!
//! ```text
//! cargo run -p bbolt-reader --example count_keys -- fixtures/k8s/data/member/snap/db
//! ```

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: count_keys <bbolt file>")?;
    let file = bbolt_reader::MappedFile::open(path)?;
    let db = file.db()?;
    let root = db.root();
    for item in root.iter() {
        let item = item?;
        if item.is_bucket() {
            let keys = root.open_item(&item)?.iter().count();
            println!("{}\t{keys}", String::from_utf8_lossy(item.key));
        }
    }
    Ok(())
}
