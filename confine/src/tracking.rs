//! A launch moves itself into a transient systemd scope of its own before anything else, as
//! snapd's `snap run` does (`sandbox/cgroup/tracking.go`): `snap.<snap>.<app>-<uuid>.scope`
//! (`snap.<snap>.hook.<hook>-<uuid>.scope` for a hook), asked of the user's service manager on the
//! session bus, or of the system's on the system bus for root. What the launch forks (the sandbox,
//! the app's children) stays in that cgroup, so the helper counts the app as running while any
//! of it runs (`helper/src/running.rs`), and xdg-desktop-portal recognises the app's processes
//! (and the bus relays in the launcher) as the snap's.
//!
//! Best effort, as in snapd: without a bus or a service manager on it the app is launched
//! untracked (`SNAPSHELF_CONFINE_DEBUG=1` says why); a manager that answers but cannot move the
//! launch is warned about. A service is already tracked by its unit and is left where it is.
//!
//! The two calls are made on a plain socket with zbus's messages, single-threaded: confine makes
//! namespaces after this, which a process with threads (an async runtime's) cannot.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use snapshelf_snap::tracking::{scope_name, tracked_process};
use zbus::message::{Message, Type};
use zbus::zvariant::Value;

/// How long a bus may take over each read or write: past it the launch goes on untracked.
const BUS_TIMEOUT: Duration = Duration::from_secs(2);

/// How long systemd may take to move the launch once the scope's job is queued.
const MOVE_TIMEOUT: Duration = Duration::from_millis(500);

const SYSTEMD: &str = "org.freedesktop.systemd1";

/// Why a launch was not tracked.
enum Untracked {
    /// No bus, or no service manager on it: normal on hosts without systemd.
    Unreachable(String),
    /// The manager was reached and failed.
    Failed(String),
}

/// Put this process in a new scope for `snap`'s `app` (a hook's `app` is `hook.<name>`), unless
/// it already runs in one of the snap's services.
pub fn track(snap: &str, app: &str) {
    let here = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    if tracked_process(&here).is_some_and(|t| t.service && t.snap == snap) {
        return;
    }
    let tag = format!("snap.{snap}.{app}");
    let result = kernel_uuid().and_then(|uuid| {
        let unit = scope_name(&tag, &uuid);
        start_scope(&unit).and_then(|()| wait_moved(&unit))
    });
    match result {
        Ok(()) => {}
        Err(Untracked::Unreachable(why)) => {
            if std::env::var_os("SNAPSHELF_CONFINE_DEBUG").is_some_and(|v| v == "1") {
                eprintln!("snapshelf-confine: {tag} runs untracked: {why}");
            }
        }
        Err(Untracked::Failed(why)) => {
            eprintln!("snapshelf-confine: warning: {tag} runs untracked: {why}")
        }
    }
}

/// A random UUID from the kernel, as snapd takes it.
fn kernel_uuid() -> Result<String, Untracked> {
    let path = "/proc/sys/kernel/random/uuid";
    std::fs::read_to_string(path)
        .map(|u| u.trim().to_string())
        .map_err(|e| Untracked::Failed(format!("cannot read {path}: {e}")))
}

/// The buses to ask, in order: the session bus (its address from the environment, or the
/// user's `/run/user/<uid>/bus`), then for root the system bus.
fn buses() -> Vec<PathBuf> {
    let uid = nix::unistd::geteuid().as_raw();
    let mut out = Vec::new();
    match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        Ok(addr) => out.extend(unix_path(&addr)),
        Err(_) => out.push(PathBuf::from(format!("/run/user/{uid}/bus"))),
    }
    if uid == 0 {
        match std::env::var("DBUS_SYSTEM_BUS_ADDRESS") {
            Ok(addr) => out.extend(unix_path(&addr)),
            Err(_) => out.push(PathBuf::from("/run/dbus/system_bus_socket")),
        }
    }
    out
}

/// The first Unix socket path of a D-Bus address list.
fn unix_path(addr: &str) -> Option<PathBuf> {
    use zbus::address::transport::{Transport, UnixSocket};
    addr.split(';').find_map(|one| {
        let parsed = one.parse::<zbus::Address>().ok()?;
        match parsed.transport() {
            Transport::Unix(u) => match u.path() {
                UnixSocket::File(p) => Some(p.clone()),
                _ => None,
            },
            _ => None,
        }
    })
}

