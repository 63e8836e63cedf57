//! `export <DATA-DIR|DB> [--rev R] [--prefix P] [--show-secrets] [--replay-wal]`: the live
//! keyspace at revision R (default: the newest), one key per line, in key order — what
//! `etcdctl get "" --from-key --rev R` would return from this member.
//!
//! With `--replay-wal` (data or member dir only) the committed WAL entries the db has
//! not applied yet (index above the db's consistent index) are applied first, as etcd
//! does on start: puts, deletes, txns with their compares, lease grants and revokes
//! (revoking deletes the lease's keys), compactions, NOSPACE/CORRUPT alarms; every
//! request that changes the keyspace takes one revision. Entries up to HardState.commit
//! count as committed; when the db's members bucket lists a single member (the sole
//! voter), the whole WAL does, since etcd commits it on start.
//!
//! # Output: JSON lines (the default, also `--json`), schema `etcd-autopsy/export/v1`
//!
//! One object per live key: `{"key": {"text"} | {"base64"}, "value": {"text"} |
//! {"base64"} | null, "redacted": true (only when the value is hidden),
//! "create_revision", "mod_revision", "version", "lease"}`. Values under
//! `/registry/secrets/` are `null` with `"redacted": true` unless `--show-secrets`.
//! A summary goes to stderr (`exported N keys at revision R ...`), never to stdout.
//!
//! `--text`: a readable view, one line per key: key, create/mod revision, version, lease,
//! and the value (sanitized; cut after 200 bytes).
//!
//! Exit status: 0; 1 when the replay met damage (WAL unreadable past some point, missing
//! entries, refused requests are not damage); 2 when the input cannot be read or R is
//! compacted or in the future.

use super::{load, open_db, open_image_for_scan, replay_member, thread_pool, Replayed};
use crate::error::{Result, EXIT_DAMAGE, EXIT_OK};
use crate::output::{sanitize, JsonBytes};
use crate::redact::Redactor;
use etcd_mvcc::info::{read_info, EtcdInfo};
use etcd_mvcc::member::{self as input, Member};
use etcd_mvcc::replay::{ReplayBound, State};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data dir, member dir, db file or `etcdctl snapshot save` file.
    pub input: PathBuf,
    /// Revision to export at (default: the newest).
    #[arg(long, conflicts_with = "replay_wal")]
    pub rev: Option<i64>,
    /// Only keys starting with this prefix.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Show values stored under /registry/secrets/.
    #[arg(long)]
    pub show_secrets: bool,
    /// Apply the committed WAL entries the db has not applied yet (data or member dir).
    #[arg(long)]
    pub replay_wal: bool,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = crate::args::threads)]
    pub threads: Option<usize>,
    /// JSON lines (schema `etcd-autopsy/export/v1`); this is the default, the flag is
    /// accepted so that every command takes `--json`.
    #[arg(long, conflicts_with = "text")]
    pub json: bool,
    /// A readable view instead of JSON lines: one line per key, values cut after 200
    /// bytes. Not an export: use the JSON lines to move data.
    #[arg(long)]
    pub text: bool,
}

#[derive(Serialize)]
struct Line {
    schema: &'static str,
    key: JsonBytes,
    value: Option<JsonBytes>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    redacted: bool,
    create_revision: i64,
    mod_revision: i64,
    version: i64,
    lease: i64,
    /// The lease ID as etcdctl prints it (16 hex digits); JSON readers that hold numbers
    /// as doubles lose lease IDs above 2^53.
    #[serde(skip_serializing_if = "Option::is_none")]
    lease_hex: Option<String>,
}

/// Cut for values in text output.
const TEXT_VALUE_MAX: usize = 200;

fn write_keys(
    out: &mut dyn Write,
    state: &State<'_>,
    prefix: &[u8],
    redactor: Redactor,
    json: bool,
) -> Result<(u64, u64)> {
    let mut n = 0;
    let mut redacted = 0;
    let range = etcd_mvcc::replay::KeyRange::From(prefix);
    for (k, kv) in state.range(range) {
        if !k.starts_with(prefix) {
            break;
        }
        n += 1;
        let hidden = redactor.hides(k);
        redacted += u64::from(hidden);
        if json {
            let line = Line {
                schema: "etcd-autopsy/export/v1",
                key: JsonBytes::new(k),
                value: (!hidden).then(|| JsonBytes::new(&kv.value)),
                redacted: hidden,
                create_revision: kv.create_revision,
                mod_revision: kv.mod_revision,
                version: kv.version,
                lease: kv.lease,
                lease_hex: (kv.lease != 0).then(|| format!("{:016x}", kv.lease)),
            };
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
        } else {
            let value = if hidden {
                crate::redact::REDACTED.to_string()
            } else if kv.value.len() > TEXT_VALUE_MAX {
                format!(
                    "{}... ({} bytes)",
                    sanitize(&kv.value[..TEXT_VALUE_MAX]),
                    kv.value.len()
                )
            } else {
                sanitize(&kv.value)
            };
            writeln!(
                out,
                "{}\tcreate={} mod={} version={} lease={:x}\t{}",
                sanitize(k),
                kv.create_revision,
                kv.mod_revision,
                kv.version,
                kv.lease,
                value
            )?;
        }
    }
    Ok((n, redacted))
}

