//! A desktop session's plumbing, set up on the host before the namespaces are made, as the user
//! (no capability is in effect yet): the app's runtime directory `/run/user/<uid>/snap.<name>`
//! (made by `snap run` in snapd), the X11 cookie copied into it (snapd's `migrateXauthority`),
//! and the session bus through a filtering proxy, Debian's `xdg-dbus-proxy` (Flatpak's), whose
//! socket is in that directory too. The sandbox binds the runtime directory, so both are there
//! at the same paths inside.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use snapshelf_snap::profile::Profile;

use crate::owned_dir::own_dir;
use crate::sys::{self, Kind};

/// The proxy, at Debian's path (never looked up in `$PATH`: the launcher may hold privileges).
pub const DBUS_PROXY: &str = "/usr/bin/xdg-dbus-proxy";

/// The cookie's name in the runtime directory.
const XAUTHORITY_NAME: &str = ".Xauthority";

/// A cookie file larger than this is not an Xauthority file.
const XAUTHORITY_MAX: u64 = 64 << 10;

/// How long a launch waits for the proxy to listen.
const PROXY_READY_MS: libc::c_int = 5000;

/// What the session gives the app: variables, and the proxy's lifeline (while any process of
/// the launch holds it, the proxy runs; it stops when the last one ends).
#[derive(Debug, Default)]
pub struct Session {
    pub env: Vec<(String, String)>,
    pub proxy_lifelines: Vec<OwnedFd>,
}

/// The app's runtime directory on the host, made if missing (mode 0700, the user's), when the
/// user has `/run/user/<uid>`; then the cookie and the proxy. Nothing here stops a launch: what
/// cannot be set up is said on stderr and left out, as `snap run` does.
pub fn prepare(profile: &Profile, uid: u32) -> Session {
    let mut session = Session::default();
    let Some((dir, runtime)) = runtime_dir(profile, uid) else {
        return session;
    };
    let cookie = std::env::var_os("XAUTHORITY").filter(|v| !v.is_empty());
    if let Some(cookie) = cookie.filter(|_| profile.plug_connected("x11")) {
        match copy_xauthority(Path::new(&cookie), uid, dir.as_fd()) {
            Ok(()) => session
                .env
                .push(("XAUTHORITY".into(), format!("{runtime}/{XAUTHORITY_NAME}"))),
            Err(e) => eprintln!("snapshelf-confine: warning: cannot copy the X11 cookie: {e}"),
        }
    }
    if let Some(addr) = std::env::var("DBUS_SESSION_BUS_ADDRESS")
        .ok()
        .filter(|a| !a.is_empty())
    {
        let rules = proxy_rules(profile);
        let key = crate::shared_proxy::key(&addr, &rules);
        // The launch runs with no umask; the proxy's socket is the user's alone.
        let umask = nix::sys::stat::umask(Mode::from_bits_truncate(0o077));
        let start =
            |socket: &str, w: OwnedFd, r: BorrowedFd<'_>| start_proxy(&addr, socket, &rules, w, r);
        let started = match crate::shared_proxy::obtain(dir.as_fd(), &runtime, &key, start) {
            Some(shared) => shared.map(|socket| (socket, None)),
            None => private_proxy(&addr, &runtime, ".dbus-proxy", &rules),
        };
        let started = started.map(|s| relayed(dir.as_fd(), &runtime, ".dbus-relay", s));
        nix::sys::stat::umask(umask);
        session.use_proxy(started, "DBUS_SESSION_BUS_ADDRESS", "session");
        if profile.plug_connected("desktop-legacy") {
            accessibility_dir(uid);
        }
    }
    if profile.bus_names.uses_system_bus() {
        // The caller's address, as `dbus_bus_get(DBUS_BUS_SYSTEM)` takes it; the proxy runs as
        // the user, so it reaches nothing the user could not reach anyway. One per launch: few
        // apps use it, and a launch shares one proxy at most (`shared_proxy`).
        let addr = std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
            .ok()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| SYSTEM_BUS.to_string());
        let rules = profile.bus_names.system_proxy_args();
        let umask = nix::sys::stat::umask(Mode::from_bits_truncate(0o077));
        let started = private_proxy(&addr, &runtime, ".dbus-system-proxy", &rules)
            .map(|s| relayed(dir.as_fd(), &runtime, ".dbus-system-relay", s));
        nix::sys::stat::umask(umask);
        session.use_proxy(started, "DBUS_SYSTEM_BUS_ADDRESS", "system");
    }
    session
}

