//! Upgrade readiness: what the boot of a newer etcd (3.6, 3.7) refuses, and what
//! `etcdutl check v2store` and the release notes ask before an upgrade, answered from a
//! stopped member's files. Each answer names the rule it checks ([`Rule`]).
//!
//! Facts (etcd 3.6 `server/storage/schema`, `server/etcdserver/api/membership`,
//! `etcdutl/etcdutl/check_command.go`; upgrade guides for 3.6):
//! - etcd upgrades one minor release at a time. 3.6 detects a db's schema (see
//!   [`crate::version`]) and refuses one with no 3.5 schema (no `meta/term` /
//!   `meta/confState`: "missing confstate information"), i.e. 3.4 data must first run
//!   under 3.5, which migrates it. Likewise 3.7 expects data that 3.6 has run on.
//! - 3.6 keeps membership only in the v3 backend and refuses to start when the v2 store
//!   in the newest `.snap` holds anything but membership: every top-level node other than
//!   `/0` (members, version) must have no children (`membership.IsMetaStoreOnly`;
//!   `etcdutl check v2store`, 3.5.18+, checks it before an upgrade).
//! - Of the v2 requests in the WAL, 3.6 applies only the member-attribute
//!   (`/0/members/<id>/attributes`) and cluster-version (`/0/version`) PUTs.
//! - A member of the new release joins a cluster only when the cluster version is at
//!   least the previous minor: every member runs 3.(N-1) before any runs 3.N, and no
//!   downgrade may be enabled (`cluster/downgrade`).

use crate::cluster::DowngradeInfo;
use crate::version::{Release, WrittenBy};
use serde::Serialize;

/// The rules answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// One minor release at a time, by the db's storage version.
    StorageVersionPath,
    /// No custom content in the v2 store of the newest `.snap` (3.6+).
    V2StoreMetaOnly,
    /// No v2 request in the WAL tail that 3.6 no longer applies (3.6+).
    WalV2Requests,
    /// The cluster version is at least the previous minor.
    ClusterVersion,
    /// No downgrade enabled.
    NoDowngradeEnabled,
    /// Every member given is on the same storage version.
    MembersSameVersion,
    /// The member starts at all (what the current release refuses, the next does too).
    MemberStarts,
}

impl Rule {
    /// Where the rule comes from, in a sentence.
    pub fn citation(self) -> &'static str {
        match self {
            Rule::StorageVersionPath => "etcd upgrades one minor release at a time; 3.6+ reads the db's storage version (server/storage/schema DetectSchemaVersion: meta/storageVersion, else 3.5 when meta/term and meta/confState are set) and refuses older data",
            Rule::V2StoreMetaOnly => "3.6 refuses to start when the v2 store of the newest .snap holds more than membership (membership.IsMetaStoreOnly); `etcdutl check v2store` (3.5.18+) checks it before the upgrade",
            Rule::WalV2Requests => "3.6 applies only the v2 member-attribute and cluster-version PUTs of the WAL (release notes: v2 store deprecation)",
            Rule::ClusterVersion => "a member of release 3.N joins only a cluster whose version (cluster/clusterVersion) is at least 3.(N-1): upgrade every member to 3.(N-1) first",
            Rule::NoDowngradeEnabled => "no upgrade while a downgrade is enabled (cluster/downgrade); finish or cancel it first (`etcdctl downgrade cancel`)",
            Rule::MembersSameVersion => "every member of the cluster must be on 3.(N-1) storage before one moves to 3.N",
            Rule::MemberStarts => "whatever stops the member from starting now stops the new release too (see the check's findings)",
        }
    }
}

/// One answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// The rule.
    pub rule: Rule,
    /// Its citation ([`Rule::citation`]).
    pub cites: &'static str,
    /// True when the rule holds (nothing blocks the upgrade here).
    pub ok: bool,
    /// What was found, with figures.
    pub detail: String,
}

/// The v2 store of a `.snap` judged by 3.6's rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct V2StoreCheck {
    /// The `.snap` file read.
    pub file: String,
    /// Top-level nodes other than `/0` that have children (custom content).
    pub custom_nodes: Vec<String>,
    /// Set when the v2 store JSON could not be read.
    pub problem: Option<String>,
}

/// Most bytes of v2 store JSON read (a membership-only store is a few kilobytes; one
/// with user data can be large, and is only skimmed: nothing below the second level is
/// kept).
pub const MAX_V2STORE_JSON: usize = 1 << 30;

