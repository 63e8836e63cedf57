//! Every page of the file by what it holds, for drawing the file as a map: metas, the
//! freelist, branch and leaf pages of the `key` bucket (leaves split into those holding at
//! least one live key's newest revision and those holding only history), the other
//! buckets' pages, overflow pages, free pages, pages below the high-water mark that are
//! neither reachable nor free, and pages past the high-water mark.
//!
//! The classes come from the page walk ([`bbolt_reader::walk()`]) and the key-bucket scan:
//! a key-bucket leaf holds live data when it holds the newest revision of some live key
//! (the scan notes where each key's newest revision is).
//!
//! The map is run-length encoded. When the runs would exceed a bound (a badly fragmented
//! file alternates classes page by page), consecutive pages are grouped into cells of
//! `cell_pages` pages, each cell taking the class most of its pages have; the per-class
//! counts stay exact.

use super::scan::Keyspace;
use bbolt_reader::walk::{PageUse, Walk};

/// What a page (or a cell of pages) holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PageClass {
    /// Meta page 0 or 1.
    Meta,
    /// The freelist page (etcd on Linux does not persist one).
    Freelist,
    /// Branch page of the `key` bucket.
    KeyBranch,
    /// Leaf of the `key` bucket holding the newest revision of at least one live key.
    KeyLeafLive,
    /// Leaf of the `key` bucket holding only older revisions and tombstones.
    KeyLeafHistory,
    /// Branch or leaf page of another bucket (or of the root bucket).
    OtherBucket,
    /// Overflow page continuing a larger page.
    Overflow,
    /// Free page below the high-water mark (what defrag gives back).
    Free,
    /// Below the high-water mark, neither reachable nor free (lost), or reached but of a
    /// type no tree page has.
    Unaccounted,
    /// At or past the high-water mark: file space bbolt grew ahead of use.
    PastHighWater,
}

impl PageClass {
    /// Every class, in the order of [`PageMap::counts`].
    pub const ALL: [PageClass; 10] = [
        PageClass::Meta,
        PageClass::Freelist,
        PageClass::KeyBranch,
        PageClass::KeyLeafLive,
        PageClass::KeyLeafHistory,
        PageClass::OtherBucket,
        PageClass::Overflow,
        PageClass::Free,
        PageClass::Unaccounted,
        PageClass::PastHighWater,
    ];

    fn slot(self) -> u8 {
        self as u8
    }
}

/// The file as classified pages.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PageMap {
    /// Page size.
    pub page_size: u64,
    /// Pages the file holds (a partial last page counts).
    pub file_pages: u64,
    /// The high-water mark.
    pub high_water_mark: u64,
    /// Pages per class, in the order of [`PageClass::ALL`] (exact, whatever `cell_pages`).
    pub counts: [u64; 10],
    /// Pages per cell of `runs` (1: every page is its own cell).
    pub cell_pages: u64,
    /// (class slot in [`PageClass::ALL`], number of consecutive cells), in page order.
    pub runs: Vec<(u8, u64)>,
}

/// The pages of the key bucket's leaves holding a live key's newest revision, as a bitmap
/// over page ids (one bit per page of the file): each live key's newest element is where
/// the scan noted it ([`crate::scan::KeyAcc::newest_loc`]), so no leaf page is read.
fn live_leaves(ks: &Keyspace<'_>, file_pages: u64) -> Vec<u64> {
    let mut bits: Vec<u64> = bbolt_reader::page::written_zeros(file_pages.div_ceil(64) as usize);
    for a in ks.keys.values().filter(|a| a.is_live()) {
        if let Some(pgid) = a.newest_loc.pgid() {
            if let Some(w) = bits.get_mut((pgid / 64) as usize) {
                *w |= 1 << (pgid % 64);
            }
        }
    }
    bits
}

