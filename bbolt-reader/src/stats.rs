//! Per-bucket statistics with the meaning of bbolt's `Bucket.Stats()`.
//!
//! bbolt counts, for a bucket and all its sub-buckets: branch and leaf pages and their
//! overflow pages, keys (every leaf element, nested-bucket entries included), the tree
//! depth (a bucket's own depth plus the deepest sub-bucket's), bytes allocated
//! (`pages * page_size`) and bytes in use (header, element headers and data up to the end of
//! the last element), and inline buckets separately. An inline bucket's sub-buckets are not
//! counted.

/// Counts for one bucket's own tree, before sub-buckets are added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeStats {
    /// Branch pages.
    pub branch_pages: u64,
    /// Overflow pages of branch pages.
    pub branch_overflow: u64,
    /// Leaf pages (0 for an inline bucket).
    pub leaf_pages: u64,
    /// Overflow pages of leaf pages.
    pub leaf_overflow: u64,
    /// Leaf elements.
    pub keys: u64,
    /// Levels of the tree (1 for a single leaf or an inline bucket).
    pub depth: u64,
    /// Bytes in use on branch pages.
    pub branch_inuse: u64,
    /// Bytes in use on leaf pages.
    pub leaf_inuse: u64,
    /// Bytes in use by the inline page (inline buckets only).
    pub inline_inuse: u64,
}

/// bbolt's `BucketStats`, field for field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketStats {
    /// `BranchPageN`: branch pages.
    pub branch_pages: u64,
    /// `BranchOverflowN`: overflow pages of branch pages.
    pub branch_overflow: u64,
    /// `LeafPageN`: leaf pages.
    pub leaf_pages: u64,
    /// `LeafOverflowN`: overflow pages of leaf pages.
    pub leaf_overflow: u64,
    /// `KeyN`: leaf elements (nested-bucket entries included).
    pub keys: u64,
    /// `Depth`: levels, including the deepest chain of sub-buckets.
    pub depth: u64,
    /// `BranchAlloc`: bytes allocated to branch pages.
    pub branch_alloc: u64,
    /// `BranchInuse`: bytes used on branch pages.
    pub branch_inuse: u64,
    /// `LeafAlloc`: bytes allocated to leaf pages.
    pub leaf_alloc: u64,
    /// `LeafInuse`: bytes used on leaf pages.
    pub leaf_inuse: u64,
    /// `BucketN`: buckets, this one included.
    pub buckets: u64,
    /// `InlineBucketN`: inline buckets, this one included if inline.
    pub inline_buckets: u64,
    /// `InlineBucketInuse`: bytes used by inline buckets.
    pub inline_inuse: u64,
}

impl BucketStats {
    /// The stats of one tree on its own (no sub-buckets yet).
    pub fn from_own(t: &TreeStats, inline: bool, page_size: u64) -> BucketStats {
        BucketStats {
            branch_pages: t.branch_pages,
            branch_overflow: t.branch_overflow,
            leaf_pages: t.leaf_pages,
            leaf_overflow: t.leaf_overflow,
            keys: t.keys,
            depth: t.depth,
            branch_alloc: t
                .branch_pages
                .saturating_add(t.branch_overflow)
                .saturating_mul(page_size),
            branch_inuse: t.branch_inuse,
            leaf_alloc: t
                .leaf_pages
                .saturating_add(t.leaf_overflow)
                .saturating_mul(page_size),
            leaf_inuse: t.leaf_inuse,
            buckets: 1,
            inline_buckets: u64::from(inline),
            inline_inuse: t.inline_inuse,
        }
    }

    /// Adds `o` as bbolt's `BucketStats.Add` does: sums, and the larger depth.
    pub fn add(&mut self, o: &BucketStats) {
        self.branch_pages = self.branch_pages.saturating_add(o.branch_pages);
        self.branch_overflow = self.branch_overflow.saturating_add(o.branch_overflow);
        self.leaf_pages = self.leaf_pages.saturating_add(o.leaf_pages);
        self.leaf_overflow = self.leaf_overflow.saturating_add(o.leaf_overflow);
        self.keys = self.keys.saturating_add(o.keys);
        self.depth = self.depth.max(o.depth);
        self.branch_alloc = self.branch_alloc.saturating_add(o.branch_alloc);
        self.branch_inuse = self.branch_inuse.saturating_add(o.branch_inuse);
        self.leaf_alloc = self.leaf_alloc.saturating_add(o.leaf_alloc);
        self.leaf_inuse = self.leaf_inuse.saturating_add(o.leaf_inuse);
        self.buckets = self.buckets.saturating_add(o.buckets);
        self.inline_buckets = self.inline_buckets.saturating_add(o.inline_buckets);
        self.inline_inuse = self.inline_inuse.saturating_add(o.inline_inuse);
    }
}
