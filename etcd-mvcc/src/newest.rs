//! Per user key, its newest revision: the table behind HashKV's keep set, the keyspace at a
//! revision (`export`) and the live-key count of `status`.
//!
//! The key bucket is ordered by revision, so the revisions of one user key are spread over
//! the whole file, and a map keyed by slices of the mapping compares every hit against
//! bytes read long ago (a cache and TLB miss per revision on a history-heavy member). Here
//! each distinct key is copied once into its record: its first [`KEY_HEAD`] bytes inline,
//! beside the hash, the length and the newest revision; the rest (rare for Kubernetes
//! keys) into an arena. A look-up hashes the key just read, probes a small index of record
//! numbers and checks hash, length and copy, all in the record the update then writes; the
//! far slice is never read again. Memory grows with the distinct keys (one record, the
//! arena bytes, a 4-byte index slot), never with the revisions; it is allocated as keys
//! are met, never sized by a count read from the file.

/// Bytes of a key kept inline in its record; typical Kubernetes keys fit.
pub const KEY_HEAD: usize = 48;

/// One key's newest revision: its main and sub revision, whether it is a tombstone, and
/// what the caller keeps with it (the encoded KeyValue for `export`, nothing for a count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Newest<P> {
    /// Main revision.
    pub main: i64,
    /// Sub revision.
    pub sub: i64,
    /// The revision deleted the key (an 18-byte revision key).
    pub tombstone: bool,
    /// Carried with the revision.
    pub payload: P,
}

impl<P> Newest<P> {
    /// The revision of a key-bucket entry, carrying `payload`.
    #[inline]
    pub fn of(rk: &crate::revision::RevKey, payload: P) -> Self {
        Newest {
            main: rk.rev.main,
            sub: rk.rev.sub,
            tombstone: rk.tombstone,
            payload,
        }
    }

    /// The order etcd's key index gives revisions: by main, then sub; at one revision a
    /// tombstone after a put (only a forged file has both).
    #[inline]
    fn order(&self) -> (i64, i64, bool) {
        (self.main, self.sub, self.tombstone)
    }

    /// True when `self` is newer than `o`.
    #[inline]
    pub fn newer_than(&self, o: &Newest<P>) -> bool {
        self.order() > o.order()
    }
}

#[derive(Debug)]
struct Rec<'a, P> {
    hash: u64,
    head: [u8; KEY_HEAD],
    /// Where the key's bytes past the head start in the arena.
    tail_at: usize,
    /// The key in the mapping, handed back to callers: the slice of the newest revision
    /// offered.
    key: &'a [u8],
    newest: Newest<P>,
}

impl<P> Rec<'_, P> {
    /// Whether this record is `key`'s, reading only the record and the arena.
    #[inline]
    fn holds(&self, key: &[u8], hash: u64, arena: &[u8]) -> bool {
        if self.hash != hash || self.key.len() != key.len() {
            return false;
        }
        let n = key.len().min(KEY_HEAD);
        self.head[..n] == key[..n]
            && (key.len() <= KEY_HEAD
                || arena.get(self.tail_at..self.tail_at + (key.len() - KEY_HEAD))
                    == Some(&key[KEY_HEAD..]))
    }
}

/// The hash of a user key for [`NewestTable`].
#[inline]
pub fn key_hash(key: &[u8]) -> u64 {
    use std::hash::Hasher as _;
    let mut h = super::fasthash::FastHasher::default();
    h.write(key);
    h.finish()
}

/// Offers gathered before they are applied together ([`NewestTable::offer_all`]).
pub const BATCH: usize = 32;

/// One pending offer: the key, its [`key_hash`] and the revision.
pub type Offer<'a, P> = (&'a [u8], u64, Newest<P>);

/// Per user key (borrowed from the mapping), the newest revision offered.
///
/// The index is open addressing over 8-byte slots (the hash's high half as a tag, the
/// record number plus one; 0 is empty), at most half full. A table of this size lives in
/// the last-level cache or beyond, so a look-up is two misses (slot, record) that a lone
/// look-up waits for in turn; [`NewestTable::offer_all`] first reads the slots and then
/// the records of a whole batch, so that the misses of a batch overlap, and then applies
/// the offers one by one.
#[derive(Debug)]
pub struct NewestTable<'a, P> {
    slots: Vec<u64>,
    recs: Vec<Rec<'a, P>>,
    arena: Vec<u8>,
}

