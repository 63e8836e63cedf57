//! One pass over the whole file: which page is what, who owns it, and what is wrong.
//!
//! The walk starts at the chosen meta's root bucket and follows every bucket's B+tree,
//! nested buckets included. It keeps one entry per page of the file (sized by the file's
//! length, never by a number read from it) and enters a page only the first time it is
//! referenced, so cycles and shared subtrees cost one finding each, not an endless walk.
//! Branch pages are walked in key order on one thread; leaf pages are analysed in batches
//! in parallel (rayon) and their results merged in key order, so the output does not
//! depend on the number of threads.
//!
//! Free pages come from the freelist page when the meta names one. When the freelist pgid
//! is `u64::MAX` (not persisted: etcd on Linux runs bbolt with `NoFreelistSync`), free pages
//! are reconstructed as bbolt does on open: every page below the high-water mark that is
//! neither a meta page nor reachable.

use crate::bucket::{Bucket, MAX_DEPTH};
use crate::db::Db;
use crate::finding::{Finding, FindingKind};
use crate::meta::PGID_NO_FREELIST;
use crate::page::{key_cmp, Page, PageKind};
use crate::stats::{BucketStats, TreeStats};
use crate::tree::{descend, Descend, Frame, KeyRange, Reference};
use crate::Pgid;
use rayon::prelude::*;
use std::collections::VecDeque;

/// Buckets nested deeper than this are not entered (real files nest a few levels).
pub const MAX_BUCKET_NESTING: usize = 64;

/// Findings listed for one page's elements (or one freelist's ids) before the rest are
/// only counted in a closing finding: a forged page holds thousands of bad elements and a
/// forged freelist millions of bad ids, and a line each would grow the report (and its
/// memory) by a line per 8 or 16 bytes of file.
pub const MAX_FINDINGS_PER_PAGE: usize = 16;

/// Cuts the findings from `start` on down to [`MAX_FINDINGS_PER_PAGE`], adding one that
/// counts those left out.
fn cap_findings(findings: &mut Vec<Finding>, start: usize, page: Pgid, what: &str) {
    let listed = findings.len().saturating_sub(start);
    if listed <= MAX_FINDINGS_PER_PAGE {
        return;
    }
    let kind = findings
        .get(start + MAX_FINDINGS_PER_PAGE)
        .map_or(FindingKind::ElementOutOfPage, |f| f.kind);
    findings.truncate(start + MAX_FINDINGS_PER_PAGE);
    findings.push(Finding {
        page,
        kind,
        message: format!(
            "{} more findings on {what} are not listed",
            listed - MAX_FINDINGS_PER_PAGE
        ),
    });
}

/// Leaf pages gathered before a parallel batch is analysed and handed to the visitor: few
/// enough that a visitor which reads the leaves on another thread gets them soon after
/// the walk took them and holds little while it queues them, enough that splitting a
/// batch over the pool costs little beside analysing it.
const LEAF_BATCH: usize = 1024;
/// Below this many leaves a batch is analysed on the calling thread.
const PARALLEL_MIN: usize = 64;

/// Owner index meaning "no bucket" (the freelist's overflow pages).
pub const NO_BUCKET: u32 = u32::MAX;

/// What the walk found a page to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageUse {
    /// Not reached from the root (free, lost, or past the high-water mark).
    Unreached,
    /// Meta page 0 or 1.
    Meta,
    /// The freelist page (or one of its overflow pages).
    Freelist,
    /// A branch page of bucket `.0` (index into [`Walk::buckets`]).
    Branch(u32),
    /// A leaf page of bucket `.0`.
    Leaf(u32),
    /// An overflow page continuing a page of bucket `.0` ([`NO_BUCKET`] for the freelist).
    Overflow(u32),
    /// Reached as part of bucket `.0`'s tree but neither a branch nor a leaf page.
    Invalid(u32),
}

impl PageUse {
    /// The owning bucket's index, for pages that belong to a bucket.
    pub fn bucket(&self) -> Option<usize> {
        match *self {
            PageUse::Branch(b) | PageUse::Leaf(b) | PageUse::Overflow(b) | PageUse::Invalid(b)
                if b != NO_BUCKET =>
            {
                Some(b as usize)
            }
            _ => None,
        }
    }
}

/// One page's [`PageUse`] in two bytes: the kind in the top three bits, the owning
/// bucket's index in the other thirteen. The walk keeps one per page of the file (4 MiB
/// for an 8 GiB file of 4 KiB pages, a quarter of the enum's eight bytes). An index too
/// large for thirteen bits is kept exactly in a side map ([`UseTable`]), so no file
/// loses anything: only a db with more than [`PACKED_BUCKETS`] buckets uses it.
type PackedUse = u16;

/// Bucket indexes stored in the packed value itself (0 to this, exclusive).
const PACKED_BUCKETS: u32 = (1 << 13) - 2;
/// Low bits meaning [`NO_BUCKET`].
const PACKED_NO_BUCKET: u16 = (1 << 13) - 2;
/// Low bits meaning: the index is in the side map.
const PACKED_SPILLED: u16 = (1 << 13) - 1;
const PACKED_LOW: u16 = (1 << 13) - 1;

/// Every page's [`PageUse`], packed ([`PackedUse`]).
#[derive(Debug, Clone, Default)]
struct UseTable {
    packed: Vec<PackedUse>,
    /// Bucket indexes of pages whose index did not fit the packed value, by page.
    spilled: std::collections::HashMap<usize, u32>,
}

impl UseTable {
    /// `n` pages, all [`PageUse::Unreached`].
    fn new(n: usize) -> Self {
        UseTable {
            packed: crate::page::written_zeros(n),
            spilled: Default::default(),
        }
    }

