//! etcd's hashes, all CRC-32 Castagnoli (crc32c).
//!
//! - HashKV at revision R (etcd 3.4 `mvcc/kvstore.go` HashByRev): crc over the bytes
//!   "key", then, for each entry of the key bucket in order with main revision <= R, its
//!   bbolt key and value. Entries at or below the compact revision C are skipped unless
//!   they are in the "keep" set of R — per user key, its newest revision <= R, unless that
//!   one is a tombstone (`keyIndex.keep`) — and when the keep set is empty nothing is
//!   skipped. So for R > C an old revision <= C of a key that changed in (C, R] is left
//!   out, exactly as etcd does.
//! - Whole-db hash (etcd 3.4 `backend.Hash`, used by etcd-dump-db `hash` and by
//!   `etcdctl snapshot status`): for each top-level bucket in order, its name, then each
//!   key and value. `backend.Hash` skips `meta/consistent_index` (3.5+ also `meta/term`);
//!   snapshot status skips nothing.
//!
//! The key bucket is hashed in parallel chunks whose CRCs are joined in order with
//! `crc32c_combine`, so the result is the sequential CRC whatever the thread count.

use super::fasthash::FastMap;
use super::kv::{KeyValue, KeyValueRef};
use super::replay::Change;
use super::revision::{parse_rev_key, rev_lenient, Revision};
use super::scan::chunk_pages;
use bbolt_reader::{Bucket, Db, Page};
use rayon::prelude::*;

/// A CRC and the number of bytes it covers, joinable in order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Crc {
    /// crc32c of the bytes.
    pub crc: u32,
    /// Their count.
    pub len: u64,
}

impl Crc {
    /// Appends bytes.
    #[inline]
    pub fn update(&mut self, b: &[u8]) {
        self.crc = crc32c::crc32c_append(self.crc, b);
        self.len += b.len() as u64;
    }

    /// The CRC of `self` followed by `next`.
    pub fn then(self, next: Crc) -> Crc {
        if next.len == 0 {
            return self;
        }
        Crc {
            crc: crc32c::crc32c_combine(self.crc, next.crc, next.len as usize),
            len: self.len + next.len,
        }
    }
}

/// The result of [`hash_kv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct HashKv {
    /// The hash.
    pub hash: u32,
    /// The revision hashed at.
    pub revision: i64,
    /// The compact revision used.
    pub compact_revision: i64,
    /// Entries hashed.
    pub entries_hashed: u64,
    /// Entries at or below the compact revision left out by the keep rule.
    pub entries_skipped: u64,
}

/// Per user key: the newest revision <= R and whether it is a tombstone.
type Newest<'a> = FastMap<&'a [u8], (Revision, bool)>;

fn newest_at<'a>(pages: &[Page<'a>], rev: i64, per: usize) -> Newest<'a> {
    pages
        .par_chunks(per)
        .fold(Newest::default, |mut m, ps| {
            for p in ps {
                for el in p.leaf_elements().flatten() {
                    let Ok(rk) = parse_rev_key(el.key) else {
                        continue;
                    };
                    if rk.rev.main > rev {
                        continue;
                    }
                    let Ok(kv) = KeyValueRef::parse(el.value) else {
                        continue;
                    };
                    let cand = (rk.rev, rk.tombstone);
                    m.entry(kv.key)
                        .and_modify(|e| {
                            if cand > *e {
                                *e = cand
                            }
                        })
                        .or_insert(cand);
                }
            }
            m
        })
        .reduce(Newest::default, |mut a, mut b| {
            if b.len() > a.len() {
                std::mem::swap(&mut a, &mut b);
            }
            for (k, v) in b {
                a.entry(k)
                    .and_modify(|e| {
                        if v > *e {
                            *e = v
                        }
                    })
                    .or_insert(v);
            }
            a
        })
}

