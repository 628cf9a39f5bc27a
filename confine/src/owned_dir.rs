//! Directories confine makes and then relies on (the private area, the user's data and runtime
//! directories): made if missing, and refused when someone else prepared them.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::stat::Mode;

use crate::error::{Context, Error, Result};
use crate::sys;

/// The directory `name` in `dir`, made with `mode` if missing, and checked to be a real directory
/// owned by `uid` (and, with `exact`, of exactly that mode): a directory someone else prepared is
/// refused.
pub fn own_dir(
    dir: BorrowedFd<'_>,
    name: &str,
    mode: u32,
    owner: Option<(u32, u32)>,
    expect_uid: u32,
    exact: bool,
    show: &dyn Fn() -> String,
) -> Result<OwnedFd> {
    match owner {
        // Opened first: at most launches it is there, and a mkdir that finds it costs a lock of
        // the parent directory.
        None => match sys::open_dir(dir, name) {
            Ok(fd) => return checked(fd, mode, expect_uid, exact, show),
            Err(Errno::ENOENT) => {
                match nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(mode)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(Error::setup(format!("cannot create {}", show()), e)),
                }
            }
            Err(_) => {}
        },
        // Made aside, given its owner, then put in place in one step: a launch by another user
        // never sees it half made (there is no lock shared between users).
        Some((u, g)) if matches!(sys::stat_at(dir, name), Err(Errno::ENOENT)) => {
            let aside = format!(".new-{:016x}", random_u64());
            nix::sys::stat::mkdirat(dir, aside.as_str(), Mode::from_bits_truncate(mode))
                .what(|| format!("cannot create {}", show()))?;
            let placed = sys::chown_at(dir, &aside, u, g).and_then(|()| {
                nix::fcntl::renameat2(
                    dir,
                    aside.as_str(),
                    dir,
                    name,
                    nix::fcntl::RenameFlags::RENAME_NOREPLACE,
                )
            });
            match placed {
                Ok(()) => {}
                Err(e) => {
                    let _ = nix::unistd::unlinkat(
                        dir,
                        aside.as_str(),
                        nix::unistd::UnlinkatFlags::RemoveDir,
                    );
                    if e != Errno::EEXIST {
                        return Err(Error::setup(format!("cannot create {}", show()), e));
                    }
                }
            }
        }
        Some(_) => {}
    }
    let fd = sys::open_dir(dir, name).map_err(|e| match e {
        Errno::ELOOP | Errno::ENOTDIR => {
            Error::Untrusted(format!("{} is not a directory (a link?)", show()))
        }
        e => Error::setup(format!("cannot open {}", show()), e),
    })?;
    checked(fd, mode, expect_uid, exact, show)
}

/// `fd` if it is owned by `expect_uid` (and, with `exact`, of exactly `mode`).
fn checked(
    fd: OwnedFd,
    mode: u32,
    expect_uid: u32,
    exact: bool,
    show: &dyn Fn() -> String,
) -> Result<OwnedFd> {
    let st = sys::stat(fd.as_fd()).what(|| format!("cannot stat {}", show()))?;
    if st.st_uid != expect_uid || (exact && st.st_mode & 0o7777 != mode) {
        return Err(Error::Untrusted(format!(
            "{} exists with owner {} and mode {:o}, not {expect_uid} and {mode:o}: remove it",
            show(),
            st.st_uid,
            st.st_mode & 0o7777
        )));
    }
    Ok(fd)
}

/// Random enough for names that must not collide between launches.
pub(crate) fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom fills at most the buffer it is given.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != 8 {
        // Unique enough among concurrent launches: the name is only a temporary one.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        return t ^ u64::from(std::process::id()).rotate_left(32);
    }
    u64::from_ne_bytes(b)
}
