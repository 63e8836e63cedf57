//! The damage-tolerant descent of a B+tree: every leaf page in key order, going on past
//! damage. It is the one tree walker of the crate; its users differ in their visitor and
//! in how much they check:
//!
//! - [`walk_tree`] (with a [`TreeVisitor`]): a page is taken when it is a readable branch
//!   or leaf page. A branch element outside its page, a child outside the file or of the
//!   wrong page type, a child already entered (a cycle or a subtree shared by two
//!   parents) and a tree deeper than [`MAX_DEPTH`] are reported as a [`TreeDamage`] and
//!   skipped, element by element. Listing leaves for a parallel scan, counting.
//! - [`walk_checked`] (with a [`CheckedVisitor`]): a page is taken into the tree only once
//!   it proves to belong where it is referenced: not a meta page, not entered before (in
//!   any tree of the file: the [`Reached`] set is shared), its header carrying its own id,
//!   its span inside the file, and its keys sorted and inside the key range its parent
//!   gives it. A page that fails is reported as a [`PageDamage`] with that key range (the
//!   keys it held are lost) and not entered. Salvage.
//! - [`Bucket::leaf_pages`](crate::Bucket::leaf_pages): the first damage ends the walk
//!   in an [`Error`].
//!
//! Every walk ends on any bytes: pages are entered at most once (one bit per page of the
//! file, sized by the file, never by a number read from it) or within a budget of the
//! file's page count, and no deeper than [`MAX_DEPTH`].

use crate::bucket::{Bucket, MAX_DEPTH};
use crate::db::Db;
use crate::error::Error;
use crate::finding::FindingKind;
use crate::page::{BranchElement, Page, PageKind};
use crate::Pgid;
use std::fmt;

/// The key range `[lo, hi)` a parent gives a child page; `None` is an open end.
pub type KeyRange<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// Damage met on the way down; the walk skipped the element and went on.
#[derive(Debug)]
pub enum TreeDamage {
    /// The bucket's root page cannot be read: nothing was walked.
    Root {
        /// The root page id (0 for an inline bucket).
        pgid: Pgid,
        /// Why.
        error: Error,
    },
    /// Branch element `index` of page `parent` cannot be read.
    Element {
        /// The branch page.
        parent: Pgid,
        /// The element.
        index: usize,
        /// Why.
        error: Error,
    },
    /// The child was entered before: a cycle or a shared subtree.
    AlreadyEntered {
        /// The branch page.
        parent: Pgid,
        /// The element.
        index: usize,
        /// The child page.
        child: Pgid,
    },
    /// The child branch would be deeper than [`MAX_DEPTH`].
    TooDeep {
        /// The branch page.
        parent: Pgid,
        /// The element.
        index: usize,
        /// The child page.
        child: Pgid,
    },
    /// The child cannot be read as a branch or leaf page.
    Child {
        /// The branch page.
        parent: Pgid,
        /// The element.
        index: usize,
        /// The child page.
        child: Pgid,
        /// Why.
        error: Error,
    },
}

impl TreeDamage {
    /// The finding kind this damage is.
    pub fn kind(&self) -> FindingKind {
        match self {
            TreeDamage::Root { error, .. } | TreeDamage::Child { error, .. } => match error {
                Error::WrongPageType { .. } => FindingKind::WrongPageType,
                _ => FindingKind::PageOutOfBounds,
            },
            TreeDamage::Element { .. } => FindingKind::ElementOutOfPage,
            TreeDamage::AlreadyEntered { .. } => FindingKind::PageReferencedTwice,
            TreeDamage::TooDeep { .. } => FindingKind::TooDeep,
        }
    }
}

/// Whether the walk goes on after a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// Stop the walk here.
    Stop,
}

/// What a walk does with what it finds.
pub trait TreeVisitor<'a> {
    /// A leaf page, reached from element `index` of branch page `parent` (for a root
    /// that is a leaf: `parent` is its own id and `index` 0).
    fn leaf(&mut self, page: Page<'a>, parent: Pgid, index: usize) -> Flow;
    /// Damage that was skipped.
    fn damage(&mut self, damage: TreeDamage);
}

