//! Page views that borrow the file's bytes.
//!
//! Every page starts with a 16-byte header (little-endian):
//!
//! | offset | size | field                                             |
//! |-------:|-----:|---------------------------------------------------|
//! |      0 |    8 | id (pgid)                                         |
//! |      8 |    2 | flags: branch 0x01, leaf 0x02, meta 0x04, freelist 0x10 |
//! |     10 |    2 | count: elements (or freelist ids)                 |
//! |     12 |    4 | overflow: the page spans `1 + overflow` pages     |
//!
//! Branch and leaf elements (16 bytes each) follow the header. A branch element is
//! `pos u32, ksize u32, pgid u64`; a leaf element is `flags u32, pos u32, ksize u32,
//! vsize u32` with flag 0x01 marking a nested bucket. `pos` counts from the element's own
//! address; a leaf value follows its key. A freelist page holds `count` pgids (u64); when
//! `count` is 0xFFFF the real count is the first u64 and the ids follow it.
//!
//! A [`Page`] is bounded by its span (`1 + overflow` pages) cut at the end of the file,
//! or for an inline bucket by the bucket's value. Any element, key or value that would
//! leave those bounds is an [`Error::ElementOutOfPage`], never a panic.

use crate::error::{Error, Result};
use crate::raw::{u16_at, u32_at, u64_at};
use crate::Pgid;
use std::fmt;

/// Size of a page header.
pub const PAGE_HEADER_SIZE: usize = 16;
/// Size of one branch element header.
pub const BRANCH_ELEMENT_SIZE: usize = 16;
/// Size of one leaf element header.
pub const LEAF_ELEMENT_SIZE: usize = 16;
/// Page flag: branch page.
pub const FLAG_BRANCH: u16 = 0x01;
/// Page flag: leaf page.
pub const FLAG_LEAF: u16 = 0x02;
/// Page flag: meta page.
pub const FLAG_META: u16 = 0x04;
/// Page flag: freelist page.
pub const FLAG_FREELIST: u16 = 0x10;
/// Leaf element flag: the value is a nested bucket.
pub const LEAF_FLAG_BUCKET: u32 = 0x01;
/// Freelist `count` value meaning "the real count is the first u64".
pub const FREELIST_COUNT_OVERFLOW: u16 = 0xFFFF;

/// What a page's flags say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageKind {
    /// Interior B+tree page.
    Branch,
    /// B+tree leaf page.
    Leaf,
    /// Meta page.
    Meta,
    /// Freelist page.
    Freelist,
    /// Any other flags value.
    Unknown(u16),
}

impl PageKind {
    /// Decodes a header's flags field. bbolt tests the bits in this order.
    pub fn from_flags(flags: u16) -> PageKind {
        if flags & FLAG_BRANCH != 0 {
            PageKind::Branch
        } else if flags & FLAG_LEAF != 0 {
            PageKind::Leaf
        } else if flags & FLAG_META != 0 {
            PageKind::Meta
        } else if flags & FLAG_FREELIST != 0 {
            PageKind::Freelist
        } else {
            PageKind::Unknown(flags)
        }
    }
}

impl fmt::Display for PageKind {
    /// The names `bbolt pages` prints: `branch`, `leaf`, `meta`, `freelist`, `unknown<XX>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageKind::Branch => f.write_str("branch"),
            PageKind::Leaf => f.write_str("leaf"),
            PageKind::Meta => f.write_str("meta"),
            PageKind::Freelist => f.write_str("freelist"),
            PageKind::Unknown(x) => write!(f, "unknown<{x:02x}>"),
        }
    }
}

/// The page at `pgid` of `data` read with `page_size`, without a [`crate::Db`]: a view of
/// its header and its span (`1 + overflow` pages) cut at the end of `data`. `None` when
/// the header lies (partly) past the end. The one place a file page's bounds are worked
/// out: [`crate::Db::page`] uses it, and so can a scan of a file whose metas are gone.
pub fn probe(data: &[u8], page_size: usize, pgid: Pgid) -> Option<Page<'_>> {
    let start = usize::try_from(pgid).ok()?.checked_mul(page_size)?;
    let head = data.get(start..start.checked_add(PAGE_HEADER_SIZE)?)?;
    let overflow = u32_at(head, 12).unwrap_or(0);
    let span = (u64::from(overflow) + 1).saturating_mul(page_size as u64);
    let end = (start as u64).saturating_add(span).min(data.len() as u64) as usize;
    Page::new(data.get(start..end)?, pgid, start as u64, false)
}

