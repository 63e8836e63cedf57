//! Text forms etcd's tools print: Go's compact protobuf text format (`m.String()`), Go's
//! `%q` quoting, `types.ID` hex, and etcd-dump-logs' entry classification and rows
//! (etcd `tools/etcd-dump-logs/main.go`).

pub use crate::entry::DecodedEntry;
use crate::entry::{DataKind, EntryView};
use crate::pb::{self, Scalar, Visit, Visitor};
use crate::record::EntryRef;
use std::io::Write;

/// Decides whether the value stored under a key is hidden, and what is printed instead;
/// and whether passwords are hidden.
pub struct Redact<'r> {
    /// True when the value under this key must not be shown.
    pub hides: &'r (dyn Fn(&[u8]) -> bool + Sync),
    /// Printed in place of a hidden value.
    pub marker: &'r str,
    /// When set, every password field ([`is_password_field`]) prints this instead.
    pub password_marker: Option<&'r str>,
}

impl std::fmt::Debug for Redact<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redact")
            .field("marker", &self.marker)
            .field("password_marker", &self.password_marker)
            .finish()
    }
}

/// Field names that hold a credential: the plaintext `password` of auth_user_add,
/// auth_user_change_password and authenticate requests (3.4 proposes them as typed), the
/// `hashedPassword` of later releases, and an authenticate request's `simple_token`.
pub fn is_password_field(name: &str) -> bool {
    matches!(name, "password" | "hashedPassword" | "simple_token")
}

/// Field names that hold a key, and the value fields they govern, within one message.
pub fn is_key_field(name: &str) -> bool {
    matches!(name, "key" | "Path")
}

/// Field names that hold a value stored under the message's key.
pub fn is_value_field(name: &str) -> bool {
    matches!(name, "value" | "Val" | "PrevValue")
}

/// Printed text: a buffer that, given a sink, drains into it whenever it holds
/// [`TextSink::DRAIN_AT`] bytes, so that one huge entry is written piece by piece and never
/// held whole. Without a sink it only collects (a chunk formatted on a worker thread).
pub struct TextSink<'w> {
    /// Bytes not drained yet.
    pub buf: Vec<u8>,
    sink: Option<&'w mut dyn Write>,
    err: Option<std::io::Error>,
}

impl std::fmt::Debug for TextSink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextSink")
            .field("buffered", &self.buf.len())
            .field("draining", &self.sink.is_some())
            .finish()
    }
}

impl<'w> TextSink<'w> {
    /// Buffered bytes at which a draining sink writes them out.
    pub const DRAIN_AT: usize = 1 << 16;

