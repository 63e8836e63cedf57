//! `wal <DATA-DIR|WAL-DIR>`: dump, verify and summarise a member's write-ahead log;
//! `snap <DATA-DIR>`: list its `.snap` files.
//!
//! Text output of `wal` follows etcd-dump-logs (etcd v3.4 `tools/etcd-dump-logs`): the
//! `Snapshot:` block, `WAL metadata:`, `WAL entries:`, `lastIndex=`, then one
//! `term\tindex\ttype\tdata` row per entry (InternalRaftRequests in Go's compact text
//! form), then `Entry types (...) count is : N` with no final newline, byte for byte as the
//! 3.4 release prints them (fixtures/goldens/etcd-dump-logs). Findings (damage with segment
//! file and byte offset) follow after a blank line under `Findings:`. Entries shown are
//! those etcd would replay on restart: after the newest usable snapshot, or after
//! `--start-index` (exclusive: etcd-dump-logs opens the WAL at that index as at a
//! snapshot's) up to `--end-index` (exclusive) over the whole log read from the first
//! segment on. An unknown `--entry-type` name is warned about on stderr and ignored, as
//! etcd-dump-logs does (when no name is valid, no entry passes). Passwords and password
//! hashes of auth requests are replaced by a marker unless `--show-secrets`.
//!
//! # JSON
//! - `wal --json`: JSON lines. One object per entry: `{"term", "index", "type"
//!   ("EntryNormal" | "EntryConfChange" | "EntryConfChangeV2" | "EntryUnknown"), "segment",
//!   "offset", "data_kind" ("internal_raft_request" | "v2_request" | "noop" | "conf_change"
//!   | "conf_change_v2" | "undecodable"), "request"}` where `request` is the decoded
//!   message keyed by its `.proto` field names (bytes as `{"text"}`/`{"base64"}`, enums by
//!   name, repeated fields as arrays); then one `{"finding": {...}}` line per finding.
//! - `wal --summary --json`: one object, schema `etcd-autopsy/wal-summary/v1`: `metadata`
//!   {node_id, cluster_id, node_id_hex, cluster_id_hex}, `hard_state` {term, vote, commit},
//!   `entries`, `first_index`, `last_index`, `entry_types` {EntryNormal: n, ...},
//!   `requests` {put: n, txn: n, ...} (InternalRaftRequest field names; `v2` for v2
//!   Requests), `noop_entries`, `undecodable_entries`, `rewritten_entries`, `snapshots`
//!   [{index, term}], `segments` [{name, records, bytes, file_bytes, first_index,
//!   last_index, crc_ok, end}], `restart` {snapshot_index, snapshot_term, snapshot_in_wal,
//!   entries, first_index, last_index, commit, committed, uncommitted}, `stopped_at`
//!   {segment, offset} | null, `tmp_files`, `broken_files`, `findings` [{kind, severity,
//!   file, offset, message}].
//! - `snap --json`: `{"dir", "loaded", "files": [{name, index, term, voters, learners,
//!   crc, crc_computed, crc_ok, status, size, data_size}], "findings"}`.
//!
//! Exit status: 0 clean, 1 damage found, 2 unreadable.

use crate::error::{CliError, Result, EXIT_DAMAGE, EXIT_OK};
use crate::output::{sanitize, JsonBytes};
use crate::redact::{Redactor, REDACTED, REDACTED_PASSWORD};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use wal_reader::pb::{Scalar, Visit, Visitor};
use wal_reader::text::{self, DumpFilter, Redact, TextSink};
use wal_reader::{
    restart_view, DataKind, EntryView, Finding, LogEntry, ScanOptions, SnapDir, SnapFile, WalDir,
    WalScan,
};

/// Arguments of `wal`.
#[derive(Debug, clap::Args)]
pub struct WalArgs {
    /// Data dir, member dir, or the `member/wal` directory itself.
    pub input: PathBuf,
    /// Dump the entries after this raft index (exclusive, as etcd-dump-logs, which opens
    /// the WAL there as at a snapshot). Default: after the newest usable snapshot.
    #[arg(long)]
    pub start_index: Option<u64>,
    /// Raft index to stop at (exclusive).
    #[arg(long)]
    pub end_index: Option<u64>,
    /// Only these entry types, comma separated: ConfigChange, Normal, Request,
    /// InternalRaftRequest, IRRRange, IRRPut, IRRDeleteRange, IRRTxn, IRRCompaction,
    /// IRRLeaseGrant, IRRLeaseRevoke, IRRLeaseCheckpoint.
    #[arg(long, value_name = "TYPES")]
    pub entry_type: Option<String>,
    /// Read on past damage and report every damaged record (default: stop at the first
    /// damage, as etcd does).
    #[arg(long)]
    pub raw: bool,
    /// Print a summary instead of the entries.
    #[arg(long)]
    pub summary: bool,
    /// Show values stored under /registry/secrets/, passwords and password hashes.
    #[arg(long)]
    pub show_secrets: bool,
    /// JSON lines (one per entry), or one JSON object with --summary.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `snap`.
#[derive(Debug, clap::Args)]
pub struct SnapArgs {
    /// Data dir, member dir, or the `member/snap` directory itself.
    pub input: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn has_ext(dir: &Path, ext: &str) -> bool {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == ext))
        })
        .unwrap_or(false)
}