    fn get(&self, i: usize) -> Option<PageUse> {
        let p = *self.packed.get(i)?;
        let low = p & PACKED_LOW;
        let bucket = match low {
            PACKED_NO_BUCKET => NO_BUCKET,
            PACKED_SPILLED => self.spilled.get(&i).copied().unwrap_or(NO_BUCKET),
            b => u32::from(b),
        };
        Some(match p >> 13 {
            0 => PageUse::Unreached,
            1 => PageUse::Meta,
            2 => PageUse::Freelist,
            3 => PageUse::Branch(bucket),
            4 => PageUse::Leaf(bucket),
            5 => PageUse::Overflow(bucket),
            _ => PageUse::Invalid(bucket),
        })
    }

    /// Sets page `i`'s use; an index past the table is ignored.
    fn set(&mut self, i: usize, u: PageUse) {
        let Some(slot) = self.packed.get_mut(i) else {
            return;
        };
        let (kind, bucket) = match u {
            PageUse::Unreached => (0, None),
            PageUse::Meta => (1, None),
            PageUse::Freelist => (2, None),
            PageUse::Branch(b) => (3, Some(b)),
            PageUse::Leaf(b) => (4, Some(b)),
            PageUse::Overflow(b) => (5, Some(b)),
            PageUse::Invalid(b) => (6, Some(b)),
        };
        let low = match bucket {
            None => 0,
            Some(NO_BUCKET) => PACKED_NO_BUCKET,
            Some(b) if b < PACKED_BUCKETS => b as u16,
            Some(b) => {
                self.spilled.insert(i, b);
                PACKED_SPILLED
            }
        };
        if *slot & PACKED_LOW == PACKED_SPILLED && low != PACKED_SPILLED {
            self.spilled.remove(&i);
        }
        *slot = kind << 13 | low;
    }

    /// Pages whose use is not [`PageUse::Unreached`].
    fn reached(&self) -> u64 {
        self.packed.iter().filter(|&&p| p >> 13 != 0).count() as u64
    }
}

/// Where the free-page set came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreelistSource {
    /// Read from the freelist page at this pgid.
    Persisted(Pgid),
    /// The freelist page named by the meta could not be read; no page counts as free.
    Unreadable(Pgid),
    /// Not persisted (freelist pgid `u64::MAX`): every unreachable page below the
    /// high-water mark.
    Reconstructed,
}

/// Every page of the file and what it is.
#[derive(Debug, Clone)]
pub struct PageGraph {
    /// Page size in bytes.
    pub page_size: usize,
    /// The meta's high-water mark (one past the highest page in use).
    pub high_water_mark: Pgid,
    /// Pages the file holds (a partial last page counts).
    pub file_pages: u64,
    /// Where the free pages come from.
    pub freelist: FreelistSource,
    uses: UseTable,
    free: Vec<u64>,
}

impl PageGraph {
    /// What page `pgid` is; `None` past the end of the file.
    pub fn page_use(&self, pgid: Pgid) -> Option<PageUse> {
        usize::try_from(pgid).ok().and_then(|i| self.uses.get(i))
    }

    /// True when `pgid` is free (listed in the freelist, or reconstructed as free).
    pub fn is_free(&self, pgid: Pgid) -> bool {
        bit(&self.free, pgid)
    }

    /// True when `pgid` was reached from the root (metas and freelist included).
    pub fn is_reachable(&self, pgid: Pgid) -> bool {
        self.page_use(pgid).is_some_and(|u| u != PageUse::Unreached)
    }

    /// Number of free pages (within the file).
    pub fn free_count(&self) -> u64 {
        self.free.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// Number of reachable pages (metas and freelist included, overflow pages counted).
    pub fn reachable_count(&self) -> u64 {
        self.uses.reached()
    }

    /// Pages the file holds at or past the high-water mark (preallocated or stale space).
    pub fn past_high_water_count(&self) -> u64 {
        self.file_pages.saturating_sub(self.high_water_mark)
    }

    /// The free page ids in ascending order.
    pub fn free_pages(&self) -> impl Iterator<Item = Pgid> + '_ {
        (0..self.file_pages).filter(|p| self.is_free(*p))
    }
}

/// A bucket met by the walk. Index 0 is the root bucket (empty name, no parent).
#[derive(Debug, Clone)]
pub struct BucketNode<'a> {
    /// The bucket's key in its parent (empty for the root bucket).
    pub name: &'a [u8],
    /// Index of the parent bucket.
    pub parent: Option<usize>,
    /// Root page, or `None` for an inline bucket.
    pub root: Option<Pgid>,
    /// Nesting level: 0 for the root bucket, 1 for top-level buckets.
    pub nesting: usize,
    /// Statistics of this bucket's own tree (sub-buckets not included).
    pub own: TreeStats,
}

/// The result of [`walk`].
#[derive(Debug, Clone)]
pub struct Walk<'a> {
    /// Every page and what it is.
    pub graph: PageGraph,
    /// Every bucket, parents before children, siblings in key order.
    pub buckets: Vec<BucketNode<'a>>,
    /// Damage met on the way, in walk order, then the page accounting.
    pub findings: Vec<Finding>,
}

