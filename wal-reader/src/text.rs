//! Text forms etcd's tools print: Go's compact protobuf text format (`m.String()`), Go's
//! `%q` quoting, `types.ID` hex, and etcd-dump-logs' entry classification and rows
//! (etcd `tools/etcd-dump-logs/main.go`).

pub use crate::entry::DecodedEntry;
use crate::pb::{self, NormalData, Scalar, Visit, Visitor};
use crate::record::EntryRef;

/// Decides whether the value stored under a key is hidden, and what is printed instead;
/// and whether passwords are hidden.
pub struct Redact<'r> {
    /// True when the value under this key must not be shown.
    pub hides: &'r dyn Fn(&[u8]) -> bool,
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

/// Appends `b` as Go's protobuf text format writes bytes: quoted, `\n \r \t \" \\` escaped,
/// other bytes outside 0x20..0x7f as three-digit octal.
pub fn push_proto_bytes(out: &mut String, b: &[u8]) {
    out.push('"');
    for &c in b {
        match c {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(c as char),
            _ => {
                out.push('\\');
                out.push((b'0' + (c >> 6)) as char);
                out.push((b'0' + ((c >> 3) & 7)) as char);
                out.push((b'0' + (c & 7)) as char);
            }
        }
    }
    out.push('"');
}

struct TextWriter<'o, 'r> {
    out: &'o mut String,
    redact: Option<&'o Redact<'r>>,
    key: Option<Vec<u8>>,
}

impl Visitor for TextWriter<'_, '_> {
    fn scalar(&mut self, name: &'static str, value: Scalar<'_>) {
        use std::fmt::Write;
        self.out.push_str(name);
        self.out.push(':');
        match value {
            Scalar::U64(x) => {
                let _ = write!(self.out, "{x}");
            }
            Scalar::I64(x) => {
                let _ = write!(self.out, "{x}");
            }
            Scalar::Bool(x) => self.out.push_str(if x { "true" } else { "false" }),
            Scalar::Enum(_, Some(n)) => self.out.push_str(n),
            Scalar::Enum(x, None) => {
                let _ = write!(self.out, "{x}");
            }
            Scalar::Bytes(b) => {
                if is_key_field(name) {
                    self.key = Some(b.to_vec());
                }
                let hidden = match (self.redact, &self.key) {
                    (Some(r), Some(k)) if is_value_field(name) => (r.hides)(k),
                    _ => false,
                };
                let password = self
                    .redact
                    .and_then(|r| r.password_marker)
                    .filter(|_| is_password_field(name));
                if let Some(m) = password {
                    push_proto_bytes(self.out, m.as_bytes());
                } else if hidden {
                    push_proto_bytes(self.out, self.redact.map_or("", |r| r.marker).as_bytes());
                } else {
                    push_proto_bytes(self.out, b);
                }
            }
        }
        self.out.push(' ');
    }

    fn message(&mut self, name: &'static str, m: &dyn Visit) {
        self.out.push_str(name);
        self.out.push_str(":<");
        let mut inner = TextWriter {
            out: self.out,
            redact: self.redact,
            key: None,
        };
        m.visit(&mut inner);
        self.out.push_str("> ");
    }
}

