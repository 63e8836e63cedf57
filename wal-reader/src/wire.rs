//! The one zero-copy protobuf wire scanner of the workspace.
//!
//! Every WAL record, raft entry and snapshot (this crate) and every etcd message kept in
//! bbolt (`etcd-mvcc`: `mvccpb.KeyValue`, leases, auth, members, Kubernetes values) is
//! scanned by [`FieldScanner`], so `data` fields borrow the mapped file and nothing is
//! allocated.
//!
//! Wire format facts (protobuf encoding spec): a field starts with a varint tag
//! `field_number << 3 | wire_type`; wire type 0 is a varint (at most 10 bytes), 1 a
//! little-endian 64-bit word, 2 a varint length then that many bytes, 5 a 32-bit word, and
//! 3 / 4 open and close a (deprecated) group. Field number 0 and wire types 6 and 7 are
//! always errors.
//!
//! Decoders disagree on two inputs, so the scanner takes a [`Policy`]:
//! - a tenth varint byte above 1 (bits past 64): gogo-protobuf's generated `Unmarshal`, which
//!   etcd runs on its WAL, drops them; a strict reader refuses them;
//! - a group: gogo skips it (to its end tag), a proto3-only reader refuses it.
//!
//! [`Policy::GOGO`] is what the WAL and snap decoding here uses ([`Fields`], [`read_varint`],
//! whose coarse [`WireError`] texts reach `wal` outputs); [`Policy::STRICT`] is what
//! `etcd-mvcc` uses, with the byte-offset texts of [`ScanError`].

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

impl WireType {
    /// The wire type of the low three bits of a tag; `None` for 6 and 7.
    #[inline]
    pub fn from_tag(tag: u64) -> Option<WireType> {
        Some(match tag & 7 {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            3 => WireType::StartGroup,
            4 => WireType::EndGroup,
            5 => WireType::Fixed32,
            _ => return None,
        })
    }
}

/// What the scanner does with a tenth varint byte above 1, whose bits lie past 64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarintOverflow {
    /// Drops the bits past 64, as gogo-protobuf's generated `Unmarshal` does.
    Truncate,
    /// Refuses the varint ([`ScanErrorKind::VarintOver64Bits`]), as prost does.
    Reject,
}

/// What the scanner does with a group (wire types 3 and 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Groups {
    /// Skips a group to its end tag, nested at most 64 deep, as gogo does; an end tag with
    /// no group open is an error.
    Skip,
    /// Refuses every group tag ([`ScanErrorKind::Group`]): etcd's proto3 messages have none.
    Reject,
}

/// The scanner's answer on the inputs where decoders disagree (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A tenth varint byte above 1.
    pub varint: VarintOverflow,
    /// Group tags.
    pub groups: Groups,
}

impl Policy {
    /// gogo-protobuf's generated `Unmarshal`, which etcd applies to WAL records, raft
    /// entries and snapshots: varint bits past 64 dropped, groups skipped.
    pub const GOGO: Policy = Policy {
        varint: VarintOverflow::Truncate,
        groups: Groups::Skip,
    };
    /// Exactly 64-bit varints and no groups, for etcd's proto3 messages in bbolt.
    pub const STRICT: Policy = Policy {
        varint: VarintOverflow::Reject,
        groups: Groups::Reject,
    };
}

/// What [`FieldScanner`] could not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanErrorKind {
    /// The buffer ended inside a varint.
    VarintTruncated,
    /// A varint whose tenth byte still has the continuation bit.
    VarintTooLong,
    /// A tenth varint byte above 1 under [`VarintOverflow::Reject`].
    VarintOver64Bits,
    /// Field number 0 or above 2^29 - 1.
    FieldNumber,
    /// Wire type 6 or 7.
    WireType,
    /// A group tag under [`Groups::Reject`].
    Group,
    /// An end-group tag with no group open.
    UnbalancedGroup,
    /// Groups nested deeper than the scanner follows.
    GroupTooDeep,
    /// The buffer ended inside a 64-bit field.
    Fixed64Truncated,
    /// The buffer ended inside a 32-bit field.
    Fixed32Truncated,
    /// A length-delimited field longer than what is left of the buffer.
    LenTruncated,
}

