//! `prefixes <DB|DATA-DIR> [--depth N] [--top N] [--prefix P]`: where the keyspace's
//! bytes are, grouped by key prefix.
//!
//! The prefix of a user key at depth N is the key up to and including its N-th '/'; a key
//! with fewer '/' maps to the key up to and including its last '/', or to "" when it has
//! none (default depth 3: "/registry/pods/default/x" gives "/registry/pods/").
//!
//! # JSON (`--json`), schema `etcd-autopsy/prefixes/v1`
//!
//! ```text
//! {"schema", "depth", "prefix_filter", "revision", "compact_revision",
//!  "malformed_entries", "problems": [{"pgid", "index", "what"}],
//!  "totals": {<fields>}, "prefixes": [{"prefix", <fields>}, ...]}
//! <fields> = keys, live_keys, revisions, tombstones, key_bytes, value_bytes,
//!            live_value_bytes, leased_keys
//! ```
//!
//! `keys` counts distinct user keys; `live_keys` those whose newest revision is not a
//! tombstone; `revisions` every revision kept in the file (puts and tombstones);
//! `key_bytes` and `value_bytes` sum the user key and the value over every revision (a
//! tombstone has a key and no value); `live_value_bytes` sums the value of each live key's
//! newest revision; `leased_keys` counts live keys whose newest revision has a lease.
//! Prefixes are sorted by `value_bytes`, largest first (ties by prefix). `prefix` is a
//! string; when the prefix is not valid UTF-8 it is given lossily and `prefix_base64`
//! holds the exact bytes. `--top N` keeps the first N (text default 20, JSON default all).
//!
//! # ncdu (`--format ncdu`)
//!
//! ncdu's JSON export format (ncdu 1.9+, version 1.0: `[1, 0, {metadata}, [root info,
//! entries...]]`), so `ncdu -f FILE` browses the keyspace like a disk: the root is `/`,
//! each `/`-separated segment of a key is a directory and the key's last segment a file.
//! A file's `dsize` (ncdu's disk usage) is what the key keeps in the db file: its user key
//! and value bytes over every revision; its `asize` (apparent size, ncdu's `a` key) the
//! bytes of its newest revision when it is live, 0 when deleted. See docs/JSON.md for the
//! names given to empty segments, very deep keys and keys that are also directories.
//! Only key names and sizes are written, never values.
//!
//! Exit status: 0; 1 when part of the key bucket could not be read (damaged branch pages
//! are skipped, undecodable entries counted; `problems` says what and where); 2 when the
//! db cannot be read at all.

use super::{open_db, open_image_for_scan, scan_with_progress, thread_pool};
use crate::error::{Result, EXIT_DAMAGE, EXIT_OK};
use crate::output::{human_bytes, sanitize};
use etcd_mvcc::info::read_info;
use etcd_mvcc::scan::{group_by_prefix, KeyAcc, Keyspace, PrefixStats};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `prefixes`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data dir, member dir, db file or `etcdctl snapshot save` file.
    pub input: PathBuf,
    /// Group by the key up to its N-th '/'.
    #[arg(long, default_value_t = 3, value_parser = crate::args::depth)]
    pub depth: usize,
    /// Show only the N largest prefixes (text default 20, JSON default all).
    #[arg(long)]
    pub top: Option<usize>,
    /// Only count keys starting with this prefix.
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = crate::args::threads)]
    pub threads: Option<usize>,
    /// Print JSON (schema `etcd-autopsy/prefixes/v1`).
    #[arg(long)]
    pub json: bool,
    /// Output format: `text` (default), `json` (as --json) or `ncdu` (ncdu's JSON export
    /// format: every key as a file under its `/` path, for `ncdu -f FILE`).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// Output formats of `prefixes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The table.
    Text,
    /// `etcd-autopsy/prefixes/v1`.
    Json,
    /// ncdu's JSON export format (1.9 and later): keys as files, `/` segments as directories.
    Ncdu,
}

pub use etcd_mvcc::report::PrefixJson;

#[derive(Serialize)]
struct Report {
    schema: &'static str,
    depth: usize,
    prefix_filter: String,
    revision: i64,
    compact_revision: i64,
    malformed_entries: u64,
    problems: Vec<etcd_mvcc::scan::Problem>,
    totals: PrefixStats,
    prefixes: Vec<PrefixJson>,
}

