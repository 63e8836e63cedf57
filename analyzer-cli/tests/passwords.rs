//! Passwords and password hashes are never printed unless `--show-secrets`: the WAL's
//! auth_user_add / auth_user_change_password requests (3.4 proposes the plaintext
//! password) and the `authUsers` bucket's bcrypt hashes, in text and JSON, on the `auth`
//! fixture (real etcd 3.4.23: root:rootpw, alice:alicepw then alicepw2, bob without a
//! password) and on a member a test drives with `etcdctl user add`.

mod common;

use common::*;

const PLAINTEXT: [&str; 3] = ["rootpw", "alicepw", "alicepw2"];
const PASSWORD_MARKER: &str = "<redacted password; pass --show-secrets>";

fn auth_data() -> String {
    fixtures().join("auth/data").display().to_string()
}

fn assert_hidden(what: &str, out: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!out.contains(s), "{what} prints {s:?}:\n{out}");
    }
}

#[test]
fn wal_text_and_json_hide_auth_request_passwords_unless_asked() {
    let d = auth_data();
    let (code, text, err) = run(&["wal", &d]);
    assert_eq!(code, 0, "{err}");
    assert_hidden("wal", &text, &PLAINTEXT);
    // root and alice were added with a password, alice's was changed: three markers.
    assert_eq!(
        text.matches(&format!("password:\"{PASSWORD_MARKER}\""))
            .count(),
        3
    );
    assert!(text.contains("auth_user_add:<name:\"bob\" options:<no_password:true > >"));

    let (_, json, _) = run(&["wal", "--json", &d]);
    assert_hidden("wal --json", &json, &PLAINTEXT);
    assert_eq!(json.matches(PASSWORD_MARKER).count(), 3);

    let (_, shown, _) = run(&["wal", "--show-secrets", &d]);
    assert!(shown.contains("auth_user_add:<name:\"root\" password:\"rootpw\""));
    assert!(shown.contains("auth_user_change_password:<name:\"alice\" password:\"alicepw2\""));
    let (_, shown_json, _) = run(&["wal", "--json", "--show-secrets", &d]);
    assert!(shown_json.contains("\"alicepw2\""));
}

#[test]
fn db_commands_hide_password_hashes_unless_asked() {
    let d = auth_data();
    let db = fixtures()
        .join("auth/data/member/snap/db")
        .display()
        .to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec!["iterate-bucket", &d, "authUsers"],
        vec!["iterate-bucket", &d, "authUsers", "--decode"],
        vec!["iterate-bucket", &d, "authUsers", "--json"],
        vec!["bbolt-get", &db, "authUsers", "alice"],
        vec!["bbolt-get", &db, "authUsers", "root", "--format", "hex"],
        vec!["bbolt-get", &db, "authUsers", "alice", "--json"],
        vec!["page", &db, "--all"],
    ];
    for args in &cases {
        let (code, out, err) = run(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        // bcrypt hashes start with $2a$; in hex, "$2a$" is 24326124.
        assert_hidden(&format!("{args:?}"), &out, &["$2a$", "24326124"]);
        let mut shown = args.clone();
        shown.push("--show-secrets");
        if args[0] != "page" {
            let (_, out, _) = run(&shown);
            assert!(
                out.contains("$2a$") || out.contains("24326124"),
                "{shown:?} does not show the hash: {out}"
            );
        }
    }
}

