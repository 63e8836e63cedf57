//! Forged structures that would make a naive reader loop, recurse, or do quadratic work:
//! each test names the fault and proves it ends quickly in an error or a finding.

mod common;

use bbolt_reader::{check, Db, Error, FindingKind};
use common::*;

/// `check` reports at least one finding of `kind` on `db`.
fn assert_finds(db: &Db<'_>, kind: FindingKind) {
    let r = check(db);
    assert!(
        r.findings.iter().any(|f| f.kind == kind),
        "{kind:?}: {:?}",
        r.findings
    );
}

/// Page 5: a branch with one child per key, in order, at pages 6, 7, ...
fn branch_to_leaves_from_6(f: &mut FileBuilder, keys: &[Vec<u8>]) {
    let children: Vec<(&[u8], u64)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (&k[..], 6 + i as u64))
        .collect();
    f.branch(5, &children);
}

/// Root bucket leaf at page 3 holding bucket "b" rooted at `root`; 8 pages; metas.
fn file_with_bucket(pages: usize, root: u64, build: impl FnOnce(&mut FileBuilder)) -> Vec<u8> {
    let mut f = FileBuilder::new(PS, pages);
    let bv = bucket_value(root);
    f.leaf(3, &[(1, b"b", &bv)]);
    build(&mut f);
    let hwm = (f.bytes.len() / PS) as u64;
    f.meta(0, 3, u64::MAX, hwm, 0);
    f.meta(1, 3, u64::MAX, hwm, 1);
    f.bytes
}

#[test]
fn branch_pointing_at_itself_terminates() {
    let data = file_with_bucket(8, 4, |f| f.branch(4, &[(b"a", 4)]));
    let db = Db::open(&data).unwrap();
    let b = db.bucket(b"b").unwrap().unwrap();
    assert!(b.iter().take(1000).any(|r| r.is_err()));
    assert!(b.get(b"a").is_err());
    assert!(b.iter_rev().take(1000).any(|r| r.is_err()));
    assert!(b.leaf_pages().is_err());
    assert_finds(&db, FindingKind::Cycle);
    bbolt_reader::fuzz::exercise(&data);
}

