//! The protobuf field reader for etcd's messages in bbolt: [`wal_reader::wire`]'s one
//! scanner under [`Policy::STRICT`] (a varint is at most 10 bytes and 64 bits; groups, which
//! etcd's proto3 messages never use, are refused), with payloads that carry their offset and
//! errors that name the byte offset of the first thing that cannot be parsed. It never
//! allocates and never reads past the slice.

use wal_reader::wire::{read_varint_with, FieldScanner, Policy, ScanError, Value};

/// Why a message could not be scanned; `offset` counts from the start of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed protobuf at byte {offset}: {what}")]
pub struct ProtoError {
    /// Byte offset within the message.
    pub offset: usize,
    /// What was wrong.
    pub what: &'static str,
}

impl From<ScanError> for ProtoError {
    #[inline]
    fn from(e: ScanError) -> Self {
        ProtoError {
            offset: e.offset,
            what: e.kind.what(),
        }
    }
}

/// The payload of one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2; the slice borrows the message. `start` is its offset in the message.
    Bytes {
        /// The bytes.
        data: &'a [u8],
        /// Offset of the first byte within the message.
        start: usize,
    },
    /// Wire type 5.
    Fixed32(u32),
}

/// Reads one varint at `*pos`, advancing it: at most 10 bytes and 64 bits
/// ([`Policy::STRICT`]).
#[inline]
pub fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, ProtoError> {
    read_varint_with(buf, pos, Policy::STRICT).map_err(ProtoError::from)
}

/// Iterates the fields of one message: `wal_reader`'s scanner under [`Policy::STRICT`].
#[derive(Debug, Clone)]
pub struct FieldReader<'a> {
    scan: FieldScanner<'a>,
}

impl<'a> FieldReader<'a> {
    /// A reader at the start of `buf`.
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        FieldReader {
            scan: FieldScanner::new(buf, Policy::STRICT),
        }
    }

    /// Offset of the next unread byte.
    #[inline]
    pub fn position(&self) -> usize {
        self.scan.position()
    }

    /// The next field as (field number, payload), `None` at the end of the message.
    #[inline]
    pub fn next_field(&mut self) -> Result<Option<(u32, Wire<'a>)>, ProtoError> {
        let tag_at = self.scan.position();
        let Some((field, v)) = self.scan.next_field()? else {
            return Ok(None);
        };
        let wire = match v {
            Value::Varint(x) => Wire::Varint(x),
            Value::Fixed64(x) => Wire::Fixed64(x),
            Value::Fixed32(x) => Wire::Fixed32(x),
            Value::Len(data) => Wire::Bytes {
                data,
                start: self.scan.position() - data.len(),
            },
            // The strict policy refuses groups before yielding one.
            Value::Group => {
                return Err(ProtoError {
                    offset: tag_at,
                    what: wal_reader::wire::ScanErrorKind::Group.what(),
                })
            }
        };
        Ok(Some((field, wire)))
    }
}

/// Expects a varint payload for an integer field; anything else is an error at `offset`.
pub fn expect_varint(w: Wire<'_>, offset: usize) -> Result<u64, ProtoError> {
    match w {
        Wire::Varint(v) => Ok(v),
        _ => Err(not_varint(offset)),
    }
}

/// Expects a length-delimited payload for a bytes/string/message field.
pub fn expect_bytes(w: Wire<'_>, offset: usize) -> Result<&[u8], ProtoError> {
    match w {
        Wire::Bytes { data, .. } => Ok(data),
        _ => Err(not_bytes(offset)),
    }
}

/// The error of an integer field whose field starts at `offset` with another wire type.
#[cold]
pub(crate) fn not_varint(offset: usize) -> ProtoError {
    ProtoError {
        offset,
        what: "integer field with a non-varint wire type",
    }
}

/// The error of a bytes/string/message field whose field starts at `offset` with another
/// wire type.
#[cold]
pub(crate) fn not_bytes(offset: usize) -> ProtoError {
    ProtoError {
        offset,
        what: "bytes field with a non-length-delimited wire type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_decode_from_one_to_ten_bytes() {
        let mut p = 0;
        assert_eq!(read_varint(&[0x05], &mut p), Ok(5));
        let mut p = 0;
        assert_eq!(read_varint(&[0xac, 0x02], &mut p), Ok(300));
        assert_eq!(p, 2);
        // -1 as int64: ten bytes.
        let neg = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        let mut p = 0;
        assert_eq!(read_varint(&neg, &mut p), Ok(u64::MAX));
    }

    #[test]
    fn overlong_and_truncated_varints_are_errors() {
        let mut p = 0;
        assert!(read_varint(&[0x80, 0x80], &mut p).is_err());
        let too_long = [0xff; 11];
        let mut p = 0;
        assert!(read_varint(&too_long, &mut p).is_err());
        let mut bad_last = [0xff; 10];
        bad_last[9] = 0x02;
        let mut p = 0;
        assert!(read_varint(&bad_last, &mut p).is_err());
    }

    #[test]
    fn length_past_the_end_reports_its_offset() {
        // field 1, bytes, length 5 but only 2 bytes follow.
        let msg = [0x0a, 0x05, b'a', b'b'];
        let mut r = FieldReader::new(&msg);
        let e = r.next_field().unwrap_err();
        assert_eq!(e.offset, 1);
    }

    #[test]
    fn groups_and_field_zero_are_rejected() {
        assert!(FieldReader::new(&[0x0b]).next_field().is_err());
        assert!(FieldReader::new(&[0x00, 0x00]).next_field().is_err());
    }
}