/// etcd's HashKV over the key bucket at `rev` with compact revision `compact_rev`.
/// Runs on the current rayon pool. `progress` gets leaf pages done (twice over when a
/// keep set is needed).
pub fn hash_kv(
    key_bucket: Option<&Bucket<'_>>,
    rev: i64,
    compact_rev: i64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<HashKv, bbolt_reader::Error> {
    let mut head = Crc::default();
    head.update(super::KEY_BUCKET);
    let pages = match key_bucket {
        Some(b) => b.leaf_pages()?,
        None => Vec::new(),
    };
    let per = chunk_pages(pages.len());
    // The keep set only matters for entries at or below the compact revision.
    let newest = if compact_rev > 0 {
        let m = newest_at(&pages, rev, per);
        progress(pages.len() as u64);
        Some(m)
    } else {
        None
    };
    let keep_nonempty = newest
        .as_ref()
        .is_some_and(|m| m.values().any(|&(_, tomb)| !tomb));
    let parts: Vec<(Crc, u64, u64)> = pages
        .par_chunks(per)
        .map(|ps| {
            let mut c = Crc::default();
            let mut hashed = 0u64;
            let mut skipped = 0u64;
            for p in ps {
                for el in p.leaf_elements().flatten() {
                    // etcd reads main and sub from the first 17 bytes without checks.
                    let Some(kr) = rev_lenient(el.key) else {
                        continue;
                    };
                    if kr.main > rev {
                        continue;
                    }
                    if kr.main <= compact_rev && keep_nonempty {
                        let kept = match (&newest, KeyValueRef::parse(el.value)) {
                            (Some(m), Ok(kv)) => {
                                let tomb = el.key.len() > 17;
                                m.get(kv.key)
                                    .is_some_and(|&(r, t)| r == kr && t == tomb && !t)
                            }
                            _ => false,
                        };
                        if !kept {
                            skipped += 1;
                            continue;
                        }
                    }
                    c.update(el.key);
                    c.update(el.value);
                    hashed += 1;
                }
            }
            progress(ps.len() as u64);
            (c, hashed, skipped)
        })
        .collect();
    let mut total = head;
    let mut hashed = 0;
    let mut skipped = 0;
    for (c, h, s) in parts {
        total = total.then(c);
        hashed += h;
        skipped += s;
    }
    Ok(HashKv {
        hash: total.crc,
        revision: rev,
        compact_revision: compact_rev,
        entries_hashed: hashed,
        entries_skipped: skipped,
    })
}

/// The result of [`hash_db`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DbHash {
    /// The hash.
    pub hash: u32,
    /// Main revision of the key bucket's last entry (snapshot status "revision").
    pub revision: i64,
    /// Entries in all buckets (snapshot status "totalKey").
    pub total_key: u64,
}

/// Which entries the whole-db hash skips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbHashMode {
    /// `etcdctl snapshot status`: nothing skipped.
    SnapshotStatus,
    /// etcd's `backend.Hash(DefaultIgnores)` / etcd-dump-db `hash`: meta's consistent
    /// index (and, for 3.5+ files, term) skipped.
    DumpDb,
}

/// Hashes every top-level bucket in order. Runs on the current rayon pool.
pub fn hash_db(
    db: &Db<'_>,
    mode: DbHashMode,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<DbHash, bbolt_reader::Error> {
    let mut total = Crc::default();
    let mut total_key = 0u64;
    let mut revision = 0i64;
    let root = db.root();
    for item in root.iter() {
        let item = item?;
        let name = item.key;
        let bucket = root.bucket(name)?;
        let Some(bucket) = bucket else { continue };
        total.update(name);
        if name == super::KEY_BUCKET {
            let pages = bucket.leaf_pages()?;
            let per = chunk_pages(pages.len());
            let parts: Vec<(Crc, u64)> = pages
                .par_chunks(per)
                .map(|ps| {
                    let mut c = Crc::default();
                    let mut n = 0;
                    for p in ps {
                        for el in p.leaf_elements().flatten() {
                            c.update(el.key);
                            if !el.is_bucket() {
                                c.update(el.value);
                            }
                            n += 1;
                        }
                    }
                    progress(ps.len() as u64);
                    (c, n)
                })
                .collect();
            for (c, n) in parts {
                total = total.then(c);
                total_key += n;
            }
            if let Some(last) = pages.last() {
                if let Some(Ok(el)) = last.leaf_elements().last() {
                    revision = rev_lenient(el.key).map_or(0, |r| r.main);
                }
            }
            continue;
        }
        for kv in bucket.iter() {
            let kv = kv?;
            total_key += 1;
            if mode == DbHashMode::DumpDb
                && name == super::meta::META_BUCKET
                && (kv.key == super::meta::CONSISTENT_INDEX_KEY || kv.key == super::meta::TERM_KEY)
            {
                continue;
            }
            total.update(kv.key);
            if !kv.is_bucket() {
                total.update(kv.value);
            }
        }
    }
    Ok(DbHash {
        hash: total.crc,
        revision,
        total_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_crcs_equal_the_sequential_crc() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + 3) as u8).collect();
        let whole = crc32c::crc32c(&data);
        let mut a = Crc::default();
        a.update(&data[..1234]);
        let mut b = Crc::default();
        b.update(&data[1234..]);
        assert_eq!(a.then(b).crc, whole);
        assert_eq!(a.then(Crc::default()), a);
    }
}

