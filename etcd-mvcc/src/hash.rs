//! etcd's hashes, all CRC-32 Castagnoli (crc32c).
//!
//! - HashKV at revision R (etcd 3.4 `mvcc/kvstore.go` HashByRev): crc over the bytes
//!   "key", then, for each entry of the key bucket in order with main revision <= R, its
//!   bbolt key and value. Entries at or below the compact revision C are skipped unless
//!   they are in the "keep" set of R — per user key, its newest revision <= R, unless that
//!   one is a tombstone (`keyIndex.keep`) — and when the keep set is empty nothing is
//!   skipped. So for R > C an old revision <= C of a key that changed in (C, R] is left
//!   out, exactly as etcd does.
//! - Whole-db hash (etcd 3.4 `backend.Hash`, used by etcd-dump-db `hash` and by
//!   `etcdctl snapshot status`): for each top-level bucket in order, its name, then each
//!   key and value. `backend.Hash` skips `meta/consistent_index` (3.5+ also `meta/term`);
//!   snapshot status skips nothing.
//!
//! The key bucket is hashed in parallel chunks whose CRCs are joined in order (crc(A ‖ B)
//! from crc(A), crc(B) and |B|), so the result is the sequential CRC whatever the thread
//! count.

use super::fasthash::FastMap;
use super::kv::{KeyValue, KeyValueRef};
use super::newest::{key_hash, Newest, NewestTable, Offer, BATCH};
use super::replay::Change;
use super::revision::{parse_rev_key, rev_lenient, Revision};
use super::scan::chunk_pages;
use bbolt_reader::{Bucket, Db, Page};
use rayon::prelude::*;

/// A CRC and the number of bytes it covers, joinable in order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Crc {
    /// crc32c of the bytes.
    pub crc: u32,
    /// Their count.
    pub len: u64,
}

impl Crc {
    /// Appends bytes.
    #[inline]
    pub fn update(&mut self, b: &[u8]) {
        self.crc = wal_reader::crc::crc32c_append(self.crc, b);
        self.len += b.len() as u64;
    }

    /// The CRC of `self` followed by `next`.
    pub fn then(self, next: Crc) -> Crc {
        if next.len == 0 {
            return self;
        }
        Crc {
            crc: shift(self.crc, next.len) ^ next.crc,
            len: self.len + next.len,
        }
    }
}

/// crc32c's polynomial, bit-reflected (bit 31 is the coefficient of x^0).
const POLY: u32 = 0x82f6_3b78;

/// `a * b mod P` over GF(2), both bit-reflected polynomials of degree < 32.
const fn mul_mod(a: u32, mut b: u32) -> u32 {
    let mut p = 0u32;
    let mut bit = 1u32 << 31;
    while bit != 0 {
        if a & bit != 0 {
            p ^= b;
        }
        // b = b * x mod P: x^31's coefficient (bit 0) wraps into P.
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
        bit >>= 1;
    }
    p
}

/// `X2K[k]` = x^(2^k) mod P, for shifts of up to 2^64 bytes (k up to 66).
const X2K: [u32; 67] = {
    let mut t = [0u32; 67];
    t[0] = 1 << 30; // x^1
    let mut k = 1;
    while k < t.len() {
        t[k] = mul_mod(t[k - 1], t[k - 1]);
        k += 1;
    }
    t
};

/// The CRC `crc` carried over `len` further bytes, as if they were zeros with no
/// pre- and post-conditioning: `crc * x^(8 len) mod P`. With it, crc(A ‖ B) =
/// shift(crc(A), |B|) ^ crc(B) (the conditioning of the two cancels), one multiplication
/// per set bit of `len` from a table, where the zlib-style combine of the `crc32c` crate
/// squares a 32x32 matrix per bit (tens of microseconds per join, and the joins are serial).
fn shift(crc: u32, len: u64) -> u32 {
    let mut r = crc;
    let mut n = len;
    // 8 len = len * 2^3: bit j of len is x^(2^(j+3)).
    let mut k = 3;
    while n != 0 {
        if n & 1 != 0 {
            r = mul_mod(X2K[k], r);
        }
        n >>= 1;
        k += 1;
    }
    r
}

/// The result of [`hash_kv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct HashKv {
    /// The hash.
    pub hash: u32,
    /// The revision hashed at.
    pub revision: i64,
    /// The compact revision used.
    pub compact_revision: i64,
    /// Entries hashed.
    pub entries_hashed: u64,
    /// Entries at or below the compact revision left out by the keep rule.
    pub entries_skipped: u64,
}

/// Appends leaf elements' bytes to a [`Crc`], one call per run of adjacent bytes.
///
/// bbolt writes a leaf's keys and values back to back in element order (key 0, value 0,
/// key 1, ...), so the bytes HashKV and the whole-db hash cover are, on a sound page, one
/// stretch: hashing it in one call runs the CRC at its full speed instead of paying a
/// call per short key. Pieces that are not adjacent (an entry left out, a forged layout)
/// just start a new run, so the CRC is the sequential one whatever the layout.
struct PageRun<'p> {
    page: &'p [u8],
    start: usize,
    end: usize,
}

impl<'p> PageRun<'p> {
    fn new(page: &'p [u8]) -> Self {
        PageRun {
            page,
            start: 0,
            end: 0,
        }
    }

    /// Appends `piece`, a slice of the page's bytes.
    #[inline]
    fn add(&mut self, c: &mut Crc, piece: &[u8]) {
        if piece.is_empty() {
            return;
        }
        let off = (piece.as_ptr() as usize).wrapping_sub(self.page.as_ptr() as usize);
        let inside = off
            .checked_add(piece.len())
            .is_some_and(|e| e <= self.page.len());
        if !inside {
            // Not a slice of this page (never for a leaf element): hash it on its own.
            self.flush(c);
            c.update(piece);
        } else if off == self.end && self.end > self.start {
            self.end += piece.len();
        } else {
            self.flush(c);
            self.start = off;
            self.end = off + piece.len();
        }
    }

    /// Hashes the pending run.
    #[inline]
    fn flush(&mut self, c: &mut Crc) {
        if self.end > self.start {
            c.update(&self.page[self.start..self.end]);
        }
        self.start = self.end;
    }
}

/// Pages ahead of the one being read that [`touch_ahead`] reads early.
const AHEAD: usize = 2;

