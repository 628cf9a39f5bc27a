//! Every way a launch can fail, each with its own exit code (documented in docs/confine.md) so that
//! scripts can tell "not installed" from "not allowed" from "the kernel cannot".

use nix::errno::Errno;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad command line.
    #[error("{0}")]
    Usage(String),
    /// The snap, the app, its profile, its base or its command is not there.
    #[error("{0}")]
    NotInstalled(String),
    /// A profile or a layout that does not hold together, or a snap file used in a forbidden way.
    #[error("{0}")]
    Invalid(String),
    /// Something we must not trust: a profile writable by others, `--root` with privileges, a
    /// directory owned by someone else where ours should be.
    #[error("{0}")]
    Untrusted(String),
    /// The kernel lacks a feature the sandbox needs.
    #[error("{what}: {errno} (the kernel does not allow it here)")]
    Unsupported { what: String, errno: Errno },
    /// A step of building the sandbox failed.
    #[error("{what}: {errno}")]
    Setup { what: String, errno: Errno },
    /// The command could not be executed.
    #[error("cannot run {path}: {errno}")]
    Exec { path: String, errno: Errno },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn setup(what: impl Into<String>, errno: Errno) -> Error {
        Error::Setup {
            what: what.into(),
            errno,
        }
    }

    /// The process exit status for this error (sysexits.h values; 126/127 as shells use them).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 64,
            Error::Invalid(_) => 65,
            Error::NotInstalled(_) => 66,
            Error::Unsupported { .. } => 69,
            Error::Setup { .. } => 70,
            Error::Untrusted(_) => 77,
            Error::Exec { errno, .. } if *errno == Errno::ENOENT => 127,
            Error::Exec { .. } => 126,
        }
    }
}

/// Attach a description to a failing syscall.
pub trait Context<T> {
    fn what(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, Errno> {
    fn what(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|errno| Error::setup(what(), errno))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct_per_kind() {
        let all = [
            Error::Usage(String::new()),
            Error::Invalid(String::new()),
            Error::NotInstalled(String::new()),
            Error::Unsupported {
                what: String::new(),
                errno: Errno::EPERM,
            },
            Error::setup("x", Errno::EIO),
            Error::Untrusted(String::new()),
            Error::Exec {
                path: String::new(),
                errno: Errno::ENOENT,
            },
            Error::Exec {
                path: String::new(),
                errno: Errno::EACCES,
            },
        ];
        let codes: std::collections::BTreeSet<i32> = all.iter().map(Error::exit_code).collect();
        assert_eq!(codes.len(), all.len());
        assert!(Error::setup("mount tmpfs on /dev", Errno::EPERM)
            .to_string()
            .contains("/dev"));
    }
}
