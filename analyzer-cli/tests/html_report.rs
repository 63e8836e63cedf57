//! `report --html` and `members --html` opened in a real headless Chromium: the page must
//! load with no JavaScript console message at all, and what the page drew (written by its
//! script into `data-*` attributes, read back with `--dump-dom`) must carry the figures of
//! `report --json` / `members --json`. Screenshots at two window sizes go to
//! `target/html-report/` (build artefacts, not committed).
//!
//! Chromium is driven by its command line only: `--dump-dom` after a virtual-time budget,
//! `--screenshot` with `--window-size`, console messages from `--enable-logging=stderr`.
//! Every one of them counts as a failure (the page logs nothing when it works).

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        })
}

fn out_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/html-report");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs Chromium headless on `html` with `extra` flags; returns (stdout, console lines).
fn chrome(browser: &Path, html: &Path, extra: &[String]) -> (String, Vec<String>) {
    let profile = scratch(&format!(
        "chrome-{}-{}",
        html.file_stem().unwrap().to_string_lossy(),
        extra.len() + extra.iter().map(|e| e.len()).sum::<usize>()
    ));
    let url = format!("file://{}", html.canonicalize().unwrap().display());
    let o = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(&url)
        .output()
        .expect("chromium runs");
    let err = String::from_utf8_lossy(&o.stderr);
    let console: Vec<String> = err
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(String::from)
        .collect();
    std::fs::remove_dir_all(&profile).ok();
    (String::from_utf8_lossy(&o.stdout).into_owned(), console)
}

/// The start tag of the first element whose start tag contains `marker`.
fn tag<'a>(dom: &'a str, marker: &str) -> &'a str {
    let at = dom
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in the DOM"));
    let start = dom[..at].rfind('<').unwrap();
    let end = at + dom[at..].find('>').unwrap();
    &dom[start..=end]
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// Attribute `name` of the start tag `t`.
fn attr(t: &str, name: &str) -> String {
    let pat = format!(" {name}=\"");
    let at = t.find(&pat).unwrap_or_else(|| panic!("no {name} in {t}")) + pat.len();
    let end = at + t[at..].find('"').unwrap();
    unescape(&t[at..end])
}

fn num(t: &str, name: &str) -> u64 {
    let v = attr(t, name);
    v.parse()
        .unwrap_or_else(|_| panic!("{name}={v:?} is not a number in {t}"))
}

/// Every text between `open` and the next `close`, unescaped.
fn texts(dom: &str, open: &str, close: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(i) = rest.find(open) {
        rest = &rest[i + open.len()..];
        let j = rest.find(close).unwrap();
        out.push(unescape(&rest[..j]));
        rest = &rest[j..];
    }
    out
}

fn is_png(p: &Path) -> bool {
    std::fs::read(p).is_ok_and(|b| b.len() > 1000 && b.starts_with(b"\x89PNG\r\n\x1a\n"))
}

