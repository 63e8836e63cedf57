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
    /// An input path could not be opened or mapped. Permission denied says how to get
    /// read access: it is "cannot read", never damage.
    #[error("{path}: {source}{}", io_hint(.source))]
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

/// What to do about an input that cannot be read, when there is something to say.
fn io_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            ": cannot read it as this user; run as the etcd user (the owner of the data dir) or with sudo"
        }
        _ => "",
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_denied_is_cannot_read_with_a_hint_not_damage() {
        let e = CliError::from(wal_reader::Error::Io {
            path: "/var/lib/etcd/member/wal".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        });
        let text = e.to_string();
        assert!(text.starts_with("/var/lib/etcd/member/wal: "), "{text}");
        assert!(text.contains("cannot read it as this user"), "{text}");
        assert!(
            text.contains("run as the etcd user") && text.contains("sudo"),
            "{text}"
        );
        assert!(!text.contains("damage"), "{text}");
        let other = CliError::Io {
            path: "x".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert!(!other.to_string().contains("sudo"));
    }
}
