//! The bbolt layer: `info`, `buckets`, `stats`, `pages`, `page`, `keys`, `bbolt-get`, `check`.
//!
//! These commands read the bbolt file as bbolt sees it and know nothing of etcd (apart
//! from redacting Secret values in `page`). Every DB argument may be a data dir, a
//! `member/` dir, a db file or an `etcdctl snapshot save` file. JSON schemas are in each
//! command's doc below and in docs/JSON.md.

use super::{bolt_err, open_image};
use crate::error::{CliError, Result, EXIT_DAMAGE, EXIT_OK, EXIT_UNREADABLE};
use crate::output::{go_is_print, go_quote, print_json, sanitize, stdout, JsonBytes};
use crate::redact::Redactor;
use base64::Engine as _;
use bbolt_reader::walk::{FreelistSource, PageUse, Walk};
use bbolt_reader::{Bucket, BucketHeader, Db, MetaChoice, MetaSlot, Page, PageKind, Pgid};
use etcd_mvcc::member::{self as input, DbImage, InputKind};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

/// Which meta page to read, on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MetaArg {
    /// The valid meta with the larger txid (what bbolt uses).
    #[default]
    Newest,
    /// Meta page 0.
    #[value(name = "0")]
    Meta0,
    /// Meta page 1.
    #[value(name = "1")]
    Meta1,
}

impl From<MetaArg> for MetaChoice {
    fn from(m: MetaArg) -> Self {
        match m {
            MetaArg::Newest => MetaChoice::Newest,
            MetaArg::Meta0 => MetaChoice::Meta0,
            MetaArg::Meta1 => MetaChoice::Meta1,
        }
    }
}

/// Arguments shared by the whole-file commands.
#[derive(Debug, clap::Args)]
pub struct DbArgs {
    /// Data dir, member dir, db file or `etcdctl snapshot save` file.
    pub db: PathBuf,
    /// Read the tree of this meta page (`0`, `1`; default: the newest valid one). The other
    /// meta holds the previous transaction.
    #[arg(long, value_enum, default_value = "newest")]
    pub meta: MetaArg,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn open_db<'a>(image: &'a DbImage, meta: MetaArg) -> Result<Db<'a>> {
    Db::open_with(image.bytes(), meta.into()).map_err(|e| bolt_err(image, e))
}

/// Runs the whole-file walk with a progress bar on stderr (hidden when not a terminal).
fn walk_with_bar<'a>(db: &Db<'a>) -> Walk<'a> {
    let bar = crate::progress::bar(db.page_count(), "pages", false);
    let w = bbolt_reader::walk_with_progress(db, &|n| bar.set_position(n));
    bar.finish_and_clear();
    w
}

/// Exit status of a command that walked the whole file: 1 when the walk found damage.
fn walk_exit_status(w: &Walk<'_>) -> u8 {
    if w.findings.is_empty() {
        EXIT_OK
    } else {
        EXIT_DAMAGE
    }
}

/// Ends a walking command's text: points to `check` when the walk found damage.
fn finish_walk_text(mut out: impl Write, w: &Walk<'_>) -> std::io::Result<()> {
    if !w.findings.is_empty() {
        writeln!(
            out,
            "warning: {} findings while walking; run `etcd-autopsy check`",
            w.findings.len()
        )?;
    }
    out.flush()
}

/// A byte string as text for humans: lossy UTF-8 with control characters escaped.
fn name_text(b: &[u8]) -> String {
    sanitize(b)
}

/// The path of bucket `i`, segments joined with '/'.
fn path_text(w: &Walk<'_>, i: usize) -> String {
    w.path(i)
        .iter()
        .map(|p| name_text(p))
        .collect::<Vec<_>>()
        .join("/")
}

/// Name as a JSON string plus exact base64 when not UTF-8 (as `prefixes` does).
#[derive(Debug, Serialize)]
struct NameJson {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name_base64: Option<String>,
}

fn name_json(segments: &[&[u8]]) -> NameJson {
    let joined: Vec<u8> = segments.join(&b'/');
    match std::str::from_utf8(&joined) {
        Ok(s) => NameJson {
            name: s.to_string(),
            name_base64: None,
        },
        Err(_) => NameJson {
            name: String::from_utf8_lossy(&joined).into_owned(),
            name_base64: Some(base64::engine::general_purpose::STANDARD.encode(&joined)),
        },
    }
}

// ---------------------------------------------------------------------------------------
// info

/// `info <DB>`: `Page Size: N`, as `bbolt info` prints it; with `--detail`, also the file
/// size, both metas and which one is used.
///
/// JSON: `{"path", "input_kind", "file_size", "db_size", "sha256_trailer_ok" (null unless
/// a snapshot file), "page_size", "file_pages", "meta_in_use" (0, 1 or null when neither
/// is valid), "metas": [{"index", "valid", "problem" (null or text), "magic", "version",
/// "page_size", "flags", "root", "sequence", "freelist" (null when not persisted),
/// "high_water_mark", "txid", "checksum", "computed_checksum", "checksum_ok"}]}` — the
/// meta fields are absent when the file is too short to hold that meta.
/// Exit status: 0 when a valid meta exists, 1 when neither is valid, 2 when unreadable.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// Data dir, member dir, db file or `etcdctl snapshot save` file.
    pub db: PathBuf,
    /// Also print the file size and both meta pages (beyond what `bbolt info` prints).
    #[arg(long)]
    pub detail: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct MetaJson {
    index: usize,
    valid: bool,
    problem: Option<String>,
    #[serde(flatten)]
    fields: Option<MetaFields>,
}

#[derive(Debug, Serialize)]
struct MetaFields {
    magic: u32,
    version: u32,
    page_size: u32,
    flags: u32,
    root: Pgid,
    sequence: u64,
    freelist: Option<Pgid>,
    high_water_mark: Pgid,
    txid: u64,
    checksum: String,
    computed_checksum: String,
    checksum_ok: bool,
}

fn meta_json(s: &MetaSlot) -> MetaJson {
    MetaJson {
        index: s.index,
        valid: s.is_valid(),
        problem: s.problem.map(|p| p.to_string()),
        fields: s.meta.map(|m| MetaFields {
            magic: m.magic,
            version: m.version,
            page_size: m.page_size,
            flags: m.flags,
            root: m.root,
            sequence: m.sequence,
            freelist: m.freelist_persisted().then_some(m.freelist),
            high_water_mark: m.high_water_mark,
            txid: m.txid,
            checksum: format!("{:016x}", m.checksum),
            computed_checksum: format!("{:016x}", m.computed_checksum),
            checksum_ok: m.checksum_ok,
        }),
    }
}

