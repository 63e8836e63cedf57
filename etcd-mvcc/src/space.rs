//! Where the bytes of a db file go, and what defrag and compaction would give back.
//!
//! - `db_size` is bbolt's high-water mark times the page size: what etcd reports as
//!   dbSize and compares with `--quota-backend-bytes` (etcd 3.4 `backend.Size` = bbolt
//!   `Tx.Size`). The file on disk can be longer (bbolt grows it ahead of use).
//! - `bytes_in_use` is etcd's dbSizeInUse: `db_size` less the free pages times the page
//!   size (etcd 3.4 `backend.go`: size - FreePageN * pageSize). With etcd's
//!   `NoFreelistSync` the free pages are those below the high-water mark that no tree
//!   reaches (bbolt rebuilds its freelist that way on open).
//! - The defrag prediction models bbolt's page split over the entries defrag would copy
//!   (see [`super::defrag`]).
//! - The compaction figures come from the key-bucket scan: per user key, the revisions at
//!   or below R except the newest (and that one too when it is a tombstone). The size after
//!   compaction and defrag runs the defrag model over the entries that stay, in key order
//!   (a second, sequential pass over the leaf elements that reads each entry's user key
//!   only when its revision is at or below R).

use super::defrag::{
    model_from_leaf_pages, predicted_size, DefragPrediction, TreeBuilder, TreeModel,
    ETCD_DEFRAG_FILL_PERCENT,
};
use super::revision::parse_rev_key;
use super::scan::{ElementModel, Keyspace};
use bbolt_reader::walk::Walk;
use bbolt_reader::Db;

/// etcd's default `--quota-backend-bytes` (2 GiB).
pub const DEFAULT_QUOTA: u64 = 2 * 1024 * 1024 * 1024;

/// Fill of one kind of page.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Fill {
    /// Pages (overflow pages included).
    pub pages: u64,
    /// Bytes allocated (pages x page size).
    pub alloc: u64,
    /// Bytes in use on them.
    pub inuse: u64,
    /// inuse / alloc (0 when no pages).
    pub fill: f64,
}

impl Fill {
    fn new(pages: u64, inuse: u64, page_size: u64) -> Self {
        let alloc = pages.saturating_mul(page_size);
        Fill {
            pages,
            alloc,
            inuse,
            fill: if alloc == 0 {
                0.0
            } else {
                inuse as f64 / alloc as f64
            },
        }
    }
}

/// One top-level bucket.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BucketSpace {
    /// Name (lossy UTF-8).
    pub name: String,
    /// Entries.
    pub keys: u64,
    /// Pages of its own (leaf + branch + overflow; 0 when inline).
    pub pages: u64,
    /// pages x page size.
    pub bytes: u64,
    /// Bytes in use on those pages (or in the inline page).
    pub inuse: u64,
    /// Stored inline in the root bucket's leaf.
    pub inline: bool,
    /// Pages it would take after defrag.
    pub defrag_pages: u64,
}

/// What a compaction would do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CompactionSpace {
    /// The revision compacted at.
    pub revision: i64,
    /// Revisions it deletes.
    pub revisions_dropped: u64,
    /// Their bbolt key + value bytes.
    pub bytes_dropped: u64,
    /// Predicted db size after this compaction and a defrag (estimate).
    pub predicted_size_after: u64,
}

/// Use of the backend quota (NOSPACE is raised when db_size exceeds it).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct QuotaUse {
    /// The quota.
    pub bytes: u64,
    /// db_size / quota now.
    pub used: f64,
    /// predicted defrag size / quota.
    pub after_defrag: f64,
    /// predicted size after compaction and defrag / quota.
    pub after_compaction: f64,
    /// db_size exceeds the quota (etcd raises NOSPACE).
    pub exceeded: bool,
}

