//! One stored value, recognised from its first bytes and read into kind, apiVersion and
//! the accounting's part of `ObjectMeta`.
//!
//! Forms kube-apiserver writes (k8s.io/apimachinery `runtime/serializer`, and
//! `storage/value/encrypt` for encryption at rest):
//!
//! ```text
//! protobuf   "k8s\0" then runtime.Unknown:
//!              1 typeMeta {1 apiVersion, 2 kind}   2 raw (the typed object)
//!              3 contentEncoding                   4 contentType
//!            raw: 1 metadata (ObjectMeta) then the kind's own fields
//! json       first non-space byte '{'
//! cbor       self-described CBOR tag 55799: d9 d9 f7 (KEP-4222)
//! encrypted  "k8s:enc:<aescbc|aesgcm|secretbox|kms>:v1:<key name>:" or
//!            "k8s:enc:kms:v2:<provider name>:", then ciphertext
//! ```
//!
//! ObjectMeta (k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto): 1 name,
//! 2 generateName, 3 namespace, 5 uid, 6 resourceVersion, 7 generation,
//! 8 creationTimestamp, 9 deletionTimestamp (Time {1 seconds, 2 nanos}), 11 labels,
//! 12 annotations (map entries {1 key, 2 value}), 13 ownerReferences {1 kind, 3 name,
//! 4 uid, 5 apiVersion, 6 controller}, 14 finalizers, 17 managedFields.
//! core/v1 Event: 2 involvedObject (ObjectReference {1 kind, 2 namespace, 3 name}),
//! 3 reason, 8 count. coordination.k8s.io/v1 Lease: 2 spec {1 holderIdentity,
//! 2 leaseDurationSeconds, 4 renewTime (MicroTime {1 seconds, 2 nanos})}.
//!
//! Nothing here allocates by a count read from the value: lists grow only by entries
//! actually present, and nested reads stop at a fixed depth.

use crate::proto::{FieldReader, ProtoError, Wire};
use std::borrow::Cow;

/// The protobuf envelope's magic.
pub const PROTOBUF_MAGIC: &[u8] = b"k8s\0";
/// The prefix of a value encrypted at rest.
pub const ENCRYPTED_PREFIX: &[u8] = b"k8s:enc:";
/// CBOR's self-described tag 55799.
pub const CBOR_MAGIC: &[u8] = &[0xd9, 0xd9, 0xf7];

/// At most this many owner references, finalizers and labels are kept per object (all
/// are counted in bytes); more is hostile, not Kubernetes.
pub const MAX_LIST: usize = 256;

/// How a value is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// `k8s\0` + runtime.Unknown.
    Protobuf,
    /// First non-space byte `{`.
    Json,
    /// Starts with d9 d9 f7.
    Cbor,
    /// Starts with `k8s:enc:`.
    Encrypted,
    /// Anything else.
    Unknown,
}

impl Encoding {
    /// Recognises the form of `value` from its first bytes.
    pub fn of(value: &[u8]) -> Encoding {
        if value.starts_with(ENCRYPTED_PREFIX) {
            Encoding::Encrypted
        } else if value.starts_with(PROTOBUF_MAGIC) {
            Encoding::Protobuf
        } else if value.starts_with(CBOR_MAGIC) {
            Encoding::Cbor
        } else if value.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            Encoding::Json
        } else {
            Encoding::Unknown
        }
    }

    /// The lowercase name (`protobuf`, `json`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Protobuf => "protobuf",
            Encoding::Json => "json",
            Encoding::Cbor => "cbor",
            Encoding::Encrypted => "encrypted",
            Encoding::Unknown => "unknown",
        }
    }

    /// True for the forms whose metadata can be read.
    pub fn is_readable(self) -> bool {
        matches!(self, Encoding::Protobuf | Encoding::Json | Encoding::Cbor)
    }
}

