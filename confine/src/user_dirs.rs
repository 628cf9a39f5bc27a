//! The user's directories for a snap: `~/snap/<name>/<rev>`, `common` and `current`, made as the
//! user.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use snapshelf_snap::profile::Profile;

use crate::error::{Context, Result};
use crate::owned_dir::own_dir;
use crate::sys;

/// `~/snap/<name>/<rev>`, `common` and `current`, made as the user (no privilege is in effect).
pub fn user_data(home: &str, p: &Profile, uid: u32) -> Result<Option<OwnedFd>> {
    let Ok(home_fd) = sys::open_trusted(Path::new(home)) else {
        return Ok(None);
    };
    let show = |x: String| move || format!("{home}/{x}");
    let snap = own_dir(
        home_fd.as_fd(),
        "snap",
        0o700,
        None,
        uid,
        false,
        &show("snap".into()),
    )?;
    private_snap_dir(snap.as_fd(), &show("snap".into()))?;
    let name_show = format!("snap/{}", p.snap);
    let mine = own_dir(
        snap.as_fd(),
        &p.snap,
        0o755,
        None,
        uid,
        false,
        &show(name_show.clone()),
    )?;
    for (d, m) in [(p.revision.as_str(), 0o700), ("common", 0o700)] {
        own_dir(
            mine.as_fd(),
            d,
            m,
            None,
            uid,
            false,
            &show(format!("{name_show}/{d}")),
        )?;
    }
    let current = sys::readlink_at(mine.as_fd(), "current").ok();
    if current.as_deref().and_then(|c| c.to_str()) != Some(p.revision.as_str()) {
        let tmp = format!(".current.{}", std::process::id());
        let _ = nix::unistd::unlinkat(
            mine.as_fd(),
            tmp.as_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
        sys::symlink_at(&p.revision, mine.as_fd(), &tmp)
            .what(|| format!("cannot link {home}/{name_show}/current"))?;
        nix::fcntl::renameat(mine.as_fd(), tmp.as_str(), mine.as_fd(), "current")
            .what(|| format!("cannot link {home}/{name_show}/current"))?;
    }
    Ok(Some(mine))
}

/// `~/snap` found open to others (0755, as older snapd and snapshelf made it, or anything else) is
/// made 0700 again, as snapd's `snap userd --autostart` does (snap-user-dir-perms-fixed): the
/// folder holds every snap's user data. It is the user's own (checked when opened).
pub fn private_snap_dir(
    snap: std::os::fd::BorrowedFd<'_>,
    show: &dyn Fn() -> String,
) -> Result<()> {
    let st = sys::stat(snap).what(|| format!("cannot stat {}", show()))?;
    if st.st_mode & 0o077 != 0 {
        nix::sys::stat::fchmod(snap, nix::sys::stat::Mode::from_bits_truncate(0o700))
            .what(|| format!("cannot make {} private (mode 0700)", show()))?;
    }
    Ok(())
}