impl<'a> Walk<'a> {
    /// The bucket's path from the top level: `[b"key"]`, `[b"a", b"b"]`; empty for the root.
    pub fn path(&self, index: usize) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        let mut cur = Some(index);
        while let Some(i) = cur {
            let Some(node) = self.buckets.get(i) else {
                break;
            };
            if node.parent.is_none() || out.len() > MAX_BUCKET_NESTING {
                break;
            }
            out.push(node.name);
            cur = node.parent;
        }
        out.reverse();
        out
    }

    /// Indices of the top-level buckets, in key order.
    pub fn top_level(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.buckets.len()).filter(|i| self.buckets[*i].parent == Some(0))
    }

    /// bbolt `Bucket.Stats()` for every bucket (same indices as [`Walk::buckets`]): its own
    /// tree plus all sub-buckets, with bbolt's rules (an inline bucket's sub-buckets are
    /// not counted; depth adds the deepest sub-bucket's depth).
    pub fn bucket_stats(&self) -> Vec<BucketStats> {
        let ps = self.graph.page_size as u64;
        let mut agg: Vec<BucketStats> = self
            .buckets
            .iter()
            .map(|b| BucketStats::from_own(&b.own, b.root.is_none(), ps))
            .collect();
        let mut sub: Vec<BucketStats> = vec![BucketStats::default(); self.buckets.len()];
        // Children always come after their parent, so a reverse sweep sees each bucket
        // complete before it is folded into its parent.
        for i in (1..self.buckets.len()).rev() {
            let mut me = agg[i].clone();
            me.depth += sub[i].depth;
            me.add(&sub[i]);
            agg[i] = me.clone();
            if let Some(p) = self.buckets[i].parent {
                if self.buckets.get(p).is_some_and(|pb| pb.root.is_some()) {
                    sub[p].add(&me);
                }
            }
        }
        if let Some(root) = agg.first_mut() {
            root.depth += sub[0].depth;
            root.add(&sub[0]);
        }
        agg
    }

    /// Sum of [`Walk::bucket_stats`] over the top-level buckets, as `bbolt stats` prints it.
    pub fn total_stats(&self) -> BucketStats {
        let all = self.bucket_stats();
        let mut t = BucketStats::default();
        for i in self.top_level() {
            t.add(&all[i]);
        }
        t
    }
}

/// Walks the whole file as of `db`'s meta.
pub fn walk<'a>(db: &Db<'a>) -> Walk<'a> {
    walk_with_progress(db, &|_| {})
}

/// Like [`walk`], calling `progress` now and then with the number of pages reached so far
/// (at most [`Db::page_count`]); meant for a progress bar.
pub fn walk_with_progress<'a>(db: &Db<'a>, progress: &dyn Fn(u64)) -> Walk<'a> {
    Walker::new(*db, progress).run()
}

/// Sees the leaf pages of the buckets it chooses as the walk takes them, so a reader of
/// their elements reads each page right after the walk did, while it is in cache, instead
/// of in a pass of its own.
pub trait LeafVisitor<'a> {
    /// Whether the leaves of `node`'s tree are wanted (asked once per bucket with a tree
    /// of its own, when the walk enters it; inline buckets have no leaf pages).
    fn wants(&mut self, node: &BucketNode<'a>) -> bool;
    /// Leaf pages of a wanted bucket, in key order, a batch at a time, after the walk
    /// analysed them. The pages are cut to the span the walk gave them.
    fn leaves(&mut self, pages: &[Page<'a>]);
}

/// Like [`walk_with_progress`], handing the leaves of the buckets `visitor` wants to it.
pub fn walk_with_visitor<'a>(
    db: &Db<'a>,
    progress: &dyn Fn(u64),
    visitor: &mut dyn LeafVisitor<'a>,
) -> Walk<'a> {
    let mut w = Walker::new(*db, progress);
    w.visitor = Some(visitor);
    w.run()
}

fn bit(bits: &[u64], i: u64) -> bool {
    usize::try_from(i / 64)
        .ok()
        .and_then(|w| bits.get(w))
        .is_some_and(|w| w & (1 << (i % 64)) != 0)
}

fn set_bit(bits: &mut [u64], i: u64) {
    if let Some(w) = usize::try_from(i / 64).ok().and_then(|w| bits.get_mut(w)) {
        *w |= 1 << (i % 64);
    }
}

/// A leaf page waiting for analysis, with the key range its ancestors allow.
#[derive(Debug, Clone, Copy)]
struct LeafTask<'a> {
    page: Page<'a>,
    /// The page's span runs past the end of the file (reported once elsewhere).
    cut: bool,
    min: Option<&'a [u8]>,
    max: Option<&'a [u8]>,
}

/// What one leaf page holds; computed without shared state, so it can run on any thread.
#[derive(Debug, Default)]
struct LeafResult<'a> {
    findings: Vec<Finding>,
    used: u64,
    first: Option<&'a [u8]>,
    last: Option<&'a [u8]>,
    nested: Vec<(&'a [u8], &'a [u8])>,
    /// Elements without the bucket flag (plain key/value pairs).
    plain: u64,
    out_of_order: bool,
}

fn show_key(k: &[u8]) -> String {
    const MAX: usize = 48;
    let mut s = String::new();
    for b in k.iter().take(MAX) {
        s.push_str(&format!("{b:02x}"));
    }
    if k.len() > MAX {
        s.push_str("...");
    }
    s
}