/// The top of the v2 store JSON: `{"Root": {"Children": {name: node}}}`; every other
/// field, and everything below the second level, is skipped without being kept.
#[derive(serde::Deserialize)]
struct V2Top {
    #[serde(rename = "Root", default)]
    root: Option<V2Root>,
}

#[derive(serde::Deserialize)]
struct V2Root {
    #[serde(rename = "Children", default)]
    children: Option<std::collections::BTreeMap<String, V2Child>>,
}

#[derive(serde::Deserialize)]
struct V2Child {
    #[serde(rename = "Children", default)]
    children: Option<ChildCount>,
}

/// The number of entries of a JSON object, its values skipped.
struct ChildCount(u64);

impl<'de> serde::Deserialize<'de> for ChildCount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ChildCount;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of v2 store nodes")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<ChildCount, A::Error> {
                let mut n = 0u64;
                while m
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {
                    n += 1;
                }
                Ok(ChildCount(n))
            }
        }
        d.deserialize_map(V)
    }
}

/// Applies 3.6's rule to the v2 store JSON of a `.snap` (`{"Root": {"Children": {...}}}`,
/// node = `{"Path", "Children": {name: node} | null, ...}`): every top-level node other
/// than `/0` must have no children. serde_json's nesting limit bounds the recursion.
pub fn check_v2store(file: &str, json: &[u8]) -> V2StoreCheck {
    let mut out = V2StoreCheck {
        file: file.to_string(),
        custom_nodes: Vec::new(),
        problem: None,
    };
    if json.len() > MAX_V2STORE_JSON {
        out.problem = Some(format!("v2 store is {} bytes; not read", json.len()));
        return out;
    }
    let top: V2Top = match serde_json::from_slice(json) {
        Ok(v) => v,
        Err(e) => {
            out.problem = Some(format!("v2 store JSON does not parse: {e}"));
            return out;
        }
    };
    let children = top.root.and_then(|r| r.children).unwrap_or_default();
    for (name, node) in children {
        if name == "0" {
            continue;
        }
        if node.children.is_some_and(|c| c.0 > 0) {
            out.custom_nodes.push(format!("/{name}"));
        }
    }
    out
}

/// A v2 request in the WAL tail (after the newest snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WalV2Request {
    /// Raft index.
    pub index: u64,
    /// Method (PUT, DELETE, ...).
    pub method: String,
    /// Path.
    pub path: String,
}

impl WalV2Request {
    /// True for the two requests 3.6 still applies.
    pub fn applied_by_3_6(&self) -> bool {
        self.method == "PUT"
            && (self.path == "/0/version"
                || (self.path.starts_with("/0/members/") && self.path.ends_with("/attributes")))
    }
}

/// What the answers are computed from.
#[derive(Debug, Clone, Default)]
pub struct UpgradeFacts {
    /// The release that wrote this member's db.
    pub written_by: Option<WrittenBy>,
    /// `cluster/clusterVersion`.
    pub cluster_version: Option<String>,
    /// `cluster/downgrade`.
    pub downgrade: Option<DowngradeInfo>,
    /// The newest `.snap`'s v2 store, judged.
    pub v2store: Option<V2StoreCheck>,
    /// The WAL's v2 requests after the newest snapshot (at most a few hundred kept).
    pub wal_v2_requests: Vec<WalV2Request>,
    /// Other members given: (name, the release that wrote their db).
    pub peers: Vec<(String, Option<Release>)>,
    /// The member check's damage, one line each.
    pub blocking_damage: Vec<String>,
}

