//! `export <DATA-DIR|DB> [--rev R] [--prefix P] [--show-secrets] [--replay-wal]`: the live
//! keyspace at revision R (default: the newest), one key per line, in key order — what
//! `etcdctl get "" --from-key --rev R` would return from this member.
//!
//! With `--replay-wal` (data or member dir only) the committed WAL entries the db has
//! not applied yet (index above the db's consistent index) are applied first, as etcd
//! does on start: puts, deletes, txns with their compares, lease grants and revokes
//! (revoking deletes the lease's keys), compactions, NOSPACE/CORRUPT alarms; every
//! request that changes the keyspace takes one revision. Entries up to HardState.commit
//! count as committed; when the db's members bucket lists a single member (the sole
//! voter), the whole WAL does, since etcd commits it on start.
//!
//! # Output: JSON lines (the default, also `--json`), schema `etcd-autopsy/export/v1`
//!
//! One object per live key: `{"key": {"text"} | {"base64"}, "value": {"text"} |
//! {"base64"} | null, "redacted": true (only when the value is hidden),
//! "create_revision", "mod_revision", "version", "lease"}`. Values under
//! `/registry/secrets/` are `null` with `"redacted": true` unless `--show-secrets`.
//! A summary goes to stderr (`exported N keys at revision R ...`), never to stdout.
//!
//! `--text`: a readable view, one line per key: key, create/mod revision, version, lease,
//! and the value (sanitized; cut after 200 bytes).
//!
//! Exit status: 0; 1 when the replay met damage (WAL unreadable past some point, missing
//! entries, refused requests are not damage); 2 when the input cannot be read or R is
//! compacted or in the future.

use super::{load_raw, open_db, open_image_for_scan, replay_member, thread_pool, Replayed};
use crate::error::{Result, EXIT_DAMAGE, EXIT_OK};
use crate::output::sanitize;
#[cfg(test)]
use crate::output::JsonBytes;
use crate::redact::Redactor;
use etcd_mvcc::info::{read_info, EtcdInfo};
use etcd_mvcc::member::{self as input, Member};
use etcd_mvcc::replay::{LiveKv, RawLive, ReplayBound, State};
#[cfg(test)]
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data dir, member dir, db file or `etcdctl snapshot save` file.
    pub input: PathBuf,
    /// Revision to export at (default: the newest).
    #[arg(long, conflicts_with = "replay_wal")]
    pub rev: Option<i64>,
    /// Only keys starting with this prefix.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Show values stored under /registry/secrets/.
    #[arg(long)]
    pub show_secrets: bool,
    /// Apply the committed WAL entries the db has not applied yet (data or member dir).
    #[arg(long)]
    pub replay_wal: bool,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = crate::args::threads)]
    pub threads: Option<usize>,
    /// JSON lines (schema `etcd-autopsy/export/v1`); this is the default, the flag is
    /// accepted so that every command takes `--json`.
    #[arg(long, conflicts_with = "text")]
    pub json: bool,
    /// A readable view instead of JSON lines: one line per key, values cut after 200
    /// bytes. Not an export: use the JSON lines to move data.
    #[arg(long)]
    pub text: bool,
}

/// One line of the JSON output as serde would write it: the reference the hand-rolled
/// writer ([`json_line`]) is tested against.
#[cfg(test)]
#[derive(Serialize)]
struct Line {
    schema: &'static str,
    key: JsonBytes,
    value: Option<JsonBytes>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    redacted: bool,
    create_revision: i64,
    mod_revision: i64,
    version: i64,
    lease: i64,
    /// The lease ID as etcdctl prints it (16 hex digits); JSON readers that hold numbers
    /// as doubles lose lease IDs above 2^53.
    #[serde(skip_serializing_if = "Option::is_none")]
    lease_hex: Option<String>,
}

/// Cut for values in text output.
const TEXT_VALUE_MAX: usize = 200;