/// Asks the CPU for every cache line of page `j + AHEAD` of `ps` (at most 16 KiB of it).
///
/// The hardware prefetchers follow a stream within a 4 KiB page but not across pages, so
/// every page of a pass over the mapping would start with a wait for memory; these hints
/// are not loads (nothing waits for them), so their misses overlap the work on page `j`.
#[inline]
pub(crate) fn touch_ahead(ps: &[Page<'_>], j: usize) {
    if let Some(p) = ps.get(j + AHEAD) {
        let b = p.bytes();
        for at in (0..b.len().min(16 << 10)).step_by(64) {
            crate::scan::prefetch(b[at..].as_ptr());
        }
    }
}

/// Runs `f` over the chunks of `pages` in parallel, each pool thread folding into an
/// accumulator of its own (made by `init`, joined by `join` once at the end); returns the
/// joined accumulator and `f`'s results in chunk order.
///
/// One accumulator per thread, not one per piece of rayon's splitting: an accumulator here
/// is a table that grows to every distinct key of the bucket, so each piece more costs a
/// table grown again and merged (on a history-heavy member, most of the keys each time).
/// `f` must not call into rayon: it runs holding its thread's accumulator.
pub(crate) fn fold_chunks<'a, T, R>(
    pages: &[Page<'a>],
    per: usize,
    init: impl Fn() -> T + Sync + Send,
    f: impl Fn(&mut T, &[Page<'a>]) -> R + Sync + Send,
    join: impl Fn(T, T) -> T + Sync + Send,
) -> (T, Vec<R>)
where
    T: Send,
    R: Send,
{
    use std::sync::{Mutex, PoisonError};
    let threads = rayon::current_num_threads().max(1);
    let accs: Vec<Mutex<T>> = (0..threads).map(|_| Mutex::new(init())).collect();
    let parts: Vec<R> = pages
        .par_chunks(per.max(1))
        .map(|ps| {
            let slot = rayon::current_thread_index().unwrap_or(0) % threads;
            let mut acc = accs[slot].lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut acc, ps)
        })
        .collect();
    let acc = accs
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(PoisonError::into_inner))
        .reduce(join)
        .unwrap_or_else(init);
    (acc, parts)
}

/// Per user key: the newest revision <= R (tombstone or not).
type KeepTable<'a> = NewestTable<'a, ()>;

/// The user key of an encoded KeyValue in etcd's own layout, `None` for any other layout:
/// the scan's fast path ([`crate::scan::kv_fields_canonical`]).
#[inline]
fn canonical_key(v: &[u8]) -> Option<&[u8]> {
    crate::scan::kv_fields_canonical(v).map(|f| f.key)
}

/// The user key of an encoded KeyValue, exactly when [`KeyValueRef::parse`] accepts it:
/// etcd's layout read directly ([`canonical_key`]), any other by the general parser.
#[inline]
pub(crate) fn kv_key(v: &[u8]) -> Option<&[u8]> {
    canonical_key(v).or_else(|| KeyValueRef::parse(v).ok().map(|kv| kv.key))
}

/// The keep table's offer of a key-bucket entry: its user key, the key's hash and its
/// revision, when the entry is a revision <= `rev` with a KeyValue.
#[inline]
fn keep_offer<'a>(key: &'a [u8], value: &'a [u8], rev: i64) -> Option<Offer<'a, ()>> {
    let rk = parse_rev_key(key).ok()?;
    if rk.rev.main > rev {
        return None;
    }
    let key = kv_key(value)?;
    Some((key, key_hash(key), Newest::of(&rk, ())))
}

/// Offers an entry to the keep table (through `batch`) when it is a revision <= `rev`
/// with a KeyValue ([`keep_offer`]).
#[inline]
fn offer_keep<'a>(
    t: &mut KeepTable<'a>,
    batch: &mut Vec<Offer<'a, ()>>,
    key: &'a [u8],
    value: &'a [u8],
    rev: i64,
) {
    if let Some(o) = keep_offer(key, value, rev) {
        batch.push(o);
        if batch.len() >= BATCH {
            t.offer_all(batch);
        }
    }
}

/// One chunk's share of HashKV: its CRC, entries hashed and left out.
#[derive(Debug, Clone, Copy, Default)]
struct KvPart {
    crc: Crc,
    hashed: u64,
    skipped: u64,
}

/// The keep set's revisions at or below the compact revision: per user key, its newest
/// revision <= R when that is a put at or below C, with the key (in the mapping), sorted
/// by revision.
///
/// The key bucket is ordered by revision, so the entries of the chunks hashed once the keep
/// set is complete meet these revisions in order: an entry's fate is decided by a cursor
/// over this list (a revision not in it is left out without decoding its value), and only
/// an entry whose revision is in it has its KeyValue read, to confirm the key.
struct KeptRevs<'a> {
    revs: Vec<(i64, i64, &'a [u8])>,
}

/// Steps a cursor takes forward before it falls back to a binary search (entries out of
/// revision order, only in a forged bucket, then cost a search each, never a long walk).
const CURSOR_STEPS: usize = 8;

impl<'a> KeptRevs<'a> {
    fn new(table: &KeepTable<'a>, compact_rev: i64) -> Self {
        let mut revs: Vec<(i64, i64, &'a [u8])> = table
            .iter()
            .filter(|(_, n)| !n.tombstone && n.main <= compact_rev)
            .map(|(k, n)| (n.main, n.sub, k))
            .collect();
        revs.sort_unstable_by_key(|&(m, s, _)| (m, s));
        KeptRevs { revs }
    }

    /// The first index at or after which revisions are >= (main, sub), starting from the
    /// cursor `at` and leaving the cursor there.
    #[inline]
    fn seek(&self, main: i64, sub: i64, at: &mut usize) -> usize {
        let r = &self.revs;
        let below = |i: usize| (r[i].0, r[i].1) < (main, sub);
        let mut i = (*at).min(r.len());
        if i > 0 && !below(i - 1) {
            // Behind the cursor: search from the start.
            i = r.partition_point(|e| (e.0, e.1) < (main, sub));
        } else {
            let mut steps = 0;
            while i < r.len() && below(i) {
                if steps == CURSOR_STEPS {
                    i += r[i..].partition_point(|e| (e.0, e.1) < (main, sub));
                    break;
                }
                i += 1;
                steps += 1;
            }
        }
        *at = i;
        i
    }

    /// Whether the put at (`main`, `sub`) with encoded KeyValue `value` is its key's
    /// newest revision <= R (the same answer as a look-up of its key in the keep table).
    #[inline]
    fn keeps(&self, main: i64, sub: i64, value: &[u8], at: &mut usize) -> bool {
        let i = self.seek(main, sub, at);
        let same = |e: &(i64, i64, &[u8])| e.0 == main && e.1 == sub;
        if !self.revs.get(i).is_some_and(same) {
            return false;
        }
        let Some(key) = kv_key(value) else {
            return false;
        };
        // One record per key; several at one revision only in a forged bucket.
        self.revs[i..].iter().take_while(|e| same(e)).any(|e| {
            // The table keeps the newest entry's own slice, so a kept entry is usually
            // the very same bytes.
            (e.2.as_ptr() == key.as_ptr() && e.2.len() == key.len()) || e.2 == key
        })
    }
}

/// HashKV over `ps` once the keep table is complete (`keep`: `Some` when compacted and
/// some key's newest revision <= R is a put).
fn kv_part(ps: &[Page<'_>], rev: i64, compact_rev: i64, keep: Option<&KeptRevs<'_>>) -> KvPart {
    let mut part = KvPart::default();
    let mut at = 0usize;
    for (j, p) in ps.iter().enumerate() {
        touch_ahead(ps, j);
        let mut run = PageRun::new(p.bytes());
        for el in p.leaf_elements().flatten() {
            // etcd reads main and sub from the first 17 bytes without checks.
            let Some(kr) = rev_lenient(el.key) else {
                continue;
            };
            if kr.main > rev {
                continue;
            }
            if let Some(m) = keep.filter(|_| kr.main <= compact_rev) {
                let tomb = el.key.len() > 17;
                if tomb || !m.keeps(kr.main, kr.sub, el.value, &mut at) {
                    part.skipped += 1;
                    continue;
                }
            }
            run.add(&mut part.crc, el.key);
            run.add(&mut part.crc, el.value);
            part.hashed += 1;
        }
        run.flush(&mut part.crc);
    }
    part
}

/// Why etcd refuses a HashKV at a requested revision (`HashKVRequest.revision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HashRevisionError {
    /// A negative revision.
    #[error("--rev {0}: a revision is positive")]
    Negative(i64),
    /// At or below the compact revision: the entries it needs are gone.
    #[error(
        "--rev {requested}: required revision has been compacted (compact revision {compact})"
    )]
    Compacted {
        /// The revision asked for.
        requested: i64,
        /// The db's effective compact revision.
        compact: i64,
    },
    /// Past the newest revision of the db.
    #[error("--rev {requested}: required revision is a future revision (newest {newest})")]
    Future {
        /// The revision asked for.
        requested: i64,
        /// The newest revision (never below the compact revision).
        newest: i64,
    },
}

/// The revision a HashKV is taken at, by etcd's rule: none or 0 means the newest; a
/// revision at or below the compact revision, or past the newest, is refused. `newest` is
/// raised to `compact` first (a db compacted past its last write still hashes there).
pub fn hash_kv_revision(
    requested: Option<i64>,
    newest: i64,
    compact: i64,
) -> Result<i64, HashRevisionError> {
    let newest = newest.max(compact);
    match requested {
        None | Some(0) => Ok(newest),
        Some(r) if r < 0 => Err(HashRevisionError::Negative(r)),
        Some(r) if r <= compact => Err(HashRevisionError::Compacted {
            requested: r,
            compact,
        }),
        Some(r) if r > newest => Err(HashRevisionError::Future {
            requested: r,
            newest,
        }),
        Some(r) => Ok(r),
    }
}

