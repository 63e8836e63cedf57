//! The whole-member verdict: what `check <DATA-DIR>` reports, and what `report` and
//! `members` build on, computed once here from the findings of every layer.
//!
//! Components, each finding tagged with one:
//! - `db`: bbolt's consistency checks on `member/snap/db` (the same findings as
//!   `check <DB>`), plus `db_missing`, `db_unreadable`, `meta_problem`;
//! - `wal`: the WAL chain as etcd reads it (wal-reader findings: `crc_mismatch`,
//!   `torn_write`, `truncated_record`, `sequence_gap`, `index_gap`, ...), and one verdict
//!   for the point where reading stops: `wal_tail_truncated_on_start` (a torn tail in the
//!   last segment, which etcd 3.4 cuts off on start, keeping a `.broken` copy) or
//!   `wal_blocks_start` (damage etcd refuses to start with);
//! - `snap`: the `.snap` files (`snap_crc_mismatch`, `snap_corrupt`, ...);
//! - `member`: whether db, WAL and snapshot agree: `db_behind_snapshot`,
//!   `commit_beyond_last_index`, `entries_missing`, `db_ahead_of_wal`, and the
//!   informational `unapplied_entries` (committed entries the db has not applied; etcd
//!   applies them on start — normal after a hard stop) and `member_not_in_db` (the WAL's
//!   member is not in the db's members bucket: normal after `etcdctl snapshot restore`).
//!
//! Facts (etcd 3.4): on start etcd loads the newest readable `.snap`; when its index is
//! above the db's consistent index it needs `<index>.snap.db` and fails without it
//! (`recoverSnapshotBackend`). It reads the WAL from the snapshot on; `io.ErrUnexpectedEOF`
//! (a torn or cut record) in the last segment is repaired by truncating it there, any
//! other read error stops etcd (`etcdserver/storage.go readWAL`, `wal/repair.go`).
//! Raft refuses a HardState.commit beyond its last index. Committed entries above the
//! consistent index are applied on start.
//!
//! # JSON (`--json`)
//!
//! `{"ok": bool, "meta_in_use": 0 | 1 | null, "findings": [{"component": "db" | "wal" |
//! "snap" | "member", "severity": "damage" | "info", "kind", "page": pgid | null,
//! "file": name | null, "offset": int | null, "message"}], "member": {"db", "wal_dir",
//! "consistent_index", "revision", "compact_revision", "node_id_hex", "cluster_id_hex",
//! "term", "commit", "first_index", "last_index", "wal_segments", "wal_stopped_at":
//! {"segment", "offset"} | null, "snapshot": {"file", "index", "term"} | null,
//! "snapshot_db": name | null, "unapplied_committed_entries", "verdicts": [text], "notes": [finding]}}`.
//! `findings` holds damage only (`ok` = it is empty); informational findings are in
//! `member.notes`.
//!

use crate::error::Result;
use crate::finding::{Component, Finding, Kind, MemberKind};
use crate::info::read_info;
use crate::member::{DbImage, InputKind, Member};
use crate::replay::db_revisions;
use bbolt_reader::{Db, MetaChoice};
use serde::Serialize;
use wal_reader::{restart_view, FindingKind, ScanOptions, SnapDir, WalDir, WalScan};

/// The snapshot etcd would load.
#[derive(Debug, Clone, Serialize)]
pub struct SnapPoint {
    /// File name.
    pub file: String,
    /// Raft index.
    pub index: u64,
    /// Raft term.
    pub term: u64,
}

/// Where WAL reading stopped.
#[derive(Debug, Clone, Serialize)]
pub struct StopPoint {
    /// Segment file name.
    pub segment: String,
    /// Byte offset.
    pub offset: u64,
}

