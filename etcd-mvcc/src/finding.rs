//! One findings model across the layers: a typed kind, a severity and a location.
//!
//! Each reader finds damage in its own terms: [`bbolt_reader::FindingKind`] (one page of the
//! db file), [`wal_reader::FindingKind`] (a record or file of the WAL or snap directory).
//! This crate adds the member-level kinds ([`MemberKind`]): whether db, WAL and snapshots
//! agree, and what etcd does where reading the WAL stops; and the MVCC kinds
//! ([`MvccKind`]): a revision of the `key` bucket that salvage cannot use. A [`Finding`] wraps any of them
//! with the [`Component`] it is about, a [`Severity`] and a [`Location`].
//!
//! Severity follows what etcd does with it: a finding etcd tolerates (a `.tmp` segment,
//! committed entries it applies on start) is [`Severity::Info`], not damage.
//!
//! JSON: `{"component", "severity", "kind", "page", "file", "offset", "message"}` (plus
//! `"key"` and `"revision"` when known); `kind` is the stable snake_case name of
//! [`Kind::name`].

use serde::{Serialize, Serializer};
use std::fmt;

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// The bbolt file `member/snap/db`.
    Db,
    /// The WAL directory `member/wal`.
    Wal,
    /// The `.snap` files in `member/snap`.
    Snap,
    /// How db, WAL and snapshots fit together.
    Member,
}

impl Component {
    /// `db`, `wal`, `snap` or `member`.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Db => "db",
            Component::Wal => "wal",
            Component::Snap => "snap",
            Component::Member => "member",
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much a finding matters. Two levels, because every verdict and next step turns on
/// one question, "does etcd tolerate it?": what needs a person's look without being
/// damage (etcd still holding the files, a db written by a newer etcd, a quota inferred
/// from the NOSPACE alarm) is reported beside the findings (`running_warning`,
/// `written_by`, `quota_inferred_max`), not as a third severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// etcd tolerates it; normal for a healthy member or after a hard stop.
    Info,
    /// Damage: etcd would fail, lose data or repair something on restart.
    Damage,
}

impl From<wal_reader::Severity> for Severity {
    fn from(s: wal_reader::Severity) -> Self {
        match s {
            wal_reader::Severity::Info => Severity::Info,
            wal_reader::Severity::Damage => Severity::Damage,
        }
    }
}

/// Member-level kinds: agreement of db, WAL and snapshots, and the verdict on where
/// reading the WAL stops. Names are stable (snake_case in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MemberKind {
    /// The db file exists but bbolt cannot read it at all.
    DbUnreadable,
    /// The `meta` bucket's records are missing or malformed.
    MetaProblem,
    /// No `member/wal` directory: etcd cannot start the member.
    NoWal,
    /// No db, and the WAL does not start at index 1: the keyspace before it is lost here.
    DbMissing,
    /// No db, but the whole WAL is there: etcd rebuilds the keyspace on start.
    DbMissingRebuildable,
    /// The db's consistent index is behind the snapshot's, and no `.snap.db` is there.
    DbBehindSnapshot,
    /// The db is behind the snapshot, and the `<index>.snap.db` etcd swaps in is there.
    SnapshotDbPending,
    /// HardState.commit is beyond the last WAL entry (raft refuses to start).
    CommitBeyondLastIndex,
    /// Committed entries neither applied to the db nor present in the WAL.
    EntriesMissing,
    /// The db has applied entries the readable WAL does not hold.
    DbAheadOfWal,
    /// Committed entries in the WAL that the db has not applied (etcd applies them).
    UnappliedEntries,
    /// The WAL's member is not listed in the db's members bucket.
    MemberNotInDb,
    /// A torn tail of the last segment, which etcd truncates on start.
    WalTailTruncatedOnStart,
    /// WAL damage etcd refuses to start with.
    WalBlocksStart,
    /// `meta/term` (3.5+) is above the WAL's terms: the db belongs to another log.
    DbTermAheadOfWal,
    /// `meta/term` differs from the term of the WAL entry at the consistent index.
    DbTermMismatch,
    /// `meta/confState` still lists the source member of an `etcdutl snapshot restore`
    /// (information: etcd starts from the .snap and WAL configuration).
    ConfStateFromRestoreSource,
    /// `meta/confState` differs from raft's configuration at the consistent index.
    ConfStateMismatch,
    /// `member/snap/db` exists but is not a regular file (a directory, FIFO, device or
    /// link loop): etcd cannot open the database (3.4 panics) and does not rebuild it.
    DbNotRegularFile,
    /// The root bucket holds none of etcd's buckets: a meta points at the wrong page.
    NoEtcdBucket,
    /// Leaf pages full of revision keys that the tree no longer reaches.
    RevisionsUnreachable,
}