/// Appends `s` as a JSON string, escaped as serde_json escapes: `"` and `\`, the control
/// characters below 0x20 (`\b \t \n \f \r` by name, the rest as `\u00xx`), nothing else.
fn json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let b = s.as_bytes();
    let mut from = 0;
    for (i, &c) in b.iter().enumerate() {
        if c >= 0x20 && c != b'"' && c != b'\\' {
            continue;
        }
        out.extend_from_slice(&b[from..i]);
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x0a => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0d => out.extend_from_slice(b"\\r"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 0xf)],
            ]),
        }
        from = i + 1;
    }
    out.extend_from_slice(&b[from..]);
    out.push(b'"');
}

/// Appends `b` as [`JsonBytes`] serialises it: `{"text":...}` for UTF-8, else
/// `{"base64":...}` (standard alphabet, padded), without building a string first.
fn json_bytes(out: &mut Vec<u8>, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => {
            out.extend_from_slice(b"{\"text\":");
            json_str(out, s);
        }
        Err(_) => {
            out.extend_from_slice(b"{\"base64\":\"");
            base64_std(out, b);
            out.push(b'"');
        }
    }
    out.push(b'}');
}

/// Appends `b` in standard, padded base64 (RFC 4648 section 4, as the base64 crate's
/// `STANDARD` engine writes it), with base64-simd's vector encoder.
fn base64_std(out: &mut Vec<u8>, b: &[u8]) {
    let at = out.len();
    out.resize(at + base64_simd::STANDARD.encoded_length(b.len()), 0);
    // The encoder returns the slice it wrote: all of `out[at..]`, sized just above.
    let _ = base64_simd::STANDARD.encode(b, base64_simd::Out::from_slice(&mut out[at..]));
}

