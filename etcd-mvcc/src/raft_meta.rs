//! The raft facts a 3.5+ db keeps in its `meta` bucket (`term`, `confState`) set against
//! the member's WAL and `.snap` files, and the member attributes that only the WAL holds.
//!
//! Facts (etcd 3.5 `server/etcdserver/api/membership`, `server/storage/schema`):
//! - `meta/confState` is the JSON of raftpb.ConfState (`voters`, `learners`,
//!   `voters_outgoing`, `learners_next`, `auto_leave`), saved when a conf change or a
//!   received snapshot is applied. Raft's own configuration at start comes from the
//!   `.snap` metadata and the WAL's conf-change entries, not from this key.
//! - `etcdutl snapshot restore` (3.5.1) writes the new members into the `members` bucket,
//!   a `.snap` and a WAL snapshot record whose conf state lists the new members, but leaves
//!   the source db's `meta/confState` as it was: the restored member's db lists the member
//!   the snapshot was taken from as the only voter until the next conf change rewrites it.
//! - `meta/term` is the term of the entry at `meta/consistent_index`; it can never exceed
//!   the WAL's HardState term (a db cannot have applied an entry of a term the log has not
//!   reached).
//! - 3.5's `members` bucket keeps `{id, peerURLs, name}`; the client URLs a member
//!   advertises are published through raft: a v2 `PUT /0/members/<id>/attributes` entry
//!   with `{"name", "clientURLs"}` (3.4 and 3.5.1 write this), or an InternalRaftRequest
//!   `cluster_member_attr_set` (field 1301, 3.5+).

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use wal_reader::pb::NormalData;
use wal_reader::record::ConfState;
use wal_reader::text::DecodedEntry;
use wal_reader::{EntryType, WalScan};

/// `meta/confState` decoded (etcd writes Go's JSON of raftpb.ConfState).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MetaConfState {
    /// Voting members.
    #[serde(default)]
    pub voters: Vec<u64>,
    /// Learners.
    #[serde(default)]
    pub learners: Vec<u64>,
    /// Voters of the outgoing configuration (joint consensus).
    #[serde(default)]
    pub voters_outgoing: Vec<u64>,
    /// Learners once the joint configuration is left.
    #[serde(default)]
    pub learners_next: Vec<u64>,
    /// Leave the joint configuration automatically.
    #[serde(default)]
    pub auto_leave: bool,
}

/// Most bytes of `meta/confState` decoded (a real one is well under a kilobyte).
pub const MAX_CONF_STATE_JSON: usize = 1 << 20;

/// Decodes `meta/confState`.
pub fn parse_conf_state(text: &str) -> Result<MetaConfState, String> {
    if text.len() > MAX_CONF_STATE_JSON {
        return Err(format!(
            "meta/confState is {} bytes, more than {MAX_CONF_STATE_JSON}",
            text.len()
        ));
    }
    serde_json::from_str(text).map_err(|e| format!("meta/confState is not a ConfState: {e}"))
}

/// Voters and learners as raft would hold them at the newest configuration the WAL and
/// `.snap` files give, with where that came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RaftConf {
    /// Voting members (sorted).
    pub voters: Vec<u64>,
    /// Learners (sorted).
    pub learners: Vec<u64>,
    /// Where it came from: the `.snap` file or WAL snapshot record, then the conf-change
    /// entries, joined.
    pub source: String,
    /// Index of the last conf change taken into account (the snapshot index when none).
    pub as_of_index: u64,
}

/// Conf-change entries considered at most; a real WAL has a handful.
const MAX_CONF_CHANGES: usize = 100_000;
/// Single changes (a ConfChange, or one of a ConfChangeV2's `changes`) applied at most: a
/// real ConfChangeV2 holds a few, a forged one could hold millions in one entry.
const MAX_CONF_SINGLES: usize = 100_000;

