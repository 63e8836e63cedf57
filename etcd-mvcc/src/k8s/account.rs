//! The accounting of the `k8s` command: one key-bucket scan ([`crate::scan`]) gives every
//! key's revisions and sizes; then only the newest put of each key under `/registry/` is
//! read again — at the place the scan noted ([`crate::scan::ElementLoc`]: its page and
//! index), so no tree descent, no list of the leaves and no second pass — and decoded. A
//! key deleted in the file (newest revision a tombstone) is read at the place of its
//! newest put, which the scan kept too; only keys where that put does not
//! read back (damage, or a put at the tombstone's own revision) are looked up in an extra
//! pass over the leaf pages before the newest such tombstone.
//!
//! Heap: keys are decoded a chunk at a time and folded into per-chunk figures that merge
//! in key order; what is kept per key is its uid (for orphaned owners) and, for the
//! objects with owner references or a deletion timestamp, their names: never one decoded
//! record per key, never anything per revision. Figures follow the shared spec
//! (`k8s-semantics`): `revisions` counts what `prefixes` counts, `live_bytes` the stored
//! value of each live key's newest revision, `history_bytes` every other kept value.

use super::decode::{decode_value, DecodeError, DecodeOptions, Encoding, EventRef, OwnerRef};
use super::groups::GroupTable;
use super::{KeyPath, REGISTRY_PREFIX};
use crate::fasthash::{FastHasher, FastMap};
use crate::kv::KeyValueRef;
use crate::proto::{FieldReader, Wire};
use crate::revision::{parse_rev_key, Revision};
use crate::scan::{element_bases, ElementLoc, HeadKey, KeyAcc, Keyspace};
use bbolt_reader::Page;
use rayon::prelude::*;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::hash::BuildHasherDefault;

/// What to account.
#[derive(Debug, Clone)]
pub struct K8sOptions {
    /// Only keys under `/registry/` that also start with this ("" = all).
    pub prefix: Vec<u8>,
    /// Rows kept in `largest` and `most_revisions`.
    pub top: usize,
}

impl Default for K8sOptions {
    fn default() -> Self {
        K8sOptions {
            prefix: Vec::new(),
            top: 20,
        }
    }
}

/// How groups are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// `pods`, `events`, `<group>/<plural>`.
    Resource,
    /// metadata.namespace ("" for cluster-scoped).
    Namespace,
    /// TypeMeta kind ("" for encrypted and undecodable values).
    Kind,
    /// The controller owner reference as `Kind/name` ("" when none).
    Owner,
}

impl GroupBy {
    /// The `--by` word.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Resource => "resource",
            GroupBy::Namespace => "namespace",
            GroupBy::Kind => "kind",
            GroupBy::Owner => "owner",
        }
    }
}

/// The figures of one group (or of all keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GroupStats {
    /// Keys whose newest kept revision is a put.
    pub objects: u64,
    /// Kept revisions, tombstones included (what `prefixes` counts).
    pub revisions: u64,
    /// Stored value length of each object's newest revision.
    pub live_bytes: u64,
    /// Stored value length of every other kept revision.
    pub history_bytes: u64,
    /// Bytes of metadata.managedFields in the objects' newest values.
    pub managed_fields_bytes: u64,
    /// Length of the last-applied-configuration annotation values.
    pub last_applied_bytes: u64,
    /// Length of all other annotation values.
    pub other_annotations_bytes: u64,
    /// Objects whose newest value is encrypted at rest.
    pub encrypted: u64,
    /// Objects whose newest value could not be decoded (encrypted, unknown or malformed).
    pub undecoded: u64,
}

impl GroupStats {
    /// Adds the figures of `o` (another group) to these.
    pub fn merge(&mut self, o: &GroupStats) {
        self.objects += o.objects;
        self.revisions += o.revisions;
        self.live_bytes += o.live_bytes;
        self.history_bytes += o.history_bytes;
        self.managed_fields_bytes += o.managed_fields_bytes;
        self.last_applied_bytes += o.last_applied_bytes;
        self.other_annotations_bytes += o.other_annotations_bytes;
        self.encrypted += o.encrypted;
        self.undecoded += o.undecoded;
    }

    fn add(&mut self, o: &Obj<'_>) {
        self.revisions += u64::from(o.revisions);
        self.history_bytes += o.value_bytes.saturating_sub(o.live_bytes);
        if !o.live {
            return;
        }
        self.objects += 1;
        self.live_bytes += o.live_bytes;
        if o.decoded {
            self.managed_fields_bytes += o.managed_fields_bytes;
            self.last_applied_bytes += o.last_applied_bytes;
            self.other_annotations_bytes += o.other_annotations_bytes;
        } else {
            self.undecoded += 1;
        }
        if o.encoding == Encoding::Encrypted {
            self.encrypted += 1;
        }
    }

    /// Live and history bytes.
    pub fn bytes(&self) -> u64 {
        self.live_bytes + self.history_bytes
    }
}

/// One key in `largest` / `most_revisions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRow {
    /// The etcd key (lossy when not UTF-8).
    pub key: String,
    /// TypeMeta kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Stored value length of the newest revision (0 when deleted).
    pub bytes: u64,
    /// Kept revisions of the key.
    pub revisions: u64,
    /// Whether the newest kept revision is a put.
    pub live: bool,
    /// Stored value length of the other kept revisions.
    pub history_bytes: u64,
    /// How the newest put is stored.
    pub encoding: Encoding,
}

/// Events about one object with one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventGroup {
    /// involvedObject.namespace.
    pub namespace: String,
    /// involvedObject.kind.
    pub kind: String,
    /// involvedObject.name.
    pub name: String,
    /// reason.
    pub reason: String,
    /// Event objects.
    pub events: u64,
    /// Sum of their `count` fields.
    pub count_sum: u64,
}

/// Kinds of findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// deletionTimestamp set and finalizers left.
    StuckDeletion,
    /// An ownerReference whose uid no live object has.
    OrphanOwner,
    /// A Lease not renewed for 3 durations before the newest renewal in the db.
    StaleLease,
    /// One resource's objects stored under different encryption (or some plain).
    MixedEncryption,
    /// One involved object and reason holds half the Events, and at least 100.
    EventFlood,
}

impl FindingKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::StuckDeletion => "stuck_deletion",
            FindingKind::OrphanOwner => "orphan_owner",
            FindingKind::StaleLease => "stale_lease",
            FindingKind::MixedEncryption => "mixed_encryption",
            FindingKind::EventFlood => "event_flood",
        }
    }
}

/// The details of a finding, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Detail {
    /// stuck_deletion.
    Stuck {
        /// metadata.deletionTimestamp.
        deletion_timestamp: String,
        /// metadata.finalizers.
        finalizers: Vec<String>,
    },
    /// orphan_owner.
    Orphan {
        /// ownerReference kind.
        owner_kind: String,
        /// ownerReference name.
        owner_name: String,
        /// ownerReference uid.
        owner_uid: String,
        /// ownerReference controller.
        controller: bool,
    },
    /// stale_lease.
    Lease {
        /// spec.holderIdentity.
        holder: String,
        /// spec.renewTime.
        renew_time_unix_micros: i64,
        /// spec.leaseDurationSeconds.
        lease_duration_seconds: i64,
        /// The newest renewTime of all Leases.
        newest_renew_time_unix_micros: i64,
    },
    /// mixed_encryption.
    Mixed {
        /// The resource.
        resource: String,
        /// Live objects per `provider:key` and `plain`.
        counts: BTreeMap<String, u64>,
    },
    /// event_flood.
    Flood {
        /// Namespace of the Events.
        namespace: String,
        /// involvedObject.kind.
        involved_kind: String,
        /// involvedObject.name.
        involved_name: String,
        /// reason.
        reason: String,
        /// Events in the group.
        events: u64,
        /// All Events.
        all_events: u64,
    },
}

/// Something about the stored objects that deserves an operator's look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What kind.
    pub kind: FindingKind,
    /// The key (or key prefix) it is about.
    pub key: String,
    /// One sentence.
    pub message: String,
    /// Kind-specific fields.
    #[serde(flatten)]
    pub detail: Detail,
}

/// A value that could not be decoded, as an example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecodeProblem {
    /// The key.
    pub key: String,
    /// Its revision.
    pub revision: String,
    /// What went wrong (with the byte offset in the value).
    pub what: String,
}

/// Everything `k8s` prints.
#[derive(Debug, Clone, Default)]
pub struct K8sSummary {
    /// All keys accounted.
    pub totals: GroupStats,
    /// Groups by resource, sorted by bytes (live + history), largest first, ties by name.
    pub by_resource: Vec<(String, GroupStats)>,
    /// Groups by namespace, same order.
    pub by_namespace: Vec<(String, GroupStats)>,
    /// Groups by kind, same order.
    pub by_kind: Vec<(String, GroupStats)>,
    /// Groups by controller owner, same order.
    pub by_owner: Vec<(String, GroupStats)>,
    /// Live objects by stored size, largest first, ties by key.
    pub largest: Vec<ObjectRow>,
    /// Keys by kept revisions, most first, ties by key.
    pub most_revisions: Vec<ObjectRow>,
    /// Findings sorted by kind name, key, owner uid.
    pub findings: Vec<Finding>,
    /// Events grouped by involved object and reason, most first.
    pub event_groups: Vec<EventGroup>,
    /// Live objects per encoding.
    pub encodings: BTreeMap<Encoding, u64>,
    /// Live objects of unknown encoding per first bytes (hex of up to 8).
    pub undecoded_prefixes: BTreeMap<String, u64>,
    /// Values that are protobuf/JSON/CBOR but did not decode in full.
    pub decode_errors: u64,
    /// The first of those.
    pub decode_problems: Vec<DecodeProblem>,
    /// Keys whose newest put could not be found again in the pages (damage).
    pub unlocated: u64,
}

