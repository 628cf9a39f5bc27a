//! How a command fails: the helper's error kind (or our own reason), the plain words for it and
//! the exit code (docs/cli.md). Kinds decide; the helper's message text is only shown.

use gettextrs::gettext;
use snapshelf_dbus::ErrorKind;

/// Why a command failed: a kind from the helper, or our own.
#[derive(Debug)]
pub struct Failure {
    pub kind: Option<ErrorKind>,
    pub message: String,
    pub code: i32,
    /// Already printed, as part of the change's own JSON document.
    pub reported: bool,
}

impl Failure {
    /// A failure of ours, not the helper's: no kind, its own exit code.
    pub(crate) fn own(message: impl Into<String>, code: i32) -> Failure {
        Failure {
            reported: false,
            kind: None,
            message: message.into(),
            code,
        }
    }

    /// The helper answered with something that does not fit the contract.
    pub(crate) fn bad_answer(e: snapshelf_dbus::Error) -> Failure {
        Failure::of(ErrorKind::Internal, e.message())
    }

    pub(crate) fn of(kind: ErrorKind, message: String) -> Failure {
        Failure {
            reported: false,
            code: exit_code(kind),
            kind: Some(kind),
            message,
        }
    }
}

/// Exit codes by error kind (docs/cli.md).
pub fn exit_code(kind: ErrorKind) -> i32 {
    use ErrorKind::*;
    match kind {
        NotAuthorized | AuthCancelled => 3,
        NotFound | NotInstalled | ChannelNotAvailable | NoRevisionToRevert | EpochMismatch
        | NoSuchOption => 4,
        AssumesNotMet => 6,
        NetworkError | StoreError => 5,
        InvalidArgument | InvalidSnap | VerificationFailed | NeedsClassic => 6,
        ChangeConflict | SnapInUse | ProviderInUse | RefreshHeld => 7,
        AlreadyInstalled | NoUpdateAvailable | InterfacesUnchanged => 8,
        InsufficientSpace => 9,
        Cancelled | HookFailed => 1,
        Internal => 70,
    }
}

/// Plain words for each kind; the helper's message follows them.
pub fn words(kind: ErrorKind) -> String {
    use ErrorKind::*;
    match kind {
        NotAuthorized => gettext("You are not allowed to do this."),
        AuthCancelled => gettext("The authorization was dismissed."),
        NotFound => gettext("There is no such snap, plug or slot."),
        AlreadyInstalled => gettext("It is already installed."),
        NotInstalled => gettext("It is not installed."),
        InvalidArgument => gettext("That request is not valid."),
        ChangeConflict => gettext("Another change is working on this snap; wait for it to end."),
        NetworkError => gettext("The store cannot be reached; check the network connection."),
        StoreError => gettext("The store refused the request."),
        VerificationFailed => {
            gettext("The download does not match its signatures; nothing was installed.")
        }
        NoUpdateAvailable => gettext("There is no update."),
        NoRevisionToRevert => gettext("There is no other kept revision to go back to."),
        ChannelNotAvailable => gettext("The snap has no such channel."),
        NeedsClassic => gettext("This snap needs classic confinement (--classic)."),
        EpochMismatch => gettext("The new revision cannot read the data of the installed one."),
        InsufficientSpace => gettext("There is not enough disk space."),
        SnapInUse => gettext("The snap is in use."),
        InvalidSnap => gettext("The snap file is not valid."),
        InterfacesUnchanged => gettext("The permission is already so."),
        NoSuchOption => gettext("The snap has no such configuration option."),
        HookFailed => gettext("A hook of the snap failed; what the change did was undone."),
        Cancelled => gettext("The change was cancelled."),
        Internal => gettext("Something went wrong inside Snapshelf."),
        AssumesNotMet => gettext("The snap needs features Snapshelf does not have."),
        ProviderInUse => gettext(
            "Other snaps use this snap's content; disconnect them first (--disconnect-users).",
        ),
        RefreshHeld => gettext("A snap's gate-auto-refresh hook holds this automatic refresh."),
    }
}

pub(crate) fn dbus_failure(e: zbus::Error) -> Failure {
    let (kind, message) = snapshelf_dbus::error::classify(&e);
    // An Internal that is not one of ours means no Snapshelf helper answered at all.
    let ours = matches!(&e, zbus::Error::MethodError(name, ..) if name.starts_with("io.github.snapshelf."));
    if kind == ErrorKind::Internal && !ours {
        return Failure::own(format!("cannot talk to the Snapshelf helper: {e}"), 10);
    }
    Failure::of(kind, message)
}

pub(crate) type Res<T> = Result<T, Failure>;

pub(crate) fn usage(message: impl Into<String>) -> Failure {
    Failure::own(message, 2)
}
