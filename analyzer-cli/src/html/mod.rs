//! The visual report: one self-contained HTML file (`report --html FILE`, `members --html
//! FILE`) an operator can open from a local path, attach to an incident and read at a
//! glance.
//!
//! This is a printer over the data the commands already have, like the text and JSON
//! printers: the report's own JSON object (so every figure on the page is the figure of
//! `report --json`), the report's text (shown verbatim), and for the drawings a few owned
//! summaries made by library functions — the key tree ([`etcd_mvcc::keytree`]), the page
//! map ([`etcd_mvcc::pagemap`]) and the WAL timeline ([`wal_reader::timeline`]). The
//! template, style sheet and script are committed files embedded with `include_str!`;
//! the page loads nothing from the network and needs no fonts.
//!
//! The data rides in a `<script type="application/json">` element (schema
//! `etcd-autopsy/report-html/v1` or `etcd-autopsy/members-html/v1`, see docs/JSON.md) with
//! every `<` escaped, so no key name can end the element. Values are never part of it:
//! the key tree holds key names and byte counts only, so secrets' values cannot appear.
//! After drawing, the script writes what it drew into `data-*` attributes (largest
//! rectangle, cells, bars, markers), which the browser tests read back from the DOM.

use crate::error::{CliError, Result};
use crate::output::human_bytes;
use etcd_mvcc::k8s::{GroupStats, K8sSummary, KeyLenses};
use etcd_mvcc::keytree::{key_tree_with, KeyTree, KeyTreeNode, KubeNode, TreeLimits};
use etcd_mvcc::member::Member;
use etcd_mvcc::pagemap::{page_map, PageClass, PageMap};
use etcd_mvcc::scan::Keyspace;
use serde::ser::{Serialize, SerializeSeq, Serializer};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;
use wal_reader::timeline::{EntryKind, Timeline};

const TEMPLATE: &str = include_str!("template.html");
const CSS: &str = include_str!("report.css");
const JS: &str = include_str!("report.js");

/// Runs of the page map before pages are grouped into cells (each run costs a few bytes).
pub const MAX_PAGE_RUNS: usize = 120_000;
/// Bins of the WAL timeline.
pub const TIMELINE_BINS: usize = 600;

/// What the drawings of `report --html` are made from, besides the report itself.
#[derive(Debug)]
pub struct ReportSources<'s, 'a> {
    /// The page walk of the db.
    pub walk: &'s bbolt_reader::walk::Walk<'a>,
    /// The key-bucket scan, when the db has a key bucket.
    pub keyspace: Option<&'s Keyspace<'a>>,
    /// Prefix depth of the treemap's first level (the report's `--depth`).
    pub depth: usize,
    /// The WAL timeline, when the input has a WAL.
    pub timeline: Option<Timeline>,
    /// The member (for the snap files and the output-path check).
    pub member: &'s Member,
    /// The Kubernetes lens, when the db holds keys under `/registry/`: what it read of each
    /// key (kinds and managedFields in the treemap) and its summary (the tables).
    pub kube: Option<(&'s KeyLenses, &'s K8sSummary)>,
}

/// Rows of each Kubernetes table.
pub const KUBE_ROWS: usize = 10;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

/// JSON for a `<script type="application/json">` element: `<` written as `\u003c`, so
/// no string inside can close the element or open a comment. Written straight into bytes
/// (serde_json's `Display` goes through a formatter and re-checks UTF-8 per piece).
fn script_json(v: &impl Serialize) -> String {
    // Serializing a `Value` or the page's own data cannot fail (every map key is a
    // string); an empty element would make the page's script report the error.
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    let s = String::from_utf8(bytes).unwrap_or_default();
    if s.contains('<') {
        s.replace('<', "\\u003c")
    } else {
        s
    }
}

/// Refuses an output inside the input's member directory: nothing is written next to an
/// input.
fn check_output(out: &Path, member: &Member) -> Result<()> {
    crate::cmd::refuse_output_inside_input(out, member, "the HTML")?;
    Ok(())
}

fn write_file(out: &Path, html: &str) -> Result<()> {
    std::fs::write(out, html).map_err(|e| CliError::Io {
        path: out.to_path_buf(),
        source: e,
    })
}

