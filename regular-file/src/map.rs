//! The workspace's one memory map of an input file: read-only, of a regular file only
//! ([`crate::open_regular`]), with a bounded fallback when the whole file does not fit the
//! address space. The readers wrap it: bbolt-reader maps a db below its high-water mark,
//! wal-reader a segment up to its zero tail.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
    /// The open descriptor, kept for read-ahead advice (read-only, never locked).
    file: Option<File>,
    /// Set when dropped: tells a read-ahead thread to stop.
    stop_read_ahead: Arc<AtomicBool>,
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
            file: Some(file),
            stop_read_ahead: Arc::new(AtomicBool::new(false)),
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

    /// Tells the kernel the whole file is about to be read (`madvise(MADV_SEQUENTIAL)`),
    /// and, when the file is not in the page cache yet, has it read in from a background
    /// thread: `posix_fadvise(POSIX_FADV_WILLNEED)` over one 8 MiB chunk after another,
    /// front to back. The kernel caps one WILLNEED call at its read-ahead window (a single
    /// call over the whole file reads a few MiB), so the chunks are what keep the device's
    /// queue full while the reader works; nothing is copied. Only for callers that do read
    /// every page. Skipped when sampled pages show the file already cached, and when the
    /// file is larger than half the memory the kernel reports available (it would evict
    /// its own first chunks). Advice that fails changes nothing, so errors are ignored.
    pub fn advise_sequential_read(&self) {
        let Some(m) = &self.map else { return };
        let _ = m.advise(memmap2::Advice::Sequential);
        let len = m.len() as u64;
        if len < READ_AHEAD_MIN || mostly_resident(m) {
            return;
        }
        match mem_available() {
            Some(avail) if len <= avail / 2 => {}
            _ => return,
        }
        let Some(file) = self.file.as_ref().and_then(|f| f.try_clone().ok()) else {
            return;
        };
        let stop = Arc::clone(&self.stop_read_ahead);
        let _ = std::thread::Builder::new()
            .name("read-ahead".into())
            .spawn(move || {
                let mut at = 0u64;
                while at < len && !stop.load(Ordering::Relaxed) {
                    let n = READ_AHEAD_CHUNK.min(len - at);
                    if !will_need(&file, at, n) {
                        break;
                    }
                    at += n;
                }
            });
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
        self.stop_read_ahead.store(true, Ordering::Relaxed);
        if self.keep {
            if let Some(m) = self.map.take() {
                std::mem::forget(m);
            }
        }
    }
}

/// Files smaller than this are left to the kernel's own read-ahead.
const READ_AHEAD_MIN: u64 = 64 << 20;
/// One read-ahead request (the kernel splits it into its own window-sized reads).
const READ_AHEAD_CHUNK: u64 = 8 << 20;
/// Pages sampled, evenly spread, to tell whether a file is already cached.
const RESIDENCY_SAMPLES: usize = 64;

/// True when at least 7 in 8 of [`RESIDENCY_SAMPLES`] pages spread over `m` are in the page
/// cache (`mincore`), or residency cannot be asked: read-ahead would only cost CPU.
fn mostly_resident(m: &memmap2::Mmap) -> bool {
    let page = page_size();
    let pages = m.len() / page;
    if pages == 0 {
        return true;
    }
    let mut resident = 0;
    for i in 0..RESIDENCY_SAMPLES {
        let at = (pages - 1) * i / (RESIDENCY_SAMPLES - 1).max(1) * page;
        match page_resident(m, at) {
            Some(true) => resident += 1,
            Some(false) => {}
            None => return true,
        }
    }
    resident * 8 >= RESIDENCY_SAMPLES * 7
}

/// The system's page size (4 KiB when it cannot be asked).
#[allow(unsafe_code)]
fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions; a failure returns -1, handled below.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

/// Whether the page at byte `at` of `m` (a multiple of the page size) is cached.
#[allow(unsafe_code)]
fn page_resident(m: &memmap2::Mmap, at: usize) -> Option<bool> {
    if at >= m.len() {
        return None;
    }
    let mut v = [0u8; 1];
    // SAFETY: the address is page-aligned (the mapping starts on a page and `at` is a
    // multiple of the page size) and inside the live mapping `m`, which the borrow keeps
    // alive; one page needs one byte of `v`. mincore only reads page-table state.
    let r = unsafe { libc::mincore(m.as_ptr().add(at) as *mut libc::c_void, 1, v.as_mut_ptr()) };
    (r == 0).then_some(v[0] & 1 == 1)
}