/// Why [`walk_checked`] (or [`walk_tree`]) did not take a page into the tree. Its
/// `Display` is the sentence salvage reports; [`PageDamage::kind`] the finding kind.
#[derive(Debug)]
#[non_exhaustive]
pub enum PageDamage {
    /// The page would be deeper than [`MAX_DEPTH`].
    TooDeep,
    /// The reference points at page 0 or 1, a meta page.
    MetaPage,
    /// The page was taken into a tree before: a cycle or a shared subtree.
    ReferencedTwice,
    /// The page cannot be read (out of bounds, or of the wrong type for a tree).
    Unreadable(Error),
    /// A branch element of the page lies outside it.
    Element(Error),
    /// The page header carries another id than the page's position.
    IdMismatch {
        /// The id in the header.
        found: Pgid,
    },
    /// The page's span (`1 + overflow` pages) runs past the end of the file.
    SpanPastEnd,
    /// A branch page with no elements.
    EmptyBranch,
    /// A branch page's keys are not ascending or lie outside its range.
    BranchKeysOutOfOrder,
    /// A leaf page's first or last key lies outside the range its parent gives it.
    LeafOutOfRange,
    /// The page is neither a branch nor a leaf page.
    WrongType(PageKind),
}

impl PageDamage {
    /// The finding kind this damage is.
    pub fn kind(&self) -> FindingKind {
        match self {
            PageDamage::TooDeep => FindingKind::TooDeep,
            PageDamage::MetaPage | PageDamage::WrongType(_) => FindingKind::WrongPageType,
            PageDamage::ReferencedTwice => FindingKind::PageReferencedTwice,
            PageDamage::Unreadable(Error::WrongPageType { .. }) => FindingKind::WrongPageType,
            PageDamage::Unreadable(_) => FindingKind::PageOutOfBounds,
            PageDamage::Element(_) | PageDamage::EmptyBranch => FindingKind::ElementOutOfPage,
            PageDamage::IdMismatch { .. } => FindingKind::PageIdMismatch,
            PageDamage::SpanPastEnd => FindingKind::OverflowPastFileEnd,
            PageDamage::BranchKeysOutOfOrder | PageDamage::LeafOutOfRange => {
                FindingKind::KeysOutOfOrder
            }
        }
    }
}

impl fmt::Display for PageDamage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageDamage::TooDeep => write!(f, "tree deeper than {MAX_DEPTH} levels"),
            PageDamage::MetaPage => f.write_str("points at a meta page"),
            PageDamage::ReferencedTwice => f.write_str("page referenced twice"),
            PageDamage::Unreadable(e) | PageDamage::Element(e) => write!(f, "{e}"),
            PageDamage::IdMismatch { found } => write!(f, "page header says id {found}"),
            PageDamage::SpanPastEnd => f.write_str("page runs past the end of the file"),
            PageDamage::EmptyBranch => f.write_str("branch page with no elements"),
            PageDamage::BranchKeysOutOfOrder => {
                f.write_str("branch keys out of order or outside the page's range")
            }
            PageDamage::LeafOutOfRange => {
                f.write_str("its keys lie outside the range its parent gives it")
            }
            PageDamage::WrongType(k) => write!(f, "expected a branch or leaf page, found {k}"),
        }
    }
}

/// One bit per page of a file.
#[derive(Debug, Clone, Default)]
struct PageBits {
    words: Vec<u64>,
}

impl PageBits {
    fn new(pages: u64) -> PageBits {
        PageBits {
            // Lazily zeroed on purpose (not `page::written_zeros`): one page of bits
            // covers 128 MiB of 4 KiB pages, so the copy-on-write is rare, and a walk
            // made per bucket must not write out a whole file's bits each time.
            words: vec![0; usize::try_from(pages.div_ceil(64)).unwrap_or(0)],
        }
    }

    fn contains(&self, pgid: Pgid) -> bool {
        let (w, b) = (pgid / 64, pgid % 64);
        usize::try_from(w)
            .ok()
            .and_then(|w| self.words.get(w))
            .is_some_and(|word| word & (1 << b) != 0)
    }

    /// Sets the bit; false when it was set. A page past the file has no bit: true.
    fn insert(&mut self, pgid: Pgid) -> bool {
        let (w, b) = (pgid / 64, pgid % 64);
        match usize::try_from(w).ok().and_then(|w| self.words.get_mut(w)) {
            Some(word) if *word & (1 << b) == 0 => {
                *word |= 1 << b;
                true
            }
            Some(_) => false,
            None => true,
        }
    }
}

/// The pages [`walk_checked`] took into trees of one file: the pages entered, and every
/// page their spans cover (overflow included). Shared by the walks of all buckets of one
/// meta, so a page is taken by one tree only.
#[derive(Debug, Clone, Default)]
pub struct Reached {
    entered: PageBits,
    spans: PageBits,
}

