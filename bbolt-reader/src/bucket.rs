//! Buckets and cursors.
//!
//! A bucket is a B+tree. Its value in the parent is a 16-byte header `root pgid u64,
//! sequence u64`; a root of 0 marks an inline bucket, whose single leaf page follows the
//! header inside the value (at whatever byte offset the value has).
//!
//! Descents are bounded three ways: a cursor's stack never grows past [`MAX_DEPTH`], one
//! pass of a cursor (from `first`/`seek`/`last` on) never enters more pages than the file
//! holds, and never hands out more key and value bytes than twice the file's length (a
//! sound file holds every key and value once). A cycle between branch pages, a subtree
//! shared by many parents or leaf pages whose overflow spans overlap therefore end in an
//! [`Error`] instead of an endless, exponential or quadratic walk.

use crate::db::Db;
use crate::error::{Error, Result};
use crate::page::{LeafElement, Page, PageKind, LEAF_FLAG_BUCKET};
use crate::raw::{offset_within, u64_at};
use crate::Pgid;
use std::cmp::Ordering;

/// Size of a bucket header (root pgid and sequence) at the start of a bucket value.
pub const BUCKET_HEADER_SIZE: usize = 16;

/// The deepest B+tree a cursor descends. Real trees are a handful of levels deep (each
/// level multiplies the fan-out); anything deeper is a cycle or forged.
pub const MAX_DEPTH: usize = 64;

/// The 16-byte header at the start of a bucket value: `root pgid u64, sequence u64`.
///
/// The one parser of it: [`Bucket::from_value`], the whole-file walk, salvage and the
/// bbolt CLI twin's page dumps read bucket values through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketHeader {
    /// Root page id; 0 marks an inline bucket.
    pub root: Pgid,
    /// The bucket's sequence number.
    pub sequence: u64,
}

impl BucketHeader {
    /// The header of `value`, or `None` when it is shorter than [`BUCKET_HEADER_SIZE`].
    pub fn parse(value: &[u8]) -> Option<BucketHeader> {
        Some(BucketHeader {
            root: u64_at(value, 0)?,
            sequence: u64_at(value, 8)?,
        })
    }

    /// What a damaged value holds of the header: the root when at least 8 bytes are
    /// there, the sequence when all 16 are.
    pub fn parse_partial(value: &[u8]) -> (Option<Pgid>, Option<u64>) {
        (u64_at(value, 0), u64_at(value, 8))
    }

    /// True for an inline bucket (root 0): its one leaf page follows the header.
    pub fn is_inline(&self) -> bool {
        self.root == 0
    }

    /// The inline page of bucket value `value` (whose header says root 0), read from
    /// the leaf page `holder` with the value at file offset `value_offset`. `None` when
    /// the header is not inline or too little follows it for a page header.
    pub fn inline_page(value: &[u8], holder: Pgid, value_offset: u64) -> Option<Page<'_>> {
        if !BucketHeader::parse(value)?.is_inline() {
            return None;
        }
        Page::new(
            value.get(BUCKET_HEADER_SIZE..)?,
            holder,
            value_offset.saturating_add(BUCKET_HEADER_SIZE as u64),
            true,
        )
    }
}

/// A bucket: a B+tree of keys and values (and nested buckets).
#[derive(Debug, Clone, Copy)]
pub struct Bucket<'a> {
    db: Db<'a>,
    root: Pgid,
    sequence: u64,
    inline: Option<Page<'a>>,
}

/// One entry of a bucket, from [`Bucket::iter`] or a [`Cursor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The value; for a nested bucket, its raw bucket value (header and inline page).
    pub value: &'a [u8],
    /// The leaf element's flags.
    pub flags: u32,
    /// The page the element was read from (for an inline bucket's item, the leaf page
    /// holding that bucket): where [`Bucket::open_item`] says a bad value sits.
    pub holder: Pgid,
}

impl Item<'_> {
    /// True when this entry is a nested bucket.
    pub fn is_bucket(&self) -> bool {
        self.flags & LEAF_FLAG_BUCKET != 0
    }
}

impl<'a> Bucket<'a> {
    /// The bucket rooted at `root` (the root bucket of a meta, typically).
    pub fn from_root(db: Db<'a>, root: Pgid, sequence: u64) -> Bucket<'a> {
        Bucket {
            db,
            root,
            sequence,
            inline: None,
        }
    }

    /// The bucket stored as `value` in a leaf element of page `holder` (used for error
    /// messages and for inline pages).
    pub fn from_value(db: Db<'a>, value: &'a [u8], holder: Pgid) -> Result<Bucket<'a>> {
        let offset = offset_within(db.data(), value).unwrap_or(0) as u64;
        let bad = || Error::BadBucketValue {
            pgid: holder,
            offset,
            len: value.len(),
        };
        let BucketHeader { root, sequence } = BucketHeader::parse(value).ok_or_else(bad)?;
        let inline = if root == 0 {
            Some(BucketHeader::inline_page(value, holder, offset).ok_or_else(bad)?)
        } else {
            None
        };
        Ok(Bucket {
            db,
            root,
            sequence,
            inline,
        })
    }

