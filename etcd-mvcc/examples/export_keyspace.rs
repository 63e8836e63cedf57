//! The live keyspace of a member with its WAL's committed tail replayed, as etcd would
//! serve it after a restart: one line per key with its mod revision and value length
//! (values are not printed: they may be secrets). Without the replay,
//! `keyspace_at(Some(rev))` gives the keyspace at any revision the db still holds.
//!
//! ```text
//! cargo run -p etcd-mvcc --example export_keyspace -- fixtures/killed/data
//! ```

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("give a data dir")?;
    let member = etcd_mvcc::Member::open(dir)?;
    let state = member.keyspace_at(None).with_wal_replayed().load()?;
    println!("revision {}", state.revision);
    for (key, kv) in &state.keys {
        let (rev, len) = (kv.mod_revision, kv.value.len());
        println!("{}\t{rev}\t{len}", key.escape_ascii());
    }
    Ok(())
}