impl K8sSummary {
    /// The groups of one grouping.
    pub fn groups(&self, by: GroupBy) -> &[(String, GroupStats)] {
        match by {
            GroupBy::Resource => &self.by_resource,
            GroupBy::Namespace => &self.by_namespace,
            GroupBy::Kind => &self.by_kind,
            GroupBy::Owner => &self.by_owner,
        }
    }
}

/// Live objects per encryption label (`provider:key`, `plain`): a handful per resource.
type Labels = Vec<(String, u64)>;

/// Objects by resource (with the resource's encryption labels), namespace, kind and
/// controller owner (kind, name).
type Groupings<'a> = (
    GroupTable<&'a str, (GroupStats, Labels)>,
    GroupTable<Cow<'a, str>, GroupStats>,
    GroupTable<Cow<'a, str>, GroupStats>,
    GroupTable<(Cow<'a, str>, Cow<'a, str>), GroupStats>,
);

/// What the findings need of an object beyond its figures (boxed: most objects have none
/// of it, and the accounting holds one [`Obj`] per key).
#[derive(Default)]
struct Extra<'a> {
    owners: Vec<OwnerRef<'a>>,
    deletion: Option<Cow<'a, str>>,
    finalizers: Vec<Cow<'a, str>>,
    /// (holder, renewTime in microseconds, leaseDurationSeconds).
    lease: Option<(Cow<'a, str>, i64, i64)>,
    event: Option<EventRef<'a>>,
    encryption: Option<String>,
}

/// One key: its figures and what was decoded of its newest put. Strings borrow the
/// mapping where they can.
struct Obj<'a> {
    key: &'a [u8],
    resource: &'a str,
    revisions: u32,
    value_bytes: u64,
    live: bool,
    live_bytes: u64,
    newest: Revision,
    located: bool,
    encoding: Encoding,
    decoded: bool,
    kind: Cow<'a, str>,
    /// TypeMeta apiVersion (for the resource's API group).
    api_version: Cow<'a, str>,
    namespace: Cow<'a, str>,
    name: Cow<'a, str>,
    uid: Cow<'a, str>,
    /// The controller owner reference (kind, name).
    owner: Option<(Cow<'a, str>, Cow<'a, str>)>,
    managed_fields_bytes: u64,
    last_applied_bytes: u64,
    other_annotations_bytes: u64,
    /// Of a value of unknown encoding: its first bytes (up to 8), for
    /// [`K8sSummary::undecoded_prefixes`].
    unknown_prefix: Option<Prefix>,
    /// Why a readable form did not decode in full (written out only for the first few).
    error: Option<DecodeError>,
    extra: Option<Box<Extra<'a>>>,
}

/// Up to 8 first bytes of a value: (length, bytes, zero past the length). Counted as
/// bytes and written as hex once per distinct prefix, at the end.
type Prefix = (u8, [u8; 8]);

fn prefix_of(value: &[u8]) -> Prefix {
    let n = value.len().min(8);
    let mut b = [0u8; 8];
    b[..n].copy_from_slice(&value[..n]);
    (n as u8, b)
}

fn prefix_hex(&(n, b): &Prefix) -> String {
    b[..usize::from(n)]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl<'a> Obj<'a> {
    fn new(key: &'a [u8], acc: &KeyAcc, value: Option<&'a [u8]>, located: bool) -> Obj<'a> {
        let path = KeyPath::parse(key).unwrap_or(KeyPath {
            resource: "",
            namespace: "",
            name: "",
            segments: 0,
        });
        let live = acc.is_live();
        let mut o = Obj {
            key,
            resource: path.resource,
            revisions: acc.revisions,
            value_bytes: acc.value_bytes,
            live,
            live_bytes: if live { acc.newest_value_len } else { 0 },
            newest: acc.newest,
            located,
            encoding: Encoding::Unknown,
            decoded: false,
            kind: Cow::Borrowed(""),
            api_version: Cow::Borrowed(""),
            namespace: Cow::Borrowed(path.namespace),
            name: Cow::Borrowed(path.name),
            uid: Cow::Borrowed(""),
            owner: None,
            managed_fields_bytes: 0,
            last_applied_bytes: 0,
            other_annotations_bytes: 0,
            unknown_prefix: None,
            error: None,
            extra: None,
        };
        let Some(value) = value else {
            return o;
        };
        let d = decode_value(value, DecodeOptions::default());
        o.encoding = d.encoding;
        let mut x = Extra::default();
        if d.encoding.is_readable() {
            o.kind = d.kind;
            o.api_version = d.api_version;
        }
        if let Some(e) = &d.encryption {
            x.encryption = Some(e.label());
        } else if d.encoding == Encoding::Encrypted {
            x.encryption = Some("unreadable-prefix".into());
        }
        if d.encoding == Encoding::Unknown {
            o.unknown_prefix = Some(prefix_of(d.body));
        }
        if d.encoding.is_readable() {
            o.error = d.error;
        }
        if let Some(m) = d.meta {
            o.decoded = true;
            o.namespace = m.namespace;
            o.name = m.name;
            o.uid = m.uid;
            o.managed_fields_bytes = m.managed_fields_bytes;
            o.last_applied_bytes = m.last_applied_bytes;
            o.other_annotations_bytes = m.other_annotations_bytes;
            o.owner = m
                .owner_references
                .iter()
                .find(|r| r.controller)
                .map(|r| (r.kind.clone(), r.name.clone()));
            x.owners = m.owner_references;
            if !m.finalizers.is_empty() {
                x.deletion = m.deletion_timestamp.map(|t| t.rfc3339());
                x.finalizers = m.finalizers;
            }
            if let Some(l) = d.lease {
                if let Some(t) = l.renew_time.and_then(|t| t.unix_micros) {
                    x.lease = Some((l.holder, t, l.duration_seconds.unwrap_or(0)));
                }
            }
            x.event = d.event;
        }
        let empty = x.owners.is_empty()
            && x.deletion.is_none()
            && x.lease.is_none()
            && x.event.is_none()
            && x.encryption.is_none();
        if !empty {
            o.extra = Some(Box::new(x));
        }
        o
    }

    fn row_of(&self) -> RowOf<'a> {
        RowOf {
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            bytes: self.live_bytes,
            revisions: u64::from(self.revisions),
            live: self.live,
            history_bytes: self.value_bytes.saturating_sub(self.live_bytes),
            encoding: self.encoding,
        }
    }
}

/// The put at `loc` as (revision, key and value); `None` for a tombstone or an element that
/// does not read as a revision and a KeyValue.
fn put_at<'a>(ks: &Keyspace<'a>, loc: ElementLoc) -> Option<(Revision, crate::scan::KvFields<'a>)> {
    let el = ks.element(loc)?;
    let rk = parse_rev_key(el.key).ok()?;
    if rk.tombstone {
        return None;
    }
    Some((rk.rev, crate::scan::kv_fields(el.value).ok()?))
}

/// For each key of `want` (key -> revision of its tombstone), the newest put older than the
/// tombstone: (revision, value). One parallel pass over `pages`.
fn puts_before_tombstones<'a>(
    pages: &[Page<'a>],
    want: &FastMap<&'a [u8], Revision>,
) -> FastMap<&'a [u8], (Revision, &'a [u8])> {
    let chunk = crate::scan::chunk_pages(pages.len());
    pages
        .par_chunks(chunk)
        .map(|ps| {
            let mut found: FastMap<&'a [u8], (Revision, &'a [u8])> = FastMap::default();
            for p in ps.iter().filter(|p| p.is_leaf()) {
                for el in p.leaf_elements().flatten() {
                    let Ok(rk) = parse_rev_key(el.key) else {
                        continue;
                    };
                    if rk.tombstone {
                        continue;
                    }
                    // mvccpb.KeyValue starts with its key (field 1): look that up first and
                    // parse the rest only for a wanted key.
                    let key = match FieldReader::new(el.value).next_field() {
                        Ok(Some((1, Wire::Bytes { data, .. }))) => data,
                        _ => continue,
                    };
                    if !want.contains_key(key) {
                        continue;
                    }
                    let Ok(kv) = KeyValueRef::parse(el.value) else {
                        continue;
                    };
                    if let Some(&tomb) = want.get(kv.key) {
                        if rk.rev < tomb {
                            let e = found.entry(kv.key).or_insert((rk.rev, kv.value));
                            if rk.rev > e.0 {
                                *e = (rk.rev, kv.value);
                            }
                        }
                    }
                }
            }
            found
        })
        .reduce(FastMap::default, |mut a, b| {
            for (k, v) in b {
                let e = a.entry(k).or_insert(v);
                if v.0 > e.0 {
                    *e = v;
                }
            }
            a
        })
}

