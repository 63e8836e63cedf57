//! The keyspace as a tree of key segments, for drawing where the bytes are: level 1 is the
//! prefix at the report's depth (`/registry/pods/`), below it one level per `/`-separated
//! segment (namespace, then object name: `default/`, `web-0`). Every node carries the user
//! key and value bytes of all revisions kept in the file (what the report ranks prefixes
//! by), the bytes of the live keys' newest revisions, and key and revision counts.
//!
//! A large keyspace is bounded: below a node, children smaller than `total /
//! max_nodes_per_level` bytes, or past the `max_children` largest, are folded into one
//! "other" child that says how many keys it holds. Each level therefore keeps at most
//! `max_nodes_per_level` nodes (their bytes are disjoint parts of the total), and levels
//! stop at [`MAX_LEVELS`]. No value bytes are read: only keys and the scan's sums.
//!
//! Where the Kubernetes lens has read the keys ([`key_tree_with`] and
//! [`crate::k8s::account_with_lenses`]), every node also carries what `k8s` counts for
//! the keys below it — objects, live and history value bytes, managedFields bytes — and
//! the kind and resource when all of them share one. Under `/registry/` the levels are
//! then the key layout's: the prefix (`/registry/pods/`, or `/registry/<group>/` and the
//! resource below it), the namespace, the object.

use super::fasthash::FastMap;
use super::k8s::{GroupStats, KeyLens, KeyLenses};
use super::scan::{KeyAcc, Keyspace};
use super::{find_slash, prefix_at_depth};
use std::hash::{BuildHasherDefault, Hasher};

/// Levels below the root (deeper key segments are shown joined in the last level's name).
pub const MAX_LEVELS: usize = 6;
/// Longest name kept for a node, in characters.
pub const MAX_NAME_CHARS: usize = 120;

/// Bounds of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeLimits {
    /// A child must hold at least the total bytes / this to be shown on its own.
    pub max_nodes_per_level: u64,
    /// At most this many children of one node are shown on their own.
    pub max_children: usize,
}

impl Default for TreeLimits {
    fn default() -> Self {
        TreeLimits {
            max_nodes_per_level: 2500,
            max_children: 60,
        }
    }
}

/// One node of the tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct KeyTreeNode {
    /// The segment (level 1: the whole prefix); lossy UTF-8, at most [`MAX_NAME_CHARS`].
    pub name: String,
    /// User key + value bytes over every revision kept in the file.
    pub bytes: u64,
    /// User key + value bytes of the live keys' newest revisions.
    pub live_bytes: u64,
    /// Distinct user keys.
    pub keys: u64,
    /// Of which live.
    pub live_keys: u64,
    /// Revisions (puts and tombstones).
    pub revisions: u64,
    /// True for the node that stands for the smaller siblings folded together.
    pub other: bool,
    /// What the Kubernetes lens read of the keys below, when it read any of them.
    pub kube: Option<KubeNode>,
    /// Children, largest first (ties by name); "other" last.
    pub children: Vec<KeyTreeNode>,
}

/// The Kubernetes figures of a node: the keys below it that the lens read.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct KubeNode {
    /// The resource as `k8s --by resource` names it, when all those keys share one.
    pub resource: Option<String>,
    /// The same as kubectl names it (`leases.coordination.k8s.io`).
    pub resource_name: Option<String>,
    /// The TypeMeta kind, when all those keys share one ("" = not decoded).
    pub kind: Option<String>,
    /// Their figures, as `k8s` counts them.
    pub stats: GroupStats,
}

/// A kind or resource index while nodes are summed: none yet, one, or several.
const UNSET: u32 = u32::MAX;
const SEVERAL: u32 = u32::MAX - 1;

fn join_id(a: u32, b: u32) -> u32 {
    match (a, b) {
        (UNSET, x) | (x, UNSET) => x,
        (x, y) if x == y => x,
        _ => SEVERAL,
    }
}

/// The lens figures of one trie node while the tree is built.
#[derive(Debug, Clone)]
struct KubeAcc {
    kind: u32,
    resource: u32,
    stats: GroupStats,
}

impl Default for KubeAcc {
    fn default() -> Self {
        KubeAcc {
            kind: UNSET,
            resource: UNSET,
            stats: GroupStats::default(),
        }
    }
}

