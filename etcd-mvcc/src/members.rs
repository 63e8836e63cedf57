//! The comparison of several members of one cluster (`members`): which one holds the
//! most committed data, and which disagree.
//!
//! Per member: cluster and member ID (WAL metadata), raft term and commit index
//! (HardState), last WAL index, applied index (db `consistent_index`), the index the
//! member reaches after a restart (it applies its committed WAL entries: the larger of the
//! applied index and min(commit, last readable index)), revision, compact revision, the
//! whole-member verdict ([`crate::verdict::check_member`]), and etcd's HashKV at one
//! revision all members have: the smallest newest revision among them, hashed with the
//! largest compact revision among them, so that entries one member compacted and another
//! did not are left out alike.
//!
//! Disagreement: another cluster ID; a HashKV that differs from the others' at the common
//! revision (the keyspaces differ at a revision both hold: split brain or corruption), or,
//! among the members ahead of the common revision, at each higher revision several of
//! them hold (they diverged after it); the same applied index with different revisions;
//! different memberships recorded in the dbs (a member behind a membership change, or
//! `--force-new-cluster` run on one). The member that holds the most committed data is
//! the one with the highest index after restart (then term) among the healthy members
//! that hold any data; a damaged or empty member is never recommended.

use crate::error::Result;
use crate::hash::hash_kv;
use crate::info::read_info;
use crate::member::{DbImage, Member};
use crate::verdict::{check_member, MemberCheck};
use bbolt_reader::{Db, MetaChoice};
use serde::Serialize;
use std::collections::BTreeMap;

/// One member's row.
#[derive(Debug, Clone, Serialize)]
pub struct MemberRow {
    /// The path given.
    pub path: String,
    /// Member ID (WAL metadata).
    pub member_id_hex: Option<String>,
    /// Cluster ID (WAL metadata).
    pub cluster_id_hex: Option<String>,
    /// Name from the db's members bucket.
    pub name: Option<String>,
    /// HardState.term.
    pub term: Option<u64>,
    /// HardState.commit.
    pub commit: Option<u64>,
    /// Last readable WAL index.
    pub last_index: Option<u64>,
    /// db consistent index.
    pub consistent_index: Option<u64>,
    /// Applied index after a restart.
    pub index_after_restart: u64,
    /// db revision.
    pub revision: Option<i64>,
    /// db compact revision.
    pub compact_revision: Option<i64>,
    /// The whole-member check found no damage.
    pub healthy: bool,
    /// Damage found, one line each.
    pub problems: Vec<String>,
    /// HashKV at the common revision.
    pub hash: Option<u32>,
    /// Member IDs (hex) the db's members bucket lists.
    pub db_members: Vec<String>,
    /// The release that wrote the member's db (etcd's schema rule).
    pub written_by: Option<crate::version::Release>,
}

/// The comparison.
#[derive(Debug, Clone, Serialize)]
pub struct MembersReport {
    /// `etcd-autopsy/members/v1`.
    pub schema: &'static str,
    /// One row per input, in order.
    pub members: Vec<MemberRow>,
    /// Revision every member holds (the smallest newest revision).
    pub common_revision: Option<i64>,
    /// Compact revision used for the hashes (the largest).
    pub hash_compact_revision: Option<i64>,
    /// No disagreement and no damage.
    pub agree: bool,
    /// Paths of the members holding the most committed data, among the healthy,
    /// non-empty ones (empty when there is none to restore from).
    pub most_committed: Vec<String>,
    /// Why they disagree.
    pub disagreements: Vec<String>,
    /// The members' dbs were written by different releases (a rolling upgrade midway).
    pub storage_versions_differ: bool,
}