/// A view of one page: a page of the file (with its overflow), or an inline bucket's page
/// inside a value.
#[derive(Clone, Copy)]
pub struct Page<'a> {
    /// Header followed by the rest of the span, cut at the end of the file.
    bytes: &'a [u8],
    /// The page id this view was read from; for an inline page, the leaf page holding it.
    pgid: Pgid,
    /// File offset of the header.
    offset: u64,
    inline: bool,
}

impl fmt::Debug for Page<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Page")
            .field("pgid", &self.pgid)
            .field("inline", &self.inline)
            .field("id", &self.id())
            .field("kind", &self.kind())
            .field("count", &self.count())
            .field("overflow", &self.overflow())
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl<'a> Page<'a> {
    /// A page view over `bytes` (header first). Returns `None` when `bytes` is shorter than a
    /// header. `pgid` is where it was read from (for an inline page, the leaf page holding
    /// it) and `offset` the file offset of its header.
    pub fn new(bytes: &'a [u8], pgid: Pgid, offset: u64, inline: bool) -> Option<Page<'a>> {
        (bytes.len() >= PAGE_HEADER_SIZE).then_some(Page {
            bytes,
            pgid,
            offset,
            inline,
        })
    }

    /// The id stored in the header (equals [`Page::pgid`] in a sound file; 0 for inline pages).
    pub fn id(&self) -> Pgid {
        u64_at(self.bytes, 0).unwrap_or(0)
    }

    /// The page id this view was read from; for an inline page, the leaf page holding it.
    pub fn pgid(&self) -> Pgid {
        self.pgid
    }

    /// File offset of the page header.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// True for an inline bucket's page, which lives inside a value.
    pub fn is_inline(&self) -> bool {
        self.inline
    }

    /// Raw header flags.
    pub fn flags(&self) -> u16 {
        u16_at(self.bytes, 8).unwrap_or(0)
    }

    /// Element count as stored (for a freelist see [`Page::freelist_ids`]).
    pub fn count(&self) -> usize {
        usize::from(u16_at(self.bytes, 10).unwrap_or(0))
    }

    /// Number of extra pages this page spans.
    pub fn overflow(&self) -> u32 {
        u32_at(self.bytes, 12).unwrap_or(0)
    }

    /// How many of the `count` element headers lie inside the view (16 bytes each after
    /// the page header). Less than [`Page::count`] only on a damaged page.
    pub fn elements_in_view(&self) -> usize {
        let room = self.bytes.len().saturating_sub(PAGE_HEADER_SIZE) / LEAF_ELEMENT_SIZE;
        self.count().min(room)
    }

    /// What the flags say this page is.
    pub fn kind(&self) -> PageKind {
        PageKind::from_flags(self.flags())
    }

    /// True for a branch page.
    pub fn is_branch(&self) -> bool {
        self.kind() == PageKind::Branch
    }

    /// True for a leaf page.
    pub fn is_leaf(&self) -> bool {
        self.kind() == PageKind::Leaf
    }

    /// The same page with its view cut to at most `len` bytes (never below the header):
    /// used when a page's claimed span overlaps pages that belong to others.
    pub fn restricted(&self, len: usize) -> Page<'a> {
        let len = len.max(PAGE_HEADER_SIZE).min(self.bytes.len());
        Page {
            bytes: &self.bytes[..len],
            ..*self
        }
    }

    /// The bytes of the view: header and span, cut at the end of the file.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    fn element_header(&self, index: usize) -> Result<(usize, &'a [u8])> {
        let off = index
            .checked_mul(BRANCH_ELEMENT_SIZE)
            .and_then(|x| x.checked_add(PAGE_HEADER_SIZE));
        match off.and_then(|o| Some((o, self.bytes.get(o..o.checked_add(16)?)?))) {
            Some(x) => Ok(x),
            None => Err(self.out_of_page(index, off.unwrap_or(usize::MAX), "header")),
        }
    }

    fn out_of_page(&self, index: usize, elem_off: usize, what: &'static str) -> Error {
        Error::ElementOutOfPage {
            pgid: self.pgid,
            index,
            offset: self.offset.saturating_add(elem_off as u64),
            what,
        }
    }

    /// Slice `[elem_off + pos, + len)` of the page, if inside it.
    fn span(&self, elem_off: usize, pos: u32, len: u32) -> Option<(usize, &'a [u8])> {
        let start = elem_off.checked_add(usize::try_from(pos).ok()?)?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        Some((end, self.bytes.get(start..end)?))
    }

    /// Branch element `index`. Does not check the page type or the count.
    pub fn branch_element(&self, index: usize) -> Result<BranchElement<'a>> {
        let (off, h) = self.element_header(index)?;
        let pos = u32_at(h, 0).unwrap_or(0);
        let ksize = u32_at(h, 4).unwrap_or(0);
        let pgid = u64_at(h, 8).unwrap_or(0);
        let (_, key) = self
            .span(off, pos, ksize)
            .ok_or_else(|| self.out_of_page(index, off, "key"))?;
        Ok(BranchElement { pos, key, pgid })
    }

    /// Leaf element `index`. Does not check the page type or the count.
    pub fn leaf_element(&self, index: usize) -> Result<LeafElement<'a>> {
        let (off, h) = self.element_header(index)?;
        let flags = u32_at(h, 0).unwrap_or(0);
        let pos = u32_at(h, 4).unwrap_or(0);
        let ksize = u32_at(h, 8).unwrap_or(0);
        let vsize = u32_at(h, 12).unwrap_or(0);
        let (kend, key) = self
            .span(off, pos, ksize)
            .ok_or_else(|| self.out_of_page(index, off, "key"))?;
        let value = usize::try_from(vsize)
            .ok()
            .and_then(|v| self.bytes.get(kend..kend.checked_add(v)?))
            .ok_or_else(|| self.out_of_page(index, off, "value"))?;
        Ok(LeafElement {
            flags,
            pos,
            key,
            value,
            offset: self.offset.saturating_add(kend as u64),
        })
    }

    /// The branch elements, in stored order. Yields an error for an element outside the page.
    ///
    /// The keys of a sound page are disjoint parts of it, so together they are never longer
    /// than the page. Forged elements can all point at the same bytes (65,535 keys of a
    /// page's length each); the iterator yields [`Error::ElementsOverlap`] and ends once the
    /// keys handed out outgrow the page, so whatever a caller does per key costs at most
    /// the page's length in total.
    pub fn branch_elements(&self) -> BranchElements<'a> {
        BranchElements {
            page: *self,
            next: 0,
            data_bytes: 0,
        }
    }

    /// The leaf elements, in stored order. Yields an error for an element outside the page.
    ///
    /// As with [`Page::branch_elements`], once the keys and values handed out outgrow the
    /// page (elements that overlap, which a sound page never has) the iterator yields
    /// [`Error::ElementsOverlap`] and ends.
    pub fn leaf_elements(&self) -> LeafElements<'a> {
        LeafElements {
            page: *self,
            next: 0,
            data_bytes: 0,
        }
    }

    /// Sum of key and value lengths over the readable leaf elements (key lengths only for
    /// a branch page). More than [`Page::bytes`]' length means elements overlap: the page
    /// is forged or damaged, and reading every element would read some bytes many times.
    pub fn element_data_bytes(&self) -> u64 {
        let fit = 0..self.elements_in_view();
        if self.is_branch() {
            fit.filter_map(|i| self.branch_element(i).ok())
                .map(|e| e.data_len())
                .fold(0u64, u64::saturating_add)
        } else {
            fit.filter_map(|i| self.leaf_element(i).ok())
                .map(|e| e.data_len())
                .fold(0u64, u64::saturating_add)
        }
    }

    /// The next element of an element iterator: reads element `*next` with `read`, adds
    /// its key and value bytes to `*data_bytes`, and once those outgrow the page yields
    /// [`Error::ElementsOverlap`] and ends the iteration.
    fn next_element<E: ElementData>(
        &self,
        next: &mut usize,
        data_bytes: &mut u64,
        read: impl Fn(&Self, usize) -> Result<E>,
    ) -> Option<Result<E>> {
        if *next >= self.count() {
            return None;
        }
        let index = *next;
        *next += 1;
        let r = read(self, index);
        if let Ok(el) = &r {
            *data_bytes = data_bytes.saturating_add(el.data_len());
            if let Some(e) = self.overlap_error(index, *data_bytes) {
                *next = usize::MAX;
                return Some(Err(e));
            }
        }
        Some(r)
    }

    /// True when the elements' keys and values overlap (see [`Page::element_data_bytes`]).
    pub fn elements_overlap(&self) -> bool {
        self.element_data_bytes() > self.bytes.len() as u64
    }

    fn overlap_error(&self, index: usize, data_bytes: u64) -> Option<Error> {
        (data_bytes > self.bytes.len() as u64).then_some(Error::ElementsOverlap {
            pgid: self.pgid,
            index,
            offset: self.offset,
            data_bytes,
            page_bytes: self.bytes.len(),
        })
    }

    /// The page ids listed on a freelist page, honouring the 0xFFFF count form.
    ///
    /// Fails when the list runs past the page's span.
    pub fn freelist_ids(&self) -> Result<FreelistIds<'a>> {
        let (count, start) = if u16_at(self.bytes, 10) == Some(FREELIST_COUNT_OVERFLOW) {
            let c = u64_at(self.bytes, PAGE_HEADER_SIZE).ok_or(Error::FreelistOutOfPage {
                pgid: self.pgid,
                count: u64::from(FREELIST_COUNT_OVERFLOW),
            })?;
            (c, PAGE_HEADER_SIZE + 8)
        } else {
            (self.count() as u64, PAGE_HEADER_SIZE)
        };
        let ids = usize::try_from(count)
            .ok()
            .and_then(|c| c.checked_mul(8))
            .and_then(|len| self.bytes.get(start..start.checked_add(len)?))
            .ok_or(Error::FreelistOutOfPage {
                pgid: self.pgid,
                count,
            })?;
        Ok(FreelistIds {
            ids: ids.chunks_exact(8),
        })
    }

    /// Bytes in use on this page as bbolt's `Bucket.Stats()` counts them: the header, all
    /// element headers, and the keys (and values) up to the end of the last element's data.
    /// Computed from the last element's `pos`/`ksize`/`vsize`, as bbolt does.
    pub fn used_bytes(&self) -> u64 {
        let header = PAGE_HEADER_SIZE as u64;
        let n = self.count();
        if n == 0 {
            return header;
        }
        let Ok((_, h)) = self.element_header(n - 1) else {
            return header;
        };
        let elems = (LEAF_ELEMENT_SIZE as u64) * (n as u64 - 1);
        let field = |off| u64::from(u32_at(h, off).unwrap_or(0));
        // The last element's data ends where all elements' data ends.
        let tail = if self.is_branch() {
            field(0) + field(4) // pos + ksize
        } else {
            field(4) + field(8) + field(12) // pos + ksize + vsize
        };
        header + elems + tail
    }
}

