//! Verifying one WAL segment on its own.
//!
//! Every segment begins with a crc record that carries the running CRC-32C of everything
//! before it (etcd `wal.go` `cut()`), so a segment can be checked without its predecessors:
//! the crc record seeds the chain, each later record's `crc` must equal
//! `crc32c(previous running crc, data)`, and whether the seed equals the previous segment's
//! final CRC is checked afterwards ([`crate::scan`]).

use crate::entry::EntryClass;
use crate::finding::{Finding, FindingKind};
use crate::record::{
    self, decode_record_body, has_zeroed_sector, EntryRef, FrameLen, HardState, Metadata, Record,
    WalSnapshot, FRAME_HEADER, MAX_RECORD_BYTES_V34,
};

/// How to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanOptions {
    /// Keep going after damage: skip the bad record (or search for the next good one) and
    /// report every damaged record. Off: stop at the first damage, as etcd does.
    pub raw: bool,
}

/// A decoded record, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<'a> {
    /// A crc record: the running CRC before this segment.
    Crc {
        /// Offset of the record.
        offset: u64,
        /// The CRC it carries.
        crc: u32,
    },
    /// etcdserverpb.Metadata.
    Metadata {
        /// Offset of the record.
        offset: u64,
        /// The raw bytes (etcd compares them byte for byte across segments).
        raw: &'a [u8],
        /// Decoded.
        metadata: Metadata,
    },
    /// A raft entry.
    Entry {
        /// Offset of the record.
        offset: u64,
        /// The entry.
        entry: EntryRef<'a>,
        /// Its data classified right after the record's CRC was verified, when the scan
        /// was asked to ([`crate::scan::scan_wal_classifying`]).
        class: Option<EntryClass>,
    },
    /// raftpb.HardState.
    State {
        /// Offset of the record.
        offset: u64,
        /// The state.
        state: HardState,
    },
    /// walpb.Snapshot marker.
    Snapshot {
        /// Offset of the record.
        offset: u64,
        /// The marker.
        snapshot: Box<WalSnapshot>,
    },
}

impl Item<'_> {
    /// Offset of the record in its segment.
    pub fn offset(&self) -> u64 {
        match self {
            Item::Crc { offset, .. }
            | Item::Metadata { offset, .. }
            | Item::Entry { offset, .. }
            | Item::State { offset, .. }
            | Item::Snapshot { offset, .. } => *offset,
        }
    }
}

/// How the readable part of a segment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SegmentEnd {
    /// The file ended at a record boundary (a cut segment, or a zero tail cut off).
    Eof,
    /// A zero length field: preallocated space follows.
    ZeroLength {
        /// Offset of the zero length field.
        offset: u64,
    },
    /// Reading stopped at damage (default mode) or the last damage could not be skipped.
    Damage {
        /// Offset of the damaged record.
        offset: u64,
    },
}

/// Result of verifying one segment.
#[derive(Debug, Clone)]
pub struct SegmentScan<'a> {
    /// File name.
    pub name: String,
    /// Size of the file.
    pub file_len: u64,
    /// Decoded records, in order (damaged ones left out).
    pub items: Vec<Item<'a>>,
    /// Number of good records.
    pub records: u64,
    /// Offset just after the last good record (etcd's `lastValidOff`).
    pub valid_bytes: u64,
    /// CRC carried by the opening crc record, if the segment has one first.
    pub start_crc: Option<u32>,
    /// Running CRC after the last good record.
    pub end_crc: u32,
    /// How it ended.
    pub end: SegmentEnd,
    /// Damage and oddities, in offset order.
    pub findings: Vec<Finding>,
    /// Index into `items` of the first item after the first damage (`None`: no damage).
    /// In default mode this is `items.len()`.
    pub damaged_at_item: Option<usize>,
}

impl SegmentScan<'_> {
    /// True when every record verified and the segment ended cleanly.
    pub fn crc_ok(&self) -> bool {
        !self.findings.iter().any(|f| f.is_damage())
    }

    /// Index of the first entry in the segment.
    pub fn first_index(&self) -> Option<u64> {
        self.items.iter().find_map(|i| match i {
            Item::Entry { entry, .. } => Some(entry.index),
            _ => None,
        })
    }

    /// Index of the last entry in the segment.
    pub fn last_index(&self) -> Option<u64> {
        self.items.iter().rev().find_map(|i| match i {
            Item::Entry { entry, .. } => Some(entry.index),
            _ => None,
        })
    }
}

