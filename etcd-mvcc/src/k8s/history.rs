//! One key's kept revisions (`history`) and the writes of a revision window (`churn`), each
//! from one parallel pass over the key bucket's leaf pages. The key bucket is ordered by
//! revision, so a key's revisions are scattered over the whole tree; both passes read the
//! revision key and the KeyValue's key of every entry and keep only what they asked for:
//! `history` the entries of one key, `churn` per-key counts plus each key's newest put
//! (one slice per distinct key, never per revision).

use super::decode::{decode_value, DecodeOptions, Encoding};
use super::KeyPath;
use crate::fasthash::FastMap;
use crate::kv::KeyValueRef;
use crate::revision::{parse_rev_key, RevKey, Revision};
use bbolt_reader::Page;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

/// One kept revision of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeptRevision<'a> {
    /// The revision (main, sub).
    pub rev: Revision,
    /// Whether it is a tombstone.
    pub tombstone: bool,
    /// The KeyValue.
    pub kv: KeyValueRef<'a>,
}

/// The entries of the leaves among `ps` that read as a revision key and a KeyValue, in
/// page order (the others are skipped).
fn sound_revisions<'a, 'p>(
    ps: &'p [Page<'a>],
) -> impl Iterator<Item = (RevKey, KeyValueRef<'a>)> + 'p {
    ps.iter()
        .filter(|p| p.is_leaf())
        .flat_map(|p| p.leaf_elements().flatten())
        .filter_map(|el| {
            Some((
                parse_rev_key(el.key).ok()?,
                KeyValueRef::parse(el.value).ok()?,
            ))
        })
}

/// Every kept revision of `key`, oldest first.
pub fn key_revisions<'a>(pages: &[Page<'a>], key: &[u8]) -> Vec<KeptRevision<'a>> {
    let chunk = crate::scan::chunk_pages(pages.len());
    let mut v: Vec<KeptRevision<'a>> = pages
        .par_chunks(chunk)
        .flat_map_iter(|ps| {
            sound_revisions(ps)
                .filter(|(_, kv)| kv.key == key)
                .map(|(rk, kv)| KeptRevision {
                    rev: rk.rev,
                    tombstone: rk.tombstone,
                    kv,
                })
        })
        .collect();
    v.sort_by_key(|r| (r.rev, r.tombstone));
    v
}

/// Revisions and bytes written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Written {
    /// Kept revisions (tombstones included).
    pub revisions: u64,
    /// Their stored value lengths (a tombstone counts 0).
    pub bytes: u64,
}

impl Written {
    fn add(&mut self, o: &Written) {
        self.revisions += o.revisions;
        self.bytes += o.bytes;
    }
}

/// The writes kept in the file with `from <= main revision <= to`.
#[derive(Debug, Clone, Default)]
pub struct Churn {
    /// All of them.
    pub total: Written,
    /// Per key (lossy UTF-8), sorted by revisions (most first), ties by key.
    pub by_key: Vec<(String, Written)>,
    /// Per resource (keys not under `/registry/` as `(not /registry/)`), same order.
    pub by_resource: Vec<(String, Written)>,
    /// Per kind of the key's newest kept put ("" when encrypted or undecodable), same order.
    pub by_kind: Vec<(String, Written)>,
    /// Per encoding of the key's newest kept put.
    pub by_encoding: BTreeMap<Encoding, Written>,
}

#[derive(Default)]
struct Per<'a> {
    window: Written,
    newest_put: Option<(Revision, &'a [u8])>,
}

/// What was written in the window (see [`Churn`]).
pub fn churn<'a>(pages: &[Page<'a>], from: i64, to: i64) -> Churn {
    let chunk = crate::scan::chunk_pages(pages.len());
    let per: FastMap<&'a [u8], Per<'a>> = pages
        .par_chunks(chunk)
        .map(|ps| {
            let mut m: FastMap<&'a [u8], Per<'a>> = FastMap::default();
            for (rk, kv) in sound_revisions(ps) {
                let in_window = rk.rev.main >= from && rk.rev.main <= to;
                if !in_window && rk.tombstone {
                    continue;
                }
                // Keys written outside the window are only kept for their newest put when
                // they also appear in it; the filter below drops the others.
                let e = m.entry(kv.key).or_default();
                if in_window {
                    e.window.revisions += 1;
                    e.window.bytes += kv.value.len() as u64;
                }
                if !rk.tombstone && e.newest_put.is_none_or(|(r, _)| rk.rev > r) {
                    e.newest_put = Some((rk.rev, kv.value));
                }
            }
            m.retain(|_, p| p.window.revisions > 0 || p.newest_put.is_some());
            m
        })
        .reduce(FastMap::default, |mut a, b| {
            for (k, v) in b {
                let e = a.entry(k).or_default();
                e.window.add(&v.window);
                if let Some((r, val)) = v.newest_put {
                    if e.newest_put.is_none_or(|(er, _)| r > er) {
                        e.newest_put = Some((r, val));
                    }
                }
            }
            a
        });
    let mut c = Churn::default();
    let mut by_res: BTreeMap<String, Written> = BTreeMap::new();
    let mut by_kind: BTreeMap<String, Written> = BTreeMap::new();
    let mut by_key = Vec::new();
    for (k, p) in per.iter().filter(|(_, p)| p.window.revisions > 0) {
        c.total.add(&p.window);
        let res =
            KeyPath::parse(k).map_or("(not /registry/)".to_string(), |kp| kp.resource.to_string());
        by_res.entry(res).or_default().add(&p.window);
        let (kind, enc) = match p.newest_put {
            Some((_, v)) => {
                let d = decode_value(v, DecodeOptions::default());
                let kind = if d.encoding.is_readable() {
                    d.kind.into_owned()
                } else {
                    String::new()
                };
                (kind, d.encoding)
            }
            None => (String::new(), Encoding::Unknown),
        };
        by_kind.entry(kind).or_default().add(&p.window);
        c.by_encoding.entry(enc).or_default().add(&p.window);
        by_key.push((String::from_utf8_lossy(k).into_owned(), p.window));
    }
    let order = |v: &mut Vec<(String, Written)>| {
        v.sort_by(|a, b| b.1.revisions.cmp(&a.1.revisions).then(a.0.cmp(&b.0)))
    };
    order(&mut by_key);
    c.by_key = by_key;
    c.by_resource = by_res.into_iter().collect();
    order(&mut c.by_resource);
    c.by_kind = by_kind.into_iter().collect();
    order(&mut c.by_kind);
    c
}
