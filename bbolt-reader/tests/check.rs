//! The whole-file walk: page accounting, statistics and each kind of finding.

mod common;

use bbolt_reader::walk::{walk, FreelistSource, PageUse};
use bbolt_reader::{check, check_bytes, Db, FindingKind};
use common::*;

fn kinds(data: &[u8]) -> Vec<(u64, FindingKind)> {
    check_bytes(data)
        .unwrap()
        .findings
        .iter()
        .map(|f| (f.page, f.kind))
        .collect()
}

fn has(data: &[u8], page: u64, kind: FindingKind) {
    let k = kinds(data);
    assert!(
        k.contains(&(page, kind)),
        "expected {kind} at page {page}, got {k:?}"
    );
}

#[test]
fn sound_file_checks_clean_with_persisted_freelist() {
    let data = sample();
    let r = check_bytes(&data).unwrap();
    assert!(r.is_clean(), "{:?}", r.findings);
    let db = Db::open(&data).unwrap();
    let w = walk(&db);
    assert_eq!(w.graph.freelist, FreelistSource::Persisted(2));
    assert_eq!(w.graph.free_count(), 0);
    assert_eq!(w.graph.page_use(5), Some(PageUse::Leaf(1)));
    assert_eq!(w.path(1), vec![&b"a"[..]]);
}

#[test]
fn stats_follow_bbolt_bucket_stats_meaning() {
    let data = sample();
    let db = Db::open(&data).unwrap();
    let w = walk(&db);
    let stats = w.bucket_stats();
    let top: Vec<usize> = w.top_level().collect();
    assert_eq!(top.len(), 2);
    let a = &stats[top[0]];
    assert_eq!(
        (a.branch_pages, a.leaf_pages, a.keys, a.depth),
        (1, 2, 100, 2)
    );
    assert_eq!(a.branch_alloc, PS as u64);
    assert_eq!(a.leaf_overflow, 1);
    assert_eq!(a.leaf_alloc, 3 * PS as u64);
    // branch: header + 1 extra element header + last pos + ksize (= all keys after headers)
    assert_eq!(a.branch_inuse, 16 + 16 + (16 + 3 + 3));
    let b = &stats[top[1]];
    assert_eq!(
        (b.buckets, b.inline_buckets, b.keys, b.depth, b.leaf_pages),
        (1, 1, 2, 1, 0)
    );
    assert_eq!(b.inline_inuse, 16 + 2 * 16 + 1 + 1 + 2 + 2);
    let total = w.total_stats();
    assert_eq!(total.keys, 102);
    assert_eq!(total.buckets, 2);
}

#[test]
fn free_pages_are_reconstructed_when_the_freelist_is_not_persisted() {
    let mut data = wide(3);
    // Page count 7 + two spare pages below a raised high-water mark.
    data.extend(vec![0u8; 2 * PS]);
    let mut f = FileBuilder {
        ps: PS,
        bytes: data,
    };
    f.meta(0, 2, u64::MAX, 9, 4);
    f.meta(1, 2, u64::MAX, 9, 5);
    f.bytes.extend(vec![0u8; PS]); // one page past the high-water mark
    let db = Db::open(&f.bytes).unwrap();
    let w = walk(&db);
    assert_eq!(w.graph.freelist, FreelistSource::Reconstructed);
    assert_eq!(w.graph.free_pages().collect::<Vec<_>>(), vec![7, 8]);
    assert_eq!(w.graph.past_high_water_count(), 1);
    assert!(check(&db).is_clean());
}

#[test]
fn parallel_leaf_analysis_gives_the_same_result_on_one_thread() {
    let mut data = wide(120);
    // Damage a few leaves so there are findings to compare.
    for l in [10usize, 60, 119] {
        let off = (4 + l) * PS + 16 + 8;
        data[off..off + 4].copy_from_slice(&9999u32.to_le_bytes());
    }
    let db = Db::open(&data).unwrap();
    let many = check(&db).findings;
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| check(&db).findings);
    assert_eq!(many, one);
    assert_eq!(many.len(), 3, "{many:#?}");
    assert!(many.iter().all(|f| f.kind == FindingKind::ElementOutOfPage));
    assert_eq!(walk(&db).bucket_stats()[1].keys, 1200);
}

