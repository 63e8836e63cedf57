//! Opening a file by path: a read-only memory map of a regular file, the workspace's one
//! mapped-file type ([`regular_file::MappedFile`], which refuses directories, FIFOs,
//! devices and link loops before anything is mapped) with bbolt's fallback when the whole
//! file does not fit the address space.
//!
//! Mapping a file is unsafe in Rust because another process could change the file while it
//! is mapped (the `unsafe` lives in regular-file). The rest of the crate never trusts the
//! bytes anyway (every offset is checked), so a changing file can give wrong answers but
//! cannot make the reader touch memory outside the mapping.

use crate::db::Db;
use crate::error::{Error, Result};
use crate::meta::MetaChoice;
use std::fs::File;
use std::path::{Path, PathBuf};

/// A bbolt file mapped read-only. Owns the mapping; [`MappedFile::db`] borrows it.
#[derive(Debug)]
pub struct MappedFile {
    inner: regular_file::MappedFile,
}

/// Bytes read to find the metas when the whole file cannot be mapped: both meta pages at
/// the page sizes bbolt uses (4, 16 or 64 KiB).
const META_PROBE: u64 = 2 * 65536;

impl MappedFile {
    /// Opens `path` read-only and maps it. No lock is taken, so a running bbolt user is
    /// never blocked (and may change the file under the reader: see the module docs).
    ///
    /// Out of address space (ulimit -v, 32-bit): everything bbolt uses lies below the
    /// high-water mark, so a file extended past it (sparse or preallocated) is still
    /// readable through a mapping of that part alone.
    pub fn open(path: impl AsRef<Path>) -> Result<MappedFile> {
        let path: PathBuf = path.as_ref().to_path_buf();
        let inner = regular_file::MappedFile::open_with_fallback(&path, high_water_bytes).map_err(
            |source| Error::Io {
                path: path.clone(),
                source,
            },
        )?;
        Ok(MappedFile { inner })
    }

    /// Tells the kernel the whole file is about to be read, and on a cold cache has it
    /// read in by a background thread while the reader works (see
    /// [`regular_file::MappedFile::advise_sequential_read`]). Only for callers that do read
    /// every page; advice that fails changes nothing, so errors are ignored.
    pub fn advise_sequential_read(&self) {
        self.inner.advise_sequential_read();
    }

    /// When dropped, leave the mapping to process exit instead of unmapping it: a
    /// short-lived process tearing down a large mapping by hand pays for it twice (the
    /// unmap, and on a threaded process the other cores' TLB shootdowns), while exit frees
    /// the whole address space at once. For binaries, not for long-lived library users.
    pub fn keep_mapped_after_drop(&mut self) {
        self.inner.keep_mapped_after_drop();
    }

    /// Size of the file on disk.
    pub fn file_len(&self) -> u64 {
        self.inner.file_len()
    }

    /// True when only the part below the high-water mark is mapped (the whole file did
    /// not fit the address space); [`MappedFile::bytes`] is then shorter than the file.
    pub fn is_partial(&self) -> bool {
        self.inner.is_partial()
    }

    /// The path that was opened.
    pub fn path(&self) -> &Path {
        self.inner.path()
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.inner.bytes()
    }

    /// Opens the mapped bytes as a bbolt database (newest valid meta).
    pub fn db(&self) -> Result<Db<'_>> {
        Db::open(self.bytes())
    }

    /// Opens the mapped bytes with a chosen meta page.
    pub fn db_with(&self, choice: MetaChoice) -> Result<Db<'_>> {
        Db::open_with(self.bytes(), choice)
    }
}

/// Bytes up to the larger high-water mark of the valid metas, read with `pread` (no
/// mapping); `None` when no meta is valid.
fn high_water_bytes(file: &File, len: u64) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    let mut head = vec![0u8; usize::try_from(len.min(META_PROBE)).ok()?];
    file.read_exact_at(&mut head, 0).ok()?;
    let (page_size, metas) = crate::meta::read_metas(&head)?;
    metas
        .iter()
        .filter_map(|m| m.valid())
        .map(|m| m.high_water_mark.saturating_mul(page_size as u64))
        .max()
}
