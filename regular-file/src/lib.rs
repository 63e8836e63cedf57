//! The one way the readers open an input file.
//!
//! A data directory handed to an offline tool may hold anything under a file's name: a
//! directory, a FIFO (whose `open` for reading blocks until a writer appears), a link to
//! `/dev/zero` (endless bytes, no size), a link to itself. [`open_regular`] accepts only a
//! regular file:
//!
//! 1. it follows at most [`MAX_LINKS`] symbolic links itself, so a loop or a long chain is
//!    named as such instead of surfacing as a bare `ELOOP`;
//! 2. it requires the final target to be a regular file and says what it is otherwise;
//! 3. it opens with `O_NONBLOCK`, so a FIFO swapped in after the type check cannot block
//!    the open, and `O_NOCTTY`;
//! 4. it checks the type again on the open descriptor (`fstat`), which is what is read.
//!
//! Refusals are `std::io::Error`s of kind `InvalidInput` wrapping a [`NotRegular`], so the
//! callers' error types need no new variant and can still tell a refusal from an I/O error
//! with [`not_regular`].
#![deny(missing_docs)]

mod map;
pub use map::MappedFile;

use std::fs::{File, Metadata, OpenOptions};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Symbolic links followed before giving up (Linux itself allows 40; etcd data directories
/// have none or one).
pub const MAX_LINKS: usize = 8;

/// What a path turned out to be instead of a regular file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotRegular {
    /// A directory.
    Directory,
    /// A FIFO (named pipe).
    Fifo,
    /// A character device (e.g. `/dev/zero`).
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A Unix socket.
    Socket,
    /// More than [`MAX_LINKS`] symbolic links, or a link that leads back to itself.
    LinkLoop {
        /// Links followed before giving up.
        hops: usize,
    },
    /// A symbolic link whose target does not exist.
    DanglingLink {
        /// The missing target.
        target: PathBuf,
    },
    /// Something else (unknown file type).
    Other,
}

impl NotRegular {
    /// A short stable name (`directory`, `fifo`, `char_device`, ...), for JSON and findings.
    pub fn as_str(&self) -> &'static str {
        match self {
            NotRegular::Directory => "directory",
            NotRegular::Fifo => "fifo",
            NotRegular::CharDevice => "char_device",
            NotRegular::BlockDevice => "block_device",
            NotRegular::Socket => "socket",
            NotRegular::LinkLoop { .. } => "link_loop",
            NotRegular::DanglingLink { .. } => "dangling_link",
            NotRegular::Other => "other",
        }
    }

    fn of(meta: &Metadata) -> Option<NotRegular> {
        let t = meta.file_type();
        Some(if t.is_file() {
            return None;
        } else if t.is_dir() {
            NotRegular::Directory
        } else if t.is_fifo() {
            NotRegular::Fifo
        } else if t.is_char_device() {
            NotRegular::CharDevice
        } else if t.is_block_device() {
            NotRegular::BlockDevice
        } else if t.is_socket() {
            NotRegular::Socket
        } else {
            NotRegular::Other
        })
    }
}

impl std::fmt::Display for NotRegular {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotRegular::Directory => write!(f, "is a directory, not a regular file"),
            NotRegular::Fifo => write!(f, "is a FIFO (named pipe), not a regular file"),
            NotRegular::CharDevice => write!(f, "is a character device, not a regular file"),
            NotRegular::BlockDevice => write!(f, "is a block device, not a regular file"),
            NotRegular::Socket => write!(f, "is a socket, not a regular file"),
            NotRegular::LinkLoop { hops } => write!(
                f,
                "is a symbolic link loop (more than {hops} links followed), not a regular file"
            ),
            NotRegular::DanglingLink { target } => write!(
                f,
                "is a symbolic link to {}, which does not exist",
                target.display()
            ),
            NotRegular::Other => write!(f, "is not a regular file"),
        }
    }
}

impl std::error::Error for NotRegular {}

fn refuse(what: NotRegular, via: Option<&Path>) -> std::io::Error {
    // Name the link target, so "db links to /dev/zero" is visible.
    let target = via.map(Path::to_path_buf);
    std::io::Error::new(std::io::ErrorKind::InvalidInput, Refusal { what, target })
}