/// Key and value bytes an element points at.
trait ElementData {
    fn data_len(&self) -> u64;
}

impl ElementData for BranchElement<'_> {
    fn data_len(&self) -> u64 {
        self.key.len() as u64
    }
}

impl ElementData for LeafElement<'_> {
    fn data_len(&self) -> u64 {
        (self.key.len() as u64).saturating_add(self.value.len() as u64)
    }
}

/// One element of a branch page: the first key of a child and the child's page id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BranchElement<'a> {
    /// Offset of the key from the element header.
    pub pos: u32,
    /// The smallest key in the child subtree (as recorded when the parent was written).
    pub key: &'a [u8],
    /// The child page.
    pub pgid: Pgid,
}

/// One element of a leaf page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeafElement<'a> {
    /// Element flags; [`LEAF_FLAG_BUCKET`] marks a nested bucket.
    pub flags: u32,
    /// Offset of the key from the element header.
    pub pos: u32,
    /// The key.
    pub key: &'a [u8],
    /// The value (for a bucket: its 16-byte header, then the inline page if any).
    pub value: &'a [u8],
    /// File offset of the value.
    pub offset: u64,
}

impl LeafElement<'_> {
    /// True when the value is a nested bucket.
    pub fn is_bucket(&self) -> bool {
        self.flags & LEAF_FLAG_BUCKET != 0
    }
}

