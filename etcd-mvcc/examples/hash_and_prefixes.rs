//! A member's HashKV (as `etcdctl endpoint hashkv`) and its bytes per key prefix.
//!
//! ```text
//! cargo run -p etcd-mvcc --example hash_and_prefixes -- fixtures/k8s/data
//! ```

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: hash_and_prefixes <data dir>")?;
    let member = etcd_mvcc::Member::open(dir)?;
    let hash = member.hash_kv(None)?;
    println!("hashkv {} at revision {}", hash.hash, hash.revision);
    for (prefix, stats) in member.prefixes(3)? {
        let bytes = stats.key_bytes + stats.value_bytes;
        let prefix = String::from_utf8_lossy(&prefix);
        println!("{prefix:<40} {:>6} keys {bytes:>10} bytes", stats.keys);
    }
    Ok(())
}