fn analyze_leaf<'a>(t: &LeafTask<'a>) -> LeafResult<'a> {
    let page = t.page;
    let pgid = page.pgid();
    let mut r = LeafResult {
        used: page.used_bytes(),
        ..LeafResult::default()
    };
    // Only findings use this text: built when one is made, not once per page.
    let describe = || {
        if page.is_inline() {
            format!("inline bucket page in page {pgid}")
        } else {
            format!("leaf page {pgid}")
        }
    };
    // Keys and values of a sound page are disjoint, so together they fit in the page.
    // Elements that overlap could make key comparison quadratic; they are reported and
    // their order is not compared.
    let fit = page.elements_in_view();
    if fit < page.count() && !t.cut {
        let where_ = describe();
        r.findings.push(Finding {
            page: pgid,
            kind: FindingKind::ElementOutOfPage,
            message: format!(
                "{where_} claims {} elements but only {fit} element headers fit in it",
                page.count()
            ),
        });
    }
    let data_bytes = page.element_data_bytes();
    let overlapping = data_bytes > page.bytes().len() as u64;
    if overlapping {
        let where_ = describe();
        r.findings.push(Finding {
            page: pgid,
            kind: FindingKind::ElementOutOfPage,
            message: format!(
                "elements of {where_} overlap: their keys and values total {data_bytes} bytes, more than the page's {}",
                page.bytes().len()
            ),
        });
    }
    for i in 0..fit {
        let el = match page.leaf_element(i) {
            Ok(el) => el,
            Err(_) if t.cut => continue,
            Err(e) => {
                r.findings.push(Finding {
                    page: pgid,
                    kind: FindingKind::ElementOutOfPage,
                    message: e.to_string(),
                });
                continue;
            }
        };
        let key = el.key;
        if overlapping {
            if el.is_bucket() {
                r.nested.push((key, el.value));
            } else {
                r.plain += 1;
            }
            continue;
        }
        let mut bad = None;
        match r.last {
            Some(prev) if key_cmp(prev, key).is_ge() => {
                let where_ = describe();
                bad = Some(format!(
                    "key[{i}]=(hex){} on {where_} is not greater than the previous key (hex){}",
                    show_key(key),
                    show_key(prev)
                ));
            }
            None => {
                if let Some(min) = t.min.filter(|m| key_cmp(key, m).is_lt()) {
                    let where_ = describe();
                    bad = Some(format!(
                        "first key (hex){} on {where_} is below its parent's key (hex){}",
                        show_key(key),
                        show_key(min)
                    ));
                }
            }
            _ => {}
        }
        if bad.is_none() {
            if let Some(max) = t.max.filter(|m| key_cmp(key, m).is_ge()) {
                let where_ = describe();
                bad = Some(format!(
                    "key[{i}]=(hex){} on {where_} is not below the next key in its ancestor (hex){}",
                    show_key(key),
                    show_key(max)
                ));
            }
        }
        if let Some(message) = bad {
            r.out_of_order = true;
            r.findings.push(Finding {
                page: pgid,
                kind: FindingKind::KeysOutOfOrder,
                message,
            });
        }
        if r.first.is_none() {
            r.first = Some(key);
        }
        r.last = Some(key);
        if el.is_bucket() {
            r.nested.push((key, el.value));
        } else {
            r.plain += 1;
        }
    }
    if r.findings.len() > MAX_FINDINGS_PER_PAGE {
        cap_findings(&mut r.findings, 0, pgid, &describe());
    }
    r
}

/// A bucket waiting to be walked.
#[derive(Debug, Clone, Copy)]
enum Pending<'a> {
    Tree {
        bucket: usize,
        root: Pgid,
        holder: Option<Pgid>,
    },
    Inline {
        bucket: usize,
        page: Page<'a>,
    },
}

/// The whole-file walk's side of the descent of one bucket's tree: pages are entered by
/// [`Walker::enter`] (page graph, cycles, references), branch pages checked as they are
/// entered, leaf pages analysed in parallel batches.
struct TreeDescent<'w, 'a, 'p> {
    w: &'w mut Walker<'a, 'p>,
    bucket: usize,
    batch: Vec<LeafTask<'a>>,
    /// The last key of the previous leaf, for the order check across leaves.
    prev_last: Option<&'a [u8]>,
    /// The smallest key the page being entered may hold: its parent element's key (none
    /// for the root).
    min: Option<&'a [u8]>,
}