/// Go's compact text form of a message (what gogo's `String()` prints), values under hidden
/// keys replaced by the marker.
pub fn compact_text(m: &dyn Visit, redact: Option<&Redact<'_>>) -> String {
    let mut out = String::new();
    let mut w = TextWriter {
        out: &mut out,
        redact,
        key: None,
    };
    m.visit(&mut w);
    out
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

fn irr(d: &DecodedEntry) -> Option<Option<&pb::InternalRaftRequest>> {
    match d {
        DecodedEntry::Normal(NormalData::Empty) => Some(None),
        DecodedEntry::Normal(NormalData::Internal(r)) => Some(Some(r)),
        _ => None,
    }
}

/// etcd-dump-logs' decision for one entry under `filters` (empty = its default list):
/// whether it is printed.
pub fn dump_filter_passes(d: &DecodedEntry, filters: &[DumpFilter]) -> bool {
    use DumpFilter::*;
    let has = |f: fn(&pb::InternalRaftRequest) -> bool| matches!(irr(d), Some(Some(r)) if f(r));
    if filters.is_empty() {
        // IRR, Request, unknown normal, conf change (v2 conf changes are printed too).
        return !matches!(d, DecodedEntry::Unknown);
    }
    filters.iter().any(|f| match f {
        ConfigChange => matches!(
            d,
            DecodedEntry::ConfChange(_) | DecodedEntry::ConfChangeV2(_)
        ),
        Normal => matches!(d, DecodedEntry::Normal(_)),
        Request => matches!(d, DecodedEntry::Normal(NormalData::V2(_))),
        InternalRaftRequest => irr(d).is_some(),
        IRRRange => has(|r| r.range.is_some()),
        IRRPut => has(|r| r.put.is_some()),
        IRRDeleteRange => has(|r| r.delete_range.is_some()),
        IRRTxn => has(|r| r.txn.is_some()),
        IRRCompaction => has(|r| r.compaction.is_some()),
        IRRLeaseGrant => has(|r| r.lease_grant.is_some()),
        IRRLeaseRevoke => has(|r| r.lease_revoke.is_some()),
        IRRLeaseCheckpoint => has(|r| r.lease_checkpoint.is_some()),
    })
}

/// One etcd-dump-logs row (without newline): `term\tindex\ttype\tdata`. Data from the WAL is
/// always escaped, so the row holds no control characters besides its tabs.
pub fn dump_row(e: &EntryRef<'_>, d: &DecodedEntry, redact: Option<&Redact<'_>>) -> String {
    let head = format!("{:4}\t{:10}", e.term, e.index);
    match d {
        DecodedEntry::ConfChange(Some(c)) => format!(
            "{head}\tconf\tmethod={} id={}",
            pb::enum_name(pb::CONF_CHANGE_TYPE, c.change_type)
                .map(str::to_string)
                .unwrap_or_else(|| c.change_type.to_string()),
            id_hex(c.node_id)
        ),
        DecodedEntry::ConfChange(None) | DecodedEntry::ConfChangeV2(None) => {
            format!("{head}\tconf\t???")
        }
        DecodedEntry::ConfChangeV2(Some(c)) => {
            format!("{head}\tconf\t{}", compact_text(c, None))
        }
        DecodedEntry::Normal(NormalData::Empty) => format!("{head}\tnorm\t"),
        DecodedEntry::Normal(NormalData::Internal(r)) => {
            format!("{head}\tnorm\t{}", compact_text(r.as_ref(), redact))
        }
        DecodedEntry::Normal(NormalData::V2(r)) => {
            let method = r.method.as_slice();
            // Go prints the method as is; escape it so a row never holds control characters.
            let m = go_quote(method);
            let m = &m[1..m.len() - 1];
            let hidden = redact.is_some_and(|x| (x.hides)(&r.path));
            let val: &[u8] = if hidden {
                redact.map_or(&[][..], |x| x.marker.as_bytes())
            } else {
                &r.val
            };
            match method {
                b"" => format!("{head}\tnorm\tnoop"),
                b"SYNC" => format!(
                    "{head}\tnorm\tmethod=SYNC time={}",
                    go_quote(go_time_utc(r.time).as_bytes())
                ),
                b"QGET" | b"DELETE" => {
                    format!("{head}\tnorm\tmethod={m} path={}", excerpt(&r.path, 64, 64))
                }
                _ => format!(
                    "{head}\tnorm\tmethod={m} path={} val={}",
                    excerpt(&r.path, 64, 64),
                    excerpt(val, 128, 0)
                ),
            }
        }
        DecodedEntry::Normal(NormalData::Unknown) => format!("{head}\tnorm\t???"),
        DecodedEntry::Unknown => format!("{head}\t???\t???"),
    }
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
    fn non_printable_bytes_are_octal_escaped() {
        let mut s = String::new();
        push_proto_bytes(&mut s, b"a\x00\xff\"");
        assert_eq!(s, "\"a\\000\\377\\\"\"");
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