/// The envelope of a value encrypted at rest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Encryption<'a> {
    /// `aescbc`, `aesgcm`, `secretbox`, `kms`, ...
    pub provider: Cow<'a, str>,
    /// `v1` or `v2`.
    pub version: Cow<'a, str>,
    /// The key name (v1) or the KMS provider name (kms v2).
    pub key: Cow<'a, str>,
}

impl Encryption<'_> {
    /// `provider:key`, the label the mixed-encryption counts use.
    pub fn label(&self) -> String {
        format!("{}:{}", self.provider, self.key)
    }

    /// Reads the `k8s:enc:<provider>:<version>:<name>:` prefix; `None` when the value does
    /// not have one (or a part is longer than any real name).
    pub fn parse(value: &[u8]) -> Option<Encryption<'_>> {
        const MAX_PART: usize = 256;
        let mut rest = value.strip_prefix(ENCRYPTED_PREFIX)?;
        let mut part = || -> Option<&[u8]> {
            let end = rest.iter().take(MAX_PART + 1).position(|&b| b == b':')?;
            let p = &rest[..end];
            rest = &rest[end + 1..];
            Some(p)
        };
        let provider = part()?;
        let version = part()?;
        let key = part()?;
        Some(Encryption {
            provider: String::from_utf8_lossy(provider),
            version: String::from_utf8_lossy(version),
            key: String::from_utf8_lossy(key),
        })
    }
}

/// A time as the object states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Time<'a> {
    /// RFC 3339 text as stored (JSON, CBOR); empty for protobuf times, whose text
    /// [`Time::rfc3339`] formats on demand (most are never printed).
    pub text: Cow<'a, str>,
    /// Microseconds since the epoch, when known.
    pub unix_micros: Option<i64>,
    /// Seconds since the epoch (protobuf `seconds`).
    pub seconds: Option<i64>,
}

impl<'a> Time<'a> {
    fn from_parts(seconds: i64, nanos: i64) -> Time<'a> {
        Time {
            text: Cow::Borrowed(""),
            unix_micros: seconds
                .checked_mul(1_000_000)
                .and_then(|m| m.checked_add(nanos / 1000)),
            seconds: Some(seconds),
        }
    }

    pub(crate) fn from_text(text: Cow<'a, str>) -> Time<'a> {
        let unix_micros = super::parse_rfc3339_micros(&text);
        Time {
            text,
            unix_micros,
            seconds: None,
        }
    }

    /// The time as metav1.Time prints it in JSON (RFC 3339, seconds, UTC) for protobuf
    /// times; the stored text for JSON and CBOR.
    pub fn rfc3339(&self) -> Cow<'a, str> {
        match self.seconds {
            Some(s) if self.text.is_empty() => Cow::Owned(super::rfc3339(s)),
            _ => self.text.clone(),
        }
    }
}

/// One `metadata.ownerReferences` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnerRef<'a> {
    /// apiVersion.
    pub api_version: Cow<'a, str>,
    /// kind.
    pub kind: Cow<'a, str>,
    /// name.
    pub name: Cow<'a, str>,
    /// uid.
    pub uid: Cow<'a, str>,
    /// controller.
    pub controller: bool,
}

/// What the accounting reads of `metadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectMeta<'a> {
    /// name.
    pub name: Cow<'a, str>,
    /// generateName.
    pub generate_name: Cow<'a, str>,
    /// namespace ("" for cluster-scoped objects).
    pub namespace: Cow<'a, str>,
    /// uid.
    pub uid: Cow<'a, str>,
    /// resourceVersion as stored (the apiserver normally stores "").
    pub resource_version: Cow<'a, str>,
    /// generation.
    pub generation: i64,
    /// creationTimestamp.
    pub creation_timestamp: Option<Time<'a>>,
    /// deletionTimestamp.
    pub deletion_timestamp: Option<Time<'a>>,
    /// labels (kept only when asked for), in stored order.
    pub labels: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Number of annotations.
    pub annotations: u64,
    /// Length of the last-applied-configuration annotation's value.
    pub last_applied_bytes: u64,
    /// Length of the other annotations' values.
    pub other_annotations_bytes: u64,
    /// ownerReferences (the first [`MAX_LIST`]).
    pub owner_references: Vec<OwnerRef<'a>>,
    /// finalizers (the first [`MAX_LIST`]).
    pub finalizers: Vec<Cow<'a, str>>,
    /// Number of managedFields entries.
    pub managed_fields: u64,
    /// Bytes managedFields occupies in the stored value (see the shared spec).
    pub managed_fields_bytes: u64,
}

