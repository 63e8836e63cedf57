//! Writes an etcd-shaped bbolt file for trying tools on large inputs:
//! `cargo run --release -p bbolt-writer --example etcd_like -- OUT KEYS VERSIONS VALUE_BYTES`.
//!
//! Bucket `key` holds KEYS user keys with VERSIONS revisions each (revision order; each
//! value an `mvccpb.KeyValue` encoded by hand), bucket `meta` a consistent index.

use bbolt_writer::{BoltWriter, Options};

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_bytes(out: &mut Vec<u8>, tag: u8, b: &[u8]) {
    out.push(tag << 3 | 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn field_int(out: &mut Vec<u8>, tag: u8, v: u64) {
    out.push(tag << 3);
    varint(out, v);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        return Err("usage: etcd_like OUT KEYS VERSIONS VALUE_BYTES".into());
    }
    let keys: u64 = args[2].parse()?;
    let versions: u64 = args[3].parse()?;
    let value_len: usize = args[4].parse()?;
    let mut w = BoltWriter::create(&args[1], Options::default(), false)?;
    w.begin_bucket(b"key")?;
    let mut rev = 1u64;
    let value = vec![b'v'; value_len];
    for version in 1..=versions {
        for k in 0..keys {
            rev += 1;
            let user_key = format!("/registry/pods/ns-{}/pod-{k:08}", k % 50);
            let mut kv = Vec::with_capacity(value_len + 64);
            field_bytes(&mut kv, 1, user_key.as_bytes());
            field_int(&mut kv, 2, rev - (version - 1) * keys);
            field_int(&mut kv, 3, rev);
            field_int(&mut kv, 4, version);
            field_bytes(&mut kv, 5, &value);
            let mut rk = rev.to_be_bytes().to_vec();
            rk.push(b'_');
            rk.extend_from_slice(&0u64.to_be_bytes());
            w.put(&rk, &kv)?;
        }
    }
    w.end_bucket()?;
    w.begin_bucket(b"meta")?;
    w.put(b"consistent_index", &rev.to_be_bytes())?;
    w.end_bucket()?;
    let s = w.finish_file()?;
    println!(
        "{} revisions, {} pages, {} leaf, {} branch",
        rev - 1,
        s.high_water_mark,
        s.leaf_pages,
        s.branch_pages
    );
    Ok(())
}
