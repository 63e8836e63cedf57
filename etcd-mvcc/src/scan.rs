//! One parallel pass over the `key` bucket: per user key, what the file holds of it.
//!
//! The key bucket is ordered by revision, so one user key's revisions are scattered over
//! the whole tree. The table user key -> [`KeyAcc`] is cut into shards by the key's hash,
//! one per thread. [`scan_bucket`] lists the bucket's leaf pages (reading branch pages
//! only) a window at a time; the threads read a part of each window and route its entries
//! to the shard owning their key, and each shard's thread folds its entries in file order
//! (each page is read once). [`FusedScan`] folds, on one thread, the leaves the whole-file
//! page walk hands it, right after the walk read them (`space`, `report`); with a second
//! thread, [`PipedScan`] reads them there while the walk goes on. Each key is thus
//! folded by one thread in file order, and the result does not depend on how many threads
//! ran. User keys are slices of the mapping; nothing is kept per revision.
//!
//! Per entry the scan reads the 16-byte leaf element, the revision key and the KeyValue's
//! fields; the value itself is only measured (its bytes are skipped), so the middle pages
//! of a large value are never touched.

use super::defrag::{TreeBuilder, TreeModel, ETCD_DEFRAG_FILL_PERCENT};
use super::fasthash::FastMap;
use super::kv::KeyValueRef;
use super::revision::{parse_rev_key, rev_lenient, Revision};
use bbolt_reader::{walk_tree, Bucket, Flow, Page, Pgid, TreeDamage, TreeVisitor};
use rayon::prelude::*;

/// At most this many problems are kept (the smallest by position); all are counted.
pub const MAX_PROBLEMS: usize = 50;

/// Something in the key bucket that does not follow etcd's layout.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Problem {
    /// Leaf page holding the entry.
    pub pgid: Pgid,
    /// Element index within the page.
    pub index: usize,
    /// What is wrong.
    pub what: String,
}

/// What the file holds of one user key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyAcc {
    /// Revisions (puts and tombstones) in the file.
    pub revisions: u32,
    /// Of which tombstones.
    pub tombstones: u32,
    /// Sum of the user value's length over all revisions.
    pub value_bytes: u64,
    /// Sum of bbolt key + value bytes over all revisions.
    pub entry_bytes: u64,
    /// Newest revision.
    pub newest: Revision,
    /// Whether the newest revision is a tombstone (the key is deleted).
    pub newest_tombstone: bool,
    /// User value length of the newest revision.
    pub newest_value_len: u64,
    /// bbolt key + value bytes of the newest revision.
    pub newest_entry_bytes: u64,
    /// Lease of the newest revision (0 = none).
    pub newest_lease: i64,
    /// Revisions with main <= the scan's limit.
    pub below_count: u32,
    /// Their bbolt key + value bytes.
    pub below_entry_bytes: u64,
    /// Newest revision <= the limit, when `below_count > 0` ([`KeyAcc::below_newest`]; no
    /// `Option` here, whose tag would take 8 bytes more per key).
    pub below_newest_rev: Revision,
    /// Whether that one is a tombstone.
    pub below_newest_tombstone: bool,
    /// Its bbolt key + value bytes.
    pub below_newest_entry_bytes: u64,
    /// Its position among the bucket's leaf elements (page by page, element by element).
    pub below_newest_ordinal: u64,
    /// Where the newest revision's element is (its page and index there).
    pub newest_loc: ElementLoc,
    /// Newest put (not tombstone) revision, when the key has a put (`revisions >
    /// tombstones`); of equal revisions, the first in the bucket.
    pub newest_put: Revision,
    /// Where its element is.
    pub newest_put_loc: ElementLoc,
}

/// Where a leaf element of the key bucket is: its leaf page and its index there, in one
/// word. Later passes read a key's element again by it ([`Keyspace::element`]) with no
/// list of the leaf pages (40 bytes a leaf) and no search: their heap is bounded by the
/// keys, not by the file. Page ids from 2^48 on (no file this reader maps has them) are
/// [`ElementLoc::NONE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ElementLoc(u64);

impl Default for ElementLoc {
    fn default() -> Self {
        ElementLoc::NONE
    }
}

impl ElementLoc {
    /// Names no element.
    pub const NONE: ElementLoc = ElementLoc(u64::MAX);

    /// Element `index` of the leaf page `pgid` (a leaf holds at most 65,535 elements: its
    /// count is 16 bits).
    pub fn new(pgid: Pgid, index: usize) -> ElementLoc {
        match u16::try_from(index) {
            Ok(i) if pgid < 1 << 48 => ElementLoc(pgid << 16 | u64::from(i)),
            _ => ElementLoc::NONE,
        }
    }

    /// The leaf page, unless this is [`ElementLoc::NONE`].
    pub fn pgid(self) -> Option<Pgid> {
        (self != ElementLoc::NONE).then_some(self.0 >> 16)
    }

    /// The element's index in its page.
    pub fn index(self) -> usize {
        (self.0 & 0xffff) as usize
    }
}

// One record per distinct key: its size is most of the scan's heap (a 64-byte key line
// and an 8-byte index slot come with it).
const _: () = assert!(std::mem::size_of::<KeyAcc>() <= 144);

impl KeyAcc {
    /// Newest revision <= the limit, if any.
    pub fn below_newest(&self) -> Option<Revision> {
        (self.below_count > 0).then_some(self.below_newest_rev)
    }

    /// True when the newest revision is a put.
    pub fn is_live(&self) -> bool {
        self.revisions > 0 && !self.newest_tombstone
    }

    /// Folds in one revision.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        rev: Revision,
        tombstone: bool,
        value_len: u64,
        entry_bytes: u64,
        lease: i64,
        limit: i64,
        ordinal: u64,
        loc: ElementLoc,
    ) {
        self.revisions += 1;
        self.tombstones += u32::from(tombstone);
        // The Kubernetes accounting reads a deleted key's newest put from here instead of
        // looking for it in a second pass over the bucket.
        if !tombstone && (self.revisions - self.tombstones == 1 || rev > self.newest_put) {
            self.newest_put = rev;
            self.newest_put_loc = loc;
        }
        self.value_bytes += value_len;
        self.entry_bytes += entry_bytes;
        if self.revisions == 1 || (rev, tombstone) > (self.newest, self.newest_tombstone) {
            self.newest = rev;
            self.newest_tombstone = tombstone;
            self.newest_value_len = value_len;
            self.newest_entry_bytes = entry_bytes;
            self.newest_lease = lease;
            self.newest_loc = loc;
        }
        if rev.main <= limit {
            self.below_count += 1;
            self.below_entry_bytes += entry_bytes;
            let newer = self.below_count == 1
                || (rev, tombstone) > (self.below_newest_rev, self.below_newest_tombstone);
            if newer {
                self.below_newest_rev = rev;
                self.below_newest_tombstone = tombstone;
                self.below_newest_entry_bytes = entry_bytes;
                self.below_newest_ordinal = ordinal;
            }
        }
    }

    /// Revisions a compaction at the limit would delete: all <= limit except the newest,
    /// and that one too when it is a tombstone (etcd 3.4 `keyIndex.compact`).
    pub fn compaction_dropped(&self) -> (u64, u64) {
        let keep = self.below_count > 0 && !self.below_newest_tombstone;
        if keep {
            (
                u64::from(self.below_count) - 1,
                self.below_entry_bytes - self.below_newest_entry_bytes,
            )
        } else {
            (u64::from(self.below_count), self.below_entry_bytes)
        }
    }
}

/// Counts over all entries of the key bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EntryTotals {
    /// Entries (revisions) read.
    pub entries: u64,
    /// Of which tombstones.
    pub tombstones: u64,
    /// Sum of bbolt key + value bytes.
    pub entry_bytes: u64,
    /// Sum of user value lengths.
    pub value_bytes: u64,
    /// Leaf pages read (first pages of nodes).
    pub leaf_nodes: u64,
    /// Pages spanned by the leaf nodes (overflow included).
    pub leaf_pages: u64,
    /// Bytes of the leaf nodes in use (bbolt's accounting).
    pub leaf_used_bytes: u64,
    /// Newest revision seen.
    pub max_rev: Option<Revision>,
    /// Oldest revision seen.
    pub min_rev: Option<Revision>,
    /// Entries whose key is not a revision or whose value is not a KeyValue.
    pub malformed: u64,
}

impl EntryTotals {
    fn merge(&mut self, o: &EntryTotals) {
        self.entries += o.entries;
        self.tombstones += o.tombstones;
        self.entry_bytes += o.entry_bytes;
        self.value_bytes += o.value_bytes;
        self.leaf_nodes += o.leaf_nodes;
        self.leaf_pages += o.leaf_pages;
        self.leaf_used_bytes += o.leaf_used_bytes;
        self.malformed += o.malformed;
        self.max_rev = match (self.max_rev, o.max_rev) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.min_rev = match (self.min_rev, o.min_rev) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// The outcome of [`scan_keyspace`].
#[derive(Debug)]
pub struct Keyspace<'a> {
    /// Per user key.
    pub keys: KeyTable<'a>,
    /// Over all entries.
    pub totals: EntryTotals,
    /// The revision limit used for the `below_*` fields.
    pub limit: i64,
    /// First problems found, by position.
    pub problems: Vec<Problem>,
    /// Number of problems found.
    pub problem_count: u64,
    /// The key bucket's leaf pages in key order (as scanned), when the scan kept them;
    /// empty otherwise ([`Keyspace::leaves`] lists them again when a pass needs them).
    pub leaf_pages: Vec<Page<'a>>,
    /// The bucket scanned (none for a keyspace of no bucket): [`Keyspace::element`] and
    /// [`Keyspace::leaves`] read it.
    pub bucket: Option<Bucket<'a>>,
    /// The defrag model's inputs gathered in the scan's own visit of the leaves, when the
    /// scan was asked for them ([`scan_bucket_with_model`]).
    pub element_model: Option<ElementModel>,
}

/// What the space figures need of every leaf element, gathered while the scan reads it,
/// so no second pass reads every element again (see `space::key_models`).
#[derive(Debug, Clone, PartialEq)]
pub struct ElementModel {
    /// The bucket as defrag would write it now: every readable element, in key order,
    /// through the bbolt split model at etcd's fill.
    pub now: TreeModel,
    /// The readable elements every compaction at the limit keeps whatever their key's
    /// history (those whose key is not a revision, and those above the limit), in key
    /// order; `None` when there were more than [`MAX_KEPT_ALWAYS`] (then a pass over the
    /// pages finds them).
    pub kept_always: Option<Vec<KeptElement>>,
}

/// An element's place among the bucket's leaf elements (as [`element_bases`] counts) and
/// its bbolt key and value lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeptElement {
    /// Position among the bucket's leaf elements.
    pub ordinal: u64,
    /// bbolt key length.
    pub key_len: u32,
    /// bbolt value length.
    pub value_len: u64,
}

/// Most elements [`ElementModel::kept_always`] lists (256 KiB of them): more come only
/// from a compaction revision far below the newest, and the heap does not grow with them.
pub const MAX_KEPT_ALWAYS: usize = 1 << 14;

/// The builder side of [`ElementModel`], kept by the thread that counts the pages; or,
/// on a thread that reads pages ahead for it ([`PipedScan`]), the log of the elements
/// read, which the builder takes in later in the same order.
#[derive(Debug, Clone)]
enum ModelFold {
    Build {
        /// The split model the elements' lengths go into.
        now: TreeBuilder,
        kept_always: Option<Vec<KeptElement>>,
    },
    Log(Vec<ModelInput>),
}

/// One readable element as [`ModelFold::element`] takes it.
#[derive(Debug, Clone, Copy)]
struct ModelInput {
    key_len: u32,
    value_len: u64,
    rev_main: Option<i64>,
    ordinal: u64,
}

impl ModelFold {
    fn building(bucket: &Bucket<'_>) -> Self {
        ModelFold::Build {
            now: TreeBuilder::new(bucket.db().page_size() as u64, ETCD_DEFRAG_FILL_PERCENT),
            kept_always: Some(Vec::new()),
        }
    }

    /// One readable element at `ordinal`; `rev_main` its revision (None when its key is not
    /// a revision).
    #[inline]
    fn element(
        &mut self,
        key_len: usize,
        value_len: usize,
        rev_main: Option<i64>,
        limit: i64,
        ordinal: u64,
    ) {
        let (now, kept_always) = match self {
            ModelFold::Build { now, kept_always } => (now, kept_always),
            ModelFold::Log(log) => {
                log.push(ModelInput {
                    key_len: key_len as u32,
                    value_len: value_len as u64,
                    rev_main,
                    ordinal,
                });
                return;
            }
        };
        now.push(key_len as u32, value_len as u64);
        if rev_main.is_none_or(|m| m > limit) {
            if let Some(list) = kept_always {
                if list.len() >= MAX_KEPT_ALWAYS {
                    *kept_always = None;
                } else {
                    list.push(KeptElement {
                        ordinal,
                        key_len: key_len as u32,
                        value_len: value_len as u64,
                    });
                }
            }
        }
    }

    /// The elements another thread logged, in the order it read them.
    fn take_in(&mut self, log: &[ModelInput], limit: i64) {
        for m in log {
            self.element(
                m.key_len as usize,
                m.value_len as usize,
                m.rev_main,
                limit,
                m.ordinal,
            );
        }
    }

    /// [`ModelFold::element`] of a readable leaf element: the one call the scan's page loop
    /// and [`ModelFold::page`] make.
    #[inline]
    fn leaf_element(
        &mut self,
        el: &bbolt_reader::page::LeafElement<'_>,
        rev_main: Option<i64>,
        limit: i64,
        ordinal: u64,
    ) {
        self.element(el.key.len(), el.value.len(), rev_main, limit, ordinal);
    }

    /// Every readable element of a page the scan does not read (not a leaf), as a
    /// pass over the pages would see it.
    fn page(&mut self, page: &Page<'_>, limit: i64, base: u64) {
        for (index, el) in page.leaf_elements().enumerate() {
            if let Ok(el) = el {
                let main = parse_rev_key(el.key).ok().map(|rk| rk.rev.main);
                self.leaf_element(&el, main, limit, base + index as u64);
            }
        }
    }