/// The proxy's socket behind a relay of this launch (`auth_relay`: clients that pipeline their
/// handshake, sd-bus and zbus, get through xdg-dbus-proxy before 0.1.6), `name.<pid>` in the
/// runtime directory; the proxy's own socket when the relay cannot be bound (said on stderr).
fn relayed(
    dir: BorrowedFd<'_>,
    runtime: &str,
    name: &str,
    (socket, lifeline): (String, Option<OwnedFd>),
) -> (String, Option<OwnedFd>) {
    let upstream = socket.rsplit('/').next().unwrap_or(&socket);
    let name = format!("{name}.{}", std::process::id());
    match crate::auth_relay::prepare(dir, runtime, &name, upstream) {
        Ok(path) => (path, lifeline),
        Err(e) => {
            eprintln!(
                "snapshelf-confine: warning: clients that pipeline their D-Bus handshake \
                 (sd-bus, zbus) may not connect: {e}"
            );
            (socket, lifeline)
        }
    }
}

/// The system bus where D-Bus puts it.
const SYSTEM_BUS: &str = "unix:path=/run/dbus/system_bus_socket";

impl Session {
    /// Point the app at a started proxy (`var`), keeping its lifeline; what could not be started
    /// is said and left out.
    fn use_proxy(
        &mut self,
        started: Result<(String, Option<OwnedFd>), String>,
        var: &str,
        bus: &str,
    ) {
        match started {
            Ok((socket, lifeline)) => {
                self.env.push((var.into(), format!("unix:path={socket}")));
                self.proxy_lifelines.extend(lifeline);
            }
            Err(e) => eprintln!(
                "snapshelf-confine: warning: the {bus} bus is left out: cannot start \
                 {DBUS_PROXY}: {e}"
            ),
        }
    }
}

/// The accessibility bus's folder, `/run/user/<uid>/at-spi` (at-spi2-core ≥ 2.42 listens in it,
/// `bus_<display>`), made as at-spi-bus-launcher makes it (the user's, 0700) when missing: the
/// bus is started when an app first asks `org.a11y.Bus` for its address, after the sandbox is
/// built, so the folder must be there to be bound in. snapd's `desktop-legacy` rule
/// (`owner /run/user/[0-9]*/at-spi/bus* rw`).
fn accessibility_dir(uid: u32) {
    let base = format!("/run/user/{uid}");
    let Ok(user_run) = sys::open_trusted(Path::new(&base)) else {
        return;
    };
    let made = own_dir(user_run.as_fd(), AT_SPI, 0o700, None, uid, false, &|| {
        format!("{base}/{AT_SPI}")
    });
    if let Err(e) = made {
        eprintln!("snapshelf-confine: warning: the accessibility bus is left out: {e}");
    }
}

/// The accessibility bus's folder in the user's runtime directory.
pub const AT_SPI: &str = "at-spi";

/// `/run/user/<uid>/snap.<name>` (and its path), made if missing, when the user has
/// `/run/user/<uid>`; `None` otherwise, or when it is not the user's own directory.
pub fn runtime_dir(profile: &Profile, uid: u32) -> Option<(OwnedFd, String)> {
    let base = format!("/run/user/{uid}");
    let user_run = match sys::open_trusted(Path::new(&base)) {
        Ok(fd) => fd,
        // Root has no login session to make it (a snap's daemons): `snap run` makes it, as it
        // makes the snap's runtime directory below it, and so does the launch (root's, 0700).
        Err(_) if uid == 0 => {
            let run_user = sys::open_trusted(Path::new("/run/user")).ok()?;
            own_dir(run_user.as_fd(), "0", 0o700, None, 0, false, &|| {
                base.clone()
            })
            .ok()?
        }
        Err(_) => return None,
    };
    let name = format!("snap.{}", profile.snap);
    let dir = own_dir(user_run.as_fd(), &name, 0o700, None, uid, false, &|| {
        format!("{base}/{name}")
    })
    .ok()?;
    Some((dir, format!("{base}/{name}")))
}

