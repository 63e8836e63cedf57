//! The keyspace of a db at a revision, read from the `key` bucket.
//!
//! The key bucket is ordered by revision, so a user key's revisions are spread over the
//! whole tree. One parallel pass over the leaf pages keeps, per user key, the newest
//! revision at or below R (a put or a tombstone) and the slice of its KeyValue; the live
//! keys are the ones whose newest revision is a put. A compaction at C keeps for every
//! key its newest revision <= C unless that one is a tombstone, and every revision above
//! C (FORMATS.md), so any R >= C can be read back exactly; R < C cannot, as etcd answers
//! "required revision has been compacted".

use super::state::{LiveKv, State};
use crate::cluster::{Alarm, AlarmType};
use crate::kv::KeyValueRef;
use crate::lease::{lease_id_from_key, Lease, LEASE_BUCKET};
use crate::newest::{key_hash, Newest, NewestTable, BATCH};
use crate::revision::{parse_rev_key, rev_lenient};
use crate::scan::chunk_pages;
use crate::{MetaInfo, KEY_BUCKET};
use bbolt_reader::{Db, Page};
use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Revisions of a db, as etcd would restore them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DbRevisions {
    /// The newest main revision in the key bucket, raised to the compact revision
    /// (etcd 3.4 `kvstore.restore`).
    pub current: i64,
    /// The compact revision etcd would use (-1 when never compacted).
    pub compact: i64,
}

/// Why a keyspace cannot be read at the revision asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The tree could not be walked.
    #[error("{0}")]
    Bolt(String),
    /// R is at or below the compact revision.
    #[error("required revision {rev} has been compacted (compact revision {compact})")]
    Compacted {
        /// Asked for.
        rev: i64,
        /// The db's compact revision.
        compact: i64,
    },
    /// R is above the newest revision.
    #[error("required revision {rev} is a future revision (newest {current})")]
    Future {
        /// Asked for.
        rev: i64,
        /// The db's newest revision.
        current: i64,
    },
}

/// A db's keyspace at one revision, with the counts of what could not be read.
#[derive(Debug)]
pub struct Loaded<'a> {
    /// The state (its `revision` is the revision read at).
    pub state: State<'a>,
    /// The db's own revisions.
    pub revisions: DbRevisions,
    /// Entries of the key bucket that are not a revision key with a KeyValue.
    pub malformed_entries: u64,
    /// Malformed leases.
    pub malformed_leases: u64,
}

/// The newest and compact revisions of `db`.
pub fn db_revisions(db: &Db<'_>, meta: &MetaInfo) -> Result<DbRevisions, LoadError> {
    Ok(revisions_in(&key_leaf_pages(db)?, meta))
}

/// The leaf pages of the key bucket in key order (none when there is no key bucket).
fn key_leaf_pages<'a>(db: &Db<'a>) -> Result<Vec<Page<'a>>, LoadError> {
    let bolt = |e: bbolt_reader::Error| LoadError::Bolt(e.to_string());
    match db.bucket(KEY_BUCKET).map_err(bolt)? {
        Some(b) => b.leaf_pages().map_err(bolt),
        None => Ok(Vec::new()),
    }
}

