//! Every db that a real etcd wrote into fixtures/ (3.4.23 at the top level, 3.5.1 under
//! v3.5/) opens, checks clean, and has the layout etcd's bbolt gives it: no persisted
//! freelist (NoFreelistSync), a file of exactly high-water mark x page size, and the
//! buckets etcd creates. bbolt goes 1.3.6 (etcd 3.4) -> 1.3.11 (3.5) with the same format.

use bbolt_reader::walk::{walk, FreelistSource};
use bbolt_reader::{check_bytes, Db};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// (name, db path) of every member db and snapshot file under fixtures/ (damaged excluded).
fn fixture_dbs() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for v in ["", "v3.5/"] {
        for sc in [
            "k8s",
            "k8s-defrag",
            "nospace",
            "many-snaps",
            "killed",
            "snapshot",
            "restored",
            "cluster/m1",
            "cluster/m2",
            "cluster/m3",
        ] {
            let d = fixtures().join(format!("{v}{sc}"));
            for (what, p) in [
                ("db", d.join("data/member/snap/db")),
                ("snapshot.db", d.join("snapshot.db")),
            ] {
                if p.is_file() {
                    out.push((format!("{v}{sc} {what}"), p));
                }
            }
        }
    }
    out
}

#[test]
fn every_fixture_db_of_etcd_3_4_and_3_5_checks_clean_with_etcds_layout() {
    let dbs = fixture_dbs();
    assert!(
        dbs.iter().any(|(n, _)| n == "k8s db"),
        "k8s fixture present"
    );
    for (name, path) in dbs {
        let mut bytes = std::fs::read(&path).unwrap();
        // `snapshot save` appends a 32-byte SHA-256 after the bbolt pages.
        if bytes.len() % 512 == 32 {
            bytes.truncate(bytes.len() - 32);
        }
        let report = check_bytes(&bytes).unwrap();
        assert!(report.is_clean(), "{name}: {:?}", report.findings);
        let db = Db::open(&bytes).unwrap();
        let m = db.meta();
        assert_eq!(m.freelist, u64::MAX, "{name}: freelist not persisted");
        assert_eq!(
            walk(&db).graph.freelist,
            FreelistSource::Reconstructed,
            "{name}"
        );
        assert_eq!(
            bytes.len() as u64,
            m.high_water_mark * u64::from(m.page_size),
            "{name}: file = high-water mark x page size"
        );
        for b in [
            "key", "meta", "lease", "members", "cluster", "alarm", "auth",
        ] {
            assert!(
                db.bucket(b.as_bytes()).unwrap().is_some(),
                "{name}: bucket {b}"
            );
        }
    }
}
