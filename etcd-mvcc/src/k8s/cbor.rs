//! A small bounded CBOR reader (RFC 8949) for custom resources stored as CBOR (KEP-4222:
//! the value starts with the self-described tag 55799, `d9 d9 f7`, then the object as a
//! map). Kubernetes' encoder writes strings as byte strings, so text and byte strings are
//! both read as strings. Definite and indefinite lengths are accepted; nesting stops at
//! [`MAX_DEPTH`]; a length is only ever compared with the bytes left, never allocated.

use super::decode::{DecodeOptions, Decoded, ObjectMeta, OwnerRef, Time, MAX_LIST};
use std::borrow::Cow;

/// Nesting limit for arrays, maps and tags.
pub const MAX_DEPTH: usize = 64;

/// Why a CBOR item could not be read; `offset` counts from the start of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CborError {
    pub offset: usize,
    pub what: &'static str,
}

impl std::fmt::Display for CborError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed CBOR at byte {}: {}", self.offset, self.what)
    }
}

type R<T> = Result<T, CborError>;

/// The head of a data item: major type, and the argument (`None` = indefinite length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub major: u8,
    pub info: u8,
    pub arg: Option<u64>,
}

/// A cursor over one CBOR buffer.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], pos: usize) -> Self {
        Reader { buf, pos }
    }

    fn err<T>(&self, what: &'static str) -> R<T> {
        Err(CborError {
            offset: self.pos,
            what,
        })
    }

    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    pub fn head(&mut self) -> R<Head> {
        let Some(b) = self.peek() else {
            return self.err("item runs past the end");
        };
        let (major, info) = (b >> 5, b & 0x1f);
        let n = match info {
            0..=23 => {
                self.pos += 1;
                return Ok(Head {
                    major,
                    info,
                    arg: Some(u64::from(info)),
                });
            }
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            31 if matches!(major, 2..=5 | 7) => {
                self.pos += 1;
                return Ok(Head {
                    major,
                    info,
                    arg: None,
                });
            }
            _ => return self.err("reserved additional information"),
        };
        let Some(bytes) = self.buf.get(self.pos + 1..).and_then(|s| s.get(..n)) else {
            return self.err("item head runs past the end");
        };
        let arg = bytes.iter().fold(0u64, |a, &b| a << 8 | u64::from(b));
        self.pos += 1 + n;
        Ok(Head {
            major,
            info,
            arg: Some(arg),
        })
    }

    fn take(&mut self, len: u64) -> R<&'a [u8]> {
        let rest = (self.buf.len() - self.pos) as u64;
        if len > rest {
            return self.err("string runs past the end");
        }
        let s = &self.buf[self.pos..self.pos + len as usize];
        self.pos += len as usize;
        Ok(s)
    }

    /// Calls `f` once per item of an array or map (`f` reads one element, or one key and
    /// its value): `count` times, or until the break code when the length is indefinite
    /// (`None`); `past_end` names the error when the buffer ends first.
    fn each(
        &mut self,
        count: Option<u64>,
        past_end: &'static str,
        mut f: impl FnMut(&mut Reader<'a>) -> R<()>,
    ) -> R<()> {
        let mut left = count;
        loop {
            match left {
                Some(0) => break,
                Some(n) => left = Some(n - 1),
                None => {
                    if self.at_break() {
                        break;
                    }
                }
            }
            if self.peek().is_none() {
                return self.err(past_end);
            }
            f(self)?;
        }
        Ok(())
    }

    /// Reads the chunks of an indefinite-length string of major type `major` up to the
    /// break code, giving each to `f`.
    fn chunks(&mut self, major: u8, mut f: impl FnMut(&'a [u8])) -> R<()> {
        while !self.at_break() {
            let c = self.head()?;
            match (c.major == major, c.arg) {
                (true, Some(n)) => f(self.take(n)?),
                _ => return self.err("bad chunk in an indefinite string"),
            }
        }
        Ok(())
    }

    /// True (and consumed) when the next byte is the "break" stop code.
    pub fn at_break(&mut self) -> bool {
        if self.peek() == Some(0xff) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips one data item.
    pub fn skip(&mut self, depth: usize) -> R<()> {
        if depth > MAX_DEPTH {
            return self.err("nested deeper than the limit");
        }
        let h = self.head()?;
        match (h.major, h.arg) {
            (0 | 1, _) | (7, Some(_)) => Ok(()),
            (2 | 3, Some(n)) => self.take(n).map(|_| ()),
            (2 | 3, None) => self.chunks(h.major, |_| ()),
            (4 | 5, Some(n)) => {
                let per = if h.major == 5 { 2 } else { 1 };
                // Each item takes at least one byte: a count beyond the bytes left is bogus.
                if n.saturating_mul(per) > (self.buf.len() - self.pos) as u64 {
                    return self.err("count larger than the bytes left");
                }
                for _ in 0..n * per {
                    self.skip(depth + 1)?;
                }
                Ok(())
            }
            (4 | 5, None) => self.each(None, "indefinite item runs past the end", |r| {
                r.skip(depth + 1)?;
                if h.major == 5 {
                    r.skip(depth + 1)?;
                }
                Ok(())
            }),
            (6, _) => self.skip(depth + 1),
            (7, None) => self.err("break outside an indefinite item"),
            _ => self.err("invalid item"),
        }
    }

    /// Reads a text or byte string (tags in front are skipped); `Ok(None)` for anything
    /// else, which is skipped.
    pub fn string(&mut self) -> R<Option<Cow<'a, str>>> {
        let start = self.pos;
        let mut guard = 0;
        while self.peek().map(|b| b >> 5) == Some(6) && guard < MAX_DEPTH {
            self.head()?;
            guard += 1;
        }
        let h = self.head()?;
        match (h.major, h.arg) {
            (2 | 3, Some(n)) => Ok(Some(String::from_utf8_lossy(self.take(n)?))),
            (2 | 3, None) => {
                let mut s = Vec::new();
                self.chunks(h.major, |c| s.extend_from_slice(c))?;
                Ok(Some(Cow::Owned(String::from_utf8_lossy(&s).into_owned())))
            }
            _ => {
                self.pos = start;
                self.skip(0)?;
                Ok(None)
            }
        }
    }

    /// Reads an integer (major 0 or 1); anything else is skipped and gives `None`.
    pub fn int(&mut self) -> R<Option<i64>> {
        let start = self.pos;
        let h = self.head()?;
        match (h.major, h.arg) {
            (0, Some(n)) => Ok(Some(n as i64)),
            (1, Some(n)) => Ok(i64::try_from(n).ok().map(|n| -1 - n)),
            _ => {
                self.pos = start;
                self.skip(0)?;
                Ok(None)
            }
        }
    }

    /// Reads a boolean; anything else is skipped and gives `None`.
    pub fn bool(&mut self) -> R<Option<bool>> {
        match self.peek() {
            Some(0xf5) => {
                self.pos += 1;
                Ok(Some(true))
            }
            Some(0xf4) => {
                self.pos += 1;
                Ok(Some(false))
            }
            _ => self.skip(0).map(|_| None),
        }
    }

    /// Walks a map (tags in front skipped), calling `f` with each string key and the reader
    /// at its value; `f` must consume the value. Non-string keys are skipped with their
    /// values. Returns false (and skips the item) when it is not a map.
    pub fn map(
        &mut self,
        depth: usize,
        mut f: impl FnMut(&mut Reader<'a>, &str) -> R<()>,
    ) -> R<bool> {
        if depth > MAX_DEPTH {
            return self.err("nested deeper than the limit");
        }
        let start = self.pos;
        while self.peek().map(|b| b >> 5) == Some(6) {
            self.head()?;
        }
        let h = self.head()?;
        if h.major != 5 {
            self.pos = start;
            self.skip(depth)?;
            return Ok(false);
        }
        self.each(h.arg, "map runs past the end", |r| match r.string()? {
            Some(k) => f(r, &k),
            None => r.skip(depth + 1),
        })?;
        Ok(true)
    }

    /// Walks an array, calling `f` with the reader at each element (which it consumes).
    /// Returns false (and skips the item) when it is not an array.
    pub fn array(&mut self, depth: usize, f: impl FnMut(&mut Reader<'a>) -> R<()>) -> R<bool> {
        if depth > MAX_DEPTH {
            return self.err("nested deeper than the limit");
        }
        let start = self.pos;
        let h = self.head()?;
        if h.major != 4 {
            self.pos = start;
            self.skip(depth)?;
            return Ok(false);
        }
        self.each(h.arg, "array runs past the end", f)?;
        Ok(true)
    }
}

pub(crate) fn decode<'a>(value: &'a [u8], opts: DecodeOptions, d: &mut Decoded<'a>) {
    d.body = value;
    let mut r = Reader::new(value, 0);
    if let Err(e) = object(&mut r, opts, d) {
        d.error = Some(e.to_string().into());
    }
}

fn s_or_empty(c: Option<Cow<'_, str>>) -> Cow<'_, str> {
    c.unwrap_or(Cow::Borrowed(""))
}

fn object<'a>(r: &mut Reader<'a>, opts: DecodeOptions, d: &mut Decoded<'a>) -> R<()> {
    let mut meta: Option<ObjectMeta<'a>> = None;
    let mut kind = None;
    let mut api_version = None;
    let is_map = r.map(0, |r, k| {
        match k {
            "kind" => kind = Some(s_or_empty(r.string()?)),
            "apiVersion" => api_version = Some(s_or_empty(r.string()?)),
            "metadata" => {
                let mut m = ObjectMeta::default();
                if r.map(1, |r, k| meta_field(r, k, opts, &mut m))? {
                    meta = Some(m);
                }
            }
            _ => r.skip(1)?,
        }
        Ok(())
    });
    // Keep what was read before an error.
    if let Some(k) = kind {
        d.kind = k;
    }
    if let Some(a) = api_version {
        d.api_version = a;
    }
    d.meta = meta;
    if !is_map? {
        return Err(CborError {
            offset: 3,
            what: "the object is not a map",
        });
    }
    Ok(())
}

fn meta_field<'a>(
    r: &mut Reader<'a>,
    k: &str,
    opts: DecodeOptions,
    m: &mut ObjectMeta<'a>,
) -> R<()> {
    match k {
        "name" => m.name = s_or_empty(r.string()?),
        "generateName" => m.generate_name = s_or_empty(r.string()?),
        "namespace" => m.namespace = s_or_empty(r.string()?),
        "uid" => m.uid = s_or_empty(r.string()?),
        "resourceVersion" => m.resource_version = s_or_empty(r.string()?),
        "generation" => m.generation = r.int()?.unwrap_or(0),
        "creationTimestamp" => m.creation_timestamp = r.string()?.map(Time::from_text),
        "deletionTimestamp" => m.deletion_timestamp = r.string()?.map(Time::from_text),
        "labels" => {
            r.map(2, |r, k| {
                let key: Cow<'a, str> = Cow::Owned(k.to_string());
                let v = r.string()?;
                if opts.labels && m.labels.len() < MAX_LIST {
                    m.labels.push((key, s_or_empty(v)));
                }
                Ok(())
            })?;
        }
        "annotations" => {
            r.map(2, |r, k| {
                let v = r.string()?;
                m.add_annotation(k, v.map_or(0, |v| v.len()));
                Ok(())
            })?;
        }
        "ownerReferences" => {
            r.array(2, |r| {
                let mut o = OwnerRef::default();
                r.map(3, |r, k| {
                    match k {
                        "apiVersion" => o.api_version = s_or_empty(r.string()?),
                        "kind" => o.kind = s_or_empty(r.string()?),
                        "name" => o.name = s_or_empty(r.string()?),
                        "uid" => o.uid = s_or_empty(r.string()?),
                        "controller" => o.controller = r.bool()?.unwrap_or(false),
                        _ => r.skip(3)?,
                    }
                    Ok(())
                })?;
                if m.owner_references.len() < MAX_LIST {
                    m.owner_references.push(o);
                }
                Ok(())
            })?;
        }
        "finalizers" => {
            r.array(2, |r| {
                if let Some(f) = r.string()? {
                    if m.finalizers.len() < MAX_LIST {
                        m.finalizers.push(f);
                    }
                }
                Ok(())
            })?;
        }
        "managedFields" => {
            let start = r.pos;
            let mut n = 0;
            let is_array = r.array(2, |r| {
                n += 1;
                r.skip(3)
            })?;
            if is_array {
                m.managed_fields = n;
                m.managed_fields_bytes = (r.pos - start) as u64;
            }
        }
        _ => r.skip(2)?,
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod enc {
    //! CBOR encoding for tests, in Kubernetes' style (strings as byte strings).
    pub fn head(out: &mut Vec<u8>, major: u8, n: u64) {
        let m = major << 5;
        if n < 24 {
            out.push(m | n as u8);
        } else if n < 256 {
            out.extend([m | 24, n as u8]);
        } else if n < 65536 {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        } else {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
    }
    pub fn bstr(out: &mut Vec<u8>, s: &str) {
        head(out, 2, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::super::decode::{decode_value, DecodeOptions, Encoding};
    use super::enc::*;

    #[test]
    fn cbor_object_yields_type_and_metadata() {
        let mut v = vec![0xd9, 0xd9, 0xf7];
        head(&mut v, 5, 4);
        bstr(&mut v, "apiVersion");
        bstr(&mut v, "example.com/v1");
        bstr(&mut v, "kind");
        bstr(&mut v, "Gadget");
        bstr(&mut v, "metadata");
        head(&mut v, 5, 5);
        bstr(&mut v, "name");
        bstr(&mut v, "g1");
        bstr(&mut v, "namespace");
        bstr(&mut v, "ns2");
        bstr(&mut v, "annotations");
        head(&mut v, 5, 1);
        bstr(&mut v, super::super::LAST_APPLIED_ANNOTATION);
        bstr(&mut v, "{\"x\":1}");
        bstr(&mut v, "managedFields");
        let mf_start = v.len();
        head(&mut v, 4, 1);
        head(&mut v, 5, 1);
        bstr(&mut v, "manager");
        bstr(&mut v, "kubectl");
        let mf_len = v.len() - mf_start;
        bstr(&mut v, "ownerReferences");
        head(&mut v, 4, 1);
        head(&mut v, 5, 2);
        bstr(&mut v, "uid");
        bstr(&mut v, "u-owner");
        v.extend([0x6a]);
        v.extend(b"controller");
        v.push(0xf5);
        bstr(&mut v, "spec");
        head(&mut v, 5, 0);
        let d = decode_value(&v, DecodeOptions::default());
        assert_eq!(d.encoding, Encoding::Cbor);
        assert_eq!(d.error, None);
        assert_eq!((&*d.kind, &*d.api_version), ("Gadget", "example.com/v1"));
        let m = d.meta.unwrap();
        assert_eq!((&*m.name, &*m.namespace), ("g1", "ns2"));
        assert_eq!(m.last_applied_bytes, 7);
        assert_eq!(m.managed_fields_bytes, mf_len as u64);
        assert_eq!(m.owner_references[0].uid, "u-owner");
        assert!(m.owner_references[0].controller);
    }

    #[test]
    fn hostile_cbor_is_bounded() {
        // Deep nesting, huge counts, truncation: errors, no panic, no allocation by count.
        let mut deep = vec![0xd9, 0xd9, 0xf7, 0xa1, 0x41, b'k'];
        deep.extend(std::iter::repeat_n(0x81, 100_000));
        assert!(decode_value(&deep, DecodeOptions::default())
            .error
            .is_some());
        let huge = [
            0xd9, 0xd9, 0xf7, 0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        assert!(decode_value(&huge, DecodeOptions::default())
            .error
            .is_some());
        let indefinite = [0xd9, 0xd9, 0xf7, 0xbf, 0x5f];
        assert!(decode_value(&indefinite, DecodeOptions::default())
            .error
            .is_some());
        let tags = [0xd9, 0xd9, 0xf7]
            .iter()
            .copied()
            .chain(std::iter::repeat_n(0xc6, 10_000))
            .collect::<Vec<_>>();
        assert!(decode_value(&tags, DecodeOptions::default())
            .error
            .is_some());
    }
}