    /// The database this bucket belongs to.
    pub fn db(&self) -> Db<'a> {
        self.db
    }

    /// Root page id, or `None` for an inline bucket.
    pub fn root_pgid(&self) -> Option<Pgid> {
        (self.inline.is_none()).then_some(self.root)
    }

    /// The bucket's sequence number.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// True for an inline bucket (stored inside its parent's leaf).
    pub fn is_inline(&self) -> bool {
        self.inline.is_some()
    }

    /// The root page: the inline page, or the page at the root pgid (a branch or a leaf).
    pub fn root_page(&self) -> Result<Page<'a>> {
        match self.inline {
            Some(p) => {
                if p.kind() == PageKind::Leaf {
                    Ok(p)
                } else {
                    Err(Error::WrongPageType {
                        pgid: p.pgid(),
                        expected: "inline leaf page",
                        found: p.kind(),
                        flags: p.flags(),
                    })
                }
            }
            None => self.tree_page(self.root),
        }
    }

    /// Page `pgid` of this tree, which must be a branch or a leaf.
    pub fn tree_page(&self, pgid: Pgid) -> Result<Page<'a>> {
        let p = self.db.page(pgid)?;
        match p.kind() {
            PageKind::Branch | PageKind::Leaf => Ok(p),
            found => Err(Error::WrongPageType {
                pgid,
                expected: "branch or leaf page",
                found,
                flags: p.flags(),
            }),
        }
    }

    /// A cursor over this bucket.
    pub fn cursor(&self) -> Cursor<'a> {
        Cursor {
            bucket: *self,
            stack: Vec::new(),
            descents: 0,
            handed_out: 0,
        }
    }

    /// All entries in key order. Stops after the first error it yields.
    pub fn iter(&self) -> Iter<'a> {
        Iter::new(self.cursor(), true)
    }

    /// The nested buckets, opened, with their names, in key order; plain keys are passed
    /// over. Stops after the first error it yields (a damaged page, or a bucket value too
    /// short for its header).
    pub fn buckets(&self) -> Buckets<'a> {
        Buckets {
            holder: *self,
            items: self.iter(),
            done: false,
        }
    }

    /// All entries from the last key to the first. Stops after the first error it yields.
    pub fn iter_rev(&self) -> IterRev<'a> {
        Iter::new(self.cursor(), false)
    }

    /// The value of `key`; `None` when absent or when `key` names a nested bucket.
    pub fn get(&self, key: &[u8]) -> Result<Option<&'a [u8]>> {
        let mut c = self.cursor();
        Ok(match c.seek(key)? {
            Some(it) if it.key == key && !it.is_bucket() => Some(it.value),
            _ => None,
        })
    }

    /// The nested bucket `name`, if present.
    pub fn bucket(&self, name: &[u8]) -> Result<Option<Bucket<'a>>> {
        let mut c = self.cursor();
        match c.seek(name)? {
            Some(it) if it.key == name && it.is_bucket() => {
                let holder = c.leaf_pgid().unwrap_or(self.root);
                Ok(Some(Bucket::from_value(self.db, it.value, holder)?))
            }
            _ => Ok(None),
        }
    }

    /// The nested bucket held in `item` (from this bucket's iteration or a cursor): no
    /// second look-up by name. A value too short for a bucket header is an error naming
    /// the page it sits on.
    pub fn open_item(&self, item: &Item<'a>) -> Result<Bucket<'a>> {
        Bucket::from_value(self.db, item.value, item.holder)
    }

    /// All leaf pages of this bucket in key order, found by reading only branch pages
    /// (leaf pages are not opened beyond their header). For an inline bucket, its one page.
    ///
    /// Meant for splitting a scan: hand slices of the result to rayon threads and read each
    /// leaf's elements there. The walk is [`crate::tree`]'s, stopping at the first damage:
    /// fails on a page that is neither branch nor leaf, a tree deeper
    /// than [`MAX_DEPTH`], or a walk entering more pages than the file holds.
    pub fn leaf_pages(&self) -> Result<Vec<Page<'a>>> {
        crate::tree::leaf_pages(self)
    }
}

/// Position in a bucket's tree: a stack of (page, element index) from root to leaf.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    bucket: Bucket<'a>,
    stack: Vec<(Page<'a>, usize)>,
    /// Pages entered since the last `first`/`seek`/`last`, bounded by the file's page count.
    descents: u64,
    /// Key and value bytes handed out since the last `first`/`seek`/`last`, bounded by
    /// twice the file's length.
    handed_out: u64,
}

