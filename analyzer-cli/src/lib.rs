//! etcd-autopsy: offline diagnosis of a stopped etcd member.
//!
//! The binary `etcd-autopsy` is a thin shell over this library: each command module
//! under [`cmd`] parses nothing itself beyond its clap arguments, calls the reader
//! crates (`bbolt-reader`, `wal-reader`) and the etcd model in this crate, and prints
//! either human text or JSON.

pub mod cmd;
pub mod error;
pub mod input;
pub mod mvcc;
pub mod output;
pub mod progress;
pub mod redact;
pub mod replay;
pub mod salvage;

pub use error::{CliError, Result};
