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

/// (segment, offset, index, term) of each entry in the log.
type Log = Vec<(usize, u64, u64, u64)>;

/// The log as the replay defines it, entry by entry from the segments' own items: an entry
/// at an index already in the log replaces it and all after it. Stops where the scan says
/// reading stopped: an entry after an index gap is the last one kept. With the snapshot
/// markers replayed and the last HardState's commit.
fn reference_log(scan: &WalScan<'_>) -> (Log, usize, Option<u64>) {
    let mut log: Log = Vec::new();
    let (mut snapshots, mut commit) = (0, None);
    for (si, seg) in scan.segments.iter().enumerate().take(scan.segments_read) {
        let stop = match &scan.stopped_at {
            Some((name, at)) if *name == seg.name => Some(*at),
            _ => None,
        };
        for item in &seg.items {
            if stop.is_some_and(|at| item.offset() > at) {
                break;
            }
            if let wal_reader::Item::Entry { offset, entry, .. } = item {
                let keep = log.partition_point(|e| e.2 < entry.index);
                log.truncate(keep);
                log.push((si, *offset, entry.index, entry.term));
            }
            match item {
                wal_reader::Item::Snapshot { .. } => snapshots += 1,
                wal_reader::Item::State { state, .. } => commit = Some(state.commit),
                _ => {}
            }
            if stop == Some(item.offset()) {
                break;
            }
        }
    }
    (log, snapshots, commit)
}

fn log_of(scan: &WalScan<'_>) -> Log {
    scan.entries
        .iter()
        .map(|e| (e.segment, e.offset, e.entry.index, e.entry.term))
        .collect()
}

#[test]
fn segments_replayed_together_give_the_log_of_the_entry_by_entry_replay() {
    // Segments large enough to cross the fill's blocks of items (HardStates between the
    // entries), some continuing the log, one rewriting the tail of the one before it
    // (a new leader), one leaving a gap, one with other metadata: in default and raw mode.
    let cases: &[&[(u64, u64, u64, u64)]] = &[
        // (first index, entries, term, node of the metadata)
        &[(1, 9000, 1, 1), (9001, 20000, 1, 1), (29001, 3, 1, 1)],
        &[
            (1, 9000, 1, 1),
            (8000, 12000, 2, 1),
            (20000, 5000, 2, 1),
            (25000, 1, 3, 1),
        ],
        &[
            (1, 100, 1, 1),
            (101, 17000, 1, 1),
            (17105, 10, 1, 1),
            (17115, 10, 1, 1),
        ],
        &[(1, 100, 1, 1), (101, 9000, 1, 2), (9101, 10, 1, 1)],
        &[(5, 0, 1, 1), (5, 8193, 1, 1), (8198, 8192, 1, 1)],
    ];
    for (ci, case) in cases.iter().enumerate() {
        let mut bufs: Vec<Vec<u8>> = Vec::new();
        let mut crc = 0;
        for (i, &(first, n, term, node)) in case.iter().enumerate() {
            let mut e = if i == 0 { Enc::first() } else { Enc::new(crc) };
            if i > 0 {
                e.metadata(node);
            }
            for k in 0..n {
                e.entry(term, first + k);
                if k % 3 == 0 {
                    e.state(term, first + k);
                }
            }
            if i == 1 {
                e.snapshot(first, term);
            }
            crc = e.crc;
            bufs.push(e.buf);
        }
        let names: Vec<String> = (0..case.len())
            .map(|i| format!("{i:016x}-{:016x}.wal", case[i].0))
            .collect();
        let segs: Vec<(&str, &[u8])> = names
            .iter()
            .zip(&bufs)
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        for raw in [false, true] {
            let scan = scan_wal(&segs, Vec::new(), ScanOptions { raw });
            let (want, snapshots, commit) = reference_log(&scan);
            let got = log_of(&scan);
            assert_eq!(got.len(), want.len(), "case {ci} raw {raw}");
            assert!(got == want, "case {ci} raw {raw}: the logs differ");
            let records: usize = scan.segments[..scan.segments_read]
                .iter()
                .map(|s| {
                    s.items
                        .iter()
                        .filter(|i| matches!(i, wal_reader::Item::Entry { .. }))
                        .count()
                })
                .sum();
            if scan.stopped_at.is_none() {
                assert_eq!(scan.entry_records, records as u64, "case {ci} raw {raw}");
                assert_eq!(
                    scan.rewritten as usize,
                    records - got.len(),
                    "case {ci} raw {raw}"
                );
            }
            assert_eq!(scan.snapshots.len(), snapshots, "case {ci} raw {raw}");
            assert_eq!(
                scan.hard_state.map(|h| h.commit),
                commit,
                "case {ci} raw {raw}"
            );
        }
    }
}
