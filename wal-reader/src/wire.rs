//! A small zero-copy protobuf wire scanner.
//!
//! The hot path (every WAL record, every raft entry) is decoded with this scanner instead of
//! prost so that `data` fields borrow the mapped file. It follows the rules gogo-protobuf's
//! generated `Unmarshal` applies, which is what etcd runs: a varint is at most 10 bytes,
//! field number 0 is an error, an end-group tag without a start-group is an error, and a
//! known field with the wrong wire type is an error. Unknown fields are skipped.

/// Protobuf wire types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireType {
    /// 0: varint.
    Varint,
    /// 1: 8 bytes.
    Fixed64,
    /// 2: length-delimited.
    Len,
    /// 3: start group (deprecated).
    StartGroup,
    /// 4: end group (deprecated).
    EndGroup,
    /// 5: 4 bytes.
    Fixed32,
}

/// Why a message did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The buffer ended inside a tag, varint or field.
    Truncated,
    /// A varint longer than 10 bytes.
    VarintOverflow,
    /// Field number 0 or a wire type 6/7.
    BadTag,
    /// An end-group tag with no group open, or groups nested too deep.
    BadGroup,
    /// A known field arrived with a wire type it cannot have.
    WrongWireType {
        /// The field number.
        field: u32,
    },
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Truncated => f.write_str("unexpected end of protobuf data"),
            WireError::VarintOverflow => f.write_str("varint longer than 10 bytes"),
            WireError::BadTag => f.write_str("invalid field tag"),
            WireError::BadGroup => f.write_str("unbalanced or too deeply nested group"),
            WireError::WrongWireType { field } => write!(f, "wrong wire type for field {field}"),
        }
    }
}

/// So that `?` converts it into `Box<dyn std::error::Error>` and error enums.
impl std::error::Error for WireError {}

/// One field's value as it sits in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// A varint (also used for bool and enum fields).
    Varint(u64),
    /// 8 raw bytes, little-endian.
    Fixed64(u64),
    /// 4 raw bytes, little-endian.
    Fixed32(u32),
    /// Length-delimited bytes, borrowed from the input.
    Len(&'a [u8]),
    /// A skipped group.
    Group,
}

/// Reads one varint at `*pos`, advancing it.
#[inline]
pub fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    let mut result: u64 = 0;
    let mut shift = 0u32;
    loop {
        let Some(&b) = buf.get(*pos) else {
            return Err(WireError::Truncated);
        };
        *pos += 1;
        if shift < 64 {
            result |= u64::from(b & 0x7f) << shift;
        }
        if b < 0x80 {
            return Ok(result);
        }
        shift += 7;
        if shift >= 70 {
            return Err(WireError::VarintOverflow);
        }
    }
}

/// Deepest group nesting skipped before giving up (groups never occur in etcd's messages).
const MAX_GROUP_DEPTH: u32 = 64;

