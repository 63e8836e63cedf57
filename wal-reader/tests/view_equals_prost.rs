//! The in-place [`EntryView`] classifies and visits every entry exactly as the prost
//! decode ([`DecodedEntry`]) does: on every entry of the fixture WALs, and on thousands of
//! mutated copies of them (bytes flipped, cut, repeated, reordered), where prost's rules
//! for merged messages, last-wins scalars, oneofs, wire types and nesting decide.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use wal_reader::pb::{NormalData, Scalar, Visit, Visitor};
use wal_reader::text::{compact_text, dump_row, Redact};
use wal_reader::{DataKind, DecodedEntry, EntryRef, EntryType, EntryView, ScanOptions, WalDir};

/// Every field a visit hands out, nested messages in braces.
struct Trace(String);

impl Visitor for Trace {
    fn scalar(&mut self, name: &'static str, value: Scalar<'_>) {
        let _ = write!(self.0, "{name}={value:?};");
    }
    fn message(&mut self, name: &'static str, m: &dyn Visit) {
        let _ = write!(self.0, "{name}{{");
        m.visit(self);
        self.0.push('}');
    }
}

fn trace(m: &dyn Visit) -> String {
    let mut t = Trace(String::new());
    m.visit(&mut t);
    t.0
}

fn kind_of(d: &DecodedEntry) -> DataKind {
    match d {
        DecodedEntry::Normal(NormalData::Empty) => DataKind::Empty,
        DecodedEntry::Normal(NormalData::Internal(_)) => DataKind::Internal,
        DecodedEntry::Normal(NormalData::V2(_)) => DataKind::V2,
        DecodedEntry::Normal(NormalData::Unknown) => DataKind::UndecodableNormal,
        DecodedEntry::ConfChange(Some(_)) => DataKind::ConfChange,
        DecodedEntry::ConfChange(None) => DataKind::BadConfChange,
        DecodedEntry::ConfChangeV2(Some(_)) => DataKind::ConfChangeV2,
        DecodedEntry::ConfChangeV2(None) => DataKind::BadConfChangeV2,
        DecodedEntry::Unknown => DataKind::UnknownType,
    }
}

fn prost_message(d: &DecodedEntry) -> Option<&dyn Visit> {
    match d {
        DecodedEntry::Normal(NormalData::Internal(r)) => Some(r.as_ref()),
        DecodedEntry::Normal(NormalData::V2(r)) => Some(r.as_ref()),
        DecodedEntry::ConfChange(Some(c)) => Some(c),
        DecodedEntry::ConfChangeV2(Some(c)) => Some(c),
        _ => None,
    }
}

/// Asserts the two agree on `e`; returns whether it decoded to a message.
fn agree(e: &EntryRef<'_>, what: &str) -> bool {
    let d = DecodedEntry::decode(e);
    let v = EntryView::new(e);
    assert_eq!(v.kind, kind_of(&d), "{what}: kind of {:02x?}", e.data);
    match (prost_message(&d), v.message()) {
        (Some(p), Some(m)) => {
            assert_eq!(trace(&m), trace(p), "{what}: fields of {:02x?}", e.data);
            assert_eq!(compact_text(&m, None), compact_text(p, None), "{what}");
            let hides = |k: &[u8]| k.starts_with(b"/registry/secrets/") || k.first() == Some(&b'/');
            let red = Redact {
                hides: &hides,
                marker: "<hidden>",
                password_marker: Some("<pw>"),
            };
            assert_eq!(
                compact_text(&m, Some(&red)),
                compact_text(p, Some(&red)),
                "{what}"
            );
            if matches!(v.kind, DataKind::Internal | DataKind::ConfChangeV2) {
                let kind = if v.kind == DataKind::Internal {
                    "norm"
                } else {
                    "conf"
                };
                let red = Some(&red).filter(|_| v.kind == DataKind::Internal);
                assert_eq!(
                    dump_row(e, &v, red),
                    format!(
                        "{:4}\t{:10}\t{kind}\t{}",
                        e.term,
                        e.index,
                        compact_text(p, red)
                    ),
                    "{what}"
                );
            }
            if let DecodedEntry::Normal(NormalData::Internal(r)) = &d {
                let mut names = Vec::new();
                v.request_names(|n| names.push(n));
                assert_eq!(names, r.request_names(), "{what}");
            }
            true
        }
        (None, None) => false,
        (p, m) => panic!("{what}: prost {} view {}", p.is_some(), m.is_some()),
    }
}