/// The Kubernetes figures of a node as a compact array: [resource, resource as kubectl
/// names it, kind, objects, live value bytes, history value bytes, managedFields bytes,
/// encrypted objects]; a name is null where the keys below have several.
struct KubeJson<'k>(&'k KubeNode);

impl Serialize for KubeJson<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> std::result::Result<S::Ok, S::Error> {
        let k = self.0;
        let s = &k.stats;
        (
            &k.resource,
            &k.resource_name,
            &k.kind,
            s.objects,
            s.live_bytes,
            s.history_bytes,
            s.managed_fields_bytes,
            s.encrypted,
        )
            .serialize(ser)
    }
}

/// A node as a compact array: [name, bytes, live_bytes, keys, live_keys, revisions,
/// other (0/1), kube (null or [`KubeJson`]), children...]. Serialized in place, with no
/// `Value` made per node; the depth is the tree's, at most [`etcd_mvcc::keytree::MAX_LEVELS`].
struct TreeJson<'n>(&'n KeyTreeNode);

impl Serialize for TreeJson<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> std::result::Result<S::Ok, S::Error> {
        let n = self.0;
        let mut q = ser.serialize_seq(Some(8 + n.children.len()))?;
        q.serialize_element(&n.name)?;
        q.serialize_element(&n.bytes)?;
        q.serialize_element(&n.live_bytes)?;
        q.serialize_element(&n.keys)?;
        q.serialize_element(&n.live_keys)?;
        q.serialize_element(&n.revisions)?;
        q.serialize_element(&u8::from(n.other))?;
        q.serialize_element(&n.kube.as_ref().map(KubeJson))?;
        for c in &n.children {
            q.serialize_element(&TreeJson(c))?;
        }
        q.end()
    }
}

/// The data of `report --html` (schema `etcd-autopsy/report-html/v2`), its fields in the
/// order of their names, as a `serde_json` map writes them.
#[derive(serde::Serialize)]
struct ReportData<'d> {
    pagemap: Value,
    report: &'d Value,
    schema: &'static str,
    snap_files: Value,
    timeline: Option<Value>,
    tree: Option<TreeJson<'d>>,
    tree_depth: usize,
    tree_folded_keys: u64,
    tree_nodes: usize,
}

fn class_name(c: PageClass) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn push_base36(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 13];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize];
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or("0"));
}

fn page_map_json(m: &PageMap) -> Value {
    // One string, a capital letter per class (`A` = the first of `classes`) followed by the
    // number of cells in base 36: a few bytes per run, decoded by one regex in the page.
    let mut runs = String::with_capacity(m.runs.len() * 4);
    for &(c, n) in &m.runs {
        runs.push(char::from(b'A' + c.min(25)));
        push_base36(&mut runs, n);
    }
    json!({
        "page_size": m.page_size,
        "file_pages": m.file_pages,
        "high_water_mark": m.high_water_mark,
        "classes": PageClass::ALL.iter().map(|c| class_name(*c)).collect::<Vec<_>>(),
        "counts": m.counts,
        "cell_pages": m.cell_pages,
        "runs": runs,
    })
}

fn timeline_json(t: &Timeline) -> Value {
    let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        let kinds: Vec<Value> = EntryKind::ALL
            .iter()
            .map(|k| serde_json::to_value(k).unwrap_or(Value::Null))
            .collect();
        o.insert("kinds".into(), Value::Array(kinds));
    }
    v
}

fn snap_files_json(member: &Member) -> Value {
    let Some(dir) = &member.snap_dir else {
        return json!([]);
    };
    let Ok(sd) = wal_reader::SnapDir::open(dir) else {
        return json!([]);
    };
    let mut files: Vec<Value> = sd
        .files
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "index": f.metadata.as_ref().map_or(f.name_index, |m| m.index),
                "term": f.metadata.as_ref().map_or(f.name_term, |m| m.term),
                "ok": f.is_ok(),
            })
        })
        .collect();
    files.reverse();
    Value::Array(files)
}