/// Classifies every page of the walked file and run-length encodes the map in at most
/// `max_runs` runs (at least 1), grouping pages into cells when needed.
pub fn page_map(walk: &Walk<'_>, ks: Option<&Keyspace<'_>>, max_runs: usize) -> PageMap {
    let g = &walk.graph;
    let file_pages = g.file_pages;
    let hwm = g.high_water_mark;
    let key_bucket = walk
        .top_level()
        .find(|&i| walk.buckets[i].name == super::KEY_BUCKET);
    let live = ks.map(|k| live_leaves(k, file_pages)).unwrap_or_default();
    let is_live = |p: u64| {
        live.get((p / 64) as usize)
            .is_some_and(|w| w & (1 << (p % 64)) != 0)
    };
    // The key bucket's index as the page uses name it (none: an index no page has).
    let kb = key_bucket
        .and_then(|b| u32::try_from(b).ok())
        .unwrap_or(u32::MAX);
    let mut counts = [0u64; 10];
    // One byte per page of the file: sized by the file, not by a number read from it.
    // Runs of single pages are counted on the way: on a fragmented file they are too many
    // and cells are needed anyway.
    let mut classes: Vec<u8> = Vec::with_capacity(usize::try_from(file_pages).unwrap_or(0));
    let mut single = 0usize;
    let mut prev = u8::MAX;
    for p in 0..hwm.min(file_pages) {
        let class = if g.is_free(p) {
            PageClass::Free
        } else {
            match g.page_use(p) {
                Some(PageUse::Meta) => PageClass::Meta,
                Some(PageUse::Freelist) => PageClass::Freelist,
                Some(PageUse::Branch(b)) if b == kb => PageClass::KeyBranch,
                Some(PageUse::Leaf(b)) if b == kb => {
                    if is_live(p) {
                        PageClass::KeyLeafLive
                    } else {
                        PageClass::KeyLeafHistory
                    }
                }
                Some(PageUse::Branch(_) | PageUse::Leaf(_)) => PageClass::OtherBucket,
                Some(PageUse::Overflow(_)) => PageClass::Overflow,
                Some(PageUse::Invalid(_) | PageUse::Unreached) | None => PageClass::Unaccounted,
            }
        }
        .slot();
        counts[class as usize] += 1;
        single += usize::from(class != prev);
        prev = class;
        classes.push(class);
    }
    if file_pages > hwm {
        let past = PageClass::PastHighWater.slot();
        counts[past as usize] += file_pages - hwm;
        single += usize::from(past != prev);
        classes.resize(classes.len() + (file_pages - hwm) as usize, past);
    }
    let single = single.max(1);
    let max_runs = max_runs.max(1);
    let mut cell_pages: u64 = if single <= max_runs { 1 } else { 2 };
    loop {
        let runs = encode(&classes, cell_pages as usize);
        if runs.len() <= max_runs || cell_pages >= file_pages.max(1) {
            return PageMap {
                page_size: g.page_size as u64,
                file_pages,
                high_water_mark: hwm,
                counts,
                cell_pages,
                runs,
            };
        }
        cell_pages = cell_pages.saturating_mul(2);
    }
}

/// Run-length encodes `classes` in cells of `cell` pages, each cell taking its most
/// frequent class (ties: the lower class).
fn encode(classes: &[u8], cell: usize) -> Vec<(u8, u64)> {
    let mut runs: Vec<(u8, u64)> = Vec::new();
    let mut push = |c: u8| match runs.last_mut() {
        Some((last, len)) if *last == c => *len += 1,
        _ => runs.push((c, 1)),
    };
    // The common cells without counting: one page, or two (the lower class on a tie).
    if cell <= 1 {
        classes.iter().for_each(|&c| push(c));
        return runs;
    }
    if cell == 2 {
        let mut pairs = classes.chunks_exact(2);
        for p in &mut pairs {
            push(p[0].min(p[1]));
        }
        if let [c] = pairs.remainder() {
            push(*c);
        }
        return runs;
    }
    encode_by_count(classes, cell)
}