/// The `space` figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Space {
    /// Size of the file on disk (a snapshot file's trailer included).
    pub file_size: u64,
    /// High-water mark x page size: etcd's dbSize.
    pub db_size: u64,
    /// Page size.
    pub page_size: u64,
    /// Pages below the high-water mark.
    pub pages_total: u64,
    /// Pages reachable (metas, freelist, every tree page).
    pub pages_reachable: u64,
    /// Free pages.
    pub pages_free: u64,
    /// Pages the file holds at or past the high-water mark.
    pub pages_past_high_water: u64,
    /// etcd's dbSizeInUse.
    pub bytes_in_use: u64,
    /// Leaf pages.
    pub leaf: Fill,
    /// Branch pages.
    pub branch: Fill,
    /// Per top-level bucket.
    pub buckets: Vec<BucketSpace>,
    /// Predicted db size after `etcdctl defrag`.
    pub predicted_defrag_size: u64,
    /// Details of that prediction.
    pub defrag: DefragPrediction,
    /// Compaction at R, then defrag.
    pub compaction: CompactionSpace,
    /// Quota use.
    pub quota: QuotaUse,
}

/// Computes the space figures. `ks` is the key bucket scan with its limit at the
/// compaction revision `compact_at`; `file_size` the file's length on disk.
pub fn space(
    db: &Db<'_>,
    walk: &Walk<'_>,
    ks: Option<&Keyspace<'_>>,
    compact_at: i64,
    file_size: u64,
    quota: u64,
) -> Space {
    let ps = db.page_size() as u64;
    let g = &walk.graph;
    let hwm = g.high_water_mark;
    let free = g.free_count();
    let stats = walk.bucket_stats();
    let mut leaf_pages = 0;
    let mut leaf_inuse = 0;
    let mut branch_pages = 0;
    let mut branch_inuse = 0;
    for b in &walk.buckets {
        leaf_pages += b.own.leaf_pages + b.own.leaf_overflow;
        leaf_inuse += b.own.leaf_inuse;
        branch_pages += b.own.branch_pages + b.own.branch_overflow;
        branch_inuse += b.own.branch_inuse;
    }
    let root = db.root();
    let mut buckets = Vec::new();
    let mut models: Vec<(Vec<u8>, TreeModel)> = Vec::new();
    let mut key_model_index = None;
    let mut key_after_compaction = None;
    for i in walk.top_level() {
        let node = &walk.buckets[i];
        let st = &stats[i];
        let scanned = ks.filter(|k| node.name == super::KEY_BUCKET && k.totals.leaf_nodes > 0);
        let model = match (scanned, root.bucket(node.name)) {
            (Some(k), _) => {
                let (now, after) = key_models(k, ps);
                key_after_compaction = Some(after);
                now
            }
            (None, Ok(Some(b))) => b
                .leaf_pages()
                .map(|pages| model_from_leaf_pages(&pages, ps))
                .unwrap_or_default(),
            _ => TreeModel::default(),
        };
        if node.name == super::KEY_BUCKET {
            key_model_index = Some(models.len());
        }
        let pages = st.leaf_pages + st.leaf_overflow + st.branch_pages + st.branch_overflow;
        buckets.push(BucketSpace {
            name: String::from_utf8_lossy(node.name).into_owned(),
            keys: st.keys,
            pages,
            bytes: pages.saturating_mul(ps),
            inuse: st.leaf_inuse + st.branch_inuse + st.inline_inuse,
            inline: node.root.is_none(),
            defrag_pages: model.pages(),
        });
        models.push((node.name.to_vec(), model));
    }
    let defrag = predicted_size(ps, &models);
    let db_size = hwm.saturating_mul(ps);

    let effect = ks.map(|k| k.compaction_effect()).unwrap_or_default();
    let after = match (ks, key_model_index) {
        (Some(k), Some(i)) => {
            let mut compacted = models.clone();
            compacted[i].1 = key_after_compaction
                .take()
                .unwrap_or_else(|| key_models(k, ps).1);
            predicted_size(ps, &compacted).size
        }
        _ => defrag.size,
    };
    let q = quota.max(1) as f64;
    Space {
        file_size,
        db_size,
        page_size: ps,
        pages_total: hwm,
        pages_reachable: g.reachable_count(),
        pages_free: free,
        pages_past_high_water: g.past_high_water_count(),
        bytes_in_use: hwm.saturating_sub(free).saturating_mul(ps),
        leaf: Fill::new(leaf_pages, leaf_inuse, ps),
        branch: Fill::new(branch_pages, branch_inuse, ps),
        buckets,
        predicted_defrag_size: defrag.size,
        defrag,
        compaction: CompactionSpace {
            revision: compact_at,
            revisions_dropped: effect.revisions_dropped,
            bytes_dropped: effect.bytes_dropped,
            predicted_size_after: after,
        },
        quota: QuotaUse {
            bytes: quota,
            used: db_size as f64 / q,
            after_defrag: defrag.size as f64 / q,
            after_compaction: after as f64 / q,
            exceeded: db_size > quota,
        },
    }
}

