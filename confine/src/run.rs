//! One launch: `Launch::gather` reads and checks every input first, then the steps run in order
//! (see [`run`]). The concepts live in their own files: `args`, `profile`, `capabilities`,
//! `namespace`, `private`, `user_dirs`, `sandbox`, `landlock`, `seccomp`, `init`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::ffi::{CString, OsString};
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use caps::{CapSet, Capability};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{umount2, MntFlags};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{chdir, fchdir, getresgid, getresuid, pivot_root};
use snapshelf_snap::profile::Profile;

pub use crate::args::{parse_args, Invocation, USAGE};
use crate::capabilities::{as_user, drop_privileges, raise};
use crate::env::{self, SnapPaths, User};
use crate::error::{Context, Error, Result};
use crate::mount_plan::{self, PlanInput};
use crate::namespace::enter_namespace;
use crate::owned_dir::own_dir;
use crate::private::{private_area, Private};
pub use crate::profile::{check_profile, read_profile};
use crate::sandbox::{self, HostDirs, Power};
use crate::seccomp;
use crate::sys::{self, Kind};
use crate::timing::mark;
use crate::user_dirs::user_data;
use crate::{init, landlock};

fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    fd.try_clone_to_owned()
        .map_err(|_| Error::setup("cannot duplicate a descriptor", Errno::EMFILE))
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
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
    /// systemd's `$NOTIFY_SOCKET`, for a service (`daemon: notify`).
    notify_socket: Option<String>,
    /// The helper's snapctl directory (device, inode), when root owns it and nobody else may
    /// write in it: checked before the namespaces, since in a user namespace root shows as the
    /// overflow uid.
    snapctl_dir: Option<(u64, u64)>,
}

/// Everything up to exec, in order: `Launch::gather`, the move into the launch's tracking scope
/// (`tracking::track`), then (strict confinement) the steps of
/// `Launch`: `check_installed`, `make_user_data`, the session's plumbing (`session::prepare`),
/// `enter_namespaces` (the launcher stays outside
/// as the monitor), `private_area`, `host_dirs`, `build_and_enter`, `start_app`. Returns only on
/// error.
pub fn run(inv: Invocation) -> Result<Infallible> {
    let launch = gather_when_not_refreshing(inv)?;
    // Before anything is forked: the sandbox and the app's children stay in the scope.
    crate::tracking::track(&launch.profile.snap, &launch.profile.app);
    mark("tracking");
    if launch.profile.confinement == "classic" {
        return launch.run_classic();
    }
    mark("record");
    launch.check_installed()?;
    launch.make_user_data()?;
    mark("check and user data");
    // The variables the session's plumbing gives the app (its buses' relays are the monitor's).
    let session = crate::session::prepare(&launch.profile, launch.user.uid);
    mark("session");
    let status = launch.enter_namespaces()?;
    mark("namespaces and fork");
    let private = launch.private_area()?;
    mark("private area");
    let host = launch.host_dirs(&private)?;
    mark("host dirs");
    let mut extra_env = launch.build_and_enter(&host, &private)?;
    extra_env.extend(session.env.iter().cloned());
    drop(host);
    launch.start_app(private, &extra_env, status)
}

