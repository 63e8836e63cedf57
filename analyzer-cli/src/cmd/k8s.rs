//! The Kubernetes lens: `k8s`, `get`, `history` and `churn` over what kube-apiserver stored
//! under `/registry/`. Decoding and accounting live in `etcd_mvcc::k8s`; this module parses
//! flags, prints and maps the outcome to an exit status. Values are never printed by `k8s`,
//! `history` or `churn`; `get` hides the body of anything under `/registry/secrets/` unless
//! `--show-secrets`. Figures follow the shared spec, documented in docs/JSON.md.
//!
//! Exit status: 0; 1 when part of the key bucket could not be read (the figures cover what
//! could); 2 when the db cannot be read (or `get`/`history` find no such key).

use super::{open_db, open_image, scan_with_progress, thread_pool};
use crate::error::{CliError, Result, EXIT_DAMAGE, EXIT_OK};
use crate::output::{human_bytes, sanitize};
use crate::redact::{Redactor, REDACTED};
use etcd_mvcc::k8s::account::{EventGroup, Finding, ObjectRow};
use etcd_mvcc::k8s::decode::{decode_value, DecodeOptions, Decoded, Encoding};
use etcd_mvcc::k8s::history::{churn, key_revisions, Written};
use etcd_mvcc::k8s::tree::{cbor_to_json, protobuf_tree};
use etcd_mvcc::k8s::{account, GroupBy, GroupStats, K8sOptions, K8sSummary};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// `--by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    /// `pods`, `events`, `<group>/<plural>`.
    Resource,
    /// metadata.namespace ("" for cluster-scoped).
    Namespace,
    /// TypeMeta kind.
    Kind,
    /// The controller owner reference (`Kind/name`).
    Owner,
}

impl From<By> for GroupBy {
    fn from(b: By) -> GroupBy {
        match b {
            By::Resource => GroupBy::Resource,
            By::Namespace => GroupBy::Namespace,
            By::Kind => GroupBy::Kind,
            By::Owner => GroupBy::Owner,
        }
    }
}

/// Arguments of `k8s`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data dir, member dir, db file or `etcdctl snapshot save` file.
    pub input: PathBuf,
    /// How to group the objects.
    #[arg(long, value_enum, default_value_t = By::Resource)]
    pub by: By,
    /// Rows per list: groups (text default 20, JSON default all), largest objects, most
    /// revisions and event groups (default 10).
    #[arg(long)]
    pub top: Option<usize>,
    /// Only keys starting with this (they must also be under /registry/).
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = crate::args::threads)]
    pub threads: Option<usize>,
    /// Print JSON (schema `etcd-autopsy/k8s/v1`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct GroupJson<'a> {
    group: &'a str,
    #[serde(flatten)]
    stats: &'a GroupStats,
    share_of_file: f64,
    managed_fields_share_of_file: f64,
    last_applied_share_of_file: f64,
}

#[derive(Serialize)]
struct K8sJson<'a> {
    schema: &'static str,
    by: &'static str,
    prefix_filter: &'a str,
    revision: i64,
    file_bytes: u64,
    totals: GroupJson<'a>,
    groups: Vec<GroupJson<'a>>,
    largest: &'a [ObjectRow],
    most_revisions: &'a [ObjectRow],
    event_groups: &'a [EventGroup],
    findings: &'a [Finding],
    encodings: &'a BTreeMap<Encoding, u64>,
    undecoded_prefixes: &'a BTreeMap<String, u64>,
    decode_errors: u64,
    decode_problems: &'a [etcd_mvcc::k8s::account::DecodeProblem],
    unlocated: u64,
    malformed_entries: u64,
    problems: Vec<etcd_mvcc::scan::Problem>,
}

