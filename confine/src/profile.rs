//! The app's profile (written by the helper, `snapshelf_snap::profile`): read only when root owns
//! it and nobody else could have written it, and what the helper checked at install checked again.

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use snapshelf_snap::layout::{validate_layouts, Layout, LayoutKind};
use snapshelf_snap::profile::Profile;

use crate::error::{Context, Error, Result};
use crate::sys::{self, Kind};

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// Read the app's profile, refusing one that root does not own or that others could have written.
pub fn read_profile(root: BorrowedFd<'_>, snap: &str, app: &str) -> Result<Profile> {
    let dir_parts = s(&["var", "lib", "snapshelf", "profiles"]);
    let dir = sys::walk(root, &dir_parts).map_err(|_| {
        Error::NotInstalled(
            "no snaps are installed here (/var/lib/snapshelf/profiles is missing)".into(),
        )
    })?;
    let dir_st = sys::stat(dir.as_fd()).what(|| "cannot stat the profiles directory".into())?;
    if dir_st.st_uid != 0 || dir_st.st_mode & 0o022 != 0 {
        return Err(Error::Untrusted(
            "the profiles directory is not owned by root or is writable by others".into(),
        ));
    }
    let name = Profile::file_name(snap, app);
    let fd = match nix::fcntl::openat(
        dir.as_fd(),
        name.as_str(),
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => {
            let installed = sys::walk(root, &s(&["snap", snap])).is_ok();
            return Err(Error::NotInstalled(if installed {
                format!("snap {snap:?} has no app {app:?}")
            } else {
                format!("snap {snap:?} is not installed")
            }));
        }
        Err(Errno::ELOOP) => {
            return Err(Error::Untrusted(format!(
                "the profile {name} is a symbolic link"
            )))
        }
        Err(e) => return Err(Error::setup(format!("cannot open the profile {name}"), e)),
    };
    let st = sys::stat(fd.as_fd()).what(|| format!("cannot stat the profile {name}"))?;
    if sys::kind_of(&st) != Kind::File {
        return Err(Error::Untrusted(format!(
            "the profile {name} is not a regular file"
        )));
    }
    if st.st_uid != 0 {
        return Err(Error::Untrusted(format!(
            "the profile {name} is not owned by root"
        )));
    }
    if st.st_mode & 0o022 != 0 {
        return Err(Error::Untrusted(format!(
            "the profile {name} is writable by others"
        )));
    }
    // Room for the whole file: read in one call, not in doubling steps from 32 bytes.
    let mut text = String::with_capacity((st.st_size as usize).min(4 << 20) + 1);
    std::fs::File::from(fd)
        .take(4 << 20)
        .read_to_string(&mut text)
        .map_err(|e| Error::Invalid(format!("cannot read the profile {name}: {e}")))?;
    let p = Profile::from_json(&text)
        .map_err(|e| Error::Invalid(format!("the profile {name} is invalid: {e}")))?;
    if p.snap != snap || p.app != app {
        return Err(Error::Invalid(format!(
            "the profile {name} describes {}.{}",
            p.snap, p.app
        )));
    }
    check_profile(&p)?;
    Ok(p)
}

/// A daemon's other command (`--command=stop|reload|post-stop`) from the snap's own
/// `meta/snap.yaml` in the mounted revision the profile names, as snapd's snap-exec reads it: the
/// mount is read-only and root's, so the snap's file is what the helper checked at install. Split
/// on spaces, relative to `$SNAP`, as the profile's `command` is.
pub fn other_command(root: BorrowedFd<'_>, p: &Profile, name: &str) -> Result<Vec<String>> {
    let file = "meta/snap.yaml";
    let parts = s(&["snap", &p.snap, &p.revision, "meta", "snap.yaml"]);
    let not_there = || {
        Error::NotInstalled(format!(
            "revision {} of snap {:?} is not mounted (no {file})",
            p.revision, p.snap
        ))
    };
    let path = sys::walk(root, &parts).map_err(|_| not_there())?;
    let mut text = String::new();
    std::fs::File::open(sys::fd_path(path.as_fd()))
        .map_err(|_| not_there())?
        .take(4 << 20)
        .read_to_string(&mut text)
        .map_err(|e| Error::Invalid(format!("cannot read {file} of snap {:?}: {e}", p.snap)))?;
    let yaml = snapshelf_snap::yaml::SnapYaml::parse(&text)
        .map_err(|e| Error::Invalid(format!("{file} of snap {:?}: {e}", p.snap)))?;
    let app = yaml
        .apps
        .get(&p.app)
        .ok_or_else(|| Error::NotInstalled(format!("snap {:?} has no app {:?}", p.snap, p.app)))?;
    let command = match name {
        "stop" => &app.stop_command,
        "reload" => &app.reload_command,
        _ => &app.post_stop_command,
    };
    let command = command.as_deref().ok_or_else(|| {
        Error::NotInstalled(format!("app {}.{} has no {name}-command", p.snap, p.app))
    })?;
    let words: Vec<String> = command
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    if words.is_empty() || words[0].split('/').any(|x| x == "..") {
        return Err(Error::Invalid(format!(
            "{file} of snap {:?}: {name}-command {command:?} climbs out of the snap",
            p.snap
        )));
    }
    Ok(words)
}

/// What the helper checked at install, checked again: names, revision, layouts.
pub fn check_profile(p: &Profile) -> Result<()> {
    let bad = |what: &str, e: String| Error::Invalid(format!("the profile's {what}: {e}"));
    p.revision
        .parse::<snapshelf_snap::naming::Revision>()
        .map_err(|e| bad("revision", e.to_string()))?;
    if !p.base.is_empty() {
        snapshelf_snap::naming::validate_snap_name(&p.base)
            .map_err(|e| bad("base", e.to_string()))?;
    }
    if p.command.is_empty() {
        return Err(bad("command", "is empty".into()));
    }
    for c in p.command_chain.iter().chain(p.command.first()) {
        if c.split('/').any(|x| x == "..") {
            return Err(bad("command", format!("{c:?} climbs out of the snap")));
        }
    }
    let layouts = p
        .layouts
        .iter()
        .map(|l| {
            let kind = match l.kind.as_str() {
                "bind" => LayoutKind::Bind(l.source.clone()),
                "bind-file" => LayoutKind::BindFile(l.source.clone()),
                "symlink" => LayoutKind::Symlink(l.source.clone()),
                "tmpfs" => LayoutKind::Tmpfs,
                other => return Err(bad("layout", format!("unknown kind {other:?}"))),
            };
            Ok(Layout {
                path: l.path.clone(),
                kind,
                user: "root".into(),
                group: "root".into(),
                mode: l.mode,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    validate_layouts(&layouts, &p.snap).map_err(|e| Error::Invalid(e.to_string()))?;
    Ok(())
}
