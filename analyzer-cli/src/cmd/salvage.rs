//! `salvage <DATA-DIR|DB> --out NEW.db`: rebuild a fresh, compact etcd db from whatever is
//! readable in a damaged one (see [`crate::salvage`] for how).
//!
//! The input is only read. The output must be a new file, and it may not lie inside the
//! input's member directory (for a db file at `…/snap/db`, the directory above `snap`).
//!
//! # JSON (`--json`), schema `etcd-autopsy/salvage/v1`
//!
//! One object, [`etcd_mvcc::salvage::SalvageReport`], plus `input` and `output` (paths):
//! `page_size`, `file_pages`, `metas` [{index, valid, txid, root, problem}], `meta_used`,
//! `meta_used_txid`, `meta_fallback`, `pages_scanned`, `key_leaf_pages` {reachable,
//! reachable_damaged, unreachable_found, unreachable_used}, `damaged_pages`, `damaged`
//! [{pgid, bucket, reason}], `lost_key_ranges` [{from, to}] (revisions `main_sub`, null =
//! open end), `revisions` {reachable, from_damaged_pages, unreachable_filling_gaps,
//! unreachable_newer, unreachable_ignored, distinct, superseded}, `keys_recovered`,
//! `keys_from_unreachable_pages`, `tombstoned_keys_dropped`, `newest_revision`,
//! `compact_revision_in`, `compact_revision_out`, `consistent_index`, `leases`
//! {reachable, from_unreachable_pages, written, keys_with_missing_lease},
//! `buckets_copied` [{name, entries, complete}], `meta_carried` [string],
//! `meta_not_carried` [string], `alarms_dropped` [string],
//! `buckets_not_carried` [string], `lost` [string], `written` {page_size, pages, bytes,
//! keys, leases, verified}. Full description in docs/JSON.md, section "salvage".
//!
//! Exit status: 0 when the input was sound and everything was carried over, 1 when damage
//! was found (the output holds what could be recovered; `lost` says what could not), 2
//! when nothing could be written.

use crate::error::{CliError, Result, EXIT_DAMAGE, EXIT_OK};
use crate::output::{human_bytes, sanitize};
use etcd_mvcc::member::{self as input, DbImage};
use etcd_mvcc::salvage::{self, SalvageOptions, SalvageReport};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `salvage`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The damaged member: data dir, member dir, db file, or `etcdctl snapshot save` file.
    pub input: PathBuf,
    /// The new db file to write. It must not exist, and must not be inside the input's
    /// member directory.
    #[arg(long, value_name = "NEW.db")]
    pub out: PathBuf,
    /// Ignore revisions found on unreachable pages that are newer than the chosen tree
    /// (by default they are used: they come from a transaction whose meta page was lost).
    #[arg(long)]
    pub ignore_newer_unreachable: bool,
    /// Print the report as JSON (schema `etcd-autopsy/salvage/v1`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    input: String,
    output: String,
    #[serde(flatten)]
    report: &'a SalvageReport,
}

/// Runs `salvage`; returns the exit status.
pub fn run(args: &Args) -> Result<u8> {
    let member = input::resolve(&args.input)?;
    super::warn_if_running(&member);
    check_output_path(&args.out, &member)?;
    let image = DbImage::open(&args.input)?;
    let options = SalvageOptions {
        use_newer_unreachable: !args.ignore_newer_unreachable,
    };
    let mut rec = salvage::recover(image.bytes(), options);
    if rec.report.meta_used.is_none() && rec.report.key_leaf_pages.unreachable_found == 0 {
        return Err(CliError::input(
            &image.path,
            "no usable meta page and no page of the key bucket found: nothing to salvage",
        ));
    }
    salvage::write_db(&mut rec, &args.out)
        .map_err(|e| CliError::Other(format!("writing {}: {e}", args.out.display())))?;
    let report = &rec.report;
    if args.json {
        crate::output::print_json(&JsonReport {
            input: image.path.display().to_string(),
            output: args.out.display().to_string(),
            report,
        })?;
    } else {
        print_text(&image.path, &args.out, report)?;
    }
    Ok(if report.found_damage() {
        EXIT_DAMAGE
    } else {
        EXIT_OK
    })
}

/// Refuses an output that exists or lies inside the input's member directory (or, for a
/// bare db file, in the directory holding it).
fn check_output_path(out: &Path, member: &input::Member) -> Result<()> {
    if out.exists() || out.symlink_metadata().is_ok() {
        return Err(CliError::input(
            out,
            "already exists; salvage writes a new file only",
        ));
    }
    crate::cmd::refuse_output_inside_input(out, member, "the salvaged db")?;
    Ok(())
}

