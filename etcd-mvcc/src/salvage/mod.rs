//! Salvage: rebuild a fresh etcd 3.4 db from whatever is readable in a damaged one.
//!
//! # How the keyspace is recovered
//!
//! 1. **Choose a root.** The valid meta page with the larger txid is tried first; when its
//!    root page or the root of its `key` bucket cannot be read, the other meta (the
//!    previous commit) is used. With neither, there is no tree: everything comes from the
//!    page scan below.
//! 2. **Walk the tree** of every top-level bucket from that root, bounded in depth and
//!    visiting each page once. A page that cannot be read (out of bounds, wrong type, a
//!    header id that is not its own pgid, elements outside the page, keys out of order or
//!    outside the range its parent gives it) is *damaged*: its readable elements are kept,
//!    and the key range its parent assigned to it is *lost*.
//! 3. **Scan every page** of the file for leaf pages whose elements all look like the
//!    `key` bucket's (a 17-byte revision `main u64 BE, '_', sub u64 BE`, an 18th byte `t`
//!    for a tombstone, and a `mvccpb.KeyValue` value whose mod_revision is that main
//!    revision) or the `lease` bucket's (8-byte lease ID, `leasepb.Lease` with that ID).
//!    Pages not reached from the root are *unreachable*: freed copies from older
//!    transactions, pages orphaned by a damaged parent, or pages of a newer transaction
//!    whose meta page never made it to disk.
//! 4. **Pick revisions.** Every revision reached from the root is used. A revision from
//!    an unreachable page is used when it falls in a lost range (it fills a hole left by
//!    damage) or, unless told otherwise, when it is newer than both every reachable
//!    revision and the finished compaction (it was applied by a transaction newer than the
//!    chosen root). Older unreachable revisions are ignored: compaction or a delete may
//!    have removed them on purpose. A revision held twice keeps the reachable copy; etcd
//!    never rewrites a revision, so copies agree.
//! 5. **Rebuild**: for each user key, its newest revision; a key whose newest revision is
//!    a tombstone is dropped. The KeyValue bytes are carried verbatim, so create_revision,
//!    mod_revision, version and lease are those etcd stored.
//!
//! # What is written
//!
//! A fresh bbolt file (page size 4096) in etcd 3.4's layout, built by `bbolt-writer`:
//! - `key`: the newest live revision of every recovered user key, in revision order;
//! - `meta`: `consistent_index` as read (when readable); from a 3.5+ db also `term` (8
//!   bytes) and `confState` (JSON that decodes as a ConfState) verbatim, so the output is
//!   still detected as 3.5 data (etcd's schema rule, [`crate::version`]); any other meta
//!   key (3.6's `storageVersion`) is listed in `meta_not_carried`; and `scheduledCompactRev` =
//!   `finishedCompactRev` = the newest revision seen. The history below it is gone, so
//!   etcd must answer older reads with "compacted", and its current revision (the larger
//!   of the newest key revision and the finished compaction, etcd 3.4 `mvcc/kvstore.go`
//!   restore) stays where it was even when the newest revisions were deletes;
//! - `lease`: the leases read from the tree, plus leases found on unreachable pages that
//!   a recovered key is attached to and the tree lacks;
//! - `auth`, `authRoles`, `authUsers`, `cluster`: copied entry by entry when present;
//! - `alarm`, `members`, `members_removed`: empty. Alarms (NOSPACE, CORRUPT) belong to the
//!   damaged member; `etcdctl snapshot restore` deletes the members and writes the new
//!   cluster's (etcd 3.4 `clientv3/snapshot/v3_snapshot.go` saveDB).

use crate::auth::{AUTH_BUCKET, AUTH_ROLES_BUCKET, AUTH_USERS_BUCKET};
use crate::cluster::{ALARM_BUCKET, CLUSTER_BUCKET, MEMBERS_BUCKET, MEMBERS_REMOVED_BUCKET};
use crate::finding::{Component, Finding, Kind, MvccKind, Severity};
use crate::lease::LEASE_BUCKET;
use crate::meta::{
    CONF_STATE_KEY, CONSISTENT_INDEX_KEY, FINISHED_COMPACT_KEY, META_BUCKET, SCHEDULED_COMPACT_KEY,
    TERM_KEY,
};
use crate::revision::{MARKED_REV_BYTES_LEN, REV_BYTES_LEN};
use crate::{parse_rev_key, parse_revision, Alarm, KeyValueRef, Lease, Revision, KEY_BUCKET};
use bbolt_reader::page::FLAG_LEAF;
use bbolt_reader::tree::{walk_checked, CheckedVisitor, KeyRange, PageDamage, Reached};
use bbolt_reader::{BucketHeader, Db, MetaChoice, Page, Pgid};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// Damaged pages listed one by one in the report (all are counted).
pub const MAX_LISTED_DAMAGE: usize = 100;
/// Page size of the file written.
pub const OUTPUT_PAGE_SIZE: u32 = 4096;
/// Buckets copied entry by entry when the input has them.
const COPIED_BUCKETS: [&[u8]; 4] = [
    AUTH_BUCKET,
    AUTH_ROLES_BUCKET,
    AUTH_USERS_BUCKET,
    CLUSTER_BUCKET,
];
/// Buckets written empty.
const EMPTY_BUCKETS: [&[u8]; 3] = [ALARM_BUCKET, MEMBERS_BUCKET, MEMBERS_REMOVED_BUCKET];

/// Choices a caller can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SalvageOptions {
    /// Use revisions found on unreachable pages that are newer than every revision of
    /// the chosen tree (a newer transaction whose meta page was lost or never written).
    pub use_newer_unreachable: bool,
}

impl Default for SalvageOptions {
    fn default() -> Self {
        SalvageOptions {
            use_newer_unreachable: true,
        }
    }
}

/// Where a revision was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A sound leaf page reached from the chosen root.
    Reachable,
    /// A damaged leaf page reached from the chosen root (its readable elements).
    DamagedPage,
    /// A leaf page found by the scan and not reached from the root.
    Unreachable,
}

/// One revision of the `key` bucket, borrowing the input.
#[derive(Debug, Clone, Copy)]
pub struct RevEntry<'a> {
    /// The bbolt key: 17 bytes, or 18 for a tombstone.
    pub rev_key: &'a [u8],
    /// The revision.
    pub rev: Revision,
    /// True for a tombstone (the revision deleted the user key).
    pub tombstone: bool,
    /// The `mvccpb.KeyValue` bytes, verbatim.
    pub kv: &'a [u8],
    /// The user key.
    pub user_key: &'a [u8],
    /// The lease ID the key is attached to, 0 for none.
    pub lease: i64,
    /// Where it was read.
    pub source: Source,
    /// The page it was read from.
    pub pgid: Pgid,
}

/// A page that could not be read, or was read only in part.
#[derive(Debug, Clone, Serialize)]
pub struct DamagedPage {
    /// The page id.
    pub pgid: Pgid,
    /// The top-level bucket whose tree it belongs to (`""` for the root tree).
    pub bucket: String,
    /// What is wrong (serialised as its sentence).
    #[serde(serialize_with = "serialize_display")]
    pub reason: DamageReason,
}

/// Why salvage counts a page as damaged.
#[derive(Debug, Clone)]
pub enum DamageReason {
    /// The tree walk did not take the page ([`bbolt_reader::tree::walk_checked`]).
    Page(std::sync::Arc<PageDamage>),
    /// A top-level bucket's value is shorter than a bucket header.
    BucketValueTooShort {
        /// The value's length.
        len: usize,
    },
    /// An inline bucket's page is not a leaf page.
    InlineNotLeaf,
    /// A leaf page taken into the tree holds elements salvage cannot use.
    Leaf(LeafDamage),
}

