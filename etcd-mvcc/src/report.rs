//! The member report's model: what `etcd-autopsy report` says about a member, gathered in
//! one function ([`build`]) from the db, the key bucket scan, the page walk, the WAL check
//! and the Kubernetes accounting. Printing is the caller's.
//!
//! `division`: `live_bytes` are the bbolt key + value bytes of each live key's newest
//! revision; `history_bytes` those of all other revisions (older versions, tombstones);
//! `overhead_bytes` the rest of the pages in use (page and element headers, partly filled
//! pages, the other buckets); `free_bytes` the free pages below the high-water mark. The
//! four add up to `db_size`.

use crate::advice::{next_steps, share, Facts, QuotaSource, Step};
use crate::cluster::{AlarmType, MemberRecord};
use crate::info::{read_info, EtcdInfo};
use crate::k8s::{K8sSummary, KeyLenses};
use crate::member::{InputKind, Member};
use crate::scan::{group_by_prefix, Keyspace, PrefixStats};
use crate::space::{ComputeError, Space, DEFAULT_QUOTA};
use crate::verdict::{check_member_with, MemberCheck};
use bbolt_reader::walk::Walk;
use bbolt_reader::Db;
use serde::Serialize;
use std::path::Path;

/// The JSON schema name of [`Report`].
pub const SCHEMA: &str = "etcd-autopsy/report/v1";

/// Member identity.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemberId {
    /// This member's id (16 hex digits), when known.
    pub member_id_hex: Option<String>,
    /// The cluster id, when known (WAL only).
    pub cluster_id_hex: Option<String>,
    /// "wal", "db" (the only member in the members bucket), or "unknown".
    pub source: &'static str,
}

/// What the WAL says.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WalSummary {
    /// Segments found.
    pub segments: usize,
    /// First entry index.
    pub first_index: Option<u64>,
    /// Last entry index.
    pub last_index: Option<u64>,
    /// Term of the last HardState.
    pub term: Option<u64>,
    /// Commit index of the last HardState.
    pub commit: Option<u64>,
    /// Entries in the WAL past the db's consistent index: etcd applies them to the db when
    /// it starts (0 when the db is up to date).
    pub entries_after_db: Option<u64>,
    /// Damage found.
    pub damage: bool,
    /// Number of findings.
    pub findings: usize,
}

/// One alarm.
#[derive(Debug, Clone, Serialize)]
pub struct AlarmJson {
    /// Member that raised it.
    pub member_id_hex: String,
    /// NOSPACE, CORRUPT, ...
    pub alarm: String,
}

/// Key counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KeyCounts {
    /// Distinct user keys in the file.
    pub distinct: u64,
    /// Live keys.
    pub live: u64,
    /// Revisions.
    pub revisions: u64,
    /// Tombstones.
    pub tombstones: u64,
    /// Live keys with a lease.
    pub leased_live: u64,
    /// Leases in the lease bucket.
    pub leases: u64,
}

/// How db_size divides.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Division {
    /// High-water mark x page size.
    pub db_size: u64,
    /// Newest revisions of live keys.
    pub live_bytes: u64,
    /// Every other revision.
    pub history_bytes: u64,
    /// Rest of the pages in use.
    pub overhead_bytes: u64,
    /// Free pages.
    pub free_bytes: u64,
    /// Bytes of the file past the high-water mark.
    pub past_high_water_bytes: u64,
}

/// One prefix in JSON, as `prefixes` prints it.
#[derive(Debug, Serialize)]
pub struct PrefixJson {
    /// The prefix (lossy when not UTF-8).
    pub prefix: String,
    /// Exact bytes when the prefix is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_base64: Option<String>,
    /// The figures.
    #[serde(flatten)]
    pub stats: PrefixStats,
}

impl PrefixJson {
    /// From a prefix and its figures.
    pub fn new(p: &[u8], stats: PrefixStats) -> Self {
        let (prefix, prefix_base64) = match std::str::from_utf8(p) {
            Ok(s) => (s.to_string(), None),
            Err(_) => (
                String::from_utf8_lossy(p).into_owned(),
                Some(crate::k8s::tree::base64(p)),
            ),
        };
        PrefixJson {
            prefix,
            prefix_base64,
            stats,
        }
    }
}