#[derive(Debug, Serialize)]
struct InfoJson {
    schema: &'static str,
    path: PathBuf,
    input_kind: InputKind,
    file_size: u64,
    db_size: u64,
    sha256_trailer_ok: Option<bool>,
    page_size: Option<usize>,
    file_pages: Option<u64>,
    meta_in_use: Option<usize>,
    metas: Vec<MetaJson>,
}

/// Runs `info`.
pub fn run_info(args: &InfoArgs) -> Result<u8> {
    let image = open_image(&args.db)?;
    let bytes = image.bytes();
    let db = Db::open(bytes);
    let slots: [MetaSlot; 2] = match &db {
        Ok(db) => db.metas(),
        // Neither meta is valid: show what the bytes hold at the usual places.
        Err(_) => bbolt_reader::meta::guess_slots(bytes, bbolt_reader::meta::page_size_in_range).1,
    };
    if slots
        .iter()
        .all(|s| s.meta.is_none_or(|m| m.magic != bbolt_reader::meta::MAGIC))
    {
        let not_bbolt = "not a bbolt file: neither meta page carries the magic number 0xed0cdaed";
        return Err(CliError::input(
            image.path.clone(),
            match input::other_format_hint(&image.path, image.bytes()) {
                Some(h) => format!("{not_bbolt}; {h}"),
                None => not_bbolt.to_string(),
            },
        ));
    }
    let report = InfoJson {
        schema: "etcd-autopsy/info/v1",
        path: image.path.clone(),
        input_kind: image.kind,
        file_size: image.file_len(),
        db_size: bytes.len() as u64,
        sha256_trailer_ok: image.sha256_matches(),
        page_size: db.as_ref().ok().map(|d| d.page_size()),
        file_pages: db.as_ref().ok().map(|d| d.page_count()),
        meta_in_use: db.as_ref().ok().map(|d| d.meta_index()),
        metas: slots.iter().map(meta_json).collect(),
    };
    let code = if db.is_ok() { EXIT_OK } else { EXIT_DAMAGE };
    if args.json {
        print_json(&report)?;
        return Ok(code);
    }
    let mut out = stdout();
    if let (false, Some(ps)) = (args.detail, report.page_size) {
        // bbolt's own line. Without a valid meta bbolt has nothing to print but an error;
        // the detailed layout below says what is wrong instead.
        writeln!(out, "Page Size: {ps}")?;
        out.flush()?;
        return Ok(code);
    }
    writeln!(out, "File:        {}", image.path.display())?;
    writeln!(
        out,
        "File size:   {} bytes{}",
        report.file_size,
        match report.sha256_trailer_ok {
            Some(ok) => format!(
                " (etcdctl snapshot: bbolt part {} bytes + SHA-256 trailer, {})",
                report.db_size,
                if ok { "matches" } else { "DOES NOT MATCH" }
            ),
            None => String::new(),
        }
    )?;
    match (&db, report.page_size) {
        (Ok(d), Some(ps)) => {
            writeln!(out, "Page Size:   {ps}")?;
            writeln!(out, "File pages:  {}", d.page_count())?;
            writeln!(out, "Meta in use: {}", d.meta_index())?;
        }
        _ => writeln!(out, "Meta in use: none (neither meta page is valid)")?,
    }
    for s in &slots {
        writeln!(out)?;
        let state = match s.problem {
            None => "valid".to_string(),
            Some(p) => format!("INVALID: {p}"),
        };
        writeln!(out, "Meta {} ({state})", s.index)?;
        if let Some(m) = s.meta {
            writeln!(out, "  Version:    {}", m.version)?;
            writeln!(out, "  Page Size:  {} bytes", m.page_size)?;
            writeln!(out, "  Flags:      {:08x}", m.flags)?;
            writeln!(out, "  Root:       <pgid={}>", m.root)?;
            if m.freelist_persisted() {
                writeln!(out, "  Freelist:   <pgid={}>", m.freelist)?;
            } else {
                writeln!(out, "  Freelist:   not persisted (NoFreelistSync)")?;
            }
            writeln!(out, "  HWM:        <pgid={}>", m.high_water_mark)?;
            writeln!(out, "  Txn ID:     {}", m.txid)?;
            writeln!(
                out,
                "  Checksum:   {:016x} ({})",
                m.checksum,
                if m.checksum_ok {
                    "ok".to_string()
                } else {
                    format!("computed {:016x}", m.computed_checksum)
                }
            )?;
        }
    }
    out.flush()?;
    Ok(code)
}

// ---------------------------------------------------------------------------------------
// buckets

/// `buckets <DB>`: the top-level bucket names, one per line, as `bbolt buckets` prints
/// them; with `--detail`, every bucket (nested ones as `a/b` paths) and its key count.
///
/// JSON: `{"buckets": [{"name", "name_base64" (only when not UTF-8), "keys", "buckets",
/// "inline", "root" (pgid, null when inline)}]}` — `keys` counts the bucket's own
/// key/value pairs, `buckets` its direct sub-buckets. Exit status: 0; 1 when the walk found
/// damage (see `check`); 2 when unreadable.
#[derive(Debug, clap::Args)]
pub struct BucketsArgs {
    /// The db and the options every bbolt command takes.
    #[command(flatten)]
    pub db: DbArgs,
    /// Every bucket, nested ones as paths, with its key and sub-bucket counts.
    #[arg(long)]
    pub detail: bool,
}

#[derive(Debug, Serialize)]
struct BucketJson {
    #[serde(flatten)]
    name: NameJson,
    keys: u64,
    buckets: u64,
    inline: bool,
    root: Option<Pgid>,
}