#[cfg(test)]
mod keep_rule_tests {
    use super::*;
    use crate::testdb::{build, encode, Entry};

    fn expected(entries: &[Entry<'_>]) -> u32 {
        let mut c = Crc::default();
        c.update(b"key");
        for e in entries {
            let (k, v) = encode(e);
            c.update(&k);
            c.update(&v);
        }
        c.crc
    }

    fn hashkv(db: &[u8], rev: i64, compact: i64) -> HashKv {
        let db = Db::open(db).unwrap();
        let b = db.bucket(b"key").unwrap().unwrap();
        hash_kv(Some(&b), rev, compact, &|_| {}).unwrap()
    }

    const A2: Entry<'static> = (2, "/a", Some(b"a-v1"), 0);
    const B3: Entry<'static> = (3, "/b", Some(b"b-v1"), 0);
    const A4: Entry<'static> = (4, "/a", Some(b"a-v2"), 0);
    const B5: Entry<'static> = (5, "/b", None, 0);
    const C6: Entry<'static> = (6, "/c", Some(b"c-v1"), 7);
    const A7: Entry<'static> = (7, "/a", Some(b"a-v3"), 0);

    #[test]
    fn without_compaction_every_revision_up_to_r_is_hashed() {
        let all = [A2, B3, A4, B5, C6, A7];
        let db = build(&all, None);
        assert_eq!(hashkv(&db, 7, -1).hash, expected(&all));
        assert_eq!(hashkv(&db, 5, -1).hash, expected(&all[..4]));
    }

    #[test]
    fn a_tombstone_at_the_compact_revision_and_superseded_revisions_are_left_out() {
        // Compacted at 5, the revision of /b's delete: /b's newest revision at or below R is
        // a tombstone, so none of its revisions is kept; /a's newest at or below R = 7 is 7,
        // so its versions 2 and 4 (both <= 5) are left out too.
        let all = [A2, B3, A4, B5, C6, A7];
        let db = build(&all, Some(5));
        let h = hashkv(&db, 7, 5);
        assert_eq!(h.hash, expected(&[C6, A7]));
        assert_eq!(h.entries_skipped, 4);
        // The same keyspace after etcd's compaction deleted those entries hashes the same.
        let compacted = build(&[A4, C6, A7], Some(5));
        assert_eq!(hashkv(&compacted, 7, 5).hash, h.hash);
    }

    #[test]
    fn below_r_the_keep_set_is_taken_at_r_not_at_the_compact_revision() {
        // At R = 6 (> C = 3) the keep set is each key's newest revision <= 6: /a@4 and
        // /c@6 (/b's is its delete). So /a@2 and /b@3 (<= C) are left out, although a
        // compaction at 3 keeps both; every revision above C is hashed.
        let all = [A2, B3, A4, B5, C6, A7];
        let db = build(&all, Some(3));
        assert_eq!(hashkv(&db, 6, 3).hash, expected(&[A4, B5, C6]));
        // /b: newest <= 4 is its put at 3, which stays.
        assert_eq!(hashkv(&db, 4, 3).hash, expected(&[B3, A4]));
    }

    #[test]
    fn an_empty_keep_set_hashes_everything_up_to_r() {
        // Every key is deleted at or below R: nothing to keep, and etcd then skips nothing.
        let x2: Entry<'_> = (2, "/x", Some(b"x"), 0);
        let x3: Entry<'_> = (3, "/x", None, 0);
        let db = build(&[x2, x3], Some(3));
        assert_eq!(hashkv(&db, 3, 3).hash, expected(&[x2, x3]));
    }

    #[test]
    fn whole_db_hash_skips_the_consistent_index_only_in_dump_db_mode() {
        let db = build(&[A2], None);
        let db = Db::open(&db).unwrap();
        let full = hash_db(&db, DbHashMode::SnapshotStatus, &|_| {}).unwrap();
        let dump = hash_db(&db, DbHashMode::DumpDb, &|_| {}).unwrap();
        assert_ne!(full.hash, dump.hash);
        assert_eq!(full.total_key, 2);
        assert_eq!(full.revision, 2);
        let mut c = Crc::default();
        c.update(b"key");
        let (k, v) = encode(&A2);
        c.update(&k);
        c.update(&v);
        c.update(b"meta");
        assert_eq!(dump.hash, c.crc);
    }
}

/// The bbolt key and value etcd writes for one replayed [`Change`]: the revision key
/// (18 bytes with the tombstone mark for a delete) and the marshalled mvccpb.KeyValue
/// (a tombstone's value holds only the key, etcd `kvstore_txn.go` delete).
pub fn change_entry(c: &Change<'_>) -> (Vec<u8>, Vec<u8>) {
    let rev = Revision::new(c.main, c.sub);
    match &c.kv {
        Some(kv) => (
            rev.to_bytes().to_vec(),
            KeyValue {
                key: c.key.to_vec(),
                create_revision: kv.create_revision,
                mod_revision: kv.mod_revision,
                version: kv.version,
                value: kv.value.to_vec(),
                lease: kv.lease,
            }
            .encode_to_vec_etcd(),
        ),
        None => (
            rev.to_tombstone_bytes().to_vec(),
            KeyValue {
                key: c.key.to_vec(),
                ..KeyValue::default()
            }
            .encode_to_vec_etcd(),
        ),
    }
}

/// etcd's HashKV at `rev` with compact revision `compact_rev` over the key bucket
/// followed by `tail`: the revisions a WAL replay wrote after the db's newest one, in
/// order ([`crate::replay::State::changes`]). What the member would report once it has
/// applied that tail on start. Same keep rule as [`hash_kv`], taken over both parts.
pub fn hash_kv_with_tail(
    key_bucket: Option<&Bucket<'_>>,
    tail: &[Change<'_>],
    rev: i64,
    compact_rev: i64,
) -> Result<HashKv, bbolt_reader::Error> {
    let pages = match key_bucket {
        Some(b) => b.leaf_pages()?,
        None => Vec::new(),
    };
    let tail_entries: Vec<(Vec<u8>, Vec<u8>)> = tail.iter().map(change_entry).collect();
    // Every entry in revision order: the db's, then the tail's (all newer).
    let mut db_entries: Vec<(&[u8], &[u8])> = Vec::new();
    for p in &pages {
        // Elements that do not decode are left out, as in [`hash_kv`].
        for e in p.leaf_elements().flatten() {
            db_entries.push((e.key, e.value));
        }
    }
    let all = || {
        db_entries.iter().copied().chain(
            tail_entries
                .iter()
                .map(|(k, v)| (k.as_slice(), v.as_slice())),
        )
    };
    // Keep set at `rev`: per user key its newest revision <= rev, unless a tombstone.
    let mut newest: FastMap<Vec<u8>, (Revision, bool)> = FastMap::default();
    if compact_rev > 0 {
        for (k, v) in all() {
            let Ok(rk) = parse_rev_key(k) else { continue };
            if rk.rev.main > rev {
                continue;
            }
            let Ok(kv) = KeyValueRef::parse(v) else {
                continue;
            };
            let slot = newest
                .entry(kv.key.to_vec())
                .or_insert((rk.rev, rk.tombstone));
            if rk.rev >= slot.0 {
                *slot = (rk.rev, rk.tombstone);
            }
        }
    }
    let keep: std::collections::HashSet<Revision> = newest
        .values()
        .filter(|(_, tomb)| !tomb)
        .map(|(r, _)| *r)
        .collect();
    let mut crc = Crc::default();
    crc.update(super::KEY_BUCKET);
    let (mut hashed, mut skipped) = (0u64, 0u64);
    for (k, v) in all() {
        let Some(r) = rev_lenient(k) else { continue };
        if r.main > rev {
            continue;
        }
        if r.main <= compact_rev && !keep.is_empty() && !keep.contains(&r) {
            skipped += 1;
            continue;
        }
        crc.update(k);
        crc.update(v);
        hashed += 1;
    }
    Ok(HashKv {
        hash: crc.crc,
        revision: rev,
        compact_revision: compact_rev,
        entries_hashed: hashed,
        entries_skipped: skipped,
    })
}