/// Appends a decimal integer.
fn json_int(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut u = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends the 16 lowercase hex digits of `n`'s bits (`{:016x}`).
fn hex16(out: &mut Vec<u8>, n: i64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let u = n as u64;
    out.extend((0..16).rev().map(|i| HEX[((u >> (4 * i)) & 0xf) as usize]));
}

/// Appends one JSON line, byte for byte what serde_json writes for [`Line`].
fn json_line(out: &mut Vec<u8>, k: &[u8], kv: &LiveKv<'_>, hidden: bool) {
    out.extend_from_slice(b"{\"schema\":\"etcd-autopsy/export/v1\",\"key\":");
    json_bytes(out, k);
    out.extend_from_slice(b",\"value\":");
    if hidden {
        out.extend_from_slice(b"null,\"redacted\":true");
    } else {
        json_bytes(out, &kv.value);
    }
    out.extend_from_slice(b",\"create_revision\":");
    json_int(out, kv.create_revision);
    out.extend_from_slice(b",\"mod_revision\":");
    json_int(out, kv.mod_revision);
    out.extend_from_slice(b",\"version\":");
    json_int(out, kv.version);
    out.extend_from_slice(b",\"lease\":");
    json_int(out, kv.lease);
    if kv.lease != 0 {
        out.extend_from_slice(b",\"lease_hex\":\"");
        hex16(out, kv.lease);
        out.push(b'"');
    }
    out.extend_from_slice(b"}\n");
}

/// Appends one line of the `--text` view.
fn text_line(out: &mut Vec<u8>, k: &[u8], kv: &LiveKv<'_>, hidden: bool) {
    let value = if hidden {
        crate::redact::REDACTED.to_string()
    } else if kv.value.len() > TEXT_VALUE_MAX {
        format!(
            "{}... ({} bytes)",
            sanitize(&kv.value[..TEXT_VALUE_MAX]),
            kv.value.len()
        )
    } else {
        sanitize(&kv.value)
    };
    // Writing into a Vec cannot fail.
    let _ = writeln!(
        out,
        "{}\tcreate={} mod={} version={} lease={:x}\t{}",
        sanitize(k),
        kv.create_revision,
        kv.mod_revision,
        kv.version,
        kv.lease,
        value
    );
}

/// Output bytes gathered before a batch is formatted (in parallel) and written.
const BATCH_BYTES: usize = 8 << 20;

/// One key to write: decoded already (a replayed keyspace) or still encoded, straight
/// from the mapping (a db's keyspace, decoded where it is formatted so that each KeyValue
/// is read from memory once).
#[derive(Clone, Copy)]
enum Entry<'s, 'a> {
    Decoded(&'s [u8], &'s LiveKv<'a>),
    Raw(RawLive<'a>),
}

impl Entry<'_, '_> {
    /// About the bytes its line takes (base64 is 4/3 of the bytes), read from the slices'
    /// lengths only.
    fn line_bytes(&self) -> usize {
        let (k, v) = match self {
            Entry::Decoded(k, kv) => (k.len(), kv.value.len()),
            Entry::Raw(r) => (r.key.len(), r.kv.len()),
        };
        160 + 2 * k + v * 4 / 3
    }
}

/// Keys written and values redacted.
#[derive(Debug, Default, Clone, Copy)]
struct Written {
    keys: u64,
    redacted: u64,
}

/// Formats `c` into `buf` (emptied first); a raw entry that does not decode is left out,
/// as the decoded keyspace leaves it out.
fn format_piece(buf: &mut Vec<u8>, c: &[Entry<'_, '_>], redactor: Redactor, json: bool) -> Written {
    use etcd_mvcc::replay::VALUES_AHEAD;
    buf.clear();
    let mut w = Written::default();
    for (i, e) in c.iter().enumerate() {
        if let Some(Entry::Raw(r)) = c.get(i + VALUES_AHEAD) {
            r.prefetch();
        }
        let decoded;
        let (k, kv) = match e {
            Entry::Decoded(k, kv) => (*k, *kv),
            Entry::Raw(r) => {
                let Some(kv) = r.decode() else { continue };
                decoded = kv;
                (r.key, &decoded)
            }
        };
        let hidden = redactor.hides(k);
        w.keys += 1;
        w.redacted += u64::from(hidden);
        if json {
            json_line(buf, k, kv, hidden);
        } else {
            text_line(buf, k, kv, hidden);
        }
    }
    w
}

/// Formats `batch` on `pool`, pieces in parallel, and writes them in order. `bufs` are the
/// pieces' buffers, kept from batch to batch so that their memory is reused, not mapped
/// and zeroed afresh by the allocator every time.
fn write_batch(
    out: &mut dyn Write,
    batch: &[Entry<'_, '_>],
    redactor: Redactor,
    json: bool,
    pool: &rayon::ThreadPool,
    bufs: &mut Vec<Vec<u8>>,
) -> Result<Written> {
    use rayon::prelude::*;
    if batch.is_empty() {
        return Ok(Written::default());
    }
    let per = batch.len().div_ceil(4 * pool.current_num_threads()).max(1);
    let pieces = batch.len().div_ceil(per);
    if bufs.len() < pieces {
        bufs.resize_with(pieces, Vec::new);
    }
    let counts: Vec<Written> = pool.install(|| {
        bufs[..pieces]
            .par_iter_mut()
            .zip(batch.par_chunks(per))
            .map(|(buf, c)| format_piece(buf, c, redactor, json))
            .collect()
    });
    for p in &bufs[..pieces] {
        out.write_all(p)?;
    }
    Ok(counts.iter().fold(Written::default(), |a, w| Written {
        keys: a.keys + w.keys,
        redacted: a.redacted + w.redacted,
    }))
}

/// Writes `entries` (in key order) in batches of about [`BATCH_BYTES`] of output.
fn write_entries<'s, 'a: 's>(
    out: &mut dyn Write,
    entries: impl Iterator<Item = Entry<'s, 'a>>,
    redactor: Redactor,
    json: bool,
    pool: &rayon::ThreadPool,
) -> Result<Written> {
    let mut total = Written::default();
    let mut batch = Vec::new();
    let mut batch_bytes = 0usize;
    let mut bufs = Vec::new();
    let mut flush = |batch: &mut Vec<Entry<'s, 'a>>, total: &mut Written| -> Result<()> {
        let w = write_batch(out, batch, redactor, json, pool, &mut bufs)?;
        total.keys += w.keys;
        total.redacted += w.redacted;
        batch.clear();
        Ok(())
    };
    for e in entries {
        batch_bytes += e.line_bytes();
        batch.push(e);
        if batch_bytes >= BATCH_BYTES {
            flush(&mut batch, &mut total)?;
            batch_bytes = 0;
        }
    }
    flush(&mut batch, &mut total)?;
    Ok(total)
}

/// The live keys to export: a decoded keyspace (after a replay) or a db's, still encoded.
enum Keys<'s, 'a> {
    State(&'s State<'a>),
    Raw(&'s [RawLive<'a>]),
}

fn write_keys(
    out: &mut dyn Write,
    keys: Keys<'_, '_>,
    prefix: &[u8],
    redactor: Redactor,
    json: bool,
    pool: &rayon::ThreadPool,
) -> Result<Written> {
    match keys {
        Keys::State(state) => {
            let range = etcd_mvcc::replay::KeyRange::From(prefix);
            let entries = state
                .range(range)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, kv)| Entry::Decoded(k.as_ref(), kv));
            write_entries(out, entries, redactor, json, pool)
        }
        Keys::Raw(live) => {
            // In key order: the keys from `prefix` on, while they start with it (no key is
            // read at all for the empty prefix).
            let (from, to) = if prefix.is_empty() {
                (0, live.len())
            } else {
                let from = live.partition_point(|r| r.key < prefix);
                let n = live[from..].partition_point(|r| r.key.starts_with(prefix));
                (from, from + n)
            };
            let entries = live[from..to].iter().map(|&r| Entry::Raw(r));
            write_entries(out, entries, redactor, json, pool)
        }
    }
}