/// The member's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemberSummary {
    /// The release that wrote the db ("3.4", "3.5", "3.6", "3.7"), by etcd's rule.
    pub written_by: Option<crate::version::Release>,
    /// The rule that decided `written_by`, with the values it read.
    pub written_by_rule: Option<String>,
    /// `meta/term` (3.5+): the term of the entry at the consistent index.
    pub db_term: Option<u64>,
    /// Term of the WAL's last entry.
    pub last_entry_term: Option<u64>,
    /// `meta/confState` (3.5+), decoded.
    pub conf_state: Option<crate::raft_meta::MetaConfState>,
    /// Raft's configuration at the consistent index, from the `.snap` and the WAL.
    pub raft_conf: Option<crate::raft_meta::RaftConf>,
    /// The db file, when present.
    pub db: Option<String>,
    /// The WAL directory, when present.
    pub wal_dir: Option<String>,
    /// The db's consistent index.
    pub consistent_index: Option<u64>,
    /// The db's newest revision.
    pub revision: Option<i64>,
    /// The db's compact revision (-1 never compacted).
    pub compact_revision: Option<i64>,
    /// WAL metadata: member ID.
    pub node_id_hex: Option<String>,
    /// WAL metadata: cluster ID.
    pub cluster_id_hex: Option<String>,
    /// Last HardState.term.
    pub term: Option<u64>,
    /// Last HardState.commit.
    pub commit: Option<u64>,
    /// First entry index in the WAL read.
    pub first_index: Option<u64>,
    /// Last entry index in the WAL read.
    pub last_index: Option<u64>,
    /// Number of segments.
    pub wal_segments: usize,
    /// Where reading stopped at damage.
    pub wal_stopped_at: Option<StopPoint>,
    /// The snapshot etcd would load.
    pub snapshot: Option<SnapPoint>,
    /// `<index>.snap.db` for that snapshot, when present (a db received from the leader
    /// that etcd swaps in on start when its own db is older).
    pub snapshot_db: Option<String>,
    /// Committed entries above the consistent index (etcd applies them on start).
    pub unapplied_committed_entries: u64,
    /// What it all means, for a person.
    pub verdicts: Vec<String>,
    /// Informational findings (not damage): `unapplied_entries`, `tmp_file`,
    /// `db_missing_rebuildable`, ...
    pub notes: Vec<Finding>,
    /// The WAL has damage etcd refuses to start with (`wal_blocks_start`).
    #[serde(skip)]
    pub wal_blocks_start: bool,
    /// Damage findings of reading the WAL as etcd does (directory and records).
    #[serde(skip)]
    pub wal_read_damage: usize,
    /// Members' names and client URLs as the WAL's publish entries last gave them.
    #[serde(skip)]
    pub published: std::collections::BTreeMap<u64, crate::raft_meta::Published>,
}

/// The whole-member check's result.
///
/// `check`, `report` and `members` all read this one value, so their verdicts cannot
/// contradict each other.
#[derive(Debug, Clone, Serialize)]
pub struct MemberCheck {
    /// With `--upgrade-to`: the readiness answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeReport>,
    /// No damage.
    pub ok: bool,
    /// The meta page the db's tree was read from.
    pub meta_in_use: Option<usize>,
    /// Findings, by component: db, snap, wal, member.
    pub findings: Vec<Finding>,
    /// Figures.
    pub member: MemberSummary,
}

impl MemberCheck {
    /// etcd 3.4 and 3.5 refuse to start on this member as it is: WAL damage that is not
    /// a torn tail of the last segment, a commit index beyond the log, a db behind the
    /// snapshot without its `.snap.db`, or no WAL at all.
    pub fn refuses_to_start(&self) -> bool {
        self.member.wal_blocks_start
            || self.findings.iter().any(|f| {
                f.kind == MemberKind::CommitBeyondLastIndex
                    || f.kind == MemberKind::DbBehindSnapshot
                    || f.kind == MemberKind::NoWal
            })
    }
}

fn wal_kind(k: FindingKind) -> String {
    Kind::Wal(k).name()
}

fn push_wal(out: &mut Vec<Finding>, component: Component, f: &wal_reader::Finding) {
    out.push(Finding::from_wal(component, f));
}

/// Whether etcd 3.4 starts past damage of `kind` at `off` of segment `seg`: only in the
/// last segment, and only where its decoder ends the log or repairs the tail
/// ([`wal_reader::segment::etcd_repairs_tail`]).
fn repairable(wal: &WalDir, seg: &str, kind: FindingKind, off: u64) -> bool {
    match wal.segments.last() {
        Some(last) if last.name == seg => {
            wal_reader::segment::etcd_repairs_tail(kind, last.file.bytes(), off)
        }
        _ => false,
    }
}

