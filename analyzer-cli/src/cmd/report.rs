//! `report <DATA-DIR|DB>`: the one screen an on-call engineer needs when etcd is down or
//! out of space.
//!
//! What the member is (member and cluster ids, revision, compact revision, consistent
//! index, alarms), how the file divides into live data, history, overhead and free pages,
//! the prefixes that hold the bytes, and the next steps in plain words with numbers.
//! Member and cluster ids come from the WAL's metadata record when a data dir is given,
//! else from the db's `members` bucket (which names every member; the db alone cannot
//! say which one it belongs to when there are several).
//!
//! # JSON (`--json`), schema `etcd-autopsy/report/v1`
//!
//! ```text
//! {"schema", "input", "input_kind", "running_warning",
//!  "member": {"member_id_hex", "cluster_id_hex", "source"},
//!  "members": [{"id", "id_hex", "name", "peerURLs", "clientURLs", "isLearner",
//!               "clientURLs_source"?}],
//!  "written_by": "3.4" | "3.5" | "3.6" | "3.7" | null, "written_by_rule": text | null,
//!  "conf_state": null | {"voters", "learners", "voters_outgoing", "learners_next",
//!                        "auto_leave"},
//!  "downgrade": null | {"target-version", "enabled"},
//!  "cluster_version",
//!  "revision", "compact_revision", "scheduled_compact_revision", "consistent_index",
//!  "term", "storage_version",
//!  "wal": null | {"segments", "first_index", "last_index", "term", "commit",
//!                 "entries_after_db", "damage", "findings"},
//!  "alarms": [{"member_id_hex", "alarm"}],
//!  "keys": {"distinct", "live", "revisions", "tombstones", "leased_live", "leases"},
//!  "division": {"db_size", "live_bytes", "history_bytes", "overhead_bytes", "free_bytes",
//!               "past_high_water_bytes"},
//!  "space": {<the space command's object>},
//!  "prefixes": [{<the prefixes command's prefix object>, "share_of_data",
//!               "share_of_live"}],
//!  "dominant_prefix": null | {"prefix", "share_of_data", "share_of_live"},
//!  "nospace": bool, "quota_inferred_max": null | bytes,
//!  "next_steps": [{"id", "text", "command"}],
//!  "kubernetes": null | {"objects", "bytes", "top_kinds": [{"name", "objects", "bytes", "share"}],
//!                "top_namespaces": [...], "managed_fields_bytes", "managed_fields_share",
//!                "last_applied_bytes", "last_applied_share", "findings": {kind: count},
//!                "next_steps": [{"id", "text"}]},
//!  "problems": [string]}
//! ```
//!
//! `division`: `live_bytes` are the bbolt key + value bytes of each live key's newest
//! revision; `history_bytes` those of all other revisions (older versions, tombstones);
//! `overhead_bytes` the rest of the pages in use (page and element headers, partly filled
//! pages, the other buckets); `free_bytes` the free pages below the high-water mark. The
//! four add up to `db_size`. `share_of_data` is the prefix's part of all key and value
//! bytes over every revision; `share_of_live` its part of the live values. `next_steps`
//! ids (rules in [`etcd_mvcc::advice`]): `refuses_to_start`, `nospace`, `filled_by`, `start`, `compact`, `defrag`, `disarm`, `quota`,
//! `events_ttl`, `never_compacted`, `compaction_interrupted`, `defrag_only`,
//! `compact_then_defrag`, `dominant`, `wal_damage`, `db_damage`.
//!
//! Exit status, as for `check`: 0 when the report was made and the files are sound (a
//! member that is out of space is a state of the cluster, not damage: JSON `nospace` says
//! it); 1 when damage was found in the db or the WAL; 2 when the db cannot be read.