/// Fills the template.
fn page(title: &str, kind: &str, body: &str, data: &impl Serialize) -> String {
    let mut out = String::with_capacity(TEMPLATE.len() + CSS.len() + JS.len() + body.len());
    let mut rest = TEMPLATE;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find("}}") else {
            break;
        };
        match &rest[i + 2..i + j] {
            "TITLE" => out.push_str(&escape(title)),
            "KIND" => out.push_str(kind),
            "CSS" => out.push_str(CSS),
            "BODY" => out.push_str(body),
            "DATA" => out.push_str(&script_json(data)),
            "JS" => out.push_str(JS),
            other => {
                out.push_str("{{");
                out.push_str(other);
                out.push_str("}}");
            }
        }
        rest = &rest[i + j + 2..];
    }
    out.push_str(rest);
    out
}

/// The steps and problems, as the text report words them, with the commands to copy.
fn steps_html(report: &Value) -> String {
    let mut b = String::new();
    let steps = report["next_steps"].as_array().cloned().unwrap_or_default();
    b.push_str("<section id=\"steps\"><h2>Next steps</h2>");
    if steps.is_empty() {
        b.push_str(
            "<p class=\"step-none\">nothing to do: the file is compact and within its quota</p>",
        );
    } else {
        b.push_str("<ol class=\"steps\">");
        for s in &steps {
            let _ = write!(
                b,
                "<li data-step=\"{}\"><span class=\"step-text\">{}</span>",
                escape(s["id"].as_str().unwrap_or("")),
                escape(s["text"].as_str().unwrap_or(""))
            );
            if let Some(c) = s["command"].as_str() {
                let _ = write!(
                    b,
                    "<div class=\"cmd\"><code>$ {}</code><button type=\"button\" class=\"copy\" data-copy=\"{}\">copy</button></div>",
                    escape(c),
                    escape(c)
                );
            }
            b.push_str("</li>");
        }
        b.push_str("</ol>");
    }
    b.push_str("</section>");
    let problems = report["problems"].as_array().cloned().unwrap_or_default();
    if !problems.is_empty() {
        b.push_str("<section id=\"problems\"><h2>Findings</h2><ul class=\"problems\">");
        for p in &problems {
            let _ = write!(b, "<li>problem: {}</li>", escape(p.as_str().unwrap_or("")));
        }
        b.push_str("</ul></section>");
    }
    b
}

fn share_text(part: u64, whole: u64) -> String {
    etcd_mvcc::advice::pct(etcd_mvcc::advice::share(part, whole))
}

/// One cell: the text, and the exact figure in `data-v` when there is one.
fn cell(b: &mut String, class: &str, text: &str, v: Option<u64>) {
    let _ = match v {
        Some(v) => write!(
            b,
            "<td class=\"{class}\" data-v=\"{v}\">{}</td>",
            escape(text)
        ),
        None => write!(b, "<td class=\"{class}\">{}</td>", escape(text)),
    };
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}