impl<P> Default for NewestTable<'_, P> {
    fn default() -> Self {
        NewestTable {
            slots: Vec::new(),
            recs: Vec::new(),
            arena: Vec::new(),
        }
    }
}

#[inline]
fn tag(hash: u64) -> u64 {
    hash & 0xffff_ffff_0000_0000
}

impl<'a, P: Copy> NewestTable<'a, P> {
    /// Keeps `cand` for `key` when the key is new or `cand` is newer than what it holds.
    #[inline]
    pub fn offer(&mut self, key: &'a [u8], cand: Newest<P>) {
        self.offer_hashed(key, key_hash(key), cand);
    }

    /// Applies `offers` in order, as [`NewestTable::offer`] each, and empties it.
    pub fn offer_all(&mut self, offers: &mut Vec<Offer<'a, P>>) {
        if !self.slots.is_empty() {
            // Touch every slot, then every candidate record, of the batch first: loads
            // that do not depend on each other, so their cache misses overlap.
            let mask = self.slots.len() - 1;
            let mut sink = 0u64;
            for &(_, h, _) in offers.iter() {
                sink ^= self.slots[h as usize & mask];
            }
            for &(_, h, _) in offers.iter() {
                let w = self.slots[h as usize & mask];
                if w != 0 && tag(w) == tag(h) {
                    if let Some(r) = self.recs.get((w as u32 as usize).wrapping_sub(1)) {
                        sink ^= r.hash ^ u64::from(r.head[0]);
                    }
                }
            }
            std::hint::black_box(sink);
        }
        for &(k, h, n) in offers.iter() {
            self.offer_hashed(k, h, n);
        }
        offers.clear();
    }

