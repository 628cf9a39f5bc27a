//! Capabilities: raised to build the sandbox, lowered to open what the user owns as the user,
//! dropped for good (with `no_new_privs`) before the app runs.

use caps::{CapSet, Capability};
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

/// Drop what is left of the bounding set, where we may. Each drop copies the process's
/// credentials, so only what is still there is dropped: called once before the sandbox's first
/// fork, it leaves nothing for the monitor and the reaper to do again.
pub fn drop_bounding() {
    // Without CAP_SETPCAP (a non-root user with file capabilities) the bounding set cannot be
    // changed, and need not be: an exec without file capabilities grants nothing, and
    // no_new_privs forbids gaining any.
    if !caps::has_cap(None, CapSet::Effective, Capability::CAP_SETPCAP).unwrap_or(true) {
        return;
    }
    for cap in caps::all() {
        if caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(true) {
            let _ = caps::drop(None, CapSet::Bounding, cap);
        }
    }
}

/// The `capset` header and data (linux/capability.h, version 3: two 32-bit words per set).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Empty the effective, permitted and inheritable sets in one `capset` (the ambient set goes
/// with them: it is always within permitted and inheritable). One call, one copy of the
/// credentials, where clearing set by set takes three.
fn clear_all_sets() -> Result<()> {
    let mut header = CapHeader {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let data = [CapData::default(); 2];
    // SAFETY: capset reads the header and two data structs, all ours and of the kernel's layout.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    Errno::result(r)
        .map(drop)
        .map_err(|errno| Error::Unsupported {
            what: "cannot drop capabilities".into(),
            errno,
        })
}

/// Drop every capability, for good: bounding set (where we may), then all the sets, then
/// `no_new_privs`.
pub fn drop_privileges() -> Result<()> {
    drop_bounding();
    clear_all_sets()?;
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
