//! A WAL segment or `.snap` file mapped read-only: the workspace's one mapped-file type
//! ([`regular_file::MappedFile`]) with the WAL's fallback when the whole file does not fit
//! the address space.

use crate::Error;
use std::fs::File;
use std::path::Path;

/// A file mapped read-only (or empty). Owns the mapping; readers borrow [`MappedFile::bytes`].
#[derive(Debug)]
pub struct MappedFile {
    inner: regular_file::MappedFile,
}

/// Window in which the zero tail of a file is looked for with `pread` (bounded memory).
const TAIL_WINDOW: usize = 1 << 20;

/// Bytes mapped past the last non-zero byte when only the written part of a segment is
/// mapped: a page, so the zero length field that ends the records is inside, plus etcd's
/// record limit, so a frame starting in the written part that etcd could accept ends
/// inside the mapping just as it ends inside the file.
const TAIL_MARGIN: u64 = 4096 + crate::record::MAX_RECORD_BYTES_V34;

impl MappedFile {
    /// Opens and maps `path` read-only. An empty file maps to zero bytes.
    ///
    /// When the whole file cannot be mapped (the address-space limit, `ulimit -v`, is too
    /// low), a file whose tail is zeros (a preallocated WAL segment: etcd allocates 64 MB and
    /// writes records from the front) is mapped only up to its last non-zero byte plus a
    /// page and etcd's 10 MiB record limit: the reader sees the same records and the same
    /// zero length field ending them. Only a damaged frame claiming more than etcd's
    /// record limit can then read differently (as running past the end rather than as too
    /// large; both are damage that etcd refuses at the same offset), and the segment's
    /// `file_len` stays its size on disk. When even that fails, the error names the limit
    /// and how to raise it.
    pub fn open(path: &Path) -> Result<MappedFile, Error> {
        let inner =
            regular_file::MappedFile::open_with_fallback(path, written_len).map_err(|source| {
                Error::Io {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        Ok(MappedFile { inner })
    }

    /// The file's bytes (the mapped part: see [`MappedFile::is_partial`]).
    pub fn bytes(&self) -> &[u8] {
        self.inner.bytes()
    }

    /// Size of the file on disk.
    pub fn file_len(&self) -> u64 {
        self.inner.file_len()
    }

    /// True when only the written part is mapped (the whole file did not fit the address
    /// space); the rest of the file is zeros.
    pub fn is_partial(&self) -> bool {
        self.inner.is_partial()
    }

    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        self.inner.path()
    }

    /// Leave the mapping to process exit when dropped (for short-lived binaries; see
    /// [`regular_file::MappedFile::keep_mapped_after_drop`]).
    pub fn keep_mapped_after_drop(&mut self) {
        self.inner.keep_mapped_after_drop();
    }
}

/// Bytes to map so that everything non-zero (and [`TAIL_MARGIN`] after it) is inside:
/// read backwards from the end in [`TAIL_WINDOW`] windows with `pread`. `None` when the
/// file cannot be read.
fn written_len(file: &File, len: u64) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; TAIL_WINDOW];
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(TAIL_WINDOW as u64);
        let w = &mut buf[..(end - start) as usize];
        file.read_exact_at(w, start).ok()?;
        // Eight bytes a step (the zero tail can be gigabytes); the last non-zero word
        // bounds the written part to within 8 bytes, which the margin covers.
        let last_word = w
            .chunks(8)
            .rposition(|c| c.iter().fold(0u8, |a, &b| a | b) != 0);
        if let Some(i) = last_word {
            let last = start + (i as u64 + 1) * 8;
            return Some(last.saturating_add(TAIL_MARGIN).min(len));
        }
        end = start;
    }
    Some(TAIL_MARGIN.min(len))
}