/// Iterator over a branch page's elements; see [`Page::branch_elements`].
#[derive(Debug, Clone)]
pub struct BranchElements<'a> {
    page: Page<'a>,
    next: usize,
    /// Key bytes handed out so far; see [`Page::branch_elements`].
    data_bytes: u64,
}

impl<'a> Iterator for BranchElements<'a> {
    type Item = Result<BranchElement<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        self.page
            .next_element(&mut self.next, &mut self.data_bytes, Page::branch_element)
    }
}

/// Iterator over a leaf page's elements; see [`Page::leaf_elements`].
#[derive(Debug, Clone)]
pub struct LeafElements<'a> {
    page: Page<'a>,
    next: usize,
    /// Key and value bytes handed out so far; see [`Page::leaf_elements`].
    data_bytes: u64,
}

impl<'a> Iterator for LeafElements<'a> {
    type Item = Result<LeafElement<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        self.page
            .next_element(&mut self.next, &mut self.data_bytes, Page::leaf_element)
    }
}

/// Iterator over the page ids of a freelist page.
#[derive(Debug, Clone)]
pub struct FreelistIds<'a> {
    ids: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for FreelistIds<'_> {
    type Item = Pgid;
    fn next(&mut self) -> Option<Pgid> {
        self.ids.next().and_then(|c| u64_at(c, 0))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.ids.size_hint()
    }
}

