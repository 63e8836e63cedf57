//! The conventions an operator expects of the command line: exit statuses that tell a
//! typo from an unreadable member, `-w json`, `--quiet`, sizes with units, refusal of
//! values that make no sense, help that lists the jobs first with an example and the exit
//! statuses under every command, completions and a man page, a `schema` in every JSON
//! output, lease IDs as hex strings, and a redaction count from `export`.

mod common;
use common::{fixtures, run, s};
use serde_json::Value;

const EXIT_USAGE: i32 = 64;

fn nospace() -> String {
    s(&fixtures().join("nospace/data")).to_string()
}

/// Every command with JSON output, as (args before the input, args after).
fn json_commands(data: &str) -> Vec<Vec<String>> {
    let db = format!("{data}/member/snap/db");
    let v = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        v(&["report", data]),
        v(&["check", data]),
        v(&["check", &db]),
        v(&["prefixes", data]),
        v(&["members", data]),
        v(&["export", data]),
        v(&["space", data]),
        v(&["wal", data]),
        v(&["wal", "--summary", data]),
        v(&["snap", data]),
        v(&["status", data]),
        v(&["hash", data]),
        v(&["hash", "--db", data]),
        v(&["diff", data, data]),
        v(&["info", data]),
        v(&["buckets", data]),
        v(&["stats", data]),
        v(&["pages", data]),
        v(&["page", data, "2"]),
        v(&["keys", &db, "meta"]),
        v(&["bbolt-get", &db, "meta", "consistent_index"]),
        v(&["list-bucket", data]),
        v(&["iterate-bucket", data, "meta"]),
    ]
}

/// The JSON documents of an output: one, or one per line for JSON lines.
fn documents(out: &str) -> Vec<Value> {
    if let Ok(v) = serde_json::from_str::<Value>(out) {
        return vec![v];
    }
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn every_json_output_names_its_versioned_schema() {
    let data = nospace();
    for args in json_commands(&data) {
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.push("--json");
        let (_, out, err) = run(&a);
        let docs = documents(&out);
        assert!(!docs.is_empty(), "{a:?}: no JSON\n{err}");
        for d in docs {
            let schema = d["schema"]
                .as_str()
                .unwrap_or_else(|| panic!("{a:?}: no schema in {d}"));
            assert!(
                schema.starts_with("etcd-autopsy/") && schema.contains("/v"),
                "{a:?}: schema {schema}"
            );
        }
    }
}

#[test]
fn write_out_json_is_the_json_flag() {
    let data = nospace();
    for args in json_commands(&data) {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut with_flag = a.clone();
        with_flag.push("--json");
        let mut with_w = vec!["-w", "json"];
        with_w.extend(&a);
        let (c1, o1, _) = run(&with_flag);
        let (c2, o2, _) = run(&with_w);
        assert_eq!((c1, &o1), (c2, &o2), "{a:?}");
    }
    let (code, _, _) = run(&["-w", "table", "report", &data]);
    assert_eq!(code, EXIT_USAGE);
}

#[test]
fn a_wrong_command_line_exits_64_not_the_unreadable_status() {
    let data = nospace();
    for args in [
        vec!["report", "--no-such-flag", data.as_str()],
        vec!["no-such-command"],
        vec!["prefixes", "--depth", "0", data.as_str()],
        vec!["prefixes", "--threads", "100000", data.as_str()],
        vec!["prefixes", "--threads", "0", data.as_str()],
        vec!["space", "--quota", "8XB", data.as_str()],
        vec![],
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, EXIT_USAGE, "{args:?}: {err}");
    }
    // An unreadable input keeps its own status.
    let (code, _, _) = run(&["report", "/nonexistent/etcd-data"]);
    assert_eq!(code, 2);
    let (code, _, _) = run(&["--help"]);
    assert_eq!(code, 0);
}

#[test]
fn quota_takes_sizes_with_units() {
    let data = nospace();
    let (_, out, _) = run(&["space", "--json", "--quota", "8GiB", &data]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["quota"]["bytes"], 8u64 << 30);
    let (_, out, _) = run(&["space", "--json", "--quota", "16777216", &data]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["quota"]["bytes"], 16_777_216u64);
}

#[test]
fn top_level_help_lists_the_jobs_first_and_the_plumbing_after() {
    let (_, out, _) = run(&["--help"]);
    let pos = |name: &str| {
        out.find(&format!("\n  {name} "))
            .unwrap_or_else(|| panic!("{name} not in help:\n{out}"))
    };
    let jobs = [
        "report", "check", "prefixes", "members", "export", "salvage",
    ];
    for w in jobs.windows(2) {
        assert!(pos(w[0]) < pos(w[1]), "{} before {}", w[0], w[1]);
    }
    assert!(out.find("Jobs:").unwrap() < pos("report"));
    for plumbing in ["info", "pages", "list-bucket", "iterate-bucket"] {
        assert!(pos("salvage") < pos(plumbing), "{plumbing} after the jobs");
    }
    assert!(out.contains("Exit status:"));
}