impl ObjectMeta<'_> {
    /// The controller owner reference as `Kind/name`, "" when none.
    pub fn controller_owner(&self) -> String {
        self.owner_references
            .iter()
            .find(|o| o.controller)
            .map(|o| format!("{}/{}", o.kind, o.name))
            .unwrap_or_default()
    }

    pub(crate) fn add_annotation(&mut self, key: &str, value_len: usize) {
        self.annotations += 1;
        if key == super::LAST_APPLIED_ANNOTATION {
            self.last_applied_bytes += value_len as u64;
        } else {
            self.other_annotations_bytes += value_len as u64;
        }
    }
}

/// A Lease's spec (coordination.k8s.io/v1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseSpec<'a> {
    /// holderIdentity.
    pub holder: Cow<'a, str>,
    /// leaseDurationSeconds.
    pub duration_seconds: Option<i64>,
    /// renewTime.
    pub renew_time: Option<Time<'a>>,
}

/// What an Event (core/v1) is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventRef<'a> {
    /// involvedObject.namespace.
    pub namespace: Cow<'a, str>,
    /// involvedObject.kind.
    pub kind: Cow<'a, str>,
    /// involvedObject.name.
    pub name: Cow<'a, str>,
    /// reason.
    pub reason: Cow<'a, str>,
    /// count.
    pub count: i64,
}

/// One value, decoded as far as the accounting needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// The form.
    pub encoding: Encoding,
    /// TypeMeta apiVersion ("" when unknown).
    pub api_version: Cow<'a, str>,
    /// TypeMeta kind ("" when unknown).
    pub kind: Cow<'a, str>,
    /// metadata, for readable forms.
    pub meta: Option<ObjectMeta<'a>>,
    /// The envelope of an encrypted value.
    pub encryption: Option<Encryption<'a>>,
    /// A Lease's spec.
    pub lease: Option<LeaseSpec<'a>>,
    /// An Event's involved object and reason.
    pub event: Option<EventRef<'a>>,
    /// protobuf: the typed object (`raw`); json, cbor, unknown: the whole value;
    /// encrypted: empty.
    pub body: &'a [u8],
    /// protobuf: runtime.Unknown contentType, when set.
    pub content_type: Cow<'a, str>,
    /// Why decoding stopped early, with the byte offset in the value.
    pub error: Option<DecodeError>,
}

/// Why a value stopped decoding early. A protobuf error is kept as found and written out
/// only when shown: the accounting counts every error but prints the first few.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The protobuf envelope or object is malformed (offset from the start of the value).
    Proto(ProtoError),
    /// Any other reason, in words.
    Text(String),
}

impl DecodeError {
    /// Whether the words contain `pat`.
    pub fn contains(&self, pat: &str) -> bool {
        self.to_string().contains(pat)
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Proto(e) => e.fmt(f),
            DecodeError::Text(s) => f.write_str(s),
        }
    }
}

impl From<String> for DecodeError {
    fn from(s: String) -> Self {
        DecodeError::Text(s)
    }
}

impl From<&str> for DecodeError {
    fn from(s: &str) -> Self {
        DecodeError::Text(s.to_string())
    }
}

/// Serialized as its words.
impl serde::Serialize for DecodeError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'a> Decoded<'a> {
    fn new(encoding: Encoding) -> Self {
        Decoded {
            encoding,
            api_version: Cow::Borrowed(""),
            kind: Cow::Borrowed(""),
            meta: None,
            encryption: None,
            lease: None,
            event: None,
            body: &[],
            content_type: Cow::Borrowed(""),
            error: None,
        }
    }