/// Verdict on where WAL reading stopped: what is lost and what etcd will do.
fn stop_verdict(
    wal: &WalDir,
    scan: &WalScan<'_>,
    ci: Option<u64>,
    out: &mut Vec<Finding>,
) -> Option<(String, bool)> {
    let (seg, off) = scan.stopped_at.clone()?;
    let cause = scan
        .findings
        .iter()
        .find(|f| f.is_damage() && f.file == seg)
        .or_else(|| scan.findings.iter().find(|f| f.is_damage()));
    let last_good = scan.last_index().unwrap_or(0);
    // Read on past the damage to see what is there.
    let raw = wal.scan(ScanOptions { raw: true });
    let after: Vec<u64> = raw
        .entries
        .iter()
        .map(|e| e.entry.index)
        .filter(|&i| i > last_good)
        .collect();
    let raw_commit = raw.hard_state.map_or(0, |h| h.commit);
    let committed: Vec<u64> = after.iter().copied().filter(|&i| i <= raw_commit).collect();
    let applied = committed
        .iter()
        .filter(|&&i| ci.is_some_and(|c| i <= c))
        .count();
    let can_repair = cause.is_some_and(|f| f.file == seg && repairable(wal, &seg, f.kind, off));
    let ends_at_zero = cause.is_some_and(|f| f.kind == FindingKind::DataAfterEnd);
    let what = cause.map_or("damage".to_string(), |f| wal_kind(f.kind));
    let in_db = match ci {
        Some(_) => format!(", {applied} of those already applied to the db"),
        None => String::new(),
    };
    let lost = if after.is_empty() {
        "the damaged record is lost; no readable entry follows it".to_string()
    } else {
        format!(
            "the damaged record and the {} readable entries after it ({}..={}) are lost, {} of them committed (HardState.commit {raw_commit} read past the damage){in_db}",
            after.len(),
            after.first().copied().unwrap_or(0),
            after.last().copied().unwrap_or(0),
            committed.len(),
        )
    };
    let (kind, msg) = if can_repair {
        let how = if ends_at_zero {
            format!("a zero length field ends the log at {seg}+{off} after index {last_good}: etcd reads up to there, starts, and zeroes the rest of the segment")
        } else {
            format!("WAL torn at {seg}+{off} ({what}) after index {last_good}: etcd will truncate the tail on start (keeping {seg}.broken)")
        };
        (
            MemberKind::WalTailTruncatedOnStart,
            format!(
                "{how}; {lost}{}",
                if committed.len() > applied {
                    "; committed entries not in the db will be LOST on this member — restore from a healthy member or snapshot if they matter"
                } else {
                    "; nothing committed is lost"
                }
            ),
        )
    } else {
        (
            MemberKind::WalBlocksStart,
            format!(
                "WAL unreadable at {seg}+{off} ({what}) after index {last_good}: etcd will refuse to start on this member (it repairs only a torn tail of the last segment); {lost}. Replace this member (remove it and add it back to sync from the leader), or restore from a snapshot"
            ),
        )
    };
    out.push(Finding::member(Component::Wal, true, kind, msg.clone()).at(seg, Some(off)));
    Some((msg, !can_repair))
}

/// `check --upgrade-to`: the answers for one target release.
#[derive(Debug, Clone, Serialize)]
pub struct UpgradeReport {
    /// The release asked about.
    pub target: crate::version::Release,
    /// True when no answer blocks.
    pub ready: bool,
    /// One answer per rule, each citing it.
    pub answers: Vec<crate::upgrade::Answer>,
}

/// Computes the whole-member check.
pub fn check_member(member: &Member, meta: MetaChoice) -> Result<MemberCheck> {
    check_member_with(member, meta, None)
}

