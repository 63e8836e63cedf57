//! Reading sound files built page by page: metas, buckets, inline buckets, cursors.

mod common;

use bbolt_reader::{Db, Error, MetaChoice, MetaProblem};
use common::*;

#[test]
fn newest_valid_meta_is_chosen_and_both_are_reported() {
    let data = sample();
    let db = Db::open(&data).unwrap();
    assert_eq!(db.page_size(), PS);
    assert_eq!(db.meta_index(), 1);
    assert_eq!(db.meta().txid, 3);
    assert_eq!(db.meta().high_water_mark, 8);
    assert!(db.metas().iter().all(|m| m.is_valid()));
    let older = Db::open_with(&data, MetaChoice::Meta0).unwrap();
    assert_eq!(older.meta().txid, 2);
}

#[test]
fn a_broken_meta_checksum_falls_back_to_the_other_meta() {
    let mut data = sample();
    data[PS + 16 + 48] ^= 0xff; // txid byte of meta 1
    let db = Db::open(&data).unwrap();
    assert_eq!(db.meta_index(), 0);
    assert!(matches!(
        db.metas()[1].problem,
        Some(MetaProblem::BadChecksum { .. })
    ));
    assert!(matches!(
        Db::open_with(&data, MetaChoice::Meta1),
        Err(Error::MetaInvalid { index: 1, .. })
    ));
}

#[test]
fn meta_one_is_found_when_meta_zero_is_garbage() {
    let mut data = sample();
    data[..64].fill(0xAB);
    let db = Db::open(&data).unwrap();
    assert_eq!(db.meta_index(), 1);
    assert_eq!(db.page_size(), PS);
}

#[test]
fn no_valid_meta_is_an_error_not_a_panic() {
    assert!(matches!(Db::open(&[]), Err(Error::NoValidMeta { .. })));
    assert!(matches!(
        Db::open(&[0u8; 100]),
        Err(Error::NoValidMeta { .. })
    ));
    let mut data = sample();
    data[16] ^= 1;
    data[PS + 16] ^= 1;
    assert!(matches!(Db::open(&data), Err(Error::NoValidMeta { .. })));
}

#[test]
fn iteration_is_in_key_order_across_leaf_pages() {
    let data = sample();
    let db = Db::open(&data).unwrap();
    let a = db.bucket(b"a").unwrap().unwrap();
    assert_eq!(a.root_pgid(), Some(4));
    let keys: Vec<Vec<u8>> = a.iter().map(|e| e.unwrap().key.to_vec()).collect();
    let want: Vec<Vec<u8>> = (0..100).map(|i| format!("k{i:02}").into_bytes()).collect();
    assert_eq!(keys, want);
    let leaves = a.leaf_pages().unwrap();
    assert_eq!(
        leaves.iter().map(|p| p.pgid()).collect::<Vec<_>>(),
        vec![5, 6]
    );
}

#[test]
fn get_and_seek_find_keys_on_any_leaf() {
    let data = sample();
    let db = Db::open(&data).unwrap();
    let a = db.bucket(b"a").unwrap().unwrap();
    assert_eq!(a.get(b"k73").unwrap(), Some(&[b'v'; 73][..]));
    assert_eq!(a.get(b"k00").unwrap(), Some(&b""[..]));
    assert_eq!(a.get(b"k7").unwrap(), None);
    assert_eq!(a.get(b"zzz").unwrap(), None);
    let mut c = a.cursor();
    assert_eq!(c.seek(b"k495").unwrap().unwrap().key, b"k50");
    assert_eq!(c.next().unwrap().unwrap().key, b"k51");
    assert_eq!(c.seek(b"a").unwrap().unwrap().key, b"k00");
    assert!(c.seek(b"l").unwrap().is_none());
    assert!(c.next().unwrap().is_none());
}

#[test]
fn inline_bucket_at_an_odd_offset_is_read() {
    let data = sample();
    let db = Db::open(&data).unwrap();
    let b = db.bucket(b"bbbb").unwrap().unwrap();
    assert!(b.is_inline());
    // 16 (page header) + 2 * 16 (elements) + "a" + 16 + "bbbb" + 16 (bucket header) = 85
    assert_eq!(b.root_page().unwrap().offset() % 2, 1);
    assert_eq!(b.root_pgid(), None);
    assert_eq!(b.get(b"yy").unwrap(), Some(&b"22"[..]));
    let items: Vec<_> = b.iter().map(|e| e.unwrap().key.to_vec()).collect();
    assert_eq!(items, vec![b"x".to_vec(), b"yy".to_vec()]);
    let root_items: Vec<_> = db.root().iter().map(|e| e.unwrap()).collect();
    assert!(root_items.iter().all(|i| i.is_bucket()));
    assert_eq!(db.bucket(b"missing").unwrap().map(|b| b.is_inline()), None);
}