fn u64_at(data: &[u8], off: usize) -> Option<u64> {
    let b = data.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}

/// First non-zero byte at or after `from`.
fn first_nonzero(data: &[u8], from: usize) -> Option<usize> {
    let tail = data.get(from..)?;
    // The zero tail of a preallocated segment can be 60 MB: test 256 bytes a step as 32
    // words OR-ed together (a reduction the compiler turns into vector code), and look at
    // single bytes only in the block that holds the first non-zero one.
    const BLOCK: usize = 256;
    let mut blocks = tail.chunks_exact(BLOCK);
    let mut base = from;
    for c in &mut blocks {
        let any = c.chunks_exact(8).fold(0u64, |a, w| {
            a | u64::from_ne_bytes(w.try_into().unwrap_or([0; 8]))
        });
        if any != 0 {
            return c.iter().position(|&b| b != 0).map(|p| base + p);
        }
        base += BLOCK;
    }
    blocks
        .remainder()
        .iter()
        .position(|&b| b != 0)
        .map(|p| base + p)
}

/// Outcome of reading one frame.
enum Frame<'a> {
    Record(Record<'a>),
    /// Clean end at a record boundary (EOF, or only zero bytes fewer than a length field).
    Eof,
    Zero,
    /// Damage at the frame; `skip` = the frame can be stepped over (length intact).
    Bad {
        kind: FindingKind,
        message: String,
        skip_to: Option<usize>,
    },
}

fn read_frame<'a>(data: &'a [u8], off: usize) -> Frame<'a> {
    let remaining = data.len() - off;
    if remaining == 0 {
        return Frame::Eof;
    }
    let Some(raw) = u64_at(data, off) else {
        return if data[off..].iter().all(|&b| b == 0) {
            Frame::Eof
        } else {
            Frame::Bad {
                kind: FindingKind::TruncatedLength,
                message: format!(
                    "only {remaining} bytes left for an 8-byte length field (torn write; etcd: unexpected EOF)"
                ),
                skip_to: None,
            }
        };
    };
    if raw == 0 {
        return Frame::Zero;
    }
    let fl = FrameLen::decode(raw);
    let total = fl.total();
    if total > remaining as u64 {
        let etcd = if fl.rec_bytes >= MAX_RECORD_BYTES_V34 - fl.pad_bytes {
            "wal: max entry size limit exceeded"
        } else {
            "unexpected EOF; etcd 3.5+: wal: max entry size limit exceeded"
        };
        return Frame::Bad {
            kind: FindingKind::TruncatedRecord,
            message: format!(
                "record length {} runs past the end of the file ({} bytes left) (etcd 3.4: {etcd})",
                fl.rec_bytes,
                remaining - FRAME_HEADER
            ),
            skip_to: None,
        };
    }
    if !FrameLen::is_canonical(raw) {
        return Frame::Bad {
            kind: FindingKind::BadPadding,
            message: format!(
                "length field {raw:#018x}: padding byte is not what etcd writes for length {}",
                fl.rec_bytes
            ),
            skip_to: None,
        };
    }
    // `total` fits in the file, so these conversions and sums cannot overflow.
    let total = total as usize;
    let body_start = off + FRAME_HEADER;
    let body = &data[body_start..body_start + fl.rec_bytes as usize];
    let padded = &data[body_start..off + total];
    if fl.rec_bytes >= MAX_RECORD_BYTES_V34 - fl.pad_bytes {
        return Frame::Bad {
            kind: FindingKind::EntrySizeLimit,
            message: format!(
                "record of {} bytes: etcd 3.4 refuses it (wal: max entry size limit exceeded)",
                fl.rec_bytes
            ),
            skip_to: Some(off + total),
        };
    }
    match decode_record_body(body) {
        Ok((rec_type, crc, rdata)) => Frame::Record(Record {
            offset: off as u64,
            frame_bytes: total as u64,
            rec_type,
            crc,
            data: rdata,
        }),
        Err(e) => {
            if let Some(z) = has_zeroed_sector(padded, body_start as u64) {
                Frame::Bad {
                    kind: FindingKind::TornWrite,
                    message: format!(
                        "record does not decode ({e}) and the sector at offset {z} is all zeros: torn write (etcd: unexpected EOF)"
                    ),
                    skip_to: None,
                }
            } else {
                Frame::Bad {
                    kind: FindingKind::BadRecord,
                    message: format!("walpb.Record does not decode: {e}"),
                    skip_to: None,
                }
            }
        }
    }
}

