//! Replaying the WAL entries a db has not applied yet, as etcd does on start.
//!
//! etcd writes an entry to the WAL before applying it, and commits the db (with the
//! `consistent_index` of the last applied entry) only every 100 ms or so; a member that
//! stopped hard has committed entries in its WAL that its db lacks. On start etcd applies
//! every committed entry whose index is above the db's consistent index (etcd 3.4
//! `applyEntryNormal`: `e.Index > consistIndex`). This module does the same on a
//! [`State`] loaded from the db.
//!
//! Which entries count as committed: those at or below the last HardState.commit read.
//! A member that is the only voter of its cluster commits its whole log when it starts
//! again (it wins the election and its first entry of the new term commits everything
//! before it), so for a sole voter the entries past HardState.commit count as well; the
//! caller decides that with [`ReplayBound`].

use super::apply::{apply, Outcome};
use super::state::State;
use crate::error::{Error, Result};
use crate::info::EtcdInfo;
use crate::member::Member;
use std::collections::BTreeMap;
use wal_reader::pb::NormalData;
use wal_reader::{EntryType, LogEntry, ScanOptions, WalDir};

/// Up to which index entries are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayBound {
    /// HardState.commit.
    Commit,
    /// The last entry in the WAL (sole voter: etcd commits it on start).
    LastIndex,
}

/// At most this many refused requests are listed (all are counted).
pub const MAX_REFUSED_LISTED: usize = 100;

/// What a replay did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReplayReport {
    /// First index applied (consistent index + 1).
    pub from_index: u64,
    /// Last index applied (0 when none).
    pub to_index: u64,
    /// Entries looked at.
    pub entries: u64,
    /// Requests applied per kind (InternalRaftRequest field names).
    pub applied: BTreeMap<&'static str, u64>,
    /// Requests refused, by etcd's error text.
    pub refused: BTreeMap<&'static str, u64>,
    /// The first refused requests: (index, request kind, error).
    pub refused_list: Vec<(u64, &'static str, &'static str)>,
    /// Leader no-op entries.
    pub noops: u64,
    /// v2 requests (membership and cluster version in 3.4; no keyspace effect).
    pub v2_requests: u64,
    /// Conf change entries (membership; no keyspace effect).
    pub conf_changes: u64,
    /// Normal entries whose data decodes as neither request.
    pub undecodable: u64,
    /// Store revision before.
    pub revision_before: i64,
    /// Store revision after.
    pub revision_after: i64,
    /// Entries missing between the consistent index and the first entry of the WAL.
    pub missing_before_first: u64,
}

fn kind(r: &wal_reader::pb::InternalRaftRequest) -> &'static str {
    r.request_names().first().copied().unwrap_or("empty")
}

/// Applies the entries of `log` with `after < index <= through` to `state`.
pub fn replay(
    state: &mut State<'_>,
    log: &[LogEntry<'_>],
    after: u64,
    through: u64,
) -> ReplayReport {
    let mut rep = ReplayReport {
        from_index: after.saturating_add(1),
        revision_before: state.revision,
        ..Default::default()
    };
    let start = log.partition_point(|e| e.entry.index <= after);
    if let Some(first) = log.get(start) {
        if first.entry.index > after.saturating_add(1) && first.entry.index <= through {
            rep.missing_before_first = first.entry.index - after - 1;
        }
    } else if through > after {
        rep.missing_before_first = through - after;
    }
    for le in &log[start..] {
        let e = le.entry;
        if e.index > through {
            break;
        }
        rep.entries += 1;
        rep.to_index = e.index;
        if e.entry_type != EntryType::Normal {
            rep.conf_changes += 1;
            continue;
        }
        match NormalData::decode(e.data) {
            NormalData::Empty => rep.noops += 1,
            NormalData::V2(_) => rep.v2_requests += 1,
            NormalData::Unknown => rep.undecodable += 1,
            NormalData::Internal(r) => {
                let k = kind(&r);
                match apply(state, &r) {
                    Outcome::Applied { .. } | Outcome::NoEffect => {
                        *rep.applied.entry(k).or_default() += 1
                    }
                    Outcome::Refused(why) => {
                        *rep.refused.entry(why).or_default() += 1;
                        if rep.refused_list.len() < MAX_REFUSED_LISTED {
                            rep.refused_list.push((e.index, k, why));
                        }
                    }
                }
            }
        }
    }
    rep.revision_after = state.revision;
    rep
}

/// A loaded keyspace, possibly with the WAL replayed on top.
#[derive(Debug)]
pub struct Replayed {
    /// What the replay did.
    pub report: ReplayReport,
    /// Which bound was used.
    pub bound: ReplayBound,
    /// The db's consistent index.
    pub consistent_index: u64,
    /// HardState.commit.
    pub commit: u64,
    /// Where reading the WAL stopped at damage: (segment, offset).
    pub wal_stopped_at: Option<(String, u64)>,
}

/// Replays `member`'s WAL on top of `state` (whose db has `info`), as etcd does on start:
/// the committed entries above the db's consistent index; for a sole voter the whole log
/// (see [`ReplayBound`]).
pub fn replay_member(member: &Member, info: &EtcdInfo, state: &mut State<'_>) -> Result<Replayed> {
    let Some(wal_dir) = &member.wal_dir else {
        return Err(Error::input(
            &member.given,
            "--replay-wal needs a data dir or member dir with member/wal",
        ));
    };
    let wal = WalDir::open(wal_dir)?;
    let scan = wal.scan(ScanOptions { raw: false });
    let commit = scan.hard_state.map_or(0, |h| h.commit);
    let last = scan.last_index().unwrap_or(0);
    let voters = info.members.iter().filter(|m| !m.is_learner).count();
    let bound = if voters == 1 {
        ReplayBound::LastIndex
    } else {
        ReplayBound::Commit
    };
    let through = match bound {
        ReplayBound::Commit => commit,
        ReplayBound::LastIndex => last.max(commit),
    };
    let ci = info.meta.consistent_index.unwrap_or(0);
    let report = replay(state, &scan.entries, ci, through);
    Ok(Replayed {
        report,
        bound,
        consistent_index: ci,
        commit,
        wal_stopped_at: scan.stopped_at.clone(),
    })
}
