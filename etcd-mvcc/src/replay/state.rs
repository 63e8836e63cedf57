//! The live keyspace as etcd's MVCC store holds it at one revision: per user key the
//! current generation's value and bookkeeping, the leases, the current and compact
//! revisions and the alarms that change what the applier accepts.
//!
//! Rules modelled (etcd 3.4 `mvcc/kvstore_txn.go` put/deleteRange/End, `lease/lessor.go`):
//! - a put of a key that is live keeps its create revision and adds one to its version;
//!   a put of an absent (or deleted) key starts a generation: create = mod = the
//!   revision, version 1;
//! - every change of one write transaction carries the same main revision; the store's
//!   revision goes up by one when the transaction ends with at least one change, and not
//!   at all otherwise (a delete that matched nothing changes nothing);
//! - a range end of one zero byte means "every key from `key` on"; an empty range end
//!   means the single key `key` (etcd `mkGteRange`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Bound;

/// Bytes either borrowed from the mapped db or owned (written by a replayed request).
pub type Bytes<'a> = Cow<'a, [u8]>;

/// One live key's current generation (an `mvccpb.KeyValue` without the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveKv<'a> {
    /// The value.
    pub value: Bytes<'a>,
    /// Main revision that created this generation.
    pub create_revision: i64,
    /// Main revision of the last change.
    pub mod_revision: i64,
    /// Changes since creation (1 = just created).
    pub version: i64,
    /// Lease the key is attached to, 0 for none.
    pub lease: i64,
}

/// One revision a write transaction wrote, in the order etcd writes them: main revision
/// of the transaction, sub revision = the change's position in it (etcd
/// `kvstore_txn.go`: `sub = len(tw.changes)`), the user key, and its KeyValue after the
/// change (`None`: a tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change<'a> {
    /// Main revision.
    pub main: i64,
    /// Sub revision.
    pub sub: i64,
    /// User key.
    pub key: Bytes<'a>,
    /// The key's generation after a put; `None` for a delete.
    pub kv: Option<LiveKv<'a>>,
}

/// Which keys a request names (etcd's key / range_end pair).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRange<'r> {
    /// Exactly one key (empty range end).
    Single(&'r [u8]),
    /// Every key >= the start (range end "\0").
    From(&'r [u8]),
    /// Keys in [start, end).
    Between(&'r [u8], &'r [u8]),
}

impl<'r> KeyRange<'r> {
    /// The range a request's `key` and `range_end` fields name.
    pub fn new(key: &'r [u8], range_end: &'r [u8]) -> Self {
        match range_end {
            [] => KeyRange::Single(key),
            [0] => KeyRange::From(key),
            end => KeyRange::Between(key, end),
        }
    }
}

/// The keyspace and what goes with it.
#[derive(Debug, Clone, Default)]
pub struct State<'a> {
    /// Live keys in key order.
    pub keys: BTreeMap<Bytes<'a>, LiveKv<'a>>,
    /// Leases: ID -> granted TTL in seconds.
    pub leases: BTreeMap<i64, i64>,
    /// The store's current revision.
    pub revision: i64,
    /// The compact revision (-1 when never compacted).
    pub compact_revision: i64,
    /// Raised alarms: (member ID, alarm type number: 1 NOSPACE, 2 CORRUPT).
    pub alarms: std::collections::BTreeSet<(u64, i32)>,
    /// The applier is capped (a NOSPACE alarm): puts, txns with puts and lease grants are
    /// refused.
    pub nospace: bool,
    /// The applier refuses everything (a CORRUPT alarm).
    pub corrupt: bool,
    /// Keys visited so far by txn compares over ranges and by lease revokes: work that is
    /// not paid for by a change to the keyspace, so a hostile WAL (millions of compares
    /// over every key) could make it quadratic. Bounded by [`MAX_RANGE_WORK`].
    pub range_work: u64,
    /// When `Some`, every revision written is appended here (for hashing the replayed
    /// history, `hash --replay-wal`); `None` (the default) records nothing.
    pub changes: Option<Vec<Change<'a>>>,
}

/// Keys one replay may visit in compares and lease revokes before it refuses further
/// txns and revokes ("replay work limit reached"): far above what a real WAL needs (each
/// compare of a real txn reads a key or a small range), far below an endless replay.
pub const MAX_RANGE_WORK: u64 = 1 << 28;

impl<'a> State<'a> {
    /// Live keys in `r`, in key order.
    pub fn range<'s>(
        &'s self,
        r: KeyRange<'_>,
    ) -> Box<dyn Iterator<Item = (&'s Bytes<'a>, &'s LiveKv<'a>)> + 's> {
        match r {
            KeyRange::Single(k) => Box::new(self.keys.get_key_value(k).into_iter()),
            KeyRange::From(k) => Box::new(
                self.keys
                    .range::<[u8], _>((Bound::Included(k), Bound::Unbounded)),
            ),
            // BTreeMap::range refuses start > end; etcd simply finds nothing.
            KeyRange::Between(k, e) if k >= e => Box::new(std::iter::empty()),
            KeyRange::Between(k, e) => Box::new(
                self.keys
                    .range::<[u8], _>((Bound::Included(k), Bound::Excluded(e))),
            ),
        }
    }

    /// Starts a write transaction at the next revision.
    pub fn write(&mut self) -> WriteTxn<'_, 'a> {
        WriteTxn {
            // A hostile db can hold any revision; etcd would wrap, we stop at the top.
            rev: self.revision.saturating_add(1),
            changes: 0,
            state: self,
        }
    }
}

