//! The `lease` bucket (etcd 3.4 `lease/lessor.go`, `lease/leasepb/lease.proto`):
//! key = lease ID as u64 big-endian, value = `leasepb.Lease {ID=1, TTL=2, RemainingTTL=3}`
//! (all int64). RemainingTTL is only set when lease checkpointing is on.

use super::proto::{expect_varint, FieldReader, ProtoError};

pub use crate::buckets::LEASE_BUCKET;

/// One persisted lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Lease {
    /// Field 1.
    pub id: i64,
    /// Field 2, seconds granted.
    pub ttl: i64,
    /// Field 3, seconds left at the last checkpoint (0 when never checkpointed).
    pub remaining_ttl: i64,
}

impl Lease {
    /// Decodes a `leasepb.Lease`.
    pub fn parse(buf: &[u8]) -> Result<Self, ProtoError> {
        let mut l = Lease::default();
        let mut r = FieldReader::new(buf);
        let mut at = 0;
        while let Some((f, w)) = r.next_field()? {
            match f {
                1 => l.id = expect_varint(w, at)? as i64,
                2 => l.ttl = expect_varint(w, at)? as i64,
                3 => l.remaining_ttl = expect_varint(w, at)? as i64,
                _ => {}
            }
            at = r.position();
        }
        Ok(l)
    }
}

/// The lease ID encoded in a bucket key, when it is 8 bytes.
pub fn lease_id_from_key(key: &[u8]) -> Option<i64> {
    let a: [u8; 8] = key.try_into().ok()?;
    Some(u64::from_be_bytes(a) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_decodes_all_three_fields() {
        // ID=0x1234 (varint b4 24), TTL=60, RemainingTTL=42
        let b = [0x08, 0xb4, 0x24, 0x10, 60, 0x18, 42];
        assert_eq!(
            Lease::parse(&b).unwrap(),
            Lease {
                id: 0x1234,
                ttl: 60,
                remaining_ttl: 42
            }
        );
        assert_eq!(lease_id_from_key(&0x1234u64.to_be_bytes()), Some(0x1234));
        assert_eq!(lease_id_from_key(b"short"), None);
        assert!(Lease::parse(&[0x08]).is_err());
    }
}
