//! WAL record framing and the small fixed messages inside records, decoded without copying.
//!
//! On-disk layout of one record (etcd `wal/encoder.go`, `wal/decoder.go`):
//!
//! ```text
//! offset 0   u64 little-endian length field
//!              bits 0..56  = n, the length of the walpb.Record bytes
//!              bits 56..64 = 0 when n % 8 == 0, else 0x80 | pad, pad = 8 - n % 8
//! offset 8   n bytes of walpb.Record {type=1 int64, crc=2 uint32, data=3 bytes}
//! offset 8+n pad zero bytes, so the next length field is 8-byte aligned
//! ```
//!
//! A length field of zero marks preallocated space: the end of the written part.

use crate::wire::{self, Fields, WireError};

/// Size of the length field in front of every record.
pub const FRAME_HEADER: usize = 8;
/// Sector size etcd assumes when it decides whether a failed record is a torn write.
pub const SECTOR: usize = 512;
/// etcd 3.4 refuses a record of 10 MiB or more (`wal: max entry size limit exceeded`).
pub const MAX_RECORD_BYTES_V34: u64 = 10 * 1024 * 1024;

/// walpb.Record type: etcdserverpb.Metadata.
pub const METADATA_TYPE: i64 = 1;
/// walpb.Record type: raftpb.Entry.
pub const ENTRY_TYPE: i64 = 2;
/// walpb.Record type: raftpb.HardState.
pub const STATE_TYPE: i64 = 3;
/// walpb.Record type: running CRC at the start of a segment.
pub const CRC_TYPE: i64 = 4;
/// walpb.Record type: walpb.Snapshot marker.
pub const SNAPSHOT_TYPE: i64 = 5;

/// Name of a walpb.Record type, as used in reports.
pub fn record_type_name(t: i64) -> &'static str {
    match t {
        METADATA_TYPE => "metadata",
        ENTRY_TYPE => "entry",
        STATE_TYPE => "state",
        CRC_TYPE => "crc",
        SNAPSHOT_TYPE => "snapshot",
        _ => "unknown",
    }
}

/// The decoded length field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLen {
    /// Length of the walpb.Record bytes.
    pub rec_bytes: u64,
    /// Padding after them.
    pub pad_bytes: u64,
}

impl FrameLen {
    /// Splits a raw length field the way etcd's decoder does.
    pub fn decode(raw: u64) -> FrameLen {
        let rec_bytes = raw & 0x00ff_ffff_ffff_ffff;
        // A set top bit (a negative int64) means the low 3 bits of the top byte hold the pad.
        let pad_bytes = if raw >> 63 == 1 { (raw >> 56) & 7 } else { 0 };
        FrameLen {
            rec_bytes,
            pad_bytes,
        }
    }

    /// Whether the top byte is what etcd's encoder writes for this length.
    pub fn is_canonical(raw: u64) -> bool {
        let f = FrameLen::decode(raw);
        let pad = (8 - f.rec_bytes % 8) % 8;
        let top = raw >> 56;
        if pad == 0 {
            top == 0
        } else {
            top == 0x80 | pad
        }
    }

    /// Total bytes of the frame: header + record + pad (saturating; only compared with sizes).
    pub fn total(&self) -> u64 {
        (FRAME_HEADER as u64)
            .saturating_add(self.rec_bytes)
            .saturating_add(self.pad_bytes)
    }
}

/// One walpb.Record, borrowing its data from the segment bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Byte offset of the length field within the segment file.
    pub offset: u64,
    /// Bytes the record occupies in the file (length field, record, padding).
    pub frame_bytes: u64,
    /// walpb.Record.type.
    pub rec_type: i64,
    /// walpb.Record.crc: the running CRC-32C after this record's data.
    pub crc: u32,
    /// walpb.Record.data.
    pub data: &'a [u8],
}

