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

use super::{open_db, thread_pool};
use crate::error::{CliError, Result, EXIT_DAMAGE, EXIT_OK};
use crate::output::{human_bytes, sanitize};
pub use etcd_mvcc::advice::Step;
use etcd_mvcc::advice::{pct, share, QuotaSource};
use etcd_mvcc::member as input;
pub use etcd_mvcc::report::Report;
use etcd_mvcc::report::{BuildError, Options, Progress};
use etcd_mvcc::space::ComputeError;
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

/// Builds the report (in [`etcd_mvcc::report::build`]), and writes its HTML when `--html`
/// is given.
pub fn build(args: &Args) -> Result<Report> {
    let member = input::resolve(&args.input)?;
    let running_check = super::warn_if_running(&member);
    let mut image = etcd_mvcc::member::DbImage::open(&args.input)?;
    super::leave_big_map_to_exit(&mut image);
    image.advise_sequential_read();
    let db = open_db(&image)?;
    let pool = thread_pool(args.threads)?;
    let hwm = db.meta().high_water_mark;
    let walk_bar = crate::progress::bar(hwm, "page walk", false);
    let scan_bar = crate::progress::bar(hwm, "key bucket", false);
    let opts = Options {
        quota: args.quota,
        top: args.top,
        depth: args.depth,
        keep_lenses: args.html.is_some(),
    };
    let progress = Progress {
        walk: &|n| walk_bar.inc(n),
        scan: &|n| scan_bar.inc(n),
    };
    let built = pool.install(|| {
        etcd_mvcc::report::build(
            &member,
            &args.input,
            &db,
            image.file_len(),
            &opts,
            &progress,
        )
    });
    walk_bar.finish_and_clear();
    scan_bar.finish_and_clear();
    let mut built = built.map_err(|e| match e {
        BuildError::Space(ComputeError::Bolt(b)) => super::bolt_err(&image, b),
        BuildError::Space(e) => CliError::Other(e.to_string()),
        BuildError::Member(e) => e.into(),
    })?;
    built.report.running_warning = running_check.warning();
    let report = built.report;
    if let Some(out) = &args.html {
        // The HTML page's WAL timeline: the log read once more, only when asked for.
        let timeline = match &member.wal_dir {
            Some(d) => {
                let wd = wal_reader::WalDir::open(d)?;
                let scan = pool.install(|| wd.scan(wal_reader::ScanOptions { raw: false }));
                Some(wal_reader::timeline::timeline(
                    &scan,
                    crate::html::TIMELINE_BINS,
                ))
            }
            None => None,
        };
        let mut text = Vec::new();
        write_text(&mut text, &report)?;
        // On the report's own pool: `--threads` holds for the page's work too, and no
        // second (global) pool is started for it.
        pool.install(|| {
            crate::html::write_report(
                out,
                &serde_json::to_value(&report)?,
                &String::from_utf8_lossy(&text),
                crate::html::ReportSources {
                    walk: &built.walk,
                    keyspace: built.keyspace.as_ref(),
                    depth: args.depth,
                    timeline,
                    member: &member,
                    kube: built.lenses.as_ref().map(|l| (l, &built.k8s)),
                },
            )
        })?;
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