/// What is wrong inside a leaf page; the last problem of the page is reported.
#[derive(Debug, Clone)]
pub enum LeafDamage {
    /// An element lies outside the page (or elements overlap).
    Element(std::sync::Arc<bbolt_reader::Error>),
    /// A root bucket element's key is out of order or outside the page's range.
    RootKeyOutOfOrder {
        /// The element.
        index: usize,
    },
    /// A key is out of order or outside the page's range.
    KeyOutOfOrder {
        /// The element.
        index: usize,
    },
    /// A `key` bucket element is not a sound revision.
    Revision {
        /// The element.
        index: usize,
        /// Why.
        why: RevProblem,
    },
}

/// Why a `key` bucket element is not a sound revision. Its finding kind is
/// [`RevProblem::kind`]; [`DamagedPage::finding`] places it in the findings model.
#[derive(Debug, Clone)]
pub enum RevProblem {
    /// The bbolt key is not a revision.
    Key(String),
    /// The revision is not positive.
    NotPositive(Revision),
    /// The value is not a `mvccpb.KeyValue`.
    KeyValue {
        /// The revision of its bbolt key.
        rev: Revision,
        /// The scanner's error.
        error: String,
    },
    /// The KeyValue has no key.
    NoKey {
        /// The revision of its bbolt key.
        rev: Revision,
    },
    /// The KeyValue's mod_revision is not its revision.
    ModRevision {
        /// The KeyValue's mod_revision.
        mod_revision: i64,
        /// The revision of its bbolt key.
        rev: Revision,
        /// The KeyValue's user key.
        key: Vec<u8>,
    },
}

impl RevProblem {
    /// The finding kind.
    pub fn kind(&self) -> MvccKind {
        match self {
            RevProblem::Key(_) => MvccKind::RevisionKeyMalformed,
            RevProblem::NotPositive(_) => MvccKind::RevisionNotPositive,
            RevProblem::KeyValue { .. } => MvccKind::KeyValueMalformed,
            RevProblem::NoKey { .. } => MvccKind::KeyValueWithoutKey,
            RevProblem::ModRevision { .. } => MvccKind::ModRevisionMismatch,
        }
    }

    /// The revision of the element's bbolt key, when it parsed.
    pub fn revision(&self) -> Option<Revision> {
        match self {
            RevProblem::Key(_) => None,
            RevProblem::NotPositive(rev)
            | RevProblem::KeyValue { rev, .. }
            | RevProblem::NoKey { rev }
            | RevProblem::ModRevision { rev, .. } => Some(*rev),
        }
    }

    /// The user key, when the KeyValue carries one.
    pub fn key(&self) -> Option<&[u8]> {
        match self {
            RevProblem::ModRevision { key, .. } => Some(key),
            _ => None,
        }
    }
}

impl std::fmt::Display for RevProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RevProblem::Key(e) => f.write_str(e),
            RevProblem::NotPositive(r) => write!(f, "revision {r} is not positive"),
            RevProblem::KeyValue { error, .. } => write!(f, "KeyValue: {error}"),
            RevProblem::NoKey { .. } => f.write_str("KeyValue has no key"),
            RevProblem::ModRevision {
                mod_revision, rev, ..
            } => write!(
                f,
                "KeyValue mod_revision {mod_revision} differs from its revision {rev}"
            ),
        }
    }
}

impl DamageReason {
    /// The finding kind: the bbolt kind of page and element damage, the MVCC kind of a
    /// revision problem.
    pub fn kind(&self) -> Kind {
        use bbolt_reader::FindingKind as B;
        match self {
            DamageReason::Page(d) => Kind::Bbolt(d.kind()),
            DamageReason::BucketValueTooShort { .. }
            | DamageReason::Leaf(LeafDamage::Element(_)) => Kind::Bbolt(B::ElementOutOfPage),
            DamageReason::InlineNotLeaf => Kind::Bbolt(B::WrongPageType),
            DamageReason::Leaf(
                LeafDamage::RootKeyOutOfOrder { .. } | LeafDamage::KeyOutOfOrder { .. },
            ) => Kind::Bbolt(B::KeysOutOfOrder),
            DamageReason::Leaf(LeafDamage::Revision { why, .. }) => Kind::Mvcc(why.kind()),
        }
    }
}

impl DamagedPage {
    /// This page as a finding of the db: damage, at its page id (and, for a revision
    /// problem, the revision and user key where known), with the sentence salvage prints.
    /// Set the file with [`Finding::at`].
    pub fn finding(&self) -> Finding {
        let mut f = Finding::new(
            Component::Db,
            Severity::Damage,
            self.reason.kind(),
            self.reason.to_string(),
        );
        f.location.page = Some(self.pgid);
        if let DamageReason::Leaf(LeafDamage::Revision { why, .. }) = &self.reason {
            f.location.revision = why.revision().map(|r| r.main);
            f.location.key = why.key().map(<[u8]>::to_vec);
        }
        f
    }
}

impl std::fmt::Display for DamageReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DamageReason::Page(d) => write!(f, "{d}"),
            DamageReason::BucketValueTooShort { len } => {
                write!(f, "bucket value of {len} bytes is too short")
            }
            DamageReason::InlineNotLeaf => f.write_str("inline bucket page is not a leaf page"),
            DamageReason::Leaf(LeafDamage::Element(e)) => write!(f, "{e}"),
            DamageReason::Leaf(LeafDamage::RootKeyOutOfOrder { index }) => {
                write!(f, "element {index}: key out of order")
            }
            DamageReason::Leaf(LeafDamage::KeyOutOfOrder { index }) => write!(
                f,
                "element {index}: key out of order or outside the page's range"
            ),
            DamageReason::Leaf(LeafDamage::Revision { index, why }) => {
                write!(f, "element {index}: {why}")
            }
        }
    }
}

fn serialize_display<S: serde::Serializer>(
    v: &impl std::fmt::Display,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// A range of the `key` bucket lost to damage, as revisions (`None` = unbounded).
#[derive(Debug, Clone, Serialize)]
pub struct LostRange {
    /// First revision of the range (inclusive), `main_sub`.
    pub from: Option<String>,
    /// End of the range (exclusive), `main_sub`.
    pub to: Option<String>,
}

/// One meta page, as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MetaReport {
    /// 0 or 1.
    pub index: usize,
    /// Whether it passed bbolt's checks.
    pub valid: bool,
    /// Its txid, when readable.
    pub txid: Option<u64>,
    /// Its root page, when readable.
    pub root: Option<Pgid>,
    /// Why it is invalid, or why its tree could not serve.
    pub problem: Option<String>,
}

/// Counts of `key` bucket leaf pages.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct LeafPageCounts {
    /// Sound leaf pages reached from the chosen root.
    pub reachable: u64,
    /// Damaged leaf pages reached from the chosen root.
    pub reachable_damaged: u64,
    /// Leaf pages found by the scan that the root does not reach.
    pub unreachable_found: u64,
    /// Of those, pages that gave at least one revision used.
    pub unreachable_used: u64,
}