/// (wal dir, snap dir) for a data dir, member dir, or WAL dir.
fn locate(path: &Path) -> Result<(PathBuf, Option<PathBuf>)> {
    if path.is_dir() && has_ext(path, "wal") {
        let snap = path.parent().map(|p| p.join("snap")).filter(|p| p.is_dir());
        return Ok((path.to_path_buf(), snap));
    }
    let member = etcd_mvcc::member::resolve(path)?;
    super::warn_if_running(&member);
    let wal = member
        .wal_dir
        .ok_or_else(|| CliError::input(path, "no member/wal directory found"))?;
    Ok((wal, member.snap_dir))
}

/// Runs `wal`; returns the exit status.
pub fn run(args: &WalArgs) -> Result<u8> {
    let (wal_dir, snap_dir) = locate(&args.input)?;
    let filters = parse_filters(args.entry_type.as_deref());
    let mut wal = WalDir::open(&wal_dir)?;
    // A short-lived process: exit frees the segments' address space at once.
    for s in &mut wal.segments {
        s.file.keep_mapped_after_drop();
    }
    let snaps = match &snap_dir {
        Some(d) => Some(SnapDir::open(d)?),
        None => None,
    };
    let total: u64 = wal
        .segments
        .iter()
        .map(|s| s.file.bytes().len() as u64)
        .sum();
    let bar = crate::progress::bar(total, "verifying", false);
    let opts = ScanOptions { raw: args.raw };
    // The summary counts every entry's request: classified while verified, in cache.
    let scan = if args.summary {
        wal.scan_classifying_with_progress(opts, &|n| bar.inc(n))
    } else {
        wal.scan_with_progress(opts, &|n| bar.inc(n))
    };
    bar.finish_and_clear();
    let loaded = snaps.as_ref().and_then(|s| s.loaded());
    let snap_point = loaded
        .and_then(|s| s.metadata.as_ref())
        .map(|m| (m.index, m.term));
    let rv = restart_view(&scan, snap_point);
    let mut findings: Vec<Finding> = scan.findings.clone();
    if let Some(s) = &snaps {
        findings.extend(s.findings.iter().cloned());
    }
    // The restart view's problems only matter when the WAL itself read cleanly.
    if !scan.has_damage() {
        findings.extend(rv.findings.iter().cloned());
    }
    let damage = findings.iter().any(|f| f.is_damage());
    let redactor = Redactor {
        show_secrets: args.show_secrets,
    };
    if args.summary {
        summary(&wal, &scan, &rv, &findings, args.json, loaded)?;
    } else {
        let selected: Vec<&LogEntry<'_>> = scan
            .entries
            .iter()
            .filter(|e| {
                let i = e.entry.index;
                let lo = match args.start_index {
                    Some(s) => i > s,
                    None => i > rv.snapshot_index,
                };
                lo && args.end_index.is_none_or(|end| i < end)
            })
            .collect();
        if args.json {
            json_lines(&scan, &selected, &filters, &findings, redactor)?;
        } else {
            dump(
                args, &scan, &selected, &filters, &findings, redactor, loaded,
            )?;
        }
    }
    // A short-lived process: the log and the segments' records (tens of MB of small
    // values) are left to exit rather than dropped one by one.
    std::mem::forget(scan);
    Ok(if damage { EXIT_DAMAGE } else { EXIT_OK })
}

/// The `--entry-type` filters. As etcd-dump-logs: the list is split at commas (names are
/// not trimmed), an unknown name is warned about on stderr and ignored, and when names were
/// given but none is valid, no entry passes (`None` means "no filter given").
fn parse_filters(s: Option<&str>) -> Option<Vec<DumpFilter>> {
    let s = s.filter(|s| !s.is_empty())?;
    let mut out = Vec::new();
    for name in s.split(',') {
        match DumpFilter::parse(name) {
            Some(f) => out.push(f),
            None => crate::output::note(&format!(
                "warning: [{}] is not a valid entry-type, ignored. Please set entry-type to one or more of: {}",
                sanitize(name.as_bytes()),
                text::DUMP_FILTER_NAMES.join(", ")
            )),
        }
    }
    Some(out)
}

/// True when entry `d` passes `--entry-type` (all pass when none was given).
fn passes(d: &EntryView<'_>, filters: &Option<Vec<DumpFilter>>) -> bool {
    match filters {
        None => text::dump_filter_passes(d, &[]),
        Some(f) => !f.is_empty() && text::dump_filter_passes(d, f),
    }
}