/// Why [`compute`] cannot give the figures.
#[derive(Debug, thiserror::Error)]
pub enum ComputeError {
    /// The compaction revision asked for is not in the file's range.
    #[error("--rev {rev}: out of range (newest revision is {newest})")]
    RevOutOfRange {
        /// The revision asked for.
        rev: i64,
        /// The newest revision (or the compact revision, if newer).
        newest: i64,
    },
    /// The root bucket could not be read.
    #[error(transparent)]
    Bolt(#[from] bbolt_reader::Error),
}

/// The page walk, the key-bucket scan and the space figures of a db, for a compaction at
/// `rev` (default: the newest revision), on the current rayon pool; also returns the scan
/// (None without a key bucket) and the walk for the caller's other uses. `file_size` is
/// the file's length on disk; `walk_progress` is called with pages walked,
/// `scan_progress` as [`super::scan::scan_bucket`]'s.
pub fn compute<'a>(
    db: &Db<'a>,
    file_size: u64,
    rev: Option<i64>,
    quota: u64,
    walk_progress: &(dyn Fn(u64) + Sync),
    scan_progress: &(dyn Fn(u64) + Sync),
) -> Result<(Space, Option<Keyspace<'a>>, Walk<'a>), ComputeError> {
    let (sp, ks, walk, ()) = compute_beside(
        db,
        file_size,
        rev,
        quota,
        walk_progress,
        scan_progress,
        |_| (),
    )?;
    Ok((sp, ks, walk))
}

