//! The bucket decoders of etcd v3.4's `tools/etcd-dump-db` (`iterate-bucket --decode`):
//! one line per entry of the `key`, `lease`, `auth`, `authRoles` and `authUsers` buckets,
//! in its format (Go `%q` quoting, protobuf text form for role permissions).
//!
//! Format facts (etcd v3.4.23 `tools/etcd-dump-db/backend.go`):
//! `key`: `rev={main:M sub:S}, value=[key %q | val %q | created %d | mod %d | ver %d]`;
//! `lease`: `lease ID=%016x, TTL=%ds`; `auth`: `key="authRevision", value=N` (u64
//! big-endian) or `key=%q, value=[b b ...]`; `authRoles`: `role=%q, keyPermission=[...]`;
//! `authUsers`: `user=%q, roles=[%q ...], password=%q, option=...`. A value that does not
//! decode is an `Err` with why, where etcd-dump-db would panic.

use crate::auth::AUTH_REVISION_KEY;
use crate::buckets::{AUTH_BUCKET, AUTH_ROLES_BUCKET, AUTH_USERS_BUCKET, KEY_BUCKET, LEASE_BUCKET};
use crate::proto::{expect_bytes, expect_varint, FieldReader, Wire};
use crate::revision::rev_lenient;
use crate::KeyValueRef;
use wal_reader::goquote::go_quote;

/// What a decoded line may show of secrets.
#[derive(Debug, Clone, Copy, Default)]
pub struct Secrets<'m> {
    /// Printed in place of a `key` bucket KeyValue's value (quoted), when set: the caller
    /// decided the value is a secret.
    pub kv_value_marker: Option<&'m str>,
    /// Print `authUsers` password hashes as they are (else a marker replaces them).
    pub show_password_hashes: bool,
}

/// The `--decode` line of one entry of top-level bucket `bucket`: `None` for a bucket
/// etcd-dump-db has no decoder for, `Err` with why for a value that does not decode.
pub fn decode_entry(
    bucket: &[u8],
    key: &[u8],
    value: &[u8],
    secrets: Secrets<'_>,
) -> Option<Result<String, String>> {
    match bucket {
        KEY_BUCKET => Some(match (rev_text(key), KeyValueRef::parse(value)) {
            (Some(rev), Ok(kv)) => {
                let val = match secrets.kv_value_marker {
                    Some(m) => go_quote(m.as_bytes()),
                    None => go_quote(kv.value),
                };
                Ok(format!(
                    "rev={rev}, value=[key {} | val {val} | created {} | mod {} | ver {}]",
                    go_quote(kv.key),
                    kv.create_revision,
                    kv.mod_revision,
                    kv.version
                ))
            }
            (None, _) => Err(format!("revision key of {} bytes", key.len())),
            (_, Err(e)) => Err(e.to_string()),
        }),
        LEASE_BUCKET => Some(
            match (<[u8; 8]>::try_from(key).ok(), crate::Lease::parse(value)) {
                (Some(k), Ok(l)) => Ok(format!(
                    "lease ID={:016x}, TTL={}s",
                    u64::from_be_bytes(k) as i64,
                    l.ttl
                )),
                (None, _) => Err("lease ID must be 8-byte".to_string()),
                (_, Err(e)) => Err(e.to_string()),
            },
        ),
        AUTH_BUCKET => Some(if key == AUTH_REVISION_KEY {
            match value.get(..8) {
                Some(b) => Ok(format!(
                    "key={}, value={}",
                    go_quote(key),
                    u64::from_be_bytes(b.try_into().unwrap_or([0; 8]))
                )),
                None => Err("authRevision shorter than 8 bytes".to_string()),
            }
        } else {
            let bytes: Vec<String> = value.iter().map(|b| b.to_string()).collect();
            Ok(format!(
                "key={}, value=[{}]",
                go_quote(key),
                bytes.join(" ")
            ))
        }),
        AUTH_ROLES_BUCKET => Some(decode_role(value)),
        AUTH_USERS_BUCKET => Some(decode_user(value, secrets.show_password_hashes)),
        _ => None,
    }
}

/// `{main:M sub:S}` of a revision key, read as etcd-dump-db does (bytes 0..8 and 9..17,
/// the separator and any mark unchecked).
fn rev_text(k: &[u8]) -> Option<String> {
    let r = rev_lenient(k)?;
    Some(format!("{{main:{} sub:{}}}", r.main, r.sub))
}

/// Proto text-format quoting of bytes (golang/protobuf `writeString`).
fn proto_text_quote(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b {
        match c {
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\{c:03o}")),
        }
    }
    s.push('"');
    s
}

