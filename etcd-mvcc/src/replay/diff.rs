//! How two keyspaces differ, key by key: the model of `etcd-autopsy diff`.
//!
//! Keys are compared by their live value: only in A, only in B, different value, or the
//! same value with another create/mod revision, version or lease.

use super::state::{LiveKv, State};
use serde::Serialize;
use std::cmp::Ordering;

/// How one key differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Live only in A.
    OnlyA,
    /// Live only in B.
    OnlyB,
    /// Live in both with different values.
    DifferentValue,
    /// Same value, other create/mod revision, version or lease.
    DifferentMetadata,
}

/// Counts of one prefix (or of everything).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Live only in A.
    pub only_a: u64,
    /// Live only in B.
    pub only_b: u64,
    /// Different values.
    pub different_value: u64,
    /// Same value, other bookkeeping.
    pub different_metadata: u64,
}

impl Counts {
    /// Counts one differing key.
    pub fn add(&mut self, s: Status) {
        match s {
            Status::OnlyA => self.only_a += 1,
            Status::OnlyB => self.only_b += 1,
            Status::DifferentValue => self.different_value += 1,
            Status::DifferentMetadata => self.different_metadata += 1,
        }
    }

    /// Sum of all.
    pub fn total(&self) -> u64 {
        self.only_a + self.only_b + self.different_value + self.different_metadata
    }
}

/// Walks two keyspaces in key order and calls `f` for each differing key.
pub fn diff_states<'s>(a: &'s State<'_>, b: &'s State<'_>, mut f: impl FnMut(&'s [u8], Status)) {
    let mut ia = a.keys.iter().peekable();
    let mut ib = b.keys.iter().peekable();
    loop {
        let ord = match (ia.peek(), ib.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((ka, _)), Some((kb, _))) => ka.as_ref().cmp(kb.as_ref()),
        };
        match ord {
            Ordering::Less => {
                if let Some((k, _)) = ia.next() {
                    f(k, Status::OnlyA);
                }
            }
            Ordering::Greater => {
                if let Some((k, _)) = ib.next() {
                    f(k, Status::OnlyB);
                }
            }
            Ordering::Equal => {
                if let (Some((k, va)), Some((_, vb))) = (ia.next(), ib.next()) {
                    if let Some(s) = compare(va, vb) {
                        f(k, s);
                    }
                }
            }
        }
    }
}

fn compare(a: &LiveKv<'_>, b: &LiveKv<'_>) -> Option<Status> {
    if a.value != b.value {
        Some(Status::DifferentValue)
    } else if (a.create_revision, a.mod_revision, a.version, a.lease)
        != (b.create_revision, b.mod_revision, b.version, b.lease)
    {
        Some(Status::DifferentMetadata)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn state(kvs: &[(&str, &str, i64)]) -> State<'static> {
        let mut s = State::default();
        for (k, v, m) in kvs {
            s.keys.insert(
                Cow::Owned(k.as_bytes().to_vec()),
                LiveKv {
                    value: Cow::Owned(v.as_bytes().to_vec()),
                    create_revision: 1,
                    mod_revision: *m,
                    version: 1,
                    lease: 0,
                },
            );
        }
        s
    }

    #[test]
    fn each_kind_of_difference_is_found_once() {
        let a = state(&[("a", "1", 1), ("b", "1", 1), ("c", "1", 1), ("d", "1", 1)]);
        let b = state(&[("b", "2", 1), ("c", "1", 5), ("d", "1", 1), ("e", "1", 1)]);
        let mut got = Vec::new();
        diff_states(&a, &b, |k, s| got.push((k.to_vec(), s)));
        assert_eq!(
            got,
            vec![
                (b"a".to_vec(), Status::OnlyA),
                (b"b".to_vec(), Status::DifferentValue),
                (b"c".to_vec(), Status::DifferentMetadata),
                (b"e".to_vec(), Status::OnlyB),
            ]
        );
    }
}
