//! Building the sandbox's file system in a new mount namespace: a tmpfs root populated from the base
//! snap, the host directories the app may see, a private `/tmp`, a minimal `/dev`, `/snap` and the
//! snap's own `/var/snap/<name>`, the user's `~/snap/<name>`, then the layouts. Nothing here writes
//! to the host outside the snap's own data directories: where a path must be made inside a
//! directory that is not ours (the base, `$SNAP`, the host's `/etc`), that directory is covered by a
//! "writable mimic": a tmpfs with the original's mode and owner, the original's entries bound back.

use std::collections::HashSet;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::mount::MsFlags;
use snapshelf_snap::layout::{expand_source, SourceRoots};
use snapshelf_snap::profile::{Profile, ProfileLayout};

use crate::error::{Context, Error, Result};
use crate::sys::{self, Kind, WalkError};

/// Where the power to build the sandbox comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// Capabilities (file capabilities, or root): one mount namespace, real ids.
    Privileged,
    /// An unprivileged user namespace mapping the user to itself.
    UserNamespace,
}

/// Host directories (descriptors opened before the namespace was made, some as the user).
pub struct HostDirs {
    /// `<root>/snap`.
    pub snap_mounts: OwnedFd,
    /// The base snap's current revision.
    pub base: OwnedFd,
    /// `<root>/var/snap/<name>`.
    pub snap_data: OwnedFd,
    /// `~/snap/<name>` (opened as the user).
    pub user_snap: Option<OwnedFd>,
    /// The user's home (opened as the user), when `home` is connected, with the names of its
    /// non-hidden entries (listed as the user).
    pub home: Option<(OwnedFd, Vec<String>)>,
    /// `/run/user/<uid>/snap.<name>` (opened as the user), when the user has a runtime directory.
    pub runtime: Option<OwnedFd>,
    /// The snap's private `/tmp`.
    pub private_tmp: OwnedFd,
    /// The host's `/`.
    pub host: OwnedFd,
}

pub struct Builder<'p> {
    power: Power,
    uid: u32,
    gid: u32,
    euid: u32,
    profile: &'p Profile,
    home: String,
    root: OwnedFd,
    /// Devices of the tmpfs mounts made here: what we may write into.
    ours: HashSet<u64>,
    /// Sandbox paths under which the host's files may be created (the snap's own data).
    writable: Vec<Vec<String>>,
    /// Variables the app needs to find what the interfaces put in place.
    pub extra_env: Vec<(String, String)>,
    /// The name of the Wayland socket in the user's runtime directory.
    pub wayland_display: String,
}

/// Top-level directories of the new root that are not taken from the base.
const OWN_TOP: &[&str] = &[
    "dev", "proc", "sys", "tmp", "run", "snap", "home", "root", "mnt", "media", "etc",
];

/// What of `/proc` is made read-only for an app run as root.
const PROC_READ_ONLY: &[&str] = &["sys", "sysrq-trigger", "irq", "bus"];

/// Files of the base put back over the host's `/etc` (as snap-confine does for core bases).
const BASE_ETC: &[&str] = &["nsswitch.conf", "alternatives"];

/// Device nodes every sandbox gets.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Device nodes (by prefix in `/dev`) that a connected interface adds.
const INTERFACE_DEVICES: &[(&str, &[&str])] =
    &[("camera", &["video"]), ("opengl", &["dri", "nvidia"])];

/// Whether a node of `/dev/snd` belongs to playback, to recording, or to both (controls, timer,
/// sequencer). PCM nodes end in `p` (playback) or `c` (capture).
fn snd_node_for(name: &str, playback: bool, record: bool) -> bool {
    if name.starts_with("pcmC") {
        (playback && name.ends_with('p')) || (record && name.ends_with('c'))
    } else {
        (playback || record) && (name.starts_with("controlC") || name == "timer" || name == "seq")
    }
}

/// The names of the non-hidden entries at the top of the home `dir` (`snap` aside: the sandbox
/// makes its own). Called as the user: what the user cannot list, the app does not see.
pub fn home_entries(dir: BorrowedFd<'_>) -> Result<Vec<String>> {
    let what = || "cannot list the home directory".to_string();
    let d = sys::open_dir(dir, ".").what(what)?;
    let mut dir = nix::dir::Dir::from_fd(d).what(what)?;
    Ok(dir
        .iter()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().ok().map(str::to_string))
        .filter(|n| !n.starts_with('.') && n != "snap")
        .collect())
}

/// How many top-level entries of the home `home` presents (each is a mount).
const HOME_ENTRIES_MAX: usize = 2048;

/// Host paths (relative to `/usr/share`) that `desktop` brings in.
const DESKTOP_SHARE: &[&str] = &["fonts", "icons", "themes"];

fn parts(path: &str) -> Result<Vec<String>> {
    sys::components(Path::new(path)).map_err(Error::Invalid)
}

