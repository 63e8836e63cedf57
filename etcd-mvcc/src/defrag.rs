//! What `etcdctl defrag` would make of a db: a model of bbolt's page split.
//!
//! etcd 3.4's `backend.defragdb` copies every top-level bucket, key by key in key order,
//! into a fresh bbolt file, with the destination bucket's `FillPercent` set to 0.9 and a
//! commit every 10,000 puts. bbolt (v1.3.x `node.go`) writes a node at commit by
//! splitting it:
//!
//! - a node is left whole when it has at most 4 elements (2 x minKeysPerPage) or its size
//!   (16-byte page header + per element a 16-byte header + key + value) is below the page
//!   size;
//! - otherwise the first piece takes elements while the running size stays within
//!   `page_size * fill_percent`, but always at least 2 elements, and leaves at least 2
//!   for the rest; the rest is split again the same way;
//! - each piece is written to `ceil(size / page_size)` contiguous pages;
//! - each piece becomes one element (16-byte header + its first key) of the parent branch
//!   node, which is split by the same rule; a bucket whose single leaf fits in a quarter
//!   page is stored inline in its parent's leaf instead of on its own pages.
//!
//! Appending in key order, commits in between do not change where pieces are cut (the
//! last, partly filled leaf is re-read and split again from its start), so one greedy
//! pass over the stream of (key length, value length) gives the page count. The model is
//! streaming: it keeps only the elements not yet assigned to a node (at most about a
//! page's worth).

use std::collections::VecDeque;

/// bbolt's page header size.
pub const PAGE_HEADER_SIZE: u64 = 16;
/// bbolt's leaf and branch element header size.
pub const ELEMENT_SIZE: u64 = 16;
/// bbolt's minimum keys per page.
const MIN_KEYS_PER_PAGE: usize = 2;
/// Fill percent etcd sets on every bucket while defragmenting.
pub const ETCD_DEFRAG_FILL_PERCENT: f64 = 0.9;
/// bbolt's default fill percent (used for the root bucket, which etcd does not set).
pub const BBOLT_DEFAULT_FILL_PERCENT: f64 = 0.5;

/// Pages and nodes produced at one level of a tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LevelTotals {
    /// Nodes written.
    pub nodes: u64,
    /// Pages they occupy (overflow included).
    pub pages: u64,
    /// Bytes used by the nodes (headers, element headers, keys, values).
    pub used_bytes: u64,
    /// Elements in the nodes.
    pub entries: u64,
}

impl LevelTotals {
    /// Adds another level's totals.
    pub fn add(&mut self, o: &LevelTotals) {
        self.nodes += o.nodes;
        self.pages += o.pages;
        self.used_bytes += o.used_bytes;
        self.entries += o.entries;
    }
}

/// A greedy node packer for one tree level, fed elements in key order.
#[derive(Debug, Clone)]
pub struct NodePacker {
    page_size: u64,
    threshold: u64,
    /// Undecided elements: (element size incl. header, key length).
    buf: VecDeque<(u64, u32)>,
    buf_size: u64,
    /// Scan state over `buf` for the split index: next index to examine and size so far.
    scan_i: usize,
    scan_sz: u64,
    /// Totals of the nodes emitted.
    pub totals: LevelTotals,
    /// Key length of each emitted node's first element, in order, waiting for the parent.
    emitted_first_keys: Vec<u32>,
}

impl NodePacker {
    /// A packer for pages of `page_size` bytes at `fill_percent` (clamped to 0.1..=1.0 as
    /// bbolt does).
    pub fn new(page_size: u64, fill_percent: f64) -> Self {
        let fill = fill_percent.clamp(0.1, 1.0);
        NodePacker {
            page_size: page_size.max(1),
            threshold: (page_size as f64 * fill) as u64,
            buf: VecDeque::new(),
            buf_size: PAGE_HEADER_SIZE,
            scan_i: 0,
            scan_sz: PAGE_HEADER_SIZE,
            totals: LevelTotals::default(),
            emitted_first_keys: Vec::new(),
        }
    }