impl ExactSizeIterator for FreelistIds<'_> {}

/// `a` against `b` in byte order, as `a.cmp(b)`, with the first 8 bytes compared as one
/// word: keys that differ there (etcd's revision keys nearly always do) need no call to
/// `memcmp`.
#[inline]
pub(crate) fn key_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    if let (Some(x), Some(y)) = (a.first_chunk::<8>(), b.first_chunk::<8>()) {
        let (x, y) = (u64::from_be_bytes(*x), u64::from_be_bytes(*y));
        if x != y {
            return x.cmp(&y);
        }
    }
    a.cmp(b)
}

/// `n` zeros written out now, for a table the caller reads before it writes (a hash
/// index's probes, a bit set's read-modify-write).
///
/// `vec![0; n]` takes zeroed memory from the allocator, which the kernel backs with its
/// one shared zero page until a page is written: a table read first then takes two
/// faults a page, the second a copy-on-write that flushes the TLB of every CPU the
/// process runs on. Writing the zeros costs one fault a page and a memset.
pub fn written_zeros<T: Copy + Default>(n: usize) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    v.resize(n, T::default());
    v
}

/// Asks the CPU to bring the cache line at `p` in ahead of use, for passes over the
/// mapping that know their next reads before they make them. Only a hint: the address is
/// never dereferenced, so a stale or wrong one costs nothing but the hint, and a page the
/// process has not mapped yet is simply not fetched.
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: PREFETCHT0 has no architectural effect and never faults, whatever the
    // address (Intel SDM, PREFETCHh); SSE is part of every x86_64 target.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod key_cmp_tests {
    use super::key_cmp;

    #[test]
    fn key_cmp_orders_as_the_byte_order() {
        let keys: [&[u8]; 9] = [
            b"",
            b"a",
            b"abcdefg",
            b"abcdefgh",
            b"abcdefgh\x00",
            b"abcdefgi",
            b"\x00\x00\x00\x00\x00\x00\x00\x01_\x00",
            b"\x00\x00\x00\x00\x00\x00\x00\x01_\x01",
            b"\xff\xff\xff\xff\xff\xff\xff\xff",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(key_cmp(a, b), a.cmp(b), "{a:?} against {b:?}");
            }
        }
    }
}