/// etcd's HashKV over the key bucket at `rev` with compact revision `compact_rev`.
/// Runs on the current rayon pool. `progress` gets leaf pages done.
///
/// One parallel pass builds the keep set and hashes every chunk that holds no entry at or
/// below the compact revision (the bucket is ordered by revision, so that is all but the
/// first chunks); a second pass hashes those first chunks with the complete keep set.
pub fn hash_kv(
    key_bucket: Option<&Bucket<'_>>,
    rev: i64,
    compact_rev: i64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<HashKv, bbolt_reader::Error> {
    let mut head = Crc::default();
    head.update(super::KEY_BUCKET);
    if let Some(b) = key_bucket {
        if let Some(h) = hash_kv_streamed(b, head, rev, compact_rev, progress) {
            return Ok(h);
        }
    }
    hash_kv_strict(key_bucket, head, rev, compact_rev, progress)
}

/// [`hash_kv`] over the strict listing ([`Bucket::leaf_pages`]), which fails at the first
/// damage: what a damaged tree gets.
fn hash_kv_strict(
    key_bucket: Option<&Bucket<'_>>,
    head: Crc,
    rev: i64,
    compact_rev: i64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<HashKv, bbolt_reader::Error> {
    let pages = match key_bucket {
        Some(b) => b.leaf_pages()?,
        None => Vec::new(),
    };
    let per = chunk_pages(pages.len());
    let (table, first): (KeepTable<'_>, Vec<Option<KvPart>>) = fold_chunks(
        &pages,
        per,
        KeepTable::default,
        |t, ps| {
            let part = kv_first_part(t, ps, rev, compact_rev);
            progress(ps.len() as u64);
            part
        },
        KeepTable::merged,
    );
    Ok(kv_finish(
        head,
        &pages,
        per,
        &table,
        first,
        rev,
        compact_rev,
    ))
}

/// Leaf pages per chunk of a streamed fold ([`stream_fold`]), about what
/// [`chunk_pages`] gives a 2 GiB bucket.
#[cfg(not(test))]
const STREAM_CHUNK: usize = 1024;
/// Small in tests, so that their few hundred leaves make many chunks.
#[cfg(test)]
const STREAM_CHUNK: usize = 16;

/// A fold's accumulator per pool thread (see [`fold_chunks`]).
type Slots<T> = [std::sync::Mutex<T>];

/// The leaves of a bucket as [`bbolt_reader::tree::walk_tree`] lists them, each chunk of
/// [`STREAM_CHUNK`] pages folded as soon as it is listed: on one thread right away (its
/// page headers were just read), on more threads as a job another thread takes while this
/// one goes on listing. The listing (about a fifth of HashKV's work, all of it serial
/// before the chunks) so overlaps the folding.
struct Streamed<'a, 's, 'scope, T, R> {
    scope: Option<&'s rayon::Scope<'scope>>,
    accs: &'scope Slots<T>,
    parts: &'scope std::sync::Mutex<Vec<(usize, R)>>,
    f: &'scope (dyn Fn(&mut T, &[Page<'a>]) -> R + Sync),
    pages: Vec<Page<'a>>,
    handed: usize,
    /// Bytes of leaf views listed, bounded as the strict listing bounds them.
    spans: u64,
    span_limit: u64,
    damaged: bool,
}

impl<'a, 'scope, T: Send, R: Send> Streamed<'a, '_, 'scope, T, R> {
    /// Starts the fold of the pages listed since the last chunk.
    fn hand_over(&mut self) {
        if self.handed == self.pages.len() {
            return;
        }
        let index = self.handed / STREAM_CHUNK;
        let chunk: Vec<Page<'a>> = self.pages[self.handed..].to_vec();
        self.handed = self.pages.len();
        let (accs, parts, f) = (self.accs, self.parts, self.f);
        let job = move || {
            use std::sync::PoisonError;
            let slot = rayon::current_thread_index().unwrap_or(0) % accs.len().max(1);
            let r = {
                let mut acc = accs[slot].lock().unwrap_or_else(PoisonError::into_inner);
                f(&mut acc, &chunk)
            };
            parts
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((index, r));
        };
        match self.scope {
            Some(s) => s.spawn(move |_| job()),
            None => job(),
        }
    }
}

impl<'a, T: Send, R: Send> bbolt_reader::tree::TreeVisitor<'a> for Streamed<'a, '_, '_, T, R> {
    fn leaf(
        &mut self,
        page: Page<'a>,
        _: bbolt_reader::Pgid,
        _: usize,
    ) -> bbolt_reader::tree::Flow {
        use bbolt_reader::tree::Flow;
        self.spans = self.spans.saturating_add(page.bytes().len() as u64);
        if self.spans > self.span_limit {
            self.damaged = true;
        }
        if self.damaged {
            return Flow::Stop;
        }
        self.pages.push(page);
        if self.pages.len() - self.handed >= STREAM_CHUNK {
            self.hand_over();
        }
        Flow::Continue
    }

    fn damage(&mut self, _: bbolt_reader::tree::TreeDamage) {
        self.damaged = true;
    }
}

/// [`fold_chunks`] over `bucket`'s leaf pages in chunks of [`STREAM_CHUNK`], with the
/// listing and the folding overlapped ([`Streamed`]); returns the joined accumulator,
/// `f`'s results in chunk order and the leaf pages. `None` when the listing met any damage
/// (or more leaf bytes than the strict listing, [`Bucket::leaf_pages`], allows): then the
/// caller lists and folds as before, with the strict listing that words the damage. On a
/// sound tree both listings give the same leaves in the same order. `f` must not call into
/// rayon (it runs holding its thread's accumulator).
pub(crate) fn stream_fold<'a, T: Send, R: Send>(
    bucket: &Bucket<'a>,
    init: impl Fn() -> T,
    f: &(dyn Fn(&mut T, &[Page<'a>]) -> R + Sync),
    join: impl Fn(T, T) -> T,
) -> Option<(T, Vec<R>, Vec<Page<'a>>)> {
    use std::sync::{Mutex, PoisonError};
    let threads = rayon::current_num_threads().max(1);
    let accs: Vec<Mutex<T>> = (0..threads).map(|_| Mutex::new(init())).collect();
    let parts = Mutex::new(Vec::new());
    let db = bucket.db();
    // The strict listing's bound on the bytes of leaf views (bbolt-reader `span_budget`).
    let span_limit = (db.data().len() as u64)
        .saturating_mul(2)
        .saturating_add(db.page_size() as u64);
    let (pages, damaged) = rayon::scope(|s| {
        let mut v = Streamed {
            scope: (threads > 1).then_some(s),
            accs: &accs,
            parts: &parts,
            f,
            pages: Vec::new(),
            handed: 0,
            spans: 0,
            span_limit,
            damaged: false,
        };
        bbolt_reader::tree::walk_tree(bucket, &mut v);
        if !v.damaged {
            v.hand_over();
        }
        (v.pages, v.damaged)
    });
    if damaged {
        return None;
    }
    let acc = accs
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(PoisonError::into_inner))
        .reduce(join)
        .unwrap_or_else(init);
    let mut parts = parts.into_inner().unwrap_or_else(PoisonError::into_inner);
    parts.sort_unstable_by_key(|(i, _)| *i);
    Some((acc, parts.into_iter().map(|(_, r)| r).collect(), pages))
}

/// [`hash_kv`] with the key bucket's listing overlapped with the first pass
/// ([`stream_fold`]); `None` when the listing met damage. The chunks' shares are joined
/// in order, so the hash and counts are those of the strict listing's chunks.
fn hash_kv_streamed<'a>(
    bucket: &Bucket<'a>,
    head: Crc,
    rev: i64,
    compact_rev: i64,
    progress: &(dyn Fn(u64) + Sync),
) -> Option<HashKv> {
    let first_pass = |t: &mut KeepTable<'a>, ps: &[Page<'a>]| {
        let part = kv_first_part(t, ps, rev, compact_rev);
        progress(ps.len() as u64);
        part
    };
    let (table, first, pages) =
        stream_fold(bucket, KeepTable::default, &first_pass, KeepTable::merged)?;
    Some(kv_finish(
        head,
        &pages,
        STREAM_CHUNK,
        &table,
        first,
        rev,
        compact_rev,
    ))
}