    /// The model built; `None` from a log.
    fn finish(self) -> Option<ElementModel> {
        match self {
            ModelFold::Build { now, kept_always } => Some(ElementModel {
                now: now.finish(),
                kept_always,
            }),
            ModelFold::Log(_) => None,
        }
    }
}

/// Per user key, what the file holds of it.
///
/// User keys are slices of the mapping, scattered over the whole file: a map keyed by them
/// compares every hit against bytes far from anything read lately (a cache and TLB miss
/// per revision on a history-heavy member). Here each distinct key is copied once: its
/// hash, length and first [`KEY_HEAD`] bytes fill one 64-byte line of their own (the rest
/// of a longer key, rare, goes to a compact arena), and its figures ([`KeyAcc`]) sit in a
/// parallel array. A look-up hashes the key just read and probes an open-addressed index
/// of 8-byte slots (a 24-bit tag of the hash beside the record number), so a probe reads
/// one record line only on a tag match; the far slice in the mapping is never compared.
///
/// The table is cut into shards by the key's hash; the scan fills each shard on its own
/// thread (see [`scan_leaf_pages`]), so no two shards hold the same key and nothing is
/// merged. Records stay in the order the keys were first met in file order within a
/// shard. Memory grows with the distinct keys (about 230 bytes each, plus arena bytes),
/// never with the revisions nor with the number of threads.
#[derive(Debug, Default)]
pub struct KeyTable<'a> {
    shards: Vec<Shard<'a>>,
}

/// Bytes of a key kept inline in its record; typical Kubernetes keys fit.
pub const KEY_HEAD: usize = 44;

/// The hash, length and first bytes of a key: one cache line.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct KeyHead {
    hash: u64,
    /// Where the key's bytes past the head start in the arena.
    tail_at: u64,
    len: u32,
    head: [u8; KEY_HEAD],
}

/// Slot value: record number + 1 in the low 40 bits (0 = empty), a tag of the hash above.
const SLOT_INDEX_BITS: u32 = 40;
const SLOT_INDEX_MASK: u64 = (1 << SLOT_INDEX_BITS) - 1;

#[inline]
fn slot_tag(hash: u64) -> u64 {
    (hash >> 16) & 0xff_ffff
}

/// One shard: the keys whose hash maps to it.
#[derive(Debug, Default)]
struct Shard<'a> {
    /// Open-addressed, linear probing, at most half full (a power of two long, or empty).
    slots: Vec<u64>,
    heads: Chunked<KeyHead>,
    accs: Chunked<KeyAcc>,
    /// The key in the mapping, for the callers (borrowed for the mapping's lifetime).
    keys: Chunked<&'a [u8]>,
    arena: Vec<u8>,
}

/// Items per block of a [`Chunked`] list.
const CHUNK: usize = 1 << 12;

/// A list in blocks of [`CHUNK`] items that never move: the key table's records grow with
/// the keys without the doubling of a `Vec`, which leaves up to half of its room unused
/// once the keys stop coming (a seventh with the 231k keys of the history bench db) and,
/// for the cache-line aligned key heads, copies the whole list at each growth with both
/// copies held.
#[derive(Debug)]
struct Chunked<T> {
    blocks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            blocks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Chunked<T> {
    #[inline]
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn push(&mut self, v: T) {
        match self.blocks.last_mut() {
            Some(b) if b.len() < CHUNK => b.push(v),
            _ => {
                let mut b = Vec::with_capacity(CHUNK);
                b.push(v);
                self.blocks.push(b);
            }
        }
        self.len += 1;
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&T> {
        self.blocks.get(i / CHUNK)?.get(i % CHUNK)
    }

    fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.blocks.iter().flatten()
    }
}

impl<T> std::ops::Index<usize> for Chunked<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: usize) -> &T {
        &self.blocks[i / CHUNK][i % CHUNK]
    }
}

impl<T> std::ops::IndexMut<usize> for Chunked<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.blocks[i / CHUNK][i % CHUNK]
    }
}

impl KeyHead {
    /// Whether this record is `key`'s, reading only the record and the arena.
    #[inline]
    fn holds(&self, key: &[u8], hash: u64, arena: &[u8]) -> bool {
        if self.hash != hash || self.len as usize != key.len() {
            return false;
        }
        let n = key.len().min(KEY_HEAD);
        super::fasthash::same_bytes(&self.head[..n], &key[..n])
            && (key.len() <= KEY_HEAD || {
                let at = self.tail_at as usize;
                arena
                    .get(at..at + (key.len() - KEY_HEAD))
                    .is_some_and(|t| super::fasthash::same_bytes(t, &key[KEY_HEAD..]))
            })
    }
}

fn hash_key(key: &[u8]) -> u64 {
    use std::hash::Hasher as _;
    let mut h = super::fasthash::FastHasher::default();
    h.write(key);
    h.finish()
}

/// The shard of `hash` among `n` (the hash's top bits, which neither the slot index nor
/// the tag use).
#[inline]
fn shard_of(hash: u64, n: usize) -> usize {
    (((hash >> 40) * n as u64) >> 24) as usize
}

/// bbolt-reader's cache-line hint, for the scan's and the accounting's read-ahead.
pub(crate) use bbolt_reader::page::prefetch;

impl<'a> Shard<'a> {
    /// A shard whose index is sized for `cap` keys (the records take their room block by
    /// block as the keys come).
    fn with_capacity(cap: usize) -> Self {
        Shard {
            slots: bbolt_reader::page::written_zeros((cap.max(8) * 2).next_power_of_two()),
            ..Shard::default()
        }
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// Hints the index slot of `hash` in.
    #[inline]
    fn prefetch_slot(&self, hash: u64) {
        if let Some(s) = self.slots.get(hash as usize & self.mask()) {
            prefetch(s);
        }
    }

    /// Hints in the record the first probe of `hash` points at (if its tag matches).
    #[inline]
    fn prefetch_record(&self, hash: u64) {
        let Some(&s) = self.slots.get(hash as usize & self.mask()) else {
            return;
        };
        if s != 0 && s >> SLOT_INDEX_BITS == slot_tag(hash) {
            let i = ((s & SLOT_INDEX_MASK) - 1) as usize;
            if let (Some(h), Some(a)) = (self.heads.get(i), self.accs.get(i)) {
                prefetch(h);
                let a: *const KeyAcc = a;
                prefetch(a);
                prefetch(a.cast::<u8>().wrapping_add(64));
                prefetch(
                    a.cast::<u8>()
                        .wrapping_add(std::mem::size_of::<KeyAcc>() - 1),
                );
            }
        }
    }

    /// Walks `key`'s probe sequence: `Ok(record number)` when present, else `Err(the empty
    /// slot where it would go)`. The table is never full (load at most one half), so the
    /// walk ends.
    #[inline]
    fn probe(&self, key: &[u8], hash: u64) -> Result<usize, usize> {
        let mask = self.mask();
        let tag = slot_tag(hash);
        let mut at = hash as usize & mask;
        loop {
            let s = self.slots[at];
            if s == 0 {
                return Err(at);
            }
            if s >> SLOT_INDEX_BITS == tag {
                let i = ((s & SLOT_INDEX_MASK) - 1) as usize;
                if self.heads[i].holds(key, hash, &self.arena) {
                    return Ok(i);
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// The record number of `key`, if present.
    #[inline]
    fn find(&self, key: &[u8], hash: u64) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        self.probe(key, hash).ok()
    }

    /// The record of `key` (whose hash is `hash`), made empty when new.
    #[inline]
    fn slot(&mut self, key: &'a [u8], hash: u64) -> &mut KeyAcc {
        if self.slots.is_empty() {
            *self = Shard::with_capacity(8);
        }
        let at = match self.probe(key, hash) {
            Ok(i) => return &mut self.accs[i],
            Err(at) => at,
        };
        let tag = slot_tag(hash);
        let i = self.heads.len();
        let n = key.len().min(KEY_HEAD);
        let mut head = [0u8; KEY_HEAD];
        head[..n].copy_from_slice(&key[..n]);
        self.heads.push(KeyHead {
            hash,
            tail_at: self.arena.len() as u64,
            len: key.len() as u32,
            head,
        });
        self.arena.extend_from_slice(&key[n..]);
        self.accs.push(KeyAcc::default());
        self.keys.push(key);
        self.slots[at] = (tag << SLOT_INDEX_BITS) | (i as u64 + 1);
        if self.heads.len() * 2 > self.slots.len() {
            self.grow();
        }
        &mut self.accs[i]
    }

    /// Gives back the key arena's room past the last key (up to half of it, as it grew by
    /// doubling) once the scan is over.
    fn shrink_to_fit(&mut self) {
        self.arena.shrink_to_fit();
    }

    /// Doubles the index (records stay where they are).
    fn grow(&mut self) {
        let mut slots: Vec<u64> = bbolt_reader::page::written_zeros(self.slots.len() * 2);
        let mask = slots.len() - 1;
        for (i, h) in self.heads.iter().enumerate() {
            let mut at = h.hash as usize & mask;
            while slots[at] != 0 {
                at = (at + 1) & mask;
            }
            slots[at] = (slot_tag(h.hash) << SLOT_INDEX_BITS) | (i as u64 + 1);
        }
        self.slots = slots;
    }

    /// The key of record `i` as its record's copy of the first bytes, and the mapping for
    /// the rest.
    #[inline]
    fn head_key(&self, i: usize) -> HeadKey<'_, 'a> {
        let h = &self.heads[i];
        let key = self.keys[i];
        let len = h.len as usize;
        let head = &h.head[..len.min(KEY_HEAD)];
        // The arena's copy of the rest; the mapping's should the arena not hold it.
        let at = h.tail_at as usize;
        let tail = at
            .checked_add(len.saturating_sub(KEY_HEAD))
            .and_then(|end| self.arena.get(at..end))
            .unwrap_or_else(|| key.get(head.len()..).unwrap_or_default());
        HeadKey { head, tail, key }
    }
}

/// A key of the table as its record holds it: the first [`KEY_HEAD`] bytes (the whole key
/// when it is no longer) and the rest in the table's arena, with the key in the mapping,
/// read only for a prefix that reaches past the head. A sweep over the table that asks
/// for filters and short prefixes reads the table in order and not the mapping at random.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadKey<'t, 'a> {
    head: &'t [u8],
    /// The bytes past the head (empty when the head is the whole key).
    tail: &'t [u8],
    key: &'a [u8],
}

impl<'t, 'a: 't> HeadKey<'t, 'a> {
    /// Whether the key starts with `p`.
    #[inline]
    pub(crate) fn starts_with(&self, p: &[u8]) -> bool {
        match self.head.get(..p.len()) {
            Some(h) => super::fasthash::same_bytes(h, p),
            None => {
                let (ph, pt) = p.split_at(self.head.len());
                super::fasthash::same_bytes(self.head, ph) && self.tail.starts_with(pt)
            }
        }
    }

    /// The whole key, from the head when it holds the whole key (no read of the mapping).
    #[inline]
    pub(crate) fn local(&self) -> &'t [u8] {
        if self.is_whole() {
            self.head
        } else {
            self.key
        }
    }

    /// [`crate::prefix_at_depth`] of the key, from the head when it holds the prefix.
    #[inline]
    pub(crate) fn prefix_at_depth(&self, depth: usize) -> &'t [u8] {
        match super::full_prefix_at_depth(self.head, depth) {
            Ok(p) => p,
            Err(p) if self.is_whole() => p,
            Err(_) => super::prefix_at_depth(self.key, depth),
        }
    }

    /// Whether the head is the whole key.
    #[inline]
    fn is_whole(&self) -> bool {
        self.head.len() == self.key.len()
    }
}

impl<'a> KeyTable<'a> {
    #[cfg(test)]
    fn with_capacity(cap: usize) -> Self {
        KeyTable {
            shards: vec![Shard::with_capacity(cap)],
        }
    }