/// The table positions ([`crate::scan::KeyTable::iter`]'s order) of the keys `wanted`
/// takes (by the table's own copy of the key), in the order of their newest elements'
/// ordinals, ties by position: the accounting then reads the newest values in one forward
/// sweep of the key bucket. One word a key instead of a copy of its record: the ordinal
/// and the position are sorted as one packed `u64` when together they fit 64 bits (any
/// file this reader maps: 2^24 keys and 2^40 elements), as pairs otherwise. Listed and
/// sorted on the pool, in parts of the table's order.
fn ordinal_order(
    ks: &Keyspace<'_>,
    wanted: &(dyn Fn(&HeadKey<'_, '_>) -> bool + Sync),
) -> Vec<u64> {
    const PART: usize = 1 << 14;
    let positions = ks.keys.len();
    let parts: Vec<std::ops::Range<usize>> = (0..positions)
        .step_by(PART)
        .map(|from| from..(from + PART).min(positions))
        .collect();
    let picked = |r: &std::ops::Range<usize>| {
        let from = r.start;
        ks.keys
            .iter_heads_range(r.clone())
            .enumerate()
            .filter(|(_, (k, _, _))| wanted(k))
            .map(move |(i, (_, _, a))| (a.below_newest_ordinal, (from + i) as u64))
    };
    // Counted first, so that the list takes its exact room and each part fills its own
    // stretch of it.
    let (lens, tops): (Vec<usize>, Vec<u64>) = parts
        .par_iter()
        .map(|r| picked(r).fold((0usize, 0u64), |(n, m), (o, _)| (n + 1, m.max(o))))
        .unzip();
    let n = lens.iter().sum();
    let top = tops.into_iter().max().unwrap_or(0);
    let at_bits = u64::BITS - (positions as u64).leading_zeros();
    if at_bits < u64::BITS && top.checked_shr(u64::BITS - at_bits).unwrap_or(0) == 0 {
        let mask = (1u64 << at_bits) - 1;
        let mut v = vec![0u64; n];
        wal_reader::fill::fill_stretches(&mut v, &parts, &lens, |r| {
            picked(r).map(|(o, at)| o << at_bits | at)
        });
        v.par_sort_unstable();
        v.par_iter_mut().for_each(|x| *x &= mask);
        v
    } else {
        let mut v = vec![(0u64, 0u64); n];
        wal_reader::fill::fill_stretches(&mut v, &parts, &lens, picked);
        v.par_sort_unstable();
        v.into_par_iter().map(|(_, at)| at).collect()
    }
}

/// Accounts every key under `/registry/` (and `opts.prefix`) of `ks`, which must come from
/// a scan with limit `i64::MAX` that kept its leaf pages. Runs on the current rayon pool.
pub fn account(ks: &Keyspace<'_>, opts: &K8sOptions) -> K8sSummary {
    account_keys(ks, opts, false).0
}

/// [`account`], and when `lenses` is true also what it read of each key, for drawing the
/// key tree with kinds and managedFields ([`crate::keytree::key_tree_with`]); no value is
/// read or decoded twice.
pub fn account_with_lenses(ks: &Keyspace<'_>, opts: &K8sOptions) -> (K8sSummary, KeyLenses) {
    let (s, l) = account_keys(ks, opts, true);
    (s, l.unwrap_or_default())
}

/// A deleted key with an older put: its key, its record and its position in the table.
type Tombstoned<'a, 't> = (&'a [u8], &'t KeyAcc, usize);

fn account_keys<'a>(
    ks: &Keyspace<'a>,
    opts: &K8sOptions,
    lenses: bool,
) -> (K8sSummary, Option<KeyLenses>) {
    // The filter reads the table's own copy of each key, not the mapping.
    let wanted =
        |k: &HeadKey<'_, '_>| k.starts_with(REGISTRY_PREFIX) && k.starts_with(&opts.prefix);
    // The deleted keys with an older put are listed beside the order.
    let (order, tombstoned): (Vec<u64>, Vec<Tombstoned<'a, '_>>) = rayon::join(
        || ordinal_order(ks, &wanted),
        || {
            ks.keys
                .iter_heads()
                .enumerate()
                .filter(|(_, (local, _, a))| a.newest_tombstone && a.revisions > 1 && wanted(local))
                .map(|(at, (_, k, a))| (k, a, at))
                .collect()
        },
    );
    let newest_known = ks.limit == i64::MAX;
    // A deleted key's newest put, older than its tombstone: the scan kept its ordinal.
    // Keys where that does not hold (a put at the tombstone's own revision, an element
    // that does not read back: damage) are looked for in a pass over the pages, as a
    // fallback.
    // Read in the order of the puts' places: page by page through the file.
    let mut by_put: Vec<(ElementLoc, usize)> = tombstoned
        .iter()
        .enumerate()
        .filter(|(_, (_, a, _))| a.revisions != a.tombstones && a.newest_put < a.newest)
        .map(|(i, (_, a, _))| (a.newest_put_loc, i))
        .collect();
    by_put.sort_unstable();
    let mut by_ordinal: Vec<Option<&'a [u8]>> = vec![None; tombstoned.len()];
    for &(loc, i) in &by_put {
        let (k, a, _) = tombstoned[i];
        by_ordinal[i] = put_at(ks, loc)
            .filter(|(rev, kv)| *rev == a.newest_put && kv.key == k)
            .map(|(_, kv)| kv.value);
    }
    let mut want: FastMap<&'a [u8], Revision> = FastMap::default();
    let mut want_at: FastMap<&'a [u8], usize> = FastMap::default();
    let mut last_tomb = 0u64;
    // By the key's position in the table: looking a key up by its bytes would read them
    // from the mapping, a cache miss per deleted key.
    let mut before: FastMap<usize, &'a [u8]> = FastMap::default();
    for (&(k, a, at), v) in tombstoned.iter().zip(&by_ordinal) {
        match v {
            Some(v) => {
                before.insert(at, v);
            }
            None => {
                want.insert(k, a.newest);
                want_at.insert(k, at);
                last_tomb = last_tomb.max(a.below_newest_ordinal);
            }
        }
    }
    if !want.is_empty() {
        // Rare (a put at its tombstone's revision, or damage): the leaves are listed for it.
        let pages = ks.leaves();
        let bases = element_bases(&pages);
        let upto = bases.partition_point(|&b| b <= last_tomb).min(pages.len());
        before.extend(
            puts_before_tombstones(&pages[..upto], &want)
                .into_iter()
                .filter_map(|(k, (_, v))| Some((*want_at.get(k)?, v))),
        );
    }
    // Per chunk of keys (in ordinal order, so the newest values are read in one forward
    // sweep): each key's object is decoded, folded into the chunk's part and dropped; only
    // what the findings need of a few objects is kept. Parts merge in key order.
    let top = opts.top;
    let part = order
        .par_chunks(1024)
        .map(|chunk| {
            let mut p = Part::default();
            // Read ahead of the decoding, so the misses of several keys overlap instead of
            // following one another: the record `3 * AHEAD` keys ahead, its newest
            // element's headers `2 * AHEAD` ahead, the element's key and value `AHEAD`
            // ahead.
            const AHEAD: usize = 8;
            let record = |j: usize| chunk.get(j).and_then(|&at| ks.keys.at(at as usize));
            let hint_record = |j: usize| {
                if let Some(&at) = chunk.get(j) {
                    ks.keys.prefetch_at(at as usize);
                }
            };
            let hint = |j: usize, value: bool| {
                if let Some((_, a)) = record(j) {
                    if newest_known && !a.newest_tombstone {
                        ks.prefetch_element(a.newest_loc, value);
                    }
                }
            };
            for j in 0..AHEAD {
                hint_record(j);
                hint_record(j + AHEAD);
                hint_record(j + 2 * AHEAD);
            }
            for j in 0..AHEAD {
                hint(j, false);
                hint(j + AHEAD, false);
                hint(j, true);
            }
            for (j, &at) in chunk.iter().enumerate() {
                hint_record(j + 3 * AHEAD);
                hint(j + 2 * AHEAD, false);
                hint(j + AHEAD, true);
                let at = at as usize;
                let Some((map_key, acc)) = ks.keys.at(at) else {
                    continue;
                };
                // The map's key slice may sit in any revision's page; once the newest
                // element is found (same revision, same key length: the ordinal names one
                // element), its own copy of the key is used, which sits beside the value
                // just read.
                let mut key = map_key;
                let value = if acc.newest_tombstone {
                    before.get(&at).copied()
                } else if newest_known {
                    put_at(ks, acc.newest_loc)
                        .filter(|(rev, kv)| *rev == acc.newest && kv.key.len() == key.len())
                        .map(|(_, kv)| {
                            key = kv.key;
                            kv.value
                        })
                } else {
                    None
                };
                let located = value.is_some() || (acc.newest_tombstone && acc.revisions == 1);
                p.add(Obj::new(key, acc, value, located), at, lenses, top);
            }
            p.trim(top);
            p
        })
        .reduce(Part::default, |a, b| {
            let mut m = a.merge(b);
            m.trim(top);
            m
        });
    let Part {
        groups: (by_res, by_ns, by_kind, by_owner),
        totals,
        unlocated,
        encodings,
        undecoded_prefixes,
        decode_errors,
        decode_problems,
        mut largest,
        mut most_revisions,
        uids,
        events,
        events_total,
        kept,
        leases,
        lens,
        ..
    } = part;
    let undecoded_prefixes = undecoded_prefixes
        .iter()
        .map(|(p, &n)| (prefix_hex(p), n))
        .collect();
    let mut s = K8sSummary {
        totals,
        unlocated,
        encodings,
        undecoded_prefixes,
        decode_errors,
        decode_problems,
        ..Default::default()
    };
    fn sorted<K>(
        m: impl Iterator<Item = (K, GroupStats)>,
        name: impl Fn(K) -> String,
    ) -> Vec<(String, GroupStats)> {
        let mut v: Vec<(String, GroupStats)> = m.map(|(k, g)| (name(k), g)).collect();
        v.sort_by(|a, b| b.1.bytes().cmp(&a.1.bytes()).then(a.0.cmp(&b.0)));
        v
    }
    let mut per_res: Vec<(&str, Labels)> = Vec::new();
    s.by_resource = sorted(
        by_res.into_entries().map(|(r, (g, labels))| {
            if !labels.is_empty() {
                per_res.push((r, labels));
            }
            (r, g)
        }),
        str::to_string,
    );
    s.by_namespace = sorted(by_ns.into_entries(), Cow::into_owned);
    s.by_kind = sorted(by_kind.into_entries(), Cow::into_owned);
    s.by_owner = sorted(by_owner.into_entries(), |(k, n)| {
        if k.is_empty() && n.is_empty() {
            String::new()
        } else {
            format!("{k}/{n}")
        }
    });
    s.largest = finish_rows(&mut largest, top);
    s.most_revisions = finish_rows(&mut most_revisions, top);
    let uids: StrSet<'_> = uids.iter().map(|u| &**u).collect();
    findings(&kept, &uids, &leases, per_res, events, events_total, &mut s);
    let lenses = lenses.then(|| KeyLenses::of(lens, ks.keys.len()));
    (s, lenses)
}

