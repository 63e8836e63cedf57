//! Salvage policy on synthetic files built with bbolt-writer: which revisions are taken
//! from where. Unreachable pages are made by appending leaf pages of another file past the
//! high-water mark (their header ids patched to their new position), as freed pages of an
//! older transaction, or pages of a newer one whose meta was lost, would sit.

use super::*;
use crate::KeyValue;
use bbolt_writer::{BoltWriter, Options};
use std::io::Cursor;

const PS: usize = 4096;

/// One revision to write: (main, key, value); an empty value with `del` = tombstone.
#[derive(Clone)]
struct R {
    main: i64,
    key: &'static str,
    value: &'static str,
    del: bool,
    lease: i64,
}

fn put(main: i64, key: &'static str, value: &'static str) -> R {
    R {
        main,
        key,
        value,
        del: false,
        lease: 0,
    }
}

fn del(main: i64, key: &'static str) -> R {
    R {
        main,
        key,
        value: "",
        del: true,
        lease: 0,
    }
}

/// `n` puts of "v", from revision 2 on, to keys `prefix` followed by 0, 1, ... zero-padded
/// to `width` digits.
fn numbered_puts(prefix: &str, width: usize, n: i64) -> Vec<R> {
    (0..n)
        .map(|i| {
            let key = Box::leak(format!("{prefix}{i:0width$}").into_boxed_str());
            put(i + 2, key, "v")
        })
        .collect()
}

/// An etcd-shaped file: key bucket with `revs`, lease bucket with `leases`, meta bucket
/// with a consistent index and, when given, a finished compaction.
fn build(revs: &[R], leases: &[i64], compact: Option<i64>, pad: usize) -> Vec<u8> {
    let mut w = BoltWriter::new(Cursor::new(Vec::new()), Options::default()).unwrap();
    w.begin_bucket(b"key").unwrap();
    for r in revs {
        let rev = Revision::new(r.main, 0);
        let kv = if r.del {
            KeyValue {
                key: r.key.as_bytes().to_vec(),
                ..KeyValue::default()
            }
        } else {
            let mut value = r.value.as_bytes().to_vec();
            value.resize(value.len() + pad, b'.');
            KeyValue {
                key: r.key.as_bytes().to_vec(),
                create_revision: r.main,
                mod_revision: r.main,
                version: 1,
                value,
                lease: r.lease,
            }
        };
        let k = if r.del {
            rev.to_tombstone_bytes().to_vec()
        } else {
            rev.to_bytes().to_vec()
        };
        w.put(&k, &kv.encode_to_vec_etcd()).unwrap();
    }
    w.end_bucket().unwrap();
    w.begin_bucket(b"lease").unwrap();
    for &id in leases {
        let lease = [8u8, id as u8, 16, 60]; // {ID: id (< 128), TTL: 60}
        w.put(&(id as u64).to_be_bytes(), &lease).unwrap();
    }
    w.end_bucket().unwrap();
    w.begin_bucket(b"meta").unwrap();
    w.put(b"consistent_index", &42u64.to_be_bytes()).unwrap();
    if let Some(c) = compact {
        w.put(b"finishedCompactRev", &Revision::new(c, 0).to_bytes())
            .unwrap();
    }
    w.end_bucket().unwrap();
    w.finish().unwrap().0.into_inner()
}

/// Appends every leaf page of `other` that holds revision keys to `base`, as unreachable
/// pages. Returns the pgids they got.
fn append_key_leaves(base: &mut Vec<u8>, other: &[u8]) -> Vec<u64> {
    let mut added = Vec::new();
    for pgid in 2..(other.len() / PS) as u64 {
        let page = &other[pgid as usize * PS..][..PS];
        let flags = u16::from_le_bytes([page[8], page[9]]);
        let first_ksize = u32::from_le_bytes(page[24..28].try_into().unwrap());
        if flags != 0x02 || !(17..=18).contains(&first_ksize) || page[10..12] == [0, 0] {
            continue;
        }
        let new_pgid = (base.len() / PS) as u64;
        let mut copy = page.to_vec();
        copy[..8].copy_from_slice(&new_pgid.to_le_bytes());
        base.extend_from_slice(&copy);
        added.push(new_pgid);
    }
    added
}