fn hides(r: Redactor) -> impl Fn(&[u8]) -> bool {
    move |k: &[u8]| r.hides(k)
}

/// Entry data (bytes) formatted per chunk on a worker thread.
const CHUNK_DATA: usize = 256 << 10;
/// Entries per chunk at most.
const CHUNK_ENTRIES: usize = 2048;
/// An entry with more data than this is written on its own, straight to the output
/// through a draining sink: never held whole, formatted or not.
const STREAM_ENTRY: usize = 1 << 20;

/// Formats `entries` with `format` (which returns whether it printed the entry) in chunks
/// on the worker threads, a window of chunks at a time, and writes the chunks to `out` in
/// entry order; a huge entry is formatted on this thread straight into `out`. Calls
/// `progress` with the entries done. Returns how many entries `format` printed.
fn write_in_order(
    out: &mut dyn Write,
    entries: &[&LogEntry<'_>],
    progress: &(dyn Fn(u64) + Sync),
    format: &(dyn Fn(&LogEntry<'_>, &mut TextSink<'_>) -> std::io::Result<bool> + Sync),
) -> Result<u64> {
    // Chunk boundaries: (start, end, streamed).
    let mut chunks: Vec<(usize, usize, bool)> = Vec::new();
    let mut start = 0;
    let mut bytes = 0usize;
    for (i, e) in entries.iter().enumerate() {
        let n = e.entry.data.len();
        if n > STREAM_ENTRY {
            if start < i {
                chunks.push((start, i, false));
            }
            chunks.push((i, i + 1, true));
            start = i + 1;
            bytes = 0;
            continue;
        }
        bytes += n;
        if bytes >= CHUNK_DATA || i + 1 - start >= CHUNK_ENTRIES {
            chunks.push((start, i + 1, false));
            start = i + 1;
            bytes = 0;
        }
    }
    if start < entries.len() {
        chunks.push((start, entries.len(), false));
    }
    let window = 2 * rayon::current_num_threads().max(1);
    // One output buffer per chunk of a window, reused window after window.
    let mut bufs: Vec<Vec<u8>> = (0..window).map(|_| Vec::new()).collect();
    let mut printed = 0u64;
    let mut i = 0;
    while i < chunks.len() {
        if chunks[i].2 {
            let (s, _, _) = chunks[i];
            let mut sink = TextSink::draining(&mut *out);
            let shown = format(entries[s], &mut sink)?;
            sink.finish()?;
            printed += u64::from(shown);
            i += 1;
            progress(s as u64 + 1);
            continue;
        }
        let mut j = i;
        while j < chunks.len() && j - i < window && !chunks[j].2 {
            j += 1;
        }
        let done: Vec<std::io::Result<u64>> = chunks[i..j]
            .par_iter()
            .zip(bufs.par_iter_mut())
            .map(|(&(s, e, _), buf)| {
                let mut sink = TextSink::reusing(std::mem::take(buf));
                let mut n = 0u64;
                for x in &entries[s..e] {
                    n += u64::from(format(x, &mut sink)?);
                }
                *buf = sink.finish()?;
                Ok(n)
            })
            .collect();
        for (r, buf) in done.into_iter().zip(&bufs) {
            let n = r?;
            out.write_all(buf)?;
            printed += n;
        }
        progress(chunks[j - 1].1 as u64);
        i = j;
    }
    Ok(printed)
}

#[allow(clippy::too_many_arguments)]
fn dump(
    args: &WalArgs,
    scan: &WalScan<'_>,
    selected: &[&LogEntry<'_>],
    filters: &Option<Vec<DumpFilter>>,
    findings: &[Finding],
    redactor: Redactor,
    loaded: Option<&SnapFile>,
) -> Result<()> {
    let mut out = crate::output::stdout();
    match args.start_index {
        Some(s) => writeln!(out, "Start dumping log entries from index {s}.")?,
        None => {
            writeln!(out, "Snapshot:")?;
            match loaded.and_then(|l| l.metadata.as_ref()) {
                Some(m) => {
                    let nodes: Vec<String> = m
                        .conf_state
                        .voters
                        .iter()
                        .map(|v| text::id_hex(*v))
                        .collect();
                    writeln!(
                        out,
                        "term={} index={} nodes=[{}]",
                        m.term,
                        m.index,
                        nodes.join(" ")
                    )?;
                }
                None => writeln!(out, "empty")?,
            }
            // etcd-dump-logs' own spelling.
            writeln!(out, "Start dupmping log entries from snapshot.")?;
        }
    }
    let md = scan.metadata.unwrap_or_default();
    let hs = scan.hard_state.unwrap_or_default();
    writeln!(out, "WAL metadata:")?;
    writeln!(
        out,
        "nodeID={} clusterID={} term={} commitIndex={} vote={}",
        text::id_hex(md.node_id),
        text::id_hex(md.cluster_id),
        hs.term,
        hs.commit,
        text::id_hex(hs.vote)
    )?;
    // 3.4 prints no count here (the count is in --summary).
    writeln!(out, "WAL entries:")?;
    match selected.last() {
        Some(e) => writeln!(out, "lastIndex={}", e.entry.index)?,
        None => writeln!(out, "lastIndex=")?,
    }
    writeln!(out, "{:>4}\t{:>10}\ttype\tdata", "term", "index")?;
    let h = hides(redactor);
    let red = Redact {
        hides: &h,
        marker: REDACTED,
        password_marker: (!redactor.show_secrets).then_some(REDACTED_PASSWORD),
    };
    let bar = crate::progress::bar(selected.len() as u64, "entries", false);
    let count = write_in_order(&mut out, selected, &|n| bar.set_position(n), &|e, sink| {
        let d = e.view();
        if !passes(&d, filters) {
            return Ok(false);
        }
        // write_row escapes everything taken from the WAL; only its own tabs remain.
        text::write_row(sink, &e.entry, &d, Some(&red));
        sink.put(b"\n");
        Ok(true)
    })?;
    bar.finish_and_clear();
    let names = sanitize(args.entry_type.as_deref().unwrap_or("").as_bytes());
    // etcd-dump-logs ends here, without a newline.
    write!(out, "\nEntry types ({names}) count is : {count}")?;
    if !findings.is_empty() || scan.stopped_at.is_some() {
        writeln!(out)?;
    }
    if !findings.is_empty() {
        writeln!(out, "\nFindings:")?;
        for f in findings {
            writeln!(out, "{}", sanitize(f.to_string().as_bytes()))?;
        }
    }
    if let Some((seg, off)) = &scan.stopped_at {
        writeln!(
            out,
            "Reading stopped at {seg} offset {off}, as etcd would; --raw reads on."
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Builds JSON from a message through the field visitor, hiding secret values.
struct JsonVisitor {
    obj: Map<String, Value>,
    key: Option<Vec<u8>>,
    redactor: Redactor,
}

/// Fields that are `repeated` in etcd's protos: always arrays in JSON.
const REPEATED: &[&str] = &[
    "compare",
    "success",
    "failure",
    "checkpoints",
    "Changes",
    "client_urls",
];

impl JsonVisitor {
    fn put(&mut self, name: &'static str, v: Value) {
        if REPEATED.contains(&name) {
            match self
                .obj
                .entry(name)
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(a) => a.push(v),
                other => *other = v,
            }
        } else {
            self.obj.insert(name.to_string(), v);
        }
    }
}

/// The name of the hex twin of an ID field.
fn hex_name(name: &str) -> &'static str {
    match name {
        "ID" => "ID_hex",
        "NodeID" => "NodeID_hex",
        _ => "lease_hex",
    }
}

fn bytes_json(b: &[u8]) -> Value {
    serde_json::to_value(JsonBytes::new(b)).unwrap_or(Value::Null)
}

/// The JSON members one scalar field becomes: itself and, for IDs, its hex twin. Shared
/// by the tree builder and the streaming writer so the two cannot drift apart.
/// `hide_value`: the message's key is one whose values are not shown.
fn scalar_members(
    name: &'static str,
    value: Scalar<'_>,
    hide_value: bool,
    redactor: Redactor,
) -> Vec<(&'static str, Value)> {
    let mut out = Vec::with_capacity(2);
    let v = match value {
        Scalar::U64(x) => {
            if matches!(name, "ID" | "NodeID") {
                out.push((hex_name(name), json!(format!("{:016x}", x))));
            }
            json!(x)
        }
        Scalar::I64(x) => {
            // Lease and request IDs are random 63-bit numbers: jq and JavaScript read
            // JSON numbers as doubles and lose them above 2^53, so they come as hex
            // strings too, the way etcdctl prints them.
            if matches!(name, "ID" | "lease") {
                out.push((hex_name(name), json!(format!("{:016x}", x))));
            }
            json!(x)
        }
        Scalar::Bool(x) => json!(x),
        Scalar::Enum(_, Some(n)) => json!(n),
        Scalar::Enum(x, None) => json!(x),
        Scalar::Bytes(b) => {
            let hidden = text::is_value_field(name) && hide_value;
            if text::is_password_field(name) && !redactor.show_secrets {
                json!({ "redacted": REDACTED_PASSWORD })
            } else if hidden {
                json!({ "redacted": REDACTED })
            } else {
                bytes_json(b)
            }
        }
    };
    out.push((name, v));
    out
}

impl Visitor for JsonVisitor {
    fn scalar(&mut self, name: &'static str, value: Scalar<'_>) {
        if let Scalar::Bytes(b) = value {
            if text::is_key_field(name) {
                self.key = Some(b.to_vec());
            }
        }
        let hide = self.key.as_deref().is_some_and(|k| self.redactor.hides(k));
        for (n, v) in scalar_members(name, value, hide, self.redactor) {
            self.put(n, v);
        }
    }

    fn message(&mut self, name: &'static str, m: &dyn Visit) {
        let v = message_json(m, self.redactor);
        self.put(name, v);
    }
}

fn message_json(m: &dyn Visit, redactor: Redactor) -> Value {
    let mut v = JsonVisitor {
        obj: Map::new(),
        key: None,
        redactor,
    };
    m.visit(&mut v);
    Value::Object(v.obj)
}

/// Writes a message as a JSON object straight to `out`, byte for byte what
/// `message_json` would serialize (keys in sorted order as in serde_json's map, repeated
/// fields as arrays, the last of a repeated non-array field winning), without building a
/// tree: memory stays at one field, not one `Value` per element of a 580,000-put txn.
///
/// The message is visited once to learn its field names (and the key a value belongs
/// to), then once per distinct name; each pass costs the message's own fields, not its
/// nested messages' (they are only visited when their name's turn comes).
fn write_message(out: &mut dyn Write, m: &dyn Visit, redactor: Redactor) -> std::io::Result<()> {
    struct Names {
        /// Member names with their number of occurrences, in first-seen order.
        names: Vec<(&'static str, u64)>,
        /// The message's key hides its values.
        hides: bool,
        redactor: Redactor,
    }
    impl Visitor for Names {
        fn scalar(&mut self, name: &'static str, value: Scalar<'_>) {
            if let Scalar::Bytes(b) = value {
                if text::is_key_field(name) {
                    self.hides = self.redactor.hides(b);
                }
            }
            for (n, _) in scalar_members(name, value, false, self.redactor) {
                self.seen(n);
            }
        }
        fn message(&mut self, name: &'static str, _m: &dyn Visit) {
            self.seen(name);
        }
    }
    impl Names {
        fn seen(&mut self, name: &'static str) {
            match self.names.iter_mut().find(|(n, _)| *n == name) {
                Some((_, c)) => *c += 1,
                None => self.names.push((name, 1)),
            }
        }
    }
    /// Writes the occurrences of one field: all of them (an array) or only the last.
    struct Field<'o> {
        out: &'o mut dyn Write,
        name: &'static str,
        /// Occurrence to write for a non-array field (the last); `None` for an array.
        only: Option<u64>,
        seen: u64,
        hide_values: bool,
        redactor: Redactor,
        err: Option<std::io::Error>,
    }
    impl Field<'_> {
        fn turn(&mut self, name: &'static str) -> bool {
            if name != self.name || self.err.is_some() {
                return false;
            }
            self.seen += 1;
            match self.only {
                Some(n) => self.seen == n,
                None => {
                    if self.seen > 1 {
                        if let Err(e) = self.out.write_all(b",") {
                            self.err = Some(e);
                            return false;
                        }
                    }
                    true
                }
            }
        }
    }
    impl Visitor for Field<'_> {
        fn scalar(&mut self, name: &'static str, value: Scalar<'_>) {
            if self.err.is_some() {
                return;
            }
            for (n, v) in scalar_members(name, value, self.hide_values, self.redactor) {
                if self.turn(n) {
                    if let Err(e) = serde_json::to_writer(&mut *self.out, &v) {
                        self.err = Some(e.into());
                    }
                }
            }
        }
        fn message(&mut self, name: &'static str, m: &dyn Visit) {
            if self.turn(name) {
                if let Err(e) = write_message(&mut *self.out, m, self.redactor) {
                    self.err = Some(e);
                }
            }
        }
    }

    let mut names = Names {
        names: Vec::new(),
        hides: false,
        redactor,
    };
    m.visit(&mut names);
    let hide_values = names.hides;
    let mut sorted = names.names;
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    out.write_all(b"{")?;
    for (i, (name, count)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, name)?;
        out.write_all(b":")?;
        let array = REPEATED.contains(&name);
        if array {
            out.write_all(b"[")?;
        }
        let mut f = Field {
            out: &mut *out,
            name,
            only: (!array).then_some(count),
            seen: 0,
            hide_values,
            redactor,
            err: None,
        };
        m.visit(&mut f);
        if let Some(e) = f.err {
            return Err(e);
        }
        if array {
            out.write_all(b"]")?;
        }
    }
    out.write_all(b"}")
}