fn frac(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn pct(part: u64, whole: u64) -> String {
    let p = frac(part, whole) * 100.0;
    if part > 0 && p < 0.1 {
        "<0.1%".into()
    } else {
        format!("{p:.1}%")
    }
}

fn group_json<'a>(name: &'a str, g: &'a GroupStats, file_bytes: u64) -> GroupJson<'a> {
    GroupJson {
        group: name,
        stats: g,
        share_of_file: frac(g.bytes(), file_bytes),
        managed_fields_share_of_file: frac(g.managed_fields_bytes, file_bytes),
        last_applied_share_of_file: frac(g.last_applied_bytes, file_bytes),
    }
}

/// Scans and accounts `input`: (summary, newest revision, file bytes, key-bucket problems).
pub(crate) fn summarize(
    input: &std::path::Path,
    threads: Option<usize>,
    opts: &K8sOptions,
) -> Result<(
    K8sSummary,
    i64,
    u64,
    u64,
    u64,
    Vec<etcd_mvcc::scan::Problem>,
)> {
    let image = open_image(input)?;
    let db = open_db(&image)?;
    let pool = thread_pool(threads)?;
    let ks = scan_with_progress(&image, &db, &pool, i64::MAX, true)?;
    let file_bytes = image.bytes().len() as u64;
    Ok(match ks {
        Some(ks) => {
            let s = pool.install(|| account(&ks, opts));
            let rev = ks.totals.max_rev.map_or(0, |r| r.main);
            (
                s,
                rev,
                file_bytes,
                ks.problem_count,
                ks.totals.malformed,
                ks.problems.clone(),
            )
        }
        None => (K8sSummary::default(), 0, file_bytes, 0, 0, Vec::new()),
    })
}

/// Runs `k8s`; returns the exit status.
pub fn run(args: &Args) -> Result<u8> {
    let rows = args.top.unwrap_or(10);
    let opts = K8sOptions {
        prefix: args.prefix.as_bytes().to_vec(),
        top: rows,
    };
    let (s, revision, file_bytes, problem_count, malformed, problems) =
        summarize(&args.input, args.threads, &opts)?;
    let by: GroupBy = args.by.into();
    let groups = s.groups(by);
    let group_json = |name, g| group_json(name, g, file_bytes);
    if args.json {
        let top = args.top.unwrap_or(usize::MAX);
        crate::output::print_json(&K8sJson {
            schema: "etcd-autopsy/k8s/v1",
            by: by.as_str(),
            prefix_filter: &args.prefix,
            revision,
            file_bytes,
            totals: group_json("/registry/", &s.totals),
            groups: groups
                .iter()
                .take(top)
                .map(|(n, g)| group_json(n, g))
                .collect(),
            largest: &s.largest,
            most_revisions: &s.most_revisions,
            event_groups: &s.event_groups[..s.event_groups.len().min(top)],
            findings: &s.findings,
            encodings: &s.encodings,
            undecoded_prefixes: &s.undecoded_prefixes,
            decode_errors: s.decode_errors,
            decode_problems: &s.decode_problems,
            unlocated: s.unlocated,
            malformed_entries: malformed,
            problems,
        })?;
    } else {
        let mut out = crate::output::stdout();
        write_text(&mut out, args, &s, revision, file_bytes, rows)?;
        out.flush()?;
    }
    Ok(if problem_count > 0 || s.unlocated > 0 {
        EXIT_DAMAGE
    } else {
        EXIT_OK
    })
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        sanitize(s.as_bytes())
    }
}

/// A titled list of objects (nothing when empty): the first `n`, one `line` each.
fn write_rows(
    out: &mut dyn Write,
    title: &str,
    list: &[ObjectRow],
    n: usize,
    line: impl Fn(&ObjectRow) -> String,
) -> std::io::Result<()> {
    if list.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{title}")?;
    for r in list.iter().take(n) {
        writeln!(out, "  {}", line(r))?;
    }
    Ok(())
}