fn live_keys(rec: &Recovered<'_>) -> Vec<(String, i64)> {
    rec.keys
        .iter()
        .map(|e| (String::from_utf8_lossy(e.user_key).into_owned(), e.rev.main))
        .collect()
}

#[test]
fn sound_file_carries_newest_live_revisions_and_drops_deleted_keys() {
    let revs = [
        put(2, "/a", "1"),
        put(3, "/b", "1"),
        put(4, "/a", "2"),
        del(5, "/b"),
        put(6, "/c", "1"),
    ];
    let bytes = build(&revs, &[], None, 0);
    let rec = recover(&bytes, SalvageOptions::default());
    assert_eq!(live_keys(&rec), [("/a".into(), 4), ("/c".into(), 6)]);
    assert_eq!(rec.report.tombstoned_keys_dropped, 1);
    assert_eq!(rec.report.revisions.superseded, 2);
    assert_eq!(rec.report.newest_revision, 6);
    assert_eq!(rec.compact_revision, 6);
    assert_eq!(rec.report.consistent_index, Some(42));
    assert!(rec.report.lost.is_empty(), "{:?}", rec.report.lost);
}

#[test]
fn unreachable_older_revisions_do_not_resurrect_deleted_keys() {
    // Old state: /gone was live at 3. Later it was deleted at 7 and compacted at 8, which
    // removed both revisions; the freed page with revision 3 is still in the file.
    let old = build(&[put(2, "/a", "1"), put(3, "/gone", "x")], &[], None, 1100);
    let mut bytes = build(&[put(2, "/a", "1"), put(9, "/z", "1")], &[], Some(8), 1100);
    assert!(!append_key_leaves(&mut bytes, &old).is_empty());
    let rec = recover(&bytes, SalvageOptions::default());
    assert_eq!(live_keys(&rec), [("/a".into(), 2), ("/z".into(), 9)]);
    assert_eq!(rec.report.revisions.unreachable_ignored, 2);
    assert_eq!(rec.report.key_leaf_pages.unreachable_found, 1);
    assert_eq!(rec.report.key_leaf_pages.unreachable_used, 0);
}

#[test]
fn unreachable_newer_revisions_are_used_unless_told_not_to() {
    // The tree ends at revision 4; a newer transaction's page (revisions 5, 6) made it to
    // disk but its meta page did not.
    let newer = build(&[put(5, "/a", "new"), put(6, "/n", "1")], &[], None, 1100);
    let mut bytes = build(&[put(2, "/a", "old"), put(4, "/b", "1")], &[], None, 1100);
    append_key_leaves(&mut bytes, &newer);
    let rec = recover(&bytes, SalvageOptions::default());
    assert_eq!(
        live_keys(&rec),
        [("/b".into(), 4), ("/a".into(), 5), ("/n".into(), 6)]
    );
    assert_eq!(rec.report.revisions.unreachable_newer, 2);
    assert_eq!(rec.report.keys_from_unreachable_pages, 2);
    assert!(!rec.report.lost.is_empty());

    let strict = SalvageOptions {
        use_newer_unreachable: false,
    };
    let rec = recover(&bytes, strict);
    assert_eq!(live_keys(&rec), [("/a".into(), 2), ("/b".into(), 4)]);
}

#[test]
fn damaged_leaf_range_is_filled_from_unreachable_copies() {
    let revs = numbered_puts("/k/", 4, 400);
    let mut bytes = build(&revs, &[], None, 200);
    let copy = bytes.clone();
    append_key_leaves(&mut bytes, &copy);
    // Zero the third leaf page of the key bucket.
    let db = Db::open(&bytes).unwrap();
    let leaves = db.bucket(b"key").unwrap().unwrap().leaf_pages().unwrap();
    assert!(leaves.len() > 5);
    let victim = leaves[2].pgid() as usize;
    bytes[victim * PS..(victim + 1) * PS].fill(0);

    let rec = recover(&bytes, SalvageOptions::default());
    assert_eq!(rec.keys.len(), 400, "every key comes back");
    assert_eq!(rec.report.damaged_pages, 1);
    assert_eq!(rec.report.lost_key_ranges.len(), 1);
    assert!(rec.report.revisions.unreachable_filling_gaps > 0);
    assert_eq!(
        rec.report.key_leaf_pages.unreachable_used, 1,
        "only the copy of the lost page"
    );
    assert!(rec.report.found_damage());
}

