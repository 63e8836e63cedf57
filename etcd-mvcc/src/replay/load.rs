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
use crate::newest::{Newest, NewestTable};
use crate::kv::KeyValueRef;
use crate::lease::{lease_id_from_key, Lease, LEASE_BUCKET};
use crate::revision::{parse_rev_key, rev_lenient};
use crate::scan::chunk_pages;
use crate::{MetaInfo, KEY_BUCKET};
use bbolt_reader::{Db, Page};
use rayon::prelude::*;
use std::borrow::Cow;

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

fn newest_entries<'a>(pages: &[Page<'a>], rev: i64) -> (NewestKv<'a>, u64) {
    pages
        .par_chunks(chunk_pages(pages.len()))
        .fold(
            || (NewestKv::default(), 0u64),
            |(mut m, mut bad), ps| {
                for p in ps {
                    for el in p.leaf_elements() {
                        let Ok(el) = el else {
                            bad += 1;
                            continue;
                        };
                        let Ok(rk) = parse_rev_key(el.key) else {
                            bad += 1;
                            continue;
                        };
                        if rk.rev.main > rev {
                            continue;
                        }
                        let Ok(kv) = KeyValueRef::parse(el.value) else {
                            bad += 1;
                            continue;
                        };
                        m.offer(
                            kv.key,
                            Newest {
                                main: rk.rev.main,
                                sub: rk.rev.sub,
                                tombstone: rk.tombstone,
                                payload: el.value,
                            },
                        );
                    }
                }
                (m, bad)
            },
        )
        .reduce(
            || (NewestKv::default(), 0),
            |(a, x), (b, y)| (NewestKv::merged(a, b), x + y),
        )
}

/// Reads the keyspace of `db` at `rev` (None = the newest). Runs on the current rayon pool.
pub fn load_at<'a>(
    db: &Db<'a>,
    meta: &MetaInfo,
    rev: Option<i64>,
) -> Result<Loaded<'a>, LoadError> {
    // One listing of the key bucket's leaves serves both the newest revision and the read.
    let pages = key_leaf_pages(db)?;
    let revisions = revisions_in(&pages, meta);
    let rev = match rev {
        None | Some(0) => revisions.current,
        Some(r) if r > revisions.current => {
            return Err(LoadError::Future {
                rev: r,
                current: revisions.current,
            })
        }
        // etcd refuses reads below the compact revision and serves the compact revision
        // itself (mvcc `rangeKeys`: rev < compactMainRev is ErrCompacted).
        Some(r) if r < revisions.compact => {
            return Err(LoadError::Compacted {
                rev: r,
                compact: revisions.compact,
            })
        }
        Some(r) => r,
    };
    let bolt = |e: bbolt_reader::Error| LoadError::Bolt(e.to_string());
    let mut state = State {
        revision: rev,
        compact_revision: revisions.compact,
        ..State::default()
    };
    let (newest, malformed_entries) = newest_entries(&pages, rev);
    // Sorted once and built in bulk: inserting key by key would compare every key with
    // log(n) others in the tree.
    let mut live: Vec<(Cow<'a, [u8]>, LiveKv<'a>)> = newest
        .iter()
        .filter(|(_, n)| !n.tombstone)
        .filter_map(|(key, n)| {
            let kv = KeyValueRef::parse(n.payload).ok()?;
            Some((
                Cow::Borrowed(key),
                LiveKv {
                    value: Cow::Borrowed(kv.value),
                    create_revision: kv.create_revision,
                    mod_revision: kv.mod_revision,
                    version: kv.version,
                    lease: kv.lease,
                },
            ))
        })
        .collect();
    drop(newest);
    live.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
    state.keys = live.into_iter().collect();
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
    Ok(Loaded {
        state,
        revisions,
        malformed_entries,
        malformed_leases,
    })
}
