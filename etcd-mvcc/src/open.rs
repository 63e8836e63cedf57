//! One opened member, for tools that embed this crate: HashKV, per-prefix figures and the
//! keyspace at a revision in a line each.
//!
//! ```
//! # fn main() -> Result<(), etcd_mvcc::Error> {
//! let member = etcd_mvcc::Member::open("../fixtures/k8s/data")?;
//! let hash = member.hash_kv(None)?; // as `etcdctl endpoint hashkv`
//! let state = member.keyspace_at(None).with_wal_replayed().load()?;
//! assert_eq!(hash.revision, state.revision);
//! # Ok(())
//! # }
//! ```

use crate::error::{Error, Result};
use crate::hash::{hash_kv, HashKv};
use crate::info::{read_info, EtcdInfo};
use crate::member::{self, DbImage};
use crate::replay::{load_at, replay_member, State};
use crate::scan::{group_by_prefix, scan_keyspace, PrefixStats};
use bbolt_reader::Db;
use std::path::Path;

/// A member's files, opened read-only: its db mapped, its WAL found.
/// ([`member::Member`] is the list of its files; this is the opened member.)
#[derive(Debug)]
pub struct Member {
    /// The files: db, `member/wal`, `member/snap`.
    pub files: member::Member,
    image: DbImage,
}

impl Member {
    /// Opens a data dir, a `member/` dir, a db file or an `etcdctl snapshot save` file.
    pub fn open(path: impl AsRef<Path>) -> Result<Member> {
        let path = path.as_ref();
        let files = member::resolve(path)?;
        let image = DbImage::open(path)?;
        Ok(Member { files, image })
    }

    /// The bbolt view of the db.
    pub fn db(&self) -> Result<Db<'_>> {
        Db::open(self.image.bytes()).map_err(|e| Error::input(&self.image.path, e.to_string()))
    }

    /// What the db's etcd buckets say: meta, members, alarms, leases.
    pub fn info(&self) -> Result<EtcdInfo> {
        Ok(read_info(&self.db()?))
    }

    /// etcd's HashKV at `rev` (`None`: the newest revision), with the db's compact
    /// revision: equal to `etcdctl endpoint hashkv --rev` on the running member.
    pub fn hash_kv(&self, rev: Option<i64>) -> Result<HashKv> {
        let db = self.db()?;
        let compact = read_info(&db).meta.effective_compact_rev();
        let err = |e: bbolt_reader::Error| Error::input(&self.image.path, e.to_string());
        let newest = crate::scan::newest_revision(&db).map_err(err)?.max(compact);
        let rev = match rev {
            None | Some(0) => newest,
            Some(r) if r <= compact || r > newest => {
                return Err(Error::input(
                    &self.image.path,
                    format!("revision {r} is outside {}..={newest}", compact + 1),
                ))
            }
            Some(r) => r,
        };
        let bucket = db.bucket(crate::KEY_BUCKET).map_err(err)?;
        hash_kv(bucket.as_ref(), rev, compact, &|_| {}).map_err(err)
    }

    /// Keys, revisions and bytes per key prefix up to its `depth`-th '/'
    /// ([`crate::prefix_at_depth`]), the prefixes with the most value bytes first.
    pub fn prefixes(&self, depth: usize) -> Result<Vec<(Vec<u8>, PrefixStats)>> {
        let db = self.db()?;
        let err = |e: bbolt_reader::Error| Error::input(&self.image.path, e.to_string());
        let Some(bucket) = db.bucket(crate::KEY_BUCKET).map_err(err)? else {
            return Ok(Vec::new());
        };
        let ks = scan_keyspace(&bucket, i64::MAX, &|_| {}).map_err(err)?;
        let (_, groups) = group_by_prefix(&ks, depth, b"");
        Ok(groups.into_iter().map(|(p, s)| (p.to_vec(), s)).collect())
    }

    /// The keyspace at `rev` (`None`: the newest), to be loaded with
    /// [`KeyspaceAt::load`], optionally with the WAL replayed first.
    pub fn keyspace_at(&self, rev: Option<i64>) -> KeyspaceAt<'_> {
        KeyspaceAt {
            member: self,
            rev,
            replay: false,
        }
    }
}

/// A keyspace to load from a [`Member`]: at a revision, or the newest with the WAL's
/// committed tail applied as etcd does on start.
#[derive(Debug, Clone, Copy)]
pub struct KeyspaceAt<'m> {
    member: &'m Member,
    rev: Option<i64>,
    replay: bool,
}

impl<'m> KeyspaceAt<'m> {
    /// Applies the committed WAL entries the db has not applied yet
    /// ([`crate::replay::replay_member`]); needs a data dir or member dir, and the newest
    /// revision (entries apply on top of the db as it is).
    pub fn with_wal_replayed(self) -> Self {
        KeyspaceAt {
            replay: true,
            ..self
        }
    }

    /// Reads the live keys (and leases, alarms) into a [`State`].
    pub fn load(self) -> Result<State<'m>> {
        let m = self.member;
        let path = &m.image.path;
        if self.replay && self.rev.is_some_and(|r| r != 0) {
            return Err(Error::input(
                path,
                "the WAL replays on top of the newest revision only",
            ));
        }
        let db = m.db()?;
        let info = read_info(&db);
        let mut loaded =
            load_at(&db, &info.meta, self.rev).map_err(|e| Error::input(path, e.to_string()))?;
        if self.replay {
            replay_member(&m.files, &info, &mut loaded.state)?;
        }
        Ok(loaded.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures")
            .join(name)
    }

    #[test]
    fn replaying_the_wal_of_a_killed_member_adds_its_unapplied_entries() {
        let m = Member::open(fixture("killed/data")).unwrap();
        let db_only = m.keyspace_at(None).load().unwrap();
        let replayed = m.keyspace_at(None).with_wal_replayed().load().unwrap();
        assert!(replayed.revision > db_only.revision);
        assert!(m.keyspace_at(Some(5)).with_wal_replayed().load().is_err());
    }

    #[test]
    fn prefixes_count_every_live_key_once() {
        let m = Member::open(fixture("k8s/data")).unwrap();
        let live: u64 = m
            .prefixes(3)
            .unwrap()
            .iter()
            .map(|(_, s)| s.live_keys)
            .sum();
        let state = m.keyspace_at(None).load().unwrap();
        assert_eq!(live, state.keys.len() as u64);
    }
}