#[test]
fn without_valid_metas_the_scan_alone_recovers_the_keys() {
    let mut bytes = build(
        &[put(2, "/a", "1"), put(3, "/b", "1"), del(4, "/a")],
        &[],
        None,
        0,
    );
    bytes[..2 * PS].fill(0);
    let rec = recover(&bytes, SalvageOptions::default());
    assert_eq!(rec.report.meta_used, None);
    assert_eq!(live_keys(&rec), [("/b".into(), 3)]);
    assert_eq!(rec.report.tombstoned_keys_dropped, 1);
    assert!(rec.report.meta_fallback.is_some());
}

#[test]
fn leases_of_recovered_keys_come_from_older_root_pages_when_the_tree_lacks_them() {
    // The lease bucket is small, so it is inline in the root page. An older copy of the
    // root page survives; the current root page is zeroed.
    let mut r = put(2, "/leased", "1");
    r.lease = 7;
    let older = build(&[r.clone()], &[7, 9], None, 0);
    let mut bytes = build(&[r], &[7, 9], None, 0);
    let old_db = Db::open(&older).unwrap();
    let old_root = old_db.meta().root as usize;
    let new_pgid = (bytes.len() / PS) as u64;
    let mut page = older[old_root * PS..][..PS].to_vec();
    page[..8].copy_from_slice(&new_pgid.to_le_bytes());
    bytes.extend_from_slice(&page);
    let root = Db::open(&bytes).unwrap().meta().root as usize;
    bytes[root * PS..(root + 1) * PS].fill(0);

    let rec = recover(&bytes, SalvageOptions::default());
    assert_eq!(live_keys(&rec), [("/leased".into(), 2)]);
    assert_eq!(
        rec.report.leases.from_unreachable_pages, 1,
        "only the lease a key needs"
    );
    assert_eq!(rec.leases.len(), 1);
    assert_eq!(rec.report.leases.keys_with_missing_lease, 0);
}

