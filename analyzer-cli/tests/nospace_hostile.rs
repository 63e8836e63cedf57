//! The MVCC commands on damaged copies of a real db: flipped bytes, zeroed pages and
//! truncation anywhere must end in a report or a clean error (exit 0, 1 or 2), never a
//! panic, a hang or a crash.

mod common;

use common::*;
use std::path::{Path, PathBuf};

fn source() -> Vec<u8> {
    let p = fixtures().join("k8s/data/member/snap/db");
    std::fs::read(p).expect("k8s fixture db")
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn run_all(path: &Path, what: &str) {
    let p = path.to_str().unwrap();
    let cmds: [&[&str]; 7] = [
        &["prefixes", "--json", p],
        &["space", "--json", p],
        &["hash", "--json", p],
        &["hash", "--db", "--json", p],
        &["status", "--json", p],
        &["report", "--json", p],
        &["report", p],
    ];
    for args in cmds {
        let out = bin().args(args).output().expect("binary runs");
        let code = out.status.code();
        assert!(
            matches!(code, Some(0..=2)),
            "{what}: {args:?} ended with {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn damaged_copies_never_crash_the_mvcc_commands() {
    let src = source();
    let ps = 4096;
    let dir = std::env::temp_dir().join(format!("nospace-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("db");
    let mut rng = Rng(0x1234_5678_9abc_def1);
    // Random byte flips, growing in number.
    for round in 0..12u32 {
        let mut b = src.clone();
        for _ in 0..(1 << (round % 8)) * 4 {
            let i = (rng.next() % b.len() as u64) as usize;
            b[i] ^= (rng.next() as u8) | 1;
        }
        std::fs::write(&path, &b).unwrap();
        run_all(&path, &format!("flips round {round}"));
    }
    // Whole pages zeroed or filled with 0xff (headers, element tables, values).
    for round in 0..8u32 {
        let mut b = src.clone();
        let pages = b.len() / ps;
        let pg = 2 + (rng.next() as usize % (pages - 2));
        let fill = if round % 2 == 0 { 0 } else { 0xff };
        b[pg * ps..(pg + 1) * ps].fill(fill);
        std::fs::write(&path, &b).unwrap();
        run_all(&path, &format!("page {pg} filled with {fill:#x}"));
    }
    // Truncation, including inside the metas.
    for len in [
        0,
        100,
        ps + 7,
        2 * ps,
        3 * ps + 1,
        src.len() / 2,
        src.len() - 1,
    ] {
        std::fs::write(&path, &src[..len.min(src.len())]).unwrap();
        run_all(&path, &format!("truncated to {len}"));
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn damaged_fixture_dbs_are_reported_as_far_as_they_can_be_read() {
    let dir = fixtures().join("damaged/bbolt");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        eprintln!("note: damaged bbolt fixtures not generated; skipped");
        return;
    };
    let mut dbs: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "db"))
        .collect();
    dbs.sort();
    // Variants whose keyspace the meta's root does not reach at all (forged metas) have
    // nothing to count; tests/hardening_forged_meta.rs covers them.
    let unreachable: Vec<String> = std::fs::read(fixtures().join("damaged/manifest.json"))
        .ok()
        .and_then(|t| serde_json::from_slice::<serde_json::Value>(&t).ok())
        .and_then(|m| m["variants"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter(|v| v["etcd_keys_unreachable"] == true)
        .filter_map(|v| {
            v["file"]
                .as_str()
                .and_then(|f| f.rsplit('/').next())
                .map(String::from)
        })
        .collect();
    for db in dbs {
        let name = db.file_name().unwrap().to_string_lossy().into_owned();
        if unreachable.contains(&name) {
            continue;
        }
        let out = bin().args(["report", "--json"]).arg(&db).output().unwrap();
        let code = out.status.code();
        if name.starts_with("both-metas") {
            // No valid meta: no root to start from; a clean refusal.
            assert_eq!(code, Some(2), "{name}");
            continue;
        }
        assert!(matches!(code, Some(0 | 1)), "{name}: {:?}", out.status);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let tree_damage = !name.starts_with("meta");
        if tree_damage {
            assert_eq!(code, Some(1), "{name}");
            let ids = strs(&v["next_steps"], "id");
            assert_eq!(ids.first(), Some(&"db_damage"), "{name}: {ids:?}");
            assert!(
                !ids.contains(&"defrag_only"),
                "{name}: no etcdctl advice on damage"
            );
        }
        // What could be read is still counted.
        assert!(v["keys"]["live"].as_u64().unwrap() > 0, "{name}");
    }
}