/// Looks for the next offset (8-aligned, at or after `from`) where a plausible record starts:
/// its frame and walpb.Record decode with a known type, and the record after it either ends
/// the segment or verifies against its CRC. Returns the offset.
///
/// Decoding a candidate costs up to its length, so a hostile file with a plausible length
/// at every offset could make this quadratic: `budget` (bytes of candidates examined, shared
/// by all searches in a segment) bounds the work; when it runs out the search gives up.
fn resync(data: &[u8], from: usize, budget: &mut u64) -> Option<usize> {
    let mut p = from.checked_add(7)? & !7;
    while p + FRAME_HEADER <= data.len() {
        let raw = u64_at(data, p)?;
        if raw != 0 && FrameLen::is_canonical(raw) {
            let cost = FrameLen::decode(raw).total().min(data.len() as u64);
            *budget = budget.checked_sub(cost)?;
            if let Frame::Record(r) = read_frame(data, p) {
                if (1..=5).contains(&r.rec_type) && next_frame_confirms(data, &r, budget)? {
                    return Some(p);
                }
            }
        }
        p += 8;
    }
    None
}

/// Whether the frame after `r` confirms it; `None` when the budget is used up.
fn next_frame_confirms(data: &[u8], r: &Record<'_>, budget: &mut u64) -> Option<bool> {
    let next = r.offset as usize + r.frame_bytes as usize;
    let cost = u64_at(data, next)
        .map(|raw| FrameLen::decode(raw).total().min(data.len() as u64))
        .unwrap_or(0);
    *budget = budget.checked_sub(cost)?;
    Some(match read_frame(data, next) {
        Frame::Eof | Frame::Zero => true,
        Frame::Record(n) => {
            n.rec_type == record::CRC_TYPE || crate::crc::crc32c_append(r.crc, n.data) == n.crc
        }
        Frame::Bad { .. } => false,
    })
}

/// Verifies one segment given its bytes. `name` is used in findings only.
pub fn scan_segment<'a>(name: &str, data: &'a [u8], opts: ScanOptions) -> SegmentScan<'a> {
    scan_segment_with(name, data, opts, false)
}