/// HashKV's first pass over one chunk: every entry <= `rev` offered to the keep table
/// `t` (when compacted), and the chunk's share of the hash, or `None` when the chunk holds
/// an entry at or below the compact revision (decided once the keep set is complete).
fn kv_first_part<'a>(
    t: &mut KeepTable<'a>,
    ps: &[Page<'a>],
    rev: i64,
    compact_rev: i64,
) -> Option<KvPart> {
    let compacted = compact_rev > 0;
    let mut batch = Vec::with_capacity(BATCH);
    let mut part = Some(KvPart::default());
    for (j, p) in ps.iter().enumerate() {
        touch_ahead(ps, j);
        let mut run = PageRun::new(p.bytes());
        for el in p.leaf_elements().flatten() {
            if compacted {
                offer_keep(t, &mut batch, el.key, el.value, rev);
            }
            let Some(c) = part.as_mut() else { continue };
            let Some(kr) = rev_lenient(el.key) else {
                continue;
            };
            if kr.main > rev {
                continue;
            }
            if compacted && kr.main <= compact_rev {
                // Decided once the keep set is complete.
                part = None;
                continue;
            }
            run.add(&mut c.crc, el.key);
            run.add(&mut c.crc, el.value);
            c.hashed += 1;
        }
        if let Some(c) = part.as_mut() {
            run.flush(&mut c.crc);
        }
    }
    t.offer_all(&mut batch);
    part
}

/// HashKV's second pass (the chunks `first` left undecided, `per` pages each, hashed
/// with the complete keep table) and the join of every chunk's share in order.
fn kv_finish(
    head: Crc,
    pages: &[Page<'_>],
    per: usize,
    table: &KeepTable<'_>,
    first: Vec<Option<KvPart>>,
    rev: i64,
    compact_rev: i64,
) -> HashKv {
    let compacted = compact_rev > 0;
    let kept = (compacted && table.values().any(|n| !n.tombstone))
        .then(|| KeptRevs::new(table, compact_rev));
    let keep = kept.as_ref();
    let redo: Vec<usize> = (0..first.len()).filter(|&i| first[i].is_none()).collect();
    let redone: Vec<KvPart> = redo
        .par_iter()
        .map(|&i| {
            let ps = &pages[i * per..((i + 1) * per).min(pages.len())];
            kv_part(ps, rev, compact_rev, keep)
        })
        .collect();
    let mut redone = redone.into_iter();
    let mut total = head;
    let (mut hashed, mut skipped) = (0, 0);
    for part in first {
        let Some(part) = part.or_else(|| redone.next()) else {
            continue;
        };
        total = total.then(part.crc);
        hashed += part.hashed;
        skipped += part.skipped;
    }
    HashKv {
        hash: total.crc,
        revision: rev,
        compact_revision: compact_rev,
        entries_hashed: hashed,
        entries_skipped: skipped,
    }
}

/// The result of [`hash_db`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DbHash {
    /// The hash.
    pub hash: u32,
    /// Main revision of the key bucket's last entry (snapshot status "revision").
    pub revision: i64,
    /// Entries in all buckets (snapshot status "totalKey").
    pub total_key: u64,
}

/// Which entries the whole-db hash skips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbHashMode {
    /// `etcdctl snapshot status`: nothing skipped.
    SnapshotStatus,
    /// etcd's `backend.Hash(DefaultIgnores)` / etcd-dump-db `hash`: meta's consistent
    /// index (and, for 3.5+ files, term) skipped.
    DumpDb,
}

/// Hashes every top-level bucket in order. Runs on the current rayon pool.
pub fn hash_db(
    db: &Db<'_>,
    mode: DbHashMode,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<DbHash, bbolt_reader::Error> {
    hash_db_inner(db, mode, false, None, progress).map(|(h, _)| h)
}

/// [`hash_db`] and, from the same pass over the key bucket, the number of live user keys
/// (keys whose newest revision is a put; what [`crate::scan::Keyspace::live_keys`] counts,
/// 0 without a key bucket): `etcdutl` 3.6's `totalKey`.
pub fn hash_db_and_live_keys(
    db: &Db<'_>,
    mode: DbHashMode,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(DbHash, u64), bbolt_reader::Error> {
    hash_db_inner(db, mode, true, None, progress).map(|(h, live)| (h, live.unwrap_or(0)))
}

/// One chunk of the key bucket's share of the whole-db hash: the CRC of its keys and
/// values (a sub-bucket's value is not hashed) and its element count; every plain entry's
/// key and value also go to `offer` (the live-key count's table, in whatever form the
/// caller keeps it).
fn db_key_chunk<'a>(ps: &[Page<'a>], mut offer: impl FnMut(&'a [u8], &'a [u8])) -> (Crc, u64) {
    let mut c = Crc::default();
    let mut n = 0u64;
    for (j, p) in ps.iter().enumerate() {
        touch_ahead(ps, j);
        let mut run = PageRun::new(p.bytes());
        for el in p.leaf_elements().flatten() {
            run.add(&mut c, el.key);
            if !el.is_bucket() {
                run.add(&mut c, el.value);
                offer(el.key, el.value);
            } else {
                // A bucket's value is not hashed: the run ends here.
                run.flush(&mut c);
            }
            n += 1;
        }
        run.flush(&mut c);
    }
    (c, n)
}

/// The key bucket's share of the whole-db hash, however its leaves were listed.
#[derive(Debug, Clone, Copy)]
struct KeyShare {
    crc: Crc,
    entries: u64,
    /// Live user keys, when counted.
    live: Option<u64>,
    /// Main revision of the last leaf's last readable element.
    revision: i64,
}

/// Main revision of the last readable element of the last of `pages` (0 when none).
fn last_revision(pages: Option<&Page<'_>>) -> i64 {
    pages
        .and_then(|p| p.leaf_elements().last())
        .and_then(|el| el.ok())
        .map_or(0, |el| rev_lenient(el.key).map_or(0, |r| r.main))
}