#[test]
fn every_command_help_has_an_example_and_the_exit_statuses() {
    let (_, out, _) = run(&["--help"]);
    let names: Vec<String> = out
        .lines()
        .skip_while(|l| !l.starts_with("Jobs:"))
        .take_while(|l| !l.starts_with("Options:"))
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    assert!(names.len() >= 20, "{names:?}");
    for name in names {
        let (code, help, _) = run(&[&name, "--help"]);
        assert_eq!(code, 0, "{name}");
        assert!(
            help.contains("Example:\n  etcd-autopsy "),
            "{name}: no example\n{help}"
        );
        assert!(
            help.contains("Exit status: 0"),
            "{name}: no exit status\n{help}"
        );
        assert!(help.contains("64"), "{name}: usage status missing");
    }
}

#[test]
fn version_names_the_commit_and_the_etcd_versions_read() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("etcd-autopsy 0."), "{out}");
    assert!(out.contains("(commit "), "{out}");
    assert!(out.contains("3.4") && out.contains("3.5"), "{out}");
}

#[test]
fn completions_and_man_page_are_generated_from_the_flags() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, out, err) = run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(
            out.contains("etcd-autopsy") && out.contains("prefixes"),
            "{shell}"
        );
    }
    let (_, bash, _) = run(&["completions", "bash"]);
    let dir = common::scratch("completions");
    let f = dir.join("etcd-autopsy.bash");
    std::fs::write(&f, bash).unwrap();
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&f)
        .status()
        .unwrap();
    assert!(syntax.success(), "the bash completion script parses");
    let (code, man, _) = run(&["man"]);
    assert_eq!(code, 0);
    assert!(
        man.contains(".TH etcd-autopsy"),
        "{}",
        &man[..man.len().min(200)]
    );
    assert!(man.contains("report"));
    let (code, man, _) = run(&["man", "report"]);
    assert_eq!(code, 0);
    assert!(man.contains("etcd\\-autopsy\\-report") || man.contains("etcd-autopsy-report"));
    let (code, _, _) = run(&["man", "no-such"]);
    assert_ne!(code, 0);
}

#[test]
fn quiet_drops_notes_on_stderr_but_not_the_output() {
    let data = s(&fixtures().join("k8s/data")).to_string();
    let (_, out, err) = run(&["export", &data]);
    assert!(err.contains("exported 224 keys"), "{err}");
    let (_, out_q, err_q) = run(&["-q", "export", &data]);
    assert_eq!(out, out_q);
    assert_eq!(err_q, "");
}

#[test]
fn export_says_how_many_secret_values_it_redacted() {
    let data = s(&fixtures().join("k8s/data")).to_string();
    let (_, out, err) = run(&["export", &data]);
    let hidden = out
        .lines()
        .filter(|l| l.contains("\"redacted\":true"))
        .count();
    assert!(hidden > 0);
    assert!(
        err.contains(&format!(
            "{hidden} values under /registry/secrets/ redacted"
        )),
        "{err}"
    );
    let (_, _, err) = run(&["export", "--show-secrets", &data]);
    assert!(!err.contains("redacted"), "{err}");
}

#[test]
fn lease_ids_also_come_as_hex_strings() {
    let data = s(&fixtures().join("k8s/data")).to_string();
    let (_, out, _) = run(&["export", &data]);
    let mut leased = 0;
    for line in out.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let lease = v["lease"].as_i64().unwrap();
        if lease != 0 {
            leased += 1;
            assert_eq!(v["lease_hex"], format!("{lease:016x}"));
        } else {
            assert!(v.get("lease_hex").is_none());
        }
    }
    assert!(leased > 0);
    let (_, wal, _) = run(&["wal", "--json", &data]);
    let grants: Vec<Value> = wal
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["request"]["lease_grant"].is_object())
        .collect();
    assert!(!grants.is_empty());
    for g in grants {
        let id = g["request"]["lease_grant"]["ID"].as_i64().unwrap();
        assert_eq!(g["request"]["lease_grant"]["ID_hex"], format!("{id:016x}"));
    }
}

/// Under `set -o pipefail`, `cmd | head` exits 141 whenever head closes the pipe before
/// cmd has written everything: the test script would then fail at random.
#[test]
fn no_script_pipes_into_an_early_closing_reader_under_pipefail() {
    let root = fixtures().join("..");
    let mut scripts = vec![root.join(".ci/run")];
    for dir in ["scripts", "fixtures", "fixtures/lib", "benches"] {
        if let Ok(rd) = std::fs::read_dir(root.join(dir)) {
            scripts.extend(
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "sh")),
            );
        }
    }
    let early = regex_free_early_reader;
    for path in scripts {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if !text.contains("pipefail") {
            continue;
        }
        for (i, line) in text.lines().enumerate() {
            let code = line.split('#').next().unwrap_or("");
            assert!(
                !early(code),
                "{}:{}: a pipe into a reader that may close early: {line}",
                path.display(),
                i + 1
            );
        }
    }
}

