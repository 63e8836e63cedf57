//! A minimal protobuf field scanner over borrowed bytes, for the handful of etcd messages
//! read on hot paths. It never allocates, never reads past the slice and reports the byte
//! offset of the first thing it cannot parse.
//!
//! Wire format facts (protobuf encoding spec): a field starts with a varint tag
//! `field_number << 3 | wire_type`; wire type 0 is a varint (at most 10 bytes), 1 a
//! little-endian 64-bit word, 2 a varint length then that many bytes, 5 a 32-bit word.
//! Types 3 and 4 (groups) are not used by etcd's proto3 messages and are rejected.

/// Why a message could not be scanned; `offset` counts from the start of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed protobuf at byte {offset}: {what}")]
pub struct ProtoError {
    /// Byte offset within the message.
    pub offset: usize,
    /// What was wrong.
    pub what: &'static str,
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

/// Reads one varint at `*pos`, advancing it. Hand-written for the hot path: the common
/// one-byte case is a single compare.
#[inline]
pub fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, ProtoError> {
    let start = *pos;
    let mut result: u64 = 0;
    let mut shift = 0u32;
    loop {
        let Some(&b) = buf.get(*pos) else {
            return Err(ProtoError {
                offset: start,
                what: "varint runs past the end",
            });
        };
        *pos += 1;
        if shift == 63 && b > 1 {
            return Err(ProtoError {
                offset: start,
                what: "varint longer than 64 bits",
            });
        }
        result |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(result);
        }
        shift += 7;
        if shift > 63 {
            return Err(ProtoError {
                offset: start,
                what: "varint longer than 10 bytes",
            });
        }
    }
}

/// Iterates the fields of one message.
#[derive(Debug, Clone)]
pub struct FieldReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> FieldReader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        FieldReader { buf, pos: 0 }
    }

    /// Offset of the next unread byte.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The next field as (field number, payload), `None` at the end of the message.
    pub fn next_field(&mut self) -> Result<Option<(u32, Wire<'a>)>, ProtoError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let tag_at = self.pos;
        let tag = read_varint(self.buf, &mut self.pos)?;
        let field = tag >> 3;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            return Err(ProtoError {
                offset: tag_at,
                what: "field number out of range",
            });
        }
        let field = field as u32;
        let wire = match tag & 7 {
            0 => Wire::Varint(read_varint(self.buf, &mut self.pos)?),
            1 => {
                let b = self
                    .buf
                    .get(self.pos..)
                    .and_then(|s| s.get(..8))
                    .ok_or(ProtoError {
                        offset: self.pos,
                        what: "64-bit field runs past the end",
                    })?;
                self.pos += 8;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Wire::Fixed64(u64::from_le_bytes(a))
            }
            2 => {
                let len_at = self.pos;
                let len = read_varint(self.buf, &mut self.pos)?;
                let rest = self.buf.len() - self.pos;
                if len > rest as u64 {
                    return Err(ProtoError {
                        offset: len_at,
                        what: "length-delimited field runs past the end",
                    });
                }
                let start = self.pos;
                let len = len as usize;
                self.pos += len;
                Wire::Bytes {
                    data: &self.buf[start..start + len],
                    start,
                }
            }
            5 => {
                let b = self
                    .buf
                    .get(self.pos..)
                    .and_then(|s| s.get(..4))
                    .ok_or(ProtoError {
                        offset: self.pos,
                        what: "32-bit field runs past the end",
                    })?;
                self.pos += 4;
                let mut a = [0u8; 4];
                a.copy_from_slice(b);
                Wire::Fixed32(u32::from_le_bytes(a))
            }
            _ => {
                return Err(ProtoError {
                    offset: tag_at,
                    what: "unsupported wire type (group or invalid)",
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
        _ => Err(ProtoError {
            offset,
            what: "integer field with a non-varint wire type",
        }),
    }
}

/// Expects a length-delimited payload for a bytes/string/message field.
pub fn expect_bytes(w: Wire<'_>, offset: usize) -> Result<&[u8], ProtoError> {
    match w {
        Wire::Bytes { data, .. } => Ok(data),
        _ => Err(ProtoError {
            offset,
            what: "bytes field with a non-length-delimited wire type",
        }),
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
