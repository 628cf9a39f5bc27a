//! The snap's private area: where the sandbox's root is assembled and its `/tmp` kept, locked per
//! snap and user while a launch builds.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use snapshelf_snap::profile::Profile;

use crate::error::{Context, Error, Result};
use crate::owned_dir::own_dir;
use crate::sandbox::Power;
use crate::sys::{self, Kind};

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// The snap's private area (in the root's `/run`, the user's runtime directory, or `<root>/tmp`):
/// `snapshelf-private[-<uid>]/snap.<name>` (locked while we build), with `tmp` (the sandbox's
/// `/tmp`) and `rootfs` (where the root is assembled).
pub struct Private {
    pub snap_dir: OwnedFd,
    pub tmp: OwnedFd,
    /// Held (flock) until the app starts.
    _lock: OwnedFd,
}

/// Where the area's top directory goes, as `(directory, its path, the top's name)`: where nobody
/// else can make that top first (which would stop our launches): the root's /run for the
/// privileged mode, the user's own runtime directory for the user-namespace mode; the root's /tmp
/// (sticky, shared) only where those are missing.
fn area_parent(root: BorrowedFd<'_>, power: Power, uid: u32) -> Result<(OwnedFd, String, String)> {
    let trusted_dir = |fd: OwnedFd, want_uid: u32, exact_mode: Option<u32>| -> Option<OwnedFd> {
        let st = sys::stat(fd.as_fd()).ok()?;
        let mode_ok = exact_mode
            .map(|m| st.st_mode & 0o7777 == m)
            .unwrap_or(st.st_mode & 0o022 == 0);
        (sys::kind_of(&st) == Kind::Dir && st.st_uid == want_uid && mode_ok).then_some(fd)
    };
    let preferred = match power {
        Power::Privileged => sys::walk(root, &s(&["run"]))
            .ok()
            .and_then(|fd| trusted_dir(fd, 0, None))
            .map(|fd| (fd, "/run".to_string(), "snapshelf-private".to_string())),
        Power::UserNamespace => sys::open_trusted(Path::new(&format!("/run/user/{uid}")))
            .ok()
            .and_then(|fd| trusted_dir(fd, uid, Some(0o700)))
            .map(|fd| {
                (
                    fd,
                    format!("/run/user/{uid}"),
                    "snapshelf-private".to_string(),
                )
            }),
    };
    if let Some(found) = preferred {
        return Ok(found);
    }
    let fd = sys::walk(root, &s(&["tmp"]))
        .map_err(|_| Error::NotInstalled("the root has no /tmp".into()))?;
    let top = match power {
        Power::Privileged => "snapshelf-private".to_string(),
        Power::UserNamespace => format!("snapshelf-private-{uid}"),
    };
    Ok((fd, "/tmp".to_string(), top))
}

/// Make the snap's private area (see [`Private`]) and take its lock.
pub fn private_area(
    root: BorrowedFd<'_>,
    power: Power,
    p: &Profile,
    uid: u32,
    euid: u32,
) -> Result<Private> {
    let (tmp_root, base, top) = area_parent(root, power, uid)?;
    let (owner_uid, chown) = match power {
        Power::Privileged => (0, (euid != 0).then_some((0, 0))),
        Power::UserNamespace => (uid, None),
    };
    let show = |x: String| {
        let base = base.clone();
        move || format!("{base}/{x}")
    };
    let top_fd = own_dir(
        tmp_root.as_fd(),
        &top,
        0o700,
        chown,
        owner_uid,
        true,
        &show(top.clone()),
    )?;
    let snap_name = format!("snap.{}", p.snap);
    let snap_dir = own_dir(
        top_fd.as_fd(),
        &snap_name,
        0o700,
        chown,
        owner_uid,
        true,
        &show(format!("{top}/{snap_name}")),
    )?;
    // One launch at a time per user builds in this snap's area: the lock is the user's own, so a
    // user who stops a launch (SIGSTOP) while it holds it stalls only their own launches.
    let lock_name = format!("lock.{uid}");
    let lock = nix::fcntl::openat(
        snap_dir.as_fd(),
        lock_name.as_str(),
        OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .what(|| format!("cannot open {base}/{top}/{snap_name}/{lock_name}"))?;
    let lst = sys::stat(lock.as_fd()).what(|| format!("cannot stat {lock_name}"))?;
    if sys::kind_of(&lst) != Kind::File || lst.st_nlink != 1 {
        return Err(Error::Untrusted(format!(
            "{base}/{top}/{snap_name}/{lock_name} is not a plain file: remove it"
        )));
    }
    // SAFETY: flock on a descriptor we own.
    let r = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    Errno::result(r).what(|| format!("cannot lock {base}/{top}/{snap_name}/{lock_name}"))?;
    let tmp_mode = if power == Power::Privileged {
        0o1777
    } else {
        0o700
    };
    let tmp = own_dir(
        snap_dir.as_fd(),
        "tmp",
        tmp_mode,
        chown,
        owner_uid,
        true,
        &show(format!("{top}/{snap_name}/tmp")),
    )?;
    if p.plug_connected("x11") {
        // The mount point for the X11 sockets, in the snap's own /tmp.
        sys::mkdir_at(tmp.as_fd(), ".X11-unix", 0o1777)
            .what(|| "cannot create /tmp/.X11-unix".into())?;
        if let Some((u, g)) = chown {
            let _ = sys::chown_at(tmp.as_fd(), ".X11-unix", u, g);
        }
    }
    own_dir(
        snap_dir.as_fd(),
        "rootfs",
        0o700,
        chown,
        owner_uid,
        true,
        &show(format!("{top}/{snap_name}/rootfs")),
    )?;
    Ok(Private {
        snap_dir,
        tmp,
        _lock: lock,
    })
}