impl Reached {
    /// An empty set for a file of `db`'s size.
    pub fn new(db: &Db<'_>) -> Reached {
        Reached {
            entered: PageBits::new(db.page_count()),
            spans: PageBits::new(db.page_count()),
        }
    }

    /// True when page `pgid` lies in the span of a page taken into a tree.
    pub fn contains(&self, pgid: Pgid) -> bool {
        self.spans.contains(pgid)
    }

    /// Takes `page` into the tree: marks its span, stopping at the first page already
    /// marked (spans of a sound file never overlap), and returns the page cut to the pages
    /// it was first to claim. So each page of the file is read as part of one page only,
    /// whatever the overflow fields say, and a walk stays linear in the file's size.
    fn take<'a>(&mut self, db: &Db<'a>, page: &Page<'a>) -> Page<'a> {
        self.entered.insert(page.pgid());
        let last = page
            .pgid()
            .saturating_add(u64::from(page.overflow()))
            .min(db.page_count().saturating_sub(1));
        let mut owned = 0usize;
        for p in page.pgid()..=last {
            if !self.spans.insert(p) {
                break;
            }
            owned += 1;
        }
        page.restricted(owned.max(1).saturating_mul(db.page_size()))
    }
}

/// What a [`walk_checked`] does with what it finds.
pub trait CheckedVisitor<'a> {
    /// A leaf page taken into the tree (cut to the pages it was first to claim), with
    /// the key range its parent gives it.
    fn leaf(&mut self, page: Page<'a>, range: KeyRange<'a>);
    /// Page `pgid`, as referenced, was not taken into the tree: the keys of `range` it
    /// held are lost.
    fn damage(&mut self, pgid: Pgid, range: KeyRange<'a>, damage: PageDamage);
}

/// A branch page on the descent's stack, with the key range its parent gives it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame<'a> {
    /// The branch page.
    pub(crate) page: Page<'a>,
    /// The next element to follow.
    next: usize,
    /// The key range its parent gives it.
    pub(crate) range: KeyRange<'a>,
}

/// A branch element about to be followed: element `index` of the top of `stack` (the
/// branch pages from the root down), whose child gets key range `range`.
pub(crate) struct Reference<'s, 'a> {
    /// The branch pages from the root down to the one holding the element.
    pub(crate) stack: &'s [Frame<'a>],
    /// The element's index in its page.
    pub(crate) index: usize,
    /// The element.
    pub(crate) el: BranchElement<'a>,
    /// The key range the child is given.
    pub(crate) range: KeyRange<'a>,
}

impl Reference<'_, '_> {
    /// The depth of the child (the root is at 0).
    fn depth(&self) -> usize {
        self.stack.len()
    }

    /// The branch page holding the element.
    pub(crate) fn parent(&self) -> Pgid {
        self.stack.last().map_or(0, |f| f.page.pgid())
    }
}