/// Runs `buckets`.
pub fn run_buckets(args: &BucketsArgs) -> Result<u8> {
    let image = open_image(&args.db.db)?;
    let db = open_db(&image, args.db.meta)?;
    if !args.detail && !args.db.json {
        // bbolt's layout: the root bucket's keys, in order, without walking the file.
        let mut out = stdout();
        for item in db.root().iter() {
            let item = item.map_err(|e| bolt_err(&image, e))?;
            writeln!(out, "{}", name_text(item.key))?;
        }
        out.flush()?;
        return Ok(EXIT_OK);
    }
    let w = walk_with_bar(&db);
    let mut children = vec![0u64; w.buckets.len()];
    for b in &w.buckets {
        if let Some(p) = b.parent {
            children[p] += 1;
        }
    }
    let rows: Vec<(usize, u64, u64)> = (1..w.buckets.len())
        .map(|i| {
            let own = w.buckets[i].own.keys.saturating_sub(children[i]);
            (i, own, children[i])
        })
        .collect();
    let code = walk_exit_status(&w);
    if args.db.json {
        let list: Vec<BucketJson> = rows
            .iter()
            .map(|&(i, keys, subs)| BucketJson {
                name: name_json(&w.path(i)),
                keys,
                buckets: subs,
                inline: w.buckets[i].root.is_none(),
                root: w.buckets[i].root,
            })
            .collect();
        print_json(&serde_json::json!({ "schema": "etcd-autopsy/buckets/v1", "buckets": list }))?;
        return Ok(code);
    }
    let mut order: Vec<(String, u64, u64)> = rows
        .iter()
        .map(|&(i, k, s)| (path_text(&w, i), k, s))
        .collect();
    order.sort();
    let width = order.iter().map(|r| r.0.len()).max().unwrap_or(6).max(6);
    let mut out = stdout();
    writeln!(out, "{:<width$}  {:>10}", "BUCKET", "KEYS")?;
    for (name, keys, subs) in order {
        if subs > 0 {
            writeln!(out, "{name:<width$}  {keys:>10}  (+{subs} buckets)")?;
        } else {
            writeln!(out, "{name:<width$}  {keys:>10}")?;
        }
    }
    finish_walk_text(out, &w)?;
    Ok(code)
}

// ---------------------------------------------------------------------------------------
// stats

/// `stats <DB> [PREFIX]`: the aggregate that `bbolt stats` prints, in its layout; with
/// `--detail`, also a table per top-level bucket (bbolt's `Bucket.Stats()` meaning) and the
/// page totals.
///
/// JSON: `{"buckets": [{"name", "name_base64"?, "branch_pages", "branch_overflow",
/// "leaf_pages", "leaf_overflow", "keys", "depth", "branch_inuse", "leaf_inuse",
/// "branch_alloc", "leaf_alloc", "buckets", "inline_buckets", "inline_inuse"}], "total":
/// {same fields, summed over the listed buckets as `bbolt stats` does}, "free_pages",
/// "high_water_mark", "page_size", "file_pages", "reachable_pages",
/// "pages_past_high_water", "freelist": "persisted" | "reconstructed" | "unreadable"}`.
/// One entry per top-level bucket; its figures include its sub-buckets (bbolt's meaning).
/// Exit status: 0; 1 when the walk found damage; 2 when unreadable.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// The db and the options every bbolt command takes.
    #[command(flatten)]
    pub db: DbArgs,
    /// Only top-level buckets whose name starts with this prefix (as `bbolt stats`).
    pub prefix: Option<String>,
    /// Add a table per top-level bucket and the page totals around bbolt's block.
    #[arg(long)]
    pub detail: bool,
}

#[derive(Debug, Serialize)]
struct StatsJson {
    branch_pages: u64,
    branch_overflow: u64,
    leaf_pages: u64,
    leaf_overflow: u64,
    keys: u64,
    depth: u64,
    branch_inuse: u64,
    leaf_inuse: u64,
    branch_alloc: u64,
    leaf_alloc: u64,
    buckets: u64,
    inline_buckets: u64,
    inline_inuse: u64,
}

impl From<&bbolt_reader::BucketStats> for StatsJson {
    fn from(s: &bbolt_reader::BucketStats) -> Self {
        StatsJson {
            branch_pages: s.branch_pages,
            branch_overflow: s.branch_overflow,
            leaf_pages: s.leaf_pages,
            leaf_overflow: s.leaf_overflow,
            keys: s.keys,
            depth: s.depth,
            branch_inuse: s.branch_inuse,
            leaf_inuse: s.leaf_inuse,
            branch_alloc: s.branch_alloc,
            leaf_alloc: s.leaf_alloc,
            buckets: s.buckets,
            inline_buckets: s.inline_buckets,
            inline_inuse: s.inline_inuse,
        }
    }
}

#[derive(Debug, Serialize)]
struct BucketStatsJson {
    #[serde(flatten)]
    name: NameJson,
    #[serde(flatten)]
    stats: StatsJson,
}

fn freelist_text(f: FreelistSource) -> &'static str {
    match f {
        FreelistSource::Persisted(_) => "persisted",
        FreelistSource::Reconstructed => "reconstructed",
        FreelistSource::Unreadable(_) => "unreadable",
    }
}

fn pct(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        0
    } else {
        // bbolt computes this in float32 and truncates.
        ((part as f32) * 100.0 / (whole as f32)) as u64
    }
}

