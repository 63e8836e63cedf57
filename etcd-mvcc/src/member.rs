//! What the user pointed us at, and read-only access to it.
//!
//! Wherever a command expects a DB it accepts any of:
//! - a data directory (`<dir>/member/snap/db`),
//! - a `member/` directory (`<dir>/snap/db`),
//! - a bare bbolt file,
//! - a file written by `etcdctl snapshot save`: a bbolt file followed by a 32-byte SHA-256
//!   of everything before it, recognised as etcd does by `size % 512 == 32`.
//!
//! Files are opened read-only and mapped; no lock is taken, so a running etcd is never
//! blocked. Whether a member still runs is detected by reading `/proc/locks` (see
//! [`live_lock_holders`]), which takes no lock either.

use crate::error::{Error, Result};
use bbolt_reader::MappedFile;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Size of the SHA-256 trailer `etcdctl snapshot save` appends.
pub const SHA256_TRAILER_LEN: usize = 32;

/// How the path given on the command line was understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// A data directory with a `member/` below it.
    DataDir,
    /// The `member/` directory itself.
    MemberDir,
    /// A bbolt file (a member's `snap/db` or any other).
    DbFile,
    /// A bbolt file with the SHA-256 trailer of `etcdctl snapshot save`.
    SnapshotFile,
}

/// The files of one member, as far as they exist.
#[derive(Debug, Clone)]
pub struct Member {
    /// What the user named.
    pub given: PathBuf,
    /// How it was understood.
    pub kind: InputKind,
    /// The bbolt file.
    pub db: Option<PathBuf>,
    /// `member/wal`, when the input is a directory.
    pub wal_dir: Option<PathBuf>,
    /// `member/snap`, when the input is a directory.
    pub snap_dir: Option<PathBuf>,
}