/// Counts of revisions.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct RevisionCounts {
    /// Read from sound pages reached from the root.
    pub reachable: u64,
    /// Read from damaged pages reached from the root.
    pub from_damaged_pages: u64,
    /// Read from unreachable pages and used: filling lost ranges.
    pub unreachable_filling_gaps: u64,
    /// Read from unreachable pages and used: newer than the chosen tree.
    pub unreachable_newer: u64,
    /// Read from unreachable pages and ignored (older copies; may be compacted or deleted).
    pub unreachable_ignored: u64,
    /// Distinct revisions used, after removing copies.
    pub distinct: u64,
    /// Revisions superseded by a newer revision of the same user key.
    pub superseded: u64,
}

/// Counts of leases.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct LeaseCounts {
    /// Read from the `lease` bucket's tree.
    pub reachable: u64,
    /// Found on unreachable pages and written because a recovered key needs them.
    pub from_unreachable_pages: u64,
    /// Written to the new file.
    pub written: u64,
    /// Recovered keys attached to a lease that was not found (etcd will warn and keep
    /// them without a lease).
    pub keys_with_missing_lease: u64,
}

/// One bucket copied entry by entry.
#[derive(Debug, Clone, Serialize)]
pub struct BucketCopy {
    /// Its name.
    pub name: String,
    /// Entries written.
    pub entries: u64,
    /// False when part of its tree was damaged.
    pub complete: bool,
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Written {
    /// Page size.
    pub page_size: u32,
    /// Pages in the file.
    pub pages: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// Entries in its `key` bucket.
    pub keys: u64,
    /// Entries in its `lease` bucket.
    pub leases: u64,
    /// Whether reading the new file back gave exactly these counts.
    pub verified: bool,
}

/// The outcome of a salvage; see the JSON section "salvage" in docs/JSON.md.
#[derive(Debug, Clone, Serialize)]
pub struct SalvageReport {
    /// Schema tag.
    pub schema: &'static str,
    /// Page size the input was read with.
    pub page_size: usize,
    /// Pages in the input (a partial last page counted).
    pub file_pages: u64,
    /// Both meta pages.
    pub metas: Vec<MetaReport>,
    /// The meta page whose tree was used, if any.
    pub meta_used: Option<usize>,
    /// Its txid.
    pub meta_used_txid: Option<u64>,
    /// Why the newest meta was not used, when it was not.
    pub meta_fallback: Option<String>,
    /// Pages examined by the scan.
    pub pages_scanned: u64,
    /// `key` bucket leaf pages.
    pub key_leaf_pages: LeafPageCounts,
    /// Damaged pages (all buckets), counted.
    pub damaged_pages: u64,
    /// Damaged pages, the first [`MAX_LISTED_DAMAGE`].
    pub damaged: Vec<DamagedPage>,
    /// Revision ranges of the `key` bucket lost to damage (before filling from the scan).
    pub lost_key_ranges: Vec<LostRange>,
    /// Revisions.
    pub revisions: RevisionCounts,
    /// User keys written (newest revision live).
    pub keys_recovered: u64,
    /// Of those, keys whose newest revision came from an unreachable page.
    pub keys_from_unreachable_pages: u64,
    /// User keys whose newest revision is a tombstone, not written.
    pub tombstoned_keys_dropped: u64,
    /// Newest revision seen (tombstones included), 0 when none.
    pub newest_revision: i64,
    /// `finishedCompactRev` of the input, when readable.
    pub compact_revision_in: Option<i64>,
    /// Compaction revision written (the newest revision seen, or the input's compaction).
    pub compact_revision_out: i64,
    /// `consistent_index` of the input, when readable (written verbatim).
    pub consistent_index: Option<u64>,
    /// Leases.
    pub leases: LeaseCounts,
    /// Buckets copied entry by entry.
    pub buckets_copied: Vec<BucketCopy>,
    /// `meta` keys written to the new db (`consistent_index`, and from a 3.5+ db `term`
    /// and `confState`), in key order.
    pub meta_carried: Vec<String>,
    /// `meta` keys of the input that are not written (e.g. 3.6's `storageVersion`, or a
    /// `term` / `confState` whose value is malformed), with why.
    pub meta_not_carried: Vec<String>,
    /// Alarms the input held (not written).
    pub alarms_dropped: Vec<String>,
    /// Top-level buckets of the input that are not carried over.
    pub buckets_not_carried: Vec<String>,
    /// Elements of the chosen tree that were not carried over, by bucket and reason.
    pub elements_skipped: Vec<SkippedElements>,
    /// Sentences saying what was lost or is uncertain; empty when nothing was.
    pub lost: Vec<String>,
    /// The new file, once written.
    pub written: Option<Written>,
}

impl SalvageReport {
    /// True when anything was damaged, lost or taken from outside the chosen tree.
    pub fn found_damage(&self) -> bool {
        !self.lost.is_empty()
    }
}

/// Elements of one bucket that salvage left out, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SkippedElements {
    /// The top-level bucket (sanitized name).
    pub bucket: String,
    /// `nested_bucket_flag`, `undecodable` or `key_not_a_lease_id`.
    pub reason: &'static str,
    /// How many.
    pub count: u64,
}

/// A key and its value, borrowed from the input.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// Everything recovered from an input, borrowing it, ready to be written.
#[derive(Debug)]
pub struct Recovered<'a> {
    /// The newest live revision of every recovered user key, in revision order.
    pub keys: Vec<RevEntry<'a>>,
    /// Leases to write: key (lease ID, 8 bytes BE) and `leasepb.Lease` bytes, sorted.
    pub leases: Vec<(&'a [u8], &'a [u8])>,
    /// Buckets copied entry by entry, sorted by name, entries sorted by key.
    pub copied: Vec<(&'static [u8], Vec<Pair<'a>>)>,
    /// `consistent_index` value as read.
    pub consistent_index: Option<&'a [u8]>,
    /// `term` value as read (3.5+), when it is 8 bytes.
    pub term: Option<&'a [u8]>,
    /// `confState` value as read (3.5+), when it decodes.
    pub conf_state: Option<&'a [u8]>,
    /// The compaction revision to write.
    pub compact_revision: i64,
    /// The report so far (`written` is filled by [`write_db`]).
    pub report: SalvageReport,
}

/// A bucket's entries read from the tree, with damage.
#[derive(Debug, Default)]
struct BucketRead<'a> {
    entries: Vec<(&'a [u8], &'a [u8])>,
    damaged: bool,
    nested_skipped: u64,
    /// Elements left out because they did not decode or were out of order.
    undecodable_skipped: u64,
    /// `key` bucket elements flagged as nested buckets whose bytes are a sound revision:
    /// kept as revisions (the flag is the damage).
    nested_flag_ignored: u64,
}

/// What walking the tree of one meta gave.
#[derive(Debug, Default)]
struct TreeRead<'a> {
    /// The root page was readable.
    usable: bool,
    /// The `key` bucket exists and its root page was readable.
    key_root_ok: bool,
    problem: Option<String>,
    /// Every pgid (overflow spans included) reached from the root.
    reachable: Reached,
    damaged: Vec<DamagedPage>,
    /// Lost ranges of the `key` bucket, as raw bounds.
    key_lost: Vec<KeyRange<'a>>,
    key_entries: Vec<RevEntry<'a>>,
    key_pages: u64,
    key_pages_damaged: u64,
    has_key_bucket: bool,
    buckets: BTreeMap<&'a [u8], BucketRead<'a>>,
}

/// The lost key ranges merged into disjoint ones in key order, for lookups by binary
/// search. `None` bounds are open (below every key / above every key).
struct LostIndex<'a> {
    ranges: Vec<KeyRange<'a>>,
}