/// Run inside the page (in a wrapper's `<iframe srcdoc>` of the window's width, see
/// [`screenshots`]) after the page's own script has drawn: lists every element whose box
/// leaves the page's width, every element whose content is wider than its box allows
/// (cut), and every pair of texts in one drawing or legend whose boxes overlap, into the
/// wrapper's `<body data-layout>`. The treemap's cells are left out: their labels are
/// clipped to the cell on purpose.
const LAYOUT_CHECK: &str = r#"<script>
(function () {
  var out = [];
  var W = document.documentElement.clientWidth;
  function name(e) {
    var s = e.tagName.toLowerCase();
    if (e.id) { s += '#' + e.id; }
    if (e.getAttribute('class')) { s += '.' + e.getAttribute('class').split(' ').join('.'); }
    var t = (e.textContent || '').replace(/\s+/g, ' ').slice(0, 40);
    return s + ' "' + t + '"';
  }
  function skipped(e) {
    return e.closest('#tip') || e.closest('#treemap-box .tm-cell') || e.closest('details:not([open]) > :not(summary)');
  }
  Array.prototype.forEach.call(document.querySelectorAll('body *'), function (e) {
    if (skipped(e) || e.tagName === 'SCRIPT') { return; }
    var r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) { return; }
    if (r.left < -0.5 || r.right > W + 0.5) { out.push('outside the page (' + Math.round(r.left) + '..' + Math.round(r.right) + ' of ' + W + '): ' + name(e)); }
    if (!(e instanceof SVGElement) && getComputedStyle(e).overflowX !== 'visible' && e.scrollWidth > e.clientWidth + 1 &&
        e.tagName !== 'PRE') {
      out.push('content cut (' + e.scrollWidth + ' > ' + e.clientWidth + '): ' + name(e));
    }
  });
  function overlaps(list, what) {
    var boxes = list.map(function (e) { return [e, e.getBoundingClientRect()]; }).filter(function (b) { return b[1].width > 0; });
    for (var i = 0; i < boxes.length; i += 1) {
      for (var j = i + 1; j < boxes.length; j += 1) {
        var a = boxes[i][1]; var b = boxes[j][1];
        if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5) {
          out.push(what + ' overlap: ' + name(boxes[i][0]) + ' and ' + name(boxes[j][0]));
        }
      }
    }
  }
  Array.prototype.forEach.call(document.querySelectorAll('svg'), function (svg) {
    overlaps(Array.prototype.slice.call(svg.querySelectorAll('text')), 'texts of ' + (svg.id || 'svg'));
  });
  Array.prototype.forEach.call(document.querySelectorAll('.legend, #facts, .cmd'), function (l) {
    overlaps(Array.prototype.slice.call(l.children), 'items of ' + name(l));
  });
  parent.document.body.setAttribute('data-width', String(W));
  parent.document.body.setAttribute('data-layout', JSON.stringify(out));
})();
</script>
"#;

/// At a desktop and a narrow width: a screenshot (kept in `target/html-report/`), no
/// console message, and nothing outside the page, cut, or overlapping ([`LAYOUT_CHECK`]).
/// Headless Chromium's window is at least 500 px wide, so the page is shown in an
/// `<iframe srcdoc>` of exactly the width (srcdoc documents share the wrapper's origin,
/// which lets the check report to it); its script and layout are the page's own.
fn screenshots(browser: &Path, html: &Path, name: &str) {
    let page = std::fs::read_to_string(html).unwrap();
    let at = page.rfind("</body>").expect("</body>");
    let inner = format!("{}{LAYOUT_CHECK}{}", &page[..at], &page[at..]);
    let srcdoc = inner.replace('&', "&amp;").replace('"', "&quot;");
    for (w, h) in [(1280, 2400), (480, 3200)] {
        let wrapper = out_dir().join(format!("{name}-layout-{w}.html"));
        std::fs::write(
            &wrapper,
            format!(
                "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style=\"margin:0\">\
                 <iframe style=\"border:0;display:block;width:{w}px;height:{h}px\" srcdoc=\"{srcdoc}\"></iframe></body></html>"
            ),
        )
        .unwrap();
        let png = out_dir().join(format!("{name}-{w}x{h}.png"));
        std::fs::remove_file(&png).ok();
        let (dom, console) = chrome(
            browser,
            &wrapper,
            &[
                format!("--window-size={},{h}", w.max(500)),
                format!("--screenshot={}", png.display()),
                "--dump-dom".into(),
            ],
        );
        assert!(console.is_empty(), "{name} at {w}x{h}: {console:#?}");
        assert!(is_png(&png), "{name}: no screenshot at {}", png.display());
        let body = tag(&dom, "<body");
        assert_eq!(num(body, "data-width"), w, "{name}: the page's width");
        let layout: Vec<String> = serde_json::from_str(&attr(body, "data-layout")).unwrap();
        assert!(layout.is_empty(), "{name} at {w}x{h}: {layout:#?}");
        std::fs::remove_file(&wrapper).ok();
    }
}

