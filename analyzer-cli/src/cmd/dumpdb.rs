//! `list-bucket` and `iterate-bucket`: the lines etcd v3.4's `tools/etcd-dump-db` prints,
//! so scripts written against it keep working.
//!
//! Format facts (etcd v3.4.23 `tools/etcd-dump-db/{main,backend}.go`):
//! - `list-bucket` prints each top-level bucket name on its own line, in key order.
//! - `iterate-bucket` walks the bucket from its last key to its first (reverse order) and
//!   prints `key=%q, value=%q` (Go quoting), stopping after `--limit` entries (0 = all).
//!   A nested bucket's value prints as `""`.
//! - With `--decode`, buckets with a decoder print instead:
//!   `key`: `rev={main:M sub:S}, value=[key %q | val %q | created %d | mod %d | ver %d]`;
//!   `lease`: `lease ID=%016x, TTL=%ds`;
//!   `auth`: `key="authRevision", value=N` (u64 big-endian) or `key=%q, value=[b b ...]`;
//!   `authRoles`: `role=%q, keyPermission=[...]`; `authUsers`: `user=%q, roles=[%q ...],
//!   password=%q, option=...`.
//!
//! Departures, all deliberate: values of keys under `/registry/secrets/` (and the password
//! hashes of `authUsers`: the whole raw value of a user with a password, the `password`
//! field with `--decode`) are replaced by a redaction marker unless `--show-secrets`; a
//! value that cannot be decoded prints `<undecodable: ...>` where etcd-dump-db would panic.
//! Role permissions print in protobuf text form, as etcd-dump-db's `%v` of
//! `[]*authpb.Permission` does (the pointer type has a `String()` method).

use super::open_image;
use crate::error::{CliError, Result, EXIT_OK};
use crate::output::{go_quote, print_json, sanitize, stdout, JsonBytes};
use crate::redact::{Redactor, REDACTED, REDACTED_USER};
use bbolt_reader::{Bucket, Db};
use etcd_mvcc::buckets::{AUTH_USERS_BUCKET, KEY_BUCKET};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