/// A row candidate for `largest` / `most_revisions`: (figure, key, row); largest figure
/// first, ties by key. The row borrows its names (the strings are made only for the rows
/// kept: most candidates are dropped again).
type Row<'a> = (u64, &'a [u8], RowOf<'a>);

/// An [`ObjectRow`] whose strings borrow the mapping.
struct RowOf<'a> {
    kind: Cow<'a, str>,
    namespace: Cow<'a, str>,
    name: Cow<'a, str>,
    bytes: u64,
    revisions: u64,
    live: bool,
    history_bytes: u64,
    encoding: Encoding,
}

impl RowOf<'_> {
    fn row(&self, key: &[u8]) -> ObjectRow {
        ObjectRow {
            key: key_str(key),
            kind: self.kind.to_string(),
            namespace: self.namespace.to_string(),
            name: self.name.to_string(),
            bytes: self.bytes,
            revisions: self.revisions,
            live: self.live,
            history_bytes: self.history_bytes,
            encoding: self.encoding,
        }
    }
}

fn row_order(a: &Row<'_>, b: &Row<'_>) -> std::cmp::Ordering {
    b.0.cmp(&a.0).then(a.1.cmp(b.1))
}

/// Keeps the first `n` of `v` in [`row_order`], without sorting all of it.
fn keep_top(v: &mut Vec<Row<'_>>, n: usize) {
    if v.len() > n {
        if n == 0 {
            v.clear();
            return;
        }
        v.select_nth_unstable_by(n - 1, row_order);
        v.truncate(n);
    }
}

fn finish_rows(v: &mut Vec<Row<'_>>, n: usize) -> Vec<ObjectRow> {
    keep_top(v, n);
    v.sort_by(row_order);
    v.drain(..).map(|r| r.2.row(r.1)).collect()
}

/// Adds `o` to the candidate rows `v` unless `n` better ones are known: `bar` is the
/// `n`-th best row known (none before `v` was first cut), and a candidate that does not
/// come before it in [`row_order`] can never be among the first `n`. `v` is cut back to its
/// top `n` when it reaches `2n`. Many keys share a figure (revisions most of all), so ties
/// are settled by the key here, not let in to be sorted out later.
fn offer<'a>(
    v: &mut Vec<Row<'a>>,
    bar: &mut Option<(u64, &'a [u8])>,
    n: usize,
    figure: u64,
    o: &Obj<'a>,
) {
    if n == 0 {
        return;
    }
    if let Some((f, k)) = *bar {
        if figure < f || (figure == f && o.key >= k) {
            return;
        }
    }
    v.push((figure, o.key, o.row_of()));
    if v.len() >= 2 * n {
        keep_top(v, n);
        // `keep_top` leaves the n-th in order last.
        *bar = v.last().map(|r| (r.0, r.1));
    }
}

/// What the findings need of a live, decoded object with a deletion timestamp or owner
/// references.
struct Kept<'a> {
    key: &'a [u8],
    kind: Cow<'a, str>,
    namespace: Cow<'a, str>,
    name: Cow<'a, str>,
    deletion: Option<Cow<'a, str>>,
    finalizers: Vec<Cow<'a, str>>,
    owners: Vec<OwnerRef<'a>>,
}

/// A live Lease's (key, holder, renewTime in microseconds, leaseDurationSeconds).
type LeaseRow<'a> = (&'a [u8], Cow<'a, str>, i64, i64);

/// Events by (involvedObject namespace, kind, name; reason): (events, sum of counts).
type EventGroups<'a> =
    FastMap<(Cow<'a, str>, Cow<'a, str>, Cow<'a, str>, Cow<'a, str>), (u64, u64)>;

/// What the lens keeps of one key (the HTML key tree only): its position in the table's
/// order, its (kind, resource) as an index into its run's names, and its figures.
struct LensIn {
    at: usize,
    name: u32,
    stats: GroupStats,
}

/// The lens records of one chunk of keys, with the (kind, resource) pairs they name and
/// the live objects per (resource, API group), counted in runs: a chunk holds few
/// distinct names, so no string is kept per key.
#[derive(Default)]
struct LensRun<'a> {
    names: Vec<(Cow<'a, str>, &'a str)>,
    groups: Vec<(&'a str, Cow<'a, str>, u64)>,
    ins: Vec<LensIn>,
}

impl<'a> LensRun<'a> {
    fn add(&mut self, o: &Obj<'a>, at: usize) {
        // Neighbours mostly share kind and resource: the last pair is tried first.
        let name = match self.names.last() {
            Some((k, r)) if *r == o.resource && *k == o.kind => self.names.len() - 1,
            _ => match self
                .names
                .iter()
                .position(|(k, r)| *r == o.resource && *k == o.kind)
            {
                Some(i) => i,
                None => {
                    self.names.push((o.kind.clone(), o.resource));
                    self.names.len() - 1
                }
            },
        };
        if o.live && !o.api_version.is_empty() {
            let g = o.api_version.rsplit_once('/').map_or("", |(g, _)| g);
            match self.groups.last_mut() {
                Some((r, rg, n)) if *r == o.resource && *rg == g => *n += 1,
                _ => {
                    let g = match &o.api_version {
                        Cow::Borrowed(v) => {
                            Cow::Borrowed(v.rsplit_once('/').map_or("", |(g, _)| g))
                        }
                        Cow::Owned(_) => Cow::Owned(g.to_string()),
                    };
                    self.groups.push((o.resource, g, 1));
                }
            }
        }
        let mut stats = GroupStats::default();
        stats.add(o);
        self.ins.push(LensIn {
            at,
            name: name as u32,
            stats,
        });
    }
}

