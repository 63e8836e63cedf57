//! Hostile bytes must end in errors, never in panics, hangs or runaway allocation.

mod common;

use bbolt_reader::{check, Db, Error, FindingKind};
use common::*;

fn file_with_root(build: impl FnOnce(&mut FileBuilder)) -> Vec<u8> {
    let mut f = FileBuilder::new(PS, 8);
    build(&mut f);
    f.meta(0, 3, u64::MAX, 8, 0);
    f.meta(1, 3, u64::MAX, 8, 1);
    f.bytes
}

#[test]
fn cycle_between_branch_pages_ends_in_an_error() {
    let data = file_with_root(|f| {
        let bv = bucket_value(4);
        f.leaf(3, &[(1, b"b", &bv)]);
        f.branch(4, &[(b"a", 5)]);
        f.branch(5, &[(b"a", 4)]);
    });
    let db = Db::open(&data).unwrap();
    let b = db.bucket(b"b").unwrap().unwrap();
    assert!(b.iter().any(|r| r.is_err()));
    assert!(b.get(b"a").is_err());
    assert!(b.leaf_pages().is_err());
}

#[test]
fn shared_subtree_fanout_is_bounded_by_page_budget() {
    // Every branch element points at the same child: a DAG that would yield
    // 200^k leaves if walked naively.
    let data = file_with_root(|f| {
        let bv = bucket_value(4);
        f.leaf(3, &[(1, b"b", &bv)]);
        let keys: Vec<Vec<u8>> = (0..200).map(|i| vec![i as u8]).collect();
        let to5: Vec<(&[u8], u64)> = keys.iter().map(|k| (&k[..], 5)).collect();
        let to6: Vec<(&[u8], u64)> = keys.iter().map(|k| (&k[..], 6)).collect();
        f.branch(4, &to5);
        f.branch(5, &to6);
        f.leaf(6, &[(0, b"k", b"v")]);
    });
    let db = Db::open(&data).unwrap();
    let b = db.bucket(b"b").unwrap().unwrap();
    let n = b.iter().take(1_000_000).count();
    assert!(n < 100, "walk should stop early, got {n} items");
    assert!(matches!(
        b.leaf_pages(),
        Err(Error::PageBudgetExceeded { .. })
    ));
}

#[test]
fn element_key_past_page_end_is_an_error_naming_the_page() {
    let data = file_with_root(|f| {
        let bv = bucket_value(4);
        f.leaf(3, &[(1, b"b", &bv)]);
        f.leaf(4, &[(0, b"k", b"v")]);
        // ksize of element 0 on page 4 -> huge
        let off = 4 * PS + 16 + 8;
        f.bytes[off..off + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    });
    let db = Db::open(&data).unwrap();
    let b = db.bucket(b"b").unwrap().unwrap();
    let err = b.iter().find_map(|r| r.err()).unwrap();
    assert!(
        matches!(
            err,
            Error::ElementOutOfPage {
                pgid: 4,
                index: 0,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn child_pointer_past_file_end_is_out_of_bounds() {
    let data = file_with_root(|f| {
        let bv = bucket_value(1_000_000);
        f.leaf(3, &[(1, b"b", &bv)]);
    });
    let db = Db::open(&data).unwrap();
    let b = db.bucket(b"b").unwrap().unwrap();
    assert!(matches!(
        b.iter().next(),
        Some(Err(Error::PageOutOfBounds {
            pgid: 1_000_000,
            ..
        }))
    ));
    assert!(db.page(u64::MAX).is_err());
}

#[test]
fn meta_page_as_tree_child_is_wrong_page_type() {
    let data = file_with_root(|f| {
        let bv = bucket_value(1);
        f.leaf(3, &[(1, b"b", &bv)]);
    });
    let db = Db::open(&data).unwrap();
    let b = db.bucket(b"b").unwrap().unwrap();
    assert!(matches!(
        b.iter().next(),
        Some(Err(Error::WrongPageType { pgid: 1, .. }))
    ));
}

#[test]
fn truncated_bucket_value_is_an_error() {
    let data = file_with_root(|f| {
        f.leaf(3, &[(1, b"b", b"short")]);
    });
    let db = Db::open(&data).unwrap();
    assert!(matches!(
        db.bucket(b"b"),
        Err(Error::BadBucketValue { pgid: 3, .. })
    ));
}

#[test]
fn freelist_with_forged_huge_count_is_an_error() {
    let data = file_with_root(|f| {
        f.leaf(3, &[]);
        f.freelist(2, &[], true);
        let off = 2 * PS + 16;
        f.bytes[off..off + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    });
    let db = Db::open(&data).unwrap();
    assert!(matches!(
        db.page(2).unwrap().freelist_ids(),
        Err(Error::FreelistOutOfPage { pgid: 2, .. })
    ));
}

#[test]
fn every_truncation_of_a_sound_file_opens_or_errors_without_panic() {
    let data = sample();
    for len in (0..data.len()).step_by(509) {
        let cut = &data[..len];
        if let Ok(db) = Db::open(cut) {
            for e in db.root().iter().flatten() {
                if let Ok(Some(b)) = db.bucket(e.key) {
                    let _ = b.iter().count();
                }
            }
        }
    }
}

#[test]
fn elements_sharing_one_inline_bucket_are_reported_and_the_walk_stays_linear() {
    // 200 elements x a 233-byte inline bucket = 46,600 bytes of inline pages in a
    // 16 KiB file: more than twice the file, so the budget stops the walk.
    let mut f = FileBuilder::new(PS, 4);
    let inline = inline_bucket(&[(0, b"k", &[b'v'; 200])]);
    shared_element_leaf(&mut f, 3, 200, 1, b"b", &inline);
    f.meta(0, 3, u64::MAX, 4, 0);
    f.meta(1, 3, u64::MAX, 4, 1);
    let r = check(&Db::open(&f.bytes).unwrap());
    let kinds: Vec<FindingKind> = r.findings.iter().map(|x| x.kind).collect();
    assert!(kinds.contains(&FindingKind::ElementOutOfPage), "{kinds:?}");
    assert!(kinds.contains(&FindingKind::TooDeep), "{kinds:?}");
    bbolt_reader::fuzz::exercise(&f.bytes);
}

#[test]
fn overflow_spans_claiming_the_same_pages_are_each_read_only_as_their_own() {
    // Pages 4..8 each claim to span to the end of the file; each must be analysed only
    // over the pages it owns, and every overlap is reported.
    let mut f = FileBuilder::new(PS, 9);
    let bv = bucket_value(3);
    f.leaf(2, &[(1, b"b", &bv)]);
    f.branch(3, &[(b"a", 8), (b"b", 7), (b"c", 6), (b"d", 5), (b"e", 4)]);
    for (i, id) in (4..9u64).enumerate() {
        let k = [b'a' + (4 - i as u8)];
        f.leaf(id, &[(0, &k, b"v")]);
        let off = id as usize * PS + 12;
        f.bytes[off..off + 4].copy_from_slice(&100u32.to_le_bytes());
    }
    f.meta(0, 2, u64::MAX, 9, 0);
    f.meta(1, 2, u64::MAX, 9, 1);
    let r = check(&Db::open(&f.bytes).unwrap());
    let twice = r
        .findings
        .iter()
        .filter(|x| x.kind == FindingKind::PageReferencedTwice)
        .count();
    assert!(twice >= 1, "{:?}", r.findings);
    assert!(r
        .findings
        .iter()
        .any(|x| x.kind == FindingKind::OverflowPastFileEnd));
}