    /// Adds one element of `key_len` + `value_len` bytes (for a branch element, value 0).
    #[inline]
    pub fn push(&mut self, key_len: u32, value_len: u64) {
        let size = ELEMENT_SIZE + u64::from(key_len) + value_len;
        self.buf.push_back((size, key_len));
        self.buf_size += size;
        self.advance(false);
    }

    /// Emits the first `n` buffered elements as one node.
    fn emit(&mut self, n: usize) {
        let mut size = PAGE_HEADER_SIZE;
        let first_key = self.buf.front().map_or(0, |e| e.1);
        for _ in 0..n {
            if let Some((s, _)) = self.buf.pop_front() {
                size += s;
                self.buf_size -= s;
            }
        }
        self.totals.nodes += 1;
        self.totals.pages += size.div_ceil(self.page_size);
        self.totals.used_bytes += size;
        self.totals.entries += n as u64;
        self.emitted_first_keys.push(first_key);
        self.scan_i = 0;
        self.scan_sz = PAGE_HEADER_SIZE;
    }

    /// Cuts every node that is decided. With `at_end`, the buffer is the whole remaining
    /// node and is cut completely.
    fn advance(&mut self, at_end: bool) {
        loop {
            let len = self.buf.len();
            if len == 0 {
                return;
            }
            // A node with few elements or below a page is not split — but only at the end
            // do we know the node holds nothing more.
            let splits = len > MIN_KEYS_PER_PAGE * 2 && self.buf_size >= self.page_size;
            if !splits {
                if at_end {
                    self.emit(len);
                }
                return;
            }
            // Find the split index: examine index i only while i < len - 2.
            let mut found = None;
            while self.scan_i + MIN_KEYS_PER_PAGE < len {
                let (s, _) = self.buf[self.scan_i];
                if self.scan_i >= MIN_KEYS_PER_PAGE && self.scan_sz + s > self.threshold {
                    found = Some(self.scan_i);
                    break;
                }
                self.scan_sz += s;
                self.scan_i += 1;
            }
            match found {
                Some(i) => self.emit(i),
                None if at_end => {
                    // bbolt's loop ran out: the split index is the last one examined.
                    let i = len - MIN_KEYS_PER_PAGE - 1;
                    self.emit(i.max(1));
                }
                None => return,
            }
        }
    }

    /// Ends the stream; returns the first-key lengths of all emitted nodes (for the
    /// parent level) and this level's totals.
    pub fn finish(mut self) -> (Vec<u32>, LevelTotals) {
        self.advance(true);
        (self.emitted_first_keys, self.totals)
    }
}

/// The shape of one bucket as defrag would write it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TreeModel {
    /// Leaf level.
    pub leaf: LevelTotals,
    /// All branch levels together.
    pub branch: LevelTotals,
    /// Number of levels (1 = a single leaf).
    pub depth: u32,
    /// Stored inline in the parent (no pages of its own).
    pub inline: bool,
    /// Bytes of the inline page when inline.
    pub inline_size: u64,
}

impl TreeModel {
    /// Pages of its own.
    pub fn pages(&self) -> u64 {
        if self.inline {
            0
        } else {
            self.leaf.pages + self.branch.pages
        }
    }
}

/// Builds a bucket's tree, streaming its elements in key order.
///
/// Every level is packed as the level below emits its nodes: each node's first key goes
/// up at once, so the heap holds a few undecided elements per level, not one first key
/// per leaf node (4 bytes a leaf, 8 MiB for an 8 GiB key bucket). The packers see the
/// same elements in the same order as [`tree_from_leaves`] would give them, so the model
/// is the same.
#[derive(Debug, Clone)]
pub struct TreeBuilder {
    page_size: u64,
    fill: f64,
    /// The leaf level first, then each branch level.
    levels: Vec<NodePacker>,
    entries: u64,
}

/// Levels a [`TreeBuilder`] packs at most (the leaf level and 63 branch levels, as
/// [`tree_from_leaves`] bounds them).
const MAX_LEVELS: usize = 64;

impl TreeBuilder {
    /// A builder for a bucket filled at `fill_percent`.
    pub fn new(page_size: u64, fill_percent: f64) -> Self {
        TreeBuilder {
            page_size,
            fill: fill_percent,
            levels: vec![NodePacker::new(page_size, fill_percent)],
            entries: 0,
        }
    }

