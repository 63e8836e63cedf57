//! `space <DB|DATA-DIR> [--rev R] [--quota BYTES]`: where the file's bytes go and what
//! defrag and compaction would give back.
//!
//! See [`etcd_mvcc::space`] for how each figure is computed. `--rev` sets the
//! compaction revision to evaluate (default: the newest revision); `--quota` the backend
//! quota (default 2 GiB, etcd's default `--quota-backend-bytes`).
//!
//! # JSON (`--json`), schema `etcd-autopsy/space/v1`
//!
//! ```text
//! {"schema", "file_size", "db_size", "page_size", "pages_total", "pages_reachable",
//!  "pages_free", "pages_past_high_water", "bytes_in_use",
//!  "leaf": {"pages", "alloc", "inuse", "fill"}, "branch": {same},
//!  "buckets": [{"name", "keys", "pages", "bytes", "inuse", "inline", "defrag_pages"}],
//!  "predicted_defrag_size",
//!  "defrag": {"pages", "size", "tree_pages", "free_pages"},
//!  "compaction": {"revision", "revisions_dropped", "bytes_dropped", "predicted_size_after"},
//!  "quota": {"bytes", "used", "after_defrag", "after_compaction", "exceeded"}}
//! ```
//!
//! `db_size` (high-water mark x page size) is etcd's dbSize; `bytes_in_use` its
//! dbSizeInUse; `pages_total` = pages below the high-water mark = `pages_reachable` +
//! `pages_free`. Fractions are 0..1 (`used` may exceed 1).
//!
//! Exit status: 0; 1 when the page walk or the key-bucket scan found damage (figures then
//! cover what could be read); 2 when the db cannot be read.

use super::{open_db, open_image_for_scan, thread_pool};
use crate::error::{CliError, Result, EXIT_DAMAGE, EXIT_OK};
use crate::output::human_bytes;
use etcd_mvcc::space::{ComputeError, Space, DEFAULT_QUOTA};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `space`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data dir, member dir, db file or `etcdctl snapshot save` file.
    pub input: PathBuf,
    /// Revision of the compaction to evaluate (default: the newest revision).
    #[arg(long)]
    pub rev: Option<i64>,
    /// Backend quota in bytes (etcd's --quota-backend-bytes; default 2 GiB).
    #[arg(long, default_value_t = DEFAULT_QUOTA, value_parser = crate::args::size)]
    pub quota: u64,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = crate::args::threads)]
    pub threads: Option<usize>,
    /// Print JSON (schema `etcd-autopsy/space/v1`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    schema: &'static str,
    #[serde(flatten)]
    space: &'a Space,
}

/// Computes the space figures for an opened db (shared with `report`): the figures are
/// [`etcd_mvcc::space::compute`]'s; here are the progress bars and the errors' words.
pub(crate) fn compute<'a>(
    image: &etcd_mvcc::member::DbImage,
    db: &bbolt_reader::Db<'a>,
    pool: &rayon::ThreadPool,
    rev: Option<i64>,
    quota: u64,
) -> Result<(
    Space,
    Option<etcd_mvcc::scan::Keyspace<'a>>,
    bbolt_reader::walk::Walk<'a>,
)> {
    let hwm = db.meta().high_water_mark;
    let walk_bar = crate::progress::bar(hwm, "page walk", false);
    let scan_bar = crate::progress::bar(hwm, "key bucket", false);
    let out = pool.install(|| {
        etcd_mvcc::space::compute(
            db,
            image.file_len(),
            rev,
            quota,
            &|n| walk_bar.inc(n),
            &|n| scan_bar.inc(n),
        )
    });
    walk_bar.finish_and_clear();
    scan_bar.finish_and_clear();
    out.map_err(|e| match e {
        ComputeError::RevOutOfRange { .. } => CliError::Other(e.to_string()),
        ComputeError::Bolt(b) => super::bolt_err(image, b),
    })
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// Runs `space`; returns the exit status.
pub fn run(args: &Args) -> Result<u8> {
    let image = open_image_for_scan(&args.input)?;
    let db = open_db(&image)?;
    let pool = thread_pool(args.threads)?;
    let (sp, ks, walk) = compute(&image, &db, &pool, args.rev, args.quota)?;
    let damaged = !walk.findings.is_empty() || ks.as_ref().is_some_and(|k| k.problem_count > 0);
    if args.json {
        crate::output::print_json(&Report {
            schema: "etcd-autopsy/space/v1",
            space: &sp,
        })?;
    } else {
        let mut out = crate::output::stdout();
        write_text(&mut out, &sp)?;
        if let Some(k) = &ks {
            super::prefixes::write_problems(&mut out, k)?;
        }
        if damaged {
            writeln!(
                out,
                "note: the page walk found {} problem(s); figures cover what is reachable (see `etcd-autopsy check`)",
                walk.findings.len()
            )?;
        }
        out.flush()?;
    }
    Ok(if damaged { EXIT_DAMAGE } else { EXIT_OK })
}

/// The text form.
pub(crate) fn write_text(out: &mut dyn Write, sp: &Space) -> std::io::Result<()> {
    let ps = sp.page_size;
    writeln!(
        out,
        "db size      {} ({} pages of {} B below the high-water mark); file on disk {}",
        human_bytes(sp.db_size),
        sp.pages_total,
        ps,
        human_bytes(sp.file_size)
    )?;
    writeln!(
        out,
        "in use       {} ({} reachable pages); free {} ({} pages){}",
        human_bytes(sp.bytes_in_use),
        sp.pages_reachable,
        human_bytes(sp.pages_free * ps),
        sp.pages_free,
        if sp.pages_past_high_water > 0 {
            format!(
                "; {} pages past the high-water mark",
                sp.pages_past_high_water
            )
        } else {
            String::new()
        }
    )?;
    writeln!(
        out,
        "page fill    leaf {} pages {} full; branch {} pages {} full",
        sp.leaf.pages,
        pct(sp.leaf.fill),
        sp.branch.pages,
        pct(sp.branch.fill)
    )?;
    writeln!(out, "buckets")?;
    for b in &sp.buckets {
        writeln!(
            out,
            "  {:<16} {:>9} keys {:>10} {:>8} pages{}  after defrag {} pages",
            crate::output::sanitize(b.name.as_bytes()),
            b.keys,
            human_bytes(b.bytes),
            b.pages,
            if b.inline { " (inline)" } else { "" },
            b.defrag_pages
        )?;
    }
    let change = |to: u64| {
        if sp.db_size == 0 {
            String::new()
        } else {
            format!(" ({:+.0}%)", (to as f64 / sp.db_size as f64 - 1.0) * 100.0)
        }
    };
    writeln!(
        out,
        "defrag       would write a file of {}{}",
        human_bytes(sp.predicted_defrag_size),
        change(sp.predicted_defrag_size)
    )?;
    writeln!(
        out,
        "compaction   at revision {} deletes {} revisions ({}); then defrag: about {}{}",
        sp.compaction.revision,
        sp.compaction.revisions_dropped,
        human_bytes(sp.compaction.bytes_dropped),
        human_bytes(sp.compaction.predicted_size_after),
        change(sp.compaction.predicted_size_after)
    )?;
    writeln!(
        out,
        "quota        {}: {} used{}; after defrag {}; after compaction and defrag {}",
        human_bytes(sp.quota.bytes),
        pct(sp.quota.used),
        if sp.quota.exceeded {
            " (EXCEEDED: etcd raises NOSPACE)"
        } else {
            ""
        },
        pct(sp.quota.after_defrag),
        pct(sp.quota.after_compaction)
    )
}