/// A prefix with its shares.
#[derive(Debug, Serialize)]
pub struct PrefixShare {
    /// Prefix and figures.
    #[serde(flatten)]
    pub p: PrefixJson,
    /// Part of all key + value bytes over every revision.
    pub share_of_data: f64,
    /// Part of the live value bytes.
    pub share_of_live: f64,
}

/// The dominant prefix.
#[derive(Debug, Clone, Serialize)]
pub struct Dominant {
    /// The prefix.
    pub prefix: String,
    /// Part of all key + value bytes.
    pub share_of_data: f64,
    /// Part of live value bytes.
    pub share_of_live: f64,
}

/// The whole report (JSON schema [`SCHEMA`]).
#[derive(Debug, Serialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// The input as the user named it.
    pub input: String,
    /// How the input was understood.
    pub input_kind: InputKind,
    /// The caller's warning that a running etcd holds the member, if any.
    pub running_warning: Option<String>,
    /// This member's identity.
    pub member: MemberId,
    /// Every member the db records (client URLs completed from the WAL).
    pub members: Vec<MemberRecord>,
    /// The etcd release that wrote the db, when it can be told.
    pub written_by: Option<crate::version::Release>,
    /// The rule that told it.
    pub written_by_rule: Option<String>,
    /// meta/confState, decoded.
    pub conf_state: Option<crate::raft_meta::MetaConfState>,
    /// The downgrade record.
    pub downgrade: Option<crate::cluster::DowngradeInfo>,
    /// The cluster version.
    pub cluster_version: Option<String>,
    /// The newest revision (or the compact revision, if newer).
    pub revision: i64,
    /// The finished compaction's revision (-1: never compacted).
    pub compact_revision: i64,
    /// The scheduled compaction's revision.
    pub scheduled_compact_revision: Option<i64>,
    /// meta/consistent_index.
    pub consistent_index: Option<u64>,
    /// meta/term.
    pub term: Option<u64>,
    /// meta/storageVersion.
    pub storage_version: Option<String>,
    /// The WAL figures (a data dir or member dir only).
    pub wal: Option<WalSummary>,
    /// Raised alarms.
    pub alarms: Vec<AlarmJson>,
    /// Key counts.
    pub keys: KeyCounts,
    /// How the db size divides.
    pub division: Division,
    /// The `space` command's figures.
    pub space: Space,
    /// The largest prefixes by all key and value bytes.
    pub prefixes: Vec<PrefixShare>,
    /// The largest prefix.
    pub dominant_prefix: Option<Dominant>,
    /// A NOSPACE alarm is raised or the db is over the quota.
    pub nospace: bool,
    /// The quota is at most this (the db size when the alarm fired below the quota given).
    pub quota_inferred_max: Option<u64>,
    /// Where the quota figure in force comes from.
    #[serde(skip)]
    pub quota_source: QuotaSource,
    /// The caller gave the quota.
    #[serde(skip)]
    pub quota_given: bool,
    /// Next steps, in order.
    pub next_steps: Vec<Step>,
    /// Damage and reading problems, as text.
    pub problems: Vec<String>,
    /// The Kubernetes section (absent when nothing is stored under /registry/).
    pub kubernetes: Option<crate::k8s::advice::K8sSection>,
}

/// What [`build`] is asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The member's --quota-backend-bytes; `None`: etcd's default, assumed.
    pub quota: Option<u64>,
    /// Prefixes kept, by size.
    pub top: usize,
    /// Prefix depth.
    pub depth: usize,
    /// Also keep what the Kubernetes accounting read of each key ([`Built::lenses`]).
    pub keep_lenses: bool,
}

/// Progress callbacks, in pages read.
pub struct Progress<'p> {
    /// The page walk.
    pub walk: &'p (dyn Fn(u64) + Sync),
    /// The key bucket scan.
    pub scan: &'p (dyn Fn(u64) + Sync),
}