    /// Adds one key/value of the bucket.
    #[inline]
    pub fn push(&mut self, key_len: u32, value_len: u64) {
        self.entries += 1;
        self.levels[0].push(key_len, value_len);
        if !self.levels[0].emitted_first_keys.is_empty() {
            self.carry_up(0);
        }
    }

    /// Hands the first keys of the nodes level `from` and the ones above it emitted to the
    /// level above each.
    fn carry_up(&mut self, from: usize) {
        let mut i = from;
        while i < self.levels.len() && !self.levels[i].emitted_first_keys.is_empty() {
            let mut keys = std::mem::take(&mut self.levels[i].emitted_first_keys);
            if i + 1 == self.levels.len() {
                if self.levels.len() >= MAX_LEVELS {
                    keys.clear();
                    self.levels[i].emitted_first_keys = keys;
                    return;
                }
                self.levels.push(NodePacker::new(self.page_size, self.fill));
            }
            for k in keys.drain(..) {
                self.levels[i + 1].push(k, 0);
            }
            // Its room is used again for the next nodes.
            self.levels[i].emitted_first_keys = keys;
            i += 1;
        }
    }

    /// Ends the bucket.
    pub fn finish(mut self) -> TreeModel {
        let mut i = 0;
        while i < self.levels.len() {
            self.levels[i].advance(true);
            self.carry_up(i);
            i += 1;
        }
        let mut model = leaf_level(self.page_size, self.levels[0].totals);
        if model.leaf.nodes <= 1 {
            return model;
        }
        // A level is a branch level of the tree when the level below it has more than one
        // node.
        for p in &self.levels[1..] {
            model.branch.add(&p.totals);
            model.depth += 1;
            if p.totals.nodes <= 1 {
                break;
            }
        }
        model
    }

    /// Entries pushed so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }
}

/// The model of a tree's leaf level alone (depth 1); one leaf is inline when it fits in
/// a quarter page (bbolt `Bucket.inlineable`).
fn leaf_level(page_size: u64, leaf: LevelTotals) -> TreeModel {
    let inline = leaf.nodes <= 1 && leaf.used_bytes <= page_size / 4;
    TreeModel {
        leaf,
        depth: 1,
        inline,
        inline_size: if inline {
            leaf.used_bytes.max(PAGE_HEADER_SIZE)
        } else {
            0
        },
        ..TreeModel::default()
    }
}

/// Completes a tree from its leaf level: `first_keys` holds the first key length of each
/// leaf node in order; branch levels are packed from them until one node remains.
pub fn tree_from_leaves(
    page_size: u64,
    fill: f64,
    leaf: LevelTotals,
    mut first_keys: Vec<u32>,
) -> TreeModel {
    let mut model = leaf_level(page_size, leaf);
    if leaf.nodes <= 1 {
        return model;
    }
    // Each level has fewer nodes than the one below (every branch node holds at least two
    // children), so this ends; the bound is a guard.
    while first_keys.len() > 1 && model.depth < 64 {
        let mut p = NodePacker::new(page_size, fill);
        for k in first_keys.drain(..) {
            p.push(k, 0);
        }
        let (up, totals) = p.finish();
        model.branch.add(&totals);
        model.depth += 1;
        first_keys = up;
    }
    model
}