impl<'a> LostIndex<'a> {
    fn new(lost: &[KeyRange<'a>]) -> Self {
        let mut sorted: Vec<KeyRange<'a>> = lost
            .iter()
            .copied()
            .filter(|(lo, hi)| match (lo, hi) {
                (Some(lo), Some(hi)) => lo < hi,
                _ => true,
            })
            .collect();
        // `None < Some(_)`, so an open low bound sorts first, as it should.
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut ranges: Vec<KeyRange<'a>> = Vec::with_capacity(sorted.len());
        for (lo, hi) in sorted {
            if let Some(last) = ranges.last_mut() {
                // Overlapping or touching: `lo <= last.hi`, where an open `lo` (sorted
                // first, so `last` is open below too) or an open `last.hi` always is.
                let touches = match (lo, last.1) {
                    (Some(lo), Some(lhi)) => lo <= lhi,
                    _ => true,
                };
                if touches {
                    last.1 = match (last.1, hi) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                    continue;
                }
            }
            ranges.push((lo, hi));
        }
        LostIndex { ranges }
    }

    fn contains(&self, k: &[u8]) -> bool {
        // The last range starting at or below k is the only one that can hold it.
        let n = self
            .ranges
            .partition_point(|(lo, _)| lo.is_none_or(|lo| lo <= k));
        n.checked_sub(1)
            .and_then(|i| self.ranges.get(i))
            .is_some_and(|(_, hi)| hi.is_none_or(|hi| k < hi))
    }
}

/// Reads what can be read from the bbolt bytes `data`.
pub fn recover(data: &[u8], options: SalvageOptions) -> Recovered<'_> {
    let (page_size, slots) = read_slots(data);
    let file_pages = (data.len() as u64).div_ceil(page_size as u64);

