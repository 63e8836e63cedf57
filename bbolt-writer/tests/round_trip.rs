//! Files written by bbolt-writer read back identically with bbolt-reader, and the real
//! bbolt (through `etcdctl snapshot status`, which runs bbolt's `tx.Check()` and walks
//! every top-level bucket) accepts them and sees the same keys and values.

use bbolt_reader::{Bucket, Db, Page};
use bbolt_writer::{BoltWriter, Error, Options, Summary};
use std::io::Cursor;
use std::path::PathBuf;
use std::process::Command;

/// A bucket tree to write: name, then (key, value) pairs and nested buckets, sorted.
#[derive(Debug, Clone)]
struct Spec {
    name: Vec<u8>,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
enum Entry {
    Kv(Vec<u8>, Vec<u8>),
    Bucket(Spec),
}

fn entry_key(e: &Entry) -> &[u8] {
    match e {
        Entry::Kv(k, _) => k,
        Entry::Bucket(s) => &s.name,
    }
}

fn bucket(name: &str, mut entries: Vec<Entry>) -> Spec {
    entries.sort_by(|a, b| entry_key(a).cmp(entry_key(b)));
    Spec {
        name: name.as_bytes().to_vec(),
        entries,
    }
}

fn write_spec(w: &mut BoltWriter<impl std::io::Write + std::io::Seek>, spec: &Spec) {
    w.begin_bucket(&spec.name).unwrap();
    for e in &spec.entries {
        match e {
            Entry::Kv(k, v) => w.put(k, v).unwrap(),
            Entry::Bucket(s) => write_spec(w, s),
        }
    }
    w.end_bucket().unwrap();
}

fn build(top: &[Spec], options: Options) -> (Vec<u8>, Summary) {
    let mut w = BoltWriter::new(Cursor::new(Vec::new()), options).unwrap();
    for s in top {
        write_spec(&mut w, s);
    }
    let (c, summary) = w.finish().unwrap();
    (c.into_inner(), summary)
}

/// Reads a bucket back with bbolt-reader and compares it with the spec, entry by entry.
fn assert_bucket_equals(b: Bucket<'_>, spec: &Spec) {
    let items: Vec<_> = b.iter().map(|r| r.expect("readable entry")).collect();
    assert_eq!(
        items.len(),
        spec.entries.len(),
        "entries of {:?}",
        spec.name
    );
    for (item, e) in items.iter().zip(&spec.entries) {
        match e {
            Entry::Kv(k, v) => {
                assert!(!item.is_bucket());
                assert_eq!(item.key, &k[..]);
                assert_eq!(item.value, &v[..], "value of {k:?}");
                assert_eq!(b.get(k).unwrap(), Some(&v[..]), "get {k:?}");
            }
            Entry::Bucket(s) => {
                assert!(item.is_bucket());
                assert_eq!(item.key, &s.name[..]);
                let child = b.bucket(&s.name).unwrap().expect("nested bucket");
                assert_bucket_equals(child, s);
            }
        }
    }
}

fn assert_round_trip(bytes: &[u8], top: &[Spec]) {
    let db = Db::open(bytes).expect("written file opens");
    assert_eq!(db.meta().txid, 2);
    let root = db.root();
    let names: Vec<Vec<u8>> = root.iter().map(|r| r.unwrap().key.to_vec()).collect();
    let expected: Vec<Vec<u8>> = top.iter().map(|s| s.name.clone()).collect();
    assert_eq!(names, expected);
    for s in top {
        let b = db.bucket(&s.name).unwrap().expect("top-level bucket");
        assert_bucket_equals(b, s);
    }
    // Both metas are valid and point at the same tree.
    let metas = db.metas();
    let (m0, m1) = (metas[0].valid().unwrap(), metas[1].valid().unwrap());
    assert_eq!((m0.txid, m1.txid), (2, 1));
    assert_eq!(m0.root, m1.root);
}

/// Height of a bucket's tree, counted by descending its first branch elements.
fn tree_height(db: Db<'_>, root: u64) -> usize {
    let mut page: Page<'_> = db.page(root).unwrap();
    let mut height = 1;
    while page.is_branch() {
        let first = page.branch_elements().next().unwrap().unwrap();
        page = db.page(first.pgid).unwrap();
        height += 1;
    }
    height
}

fn rev_key(main: u64) -> Vec<u8> {
    let mut k = main.to_be_bytes().to_vec();
    k.push(b'_');
    k.extend_from_slice(&0u64.to_be_bytes());
    k
}

fn many_keys(n: u64, value_len: usize) -> Vec<Entry> {
    (1..=n)
        .map(|i| Entry::Kv(rev_key(i), vec![(i % 251) as u8; value_len]))
        .collect()
}

/// Runs the real bbolt (etcd 3.4's vendored copy, inside etcdctl) over the file: it runs
/// bbolt's consistency check, then hashes every top-level bucket's name, keys and values.
fn etcdctl_status(bytes: &[u8], tag: &str) -> serde_json::Value {
    let dir = std::env::temp_dir().join(format!("bbolt-writer-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join("db");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "status", "-w", "json"])
        .arg(&path)
        .output()
        .expect("etcdctl is installed (etcd 3.4)");
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "real bbolt rejected the file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What `etcdctl snapshot status` computes: crc32c over each top-level bucket name and its
/// entries' keys and values (a nested bucket's value counts as empty), and the entry count.
fn expected_status(top: &[Spec]) -> (u32, u64) {
    let mut crc = 0u32;
    let mut count = 0;
    for s in top {
        crc = crc32c::crc32c_append(crc, &s.name);
        for e in &s.entries {
            count += 1;
            match e {
                Entry::Kv(k, v) => {
                    crc = crc32c::crc32c_append(crc, k);
                    crc = crc32c::crc32c_append(crc, v);
                }
                Entry::Bucket(b) => crc = crc32c::crc32c_append(crc, &b.name),
            }
        }
    }
    (crc, count)
}

fn assert_real_bbolt_agrees(bytes: &[u8], top: &[Spec], tag: &str) {
    let status = etcdctl_status(bytes, tag);
    let (hash, keys) = expected_status(top);
    assert_eq!(status["hash"].as_u64(), Some(u64::from(hash)), "{status}");
    assert_eq!(status["totalKey"].as_u64(), Some(keys), "{status}");
    assert_eq!(status["totalSize"].as_u64(), Some(bytes.len() as u64));
}

#[test]
fn small_buckets_are_inline_and_read_back() {
    let top = vec![
        bucket("alarm", vec![]),
        bucket("key", vec![Entry::Kv(rev_key(1), b"v1".to_vec())]),
        bucket(
            "meta",
            vec![Entry::Kv(
                b"consistent_index".to_vec(),
                9u64.to_be_bytes().to_vec(),
            )],
        ),
    ];
    let (bytes, summary) = build(&top, Options::default());
    assert_eq!(summary.inline_buckets, 3);
    assert_eq!(summary.high_water_mark, 4, "metas, freelist, one root leaf");
    assert_eq!(bytes.len(), 4 * 4096);
    let db = Db::open(&bytes).unwrap();
    assert!(db.bucket(b"key").unwrap().unwrap().is_inline());
    assert_round_trip(&bytes, &top);
    assert_real_bbolt_agrees(&bytes, &top, "inline");
}

#[test]
fn empty_file_has_an_empty_root_leaf() {
    let (bytes, summary) = build(&[], Options::default());
    assert_eq!(summary.high_water_mark, 4);
    assert_round_trip(&bytes, &[]);
    assert_real_bbolt_agrees(&bytes, &[], "empty");
}

#[test]
fn many_keys_build_a_tree_of_height_three_or_more() {
    let top = vec![
        bucket("key", many_keys(60_000, 100)),
        bucket("lease", many_keys(500, 20)),
        bucket("members", vec![]),
    ];
    let (bytes, summary) = build(&top, Options::default());
    let db = Db::open(&bytes).unwrap();
    let key_root = db.bucket(b"key").unwrap().unwrap().root_pgid().unwrap();
    assert!(
        tree_height(db, key_root) >= 3,
        "height {}",
        tree_height(db, key_root)
    );
    assert!(summary.branch_pages > 1);
    assert_round_trip(&bytes, &top);
    assert_real_bbolt_agrees(&bytes, &top, "many");
}

#[test]
fn small_pages_give_a_deep_tree_that_reads_back() {
    let top = vec![bucket("key", many_keys(20_000, 10))];
    let options = Options {
        page_size: 512,
        ..Options::default()
    };
    let (bytes, summary) = build(&top, options);
    assert_eq!(bytes.len() as u64, summary.high_water_mark * 512);
    let db = Db::open(&bytes).unwrap();
    assert_eq!(db.page_size(), 512);
    let key_root = db.bucket(b"key").unwrap().unwrap().root_pgid().unwrap();
    assert!(
        tree_height(db, key_root) >= 4,
        "height {}",
        tree_height(db, key_root)
    );
    assert_round_trip(&bytes, &top);
}

#[test]
fn values_larger_than_a_page_use_overflow_pages() {
    let mut entries = many_keys(50, 30);
    for (i, len) in [5_000usize, 70_000, 1_500_000].into_iter().enumerate() {
        entries.push(Entry::Kv(
            rev_key(1000 + i as u64),
            vec![b'x' + i as u8; len],
        ));
    }
    entries.push(Entry::Kv(rev_key(2000), b"after".to_vec()));
    let top = vec![bucket("key", entries)];
    let (bytes, summary) = build(&top, Options::default());
    assert!(summary.overflow_pages >= 1 + 17 + 366, "{summary:?}");
    assert_round_trip(&bytes, &top);
    assert_real_bbolt_agrees(&bytes, &top, "overflow");
}

#[test]
fn nested_and_empty_buckets_read_back() {
    let inner_big = bucket("big", many_keys(3_000, 40));
    let inner_small = bucket("small", vec![Entry::Kv(b"k".to_vec(), b"v".to_vec())]);
    let top = vec![
        bucket("a-empty", vec![]),
        bucket(
            "outer",
            vec![
                Entry::Kv(b"a".to_vec(), b"1".to_vec()),
                Entry::Bucket(inner_big),
                Entry::Bucket(bucket("empty", vec![])),
                Entry::Bucket(inner_small),
                Entry::Kv(b"z".to_vec(), b"2".to_vec()),
            ],
        ),
    ];
    let (bytes, summary) = build(&top, Options::default());
    assert_eq!(summary.buckets, 5);
    let db = Db::open(&bytes).unwrap();
    let outer = db.bucket(b"outer").unwrap().unwrap();
    assert!(
        !outer.is_inline(),
        "a bucket holding buckets is never inline"
    );
    assert!(outer.bucket(b"small").unwrap().unwrap().is_inline());
    assert!(!outer.bucket(b"big").unwrap().unwrap().is_inline());
    assert_round_trip(&bytes, &top);
    assert_real_bbolt_agrees(&bytes, &top, "nested");
}

#[test]
fn fill_percent_below_one_leaves_room_in_pages() {
    let top = vec![bucket("key", many_keys(5_000, 50))];
    let (_, full) = build(&top, Options::default());
    let (bytes, half) = build(
        &top,
        Options {
            fill_percent: 0.5,
            ..Options::default()
        },
    );
    assert!(
        half.leaf_pages > full.leaf_pages * 3 / 2,
        "{half:?} vs {full:?}"
    );
    assert_round_trip(&bytes, &top);
}

#[test]
fn keys_out_of_order_are_refused() {
    let mut w = BoltWriter::new(Cursor::new(Vec::new()), Options::default()).unwrap();
    w.begin_bucket(b"key").unwrap();
    w.put(b"b", b"").unwrap();
    assert!(matches!(w.put(b"a", b""), Err(Error::OutOfOrder { .. })));
    assert!(
        matches!(w.put(b"b", b""), Err(Error::OutOfOrder { .. })),
        "duplicate"
    );
    assert!(matches!(
        w.begin_bucket(b"a"),
        Err(Error::OutOfOrder { .. })
    ));
    w.end_bucket().unwrap();
    assert!(matches!(
        w.begin_bucket(b"key"),
        Err(Error::OutOfOrder { .. })
    ));
}

#[test]
fn misuse_of_nesting_and_bad_keys_are_refused() {
    let mut w = BoltWriter::new(Cursor::new(Vec::new()), Options::default()).unwrap();
    assert!(
        matches!(w.put(b"k", b"v"), Err(Error::Nesting(_))),
        "root holds buckets only"
    );
    assert!(matches!(w.end_bucket(), Err(Error::Nesting(_))));
    w.begin_bucket(b"b").unwrap();
    assert!(matches!(w.put(b"", b"v"), Err(Error::Invalid { .. })));
    assert!(matches!(
        w.put(&[1u8; 40_000], b"v"),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(w.finish(), Err(Error::Nesting(_))));
    let bad = Options {
        page_size: 1000,
        ..Options::default()
    };
    assert!(matches!(
        BoltWriter::new(Cursor::new(Vec::new()), bad),
        Err(Error::Options(_))
    ));
}

#[test]
fn create_refuses_an_existing_file_unless_told() {
    let dir = std::env::temp_dir().join(format!("bbolt-writer-create-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("out.db");
    std::fs::write(&path, b"precious").unwrap();
    let err = BoltWriter::create(&path, Options::default(), false).unwrap_err();
    assert!(matches!(err, Error::Exists { .. }));
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");

    let mut w = BoltWriter::create(&path, Options::default(), true).unwrap();
    w.begin_bucket(b"key").unwrap();
    w.put(b"k", b"v").unwrap();
    w.end_bucket().unwrap();
    let summary = w.finish_file().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len() as u64, summary.high_water_mark * 4096);
    let db = Db::open(&bytes).unwrap();
    assert_eq!(
        db.bucket(b"key").unwrap().unwrap().get(b"k").unwrap(),
        Some(&b"v"[..])
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn odd_txid_puts_the_newer_meta_on_page_one() {
    let options = Options {
        txid: 7,
        ..Options::default()
    };
    let (bytes, _) = build(&[bucket("key", vec![])], options);
    let db = Db::open(&bytes).unwrap();
    assert_eq!((db.meta_index(), db.meta().txid), (1, 7));
}