/// [`compute`], and `beside` run on the scan while the space figures are worked out from
/// it (the models of the key bucket's defrag and compaction, on one thread): a caller
/// with more to do on the scan (`report`'s prefix groups and Kubernetes accounting) does
/// it then, on the rest of the pool, instead of after.
pub fn compute_beside<'a, T: Send>(
    db: &Db<'a>,
    file_size: u64,
    rev: Option<i64>,
    quota: u64,
    walk_progress: &(dyn Fn(u64) + Sync),
    scan_progress: &(dyn Fn(u64) + Sync),
    beside: impl FnOnce(Option<&Keyspace<'a>>) -> T + Send,
) -> Result<(Space, Option<Keyspace<'a>>, Walk<'a>, T), ComputeError> {
    let compact = super::info::read_info(db).meta.effective_compact_rev();
    // Compaction at the newest revision keeps the newest revision of each key: the same as
    // no upper limit, which needs no look-up of the newest revision before the scan.
    let limit = match rev {
        None => i64::MAX,
        Some(r) => {
            // On a damaged file the rightmost path may be unreadable: then R is not checked
            // against the newest revision here (the scan still bounds what it counts).
            let newest = super::scan::newest_revision(db).unwrap_or(i64::MAX);
            if r <= 0 || r > newest.max(compact) {
                return Err(ComputeError::RevOutOfRange {
                    rev: r,
                    newest: newest.max(compact),
                });
            }
            r
        }
    };
    // The key bucket is scanned as the page walk takes its leaves, each read right after
    // the walk's own analysis while it is in cache. When the walk found damage anywhere,
    // its leaves may not be the ones the scan's tolerant listing takes (which also words
    // the damage), and the scan runs again on its own.
    let (walk, ks) = match db.bucket(super::KEY_BUCKET)? {
        None => (
            bbolt_reader::walk::walk_with_progress(db, walk_progress),
            None,
        ),
        Some(bucket) if rayon::current_num_threads() > 1 => {
            // With a second thread the leaves are read there while the walk goes on.
            let piped = super::scan::PipedScan::new(bucket, limit, scan_progress);
            let (walk, ()) = rayon::join_context(
                |_| {
                    let walk = bbolt_reader::walk::walk_with_visitor(
                        db,
                        walk_progress,
                        &mut piped.feeder(),
                    );
                    piped.close();
                    walk
                },
                // The reader blocks until the walk closes the queue, so it runs only on
                // another thread: on the walk's own (not stolen, or picked up while the walk
                // waits inside its own parallel work) it would wait for itself. The walk
                // and `finish` read whatever it leaves queued.
                |ctx| {
                    if ctx.migrated() {
                        piped.read();
                    }
                },
            );
            let ks = piped.finish(walk.findings.is_empty()).unwrap_or_else(|| {
                super::scan::scan_bucket_with_model(&bucket, limit, scan_progress)
            });
            (walk, Some(ks))
        }
        Some(bucket) => {
            let mut fused = super::scan::FusedScan::new(bucket, limit, scan_progress);
            let walk = bbolt_reader::walk::walk_with_visitor(db, walk_progress, &mut fused);
            let ks = fused.finish(walk.findings.is_empty()).unwrap_or_else(|| {
                super::scan::scan_bucket_with_model(&bucket, limit, scan_progress)
            });
            (walk, Some(ks))
        }
    };
    let at = match rev {
        Some(r) => r,
        None => ks
            .as_ref()
            .and_then(|k| k.totals.max_rev)
            .map_or(0, |r| r.main)
            .max(compact),
    };
    let (sp, t) = rayon::join(
        || space(db, &walk, ks.as_ref(), at, file_size, quota),
        || beside(ks.as_ref()),
    );
    Ok((sp, ks, walk, t))
}

/// The key bucket's defrag trees, now and after a compaction at the scan's limit, in one
/// pass over its leaf pages: every element, in key order, through the bbolt split model;
/// for the second, only the entries that stay. Which entries at or below the limit stay
/// comes from the scan (one bit per entry), so this pass reads only element headers and
/// revision keys, never values; nothing is kept per entry.
fn key_models(ks: &Keyspace<'_>, page_size: u64) -> (TreeModel, TreeModel) {
    match &ks.element_model {
        Some(m) => match kept_model(ks, m, page_size) {
            Some(after) => (m.now.clone(), after),
            None => (m.now.clone(), key_models_read(ks, page_size).1),
        },
        None => key_models_read(ks, page_size),
    }
}

/// The key bucket's defrag tree after a compaction at the scan's limit, from what the
/// scan gathered, reading no page: the entries that stay are each key's newest revision at
/// or below the limit when it is a put (its place and size are in its [`super::scan::KeyAcc`]; a put's
/// revision key is 17 bytes) and the elements kept whatever their history
/// ([`ElementModel::kept_always`]), pushed in key order. `None` when the scan listed too
/// many of the latter (then a pass over the pages gives the tree).
fn kept_model(ks: &Keyspace<'_>, m: &ElementModel, page_size: u64) -> Option<TreeModel> {
    let always = m.kept_always.as_ref()?;
    // Grows with the distinct keys, not with the revisions: the kept keys' ordinals as a
    // set of bits, and their value lengths in ordinal order, placed by rank (no list of
    // pairs, no comparison sort).
    let kept = |a: &&super::scan::KeyAcc| a.below_count > 0 && !a.below_newest_tombstone;
    let order = OrdinalSet::of(
        ks.keys
            .values()
            .filter(kept)
            .map(|a| a.below_newest_ordinal),
    );
    let mut values = vec![0u64; order.len()];
    for a in ks.keys.values().filter(kept) {
        // Of one ordinal met twice (no sound scan gives that), the later one stays.
        if let Some(v) = order
            .rank(a.below_newest_ordinal)
            .and_then(|r| values.get_mut(r))
        {
            *v = a.below_newest_entry_bytes.saturating_sub(REV_KEY_LEN);
        }
    }
    let mut after = TreeBuilder::new(page_size, ETCD_DEFRAG_FILL_PERCENT);
    let mut a = always.iter().peekable();
    for (ordinal, value_len) in order.iter().zip(values) {
        while let Some(e) = a.next_if(|e| e.ordinal < ordinal) {
            after.push(e.key_len, e.value_len);
        }
        after.push(REV_KEY_LEN as u32, value_len);
    }
    for e in a {
        after.push(e.key_len, e.value_len);
    }
    Some(after.finish())
}