#[test]
fn written_file_reads_back_with_the_same_keys() {
    let bytes = build(&[put(2, "/a", "1"), put(3, "/b", "2")], &[], None, 0);
    let mut rec = recover(&bytes, SalvageOptions::default());
    let dir = std::env::temp_dir().join(format!("salvage-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("out.db");
    std::fs::remove_file(&out).ok();
    let written = write_db(&mut rec, &out).unwrap();
    assert!(written.verified);
    assert_eq!(written.keys, 2);
    let data = std::fs::read(&out).unwrap();
    let db = Db::open(&data).unwrap();
    let meta = db.bucket(b"meta").unwrap().unwrap();
    assert_eq!(
        meta.get(b"finishedCompactRev").unwrap(),
        Some(&Revision::new(3, 0).to_bytes()[..])
    );
    assert_eq!(
        meta.get(b"consistent_index").unwrap(),
        Some(&42u64.to_be_bytes()[..])
    );
    for name in [&b"alarm"[..], b"members", b"members_removed", b"lease"] {
        assert!(db.bucket(name).unwrap().is_some());
    }
    assert!(matches!(
        write_db(&mut rec, &out),
        Err(bbolt_writer::Error::Exists { .. })
    ));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn mutated_files_never_panic_and_keep_the_key_count_bounded() {
    let revs = numbered_puts("/m/", 4, 300);
    let base = build(&revs, &[1, 2], Some(3), 100);
    // A small LCG: deterministic, no extra dependency.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as usize) % n.max(1)
    };
    for round in 0..300 {
        let mut bytes = base.clone();
        let edits = [1, 4, 32, 256][round % 4];
        for _ in 0..edits {
            // Half the edits hit page headers and element headers, where damage matters most.
            let at = if next(2) == 0 {
                next(bytes.len() / PS) * PS + next(48)
            } else {
                next(bytes.len())
            };
            bytes[at] = next(256) as u8;
        }
        if round % 7 == 0 {
            bytes.truncate(next(bytes.len()));
        }
        let rec = recover(&bytes, SalvageOptions::default());
        assert!(
            rec.keys.len() <= 300,
            "round {round}: {} keys",
            rec.keys.len()
        );
    }
}

#[test]
fn lost_range_lookup_agrees_with_a_linear_scan() {
    // Overlapping, nested, touching, open and empty ranges, merged once for binary search.
    let keys: Vec<Vec<u8>> = (0u8..40).map(|i| vec![i]).collect();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    for _ in 0..200 {
        let n = next(12);
        let lost: Vec<KeyRange<'_>> = (0..n)
            .map(|_| {
                let lo = (next(5) > 0).then(|| &keys[next(40)][..]);
                let hi = (next(5) > 0).then(|| &keys[next(40)][..]);
                (lo, hi)
            })
            .collect();
        let index = LostIndex::new(&lost);
        for k in &keys {
            let linear = lost.iter().any(|(lo, hi)| {
                lo.is_none_or(|lo| &k[..] >= lo) && hi.is_none_or(|hi| &k[..] < hi)
            });
            assert_eq!(index.contains(k), linear, "{k:?} in {lost:?}");
        }
    }
}

#[test]
fn unreachable_leaves_claiming_overflow_to_the_end_are_all_found() {
    // Leaves past the high-water mark each claim to span to the end of the file: each is
    // read only up to the next page carrying its own id, so all are still recovered and
    // no byte is read twice.
    let old = numbered_puts("/o/", 3, 60);
    let other = build(&old, &[], None, 200);
    let mut bytes = build(&[put(100, "/n/a", "v")], &[], None, 0);
    let added = append_key_leaves(&mut bytes, &other);
    assert!(added.len() > 2);
    for &p in &added {
        let off = p as usize * PS + 12;
        bytes[off..off + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    }
    let opts = SalvageOptions {
        use_newer_unreachable: false,
    };
    let rec = recover(&bytes, opts);
    assert_eq!(
        rec.report.key_leaf_pages.unreachable_found,
        added.len() as u64
    );
}

#[test]
fn a_branch_of_pointers_past_the_file_loses_ranges_without_quadratic_lookups() {
    // The key bucket's root branch points at 200 children past the end of the file: 200
    // lost ranges, each filled from unreachable copies by one binary search per revision.
    let revs = numbered_puts("/k/", 4, 400);
    let mut bytes = build(&revs, &[], None, 200);
    let copy = bytes.clone();
    let db = Db::open(&copy).unwrap();
    let key = db.bucket(b"key").unwrap().unwrap();
    let root = key.root_page().unwrap();
    assert!(root.is_branch(), "the test needs a branch root");
    // Point every child past the file; the real leaves become unreachable.
    let far = (bytes.len() / PS) as u64 + 1000;
    for i in 0..root.count() {
        let el = root.offset() as usize + 16 + 16 * i + 8;
        bytes[el..el + 8].copy_from_slice(&far.to_le_bytes());
    }
    let rec = recover(&bytes, SalvageOptions::default());
    assert_eq!(rec.report.lost_key_ranges.len(), root.count());
    assert_eq!(rec.keys.len(), 400);
    assert_eq!(rec.report.revisions.unreachable_filling_gaps, 400);
}

#[test]
fn random_damage_to_the_k8s_fixture_is_salvaged_without_panic() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/k8s/data/member/snap/db");
    let Ok(src) = std::fs::read(p) else {
        return;
    };
    let mut state = 0x5851_f42d_4c95_7f2du64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n.max(1) as u64) as usize
    };
    let pages = src.len() / PS;
    for round in 0..6 {
        let mut d = src.clone();
        match round % 3 {
            0 => {
                for _ in 0..8 {
                    let at = next(pages) * PS + next(64);
                    d[at] = next(256) as u8;
                }
            }
            1 => {
                let at = next(pages) * PS;
                d[at..at + PS].fill(0);
                let ovf = next(pages) * PS + 12;
                d[ovf..ovf + 4].copy_from_slice(&u32::MAX.to_le_bytes());
            }
            _ => d.truncate(next(d.len())),
        }
        let rec = recover(&d, SalvageOptions::default());
        let _ = serde_json::to_string(&rec.report);
    }
}

#[test]
fn reachable_leaves_claiming_overflow_to_the_end_still_give_every_key() {
    // Every leaf of the key bucket claims to span to the last page of the file, over its
    // siblings: each is read only over the pages it was first to claim (at least its own
    // first page), so every key is still recovered and no byte is read for two pages.
    let revs = numbered_puts("/r/", 4, 300);
    let mut bytes = build(&revs, &[], None, 100);
    let copy = bytes.clone();
    let db = Db::open(&copy).unwrap();
    let leaves = db.bucket(b"key").unwrap().unwrap().leaf_pages().unwrap();
    assert!(leaves.len() > 4);
    let last = (bytes.len() / PS) as u64 - 1;
    for p in &leaves {
        let off = p.pgid() as usize * PS + 12;
        let to_end = (last - p.pgid()) as u32;
        bytes[off..off + 4].copy_from_slice(&to_end.to_le_bytes());
    }
    let rec = recover(&bytes, SalvageOptions::default());
    assert_eq!(rec.keys.len(), 300);
}

