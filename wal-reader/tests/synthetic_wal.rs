//! Behaviour on WALs built record by record in the test (a minimal encoder following etcd's
//! wal/encoder.go), for cases real fixtures do not show: raft log truncation, an
//! uncommitted tail, records hidden behind a zero length field, a broken link between
//! segments, conflicting metadata.

use wal_reader::{restart_view, scan_wal, FindingKind, ScanOptions, WalScan};

fn varint(mut x: u64, out: &mut Vec<u8>) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

/// Builds segments with a running CRC-32C chain.
struct Enc {
    buf: Vec<u8>,
    crc: u32,
}

impl Enc {
    /// A segment after one whose running CRC is `prev_crc`: it opens with the crc record.
    fn new(prev_crc: u32) -> Enc {
        let mut e = Enc {
            buf: Vec::new(),
            crc: prev_crc,
        };
        e.record(4, None);
        e
    }
    /// The first segment as etcd creates it: crc record, metadata of node 1, empty snapshot.
    fn first() -> Enc {
        let mut e = Enc::new(0);
        e.metadata(1);
        e.snapshot(0, 0);
        e
    }
    fn record(&mut self, t: u64, data: Option<&[u8]>) {
        if t != 4 {
            self.crc = crc32c::crc32c_append(self.crc, data.unwrap_or(&[]));
        }
        let mut body = vec![0x08];
        varint(t, &mut body);
        body.push(0x10);
        varint(u64::from(self.crc), &mut body);
        if let Some(d) = data {
            body.push(0x1a);
            varint(d.len() as u64, &mut body);
            body.extend_from_slice(d);
        }
        let pad = (8 - body.len() % 8) % 8;
        let mut len = body.len() as u64;
        if pad != 0 {
            len |= (0x80 | pad as u64) << 56;
        }
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(&body);
        self.buf.extend(std::iter::repeat_n(0u8, pad));
    }
    fn metadata(&mut self, node: u64) {
        let mut d = vec![0x08];
        varint(node, &mut d);
        d.push(0x10);
        varint(7, &mut d);
        self.record(1, Some(&d));
    }
    fn entry(&mut self, term: u64, index: u64) {
        let mut d = vec![0x10];
        varint(term, &mut d);
        d.push(0x18);
        varint(index, &mut d);
        self.record(2, Some(&d));
    }
    fn state(&mut self, term: u64, commit: u64) {
        let mut d = vec![0x08];
        varint(term, &mut d);
        d.push(0x18);
        varint(commit, &mut d);
        self.record(3, Some(&d));
    }
    fn snapshot(&mut self, index: u64, term: u64) {
        let mut d = Vec::new();
        if index != 0 {
            d.push(0x08);
            varint(index, &mut d);
            d.push(0x10);
            varint(term, &mut d);
        }
        self.record(5, Some(&d));
    }
}

const SEG0: &str = "0000000000000000-0000000000000000.wal";
const SEG1: &str = "0000000000000001-0000000000000002.wal";

fn scan_segments<'a>(segs: &[(&str, &'a [u8])]) -> WalScan<'a> {
    scan_wal(segs, Vec::new(), ScanOptions::default())
}

#[test]
fn rewritten_entries_count_once_and_the_tail_above_commit_is_uncommitted() {
    let mut e = Enc::first();
    for i in 1..=5 {
        e.entry(1, i);
    }
    // A new leader in term 2 rewrites from index 4 on.
    e.entry(2, 4);
    e.entry(2, 5);
    e.entry(2, 6);
    e.state(2, 5);
    let scan = scan_segments(&[(SEG0, &e.buf)]);
    assert!(!scan.has_damage(), "{:?}", scan.findings);
    assert_eq!(scan.entries.len(), 6);
    assert_eq!(scan.rewritten, 2);
    assert_eq!(scan.entries[3].entry.term, 2);
    let rv = restart_view(&scan, None);
    assert_eq!((rv.committed, rv.uncommitted), (5, 1));
}

#[test]
fn records_behind_a_zero_length_field_are_reported_as_data_after_end() {
    let mut e = Enc::first();
    e.entry(1, 1);
    let cut = e.buf.len();
    e.entry(1, 2);
    e.entry(1, 3);
    // Zero the length field of entry 2: etcd would stop reading there without a word.
    e.buf[cut..cut + 8].fill(0);
    let scan = scan_segments(&[(SEG0, &e.buf)]);
    let f = scan.findings.iter().find(|f| f.is_damage()).unwrap();
    assert_eq!(f.kind, FindingKind::DataAfterEnd);
    assert_eq!(f.offset, Some(cut as u64));
    assert_eq!(scan.last_index(), Some(1));
    let raw = scan_wal(&[(SEG0, &e.buf)], Vec::new(), ScanOptions { raw: true });
    assert_eq!(
        raw.last_index(),
        Some(3),
        "raw mode finds the records behind it"
    );
}

#[test]
fn a_segment_whose_crc_record_does_not_continue_the_chain_is_a_chain_break() {
    let mut a = Enc::first();
    a.entry(1, 1);
    let mut b = Enc::new(a.crc ^ 1);
    b.metadata(1);
    b.entry(1, 2);
    let scan = scan_segments(&[(SEG0, &a.buf), (SEG1, &b.buf)]);
    let f = scan.findings.iter().find(|f| f.is_damage()).unwrap();
    assert_eq!(f.kind, FindingKind::CrcChainBreak);
    assert_eq!(f.file, SEG1);
    // With the right link the same pair is clean.
    let mut b = Enc::new(a.crc);
    b.metadata(1);
    b.entry(1, 2);
    let scan = scan_segments(&[(SEG0, &a.buf), (SEG1, &b.buf)]);
    assert!(!scan.has_damage(), "{:?}", scan.findings);
    assert_eq!(scan.last_index(), Some(2));
}

#[test]
fn differing_metadata_in_a_later_segment_is_a_conflict() {
    let mut a = Enc::first();
    a.entry(1, 1);
    let mut b = Enc::new(a.crc);
    b.metadata(2);
    b.entry(1, 2);
    let scan = scan_segments(&[(SEG0, &a.buf), (SEG1, &b.buf)]);
    assert!(scan
        .findings
        .iter()
        .any(|f| f.kind == FindingKind::MetadataConflict));
}

#[test]
fn restart_requires_the_snapshot_record_and_the_next_index() {
    let mut e = Enc::first();
    for i in 1..=4 {
        e.entry(1, i);
    }
    e.snapshot(3, 1);
    e.state(1, 4);
    let scan = scan_segments(&[(SEG0, &e.buf)]);
    let rv = restart_view(&scan, Some((3, 1)));
    assert!(rv.snapshot_in_wal);
    assert_eq!((rv.entries, rv.first_index), (1, Some(4)));
    let rv = restart_view(&scan, Some((3, 2)));
    assert!(rv
        .findings
        .iter()
        .any(|f| f.kind == FindingKind::SnapshotMismatch));
    let rv = restart_view(&scan, Some((2, 1)));
    assert!(rv
        .findings
        .iter()
        .any(|f| f.kind == FindingKind::SnapshotNotFound));
}