    /// The record of `key`, made empty when new.
    #[cfg(test)]
    fn entry(&mut self, key: &'a [u8]) -> &mut KeyAcc {
        let hash = hash_key(key);
        let n = self.shards.len();
        self.shards[shard_of(hash, n)].slot(key, hash)
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.heads.len()).sum()
    }

    /// True when no key was found.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The record of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&KeyAcc> {
        if self.shards.is_empty() {
            return None;
        }
        let hash = hash_key(key);
        let s = &self.shards[shard_of(hash, self.shards.len())];
        s.find(key, hash).map(|i| &s.accs[i])
    }

    /// Every key with its record, shard by shard in the order the keys were first met;
    /// items as a `HashMap<&[u8], KeyAcc>` hands them out.
    pub fn iter(&self) -> impl Iterator<Item = (&&'a [u8], &KeyAcc)> + '_ {
        self.shards
            .iter()
            .flat_map(|s| s.keys.iter().zip(s.accs.iter()))
    }

    /// Every key as the table's own copy (the mapping is read only for keys longer than
    /// [`KEY_HEAD`]), with the key in the mapping and its record, in the order of
    /// [`KeyTable::iter`]. A sweep over the table, not random reads of the mapping.
    pub fn iter_local(&self) -> impl Iterator<Item = (&[u8], &'a [u8], &KeyAcc)> + '_ {
        self.records(0..self.len())
            .map(|(s, i)| (s.head_key(i).local(), s.keys[i], &s.accs[i]))
    }

    /// Every key as a [`HeadKey`], with the key in the mapping and its record, in the
    /// order of [`KeyTable::iter`].
    pub(crate) fn iter_heads(
        &self,
    ) -> impl Iterator<Item = (HeadKey<'_, 'a>, &'a [u8], &KeyAcc)> + '_ {
        self.iter_heads_range(0..self.len())
    }

    /// [`KeyTable::iter_heads`] for the positions in `range` of its order only.
    pub(crate) fn iter_heads_range(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl Iterator<Item = (HeadKey<'_, 'a>, &'a [u8], &KeyAcc)> + '_ {
        self.records(range)
            .map(|(s, i)| (s.head_key(i), s.keys[i], &s.accs[i]))
    }

    /// The shard and record number of each position in `range` of [`KeyTable::iter`]'s
    /// order.
    fn records(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl Iterator<Item = (&Shard<'a>, usize)> + '_ {
        let mut base = 0usize;
        self.shards.iter().flat_map(move |s| {
            let n = s.accs.len();
            let from = range.start.saturating_sub(base).min(n);
            let to = range.end.saturating_sub(base).min(n);
            base += n;
            (from..to).map(move |i| (s, i))
        })
    }

    /// The shard and record number of position `at` in [`KeyTable::iter`]'s order.
    #[inline]
    fn place(&self, mut at: usize) -> Option<(&Shard<'a>, usize)> {
        for s in &self.shards {
            if at < s.accs.len() {
                return Some((s, at));
            }
            at -= s.accs.len();
        }
        None
    }

    /// The key (in the mapping) and record at position `at` of [`KeyTable::iter`]'s order.
    #[inline]
    pub(crate) fn at(&self, at: usize) -> Option<(&'a [u8], &KeyAcc)> {
        let (s, i) = self.place(at)?;
        Some((s.keys[i], &s.accs[i]))
    }

    /// Hints in the record at position `at` (all its cache lines) and its key slice.
    #[inline]
    pub(crate) fn prefetch_at(&self, at: usize) {
        if let Some((s, i)) = self.place(at) {
            let a: *const KeyAcc = &s.accs[i];
            prefetch(a);
            prefetch(a.cast::<u8>().wrapping_add(64));
            prefetch(
                a.cast::<u8>()
                    .wrapping_add(std::mem::size_of::<KeyAcc>() - 1),
            );
            prefetch(&s.keys[i]);
        }
    }

    /// Every record.
    pub fn values(&self) -> impl Iterator<Item = &KeyAcc> + '_ {
        self.shards.iter().flat_map(|s| s.accs.iter())
    }
}

/// Equal when both hold the same keys with the same records, whatever the order.
impl PartialEq for KeyTable<'_> {
    fn eq(&self, o: &Self) -> bool {
        self.len() == o.len() && self.iter().all(|(k, a)| o.get(k) == Some(a))
    }
}

/// One entry read and waiting for its record (see [`Pipeline`]).
#[derive(Clone, Copy)]
struct Pending<'a> {
    hash: u64,
    key: &'a [u8],
    rev: Revision,
    tombstone: bool,
    value_len: u64,
    entry_bytes: u64,
    lease: i64,
    ordinal: u64,
    loc: ElementLoc,
}

/// Entries in flight between being read and being folded into their record. The index
/// slot of an entry is hinted in when it arrives, its record [`LAG`] / 2 entries later
/// (the slot is in cache by then), and the entry is folded in [`LAG`] entries after it
/// arrived: the table's cache misses of several entries overlap instead of following one
/// another. Order is kept, so the result is that of folding each entry as it is read.
const LAG: usize = 16;

struct Pipeline<'a> {
    ring: [Option<Pending<'a>>; LAG],
    /// Entries pushed so far (the ring index is `n % LAG`).
    n: usize,
}

impl<'a> Pipeline<'a> {
    fn new() -> Self {
        Pipeline {
            ring: [None; LAG],
            n: 0,
        }
    }

    #[inline]
    fn push(&mut self, shard: &mut Shard<'a>, p: Pending<'a>, limit: i64) {
        shard.prefetch_slot(p.hash);
        if let Some(mid) = &self.ring[(self.n + LAG / 2) % LAG] {
            shard.prefetch_record(mid.hash);
        }
        if let Some(old) = self.ring[self.n % LAG].replace(p) {
            fold(shard, &old, limit);
        }
        self.n += 1;
    }

    fn finish(&mut self, shard: &mut Shard<'a>, limit: i64) {
        for k in 0..LAG {
            if let Some(old) = self.ring[(self.n + k) % LAG].take() {
                fold(shard, &old, limit);
            }
        }
    }
}

#[inline]
fn fold<'a>(shard: &mut Shard<'a>, p: &Pending<'a>, limit: i64) {
    shard.slot(p.key, p.hash).add(
        p.rev,
        p.tombstone,
        p.value_len,
        p.entry_bytes,
        p.lease,
        limit,
        p.ordinal,
        p.loc,
    );
}

/// Where [`Acc::scan_page`] hands the entries it read.
trait EntrySink<'a> {
    /// One entry, in file order; `keys` is the reading shard's table.
    fn push(&mut self, keys: &mut Shard<'a>, p: Pending<'a>, limit: i64);
}

impl<'a> EntrySink<'a> for Pipeline<'a> {
    #[inline]
    fn push(&mut self, keys: &mut Shard<'a>, p: Pending<'a>, limit: i64) {
        Pipeline::push(self, keys, p, limit);
    }
}

/// Entries read by one thread from its part of a window of pages, sorted by the shard
/// that owns their key (in file order within each), for the owners to fold.
struct Router<'a> {
    out: Vec<Vec<Pending<'a>>>,
}

impl<'a> EntrySink<'a> for Router<'a> {
    #[inline]
    fn push(&mut self, _: &mut Shard<'a>, p: Pending<'a>, _: i64) {
        let n = self.out.len();
        self.out[shard_of(p.hash, n)].push(p);
    }
}

/// The fields of an encoded KeyValue the scan uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KvFields<'a> {
    pub(crate) key: &'a [u8],
    pub(crate) value: &'a [u8],
    pub(crate) lease: i64,
}

/// A varint of at most 9 bytes at `*at` (63 bits: every reading of it agrees), moving
/// `*at` past it; `None` when it is longer or runs past the end.
#[inline(always)]
fn short_varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..9 {
        let x = *b.get(*at + i)?;
        v |= u64::from(x & 0x7f) << (7 * i);
        if x < 0x80 {
            *at += i + 1;
            return Some(v);
        }
    }
    None
}

/// The key, value length and lease of a KeyValue in the layout etcd's marshaller writes:
/// fields 1 to 6 in order, each at most once, zero fields left out, the key always there
/// (etcd 3.4 `mvccpb/kv.pb.go` `MarshalTo`). `None` for any other layout (the caller then
/// takes [`KeyValueRef::parse`], which reads every layout and names errors); where both
/// read a message they agree. Field 5's bytes are skipped unread.
#[inline]
pub(crate) fn kv_fields_canonical(b: &[u8]) -> Option<KvFields<'_>> {
    if *b.first()? != 0x0a {
        return None;
    }
    let mut at = 1;
    let klen = usize::try_from(short_varint(b, &mut at)?).ok()?;
    let key = b.get(at..at.checked_add(klen)?)?;
    at += klen;
    // create_revision, mod_revision, version: varints the scan does not use.
    for tag in [0x10u8, 0x18, 0x20] {
        if b.get(at) == Some(&tag) {
            at += 1;
            short_varint(b, &mut at)?;
        }
    }
    let mut value: &[u8] = &[];
    if b.get(at) == Some(&0x2a) {
        at += 1;
        let value_len = usize::try_from(short_varint(b, &mut at)?).ok()?;
        if value_len > b.len() - at {
            return None;
        }
        value = &b[at..at + value_len];
        at += value_len;
    }
    let mut lease = 0;
    if b.get(at) == Some(&0x30) {
        at += 1;
        lease = short_varint(b, &mut at)? as i64;
    }
    (at == b.len()).then_some(KvFields { key, value, lease })
}

/// The key, value and lease of an encoded KeyValue: etcd's own layout through
/// [`kv_fields_canonical`], any other through [`KeyValueRef::parse`], which names errors.
#[inline]
pub(crate) fn kv_fields(b: &[u8]) -> Result<KvFields<'_>, crate::proto::ProtoError> {
    match kv_fields_canonical(b) {
        Some(f) => Ok(f),
        None => KeyValueRef::parse(b).map(|kv| KvFields {
            key: kv.key,
            value: kv.value,
            lease: kv.lease,
        }),
    }
}

/// Hints in, for the first [`PAGE_ELEMENT_HINTS`] elements of a leaf, the line where the
/// element's key starts and the line where its value ends (a KeyValue's lease follows its
/// value): the page's entries then miss the cache together instead of one after another.
/// Reads only the element headers; an address out of the page is never dereferenced.
#[inline]
fn prefetch_elements(page: &Page<'_>) {
    let bytes = page.bytes();
    let n = page.elements_in_view().min(PAGE_ELEMENT_HINTS);
    let base = bytes.as_ptr();
    for i in 0..n {
        let h = bbolt_reader::page::PAGE_HEADER_SIZE + i * bbolt_reader::page::LEAF_ELEMENT_SIZE;
        let field = |o: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&bytes[h + o..h + o + 4]);
            u32::from_le_bytes(w) as usize
        };
        let start = h.wrapping_add(field(4));
        let end = start.wrapping_add(field(8)).wrapping_add(field(12));
        if end <= bytes.len() && start < end {
            prefetch(base.wrapping_add(start));
            prefetch(base.wrapping_add(end - 1));
        }
    }
}

/// Elements per leaf [`prefetch_elements`] hints in (more would only fill the CPU's
/// queue of outstanding misses).
const PAGE_ELEMENT_HINTS: usize = 16;

/// What one shard's pass gathers.
#[derive(Default)]
struct Acc<'a> {
    keys: Shard<'a>,
    totals: EntryTotals,
    problems: Vec<Problem>,
    problem_count: u64,
    /// On the shard that counts the pages, when the defrag model's inputs are asked for.
    model: Option<ModelFold>,
}

impl<'a> Acc<'a> {
    fn problem(&mut self, pgid: Pgid, index: usize, what: String) {
        self.problem_count += 1;
        self.problems.push(Problem { pgid, index, what });
        self.bound_problems();
    }

    /// `count` problems found elsewhere, of which `listed` are kept in a list.
    fn absorb_problems(&mut self, count: u64, listed: &mut Vec<Problem>) {
        self.problem_count += count;
        self.problems.append(listed);
        self.bound_problems();
    }

    /// Keeps the list short: the first [`MAX_PROBLEMS`] in order are the ones reported.
    fn bound_problems(&mut self) {
        if self.problems.len() >= 2 * MAX_PROBLEMS {
            self.problems.sort();
            self.problems.truncate(MAX_PROBLEMS);
        }
    }

    /// Reads one leaf page. Shard `shard` of `shards` folds only the entries of its keys;
    /// shard 0 alone counts the pages and what cannot be read, so that every figure is
    /// counted once over all shards.
    #[allow(clippy::too_many_arguments)]
    fn scan_page(
        &mut self,
        pipe: &mut impl EntrySink<'a>,
        page: &Page<'a>,
        limit: i64,
        base: u64,
        shard: usize,
        shards: usize,
    ) {
        let first = shard == 0;
        if first {
            self.totals.leaf_nodes += 1;
            self.totals.leaf_pages += u64::from(page.overflow()) + 1;
            self.totals.leaf_used_bytes += page.used_bytes();
        }
        if !page.is_leaf() {
            if first {
                self.problem(page.pgid(), 0, "not a leaf page".into());
                if let Some(m) = &mut self.model {
                    m.page(page, limit, base);
                }
            }
            return;
        }
        prefetch_elements(page);
        for (index, el) in page.leaf_elements().enumerate() {
            let el = match el {
                Ok(el) => el,
                Err(e) => {
                    if first {
                        self.totals.malformed += 1;
                        self.problem(page.pgid(), index, e.to_string());
                    }
                    continue;
                }
            };
            let parsed = parse_rev_key(el.key);
            if first {
                if let Some(m) = &mut self.model {
                    let main = parsed.as_ref().ok().map(|rk| rk.rev.main);
                    m.leaf_element(&el, main, limit, base + index as u64);
                }
            }
            if el.is_bucket() {
                if first {
                    self.totals.malformed += 1;
                    self.problem(
                        page.pgid(),
                        index,
                        "nested bucket inside the key bucket".into(),
                    );
                }
                continue;
            }
            let rk = match parsed {
                Ok(rk) => rk,
                Err(e) => {
                    if first {
                        self.totals.malformed += 1;
                        self.problem(page.pgid(), index, e.to_string());
                    }
                    continue;
                }
            };
            let kv = match kv_fields(el.value) {
                Ok(kv) => kv,
                Err(e) => {
                    if first {
                        self.totals.malformed += 1;
                        self.problem(
                            page.pgid(),
                            index,
                            format!("revision {}: KeyValue: {e}", rk.rev),
                        );
                    }
                    continue;
                }
            };
            let hash = hash_key(kv.key);
            if shards > 1 && shard_of(hash, shards) != shard {
                continue;
            }
            let entry_bytes = (el.key.len() + el.value.len()) as u64;
            let value_len = kv.value.len() as u64;
            let t = &mut self.totals;
            t.entries += 1;
            t.tombstones += u64::from(rk.tombstone);
            t.entry_bytes += entry_bytes;
            t.value_bytes += value_len;
            t.max_rev = Some(t.max_rev.map_or(rk.rev, |m| m.max(rk.rev)));
            t.min_rev = Some(t.min_rev.map_or(rk.rev, |m| m.min(rk.rev)));
            pipe.push(
                &mut self.keys,
                Pending {
                    hash,
                    key: kv.key,
                    rev: rk.rev,
                    tombstone: rk.tombstone,
                    value_len,
                    entry_bytes,
                    lease: kv.lease,
                    ordinal: base + index as u64,
                    loc: ElementLoc::new(page.pgid(), index),
                },
                limit,
            );
        }
    }
}

/// Leaf pages per chunk for a bucket of `n` leaf pages (depends on `n` only, never on the
/// thread count).
pub fn chunk_pages(n: usize) -> usize {
    (n / 512).clamp(16, 4096)
}

/// Scans the key bucket. `limit` is the revision up to which [`KeyAcc`]'s `below_*`
/// fields count (a compaction revision; `i64::MAX` for "all"). `progress` is called with
/// the number of leaf pages done after each chunk. Runs on the current rayon pool.
pub fn scan_keyspace<'a>(
    bucket: &Bucket<'a>,
    limit: i64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Keyspace<'a>, bbolt_reader::Error> {
    let pages = bucket.leaf_pages()?;
    let mut ks = scan_leaf_pages(bucket, &pages, limit, progress);
    ks.leaf_pages = pages;
    Ok(ks)
}

