//! Bulk writer for bbolt files.
//!
//! Builds a fresh, compact bbolt file (format version 2) from input that arrives in key
//! order, the way a bulk load would: leaf pages are written as soon as they are full,
//! and only one partly filled page per tree level (plus the branch keys above it) is held
//! in memory. Buckets may nest; a small bucket with no sub-buckets is stored inline in
//! its parent, exactly where bbolt itself would inline it.
//!
//! # Layout written
//!
//! ```text
//! page 0, 1   meta pages; both point at the same tree and freelist. The one with the
//!             larger txid (page txid % 2) is the one bbolt opens; the other one carries
//!             txid - 1, as if the file had been created and then committed once.
//! page 2      freelist page with count 0 (a persisted, empty freelist: every page below
//!             the high-water mark is in use, so bbolt's consistency check finds no page
//!             that is neither reachable nor free).
//! page 3..    leaf, branch and overflow pages in the order they were filled; a tree's
//!             root page comes after its children.
//! ```
//!
//! Format facts used (bbolt `page.go`, `node.go`, `bucket.go`, `db.go`):
//! - page header, 16 bytes: id u64, flags u16, count u16, overflow u32 (little-endian);
//!   a page spanning `n` pages has overflow `n - 1`;
//! - leaf element, 16 bytes: flags u32, pos u32, ksize u32, vsize u32; branch element,
//!   16 bytes: pos u32, ksize u32, pgid u64; `pos` counts from the element itself to its
//!   key, and the key/value bytes follow all elements in element order;
//! - a branch element's key is the first key of the child it points to;
//! - a bucket's value is {root pgid u64, sequence u64}; with root 0 the bucket's single
//!   leaf page follows inline (page id 0); a bucket is inlined when it has no sub-bucket
//!   and its page is at most a quarter of the page size;
//! - meta body at byte 16: magic, version, page size, flags (u32 each), root bucket
//!   {pgid, sequence}, freelist pgid, high-water pgid, txid, then FNV-1a-64 of the 56
//!   bytes before it.
//!
//! ```
//! use bbolt_writer::{BoltWriter, Options};
//! use std::io::Cursor;
//!
//! let mut w = BoltWriter::new(Cursor::new(Vec::new()), Options::default())?;
//! w.begin_bucket(b"key")?;
//! w.put(b"a", b"1")?;
//! w.put(b"b", b"2")?;
//! w.end_bucket()?;
//! let (cursor, summary) = w.finish()?;
//! assert_eq!(cursor.get_ref().len() as u64, summary.high_water_mark * 4096);
//! # Ok::<(), bbolt_writer::Error>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A page id.
pub type Pgid = u64;

/// Magic number in every meta page.
pub const MAGIC: u32 = 0xED0C_DAED;
/// Data file format version written.
pub const VERSION: u32 = 2;
/// Largest key bbolt accepts.
pub const MAX_KEY_SIZE: usize = 32_768;
/// Largest value bbolt accepts.
pub const MAX_VALUE_SIZE: usize = (1 << 31) - 2;

const PAGE_HEADER_SIZE: usize = 16;
const ELEMENT_SIZE: usize = 16;
const BUCKET_HEADER_SIZE: usize = 16;
const META_CHECKSUM_OFFSET: usize = 56;
const FLAG_BRANCH: u16 = 0x01;
const FLAG_LEAF: u16 = 0x02;
const FLAG_META: u16 = 0x04;
const FLAG_FREELIST: u16 = 0x10;
const LEAF_FLAG_BUCKET: u32 = 0x01;
const FREELIST_PGID: Pgid = 2;
const FIRST_DATA_PGID: Pgid = 3;
/// bbolt refuses pages with 0xFFFF or more elements (`node.write`).
const MAX_ELEMENTS_PER_PAGE: usize = 0xFFFE;
const MIN_PAGE_SIZE: u32 = 512;
/// Upper bound on tree height; a tree of 4 KiB pages holding 2 entries per branch page at
/// this depth would address more pages than any file can hold.
const MAX_TREE_LEVELS: usize = 64;
/// Upper bound on bucket nesting; bbolt has none, but a stack this deep is a caller bug.
const MAX_BUCKET_DEPTH: usize = 256;