use super::prefixes::PrefixJson;
use super::{open_db, thread_pool};
use crate::error::{Result, EXIT_DAMAGE, EXIT_OK};
use crate::output::{human_bytes, sanitize};
pub use etcd_mvcc::advice::Step;
use etcd_mvcc::advice::{next_steps, pct, share, Facts, QuotaSource};
use etcd_mvcc::cluster::{AlarmType, MemberRecord};
use etcd_mvcc::info::{read_info, EtcdInfo};
use etcd_mvcc::member::{self as input, InputKind};
use etcd_mvcc::scan::{group_by_prefix, Keyspace, PrefixStats};
use etcd_mvcc::space::{Space, DEFAULT_QUOTA};
use etcd_mvcc::verdict::{check_member_with, MemberCheck};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data dir (preferred: the WAL is read too), member dir, db file or snapshot file.
    pub input: PathBuf,
    /// The member's --quota-backend-bytes (default: etcd's 2 GiB, assumed), for quota
    /// figures and advice.
    #[arg(long, value_parser = crate::args::size)]
    pub quota: Option<u64>,
    /// Prefixes shown (by size).
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Prefix depth (as in `prefixes`).
    #[arg(long, default_value_t = 3, value_parser = crate::args::depth)]
    pub depth: usize,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = crate::args::threads)]
    pub threads: Option<usize>,
    /// Print JSON (schema `etcd-autopsy/report/v1`).
    #[arg(long)]
    pub json: bool,
    /// Also write the report as one self-contained HTML file (treemap, page map, quota
    /// gauge, WAL timeline); it must not be inside the input's directory.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Accepted as by the commands that print values; changes nothing here: neither the
    /// report nor its HTML ever holds a value (secrets' values included).
    #[arg(long)]
    pub show_secrets: bool,
}

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

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    schema: &'static str,
    input: String,
    input_kind: InputKind,
    running_warning: Option<String>,
    member: MemberId,
    members: Vec<MemberRecord>,
    written_by: Option<etcd_mvcc::version::Release>,
    written_by_rule: Option<String>,
    conf_state: Option<etcd_mvcc::raft_meta::MetaConfState>,
    downgrade: Option<etcd_mvcc::cluster::DowngradeInfo>,
    cluster_version: Option<String>,
    revision: i64,
    compact_revision: i64,
    scheduled_compact_revision: Option<i64>,
    consistent_index: Option<u64>,
    term: Option<u64>,
    storage_version: Option<String>,
    wal: Option<WalSummary>,
    alarms: Vec<AlarmJson>,
    keys: KeyCounts,
    division: Division,
    space: Space,
    prefixes: Vec<PrefixShare>,
    dominant_prefix: Option<Dominant>,
    nospace: bool,
    quota_inferred_max: Option<u64>,
    #[serde(skip)]
    quota_source: QuotaSource,
    #[serde(skip)]
    quota_given: bool,
    next_steps: Vec<Step>,
    problems: Vec<String>,
    /// The Kubernetes section (absent when nothing is stored under /registry/).
    kubernetes: Option<etcd_mvcc::k8s::advice::K8sSection>,
}

/// Published member attributes from the WAL, by member id.
type PublishedMap = std::collections::BTreeMap<u64, etcd_mvcc::raft_meta::Published>;

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