/// What the proxy lets the app reach, after snapd's AppArmor D-Bus rules for the connected
/// interfaces: the portals for every app; notifications and `io.snapcraft.Launcher` with
/// `desktop` (and the launcher with `unity7`); the accessibility bus's address with
/// `desktop-legacy`; the snap's own MPRIS name (and names below it) with `mpris`. Anything else
/// is neither seen nor reached, and no other name can be owned.
pub fn proxy_rules(profile: &Profile) -> Vec<String> {
    let mut rules = vec![
        "--filter".to_string(),
        "--talk=org.freedesktop.portal.*".to_string(),
    ];
    let talk = |rules: &mut Vec<String>, name: &str| {
        let rule = format!("--talk={name}");
        if !rules.contains(&rule) {
            rules.push(rule);
        }
    };
    if profile.plug_connected("desktop") {
        talk(&mut rules, "org.freedesktop.Notifications");
        talk(&mut rules, "io.snapcraft.Launcher");
    }
    if profile.plug_connected("unity7") {
        talk(&mut rules, "io.snapcraft.Launcher");
    }
    if profile.plug_connected("desktop-legacy") {
        talk(&mut rules, "org.a11y.Bus");
    }
    if profile.plug_connected("mpris") {
        // `X.*` is X itself and every name below it.
        rules.push(format!("--own=org.mpris.MediaPlayer2.{}.*", profile.snap));
    }
    // The names the helper recorded for the other connected interfaces (password-manager-service,
    // screen-inhibit-control, upower-observe …; `Profile::bus_names`).
    for name in &profile.bus_names.session_talk {
        talk(&mut rules, name);
    }
    for name in &profile.bus_names.session_own {
        let rule = format!("--own={name}");
        if !rules.contains(&rule) {
            rules.push(rule);
        }
    }
    rules
}

/// What the proxy runs with besides the caller's environment, to keep its memory down (one runs
/// per launch; docs/benchmarks.md): one malloc arena for its threads, GLib's small blocks from
/// malloc rather than per-thread slice magazines, and the built-in C locale rather than locale
/// files mapped in (it translates nothing, and the bus's bytes pass unconverted). Its filtering
/// is the same.
pub const PROXY_ENV: &[(&str, &str)] = &[
    ("MALLOC_ARENA_MAX", "1"),
    ("G_SLICE", "always-malloc"),
    ("LC_ALL", "C"),
];

/// A proxy of this launch's own (when the shared one's lock cannot be had): its socket, and the
/// read end of its lifeline, a pipe, to be held until the launch ends.
fn private_proxy(
    addr: &str,
    runtime: &str,
    name: &str,
    rules: &[String],
) -> Result<(String, Option<OwnedFd>), String> {
    let socket = format!("{runtime}/{name}.{}", std::process::id());
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
    start_proxy(addr, &socket, rules, write, read.as_fd())?;
    Ok((socket, Some(read)))
}