fn write_text(
    out: &mut dyn Write,
    args: &Args,
    s: &K8sSummary,
    revision: i64,
    file_bytes: u64,
    rows: usize,
) -> std::io::Result<()> {
    let t = &s.totals;
    writeln!(
        out,
        "{} Kubernetes objects in {} revisions under /registry/{} at revision {revision}: live {} + history {} of a {} file",
        t.objects,
        t.revisions,
        if args.prefix.is_empty() {
            String::new()
        } else {
            format!(" (keys under {})", sanitize(args.prefix.as_bytes()))
        },
        human_bytes(t.live_bytes),
        human_bytes(t.history_bytes),
        human_bytes(file_bytes)
    )?;
    let enc: Vec<String> = s
        .encodings
        .iter()
        .map(|(e, n)| format!("{} {n}", e.as_str()))
        .collect();
    writeln!(
        out,
        "encodings: {}; managedFields {} ({} of the file), last-applied {} ({}), other annotations {}",
        if enc.is_empty() { "-".to_string() } else { enc.join(", ") },
        human_bytes(t.managed_fields_bytes),
        pct(t.managed_fields_bytes, file_bytes),
        human_bytes(t.last_applied_bytes),
        pct(t.last_applied_bytes, file_bytes),
        human_bytes(t.other_annotations_bytes),
    )?;
    let by: GroupBy = args.by.into();
    let groups = s.groups(by);
    let shown = groups.len().min(args.top.unwrap_or(20));
    let width = groups[..shown]
        .iter()
        .map(|(g, _)| sanitize(g.as_bytes()).chars().count())
        .max()
        .unwrap_or(0)
        .clamp(8, 50);
    writeln!(out)?;
    writeln!(
        out,
        "{:<width$}  {:>8} {:>9} {:>10} {:>10} {:>6} {:>10} {:>10} {:>6}",
        by.as_str().to_uppercase(),
        "OBJECTS",
        "REVS",
        "LIVE",
        "HISTORY",
        "FILE",
        "MANAGED",
        "APPLIED",
        "ENC"
    )?;
    let line = |out: &mut dyn Write, name: &str, g: &GroupStats| {
        writeln!(
            out,
            "{:<width$}  {:>8} {:>9} {:>10} {:>10} {:>6} {:>10} {:>10} {:>6}",
            name,
            g.objects,
            g.revisions,
            human_bytes(g.live_bytes),
            human_bytes(g.history_bytes),
            pct(g.bytes(), file_bytes),
            human_bytes(g.managed_fields_bytes),
            human_bytes(g.last_applied_bytes),
            g.encrypted
        )
    };
    for (g, st) in &groups[..shown] {
        let name = if g.is_empty() {
            match by {
                GroupBy::Namespace => "(cluster-scoped)".to_string(),
                GroupBy::Owner => "(no controller)".to_string(),
                _ => "(undecoded)".to_string(),
            }
        } else {
            sanitize(g.as_bytes())
        };
        line(out, &name, st)?;
    }
    line(out, "TOTAL", t)?;
    if shown < groups.len() {
        writeln!(
            out,
            "({} more groups; --top N to show more)",
            groups.len() - shown
        )?;
    }
    write_rows(out, "largest live objects", &s.largest, rows, |r| {
        format!(
            "{:>10} {:>6} revs  {:<14} {}",
            human_bytes(r.bytes),
            r.revisions,
            or_dash(&r.kind),
            sanitize(r.key.as_bytes())
        )
    })?;
    write_rows(
        out,
        "most revisions kept (who churns)",
        &s.most_revisions,
        rows,
        |r| {
            format!(
                "{:>6} revs {:>10} history  {:<14} {}{}",
                r.revisions,
                human_bytes(r.history_bytes),
                or_dash(&r.kind),
                sanitize(r.key.as_bytes()),
                if r.live { "" } else { " (deleted)" }
            )
        },
    )?;
    if !s.event_groups.is_empty() {
        let all: u64 = s.event_groups.iter().map(|g| g.events).sum();
        writeln!(out, "\nevents by involved object and reason ({all} events)")?;
        for g in s.event_groups.iter().take(rows) {
            writeln!(
                out,
                "  {:>7} events (count {:>7})  {} {}/{}  {}",
                g.events,
                g.count_sum,
                or_dash(&g.kind),
                sanitize(g.namespace.as_bytes()),
                sanitize(g.name.as_bytes()),
                sanitize(g.reason.as_bytes())
            )?;
        }
    }
    if !s.undecoded_prefixes.is_empty() {
        let v: Vec<String> = s
            .undecoded_prefixes
            .iter()
            .map(|(p, n)| format!("{n} x {}", if p.is_empty() { "(empty)" } else { p }))
            .collect();
        writeln!(
            out,
            "\nundecoded values by first bytes (hex): {}",
            v.join(", ")
        )?;
    }
    if s.decode_errors > 0 {
        writeln!(
            out,
            "\n{} values did not decode in full, e.g.:",
            s.decode_errors
        )?;
        for p in s.decode_problems.iter().take(5) {
            writeln!(
                out,
                "  {} at revision {}: {}",
                sanitize(p.key.as_bytes()),
                p.revision,
                sanitize(p.what.as_bytes())
            )?;
        }
    }
    writeln!(out, "\nfindings")?;
    if s.findings.is_empty() {
        writeln!(out, "  none")?;
    }
    // At most `rows` of each kind in text (JSON has them all).
    let mut shown_of: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &s.findings {
        let n = shown_of.entry(f.kind.as_str()).or_default();
        *n += 1;
        if *n > rows {
            continue;
        }
        writeln!(
            out,
            "  {:<17} {}: {}",
            f.kind.as_str(),
            sanitize(f.key.as_bytes()),
            sanitize(f.message.as_bytes())
        )?;
    }
    for (kind, n) in shown_of.iter().filter(|(_, n)| **n > rows) {
        writeln!(out, "  ({} more {kind}; --json lists them all)", n - rows)?;
    }
    if s.unlocated > 0 {
        writeln!(
            out,
            "damage: the newest value of {} keys could not be read again",
            s.unlocated
        )?;
    }
    Ok(())
}

