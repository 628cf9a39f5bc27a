//! The error kinds of the contract: D-Bus errors `io.github.snapshelf.Error.<Name>`, and the same
//! kinds in kebab-case in a change's `ErrorKind`. Clients map kinds, never message text.

macro_rules! kinds {
    ($($kind:ident => $kebab:literal),+ $(,)?) => {
        /// Every error kind of DESIGN.md §2.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorKind { $($kind),+ }

        impl ErrorKind {
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind),+];

            /// `not-authorized`, as in a change's `ErrorKind` property.
            pub fn as_kebab(&self) -> &'static str {
                match self { $(ErrorKind::$kind => $kebab),+ }
            }

            pub fn from_kebab(s: &str) -> Option<ErrorKind> {
                match s { $($kebab => Some(ErrorKind::$kind),)+ _ => None }
            }

            /// `NotAuthorized`.
            pub fn name(&self) -> &'static str {
                match self { $(ErrorKind::$kind => stringify!($kind)),+ }
            }
        }

        /// The D-Bus error a method call fails with.
        #[derive(Debug, zbus::DBusError)]
        #[zbus(prefix = "io.github.snapshelf.Error")]
        pub enum Error {
            #[zbus(error)]
            ZBus(zbus::Error),
            $($kind(String)),+
        }

        impl Error {
            pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
                let m = message.into();
                match kind { $(ErrorKind::$kind => Error::$kind(m)),+ }
            }

            /// The kind (a transport failure is `Internal`).
            pub fn kind(&self) -> ErrorKind {
                match self { Error::ZBus(_) => ErrorKind::Internal, $(Error::$kind(_) => ErrorKind::$kind),+ }
            }

            pub fn message(&self) -> String {
                match self { Error::ZBus(e) => e.to_string(), $(Error::$kind(m) => m.clone()),+ }
            }
        }
    };
}

kinds! {
    NotAuthorized => "not-authorized",
    AuthCancelled => "auth-cancelled",
    NotFound => "not-found",
    AlreadyInstalled => "already-installed",
    NotInstalled => "not-installed",
    InvalidArgument => "invalid-argument",
    ChangeConflict => "change-conflict",
    NetworkError => "network-error",
    StoreError => "store-error",
    VerificationFailed => "verification-failed",
    NoUpdateAvailable => "no-update-available",
    NoRevisionToRevert => "no-revision-to-revert",
    ChannelNotAvailable => "channel-not-available",
    NeedsClassic => "needs-classic",
    EpochMismatch => "epoch-mismatch",
    InsufficientSpace => "insufficient-space",
    SnapInUse => "snap-in-use",
    InvalidSnap => "invalid-snap",
    InterfacesUnchanged => "interfaces-unchanged",
    NoSuchOption => "no-such-option",
    HookFailed => "hook-failed",
    Cancelled => "cancelled",
    Internal => "internal",
    AssumesNotMet => "assumes-not-met",
    ProviderInUse => "provider-in-use",
    RefreshHeld => "refresh-held",
}

impl ErrorKind {
    /// `io.github.snapshelf.Error.NotAuthorized`.
    pub fn dbus_name(&self) -> String {
        format!("{}.{}", crate::names::ERROR_PREFIX, self.name())
    }

    pub fn from_dbus_name(name: &str) -> Option<ErrorKind> {
        let short = name
            .strip_prefix(crate::names::ERROR_PREFIX)?
            .strip_prefix('.')?;
        ErrorKind::ALL.iter().copied().find(|k| k.name() == short)
    }
}

/// What a client makes of a failed call: the kind and the helper's message. Errors that are not
/// ours (a missing service, a broken connection) are `Internal` with their text.
pub fn classify(e: &zbus::Error) -> (ErrorKind, String) {
    if let zbus::Error::MethodError(name, detail, _) = e {
        if let Some(kind) = ErrorKind::from_dbus_name(name.as_str()) {
            return (kind, detail.clone().unwrap_or_default());
        }
    }
    if let zbus::Error::FDO(fdo) = e {
        if matches!(**fdo, zbus::fdo::Error::AccessDenied(_)) {
            return (ErrorKind::NotAuthorized, fdo.to_string());
        }
    }
    (ErrorKind::Internal, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips() {
        assert_eq!(ErrorKind::ALL.len(), 26);
        for k in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_kebab(k.as_kebab()), Some(*k));
            assert_eq!(ErrorKind::from_dbus_name(&k.dbus_name()), Some(*k));
            let e = Error::new(*k, "why");
            assert_eq!(e.kind(), *k);
            assert_eq!(e.message(), "why");
            assert_eq!(zbus::DBusError::name(&e).as_str(), k.dbus_name());
        }
        assert_eq!(
            ErrorKind::NotAuthorized.dbus_name(),
            "io.github.snapshelf.Error.NotAuthorized"
        );
        assert_eq!(
            ErrorKind::InterfacesUnchanged.as_kebab(),
            "interfaces-unchanged"
        );
        assert_eq!(
            ErrorKind::from_dbus_name("org.example.Error.NotAuthorized"),
            None
        );
    }
}