/// The revisions given the key bucket's leaf `pages`: the newest is the last readable
/// key of the last leaf that ends in one (the bucket is ordered by revision).
fn revisions_in(pages: &[Page<'_>], meta: &MetaInfo) -> DbRevisions {
    let compact = meta.effective_compact_rev();
    let mut newest = 0;
    for p in pages.iter().rev() {
        if let Some(Ok(el)) = p.leaf_elements().last() {
            newest = rev_lenient(el.key).map_or(0, |r| r.main);
            break;
        }
    }
    DbRevisions {
        current: newest.max(compact),
        compact,
    }
}

/// Per user key: newest revision <= R, tombstone flag, encoded KeyValue.
type NewestKv<'a> = NewestTable<'a, &'a [u8]>;

/// Offers every entry of `ps` at or below `rev` to `m`, counting in `bad` the entries
/// that do not read.
fn newest_chunk<'a>(m: &mut NewestKv<'a>, bad: &mut u64, ps: &[Page<'a>], rev: i64) {
    let mut batch = Vec::with_capacity(BATCH);
    for (j, p) in ps.iter().enumerate() {
        crate::hash::touch_ahead(ps, j);
        for el in p.leaf_elements() {
            let Ok(el) = el else {
                *bad += 1;
                continue;
            };
            let Ok(rk) = parse_rev_key(el.key) else {
                *bad += 1;
                continue;
            };
            if rk.rev.main > rev {
                continue;
            }
            let Some(key) = crate::hash::kv_key(el.value) else {
                *bad += 1;
                continue;
            };
            batch.push((key, key_hash(key), Newest::of(&rk, el.value)));
            if batch.len() >= BATCH {
                m.offer_all(&mut batch);
            }
        }
    }
    m.offer_all(&mut batch);
}

fn newest_entries<'a>(pages: &[Page<'a>], rev: i64) -> (NewestKv<'a>, u64) {
    let (acc, _) = crate::hash::fold_chunks(
        pages,
        chunk_pages(pages.len()),
        || (NewestKv::default(), 0u64),
        |(m, bad), ps| newest_chunk(m, bad, ps, rev),
        |(a, x), (b, y)| (NewestKv::merged(a, b), x + y),
    );
    acc
}

/// The revision a load reads at: `rev` (0 or none: the current one) checked against the
/// db's revisions as etcd checks a range's.
fn read_revision(rev: Option<i64>, revisions: &DbRevisions) -> Result<i64, LoadError> {
    match rev {
        None | Some(0) => Ok(revisions.current),
        Some(r) if r > revisions.current => Err(LoadError::Future {
            rev: r,
            current: revisions.current,
        }),
        // etcd refuses reads below the compact revision and serves the compact revision
        // itself (mvcc `rangeKeys`: rev < compactMainRev is ErrCompacted).
        Some(r) if r < revisions.compact => Err(LoadError::Compacted {
            rev: r,
            compact: revisions.compact,
        }),
        Some(r) => Ok(r),
    }
}

/// [`newest_entries`] with the key bucket's listing overlapped with the read
/// ([`crate::hash::stream_fold`]): the read needs the revision first, which the bucket's
/// rightmost leaf gives (its last entry, [`crate::scan::rightmost_leaf`]);
/// once the listing is complete, the revisions are taken from it as [`load_raw_at`]'s own
/// listing would give them and must be the same. `None` (the caller lists and reads one
/// after the other, as before) when the tree has any damage, the rightmost leaf's last
/// entry does not read, the revision is refused, or the listing's revisions differ.
fn streamed_newest<'a>(
    db: &Db<'a>,
    meta: &MetaInfo,
    rev: Option<i64>,
) -> Option<(DbRevisions, i64, NewestKv<'a>, u64)> {
    let bucket = db.bucket(KEY_BUCKET).ok()??;
    let page = crate::scan::rightmost_leaf(&bucket).ok()??;
    if !matches!(page.leaf_elements().last(), Some(Ok(_))) {
        return None;
    }
    let guessed = revisions_in(std::slice::from_ref(&page), meta);
    let at = read_revision(rev, &guessed).ok()?;
    let read = |(m, bad): &mut (NewestKv<'a>, u64), ps: &[Page<'a>]| newest_chunk(m, bad, ps, at);
    let ((newest, bad), _, pages) = crate::hash::stream_fold(
        &bucket,
        || (NewestKv::default(), 0u64),
        &read,
        |(a, x), (b, y)| (NewestKv::merged(a, b), x + y),
    )?;
    let revisions = revisions_in(&pages, meta);
    (revisions == guessed).then_some((revisions, at, newest, bad))
}

/// A live key with its KeyValue still encoded, both slices of the mapping: what
/// [`load_raw_at`] lists, so that a caller that reads each key once (`export`) decodes it
/// where it uses it instead of in a pass of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLive<'a> {
    /// The user key (inside `kv`).
    pub key: &'a [u8],
    /// The encoded KeyValue of the key's newest revision <= R.
    pub kv: &'a [u8],
}