impl<'a> Descend<'a> for TreeDescent<'_, 'a, '_> {
    fn elements(&self, page: &Page<'a>) -> usize {
        page.elements_in_view()
    }

    fn child(&mut self, r: &Reference<'_, 'a>) -> Option<Page<'a>> {
        self.min = Some(r.el.key);
        if let Some(f) = r.stack.last() {
            crate::tree::hint_child(&self.w.db, &f.page, r.index + crate::tree::CHILD_AHEAD);
        }
        self.w
            .enter(self.bucket, r.el.pgid, Some(r.parent()), r.stack)
    }

    fn leaf(&mut self, _: &[Frame<'a>], _: usize, page: Page<'a>, range: KeyRange<'a>) {
        let cut = self.w.db.page_span_truncated(&page);
        self.batch.push(LeafTask {
            page,
            cut,
            min: self.min,
            max: range.1,
        });
        if self.batch.len() >= LEAF_BATCH {
            self.w
                .run_batch(self.bucket, &mut self.batch, &mut self.prev_last);
        }
    }

    fn branch(&mut self, stack: &[Frame<'a>], page: &Page<'a>, range: KeyRange<'a>) -> bool {
        self.w.check_branch(self.bucket, page, self.min, range.1);
        if stack.len() + 1 >= MAX_DEPTH {
            self.w.find(
                page.pgid(),
                FindingKind::TooDeep,
                format!(
                    "branch page {} is at depth {}, deeper than any real tree; its children are not walked",
                    page.pgid(),
                    stack.len() + 1
                ),
            );
            return false;
        }
        true
    }
}

struct Walker<'a, 'p> {
    db: Db<'a>,
    progress: &'p dyn Fn(u64),
    visitor: Option<&'p mut dyn LeafVisitor<'a>>,
    /// The bucket whose leaves go to the visitor now.
    visited: Option<usize>,
    /// The batch's pages, for the visitor.
    visit_pages: Vec<Page<'a>>,
    entered: u64,
    hwm: Pgid,
    file_pages: u64,
    uses: UseTable,
    free: Vec<u64>,
    listed_free: bool,
    freelist: FreelistSource,
    findings: Vec<Finding>,
    buckets: Vec<BucketNode<'a>>,
    queue: VecDeque<Pending<'a>>,
    inline_bytes: u64,
    inline_budget_reported: bool,
}

impl<'a, 'p> Walker<'a, 'p> {
    fn new(db: Db<'a>, progress: &'p dyn Fn(u64)) -> Self {
        let file_pages = db.page_count();
        // Sized by the file's real length: one entry per page it holds.
        let n = usize::try_from(file_pages).unwrap_or(usize::MAX);
        Walker {
            db,
            progress,
            visitor: None,
            visited: None,
            visit_pages: Vec::new(),
            entered: 0,
            hwm: db.meta().high_water_mark,
            file_pages,
            uses: UseTable::new(n),
            free: crate::page::written_zeros(n.div_ceil(64)),
            listed_free: false,
            freelist: FreelistSource::Reconstructed,
            findings: Vec::new(),
            buckets: Vec::new(),
            queue: VecDeque::new(),
            inline_bytes: 0,
            inline_budget_reported: false,
        }
    }

    fn find(&mut self, page: Pgid, kind: FindingKind, message: String) {
        self.findings.push(Finding {
            page,
            kind,
            message,
        });
    }

    fn use_at(&self, pgid: Pgid) -> PageUse {
        usize::try_from(pgid)
            .ok()
            .and_then(|i| self.uses.get(i))
            .unwrap_or(PageUse::Unreached)
    }

    fn set_use(&mut self, pgid: Pgid, u: PageUse) {
        if let Ok(i) = usize::try_from(pgid) {
            self.uses.set(i, u);
        }
    }

    fn run(mut self) -> Walk<'a> {
        for m in 0..2u64.min(self.file_pages) {
            self.set_use(m, PageUse::Meta);
        }
        self.read_freelist();
        self.buckets.push(BucketNode {
            name: b"",
            parent: None,
            root: Some(self.db.meta().root),
            nesting: 0,
            own: TreeStats::default(),
        });
        self.queue.push_back(Pending::Tree {
            bucket: 0,
            root: self.db.meta().root,
            holder: None,
        });
        while let Some(p) = self.queue.pop_front() {
            match p {
                Pending::Tree {
                    bucket,
                    root,
                    holder,
                } => self.walk_tree(bucket, root, holder),
                Pending::Inline { bucket, page } => self.walk_inline(bucket, page),
            }
        }
        self.account();
        Walk {
            graph: PageGraph {
                page_size: self.db.page_size(),
                high_water_mark: self.hwm,
                file_pages: self.file_pages,
                freelist: self.freelist,
                uses: self.uses,
                free: self.free,
            },
            buckets: self.buckets,
            findings: self.findings,
        }
    }

    fn read_freelist(&mut self) {
        let fl = self.db.meta().freelist;
        if fl == PGID_NO_FREELIST {
            self.freelist = FreelistSource::Reconstructed;
            return;
        }
        self.freelist = FreelistSource::Unreadable(fl);
        if fl >= self.hwm || fl >= self.file_pages {
            let why = if fl >= self.file_pages {
                "past the end of the file"
            } else {
                "at or past the high-water mark"
            };
            self.find(
                fl,
                FindingKind::PageOutOfBounds,
                format!(
                    "freelist page {fl} named by the meta is {why} ({})",
                    self.hwm
                ),
            );
            return;
        }
        let page = match self.db.page(fl) {
            Ok(p) => p,
            Err(e) => {
                self.find(fl, FindingKind::PageOutOfBounds, e.to_string());
                return;
            }
        };
        if page.kind() != PageKind::Freelist {
            self.find(
                fl,
                FindingKind::WrongPageType,
                format!(
                    "page {fl} is named as the freelist by the meta but is a {} page",
                    page.kind()
                ),
            );
            return;
        }
        if self.use_at(fl) != PageUse::Unreached {
            self.find(
                fl,
                FindingKind::PageReferencedTwice,
                format!("freelist page {fl} is also a meta page"),
            );
            return;
        }
        self.set_use(fl, PageUse::Freelist);
        let owned = self.mark_overflow(&page, PageUse::Freelist);
        let page = page.restricted(self.span_len(owned));
        let ids = match page.freelist_ids() {
            Ok(ids) => ids,
            Err(e) => {
                self.find(fl, FindingKind::ElementOutOfPage, e.to_string());
                return;
            }
        };
        self.freelist = FreelistSource::Persisted(fl);
        self.listed_free = true;
        let first_finding = self.findings.len();
        let mut unlisted = 0u64;
        for id in ids {
            // Past the cap, bad ids are only counted (the list can hold millions).
            if self.findings.len() - first_finding >= MAX_FINDINGS_PER_PAGE {
                if id >= self.hwm || id >= self.file_pages || bit(&self.free, id) {
                    unlisted += 1;
                } else {
                    set_bit(&mut self.free, id);
                }
                continue;
            }
            if id >= self.hwm || id >= self.file_pages {
                self.find(
                    id,
                    FindingKind::PageOutOfBounds,
                    format!(
                        "freelist page {fl} lists page {id}, at or past the high-water mark {}",
                        self.hwm
                    ),
                );
            } else if bit(&self.free, id) {
                self.find(
                    id,
                    FindingKind::PageReferencedTwice,
                    format!("page {id} is listed twice in freelist page {fl} (already freed)"),
                );
            } else {
                set_bit(&mut self.free, id);
            }
        }
        if unlisted > 0 {
            self.find(
                fl,
                FindingKind::PageOutOfBounds,
                format!(
                    "{unlisted} more ids of freelist page {fl} are out of bounds or listed twice; not listed"
                ),
            );
        }
    }

    /// Marks the overflow pages of `page`; stops at the file's end or at the first page
    /// already in use (reporting it), so overlapping spans cost one finding each.
    /// Returns how many pages, from the page itself on, now belong to it alone.
    fn mark_overflow(&mut self, page: &Page<'a>, u: PageUse) -> u64 {
        let pgid = page.pgid();
        let ovf = u64::from(page.overflow());
        let end = pgid.saturating_add(1).saturating_add(ovf);
        let own_page_whole =
            page.offset().saturating_add(self.db.page_size() as u64) <= self.db.data().len() as u64;
        if self.db.page_span_truncated(page) && !own_page_whole {
            // The page itself is cut by the end of the file: the file_truncated finding
            // of the accounting names it.
        } else if self.db.page_span_truncated(page) {
            self.find(
                pgid,
                FindingKind::OverflowPastFileEnd,
                format!(
                    "page {pgid} spans {} pages (overflow {ovf}), past the end of the file at page {}",
                    ovf + 1,
                    self.file_pages
                ),
            );
        } else if end > self.hwm {
            self.find(
                pgid,
                FindingKind::PageOutOfBounds,
                format!(
                    "page {pgid} with overflow {ovf} runs past the high-water mark {}",
                    self.hwm
                ),
            );
        }
        let mut owned = 1;
        for id in pgid.saturating_add(1)..end.min(self.file_pages) {
            if self.use_at(id) != PageUse::Unreached {
                self.find(
                    id,
                    FindingKind::PageReferencedTwice,
                    format!(
                        "page {id} is overflow of page {pgid} and is also in use as {:?}",
                        self.use_at(id)
                    ),
                );
                break;
            }
            self.set_use(id, u);
            owned += 1;
        }
        owned
    }

    fn bucket_label(&self, bucket: usize) -> String {
        if bucket == 0 {
            return "the root bucket".to_string();
        }
        let mut parts = Vec::new();
        let mut cur = Some(bucket);
        while let Some(i) = cur {
            match self.buckets.get(i) {
                Some(b) if b.parent.is_some() && parts.len() <= MAX_BUCKET_NESTING => {
                    parts.push(String::from_utf8_lossy(b.name).into_owned());
                    cur = b.parent;
                }
                _ => break,
            }
        }
        parts.reverse();
        format!("bucket {:?}", parts.join("/"))
    }

    /// Enters page `pgid`, referenced by `parent` (or by a bucket value when `None`), as
    /// part of `bucket`'s tree. Returns the page when it should be descended into.
    fn enter(
        &mut self,
        bucket: usize,
        pgid: Pgid,
        parent: Option<Pgid>,
        stack: &[Frame<'a>],
    ) -> Option<Page<'a>> {
        // Only findings use this text: built when one is made, not once per page.
        let describe_from = |w: &Self| match parent {
            Some(p) => format!("referenced by page {p}"),
            None => format!("root of {}", w.bucket_label(bucket)),
        };
        if pgid >= self.file_pages && pgid < self.hwm {
            let from = describe_from(self);
            self.find(
                pgid,
                FindingKind::FileTruncated,
                format!(
                    "page {pgid} ({from}) is below the high-water mark {} but past the end of the file ({} pages)",
                    self.hwm, self.file_pages
                ),
            );
            return None;
        }
        if pgid >= self.hwm || pgid >= self.file_pages {
            let from = describe_from(self);
            self.find(
                pgid,
                FindingKind::PageOutOfBounds,
                format!(
                    "page {pgid} ({from}) is out of bounds: high-water mark {}, file holds {} pages",
                    self.hwm, self.file_pages
                ),
            );
            return None;
        }
        match self.use_at(pgid) {
            PageUse::Unreached => {}
            u @ (PageUse::Meta | PageUse::Freelist) => {
                let from = describe_from(self);
                self.find(
                    pgid,
                    FindingKind::WrongPageType,
                    format!("page {pgid} ({from}) is a {u:?} page, not a branch or leaf"),
                );
                return None;
            }
            u => {
                let from = describe_from(self);
                if stack.iter().any(|f| f.page.pgid() == pgid) {
                    self.find(
                        pgid,
                        FindingKind::Cycle,
                        format!("page {pgid} ({from}) is one of its own ancestors"),
                    );
                } else {
                    let owner = u.bucket().map(|b| self.bucket_label(b)).unwrap_or_default();
                    self.find(
                        pgid,
                        FindingKind::PageReferencedTwice,
                        format!("page {pgid} ({from}) was already reached as {u:?} {owner}"),
                    );
                }
                return None;
            }
        }
        let page = match self.db.page(pgid) {
            Ok(p) => p,
            Err(e) => {
                self.find(pgid, FindingKind::PageOutOfBounds, e.to_string());
                return None;
            }
        };
        let b = u32::try_from(bucket).unwrap_or(NO_BUCKET - 1);
        let depth = stack.len();
        self.buckets[bucket].own.depth = self.buckets[bucket].own.depth.max(depth as u64 + 1);
        if page.id() != pgid {
            let from = describe_from(self);
            self.find(
                pgid,
                FindingKind::PageIdMismatch,
                format!("page {pgid} ({from}) has id {} in its header", page.id()),
            );
        }
        match page.kind() {
            PageKind::Branch => self.set_use(pgid, PageUse::Branch(b)),
            PageKind::Leaf => self.set_use(pgid, PageUse::Leaf(b)),
            kind => {
                self.set_use(pgid, PageUse::Invalid(b));
                let from = describe_from(self);
                self.find(
                    pgid,
                    FindingKind::WrongPageType,
                    format!(
                        "page {pgid} ({from}) in {} has invalid type {kind} (flags {:#04x})",
                        self.bucket_label(bucket),
                        page.flags()
                    ),
                );
                return None;
            }
        }
        // A span that runs into pages owned by others is read only as far as its own
        // pages go, so no byte is analysed as part of two pages (this keeps the walk
        // linear in the file size whatever the overflow fields say).
        let owned = self.mark_overflow(&page, PageUse::Overflow(b));
        Some(page.restricted(self.span_len(owned)))
    }

    fn span_len(&self, pages: u64) -> usize {
        usize::try_from(pages.saturating_mul(self.db.page_size() as u64)).unwrap_or(usize::MAX)
    }

    /// Checks a branch page's elements; records its statistics.
    fn check_branch(
        &mut self,
        bucket: usize,
        page: &Page<'a>,
        min: Option<&'a [u8]>,
        max: Option<&'a [u8]>,
    ) {
        let own = &mut self.buckets[bucket].own;
        own.branch_pages += 1;
        own.branch_overflow += u64::from(page.overflow());
        own.branch_inuse += page.used_bytes();
        let pgid = page.pgid();
        let fit = page.elements_in_view();
        if fit < page.count() {
            self.find(
                pgid,
                FindingKind::ElementOutOfPage,
                format!(
                    "branch page {pgid} claims {} elements but only {fit} element headers fit in it",
                    page.count()
                ),
            );
        }
        let key_bytes = page.element_data_bytes();
        if key_bytes > page.bytes().len() as u64 {
            self.find(
                pgid,
                FindingKind::ElementOutOfPage,
                format!(
                    "elements of branch page {pgid} overlap: their keys total {key_bytes} bytes, more than the page's {}",
                    page.bytes().len()
                ),
            );
            return;
        }
        let mut prev: Option<&[u8]> = None;
        let first_finding = self.findings.len();
        for i in 0..fit {
            let el = match page.branch_element(i) {
                Ok(el) => el,
                Err(e) => {
                    self.find(pgid, FindingKind::ElementOutOfPage, e.to_string());
                    continue;
                }
            };
            let msg = match prev {
                Some(p) if p >= el.key => Some(format!(
                    "key[{i}]=(hex){} on branch page {pgid} is not greater than the previous key (hex){}",
                    show_key(el.key),
                    show_key(p)
                )),
                None if min.is_some_and(|m| el.key < m) => Some(format!(
                    "first key (hex){} on branch page {pgid} is below its parent's key",
                    show_key(el.key)
                )),
                _ if max.is_some_and(|m| el.key >= m) => Some(format!(
                    "key[{i}]=(hex){} on branch page {pgid} is not below the next key in its ancestor",
                    show_key(el.key)
                )),
                _ => None,
            };
            if let Some(m) = msg {
                self.find(pgid, FindingKind::KeysOutOfOrder, m);
            }
            prev = Some(el.key);
        }
        cap_findings(
            &mut self.findings,
            first_finding,
            pgid,
            &format!("branch page {pgid}"),
        );
    }

    /// Walks the tree of `bucket` from `root` with the crate's one descent
    /// ([`crate::tree`]), this walk deciding what is entered and what is found.
    fn walk_tree(&mut self, bucket: usize, root: Pgid, holder: Option<Pgid>) {
        let Some(page) = self.enter(bucket, root, holder, &[]) else {
            return;
        };
        let wanted = match &mut self.visitor {
            Some(v) => v.wants(&self.buckets[bucket]),
            None => false,
        };
        self.visited = wanted.then_some(bucket);
        let mut d = TreeDescent {
            w: self,
            bucket,
            batch: Vec::new(),
            prev_last: None,
            min: None,
        };
        descend(page, &mut d);
        let (mut batch, mut prev_last) = (d.batch, d.prev_last);
        self.run_batch(bucket, &mut batch, &mut prev_last);
    }

    fn run_batch(
        &mut self,
        bucket: usize,
        batch: &mut Vec<LeafTask<'a>>,
        prev_last: &mut Option<&'a [u8]>,
    ) {
        if batch.is_empty() {
            return;
        }
        let results: Vec<LeafResult<'a>> = if batch.len() >= PARALLEL_MIN {
            batch.par_iter().map(analyze_leaf).collect()
        } else {
            batch.iter().map(analyze_leaf).collect()
        };
        self.entered += batch.len() as u64;
        (self.progress)(self.entered);
        for (task, r) in batch.iter().zip(results) {
            let own = &mut self.buckets[bucket].own;
            own.leaf_pages += 1;
            own.leaf_overflow += u64::from(task.page.overflow());
            own.leaf_inuse += r.used;
            own.keys += task.page.count() as u64;
            self.leaf_done(bucket, &task.page, r, prev_last);
        }
        if self.visited == Some(bucket) {
            if let Some(v) = &mut self.visitor {
                self.visit_pages.clear();
                self.visit_pages.extend(batch.iter().map(|t| t.page));
                v.leaves(&self.visit_pages);
            }
        }
        batch.clear();
    }

    fn leaf_done(
        &mut self,
        bucket: usize,
        page: &Page<'a>,
        r: LeafResult<'a>,
        prev_last: &mut Option<&'a [u8]>,
    ) {
        let pgid = page.pgid();
        if let (Some(prev), Some(first)) = (*prev_last, r.first) {
            if !r.out_of_order && crate::page::key_cmp(prev, first).is_ge() {
                self.find(
                    pgid,
                    FindingKind::KeysOutOfOrder,
                    format!(
                        "first key (hex){} on leaf page {pgid} is not greater than the last key of the previous leaf (hex){}",
                        show_key(first),
                        show_key(prev)
                    ),
                );
            }
        }
        if r.last.is_some() {
            *prev_last = r.last;
        }
        self.findings.extend(r.findings);
        // bbolt's root bucket holds only buckets (a transaction cannot Put into it): plain
        // values there mean the meta's root points at some bucket's page, e.g. a forged
        // meta with a valid checksum.
        if bucket == 0 && r.plain > 0 {
            self.find(
                pgid,
                FindingKind::RootElementNotBucket,
                format!(
                    "root bucket page {pgid} holds {} element(s) without the bucket flag; the root bucket holds only buckets, so the meta's root ({}) points at another bucket's page",
                    r.plain,
                    self.db.meta().root
                ),
            );
        }
        let nesting = self.buckets[bucket].nesting + 1;
        for (key, value) in r.nested {
            if nesting > MAX_BUCKET_NESTING {
                self.find(
                    pgid,
                    FindingKind::TooDeep,
                    format!("bucket nesting deeper than {MAX_BUCKET_NESTING} at page {pgid}; not walked"),
                );
                break;
            }
            let b = match Bucket::from_value(self.db, value, pgid) {
                Ok(b) => b,
                Err(e) => {
                    self.find(pgid, FindingKind::ElementOutOfPage, e.to_string());
                    continue;
                }
            };
            let index = self.buckets.len();
            self.buckets.push(BucketNode {
                name: key,
                parent: Some(bucket),
                root: b.root_pgid(),
                nesting,
                own: TreeStats::default(),
            });
            match (b.root_pgid(), b.root_page()) {
                (Some(root), _) => self.queue.push_back(Pending::Tree {
                    bucket: index,
                    root,
                    holder: Some(pgid),
                }),
                (None, Ok(page)) => self.queue.push_back(Pending::Inline {
                    bucket: index,
                    page,
                }),
                (None, Err(e)) => self.find(pgid, FindingKind::WrongPageType, e.to_string()),
            }
        }
    }

    fn walk_inline(&mut self, bucket: usize, page: Page<'a>) {
        // Inline buckets live inside values, not pages, so the page table cannot stop
        // them from being read twice. In a sound file they are disjoint: more inline bytes
        // than the file holds means values overlap (forged elements).
        self.inline_bytes = self.inline_bytes.saturating_add(page.bytes().len() as u64);
        if self.inline_bytes > (self.db.data().len() as u64).saturating_mul(2) {
            if !self.inline_budget_reported {
                self.inline_budget_reported = true;
                self.find(
                    page.pgid(),
                    FindingKind::TooDeep,
                    format!(
                        "inline buckets overlap (more inline bucket bytes than the file holds, first noticed in page {}); the rest are not walked",
                        page.pgid()
                    ),
                );
            }
            return;
        }
        let r = analyze_leaf(&LeafTask {
            page,
            cut: false,
            min: None,
            max: None,
        });
        let own = &mut self.buckets[bucket].own;
        own.keys += page.count() as u64;
        own.inline_inuse += r.used;
        own.depth = 1;
        let mut prev = None;
        self.leaf_done(bucket, &page, r, &mut prev);
    }

    /// Reachable versus free, below the high-water mark; a file shorter than it.
    fn account(&mut self) {
        let ps = self.db.page_size() as u64;
        let len = self.db.data().len() as u64;
        if self.hwm.saturating_mul(ps) > len {
            let first_missing = len / ps;
            self.find(
                first_missing,
                FindingKind::FileTruncated,
                format!(
                    "file is {len} bytes but the high-water mark {} needs {} bytes: pages from {first_missing} on are missing or partial",
                    self.hwm,
                    self.hwm.saturating_mul(ps)
                ),
            );
        }
        let limit = self.hwm.min(self.file_pages);
        if self.listed_free {
            for id in 0..limit {
                let reachable = self.use_at(id) != PageUse::Unreached;
                let free = bit(&self.free, id);
                if reachable && free {
                    self.find(
                        id,
                        FindingKind::PageReachableAndFree,
                        format!(
                            "page {id} is reachable ({:?}) and listed as free",
                            self.use_at(id)
                        ),
                    );
                } else if !reachable && !free {
                    self.find(
                        id,
                        FindingKind::PageUnreachableNotFree,
                        format!("page {id} is below the high-water mark, unreachable and not free"),
                    );
                }
            }
        } else if !matches!(self.freelist, FreelistSource::Unreadable(_)) {
            for id in 2..limit {
                if self.use_at(id) == PageUse::Unreached {
                    set_bit(&mut self.free, id);
                }
            }
        }
    }
}