/// `MemAvailable` of /proc/meminfo, in bytes.
fn mem_available() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// `posix_fadvise(WILLNEED)` on `n` bytes at `at`; false when the kernel refuses it.
#[allow(unsafe_code)]
fn will_need(file: &File, at: u64, n: u64) -> bool {
    use std::os::fd::AsRawFd;
    let (Ok(off), Ok(len)) = (libc::off_t::try_from(at), libc::off_t::try_from(n)) else {
        return false;
    };
    // SAFETY: plain syscall on a descriptor `file` keeps open; it reads no user memory.
    unsafe { libc::posix_fadvise(file.as_raw_fd(), off, len, libc::POSIX_FADV_WILLNEED) == 0 }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn big_file(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("regular-file-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join(name);
        let f = File::create(&p).unwrap();
        // Written, not sparse: holes are never "resident".
        let chunk = vec![0x5au8; 1 << 20];
        for _ in 0..(READ_AHEAD_MIN >> 20) + 1 {
            std::io::Write::write_all(&mut &f, &chunk).unwrap();
        }
        f.sync_all().unwrap();
        p
    }

    /// Drops `f`'s clean pages from the page cache; false when its file system keeps
    /// them (tmpfs pages live only in memory).
    #[allow(unsafe_code)]
    fn evict(f: &File) -> bool {
        use std::os::fd::AsRawFd;
        // SAFETY: plain syscalls on an open descriptor; fstatfs writes only into `st`.
        let (r, st) = unsafe {
            let mut st: libc::statfs = std::mem::zeroed();
            let ok = libc::fstatfs(f.as_raw_fd(), &mut st) == 0;
            let r = libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
            (r, ok.then_some(st))
        };
        assert_eq!(r, 0);
        const TMPFS_MAGIC: i64 = 0x0102_1994;
        // f_type's integer type differs between targets.
        #[allow(clippy::unnecessary_cast)]
        let tmpfs = st.is_some_and(|st| st.f_type as i64 == TMPFS_MAGIC);
        !tmpfs
    }

    #[test]
    fn residency_sampling_tells_a_cached_file_from_an_evicted_one() {
        let p = big_file("residency");
        let m = MappedFile::open(&p).unwrap();
        let map = m.map.as_ref().unwrap();
        // Just written: its pages are cached, so no read-ahead thread would start.
        assert!(mostly_resident(map));
        // Written back (sync_all) and dropped from the cache: one would. On tmpfs the
        // pages cannot be dropped and stay resident.
        let evicted = evict(m.file.as_ref().unwrap());
        assert_eq!(mostly_resident(map), !evicted);
        assert!(will_need(m.file.as_ref().unwrap(), 0, READ_AHEAD_CHUNK));
        drop(m);
        let _ = std::fs::remove_dir_all(p.parent().unwrap());
    }

    #[test]
    fn an_evicted_file_read_while_read_ahead_runs_reads_the_same_bytes() {
        let p = big_file("read-ahead");
        let m = MappedFile::open(&p).unwrap();
        let _ = evict(m.file.as_ref().unwrap());
        m.advise_sequential_read();
        assert!(m.bytes().iter().all(|&b| b == 0x5a));
        assert_eq!(m.bytes().len() as u64, m.file_len());
        drop(m);
        let _ = std::fs::remove_dir_all(p.parent().unwrap());
    }

    #[test]
    fn read_ahead_is_not_started_for_small_files_and_memory_is_read_from_proc() {
        let d = std::env::temp_dir().join(format!("regular-file-small-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("small");
        std::fs::write(&p, vec![1u8; 1 << 16]).unwrap();
        let m = MappedFile::open(&p).unwrap();
        m.advise_sequential_read();
        assert_eq!(m.bytes().len(), 1 << 16);
        assert!(mem_available().is_some_and(|n| n > 0));
        assert!(page_size().is_power_of_two());
        let _ = std::fs::remove_dir_all(&d);
    }
}
