//! The keyspace in ncdu's JSON export format (`prefixes --format ncdu`), so that
//! `ncdu -f FILE` browses it like a disk.
//!
//! The format (ncdu 1.9 and later, version 1.0) is one JSON array `[1, 0, {metadata},
//! [root info, entries...]]`: a directory is an array whose first element is its info
//! object, followed by its entries; a file is an info object. Info objects carry `name`,
//! `asize` (apparent size) and `dsize` (disk usage).
//!
//! Mapping: the root is `/`; a key's `/`-separated segments are directories and its last
//! segment a file (keys that do not start with `/` sit at the root under their first
//! segment). A file's `dsize` is what the key keeps in the db: user key + value bytes over
//! every revision; its `asize` the bytes of the newest revision when the key is live, 0
//! when it is deleted. Names ncdu could not hold are rewritten: an empty segment is
//! `(empty)`, `.` and `..` are `%2E` and `%2E%2E`, a key that is also a directory (`/a`
//! beside `/a/b`) is the file `a (key)`, and below [`MAX_DEPTH`] levels the rest of a key
//! is one file name with `/` written `%2F` (so a key of a million slashes cannot recurse a
//! million levels). Only names and sizes are written, never values.

use etcd_mvcc::scan::KeyAcc;
use serde_json::json;
use std::io::{self, Write};

/// Directory levels written; deeper segments join the file name.
pub const MAX_DEPTH: usize = 64;

type Item<'a, 'k> = (&'a [u8], &'k KeyAcc);

fn name(seg: &[u8]) -> String {
    match seg {
        b"" => "(empty)".into(),
        b"." => "%2E".into(),
        b".." => "%2E%2E".into(),
        _ => String::from_utf8_lossy(seg).replace('/', "%2F"),
    }
}

fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Writes the export of `keys` (sorted here) to `out`. `source` and `revision` go into the
/// metadata object.
pub fn write(
    out: &mut dyn Write,
    keys: &mut [Item<'_, '_>],
    source: &str,
    revision: i64,
) -> io::Result<()> {
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let meta = json!({
        "progname": "etcd-autopsy",
        "progver": env!("CARGO_PKG_VERSION"),
        "timestamp": timestamp,
        "source": source,
        "revision": revision,
    });
    write!(out, "[1,0,{meta},\n[{{\"name\":\"/\"}}")?;
    keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
    // Keys under `/` (nearly all) first, then the others, each group sorted by the part
    // below the root.
    let split = keys.partition_point(|(k, _)| k.first() < Some(&b'/'));
    let (before, rest) = keys.split_at_mut(split);
    let slash = rest.partition_point(|(k, _)| k.first() == Some(&b'/'));
    let (under_root, after) = rest.split_at_mut(slash);
    entries(out, under_root, 1, 1)?;
    entries(out, before, 0, 1)?;
    entries(out, after, 0, 1)?;
    writeln!(out, "]]")
}