#[test]
fn leaf_elements_sharing_one_large_value_stop_at_the_page_length() {
    // 17 elements x a 3,800-byte value: ~65 KB handed out from a 4 KiB page if read
    // naively; the iterator stops once the total outgrows the page.
    let big = vec![b'v'; 3800];
    let data = file_with_bucket(8, 4, |f| shared_element_leaf(f, 4, 17, 0, b"k", &big));
    let db = Db::open(&data).unwrap();
    let page = db.page(4).unwrap();
    assert!(page.elements_overlap());
    let mut handed = 0usize;
    let mut overlap_error = false;
    for el in page.leaf_elements() {
        match el {
            Ok(el) => handed += el.key.len() + el.value.len(),
            Err(Error::ElementsOverlap { pgid: 4, .. }) => overlap_error = true,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(overlap_error);
    assert!(
        handed <= PS,
        "{handed} bytes handed out of a {PS}-byte page"
    );
}

/// Bucket "b": branch page 5 over 40 leaves (6..46), each of whose `n` elements share
/// one key and one 3,000-byte value.
fn shared_value_leaves(n: usize) -> Vec<u8> {
    let big = vec![b'v'; 3000];
    let keys: Vec<Vec<u8>> = (0..40u8)
        .map(|i| vec![b'a' + i / 26, b'a' + i % 26])
        .collect();
    file_with_bucket(46, 5, |f| {
        branch_to_leaves_from_6(f, &keys);
        for (i, k) in keys.iter().enumerate() {
            shared_element_leaf(f, 6 + i as u64, n, 0, k, &big);
        }
    })
}

#[test]
fn cursor_over_overlapping_elements_hands_out_at_most_twice_the_file() {
    // A sound bucket: the pass ends without error.
    let data = shared_value_leaves(1);
    let db = Db::open(&data).unwrap();
    let b = db.bucket(b"b").unwrap().unwrap();
    assert_eq!(b.iter().filter(|r| r.is_ok()).count(), 40);

    // 17 elements per leaf sharing the value: ~2 MB handed out of a 188 KB file if read
    // naively; the pass stops once twice the file has been handed out.
    let forged = shared_value_leaves(17);
    let db = Db::open(&forged).unwrap();
    let b = db.bucket(b"b").unwrap().unwrap();
    let mut bytes = 0usize;
    let mut ended_in_error = false;
    for r in b.iter() {
        match r {
            Ok(it) => bytes += it.key.len() + it.value.len(),
            Err(Error::ElementsOverlap { .. }) => ended_in_error = true,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(ended_in_error);
    assert!(
        bytes <= 2 * forged.len() + PS,
        "{bytes} bytes handed out of a {}-byte file",
        forged.len()
    );
    assert!(b.iter_rev().any(|r| r.is_err()));
    bbolt_reader::fuzz::exercise(&forged);
}

#[test]
fn leaf_overflow_spans_to_the_end_of_the_file_are_a_span_budget_error() {
    // 30 leaves, each claiming to span to the end of the file: listing them naively hands
    // callers ~15 times the file.
    let n = 30u64;
    let keys: Vec<Vec<u8>> = (0..n).map(|i| format!("k{i:02}").into_bytes()).collect();
    let data = file_with_bucket(6 + n as usize, 5, |f| {
        branch_to_leaves_from_6(f, &keys);
        for (i, k) in keys.iter().enumerate() {
            let id = 6 + i as u64;
            f.leaf(id, &[(0, k, b"v")]);
        }
        for i in 0..n {
            let id = 6 + i;
            let off = id as usize * PS + 12;
            let to_end = (6 + n - id - 1) as u32;
            f.bytes[off..off + 4].copy_from_slice(&to_end.to_le_bytes());
        }
    });
    let db = Db::open(&data).unwrap();
    let b = db.bucket(b"b").unwrap().unwrap();
    assert!(matches!(
        b.leaf_pages(),
        Err(Error::SpanBudgetExceeded { .. })
    ));
    assert_finds(&db, FindingKind::PageReferencedTwice);
    bbolt_reader::fuzz::exercise(&data);
}

#[test]
fn freelist_count_larger_than_file_is_bounded() {
    // The 0xFFFF form with a real count of u64::MAX, and one just past the page.
    for count in [u64::MAX, 511, 1 << 40] {
        let mut f = FileBuilder::new(PS, 4);
        f.freelist(2, &[], true);
        let off = 2 * PS + 16;
        f.bytes[off..off + 8].copy_from_slice(&count.to_le_bytes());
        f.leaf(3, &[]);
        f.meta(0, 3, 2, 4, 0);
        f.meta(1, 3, 2, 4, 1);
        let db = Db::open(&f.bytes).unwrap();
        assert!(matches!(
            db.page(2).unwrap().freelist_ids(),
            Err(Error::FreelistOutOfPage { pgid: 2, .. })
        ));
        let r = check(&db);
        assert!(
            r.findings
                .iter()
                .any(|x| x.kind == FindingKind::ElementOutOfPage && x.page == 2),
            "{count}: {:?}",
            r.findings
        );
        bbolt_reader::fuzz::exercise(&f.bytes);
    }
}

#[test]
fn freelist_listing_ids_near_u64_max_is_a_finding() {
    let mut f = FileBuilder::new(PS, 4);
    f.freelist(2, &[u64::MAX, u64::MAX - 1, 3, 3], false);
    f.leaf(3, &[]);
    f.meta(0, 3, 2, 4, 0);
    f.meta(1, 3, 2, 4, 1);
    let r = check(&Db::open(&f.bytes).unwrap());
    let kinds: Vec<FindingKind> = r.findings.iter().map(|x| x.kind).collect();
    assert!(kinds.contains(&FindingKind::PageOutOfBounds), "{kinds:?}");
    assert!(
        kinds.contains(&FindingKind::PageReferencedTwice),
        "{kinds:?}"
    );
}

#[test]
fn child_pgid_u64_max_and_overflow_u32_max_do_not_overflow() {
    let data = file_with_bucket(8, 4, |f| {
        f.branch(
            4,
            &[(b"a", u64::MAX), (b"b", 5), (b"c", u64::MAX / 4096 + 1)],
        );
        f.leaf(5, &[(0, b"b", b"v")]);
        let off = 5 * PS + 12;
        f.bytes[off..off + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    });
    let db = Db::open(&data).unwrap();
    assert!(matches!(
        db.page(u64::MAX),
        Err(Error::PageOutOfBounds { .. })
    ));
    let b = db.bucket(b"b").unwrap().unwrap();
    assert!(b.iter().any(|r| r.is_err()));
    assert_finds(&db, FindingKind::PageOutOfBounds);
    bbolt_reader::fuzz::exercise(&data);
}

#[test]
fn meta_page_size_u32_max_with_a_valid_checksum_is_refused() {
    let mut f = FileBuilder::new(PS, 4);
    f.leaf(3, &[]);
    f.meta(0, 3, u64::MAX, 4, 0);
    f.meta(1, 3, u64::MAX, 4, 1);
    for id in 0..2usize {
        let body = id * PS + 16;
        f.bytes[body + 8..body + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        let sum = fnv1a64(&f.bytes[body..body + 56]);
        f.bytes[body + 56..body + 64].copy_from_slice(&sum.to_le_bytes());
    }
    assert!(Db::open(&f.bytes).is_err());
    bbolt_reader::fuzz::exercise(&f.bytes);
}

#[test]
fn inline_buckets_nested_two_hundred_deep_are_bounded() {
    // Each level is an inline bucket holding the next: the walk stops at its nesting limit
    // instead of recursing.
    let mut v = inline_bucket(&[(0, b"k", b"v")]);
    for _ in 0..200 {
        v = inline_bucket(&[(1, b"n", &v)]);
    }
    let mut f = FileBuilder::new(PS, 12);
    let bodies = leaf_body(&[(1, b"b", &v)]);
    let overflow = ((16 + bodies.len()).div_ceil(PS) - 1) as u32;
    f.header(3, 0x02, 1, overflow);
    f.bytes[3 * PS + 16..3 * PS + 16 + bodies.len()].copy_from_slice(&bodies);
    let hwm = (f.bytes.len() / PS) as u64;
    f.meta(0, 3, u64::MAX, hwm, 0);
    f.meta(1, 3, u64::MAX, hwm, 1);
    let db = Db::open(&f.bytes).unwrap();
    assert_finds(&db, FindingKind::TooDeep);
    // Opening the chain level by level is the caller's loop; each step is bounded.
    let mut b = db.bucket(b"b").unwrap().unwrap();
    let mut levels = 0;
    while let Ok(Some(n)) = b.bucket(b"n") {
        b = n;
        levels += 1;
    }
    assert_eq!(levels, 200);
    bbolt_reader::fuzz::exercise(&f.bytes);
}

#[test]
fn freelist_listing_a_hundred_thousand_bogus_ids_lists_a_bounded_number_of_findings() {
    // A freelist of 100,000 ids past the high-water mark (800 KB of ids): one finding per
    // id would be 100,000 lines; the walk lists a few and counts the rest.
    let n = 100_000u64;
    let pages = 2 + (16 + 8 + 8 * n as usize).div_ceil(PS) + 1;
    let mut f = FileBuilder::new(PS, pages);
    let overflow = (16 + 8 + 8 * n as usize).div_ceil(PS) as u32 - 1;
    f.header(2, 0x10, 0xFFFF, overflow);
    let mut off = 2 * PS + 16;
    f.bytes[off..off + 8].copy_from_slice(&n.to_le_bytes());
    off += 8;
    for i in 0..n {
        f.bytes[off..off + 8].copy_from_slice(&(1_000_000 + i).to_le_bytes());
        off += 8;
    }
    let root = pages as u64 - 1;
    f.leaf(root, &[]);
    let hwm = pages as u64;
    f.meta(0, root, 2, hwm, 0);
    f.meta(1, root, 2, hwm, 1);
    let r = check(&Db::open(&f.bytes).unwrap());
    let from_freelist = r
        .findings
        .iter()
        .filter(|x| x.kind == FindingKind::PageOutOfBounds)
        .count();
    assert!(
        (2..=bbolt_reader::walk::MAX_FINDINGS_PER_PAGE + 1).contains(&from_freelist),
        "{from_freelist} findings"
    );
    assert!(r
        .findings
        .iter()
        .any(|x| x.message.contains("99984 more ids")));
}

#[test]
fn a_leaf_of_keys_all_out_of_order_lists_a_bounded_number_of_findings() {
    let keys: Vec<Vec<u8>> = (0..200u32)
        .rev()
        .map(|i| format!("k{i:03}").into_bytes())
        .collect();
    let entries: Vec<(u32, &[u8], &[u8])> = keys.iter().map(|k| (0, &k[..], &b"v"[..])).collect();
    let data = file_with_bucket(8, 4, |f| f.leaf(4, &entries));
    let r = check(&Db::open(&data).unwrap());
    let on_page: Vec<_> = r.findings.iter().filter(|x| x.page == 4).collect();
    assert_eq!(
        on_page.len(),
        bbolt_reader::walk::MAX_FINDINGS_PER_PAGE + 1,
        "{on_page:?}"
    );
    assert!(on_page.last().unwrap().message.contains("more findings"));
}
