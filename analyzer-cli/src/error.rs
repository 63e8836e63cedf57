//! Errors of the CLI layer and their exit codes.

use std::path::PathBuf;

/// Exit status: the command ran and found nothing wrong.
pub const EXIT_OK: u8 = 0;
/// Exit status: the command ran and found damage (findings were reported).
pub const EXIT_DAMAGE: u8 = 1;
/// Exit status: the input could not be read at all.
pub const EXIT_UNREADABLE: u8 = 2;
/// Exit status: the command line was wrong (unknown flag, bad value); nothing was read.
/// 64 is `EX_USAGE` of sysexits(3), kept apart from 2 so a script can tell a typo from an
/// unreadable member.
pub const EXIT_USAGE: u8 = 64;

/// Anything that stops a command before it can report.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// An input path could not be opened or mapped.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The input exists but is not something this command can read.
    #[error("{path}: {message}")]
    Input {
        /// The file or directory involved.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Writing the output failed (a closed pipe is handled separately and is not an error).
    #[error("writing output: {0}")]
    Output(std::io::Error),
    /// Any other error with a message that already names the file and offset.
    #[error("{0}")]
    Other(String),
}

impl CliError {
    /// Builds an [`CliError::Input`].
    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        CliError::Input {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Output(e)
    }
}

impl From<wal_reader::Error> for CliError {
    fn from(e: wal_reader::Error) -> Self {
        match e {
            wal_reader::Error::Io { path, source } => CliError::Io { path, source },
        }
    }
}

impl From<etcd_mvcc::Error> for CliError {
    fn from(e: etcd_mvcc::Error) -> Self {
        match e {
            etcd_mvcc::Error::Io { path, source } => CliError::Io { path, source },
            etcd_mvcc::Error::Input { path, message } => CliError::Input { path, message },
        }
    }
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        if e.io_error_kind().is_some() {
            CliError::Output(std::io::Error::from(e))
        } else {
            CliError::Other(format!("encoding JSON: {e}"))
        }
    }
}

/// Result type of the CLI layer.
pub type Result<T> = std::result::Result<T, CliError>;