    // Meta candidates: valid ones, newest first.
    let mut order: Vec<usize> = (0..2).filter(|&i| slots[i].is_valid()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(slots[i].meta.map_or(0, |m| m.txid)));
    let mut metas: Vec<MetaReport> = slots
        .iter()
        .map(|s| MetaReport {
            index: s.index,
            valid: s.is_valid(),
            txid: s.meta.map(|m| m.txid),
            root: s.meta.map(|m| m.root),
            problem: s.problem.map(|p| p.to_string()),
        })
        .collect();
    // The first tree whose root and key bucket root read; failing that, the first whose
    // root reads (its key bucket then comes from the scan alone).
    let mut trees: Vec<(usize, TreeRead<'_>)> = Vec::new();
    for &i in &order {
        let choice = if i == 0 {
            MetaChoice::Meta0
        } else {
            MetaChoice::Meta1
        };
        if let Ok(db) = Db::open_with(data, choice) {
            let tree = read_tree(db);
            if !tree.usable || !tree.key_root_ok {
                metas[i].problem = tree.problem.clone();
            }
            trees.push((i, tree));
        }
    }
    let pick = trees
        .iter()
        .position(|(_, t)| t.usable && t.key_root_ok)
        .or_else(|| trees.iter().position(|(_, t)| t.usable));
    let chosen = pick.map(|n| trees.swap_remove(n));
    let mut fallback: Option<String> = None;
    if let Some((i, t)) = &chosen {
        if Some(i) != order.first() {
            let newest = order[0];
            fallback = Some(format!(
                "meta {newest} (txid {}) was not used: {}; meta {i} (the previous commit) was",
                metas[newest].txid.unwrap_or(0),
                metas[newest].problem.clone().unwrap_or_default()
            ));
        } else if !t.key_root_ok {
            fallback = Some(format!(
                "meta {i}: {}; the key bucket comes from the page scan",
                t.problem.clone().unwrap_or_default()
            ));
        }
        if fallback.is_none() {
            if let Some(bad) = metas.iter().find(|m| !m.valid) {
                fallback = Some(format!(
                    "meta {} is invalid ({}); meta {i} was used: a transaction newer than it survives only on unreachable pages",
                    bad.index,
                    bad.problem.clone().unwrap_or_default()
                ));
            }
        }
    } else if order.is_empty() {
        fallback =
            Some("neither meta page is valid: every revision comes from the page scan".into());
    } else {
        fallback = Some(
            "no meta page leads to a readable root page: every revision comes from the page scan"
                .into(),
        );
    }
    let (meta_used, tree) = match chosen {
        Some((i, t)) => (Some(i), t),
        None => (
            None,
            TreeRead {
                key_lost: vec![(None, None)],
                ..TreeRead::default()
            },
        ),
    };

    // The scan, over every page the tree did not reach.
    let scan = scan_pages(data, page_size, &tree.reachable);

    // Meta bucket facts.
    let meta_bucket = tree.buckets.get(META_BUCKET);
    let find = |k: &[u8]| {
        meta_bucket.and_then(|b| b.entries.iter().find(|(key, _)| *key == k).map(|(_, v)| *v))
    };
    let consistent_index = find(CONSISTENT_INDEX_KEY).filter(|v| v.len() == 8);
    let term = find(TERM_KEY).filter(|v| v.len() == 8);
    let conf_state = find(CONF_STATE_KEY).filter(|v| {
        std::str::from_utf8(v)
            .ok()
            .is_some_and(|t| crate::raft_meta::parse_conf_state(t).is_ok())
    });
    let mut meta_carried: Vec<String> = Vec::new();
    let mut meta_not_carried: Vec<String> = Vec::new();
    for (k, _) in meta_bucket.map_or(&[][..], |b| b.entries.as_slice()) {
        let name = String::from_utf8_lossy(k).into_owned();
        let carried = match *k {
            CONSISTENT_INDEX_KEY => consistent_index.is_some(),
            TERM_KEY => term.is_some(),
            CONF_STATE_KEY => conf_state.is_some(),
            // Rewritten from the chosen revisions, below.
            FINISHED_COMPACT_KEY | SCHEDULED_COMPACT_KEY => continue,
            _ => false,
        };
        if carried {
            meta_carried.push(name);
        } else if matches!(*k, CONSISTENT_INDEX_KEY | TERM_KEY | CONF_STATE_KEY) {
            meta_not_carried.push(format!("{name}: malformed value"));
        } else {
            meta_not_carried.push(format!("{name}: not part of the layout salvage writes"));
        }
        if meta_carried.len() + meta_not_carried.len() >= 64 {
            break;
        }
    }
    meta_carried.sort();
    let compact_in = find(FINISHED_COMPACT_KEY)
        .and_then(|v| parse_revision(v).ok())
        .map(|r| r.main);

    // Choose revisions.
    let mut rc = RevisionCounts::default();
    let max_reachable = tree.key_entries.iter().map(|e| e.rev).max();
    let newer_than = max_reachable
        .unwrap_or_default()
        .max(Revision::new(compact_in.unwrap_or(0), i64::MAX));
    // Merged once, looked up by binary search: a hostile tree can lose one range per
    // branch element and the scan can find a revision per 40 bytes of file.
    let lost_index = LostIndex::new(&tree.key_lost);
    let in_lost = |k: &[u8]| lost_index.contains(k);
    let mut all: Vec<RevEntry<'_>> = Vec::with_capacity(tree.key_entries.len());
    for e in &tree.key_entries {
        match e.source {
            Source::DamagedPage => rc.from_damaged_pages += 1,
            _ => rc.reachable += 1,
        }
        all.push(*e);
    }
    let mut used_pages: HashSet<Pgid> = HashSet::new();
    for e in &scan.key_entries {
        let fills_gap = in_lost(e.rev_key);
        let newer = options.use_newer_unreachable && e.rev > newer_than;
        if fills_gap || newer {
            if fills_gap {
                rc.unreachable_filling_gaps += 1;
            } else {
                rc.unreachable_newer += 1;
            }
            used_pages.insert(e.pgid);
            all.push(*e);
        } else {
            rc.unreachable_ignored += 1;
        }
    }
    // One copy per revision, the reachable one first.
    all.sort_by_key(|a| (a.rev, a.source));
    all.dedup_by(|b, a| a.rev == b.rev);
    rc.distinct = all.len() as u64;
    let newest_revision = all.last().map_or(0, |e| e.rev.main);

    // Newest revision of each user key.
    let mut newest: HashMap<&[u8], usize> = HashMap::with_capacity(all.len());
    for (i, e) in all.iter().enumerate() {
        newest.insert(e.user_key, i);
    }
    rc.superseded = (all.len() - newest.len()) as u64;
    let mut live: Vec<usize> = Vec::with_capacity(newest.len());
    let mut tombstoned = 0u64;
    for &i in newest.values() {
        if all[i].tombstone {
            tombstoned += 1;
        } else {
            live.push(i);
        }
    }
    live.sort_unstable();
    let keys: Vec<RevEntry<'_>> = live.iter().map(|&i| all[i]).collect();
    let keys_from_unreachable = keys
        .iter()
        .filter(|e| e.source == Source::Unreachable)
        .count() as u64;

    // Leases.
    let mut lc = LeaseCounts::default();
    let mut leases: BTreeMap<&[u8], &[u8]> = BTreeMap::new();
    let mut lease_keys_skipped = 0u64;
    if let Some(b) = tree.buckets.get(LEASE_BUCKET) {
        for &(k, v) in &b.entries {
            if k.len() != 8 {
                // A lease key is the 8-byte lease ID: anything else cannot be written back.
                lease_keys_skipped += 1;
            } else if leases.insert(k, v).is_none() {
                lc.reachable += 1;
            }
        }
    }
    let wanted: HashSet<[u8; 8]> = keys
        .iter()
        .filter(|e| e.lease != 0)
        .map(|e| (e.lease as u64).to_be_bytes())
        .collect();
    for &(k, v) in &scan.lease_entries {
        if wanted.contains(k) && !leases.contains_key(k) {
            leases.insert(k, v);
            lc.from_unreachable_pages += 1;
        }
    }
    lc.keys_with_missing_lease = keys
        .iter()
        .filter(|e| e.lease != 0 && !leases.contains_key(&(e.lease as u64).to_be_bytes()[..]))
        .count() as u64;
    lc.written = leases.len() as u64;

    // Buckets copied, dropped, not carried.
    let mut copied = Vec::new();
    let mut buckets_copied = Vec::new();
    let mut unwritable = 0usize;
    for name in COPIED_BUCKETS {
        if let Some(b) = tree.buckets.get(name) {
            let mut entries = b.entries.clone();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            entries.dedup_by(|b, a| a.0 == b.0);
            // Keys bbolt cannot hold (a damaged element) would fail the whole write.
            let before = entries.len();
            entries.retain(|(k, _)| !k.is_empty() && k.len() <= bbolt_writer::MAX_KEY_SIZE);
            let dropped = before - entries.len();
            unwritable += dropped;
            buckets_copied.push(BucketCopy {
                name: String::from_utf8_lossy(name).into_owned(),
                entries: entries.len() as u64,
                complete: !b.damaged && b.nested_skipped == 0 && dropped == 0,
            });
            copied.push((name, entries));
        }
    }
    let alarms_dropped: Vec<String> = tree
        .buckets
        .get(ALARM_BUCKET)
        .map(|b| {
            b.entries
                .iter()
                .map(|(k, _)| match Alarm::parse(k) {
                    Ok(a) => format!("{} on member {:x}", a.alarm.name(), a.member_id),
                    Err(_) => format!("unreadable alarm entry ({} bytes)", k.len()),
                })
                .collect()
        })
        .unwrap_or_default();
    let carried: Vec<&[u8]> = COPIED_BUCKETS
        .iter()
        .chain(EMPTY_BUCKETS.iter())
        .copied()
        .chain([KEY_BUCKET, LEASE_BUCKET, META_BUCKET])
        .collect();
    let buckets_not_carried: Vec<String> = tree
        .buckets
        .keys()
        .filter(|n| !carried.contains(n))
        .map(|n| crate::display::sanitize(n))
        .collect();

    let compact_revision = newest_revision.max(compact_in.unwrap_or(0));

    // What was lost, in sentences.
    let mut lost = Vec::new();
    if let Some(f) = &fallback {
        lost.push(f.clone());
    }
    if !tree.damaged.is_empty() {
        lost.push(format!(
            "{} damaged page(s) reached from the root; {} revision range(s) of the key bucket were lost to damage",
            tree.damaged.len(),
            if meta_used.is_some() { tree.key_lost.len() } else { 0 }
        ));
    }
    if meta_used.is_some() && !tree.key_lost.is_empty() {
        lost.push(format!(
            "{} revision(s) were taken from unreachable pages to fill the lost ranges; a revision of those ranges with no surviving copy is lost: a key it created is missing, and a key it changed or deleted comes back as its previous revision",
            rc.unreachable_filling_gaps
        ));
    }
    if rc.unreachable_newer > 0 {
        lost.push(format!(
            "{} revision(s) newer than the chosen tree were taken from unreachable pages (a transaction whose meta page is missing); they may be an incomplete part of it",
            rc.unreachable_newer
        ));
    }
    if meta_used.is_none() {
        lost.push(
            "no usable tree: any user key whose revisions all sit on overwritten pages is lost, and deletes may be missing".into(),
        );
    }
    for b in tree
        .buckets
        .iter()
        .filter(|(n, b)| **n != KEY_BUCKET && b.damaged)
    {
        lost.push(format!(
            "bucket {} is damaged: only its readable entries were kept",
            crate::display::sanitize(b.0)
        ));
    }
    if meta_used.is_some() && !tree.has_key_bucket {
        lost.push("the tree has no key bucket".into());
    }
    if lc.keys_with_missing_lease > 0 {
        lost.push(format!(
            "{} recovered key(s) are attached to a lease that was not found",
            lc.keys_with_missing_lease
        ));
    }
    if unwritable > 0 {
        lost.push(format!(
            "{unwritable} entr(ies) of copied buckets have an empty or over-long key that bbolt cannot hold: not copied"
        ));
    }
    if meta_used.is_some() && consistent_index.is_none() {
        lost.push("meta/consistent_index was not readable".into());
    }
    // Every element of the tree that was not carried over, counted by bucket and reason.
    let mut elements_skipped = Vec::new();
    for (name, b) in &tree.buckets {
        let bucket = crate::display::sanitize(name);
        for (reason, count) in [
            ("nested_bucket_flag", b.nested_skipped),
            ("undecodable", b.undecodable_skipped),
        ] {
            if count > 0 {
                elements_skipped.push(SkippedElements {
                    bucket: bucket.clone(),
                    reason,
                    count,
                });
            }
        }
        if b.nested_flag_ignored > 0 {
            lost.push(format!(
                "{} element(s) of bucket {bucket} are flagged as nested buckets but hold sound revisions: kept as revisions (etcd has no nested buckets; the flag is damage)",
                b.nested_flag_ignored
            ));
        }
    }
    if lease_keys_skipped > 0 {
        elements_skipped.push(SkippedElements {
            bucket: "lease".into(),
            reason: "key_not_a_lease_id",
            count: lease_keys_skipped,
        });
    }
    for e in &elements_skipped {
        let why = match e.reason {
            "nested_bucket_flag" => {
                "flagged as nested buckets (etcd has none) and not a sound entry"
            }
            "undecodable" => "undecodable or out of order",
            _ => "keys that are not an 8-byte lease ID",
        };
        lost.push(format!(
            "{} element(s) of bucket {} skipped: {why}",
            e.count, e.bucket
        ));
    }

    let report = SalvageReport {
        schema: "etcd-autopsy/salvage/v1",
        page_size,
        file_pages,
        metas,
        meta_used,
        meta_used_txid: meta_used.and_then(|i| slots[i].meta.map(|m| m.txid)),
        meta_fallback: fallback,
        pages_scanned: scan.pages_scanned,
        key_leaf_pages: LeafPageCounts {
            reachable: tree.key_pages,
            reachable_damaged: tree.key_pages_damaged,
            unreachable_found: scan.key_pages,
            unreachable_used: used_pages.len() as u64,
        },
        damaged_pages: tree.damaged.len() as u64,
        damaged: tree
            .damaged
            .iter()
            .take(MAX_LISTED_DAMAGE)
            .cloned()
            .collect(),
        lost_key_ranges: if meta_used.is_some() {
            tree.key_lost
                .iter()
                .map(|(lo, hi)| LostRange {
                    from: lo
                        .and_then(crate::revision::rev_lenient)
                        .map(|r| r.to_string()),
                    to: hi
                        .and_then(crate::revision::rev_lenient)
                        .map(|r| r.to_string()),
                })
                .collect()
        } else {
            vec![LostRange {
                from: None,
                to: None,
            }]
        },
        revisions: rc,
        keys_recovered: keys.len() as u64,
        keys_from_unreachable_pages: keys_from_unreachable,
        tombstoned_keys_dropped: tombstoned,
        newest_revision,
        compact_revision_in: compact_in,
        compact_revision_out: compact_revision,
        consistent_index: consistent_index
            .map(|v| u64::from_be_bytes(v.try_into().unwrap_or([0; 8]))),
        leases: lc,
        buckets_copied,
        meta_carried,
        meta_not_carried,
        alarms_dropped,
        buckets_not_carried,
        elements_skipped,
        lost,
        written: None,
    };
    Recovered {
        keys,
        leases: leases.into_iter().collect(),
        copied,
        consistent_index,
        term,
        conf_state,
        compact_revision,
        report,
    }
}

/// Writes `rec` as a new bbolt file at `out` (which must not exist), reads it back to
/// check the counts, and records the outcome in the report.
pub fn write_db(rec: &mut Recovered<'_>, out: &Path) -> Result<Written, bbolt_writer::Error> {
    let options = bbolt_writer::Options {
        page_size: OUTPUT_PAGE_SIZE,
        ..bbolt_writer::Options::default()
    };
    let result = write_buckets(rec, out, options);
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            if !matches!(e, bbolt_writer::Error::Exists { .. }) {
                std::fs::remove_file(out).ok();
            }
            return Err(e);
        }
    };
    let mut written = Written {
        page_size: summary.page_size,
        pages: summary.high_water_mark,
        bytes: summary.high_water_mark * u64::from(summary.page_size),
        keys: rec.keys.len() as u64,
        leases: rec.leases.len() as u64,
        verified: false,
    };
    written.verified = verify(out, &written);
    rec.report.written = Some(written);
    Ok(written)
}

