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
        Error::new(kind, store_words(&e))
    }
}

/// A store error in the caller's language; the store's own words, URLs and paths stay as they
/// are (`StoreError`'s English `Display` is what the logs say).
fn store_words(e: &crate::store::StoreError) -> String {
    use crate::lang::gettext;
    use crate::store::StoreError as S;
    match e {
        S::NotFound(name) => {
            gettext("snap \"{snap}\" not found in the store").replace("{snap}", name)
        }
        // Translators: {why} is the network library's message, in English.
        S::Network { url, message } => gettext("cannot reach the store at {url}: {why}")
            .replace("{url}", url)
            .replace("{why}", message),
        // Translators: {why} and {code} are the store's own words, in English.
        S::Store { code, message } => gettext("the store said: {why} ({code})")
            .replace("{why}", message)
            .replace("{code}", code),
        S::Http { status, url } => gettext("the store answered {status} for {url}")
            .replace("{status}", &status.to_string())
            .replace("{url}", url),
        // Translators: {what} names the request, in English; {why} is the parser's message.
        S::Malformed { what, message } => {
            gettext("the store's answer to {what} is malformed: {why}")
                .replace("{what}", what)
                .replace("{why}", message)
        }
        S::Refused { what, message } => gettext("refused the store's answer to {what}: {why}")
            .replace("{what}", what)
            .replace("{why}", message),
        S::NoSpace {
            path,
            what,
            needed,
            available,
        } => gettext(
            "not enough free space in {path} for {what}: {needed} bytes are needed, {available} are free",
        )
        .replace("{path}", &path.display().to_string())
        .replace("{what}", what)
        .replace("{needed}", &needed.to_string())
        .replace("{available}", &available.to_string()),
        S::Cancelled => gettext("cancelled"),
        S::Io { path, source } => gettext("cannot {op} {path}: {why}")
            .replace("{op}", "use")
            .replace("{path}", &path.display().to_string())
            .replace("{why}", &source.to_string()),
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        if e.raw_os_error() == Some(libc::ENOSPC) {
            Error::new(
                ErrorKind::InsufficientSpace,
                crate::lang::gettext("not enough disk space: {why}")
                    .replace("{why}", &e.to_string()),
            )
        } else {
            Error::internal(e)
        }
    }
}