/// `-o` of `get`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GetOutput {
    /// An object with kind, apiVersion, metadata, encoding and the body.
    Json,
    /// The same object as YAML.
    Yaml,
    /// The stored bytes as they are.
    Raw,
}

/// Arguments of `get`.
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// Data dir, member dir, db file or `etcdctl snapshot save` file.
    pub input: PathBuf,
    /// The etcd key, e.g. /registry/pods/default/web-1.
    pub key: String,
    /// The newest revision of the key at or below R (default: its newest kept revision).
    #[arg(long)]
    pub rev: Option<i64>,
    /// Output form.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = GetOutput::Json)]
    pub output: GetOutput,
    /// Print values under /registry/secrets/ too.
    #[arg(long)]
    pub show_secrets: bool,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = crate::args::threads)]
    pub threads: Option<usize>,
}

fn meta_json(d: &Decoded<'_>, redact: bool) -> Value {
    let Some(m) = &d.meta else {
        return Value::Null;
    };
    let labels: serde_json::Map<String, Value> = m
        .labels
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let mut o = json!({
        "name": m.name,
        "namespace": m.namespace,
        "uid": m.uid,
        "generation": m.generation,
        "resourceVersion": m.resource_version,
        "labels": labels,
        "annotations": m.annotations,
        "last_applied_bytes": m.last_applied_bytes,
        "other_annotations_bytes": m.other_annotations_bytes,
        "managed_fields": m.managed_fields,
        "managed_fields_bytes": m.managed_fields_bytes,
        "finalizers": m.finalizers,
        "ownerReferences": m.owner_references.iter().map(|r| json!({
            "apiVersion": r.api_version, "kind": r.kind, "name": r.name, "uid": r.uid,
            "controller": r.controller})).collect::<Vec<_>>(),
    });
    if !m.generate_name.is_empty() {
        o["generateName"] = json!(m.generate_name);
    }
    if let Some(t) = &m.creation_timestamp {
        o["creationTimestamp"] = json!(t.rfc3339());
    }
    if let Some(t) = &m.deletion_timestamp {
        o["deletionTimestamp"] = json!(t.rfc3339());
    }
    if redact {
        o["annotations_redacted"] = json!(true);
    }
    o
}

