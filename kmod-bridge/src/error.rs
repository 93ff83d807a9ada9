//! Errors of reading a source. Messages say what failed, where, and what to
//! do about it.

use std::path::PathBuf;

/// Why a snapshot could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A file or directory could not be read.
    #[error("reading {path} failed: {error}")]
    Io {
        /// What was read.
        path: PathBuf,
        /// The error (not a `#[source]`: it is already in the message, and
        /// error chains would print it twice).
        error: std::io::Error,
    },
    /// No permission to read something the snapshot cannot do without.
    #[error("reading {path} needs root (permission denied): run patchscope as root or with sudo")]
    PermissionDenied {
        /// What was read.
        path: PathBuf,
    },
    /// A value or line did not have the expected format.
    #[error("{location}: {message}")]
    Parse {
        /// Where: a file, a sysctl node, or `FILE:LINE`.
        location: String,
        /// What was wrong.
        message: String,
    },
    /// The kernel module publishes an interface version this build does not
    /// understand.
    #[error(
        "kern.livepatch.abi_version is {found}, this patchscope understands major version {supported}: upgrade patchscope (or read a dump with a matching version)"
    )]
    UnsupportedAbi {
        /// Version found.
        found: String,
        /// Major version understood.
        supported: u32,
    },
    /// A required sysctl node is missing or unreadable.
    #[error("sysctl {node}: {message}")]
    Mib {
        /// The node.
        node: String,
        /// What was wrong.
        message: String,
    },
    /// No live-patch interface found (source `auto`, or a root without klp).
    #[error(
        "no live-patch interface found: {looked_for}. To try patchscope without one, run `patchscope demo`"
    )]
    NotFound {
        /// What was looked for, where.
        looked_for: String,
    },
    /// The source is not available on this operating system.
    #[error("the {source_kind} source is not available on this system: {why}")]
    Unavailable {
        /// The source.
        source_kind: &'static str,
        /// Why.
        why: String,
    },
}

impl SourceError {
    /// Wrap an I/O error on `path`, turning permission errors into the
    /// "needs root" message.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::PermissionDenied {
            SourceError::PermissionDenied { path }
        } else {
            SourceError::Io {
                path,
                error: source,
            }
        }
    }

    /// A parse error at `location`.
    pub fn parse(location: impl Into<String>, message: impl Into<String>) -> Self {
        SourceError::Parse {
            location: location.into(),
            message: message.into(),
        }
    }
}