/// `StartTransientUnit(unit, "fail", [PIDs=[own pid]], [])` on the first bus with a manager.
fn start_scope(unit: &str) -> Result<(), Untracked> {
    let mut why = Untracked::Unreachable("no D-Bus address".into());
    for bus in buses() {
        match start_scope_on(&bus, unit) {
            Ok(()) => return Ok(()),
            Err(e @ Untracked::Failed(_)) => return Err(e),
            Err(e) => why = e,
        }
    }
    Err(why)
}

fn start_scope_on(bus: &std::path::Path, unit: &str) -> Result<(), Untracked> {
    let unreachable = |e: String| Untracked::Unreachable(format!("{}: {e}", bus.display()));
    let mut sock = UnixStream::connect(bus).map_err(|e| unreachable(e.to_string()))?;
    let _ = sock.set_read_timeout(Some(BUS_TIMEOUT));
    let _ = sock.set_write_timeout(Some(BUS_TIMEOUT));
    authenticate(&mut sock).map_err(unreachable)?;
    let hello = Message::method_call("/org/freedesktop/DBus", "Hello")
        .and_then(|b| b.destination("org.freedesktop.DBus"))
        .and_then(|b| b.interface("org.freedesktop.DBus"))
        .and_then(|b| b.build(&()))
        .map_err(|e| unreachable(e.to_string()))?;
    let pids: Vec<u32> = vec![std::process::id()];
    let props: Vec<(&str, Value<'_>)> = vec![("PIDs", Value::from(pids))];
    let aux: Vec<(&str, Vec<(&str, Value<'_>)>)> = Vec::new();
    let call = Message::method_call("/org/freedesktop/systemd1", "StartTransientUnit")
        .and_then(|b| b.destination(SYSTEMD))
        .and_then(|b| b.interface("org.freedesktop.systemd1.Manager"))
        .and_then(|b| b.build(&(unit, "fail", props, aux)))
        .map_err(|e| Untracked::Failed(format!("cannot build StartTransientUnit: {e}")))?;
    let serial = call.primary_header().serial_num().get();
    for msg in [&hello, &call] {
        sock.write_all(&msg.data()[..])
            .map_err(|e| unreachable(e.to_string()))?;
    }
    let reply = read_reply(&mut sock, serial).map_err(unreachable)?;
    if reply.message_type() != Type::Error {
        return Ok(());
    }
    let name = reply
        .header()
        .error_name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    let text: String = reply.body().deserialize().unwrap_or_default();
    let why = format!("{} answers {name}: {text}", bus.display());
    // No manager on this bus (none runs, or none can be activated): try the next bus.
    let absent = [
        "org.freedesktop.DBus.Error.ServiceUnknown",
        "org.freedesktop.DBus.Error.NameHasNoOwner",
        "org.freedesktop.DBus.Error.Spawn.ChildExited",
        "org.freedesktop.DBus.Error.UnknownMethod",
    ];
    Err(if absent.contains(&name.as_str()) {
        Untracked::Unreachable(why)
    } else {
        Untracked::Failed(why)
    })
}

/// SASL EXTERNAL as this process's effective uid (the one the kernel vouches for).
fn authenticate(sock: &mut UnixStream) -> Result<(), String> {
    let uid = nix::unistd::geteuid().as_raw().to_string();
    let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
    sock.write_all(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        if line.len() > 512 || sock.read(&mut byte).map_err(|e| e.to_string())? == 0 {
            return Err("the bus ended the handshake".into());
        }
        line.push(byte[0]);
    }
    if !line.starts_with(b"OK ") {
        return Err(format!(
            "the bus refused EXTERNAL authentication: {}",
            String::from_utf8_lossy(&line).trim()
        ));
    }
    sock.write_all(b"BEGIN\r\n").map_err(|e| e.to_string())
}

/// The reply to the call `serial`, skipping the others (Hello's, NameAcquired).
fn read_reply(sock: &mut UnixStream, serial: u32) -> Result<Message, String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(len) = crate::bus_filter::message_len(&buf)? {
            if buf.len() < len {
                break;
            }
            let rest = buf.split_off(len);
            let msg = crate::bus_filter::parse(std::mem::replace(&mut buf, rest))?;
            let answers = msg.header().reply_serial().map(|s| s.get()) == Some(serial);
            if answers {
                return Ok(msg);
            }
        }
        let n = sock.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the bus closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Wait until `/proc/self/cgroup` shows the scope: systemd moves the process when the job runs,
/// after the call's answer.
fn wait_moved(unit: &str) -> Result<(), Untracked> {
    let start = Instant::now();
    let suffix = format!("/{unit}");
    while start.elapsed() < MOVE_TIMEOUT {
        let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        if text.lines().any(|l| l.ends_with(&suffix)) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Err(Untracked::Failed(format!(
        "systemd did not move the launch into {unit} within {MOVE_TIMEOUT:?}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    use zbus::zvariant::{OwnedObjectPath, OwnedValue};

    type Props = Vec<(String, OwnedValue)>;

    /// A bus of the test's own (`dbus-daemon`), killed when dropped; its socket, in its folder.
    struct Bus(
        std::process::Child,
        PathBuf,
        #[allow(dead_code)] tempfile::TempDir,
    );

    impl Drop for Bus {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn bus() -> Option<Bus> {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("bus");
        let conf = dir.path().join("bus.conf");
        std::fs::write(
            &conf,
            format!(
                "<busconfig><type>session</type><listen>unix:path={}</listen>\
                 <auth>EXTERNAL</auth><policy context=\"default\"><allow user=\"*\"/>\
                 <allow send_destination=\"*\"/><allow receive_sender=\"*\"/><allow own=\"*\"/></policy></busconfig>",
                sock.display()
            ),
        )
        .unwrap();
        let child = std::process::Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .arg("--nofork")
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let b = Bus(child, sock, dir);
        let start = Instant::now();
        while !b.1.exists() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        b.1.exists().then_some(b)
    }

    /// A manager that records each call and answers the first with a job, the others with an error.
    struct Manager(Arc<Mutex<Vec<(String, String, Props)>>>);

    #[zbus::interface(name = "org.freedesktop.systemd1.Manager")]
    impl Manager {
        fn start_transient_unit(
            &self,
            name: String,
            mode: String,
            props: Props,
            _aux: Vec<(String, Props)>,
        ) -> zbus::fdo::Result<OwnedObjectPath> {
            let mut calls = self.0.lock().unwrap();
            calls.push((name, mode, props));
            if calls.len() > 1 {
                return Err(zbus::fdo::Error::Failed("no more".into()));
            }
            Ok(OwnedObjectPath::try_from("/org/freedesktop/systemd1/job/1").unwrap())
        }
    }

    #[test]
    fn a_scope_is_asked_for_as_systemd_reads_it_and_failures_are_told_apart() {
        let Some(b) = bus() else {
            snapshelf_snap::testdata::record_skip(
                "a_scope_is_asked_for_as_systemd_reads_it_and_failures_are_told_apart",
                "dbus-daemon (Debian package dbus-daemon) is missing",
            );
            return;
        };
        let unit = "snap.ab.cd-4706fe54-7802-4808-aa7e-ae8b567239e0.scope";
        // No manager on the bus: unreachable (the launch goes on quietly).
        match start_scope_on(&b.1, unit) {
            Err(Untracked::Unreachable(why)) => assert!(why.contains("ServiceUnknown"), "{why}"),
            _ => panic!("a bus without a manager is not unreachable"),
        }
        let calls = Arc::new(Mutex::new(Vec::new()));
        let address = format!("unix:path={}", b.1.display());
        let _manager = zbus::blocking::connection::Builder::address(address.as_str())
            .unwrap()
            .serve_at("/org/freedesktop/systemd1", Manager(calls.clone()))
            .unwrap()
            .name(SYSTEMD)
            .unwrap()
            .build()
            .unwrap();
        assert!(start_scope_on(&b.1, unit).is_ok());
        match start_scope_on(&b.1, unit) {
            Err(Untracked::Failed(why)) => assert!(why.contains("no more"), "{why}"),
            _ => panic!("a manager's error is not a failure"),
        }
        let calls = calls.lock().unwrap();
        let (name, mode, props) = &calls[0];
        assert_eq!((name.as_str(), mode.as_str()), (unit, "fail"));
        assert_eq!(props.len(), 1);
        assert_eq!(props[0].0, "PIDs");
        let pids: Vec<u32> = props[0].1.try_clone().unwrap().try_into().unwrap();
        assert_eq!(pids, [std::process::id()]);
    }
}