impl<'a> RawLive<'a> {
    /// Asks the CPU to bring in the first two cache lines of the KeyValue (the key, the
    /// revisions and the value's start); only a hint, nothing is read.
    #[inline]
    pub fn prefetch(&self) {
        crate::scan::prefetch(self.kv.as_ptr());
        if self.kv.len() > 64 {
            crate::scan::prefetch(self.kv[64..].as_ptr());
        }
    }

    /// The decoded KeyValue; `None` when it does not decode (such a key is not live: the
    /// keyspace [`load_at`] builds leaves it out).
    #[inline]
    pub fn decode(&self) -> Option<LiveKv<'a>> {
        let kv = KeyValueRef::parse(self.kv).ok()?;
        Some(LiveKv {
            value: Cow::Borrowed(kv.value),
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
            lease: kv.lease,
        })
    }
}

/// Entries ahead of the one decoded whose KeyValue a pass in key order hints in early (the
/// crate's `read_ahead`).
pub const VALUES_AHEAD: usize = 8;

/// Asks the CPU for the first cache lines of the KeyValue of `live[j + VALUES_AHEAD]`.
///
/// In key order the KeyValues are scattered over the mapping: each is a cache (often a
/// TLB) miss. Asking for one some places on lets its miss overlap the work on entry `j`
/// instead of being waited for in turn.
#[inline]
fn read_ahead(live: &[RawLive<'_>], j: usize) {
    if let Some(r) = live.get(j + VALUES_AHEAD) {
        r.prefetch();
    }
}

/// The live keys of `newest` (newest revision a put) with their encoded KeyValue, in key
/// order, each key once (the table holds each key once).
///
/// The keys are slices scattered over the mapping, so comparing them directly misses the
/// cache at every comparison. Each key is first given a sort word: the 24 bytes after the
/// prefix all keys share (Kubernetes keys share `/registry/`), read from the copy of its
/// first bytes the table holds, zero-padded. Words order keys as their bytes do wherever
/// they differ; only keys with equal words are compared in full.
fn sorted_live<'a>(newest: &NewestKv<'a>) -> Vec<RawLive<'a>> {
    let heads = || newest.iter_heads().filter(|(_, _, n)| !n.tombstone);
    let shared = match heads().next() {
        None => 0,
        Some((_, first, _)) => heads().fold(first.len(), |l, (_, head, _)| {
            first[..l]
                .iter()
                .zip(head)
                .take_while(|(a, b)| a == b)
                .count()
        }),
    };
    let byte = |key: &[u8], head: &[u8], i: usize| -> u8 {
        match head.get(i) {
            Some(&b) => b,
            None => key.get(i).copied().unwrap_or(0),
        }
    };
    // One vector: each live key with its sort word, sorted, then turned into the list
    // in place (the words dropped).
    let mut order: Vec<([u64; 3], RawLive<'a>)> = heads()
        .map(|(key, head, n)| {
            let mut w = [0u64; 3];
            for (j, word) in w.iter_mut().enumerate() {
                let mut b = [0u8; 8];
                for (k, x) in b.iter_mut().enumerate() {
                    *x = byte(key, head, shared + 8 * j + k);
                }
                *word = u64::from_be_bytes(b);
            }
            (w, RawLive { key, kv: n.payload })
        })
        .collect();
    order.par_sort_unstable_by(|x, y| x.0.cmp(&y.0).then_with(|| x.1.key.cmp(y.1.key)));
    order.into_iter().map(|(_, r)| r).collect()
}

/// The decoded keyspace of `live` (in key order, each key once): decoded in parallel,
/// with the read-ahead of [`read_ahead`], and built into the tree in bulk.
#[allow(clippy::filter_map_identity)] // see the last line
fn decoded_keys<'a>(live: &[RawLive<'a>]) -> BTreeMap<Cow<'a, [u8]>, LiveKv<'a>> {
    let decoded: Vec<Option<(Cow<'a, [u8]>, LiveKv<'a>)>> = live
        .par_iter()
        .enumerate()
        .map(|(j, r)| {
            read_ahead(live, j);
            Some((Cow::Borrowed(r.key), r.decode()?))
        })
        .collect();
    // `filter_map` over the vector's own iterator is collected in place (`flatten` is
    // not: it would hold a second copy of the keyspace at the peak).
    decoded.into_iter().filter_map(|x| x).collect()
}