#[test]
fn freelist_ids_are_read_in_both_count_forms() {
    let mut f = FileBuilder::new(PS, 4);
    f.freelist(2, &[7, 8, 9], false);
    f.freelist(3, &[10, 11], true);
    f.meta(0, 3, 2, 4, 0);
    f.meta(1, 3, 2, 4, 1);
    let db = Db::open(&f.bytes).unwrap();
    let short: Vec<u64> = db.page(2).unwrap().freelist_ids().unwrap().collect();
    assert_eq!(short, vec![7, 8, 9]);
    let long: Vec<u64> = db.page(3).unwrap().freelist_ids().unwrap().collect();
    assert_eq!(long, vec![10, 11]);
}

#[test]
fn a_value_spanning_overflow_pages_is_read_whole() {
    let big = vec![7u8; 3 * PS];
    let mut f = FileBuilder::new(PS, 4);
    let bv = bucket_value(4);
    f.leaf(3, &[(1, b"b", &bv)]);
    f.leaf(4, &[(0, b"big", &big)]);
    let hwm = (f.bytes.len() / PS) as u64;
    f.meta(0, 3, u64::MAX, hwm, 0);
    f.meta(1, 3, u64::MAX, hwm, 1);
    let db = Db::open(&f.bytes).unwrap();
    assert_eq!(db.page(4).unwrap().overflow(), 3);
    let b = db.bucket(b"b").unwrap().unwrap();
    assert_eq!(b.get(b"big").unwrap().map(<[u8]>::len), Some(3 * PS));
}

#[test]
fn reverse_iteration_is_forward_iteration_reversed() {
    for data in [sample(), wide(3), wide(70)] {
        let db = Db::open(&data).unwrap();
        for top in db.root().iter() {
            let b = db.bucket(top.unwrap().key).unwrap().unwrap();
            let fwd: Vec<Vec<u8>> = b.iter().map(|e| e.unwrap().key.to_vec()).collect();
            let mut rev: Vec<Vec<u8>> = b.iter_rev().map(|e| e.unwrap().key.to_vec()).collect();
            rev.reverse();
            assert_eq!(fwd, rev);
        }
    }
}

#[test]
fn prev_after_seek_steps_back_across_leaf_pages() {
    let data = sample();
    let db = Db::open(&data).unwrap();
    let a = db.bucket(b"a").unwrap().unwrap();
    let mut c = a.cursor();
    assert_eq!(c.seek(b"k50").unwrap().unwrap().key, b"k50");
    assert_eq!(c.prev().unwrap().unwrap().key, b"k49");
    assert_eq!(c.next().unwrap().unwrap().key, b"k50");
    assert_eq!(c.last().unwrap().unwrap().key, b"k99");
    assert_eq!(c.first().unwrap().unwrap().key, b"k00");
    assert!(c.prev().unwrap().is_none());
}

#[test]
fn an_iterated_bucket_item_opens_as_that_bucket_without_a_second_look_up() {
    for data in [sample(), wide(3), wide(70)] {
        let db = Db::open(&data).unwrap();
        let root = db.root();
        for top in root.iter() {
            let item = top.unwrap();
            assert!(item.is_bucket());
            let opened = root.open_item(&item).unwrap();
            let looked_up = db.bucket(item.key).unwrap().unwrap();
            let keys = |b: &bbolt_reader::Bucket<'_>| -> Vec<Vec<u8>> {
                b.iter().map(|e| e.unwrap().key.to_vec()).collect()
            };
            assert_eq!(keys(&opened), keys(&looked_up));
            assert_eq!(opened.root_pgid(), looked_up.root_pgid());
        }
    }
}

#[test]
fn the_tolerant_walk_of_a_sound_tree_lists_the_same_leaves_as_leaf_pages() {
    struct Leaves(Vec<u64>, usize);
    impl<'a> bbolt_reader::TreeVisitor<'a> for Leaves {
        fn leaf(&mut self, p: bbolt_reader::Page<'a>, _: u64, _: usize) -> bbolt_reader::Flow {
            self.0.push(p.pgid());
            bbolt_reader::Flow::Continue
        }
        fn damage(&mut self, _: bbolt_reader::TreeDamage) {
            self.1 += 1;
        }
    }
    for data in [sample(), wide(3), wide(70)] {
        let db = Db::open(&data).unwrap();
        for top in db.root().iter() {
            let b = db.root().open_item(&top.unwrap()).unwrap();
            let mut v = Leaves(Vec::new(), 0);
            bbolt_reader::walk_tree(&b, &mut v);
            let want: Vec<u64> = b.leaf_pages().unwrap().iter().map(|p| p.pgid()).collect();
            assert_eq!((v.0, v.1), (want, 0));
        }
    }
}