/// The tolerant listing's rules, shared by [`leaf_pages_tolerant`] and [`scan_bucket`]:
/// which leaves are read, and the words of the damage skipped on the way.
struct LeafRules {
    problems: Vec<Problem>,
    spans: u64,
    span_limit: u64,
}

impl LeafRules {
    fn new(bucket: &Bucket<'_>) -> Self {
        LeafRules {
            problems: Vec::new(),
            spans: 0,
            span_limit: (bucket.db().data().len() as u64).saturating_mul(2),
        }
    }

    /// Whether `page` is read. Leaf views are what callers read in full. In a sound file
    /// they are disjoint; leaves whose overflow fields claim the rest of the file would
    /// make the reads quadratic, so the listing stops once the views outgrow twice the
    /// file (a problem says where).
    fn admit(&mut self, page: &Page<'_>, parent: Pgid, index: usize) -> bool {
        self.spans = self.spans.saturating_add(page.bytes().len() as u64);
        if self.spans > self.span_limit && parent != page.pgid() {
            self.problems.push(Problem {
                pgid: parent,
                index,
                what: format!(
                    "leaf pages listed up to page {} span more than twice the file (overflow spans overlap): the rest are not counted",
                    page.pgid()
                ),
            });
            return false;
        }
        true
    }

    /// Records damage the walker skipped; the problems keep their words (they appear in
    /// every output).
    fn damage(&mut self, d: TreeDamage) {
        let (pgid, index, what) = match d {
            TreeDamage::Root { pgid, error } => (pgid, 0, error.to_string()),
            TreeDamage::Element {
                parent,
                index,
                error,
            } => (parent, index, error.to_string()),
            TreeDamage::AlreadyEntered {
                parent,
                index,
                child,
            } => (
                parent,
                index,
                format!("child page {child} already entered (cycle or shared subtree): skipped"),
            ),
            TreeDamage::TooDeep {
                parent,
                index,
                child,
            } => (
                parent,
                index,
                format!("child page {child} is deeper than any real tree: skipped"),
            ),
            TreeDamage::Child {
                parent,
                index,
                child,
                error,
            } => (
                parent,
                index,
                format!("child page {child}: {error}: its keys are not counted"),
            ),
        };
        self.problems.push(Problem { pgid, index, what });
    }
}

/// The bucket's leaf pages in key order, going on past damage: a branch element that
/// points outside the file, at a page that is neither branch nor leaf, at a page already
/// entered (a cycle or a shared subtree) or deeper than any real tree is skipped and
/// reported, and the walk continues with the next element. Every page is entered at most
/// once, so the walk ends on any bytes. A visitor of the reader's one tolerant walker
/// ([`bbolt_reader::walk_tree`]).
pub fn leaf_pages_tolerant<'a>(bucket: &Bucket<'a>) -> (Vec<Page<'a>>, Vec<Problem>) {
    struct Lister<'a> {
        out: Vec<Page<'a>>,
        rules: LeafRules,
    }
    impl<'a> TreeVisitor<'a> for Lister<'a> {
        fn leaf(&mut self, page: Page<'a>, parent: Pgid, index: usize) -> Flow {
            if !self.rules.admit(&page, parent, index) {
                return Flow::Stop;
            }
            self.out.push(page);
            Flow::Continue
        }
        fn damage(&mut self, d: TreeDamage) {
            self.rules.damage(d);
        }
    }
    let mut l = Lister {
        out: Vec::new(),
        rules: LeafRules::new(bucket),
    };
    walk_tree(bucket, &mut l);
    (l.out, l.rules.problems)
}

/// Pages ahead of the one being read whose first lines [`scan_bucket`] hints in.
const PREFETCH_PAGES: usize = 4;

/// [`leaf_pages_tolerant`] and [`scan_leaf_pages`] in one pass: each shard's thread walks
/// the tree itself (the branch pages are a small part of the file) and reads every leaf as
/// the walk reaches it, while its header is still in cache, so the leaves are never listed
/// first in a pass of their own. Shard 0 reports the walk's damage and, with
/// `keep_leaf_pages`, keeps the list of leaf pages for later passes
/// ([`Keyspace::leaf_pages`]; 40 bytes a leaf: callers that need only the per-key figures
/// leave it, and their heap does not grow with the file). `progress` is called
/// with the number of pages read (overflow included). The result equals
/// `scan_leaf_pages` over `leaf_pages_tolerant`'s pages with its problems added.
pub fn scan_bucket<'a>(
    bucket: &Bucket<'a>,
    limit: i64,
    keep_leaf_pages: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> Keyspace<'a> {
    scan_bucket_inner(bucket, limit, keep_leaf_pages, false, progress)
}

/// [`scan_bucket`] keeping the leaf pages and gathering, in the same visit of each leaf,
/// what the defrag model of the bucket needs ([`Keyspace::element_model`]): the space
/// figures then read no element a second time except those a compaction keeps.
pub fn scan_bucket_with_model<'a>(
    bucket: &Bucket<'a>,
    limit: i64,
    progress: &(dyn Fn(u64) + Sync),
) -> Keyspace<'a> {
    scan_bucket_inner(bucket, limit, true, true, progress)
}

fn scan_bucket_inner<'a>(
    bucket: &Bucket<'a>,
    limit: i64,
    keep_leaf_pages: bool,
    model: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> Keyspace<'a> {
    struct ShardWalk<'a, 'p> {
        rules: LeafRules,
        acc: Acc<'a>,
        pipe: Pipeline<'a>,
        list: Vec<Page<'a>>,
        keep: bool,
        base: u64,
        shard: usize,
        shards: usize,
        limit: i64,
        page_size: usize,
        unreported: u64,
        progress: &'p (dyn Fn(u64) + Sync),
    }
    impl<'a> TreeVisitor<'a> for ShardWalk<'a, '_> {
        fn leaf(&mut self, page: Page<'a>, parent: Pgid, index: usize) -> Flow {
            if !self.rules.admit(&page, parent, index) {
                return Flow::Stop;
            }
            // Leaves written in key order lie one after another in the file: hint in the
            // headers of the pages that follow (a wrong guess costs only the hint).
            let ahead = page
                .bytes()
                .as_ptr()
                .wrapping_add(self.page_size * (page.bytes().len() / self.page_size.max(1)))
                .wrapping_add(self.page_size * (PREFETCH_PAGES - 1));
            prefetch(ahead);
            prefetch(ahead.wrapping_add(64));
            self.acc.scan_page(
                &mut self.pipe,
                &page,
                self.limit,
                self.base,
                self.shard,
                self.shards,
            );
            self.base += page.elements_in_view() as u64;
            if self.shard == 0 {
                if self.keep {
                    self.list.push(page);
                }
                self.unreported += u64::from(page.overflow()) + 1;
                if self.unreported >= 4096 {
                    (self.progress)(self.unreported);
                    self.unreported = 0;
                }
            }
            Flow::Continue
        }
        fn damage(&mut self, d: TreeDamage) {
            if self.shard == 0 {
                self.rules.damage(d);
            }
        }
    }
    let shards = rayon::current_num_threads().clamp(1, MAX_SHARDS);
    if shards > 1 && !model {
        return split_scan(bucket, limit, keep_leaf_pages, shards, progress);
    }
    let walks: Vec<ShardWalk<'a, '_>> = (0..shards)
        .into_par_iter()
        .map(|shard| {
            let mut w = ShardWalk {
                rules: LeafRules::new(bucket),
                acc: Acc {
                    keys: Shard::with_capacity(1 << 12),
                    model: (model && shard == 0).then(|| ModelFold::building(bucket)),
                    ..Acc::default()
                },
                pipe: Pipeline::new(),
                list: Vec::new(),
                keep: keep_leaf_pages && shard == 0,
                base: 0,
                shard,
                shards,
                limit,
                page_size: bucket.db().page_size(),
                unreported: 0,
                progress,
            };
            walk_tree(bucket, &mut w);
            w.pipe.finish(&mut w.acc.keys, limit);
            (w.progress)(w.unreported);
            w
        })
        .collect();
    let mut damage = Vec::new();
    let mut list = Vec::new();
    let mut accs = Vec::with_capacity(shards);
    for w in walks {
        if w.shard == 0 {
            damage = w.rules.problems;
            list = w.list;
        }
        accs.push(w.acc);
    }
    let mut ks = keyspace_of(bucket, accs, limit);
    ks.leaf_pages = list;
    ks.add_problems(damage);
    ks
}

/// Leaves in one window of [`split_scan`]: the unit a thread claims and reads.
const SPLIT_WINDOW: usize = 256;
/// Windows a thread of [`split_scan`] may read ahead of the slowest shard's fold; bounds
/// the entries waiting to be folded, whatever the file's size.
const SPLIT_AHEAD: usize = 16;

/// The shared state of [`split_scan`]'s threads.
struct Split<'a> {
    /// Per window read and not yet folded by every shard: its entries by owning shard.
    routed: std::sync::Mutex<std::collections::BTreeMap<usize, Vec<Option<Vec<Pending<'a>>>>>>,
    /// Per shard: its table, its pipeline and the next window it folds.
    folds: Vec<std::sync::Mutex<(Acc<'a>, Pipeline<'a>, usize)>>,
    /// Per shard, the next window it folds (read without its lock).
    folded: Vec<std::sync::atomic::AtomicUsize>,
    limit: i64,
}

impl<'a> Split<'a> {
    /// Folds, for every shard whose lock is free, the windows read in order from its next.
    fn fold_ready(&self, wait: bool) {
        use std::sync::atomic::Ordering::SeqCst;
        for (s, fold) in self.folds.iter().enumerate() {
            let mut guard = if wait {
                fold.lock().unwrap_or_else(|e| e.into_inner())
            } else {
                match fold.try_lock() {
                    Ok(g) => g,
                    Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
                    Err(std::sync::TryLockError::WouldBlock) => continue,
                }
            };
            let (acc, pipe, next) = &mut *guard;
            loop {
                let list = {
                    let mut routed = self.routed.lock().unwrap_or_else(|e| e.into_inner());
                    let Some(lists) = routed.get_mut(next) else {
                        break;
                    };
                    let list = lists[s].take();
                    if lists.iter().all(Option::is_none) {
                        routed.remove(next);
                    }
                    list
                };
                for p in list.unwrap_or_default() {
                    pipe.push(&mut acc.keys, p, self.limit);
                }
                *next += 1;
                self.folded[s].store(*next, SeqCst);
            }
        }
    }

    /// Whether window `w` may be read now.
    fn within_reach(&self, w: usize) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        self.folded.iter().all(|n| w < n.load(SeqCst) + SPLIT_AHEAD)
    }
}

/// [`scan_bucket`] on `shards` threads with each leaf read once: every thread walks the
/// tree (branch pages and leaf headers) and cuts its leaves into windows of
/// [`SPLIT_WINDOW`] the same way; a thread reaching a window no thread has claimed yet
/// claims it and reads it, sorting its entries by the shard that owns their key; each
/// shard folds the windows in their order, by whichever thread finds its lock free, so
/// each key's revisions are folded in file order by one shard, as [`scan_leaf_pages`]
/// does, and the table is the same. No thread waits at a window: a thread waits only when
/// it is [`SPLIT_AHEAD`] windows ahead of a fold, and the windows it waits for are being
/// read by running threads (a thread claims a window only when it reaches it). If the
/// pool runs the threads one after another, the first reads everything.
fn split_scan<'a>(
    bucket: &Bucket<'a>,
    limit: i64,
    keep_leaf_pages: bool,
    shards: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Keyspace<'a> {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    struct SplitWalk<'a, 's> {
        split: &'s Split<'a>,
        unclaimed: &'s AtomicUsize,
        rules: LeafRules,
        /// What the windows this thread read hold: totals and problems (no table).
        acc: Acc<'a>,
        router: Router<'a>,
        window: usize,
        in_window: usize,
        mine: bool,
        read: u64,
        base: u64,
        list: Option<Vec<Page<'a>>>,
        progress: &'s (dyn Fn(u64) + Sync),
    }
    impl SplitWalk<'_, '_> {
        fn close_window(&mut self) {
            if self.mine {
                let lists = self
                    .router
                    .out
                    .iter_mut()
                    .map(|l| Some(std::mem::replace(l, Vec::with_capacity(l.capacity()))))
                    .collect();
                self.split
                    .routed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(self.window, lists);
                self.split.fold_ready(false);
                (self.progress)(std::mem::take(&mut self.read));
            }
            self.window += 1;
            self.in_window = 0;
            self.mine = false;
        }
    }
    impl<'a> TreeVisitor<'a> for SplitWalk<'a, '_> {
        fn leaf(&mut self, page: Page<'a>, parent: Pgid, index: usize) -> Flow {
            if !self.rules.admit(&page, parent, index) {
                return Flow::Stop;
            }
            if self.in_window == 0 {
                // Every thread passes the windows in order and claims each it finds
                // unclaimed, so the first unclaimed window is never behind this one.
                let w = self.window;
                self.mine = self
                    .unclaimed
                    .compare_exchange(w, w + 1, SeqCst, SeqCst)
                    .is_ok();
                // Every window before `w` is claimed, and each is read by the thread that
                // claimed it without waiting for `w`.
                while self.mine && !self.split.within_reach(w) {
                    self.split.fold_ready(false);
                    std::thread::yield_now();
                }
            }
            if self.mine {
                self.acc
                    .scan_page(&mut self.router, &page, self.split.limit, self.base, 0, 1);
                self.read += u64::from(page.overflow()) + 1;
            }
            self.base += page.elements_in_view() as u64;
            if let Some(list) = &mut self.list {
                list.push(page);
            }
            self.in_window += 1;
            if self.in_window == SPLIT_WINDOW {
                self.close_window();
            }
            Flow::Continue
        }
        fn damage(&mut self, d: TreeDamage) {
            self.rules.damage(d);
        }
    }
    let split = Split {
        routed: std::sync::Mutex::new(std::collections::BTreeMap::new()),
        folds: (0..shards)
            .map(|_| {
                std::sync::Mutex::new((
                    Acc {
                        keys: Shard::with_capacity(1 << 12),
                        ..Acc::default()
                    },
                    Pipeline::new(),
                    0,
                ))
            })
            .collect(),
        folded: (0..shards).map(|_| AtomicUsize::new(0)).collect(),
        limit,
    };
    let unclaimed = AtomicUsize::new(0);
    let walks: Vec<(Acc<'a>, Vec<Problem>, Option<Vec<Page<'a>>>)> = (0..shards)
        .into_par_iter()
        .map(|t| {
            let mut w = SplitWalk {
                split: &split,
                unclaimed: &unclaimed,
                rules: LeafRules::new(bucket),
                acc: Acc::default(),
                router: Router {
                    out: (0..shards).map(|_| Vec::new()).collect(),
                },
                window: 0,
                in_window: 0,
                mine: false,
                read: 0,
                base: 0,
                list: (keep_leaf_pages && t == 0).then(Vec::new),
                progress,
            };
            walk_tree(bucket, &mut w);
            if w.in_window > 0 {
                w.close_window();
            }
            (w.acc, w.rules.problems, w.list)
        })
        .collect();
    split.fold_ready(true);
    let mut accs: Vec<Acc<'a>> = split
        .folds
        .into_iter()
        .map(|f| {
            let (mut acc, mut pipe, _) = f.into_inner().unwrap_or_else(|e| e.into_inner());
            pipe.finish(&mut acc.keys, limit);
            acc
        })
        .collect();
    let mut damage = Vec::new();
    let mut list = Vec::new();
    for (t, (read, problems, pages)) in walks.into_iter().enumerate() {
        // The pages' totals and problems go with shard 0 (the folds hold only tables).
        let a = &mut accs[0];
        a.totals.merge(&read.totals);
        a.problem_count += read.problem_count;
        a.problems.extend(read.problems);
        if t == 0 {
            // Every thread walked the same tree with the same rules.
            damage = problems;
            list = pages.unwrap_or_default();
        }
    }
    let mut ks = keyspace_of(bucket, accs, limit);
    ks.leaf_pages = list;
    ks.add_problems(damage);
    ks
}