/// Everything that stops a write. Each variant says where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing or seeking the output failed.
    #[error("{}: writing page {pgid}: {source}", path.as_deref().map_or_else(|| "<output>".into(), |p| p.display().to_string()))]
    Io {
        /// The output file, when the writer owns one.
        path: Option<PathBuf>,
        /// The page being written (0 for the metas and freelist at the end).
        pgid: Pgid,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The output file exists and overwriting was not asked for.
    #[error("{}: already exists; refusing to overwrite it", path.display())]
    Exists {
        /// The output file.
        path: PathBuf,
    },
    /// The options cannot describe a bbolt file.
    #[error("invalid options: {0}")]
    Options(String),
    /// A key (or bucket name) is not strictly greater than the previous one in its bucket.
    #[error("bucket {bucket}: key {key} is not after the previous key {previous}")]
    OutOfOrder {
        /// Path of the bucket, names joined by '/', shown escaped.
        bucket: String,
        /// The offending key, shown escaped.
        key: String,
        /// The key before it, shown escaped.
        previous: String,
    },
    /// A key is empty or longer than bbolt allows, or a value is too large.
    #[error("bucket {bucket}: {message}")]
    Invalid {
        /// Path of the bucket, names joined by '/', shown escaped.
        bucket: String,
        /// What is wrong.
        message: String,
    },
    /// The call does not fit the current nesting (a put outside any bucket, an
    /// `end_bucket` with none open, `finish` with buckets still open, …).
    #[error("{0}")]
    Nesting(String),
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// How the file is laid out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Page size in bytes (a power of two, at least 512). bbolt's default is the OS page
    /// size, 4096 on the usual Linux machine.
    pub page_size: u32,
    /// How full a leaf or branch page is filled before a new one is started, as bbolt's
    /// `Bucket.FillPercent`; clamped to 0.1..=1.0. 1.0 (the default) gives the most
    /// compact file; etcd's defragmentation uses 0.9.
    pub fill_percent: f64,
    /// The txid of the newer meta page (at least 1). The other meta page gets `txid - 1`.
    pub txid: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            page_size: 4096,
            fill_percent: 1.0,
            txid: 2,
        }
    }
}

/// Figures about a finished file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Page size used.
    pub page_size: u32,
    /// One past the last page written (bbolt's meta `pgid`); the file is exactly this
    /// many pages long.
    pub high_water_mark: Pgid,
    /// Root page of the root bucket.
    pub root_pgid: Pgid,
    /// txid of the newer meta page.
    pub txid: u64,
    /// Leaf pages written (inline bucket pages not counted).
    pub leaf_pages: u64,
    /// Branch pages written.
    pub branch_pages: u64,
    /// Extra pages taken by pages larger than one page.
    pub overflow_pages: u64,
    /// Buckets written at any depth, inline ones included.
    pub buckets: u64,
    /// Buckets stored inline in their parent.
    pub inline_buckets: u64,
    /// Key/value pairs written (bucket entries not counted).
    pub keys: u64,
}

/// One pending element of a leaf page.
struct LeafEntry {
    flags: u32,
    key: Vec<u8>,
    value: Vec<u8>,
}

/// One pending element of a branch page: the first key of a child and its pgid.
struct BranchEntry {
    key: Vec<u8>,
    pgid: Pgid,
}

/// The elements of the page being filled at one tree level (leaf or branch).
struct PendingPage<E> {
    entries: Vec<E>,
    /// Page bytes the pending entries would take, header included.
    size: usize,
}

impl<E> PendingPage<E> {
    fn new() -> Self {
        PendingPage {
            entries: Vec::new(),
            size: PAGE_HEADER_SIZE,
        }
    }

    /// True when an element of `size` bytes no longer fits and the page must be written
    /// first (a page always takes at least one element, however large).
    fn full_for(&self, size: usize, threshold: usize) -> bool {
        !self.entries.is_empty()
            && (self.size + size > threshold || self.entries.len() >= MAX_ELEMENTS_PER_PAGE)
    }

    fn push(&mut self, entry: E, size: usize) {
        self.size += size;
        self.entries.push(entry);
    }

    /// The pending elements, leaving an empty page.
    fn take(&mut self) -> Vec<E> {
        self.size = PAGE_HEADER_SIZE;
        std::mem::take(&mut self.entries)
    }
}

/// The bucket being filled at one nesting depth.
struct OpenBucket {
    name: Vec<u8>,
    last_key: Option<Vec<u8>>,
    leaf: PendingPage<LeafEntry>,
    leaf_pages: u64,
    has_sub_bucket: bool,
    /// `levels[0]` points at leaf pages, `levels[1]` at branch pages of level 0, ….
    levels: Vec<PendingPage<BranchEntry>>,
    sequence: u64,
}