#[test]
fn broken_meta_checksum_is_meta_invalid_on_that_page() {
    let mut data = sample();
    data[PS + 16 + 50] ^= 1;
    assert_eq!(kinds(&data), vec![(1, FindingKind::MetaInvalid)]);
    data[16 + 50] ^= 1;
    assert_eq!(
        kinds(&data),
        vec![(0, FindingKind::MetaInvalid), (1, FindingKind::MetaInvalid)]
    );
}

#[test]
fn not_a_bbolt_file_is_an_error() {
    assert!(check_bytes(&[0u8; 8192]).is_err());
    assert!(check_bytes(b"").is_err());
}

#[test]
fn truncated_file_is_reported_at_the_first_missing_page() {
    let data = wide(5);
    let cut = &data[..6 * PS + 100];
    has(cut, 6, FindingKind::FileTruncated);
}

#[test]
fn zeroed_leaf_page_is_wrong_page_type() {
    let mut data = wide(5);
    data[6 * PS..7 * PS].fill(0);
    has(&data, 6, FindingKind::WrongPageType);
}

#[test]
fn branch_element_out_of_bounds_names_the_target() {
    let mut data = wide(5);
    // element 2 of branch page 3: pgid at 16 + 2*16 + 8
    let off = 3 * PS + 16 + 2 * 16 + 8;
    data[off..off + 8].copy_from_slice(&5000u64.to_le_bytes());
    has(&data, 5000, FindingKind::PageOutOfBounds);
    // The freelist is not persisted, so the leaf it used to point to now counts as free.
    assert!(walk(&Db::open(&data).unwrap()).graph.is_free(6));
}

#[test]
fn page_referenced_twice_is_reported_once_at_the_page() {
    let mut data = wide(5);
    let off = 3 * PS + 16 + 3 * 16 + 8;
    data[off..off + 8].copy_from_slice(&5u64.to_le_bytes());
    has(&data, 5, FindingKind::PageReferencedTwice);
}

#[test]
fn cycle_between_branch_pages_is_reported() {
    let mut data = wide(5);
    let off = 3 * PS + 16 + 4 * 16 + 8;
    data[off..off + 8].copy_from_slice(&3u64.to_le_bytes());
    has(&data, 3, FindingKind::Cycle);
}

#[test]
fn changed_page_type_is_wrong_page_type() {
    let mut data = wide(5);
    data[5 * PS + 8] = 0x10; // leaf -> freelist
    has(&data, 5, FindingKind::WrongPageType);
}

#[test]
fn keys_out_of_order_are_reported_on_their_page() {
    let mut data = wide(5);
    // swap first byte of keys on leaf 5 so key[1] < key[0]
    let key0 = 5 * PS + 16 + 10 * 16;
    data[key0 + 3] = b'9';
    has(&data, 5, FindingKind::KeysOutOfOrder);
}

#[test]
fn overflow_past_file_end_is_reported() {
    let mut data = wide(5);
    let off = 8 * PS + 12;
    data[off..off + 4].copy_from_slice(&1000u32.to_le_bytes());
    has(&data, 8, FindingKind::OverflowPastFileEnd);
}

#[test]
fn reachable_and_free_and_unreachable_not_free_with_a_freelist() {
    let mut data = sample();
    let mut f = FileBuilder {
        ps: PS,
        bytes: std::mem::take(&mut data),
    };
    f.freelist(2, &[5], false);
    has(&f.bytes, 5, FindingKind::PageReachableAndFree);
    f.freelist(2, &[], false);
    f.bytes.extend(vec![0u8; PS]);
    f.meta(0, 3, 2, 9, 2);
    f.meta(1, 3, 2, 9, 3);
    has(&f.bytes, 8, FindingKind::PageUnreachableNotFree);
}