/// True when `code` pipes into `head`, `grep -q`/`-m` or `sed ...q`, which stop reading.
fn regex_free_early_reader(code: &str) -> bool {
    code.split('|').skip(1).any(|stage| {
        let words: Vec<&str> = stage.split_whitespace().collect();
        match words.first() {
            Some(&"head") => true,
            Some(&"grep") => words.iter().any(|w| {
                w.starts_with('-') && !w.starts_with("--") && (w.contains('q') || w.contains('m'))
                    || *w == "--quiet"
                    || w.starts_with("--max-count")
            }),
            _ => false,
        }
    })
}

fn damaged_wal_member() -> String {
    s(&fixtures().join("damaged/wal/crc-middle-segment")).to_string()
}

fn run_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut c = common::bin();
    c.args(args).env_remove("COLUMNS").env_remove("NO_COLOR");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().expect("binary runs");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

#[test]
fn check_prints_damage_before_information_and_each_finding_once() {
    let (_, out) = run_env(&["check", &damaged_wal_member()], &[]);
    let lines: Vec<&str> = out.lines().collect();
    let first_info = lines.iter().position(|l| l.contains(" info ")).unwrap();
    let last_damage = lines.iter().rposition(|l| l.contains(" DAMAGE ")).unwrap();
    assert!(last_damage < first_info, "damage lines come first:\n{out}");
    // The verdict on where the WAL stops is printed once, not also as a finding line.
    assert_eq!(out.matches("etcd will refuse to start").count(), 1, "{out}");
    assert!(out.contains("verdict: WAL unreadable"), "{out}");
}

#[test]
fn report_puts_problems_before_the_figures() {
    let db = s(&fixtures().join("damaged/bbolt/branch-cycle.db")).to_string();
    let (_, out) = run_env(&["report", &db], &[]);
    let problem = out.find("problem:").expect("a problem line");
    let figures = out.find("\nrevision ").expect("the figures");
    assert!(problem < figures, "{out}");
}

#[test]
fn prose_wraps_to_columns_but_commands_and_pipes_stay_whole() {
    let data = nospace();
    let (_, piped) = run_env(&["report", &data], &[]);
    assert!(
        piped.lines().any(|l| l.chars().count() > 120),
        "without a terminal or COLUMNS nothing is wrapped"
    );
    for cmd in [
        vec!["report", data.as_str()],
        vec!["check", &damaged_wal_member()],
    ] {
        let (_, out) = run_env(&cmd, &[("COLUMNS", "72")]);
        for l in out.lines() {
            let whole_word = !l.trim().contains(' ');
            // Column tables keep their rows whole (their columns would not survive).
            let table_row = l
                .trim()
                .split("  ")
                .filter(|c| !c.trim().is_empty())
                .count()
                >= 3;
            assert!(
                l.chars().count() <= 72
                    || l.trim_start().starts_with("$ ")
                    || whole_word
                    || table_row,
                "{cmd:?}: line of {} columns: {l}",
                l.chars().count()
            );
        }
        // Wrapping only moves words: the same words in the same order.
        let (_, flat) = run_env(&cmd, &[]);
        let words = |t: &str| t.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(words(&out), words(&flat), "{cmd:?}");
    }
    let (_, out) = run_env(&["report", &data], &[("COLUMNS", "72")]);
    assert!(out.contains("       $ etcdctl compact 989\n"), "{out}");
}

#[test]
fn verdicts_are_coloured_only_when_asked_and_never_in_json() {
    let member = damaged_wal_member();
    let (_, always) = run_env(
        &["--color", "always", "check", &member],
        &[("NO_COLOR", "1")],
    );
    assert!(
        always.contains("\x1b["),
        "--color always colours, NO_COLOR or not"
    );
    let (_, never) = run_env(&["--color", "never", "check", &member], &[]);
    assert!(!never.contains('\x1b'));
    let (_, auto) = run_env(&["check", &member], &[("NO_COLOR", "1")]);
    assert!(
        !auto.contains('\x1b'),
        "auto on a pipe, and NO_COLOR: no colour"
    );
    let (_, json) = run_env(&["--color", "always", "check", "--json", &member], &[]);
    assert!(!json.contains('\x1b'), "JSON is never coloured");
    let (_, ok) = run_env(&["--color", "always", "check", &nospace()], &[]);
    assert!(ok.contains("\x1b[32mOK\x1b[0m"), "{ok}");
}
