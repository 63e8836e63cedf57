//! Which etcd release line wrote a db, by etcd's own rule, and what that means for the
//! commands an operator should run on it.
//!
//! etcd 3.6 decides the storage version of a backend (`server/storage/schema`
//! `DetectSchemaVersion`): `meta/storageVersion` when present (3.6 writes it, e.g.
//! "3.6.0"); otherwise 3.5 when `meta/confState` is present and `meta/term` is non-zero
//! (3.5 writes both); otherwise the data has no 3.5+ schema, i.e. 3.4 wrote it (3.5
//! migrates such a db on its first start). The `meta` keys are listed in [`crate::meta`].

use crate::meta::MetaInfo;
use serde::Serialize;

/// A release line of etcd (major 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Release {
    /// The minor version: 4 for 3.4.
    pub minor: u32,
}

impl Release {
    /// etcd 3.4.
    pub const V3_4: Release = Release { minor: 4 };
    /// etcd 3.5.
    pub const V3_5: Release = Release { minor: 5 };
    /// etcd 3.6.
    pub const V3_6: Release = Release { minor: 6 };
    /// etcd 3.7.
    pub const V3_7: Release = Release { minor: 7 };

    /// Parses "3.6", "3.6.0" or "v3.6" (major 3 only).
    pub fn parse(text: &str) -> Option<Release> {
        let t = text.trim().trim_start_matches('v');
        let mut parts = t.split('.');
        if parts.next()? != "3" {
            return None;
        }
        let minor = parts.next()?.parse().ok()?;
        Some(Release { minor })
    }

    /// The tool that owns offline data-dir commands (`defrag --data-dir`, `snapshot
    /// restore`, `snapshot status`): etcdctl up to 3.4, etcdutl from 3.5 on (3.5 moved
    /// them and deprecated etcdctl's copies).
    pub fn offline_tool(self) -> &'static str {
        if self.minor <= 4 {
            "etcdctl"
        } else {
            "etcdutl"
        }
    }

    /// The command that defragments a stopped member's db with this release's tools.
    pub fn defrag_command(self, data_dir: &str) -> String {
        format!("{} defrag --data-dir {data_dir}", self.offline_tool())
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "3.{}", self.minor)
    }
}

impl Serialize for Release {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The release that wrote a db and the rule that says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrittenBy {
    /// "3.4", "3.5", "3.6", "3.7" (or a later "3.N").
    pub version: Release,
    /// The rule applied, with the values it looked at.
    pub rule: String,
}

/// The release that wrote the db whose `meta` bucket is `meta`, by etcd's detection rule.
/// A `storageVersion` that does not parse as "3.N" is named in the rule and the term test
/// decides.
pub fn written_by(meta: &MetaInfo) -> WrittenBy {
    if let Some(sv) = &meta.storage_version {
        if let Some(r) = Release::parse(sv) {
            return WrittenBy {
                version: r,
                rule: format!("meta/storageVersion is {sv:?} (etcd 3.6+ writes it)"),
            };
        }
    }
    let bad_sv = meta
        .storage_version
        .as_ref()
        .map(|sv| format!("meta/storageVersion {sv:?} does not parse; "))
        .unwrap_or_default();
    match (meta.term, &meta.conf_state) {
        (Some(t), Some(_)) if t > 0 => WrittenBy {
            version: Release::V3_5,
            rule: format!(
                "{bad_sv}no meta/storageVersion; meta/term is {t} and meta/confState is present (etcd 3.5 writes both)"
            ),
        },
        (Some(t), None) if t > 0 => WrittenBy {
            version: Release::V3_5,
            rule: format!(
                "{bad_sv}no meta/storageVersion; meta/term is {t} (etcd 3.5 writes it) but meta/confState is missing: etcd 3.6 refuses such a db (\"missing confstate information\")"
            ),
        },
        (Some(0), _) => WrittenBy {
            version: Release::V3_4,
            rule: format!("{bad_sv}no meta/storageVersion; meta/term is 0: no 3.5 schema, so 3.4"),
        },
        _ => WrittenBy {
            version: Release::V3_4,
            rule: format!(
                "{bad_sv}no meta/storageVersion and no meta/term (etcd 3.5 adds it on its first start): 3.4"
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(term: Option<u64>, conf: bool, sv: Option<&str>) -> MetaInfo {
        MetaInfo {
            consistent_index: Some(10),
            term,
            conf_state: conf.then(|| r#"{"voters":[1],"auto_leave":false}"#.to_string()),
            storage_version: sv.map(str::to_string),
            ..MetaInfo::default()
        }
    }

    #[test]
    fn written_by_follows_etcds_schema_detection_order() {
        assert_eq!(written_by(&meta(None, false, None)).version, Release::V3_4);
        assert_eq!(
            written_by(&meta(Some(0), true, None)).version,
            Release::V3_4
        );
        assert_eq!(
            written_by(&meta(Some(2), true, None)).version,
            Release::V3_5
        );
        let w = written_by(&meta(Some(2), false, None));
        assert_eq!(w.version, Release::V3_5);
        assert!(w.rule.contains("missing confstate"), "{}", w.rule);
        // storageVersion wins over the term test.
        assert_eq!(
            written_by(&meta(Some(2), true, Some("3.6.0"))).version,
            Release::V3_6
        );
        assert_eq!(
            written_by(&meta(Some(2), true, Some("3.7"))).version,
            Release::V3_7
        );
        let w = written_by(&meta(Some(2), true, Some("garbage")));
        assert_eq!(w.version, Release::V3_5);
        assert!(w.rule.contains("does not parse"), "{}", w.rule);
    }

    #[test]
    fn offline_commands_use_the_writing_releases_tool() {
        assert_eq!(
            Release::V3_4.defrag_command("/var/lib/etcd"),
            "etcdctl defrag --data-dir /var/lib/etcd"
        );
        assert_eq!(
            Release::V3_5.defrag_command("/d"),
            "etcdutl defrag --data-dir /d"
        );
        assert_eq!(Release::V3_6.offline_tool(), "etcdutl");
        assert_eq!(Release::parse("v3.6.1"), Some(Release::V3_6));
        assert_eq!(Release::parse("4.0"), None);
        assert_eq!(serde_json::to_string(&Release::V3_5).unwrap(), "\"3.5\"");
    }
}