impl KubeAcc {
    fn add(&mut self, o: &KubeAcc) {
        self.kind = join_id(self.kind, o.kind);
        self.resource = join_id(self.resource, o.resource);
        self.stats.merge(&o.stats);
    }

    /// Adds one key's lens.
    fn add_key(&mut self, l: &KeyLens) {
        self.kind = join_id(self.kind, l.kind);
        self.resource = join_id(self.resource, l.resource);
        self.stats.merge(&l.stats);
    }

    fn node(&self, l: &KeyLenses) -> Option<KubeNode> {
        if self.kind == UNSET {
            return None;
        }
        let name = |v: &[String], i: u32| v.get(i as usize).cloned();
        Some(KubeNode {
            resource: name(&l.resources, self.resource),
            resource_name: name(&l.resource_names, self.resource),
            kind: name(&l.kinds, self.kind),
            stats: self.stats.clone(),
        })
    }
}

impl KeyTreeNode {
    /// Nodes in this subtree, itself included.
    pub fn count(&self) -> usize {
        1 + self.children.iter().map(KeyTreeNode::count).sum::<usize>()
    }
}

/// The tree and what was folded away.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyTree {
    /// The root (the whole keyspace; empty name).
    pub root: KeyTreeNode,
    /// Prefix depth of level 1.
    pub depth: usize,
    /// Keys that are shown only inside an "other" node.
    pub folded_keys: u64,
    /// Nodes in the tree.
    pub nodes: usize,
}

fn label(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.chars().count() > MAX_NAME_CHARS {
        let mut t: String = s.chars().take(MAX_NAME_CHARS - 1).collect();
        t.push('…');
        t
    } else {
        s.into_owned()
    }
}

/// The next segment of `rest`: up to and including the first '/', or all of it.
fn segment(rest: &[u8]) -> &[u8] {
    match find_slash(rest) {
        Some(i) => &rest[..=i],
        None => rest,
    }
}

