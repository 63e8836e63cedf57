//! The keyspace as state: read from a db at a revision ([`load`]), changed by replaying
//! requests the way etcd's applier does ([`apply`], [`wal`]). Used by `export`, `diff`,
//! `members` and the whole-member `check`.

pub mod apply;
pub mod diff;
pub mod load;
pub mod state;
pub mod wal;

pub use load::{
    db_revisions, load_at, load_raw_at, DbRevisions, LoadError, Loaded, LoadedRaw, RawLive,
    VALUES_AHEAD,
};
pub use state::{Bytes, Change, KeyRange, LiveKv, State};
pub use wal::{replay, replay_member, ReplayBound, ReplayReport, Replayed};