fn write_buckets(
    rec: &Recovered<'_>,
    out: &Path,
    options: bbolt_writer::Options,
) -> Result<bbolt_writer::Summary, bbolt_writer::Error> {
    let mut w = bbolt_writer::BoltWriter::create(out, options, false)?;
    // Top-level buckets in byte order, as bbolt keeps them.
    let mut names: Vec<&[u8]> = EMPTY_BUCKETS.to_vec();
    names.extend([KEY_BUCKET, LEASE_BUCKET, META_BUCKET]);
    names.extend(rec.copied.iter().map(|(n, _)| *n));
    names.sort_unstable();
    names.dedup();
    let compact = Revision::new(rec.compact_revision, 0).to_bytes();
    for name in names {
        w.begin_bucket(name)?;
        if name == KEY_BUCKET {
            for e in &rec.keys {
                w.put(e.rev_key, e.kv)?;
            }
        } else if name == LEASE_BUCKET {
            for (k, v) in &rec.leases {
                w.put(k, v)?;
            }
        } else if name == META_BUCKET {
            // bbolt keeps keys in byte order: confState < consistent_index <
            // finishedCompactRev < scheduledCompactRev < term.
            if let Some(cs) = rec.conf_state {
                w.put(CONF_STATE_KEY, cs)?;
            }
            if let Some(ci) = rec.consistent_index {
                w.put(CONSISTENT_INDEX_KEY, ci)?;
            }
            if rec.compact_revision > 0 {
                w.put(FINISHED_COMPACT_KEY, &compact)?;
                w.put(SCHEDULED_COMPACT_KEY, &compact)?;
            }
            if let Some(t) = rec.term {
                w.put(TERM_KEY, t)?;
            }
        } else if let Some((_, entries)) = rec.copied.iter().find(|(n, _)| *n == name) {
            for (k, v) in entries {
                w.put(k, v)?;
            }
        }
        w.end_bucket()?;
    }
    w.finish_file()
}

/// Reads the new file back: its `key` and `lease` buckets must hold exactly what was
/// written.
fn verify(out: &Path, written: &Written) -> bool {
    let Ok(file) = bbolt_reader::MappedFile::open(out) else {
        return false;
    };
    let Ok(db) = file.db() else {
        return false;
    };
    let count = |name: &[u8]| -> Option<u64> {
        let b = db.bucket(name).ok()??;
        let mut n = 0u64;
        for item in b.iter() {
            item.ok()?;
            n += 1;
        }
        Some(n)
    };
    count(KEY_BUCKET) == Some(written.keys) && count(LEASE_BUCKET) == Some(written.leases)
}

/// The meta slots and the page size to read with. When neither meta is valid, the page
/// size stored in meta 0 is used if plausible, else 4096.
fn read_slots(data: &[u8]) -> (usize, [bbolt_reader::MetaSlot; 2]) {
    if let Ok(db) = Db::open(data) {
        return (db.page_size(), db.metas());
    }
    bbolt_reader::meta::guess_slots(data, |p| p.is_power_of_two() && (512..=65536).contains(&p))
}