/// The accounting of a run of keys; runs merge in key order.
#[derive(Default)]
struct Part<'a> {
    groups: Groupings<'a>,
    totals: GroupStats,
    unlocated: u64,
    encodings: BTreeMap<Encoding, u64>,
    undecoded_prefixes: FastMap<Prefix, u64>,
    decode_errors: u64,
    /// The first 20, in key order.
    decode_problems: Vec<DecodeProblem>,
    largest: Vec<Row<'a>>,
    /// The `top`-th best row of `largest` once it was cut: no object after it in
    /// [`row_order`] can enter.
    largest_bar: Option<(u64, &'a [u8])>,
    most_revisions: Vec<Row<'a>>,
    /// As `largest_bar`, for `most_revisions`.
    most_revisions_bar: Option<(u64, &'a [u8])>,
    /// Of every live decoded object.
    uids: Vec<Cow<'a, str>>,
    events: EventGroups<'a>,
    events_total: u64,
    kept: Vec<Kept<'a>>,
    leases: Vec<LeaseRow<'a>>,
    /// One run of records per chunk, in key order: merging parts moves the runs, never
    /// the records.
    lens: Vec<LensRun<'a>>,
}

impl<'a> Part<'a> {
    fn add(&mut self, o: Obj<'a>, at: usize, lenses: bool, top: usize) {
        let g = &mut self.groups;
        let (res, labels) = g.0.get(&o.resource);
        res.add(&o);
        if o.live {
            let label = o
                .extra
                .as_ref()
                .and_then(|x| x.encryption.as_deref())
                .unwrap_or("plain");
            match labels.iter_mut().find(|(l, _)| l == label) {
                Some((_, n)) => *n += 1,
                None => labels.push((label.to_string(), 1)),
            }
        }
        g.1.get(&o.namespace).add(&o);
        g.2.get(&o.kind).add(&o);
        const NO_OWNER: (Cow<'_, str>, Cow<'_, str>) = (Cow::Borrowed(""), Cow::Borrowed(""));
        g.3.get(o.owner.as_ref().unwrap_or(&NO_OWNER)).add(&o);
        self.unlocated += u64::from(!o.located);
        self.totals.add(&o);
        offer(
            &mut self.most_revisions,
            &mut self.most_revisions_bar,
            top,
            u64::from(o.revisions),
            &o,
        );
        if lenses {
            if self.lens.is_empty() {
                self.lens.push(LensRun {
                    ins: Vec::with_capacity(1024),
                    ..LensRun::default()
                });
            }
            if let Some(run) = self.lens.last_mut() {
                run.add(&o, at);
            }
        }
        if !o.live {
            return;
        }
        offer(
            &mut self.largest,
            &mut self.largest_bar,
            top,
            o.live_bytes,
            &o,
        );
        *self.encodings.entry(o.encoding).or_default() += 1;
        if let Some(p) = o.unknown_prefix {
            *self.undecoded_prefixes.entry(p).or_default() += 1;
        }
        if let Some(e) = &o.error {
            self.decode_errors += 1;
            if self.decode_problems.len() < 20 {
                self.decode_problems.push(DecodeProblem {
                    key: key_str(o.key),
                    revision: o.newest.to_string(),
                    what: e.to_string(),
                });
            }
        }
        if !o.decoded {
            return;
        }
        let Obj {
            key,
            kind,
            namespace,
            name,
            uid,
            extra,
            ..
        } = o;
        self.uids.push(uid);
        let Some(x) = extra else { return };
        let x = *x;
        if let Some(e) = x.event {
            let g = self
                .events
                .entry((e.namespace, e.kind, e.name, e.reason))
                .or_default();
            g.0 += 1;
            g.1 = g.1.saturating_add(e.count.max(0) as u64);
            self.events_total += 1;
        }
        if key.starts_with(b"/registry/leases/") {
            if let Some((h, t, d)) = x.lease {
                self.leases.push((key, h, t, d));
            }
        }
        if x.deletion.is_some() || !x.owners.is_empty() {
            self.kept.push(Kept {
                key,
                kind,
                namespace,
                name,
                deletion: x.deletion,
                finalizers: x.finalizers,
                owners: x.owners,
            });
        }
    }

    /// Only the top rows can still be in the result.
    fn trim(&mut self, n: usize) {
        keep_top(&mut self.largest, n);
        keep_top(&mut self.most_revisions, n);
    }

    /// `self` then `b`, in key order.
    fn merge(mut self, b: Part<'a>) -> Part<'a> {
        let sums = |a: &mut GroupStats, b: GroupStats| a.merge(&b);
        self.groups.0.merge(b.groups.0, |(a, mine), (b, labels)| {
            a.merge(&b);
            for (l, n) in labels {
                match mine.iter_mut().find(|(m, _)| *m == l) {
                    Some((_, m)) => *m += n,
                    None => mine.push((l, n)),
                }
            }
        });
        self.groups.1.merge(b.groups.1, sums);
        self.groups.2.merge(b.groups.2, sums);
        self.groups.3.merge(b.groups.3, sums);
        self.totals.merge(&b.totals);
        self.unlocated += b.unlocated;
        for (k, n) in b.encodings {
            *self.encodings.entry(k).or_default() += n;
        }
        for (k, n) in b.undecoded_prefixes {
            *self.undecoded_prefixes.entry(k).or_default() += n;
        }
        self.decode_errors += b.decode_errors;
        self.decode_problems.extend(b.decode_problems);
        self.decode_problems.truncate(20);
        self.largest.extend(b.largest);
        self.most_revisions.extend(b.most_revisions);
        self.uids.extend(b.uids);
        for (k, (n, c)) in b.events {
            let g = self.events.entry(k).or_default();
            g.0 += n;
            g.1 = g.1.saturating_add(c);
        }
        self.events_total += b.events_total;
        self.kept.extend(b.kept);
        self.leases.extend(b.leases);
        self.lens.extend(b.lens);
        self
    }
}

/// What the Kubernetes lens read of one key: its figures as `k8s` counts them (a group of
/// one key), its kind and its resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLens {
    /// Index into [`KeyLenses::kinds`].
    pub kind: u32,
    /// Index into [`KeyLenses::resources`].
    pub resource: u32,
    /// The key's figures.
    pub stats: GroupStats,
}

/// [`KeyLens`] of every key the accounting read, with the names the indexes point to.
///
/// A key is known by its position in the order of the keyspace's table
/// ([`crate::scan::KeyTable::iter`], which [`crate::scan::KeyTable::iter_local`] shares):
/// the key tree ([`crate::keytree`]) walks the table in that order and finds each key's
/// lens by its position, with no look-up, sort or second read of the key.
#[derive(Debug, Default)]
pub struct KeyLenses {
    /// Per table position: the index of its lens in `lenses`, or [`NO_LENS`].
    at: Vec<u32>,
    lenses: Vec<KeyLens>,
    /// TypeMeta kinds ("" when not decoded).
    pub kinds: Vec<String>,
    /// Resources as `k8s --by resource` names them: `pods`, `example.com/widgets`.
    pub resources: Vec<String>,
    /// The same resources as kubectl names them, `<plural>.<group>` (`pods`,
    /// `leases.coordination.k8s.io`, `widgets.example.com`): the group is the key's when
    /// it is stored under its group, else the API group most of its objects' apiVersion
    /// names (none for the core group).
    pub resource_names: Vec<String>,
}

/// A table position the accounting did not read.
const NO_LENS: u32 = u32::MAX;

impl KeyLenses {
    /// The lens of the key at `position` in the keyspace table's order (the n-th item of
    /// [`crate::scan::KeyTable::iter`]), when it was accounted.
    pub fn get(&self, position: usize) -> Option<&KeyLens> {
        let i = *self.at.get(position)?;
        self.lenses.get(i as usize)
    }

    /// Keys accounted.
    pub fn len(&self) -> usize {
        self.lenses.len()
    }

    /// True when no key was accounted.
    pub fn is_empty(&self) -> bool {
        self.lenses.is_empty()
    }

    /// From the lens runs, in key order, the leaf pages' first element ordinals and the
    /// number of keys in the table.
    fn of(runs: Vec<LensRun<'_>>, table_len: usize) -> KeyLenses {
        let n_ins: usize = runs.iter().map(|r| r.ins.len()).sum();
        let mut kinds: FastMap<&str, u32> = FastMap::default();
        let mut resources: FastMap<&str, u32> = FastMap::default();
        // Per resource: objects per API group.
        let mut groups: Vec<FastMap<&str, u64>> = Vec::new();
        let mut lenses = Vec::with_capacity(n_ins);
        // Positions come from the table's own iteration, so each is in range; one that
        // were not would simply have no lens.
        let mut at = vec![NO_LENS; table_len];
        for run in &runs {
            // The run's few names, interned once each.
            let ids: Vec<(u32, u32)> = run
                .names
                .iter()
                .map(|(k, r)| {
                    let n = kinds.len() as u32;
                    let k = *kinds.entry(k).or_insert(n);
                    let n = resources.len() as u32;
                    let r = *resources.entry(r).or_insert(n);
                    if r as usize == groups.len() {
                        groups.push(FastMap::default());
                    }
                    (k, r)
                })
                .collect();
            for (r, g, n) in &run.groups {
                let m = resources.len() as u32;
                let r = *resources.entry(r).or_insert(m);
                if r as usize == groups.len() {
                    groups.push(FastMap::default());
                }
                *groups[r as usize].entry(g).or_default() += n;
            }
            for o in &run.ins {
                let (kind, resource) = ids.get(o.name as usize).copied().unwrap_or((0, 0));
                if let Some(slot) = at.get_mut(o.at) {
                    *slot = lenses.len() as u32;
                }
                lenses.push(KeyLens {
                    kind,
                    resource,
                    stats: o.stats.clone(),
                });
            }
        }
        let names = |m: FastMap<&str, u32>| {
            let mut v = vec![String::new(); m.len()];
            for (s, i) in m {
                v[i as usize] = s.to_string();
            }
            v
        };
        let kinds = names(kinds);
        let resources = names(resources);
        let resource_names = resources
            .iter()
            .zip(&groups)
            .map(|(r, g)| {
                if let Some((group, plural)) = r.split_once('/') {
                    return format!("{plural}.{group}");
                }
                // Most objects, then the smaller name: the same answer on every run.
                let group = g
                    .iter()
                    .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                    .map_or("", |(g, _)| *g);
                if group.is_empty() || r.is_empty() {
                    r.clone()
                } else {
                    format!("{r}.{group}")
                }
            })
            .collect();
        KeyLenses {
            at,
            lenses,
            kinds,
            resources,
            resource_names,
        }
    }
}

fn key_str(k: &[u8]) -> String {
    match std::str::from_utf8(k) {
        Ok(s) => s.to_string(),
        Err(_) => String::from_utf8_lossy(k).into_owned(),
    }
}

type StrSet<'s> = std::collections::HashSet<&'s str, BuildHasherDefault<FastHasher>>;

fn findings(
    kept: &[Kept<'_>],
    uids: &StrSet<'_>,
    leases: &[LeaseRow<'_>],
    per_res: Vec<(&str, Labels)>,
    ev: EventGroups<'_>,
    total: u64,
    s: &mut K8sSummary,
) {
    let mut out = Vec::new();
    for o in kept {
        let key = key_str(o.key);
        if let Some(ts) = &o.deletion {
            let f: Vec<String> = o.finalizers.iter().map(|f| f.to_string()).collect();
            out.push(Finding {
                kind: FindingKind::StuckDeletion,
                message: format!(
                    "{} {}/{} has deletionTimestamp {} and finalizers {}",
                    o.kind,
                    o.namespace,
                    o.name,
                    ts,
                    f.join(",")
                ),
                key: key.clone(),
                detail: Detail::Stuck {
                    deletion_timestamp: ts.to_string(),
                    finalizers: f,
                },
            });
        }
        let mut seen: Vec<&str> = Vec::new();
        for r in &o.owners {
            if !uids.contains(&*r.uid) && !seen.contains(&&*r.uid) {
                seen.push(&r.uid);
                out.push(Finding {
                    kind: FindingKind::OrphanOwner,
                    key: key.clone(),
                    message: format!(
                        "owner {} {} (uid {}) exists nowhere in the keyspace",
                        r.kind, r.name, r.uid
                    ),
                    detail: Detail::Orphan {
                        owner_kind: r.kind.to_string(),
                        owner_name: r.name.to_string(),
                        owner_uid: r.uid.to_string(),
                        controller: r.controller,
                    },
                });
            }
        }
    }
    // Leases: the db's own clock is the newest renewTime of all Leases.
    if let Some(newest) = leases.iter().map(|l| l.2).max() {
        for (key, holder, renew, dur) in leases {
            let (renew, dur) = (*renew, *dur);
            let expires = i128::from(renew) + 3 * i128::from(dur) * 1_000_000;
            if expires < i128::from(newest) {
                out.push(Finding {
                    kind: FindingKind::StaleLease,
                    key: key_str(key),
                    message: format!(
                        "lease of {holder} last renewed {} s before the newest lease renewal (duration {dur} s)",
                        (i128::from(newest) - i128::from(renew)) / 1_000_000
                    ),
                    detail: Detail::Lease {
                        holder: holder.to_string(),
                        renew_time_unix_micros: renew,
                        lease_duration_seconds: dur,
                        newest_renew_time_unix_micros: newest,
                    },
                });
            }
        }
    }
    // Encryption per resource: a handful of labels per resource, so a small list each.
    for (res, labels) in per_res {
        let counts: BTreeMap<String, u64> = labels.into_iter().collect();
        let enc = counts.keys().filter(|l| *l != "plain").count();
        if enc > 1 || (enc == 1 && counts.contains_key("plain")) {
            let msg: Vec<String> = counts.iter().map(|(l, n)| format!("{l}: {n}")).collect();
            out.push(Finding {
                kind: FindingKind::MixedEncryption,
                key: format!("/registry/{res}/"),
                message: format!("{res}: {}", msg.join(", ")),
                detail: Detail::Mixed {
                    resource: res.to_string(),
                    counts,
                },
            });
        }
    }
    // Events by involved object and reason.
    type EvKey<'b> = (&'b str, &'b str, &'b str, &'b str);
    let mut ev: Vec<(EvKey<'_>, (u64, u64))> = ev
        .iter()
        .map(|((ns, k, n, r), &v)| ((&**ns, &**k, &**n, &**r), v))
        .collect();
    ev.sort_unstable_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(&b.0)));
    for &((ns, kind, name, reason), (n, _)) in &ev {
        if n >= 100 && 2 * n >= total {
            out.push(Finding {
                kind: FindingKind::EventFlood,
                key: format!("/registry/events/{ns}/"),
                message: format!(
                    "{n} of {total} Events are about {kind} {ns}/{name} with reason {reason}"
                ),
                detail: Detail::Flood {
                    namespace: ns.to_string(),
                    involved_kind: kind.to_string(),
                    involved_name: name.to_string(),
                    reason: reason.to_string(),
                    events: n,
                    all_events: total,
                },
            });
        }
    }
    s.event_groups = ev
        .into_iter()
        .map(|((ns, kind, name, reason), (n, c))| EventGroup {
            namespace: ns.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            reason: reason.to_string(),
            events: n,
            count_sum: c,
        })
        .collect();
    fn uid_of(f: &Finding) -> &str {
        match &f.detail {
            Detail::Orphan { owner_uid, .. } => owner_uid,
            _ => "",
        }
    }
    out.sort_by(|a, b| {
        (a.kind.as_str(), &a.key, uid_of(a)).cmp(&(b.kind.as_str(), &b.key, uid_of(b)))
    });
    s.findings = out;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::decode::pb::*;
    use crate::scan::scan_keyspace;
    use crate::testdb::{build, Entry};
    use bbolt_reader::Db;

    fn meta(name: &str, ns: &str, uid: &str, extra: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        msg(1, |m| {
            bytes(m, 1, name.as_bytes());
            bytes(m, 3, ns.as_bytes());
            bytes(m, 5, uid.as_bytes());
            extra(m);
        })
    }

    fn owner(m: &mut Vec<u8>, kind: &str, name: &str, uid: &str) {
        m.extend(msg(13, |o| {
            bytes(o, 1, kind.as_bytes());
            bytes(o, 3, name.as_bytes());
            bytes(o, 4, uid.as_bytes());
            int(o, 6, 1);
        }));
    }

    fn lease(name: &str, renew: u64, dur: u64) -> Vec<u8> {
        let mut raw = meta(name, "kube-node-lease", &format!("uid-{name}"), |_| {});
        raw.extend(msg(2, |s| {
            bytes(s, 1, name.as_bytes());
            int(s, 2, dur);
            s.extend(msg(4, |t| int(t, 1, renew)));
        }));
        envelope("coordination.k8s.io/v1", "Lease", &raw)
    }

    /// A db of one revision per `(key, value)` in order, from revision 2 on (`None`: a
    /// delete).
    fn db_of<'a>(values: impl IntoIterator<Item = (&'a str, Option<&'a [u8]>)>) -> Vec<u8> {
        let entries: Vec<Entry<'_>> = (2..)
            .zip(values)
            .map(|(rev, (k, v))| (rev, k, v, 0))
            .collect();
        build(&entries, None)
    }

    /// A db of one put per `(key, value)` in order, from revision 2 on.
    fn puts(values: &[(String, Vec<u8>)]) -> Vec<u8> {
        db_of(values.iter().map(|(k, v)| (k.as_str(), Some(v.as_slice()))))
    }

    /// The whole keyspace of `db`'s key bucket.
    fn keyspace<'a>(db: &Db<'a>) -> Keyspace<'a> {
        let b = db.bucket(b"key").unwrap().unwrap();
        scan_keyspace(&b, i64::MAX, &|_| {}).unwrap()
    }

    struct Fx {
        values: Vec<(&'static str, Option<Vec<u8>>)>,
    }

    impl Fx {
        fn db(&self) -> Vec<u8> {
            db_of(self.values.iter().map(|(k, v)| (*k, v.as_deref())))
        }
    }

    fn fixture() -> Fx {
        let rs = envelope(
            "apps/v1",
            "ReplicaSet",
            &meta("web-rs", "default", "uid-rs", |_| {}),
        );
        let pod_a1 = envelope(
            "v1",
            "Pod",
            &meta("a", "default", "uid-a", |m| {
                owner(m, "ReplicaSet", "web-rs", "uid-rs")
            }),
        );
        let pod_a2 = envelope(
            "v1",
            "Pod",
            &meta("a", "default", "uid-a", |m| {
                owner(m, "ReplicaSet", "web-rs", "uid-rs");
                m.extend(msg(17, |e| bytes(e, 1, b"kubelet")));
            }),
        );
        let orphan = envelope(
            "v1",
            "Pod",
            &meta("b", "default", "uid-b", |m| {
                owner(m, "ReplicaSet", "gone", "uid-gone")
            }),
        );
        let stuck = envelope(
            "v1",
            "ConfigMap",
            &meta("cm", "ns2", "uid-cm", |m| {
                m.extend(msg(9, |t| int(t, 1, 1_700_000_000)));
                bytes(m, 14, b"example.com/hold");
            }),
        );
        let deleted = envelope("v1", "Pod", &meta("c", "ns2", "uid-c", |_| {}));
        let plain_secret = envelope("v1", "Secret", &meta("s1", "default", "uid-s1", |_| {}));
        Fx {
            values: vec![
                ("/registry/replicasets/default/web-rs", Some(rs)),
                ("/registry/pods/default/a", Some(pod_a1)),
                ("/registry/pods/ns2/c", Some(deleted)),
                ("/registry/pods/default/a", Some(pod_a2)),
                ("/registry/pods/default/b", Some(orphan)),
                ("/registry/configmaps/ns2/cm", Some(stuck)),
                ("/registry/pods/ns2/c", None),
                ("/registry/secrets/default/s1", Some(plain_secret)),
                ("/registry/secrets/default/s2", Some(b"k8s:enc:aescbc:v1:key1:xxxxxxxx".to_vec())),
                ("/registry/leases/kube-node-lease/n1", Some(lease("n1", 1000, 40))),
                ("/registry/leases/kube-node-lease/n2", Some(lease("n2", 2000, 40))),
                ("/registry/example.com/widgets/ns1/w", Some(br#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"ns1","uid":"uid-w"}}"#.to_vec())),
                ("/registry/ranges/serviceips", Some(b"\x01\x02opaque".to_vec())),
                ("compact_rev_key", Some(b"x".to_vec())),
            ],
        }
    }

    fn run(fx: &Fx, prefix: &[u8]) -> K8sSummary {
        let db = fx.db();
        let db = Db::open(&db).unwrap();
        let ks = keyspace(&db);
        assert!(ks.leaf_pages.len() > 1);
        let s = account(
            &ks,
            &K8sOptions {
                prefix: prefix.to_vec(),
                top: 3,
            },
        );
        // Owned results: nothing borrows the db.
        s
    }

    fn group<'s>(s: &'s K8sSummary, by: GroupBy, name: &str) -> &'s GroupStats {
        &s.groups(by)
            .iter()
            .find(|g| g.0 == name)
            .unwrap_or_else(|| panic!("{name}"))
            .1
    }

    #[test]
    fn groups_follow_the_shared_definitions() {
        let fx = fixture();
        let len = |i: usize| fx.values[i].1.as_ref().unwrap().len() as u64;
        let s = run(&fx, b"");
        assert_eq!(s.unlocated, 0);
        let pods = group(&s, GroupBy::Resource, "pods");
        assert_eq!(pods.objects, 2);
        assert_eq!(pods.revisions, 5);
        assert_eq!(pods.live_bytes, len(3) + len(4));
        // Older put of /a, and the put before /c's tombstone.
        assert_eq!(pods.history_bytes, len(1) + len(2));
        // Field 17 takes a two-byte tag, one length byte, then {1: "kubelet"}.
        assert_eq!(pods.managed_fields_bytes, 2 + 1 + 9);
        // The deleted pod is grouped by its last put's namespace and kind.
        let ns2 = group(&s, GroupBy::Namespace, "ns2");
        assert_eq!((ns2.objects, ns2.revisions), (1, 3));
        assert_eq!(group(&s, GroupBy::Kind, "Pod").revisions, 5);
        assert_eq!(group(&s, GroupBy::Owner, "ReplicaSet/web-rs").objects, 1);
        assert_eq!(group(&s, GroupBy::Owner, "ReplicaSet/gone").objects, 1);
        let secrets = group(&s, GroupBy::Resource, "secrets");
        assert_eq!(
            (secrets.objects, secrets.encrypted, secrets.undecoded),
            (2, 1, 1)
        );
        assert_eq!(
            group(&s, GroupBy::Resource, "example.com/widgets").objects,
            1
        );
        // The encrypted secret and the opaque value: kind "", namespace from the key.
        assert_eq!(group(&s, GroupBy::Kind, "").objects, 2);
        assert_eq!(group(&s, GroupBy::Namespace, "").objects, 1);
        // compact_rev_key is not under /registry/.
        assert_eq!(s.totals.objects, 10);
        assert_eq!(s.totals.revisions, 13);
        assert_eq!(s.undecoded_prefixes.get("01026f7061717565"), Some(&1));
        assert_eq!(s.encodings.get(&Encoding::Json), Some(&1));
    }

    #[test]
    fn a_deleted_keys_newest_put_before_its_tombstone_is_read_from_the_scans_ordinal_or_found_by_the_fallback_pass(
    ) {
        let pod = |ns: &str| envelope("v1", "Pod", &meta("p", ns, "uid-p", |_| {}));
        let (old, new, other) = (pod("ns-old"), pod("ns-new"), pod("ns-other"));
        let sum = |entries: &[Entry<'_>]| {
            let db = build(entries, None);
            let db = Db::open(&db).unwrap();
            let ks = keyspace(&db);
            let acc = *ks.keys.get(b"/registry/pods/a/p").unwrap();
            let s = account(&ks, &Default::default());
            (acc.newest_put, acc.newest_put_loc.index(), s)
        };
        // Put at 2, put at 4, tombstone at 6: the put at 4 (element 2 of the one leaf) names the namespace.
        let (rev, ordinal, s) = sum(&[
            (2, "/registry/pods/a/p", Some(&old), 0),
            (3, "/registry/pods/a/q", Some(&other), 0),
            (4, "/registry/pods/a/p", Some(&new), 0),
            (6, "/registry/pods/a/p", None, 0),
        ]);
        assert_eq!((rev.main, ordinal), (4, 2));
        assert_eq!(s.unlocated, 0);
        assert_eq!(group(&s, GroupBy::Namespace, "ns-new").revisions, 3);
        // A put at the tombstone's own revision is not before it: the put at 2 is found by
        // the pass over the pages.
        let (rev, _, s) = sum(&[
            (2, "/registry/pods/a/p", Some(&old), 0),
            (3, "/registry/pods/a/q", Some(&other), 0),
            (5, "/registry/pods/a/p", Some(&new), 0),
            (5, "/registry/pods/a/p", None, 0),
        ]);
        assert_eq!(rev.main, 5);
        assert_eq!(s.unlocated, 0);
        assert_eq!(group(&s, GroupBy::Namespace, "ns-old").revisions, 3);
    }

    #[test]
    fn figures_over_many_chunks_do_not_depend_on_the_threads_that_merge_them() {
        // 3,000 pods (three chunks of keys), a third owned by a ReplicaSet that does not
        // exist, some rewritten; and one event per pod about the same node.
        let mut values: Vec<(String, Vec<u8>)> = Vec::new();
        for i in 0..3000 {
            let name = format!("p{i:04}");
            let pod = envelope(
                "v1",
                "Pod",
                &meta(&name, &format!("ns{}", i % 7), &format!("uid-{i}"), |m| {
                    if i % 3 == 0 {
                        owner(m, "ReplicaSet", "gone", &format!("uid-gone-{}", i % 5))
                    }
                }),
            );
            values.push((format!("/registry/pods/ns{}/{name}", i % 7), pod.clone()));
            if i % 11 == 0 {
                values.push((format!("/registry/pods/ns{}/{name}", i % 7), pod));
            }
        }
        let db = puts(&values);
        let db = Db::open(&db).unwrap();
        let ks = keyspace(&db);
        let on = |threads: usize| {
            let pool = crate::testdb::pool(threads);
            let s = pool.install(|| account(&ks, &Default::default()));
            format!("{s:?}")
        };
        let one = on(1);
        assert_eq!(one, on(3));
        let s = account(&ks, &Default::default());
        assert_eq!(s.totals.objects, 3000);
        assert_eq!(s.totals.revisions, 3000 + 273);
        assert_eq!(group(&s, GroupBy::Owner, "ReplicaSet/gone").objects, 1000);
        assert_eq!(s.most_revisions[0].key, "/registry/pods/ns0/p0000");
        assert_eq!(s.most_revisions[1].key, "/registry/pods/ns0/p0077");
        // One orphan finding per owning pod.
        let orphans = s
            .findings
            .iter()
            .filter(|f| f.kind.as_str() == "orphan_owner");
        assert_eq!(orphans.count(), 1000);
    }

    #[test]
    fn top_rows_with_tied_figures_are_the_first_by_key_as_sorting_every_candidate_gives() {
        let keys: Vec<Vec<u8>> = (0..500u32)
            .map(|i| format!("/registry/pods/ns/p{:05}", (i * 7919) % 500).into_bytes())
            .collect();
        for n in [1, 3, 20, 600] {
            let (mut v, mut bar) = (Vec::new(), None);
            let mut all = Vec::new();
            for (i, k) in keys.iter().enumerate() {
                let acc = KeyAcc {
                    revisions: 1 + (i as u32 % 4),
                    ..Default::default()
                };
                let o = Obj::new(k, &acc, None, false);
                let figure = u64::from(o.revisions);
                offer(&mut v, &mut bar, n, figure, &o);
                all.push((figure, o.key, o.row_of()));
            }
            let got: Vec<(u64, String)> = finish_rows(&mut v, n)
                .into_iter()
                .map(|r| (r.revisions, r.key))
                .collect();
            let want: Vec<(u64, String)> = finish_rows(&mut all, n)
                .into_iter()
                .map(|r| (r.revisions, r.key))
                .collect();
            assert_eq!(got, want, "top {n}");
        }
    }

    #[test]
    fn the_newest_and_newest_put_places_name_the_elements_the_ordinals_name() {
        // Keys rewritten and deleted over many pages, an overflowing value among them.
        let big = vec![b'b'; 9000];
        let values: Vec<(String, Option<Vec<u8>>)> = (0..2000)
            .map(|i| {
                let v = match i % 11 {
                    3 => None,
                    5 if i == 1005 => Some(big.clone()),
                    _ => Some(vec![b'v'; i % 37]),
                };
                (format!("/registry/pods/ns/p{:04}", i % 700), v)
            })
            .collect();
        let db = db_of(values.iter().map(|(k, v)| (k.as_str(), v.as_deref())));
        let db = Db::open(&db).unwrap();
        let ks = keyspace(&db);
        let pages = &ks.leaf_pages;
        assert!(pages.len() > 100, "{} pages", pages.len());
        let bases = element_bases(pages);
        let by_ordinal = |o: u64| {
            let i = bases.partition_point(|&x| x <= o) - 1;
            pages[i].leaf_element((o - bases[i]) as usize).unwrap()
        };
        let (mut puts, mut deleted) = (0, 0);
        for (_, a) in ks.keys.iter() {
            let el = ks.element(a.newest_loc).unwrap();
            assert_eq!(el, by_ordinal(a.below_newest_ordinal));
            if a.newest_tombstone && a.revisions > a.tombstones {
                deleted += 1;
                let put = put_at(&ks, a.newest_put_loc).unwrap();
                assert_eq!(put.0, a.newest_put);
            } else if !a.newest_tombstone {
                puts += 1;
                assert_eq!(put_at(&ks, a.newest_loc).unwrap().0, a.newest);
            }
        }
        assert!(puts > 0 && deleted > 0, "{puts} {deleted}");
        // A place no leaf has reads as nothing.
        assert!(ks.element(crate::scan::ElementLoc::NONE).is_none());
        assert!(ks.element(crate::scan::ElementLoc::new(0, 0)).is_none());
    }

    #[test]
    fn undecodable_prefixes_and_decode_errors_count_the_same_on_any_threads() {
        // 3,000 keys over three chunks: values of unknown encoding with four prefixes (one
        // shorter than 8 bytes), malformed protobuf, and good pods.
        let good = envelope("v1", "Pod", &meta("p", "ns", "uid-p", |_| {}));
        let mut values: Vec<(String, Vec<u8>)> = Vec::new();
        for i in 0..3000 {
            let v = match i % 6 {
                0 => b"\x01\x02opaque-one".to_vec(),
                1 => b"\x01\x02opaqXe-two".to_vec(),
                2 => b"abc".to_vec(),
                3 => format!("zz{i}-long-enough").into_bytes(),
                4 => b"k8s\x00\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff".to_vec(),
                _ => good.clone(),
            };
            values.push((format!("/registry/things/ns{}/t{i:04}", i % 5), v));
        }
        let db = puts(&values);
        let db = Db::open(&db).unwrap();
        let ks = keyspace(&db);
        let on = |threads: usize| {
            let pool = crate::testdb::pool(threads);
            pool.install(|| account(&ks, &Default::default()))
        };
        let s = on(1);
        assert_eq!(format!("{s:?}"), format!("{:?}", on(3)));
        assert_eq!(s.undecoded_prefixes.get("01026f7061717565"), Some(&500));
        assert_eq!(s.undecoded_prefixes.get("01026f7061715865"), Some(&500));
        assert_eq!(s.undecoded_prefixes.get("616263"), Some(&500));
        let zz: u64 = s
            .undecoded_prefixes
            .iter()
            .filter(|(p, _)| p.starts_with("7a7a"))
            .map(|(_, n)| n)
            .sum();
        assert_eq!(zz, 500);
        assert_eq!(s.decode_errors, 500);
        assert_eq!(s.decode_problems.len(), 20);
        // The first twenty in the order the newest values sit in the file.
        assert_eq!(s.decode_problems[0].key, "/registry/things/ns4/t0004");
        assert!(s.decode_problems[0]
            .what
            .starts_with("malformed protobuf at byte "));
        assert_eq!(group(&s, GroupBy::Kind, "Pod").objects, 500);
    }

    #[test]
    fn largest_and_most_revisions_are_ordered() {
        let fx = fixture();
        let s = run(&fx, b"");
        assert_eq!(s.largest.len(), 3);
        assert!(s.largest.windows(2).all(|w| w[0].bytes >= w[1].bytes));
        assert_eq!(s.most_revisions[0].key, "/registry/pods/default/a");
        assert_eq!(s.most_revisions[1].key, "/registry/pods/ns2/c");
        assert!(!s.most_revisions[1].live);
        assert_eq!(s.most_revisions[1].kind, "Pod");
    }

    #[test]
    fn findings_name_stuck_orphan_stale_and_mixed() {
        let fx = fixture();
        let s = run(&fx, b"");
        let kinds: Vec<(&str, &str)> = s
            .findings
            .iter()
            .map(|f| (f.kind.as_str(), f.key.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("mixed_encryption", "/registry/secrets/"),
                ("orphan_owner", "/registry/pods/default/b"),
                ("stale_lease", "/registry/leases/kube-node-lease/n1"),
                ("stuck_deletion", "/registry/configmaps/ns2/cm"),
            ]
        );
        assert_eq!(s.findings[0].message, "secrets: aescbc:key1: 1, plain: 1");
        assert_eq!(
            s.findings[3].message,
            "ConfigMap ns2/cm has deletionTimestamp 2023-11-14T22:13:20Z and finalizers example.com/hold"
        );
    }

    #[test]
    fn key_tree_with_lenses_carries_kinds_resources_and_the_groups_figures() {
        let fx = fixture();
        let db = fx.db();
        let db = Db::open(&db).unwrap();
        let ks = keyspace(&db);
        let (s, lenses) = account_with_lenses(&ks, &K8sOptions::default());
        assert_eq!(
            s.by_resource,
            account(&ks, &K8sOptions::default()).by_resource
        );
        assert_eq!(lenses.len(), 11, "every key under /registry/");
        // Found by the key's position in the table's order.
        for (i, (k, _)) in ks.keys.iter().enumerate() {
            assert_eq!(
                lenses.get(i).is_some(),
                k.starts_with(REGISTRY_PREFIX),
                "{k:?}"
            );
        }
        assert!(lenses.get(ks.keys.len()).is_none());
        let t = crate::keytree::key_tree_with(&ks, 3, Default::default(), Some(&lenses));
        let child = |n: &'_ crate::keytree::KeyTreeNode, name: &str| {
            n.children
                .iter()
                .find(|c| c.name == name)
                .unwrap_or_else(|| panic!("{name}"))
                .clone()
        };
        // Level 1: the prefix, which for a core resource is the resource.
        let pods = child(&t.root, "/registry/pods/");
        let k = pods.kube.as_ref().unwrap();
        assert_eq!(k.resource.as_deref(), Some("pods"));
        assert_eq!(k.kind.as_deref(), Some("Pod"));
        assert_eq!(&k.stats, group(&s, GroupBy::Resource, "pods"));
        // A resource stored under its group: prefix, then the resource, named kubectl's way.
        let ex = child(&t.root, "/registry/example.com/");
        let widgets = child(&ex, "widgets/").kube.unwrap();
        assert_eq!(
            widgets.resource_name.as_deref(),
            Some("widgets.example.com")
        );
        assert_eq!(widgets.kind.as_deref(), Some("Widget"));
        // The API group comes from the objects' apiVersion.
        let leases = child(&t.root, "/registry/leases/").kube.unwrap();
        assert_eq!(
            leases.resource_name.as_deref(),
            Some("leases.coordination.k8s.io")
        );
        let rs = child(&t.root, "/registry/replicasets/").kube.unwrap();
        assert_eq!(rs.resource_name.as_deref(), Some("replicasets.apps"));
        // Namespace, then object, with the object's own figures.
        let a = child(&child(&pods, "default/"), "a").kube.unwrap();
        assert_eq!(a.stats.objects, 1);
        assert_eq!(a.stats.managed_fields_bytes, 12);
        // Several kinds under one node: no single kind; the root sums everything.
        let r = t.root.kube.as_ref().unwrap();
        assert_eq!(r.kind, None);
        assert_eq!(r.stats, s.totals);
        // A key outside /registry/ has no lens.
        let other = t.root.children.iter().find(|c| c.name.is_empty()).unwrap();
        assert_eq!(other.kube, None);
    }

    #[test]
    fn prefix_limits_the_keys() {
        let fx = fixture();
        let s = run(&fx, b"/registry/pods/");
        assert_eq!(s.by_resource.len(), 1);
        assert_eq!(s.totals.revisions, 5);
    }
}