#[test]
fn a_copied_bucket_entry_with_an_empty_key_is_left_out_and_the_file_is_still_written() {
    // An auth bucket whose (damaged) element has an empty key: bbolt-writer refuses such
    // a key, so copying it would fail the whole write.
    let mut w = BoltWriter::new(Cursor::new(Vec::new()), Options::default()).unwrap();
    w.begin_bucket(b"auth").unwrap();
    w.put(b"enabled", b"\x00").unwrap();
    w.put(b"zzzz", b"x").unwrap();
    w.end_bucket().unwrap();
    w.begin_bucket(b"key").unwrap();
    let kv = KeyValue {
        key: b"/a".to_vec(),
        create_revision: 2,
        mod_revision: 2,
        version: 1,
        value: b"v".to_vec(),
        lease: 0,
    };
    w.put(&Revision::new(2, 0).to_bytes(), &kv.encode_to_vec_etcd())
        .unwrap();
    w.end_bucket().unwrap();
    let mut bytes = w.finish().unwrap().0.into_inner();
    // Make the auth bucket's first key ("enabled") empty: ksize 0 in its element header.
    let db = Db::open(&bytes).unwrap();
    let auth = db.bucket(b"auth").unwrap().unwrap();
    let page = auth.root_page().unwrap();
    let el0 = page.offset() as usize + 16;
    assert_eq!(
        u32::from_le_bytes(bytes[el0 + 8..el0 + 12].try_into().unwrap()),
        7
    );
    bytes[el0 + 8..el0 + 12].copy_from_slice(&0u32.to_le_bytes());
    let mut rec = recover(&bytes, SalvageOptions::default());
    assert!(rec
        .report
        .lost
        .iter()
        .any(|l| l.contains("empty or over-long key")));
    let dir = std::env::temp_dir().join(format!("salvage-empty-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("db");
    std::fs::remove_file(&out).ok();
    let written = write_db(&mut rec, &out).expect("written without the empty key");
    assert!(written.verified);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_revision_whose_key_value_disagrees_is_a_typed_db_finding_at_its_page_revision_and_key() {
    let mut w = BoltWriter::new(Cursor::new(Vec::new()), Options::default()).unwrap();
    w.begin_bucket(b"key").unwrap();
    for (main, key, mod_revision) in [(2, "/a", 2), (3, "/b", 9)] {
        let kv = KeyValue {
            key: key.as_bytes().to_vec(),
            create_revision: main,
            mod_revision,
            version: 1,
            // Large enough that the bucket is not inline and the leaf has its own pgid.
            value: vec![b'v'; 1500],
            lease: 0,
        };
        w.put(&Revision::new(main, 0).to_bytes(), &kv.encode_to_vec_etcd())
            .unwrap();
    }
    w.end_bucket().unwrap();
    let bytes = w.finish().unwrap().0.into_inner();
    let rec = recover(&bytes, SalvageOptions::default());
    let d = &rec.report.damaged[0];
    let f = d.finding().at("member/snap/db", None);
    assert_eq!(f.kind, Kind::Mvcc(MvccKind::ModRevisionMismatch));
    assert_eq!(f.severity, Severity::Damage);
    assert_eq!(f.component, Component::Db);
    assert_eq!(f.location.page, Some(d.pgid));
    assert_eq!(f.location.revision, Some(3));
    assert_eq!(f.location.key.as_deref(), Some(&b"/b"[..]));
    assert_eq!(f.location.file.as_deref(), Some("member/snap/db"));
    // The message is the sentence salvage prints for the page, unchanged.
    assert_eq!(f.message, d.reason.to_string());
    assert!(f
        .message
        .contains("KeyValue mod_revision 9 differs from its revision"));
    let v = serde_json::to_value(&f).unwrap();
    assert_eq!(v["kind"], "mod_revision_mismatch");
}