impl OpenBucket {
    fn new(name: Vec<u8>) -> Self {
        OpenBucket {
            name,
            last_key: None,
            leaf: PendingPage::new(),
            leaf_pages: 0,
            has_sub_bucket: false,
            levels: Vec::new(),
            sequence: 0,
        }
    }
}

/// Writes one bbolt file. Call [`begin_bucket`](Self::begin_bucket) /
/// [`put`](Self::put) / [`end_bucket`](Self::end_bucket) in key order, then
/// [`finish`](Self::finish).
///
/// Within a bucket, plain keys and sub-bucket names share one key space and must arrive
/// strictly increasing (bytewise). The root of the file holds only buckets, as in bbolt.
pub struct BoltWriter<W: Write + Seek> {
    out: W,
    path: Option<PathBuf>,
    page_size: usize,
    threshold: usize,
    txid: u64,
    next_pgid: Pgid,
    /// `stack[0]` is the root bucket; the last one is the bucket keys go into.
    stack: Vec<OpenBucket>,
    summary: Summary,
    page_buf: Vec<u8>,
}

impl<W: Write + Seek> std::fmt::Debug for BoltWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoltWriter")
            .field("path", &self.path)
            .field("page_size", &self.page_size)
            .field("next_pgid", &self.next_pgid)
            .field("depth", &self.stack.len())
            .finish_non_exhaustive()
    }
}

impl BoltWriter<BufWriter<File>> {
    /// Creates `path` (which must not exist unless `overwrite`) and writes into it.
    /// [`finish`](Self::finish) flushes and fsyncs it.
    pub fn create(path: impl AsRef<Path>, options: Options, overwrite: bool) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut open = OpenOptions::new();
        open.write(true);
        if overwrite {
            open.create(true).truncate(true);
        } else {
            open.create_new(true);
        }
        let file = open.open(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                Error::Exists { path: path.clone() }
            } else {
                Error::Io {
                    path: Some(path.clone()),
                    pgid: 0,
                    source,
                }
            }
        })?;
        let mut w = BoltWriter::new(BufWriter::with_capacity(1 << 20, file), options)?;
        w.path = Some(path);
        Ok(w)
    }

    /// Writes the metas, flushes and fsyncs the file; see [`finish`](BoltWriter::finish).
    pub fn finish_file(self) -> Result<Summary> {
        let path = self.path.clone();
        let (buf, summary) = self.finish()?;
        let file = buf.into_inner().map_err(|e| Error::Io {
            path: path.clone(),
            pgid: 0,
            source: e.into_error(),
        })?;
        file.sync_all().map_err(|source| Error::Io {
            path,
            pgid: 0,
            source,
        })?;
        Ok(summary)
    }
}

impl<W: Write + Seek> BoltWriter<W> {
    /// Starts a file on `out`, which should be empty and positioned at its start.
    pub fn new(out: W, options: Options) -> Result<Self> {
        let ps = options.page_size;
        if ps < MIN_PAGE_SIZE || !ps.is_power_of_two() {
            return Err(Error::Options(format!(
                "page size {ps} is not a power of two >= {MIN_PAGE_SIZE}"
            )));
        }
        if options.txid == 0 {
            return Err(Error::Options("txid must be at least 1".into()));
        }
        let fill = if options.fill_percent.is_nan() {
            1.0
        } else {
            options.fill_percent.clamp(0.1, 1.0)
        };
        let page_size = ps as usize;
        let threshold = ((page_size as f64) * fill) as usize;
        let mut w = BoltWriter {
            out,
            path: None,
            page_size,
            threshold: threshold.max(PAGE_HEADER_SIZE + ELEMENT_SIZE),
            txid: options.txid,
            next_pgid: FIRST_DATA_PGID,
            stack: vec![OpenBucket::new(Vec::new())],
            summary: Summary {
                page_size: ps,
                txid: options.txid,
                ..Summary::default()
            },
            page_buf: Vec::with_capacity(page_size),
        };
        // Reserve the metas and the freelist; they are written last, once the root is known.
        let zeros = vec![0u8; page_size * FIRST_DATA_PGID as usize];
        w.out.write_all(&zeros).map_err(|source| w.io(0, source))?;
        Ok(w)
    }