/// Reads `buf` as the exact field sequence etcd's encoder writes: each of `tags` once, in
/// order (a varint field, or a length-delimited one for the last when `last_len`), and
/// nothing after. `None` for anything else, which then takes the general path; on bytes it
/// accepts, the general decode gives the same values, since there is nothing to merge or
/// skip.
#[inline]
fn canonical<'a, const N: usize>(
    buf: &'a [u8],
    tags: [u8; N],
    last_len: bool,
) -> Option<([u64; N], &'a [u8])> {
    let mut v = [0u64; N];
    let mut data: &'a [u8] = &[];
    let mut pos = 0usize;
    for (i, &t) in tags.iter().enumerate() {
        if *buf.get(pos)? != t {
            return None;
        }
        pos += 1;
        let x = wire::read_varint(buf, &mut pos).ok()?;
        if last_len && i + 1 == N {
            let end = pos.checked_add(usize::try_from(x).ok()?)?;
            data = buf.get(pos..end)?;
            pos = end;
        } else {
            v[i] = x;
        }
    }
    (pos == buf.len()).then_some((v, data))
}

/// Decodes the walpb.Record message (proto2: type=1, crc=2, data=3).
pub fn decode_record_body(buf: &[u8]) -> Result<(i64, u32, &[u8]), WireError> {
    // The hot path: `type`, `crc`, `data`, as etcd writes every record.
    if let Some(([t, c, _], data)) = canonical(buf, [0x08, 0x10, 0x1a], true) {
        return Ok((t as i64, c as u32, data));
    }
    record_body_general(buf)
}

/// [`decode_record_body`] for any field order, repetition or unknown field.
fn record_body_general(buf: &[u8]) -> Result<(i64, u32, &[u8]), WireError> {
    let mut rec_type = 0i64;
    let mut crc = 0u32;
    let mut data: &[u8] = &[];
    for f in Fields::new(buf) {
        let (n, v) = f?;
        match n {
            1 => rec_type = wire::varint(n, v)? as i64,
            // gogo keeps the low 32 bits of an over-long uint32 varint.
            2 => crc = wire::varint(n, v)? as u32,
            3 => data = wire::bytes(n, v)?,
            _ => {}
        }
    }
    Ok((rec_type, crc, data))
}

/// raftpb.EntryType numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum EntryType {
    /// 0: data is an InternalRaftRequest (or a v2 Request), empty for a leader's no-op.
    Normal,
    /// 1: data is a raftpb.ConfChange.
    ConfChange,
    /// 2: data is a raftpb.ConfChangeV2.
    ConfChangeV2,
    /// Any other number.
    Unknown(i32),
}

impl EntryType {
    /// From the wire number.
    pub fn from_i32(v: i32) -> EntryType {
        match v {
            0 => EntryType::Normal,
            1 => EntryType::ConfChange,
            2 => EntryType::ConfChangeV2,
            n => EntryType::Unknown(n),
        }
    }

    /// raftpb's enum name (`EntryNormal`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            EntryType::Normal => "EntryNormal",
            EntryType::ConfChange => "EntryConfChange",
            EntryType::ConfChangeV2 => "EntryConfChangeV2",
            EntryType::Unknown(_) => "EntryUnknown",
        }
    }
}

/// raftpb.Entry with its data borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// Raft term.
    pub term: u64,
    /// Raft index.
    pub index: u64,
    /// Entry type.
    pub entry_type: EntryType,
    /// Entry data (an InternalRaftRequest for normal entries).
    pub data: &'a [u8],
}

