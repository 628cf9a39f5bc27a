//! snapd's `dbus` interface in a real sandbox: an app bound to a session bus `dbus` slot owns the
//! slot's name on a real `dbus-daemon` through its bus filter; an app of the same snap
//! without the slot is refused `RequestName`; bad slot attributes are refused at install.
//! Launched by `snapshelf-confine` with file capabilities (the packaged mode) as a real user.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::sandbox::{self, launch_with, write, Mode};
use common::RUNNER;

const NAME: &str = "org.example.ShelfService";

/// `dbussvc`: `serve` bound to a session `dbus` slot for [`NAME`], `other` without it.
fn svc_snap(dir: &Path) -> PathBuf {
    let s = dir.join("dbussvc");
    write(
        &s.join("meta/snap.yaml"),
        &format!(
            "name: dbussvc\nversion: '1'\nsummary: Owns a D-Bus name\nbase: shelf-base\n\
             slots:\n  service:\n    interface: dbus\n    bus: session\n    name: {NAME}\n\
             apps:\n  serve:\n    command: bin/svc\n    slots: [service]\n  \
             other:\n    command: bin/svc\n"
        ),
        0o644,
    );
    // `svc NAME`: `busapp serve session NAME`, which owns NAME and answers until `Quit`.
    let bin = sandbox::busapp(dir).display().to_string();
    sandbox::add_host_commands(&s, &[("svc", &bin, " serve session")]);
    sandbox::pack(&s, &dir.join("dbussvc.snap"))
}

#[test]
fn a_dbus_slot_owns_its_name_through_the_proxy_and_nothing_else_does() {
    if !common::require_root() {
        return;
    }
    sandbox::require_runner_runtime_dir();
    let (env, work, capable) = sandbox::setup();
    sandbox::install_file(&env, &svc_snap(work.path()));
    let bus = common::session_bus::start(work.path());
    let vars = [("DBUS_SESSION_BUS_ADDRESS", bus.1.as_str())];
    let mode = Mode::Capable(&capable);

    // The app with the slot: it owns the name on the host's bus while it runs, and answers there.
    let addr = bus.1.clone();
    let watcher = std::thread::spawn(move || {
        let started = Instant::now();
        while !common::name_has_owner(&addr, NAME) {
            if started.elapsed() > Duration::from_secs(50) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let conn = zbus::blocking::connection::Builder::address(addr.as_str())
            .unwrap()
            .build()
            .unwrap();
        let call = |member: &str| {
            conn.call_method(Some(NAME), "/", Some(NAME), member, &())
                .map_err(|e| e.to_string())
                .and_then(|r| r.body().deserialize::<String>().map_err(|e| e.to_string()))
        };
        let answer = call("Ping");
        // The app answers Quit too, then ends at once; an answer sent just before the client
        // hangs up may be lost under load, so Ping is the one checked.
        let _ = call("Quit");
        Some(answer)
    });
    let o = launch_with(&env, mode, RUNNER, "dbussvc.serve", &[NAME], &vars);
    let out = sandbox::ok(&o, "dbussvc.serve");
    assert_eq!(
        watcher.join().unwrap(),
        Some(Ok("pong".to_string())),
        "the name was not owned, or the app did not answer, on the host's bus: {out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // 1: DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER.
    assert_eq!(out, "request=1\nquit\n");
    // The app has gone; the relay then closes its connection to the bus, which lets the name go:
    // after the app's exit, not at once.
    let gone = Instant::now();
    while common::name_has_owner(&bus.1, NAME) {
        assert!(
            gone.elapsed() < Duration::from_secs(20),
            "{NAME} is still owned after the app ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // The same snap's app without the slot: the filter refuses the name (`AccessDenied`, as the
    // bus itself refuses a name its policy does not grant).
    let refused = "request=org.freedesktop.DBus.Error.AccessDenied\n";
    let o = launch_with(&env, mode, RUNNER, "dbussvc.other", &[NAME], &vars);
    assert_eq!(sandbox::ok(&o, "dbussvc.other"), refused);
    // Nor may the slot's app take another name.
    let o = launch_with(
        &env,
        mode,
        RUNNER,
        "dbussvc.serve",
        &["org.example.Other"],
        &vars,
    );
    assert_eq!(sandbox::ok(&o, "dbussvc.serve"), refused);
}

#[test]
fn bad_dbus_attributes_are_refused_at_install_naming_the_field() {
    if !common::require_root() {
        return;
    }
    let (env, work, _) = sandbox::setup();
    for (attrs, expect) in [
        (
            "    bus: session\n    name: org.freedesktop.DBus\n",
            "slots.svc.name",
        ),
        ("    bus: session\n    name: not-a-name\n", "slots.svc.name"),
        ("    bus: user\n    name: org.a.B\n", "slots.svc.bus"),
        ("    bus: session\n", "\"name\""),
    ] {
        let s = work.path().join("badbus");
        let _ = std::fs::remove_dir_all(&s);
        write(
            &s.join("meta/snap.yaml"),
            &format!(
                "name: badbus\nversion: '1'\nsummary: Bad dbus slot\nbase: shelf-base\n\
                 slots:\n  svc:\n    interface: dbus\n{attrs}\
                 apps:\n  a:\n    command: bin/a\n"
            ),
            0o644,
        );
        write(&s.join("bin/a"), "#!/bin/sh\n", 0o755);
        let file = sandbox::pack(&s, &work.path().join("badbus.snap"));
        let f = std::fs::File::open(&file).unwrap();
        let r = env.proxy().install_file(
            zbus::zvariant::OwnedFd::from(std::os::fd::OwnedFd::from(f)),
            sandbox::unsigned(),
        );
        let message = match r {
            Err(e) => e.to_string(),
            Ok(c) => {
                let (status, _, err) = env.wait_change(c.as_str());
                assert_ne!(status, "Done", "{attrs}");
                err
            }
        };
        assert!(
            message.contains("meta/snap.yaml") && message.contains(expect),
            "{attrs}: {message}"
        );
        assert!(!env.root.join("snap/badbus").exists(), "{attrs}");
    }
}
