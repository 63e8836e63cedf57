//! The checked descent (`tree::walk_checked`), the bucket-header parser and the page probe.

mod common;

use bbolt_reader::tree::{walk_checked, CheckedVisitor, KeyRange, PageDamage, Reached};
use bbolt_reader::{BucketHeader, Db, Page, Pgid};
use common::*;

fn file_with_root(build: impl FnOnce(&mut FileBuilder)) -> Vec<u8> {
    let mut f = FileBuilder::new(PS, 10);
    build(&mut f);
    f.meta(0, 3, u64::MAX, 10, 0);
    f.meta(1, 3, u64::MAX, 10, 1);
    f.bytes
}

/// A damaged page as reported: pgid, the lost range's bounds, the sentence.
type Lost = (Pgid, Option<Vec<u8>>, Option<Vec<u8>>, String);

#[derive(Default)]
struct Seen {
    leaves: Vec<Pgid>,
    damage: Vec<Lost>,
}

impl<'a> CheckedVisitor<'a> for Seen {
    fn leaf(&mut self, page: Page<'a>, _: KeyRange<'a>) {
        self.leaves.push(page.pgid());
    }
    fn damage(&mut self, pgid: Pgid, (lo, hi): KeyRange<'a>, d: PageDamage) {
        self.damage.push((
            pgid,
            lo.map(<[u8]>::to_vec),
            hi.map(<[u8]>::to_vec),
            d.to_string(),
        ));
    }
}

#[test]
fn a_leaf_outside_its_parents_range_is_lost_with_that_range_and_left_for_the_right_parent() {
    // Branch 4: ["a" -> 6, "m" -> 5]; leaf 6 holds "x", which belongs above "m".
    let data = file_with_root(|f| {
        f.leaf(3, &[(1, b"b", &bucket_value(4))]);
        f.branch(4, &[(b"a", 6), (b"m", 5)]);
        f.leaf(5, &[(0, b"n", b"1")]);
        f.leaf(6, &[(0, b"x", b"2")]);
    });
    let db = Db::open(&data).unwrap();
    let mut reached = Reached::new(&db);
    let mut seen = Seen::default();
    assert!(walk_checked(db, 4, &mut reached, &mut seen));
    assert_eq!(seen.leaves, vec![5]);
    assert_eq!(
        seen.damage,
        vec![(
            6,
            None,
            Some(b"m".to_vec()),
            "its keys lie outside the range its parent gives it".to_string()
        )]
    );
    // Not taken: a scan of the pages no tree reached still finds it.
    assert!(!reached.contains(6) && reached.contains(5) && reached.contains(4));
}

#[test]
fn a_page_taken_by_one_tree_is_referenced_twice_for_the_next() {
    let data = file_with_root(|f| {
        f.leaf(
            3,
            &[(1, b"a", &bucket_value(4)), (1, b"b", &bucket_value(4))],
        );
        f.leaf(4, &[(0, b"k", b"v")]);
    });
    let db = Db::open(&data).unwrap();
    let mut reached = Reached::new(&db);
    let mut first = Seen::default();
    assert!(walk_checked(db, 4, &mut reached, &mut first));
    let mut second = Seen::default();
    assert!(!walk_checked(db, 4, &mut reached, &mut second));
    assert_eq!(first.leaves, vec![4]);
    assert_eq!(second.damage[0].3, "page referenced twice");
}

#[test]
fn a_root_pointing_at_a_meta_page_or_past_the_file_is_not_taken() {
    let data = file_with_root(|f| f.leaf(3, &[]));
    let db = Db::open(&data).unwrap();
    let mut reached = Reached::new(&db);
    for (root, why) in [(1, "points at a meta page"), (99, "out of bounds")] {
        let mut seen = Seen::default();
        assert!(!walk_checked(db, root, &mut reached, &mut seen));
        assert!(seen.damage[0].3.contains(why), "{:?}", seen.damage);
    }
}

#[test]
fn bucket_header_parses_root_sequence_and_the_inline_page() {
    let v = bucket_value(7);
    assert_eq!(
        BucketHeader::parse(&v).map(|h| (h.root, h.is_inline())),
        Some((7, false))
    );
    assert_eq!(BucketHeader::parse(&v[..15]), None);
    assert_eq!(BucketHeader::parse_partial(&v[..10]), (Some(7), None));
    let inline = inline_bucket(&[(0, b"k", b"v")]);
    let page = BucketHeader::inline_page(&inline, 3, 100).unwrap();
    assert!(page.is_inline() && page.is_leaf() && page.offset() == 116);
    assert!(BucketHeader::inline_page(&v, 3, 0).is_none());
}

#[test]
fn probe_reads_a_page_without_a_db_and_refuses_a_header_past_the_end() {
    let data = file_with_root(|f| f.leaf(3, &[(0, b"k", b"v")]));
    let p = bbolt_reader::page::probe(&data, PS, 3).unwrap();
    assert_eq!((p.id(), p.count(), p.bytes().len()), (3, 1, PS));
    assert!(bbolt_reader::page::probe(&data, PS, 10).is_none());
    assert!(bbolt_reader::page::probe(&data, PS, u64::MAX).is_none());
}