/// [`encode`] for any cell size, each cell's classes counted.
fn encode_by_count(classes: &[u8], cell: usize) -> Vec<(u8, u64)> {
    let mut runs: Vec<(u8, u64)> = Vec::new();
    for chunk in classes.chunks(cell.max(1)) {
        let Some(&first) = chunk.first() else {
            continue;
        };
        // Most cells hold one class.
        let c = if chunk.iter().all(|&c| c == first) {
            first
        } else {
            let mut n = [0u32; 10];
            for &c in chunk {
                n[usize::from(c).min(9)] += 1;
            }
            let best = n.iter().copied().max().unwrap_or(0);
            n.iter().position(|&x| x == best).unwrap_or(0) as u8
        };
        match runs.last_mut() {
            Some((last, len)) if *last == c => *len += 1,
            _ => runs.push((c, 1)),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_of_one_and_two_pages_encode_as_counting_the_classes_does() {
        // A fixed pseudo-random sequence of classes, with long runs and single pages.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut classes = Vec::new();
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let class = (x % 10) as u8;
            let len = if x % 3 == 0 { (x >> 8) % 9 + 1 } else { 1 };
            classes.extend(std::iter::repeat_n(class, len as usize));
        }
        for n in [0, 1, 2, 3, 7, classes.len()] {
            let c = &classes[..n];
            for cell in [1, 2] {
                assert_eq!(encode(c, cell), encode_by_count(c, cell), "{n} {cell}");
            }
        }
        assert_eq!(encode(&[4, 2, 2, 2, 9], 2), vec![(2, 2), (9, 1)]);
    }
    use crate::testdb::build;
    use bbolt_reader::Db;

    #[test]
    fn every_page_is_counted_once_and_cells_keep_the_counts_exact() {
        // Each of 40 keys written 5 times: most leaves hold only history.
        let names = crate::testdb::cycled_names("/registry/pods/p", 2, 200, 40);
        let entries = crate::testdb::one_revision_each(&names, b"value-value", |_| false);
        let bytes = build(&entries, None);
        let db = Db::open(&bytes).unwrap();
        let walk = bbolt_reader::walk(&db);
        let b = db.bucket(b"key").unwrap().unwrap();
        let ks = crate::scan::scan_keyspace(&b, i64::MAX, &|_| {}).unwrap();
        let m = page_map(&walk, Some(&ks), usize::MAX);
        assert_eq!(m.cell_pages, 1);
        assert_eq!(m.counts.iter().sum::<u64>(), m.file_pages);
        assert_eq!(
            m.runs.iter().map(|r| r.1).sum::<u64>(),
            m.file_pages,
            "one cell per page"
        );
        let live = m.counts[PageClass::KeyLeafLive as usize];
        let history = m.counts[PageClass::KeyLeafHistory as usize];
        assert!(live > 0 && history > 0, "live {live} history {history}");
        assert_eq!(live + history, ks.leaf_pages.len() as u64);
        // A scan with a lower limit takes the other way to the same leaves.
        let limited = crate::scan::scan_keyspace(&b, 150, &|_| {}).unwrap();
        assert_eq!(page_map(&walk, Some(&limited), usize::MAX).counts, m.counts);
        // Each leaf is live when its range of element ordinals holds a live key's newest
        // one: what the map finds from the places the scan noted.
        let bases = crate::scan::element_bases(&ks.leaf_pages);
        let classes: Vec<u8> = m
            .runs
            .iter()
            .flat_map(|&(c, n)| std::iter::repeat_n(c, n as usize))
            .collect();
        for (i, p) in ks.leaf_pages.iter().enumerate() {
            let end = bases.get(i + 1).copied().unwrap_or(u64::MAX);
            let live = ks
                .keys
                .values()
                .any(|a| a.is_live() && (bases[i]..end).contains(&a.below_newest_ordinal));
            let want = if live {
                PageClass::KeyLeafLive
            } else {
                PageClass::KeyLeafHistory
            };
            assert_eq!(classes[p.pgid() as usize], want as u8, "page {}", p.pgid());
        }
        let small = page_map(&walk, Some(&ks), 2);
        assert!(small.runs.len() <= 2 || small.cell_pages >= small.file_pages);
        assert_eq!(small.counts, m.counts);
    }

    #[test]
    fn majority_class_wins_a_cell() {
        assert_eq!(encode(&[1, 2, 2, 3, 3, 3, 3, 0], 4), vec![(2, 1), (3, 1)]);
        assert_eq!(encode(&[5, 5, 5], 1), vec![(5, 3)]);
    }
}