    /// Opens a bucket named `name` inside the current bucket (or at the top level).
    /// Its name must sort after every key and bucket name already given in the parent.
    pub fn begin_bucket(&mut self, name: &[u8]) -> Result<()> {
        if self.stack.len() >= MAX_BUCKET_DEPTH {
            return Err(Error::Nesting(format!(
                "buckets nested deeper than {MAX_BUCKET_DEPTH}"
            )));
        }
        self.check_key(name, 0)?;
        let parent = self.stack.last_mut().expect("root bucket is always open");
        parent.last_key = Some(name.to_vec());
        parent.has_sub_bucket = true;
        self.stack.push(OpenBucket::new(name.to_vec()));
        Ok(())
    }

    /// Sets the current bucket's sequence number (bbolt's `NextSequence` counter).
    pub fn set_sequence(&mut self, sequence: u64) -> Result<()> {
        if self.stack.len() < 2 {
            return Err(Error::Nesting("set_sequence outside any bucket".into()));
        }
        if let Some(b) = self.stack.last_mut() {
            b.sequence = sequence;
        }
        Ok(())
    }

    /// Adds a key/value pair to the current bucket; `key` must sort after the previous
    /// key or bucket name in it.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        if self.stack.len() < 2 {
            return Err(Error::Nesting(
                "put outside any bucket: the root holds only buckets".into(),
            ));
        }
        self.check_key(key, value.len())?;
        let depth = self.stack.len() - 1;
        self.stack[depth].last_key = Some(key.to_vec());
        self.add_leaf_entry(
            depth,
            LeafEntry {
                flags: 0,
                key: key.to_vec(),
                value: value.to_vec(),
            },
        )?;
        self.summary.keys += 1;
        Ok(())
    }

    /// Closes the current bucket and stores it in its parent.
    pub fn end_bucket(&mut self) -> Result<()> {
        if self.stack.len() < 2 {
            return Err(Error::Nesting("end_bucket with no bucket open".into()));
        }
        let depth = self.stack.len() - 1;
        let value = self.close_bucket(depth)?;
        let bucket = self.stack.pop().expect("depth >= 1");
        self.summary.buckets += 1;
        self.add_leaf_entry(
            depth - 1,
            LeafEntry {
                flags: LEAF_FLAG_BUCKET,
                key: bucket.name,
                value,
            },
        )
    }

    /// Depth of the bucket currently open: 0 at the top level.
    pub fn depth(&self) -> usize {
        self.stack.len() - 1
    }

    /// Writes the root tree, the freelist and both metas, and flushes. Returns the output
    /// and the figures. Every bucket must have been closed.
    pub fn finish(mut self) -> Result<(W, Summary)> {
        if self.stack.len() != 1 {
            return Err(Error::Nesting(format!(
                "finish with {} bucket(s) still open",
                self.stack.len() - 1
            )));
        }
        let root = self.close_tree(0)?;
        let hwm = self.next_pgid;
        self.summary.root_pgid = root;
        self.summary.high_water_mark = hwm;

        let mut head = vec![0u8; self.page_size * FIRST_DATA_PGID as usize];
        for (index, txid) in [
            (self.txid % 2, self.txid),
            ((self.txid - 1) % 2, self.txid - 1),
        ] {
            let page = &mut head[index as usize * self.page_size..][..self.page_size];
            write_page_header(page, index, FLAG_META, 0, 0);
            let meta = &mut page[PAGE_HEADER_SIZE..];
            put_u32(meta, 0, MAGIC);
            put_u32(meta, 4, VERSION);
            put_u32(meta, 8, self.page_size as u32);
            put_u32(meta, 12, 0);
            put_u64(meta, 16, root);
            put_u64(meta, 24, 0);
            put_u64(meta, 32, FREELIST_PGID);
            put_u64(meta, 40, hwm);
            put_u64(meta, 48, txid);
            let sum = fnv1a64(&meta[..META_CHECKSUM_OFFSET]);
            put_u64(meta, META_CHECKSUM_OFFSET, sum);
        }
        let freelist = &mut head[FREELIST_PGID as usize * self.page_size..][..self.page_size];
        write_page_header(freelist, FREELIST_PGID, FLAG_FREELIST, 0, 0);

        self.out
            .flush()
            .and_then(|()| self.out.seek(SeekFrom::Start(0)))
            .and_then(|_| self.out.write_all(&head))
            .and_then(|()| self.out.seek(SeekFrom::Start(hwm * self.page_size as u64)))
            .and_then(|_| self.out.flush())
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                pgid: 0,
                source,
            })?;
        Ok((self.out, self.summary))
    }

    fn io(&self, pgid: Pgid, source: std::io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            pgid,
            source,
        }
    }

    fn bucket_path(&self) -> String {
        let names: Vec<String> = self.stack[1..].iter().map(|b| escape(&b.name)).collect();
        if names.is_empty() {
            "<root>".into()
        } else {
            names.join("/")
        }
    }

    fn check_key(&self, key: &[u8], value_len: usize) -> Result<()> {
        let invalid = |message: String| Error::Invalid {
            bucket: self.bucket_path(),
            message,
        };
        if key.is_empty() {
            return Err(invalid("empty key (bbolt requires a key)".into()));
        }
        if key.len() > MAX_KEY_SIZE {
            return Err(invalid(format!(
                "key of {} bytes exceeds bbolt's {MAX_KEY_SIZE}",
                key.len()
            )));
        }
        if value_len > MAX_VALUE_SIZE {
            return Err(invalid(format!(
                "value of {value_len} bytes exceeds bbolt's {MAX_VALUE_SIZE}"
            )));
        }
        let current = self.stack.last().expect("root bucket is always open");
        if let Some(prev) = &current.last_key {
            if key <= prev.as_slice() {
                return Err(Error::OutOfOrder {
                    bucket: self.bucket_path(),
                    key: escape(key),
                    previous: escape(prev),
                });
            }
        }
        Ok(())
    }

    fn add_leaf_entry(&mut self, depth: usize, entry: LeafEntry) -> Result<()> {
        let size = ELEMENT_SIZE + entry.key.len() + entry.value.len();
        if self.stack[depth].leaf.full_for(size, self.threshold) {
            self.flush_leaf(depth)?;
        }
        self.stack[depth].leaf.push(entry, size);
        Ok(())
    }

    /// Writes the pending leaf page of the bucket at `depth` and links it into level 0.
    fn flush_leaf(&mut self, depth: usize) -> Result<()> {
        let entries = self.stack[depth].leaf.take();
        encode_leaf(&mut self.page_buf, &entries);
        self.summary.leaf_pages += 1;
        self.stack[depth].leaf_pages += 1;
        let first_key = entries.into_iter().next().map(|e| e.key);
        self.write_and_link(depth, 0, first_key)
    }

    /// Writes `page_buf` and adds it, under its first key, to branch `level` of the tree
    /// of the bucket at `depth`.
    fn write_and_link(
        &mut self,
        depth: usize,
        level: usize,
        first_key: Option<Vec<u8>>,
    ) -> Result<()> {
        let pgid = self.write_page_buf()?;
        let entry = BranchEntry {
            key: first_key.unwrap_or_default(),
            pgid,
        };
        self.add_branch_entry(depth, level, entry)
    }

    fn add_branch_entry(&mut self, depth: usize, level: usize, entry: BranchEntry) -> Result<()> {
        if level >= MAX_TREE_LEVELS {
            return Err(Error::Nesting(format!(
                "tree of bucket {} is deeper than {MAX_TREE_LEVELS} levels",
                self.bucket_path()
            )));
        }
        let size = ELEMENT_SIZE + entry.key.len();
        let levels = &mut self.stack[depth].levels;
        if levels.len() <= level {
            levels.push(PendingPage::new());
        }
        if levels[level].full_for(size, self.threshold) {
            self.flush_branch(depth, level)?;
        }
        self.stack[depth].levels[level].push(entry, size);
        Ok(())
    }

    fn flush_branch(&mut self, depth: usize, level: usize) -> Result<()> {
        let entries = self.stack[depth].levels[level].take();
        encode_branch(&mut self.page_buf, &entries);
        self.summary.branch_pages += 1;
        let first_key = entries.into_iter().next().map(|e| e.key);
        self.write_and_link(depth, level + 1, first_key)
    }

    /// Finishes the bucket at `depth` and returns its value in the parent: a bucket
    /// header, followed by the inline page when the bucket is small enough.
    fn close_bucket(&mut self, depth: usize) -> Result<Vec<u8>> {
        let b = &self.stack[depth];
        let inline = b.leaf_pages == 0 && !b.has_sub_bucket && b.leaf.size <= self.page_size / 4;
        if inline {
            let entries = self.stack[depth].leaf.take();
            let mut value = vec![0u8; BUCKET_HEADER_SIZE];
            put_u64(&mut value, 8, self.stack[depth].sequence);
            let mut page = Vec::new();
            encode_leaf(&mut page, &entries);
            value.extend_from_slice(&page);
            self.summary.inline_buckets += 1;
            return Ok(value);
        }
        let root = self.close_tree(depth)?;
        let mut value = vec![0u8; BUCKET_HEADER_SIZE];
        put_u64(&mut value, 0, root);
        put_u64(&mut value, 8, self.stack[depth].sequence);
        Ok(value)
    }

    /// Writes what is pending in the tree of the bucket at `depth`, bottom up, and
    /// returns its root pgid.
    fn close_tree(&mut self, depth: usize) -> Result<Pgid> {
        let b = &self.stack[depth];
        if !b.leaf.entries.is_empty() || b.leaf_pages == 0 {
            // An empty tree is one empty leaf page, as in a freshly created bbolt file.
            self.flush_leaf(depth)?;
        }
        let mut level = 0;
        loop {
            let levels = &self.stack[depth].levels;
            let Some(l) = levels.get(level) else {
                return Err(Error::Nesting("internal: tree level vanished".into()));
            };
            if level + 1 == levels.len() && l.entries.len() == 1 {
                return Ok(l.entries[0].pgid);
            }
            if l.entries.is_empty() {
                return Err(Error::Nesting("internal: empty tree level".into()));
            }
            self.flush_branch(depth, level)?;
            level += 1;
        }
    }

    /// Writes `page_buf` as the next page(s), filling in its id and overflow.
    fn write_page_buf(&mut self) -> Result<Pgid> {
        let pgid = self.next_pgid;
        let pages = self.page_buf.len().div_ceil(self.page_size).max(1);
        let overflow = u32::try_from(pages - 1)
            .map_err(|_| Error::Options(format!("page {pgid} would span {pages} pages")))?;
        self.page_buf.resize(pages * self.page_size, 0);
        put_u64(&mut self.page_buf, 0, pgid);
        put_u32(&mut self.page_buf, 12, overflow);
        self.out
            .write_all(&self.page_buf)
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                pgid,
                source,
            })?;
        self.next_pgid += pages as u64;
        self.summary.overflow_pages += u64::from(overflow);
        Ok(pgid)
    }
}

