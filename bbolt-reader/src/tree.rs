//! The damage-tolerant descent of one bucket's B+tree: every leaf page in key order,
//! going on past damage. Users differ only in their [`TreeVisitor`]: listing leaves for a
//! parallel scan, counting, salvaging.
//!
//! What is tolerated, each reported to the visitor as a [`TreeDamage`] and skipped: a
//! branch element outside its page, a child outside the file or of the wrong page type,
//! a child already entered (a cycle or a subtree shared by two parents), a tree deeper
//! than [`MAX_DEPTH`]. Every page is entered at most once (one bit per page of the file,
//! sized by the file, never by a number read from it), so the walk ends on any bytes.

use crate::bucket::{Bucket, MAX_DEPTH};
use crate::error::Error;
use crate::finding::FindingKind;
use crate::page::Page;
use crate::Pgid;

/// Damage met on the way down; the walk skipped the element and went on.
#[derive(Debug)]
pub enum TreeDamage {
    /// The bucket's root page cannot be read: nothing was walked.
    Root {
        /// The root page id (0 for an inline bucket).
        pgid: Pgid,
        /// Why.
        error: Error,
    },
    /// Branch element `index` of page `parent` cannot be read.
    Element {
        /// The branch page.
        parent: Pgid,
        /// The element.
        index: usize,
        /// Why.
        error: Error,
    },
    /// The child was entered before: a cycle or a shared subtree.
    AlreadyEntered {
        /// The branch page.
        parent: Pgid,
        /// The element.
        index: usize,
        /// The child page.
        child: Pgid,
    },
    /// The child branch would be deeper than [`MAX_DEPTH`].
    TooDeep {
        /// The branch page.
        parent: Pgid,
        /// The element.
        index: usize,
        /// The child page.
        child: Pgid,
    },
    /// The child cannot be read as a branch or leaf page.
    Child {
        /// The branch page.
        parent: Pgid,
        /// The element.
        index: usize,
        /// The child page.
        child: Pgid,
        /// Why.
        error: Error,
    },
}

impl TreeDamage {
    /// The finding kind this damage is.
    pub fn kind(&self) -> FindingKind {
        match self {
            TreeDamage::Root { error, .. } | TreeDamage::Child { error, .. } => match error {
                Error::WrongPageType { .. } => FindingKind::WrongPageType,
                _ => FindingKind::PageOutOfBounds,
            },
            TreeDamage::Element { .. } => FindingKind::ElementOutOfPage,
            TreeDamage::AlreadyEntered { .. } => FindingKind::PageReferencedTwice,
            TreeDamage::TooDeep { .. } => FindingKind::TooDeep,
        }
    }
}

/// Whether the walk goes on after a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// Stop the walk here.
    Stop,
}

/// What a walk does with what it finds.
pub trait TreeVisitor<'a> {
    /// A leaf page, reached from element `index` of branch page `parent` (for a root
    /// that is a leaf: `parent` is its own id and `index` 0).
    fn leaf(&mut self, page: Page<'a>, parent: Pgid, index: usize) -> Flow;
    /// Damage that was skipped.
    fn damage(&mut self, damage: TreeDamage);
}

/// Walks `bucket`'s tree depth first in key order, handing every readable leaf page to
/// `visitor` and every damage met on the way down.
pub fn walk_tree<'a>(bucket: &Bucket<'a>, visitor: &mut dyn TreeVisitor<'a>) {
    let root = match bucket.root_page() {
        Ok(p) => p,
        Err(error) => {
            visitor.damage(TreeDamage::Root {
                pgid: bucket.root_pgid().unwrap_or(0),
                error,
            });
            return;
        }
    };
    if root.is_leaf() {
        let pgid = root.pgid();
        visitor.leaf(root, pgid, 0);
        return;
    }
    let db = bucket.db();
    let mut seen = vec![0u64; (db.page_count() as usize).div_ceil(64)];
    let mut mark = |pgid: Pgid| -> bool {
        let (w, b) = ((pgid / 64) as usize, pgid % 64);
        match seen.get_mut(w) {
            Some(word) if *word & (1 << b) == 0 => {
                *word |= 1 << b;
                true
            }
            Some(_) => false,
            // Past the file: `tree_page` reports it.
            None => true,
        }
    };
    mark(root.pgid());
    let mut stack: Vec<(Page<'a>, usize)> = vec![(root, 0)];
    while let Some((page, idx)) = stack.last_mut() {
        if *idx >= page.count() {
            stack.pop();
            continue;
        }
        let (parent, index) = (page.pgid(), *idx);
        *idx += 1;
        let el = match page.branch_element(index) {
            Ok(el) => el,
            Err(error) => {
                visitor.damage(TreeDamage::Element {
                    parent,
                    index,
                    error,
                });
                continue;
            }
        };
        let child = el.pgid;
        if !mark(child) {
            visitor.damage(TreeDamage::AlreadyEntered {
                parent,
                index,
                child,
            });
            continue;
        }
        match bucket.tree_page(child) {
            Ok(page) if page.is_leaf() => {
                if visitor.leaf(page, parent, index) == Flow::Stop {
                    return;
                }
            }
            Ok(page) => {
                if stack.len() >= MAX_DEPTH {
                    visitor.damage(TreeDamage::TooDeep {
                        parent,
                        index,
                        child,
                    });
                } else {
                    stack.push((page, 0));
                }
            }
            Err(error) => visitor.damage(TreeDamage::Child {
                parent,
                index,
                child,
                error,
            }),
        }
    }
}
