//! The etcd model, as a library: how etcd lays its keyspace, leases, membership and
//! bookkeeping into bbolt buckets, decoded without copying, and what can be computed from
//! it offline — HashKV and the whole-db hash, per-prefix and space accounting, the size a
//! defrag would produce, the keyspace at a revision, the WAL's committed tail replayed on
//! it, and salvage of a damaged db into a fresh one. Facts are cited from etcd 3.4's
//! source (`mvcc/`, `lease/`, `auth/`, `etcdserver/api/membership`) in each module.
//!
//! The crate composes [`bbolt_reader`] (the file), [`wal_reader`] (the WAL and `.snap`
//! files) and [`bbolt_writer`] (salvage's output); it has no command-line, terminal or
//! progress-bar code. Inputs are opened through [`member`]: a data dir, a `member/` dir,
//! a bare db or an `etcdctl snapshot save` file.
//!
//! Bucket names, all in [`buckets`]: `key`, `meta`, `lease`, `alarm`, `cluster`, `members`,
//! `members_removed`, `auth`, `authUsers`, `authRoles`.

//!
//! # Example
//!
//! HashKV and the keyspace after the WAL's committed tail, of a member that was killed:
//!
//! ```
//! # fn main() -> Result<(), etcd_mvcc::Error> {
//! let member = etcd_mvcc::Member::open("../fixtures/killed/data")?;
//! let hash = member.hash_kv(None)?; // equal to `etcdctl endpoint hashkv` on it
//! let restarted = member.keyspace_at(None).with_wal_replayed().load()?;
//! println!("hashkv {} at {}; {} live keys after a restart", hash.hash, hash.revision, restarted.keys.len());
//! assert!(restarted.revision > hash.revision);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod advice;
pub mod auth;
pub mod buckets;
pub mod cluster;
pub mod defrag;
pub mod display;
pub mod dumpdb;
pub mod error;
pub mod fasthash;
pub mod finding;
pub mod hash;
pub mod info;
pub mod k8s;
pub mod keytree;
pub mod kv;
pub mod layout;
pub mod lease;
pub mod member;
pub mod members;
pub mod meta;
pub mod newest;
pub mod open;
pub mod pagemap;
pub mod proto;
pub mod raft_meta;
pub mod replay;
pub mod report;
pub mod revision;
pub mod salvage;
pub mod scan;
pub mod space;
pub mod upgrade;
pub mod verdict;
pub mod version;

#[cfg(test)]
mod hostile_tests;

pub use auth::User;
pub use cluster::{parse_member, Alarm, AlarmType, MemberRecord};
pub use error::{Error, Result};
pub use kv::{KeyValue, KeyValueRef};
pub use lease::Lease;
pub use meta::MetaInfo;
pub use open::{KeyspaceAt, Member};
pub use proto::ProtoError;
pub use revision::{parse_rev_key, parse_revision, RevKey, RevKeyError, Revision};

pub use buckets::{KEY_BUCKET, KNOWN_BUCKETS};

/// The prefix of `key` at `depth`: up to and including its `depth`-th '/'; a key with
/// fewer '/' maps to the key up to and including its last '/', or to "" when it has
/// none. Depth 0 maps every key to "".
pub fn prefix_at_depth(key: &[u8], depth: usize) -> &[u8] {
    let (end, _) = slashes(key, depth);
    &key[..end]
}

/// The prefix of `bytes` up to and including its `depth`-th '/', when `bytes` has that
/// many: then it is the [`prefix_at_depth`] of any key that starts with `bytes`. When it
/// has fewer, `Err` holds `bytes`' own [`prefix_at_depth`] (the key's, if `bytes` is the
/// whole key).
pub(crate) fn full_prefix_at_depth(
    bytes: &[u8],
    depth: usize,
) -> std::result::Result<&[u8], &[u8]> {
    match slashes(bytes, depth) {
        (end, true) => Ok(&bytes[..end]),
        (end, false) => Err(&bytes[..end]),
    }
}

/// Where the prefix of `key` at `depth` ends, and whether `depth` '/' were found.
#[inline]
fn slashes(key: &[u8], depth: usize) -> (usize, bool) {
    let mut end = 0;
    for _ in 0..depth {
        match find_slash(&key[end..]) {
            Some(i) => end += i + 1,
            None => return (end, false),
        }
    }
    (end, true)
}

