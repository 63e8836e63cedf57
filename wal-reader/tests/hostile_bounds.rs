//! Forged WAL bytes that would make a naive reader panic, allocate by a length field,
//! recurse or loop: each test names the fault and proves it ends in a finding.

use wal_reader::pb::NormalData;
use wal_reader::text::{dump_row, DecodedEntry};
use wal_reader::{scan_segment, scan_wal, EntryRef, EntryType, FindingKind, ScanOptions};

fn varint(mut x: u64, out: &mut Vec<u8>) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

/// A length-delimited field `field` holding `body`.
fn len_field(field: u64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 12);
    varint(field << 3 | 2, &mut out);
    varint(body.len() as u64, &mut out);
    out.extend_from_slice(body);
    out
}

/// One framed record of type `t` carrying `data`, its CRC chained from `crc`.
fn record(t: u64, crc: &mut u32, data: &[u8]) -> Vec<u8> {
    if t != 4 {
        *crc = crc32c::crc32c_append(*crc, data);
    }
    let mut body = vec![0x08];
    varint(t, &mut body);
    body.push(0x10);
    varint(u64::from(*crc), &mut body);
    body.extend_from_slice(&len_field(3, data));
    let pad = (8 - body.len() % 8) % 8;
    let mut len = body.len() as u64;
    if pad != 0 {
        len |= (0x80 | pad as u64) << 56;
    }
    let mut out = len.to_le_bytes().to_vec();
    out.extend_from_slice(&body);
    out.extend(std::iter::repeat_n(0u8, pad));
    out
}

/// A segment: the opening crc record, then `f` appends records.
fn segment(f: impl FnOnce(&mut Vec<u8>, &mut u32)) -> Vec<u8> {
    let mut crc = 0;
    let mut seg = record(4, &mut crc, &[]);
    f(&mut seg, &mut crc);
    seg
}

/// Length of the opening crc record: the offset of the record after it.
const CRC_RECORD_LEN: u64 = 16;

fn both_modes(seg: &[u8]) -> [wal_reader::SegmentScan<'_>; 2] {
    [false, true].map(|raw| scan_segment("x.wal", seg, ScanOptions { raw }))
}

#[test]
fn wal_length_field_u64_max_is_a_finding() {
    for raw_len in [u64::MAX, 0x00ff_ffff_ffff_ffff, 0x80ff_ffff_ffff_fff9] {
        let seg = segment(|s, _| {
            s.extend_from_slice(&raw_len.to_le_bytes());
            s.extend_from_slice(&[0xab; 64]);
        });
        for s in both_modes(&seg) {
            assert!(
                s.findings
                    .iter()
                    .any(|f| f.is_damage() && f.offset == Some(CRC_RECORD_LEN)),
                "{raw_len:#x}: {:?}",
                s.findings
            );
            assert_eq!(s.records, 1);
        }
        wal_reader::fuzz::exercise(&seg);
    }
}

#[test]
fn length_field_running_exactly_to_the_end_of_the_file_is_read() {
    // The largest length that fits: a record whose padding ends at the file's last byte.
    let seg = segment(|s, crc| s.extend_from_slice(&record(3, crc, &[0x08, 0x01])));
    let [strict, _] = both_modes(&seg);
    assert_eq!(strict.records, 2);
    assert!(strict.crc_ok());
}

#[test]
fn a_record_of_ten_thousand_nested_groups_is_an_error_not_a_recursion() {
    // walpb.Record with field 7 opening 10,000 groups: the scanner refuses past its depth
    // limit instead of descending.
    let mut body = vec![0x08, 0x02];
    for _ in 0..10_000 {
        body.push(7 << 3 | 3);
    }
    let pad = (8 - body.len() % 8) % 8;
    let len = body.len() as u64
        | if pad != 0 {
            (0x80 | pad as u64) << 56
        } else {
            0
        };
    let seg = segment(|s, _| {
        s.extend_from_slice(&len.to_le_bytes());
        s.extend_from_slice(&body);
        s.extend(std::iter::repeat_n(0u8, pad));
    });
    for s in both_modes(&seg) {
        assert!(
            s.findings
                .iter()
                .any(|f| f.kind == FindingKind::BadRecord && f.offset == Some(CRC_RECORD_LEN)),
            "{:?}",
            s.findings
        );
    }
}

