//! Whether a bbolt file is laid out as an etcd db, and whether its pages contradict what
//! the tree shows.
//!
//! A meta page can be forged, or damaged into another valid one, with a correct FNV-1a
//! checksum: its root then points at some other page. bbolt's own checks pass when that
//! page happens to be a sound leaf or branch, and every etcd command would read an empty
//! keyspace. Two facts catch it:
//!
//! - etcd 3.4 creates its buckets (`key`, `meta`, ... [`KNOWN_BUCKETS`]) on first start,
//!   so a root bucket holding none of them is not an etcd db as etcd left it;
//! - compaction at revision C removes only revisions <= C, so a revision key above C must
//!   be in the key bucket. When the key bucket is missing or empty, leaf pages holding
//!   revision keys above C (or any, when there is no key bucket at all) are a keyspace the
//!   meta's root no longer reaches.
//!
//! The page scan runs only in those two cases: it reads each page header below the
//! high-water mark once and keeps counts, never a list sized by the file.

use crate::finding::MemberKind;
use crate::meta::FINISHED_COMPACT_KEY;
use crate::revision::{parse_rev_key, parse_revision};
use crate::{KEY_BUCKET, KNOWN_BUCKETS};
use bbolt_reader::page::FLAG_LEAF;
use bbolt_reader::{Db, Pgid};

/// One finding about the etcd layout, named after the page it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutFinding {
    /// The page: the root bucket's page, or the first page holding unreachable revisions.
    pub page: Pgid,
    /// [`MemberKind::NoEtcdBucket`] or [`MemberKind::RevisionsUnreachable`].
    pub kind: MemberKind,
    /// For humans.
    pub message: String,
}

/// Leaf pages below the high-water mark that hold only revision keys.
#[derive(Debug, Default, Clone, Copy)]
struct RevisionPages {
    pages: u64,
    revisions: u64,
    first: Option<Pgid>,
}

/// Leaf pages whose header names their own pgid and whose every key is a revision key
/// (17 bytes, or 18 with the tombstone mark) with main revision above `above`.
fn scan_revision_pages(db: &Db<'_>, above: i64) -> RevisionPages {
    let mut r = RevisionPages::default();
    let end = db.meta().high_water_mark.min(db.page_count());
    for pgid in 2..end {
        let Ok(page) = db.page(pgid) else { continue };
        if page.id() != pgid || page.flags() != FLAG_LEAF || page.count() == 0 {
            continue;
        }
        let mut n = 0u64;
        let mut all = true;
        for el in page.leaf_elements() {
            match el.map(|e| parse_rev_key(e.key)) {
                Ok(Ok(k)) if k.rev.main > above => n += 1,
                Ok(Ok(_)) => {}
                _ => {
                    all = false;
                    break;
                }
            }
        }
        if all && n > 0 {
            r.pages += 1;
            r.revisions += n;
            r.first.get_or_insert(pgid);
        }
    }
    r
}

/// The layout findings of `db` (as of its chosen meta). Empty for a sound etcd db.
pub fn etcd_layout(db: &Db<'_>) -> Vec<LayoutFinding> {
    let mut out = Vec::new();
    let root = db.meta().root;
    let mut names: Vec<&[u8]> = Vec::new();
    let mut it = db.root().iter();
    // A root the walk cannot read is bbolt's finding, not this one; a root of plain
    // values (a forged meta pointing at some bucket's leaf) has no bucket names.
    while let Some(Ok(item)) = it.next() {
        if item.is_bucket() && KNOWN_BUCKETS.contains(&item.key) {
            names.push(item.key);
        }
        if names.len() == KNOWN_BUCKETS.len() {
            break;
        }
    }
    if names.is_empty() {
        out.push(LayoutFinding {
            page: root,
            kind: MemberKind::NoEtcdBucket,
            message: format!(
                "the root bucket (page {root}) holds none of etcd's buckets (key, meta, lease, ...): not a db etcd wrote, or the meta's root points at the wrong page"
            ),
        });
    }
    let key = db.bucket(KEY_BUCKET).ok().flatten();
    let key_empty = key.as_ref().is_some_and(|b| b.iter().next().is_none());
    if key.is_none() || key_empty {
        // With a key bucket that is empty, revisions <= the finished compaction may have
        // been compacted away legitimately; without one, none can be explained.
        let above = if key.is_none() {
            i64::MIN
        } else {
            db.bucket(crate::buckets::META_BUCKET)
                .ok()
                .flatten()
                .and_then(|m| m.get(FINISHED_COMPACT_KEY).ok().flatten())
                .and_then(|v| parse_revision(v).ok())
                .map_or(i64::MIN, |r| r.main)
        };
        let r = scan_revision_pages(db, above);
        if let Some(first) = r.first {
            let state = if key.is_none() { "missing" } else { "empty" };
            out.push(LayoutFinding {
                page: first,
                kind: MemberKind::RevisionsUnreachable,
                message: format!(
                    "the key bucket is {state}, but {} leaf page(s) below the high-water mark (first page {first}) hold {} revision key(s){}: the keyspace is not reachable from the meta's root; `etcd-autopsy salvage` recovers it",
                    r.pages,
                    r.revisions,
                    if above == i64::MIN {
                        String::new()
                    } else {
                        format!(" above the finished compaction {above}")
                    }
                ),
            });
        }
    }
    out
}
