//! The body of the `wal_segment_decode` fuzz target, also replayed by `cargo test` over the
//! committed corpus (`fuzz/corpus/wal_segment_decode/`).

use crate::segment::ScanOptions;
use crate::text::{dump_row, DecodedEntry};
use crate::EntryView;

/// Decodes `data` as one WAL segment (and as two, split in the middle), in default and raw
/// mode, verifies it, decodes every entry's request and prints it, draws its timeline;
/// also reads `data` as a `.snap` file. Must never panic, loop forever or allocate by an untrusted length.
pub fn exercise(data: &[u8]) {
    for raw in [false, true] {
        let opts = ScanOptions { raw };
        let scan = crate::scan::scan_wal(
            &[("0000000000000000-0000000000000000.wal", data)],
            Vec::new(),
            opts,
        );
        for e in &scan.entries {
            let _ = DecodedEntry::decode(&e.entry);
            let _ = dump_row(&e.entry, &EntryView::new(&e.entry), None);
        }
        let _ =
            crate::restart::restart_view(&scan, scan.snapshots.last().map(|s| (s.index, s.term)));
        // The HTML report's timeline over whatever entries and findings the scan kept.
        let _ = crate::timeline::timeline(&scan, 16);
        // Split at an 8-byte boundary in the middle: two segments linked by the chain check.
        let mid = (data.len() / 2) & !7;
        let (a, b) = data.split_at(mid);
        let _ = crate::scan::scan_wal(
            &[
                ("0000000000000000-0000000000000000.wal", a),
                ("0000000000000001-0000000000000000.wal", b),
            ],
            Vec::new(),
            opts,
        );
    }
    let s = crate::snap::decode_snap("0000000000000001-0000000000000001.snap", data);
    let _ = crate::snap::snap_findings(&[s]);
}

/// The body of the `snap_decode` fuzz target: `data` as a `.snap` file, decoded and judged
/// (alone, and as the newest of two beside a copy of itself cut in half).
pub fn exercise_snap(data: &[u8]) {
    let s = crate::snap::decode_snap("0000000000000002-0000000000000002.snap", data);
    let half = crate::snap::decode_snap(
        "0000000000000001-0000000000000001.snap",
        &data[..data.len() / 2],
    );
    let _ = crate::snap::snap_findings(std::slice::from_ref(&s));
    let _ = crate::snap::snap_findings(&[s, half]);
}
