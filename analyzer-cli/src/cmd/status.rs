//! `status <DB|SNAPSHOT>`: the figures of `etcdctl snapshot status`, plus the snapshot
//! file's SHA-256 trailer.
//!
//! etcd 3.4 (`clientv3/snapshot/v3_snapshot.go` Status): `hash` = crc32c over every
//! top-level bucket name and every key and value in it, nothing skipped; `revision` = main
//! revision of the key bucket's last entry; `totalKey` = entries in all buckets; `totalSize`
//! = the high-water mark times the page size (bbolt `Tx.Size`). etcdctl first runs bbolt's
//! consistency check and refuses a file that fails it; here the figures are printed anyway
//! and the check's outcome is reported beside them.
//!
//! `totalKey` follows the writing version's tool (`written_by`, etcd's schema rule):
//! etcdctl 3.4 and etcdutl 3.5 count every key of every bucket; etcdutl 3.6 counts the
//! live user keys. Both figures are given by name: `total_key_all_buckets` and
//! `total_key_live_user_keys`, and `totalKey_semantics` says which one `totalKey` is.
//!
//! A file written by `etcdctl snapshot save` ends with the SHA-256 of everything before
//! it (recognised by `size % 512 == 32`); `sha256` says whether it is there and matches.
//!
//! # JSON (`--json`), schema `etcd-autopsy/status/v1`
//!
//! `{"schema", "hash", "revision", "totalKey", "totalSize", "written_by",
//! "totalKey_semantics": "all_buckets" | "live_user_keys", "total_key_all_buckets",
//! "total_key_live_user_keys", "sha256": {"present", "matches"}, "size": {"bytes",
//! "meaning", "finding"}, "integrity": {"checked", "ok", "findings"}}` — the first four as
//! the writing version's tool prints them with `-w json`; `matches` is null when there is
//! no trailer; `meaning` is `db`, `snapshot_file`, `snapshot_with_bytes_appended` or
//! `not_db_nor_snapshot` (the last two with a `finding`).
//!
//! Exit status: 0; 1 when the trailer does not match, the size fits neither a db nor a
//! snapshot file, or the integrity check finds damage; 2 when the file cannot be read.

use super::{bolt_err, open_db, open_image_for_scan, thread_pool};
use crate::error::{Result, EXIT_DAMAGE, EXIT_OK};
use etcd_mvcc::hash::{hash_db_and_live_keys_with_walk, DbHashMode};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A snapshot file (`etcdctl snapshot save`), db file, member dir or data dir.
    pub input: PathBuf,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = crate::args::threads)]
    pub threads: Option<usize>,
    /// Print JSON (schema `etcd-autopsy/status/v1`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Sha {
    present: bool,
    matches: Option<bool>,
}

/// What the file's size says it is. bbolt grows a db file in whole pages, so a db is a
/// multiple of the page size; `etcdctl snapshot save` writes exactly high-water mark x
/// page size bytes (bbolt `Tx.WriteTo`) and then the 32-byte SHA-256, and `snapshot
/// restore` looks for that trailer only when `size % 512 == 32`.
#[derive(Serialize, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum SizeMeaning {
    /// A whole number of pages: a db file.
    Db,
    /// High-water mark x page size plus the 32-byte trailer.
    SnapshotFile,
    /// A snapshot file (its trailer sits right after the high-water mark and matches)
    /// followed by more bytes.
    SnapshotWithBytesAppended,
    /// Neither: bytes past the last whole page that are not a trailer.
    NotDbNorSnapshot,
}

#[derive(Serialize)]
struct Size {
    bytes: u64,
    meaning: SizeMeaning,
    /// Why the size is damage, when it is.
    finding: Option<String>,
}