    /// True when metadata was read (the object counts as decoded).
    pub fn is_decoded(&self) -> bool {
        self.meta.is_some()
    }
}

/// What to read beyond the accounting's needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeOptions {
    /// Keep the labels (history and get show them; the accounting does not need them).
    pub labels: bool,
}

/// Decodes one stored value. Never fails: what cannot be read is said in
/// [`Decoded::error`], with what was read before it kept.
pub fn decode_value(value: &[u8], opts: DecodeOptions) -> Decoded<'_> {
    let enc = Encoding::of(value);
    let mut d = Decoded::new(enc);
    match enc {
        Encoding::Encrypted => {
            d.encryption = Encryption::parse(value);
            if d.encryption.is_none() {
                d.error =
                    Some("encrypted value without a complete provider:version:key prefix".into());
            }
        }
        Encoding::Unknown => d.body = value,
        Encoding::Protobuf => {
            if let Err(e) = decode_protobuf(value, opts, &mut d) {
                d.error = Some(DecodeError::Proto(e));
            }
        }
        Encoding::Json => super::json::decode(value, opts, &mut d),
        Encoding::Cbor => super::cbor::decode(value, opts, &mut d),
    }
    d
}

/// Offsets in errors count from the start of the value.
fn at(base: usize, e: ProtoError) -> ProtoError {
    ProtoError {
        offset: base + e.offset,
        what: e.what,
    }
}

fn bytes_of(w: Wire<'_>) -> Option<(&[u8], usize)> {
    match w {
        Wire::Bytes { data, start } => Some((data, start)),
        _ => None,
    }
}

fn varint_of(w: Wire<'_>) -> Option<u64> {
    match w {
        Wire::Varint(v) => Some(v),
        _ => None,
    }
}

/// A protobuf string: borrowed when UTF-8, else lossy.
pub(crate) fn pstr(b: &[u8]) -> Cow<'_, str> {
    // from_utf8 is the fast path; the lossy walk only for bytes that are not UTF-8.
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

fn decode_protobuf<'a>(
    value: &'a [u8],
    opts: DecodeOptions,
    d: &mut Decoded<'a>,
) -> Result<(), ProtoError> {
    let base = PROTOBUF_MAGIC.len();
    let unknown = &value[base..];
    let mut r = FieldReader::new(unknown);
    let mut raw: Option<(&[u8], usize)> = None;
    while let Some((field, w)) = r.next_field().map_err(|e| at(base, e))? {
        match (field, bytes_of(w)) {
            (1, Some((tm, start))) => {
                let mut t = FieldReader::new(tm);
                while let Some((f, w)) = t.next_field().map_err(|e| at(base + start, e))? {
                    match (f, bytes_of(w)) {
                        (1, Some((s, _))) => d.api_version = pstr(s),
                        (2, Some((s, _))) => d.kind = pstr(s),
                        _ => {}
                    }
                }
            }
            (2, Some(b)) => raw = Some(b),
            (4, Some((s, _))) => d.content_type = pstr(s),
            _ => {}
        }
    }
    let Some((raw, raw_start)) = raw else {
        return Err(ProtoError {
            offset: base,
            what: "runtime.Unknown without raw",
        });
    };
    d.body = raw;
    let off = base + raw_start;
    let is_event = d.kind == "Event" && d.api_version == "v1";
    let is_lease = d.kind == "Lease" && d.api_version.starts_with("coordination.k8s.io/");
    let mut r = FieldReader::new(raw);
    let mut meta = ObjectMeta::default();
    let mut have_meta = false;
    while let Some((field, w)) = r.next_field().map_err(|e| at(off, e))? {
        let Some((b, start)) = bytes_of(w) else {
            if is_event && field == 8 {
                d.event.get_or_insert_with(Default::default).count =
                    varint_of(w).unwrap_or(0) as i32 as i64;
            }
            continue;
        };
        match field {
            1 => {
                have_meta = true;
                object_meta(b, opts, &mut meta).map_err(|e| at(off + start, e))?;
            }
            2 if is_event => {
                let ev = d.event.get_or_insert_with(Default::default);
                let mut o = FieldReader::new(b);
                while let Some((f, w)) = o.next_field().map_err(|e| at(off + start, e))? {
                    match (f, bytes_of(w)) {
                        (1, Some((s, _))) => ev.kind = pstr(s),
                        (2, Some((s, _))) => ev.namespace = pstr(s),
                        (3, Some((s, _))) => ev.name = pstr(s),
                        _ => {}
                    }
                }
            }
            3 if is_event => d.event.get_or_insert_with(Default::default).reason = pstr(b),
            2 if is_lease => {
                let mut spec = LeaseSpec::default();
                let mut o = FieldReader::new(b);
                while let Some((f, w)) = o.next_field().map_err(|e| at(off + start, e))? {
                    match (f, w) {
                        (1, Wire::Bytes { data, .. }) => spec.holder = pstr(data),
                        (2, Wire::Varint(v)) => spec.duration_seconds = Some(v as i32 as i64),
                        (4, Wire::Bytes { data, start: s2 }) => {
                            spec.renew_time = Some(time(data).map_err(|e| at(off + start + s2, e))?)
                        }
                        _ => {}
                    }
                }
                d.lease = Some(spec);
            }
            _ => {}
        }
    }
    if have_meta {
        d.meta = Some(meta);
    }
    Ok(())
}