fn row(
    path: &std::path::Path,
    c: &MemberCheck,
    name: Option<String>,
    db_members: Vec<String>,
) -> MemberRow {
    let m = &c.member;
    let readable_last = m.last_index.unwrap_or(0);
    let after = m
        .consistent_index
        .unwrap_or(0)
        .max(m.commit.unwrap_or(0).min(readable_last));
    MemberRow {
        path: path.display().to_string(),
        member_id_hex: m.node_id_hex.clone(),
        cluster_id_hex: m.cluster_id_hex.clone(),
        name,
        term: m.term,
        commit: m.commit,
        last_index: m.last_index,
        consistent_index: m.consistent_index,
        index_after_restart: after,
        revision: m.revision,
        compact_revision: m.compact_revision,
        healthy: c.ok,
        written_by: m.written_by,
        problems: c
            .findings
            .iter()
            .map(|f| format!("{} {}: {}", f.component, f.kind, f.message))
            .collect(),
        hash: None,
        db_members,
    }
}

/// HashKV of `image` at `rev` with compact revision `compact`.
fn hash_at(image: &DbImage, rev: i64, compact: i64, pool: &rayon::ThreadPool) -> Option<u32> {
    let db = Db::open(image.bytes()).ok()?;
    let bucket = db.bucket(crate::KEY_BUCKET).ok()?;
    let h = pool.install(|| hash_kv(bucket.as_ref(), rev, compact, &|_| {}));
    h.ok().map(|h| h.hash)
}

