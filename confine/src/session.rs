//! A desktop session's plumbing, set up on the host before the namespaces are made, as the user
//! (no capability is in effect yet): the app's runtime directory `/run/user/<uid>/snap.<name>`
//! (made by `snap run` in snapd), the X11 cookie copied into it (snapd's `migrateXauthority`),
//! and the session and system buses through sockets of the launch's own in that directory,
//! served by the monitor, which filters what passes with the app's rules (`auth_relay`,
//! `bus_filter`). The sandbox binds the runtime directory, so all are there at the same paths
//! inside.

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use snapshelf_snap::profile::{BusNames, Profile};

use crate::auth_relay::Upstream;
use crate::bus_policy::{Level, Policy};
use crate::owned_dir::own_dir;
use crate::sys::{self, Kind};

/// The cookie's name in the runtime directory.
const XAUTHORITY_NAME: &str = ".Xauthority";

/// A cookie file larger than this is not an Xauthority file.
const XAUTHORITY_MAX: u64 = 64 << 10;

/// What the session gives the app: variables.
#[derive(Debug, Default)]
pub struct Session {
    pub env: Vec<(String, String)>,
}

/// The app's runtime directory on the host, made if missing (mode 0700, the user's), when the
/// user has `/run/user/<uid>`; then the cookie and the buses. Nothing here stops a launch: what
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
        let bus = Bus {
            addr: &addr,
            socket: ".dbus-relay",
            var: "DBUS_SESSION_BUS_ADDRESS",
            name: "session",
        };
        session.relay(dir.as_fd(), &runtime, bus, session_policy(profile));
        if profile.plug_connected("desktop-legacy") {
            accessibility_dir(uid);
        }
    }
    if profile.bus_names.uses_system_bus() {
        // The caller's address, as `dbus_bus_get(DBUS_BUS_SYSTEM)` takes it; the monitor
        // connects as the user, so it reaches nothing the user could not reach anyway.
        let addr = std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
            .ok()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| SYSTEM_BUS.to_string());
        let bus = Bus {
            addr: &addr,
            socket: ".dbus-system-relay",
            var: "DBUS_SYSTEM_BUS_ADDRESS",
            name: "system",
        };
        session.relay(
            dir.as_fd(),
            &runtime,
            bus,
            system_policy(&profile.bus_names),
        );
    }
    session
}

/// The system bus where D-Bus puts it.
const SYSTEM_BUS: &str = "unix:path=/run/dbus/system_bus_socket";

/// A bus the app is given: the host's address, the relay socket's name (`<socket>.<pid>` in the
/// runtime directory), the variable that points the app at it, and what it is called in warnings.
struct Bus<'a> {
    addr: &'a str,
    socket: &'a str,
    var: &'a str,
    name: &'a str,
}