fn wal_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if !e.file_type().is_ok_and(|t| t.is_dir()) || p.ends_with("huge") {
            continue;
        }
        if p.file_name().is_some_and(|n| n == "wal") {
            out.push(p.clone());
        }
        wal_dirs(&p, out);
    }
}

/// Data of every distinct entry of the fixture WALs, with its type.
fn fixture_entries() -> Vec<(EntryType, Vec<u8>)> {
    let mut dirs = Vec::new();
    wal_dirs(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures"),
        &mut dirs,
    );
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for d in dirs {
        let Ok(wal) = WalDir::open(&d) else { continue };
        let scan = wal.scan(ScanOptions { raw: true });
        for e in &scan.entries {
            if seen.insert((e.entry.entry_type.name(), e.entry.data.to_vec())) {
                out.push((e.entry.entry_type, e.entry.data.to_vec()));
            }
        }
    }
    out
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn entry(t: EntryType, data: &[u8]) -> EntryRef<'_> {
    EntryRef {
        term: 1,
        index: 1,
        entry_type: t,
        data,
    }
}

#[test]
fn every_fixture_entry_reads_the_same_in_place_as_decoded() {
    let entries = fixture_entries();
    let mut decoded = 0;
    for (t, data) in &entries {
        decoded += usize::from(agree(&entry(*t, data), "fixture"));
    }
    assert!(decoded > 1000, "{decoded} of {}", entries.len());
}

#[test]
fn mutated_entries_read_the_same_in_place_as_decoded() {
    let entries = fixture_entries();
    assert!(!entries.is_empty());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut decoded = 0;
    for round in 0..6000 {
        let (t, data) = &entries[rng.below(entries.len())];
        let mut d = data.clone();
        match round % 6 {
            // A flipped byte: wire types, lengths and tags go wrong in every way.
            0 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
            // Twice the message: every scalar repeated (last wins), every message merged.
            1 => d.extend_from_slice(&data.clone()),
            // Cut anywhere.
            2 => d.truncate(rng.below(d.len() + 1)),
            // The back half first: fields out of declaration order.
            3 => {
                let mid = rng.below(d.len() + 1);
                d.rotate_left(mid);
            }
            // A random byte inserted.
            4 => {
                let i = rng.below(d.len() + 1);
                d.insert(i, rng.next() as u8);
            }
            // Another entry's data appended: fields of other requests merged in.
            _ => {
                let (_, other) = &entries[rng.below(entries.len())];
                d.extend_from_slice(other);
            }
        }
        for t in [
            *t,
            EntryType::Normal,
            EntryType::ConfChange,
            EntryType::ConfChangeV2,
        ] {
            decoded += usize::from(agree(&entry(t, &d), "mutated"));
        }
    }
    assert!(decoded > 1000, "{decoded}");
}

fn varint(mut x: u64, out: &mut Vec<u8>) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn field(num: u64, body: &[u8], out: &mut Vec<u8>) {
    varint(num << 3 | 2, out);
    varint(body.len() as u64, out);
    out.extend_from_slice(body);
}

