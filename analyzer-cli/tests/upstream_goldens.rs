//! Our bbolt, etcd-dump-db and etcd-dump-logs twins against the committed goldens: the
//! stdout of bbolt v1.3.7, etcd-dump-db and etcd-dump-logs v3.4.23 on copies of the
//! fixtures (fixtures/goldens/manifest.tsv lists each golden's tool, version, scenario and
//! arguments; fixtures/README.md says how they were recorded).
//!
//! Rule: where a golden holds no secret, our default output is byte for byte the golden.
//! Where it holds one (`secrets` = `redacted` in the manifest), our output with
//! `--show-secrets` is byte for byte the golden, and our default output differs from it
//! only by spans replaced with a redaction marker, line for line.

mod common;

use common::*;
use std::path::Path;

struct Golden {
    file: String,
    tool: String,
    scenario: String,
    args: Vec<String>,
    redacted: bool,
}

fn manifest() -> Vec<Golden> {
    let dir = fixtures().join("goldens");
    let text = std::fs::read_to_string(dir.join("manifest.tsv")).expect("manifest.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(f.len() >= 6, "manifest line {l:?}");
            Golden {
                file: f[0].to_string(),
                tool: f[1].to_string(),
                scenario: f[3].to_string(),
                args: f[4].split(' ').map(str::to_string).collect(),
                redacted: f[5] == "redacted",
            }
        })
        .collect()
}

/// Our command line for a golden: the same subcommand and arguments (etcd-dump-logs'
/// twin is `wal`, `bbolt get`'s is `bbolt-get`), with the committed fixture in place of
/// the copy.
fn our_args(g: &Golden) -> Vec<String> {
    let data = fixtures().join(&g.scenario).join("data");
    let db = data.join("member/snap/db");
    let mut args: Vec<String> = Vec::new();
    if g.tool == "etcd-dump-logs" {
        args.push("wal".into());
    }
    let mut upstream = g.args.iter();
    if g.tool == "bbolt" && g.args.first().is_some_and(|c| c == "get") {
        args.push("bbolt-get".into());
        upstream.next();
    }
    for a in upstream {
        args.push(
            a.replace("{DB}", &db.display().to_string())
                .replace("{DATA}", &data.display().to_string()),
        );
    }
    args
}