/// The `get` object for one stored value.
pub(crate) fn object_json(key: &[u8], value: &[u8], redact: bool) -> Value {
    let d = decode_value(value, DecodeOptions { labels: true });
    let mut o = json!({
        "key": String::from_utf8_lossy(key),
        "kind": d.kind,
        "apiVersion": d.api_version,
        "encoding": d.encoding.as_str(),
        "bytes": value.len(),
        "metadata": meta_json(&d, redact),
    });
    if let Some(e) = &d.encryption {
        o["encryption"] = json!({"provider": e.provider, "version": e.version, "key": e.key});
    }
    if let Some(e) = &d.error {
        o["error"] = json!(e);
    }
    if redact {
        o["redacted"] = json!(REDACTED);
        return o;
    }
    match d.encoding {
        Encoding::Protobuf => {
            if !d.content_type.is_empty() {
                o["contentType"] = json!(d.content_type);
            }
            o["fields"] = protobuf_tree(d.body);
        }
        Encoding::Json => {
            o["object"] = serde_json::from_slice::<Value>(value).unwrap_or(Value::Null);
        }
        Encoding::Cbor => {
            o["object"] = cbor_to_json(value).unwrap_or(Value::Null);
        }
        Encoding::Unknown => {
            o["prefix_hex"] = json!(value
                .iter()
                .take(16)
                .map(|b| format!("{b:02x}"))
                .collect::<String>());
        }
        Encoding::Encrypted => {}
    }
    o
}

/// YAML for a JSON value: block style, strings double-quoted (JSON quoting is valid YAML).
pub(crate) fn to_yaml(v: &Value) -> String {
    fn scalar(v: &Value) -> String {
        match v {
            Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
            other => other.to_string(),
        }
    }
    fn go(v: &Value, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, x) in m {
                    let plain = !k.is_empty()
                        && k.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"_./-".contains(&b))
                        && k.as_bytes()[0].is_ascii_alphabetic();
                    let key = if plain {
                        k.clone()
                    } else {
                        serde_json::to_string(k).unwrap_or_default()
                    };
                    match x {
                        Value::Object(xm) if !xm.is_empty() => {
                            out.push_str(&format!("{pad}{key}:\n"));
                            go(x, indent + 2, out);
                        }
                        Value::Array(xa) if !xa.is_empty() => {
                            out.push_str(&format!("{pad}{key}:\n"));
                            go(x, indent, out);
                        }
                        _ => out.push_str(&format!("{pad}{key}: {}\n", empty_or(x))),
                    }
                }
            }
            Value::Array(a) if !a.is_empty() => {
                for x in a {
                    match x {
                        Value::Object(xm) if !xm.is_empty() => {
                            let mut inner = String::new();
                            go(x, indent + 2, &mut inner);
                            // "- " takes the place of the first line's indentation.
                            let inner = inner.split_at(indent + 2).1.to_string();
                            out.push_str(&format!("{pad}- {inner}"));
                        }
                        Value::Array(xa) if !xa.is_empty() => {
                            out.push_str(&format!("{pad}-\n"));
                            go(x, indent + 2, out);
                        }
                        _ => out.push_str(&format!("{pad}- {}\n", empty_or(x))),
                    }
                }
            }
            other => out.push_str(&format!("{pad}{}\n", empty_or(other))),
        }
    }
    fn empty_or(v: &Value) -> String {
        match v {
            Value::Object(_) => "{}".into(),
            Value::Array(_) => "[]".into(),
            x => scalar(x),
        }
    }
    let mut out = String::new();
    go(v, 0, &mut out);
    out
}

fn no_key(input: &std::path::Path, key: &str) -> CliError {
    CliError::input(
        input,
        format!(
            "no revision of key {} is kept in the file",
            sanitize(key.as_bytes())
        ),
    )
}