/// The user side of the one descent ([`descend`]): what to check, what to enter, what to
/// do with leaves. The public walks and the whole-file walk
/// ([`walk`](mod@crate::walk)) are implementations of it.
pub(crate) trait Descend<'a> {
    /// How many elements of branch `page` to follow.
    fn elements(&self, page: &Page<'a>) -> usize {
        page.count()
    }
    /// Element `index` of the top of `stack` cannot be read; the descent skips it (by
    /// default silently: a checked branch page is read whole before it is entered, and
    /// the whole-file walk reports bad elements when it enters the page).
    fn element_error(&mut self, _stack: &[Frame<'a>], _index: usize, _error: Error) {}
    /// The child of reference `r`: the page to go on with (a leaf is handed to
    /// [`Descend::leaf`], a branch to [`Descend::branch`]), or `None` when it is not
    /// entered.
    fn child(&mut self, r: &Reference<'_, 'a>) -> Option<Page<'a>>;
    /// A leaf page (the root itself when `stack` is empty).
    fn leaf(&mut self, stack: &[Frame<'a>], index: usize, page: Page<'a>, range: KeyRange<'a>);
    /// A branch page about to be descended into (the root when `stack` is empty); false
    /// keeps the descent out of it.
    fn branch(&mut self, _stack: &[Frame<'a>], _page: &Page<'a>, _range: KeyRange<'a>) -> bool {
        true
    }
    /// True once the descent should end.
    fn stopped(&self) -> bool {
        false
    }
}

/// The one descent of a B+tree from an entered `root` page: depth first, in key order,
/// every decision left to `d`.
pub(crate) fn descend<'a>(root: Page<'a>, d: &mut dyn Descend<'a>) {
    let whole: KeyRange<'a> = (None, None);
    if root.is_leaf() {
        d.leaf(&[], 0, root, whole);
        return;
    }
    if !d.branch(&[], &root, whole) {
        return;
    }
    let mut stack = vec![Frame {
        page: root,
        next: 0,
        range: whole,
    }];
    while !d.stopped() {
        let Some(top) = stack.last_mut() else {
            break;
        };
        if top.next >= d.elements(&top.page) {
            stack.pop();
            continue;
        }
        let Frame {
            page,
            next: index,
            range,
        } = *top;
        top.next += 1;
        let el = match page.branch_element(index) {
            Ok(el) => el,
            Err(error) => {
                d.element_error(&stack, index, error);
                continue;
            }
        };
        // Child i holds [key_i, key_{i+1}); the first one also anything below key_1.
        let lo = if index == 0 { range.0 } else { Some(el.key) };
        let hi = match page.branch_element(index + 1) {
            Ok(next) if index + 1 < page.count() => Some(next.key),
            _ => range.1,
        };
        let child_range = (lo, hi);
        let r = Reference {
            stack: &stack,
            index,
            el,
            range: child_range,
        };
        let Some(child) = d.child(&r) else {
            continue;
        };
        if child.is_leaf() {
            d.leaf(&stack, index, child, child_range);
        } else if d.branch(&stack, &child, child_range) {
            stack.push(Frame {
                page: child,
                next: 0,
                range: child_range,
            });
        }
    }
}

/// Children of a branch page ahead of the one being entered whose page header a descent
/// asks the CPU for ([`hint_child`]).
pub(crate) const CHILD_AHEAD: usize = 4;
/// Bytes from the start of such a child hinted in: two cache lines.
const CHILD_HINT_BYTES: usize = 128;

/// Hints the header (and first lines) of the child of element `index` of branch `page`
/// of `db` into the cache.
///
/// A descent enters every page in turn, and reading a page's header is its first touch
/// of that page: a cache miss it waits for, one per page of the tree. A branch page names
/// its children ahead, so the miss of a child a few elements on overlaps the work on this
/// one. Nothing is read from the child here; an element that cannot be read, or a page id
/// past the file, is not hinted.
#[inline]
pub(crate) fn hint_child(db: &Db<'_>, page: &Page<'_>, index: usize) {
    if index >= page.count() {
        return;
    }
    let Ok(el) = page.branch_element(index) else {
        return;
    };
    let at = usize::try_from(el.pgid)
        .ok()
        .and_then(|p| p.checked_mul(db.page_size()));
    if let Some(b) = at.and_then(|at| db.data().get(at..)) {
        // The header, then the first element headers and (on a leaf of a few large
        // values) the first key, which a leaf's reader looks at first.
        for line in (0..b.len().min(CHILD_HINT_BYTES)).step_by(64) {
            crate::page::prefetch(b[line..].as_ptr());
        }
    }
}

/// The pgid of the branch page on top of `stack` (for the root: `page`'s own).
fn parent_of(stack: &[Frame<'_>], page: &Page<'_>) -> Pgid {
    stack.last().map_or(page.pgid(), |f| f.page.pgid())
}

/// Enters a child the way [`walk_tree`] and [`Bucket::leaf_pages`] do: a readable branch
/// or leaf page of `bucket`, not deeper than [`MAX_DEPTH`] for a branch.
fn enter_tree_page<'a>(
    bucket: &Bucket<'a>,
    pgid: Pgid,
    depth: usize,
) -> Result<Page<'a>, PageDamage> {
    let page = bucket.tree_page(pgid).map_err(PageDamage::Unreadable)?;
    if page.is_branch() && depth >= MAX_DEPTH {
        return Err(PageDamage::TooDeep);
    }
    Ok(page)
}

/// Enters page `pgid` at `depth` (the root is at 0) with [`walk_checked`]'s checks, or
/// says why not.
fn enter_checked<'a>(
    db: &Db<'a>,
    reached: &mut Reached,
    pgid: Pgid,
    range: KeyRange<'a>,
    depth: usize,
) -> Result<Page<'a>, PageDamage> {
    if depth >= MAX_DEPTH {
        return Err(PageDamage::TooDeep);
    }
    if pgid < 2 {
        return Err(PageDamage::MetaPage);
    }
    if reached.entered.contains(pgid) {
        return Err(PageDamage::ReferencedTwice);
    }
    let page = db.page(pgid).map_err(PageDamage::Unreadable)?;
    if page.id() != pgid {
        return Err(PageDamage::IdMismatch { found: page.id() });
    }
    if db.page_span_truncated(&page) {
        return Err(PageDamage::SpanPastEnd);
    }
    // A page is taken into the tree (entered, reached) only once it proves to belong
    // where it is referenced: a wrong pointer must not keep the right parent from
    // reaching it later, nor hide it from a scan of the pages no tree reached.
    match page.kind() {
        PageKind::Branch => {
            check_branch(&page, range)?;
            reached.take(db, &page);
            Ok(page)
        }
        PageKind::Leaf => {
            if !leaf_fits(&page, range) {
                return Err(PageDamage::LeafOutOfRange);
            }
            Ok(reached.take(db, &page))
        }
        k => Err(PageDamage::WrongType(k)),
    }
}