/// Reads the leaf pages handed to it in key order, each once, on the calling thread, as
/// the one-thread scan does, gathering the defrag model's inputs too. It keeps no list of
/// the pages: later passes read elements by [`ElementLoc`] and list the leaves again when
/// they need them all ([`Keyspace::leaves`]), so its heap is the table's.
struct LeafFold<'a, 'p> {
    bucket: Bucket<'a>,
    acc: Acc<'a>,
    pipe: Pipeline<'a>,
    /// Ordinal of the next page's first element.
    base: u64,
    limit: i64,
    /// Pages read (overflow included) and not yet reported.
    unreported: u64,
    progress: &'p (dyn Fn(u64) + Sync),
}

impl<'a, 'p> LeafFold<'a, 'p> {
    fn new(bucket: &Bucket<'a>, limit: i64, progress: &'p (dyn Fn(u64) + Sync)) -> Self {
        LeafFold {
            bucket: *bucket,
            acc: Acc {
                keys: Shard::with_capacity(1 << 12),
                model: Some(ModelFold::building(bucket)),
                ..Acc::default()
            },
            pipe: Pipeline::new(),
            base: 0,
            limit,
            unreported: 0,
            progress,
        }
    }

    fn page(&mut self, page: &Page<'a>) {
        self.acc
            .scan_page(&mut self.pipe, page, self.limit, self.base, 0, 1);
        self.base += page.elements_in_view() as u64;
        self.unreported += u64::from(page.overflow()) + 1;
        if self.unreported >= 4096 {
            (self.progress)(std::mem::take(&mut self.unreported));
        }
    }

    /// A batch another thread read ([`ReadAhead`]), folded as if its pages were read here.
    fn take_read(&mut self, r: &mut ReadAhead<'a>) {
        if let Some(m) = &mut self.acc.model {
            m.take_in(&r.model, self.limit);
        }
        for p in &r.entries {
            self.pipe.push(&mut self.acc.keys, *p, self.limit);
        }
        self.acc.totals.merge(&r.totals);
        self.acc.absorb_problems(r.problem_count, &mut r.problems);
        self.base += r.elements;
        self.unreported += r.pages;
        if self.unreported >= 4096 {
            (self.progress)(std::mem::take(&mut self.unreported));
        }
    }

    fn finish(mut self) -> Keyspace<'a> {
        self.pipe.finish(&mut self.acc.keys, self.limit);
        (self.progress)(self.unreported);
        keyspace_of(&self.bucket, vec![self.acc], self.limit)
    }
}

/// The key bucket's scan fed by the whole-file walk ([`bbolt_reader::walk::walk_with_visitor`]):
/// the walk hands it the key bucket's leaves in batches right after analysing them, so
/// each leaf is read by the scan while it is still in cache. Its result is
/// [`scan_bucket_with_model`]'s when the walk found no damage at all (then the walk's
/// leaves are the tolerant listing's); [`FusedScan::finish`] says which.
pub struct FusedScan<'a, 'p> {
    scan: Option<LeafFold<'a, 'p>>,
    bucket: Bucket<'a>,
    limit: i64,
    progress: &'p (dyn Fn(u64) + Sync),
    /// The key bucket's tree was handed over (as opposed to inline or absent).
    seen: bool,
    /// Leaf views handed over, for the tolerant listing's bound.
    spans: u64,
    span_limit: u64,
    overrun: bool,
}

impl std::fmt::Debug for FusedScan<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FusedScan")
            .field("limit", &self.limit)
            .field("seen", &self.seen)
            .field("overrun", &self.overrun)
            .finish_non_exhaustive()
    }
}

impl<'a, 'p> FusedScan<'a, 'p> {
    /// A scan of `bucket` (the top-level key bucket) with the revision limit `limit`,
    /// gathering the defrag model, on the thread the walk hands it the leaves on. The list
    /// of leaf pages is not kept ([`Keyspace::leaves`]).
    pub fn new(bucket: Bucket<'a>, limit: i64, progress: &'p (dyn Fn(u64) + Sync)) -> Self {
        FusedScan {
            scan: None,
            bucket,
            limit,
            progress,
            seen: false,
            spans: 0,
            span_limit: (bucket.db().data().len() as u64).saturating_mul(2),
            overrun: false,
        }
    }

    /// The keyspace, when the walk that fed it found nothing wrong (`walk_sound`) and
    /// handed over the key bucket's tree; otherwise `None`, and the caller scans the bucket
    /// on its own ([`scan_bucket_with_model`]), whose tolerant listing words the damage.
    pub fn finish(self, walk_sound: bool) -> Option<Keyspace<'a>> {
        if !walk_sound || !self.seen || self.overrun {
            return None;
        }
        self.scan.map(LeafFold::finish)
    }
}

impl<'a> FusedScan<'a, '_> {
    /// [`LeafFold::take_read`], under the same bound on the views handed over as
    /// [`bbolt_reader::walk::LeafVisitor::leaves`].
    fn take_read(&mut self, r: &mut ReadAhead<'a>) {
        let Some(scan) = &mut self.scan else { return };
        if self.overrun {
            return;
        }
        self.spans = self.spans.saturating_add(r.spans);
        if self.spans > self.span_limit {
            self.overrun = true;
            return;
        }
        scan.take_read(r);
    }
}

impl<'a> bbolt_reader::walk::LeafVisitor<'a> for FusedScan<'a, '_> {
    fn wants(&mut self, node: &bbolt_reader::walk::BucketNode<'a>) -> bool {
        if node.nesting != 1 || node.name != super::KEY_BUCKET || self.seen {
            return false;
        }
        self.seen = true;
        self.scan = Some(LeafFold::new(&self.bucket, self.limit, self.progress));
        true
    }

    fn leaves(&mut self, pages: &[Page<'a>]) {
        let Some(scan) = &mut self.scan else { return };
        for p in pages {
            // As the tolerant listing bounds the views; a sound walk never comes near.
            self.spans = self.spans.saturating_add(p.bytes().len() as u64);
            if self.spans > self.span_limit {
                self.overrun = true;
                return;
            }
            scan.page(p);
        }
    }
}

/// Batches of leaves [`PipedScan`]'s queue holds before the walk's thread reads them itself.
const PIPE_DEPTH: usize = 8;

/// Batches waiting in [`PipedScan`]'s queue at which the walk's thread reads the next
/// batch ahead itself ([`ReadAhead`]) instead of queueing its pages.
const READ_AHEAD_BEHIND: usize = 1;

/// Element headers, summed over the batches read ahead and waiting in the queue, past
/// which the walk's thread reads no more ahead: bounds their heap whatever the batches'
/// shape (an element takes 128 bytes until folded, its entry and its defrag model input,
/// so at most about 1 MiB).
const READ_AHEAD_MAX_ELEMENTS: u64 = 1 << 13;
const _: () =
    assert!(std::mem::size_of::<Pending<'static>>() + std::mem::size_of::<ModelInput>() <= 128);

/// Emptied [`ReadAhead`]s [`PipedScan`]'s queue keeps for reuse.
const SPARE_READ_AHEAD: usize = 2;

/// [`FusedScan`] read on a thread of its own while the walk goes on: the walk's thread
/// hands each batch of key-bucket leaves to a queue ([`PipedScan::feeder`]) and goes on
/// walking, and another thread ([`PipedScan::read`]) reads the batches in the order they
/// came, with one shard, as one thread would. Whenever a batch already waits, the walk's
/// thread reads the next batch itself before queueing it, as long as the batches it read
/// and that still wait hold at most `READ_AHEAD_MAX_ELEMENTS` element headers in all: it
/// parses their entries, in file order, into a `ReadAhead` that the reader then only
/// folds into the table in its turn. Reading a leaf (its misses on the mapping) costs
/// more than folding it, so this is what keeps both threads busy; each key's revisions
/// are still folded in file order. Nobody waits at a window: the walk waits only when more
/// than `PIPE_DEPTH` batches are queued, and then reads them itself, so it never waits
/// for a reader that has not started. Batches are folded one at a time under one lock and
/// taken from the queue under it, so the result is the one-thread scan's whichever thread
/// read which batch. Heap beyond the scan's: the queued batches' page views and the
/// bounded batches read ahead.
pub struct PipedScan<'a, 'p> {
    scan: std::sync::Mutex<FusedScan<'a, 'p>>,
    queue: std::sync::Mutex<PipeQueue<'a>>,
    ready: std::sync::Condvar,
    limit: i64,
}

/// A batch of the walk's key-bucket leaves in [`PipedScan`]'s queue.
enum Queued<'a> {
    /// Pages for the reader to read.
    Pages(Vec<Page<'a>>),
    /// Pages the walk's thread read ahead.
    Read(ReadAhead<'a>),
}

/// A batch of leaves read by the walk's thread for [`PipedScan`]'s reader: what reading
/// its pages gives, short of the table, in the order the pages were read.
#[derive(Default)]
struct ReadAhead<'a> {
    /// The entries, in file order, each with its ordinal.
    entries: Vec<Pending<'a>>,
    /// Every readable element for the defrag model, in file order.
    model: Vec<ModelInput>,
    totals: EntryTotals,
    problems: Vec<Problem>,
    problem_count: u64,
    /// Ordinals the batch's pages take.
    elements: u64,
    /// Pages spanned, overflow included (for the progress).
    pages: u64,
    /// Bytes of the pages' views (for the listing's bound).
    spans: u64,
}

#[derive(Default)]
struct PipeQueue<'a> {
    batches: std::collections::VecDeque<Queued<'a>>,
    /// Element headers of the batches read ahead and waiting.
    read_ahead: u64,
    /// Emptied batches, reused so that no batch is allocated per window.
    spare: Vec<Vec<Page<'a>>>,
    /// Emptied batches read ahead, at most `SPARE_READ_AHEAD`.
    spare_read: Vec<ReadAhead<'a>>,
    closed: bool,
}

impl std::fmt::Debug for PipedScan<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipedScan").finish_non_exhaustive()
    }
}

/// The walk's side of a [`PipedScan`]: a [`bbolt_reader::walk::LeafVisitor`] that queues.
#[derive(Debug)]
pub struct PipeFeeder<'s, 'a, 'p> {
    pipe: &'s PipedScan<'a, 'p>,
    /// Ordinal of the next page's first element.
    base: u64,
}

impl<'a, 'p> PipedScan<'a, 'p> {
    /// As [`FusedScan::new`], the leaves read with one shard on whichever thread reads.
    pub fn new(bucket: Bucket<'a>, limit: i64, progress: &'p (dyn Fn(u64) + Sync)) -> Self {
        PipedScan {
            scan: std::sync::Mutex::new(FusedScan::new(bucket, limit, progress)),
            queue: std::sync::Mutex::new(PipeQueue::default()),
            ready: std::sync::Condvar::new(),
            limit,
        }
    }

