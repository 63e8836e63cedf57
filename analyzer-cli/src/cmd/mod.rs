//! One module per command (or group of related commands).
pub mod bbolt;
pub mod diff;
pub mod dumpdb;
pub mod export;
pub mod hash;
pub mod member_check;
pub mod members;
pub mod prefixes;
pub mod report;
pub mod salvage;
pub mod space;
pub mod status;
pub mod wal;

use crate::error::{CliError, Result};
use crate::input::{self, DbImage, Member};
use std::path::Path;

/// Prints on stderr the warning that a running etcd appears to hold `member`'s files,
/// and returns it.
pub(crate) fn warn_if_running(member: &Member) -> Option<String> {
    let warning = input::running_member_warning(member);
    if let Some(w) = &warning {
        eprintln!("etcd-autopsy: {w}");
    }
    warning
}

/// Maps the image read-only, warning on stderr when a running etcd holds it.
pub fn open_image(path: &Path) -> Result<DbImage> {
    if let Ok(member) = input::resolve(path) {
        warn_if_running(&member);
    }
    DbImage::open(path)
}

/// A bbolt reader error naming the file.
pub(crate) fn bolt_err(image: &DbImage, e: bbolt_reader::Error) -> CliError {
    CliError::input(image.path.clone(), e.to_string())
}
