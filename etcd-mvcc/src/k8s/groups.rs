//! Figures per group name within one part of the accounting: resources, namespaces, kinds
//! and controller owners. There are few distinct names and one look-up per key and
//! grouping, so the look-up is what costs: here a name is hashed once, the table is
//! open-addressed over the hashes (linear probing, at most half full), and a hash hit is
//! confirmed by comparing the bytes inline. Short names compared through a call to
//! `memcmp`, as a `HashMap<Cow<str>, _>` does, cost more than the compare itself.
//!
//! A name is cloned (a `Cow` borrowed from the mapping, so no copy of bytes in the common
//! case) only when it is first met. Memory is bounded by the distinct names, at most one
//! per key accounted.

use crate::fasthash::FastHasher;
use std::borrow::Cow;
use std::hash::Hasher;

/// A group's name: hashed and compared without `memcmp`.
pub(super) trait GroupName: Clone {
    /// The name's hash (any names that are equal hash equal).
    fn hash_name(&self) -> u64;
    /// Whether the two names are equal.
    fn same(&self, o: &Self) -> bool;
}

fn write_str(h: &mut FastHasher, s: &str) {
    h.write(s.as_bytes());
    // The length ends the string, so that ("ab", "") and ("a", "b") differ.
    h.write_usize(s.len());
}

fn same_str(a: &str, b: &str) -> bool {
    crate::fasthash::same_bytes(a.as_bytes(), b.as_bytes())
}

fn hash_str(s: &str) -> u64 {
    let mut h = FastHasher::default();
    write_str(&mut h, s);
    h.finish()
}

impl GroupName for &str {
    fn hash_name(&self) -> u64 {
        hash_str(self)
    }

    fn same(&self, o: &Self) -> bool {
        same_str(self, o)
    }
}

impl GroupName for Cow<'_, str> {
    fn hash_name(&self) -> u64 {
        hash_str(self)
    }

    fn same(&self, o: &Self) -> bool {
        same_str(self, o)
    }
}

impl GroupName for (Cow<'_, str>, Cow<'_, str>) {
    fn hash_name(&self) -> u64 {
        let mut h = FastHasher::default();
        write_str(&mut h, &self.0);
        write_str(&mut h, &self.1);
        h.finish()
    }

    fn same(&self, o: &Self) -> bool {
        same_str(&self.0, &o.0) && same_str(&self.1, &o.1)
    }
}

/// Per name, a `V`; names in the order first met.
#[derive(Debug)]
pub(super) struct GroupTable<K, V> {
    /// Entry index + 1 (0 = empty); a power of two long, or empty.
    slots: Vec<usize>,
    /// (hash, name, value).
    entries: Vec<(u64, K, V)>,
}

impl<K, V> Default for GroupTable<K, V> {
    fn default() -> Self {
        GroupTable {
            slots: Vec::new(),
            entries: Vec::new(),
        }
    }
}

impl<K: GroupName, V: Default> GroupTable<K, V> {
    /// The value of `name`, made with `V::default()` when new.
    #[inline]
    pub(super) fn get(&mut self, name: &K) -> &mut V {
        let h = name.hash_name();
        self.get_hashed(name, h)
    }

    fn get_hashed(&mut self, name: &K, hash: u64) -> &mut V {
        if 2 * (self.entries.len() + 1) > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut at = hash as usize & mask;
        let i = loop {
            let s = self.slots[at];
            if s == 0 {
                self.entries.push((hash, name.clone(), V::default()));
                self.slots[at] = self.entries.len();
                break self.entries.len() - 1;
            }
            let e = &self.entries[s - 1];
            if e.0 == hash && e.1.same(name) {
                break s - 1;
            }
            at = (at + 1) & mask;
        };
        &mut self.entries[i].2
    }

    /// Doubles the index (at least 16 slots) and places every entry again. The load stays
    /// at most one half, so a probe always meets an empty slot.
    fn grow(&mut self) {
        let n = (self.slots.len() * 2).max(16);
        self.slots = bbolt_reader::page::written_zeros(n);
        let mask = n - 1;
        for (i, e) in self.entries.iter().enumerate() {
            let mut at = e.0 as usize & mask;
            while self.slots[at] != 0 {
                at = (at + 1) & mask;
            }
            self.slots[at] = i + 1;
        }
    }

    /// Folds the values of `b` into these with `f`, name by name.
    pub(super) fn merge(&mut self, b: GroupTable<K, V>, f: impl Fn(&mut V, V)) {
        for (h, k, v) in b.entries {
            f(self.get_hashed(&k, h), v);
        }
    }

    /// Names and values, in the order first met.
    pub(super) fn into_entries(self) -> impl Iterator<Item = (K, V)> {
        self.entries.into_iter().map(|(_, k, v)| (k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_every_length_and_colliding_slots_keep_their_own_values() {
        let names: Vec<String> = (0..200)
            .map(|i| "n".repeat(i % 23) + &i.to_string())
            .collect();
        let mut t: GroupTable<Cow<'_, str>, u64> = GroupTable::default();
        for round in 0..3u64 {
            for (i, n) in names.iter().enumerate() {
                *t.get(&Cow::Borrowed(n.as_str())) += i as u64 + round;
            }
        }
        let got: Vec<(Cow<'_, str>, u64)> = t.into_entries().collect();
        assert_eq!(got.len(), names.len());
        for ((k, v), (i, n)) in got.iter().zip(names.iter().enumerate()) {
            assert_eq!(k, n);
            assert_eq!(*v, 3 * i as u64 + 3);
        }
    }

    #[test]
    fn owner_pairs_differ_by_where_the_kind_ends() {
        let mut t: GroupTable<(Cow<'_, str>, Cow<'_, str>), u64> = GroupTable::default();
        *t.get(&(Cow::Borrowed("ab"), Cow::Borrowed(""))) += 1;
        *t.get(&(Cow::Borrowed("a"), Cow::Borrowed("b"))) += 10;
        *t.get(&(Cow::Borrowed("ab"), Cow::Borrowed(""))) += 1;
        let mut other: GroupTable<(Cow<'_, str>, Cow<'_, str>), u64> = GroupTable::default();
        *other.get(&(Cow::Borrowed("a"), Cow::Borrowed("b"))) += 5;
        *other.get(&(Cow::Borrowed(""), Cow::Borrowed(""))) += 7;
        t.merge(other, |a, b| *a += b);
        let got: Vec<_> = t
            .into_entries()
            .map(|((k, n), v)| (k.into_owned(), n.into_owned(), v))
            .collect();
        assert_eq!(
            got,
            vec![
                ("ab".into(), "".into(), 2),
                ("a".into(), "b".into(), 15),
                ("".into(), "".into(), 7),
            ]
        );
    }
}
