//! Replays the committed corpus of the `member_layout` fuzz target
//! (fuzz/corpus/member_layout/) through its body: every layout (FIFOs, link loops,
//! directories and links to /dev/zero in place of db, segments and snapshots) is checked
//! to the end without blocking or panicking.

mod common;

use common::*;

#[test]
fn every_member_layout_corpus_input_is_checked_without_blocking_or_panic() {
    let dir = fixtures().join("../fuzz/corpus/member_layout");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        eprintln!("no member_layout corpus; skipped");
        return;
    };
    let root = scratch("member-layout-corpus");
    let mut n = 0;
    for e in rd.flatten() {
        let data = std::fs::read(e.path()).unwrap();
        etcd_autopsy::fuzz::exercise_member_layout(&data, &root);
        n += 1;
    }
    assert!(n > 0);
}