/// Reads the whole tree of one meta: the root bucket and every top-level bucket.
fn read_tree(db: Db<'_>) -> TreeRead<'_> {
    let mut t = TreeRead {
        key_root_ok: true,
        ..TreeRead::default()
    };
    let mut reached = Reached::new(&db);
    // The root bucket's entries are the top-level buckets.
    let root = db.meta().root;
    let mut v = TreeVisitor {
        t: &mut t,
        name: b"",
        label: String::new(),
        tops: Some(Vec::new()),
    };
    let root_ok = walk_checked(db, root, &mut reached, &mut v);
    let tops = v.tops.take().unwrap_or_default();
    if !root_ok {
        t.problem = Some(format!("root page {root} is not readable"));
        t.reachable = reached;
        return t;
    }
    for (name, value, holder, value_offset) in tops {
        let label = crate::display::sanitize(name);
        let is_key = name == KEY_BUCKET;
        if is_key {
            t.has_key_bucket = true;
        }
        let Some(header) = BucketHeader::parse(value) else {
            t.damaged.push(DamagedPage {
                pgid: holder,
                bucket: label.clone(),
                reason: DamageReason::BucketValueTooShort { len: value.len() },
            });
            if is_key {
                t.key_lost.push((None, None));
            }
            t.buckets.entry(name).or_default().damaged = true;
            continue;
        };
        let ok = if header.is_inline() {
            // Inline: the bucket's only leaf page follows the header inside the value.
            match BucketHeader::inline_page(value, holder, value_offset) {
                Some(p) if p.flags() & FLAG_LEAF != 0 => {
                    visit_leaf(&p, (None, None), name, &mut t);
                    true
                }
                _ => {
                    t.damaged.push(DamagedPage {
                        pgid: holder,
                        bucket: label.clone(),
                        reason: DamageReason::InlineNotLeaf,
                    });
                    if is_key {
                        t.key_lost.push((None, None));
                    }
                    false
                }
            }
        } else {
            let mut v = TreeVisitor {
                t: &mut t,
                name,
                label,
                tops: None,
            };
            walk_checked(db, header.root, &mut reached, &mut v)
        };
        if !ok {
            t.buckets.entry(name).or_default().damaged = true;
            if is_key {
                t.problem = Some(format!(
                    "root page {} of the key bucket is not readable",
                    header.root
                ));
                t.key_root_ok = false;
            }
        }
    }
    if !t.has_key_bucket {
        t.problem = Some("the root bucket has no key bucket".into());
        t.key_root_ok = false;
        t.key_lost.push((None, None));
    }
    t.reachable = reached;
    t.usable = true;
    t
}

/// Salvage's visitor of one tree: the root bucket's (collecting the top-level buckets)
/// or a top-level bucket's.
struct TreeVisitor<'t, 'a> {
    t: &'t mut TreeRead<'a>,
    /// The top-level bucket (empty for the root bucket).
    name: &'a [u8],
    /// Its sanitized name, as damage is reported.
    label: String,
    /// For the root bucket: the top-level buckets found (name, value, holder page, value
    /// offset).
    tops: Option<Vec<TopBucket<'a>>>,
}

/// A top-level bucket as the root bucket holds it: name, value, holder page, value offset.
type TopBucket<'a> = (&'a [u8], &'a [u8], Pgid, u64);

impl<'a> CheckedVisitor<'a> for TreeVisitor<'_, 'a> {
    fn leaf(&mut self, page: Page<'a>, range: KeyRange<'a>) {
        let damage = match &mut self.tops {
            Some(tops) => root_leaf(&page, range, tops),
            None => visit_leaf(&page, range, self.name, self.t),
        };
        if let Some(reason) = damage {
            self.record(page.pgid(), range, DamageReason::Leaf(reason));
        }
    }

    fn damage(&mut self, pgid: Pgid, range: KeyRange<'a>, damage: PageDamage) {
        self.record(pgid, range, DamageReason::Page(std::sync::Arc::new(damage)));
    }
}

impl<'a> TreeVisitor<'_, 'a> {
    /// A damaged page; for the `key` bucket, the key range it held is lost.
    fn record(&mut self, pgid: Pgid, range: KeyRange<'a>, reason: DamageReason) {
        self.t.damaged.push(DamagedPage {
            pgid,
            bucket: self.label.clone(),
            reason,
        });
        if self.tops.is_none() && self.name == KEY_BUCKET {
            self.t.key_lost.push(range);
        }
    }
}

/// Reads one leaf page of the root bucket, collecting its buckets; returns why it is
/// damaged, if it is.
fn root_leaf<'a>(
    page: &Page<'a>,
    range: KeyRange<'a>,
    tops: &mut Vec<TopBucket<'a>>,
) -> Option<LeafDamage> {
    let mut damage = None;
    let mut prev: Option<&[u8]> = None;
    for (i, el) in page.leaf_elements().enumerate() {
        match el {
            Ok(el) => {
                if !in_range(el.key, range) || prev.is_some_and(|p| el.key <= p) {
                    damage = Some(LeafDamage::RootKeyOutOfOrder { index: i });
                    continue;
                }
                prev = Some(el.key);
                if el.is_bucket() {
                    tops.push((el.key, el.value, page.pgid(), el.offset));
                }
            }
            Err(e) => damage = Some(LeafDamage::Element(std::sync::Arc::new(e))),
        }
    }
    damage
}

/// Reads one leaf page of top-level bucket `name`; returns why it is damaged, if it is.
fn visit_leaf<'a>(
    page: &Page<'a>,
    range: KeyRange<'a>,
    name: &'a [u8],
    t: &mut TreeRead<'a>,
) -> Option<LeafDamage> {
    let mut damage = None;
    let mut prev: Option<&[u8]> = None;
    let is_key = name == KEY_BUCKET;
    let mut entries = Vec::new();
    let mut revs = Vec::new();
    let mut nested = 0;
    // The iterator ends in an error once keys and values outgrow the page (overlapping
    // elements), so decoding each costs at most the page in total.
    let mut undecodable = 0;
    let mut flag_ignored = 0;
    for (i, el) in page.leaf_elements().enumerate() {
        let el = match el {
            Ok(el) => el,
            Err(e) => {
                damage = Some(LeafDamage::Element(std::sync::Arc::new(e)));
                undecodable += 1;
                continue;
            }
        };
        if !in_range(el.key, range) || prev.is_some_and(|p| el.key <= p) {
            damage = Some(LeafDamage::KeyOutOfOrder { index: i });
            undecodable += 1;
            continue;
        }
        prev = Some(el.key);
        if el.is_bucket() {
            // etcd has no nested buckets. In the key bucket a flipped flag on a sound
            // revision is kept as the revision; anything else is skipped and counted.
            match is_key
                .then(|| rev_entry(el.key, el.value, Source::Reachable, page.pgid()).ok())
                .flatten()
            {
                Some(e) => {
                    flag_ignored += 1;
                    revs.push(e);
                }
                None => nested += 1,
            }
            continue;
        }
        if is_key {
            match rev_entry(el.key, el.value, Source::Reachable, page.pgid()) {
                Ok(e) => revs.push(e),
                Err(why) => {
                    damage = Some(LeafDamage::Revision { index: i, why });
                    undecodable += 1;
                }
            }
        } else {
            entries.push((el.key, el.value));
        }
    }
    if is_key {
        t.key_pages += 1;
        if damage.is_some() {
            t.key_pages_damaged += 1;
            t.key_pages = t.key_pages.saturating_sub(1);
            for e in &mut revs {
                e.source = Source::DamagedPage;
            }
        }
        t.key_entries.extend(revs);
    }
    let b = t.buckets.entry(name).or_default();
    b.entries.extend(entries);
    b.nested_skipped += nested;
    b.undecodable_skipped += undecodable;
    b.nested_flag_ignored += flag_ignored;
    if damage.is_some() {
        b.damaged = true;
    }
    damage
}

fn in_range(k: &[u8], (lo, hi): KeyRange<'_>) -> bool {
    lo.is_none_or(|lo| k >= lo) && hi.is_none_or(|hi| k < hi)
}