#[test]
fn raw_user_marker_names_the_password_and_a_user_without_one_is_shown() {
    let (_, out, _) = run(&["iterate-bucket", &auth_data(), "authUsers"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    for l in &lines {
        assert!(!l.contains("/registry/secrets/"), "{l}");
    }
    let bob = lines.iter().find(|l| l.starts_with("key=\"bob\"")).unwrap();
    // bob was created with --no-password: nothing to hide, printed as etcd-dump-db does.
    assert!(!bob.contains("redacted"), "{bob}");
    let golden = std::fs::read_to_string(
        fixtures().join("goldens/etcd-dump-db/auth.iterate-bucket-authUsers.out"),
    )
    .unwrap();
    assert!(golden.lines().any(|l| l == *bob));
    let alice = lines
        .iter()
        .find(|l| l.starts_with("key=\"alice\""))
        .unwrap();
    assert!(alice.contains("password hash"), "{alice}");
}

#[test]
fn a_live_etcd_user_add_and_passwd_are_redacted_in_the_wal() {
    let dir = scratch("live-user-add");
    let data = dir.join("data");
    // Client 25010, peer 25011: this engineer's port range.
    let etcd = Etcd::start("pw", &data, 25010, &[]);
    etcd.must(&["user", "add", "carol:Carol-S3cret"]);
    let o = etcd.ctl_in(
        &["user", "passwd", "carol", "--interactive=false"],
        "Carol-N3w-S3cret\n",
    );
    assert!(o.0, "user passwd failed");
    etcd.stop_gracefully();
    let d = data.display().to_string();
    let secrets = ["Carol-S3cret", "Carol-N3w-S3cret"];
    for args in [vec!["wal", &d], vec!["wal", "--json", &d]] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        assert_hidden(&format!("{args:?}"), &out, &secrets);
        assert!(out.contains(PASSWORD_MARKER), "{out}");
    }
    let (_, shown, _) = run(&["wal", "--show-secrets", &d]);
    for s in secrets {
        assert!(
            shown.contains(s),
            "the WAL holds {s:?} in plaintext: {shown}"
        );
    }
    let (_, users, _) = run(&["iterate-bucket", &d, "authUsers", "--decode"]);
    assert!(users.contains("user=\"carol\""), "{users}");
    assert_hidden("iterate-bucket authUsers --decode", &users, &["$2a$"]);
    std::fs::remove_dir_all(&dir).ok();
}

/// authpb.User{name, password: a bcrypt-shaped hash, roles: ["reader"]}.
fn user_record(name: &str) -> Vec<u8> {
    let hash = format!("$2a$10${name:x<53}");
    let mut v = vec![0x0a, name.len() as u8];
    v.extend_from_slice(name.as_bytes());
    v.extend_from_slice(&[0x12, hash.len() as u8]);
    v.extend_from_slice(hash.as_bytes());
    v.extend_from_slice(&[0x1a, 6]);
    v.extend_from_slice(b"reader");
    v
}

#[test]
fn page_hides_hashes_on_authusers_leaf_pages_of_their_own() {
    // 200 users do not fit an inline bucket: their records sit on leaf pages that `page`
    // prints value by value, without knowing the bucket.
    let dir = scratch("many-users");
    let db = dir.join("db");
    let mut w =
        bbolt_writer::BoltWriter::create(&db, bbolt_writer::Options::default(), false).unwrap();
    w.begin_bucket(b"authUsers").unwrap();
    let mut names: Vec<String> = (0..200).map(|i| format!("user{i:03}")).collect();
    names.sort();
    for n in &names {
        w.put(n.as_bytes(), &user_record(n)).unwrap();
    }
    w.end_bucket().unwrap();
    w.finish_file().unwrap();
    let d = db.display().to_string();
    for args in [
        vec!["page", &d, "--all"],
        vec!["page", &d, "--all", "--format-value", "ascii-encoded"],
        vec!["page", &d, "--all", "--json"],
        vec!["bbolt-get", &d, "authUsers", "user007"],
        vec!["iterate-bucket", &d, "authUsers"],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_hidden(&format!("{args:?}"), &out, &["$2a$", "24326124"]);
        let mut shown = args.clone();
        shown.push("--show-secrets");
        let (_, out, _) = run(&shown);
        assert!(
            out.contains("$2a$") || out.contains("24326124"),
            "{shown:?} shows no hash"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