/// Runs `stats`.
pub fn run_stats(args: &StatsArgs) -> Result<u8> {
    let image = open_image(&args.db.db)?;
    let db = open_db(&image, args.db.meta)?;
    let w = walk_with_bar(&db);
    let all = w.bucket_stats();
    let prefix = args.prefix.as_deref().unwrap_or("").as_bytes();
    let chosen: Vec<usize> = w
        .top_level()
        .filter(|i| w.buckets[*i].name.starts_with(prefix))
        .collect();
    let mut total = bbolt_reader::BucketStats::default();
    for i in &chosen {
        total.add(&all[*i]);
    }
    let code = walk_exit_status(&w);
    let g = &w.graph;
    if args.db.json {
        let buckets: Vec<BucketStatsJson> = chosen
            .iter()
            .map(|&i| BucketStatsJson {
                name: name_json(&w.path(i)),
                stats: StatsJson::from(&all[i]),
            })
            .collect();
        print_json(&serde_json::json!({
            "schema": "etcd-autopsy/stats/v1",
            "buckets": buckets,
            "total": StatsJson::from(&total),
            "free_pages": g.free_count(),
            "high_water_mark": g.high_water_mark,
            "page_size": g.page_size,
            "file_pages": g.file_pages,
            "reachable_pages": g.reachable_count(),
            "pages_past_high_water": g.past_high_water_count(),
            "freelist": freelist_text(g.freelist),
        }))?;
        return Ok(code);
    }
    let mut out = stdout();
    if args.detail {
        stats_table(&mut out, &w, &all, &chosen)?;
    }
    let s = &total;
    // The block below has the layout `bbolt stats` prints.
    writeln!(out, "Aggregate statistics for {} buckets\n", chosen.len())?;
    writeln!(out, "Page count statistics")?;
    writeln!(out, "\tNumber of logical branch pages: {}", s.branch_pages)?;
    writeln!(
        out,
        "\tNumber of physical branch overflow pages: {}",
        s.branch_overflow
    )?;
    writeln!(out, "\tNumber of logical leaf pages: {}", s.leaf_pages)?;
    writeln!(
        out,
        "\tNumber of physical leaf overflow pages: {}",
        s.leaf_overflow
    )?;
    writeln!(out, "Tree statistics")?;
    writeln!(out, "\tNumber of keys/value pairs: {}", s.keys)?;
    writeln!(out, "\tNumber of levels in B+tree: {}", s.depth)?;
    writeln!(out, "Page size utilization")?;
    writeln!(
        out,
        "\tBytes allocated for physical branch pages: {}",
        s.branch_alloc
    )?;
    writeln!(
        out,
        "\tBytes actually used for branch data: {} ({}%)",
        s.branch_inuse,
        pct(s.branch_inuse, s.branch_alloc)
    )?;
    writeln!(
        out,
        "\tBytes allocated for physical leaf pages: {}",
        s.leaf_alloc
    )?;
    writeln!(
        out,
        "\tBytes actually used for leaf data: {} ({}%)",
        s.leaf_inuse,
        pct(s.leaf_inuse, s.leaf_alloc)
    )?;
    writeln!(out, "Bucket statistics")?;
    writeln!(out, "\tTotal number of buckets: {}", s.buckets)?;
    writeln!(
        out,
        "\tTotal number on inlined buckets: {} ({}%)",
        s.inline_buckets,
        pct(s.inline_buckets, s.buckets)
    )?;
    writeln!(
        out,
        "\tBytes used for inlined buckets: {} ({}%)",
        s.inline_inuse,
        pct(s.inline_inuse, s.leaf_inuse)
    )?;
    if !args.detail {
        // Keep stdout exactly bbolt's; damage is still reported, on stderr.
        out.flush()?;
        if !w.findings.is_empty() {
            crate::output::note(&format!(
                "warning: {} findings while walking; run `etcd-autopsy check`",
                w.findings.len()
            ));
        }
        return Ok(code);
    }
    writeln!(out)?;
    writeln!(
        out,
        "Pages: {} in file, high-water mark {}, {} reachable, {} free ({} freelist), {} past the high-water mark; page size {}",
        g.file_pages,
        g.high_water_mark,
        g.reachable_count(),
        g.free_count(),
        freelist_text(g.freelist),
        g.past_high_water_count(),
        g.page_size
    )?;
    finish_walk_text(out, &w)?;
    Ok(code)
}

/// The per-bucket table `stats --detail` prints before bbolt's block.
fn stats_table(
    mut out: impl Write,
    w: &Walk<'_>,
    all: &[bbolt_reader::BucketStats],
    chosen: &[usize],
) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<20} {:>10} {:>5} {:>8} {:>8} {:>8} {:>8} {:>12} {:>12}",
        "BUCKET", "KEYS", "DEPTH", "BRANCH", "B-OVFL", "LEAF", "L-OVFL", "LEAF-INUSE", "LEAF-ALLOC"
    )?;
    for &i in chosen {
        let s = &all[i];
        writeln!(
            out,
            "{:<20} {:>10} {:>5} {:>8} {:>8} {:>8} {:>8} {:>12} {:>12}",
            path_text(w, i),
            s.keys,
            s.depth,
            s.branch_pages,
            s.branch_overflow,
            s.leaf_pages,
            s.leaf_overflow,
            s.leaf_inuse,
            s.leaf_alloc
        )?;
    }
    writeln!(out)
}

// ---------------------------------------------------------------------------------------
// pages

/// `pages <DB>`: the page table as `bbolt pages` prints it (ID, TYPE, ITEMS, OVRFLW for
/// every page below the high-water mark; free pages show type `free`; a page's overflow
/// pages are skipped). `--owners` adds the bucket that owns each page.
///
/// JSON: `{"page_size", "high_water_mark", "pages": [{"id", "type", "items" (null for free
/// pages), "overflow", "owner" (bucket path or null), "reachable", "free"}]}`. Exit status:
/// 0; 2 when unreadable.
#[derive(Debug, clap::Args)]
pub struct PagesArgs {
    /// The db and the options every bbolt command takes.
    #[command(flatten)]
    pub db: DbArgs,
    /// Add an OWNER column: the bucket whose tree holds the page.
    #[arg(long)]
    pub owners: bool,
}

#[derive(Debug, Serialize)]
struct PageRowJson {
    id: Pgid,
    #[serde(rename = "type")]
    kind: String,
    items: Option<u64>,
    overflow: u32,
    owner: Option<String>,
    reachable: bool,
    free: bool,
}

fn page_items(p: &Page<'_>) -> u64 {
    if p.kind() == PageKind::Freelist {
        p.freelist_ids()
            .map_or(p.count() as u64, |i| i.len() as u64)
    } else {
        p.count() as u64
    }
}

fn owner_text(w: &Walk<'_>, u: Option<PageUse>) -> Option<String> {
    match u? {
        PageUse::Meta => Some("(meta)".into()),
        PageUse::Freelist => Some("(freelist)".into()),
        PageUse::Overflow(bbolt_reader::walk::NO_BUCKET) => Some("(freelist)".into()),
        u => u.bucket().map(|b| {
            if b == 0 {
                "(root)".to_string()
            } else {
                path_text(w, b)
            }
        }),
    }
}