impl<'a> Cursor<'a> {
    /// The bucket this cursor walks.
    pub fn bucket(&self) -> &Bucket<'a> {
        &self.bucket
    }

    /// Page id of the leaf page the cursor is on (for an inline bucket: the page holding it).
    pub fn leaf_pgid(&self) -> Option<Pgid> {
        self.stack.last().map(|(p, _)| p.pgid())
    }

    /// The page ids from the root to the current leaf.
    pub fn path(&self) -> Vec<Pgid> {
        self.stack.iter().map(|(p, _)| p.pgid()).collect()
    }

    fn push(&mut self, page: Page<'a>) -> Result<()> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Error::DepthExceeded {
                pgid: page.pgid(),
                limit: MAX_DEPTH,
            });
        }
        self.descents += 1;
        let budget = self.bucket.db.page_count().saturating_add(1);
        if self.descents > budget {
            return Err(Error::PageBudgetExceeded {
                pgid: page.pgid(),
                file_pages: budget - 1,
            });
        }
        self.stack.push((page, 0));
        Ok(())
    }

    /// Counts the bytes of an item about to be returned against the pass's budget.
    fn hand_out(&mut self, page: &Page<'a>, index: usize, e: LeafElement<'a>) -> Result<Item<'a>> {
        let len = (e.key.len() as u64).saturating_add(e.value.len() as u64);
        self.handed_out = self.handed_out.saturating_add(len);
        if self.handed_out > span_budget(&self.bucket.db) {
            return Err(Error::ElementsOverlap {
                pgid: page.pgid(),
                index,
                offset: page.offset(),
                data_bytes: self.handed_out,
                page_bytes: page.bytes().len(),
            });
        }
        Ok(item(e, page.pgid()))
    }

    fn reset(&mut self) -> Result<()> {
        self.stack.clear();
        self.descents = 0;
        self.handed_out = 0;
        let root = self.bucket.root_page()?;
        self.push(root)
    }

    /// Moves forward from the current stack position to the next leaf element that exists,
    /// descending into first children and skipping exhausted or empty pages.
    fn settle(&mut self) -> Result<Option<Item<'a>>> {
        loop {
            let Some((page, idx)) = self.stack.last().copied() else {
                return Ok(None);
            };
            if idx >= page.count() {
                self.stack.pop();
                if let Some(parent) = self.stack.last_mut() {
                    parent.1 = parent.1.wrapping_add(1);
                }
                continue;
            }
            if let Some(item) = self.visit(page, idx)? {
                return Ok(Some(item));
            }
        }
    }

    /// At element `idx` of `page`: the entry when `page` is a leaf, else enters the child
    /// (pushed with index 0) and returns `None`.
    fn visit(&mut self, page: Page<'a>, idx: usize) -> Result<Option<Item<'a>>> {
        if page.is_leaf() {
            let e = page.leaf_element(idx)?;
            return self.hand_out(&page, idx, e).map(Some);
        }
        let el = page.branch_element(idx)?;
        let child = self.bucket.tree_page(el.pgid)?;
        self.push(child)?;
        Ok(None)
    }

    /// The first entry.
    pub fn first(&mut self) -> Result<Option<Item<'a>>> {
        self.reset()?;
        self.settle()
    }

    /// The entry after the current one; `None` at the end or when the cursor was never
    /// positioned by [`Cursor::first`] or [`Cursor::seek`].
    #[allow(clippy::should_implement_trait)] // fallible; `Bucket::iter` is the Iterator
    pub fn next(&mut self) -> Result<Option<Item<'a>>> {
        match self.stack.last_mut() {
            Some(top) => top.1 = top.1.wrapping_add(1),
            None => return Ok(None),
        }
        self.settle()
    }

    /// The last entry.
    pub fn last(&mut self) -> Result<Option<Item<'a>>> {
        self.reset()?;
        if let Some(top) = self.stack.last_mut() {
            top.1 = last_index(&top.0);
        }
        self.settle_back()
    }

    /// The entry before the current one; `None` at the start or when the cursor was never
    /// positioned.
    pub fn prev(&mut self) -> Result<Option<Item<'a>>> {
        match self.stack.last_mut() {
            Some(top) => top.1 = top.1.checked_sub(1).unwrap_or(BEFORE_FIRST),
            None => return Ok(None),
        }
        self.settle_back()
    }

    /// Moves backward to the nearest leaf element at or before the current position,
    /// descending into last children and skipping exhausted or empty pages.
    fn settle_back(&mut self) -> Result<Option<Item<'a>>> {
        loop {
            let Some((page, idx)) = self.stack.last().copied() else {
                return Ok(None);
            };
            if idx == BEFORE_FIRST || page.count() == 0 {
                self.stack.pop();
                if let Some(parent) = self.stack.last_mut() {
                    parent.1 = parent.1.checked_sub(1).unwrap_or(BEFORE_FIRST);
                }
                continue;
            }
            let idx = idx.min(page.count() - 1);
            if let Some(item) = self.visit(page, idx)? {
                return Ok(Some(item));
            }
            // Entered a child: start from its last element.
            if let Some(top) = self.stack.last_mut() {
                top.1 = last_index(&top.0);
            }
        }
    }

    /// The first entry whose key is `>= key`.
    pub fn seek(&mut self, key: &[u8]) -> Result<Option<Item<'a>>> {
        self.reset()?;
        loop {
            let Some((page, _)) = self.stack.last().copied() else {
                return Ok(None);
            };
            if page.is_leaf() {
                let idx = lower_bound(page.count(), |i| Ok(page.leaf_element(i)?.key.cmp(key)))?;
                if let Some(top) = self.stack.last_mut() {
                    top.1 = idx;
                }
                return self.settle();
            }
            // The child to enter is the last whose first key is <= key (or the first child).
            let idx = lower_bound(page.count(), |i| Ok(page.branch_element(i)?.key.cmp(key)))?;
            let idx = if idx < page.count() && page.branch_element(idx)?.key == key {
                idx
            } else {
                idx.saturating_sub(1)
            };
            if let Some(top) = self.stack.last_mut() {
                top.1 = idx;
            }
            if page.count() == 0 {
                return self.settle();
            }
            let el = page.branch_element(idx)?;
            let child = self.bucket.tree_page(el.pgid)?;
            self.push(child)?;
        }
    }
}