fn hash_db_inner(
    db: &Db<'_>,
    mode: DbHashMode,
    count_live: bool,
    fused: Option<KeyShare>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(DbHash, Option<u64>), bbolt_reader::Error> {
    let mut total = Crc::default();
    let mut total_key = 0u64;
    let mut revision = 0i64;
    let mut live = None;
    let mut fused = fused;
    let root = db.root();
    for item in root.iter() {
        let item = item?;
        let name = item.key;
        let bucket = root.bucket(name)?;
        let Some(bucket) = bucket else { continue };
        total.update(name);
        if name == super::KEY_BUCKET {
            let want_live = count_live && live.is_none();
            let share = match fused.take() {
                Some(s) => s,
                None => {
                    let pages = bucket.leaf_pages()?;
                    let per = chunk_pages(pages.len());
                    let (table, parts) = fold_chunks(
                        &pages,
                        per,
                        KeepTable::default,
                        |t, ps| {
                            let mut batch = Vec::with_capacity(BATCH);
                            let r = db_key_chunk(ps, |key, value| {
                                if want_live {
                                    offer_keep(t, &mut batch, key, value, i64::MAX);
                                }
                            });
                            t.offer_all(&mut batch);
                            progress(ps.len() as u64);
                            r
                        },
                        KeepTable::merged,
                    );
                    let mut crc = Crc::default();
                    let mut entries = 0;
                    for (c, n) in parts {
                        crc = crc.then(c);
                        entries += n;
                    }
                    KeyShare {
                        crc,
                        entries,
                        live: want_live
                            .then(|| table.values().filter(|n| !n.tombstone).count() as u64),
                        revision: last_revision(pages.last()),
                    }
                }
            };
            total = total.then(share.crc);
            total_key += share.entries;
            if want_live {
                live = share.live;
            }
            revision = share.revision;
            continue;
        }
        for kv in bucket.iter() {
            let kv = kv?;
            total_key += 1;
            if mode == DbHashMode::DumpDb
                && name == super::meta::META_BUCKET
                && (kv.key == super::meta::CONSISTENT_INDEX_KEY || kv.key == super::meta::TERM_KEY)
            {
                continue;
            }
            total.update(kv.key);
            if !kv.is_bucket() {
                total.update(kv.value);
            }
        }
    }
    Ok((
        DbHash {
            hash: total.crc,
            revision,
            total_key,
        },
        live,
    ))
}

/// Key-bucket chunks handed to other threads and not yet hashed, beyond which the walk's
/// thread hashes chunks itself before it walks on. A chunk waiting holds its page views
/// (40 bytes a page), so this bounds them at about 1.3 MB, where without a bound a 2 GiB
/// bucket's whole leaf list could wait on the heap. Well above one walk batch (4 chunks):
/// with 8 in flight and batches of 16 chunks, the walk's thread hashed half of every
/// batch itself and the other thread waited for the next batch (history-2048.db at 2
/// threads: 0.49 s with 8, 0.42 s with 32, 0.42-0.49 s with 128, alternating rounds).
const KEY_SHARE_IN_FLIGHT: usize = 128;

/// Leaf pages per chunk of [`KeyShareVisitor`]: about 1 MiB of 4 KiB pages, small enough
/// that the chunks of one walk batch (4 of them) keep both threads busy and a chunk's
/// pages are still in the last-level cache from the walk's analysis, large enough that the
/// per-chunk CRC join and job hand-over cost nothing.
#[cfg(not(test))]
const KEY_SHARE_CHUNK: usize = 256;
/// Small in tests, so that their few hundred leaves make many chunks.
#[cfg(test)]
const KEY_SHARE_CHUNK: usize = 8;

/// What one hashed chunk of the key bucket gives, by chunk number: its CRC and entries.
type ChunkParts = std::sync::Mutex<Vec<(usize, (Crc, u64))>>;

/// The key bucket's share of the whole-db hash and live-key count, taken from the leaves
/// the whole-file walk hands over ([`bbolt_reader::walk::LeafVisitor`]) right after it
/// analysed them, while they are in cache: `status` needs both the walk (bbolt's
/// consistency check) and the hash, and so reads each leaf once from memory instead of
/// twice, and lists the key bucket's leaves once.
///
/// Each batch is cut into chunks of [`KEY_SHARE_CHUNK`] pages. With one thread a chunk is
/// hashed at once; with more, each is a job of the rayon scope the walk runs in, taken by
/// whichever thread is free while the walk's thread goes on walking: the walk's own
/// serial part (descending branches, entering and faulting in every page, merging leaf
/// results) then overlaps the hashing instead of leaving the other threads idle between
/// batches. The chunk CRCs are joined in chunk order at the end, so the result is the
/// sequential CRC whatever the thread count or the order jobs ran in. The live-key table
/// is cut by key into [`KEY_SHARDS`] shards (one with one thread) that every job offers to
/// ([`key_share_chunk`]).
struct KeyShareVisitor<'a, 'p, 's, 'scope> {
    shards: &'scope Slots<KeepTable<'a>>,
    parts: &'scope ChunkParts,
    /// Chunks handed to the scope and not yet done.
    in_flight: &'scope std::sync::atomic::AtomicUsize,
    /// Where chunks go with more than one thread; `None`: hashed on the walk's thread.
    scope: Option<&'s rayon::Scope<'scope>>,
    /// Chunks started.
    chunks: usize,
    last: Option<Page<'a>>,
    /// The key bucket's tree was handed over (as opposed to inline or absent).
    seen: bool,
    progress: &'p (dyn Fn(u64) + Sync),
}

/// Live-key tables of [`KeyShareVisitor`], each holding the user keys whose
/// [`key_hash`] falls in it ([`shard_of`]).
const KEY_SHARDS: usize = 16;

/// The shard of a user key's hash: its top bits (a table places a key by its low bits).
#[inline]
fn shard_of(hash: u64) -> usize {
    (hash >> (64 - KEY_SHARDS.trailing_zeros())) as usize
}

/// Hashes one chunk of key-bucket leaves and records its share under its chunk number;
/// every entry is offered to the live-key shard of its user key.
///
/// The offers of the chunk are gathered per shard first and each shard is locked once
/// for all of them, so threads meet at a lock a few times per chunk, not per entry.
/// Since a key lives in one shard only, the shards together are the one table of every
/// key (no table per thread grown to all keys, and no merge of them at the end), and the
/// newest revision per key does not depend on which thread offered what when.
fn key_share_chunk<'a>(
    shards: &Slots<KeepTable<'a>>,
    parts: &ChunkParts,
    index: usize,
    ps: &[Page<'a>],
    progress: &(dyn Fn(u64) + Sync),
) {
    use std::sync::PoisonError;
    let mut offers: [Vec<Offer<'a, ()>>; KEY_SHARDS] = std::array::from_fn(|_| Vec::new());
    let to = shards.len().clamp(1, KEY_SHARDS);
    let (c, n) = db_key_chunk(ps, |key, value| {
        if let Some(o) = keep_offer(key, value, i64::MAX) {
            offers[shard_of(o.1) % to].push(o);
        }
    });
    for (shard, batch) in shards.iter().zip(offers.iter_mut()) {
        if !batch.is_empty() {
            shard
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .offer_all(batch);
        }
    }
    parts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((index, (c, n)));
    progress(ps.len() as u64);
}

impl<'a, 'p: 'scope, 'scope> bbolt_reader::walk::LeafVisitor<'a>
    for KeyShareVisitor<'a, 'p, '_, 'scope>
where
    'a: 'scope,
{
    fn wants(&mut self, node: &bbolt_reader::walk::BucketNode<'a>) -> bool {
        if node.nesting != 1 || node.name != super::KEY_BUCKET || self.seen {
            return false;
        }
        self.seen = true;
        true
    }

    fn leaves(&mut self, pages: &[Page<'a>]) {
        use std::sync::atomic::Ordering;
        for ps in pages.chunks(KEY_SHARE_CHUNK) {
            let index = self.chunks;
            self.chunks += 1;
            let (shards, parts, progress) = (self.shards, self.parts, self.progress);
            let Some(scope) = self.scope else {
                key_share_chunk(shards, parts, index, ps, progress);
                continue;
            };
            // Too many waiting: hash this one here rather than queue it.
            if self.in_flight.load(Ordering::Acquire) >= KEY_SHARE_IN_FLIGHT {
                key_share_chunk(shards, parts, index, ps, progress);
                continue;
            }
            let in_flight = self.in_flight;
            in_flight.fetch_add(1, Ordering::AcqRel);
            let ps = ps.to_vec();
            scope.spawn(move |_| {
                key_share_chunk(shards, parts, index, &ps, progress);
                in_flight.fetch_sub(1, Ordering::AcqRel);
            });
        }
        if let Some(p) = pages.last() {
            self.last = Some(*p);
        }
    }
}

/// [`hash_db_and_live_keys`] and the whole-file walk ([`bbolt_reader::walk::walk`], whose
/// findings are bbolt's consistency check) in one pass over the key bucket's leaves: the
/// walk hands them to the hash as it takes them (the private `KeyShareVisitor`). Runs on
/// the current rayon pool.
///
/// The walk's leaves are the key bucket's own listing when the walk found nothing wrong
/// anywhere; when it found damage, or the key bucket has no tree of its own, the fused
/// figures are dropped and the hash runs on its own exactly as
/// [`hash_db_and_live_keys`] does, so a damaged file hashes (or fails) as before.
pub fn hash_db_and_live_keys_with_walk<'a>(
    db: &Db<'a>,
    mode: DbHashMode,
    progress: &(dyn Fn(u64) + Sync),
) -> (
    Result<(DbHash, u64), bbolt_reader::Error>,
    bbolt_reader::walk::Walk<'a>,
) {
    use std::sync::{Mutex, PoisonError};
    let threads = rayon::current_num_threads().max(1);
    // One thread needs no shards: its one table is the whole set.
    let shards = if threads > 1 { KEY_SHARDS } else { 1 };
    let shards: Vec<Mutex<KeepTable<'a>>> = (0..shards)
        .map(|_| Mutex::new(KeepTable::default()))
        .collect();
    let parts: ChunkParts = Mutex::new(Vec::new());
    let in_flight = std::sync::atomic::AtomicUsize::new(0);
    let (walk, seen, last) = rayon::scope(|s| {
        let mut v = KeyShareVisitor {
            shards: &shards,
            parts: &parts,
            in_flight: &in_flight,
            scope: (threads > 1).then_some(s),
            chunks: 0,
            last: None,
            seen: false,
            progress,
        };
        let walk = bbolt_reader::walk::walk_with_visitor(db, &|_| {}, &mut v);
        (walk, v.seen, v.last)
    });
    let fused = (walk.findings.is_empty() && seen).then(|| {
        let live = shards
            .into_iter()
            .map(|m| {
                let t = m.into_inner().unwrap_or_else(PoisonError::into_inner);
                t.values().filter(|n| !n.tombstone).count() as u64
            })
            .sum();
        let mut parts = parts.into_inner().unwrap_or_else(PoisonError::into_inner);
        parts.sort_unstable_by_key(|(i, _)| *i);
        let (mut crc, mut entries) = (Crc::default(), 0);
        for (_, (c, n)) in parts {
            crc = crc.then(c);
            entries += n;
        }
        KeyShare {
            crc,
            entries,
            live: Some(live),
            revision: last_revision(last.as_ref()),
        }
    });
    let h = hash_db_inner(db, mode, true, fused, progress).map(|(h, live)| (h, live.unwrap_or(0)));
    (h, walk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_crcs_equal_the_sequential_crc() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + 3) as u8).collect();
        let whole = crc32c::crc32c(&data);
        let mut a = Crc::default();
        a.update(&data[..1234]);
        let mut b = Crc::default();
        b.update(&data[1234..]);
        assert_eq!(a.then(b).crc, whole);
        assert_eq!(a.then(Crc::default()), a);
    }

    #[test]
    fn the_direct_key_read_agrees_with_the_general_keyvalue_parser_on_any_bytes() {
        let good = KeyValue {
            key: b"/registry/leases/kube-node-lease/n1".to_vec(),
            create_revision: 5,
            mod_revision: 1 << 40,
            version: 3,
            value: vec![7u8; 300],
            lease: 0x694d_8a2b_1c3e_0001,
        }
        .encode_to_vec_etcd();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let general = |b: &[u8]| KeyValueRef::parse(b).ok().map(|kv| kv.key.to_vec());
        let mut direct = 0;
        for round in 0..20_000 {
            // etcd's bytes with a few bytes changed, cut short, or random bytes.
            let mut b = if round % 4 == 3 {
                (0..next() % 40).map(|_| next() as u8).collect()
            } else {
                good.clone()
            };
            if round > 0 && !b.is_empty() {
                for _ in 0..1 + next() % 3 {
                    let at = next() as usize % b.len();
                    b[at] = next() as u8;
                }
                if round % 5 == 0 {
                    b.truncate(next() as usize % b.len());
                }
            }
            direct += usize::from(canonical_key(&b).is_some());
            assert_eq!(kv_key(&b).map(<[u8]>::to_vec), general(&b), "{b:?}");
        }
        assert_eq!(canonical_key(&good), Some(&good[2..2 + 35]));
        assert!(direct > 1000, "etcd's layout is read directly: {direct}");
    }

    #[test]
    fn the_table_driven_join_equals_the_crates_combine_at_any_length() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for len in (0..300u64).chain([4095, 4096, 1 << 20, (1 << 31) + 17, u32::MAX as u64 * 3]) {
            let (c1, c2) = (next() as u32, next() as u32);
            let a = Crc { crc: c1, len: 5 };
            let b = Crc { crc: c2, len };
            let want = if len == 0 {
                c1
            } else {
                crc32c::crc32c_combine(c1, c2, len as usize)
            };
            assert_eq!(a.then(b).crc, want, "len {len}");
            assert_eq!(a.then(b).len, 5 + len);
        }
    }
}