fn decode_role(v: &[u8]) -> Result<String, String> {
    let mut name: &[u8] = b"";
    let mut perms = Vec::new();
    let mut r = FieldReader::new(v);
    let mut at = 0;
    while let Some((f, w)) = r.next_field().map_err(|e| e.to_string())? {
        match f {
            1 => name = expect_bytes(w, at).map_err(|e| e.to_string())?,
            2 => {
                let p = expect_bytes(w, at).map_err(|e| e.to_string())?;
                let mut text = String::new();
                let mut pr = FieldReader::new(p);
                let mut pat = 0;
                while let Some((pf, pw)) = pr.next_field().map_err(|e| e.to_string())? {
                    match (pf, pw) {
                        (1, w) => {
                            let t = expect_varint(w, pat).map_err(|e| e.to_string())?;
                            let n = match t {
                                0 => None,
                                1 => Some("WRITE".to_string()),
                                2 => Some("READWRITE".to_string()),
                                x => Some(x.to_string()),
                            };
                            if let Some(n) = n {
                                text.push_str(&format!("permType:{n} "));
                            }
                        }
                        (2, Wire::Bytes { data, .. }) if !data.is_empty() => {
                            text.push_str(&format!("key:{} ", proto_text_quote(data)))
                        }
                        (3, Wire::Bytes { data, .. }) if !data.is_empty() => {
                            text.push_str(&format!("range_end:{} ", proto_text_quote(data)))
                        }
                        _ => {}
                    }
                    pat = pr.position();
                }
                perms.push(text);
            }
            _ => {}
        }
        at = r.position();
    }
    Ok(format!(
        "role={}, keyPermission=[{}]",
        go_quote(name),
        perms.join(" ")
    ))
}

fn decode_user(v: &[u8], show_secrets: bool) -> Result<String, String> {
    let mut name: &[u8] = b"";
    let mut password: &[u8] = b"";
    let mut roles = Vec::new();
    let mut options: Option<&[u8]> = None;
    let mut r = FieldReader::new(v);
    let mut at = 0;
    while let Some((f, w)) = r.next_field().map_err(|e| e.to_string())? {
        match f {
            1 => name = expect_bytes(w, at).map_err(|e| e.to_string())?,
            2 => password = expect_bytes(w, at).map_err(|e| e.to_string())?,
            3 => roles.push(go_quote(expect_bytes(w, at).map_err(|e| e.to_string())?)),
            4 => options = Some(expect_bytes(w, at).map_err(|e| e.to_string())?),
            _ => {}
        }
        at = r.position();
    }
    let option = match options {
        None => "<nil>".to_string(),
        Some(o) => {
            let mut no_password = false;
            let mut orr = FieldReader::new(o);
            let mut oat = 0;
            while let Some((f, w)) = orr.next_field().map_err(|e| e.to_string())? {
                if f == 1 {
                    no_password = expect_varint(w, oat).map_err(|e| e.to_string())? != 0;
                }
                oat = orr.position();
            }
            if no_password {
                "no_password:true ".to_string()
            } else {
                String::new()
            }
        }
    };
    let pw = if show_secrets || password.is_empty() {
        go_quote(password)
    } else {
        go_quote(b"<redacted password hash; pass --show-secrets>")
    };
    Ok(format!(
        "user={}, roles=[{}], password={pw}, option={option}",
        go_quote(name),
        roles.join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_bucket_line_matches_etcd_dump_db_format() {
        // KeyValue{key:"foo", create_revision:2, mod_revision:3, version:2, value:"bar"}
        let v = [
            0x0a, 3, b'f', b'o', b'o', 0x10, 2, 0x18, 3, 0x20, 2, 0x2a, 3, b'b', b'a', b'r',
        ];
        let k = [0, 0, 0, 0, 0, 0, 0, 3, b'_', 0, 0, 0, 0, 0, 0, 0, 0];
        let line = decode_entry(b"key", &k, &v, Secrets::default());
        assert_eq!(
            line,
            Some(Ok(
                "rev={main:3 sub:0}, value=[key \"foo\" | val \"bar\" | created 2 | mod 3 | ver 2]"
                    .to_string()
            ))
        );
        let marked = Secrets {
            kv_value_marker: Some("<hidden>"),
            ..Secrets::default()
        };
        let line = decode_entry(b"key", &k, &v, marked).unwrap().unwrap();
        assert!(
            line.contains("val \"<hidden>\"") && !line.contains("bar"),
            "{line}"
        );
    }

    #[test]
    fn lease_line_matches_etcd_dump_db_format() {
        let k = 0x694d_7b3b_4a5d_2c05u64.to_be_bytes();
        let v = [
            0x08, 0x85, 0xd8, 0xf4, 0xd2, 0xb4, 0xf6, 0xde, 0xa6, 0x69, 0x10, 100,
        ];
        let line = decode_entry(b"lease", &k, &v, Secrets::default());
        assert_eq!(
            line,
            Some(Ok("lease ID=694d7b3b4a5d2c05, TTL=100s".to_string()))
        );
    }

    #[test]
    fn buckets_without_a_decoder_give_none_and_bad_values_an_error() {
        assert_eq!(decode_entry(b"meta", b"k", b"v", Secrets::default()), None);
        assert!(matches!(
            decode_entry(b"lease", b"short", b"", Secrets::default()),
            Some(Err(_))
        ));
    }

    #[test]
    fn password_hashes_are_shown_only_when_asked() {
        // User{name:"u", password:"$2a$hash"}
        let mut v = vec![0x0a, 1, b'u', 0x12, 8];
        v.extend_from_slice(b"$2a$hash");
        let hidden = decode_entry(b"authUsers", b"u", &v, Secrets::default());
        assert!(!hidden.unwrap().unwrap().contains("$2a$hash"));
        let shown = Secrets {
            show_password_hashes: true,
            ..Secrets::default()
        };
        assert!(decode_entry(b"authUsers", b"u", &v, shown)
            .unwrap()
            .unwrap()
            .contains("$2a$hash"));
    }
}
