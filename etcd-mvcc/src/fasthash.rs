//! A small, fast, non-cryptographic hasher for maps keyed by user keys (byte slices taken
//! from the mapping). The key space is not attacker-chosen at run time in a way that
//! matters here (a hostile file can only make one offline scan slower), so speed wins over
//! DoS resistance. The mixing is the multiply-rotate scheme popularised by rustc's FxHash.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// The hasher.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher {
    hash: u64,
}

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            self.add(u64::from_le_bytes(a));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut a = [0u8; 8];
            a[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(a));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // A final avalanche so that the low bits used by the table depend on all input.
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// `a == b`, word by word inline: the slices are keys, parts of keys or group names, short, and a call
/// to `memcmp` per look-up cost more than the compare.
#[inline(always)]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_ne_bytes(w)
    };
    if n < 8 {
        // No early exit and no call: the bytes are few.
        return a.iter().zip(b).fold(true, |eq, (x, y)| eq & (x == y));
    }
    let mut at = 0;
    while at + 8 <= n {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    // The last word overlaps the ones compared already; it covers the bytes past them.
    at == n || word(a, n - 8) == word(b, n - 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_agrees_with_slice_equality_at_every_length_and_differing_byte() {
        let a: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37)).collect();
        for n in 0..a.len() {
            assert!(same_bytes(&a[..n], &a[..n]));
            assert!(!same_bytes(&a[..n], &a[..n + 1]));
            for at in 0..n {
                let mut b = a[..n].to_vec();
                b[at] ^= 0x80;
                assert!(!same_bytes(&a[..n], &b), "length {n}, byte {at}");
            }
        }
    }

    #[test]
    fn keys_with_long_common_prefixes_spread() {
        let mut m: FastMap<Vec<u8>, u32> = FastMap::default();
        for i in 0..10_000u32 {
            m.insert(format!("/registry/pods/default/pod-{i}").into_bytes(), i);
        }
        assert_eq!(m.len(), 10_000);
        assert_eq!(m[b"/registry/pods/default/pod-77".as_slice()], 77);
    }
}