fn hash_groups(g: &BTreeMap<u32, Vec<&str>>) -> String {
    g.iter()
        .map(|(h, ps)| format!("{h} ({})", ps.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Compares `members` (resolved inputs, in the order given), on `pool`.
pub fn compare_members(members: &[Member], pool: &rayon::ThreadPool) -> Result<MembersReport> {
    let mut rows = Vec::new();
    let mut images: Vec<Option<DbImage>> = Vec::new();
    for member in members {
        let p = &member.given;
        let check = check_member(member, MetaChoice::Newest)?;
        let image = match &member.db {
            Some(db) => Some(DbImage::open_file(db, member.kind)?),
            None => None,
        };
        let id = check
            .member
            .node_id_hex
            .as_deref()
            .and_then(|h| u64::from_str_radix(h, 16).ok());
        let recorded = image
            .as_ref()
            .and_then(|i| Db::open(i.bytes()).ok())
            .map(|db| read_info(&db).members)
            .unwrap_or_default();
        let name = recorded
            .iter()
            .find(|m| Some(m.id) == id)
            .map(|m| m.name.clone());
        let mut ids: Vec<String> = recorded.iter().map(|m| m.id_hex.clone()).collect();
        ids.sort();
        rows.push(row(p, &check, name, ids));
        images.push(image);
    }
    let revs: Vec<i64> = rows.iter().filter_map(|r| r.revision).collect();
    let compacts: Vec<i64> = rows.iter().filter_map(|r| r.compact_revision).collect();
    let common = revs.iter().copied().min();
    let hash_compact = compacts.iter().copied().max();
    let mut disagreements = Vec::new();
    if let (Some(r), Some(c)) = (common, hash_compact) {
        if r > c {
            for (row, image) in rows.iter_mut().zip(&images) {
                row.hash = image.as_ref().and_then(|i| hash_at(i, r, c, pool));
            }
        } else {
            disagreements.push(format!(
                "no revision all members hold above the largest compact revision {c} (smallest newest revision {r}): HashKV cannot be compared"
            ));
        }
    }
    // Cluster IDs.
    let mut clusters: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in &rows {
        if let Some(c) = &r.cluster_id_hex {
            clusters.entry(c).or_default().push(&r.path);
        }
    }
    if clusters.len() > 1 {
        disagreements.push(format!(
            "the members belong to different clusters: {}",
            clusters
                .iter()
                .map(|(c, ps)| format!("{c} ({})", ps.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    // Hashes at the common revision: the largest group is the reference.
    let mut by_hash: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
    for r in &rows {
        if let Some(h) = r.hash {
            by_hash.entry(h).or_default().push(&r.path);
        }
    }
    if by_hash.len() > 1 {
        let rev = common.unwrap_or(0);
        disagreements.push(format!(
            "the keyspaces differ at revision {rev}, which every member holds (HashKV with compact revision {}): {} — members with another hash than the majority diverged (split brain or corruption); compare them with `etcd-autopsy diff A B --rev {rev}`",
            hash_compact.unwrap_or(-1),
            hash_groups(&by_hash)
        ));
    } else if let (Some(c), Some(_)) = (hash_compact, common) {
        // Members ahead of the common revision may still disagree among themselves above
        // it: compare them at each higher revision some of them hold.
        let mut levels: Vec<i64> = revs.iter().copied().filter(|&r| Some(r) > common).collect();
        levels.sort_unstable();
        levels.dedup();
        for level in levels {
            let mut groups: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
            for (row, image) in rows.iter().zip(&images) {
                if row.revision.is_none_or(|r| r < level) {
                    continue;
                }
                if let Some(h) = image.as_ref().and_then(|i| hash_at(i, level, c, pool)) {
                    groups.entry(h).or_default().push(&row.path);
                }
            }
            if groups.len() > 1 {
                disagreements.push(format!(
                    "the keyspaces of the members ahead of the others differ at revision {level}: {} — they diverged after revision {} (split brain: each accepted other writes); compare them with `etcd-autopsy diff A B --rev {level}`",
                    hash_groups(&groups),
                    common.unwrap_or(0)
                ));
                break;
            }
        }
    }
    // Same applied index, different revision.
    let mut by_ci: BTreeMap<u64, BTreeMap<i64, Vec<&str>>> = BTreeMap::new();
    for r in &rows {
        if let (Some(ci), Some(rev)) = (r.consistent_index, r.revision) {
            by_ci
                .entry(ci)
                .or_default()
                .entry(rev)
                .or_default()
                .push(&r.path);
        }
    }
    for (ci, revs) in &by_ci {
        if revs.len() > 1 {
            disagreements.push(format!(
                "applied index {ci} gives different revisions: {}",
                revs.iter()
                    .map(|(rev, ps)| format!("{rev} ({})", ps.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
    }
    // Membership as each db records it.
    let mut by_members: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for r in rows.iter().filter(|r| !r.db_members.is_empty()) {
        by_members
            .entry(r.db_members.join(","))
            .or_default()
            .push(&r.path);
    }
    if by_members.len() > 1 {
        disagreements.push(format!(
            "the dbs record different memberships: {} — one member lags behind a membership change, or --force-new-cluster was run on one",
            by_members
                .iter()
                .map(|(m, ps)| format!("[{m}] ({})", ps.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    for r in &rows {
        if !r.healthy {
            disagreements.push(format!(
                "{} is damaged: {}",
                r.path,
                r.problems.first().map_or("", |s| s.as_str())
            ));
        }
    }
    // Most committed data: the highest index after restart (then term), among the
    // members one can restore from: healthy and not empty. A damaged or empty member is
    // never named, even when it is the only one.
    let key = |r: &MemberRow| (r.index_after_restart, r.term.unwrap_or(0));
    let candidates = || rows.iter().filter(|r| restorable(r));
    let best = candidates().map(key).max();
    let most_committed = candidates()
        .filter(|r| Some(key(r)) == best)
        .map(|r| r.path.clone())
        .collect();
    Ok(MembersReport {
        schema: "etcd-autopsy/members/v1",
        storage_versions_differ: {
            let v: std::collections::BTreeSet<_> = rows.iter().map(|r| r.written_by).collect();
            v.len() > 1
        },
        agree: disagreements.is_empty(),
        members: rows,
        common_revision: common,
        hash_compact_revision: hash_compact,
        most_committed,
        disagreements,
    })
}

/// A member one can restore from: no damage, and it holds committed data (a db with
/// applied entries, or WAL entries etcd applies on start).
fn restorable(r: &MemberRow) -> bool {
    r.healthy && r.index_after_restart > 0
}