/// Checks one element of the `key` bucket and borrows it as a revision.
fn rev_entry<'a>(
    key: &'a [u8],
    value: &'a [u8],
    source: Source,
    pgid: Pgid,
) -> Result<RevEntry<'a>, RevProblem> {
    let rk = parse_rev_key(key).map_err(|e| RevProblem::Key(e.to_string()))?;
    if rk.rev.main <= 0 || rk.rev.sub < 0 {
        return Err(RevProblem::NotPositive(rk.rev));
    }
    let kv = KeyValueRef::parse(value).map_err(|e| RevProblem::KeyValue {
        rev: rk.rev,
        error: e.to_string(),
    })?;
    if kv.key.is_empty() {
        return Err(RevProblem::NoKey { rev: rk.rev });
    }
    if !rk.tombstone && kv.mod_revision != rk.rev.main {
        return Err(RevProblem::ModRevision {
            mod_revision: kv.mod_revision,
            rev: rk.rev,
            key: kv.key.to_vec(),
        });
    }
    Ok(RevEntry {
        rev_key: key,
        rev: rk.rev,
        tombstone: rk.tombstone,
        kv: value,
        user_key: kv.key,
        lease: kv.lease,
        source,
        pgid,
    })
}

/// What the page scan found outside the tree.
#[derive(Debug, Default)]
struct Scan<'a> {
    pages_scanned: u64,
    key_pages: u64,
    key_entries: Vec<RevEntry<'a>>,
    lease_entries: Vec<(&'a [u8], &'a [u8])>,
}

enum ScanHit<'a> {
    Key(Vec<RevEntry<'a>>),
    Lease(Vec<(&'a [u8], &'a [u8])>),
    /// An older root page: its inline `key` and `lease` buckets.
    Root(Vec<RevEntry<'a>>, Vec<(&'a [u8], &'a [u8])>),
}

/// Looks at every page not in `reachable` for a leaf page of the `key` or `lease` bucket.
fn scan_pages<'a>(data: &'a [u8], page_size: usize, reachable: &Reached) -> Scan<'a> {
    let file_pages = (data.len() / page_size) as u64;
    // Pages whose header carries their own id, in order. A candidate page is read only up
    // to the next of them: overflow claims cannot make two candidates read the same bytes,
    // so the scan reads each byte of the file at most once.
    let starts: Vec<Pgid> = (2..file_pages)
        .into_par_iter()
        .filter(|&p| self_identified(data, page_size, p))
        .collect();
    let hits: Vec<ScanHit<'a>> = starts
        .par_iter()
        .enumerate()
        .filter(|(_, &p)| !reachable.contains(p))
        .filter_map(|(i, &pgid)| {
            let next = starts.get(i + 1).copied().unwrap_or(file_pages);
            scan_page(data, page_size, pgid, next)
        })
        .collect();
    let mut s = Scan {
        pages_scanned: file_pages.saturating_sub(2),
        ..Scan::default()
    };
    for h in hits {
        match h {
            ScanHit::Key(v) => {
                s.key_pages += 1;
                s.key_entries.extend(v);
            }
            ScanHit::Lease(v) => s.lease_entries.extend(v),
            ScanHit::Root(k, l) => {
                if !k.is_empty() {
                    s.key_pages += 1;
                    s.key_entries.extend(k);
                }
                s.lease_entries.extend(l);
            }
        }
    }
    s
}

/// Whether page `pgid`'s header carries its own id. A page written by bbolt does;
/// overflow continuation pages and garbage almost never do.
fn self_identified(data: &[u8], page_size: usize, pgid: Pgid) -> bool {
    bbolt_reader::page::probe(data, page_size, pgid).is_some_and(|p| p.id() == pgid)
}

/// Reads page `pgid` (whose header carries its id) as a leaf of the `key` or `lease`
/// bucket, its span cut at page `next` (the next page carrying its own id).
fn scan_page(data: &[u8], page_size: usize, pgid: Pgid, next: Pgid) -> Option<ScanHit<'_>> {
    let page = bbolt_reader::page::probe(data, page_size, pgid)?;
    if page.id() != pgid || page.flags() != FLAG_LEAF {
        return None;
    }
    let pages = (u64::from(page.overflow()) + 1).min(next.saturating_sub(pgid).max(1));
    let page = page.restricted(usize::try_from(pages.saturating_mul(page_size as u64)).ok()?);
    if page.count() == 0 {
        return None;
    }
    let first = page.leaf_element(0).ok()?;
    if first.flags == 0 && matches!(first.key.len(), REV_BYTES_LEN | MARKED_REV_BYTES_LEN) {
        key_entries(&page, pgid).map(ScanHit::Key)
    } else if first.flags == 0 && first.key.len() == 8 {
        lease_entries(&page).map(ScanHit::Lease)
    } else if first.is_bucket() {
        // A root page of an older transaction: its inline `key` and `lease` buckets.
        let (mut keys, mut leases) = (Vec::new(), Vec::new());
        for el in page.leaf_elements() {
            let Ok(el) = el else {
                continue;
            };
            if !el.is_bucket() || (el.key != KEY_BUCKET && el.key != LEASE_BUCKET) {
                continue;
            }
            let Some(inline) = inline_page(el.value, pgid, el.offset) else {
                continue;
            };
            if el.key == KEY_BUCKET {
                keys = key_entries(&inline, pgid).unwrap_or_default();
            } else {
                leases = lease_entries(&inline).unwrap_or_default();
            }
        }
        (!keys.is_empty() || !leases.is_empty()).then_some(ScanHit::Root(keys, leases))
    } else {
        None
    }
}

/// The page inside an inline bucket's value, when the value is one (root pgid 0).
fn inline_page(value: &[u8], holder: Pgid, value_offset: u64) -> Option<Page<'_>> {
    let page = BucketHeader::inline_page(value, holder, value_offset)?;
    (page.flags() & FLAG_LEAF != 0 && page.count() > 0).then_some(page)
}

/// `entry` of each element of a leaf page, in order, or `None` unless every element
/// reads, is a plain value (no bucket flag), sorts after the one before it, and is taken
/// by `entry`.
fn strict_entries<'a, T>(
    page: &Page<'a>,
    mut entry: impl FnMut(&'a [u8], &'a [u8]) -> Option<T>,
) -> Option<Vec<T>> {
    let mut out = Vec::with_capacity(page.elements_in_view());
    let mut prev: Option<&[u8]> = None;
    for el in page.leaf_elements() {
        let el = el.ok()?;
        if el.flags != 0 || prev.is_some_and(|p| el.key <= p) {
            return None;
        }
        prev = Some(el.key);
        out.push(entry(el.key, el.value)?);
    }
    Some(out)
}

/// The entries of a leaf page when every one is a sound `key` bucket revision.
fn key_entries<'a>(page: &Page<'a>, pgid: Pgid) -> Option<Vec<RevEntry<'a>>> {
    strict_entries(page, |k, v| rev_entry(k, v, Source::Unreachable, pgid).ok())
}

/// The entries of a leaf page when every one is a `lease` bucket entry: an 8-byte lease
/// ID and a `leasepb.Lease` carrying that same ID.
fn lease_entries<'a>(page: &Page<'a>) -> Option<Vec<(&'a [u8], &'a [u8])>> {
    strict_entries(page, |k, v| {
        let id = crate::lease::lease_id_from_key(k)?;
        let lease = Lease::parse(v).ok()?;
        (lease.id == id && id != 0).then_some((k, v))
    })
}

#[cfg(test)]
mod tests;