/// A write transaction: changes apply at once (later reads in the same transaction see
/// them, as etcd's do); the revision moves when it ends with changes.
#[derive(Debug)]
pub struct WriteTxn<'s, 'a> {
    state: &'s mut State<'a>,
    rev: i64,
    changes: u32,
}

impl<'a> WriteTxn<'_, 'a> {
    /// The state as this transaction sees it.
    pub fn state(&self) -> &State<'a> {
        self.state
    }

    /// Writes `key` = `value` with `lease`.
    pub fn put(&mut self, key: Bytes<'a>, value: Bytes<'a>, lease: i64) {
        let rev = self.rev;
        let sub = i64::from(self.changes);
        let log_key = self.state.changes.as_ref().map(|_| key.clone());
        match self.state.keys.get_mut(key.as_ref()) {
            Some(kv) => {
                kv.value = value;
                kv.mod_revision = rev;
                kv.version = kv.version.saturating_add(1);
                kv.lease = lease;
            }
            None => {
                self.state.keys.insert(
                    key,
                    LiveKv {
                        value,
                        create_revision: rev,
                        mod_revision: rev,
                        version: 1,
                        lease,
                    },
                );
            }
        }
        if let Some(key) = log_key {
            let kv = self.state.keys.get(key.as_ref()).cloned();
            if let Some(log) = self.state.changes.as_mut() {
                log.push(Change {
                    main: rev,
                    sub,
                    key,
                    kv,
                });
            }
        }
        self.changes = self.changes.saturating_add(1);
    }

    /// Deletes the live keys in `r`; returns how many.
    pub fn delete_range(&mut self, r: KeyRange<'_>) -> usize {
        let doomed: Vec<Bytes<'a>> = self.state.range(r).map(|(k, _)| k.clone()).collect();
        for (i, k) in doomed.iter().enumerate() {
            self.state.keys.remove(k.as_ref());
            if let Some(log) = self.state.changes.as_mut() {
                log.push(Change {
                    main: self.rev,
                    sub: i64::from(self.changes).saturating_add(i as i64),
                    key: k.clone(),
                    kv: None,
                });
            }
        }
        self.changes = self.changes.saturating_add(doomed.len() as u32);
        doomed.len()
    }

    /// Ends the transaction; returns whether it changed anything (and so took a revision).
    pub fn end(self) -> bool {
        if self.changes > 0 {
            self.state.revision = self.rev;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes<'static> {
        Cow::Owned(s.as_bytes().to_vec())
    }

    #[test]
    fn put_keeps_create_revision_and_counts_versions() {
        let mut s = State::default();
        let mut t = s.write();
        t.put(b("a"), b("1"), 0);
        assert!(t.end());
        let mut t = s.write();
        t.put(b("a"), b("2"), 7);
        t.put(b("b"), b("x"), 0);
        assert!(t.end());
        let a = &s.keys[b"a".as_slice()];
        assert_eq!(
            (a.create_revision, a.mod_revision, a.version, a.lease),
            (1, 2, 2, 7)
        );
        assert_eq!(s.keys[b"b".as_slice()].create_revision, 2);
        assert_eq!(s.revision, 2);
    }

    #[test]
    fn delete_of_nothing_takes_no_revision_and_recreate_starts_a_generation() {
        let mut s = State::default();
        let mut t = s.write();
        t.put(b("a"), b("1"), 0);
        t.end();
        let mut t = s.write();
        assert_eq!(t.delete_range(KeyRange::Single(b"zzz")), 0);
        assert!(!t.end());
        assert_eq!(s.revision, 1);
        let mut t = s.write();
        assert_eq!(t.delete_range(KeyRange::From(b"")), 1);
        assert!(t.end());
        let mut t = s.write();
        t.put(b("a"), b("again"), 0);
        t.end();
        let a = &s.keys[b"a".as_slice()];
        assert_eq!((a.create_revision, a.version), (3, 1));
    }

    #[test]
    fn ranges_follow_etcd_range_end_rules() {
        let mut s = State::default();
        let mut t = s.write();
        for k in ["a", "b", "c"] {
            t.put(b(k), b("v"), 0);
        }
        t.end();
        let keys = |r| s.range(r).map(|(k, _)| k.to_vec()).collect::<Vec<_>>();
        assert_eq!(keys(KeyRange::new(b"b", b"")), vec![b"b".to_vec()]);
        assert_eq!(keys(KeyRange::new(b"b", b"\0")).len(), 2);
        assert_eq!(keys(KeyRange::new(b"a", b"c")).len(), 2);
        assert!(keys(KeyRange::new(b"c", b"a")).is_empty());
    }
}
