//! Randomized damage to the real k8s fixture db, run in-process through every MVCC pass
//! (info, tolerant leaf listing and keyspace scan, HashKV, whole-db hash, the space walk,
//! loading the keyspace for replay, the key tree and page map of the HTML report, the
//! storage-version rule). The CLI-level test (`tests/nospace_hostile.rs`)
//! flips bytes through the binary; this one forges page and element header fields, which
//! reach the passes' own loops. Deterministic seed, a few rounds: none may panic or hang.

use super::hash::{hash_db, hash_kv, DbHashMode};
use super::info::read_info;
use super::scan::{leaf_pages_tolerant, scan_leaf_pages};
use super::KEY_BUCKET;
use bbolt_reader::Db;

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

fn mvcc_passes(bytes: &[u8]) {
    let Ok(db) = Db::open(bytes) else {
        return;
    };
    let info = read_info(&db);
    let _ = crate::version::written_by(&info.meta);
    if let Some(cs) = &info.meta.conf_state {
        let _ = crate::raft_meta::parse_conf_state(cs);
    }
    let walk = bbolt_reader::walk(&db);
    if let Ok(Some(key)) = db.bucket(KEY_BUCKET) {
        let (pages, _) = leaf_pages_tolerant(&key);
        let mut ks = scan_leaf_pages(&key, &pages, i64::MAX, &|_| {});
        ks.leaf_pages = pages;
        let _ = ks.compaction_effect();
        // The report's drawings over the damaged keyspace and page graph.
        let _ = crate::keytree::key_tree(&ks, 3, Default::default());
        let _ = crate::pagemap::page_map(&walk, Some(&ks), 64);
        let _ = hash_kv(
            Some(&key),
            i64::MAX,
            info.meta.effective_compact_rev(),
            &|_| {},
        );
    }
    let _ = hash_db(&db, DbHashMode::DumpDb, &|_| {});
    let _ = super::space::space(&db, &walk, None, 0, bytes.len() as u64, 1 << 31);
    if let Ok(loaded) = crate::replay::load_at(&db, &info.meta, None) {
        let _ = loaded.state.keys.len();
    }
}

#[test]
fn forged_headers_in_the_k8s_fixture_never_panic_the_mvcc_passes() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/k8s/data/member/snap/db");
    let Ok(src) = std::fs::read(p) else {
        return;
    };
    let ps = 4096;
    let pages = src.len() / ps;
    let mut rng = Rng(0xd1b5_4a32_d192_ed03);
    let rounds: usize = std::env::var("HOSTILE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    for round in 0..rounds {
        let mut d = src.clone();
        for _ in 0..1 + rng.below(4) {
            let page = 2 + rng.below(pages - 2);
            let at = match round % 4 {
                // count, overflow or flags of a page header
                0 => page * ps + [10, 12, 8][rng.below(3)],
                // a field of one of the first element headers
                1 => page * ps + 16 + 16 * rng.below(8) + 4 * rng.below(4),
                // a branch element's child pgid (low bytes)
                2 => page * ps + 16 + 16 * rng.below(8) + 8,
                // anywhere in the page
                _ => page * ps + rng.below(ps - 4),
            };
            let v = [u32::MAX, 0, 1 << 16, rng.next() as u32][rng.below(4)];
            d[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        mvcc_passes(&d);
    }
}