/// Runs `pages`.
pub fn run_pages(args: &PagesArgs) -> Result<u8> {
    let image = open_image(&args.db.db)?;
    let db = open_db(&image, args.db.meta)?;
    let w = walk_with_bar(&db);
    let g = &w.graph;
    let hwm = g.high_water_mark.min(g.file_pages);
    let mut rows = Vec::new();
    let mut id: Pgid = 0;
    while id < hwm {
        let free = g.is_free(id);
        let p = db.page(id).ok();
        let (kind, items, overflow) = match (&p, free) {
            (_, true) => ("free".to_string(), None, p.map_or(0, |p| p.overflow())),
            (Some(p), false) => (p.kind().to_string(), Some(page_items(p)), p.overflow()),
            (None, false) => ("unreadable".to_string(), None, 0),
        };
        rows.push(PageRowJson {
            id,
            kind,
            items,
            overflow,
            owner: owner_text(&w, g.page_use(id)),
            reachable: g.is_reachable(id),
            free,
        });
        id += 1;
        if !free {
            id = id.saturating_add(u64::from(overflow));
        }
    }
    if args.db.json {
        print_json(&serde_json::json!({
            "schema": "etcd-autopsy/pages/v1",
            "page_size": g.page_size,
            "high_water_mark": g.high_water_mark,
            "pages": rows,
        }))?;
        return Ok(EXIT_OK);
    }
    let mut out = stdout();
    if args.owners {
        writeln!(out, "ID       TYPE       ITEMS  OVRFLW OWNER")?;
        writeln!(out, "======== ========== ====== ====== ==========")?;
    } else {
        writeln!(out, "ID       TYPE       ITEMS  OVRFLW")?;
        writeln!(out, "======== ========== ====== ======")?;
    }
    for r in &rows {
        let items = r.items.map(|n| n.to_string()).unwrap_or_default();
        let ovf = if r.free || r.overflow == 0 {
            String::new()
        } else {
            r.overflow.to_string()
        };
        if args.owners {
            writeln!(
                out,
                "{:<8} {:<10} {:<6} {:<6} {}",
                r.id,
                r.kind,
                items,
                ovf,
                r.owner.as_deref().unwrap_or("")
            )?;
        } else {
            writeln!(out, "{:<8} {:<10} {:<6} {:<6}", r.id, r.kind, items, ovf)?;
        }
    }
    out.flush()?;
    Ok(EXIT_OK)
}

// ---------------------------------------------------------------------------------------
// page

/// `page <DB> <PGID>... | --all [--format-value F]`: pages' headers and items, as `bbolt
/// page` prints them (keys quoted when printable, else hex; values as text when printable,
/// else hex, or as `--format-value` says;
/// nested buckets as `<pgid=N,seq=S>`). A leaf value that is an etcd KeyValue of a key
/// under `/registry/secrets/` is redacted unless `--show-secrets`.
///
/// JSON: `{"pages": [{"id", "header_id", "type", "flags", "count", "overflow",
/// "total_size", "error" (null or text), "meta" (for meta pages: as in `info`), "items":
/// [{"key": bytes, "value": bytes | null, "pgid" (branch), "bucket": {"root", "sequence"}
/// (nested bucket), "redacted": bool}], "freelist": [pgid...]}]}` with bytes as
/// `{"text"}` or `{"base64"}`. Exit status: 0; 1 when a page could not be shown; 2 when
/// the db is unreadable.
#[derive(Debug, clap::Args)]
pub struct PageArgs {
    /// Data dir, member dir, db file or `etcdctl snapshot save` file.
    pub db: PathBuf,
    /// Page ids to print.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub pgids: Vec<Pgid>,
    /// Print every page below the high-water mark (a page's overflow pages are skipped).
    #[arg(long)]
    pub all: bool,
    /// How leaf values are printed, as `bbolt page --format-value`: `auto` (text when
    /// printable, else hex), `ascii-encoded` (Go-quoted), `hex`, `bytes` (raw, sanitized
    /// for the terminal), `redacted` (length and SHA-256 only).
    #[arg(long, default_value = "auto", value_parser = ["auto", "ascii-encoded", "hex", "bytes", "redacted"])]
    pub format_value: String,
    /// Show values under /registry/secrets/.
    #[arg(long)]
    pub show_secrets: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Go's `unicode.IsPrint` over a whole string, approximated (see [`go_is_print`]).
fn printable(b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok_and(|s| s.chars().all(go_is_print))
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

/// True when `value` is an etcd KeyValue whose key is under /registry/secrets/, or a
/// damaged one that may be ([`crate::redact::is_secret_kv`]).
fn is_secret_value(value: &[u8]) -> bool {
    crate::redact::is_secret_kv(value)
}

/// The marker `page` prints instead of a leaf value, which may belong to any bucket: a
/// Secret's KeyValue, or what looks like an authUsers record with a bcrypt hash.
fn page_value_marker(value: &[u8], redactor: &Redactor) -> Option<&'static str> {
    if redactor.show_secrets {
        None
    } else if is_secret_value(value) {
        Some(crate::redact::REDACTED)
    } else if crate::redact::looks_like_user_with_hash(value) {
        Some(crate::redact::REDACTED_USER)
    } else {
        None
    }
}

#[derive(Debug, Serialize)]
struct ItemJson {
    key: JsonBytes,
    value: Option<JsonBytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pgid: Option<Pgid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bucket: Option<serde_json::Value>,
    redacted: bool,
}

#[derive(Debug, Serialize)]
struct PageJson {
    id: Pgid,
    header_id: Option<Pgid>,
    #[serde(rename = "type")]
    kind: Option<String>,
    flags: Option<u16>,
    count: Option<u64>,
    overflow: Option<u32>,
    total_size: Option<u64>,
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<MetaJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    items: Vec<ItemJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    freelist: Option<Vec<Pgid>>,
}

/// Reads page `pgid` for display. Mirrors bbolt's own refusals: an id in the header that
/// differs from the position, an overflow count beyond the high-water mark.
fn page_for_display<'a>(db: &Db<'a>, pgid: Pgid) -> std::result::Result<Page<'a>, String> {
    let p = db.page(pgid).map_err(|e| e.to_string())?;
    if p.id() != pgid {
        return Err(format!(
            "error: data is corrupt due to unexpected Page id: {} != {pgid}",
            p.id()
        ));
    }
    if u64::from(p.overflow()) >= db.meta().high_water_mark.saturating_sub(3) && p.overflow() > 0 {
        return Err(format!(
            "error: data is corrupt, Page claims to have {} overflow pages (>=hwm={})",
            p.overflow(),
            db.meta().high_water_mark
        ));
    }
    if db.page_span_truncated(&p) {
        return Err("unexpected EOF".to_string());
    }
    Ok(p)
}