/// An InternalRaftRequest whose txn nests `depth` txns through `success` ops.
fn nested_txn(depth: usize) -> Vec<u8> {
    // TxnRequest { success: [RequestOp { request_txn: <inner> }] }
    let mut txn = Vec::new();
    for _ in 0..depth {
        let op = len_field(4, &txn); // RequestOp.request_txn = 4
        txn = len_field(2, &op); // TxnRequest.success = 2
    }
    len_field(6, &txn) // InternalRaftRequest.txn = 6
}

#[test]
fn deeply_nested_txn_in_an_entry_is_bounded() {
    // 30 levels decode; 5,000 levels are refused by the decoder's recursion limit and
    // the entry is shown as undecodable, without a stack overflow anywhere.
    for (depth, decodes) in [(30, true), (5_000, false)] {
        let data = nested_txn(depth);
        let e = EntryRef {
            term: 1,
            index: 1,
            entry_type: EntryType::Normal,
            data: &data,
        };
        let d = DecodedEntry::decode(&e);
        let internal = matches!(&d, DecodedEntry::Normal(NormalData::Internal(_)));
        assert_eq!(internal, decodes, "depth {depth}");
        let row = dump_row(&e, &wal_reader::EntryView::new(&e), None);
        assert!(!row.is_empty());
    }
}

#[test]
fn a_segment_of_deeply_nested_txn_entries_scans_and_prints() {
    let data = nested_txn(5_000);
    let seg = segment(|s, crc| {
        let mut entry = vec![0x10, 0x01, 0x18, 0x01];
        entry.extend_from_slice(&len_field(4, &data));
        s.extend_from_slice(&record(2, crc, &entry));
    });
    let scan = scan_wal(
        &[("0000000000000000-0000000000000000.wal", &seg)],
        Vec::new(),
        ScanOptions::default(),
    );
    assert_eq!(scan.entries.len(), 1);
    wal_reader::fuzz::exercise(&seg);
}

#[test]
fn conf_state_with_a_million_voters_keeps_a_bounded_list() {
    // walpb.Snapshot { conf_state { voters: 1,000,000 packed varints } }: the list is
    // capped, whatever the count.
    let mut packed = Vec::new();
    for i in 0..1_000_000u64 {
        varint(i, &mut packed);
    }
    let conf = len_field(1, &packed);
    let mut snap = vec![0x08, 0x05, 0x10, 0x01];
    snap.extend_from_slice(&len_field(3, &conf));
    let s = wal_reader::WalSnapshot::decode(&snap).unwrap();
    let voters = s.conf_state.map(|c| c.voters.len()).unwrap_or(0);
    assert!(voters > 0 && voters <= 1 << 16, "{voters}");
}

#[test]
fn every_truncation_of_a_small_segment_is_a_finding_or_clean_end() {
    let seg = segment(|s, crc| {
        for i in 1..6u64 {
            let mut entry = vec![0x10, 0x01, 0x18];
            varint(i, &mut entry);
            s.extend_from_slice(&record(2, crc, &entry));
        }
    });
    for cut in 0..=seg.len() {
        for s in both_modes(&seg[..cut]) {
            assert!(s.valid_bytes <= cut as u64);
        }
        wal_reader::fuzz::exercise(&seg[..cut]);
    }
}

#[test]
fn a_txn_of_millions_of_empty_ops_is_not_decoded() {
    // 2,000,000 two-byte empty RequestOps in a 4 MB entry would decode to ~220 MB of
    // structs; past MAX_TXN_MESSAGES the entry is left undecoded instead.
    let n = wal_reader::pb::MAX_TXN_MESSAGES as usize + 1;
    let mut txn = Vec::with_capacity(2 * n);
    for _ in 0..n {
        txn.extend_from_slice(&[0x12, 0x00]); // TxnRequest.success = RequestOp {}
    }
    let data = len_field(6, &txn);
    assert!(matches!(NormalData::decode(&data), NormalData::Unknown));
    // At the limit it still decodes.
    let at_limit = len_field(6, &txn[2..]);
    assert!(matches!(
        NormalData::decode(&at_limit),
        NormalData::Internal(_)
    ));
    // The in-place view draws the same line.
    let view = |d: &[u8]| {
        wal_reader::EntryView::new(&EntryRef {
            term: 1,
            index: 1,
            entry_type: EntryType::Normal,
            data: d,
        })
        .kind
    };
    assert_eq!(view(&data), wal_reader::DataKind::UndecodableNormal);
    assert_eq!(view(&at_limit), wal_reader::DataKind::Internal);
}
