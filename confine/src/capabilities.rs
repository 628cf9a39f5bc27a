//! Capabilities: raised to build the sandbox, lowered to open what the user owns as the user,
//! dropped for good (with `no_new_privs`) before the app runs.

use caps::CapSet;
use nix::errno::Errno;

use crate::error::{Context, Error, Result};
use crate::sandbox::Power;

pub fn raise(power: Power) -> Result<()> {
    if power == Power::Privileged {
        let permitted = caps::read(None, CapSet::Permitted).map_err(|e| Error::Unsupported {
            what: format!("cannot read capabilities: {e}"),
            errno: Errno::EPERM,
        })?;
        caps::set(None, CapSet::Effective, &permitted).map_err(|e| Error::Unsupported {
            what: format!("cannot raise capabilities: {e}"),
            errno: Errno::EPERM,
        })?;
    }
    Ok(())
}

/// Run `f` with no capability in effect (they stay permitted): what the user owns is opened as the
/// user.
pub fn as_user<T>(power: Power, f: impl FnOnce() -> Result<T>) -> Result<T> {
    if power != Power::Privileged || nix::unistd::getuid().is_root() {
        return f();
    }
    caps::clear(None, CapSet::Effective).map_err(|e| Error::Unsupported {
        what: format!("cannot lower capabilities: {e}"),
        errno: Errno::EPERM,
    })?;
    let out = f();
    raise(power)?;
    out
}

/// Drop every capability, for good: bounding set (where we may), then all the sets.
pub fn drop_privileges() -> Result<()> {
    for cap in caps::all() {
        // Without CAP_SETPCAP (a non-root user with file capabilities) the bounding set cannot be
        // changed, and need not be: an exec without file capabilities grants nothing, and
        // no_new_privs forbids gaining any.
        let _ = caps::drop(None, CapSet::Bounding, cap);
    }
    for set in [
        CapSet::Ambient,
        CapSet::Inheritable,
        CapSet::Effective,
        CapSet::Permitted,
    ] {
        caps::clear(None, set).map_err(|e| Error::Unsupported {
            what: format!("cannot drop capabilities: {e}"),
            errno: Errno::EPERM,
        })?;
    }
    // SAFETY: prctl with these constant arguments has no memory effects.
    let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    Errno::result(r).what(|| "cannot set no_new_privs".into())?;
    Ok(())
}

/// For a classic snap, which runs as the caller would without `snap run`: every capability this
/// launcher holds dropped, but neither the bounding set nor `no_new_privs` touched, so that the
/// app's `sudo` and other set-uid programs work as they do outside (snap-confine's classic path
/// sets neither).
pub fn drop_capabilities_only() -> Result<()> {
    for set in [
        CapSet::Ambient,
        CapSet::Inheritable,
        CapSet::Effective,
        CapSet::Permitted,
    ] {
        caps::clear(None, set).map_err(|e| Error::Unsupported {
            what: format!("cannot drop capabilities: {e}"),
            errno: Errno::EPERM,
        })?;
    }
    Ok(())
}