/// [`check_member`], with the bbolt check of the db already made by the caller (from the
/// walk it made anyway: `bbolt_reader::check::check_walk`), so the file is walked once.
pub fn check_member_with(
    member: &Member,
    meta: MetaChoice,
    db_check: Option<bbolt_reader::CheckReport>,
) -> Result<MemberCheck> {
    let mut findings: Vec<Finding> = Vec::new();
    let mut sum = MemberSummary {
        db: member.db.as_ref().map(|p| p.display().to_string()),
        wal_dir: member.wal_dir.as_ref().map(|p| p.display().to_string()),
        ..Default::default()
    };
    let mut meta_in_use = None;
    let mut db_members: Vec<u64> = Vec::new();

    // db
    let image = match &member.db {
        Some(p) => match DbImage::open_file(p, member.kind) {
            Ok(image) => Some(image),
            Err(crate::Error::Io { path, source }) => match regular_file::not_regular(&source) {
                // etcd 3.4 panics with "cannot open database" on such a db; it does not
                // fall back to rebuilding from the WAL.
                Some(what) => {
                    findings.push(
                        Finding::member(
                            Component::Db,
                            true,
                            MemberKind::DbNotRegularFile,
                            format!(
                                "{what}: etcd cannot open the database (3.4 panics: cannot open database); it does not rebuild from the WAL"
                            ),
                        )
                        .at(path.display().to_string(), None),
                    );
                    None
                }
                None => return Err(crate::Error::Io { path, source }),
            },
            Err(e) => return Err(e),
        },
        None => None,
    };
    if let Some(image) = &image {
        let checked = match db_check {
            Some(r) => Ok(r),
            None => bbolt_reader::check::check_bytes_with(image.bytes(), meta),
        };
        match checked {
            Ok(r) => {
                meta_in_use = r.meta_index;
                findings.extend(r.findings.iter().map(Finding::from_bbolt));
            }
            Err(e) => findings.push(Finding::member(
                Component::Db,
                true,
                MemberKind::DbUnreadable,
                format!("{}: {e}", image.path.display()),
            )),
        }
        if let Ok(db) = Db::open_with(image.bytes(), meta) {
            for f in crate::layout::etcd_layout(&db) {
                let mut m = Finding::member(Component::Db, true, f.kind, f.message);
                m.location.page = Some(f.page);
                findings.push(m);
            }
            let info = read_info(&db);
            for p in &info.meta.problems {
                findings.push(Finding::member(
                    Component::Db,
                    true,
                    MemberKind::MetaProblem,
                    p.clone(),
                ));
            }
            let w = crate::version::written_by(&info.meta);
            sum.written_by = Some(w.version);
            sum.written_by_rule = Some(w.rule);
            sum.db_term = info.meta.term;
            if let Some(text) = &info.meta.conf_state {
                match crate::raft_meta::parse_conf_state(text) {
                    Ok(c) => sum.conf_state = Some(c),
                    Err(e) => findings.push(Finding::member(
                        Component::Db,
                        true,
                        MemberKind::MetaProblem,
                        e,
                    )),
                }
            }
            sum.consistent_index = info.meta.consistent_index;
            db_members = info.members.iter().map(|m| m.id).collect();
            if let Ok(r) = db_revisions(&db, &info.meta) {
                sum.revision = Some(r.current);
                sum.compact_revision = Some(r.compact);
            }
        }
    }

    // snap
    let snaps = match &member.snap_dir {
        Some(d) => Some(SnapDir::open(d)?),
        None => None,
    };
    if let Some(s) = &snaps {
        for f in &s.findings {
            push_wal(&mut findings, Component::Snap, f);
        }
    }
    let loaded = snaps.as_ref().and_then(|s| s.loaded());
    sum.snapshot = loaded.and_then(|s| {
        s.metadata.as_ref().map(|m| SnapPoint {
            file: s.name.clone(),
            index: m.index,
            term: m.term,
        })
    });
    let snap_index = sum.snapshot.as_ref().map_or(0, |s| s.index);
    if let (Some(d), true) = (&member.snap_dir, snap_index > 0) {
        let name = format!("{snap_index:016x}.snap.db");
        if d.join(&name).is_file() {
            sum.snapshot_db = Some(name);
        }
    }
    let ci = sum.consistent_index;

    // wal
    let wal = match &member.wal_dir {
        Some(d) => Some(WalDir::open(d)?),
        None => None,
    };
    if let Some(wal) = &wal {
        let scan = wal.scan(ScanOptions { raw: false });
        sum.wal_segments = wal.segments.len();
        for f in &scan.findings {
            push_wal(&mut findings, Component::Wal, f);
        }
        sum.wal_read_damage = scan.findings.iter().filter(|f| f.is_damage()).count();
        sum.published = crate::raft_meta::published_attributes(&scan);
        let rv = restart_view(&scan, sum.snapshot.as_ref().map(|s| (s.index, s.term)));
        if !scan.has_damage() {
            for f in &rv.findings {
                push_wal(&mut findings, Component::Wal, f);
            }
        }
        sum.node_id_hex = scan.metadata.map(|m| format!("{:016x}", m.node_id));
        sum.cluster_id_hex = scan.metadata.map(|m| format!("{:016x}", m.cluster_id));
        sum.term = scan.hard_state.map(|h| h.term);
        sum.commit = scan.hard_state.map(|h| h.commit);
        sum.first_index = scan.first_index();
        sum.last_index = scan.last_index();
        sum.last_entry_term = scan.entries.last().map(|e| e.entry.term);
        sum.wal_stopped_at = scan
            .stopped_at
            .clone()
            .map(|(segment, offset)| StopPoint { segment, offset });
        if let Some((v, blocks)) = stop_verdict(wal, &scan, ci, &mut findings) {
            sum.verdicts.push(v);
            sum.wal_blocks_start = blocks;
        }
        agreement(
            &scan,
            &mut sum,
            ci,
            snap_index,
            // A db that is present but cannot be opened is not "missing": etcd fails on it
            // instead of rebuilding from the WAL.
            member.db.is_some(),
            &db_members,
            &mut findings,
        );
        let snap_conf = loaded.and_then(|s| {
            s.metadata
                .as_ref()
                .map(|m| (m.index, &m.conf_state, s.name.as_str()))
        });
        raft_meta_agreement(&scan, snap_conf, &mut sum, ci, &db_members, &mut findings);
    } else if member.kind != InputKind::DbFile {
        findings.push(Finding::member(
            Component::Wal,
            true,
            MemberKind::NoWal,
            format!(
                "no member/wal directory: etcd cannot start this member (it would need its raft log); only the db can be used (restore it with {} snapshot restore)",
                // The writing release's tool: etcdctl up to 3.4, etcdutl from 3.5 on.
                sum.written_by
                    .unwrap_or(crate::version::Release::V3_4)
                    .offline_tool()
            ),
        ));
    }
    if let (Some(ci), true) = (ci, wal.is_none()) {
        if ci < snap_index {
            findings.push(Finding::member(
                Component::Member,
                true,
                MemberKind::DbBehindSnapshot,
                format!(
                    "db consistent index {ci} is behind the newest snapshot index {snap_index}"
                ),
            ));
        }
    }
    let (damage, notes): (Vec<Finding>, Vec<Finding>) =
        findings.into_iter().partition(|f| f.is_damage());
    let findings = damage;
    sum.notes = notes;
    let ok = findings.is_empty();
    // Damage that no rule above turned into a verdict still gets one per component.
    for component in [
        Component::Db,
        Component::Snap,
        Component::Wal,
        Component::Member,
    ] {
        let of: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.component == component)
            .collect();
        let Some(first) = of.first() else { continue };
        let covered = match component {
            Component::Wal => sum.wal_stopped_at.is_some(),
            Component::Member => true,
            _ => false,
        };
        if covered {
            continue;
        }
        let advice = match component {
            Component::Db if first.kind == MemberKind::DbNotRegularFile => "put the real db file back at member/snap/db, or restore from a snapshot or a healthy member",
            Component::Db => "etcd may crash or serve wrong data on it; rebuild a restorable db with `etcd-autopsy salvage`, or restore from a healthy member",
            Component::Snap => "etcd sets damaged .snap files aside and loads an older one (or none)",
            _ => "etcd may fail to open the WAL at a later snapshot; keep a copy and compare with the other members (`etcd-autopsy members`)",
        };
        sum.verdicts.push(format!(
            "{component} damaged: {} finding(s), first {} ({}); {advice}",
            of.len(),
            first.kind,
            first.message
        ));
    }
    if ok && sum.verdicts.is_empty() {
        sum.verdicts.push(if sum.unapplied_committed_entries > 0 {
            format!(
                "healthy: etcd will apply {} committed WAL entries the db has not applied yet on start",
                sum.unapplied_committed_entries
            )
        } else if sum.db.is_none() {
            "healthy WAL; no db: etcd rebuilds the keyspace from the WAL on start".to_string()
        } else {
            "healthy: db, WAL and snapshot agree".to_string()
        });
    }
    Ok(MemberCheck {
        upgrade: None,
        ok,
        meta_in_use,
        findings,
        member: sum,
    })
}