/// Understands `path` as a data dir, member dir, db file or snapshot file.
pub fn resolve(path: &Path) -> Result<Member> {
    let meta = std::fs::metadata(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    if meta.is_dir() {
        let (kind, member) = if path.join("member").is_dir() {
            (InputKind::DataDir, path.join("member"))
        } else if path.join("snap").is_dir() || path.join("wal").is_dir() {
            (InputKind::MemberDir, path.to_path_buf())
        } else if path.file_name().is_some_and(|n| n == "wal") {
            // A WAL directory alone: no db.
            return Ok(Member {
                given: path.to_path_buf(),
                kind: InputKind::MemberDir,
                db: None,
                wal_dir: Some(path.to_path_buf()),
                snap_dir: None,
            });
        } else {
            return Err(Error::input(
                path,
                "is a directory but has neither member/ nor snap/ or wal/ below it: not an etcd data directory",
            ));
        };
        let db = member.join("snap").join("db");
        let wal = member.join("wal");
        let snap = member.join("snap");
        // Any file named db counts, whatever its type: a db that is a directory, FIFO or
        // link loop is damage (etcd cannot open it), not a member without a db.
        let db_present = db.symlink_metadata().is_ok();
        return Ok(Member {
            given: path.to_path_buf(),
            kind,
            db: db_present.then_some(db),
            wal_dir: wal.is_dir().then_some(wal),
            snap_dir: snap.is_dir().then_some(snap),
        });
    }
    let kind = if meta.len() % 512 == SHA256_TRAILER_LEN as u64 {
        InputKind::SnapshotFile
    } else {
        InputKind::DbFile
    };
    Ok(Member {
        given: path.to_path_buf(),
        kind,
        db: Some(path.to_path_buf()),
        wal_dir: None,
        snap_dir: None,
    })
}

/// A read-only mapping of a bbolt file, with the snapshot trailer split off.
#[derive(Debug)]
pub struct DbImage {
    /// The file that was mapped.
    pub path: PathBuf,
    /// How the input was understood.
    pub kind: InputKind,
    file: MappedFile,
    /// Length of the bbolt part (the whole file, less a SHA-256 trailer if present).
    db_len: usize,
}

impl DbImage {
    /// Resolves `path` (data dir, member dir, db or snapshot file) and maps its db read-only.
    pub fn open(path: &Path) -> Result<Self> {
        let member = resolve(path)?;
        let Some(db) = member.db.clone() else {
            return Err(Error::input(
                path,
                "no bbolt db found (expected member/snap/db)",
            ));
        };
        Self::open_file(&db, member.kind)
    }

    /// Maps one file read-only; `kind` says whether to expect a trailer.
    pub fn open_file(path: &Path, kind: InputKind) -> Result<Self> {
        // The mapping (and its one `unsafe` block) belongs to the bbolt reader.
        let file = MappedFile::open(path).map_err(|e| match e {
            bbolt_reader::Error::Io { path, source } => Error::Io { path, source },
            other => Error::input(path, other.to_string()),
        })?;
        // The size on disk decides the kind; when only the part below the high-water mark
        // could be mapped, the trailer (at the end of the file) is not in the mapping.
        let len = usize::try_from(file.file_len()).unwrap_or(usize::MAX);
        let kind = if kind == InputKind::SnapshotFile || len % 512 == SHA256_TRAILER_LEN {
            InputKind::SnapshotFile
        } else {
            kind
        };
        let db_len = if kind == InputKind::SnapshotFile {
            len.saturating_sub(SHA256_TRAILER_LEN)
        } else {
            len
        }
        .min(file.bytes().len());
        Ok(DbImage {
            path: path.to_path_buf(),
            kind,
            file,
            db_len,
        })
    }

    /// See [`MappedFile::advise_sequential_read`]: for callers that read the whole file.
    pub fn advise_sequential_read(&self) {
        self.file.advise_sequential_read();
    }

    /// See [`MappedFile::keep_mapped_after_drop`]: for short-lived binaries.
    pub fn keep_mapped_after_drop(&mut self) {
        self.file.keep_mapped_after_drop();
    }

    /// The bbolt bytes (without any snapshot trailer).
    pub fn bytes(&self) -> &[u8] {
        self.file.bytes().get(..self.db_len).unwrap_or_default()
    }

    /// The size of the file on disk, trailer included.
    pub fn file_len(&self) -> u64 {
        self.file.file_len()
    }

    /// The whole file, trailer included.
    pub fn file_bytes(&self) -> &[u8] {
        self.file.bytes()
    }

    /// The SHA-256 trailer, when the file has one.
    pub fn sha256_trailer(&self) -> Option<&[u8]> {
        let all = self.file.bytes();
        match self.kind {
            // Not mapped when the file had to be mapped only in part.
            InputKind::SnapshotFile if !all.is_empty() && !self.file.is_partial() => {
                all.get(self.db_len..)
            }
            _ => None,
        }
    }

    /// For a snapshot file: whether the trailer equals the SHA-256 of the bbolt part.
    pub fn sha256_matches(&self) -> Option<bool> {
        let trailer = self.sha256_trailer()?;
        let digest = Sha256::digest(self.bytes());
        Some(digest.as_slice() == trailer)
    }
}

/// Processes that hold a lock on any of `files`, found in `/proc/locks` (Linux). etcd holds
/// an exclusive lock on its db (bbolt's flock) and on its newest WAL segment while it runs.
/// Returns the PIDs (may be empty); `None` when `/proc/locks` cannot be read.
pub fn live_lock_holders(files: &[PathBuf]) -> Option<Vec<u32>> {
    use std::os::unix::fs::MetadataExt;
    let text = std::fs::read_to_string("/proc/locks").ok()?;
    let inodes: Vec<u64> = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.ino())
        .collect();
    let mut pids = Vec::new();
    for line in text.lines() {
        // "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF" (OFDLCK lines have pid -1).
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(pid), Some(dev_ino)) = (fields.get(4), fields.get(5)) else {
            continue;
        };
        let Some(ino) = dev_ino
            .rsplit(':')
            .next()
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        if inodes.contains(&ino) {
            pids.push(
                pid.parse::<i64>()
                    .ok()
                    .and_then(|p| u32::try_from(p).ok())
                    .unwrap_or(0),
            );
        }
    }
    Some(pids)
}

/// A warning line when the member at `member` appears to be running, else `None`.
pub fn running_member_warning(member: &Member) -> Option<String> {
    let mut files: Vec<PathBuf> = member.db.iter().cloned().collect();
    if let Some(w) = &member.wal_dir {
        if let Ok(rd) = std::fs::read_dir(w) {
            files.extend(
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "wal")),
            );
        }
    }
    let holders = live_lock_holders(&files)?;
    if holders.is_empty() {
        return None;
    }
    let named: Vec<(u32, Option<String>)> = holders
        .iter()
        .map(|&p| (p, (p != 0).then(|| process_command(p)).flatten()))
        .collect();
    Some(lock_warning(&member.given, &named))
}

/// The command of process `pid`: `/proc/<pid>/comm`, else the first word of its cmdline.
pub fn process_command(pid: u32) -> Option<String> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok();
    let comm = comm
        .map(|c| c.trim_end().to_string())
        .filter(|c| !c.is_empty());
    comm.or_else(|| {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let first = cmdline.split(|&b| b == 0).next()?;
        let first = String::from_utf8_lossy(first);
        let base = first.rsplit('/').next().unwrap_or(&first).to_string();
        (!base.is_empty()).then_some(base)
    })
}