/// `list-bucket <DB>`: the top-level bucket names, one per line, as etcd-dump-db prints.
///
/// JSON: `{"buckets": [{"text"} | {"base64"}]}`. Exit status: 0; 2 when unreadable.
#[derive(Debug, clap::Args)]
pub struct ListBucketArgs {
    /// Data dir, member dir, db file or `etcdctl snapshot save` file.
    pub db: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `list-bucket`.
pub fn run_list_bucket(args: &ListBucketArgs) -> Result<u8> {
    let image = open_image(&args.db)?;
    let db = Db::open(image.bytes()).map_err(|e| super::bolt_err(&image, e))?;
    let mut names = Vec::new();
    for item in db.root().iter() {
        let item = item.map_err(|e| CliError::input(image.path.clone(), e.to_string()))?;
        names.push(item.key);
    }
    if args.json {
        let list: Vec<JsonBytes> = names.iter().map(|n| JsonBytes::new(n)).collect();
        print_json(
            &serde_json::json!({ "schema": "etcd-autopsy/list-bucket/v1", "buckets": list }),
        )?;
        return Ok(EXIT_OK);
    }
    let mut out = stdout();
    for n in names {
        writeln!(out, "{}", sanitize(n))?;
    }
    out.flush()?;
    Ok(EXIT_OK)
}

/// `iterate-bucket <DB> <BUCKET> [--limit N] [--decode]`: the bucket's entries from the
/// last key to the first, as etcd-dump-db prints them.
///
/// JSON: `{"bucket": bytes, "entries": [{"key": bytes, "value": bytes | null (nested
/// bucket or redacted), "redacted": bool, "line": the text line}]}` with bytes as
/// `{"text"}` or `{"base64"}`. Exit status: 0; 2 when unreadable or the bucket is missing.
#[derive(Debug, clap::Args)]
pub struct IterateBucketArgs {
    /// Data dir, member dir, db file or `etcdctl snapshot save` file.
    pub db: PathBuf,
    /// Bucket name (top level), e.g. `key`.
    pub bucket: String,
    /// Stop after N entries (0 = all).
    #[arg(long, default_value_t = 0)]
    pub limit: u64,
    /// Decode protobuf values of the key, lease and auth buckets.
    #[arg(long)]
    pub decode: bool,
    /// Show values under /registry/secrets/ and password hashes.
    #[arg(long)]
    pub show_secrets: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct EntryJson {
    key: JsonBytes,
    value: Option<JsonBytes>,
    redacted: bool,
    line: String,
}

/// The line for one entry, and whether its value was redacted.
fn entry_line(
    bucket: &[u8],
    key: &[u8],
    value: &[u8],
    is_bucket: bool,
    decode: bool,
    redactor: &Redactor,
) -> (String, bool) {
    // A damaged KeyValue whose bytes name a Secret is hidden too (`is_secret_kv`).
    let secret_kv = bucket == KEY_BUCKET && redactor.hides_kv(value);
    // A user created with --no-password has nothing to hide.
    let secret_user = bucket == AUTH_USERS_BUCKET && redactor.hides_user(value);
    if decode {
        let secrets = etcd_mvcc::dumpdb::Secrets {
            kv_value_marker: secret_kv.then_some(REDACTED),
            show_password_hashes: redactor.show_secrets,
        };
        let decoded = etcd_mvcc::dumpdb::decode_entry(bucket, key, value, secrets);
        match decoded {
            Some(Ok(line)) => {
                return (
                    line,
                    secret_kv || (secret_user && bucket == AUTH_USERS_BUCKET),
                )
            }
            Some(Err(e)) => {
                return (
                    format!("key={}, value=<undecodable: {}>", go_quote(key), e),
                    false,
                )
            }
            None => {}
        }
    }
    if is_bucket {
        return (format!("key={}, value=\"\"", go_quote(key)), false);
    }
    if secret_kv || secret_user {
        let marker = if secret_user { REDACTED_USER } else { REDACTED };
        return (
            format!(
                "key={}, value={}",
                go_quote(key),
                go_quote(marker.as_bytes())
            ),
            true,
        );
    }
    (
        format!("key={}, value={}", go_quote(key), go_quote(value)),
        false,
    )
}

/// Runs `iterate-bucket`.
pub fn run_iterate_bucket(args: &IterateBucketArgs) -> Result<u8> {
    let image = open_image(&args.db)?;
    let err = |e: bbolt_reader::Error| super::bolt_err(&image, e);
    let db = Db::open(image.bytes()).map_err(err)?;
    let name = args.bucket.as_bytes();
    let bucket: Bucket<'_> = db.bucket(name).map_err(err)?.ok_or_else(|| {
        CliError::input(
            image.path.clone(),
            format!("got nil bucket for {}", args.bucket),
        )
    })?;
    let redactor = Redactor {
        show_secrets: args.show_secrets,
    };
    // Reverse order, as etcd-dump-db's Cursor.Last / Prev; with --limit only the pages
    // holding the last entries are read.
    let bar = crate::progress::bar(db.page_count(), "pages", args.json);
    let limit = if args.limit == 0 {
        u64::MAX
    } else {
        args.limit
    };
    let mut printed = 0u64;
    let mut out = stdout();
    let mut entries = Vec::new();
    let mut cursor = bucket.cursor();
    let mut next = cursor.last().map_err(err)?;
    let mut leaf = cursor.leaf_pgid();
    while let Some(el) = next {
        if printed >= limit {
            break;
        }
        if cursor.leaf_pgid() != leaf {
            leaf = cursor.leaf_pgid();
            bar.inc(1);
        }
        let value = if el.is_bucket() { &b""[..] } else { el.value };
        let (line, redacted) =
            entry_line(name, el.key, value, el.is_bucket(), args.decode, &redactor);
        printed += 1;
        if args.json {
            entries.push(EntryJson {
                key: JsonBytes::new(el.key),
                value: (!redacted && !el.is_bucket()).then(|| JsonBytes::new(value)),
                redacted,
                line,
            });
        } else {
            writeln!(out, "{line}")?;
        }
        next = cursor.prev().map_err(err)?;
    }
    bar.finish_and_clear();
    if args.json {
        drop(out);
        print_json(&serde_json::json!({
            "schema": "etcd-autopsy/iterate-bucket/v1",
            "bucket": JsonBytes::new(name),
            "entries": entries,
        }))?;
        return Ok(EXIT_OK);
    }
    out.flush()?;
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_bucket_line_without_decode_is_the_raw_quoted_entry() {
        // The decoded form is etcd_mvcc::dumpdb's (tested there).
        let k = [0, 0, 0, 0, 0, 0, 0, 3, b'_', 0, 0, 0, 0, 0, 0, 0, 0];
        let (raw, red) = entry_line(b"key", &k, b"v", false, false, &Redactor::default());
        assert!(raw.starts_with("key=\"\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x03_"));
        assert!(!red);
    }

    #[test]
    fn secret_values_are_redacted_in_both_forms() {
        let mut v = vec![0x0a, 20];
        v.extend_from_slice(b"/registry/secrets/ab");
        v.extend_from_slice(&[0x2a, 6]);
        v.extend_from_slice(b"hunter");
        let k = [0, 0, 0, 0, 0, 0, 0, 3, b'_', 0, 0, 0, 0, 0, 0, 0, 0];
        let r = Redactor::default();
        for decode in [false, true] {
            let (line, red) = entry_line(b"key", &k, &v, false, decode, &r);
            assert!(red);
            assert!(!line.contains("hunter"), "{line}");
        }
        let show = Redactor { show_secrets: true };
        let (line, _) = entry_line(b"key", &k, &v, false, true, &show);
        assert!(line.contains("hunter"));
    }
}
