//! Alignment-1, bounds-checked little-endian field reads.
//!
//! bbolt writes its structures in the machine's byte order; every platform etcd ships on is
//! little-endian, so this crate reads little-endian. Structures may sit at any byte offset
//! (an inline bucket's page starts 16 bytes into a value, wherever that value happens to
//! be), so nothing here assumes alignment: every read copies bytes out of a checked
//! sub-slice. A read that would go past the end of `b` returns `None`.

/// `u16` at `off`, or `None` when `b` is too short.
#[inline]
pub(crate) fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes(s.try_into().ok()?))
}

/// `u32` at `off`, or `None` when `b` is too short.
#[inline]
pub(crate) fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}

/// `u64` at `off`, or `None` when `b` is too short.
#[inline]
pub(crate) fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(8)?)?;
    Some(u64::from_le_bytes(s.try_into().ok()?))
}

/// Byte offset of `inner` within `outer`, when `inner` is a sub-slice of it.
///
/// Used only to report where an inline page sits in the file; compares addresses, never
/// dereferences them.
#[inline]
pub(crate) fn offset_within(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let o = outer.as_ptr() as usize;
    let i = inner.as_ptr() as usize;
    let off = i.checked_sub(o)?;
    (off.checked_add(inner.len())? <= outer.len()).then_some(off)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_the_end_return_none_instead_of_panicking() {
        let b = [1u8, 2, 3, 4, 5];
        assert_eq!(u16_at(&b, 0), Some(0x0201));
        assert_eq!(u16_at(&b, 4), None);
        assert_eq!(u32_at(&b, 1), Some(0x0504_0302));
        assert_eq!(u64_at(&b, 0), None);
        assert_eq!(u64_at(&b, usize::MAX), None);
    }

    #[test]
    fn unaligned_reads_work_at_odd_offsets() {
        let mut b = [0u8; 11];
        b[3..11].copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(u64_at(&b, 3), Some(0x1122_3344_5566_7788));
    }
}