/// The answers for an upgrade of this member (and the peers given) to `target`.
pub fn upgrade_answers(target: Release, f: &UpgradeFacts) -> Vec<Answer> {
    let mut out = Vec::new();
    let mut answer = |rule: Rule, ok: bool, detail: String| {
        out.push(Answer {
            rule,
            cites: rule.citation(),
            ok,
            detail,
        })
    };
    let prev = Release {
        minor: target.minor.saturating_sub(1),
    };
    match &f.written_by {
        Some(w) if w.version == target => answer(
            Rule::StorageVersionPath,
            true,
            format!("the db is already {target} data ({})", w.rule),
        ),
        Some(w) if w.version == prev => answer(
            Rule::StorageVersionPath,
            true,
            format!(
                "the db was written by {} ({}): {prev} -> {target} is one step",
                w.version, w.rule
            ),
        ),
        Some(w) if w.version < prev => answer(
            Rule::StorageVersionPath,
            false,
            format!(
                "the db was written by {} ({}): {target} refuses it; run the member on {prev} first (it migrates the db on its first start)",
                w.version, w.rule
            ),
        ),
        Some(w) => answer(
            Rule::StorageVersionPath,
            false,
            format!(
                "the db was written by {} ({}), newer than {target}: that is a downgrade, not an upgrade (`etcdutl migrate --target-version {target}` and the downgrade procedure)",
                w.version, w.rule
            ),
        ),
        None => answer(
            Rule::StorageVersionPath,
            false,
            "no readable db: its storage version is unknown".into(),
        ),
    }
    if target >= Release::V3_6 {
        match &f.v2store {
            None => answer(
                Rule::V2StoreMetaOnly,
                true,
                "no .snap file: the v2 store is empty".into(),
            ),
            Some(v) if v.problem.is_some() => answer(
                Rule::V2StoreMetaOnly,
                false,
                format!(
                    "{}: {}",
                    v.file,
                    v.problem.as_deref().unwrap_or_default()
                ),
            ),
            Some(v) if v.custom_nodes.is_empty() => answer(
                Rule::V2StoreMetaOnly,
                true,
                format!("{}: the v2 store holds membership only", v.file),
            ),
            Some(v) => answer(
                Rule::V2StoreMetaOnly,
                false,
                format!(
                    "{}: the v2 store holds custom content under {}: 3.6 refuses to start; remove it with the v2 API on 3.5 (or migrate it to v3) and take a new snapshot",
                    v.file,
                    v.custom_nodes.join(", ")
                ),
            ),
        }
        let refused: Vec<&WalV2Request> = f
            .wal_v2_requests
            .iter()
            .filter(|r| !r.applied_by_3_6())
            .collect();
        answer(
            Rule::WalV2Requests,
            refused.is_empty(),
            if refused.is_empty() {
                format!(
                    "{} v2 request(s) in the WAL tail, all member-attribute or cluster-version PUTs",
                    f.wal_v2_requests.len()
                )
            } else {
                format!(
                    "{} v2 request(s) in the WAL tail that 3.6 does not apply, first {} {} at index {}: let 3.5 apply them and snapshot, or remove them",
                    refused.len(),
                    refused[0].method,
                    refused[0].path,
                    refused[0].index
                )
            },
        );
    }
    match f.cluster_version.as_deref().and_then(Release::parse) {
        Some(cv) if cv >= prev => {
            answer(Rule::ClusterVersion, true, format!("cluster version {cv}"))
        }
        Some(cv) => answer(
            Rule::ClusterVersion,
            false,
            format!("cluster version {cv}: upgrade every member to {prev} first"),
        ),
        None => answer(
            Rule::ClusterVersion,
            false,
            "no cluster/clusterVersion in the db: the cluster never agreed on a version".into(),
        ),
    }
    match &f.downgrade {
        Some(d) if d.enabled => answer(
            Rule::NoDowngradeEnabled,
            false,
            format!(
                "a downgrade to {} is enabled (cluster/downgrade)",
                d.target_version
            ),
        ),
        Some(_) => answer(
            Rule::NoDowngradeEnabled,
            true,
            "cluster/downgrade present, not enabled".into(),
        ),
        None => answer(
            Rule::NoDowngradeEnabled,
            true,
            "no cluster/downgrade".into(),
        ),
    }
    if !f.peers.is_empty() {
        let mine = f.written_by.as_ref().map(|w| w.version);
        let differ: Vec<String> = f
            .peers
            .iter()
            .filter(|(_, v)| *v != mine)
            .map(|(n, v)| format!("{n} ({})", v.map_or("unknown".into(), |v| v.to_string())))
            .collect();
        answer(
            Rule::MembersSameVersion,
            differ.is_empty(),
            if differ.is_empty() {
                format!(
                    "this member and {} peer(s) are all {} data",
                    f.peers.len(),
                    mine.map_or("unknown".into(), |v| v.to_string())
                )
            } else {
                format!(
                    "this member is {} data but {} differ: bring every member to {prev} first",
                    mine.map_or("unknown".into(), |v| v.to_string()),
                    differ.join(", ")
                )
            },
        );
    }
    answer(
        Rule::MemberStarts,
        f.blocking_damage.is_empty(),
        if f.blocking_damage.is_empty() {
            "no damage that stops the member from starting".into()
        } else {
            format!(
                "{} problem(s), first: {}",
                f.blocking_damage.len(),
                f.blocking_damage[0]
            )
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::written_by;

    fn facts(term: Option<u64>, sv: Option<&str>, cv: &str) -> UpgradeFacts {
        let meta = crate::meta::MetaInfo {
            term,
            conf_state: term.map(|_| r#"{"voters":[1]}"#.to_string()),
            storage_version: sv.map(str::to_string),
            ..Default::default()
        };
        UpgradeFacts {
            written_by: Some(written_by(&meta)),
            cluster_version: Some(cv.into()),
            ..Default::default()
        }
    }

    fn ok_of(a: &[Answer], r: Rule) -> bool {
        a.iter().find(|x| x.rule == r).unwrap().ok
    }

    #[test]
    fn storage_version_path_allows_one_minor_step_only() {
        let a = upgrade_answers(Release::V3_6, &facts(None, None, "3.4.0"));
        assert!(!ok_of(&a, Rule::StorageVersionPath));
        assert!(!ok_of(&a, Rule::ClusterVersion));
        let a = upgrade_answers(Release::V3_6, &facts(Some(2), None, "3.5.0"));
        assert!(a.iter().all(|x| x.ok), "{a:?}");
        let a = upgrade_answers(Release::V3_7, &facts(Some(2), None, "3.5.0"));
        assert!(!ok_of(&a, Rule::StorageVersionPath));
        let a = upgrade_answers(Release::V3_7, &facts(Some(2), Some("3.6.0"), "3.6.0"));
        assert!(ok_of(&a, Rule::StorageVersionPath));
        // Every answer cites its rule.
        assert!(a.iter().all(|x| x.cites == x.rule.citation()));
    }

    #[test]
    fn v2store_with_keys_outside_membership_is_custom_content() {
        let meta_only = br#"{"Root":{"Path":"/","Children":{"0":{"Path":"/0","Children":{"members":{}}},"1":{"Path":"/1","Children":{}}}}}"#;
        assert!(check_v2store("a.snap", meta_only).custom_nodes.is_empty());
        let custom = br#"{"Root":{"Path":"/","Children":{"0":{"Path":"/0","Children":{}},"1":{"Path":"/1","Children":{"foo":{"Path":"/1/foo","Value":"bar","Children":null}}}}}}"#;
        assert_eq!(check_v2store("a.snap", custom).custom_nodes, vec!["/1"]);
        assert!(check_v2store("a.snap", b"{").problem.is_some());
    }

    #[test]
    fn hostile_v2store_json_is_a_problem_or_skimmed_never_a_crash() {
        // Deep nesting below the second level is skipped; at the top it is refused.
        let deep = format!(
            r#"{{"Root":{{"Children":{{"1":{{"Children":{{"x":{}{}}}}}}}}}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let c = check_v2store("a.snap", deep.as_bytes());
        assert!(c.problem.is_some() || c.custom_nodes == vec!["/1"], "{c:?}");
        let c = check_v2store("a.snap", "[".repeat(100_000).as_bytes());
        assert!(c.problem.is_some());
        let c = check_v2store("a.snap", br#"{"Root":{"Children":{"1":{"Children":7}}}}"#);
        assert!(c.problem.is_some(), "{c:?}");
    }

    #[test]
    fn wal_v2_requests_other_than_publish_and_version_block_3_6() {
        let mut f = facts(Some(2), None, "3.5.0");
        f.wal_v2_requests = vec![
            WalV2Request {
                index: 3,
                method: "PUT".into(),
                path: "/0/members/1/attributes".into(),
            },
            WalV2Request {
                index: 4,
                method: "PUT".into(),
                path: "/0/version".into(),
            },
        ];
        assert!(ok_of(
            &upgrade_answers(Release::V3_6, &f),
            Rule::WalV2Requests
        ));
        f.wal_v2_requests.push(WalV2Request {
            index: 9,
            method: "PUT".into(),
            path: "/1/foo".into(),
        });
        assert!(!ok_of(
            &upgrade_answers(Release::V3_6, &f),
            Rule::WalV2Requests
        ));
    }
}