    /// The record number of `key`, or the empty slot where it would go.
    #[inline]
    fn find(&self, key: &[u8], hash: u64) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut pos = hash as usize & mask;
        loop {
            let w = self.slots[pos];
            if w == 0 {
                return Err(pos);
            }
            if tag(w) == tag(hash) {
                let i = (w as u32 as usize) - 1;
                if self.recs[i].holds(key, hash, &self.arena) {
                    return Ok(i);
                }
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Doubles the index (keeping it at most half full).
    fn grow(&mut self) {
        let n = (self.slots.len() * 2).max(64);
        let mut slots: Vec<u64> = bbolt_reader::page::written_zeros(n);
        let mask = n - 1;
        for (i, r) in self.recs.iter().enumerate() {
            let mut pos = r.hash as usize & mask;
            while slots[pos] != 0 {
                pos = (pos + 1) & mask;
            }
            slots[pos] = tag(r.hash) | (i as u64 + 1);
        }
        self.slots = slots;
    }

    #[inline]
    fn offer_hashed(&mut self, key: &'a [u8], hash: u64, cand: Newest<P>) {
        if (self.recs.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        match self.find(key, hash) {
            Ok(i) => {
                let r = &mut self.recs[i];
                if cand.newer_than(&r.newest) {
                    r.newest = cand;
                    // Same bytes; the newest entry's own slice lets a caller that meets
                    // that entry again recognise it by address.
                    r.key = key;
                }
            }
            Err(pos) => {
                // More distinct keys than u32 counts would need a db of hundreds of GiB
                // of keys alone; such keys are left out rather than wrapping.
                let Ok(i) = u32::try_from(self.recs.len() + 1) else {
                    return;
                };
                let n = key.len().min(KEY_HEAD);
                let mut head = [0u8; KEY_HEAD];
                head[..n].copy_from_slice(&key[..n]);
                self.recs.push(Rec {
                    hash,
                    head,
                    tail_at: self.arena.len(),
                    key,
                    newest: cand,
                });
                self.arena.extend_from_slice(&key[n..]);
                self.slots[pos] = tag(hash) | u64::from(i);
            }
        }
    }

    /// The newest revision of `key`, if it was offered one.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&Newest<P>> {
        if self.slots.is_empty() {
            return None;
        }
        self.find(key, key_hash(key))
            .ok()
            .map(|i| &self.recs[i].newest)
    }

    /// Folds `o` in: per key the newer of the two.
    pub fn merge(&mut self, o: NewestTable<'a, P>) {
        let mut batch = Vec::with_capacity(BATCH);
        for r in o.recs {
            batch.push((r.key, r.hash, r.newest));
            if batch.len() == BATCH {
                self.offer_all(&mut batch);
            }
        }
        self.offer_all(&mut batch);
    }

    /// The larger of `a` and `b` with the other folded in (for parallel reductions).
    pub fn merged(a: Self, b: Self) -> Self {
        let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
        big.merge(small);
        big
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    /// True when no key was offered.
    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// Every key with its newest revision, in the order keys were first met.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &Newest<P>)> + '_ {
        self.recs.iter().map(|r| (r.key, &r.newest))
    }

    /// Every key with its first [`KEY_HEAD`] bytes as copied into the table (memory
    /// already near the record, unlike the key in the mapping) and its newest revision.
    pub fn iter_heads(&self) -> impl Iterator<Item = (&'a [u8], &[u8], &Newest<P>)> + '_ {
        self.recs
            .iter()
            .map(|r| (r.key, &r.head[..r.key.len().min(KEY_HEAD)], &r.newest))
    }

    /// Every newest revision.
    pub fn values(&self) -> impl Iterator<Item = &Newest<P>> + '_ {
        self.recs.iter().map(|r| &r.newest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(main: i64, tombstone: bool) -> Newest<()> {
        Newest {
            main,
            sub: 0,
            tombstone,
            payload: (),
        }
    }

    #[test]
    fn the_newest_revision_wins_whatever_the_order_offered() {
        let long_a = [b'a'; 100];
        let mut long_b = [b'a'; 100];
        long_b[99] = b'b';
        let mut t = NewestTable::default();
        t.offer(b"/k", n(5, false));
        t.offer(b"/k", n(3, false));
        t.offer(&long_a, n(2, false));
        t.offer(&long_b, n(4, true));
        t.offer(&long_a, n(7, true));
        assert_eq!(t.len(), 3);
        assert_eq!(t.get(b"/k"), Some(&n(5, false)));
        assert_eq!(t.get(&long_a), Some(&n(7, true)));
        assert_eq!(t.get(&long_b), Some(&n(4, true)));
        assert_eq!(t.get(b"/other"), None);
        assert_eq!(NewestTable::<()>::default().get(b"/k"), None);
    }

    #[test]
    fn batched_offers_equal_single_offers_in_order() {
        let keys: Vec<Vec<u8>> = (0..500u32)
            .map(|i| format!("/registry/events/ns-{}/e-{}", i % 7, i % 173).into_bytes())
            .collect();
        let mut one = NewestTable::default();
        let mut many = NewestTable::default();
        let mut batch = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let v = n((i as i64 * 37) % 211, i % 3 == 0);
            one.offer(k, v);
            batch.push((k.as_slice(), key_hash(k), v));
            if batch.len() == BATCH || i % 50 == 0 {
                many.offer_all(&mut batch);
            }
        }
        many.offer_all(&mut batch);
        assert!(batch.is_empty());
        assert_eq!(one.len(), many.len());
        for (k, v) in one.iter() {
            assert_eq!(many.get(k), Some(v));
        }
    }

    #[test]
    fn keys_sharing_the_inline_head_stay_apart() {
        // Keys longer than the head that differ only past it, and keys that are prefixes
        // of each other, are distinct records.
        let keys: Vec<Vec<u8>> = (0..200u32)
            .map(|i| {
                let mut k = vec![b'/'; KEY_HEAD];
                k.extend_from_slice(format!("{i}").as_bytes());
                k
            })
            .chain([b"/a".to_vec(), b"/a/".to_vec(), b"".to_vec()])
            .collect();
        let mut t = NewestTable::default();
        for (i, k) in keys.iter().enumerate() {
            t.offer(k, n(i as i64, false));
        }
        assert_eq!(t.len(), keys.len());
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(t.get(k).map(|v| v.main), Some(i as i64));
        }
    }

    #[test]
    fn merged_tables_equal_one_table_over_everything() {
        let mut a = NewestTable::default();
        let mut b = NewestTable::default();
        let mut whole = NewestTable::default();
        for i in 0..1000i64 {
            let key: &'static [u8] = Box::leak(format!("/k{}", i % 37).into_bytes().into());
            let v = n(i * 7 % 1000, i % 5 == 0);
            whole.offer(key, v);
            if i % 2 == 0 {
                a.offer(key, v);
            } else {
                b.offer(key, v);
            }
        }
        let m = NewestTable::merged(a, b);
        assert_eq!(m.len(), whole.len());
        for (k, v) in whole.iter() {
            assert_eq!(m.get(k), Some(v));
        }
    }
}