/// A set of element ordinals as bits, with each word's rank: the ordinals in order, and
/// each one's place among them, in time linear in the ordinals' range (which the scan's
/// ordinals bound by the elements it read).
struct OrdinalSet {
    bits: Vec<u64>,
    /// Set bits in the words before each word.
    rank: Vec<usize>,
    len: usize,
}

impl OrdinalSet {
    /// The set of what `ordinals` gives.
    fn of(ordinals: impl Iterator<Item = u64>) -> Self {
        let mut bits: Vec<u64> = Vec::new();
        for o in ordinals {
            let Ok(w) = usize::try_from(o / 64) else {
                continue;
            };
            if w >= bits.len() {
                bits.resize(w + 1, 0);
            }
            bits[w] |= 1 << (o % 64);
        }
        let mut rank = Vec::with_capacity(bits.len());
        let mut len = 0usize;
        for w in &bits {
            rank.push(len);
            len += w.count_ones() as usize;
        }
        OrdinalSet { bits, rank, len }
    }

    /// Distinct ordinals in the set.
    fn len(&self) -> usize {
        self.len
    }

    /// Place of `o` among the set's ordinals, when it is one of them.
    fn rank(&self, o: u64) -> Option<usize> {
        let w = usize::try_from(o / 64).ok()?;
        let word = *self.bits.get(w)?;
        let bit = 1u64 << (o % 64);
        (word & bit != 0).then(|| self.rank[w] + (word & (bit - 1)).count_ones() as usize)
    }

    /// The ordinals, in order.
    fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.bits.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                (w != 0).then(|| {
                    let b = w.trailing_zeros();
                    w &= w - 1;
                    i as u64 * 64 + u64::from(b)
                })
            })
        })
    }
}

/// Length of a put's revision key (8-byte main, `_`, 8-byte sub).
const REV_KEY_LEN: u64 = 17;