/// The warning for `given` locked by `holders` (pid, command; pid 0 = unknown): it names
/// each holder, and says etcd runs on it only when every named holder is etcd.
pub fn lock_warning(given: &Path, holders: &[(u32, Option<String>)]) -> String {
    let list: Vec<String> = holders
        .iter()
        .filter(|(p, _)| *p != 0)
        .map(|(p, c)| match c {
            Some(c) => format!("pid {p} {}", crate::display::sanitize(c.as_bytes())),
            None => format!("pid {p}"),
        })
        .collect();
    let is_etcd = |c: &Option<String>| {
        c.as_deref()
            .is_some_and(|c| c == "etcd" || c.starts_with("etcd-"))
    };
    let all_etcd = !holders.is_empty() && holders.iter().all(|(_, c)| is_etcd(c));
    let unknown = holders.iter().any(|(p, c)| *p == 0 || c.is_none());
    let who = if list.is_empty() {
        String::new()
    } else {
        format!(" ({})", list.join(", "))
    };
    if all_etcd {
        format!(
            "warning: {} is locked by a running process{who}: etcd appears to be running on it; \
             results reflect a moment in a live file and may be inconsistent",
            given.display()
        )
    } else if unknown {
        format!(
            "warning: {} is locked by a running process{who}, perhaps etcd; \
             results reflect a moment in a live file and may be inconsistent",
            given.display()
        )
    } else {
        format!(
            "warning: {} is locked by another process{who}, not etcd; \
             if it writes the files, results may be inconsistent",
            given.display()
        )
    }
}

/// When a file given where a bbolt db is expected is something else an etcd data dir
/// holds, which command reads it (a sentence to append to the error), else `None`.
///
/// A WAL segment starts with an 8-byte frame length and then a walpb.Record of type
/// crcType (field 1 = 4: bytes `08 04`); a `.snap` file is a snappb.Snapshot (`*.snap`).
pub fn other_format_hint(path: &Path, bytes: &[u8]) -> Option<String> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = name.as_deref().unwrap_or("");
    if bytes.is_empty() {
        return Some(
            "the file is empty (0 bytes): not a bbolt db; give the data dir, or the member's member/snap/db".into(),
        );
    }
    if name.ends_with(".wal")
        || name.ends_with(".wal.broken")
        || bytes.get(8..10) == Some(&[0x08, 0x04])
    {
        return Some(
            "this is a WAL segment, not a db: read it with `etcd-autopsy wal <DATA-DIR>` (or `wal` on its member/wal directory); `check <DATA-DIR>` verifies it".into(),
        );
    }
    if name.ends_with(".snap") {
        return Some(
            "this is a raft snapshot (.snap) file, not a db: `etcd-autopsy snap <DATA-DIR>` lists it".into(),
        );
    }
    None
}

#[cfg(test)]
mod format_hint_tests {
    use super::*;

    #[test]
    fn the_lock_warning_names_the_holder_and_claims_etcd_only_for_etcd() {
        let p = Path::new("/var/lib/etcd");
        let w = lock_warning(p, &[(4242, Some("etcd".into()))]);
        assert!(
            w.contains("(pid 4242 etcd): etcd appears to be running"),
            "{w}"
        );
        let w = lock_warning(p, &[(77, Some("python3".into()))]);
        assert!(w.contains("(pid 77 python3), not etcd"), "{w}");
        assert!(!w.contains("etcd appears"), "{w}");
        let w = lock_warning(p, &[(0, None)]);
        assert!(w.contains("perhaps etcd"), "{w}");
    }

    #[test]
    fn a_wal_segment_an_empty_file_and_a_snap_file_name_their_command() {
        let wal = Path::new("member/wal/0000000000000000-0000000000000000.wal");
        assert!(other_format_hint(wal, b"x")
            .unwrap()
            .contains("etcd-autopsy wal"));
        let framed = [0u8, 0, 0, 0, 0, 0, 0, 0x84, 0x08, 0x04, 0x10];
        assert!(other_format_hint(Path::new("x"), &framed)
            .unwrap()
            .contains("WAL segment"));
        assert!(other_format_hint(Path::new("db"), b"")
            .unwrap()
            .contains("empty"));
        assert!(other_format_hint(Path::new("0-1.snap"), b"abc")
            .unwrap()
            .contains("etcd-autopsy snap"));
        assert_eq!(other_format_hint(Path::new("db"), &[0u8; 64]), None);
    }
}
