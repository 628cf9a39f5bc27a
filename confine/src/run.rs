//! One launch, in order: who is calling and with what power, the app's profile, the user's data
//! directories (made as the user), the snap's private area (locked per snap), the namespace, the
//! sandbox's file system, pivot_root, dropping every privilege, the system-call filter, exec.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::ffi::{CString, OsString};
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use caps::{CapSet, Capability};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{chdir, fchdir, getresgid, getresuid, pivot_root};
use snapshelf_snap::layout::{validate_layouts, Layout, LayoutKind};
use snapshelf_snap::profile::Profile;

use crate::env::{self, SnapPaths, User};
use crate::error::{Context, Error, Result};
use crate::sandbox::{Builder, HostDirs, Power};
use crate::seccomp;
use crate::sys::{self, Kind};
use crate::{init, landlock};

pub const USAGE: &str = "usage: snapshelf-confine [--root DIR] <snap>.<app> [ARGS...]";

/// The command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub root: Option<PathBuf>,
    pub snap: String,
    pub app: String,
    pub args: Vec<String>,
}

/// Parse the command line (without the program name). Options end at the first non-option: what
/// follows `<snap>.<app>` belongs to the app.
pub fn parse_args(args: Vec<OsString>) -> Result<Invocation> {
    let mut it = args.into_iter().map(|a| {
        a.into_string()
            .map_err(|_| Error::Usage("arguments must be UTF-8".into()))
    });
    let mut root = None;
    let target = loop {
        match it.next().transpose()? {
            None => return Err(Error::Usage(USAGE.into())),
            Some(a) if a == "--root" => {
                let dir = it
                    .next()
                    .transpose()?
                    .ok_or_else(|| Error::Usage("--root needs a directory".into()))?;
                root = Some(PathBuf::from(dir));
            }
            Some(a) if a.starts_with("--root=") => root = Some(PathBuf::from(&a[7..])),
            Some(a) if a.starts_with('-') => {
                return Err(Error::Usage(format!("unknown option {a}\n{USAGE}")))
            }
            Some(a) => break a,
        }
    };
    let (snap, app) = target
        .split_once('.')
        .map(|(s, a)| (s.to_string(), a.to_string()))
        .unwrap_or_else(|| (target.clone(), target.clone()));
    snapshelf_snap::naming::validate_snap_name(&snap)
        .map_err(|e| Error::Usage(format!("{target:?}: {e}")))?;
    snapshelf_snap::naming::validate_app_name(&app)
        .map_err(|e| Error::Usage(format!("{target:?}: {e}")))?;
    let args = it.collect::<Result<Vec<_>>>()?;
    Ok(Invocation {
        root,
        snap,
        app,
        args,
    })
}

fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    fd.try_clone_to_owned()
        .map_err(|_| Error::setup("cannot duplicate a descriptor", Errno::EMFILE))
}

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
    let mut text = String::new();
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