/// Opens `input` and gives its key bucket's leaf pages (damaged subtrees left out) to `f`,
/// with the db and the worker pool; `no_bucket` is the error when there is no key bucket.
/// The status is 1 when part of the bucket could not be read, else 0 (the one ending of
/// `get`, `history` and `churn`).
fn over_key_pages(
    input: &std::path::Path,
    threads: Option<usize>,
    no_bucket: impl FnOnce() -> CliError,
    f: impl FnOnce(&bbolt_reader::Db<'_>, &rayon::ThreadPool, &[bbolt_reader::Page<'_>]) -> Result<()>,
) -> Result<u8> {
    let image = open_image(input)?;
    let db = open_db(&image)?;
    let pool = thread_pool(threads)?;
    let Some(bucket) = db
        .bucket(etcd_mvcc::KEY_BUCKET)
        .map_err(|e| super::bolt_err(&image, e))?
    else {
        return Err(no_bucket());
    };
    let (pages, damage) = etcd_mvcc::scan::leaf_pages_tolerant(&bucket);
    f(&db, &pool, &pages)?;
    Ok(if damage.is_empty() {
        EXIT_OK
    } else {
        EXIT_DAMAGE
    })
}

/// Runs `get`; returns the exit status.
pub fn run_get(args: &GetArgs) -> Result<u8> {
    over_key_pages(
        &args.input,
        args.threads,
        || no_key(&args.input, &args.key),
        |_, pool, pages| get(args, pool, pages),
    )
}

