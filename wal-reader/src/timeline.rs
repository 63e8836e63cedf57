//! The raft log along its index, in a bounded number of bins: what kind of entries each
//! stretch holds, where segments begin, the snapshot markers, the last HardState and where
//! damage sits. Made for drawing (the HTML report's timeline); every figure is owned, so
//! it outlives the mapping.
//!
//! An entry's kind is read from the first field of its InternalRaftRequest that names a
//! request (field numbers as in etcdserverpb raft_internal.proto: put=4, delete_range=5,
//! txn=6, compaction=7, lease 8/9/11, alarm=10, auth 1000-1204, cluster and member
//! 1300-1302), skipping the ID (1) and header (100); nothing is decoded further.

use crate::finding::FindingKind;
use crate::record::EntryType;
use crate::scan::WalScan;
use crate::wire::{Fields, Value};
use serde::Serialize;

/// What an entry asks for, as far as the timeline tells kinds apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Empty normal entry: a new leader's no-op.
    NoOp,
    /// Put.
    Put,
    /// DeleteRange.
    DeleteRange,
    /// Txn.
    Txn,
    /// Compaction.
    Compaction,
    /// Lease grant, revoke or checkpoint.
    Lease,
    /// Alarm (also `etcdctl alarm list` in 3.4).
    Alarm,
    /// Authentication and authorisation requests.
    Auth,
    /// v2 request (publish, cluster version) or 3.5 cluster/member attribute requests.
    Cluster,
    /// ConfChange or ConfChangeV2 entry.
    ConfChange,
    /// Anything else (a range request, an unknown field, data that does not decode).
    Other,
}

impl EntryKind {
    /// Every kind, in the order of [`Bin::counts`].
    pub const ALL: [EntryKind; 11] = [
        EntryKind::NoOp,
        EntryKind::Put,
        EntryKind::DeleteRange,
        EntryKind::Txn,
        EntryKind::Compaction,
        EntryKind::Lease,
        EntryKind::Alarm,
        EntryKind::Auth,
        EntryKind::Cluster,
        EntryKind::ConfChange,
        EntryKind::Other,
    ];

    /// Position in [`EntryKind::ALL`].
    pub fn slot(self) -> usize {
        EntryKind::ALL.iter().position(|k| *k == self).unwrap_or(10)
    }

    /// The kind of a normal entry's data.
    pub fn of_normal(data: &[u8]) -> EntryKind {
        if data.is_empty() {
            return EntryKind::NoOp;
        }
        for f in Fields::new(data) {
            let Ok((field, value)) = f else {
                return EntryKind::Other;
            };
            if !matches!(value, Value::Len(_)) {
                continue;
            }
            return match field {
                1 | 100 => continue,
                2 | 1300..=1302 => EntryKind::Cluster,
                4 => EntryKind::Put,
                5 => EntryKind::DeleteRange,
                6 => EntryKind::Txn,
                7 => EntryKind::Compaction,
                8 | 9 | 11 => EntryKind::Lease,
                10 => EntryKind::Alarm,
                1000..=1204 => EntryKind::Auth,
                _ => EntryKind::Other,
            };
        }
        EntryKind::Other
    }
}

/// Entries of one stretch of indexes, counted by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bin {
    /// First index the bin covers.
    pub first_index: u64,
    /// Entries per kind, in the order of [`EntryKind::ALL`].
    pub counts: [u32; 11],
}

/// Where a segment begins on the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentMark {
    /// File name.
    pub name: String,
    /// Index of its first entry, if it holds one.
    pub first_index: Option<u64>,
    /// Records read.
    pub records: u64,
    /// Bytes that verified.
    pub valid_bytes: u64,
}

/// A damage finding placed on the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DamageMark {
    /// The finding's kind.
    pub kind: FindingKind,
    /// Segment (or directory) named by the finding.
    pub file: String,
    /// Byte offset in it, where one applies.
    pub offset: Option<u64>,
    /// The index of the last entry read before the damage (None when none was).
    pub after_index: Option<u64>,
    /// The finding's sentence.
    pub message: String,
}

