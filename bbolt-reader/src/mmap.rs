//! Opening a file by path: a read-only memory map of a regular file (`regular_file`
//! refuses directories, FIFOs, devices and link loops before anything is mapped).
//!
//! This is the only module of the crate with `unsafe` code: mapping a file is unsafe in
//! Rust because another process could change the file while it is mapped. The rest of the
//! crate never trusts the bytes anyway (every offset is checked), so a changing file can
//! give wrong answers but cannot make the reader touch memory outside the mapping.

use crate::db::Db;
use crate::error::{Error, Result};
use crate::meta::MetaChoice;
use memmap2::Mmap;
use std::fs::File;
use std::path::{Path, PathBuf};

/// A bbolt file mapped read-only. Owns the mapping; [`MappedFile::db`] borrows it.
#[derive(Debug)]
pub struct MappedFile {
    path: PathBuf,
    map: Option<Mmap>,
    /// Leave the mapping in place when dropped (see [`MappedFile::keep_mapped_after_drop`]).
    keep: bool,
    /// Size of the file on disk (more than the mapping when it [`is_partial`](Self::is_partial)).
    file_len: u64,
}

/// Bytes read to find the metas when the whole file cannot be mapped: both meta pages at
/// the page sizes bbolt uses (4, 16 or 64 KiB).
const META_PROBE: u64 = 2 * 65536;

impl MappedFile {
    /// Opens `path` read-only and maps it. No lock is taken, so a running bbolt user is
    /// never blocked (and may change the file under the reader: see the module docs).
    pub fn open(path: impl AsRef<Path>) -> Result<MappedFile> {
        let path = path.as_ref().to_path_buf();
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let file = regular_file::open_regular(&path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        // An empty file cannot be mapped on Linux; it is simply zero bytes.
        let map = if len == 0 {
            None
        } else {
            match map_read_only(&file, None) {
                Ok(m) => Some(m),
                // Out of address space (ulimit -v, 32-bit): everything bbolt uses lies below
                // the high-water mark, so a file extended past it (sparse or preallocated)
                // is still readable through a mapping of that part alone.
                Err(e) => match high_water_bytes(&file, len) {
                    Some(need) if need < len => Some(
                        map_read_only(&file, Some(need))
                            .map_err(|e2| io(address_space_error(len, need, e2)))?,
                    ),
                    _ => return Err(io(address_space_error(len, len, e))),
                },
            }
        };
        Ok(MappedFile {
            path,
            map,
            keep: false,
            file_len: len,
        })
    }

    /// Tells the kernel the whole file is about to be read front to back
    /// (`madvise(MADV_SEQUENTIAL)` and `MADV_WILLNEED`): on a cold cache it reads ahead in
    /// large requests while the reader works. Only for callers that do read every page;
    /// advice that fails changes nothing, so errors are ignored.
    pub fn advise_sequential_read(&self) {
        if let Some(m) = &self.map {
            let _ = m.advise(memmap2::Advice::Sequential);
            let _ = m.advise(memmap2::Advice::WillNeed);
        }
    }

    /// When dropped, leave the mapping to process exit instead of unmapping it: a
    /// short-lived process tearing down a large mapping by hand pays for it twice (the
    /// unmap, and on a threaded process the other cores' TLB shootdowns), while exit frees
    /// the whole address space at once. For binaries, not for long-lived library users.
    pub fn keep_mapped_after_drop(&mut self) {
        self.keep = true;
    }

    /// Size of the file on disk.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// True when only the part below the high-water mark is mapped (the whole file did
    /// not fit the address space); [`MappedFile::bytes`] is then shorter than the file.
    pub fn is_partial(&self) -> bool {
        (self.bytes().len() as u64) < self.file_len
    }

    /// The path that was opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
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

impl Drop for MappedFile {
    fn drop(&mut self) {
        if self.keep {
            if let Some(m) = self.map.take() {
                std::mem::forget(m);
            }
        }
    }
}

/// Maps `file` read-only.
///
/// # Safety argument
/// `Mmap::map` is unsafe because the mapped bytes may change if the file is modified by
/// anyone while mapped. The file is opened read-only here and the map is never written;
/// readers of this crate bounds-check every access, so modified contents can only yield
/// wrong results or errors, never out-of-bounds reads.
#[allow(unsafe_code)]
fn map_read_only(file: &File, len: Option<u64>) -> std::io::Result<Mmap> {
    let mut o = memmap2::MmapOptions::new();
    if let Some(n) = len {
        let n = usize::try_from(n)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::OutOfMemory))?;
        o.len(n);
    }
    // SAFETY: see the function's documentation above.
    unsafe { o.map(file) }
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

/// The error when a mapping of `need` bytes of a `len`-byte file fails: names the limit.
fn address_space_error(len: u64, need: u64, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(
        e.kind(),
        format!(
            "cannot map {need} bytes of this {len}-byte file read-only ({e}): the process address-space limit is too low; raise it (e.g. `ulimit -v unlimited`, or a larger `ulimit -v` in KiB) and run again"
        ),
    )
}