/// Writes one `wal --json` entry line (without the newline), streaming the request:
/// the same bytes as serializing [`entry_json`].
fn write_entry_json(
    out: &mut dyn Write,
    scan: &WalScan<'_>,
    e: &LogEntry<'_>,
    d: &EntryView<'_>,
    redactor: Redactor,
) -> std::io::Result<()> {
    let kind = data_kind_name(d.kind);
    let message = d.message();
    let request: Option<&dyn Visit> = message.as_ref().map(|m| m as &dyn Visit);
    // Keys in sorted order, as the map `entry_json` builds serializes them.
    write!(out, "{{\"data_kind\":")?;
    serde_json::to_writer(&mut *out, kind)?;
    write!(out, ",\"index\":{},\"offset\":", e.entry.index)?;
    serde_json::to_writer(&mut *out, &e.offset)?;
    write!(out, ",\"request\":")?;
    match request {
        Some(m) => write_message(out, m, redactor)?,
        None => out.write_all(b"null")?,
    }
    write!(out, ",\"schema\":\"etcd-autopsy/wal/v1\",\"segment\":")?;
    serde_json::to_writer(
        &mut *out,
        &scan.segments.get(e.segment).map(|s| s.name.as_str()),
    )?;
    write!(out, ",\"term\":{},\"type\":", e.entry.term)?;
    serde_json::to_writer(&mut *out, e.entry.entry_type.name())?;
    out.write_all(b"}")
}