    /// A sink that only collects.
    pub fn buffer(capacity: usize) -> TextSink<'w> {
        TextSink {
            buf: Vec::with_capacity(capacity),
            sink: None,
            err: None,
        }
    }

    /// A sink that only collects, into `buf` (emptied first; its allocation is reused).
    pub fn reusing(mut buf: Vec<u8>) -> TextSink<'w> {
        buf.clear();
        TextSink {
            buf,
            sink: None,
            err: None,
        }
    }

    /// A sink that drains into `w` as it fills.
    pub fn draining(w: &'w mut dyn Write) -> TextSink<'w> {
        TextSink {
            buf: Vec::with_capacity(Self::DRAIN_AT * 2),
            sink: Some(w),
            err: None,
        }
    }

    /// Appends bytes.
    #[inline]
    pub fn put(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Drains the buffer into the sink when it is full (no-op without a sink).
    #[inline]
    pub fn drain_if_full(&mut self) {
        if self.buf.len() >= Self::DRAIN_AT {
            self.drain();
        }
    }

    fn drain(&mut self) {
        if let Some(w) = self.sink.as_mut() {
            if self.err.is_none() {
                if let Err(e) = w.write_all(&self.buf) {
                    self.err = Some(e);
                }
            }
            self.buf.clear();
        }
    }

    /// Drains what is left; returns the first write error, or the collected bytes (empty
    /// for a draining sink).
    pub fn finish(mut self) -> std::io::Result<Vec<u8>> {
        self.drain();
        match self.err.take() {
            Some(e) => Err(e),
            None => Ok(std::mem::take(&mut self.buf)),
        }
    }

    /// Appends `x` in decimal.
    #[inline]
    pub fn put_u64(&mut self, x: u64) {
        let mut b = [0u8; 20];
        let n = fmt_u64(x, &mut b);
        self.put(&b[n..]);
    }

    /// Appends `x` in decimal, right-aligned to `width` with spaces (Go's `%<width>d`).
    pub fn put_u64_padded(&mut self, x: u64, width: usize) {
        let mut b = [0u8; 20];
        let n = fmt_u64(x, &mut b);
        for _ in (20 - n)..width {
            self.buf.push(b' ');
        }
        self.put(&b[n..]);
    }

    /// Appends `x` in decimal.
    pub fn put_i64(&mut self, x: i64) {
        if x < 0 {
            self.buf.push(b'-');
        }
        self.put_u64(x.unsigned_abs());
    }
}

/// Writing to a sink appends (and drains when full), so `serde_json` and `write!` print
/// through it too.
impl Write for TextSink<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.put(b);
        self.drain_if_full();
        match &self.err {
            Some(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            None => Ok(b.len()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes `x` in decimal at the end of `b`; returns where it starts.
#[inline]
fn fmt_u64(mut x: u64, b: &mut [u8; 20]) -> usize {
    let mut i = 20;
    loop {
        i -= 1;
        b[i] = b'0' + (x % 10) as u8;
        x /= 10;
        if x == 0 {
            return i;
        }
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` that needs escaping in Go's protobuf text format
/// (below 0x20, 0x7f and above, `"`, `\\`), and maybe of bytes above such a byte (the
/// borrow of the subtractions runs upwards): zero exactly when no byte needs escaping.
#[inline]
fn escape_bits(w: u64) -> u64 {
    let zero = |v: u64| v.wrapping_sub(LO) & !v;
    // A byte of 0x7f or more has its high bit set, itself or once one is added.
    let high = w | w.wrapping_add(LO);
    let low = w.wrapping_sub(LO * 0x20) & !w;
    (high | low | zero(w ^ (LO * 0x22)) | zero(w ^ (LO * 0x5c))) & HI
}

/// True when some byte of the 8 in `w` needs escaping in Go's protobuf text format.
#[inline]
fn word_needs_escape(w: u64) -> bool {
    escape_bits(w) != 0
}

/// Each byte as Go's protobuf text format writes it inside a quoted string, left-aligned
/// in four bytes, with its length: itself for printable ASCII but `"` and `\\`, a
/// two-byte escape for `\n \r \t \" \\`, three-digit octal for the rest.
static ESCAPED: [([u8; 4], u8); 256] = {
    let mut t = [([0u8; 4], 0u8); 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        t[c] = match b {
            b'\n' => ([b'\\', b'n', 0, 0], 2),
            b'\r' => ([b'\\', b'r', 0, 0], 2),
            b'\t' => ([b'\\', b't', 0, 0], 2),
            b'"' => ([b'\\', b'"', 0, 0], 2),
            b'\\' => ([b'\\', b'\\', 0, 0], 2),
            0x20..=0x7e => ([b, 0, 0, 0], 1),
            _ => (
                [
                    b'\\',
                    b'0' + (b >> 6),
                    b'0' + ((b >> 3) & 7),
                    b'0' + (b & 7),
                ],
                4,
            ),
        };
        c += 1;
    }
    t
};

/// Eight zero bytes escaped.
const ZEROS_ESCAPED: &[u8; 32] = b"\\000\\000\\000\\000\\000\\000\\000\\000";

/// Bytes escaped through [`ESCAPED`] per step once a byte needs escaping, before looking
/// for a clean run again: binary values (mostly escapes) go through the table without a
/// branch per byte.
const ESCAPE_STEP: usize = 16;

/// Appends `b` as Go's protobuf text format writes bytes: quoted, `\n \r \t \" \\` escaped,
/// other bytes outside 0x20..0x7f as three-digit octal. Runs that need no escaping are
/// found eight bytes at a time and copied whole; from a byte that needs escaping on, the
/// next 16 bytes are written from a table into a small buffer.
pub fn push_proto_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'"');
    let mut i = 0;
    while i < b.len() {
        let start = i;
        // 32 bytes a step while none needs escaping, then 8.
        while let Some(w) = b.get(i..i + 32) {
            let word = |k: usize| {
                let mut a = [0u8; 8];
                a.copy_from_slice(&w[k..k + 8]);
                escape_bits(u64::from_le_bytes(a))
            };
            if word(0) | word(8) | word(16) | word(24) != 0 {
                break;
            }
            i += 32;
        }
        while let Some(w) = b.get(i..i + 8) {
            let mut a = [0u8; 8];
            a.copy_from_slice(w);
            if word_needs_escape(u64::from_le_bytes(a)) {
                break;
            }
            i += 8;
        }
        while i < b.len() && ESCAPED[usize::from(b[i])].1 == 1 {
            i += 1;
        }
        out.extend_from_slice(&b[start..i]);
        let Some(step) = b.get(i..(i + ESCAPE_STEP).min(b.len())) else {
            break;
        };
        let mut tmp = [0u8; ESCAPE_STEP * 4];
        let mut n = 0;
        for word in step.chunks(8) {
            // Eight zero bytes (padding in binary keys and values) are one copy.
            if word.len() == 8 && word.iter().fold(0, |a, &c| a | c) == 0 {
                if let Some(dst) = tmp.get_mut(n..n + 32) {
                    dst.copy_from_slice(ZEROS_ESCAPED);
                }
                n += 32;
                continue;
            }
            for &c in word {
                let (e, len) = ESCAPED[usize::from(c)];
                if let Some(dst) = tmp.get_mut(n..n + 4) {
                    dst.copy_from_slice(&e);
                }
                n += usize::from(len);
            }
        }
        out.extend_from_slice(&tmp[..n]);
        i += step.len();
    }
    out.push(b'"');
}

struct TextWriter<'o, 'w, 'r> {
    out: &'o mut TextSink<'w>,
    redact: Option<&'o Redact<'r>>,
    /// The message's key is one whose values are hidden (the key precedes its values in
    /// every message's declaration order, so it is known when they come).
    hide_values: bool,
}

impl Visitor for TextWriter<'_, '_, '_> {
    fn scalar(&mut self, name: &'static str, value: Scalar<'_>) {
        self.out.put(name.as_bytes());
        self.out.buf.push(b':');
        match value {
            Scalar::U64(x) => self.out.put_u64(x),
            Scalar::I64(x) => self.out.put_i64(x),
            Scalar::Bool(x) => self.out.put(if x { b"true" } else { b"false" }),
            Scalar::Enum(_, Some(n)) => self.out.put(n.as_bytes()),
            Scalar::Enum(x, None) => self.out.put_i64(i64::from(x)),
            Scalar::Bytes(b) => {
                if is_key_field(name) {
                    self.hide_values = self.redact.is_some_and(|r| (r.hides)(b));
                }
                let password = self
                    .redact
                    .and_then(|r| r.password_marker)
                    .filter(|_| is_password_field(name));
                if let Some(m) = password {
                    push_proto_bytes(&mut self.out.buf, m.as_bytes());
                } else if self.hide_values && is_value_field(name) {
                    let marker = self.redact.map_or("", |r| r.marker);
                    push_proto_bytes(&mut self.out.buf, marker.as_bytes());
                } else {
                    push_proto_bytes(&mut self.out.buf, b);
                }
            }
        }
        self.out.buf.push(b' ');
        self.out.drain_if_full();
    }

    fn message(&mut self, name: &'static str, m: &dyn Visit) {
        self.out.put(name.as_bytes());
        self.out.put(b":<");
        let mut inner = TextWriter {
            out: &mut *self.out,
            redact: self.redact,
            hide_values: false,
        };
        m.visit(&mut inner);
        self.out.put(b"> ");
        self.out.drain_if_full();
    }
}

/// Writes Go's compact text form of a message (what gogo's `String()` prints) to `out`,
/// values under hidden keys replaced by the marker.
pub fn write_compact_text(out: &mut TextSink<'_>, m: &dyn Visit, redact: Option<&Redact<'_>>) {
    let mut w = TextWriter {
        out,
        redact,
        hide_values: false,
    };
    m.visit(&mut w);
}

/// Go's compact text form of a message (what gogo's `String()` prints), values under hidden
/// keys replaced by the marker.
pub fn compact_text(m: &dyn Visit, redact: Option<&Redact<'_>>) -> String {
    let mut out = TextSink::buffer(64);
    write_compact_text(&mut out, m, redact);
    String::from_utf8_lossy(&out.buf).into_owned()
}

/// etcd's `types.ID` form: lowercase hex without padding.
pub fn id_hex(id: u64) -> String {
    format!("{id:x}")
}

pub use crate::goquote::go_quote;

/// etcd-dump-logs' `excerpt`: the whole string quoted when short, else the first `pre` and
/// last `suf` bytes quoted around `...`.
pub fn excerpt(b: &[u8], pre: usize, suf: usize) -> String {
    if pre + suf > b.len() {
        return go_quote(b);
    }
    format!(
        "{}...{}",
        go_quote(&b[..pre]),
        go_quote(&b[b.len() - suf..])
    )
}

/// Go's `time.Time` String of `ns` nanoseconds after the epoch, in UTC:
/// `2006-01-02 15:04:05.999999999 +0000 UTC` (trailing zeros of the fraction dropped).
pub fn go_time_utc(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    );
    if frac != 0 {
        let f = format!("{frac:09}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push_str(" +0000 UTC");
    s
}

/// etcd-dump-logs' `--entry-type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFilter {
    /// Conf change entries.
    ConfigChange,
    /// All normal entries (InternalRaftRequest, Request, unknown).
    Normal,
    /// v2 Requests.
    Request,
    /// Any InternalRaftRequest.
    InternalRaftRequest,
    /// InternalRaftRequest with range.
    IRRRange,
    /// ... with put.
    IRRPut,
    /// ... with delete_range.
    IRRDeleteRange,
    /// ... with txn.
    IRRTxn,
    /// ... with compaction.
    IRRCompaction,
    /// ... with lease_grant.
    IRRLeaseGrant,
    /// ... with lease_revoke.
    IRRLeaseRevoke,
    /// ... with lease_checkpoint.
    IRRLeaseCheckpoint,
}

/// All filter names, in etcd-dump-logs' help order.
pub const DUMP_FILTER_NAMES: &[&str] = &[
    "ConfigChange",
    "Normal",
    "Request",
    "InternalRaftRequest",
    "IRRRange",
    "IRRPut",
    "IRRDeleteRange",
    "IRRTxn",
    "IRRCompaction",
    "IRRLeaseGrant",
    "IRRLeaseRevoke",
    "IRRLeaseCheckpoint",
];

impl DumpFilter {
    /// Parses one name.
    pub fn parse(s: &str) -> Option<DumpFilter> {
        use DumpFilter::*;
        Some(match s {
            "ConfigChange" => ConfigChange,
            "Normal" => Normal,
            "Request" => Request,
            "InternalRaftRequest" => InternalRaftRequest,
            "IRRRange" => IRRRange,
            "IRRPut" => IRRPut,
            "IRRDeleteRange" => IRRDeleteRange,
            "IRRTxn" => IRRTxn,
            "IRRCompaction" => IRRCompaction,
            "IRRLeaseGrant" => IRRLeaseGrant,
            "IRRLeaseRevoke" => IRRLeaseRevoke,
            "IRRLeaseCheckpoint" => IRRLeaseCheckpoint,
            _ => return None,
        })
    }
}

/// etcd-dump-logs' decision for one entry under `filters` (empty = its default list):
/// whether it is printed.
pub fn dump_filter_passes(d: &EntryView<'_>, filters: &[DumpFilter]) -> bool {
    use DumpFilter::*;
    let has = |name: &str| d.has_request(name);
    if filters.is_empty() {
        // IRR, Request, unknown normal, conf change (v2 conf changes are printed too).
        return d.kind != DataKind::UnknownType;
    }
    filters.iter().any(|f| match f {
        ConfigChange => matches!(
            d.kind,
            DataKind::ConfChange
                | DataKind::BadConfChange
                | DataKind::ConfChangeV2
                | DataKind::BadConfChangeV2
        ),
        Normal => matches!(
            d.kind,
            DataKind::Empty | DataKind::Internal | DataKind::V2 | DataKind::UndecodableNormal
        ),
        Request => d.kind == DataKind::V2,
        InternalRaftRequest => matches!(d.kind, DataKind::Empty | DataKind::Internal),
        IRRRange => has("range"),
        IRRPut => has("put"),
        IRRDeleteRange => has("delete_range"),
        IRRTxn => has("txn"),
        IRRCompaction => has("compaction"),
        IRRLeaseGrant => has("lease_grant"),
        IRRLeaseRevoke => has("lease_revoke"),
        IRRLeaseCheckpoint => has("lease_checkpoint"),
    })
}

/// Writes one etcd-dump-logs row (without newline) to `out`: `term\tindex\ttype\tdata`.
/// Data from the WAL is always escaped, so the row holds no control characters besides
/// its tabs.
pub fn write_row(
    out: &mut TextSink<'_>,
    e: &EntryRef<'_>,
    d: &EntryView<'_>,
    redact: Option<&Redact<'_>>,
) {
    out.put_u64_padded(e.term, 4);
    out.put(b"\t");
    out.put_u64_padded(e.index, 10);
    let m = d.message();
    match (d.kind, m) {
        (DataKind::ConfChange, Some(c)) => {
            out.put(b"\tconf\tmethod=");
            let t = c.varint("Type") as i32;
            match pb::enum_name(pb::CONF_CHANGE_TYPE, t) {
                Some(n) => out.put(n.as_bytes()),
                None => out.put_i64(i64::from(t)),
            }
            out.put(b" id=");
            out.put(id_hex(c.varint("NodeID")).as_bytes());
        }
        (DataKind::ConfChangeV2, Some(c)) => {
            out.put(b"\tconf\t");
            write_compact_text(out, &c, None);
        }
        (DataKind::Internal, Some(r)) => {
            out.put(b"\tnorm\t");
            write_compact_text(out, &r, redact);
        }
        (DataKind::V2, Some(r)) => {
            let method = r.bytes("Method");
            let path = r.bytes("Path");
            // Go prints the method as is; escape it so a row never holds control characters.
            let m = go_quote(method);
            let m = &m[1..m.len() - 1];
            let hidden = redact.is_some_and(|x| (x.hides)(path));
            let val: &[u8] = if hidden {
                redact.map_or(&[][..], |x| x.marker.as_bytes())
            } else {
                r.bytes("Val")
            };
            let text = match method {
                b"" => "noop".to_string(),
                b"SYNC" => format!(
                    "method=SYNC time={}",
                    go_quote(go_time_utc(r.varint("Time") as i64).as_bytes())
                ),
                b"QGET" | b"DELETE" => {
                    format!("method={m} path={}", excerpt(path, 64, 64))
                }
                _ => format!(
                    "method={m} path={} val={}",
                    excerpt(path, 64, 64),
                    excerpt(val, 128, 0)
                ),
            };
            out.put(b"\tnorm\t");
            out.put(text.as_bytes());
        }
        (DataKind::Empty, _) => out.put(b"\tnorm\t"),
        (DataKind::UnknownType, _) => out.put(b"\t???\t???"),
        (DataKind::BadConfChange | DataKind::BadConfChangeV2, _) => out.put(b"\tconf\t???"),
        _ => out.put(b"\tnorm\t???"),
    }
}

/// One etcd-dump-logs row (without newline), as [`write_row`] writes it.
pub fn dump_row(e: &EntryRef<'_>, d: &EntryView<'_>, redact: Option<&Redact<'_>>) -> String {
    let mut out = TextSink::buffer(64);
    write_row(&mut out, e, d, redact);
    String::from_utf8_lossy(&out.buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_text_matches_go_for_put_and_empty_messages() {
        let r = pb::InternalRaftRequest {
            id: 6,
            put: Some(pb::PutRequest {
                key: b"foo1".to_vec(),
                value: b"bar1".to_vec(),
                lease: 1,
                ignore_lease: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            compact_text(&r, None),
            "ID:6 put:<key:\"foo1\" value:\"bar1\" lease:1 ignore_lease:true > "
        );
        let r = pb::InternalRaftRequest {
            id: 13,
            auth_enable: Some(pb::Empty {}),
            ..Default::default()
        };
        assert_eq!(compact_text(&r, None), "ID:13 auth_enable:<> ");
    }

    #[test]
    fn unknown_enum_values_print_as_numbers_like_go() {
        let r = pb::InternalRaftRequest {
            id: 12,
            alarm: Some(pb::AlarmRequest {
                action: 3,
                member_id: 4,
                alarm: 5,
            }),
            ..Default::default()
        };
        assert_eq!(
            compact_text(&r, None),
            "ID:12 alarm:<action:3 memberID:4 alarm:5 > "
        );
    }

    #[test]
    fn values_under_hidden_keys_are_replaced() {
        let r = pb::PutRequest {
            key: b"/registry/secrets/a".to_vec(),
            value: b"topsecret".to_vec(),
            ..Default::default()
        };
        let hides = |k: &[u8]| k.starts_with(b"/registry/secrets/");
        let red = Redact {
            hides: &hides,
            marker: "<redacted>",
            password_marker: None,
        };
        let t = compact_text(&r, Some(&red));
        assert!(!t.contains("topsecret"));
        assert!(t.contains("<redacted>"));
    }

    fn auth_requests() -> Vec<pb::InternalRaftRequest> {
        vec![
            pb::InternalRaftRequest {
                id: 5,
                auth_user_add: Some(pb::AuthUserAddRequest {
                    name: b"root".to_vec(),
                    password: b"rootpw".to_vec(),
                    hashed_password: b"$2a$10$abcdefghijklmnopqrstuv".to_vec(),
                    options: Some(pb::UserAddOptions::default()),
                }),
                ..Default::default()
            },
            pb::InternalRaftRequest {
                id: 6,
                auth_user_change_password: Some(pb::AuthUserChangePasswordRequest {
                    name: b"alice".to_vec(),
                    password: b"alicepw2".to_vec(),
                    hashed_password: b"$2a$10$zyxwvutsrqponmlkjihgfe".to_vec(),
                }),
                ..Default::default()
            },
        ]
    }

    #[test]
    fn passwords_and_hashes_of_auth_requests_are_replaced() {
        let none = |_: &[u8]| false;
        let red = Redact {
            hides: &none,
            marker: "<redacted>",
            password_marker: Some("<pw>"),
        };
        let add = compact_text(&auth_requests()[0], Some(&red));
        assert_eq!(
            add,
            "ID:5 auth_user_add:<name:\"root\" password:\"<pw>\" options:<> hashedPassword:\"<pw>\" > "
        );
        let change = compact_text(&auth_requests()[1], Some(&red));
        assert!(
            !change.contains("alicepw2") && !change.contains("$2a$"),
            "{change}"
        );
        assert_eq!(change.matches("<pw>").count(), 2);
    }

    #[test]
    fn passwords_are_printed_when_no_password_marker_is_set() {
        let none = |_: &[u8]| false;
        let red = Redact {
            hides: &none,
            marker: "<redacted>",
            password_marker: None,
        };
        let add = compact_text(&auth_requests()[0], Some(&red));
        assert!(add.contains("password:\"rootpw\"") && add.contains("$2a$10$"));
        // The records built here go through the WAL record encoder and back.
        let data = prost::Message::encode_to_vec(&auth_requests()[1]);
        let back = <pb::InternalRaftRequest as prost::Message>::decode(&data[..]).unwrap();
        assert!(compact_text(&back, None).contains("alicepw2"));
    }

    #[test]
    fn eight_byte_runs_escape_exactly_as_byte_by_byte() {
        fn slow(b: &[u8]) -> Vec<u8> {
            let mut out = vec![b'"'];
            for &c in b {
                match c {
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'"' => out.extend_from_slice(b"\\\""),
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    0x20..=0x7e => out.push(c),
                    _ => out.extend_from_slice(format!("\\{c:03o}").as_bytes()),
                }
            }
            out.push(b'"');
            out
        }
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for len in 0..300 {
            let mut b = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Mostly printable ASCII with every byte value now and then.
                let c = if x % 5 == 0 {
                    (x >> 8) as u8
                } else {
                    0x20 + (x >> 8) as u8 % 0x5f
                };
                b.push(c);
            }
            let mut fast = Vec::new();
            push_proto_bytes(&mut fast, &b);
            assert_eq!(fast, slow(&b), "{b:?}");
        }
        for c in 0..=255u8 {
            for at in 0..70 {
                let mut b = vec![b'a'; 70];
                b[at] = c;
                let mut fast = Vec::new();
                push_proto_bytes(&mut fast, &b);
                assert_eq!(fast, slow(&b), "{c} at {at}");
            }
        }
    }

    #[test]
    fn binary_runs_escape_through_the_table_exactly_as_byte_by_byte() {
        // Mostly bytes that need escaping, with printable runs of every length between:
        // the table steps and the clean-run search take turns at every alignment.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..200 {
            for printable_every in [2u64, 3, 7, 40] {
                // Even lengths: random bytes; odd: mostly zero runs (as in padded keys).
                let zeros = len % 2 == 1;
                let b: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        if x % printable_every == 0 {
                            b'a' + (x >> 8) as u8 % 26
                        } else if zeros && x % 31 != 0 {
                            0
                        } else {
                            (x >> 16) as u8
                        }
                    })
                    .collect();
                let mut fast = Vec::new();
                push_proto_bytes(&mut fast, &b);
                let mut slow = vec![b'"'];
                for &c in &b {
                    match c {
                        b'\n' => slow.extend_from_slice(b"\\n"),
                        b'\r' => slow.extend_from_slice(b"\\r"),
                        b'\t' => slow.extend_from_slice(b"\\t"),
                        b'"' => slow.extend_from_slice(b"\\\""),
                        b'\\' => slow.extend_from_slice(b"\\\\"),
                        0x20..=0x7e => slow.push(c),
                        _ => slow.extend_from_slice(format!("\\{c:03o}").as_bytes()),
                    }
                }
                slow.push(b'"');
                assert_eq!(fast, slow, "{b:?}");
            }
        }
    }

    #[test]
    fn non_printable_bytes_are_octal_escaped() {
        let mut s = Vec::new();
        push_proto_bytes(&mut s, b"a\x00\xff\"");
        assert_eq!(s, b"\"a\\000\\377\\\"\"");
    }

    #[test]
    fn go_time_formats_epoch_plus_one_ns() {
        assert_eq!(go_time_utc(1), "1970-01-01 00:00:00.000000001 +0000 UTC");
        assert_eq!(
            go_time_utc(1_600_000_000_000_000_000),
            "2020-09-13 12:26:40 +0000 UTC"
        );
    }
}