/// The error carried inside the `io::Error`: what the path is, and the link target it
/// resolved to when it was a link.
#[derive(Debug)]
struct Refusal {
    what: NotRegular,
    target: Option<PathBuf>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.target {
            Some(t) => write!(f, "links to {}, which {}", t.display(), self.what),
            None => write!(f, "{}", self.what),
        }
    }
}

impl std::error::Error for Refusal {}

/// When `e` came from [`open_regular`] refusing a path, what the path is.
pub fn not_regular(e: &std::io::Error) -> Option<&NotRegular> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Refusal>())
        .map(|r| &r.what)
}

/// Follows at most [`MAX_LINKS`] symbolic links from `path`; returns the final path (when
/// a link was followed) and its metadata. Does not open anything.
fn follow(path: &Path) -> std::io::Result<(Option<PathBuf>, Metadata)> {
    let mut cur = path.to_path_buf();
    let mut followed = None;
    for _ in 0..=MAX_LINKS {
        let meta = match std::fs::symlink_metadata(&cur) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && followed.is_some() => {
                return Err(refuse(NotRegular::DanglingLink { target: cur }, None));
            }
            Err(e) => return Err(e),
        };
        if !meta.file_type().is_symlink() {
            return Ok((followed, meta));
        }
        let link = std::fs::read_link(&cur)?;
        cur = match cur.parent() {
            Some(dir) if link.is_relative() => dir.join(link),
            _ => link,
        };
        followed = Some(cur.clone());
    }
    Err(refuse(NotRegular::LinkLoop { hops: MAX_LINKS }, None))
}

/// What `path` is when it is not a regular file (after at most [`MAX_LINKS`] links);
/// `None` for a regular file or a path that cannot be examined (missing, no permission).
pub fn inspect(path: &Path) -> Option<NotRegular> {
    match follow(path) {
        Ok((_, meta)) => NotRegular::of(&meta),
        Err(e) => not_regular(&e).cloned(),
    }
}

/// Opens `path` read-only if, after at most [`MAX_LINKS`] symbolic links, it is a regular
/// file. See the crate docs for the steps; a refusal is an `InvalidInput` error whose
/// message says what the path is (see [`not_regular`]).
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    let (target, meta) = follow(path)?;
    if let Some(what) = NotRegular::of(&meta) {
        return Err(refuse(what, target.as_deref()));
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)?;
    // The path may have been swapped between the check and the open: what counts is the
    // descriptor.
    let meta = file.metadata()?;
    if let Some(what) = NotRegular::of(&meta) {
        return Err(refuse(what, None));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("regular-file-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_regular_file_and_a_link_to_one_open() {
        let d = tmp("regular");
        std::fs::write(d.join("f"), b"x").unwrap();
        std::os::unix::fs::symlink("f", d.join("l")).unwrap();
        assert!(open_regular(&d.join("f")).is_ok());
        assert!(open_regular(&d.join("l")).is_ok());
        assert_eq!(inspect(&d.join("l")), None);
    }

    #[test]
    fn a_directory_a_device_and_a_self_link_are_refused_by_name() {
        let d = tmp("refused");
        let e = open_regular(&d).unwrap_err();
        assert_eq!(not_regular(&e), Some(&NotRegular::Directory));
        std::os::unix::fs::symlink("/dev/zero", d.join("zero")).unwrap();
        let e = open_regular(&d.join("zero")).unwrap_err();
        assert_eq!(not_regular(&e), Some(&NotRegular::CharDevice));
        assert!(e.to_string().contains("/dev/zero"), "{e}");
        std::os::unix::fs::symlink("self", d.join("self")).unwrap();
        let e = open_regular(&d.join("self")).unwrap_err();
        assert_eq!(
            not_regular(&e),
            Some(&NotRegular::LinkLoop { hops: MAX_LINKS })
        );
        std::os::unix::fs::symlink("missing", d.join("dangling")).unwrap();
        assert!(matches!(
            inspect(&d.join("dangling")),
            Some(NotRegular::DanglingLink { .. })
        ));
        // A missing path is an ordinary I/O error, not a refusal.
        let e = open_regular(&d.join("nothing")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        assert!(not_regular(&e).is_none());
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let d = tmp("fifo");
        let p = d.join("pipe");
        // std has no mkfifo; the coreutils tool makes one without unsafe code.
        let st = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap();
        assert!(st.success());
        let e = open_regular(&p).unwrap_err();
        assert_eq!(not_regular(&e), Some(&NotRegular::Fifo));
    }
}
