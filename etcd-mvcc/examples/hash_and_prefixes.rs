//! A member's HashKV (as `etcdctl endpoint hashkv`) and its keys and bytes (keys and
//! values of every revision kept) per key prefix.
//!
//! ```text
//! cargo run -p etcd-mvcc --example hash_and_prefixes -- fixtures/k8s/data
//! ```

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("give a data dir")?;
    let member = etcd_mvcc::Member::open(dir)?;
    let hash = member.hash_kv(None)?;
    println!("hashkv {} at revision {}", hash.hash, hash.revision);
    for (prefix, s) in member.prefixes(3)? {
        let bytes = s.key_bytes + s.value_bytes;
        println!("{}\t{} keys\t{bytes} bytes", prefix.escape_ascii(), s.keys);
    }
    Ok(())
}