/// [`scan_segment`]; with `classify`, each entry's data is classified as soon as its record
/// verifies (while its bytes are in cache).
pub(crate) fn scan_segment_with<'a>(
    name: &str,
    data: &'a [u8],
    opts: ScanOptions,
    classify: bool,
) -> SegmentScan<'a> {
    let mut s = SegmentScan {
        name: name.to_string(),
        file_len: data.len() as u64,
        items: Vec::new(),
        records: 0,
        valid_bytes: 0,
        start_crc: None,
        end_crc: 0,
        end: SegmentEnd::Eof,
        findings: Vec::new(),
        damaged_at_item: None,
    };
    let mut running: u32 = 0;
    // After a resync the chain is unknown: accept the next record's CRC as the new seed.
    let mut reseed = false;
    let mut off = 0usize;
    // Work allowed for raw-mode searches after damage: a few passes over the segment.
    let mut budget = (data.len() as u64)
        .saturating_mul(8)
        .saturating_add(1 << 20);
    loop {
        let damage_at = off;
        let (kind, message, skip_to) = match read_frame(data, off) {
            Frame::Eof => {
                s.end = SegmentEnd::Eof;
                break;
            }
            Frame::Zero => {
                match first_nonzero(data, off) {
                    None => {
                        s.end = SegmentEnd::ZeroLength { offset: off as u64 };
                        break;
                    }
                    // etcd's decoder takes a zero length field as the end of the segment
                    // whatever follows (wal/decoder.go), and on start zeroes everything
                    // after it in the last segment (wal.go ReadAll, ZeroToEnd). Bytes that
                    // hold no record are therefore harmless; records are lost.
                    Some(nz) => match resync(data, off + FRAME_HEADER, &mut budget) {
                        None => {
                            s.findings.push(Finding::info(
                                FindingKind::DataAfterEnd,
                                name,
                                Some(off as u64),
                                format!(
                                    "zero length field ends the log at offset {off}; the non-zero bytes from offset {nz} hold no record: etcd stops reading here and zeroes them on start"
                                ),
                            ));
                            s.end = SegmentEnd::ZeroLength { offset: off as u64 };
                            break;
                        }
                        Some(p) => (
                            FindingKind::DataAfterEnd,
                            format!(
                                "zero length field ends the segment at offset {off}, but records follow (non-zero bytes from offset {nz}, a record at {p}): etcd stops reading here and never sees them (in the last segment it zeroes them on start)"
                            ),
                            None,
                        ),
                    },
                }
            }
            Frame::Bad {
                kind,
                message,
                skip_to,
            } => (kind, message, skip_to),
            Frame::Record(r) => {
                let next = off + r.frame_bytes as usize;
                match check_record(&r, &mut running, &mut reseed, s.items.is_empty()) {
                    Ok(()) => match decode_item(&r, classify) {
                        Ok(item) => {
                            if let Item::Crc { crc, .. } = item {
                                if s.items.is_empty() {
                                    s.start_crc = Some(crc);
                                }
                            }
                            // Only the segment's real first record: after damage and a raw-mode
                            // search the first good record is anywhere.
                            if s.records == 0
                                && s.damaged_at_item.is_none()
                                && r.rec_type != record::CRC_TYPE
                            {
                                s.findings.push(Finding::damage(
                                    FindingKind::MissingCrcRecord,
                                    name,
                                    Some(0),
                                    format!(
                                        "segment starts with a {} record, not a crc record",
                                        record::record_type_name(r.rec_type)
                                    ),
                                ));
                            }
                            s.items.push(item);
                            s.records += 1;
                            s.valid_bytes = next as u64;
                            s.end_crc = running;
                            off = next;
                            continue;
                        }
                        Err((kind, message)) => (kind, message, Some(next)),
                    },
                    Err((kind, message)) => {
                        // A torn write shows as a CRC failure with a zeroed sector.
                        let padded = &data[off + FRAME_HEADER..next];
                        let kind_msg = if kind == FindingKind::CrcMismatch {
                            match has_zeroed_sector(padded, (off + FRAME_HEADER) as u64) {
                                Some(z) => (
                                    FindingKind::TornWrite,
                                    format!("{message}; the sector at offset {z} is all zeros: torn write (etcd: unexpected EOF)"),
                                ),
                                None => (kind, message),
                            }
                        } else {
                            (kind, message)
                        };
                        // Raw mode: trust the stored CRC so one bad record does not fail all
                        // the ones after it.
                        running = r.crc;
                        (kind_msg.0, kind_msg.1, Some(next))
                    }
                }
            }
        };
        s.findings
            .push(Finding::damage(kind, name, Some(damage_at as u64), message));
        if s.damaged_at_item.is_none() {
            s.damaged_at_item = Some(s.items.len());
        }
        s.end = SegmentEnd::Damage {
            offset: damage_at as u64,
        };
        if !opts.raw {
            break;
        }
        // Raw mode: step over the bad frame when its length is intact, else search.
        let resume = match skip_to {
            Some(n) if n > off => Some(n),
            _ => {
                let found = resync(data, off + FRAME_HEADER, &mut budget);
                if let Some(p) = found {
                    s.findings.push(Finding::info(
                        FindingKind::Resynced,
                        name,
                        Some(p as u64),
                        format!(
                            "raw mode: skipped {} bytes after the damage at offset {off}; records resume here",
                            p - off
                        ),
                    ));
                    reseed = true;
                }
                found
            }
        };
        match resume {
            Some(n) => off = n,
            None => break,
        }
    }
    s
}

/// Whether etcd 3.4, meeting damage of `kind` at `offset` of its **last** segment, repairs
/// it by truncation and starts (`wal/decoder.go` returns `io.ErrUnexpectedEOF`, which
/// `etcdserver` hands to `wal.Repair` once) rather than refusing to start:
///
/// - a length field cut short (fewer than 8 bytes left): unexpected EOF, repaired;
/// - a record running past the end of the file: repaired, unless its length reaches the
///   10 MiB limit, which the decoder checks first (`max entry size limit exceeded`, fatal);
/// - a record that does not decode or fails its CRC with an all-zero sector chunk
///   (`isTornEntry`, our `torn_write`): repaired; without one (`crc_mismatch`,
///   `bad_record`): fatal;
/// - a zero length field with records behind it: not an error at all, the log ends there
///   (the records are lost and zeroed);
/// - anything decoded but refused later (unknown type, bad payload, padding) is fatal.
///
/// In any segment but the last, nothing is repaired (`isTornEntry` requires the last file,
/// and `Repair` opens only the last one).
pub fn etcd_repairs_tail(kind: FindingKind, segment: &[u8], offset: u64) -> bool {
    match kind {
        FindingKind::TruncatedLength | FindingKind::TornWrite | FindingKind::DataAfterEnd => true,
        FindingKind::TruncatedRecord => usize::try_from(offset)
            .ok()
            .and_then(|o| u64_at(segment, o))
            .map(FrameLen::decode)
            .is_some_and(|fl| fl.rec_bytes < MAX_RECORD_BYTES_V34.saturating_sub(fl.pad_bytes)),
        _ => false,
    }
}