fn describe_page(db: &Db<'_>, pgid: Pgid, redactor: &Redactor) -> PageJson {
    let mut pj = PageJson {
        id: pgid,
        header_id: None,
        kind: None,
        flags: None,
        count: None,
        overflow: None,
        total_size: None,
        error: None,
        meta: None,
        items: Vec::new(),
        freelist: None,
    };
    let p = match page_for_display(db, pgid) {
        Ok(p) => p,
        Err(e) => {
            pj.error = Some(e);
            return pj;
        }
    };
    pj.header_id = Some(p.id());
    pj.kind = Some(p.kind().to_string());
    pj.flags = Some(p.flags());
    pj.count = Some(p.count() as u64);
    pj.overflow = Some(p.overflow());
    pj.total_size = Some(p.bytes().len() as u64);
    match p.kind() {
        PageKind::Meta => {
            let slot = MetaSlot::read(db.data(), pgid as usize, p.offset() as usize);
            pj.meta = Some(meta_json(&slot));
        }
        PageKind::Freelist => match p.freelist_ids() {
            Ok(ids) => {
                pj.count = Some(ids.len() as u64);
                pj.freelist = Some(ids.collect());
            }
            Err(e) => pj.error = Some(e.to_string()),
        },
        PageKind::Branch => {
            for el in p.branch_elements() {
                match el {
                    Ok(el) => pj.items.push(ItemJson {
                        key: JsonBytes::new(el.key),
                        value: None,
                        pgid: Some(el.pgid),
                        bucket: None,
                        redacted: false,
                    }),
                    Err(e) => {
                        pj.error = Some(e.to_string());
                        break;
                    }
                }
            }
        }
        PageKind::Leaf => {
            for el in p.leaf_elements() {
                match el {
                    Ok(el) if el.is_bucket() => {
                        let (root, seq) = BucketHeader::parse_partial(el.value);
                        pj.items.push(ItemJson {
                            key: JsonBytes::new(el.key),
                            value: None,
                            pgid: None,
                            bucket: Some(serde_json::json!({"root": root, "sequence": seq})),
                            redacted: false,
                        });
                    }
                    Ok(el) => {
                        let hide = page_value_marker(el.value, redactor).is_some();
                        pj.items.push(ItemJson {
                            key: JsonBytes::new(el.key),
                            value: (!hide).then(|| JsonBytes::new(el.value)),
                            pgid: None,
                            bucket: None,
                            redacted: hide,
                        });
                    }
                    Err(e) => {
                        pj.error = Some(e.to_string());
                        break;
                    }
                }
            }
        }
        PageKind::Unknown(_) => {}
    }
    pj
}

/// A leaf value as `bbolt page --format-value` prints it.
fn format_value(v: &[u8], format: &str) -> String {
    match format {
        "ascii-encoded" => go_quote(v),
        "hex" => hex(v),
        "bytes" => sanitize(v),
        "redacted" => {
            use sha2::{Digest, Sha256};
            format!(
                "<redacted len:{} sha256:{}>",
                v.len(),
                hex(&Sha256::digest(v))
            )
        }
        _ if printable(v) => sanitize(v),
        _ => hex(v),
    }
}

fn key_text(k: &[u8]) -> String {
    if printable(k) {
        go_quote(k)
    } else {
        hex(k)
    }
}

/// Runs `page`.
pub fn run_page(args: &PageArgs) -> Result<u8> {
    let image = open_image(&args.db)?;
    let db = open_db(&image, MetaArg::Newest)?;
    let redactor = Redactor {
        show_secrets: args.show_secrets,
    };
    let pgids: Vec<Pgid> = if args.all {
        // Every page below the high-water mark, stepping over overflow pages; a page that
        // cannot be read counts as one page.
        let hwm = db.meta().high_water_mark.min(db.page_count());
        let mut ids = Vec::new();
        let mut id = 0;
        while id < hwm {
            ids.push(id);
            let step = page_for_display(&db, id).map_or(1, |p| 1 + u64::from(p.overflow()));
            id = id.saturating_add(step);
        }
        ids
    } else {
        args.pgids.clone()
    };
    let pages: Vec<PageJson> = pgids
        .iter()
        .map(|&id| describe_page(&db, id, &redactor))
        .collect();
    let code = if pages.iter().any(|p| p.error.is_some()) {
        EXIT_DAMAGE
    } else {
        EXIT_OK
    };
    if args.json {
        print_json(&serde_json::json!({ "schema": "etcd-autopsy/page/v1", "pages": pages }))?;
        return Ok(code);
    }
    let mut out = stdout();
    for (i, &pgid) in pgids.iter().enumerate() {
        if i > 0 {
            writeln!(out, "===============================================")?;
        }
        let p = match page_for_display(&db, pgid) {
            Ok(p) => p,
            Err(e) => {
                writeln!(out, "Printing page {pgid} failed: {e}. Continuing...")?;
                continue;
            }
        };
        writeln!(out, "Page ID:    {}", p.id())?;
        writeln!(out, "Page Type:  {}", p.kind())?;
        writeln!(out, "Total Size: {} bytes", p.bytes().len())?;
        writeln!(out, "Overflow pages: {}", p.overflow())?;
        match p.kind() {
            PageKind::Meta => {
                let slot = MetaSlot::read(db.data(), pgid as usize, p.offset() as usize);
                if let Some(m) = slot.meta {
                    writeln!(out, "Version:    {}", m.version)?;
                    writeln!(out, "Page Size:  {} bytes", m.page_size)?;
                    writeln!(out, "Flags:      {:08x}", m.flags)?;
                    writeln!(out, "Root:       <pgid={}>", m.root)?;
                    writeln!(out, "Freelist:   <pgid={}>", m.freelist)?;
                    writeln!(out, "HWM:        <pgid={}>", m.high_water_mark)?;
                    writeln!(out, "Txn ID:     {}", m.txid)?;
                    writeln!(out, "Checksum:   {:016x}", m.checksum)?;
                    writeln!(out)?;
                }
            }
            PageKind::Leaf => {
                writeln!(out, "Item Count: {}", p.count())?;
                writeln!(out)?;
                for el in p.leaf_elements() {
                    let el = match el {
                        Ok(el) => el,
                        Err(e) => {
                            writeln!(out, "<{e}>")?;
                            continue;
                        }
                    };
                    let v = if el.is_bucket() {
                        let (root, seq) = BucketHeader::parse_partial(el.value);
                        format!("<pgid={},seq={}>", root.unwrap_or(0), seq.unwrap_or(0))
                    } else if let Some(m) = page_value_marker(el.value, &redactor) {
                        m.to_string()
                    } else {
                        format_value(el.value, &args.format_value)
                    };
                    writeln!(out, "{}: {v}", key_text(el.key))?;
                }
                writeln!(out)?;
            }
            PageKind::Branch => {
                writeln!(out, "Item Count: {}", p.count())?;
                writeln!(out)?;
                for el in p.branch_elements() {
                    match el {
                        Ok(el) => writeln!(out, "{}: <pgid={}>", key_text(el.key), el.pgid)?,
                        Err(e) => writeln!(out, "<{e}>")?,
                    }
                }
                writeln!(out)?;
            }
            PageKind::Freelist => match p.freelist_ids() {
                Ok(ids) => {
                    writeln!(out, "Item Count: {}", ids.len())?;
                    writeln!(out, "Overflow: {}", p.overflow())?;
                    writeln!(out)?;
                    for id in ids {
                        writeln!(out, "{id}")?;
                    }
                    writeln!(out)?;
                }
                Err(e) => writeln!(out, "<{e}>")?,
            },
            PageKind::Unknown(_) => {}
        }
    }
    out.flush()?;
    Ok(code)
}

