//! The live keyspace of a member with its WAL's committed tail replayed, as etcd would
//! serve it after a restart: one line per key (values by length only: they may be
//! secrets).
//!
//! ```text
//! cargo run -p etcd-mvcc --example export_keyspace -- fixtures/killed/data
//! ```

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: export_keyspace <data dir>")?;
    let member = etcd_mvcc::Member::open(dir)?;
    let state = member.keyspace_at(None).with_wal_replayed().load()?;
    println!("revision {}", state.revision);
    for (key, kv) in &state.keys {
        let key = String::from_utf8_lossy(key);
        println!(
            "{key}\t{} bytes\tmod revision {}",
            kv.value.len(),
            kv.mod_revision
        );
    }
    Ok(())
}