/// Reads the file's size against the page size and the high-water mark.
fn size_meaning(all: &[u8], len: u64, page_size: u64, high_water_mark: u64) -> Size {
    use sha2::{Digest, Sha256};
    let trailer = etcd_mvcc::member::SHA256_TRAILER_LEN as u64;
    let end = high_water_mark.saturating_mul(page_size);
    // Where a trailer would be if the file was saved by etcdctl and then appended to.
    let trailer_at_hwm = usize::try_from(end).ok().and_then(|e| {
        let t = all.get(e..e.checked_add(trailer as usize)?)?;
        Some(Sha256::digest(&all[..e]).as_slice() == t)
    });
    let appended = trailer_at_hwm == Some(true) && len > end.saturating_add(trailer);
    let (meaning, finding) = if !appended && len % 512 == trailer {
        (SizeMeaning::SnapshotFile, None)
    } else if appended {
        let extra = len - end - trailer;
        (
            SizeMeaning::SnapshotWithBytesAppended,
            Some(format!(
                "{len} bytes: a snapshot file (high-water mark {high_water_mark} x page size {page_size} = {end} bytes, then its SHA-256 trailer, which matches) with {extra} bytes appended after the trailer; the size no longer fits the trailer rule (size % 512 == 32), so `etcdctl snapshot restore` takes it for a db without a hash and refuses it unless --skip-hash-check"
            )),
        )
    } else if len.checked_rem(page_size) == Some(0) {
        (SizeMeaning::Db, None)
    } else {
        let extra = if page_size > 0 { len % page_size } else { len };
        (
            SizeMeaning::NotDbNorSnapshot,
            Some(format!(
                "{len} bytes: not a whole number of {page_size}-byte pages ({extra} bytes past the last whole page) and not a db plus a 32-byte SHA-256 trailer (size % 512 == 32): the file was cut or appended to; bbolt writes whole pages and `etcdctl snapshot save` adds exactly 32 bytes"
            )),
        )
    };
    Size {
        bytes: len,
        meaning,
        finding,
    }
}

#[derive(Serialize)]
struct Integrity {
    checked: bool,
    ok: bool,
    findings: u64,
}

#[derive(Serialize)]
struct Report {
    schema: &'static str,
    hash: u32,
    revision: i64,
    #[serde(rename = "totalKey")]
    total_key: u64,
    #[serde(rename = "totalSize")]
    total_size: u64,
    written_by: etcd_mvcc::version::Release,
    #[serde(rename = "totalKey_semantics")]
    total_key_semantics: &'static str,
    total_key_all_buckets: u64,
    total_key_live_user_keys: u64,
    sha256: Sha,
    size: Size,
    integrity: Integrity,
}

/// SI units as Go's humanize.Bytes prints them (etcdctl's table uses it).
fn humanize_si(n: u64) -> String {
    if n < 10 {
        return format!("{n} B");
    }
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let e = ((n as f64).ln() / 1000f64.ln()).floor() as usize;
    let e = e.min(UNITS.len() - 1);
    let v = n as f64 / 1000f64.powi(e as i32);
    let v = (v * 10.0 + 0.5).floor() / 10.0;
    if v < 10.0 {
        format!("{v:.1} {}", UNITS[e])
    } else {
        format!("{v:.0} {}", UNITS[e])
    }
}