/// [`key_models`] for a scan that did not gather the model's inputs: one pass over every
/// leaf element.
fn key_models_read(ks: &Keyspace<'_>, page_size: u64) -> (TreeModel, TreeModel) {
    let limit = ks.limit;
    let pages = ks.leaves();
    let kept = ks.kept_below_limit(&pages);
    let bit = |o: u64| {
        kept.get((o / 64) as usize)
            .is_some_and(|w| w & (1 << (o % 64)) != 0)
    };
    let mut now = TreeBuilder::new(page_size, ETCD_DEFRAG_FILL_PERCENT);
    let mut after = TreeBuilder::new(page_size, ETCD_DEFRAG_FILL_PERCENT);
    let mut ordinal = 0u64;
    for p in pages.iter() {
        for (i, el) in p.leaf_elements().enumerate() {
            let o = ordinal + i as u64;
            let Ok(el) = el else { continue };
            let (key_len, value_len) = (el.key.len() as u32, el.value.len() as u64);
            now.push(key_len, value_len);
            let keep = match parse_rev_key(el.key) {
                // Not a revision: the scan could not place it; defrag copies it as it is.
                Err(_) => true,
                Ok(rk) => rk.rev.main > limit || bit(o),
            };
            if keep {
                after.push(key_len, value_len);
            }
        }
        ordinal += p.elements_in_view() as u64; // as `element_bases` counts
    }
    (now.finish(), after.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdb::build;

    #[test]
    fn the_ordinal_set_lists_its_ordinals_in_order_and_ranks_each() {
        let mut seed = 7u64;
        let mut got: Vec<u64> = (0..5000)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 33) % 100_000
            })
            .collect();
        got.extend([0, 63, 64, 127, 128]);
        let set = OrdinalSet::of(got.iter().copied());
        let mut want = got.clone();
        want.sort_unstable();
        want.dedup();
        assert_eq!(set.len(), want.len());
        assert_eq!(set.iter().collect::<Vec<_>>(), want);
        for (r, &o) in want.iter().enumerate() {
            assert_eq!(set.rank(o), Some(r));
        }
        assert_eq!(set.rank(100_001), None);
        assert_eq!(set.rank(u64::MAX), None);
        assert_eq!(OrdinalSet::of(std::iter::empty()).len(), 0);
    }

    /// Rewrites both metas' high-water mark, keeping their checksums valid.
    fn forge_high_water_mark(bytes: &mut [u8], ps: usize, hwm: u64) {
        for id in 0..2 {
            let body = id * ps + 16;
            bytes[body + 40..body + 48].copy_from_slice(&hwm.to_le_bytes());
            let sum = bbolt_reader::meta::fnv1a64(&bytes[body..body + 56]);
            bytes[body + 56..body + 64].copy_from_slice(&sum.to_le_bytes());
        }
    }

    #[test]
    fn fused_key_models_equal_models_read_from_the_pages_for_any_thread_count() {
        let keys: Vec<String> = (0..37).map(|i| format!("/registry/pods/ns/p{i}")).collect();
        let values: Vec<Vec<u8>> = (0..300).map(|i| vec![b'v'; 1 + (i * 37) % 700]).collect();
        let entries: Vec<crate::testdb::Entry<'_>> = (0..300)
            .map(|i| {
                let value = (i % 11 != 5).then_some(values[i].as_slice());
                (i as i64 + 2, keys[(i * 7) % 37].as_str(), value, 0)
            })
            .collect();
        let bytes = build(&entries, None);
        let db = Db::open(&bytes).unwrap();
        let bucket = db.bucket(b"key").unwrap().unwrap();
        let mut results = Vec::new();
        for threads in [1, 3] {
            let pool = crate::testdb::pool(threads);
            let ks = pool
                .install(|| super::super::scan::scan_keyspace(&bucket, 150, &|_| {}))
                .unwrap();
            assert!(ks.leaf_pages.len() > 3, "the test needs several leaf pages");
            let ps = db.page_size() as u64;
            let (now, after) = key_models(&ks, ps);
            assert_eq!(now, model_from_leaf_pages(&ks.leaf_pages, ps));
            // The compacted tree holds only what stays: fewer entries, never more pages.
            assert_eq!(
                after.leaf.entries,
                now.leaf.entries - ks.compaction_effect().revisions_dropped
            );
            assert!(after.pages() <= now.pages());
            results.push((now, after));
        }
        assert_eq!(results[0], results[1], "the same for 1 and 3 threads");
    }

    #[test]
    fn key_models_from_the_scans_own_visit_equal_a_second_pass_on_sound_and_damaged_trees() {
        let names = crate::testdb::cycled_names("/registry/leases/l", 3, 400, 41);
        let entries =
            crate::testdb::one_revision_each(&names, b"lease-renewal-value", |i| i % 13 == 4);
        let sound = build(&entries, None);
        // Damaged: one leaf's element count is forged (elements out of the page) and
        // another's first element is cut short (an entry that is not a revision).
        let mut damaged = sound.clone();
        let (ps, leaves) = crate::testdb::key_leaves(&sound);
        assert!(leaves.len() > 8, "{} leaves", leaves.len());
        crate::testdb::forge_element_count(&mut damaged, ps, leaves[3]);
        let ksize = leaves[5] as usize * ps + 16 + 8;
        damaged[ksize..ksize + 4].copy_from_slice(&5u32.to_le_bytes());
        for (bytes, damage) in [(&sound, false), (&damaged, true)] {
            let db = Db::open(bytes).unwrap();
            let bucket = db.bucket(b"key").unwrap().unwrap();
            for limit in [150, i64::MAX] {
                let mut seen = Vec::new();
                for threads in [1, 2, 3] {
                    let pool = crate::testdb::pool(threads);
                    let ks = pool.install(|| {
                        super::super::scan::scan_bucket_with_model(&bucket, limit, &|_| {})
                    });
                    assert_eq!(ks.problem_count > 0, damage);
                    assert!(ks.element_model.is_some());
                    let fused = key_models(&ks, ps as u64);
                    assert_eq!(
                        fused,
                        key_models_read(&ks, ps as u64),
                        "{threads} threads, limit {limit}"
                    );
                    seen.push(fused);
                }
                assert!(
                    seen.windows(2).all(|w| w[0] == w[1]),
                    "the same for any thread count"
                );
            }
        }
    }

    #[test]
    fn space_figures_and_the_scan_do_not_depend_on_the_thread_count_on_sound_and_damaged_files() {
        let names = crate::testdb::cycled_names("/registry/leases/l", 4, 14000, 211);
        let entries = crate::testdb::one_revision_each(&names, b"renewed", |i| i % 17 == 3);
        let sound = build(&entries, None);
        let mut damaged = sound.clone();
        let (ps, leaves) = crate::testdb::key_leaves(&sound);
        // Many leaves: the walk hands them to the fed scans in many batches.
        assert!(leaves.len() > 2048, "{} leaves", leaves.len());
        crate::testdb::forge_element_count(&mut damaged, ps, leaves[leaves.len() / 2]);
        for (bytes, damage) in [(&sound, false), (&damaged, true)] {
            let db = Db::open(bytes).unwrap();
            let mut seen = Vec::new();
            for threads in [1, 2, 3] {
                let pool = crate::testdb::pool(threads);
                for rev in [None, Some(7000)] {
                    let (sp, ks, walk) = pool
                        .install(|| {
                            compute(
                                &db,
                                bytes.len() as u64,
                                rev,
                                DEFAULT_QUOTA,
                                &|_| {},
                                &|_| {},
                            )
                        })
                        .unwrap();
                    let ks = ks.unwrap();
                    assert_eq!(walk.findings.is_empty(), !damage);
                    // The scan fed by the walk equals the scan on its own.
                    let alone = pool.install(|| {
                        super::super::scan::scan_bucket_with_model(
                            &db.bucket(b"key").unwrap().unwrap(),
                            ks.limit,
                            &|_| {},
                        )
                    });
                    assert_eq!(ks.keys, alone.keys, "{threads} threads");
                    assert_eq!(ks.totals, alone.totals);
                    assert_eq!(ks.problems, alone.problems);
                    assert_eq!(ks.problem_count, alone.problem_count);
                    assert_eq!(ks.element_model, alone.element_model);
                    // The fed scan keeps no list; listed again, its leaves are the
                    // scan's own.
                    let ids =
                        |k: &Keyspace<'_>| k.leaves().iter().map(|p| p.pgid()).collect::<Vec<_>>();
                    assert_eq!(ids(&ks), ids(&alone));
                    seen.push((rev, sp));
                }
            }
            for (rev, sp) in &seen {
                let first = &seen.iter().find(|(r, _)| r == rev).unwrap().1;
                assert_eq!(
                    sp, first,
                    "space figures for --rev {rev:?} are the same for 1, 2 and 3 threads"
                );
            }
        }
    }

    #[test]
    fn high_water_mark_u64_max_gives_saturated_sizes_not_an_overflow() {
        let mut bytes = build(&[(2, "/a", Some(b"v"), 0)], None);
        let ps = Db::open(&bytes).unwrap().page_size();
        forge_high_water_mark(&mut bytes, ps, u64::MAX);
        let db = Db::open(&bytes).unwrap();
        assert_eq!(db.meta().high_water_mark, u64::MAX);
        let walk = bbolt_reader::walk(&db);
        let s = space(&db, &walk, None, 0, bytes.len() as u64, DEFAULT_QUOTA);
        assert_eq!(s.db_size, u64::MAX);
        assert!(s.quota.exceeded);
    }
}