/// A db's keyspace at one revision with the live keys still encoded ([`RawLive`]): the
/// state has everything but its keys, which `live` holds.
#[derive(Debug)]
pub struct LoadedRaw<'a> {
    /// The state without its keys (`state.keys` is empty).
    pub state: State<'a>,
    /// The live keys in key order, each once.
    pub live: Vec<RawLive<'a>>,
    /// The db's own revisions.
    pub revisions: DbRevisions,
    /// Entries of the key bucket that are not a revision key with a KeyValue.
    pub malformed_entries: u64,
    /// Malformed leases.
    pub malformed_leases: u64,
}

impl<'a> LoadedRaw<'a> {
    /// The keyspace with its keys decoded into `state.keys` (what [`load_at`] returns).
    /// Runs on the current rayon pool.
    pub fn into_loaded(self) -> Loaded<'a> {
        let mut state = self.state;
        state.keys = decoded_keys(&self.live);
        drop(self.live);
        Loaded {
            state,
            revisions: self.revisions,
            malformed_entries: self.malformed_entries,
            malformed_leases: self.malformed_leases,
        }
    }
}

/// Reads the keyspace of `db` at `rev` (None = the newest). Runs on the current rayon pool.
pub fn load_at<'a>(
    db: &Db<'a>,
    meta: &MetaInfo,
    rev: Option<i64>,
) -> Result<Loaded<'a>, LoadError> {
    Ok(load_raw_at(db, meta, rev)?.into_loaded())
}

