//! snapd's `dbus` interface between two snaps, in real sandboxes on real buses (after snapd's
//! tests/main/interfaces-dbus and interfaces-system-dbus): a slot snap's app owns its name and
//! answers; another snap's app with a matching `dbus` plug reaches it through its bus filter only
//! while the plug is connected; a plug whose bus or name differ is refused; removing the slot's
//! snap disconnects the plug. On the system bus (the test world's bus, whose configuration
//! includes the root's `etc/dbus-1/system.d`): the slot's policy file appears at install, the
//! bus lets the daemon (root, in its sandbox) own the name only then, and both go with the snap.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::sandbox::{self, launch_with, write, Mode};
use common::{ctl, Env, RUNNER};
use snapshelf_dbus::types::{Connection, RemoveOptions};
use snapshelf_dbus::ErrorKind;

const NAME: &str = "org.example.ShelfPeer";
const SYSTEM_NAME: &str = "org.example.ShelfSystem";

/// A snap `name` with `interfaces` (the yaml's `plugs:`/`slots:` part) and `apps` (each running
/// `bin/busapp`), packed and installed.
fn install(env: &Env, work: &Path, name: &str, interfaces: &str, apps: &str) {
    let s = work.join(name);
    let _ = std::fs::remove_dir_all(&s);
    write(
        &s.join("meta/snap.yaml"),
        &format!(
            "name: {name}\nversion: '1'\nsummary: D-Bus peer\nbase: shelf-base\n\
             {interfaces}apps:\n{apps}"
        ),
        0o644,
    );
    let bin = sandbox::busapp(work).display().to_string();
    sandbox::add_host_commands(&s, &[("busapp", &bin, "")]);
    let file = sandbox::pack(&s, &work.join(format!("{name}.snap")));
    sandbox::install_file(env, &file);
}

/// The `Connections(snap)` row of `plug_snap:plug`.
fn row(env: &Env, snap: &str, plug_snap: &str, plug: &str) -> Option<Connection> {
    env.proxy()
        .connections(snap)
        .unwrap()
        .iter()
        .map(|d| Connection::from_dict(d).unwrap())
        .find(|c| c.plug_snap == plug_snap && c.plug == plug)
}

/// The `slots` of `plug_snap`'s row for `plug` (`snap:slot` each), from its own `Connections`.
fn offered(env: &Env, plug_snap: &str, plug: &str) -> Vec<String> {
    let rows = env.proxy().connections(plug_snap).unwrap();
    let d = rows
        .iter()
        .find(|d| Connection::from_dict(d).is_ok_and(|c| c.plug == plug))
        .unwrap();
    let v = d.get("slots").expect("a dbus plug's row has slots");
    Vec::<String>::try_from(v.try_clone().unwrap()).unwrap()
}

