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

use super::scan::{KeyAcc, Keyspace};
use std::collections::HashMap;

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
    /// Children, largest first (ties by name); "other" last.
    pub children: Vec<KeyTreeNode>,
}

impl KeyTreeNode {
    fn add(&mut self, key_len: usize, a: &KeyAcc) {
        self.keys += 1;
        self.revisions += u64::from(a.revisions);
        self.bytes += key_len as u64 * u64::from(a.revisions) + a.value_bytes;
        if a.is_live() {
            self.live_keys += 1;
            self.live_bytes += key_len as u64 + a.newest_value_len;
        }
    }

    fn absorb(&mut self, o: &KeyTreeNode) {
        self.keys += o.keys;
        self.live_keys += o.live_keys;
        self.revisions += o.revisions;
        self.bytes += o.bytes;
        self.live_bytes += o.live_bytes;
    }

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
    match rest.iter().position(|&b| b == b'/') {
        Some(i) => &rest[..=i],
        None => rest,
    }
}

struct Item<'a> {
    key: &'a [u8],
    /// Bytes of `key` already consumed by the levels above.
    at: usize,
    acc: &'a KeyAcc,
}

/// Builds the tree of `ks` with level 1 at prefix depth `depth` (as [`super::prefix_at_depth`]).
pub fn key_tree(ks: &Keyspace<'_>, depth: usize, limits: TreeLimits) -> KeyTree {
    let mut groups: HashMap<&[u8], Vec<Item<'_>>> = HashMap::new();
    let mut root = KeyTreeNode::default();
    for (&k, a) in &ks.keys {
        let p = super::prefix_at_depth(k, depth);
        root.add(k.len(), a);
        groups.entry(p).or_default().push(Item {
            key: k,
            at: p.len(),
            acc: a,
        });
    }
    let min_bytes = root.bytes / limits.max_nodes_per_level.max(1);
    let mut folded = 0u64;
    let mut level1: Vec<(KeyTreeNode, Vec<Item<'_>>)> = groups
        .into_iter()
        .map(|(p, items)| {
            let mut n = KeyTreeNode {
                name: label(p),
                ..KeyTreeNode::default()
            };
            for it in &items {
                n.add(it.key.len(), it.acc);
            }
            (n, items)
        })
        .collect();
    let b = Bounds {
        min_bytes,
        max_children: limits.max_children,
    };
    root.children = select(&mut level1, b, &mut folded, 1);
    let nodes = root.count();
    KeyTree {
        root,
        depth,
        folded_keys: folded,
        nodes,
    }
}

#[derive(Clone, Copy)]
struct Bounds {
    min_bytes: u64,
    max_children: usize,
}

/// Orders the nodes of one level below a parent (each with the keys under it), folds the
/// small ones into "other", and builds the kept ones' subtrees.
fn select(
    groups: &mut Vec<(KeyTreeNode, Vec<Item<'_>>)>,
    b: Bounds,
    folded: &mut u64,
    level: usize,
) -> Vec<KeyTreeNode> {
    groups.sort_by(|x, y| y.0.bytes.cmp(&x.0.bytes).then(x.0.name.cmp(&y.0.name)));
    let mut out = Vec::new();
    let mut other = KeyTreeNode {
        name: "other".into(),
        other: true,
        ..KeyTreeNode::default()
    };
    for (i, (mut node, mut sub)) in groups.drain(..).enumerate() {
        if i >= b.max_children || node.bytes < b.min_bytes {
            other.absorb(&node);
            continue;
        }
        if !sub.is_empty() && level < MAX_LEVELS {
            node.children = split(&mut sub, b, folded, level + 1);
        }
        out.push(node);
    }
    if other.keys > 0 {
        *folded += other.keys;
        out.push(other);
    }
    out
}

/// The children (at `level`) of a node whose keys are `items`: one per next segment.
fn split(items: &mut [Item<'_>], b: Bounds, folded: &mut u64, level: usize) -> Vec<KeyTreeNode> {
    // Keys sharing a segment that ends in '/' share a prefix, so they are contiguous
    // once sorted by the rest of the key.
    items.sort_unstable_by(|x, y| x.key[x.at..].cmp(&y.key[y.at..]));
    let last_level = level == MAX_LEVELS;
    let mut groups: Vec<(KeyTreeNode, Vec<Item<'_>>)> = Vec::new();
    let mut i = 0;
    while i < items.len() {
        let rest = &items[i].key[items[i].at..];
        // On the last level the rest of the key is the name.
        let seg = if last_level { rest } else { segment(rest) };
        let dir = !last_level && seg.ends_with(b"/");
        let mut node = KeyTreeNode {
            name: if seg.is_empty() {
                "(the prefix itself)".into()
            } else {
                label(seg)
            },
            ..KeyTreeNode::default()
        };
        let mut sub = Vec::new();
        if dir {
            while let Some(it) = items.get(i) {
                if !it.key[it.at..].starts_with(seg) {
                    break;
                }
                node.add(it.key.len(), it.acc);
                sub.push(Item {
                    key: it.key,
                    at: it.at + seg.len(),
                    acc: it.acc,
                });
                i += 1;
            }
        } else {
            // One key: user keys are distinct, so no other item has this rest.
            node.add(items[i].key.len(), items[i].acc);
            i += 1;
        }
        groups.push((node, sub));
    }
    select(&mut groups, b, folded, level)
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
    fn small_siblings_fold_into_other_and_keep_the_sums() {
        let names: Vec<String> = (0..30)
            .map(|i| format!("/registry/events/ns/e{i:02}"))
            .collect();
        let big = vec![b'x'; 3000];
        let mut entries: Vec<Entry<'_>> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (i as i64 + 2, n.as_str(), Some(&b"v"[..]), 0))
            .collect();
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
