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

/// `svc NAME`: asks for NAME on the session bus and says what the bus answered; when it owns
/// it, answers each method call with "pong" until one named `Quit` (or 60 s pass). Against the
/// host's libdbus (`sandbox::compile_with_libdbus` declares its API).
const SVC_C: &str = r#"
#include <stdio.h>
#include <string.h>
#include <time.h>
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    DBusError err;
    dbus_error_init(&err);
    DBusConnection *c = dbus_bus_get(0 /* the session bus */, &err);
    if (!c) { printf("bus=%s\n", err.name); return 1; }
    dbus_connection_set_exit_on_disconnect(c, 0);
    int r = dbus_bus_request_name(c, argv[1], 4 /* DO_NOT_QUEUE */, &err);
    if (dbus_error_is_set(&err)) { printf("request=%s\n", err.name); fflush(stdout); return 0; }
    printf("request=%d\n", r);
    fflush(stdout);
    if (r != 1) return 0;
    time_t end = time(NULL) + 60;
    while (time(NULL) < end) {
        if (!dbus_connection_read_write(c, 200)) { puts("disconnected"); return 1; }
        DBusMessage *m;
        while ((m = dbus_connection_pop_message(c))) {
            if (dbus_message_get_type(m) != 1 /* a method call */) { dbus_message_unref(m); continue; }
            int quit = strcmp(dbus_message_get_member(m), "Quit") == 0;
            DBusMessage *reply = dbus_message_new_method_return(m);
            const char *pong = "pong";
            dbus_message_append_args(reply, 's', &pong, 0);
            dbus_connection_send(c, reply, NULL);
            dbus_connection_flush(c);
            dbus_message_unref(reply);
            dbus_message_unref(m);
            if (quit) { puts("quit"); return 0; }
        }
    }
    puts("timeout");
    return 0;
}
"#;

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
    let bin = dir.join("svc");
    sandbox::compile_with_libdbus(SVC_C, &bin);
    sandbox::add_host_commands(&s, &[("svc", &bin.display().to_string(), "")]);
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