/// The configuration at raft index `upto`: the newest snapshot at or below it (a `.snap`
/// file's metadata, else a WAL snapshot record with a conf state, 3.5+), then the WAL's
/// conf-change entries after that snapshot up to `upto`.
///
/// Voters and learners are sets, so each change costs a look-up, not a pass over every
/// member so far (a hostile WAL adding a new id per change made that quadratic).
pub fn raft_conf_at(
    scan: &WalScan<'_>,
    snap: Option<(u64, &ConfState, &str)>,
    upto: u64,
) -> RaftConf {
    let mut voters: BTreeSet<u64> = BTreeSet::new();
    let mut learners: BTreeSet<u64> = BTreeSet::new();
    let mut base = 0u64;
    let mut sources: Vec<String> = Vec::new();
    if let Some((idx, cs, name)) = snap.filter(|(i, ..)| *i <= upto) {
        voters = cs.voters.iter().copied().collect();
        learners = cs.learners.iter().copied().collect();
        base = idx;
        sources.push(format!(".snap {name} (index {idx})"));
    }
    if let Some(rec) = scan
        .snapshots
        .iter()
        .filter(|s| s.index <= upto && s.index >= base && s.conf_state.is_some())
        .max_by_key(|s| s.index)
    {
        if rec.index > base || sources.is_empty() {
            let cs = rec.conf_state.as_deref().cloned().unwrap_or_default();
            voters = cs.voters.into_iter().collect();
            learners = cs.learners.into_iter().collect();
            base = rec.index;
            sources = vec![format!("WAL snapshot record at index {}", rec.index)];
        }
    }
    let mut as_of = base;
    let mut changes = 0usize;
    let mut singles_left = MAX_CONF_SINGLES;
    let mut cut_short = false;
    'entries: for e in &scan.entries {
        let idx = e.entry.index;
        if idx <= base || idx > upto {
            continue;
        }
        if !matches!(
            e.entry.entry_type,
            EntryType::ConfChange | EntryType::ConfChangeV2
        ) {
            continue;
        }
        if changes >= MAX_CONF_CHANGES {
            cut_short = true;
            break;
        }
        changes += 1;
        let singles: Vec<(i32, u64)> = match DecodedEntry::decode(&e.entry) {
            DecodedEntry::ConfChange(Some(c)) => vec![(c.change_type, c.node_id)],
            DecodedEntry::ConfChangeV2(Some(c)) => c
                .changes
                .iter()
                .map(|s| (s.change_type, s.node_id))
                .collect(),
            _ => Vec::new(),
        };
        for (t, id) in singles {
            if singles_left == 0 {
                cut_short = true;
                break 'entries;
            }
            singles_left -= 1;
            voters.remove(&id);
            learners.remove(&id);
            // raftpb.ConfChangeType: AddNode 0, RemoveNode 1, UpdateNode 2, AddLearnerNode 3.
            match t {
                0 | 2 => {
                    voters.insert(id);
                }
                3 => {
                    learners.insert(id);
                }
                _ => {}
            }
        }
        as_of = idx;
    }
    if changes > 0 {
        sources.push(format!("{changes} conf-change entries up to index {as_of}"));
    }
    if cut_short {
        sources.push(format!(
            "no more read (more than {MAX_CONF_CHANGES} conf-change entries or {MAX_CONF_SINGLES} single changes)"
        ));
    }
    RaftConf {
        voters: voters.into_iter().collect(),
        learners: learners.into_iter().collect(),
        source: if sources.is_empty() {
            "nothing (no snapshot, no conf-change entry)".to_string()
        } else {
            sources.join(", then ")
        },
        as_of_index: as_of,
    }
}

/// A member's name and client URLs as the WAL last published them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Published {
    /// Member id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Client URLs.
    #[serde(rename = "clientURLs")]
    pub client_urls: Vec<String>,
    /// Raft index of the entry they come from.
    pub index: u64,
    /// Which request: `v2 PUT /0/members/<id>/attributes` or `cluster_member_attr_set`.
    pub request: &'static str,
}

#[derive(serde::Deserialize)]
struct V2Attributes {
    #[serde(default)]
    name: String,
    #[serde(rename = "clientURLs", default)]
    client_urls: Vec<String>,
}

/// Members tracked at most (a cluster has a handful; a hostile WAL could name millions).
const MAX_PUBLISHED: usize = 10_000;

/// The newest published attributes of each member in the WAL's entries.
pub fn published_attributes(scan: &WalScan<'_>) -> BTreeMap<u64, Published> {
    let mut out: BTreeMap<u64, Published> = BTreeMap::new();
    let put = |p: Published, out: &mut BTreeMap<u64, Published>| {
        if out.len() < MAX_PUBLISHED || out.contains_key(&p.id) {
            out.insert(p.id, p);
        }
    };
    for e in &scan.entries {
        if e.entry.entry_type != EntryType::Normal {
            continue;
        }
        let index = e.entry.index;
        match NormalData::decode(e.entry.data) {
            NormalData::V2(r) => {
                if let Some(p) = v2_publish(&r, index) {
                    put(p, &mut out);
                }
            }
            NormalData::Internal(r) => {
                if let Some(p) = r.v2.as_ref().and_then(|v2| v2_publish(v2, index)) {
                    put(p, &mut out);
                }
                if let Some(a) = &r.cluster_member_attr_set {
                    let attrs = a.member_attributes.clone().unwrap_or_default();
                    put(
                        Published {
                            id: a.member_id,
                            name: String::from_utf8_lossy(&attrs.name).into_owned(),
                            client_urls: attrs
                                .client_urls
                                .iter()
                                .map(|u| String::from_utf8_lossy(u).into_owned())
                                .collect(),
                            index,
                            request: "cluster_member_attr_set",
                        },
                        &mut out,
                    );
                }
            }
            _ => {}
        }
    }
    out
}