/// The directory `name` in `dir`, made with `mode` if missing, and checked to be a real directory
/// owned by `uid` (and, with `exact`, of exactly that mode): a directory someone else prepared is
/// refused.
fn own_dir(
    dir: BorrowedFd<'_>,
    name: &str,
    mode: u32,
    owner: Option<(u32, u32)>,
    expect_uid: u32,
    exact: bool,
    show: &dyn Fn() -> String,
) -> Result<OwnedFd> {
    match owner {
        None => match nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(mode)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(Error::setup(format!("cannot create {}", show()), e)),
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

fn random_u64() -> u64 {
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

/// `~/snap/<name>/<rev>`, `common` and `current`, made as the user (no privilege is in effect).
fn user_data(home: &str, p: &Profile, uid: u32) -> Result<Option<OwnedFd>> {
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

fn raise(power: Power) -> Result<()> {
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
fn as_user<T>(power: Power, f: impl FnOnce() -> Result<T>) -> Result<T> {
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
fn drop_privileges() -> Result<()> {
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

/// The namespaces of a sandbox: mounts, PIDs (so that `/proc` shows the app's own processes only),
/// and with `private_network` the network (see [`crate::landlock`]). The PID namespace takes
/// effect for the children made after this call.
fn enter_namespace(power: Power, uid: u32, gid: u32, private_network: bool) -> Result<()> {
    let mut flags = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID;
    if private_network {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    match power {
        Power::Privileged => unshare(flags).map_err(|errno| Error::Unsupported {
            what: "cannot create the sandbox's mount, PID and network namespaces".into(),
            errno,
        })?,
        Power::UserNamespace => {
            unshare(CloneFlags::CLONE_NEWUSER | flags).map_err(|errno| Error::Unsupported {
                what: "cannot create a user namespace (unprivileged user namespaces may be \
                           disabled: sysctl kernel.unprivileged_userns_clone or \
                           user.max_user_namespaces; or install snapshelf-confine with its file \
                           capabilities)"
                    .into(),
                errno,
            })?;
            let write = |file: &str, text: String| {
                std::fs::write(format!("/proc/self/{file}"), text).map_err(|e| {
                    Error::setup(
                        format!("cannot write /proc/self/{file}"),
                        Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
                    )
                })
            };
            write("setgroups", "deny".into())?;
            write("uid_map", format!("{uid} {uid} 1"))?;
            write("gid_map", format!("{gid} {gid} 1"))?;
        }
    }
    // Nothing we mount goes back to the host; what the host mounts later (a USB stick) still
    // reaches us.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .what(|| "cannot make the mount namespace a slave of the host's".into())
}

/// The snap's private area under `<root>/tmp`: `snapshelf-private[-<uid>]/snap.<name>` (locked while
/// we build), with `tmp` (the sandbox's `/tmp`) and `rootfs` (where the root is assembled).
struct Private {
    snap_dir: OwnedFd,
    tmp: OwnedFd,
    /// Held (flock) until the app starts.
    _lock: OwnedFd,
}

fn private_area(
    root: BorrowedFd<'_>,
    power: Power,
    p: &Profile,
    uid: u32,
    euid: u32,
) -> Result<Private> {
    // Where nobody else can make the directory first (which would stop our launches): the root's
    // /run for the privileged mode, the user's own runtime directory for the user-namespace mode;
    // the root's /tmp (sticky, shared) only where those are missing.
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
    let (tmp_root, base, top) = match preferred {
        Some(p) => p,
        None => {
            let fd = sys::walk(root, &s(&["tmp"]))
                .map_err(|_| Error::NotInstalled("the root has no /tmp".into()))?;
            let top = match power {
                Power::Privileged => "snapshelf-private".to_string(),
                Power::UserNamespace => format!("snapshelf-private-{uid}"),
            };
            (fd, "/tmp".to_string(), top)
        }
    };
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

fn base_dir(root: BorrowedFd<'_>, p: &Profile) -> Result<OwnedFd> {
    if p.base.is_empty() {
        return Err(Error::NotInstalled(format!(
            "snap {:?} names no base snap, and this system has no default base",
            p.snap
        )));
    }
    let missing = || Error::NotInstalled(format!("the base snap {:?} is not installed", p.base));
    let dir = sys::walk(root, &s(&["snap", &p.base])).map_err(|_| missing())?;
    let current = sys::readlink_at(dir.as_fd(), "current").map_err(|_| missing())?;
    let current = current
        .to_str()
        .filter(|c| !c.contains('/') && *c != ".." && *c != ".")
        .ok_or_else(|| {
            Error::Untrusted(format!("the base {:?} has a strange current link", p.base))
        })?
        .to_string();
    let fd = sys::walk(dir.as_fd(), &[current]).map_err(|_| missing())?;
    if sys::kind_of(&sys::stat(fd.as_fd()).what(|| "cannot stat the base".into())?) != Kind::Dir {
        return Err(missing());
    }
    Ok(fd)
}

/// Everything a launch decides from, gathered and checked before anything is changed: who calls
/// and with what power, the root, the app's profile, the user, what the filter and Landlock will
/// be, and the little taken from the caller's environment.
struct Launch {
    inv: Invocation,
    power: Power,
    root_path: PathBuf,
    profile: Profile,
    user: User,
    allow: seccomp::Allowances,
    compiled: Option<Vec<u8>>,
    landlock: landlock::Plan,
    /// The caller's umask, given back to the app (confine works with none).
    umask: Mode,
    cwd: Option<PathBuf>,
    /// The Wayland socket's name: only a plain name, and only the user's own socket is used.
    wayland_display: Option<String>,
}

/// Everything up to exec, in order: [`Launch::gather`], then (strict confinement) the steps of
/// [`Launch`]: `check_installed`, `make_user_data`, `enter_namespaces` (the launcher stays outside
/// as the monitor), `private_area`, `host_dirs`, `build_and_enter`, `start_app`. Returns only on
/// error.
pub fn run(inv: Invocation) -> Result<Infallible> {
    let launch = Launch::gather(inv)?;
    if launch.profile.confinement == "classic" {
        return launch.run_classic();
    }
    launch.check_installed()?;
    launch.make_user_data()?;
    let status = launch.enter_namespaces()?;
    let private = launch.private_area()?;
    let host = launch.host_dirs(&private)?;
    let extra_env = launch.build_and_enter(&host, &private)?;
    drop(host);
    launch.start_app(private, &extra_env, status)
}

impl Launch {
    fn gather(inv: Invocation) -> Result<Launch> {
        let r = getresuid().what(|| "getresuid".into())?;
        let g = getresgid().what(|| "getresgid".into())?;
        let (uid, gid, euid) = (r.real.as_raw(), g.real.as_raw(), r.effective.as_raw());
        if euid != uid && euid == 0 {
            return Err(Error::Untrusted(
                "snapshelf-confine is not meant to be set-uid: install it with file capabilities"
                    .into(),
            ));
        }
        let permitted = caps::read(None, CapSet::Permitted).map_err(|e| Error::Unsupported {
            what: format!("cannot read capabilities: {e}"),
            errno: Errno::EPERM,
        })?;
        let power = if permitted.contains(&Capability::CAP_SYS_ADMIN) {
            Power::Privileged
        } else {
            Power::UserNamespace
        };
        if inv.root.is_some() && uid != 0 && !permitted.is_empty() {
            return Err(Error::Untrusted(
                "--root is honoured only for root or for a copy of snapshelf-confine without \
                 privileges"
                    .into(),
            ));
        }
        let root_path = inv.root.clone().unwrap_or_else(|| PathBuf::from("/"));
        let root = sys::open_trusted(&root_path).map_err(|e| {
            Error::NotInstalled(format!("cannot open the root {}: {e}", root_path.display()))
        })?;
        let profile = read_profile(root.as_fd(), &inv.snap, &inv.app)?;
        let entry = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten()
            .ok_or_else(|| {
                Error::NotInstalled(format!("uid {uid} has no entry in the password database"))
            })?;
        let user = User {
            uid,
            gid,
            euid,
            home: entry.dir.to_string_lossy().to_string(),
        };
        let allow = seccomp::Allowances {
            inet: profile.plug_connected("network"),
        };
        let compiled = compiled_filter(root.as_fd(), allow);
        let landlock = landlock::Plan::new(
            landlock::kernel_abi(),
            profile.plug_connected("network"),
            profile.plug_connected("network-bind"),
        );
        let wayland_display = std::env::var("WAYLAND_DISPLAY").ok().filter(|name| {
            !name.is_empty() && name.len() < 64 && !name.contains('/') && !name.starts_with('.')
        });
        Ok(Launch {
            inv,
            power,
            root_path,
            profile,
            user,
            allow,
            compiled,
            landlock,
            umask: umask(Mode::empty()),
            cwd: std::env::current_dir().ok(),
            wayland_display,
        })
    }

    fn ids(&self) -> (u32, u32, u32) {
        (self.user.uid, self.user.gid, self.user.euid)
    }

    fn open_root(&self) -> Result<OwnedFd> {
        sys::open_trusted(&self.root_path)
            .what(|| format!("cannot open {}", self.root_path.display()))
    }

    /// A classic snap: its data directories, then the command, with no sandbox.
    fn run_classic(&self) -> Result<Infallible> {
        let mount_dir = self.root_path.join("snap").to_string_lossy().to_string();
        let paths = SnapPaths::new(mount_dir.trim_end_matches('/'), &self.profile, &self.user);
        user_data(&self.user.home, &self.profile, self.user.uid)?;
        drop_privileges()?;
        umask(self.umask);
        let (argv, envp) = command(&self.profile, &paths, &self.user, &self.inv.args, &[])?;
        Err(exec(&argv, &envp))
    }

    /// The app's revision and its base are mounted.
    fn check_installed(&self) -> Result<()> {
        let p = &self.profile;
        let root = self.open_root()?;
        sys::walk(root.as_fd(), &s(&["snap", &p.snap, &p.revision])).map_err(|_| {
            Error::NotInstalled(format!(
                "revision {} of snap {:?} is not mounted",
                p.revision, p.snap
            ))
        })?;
        base_dir(root.as_fd(), p)?;
        Ok(())
    }

    /// `~/snap/<name>/<rev>` and `common`, as the user, with no privilege in effect.
    fn make_user_data(&self) -> Result<()> {
        user_data(&self.user.home, &self.profile, self.user.uid).map(drop)
    }

    /// The namespaces, then the fork: the launcher stays outside as the monitor and never returns
    /// from here; its child, PID 1 of the new namespace, goes on. Returns the pipe on which the
    /// reaper will report a death by signal of the app.
    fn enter_namespaces(&self) -> Result<OwnedFd> {
        let (uid, gid, _) = self.ids();
        raise(self.power)?;
        enter_namespace(self.power, uid, gid, self.landlock.private_network)?;
        let (status_r, status_w) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).what(|| "cannot make a pipe".into())?;
        // SAFETY: one thread; both sides go on with plain system calls.
        match unsafe { nix::unistd::fork() }
            .what(|| "cannot start the sandbox's first process".into())?
        {
            nix::unistd::ForkResult::Parent { child } => {
                drop(status_w);
                // The monitor only waits: it keeps no privilege.
                let _ = drop_privileges();
                init::monitor(child, status_r)
            }
            nix::unistd::ForkResult::Child => {
                drop(status_r);
                // If the monitor is killed, so is the sandbox (PID 1 takes every process with
                // it).
                // SAFETY: prctl with constant arguments.
                unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
                Ok(status_w)
            }
        }
    }

    /// The snap's private area, locked for this user. Descriptors from here on are opened in
    /// the new namespace: a mount's source and target must belong to it.
    fn private_area(&self) -> Result<Private> {
        let root = self.open_root()?;
        let (uid, _, euid) = self.ids();
        private_area(root.as_fd(), self.power, &self.profile, uid, euid)
    }

    /// What the sandbox is built from: the root's directories, and what the user owns (opened
    /// as the user).
    fn host_dirs(&self, private: &Private) -> Result<HostDirs> {
        let root = self.open_root()?;
        let (uid, _, _) = self.ids();
        let (profile, home) = (&self.profile, &self.user.home);
        let (user_snap, home_fd, runtime) = as_user(self.power, || {
            let home_dir = sys::open_trusted(Path::new(home)).ok();
            let user_snap = match &home_dir {
                Some(h) => Some(
                    sys::walk(h.as_fd(), &s(&["snap", &profile.snap]))
                        .ok()
                        .filter(|fd| {
                            sys::stat(fd.as_fd())
                                .map(|st| st.st_uid == uid && sys::kind_of(&st) == Kind::Dir)
                                .unwrap_or(false)
                        })
                        .ok_or_else(|| {
                            Error::Untrusted(format!(
                                "{home}/snap/{} is not the user's directory",
                                profile.snap
                            ))
                        })?,
                ),
                None => None,
            };
            let home_fd = match home_dir.filter(|_| profile.plug_connected("home")) {
                Some(fd) => {
                    let names = crate::sandbox::home_entries(fd.as_fd())?;
                    Some((fd, names))
                }
                None => None,
            };
            let runtime = sys::open_trusted(Path::new(&format!("/run/user/{uid}")))
                .ok()
                .and_then(|d| {
                    let name = format!("snap.{}", profile.snap);
                    own_dir(d.as_fd(), &name, 0o700, None, uid, false, &|| name.clone()).ok()
                });
            Ok((user_snap, home_fd, runtime))
        })?;
        Ok(HostDirs {
            snap_mounts: sys::walk(root.as_fd(), &s(&["snap"]))
                .map_err(|_| Error::NotInstalled("the root has no /snap".into()))?,
            base: base_dir(root.as_fd(), profile)?,
            snap_data: sys::walk(root.as_fd(), &s(&["var", "snap", &profile.snap])).map_err(
                |_| {
                    Error::NotInstalled(format!(
                        "the data directory of snap {:?} is missing",
                        profile.snap
                    ))
                },
            )?,
            user_snap,
            home: home_fd,
            runtime,
            private_tmp: dup(private.tmp.as_fd())?,
            host: sys::open_trusted(Path::new("/")).what(|| "cannot open /".into())?,
        })
    }

    /// The sandbox's file system, in the builder's order, then `pivot_root` into it (read-only).
    /// Returns the variables the interfaces' mounts need.
    fn build_and_enter(&self, host: &HostDirs, private: &Private) -> Result<Vec<(String, String)>> {
        let mut b = Builder::new(
            self.power,
            self.ids(),
            &self.user.home,
            &self.profile,
            private.snap_dir.as_fd(),
            "rootfs",
        )?;
        if let Some(name) = &self.wayland_display {
            b.wayland_display = name.clone();
        }
        b.populate(host)?;
        b.dev(host)?;
        b.snap_dirs(host)?;
        b.home(host)?;
        b.interfaces(host)?;
        b.layouts()?;
        fchdir(b.root()).what(|| "cannot enter the new root".into())?;
        pivot_root(".", ".").what(|| "pivot_root".into())?;
        umount2(".", MntFlags::MNT_DETACH).what(|| "cannot detach the old root".into())?;
        chdir("/").what(|| "chdir /".into())?;
        let new_root =
            sys::open_trusted(Path::new("/")).what(|| "cannot open the new root".into())?;
        sys::remount_read_only(new_root.as_fd()).what(|| "cannot make / read-only".into())?;
        Ok(b.extra_env.clone())
    }

    /// Every privilege dropped, the working directory, the umask, Landlock and the filter (the
    /// reaper is confined as the app is; both are inherited), the lock released, then the app,
    /// started by the reaper.
    fn start_app(
        &self,
        private: Private,
        extra_env: &[(String, String)],
        status: OwnedFd,
    ) -> Result<Infallible> {
        drop_privileges()?;
        let paths = SnapPaths::new("/snap", &self.profile, &self.user);
        let dir = self.cwd.clone().filter(|c| chdir(c).is_ok()).or_else(|| {
            chdir(Path::new(&paths.user_data))
                .ok()
                .map(|_| PathBuf::new())
        });
        if dir.is_none() {
            let _ = chdir("/");
        }
        umask(self.umask);
        let (argv, envp) = command(&self.profile, &paths, &self.user, &self.inv.args, extra_env)?;
        landlock::apply(&self.landlock)?;
        match &self.compiled {
            Some(compiled) => seccomp::load_compiled(compiled)?,
            None => seccomp::load(self.allow)?,
        }
        drop(private);
        init::reap(&argv, &envp, status)
    }
}

/// The helper's compiled filter for `allow`, when it is there and root's: a launch then skips
/// compiling it (about a millisecond). Anything wrong with it, and we compile our own.
fn compiled_filter(root: BorrowedFd<'_>, allow: seccomp::Allowances) -> Option<Vec<u8>> {
    let mut parts: Vec<String> = seccomp::COMPILED_DIR
        .iter()
        .map(|s| s.to_string())
        .collect();
    parts.push(seccomp::variant_file(allow).to_string());
    let path = sys::walk(root, &parts).ok()?;
    let fd = nix::fcntl::open(
        sys::fd_path(path.as_fd()).as_str(),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::empty(),
    )
    .ok()?;
    let st = sys::stat(fd.as_fd()).ok()?;
    if sys::kind_of(&st) != Kind::File || st.st_uid != 0 || st.st_mode & 0o022 != 0 {
        return None;
    }
    let mut bytes = Vec::new();
    std::fs::File::from(fd)
        .take(64 << 10)
        .read_to_end(&mut bytes)
        .ok()?;
    seccomp::check_compiled(&bytes).then_some(bytes)
}

/// The app's command line and environment.
fn command(
    profile: &Profile,
    paths: &SnapPaths,
    user: &User,
    args: &[String],
    extra: &[(String, String)],
) -> Result<(Vec<CString>, Vec<CString>)> {
    let caller = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    let env: BTreeMap<String, String> = env::build(caller, profile, paths, user, extra);
    let argv = env::argv(profile, &paths.snap, &env, args);
    let cstr = |s: String| {
        CString::new(s.into_bytes())
            .map_err(|_| Error::Invalid("a NUL byte in an argument or variable".into()))
    };
    let c_argv = argv.iter().cloned().map(cstr).collect::<Result<Vec<_>>>()?;
    let c_env = env
        .iter()
        .map(|(k, v)| cstr(format!("{k}={v}")))
        .collect::<Result<Vec<_>>>()?;
    Ok((c_argv, c_env))
}

/// Replace this process with the command; returns only why it could not.
fn exec(argv: &[CString], envp: &[CString]) -> Error {
    let errno = nix::unistd::execve(&argv[0], argv, envp).unwrap_err();
    Error::Exec {
        path: OsString::from_vec(argv[0].as_bytes().to_vec())
            .to_string_lossy()
            .to_string(),
        errno,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn command_lines() {
        let i = parse_args(os(&["--root", "/r", "hello.world", "-x", "--root"])).unwrap();
        assert_eq!(i.root, Some(PathBuf::from("/r")));
        assert_eq!((i.snap.as_str(), i.app.as_str()), ("hello", "world"));
        assert_eq!(i.args, vec!["-x", "--root"]);
        let i = parse_args(os(&["hello"])).unwrap();
        assert_eq!((i.snap.as_str(), i.app.as_str()), ("hello", "hello"));
        for bad in [
            &[][..],
            &["--root"],
            &["--bogus", "a.b"],
            &["../etc.x"],
            &["Hello.x"],
            &["a.b/c"],
        ] {
            let e = parse_args(os(bad)).unwrap_err();
            assert_eq!(e.exit_code(), 64, "{bad:?}: {e}");
        }
    }
}
