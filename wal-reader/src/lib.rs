//! Reader for etcd's write-ahead log and snapshot files.
//!
//! Everything borrows from the bytes it is given: a [`dir::WalDir`] maps the segments
//! read-only, [`scan::scan_wal`] verifies them in parallel (one rayon task per segment, each
//! seeded by its opening crc record) and then links and replays them in order; records,
//! entries and their data are slices of the mapping. Damage never stops the reader with an
//! error: it becomes a [`Finding`] with the file name and byte offset. Default mode stops
//! at the first damage as etcd would; [`ScanOptions::raw`] reads on and reports every
//! damaged record.
//!
//! Layering: this crate knows etcd's WAL and `.snap` formats and nothing of bbolt.
//!
//! # Example
//!
//! Every entry of a data dir's WAL, as etcd reads it, with its decoded request:
//!
//! ```
//! use wal_reader::{ScanOptions, WalDir};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let wal = WalDir::open_data_dir("../fixtures/k8s/data")?;
//! let scan = wal.scan(ScanOptions::default()); // stops at the first damage, as etcd does
//! for e in &scan.entries {
//!     let summary = e.entry.decoded().summary();
//!     println!("term {} index {}: {summary}", e.entry.term, e.entry.index);
//! }
//! assert!(scan.findings.iter().all(|f| !f.is_damage()));
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod crc;
pub mod dir;
pub mod entry;
pub mod fill;
pub mod finding;
pub mod fuzz;
mod go_isprint_table;
pub mod goquote;
mod map;
pub mod pb;
pub mod record;
pub mod restart;
pub mod scan;
pub mod segment;
pub mod snap;
pub mod text;
pub mod timeline;
pub mod view;
pub mod wire;

pub use dir::{SegmentFile, WalDir};
pub use entry::{DataKind, DecodedEntry, EntryClass, EntryView};
pub use finding::{Finding, FindingKind, Severity};
pub use map::MappedFile;
pub use record::{EntryRef, EntryType, HardState, Metadata, WalSnapshot};
pub use restart::{restart_view, RestartView};
pub use scan::{scan_wal, scan_wal_classifying, scan_wal_with_progress, LogEntry, WalScan};
pub use segment::{scan_segment, Item, ScanOptions, SegmentEnd, SegmentScan};
pub use snap::{SnapDir, SnapFile};
pub use view::MessageView;

use std::path::PathBuf;

/// Errors that stop reading (damage is reported as [`Finding`]s instead).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or mapped.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl Error {
    /// When the path was refused for not being a regular file, what it is instead.
    pub fn not_regular(&self) -> Option<&regular_file::NotRegular> {
        match self {
            Error::Io { source, .. } => regular_file::not_regular(source),
        }
    }
}