/// The Kubernetes tables: the largest live objects, the most rewritten keys and the share
/// of managedFields by resource, with the figures of `k8s --json` in `data-*` attributes.
/// Key names only: no value, and no part of one, is in them.
fn kube_html(k: &K8sSummary, file_bytes: u64) -> String {
    let t = &k.totals;
    let mut b = String::new();
    let _ = write!(
        b,
        "<section id=\"kube\" class=\"viz\" data-objects=\"{}\" data-revisions=\"{}\" data-live-bytes=\"{}\" data-history-bytes=\"{}\" data-managed-fields-bytes=\"{}\"><h2>Kubernetes objects</h2>\
         <p class=\"note\">{} objects in {} revisions under /registry/: live {} + history {}. managedFields take {} ({} of the live bytes, {} of the file).</p>",
        t.objects,
        t.revisions,
        t.live_bytes,
        t.history_bytes,
        t.managed_fields_bytes,
        t.objects,
        t.revisions,
        human_bytes(t.live_bytes),
        human_bytes(t.history_bytes),
        human_bytes(t.managed_fields_bytes),
        share_text(t.managed_fields_bytes, t.live_bytes),
        share_text(t.managed_fields_bytes, file_bytes),
    );
    b.push_str("<div class=\"kube-tables\">");
    // Largest live objects.
    b.push_str("<table class=\"kube\" id=\"kube-largest\"><caption>Largest live objects</caption><thead><tr><th>key</th><th>kind</th><th>bytes</th><th>revs</th></tr></thead><tbody>");
    for r in k.largest.iter().take(KUBE_ROWS) {
        let _ = write!(b, "<tr data-key=\"{}\">", escape(&r.key));
        cell(&mut b, "key", &r.key, None);
        cell(&mut b, "kind", or_dash(&r.kind), None);
        cell(&mut b, "bytes", &human_bytes(r.bytes), Some(r.bytes));
        cell(
            &mut b,
            "revisions",
            &r.revisions.to_string(),
            Some(r.revisions),
        );
        b.push_str("</tr>");
    }
    b.push_str("</tbody></table>");
    // Most rewritten keys.
    b.push_str("<table class=\"kube\" id=\"kube-churn\"><caption>Most rewritten (revisions kept)</caption><thead><tr><th>key</th><th>kind</th><th>revs</th><th>history</th></tr></thead><tbody>");
    for r in k.most_revisions.iter().take(KUBE_ROWS) {
        let key = if r.live {
            r.key.clone()
        } else {
            format!("{} (deleted)", r.key)
        };
        let _ = write!(b, "<tr data-key=\"{}\">", escape(&r.key));
        cell(&mut b, "key", &key, None);
        cell(&mut b, "kind", or_dash(&r.kind), None);
        cell(
            &mut b,
            "revisions",
            &r.revisions.to_string(),
            Some(r.revisions),
        );
        cell(
            &mut b,
            "history",
            &human_bytes(r.history_bytes),
            Some(r.history_bytes),
        );
        b.push_str("</tr>");
    }
    b.push_str("</tbody></table>");
    // managedFields by resource, most first.
    let mut res: Vec<&(String, GroupStats)> = k
        .by_resource
        .iter()
        .filter(|(_, g)| g.managed_fields_bytes > 0)
        .collect();
    res.sort_by(|a, b| {
        b.1.managed_fields_bytes
            .cmp(&a.1.managed_fields_bytes)
            .then(a.0.cmp(&b.0))
    });
    b.push_str("<table class=\"kube\" id=\"kube-managed\"><caption>managedFields by resource</caption><thead><tr><th>resource</th><th>objects</th><th>live</th><th>managedFields</th><th>of live</th><th>of file</th></tr></thead><tbody>");
    let row = |b: &mut String, name: &str, g: &GroupStats, attr: &str| {
        let _ = write!(b, "<tr {attr}=\"{}\">", escape(name));
        cell(b, "resource", or_dash(name), None);
        cell(b, "objects", &g.objects.to_string(), Some(g.objects));
        cell(b, "live", &human_bytes(g.live_bytes), Some(g.live_bytes));
        cell(
            b,
            "managed",
            &human_bytes(g.managed_fields_bytes),
            Some(g.managed_fields_bytes),
        );
        cell(
            b,
            "share",
            &share_text(g.managed_fields_bytes, g.live_bytes),
            None,
        );
        cell(
            b,
            "file-share",
            &share_text(g.managed_fields_bytes, file_bytes),
            None,
        );
        b.push_str("</tr>");
    };
    for (name, g) in res.iter().take(KUBE_ROWS) {
        row(&mut b, name, g, "data-resource");
    }
    row(&mut b, "TOTAL", t, "data-total");
    b.push_str("</tbody></table></div></section>");
    b
}

