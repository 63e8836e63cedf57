//! `.snap` files: raft snapshots written by etcd's snapshotter.
//!
//! A file `%016x-%016x.snap` (term, index) holds snappb.snapshot {crc=1 uint32, data=2
//! bytes}; `crc` is CRC-32C of `data` from 0 (not chained). `data` is raftpb.Snapshot
//! {data=1 bytes (the v2 store), metadata=2 {conf_state=1, index=2, term=3}}. On restart
//! etcd 3.4 loads the newest file that reads cleanly and sets the damaged ones aside
//! (etcd `etcdserver/api/snap/snapshotter.go`).

use crate::finding::{Finding, FindingKind};
use crate::map::MappedFile;
use crate::record::ConfState;
use crate::wire::{self, Fields, WireError};
use crate::Error;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// raftpb.SnapshotMetadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SnapshotMetadata {
    /// Raft index the snapshot covers.
    pub index: u64,
    /// Term of that index.
    pub term: u64,
    /// Configuration at that index.
    pub conf_state: ConfState,
}

/// Why a `.snap` file is not usable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapStatus {
    /// CRC matches and the snapshot decodes.
    Ok,
    /// Empty file, or empty data or zero CRC (etcd: `snap: empty snapshot`).
    Empty,
    /// The outer message does not decode.
    Undecodable,
    /// The CRC does not match (etcd: `snap: crc mismatch`).
    CrcMismatch,
    /// CRC matches but raftpb.Snapshot does not decode.
    BadSnapshot,
}

/// One decoded `.snap` file.
#[derive(Debug, Clone, Serialize)]
pub struct SnapFile {
    /// File name.
    pub name: String,
    /// Term from the name.
    pub name_term: u64,
    /// Index from the name.
    pub name_index: u64,
    /// File size.
    pub size: u64,
    /// Stored CRC.
    pub crc: u32,
    /// CRC-32C computed over the data.
    pub crc_computed: u32,
    /// Whether the file is usable.
    pub status: SnapStatus,
    /// Decoded metadata (when the CRC matched and it decoded).
    pub metadata: Option<SnapshotMetadata>,
    /// Size of raftpb.Snapshot.data (the v2 store JSON).
    pub data_size: u64,
}

impl SnapFile {
    /// True when etcd could load it.
    pub fn is_ok(&self) -> bool {
        self.status == SnapStatus::Ok
    }
}

/// Parses `%016x-%016x.snap` into (term, index).
pub fn parse_snap_name(name: &str) -> Option<(u64, u64)> {
    crate::dir::parse_hex_pair(name, ".snap")
}

fn decode_metadata(buf: &[u8]) -> Result<SnapshotMetadata, WireError> {
    let mut m = SnapshotMetadata::default();
    for f in Fields::new(buf) {
        let (n, v) = f?;
        match n {
            1 => m.conf_state = ConfState::decode(wire::bytes(n, v)?)?,
            2 => m.index = wire::varint(n, v)?,
            3 => m.term = wire::varint(n, v)?,
            _ => {}
        }
    }
    Ok(m)
}

/// Decodes one `.snap` file's bytes.
pub fn decode_snap(name: &str, bytes: &[u8]) -> SnapFile {
    let (name_term, name_index) = parse_snap_name(name).unwrap_or((0, 0));
    let mut s = SnapFile {
        name: name.to_string(),
        name_term,
        name_index,
        size: bytes.len() as u64,
        crc: 0,
        crc_computed: 0,
        status: SnapStatus::Ok,
        metadata: None,
        data_size: 0,
    };
    if bytes.is_empty() {
        s.status = SnapStatus::Empty;
        return s;
    }
    let mut data: &[u8] = &[];
    for f in Fields::new(bytes) {
        let r = f.and_then(|(n, v)| {
            match n {
                1 => s.crc = wire::varint(n, v)? as u32,
                2 => data = wire::bytes(n, v)?,
                _ => {}
            }
            Ok(())
        });
        if r.is_err() {
            s.status = SnapStatus::Undecodable;
            return s;
        }
    }
    if data.is_empty() || s.crc == 0 {
        s.status = SnapStatus::Empty;
        return s;
    }
    s.crc_computed = crate::crc::crc32c(data);
    if s.crc_computed != s.crc {
        s.status = SnapStatus::CrcMismatch;
        return s;
    }
    let mut meta = None;
    let mut v2_len = 0u64;
    for f in Fields::new(data) {
        let r = f.and_then(|(n, v)| {
            match n {
                1 => v2_len = wire::bytes(n, v)?.len() as u64,
                2 => meta = Some(decode_metadata(wire::bytes(n, v)?)?),
                _ => {}
            }
            Ok(())
        });
        if r.is_err() {
            s.status = SnapStatus::BadSnapshot;
            return s;
        }
    }
    s.metadata = Some(meta.unwrap_or_default());
    s.data_size = v2_len;
    s
}

