//! CRC-32C (Castagnoli), the checksum of every WAL record, `.snap` file and etcd hash.
//!
//! [`crc32c_append`] has the signature and results of the `crc32c` crate's function of the
//! same name. It exists because WAL records are short (about 1.3 KB in a typical member):
//! the crate runs its three interleaved streams of the SSE4.2 `crc32` instruction only over
//! whole 768-byte (or 24 KiB) chunks and the rest of each record one stream at a time, at a
//! third of the speed (the instruction has a latency of 3 cycles and a throughput of 1).
//! Here the three streams cover the whole buffer but its last < 24 bytes:
//!
//! - a buffer of `L` bytes is cut into chunks of `3 * B` bytes, `B = 4096` while `L` is
//!   long, and for the rest one chunk with `B = floor(L / 24) * 8`, so any length takes
//!   at most one short chunk;
//! - each chunk's three streams run side by side (stream 0 from the running CRC, the
//!   others from 0), and are joined as `crc0 * x^(16B) + crc1 * x^(8B) + crc2 (mod P)`:
//!   each product by a carry-less multiply (PCLMULQDQ) with a constant from a table
//!   computed at compile time, reduced modulo P by one more `crc32` instruction;
//! - the last bytes go 8, 4, 2, 1 at a time.
//!
//! # Why `unsafe` is here, and how far it goes
//!
//! The workspace denies `unsafe`; this module alone allows it, for two things only:
//! calling the x86_64 intrinsics `_mm_crc32_u64/u32/u16/u8`, `_mm_clmulepi64_si128` and
//! the SSE2 moves around it, and calling the `#[target_feature(enable = "sse4.2,pclmulqdq")]`
//! function that uses them, which happens only after `is_x86_feature_detected!` has found
//! both features on the running CPU. There is no pointer arithmetic: bytes are read from
//! slices with bounds-checked `chunks_exact` / `split_at`. On any other CPU or architecture
//! the `crc32c` crate computes the same value (it has its own hardware paths and a
//! software table fallback). Tests compare the two on random lengths, offsets and chained
//! appends.

/// CRC-32C of `data`.
#[inline]
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c_append(0, data)
}

/// CRC-32C of the bytes whose CRC-32C is `crc` followed by `data` (`crc32c_append(0, d)` is
/// `crc32c(d)`), as the `crc32c` crate computes it.
#[inline]
#[allow(unsafe_code)]
pub fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if x86::available() {
            // SAFETY: `available` found SSE4.2 and PCLMULQDQ on this CPU, the features
            // `append` is compiled for.
            return unsafe { x86::append(crc, data) };
        }
    }
    crc32c::crc32c_append(crc, data)
}

/// CRC-32C polynomial, bit-reflected (bit 31 is the coefficient of x^0).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const POLY: u32 = 0x82f6_3b78;

/// `a * b mod P`, both bit-reflected polynomials of degree < 32.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const fn mul_mod(a: u32, b: u32) -> u32 {
    let mut r = 0u32;
    let mut a = a;
    let mut i = 0;
    // Bit 31 - i of b is the coefficient of x^i; a is multiplied by x each step.
    while i < 32 {
        if b & (0x8000_0000 >> i) != 0 {
            r ^= a;
        }
        a = if a & 1 != 0 { (a >> 1) ^ POLY } else { a >> 1 };
        i += 1;
    }
    r
}

/// `x^n mod P`, bit-reflected.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const fn x_pow(n: u64) -> u32 {
    let mut result = 0x8000_0000u32; // x^0
    let mut square = 0x4000_0000u32; // x^1
    let mut n = n;
    while n != 0 {
        if n & 1 != 0 {
            result = mul_mod(result, square);
        }
        square = mul_mod(square, square);
        n >>= 1;
    }
    result
}

/// Bytes per stream in a long buffer's chunks (a chunk is three streams).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const LONG_STREAM: usize = 4096;