/// db / WAL / snapshot agreement.
fn agreement(
    scan: &WalScan<'_>,
    sum: &mut MemberSummary,
    ci: Option<u64>,
    snap_index: u64,
    has_db: bool,
    db_members: &[u64],
    out: &mut Vec<Finding>,
) {
    let commit = sum.commit.unwrap_or(0);
    let last = sum.last_index.unwrap_or(snap_index);
    let torn = scan.stopped_at.is_some();
    let blocked = sum.wal_blocks_start;
    let mut add = |damage: bool, kind: MemberKind, msg: String, verdicts: &mut Vec<String>| {
        if damage {
            verdicts.push(msg.clone());
        }
        out.push(Finding::member(Component::Member, damage, kind, msg));
    };
    if commit > last && !torn {
        add(
            true,
            MemberKind::CommitBeyondLastIndex,
            format!(
                "HardState.commit {commit} is beyond the last WAL entry {last}: entries {}..={commit} were committed but are missing; etcd (raft) will refuse to start (\"tocommit is out of range\")",
                last + 1
            ),
            &mut sum.verdicts,
        );
    }
    let Some(ci) = ci else {
        if !has_db {
            let from_scratch = snap_index == 0 && sum.first_index.is_none_or(|f| f <= 1);
            add(
                !from_scratch,
                if from_scratch {
                    MemberKind::DbMissingRebuildable
                } else {
                    MemberKind::DbMissing
                },
                if from_scratch {
                    "no db: etcd will create an empty one and rebuild the keyspace by applying the whole WAL (it starts at index 1)".to_string()
                } else {
                    format!(
                        "no db, and the WAL does not start at index 1 (first entry {}, snapshot {snap_index}): the keyspace before that is lost on this member; restore from another member or a snapshot",
                        sum.first_index.unwrap_or(0)
                    )
                },
                &mut sum.verdicts,
            );
        }
        return;
    };
    if ci < snap_index && sum.snapshot_db.is_some() {
        add(
            false,
            MemberKind::SnapshotDbPending,
            format!(
                "db consistent index {ci} < snapshot index {snap_index}, and member/snap/{} is present: etcd will swap it in as the db on start",
                sum.snapshot_db.as_deref().unwrap_or("")
            ),
            &mut sum.verdicts,
        );
    } else if ci < snap_index {
        add(
            true,
            MemberKind::DbBehindSnapshot,
            format!(
                "db is behind the newest snapshot: consistent index {ci} < snapshot index {snap_index}; etcd will look for member/snap/{snap_index:016x}.snap.db and refuse to start without it"
            ),
            &mut sum.verdicts,
        );
    }
    if ci > last {
        if blocked {
            // etcd does not get as far as the raft log: the WAL damage above stops it.
            // Saying what it would do with the entries is moot; the verdict is the WAL's.
            add(
                true,
                MemberKind::DbAheadOfWal,
                format!(
                    "db has applied index {ci} but the WAL is readable only up to {last}: entries {}..={ci} are in the db but not in the readable WAL (see the WAL damage: etcd refuses to start this member)",
                    last + 1
                ),
                &mut Vec::new(),
            );
        } else {
            let why = if torn {
                "once etcd cuts the damaged tail, its raft log ends there"
            } else {
                "the WAL lost its tail (or belongs to another db)"
            };
            add(
                true,
                MemberKind::DbAheadOfWal,
                format!(
                    "db has applied index {ci} but the readable WAL ends at {last}: {why}; etcd will start, but entries {}..={ci} written again at those indexes are skipped as already applied — in a cluster remove and re-add this member, alone restore from a snapshot of this db",
                    last + 1
                ),
                &mut sum.verdicts,
            );
        }
    }
    if commit > ci {
        let first_needed = ci.max(snap_index).saturating_add(1);
        let have_from = scan
            .entries
            .iter()
            .map(|e| e.entry.index)
            .find(|&i| i >= first_needed);
        match have_from {
            Some(f) if f > first_needed => add(
                true,
                MemberKind::EntriesMissing,
                format!(
                    "entries {first_needed}..={} are committed but neither applied to the db (consistent index {ci}) nor present in the WAL: they are lost on this member",
                    f - 1
                ),
                &mut sum.verdicts,
            ),
            _ => {}
        }
        let n = scan
            .entries
            .iter()
            .filter(|e| e.entry.index > ci && e.entry.index <= commit)
            .count() as u64;
        sum.unapplied_committed_entries = n;
        if n > 0 {
            add(
                false,
                MemberKind::UnappliedEntries,
                format!(
                    "{n} committed entries (index {}..={commit}) are in the WAL but not applied to the db (consistent index {ci}); etcd applies them on start (normal after a hard stop; `export --replay-wal` shows the result)",
                    ci + 1
                ),
                &mut sum.verdicts,
            );
        }
    }
    if let Some(m) = scan.metadata {
        if !db_members.is_empty() && !db_members.contains(&m.node_id) {
            // Not damage by itself: etcd 3.4 keeps the membership in the v2 store of the
            // .snap file, and `etcdctl snapshot restore` leaves the old members in the db.
            add(
                false,
                MemberKind::MemberNotInDb,
                format!(
                    "the WAL belongs to member {:016x}, which the db's members bucket does not list: normal for a data dir made by `etcdctl snapshot restore` (etcd 3.4 keeps membership in the .snap file); otherwise the db may come from another member or cluster",
                    m.node_id
                ),
                &mut sum.verdicts,
            );
        }
    }
}

