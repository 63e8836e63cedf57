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
use crate::page::{Page, PageKind};
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
    /// The walk entered more pages than the file holds.
    PageBudget {
        /// Pages in the file.
        file_pages: u64,
    },
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
            PageDamage::ReferencedTwice | PageDamage::PageBudget { .. } => {
                FindingKind::PageReferencedTwice
            }
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
            PageDamage::PageBudget { file_pages } => {
                write!(
                    f,
                    "the walk entered more pages than the file's {file_pages}"
                )
            }
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

/// How much a descent checks; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// [`walk_tree`]: pages entered once, element by element.
    Tolerant,
    /// [`Bucket::leaf_pages`]: pages entered within a budget; stops at the first damage.
    Budget,
    /// [`walk_checked`].
    Checked,
}

/// What the descent hands its user (one of the three public walks).
trait Sink<'a> {
    fn leaf(&mut self, page: Page<'a>, parent: Pgid, index: usize, range: KeyRange<'a>) -> Flow;
    /// Branch element `index` of `parent` cannot be read (tolerant and budget modes).
    fn element(&mut self, parent: Pgid, index: usize, error: Error) -> Flow;
    /// The page `child`, referenced by element `index` of `parent` (`None` for the
    /// root), was not entered.
    fn damage(
        &mut self,
        parent: Option<(Pgid, usize)>,
        child: Pgid,
        range: KeyRange<'a>,
        damage: PageDamage,
    ) -> Flow;
}

#[derive(Clone, Copy)]
struct Frame<'a> {
    page: Page<'a>,
    next: usize,
    range: KeyRange<'a>,
}

/// The one descent: depth first, in key order.
struct Descent<'a, 'r> {
    db: Db<'a>,
    bucket: Option<Bucket<'a>>,
    mode: Mode,
    reached: &'r mut Reached,
    /// Pages entered (budget mode).
    entered: u64,
}

impl<'a> Descent<'a, '_> {
    /// Runs from `root` (already entered, or why not). Returns false when the root was
    /// not usable.
    fn run(
        &mut self,
        root: Pgid,
        first: Result<Page<'a>, PageDamage>,
        sink: &mut dyn Sink<'a>,
    ) -> bool {
        let root = match first {
            Ok(p) => p,
            Err(d) => {
                sink.damage(None, root, (None, None), d);
                return false;
            }
        };
        if root.is_leaf() {
            let pgid = root.pgid();
            sink.leaf(root, pgid, 0, (None, None));
            return true;
        }
        let mut stack = vec![Frame {
            page: root,
            next: 0,
            range: (None, None),
        }];
        while let Some(top) = stack.last_mut() {
            if top.next >= top.page.count() {
                stack.pop();
                continue;
            }
            let Frame {
                page,
                next: index,
                range,
            } = *top;
            top.next += 1;
            let parent = page.pgid();
            let el = match page.branch_element(index) {
                Ok(el) => el,
                Err(error) => {
                    if sink.element(parent, index, error) == Flow::Stop {
                        return true;
                    }
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
            let flow = match self.enter(el.pgid, child_range, stack.len()) {
                Ok(child) if child.is_leaf() => sink.leaf(child, parent, index, child_range),
                Ok(child) => {
                    stack.push(Frame {
                        page: child,
                        next: 0,
                        range: child_range,
                    });
                    Flow::Continue
                }
                Err(d) => sink.damage(Some((parent, index)), el.pgid, child_range, d),
            };
            if flow == Flow::Stop {
                return true;
            }
        }
        true
    }

    /// Enters page `pgid` at `depth` (the root is at 0), or says why not.
    fn enter(
        &mut self,
        pgid: Pgid,
        range: KeyRange<'a>,
        depth: usize,
    ) -> Result<Page<'a>, PageDamage> {
        if self.mode == Mode::Checked {
            return self.enter_checked(pgid, range, depth);
        }
        if self.mode == Mode::Tolerant {
            if !self.reached.entered.insert(pgid) {
                return Err(PageDamage::ReferencedTwice);
            }
        } else {
            self.entered += 1;
            if self.entered > self.db.page_count() {
                return Err(PageDamage::PageBudget {
                    file_pages: self.db.page_count(),
                });
            }
        }
        let bucket = self.bucket.as_ref().ok_or(PageDamage::MetaPage)?;
        let page = bucket.tree_page(pgid).map_err(PageDamage::Unreadable)?;
        if page.is_branch() && depth >= MAX_DEPTH {
            return Err(PageDamage::TooDeep);
        }
        Ok(page)
    }

    fn enter_checked(
        &mut self,
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
        if self.reached.entered.contains(pgid) {
            return Err(PageDamage::ReferencedTwice);
        }
        let page = self.db.page(pgid).map_err(PageDamage::Unreadable)?;
        if page.id() != pgid {
            return Err(PageDamage::IdMismatch { found: page.id() });
        }
        if self.db.page_span_truncated(&page) {
            return Err(PageDamage::SpanPastEnd);
        }
        // A page is taken into the tree (entered, reached) only once it proves to belong
        // where it is referenced: a wrong pointer must not keep the right parent from
        // reaching it later, nor hide it from a scan of the pages no tree reached.
        match page.kind() {
            PageKind::Branch => {
                check_branch(&page, range)?;
                self.reached.take(&self.db, &page);
                Ok(page)
            }
            PageKind::Leaf => {
                if !leaf_fits(&page, range) {
                    return Err(PageDamage::LeafOutOfRange);
                }
                Ok(self.reached.take(&self.db, &page))
            }
            k => Err(PageDamage::WrongType(k)),
        }
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
    struct Checked<'v, 'a>(&'v mut dyn CheckedVisitor<'a>);
    impl<'a> Sink<'a> for Checked<'_, 'a> {
        fn leaf(&mut self, page: Page<'a>, _: Pgid, _: usize, range: KeyRange<'a>) -> Flow {
            self.0.leaf(page, range);
            Flow::Continue
        }
        fn element(&mut self, _: Pgid, _: usize, _: Error) -> Flow {
            // Checked pages are read whole before they are entered: never called.
            Flow::Continue
        }
        fn damage(
            &mut self,
            _: Option<(Pgid, usize)>,
            child: Pgid,
            range: KeyRange<'a>,
            damage: PageDamage,
        ) -> Flow {
            self.0.damage(child, range, damage);
            Flow::Continue
        }
    }
    let mut d = Descent {
        db,
        bucket: None,
        mode: Mode::Checked,
        reached,
        entered: 0,
    };
    let first = d.enter(root, (None, None), 0);
    d.run(root, first, &mut Checked(visitor))
}

/// Walks `bucket`'s tree depth first in key order, handing every readable leaf page to
/// `visitor` and every damage met on the way down.
pub fn walk_tree<'a>(bucket: &Bucket<'a>, visitor: &mut dyn TreeVisitor<'a>) {
    struct Tolerant<'v, 'a>(&'v mut dyn TreeVisitor<'a>);
    impl<'a> Sink<'a> for Tolerant<'_, 'a> {
        fn leaf(&mut self, page: Page<'a>, parent: Pgid, index: usize, _: KeyRange<'a>) -> Flow {
            self.0.leaf(page, parent, index)
        }
        fn element(&mut self, parent: Pgid, index: usize, error: Error) -> Flow {
            self.0.damage(TreeDamage::Element {
                parent,
                index,
                error,
            });
            Flow::Continue
        }
        fn damage(
            &mut self,
            at: Option<(Pgid, usize)>,
            child: Pgid,
            _: KeyRange<'a>,
            damage: PageDamage,
        ) -> Flow {
            let Some((parent, index)) = at else {
                if let PageDamage::Unreadable(error) = damage {
                    self.0.damage(TreeDamage::Root { pgid: child, error });
                }
                return Flow::Continue;
            };
            self.0.damage(match damage {
                PageDamage::ReferencedTwice => TreeDamage::AlreadyEntered {
                    parent,
                    index,
                    child,
                },
                PageDamage::TooDeep => TreeDamage::TooDeep {
                    parent,
                    index,
                    child,
                },
                PageDamage::Unreadable(error) | PageDamage::Element(error) => TreeDamage::Child {
                    parent,
                    index,
                    child,
                    error,
                },
                // Tolerant descents report no other damage.
                _ => return Flow::Continue,
            });
            Flow::Continue
        }
    }
    let mut reached = Reached::new(&bucket.db());
    let mut d = Descent {
        db: bucket.db(),
        bucket: Some(*bucket),
        mode: Mode::Tolerant,
        reached: &mut reached,
        entered: 0,
    };
    let root = bucket.root_pgid().unwrap_or(0);
    let first = bucket.root_page().map_err(PageDamage::Unreadable);
    if let Ok(p) = &first {
        if p.is_branch() {
            d.reached.entered.insert(p.pgid());
        }
    }
    d.run(root, first, &mut Tolerant(visitor));
}

