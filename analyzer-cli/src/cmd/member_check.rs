//! `check <DATA-DIR>` (or a `member/` dir): the whole member, not only its bbolt file.
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
//! Exit status: 0 no damage, 1 damage found, 2 nothing readable (no db and no WAL).

use super::scan_wal_dir;
use crate::error::{CliError, Result, EXIT_DAMAGE, EXIT_OK};
use crate::output::{print_json, sanitize, stdout};
use bbolt_reader::{Db, MetaChoice};
use etcd_mvcc::info::read_info;
use etcd_mvcc::member::{DbImage, Member};
use etcd_mvcc::replay::db_revisions;
use serde::Serialize;
use std::io::Write;
use wal_reader::{restart_view, FindingKind, SnapDir, WalDir, WalScan};

/// One finding of the whole-member check.
#[derive(Debug, Clone, Serialize)]
pub struct MemberFinding {
    /// `db`, `wal`, `snap` or `member`.
    pub component: &'static str,
    /// `damage` or `info`.
    pub severity: &'static str,
    /// Stable snake_case name.
    pub kind: String,
    /// bbolt page, for `db` findings.
    pub page: Option<u64>,
    /// File name (segment, snap file), where one applies.
    pub file: Option<String>,
    /// Byte offset in `file`.
    pub offset: Option<u64>,
    /// What it means and what etcd will do.
    pub message: String,
}

impl MemberFinding {
    fn new(component: &'static str, damage: bool, kind: &str, message: String) -> Self {
        MemberFinding {
            component,
            severity: if damage { "damage" } else { "info" },
            kind: kind.to_string(),
            page: None,
            file: None,
            offset: None,
            message,
        }
    }

    /// True for damage.
    pub fn is_damage(&self) -> bool {
        self.severity == "damage"
    }
}

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
    pub written_by: Option<etcd_mvcc::version::Release>,
    /// The rule that decided `written_by`, with the values it read.
    pub written_by_rule: Option<String>,
    /// `meta/term` (3.5+): the term of the entry at the consistent index.
    pub db_term: Option<u64>,
    /// Term of the WAL's last entry.
    pub last_entry_term: Option<u64>,
    /// `meta/confState` (3.5+), decoded.
    pub conf_state: Option<etcd_mvcc::raft_meta::MetaConfState>,
    /// Raft's configuration at the consistent index, from the `.snap` and the WAL.
    pub raft_conf: Option<etcd_mvcc::raft_meta::RaftConf>,
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
    pub notes: Vec<MemberFinding>,
}

/// The whole-member check's result.
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
    pub findings: Vec<MemberFinding>,
    /// Figures.
    pub member: MemberSummary,
}

fn wal_kind(k: FindingKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{k:?}"))
}

fn push_wal(out: &mut Vec<MemberFinding>, component: &'static str, f: &wal_reader::Finding) {
    let mut m = MemberFinding::new(
        component,
        f.is_damage(),
        &wal_kind(f.kind),
        f.message.clone(),
    );
    m.file = (!f.file.is_empty()).then(|| f.file.clone());
    m.offset = f.offset;
    out.push(m);
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
    out: &mut Vec<MemberFinding>,
) -> Option<String> {
    let (seg, off) = scan.stopped_at.clone()?;
    let cause = scan
        .findings
        .iter()
        .find(|f| f.is_damage() && f.file == seg)
        .or_else(|| scan.findings.iter().find(|f| f.is_damage()));
    let last_good = scan.last_index().unwrap_or(0);
    // Read on past the damage to see what is there.
    let raw = scan_wal_dir(wal, true);
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
            "wal_tail_truncated_on_start",
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
            "wal_blocks_start",
            format!(
                "WAL unreadable at {seg}+{off} ({what}) after index {last_good}: etcd will refuse to start on this member (it repairs only a torn tail of the last segment); {lost}. Replace this member (remove it and add it back to sync from the leader), or restore from a snapshot"
            ),
        )
    };
    let mut f = MemberFinding::new("wal", true, kind, msg.clone());
    f.file = Some(seg);
    f.offset = Some(off);
    out.push(f);
    Some(msg)
}

/// Runs the whole-member check of `member` and prints it; returns the exit status.
/// `check --upgrade-to`: the answers for one target release.
#[derive(Debug, Clone, Serialize)]
pub struct UpgradeReport {
    /// The release asked about.
    pub target: etcd_mvcc::version::Release,
    /// True when no answer blocks.
    pub ready: bool,
    /// One answer per rule, each citing it.
    pub answers: Vec<etcd_mvcc::upgrade::Answer>,
}

