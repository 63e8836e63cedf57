//! Writes a Kubernetes-like etcd 3.4 db for benchmarks (not real etcd: written directly in
//! etcd's bbolt layout with bbolt-writer, which is far faster than filling a live etcd).
//!
//! Layout written, as etcd 3.4 has it: buckets alarm, auth (authRevision), authRoles,
//! authUsers, cluster (clusterVersion), key (revision -> mvccpb.KeyValue), lease (ID ->
//! leasepb.Lease), members (hex ID -> JSON), members_removed, meta (consistent_index,
//! scheduledCompactRev, finishedCompactRev). The keyspace is kube-apiserver's:
//! `/registry/<resource>/<namespace>/<name>` with value sizes and update rates per
//! resource, events attached to leases, deletes as tombstones, and a compaction at 40% of
//! the history (older revisions dropped as etcd's compaction drops them). Values start with
//! "k8s\0" and are filled with pseudo-random bytes. Deterministic for a given size.
//!
//! Two shapes share the writer:
//! - `k8s` (default): the shape above, `SIZE_MIB` of key/value data written (default 1100).
//! - `history`: a member that hit NOSPACE from history: about 231k keys whatever the size
//!   (150k events attached to leases and deleted when they expire, 45k pods, 3k node
//!   Leases renewed all the time, 3k nodes whose status is rewritten often, configmaps,
//!   secrets, endpoints), small values, compacted at 5% only, so the revisions grow with the
//!   size and the keys do not (about 2.7 KiB of file per revision: ~780k revisions at
//!   2 GiB). `SIZE_MIB` is the file size aimed at (the writer's page packing is simulated).
//!
//! Usage: `make-k8s-db [--kube] OUT.db [SIZE_MIB] [k8s|history]`; `--kube` encodes the
//! values as kube-apiserver writes them, for the `k8s` bench.

#![allow(dead_code)]

use etcd_mvcc::kv::KeyValue;
use etcd_mvcc::revision::Revision;
use prost::Message;
use std::path::Path;

/// A tiny deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

struct Resource {
    name: &'static str,
    namespaced: bool,
    keys: u32,
    /// Value size range in bytes.
    vmin: u32,
    vmax: u32,
    /// Relative share of writes.
    weight: u32,
    /// Share of writes that delete (per mille).
    delete_permille: u32,
    leased: bool,
}

const RESOURCES: &[Resource] = &[
    Resource {
        name: "pods",
        namespaced: true,
        keys: 12_000,
        vmin: 3_000,
        vmax: 14_000,
        weight: 30,
        delete_permille: 30,
        leased: false,
    },
    Resource {
        name: "events",
        namespaced: true,
        keys: 60_000,
        vmin: 600,
        vmax: 1_400,
        weight: 30,
        delete_permille: 0,
        leased: true,
    },
    Resource {
        name: "configmaps",
        namespaced: true,
        keys: 3_000,
        vmin: 500,
        vmax: 60_000,
        weight: 6,
        delete_permille: 10,
        leased: false,
    },
    Resource {
        name: "secrets",
        namespaced: true,
        keys: 4_000,
        vmin: 1_000,
        vmax: 4_000,
        weight: 3,
        delete_permille: 10,
        leased: false,
    },
    Resource {
        name: "leases",
        namespaced: true,
        keys: 400,
        vmin: 300,
        vmax: 500,
        weight: 12,
        delete_permille: 0,
        leased: false,
    },
    Resource {
        name: "replicasets",
        namespaced: true,
        keys: 4_000,
        vmin: 2_000,
        vmax: 8_000,
        weight: 6,
        delete_permille: 20,
        leased: false,
    },
    Resource {
        name: "deployments",
        namespaced: true,
        keys: 1_500,
        vmin: 2_000,
        vmax: 9_000,
        weight: 4,
        delete_permille: 5,
        leased: false,
    },
    Resource {
        name: "services/endpoints",
        namespaced: true,
        keys: 2_000,
        vmin: 500,
        vmax: 6_000,
        weight: 5,
        delete_permille: 5,
        leased: false,
    },
    Resource {
        name: "minions",
        namespaced: false,
        keys: 300,
        vmin: 8_000,
        vmax: 30_000,
        weight: 3,
        delete_permille: 0,
        leased: false,
    },
    Resource {
        name: "apiextensions.k8s.io/customresourcedefinitions",
        namespaced: false,
        keys: 200,
        vmin: 20_000,
        vmax: 300_000,
        weight: 1,
        delete_permille: 0,
        leased: false,
    },
];

