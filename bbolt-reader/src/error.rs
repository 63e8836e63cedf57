//! The one error type of this crate.
//!
//! An [`Error`] means "this read cannot go on": a page id past the end of the file, an
//! element whose key runs off its page, a tree deeper than any real one. Each variant names
//! where: the page id (`pgid`) and, where it helps, the byte offset in the file. Damage that
//! a reader can step over is reported as a [`crate::finding::Finding`] instead.

use crate::meta::MetaProblem;
use crate::page::PageKind;
use crate::Pgid;
use std::path::PathBuf;

/// Why a read stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or mapped.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Neither meta page is valid, so there is no root to start from.
    #[error("no valid meta page: meta 0: {meta0}; meta 1: {meta1}")]
    NoValidMeta {
        /// Why meta page 0 was rejected.
        meta0: MetaProblem,
        /// Why meta page 1 was rejected.
        meta1: MetaProblem,
    },
    /// The caller asked for a specific meta page and it is not valid.
    #[error("meta page {index} is not valid: {problem}")]
    MetaInvalid {
        /// 0 or 1.
        index: usize,
        /// Why it was rejected.
        problem: MetaProblem,
    },
    /// A page id whose header lies (partly) past the end of the file.
    #[error("page {pgid}: out of bounds: the file holds {file_pages} pages of {page_size} bytes")]
    PageOutOfBounds {
        /// The page id that was asked for.
        pgid: Pgid,
        /// Pages (whole or partial) in the file.
        file_pages: u64,
        /// The page size from the meta.
        page_size: usize,
    },
    /// A page reached where only a branch or a leaf page may be.
    #[error("page {pgid}: expected {expected}, found page type {found} (flags {flags:#06x})")]
    WrongPageType {
        /// The page that has the wrong type.
        pgid: Pgid,
        /// What the tree needed here.
        expected: &'static str,
        /// What the page says it is.
        found: PageKind,
        /// The raw flags field.
        flags: u16,
    },
    /// An element header, key or value that lies (partly) outside its page's span.
    #[error("page {pgid}: element {index} at file offset {offset} lies outside the page ({what})")]
    ElementOutOfPage {
        /// The page holding the element (for an inline bucket: the leaf page that holds it).
        pgid: Pgid,
        /// The element's index within its page.
        index: usize,
        /// File offset of the element header.
        offset: u64,
        /// Which part is outside: `"header"`, `"key"` or `"value"`.
        what: &'static str,
    },
    /// A value marked as a nested bucket that is too short to hold a bucket header (and,
    /// for an inline bucket, a page header).
    #[error(
        "page {pgid}: bucket value at file offset {offset} is {len} bytes, too short for a bucket"
    )]
    BadBucketValue {
        /// The leaf page holding the value.
        pgid: Pgid,
        /// File offset of the value.
        offset: u64,
        /// Its length.
        len: usize,
    },
    /// A freelist page whose pgid list runs past its span.
    #[error("page {pgid}: freelist claims {count} ids, more than its span holds")]
    FreelistOutOfPage {
        /// The freelist page.
        pgid: Pgid,
        /// The claimed number of ids.
        count: u64,
    },
    /// A B+tree deeper than any real one: a cycle between branch pages, or hostile input.
    #[error("page {pgid}: tree depth exceeds {limit}: cycle between branch pages or corrupt tree")]
    DepthExceeded {
        /// The page at which the limit was hit.
        pgid: Pgid,
        /// The limit.
        limit: usize,
    },
    /// The keys and values of a page's elements overlap: together they are longer than
    /// the page. A sound page never has this; reading on would read the same bytes again
    /// and again.
    #[error("page {pgid} at file offset {offset}: elements overlap: by element {index} their keys and values total {data_bytes} bytes, more than the page's {page_bytes}")]
    ElementsOverlap {
        /// The page (for an inline page, the leaf page holding it).
        pgid: Pgid,
        /// The element at which the total outgrew the page.
        index: usize,
        /// File offset of the page header.
        offset: u64,
        /// Key and value bytes of the elements up to `index`.
        data_bytes: u64,
        /// Length of the page view.
        page_bytes: usize,
    },
    /// A pass over a tree met more page bytes than the file holds: overflow spans
    /// overlap, or pages are referenced more than once.
    #[error("page {pgid}: pages read in one pass span more than {limit} bytes (twice the file): overflow spans overlap or pages are referenced more than once")]
    SpanBudgetExceeded {
        /// The page at which the budget ran out.
        pgid: Pgid,
        /// The budget in bytes.
        limit: u64,
    },
    /// A walk descended into more pages than the file holds: some page is reached more
    /// than once (a cycle or a shared subtree).
    #[error("page {pgid}: walk visited more pages than the file holds ({file_pages}): pages are referenced more than once")]
    PageBudgetExceeded {
        /// The page at which the budget ran out.
        pgid: Pgid,
        /// Pages in the file.
        file_pages: u64,
    },
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;