#[cfg(test)]
mod keep_rule_tests {
    use super::*;
    use crate::testdb::{build, encode, Entry};

    fn expected(entries: &[Entry<'_>]) -> u32 {
        let mut c = Crc::default();
        c.update(b"key");
        for e in entries {
            let (k, v) = encode(e);
            c.update(&k);
            c.update(&v);
        }
        c.crc
    }

    fn hashkv(db: &[u8], rev: i64, compact: i64) -> HashKv {
        let db = Db::open(db).unwrap();
        let b = db.bucket(b"key").unwrap().unwrap();
        hash_kv(Some(&b), rev, compact, &|_| {}).unwrap()
    }

    const A2: Entry<'static> = (2, "/a", Some(b"a-v1"), 0);
    const B3: Entry<'static> = (3, "/b", Some(b"b-v1"), 0);
    const A4: Entry<'static> = (4, "/a", Some(b"a-v2"), 0);
    const B5: Entry<'static> = (5, "/b", None, 0);
    const C6: Entry<'static> = (6, "/c", Some(b"c-v1"), 7);
    const A7: Entry<'static> = (7, "/a", Some(b"a-v3"), 0);

    #[test]
    fn without_compaction_every_revision_up_to_r_is_hashed() {
        let all = [A2, B3, A4, B5, C6, A7];
        let db = build(&all, None);
        assert_eq!(hashkv(&db, 7, -1).hash, expected(&all));
        assert_eq!(hashkv(&db, 5, -1).hash, expected(&all[..4]));
    }

    #[test]
    fn a_tombstone_at_the_compact_revision_and_superseded_revisions_are_left_out() {
        // Compacted at 5, the revision of /b's delete: /b's newest revision at or below R is
        // a tombstone, so none of its revisions is kept; /a's newest at or below R = 7 is 7,
        // so its versions 2 and 4 (both <= 5) are left out too.
        let all = [A2, B3, A4, B5, C6, A7];
        let db = build(&all, Some(5));
        let h = hashkv(&db, 7, 5);
        assert_eq!(h.hash, expected(&[C6, A7]));
        assert_eq!(h.entries_skipped, 4);
        // The same keyspace after etcd's compaction deleted those entries hashes the same.
        let compacted = build(&[A4, C6, A7], Some(5));
        assert_eq!(hashkv(&compacted, 7, 5).hash, h.hash);
    }

    #[test]
    fn below_r_the_keep_set_is_taken_at_r_not_at_the_compact_revision() {
        // At R = 6 (> C = 3) the keep set is each key's newest revision <= 6: /a@4 and
        // /c@6 (/b's is its delete). So /a@2 and /b@3 (<= C) are left out, although a
        // compaction at 3 keeps both; every revision above C is hashed.
        let all = [A2, B3, A4, B5, C6, A7];
        let db = build(&all, Some(3));
        assert_eq!(hashkv(&db, 6, 3).hash, expected(&[A4, B5, C6]));
        // /b: newest <= 4 is its put at 3, which stays.
        assert_eq!(hashkv(&db, 4, 3).hash, expected(&[B3, A4]));
    }

    #[test]
    fn an_empty_keep_set_hashes_everything_up_to_r() {
        // Every key is deleted at or below R: nothing to keep, and etcd then skips nothing.
        let x2: Entry<'_> = (2, "/x", Some(b"x"), 0);
        let x3: Entry<'_> = (3, "/x", None, 0);
        let db = build(&[x2, x3], Some(3));
        assert_eq!(hashkv(&db, 3, 3).hash, expected(&[x2, x3]));
    }

    /// HashKV as etcd states it, one entry at a time, over the key bucket's (key, value)
    /// `entries` in order: each entry at or below the compact revision is kept exactly when
    /// its own user key's newest revision <= R is that revision and a put (looked up in a
    /// map). The reference the chunked, run-wise [`hash_kv`] must equal.
    fn reference_hashkv(entries: &[(&[u8], &[u8])], rev: i64, compact: i64) -> (u32, u64, u64) {
        let mut newest: std::collections::HashMap<&[u8], (i64, i64, bool)> = Default::default();
        for &(k, v) in entries {
            let (Ok(r), Ok(kv)) = (parse_rev_key(k), KeyValueRef::parse(v)) else {
                continue;
            };
            if r.rev.main <= rev {
                let e = newest
                    .entry(kv.key)
                    .or_insert((r.rev.main, r.rev.sub, r.tombstone));
                *e = (*e).max((r.rev.main, r.rev.sub, r.tombstone));
            }
        }
        let any_put = newest.values().any(|n| !n.2);
        let mut c = Crc::default();
        c.update(b"key");
        let (mut hashed, mut skipped) = (0, 0);
        for &(k, v) in entries {
            let r = rev_lenient(k).unwrap();
            if r.main > rev {
                continue;
            }
            if compact > 0 && any_put && r.main <= compact {
                let kept = k.len() == 17
                    && KeyValueRef::parse(v)
                        .is_ok_and(|kv| newest.get(kv.key) == Some(&(r.main, r.sub, false)));
                if !kept {
                    skipped += 1;
                    continue;
                }
            }
            c.update(k);
            c.update(v);
            hashed += 1;
        }
        (c.crc, hashed, skipped)
    }

    /// [`hash_kv`] over `b` at 1, 2 and 3 threads gives `want` (hash, hashed, skipped).
    fn assert_hash_kv_at_any_thread_count(
        b: &Bucket<'_>,
        rev: i64,
        compact: i64,
        want: (u32, u64, u64),
    ) {
        for threads in [1, 2, 3] {
            let pool = crate::testdb::pool(threads);
            let got = pool.install(|| hash_kv(Some(b), rev, compact, &|_| {}).unwrap());
            assert_eq!(
                (got.hash, got.entries_hashed, got.entries_skipped),
                want,
                "rev {rev} compact {compact} threads {threads}"
            );
        }
    }

    /// A history: 40 keys, each rewritten many times, some deleted and re-created, over
    /// enough 512-byte pages that the key bucket splits into many chunks; compacted at
    /// `compact` when given.
    fn history_db(compact: Option<i64>) -> Vec<u8> {
        let mut h = Vec::new();
        for rev in 2..3000i64 {
            let key = format!("/registry/leases/kube-node-lease/node-{}", rev * 7 % 40);
            let value = (rev % 11 != 0).then(|| vec![(rev % 251) as u8; (rev % 97) as usize]);
            h.push((rev, key, value));
        }
        let entries: Vec<Entry<'_>> = h
            .iter()
            .map(|(r, k, v)| (*r, k.as_str(), v.as_deref(), 0))
            .collect();
        build(&entries, compact)
    }

    #[test]
    fn chunked_hashkv_equals_the_entry_by_entry_reference_at_any_revision_and_thread_count() {
        for compact in [None, Some(1500)] {
            let bytes = history_db(compact);
            let db = Db::open(&bytes).unwrap();
            let b = db.bucket(b"key").unwrap().unwrap();
            assert!(b.leaf_pages().unwrap().len() > 64, "several chunks");
            let mut in_db = Vec::new();
            for p in b.leaf_pages().unwrap() {
                in_db.extend(p.leaf_elements().flatten().map(|e| (e.key, e.value)));
            }
            let c = compact.unwrap_or(-1);
            for rev in [2999, 2500, 1501, 1500] {
                let want = reference_hashkv(&in_db, rev, c);
                assert_hash_kv_at_any_thread_count(&b, rev, c, want);
            }
        }
    }

    #[test]
    fn forged_revision_keys_out_of_order_or_sharing_a_revision_are_kept_by_their_own_key() {
        // Revision keys that sort as bytes but not as revisions: a separator other than
        // '_' (read leniently, left out of the keep table), mains with the top bit set
        // (negative, so at or below any compact revision), and several entries at one
        // revision for different user keys. Each entry at or below the compact revision is
        // kept exactly when its own key's newest revision <= R is that revision and a put.
        let kv = |key: &str, v: u8| {
            KeyValue {
                key: key.as_bytes().to_vec(),
                value: vec![v; 3],
                ..KeyValue::default()
            }
            .encode_to_vec_etcd()
        };
        let rk = |main: u64, sep: u8, sub: u64, tail: &[u8]| {
            let mut k = main.to_be_bytes().to_vec();
            k.push(sep);
            k.extend_from_slice(&sub.to_be_bytes());
            k.extend_from_slice(tail);
            k
        };
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for main in 2..400u64 {
            let key = format!("/k{}", main % 13);
            entries.push((rk(main, b'_', 0, b""), kv(&key, main as u8)));
            if main % 5 == 0 {
                // Same revision, another key, forged separator (sorts after '_').
                entries.push((rk(main, b'x', 0, b""), kv(&format!("/k{}", main % 7), 1)));
            }
            if main % 9 == 0 {
                entries.push((rk(main, b'_', 0, b"t"), kv(&key, 0)));
            }
            if main % 11 == 0 {
                // Sub revisions out of order behind a forged separator.
                entries.push((rk(main, b'y', 5, b""), kv(&key, 2)));
                entries.push((rk(main, b'z', 1, b""), kv(&key, 3)));
            }
        }
        for main in [1u64 << 63, (1 << 63) + 40, u64::MAX - 3] {
            entries.push((rk(main, b'_', 0, b""), kv("/k1", 9)));
        }
        entries.sort();
        entries.dedup_by(|a, b| a.0 == b.0);
        let opts = bbolt_writer::Options {
            page_size: 512,
            ..Default::default()
        };
        let mut w = bbolt_writer::BoltWriter::new(std::io::Cursor::new(Vec::new()), opts).unwrap();
        w.begin_bucket(b"key").unwrap();
        for (k, v) in &entries {
            w.put(k, v).unwrap();
        }
        w.end_bucket().unwrap();
        let bytes = w.finish().unwrap().0.into_inner();
        let db = Db::open(&bytes).unwrap();
        let b = db.bucket(b"key").unwrap().unwrap();
        assert!(b.leaf_pages().unwrap().len() > 32, "several chunks");
        let pairs: Vec<(&[u8], &[u8])> = entries
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect();
        for (rev, compact) in [(399, 200), (399, 399), (300, 120), (250, 249)] {
            let want = reference_hashkv(&pairs, rev, compact);
            assert!(want.2 > 0, "some entries left out at {rev}/{compact}");
            assert_hash_kv_at_any_thread_count(&b, rev, compact, want);
        }
    }

    #[test]
    fn whole_db_hash_and_live_keys_equal_a_sequential_hash_and_the_scan() {
        let bytes = history_db(Some(100));
        let db = Db::open(&bytes).unwrap();
        let mut c = Crc::default();
        let mut n = 0;
        let root = db.root();
        for item in root.iter() {
            let name = item.unwrap().key;
            c.update(name);
            for kv in root.bucket(name).unwrap().unwrap().iter() {
                let kv = kv.unwrap();
                c.update(kv.key);
                c.update(kv.value);
                n += 1;
            }
        }
        let b = db.bucket(b"key").unwrap().unwrap();
        let live = crate::scan::scan_keyspace(&b, i64::MAX, &|_| {})
            .unwrap()
            .live_keys();
        assert!(live > 0 && live < 40);
        for threads in [1, 2] {
            let pool = crate::testdb::pool(threads);
            let (d, l) = pool.install(|| {
                hash_db_and_live_keys(&db, DbHashMode::SnapshotStatus, &|_| {}).unwrap()
            });
            assert_eq!((d.hash, d.total_key, l), (c.crc, n, live));
            assert_eq!(
                d,
                hash_db(&db, DbHashMode::SnapshotStatus, &|_| {}).unwrap()
            );
        }
    }

    #[test]
    fn whole_db_hash_skips_the_consistent_index_only_in_dump_db_mode() {
        let db = build(&[A2], None);
        let db = Db::open(&db).unwrap();
        let full = hash_db(&db, DbHashMode::SnapshotStatus, &|_| {}).unwrap();
        let dump = hash_db(&db, DbHashMode::DumpDb, &|_| {}).unwrap();
        assert_ne!(full.hash, dump.hash);
        assert_eq!(full.total_key, 2);
        assert_eq!(full.revision, 2);
        let mut c = Crc::default();
        c.update(b"key");
        let (k, v) = encode(&A2);
        c.update(&k);
        c.update(&v);
        c.update(b"meta");
        assert_eq!(dump.hash, c.crc);
    }
}

/// The bbolt key and value etcd writes for one replayed [`Change`]: the revision key
/// (18 bytes with the tombstone mark for a delete) and the marshalled mvccpb.KeyValue
/// (a tombstone's value holds only the key, etcd `kvstore_txn.go` delete).
pub fn change_entry(c: &Change<'_>) -> (Vec<u8>, Vec<u8>) {
    let rev = Revision::new(c.main, c.sub);
    match &c.kv {
        Some(kv) => (
            rev.to_bytes().to_vec(),
            KeyValue {
                key: c.key.to_vec(),
                create_revision: kv.create_revision,
                mod_revision: kv.mod_revision,
                version: kv.version,
                value: kv.value.to_vec(),
                lease: kv.lease,
            }
            .encode_to_vec_etcd(),
        ),
        None => (
            rev.to_tombstone_bytes().to_vec(),
            KeyValue {
                key: c.key.to_vec(),
                ..KeyValue::default()
            }
            .encode_to_vec_etcd(),
        ),
    }
}

/// etcd's HashKV at `rev` with compact revision `compact_rev` over the key bucket
/// followed by `tail`: the revisions a WAL replay wrote after the db's newest one, in
/// order ([`crate::replay::State::changes`]). What the member would report once it has
/// applied that tail on start. Same keep rule as [`hash_kv`], taken over both parts.
pub fn hash_kv_with_tail(
    key_bucket: Option<&Bucket<'_>>,
    tail: &[Change<'_>],
    rev: i64,
    compact_rev: i64,
) -> Result<HashKv, bbolt_reader::Error> {
    let pages = match key_bucket {
        Some(b) => b.leaf_pages()?,
        None => Vec::new(),
    };
    let tail_entries: Vec<(Vec<u8>, Vec<u8>)> = tail.iter().map(change_entry).collect();
    // Every entry in revision order: the db's, then the tail's (all newer).
    let mut db_entries: Vec<(&[u8], &[u8])> = Vec::new();
    for p in &pages {
        // Elements that do not decode are left out, as in [`hash_kv`].
        for e in p.leaf_elements().flatten() {
            db_entries.push((e.key, e.value));
        }
    }
    let all = || {
        db_entries.iter().copied().chain(
            tail_entries
                .iter()
                .map(|(k, v)| (k.as_slice(), v.as_slice())),
        )
    };
    // Keep set at `rev`: per user key its newest revision <= rev, unless a tombstone.
    let mut newest: FastMap<Vec<u8>, (Revision, bool)> = FastMap::default();
    if compact_rev > 0 {
        for (k, v) in all() {
            let Ok(rk) = parse_rev_key(k) else { continue };
            if rk.rev.main > rev {
                continue;
            }
            let Ok(kv) = KeyValueRef::parse(v) else {
                continue;
            };
            let slot = newest
                .entry(kv.key.to_vec())
                .or_insert((rk.rev, rk.tombstone));
            if rk.rev >= slot.0 {
                *slot = (rk.rev, rk.tombstone);
            }
        }
    }
    let keep: std::collections::HashSet<Revision> = newest
        .values()
        .filter(|(_, tomb)| !tomb)
        .map(|(r, _)| *r)
        .collect();
    let mut crc = Crc::default();
    crc.update(super::KEY_BUCKET);
    let (mut hashed, mut skipped) = (0u64, 0u64);
    for (k, v) in all() {
        let Some(r) = rev_lenient(k) else { continue };
        if r.main > rev {
            continue;
        }
        if r.main <= compact_rev && !keep.is_empty() && !keep.contains(&r) {
            skipped += 1;
            continue;
        }
        crc.update(k);
        crc.update(v);
        hashed += 1;
    }
    Ok(HashKv {
        hash: crc.crc,
        revision: rev,
        compact_revision: compact_rev,
        entries_hashed: hashed,
        entries_skipped: skipped,
    })
}

#[cfg(test)]
mod fused_pass_tests {
    use super::*;
    use crate::testdb::{build, Entry};

    /// A history-heavy bucket of a few hundred leaves: 40 keys, many revisions each.
    fn history_db(compact: Option<i64>) -> Vec<u8> {
        let h: Vec<(i64, String, Vec<u8>)> = (2..3000i64)
            .map(|rev| {
                let key = format!("/registry/leases/kube-node-lease/node-{}", rev * 7 % 40);
                (rev, key, vec![(rev % 251) as u8; 40 + (rev % 90) as usize])
            })
            .collect();
        let entries: Vec<Entry<'_>> = h
            .iter()
            .map(|(r, k, v)| (*r, k.as_str(), (r % 97 != 0).then_some(v.as_slice()), 0))
            .collect();
        build(&entries, compact)
    }

    /// The db with one byte of a page past the metas changed, at a spot that `seed` picks
    /// (page headers half of the time, where the damage that changes a listing lives);
    /// seed 0 gives the db unchanged.
    fn damaged(bytes: &[u8], page_size: usize, seed: u64) -> Vec<u8> {
        if seed == 0 {
            return bytes.to_vec();
        }
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let pages = bytes.len() / page_size;
        let mut b = bytes.to_vec();
        let page = 2 + next() as usize % (pages - 2);
        let at = if next() % 2 == 0 {
            page * page_size + next() as usize % 16
        } else {
            page * page_size + next() as usize % page_size
        };
        b[at] = next() as u8;
        b
    }

    #[test]
    fn streamed_hashkv_equals_the_strict_listings_on_sound_and_byte_damaged_trees() {
        for compact in [None, Some(1500)] {
            let sound = history_db(compact);
            let ps = Db::open(&sound).unwrap().page_size();
            let c = compact.unwrap_or(-1);
            let mut streamed_kept = 0;
            for seed in 0..300u64 {
                let bytes = damaged(&sound, ps, seed);
                let Ok(db) = Db::open(&bytes) else { continue };
                let Ok(Some(b)) = db.bucket(b"key") else {
                    continue;
                };
                if seed == 0 {
                    assert!(b.leaf_pages().unwrap().len() > 4 * STREAM_CHUNK);
                }
                for threads in [1, 2] {
                    let pool = crate::testdb::pool(threads);
                    let (got, want, streamed) = pool.install(|| {
                        let mut head = Crc::default();
                        head.update(crate::KEY_BUCKET);
                        (
                            hash_kv(Some(&b), 2999, c, &|_| {}).map_err(|e| e.to_string()),
                            hash_kv_strict(Some(&b), head, 2999, c, &|_| {})
                                .map_err(|e| e.to_string()),
                            hash_kv_streamed(&b, head, 2999, c, &|_| {}).is_some(),
                        )
                    });
                    assert_eq!(got, want, "seed {seed} compact {c} threads {threads}");
                    streamed_kept += usize::from(streamed);
                }
            }
            assert!(
                streamed_kept > 100,
                "most one-byte damage leaves the listing sound"
            );
        }
    }

    #[test]
    fn the_status_pass_from_the_walk_equals_the_hash_and_the_check_on_their_own() {
        let sound = history_db(Some(1000));
        let ps = Db::open(&sound).unwrap().page_size();
        for seed in 0..300u64 {
            let bytes = damaged(&sound, ps, seed);
            let Ok(db) = Db::open(&bytes) else { continue };
            for threads in [1, 2, 3] {
                let pool = crate::testdb::pool(threads);
                let ((got, walk), want, check) = pool.install(|| {
                    (
                        hash_db_and_live_keys_with_walk(&db, DbHashMode::SnapshotStatus, &|_| {}),
                        hash_db_and_live_keys(&db, DbHashMode::SnapshotStatus, &|_| {}),
                        bbolt_reader::check::check(&db),
                    )
                });
                let show =
                    |r: Result<(DbHash, u64), bbolt_reader::Error>| r.map_err(|e| e.to_string());
                assert_eq!(show(got), show(want), "seed {seed} threads {threads}");
                let fused = bbolt_reader::check::check_walk(&db, &walk);
                assert_eq!(
                    format!("{:?}", fused.findings),
                    format!("{:?}", check.findings),
                    "seed {seed} threads {threads}"
                );
            }
        }
    }
}

#[cfg(test)]
mod revision_rule_tests {
    use super::{hash_kv_revision, HashRevisionError};

    #[test]
    fn hashkv_takes_the_newest_by_default_and_refuses_compacted_future_and_negative_revisions() {
        assert_eq!(hash_kv_revision(None, 20, 5), Ok(20));
        assert_eq!(hash_kv_revision(Some(0), 20, 5), Ok(20));
        assert_eq!(hash_kv_revision(Some(6), 20, 5), Ok(6));
        assert_eq!(hash_kv_revision(Some(20), 20, 5), Ok(20));
        assert_eq!(
            hash_kv_revision(Some(5), 20, 5),
            Err(HashRevisionError::Compacted {
                requested: 5,
                compact: 5
            })
        );
        assert_eq!(
            hash_kv_revision(Some(21), 20, 5),
            Err(HashRevisionError::Future {
                requested: 21,
                newest: 20
            })
        );
        assert_eq!(
            hash_kv_revision(Some(-1), 20, 5),
            Err(HashRevisionError::Negative(-1))
        );
        // Compacted past the last write: the newest is the compact revision.
        assert_eq!(hash_kv_revision(None, 3, 9), Ok(9));
    }
}