// ---------------------------------------------------------------------------------------
// keys, get

/// Output formats of `bbolt keys` / `get` (v1.3.7 `--format`).
const FORMAT_MODES: [&str; 5] = ["auto", "ascii-encoded", "hex", "bytes", "redacted"];

/// `keys <DB> <BUCKET>...`: the keys of a (nested) bucket, one per line, as `bbolt keys`
/// (v1.3.7) prints them; nested buckets' names included, as bbolt's `ForEach` does.
///
/// `--format`: `bytes` (default: the raw key; sanitized only when stdout is a terminal),
/// `ascii-encoded` (Go `%q`), `hex`, `auto` (raw when printable, else hex), `redacted`
/// (`<redacted len:N sha256:HEX>`). JSON: `{"schema": "etcd-autopsy/keys/v1", "bucket":
/// [bytes...], "keys": [bytes...]}`. Exit status: 0; 2 when unreadable or a bucket is
/// missing.
#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    /// Data dir, member dir, db file or `etcdctl snapshot save` file.
    pub db: PathBuf,
    /// The bucket, then the names of the nested buckets leading to it.
    #[arg(required = true, num_args = 1..)]
    pub buckets: Vec<String>,
    /// Output format: auto, ascii-encoded, hex, bytes, redacted.
    #[arg(long, default_value = "bytes", value_parser = FORMAT_MODES)]
    pub format: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `bbolt-get <DB> <BUCKET>... <KEY>`: one value, as `bbolt get` (v1.3.7) prints it.
///
/// `--parse-format` (`ascii-encoded`: the key as given, `hex`) reads KEY; `--format` as for
/// `keys`. A value that is a Secret (a `key`-bucket KeyValue under /registry/secrets/) or a
/// password hash (an `authUsers` record of a user with a password) prints the redaction
/// marker unless `--show-secrets`. JSON: `{"schema": "etcd-autopsy/bbolt-get/v1", "bucket":
/// [bytes...], "key": bytes, "value": bytes | null (redacted), "redacted": bool}`. Exit
/// status: 0; 2 when unreadable, a bucket is missing or the key is not found.
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// Data dir, member dir, db file or `etcdctl snapshot save` file.
    pub db: PathBuf,
    /// The bucket, the nested buckets leading to it, then the key.
    #[arg(required = true, num_args = 2..)]
    pub path: Vec<String>,
    /// Output format: auto, ascii-encoded, hex, bytes, redacted.
    #[arg(long, default_value = "bytes", value_parser = FORMAT_MODES)]
    pub format: String,
    /// How KEY is written: ascii-encoded (as given) or hex.
    #[arg(long, default_value = "ascii-encoded", value_parser = ["ascii-encoded", "hex"])]
    pub parse_format: String,
    /// Show Secret values and password hashes.
    #[arg(long)]
    pub show_secrets: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Follows `names` from the root: the first is a top-level bucket, each next one nested.
fn nested_bucket<'a>(image: &DbImage, db: &Db<'a>, names: &[String]) -> Result<Bucket<'a>> {
    let mut bucket = db.root();
    for n in names {
        bucket = bucket
            .bucket(n.as_bytes())
            .map_err(|e| bolt_err(image, e))?
            .ok_or_else(|| CliError::input(image.path.clone(), "bucket not found"))?;
    }
    Ok(bucket)
}

/// `b` as `bbolt keys/get --format` writes it, without the newline. `bytes` is raw; it is
/// sanitized only for a terminal, so pipes get bbolt's exact bytes.
fn format_bytes(b: &[u8], format: &str, terminal: bool) -> Vec<u8> {
    match format {
        "ascii-encoded" => go_quote(b).into_bytes(),
        "hex" => hex(b).into_bytes(),
        "auto" if printable(b) => b.to_vec(),
        "auto" => hex(b).into_bytes(),
        // bbolt v1.3.7 appends the SHA-256 of nothing to the raw bytes here (it calls
        // `Sum(b)` on an empty hash), printing the value in hex; we print what the name
        // promises instead: the length and the value's SHA-256.
        "redacted" => format_value(b, "redacted").into_bytes(),
        _ if terminal => sanitize(b).into_bytes(),
        _ => b.to_vec(),
    }
}

fn stdout_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
}

/// Runs `keys`.
pub fn run_keys(args: &KeysArgs) -> Result<u8> {
    let image = open_image(&args.db)?;
    let db = open_db(&image, MetaArg::Newest)?;
    let bucket = nested_bucket(&image, &db, &args.buckets)?;
    let mut keys = Vec::new();
    for item in bucket.iter() {
        keys.push(item.map_err(|e| bolt_err(&image, e))?.key);
    }
    if args.json {
        print_json(&serde_json::json!({
            "schema": "etcd-autopsy/keys/v1",
            "bucket": args.buckets.iter().map(|b| JsonBytes::new(b.as_bytes())).collect::<Vec<_>>(),
            "keys": keys.iter().map(|k| JsonBytes::new(k)).collect::<Vec<_>>(),
        }))?;
        return Ok(EXIT_OK);
    }
    let terminal = stdout_is_terminal();
    let mut out = stdout();
    for k in keys {
        out.write_all(&format_bytes(k, &args.format, terminal))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(EXIT_OK)
}

/// Decodes a `--parse-format hex` key: pairs of hex digits.
fn parse_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() & 1 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The marker printed instead of `value` (found in `bucket`) when it must be hidden.
fn secret_marker(bucket: &[u8], value: &[u8], redactor: &Redactor) -> Option<&'static str> {
    if redactor.show_secrets {
        return None;
    }
    match bucket {
        etcd_mvcc::KEY_BUCKET if is_secret_value(value) => Some(crate::redact::REDACTED),
        etcd_mvcc::buckets::AUTH_USERS_BUCKET if redactor.hides_user(value) => {
            Some(crate::redact::REDACTED_USER)
        }
        _ => None,
    }
}

