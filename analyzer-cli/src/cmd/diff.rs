//! `diff <A> <B> [--rev R] [--keys] [--depth N] [--replay-wal]`: how two keyspaces differ.
//! A and B may be data dirs, member dirs, db files or `etcdctl snapshot save` files.
//!
//! Each side is read at revision R (default: its own newest revision; with
//! `--replay-wal`, directories first get their committed, unapplied WAL entries applied
//! as `export --replay-wal` does). Keys are compared by their live value: only in A,
//! only in B, different value, same value but other create/mod revision, version or
//! lease. Counts are given per key prefix at `--depth` (default 3, as `prefixes`);
//! `--keys` lists every differing key.
//!
//! # JSON (`--json`), schema `etcd-autopsy/diff/v1`
//!
//! `{"schema", "a": {"path", "revision", "compact_revision", "keys"}, "b": {...},
//! "only_a", "only_b", "different_value", "different_metadata", "identical",
//! "prefixes": [{"prefix", "only_a", "only_b", "different_value",
//! "different_metadata"}], "keys": [{"key": {"text"} | {"base64"}, "status": "only_a" |
//! "only_b" | "different_value" | "different_metadata"}]}`. `prefix` is a string (lossy
//! UTF-8); `keys` is present only with `--keys`. Values are never printed.
//!
//! Exit status: 0 the keyspaces are identical, 1 they differ, 2 an input is unreadable or
//! R is not held by both.

use super::{load, open_db, open_image, replay_member, thread_pool};
use crate::error::{Result, EXIT_DAMAGE, EXIT_OK};
use crate::output::{print_json, sanitize, stdout, JsonBytes};
use etcd_mvcc::info::read_info;
use etcd_mvcc::member as input;
use etcd_mvcc::prefix_at_depth;
use etcd_mvcc::replay::diff::{diff_states, Counts, Status};
use etcd_mvcc::replay::State;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// First input: data dir, member dir, db or snapshot file.
    pub a: PathBuf,
    /// Second input.
    pub b: PathBuf,
    /// Revision to compare at (default: each side's newest).
    #[arg(long, conflicts_with = "replay_wal")]
    pub rev: Option<i64>,
    /// List every differing key.
    #[arg(long)]
    pub keys: bool,
    /// Prefix depth for the counts.
    #[arg(long, default_value_t = 3, value_parser = crate::args::depth)]
    pub depth: usize,
    /// Apply each directory's committed, unapplied WAL entries first.
    #[arg(long)]
    pub replay_wal: bool,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = crate::args::threads)]
    pub threads: Option<usize>,
    /// Print JSON (schema `etcd-autopsy/diff/v1`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Side {
    path: String,
    revision: i64,
    compact_revision: i64,
    keys: usize,
}

#[derive(Serialize)]
struct PrefixRow {
    prefix: String,
    #[serde(flatten)]
    counts: Counts,
}

#[derive(Serialize)]
struct KeyRow {
    key: JsonBytes,
    status: Status,
}

#[derive(Serialize)]
struct Report {
    schema: &'static str,
    a: Side,
    b: Side,
    #[serde(flatten)]
    counts: Counts,
    identical: bool,
    prefixes: Vec<PrefixRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keys: Option<Vec<KeyRow>>,
}

/// Runs `diff`; returns the exit status.
pub fn run(args: &Args) -> Result<u8> {
    let pool = thread_pool(args.threads)?;
    let img_a = open_image(&args.a)?;
    let img_b = open_image(&args.b)?;
    let db_a = open_db(&img_a)?;
    let db_b = open_db(&img_b)?;
    let info_a = read_info(&db_a);
    let info_b = read_info(&db_b);
    let mut la = load(&img_a, &db_a, &info_a, args.rev, &pool)?;
    let mut lb = load(&img_b, &db_b, &info_b, args.rev, &pool)?;
    if args.replay_wal {
        for (path, info, st) in [
            (&args.a, &info_a, &mut la.state),
            (&args.b, &info_b, &mut lb.state),
        ] {
            let m = input::resolve(path)?;
            if m.wal_dir.is_some() {
                replay_member(&m, info, st)?;
            }
        }
    }
    let (a, b) = (&la.state, &lb.state);
    let mut total = Counts::default();
    let mut per: BTreeMap<&[u8], Counts> = BTreeMap::new();
    let mut keys: Vec<(&[u8], Status)> = Vec::new();
    diff_states(a, b, |k, s| {
        total.add(s);
        per.entry(prefix_at_depth(k, args.depth))
            .or_default()
            .add(s);
        if args.keys {
            keys.push((k, s));
        }
    });
    let identical = total.total() == 0;
    let side = |p: &PathBuf, st: &State<'_>| Side {
        path: p.display().to_string(),
        revision: st.revision,
        compact_revision: st.compact_revision,
        keys: st.keys.len(),
    };
    let code = if identical { EXIT_OK } else { EXIT_DAMAGE };
    if args.json {
        print_json(&Report {
            schema: "etcd-autopsy/diff/v1",
            a: side(&args.a, a),
            b: side(&args.b, b),
            counts: total,
            identical,
            prefixes: per
                .iter()
                .map(|(p, c)| PrefixRow {
                    prefix: String::from_utf8_lossy(p).into_owned(),
                    counts: *c,
                })
                .collect(),
            keys: args.keys.then(|| {
                keys.iter()
                    .map(|(k, s)| KeyRow {
                        key: JsonBytes::new(k),
                        status: *s,
                    })
                    .collect()
            }),
        })?;
        return Ok(code);
    }
    let mut out = stdout();
    for (name, p, st) in [("A", &args.a, a), ("B", &args.b, b)] {
        writeln!(
            out,
            "{name}: {} at revision {} (compact {}), {} live keys",
            sanitize(p.display().to_string().as_bytes()),
            st.revision,
            st.compact_revision,
            st.keys.len()
        )?;
    }
    if identical {
        writeln!(out, "identical")?;
        out.flush()?;
        return Ok(code);
    }
    writeln!(
        out,
        "{:<40} {:>8} {:>8} {:>10} {:>10}",
        "prefix", "only A", "only B", "value", "metadata"
    )?;
    for (p, c) in &per {
        writeln!(
            out,
            "{:<40} {:>8} {:>8} {:>10} {:>10}",
            sanitize(p),
            c.only_a,
            c.only_b,
            c.different_value,
            c.different_metadata
        )?;
    }
    writeln!(
        out,
        "{:<40} {:>8} {:>8} {:>10} {:>10}",
        "total", total.only_a, total.only_b, total.different_value, total.different_metadata
    )?;
    for (k, s) in &keys {
        let tag = match s {
            Status::OnlyA => "only in A",
            Status::OnlyB => "only in B",
            Status::DifferentValue => "different value",
            Status::DifferentMetadata => "different metadata",
        };
        writeln!(out, "{tag}\t{}", sanitize(k))?;
    }
    out.flush()?;
    Ok(code)
}