/// Writes and checks the HTML report of `input` against `report --json`.
fn check_report(browser: &Path, name: &str, input: &Path) {
    let input = s(input);
    let html = out_dir().join(format!("{name}.html"));
    std::fs::remove_file(&html).ok();
    let (code, _, err) = run(&["report", "--html", s(&html), input]);
    if code == 2 {
        // The db cannot be read (no valid meta, not a regular file...): no page is written,
        // and the error names the input.
        assert!(!html.exists(), "{name}: a page for an unreadable input");
        assert!(err.contains(input), "{name}: {err}");
        return;
    }
    assert!(code <= 1, "{name}: report --html failed: {err}");
    let (_, json) = run_json(&["report", "--json", input]);
    let size = std::fs::metadata(&html).unwrap().len();
    assert!(size < 2_000_000, "{name}: {size} bytes");
    let (dom, console) = chrome(
        browser,
        &html,
        &["--window-size=1280,2000".into(), "--dump-dom".into()],
    );
    assert!(console.is_empty(), "{name}: console: {console:#?}");
    let root = tag(&dom, "<html");
    assert_eq!(
        attr(root, "data-ready"),
        "1",
        "{name}: the script did not finish"
    );
    assert_eq!(attr(root, "data-errors"), "0", "{name}");
    assert_eq!(attr(root, "data-failed-parts"), "0", "{name}");

    // Quota gauge: the space figures of the report.
    let g = tag(&dom, "id=\"gauge\"");
    let sp = &json["space"];
    assert_eq!(attr(g, "data-drawn"), "1");
    assert_eq!(num(g, "data-bars"), 4);
    assert_eq!(
        num(g, "data-db-size"),
        sp["db_size"].as_u64().unwrap(),
        "{name}"
    );
    assert_eq!(num(g, "data-in-use"), sp["bytes_in_use"].as_u64().unwrap());
    assert_eq!(
        num(g, "data-after-defrag"),
        sp["predicted_defrag_size"].as_u64().unwrap()
    );
    assert_eq!(
        num(g, "data-after-compaction"),
        sp["compaction"]["predicted_size_after"].as_u64().unwrap()
    );
    assert_eq!(num(g, "data-quota"), sp["quota"]["bytes"].as_u64().unwrap());
    let inferred = json["quota_inferred_max"]
        .as_u64()
        .map_or(String::new(), |q| q.to_string());
    assert_eq!(attr(g, "data-inferred-quota"), inferred, "{name}");
    assert_eq!(
        dom.matches("class=\"gauge-bar\"").count(),
        4,
        "{name}: four bars drawn"
    );

    // Treemap: the largest rectangle is the report's first prefix, with its bytes.
    let t = tag(&dom, "id=\"treemap\"");
    assert_eq!(attr(t, "data-drawn"), "1");
    if let Some(top) = json["prefixes"].as_array().and_then(|p| p.first()) {
        assert_eq!(
            attr(t, "data-largest-label"),
            top["prefix"].as_str().unwrap(),
            "{name}"
        );
        let bytes = top["key_bytes"].as_u64().unwrap() + top["value_bytes"].as_u64().unwrap();
        assert_eq!(num(t, "data-largest-bytes"), bytes, "{name}");
        let rects = num(t, "data-rects") as usize;
        assert!(
            rects >= json["prefixes"].as_array().unwrap().len().min(2),
            "{name}: {rects}"
        );
        assert_eq!(dom.matches("class=\"tm-cell").count(), rects);
        let first_cell = tag(&dom, "class=\"tm-cell");
        assert_eq!(
            attr(first_cell, "data-name"),
            top["prefix"].as_str().unwrap()
        );
    }

    // Page map: every page of the file, free pages as `space` counts them.
    let p = tag(&dom, "id=\"pagemap\"");
    assert_eq!(attr(p, "data-drawn"), "1");
    let ps = sp["page_size"].as_u64().unwrap();
    let pages = sp["file_size"].as_u64().unwrap().div_ceil(ps);
    assert_eq!(num(p, "data-pages"), pages, "{name}");
    assert_eq!(
        num(p, "data-free-pages"),
        sp["pages_free"].as_u64().unwrap()
    );
    assert_eq!(num(p, "data-painted-cells"), num(p, "data-cells"));
    assert!(
        num(p, "data-cells") * num(p, "data-cell-pages") >= pages,
        "{name}: the cells cover the file"
    );
    let counts: Value = serde_json::from_str(&attr(p, "data-counts")).unwrap();
    let total: u64 = counts
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, pages);
    assert_eq!(
        counts["past_high_water"].as_u64().unwrap(),
        sp["pages_past_high_water"].as_u64().unwrap()
    );

    // WAL timeline: the report's WAL figures and the db's consistent index.
    let w = tag(&dom, "id=\"timeline\"");
    match json["wal"].as_object() {
        None => assert_eq!(attr(w, "data-drawn"), "none", "{name}: no WAL"),
        Some(wal) => {
            assert_eq!(attr(w, "data-drawn"), "1");
            let s = |v: &Value| v.as_u64().map_or(String::new(), |x| x.to_string());
            assert_eq!(
                attr(w, "data-first-index"),
                s(&wal["first_index"]),
                "{name}"
            );
            assert_eq!(attr(w, "data-last-index"), s(&wal["last_index"]), "{name}");
            assert_eq!(attr(w, "data-commit"), s(&wal["commit"]), "{name}");
            assert_eq!(
                attr(w, "data-consistent-index"),
                s(&json["consistent_index"])
            );
            let entries = num(w, "data-entries");
            assert_eq!(
                num(w, "data-drawn-entries"),
                entries,
                "{name}: every entry drawn"
            );
            if let (Some(f), Some(l)) = (wal["first_index"].as_u64(), wal["last_index"].as_u64()) {
                assert_eq!(entries, l - f + 1, "{name}");
            }
            let damage = num(w, "data-damage");
            assert_eq!(damage > 0, wal["damage"].as_bool().unwrap(), "{name}");
            assert_eq!(dom.matches("class=\"damage\"").count() as u64, damage);
        }
    }

    // Next steps and problems: the report's own words, with the commands to copy.
    let steps = json["next_steps"].as_array().unwrap();
    let shown = texts(&dom, "<span class=\"step-text\">", "</span>");
    let want: Vec<String> = steps
        .iter()
        .map(|s| s["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(shown, want, "{name}");
    let cmds = texts(&dom, "<code>$ ", "</code>");
    let want: Vec<String> = steps
        .iter()
        .filter_map(|s| s["command"].as_str().map(String::from))
        .collect();
    assert_eq!(cmds, want, "{name}");
    let problems = texts(&dom, "<li>problem: ", "</li>");
    let want: Vec<String> = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    assert_eq!(problems, want, "{name}");
    // The text report, verbatim.
    let (_, text, _) = run(&["report", input]);
    let pre = texts(&dom, "<summary>The text report</summary><pre>", "</pre>");
    assert_eq!(pre, [text], "{name}");

    if json["kubernetes"].is_object() {
        check_kube(&dom, name, input);
    } else {
        assert!(
            !dom.contains("id=\"kube\""),
            "{name}: no Kubernetes section"
        );
    }

    screenshots(browser, &html, name);
}

/// The start tags of the treemap's cells, each with the start tags of the cells drawn
/// inside it.
fn treemap_cells(dom: &str) -> Vec<(&str, Vec<&str>)> {
    let mut out = Vec::new();
    let parts: Vec<&str> = dom.split("<div class=\"tm-cell").skip(1).collect();
    for p in parts {
        let cell = &p[..p.find('>').unwrap() + 1];
        let mut subs = Vec::new();
        let mut rest = p;
        while let Some(i) = rest.find("<div class=\"tm-sub\"") {
            rest = &rest[i..];
            subs.push(&rest[..rest.find('>').unwrap() + 1]);
            rest = &rest[1..];
        }
        out.push((cell, subs));
    }
    out
}

/// The figures of a drawn node against the group of `k8s --json --by resource`.
fn same_figures(t: &str, g: &Value, what: &str) {
    for (a, f) in [
        ("data-objects", "objects"),
        ("data-k8s-live-bytes", "live_bytes"),
        ("data-k8s-history-bytes", "history_bytes"),
        ("data-managed-fields-bytes", "managed_fields_bytes"),
    ] {
        assert_eq!(num(t, a), g[f].as_u64().unwrap(), "{what}: {a} in {t}");
    }
}

/// On a member with a Kubernetes keyspace: the treemap's nodes carry the resource, kind and
/// figures of `k8s --json`, and the tables show its largest objects, most rewritten keys
/// and managedFields by resource.
fn check_kube(dom: &str, name: &str, input: &str) {
    let (_, k8s) = run_json(&["k8s", "--json", input]);
    let groups = k8s["groups"].as_array().unwrap();
    let group = |r: &str| groups.iter().find(|g| g["group"] == r);
    // Treemap: a node that is exactly one resource's keys has that resource's figures.
    let cells = treemap_cells(dom);
    let mut whole = 0;
    let mut objects = 0;
    for (cell, subs) in &cells {
        let cname = attr(cell, "data-name");
        if cell.contains(" data-objects=\"") {
            objects += num(cell, "data-objects");
        }
        let mut nodes = vec![(cname.clone(), *cell)];
        nodes.extend(
            subs.iter()
                .map(|t| (format!("{cname}{}", attr(t, "data-name")), *t)),
        );
        for (path, t) in nodes {
            let Some(res) = path
                .strip_prefix("/registry/")
                .and_then(|r| r.strip_suffix('/'))
            else {
                continue;
            };
            let Some(g) = group(res) else { continue };
            assert_eq!(attr(t, "data-resource"), res, "{name}: {path}");
            same_figures(t, g, &format!("{name}: {path}"));
            whole += 1;
        }
    }
    assert!(
        whole >= 2,
        "{name}: resources drawn with their figures: {whole}"
    );
    let totals = &k8s["totals"];
    assert_eq!(
        objects,
        totals["objects"].as_u64().unwrap(),
        "{name}: the level-1 cells hold every object"
    );
    if let Some((pods, _)) = cells
        .iter()
        .find(|(c, _)| attr(c, "data-name") == "/registry/pods/")
    {
        // The kube fixture's values are what kube-apiserver writes: every pod decodes.
        if name == "kube" {
            assert_eq!(attr(pods, "data-kind"), "Pod", "{name}");
            assert_eq!(attr(pods, "data-resource-name"), "pods", "{name}");
        }
    }
    // The section's totals.
    let sec = tag(dom, "id=\"kube\"");
    for (a, f) in [
        ("data-objects", "objects"),
        ("data-revisions", "revisions"),
        ("data-live-bytes", "live_bytes"),
        ("data-history-bytes", "history_bytes"),
        ("data-managed-fields-bytes", "managed_fields_bytes"),
    ] {
        assert_eq!(num(sec, a), totals[f].as_u64().unwrap(), "{name}: {a}");
    }
    // Tables: the rows of `k8s --json`, in its order, with its figures.
    let rows = |table: &str| -> Vec<String> {
        let at = dom.find(&format!("id=\"{table}\"")).unwrap();
        let end = at + dom[at..].find("</table>").unwrap();
        let t = &dom[at..end];
        t.split("<tr ").skip(1).map(|r| r.to_string()).collect()
    };
    let cell_v = |row: &str, class: &str| -> u64 {
        let at = row
            .find(&format!("<td class=\"{class}\" data-v=\""))
            .unwrap();
        let t = &row[at..];
        num(&t[..t.find('>').unwrap() + 1], "data-v")
    };
    let row_key = |row: &str| -> String {
        let t = format!("<tr {}", &row[..row.find('>').unwrap() + 1]);
        attr(&t, "data-key")
    };
    for (table, list, fields) in [
        (
            "kube-largest",
            "largest",
            &[("bytes", "bytes"), ("revisions", "revisions")][..],
        ),
        (
            "kube-churn",
            "most_revisions",
            &[("revisions", "revisions"), ("history", "history_bytes")][..],
        ),
    ] {
        let want = k8s[list].as_array().unwrap();
        let got = rows(table);
        assert_eq!(got.len(), want.len().min(10), "{name}: {table}");
        for (r, w) in got.iter().zip(want) {
            assert_eq!(row_key(r), w["key"].as_str().unwrap(), "{name}: {table}");
            for (class, f) in fields {
                assert_eq!(cell_v(r, class), w[f].as_u64().unwrap(), "{name}: {table}");
            }
        }
    }
    for r in rows("kube-managed") {
        let t = format!("<tr {}", &r[..r.find('>').unwrap() + 1]);
        let g = if t.contains("data-total") {
            totals
        } else {
            group(&attr(&t, "data-resource")).expect("a resource of k8s --json")
        };
        assert_eq!(cell_v(&r, "objects"), g["objects"].as_u64().unwrap());
        assert_eq!(cell_v(&r, "live"), g["live_bytes"].as_u64().unwrap());
        assert_eq!(
            cell_v(&r, "managed"),
            g["managed_fields_bytes"].as_u64().unwrap(),
            "{name}"
        );
    }
}

/// Files directly in `dir` (sorted), when it exists.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Every committed fixture, and every damaged variant fixtures/make-damaged.sh derives
/// (when derived): the db variants, the size variants, the special-file variants, and the
/// k8s member with each damaged WAL.
fn scenarios() -> Vec<(String, PathBuf)> {
    let f = fixtures();
    let mut v: Vec<(String, PathBuf)> = MEMBERS_34
        .iter()
        .chain(&[
            "auth",
            "kube",
            "v3.5/k8s",
            "v3.5/nospace",
            "v3.5/killed",
            "v3.5/restored",
            "v3.5/cluster/m1",
            "v3.5/cluster/m2",
            "v3.5/cluster/m3",
        ])
        .map(|n| (n.replace('/', "-"), f.join(n).join("data")))
        .collect();
    v.push(("snapshot".into(), f.join("snapshot/snapshot/snapshot.db")));
    let mut v: Vec<(String, PathBuf)> = v.into_iter().filter(|(_, p)| p.exists()).collect();
    for kind in ["bbolt", "size", "special", "huge"] {
        for p in entries(&f.join("damaged").join(kind)) {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            v.push((format!("damaged-{kind}-{stem}"), p));
        }
    }
    for p in entries(&f.join("damaged/wal")) {
        let variant = p.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(d) = damaged_wal_member(&variant) {
            v.push((format!("damaged-wal-{variant}"), d));
        }
    }
    v
}

/// A data dir with the k8s db and the damaged WAL `variant` (derived from the k8s WAL by
/// fixtures/damage_wal.py), in a temp dir; None when the variant is not derived.
fn damaged_wal_member(variant: &str) -> Option<PathBuf> {
    let wal = fixtures()
        .join("damaged/wal")
        .join(variant)
        .join("member/wal");
    let snap = fixtures().join("k8s/data/member/snap");
    if !wal.is_dir() || !snap.is_dir() {
        return None;
    }
    let d = scratch(&format!("wal-{variant}")).join("data");
    copy_dir(&snap, &d.join("member/snap"));
    copy_dir(&wal, &d.join("member/wal"));
    Some(d)
}

#[test]
fn every_fixture_report_draws_in_chromium_with_the_figures_of_report_json() {
    let Some(browser) = chromium() else {
        eprintln!("note: chromium not installed (scripts/test.sh installs it); skipped");
        return;
    };
    let mut list = scenarios();
    assert!(list.len() >= 9, "fixtures missing: {list:?}");
    // HTML_REPORT_ONLY=a,b: only the inputs whose name contains one of them (to rerun a few).
    if let Ok(only) = std::env::var("HTML_REPORT_ONLY") {
        list.retain(|(n, _)| only.split(',').any(|o| n.contains(o)));
    }
    eprintln!("{} inputs", list.len());
    // Two at a time: Chromium start-up dominates, and the machine has two cores.
    for pair in list.chunks(2) {
        std::thread::scope(|sc| {
            for (name, path) in pair {
                let b = &browser;
                sc.spawn(move || check_report(b, name, path));
            }
        });
    }
}

#[test]
fn wal_damage_is_marked_on_the_timeline_with_segment_and_offset() {
    let Some(browser) = chromium() else {
        eprintln!("note: chromium not installed; skipped");
        return;
    };
    let Some(input) = damaged_wal_member("flipped-byte") else {
        eprintln!("note: damaged WAL fixtures not generated; skipped");
        return;
    };
    let (_, wal) = run_json(&["wal", "--summary", "--json", s(&input)]);
    let html = out_dir().join("wal-damage-marks.html");
    run(&["report", "--html", s(&html), s(&input)]);
    let (dom, console) = chrome(&browser, &html, &["--dump-dom".into()]);
    assert!(console.is_empty(), "{console:#?}");
    let mark = tag(&dom, "class=\"damage\"");
    let finding = wal["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["severity"] == "damage")
        .expect("a damage finding");
    assert_eq!(attr(mark, "data-file"), finding["file"].as_str().unwrap());
    assert_eq!(
        attr(mark, "data-offset"),
        finding["offset"].as_u64().unwrap().to_string()
    );
    assert_eq!(attr(mark, "data-kind"), "crc_mismatch");
}

/// Asserts that no part of any secret's value in `kvs` is in `page`.
fn no_secret_value(page: &[u8], kvs: &Kvs, what: &str) -> usize {
    let text = String::from_utf8_lossy(page);
    let windows: std::collections::HashSet<&[u8]> = page.windows(16).collect();
    let mut secrets = 0;
    for (k, (v, ..)) in kvs {
        if !k.starts_with(b"/registry/secrets/") || v.len() < 16 {
            continue;
        }
        secrets += 1;
        // No 16-byte window of the value, raw, lossy or base64, is in the file.
        // Windows inside the key itself (the object's name is in its value too) are names,
        // not secrets.
        for w in v.windows(16).step_by(8) {
            if k.windows(16).any(|kw| kw == w) {
                continue;
            }
            assert!(!windows.contains(w), "{what}: raw value bytes of {k:?}");
            let lossy = String::from_utf8_lossy(w);
            if !lossy.contains('\u{fffd}') {
                assert!(!text.contains(&*lossy), "{what}: value text of {k:?}");
            }
        }
        let b64 = base64_std(v);
        assert!(
            !text.contains(&b64[..b64.len().min(24)]),
            "{what}: base64 value of {k:?}"
        );
    }
    secrets
}

#[test]
fn secret_values_never_appear_in_the_html_even_with_show_secrets() {
    for fixture in ["k8s", "kube"] {
        let kvs_path = fixtures().join(fixture).join("truth/kvs.json");
        if !kvs_path.exists() {
            eprintln!("note: fixture {fixture} not generated; skipped");
            continue;
        }
        let kvs = truth_kvs(&kvs_path);
        let data = fixtures().join(fixture).join("data");
        let mut pages = Vec::new();
        for flags in [&[][..], &["--show-secrets"][..]] {
            let html = out_dir().join(format!("secrets-{fixture}-{}.html", flags.len()));
            let mut args = vec!["report", "--html", s(&html)];
            args.extend_from_slice(flags);
            args.push(s(&data));
            let (code, _, err) = run(&args);
            assert_eq!(code, 0, "{err}");
            let page = std::fs::read(&html).unwrap();
            let what = format!("{fixture} {flags:?}");
            assert!(
                no_secret_value(&page, &kvs, &what) > 0,
                "{what}: has secrets"
            );
            pages.push(page);
        }
        assert!(
            pages[0] == pages[1],
            "{fixture}: --show-secrets changes the page"
        );
    }
}

fn base64_std(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                o.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

#[test]
fn members_html_shows_the_members_side_by_side_and_the_one_to_restore_from() {
    let Some(browser) = chromium() else {
        eprintln!("note: chromium not installed; skipped");
        return;
    };
    let dirs: Vec<PathBuf> = ["m1", "m2", "m3"]
        .iter()
        .map(|m| fixtures().join("cluster").join(m).join("data"))
        .collect();
    if !dirs.iter().all(|d| d.exists()) {
        eprintln!("note: cluster fixtures not generated; skipped");
        return;
    }
    let mut args: Vec<&str> = vec!["members", "--json"];
    args.extend(dirs.iter().map(|d| s(d)));
    let (_, json) = run_json(&args);
    let html = out_dir().join("members-cluster.html");
    let mut args: Vec<&str> = vec!["members", "--html", s(&html)];
    args.extend(dirs.iter().map(|d| s(d)));
    let (code, text, err) = run(&args);
    assert_eq!(code, 0, "{text}{err}");
    let (dom, console) = chrome(&browser, &html, &["--dump-dom".into()]);
    assert!(console.is_empty(), "{console:#?}");
    assert_eq!(attr(tag(&dom, "<html"), "data-ready"), "1");
    let c = tag(&dom, "id=\"members-chart\"");
    assert_eq!(num(c, "data-members"), 3);
    assert_eq!(attr(c, "data-agree"), "1");
    let most: Vec<&str> = json["most_committed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(attr(c, "data-most-committed"), most.join("\n"));
    assert_eq!(dom.matches("<tr class=\"best\"").count(), most.len());
    // One row per member, in order, with its revision and hash.
    let rows = texts(&dom, "data-path=\"", "\"");
    let paths: Vec<&str> = json["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["path"].as_str().unwrap())
        .collect();
    assert_eq!(rows, paths);
    for m in json["members"].as_array().unwrap() {
        let cell = format!("<td data-label=\"hashkv\">{}</td>", m["hash"]);
        assert!(dom.contains(&cell), "hash {} shown", m["hash"]);
    }
    assert!(dom.contains("the members agree"));
    screenshots(&browser, &html, "members-cluster");
}

#[test]
fn html_inside_the_input_directory_is_refused() {
    let data = fixtures().join("k8s/data");
    if !data.exists() {
        eprintln!("note: fixture k8s not generated; skipped");
        return;
    }
    let inside = data.join("member/report.html");
    let (code, _, err) = run(&["report", "--html", s(&inside), s(&data)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("inside"), "{err}");
    assert!(!inside.exists());
}

/// The benchmark db (about 1.3 GiB, made by benches/make-k8s-db.sh): the file stays under
/// 2 MB and Chromium draws it with no console message.
#[test]
#[ignore = "needs benches/data/k8s.db (benches/make-k8s-db.sh, a few minutes); run with --ignored --release"]
fn the_benchmark_db_report_draws_and_stays_under_2_mb() {
    let Some(browser) = chromium() else {
        panic!("chromium not installed");
    };
    let db = Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/data/k8s.db");
    assert!(db.exists(), "run benches/make-k8s-db.sh first");
    check_report(&browser, "bench-k8s-db", &db);
}
