//! Read-only, zero-copy reader and checker for [bbolt] database files, safe on any bytes.
//!
//! bbolt is the B+tree key/value store under etcd (and others). This crate reads its
//! files without writing, locking or copying them: every [`Page`], key and value borrows
//! the bytes it was given, which may be a memory map ([`MappedFile`]), a `Vec<u8>` or a
//! fuzzer's input. It knows nothing of etcd.
//!
//! The reader is built for damaged files. Every offset is bounds-checked, no allocation
//! is sized by a number read from the file, tree descents are bounded in depth and in the
//! number of pages entered, and whole-file walks visit each page at most once. A read that
//! cannot go on returns an [`Error`] naming the page id and offset.
//!
//! # Example
//!
//! Counting the keys of each top-level bucket of any bbolt file:
//!
//! ```
//! use bbolt_reader::MappedFile;
//!
//! # fn main() -> Result<(), bbolt_reader::Error> {
//! let file = MappedFile::open("../fixtures/k8s/data/member/snap/db")?;
//! let db = file.db()?;
//! println!("page size {}, txid {}", db.page_size(), db.meta().txid);
//! for bucket in db.buckets() {
//!     let (name, bucket) = bucket?;
//!     println!("{}: {} keys", name.escape_ascii(), bucket.iter().count());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Reading a file as of the previous transaction (the other meta page):
//!
//! ```no_run
//! use bbolt_reader::{Db, MetaChoice};
//! # fn f(bytes: &[u8]) -> Result<(), bbolt_reader::Error> {
//! let newest = Db::open(bytes)?;
//! let other = if newest.meta_index() == 0 { MetaChoice::Meta1 } else { MetaChoice::Meta0 };
//! let previous = Db::open_with(bytes, other)?;
//! assert!(previous.meta().txid < newest.meta().txid);
//! # Ok(())
//! # }
//! ```
//!
//! Checking a whole file, and bbolt's `Bucket.Stats()` for each top-level bucket:
//!
//! ```no_run
//! # fn f(bytes: &[u8]) -> Result<(), bbolt_reader::Error> {
//! let db = bbolt_reader::Db::open(bytes)?;
//! let walk = bbolt_reader::walk(&db); // one pass: page graph, statistics, findings
//! let stats = walk.bucket_stats();
//! for i in walk.top_level() {
//!     println!("{:?}: {} keys, depth {}", walk.path(i), stats[i].keys, stats[i].depth);
//! }
//! println!("{} free pages", walk.graph.free_count());
//! for finding in bbolt_reader::check::check_walk(&db, &walk).findings {
//!     println!("{finding}"); // e.g. "page 163: cycle: ..."
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Modules
//!
//! - [`meta`], [`page`]: the on-disk structures, with their layouts documented.
//! - [`db`], [`bucket`]: reading: [`Db`], [`Bucket`], [`Cursor`].
//! - [`walk`](mod@walk): the whole-file pass (page graph, owners, free pages) that [`stats`](mod@stats) and
//!   [`check`](mod@check) build on; parallel over leaf pages with rayon, deterministic.
//! - [`finding`]: what is wrong with the file, one page each ([`Finding`], [`FindingKind`]).
//! - [`tree`](mod@tree): the one B+tree descent, damage-tolerant: [`walk_tree`] with a
//!   visitor, [`walk_checked`] (salvage's checks), [`Bucket::leaf_pages`] and [`walk`](mod@walk)
//!   are its users.
//! - [`fuzz`]: the body of the `bbolt_open_walk_check` fuzz target.
//!
//! [bbolt]: https://github.com/etcd-io/bbolt
#![deny(missing_docs)]

pub mod bucket;
pub mod check;
pub mod db;
pub mod error;
pub mod finding;
pub mod fuzz;
pub mod meta;
mod mmap;
pub mod page;
mod raw;
pub mod stats;
pub mod tree;
pub mod walk;

pub use bucket::{Bucket, BucketHeader, Buckets, Cursor, Item, Iter, IterRev};
pub use check::{check, check_bytes, CheckReport};
pub use db::Db;
pub use error::{Error, Result};
pub use finding::{Finding, FindingKind};
pub use meta::{Meta, MetaChoice, MetaProblem, MetaSlot};
pub use mmap::MappedFile;
pub use page::{BranchElement, LeafElement, Page, PageKind};
pub use stats::BucketStats;
pub use tree::{
    walk_checked, walk_tree, CheckedVisitor, Flow, KeyRange, PageDamage, Reached, TreeDamage,
    TreeVisitor,
};
pub use walk::{walk, walk_with_progress, PageGraph, PageUse, Walk};

/// A page id: the page's index in the file (its byte offset divided by the page size).
pub type Pgid = u64;
