//! etcd-autopsy: offline diagnosis of a stopped etcd member.
//!
//! The binary `etcd-autopsy` is a thin shell over this crate: each command module under
//! [`cmd`] takes its clap arguments, calls the etcd model ([`etcd_mvcc`]) and the reader
//! crates (`bbolt-reader`, `wal-reader`), prints human text or JSON, and maps the outcome
//! to an exit status.

pub mod args;
pub mod cmd;
pub mod error;
pub mod fuzz;
pub mod help;
pub mod html;
pub mod output;
pub mod progress;
pub mod redact;

pub use error::{CliError, Result};