/// A mixed 64-bit hash of (parent, name), reading the name a word at a time (the last
/// word overlapping the one before rather than copied byte by byte).
#[inline]
fn edge_hash(parent: u32, seg: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    fn word(b: &[u8]) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        u64::from_le_bytes(a)
    }
    fn half(b: &[u8]) -> u64 {
        let mut a = [0u8; 4];
        a.copy_from_slice(&b[..4]);
        u64::from(u32::from_le_bytes(a))
    }
    let n = seg.len();
    let mut h = (u64::from(parent) | (n as u64) << 32).wrapping_mul(K);
    let mut mix = |w: u64| h = (h.rotate_left(23) ^ w).wrapping_mul(K);
    if n >= 8 {
        let mut at = 0;
        while at + 8 <= n {
            mix(word(&seg[at..]));
            at += 8;
        }
        if at < n {
            mix(word(&seg[n - 8..]));
        }
    } else if n >= 4 {
        mix(half(seg) | half(&seg[n - 4..]) << 32);
    } else {
        mix(seg.iter().fold(0u64, |w, &b| w << 8 | u64::from(b)));
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// A hasher for keys that are hashes already (of a parent and a name).
#[derive(Default)]
struct Premixed(u64);

impl Hasher for Premixed {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The figures of one node while the tree is built.
#[derive(Debug, Clone, Copy, Default)]
struct Fig {
    bytes: u64,
    live_bytes: u64,
    keys: u64,
    live_keys: u64,
    revisions: u64,
}

impl Fig {
    fn of(key_len: usize, a: &KeyAcc) -> Fig {
        let live = a.is_live();
        Fig {
            bytes: key_len as u64 * u64::from(a.revisions) + a.value_bytes,
            live_bytes: if live {
                key_len as u64 + a.newest_value_len
            } else {
                0
            },
            keys: 1,
            live_keys: u64::from(live),
            revisions: u64::from(a.revisions),
        }
    }

    fn add(&mut self, o: Fig) {
        self.bytes += o.bytes;
        self.live_bytes += o.live_bytes;
        self.keys += o.keys;
        self.live_keys += o.live_keys;
        self.revisions += o.revisions;
    }
}

/// Builds the tree of `ks` with level 1 at prefix depth `depth` (as [`super::prefix_at_depth`]).
///
/// One pass over the keys, read from the key table's own copy where it holds them whole
/// (the sums do not depend on the order), walks each key's segments down a trie whose
/// edges live in one hash map; then each node keeps its largest children and folds the
/// rest. A key whose own last node is smaller than any shown node can be is summed into
/// its parent's "other" straight away: no node is made for it, so the trie holds the
/// namespaces and the few large keys rather than one node per key.
pub fn key_tree(ks: &Keyspace<'_>, depth: usize, limits: TreeLimits) -> KeyTree {
    key_tree_with(ks, depth, limits, None)
}

/// [`key_tree`], with the Kubernetes figures of the keys `lenses` holds summed into every
/// node above them ([`KeyTreeNode::kube`]).
pub fn key_tree_with(
    ks: &Keyspace<'_>,
    depth: usize,
    limits: TreeLimits,
    lenses: Option<&KeyLenses>,
) -> KeyTree {
    // Keys read from the table's own copy where it holds them whole (a sweep of the table,
    // not a read of the mapping per key); a key's lens is found by its position in that
    // order, with no look-up. The sums do not depend on the order.
    let total = ks
        .keys
        .iter()
        .fold(0u64, |t, (k, a)| t + Fig::of(k.len(), a).bytes);
    let b = Bounds {
        min_bytes: total / limits.max_nodes_per_level.max(1),
        max_children: limits.max_children,
    };
    let mut t = Builder {
        lens: lenses.is_some_and(|l| !l.is_empty()),
        ..Builder::default()
    };
    t.push(b"", 0);
    'keys: for (i, (k, _, a)) in ks.keys.iter_local().enumerate() {
        let f = Fig::of(k.len(), a);
        let kl = lenses.and_then(|l| l.get(i));
        let p = prefix_at_depth(k, depth);
        let mut cur = t.step(0, p);
        let mut at = p.len();
        // Level 1 is the prefix; each further level one segment, the last one the rest.
        // The key's figures go to the last node it reaches (or that node's "other"); the
        // nodes above get them when the trie is summed.
        for level in 2..=MAX_LEVELS {
            let rest = &k[at..];
            let seg = if level == MAX_LEVELS {
                rest
            } else {
                segment(rest)
            };
            let last = level == MAX_LEVELS || seg.is_empty() || !seg.ends_with(b"/");
            if last && f.bytes < b.min_bytes {
                // The key's own node (no other key shares its last segment) is too small
                // to be shown: it would be folded into its parent's "other", so its
                // figures go there without a node being made.
                t.fold(cur, f, kl);
                continue 'keys;
            }
            cur = t.step(cur, seg);
            if last {
                break;
            }
            at += seg.len();
        }
        t.add(cur, f, kl);
    }
    t.sum_up();
    let Builder {
        arena,
        names,
        parents,
        figs,
        edges,
        collided,
        kube,
        folded,
        folded_kube,
        ..
    } = t;
    let names: Vec<&[u8]> = names
        .iter()
        .map(|&(s, l)| &arena[s..s + l as usize])
        .collect();
    let mut kids: Vec<Vec<u32>> = vec![Vec::new(); names.len()];
    let pairs = edges.values().map(|&c| (parents[c as usize], c));
    for (parent, c) in pairs.chain(collided.iter().map(|((p, _), &c)| (*p, c))) {
        kids[parent as usize].push(c);
    }
    let t = Trie {
        names: &names,
        figs: &figs,
        kids: &kids,
        kube: &kube,
        folded: &folded,
        folded_kube: &folded_kube,
        lenses,
    };
    let mut folded = 0u64;
    let mut root = node(&t, 0, 0);
    root.children = t.select(0, b, &mut folded, 1);
    let nodes = root.count();
    KeyTree {
        root,
        depth,
        folded_keys: folded,
        nodes,
    }
}

/// The trie while it is built. Segment names are copied into one arena, and edges are
/// looked up by (parent, hash of the name): comparing names in the arena stays in cache,
/// where comparing them in the mapping would read another key's bytes at a random place
/// of the file for every look-up.
#[derive(Default)]
struct Builder {
    arena: Vec<u8>,
    /// (start, length) in `arena`, per node. The start is a usize: the distinct segments
    /// of a large db can pass 4 GiB (a u32 start would wrap and its slice panic); a length
    /// is one key's, which bbolt's 32-bit key size bounds.
    names: Vec<(usize, u32)>,
    figs: Vec<Fig>,
    /// Per node: its parent (the root is its own).
    parents: Vec<u32>,
    /// Hash of (parent, name) -> child; the hash is mixed already, so the map does not
    /// hash it again.
    edges: std::collections::HashMap<u64, u32, BuildHasherDefault<Premixed>>,
    /// Children whose name hash equals a sibling's (practically never).
    collided: FastMap<(u32, Vec<u8>), u32>,
    /// Per node: the figures of the keys below it whose own last node is too small to be
    /// shown (folded into its "other" without a node of their own).
    folded: Vec<Fig>,
    /// Whether the Kubernetes figures are summed ([`Builder::kube`] and
    /// [`Builder::folded_kube`] then have one per node).
    lens: bool,
    kube: Vec<KubeAcc>,
    folded_kube: Vec<KubeAcc>,
}

impl Builder {
    fn name(&self, i: u32) -> &[u8] {
        let (s, l) = self.names[i as usize];
        &self.arena[s..s + l as usize]
    }

    fn push(&mut self, seg: &[u8], parent: u32) -> u32 {
        let i = self.names.len() as u32;
        self.parents.push(parent);
        let len = u32::try_from(seg.len()).unwrap_or(u32::MAX);
        self.names.push((self.arena.len(), len));
        self.arena.extend_from_slice(&seg[..len as usize]);
        self.figs.push(Fig::default());
        self.folded.push(Fig::default());
        if self.lens {
            self.kube.push(KubeAcc::default());
            self.folded_kube.push(KubeAcc::default());
        }
        i
    }

    /// Adds `f` (and the key's lens figures) to what `parent` folds into its "other"
    /// (and so to `parent` itself, when the trie is summed).
    fn fold(&mut self, parent: u32, f: Fig, lens: Option<&KeyLens>) {
        self.folded[parent as usize].add(f);
        if let Some(l) = lens {
            self.folded_kube[parent as usize].add_key(l);
        }
    }

    /// Adds a key's figures (and its lens figures) to node `i` alone.
    fn add(&mut self, i: u32, f: Fig, lens: Option<&KeyLens>) {
        self.figs[i as usize].add(f);
        if let Some(l) = lens {
            self.kube[i as usize].add_key(l);
        }
    }

    /// Adds what every node folds to its own figures, and every node's figures to its
    /// parent's, deepest first: a node is made after its parent, so going down the
    /// indexes visits children before parents.
    fn sum_up(&mut self) {
        for i in (0..self.figs.len()).rev() {
            let f = self.folded[i];
            self.figs[i].add(f);
            if self.lens {
                let k = self.folded_kube[i].clone();
                self.kube[i].add(&k);
            }
            if i == 0 {
                break;
            }
            let p = self.parents[i] as usize;
            let f = self.figs[i];
            self.figs[p].add(f);
            if self.lens {
                let k = self.kube[i].clone();
                self.kube[p].add(&k);
            }
        }
    }

    /// The child of `parent` named `seg`, made when new.
    fn step(&mut self, parent: u32, seg: &[u8]) -> u32 {
        let key = edge_hash(parent, seg);
        match self.edges.get(&key) {
            Some(&c) if self.parents[c as usize] == parent && self.name(c) == seg => c,
            Some(_) => match self.collided.get(&(parent, seg.to_vec())) {
                Some(&c) => c,
                None => {
                    let c = self.push(seg, parent);
                    self.collided.insert((parent, seg.to_vec()), c);
                    c
                }
            },
            None => {
                let c = self.push(seg, parent);
                self.edges.insert(key, c);
                c
            }
        }
    }
}

#[derive(Clone, Copy)]
struct Bounds {
    min_bytes: u64,
    max_children: usize,
}

struct Trie<'t, 'a> {
    names: &'t [&'a [u8]],
    figs: &'t [Fig],
    kids: &'t [Vec<u32>],
    /// Empty unless lenses are summed.
    kube: &'t [KubeAcc],
    folded: &'t [Fig],
    /// Empty unless lenses are summed.
    folded_kube: &'t [KubeAcc],
    lenses: Option<&'t KeyLenses>,
}