/// The history-heavy shape: many revisions of small values over a fixed set of keys.
const HISTORY: &[Resource] = &[
    Resource {
        name: "events",
        namespaced: true,
        keys: 150_000,
        vmin: 300,
        vmax: 900,
        weight: 12,
        delete_permille: 150,
        leased: true,
    },
    Resource {
        name: "leases",
        namespaced: true,
        keys: 3_000,
        vmin: 300,
        vmax: 500,
        weight: 45,
        delete_permille: 0,
        leased: false,
    },
    Resource {
        name: "minions",
        namespaced: false,
        keys: 3_000,
        vmin: 4_000,
        vmax: 10_000,
        weight: 12,
        delete_permille: 0,
        leased: false,
    },
    Resource {
        name: "pods",
        namespaced: true,
        keys: 45_000,
        vmin: 1_000,
        vmax: 3_000,
        weight: 20,
        delete_permille: 20,
        leased: false,
    },
    Resource {
        name: "configmaps",
        namespaced: true,
        keys: 8_000,
        vmin: 500,
        vmax: 4_000,
        weight: 3,
        delete_permille: 10,
        leased: false,
    },
    Resource {
        name: "secrets",
        namespaced: true,
        keys: 6_000,
        vmin: 1_000,
        vmax: 3_000,
        weight: 1,
        delete_permille: 10,
        leased: false,
    },
    Resource {
        name: "services/endpoints",
        namespaced: true,
        keys: 5_000,
        vmin: 500,
        vmax: 3_000,
        weight: 4,
        delete_permille: 5,
        leased: false,
    },
    Resource {
        name: "discovery.k8s.io/endpointslices",
        namespaced: true,
        keys: 5_000,
        vmin: 500,
        vmax: 3_000,
        weight: 3,
        delete_permille: 5,
        leased: false,
    },
    Resource {
        name: "replicasets",
        namespaced: true,
        keys: 6_000,
        vmin: 1_000,
        vmax: 3_000,
        weight: 1,
        delete_permille: 10,
        leased: false,
    },
];

/// Which keyspace to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The Kubernetes-like shape of the original bench db; size = key/value data.
    K8s,
    /// The history-heavy shape; size = file size aimed at.
    History,
}

impl Shape {
    fn resources(self) -> &'static [Resource] {
        match self {
            Shape::K8s => RESOURCES,
            Shape::History => HISTORY,
        }
    }
    /// Where the compaction falls, in per mille of the history.
    fn compact_permille(self) -> usize {
        match self {
            Shape::K8s => 400,
            Shape::History => 50,
        }
    }
}

/// Estimates the file bytes bbolt-writer uses for a run of leaf entries: entries are packed
/// into a node until the next would pass the fill threshold; a node spans whole pages.
#[derive(Default)]
struct PageEstimate {
    pending: u64,
    bytes: u64,
}

