//! Carrying out a [`Plan`] (see [`crate::mount_plan`]): the sandbox's root tmpfs in the snap's
//! private area, then each operation in order, every path walked from that root without following
//! a link. [`HostDirs`] holds the sources, opened before, and answers the planner's questions
//! about them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;

use nix::errno::Errno;
use nix::mount::MsFlags;

use crate::error::{Context, Error, Result};
use crate::mount_plan::{show, MimicEntry, Op, Origin, Plan, Probe, Source, Stat};
use crate::sys::{self, WalkError};

/// Where the power to build the sandbox comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// Capabilities (file capabilities, or root): one mount namespace, real ids.
    Privileged,
    /// An unprivileged user namespace mapping the user to itself.
    UserNamespace,
}

/// Host directories (descriptors opened in the new namespace before anything is mounted, some as
/// the user).
pub struct HostDirs {
    /// `<root>/snap`.
    pub snap_mounts: OwnedFd,
    /// The base snap's current revision.
    pub base: OwnedFd,
    /// `<root>/var/snap/<name>`.
    pub snap_data: OwnedFd,
    /// `~/snap/<name>` (opened as the user).
    pub user_snap: Option<OwnedFd>,
    /// The user's home (opened as the user), when `home` or `personal-files` is connected; with
    /// `home`, the names of its non-hidden entries (listed as the user).
    pub home: Option<(OwnedFd, Option<Vec<String>>)>,
    /// `/run/user/<uid>/snap.<name>` (opened as the user), when the user has a runtime directory.
    pub runtime: Option<OwnedFd>,
    /// The snap's private `/tmp`.
    pub private_tmp: OwnedFd,
    /// The host's `/`.
    pub host: OwnedFd,
    /// `<root>/var/snap` (content providers' data).
    pub var_snap: OwnedFd,
    /// `<root>/run/snapshelf/snapctl`, when the helper made it.
    pub snapctl: Option<OwnedFd>,
    /// The directories walked so far (see [`Walked`]).
    pub walked: Walked,
}

/// Host directories opened by a walk, by origin and path: the planner asks about several
/// entries of one directory (`/dev`, the base's `/etc`) and the binds open their sources in the
/// same places, so each directory is walked once per launch. A descriptor kept here is the very
/// directory that was checked, even if the host changes it meanwhile.
#[derive(Default)]
pub struct Walked {
    dirs: RefCell<Vec<WalkedDir>>,
    /// The planner's answers about entries, by origin and path: its steps ask about the same
    /// entries again (a path's layers, a mimic's entries), about a hundred times for a desktop
    /// app, and one plan is made from one view of the host.
    stats: RefCell<HashMap<WhereOnHost, Option<Stat>>>,
}

/// An entry of the host, as the planner names it.
type WhereOnHost = (Origin, Vec<String>);

/// A directory in [`Walked`]: where it was found, and its descriptor.
type WalkedDir = (Origin, Vec<String>, Rc<OwnedFd>);

