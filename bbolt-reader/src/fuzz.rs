//! The body of the `bbolt_open_walk_check` fuzz target, callable from tests.

use crate::{check, walk, Db, MetaChoice};

/// Opens `data` with each meta choice and, for each that opens, walks every bucket with a
/// cursor, collects leaf pages, runs the whole-file walk, statistics and the check.
/// Must return (never panic, never hang) on any input.
pub fn exercise(data: &[u8]) {
    let _ = check::check_bytes(data);
    for choice in [MetaChoice::Newest, MetaChoice::Meta0, MetaChoice::Meta1] {
        let Ok(db) = Db::open_with(data, choice) else {
            continue;
        };
        let w = walk::walk(&db);
        let _ = w.bucket_stats();
        let _ = w.total_stats();
        let _ = check::check_walk(&db, &w);
        let _ = w.graph.free_count();
        // Read every bucket the walk found through the public cursor API as well.
        let root = db.root();
        // Bounded so that one input stays fast: the walk above already covers every
        // bucket; this exercises the cursor API on a sample.
        for item in root.iter().take(16).flatten() {
            if let Ok(Some(b)) = root.bucket(item.key) {
                let _ = b.iter().take(4096).count();
                let _ = b.leaf_pages();
                let _ = b.get(item.key);
                let mut c = b.cursor();
                let _ = c.seek(b"\x00\x00\x00\x00\x00\x00\x00\x01_");
                let _ = c.next();
                let _ = c.prev();
                let _ = b.iter_rev().take(4096).count();
            }
        }
        for pgid in 0..db.page_count().min(64) {
            if let Ok(p) = db.page(pgid) {
                let _ = p.leaf_elements().count();
                let _ = p.branch_elements().count();
                if let Ok(ids) = p.freelist_ids() {
                    let _ = ids.count();
                }
            }
        }
    }
}