/// Encodes a leaf page (id and overflow left 0) into `buf`.
fn encode_leaf(buf: &mut Vec<u8>, entries: &[LeafEntry]) {
    buf.clear();
    let elems_end = PAGE_HEADER_SIZE + ELEMENT_SIZE * entries.len();
    buf.resize(elems_end, 0);
    write_page_header(buf, 0, FLAG_LEAF, entries.len() as u16, 0);
    for (i, e) in entries.iter().enumerate() {
        let elem = PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
        let pos = buf.len() - elem;
        put_u32(buf, elem, e.flags);
        put_u32(buf, elem + 4, pos as u32);
        put_u32(buf, elem + 8, e.key.len() as u32);
        put_u32(buf, elem + 12, e.value.len() as u32);
        buf.extend_from_slice(&e.key);
        buf.extend_from_slice(&e.value);
    }
}

/// Encodes a branch page (id and overflow left 0) into `buf`.
fn encode_branch(buf: &mut Vec<u8>, entries: &[BranchEntry]) {
    buf.clear();
    let elems_end = PAGE_HEADER_SIZE + ELEMENT_SIZE * entries.len();
    buf.resize(elems_end, 0);
    write_page_header(buf, 0, FLAG_BRANCH, entries.len() as u16, 0);
    for (i, e) in entries.iter().enumerate() {
        let elem = PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
        let pos = buf.len() - elem;
        put_u32(buf, elem, pos as u32);
        put_u32(buf, elem + 4, e.key.len() as u32);
        put_u64(buf, elem + 8, e.pgid);
        buf.extend_from_slice(&e.key);
    }
}

fn write_page_header(buf: &mut [u8], id: Pgid, flags: u16, count: u16, overflow: u32) {
    put_u64(buf, 0, id);
    buf[8..10].copy_from_slice(&flags.to_le_bytes());
    buf[10..12].copy_from_slice(&count.to_le_bytes());
    put_u32(buf, 12, overflow);
}

fn put_u32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(buf: &mut [u8], off: usize, v: u64) {
    buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// FNV-1a, 64 bit: the meta page checksum.
pub fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn escape(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(64)];
    let mut s: String = shown.escape_ascii().to_string();
    if bytes.len() > shown.len() {
        s.push('…');
    }
    format!("\"{s}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
