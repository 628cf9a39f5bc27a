//! `SNAP_COOKIE`, as snap-confine sets it: the secret the helper made for the snap (or, for a
//! hook, for that hook's run), by which `snapctl` inside is known to the helper. Read only from a
//! root-owned file nobody else may read; anything else and the app runs without one (snapctl
//! then has no context).

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use snapshelf_snap::profile::Profile;

use crate::sys::{self, Kind};

pub fn read(root: BorrowedFd<'_>, profile: &Profile) -> Option<String> {
    let dir = ["var", "lib", "snapshelf", "cookies"].map(str::to_string);
    let dir = sys::walk(root, &dir).ok()?;
    let name = match profile.app.strip_prefix("hook.") {
        Some(_) => format!("hook.{}", profile.snap),
        None => format!("snap.{}", profile.snap),
    };
    let fd = nix::fcntl::openat(
        dir.as_fd(),
        name.as_str(),
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::empty(),
    )
    .ok()?;
    let st = sys::stat(fd.as_fd()).ok()?;
    if sys::kind_of(&st) != Kind::File || st.st_uid != 0 || st.st_mode & 0o077 != 0 {
        return None;
    }
    let mut text = String::new();
    std::fs::File::from(fd)
        .take(128)
        .read_to_string(&mut text)
        .ok()?;
    (text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())).then_some(text)
}