fn v2_publish(r: &wal_reader::pb::Request, index: u64) -> Option<Published> {
    if r.method != b"PUT" {
        return None;
    }
    let path = std::str::from_utf8(&r.path).ok()?;
    let id_hex = path
        .strip_prefix("/0/members/")?
        .strip_suffix("/attributes")?;
    let id = u64::from_str_radix(id_hex, 16).ok()?;
    let a: V2Attributes = serde_json::from_slice(&r.val).ok()?;
    Some(Published {
        id,
        name: a.name,
        client_urls: a.client_urls,
        index,
        request: "v2 PUT /0/members/<id>/attributes",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_state_json_as_etcd_3_5_writes_it_decodes() {
        let c =
            parse_conf_state(r#"{"voters":[12561903847770758616],"auto_leave":false}"#).unwrap();
        assert_eq!(c.voters, vec![12561903847770758616]);
        assert!(c.learners.is_empty());
        assert!(parse_conf_state("{").is_err());
        assert!(parse_conf_state(&" ".repeat(MAX_CONF_STATE_JSON + 1)).is_err());
    }

    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    #[test]
    fn a_conf_change_v2_adding_200k_members_is_not_quadratic_and_stops_at_the_bound() {
        // One forged ConfChangeV2 entry: 200,000 AddNode singles with distinct ids. Kept
        // in a Vec with a pass per change this took minutes; as sets it is one look-up
        // per change, and changes past MAX_CONF_SINGLES are not applied.
        let mut data = Vec::new();
        for id in 1..=200_000u64 {
            let mut single = vec![0x10];
            varint(&mut single, id);
            data.push(0x12);
            data.push(single.len() as u8);
            data.extend_from_slice(&single);
        }
        let mut scan = wal_reader::scan_wal(&[], Vec::new(), Default::default());
        let entry = |index: u64, entry_type: EntryType, data: &'static [u8]| {
            wal_reader::scan::LogEntry::new(
                wal_reader::record::EntryRef {
                    term: 2,
                    index,
                    entry_type,
                    data,
                },
                0,
                0,
            )
        };
        let data: &'static [u8] = Box::leak(data.into_boxed_slice());
        scan.entries.push(entry(5, EntryType::ConfChangeV2, data));
        // A later ConfChange (3.4 style) removing id 1: past the bound, not applied.
        scan.entries
            .push(entry(6, EntryType::ConfChange, &[0x10, 0x01, 0x18, 0x01]));
        let c = raft_conf_at(&scan, None, u64::MAX);
        assert_eq!(c.voters.len(), MAX_CONF_SINGLES);
        assert_eq!(c.voters.first(), Some(&1));
        assert_eq!(c.as_of_index, 0, "the cut entry is not taken into account");
        assert!(c.source.contains("no more read"), "{}", c.source);
    }

    #[test]
    fn conf_changes_add_voters_and_learners_and_remove_them_in_index_order() {
        let mut scan = wal_reader::scan_wal(&[], Vec::new(), Default::default());
        // raftpb.ConfChange{Type=2, NodeID=3}: AddNode 0 (omitted), RemoveNode 1,
        // AddLearnerNode 3.
        let add7: &[u8] = &[0x18, 0x07];
        let learner9: &[u8] = &[0x10, 0x03, 0x18, 0x09];
        let remove7: &[u8] = &[0x10, 0x01, 0x18, 0x07];
        for (i, d) in [add7, learner9, remove7].into_iter().enumerate() {
            scan.entries.push(wal_reader::scan::LogEntry::new(
                wal_reader::record::EntryRef {
                    term: 2,
                    index: 10 + i as u64,
                    entry_type: EntryType::ConfChange,
                    data: d,
                },
                0,
                0,
            ));
        }
        let cs = ConfState {
            voters: vec![1],
            ..ConfState::default()
        };
        let c = raft_conf_at(&scan, Some((9, &cs, "a.snap")), u64::MAX);
        assert_eq!(c.voters, vec![1]);
        assert_eq!(c.learners, vec![9]);
        assert_eq!(c.as_of_index, 12);
        let at11 = raft_conf_at(&scan, Some((9, &cs, "a.snap")), 11);
        assert_eq!(at11.voters, vec![1, 7]);
    }
}