/// Runs `prefixes`; returns the exit status.
pub fn run(args: &Args) -> Result<u8> {
    let image = open_image_for_scan(&args.input)?;
    let db = open_db(&image)?;
    let pool = thread_pool(args.threads)?;
    let info = read_info(&db);
    let ks = scan_with_progress(&image, &db, &pool, i64::MAX, false)?;
    let compact = info.meta.finished_compact_main();
    let (totals, groups, revision, problems) = match &ks {
        Some(ks) => {
            let (t, g) = group_by_prefix(ks, args.depth, args.prefix.as_bytes());
            let rev = ks.totals.max_rev.map_or(0, |r| r.main).max(compact);
            (t, g, rev, ks.problem_count)
        }
        None => (PrefixStats::default(), Vec::new(), compact, 0),
    };
    if args.format == Some(Format::Ncdu) {
        let mut out = crate::output::stdout();
        let empty = Vec::new();
        let mut keys: Vec<(&[u8], &KeyAcc)> = match &ks {
            Some(ks) => ks
                .keys
                .iter()
                .filter(|(k, _)| k.starts_with(args.prefix.as_bytes()))
                .map(|(k, a)| (*k, a))
                .collect(),
            None => empty,
        };
        super::ncdu::write(
            &mut out,
            &mut keys,
            &args.input.display().to_string(),
            revision,
        )?;
        out.flush()?;
        return Ok(if problems > 0 { EXIT_DAMAGE } else { EXIT_OK });
    }
    let json = args.json || args.format == Some(Format::Json);
    let top = args.top.unwrap_or(if json { usize::MAX } else { 20 });
    let shown = groups.len().min(top);
    if json {
        crate::output::print_json(&Report {
            schema: "etcd-autopsy/prefixes/v1",
            depth: args.depth,
            prefix_filter: args.prefix.clone(),
            revision,
            compact_revision: compact,
            malformed_entries: ks.as_ref().map_or(0, |k| k.totals.malformed),
            problems: ks.as_ref().map(|k| k.problems.clone()).unwrap_or_default(),
            totals,
            prefixes: groups
                .into_iter()
                .take(top)
                .map(|(p, s)| PrefixJson::new(p, s))
                .collect(),
        })?;
    } else {
        let mut out = crate::output::stdout();
        writeln!(
            out,
            "{} keys ({} live) in {} revisions at revision {revision} (compacted at {compact}), depth {}{}",
            totals.keys,
            totals.live_keys,
            totals.revisions,
            args.depth,
            if args.prefix.is_empty() {
                String::new()
            } else {
                format!(", under {}", sanitize(args.prefix.as_bytes()))
            }
        )?;
        write_table(&mut out, &groups[..shown], &totals)?;
        if shown < groups.len() {
            writeln!(
                out,
                "({} more prefixes; --top N to show more)",
                groups.len() - shown
            )?;
        }
        if let Some(ks) = &ks {
            write_problems(&mut out, ks)?;
        }
        out.flush()?;
    }
    Ok(if problems > 0 { EXIT_DAMAGE } else { EXIT_OK })
}

/// Lists the key bucket's problems (the first few) in text.
pub(crate) fn write_problems(out: &mut dyn Write, ks: &Keyspace<'_>) -> std::io::Result<()> {
    if ks.problem_count == 0 {
        return Ok(());
    }
    writeln!(
        out,
        "damage: {} problem(s) in the key bucket; the figures cover what could be read",
        ks.problem_count
    )?;
    for p in ks.problems.iter().take(10) {
        writeln!(
            out,
            "  page {} element {}: {}",
            p.pgid,
            p.index,
            sanitize(p.what.as_bytes())
        )?;
    }
    Ok(())
}

/// Writes the prefix table in text.
pub(crate) fn write_table(
    out: &mut dyn Write,
    rows: &[(&[u8], PrefixStats)],
    totals: &PrefixStats,
) -> std::io::Result<()> {
    let width = rows
        .iter()
        .map(|(p, _)| sanitize(p).chars().count())
        .max()
        .unwrap_or(0)
        .clamp(6, 60);
    writeln!(
        out,
        "{:<width$}  {:>8} {:>8} {:>9} {:>8} {:>10} {:>10} {:>10} {:>7}",
        "PREFIX", "KEYS", "LIVE", "REVS", "TOMBS", "KEY B", "VALUE B", "LIVE VAL", "LEASED"
    )?;
    let line = |out: &mut dyn Write, name: &str, s: &PrefixStats| {
        writeln!(
            out,
            "{:<width$}  {:>8} {:>8} {:>9} {:>8} {:>10} {:>10} {:>10} {:>7}",
            name,
            s.keys,
            s.live_keys,
            s.revisions,
            s.tombstones,
            human_bytes(s.key_bytes),
            human_bytes(s.value_bytes),
            human_bytes(s.live_value_bytes),
            s.leased_keys
        )
    };
    for (p, s) in rows {
        let name = if p.is_empty() {
            "(no '/')".to_string()
        } else {
            sanitize(p)
        };
        line(out, &name, s)?;
    }
    line(out, "TOTAL", totals)
}
