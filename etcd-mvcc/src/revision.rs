//! Revision keys of the `key` bucket.
//!
//! Layout (etcd 3.4 `mvcc/revision.go`, `mvcc/kvstore.go` isTombstone):
//!
//! ```text
//! offset 0   main  u64 big-endian   (etcd keeps it as int64)
//! offset 8   '_'   separator
//! offset 9   sub   u64 big-endian
//! offset 17  't'   only in the 18-byte form that marks a tombstone (a delete)
//! ```
//!
//! Big-endian makes bbolt's byte order equal revision order, so the `key` bucket is sorted
//! by (main, sub) and the tombstone form sorts right after the plain form of the same
//! revision (it never occurs beside it: one revision is either a put or a delete).

use std::fmt;

/// Length of a revision key.
pub const REV_BYTES_LEN: usize = 17;
/// Length of a tombstone revision key (the revision plus the marker byte).
pub const MARKED_REV_BYTES_LEN: usize = 18;
/// Byte between main and sub.
pub const REV_SEPARATOR: u8 = b'_';
/// Marker byte of a tombstone.
pub const TOMBSTONE_MARK: u8 = b't';

/// One revision: `main` counts transactions, `sub` the changes inside one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct Revision {
    /// The store revision of the transaction.
    pub main: i64,
    /// The index of the change within its transaction.
    pub sub: i64,
}

impl Revision {
    /// A revision from its parts.
    pub const fn new(main: i64, sub: i64) -> Self {
        Revision { main, sub }
    }

    /// The 17-byte key of this revision.
    pub fn to_bytes(self) -> [u8; REV_BYTES_LEN] {
        let mut b = [0u8; REV_BYTES_LEN];
        b[..8].copy_from_slice(&(self.main as u64).to_be_bytes());
        b[8] = REV_SEPARATOR;
        b[9..].copy_from_slice(&(self.sub as u64).to_be_bytes());
        b
    }

    /// The 18-byte tombstone key of this revision.
    pub fn to_tombstone_bytes(self) -> [u8; MARKED_REV_BYTES_LEN] {
        let mut b = [0u8; MARKED_REV_BYTES_LEN];
        b[..REV_BYTES_LEN].copy_from_slice(&self.to_bytes());
        b[REV_BYTES_LEN] = TOMBSTONE_MARK;
        b
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.main, self.sub)
    }
}

/// A parsed key of the `key` bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RevKey {
    /// The revision.
    pub rev: Revision,
    /// True for the 18-byte form: the revision deleted the user key.
    pub tombstone: bool,
}

/// Why a `key` bucket key is not a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RevKeyError {
    /// Neither 17 nor 18 bytes long.
    #[error("revision key has {0} bytes; expected 17 or 18")]
    Length(usize),
    /// Byte 8 is not '_'.
    #[error("revision key byte 8 is 0x{0:02x}; expected '_'")]
    Separator(u8),
    /// The 18th byte is not 't'.
    #[error("revision key byte 17 is 0x{0:02x}; expected 't' (tombstone mark)")]
    Mark(u8),
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    u64::from_be_bytes(a)
}

/// Reads main and sub from the first 17 bytes, as etcd does, without checking the
/// separator or the length beyond 17. Returns `None` when `b` is shorter than 17 bytes.
pub fn rev_lenient(b: &[u8]) -> Option<Revision> {
    let b = b.get(..REV_BYTES_LEN)?;
    Some(Revision {
        main: be_u64(&b[..8]) as i64,
        sub: be_u64(&b[9..17]) as i64,
    })
}

/// Parses a 17-byte revision key or an 18-byte tombstone key, strictly.
pub fn parse_rev_key(b: &[u8]) -> Result<RevKey, RevKeyError> {
    let tombstone = match b.len() {
        REV_BYTES_LEN => false,
        MARKED_REV_BYTES_LEN => {
            if b[REV_BYTES_LEN] != TOMBSTONE_MARK {
                return Err(RevKeyError::Mark(b[REV_BYTES_LEN]));
            }
            true
        }
        n => return Err(RevKeyError::Length(n)),
    };
    if b[8] != REV_SEPARATOR {
        return Err(RevKeyError::Separator(b[8]));
    }
    Ok(RevKey {
        rev: Revision {
            main: be_u64(&b[..8]) as i64,
            sub: be_u64(&b[9..17]) as i64,
        },
        tombstone,
    })
}

/// Parses a 17-byte revision as stored in the meta bucket (scheduled/finished compact
/// revision). etcd writes the full 17 bytes; the separator is checked.
pub fn parse_revision(b: &[u8]) -> Result<Revision, RevKeyError> {
    if b.len() != REV_BYTES_LEN {
        return Err(RevKeyError::Length(b.len()));
    }
    parse_rev_key(b).map(|k| k.rev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_tombstone_keys_round_trip() {
        let r = Revision::new(0x0102_0304_0506_0708, 3);
        let k = parse_rev_key(&r.to_bytes()).unwrap();
        assert_eq!(
            k,
            RevKey {
                rev: r,
                tombstone: false
            }
        );
        let t = parse_rev_key(&r.to_tombstone_bytes()).unwrap();
        assert_eq!(
            t,
            RevKey {
                rev: r,
                tombstone: true
            }
        );
        assert_eq!(parse_revision(&r.to_bytes()).unwrap(), r);
    }

    #[test]
    fn byte_order_equals_revision_order() {
        let a = Revision::new(5, 9).to_bytes();
        let b = Revision::new(6, 0).to_bytes();
        let c = Revision::new(6, 1).to_bytes();
        assert!(a < b && b < c);
    }

    #[test]
    fn malformed_keys_are_errors_not_panics() {
        assert_eq!(parse_rev_key(b""), Err(RevKeyError::Length(0)));
        assert_eq!(parse_rev_key(&[0; 16]), Err(RevKeyError::Length(16)));
        assert_eq!(parse_rev_key(&[0; 19]), Err(RevKeyError::Length(19)));
        assert_eq!(parse_rev_key(&[0; 17]), Err(RevKeyError::Separator(0)));
        let mut t = Revision::new(1, 0).to_tombstone_bytes();
        t[17] = b'x';
        assert_eq!(parse_rev_key(&t), Err(RevKeyError::Mark(b'x')));
        assert_eq!(parse_revision(&t), Err(RevKeyError::Length(18)));
        assert_eq!(rev_lenient(&[0; 10]), None);
        assert_eq!(rev_lenient(&t), Some(Revision::new(1, 0)));
    }

    #[test]
    fn main_above_i64_max_reads_as_negative_like_etcd() {
        let mut b = Revision::new(0, 0).to_bytes();
        b[0] = 0x80;
        assert!(parse_rev_key(&b).unwrap().rev.main < 0);
    }
}