/// Models a bucket's defragmented tree from its current leaf pages, in key order. Reads
/// only the 16-byte element headers (key and value lengths), never keys or values.
pub fn model_from_leaf_pages(pages: &[bbolt_reader::Page<'_>], page_size: u64) -> TreeModel {
    let mut t = TreeBuilder::new(page_size, ETCD_DEFRAG_FILL_PERCENT);
    for p in pages {
        for el in p.leaf_elements().flatten() {
            t.push(el.key.len() as u32, el.value.len() as u64);
        }
    }
    t.finish()
}

/// etcd 3.4's `defragLimit`: the copy commits after this many puts.
pub const DEFRAG_COMMIT_EVERY: u64 = 10_000;

/// Predicted size of the db after defrag, from each top-level bucket's model and its name.
///
/// The file holds two meta pages, the root bucket's leaf (one element per bucket: name,
/// 16-byte bucket header, plus the inline page for inline buckets; split at bbolt's default
/// fill), every bucket's pages, and the pages freed by the last commit, which stay free
/// below the high-water mark:
/// - a copy done in one commit frees only the fresh file's initial freelist page and
///   empty root leaf (pages 2 and 3);
/// - with several commits, pages freed by one commit are reused by the next, and the last
///   one leaves free the path it rewrote: one page per level of the deepest bucket and
///   the root bucket's pages.
pub fn predicted_size(page_size: u64, buckets: &[(Vec<u8>, TreeModel)]) -> DefragPrediction {
    let mut root = TreeBuilder::new(page_size, BBOLT_DEFAULT_FILL_PERCENT);
    let mut bucket_pages = 0;
    let mut deepest = 1;
    let mut entries = 0;
    for (name, m) in buckets {
        let value = 16 + if m.inline { m.inline_size } else { 0 };
        root.push(name.len() as u32, value);
        bucket_pages += m.pages();
        deepest = deepest.max(m.depth);
        entries += m.leaf.entries;
    }
    let root_model = root.finish();
    let root_pages = root_model.leaf.pages + root_model.branch.pages;
    let slack = if entries <= DEFRAG_COMMIT_EVERY {
        2
    } else {
        u64::from(deepest) + root_pages
    };
    let pages = 2 + root_pages + bucket_pages + slack;
    DefragPrediction {
        pages,
        size: pages * page_size,
        tree_pages: root_pages + bucket_pages,
        free_pages: slack,
    }
}

/// The outcome of [`predicted_size`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DefragPrediction {
    /// High-water mark of the new file, in pages.
    pub pages: u64,
    /// Its size in bytes (what etcd then reports as dbSize).
    pub size: u64,
    /// Pages reachable in the new file (excluding the two metas).
    pub tree_pages: u64,
    /// Pages expected to be free in the new file.
    pub free_pages: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streamed_levels_equal_the_levels_packed_one_after_another() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut deepest = 0;
        for case in 0..300u64 {
            let page_size = [512u64, 1024, 4096][(case % 3) as usize];
            let fill = [0.5, 0.9, 1.0][(case / 3 % 3) as usize];
            let n = next() % [5, 200, 20_000][(case % 7 % 3) as usize];
            let big = next() % 4 == 0;
            let mut t = TreeBuilder::new(page_size, fill);
            let mut leaf = NodePacker::new(page_size, fill);
            for _ in 0..n {
                let k = (next() % if big { 600 } else { 60 }) as u32;
                let v = next() % if big { 5000 } else { 120 };
                t.push(k, v);
                leaf.push(k, v);
            }
            let (keys, totals) = leaf.finish();
            let batch = tree_from_leaves(page_size, fill, totals, keys);
            deepest = deepest.max(batch.depth);
            assert_eq!(
                t.finish(),
                batch,
                "case {case}: {n} elements, page {page_size}, fill {fill}"
            );
        }
        assert!(deepest >= 4, "deepest tree {deepest}");
    }

    #[test]
    fn small_values_fill_leaves_to_ninety_percent() {
        let mut t = TreeBuilder::new(4096, 0.9);
        // 1000 elements of 16 + 17 + 100 = 133 bytes: 27 fit under 3686 (16 + 27*133 = 3607).
        // After 36 such nodes 28 remain, 3740 bytes: below a page, so they stay one node.
        for _ in 0..1000 {
            t.push(17, 100);
        }
        let m = t.finish();
        assert_eq!(m.leaf.nodes, 37);
        assert_eq!(m.leaf.pages, m.leaf.nodes);
        assert_eq!(m.depth, 2);
        assert_eq!(m.branch.nodes, 1);
        assert!(!m.inline);
    }

    #[test]
    fn large_values_take_two_per_node_with_overflow() {
        let mut t = TreeBuilder::new(4096, 0.9);
        for _ in 0..10 {
            t.push(17, 5000);
        }
        let m = t.finish();
        // Nodes of 2 (16 + 2 * 5033 = 10082 bytes = 3 pages) until 4 remain, which bbolt
        // leaves whole (20148 bytes = 5 pages).
        assert_eq!(m.leaf.nodes, 4);
        assert_eq!(m.leaf.pages, 3 * 3 + 5);
    }

    #[test]
    fn tiny_bucket_is_inline() {
        let mut t = TreeBuilder::new(4096, 0.9);
        t.push(16, 8);
        let m = t.finish();
        assert!(m.inline);
        assert_eq!(m.pages(), 0);
        assert_eq!(m.inline_size, 16 + 16 + 24);
    }

    #[test]
    fn a_node_below_one_page_is_not_split_even_above_the_threshold() {
        let mut t = TreeBuilder::new(4096, 0.9);
        // 30 x 130 + 16 = 3916: above 3686, below 4096.
        for _ in 0..30 {
            t.push(14, 100);
        }
        let m = t.finish();
        assert_eq!(m.leaf.nodes, 1);
        assert!(!m.inline);
        assert_eq!(m.pages(), 1);
    }

    #[test]
    fn streaming_equals_bbolt_recursive_split() {
        // Reference: bbolt's split applied to the whole node at once.
        fn reference(sizes: &[u64], ps: u64, fill: f64) -> (u64, u64) {
            let thr = (ps as f64 * fill) as u64;
            let mut nodes = 0;
            let mut pages = 0;
            let mut rest = sizes;
            loop {
                let total: u64 = 16 + rest.iter().sum::<u64>();
                if rest.len() <= 4 || total < ps {
                    nodes += 1;
                    pages += total.div_ceil(ps);
                    return (nodes, pages);
                }
                let mut sz = 16;
                let mut idx = 0;
                for (i, &e) in rest.iter().enumerate().take(rest.len() - 2) {
                    idx = i;
                    if i >= 2 && sz + e > thr {
                        break;
                    }
                    sz += e;
                }
                let first: u64 = 16 + rest[..idx].iter().sum::<u64>();
                nodes += 1;
                pages += first.div_ceil(ps);
                rest = &rest[idx..];
            }
        }
        let mut seed = 12345u64;
        for round in 0..200 {
            let n = (round % 50) + 1;
            let mut sizes = Vec::new();
            let mut p = NodePacker::new(4096, 0.9);
            for _ in 0..n {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = match (seed >> 33) % 4 {
                    0 => 10,
                    1 => 300,
                    2 => 2000,
                    _ => 9000,
                };
                sizes.push(ELEMENT_SIZE + 17 + v);
                p.push(17, v);
            }
            let (_, totals) = p.finish();
            assert_eq!(
                (totals.nodes, totals.pages),
                reference(&sizes, 4096, 0.9),
                "round {round}: {sizes:?}"
            );
        }
    }

    #[test]
    fn prediction_counts_metas_root_and_buckets() {
        let mut key = TreeBuilder::new(4096, 0.9);
        for _ in 0..1000 {
            key.push(17, 100);
        }
        let mut meta = TreeBuilder::new(4096, 0.9);
        meta.push(16, 8);
        let buckets = vec![
            (b"key".to_vec(), key.finish()),
            (b"meta".to_vec(), meta.finish()),
        ];
        let p = predicted_size(4096, &buckets);
        // 2 metas + 1 root leaf + 37 leaves + 1 branch + the 2 pages a one-commit copy frees.
        assert_eq!(p.tree_pages, 1 + 37 + 1);
        assert_eq!(p.pages, 2 + 39 + 2);
        // Above 10,000 entries: several commits; the last leaves its path free.
        let mut big = TreeBuilder::new(4096, 0.9);
        for _ in 0..20_000 {
            big.push(17, 100);
        }
        let big = big.finish();
        let depth = u64::from(big.depth);
        let p = predicted_size(4096, &[(b"key".to_vec(), big.clone())]);
        assert_eq!(p.free_pages, depth + 1);
        assert_eq!(p.pages, 2 + 1 + big.pages() + depth + 1);
    }
}
