//! Decoded raft entries: an entry's data decoded by its type, once, for every printer
//! (the etcd-dump-logs text in [`crate::text`], JSON lines, replay).
//!
//! Facts (etcd 3.4 `raft/raftpb`, `etcdserver/etcdserverpb`): a normal entry holds an
//! `InternalRaftRequest` (v3), a v2 `Request`, or nothing (the leader's empty entry at a
//! new term); conf change entries hold a `ConfChange` or `ConfChangeV2`.

use crate::pb::{self, NormalData};
use crate::record::{EntryRef, EntryType};
use prost::Message;

/// A raft entry with its data decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum DecodedEntry {
    /// A normal entry.
    Normal(NormalData),
    /// raftpb.ConfChange (`None`: does not decode).
    ConfChange(Option<pb::ConfChange>),
    /// raftpb.ConfChangeV2 (`None`: does not decode).
    ConfChangeV2(Option<pb::ConfChangeV2>),
    /// Unknown entry type.
    Unknown,
}

impl DecodedEntry {
    /// Decodes an entry's data by its type.
    pub fn decode(e: &EntryRef<'_>) -> DecodedEntry {
        match e.entry_type {
            EntryType::Normal => DecodedEntry::Normal(NormalData::decode(e.data)),
            EntryType::ConfChange => DecodedEntry::ConfChange(pb::ConfChange::decode(e.data).ok()),
            EntryType::ConfChangeV2 => {
                DecodedEntry::ConfChangeV2(pb::ConfChangeV2::decode(e.data).ok())
            }
            EntryType::Unknown(_) => DecodedEntry::Unknown,
        }
    }
}

impl DecodedEntry {
    /// What the entry is, in a few words and without its keys or values (which may be
    /// secrets): the request names of an InternalRaftRequest (`put`, `txn`, ...),
    /// `v2 request`, `empty` (a new leader's no-op), `conf change`, ...
    pub fn summary(&self) -> String {
        match self {
            DecodedEntry::Normal(NormalData::Empty) => "empty".into(),
            DecodedEntry::Normal(NormalData::Internal(r)) => r.request_names().join(","),
            DecodedEntry::Normal(NormalData::V2(_)) => "v2 request".into(),
            DecodedEntry::Normal(NormalData::Unknown) => "undecodable".into(),
            DecodedEntry::ConfChange(_) => "conf change".into(),
            DecodedEntry::ConfChangeV2(_) => "conf change v2".into(),
            DecodedEntry::Unknown => "unknown entry type".into(),
        }
    }
}