/// Runs `export`; returns the exit status.
pub fn run(args: &Args) -> Result<u8> {
    let member = input::resolve(&args.input)?;
    if member.db.is_none() && args.replay_wal && member.wal_dir.is_some() {
        return run_wal_only(args, &member);
    }
    let image = open_image_for_scan(&args.input)?;
    let db = open_db(&image)?;
    let pool = thread_pool(args.threads)?;
    let info = read_info(&db);
    // Without a replay the keys are written straight from their encoded KeyValues.
    let loaded = load_raw(&image, &db, &info, args.rev, &pool)?;
    let (mut state, raw) = if args.replay_wal {
        (pool.install(|| loaded.into_loaded()).state, None)
    } else {
        (loaded.state, Some(loaded.live))
    };
    let (mut code, mut note) = if args.replay_wal {
        let r = replay_member(&member, &info, &mut state)?;
        replay_note(&r)
    } else {
        (EXIT_OK, String::new())
    };
    // A keyspace the pages contradict (no etcd bucket, or revisions on pages the root no
    // longer reaches) is never exported as a success.
    for m in db.metas() {
        if let Some(p) = m.problem {
            // The other meta is in use: the keyspace is that commit's, and a newer one
            // (if this meta was the newer) is lost.
            note.push_str(&format!(
                "; DAMAGE: meta page {} is invalid ({p}); exported as of meta page {} (txid {})",
                m.index,
                db.meta_index(),
                db.meta().txid
            ));
            code = EXIT_DAMAGE;
        }
    }
    for f in etcd_mvcc::layout::etcd_layout(&db) {
        note.push_str(&format!(
            "; DAMAGE: page {}: {}: {}",
            f.page, f.kind, f.message
        ));
        code = EXIT_DAMAGE;
    }
    let keys = match &raw {
        Some(live) => Keys::Raw(live),
        None => Keys::State(&state),
    };
    finish(args, keys, &state, code, &note, &pool)
}

/// A data dir without a db: etcd creates an empty one and applies the whole WAL; so does
/// this (a fresh store is at revision 1, its first write takes revision 2).
fn run_wal_only(args: &Args, member: &Member) -> Result<u8> {
    let mut state = State {
        revision: 1,
        compact_revision: -1,
        ..State::default()
    };
    let r = replay_member(member, &EtcdInfo::default(), &mut state)?;
    let (code, mut note) = replay_note(&r);
    note.insert_str(0, "; no db: the keyspace was rebuilt from the WAL alone");
    let pool = thread_pool(args.threads)?;
    finish(args, Keys::State(&state), &state, code, &note, &pool)
}