    /// The visitor to give the walk.
    pub fn feeder(&self) -> PipeFeeder<'_, 'a, 'p> {
        PipeFeeder {
            pipe: self,
            base: 0,
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, PipeQueue<'a>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn scan(&self) -> std::sync::MutexGuard<'_, FusedScan<'a, 'p>> {
        self.scan.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads (or folds) every queued batch, in order, on the calling thread.
    fn drain(&self) {
        let mut scan = self.scan();
        loop {
            let Some(batch) = self.queue().batches.pop_front() else {
                return;
            };
            match batch {
                Queued::Pages(mut pages) => {
                    bbolt_reader::walk::LeafVisitor::leaves(&mut *scan, &pages);
                    pages.clear();
                    self.queue().spare.push(pages);
                }
                Queued::Read(mut r) => {
                    scan.take_read(&mut r);
                    r.entries.clear();
                    r.model.clear();
                    let mut q = self.queue();
                    q.read_ahead = q.read_ahead.saturating_sub(r.elements);
                    // A few are kept for reuse, not as many as were ever read ahead at once:
                    // each keeps the room of the largest batch it held.
                    if q.spare_read.len() < SPARE_READ_AHEAD {
                        q.spare_read.push(r);
                    }
                }
            }
        }
    }

    /// Reads batches as they come until [`PipedScan::close`] and the queue is empty. It
    /// blocks until then, so call it only from a thread other than the walk's (with
    /// `rayon::join_context`, only when the closure migrated): on the walk's own thread it
    /// would wait for itself.
    pub fn read(&self) {
        loop {
            self.drain();
            let mut q = self.queue();
            while q.batches.is_empty() && !q.closed {
                q = self.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            }
            if q.batches.is_empty() {
                return;
            }
        }
    }

    /// No more batches will come (call when the walk is over).
    pub fn close(&self) {
        self.queue().closed = true;
        self.ready.notify_all();
    }

    /// [`FusedScan::finish`], after every batch was read.
    pub fn finish(self, walk_sound: bool) -> Option<Keyspace<'a>> {
        self.drain();
        self.scan
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .finish(walk_sound)
    }
}

impl<'a> PipeFeeder<'_, 'a, '_> {
    /// Reads `pages`, whose first element has ordinal `base` and which take `elements`
    /// ordinals, into `r` (emptied).
    fn read_ahead(&self, pages: &[Page<'a>], base: u64, elements: u64, r: &mut ReadAhead<'a>) {
        let mut acc = Acc {
            model: Some(ModelFold::Log(std::mem::take(&mut r.model))),
            ..Acc::default()
        };
        let mut router = Router {
            out: vec![std::mem::take(&mut r.entries)],
        };
        let mut at = base;
        let (mut spanned, mut spans) = (0u64, 0u64);
        for page in pages {
            acc.scan_page(&mut router, page, self.pipe.limit, at, 0, 1);
            at += page.elements_in_view() as u64;
            spanned += u64::from(page.overflow()) + 1;
            spans = spans.saturating_add(page.bytes().len() as u64);
        }
        r.entries = router.out.pop().unwrap_or_default();
        if let Some(ModelFold::Log(log)) = acc.model {
            r.model = log;
        }
        r.totals = acc.totals;
        r.problems = acc.problems;
        r.problem_count = acc.problem_count;
        r.elements = elements;
        r.pages = spanned;
        r.spans = spans;
    }
}

impl<'a> bbolt_reader::walk::LeafVisitor<'a> for PipeFeeder<'_, 'a, '_> {
    fn wants(&mut self, node: &bbolt_reader::walk::BucketNode<'a>) -> bool {
        self.pipe.scan().wants(node)
    }

    fn leaves(&mut self, pages: &[Page<'a>]) {
        let base = self.base;
        let elements: u64 = pages.iter().map(|p| p.elements_in_view() as u64).sum();
        self.base += elements;
        let spare = {
            let mut q = self.pipe.queue();
            let behind = q.batches.len() >= READ_AHEAD_BEHIND
                && q.read_ahead.saturating_add(elements) <= READ_AHEAD_MAX_ELEMENTS;
            if behind {
                q.read_ahead += elements;
                Some(q.spare_read.pop().unwrap_or_default())
            } else {
                None
            }
        };
        let item = match spare {
            Some(mut r) => {
                self.read_ahead(pages, base, elements, &mut r);
                Queued::Read(r)
            }
            None => {
                let mut batch = self.pipe.queue().spare.pop().unwrap_or_default();
                batch.extend_from_slice(pages);
                Queued::Pages(batch)
            }
        };
        let full = {
            let mut q = self.pipe.queue();
            q.batches.push_back(item);
            q.batches.len() > PIPE_DEPTH
        };
        self.pipe.ready.notify_one();
        if full {
            self.pipe.drain();
        }
    }
}

/// The newest entry of a bucket ordered by revision: its last key, in its rightmost leaf
/// ([`rightmost_leaf`]).
pub fn last_key<'a>(bucket: &Bucket<'a>) -> Result<Option<&'a [u8]>, bbolt_reader::Error> {
    let Some(page) = rightmost_leaf(bucket)? else {
        return Ok(None);
    };
    // Skip a damaged last element rather than fail: take the last readable one.
    Ok((0..page.count())
        .rev()
        .find_map(|i| page.leaf_element(i).ok())
        .map(|el| el.key))
}

/// A bucket's last leaf, found by descending the rightmost branch elements (bounded
/// depth), reading one page per level; `None` when an empty branch or the depth bound
/// ends the descent first.
pub fn rightmost_leaf<'a>(bucket: &Bucket<'a>) -> Result<Option<Page<'a>>, bbolt_reader::Error> {
    let mut page = bucket.root_page()?;
    for _ in 0..bbolt_reader::bucket::MAX_DEPTH {
        if page.is_leaf() {
            return Ok(Some(page));
        }
        if page.count() == 0 {
            return Ok(None);
        }
        let el = page.branch_element(page.count() - 1)?;
        page = bucket.tree_page(el.pgid)?;
    }
    Ok(None)
}

/// The newest main revision in the key bucket (its last entry, read as etcd does with
/// [`rev_lenient`]), or 0 when there is no key bucket or no readable entry.
pub fn newest_revision(db: &bbolt_reader::Db<'_>) -> Result<i64, bbolt_reader::Error> {
    let Some(b) = db.bucket(super::KEY_BUCKET)? else {
        return Ok(0);
    };
    Ok(last_key(&b)?.and_then(rev_lenient).map_or(0, |r| r.main))
}

/// [`scan_keyspace`] over leaf pages already listed (in key order).
///
/// The key table is cut into as many shards as the pool has threads (at most
/// [`MAX_SHARDS`]), by the hash of the user key; each shard's thread reads every page in
/// order and folds only its own keys' entries. The expensive part, the table's random
/// memory accesses, is split between the threads, each key's revisions are folded by one
/// thread in file order (the same fold as on one thread), no key is in two tables and
/// nothing is merged: heap does not grow with the threads, and the result does not depend
/// on their number. What every thread repeats is the cheap part: reading the element and
/// KeyValue headers of pages another thread has just brought into the shared cache.
pub fn scan_leaf_pages<'a>(
    bucket: &Bucket<'a>,
    pages: &[Page<'a>],
    limit: i64,
    progress: &(dyn Fn(u64) + Sync),
) -> Keyspace<'a> {
    let shards = rayon::current_num_threads().clamp(1, MAX_SHARDS);
    let per_chunk = chunk_pages(pages.len());
    // The table grows with the distinct keys, never with the revisions: on a
    // history-heavy member most entries are revisions of keys already seen. A small start
    // costs a few doublings at most, and no pass over the page headers to size it.
    let cap = 1 << 12;
    let accs: Vec<Acc<'a>> = (0..shards)
        .into_par_iter()
        .map(|shard| {
            let mut acc = Acc {
                keys: Shard::with_capacity(cap),
                ..Acc::default()
            };
            let mut pipe = Pipeline::new();
            let mut base = 0u64;
            for chunk in pages.chunks(per_chunk) {
                for p in chunk {
                    acc.scan_page(&mut pipe, p, limit, base, shard, shards);
                    base += p.elements_in_view() as u64;
                }
                if shard == 0 {
                    progress(chunk.len() as u64);
                }
            }
            pipe.finish(&mut acc.keys, limit);
            acc
        })
        .collect();
    keyspace_of(bucket, accs, limit)
}

/// The keyspace of the shards' passes (in shard order).
fn keyspace_of<'a>(bucket: &Bucket<'a>, accs: Vec<Acc<'a>>, limit: i64) -> Keyspace<'a> {
    let mut keys = KeyTable {
        shards: Vec::with_capacity(accs.len()),
    };
    let mut totals = EntryTotals::default();
    let mut problems = Vec::new();
    let mut problem_count = 0;
    let mut element_model = None;
    for mut a in accs {
        if let Some(m) = a.model.and_then(ModelFold::finish) {
            element_model = Some(m);
        }
        a.keys.shrink_to_fit();
        keys.shards.push(a.keys);
        totals.merge(&a.totals);
        problems.extend(a.problems);
        problem_count += a.problem_count;
    }
    problems.sort();
    problems.truncate(MAX_PROBLEMS);
    Keyspace {
        keys,
        totals,
        limit,
        problems,
        problem_count,
        leaf_pages: Vec::new(),
        bucket: Some(*bucket),
        element_model,
    }
}

/// Most shards (threads) [`scan_leaf_pages`] cuts the key table into: each thread reads
/// every page, so past a few threads the repeated reading outweighs the split table.
pub const MAX_SHARDS: usize = 4;

/// For each page, the ordinal of its first element among all leaf elements of `pages`.
///
/// A page takes as many ordinals as element headers fit in it ([`Page::elements_in_view`]):
/// the same as its count on a sound page, and never more than its bytes allow on a forged
/// one (whose count field could claim 65,535 elements on every page).
pub fn element_bases(pages: &[Page<'_>]) -> Vec<u64> {
    let mut n = 0u64;
    pages
        .iter()
        .map(|p| {
            let b = n;
            n += p.elements_in_view() as u64;
            b
        })
        .collect()
}

/// Per-prefix figures (the `prefixes` command's fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PrefixStats {
    /// Distinct user keys.
    pub keys: u64,
    /// Keys whose newest revision is not a tombstone.
    pub live_keys: u64,
    /// Revisions kept in the file (puts and tombstones).
    pub revisions: u64,
    /// Of which tombstones.
    pub tombstones: u64,
    /// User key length summed over every revision.
    pub key_bytes: u64,
    /// User value length summed over every revision.
    pub value_bytes: u64,
    /// Value length of each live key's newest revision.
    pub live_value_bytes: u64,
    /// Live keys whose newest revision is attached to a lease.
    pub leased_keys: u64,
}

impl PrefixStats {
    /// Adds one key.
    pub fn add_key(&mut self, key: &[u8], a: &KeyAcc) {
        self.keys += 1;
        self.revisions += u64::from(a.revisions);
        self.tombstones += u64::from(a.tombstones);
        self.key_bytes += key.len() as u64 * u64::from(a.revisions);
        self.value_bytes += a.value_bytes;
        if a.is_live() {
            self.live_keys += 1;
            self.live_value_bytes += a.newest_value_len;
            if a.newest_lease != 0 {
                self.leased_keys += 1;
            }
        }
    }

    /// Adds another prefix's figures.
    pub fn add(&mut self, o: &PrefixStats) {
        self.keys += o.keys;
        self.live_keys += o.live_keys;
        self.revisions += o.revisions;
        self.tombstones += o.tombstones;
        self.key_bytes += o.key_bytes;
        self.value_bytes += o.value_bytes;
        self.live_value_bytes += o.live_value_bytes;
        self.leased_keys += o.leased_keys;
    }
}

/// Keys of the table [`group_by_prefix`] gives each parallel range at least.
const GROUP_RANGE_MIN: usize = 1 << 14;