fn in_range(k: &[u8], (lo, hi): KeyRange<'_>) -> bool {
    lo.is_none_or(|lo| k >= lo) && hi.is_none_or(|hi| k < hi)
}

/// A branch page's elements must all be readable, at least one, ascending, and (but for
/// the first, which stands for everything below the second) inside the page's range.
fn check_branch(page: &Page<'_>, range: KeyRange<'_>) -> Result<(), PageDamage> {
    // The iterator ends in an error once the keys outgrow the page (forged, overlapping
    // elements), so collecting them costs at most the page.
    let mut keys = Vec::with_capacity(page.elements_in_view());
    for el in page.branch_elements() {
        keys.push(el.map_err(PageDamage::Element)?.key);
    }
    if keys.is_empty() {
        return Err(PageDamage::EmptyBranch);
    }
    let sorted = keys.windows(2).all(|w| w[0] < w[1]);
    let inside = keys.iter().skip(1).all(|k| in_range(k, range));
    if !sorted || !inside {
        return Err(PageDamage::BranchKeysOutOfOrder);
    }
    Ok(())
}

/// Whether a leaf page's first and last keys (when readable) lie in `range`.
fn leaf_fits(page: &Page<'_>, range: KeyRange<'_>) -> bool {
    let n = page.count();
    if n == 0 {
        return true;
    }
    [0, n - 1].iter().all(|&i| match page.leaf_element(i) {
        Ok(el) => in_range(el.key, range),
        Err(_) => true,
    })
}

/// Walks the tree rooted at page `root` of `db` with every check of the module
/// documentation, handing each leaf page taken into the tree to `visitor` and each page
/// that was not to [`CheckedVisitor::damage`]. Pages taken are added to `reached`, which
/// the walks of all trees of one file share. Returns false when the root page itself
/// was not taken.
pub fn walk_checked<'a>(
    db: Db<'a>,
    root: Pgid,
    reached: &mut Reached,
    visitor: &mut dyn CheckedVisitor<'a>,
) -> bool {
    struct Checked<'v, 'r, 'a> {
        db: Db<'a>,
        reached: &'r mut Reached,
        visitor: &'v mut dyn CheckedVisitor<'a>,
    }
    impl<'a> Descend<'a> for Checked<'_, '_, 'a> {
        fn child(&mut self, r: &Reference<'_, 'a>) -> Option<Page<'a>> {
            match enter_checked(&self.db, self.reached, r.el.pgid, r.range, r.depth()) {
                Ok(page) => Some(page),
                Err(d) => {
                    self.visitor.damage(r.el.pgid, r.range, d);
                    None
                }
            }
        }
        fn leaf(&mut self, _: &[Frame<'a>], _: usize, page: Page<'a>, range: KeyRange<'a>) {
            self.visitor.leaf(page, range);
        }
    }
    match enter_checked(&db, reached, root, (None, None), 0) {
        Ok(page) => {
            descend(
                page,
                &mut Checked {
                    db,
                    reached,
                    visitor,
                },
            );
            true
        }
        Err(d) => {
            visitor.damage(root, (None, None), d);
            false
        }
    }
}