/// Runs `export`; returns the exit status.
pub fn run(args: &Args) -> Result<u8> {
    let member = input::resolve(&args.input)?;
    if member.db.is_none() && args.replay_wal && member.wal_dir.is_some() {
        return run_wal_only(args, &member);
    }
    let image = open_image_for_scan(&args.input)?;
    let db = open_db(&image)?;
    let pool = thread_pool(args.threads)?;
    let info = read_info(&db);
    let mut loaded = load(&image, &db, &info, args.rev, &pool)?;
    let (mut code, mut note) = if args.replay_wal {
        let r = replay_member(&member, &info, &mut loaded.state)?;
        replay_note(&r)
    } else {
        (EXIT_OK, String::new())
    };
    // A keyspace the pages contradict (no etcd bucket, or revisions on pages the root no
    // longer reaches) is never exported as a success.
    for m in db.metas() {
        if let Some(p) = m.problem {
            // The other meta is in use: the keyspace is that commit's, and a newer one
            // (if this meta was the newer) is lost.
            note.push_str(&format!(
                "; DAMAGE: meta page {} is invalid ({p}); exported as of meta page {} (txid {})",
                m.index,
                db.meta_index(),
                db.meta().txid
            ));
            code = EXIT_DAMAGE;
        }
    }
    for f in etcd_mvcc::layout::etcd_layout(&db) {
        note.push_str(&format!(
            "; DAMAGE: page {}: {}: {}",
            f.page, f.kind, f.message
        ));
        code = EXIT_DAMAGE;
    }
    finish(args, &loaded.state, code, &note)
}

/// A data dir without a db: etcd creates an empty one and applies the whole WAL; so does
/// this (a fresh store is at revision 1, its first write takes revision 2).
fn run_wal_only(args: &Args, member: &Member) -> Result<u8> {
    let mut state = State {
        revision: 1,
        compact_revision: -1,
        ..State::default()
    };
    let r = replay_member(member, &EtcdInfo::default(), &mut state)?;
    let (code, mut note) = replay_note(&r);
    note.insert_str(0, "; no db: the keyspace was rebuilt from the WAL alone");
    finish(args, &state, code, &note)
}

/// Exit status and summary text of a replay.
fn replay_note(r: &Replayed) -> (u8, String) {
    let mut code = EXIT_OK;
    let rep = &r.report;
    let bound = match r.bound {
        ReplayBound::Commit => "HardState.commit",
        ReplayBound::LastIndex => "last index (sole voter)",
    };
    let mut note = if rep.entries == 0 {
        format!(
            "; no WAL entry to replay (consistent index {}, commit {}, bound {bound})",
            r.consistent_index, r.commit
        )
    } else {
        format!(
            "; replayed WAL entries {}..={} ({} entries, bound {bound}: consistent index {}, commit {}), revision {} -> {}, {} requests refused",
            rep.from_index,
            rep.to_index,
            rep.entries,
            r.consistent_index,
            r.commit,
            rep.revision_before,
            rep.revision_after,
            rep.refused.values().sum::<u64>()
        )
    };
    if rep.missing_before_first > 0 {
        note.push_str(&format!(
            "; DAMAGE: {} committed entries after index {} are missing from the WAL",
            rep.missing_before_first, r.consistent_index
        ));
        code = EXIT_DAMAGE;
    }
    if let Some((seg, off)) = &r.wal_stopped_at {
        note.push_str(&format!(
            "; DAMAGE: WAL unreadable from {seg}+{off}: later entries not replayed"
        ));
        code = EXIT_DAMAGE;
    }
    (code, note)
}

/// Prints the keys of `state` and the summary; returns `code`.
fn finish(args: &Args, state: &State<'_>, code: u8, note: &str) -> Result<u8> {
    let redactor = Redactor {
        show_secrets: args.show_secrets,
    };
    let prefix = args.prefix.as_deref().unwrap_or("").as_bytes();
    let mut out = crate::output::stdout();
    let (n, redacted) = write_keys(&mut out, state, prefix, redactor, !args.text)?;
    out.flush()?;
    let redacted_note = if redacted > 0 {
        format!(
            "; {redacted} values under {} redacted (--show-secrets prints them)",
            String::from_utf8_lossy(crate::redact::SECRET_PREFIX)
        )
    } else {
        String::new()
    };
    crate::output::note(&format!(
        "exported {n} keys at revision {} (compact revision {}){redacted_note}{note}",
        state.revision, state.compact_revision
    ));
    Ok(code)
}