/// Iterator over the fields of one message; yields an error once and then stops.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Fields<'a> {
    /// Fields of the message in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Fields {
            buf,
            pos: 0,
            failed: false,
        }
    }

    fn next_field(&mut self) -> Result<(u32, Value<'a>), WireError> {
        let (field, wt) = self.read_tag()?;
        let v = match wt {
            WireType::Varint => Value::Varint(read_varint(self.buf, &mut self.pos)?),
            WireType::Fixed64 => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Value::Fixed64(u64::from_le_bytes(a))
            }
            WireType::Fixed32 => {
                let b = self.take(4)?;
                let mut a = [0u8; 4];
                a.copy_from_slice(b);
                Value::Fixed32(u32::from_le_bytes(a))
            }
            WireType::Len => {
                let len = read_varint(self.buf, &mut self.pos)?;
                let len = usize::try_from(len).map_err(|_| WireError::Truncated)?;
                Value::Len(self.take(len)?)
            }
            WireType::StartGroup => {
                self.skip_group(field)?;
                Value::Group
            }
            WireType::EndGroup => return Err(WireError::BadGroup),
        };
        Ok((field, v))
    }

    fn read_tag(&mut self) -> Result<(u32, WireType), WireError> {
        let tag = read_varint(self.buf, &mut self.pos)?;
        let field = tag >> 3;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            return Err(WireError::BadTag);
        }
        let wt = match tag & 7 {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            3 => WireType::StartGroup,
            4 => WireType::EndGroup,
            5 => WireType::Fixed32,
            _ => return Err(WireError::BadTag),
        };
        Ok((field as u32, wt))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(len).ok_or(WireError::Truncated)?;
        let b = self.buf.get(self.pos..end).ok_or(WireError::Truncated)?;
        self.pos = end;
        Ok(b)
    }

    /// Skips to the matching end-group tag, iteratively with a depth bound.
    fn skip_group(&mut self, _field: u32) -> Result<(), WireError> {
        let mut depth = 1u32;
        while depth > 0 {
            let (_, wt) = self.read_tag()?;
            match wt {
                WireType::Varint => {
                    read_varint(self.buf, &mut self.pos)?;
                }
                WireType::Fixed64 => {
                    self.take(8)?;
                }
                WireType::Fixed32 => {
                    self.take(4)?;
                }
                WireType::Len => {
                    let len = read_varint(self.buf, &mut self.pos)?;
                    let len = usize::try_from(len).map_err(|_| WireError::Truncated)?;
                    self.take(len)?;
                }
                WireType::StartGroup => {
                    depth += 1;
                    if depth > MAX_GROUP_DEPTH {
                        return Err(WireError::BadGroup);
                    }
                }
                WireType::EndGroup => depth -= 1,
            }
        }
        Ok(())
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let r = self.next_field();
        if r.is_err() {
            self.failed = true;
        }
        Some(r)
    }
}

/// The value as a varint, or a wire-type error for `field`.
#[inline]
pub fn varint(field: u32, v: Value<'_>) -> Result<u64, WireError> {
    match v {
        Value::Varint(x) => Ok(x),
        _ => Err(WireError::WrongWireType { field }),
    }
}

/// The value as length-delimited bytes, or a wire-type error for `field`.
#[inline]
pub fn bytes(field: u32, v: Value<'_>) -> Result<&[u8], WireError> {
    match v {
        Value::Len(b) => Ok(b),
        _ => Err(WireError::WrongWireType { field }),
    }
}

/// A repeated uint64 field, accepted both packed and unpacked (as gogo does); calls `f` per value.
pub fn repeated_u64(field: u32, v: Value<'_>, mut f: impl FnMut(u64)) -> Result<(), WireError> {
    match v {
        Value::Varint(x) => {
            f(x);
            Ok(())
        }
        Value::Len(b) => {
            let mut pos = 0;
            while pos < b.len() {
                f(read_varint(b, &mut pos)?);
            }
            Ok(())
        }
        _ => Err(WireError::WrongWireType { field }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_error_converts_into_a_boxed_error_with_question_mark() {
        fn first_field(b: &[u8]) -> Result<u32, Box<dyn std::error::Error>> {
            let (field, _) = Fields::new(b).next().ok_or("empty")??;
            Ok(field)
        }
        assert_eq!(first_field(&[0x08, 0x01]).unwrap(), 1);
        let e = first_field(&[0x08]).unwrap_err();
        assert_eq!(e.to_string(), "unexpected end of protobuf data");
    }

    #[test]
    fn varint_of_eleven_bytes_is_rejected() {
        let buf = [0xffu8; 11];
        let mut pos = 0;
        assert_eq!(read_varint(&buf, &mut pos), Err(WireError::VarintOverflow));
    }

    #[test]
    fn truncated_length_delimited_field_is_an_error_not_a_panic() {
        // field 3, wire type 2, length 100, only 2 bytes present.
        let buf = [0x1a, 100, 1, 2];
        let r: Vec<_> = Fields::new(&buf).collect();
        assert_eq!(r, vec![Err(WireError::Truncated)]);
    }

    #[test]
    fn deeply_nested_groups_stop_at_the_bound() {
        let mut buf = vec![0x0b; 1000]; // field 1, start group, repeated
        buf.push(0);
        let r: Vec<_> = Fields::new(&buf).collect();
        assert_eq!(r, vec![Err(WireError::BadGroup)]);
    }
}