/// All leaf pages of `bucket` in key order, or the first damage as an error; see
/// [`Bucket::leaf_pages`].
pub(crate) fn leaf_pages<'a>(bucket: &Bucket<'a>) -> crate::Result<Vec<Page<'a>>> {
    struct Strict<'a> {
        pages: Vec<Page<'a>>,
        spans: u64,
        span_limit: u64,
        error: Option<Error>,
    }
    impl<'a> Sink<'a> for Strict<'a> {
        fn leaf(&mut self, page: Page<'a>, _: Pgid, _: usize, _: KeyRange<'a>) -> Flow {
            // Leaf views are what callers read in full: in a sound file they are
            // disjoint, so together they are never longer than the file.
            self.spans = self.spans.saturating_add(page.bytes().len() as u64);
            if self.spans > self.span_limit {
                self.error = Some(Error::SpanBudgetExceeded {
                    pgid: page.pgid(),
                    limit: self.span_limit,
                });
                return Flow::Stop;
            }
            self.pages.push(page);
            Flow::Continue
        }
        fn element(&mut self, _: Pgid, _: usize, error: Error) -> Flow {
            self.error = Some(error);
            Flow::Stop
        }
        fn damage(
            &mut self,
            _: Option<(Pgid, usize)>,
            child: Pgid,
            _: KeyRange<'a>,
            damage: PageDamage,
        ) -> Flow {
            self.error = Some(match damage {
                PageDamage::Unreadable(e) | PageDamage::Element(e) => e,
                PageDamage::PageBudget { file_pages } => Error::PageBudgetExceeded {
                    pgid: child,
                    file_pages,
                },
                _ => Error::DepthExceeded {
                    pgid: child,
                    limit: MAX_DEPTH,
                },
            });
            Flow::Stop
        }
    }
    let db = bucket.db();
    let mut sink = Strict {
        pages: Vec::new(),
        spans: 0,
        span_limit: crate::bucket::span_budget(&db),
        error: None,
    };
    let mut reached = Reached::default();
    let mut d = Descent {
        db,
        bucket: Some(*bucket),
        mode: Mode::Budget,
        reached: &mut reached,
        entered: 1,
    };
    let root = bucket.root_page()?;
    d.run(root.pgid(), Ok(root), &mut sink);
    match sink.error {
        Some(e) => Err(e),
        None => Ok(sink.pages),
    }
}