/// Builds the report, and writes its HTML when `--html` is given.
pub fn build(args: &Args) -> Result<Report> {
    let member = input::resolve(&args.input)?;
    let running_warning = super::warn_if_running(&member);
    let mut image = etcd_mvcc::member::DbImage::open(&args.input)?;
    super::leave_big_map_to_exit(&mut image);
    image.advise_sequential_read();
    let db = open_db(&image)?;
    let pool = thread_pool(args.threads)?;
    let info = read_info(&db);
    let quota = args.quota.unwrap_or(DEFAULT_QUOTA);
    let (space, ks, walk) = super::space::compute(&image, &db, &pool, None, quota)?;
    // The whole-member verdict, computed once (`check` prints the same one), from the
    // page walk already made; only a member with a WAL has one worth giving.
    let check = match &member.wal_dir {
        Some(_) => {
            let db_check = bbolt_reader::check::check_walk(&db, &walk);
            Some(pool.install(|| {
                check_member_with(&member, bbolt_reader::MetaChoice::Newest, Some(db_check))
            })?)
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
    let published: PublishedMap = check
        .as_ref()
        .map(|c| c.member.published.clone())
        .unwrap_or_default();
    // The HTML page's WAL timeline: the log read once more, only when asked for.
    let timeline = match (&member.wal_dir, args.html.is_some()) {
        (Some(d), true) => {
            let wd = wal_reader::WalDir::open(d)?;
            let scan = pool.install(|| wd.scan(wal_reader::ScanOptions { raw: false }));
            Some(wal_reader::timeline::timeline(
                &scan,
                crate::html::TIMELINE_BINS,
            ))
        }
        _ => None,
    };
    // 3.5's members bucket has no client URLs: take them from the WAL's publish entries.
    let mut members = info.members.clone();
    for m in &mut members {
        if !m.client_urls.is_empty() {
            continue;
        }
        if let Some(p) = published.get(&m.id) {
            m.client_urls = p.client_urls.clone();
            m.client_urls_source = Some(format!("WAL entry {} ({})", p.index, p.request));
        }
    }
    let written = etcd_mvcc::version::written_by(&info.meta);
    let conf_state = info
        .meta
        .conf_state
        .as_deref()
        .and_then(|t| etcd_mvcc::raft_meta::parse_conf_state(t).ok());
    let compact = info.meta.finished_compact_main();
    let empty = Keyspace {
        keys: Default::default(),
        totals: Default::default(),
        limit: i64::MAX,
        problems: Vec::new(),
        problem_count: 0,
        leaf_pages: Vec::new(),
    };
    let ks_ref: &Keyspace<'_> = ks.as_ref().unwrap_or(&empty);
    let revision = ks_ref
        .totals
        .max_rev
        .map_or(0, |r| r.main)
        .max(info.meta.effective_compact_rev());
    let (totals, mut groups) = group_by_prefix(ks_ref, args.depth, b"");
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
        etcd_mvcc::layout::etcd_layout(&db)
            .into_iter()
            .map(|f| format!("page {}: {}: {}", f.page, f.kind, f.message)),
    );
    let nospace_alarm = info.alarms.iter().any(|a| a.alarm == AlarmType::NoSpace);
    let facts = Facts {
        input: args.input.display().to_string(),
        nospace_alarm,
        quota,
        quota_given: args.quota.is_some(),
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
            InputKind::DataDir => Some(args.input.display().to_string()),
            InputKind::MemberDir => args
                .input
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
    // The report's scan has no revision limit and keeps its leaf pages, as the Kubernetes
    // accounting needs.
    // With --html, the same pass also keeps what it read of each key, for the treemap.
    let (k8s, lenses) = if args.html.is_some() {
        let (s, l) =
            pool.install(|| etcd_mvcc::k8s::account_with_lenses(ks_ref, &Default::default()));
        (s, Some(l))
    } else {
        let s = pool.install(|| etcd_mvcc::k8s::account(ks_ref, &Default::default()));
        (s, None)
    };
    let kubernetes = etcd_mvcc::k8s::advice::section(&k8s, 5);
    let report = Report {
        schema: "etcd-autopsy/report/v1",
        input: args.input.display().to_string(),
        input_kind: member.kind,
        running_warning,
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
            .take(args.top)
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
        quota_given: args.quota.is_some(),
        space,
        next_steps: next,
        problems,
        kubernetes,
    };
    if let Some(out) = &args.html {
        let mut text = Vec::new();
        write_text(&mut text, &report)?;
        crate::html::write_report(
            out,
            &serde_json::to_value(&report)?,
            &String::from_utf8_lossy(&text),
            crate::html::ReportSources {
                walk: &walk,
                keyspace: ks.as_ref(),
                depth: args.depth,
                timeline,
                member: &member,
                kube: lenses.as_ref().map(|l| (l, &k8s)),
            },
        )?;
    }
    Ok(report)
}

/// Runs `report`; returns the exit status.
pub fn run(args: &Args) -> Result<u8> {
    let r = build(args)?;
    let bad = r.wal.as_ref().is_some_and(|w| w.damage)
        || r.next_steps.iter().any(|s| s.id == "db_damage");
    if args.json {
        crate::output::print_json(&r)?;
    } else {
        let mut text: Vec<u8> = Vec::new();
        write_text(&mut text, &r)?;
        let mut out = crate::output::stdout();
        out.write_all(crate::output::present(&String::from_utf8_lossy(&text)).as_bytes())?;
        out.flush()?;
    }
    Ok(if bad { EXIT_DAMAGE } else { EXIT_OK })
}

fn write_kubernetes(
    out: &mut dyn Write,
    k: &etcd_mvcc::k8s::advice::K8sSection,
) -> std::io::Result<()> {
    writeln!(
        out,
        "kubernetes   {} objects, {} of values; managedFields {} of live bytes, last-applied {}",
        k.objects,
        human_bytes(k.bytes),
        pct(k.managed_fields_share),
        pct(k.last_applied_share)
    )?;
    for (title, rows) in [("kinds", &k.top_kinds), ("namespaces", &k.top_namespaces)] {
        let v: Vec<String> = rows
            .iter()
            .map(|s| {
                let n = if s.name.is_empty() { "-" } else { &s.name };
                format!(
                    "{} {} ({})",
                    sanitize(n.as_bytes()),
                    human_bytes(s.bytes),
                    pct(s.share)
                )
            })
            .collect();
        writeln!(out, "  top {title}: {}", v.join(", "))?;
    }
    for s in &k.next_steps {
        writeln!(out, "  - {}", sanitize(s.text.as_bytes()))?;
    }
    Ok(())
}

fn write_text(out: &mut dyn Write, r: &Report) -> std::io::Result<()> {
    let dash = "-".to_string();
    writeln!(out, "etcd member report: {}", sanitize(r.input.as_bytes()))?;
    // Damage first: what is wrong comes before the figures.
    for p in r.problems.iter().take(10) {
        writeln!(out, "problem: {}", sanitize(p.as_bytes()))?;
    }
    writeln!(
        out,
        "member       {}  cluster {}{}",
        r.member.member_id_hex.as_ref().unwrap_or(&dash),
        r.member.cluster_id_hex.as_ref().unwrap_or(&dash),
        match r.member.source {
            "wal" => " (from the WAL)",
            "db" => " (the only member recorded in the db)",
            _ => "",
        }
    )?;
    if let (Some(w), Some(rule)) = (&r.written_by, &r.written_by_rule) {
        writeln!(out, "written by   etcd {w} ({})", sanitize(rule.as_bytes()))?;
    }
    if !r.members.is_empty() {
        let list: Vec<String> = r
            .members
            .iter()
            .map(|m| {
                format!(
                    "{} {}{}{}",
                    m.id_hex,
                    sanitize(m.name.as_bytes()),
                    m.peer_urls
                        .first()
                        .map(|u| format!(" {}", sanitize(u.as_bytes())))
                        .unwrap_or_default(),
                    m.client_urls
                        .first()
                        .map(|u| format!(
                            " client {}{}",
                            sanitize(u.as_bytes()),
                            m.client_urls_source
                                .as_ref()
                                .map(|s| format!(" (from {})", sanitize(s.as_bytes())))
                                .unwrap_or_default()
                        ))
                        .unwrap_or_default()
                )
            })
            .collect();
        writeln!(out, "members      {}", list.join("; "))?;
    }
    if let Some(c) = &r.conf_state {
        let hex: Vec<String> = c.voters.iter().map(|v| format!("{v:016x}")).collect();
        writeln!(
            out,
            "conf state   voters [{}] (meta/confState)",
            hex.join(",")
        )?;
    }
    if let Some(d) = &r.downgrade {
        writeln!(
            out,
            "downgrade    {} (target version {})",
            if d.enabled {
                "in progress"
            } else {
                "not enabled"
            },
            if d.target_version.is_empty() {
                "-".to_string()
            } else {
                sanitize(d.target_version.as_bytes())
            }
        )?;
    }
    writeln!(
        out,
        "revision     {}  compacted at {}{}  consistent index {}{}",
        r.revision,
        if r.compact_revision < 0 {
            "never".to_string()
        } else {
            r.compact_revision.to_string()
        },
        match r.scheduled_compact_revision {
            Some(s) if s > r.compact_revision => format!(" (scheduled {s}, unfinished)"),
            _ => String::new(),
        },
        r.consistent_index.map_or(dash.clone(), |c| c.to_string()),
        r.cluster_version
            .as_ref()
            .map(|v| format!("  cluster version {}", sanitize(v.as_bytes())))
            .unwrap_or_default()
    )?;
    if let Some(w) = &r.wal {
        writeln!(
            out,
            "wal          {} segment(s), entries {}..{}, term {}, commit {}{}{}",
            w.segments,
            w.first_index.map_or(dash.clone(), |x| x.to_string()),
            w.last_index.map_or(dash.clone(), |x| x.to_string()),
            w.term.map_or(dash.clone(), |x| x.to_string()),
            w.commit.map_or(dash.clone(), |x| x.to_string()),
            match w.entries_after_db {
                Some(n) if n > 0 => format!(
                    " ({n} committed entries past the db's consistent index: etcd applies them on start)"
                ),
                _ => String::new(),
            },
            if w.damage {
                format!(", {} damage finding(s)", w.findings)
            } else {
                String::new()
            }
        )?;
    }
    if r.alarms.is_empty() {
        writeln!(out, "alarms       none")?;
    } else {
        let a: Vec<String> = r
            .alarms
            .iter()
            .map(|a| format!("{} (member {})", a.alarm, a.member_id_hex))
            .collect();
        writeln!(out, "alarms       {}", a.join(", "))?;
    }
    writeln!(
        out,
        "keys         {} live of {} distinct, {} revisions ({} tombstones), {} leases",
        r.keys.live, r.keys.distinct, r.keys.revisions, r.keys.tombstones, r.keys.leases
    )?;
    let d = &r.division;
    // With a raised NOSPACE alarm the quota figure must agree with it: the quota given or
    // assumed is named as such, or replaced by the bound the alarm gives.
    let quota_text = match (
        r.alarms.iter().any(|a| a.alarm == "NOSPACE"),
        r.quota_source,
    ) {
        (false, _) => format!(
            "quota {} = {:.1}%",
            human_bytes(r.space.quota.bytes),
            r.space.quota.used * 100.0
        ),
        (true, QuotaSource::InferredFromAlarm) => format!(
            "quota below {}, inferred from the NOSPACE alarm{}",
            human_bytes(d.db_size),
            if r.quota_given {
                format!(
                    "; the --quota {} given is above the size it fired at",
                    human_bytes(r.space.quota.bytes)
                )
            } else {
                format!(" (not etcd's default {})", human_bytes(r.space.quota.bytes))
            }
        ),
        (true, source) => format!(
            "quota {}{} = {:.1}%",
            human_bytes(r.space.quota.bytes),
            if source == QuotaSource::Default {
                " assumed (etcd's default)"
            } else {
                ""
            },
            r.space.quota.used * 100.0
        ),
    };
    writeln!(
        out,
        "file         {} (db size; {quota_text}){}",
        human_bytes(d.db_size),
        if d.past_high_water_bytes > 0 {
            format!(
                ", {} more on disk past the high-water mark",
                human_bytes(d.past_high_water_bytes)
            )
        } else {
            String::new()
        }
    )?;
    let part = |n: u64| pct(share(n, d.db_size));
    writeln!(
        out,
        "  live data  {:>10}  {:>4}  newest revision of each live key",
        human_bytes(d.live_bytes),
        part(d.live_bytes)
    )?;
    writeln!(
        out,
        "  history    {:>10}  {:>4}  older revisions and tombstones",
        human_bytes(d.history_bytes),
        part(d.history_bytes)
    )?;
    writeln!(
        out,
        "  overhead   {:>10}  {:>4}  page headers, part-filled pages, other buckets",
        human_bytes(d.overhead_bytes),
        part(d.overhead_bytes)
    )?;
    writeln!(
        out,
        "  free       {:>10}  {:>4}  free pages (defrag returns them)",
        human_bytes(d.free_bytes),
        part(d.free_bytes)
    )?;
    if !r.prefixes.is_empty() {
        writeln!(out, "top prefixes (by bytes over all revisions)")?;
        for p in &r.prefixes {
            writeln!(
                out,
                "  {:<40} {:>10} {:>4} of data  {:>6} keys {:>7} revs  live {:>4}",
                if p.p.prefix.is_empty() {
                    "(no '/')".to_string()
                } else {
                    sanitize(p.p.prefix.as_bytes())
                },
                human_bytes(p.p.stats.key_bytes + p.p.stats.value_bytes),
                pct(p.share_of_data),
                p.p.stats.live_keys,
                p.p.stats.revisions,
                pct(p.share_of_live)
            )?;
        }
    }
    if let Some(k) = &r.kubernetes {
        write_kubernetes(out, k)?;
    }
    writeln!(out, "next steps")?;
    if r.next_steps.is_empty() {
        writeln!(
            out,
            "  nothing to do: the file is compact and within its quota"
        )?;
    }
    let mut n = 0;
    for s in &r.next_steps {
        n += 1;
        writeln!(out, "  {n}. {}", s.text)?;
        if let Some(c) = &s.command {
            writeln!(out, "       $ {c}")?;
        }
    }
    Ok(())
}