impl<'a> EntryRef<'a> {
    /// Decodes raftpb.Entry {Type=1, Term=2, Index=3, Data=4}.
    pub fn decode(buf: &'a [u8]) -> Result<EntryRef<'a>, WireError> {
        // The hot path: Type, Term, Index, Data in field order, as gogo marshals them.
        if let Some(([t, term, index, _], data)) = canonical(buf, [0x08, 0x10, 0x18, 0x22], true) {
            return Ok(EntryRef {
                term,
                index,
                entry_type: EntryType::from_i32(t as i32),
                data,
            });
        }
        Self::decode_general(buf)
    }

    /// [`EntryRef::decode`] for any field order, repetition or unknown field.
    fn decode_general(buf: &'a [u8]) -> Result<EntryRef<'a>, WireError> {
        let mut e = EntryRef {
            term: 0,
            index: 0,
            entry_type: EntryType::Normal,
            data: &[],
        };
        for f in Fields::new(buf) {
            let (n, v) = f?;
            match n {
                1 => e.entry_type = EntryType::from_i32(wire::varint(n, v)? as i32),
                2 => e.term = wire::varint(n, v)?,
                3 => e.index = wire::varint(n, v)?,
                4 => e.data = wire::bytes(n, v)?,
                _ => {}
            }
        }
        Ok(e)
    }
}

/// raftpb.HardState.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct HardState {
    /// Current term.
    pub term: u64,
    /// Member voted for in `term` (0 = none).
    pub vote: u64,
    /// Highest index known committed.
    pub commit: u64,
}

impl HardState {
    /// Decodes raftpb.HardState {term=1, vote=2, commit=3}.
    pub fn decode(buf: &[u8]) -> Result<HardState, WireError> {
        let mut s = HardState::default();
        for f in Fields::new(buf) {
            let (n, v) = f?;
            match n {
                1 => s.term = wire::varint(n, v)?,
                2 => s.vote = wire::varint(n, v)?,
                3 => s.commit = wire::varint(n, v)?,
                _ => {}
            }
        }
        Ok(s)
    }
}

/// etcdserverpb.Metadata: who wrote the WAL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Metadata {
    /// Member id.
    pub node_id: u64,
    /// Cluster id.
    pub cluster_id: u64,
}

impl Metadata {
    /// Decodes etcdserverpb.Metadata {NodeID=1, ClusterID=2}.
    pub fn decode(buf: &[u8]) -> Result<Metadata, WireError> {
        let mut m = Metadata::default();
        for f in Fields::new(buf) {
            let (n, v) = f?;
            match n {
                1 => m.node_id = wire::varint(n, v)?,
                2 => m.cluster_id = wire::varint(n, v)?,
                _ => {}
            }
        }
        Ok(m)
    }
}

/// raftpb.ConfState (voters, learners; the joint-consensus fields of 3.4+ too).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ConfState {
    /// Voting members.
    pub voters: Vec<u64>,
    /// Learners.
    pub learners: Vec<u64>,
    /// Voters of the outgoing configuration (joint consensus).
    pub voters_outgoing: Vec<u64>,
    /// Learners once the joint configuration is left.
    pub learners_next: Vec<u64>,
    /// Leave the joint configuration automatically.
    pub auto_leave: bool,
}

/// Most ids a ConfState may list before the rest is ignored (a real cluster has a handful);
/// keeps a hostile packed list from growing memory beyond the input size.
const MAX_CONF_IDS: usize = 1 << 16;

impl ConfState {
    /// Decodes raftpb.ConfState.
    pub fn decode(buf: &[u8]) -> Result<ConfState, WireError> {
        let mut c = ConfState::default();
        for f in Fields::new(buf) {
            let (n, v) = f?;
            let list = match n {
                1 => &mut c.voters,
                2 => &mut c.learners,
                3 => &mut c.voters_outgoing,
                4 => &mut c.learners_next,
                5 => {
                    c.auto_leave = wire::varint(n, v)? != 0;
                    continue;
                }
                _ => continue,
            };
            wire::repeated_u64(n, v, |x| {
                if list.len() < MAX_CONF_IDS {
                    list.push(x)
                }
            })?;
        }
        Ok(c)
    }
}

/// walpb.Snapshot: a marker that a snapshot at (index, term) was taken.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WalSnapshot {
    /// Raft index of the snapshot.
    pub index: u64,
    /// Raft term of the snapshot.
    pub term: u64,
    /// Configuration at the snapshot (etcd 3.5+ writes it; 3.4 does not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conf_state: Option<Box<ConfState>>,
}