/// [`load_at`] with the live keys left encoded ([`LoadedRaw`]). Runs on the current rayon
/// pool.
pub fn load_raw_at<'a>(
    db: &Db<'a>,
    meta: &MetaInfo,
    rev: Option<i64>,
) -> Result<LoadedRaw<'a>, LoadError> {
    // On one thread the listing has nothing to overlap with (and the streamed read was
    // measured 2% slower there).
    let streamed = if rayon::current_num_threads() > 1 {
        streamed_newest(db, meta, rev)
    } else {
        None
    };
    let (revisions, rev, newest, malformed_entries) = match streamed {
        Some(r) => r,
        None => {
            // One listing of the key bucket's leaves serves both the newest revision and
            // the read.
            let pages = key_leaf_pages(db)?;
            let revisions = revisions_in(&pages, meta);
            let rev = read_revision(rev, &revisions)?;
            let (newest, bad) = newest_entries(&pages, rev);
            (revisions, rev, newest, bad)
        }
    };
    let bolt = |e: bbolt_reader::Error| LoadError::Bolt(e.to_string());
    let mut state = State {
        revision: rev,
        compact_revision: revisions.compact,
        ..State::default()
    };
    let live = sorted_live(&newest);
    drop(newest);
    let mut malformed_leases = 0;
    if let Some(b) = db.bucket(LEASE_BUCKET).map_err(bolt)? {
        for item in b.iter() {
            let item = item.map_err(bolt)?;
            match (lease_id_from_key(item.key), Lease::parse(item.value)) {
                (Some(id), Ok(l)) => {
                    state.leases.insert(id, l.ttl);
                }
                _ => malformed_leases += 1,
            }
        }
    }
    if let Some(b) = db.bucket(crate::cluster::ALARM_BUCKET).map_err(bolt)? {
        for item in b.iter() {
            let item = item.map_err(bolt)?;
            // etcd 3.4 `restoreAlarms`: any NOSPACE caps the applier, any CORRUPT stops it.
            match Alarm::parse(item.key) {
                Ok(a) if a.alarm == AlarmType::NoSpace => {
                    state.alarms.insert((a.member_id, 1));
                    state.nospace = true;
                }
                Ok(a) if a.alarm == AlarmType::Corrupt => {
                    state.alarms.insert((a.member_id, 2));
                    state.corrupt = true;
                }
                _ => {}
            }
        }
    }
    Ok(LoadedRaw {
        state,
        live,
        revisions,
        malformed_entries,
        malformed_leases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Key, main, sub, tombstone, encoded KeyValue.
    type Owned = (Vec<u8>, i64, i64, bool, Vec<u8>);

    /// Every key's newest entry <= the read revision, as comparable values.
    fn newest_list(t: &NewestKv<'_>) -> Vec<Owned> {
        let mut v: Vec<_> = t
            .iter()
            .map(|(k, n)| (k.to_vec(), n.main, n.sub, n.tombstone, n.payload.to_vec()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn the_streamed_read_equals_the_listed_read_at_any_revision_and_thread_count() {
        let names = crate::testdb::cycled_names("/registry/leases/n-", 3, 3000, 120);
        let entries = crate::testdb::one_revision_each(&names, b"lease-value", |i| i % 17 == 3);
        for compact in [None, Some(1500)] {
            let bytes = crate::testdb::build(&entries, compact);
            let db = Db::open(&bytes).unwrap();
            let meta = crate::info::read_info(&db).meta;
            let pages = key_leaf_pages(&db).unwrap();
            let listed = revisions_in(&pages, &meta);
            for rev in [None, Some(0), Some(1500), Some(2000), Some(listed.current)] {
                let Ok(at) = read_revision(rev, &listed) else {
                    continue;
                };
                let (want, want_bad) = newest_entries(&pages, at);
                for threads in [1, 2, 3] {
                    let got = crate::testdb::pool(threads)
                        .install(|| streamed_newest(&db, &meta, rev))
                        .expect("a sound tree is read streamed");
                    assert_eq!((got.0, got.1, got.3), (listed, at, want_bad));
                    assert_eq!(newest_list(&got.2), newest_list(&want), "rev {rev:?}");
                }
            }
            // Past the current revision and below the compact one: refused here, so the
            // listed read words the refusal.
            assert!(streamed_newest(&db, &meta, Some(listed.current + 1)).is_none());
            if compact.is_some() {
                assert!(streamed_newest(&db, &meta, Some(10)).is_none());
            }
        }
    }

    #[test]
    fn live_keys_come_out_in_byte_order_whatever_their_shared_prefix_and_length() {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for i in 0..300u32 {
            keys.push(format!("/registry/pods/ns-{}/p-{}", i % 3, i * 7919 % 1000).into_bytes());
        }
        // Keys that differ only past the copied head, prefixes of each other, a zero byte
        // where another key ends, and a key shorter than the shared prefix.
        let long = vec![b'/'; 80];
        let mut long2 = long.clone();
        long2.push(0);
        let mut long3 = long.clone();
        long3.push(1);
        keys.extend([
            long,
            long2,
            long3,
            b"/registry/pods/ns-1".to_vec(),
            b"/r".to_vec(),
        ]);
        keys.push(b"/registry/pods/ns-1/p-5\0".to_vec());
        keys.push(b"/registry/pods/ns-1/p-5".to_vec());
        let raw: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| {
                crate::kv::KeyValue {
                    key: k.clone(),
                    value: b"v".to_vec(),
                    create_revision: 2,
                    mod_revision: 3,
                    version: 1,
                    lease: 0,
                }
                .encode_to_vec_etcd()
            })
            .collect();
        for only_pods in [false, true] {
            let mut t = NewestKv::default();
            for (k, r) in keys.iter().zip(&raw) {
                if only_pods && !k.starts_with(b"/registry/pods/ns-1/") {
                    continue;
                }
                t.offer(
                    k,
                    Newest {
                        main: 3,
                        sub: 0,
                        tombstone: false,
                        payload: r,
                    },
                );
            }
            let live = sorted_live(&t);
            let got: Vec<Vec<u8>> = live.iter().map(|r| r.key.to_vec()).collect();
            let decoded: Vec<Vec<u8>> = decoded_keys(&live)
                .into_keys()
                .map(|k| k.into_owned())
                .collect();
            assert_eq!(decoded, got);
            let mut want: Vec<Vec<u8>> = t.iter().map(|(k, _)| k.to_vec()).collect();
            want.sort();
            assert_eq!(got, want);
        }
    }
}