/// v2 requests of the WAL tail kept for the upgrade answers at most.
const MAX_V2_LISTED: usize = 1000;

/// Gathers what `etcd_mvcc::upgrade` needs from the member's files and the peers'.
fn upgrade_report(
    member: &Member,
    meta: MetaChoice,
    check: &MemberCheck,
    target: etcd_mvcc::version::Release,
    peers: &[std::path::PathBuf],
) -> Result<UpgradeReport> {
    use etcd_mvcc::upgrade::{check_v2store, upgrade_answers, UpgradeFacts, WalV2Request};
    let mut f = UpgradeFacts::default();
    let written = |path: &std::path::Path| -> Option<(etcd_mvcc::info::EtcdInfo, etcd_mvcc::version::WrittenBy)> {
        let m = etcd_mvcc::member::resolve(path).ok()?;
        let image = DbImage::open_file(m.db.as_ref()?, m.kind).ok()?;
        let db = Db::open_with(image.bytes(), meta).ok()?;
        let info = read_info(&db);
        let w = etcd_mvcc::version::written_by(&info.meta);
        Some((info, w))
    };
    if let Some((info, w)) = member.db.as_ref().and_then(|_| written(&member.given)) {
        f.cluster_version = info.cluster_version.clone();
        f.downgrade = info.downgrade.clone();
        f.written_by = Some(w);
    }
    let mut snap_index = 0;
    if let Some(d) = &member.snap_dir {
        let snaps = SnapDir::open(d)?;
        if let Some(l) = snaps.loaded() {
            snap_index = l.metadata.as_ref().map_or(0, |m| m.index);
            let file = wal_reader::MappedFile::open(&d.join(&l.name))?;
            f.v2store = Some(match wal_reader::snap::snap_v2_store(file.bytes()) {
                Some(json) => check_v2store(&l.name, json),
                None => etcd_mvcc::upgrade::V2StoreCheck {
                    file: l.name.clone(),
                    custom_nodes: Vec::new(),
                    problem: Some("the v2 store does not decode".into()),
                },
            });
        }
    }
    if let Some(d) = &member.wal_dir {
        let wal = WalDir::open(d)?;
        let scan = scan_wal_dir(&wal, false);
        for e in scan.entries.iter().filter(|e| e.entry.index > snap_index) {
            if e.entry.entry_type != wal_reader::EntryType::Normal {
                continue;
            }
            let v2 = match wal_reader::pb::NormalData::decode(e.entry.data) {
                wal_reader::pb::NormalData::V2(r) => Some(r),
                wal_reader::pb::NormalData::Internal(r) => r.v2.clone().map(Box::new),
                _ => None,
            };
            if let Some(r) = v2 {
                if f.wal_v2_requests.len() < MAX_V2_LISTED {
                    f.wal_v2_requests.push(WalV2Request {
                        index: e.entry.index,
                        method: String::from_utf8_lossy(&r.method).into_owned(),
                        path: String::from_utf8_lossy(&r.path).into_owned(),
                    });
                }
            }
        }
    }
    for p in peers {
        f.peers
            .push((p.display().to_string(), written(p).map(|(_, w)| w.version)));
    }
    f.blocking_damage = check
        .findings
        .iter()
        .map(|x| format!("{} {}: {}", x.component, x.kind, x.message))
        .collect();
    let answers = upgrade_answers(target, &f);
    Ok(UpgradeReport {
        target,
        ready: answers.iter().all(|a| a.ok),
        answers,
    })
}

pub fn run(
    member: &Member,
    meta: MetaChoice,
    json: bool,
    upgrade: Option<(etcd_mvcc::version::Release, Vec<std::path::PathBuf>)>,
) -> Result<u8> {
    super::warn_if_running(member);
    if member.db.is_none() && member.wal_dir.is_none() {
        return Err(CliError::input(
            &member.given,
            "neither member/snap/db nor member/wal found",
        ));
    }
    let mut report = check_member(member, meta)?;
    if let Some((target, peers)) = upgrade {
        report.upgrade = Some(upgrade_report(member, meta, &report, target, &peers)?);
    }
    print_report(&report, json)?;
    let ready = report.upgrade.as_ref().is_none_or(|u| u.ready);
    Ok(if report.ok && ready {
        EXIT_OK
    } else {
        EXIT_DAMAGE
    })
}

