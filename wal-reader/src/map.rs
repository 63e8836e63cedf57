//! The one place with `unsafe`: mapping a file read-only.

use crate::Error;
use std::path::{Path, PathBuf};

/// A file mapped read-only (or empty). Owns the mapping; readers borrow [`MappedFile::bytes`].
#[derive(Debug)]
pub struct MappedFile {
    path: PathBuf,
    map: Option<memmap2::Mmap>,
}

impl MappedFile {
    /// Opens and maps `path` read-only. An empty file maps to zero bytes.
    pub fn open(path: &Path) -> Result<MappedFile, Error> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = regular_file::open_regular(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len == 0 {
            return Ok(MappedFile {
                path: path.to_path_buf(),
                map: None,
            });
        }
        // SAFETY: the file is opened read-only and the map is never written through. If
        // another process changed the file while we read it, we could see changing bytes,
        // but every reader in this crate bounds-checks each offset against the slice it
        // holds, so changing contents give wrong findings at worst, never an access outside
        // the mapping. A file truncated under us could raise SIGBUS; etcd must be stopped.
        // Not populated up front: a segment is read once, front to back, and the kernel's
        // fault-around maps cached pages in batches as the scan reaches them; populating
        // every 64 MB segment first measured slower (benches/wal.rs: verify + decode
        // 143-147 ms unpopulated vs 232-237 ms populated on the 384 MB corpus).
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::MmapOptions::new().map(&file) }.map_err(io)?;
        Ok(MappedFile {
            path: path.to_path_buf(),
            map: Some(map),
        })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
