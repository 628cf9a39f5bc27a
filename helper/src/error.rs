//! The helper's error: a kind from the D-Bus contract and a message for people. The service layer
//! turns it into the D-Bus error of that kind, in one place.

pub use snapshelf_dbus::ErrorKind;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Error::new(ErrorKind::Internal, message.to_string())
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }
}

impl From<crate::state::StateError> for Error {
    fn from(e: crate::state::StateError) -> Self {
        Error::internal(e)
    }
}

impl From<crate::mount::MountError> for Error {
    fn from(e: crate::mount::MountError) -> Self {
        match e {
            crate::mount::MountError::Extract { .. } | crate::mount::MountError::Refused { .. } => {
                Error::new(ErrorKind::InvalidSnap, e.to_string())
            }
            _ => Error::internal(e),
        }
    }
}

impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError as S;
        let kind = match &e {
            S::Network { .. } => ErrorKind::NetworkError,
            S::NotFound(_) => ErrorKind::NotFound,
            S::Cancelled => ErrorKind::Cancelled,
            S::Io { source, .. } if source.raw_os_error() == Some(libc::ENOSPC) => {
                ErrorKind::InsufficientSpace
            }
            S::Io { .. } => ErrorKind::Internal,
            S::NoSpace { .. } => ErrorKind::InsufficientSpace,
            S::Store { code, .. } if code == "name-not-found" || code == "id-not-found" => {
                ErrorKind::NotFound
            }
            S::Store { code, .. } if code == "revision-not-found" => ErrorKind::ChannelNotAvailable,
            S::Store { .. } | S::Http { .. } | S::Malformed { .. } | S::Refused { .. } => {
                ErrorKind::StoreError
            }
        };
        let message = match &e {
            // The one store error people meet most: in their language.
            S::NotFound(name) => crate::lang::gettext("snap \"{snap}\" not found in the store")
                .replace("{snap}", name),
            _ => e.to_string(),
        };
        Error::new(kind, message)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        if e.raw_os_error() == Some(libc::ENOSPC) {
            Error::new(ErrorKind::InsufficientSpace, e.to_string())
        } else {
            Error::internal(e)
        }
    }
}