/// Computes the whole-member check.
pub fn check_member(member: &Member, meta: MetaChoice) -> Result<MemberCheck> {
    let mut findings: Vec<MemberFinding> = Vec::new();
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
            Err(etcd_mvcc::Error::Io { path, source }) => {
                match regular_file::not_regular(&source) {
                    // etcd 3.4 panics with "cannot open database" on such a db; it does not
                    // fall back to rebuilding from the WAL.
                    Some(what) => {
                        let mut f = MemberFinding::new(
                        "db",
                        true,
                        "db_not_regular_file",
                        format!(
                            "{what}: etcd cannot open the database (3.4 panics: cannot open database); it does not rebuild from the WAL"
                        ),
                    );
                        f.file = Some(path.display().to_string());
                        findings.push(f);
                        None
                    }
                    None => return Err(CliError::Io { path, source }),
                }
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    if let Some(image) = &image {
        match bbolt_reader::check::check_bytes_with(image.bytes(), meta) {
            Ok(r) => {
                meta_in_use = r.meta_index;
                for f in &r.findings {
                    let mut m = MemberFinding::new("db", true, f.kind.as_str(), f.message.clone());
                    m.page = Some(f.page);
                    findings.push(m);
                }
            }
            Err(e) => findings.push(MemberFinding::new(
                "db",
                true,
                "db_unreadable",
                format!("{}: {e}", image.path.display()),
            )),
        }
        if let Ok(db) = Db::open_with(image.bytes(), meta) {
            for f in etcd_mvcc::layout::etcd_layout(&db) {
                let mut m = MemberFinding::new("db", true, f.kind, f.message);
                m.page = Some(f.page);
                findings.push(m);
            }
            let info = read_info(&db);
            for p in &info.meta.problems {
                findings.push(MemberFinding::new("db", true, "meta_problem", p.clone()));
            }
            let w = etcd_mvcc::version::written_by(&info.meta);
            sum.written_by = Some(w.version);
            sum.written_by_rule = Some(w.rule);
            sum.db_term = info.meta.term;
            if let Some(text) = &info.meta.conf_state {
                match etcd_mvcc::raft_meta::parse_conf_state(text) {
                    Ok(c) => sum.conf_state = Some(c),
                    Err(e) => findings.push(MemberFinding::new("db", true, "meta_problem", e)),
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
            push_wal(&mut findings, "snap", f);
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
        let scan = scan_wal_dir(wal, false);
        sum.wal_segments = wal.segments.len();
        for f in &scan.findings {
            push_wal(&mut findings, "wal", f);
        }
        let rv = restart_view(&scan, sum.snapshot.as_ref().map(|s| (s.index, s.term)));
        if !scan.has_damage() {
            for f in &rv.findings {
                push_wal(&mut findings, "wal", f);
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
        if let Some(v) = stop_verdict(wal, &scan, ci, &mut findings) {
            sum.verdicts.push(v);
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
    } else if member.kind != etcd_mvcc::member::InputKind::DbFile {
        findings.push(MemberFinding::new(
            "wal",
            true,
            "no_wal",
            format!(
                "no member/wal directory: etcd cannot start this member (it would need its raft log); only the db can be used (restore it with {} snapshot restore)",
                // The writing release's tool: etcdctl up to 3.4, etcdutl from 3.5 on.
                sum.written_by
                    .unwrap_or(etcd_mvcc::version::Release::V3_4)
                    .offline_tool()
            ),
        ));
    }
    if let (Some(ci), true) = (ci, wal.is_none()) {
        if ci < snap_index {
            findings.push(MemberFinding::new(
                "member",
                true,
                "db_behind_snapshot",
                format!(
                    "db consistent index {ci} is behind the newest snapshot index {snap_index}"
                ),
            ));
        }
    }
    let (damage, notes): (Vec<MemberFinding>, Vec<MemberFinding>) =
        findings.into_iter().partition(|f| f.is_damage());
    let findings = damage;
    sum.notes = notes;
    let ok = findings.is_empty();
    // Damage that no rule above turned into a verdict still gets one per component.
    for component in ["db", "snap", "wal", "member"] {
        let of: Vec<&MemberFinding> = findings
            .iter()
            .filter(|f| f.component == component)
            .collect();
        let Some(first) = of.first() else { continue };
        let covered = match component {
            "wal" => sum.wal_stopped_at.is_some(),
            "member" => true,
            _ => false,
        };
        if covered {
            continue;
        }
        let advice = match component {
            "db" if first.kind == "db_not_regular_file" => "put the real db file back at member/snap/db, or restore from a snapshot or a healthy member",
            "db" => "etcd may crash or serve wrong data on it; rebuild a restorable db with `etcd-autopsy salvage`, or restore from a healthy member",
            "snap" => "etcd sets damaged .snap files aside and loads an older one (or none)",
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
    out: &mut Vec<MemberFinding>,
) {
    let commit = sum.commit.unwrap_or(0);
    let last = sum.last_index.unwrap_or(snap_index);
    let torn = scan.stopped_at.is_some();
    let mut add = |damage: bool, kind: &str, msg: String, verdicts: &mut Vec<String>| {
        if damage {
            verdicts.push(msg.clone());
        }
        out.push(MemberFinding::new("member", damage, kind, msg));
    };
    if commit > last && !torn {
        add(
            true,
            "commit_beyond_last_index",
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
                    "db_missing_rebuildable"
                } else {
                    "db_missing"
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
            "snapshot_db_pending",
            format!(
                "db consistent index {ci} < snapshot index {snap_index}, and member/snap/{} is present: etcd will swap it in as the db on start",
                sum.snapshot_db.as_deref().unwrap_or("")
            ),
            &mut sum.verdicts,
        );
    } else if ci < snap_index {
        add(
            true,
            "db_behind_snapshot",
            format!(
                "db is behind the newest snapshot: consistent index {ci} < snapshot index {snap_index}; etcd will look for member/snap/{snap_index:016x}.snap.db and refuse to start without it"
            ),
            &mut sum.verdicts,
        );
    }
    if ci > last {
        let why = if torn {
            "once etcd cuts the damaged tail, its raft log ends there"
        } else {
            "the WAL lost its tail (or belongs to another db)"
        };
        add(
            true,
            "db_ahead_of_wal",
            format!(
                "db has applied index {ci} but the readable WAL ends at {last}: {why}; etcd will start, but entries {}..={ci} written again at those indexes are skipped as already applied — in a cluster remove and re-add this member, alone restore from a snapshot of this db",
                last + 1
            ),
            &mut sum.verdicts,
        );
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
                "entries_missing",
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
                "unapplied_entries",
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
                "member_not_in_db",
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
/// `etcd_mvcc::raft_meta` for the facts).
fn raft_meta_agreement(
    scan: &WalScan<'_>,
    snap: Option<(u64, &wal_reader::record::ConfState, &str)>,
    sum: &mut MemberSummary,
    ci: Option<u64>,
    db_members: &[u64],
    out: &mut Vec<MemberFinding>,
) {
    let hs_term = scan.hard_state.map(|h| h.term);
    if let (Some(t), Some(hs)) = (sum.db_term, hs_term) {
        let last = sum.last_entry_term.unwrap_or(0);
        // The applied entry's term can be neither above the log's term nor above the term
        // of the newest entry the log holds.
        let above_last = sum.last_entry_term.is_some() && t > last;
        if t > hs || above_last {
            out.push(MemberFinding::new(
                "member",
                true,
                "db_term_ahead_of_wal",
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
                out.push(MemberFinding::new(
                    "member",
                    true,
                    "db_term_mismatch",
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
    let raft = etcd_mvcc::raft_meta::raft_conf_at(scan, snap, ci);
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
            out.push(MemberFinding::new(
                "member",
                false,
                "conf_state_from_restore_source",
                format!(
                    "meta/confState lists voter(s) [{}], which are not members of this cluster; raft ({}) and the members bucket list [{}]. This is what `etcdutl snapshot restore` (3.5.1) leaves: the source member of the snapshot stays in the db's confState. etcd starts from the .snap and WAL configuration, so the member runs normally, and the next membership change rewrites meta/confState; until then any tool that reads the db's confState sees the old member",
                    hex(&db_voters),
                    raft.source,
                    hex(&raft.voters)
                ),
            ));
        } else {
            out.push(MemberFinding::new(
                "member",
                true,
                "conf_state_mismatch",
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

fn finding_line(f: &MemberFinding) -> String {
    let place = match (&f.page, &f.file, f.offset) {
        (Some(p), _, _) => format!("page {p}: "),
        (None, Some(file), Some(o)) => format!("{}+{o}: ", sanitize(file.as_bytes())),
        (None, Some(file), None) => format!("{}: ", sanitize(file.as_bytes())),
        _ => String::new(),
    };
    format!(
        "{} {} {}: {place}{}",
        f.component,
        if f.is_damage() { "DAMAGE" } else { "info" },
        f.kind,
        sanitize(f.message.as_bytes())
    )
}

/// Text: when the member is clean stdout holds only `OK` (as `check <DB>`), and the
/// figures and notes go to stderr; otherwise stdout holds the figures, every finding,
/// the verdicts and `N problems found`.
fn print_report(r: &MemberCheck, json: bool) -> Result<()> {
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            schema: &'static str,
            #[serde(flatten)]
            check: &'a MemberCheck,
        }
        return print_json(&Out {
            schema: "etcd-autopsy/member-check/v1",
            check: r,
        });
    }
    let m = &r.member;
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |x| x.to_string());
    let mut context = vec![
        format!(
            "member {} (cluster {}): consistent index {}, revision {}, compact revision {}",
            m.node_id_hex.as_deref().unwrap_or("?"),
            m.cluster_id_hex.as_deref().unwrap_or("?"),
            opt(m.consistent_index),
            m.revision.map_or("-".into(), |x| x.to_string()),
            m.compact_revision.map_or("-".into(), |x| x.to_string()),
        ),
        format!(
            "WAL: {} segments, entries {}..{}, term {}, commit {}; snapshot {}",
            m.wal_segments,
            opt(m.first_index),
            opt(m.last_index),
            opt(m.term),
            opt(m.commit),
            m.snapshot.as_ref().map_or("none".to_string(), |s| format!(
                "{} (index {}, term {})",
                s.file, s.index, s.term
            )),
        ),
    ];
    if let (Some(w), Some(rule)) = (&m.written_by, &m.written_by_rule) {
        context.push(format!(
            "written by etcd {w}: {}",
            sanitize(rule.as_bytes())
        ));
    }
    if m.db_term.is_some() || m.conf_state.is_some() {
        let hex = |v: &[u64]| {
            v.iter()
                .map(|x| format!("{x:016x}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        context.push(format!(
            "db meta: term {}, confState voters [{}]{}; raft at the consistent index: {}",
            opt(m.db_term),
            m.conf_state.as_ref().map_or("-".into(), |c| hex(&c.voters)),
            m.conf_state
                .as_ref()
                .filter(|c| !c.learners.is_empty())
                .map_or(String::new(), |c| format!(
                    " learners [{}]",
                    hex(&c.learners)
                )),
            m.raft_conf.as_ref().map_or("-".into(), |r| format!(
                "voters [{}] from {}",
                hex(&r.voters),
                r.source
            )),
        ));
    }
    context.extend(m.notes.iter().map(finding_line));
    // The figures and verdicts are the answer an operator needs either way, so they go to
    // stdout; the last line says OK (as `check <DB>` does) or counts the problems.
    let mut out = stdout();
    for l in &context {
        writeln!(out, "{l}")?;
    }
    for f in &r.findings {
        writeln!(out, "{}", finding_line(f))?;
    }
    for v in &m.verdicts {
        writeln!(out, "verdict: {}", sanitize(v.as_bytes()))?;
    }
    if let Some(u) = &r.upgrade {
        writeln!(
            out,
            "upgrade to {}: {}",
            u.target,
            if u.ready { "ready" } else { "NOT READY" }
        )?;
        for a in &u.answers {
            writeln!(
                out,
                "  {} {}: {} [rule: {}]",
                if a.ok { "ok    " } else { "BLOCKS" },
                serde_json::to_value(a.rule)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                sanitize(a.detail.as_bytes()),
                a.cites
            )?;
        }
    }
    let blocked = r
        .upgrade
        .as_ref()
        .map_or(0, |u| u.answers.iter().filter(|a| !a.ok).count());
    if r.ok && blocked > 0 {
        writeln!(
            out,
            "no damage; the upgrade is blocked by {blocked} rule(s)"
        )?;
    } else if r.ok {
        writeln!(out, "OK")?;
    } else {
        writeln!(out, "{} problems found", r.findings.len())?;
    }
    out.flush()?;
    Ok(())
}