fn print_text(input: &Path, out: &Path, r: &SalvageReport) -> Result<()> {
    let mut o = crate::output::TextOut::new();
    writeln!(o, "salvage {} -> {}", input.display(), out.display())?;
    for m in &r.metas {
        let state = if m.valid { "valid" } else { "invalid" };
        write!(o, "  meta {}: {state}", m.index)?;
        if let (Some(t), Some(root)) = (m.txid, m.root) {
            write!(o, ", txid {t}, root page {root}")?;
        }
        if let Some(p) = &m.problem {
            write!(o, " ({p})")?;
        }
        writeln!(o)?;
    }
    match (r.meta_used, r.meta_used_txid) {
        (Some(i), Some(t)) => writeln!(o, "meta used: {i} (txid {t})")?,
        _ => writeln!(o, "meta used: none")?,
    }
    if let Some(f) = &r.meta_fallback {
        writeln!(o, "  {f}")?;
    }
    writeln!(
        o,
        "pages scanned: {} (page size {}, {} pages in the file)",
        r.pages_scanned, r.page_size, r.file_pages
    )?;
    let lp = &r.key_leaf_pages;
    writeln!(
        o,
        "key leaf pages: {} reachable, {} reachable but damaged, {} unreachable found ({} used)",
        lp.reachable, lp.reachable_damaged, lp.unreachable_found, lp.unreachable_used
    )?;
    let rv = &r.revisions;
    writeln!(
        o,
        "revisions: {} reachable, {} from damaged pages, {} from unreachable pages filling gaps, {} newer from unreachable pages, {} unreachable ignored; {} distinct, {} superseded",
        rv.reachable,
        rv.from_damaged_pages,
        rv.unreachable_filling_gaps,
        rv.unreachable_newer,
        rv.unreachable_ignored,
        rv.distinct,
        rv.superseded
    )?;
    writeln!(
        o,
        "keys recovered: {} ({} from unreachable pages); keys dropped as deleted (tombstone newest): {}",
        r.keys_recovered, r.keys_from_unreachable_pages, r.tombstoned_keys_dropped
    )?;
    writeln!(
        o,
        "newest revision: {}; compaction written: {} (input: {}); consistent index: {}",
        r.newest_revision,
        r.compact_revision_out,
        r.compact_revision_in
            .map_or("unknown".into(), |c| c.to_string()),
        r.consistent_index
            .map_or("unknown".into(), |c| c.to_string())
    )?;
    let l = &r.leases;
    writeln!(
        o,
        "leases: {} written ({} from the tree, {} from unreachable pages); keys whose lease is missing: {}",
        l.written, l.reachable, l.from_unreachable_pages, l.keys_with_missing_lease
    )?;
    if !r.buckets_copied.is_empty() {
        let list: Vec<String> = r
            .buckets_copied
            .iter()
            .map(|b| {
                format!(
                    "{} ({}{})",
                    b.name,
                    b.entries,
                    if b.complete { "" } else { ", incomplete" }
                )
            })
            .collect();
        writeln!(o, "buckets copied: {}", list.join(", "))?;
    }
    writeln!(
        o,
        "meta carried: {}{}",
        if r.meta_carried.is_empty() {
            "none".to_string()
        } else {
            r.meta_carried.join(", ")
        },
        if r.meta_not_carried.is_empty() {
            String::new()
        } else {
            format!(
                "; not carried: {}",
                sanitize(r.meta_not_carried.join(", ").as_bytes())
            )
        }
    )?;
    if !r.alarms_dropped.is_empty() {
        writeln!(o, "alarms dropped: {}", r.alarms_dropped.join(", "))?;
    }
    if !r.buckets_not_carried.is_empty() {
        writeln!(
            o,
            "buckets not carried: {}",
            r.buckets_not_carried.join(", ")
        )?;
    }
    if r.damaged_pages > 0 {
        writeln!(o, "damaged pages: {}", r.damaged_pages)?;
        for d in &r.damaged {
            let b = if d.bucket.is_empty() {
                "root"
            } else {
                &d.bucket
            };
            writeln!(
                o,
                "  page {} ({b}): {}",
                d.pgid,
                sanitize(d.reason.to_string().as_bytes())
            )?;
        }
        if r.damaged_pages > r.damaged.len() as u64 {
            writeln!(o, "  …")?;
        }
        for lr in &r.lost_key_ranges {
            writeln!(
                o,
                "  key revisions lost from {} to {}",
                lr.from.as_deref().unwrap_or("the start"),
                lr.to.as_deref().unwrap_or("the end")
            )?;
        }
    }
    if let Some(w) = &r.written {
        writeln!(
            o,
            "written: {} keys, {} leases; {} pages of {} ({}); read back: {}",
            w.keys,
            w.leases,
            w.pages,
            w.page_size,
            human_bytes(w.bytes),
            if w.verified { "ok" } else { "MISMATCH" }
        )?;
    }
    if r.lost.is_empty() {
        writeln!(o, "nothing lost: the input was sound")?;
    } else {
        writeln!(o, "lost or uncertain:")?;
        for s in &r.lost {
            writeln!(o, "  - {s}")?;
        }
    }
    writeln!(
        o,
        "restore with: etcdctl snapshot restore {} --skip-hash-check --data-dir <NEW-DIR> …",
        out.display()
    )?;
    o.flush()?;
    Ok(())
}