/// Exit status and summary text of a replay.
fn replay_note(r: &Replayed) -> (u8, String) {
    let mut code = EXIT_OK;
    let rep = &r.report;
    let bound = match r.bound {
        ReplayBound::Commit => "HardState.commit",
        ReplayBound::LastIndex => "last index (sole voter)",
    };
    let mut note = if rep.entries == 0 {
        format!(
            "; no WAL entry to replay (consistent index {}, commit {}, bound {bound})",
            r.consistent_index, r.commit
        )
    } else {
        format!(
            "; replayed WAL entries {}..={} ({} entries, bound {bound}: consistent index {}, commit {}), revision {} -> {}, {} requests refused",
            rep.from_index,
            rep.to_index,
            rep.entries,
            r.consistent_index,
            r.commit,
            rep.revision_before,
            rep.revision_after,
            rep.refused.values().sum::<u64>()
        )
    };
    if rep.missing_before_first > 0 {
        note.push_str(&format!(
            "; DAMAGE: {} committed entries after index {} are missing from the WAL",
            rep.missing_before_first, r.consistent_index
        ));
        code = EXIT_DAMAGE;
    }
    if let Some((seg, off)) = &r.wal_stopped_at {
        note.push_str(&format!(
            "; DAMAGE: WAL unreadable from {seg}+{off}: later entries not replayed"
        ));
        code = EXIT_DAMAGE;
    }
    (code, note)
}