impl WalSnapshot {
    /// Decodes walpb.Snapshot {index=1, term=2, conf_state=3}.
    pub fn decode(buf: &[u8]) -> Result<WalSnapshot, WireError> {
        let mut s = WalSnapshot::default();
        for f in Fields::new(buf) {
            let (n, v) = f?;
            match n {
                1 => s.index = wire::varint(n, v)?,
                2 => s.term = wire::varint(n, v)?,
                3 => s.conf_state = Some(Box::new(ConfState::decode(wire::bytes(n, v)?)?)),
                _ => {}
            }
        }
        Ok(s)
    }
}

/// True when any sector-aligned chunk of `data` (which starts at file offset `file_off`) is all
/// zeros: etcd's test for a torn write (a sector that never reached the disk).
pub fn has_zeroed_sector(data: &[u8], file_off: u64) -> Option<u64> {
    let mut off = file_off;
    let mut rest = data;
    while !rest.is_empty() {
        let chunk_len = SECTOR - (off % SECTOR as u64) as usize;
        let n = chunk_len.min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        if chunk.iter().all(|&b| b == 0) {
            return Some(off);
        }
        off += n as u64;
        rest = tail;
    }
    None
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_canonical_fast_path_decodes_as_the_general_one() {
        let mut x = 0x1234_5678_9abc_def1u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut checked = 0;
        for _ in 0..20_000 {
            // A canonical record or entry with random varints, then maybe a random byte changed.
            let mut b = Vec::new();
            let entry = next() % 2 == 0;
            let tags: &[u8] = if entry {
                &[0x08, 0x10, 0x18]
            } else {
                &[0x08, 0x10]
            };
            for &t in tags {
                b.push(t);
                let mut v = next() >> (next() % 64);
                while v >= 0x80 {
                    b.push(v as u8 | 0x80);
                    v >>= 7;
                }
                b.push(v as u8);
            }
            b.push(if entry { 0x22 } else { 0x1a });
            let n = (next() % 20) as u8;
            b.push(n);
            b.extend((0..n).map(|i| i.wrapping_mul(37)));
            if next() % 3 == 0 {
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
            }
            if next() % 5 == 0 {
                b.truncate((next() as usize) % (b.len() + 1));
            }
            if entry {
                assert_eq!(
                    EntryRef::decode(&b),
                    EntryRef::decode_general(&b),
                    "{b:02x?}"
                );
            } else {
                assert_eq!(decode_record_body(&b), record_body_general(&b), "{b:02x?}");
            }
            checked += 1;
        }
        assert_eq!(checked, 20_000);
    }

    use super::*;

    #[test]
    fn padded_length_field_splits_into_record_and_pad() {
        let raw = 13u64 | (0x83u64 << 56);
        assert_eq!(
            FrameLen::decode(raw),
            FrameLen {
                rec_bytes: 13,
                pad_bytes: 3
            }
        );
        assert!(FrameLen::is_canonical(raw));
        assert!(!FrameLen::is_canonical(13));
        assert!(FrameLen::is_canonical(16));
    }

    #[test]
    fn entry_decodes_with_borrowed_data() {
        // Type=0, Term=2, Index=7, Data="ab"
        let buf = [0x08, 0x00, 0x10, 0x02, 0x18, 0x07, 0x22, 0x02, b'a', b'b'];
        let e = EntryRef::decode(&buf).unwrap();
        assert_eq!((e.term, e.index, e.data), (2, 7, &b"ab"[..]));
        assert_eq!(e.data.as_ptr(), buf[8..].as_ptr());
    }

    #[test]
    fn zeroed_sector_detection_follows_sector_boundaries() {
        let mut d = vec![1u8; 1024];
        // bytes at file offsets 512..1024 = d[500..1012] when data starts at file offset 12
        for b in &mut d[500..1012] {
            *b = 0;
        }
        assert_eq!(has_zeroed_sector(&d, 12), Some(512));
        assert_eq!(has_zeroed_sector(&[1u8; 1024], 12), None);
    }
}
