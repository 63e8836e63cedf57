//! Decoded raft entries: an entry's data decoded by its type, once, for every printer
//! (the etcd-dump-logs text in [`crate::text`], JSON lines, replay).
//!
//! Facts (etcd 3.4 `raft/raftpb`, `etcdserver/etcdserverpb`): a normal entry holds an
//! `InternalRaftRequest` (v3), a v2 `Request`, or nothing (the leader's empty entry at a
//! new term); conf change entries hold a `ConfChange` or `ConfChangeV2`.

use crate::pb::{self, NormalData};
use crate::record::{EntryRef, EntryType};
use crate::view::MessageView;
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

impl EntryRef<'_> {
    /// This entry's data decoded by its type ([`DecodedEntry::decode`]).
    pub fn decoded(&self) -> DecodedEntry {
        DecodedEntry::decode(self)
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

/// What a raft entry's data is, decided exactly as [`DecodedEntry::decode`] decides it
/// (same prost rules, same txn size bound), without decoding anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// A normal entry with no data: a new leader's no-op.
    Empty,
    /// A normal entry holding an etcdserverpb.InternalRaftRequest.
    Internal,
    /// A normal entry holding a v2 etcdserverpb.Request.
    V2,
    /// A normal entry whose data is neither (or holds more than
    /// [`crate::pb::MAX_TXN_MESSAGES`] txn compares and ops).
    UndecodableNormal,
    /// A raftpb.ConfChange.
    ConfChange,
    /// A conf change entry whose data does not decode.
    BadConfChange,
    /// A raftpb.ConfChangeV2.
    ConfChangeV2,
    /// A conf change v2 entry whose data does not decode.
    BadConfChangeV2,
    /// An entry type raft does not define.
    UnknownType,
}

/// What a raft entry's data is ([`EntryView::new`]'s classification, without the data):
/// decided once, while verification has the record's bytes in cache, and carried by
/// [`crate::segment::Item::Entry`] and [`crate::LogEntry`] so that printers and counts do
/// not read every entry's data a second time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryClass {
    kind: DataKind,
    present: u64,
}

impl EntryClass {
    /// Classifies `e`'s data (one validating pass over it).
    pub fn of(e: &EntryRef<'_>) -> EntryClass {
        let v = EntryView::new(e);
        EntryClass {
            kind: v.kind,
            present: v.present,
        }
    }

    /// What the data is.
    pub fn kind(&self) -> DataKind {
        self.kind
    }
}

/// A raft entry's data classified and read in place: the printers' view of an entry
/// (borrowing the segment mapping, allocating nothing however large the entry).
#[derive(Debug, Clone, Copy)]
pub struct EntryView<'a> {
    /// What the data is.
    pub kind: DataKind,
    /// For an InternalRaftRequest: which of its declared fields occur (one bit each).
    present: u64,
    data: [&'a [u8]; 1],
}

impl<'a> EntryView<'a> {
    /// Classifies `e`'s data (one validating pass over it; nothing is copied).
    pub fn new(e: &EntryRef<'a>) -> EntryView<'a> {
        use crate::view::{CONF_CHANGE, CONF_CHANGE_V2, INTERNAL_RAFT_REQUEST, REQUEST};
        let d = e.data;
        let mut present = 0;
        let kind = match e.entry_type {
            EntryType::Normal => {
                // One pass over a request that decodes: its txn ops are counted on the way
                // (NormalData::decode counts them first, on any bytes; on bytes that decode
                // as an InternalRaftRequest both count the same fields).
                let (irr, t) = INTERNAL_RAFT_REQUEST.decodes_tallying(d);
                present = t.present;
                if d.is_empty() {
                    DataKind::Empty
                } else if irr {
                    if t.txn_ops > pb::MAX_TXN_MESSAGES {
                        DataKind::UndecodableNormal
                    } else {
                        DataKind::Internal
                    }
                } else if pb::txn_messages_over_limit(d) {
                    DataKind::UndecodableNormal
                } else if REQUEST.decodes(d) {
                    DataKind::V2
                } else {
                    DataKind::UndecodableNormal
                }
            }
            EntryType::ConfChange if CONF_CHANGE.decodes(d) => DataKind::ConfChange,
            EntryType::ConfChange => DataKind::BadConfChange,
            EntryType::ConfChangeV2 if CONF_CHANGE_V2.decodes(d) => DataKind::ConfChangeV2,
            EntryType::ConfChangeV2 => DataKind::BadConfChangeV2,
            EntryType::Unknown(_) => DataKind::UnknownType,
        };
        EntryView {
            kind,
            present,
            data: [d],
        }
    }

    /// The view of `e` classified as `class`, which must be `EntryClass::of(e)` (the
    /// callers in this crate keep the two together): nothing is read again.
    pub(crate) fn classified(e: &EntryRef<'a>, class: EntryClass) -> EntryView<'a> {
        EntryView {
            kind: class.kind,
            present: class.present,
            data: [e.data],
        }
    }

    /// The decoded message, for the kinds that have one.
    pub fn message(&self) -> Option<MessageView<'a, '_>> {
        use crate::view::{CONF_CHANGE, CONF_CHANGE_V2, INTERNAL_RAFT_REQUEST, REQUEST};
        let schema = match self.kind {
            DataKind::Internal => &INTERNAL_RAFT_REQUEST,
            DataKind::V2 => &REQUEST,
            DataKind::ConfChange => &CONF_CHANGE,
            DataKind::ConfChangeV2 => &CONF_CHANGE_V2,
            _ => return None,
        };
        Some(MessageView::new(schema, &self.data))
    }

    /// The InternalRaftRequest, when the entry holds one.
    pub fn internal(&self) -> Option<MessageView<'a, '_>> {
        self.message().filter(|_| self.kind == DataKind::Internal)
    }

    /// Calls `f` with each request name of an InternalRaftRequest (its set message fields
    /// but `header`, in declaration order: `put`, `txn`, ...; usually exactly one).
    pub fn request_names(&self, mut f: impl FnMut(&'static str)) {
        if self.kind == DataKind::Internal {
            crate::view::INTERNAL_RAFT_REQUEST.message_fields_in(self.present, |n| {
                if n != "header" {
                    f(n)
                }
            });
        }
    }

    /// Whether the InternalRaftRequest has the request `name` (`put`, `txn`, ...).
    pub fn has_request(&self, name: &str) -> bool {
        self.kind == DataKind::Internal
            && crate::view::INTERNAL_RAFT_REQUEST.has_in(self.present, name)
    }
}