#[cfg(test)]
mod use_table_tests {
    use super::*;

    #[test]
    fn every_use_reads_back_as_set_with_any_bucket_index() {
        let buckets = [
            0,
            1,
            7,
            PACKED_BUCKETS - 1,
            PACKED_BUCKETS,
            PACKED_BUCKETS + 1,
            1 << 20,
            NO_BUCKET - 1,
            NO_BUCKET,
        ];
        let mut uses = vec![PageUse::Unreached, PageUse::Meta, PageUse::Freelist];
        for b in buckets {
            uses.extend([
                PageUse::Branch(b),
                PageUse::Leaf(b),
                PageUse::Overflow(b),
                PageUse::Invalid(b),
            ]);
        }
        let mut t = UseTable::new(uses.len() + 1);
        for (i, u) in uses.iter().enumerate() {
            t.set(i, *u);
        }
        for (i, u) in uses.iter().enumerate() {
            assert_eq!(t.get(i), Some(*u), "page {i}");
        }
        assert_eq!(t.get(uses.len()), Some(PageUse::Unreached));
        assert_eq!(t.get(uses.len() + 1), None);
        assert_eq!(t.reached(), uses.len() as u64 - 1);
        // Set past the end: ignored. A spilled page set again to a packed use forgets its
        // side entry.
        t.set(uses.len() + 5, PageUse::Meta);
        let spilled = t.spilled.len();
        assert!(spilled > 0);
        for i in 0..uses.len() {
            t.set(i, PageUse::Leaf(3));
        }
        assert!(t.spilled.is_empty());
        assert_eq!(t.get(0), Some(PageUse::Leaf(3)));
    }
}