/// `data_kind` of a `wal --json` line.
fn data_kind_name(k: DataKind) -> &'static str {
    match k {
        DataKind::Empty => "noop",
        DataKind::Internal => "internal_raft_request",
        DataKind::V2 => "v2_request",
        DataKind::ConfChange => "conf_change",
        DataKind::ConfChangeV2 => "conf_change_v2",
        DataKind::UndecodableNormal
        | DataKind::BadConfChange
        | DataKind::BadConfChangeV2
        | DataKind::UnknownType => "undecodable",
    }
}

/// One entry as a JSON object (the `wal --json` line).
pub fn entry_json(
    scan: &WalScan<'_>,
    e: &LogEntry<'_>,
    d: &EntryView<'_>,
    redactor: Redactor,
) -> Value {
    let kind = data_kind_name(d.kind);
    let request = d
        .message()
        .map_or(Value::Null, |m| message_json(&m, redactor));
    json!({
        "schema": "etcd-autopsy/wal/v1",
        "term": e.entry.term,
        "index": e.entry.index,
        "type": e.entry.entry_type.name(),
        "segment": scan.segments.get(e.segment).map(|s| s.name.as_str()),
        "offset": e.offset,
        "data_kind": kind,
        "request": request,
    })
}

fn json_lines(
    scan: &WalScan<'_>,
    selected: &[&LogEntry<'_>],
    filters: &Option<Vec<DumpFilter>>,
    findings: &[Finding],
    redactor: Redactor,
) -> Result<()> {
    let mut out = crate::output::stdout();
    write_in_order(&mut out, selected, &|_| {}, &|e, sink| {
        let d = e.view();
        if !passes(&d, filters) {
            return Ok(false);
        }
        write_entry_json(sink, scan, e, &d, redactor)?;
        sink.put(b"\n");
        Ok(true)
    })?;
    for f in findings {
        serde_json::to_writer(
            &mut out,
            &json!({ "schema": "etcd-autopsy/wal/v1", "finding": f }),
        )?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

#[derive(Serialize)]
struct SegmentJson<'a> {
    name: &'a str,
    records: u64,
    bytes: u64,
    file_bytes: u64,
    first_index: Option<u64>,
    last_index: Option<u64>,
    crc_ok: bool,
    end: wal_reader::SegmentEnd,
}

/// The entry types counted apart, in the order of [`Counts::types`]; any other type
/// number counts as the last.
const ENTRY_TYPES: [wal_reader::EntryType; 4] = {
    use wal_reader::EntryType as T;
    [T::Normal, T::ConfChange, T::ConfChangeV2, T::Unknown(-1)]
};

/// `t`'s place in [`ENTRY_TYPES`].
fn entry_type_slot(t: wal_reader::EntryType) -> usize {
    let d = std::mem::discriminant(&t);
    ENTRY_TYPES
        .iter()
        .position(|x| std::mem::discriminant(x) == d)
        .unwrap_or(ENTRY_TYPES.len() - 1)
}

#[derive(Default)]
struct Counts {
    /// Entries by type, as [`ENTRY_TYPES`].
    types: [u64; ENTRY_TYPES.len()],
    requests: BTreeMap<&'static str, u64>,
    noop: u64,
    undecodable: u64,
}

impl Counts {
    /// Entries by type name, the types with none left out.
    fn entry_types(&self) -> BTreeMap<&'static str, u64> {
        ENTRY_TYPES
            .iter()
            .zip(self.types)
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| (t.name(), n))
            .collect()
    }
}