impl MemberKind {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberKind::DbUnreadable => "db_unreadable",
            MemberKind::MetaProblem => "meta_problem",
            MemberKind::NoWal => "no_wal",
            MemberKind::DbMissing => "db_missing",
            MemberKind::DbMissingRebuildable => "db_missing_rebuildable",
            MemberKind::DbBehindSnapshot => "db_behind_snapshot",
            MemberKind::SnapshotDbPending => "snapshot_db_pending",
            MemberKind::CommitBeyondLastIndex => "commit_beyond_last_index",
            MemberKind::EntriesMissing => "entries_missing",
            MemberKind::DbAheadOfWal => "db_ahead_of_wal",
            MemberKind::UnappliedEntries => "unapplied_entries",
            MemberKind::MemberNotInDb => "member_not_in_db",
            MemberKind::WalTailTruncatedOnStart => "wal_tail_truncated_on_start",
            MemberKind::WalBlocksStart => "wal_blocks_start",
            MemberKind::DbTermAheadOfWal => "db_term_ahead_of_wal",
            MemberKind::DbTermMismatch => "db_term_mismatch",
            MemberKind::ConfStateFromRestoreSource => "conf_state_from_restore_source",
            MemberKind::ConfStateMismatch => "conf_state_mismatch",
            MemberKind::DbNotRegularFile => "db_not_regular_file",
            MemberKind::NoEtcdBucket => "no_etcd_bucket",
            MemberKind::RevisionsUnreachable => "revisions_unreachable",
        }
    }
}

impl fmt::Display for MemberKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// MVCC-level kinds: a `key` bucket element that is not a sound revision (what salvage
/// skips, [`crate::salvage::RevProblem`]). Names are stable (snake_case in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MvccKind {
    /// The bbolt key is not a revision (`main` and `sub`, 8 bytes each, `_` between,
    /// `t` after for a tombstone).
    RevisionKeyMalformed,
    /// The revision's main or sub part is not positive.
    RevisionNotPositive,
    /// The value is not a `mvccpb.KeyValue`.
    KeyValueMalformed,
    /// The KeyValue carries no key.
    KeyValueWithoutKey,
    /// The KeyValue's `mod_revision` is not the revision of its bbolt key.
    ModRevisionMismatch,
}

impl MvccKind {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            MvccKind::RevisionKeyMalformed => "revision_key_malformed",
            MvccKind::RevisionNotPositive => "revision_not_positive",
            MvccKind::KeyValueMalformed => "key_value_malformed",
            MvccKind::KeyValueWithoutKey => "key_value_without_key",
            MvccKind::ModRevisionMismatch => "mod_revision_mismatch",
        }
    }
}

impl fmt::Display for MvccKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of a [`Finding`], from whichever layer found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A page of the bbolt file.
    Bbolt(bbolt_reader::FindingKind),
    /// A WAL record, segment or `.snap` file.
    Wal(wal_reader::FindingKind),
    /// How the member's parts fit together.
    Member(MemberKind),
    /// A revision of the `key` bucket.
    Mvcc(MvccKind),
}

