//! What etcd would do with this WAL on restart.
//!
//! etcd loads the newest usable `.snap`, opens the WAL at the last segment whose name index
//! is at or below the snapshot index, requires a snapshot record with that index and term,
//! and replays the entries after it; those at or below `HardState.commit` are committed and
//! get applied, the rest are the uncommitted tail that raft may still replace
//! (etcd `etcdserver/raft.go` restartNode, `wal/wal.go` ReadAll).

use crate::finding::{Finding, FindingKind};
use crate::scan::WalScan;
use serde::Serialize;

/// The restart picture.
#[derive(Debug, Clone, Serialize)]
pub struct RestartView {
    /// Snapshot etcd would start from: (index, term), or (0, 0) with no snapshot.
    pub snapshot_index: u64,
    /// Its term.
    pub snapshot_term: u64,
    /// Whether the WAL has a snapshot record for it.
    pub snapshot_in_wal: bool,
    /// Entries after the snapshot.
    pub entries: u64,
    /// First of them.
    pub first_index: Option<u64>,
    /// Last of them.
    pub last_index: Option<u64>,
    /// HardState.commit.
    pub commit: u64,
    /// Entries after the snapshot and at or below commit.
    pub committed: u64,
    /// Entries above commit.
    pub uncommitted: u64,
    /// Problems etcd would hit.
    pub findings: Vec<Finding>,
}

/// Computes the restart picture from a read WAL and the loaded snapshot's (index, term).
pub fn restart_view(scan: &WalScan<'_>, snapshot: Option<(u64, u64)>) -> RestartView {
    let (si, st) = snapshot.unwrap_or((0, 0));
    let commit = scan.hard_state.map(|h| h.commit).unwrap_or(0);
    let start = scan.entries.partition_point(|e| e.entry.index <= si);
    let after = &scan.entries[start..];
    let committed = after.iter().filter(|e| e.entry.index <= commit).count() as u64;
    let mut findings = Vec::new();
    let mark = scan.snapshots.iter().rev().find(|s| s.index == si);
    let snapshot_in_wal = match mark {
        Some(m) if m.term == st => true,
        Some(m) => {
            findings.push(Finding::damage(
                FindingKind::SnapshotMismatch,
                "",
                None,
                format!(
                    "the WAL's snapshot record at index {si} has term {}, the snapshot has term {st} (etcd: wal: snapshot mismatch)",
                    m.term
                ),
            ));
            false
        }
        None => {
            findings.push(Finding::damage(
                FindingKind::SnapshotNotFound,
                "",
                None,
                format!(
                    "no snapshot record for index {si} term {st} in the WAL read (etcd: wal: snapshot not found)"
                ),
            ));
            false
        }
    };
    if let Some(first) = after.first() {
        if first.entry.index != si + 1 {
            findings.push(Finding::damage(
                FindingKind::IndexGap,
                "",
                None,
                format!(
                    "the first entry after snapshot index {si} is {}, not {} (etcd: wal: slice bounds out of range)",
                    first.entry.index,
                    si + 1
                ),
            ));
        }
    }
    RestartView {
        snapshot_index: si,
        snapshot_term: st,
        snapshot_in_wal,
        entries: after.len() as u64,
        first_index: after.first().map(|e| e.entry.index),
        last_index: after.last().map(|e| e.entry.index),
        commit,
        committed,
        uncommitted: after.len() as u64 - committed,
        findings,
    }
}