impl Trie<'_, '_> {
    fn kube_node(&self, a: Option<&KubeAcc>) -> Option<KubeNode> {
        a?.node(self.lenses?)
    }
}

fn node(t: &Trie<'_, '_>, i: u32, level: usize) -> KeyTreeNode {
    let f = t.figs[i as usize];
    let name = t.names[i as usize];
    KeyTreeNode {
        name: if name.is_empty() && level > 1 {
            "(the prefix itself)".into()
        } else {
            label(name)
        },
        bytes: f.bytes,
        live_bytes: f.live_bytes,
        keys: f.keys,
        live_keys: f.live_keys,
        revisions: f.revisions,
        other: false,
        kube: t.kube_node(t.kube.get(i as usize)),
        children: Vec::new(),
    }
}

impl Trie<'_, '_> {
    /// The children (at `level`) of node `i`: the largest on their own, the rest folded
    /// into "other"; recursion is bounded by [`MAX_LEVELS`].
    fn select(&self, i: u32, b: Bounds, folded: &mut u64, level: usize) -> Vec<KeyTreeNode> {
        let mut kids = self.kids[i as usize].clone();
        kids.sort_unstable_by(|&x, &y| {
            let (fx, fy) = (self.figs[x as usize], self.figs[y as usize]);
            fy.bytes
                .cmp(&fx.bytes)
                .then_with(|| self.names[x as usize].cmp(self.names[y as usize]))
        });
        let mut out = Vec::new();
        let mut other = self.folded[i as usize];
        let mut other_kube = self
            .folded_kube
            .get(i as usize)
            .cloned()
            .unwrap_or_default();
        for (n, &c) in kids.iter().enumerate() {
            let f = self.figs[c as usize];
            if n >= b.max_children || f.bytes < b.min_bytes {
                other.add(f);
                if let Some(k) = self.kube.get(c as usize) {
                    other_kube.add(k);
                }
                continue;
            }
            let mut kept = node(self, c, level);
            if level < MAX_LEVELS {
                kept.children = self.select(c, b, folded, level + 1);
            }
            out.push(kept);
        }
        if other.keys > 0 {
            *folded += other.keys;
            out.push(KeyTreeNode {
                name: "other".into(),
                bytes: other.bytes,
                live_bytes: other.live_bytes,
                keys: other.keys,
                live_keys: other.live_keys,
                revisions: other.revisions,
                other: true,
                kube: self.kube_node(Some(&other_kube)),
                children: Vec::new(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdb::{build, Entry};
    use bbolt_reader::Db;

    fn tree(entries: &[Entry<'_>], limits: TreeLimits) -> KeyTree {
        let bytes = build(entries, None);
        let db = Db::open(&bytes).unwrap();
        let b = db.bucket(b"key").unwrap().unwrap();
        let ks = crate::scan::scan_keyspace(&b, i64::MAX, &|_| {}).unwrap();
        key_tree(&ks, 3, limits)
    }

    /// The depth rule of [`crate::prefix_at_depth`] one byte at a time: the reference
    /// the word-at-a-time search is checked against.
    fn prefix_by_bytes(key: &[u8], depth: usize) -> &[u8] {
        if depth == 0 {
            return &key[..0];
        }
        let mut seen = 0;
        let mut last_end = 0;
        for (i, &b) in key.iter().enumerate() {
            if b == b'/' {
                seen += 1;
                last_end = i + 1;
                if seen == depth {
                    break;
                }
            }
        }
        &key[..last_end]
    }

    #[test]
    fn slashes_and_prefixes_found_eight_bytes_at_a_time_are_the_byte_loops() {
        // Every length up to 40 and every place of one or two slashes, among bytes that
        // differ from '/' by one bit ('.', '?', 0xaf) to catch a wrong borrow.
        for len in 0..40usize {
            for fill in [b'.', b'?', 0xaf, b'a'] {
                for i in 0..=len {
                    for j in i..=len {
                        let mut v = vec![fill; len];
                        if i < len {
                            v[i] = b'/';
                        }
                        if j < len {
                            v[j] = b'/';
                        }
                        assert_eq!(find_slash(&v), v.iter().position(|&b| b == b'/'), "{v:?}");
                        for depth in 0..4 {
                            assert_eq!(
                                prefix_at_depth(&v, depth),
                                prefix_by_bytes(&v, depth),
                                "{v:?} {depth}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn levels_follow_prefix_then_namespace_then_name_with_the_prefixes_figures() {
        let t = tree(
            &[
                (2, "/registry/pods/default/a", Some(b"aaaa"), 0),
                (3, "/registry/pods/default/a", Some(b"aaaaaa"), 0),
                (4, "/registry/pods/kube/b", Some(b"b"), 0),
                (5, "/registry/pods/kube/b", None, 0),
                (6, "compact_rev_key", Some(b"5"), 0),
            ],
            TreeLimits::default(),
        );
        let r = &t.root;
        assert_eq!(r.keys, 3);
        let pods = &r.children[0];
        assert_eq!(pods.name, "/registry/pods/");
        // key bytes over every revision + value bytes, as `prefixes` counts them.
        assert_eq!(pods.bytes, 24 * 2 + 10 + 21 * 2 + 1);
        assert_eq!(pods.live_bytes, 24 + 6);
        assert_eq!(pods.revisions, 4);
        let names: Vec<&str> = pods.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["default/", "kube/"]);
        assert_eq!(pods.children[0].children[0].name, "a");
        assert_eq!(pods.children[1].live_keys, 0);
        assert_eq!(r.children[1].name, "");
        assert_eq!(r.children[1].children[0].name, "compact_rev_key");
        assert_eq!(t.folded_keys, 0);
    }

    #[test]
    fn keys_too_small_to_be_shown_are_summed_into_other_without_nodes_of_their_own() {
        let names = crate::testdb::cycled_names("/registry/pods/ns/p", 2, 20, 20);
        let big = vec![b'x'; 5000];
        let mut entries = crate::testdb::one_revision_each(&names, b"v", |_| false);
        entries.push((30, "/registry/pods/ns/big", Some(&big[..]), 0));
        entries.push((31, "/registry/pods/lone", Some(&b"w"[..]), 0));
        entries.push((32, "/registry/pods/lone", None, 0));
        // Shown nodes hold at least a tenth of the total: about 500 bytes.
        let limits = TreeLimits {
            max_nodes_per_level: 10,
            max_children: 60,
        };
        let t = tree(&entries, limits);
        let pods = &t.root.children[0];
        assert_eq!(pods.name, "/registry/pods/");
        let names: Vec<&str> = pods.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["ns/", "other"]);
        // The lone key (a put and its tombstone) folded at level 2.
        let lone = &pods.children[1];
        assert!(lone.other);
        assert_eq!((lone.keys, lone.live_keys, lone.revisions), (1, 0, 2));
        assert_eq!(lone.bytes, 19 * 2 + 1);
        let ns = &pods.children[0];
        let names: Vec<&str> = ns.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["big", "other"]);
        let other = &ns.children[1];
        assert_eq!((other.keys, other.live_keys, other.revisions), (20, 20, 20));
        assert_eq!(other.bytes, 20 * (21 + 1));
        assert_eq!(other.live_bytes, other.bytes);
        assert_eq!(ns.bytes, ns.children.iter().map(|c| c.bytes).sum::<u64>());
        assert_eq!(t.folded_keys, 21);
        assert_eq!(t.root.keys, 22);
        // Root, prefix, ns/, big and the two "other" nodes.
        assert_eq!(t.nodes, 6);
    }

    #[test]
    fn small_siblings_fold_into_other_and_keep_the_sums() {
        let names = crate::testdb::cycled_names("/registry/events/ns/e", 2, 30, 30);
        let big = vec![b'x'; 3000];
        let mut entries = crate::testdb::one_revision_each(&names, b"v", |_| false);
        entries.push((40, "/registry/events/ns/huge", Some(&big[..]), 0));
        let limits = TreeLimits {
            max_nodes_per_level: 1000,
            max_children: 5,
        };
        let t = tree(&entries, limits);
        let ns = &t.root.children[0].children[0];
        assert_eq!(ns.name, "ns/");
        assert_eq!(ns.children.len(), 6, "5 largest and other");
        let other = ns.children.last().unwrap();
        assert!(other.other);
        assert_eq!(other.keys, 26);
        assert_eq!(t.folded_keys, 26);
        let sum: u64 = ns.children.iter().map(|c| c.bytes).sum();
        assert_eq!(sum, ns.bytes);
        assert_eq!(ns.children[0].name, "huge");
    }
}
