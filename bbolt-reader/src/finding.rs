//! Findings: what is wrong with a bbolt file, one page each.
//!
//! A finding is damage found while reading; the reader goes on where it safely can. The
//! whole-file walk ([`walk`](mod@crate::walk)) produces them and [`check`](mod@crate::check) adds the meta
//! pages' own; both depend on this module, not on each other. Every kind here is damage
//! to bbolt (bbolt's own `tx.Check` or a hostile case it does not guard against).

use crate::Pgid;
use std::fmt;

/// What kind of damage a [`Finding`] reports. [`FindingKind::as_str`] gives the stable
/// snake_case name used in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FindingKind {
    /// A meta page fails validation (magic, version, checksum or page size).
    MetaInvalid,
    /// A page is referenced that lies at or past the high-water mark or the file's end.
    PageOutOfBounds,
    /// A page is referenced by two parents (or listed twice in the freelist).
    PageReferencedTwice,
    /// A page is reachable from the root and also listed as free.
    PageReachableAndFree,
    /// A page below the high-water mark is neither reachable nor free.
    PageUnreachableNotFree,
    /// A page's type is not what its place in the tree requires.
    WrongPageType,
    /// Keys are not strictly ascending, or a child's keys fall outside its parent's range.
    KeysOutOfOrder,
    /// An element header, key or value lies outside its page, or a bucket value is too short.
    ElementOutOfPage,
    /// A page's span (`1 + overflow` pages) runs past the end of the file.
    OverflowPastFileEnd,
    /// A branch page leads back to one of its ancestors.
    Cycle,
    /// The file is shorter than its high-water mark says (pages are missing at the end).
    FileTruncated,
    /// A page header's id differs from the page's position.
    PageIdMismatch,
    /// A tree or bucket nesting deeper than any real file has; the walk stopped descending.
    TooDeep,
    /// An element of the root bucket without the bucket flag: bbolt's root holds only
    /// buckets, so the meta's root points at another bucket's page.
    RootElementNotBucket,
}

impl FindingKind {
    /// The stable name: `meta_invalid`, `page_out_of_bounds`, `page_referenced_twice`,
    /// `page_reachable_and_free`, `page_unreachable_not_free`, `wrong_page_type`,
    /// `keys_out_of_order`, `element_out_of_page`, `overflow_past_file_end`, `cycle`,
    /// `file_truncated`, `page_id_mismatch`, `too_deep`, `root_element_not_bucket`.
    pub fn as_str(&self) -> &'static str {
        match self {
            FindingKind::MetaInvalid => "meta_invalid",
            FindingKind::PageOutOfBounds => "page_out_of_bounds",
            FindingKind::PageReferencedTwice => "page_referenced_twice",
            FindingKind::PageReachableAndFree => "page_reachable_and_free",
            FindingKind::PageUnreachableNotFree => "page_unreachable_not_free",
            FindingKind::WrongPageType => "wrong_page_type",
            FindingKind::KeysOutOfOrder => "keys_out_of_order",
            FindingKind::ElementOutOfPage => "element_out_of_page",
            FindingKind::OverflowPastFileEnd => "overflow_past_file_end",
            FindingKind::Cycle => "cycle",
            FindingKind::FileTruncated => "file_truncated",
            FindingKind::PageIdMismatch => "page_id_mismatch",
            FindingKind::TooDeep => "too_deep",
            FindingKind::RootElementNotBucket => "root_element_not_bucket",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing wrong with the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The page that is wrong (for a bad reference: the page referred to).
    pub page: Pgid,
    /// What is wrong.
    pub kind: FindingKind,
    /// A sentence naming the page, and where it helps the parent page and offsets.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "page {}: {}: {}", self.page, self.kind, self.message)
    }
}