impl Session {
    /// Bind the relay for `bus` with `policy` and point the app at it; what cannot be set up is
    /// said and left out.
    fn relay(
        &mut self,
        dir: BorrowedFd<'_>,
        runtime: &str,
        bus: Bus<'_>,
        policy: Result<Policy, String>,
    ) {
        let name = format!("{}.{}", bus.socket, std::process::id());
        // The launch runs with no umask; the relay's socket is the user's alone.
        let umask = nix::sys::stat::umask(Mode::from_bits_truncate(0o077));
        let made = policy.and_then(|policy| {
            let up = Upstream::open(bus.addr)?;
            crate::auth_relay::prepare(dir, runtime, &name, up, policy)
        });
        nix::sys::stat::umask(umask);
        match made {
            Ok(socket) => self
                .env
                .push((bus.var.into(), format!("unix:path={socket}"))),
            Err(e) => eprintln!(
                "snapshelf-confine: warning: the {} bus is left out: {e}",
                bus.name
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

/// What the app may reach on the session bus, after snapd's AppArmor D-Bus rules for the
/// connected interfaces: the portals for every app; notifications and `io.snapcraft.Launcher`
/// with `desktop` (and the launcher with `unity7`); the accessibility bus's address with
/// `desktop-legacy`; the snap's own MPRIS name (and names below it) with `mpris`; the names the
/// helper recorded for the other connected interfaces and the `dbus` interface
/// (`Profile::bus_names`). Anything else is neither seen nor reached, and no other name can be
/// owned. An error names the rule that cannot be read.
pub fn session_policy(profile: &Profile) -> Result<Policy, String> {
    let mut p = Policy::default();
    p.allow(Level::Talk, "org.freedesktop.portal.*")?;
    if profile.plug_connected("desktop") {
        p.allow(Level::Talk, "org.freedesktop.Notifications")?;
        p.allow(Level::Talk, "io.snapcraft.Launcher")?;
    }
    if profile.plug_connected("unity7") {
        p.allow(Level::Talk, "io.snapcraft.Launcher")?;
    }
    if profile.plug_connected("desktop-legacy") {
        p.allow(Level::Talk, "org.a11y.Bus")?;
    }
    if profile.plug_connected("mpris") {
        // `X.*` is X itself and every name below it.
        p.allow(
            Level::Own,
            &format!("org.mpris.MediaPlayer2.{}.*", profile.snap),
        )?;
    }
    let names = &profile.bus_names;
    for name in &names.session_talk {
        p.allow(Level::Talk, name)?;
    }
    for name in &names.session_own {
        p.allow(Level::Own, name)?;
    }
    Ok(p)
}

/// What the app may reach on the system bus: the names and the methods and signals the helper
/// recorded (`Profile::bus_names`), after snapd's rules.
pub fn system_policy(names: &BusNames) -> Result<Policy, String> {
    let mut p = Policy::default();
    for name in &names.system_talk {
        p.allow(Level::Talk, name)?;
    }
    for name in &names.system_own {
        p.allow(Level::Own, name)?;
    }
    for rule in &names.system_call {
        p.allow_member(rule, false)?;
    }
    for rule in &names.system_broadcast {
        p.allow_member(rule, true)?;
    }
    Ok(p)
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
    fn the_buses_allow_what_the_connected_interfaces_allow() {
        let none = session_policy(&profile(&[])).unwrap();
        let mut want = Policy::default();
        want.allow(Level::Talk, "org.freedesktop.portal.*").unwrap();
        assert_eq!(none, want);
        let all = session_policy(&profile(&["desktop", "unity7", "desktop-legacy", "mpris"]));
        let all = all.unwrap();
        for name in [
            "org.freedesktop.Notifications",
            "io.snapcraft.Launcher",
            "org.a11y.Bus",
            // The document portal (snapd's desktop interface lets an app call it).
            "org.freedesktop.portal.Documents",
        ] {
            assert_eq!(all.level(name), Level::Talk, "{name}");
        }
        assert_eq!(all.level("org.mpris.MediaPlayer2.player"), Level::Own);
        assert_eq!(all.level("org.mpris.MediaPlayer2.player.i2"), Level::Own);
        assert_eq!(all.level("org.mpris.MediaPlayer2.other"), Level::None);
        assert_eq!(all.rules.len(), 5, "no rule twice");
        // The helper's names, and a name the profile got wrong named in the error.
        let mut p = profile(&[]);
        p.bus_names.session_own = vec!["org.kde.app[-_]<N>".into()];
        p.bus_names.session_talk = vec!["org.example.peer-<N>".into()];
        let policy = session_policy(&p).unwrap();
        assert_eq!(policy.level("org.kde.app_12_3"), Level::Own);
        assert_eq!(policy.level("org.example.peer-77"), Level::Talk);
        p.bus_names.session_talk = vec!["not a name".into()];
        assert!(session_policy(&p).unwrap_err().contains("not a name"));
        let system = BusNames {
            system_call: vec!["org.freedesktop.UPower=org.freedesktop.UPower.EnumerateDevices@/org/freedesktop/UPower".into()],
            system_broadcast: vec!["org.freedesktop.UPower=org.freedesktop.DBus.Properties.PropertiesChanged@/org/freedesktop/UPower/*".into()],
            ..BusNames::default()
        };
        let system = system_policy(&system).unwrap();
        let up = "org.freedesktop.UPower";
        let path = Some("/org/freedesktop/UPower");
        assert!(system.allows_call(up, path, Some(up), Some("EnumerateDevices")));
        assert!(!system.allows_call(up, path, Some(up), Some("Suspend")));
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