impl HostDirs {
    fn origin(&self, origin: Origin) -> Option<BorrowedFd<'_>> {
        Some(match origin {
            Origin::Host => self.host.as_fd(),
            Origin::Base => self.base.as_fd(),
            Origin::SnapMounts => self.snap_mounts.as_fd(),
            Origin::SnapData => self.snap_data.as_fd(),
            Origin::UserSnap => self.user_snap.as_ref()?.as_fd(),
            Origin::Home => self.home.as_ref()?.0.as_fd(),
            Origin::Runtime => self.runtime.as_ref()?.as_fd(),
            Origin::PrivateTmp => self.private_tmp.as_fd(),
            Origin::VarSnap => self.var_snap.as_fd(),
            Origin::Snapctl => self.snapctl.as_ref()?.as_fd(),
            Origin::Sandbox => return None,
        })
    }

    /// The directory `path` under `origin` (not empty), walked from the nearest one walked
    /// before.
    fn dir(&self, origin: Origin, path: &[String]) -> std::result::Result<Rc<OwnedFd>, WalkError> {
        let top = self
            .origin(origin)
            .ok_or(WalkError::Errno(0, Errno::ENOENT))?;
        let mut walked = self.walked.dirs.borrow_mut();
        let known = walked
            .iter()
            .filter(|(o, p, _)| *o == origin && path.starts_with(p))
            .max_by_key(|(_, p, _)| p.len());
        let (from, start) = match known {
            Some((_, p, fd)) if p.len() == path.len() => return Ok(fd.clone()),
            Some((_, p, fd)) => (p.len(), fd.clone()),
            None => (
                0,
                Rc::new(dup(top).map_err(|_| WalkError::Errno(0, Errno::EMFILE))?),
            ),
        };
        let fd = sys::walk_dir(start.as_fd(), &path[from..]).map_err(|e| match e {
            WalkError::Missing(i) => WalkError::Missing(from + i),
            WalkError::NotFollowed(i) => WalkError::NotFollowed(from + i),
            WalkError::Errno(i, errno) => WalkError::Errno(from + i, errno),
        })?;
        let fd = Rc::new(fd);
        walked.push((origin, path.to_vec(), fd.clone()));
        Ok(fd)
    }

    /// Run `f` on the directory holding `path`'s last part and that part (`None` for an empty
    /// path or a path that cannot be walked).
    fn in_parent<T>(
        &self,
        origin: Origin,
        path: &[String],
        f: impl FnOnce(BorrowedFd<'_>, &str) -> Option<T>,
    ) -> Option<T> {
        let (last, dir) = path.split_last()?;
        if dir.is_empty() {
            // No walk, no copy of the descriptor: most questions are about a top-level entry.
            return f(self.origin(origin)?, last);
        }
        let fd = self.dir(origin, dir).ok()?;
        f(fd.as_fd(), last)
    }

    /// Open `path` under `origin` (any kind, never through a link), from its directory walked
    /// before when it was.
    fn open(&self, origin: Origin, path: &[String]) -> std::result::Result<OwnedFd, WalkError> {
        match path.split_last() {
            Some((last, dir)) if !dir.is_empty() => {
                let parent = self.dir(origin, dir)?;
                sys::walk(parent.as_fd(), std::slice::from_ref(last)).map_err(|e| match e {
                    WalkError::Missing(_) => WalkError::Missing(dir.len()),
                    WalkError::NotFollowed(_) => WalkError::NotFollowed(dir.len()),
                    WalkError::Errno(_, errno) => WalkError::Errno(dir.len(), errno),
                })
            }
            _ => {
                let top = self
                    .origin(origin)
                    .ok_or(WalkError::Errno(0, Errno::ENOENT))?;
                sys::walk(top, path)
            }
        }
    }
}

fn to_stat(st: &nix::sys::stat::FileStat) -> Stat {
    Stat {
        kind: sys::kind_of(st),
        mode: st.st_mode,
        uid: st.st_uid,
        gid: st.st_gid,
    }
}

fn names_in(dir: BorrowedFd<'_>) -> nix::Result<Vec<String>> {
    let d = sys::open_dir(dir, ".")?;
    let mut dir = nix::dir::Dir::from_fd(d)?;
    let mut names: Vec<String> = dir
        .iter()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().ok().map(str::to_string))
        .filter(|n| n != "." && n != "..")
        .collect();
    names.sort();
    Ok(names)
}

impl Probe for HostDirs {
    fn stat(&self, origin: Origin, path: &[String]) -> Option<Stat> {
        let key = (origin, path.to_vec());
        if let Some(known) = self.walked.stats.borrow().get(&key) {
            return *known;
        }
        let st = if path.is_empty() {
            self.origin(origin).and_then(|fd| sys::stat(fd).ok())
        } else {
            self.in_parent(origin, path, |dir, name| sys::stat_at(dir, name).ok())
        };
        let st = st.as_ref().map(to_stat);
        self.walked.stats.borrow_mut().insert(key, st);
        st
    }