/// `Launch::gather` once no refresh holds the snap's launches (confine/src/inhibit.rs), with this
/// launch recorded as running. The record is written before the hint is read again, and the
/// helper writes the hint before it reads the records: a refresh that began meanwhile either sees
/// this launch (and does not go ahead) or is seen here (the record is taken back, and the launch
/// waits and reads the new revision's profile). A hook is the helper's own and never waits.
fn gather_when_not_refreshing(inv: Invocation) -> Result<Launch> {
    loop {
        let launch = Launch::gather(inv.clone())?;
        mark("gather");
        let (root, snap, app) = (&launch.root_path, &launch.profile.snap, &launch.profile.app);
        let hook = app.starts_with("hook.");
        if !hook && crate::inhibit::wait(root, snap)? {
            continue;
        }
        // Before the PID namespace: this PID (the monitor, or the classic app) lives as long as
        // the app.
        crate::running::record(root, launch.power, snap, app);
        if !hook && crate::inhibit::inhibited(root, snap)? {
            crate::running::forget(root, launch.power, snap, app);
            continue;
        }
        return Ok(launch);
    }
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
        let mut profile = read_profile(root.as_fd(), &inv.snap, &inv.app)?;
        if let Some(name) = &inv.command {
            profile.command = crate::profile::other_command(root.as_fd(), &profile, name)?;
        }
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
            sandbox: profile.browser_sandbox(),
        };
        let compiled = compiled_filter(root.as_fd(), allow);
        let landlock = landlock::Plan::new(
            landlock::kernel_abi(),
            profile.plug_connected("network"),
            profile.plug_connected("network-bind"),
            profile.plug_connected("x11"),
        );
        let wayland_display = std::env::var("WAYLAND_DISPLAY").ok().filter(|name| {
            !name.is_empty() && name.len() < 64 && !name.contains('/') && !name.starts_with('.')
        });
        let snapctl_dir = snapctl_dir(root.as_fd());
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
            notify_socket: std::env::var("NOTIFY_SOCKET").ok(),
            snapctl_dir,
        })
    }

    fn ids(&self) -> (u32, u32, u32) {
        (self.user.uid, self.user.gid, self.user.euid)
    }

    fn open_root(&self) -> Result<OwnedFd> {
        sys::open_trusted(&self.root_path)
            .what(|| format!("cannot open {}", self.root_path.display()))
    }

    /// A classic snap, as snap-confine runs one: its data and runtime directories, then the
    /// command with no namespace, no filter and no `no_new_privs`, in the caller's environment
    /// with the `SNAP_*` variables added (`env::build_classic`).
    fn run_classic(&self) -> Result<Infallible> {
        let mount_dir = self.root_path.join("snap").to_string_lossy().to_string();
        let paths = SnapPaths::new(mount_dir.trim_end_matches('/'), &self.profile, &self.user);
        user_data(&self.user.home, &self.profile, self.user.uid)?;
        drop(crate::session::runtime_dir(&self.profile, self.user.uid));
        crate::capabilities::drop_capabilities_only()?;
        umask(self.umask);
        let caller = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        let env = env::build_classic(caller, &self.profile, &paths, &self.user);
        let argv = env::argv(&self.profile, &paths.snap, &env, &self.inv.args);
        let (argv, envp) = c_strings(argv, &env)?;
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
        mark("unshare");
        // Once here rather than in each of the two processes that follow.
        crate::capabilities::drop_bounding();
        let (status_r, status_w) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).what(|| "cannot make a pipe".into())?;
        // SAFETY: one thread; both sides go on with plain system calls.
        match unsafe { nix::unistd::fork() }
            .what(|| "cannot start the sandbox's first process".into())?
        {
            nix::unistd::ForkResult::Parent { child } => {
                drop(status_w);
                // The monitor only waits: it keeps no privilege.
                if drop_privileges().is_ok() {
                    // Readable in /proc as the user's own process again (a launcher with file
                    // capabilities starts undumpable): it is the buses' peer for the app, and
                    // xdg-desktop-portal opens `/proc/<peer>/root` and `cgroup` to tell which app
                    // calls. It holds nothing the user may not have: every capability is gone,
                    // no_new_privs is set, and the sandbox's processes cannot see it.
                    // SAFETY: prctl with constant arguments.
                    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) };
                }
                init::monitor(child, status_r)
            }
            nix::unistd::ForkResult::Child => {
                drop(status_r);
                crate::auth_relay::forget();
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
            // `personal-files` and `gsettings` (the dconf database) bind their paths from the
            // home too, without the home's view.
            let wanted = ["home", "personal-files", "gsettings"]
                .iter()
                .any(|i| profile.plug_connected(i));
            let home_fd = match home_dir.filter(|_| wanted) {
                Some(fd) if profile.plug_connected("home") => {
                    let names = crate::sandbox::home_entries(fd.as_fd())?;
                    Some((fd, Some(names)))
                }
                Some(fd) => Some((fd, None)),
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
            var_snap: sys::walk(root.as_fd(), &s(&["var", "snap"]))
                .map_err(|_| Error::NotInstalled("the root has no /var/snap".into()))?,
            // Only the helper's own directory, the one found root's before the namespaces.
            snapctl: sys::walk(root.as_fd(), &s(&["run", "snapshelf", "snapctl"]))
                .ok()
                .filter(|fd| {
                    sys::stat(fd.as_fd())
                        .map(|st| {
                            self.snapctl_dir == Some((st.st_dev, st.st_ino))
                                && st.st_mode & 0o022 == 0
                        })
                        .unwrap_or(false)
                }),
            walked: Default::default(),
        })
    }

    /// The sandbox's file system: planned from the launch and the host directories, then carried
    /// out, then `pivot_root` into it (read-only). Returns the variables the interfaces' mounts
    /// need.
    fn build_and_enter(&self, host: &HostDirs, private: &Private) -> Result<Vec<(String, String)>> {
        let input = PlanInput {
            power: self.power,
            uid: self.user.uid,
            gid: self.user.gid,
            euid: self.user.euid,
            home: &self.user.home,
            profile: &self.profile,
            wayland_display: self.wayland_display.as_deref().unwrap_or("wayland-0"),
            user_snap: host.user_snap.is_some(),
            home_entries: host.home.as_ref().and_then(|(_, names)| names.as_deref()),
            runtime: host.runtime.is_some(),
            notify_socket: self.notify_socket.as_deref(),
        };
        let plan = mount_plan::plan(&input, host)?;
        mark("plan");
        // Read while the host's root is still reachable (and the capabilities still held).
        let cookie = crate::cookie::read(self.open_root()?.as_fd(), &self.profile);
        let root = sandbox::perform(&plan, self.power, private.snap_dir.as_fd(), "rootfs", host)?;
        mark("perform");
        fchdir(root.as_fd()).what(|| "cannot enter the new root".into())?;
        pivot_root(".", ".").what(|| "pivot_root".into())?;
        umount2(".", MntFlags::MNT_DETACH).what(|| "cannot detach the old root".into())?;
        chdir("/").what(|| "chdir /".into())?;
        let new_root =
            sys::open_trusted(Path::new("/")).what(|| "cannot open the new root".into())?;
        sys::remount_read_only(new_root.as_fd()).what(|| "cannot make / read-only".into())?;
        mark("pivot_root");
        let mut env = plan.env;
        if let Some(c) = cookie {
            env.push(("SNAP_COOKIE".into(), c));
        }
        Ok(env)
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
        mark("drop privileges");
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
        let (argv, envp) = command(&self.profile, &paths, &self.user, &self.inv, extra_env)?;
        mark("command");
        landlock::apply(&self.landlock)?;
        mark("landlock");
        match &self.compiled {
            Some(compiled) => seccomp::load_compiled(compiled)?,
            None => seccomp::load(self.allow)?,
        }
        mark("seccomp");
        drop(private);
        init::reap(&argv, &envp, status)
    }
}