impl ScanErrorKind {
    /// What was wrong, in words.
    pub fn what(self) -> &'static str {
        match self {
            ScanErrorKind::VarintTruncated => "varint runs past the end",
            ScanErrorKind::VarintTooLong => "varint longer than 10 bytes",
            ScanErrorKind::VarintOver64Bits => "varint longer than 64 bits",
            ScanErrorKind::FieldNumber => "field number out of range",
            ScanErrorKind::WireType | ScanErrorKind::Group => {
                "unsupported wire type (group or invalid)"
            }
            ScanErrorKind::UnbalancedGroup => "end-group tag with no group open",
            ScanErrorKind::GroupTooDeep => "groups nested too deep",
            ScanErrorKind::Fixed64Truncated => "64-bit field runs past the end",
            ScanErrorKind::Fixed32Truncated => "32-bit field runs past the end",
            ScanErrorKind::LenTruncated => "length-delimited field runs past the end",
        }
    }
}

/// Where and why a message could not be scanned. `offset` counts from the start of the
/// scanned buffer: the start of a bad varint or tag, the length varint of a field that runs
/// past the end, or the first byte of a cut fixed-size field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed protobuf at byte {offset}: {}", kind.what())]
pub struct ScanError {
    /// Byte offset within the scanned buffer.
    pub offset: usize,
    /// What was wrong.
    pub kind: ScanErrorKind,
}

/// Why a WAL or snap message did not decode: the coarse classes of [`ScanError`] (plus the
/// wrong-wire-type error of a known field) whose texts `wal` outputs carry.
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

impl From<ScanError> for WireError {
    #[inline]
    fn from(e: ScanError) -> Self {
        match e.kind {
            ScanErrorKind::VarintTruncated
            | ScanErrorKind::Fixed64Truncated
            | ScanErrorKind::Fixed32Truncated
            | ScanErrorKind::LenTruncated => WireError::Truncated,
            ScanErrorKind::VarintTooLong | ScanErrorKind::VarintOver64Bits => {
                WireError::VarintOverflow
            }
            ScanErrorKind::FieldNumber | ScanErrorKind::WireType => WireError::BadTag,
            ScanErrorKind::Group | ScanErrorKind::UnbalancedGroup | ScanErrorKind::GroupTooDeep => {
                WireError::BadGroup
            }
        }
    }
}

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
    /// A skipped group (only under [`Groups::Skip`]).
    Group,
}

/// Reads one varint at `*pos` under `policy`, advancing `*pos`; an error's offset is where
/// the varint starts.
#[inline]
pub fn read_varint_with(buf: &[u8], pos: &mut usize, policy: Policy) -> Result<u64, ScanError> {
    let start = *pos;
    varint_kind(buf, pos, policy).map_err(|kind| scan_error(start, kind))
}

/// [`read_varint_with`] without the offset, which the caller knows: a 16-byte result that
/// comes back in registers. A one-byte varint (every tag of etcd's messages, most small
/// values) is read inline; longer ones in [`varint_long`].
#[inline]
fn varint_kind(buf: &[u8], pos: &mut usize, policy: Policy) -> Result<u64, ScanErrorKind> {
    if let Some(&b) = buf.get(*pos) {
        if b < 0x80 {
            *pos += 1;
            return Ok(u64::from(b));
        }
    }
    varint_long(buf, pos, policy)
}

/// A varint of any length (the general loop behind [`varint_kind`]'s one-byte case).
fn varint_long(buf: &[u8], pos: &mut usize, policy: Policy) -> Result<u64, ScanErrorKind> {
    let mut result: u64 = 0;
    // The first nine bytes carry bits 0..63; the policy only matters for the tenth, so the
    // loop over the common short varints checks nothing else.
    let mut shift = 0u32;
    while shift < 63 {
        let Some(&b) = buf.get(*pos) else {
            return Err(ScanErrorKind::VarintTruncated);
        };
        *pos += 1;
        result |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(result);
        }
        shift += 7;
    }
    tenth_varint_byte(buf, pos, result, policy)
}

/// The tenth byte of a varint: bit 63 in its low bit, the rest past 64 bits.
#[cold]
fn tenth_varint_byte(
    buf: &[u8],
    pos: &mut usize,
    result: u64,
    policy: Policy,
) -> Result<u64, ScanErrorKind> {
    let Some(&b) = buf.get(*pos) else {
        return Err(ScanErrorKind::VarintTruncated);
    };
    *pos += 1;
    if b > 1 && policy.varint == VarintOverflow::Reject {
        return Err(ScanErrorKind::VarintOver64Bits);
    }
    if b >= 0x80 {
        return Err(ScanErrorKind::VarintTooLong);
    }
    // Bits shifted past 64 fall off (gogo's behaviour).
    Ok(result | u64::from(b) << 63)
}