    fn list(&self, origin: Origin, path: &[String]) -> Vec<String> {
        let Some(top) = self.origin(origin) else {
            return Vec::new();
        };
        let names = if path.is_empty() {
            names_in(top)
        } else {
            match self.dir(origin, path) {
                Ok(dir) => names_in(dir.as_fd()),
                Err(_) => return Vec::new(),
            }
        };
        names.unwrap_or_default()
    }

    fn readlink(&self, origin: Origin, path: &[String]) -> Option<String> {
        let to = self.in_parent(origin, path, |dir, name| sys::readlink_at(dir, name).ok())?;
        to.to_str().map(str::to_string)
    }
}

/// The names of the non-hidden entries at the top of the home `dir` (`snap` aside: the sandbox
/// makes its own). Called as the user: what the user cannot list, the app does not see.
pub fn home_entries(dir: BorrowedFd<'_>) -> Result<Vec<String>> {
    let mut names = names_in(dir).what(|| "cannot list the home directory".to_string())?;
    names.retain(|n| !n.starts_with('.') && n != "snap");
    Ok(names)
}

/// Mount the sandbox's root, a tmpfs on `name` in `parent` (a directory of the snap's private
/// area), and carry out `plan` in it. Returns the root.
pub fn perform(
    plan: &Plan,
    power: Power,
    parent: BorrowedFd<'_>,
    name: &str,
    host: &HostDirs,
) -> Result<OwnedFd> {
    let owner = (power == Power::Privileged).then_some((0, 0));
    let root = sys::mount_tmpfs(parent, name, 0o755, owner, MsFlags::empty())
        .what(|| "cannot mount the sandbox's root tmpfs".into())?;
    let executor = Executor {
        root: root.as_fd(),
        host,
        dirs: RefCell::new(vec![(Vec::new(), Rc::new(dup(root.as_fd())?))]),
        read_only: RefCell::new(Vec::new()),
    };
    // A mount point made before the mount that covers it is never seen again (the mount's root
    // shows there, and the app cannot take the mount away): its owner is left as made, which
    // spares a chown of a new tmpfs inode for most of a desktop app's mount points.
    let mut last_mount: HashMap<&[String], usize> = HashMap::new();
    for (i, op) in plan.ops.iter().enumerate() {
        if let Some(target) = op.mounts_on() {
            last_mount.insert(target, i);
        }
    }
    for (i, op) in plan.ops.iter().enumerate() {
        let covered = match op {
            Op::Mkdir { path, .. } | Op::Touch { path, .. } => {
                last_mount.get(path.as_slice()).is_some_and(|&j| j > i)
            }
            _ => false,
        };
        let mounted = executor.perform(op, covered)?;
        if let Some(target) = op.mounts_on() {
            executor.forget_under(target);
            // The new mount's root, opened by name once it was made: the next operations at or
            // under the target start from it.
            if let Some((top, read_only)) = mounted {
                executor
                    .dirs
                    .borrow_mut()
                    .push((target.to_vec(), Rc::new(top)));
                if read_only {
                    executor.read_only.borrow_mut().push(target.to_vec());
                }
            }
        }
    }
    Ok(root)
}

struct Executor<'a> {
    root: BorrowedFd<'a>,
    host: &'a HostDirs,
    /// Directories of the sandbox opened for earlier operations, by path: the next operation in
    /// the same place walks from there. A mount on a path hides what was opened at or under it,
    /// so those are forgotten.
    dirs: RefCell<Vec<(Vec<String>, Rc<OwnedFd>)>>,
    /// The mounts known to be read-only already (binds of something read-only), by target.
    read_only: RefCell<Vec<Vec<String>>>,
}

fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    fd.try_clone_to_owned()
        .map_err(|_| Error::setup("cannot duplicate a descriptor", Errno::EMFILE))
}

/// The error for a walk of `path` that started at its component `from`.
fn walk_error(path: &[String], from: usize, e: WalkError) -> Error {
    let e = match e {
        WalkError::Missing(i) => WalkError::Missing(from + i),
        WalkError::NotFollowed(i) => WalkError::NotFollowed(from + i),
        WalkError::Errno(i, errno) => WalkError::Errno(from + i, errno),
    };
    match e {
        WalkError::Missing(i) => Error::Invalid(format!(
            "{} does not exist in the sandbox",
            show(&path[..=i])
        )),
        WalkError::NotFollowed(i) => Error::Invalid(format!(
            "{} is a symbolic link or not a directory: the sandbox never follows links there",
            show(&path[..=i])
        )),
        WalkError::Errno(i, errno) => {
            Error::setup(format!("cannot open {}", show(&path[..=i])), errno)
        }
    }
}