/// `SHIFTS[b / 8]` for a stream of `b` bytes (a multiple of 8, up to [`LONG_STREAM`]):
/// `[x^(8b - 33), x^(16b - 33)] mod P`. A carry-less product of a CRC and `x^(k - 33)`,
/// reduced by `crc32(0, product)` (which multiplies by x^33: x^32 from the instruction and
/// one x from the reflected product's position), is the CRC times `x^k`, the CRC moved
/// past `k` zero bits.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
static SHIFTS: [[u32; 2]; LONG_STREAM / 8 + 1] = shifts();

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const fn shifts() -> [[u32; 2]; LONG_STREAM / 8 + 1] {
    let mut t = [[0u32; 2]; LONG_STREAM / 8 + 1];
    // x^(64 i - 33) and x^(128 i - 33) for i >= 1, stepping by x^64 and x^128; entry 0
    // (a stream of no bytes) is never used.
    let x64 = x_pow(64);
    let x128 = x_pow(128);
    let mut a = x_pow(64 - 33);
    let mut b = x_pow(128 - 33);
    let mut i = 1;
    while i < t.len() {
        t[i] = [a, b];
        a = mul_mod(a, x64);
        b = mul_mod(b, x128);
        i += 1;
    }
    t
}

// `unused_unsafe`: since Rust 1.87 the intrinsics are safe to call inside a function with
// their target features enabled; the workspace's rust-version (1.85) still needs the blocks.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code, unused_unsafe)]
mod x86 {
    use super::{LONG_STREAM, SHIFTS};
    use std::arch::x86_64::{
        _mm_clmulepi64_si128, _mm_crc32_u16, _mm_crc32_u32, _mm_crc32_u64, _mm_crc32_u8,
        _mm_cvtsi128_si64, _mm_cvtsi32_si128, _mm_xor_si128,
    };

    /// Whether this CPU has what [`append`] is compiled for (std caches the answer).
    #[inline]
    pub(super) fn available() -> bool {
        std::arch::is_x86_feature_detected!("sse4.2")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }

    #[inline(always)]
    fn word(b: &[u8]) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        u64::from_le_bytes(w)
    }

    /// # Safety
    /// The CPU must have SSE4.2 and PCLMULQDQ ([`available`]).
    #[target_feature(enable = "sse4.2,pclmulqdq")]
    pub(super) unsafe fn append(crc: u32, data: &[u8]) -> u32 {
        let mut c = u64::from(!crc);
        let mut rest = data;
        while rest.len() >= 24 {
            let stream = if rest.len() >= 3 * LONG_STREAM {
                LONG_STREAM
            } else {
                rest.len() / 24 * 8
            };
            let (chunk, after) = rest.split_at(3 * stream);
            let (s0, s12) = chunk.split_at(stream);
            let (s1, s2) = s12.split_at(stream);
            let (mut c0, mut c1, mut c2) = (c, 0u64, 0u64);
            for ((a, b), d) in s0
                .chunks_exact(8)
                .zip(s1.chunks_exact(8))
                .zip(s2.chunks_exact(8))
            {
                // SAFETY (every intrinsic here): SSE4.2 and PCLMULQDQ are enabled for
                // this function, which is only called where the CPU has them.
                unsafe {
                    c0 = _mm_crc32_u64(c0, word(a));
                    c1 = _mm_crc32_u64(c1, word(b));
                    c2 = _mm_crc32_u64(c2, word(d));
                }
            }
            let [k1, k2] = SHIFTS[stream / 8];
            c = unsafe {
                let p0 = _mm_clmulepi64_si128(
                    _mm_cvtsi32_si128(c0 as u32 as i32),
                    _mm_cvtsi32_si128(k2 as i32),
                    0,
                );
                let p1 = _mm_clmulepi64_si128(
                    _mm_cvtsi32_si128(c1 as u32 as i32),
                    _mm_cvtsi32_si128(k1 as i32),
                    0,
                );
                let p = _mm_cvtsi128_si64(_mm_xor_si128(p0, p1)) as u64;
                _mm_crc32_u64(0, p) ^ c2
            };
            rest = after;
        }
        let mut w = rest.chunks_exact(8);
        for b in &mut w {
            c = unsafe { _mm_crc32_u64(c, word(b)) };
        }
        let mut c = c as u32;
        let mut t = w.remainder();
        if t.len() >= 4 {
            let (h, r) = t.split_at(4);
            c = unsafe { _mm_crc32_u32(c, u32::from_le_bytes([h[0], h[1], h[2], h[3]])) };
            t = r;
        }
        if t.len() >= 2 {
            let (h, r) = t.split_at(2);
            c = unsafe { _mm_crc32_u16(c, u16::from_le_bytes([h[0], h[1]])) };
            t = r;
        }
        if let Some(&b) = t.first() {
            c = unsafe { _mm_crc32_u8(c, b) };
        }
        !c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift64*), so failures replay.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn random_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
        (0..n).map(|_| rng.next() as u8).collect()
    }

    #[test]
    fn the_check_value_of_crc32c_is_e3069283() {
        // The catalogue's check value: CRC-32/ISCSI of "123456789".
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(b""), 0);
        assert_eq!(crc32c_append(0x1234_5678, b""), 0x1234_5678);
    }

    #[test]
    fn every_length_up_to_a_few_long_chunks_equals_the_crate_at_every_alignment() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let buf = random_bytes(&mut rng, 3 * 3 * LONG_STREAM + 64);
        // Every length where the chunk split changes shape (0..=1024 one by one), then
        // every length around the long-chunk boundary, each at all 8 offsets.
        let lens = (0..=1024).chain(3 * LONG_STREAM - 40..3 * LONG_STREAM + 40);
        for len in lens.chain([2 * 3 * LONG_STREAM + 23, 3 * 3 * LONG_STREAM]) {
            for off in 0..8 {
                let d = &buf[off..off + len];
                assert_eq!(crc32c(d), crc32c::crc32c(d), "length {len} at offset {off}");
            }
        }
    }

    #[test]
    fn random_lengths_offsets_and_seeds_up_to_64_kib_equal_the_crate() {
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        let buf = random_bytes(&mut rng, (64 << 10) + 64);
        for _ in 0..3000 {
            let len = rng.below((64 << 10) + 1);
            let off = rng.below(64);
            let seed = rng.next() as u32;
            let d = &buf[off..off + len];
            assert_eq!(
                crc32c_append(seed, d),
                crc32c::crc32c_append(seed, d),
                "length {len} at offset {off}, seed {seed:#x}"
            );
        }
    }

    #[test]
    fn appending_piece_by_piece_equals_the_crc_of_the_whole() {
        let mut rng = Rng(0xdead_beef_cafe_f00d);
        for _ in 0..200 {
            let n = rng.below(20_000);
            let whole = random_bytes(&mut rng, n);
            let mut crc = 0;
            let mut at = 0;
            while at < whole.len() {
                let n = rng.below(3000).min(whole.len() - at);
                crc = crc32c_append(crc, &whole[at..at + n]);
                at += n;
            }
            assert_eq!(crc, crc32c::crc32c(&whole));
            assert_eq!(crc, crc32c(&whole));
        }
    }

    #[test]
    fn the_shift_table_moves_a_crc_past_zero_bytes_as_the_crate_does() {
        // crc * x^(8 b) is the CRC of the bytes followed by b zero bytes when no
        // inversion is applied; checked through mul_mod against the crate's append of zeros.
        let zeros = vec![0u8; LONG_STREAM];
        for b in (8..=LONG_STREAM).step_by(8) {
            let [k1, _] = SHIFTS[b / 8];
            // k1 = x^(8b - 33): times x^33 is x^(8b).
            let x8b = mul_mod(k1, x_pow(33));
            let c = 0x5a5a_1234u32;
            // The crate's append works on inverted CRCs: !append(!c, zeros) is c moved
            // past the zeros with no inversion.
            let moved = !crc32c::crc32c_append(!c, &zeros[..b]);
            assert_eq!(mul_mod(c, x8b), moved, "stream of {b} bytes");
        }
    }
}
