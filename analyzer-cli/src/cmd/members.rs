//! `members <DATA-DIR>...`: several members of one cluster side by side, to decide which
//! one to restore from (or to run `--force-new-cluster` on) and which ones disagree.
//!
//! The comparison is [`etcd_mvcc::members::compare_members`] (its module doc says what is
//! compared); this module resolves the inputs, prints and sets the exit status.
//!
//! # JSON (`--json`), schema `etcd-autopsy/members/v1`
//!
//! `{"schema", "members": [{"path", "member_id_hex", "cluster_id_hex", "name", "term",
//! "commit", "last_index", "consistent_index", "index_after_restart", "revision",
//! "compact_revision", "healthy", "problems": [text], "hash": int | null,
//! "db_members": [member ID hex], "written_by": "3.4" | "3.5" | ... | null}],
//! "common_revision": int | null, "hash_compact_revision": int | null, "agree": bool,
//! "most_committed": [path], "disagreements": [text], "storage_versions_differ": bool}`.
//! Members on different storage versions (`written_by`) are normal during a rolling
//! upgrade and do not make them disagree; `check --upgrade-to` treats them as a blocker.
//!
//! Exit status: 0 the members agree, 1 they disagree or one is damaged, 2 an input is
//! unreadable.

use super::thread_pool;
use crate::error::{CliError, Result, EXIT_DAMAGE, EXIT_OK};
use crate::output::{print_json, sanitize};
use etcd_mvcc::member as input;
pub use etcd_mvcc::members::{compare_members, MemberRow, MembersReport};
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `members`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data dirs (or member dirs) of the members.
    #[arg(required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = crate::args::threads)]
    pub threads: Option<usize>,
    /// Print JSON (schema `etcd-autopsy/members/v1`).
    #[arg(long)]
    pub json: bool,
    /// Also write the comparison as one self-contained HTML file; it must not be inside
    /// an input's directory.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// Compares the members at `inputs`, warning on stderr for each one a running etcd holds.
pub fn compare(inputs: &[PathBuf], pool: &rayon::ThreadPool) -> Result<MembersReport> {
    let mut members = Vec::with_capacity(inputs.len());
    for p in inputs {
        let member = input::resolve(p)?;
        super::warn_if_running(&member);
        members.push(member);
    }
    Ok(compare_members(&members, pool)?)
}

/// Runs `members`; returns the exit status.
pub fn run(args: &Args) -> Result<u8> {
    if args.inputs.is_empty() {
        return Err(CliError::Other(
            "members: give at least one data dir".into(),
        ));
    }
    let pool = thread_pool(args.threads)?;
    let r = compare(&args.inputs, &pool)?;
    if let Some(out) = &args.html {
        let members = args
            .inputs
            .iter()
            .map(|p| input::resolve(p))
            .collect::<etcd_mvcc::Result<Vec<_>>>()?;
        crate::html::write_members(out, &serde_json::to_value(&r)?, &members)?;
    }
    let code = if r.agree { EXIT_OK } else { EXIT_DAMAGE };
    if args.json {
        print_json(&r)?;
        return Ok(code);
    }
    let mut out = crate::output::TextOut::new();
    let w = r
        .members
        .iter()
        .map(|m| sanitize(m.path.as_bytes()).chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    let o = |v: Option<u64>| v.map_or("-".to_string(), |x| x.to_string());
    let oi = |v: Option<i64>| v.map_or("-".to_string(), |x| x.to_string());
    writeln!(
        out,
        "{:<w$} {:<16} {:<16} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}  health",
        "member",
        "id",
        "cluster",
        "term",
        "commit",
        "last",
        "applied",
        "restart",
        "rev",
        "compact",
        "hashkv"
    )?;
    for m in &r.members {
        writeln!(
            out,
            "{:<w$} {:<16} {:<16} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}  {}",
            sanitize(m.path.as_bytes()),
            m.member_id_hex.as_deref().unwrap_or("-"),
            m.cluster_id_hex.as_deref().unwrap_or("-"),
            o(m.term),
            o(m.commit),
            o(m.last_index),
            o(m.consistent_index),
            m.index_after_restart,
            oi(m.revision),
            oi(m.compact_revision),
            m.hash.map_or("-".to_string(), |h| h.to_string()),
            if m.healthy { "ok" } else { "DAMAGED" }
        )?;
    }
    writeln!(
        out,
        "common revision {} (HashKV with compact revision {})",
        oi(r.common_revision),
        oi(r.hash_compact_revision)
    )?;
    if r.most_committed.is_empty() {
        writeln!(
            out,
            "most committed data: none of these members is healthy and holds data: do not restore from any of them; use a snapshot (`etcdctl snapshot save` file) or `etcd-autopsy salvage`"
        )?;
    } else {
        writeln!(
            out,
            "most committed data: {} (restore from it, or run etcd --force-new-cluster on it)",
            r.most_committed
                .iter()
                .map(|p| sanitize(p.as_bytes()))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    if r.storage_versions_differ {
        let list: Vec<String> = r
            .members
            .iter()
            .map(|m| {
                format!(
                    "{} {}",
                    sanitize(m.path.as_bytes()),
                    m.written_by.map_or("?".to_string(), |v| v.to_string())
                )
            })
            .collect();
        writeln!(
            out,
            "storage versions differ (a rolling upgrade midway?): {}",
            list.join(", ")
        )?;
    }
    if r.agree {
        writeln!(out, "the members agree")?;
    } else {
        for d in &r.disagreements {
            writeln!(out, "DISAGREE: {}", sanitize(d.as_bytes()))?;
        }
    }
    out.flush()?;
    Ok(code)
}
