//! A session `dbus-daemon` the test runs, that any local user may use (the apps run as the test
//! user; the daemon as root), killed with its process group when dropped.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The daemon and its address (`unix:path=…`).
pub struct SessionBus(Child, pub String);

impl Drop for SessionBus {
    fn drop(&mut self) {
        // SAFETY: a signal to the group this test made.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// A session bus listening on `dir/session-bus`.
pub fn start(dir: &Path) -> SessionBus {
    let sock = dir.join("session-bus");
    let conf = dir.join("session-bus.conf");
    std::fs::write(
        &conf,
        format!(
            "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" \
             \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n<busconfig>\
             <type>session</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>\
             <policy context=\"default\"><allow user=\"*\"/><allow send_destination=\"*\"/>\
             <allow receive_sender=\"*\"/><allow own=\"*\"/></policy></busconfig>\n",
            sock.display()
        ),
    )
    .unwrap();
    let child = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", conf.display()))
        .arg("--nofork")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("dbus-daemon (Debian package dbus-daemon) is needed");
    let bus = SessionBus(child, format!("unix:path={}", sock.display()));
    let started = Instant::now();
    while !sock.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no session bus"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    bus
}

/// A child started as the leader of its own process group (`process_group(0)`), killed with the
/// group and waited for when dropped, a panicking test's too: a test's bus daemon and what it
/// activated must not outlive the test.
pub struct ReapedGroup(pub Child);

impl Drop for ReapedGroup {
    fn drop(&mut self) {
        // SAFETY: a signal to the group this test made.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}