/// The index of the first '/' in `s`, eight bytes at a time.
pub(crate) fn find_slash(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = s.chunks_exact(8);
    let mut at = 0;
    for c in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        // Bytes equal to '/' become zero; the lowest flagged byte is the first zero one
        // (a flag above a zero byte can be false, never one below it).
        let x = u64::from_le_bytes(a) ^ (ONES * u64::from(b'/'));
        let z = x.wrapping_sub(ONES) & !x & HIGH;
        if z != 0 {
            return Some(at + (z.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b'/')
        .map(|i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_follows_the_depth_rule() {
        assert_eq!(
            prefix_at_depth(b"/registry/pods/default/x", 3),
            b"/registry/pods/"
        );
        assert_eq!(
            prefix_at_depth(b"/registry/pods/default/x", 4),
            b"/registry/pods/default/"
        );
        assert_eq!(prefix_at_depth(b"/registry/ns", 3), b"/registry/");
        assert_eq!(prefix_at_depth(b"compact_rev_key", 3), b"");
        assert_eq!(prefix_at_depth(b"/a/b/c/d/e", 1), b"/");
        assert_eq!(prefix_at_depth(b"abc/", 3), b"abc/");
        assert_eq!(prefix_at_depth(b"x", 0), b"");
    }

    #[test]
    fn a_full_prefix_needs_all_its_slashes() {
        assert_eq!(
            full_prefix_at_depth(b"/registry/pods/def", 3),
            Ok(&b"/registry/pods/"[..])
        );
        assert_eq!(
            full_prefix_at_depth(b"/registry/pods", 3),
            Err(&b"/registry/"[..])
        );
        assert_eq!(
            full_prefix_at_depth(b"/registry/", 2),
            Ok(&b"/registry/"[..])
        );
        assert_eq!(full_prefix_at_depth(b"", 0), Ok(&b""[..]));
        assert_eq!(full_prefix_at_depth(b"", 1), Err(&b""[..]));
    }
}

/// Builds small etcd-layout dbs for unit tests.
#[cfg(test)]
pub(crate) mod testdb {
    use super::kv::KeyValue;
    use super::revision::Revision;
    use prost::Message;

    /// One key-bucket entry: (main revision, user key, value, lease); `None` value = delete.
    pub type Entry<'a> = (i64, &'a str, Option<&'a [u8]>, i64);

    /// The page size of the db in `bytes` and the page ids of its key bucket's leaves, in
    /// key order (for tests that damage chosen leaves).
    pub fn key_leaves(bytes: &[u8]) -> (usize, Vec<u64>) {
        let db = bbolt_reader::Db::open(bytes).unwrap();
        let key = db.bucket(b"key").unwrap().unwrap();
        let leaves = key.leaf_pages().unwrap().iter().map(|p| p.pgid()).collect();
        (db.page_size(), leaves)
    }

    /// Forges the element count in the header of page `pgid` to 65,535: elements past the
    /// end of the page.
    pub fn forge_element_count(bytes: &mut [u8], page_size: usize, pgid: u64) {
        let off = pgid as usize * page_size + 10;
        bytes[off..off + 2].copy_from_slice(&u16::MAX.to_le_bytes());
    }

    /// A rayon pool of `threads` threads, for tests that check a result does not depend
    /// on the thread count.
    pub fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    /// The bbolt key and KeyValue bytes etcd writes for `e` (create revision and version
    /// are not tracked: tests here do not read them).
    pub fn encode(e: &Entry<'_>) -> (Vec<u8>, Vec<u8>) {
        let (rev, key, value, lease) = *e;
        let r = Revision::new(rev, 0);
        match value {
            Some(v) => (
                r.to_bytes().to_vec(),
                KeyValue {
                    key: key.as_bytes().to_vec(),
                    create_revision: rev,
                    mod_revision: rev,
                    version: 1,
                    value: v.to_vec(),
                    lease,
                }
                .encode_to_vec(),
            ),
            None => (
                r.to_tombstone_bytes().to_vec(),
                KeyValue {
                    key: key.as_bytes().to_vec(),
                    ..Default::default()
                }
                .encode_to_vec(),
            ),
        }
    }

    /// Key names for a history of rewrites: the `i`-th of `n` is `prefix` followed by
    /// `i % keys`, zero-padded to `width` digits.
    pub fn cycled_names(prefix: &str, width: usize, n: usize, keys: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("{prefix}{:0width$}", i % keys))
            .collect()
    }

    /// One revision for each of `names`, from revision 2 on: a delete where `deleted` holds
    /// for the name's index, otherwise a put of `value`; no leases.
    pub fn one_revision_each<'a>(
        names: &'a [String],
        value: &'a [u8],
        deleted: impl Fn(usize) -> bool,
    ) -> Vec<Entry<'a>> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (i as i64 + 2, n.as_str(), (!deleted(i)).then_some(value), 0))
            .collect()
    }

    /// A db with a key bucket of `entries` (in revision order) and a meta bucket with
    /// `finishedCompactRev` = `compact` when given. Small pages (512 bytes) so that a
    /// handful of entries spreads over several leaf pages.
    pub fn build(entries: &[Entry<'_>], compact: Option<i64>) -> Vec<u8> {
        build_with_values(entries, compact, |_, v| v)
    }

    /// [`build`], with the value of the `i`-th entry written as `value(i, its KeyValue)`
    /// (for tests that damage chosen values).
    pub fn build_with_values(
        entries: &[Entry<'_>],
        compact: Option<i64>,
        value: impl Fn(usize, Vec<u8>) -> Vec<u8>,
    ) -> Vec<u8> {
        let opts = bbolt_writer::Options {
            page_size: 512,
            ..Default::default()
        };
        let mut w = bbolt_writer::BoltWriter::new(std::io::Cursor::new(Vec::new()), opts).unwrap();
        w.begin_bucket(b"key").unwrap();
        for (i, e) in entries.iter().enumerate() {
            let (k, v) = encode(e);
            w.put(&k, &value(i, v)).unwrap();
        }
        w.end_bucket().unwrap();
        w.begin_bucket(b"meta").unwrap();
        w.put(b"consistent_index", &9u64.to_be_bytes()).unwrap();
        if let Some(c) = compact {
            w.put(b"finishedCompactRev", &Revision::new(c, 0).to_bytes())
                .unwrap();
        }
        w.end_bucket().unwrap();
        w.finish().unwrap().0.into_inner()
    }
}