fn get(args: &GetArgs, pool: &rayon::ThreadPool, pages: &[bbolt_reader::Page<'_>]) -> Result<()> {
    let revs = pool.install(|| key_revisions(pages, args.key.as_bytes()));
    let at = args.rev.unwrap_or(i64::MAX);
    let Some(r) = revs.iter().rev().find(|r| r.rev.main <= at) else {
        return Err(no_key(&args.input, &args.key));
    };
    if r.tombstone {
        return Err(CliError::input(
            &args.input,
            format!(
                "key {} was deleted at revision {}",
                sanitize(args.key.as_bytes()),
                r.rev.main
            ),
        ));
    }
    let redact = Redactor {
        show_secrets: args.show_secrets,
    }
    .hides(args.key.as_bytes());
    let mut out = crate::output::stdout();
    match args.output {
        GetOutput::Raw => {
            if redact {
                return Err(CliError::Other(REDACTED.into()));
            }
            out.write_all(r.kv.value)?;
        }
        GetOutput::Json | GetOutput::Yaml => {
            let mut o = object_json(args.key.as_bytes(), r.kv.value, redact);
            o["schema"] = json!("etcd-autopsy/k8s-get/v1");
            o["mod_revision"] = json!(r.kv.mod_revision);
            o["create_revision"] = json!(r.kv.create_revision);
            o["version"] = json!(r.kv.version);
            o["lease"] = json!(r.kv.lease);
            if args.output == GetOutput::Json {
                serde_json::to_writer_pretty(&mut out, &o)?;
                out.write_all(b"\n")?;
            } else {
                out.write_all(to_yaml(&o).as_bytes())?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Arguments of `history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Data dir, member dir, db file or `etcdctl snapshot save` file.
    pub input: PathBuf,
    /// The etcd key.
    pub key: String,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = crate::args::threads)]
    pub threads: Option<usize>,
    /// Print JSON (schema `etcd-autopsy/k8s-history/v1`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct HistoryRow {
    mod_revision: i64,
    sub_revision: i64,
    tombstone: bool,
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    create_revision: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<Encoding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    managed_fields_bytes: Option<u64>,
    /// What differs from the previous put: generation, resource_version, labels, kind,
    /// encoding, deletion_timestamp, finalizers, owner_references, size.
    changed: Vec<&'static str>,
}

/// Runs `history`; returns the exit status.
pub fn run_history(args: &HistoryArgs) -> Result<u8> {
    over_key_pages(
        &args.input,
        args.threads,
        || no_key(&args.input, &args.key),
        |_, pool, pages| history(args, pool, pages),
    )
}

fn history(
    args: &HistoryArgs,
    pool: &rayon::ThreadPool,
    pages: &[bbolt_reader::Page<'_>],
) -> Result<()> {
    let revs = pool.install(|| key_revisions(pages, args.key.as_bytes()));
    if revs.is_empty() {
        return Err(no_key(&args.input, &args.key));
    }
    let mut rows = Vec::with_capacity(revs.len());
    let mut prev: Option<Decoded<'_>> = None;
    for r in &revs {
        if r.tombstone {
            rows.push(HistoryRow {
                mod_revision: r.rev.main,
                sub_revision: r.rev.sub,
                tombstone: true,
                bytes: 0,
                create_revision: None,
                version: None,
                encoding: None,
                generation: None,
                resource_version: None,
                labels: None,
                managed_fields_bytes: None,
                changed: vec!["deleted"],
            });
            prev = None;
            continue;
        }
        let d = decode_value(r.kv.value, DecodeOptions { labels: true });
        let mut changed = Vec::new();
        match &prev {
            None => changed.push("created"),
            Some(p) => {
                let (pm, m) = (p.meta.as_ref(), d.meta.as_ref());
                let f =
                    |g: &dyn Fn(&etcd_mvcc::k8s::ObjectMeta<'_>) -> String| pm.map(g) != m.map(g);
                if p.kind != d.kind {
                    changed.push("kind");
                }
                if p.encoding != d.encoding {
                    changed.push("encoding");
                }
                if f(&|m| m.generation.to_string()) {
                    changed.push("generation");
                }
                if f(&|m| m.resource_version.to_string()) {
                    changed.push("resource_version");
                }
                if f(&|m| format!("{:?}", m.labels)) {
                    changed.push("labels");
                }
                if f(&|m| format!("{:?}", m.deletion_timestamp.as_ref().map(|t| t.rfc3339()))) {
                    changed.push("deletion_timestamp");
                }
                if f(&|m| format!("{:?}", m.finalizers)) {
                    changed.push("finalizers");
                }
                if f(&|m| format!("{:?}", m.owner_references)) {
                    changed.push("owner_references");
                }
                if p.body.len() != d.body.len() {
                    changed.push("size");
                }
            }
        }
        let m = d.meta.as_ref();
        rows.push(HistoryRow {
            mod_revision: r.rev.main,
            sub_revision: r.rev.sub,
            tombstone: false,
            bytes: r.kv.value.len() as u64,
            create_revision: Some(r.kv.create_revision),
            version: Some(r.kv.version),
            encoding: Some(d.encoding),
            generation: m.map(|m| m.generation),
            resource_version: m.map(|m| m.resource_version.to_string()),
            labels: m.map(|m| {
                m.labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }),
            managed_fields_bytes: m.map(|m| m.managed_fields_bytes),
            changed,
        });
        prev = Some(d);
    }
    if args.json {
        crate::output::print_json(&json!({
            "schema": "etcd-autopsy/k8s-history/v1",
            "key": args.key,
            "revisions": rows,
        }))?;
    } else {
        let mut out = crate::output::stdout();
        writeln!(
            out,
            "{} kept revisions of {}",
            rows.len(),
            sanitize(args.key.as_bytes())
        )?;
        writeln!(
            out,
            "{:>10} {:>7} {:>10} {:>6} {:>9}  CHANGED",
            "REVISION", "VERSION", "BYTES", "GEN", "ENCODING"
        )?;
        for r in &rows {
            writeln!(
                out,
                "{:>10} {:>7} {:>10} {:>6} {:>9}  {}{}",
                r.mod_revision,
                r.version.map_or("-".into(), |v| v.to_string()),
                r.bytes,
                r.generation.map_or("-".into(), |v| v.to_string()),
                r.encoding.map_or("-", |e| e.as_str()),
                r.changed.join(","),
                match &r.labels {
                    Some(l)
                        if !l.is_empty()
                            && (r.changed.contains(&"labels")
                                || r.changed.contains(&"created")) =>
                        format!(
                            "  labels {}",
                            sanitize(
                                l.iter()
                                    .map(|(k, v)| format!("{k}={v}"))
                                    .collect::<Vec<_>>()
                                    .join(",")
                                    .as_bytes()
                            )
                        ),
                    _ => String::new(),
                }
            )?;
        }
        out.flush()?;
    }
    Ok(())
}

/// Arguments of `churn`.
#[derive(Debug, clap::Args)]
pub struct ChurnArgs {
    /// Data dir, member dir, db file or `etcdctl snapshot save` file.
    pub input: PathBuf,
    /// First revision of the window.
    #[arg(long)]
    pub from_rev: i64,
    /// Last revision of the window (default: the newest).
    #[arg(long)]
    pub to_rev: Option<i64>,
    /// Rows per list in text (default 20; JSON: all unless given).
    #[arg(long)]
    pub top: Option<usize>,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = crate::args::threads)]
    pub threads: Option<usize>,
    /// Print JSON (schema `etcd-autopsy/k8s-churn/v1`).
    #[arg(long)]
    pub json: bool,
}

/// Runs `churn`; returns the exit status.
pub fn run_churn(args: &ChurnArgs) -> Result<u8> {
    over_key_pages(
        &args.input,
        args.threads,
        || CliError::input(&args.input, "no key bucket"),
        |db, pool, pages| churn_window(args, db, pool, pages),
    )
}

fn churn_window(
    args: &ChurnArgs,
    db: &bbolt_reader::Db<'_>,
    pool: &rayon::ThreadPool,
    pages: &[bbolt_reader::Page<'_>],
) -> Result<()> {
    let to = match args.to_rev {
        Some(t) => t,
        None => etcd_mvcc::scan::newest_revision(db).unwrap_or(i64::MAX),
    };
    if to < args.from_rev {
        return Err(CliError::Other(format!(
            "--to-rev {to} is below --from-rev {}",
            args.from_rev
        )));
    }
    let c = pool.install(|| churn(pages, args.from_rev, to));
    let rows = |v: &[(String, Written)], field: &str, top: usize| -> Vec<Value> {
        v.iter()
            .take(top)
            .map(|(k, w)| json!({field: k, "revisions": w.revisions, "bytes": w.bytes}))
            .collect()
    };
    if args.json {
        let top = args.top.unwrap_or(usize::MAX);
        let enc: BTreeMap<&str, &Written> =
            c.by_encoding.iter().map(|(e, w)| (e.as_str(), w)).collect();
        crate::output::print_json(&json!({
            "schema": "etcd-autopsy/k8s-churn/v1",
            "from_rev": args.from_rev,
            "to_rev": to,
            "revisions": c.total.revisions,
            "bytes": c.total.bytes,
            "by_key": rows(&c.by_key, "key", top),
            "by_resource": rows(&c.by_resource, "resource", top),
            "by_kind": rows(&c.by_kind, "kind", top),
            "by_encoding": enc,
        }))?;
    } else {
        let top = args.top.unwrap_or(20);
        let mut out = crate::output::stdout();
        writeln!(
            out,
            "{} revisions ({}) kept with {} <= revision <= {to}, over {} keys",
            c.total.revisions,
            human_bytes(c.total.bytes),
            args.from_rev,
            c.by_key.len()
        )?;
        for (title, v) in [
            ("RESOURCE", &c.by_resource),
            ("KIND", &c.by_kind),
            ("KEY", &c.by_key),
        ] {
            writeln!(out, "\n{:>9} {:>10}  {title}", "REVS", "BYTES")?;
            for (k, w) in v.iter().take(top) {
                writeln!(
                    out,
                    "{:>9} {:>10}  {}",
                    w.revisions,
                    human_bytes(w.bytes),
                    or_dash(k)
                )?;
            }
            if v.len() > top {
                writeln!(out, "({} more; --top N to show more)", v.len() - top)?;
            }
        }
        out.flush()?;
    }
    Ok(())
}
