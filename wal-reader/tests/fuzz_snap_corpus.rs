//! Replays the committed corpus of the `snap_decode` fuzz target (fuzz/corpus/snap_decode/).

use std::path::Path;

#[test]
fn every_snap_corpus_input_decodes_without_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/snap_decode");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        eprintln!("no snap_decode corpus; skipped");
        return;
    };
    let mut n = 0;
    for e in rd.flatten() {
        wal_reader::fuzz::exercise_snap(&std::fs::read(e.path()).unwrap());
        n += 1;
    }
    assert!(n > 0);
}