impl std::fmt::Debug for Progress<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

/// The report and what it was made from (an HTML page draws from these).
#[derive(Debug)]
pub struct Built<'a> {
    /// The report.
    pub report: Report,
    /// The page walk of the db.
    pub walk: Walk<'a>,
    /// The key bucket scan (no revision limit, leaf pages kept), when there is a key bucket.
    pub keyspace: Option<Keyspace<'a>>,
    /// The Kubernetes accounting.
    pub k8s: K8sSummary,
    /// What the accounting read of each key, when [`Options::keep_lenses`].
    pub lenses: Option<KeyLenses>,
}

/// Why [`build`] could not make a report.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The space figures could not be computed.
    #[error(transparent)]
    Space(#[from] ComputeError),
    /// The member check could not read the member.
    #[error(transparent)]
    Member(#[from] crate::Error),
}

/// The WAL figures of the whole-member check (which read the WAL as etcd does).
fn wal_summary(check: &MemberCheck) -> WalSummary {
    let m = &check.member;
    WalSummary {
        segments: m.wal_segments,
        first_index: m.first_index,
        last_index: m.last_index,
        term: m.term,
        commit: m.commit,
        entries_after_db: None,
        damage: m.wal_read_damage > 0,
        findings: m.wal_read_damage,
    }
}

fn member_identity(info: &EtcdInfo, wal_ids: Option<(u64, u64)>) -> MemberId {
    if let Some((m, c)) = wal_ids {
        return MemberId {
            member_id_hex: Some(format!("{m:016x}")),
            cluster_id_hex: Some(format!("{c:016x}")),
            source: "wal",
        };
    }
    if info.members.len() == 1 {
        return MemberId {
            member_id_hex: Some(info.members[0].id_hex.clone()),
            cluster_id_hex: None,
            source: "db",
        };
    }
    MemberId {
        member_id_hex: None,
        cluster_id_hex: None,
        source: "unknown",
    }
}

/// Builds the report of `member`, whose db is `db` (mapped from a file of `file_len`
/// bytes); `input` is the path as the user named it. Runs on the current rayon pool.
pub fn build<'a>(
    member: &Member,
    input: &Path,
    db: &Db<'a>,
    file_len: u64,
    opts: &Options,
    progress: &Progress<'_>,
) -> Result<Built<'a>, BuildError> {
    let info = read_info(db);
    let quota = opts.quota.unwrap_or(DEFAULT_QUOTA);
    // The prefix groups (one sweep of the key table) and the Kubernetes accounting (every
    // newest value read on the pool) run beside each other and beside the space models.
    // The report's scan has no revision limit and keeps the places of the newest
    // elements, as the accounting needs. With lenses, the same pass also keeps what it
    // read of each key.
    let empty = Keyspace::empty();
    let (space, ks, walk, ((totals, mut groups), (k8s, lenses))) = crate::space::compute_beside(
        db,
        file_len,
        None,
        quota,
        progress.walk,
        progress.scan,
        |ks| {
            let ks_ref: &Keyspace<'_> = ks.unwrap_or(&empty);
            rayon::join(
                || group_by_prefix(ks_ref, opts.depth, b""),
                || {
                    if opts.keep_lenses {
                        let (s, l) = crate::k8s::account_with_lenses(ks_ref, &Default::default());
                        (s, Some(l))
                    } else {
                        (crate::k8s::account(ks_ref, &Default::default()), None)
                    }
                },
            )
        },
    )?;
    // The whole-member verdict, computed once (`check` prints the same one), from the
    // page walk already made; only a member with a WAL has one worth giving.
    let check = match &member.wal_dir {
        Some(_) => {
            let db_check = bbolt_reader::check::check_walk(db, &walk);
            Some(check_member_with(
                member,
                bbolt_reader::MetaChoice::Newest,
                Some(db_check),
            )?)
        }
        None => None,
    };
    let wal_summary = check.as_ref().map(|c| {
        let mut s = wal_summary(c);
        s.entries_after_db = match (s.commit, info.meta.consistent_index) {
            (Some(c), Some(ci)) => Some(c.saturating_sub(ci)),
            _ => None,
        };
        s
    });
    let wal_ids = check.as_ref().and_then(|c| {
        let id = |h: &Option<String>| h.as_deref().and_then(|h| u64::from_str_radix(h, 16).ok());
        Some((id(&c.member.node_id_hex)?, id(&c.member.cluster_id_hex)?))
    });
    // 3.5's members bucket has no client URLs: take them from the WAL's publish entries.
    let mut members = info.members.clone();
    if let Some(c) = &check {
        for m in &mut members {
            if !m.client_urls.is_empty() {
                continue;
            }
            if let Some(p) = c.member.published.get(&m.id) {
                m.client_urls = p.client_urls.clone();
                m.client_urls_source = Some(format!("WAL entry {} ({})", p.index, p.request));
            }
        }
    }
    let written = crate::version::written_by(&info.meta);
    let conf_state = info
        .meta
        .conf_state
        .as_deref()
        .and_then(|t| crate::raft_meta::parse_conf_state(t).ok());
    let compact = info.meta.finished_compact_main();
    let ks_ref: &Keyspace<'_> = ks.as_ref().unwrap_or(&empty);
    let revision = ks_ref
        .totals
        .max_rev
        .map_or(0, |r| r.main)
        .max(info.meta.effective_compact_rev());
    // The report ranks by everything a prefix keeps in the file: keys and values of all
    // revisions.
    groups.sort_by(|a, b| {
        (b.1.key_bytes + b.1.value_bytes)
            .cmp(&(a.1.key_bytes + a.1.value_bytes))
            .then(a.0.cmp(b.0))
    });
    let data_total = totals.key_bytes + totals.value_bytes;
    let share_data = |s: &PrefixStats| share(s.key_bytes + s.value_bytes, data_total);
    // The largest (ties: the smallest prefix) is the first in that order.
    let dominant = groups.first().map(|(p, s)| (*p, s.clone()));
    let live_bytes = ks_ref.live_entry_bytes();
    let history_bytes = ks_ref.totals.entry_bytes.saturating_sub(live_bytes);
    let ps = space.page_size;
    let division = Division {
        db_size: space.db_size,
        live_bytes,
        history_bytes,
        overhead_bytes: space
            .bytes_in_use
            .saturating_sub(live_bytes + history_bytes),
        free_bytes: space.pages_free * ps,
        past_high_water_bytes: space.pages_past_high_water * ps,
    };
    // Damage `check` reports that the walk does not: an invalid meta page (the other one
    // is in use) and a tree that is sound bbolt but no etcd keyspace (a forged meta).
    let mut db_findings: Vec<String> = db
        .metas()
        .iter()
        .filter_map(|m| {
            m.problem.map(|p| {
                format!(
                    "page {}: meta_invalid: meta page {} is invalid: {p}",
                    m.index, m.index
                )
            })
        })
        .collect();
    db_findings.extend(
        crate::layout::etcd_layout(db)
            .into_iter()
            .map(|f| format!("page {}: {}: {}", f.page, f.kind, f.message)),
    );
    let nospace_alarm = info.alarms.iter().any(|a| a.alarm == AlarmType::NoSpace);
    let input_text = input.display().to_string();
    let facts = Facts {
        input: input_text.clone(),
        nospace_alarm,
        quota,
        quota_given: opts.quota.is_some(),
        db_size: space.db_size,
        defrag_size: space.predicted_defrag_size,
        compacted_size: space.compaction.predicted_size_after,
        revision,
        compact_revision: compact,
        compaction_interrupted: info
            .meta
            .compaction_interrupted()
            .then(|| info.meta.scheduled_compact_rev.map_or(0, |r| r.main)),
        revisions_dropped: space.compaction.revisions_dropped,
        bytes_dropped: space.compaction.bytes_dropped,
        dominant: dominant.as_ref().map(|(p, s)| {
            (
                String::from_utf8_lossy(p).into_owned(),
                share_data(s),
                share(s.live_value_bytes, totals.live_value_bytes),
                s.revisions,
                s.keys,
                s.value_bytes,
            )
        }),
        dominant_leased: dominant.as_ref().map_or(0, |(_, s)| s.leased_keys),
        wal_damage: wal_summary.as_ref().is_some_and(|w| w.damage),
        db_damage: !walk.findings.is_empty() || ks_ref.problem_count > 0 || !db_findings.is_empty(),
        db_problems: walk.findings.len() as u64 + ks_ref.problem_count + db_findings.len() as u64,
        db_first_problem: ks_ref
            .problems
            .first()
            .map(|p| format!("key bucket page {} element {}: {}", p.pgid, p.index, p.what))
            .or_else(|| walk.findings.first().map(|f| format!("{f:?}")))
            .or_else(|| db_findings.first().cloned()),
        members: info.members.len(),
        refuses_to_start: check
            .as_ref()
            .filter(|c| c.refuses_to_start())
            .map(|c| c.member.verdicts.first().cloned().unwrap_or_default()),
        wal_verdict: check
            .as_ref()
            .filter(|c| c.member.wal_stopped_at.is_some())
            .and_then(|c| c.member.verdicts.first().cloned()),
        written_by: Some(written.version),
        data_dir: match member.kind {
            InputKind::DataDir => Some(input_text.clone()),
            InputKind::MemberDir => input
                .parent()
                .map(|p| p.display().to_string())
                .filter(|p| !p.is_empty()),
            _ => None,
        },
    };
    let next = next_steps(&facts);
    let quota_source = facts.quota_in_force().source;
    let nospace = nospace_alarm || space.db_size > quota;
    let mut problems: Vec<String> = db_findings;
    problems.extend(info.problems.iter().cloned());
    problems.extend(
        ks_ref
            .problems
            .iter()
            .map(|p| format!("key bucket page {} element {}: {}", p.pgid, p.index, p.what)),
    );
    let member_id = member_identity(&info, wal_ids);
    let kubernetes = crate::k8s::advice::section(&k8s, 5);
    let report = Report {
        schema: SCHEMA,
        input: input_text,
        input_kind: member.kind,
        running_warning: None,
        member: member_id,
        members,
        written_by: Some(written.version),
        written_by_rule: Some(written.rule),
        conf_state,
        downgrade: info.downgrade.clone(),
        cluster_version: info.cluster_version.clone(),
        revision,
        compact_revision: compact,
        scheduled_compact_revision: info.meta.scheduled_compact_rev.map(|r| r.main),
        consistent_index: info.meta.consistent_index,
        term: info.meta.term,
        storage_version: info.meta.storage_version.clone(),
        wal: wal_summary,
        alarms: info
            .alarms
            .iter()
            .map(|a| AlarmJson {
                member_id_hex: format!("{:016x}", a.member_id),
                alarm: a.alarm.name(),
            })
            .collect(),
        keys: KeyCounts {
            distinct: totals.keys,
            live: totals.live_keys,
            revisions: totals.revisions,
            tombstones: totals.tombstones,
            leased_live: totals.leased_keys,
            leases: info.lease_count,
        },
        division,
        prefixes: groups
            .iter()
            .take(opts.top)
            .map(|(p, s)| PrefixShare {
                share_of_data: share_data(s),
                share_of_live: share(s.live_value_bytes, totals.live_value_bytes),
                p: PrefixJson::new(p, s.clone()),
            })
            .collect(),
        dominant_prefix: facts.dominant.as_ref().map(|(p, d, l, ..)| Dominant {
            prefix: p.clone(),
            share_of_data: *d,
            share_of_live: *l,
        }),
        nospace,
        quota_inferred_max: (nospace_alarm && space.db_size <= quota).then_some(space.db_size),
        quota_source,
        quota_given: opts.quota.is_some(),
        space,
        next_steps: next,
        problems,
        kubernetes,
    };
    Ok(Built {
        report,
        walk,
        keyspace: ks,
        k8s,
        lenses,
    })
}
