//! Findings: damage and oddities found while reading, each with the file and byte offset.

use serde::Serialize;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Normal for a healthy member, reported for completeness (e.g. `0.tmp`).
    Info,
    /// Damage: etcd would fail, lose data or repair something on restart.
    Damage,
}

/// What was found. Names are stable (they appear in JSON as snake_case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A `.tmp` file: a preallocated segment not yet in use (normal) or left by a crash.
    TmpFile,
    /// A `*.broken` file: left by an earlier `etcd` repair or a failed snapshot load.
    BrokenFile,
    /// A file in the WAL directory whose name etcd does not accept as a segment; etcd ignores it.
    BadSegmentName,
    /// Segment sequence numbers are not contiguous (etcd: `wal: file not found`).
    SequenceGap,
    /// The index in a segment's name does not match its first entry.
    NameIndexMismatch,
    /// No `.wal` file at all.
    NoSegments,
    /// A segment does not begin with a crc record.
    MissingCrcRecord,
    /// A segment's opening crc record does not equal the running CRC of the segment before it.
    CrcChainBreak,
    /// A record's CRC does not match (etcd: `walpb: crc mismatch`).
    CrcMismatch,
    /// A record that failed to decode or verify and contains an all-zero sector: a torn write.
    TornWrite,
    /// A length field that runs past the end of the file (etcd: unexpected EOF; 3.5+:
    /// `wal: max entry size limit exceeded`).
    TruncatedRecord,
    /// A record of 10 MiB or more, which etcd 3.4 refuses (`wal: max entry size limit exceeded`).
    EntrySizeLimit,
    /// Fewer than 8 non-zero bytes at the end of the file: a torn length field.
    TruncatedLength,
    /// A length field whose padding byte is not what etcd writes.
    BadPadding,
    /// The walpb.Record bytes do not decode.
    BadRecord,
    /// A record type etcd does not know (etcd: `unexpected block type`).
    UnknownRecordType,
    /// A record's payload (entry, state, metadata, snapshot) does not decode (etcd panics).
    BadPayload,
    /// Non-zero bytes after the zero length field that ends a segment: records etcd would
    /// silently not read.
    DataAfterEnd,
    /// Raw mode skipped bytes and found records again at this offset.
    Resynced,
    /// Two metadata records differ (etcd: `wal: conflicting metadata found`).
    MetadataConflict,
    /// An entry index skips ahead of the entries read so far (etcd: `wal: slice bounds out of range`).
    IndexGap,
    /// Raft log truncation: an entry rewrote an index already in the log (normal after a
    /// leader change; the later one wins).
    EntryRewritten,
    /// The WAL has no snapshot record matching the snapshot etcd would load
    /// (etcd: `wal: snapshot not found`).
    SnapshotNotFound,
    /// A snapshot record at the loaded snapshot's index has another term
    /// (etcd: `wal: snapshot mismatch`).
    SnapshotMismatch,
    /// Reading stopped at earlier damage; later segments were not read (default mode).
    NotRead,
    /// A `.snap` file whose CRC does not match its data.
    SnapCrcMismatch,
    /// A `.snap` file that is empty or does not decode.
    SnapCorrupt,
    /// A `.snap` file whose name does not match the term and index inside it.
    SnapNameMismatch,
    /// No usable `.snap` file: etcd would replay the whole WAL.
    NoSnapshot,
    /// A segment or `.snap` name that is not a regular file (a directory, FIFO, device or
    /// link loop): etcd cannot read it (a FIFO blocks its read forever).
    NotRegularFile,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What was found.
    pub kind: FindingKind,
    /// Whether it is damage.
    pub severity: Severity,
    /// The file (segment or snap file name, or the directory for directory-level findings).
    pub file: String,
    /// Byte offset within `file`, where one applies.
    pub offset: Option<u64>,
    /// A sentence for humans.
    pub message: String,
}

impl Finding {
    /// A damage finding.
    pub fn damage(
        kind: FindingKind,
        file: &str,
        offset: Option<u64>,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            kind,
            severity: Severity::Damage,
            file: file.to_string(),
            offset,
            message: message.into(),
        }
    }

    /// An informational finding.
    pub fn info(
        kind: FindingKind,
        file: &str,
        offset: Option<u64>,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            kind,
            severity: Severity::Info,
            file: file.to_string(),
            offset,
            message: message.into(),
        }
    }

    /// True for damage.
    pub fn is_damage(&self) -> bool {
        self.severity == Severity::Damage
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sev = match self.severity {
            Severity::Info => "info",
            Severity::Damage => "DAMAGE",
        };
        match self.offset {
            Some(o) => write!(f, "{sev}: {} at offset {o}: {}", self.file, self.message),
            None => write!(f, "{sev}: {}: {}", self.file, self.message),
        }
    }
}