/// Prints `keys` (of `state`) and the summary; returns `code`.
fn finish(
    args: &Args,
    keys: Keys<'_, '_>,
    state: &State<'_>,
    code: u8,
    note: &str,
    pool: &rayon::ThreadPool,
) -> Result<u8> {
    let redactor = Redactor {
        show_secrets: args.show_secrets,
    };
    let prefix = args.prefix.as_deref().unwrap_or("").as_bytes();
    let mut out = crate::output::stdout();
    let Written { keys: n, redacted } =
        write_keys(&mut out, keys, prefix, redactor, !args.text, pool)?;
    out.flush()?;
    let redacted_note = if redacted > 0 {
        format!(
            "; {redacted} values under {} redacted (--show-secrets prints them)",
            String::from_utf8_lossy(crate::redact::SECRET_PREFIX)
        )
    } else {
        String::new()
    };
    crate::output::note(&format!(
        "exported {n} keys at revision {} (compact revision {}){redacted_note}{note}",
        state.revision, state.compact_revision
    ));
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn serde_line(k: &[u8], kv: &LiveKv<'_>, hidden: bool) -> Vec<u8> {
        let line = Line {
            schema: "etcd-autopsy/export/v1",
            key: JsonBytes::new(k),
            value: (!hidden).then(|| JsonBytes::new(&kv.value)),
            redacted: hidden,
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
            lease: kv.lease,
            lease_hex: (kv.lease != 0).then(|| format!("{:016x}", kv.lease)),
        };
        let mut v = serde_json::to_vec(&line).unwrap();
        v.push(b'\n');
        v
    }

    /// Encoded KeyValues of `n` keys (some secrets, some binary), in key order, with one
    /// entry whose KeyValue does not decode.
    fn raw_keyspace(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut v: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
            .map(|i| {
                let key = match i % 4 {
                    0 => format!("/registry/secrets/ns/s{i:05}").into_bytes(),
                    1 => format!("/registry/pods/ns/p{i:05}").into_bytes(),
                    2 => format!("/registry/leases/l{i:05}").into_bytes(),
                    _ => format!("/a/{i:05}").into_bytes(),
                };
                let value: Vec<u8> = if i % 3 == 0 {
                    (0..(i * 37) % 3000).map(|j| (j * 7 + i) as u8).collect()
                } else {
                    format!("value \"{i}\"\n").into_bytes()
                };
                let kv = etcd_mvcc::kv::KeyValue {
                    key: key.clone(),
                    value,
                    create_revision: i as i64 + 2,
                    mod_revision: 3 * i as i64 + 2,
                    version: (i % 5) as i64 + 1,
                    lease: if i % 7 == 0 {
                        0x694d_0000 + i as i64
                    } else {
                        0
                    },
                }
                .encode_to_vec_etcd();
                (key, kv)
            })
            .collect();
        v.push((b"/registry/pods/zz-broken".to_vec(), vec![0xff, 0xff, 0xff]));
        v.sort();
        v
    }

    #[test]
    fn raw_keys_are_written_as_the_decoded_keyspace_is() {
        let raw = raw_keyspace(12_000);
        let live: Vec<RawLive<'_>> = raw.iter().map(|(k, kv)| RawLive { key: k, kv }).collect();
        let state = State {
            keys: live
                .iter()
                .filter_map(|r| Some((Cow::Borrowed(r.key), r.decode()?)))
                .collect(),
            ..State::default()
        };
        assert_eq!(
            state.keys.len(),
            live.len() - 1,
            "the broken entry is left out"
        );
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            for prefix in [
                &b""[..],
                b"/registry/",
                b"/registry/pods/",
                b"/a/0",
                b"/zz",
                b"/",
            ] {
                for show_secrets in [false, true] {
                    for json in [true, false] {
                        let redactor = Redactor { show_secrets };
                        let (mut a, mut b) = (Vec::new(), Vec::new());
                        let wa =
                            write_keys(&mut a, Keys::Raw(&live), prefix, redactor, json, &pool)
                                .unwrap();
                        let wb =
                            write_keys(&mut b, Keys::State(&state), prefix, redactor, json, &pool)
                                .unwrap();
                        assert_eq!(a, b, "prefix {prefix:?}");
                        assert_eq!((wa.keys, wa.redacted), (wb.keys, wb.redacted));
                        let want = state.keys.keys().filter(|k| k.starts_with(prefix)).count();
                        assert_eq!(wa.keys, want as u64);
                    }
                }
            }
        }
    }

    #[test]
    fn base64_equals_the_base64_crates_standard_engine_at_every_length() {
        use base64::Engine as _;
        let data: Vec<u8> = (0..3000u32).map(|i| (i * 131 + i / 7) as u8).collect();
        for n in (0..70).chain([255, 256, 257, 1000, 2999, 3000]) {
            let mut mine = b"x".to_vec();
            base64_std(&mut mine, &data[..n]);
            let want = base64::engine::general_purpose::STANDARD.encode(&data[..n]);
            assert_eq!(&mine[1..], want.as_bytes(), "length {n}");
        }
    }

    #[test]
    fn hand_written_json_lines_equal_serde_json_byte_for_byte() {
        let mut every_byte: Vec<u8> = (0u8..=0x7f).collect();
        every_byte.extend_from_slice("é✓\u{2028}".as_bytes());
        let keys: Vec<Vec<u8>> = vec![
            b"/registry/pods/default/p".to_vec(),
            b"".to_vec(),
            b"a\"b\\c\n\t\r\x08\x0c\x00\x1f\x7f".to_vec(),
            every_byte.clone(),
            vec![0xff, 0xfe, b'x'],
            vec![0x80],
        ];
        let values: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"v".to_vec(),
            every_byte,
            vec![0xff],
            vec![0xc3, 0x28, 1, 2],
            (0..=255u8).collect(),
            (0..1000u32).map(|i| (i * 31 % 251) as u8).collect(),
        ];
        let leases = [0i64, 1, -1, i64::MAX, i64::MIN, 0x694d_7f5b_1e3c_0a21];
        let mut n = 0;
        for k in &keys {
            for v in &values {
                for (j, &lease) in leases.iter().enumerate() {
                    let kv = LiveKv {
                        value: Cow::Borrowed(v),
                        create_revision: j as i64 * 1_000_003 - 2,
                        mod_revision: i64::MAX - j as i64,
                        version: -(j as i64),
                        lease,
                    };
                    for hidden in [false, true] {
                        let mut mine = Vec::new();
                        json_line(&mut mine, k, &kv, hidden);
                        assert_eq!(
                            String::from_utf8_lossy(&mine),
                            String::from_utf8_lossy(&serde_line(k, &kv, hidden))
                        );
                        assert_eq!(mine, serde_line(k, &kv, hidden));
                        n += 1;
                    }
                }
            }
        }
        assert_eq!(n, keys.len() * values.len() * leases.len() * 2);
    }
}