/// Bytes one pass may read: twice the file (a sound file holds each page and each key and
/// value once), plus a page for files smaller than one.
pub(crate) fn span_budget(db: &Db<'_>) -> u64 {
    (db.data().len() as u64)
        .saturating_mul(2)
        .saturating_add(db.page_size() as u64)
}

/// Stack index meaning "before the first element" during backward moves.
const BEFORE_FIRST: usize = usize::MAX;

fn last_index(page: &Page<'_>) -> usize {
    page.count().checked_sub(1).unwrap_or(BEFORE_FIRST)
}

fn item(e: LeafElement<'_>, holder: Pgid) -> Item<'_> {
    Item {
        key: e.key,
        value: e.value,
        flags: e.flags,
        holder,
    }
}

/// First index in `0..n` whose element compares `>=` the target (`cmp` returns element vs
/// target), assuming sorted elements; `n` when none.
fn lower_bound(n: usize, mut cmp: impl FnMut(usize) -> Result<Ordering>) -> Result<usize> {
    let (mut lo, mut hi) = (0usize, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if cmp(mid)? == Ordering::Less {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// Iterator over a bucket's entries, in key order ([`Bucket::iter`]) or from the last key
/// to the first ([`Bucket::iter_rev`]). Stops after the first error it yields.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    cursor: Cursor<'a>,
    forward: bool,
    started: bool,
    done: bool,
}

/// Iterator over the nested buckets of a bucket ([`Bucket::buckets`], [`crate::Db::buckets`]):
/// each one's name and the bucket, opened. Stops after the first error it yields.
#[derive(Debug, Clone)]
pub struct Buckets<'a> {
    holder: Bucket<'a>,
    items: Iter<'a>,
    done: bool,
}

impl<'a> Iterator for Buckets<'a> {
    type Item = Result<(&'a [u8], Bucket<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let item = match self.items.next()? {
                Ok(item) => item,
                Err(e) => return Some(Err(e)),
            };
            if item.is_bucket() {
                let opened = self.holder.open_item(&item);
                self.done = opened.is_err();
                return Some(opened.map(|b| (item.key, b)));
            }
        }
        None
    }
}

/// The iterator [`Bucket::iter_rev`] returns: an [`Iter`] running backward.
pub type IterRev<'a> = Iter<'a>;

impl<'a> Iter<'a> {
    fn new(cursor: Cursor<'a>, forward: bool) -> Iter<'a> {
        Iter {
            cursor,
            forward,
            started: false,
            done: false,
        }
    }

    /// The page id of the leaf page holding the entry last returned.
    pub fn leaf_pgid(&self) -> Option<Pgid> {
        self.cursor.leaf_pgid()
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Result<Item<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = match (self.started, self.forward) {
            (true, true) => self.cursor.next(),
            (true, false) => self.cursor.prev(),
            (false, true) => self.cursor.first(),
            (false, false) => self.cursor.last(),
        };
        self.started = true;
        let r = r.transpose();
        self.done = !matches!(r, Some(Ok(_)));
        r
    }
}
