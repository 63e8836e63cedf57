//! Advice that is right and consistent across `check`, `report` and `members` (issue 8):
//! each test names the contradiction or wrong advice it proves gone.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// The k8s data dir with its WAL replaced by the damaged variant `variant` (a db that
/// has applied more than the readable WAL holds). `None` when the damaged variants were
/// not generated.
fn k8s_with_wal(variant: &str, name: &str) -> Option<PathBuf> {
    let wal = fixtures()
        .join("damaged/wal")
        .join(variant)
        .join("member/wal");
    if !wal.is_dir() {
        eprintln!("no damaged variant {variant}; run fixtures/make-damaged.sh");
        return None;
    }
    let dir = scratch(name);
    copy_dir(&fixtures().join("k8s/data"), &dir.join("data"));
    let w = dir.join("data/member/wal");
    std::fs::remove_dir_all(&w).unwrap();
    copy_dir(&wal, &w);
    Some(dir.join("data"))
}

fn text(args: &[&str]) -> (i32, String) {
    let (code, out, _) = run(args);
    (code, out)
}

#[test]
fn check_of_a_mid_log_crc_error_says_only_that_etcd_refuses_to_start() {
    let Some(d) = k8s_with_wal("crc-middle-segment", "crc-check") else {
        return;
    };
    let (code, out) = text(&["check", s(&d)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("etcd will refuse to start"), "{out}");
    assert!(!out.contains("etcd will start"), "{out}");
    let verdicts: Vec<&str> = out.lines().filter(|l| l.starts_with("verdict:")).collect();
    assert_eq!(verdicts.len(), 1, "{out}");
    let (_, v) = run_json(&["check", s(&d), "--json"]);
    let kinds = strs(&v["findings"], "kind");
    assert!(kinds.contains(&"wal_blocks_start"), "{v}");
    assert!(kinds.contains(&"db_ahead_of_wal"), "{v}");
}

#[test]
fn report_on_a_member_that_will_not_start_advises_no_etcdctl_compact_or_defrag() {
    let Some(d) = k8s_with_wal("crc-middle-segment", "crc-report") else {
        return;
    };
    let (code, v) = run_json(&["report", s(&d), "--json"]);
    assert_eq!(code, 1, "{v}");
    let ids = strs(&v["next_steps"], "id");
    assert_eq!(ids.first(), Some(&"refuses_to_start"), "{v}");
    for s in v["next_steps"].as_array().unwrap() {
        let c = s["command"].as_str().unwrap_or("");
        assert!(!c.starts_with("etcdctl"), "{v}");
    }
    let (_, out) = text(&["report", s(&d)]);
    assert!(out.contains("etcd will refuse to start"), "{out}");
    assert!(!out.contains("may refuse"), "{out}");
}

#[test]
fn report_quota_header_agrees_with_a_raised_nospace_alarm() {
    let d = fixtures().join("nospace/data");
    for quota in [None, Some("16777216")] {
        let mut args = vec!["report", s(&d)];
        if let Some(q) = quota {
            args.extend(["--quota", q]);
        }
        let (_, out) = text(&args);
        let header = out.lines().find(|l| l.starts_with("file ")).unwrap();
        // The alarm fired on a 2.0 MiB db: a quota of 16 MiB or 2 GiB cannot have been
        // in force then; the header says what the evidence bounds.
        assert!(
            header.contains("quota below 2.0 MiB, inferred from the NOSPACE alarm"),
            "{header}"
        );
        assert!(
            !header.contains("= 12.5%") && !header.contains("= 0.1%"),
            "{header}"
        );
        if quota.is_some() {
            assert!(header.contains("--quota 16.0 MiB given"), "{header}");
        } else {
            assert!(header.contains("not etcd's default 2.0 GiB"), "{header}");
        }
        // Disarming comes after the steps that bring the file below that quota.
        let pos = |needle: &str| out.find(needle).unwrap_or(usize::MAX);
        assert!(pos("etcdctl defrag") < pos("etcdctl alarm disarm"), "{out}");
    }
}

#[test]
fn report_on_a_full_34_member_names_the_offline_defrag_of_etcdctl() {
    assert_defrag_step_names(&fixtures().join("nospace/data"), "etcdctl");
}

/// `report --json` on the full member at `d` has a defrag step naming the offline defrag
/// of `tool` on `d`.
fn assert_defrag_step_names(d: &Path, tool: &str) {
    let (_, v) = run_json(&["report", s(d), "--json"]);
    let defrag = v["next_steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "defrag")
        .unwrap();
    let want = format!("{tool} defrag --data-dir {}", s(d));
    assert!(defrag["text"].as_str().unwrap().contains(&want), "{defrag}");
}

#[test]
fn members_never_recommends_restoring_from_a_damaged_or_empty_member() {
    let d = fixtures().join("damaged/wal");
    let (a, b) = (d.join("crc-middle-segment"), d.join("zeroed-sector"));
    if !a.is_dir() {
        return;
    }
    let (code, v) = run_json(&["members", s(&a), s(&b), "--json"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["most_committed"].as_array().unwrap().len(), 0, "{v}");
    let (_, out) = text(&["members", s(&a), s(&b)]);
    assert!(out.contains("do not restore from any of them"), "{out}");
    assert!(!out.contains("(restore from it"), "{out}");
    // With a healthy member among them, it is the one named.
    let k8s = fixtures().join("k8s/data");
    let (_, v) = run_json(&["members", s(&a), s(&k8s), "--json"]);
    assert_eq!(v["most_committed"][0].as_str(), Some(s(&k8s)), "{v}");
    // An empty member (a data dir with an empty WAL dir and no db) is not named either.
    let empty = scratch("empty-member");
    std::fs::create_dir_all(empty.join("member/wal")).unwrap();
    let (_, v) = run_json(&["members", s(&empty), s(&a), "--json"]);
    assert_eq!(v["most_committed"].as_array().unwrap().len(), 0, "{v}");
}

/// Runs the binary as an unprivileged user: as root through `setpriv` (root reads
/// everything), else directly. `None` when neither is possible.
fn run_unprivileged(args: &[&str]) -> Option<(i32, String, String)> {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .is_some_and(|o| o.stdout.starts_with(b"0\n"));
    let mut cmd = if root {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
        c
    } else {
        std::process::Command::new(BIN)
    };
    let out = cmd.args(args).output().ok()?;
    Some((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn a_wal_the_user_may_not_read_is_cannot_read_not_wal_damage() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("perm-wal");
    copy_dir(&fixtures().join("k8s/data"), &dir.join("data"));
    let set = |p: &std::path::Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    for p in [
        scratch_root(),
        dir.clone(),
        dir.join("data"),
        dir.join("data/member"),
        dir.join("data/member/snap"),
    ] {
        set(&p, 0o755);
    }
    set(&dir.join("data/member/snap/db"), 0o644);
    set(&dir.join("data/member/wal"), 0o000);
    let data = dir.join("data");
    for cmd in ["report", "check"] {
        let Some((code, out, err)) = run_unprivileged(&[cmd, s(&data)]) else {
            return;
        };
        if code == 0 && !out.is_empty() && !err.contains("denied") {
            // The user could read it after all (e.g. a capability): nothing to prove.
            return;
        }
        assert_eq!(code, 2, "{cmd}: {out}{err}");
        assert!(err.contains("Permission denied"), "{cmd}: {err}");
        assert!(err.contains("run as the etcd user"), "{cmd}: {err}");
        assert!(!out.contains("damage"), "{cmd}: {out}");
    }
    set(&dir.join("data/member/wal"), 0o755);
}

#[test]
fn a_wal_segment_or_an_empty_file_given_as_a_db_names_the_command_that_reads_it() {
    let wal_dir = fixtures().join("k8s/data/member/wal");
    let mut segs: Vec<_> = std::fs::read_dir(&wal_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    segs.sort();
    let seg = &segs[0];
    let empty = scratch("empty-db").join("db");
    std::fs::write(&empty, b"").unwrap();
    for cmd in ["report", "info", "check", "prefixes", "iterate-bucket"] {
        let mut args = vec![cmd, s(seg)];
        if cmd == "iterate-bucket" {
            args.push("key");
        }
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{cmd}: {err}");
        assert!(err.contains("etcd-autopsy wal <DATA-DIR>"), "{cmd}: {err}");
        args[1] = s(&empty);
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{cmd}: {err}");
        assert!(err.contains("the file is empty"), "{cmd}: {err}");
    }
}

#[test]
fn a_db_locked_by_another_process_names_it_and_does_not_claim_etcd() {
    use std::io::{BufRead, BufReader, Write};
    let dir = scratch("locked-by-python");
    copy_dir(&fixtures().join("k8s/data"), &dir.join("data"));
    let db = dir.join("data/member/snap/db");
    // python3 takes bbolt's kind of lock (flock) and says so; it holds it until stdin closes.
    let Ok(mut holder) = std::process::Command::new("python3")
        .args([
            "-c",
            "import fcntl,sys; f=open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); sys.stdin.read()",
            s(&db),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    else {
        return;
    };
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    let (_, _, err) = run(&["report", s(&dir.join("data"))]);
    let pid = holder.id();
    drop(holder.stdin.take().map(|mut i| i.flush()));
    holder.wait().unwrap();
    assert!(err.contains(&format!("pid {pid} python3")), "{err}");
    assert!(err.contains("not etcd"), "{err}");
    assert!(!err.contains("etcd appears to be running"), "{err}");
}

#[test]
fn report_on_a_full_35_member_names_the_offline_defrag_of_etcdutl() {
    let d = fixtures().join("v3.5/nospace/data");
    if !d.is_dir() {
        return;
    }
    assert_defrag_step_names(&d, "etcdutl");
}