/// Entries by type and requests by name, in one parallel pass over the log.
fn count_requests(entries: &[LogEntry<'_>]) -> Counts {
    entries
        .par_iter()
        .fold(Counts::default, |mut c, e| {
            c.types[entry_type_slot(e.entry.entry_type)] += 1;
            if e.entry.entry_type == wal_reader::EntryType::Normal {
                let v = e.view();
                match v.kind {
                    DataKind::Empty => c.noop += 1,
                    DataKind::Internal => {
                        v.request_names(|n| *c.requests.entry(n).or_default() += 1);
                    }
                    DataKind::V2 => *c.requests.entry("v2").or_default() += 1,
                    _ => c.undecodable += 1,
                }
            }
            c
        })
        .reduce(Counts::default, |mut a, b| {
            for (k, v) in b.requests {
                *a.requests.entry(k).or_default() += v;
            }
            for (a, b) in a.types.iter_mut().zip(b.types) {
                *a += b;
            }
            a.noop += b.noop;
            a.undecodable += b.undecodable;
            a
        })
}

fn summary(
    wal: &WalDir,
    scan: &WalScan<'_>,
    rv: &wal_reader::RestartView,
    findings: &[Finding],
    as_json: bool,
    loaded: Option<&SnapFile>,
) -> Result<()> {
    let counts = count_requests(&scan.entries);
    let entry_types = counts.entry_types();
    let md = scan.metadata.unwrap_or_default();
    let segments: Vec<SegmentJson<'_>> = scan
        .segments
        .iter()
        .map(|s| SegmentJson {
            name: &s.name,
            records: s.records,
            bytes: s.valid_bytes,
            file_bytes: s.file_len,
            first_index: s.first_index(),
            last_index: s.last_index(),
            crc_ok: s.crc_ok(),
            end: s.end,
        })
        .collect();
    if as_json {
        let mut rvj = serde_json::to_value(rv)?;
        if let Value::Object(o) = &mut rvj {
            o.remove("findings");
        }
        let v = json!({
            "schema": "etcd-autopsy/wal-summary/v1",
            "metadata": scan.metadata.map(|_| json!({
                "node_id": md.node_id,
                "cluster_id": md.cluster_id,
                "node_id_hex": text::id_hex(md.node_id),
                "cluster_id_hex": text::id_hex(md.cluster_id),
            })),
            "hard_state": scan.hard_state,
            "entries": scan.entries.len(),
            "first_index": scan.first_index(),
            "last_index": scan.last_index(),
            "entry_types": entry_types,
            "requests": counts.requests,
            "noop_entries": counts.noop,
            "undecodable_entries": counts.undecodable,
            "rewritten_entries": scan.rewritten,
            "snapshots": scan.snapshots.iter().map(|s| json!({"index": s.index, "term": s.term})).collect::<Vec<_>>(),
            "segments": segments,
            "restart": rvj,
            "loaded_snap": loaded.map(|l| l.name.as_str()),
            "stopped_at": scan.stopped_at.as_ref().map(|(s, o)| json!({"segment": s, "offset": o})),
            "tmp_files": wal.tmp_files,
            "broken_files": wal.broken_files,
            "findings": findings,
        });
        crate::output::print_json(&v)?;
        return Ok(());
    }
    let mut out = crate::output::TextOut::new();
    writeln!(out, "WAL directory: {}", wal.dir.display())?;
    if scan.metadata.is_some() {
        writeln!(
            out,
            "member {}  cluster {}",
            text::id_hex(md.node_id),
            text::id_hex(md.cluster_id)
        )?;
    }
    if let Some(h) = scan.hard_state {
        writeln!(
            out,
            "hard state: term {}  vote {}  commit {}",
            h.term,
            text::id_hex(h.vote),
            h.commit
        )?;
    }
    writeln!(
        out,
        "entries: {} (index {} .. {}), {} rewritten by raft log truncation",
        scan.entries.len(),
        scan.first_index().map_or("-".into(), |i| i.to_string()),
        scan.last_index().map_or("-".into(), |i| i.to_string()),
        scan.rewritten
    )?;
    for (k, v) in &entry_types {
        writeln!(out, "  {k:<20} {v}")?;
    }
    writeln!(out, "requests:")?;
    for (k, v) in &counts.requests {
        writeln!(out, "  {k:<20} {v}")?;
    }
    writeln!(out, "  {:<20} {}", "(no-op)", counts.noop)?;
    if counts.undecodable > 0 {
        writeln!(out, "  {:<20} {}", "(undecodable)", counts.undecodable)?;
    }
    let marks: Vec<String> = scan
        .snapshots
        .iter()
        .map(|s| format!("{}@{}", s.index, s.term))
        .collect();
    writeln!(out, "snapshot records (index@term): {}", marks.join(" "))?;
    writeln!(out, "segments:")?;
    for s in &segments {
        writeln!(
            out,
            "  {}  {} records  {} of {} bytes  index {}..{}  {}",
            s.name,
            s.records,
            s.bytes,
            s.file_bytes,
            s.first_index.map_or("-".into(), |i| i.to_string()),
            s.last_index.map_or("-".into(), |i| i.to_string()),
            if s.crc_ok { "ok" } else { "DAMAGED" }
        )?;
    }
    writeln!(
        out,
        "on restart: snapshot {} (index {} term {}{}), {} entries to replay ({} committed, {} uncommitted tail)",
        loaded.map_or("none", |l| l.name.as_str()),
        rv.snapshot_index,
        rv.snapshot_term,
        if rv.snapshot_in_wal { ", found in WAL" } else { ", NOT in WAL" },
        rv.entries,
        rv.committed,
        rv.uncommitted
    )?;
    if findings.is_empty() {
        writeln!(out, "findings: none")?;
    } else {
        writeln!(out, "findings:")?;
        for f in findings {
            writeln!(out, "  {}", sanitize(f.to_string().as_bytes()))?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Runs `snap`; returns the exit status.
pub fn run_snap(args: &SnapArgs) -> Result<u8> {
    let dir = if args.input.is_dir() && has_ext(&args.input, "snap") {
        args.input.clone()
    } else {
        let member = etcd_mvcc::member::resolve(&args.input)?;
        member
            .snap_dir
            .ok_or_else(|| CliError::input(&args.input, "no member/snap directory found"))?
    };
    let snaps = SnapDir::open(&dir)?;
    let loaded = snaps.loaded().map(|l| l.name.clone());
    let damage = snaps.findings.iter().any(|f| f.is_damage());
    if args.json {
        let files: Vec<Value> = snaps
            .files
            .iter()
            .map(|f| {
                let m = f.metadata.as_ref();
                json!({
                    "name": f.name,
                    "index": m.map_or(f.name_index, |m| m.index),
                    "term": m.map_or(f.name_term, |m| m.term),
                    "voters": m.map(|m| m.conf_state.voters.iter().map(|v| text::id_hex(*v)).collect::<Vec<_>>()),
                    "learners": m.map(|m| m.conf_state.learners.iter().map(|v| text::id_hex(*v)).collect::<Vec<_>>()),
                    "crc": f.crc,
                    "crc_computed": f.crc_computed,
                    "crc_ok": f.crc == f.crc_computed && f.crc != 0,
                    "status": f.status,
                    "size": f.size,
                    "data_size": f.data_size,
                })
            })
            .collect();
        crate::output::print_json(&json!({
            "schema": "etcd-autopsy/snap/v1",
            "dir": dir.display().to_string(),
            "loaded": loaded,
            "files": files,
            "findings": snaps.findings,
        }))?;
    } else {
        let mut out = crate::output::TextOut::new();
        writeln!(out, "snap directory: {}", dir.display())?;
        if snaps.files.is_empty() {
            writeln!(out, "no .snap files: etcd replays the WAL from the start")?;
        }
        for f in &snaps.files {
            let m = f.metadata.as_ref();
            let voters: Vec<String> = m
                .map(|m| {
                    m.conf_state
                        .voters
                        .iter()
                        .map(|v| text::id_hex(*v))
                        .collect()
                })
                .unwrap_or_default();
            let learners: Vec<String> = m
                .map(|m| {
                    m.conf_state
                        .learners
                        .iter()
                        .map(|v| text::id_hex(*v))
                        .collect()
                })
                .unwrap_or_default();
            writeln!(
                out,
                "{}{}  index {}  term {}  voters [{}]{}  crc {}  data {} bytes{}",
                sanitize(f.name.as_bytes()),
                if Some(&f.name) == loaded.as_ref() {
                    " (loaded)"
                } else {
                    ""
                },
                m.map_or(f.name_index, |m| m.index),
                m.map_or(f.name_term, |m| m.term),
                voters.join(" "),
                if learners.is_empty() {
                    String::new()
                } else {
                    format!("  learners [{}]", learners.join(" "))
                },
                if f.is_ok() { "ok" } else { "BAD" },
                f.data_size,
                match f.status {
                    wal_reader::snap::SnapStatus::Ok => String::new(),
                    ref s => format!("  ({s:?})"),
                }
            )?;
        }
        for f in &snaps.findings {
            writeln!(out, "{}", sanitize(f.to_string().as_bytes()))?;
        }
        out.flush()?;
    }
    Ok(if damage { EXIT_DAMAGE } else { EXIT_OK })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streamed `wal --json` line is byte for byte the serialized tree of
    /// [`entry_json`], over every entry of the fixture WALs, secrets shown and hidden.
    #[test]
    fn streamed_entry_lines_equal_the_serialized_tree() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let mut compared = 0;
        for scenario in ["k8s", "killed", "nospace", "many-snaps", "cluster/m1"] {
            let dir = fixtures.join(scenario).join("data/member/wal");
            let Ok(wal) = WalDir::open(&dir) else {
                continue;
            };
            let scan = wal.scan(wal_reader::ScanOptions { raw: false });
            for show_secrets in [false, true] {
                let redactor = Redactor { show_secrets };
                for e in &scan.entries {
                    let d = EntryView::new(&e.entry);
                    let tree = serde_json::to_vec(&entry_json(&scan, e, &d, redactor)).unwrap();
                    let mut streamed = Vec::new();
                    write_entry_json(&mut streamed, &scan, e, &d, redactor).unwrap();
                    assert_eq!(
                        String::from_utf8_lossy(&streamed),
                        String::from_utf8_lossy(&tree),
                        "{scenario} index {}",
                        e.entry.index
                    );
                    compared += 1;
                }
            }
        }
        assert!(compared > 1000, "{compared}");
    }
}
