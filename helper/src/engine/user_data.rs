//! Each user's `~/snap/<name>/<revision>` on refresh, with snapd's copy semantics
//! (`overlord/snapstate/backend/copydata.go`): the current revision's folder is copied to the new
//! revision's, per user; `common` is never copied; every revision keeps its own, so a revert finds
//! the old revision's folder as it was left.
//!
//! The homes are snapd's: `/root` and every `/home/*` (under the helper's root) with a `snap`
//! folder. A home is the user's to change at any time, so the helper, as root, only opens
//! directories (never following a link) and renames entries within the folder it holds open; the
//! copy and its removal run as the user (uid, gid, no supplementary groups), from that open folder.
//! A symlink planted anywhere on the way, or a folder of another owner, skips that user with a
//! warning: nothing is read or written outside what the user could reach themselves.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::fcntl::{open, openat, renameat2, OFlag, RenameFlags};
use nix::sys::stat::{fstat, fstatat, Mode, SFlag};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::paths::Paths;

/// One user's copy, decided (and recorded) before it is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserCopy {
    /// The home, as found under the helper's root.
    pub home: PathBuf,
    pub uid: u32,
    pub gid: u32,
}

/// The homes snapd copies in: `<root>/root` and `<root>/home/*`.
fn homes(paths: &Paths) -> Vec<PathBuf> {
    let mut out = vec![paths.root().join("root")];
    if let Ok(entries) = std::fs::read_dir(paths.root().join("home")) {
        let mut more: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        more.sort();
        out.extend(more);
    }
    out
}

fn nofollow_dir() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// `<home>/snap/<name>`, opened without following any link on the way, when it and `<home>/snap`
/// are directories of the home's owner. Returns the folder and the owner's uid and gid.
fn open_snap_folder(home: &Path, name: &str, root_home: bool) -> Option<(OwnedFd, u32, u32)> {
    let h = open(home, nofollow_dir(), Mode::empty()).ok()?;
    let hs = fstat(&h).ok()?;
    // Root's data is root's; a home under /home owned by root is no one's to act for.
    if (hs.st_uid == 0) != root_home {
        return None;
    }
    let snap = openat(&h, "snap", nofollow_dir(), Mode::empty()).ok()?;
    let folder = openat(&snap, name, nofollow_dir(), Mode::empty()).ok()?;
    for fd in [&snap, &folder] {
        if fstat(fd).ok()?.st_uid != hs.st_uid {
            return None;
        }
    }
    Some((folder, hs.st_uid, hs.st_gid))
}

/// What an entry of the open folder is, without following it.
fn kind(dir: &OwnedFd, entry: &str) -> Option<SFlag> {
    let st = fstatat(dir, entry, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).ok()?;
    Some(SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()))
}

/// The users whose `~/snap/<name>/<from>` is to be copied to `<to>`: the folder is a real
/// directory and `<to>` does not exist yet (a revision's folder is never replaced).
pub fn plan(paths: &Paths, name: &str, from: &str, to: &str) -> Vec<UserCopy> {
    let root_home = paths.root().join("root");
    let mut out = Vec::new();
    for home in homes(paths) {
        let Some((dir, uid, gid)) = open_snap_folder(&home, name, home == root_home) else {
            continue;
        };
        match kind(&dir, from) {
            Some(SFlag::S_IFDIR) => {}
            None => continue,
            Some(_) => {
                tracing::warn!(home = %home.display(), snap = name, revision = from,
                    "the user's data folder of the revision is not a directory: not copied");
                continue;
            }
        }
        if kind(&dir, to).is_some() {
            continue;
        }
        out.push(UserCopy { home, uid, gid });
    }
    out
}

/// Run `args` as the user, in the open folder.
fn as_user(c: &UserCopy, dir: &OwnedFd, program: &str, args: &[&str]) -> Result<()> {
    let raw = dir.as_raw_fd();
    let mut cmd = Command::new(program);
    cmd.args(args)
        .uid(c.uid)
        .gid(c.gid)
        .env_clear()
        .env("PATH", "/usr/bin:/bin");
    // SAFETY: fchdir is async-signal-safe; the descriptor stays open in the parent until the
    // child has been waited for. std drops root's groups before this runs (uid and gid are set).
    unsafe {
        cmd.pre_exec(move || {
            if libc::fchdir(raw) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let out = cmd
        .output()
        .map_err(|e| Error::internal(format!("cannot run {program} as uid {}: {e}", c.uid)))?;
    if !out.status.success() {
        return Err(Error::internal(format!(
            "{program} {} in {}/snap as uid {}: {}",
            args.join(" "),
            c.home.display(),
            c.uid,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Copy `<from>` to `<to>` for one user, through a temporary name renamed into place (never over
/// an existing `<to>`). Idempotent: a copy already in place is left.
pub fn copy(c: &UserCopy, name: &str, from: &str, to: &str) -> Result<()> {
    let Some((dir, uid, _)) = open_snap_folder(&c.home, name, c.uid == 0) else {
        tracing::warn!(home = %c.home.display(), snap = name, "the user's snap folder changed: not copied");
        return Ok(());
    };
    if uid != c.uid || kind(&dir, to).is_some() || kind(&dir, from) != Some(SFlag::S_IFDIR) {
        return Ok(());
    }
    let tmp = format!(".{to}.copying");
    as_user(c, &dir, "rm", &["-rf", "--", &tmp])?;
    as_user(c, &dir, "cp", &["-a", "-T", "--", from, &tmp])?;
    renameat2(
        dir.as_fd(),
        tmp.as_str(),
        dir.as_fd(),
        to,
        RenameFlags::RENAME_NOREPLACE,
    )
    .map_err(|e| {
        Error::internal(format!(
            "cannot rename {tmp} to {to} in {}/snap/{name}: {e}",
            c.home.display()
        ))
    })?;
    Ok(())
}

/// Remove every user's `<rev>` of a revision the snap no longer keeps (snapd's
/// `RemoveSnapData`), each as its user. Idempotent.
pub fn remove_everywhere(paths: &Paths, name: &str, rev: &str) -> Result<()> {
    let root_home = paths.root().join("root");
    for home in homes(paths) {
        if let Some((_, uid, gid)) = open_snap_folder(&home, name, home == root_home) {
            remove(&UserCopy { home, uid, gid }, name, rev)?;
        }
    }
    Ok(())
}

/// Remove one user's `<rev>` (and a half-made copy), as the user. Idempotent.
pub fn remove(c: &UserCopy, name: &str, rev: &str) -> Result<()> {
    let Some((dir, uid, _)) = open_snap_folder(&c.home, name, c.uid == 0) else {
        return Ok(());
    };
    if uid != c.uid {
        return Ok(());
    }
    let tmp = format!(".{rev}.copying");
    as_user(c, &dir, "rm", &["-rf", "--", rev, &tmp])
}