type Problem = (FindingKind, String);

fn check_record(
    r: &Record<'_>,
    running: &mut u32,
    reseed: &mut bool,
    first: bool,
) -> Result<(), Problem> {
    if r.rec_type == record::CRC_TYPE {
        // etcd checks a crc record only once a chain is running; a segment's opening crc
        // record is checked against the previous segment later.
        if *running != 0 && !first && !*reseed && r.crc != *running {
            let prob = (
                FindingKind::CrcMismatch,
                format!(
                    "crc record carries {:#010x} but the running CRC is {:#010x} (etcd: wal: crc mismatch)",
                    r.crc, *running
                ),
            );
            *running = r.crc;
            return Err(prob);
        }
        *running = r.crc;
        *reseed = false;
        return Ok(());
    }
    let c = crate::crc::crc32c_append(*running, r.data);
    if *reseed {
        *reseed = false;
        *running = r.crc;
        return Ok(());
    }
    if c != r.crc {
        return Err((
            FindingKind::CrcMismatch,
            format!(
                "{} record: stored CRC {:#010x}, computed {:#010x} (etcd: walpb: crc mismatch)",
                record::record_type_name(r.rec_type),
                r.crc,
                c
            ),
        ));
    }
    *running = c;
    Ok(())
}

fn decode_item<'a>(r: &Record<'a>, classify: bool) -> Result<Item<'a>, Problem> {
    let offset = r.offset;
    let bad = |what: &str, e: crate::wire::WireError| {
        (
            FindingKind::BadPayload,
            format!("{what} record: payload does not decode ({e}); etcd would panic"),
        )
    };
    Ok(match r.rec_type {
        record::CRC_TYPE => Item::Crc { offset, crc: r.crc },
        record::METADATA_TYPE => Item::Metadata {
            offset,
            raw: r.data,
            metadata: Metadata::decode(r.data).map_err(|e| bad("metadata", e))?,
        },
        record::ENTRY_TYPE => {
            let entry = EntryRef::decode(r.data).map_err(|e| bad("entry", e))?;
            // Now, while the record's bytes are in cache from the CRC: a later pass over
            // every entry's data misses the cache once or twice per entry.
            let class = classify.then(|| EntryClass::of(&entry));
            Item::Entry {
                offset,
                entry,
                class,
            }
        }
        record::STATE_TYPE => Item::State {
            offset,
            state: HardState::decode(r.data).map_err(|e| bad("state", e))?,
        },
        record::SNAPSHOT_TYPE => Item::Snapshot {
            offset,
            snapshot: Box::new(WalSnapshot::decode(r.data).map_err(|e| bad("snapshot", e))?),
        },
        t => {
            return Err((
                FindingKind::UnknownRecordType,
                format!("record type {t} is unknown (etcd: unexpected block type {t})"),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::first_nonzero;

    #[test]
    fn first_nonzero_finds_the_first_non_zero_byte_at_every_position_and_start() {
        for len in [0usize, 1, 7, 255, 256, 257, 600, 1031] {
            let zeros = vec![0u8; len];
            for from in [0, 1, len / 2, len] {
                assert_eq!(first_nonzero(&zeros, from), None, "len {len} from {from}");
            }
            for at in 0..len {
                let mut b = zeros.clone();
                b[at] = 0x80;
                if at + 1 < len {
                    b[at + 1] = 1; // a later non-zero byte must not win
                }
                for from in [0, at / 2, at] {
                    assert_eq!(
                        first_nonzero(&b, from),
                        Some(at),
                        "len {len} at {at} from {from}"
                    );
                }
                assert_eq!(
                    first_nonzero(&b, at + 1),
                    (at + 1 < len).then_some(at + 1),
                    "len {len} at {at}"
                );
            }
        }
        assert_eq!(first_nonzero(&[1, 2], 3), None);
    }
}