impl PageEstimate {
    const PAGE: u64 = 4096;
    const THRESHOLD: u64 = 4096 * 9 / 10;
    fn add(&mut self, key_len: u64, value_len: u64) {
        let size = 16 + key_len + value_len;
        if self.pending > 16 && self.pending + size > Self::THRESHOLD {
            self.flush();
        }
        if self.pending == 0 {
            self.pending = 16;
        }
        self.pending += size;
    }
    fn flush(&mut self) {
        self.bytes += self.pending.div_ceil(Self::PAGE) * Self::PAGE;
        self.pending = 0;
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Summary of a generated db.
#[derive(Debug, Clone, Copy, Default)]
pub struct Made {
    /// Revisions written to the key bucket.
    pub revisions: u64,
    /// Newest revision.
    pub newest: i64,
    /// Compact revision.
    pub compact: i64,
    /// File size.
    pub bytes: u64,
}

struct Op {
    key: u32,
    delete: bool,
    vlen: u32,
}

fn fill(rng: &mut Rng, buf: &mut Vec<u8>, len: usize) {
    buf.clear();
    buf.extend_from_slice(b"k8s\0");
    while buf.len() < len {
        let x = rng.next().to_le_bytes();
        let n = (len - buf.len()).min(8);
        buf.extend_from_slice(&x[..n]);
    }
}

fn pb_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn pb_bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    pb_varint(out, field << 3 | 2);
    pb_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn pb_int(out: &mut Vec<u8>, field: u64, v: u64) {
    pb_varint(out, field << 3);
    pb_varint(out, v);
}

/// `--kube`: a value as kube-apiserver writes it — `k8s\0` + runtime.Unknown{TypeMeta,
/// raw} where raw is {1 ObjectMeta (name, namespace, uid, creationTimestamp, labels, an
/// annotation, an ownerReference for pods, managedFields), 2 spec} — of about `len` bytes
/// (the spec is padding). Events carry involvedObject and reason, Leases a spec with
/// holder, duration and renewTime, as the `k8s` command reads them.
fn fill_kube(rng: &mut Rng, buf: &mut Vec<u8>, len: usize, resource: &str, key: &str, rev: i64) {
    let (api, kind) = match resource {
        "pods" => ("v1", "Pod"),
        "events" => ("v1", "Event"),
        "configmaps" => ("v1", "ConfigMap"),
        "secrets" => ("v1", "Secret"),
        "leases" => ("coordination.k8s.io/v1", "Lease"),
        "replicasets" => ("apps/v1", "ReplicaSet"),
        "deployments" => ("apps/v1", "Deployment"),
        "services/endpoints" => ("v1", "Endpoints"),
        "minions" => ("v1", "Node"),
        _ => ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    };
    let mut segs = key.rsplit('/');
    let name = segs.next().unwrap_or("");
    let ns = if resource == "minions" || resource.contains('.') {
        ""
    } else {
        segs.next().unwrap_or("")
    };
    let uid = |rng: &mut Rng| format!("{:016x}-{:016x}", rng.next(), rng.next());
    let mut meta = Vec::new();
    pb_bytes(&mut meta, 1, name.as_bytes());
    pb_bytes(&mut meta, 3, ns.as_bytes());
    pb_bytes(&mut meta, 5, uid(rng).as_bytes());
    let mut t = Vec::new();
    pb_int(&mut t, 1, 1_700_000_000 + rev as u64);
    pb_bytes(&mut meta, 8, &t);
    let mut e = Vec::new();
    pb_bytes(&mut e, 1, b"app");
    pb_bytes(&mut e, 2, resource.as_bytes());
    pb_bytes(&mut meta, 11, &e);
    let mut e = Vec::new();
    pb_bytes(&mut e, 1, b"deployment.kubernetes.io/revision");
    pb_bytes(&mut e, 2, b"3");
    pb_bytes(&mut meta, 12, &e);
    if resource == "pods" {
        let mut o = Vec::new();
        pb_bytes(&mut o, 1, b"ReplicaSet");
        pb_bytes(&mut o, 3, b"web-5d4f8");
        pb_bytes(&mut o, 4, uid(rng).as_bytes());
        pb_bytes(&mut o, 5, b"apps/v1");
        pb_int(&mut o, 6, 1);
        pb_bytes(&mut meta, 13, &o);
    }
    for m in ["kube-controller-manager", "kubelet"] {
        let mut f = Vec::new();
        pb_bytes(&mut f, 1, m.as_bytes());
        pb_bytes(&mut f, 2, b"Update");
        pb_bytes(&mut f, 3, api.as_bytes());
        pb_bytes(&mut f, 6, b"FieldsV1");
        pb_bytes(&mut f, 7, &[b'f'; 120]);
        pb_bytes(&mut meta, 17, &f);
    }
    let mut raw = Vec::new();
    pb_bytes(&mut raw, 1, &meta);
    match kind {
        "Event" => {
            let mut o = Vec::new();
            pb_bytes(&mut o, 1, b"Pod");
            pb_bytes(&mut o, 2, ns.as_bytes());
            pb_bytes(&mut o, 3, format!("pod-{}", rng.below(500)).as_bytes());
            pb_bytes(&mut raw, 2, &o);
            pb_bytes(&mut raw, 3, b"BackOff");
            pb_int(&mut raw, 8, 1 + rng.below(20));
        }
        "Lease" => {
            let mut sp = Vec::new();
            pb_bytes(&mut sp, 1, name.as_bytes());
            pb_int(&mut sp, 2, 40);
            let mut t = Vec::new();
            pb_int(&mut t, 1, 1_700_000_000 + rev as u64);
            pb_bytes(&mut sp, 4, &t);
            pb_bytes(&mut raw, 2, &sp);
        }
        _ => {}
    }
    // Spec padding up to the drawn length.
    let pad = len.saturating_sub(raw.len() + 64);
    let mut spec = Vec::with_capacity(pad);
    while spec.len() < pad {
        spec.extend_from_slice(&rng.next().to_le_bytes());
    }
    spec.truncate(pad);
    pb_bytes(&mut raw, 15, &spec);
    buf.clear();
    buf.extend_from_slice(b"k8s\0");
    let mut tm = Vec::new();
    pb_bytes(&mut tm, 1, api.as_bytes());
    pb_bytes(&mut tm, 2, kind.as_bytes());
    pb_bytes(buf, 1, &tm);
    pb_bytes(buf, 2, &raw);
    pb_bytes(buf, 3, b"");
    pb_bytes(buf, 4, b"");
}

/// Writes the Kubernetes-like db to `out` with about `target_mib` MiB of key/value data.
pub fn generate(out: &Path, target_mib: u64) -> Result<Made, String> {
    generate_shape(out, target_mib, Shape::K8s)
}

/// [`generate`], with values encoded as kube-apiserver writes them when `kube` (`--kube`).
pub fn generate_with(out: &Path, target_mib: u64, kube: bool) -> Result<Made, String> {
    generate_shape_with(out, target_mib, Shape::K8s, kube)
}

/// Writes a db of `shape` to `out`; `target_mib` as the shape defines it.
pub fn generate_shape(out: &Path, target_mib: u64, shape: Shape) -> Result<Made, String> {
    generate_shape_with(out, target_mib, shape, false)
}

/// [`generate_shape`], with Kubernetes-encoded values when `kube`.
pub fn generate_shape_with(
    out: &Path,
    target_mib: u64,
    shape: Shape,
    kube: bool,
) -> Result<Made, String> {
    let resources = shape.resources();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Keys.
    let mut keys: Vec<(String, usize)> = Vec::new();
    let mut by_res: Vec<(u32, u32)> = Vec::new();
    for (ri, r) in resources.iter().enumerate() {
        let start = keys.len() as u32;
        for i in 0..r.keys {
            let k = if r.namespaced {
                format!(
                    "/registry/{}/ns-{:03}/{}-{:08x}",
                    r.name,
                    i % 120,
                    r.name.replace('/', "-"),
                    rng.next() as u32 ^ i
                )
            } else {
                format!(
                    "/registry/{}/{}-{i:06}",
                    r.name,
                    r.name.rsplit('/').next().unwrap_or("x")
                )
            };
            keys.push((k, ri));
        }
        by_res.push((start, keys.len() as u32));
    }
    let weights: u32 = resources.iter().map(|r| r.weight).sum();
    // Write history (metadata only) until the target size of data kept is reached.
    let target = target_mib << 20;
    let mut ops: Vec<Op> = Vec::new();
    let mut alive = vec![false; keys.len()];
    let mut bytes_total = 0u64;
    let mut file = PageEstimate::default();
    let more = |bytes_total: u64, file: &PageEstimate| match shape {
        // The compaction at 40% drops about half of the first 40%: aim past the target.
        Shape::K8s => bytes_total < target * 13 / 10,
        Shape::History => file.bytes < target,
    };
    // The history shape first creates every key once (a member holds all its objects,
    // whatever its history), in a scattered order: the keys stay the same at any size and
    // only the history after this grows with it.
    if shape == Shape::History {
        let n = keys.len() as u64;
        let mut step = 104_729u64;
        while gcd(step, n) != 1 {
            step += 2;
        }
        for i in 0..n {
            let key = ((i * step) % n) as u32;
            let r = &resources[keys[key as usize].1];
            let vlen = rng.range(u64::from(r.vmin), u64::from(r.vmax)) as u32;
            alive[key as usize] = true;
            file.add(17, keys[key as usize].0.len() as u64 + u64::from(vlen) + 30);
            ops.push(Op {
                key,
                delete: false,
                vlen,
            });
        }
    }
    let created_ops = ops.len();
    while more(bytes_total, &file) {
        let mut w = rng.below(u64::from(weights)) as u32;
        let mut ri = 0;
        for (i, r) in resources.iter().enumerate() {
            if w < r.weight {
                ri = i;
                break;
            }
            w -= r.weight;
        }
        let r = &resources[ri];
        let (a, b) = by_res[ri];
        let key = a + rng.below(u64::from(b - a)) as u32;
        let delete = alive[key as usize] && rng.below(1000) < u64::from(r.delete_permille);
        let vlen = if delete {
            0
        } else {
            rng.range(u64::from(r.vmin), u64::from(r.vmax)) as u32
        };
        alive[key as usize] = !delete;
        bytes_total += u64::from(vlen) + keys[key as usize].0.len() as u64 + 40;
        if shape == Shape::History {
            // Revision key 17 bytes; KeyValue framing about 30 bytes over key and value.
            file.add(17, keys[key as usize].0.len() as u64 + u64::from(vlen) + 30);
        }
        ops.push(Op { key, delete, vlen });
    }
    // Revision of op i is i + 2 (revision 1 is etcd's empty start).
    let compact_idx = created_ops + (ops.len() - created_ops) * shape.compact_permille() / 1000;
    let compact = compact_idx as i64 + 1;
    let mut newest_before: Vec<Option<usize>> = vec![None; keys.len()];
    for (i, op) in ops.iter().enumerate().take(compact_idx) {
        newest_before[op.key as usize] = Some(i);
    }
    let keep = |i: usize, op: &Op| -> bool {
        if i >= compact_idx {
            return true;
        }
        newest_before[op.key as usize] == Some(i) && !op.delete
    };
    // Per key: create revision and version, replayed in order.
    let mut created: Vec<i64> = vec![0; keys.len()];
    let mut version: Vec<i64> = vec![0; keys.len()];
    let leases: Vec<i64> = (0..64).map(|i| 0x694d_8a2b_1c3e_0000 + i).collect();

    let mut w = bbolt_writer::BoltWriter::create(
        out,
        bbolt_writer::Options {
            page_size: 4096,
            fill_percent: 0.9,
            txid: ops.len() as u64,
        },
        true,
    )
    .map_err(|e| e.to_string())?;
    let err = |e: bbolt_writer::Error| e.to_string();
    w.begin_bucket(b"alarm").map_err(err)?;
    w.end_bucket().map_err(err)?;
    w.begin_bucket(b"auth").map_err(err)?;
    w.put(b"authRevision", &1u64.to_be_bytes()).map_err(err)?;
    w.end_bucket().map_err(err)?;
    for name in ["authRoles", "authUsers"] {
        w.begin_bucket(name.as_bytes()).map_err(err)?;
        w.end_bucket().map_err(err)?;
    }
    w.begin_bucket(b"cluster").map_err(err)?;
    w.put(b"clusterVersion", b"3.4.0").map_err(err)?;
    w.end_bucket().map_err(err)?;

    w.begin_bucket(b"key").map_err(err)?;
    let mut value = Vec::new();
    let mut written = 0u64;
    for (i, op) in ops.iter().enumerate() {
        let rev = i as i64 + 2;
        let k = op.key as usize;
        if op.delete {
            created[k] = 0;
            version[k] = 0;
        } else {
            if created[k] == 0 {
                created[k] = rev;
            }
            version[k] += 1;
        }
        if !keep(i, op) {
            continue;
        }
        let r = &resources[keys[k].1];
        let kv = if op.delete {
            KeyValue {
                key: keys[k].0.as_bytes().to_vec(),
                ..Default::default()
            }
        } else {
            if kube {
                fill_kube(
                    &mut rng,
                    &mut value,
                    op.vlen as usize,
                    r.name,
                    &keys[k].0,
                    rev,
                );
            } else {
                fill(&mut rng, &mut value, op.vlen as usize);
            }
            KeyValue {
                key: keys[k].0.as_bytes().to_vec(),
                create_revision: created[k],
                mod_revision: rev,
                version: version[k],
                value: std::mem::take(&mut value),
                lease: if r.leased {
                    leases[(i / 5000) % leases.len()]
                } else {
                    0
                },
            }
        };
        let rk = Revision::new(rev, 0);
        let enc = kv.encode_to_vec();
        if op.delete {
            w.put(&rk.to_tombstone_bytes(), &enc).map_err(err)?;
        } else {
            w.put(&rk.to_bytes(), &enc).map_err(err)?;
        }
        value = kv.value;
        written += 1;
    }
    w.end_bucket().map_err(err)?;

    w.begin_bucket(b"lease").map_err(err)?;
    for id in &leases {
        // leasepb.Lease {ID=1, TTL=2}: varints.
        let mut v = Vec::new();
        for (tag, x) in [(0x08u8, *id as u64), (0x10, 3600)] {
            v.push(tag);
            let mut x = x;
            while x >= 0x80 {
                v.push((x as u8) | 0x80);
                x >>= 7;
            }
            v.push(x as u8);
        }
        w.put(&(*id as u64).to_be_bytes(), &v).map_err(err)?;
    }
    w.end_bucket().map_err(err)?;
    w.begin_bucket(b"members").map_err(err)?;
    w.put(
        b"8e9e05c52164694d",
        br#"{"id":10276657743932975437,"peerURLs":["http://localhost:2380"],"name":"bench","clientURLs":["http://localhost:2379"]}"#,
    )
    .map_err(err)?;
    w.end_bucket().map_err(err)?;
    w.begin_bucket(b"members_removed").map_err(err)?;
    w.end_bucket().map_err(err)?;
    w.begin_bucket(b"meta").map_err(err)?;
    w.put(b"consistent_index", &(ops.len() as u64 + 10).to_be_bytes())
        .map_err(err)?;
    w.put(b"finishedCompactRev", &Revision::new(compact, 0).to_bytes())
        .map_err(err)?;
    w.put(
        b"scheduledCompactRev",
        &Revision::new(compact, 0).to_bytes(),
    )
    .map_err(err)?;
    w.end_bucket().map_err(err)?;
    let summary = w.finish_file().map_err(err)?;
    Ok(Made {
        revisions: written,
        newest: ops.len() as i64 + 1,
        compact,
        bytes: summary.high_water_mark * u64::from(summary.page_size),
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut kube = false;
    let mut rest = Vec::new();
    for a in args.by_ref() {
        if a == "--kube" {
            kube = true;
        } else {
            rest.push(a);
        }
    }
    let mut args = rest.into_iter();
    let Some(out) = args.next() else {
        eprintln!("usage: make-k8s-db [--kube] OUT.db [SIZE_MIB] [k8s|history]");
        std::process::exit(2);
    };
    let mib = args.next().and_then(|s| s.parse().ok()).unwrap_or(1100);
    let shape = match args.next().as_deref() {
        None | Some("k8s") => Shape::K8s,
        Some("history") => Shape::History,
        Some(other) => {
            eprintln!("make-k8s-db: unknown shape {other} (k8s or history)");
            std::process::exit(2);
        }
    };
    match generate_shape_with(Path::new(&out), mib, shape, kube) {
        Ok(m) => println!(
            "{out}: {} bytes, {} revisions kept, newest revision {}, compacted at {}",
            m.bytes, m.revisions, m.newest, m.compact
        ),
        Err(e) => {
            eprintln!("make-k8s-db: {e}");
            std::process::exit(1);
        }
    }
}