/// Walks `bucket`'s tree depth first in key order, handing every readable leaf page to
/// `visitor` and every damage met on the way down.
pub fn walk_tree<'a>(bucket: &Bucket<'a>, visitor: &mut dyn TreeVisitor<'a>) {
    struct Tolerant<'v, 'a> {
        bucket: Bucket<'a>,
        entered: PageBits,
        visitor: &'v mut dyn TreeVisitor<'a>,
        stop: bool,
    }
    impl<'a> Descend<'a> for Tolerant<'_, 'a> {
        fn element_error(&mut self, stack: &[Frame<'a>], index: usize, error: Error) {
            let parent = stack.last().map_or(0, |f| f.page.pgid());
            self.visitor.damage(TreeDamage::Element {
                parent,
                index,
                error,
            });
        }
        fn child(&mut self, r: &Reference<'_, 'a>) -> Option<Page<'a>> {
            let (parent, index, child) = (r.parent(), r.index, r.el.pgid);
            if let Some(f) = r.stack.last() {
                hint_child(&self.bucket.db(), &f.page, index + CHILD_AHEAD);
            }
            if !self.entered.insert(child) {
                self.visitor.damage(TreeDamage::AlreadyEntered {
                    parent,
                    index,
                    child,
                });
                return None;
            }
            match enter_tree_page(&self.bucket, child, r.depth()) {
                Ok(page) => Some(page),
                Err(PageDamage::Unreadable(error)) => {
                    self.visitor.damage(TreeDamage::Child {
                        parent,
                        index,
                        child,
                        error,
                    });
                    None
                }
                Err(_) => {
                    self.visitor.damage(TreeDamage::TooDeep {
                        parent,
                        index,
                        child,
                    });
                    None
                }
            }
        }
        fn leaf(&mut self, stack: &[Frame<'a>], index: usize, page: Page<'a>, _: KeyRange<'a>) {
            let parent = parent_of(stack, &page);
            self.stop = self.visitor.leaf(page, parent, index) == Flow::Stop;
        }
        fn stopped(&self) -> bool {
            self.stop
        }
    }
    let root = match bucket.root_page() {
        Ok(p) => p,
        Err(error) => {
            visitor.damage(TreeDamage::Root {
                pgid: bucket.root_pgid().unwrap_or(0),
                error,
            });
            return;
        }
    };
    let mut entered = PageBits::new(bucket.db().page_count());
    if root.is_branch() {
        entered.insert(root.pgid());
    }
    descend(
        root,
        &mut Tolerant {
            bucket: *bucket,
            entered,
            visitor,
            stop: false,
        },
    );
}

/// All leaf pages of `bucket` in key order, or the first damage as an error; see
/// [`Bucket::leaf_pages`].
pub(crate) fn leaf_pages<'a>(bucket: &Bucket<'a>) -> crate::Result<Vec<Page<'a>>> {
    struct Strict<'a> {
        bucket: Bucket<'a>,
        pages: Vec<Page<'a>>,
        /// Pages entered, the root included: at most the file's page count.
        entered: u64,
        spans: u64,
        span_limit: u64,
        error: Option<Error>,
    }
    impl<'a> Descend<'a> for Strict<'a> {
        fn element_error(&mut self, _: &[Frame<'a>], _: usize, error: Error) {
            self.error = Some(error);
        }
        fn child(&mut self, r: &Reference<'_, 'a>) -> Option<Page<'a>> {
            let file_pages = self.bucket.db().page_count();
            self.entered += 1;
            if self.entered > file_pages {
                self.error = Some(Error::PageBudgetExceeded {
                    pgid: r.el.pgid,
                    file_pages,
                });
                return None;
            }
            match enter_tree_page(&self.bucket, r.el.pgid, r.depth()) {
                Ok(page) => Some(page),
                Err(PageDamage::Unreadable(e)) => {
                    self.error = Some(e);
                    None
                }
                Err(_) => {
                    self.error = Some(Error::DepthExceeded {
                        pgid: r.el.pgid,
                        limit: MAX_DEPTH,
                    });
                    None
                }
            }
        }
        fn leaf(&mut self, _: &[Frame<'a>], _: usize, page: Page<'a>, _: KeyRange<'a>) {
            // Leaf views are what callers read in full: in a sound file they are
            // disjoint, so together they are never longer than the file.
            self.spans = self.spans.saturating_add(page.bytes().len() as u64);
            if self.spans > self.span_limit {
                self.error = Some(Error::SpanBudgetExceeded {
                    pgid: page.pgid(),
                    limit: self.span_limit,
                });
                return;
            }
            self.pages.push(page);
        }
        fn stopped(&self) -> bool {
            self.error.is_some()
        }
    }
    let root = bucket.root_page()?;
    let mut s = Strict {
        bucket: *bucket,
        pages: Vec::new(),
        entered: 1,
        spans: 0,
        span_limit: crate::bucket::span_budget(&bucket.db()),
        error: None,
    };
    descend(root, &mut s);
    match s.error {
        Some(e) => Err(e),
        None => Ok(s.pages),
    }
}
