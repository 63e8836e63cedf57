//! The workspace's one memory map of an input file: read-only, of a regular file only
//! ([`crate::open_regular`]), with a bounded fallback when the whole file does not fit the
//! address space. The readers wrap it: bbolt-reader maps a db below its high-water mark,
//! wal-reader a segment up to its zero tail.

use std::fs::File;
use std::path::{Path, PathBuf};

/// A regular file mapped read-only (or empty). Owns the mapping; readers borrow
/// [`MappedFile::bytes`].
#[derive(Debug)]
pub struct MappedFile {
    path: PathBuf,
    map: Option<memmap2::Mmap>,
    /// Size of the file on disk (more than the mapping when it [`is_partial`](Self::is_partial)).
    file_len: u64,
    /// Leave the mapping in place when dropped (see [`MappedFile::keep_mapped_after_drop`]).
    keep: bool,
}

impl MappedFile {
    /// Opens `path` (a regular file, or it is refused) read-only and maps all of it. No
    /// lock is taken. An empty file maps to zero bytes.
    pub fn open(path: &Path) -> std::io::Result<MappedFile> {
        Self::open_with_fallback(path, |_, _| None)
    }

    /// As [`MappedFile::open`]; when the whole file cannot be mapped (out of address
    /// space: `ulimit -v`, a 32-bit process), `fallback(file, len)` may name a shorter
    /// prefix that holds everything the format uses, and that prefix alone is mapped. When
    /// there is none, or it does not map either, the error names the address-space limit
    /// and how to raise it.
    pub fn open_with_fallback(
        path: &Path,
        fallback: impl FnOnce(&File, u64) -> Option<u64>,
    ) -> std::io::Result<MappedFile> {
        let file = crate::open_regular(path)?;
        let len = file.metadata()?.len();
        // An empty file cannot be mapped on Linux; it is simply zero bytes.
        let map = if len == 0 {
            None
        } else {
            match map_read_only(&file, None) {
                Ok(m) => Some(m),
                Err(e) => match fallback(&file, len) {
                    Some(need) if need < len => Some(
                        map_read_only(&file, Some(need))
                            .map_err(|e2| address_space_error(len, need, e2))?,
                    ),
                    _ => return Err(address_space_error(len, len, e)),
                },
            }
        };
        Ok(MappedFile {
            path: path.to_path_buf(),
            map,
            file_len: len,
            keep: false,
        })
    }

    /// The mapped bytes (all of the file unless [`MappedFile::is_partial`]).
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// Size of the file on disk.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// True when only a prefix is mapped (the whole file did not fit the address space).
    pub fn is_partial(&self) -> bool {
        (self.bytes().len() as u64) < self.file_len
    }

    /// The path that was opened.
    pub fn path(&self) -> &Path {
        &self.path
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

/// Maps `file` (its first `len` bytes, or all of it) read-only.
///
/// # Safety argument
/// `Mmap::map` is unsafe because the mapped bytes may change if the file is modified by
/// anyone while mapped. The file is opened read-only here and the map is never written;
/// the readers bounds-check every access, so modified contents can only yield wrong
/// results or errors, never out-of-bounds reads. A file truncated under the reader could
/// raise SIGBUS; the tools are for stopped members.
///
/// Not populated up front: a reader walks the file once, and the kernel's fault-around
/// maps cached pages in batches as it goes; populating a 64 MB WAL segment first measured
/// slower (benches/wal.rs: verify + decode 143-147 ms unpopulated vs 232-237 ms populated
/// on the 384 MB corpus).
#[allow(unsafe_code)]
fn map_read_only(file: &File, len: Option<u64>) -> std::io::Result<memmap2::Mmap> {
    let mut o = memmap2::MmapOptions::new();
    if let Some(n) = len {
        let n = usize::try_from(n)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::OutOfMemory))?;
        o.len(n);
    }
    // SAFETY: see the function's documentation above.
    unsafe { o.map(file) }
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
