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

use hashbrown::HashTable;

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
    /// The key in the mapping, handed back to callers.
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

/// Per user key (borrowed from the mapping), the newest revision offered.
#[derive(Debug)]
pub struct NewestTable<'a, P> {
    index: HashTable<u32>,
    recs: Vec<Rec<'a, P>>,
    arena: Vec<u8>,
}

impl<P> Default for NewestTable<'_, P> {
    fn default() -> Self {
        NewestTable {
            index: HashTable::new(),
            recs: Vec::new(),
            arena: Vec::new(),
        }
    }
}

impl<'a, P: Copy> NewestTable<'a, P> {
    /// Keeps `cand` for `key` when the key is new or `cand` is newer than what it holds.
    #[inline]
    pub fn offer(&mut self, key: &'a [u8], cand: Newest<P>) {
        self.offer_hashed(key, key_hash(key), cand);
    }

    #[inline]
    fn offer_hashed(&mut self, key: &'a [u8], hash: u64, cand: Newest<P>) {
        let NewestTable { index, recs, arena } = self;
        match index.find(hash, |&i| recs[i as usize].holds(key, hash, arena)) {
            Some(&i) => {
                let r = &mut recs[i as usize].newest;
                if cand.newer_than(r) {
                    *r = cand;
                }
            }
            None => {
                // More distinct keys than u32 counts would need a db of hundreds of GiB
                // of keys alone; such keys are left out rather than wrapping.
                let Ok(i) = u32::try_from(recs.len()) else {
                    return;
                };
                let n = key.len().min(KEY_HEAD);
                let mut head = [0u8; KEY_HEAD];
                head[..n].copy_from_slice(&key[..n]);
                recs.push(Rec {
                    hash,
                    head,
                    tail_at: arena.len(),
                    key,
                    newest: cand,
                });
                arena.extend_from_slice(&key[n..]);
                index.insert_unique(hash, i, |&j| recs[j as usize].hash);
            }
        }
    }

    /// The newest revision of `key`, if it was offered one.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&Newest<P>> {
        let hash = key_hash(key);
        self.index
            .find(hash, |&i| self.recs[i as usize].holds(key, hash, &self.arena))
            .map(|&i| &self.recs[i as usize].newest)
    }

    /// Folds `o` in: per key the newer of the two.
    pub fn merge(&mut self, o: NewestTable<'a, P>) {
        for r in o.recs {
            self.offer_hashed(r.key, r.hash, r.newest);
        }
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
