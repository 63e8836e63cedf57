//! The `meta` bucket of an etcd db.
//!
//! | key                   | value                                   | since |
//! |-----------------------|-----------------------------------------|-------|
//! | `consistent_index`    | u64 big-endian: last applied raft index | 3.0   |
//! | `term`                | u64 big-endian: raft term of that entry | 3.5   |
//! | `confState`           | JSON raftpb.ConfState                   | 3.5   |
//! | `scheduledCompactRev` | 17-byte revision: compaction started    | 3.0   |
//! | `finishedCompactRev`  | 17-byte revision: compaction finished   | 3.0   |
//! | `storageVersion`      | text, e.g. "3.6.0"                      | 3.6   |
//!
//! (etcd 3.4 `mvcc/kvstore.go`, `etcdserver/cindex`; 3.5+ `server/storage/schema`.)
//! etcd restores its compact revision from `finishedCompactRev` and, when
//! `scheduledCompactRev` is larger, finishes that compaction at start-up.

use super::revision::{parse_revision, Revision};

pub use crate::buckets::META_BUCKET;
/// Key of the consistent index.
pub const CONSISTENT_INDEX_KEY: &[u8] = b"consistent_index";
/// Key of the term (3.5+).
pub const TERM_KEY: &[u8] = b"term";
/// Key of the conf state (3.5+).
pub const CONF_STATE_KEY: &[u8] = b"confState";
/// Key of the scheduled compact revision.
pub const SCHEDULED_COMPACT_KEY: &[u8] = b"scheduledCompactRev";
/// Key of the finished compact revision.
pub const FINISHED_COMPACT_KEY: &[u8] = b"finishedCompactRev";
/// Key of the storage version (3.6+).
pub const STORAGE_VERSION_KEY: &[u8] = b"storageVersion";

/// What the meta bucket says. Fields are `None` when the key is absent; a present key
/// with a malformed value is listed in `problems` and left `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MetaInfo {
    /// Last raft index applied to this db.
    pub consistent_index: Option<u64>,
    /// Raft term of that index (3.5+).
    pub term: Option<u64>,
    /// Raft conf state as etcd wrote it (JSON text, 3.5+).
    pub conf_state: Option<String>,
    /// Revision at which a compaction was scheduled.
    pub scheduled_compact_rev: Option<Revision>,
    /// Revision of the last finished compaction.
    pub finished_compact_rev: Option<Revision>,
    /// Storage version (3.6+).
    pub storage_version: Option<String>,
    /// Keys present that this model does not know.
    #[serde(skip)]
    pub unknown_keys: Vec<Vec<u8>>,
    /// Malformed values found.
    pub problems: Vec<String>,
}

fn be_u64(v: &[u8]) -> Option<u64> {
    let a: [u8; 8] = v.try_into().ok()?;
    Some(u64::from_be_bytes(a))
}

impl MetaInfo {
    /// Builds the record from the bucket's (key, value) pairs.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Self {
        let mut m = MetaInfo::default();
        for (k, v) in pairs {
            match k {
                CONSISTENT_INDEX_KEY => match be_u64(v) {
                    Some(x) => m.consistent_index = Some(x),
                    None => m.problems.push(format!(
                        "meta/consistent_index has {} bytes; expected 8",
                        v.len()
                    )),
                },
                TERM_KEY => match be_u64(v) {
                    Some(x) => m.term = Some(x),
                    None => m
                        .problems
                        .push(format!("meta/term has {} bytes; expected 8", v.len())),
                },
                CONF_STATE_KEY => m.conf_state = Some(String::from_utf8_lossy(v).into_owned()),
                SCHEDULED_COMPACT_KEY => match parse_revision(v) {
                    Ok(r) => m.scheduled_compact_rev = Some(r),
                    Err(e) => m.problems.push(format!("meta/scheduledCompactRev: {e}")),
                },
                FINISHED_COMPACT_KEY => match parse_revision(v) {
                    Ok(r) => m.finished_compact_rev = Some(r),
                    Err(e) => m.problems.push(format!("meta/finishedCompactRev: {e}")),
                },
                STORAGE_VERSION_KEY => {
                    m.storage_version = Some(String::from_utf8_lossy(v).into_owned())
                }
                _ => m.unknown_keys.push(k.to_vec()),
            }
        }
        m
    }

    /// The compact revision etcd would use after a restart: the finished one, raised to
    /// the scheduled one when a compaction was interrupted (etcd resumes it on start).
    /// -1 when the keyspace was never compacted, as etcd reports it.
    pub fn effective_compact_rev(&self) -> i64 {
        let f = self.finished_compact_rev.map_or(-1, |r| r.main);
        let s = self.scheduled_compact_rev.map_or(-1, |r| r.main);
        f.max(s)
    }

    /// The compact revision etcd reports before resuming anything (`finishedCompactRev`);
    /// -1 when never compacted (etcd's initial value).
    pub fn finished_compact_main(&self) -> i64 {
        self.finished_compact_rev.map_or(-1, |r| r.main)
    }

    /// True when a compaction was scheduled but not finished.
    pub fn compaction_interrupted(&self) -> bool {
        self.scheduled_compact_rev.map_or(-1, |r| r.main) > self.finished_compact_main()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_bucket_of_a_3_4_db_decodes() {
        let ci = 1234u64.to_be_bytes();
        let sc = Revision::new(50, 0).to_bytes();
        let fc = Revision::new(40, 0).to_bytes();
        let pairs: Vec<(&[u8], &[u8])> = vec![
            (CONSISTENT_INDEX_KEY, &ci),
            (FINISHED_COMPACT_KEY, &fc),
            (SCHEDULED_COMPACT_KEY, &sc),
        ];
        let m = MetaInfo::from_pairs(pairs);
        assert_eq!(m.consistent_index, Some(1234));
        assert_eq!(m.finished_compact_main(), 40);
        assert_eq!(m.effective_compact_rev(), 50);
        assert!(m.compaction_interrupted());
        assert!(m.problems.is_empty());
    }

    #[test]
    fn malformed_meta_values_become_problems() {
        let pairs: Vec<(&[u8], &[u8])> =
            vec![(CONSISTENT_INDEX_KEY, b"abc"), (FINISHED_COMPACT_KEY, b"x")];
        let m = MetaInfo::from_pairs(pairs);
        assert_eq!(m.consistent_index, None);
        assert_eq!(m.problems.len(), 2);
    }
}