impl Kind {
    /// The stable snake_case name (`cycle`, `crc_mismatch`, `wal_blocks_start`, ...).
    pub fn name(&self) -> String {
        match self {
            Kind::Bbolt(k) => k.as_str().to_string(),
            // wal-reader names its kinds through serde (rename_all = "snake_case").
            Kind::Wal(k) => serde_json::to_value(k)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| format!("{k:?}")),
            Kind::Member(k) => k.as_str().to_string(),
            Kind::Mvcc(k) => k.as_str().to_string(),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl PartialEq<MemberKind> for Kind {
    fn eq(&self, other: &MemberKind) -> bool {
        *self == Kind::Member(*other)
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// Where a finding is: any of file, page id, byte offset, key and revision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Location {
    /// bbolt page id, for `db` findings.
    pub page: Option<u64>,
    /// File name (segment, snap file, db), where one applies.
    pub file: Option<String>,
    /// Byte offset in `file`.
    pub offset: Option<u64>,
    /// The user key involved, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Vec<u8>>,
    /// The main revision involved, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

/// One finding: what, how bad, where, and a sentence saying what etcd will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What it is about.
    pub component: Component,
    /// How much it matters.
    pub severity: Severity,
    /// What was found.
    pub kind: Kind,
    /// Where.
    #[serde(flatten)]
    pub location: Location,
    /// What it means and what etcd will do.
    pub message: String,
}

impl Finding {
    /// A finding with no location.
    pub fn new(
        component: Component,
        severity: Severity,
        kind: Kind,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            component,
            severity,
            kind,
            location: Location::default(),
            message: message.into(),
        }
    }

    /// A member-level finding: damage when `damage`, else information.
    pub fn member(component: Component, damage: bool, kind: MemberKind, message: String) -> Self {
        let severity = if damage {
            Severity::Damage
        } else {
            Severity::Info
        };
        Finding::new(component, severity, Kind::Member(kind), message)
    }

    /// Wraps a bbolt-reader finding (always damage: bbolt does not tolerate any of them).
    pub fn from_bbolt(f: &bbolt_reader::Finding) -> Self {
        let mut m = Finding::new(
            Component::Db,
            Severity::Damage,
            Kind::Bbolt(f.kind),
            f.message.clone(),
        );
        m.location.page = Some(f.page);
        m
    }

    /// Wraps a wal-reader finding of `component` (`wal` or `snap`).
    pub fn from_wal(component: Component, f: &wal_reader::Finding) -> Self {
        let mut m = Finding::new(
            component,
            f.severity.into(),
            Kind::Wal(f.kind),
            f.message.clone(),
        );
        m.location.file = (!f.file.is_empty()).then(|| f.file.clone());
        m.location.offset = f.offset;
        m
    }

    /// Sets the file and byte offset.
    pub fn at(mut self, file: impl Into<String>, offset: Option<u64>) -> Self {
        self.location.file = Some(file.into());
        self.location.offset = offset;
        self
    }

    /// True for damage.
    pub fn is_damage(&self) -> bool {
        self.severity == Severity::Damage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_every_layer_serialise_to_their_snake_case_names() {
        let f = Finding::from_bbolt(&bbolt_reader::Finding {
            page: 163,
            kind: bbolt_reader::FindingKind::Cycle,
            message: "m".into(),
        });
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"component":"db","severity":"damage","kind":"cycle","page":163,"file":null,"offset":null,"message":"m"}"#
        );
        let w = wal_reader::Finding::info(wal_reader::FindingKind::TmpFile, "0.tmp", None, "t");
        let f = Finding::from_wal(Component::Wal, &w);
        assert_eq!(f.kind.name(), "tmp_file");
        assert_eq!(f.severity, Severity::Info);
        let m = Finding::member(
            Component::Member,
            true,
            MemberKind::DbAheadOfWal,
            "x".into(),
        );
        assert_eq!(m.kind.name(), "db_ahead_of_wal");
        assert!(m.kind == MemberKind::DbAheadOfWal);
    }

    #[test]
    fn a_key_or_revision_appears_in_json_only_when_known() {
        let mut f = Finding::member(Component::Member, false, MemberKind::NoWal, "x".into());
        f.location.revision = Some(7);
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["revision"], 7);
        assert!(v.get("key").is_none());
    }
}