/// Writes the HTML of `report --html`. `report` is the report's JSON object and `text`
/// its text output (shown as is).
pub fn write_report(
    out: &Path,
    report: &Value,
    text: &str,
    src: ReportSources<'_, '_>,
) -> Result<()> {
    check_output(out, src.member)?;
    // Independent of each other: on two threads they overlap.
    let lenses = src.kube.map(|(l, _)| l);
    let (tree, pm): (Option<KeyTree>, PageMap) = rayon::join(
        || {
            src.keyspace
                .map(|ks| key_tree_with(ks, src.depth, TreeLimits::default(), lenses))
        },
        || page_map(src.walk, src.keyspace, MAX_PAGE_RUNS),
    );
    let data = ReportData {
        pagemap: page_map_json(&pm),
        report,
        schema: "etcd-autopsy/report-html/v2",
        snap_files: snap_files_json(src.member),
        timeline: src.timeline.as_ref().map(timeline_json),
        tree: tree.as_ref().map(|t| TreeJson(&t.root)),
        tree_depth: src.depth,
        tree_folded_keys: tree.as_ref().map_or(0, |t| t.folded_keys),
        tree_nodes: tree.as_ref().map_or(0, |t| t.nodes),
    };
    let input = report["input"].as_str().unwrap_or("");
    let mut body = String::new();
    let _ = write!(
        body,
        "<header><h1>etcd member report</h1><p class=\"input\">{}</p><div id=\"facts\"></div></header>",
        escape(input)
    );
    body.push_str(&steps_html(report));
    body.push_str(
        "<section id=\"gauge\" class=\"viz\"><h2>Quota</h2><div class=\"note\"></div><div class=\"legend\"></div><svg id=\"gauge-svg\" role=\"img\"></svg></section>\
         <section id=\"treemap\" class=\"viz\"><h2>Keyspace <span class=\"crumbs\"></span></h2><div class=\"note\"></div><div id=\"treemap-box\"></div></section>",
    );
    if let Some((_, k8s)) = src.kube.filter(|(_, k)| k.totals.revisions > 0) {
        let file = report["space"]["file_size"].as_u64().unwrap_or(0);
        body.push_str(&kube_html(k8s, file));
    }
    body.push_str(
        "\
         <section id=\"pagemap\" class=\"viz\"><h2>The file, page by page</h2><div class=\"note\"></div><div class=\"legend\"></div><canvas id=\"pagemap-canvas\"></canvas></section>\
         <section id=\"timeline\" class=\"viz\"><h2>WAL</h2><div class=\"note\"></div><div class=\"legend\"></div><svg id=\"timeline-svg\" role=\"img\"></svg></section>",
    );
    let _ = write!(
        body,
        "<details id=\"text-report\"><summary>The text report</summary><pre>{}</pre></details><div id=\"tip\" hidden></div>",
        escape(text)
    );
    let html = page(
        &format!("etcd-autopsy report: {input}"),
        "report",
        &body,
        &data,
    );
    write_file(out, &html)
}

/// Writes the HTML of `members --html`; `members` is the comparison's JSON object.
pub fn write_members(out: &Path, members: &Value, inputs: &[Member]) -> Result<()> {
    for m in inputs {
        check_output(out, m)?;
    }
    let data = json!({
        "schema": "etcd-autopsy/members-html/v1",
        "members": members,
    });
    let mut body =
        String::from("<header><h1>etcd members side by side</h1><div id=\"facts\"></div></header>");
    let most: Vec<&str> = members["most_committed"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let _ = write!(
        body,
        "<section id=\"restore\"><h2>Restore from</h2><p>most committed data: <b>{}</b> (restore from it, or run etcd --force-new-cluster on it)</p></section>",
        escape(&most.join(", "))
    );
    body.push_str("<section id=\"disagreements\"><h2>Disagreements</h2>");
    let dis = members["disagreements"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if dis.is_empty() {
        body.push_str("<p class=\"agree\">the members agree</p>");
    } else {
        body.push_str("<ul>");
        for d in &dis {
            let _ = write!(
                body,
                "<li>DISAGREE: {}</li>",
                escape(d.as_str().unwrap_or(""))
            );
        }
        body.push_str("</ul>");
    }
    body.push_str("</section>");
    body.push_str(
        "<section id=\"members-table\" class=\"viz\"><h2>Members</h2><div id=\"members-box\"></div></section>\
         <section id=\"members-chart\" class=\"viz\"><h2>Indexes and revisions</h2><div class=\"legend\"></div><svg id=\"members-svg\" role=\"img\"></svg></section><div id=\"tip\" hidden></div>",
    );
    let html = page("etcd-autopsy members", "members", &body, &data);
    write_file(out, &html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_close_its_element() {
        let v = json!({"k": "</script><script>alert(1)</script><!--"});
        let s = script_json(&v);
        assert!(!s.contains('<'), "{s}");
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn runs_are_letters_and_base36_lengths() {
        let mut s = String::new();
        push_base36(&mut s, 0);
        push_base36(&mut s, 35);
        push_base36(&mut s, 36);
        push_base36(&mut s, u64::MAX);
        assert_eq!(s, "0z103w5e11264sgsf");
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn template_placeholders_are_all_filled() {
        let p = page("t<", "report", "<p>b</p>", &json!({"a": 1}));
        assert!(!p.contains("{{"), "{p}");
        assert!(p.contains("t&lt;"));
    }
}
