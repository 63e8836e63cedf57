//! Errors that stop an operation of the etcd model before it can report.
//!
//! Damage found while reading is not an error: it is a finding, and reading goes on. An
//! [`Error`] means the input could not be opened or is not something this crate reads.

use std::path::PathBuf;

/// Anything that stops opening or reading a member before it can report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input path could not be opened or mapped.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The input exists but is not something this crate can read.
    #[error("{path}: {message}")]
    Input {
        /// The file or directory involved.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

impl Error {
    /// Builds an [`Error::Input`].
    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Input {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Result type of this crate's fallible operations.
pub type Result<T> = std::result::Result<T, Error>;

impl From<wal_reader::Error> for Error {
    fn from(e: wal_reader::Error) -> Self {
        match e {
            wal_reader::Error::Io { path, source } => Error::Io { path, source },
        }
    }
}
