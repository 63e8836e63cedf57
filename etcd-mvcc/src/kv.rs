//! `mvccpb.KeyValue`, the value of every entry in the `key` bucket
//! (etcd 3.4 `mvcc/mvccpb/kv.proto`):
//!
//! ```text
//! 1 key             bytes   the user key
//! 2 create_revision int64   main revision that created this generation of the key
//! 3 mod_revision    int64   main revision of this change
//! 4 version         int64   number of changes since creation (1 = just created)
//! 5 value           bytes   the user value
//! 6 lease           int64   lease ID the key is attached to, 0 for none
//! ```
//!
//! etcd's marshaller writes the fields in that order, so the key and the value's length sit
//! at the start of the entry and the lease after the value. [`KeyValueRef::parse`] returns
//! the value as a borrowed slice without reading its bytes: for a value that spans bbolt
//! overflow pages, only the first and the last page are touched.
//!
//! A tombstone's KeyValue carries only the key (etcd 3.4 `kvstore_txn.go` delete).

use super::proto::{not_bytes, not_varint, ProtoError};
use wal_reader::wire::{FieldScanner, Policy, Value};

/// A KeyValue borrowed from the mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyValueRef<'a> {
    /// Field 1.
    pub key: &'a [u8],
    /// Field 2.
    pub create_revision: i64,
    /// Field 3.
    pub mod_revision: i64,
    /// Field 4.
    pub version: i64,
    /// Field 5 (empty when absent).
    pub value: &'a [u8],
    /// Offset of the value within the encoded message (0 when absent).
    pub value_offset: usize,
    /// Field 6, 0 for none.
    pub lease: i64,
}

impl<'a> KeyValueRef<'a> {
    /// Scans an encoded KeyValue. Unknown fields are skipped as proto3 requires; a field
    /// with the wrong wire type or a length past the end is an error with its offset.
    #[inline]
    pub fn parse(buf: &'a [u8]) -> Result<Self, ProtoError> {
        // The scanner's own values, not [`crate::proto::Wire`]s: this is the key scan's
        // hot path, and the field offsets are only needed for an error.
        let mut kv = KeyValueRef::default();
        let mut r = FieldScanner::new(buf, Policy::STRICT);
        let mut at = 0usize;
        while let Some((field, v)) = r.next_field()? {
            match (field, v) {
                (1, Value::Len(b)) => kv.key = b,
                (2, Value::Varint(x)) => kv.create_revision = x as i64,
                (3, Value::Varint(x)) => kv.mod_revision = x as i64,
                (4, Value::Varint(x)) => kv.version = x as i64,
                (5, Value::Len(b)) => {
                    kv.value = b;
                    kv.value_offset = r.position() - b.len();
                }
                (6, Value::Varint(x)) => kv.lease = x as i64,
                (1 | 5, _) => return Err(not_bytes(at)),
                (2 | 3 | 4 | 6, _) => return Err(not_varint(at)),
                _ => {}
            }
            at = r.position();
        }
        Ok(kv)
    }
}

/// An owned KeyValue (prost-derived), for code that is not on a hot path: tests, writers,
/// small tools. Decodes the same bytes as [`KeyValueRef`].
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct KeyValue {
    /// Field 1.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// Field 2.
    #[prost(int64, tag = "2")]
    pub create_revision: i64,
    /// Field 3.
    #[prost(int64, tag = "3")]
    pub mod_revision: i64,
    /// Field 4.
    #[prost(int64, tag = "4")]
    pub version: i64,
    /// Field 5.
    #[prost(bytes = "vec", tag = "5")]
    pub value: Vec<u8>,
    /// Field 6.
    #[prost(int64, tag = "6")]
    pub lease: i64,
}

impl KeyValue {
    /// Encodes with prost (field order 1..6, zero fields omitted, as etcd's gogo marshaller).
    pub fn encode_to_vec_etcd(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn sample() -> KeyValue {
        KeyValue {
            key: b"/registry/pods/default/web-0".to_vec(),
            create_revision: 5,
            mod_revision: 9,
            version: 3,
            value: vec![7u8; 5000],
            lease: 0x694d_8a2b_1c3e_0001,
        }
    }

    #[test]
    fn scanner_agrees_with_prost() {
        let kv = sample();
        let b = kv.encode_to_vec();
        let r = KeyValueRef::parse(&b).unwrap();
        assert_eq!(r.key, kv.key.as_slice());
        assert_eq!(r.create_revision, 5);
        assert_eq!(r.mod_revision, 9);
        assert_eq!(r.version, 3);
        assert_eq!(r.value, kv.value.as_slice());
        assert_eq!(&b[r.value_offset..r.value_offset + r.value.len()], r.value);
        assert_eq!(r.lease, kv.lease);
        assert_eq!(KeyValue::decode(b.as_slice()).unwrap(), kv);
    }

    #[test]
    fn tombstone_value_has_only_the_key() {
        let kv = KeyValue {
            key: b"/a".to_vec(),
            ..Default::default()
        };
        let b = kv.encode_to_vec();
        let r = KeyValueRef::parse(&b).unwrap();
        assert_eq!(r.key, b"/a");
        assert!(r.value.is_empty());
        assert_eq!(r.lease, 0);
    }

    #[test]
    fn truncated_message_reports_an_offset_never_panics() {
        let b = sample().encode_to_vec();
        for cut in 0..b.len() {
            // Every prefix either parses (cut between fields) or fails with an offset inside it.
            if let Err(e) = KeyValueRef::parse(&b[..cut]) {
                assert!(e.offset <= cut);
            }
        }
        // 0x08 = field 1 (key) with wire type 0: a key must be length-delimited.
        assert_eq!(KeyValueRef::parse(&[0x08, 0x01]).unwrap_err().offset, 0);
    }

    #[test]
    fn unknown_fields_are_skipped() {
        let mut b = sample().encode_to_vec();
        // field 9, varint 1; field 10, bytes "xy"
        b.extend_from_slice(&[0x48, 0x01, 0x52, 0x02, b'x', b'y']);
        let r = KeyValueRef::parse(&b).unwrap();
        assert_eq!(r.version, 3);
    }
}