/// Groups keys by their prefix at `depth` (only keys starting with `filter`), sorted by
/// value bytes (largest first), then by prefix.
pub fn group_by_prefix<'a>(
    ks: &Keyspace<'a>,
    depth: usize,
    filter: &[u8],
) -> (PrefixStats, Vec<(&'a [u8], PrefixStats)>) {
    // Keyed by the prefix as the table's own copy of the key holds it: the sweep reads the
    // table in order and never the user keys' slices in the mapping, which are scattered
    // over the whole file (only keys longer than the copy are read there). The slice in
    // the mapping of the first key met stands for the prefix in the result. The sums do
    // not depend on the order.
    //
    // With more than one thread the table is cut into a few ranges per thread, each summed
    // into a map of its own; the maps are merged in the ranges' order, so the first key
    // met still stands for each prefix.
    type Groups<'k, 'a> = FastMap<&'k [u8], (&'a [u8], PrefixStats)>;
    //
    // Keys first met one after another mostly share their prefix (objects are made in
    // runs): a run of one prefix is summed on its own and added to the map once.
    let sum = |range: std::ops::Range<usize>| {
        let mut groups: Groups<'_, 'a> = FastMap::default();
        let mut totals = PrefixStats::default();
        fn flush<'k, 'a>(groups: &mut Groups<'k, 'a>, run: (&'k [u8], &'a [u8], PrefixStats)) {
            groups
                .entry(run.0)
                .or_insert_with(|| (run.1, PrefixStats::default()))
                .1
                .add(&run.2);
        }
        let mut run: Option<(&[u8], &'a [u8], PrefixStats)> = None;
        for (local, k, a) in ks.keys.iter_heads_range(range) {
            if !local.starts_with(filter) {
                continue;
            }
            let p = local.prefix_at_depth(depth);
            totals.add_key(k, a);
            match &mut run {
                Some((q, _, st)) if super::fasthash::same_bytes(q, p) => st.add_key(k, a),
                _ => {
                    let mut st = PrefixStats::default();
                    st.add_key(k, a);
                    if let Some(done) = run.replace((p, &k[..p.len()], st)) {
                        flush(&mut groups, done);
                    }
                }
            }
        }
        if let Some(done) = run {
            flush(&mut groups, done);
        }
        (groups, totals)
    };
    let n = ks.keys.len();
    let threads = rayon::current_num_threads();
    let (groups, totals) = if threads > 1 && n >= 4 * GROUP_RANGE_MIN {
        let per = n.div_ceil(threads * 4).max(GROUP_RANGE_MIN);
        let parts: Vec<(Groups<'_, 'a>, PrefixStats)> = (0..n.div_ceil(per))
            .into_par_iter()
            .map(|i| sum(i * per..((i + 1) * per).min(n)))
            .collect();
        let mut parts = parts.into_iter();
        let (mut groups, mut totals) = parts.next().unwrap_or_default();
        for (g, t) in parts {
            totals.add(&t);
            for (p, (k, st)) in g {
                groups
                    .entry(p)
                    .or_insert_with(|| (k, PrefixStats::default()))
                    .1
                    .add(&st);
            }
        }
        (groups, totals)
    } else {
        sum(0..n)
    };
    let mut v: Vec<(&'a [u8], PrefixStats)> = groups.into_values().collect();
    v.sort_by(|a, b| b.1.value_bytes.cmp(&a.1.value_bytes).then(a.0.cmp(b.0)));
    (totals, v)
}

/// What a compaction at the scan's limit would delete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CompactionEffect {
    /// Revisions deleted.
    pub revisions_dropped: u64,
    /// Their bbolt key + value bytes.
    pub bytes_dropped: u64,
    /// bbolt key + value bytes of the entries kept.
    pub bytes_kept: u64,
    /// Entries kept.
    pub entries_kept: u64,
}

impl<'a> Keyspace<'a> {
    /// The keyspace of a db without a key bucket: no key, no limit.
    pub fn empty() -> Self {
        Keyspace {
            keys: Default::default(),
            totals: Default::default(),
            limit: i64::MAX,
            problems: Vec::new(),
            problem_count: 0,
            leaf_pages: Vec::new(),
            bucket: None,
            element_model: None,
        }
    }

    /// Effect of compacting at [`Keyspace::limit`].
    pub fn compaction_effect(&self) -> CompactionEffect {
        let mut e = CompactionEffect::default();
        for a in self.keys.values() {
            let (n, b) = a.compaction_dropped();
            e.revisions_dropped += n;
            e.bytes_dropped += b;
        }
        e.bytes_kept = self.totals.entry_bytes - e.bytes_dropped;
        e.entries_kept = self.totals.entries - e.revisions_dropped;
        e
    }

    /// The key bucket's leaf pages in key order: the scan's list when it kept one, else
    /// the tolerant listing of the bucket (the same pages: a scan drops its list only when
    /// the walk that fed it found the tree sound). For passes that need every leaf, which
    /// the common ones do not (they read elements by [`ElementLoc`]).
    pub fn leaves(&self) -> std::borrow::Cow<'_, [Page<'a>]> {
        match &self.bucket {
            Some(b) if self.leaf_pages.is_empty() && self.totals.leaf_nodes > 0 => {
                std::borrow::Cow::Owned(leaf_pages_tolerant(b).0)
            }
            _ => std::borrow::Cow::Borrowed(&self.leaf_pages),
        }
    }

    /// The leaf element at `loc`, read from the bucket's page (the inline page when the
    /// bucket is inline); `None` when no element of a leaf is there.
    pub fn element(&self, loc: ElementLoc) -> Option<bbolt_reader::LeafElement<'a>> {
        let pgid = loc.pgid()?;
        let bucket = self.bucket.as_ref()?;
        let page = if bucket.is_inline() {
            bucket.root_page().ok().filter(|p| p.pgid() == pgid)?
        } else {
            bucket.db().page(pgid).ok()?
        };
        if !page.is_leaf() {
            return None;
        }
        page.leaf_element(loc.index()).ok()
    }

    /// Hints in what [`Keyspace::element`] will read at `loc`, for a pass that reads many
    /// elements one after another (each a cache miss far from the last): first (`value`
    /// false) the page's header and the element's header, from their addresses alone; then,
    /// some elements later, when those are in cache (`value` true), the first lines of the
    /// element's key and value, found by reading the element as [`Keyspace::element`] does.
    /// An address out of the file is never hinted.
    pub fn prefetch_element(&self, loc: ElementLoc, value: bool) {
        use bbolt_reader::page::{LEAF_ELEMENT_SIZE, PAGE_HEADER_SIZE};
        if value {
            if let Some(el) = self.element(loc) {
                prefetch(el.key.as_ptr());
                for at in (64..el.value.len().min(4 * 64)).step_by(64) {
                    prefetch(el.value[at..].as_ptr());
                }
            }
            return;
        }
        let (Some(pgid), Some(bucket)) = (loc.pgid(), &self.bucket) else {
            return;
        };
        if bucket.is_inline() {
            return;
        }
        let db = bucket.db();
        let data = db.data();
        let Some(start) = usize::try_from(pgid)
            .ok()
            .and_then(|p| p.checked_mul(db.page_size()))
        else {
            return;
        };
        let h = start + PAGE_HEADER_SIZE + loc.index() * LEAF_ELEMENT_SIZE;
        if h + LEAF_ELEMENT_SIZE <= data.len() {
            prefetch(data[start..].as_ptr());
            prefetch(data[h..].as_ptr());
        }
    }

    /// Adds problems found outside the scan (e.g. while listing the leaf pages).
    pub fn add_problems(&mut self, more: Vec<Problem>) {
        self.problem_count += more.len() as u64;
        self.problems.extend(more);
        self.problems.sort();
        self.problems.truncate(MAX_PROBLEMS);
    }

    /// One bit per leaf element of `leaves` (the keyspace's, [`Keyspace::leaves`]; by
    /// ordinal, see [`element_bases`]): set for the entries a compaction at the limit
    /// keeps among those at or below it — each key's newest revision at or below the
    /// limit, when that is not a tombstone. 1 bit per entry.
    pub fn kept_below_limit(&self, leaves: &[Page<'a>]) -> Vec<u64> {
        let slots: u64 = leaves.iter().map(|p| p.elements_in_view() as u64).sum();
        let mut bits: Vec<u64> = bbolt_reader::page::written_zeros(slots.div_ceil(64) as usize);
        for a in self.keys.values() {
            if a.below_count > 0 && !a.below_newest_tombstone {
                let o = a.below_newest_ordinal;
                if let Some(w) = bits.get_mut((o / 64) as usize) {
                    *w |= 1 << (o % 64);
                }
            }
        }
        bits
    }

    /// Number of keys whose newest revision is live.
    pub fn live_keys(&self) -> u64 {
        self.keys.values().filter(|a| a.is_live()).count() as u64
    }

    /// bbolt key + value bytes of the live keys' newest revisions.
    pub fn live_entry_bytes(&self) -> u64 {
        self.keys
            .values()
            .filter(|a| a.is_live())
            .map(|a| a.newest_entry_bytes)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdb::{build, Entry};
    use bbolt_reader::Db;

    #[test]
    fn a_head_key_answers_as_the_whole_key_does() {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for n in [
            0usize,
            1,
            10,
            KEY_HEAD - 1,
            KEY_HEAD,
            KEY_HEAD + 1,
            KEY_HEAD + 30,
        ] {
            // Slashes spread so that some depths end inside the head and some past it.
            keys.push(
                (0..n)
                    .map(|i| {
                        if i % 9 == 0 {
                            b'/'
                        } else {
                            b'a' + (i % 26) as u8
                        }
                    })
                    .collect(),
            );
            keys.push(vec![b'x'; n]);
        }
        for key in &keys {
            let (head, tail) = key.split_at(key.len().min(KEY_HEAD));
            let hk = HeadKey { head, tail, key };
            for depth in 0..8 {
                assert_eq!(
                    hk.prefix_at_depth(depth),
                    crate::prefix_at_depth(key, depth)
                );
            }
            for n in 0..=key.len() + 1 {
                let mut p = key[..n.min(key.len())].to_vec();
                if n > key.len() {
                    p.push(b'/');
                }
                assert_eq!(hk.starts_with(&p), key.starts_with(&p), "{key:?} {p:?}");
                if let Some(last) = p.last_mut() {
                    *last ^= 1;
                    assert_eq!(hk.starts_with(&p), key.starts_with(&p), "{key:?} {p:?}");
                }
            }
        }
    }

    #[test]
    fn places_read_back_in_an_inline_key_bucket_and_in_one_of_its_own() {
        for n in [2usize, 400] {
            let entries: Vec<Entry<'_>> = (0..n)
                .map(|i| (i as i64 + 2, ["a", "b"][i % 2], Some(&b"v"[..]), 0))
                .collect();
            let bytes = build(&entries, None);
            let db = Db::open(&bytes).unwrap();
            let key = db.bucket(b"key").unwrap().unwrap();
            assert_eq!(key.is_inline(), n == 2, "{n} entries");
            let ks = scan_keyspace(&key, i64::MAX, &|_| {}).unwrap();
            for k in [&b"a"[..], b"b"] {
                let a = ks.keys.get(k).unwrap();
                let el = ks.element(a.newest_loc).unwrap();
                let rk = parse_rev_key(el.key).unwrap();
                assert_eq!(rk.rev, a.newest, "{n} entries");
                assert_eq!(KeyValueRef::parse(el.value).unwrap().key, k);
                assert_eq!(ks.element(a.newest_put_loc), Some(el));
            }
            // The same places, with the list of leaves dropped and listed again.
            let mut dropped = scan_keyspace(&key, i64::MAX, &|_| {}).unwrap();
            let kept: Vec<u64> = dropped.leaf_pages.iter().map(|p| p.pgid()).collect();
            dropped.leaf_pages.clear();
            let listed: Vec<u64> = dropped.leaves().iter().map(|p| p.pgid()).collect();
            assert_eq!(listed, kept);
        }
    }

    const ENTRIES: [Entry<'static>; 9] = [
        (2, "/registry/pods/default/a", Some(b"pod-a-1"), 0),
        (3, "/registry/events/default/e1", Some(b"event-1"), 0x55),
        (4, "/registry/pods/default/a", Some(b"pod-a-2-longer"), 0),
        (5, "/registry/pods/default/b", Some(b"pod-b"), 0),
        (6, "/registry/pods/default/b", None, 0),
        (7, "/registry/events/default/e2", Some(b"event-2"), 0x55),
        (8, "compact_rev_key", Some(b"7"), 0),
        (9, "/registry/pods/default/a", Some(b"pod-a-3"), 0),
        (10, "compact_rev_key", Some(b"9"), 0),
    ];

    fn scan(db: &[u8], limit: i64, threads: usize) -> Keyspace<'_> {
        let db = Db::open(db).unwrap();
        let b = db.bucket(b"key").unwrap().unwrap();
        let pool = crate::testdb::pool(threads);
        pool.install(|| scan_keyspace(&b, limit, &|_| {})).unwrap()
    }

    #[test]
    fn per_prefix_figures_follow_the_definitions() {
        let db = build(&ENTRIES, None);
        let ks = scan(&db, i64::MAX, 1);
        assert!(ks.leaf_pages.len() > 1, "small pages spread the entries");
        let (totals, groups) = group_by_prefix(&ks, 3, b"");
        let get = |p: &str| {
            groups
                .iter()
                .find(|g| g.0 == p.as_bytes())
                .unwrap()
                .1
                .clone()
        };
        let pods = get("/registry/pods/");
        assert_eq!(pods.keys, 2);
        assert_eq!(pods.live_keys, 1);
        assert_eq!(pods.revisions, 5);
        assert_eq!(pods.tombstones, 1);
        assert_eq!(pods.key_bytes, 24 * 5);
        assert_eq!(pods.value_bytes, 7 + 14 + 5 + 7);
        assert_eq!(pods.live_value_bytes, 7);
        let events = get("/registry/events/");
        assert_eq!((events.live_keys, events.leased_keys), (2, 2));
        let none = get("");
        assert_eq!(
            (none.keys, none.revisions, none.live_value_bytes),
            (1, 2, 1)
        );
        assert_eq!(totals.revisions, 9);
        assert_eq!(ks.totals.max_rev, Some(Revision::new(10, 0)));
        // Sorted by value bytes, largest first.
        assert_eq!(groups[0].0, b"/registry/pods/");
        // The prefix filter counts only keys under it.
        let (t, g) = group_by_prefix(&ks, 4, b"/registry/events/");
        assert_eq!((t.keys, g.len()), (2, 1));
        assert_eq!(g[0].0, b"/registry/events/default/");
    }

    #[test]
    fn prefix_groups_summed_in_parallel_ranges_equal_the_single_sweep() {
        // Enough keys for the parallel ranges (4 x GROUP_RANGE_MIN), over prefixes that
        // recur in every range, a few deleted, some written twice.
        let names: Vec<String> = (0..5 * GROUP_RANGE_MIN)
            .map(|i| {
                format!(
                    "/registry/{}/ns-{}/k{i}",
                    ["pods", "leases", "events"][i % 3],
                    i % 7
                )
            })
            .chain((0..3000).map(|i| format!("/registry/pods/ns-{}/k{}", i % 7, 3 * i)))
            .collect();
        let entries = crate::testdb::one_revision_each(&names, b"v", |i| i % 11 == 0);
        let db = build(&entries, None);
        let ks = scan(&db, i64::MAX, 1);
        assert!(ks.keys.len() >= 4 * GROUP_RANGE_MIN);
        for depth in [1, 3, 4, 9] {
            let one = crate::testdb::pool(1).install(|| group_by_prefix(&ks, depth, b""));
            for threads in [2, 3, 4] {
                let many =
                    crate::testdb::pool(threads).install(|| group_by_prefix(&ks, depth, b""));
                assert_eq!(many, one, "depth {depth}, {threads} threads");
            }
        }
    }

    #[test]
    fn compaction_drops_superseded_revisions_and_tombstoned_keys() {
        let db = build(&ENTRIES, None);
        // At 6: /a keeps 4 (drops 2), /b's newest <= 6 is a delete (drops 5 and 6),
        // events and compact_rev_key have one revision each <= 6.
        let ks = scan(&db, 6, 1);
        let e = ks.compaction_effect();
        assert_eq!(e.revisions_dropped, 3);
        assert_eq!(e.entries_kept, 6);
        // The kept-entry bitmap marks exactly the newest revision <= 6 of live keys.
        let bits = ks.kept_below_limit(&ks.leaves());
        let kept: Vec<u64> = (0..9).filter(|o| bits[0] & (1 << o) != 0).collect();
        assert_eq!(kept, vec![1, 2]); // ordinals of revisions 3 and 4
    }

    #[test]
    fn the_canonical_keyvalue_fast_path_agrees_with_the_general_parser_on_any_bytes() {
        use crate::kv::KeyValue;
        let samples: Vec<Vec<u8>> = [
            (
                b"/registry/leases/kube-node-lease/n1".to_vec(),
                5,
                9,
                3,
                vec![7u8; 300],
                0x694d_8a2b_1c3e_0001,
            ),
            (b"/a".to_vec(), 0, 0, 0, Vec::new(), 0),
            (
                b"/registry/events/e".to_vec(),
                1 << 40,
                i64::MAX,
                1,
                b"v".to_vec(),
                -1,
            ),
            (vec![b'k'; 200], 2, 2, 1, vec![1u8; 5000], 0),
        ]
        .into_iter()
        .map(|(key, c, m, v, value, lease)| {
            KeyValue {
                key,
                create_revision: c,
                mod_revision: m,
                version: v,
                value,
                lease,
            }
            .encode_to_vec_etcd()
        })
        .collect();
        fn general(b: &[u8]) -> Option<KvFields<'_>> {
            KeyValueRef::parse(b).ok().map(|kv| KvFields {
                key: kv.key,
                value: kv.value,
                lease: kv.lease,
            })
        }
        let mut fast_hits = 0;
        let mut check = |b: &[u8]| {
            if let Some(f) = kv_fields_canonical(b) {
                fast_hits += 1;
                assert_eq!(Some(f), general(b), "{b:02x?}");
            }
        };
        for s in &samples {
            check(s);
            for cut in 0..s.len() {
                check(&s[..cut]);
            }
            for i in 0..s.len().min(64) {
                for x in [0u8, 0x0a, 0x10, 0x2a, 0x30, 0x7f, 0x80, 0xff] {
                    let mut m = s.clone();
                    m[i] = x;
                    check(&m);
                }
            }
            // A second key field after the value: proto3 takes the last, so the fast path
            // must not read this layout.
            let mut twice = s.clone();
            twice.extend_from_slice(&[0x0a, 1, b'z']);
            assert_eq!(kv_fields_canonical(&twice), None);
        }
        assert!(
            fast_hits >= samples.len(),
            "the fast path reads etcd's layout"
        );
        // The lease of -1 is a 10-byte varint: left to the general parser, same result.
        assert_eq!(kv_fields_canonical(&samples[2]), None);
        assert!(general(&samples[2]).is_some());
    }

    #[test]
    fn keys_sharing_the_inline_head_stay_distinct_in_the_key_table() {
        let long = |tail: &str| format!("/registry/{}/{tail}", "x".repeat(KEY_HEAD));
        let (a, b, c) = (long("a"), long("b"), long("ab"));
        let short = "/registry/pods/p";
        let mut t = KeyTable::with_capacity(2);
        for (k, n) in [(&a, 3), (&b, 2), (&c, 1)] {
            for _ in 0..n {
                t.entry(k.as_bytes()).revisions += 1;
            }
        }
        t.entry(short.as_bytes()).revisions += 5;
        assert_eq!(t.len(), 4);
        assert_eq!(t.get(a.as_bytes()).map(|x| x.revisions), Some(3));
        assert_eq!(t.get(b.as_bytes()).map(|x| x.revisions), Some(2));
        assert_eq!(t.get(c.as_bytes()).map(|x| x.revisions), Some(1));
        assert_eq!(t.get(short.as_bytes()).map(|x| x.revisions), Some(5));
        assert_eq!(
            t.get(&a.as_bytes()[..KEY_HEAD]),
            None,
            "a head alone is not the key"
        );
        assert_eq!(t.get(b"/registry/pods/q"), None);
    }

    #[test]
    fn results_are_the_same_for_any_thread_count() {
        let db = build(&ENTRIES, None);
        let one = scan(&db, 7, 1);
        for threads in [2, 3, 5] {
            let n = scan(&db, 7, threads);
            assert_eq!(n.totals, one.totals);
            assert_eq!(n.keys, one.keys);
            assert_eq!(n.compaction_effect(), one.compaction_effect());
            assert_eq!(
                n.kept_below_limit(&n.leaves()),
                one.kept_below_limit(&one.leaves())
            );
        }
    }

    #[test]
    fn the_one_pass_walk_and_scan_equals_listing_then_scanning_on_sound_and_damaged_trees() {
        let names = crate::testdb::cycled_names("/registry/pods/p", 3, 300, 37);
        let entries = crate::testdb::one_revision_each(&names, b"value", |i| i % 13 == 4);
        let sound = build(&entries, None);
        // Damaged: one leaf's element count is forged and a branch element points past the
        // end of the file.
        let mut damaged = sound.clone();
        let (ps, leaves, branch) = {
            let db = Db::open(&sound).unwrap();
            let key = db.bucket(b"key").unwrap().unwrap();
            let leaves: Vec<u64> = key.leaf_pages().unwrap().iter().map(|p| p.pgid()).collect();
            (db.page_size(), leaves, key.root_pgid().unwrap())
        };
        assert!(leaves.len() > 8, "{} leaves", leaves.len());
        crate::testdb::forge_element_count(&mut damaged, ps, leaves[3]);
        let el = branch as usize * ps + 16 + 16 + 8; // second branch element's pgid
        damaged[el..el + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        for bytes in [&sound, &damaged] {
            let db = Db::open(bytes).unwrap();
            let key = db.bucket(b"key").unwrap().unwrap();
            let (pages, damage) = leaf_pages_tolerant(&key);
            let mut want = scan_leaf_pages(&key, &pages, 150, &|_| {});
            want.leaf_pages = pages;
            want.add_problems(damage);
            assert_eq!(want.problem_count > 0, std::ptr::eq(bytes, &damaged));
            for threads in [1, 2, 3] {
                let pool = crate::testdb::pool(threads);
                let got = pool.install(|| scan_bucket(&key, 150, true, &|_| {}));
                assert_eq!(got.keys, want.keys, "{threads} threads");
                assert_eq!(got.totals, want.totals);
                assert_eq!(got.problems, want.problems);
                assert_eq!(got.problem_count, want.problem_count);
                let ids =
                    |k: &Keyspace<'_>| k.leaf_pages.iter().map(|p| p.pgid()).collect::<Vec<_>>();
                assert_eq!(ids(&got), ids(&want));
            }
        }
    }

    #[test]
    fn undecodable_entries_are_counted_with_their_place() {
        let opts = bbolt_writer::Options {
            page_size: 512,
            ..Default::default()
        };
        let mut w = bbolt_writer::BoltWriter::new(std::io::Cursor::new(Vec::new()), opts).unwrap();
        w.begin_bucket(b"key").unwrap();
        w.put(&Revision::new(2, 0).to_bytes(), &[0x0a, 0x7f, b'x'])
            .unwrap(); // length past end
        let good = crate::testdb::encode(&(4, "/ok", Some(b"v"), 0));
        w.put(&Revision::new(4, 0).to_bytes(), &good.1).unwrap();
        w.put(b"not-a-revision", b"").unwrap(); // sorts after the binary revision keys
        w.end_bucket().unwrap();
        let db = w.finish().unwrap().0.into_inner();
        let ks = scan(&db, i64::MAX, 2);
        assert_eq!(ks.totals.malformed, 2);
        assert_eq!(ks.totals.entries, 1);
        assert_eq!(ks.problem_count, 2);
        assert!(ks.problems.iter().any(|p| p.what.contains("KeyValue")));
    }

    #[test]
    fn leaves_claiming_overflow_to_the_end_of_the_file_stop_the_listing() {
        // 200 revisions over 512-byte pages: many leaves. Each leaf then claims to span to
        // the end of the file, so reading every listed leaf in full would read the file
        // once per leaf; the strict listing fails and the tolerant one stops at twice the
        // file, with a problem naming where.
        let names = crate::testdb::cycled_names("/registry/pods/p", 3, 200, 200);
        let entries = crate::testdb::one_revision_each(&names, b"value", |_| false);
        let mut bytes = build(&entries, None);
        let (ps, leaves) = crate::testdb::key_leaves(&bytes);
        assert!(leaves.len() > 8, "{} leaves", leaves.len());
        for &pgid in &leaves {
            let off = pgid as usize * ps + 12;
            bytes[off..off + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        }
        let db = Db::open(&bytes).unwrap();
        let key = db.bucket(b"key").unwrap().unwrap();
        assert!(key.leaf_pages().is_err());
        let (pages, problems) = leaf_pages_tolerant(&key);
        let read: u64 = pages.iter().map(|p| p.bytes().len() as u64).sum();
        assert!(read <= 2 * bytes.len() as u64, "{read} bytes listed");
        assert!(
            problems.iter().any(|p| p.what.contains("twice the file")),
            "{problems:?}"
        );
        let _ = scan_leaf_pages(&key, &pages, i64::MAX, &|_| {});
    }

    #[test]
    fn the_piped_scan_read_beside_the_walk_or_by_the_walk_alone_with_batches_read_ahead_equals_the_one_thread_fused_scan(
    ) {
        let names = crate::testdb::cycled_names("/registry/leases/l", 3, 600, 53);
        let entries = crate::testdb::one_revision_each(&names, b"renewed", |i| i % 11 == 2);
        // Every 97th value is no KeyValue: problems too are read ahead and merged.
        let bytes = crate::testdb::build_with_values(&entries, None, |i, v| {
            if i % 97 == 5 {
                b"\xff\x01".to_vec()
            } else {
                v
            }
        });
        let db = Db::open(&bytes).unwrap();
        let key = db.bucket(b"key").unwrap().unwrap();
        let pages = key.leaf_pages().unwrap();
        let walk = bbolt_reader::walk(&db);
        let node = walk
            .buckets
            .iter()
            .find(|b| b.nesting == 1 && b.name == b"key")
            .unwrap();
        // Batches of 3 leaves: more than the queue holds, so with no reader running the
        // walk's side reads some ahead and folds them all itself.
        assert!(pages.len() > 3 * (PIPE_DEPTH + 2), "{} leaves", pages.len());
        use bbolt_reader::walk::LeafVisitor;
        let mut one = FusedScan::new(key, 150, &|_| {});
        assert!(one.wants(node));
        for batch in pages.chunks(3) {
            one.leaves(batch);
        }
        let want = one.finish(true).unwrap();
        let alone = PipedScan::new(key, 150, &|_| {});
        let mut feeder = alone.feeder();
        assert!(feeder.wants(node));
        let mut read_ahead = 0;
        for batch in pages.chunks(3) {
            feeder.leaves(batch);
            let q = alone.queue();
            assert!(q.batches.len() <= PIPE_DEPTH);
            assert!(q.read_ahead <= READ_AHEAD_MAX_ELEMENTS);
            read_ahead += q
                .batches
                .iter()
                .filter(|b| matches!(b, Queued::Read(_)))
                .count();
        }
        assert!(read_ahead > 0, "no batch was read ahead");
        alone.close();
        alone.read();
        let beside = PipedScan::new(key, 150, &|_| {});
        crate::testdb::pool(2).install(|| {
            rayon::join(
                || {
                    let mut feeder = beside.feeder();
                    assert!(feeder.wants(node));
                    for batch in pages.chunks(3) {
                        feeder.leaves(batch);
                    }
                    beside.close();
                },
                || beside.read(),
            )
        });
        assert!(want.problem_count >= 6, "{:?}", want.problems);
        for got in [alone.finish(true).unwrap(), beside.finish(true).unwrap()] {
            assert_eq!(got.problem_count, want.problem_count);
            assert_eq!(got.keys, want.keys);
            assert_eq!(got.totals, want.totals);
            assert_eq!(got.problems, want.problems);
            assert_eq!(got.element_model, want.element_model);
            assert_eq!(
                got.kept_below_limit(&got.leaves()),
                want.kept_below_limit(&want.leaves())
            );
            let ids = |k: &Keyspace<'_>| k.leaf_pages.iter().map(|p| p.pgid()).collect::<Vec<_>>();
            assert_eq!(ids(&got), ids(&want));
        }
    }

    #[test]
    fn the_split_scan_reads_each_window_once_and_equals_the_listed_scan_on_any_threads_even_run_one_after_another(
    ) {
        let names = crate::testdb::cycled_names("/registry/leases/l", 4, 12000, 307);
        let entries = crate::testdb::one_revision_each(&names, b"renewed", |i| i % 17 == 3);
        let sound = build(&entries, None);
        let (ps, leaves) = crate::testdb::key_leaves(&sound);
        assert!(leaves.len() > 4 * SPLIT_WINDOW, "{} leaves", leaves.len());
        // Damaged: a leaf's element count forged in the third window.
        let mut damaged = sound.clone();
        crate::testdb::forge_element_count(&mut damaged, ps, leaves[2 * SPLIT_WINDOW + 7]);
        for bytes in [&sound, &damaged] {
            let db = Db::open(bytes).unwrap();
            let key = db.bucket(b"key").unwrap().unwrap();
            let (pages, damage) = leaf_pages_tolerant(&key);
            let mut want = scan_leaf_pages(&key, &pages, 5000, &|_| {});
            want.leaf_pages = pages.clone();
            want.add_problems(damage);
            let read = std::sync::atomic::AtomicU64::new(0);
            let count = |n: u64| {
                read.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
            };
            // Two and three threads; and three shards on one thread, which runs the
            // shards' walks one after another.
            for (threads, shards) in [(2, 2), (3, 3), (1, 3)] {
                read.store(0, std::sync::atomic::Ordering::SeqCst);
                let pool = crate::testdb::pool(threads);
                let got = pool.install(|| split_scan(&key, 5000, true, shards, &count));
                assert_eq!(got.keys, want.keys, "{threads} threads, {shards} shards");
                assert_eq!(got.totals, want.totals);
                assert_eq!(got.problems, want.problems);
                assert_eq!(got.problem_count, want.problem_count);
                assert_eq!(
                    got.kept_below_limit(&got.leaves()),
                    want.kept_below_limit(&want.leaves())
                );
                let ids = |p: &[Page<'_>]| p.iter().map(|p| p.pgid()).collect::<Vec<_>>();
                assert_eq!(ids(&got.leaf_pages), ids(&pages));
                // Each page read once: the progress counts every page of the leaves once.
                let span: u64 = pages.iter().map(|p| u64::from(p.overflow()) + 1).sum();
                assert_eq!(read.load(std::sync::atomic::Ordering::SeqCst), span);
            }
        }
    }

    #[test]
    fn forged_element_counts_do_not_size_the_kept_bitmap() {
        // Every leaf claims 65,535 elements: ordinals and the kept bitmap follow the
        // element headers that fit in each page, not the claimed count.
        let names = crate::testdb::cycled_names("/registry/pods/p", 3, 100, 100);
        let entries = crate::testdb::one_revision_each(&names, b"value", |_| false);
        let mut bytes = build(&entries, None);
        let (ps, leaves) = crate::testdb::key_leaves(&bytes);
        for &pgid in &leaves {
            crate::testdb::forge_element_count(&mut bytes, ps, pgid);
        }
        let ks = scan(&bytes, i64::MAX, 2);
        let bits = ks.kept_below_limit(&ks.leaves());
        let headers_that_fit = leaves.len() * (ps - 16) / 16;
        assert!(
            bits.len() * 64 <= headers_that_fit + 64,
            "{} words",
            bits.len()
        );
        assert!(ks.problem_count > 0);
    }
}