/// Runs `get`.
pub fn run_get(args: &GetArgs) -> Result<u8> {
    let image = open_image(&args.db)?;
    let (key_arg, names) = args
        .path
        .split_last()
        .ok_or_else(|| CliError::input(image.path.clone(), "bucket required"))?;
    // A key that cannot be parsed is a wrong command line (exit 64), not unreadable input.
    let key = match args.parse_format.as_str() {
        "hex" => parse_hex(key_arg),
        _ => Some(key_arg.as_bytes().to_vec()),
    };
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        eprintln!(
            "etcd-autopsy: bbolt-get: key required ({} as {})",
            sanitize(key_arg.as_bytes()),
            args.parse_format
        );
        return Ok(crate::error::EXIT_USAGE);
    };
    let db = open_db(&image, MetaArg::Newest)?;
    let bucket = nested_bucket(&image, &db, names)?;
    let value = bucket
        .get(&key)
        .map_err(|e| bolt_err(&image, e))?
        .ok_or_else(|| {
            CliError::input(
                image.path.clone(),
                format!(
                    "key not found for key: {} hex: \"{}\"",
                    go_quote(&key),
                    hex(&key)
                ),
            )
        })?;
    let redactor = Redactor {
        show_secrets: args.show_secrets,
    };
    // Only a top-level bucket has etcd meaning (`key`, `authUsers`).
    let top = names.first().map_or(&b""[..], |n| n.as_bytes());
    let marker = if names.len() == 1 {
        secret_marker(top, value, &redactor)
    } else {
        None
    };
    if args.json {
        print_json(&serde_json::json!({
            "schema": "etcd-autopsy/bbolt-get/v1",
            "bucket": names.iter().map(|b| JsonBytes::new(b.as_bytes())).collect::<Vec<_>>(),
            "key": JsonBytes::new(&key),
            "value": marker.is_none().then(|| JsonBytes::new(value)),
            "redacted": marker.is_some(),
        }))?;
        return Ok(EXIT_OK);
    }
    let mut out = stdout();
    match marker {
        Some(m) => out.write_all(m.as_bytes())?,
        None => out.write_all(&format_bytes(value, &args.format, stdout_is_terminal()))?,
    }
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(EXIT_OK)
}

// ---------------------------------------------------------------------------------------
// check

/// `check <DB>`: bbolt's consistency checks plus the hostile-file checks.
///
/// Finding kinds: `meta_invalid`, `page_out_of_bounds`, `page_referenced_twice`,
/// `page_reachable_and_free`, `page_unreachable_not_free`, `wrong_page_type`,
/// `keys_out_of_order`, `element_out_of_page`, `overflow_past_file_end`, `cycle`,
/// `file_truncated`, `page_id_mismatch`, `too_deep`. `page` is the page that is wrong (for
/// a bad reference: the page referred to).
///
/// JSON: `{"ok": bool, "meta_in_use": 0 | 1 | null, "findings": [{"page", "kind",
/// "message"}]}`. Exit status: 0 clean, 1 damage found, 2 when the input cannot be read
/// at all (missing, not a bbolt file).
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The db and the options every bbolt command takes.
    #[command(flatten)]
    pub db: DbArgs,
    /// For a data dir: also answer whether the member can be upgraded to this release
    /// (3.6 or 3.7), each answer citing the rule it checks; exit 1 when one blocks.
    #[arg(long, value_parser = ["3.6", "3.7"])]
    pub upgrade_to: Option<String>,
    /// With --upgrade-to: the data dir of another member of the same cluster (repeat for
    /// each), for the rule that every member is on the same storage version.
    #[arg(long, requires = "upgrade_to")]
    pub peer: Vec<PathBuf>,
}

#[derive(Debug, Serialize)]
struct FindingJson<'a> {
    page: Pgid,
    kind: &'static str,
    message: &'a str,
}

/// Runs `check`.
pub fn run_check(args: &CheckArgs) -> Result<u8> {
    // A data dir or member dir gets the whole-member check (db, WAL, snapshots, agreement).
    if let Ok(m) = input::resolve(&args.db.db) {
        if matches!(m.kind, InputKind::DataDir | InputKind::MemberDir) {
            let upgrade = args
                .upgrade_to
                .as_deref()
                .and_then(etcd_mvcc::version::Release::parse)
                .map(|t| (t, args.peer.clone()));
            return super::member_check::run(&m, args.db.meta.into(), args.db.json, upgrade);
        }
    }
    if args.upgrade_to.is_some() {
        return Err(CliError::input(
            &args.db.db,
            "--upgrade-to needs a data dir or member dir (the WAL and .snap files are read too)",
        ));
    }
    let image = open_image(&args.db.db)?;
    let data = image.bytes();
    let mut layout = Vec::new();
    let report = match Db::open_with(data, args.db.meta.into()) {
        Ok(db) => {
            let w = walk_with_bar(&db);
            // etcd-level: a sound bbolt tree that is not an etcd keyspace (e.g. a forged
            // meta whose root is a key-bucket leaf) is damage too.
            layout = etcd_mvcc::layout::etcd_layout(&db);
            bbolt_reader::check::check_walk(&db, &w)
        }
        Err(_) => match bbolt_reader::check::check_bytes_with(data, args.db.meta.into()) {
            Ok(r) => r,
            Err(e) => {
                let err = bolt_err(&image, e);
                if args.db.json {
                    print_json(&serde_json::json!({
                        "schema": "etcd-autopsy/check/v1",
                        "ok": false,
                        "meta_in_use": null,
                        "error": err.to_string(),
                        "findings": [],
                    }))?;
                } else {
                    eprintln!("etcd-autopsy: {err}");
                }
                return Ok(EXIT_UNREADABLE);
            }
        },
    };
    let findings: Vec<FindingJson<'_>> = report
        .findings
        .iter()
        .map(|f| FindingJson {
            page: f.page,
            kind: f.kind.as_str(),
            message: &f.message,
        })
        .chain(layout.iter().map(|f| FindingJson {
            page: f.page,
            kind: f.kind.as_str(),
            message: &f.message,
        }))
        .collect();
    let clean = findings.is_empty();
    let code = if clean { EXIT_OK } else { EXIT_DAMAGE };
    if args.db.json {
        print_json(&serde_json::json!({
            "schema": "etcd-autopsy/check/v1",
            "ok": clean,
            "meta_in_use": report.meta_index,
            "findings": findings,
        }))?;
        return Ok(code);
    }
    let mut out = stdout();
    for f in &findings {
        writeln!(
            out,
            "page {}: {}: {}",
            f.page,
            f.kind,
            sanitize(f.message.as_bytes())
        )?;
    }
    if clean {
        writeln!(out, "OK")?;
    } else {
        writeln!(out, "{} errors found", findings.len())?;
    }
    out.flush()?;
    Ok(code)
}