/// `meta/term` and `meta/confState` (3.5+) against the WAL and the `.snap` (see
/// `crate::raft_meta` for the facts).
fn raft_meta_agreement(
    scan: &WalScan<'_>,
    snap: Option<(u64, &wal_reader::record::ConfState, &str)>,
    sum: &mut MemberSummary,
    ci: Option<u64>,
    db_members: &[u64],
    out: &mut Vec<Finding>,
) {
    let hs_term = scan.hard_state.map(|h| h.term);
    if let (Some(t), Some(hs)) = (sum.db_term, hs_term) {
        let last = sum.last_entry_term.unwrap_or(0);
        // The applied entry's term can be neither above the log's term nor above the term
        // of the newest entry the log holds.
        let above_last = sum.last_entry_term.is_some() && t > last;
        if t > hs || above_last {
            out.push(Finding::member(
                Component::Member,
                true,
                MemberKind::DbTermAheadOfWal,
                format!(
                    "meta/term {t} is above the WAL's {} (HardState term {hs}, last entry term {last}): the db applied an entry of a term this WAL never reached; it belongs to another log (another member or a later life of this one)",
                    if t > hs { "HardState term" } else { "last entry term" }
                ),
            ));
            sum.verdicts.push(format!(
                "db term {t} ahead of the WAL (term {hs}, last entry term {last}): do not start this member on this WAL; restore it from a snapshot or re-add it"
            ));
        } else if let Some(e) = ci.and_then(|ci| scan.entries.iter().find(|e| e.entry.index == ci))
        {
            if e.entry.term != t {
                out.push(Finding::member(
                    Component::Member,
                    true,
                    MemberKind::DbTermMismatch,
                    format!(
                        "meta/term {t} differs from the term {} of WAL entry {} (the consistent index): the db and the WAL disagree on what was applied there",
                        e.entry.term, e.entry.index
                    ),
                ));
            }
        }
    }
    let (Some(db_conf), Some(ci)) = (sum.conf_state.clone(), ci) else {
        return;
    };
    let raft = crate::raft_meta::raft_conf_at(scan, snap, ci);
    let mut db_voters = db_conf.voters.clone();
    db_voters.sort_unstable();
    let mut db_learners = db_conf.learners.clone();
    db_learners.sort_unstable();
    let hex = |v: &[u64]| {
        v.iter()
            .map(|x| format!("{x:016x}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    if raft.source.starts_with("nothing") {
        sum.raft_conf = Some(raft);
        return;
    }
    if db_voters != raft.voters || db_learners != raft.learners {
        let mut members = db_members.to_vec();
        members.sort_unstable();
        let restore_source = !db_voters.is_empty()
            && db_voters.iter().all(|v| !members.contains(v))
            && raft.voters == members;
        if restore_source {
            out.push(Finding::member(
                Component::Member,
                false,
                MemberKind::ConfStateFromRestoreSource,
                format!(
                    "meta/confState lists voter(s) [{}], which are not members of this cluster; raft ({}) and the members bucket list [{}]. This is what `etcdutl snapshot restore` (3.5.1) leaves: the source member of the snapshot stays in the db's confState. etcd starts from the .snap and WAL configuration, so the member runs normally, and the next membership change rewrites meta/confState; until then any tool that reads the db's confState sees the old member",
                    hex(&db_voters),
                    raft.source,
                    hex(&raft.voters)
                ),
            ));
        } else {
            out.push(Finding::member(
                Component::Member,
                true,
                MemberKind::ConfStateMismatch,
                format!(
                    "meta/confState voters [{}] learners [{}] differ from raft's configuration at index {ci}, voters [{}] learners [{}] ({}): the db's membership and the log disagree; the db may come from another member or cluster",
                    hex(&db_voters),
                    hex(&db_learners),
                    hex(&raft.voters),
                    hex(&raft.learners),
                    raft.source
                ),
            ));
        }
    }
    sum.raft_conf = Some(raft);
}