#[cold]
fn scan_error(offset: usize, kind: ScanErrorKind) -> ScanError {
    ScanError { offset, kind }
}

/// Reads one varint at `*pos` under [`Policy::GOGO`], advancing it.
#[inline]
pub fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    read_varint_with(buf, pos, Policy::GOGO).map_err(WireError::from)
}

/// Deepest group nesting skipped before giving up (groups never occur in etcd's messages).
const MAX_GROUP_DEPTH: u32 = 64;

/// Scans the fields of one message under a [`Policy`]; `None` at the end of the buffer.
/// After an error the scanner's position is unspecified: stop there.
#[derive(Debug, Clone)]
pub struct FieldScanner<'a> {
    buf: &'a [u8],
    pos: usize,
    policy: Policy,
}

impl<'a> FieldScanner<'a> {
    /// A scanner at the start of `buf`.
    #[inline]
    pub fn new(buf: &'a [u8], policy: Policy) -> Self {
        FieldScanner {
            buf,
            pos: 0,
            policy,
        }
    }

    /// Offset of the next unread byte.
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The next field as (field number, value), `None` at the end of the message.
    #[inline]
    pub fn next_field(&mut self) -> Result<Option<(u32, Value<'a>)>, ScanError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let tag_at = self.pos;
        let (field, wt) = self.read_tag()?;
        let at_tag = |kind| ScanError {
            offset: tag_at,
            kind,
        };
        let v = match wt {
            Some(WireType::Varint) => {
                Value::Varint(read_varint_with(self.buf, &mut self.pos, self.policy)?)
            }
            Some(WireType::Fixed64) => Value::Fixed64(u64::from_le_bytes(
                self.take_array(ScanErrorKind::Fixed64Truncated)?,
            )),
            Some(WireType::Len) => Value::Len(self.take_len()?),
            Some(WireType::Fixed32) => Value::Fixed32(u32::from_le_bytes(
                self.take_array(ScanErrorKind::Fixed32Truncated)?,
            )),
            Some(WireType::StartGroup | WireType::EndGroup)
                if self.policy.groups == Groups::Reject =>
            {
                return Err(at_tag(ScanErrorKind::Group))
            }
            Some(WireType::StartGroup) => {
                self.skip_group()?;
                Value::Group
            }
            Some(WireType::EndGroup) => return Err(at_tag(ScanErrorKind::UnbalancedGroup)),
            None => return Err(at_tag(ScanErrorKind::WireType)),
        };
        Ok(Some((field, v)))
    }

    /// The tag at the position: its field number (checked) and wire type (`None` for 6/7).
    #[inline]
    fn read_tag(&mut self) -> Result<(u32, Option<WireType>), ScanError> {
        let tag_at = self.pos;
        let tag = read_varint_with(self.buf, &mut self.pos, self.policy)?;
        let field = tag >> 3;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            return Err(ScanError {
                offset: tag_at,
                kind: ScanErrorKind::FieldNumber,
            });
        }
        Ok((field as u32, WireType::from_tag(tag)))
    }

    #[inline]
    fn take_array<const N: usize>(&mut self, kind: ScanErrorKind) -> Result<[u8; N], ScanError> {
        let b = self
            .buf
            .get(self.pos..)
            .and_then(|s| s.get(..N))
            .ok_or(ScanError {
                offset: self.pos,
                kind,
            })?;
        self.pos += N;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }

    /// A varint length and that many bytes.
    #[inline]
    fn take_len(&mut self) -> Result<&'a [u8], ScanError> {
        let len_at = self.pos;
        let len = read_varint_with(self.buf, &mut self.pos, self.policy)?;
        let rest = self.buf.len() - self.pos;
        if len > rest as u64 {
            return Err(ScanError {
                offset: len_at,
                kind: ScanErrorKind::LenTruncated,
            });
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(&self.buf[start..self.pos])
    }

    /// Skips to the end tag that closes the group just opened, iteratively with a depth
    /// bound (the end tag's field number is not compared, as gogo's `skip` does not).
    fn skip_group(&mut self) -> Result<(), ScanError> {
        let mut depth = 1u32;
        while depth > 0 {
            let tag_at = self.pos;
            let (_, wt) = self.read_tag()?;
            match wt {
                Some(WireType::Varint) => {
                    read_varint_with(self.buf, &mut self.pos, self.policy)?;
                }
                Some(WireType::Fixed64) => {
                    self.take_array::<8>(ScanErrorKind::Fixed64Truncated)?;
                }
                Some(WireType::Fixed32) => {
                    self.take_array::<4>(ScanErrorKind::Fixed32Truncated)?;
                }
                Some(WireType::Len) => {
                    self.take_len()?;
                }
                Some(WireType::StartGroup) => {
                    depth += 1;
                    if depth > MAX_GROUP_DEPTH {
                        return Err(ScanError {
                            offset: tag_at,
                            kind: ScanErrorKind::GroupTooDeep,
                        });
                    }
                }
                Some(WireType::EndGroup) => depth -= 1,
                None => {
                    return Err(ScanError {
                        offset: tag_at,
                        kind: ScanErrorKind::WireType,
                    })
                }
            }
        }
        Ok(())
    }
}