/// The helper's compiled filter for `allow`, when it is there and root's: a launch then skips
/// compiling it (about a millisecond). Anything wrong with it, and we compile our own.
/// `<root>/run/snapshelf/snapctl` (device, inode) when it is root's and nobody else may write in
/// it, as seen outside any user namespace.
fn snapctl_dir(root: BorrowedFd<'_>) -> Option<(u64, u64)> {
    let fd = sys::walk(root, &s(&["run", "snapshelf", "snapctl"])).ok()?;
    let st = sys::stat(fd.as_fd()).ok()?;
    (st.st_uid == 0 && st.st_mode & 0o022 == 0).then_some((st.st_dev, st.st_ino))
}

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
    let mut bytes = Vec::with_capacity((st.st_size as usize).min(64 << 10) + 1);
    std::fs::File::from(fd)
        .take(64 << 10)
        .read_to_end(&mut bytes)
        .ok()?;
    seccomp::check_compiled(&bytes).then_some(bytes)
}

/// The app's command line (or, with `--shell`, the shell's) and environment. Called once the
/// sandbox is entered, so the shell is looked for in the base, not on the host.
fn command(
    profile: &Profile,
    paths: &SnapPaths,
    user: &User,
    inv: &Invocation,
    extra: &[(String, String)],
) -> Result<(Vec<CString>, Vec<CString>)> {
    let caller = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    let env: BTreeMap<String, String> = env::build(caller, profile, paths, user, extra);
    let argv = if inv.shell {
        let shell = env::shell_program(|p| Path::new(p).is_file());
        env::shell_argv(profile, &paths.snap, shell, &inv.args)
    } else {
        env::argv(profile, &paths.snap, &env, &inv.args)
    };
    c_strings(argv, &env)
}

/// The command line and the environment as C strings.
fn c_strings(
    argv: Vec<String>,
    env: &BTreeMap<String, String>,
) -> Result<(Vec<CString>, Vec<CString>)> {
    let cstr = |s: String| {
        CString::new(s.into_bytes())
            .map_err(|_| Error::Invalid("a NUL byte in an argument or variable".into()))
    };
    let c_argv = argv.into_iter().map(cstr).collect::<Result<Vec<_>>>()?;
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
