//! Hardening, fault class "the file's size fits neither a db nor a snapshot file": bytes
//! appended after an `etcdctl snapshot save` file's SHA-256 trailer, or to a db
//! (fixtures/damage_special.py, component "size"). `status` says what the size means and
//! exits 1; etcdctl 3.4 refuses to restore the appended snapshot file, as the finding says.

mod common;

use common::*;
use serde_json::Value;

fn variants() -> Vec<Value> {
    derived_variants("size", "file")
}

#[test]
fn status_names_bytes_appended_after_the_sha256_trailer_or_to_a_db() {
    for v in variants() {
        let f = fixtures().join("damaged").join(v["file"].as_str().unwrap());
        let (code, r) = run_json(&["status", "--json", s(&f)]);
        assert_eq!(code, 1, "{}: {r}", v["name"]);
        assert_eq!(r["size"]["meaning"], v["meaning"], "{}: {r}", v["name"]);
        let finding = r["size"]["finding"].as_str().unwrap();
        assert!(
            finding.contains(&format!("{} bytes", v["appended"])),
            "{}: {finding}",
            v["name"]
        );
        let (code, out, _) = run(&["status", s(&f)]);
        assert_eq!(code, 1);
        assert!(out.contains("size: DAMAGE"), "{out}");
    }
    // The committed files are sound: their sizes mean what they are.
    let (code, r) = run_json(&[
        "status",
        "--json",
        s(&fixtures().join("snapshot/snapshot.db")),
    ]);
    assert_eq!(
        (code, r["size"]["meaning"].as_str()),
        (0, Some("snapshot_file"))
    );
    let (code, r) = run_json(&["status", "--json", s(&fixtures().join("k8s/data"))]);
    assert_eq!((code, r["size"]["meaning"].as_str()), (0, Some("db")));
}

#[test]
fn etcdctl_3_4_refuses_to_restore_a_snapshot_with_bytes_after_its_trailer() {
    for v in variants() {
        if v["meaning"] != "snapshot_with_bytes_appended" {
            continue;
        }
        let f = fixtures().join("damaged").join(v["file"].as_str().unwrap());
        let dir = scratch("trailing-restore");
        let copy = dir.join("snap.db");
        std::fs::copy(&f, &copy).unwrap();
        let o = etcdctl(&[
            "snapshot",
            "restore",
            s(&copy),
            "--data-dir",
            s(&dir.join("restored")),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "etcdctl restored it: {err}");
        assert!(err.contains("missing hash"), "{err}");
        // The unmodified file restores.
        let o = etcdctl(&[
            "snapshot",
            "restore",
            s(&fixtures().join("snapshot/snapshot.db")),
            "--data-dir",
            s(&dir.join("restored-ok")),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}