impl Executor<'_> {
    /// Open a sandbox path without following links.
    fn open(&self, path: &[String]) -> Result<OwnedFd> {
        sys::walk(self.root, path).map_err(|e| walk_error(path, 0, e))
    }

    /// The directory holding `path`, and its last name.
    fn parent<'p>(&self, path: &'p [String]) -> Result<(Rc<OwnedFd>, &'p str)> {
        let (last, dir) = path
            .split_last()
            .ok_or_else(|| Error::Invalid("the sandbox's root cannot be a target".into()))?;
        Ok((self.open_dir(dir)?, last.as_str()))
    }

    /// Open a directory of the sandbox, from the nearest one opened before.
    fn open_dir(&self, path: &[String]) -> Result<Rc<OwnedFd>> {
        let mut dirs = self.dirs.borrow_mut();
        let (known, fd) = dirs
            .iter()
            .filter(|(p, _)| path.starts_with(p))
            .max_by_key(|(p, _)| p.len())
            .expect("the root is always known");
        if known.len() == path.len() {
            return Ok(fd.clone());
        }
        let from = known.len();
        let fd = sys::walk(fd.as_fd(), &path[from..]).map_err(|e| walk_error(path, from, e))?;
        let fd = Rc::new(fd);
        dirs.push((path.to_vec(), fd.clone()));
        Ok(fd)
    }

    fn forget_under(&self, target: &[String]) {
        self.dirs
            .borrow_mut()
            .retain(|(p, _)| !p.starts_with(target));
        self.read_only
            .borrow_mut()
            .retain(|p| !p.starts_with(target));
    }

    fn source(&self, src: &Source) -> Result<OwnedFd> {
        if src.origin == Origin::Sandbox {
            return self.open(&src.path);
        }
        self.host.open(src.origin, &src.path).map_err(|e| match e {
            WalkError::Errno(_, errno) => Error::setup(format!("cannot open {src}"), errno),
            _ => Error::Invalid(format!("{src} is missing or a symbolic link")),
        })
    }

    /// Carry out `op`; for a mount, returns the new mount's root and whether it is known to be
    /// read-only. `covered`: `op` makes a mount point that a later operation mounts on, so its
    /// owner does not matter.
    fn perform(&self, op: &Op, covered: bool) -> Result<Option<(OwnedFd, bool)>> {
        let what = || format!("cannot {op}");
        let mounted = match op {
            Op::Tmpfs {
                target,
                mode,
                owner,
                noexec,
            } => {
                let (dir, name) = self.parent(target)?;
                let flags = if *noexec {
                    MsFlags::MS_NOEXEC
                } else {
                    MsFlags::empty()
                };
                let top = sys::mount_tmpfs(dir.as_fd(), name, *mode, *owner, flags).what(what)?;
                Some((top, false))
            }
            Op::Bind {
                source,
                target,
                recursive,
            } => {
                let src = self.source(source)?;
                let (dir, name) = self.parent(target)?;
                Some(sys::bind(src.as_fd(), dir.as_fd(), name, *recursive).what(what)?)
            }
            Op::ReadOnly { target } => {
                // A bind of something read-only is so already (sys::bind sees to it).
                if !self.read_only.borrow().iter().any(|p| p == target) {
                    if target.is_empty() {
                        return Err(Error::Invalid(
                            "the sandbox's root cannot be a target".into(),
                        ));
                    }
                    let top = self.open_dir(target)?;
                    if !sys::is_read_only(top.as_fd()).what(what)? {
                        sys::remount_read_only(top.as_fd()).what(what)?;
                    }
                    self.read_only.borrow_mut().push(target.clone());
                }
                None
            }
            Op::Mkdir { path, mode, chown } => {
                let (dir, name) = self.parent(path)?;
                sys::mkdir_at(dir.as_fd(), name, *mode).map_err(|e| create_error(path, e))?;
                self.chown(dir.as_fd(), name, chown.filter(|_| !covered), &what)?;
                None
            }
            Op::Touch { path, mode, chown } => {
                let (dir, name) = self.parent(path)?;
                sys::touch_at(dir.as_fd(), name, *mode).map_err(|e| create_error(path, e))?;
                self.chown(dir.as_fd(), name, chown.filter(|_| !covered), &what)?;
                None
            }
            Op::Symlink { path, to, chown } => {
                let (dir, name) = self.parent(path)?;
                sys::symlink_at(to, dir.as_fd(), name).what(what)?;
                self.chown(dir.as_fd(), name, *chown, &what)?;
                None
            }
            Op::Chown { path, owner } => {
                let (dir, name) = self.parent(path)?;
                self.chown(dir.as_fd(), name, Some(*owner), &what)?;
                None
            }
            Op::Proc { target } => {
                let (dir, name) = self.parent(target)?;
                Some((sys::mount_proc(dir.as_fd(), name).what(what)?, false))
            }
            Op::Devpts { target, tty_gid } => {
                let (dir, name) = self.parent(target)?;
                Some((
                    sys::mount_devpts(dir.as_fd(), name, *tty_gid).what(what)?,
                    false,
                ))
            }
            Op::Mimic {
                target,
                mode,
                owner,
                entries,
            } => Some((self.mimic(target, *mode, *owner, entries)?, false)),
        };
        Ok(mounted)
    }

    fn chown(
        &self,
        dir: BorrowedFd<'_>,
        name: &str,
        owner: Option<(u32, u32)>,
        what: &dyn Fn() -> String,
    ) -> Result<()> {
        if let Some((u, g)) = owner {
            sys::chown_at(dir, name, u, g).what(what)?;
        }
        Ok(())
    }

    /// The original is opened first: once the tmpfs covers it, its entries are bound back from
    /// that descriptor.
    fn mimic(
        &self,
        target: &[String],
        mode: u32,
        owner: Option<(u32, u32)>,
        entries: &[MimicEntry],
    ) -> Result<OwnedFd> {
        let (dir, name) = self.parent(target)?;
        let original =
            sys::open_dir(dir.as_fd(), name).what(|| format!("cannot read {}", show(target)))?;
        let tmpfs = sys::mount_tmpfs(dir.as_fd(), name, mode, owner, MsFlags::empty())
            .what(|| format!("cannot mount the writable mimic of {}", show(target)))?;
        for entry in entries {
            let (n, dir) = match entry {
                MimicEntry::Dir(n) => (n, true),
                MimicEntry::File(n) => (n, false),
                MimicEntry::Symlink { name, to, chown } => {
                    let what = || format!("cannot mimic {}/{name}", show(target));
                    sys::symlink_at(to, tmpfs.as_fd(), name).what(what)?;
                    self.chown(tmpfs.as_fd(), name, *chown, &what)?;
                    continue;
                }
            };
            let what = || format!("cannot mimic {}/{n}", show(target));
            if dir {
                sys::mkdir_at(tmpfs.as_fd(), n, 0o755).what(what)?;
            } else {
                sys::touch_at(tmpfs.as_fd(), n, 0o644).what(what)?;
            }
            sys::bind_entry(original.as_fd(), n, tmpfs.as_fd(), dir).what(what)?;
        }
        Ok(tmpfs)
    }
}

/// Creating fails for want of permission only in the host's directories that are the snap's
/// own data: the helper makes layout sources there at install.
fn create_error(path: &[String], errno: Errno) -> Error {
    if errno == Errno::EACCES || errno == Errno::EPERM {
        Error::Invalid(format!(
            "cannot create {}: {errno} (the helper creates layout sources in the snap's data \
             directories at install)",
            show(path)
        ))
    } else {
        Error::setup(format!("cannot create {}", show(path)), errno)
    }
}