/// Iterator over the fields of one WAL or snap message under [`Policy::GOGO`], with
/// [`WireError`]s; yields an error once and then stops.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    scan: FieldScanner<'a>,
    failed: bool,
}

impl<'a> Fields<'a> {
    /// Fields of the message in `buf`.
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Fields {
            scan: FieldScanner::new(buf, Policy::GOGO),
            failed: false,
        }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), WireError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.scan.next_field() {
            Ok(f) => f.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e.into()))
            }
        }
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

    #[test]
    fn a_tenth_varint_byte_above_one_is_truncated_under_gogo_and_refused_under_strict() {
        let mut v = [0xffu8; 10];
        v[9] = 0x7f;
        let mut p = 0;
        assert_eq!(read_varint_with(&v, &mut p, Policy::GOGO), Ok(u64::MAX));
        let mut p = 0;
        assert_eq!(
            read_varint_with(&v, &mut p, Policy::STRICT),
            Err(ScanError {
                offset: 0,
                kind: ScanErrorKind::VarintOver64Bits
            })
        );
    }

    #[test]
    fn a_group_is_skipped_under_gogo_and_refused_at_its_tag_under_strict() {
        // field 1 varint 1; field 2 start group, field 3 varint 7, field 2 end group; field 4 varint 9.
        let msg = [0x08, 0x01, 0x13, 0x18, 0x07, 0x14, 0x20, 0x09];
        let gogo: Vec<_> = Fields::new(&msg).collect();
        assert_eq!(
            gogo,
            vec![
                Ok((1, Value::Varint(1))),
                Ok((2, Value::Group)),
                Ok((4, Value::Varint(9)))
            ]
        );
        let mut s = FieldScanner::new(&msg, Policy::STRICT);
        assert_eq!(s.next_field(), Ok(Some((1, Value::Varint(1)))));
        let e = s.next_field().unwrap_err();
        assert_eq!((e.offset, e.kind), (2, ScanErrorKind::Group));
        assert_eq!(
            e.to_string(),
            "malformed protobuf at byte 2: unsupported wire type (group or invalid)"
        );
        assert_eq!(WireError::from(e), WireError::BadGroup);
    }

    #[test]
    fn scan_errors_name_the_offset_of_the_length_or_the_cut_fixed_field() {
        // field 1 varint 5; field 2 length 9 with 1 byte left.
        let e = FieldScanner::new(&[0x08, 0x05, 0x12, 0x09, 0x00], Policy::STRICT)
            .nth_err()
            .unwrap();
        assert_eq!((e.offset, e.kind), (3, ScanErrorKind::LenTruncated));
        // field 1 fixed64 with 3 bytes.
        let e = FieldScanner::new(&[0x09, 1, 2, 3], Policy::GOGO)
            .nth_err()
            .unwrap();
        assert_eq!((e.offset, e.kind), (1, ScanErrorKind::Fixed64Truncated));
        assert_eq!(WireError::from(e), WireError::Truncated);
    }

    impl FieldScanner<'_> {
        /// The first error, scanning on until one comes.
        fn nth_err(mut self) -> Option<ScanError> {
            loop {
                match self.next_field() {
                    Ok(Some(_)) => {}
                    Ok(None) => return None,
                    Err(e) => return Some(e),
                }
            }
        }
    }
}
