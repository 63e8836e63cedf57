//! Membership and alarm buckets.
//!
//! - `members`: key = member ID as lowercase hex text (Go `types.ID.String()`), value =
//!   JSON `{"id", "peerURLs", "isLearner"?, "name"?, "clientURLs"?}`
//!   (etcd 3.4 `etcdserver/api/membership/store.go`, `member.go`).
//! - `members_removed`: key = hex ID, value "removed".
//! - `cluster`: key `clusterVersion`, value e.g. "3.4.0"; from 3.5 also key `downgrade`,
//!   value JSON `{"target-version": "3.4.0", "enabled": true}` (3.5
//!   `server/etcdserver/version` DowngradeInfo, saved by `schema` membership code).
//! - `alarm`: key = `etcdserverpb.AlarmMember {memberID=1 uint64, alarm=2 enum}`, empty value
//!   (`etcdserver/api/v3alarm/alarms.go`). Alarm types: NONE 0, NOSPACE 1, CORRUPT 2.

use super::proto::{expect_varint, FieldReader, ProtoError};

pub use crate::buckets::{ALARM_BUCKET, CLUSTER_BUCKET, MEMBERS_BUCKET, MEMBERS_REMOVED_BUCKET};
/// Key of the cluster version in the cluster bucket.
pub const CLUSTER_VERSION_KEY: &[u8] = b"clusterVersion";
/// Key of the downgrade state in the cluster bucket (3.5+).
pub const CLUSTER_DOWNGRADE_KEY: &[u8] = b"downgrade";

/// `cluster/downgrade` (3.5+): whether a downgrade is in progress, and to which version.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DowngradeInfo {
    /// The version the cluster is being downgraded to ("" when none).
    #[serde(rename = "target-version", default)]
    pub target_version: String,
    /// True while a downgrade is enabled.
    #[serde(default)]
    pub enabled: bool,
}

/// Decodes a `cluster/downgrade` value.
pub fn parse_downgrade(value: &[u8]) -> Result<DowngradeInfo, String> {
    serde_json::from_slice(value).map_err(|e| format!("cluster/downgrade: bad JSON: {e}"))
}

/// One member as recorded in the db.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemberRecord {
    /// Member ID (from the key; the JSON's `id` is the same number).
    #[serde(skip_deserializing)]
    pub id: u64,
    /// Member ID as 16 hex digits.
    #[serde(skip_deserializing)]
    pub id_hex: String,
    /// Peer URLs.
    #[serde(rename = "peerURLs", default)]
    pub peer_urls: Vec<String>,
    /// Learner flag.
    #[serde(rename = "isLearner", default)]
    pub is_learner: bool,
    /// Name (set once the member has published its attributes).
    #[serde(default)]
    pub name: String,
    /// Client URLs.
    #[serde(rename = "clientURLs", default)]
    pub client_urls: Vec<String>,
    /// Where `client_urls` come from when a caller filled them from elsewhere than this
    /// record (3.5's members bucket has none; the WAL's publish entries do). `None`: as
    /// read from the db.
    #[serde(
        rename = "clientURLs_source",
        skip_deserializing,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_urls_source: Option<String>,
}

/// Parses one `members` entry. The key must be hex text; the value JSON.
pub fn parse_member(key: &[u8], value: &[u8]) -> Result<MemberRecord, String> {
    let text = std::str::from_utf8(key).map_err(|_| "member key is not text".to_string())?;
    let id = u64::from_str_radix(text, 16)
        .map_err(|_| format!("member key {text:?} is not a hex member id"))?;
    let mut m: MemberRecord =
        serde_json::from_slice(value).map_err(|e| format!("member {text}: bad JSON: {e}"))?;
    m.id = id;
    m.id_hex = format!("{id:016x}");
    Ok(m)
}

/// The kind of an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum AlarmType {
    /// 0: no alarm (never stored in practice).
    #[serde(rename = "NONE")]
    None,
    /// 1: space quota exhausted.
    #[serde(rename = "NOSPACE")]
    NoSpace,
    /// 2: corruption detected.
    #[serde(rename = "CORRUPT")]
    Corrupt,
    /// Any other number.
    #[serde(rename = "UNKNOWN")]
    Unknown(u64),
}

impl AlarmType {
    /// The enum value from its number.
    pub fn from_number(n: u64) -> Self {
        match n {
            0 => AlarmType::None,
            1 => AlarmType::NoSpace,
            2 => AlarmType::Corrupt,
            n => AlarmType::Unknown(n),
        }
    }

    /// etcd's name for it.
    pub fn name(&self) -> String {
        match self {
            AlarmType::None => "NONE".into(),
            AlarmType::NoSpace => "NOSPACE".into(),
            AlarmType::Corrupt => "CORRUPT".into(),
            AlarmType::Unknown(n) => format!("UNKNOWN({n})"),
        }
    }
}

/// One raised alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Alarm {
    /// Member that raised it.
    pub member_id: u64,
    /// What kind.
    pub alarm: AlarmType,
}

impl Alarm {
    /// Decodes an `alarm` bucket key.
    pub fn parse(key: &[u8]) -> Result<Self, ProtoError> {
        let mut member_id = 0;
        let mut alarm = 0;
        let mut r = FieldReader::new(key);
        let mut at = 0;
        while let Some((f, w)) = r.next_field()? {
            match f {
                1 => member_id = expect_varint(w, at)?,
                2 => alarm = expect_varint(w, at)?,
                _ => {}
            }
            at = r.position();
        }
        Ok(Alarm {
            member_id,
            alarm: AlarmType::from_number(alarm),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_entry_decodes_from_hex_key_and_json() {
        let m = parse_member(
            b"8e9e05c52164694d",
            br#"{"id":10276657743932975437,"peerURLs":["http://localhost:2380"],"name":"default","clientURLs":["http://localhost:2379"]}"#,
        )
        .unwrap();
        assert_eq!(m.id, 0x8e9e05c52164694d);
        assert_eq!(m.id_hex, "8e9e05c52164694d");
        assert_eq!(m.peer_urls, vec!["http://localhost:2380"]);
        assert_eq!(m.name, "default");
        assert!(parse_member(b"zz", b"{}").is_err());
    }

    #[test]
    fn nospace_alarm_key_decodes() {
        // memberID = 300 (ac 02), alarm = 1
        let a = Alarm::parse(&[0x08, 0xac, 0x02, 0x10, 0x01]).unwrap();
        assert_eq!(a.member_id, 300);
        assert_eq!(a.alarm, AlarmType::NoSpace);
        assert_eq!(a.alarm.name(), "NOSPACE");
    }
}