/// metav1.Time / MicroTime: 1 seconds (int64), 2 nanos (int32).
fn time(b: &[u8]) -> Result<Time<'static>, ProtoError> {
    let (mut secs, mut nanos) = (0i64, 0i64);
    let mut r = FieldReader::new(b);
    while let Some((f, w)) = r.next_field()? {
        match (f, w) {
            (1, Wire::Varint(v)) => secs = v as i64,
            (2, Wire::Varint(v)) => nanos = i64::from(v as i32),
            _ => {}
        }
    }
    Ok(Time::from_parts(secs, nanos))
}

/// A map entry {1 key, 2 value}.
fn map_entry(b: &[u8]) -> Result<(&[u8], &[u8]), ProtoError> {
    let (mut k, mut v): (&[u8], &[u8]) = (&[], &[]);
    let mut r = FieldReader::new(b);
    while let Some((f, w)) = r.next_field()? {
        match (f, bytes_of(w)) {
            (1, Some((s, _))) => k = s,
            (2, Some((s, _))) => v = s,
            _ => {}
        }
    }
    Ok((k, v))
}

fn object_meta<'a>(
    b: &'a [u8],
    opts: DecodeOptions,
    m: &mut ObjectMeta<'a>,
) -> Result<(), ProtoError> {
    let mut r = FieldReader::new(b);
    loop {
        let field_at = r.position();
        let Some((field, w)) = r.next_field()? else {
            break;
        };
        if field == 7 {
            m.generation = varint_of(w).unwrap_or(0) as i64;
            continue;
        }
        let Some((s, start)) = bytes_of(w) else {
            continue;
        };
        let rel_s = |e: ProtoError| at(start, e);
        match field {
            1 => m.name = pstr(s),
            2 => m.generate_name = pstr(s),
            3 => m.namespace = pstr(s),
            5 => m.uid = pstr(s),
            6 => m.resource_version = pstr(s),
            8 => m.creation_timestamp = Some(time(s).map_err(rel_s)?),
            9 => m.deletion_timestamp = Some(time(s).map_err(rel_s)?),
            11 if opts.labels && m.labels.len() < MAX_LIST => {
                let (k, v) = map_entry(s).map_err(rel_s)?;
                m.labels.push((pstr(k), pstr(v)));
            }
            12 => {
                let (k, v) = map_entry(s).map_err(rel_s)?;
                m.add_annotation(&pstr(k), v.len());
            }
            13 if m.owner_references.len() < MAX_LIST => {
                let mut o = OwnerRef::default();
                let mut or = FieldReader::new(s);
                while let Some((f, w)) = or.next_field().map_err(rel_s)? {
                    match (f, w) {
                        (1, Wire::Bytes { data, .. }) => o.kind = pstr(data),
                        (3, Wire::Bytes { data, .. }) => o.name = pstr(data),
                        (4, Wire::Bytes { data, .. }) => o.uid = pstr(data),
                        (5, Wire::Bytes { data, .. }) => o.api_version = pstr(data),
                        (6, Wire::Varint(v)) => o.controller = v != 0,
                        _ => {}
                    }
                }
                m.owner_references.push(o);
            }
            14 if m.finalizers.len() < MAX_LIST => m.finalizers.push(pstr(s)),
            17 => {
                m.managed_fields += 1;
                // The whole field as stored: tag, length prefix and payload.
                m.managed_fields_bytes += (r.position() - field_at) as u64;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Test helpers: protobuf encoding by field number (no generated types).
#[cfg(test)]
pub(crate) mod pb {
    /// Appends a varint.
    pub fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    /// A length-delimited field.
    pub fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
        varint(out, u64::from(field) << 3 | 2);
        varint(out, b.len() as u64);
        out.extend_from_slice(b);
    }
    /// A varint field.
    pub fn int(out: &mut Vec<u8>, field: u32, v: u64) {
        varint(out, u64::from(field) << 3);
        varint(out, v);
    }
    /// A message built by `f`.
    pub fn msg(field: u32, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut inner = Vec::new();
        f(&mut inner);
        let mut out = Vec::new();
        bytes(&mut out, field, &inner);
        out
    }
    /// `k8s\0` + Unknown{TypeMeta{apiVersion, kind}, raw}.
    pub fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let mut out = b"k8s\0".to_vec();
        let tm = msg(1, |m| {
            bytes(m, 1, api_version.as_bytes());
            bytes(m, 2, kind.as_bytes());
        });
        out.extend_from_slice(&tm);
        bytes(&mut out, 2, raw);
        bytes(&mut out, 3, b"");
        bytes(&mut out, 4, b"");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::pb::*;
    use super::*;

    fn pod_meta() -> (Vec<u8>, u64) {
        let mut m = Vec::new();
        bytes(&mut m, 1, b"web-1");
        bytes(&mut m, 3, b"default");
        bytes(&mut m, 5, b"uid-pod-1");
        int(&mut m, 7, 3);
        m.extend(msg(8, |t| int(t, 1, 1_700_000_000)));
        m.extend(msg(11, |e| {
            bytes(e, 1, b"app");
            bytes(e, 2, b"web");
        }));
        m.extend(msg(12, |e| {
            bytes(e, 1, LAST_APPLIED.as_bytes());
            bytes(e, 2, b"{\"a\":1}");
        }));
        m.extend(msg(12, |e| {
            bytes(e, 1, b"note");
            bytes(e, 2, b"hello");
        }));
        m.extend(msg(13, |o| {
            bytes(o, 1, b"ReplicaSet");
            bytes(o, 3, b"web-rs");
            bytes(o, 4, b"uid-rs");
            bytes(o, 5, b"apps/v1");
            int(o, 6, 1);
        }));
        let mf1 = msg(17, |e| bytes(e, 1, b"kubectl"));
        let mf2 = msg(17, |e| bytes(e, 1, &[b'x'; 200]));
        let mf_bytes = (mf1.len() + mf2.len()) as u64;
        m.extend(mf1);
        m.extend(mf2);
        (m, mf_bytes)
    }

    const LAST_APPLIED: &str = super::super::LAST_APPLIED_ANNOTATION;

    #[test]
    fn protobuf_envelope_yields_type_and_metadata() {
        let (meta, mf_bytes) = pod_meta();
        let mut raw = Vec::new();
        bytes(&mut raw, 1, &meta);
        raw.extend(msg(2, |s| bytes(s, 1, b"spec")));
        let v = envelope("v1", "Pod", &raw);
        let d = decode_value(&v, DecodeOptions { labels: true });
        assert_eq!(d.encoding, Encoding::Protobuf);
        assert_eq!((&*d.api_version, &*d.kind), ("v1", "Pod"));
        assert_eq!(d.error, None);
        let m = d.meta.unwrap();
        assert_eq!(
            (&*m.name, &*m.namespace, &*m.uid),
            ("web-1", "default", "uid-pod-1")
        );
        assert_eq!(m.generation, 3);
        assert_eq!(
            m.creation_timestamp.as_ref().unwrap().rfc3339(),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(m.labels, vec![(Cow::from("app"), Cow::from("web"))]);
        assert_eq!((m.last_applied_bytes, m.other_annotations_bytes), (7, 5));
        assert_eq!(m.managed_fields, 2);
        assert_eq!(m.managed_fields_bytes, mf_bytes);
        assert_eq!(m.controller_owner(), "ReplicaSet/web-rs");
        assert_eq!(m.owner_references[0].uid, "uid-rs");
    }

    #[test]
    fn event_and_lease_fields_are_read() {
        let mut raw = msg(1, |m| bytes(m, 1, b"e1"));
        raw.extend(msg(2, |o| {
            bytes(o, 1, b"Pod");
            bytes(o, 2, b"ci");
            bytes(o, 3, b"job-x");
        }));
        bytes(&mut raw, 3, b"BackOff");
        int(&mut raw, 8, 7);
        let v = envelope("v1", "Event", &raw);
        let d = decode_value(&v, DecodeOptions::default());
        let e = d.event.unwrap();
        assert_eq!(
            (&*e.kind, &*e.namespace, &*e.name, &*e.reason, e.count),
            ("Pod", "ci", "job-x", "BackOff", 7)
        );

        let mut raw = msg(1, |m| bytes(m, 1, b"node-1"));
        raw.extend(msg(2, |s| {
            bytes(s, 1, b"node-1");
            int(s, 2, 40);
            s.extend(msg(4, |t| {
                int(t, 1, 1000);
                int(t, 2, 5000);
            }));
        }));
        let v = envelope("coordination.k8s.io/v1", "Lease", &raw);
        let d = decode_value(&v, DecodeOptions::default());
        let l = d.lease.unwrap();
        assert_eq!((&*l.holder, l.duration_seconds), ("node-1", Some(40)));
        assert_eq!(l.renew_time.unwrap().unix_micros, Some(1_000_000_005));
    }

    #[test]
    fn encrypted_values_name_provider_and_key() {
        let d = decode_value(b"k8s:enc:aescbc:v1:key1:\x01\x02", DecodeOptions::default());
        assert_eq!(d.encoding, Encoding::Encrypted);
        let e = d.encryption.unwrap();
        assert_eq!(e.label(), "aescbc:key1");
        assert_eq!(e.version, "v1");
        let d = decode_value(b"k8s:enc:kms:v2:my-kms:\x0a\x00", DecodeOptions::default());
        assert_eq!(d.encryption.unwrap().label(), "kms:my-kms");
        let d = decode_value(b"k8s:enc:aescbc", DecodeOptions::default());
        assert!(d.encryption.is_none() && d.error.is_some());
        assert!(!d.is_decoded());
    }

    #[test]
    fn other_values_are_unknown_without_error() {
        for v in [&b""[..], b"hello", b"\x00\x01", b"k8s"] {
            let d = decode_value(v, DecodeOptions::default());
            assert_eq!(d.encoding, Encoding::Unknown);
            assert_eq!(d.error, None);
        }
    }

    #[test]
    fn truncated_protobuf_reports_offset_and_keeps_type() {
        let (meta, _) = pod_meta();
        let mut raw = Vec::new();
        bytes(&mut raw, 1, &meta);
        let v = envelope("v1", "Pod", &raw);
        for cut in 4..v.len() {
            let d = decode_value(&v[..cut], DecodeOptions::default());
            assert_eq!(d.encoding, Encoding::Protobuf);
        }
        let d = decode_value(&v[..v.len() - 10], DecodeOptions::default());
        assert!(d.error.unwrap().contains("byte"));
    }
}
