//! `hash <DB|DATA-DIR> [--rev R] [--db]`: etcd's hashes computed offline.
//!
//! Without `--db`: HashKV at revision R (default: the newest), the figure
//! `etcdctl endpoint hashkv --rev R` gives for the member (etcd 3.4 `HashByRev`: crc32c over
//! "key" and the key bucket's entries up to R, leaving out entries at or below the compact
//! revision that a compaction at R would delete). The compact revision is the db's
//! `finishedCompactRev`, or `scheduledCompactRev` when that is newer (etcd finishes an
//! interrupted compaction at start-up).
//!
//! With `--replay-wal` (a data dir or member dir): HashKV at the newest revision after the
//! committed WAL tail the db has not applied is replayed onto it (the same tail as `export
//! --replay-wal`), i.e. what the member reports once it has booted and applied it. The
//! replayed revisions are hashed as etcd writes them (revision key, marshalled KeyValue;
//! a delete's tombstone holds only the key), after the db's, with the keep rule taken over
//! both. Same JSON as without it.
//!
//! With `--db`: etcd-dump-db's `hash` of the whole db (etcd 3.4 `backend.Hash` with
//! `DefaultIgnores`: crc32c over every bucket name, key and value, `meta/consistent_index`
//! left out).
//!
//! # JSON (`--json`), schema `etcd-autopsy/hash/v1`
//!
//! HashKV: `{"schema", "kind": "hashkv", "hash", "revision", "compact_revision",
//! "entries_hashed", "entries_skipped"}`. Whole db: `{"schema", "kind": "db", "hash"}`.
//! `hash` is a number (as etcdctl prints it in JSON).
//!
//! Exit status: 0; 2 when the db cannot be read or R is compacted (R <= compact revision)
//! or in the future (R > newest revision), as etcd refuses those too.

use super::{bolt_err, open_db, open_image_for_scan, thread_pool};
use crate::error::{CliError, Result, EXIT_OK};
use etcd_mvcc::hash::{hash_db, hash_kv, DbHashMode};
use etcd_mvcc::info::read_info;
use etcd_mvcc::scan::newest_revision;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `hash`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data dir, member dir, db file or `etcdctl snapshot save` file.
    pub input: PathBuf,
    /// Revision to hash at (default: the newest).
    #[arg(long)]
    pub rev: Option<i64>,
    /// The whole-db hash of etcd-dump-db instead of HashKV.
    #[arg(long, conflicts_with = "rev")]
    pub db: bool,
    /// Apply the committed WAL tail the db has not applied first (data or member dir):
    /// the HashKV the member reports after it boots.
    #[arg(long, conflicts_with_all = ["rev", "db"])]
    pub replay_wal: bool,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = crate::args::threads)]
    pub threads: Option<usize>,
    /// Print JSON (schema `etcd-autopsy/hash/v1`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct KvJson {
    schema: &'static str,
    kind: &'static str,
    hash: u32,
    revision: i64,
    compact_revision: i64,
    entries_hashed: u64,
    entries_skipped: u64,
}

#[derive(Serialize)]
struct DbJson {
    schema: &'static str,
    kind: &'static str,
    hash: u32,
}

/// Runs `hash`; returns the exit status.
pub fn run(args: &Args) -> Result<u8> {
    let image = open_image_for_scan(&args.input)?;
    let db = open_db(&image)?;
    let pool = thread_pool(args.threads)?;
    if args.db {
        let bar = crate::progress::bar(db.meta().high_water_mark, "hashing", false);
        let h = pool
            .install(|| hash_db(&db, DbHashMode::DumpDb, &|n| bar.inc(n)))
            .map_err(|e| bolt_err(&image, e))?;
        bar.finish_and_clear();
        if args.json {
            crate::output::print_json(&DbJson {
                schema: "etcd-autopsy/hash/v1",
                kind: "db",
                hash: h.hash,
            })?;
        } else {
            let mut out = crate::output::stdout();
            // etcd-dump-db prints the hash in decimal.
            writeln!(out, "db path: {}", image.path.display())?;
            writeln!(out, "Hash: {}", h.hash)?;
            out.flush()?;
        }
        return Ok(EXIT_OK);
    }
    let info = read_info(&db);
    if args.replay_wal {
        let member = etcd_mvcc::member::resolve(&args.input)?;
        let loaded = pool
            .install(|| etcd_mvcc::replay::load_at(&db, &info.meta, None))
            .map_err(|e| CliError::Other(format!("{}: {e}", image.path.display())))?;
        let mut state = loaded.state;
        state.changes = Some(Vec::new());
        super::replay_member(&member, &info, &mut state)?;
        let bucket = db
            .bucket(etcd_mvcc::KEY_BUCKET)
            .map_err(|e| bolt_err(&image, e))?;
        let tail = state.changes.take().unwrap_or_default();
        let h = etcd_mvcc::hash::hash_kv_with_tail(
            bucket.as_ref(),
            &tail,
            state.revision,
            state.compact_revision,
        )
        .map_err(|e| bolt_err(&image, e))?;
        return print_kv(&h, args.json);
    }
    let compact = info.meta.effective_compact_rev();
    let newest = newest_revision(&db).map_err(|e| bolt_err(&image, e))?;
    let rev = etcd_mvcc::hash::hash_kv_revision(args.rev, newest, compact)
        .map_err(|e| CliError::Other(e.to_string()))?;
    let bucket = db
        .bucket(etcd_mvcc::KEY_BUCKET)
        .map_err(|e| bolt_err(&image, e))?;
    let bar = crate::progress::bar(db.meta().high_water_mark, "hashing", false);
    let h = pool
        .install(|| hash_kv(bucket.as_ref(), rev, compact, &|n| bar.inc(n)))
        .map_err(|e| bolt_err(&image, e))?;
    bar.finish_and_clear();
    print_kv(&h, args.json)
}

fn print_kv(h: &etcd_mvcc::hash::HashKv, json: bool) -> Result<u8> {
    if json {
        crate::output::print_json(&KvJson {
            schema: "etcd-autopsy/hash/v1",
            kind: "hashkv",
            hash: h.hash,
            revision: h.revision,
            compact_revision: h.compact_revision,
            entries_hashed: h.entries_hashed,
            entries_skipped: h.entries_skipped,
        })?;
    } else {
        let mut out = crate::output::stdout();
        writeln!(
            out,
            "hashkv {} at revision {} (compact revision {}; {} entries hashed, {} left out by compaction)",
            h.hash, h.revision, h.compact_revision, h.entries_hashed, h.entries_skipped
        )?;
        out.flush()?;
    }
    Ok(EXIT_OK)
}