fn remove(env: &Env, name: &str) {
    let o = RemoveOptions::default();
    let c = env.proxy().remove(&[name], o.to_dict()).unwrap();
    let (status, _, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{err}");
}

/// Wait until `name` has an owner on `address`, while `server` runs.
fn wait_owner(address: &str, name: &str, server: &std::thread::ScopedJoinHandle<'_, Output>) {
    let started = Instant::now();
    while !common::name_has_owner(address, name) {
        assert!(
            started.elapsed() < Duration::from_secs(60) && !server.is_finished(),
            "{name} was not owned on {address}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Ask the server to stop (as root, straight on the bus) and check it served until then.
fn quit(address: &str, name: &str, server: std::thread::ScopedJoinHandle<'_, Output>) {
    let conn = zbus::blocking::connection::Builder::address(address)
        .unwrap()
        .build()
        .unwrap();
    let reply = conn.call_method(Some(name), "/", Some(NAME), "Quit", &());
    let o = server.join().unwrap();
    let reply: String = reply
        .unwrap_or_else(|e| {
            panic!(
                "Quit: {e}\nthe server: {}\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .body()
        .deserialize()
        .unwrap();
    assert_eq!(reply, "pong");
    assert_eq!(sandbox::ok(&o, "the server"), "request=1\nquit\n");
}

const PROVIDER: &str =
    "slots:\n  peer:\n    interface: dbus\n    bus: session\n    name: org.example.ShelfPeer\n";
const PROVIDER_APPS: &str = "  serve:\n    command: bin/busapp\n    slots: [peer]\n";
const CONSUMER: &str =
    "plugs:\n  peer:\n    interface: dbus\n    bus: session\n    name: org.example.ShelfPeer\n  \
    other:\n    interface: dbus\n    bus: session\n    name: org.example.ShelfOther\n  \
    sys:\n    interface: dbus\n    bus: system\n    name: org.example.ShelfPeer\n";
const CONSUMER_APPS: &str = "  call:\n    command: bin/busapp\n    plugs: [peer, other, sys]\n";

#[test]
fn a_connected_dbus_plug_reaches_the_slots_service_and_only_then() {
    if !common::require_root() {
        return;
    }
    sandbox::require_runner_runtime_dir();
    let (env, work, capable) = sandbox::setup();
    install(&env, work.path(), "dbuspeer", PROVIDER, PROVIDER_APPS);
    install(&env, work.path(), "dbususer", CONSUMER, CONSUMER_APPS);
    let bus = common::session_bus::start(work.path());
    let vars = [("DBUS_SESSION_BUS_ADDRESS", bus.1.as_str())];
    let mode = Mode::Capable(&capable);
    let call = || {
        let o = launch_with(
            &env,
            mode,
            RUNNER,
            "dbususer.call",
            &["call", "session", NAME],
            &vars,
        );
        sandbox::ok(&o, "dbususer.call")
    };
    // Not connected by itself (snapd's base declaration denies dbus auto-connection), but the
    // row names the one installed slot it could connect to, which the app's switch connects to;
    // a plug no installed slot matches (another name, or the session slot for a system plug)
    // names none.
    let r = row(&env, "dbususer", "dbususer", "peer").unwrap();
    assert!(!r.connected, "{r:?}");
    assert_eq!(
        (r.slot_snap.as_str(), r.slot.as_str()),
        ("dbuspeer", "peer")
    );
    assert_eq!(offered(&env, "dbususer", "peer"), ["dbuspeer:peer"]);
    for plug in ["other", "sys"] {
        let r = row(&env, "dbususer", "dbususer", plug).unwrap();
        assert!(
            !r.connected && r.slot_snap.is_empty() && r.slot.is_empty(),
            "{r:?}"
        );
        assert!(offered(&env, "dbususer", plug).is_empty());
    }

    std::thread::scope(|s| {
        let server = s.spawn(|| {
            launch_with(
                &env,
                mode,
                RUNNER,
                "dbuspeer.serve",
                &["serve", "session", NAME],
                &vars,
            )
        });
        wait_owner(&bus.1, NAME, &server);
        // Without the connection the filter hides the name.
        let refused = "error=org.freedesktop.DBus.Error.ServiceUnknown\n";
        assert_eq!(call(), refused);

        // `snapshelfctl connect` (the slot picked by its bus and name), as `snap connect`.
        let o = ctl(&env, &["connect", "dbususer:peer", "dbuspeer:"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(call(), "reply=pong\n");
        // Listed on the slot's snap too, with its slot (snapd's Interface, Plug, Slot first).
        let o = ctl(&env, &["connections", "dbuspeer"]);
        let listed = String::from_utf8_lossy(&o.stdout);
        let line = listed.lines().find(|l| l.contains("dbususer:peer"));
        let cells: Vec<&str> = line
            .map(|l| l.split_whitespace().take(4).collect())
            .unwrap_or_default();
        assert_eq!(
            cells,
            ["dbus", "dbususer:peer", "dbuspeer:peer", "on"],
            "{listed}"
        );
        let o = ctl(&env, &["connections", "dbuspeer", "--json"]);
        let listed = String::from_utf8_lossy(&o.stdout);
        assert!(listed.contains("\"dbuspeer\""), "{listed}");
        // Listed on both snaps.
        for snap in ["dbususer", "dbuspeer"] {
            let r = row(&env, snap, "dbususer", "peer").unwrap();
            assert!(r.connected && r.manual && !r.auto, "{snap}: {r:?}");
            assert_eq!(
                (r.interface.as_str(), r.slot_snap.as_str(), r.slot.as_str()),
                ("dbus", "dbuspeer", "peer")
            );
        }

        // KDE's per-PID form of the slot's name: the slot's app owns it, the connected plug
        // reaches it (snapd's `<name>-[1-9]…` peer rule).
        let kde = "org.example.ShelfPeer-4242";
        let second = s.spawn(|| {
            launch_with(
                &env,
                mode,
                RUNNER,
                "dbuspeer.serve",
                &["serve", "session", kde],
                &vars,
            )
        });
        wait_owner(&bus.1, kde, &second);
        let o = launch_with(
            &env,
            mode,
            RUNNER,
            "dbususer.call",
            &["call", "session", kde],
            &vars,
        );
        assert_eq!(sandbox::ok(&o, "dbususer.call"), "reply=pong\n");
        quit(&bus.1, kde, second);

        sandbox::connect(&env, false, ("dbususer", "peer"), ("dbuspeer", "peer"));
        assert_eq!(call(), refused);
        assert!(!row(&env, "dbususer", "dbususer", "peer").unwrap().connected);
        assert!(row(&env, "dbuspeer", "dbususer", "peer").is_none());
        // The app's switch: Connect with the slot its row names, then Disconnect again.
        let r = row(&env, "dbususer", "dbususer", "peer").unwrap();
        sandbox::connect(&env, true, ("dbususer", "peer"), (&r.slot_snap, &r.slot));
        assert_eq!(call(), "reply=pong\n");
        sandbox::connect(&env, false, ("dbususer", "peer"), (&r.slot_snap, &r.slot));
        assert_eq!(call(), refused);
        quit(&bus.1, NAME, server);
    });

    // A plug whose name, or bus, is not the slot's: refused naming both, nothing changed.
    for plug in ["other", "sys"] {
        let e = env
            .proxy()
            .connect("dbususer", plug, "dbuspeer", "peer")
            .expect_err(plug);
        let text = e.to_string();
        assert_eq!(common::kind_of(e), ErrorKind::InvalidArgument, "{text}");
        assert!(
            text.contains(&format!("dbususer:{plug}")) && text.contains("dbuspeer:peer"),
            "{text}"
        );
        assert!(!row(&env, "dbususer", "dbususer", plug).unwrap().connected);
    }
    // Connect needs the slot's snap.
    let e = env.proxy().connect("dbususer", "peer", "", "").unwrap_err();
    assert_eq!(common::kind_of(e), ErrorKind::InvalidArgument);

    // Removing the slot's snap disconnects the plug, in the same change.
    sandbox::connect(&env, true, ("dbususer", "peer"), ("dbuspeer", "peer"));
    remove(&env, "dbuspeer");
    let r = row(&env, "dbususer", "dbususer", "peer").unwrap();
    assert!(!r.connected && r.slot_snap.is_empty(), "{r:?}");
    let profile = std::fs::read_to_string(
        env.root
            .join("var/lib/snapshelf/profiles/dbususer.call.json"),
    )
    .unwrap();
    assert!(!profile.contains(NAME), "{profile}");
}

#[test]
fn a_session_slot_owns_the_names_snapd_lets_it_own() {
    if !common::require_root() {
        return;
    }
    let (env, work, capable) = sandbox::setup();
    install(&env, work.path(), "dbuspeer", PROVIDER, PROVIDER_APPS);
    let bus = common::session_bus::start(work.path());
    let vars = [("DBUS_SESSION_BUS_ADDRESS", bus.1.as_str())];
    let own = |name: &str| {
        let o = launch_with(
            &env,
            Mode::Capable(&capable),
            RUNNER,
            "dbuspeer.serve",
            &["own", "session", name],
            &vars,
        );
        sandbox::ok(&o, name)
    };
    // snapd's `"<name>.*"` bind rule (Firefox's per-profile names).
    assert_eq!(own(NAME), "request=1\n");
    assert_eq!(own("org.example.ShelfPeer.profile_1"), "request=1\n");
    // snapd's `<name>{_,-}[1-9]…` bind rule (KDE's and Qt's per-PID names).
    for name in ["org.example.ShelfPeer-4242", "org.example.ShelfPeer_12_3"] {
        assert_eq!(own(name), "request=1\n", "{name}");
    }
    // Not a name below it, nor its parent, nor another, nor a number form that is not one; the
    // filter refuses as the bus refuses a name its policy does not grant.
    let refused = "request=org.freedesktop.DBus.Error.AccessDenied\n";
    for name in [
        "org.example.ShelfPeerX",
        "org.example",
        "org.example.Other",
        "org.example.ShelfPeer-0",
        "org.example.ShelfPeer-12x",
    ] {
        assert_eq!(own(name), refused, "{name}");
    }
}

#[test]
fn a_system_bus_slot_gets_its_bus_policy_and_its_daemon_owns_the_name() {
    if !common::require_root() {
        return;
    }
    sandbox::require_runner_runtime_dir();
    let (env, work, capable) = sandbox::setup();
    let bus = env.bus_address.clone();
    let policy = env
        .root
        .join("etc/dbus-1/system.d/snapshelf.dbussys.svc.conf");
    // The bus's own policy lets nobody own the name yet, not even root.
    let root_may_own = || {
        let conn = zbus::blocking::connection::Builder::address(bus.as_str())
            .unwrap()
            .build()
            .unwrap();
        let r = conn.request_name(SYSTEM_NAME).is_ok();
        if r {
            conn.release_name(SYSTEM_NAME).unwrap();
        }
        r
    };
    assert!(!root_may_own());

    install(
        &env,
        work.path(),
        "dbussys",
        "slots:\n  svc:\n    interface: dbus\n    bus: system\n    name: org.example.ShelfSystem\n",
        "  daemon:\n    command: bin/busapp\n    slots: [svc]\n",
    );
    let text = std::fs::read_to_string(&policy).unwrap();
    assert!(
        text.contains("<allow own=\"org.example.ShelfSystem\"/>"),
        "{text}"
    );
    install(
        &env,
        work.path(),
        "dbusclient",
        "plugs:\n  svc:\n    interface: dbus\n    bus: system\n    name: org.example.ShelfSystem\n",
        "  call:\n    command: bin/busapp\n    plugs: [svc]\n",
    );
    let vars = [("DBUS_SYSTEM_BUS_ADDRESS", bus.as_str())];
    let call = || {
        let o = launch_with(
            &env,
            Mode::Capable(&capable),
            RUNNER,
            "dbusclient.call",
            &["call", "system", SYSTEM_NAME],
            &vars,
        );
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    std::thread::scope(|s| {
        // The daemon, as root in its sandbox, through its system bus filter.
        let server = s.spawn(|| {
            launch_with(
                &env,
                Mode::Root,
                "root",
                "dbussys.daemon",
                &["serve", "system", SYSTEM_NAME],
                &vars,
            )
        });
        wait_owner(&bus, SYSTEM_NAME, &server);
        // A user's app with the plug reaches it only while connected (no plug naming a
        // system service: no system bus at all).
        let out = call();
        assert!(
            out.starts_with("bus=") || out.starts_with("error="),
            "{out}"
        );
        sandbox::connect(&env, true, ("dbusclient", "svc"), ("dbussys", "svc"));
        assert_eq!(call(), "reply=pong\n");
        quit(&bus, SYSTEM_NAME, server);
    });

    remove(&env, "dbussys");
    assert!(!policy.exists(), "the policy file stays after remove");
    assert!(!root_may_own(), "the bus still lets root own the name");
    assert!(
        !row(&env, "dbusclient", "dbusclient", "svc")
            .unwrap()
            .connected
    );
}
