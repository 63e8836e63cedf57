//! The Kubernetes lens: what kube-apiserver stored under `/registry/`, decoded offline.
//!
//! - [`decode`]: one stored value, whatever form the apiserver wrote it in (protobuf in the
//!   `k8s\0` + `runtime.Unknown` envelope, JSON, CBOR, encrypted at rest, or something
//!   else), read into its kind, apiVersion and the parts of `ObjectMeta` the accounting
//!   needs. Bounded in depth and allocation on any bytes.
//! - [`mod@account`]: per resource / namespace / kind / owner figures, the largest objects, the
//!   keys with the most revisions and the findings (stuck deletions, orphaned owners, stale
//!   leases, half-done key rotations, event floods), from one key-bucket scan.
//! - [`history`]: every kept revision of one key, and the writes of a revision window
//!   (`churn`).
//! - [`tree`]: a protobuf body as a generic field tree, and CBOR as JSON, for `get`.
//!
//! Key layout (kube-apiserver's etcd3 storage): `/registry/<resource>/<namespace>/<name>`
//! for namespaced resources, `/registry/<resource>/<name>` for cluster-scoped ones; a
//! resource of an API group the apiserver stores under its group name sits at
//! `/registry/<group>/<plural>/...`, where the group contains a '.'.

pub mod account;
pub mod advice;
pub(crate) mod cbor;
pub mod decode;
pub mod fuzz;
mod groups;
pub mod history;
pub(crate) mod json;
pub mod tree;

pub use account::{
    account, account_with_lenses, GroupBy, GroupStats, K8sOptions, K8sSummary, KeyLens, KeyLenses,
};
pub use decode::{decode_value, Decoded, Encoding, Encryption, ObjectMeta, OwnerRef};

/// Where kube-apiserver keeps every object.
pub const REGISTRY_PREFIX: &[u8] = b"/registry/";

/// The annotation `kubectl apply` (client side) writes the whole applied object into.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A key under `/registry/` split by the apiserver's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPath<'a> {
    /// `pods`, `events`, or `<group>/<plural>` for a group stored under its name.
    pub resource: &'a str,
    /// The namespace segment when the key has two segments after the resource.
    pub namespace: &'a str,
    /// The last segment ("" when the key ends at the resource).
    pub name: &'a str,
    /// Segments after the resource.
    pub segments: usize,
}