/// Runs `status`; returns the exit status.
pub fn run(args: &Args) -> Result<u8> {
    let image = open_image_for_scan(&args.input)?;
    let db = open_db(&image)?;
    let pool = thread_pool(args.threads)?;
    let bar = crate::progress::bar(db.meta().high_water_mark, "hashing", false);
    // One pass over the key bucket gives the hash, the live user keys and, from the same
    // whole-file walk, bbolt's consistency check.
    let (hashed, walk) = pool.install(|| {
        hash_db_and_live_keys_with_walk(&db, DbHashMode::SnapshotStatus, &|n| bar.inc(n))
    });
    let (h, live_in_pass) = hashed.map_err(|e| bolt_err(&image, e))?;
    bar.finish_and_clear();
    let check = bbolt_reader::check::check_walk(&db, &walk);
    let findings = check.findings.len() as u64;
    let integrity = Integrity {
        checked: true,
        ok: check.is_clean(),
        findings,
    };
    let total_size = db
        .meta()
        .high_water_mark
        .saturating_mul(db.page_size() as u64);
    let sha = Sha {
        present: image.sha256_trailer().is_some(),
        matches: image.sha256_matches(),
    };
    let size = size_meaning(
        image.file_bytes(),
        image.file_len(),
        db.page_size() as u64,
        db.meta().high_water_mark,
    );
    let damaged = sha.matches == Some(false) || !integrity.ok || size.finding.is_some();
    let info = etcd_mvcc::info::read_info(&db);
    let written_by = etcd_mvcc::version::written_by(&info.meta).version;
    let live = match db.bucket(etcd_mvcc::KEY_BUCKET) {
        Ok(Some(_)) => live_in_pass,
        _ => 0,
    };
    // etcdutl 3.6 reports live user keys as totalKey; 3.4's etcdctl and 3.5's etcdutl
    // every key of every bucket.
    let live_semantics = written_by >= etcd_mvcc::version::Release::V3_6;
    let total_key = if live_semantics { live } else { h.total_key };
    if args.json {
        crate::output::print_json(&Report {
            schema: "etcd-autopsy/status/v1",
            hash: h.hash,
            revision: h.revision,
            total_key,
            total_size,
            written_by,
            total_key_semantics: if live_semantics {
                "live_user_keys"
            } else {
                "all_buckets"
            },
            total_key_all_buckets: h.total_key,
            total_key_live_user_keys: live,
            sha256: sha,
            size,
            integrity,
        })?;
    } else {
        let mut out = crate::output::stdout();
        let rows = [
            format!("{:x}", h.hash),
            h.revision.to_string(),
            total_key.to_string(),
            humanize_si(total_size),
        ];
        let heads = ["HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE"];
        let w: Vec<usize> = heads
            .iter()
            .zip(&rows)
            .map(|(a, b)| a.len().max(b.len()))
            .collect();
        let sep: String = w
            .iter()
            .map(|n| format!("+{}", "-".repeat(n + 2)))
            .collect::<String>()
            + "+";
        writeln!(out, "{sep}")?;
        let row = |cells: &[String]| -> String {
            cells
                .iter()
                .zip(&w)
                .map(|(c, n)| format!("| {c:>n$} "))
                .collect::<String>()
                + "|"
        };
        writeln!(out, "{}", row(&heads.map(String::from)))?;
        writeln!(out, "{sep}")?;
        writeln!(out, "{}", row(&rows))?;
        writeln!(out, "{sep}")?;
        writeln!(
            out,
            "total keys: {} in all buckets (totalKey of etcdctl 3.4 / etcdutl 3.5), {live} live user keys (totalKey of etcdutl 3.6+); written by etcd {written_by}, so TOTAL KEYS is the {} figure",
            h.total_key,
            if live_semantics { "live user keys" } else { "all buckets" }
        )?;
        match sha.matches {
            None => writeln!(out, "sha256 trailer: none (a db file, not an `etcdctl snapshot save` file)")?,
            Some(true) => writeln!(out, "sha256 trailer: present, matches")?,
            Some(false) => writeln!(
                out,
                "sha256 trailer: present, DOES NOT MATCH: the file was changed or truncated after it was saved"
            )?,
        }
        if let Some(f) = &size.finding {
            writeln!(out, "size: DAMAGE: {f}")?;
        }
        if integrity.ok {
            writeln!(out, "integrity: bbolt consistency check passed")?;
        } else {
            writeln!(
                out,
                "integrity: {findings} finding(s) from the bbolt consistency check; etcdctl snapshot status would refuse this file (see `etcd-autopsy check`)"
            )?;
        }
        out.flush()?;
    }
    Ok(if damaged { EXIT_DAMAGE } else { EXIT_OK })
}

#[cfg(test)]
mod tests {
    use super::humanize_si;

    #[test]
    fn sizes_print_like_go_humanize() {
        assert_eq!(humanize_si(643_072), "643 kB");
        assert_eq!(humanize_si(1_265_664), "1.3 MB");
        assert_eq!(humanize_si(5), "5 B");
    }
}