/// The v2 store JSON inside a `.snap` file's bytes (raftpb.Snapshot.data), when the file
/// decodes and its CRC matches; `None` otherwise.
pub fn snap_v2_store(bytes: &[u8]) -> Option<&[u8]> {
    let mut crc = 0u32;
    let mut data: &[u8] = &[];
    for f in Fields::new(bytes) {
        let (n, v) = f.ok()?;
        match n {
            1 => crc = wire::varint(n, v).ok()? as u32,
            2 => data = wire::bytes(n, v).ok()?,
            _ => {}
        }
    }
    if data.is_empty() || crate::crc::crc32c(data) != crc {
        return None;
    }
    let mut v2: &[u8] = &[];
    for f in Fields::new(data) {
        let (n, v) = f.ok()?;
        if n == 1 {
            v2 = wire::bytes(n, v).ok()?;
        }
    }
    Some(v2)
}

/// The `.snap` files of a `member/snap` directory, newest first.
#[derive(Debug)]
pub struct SnapDir {
    /// The directory.
    pub dir: PathBuf,
    /// Decoded files, newest (highest name) first.
    pub files: Vec<SnapFile>,
    /// Findings: damaged files, names that disagree with contents, no usable snapshot.
    pub findings: Vec<Finding>,
}

impl SnapDir {
    /// Reads every `*.snap` in `dir`. The bbolt `db` and `*.snap.db` files are not read.
    pub fn open(dir: &Path) -> Result<SnapDir, Error> {
        let io = |source| Error::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut names = Vec::new();
        for e in std::fs::read_dir(dir).map_err(io)? {
            let e = e.map_err(io)?;
            let n = e.file_name().to_string_lossy().into_owned();
            if n.ends_with(".snap") {
                names.push(n);
            }
        }
        // etcd sorts the names and tries the newest first.
        names.sort();
        names.reverse();
        let mut files = Vec::new();
        let mut refused = Vec::new();
        for n in &names {
            match MappedFile::open(&dir.join(n)) {
                Ok(m) => files.push(decode_snap(n, m.bytes())),
                Err(e) => match e.not_regular() {
                    // etcd's snapshotter reads every name ending in .snap: a FIFO blocks
                    // it forever, anything else fails and is renamed *.broken.
                    Some(what) => refused.push(Finding::damage(
                        FindingKind::NotRegularFile,
                        n,
                        None,
                        format!(
                            "{} {what}: etcd cannot load it (a FIFO blocks its read forever; otherwise it renames it .broken and tries an older snapshot)",
                            dir.join(n).display()
                        ),
                    )),
                    None => return Err(e),
                },
            }
        }
        let mut findings = refused;
        findings.extend(snap_findings(&files));
        Ok(SnapDir {
            dir: dir.to_path_buf(),
            files,
            findings,
        })
    }

    /// The snapshot etcd 3.4 would load: the newest one that reads cleanly.
    pub fn loaded(&self) -> Option<&SnapFile> {
        self.files.iter().find(|f| f.is_ok())
    }
}

/// Findings for a newest-first list of decoded snap files.
pub fn snap_findings(files: &[SnapFile]) -> Vec<Finding> {
    let mut out = Vec::new();
    let loaded = files.iter().position(|f| f.is_ok());
    for (i, f) in files.iter().enumerate() {
        let note = match loaded {
            Some(l) if l > i => {
                format!("; etcd sets it aside and uses the older {}", files[l].name)
            }
            _ => String::new(),
        };
        match f.status {
            SnapStatus::Ok => {
                if let Some(m) = &f.metadata {
                    if parse_snap_name(&f.name) != Some((m.term, m.index)) {
                        out.push(Finding::damage(
                            FindingKind::SnapNameMismatch,
                            &f.name,
                            None,
                            format!(
                                "name says term {:x} index {:x}, contents say term {:x} index {:x}",
                                f.name_term, f.name_index, m.term, m.index
                            ),
                        ));
                    }
                }
            }
            SnapStatus::CrcMismatch => out.push(Finding::damage(
                FindingKind::SnapCrcMismatch,
                &f.name,
                None,
                format!(
                    "stored CRC {:#010x}, computed {:#010x} (etcd: snap: crc mismatch){note}",
                    f.crc, f.crc_computed
                ),
            )),
            SnapStatus::Empty => out.push(Finding::damage(
                FindingKind::SnapCorrupt,
                &f.name,
                None,
                format!("empty snapshot (etcd: snap: empty snapshot){note}"),
            )),
            SnapStatus::Undecodable | SnapStatus::BadSnapshot => out.push(Finding::damage(
                FindingKind::SnapCorrupt,
                &f.name,
                None,
                format!("does not decode{note}"),
            )),
        }
    }
    if loaded.is_none() && !files.is_empty() {
        out.push(Finding::damage(
            FindingKind::NoSnapshot,
            "",
            None,
            "no .snap file is usable: etcd would start from an empty store and replay the WAL",
        ));
    }
    out
}