/// Start the proxy from the host's bus `addr` to `socket` with the lifeline's write end `write`,
/// and wait until it says on `read` that it listens. The proxy stops once the lifeline has no
/// reader left.
fn start_proxy(
    addr: &str,
    socket: &str,
    rules: &[String],
    write: OwnedFd,
    read: BorrowedFd<'_>,
) -> Result<(), String> {
    // The proxy's end must survive its exec; ours never reaches the app (CLOEXEC, and dropped
    // right after the spawn).
    let inherit = nix::fcntl::fcntl(
        &write,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    );
    inherit.map_err(|e| e.to_string())?;
    let mut child = Command::new(DBUS_PROXY)
        .arg(format!("--fd={}", write.as_raw_fd()))
        .arg(addr)
        .arg(socket)
        .args(rules)
        .envs(PROXY_ENV.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    drop(write);
    let mut pfd = libc::pollfd {
        fd: read.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd of ours, for the time given.
    let polled = unsafe { libc::poll(&mut pfd, 1, PROXY_READY_MS) };
    let mut byte = [0u8; 1];
    let ready = polled == 1 && nix::unistd::read(read, &mut byte) == Ok(1);
    if !ready {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("it did not start listening on {socket}"));
    }
    Ok(())
}

/// Copy the cookie file `from` into `runtime` as `.Xauthority`, as the user: only a regular file
/// of the user's (never through a symbolic link at its end, never a FIFO or a device, opened so
/// that neither can block), and only one that reads as an Xauthority file.
fn copy_xauthority(from: &Path, uid: u32, runtime: BorrowedFd<'_>) -> Result<(), String> {
    let shown = from.display();
    let fd = nix::fcntl::open(
        from,
        OFlag::O_RDONLY
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_CLOEXEC
            | OFlag::O_NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::ELOOP => format!("{shown} is a symbolic link"),
        e => format!("cannot open {shown}: {e}"),
    })?;
    let st = sys::stat(fd.as_fd()).map_err(|e| format!("cannot stat {shown}: {e}"))?;
    if sys::kind_of(&st) != Kind::File {
        return Err(format!("{shown} is not a regular file"));
    }
    if st.st_uid != uid {
        return Err(format!(
            "{shown} belongs to uid {}, not to uid {uid}",
            st.st_uid
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::from(fd)
        .take(XAUTHORITY_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > XAUTHORITY_MAX {
        return Err(format!("{shown} is larger than {XAUTHORITY_MAX} bytes"));
    }
    check_xauthority(&bytes).map_err(|e| format!("{shown} is not an Xauthority file: {e}"))?;
    write_aside(runtime, XAUTHORITY_NAME, &bytes)
        .map_err(|e| format!("cannot write {XAUTHORITY_NAME} in the app's runtime directory: {e}"))
}

/// An Xauthority file: one or more entries, each a 16-bit family and four 16-bit-length-counted
/// strings (address, display number, name, data), big-endian (Xau's format, as snapd's
/// `x11/xauth` reads it).
pub fn check_xauthority(bytes: &[u8]) -> Result<(), String> {
    let mut at = 0usize;
    let mut entries = 0;
    let u16_at = |at: usize| -> Option<usize> {
        Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]) as usize)
    };
    while at < bytes.len() {
        u16_at(at).ok_or_else(|| format!("entry {} is cut short", entries + 1))?;
        at += 2;
        for field in ["address", "display number", "name", "data"] {
            let len = u16_at(at)
                .filter(|len| at + 2 + len <= bytes.len())
                .ok_or_else(|| format!("the {field} of entry {} is cut short", entries + 1))?;
            at += 2 + len;
        }
        entries += 1;
    }
    if entries == 0 {
        return Err("it is empty".into());
    }
    Ok(())
}

/// Write `name` in `dir` in one step: written aside (mode 0600), then renamed over it.
fn write_aside(dir: BorrowedFd<'_>, name: &str, bytes: &[u8]) -> Result<(), Errno> {
    let aside = format!("{name}.new-{}", std::process::id());
    let _ = nix::unistd::unlinkat(dir, aside.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
    let fd = nix::fcntl::openat(
        dir,
        aside.as_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )?;
    let written = nix::unistd::write(&fd, bytes).and_then(|n| {
        if n == bytes.len() {
            Ok(())
        } else {
            Err(Errno::EIO)
        }
    });
    drop(fd);
    let placed = written.and_then(|()| nix::fcntl::renameat(dir, aside.as_str(), dir, name));
    if placed.is_err() {
        let _ = nix::unistd::unlinkat(dir, aside.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapshelf_snap::profile::{ProfilePlug, PROFILE_VERSION};

    fn profile(plugs: &[&str]) -> Profile {
        Profile {
            version: PROFILE_VERSION,
            snap: "player".into(),
            app: "player".into(),
            revision: "1".into(),
            snap_version: "1".into(),
            confinement: "strict".into(),
            base: "core24".into(),
            base_revision: "1".into(),
            architecture: "amd64".into(),
            command: vec!["bin/player".into()],
            command_chain: vec![],
            environment: vec![],
            layouts: vec![],
            plugs: plugs
                .iter()
                .map(|p| ProfilePlug {
                    name: p.to_string(),
                    interface: p.to_string(),
                    connected: true,
                    attrs: Default::default(),
                })
                .collect(),
            bus_names: Default::default(),
            content: Vec::new(),
        }
    }

    #[test]
    fn the_proxy_allows_what_the_connected_interfaces_allow() {
        assert_eq!(
            proxy_rules(&profile(&[])),
            ["--filter", "--talk=org.freedesktop.portal.*"]
        );
        let all = proxy_rules(&profile(&["desktop", "unity7", "desktop-legacy", "mpris"]));
        assert_eq!(
            all,
            [
                "--filter",
                "--talk=org.freedesktop.portal.*",
                "--talk=org.freedesktop.Notifications",
                "--talk=io.snapcraft.Launcher",
                "--talk=org.a11y.Bus",
                "--own=org.mpris.MediaPlayer2.player.*",
            ]
        );
    }

    fn entry(family: u16, fields: [&[u8]; 4]) -> Vec<u8> {
        let mut out = family.to_be_bytes().to_vec();
        for f in fields {
            out.extend((f.len() as u16).to_be_bytes());
            out.extend(f);
        }
        out
    }

    #[test]
    fn xauthority_files_are_read_as_xau_writes_them() {
        let one = entry(256, [b"host", b"0", b"MIT-MAGIC-COOKIE-1", &[7u8; 16]]);
        assert!(check_xauthority(&one).is_ok());
        let mut two = one.clone();
        two.extend(entry(0, [b"", b"1", b"", b""]));
        assert!(check_xauthority(&two).is_ok());
        assert!(check_xauthority(b"").unwrap_err().contains("empty"));
        assert!(check_xauthority(&one[..one.len() - 1])
            .unwrap_err()
            .contains("data of entry 1"));
        assert!(check_xauthority(b"#!/bin/sh\nrm -rf ~\n").is_err());
    }
}