#[test]
fn oneofs_groups_overlong_varints_and_nesting_limits_read_the_same_in_place_as_decoded() {
    let put = {
        let mut p = Vec::new();
        field(1, b"k", &mut p);
        field(2, b"v", &mut p);
        p
    };
    let mut cases: Vec<Vec<u8>> = Vec::new();
    // RequestOp with put, then range, then put again: the last put wins, unmerged with the first.
    let mut op = Vec::new();
    field(2, &put, &mut op);
    field(1, b"\x0a\x01a", &mut op);
    field(2, b"\x0a\x01b", &mut op);
    field(2, b"\x12\x01c", &mut op);
    let mut txn = Vec::new();
    field(2, &op, &mut txn);
    let mut irr = vec![0x08, 0x07];
    field(6, &txn, &mut irr);
    cases.push(irr.clone());
    // Compare with two target_union members, the scalar one last; and zero values.
    let mut cmp = vec![0x08, 0x00, 0x10, 0x03, 0x20, 0x05];
    field(7, b"x", &mut cmp);
    cmp.extend_from_slice(&[0x28, 0x00]);
    let mut txn = Vec::new();
    field(1, &cmp, &mut txn);
    let mut irr = Vec::new();
    field(6, &txn, &mut irr);
    cases.push(irr);
    // Unknown fields of every wire type, a group with and without its matching end tag.
    let mut irr = vec![0x08, 0x01];
    irr.extend_from_slice(&[0xf9, 0x01, 1, 2, 3, 4, 5, 6, 7, 8]); // field 31 fixed64
    irr.extend_from_slice(&[0xfd, 0x01, 1, 2, 3, 4]); // field 31 fixed32
    irr.extend_from_slice(&[0xfb, 0x01, 0x08, 0x01, 0xfc, 0x01]); // group 31 .. end 31
    cases.push(irr.clone());
    let mut bad_group = vec![0x08, 0x01, 0xfb, 0x01, 0x08, 0x01, 0x84, 0x02]; // end 32
    cases.push(bad_group.clone());
    bad_group.truncate(4);
    cases.push(bad_group);
    // Varints of 10 bytes with a last byte of 1 (fits) and of 2 (overflows).
    for last in [1u8, 2] {
        let mut irr = vec![0x08];
        irr.extend_from_slice(&[0xff; 9]);
        irr.push(last);
        cases.push(irr);
    }
    // Known fields with the wrong wire type.
    cases.push(vec![0x0a, 0x00]); // ID as bytes
    cases.push(vec![0x20, 0x01]); // put as varint
                                  // Nested txns around prost's recursion limit.
    for depth in [30usize, 31, 32, 33, 48, 49, 50, 51] {
        // A request whose txn holds `innermost` inside `depth` levels of txn ops.
        let nested = |innermost: Vec<u8>| {
            let mut t = innermost;
            for _ in 0..depth {
                let mut op = Vec::new();
                field(4, &t, &mut op);
                let mut txn = Vec::new();
                field(2, &op, &mut txn);
                t = txn;
            }
            let mut irr = Vec::new();
            field(6, &t, &mut irr);
            irr
        };
        cases.push(nested(Vec::new()));
        // And an unknown varint field in the innermost txn.
        cases.push(nested(vec![0x78, 0x01]));
    }
    // v2 Requests with absent fields (printed at their defaults) and PrevExist set to false.
    cases.push(vec![0x12, 0x03, b'G', b'E', b'T', 0x40, 0x00]);
    // A ConfChange with its fields backwards and an empty context.
    cases.push(vec![0x22, 0x00, 0x18, 0x05, 0x10, 0x01, 0x08, 0x09]);
    for c in &cases {
        for t in [
            EntryType::Normal,
            EntryType::ConfChange,
            EntryType::ConfChangeV2,
            EntryType::Unknown(7),
        ] {
            agree(&entry(t, c), "synthetic");
        }
    }
}

/// The classification a classifying scan keeps with each log entry (made while verifying
/// its record) is the one `EntryView::new` makes from the data afterwards: same kind, same
/// request names, same dump row, on every entry of every fixture WAL, read raw and as
/// etcd reads it; a plain scan's entries give the same views, and the same log.
#[test]
fn the_scans_kept_classification_equals_a_fresh_view_of_every_fixture_entry() {
    let mut dirs = Vec::new();
    wal_dirs(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures"),
        &mut dirs,
    );
    let mut compared = 0;
    for d in dirs {
        let Ok(wal) = WalDir::open(&d) else { continue };
        for raw in [false, true] {
            let scan = wal.scan_classifying_with_progress(ScanOptions { raw }, &|_| {});
            let plain = wal.scan(ScanOptions { raw });
            assert_eq!(scan.entries.len(), plain.entries.len());
            assert_eq!(scan.findings, plain.findings);
            for (e, p) in scan.entries.iter().zip(&plain.entries) {
                assert_eq!(e, p);
                assert_eq!(p.view().kind, e.view().kind);
                let kept = e.view();
                let fresh = EntryView::new(&e.entry);
                let what = format!("{} index {}", d.display(), e.entry.index);
                assert_eq!(kept.kind, fresh.kind, "{what}");
                let (mut a, mut b) = (Vec::new(), Vec::new());
                kept.request_names(|n| a.push(n));
                fresh.request_names(|n| b.push(n));
                assert_eq!(a, b, "{what}");
                assert_eq!(
                    dump_row(&e.entry, &kept, None),
                    dump_row(&e.entry, &fresh, None),
                    "{what}"
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 1000, "{compared}");
}