impl<'a> KeyPath<'a> {
    /// Splits `key`; `None` when it is not under `/registry/` or not UTF-8.
    pub fn parse(key: &'a [u8]) -> Option<KeyPath<'a>> {
        let tail = std::str::from_utf8(key.strip_prefix(REGISTRY_PREFIX)?).ok()?;
        let first_end = tail.find('/').unwrap_or(tail.len());
        let first = &tail[..first_end];
        let (resource_end, rest) = if first.contains('.') && first_end < tail.len() {
            let after = &tail[first_end + 1..];
            let second = after.find('/').map_or(tail.len(), |i| first_end + 1 + i);
            (second, tail.get(second + 1..).unwrap_or(""))
        } else {
            (first_end, tail.get(first_end + 1..).unwrap_or(""))
        };
        let resource = &tail[..resource_end];
        let resource_is_whole = resource_end >= tail.len();
        // One pass over the rest: its slashes, the first and the last ('/' is one byte in
        // UTF-8 and never part of another character, so byte positions are char bounds).
        let (mut slashes, mut first_slash, mut last_slash) = (0usize, 0usize, 0usize);
        for (i, &b) in rest.as_bytes().iter().enumerate() {
            if b == b'/' {
                if slashes == 0 {
                    first_slash = i;
                }
                slashes += 1;
                last_slash = i;
            }
        }
        let segments = if resource_is_whole { 0 } else { slashes + 1 };
        let (namespace, name) = match segments {
            0 => ("", ""),
            2 => (&rest[..first_slash], &rest[first_slash + 1..]),
            1 => ("", rest),
            _ => ("", &rest[last_slash + 1..]),
        };
        Some(KeyPath {
            resource,
            namespace,
            name,
            segments,
        })
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day count since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `seconds` since the epoch as metav1.Time prints it (RFC 3339, seconds, UTC).
pub fn rfc3339(seconds: i64) -> String {
    // Clamp to years 0..=9999 so a hostile value cannot make a silly string.
    let s = seconds.clamp(-62_167_219_200, 253_402_300_799);
    let (days, secs) = (s.div_euclid(86_400), s.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Microseconds since the epoch of an RFC 3339 time (`2006-01-02T15:04:05[.frac](Z|±hh:mm)`),
/// `None` when it is not one.
pub fn parse_rfc3339_micros(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = b.get(r)?;
        if s.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(s).ok()?.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut i = 19;
    let mut micros = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let mut digits = 0;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if digits < 6 {
                micros = micros * 10 + i64::from(c - b'0');
            }
            digits += 1;
            i += 1;
        }
        for _ in digits..6 {
            micros *= 10;
        }
    }
    let offset = match b.get(i..)? {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), ..] if b.len() == i + 6 && b[i + 3] == b':' => {
            let o = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset;
    Some(secs * 1_000_000 + micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout rule of [`KeyPath::parse`] spelt out with `split`, as a reference.
    fn reference(key: &[u8]) -> Option<KeyPath<'_>> {
        let tail = std::str::from_utf8(key.strip_prefix(REGISTRY_PREFIX)?).ok()?;
        let first_end = tail.find('/').unwrap_or(tail.len());
        let (resource_end, rest) = if tail[..first_end].contains('.') && first_end < tail.len() {
            let after = &tail[first_end + 1..];
            let second = after.find('/').map_or(tail.len(), |i| first_end + 1 + i);
            (second, tail.get(second + 1..).unwrap_or(""))
        } else {
            (first_end, tail.get(first_end + 1..).unwrap_or(""))
        };
        let segments = if resource_end >= tail.len() {
            0
        } else {
            rest.split('/').count()
        };
        let (namespace, name) = match segments {
            0 => ("", ""),
            2 => rest.split_once('/').unwrap_or(("", rest)),
            _ => ("", rest.rsplit('/').next().unwrap_or("")),
        };
        Some(KeyPath {
            resource: &tail[..resource_end],
            namespace,
            name,
            segments,
        })
    }

    #[test]
    fn key_paths_split_as_the_reference_rule_on_every_shape_of_slashes_dots_and_bytes() {
        let parts = ["", "/", "//", "pods", "a.b", "ns", "x/", "/y", "é", "\\xff"];
        let mut n = 0;
        for a in parts {
            for b in parts {
                for c in parts {
                    for d in ["", "/", "n", "/n/", "a/b/c"] {
                        let mut key = b"/registry/".to_vec();
                        for p in [a, b, c, d] {
                            if p == "\\xff" {
                                key.push(0xff);
                            } else {
                                key.extend_from_slice(p.as_bytes());
                            }
                            key.push(b'/');
                        }
                        for cut in 10..=key.len() {
                            assert_eq!(
                                KeyPath::parse(&key[..cut]),
                                reference(&key[..cut]),
                                "{key:?} {cut}"
                            );
                            n += 1;
                        }
                    }
                }
            }
        }
        assert!(n > 10_000);
        assert_eq!(KeyPath::parse(b"/other/pods/x"), None);
    }

    #[test]
    fn keys_split_into_resource_namespace_and_name() {
        let k = KeyPath::parse(b"/registry/pods/default/web-1").unwrap();
        assert_eq!(
            (k.resource, k.namespace, k.name, k.segments),
            ("pods", "default", "web-1", 2)
        );
        let k = KeyPath::parse(b"/registry/namespaces/kube-system").unwrap();
        assert_eq!(
            (k.resource, k.namespace, k.name),
            ("namespaces", "", "kube-system")
        );
        let k = KeyPath::parse(b"/registry/example.com/widgets/ns1/w").unwrap();
        assert_eq!(
            (k.resource, k.namespace, k.name),
            ("example.com/widgets", "ns1", "w")
        );
        let k = KeyPath::parse(b"/registry/apiregistration.k8s.io/apiservices/v1.apps").unwrap();
        assert_eq!(
            (k.resource, k.namespace, k.name),
            ("apiregistration.k8s.io/apiservices", "", "v1.apps")
        );
        let k = KeyPath::parse(b"/registry/health").unwrap();
        assert_eq!((k.resource, k.segments), ("health", 0));
        let k = KeyPath::parse(b"/registry/a.b").unwrap();
        assert_eq!((k.resource, k.segments), ("a.b", 0));
        assert!(KeyPath::parse(b"/other/x").is_none());
    }

    #[test]
    fn times_convert_both_ways() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(
            parse_rfc3339_micros("2023-11-14T22:13:20Z"),
            Some(1_700_000_000_000_000)
        );
        assert_eq!(
            parse_rfc3339_micros("2023-11-14T22:13:20.123456Z"),
            Some(1_700_000_000_123_456)
        );
        assert_eq!(
            parse_rfc3339_micros("2023-11-14T23:13:20.5+01:00"),
            Some(1_700_000_000_500_000)
        );
        assert_eq!(parse_rfc3339_micros("2023-11-14"), None);
        assert_eq!(parse_rfc3339_micros("9999-99-99T99:99:99Z"), None);
        assert_eq!(rfc3339(i64::MAX), "9999-12-31T23:59:59Z");
    }
}