fn run_bytes(args: &[String]) -> (i32, Vec<u8>, String) {
    let o = bin().args(args).output().expect("binary runs");
    (
        o.status.code().unwrap_or(-1),
        o.stdout,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// First differing line, for the failure message.
fn first_difference(ours: &[u8], golden: &[u8]) -> String {
    let o: Vec<&[u8]> = ours.split(|&b| b == b'\n').collect();
    let g: Vec<&[u8]> = golden.split(|&b| b == b'\n').collect();
    for i in 0..o.len().max(g.len()) {
        let (a, b) = (o.get(i), g.get(i));
        if a != b {
            let show = |l: Option<&&[u8]>| {
                l.map_or("<none>".to_string(), |l| {
                    String::from_utf8_lossy(&l[..l.len().min(300)]).into_owned()
                })
            };
            return format!(
                "line {}:\n  ours:     {}\n  upstream: {}",
                i + 1,
                show(a),
                show(b)
            );
        }
    }
    format!("same lines, lengths {} vs {}", ours.len(), golden.len())
}

/// True when `ours` equals `golden` except that, on some lines, one span of the golden
/// line is replaced by a `<redacted...>` marker (Go-quoted, proto-quoted or bare).
fn differs_only_by_redaction(ours: &[u8], golden: &[u8]) -> Result<usize, String> {
    let o: Vec<&[u8]> = ours.split(|&b| b == b'\n').collect();
    let g: Vec<&[u8]> = golden.split(|&b| b == b'\n').collect();
    if o.len() != g.len() {
        return Err(format!("{} lines vs {}", o.len(), g.len()));
    }
    let mut redacted = 0;
    for (i, (a, b)) in o.iter().zip(&g).enumerate() {
        if a == b {
            continue;
        }
        let line = String::from_utf8_lossy(a);
        let start = line
            .find("\"<redacted")
            .or_else(|| line.find("<redacted"))
            .ok_or_else(|| format!("line {}: differs without a marker: {line}", i + 1))?;
        let marker_end = line[start..]
            .find('>')
            .map(|e| start + e + 1)
            .ok_or_else(|| format!("line {}: marker not closed", i + 1))?;
        let end = if line.as_bytes()[start] == b'"' {
            marker_end + 1
        } else {
            marker_end
        };
        let (prefix, suffix) = (&a[..start], &a[end..]);
        if !(b.starts_with(prefix) && b.ends_with(suffix) && b.len() >= prefix.len() + suffix.len())
        {
            return Err(format!(
                "line {}: more than the marker span differs:\n  ours:     {}\n  upstream: {}",
                i + 1,
                line,
                String::from_utf8_lossy(&b[..b.len().min(300)])
            ));
        }
        redacted += 1;
    }
    Ok(redacted)
}

fn check_tool(tool: &str) {
    let goldens: Vec<Golden> = manifest().into_iter().filter(|g| g.tool == tool).collect();
    assert!(!goldens.is_empty(), "no goldens for {tool}");
    let mut failures = Vec::new();
    for g in &goldens {
        let golden = std::fs::read(fixtures().join("goldens").join(&g.file)).unwrap();
        let args = our_args(g);
        let (code, ours, err) = run_bytes(&args);
        if code != 0 {
            failures.push(format!("{}: exit {code}: {err}", g.file));
            continue;
        }
        if !g.redacted {
            if ours != golden {
                failures.push(format!("{}: {}", g.file, first_difference(&ours, &golden)));
            }
            continue;
        }
        let mut shown_args = args.clone();
        shown_args.push("--show-secrets".into());
        let (_, shown, _) = run_bytes(&shown_args);
        if shown != golden {
            failures.push(format!(
                "{} (--show-secrets): {}",
                g.file,
                first_difference(&shown, &golden)
            ));
        }
        match differs_only_by_redaction(&ours, &golden) {
            Ok(0) => failures.push(format!(
                "{}: marked as holding secrets, none redacted",
                g.file
            )),
            Ok(_) => {}
            Err(e) => failures.push(format!("{} (default): {e}", g.file)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences over {} {tool} goldens:\n{}",
        failures.len(),
        goldens.len(),
        failures.join("\n")
    );
}

#[test]
fn bbolt_commands_print_what_bbolt_v1_3_7_prints() {
    check_tool("bbolt");
}

#[test]
fn list_and_iterate_bucket_print_what_etcd_dump_db_prints() {
    check_tool("etcd-dump-db");
}

#[test]
fn wal_prints_what_etcd_dump_logs_prints() {
    check_tool("etcd-dump-logs");
}

#[test]
fn unknown_entry_type_warns_on_stderr_and_is_ignored() {
    let data = fixtures().join("k8s/data");
    let d = data.display().to_string();
    let (code, out, err) = run(&["wal", "--entry-type", "IRRLeaseGrant,NoSuchType", &d]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("[NoSuchType] is not a valid entry-type, ignored."),
        "{err}"
    );
    let golden = std::fs::read_to_string(
        fixtures().join("goldens/etcd-dump-logs/k8s.entry-type-IRRLeaseGrant+NoSuchType.out"),
    )
    .unwrap();
    assert_eq!(out, golden);
}

#[test]
fn goldens_hold_the_cases_the_issue_names() {
    // The \u0590-style escapes of unassigned code points, a password hash, the 3.4 layout.
    let g = |f: &str| std::fs::read_to_string(fixtures().join("goldens").join(f)).unwrap();
    assert!(g("bbolt/k8s.get-key-rev4f-ascii.out").contains("\\u0381"));
    assert!(g("bbolt/k8s.get-key-rev44-ascii.out").contains("\\ue66e"));
    assert!(g("etcd-dump-db/auth.iterate-bucket-authUsers-decode.out").contains("$2a$"));
    let logs = g("etcd-dump-logs/auth.out");
    assert!(logs.contains("WAL entries:\nlastIndex="));
    assert!(!logs.ends_with('\n'));
    assert!(Path::new(&fixtures().join("goldens/manifest.tsv")).exists());
}

#[test]
fn bbolt_get_refuses_a_bad_hex_key_as_a_usage_error_and_a_missing_key_as_bbolt_words_it() {
    let db = fixtures().join("k8s/data/member/snap/db");
    let d = db.display().to_string();
    let (code, _, _) = run(&["bbolt-get", "--parse-format", "hex", &d, "meta", "zz"]);
    assert_eq!(code, 64);
    let (code, out, err) = run(&["bbolt-get", &d, "meta", "no\x01such"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("key not found for key: \"no\\x01such\" hex: \"6e6f0173756368\""),
        "{err}"
    );
}