/// The whole timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeline {
    /// First entry index.
    pub first_index: Option<u64>,
    /// Last entry index.
    pub last_index: Option<u64>,
    /// Entries in the log.
    pub entries: u64,
    /// Indexes each bin covers.
    pub bin_width: u64,
    /// Bins in index order (only bins with entries are listed).
    pub bins: Vec<Bin>,
    /// Entries per kind over the whole log, in the order of [`EntryKind::ALL`].
    pub totals: [u64; 11],
    /// Segments, in order.
    pub segments: Vec<SegmentMark>,
    /// Snapshot markers (index, term), in order.
    pub snapshots: Vec<(u64, u64)>,
    /// Last HardState (term, vote, commit).
    pub hard_state: Option<(u64, u64, u64)>,
    /// Damage findings (the first [`MAX_DAMAGE_MARKS`]).
    pub damage: Vec<DamageMark>,
    /// Damage findings in all.
    pub damage_count: usize,
}

/// Damage findings placed on the timeline; the rest are counted.
pub const MAX_DAMAGE_MARKS: usize = 32;

/// Builds the timeline of `scan` in at most `max_bins` bins (at least 1).
pub fn timeline(scan: &WalScan<'_>, max_bins: usize) -> Timeline {
    let first = scan.first_index();
    let last = scan.last_index();
    let span = match (first, last) {
        (Some(f), Some(l)) => l.saturating_sub(f).saturating_add(1),
        _ => 0,
    };
    let bins_wanted = max_bins.max(1) as u64;
    let bin_width = span.div_ceil(bins_wanted).max(1);
    let mut bins: Vec<Bin> = Vec::new();
    let mut totals = [0u64; 11];
    let base = first.unwrap_or(0);
    for e in &scan.entries {
        let kind = match e.entry.entry_type {
            EntryType::Normal => EntryKind::of_normal(e.entry.data),
            EntryType::ConfChange | EntryType::ConfChangeV2 => EntryKind::ConfChange,
            EntryType::Unknown(_) => EntryKind::Other,
        };
        let slot = kind.slot();
        totals[slot] += 1;
        // Entries are in index order, so bins are appended in order.
        let start = base + (e.entry.index.saturating_sub(base) / bin_width) * bin_width;
        if bins.last().is_none_or(|b| b.first_index != start) {
            bins.push(Bin {
                first_index: start,
                counts: [0; 11],
            });
        }
        if let Some(b) = bins.last_mut() {
            b.counts[slot] = b.counts[slot].saturating_add(1);
        }
    }
    let segments = scan
        .segments
        .iter()
        .map(|s| SegmentMark {
            name: s.name.clone(),
            first_index: s.first_index(),
            records: s.records,
            valid_bytes: s.valid_bytes,
        })
        .collect();
    let damaged: Vec<_> = scan.findings.iter().filter(|f| f.is_damage()).collect();
    let damage = damaged
        .iter()
        .take(MAX_DAMAGE_MARKS)
        .map(|f| {
            let seg = scan.segments.iter().position(|s| s.name == f.file);
            // The last entry read before the damaged place: in an earlier segment, or
            // earlier in the same one.
            let after_index = scan
                .entries
                .iter()
                .rev()
                .find(|e| match seg {
                    Some(s) => e.segment < s || (e.segment == s && Some(e.offset) < f.offset),
                    None => true,
                })
                .map(|e| e.entry.index);
            DamageMark {
                kind: f.kind,
                file: f.file.clone(),
                offset: f.offset,
                after_index,
                message: f.message.clone(),
            }
        })
        .collect();
    Timeline {
        first_index: first,
        last_index: last,
        entries: scan.entries.len() as u64,
        bin_width,
        bins,
        totals,
        segments,
        snapshots: scan.snapshots.iter().map(|s| (s.index, s.term)).collect(),
        hard_state: scan.hard_state.map(|h| (h.term, h.vote, h.commit)),
        damage,
        damage_count: damaged.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_kind_is_the_first_request_field_after_id_and_header() {
        // ID=1 varint, header=100 (len), put=4 (len).
        let put = [0x08, 0x05, 0xa2, 0x06, 0x00, 0x22, 0x02, 0x0a, 0x00];
        assert_eq!(EntryKind::of_normal(&put), EntryKind::Put);
        let compaction = [0x3a, 0x02, 0x08, 0x05];
        assert_eq!(EntryKind::of_normal(&compaction), EntryKind::Compaction);
        assert_eq!(EntryKind::of_normal(&[]), EntryKind::NoOp);
        // A length that runs past the end: not decodable.
        assert_eq!(EntryKind::of_normal(&[0x22, 0x7f]), EntryKind::Other);
    }

    #[test]
    fn an_empty_scan_gives_an_empty_timeline() {
        let scan = crate::scan_wal(&[], Vec::new(), Default::default());
        let t = timeline(&scan, 0);
        assert_eq!(t.entries, 0);
        assert!(t.bins.is_empty());
        assert_eq!(t.bin_width, 1);
    }
}