/// The entries of one directory: `items` are sorted and share their first `at` bytes.
fn entries(out: &mut dyn Write, items: &[Item<'_, '_>], at: usize, depth: usize) -> io::Result<()> {
    fn rest_at<'a>(it: &Item<'a, '_>, at: usize) -> &'a [u8] {
        it.0.get(at..).unwrap_or(&[])
    }
    let mut i = 0;
    while i < items.len() {
        let rest = rest_at(&items[i], at);
        let slash = if depth < MAX_DEPTH {
            rest.iter().position(|&b| b == b'/')
        } else {
            None
        };
        match slash {
            Some(p) => {
                let seg = &rest[..=p];
                // Keys under this directory are contiguous from i on (sorted, common prefix).
                let n = items[i..].partition_point(|it| rest_at(it, at).starts_with(seg));
                write!(out, ",\n[{{\"name\":{}}}", quoted(&name(&rest[..p])))?;
                entries(out, &items[i..i + n], at + seg.len(), depth + 1)?;
                write!(out, "]")?;
                i += n.max(1);
            }
            None => {
                let (key, a) = items[i];
                let mut file = name(rest);
                // A key that is also a directory: the directory's keys sort after it.
                let mut dir = rest.to_vec();
                dir.push(b'/');
                let later = &items[i + 1..];
                let k = later.partition_point(|it| rest_at(it, at) < dir.as_slice());
                if later
                    .get(k)
                    .is_some_and(|it| rest_at(it, at).starts_with(&dir))
                {
                    file.push_str(" (key)");
                }
                let dsize = key.len() as u64 * u64::from(a.revisions) + a.value_bytes;
                let asize = if a.is_live() {
                    key.len() as u64 + a.newest_value_len
                } else {
                    0
                };
                write!(
                    out,
                    ",\n{{\"name\":{},\"asize\":{asize},\"dsize\":{dsize}}}",
                    quoted(&file)
                )?;
                i += 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(revisions: u32, value_bytes: u64, live: bool) -> KeyAcc {
        KeyAcc {
            revisions,
            value_bytes,
            newest_value_len: 1,
            newest_tombstone: !live,
            ..KeyAcc::default()
        }
    }

    fn export(keys: &[(&[u8], KeyAcc)]) -> serde_json::Value {
        let mut items: Vec<Item<'_, '_>> = keys.iter().map(|(k, a)| (*k, a)).collect();
        let mut out = Vec::new();
        write(&mut out, &mut items, "db", 7).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn keys_become_files_under_their_segments_with_both_sizes() {
        let a = acc(3, 30, true);
        let b = acc(1, 5, false);
        let v = export(&[(b"/registry/pods/default/web", a), (b"/registry/pods/x", b)]);
        assert_eq!(v[0], 1);
        assert_eq!(v[1], 0);
        assert_eq!(v[2]["progname"], "etcd-autopsy");
        let root = &v[3];
        assert_eq!(root[0]["name"], "/");
        let registry = &root[1];
        assert_eq!(registry[0]["name"], "registry");
        let pods = &registry[1];
        assert_eq!(pods[0]["name"], "pods");
        assert_eq!(pods[1][0]["name"], "default");
        let web = &pods[1][1];
        assert_eq!(web["name"], "web");
        assert_eq!(web["dsize"], 26 * 3 + 30);
        assert_eq!(web["asize"], 26 + 1);
        assert_eq!(pods[2]["name"], "x");
        assert_eq!(pods[2]["asize"], 0, "a deleted key has no live bytes");
    }

    #[test]
    fn odd_names_and_very_deep_keys_stay_valid() {
        let a = acc(1, 1, true);
        let deep = "/x".repeat(10_000);
        let v = export(&[
            (b"/a", a),
            (b"/a/b", a),
            (b"/a//c", a),
            (b"/./..", a),
            (b"compact_rev_key", a),
            (deep.as_bytes(), a),
        ]);
        let root = v[3].as_array().unwrap();
        let names: Vec<String> = root[1..]
            .iter()
            .map(|e| {
                if e.is_array() {
                    format!("dir {}", e[0]["name"].as_str().unwrap())
                } else {
                    e["name"].as_str().unwrap().to_string()
                }
            })
            .collect();
        assert_eq!(
            names,
            ["dir %2E", "a (key)", "dir a", "dir x", "compact_rev_key"]
        );
        let a_dir = &root[3];
        assert_eq!(a_dir[1][0]["name"], "(empty)");
        assert_eq!(a_dir[2]["name"], "b");
        // The deep key nests MAX_DEPTH - 1 directories, then one file.
        let mut d = &root[4];
        let mut levels = 1;
        while d[1].is_array() {
            d = &d[1];
            levels += 1;
        }
        assert_eq!(levels, MAX_DEPTH - 1);
        assert!(d[1]["name"].as_str().unwrap().contains("%2F"));
    }
}