fn show(parts: &[String]) -> String {
    format!("/{}", parts.join("/"))
}

impl<'p> Builder<'p> {
    /// Start with a tmpfs on `rootfs` in `parent` (a directory of the snap's private area).
    pub fn new(
        power: Power,
        ids: (u32, u32, u32),
        home: &str,
        profile: &'p Profile,
        parent: BorrowedFd<'_>,
        name: &str,
    ) -> Result<Builder<'p>> {
        let (uid, gid, euid) = ids;
        let owner = (power == Power::Privileged).then_some((0, 0));
        let root = sys::mount_tmpfs(parent, name, 0o755, owner, MsFlags::empty())
            .what(|| "cannot mount the sandbox's root tmpfs".into())?;
        let mut b = Builder {
            power,
            uid,
            gid,
            euid,
            profile,
            home: home.trim_end_matches('/').to_string(),
            root,
            ours: HashSet::new(),
            extra_env: Vec::new(),
            wayland_display: "wayland-0".into(),
            writable: vec![
                parts(&format!("/var/snap/{}/{}", profile.snap, profile.revision))?,
                parts(&format!("/var/snap/{}/common", profile.snap))?,
            ],
        };
        let root_dev = sys::stat(b.root.as_fd()).what(|| "cannot stat the root tmpfs".into())?;
        b.ours.insert(root_dev.st_dev);
        Ok(b)
    }

    pub fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    fn mark_ours(&mut self, fd: BorrowedFd<'_>) -> Result<()> {
        let st = sys::stat(fd).what(|| "cannot stat a new tmpfs".into())?;
        self.ours.insert(st.st_dev);
        Ok(())
    }

    fn is_ours(&self, fd: BorrowedFd<'_>) -> bool {
        sys::stat(fd)
            .map(|st| self.ours.contains(&st.st_dev))
            .unwrap_or(false)
    }

    /// Entries we create belong to root in the privileged mode (we run with the user's ids and only
    /// borrow capabilities), to the user in a user namespace (where root does not exist).
    fn own(&self, dir: BorrowedFd<'_>, name: &str) -> Result<()> {
        if self.power == Power::Privileged && self.euid != 0 {
            sys::chown_at(dir, name, 0, 0).what(|| format!("cannot chown {name} to root"))?;
        }
        Ok(())
    }

    /// The owner to give a tmpfs that belongs to root (unnamed in a user namespace).
    fn root_owner(&self) -> Option<(u32, u32)> {
        (self.power == Power::Privileged).then_some((0, 0))
    }

    fn give_to_user(&self, dir: BorrowedFd<'_>, name: &str) -> Result<()> {
        if self.power == Power::Privileged {
            sys::chown_at(dir, name, self.uid, self.gid)
                .what(|| format!("cannot give {name} to the user"))?;
        }
        Ok(())
    }

    fn walk_error(&self, path: &[String], e: WalkError) -> Error {
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

    /// Open a sandbox path without following links.
    pub fn open(&self, path: &[String]) -> Result<OwnedFd> {
        sys::walk(self.root.as_fd(), path).map_err(|e| self.walk_error(path, e))
    }

    fn may_create_in(&self, dir: BorrowedFd<'_>, dir_path: &[String]) -> bool {
        self.is_ours(dir) || self.writable.iter().any(|w| dir_path.starts_with(w))
    }

    /// Make sure `path` exists as a directory (or, with `file`, a regular file as its last part),
    /// creating what is missing, and covering with a writable mimic any directory that is not ours
    /// to write. Returns the parent's descriptor and the last name.
    pub fn ensure(&mut self, path: &[String], file: bool, mode: u32) -> Result<(OwnedFd, String)> {
        let Some((last, dirs)) = path.split_last() else {
            return Err(Error::Invalid(
                "the sandbox's root cannot be a target".into(),
            ));
        };
        let mut cur = self
            .root
            .try_clone()
            .map_err(|_| Error::setup("cannot duplicate a descriptor", Errno::EMFILE))?;
        for (i, name) in path.iter().enumerate() {
            let is_last = i + 1 == path.len();
            let want = if is_last && file {
                Kind::File
            } else {
                Kind::Dir
            };
            match sys::open_path(cur.as_fd(), name) {
                Ok(fd) => {
                    let kind = sys::kind_of(
                        &sys::stat(fd.as_fd())
                            .what(|| format!("cannot stat {}", show(&path[..=i])))?,
                    );
                    if kind != want {
                        return Err(Error::Invalid(format!(
                            "{} is {} where {} is needed{}",
                            show(&path[..=i]),
                            describe(kind),
                            describe(want),
                            if kind == Kind::Symlink {
                                ": the sandbox never follows links there"
                            } else {
                                ""
                            }
                        )));
                    }
                    if is_last {
                        break;
                    }
                    cur = fd;
                }
                Err(Errno::ENOENT) => {
                    if !self.may_create_in(cur.as_fd(), &path[..i]) {
                        cur = self.mimic(&path[..i])?;
                    }
                    let res = if want == Kind::File {
                        sys::touch_at(cur.as_fd(), name, 0o644)
                    } else {
                        sys::mkdir_at(cur.as_fd(), name, if is_last { mode } else { 0o755 })
                    };
                    res.map_err(|errno| {
                        if errno == Errno::EACCES || errno == Errno::EPERM {
                            Error::Invalid(format!(
                                "cannot create {}: {errno} (the helper creates layout sources in the snap's data directories at install)",
                                show(&path[..=i])
                            ))
                        } else {
                            Error::setup(format!("cannot create {}", show(&path[..=i])), errno)
                        }
                    })?;
                    self.own(cur.as_fd(), name)?;
                    if is_last {
                        break;
                    }
                    cur = sys::open_path(cur.as_fd(), name)
                        .what(|| format!("cannot open {}", show(&path[..=i])))?;
                }
                Err(errno) => {
                    return Err(Error::setup(
                        format!("cannot open {}", show(&path[..=i])),
                        errno,
                    ))
                }
            }
        }
        let _ = dirs;
        Ok((cur, last.clone()))
    }

    /// Cover the directory `path` with a tmpfs of the same mode and owner, and put its entries
    /// back: directories and files bound from the original, symbolic links recreated. Returns the
    /// new tmpfs.
    fn mimic(&mut self, path: &[String]) -> Result<OwnedFd> {
        let Some((name, parent_path)) = path.split_last() else {
            return Err(Error::Invalid("cannot mimic the sandbox's root".into()));
        };
        let parent = self.open(parent_path)?;
        let original =
            sys::open_dir(parent.as_fd(), name).what(|| format!("cannot read {}", show(path)))?;
        let st = sys::stat(original.as_fd()).what(|| format!("cannot stat {}", show(path)))?;
        let owner = match self.power {
            Power::Privileged => Some((st.st_uid, st.st_gid)),
            Power::UserNamespace => {
                (st.st_uid == self.uid && st.st_gid == self.gid).then_some((st.st_uid, st.st_gid))
            }
        };
        let entries: Vec<String> = {
            let dup = original
                .try_clone()
                .map_err(|_| Error::setup("cannot duplicate a descriptor", Errno::EMFILE))?;
            let mut dir =
                nix::dir::Dir::from_fd(dup).what(|| format!("cannot list {}", show(path)))?;
            dir.iter()
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().ok().map(str::to_string))
                .filter(|n| n != "." && n != "..")
                .collect()
        };
        let tmpfs = sys::mount_tmpfs(parent.as_fd(), name, st.st_mode, owner, MsFlags::empty())
            .what(|| format!("cannot mount the writable mimic of {}", show(path)))?;
        self.mark_ours(tmpfs.as_fd())?;
        for entry in entries {
            let est = match sys::stat_at(original.as_fd(), &entry) {
                Ok(st) => st,
                Err(_) => continue,
            };
            let what = || format!("cannot mimic {}/{entry}", show(path));
            match sys::kind_of(&est) {
                Kind::Dir => {
                    sys::mkdir_at(tmpfs.as_fd(), &entry, 0o755).what(what)?;
                    let src = sys::open_path(original.as_fd(), &entry).what(what)?;
                    sys::bind(src.as_fd(), tmpfs.as_fd(), &entry, true).what(what)?;
                }
                Kind::File => {
                    sys::touch_at(tmpfs.as_fd(), &entry, 0o644).what(what)?;
                    let src = sys::open_path(original.as_fd(), &entry).what(what)?;
                    sys::bind(src.as_fd(), tmpfs.as_fd(), &entry, false).what(what)?;
                }
                Kind::Symlink => {
                    let target = sys::readlink_at(original.as_fd(), &entry).what(what)?;
                    let target = target.to_str().ok_or_else(|| {
                        Error::Invalid(format!("{}/{entry} is not UTF-8", show(path)))
                    })?;
                    sys::symlink_at(target, tmpfs.as_fd(), &entry).what(what)?;
                    if owner.is_some() && self.power == Power::Privileged {
                        sys::chown_at(tmpfs.as_fd(), &entry, est.st_uid, est.st_gid).what(what)?;
                    }
                }
                // Device nodes, sockets and pipes are not part of what a layout may need.
                Kind::CharDevice | Kind::Other => {}
            }
        }
        Ok(tmpfs)
    }

    /// The base snap's top level, the host's `/etc`, `/sys`, `/var/tmp`, and a procfs of the sandbox's
    /// own PID namespace.
    pub fn populate(&mut self, host: &HostDirs) -> Result<()> {
        let root = self
            .root
            .try_clone()
            .map_err(|_| Error::setup("cannot duplicate a descriptor", Errno::EMFILE))?;
        for top in OWN_TOP {
            sys::mkdir_at(root.as_fd(), top, 0o755).what(|| format!("cannot create /{top}"))?;
            self.own(root.as_fd(), top)?;
        }
        // The base's top level.
        let base_entries: Vec<String> = {
            let d = sys::open_dir(host.base.as_fd(), ".")
                .what(|| "cannot read the base snap".into())?;
            let mut dir = nix::dir::Dir::from_fd(d).what(|| "cannot read the base snap".into())?;
            dir.iter()
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().ok().map(str::to_string))
                .filter(|n| n != "." && n != ".." && n != "meta" && !OWN_TOP.contains(&n.as_str()))
                .collect()
        };
        for name in base_entries {
            let what = || format!("cannot take /{name} from the base snap");
            let st = sys::stat_at(host.base.as_fd(), &name).what(what)?;
            match sys::kind_of(&st) {
                Kind::Dir => {
                    sys::mkdir_at(root.as_fd(), &name, 0o755).what(what)?;
                    self.own(root.as_fd(), &name)?;
                    let src = sys::open_path(host.base.as_fd(), &name).what(what)?;
                    // Read-only: a squashfs is so already (the bind keeps that); an extracted
                    // base (kernels without loop devices) is made so here.
                    let top = sys::bind(src.as_fd(), root.as_fd(), &name, true).what(what)?;
                    if !sys::is_read_only(top.as_fd()).what(what)? {
                        sys::remount_read_only(top.as_fd()).what(what)?;
                    }
                }
                Kind::Symlink => {
                    let target = sys::readlink_at(host.base.as_fd(), &name).what(what)?;
                    if let Some(t) = target.to_str() {
                        sys::symlink_at(t, root.as_fd(), &name).what(what)?;
                        self.own(root.as_fd(), &name)?;
                    }
                }
                _ => {}
            }
        }
        // The host's /etc, with the base's own name-service configuration over it.
        let etc = self.bind_host(host, "etc", root.as_fd(), "etc", true, true)?;
        if let Ok(base_etc) = sys::walk(host.base.as_fd(), &["etc".to_string()]) {
            for name in BASE_ETC {
                let (Ok(src), Ok(dst)) = (
                    sys::open_path(base_etc.as_fd(), name),
                    sys::open_path(etc.as_fd(), name),
                ) else {
                    continue;
                };
                let (Ok(s1), Ok(s2)) = (sys::stat(src.as_fd()), sys::stat(dst.as_fd())) else {
                    continue;
                };
                let (k1, k2) = (sys::kind_of(&s1), sys::kind_of(&s2));
                if k1 == k2 && matches!(k1, Kind::Dir | Kind::File) {
                    sys::bind(src.as_fd(), etc.as_fd(), name, k1 == Kind::Dir)
                        .what(|| format!("cannot put the base's /etc/{name} in place"))?;
                }
            }
        }
        // The sandbox's own procfs: the PID namespace's processes only, never the host's (whose
        // /proc/<pid>/root would lead out of the sandbox).
        let proc = sys::mount_proc(root.as_fd(), "proc").what(|| "cannot mount /proc".into())?;
        if self.uid == 0 {
            // An app run as root keeps its uid: the kernel's knobs stay read-only for it.
            for knob in PROC_READ_ONLY {
                let Ok(src) = sys::open_path(proc.as_fd(), knob) else {
                    continue;
                };
                let dir = sys::stat(src.as_fd()).map(|st| sys::kind_of(&st) == Kind::Dir);
                let top = sys::bind(src.as_fd(), proc.as_fd(), knob, dir == Ok(true))
                    .what(|| format!("cannot cover /proc/{knob}"))?;
                sys::remount_read_only(top.as_fd())
                    .what(|| format!("cannot make /proc/{knob} read-only"))?;
            }
        }
        let sys_top = self.bind_host(host, "sys", root.as_fd(), "sys", true, false)?;
        sys::remount_read_only(sys_top.as_fd()).what(|| "cannot make /sys read-only".into())?;
        // /var/tmp is the host's, as in snapd, when the base has the mount point.
        if let (Ok(var), Ok(_)) = (
            sys::open_path(root.as_fd(), "var"),
            sys::walk(host.host.as_fd(), &["var".into(), "tmp".into()]),
        ) {
            if sys::open_path(var.as_fd(), "tmp").is_ok() {
                let src = sys::walk(host.host.as_fd(), &["var".into(), "tmp".into()])
                    .map_err(|e| self.walk_error(&["var".into(), "tmp".into()], e))?;
                sys::bind(src.as_fd(), var.as_fd(), "tmp", true)
                    .what(|| "cannot bind /var/tmp".into())?;
            }
        }
        Ok(())
    }

    /// Bind the host's `/<host_name>` onto `name` in `parent`.
    fn bind_host(
        &self,
        host: &HostDirs,
        host_name: &str,
        parent: BorrowedFd<'_>,
        name: &str,
        recursive: bool,
        read_only: bool,
    ) -> Result<OwnedFd> {
        let what = || format!("cannot bind the host's /{host_name}");
        let src = sys::open_path(host.host.as_fd(), host_name).what(what)?;
        let top = sys::bind(src.as_fd(), parent, name, recursive).what(what)?;
        if read_only {
            sys::remount_read_only(top.as_fd()).what(what)?;
        }
        Ok(top)
    }

    /// A minimal `/dev`: the basic nodes bound from the host, a new devpts, a private `/dev/shm`,
    /// and the nodes that connected interfaces grant.
    pub fn dev(&mut self, host: &HostDirs) -> Result<()> {
        let what = |s: &str| format!("cannot set up /dev/{s}");
        let dev = sys::mount_tmpfs(
            self.root.as_fd(),
            "dev",
            0o755,
            self.root_owner(),
            MsFlags::MS_NOEXEC,
        )
        .what(|| what(""))?;
        let host_dev = sys::open_path(host.host.as_fd(), "dev").what(|| what(""))?;
        let mut nodes: Vec<String> = DEVICES.iter().map(|s| s.to_string()).collect();
        let granted: Vec<&str> = INTERFACE_DEVICES
            .iter()
            .filter(|(iface, _)| self.profile.plug_connected(iface))
            .flat_map(|(_, prefixes)| prefixes.iter().copied())
            .collect();
        if !granted.is_empty() {
            let d = sys::open_dir(host_dev.as_fd(), ".").what(|| what(""))?;
            let mut dir = nix::dir::Dir::from_fd(d).what(|| what(""))?;
            for e in dir.iter().filter_map(|e| e.ok()) {
                if let Ok(n) = e.file_name().to_str() {
                    if granted.iter().any(|p| n.starts_with(p)) {
                        nodes.push(n.to_string());
                    }
                }
            }
        }
        for node in nodes {
            let Ok(src) = sys::open_path(host_dev.as_fd(), &node) else {
                continue;
            };
            let st = sys::stat(src.as_fd()).what(|| what(&node))?;
            match sys::kind_of(&st) {
                Kind::CharDevice => sys::touch_at(dev.as_fd(), &node, 0o644),
                Kind::Dir => sys::mkdir_at(dev.as_fd(), &node, 0o755),
                _ => continue,
            }
            .what(|| what(&node))?;
            sys::bind(src.as_fd(), dev.as_fd(), &node, true).what(|| what(&node))?;
        }
        let playback = self.profile.plug_connected("audio-playback");
        let record = self.profile.plug_connected("audio-record");
        if playback || record {
            if let Ok(host_snd) = sys::open_dir(host_dev.as_fd(), "snd") {
                sys::mkdir_at(dev.as_fd(), "snd", 0o755).what(|| what("snd"))?;
                let snd = sys::open_path(dev.as_fd(), "snd").what(|| what("snd"))?;
                let names: Vec<String> = {
                    let d = sys::open_dir(host_snd.as_fd(), ".").what(|| what("snd"))?;
                    let mut dir = nix::dir::Dir::from_fd(d).what(|| what("snd"))?;
                    dir.iter()
                        .filter_map(|e| e.ok())
                        .filter_map(|e| e.file_name().to_str().ok().map(str::to_string))
                        .filter(|n| snd_node_for(n, playback, record))
                        .collect()
                };
                for n in names {
                    let Ok(src) = sys::open_path(host_snd.as_fd(), &n) else {
                        continue;
                    };
                    if sys::stat(src.as_fd()).map(|st| sys::kind_of(&st)) != Ok(Kind::CharDevice) {
                        continue;
                    }
                    sys::touch_at(snd.as_fd(), &n, 0o644).what(|| what(&n))?;
                    sys::bind(src.as_fd(), snd.as_fd(), &n, false).what(|| what(&n))?;
                }
            }
        }
        for dir in ["pts", "shm"] {
            sys::mkdir_at(dev.as_fd(), dir, 0o755).what(|| what(dir))?;
        }
        // gid 5 is the tty group on Debian; a user namespace cannot name it.
        let tty_gid = (self.power == Power::Privileged).then_some(5);
        sys::mount_devpts(dev.as_fd(), "pts", tty_gid).what(|| what("pts"))?;
        let shm = sys::mount_tmpfs(dev.as_fd(), "shm", 0o1777, None, MsFlags::empty())
            .what(|| what("shm"))?;
        self.mark_ours(shm.as_fd())?;
        for (name, target) in [
            ("ptmx", "pts/ptmx"),
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ] {
            sys::symlink_at(target, dev.as_fd(), name).what(|| what(name))?;
            self.own(dev.as_fd(), name)?;
        }
        sys::remount_read_only(dev.as_fd()).what(|| what(""))?;
        Ok(())
    }

    /// `/tmp` (the snap's private one), `/run` (with the app's runtime directory), `/snap`, and
    /// `/var/snap/<name>` alone.
    pub fn snap_dirs(&mut self, host: &HostDirs) -> Result<()> {
        let root = self
            .root
            .try_clone()
            .map_err(|_| Error::setup("cannot duplicate a descriptor", Errno::EMFILE))?;
        sys::bind(host.private_tmp.as_fd(), root.as_fd(), "tmp", false)
            .what(|| "cannot bind the private /tmp".into())?;
        let name = self.profile.snap.clone();

        let run = sys::mount_tmpfs(
            root.as_fd(),
            "run",
            0o755,
            self.root_owner(),
            MsFlags::empty(),
        )
        .what(|| "cannot mount /run".into())?;
        self.mark_ours(run.as_fd())?;
        let runtime = parts(&format!("/run/user/{}/snap.{name}", self.uid))?;
        let (parent, last) = self.ensure(&runtime, false, 0o700)?;
        self.give_to_user(parent.as_fd(), &last)?;
        if let Some(host_runtime) = &host.runtime {
            sys::bind(host_runtime.as_fd(), parent.as_fd(), &last, false)
                .what(|| "cannot bind the runtime directory".into())?;
        }

        let snap = sys::bind(host.snap_mounts.as_fd(), root.as_fd(), "snap", true)
            .what(|| "cannot bind /snap".into())?;
        sys::remount_read_only(snap.as_fd()).what(|| "cannot make /snap read-only".into())?;

        // Other snaps' data is not there: /var/snap holds this snap's directory only.
        let (var, _) = self.ensure(&parts("/var/snap")?, false, 0o755)?;
        let var_snap = sys::mount_tmpfs(
            var.as_fd(),
            "snap",
            0o755,
            self.root_owner(),
            MsFlags::empty(),
        )
        .what(|| "cannot mount /var/snap".into())?;
        self.mark_ours(var_snap.as_fd())?;
        sys::mkdir_at(var_snap.as_fd(), &name, 0o755)
            .what(|| "cannot create /var/snap/<name>".into())?;
        self.own(var_snap.as_fd(), &name)?;
        sys::bind(host.snap_data.as_fd(), var_snap.as_fd(), &name, true)
            .what(|| "cannot bind the snap's data".into())?;
        Ok(())
    }

    /// The user's home: all of it with `home` connected (but `~/snap` holding this snap only),
    /// otherwise just `~/snap/<name>`.
    pub fn home(&mut self, host: &HostDirs) -> Result<()> {
        let Some(user_snap) = &host.user_snap else {
            return Ok(());
        };
        let home = parts(&self.home)?;
        if home.is_empty() {
            return Ok(());
        }
        let name = self.profile.snap.clone();
        let snap_dir = {
            let mut p = home.clone();
            p.push("snap".into());
            p
        };
        if let Some((home_fd, names)) = &host.home {
            let (parent, last) = self.ensure(&home, false, 0o755)?;
            let home_top = self.home_view(home_fd.as_fd(), names, parent.as_fd(), &last)?;
            let snaps = sys::mount_tmpfs(
                home_top.as_fd(),
                "snap",
                0o700,
                Some((self.uid, self.gid)),
                MsFlags::empty(),
            )
            .what(|| "cannot cover ~/snap".into())?;
            self.mark_ours(snaps.as_fd())?;
            sys::mkdir_at(snaps.as_fd(), &name, 0o755)
                .what(|| "cannot create ~/snap/<name>".into())?;
            sys::bind(user_snap.as_fd(), snaps.as_fd(), &name, true)
                .what(|| "cannot bind ~/snap/<name>".into())?;
            sys::remount_read_only(home_top.as_fd())
                .what(|| "cannot make the home's top level read-only".into())?;
        } else {
            let mut target = snap_dir.clone();
            target.push(name);
            let (parent, last) = self.ensure(&target, false, 0o755)?;
            sys::bind(user_snap.as_fd(), parent.as_fd(), &last, true)
                .what(|| "cannot bind ~/snap/<name>".into())?;
        }
        Ok(())
    }

    /// `home` grants the non-hidden files (snapd's `owner @{HOME}/[^.]**`). The home's top level is
    /// the sandbox's own tmpfs (made read-only once `~/snap` is in it) with each non-hidden entry
    /// of the real home bound in: directories and files stay writable, but no entry can be made,
    /// removed or replaced at the top, so no dot-file or dot-directory (`~/.bash_profile`,
    /// `~/.config/autostart`) can be planted, whether it existed or not. The price: new top-level
    /// files cannot be made either (they go into the existing folders), and entries the user adds
    /// to the top while the app runs do not show in it.
    fn home_view(
        &mut self,
        home_fd: BorrowedFd<'_>,
        names: &[String],
        parent: BorrowedFd<'_>,
        name: &str,
    ) -> Result<OwnedFd> {
        let what = |n: &str| format!("cannot present ~/{n}");
        let st = sys::stat(home_fd).what(|| what(""))?;
        let top = sys::mount_tmpfs(
            parent,
            name,
            st.st_mode & 0o777,
            Some((self.uid, self.gid)),
            MsFlags::empty(),
        )
        .what(|| what(""))?;
        self.mark_ours(top.as_fd())?;
        sys::mkdir_at(top.as_fd(), "snap", 0o700).what(|| what("snap"))?;
        if names.len() > HOME_ENTRIES_MAX {
            eprintln!(
                "snapshelf-confine: the home has {} entries at its top level; the app sees the \
                 first {HOME_ENTRIES_MAX}",
                names.len()
            );
        }
        for n in names.iter().take(HOME_ENTRIES_MAX) {
            let n = n.as_str();
            let Ok(src) = sys::open_path(home_fd, n) else {
                continue;
            };
            let Ok(est) = sys::stat(src.as_fd()) else {
                continue;
            };
            match sys::kind_of(&est) {
                Kind::Dir => {
                    sys::mkdir_at(top.as_fd(), n, 0o755).what(|| what(n))?;
                    sys::bind(src.as_fd(), top.as_fd(), n, true).what(|| what(n))?;
                }
                Kind::File => {
                    sys::touch_at(top.as_fd(), n, 0o644).what(|| what(n))?;
                    sys::bind(src.as_fd(), top.as_fd(), n, false).what(|| what(n))?;
                }
                Kind::Symlink => {
                    let target = sys::readlink_at(home_fd, n).what(|| what(n))?;
                    if let Some(t) = target.to_str() {
                        sys::symlink_at(t, top.as_fd(), n).what(|| what(n))?;
                    }
                }
                // Devices, sockets and pipes at the top of a home are not the user's files.
                Kind::CharDevice | Kind::Other => {}
            }
        }
        Ok(top)
    }

    /// `/media`, `/run/media` and `/mnt` from the host, with `removable-media`; the X11 sockets
    /// with `x11`.
    pub fn interfaces(&mut self, host: &HostDirs) -> Result<()> {
        let root = self
            .root
            .try_clone()
            .map_err(|_| Error::setup("cannot duplicate a descriptor", Errno::EMFILE))?;
        if self.profile.plug_connected("removable-media") {
            for top in ["media", "mnt"] {
                if sys::walk(host.host.as_fd(), &[top.to_string()]).is_ok() {
                    self.bind_host(host, top, root.as_fd(), top, true, false)?;
                }
            }
            if let Ok(src) = sys::walk(host.host.as_fd(), &["run".into(), "media".into()]) {
                let (parent, last) = self.ensure(&parts("/run/media")?, false, 0o755)?;
                sys::bind(src.as_fd(), parent.as_fd(), &last, true)
                    .what(|| "cannot bind /run/media".into())?;
            }
        }
        let runtime = format!("/run/user/{}", self.uid);
        let runtime_parts = parts(&runtime)?;
        let user_socket = |name: &str| -> Option<OwnedFd> {
            let mut p = runtime_parts.clone();
            p.extend(parts(name).ok()?);
            let fd = sys::walk(host.host.as_fd(), &p).ok()?;
            // Only the user's own sockets: the runtime directory is the user's to fill.
            let st = sys::stat(fd.as_fd()).ok()?;
            (st.st_uid == self.uid && sys::kind_of(&st) == Kind::Other).then_some(fd)
        };
        let mut sockets: Vec<(String, OwnedFd)> = Vec::new();
        if self.profile.plug_connected("wayland") {
            let name = self.wayland_display.clone();
            if let Some(fd) = user_socket(&name) {
                self.extra_env
                    .push(("WAYLAND_DISPLAY".into(), format!("{runtime}/{name}")));
                sockets.push((name, fd));
            }
        }
        if self.profile.plug_connected("audio-playback")
            || self.profile.plug_connected("audio-record")
        {
            if let Some(fd) = user_socket("pulse/native") {
                self.extra_env.push((
                    "PULSE_SERVER".into(),
                    format!("unix:{runtime}/pulse/native"),
                ));
                sockets.push(("pulse/native".into(), fd));
            }
            if let Some(fd) = user_socket("pipewire-0") {
                sockets.push(("pipewire-0".into(), fd));
            }
        }
        for (name, src) in sockets {
            let mut target = runtime_parts.clone();
            target.extend(parts(&name)?);
            let (parent, last) = self.ensure(&target, true, 0o644)?;
            sys::bind(src.as_fd(), parent.as_fd(), &last, false)
                .what(|| format!("cannot bind {runtime}/{name}"))?;
        }
        if self.profile.plug_connected("desktop") {
            for share in DESKTOP_SHARE {
                let host_parts = s3("usr", "share", share);
                if let Ok(src) = sys::walk(host.host.as_fd(), &host_parts) {
                    let (parent, last) = self.ensure(&host_parts, false, 0o755)?;
                    let top = sys::bind(src.as_fd(), parent.as_fd(), &last, true)
                        .what(|| format!("cannot bind /usr/share/{share}"))?;
                    sys::remount_read_only(top.as_fd())
                        .what(|| format!("cannot make /usr/share/{share} read-only"))?;
                }
            }
        }
        if self.profile.plug_connected("x11") {
            if let Ok(src) = sys::walk(host.host.as_fd(), &["tmp".into(), ".X11-unix".into()]) {
                let tmp = sys::open_path(root.as_fd(), "tmp").what(|| "cannot open /tmp".into())?;
                if sys::open_path(tmp.as_fd(), ".X11-unix").is_ok() {
                    sys::bind(src.as_fd(), tmp.as_fd(), ".X11-unix", false)
                        .what(|| "cannot bind the X11 sockets".into())?;
                }
            }
        }
        Ok(())
    }

    /// The snap's layouts, parents before children.
    pub fn layouts(&mut self) -> Result<()> {
        let p = self.profile;
        let roots = SourceRoots {
            snap: format!("/snap/{}/{}", p.snap, p.revision).into(),
            data: format!("/var/snap/{}/{}", p.snap, p.revision).into(),
            common: format!("/var/snap/{}/common", p.snap).into(),
        };
        let mut layouts: Vec<&ProfileLayout> = p.layouts.iter().collect();
        layouts.sort_by(|a, b| a.path.cmp(&b.path));
        for l in layouts {
            let target = parts(&l.path)?;
            let source = || -> Result<(String, Vec<String>)> {
                let s = expand_source(&l.source, &roots)
                    .map_err(|e| Error::Invalid(format!("layout {}: {e}", l.path)))?;
                let s = s.to_string_lossy().to_string();
                let sp = parts(&s)?;
                Ok((s, sp))
            };
            let what = || format!("cannot lay out {}", l.path);
            match l.kind.as_str() {
                "bind" | "bind-file" => {
                    let file = l.kind == "bind-file";
                    let (_, src_parts) = source()?;
                    let (sp, sn) = self.ensure(&src_parts, file, 0o755)?;
                    let src = sys::open_path(sp.as_fd(), &sn).what(what)?;
                    let (tp, tn) = self.ensure(&target, file, l.mode)?;
                    sys::bind(src.as_fd(), tp.as_fd(), &tn, !file).what(what)?;
                }
                "symlink" => {
                    let (src, _) = source()?;
                    let Some((name, dir)) = target.split_last() else {
                        return Err(Error::Invalid("a layout cannot target /".into()));
                    };
                    let (pp, pn) = self.ensure(dir, false, 0o755)?;
                    let mut parent = sys::open_path(pp.as_fd(), &pn).what(what)?;
                    match sys::readlink_at(parent.as_fd(), name) {
                        Ok(existing) if existing.to_str() == Some(src.as_str()) => continue,
                        Ok(_) => {
                            return Err(Error::Invalid(format!(
                                "layout {}: a different symbolic link is already there",
                                l.path
                            )))
                        }
                        Err(Errno::ENOENT) => {}
                        Err(_) => {
                            return Err(Error::Invalid(format!(
                                "layout {}: something that is not a symbolic link is already there",
                                l.path
                            )))
                        }
                    }
                    if !self.may_create_in(parent.as_fd(), dir) {
                        parent = self.mimic(dir)?;
                    }
                    sys::symlink_at(&src, parent.as_fd(), name).what(what)?;
                    self.own(parent.as_fd(), name)?;
                }
                "tmpfs" => {
                    let (tp, tn) = self.ensure(&target, false, l.mode)?;
                    let owner = self.root_owner();
                    let fs = sys::mount_tmpfs(tp.as_fd(), &tn, l.mode, owner, MsFlags::empty())
                        .what(what)?;
                    self.mark_ours(fs.as_fd())?;
                }
                other => {
                    return Err(Error::Invalid(format!(
                        "layout {}: unknown kind {other:?}",
                        l.path
                    )))
                }
            }
        }
        Ok(())
    }
}

fn s3(a: &str, b: &str, c: &str) -> Vec<String> {
    vec![a.to_string(), b.to_string(), c.to_string()]
}

fn describe(k: Kind) -> &'static str {
    match k {
        Kind::Dir => "a directory",
        Kind::File => "a regular file",
        Kind::Symlink => "a symbolic link",
        Kind::CharDevice => "a device",
        Kind::Other => "a special file",
    }
}
