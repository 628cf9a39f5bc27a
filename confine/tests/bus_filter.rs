//! The bus filter on a real `dbus-daemon` (confine/src/auth_relay.rs, bus_filter.rs): the relay
//! served in this process as the monitor serves it, a zbus client through it (zbus pipelines its
//! `BEGIN`), and services on the bus directly, one with a name the rules give, one with a name
//! they do not. The hidden name is not listed, not reported by `NameOwnerChanged`, not reached,
//! its signals not received; no name is owned outside the OWN rules, and the numbered form is.
//! The rules follow xdg-dbus-proxy's `flatpak-proxy.c`; the numbered name forms follow snapd's
//! interfaces/builtin/dbus.go (its AppArmor rules for `dbus` slots and plugs).
//! Its own test binary: the relay changes the process's working directory.

use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use snapshelf_confine::auth_relay::{self, Upstream};
use snapshelf_confine::bus_policy::Policy;
use zbus::blocking::{fdo::DBusProxy, Connection, MessageIterator};
use zbus::fdo::RequestNameFlags;
use zbus::message::Type;

const TALK: &str = "org.example.Talk";
const HIDDEN: &str = "org.example.Hidden";

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A session bus of the test's own, or `None` (recorded) where there is no `dbus-daemon`.
fn daemon(dir: &std::path::Path) -> Option<(Daemon, String)> {
    let socket = dir.join("bus");
    let child = Command::new("dbus-daemon")
        .arg("--session")
        .arg(format!("--address=unix:path={}", socket.display()))
        .arg("--nofork")
        .stdout(Stdio::null())
        .spawn();
    let Ok(child) = child else {
        let why = "dbus-daemon is not installed (apt-get install dbus)";
        if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0") {
            panic!("{why}");
        }
        snapshelf_snap::testdata::record_skip("bus_filter", why);
        return None;
    };
    let daemon = Daemon(child);
    let start = Instant::now();
    while !socket.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the bus did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    Some((daemon, format!("unix:path={}", socket.display())))
}

/// A session bus on an abstract socket, its address once it answers.
fn abstract_daemon() -> (Daemon, String) {
    let addr = format!("unix:abstract=snapshelf-test-bus-{}", std::process::id());
    let child = Command::new("dbus-daemon")
        .args(["--session", &format!("--address={addr}"), "--nofork"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Daemon(child);
    let start = Instant::now();
    while zbus::blocking::connection::Builder::address(addr.as_str())
        .and_then(|b| b.build())
        .is_err()
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the abstract bus did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    (daemon, addr)
}

/// A service on the bus, owning `name`, that answers `Ping`.
struct Pinged;

#[zbus::interface(name = "org.example.Test")]
impl Pinged {
    fn ping(&self) -> String {
        "pong".into()
    }
}

fn service(addr: &str, name: &str) -> Connection {
    zbus::blocking::connection::Builder::address(addr)
        .unwrap()
        .serve_at("/org/example", Pinged)
        .unwrap()
        .name(name.to_string())
        .unwrap()
        .build()
        .unwrap()
}

fn emit(conn: &Connection, member: &str) {
    conn.emit_signal(
        None::<&str>,
        "/org/example",
        "org.example.Test",
        member,
        &(),
    )
    .unwrap();
}

fn error_name(e: zbus::Error) -> String {
    match e {
        zbus::Error::MethodError(name, _, _) => name.to_string(),
        zbus::Error::FDO(e) => match *e {
            zbus::fdo::Error::ServiceUnknown(_) => {
                "org.freedesktop.DBus.Error.ServiceUnknown".into()
            }
            zbus::fdo::Error::NameHasNoOwner(_) => {
                "org.freedesktop.DBus.Error.NameHasNoOwner".into()
            }
            zbus::fdo::Error::AccessDenied(_) => "org.freedesktop.DBus.Error.AccessDenied".into(),
            other => format!("{other:?}"),
        },
        other => format!("{other:?}"),
    }
}

#[test]
fn a_client_through_the_filter_sees_and_reaches_only_what_its_rules_give() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_daemon, addr)) = daemon(dir.path()) else {
        return;
    };
    let talk = service(&addr, TALK);
    let hidden = service(&addr, HIDDEN);

    let runtime = dir.path().join("run");
    std::fs::create_dir(&runtime).unwrap();
    let dirfd = OwnedFd::from(std::fs::File::open(&runtime).unwrap());
    let rules = [
        format!("--talk={TALK}.*"),
        "--own=org.example.Mine[-_]<N>".to_string(),
    ];
    let policy = Policy::from_proxy_args(&rules).unwrap();
    let runtime_s = runtime.to_str().unwrap().to_string();
    let path = auth_relay::prepare(
        dirfd.as_fd(),
        &runtime_s,
        "relay",
        Upstream::open(&addr).unwrap(),
        policy,
    )
    .unwrap();
    // A second relay, to a bus on an abstract socket (reached with sockets made ahead).
    let (_abstract_daemon, abstract_addr) = abstract_daemon();
    let _abstract_talk = service(&abstract_addr, TALK);
    let policy = Policy::from_proxy_args(&rules).unwrap();
    // In an address list, the first that can be opened (as D-Bus clients try them in turn).
    let up = Upstream::open(&format!("unix:path=/nonexistent/bus;{abstract_addr}")).unwrap();
    assert!(matches!(up, Upstream::Abstract { .. }));
    let e = Upstream::open("tcp:host=127.0.0.1,port=1").err().unwrap();
    assert!(e.contains("not a Unix socket"), "{e}");
    let abstract_path =
        auth_relay::prepare(dirfd.as_fd(), &runtime_s, "relay-abstract", up, policy).unwrap();
    let (until_r, until_w) = nix::unistd::pipe().unwrap();
    let relay = std::thread::spawn(move || auth_relay::serve_until(until_r.as_fd()));
    let other =
        zbus::blocking::connection::Builder::address(format!("unix:path={abstract_path}").as_str())
            .unwrap()
            .build()
            .unwrap();
    let pong = other
        .call_method(
            Some(TALK),
            "/org/example",
            Some("org.example.Test"),
            "Ping",
            &(),
        )
        .unwrap();
    assert_eq!(pong.body().deserialize::<String>().unwrap(), "pong");
    drop(other);

    let client = zbus::blocking::connection::Builder::address(format!("unix:path={path}").as_str())
        .unwrap()
        .build()
        .unwrap();
    let bus = DBusProxy::new(&client).unwrap();
    // Listed: the allowed name and the client itself; not the hidden name, nor its owner.
    let names: Vec<String> = bus
        .list_names()
        .unwrap()
        .into_iter()
        .map(|n| n.to_string())
        .collect();
    assert!(names.contains(&TALK.to_string()), "{names:?}");
    assert!(
        names.contains(&client.unique_name().unwrap().to_string()),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n == HIDDEN), "{names:?}");
    let hidden_unique = hidden.unique_name().unwrap().to_string();
    assert!(!names.contains(&hidden_unique), "{names:?}");
    assert!(!bus.name_has_owner(HIDDEN.try_into().unwrap()).unwrap());
    let owner = bus.get_name_owner(HIDDEN.try_into().unwrap()).unwrap_err();
    assert!(format!("{owner}").contains("NameHasNoOwner"), "{owner}");

    // Reached: the allowed name, by name and by its owner's unique name; the hidden one looks absent.
    let ping = |dest: &str| {
        client
            .call_method(
                Some(dest),
                "/org/example",
                Some("org.example.Test"),
                "Ping",
                &(),
            )
            .map(|r| r.body().deserialize::<String>().unwrap())
    };
    assert_eq!(ping(TALK).unwrap(), "pong");
    assert_eq!(ping(talk.unique_name().unwrap().as_str()).unwrap(), "pong");
    assert_eq!(
        error_name(ping(HIDDEN).unwrap_err()),
        "org.freedesktop.DBus.Error.ServiceUnknown"
    );
    assert_eq!(
        error_name(ping(&hidden_unique).unwrap_err()),
        "org.freedesktop.DBus.Error.NameHasNoOwner"
    );

    // Owned: only under the OWN rules, the numbered form included.
    let flags = RequestNameFlags::DoNotQueue.into();
    for name in ["org.example.Other", "org.example.Mine", TALK] {
        let e = bus
            .request_name(name.try_into().unwrap(), flags)
            .unwrap_err();
        assert!(format!("{e}").contains("AccessDenied"), "{name}: {e}");
    }
    for name in ["org.example.Mine-4242", "org.example.Mine_3_1"] {
        bus.request_name(name.try_into().unwrap(), flags)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // Watching other connections: refused.
    for (iface, member, body) in [
        (
            "org.freedesktop.DBus",
            "AddMatch",
            "type='method_call',eavesdrop=true",
        ),
        ("org.freedesktop.DBus.Monitoring", "BecomeMonitor", ""),
    ] {
        let r = if member == "AddMatch" {
            client.call_method(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                Some(iface),
                member,
                &body,
            )
        } else {
            let none: (Vec<String>, u32) = (Vec::new(), 0);
            client.call_method(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                Some(iface),
                member,
                &none,
            )
        };
        assert_eq!(
            error_name(r.unwrap_err()),
            "org.freedesktop.DBus.Error.AccessDenied",
            "{member}"
        );
    }

    // Signals and owner changes: everything the client may see, nothing of the hidden side.
    bus.add_match_rule(zbus::MatchRule::builder().msg_type(Type::Signal).build())
        .unwrap();
    let (tx, rx) = mpsc::channel();
    // Made here, before the signals are emitted: an iterator sees only messages that arrive after
    // it exists, and a reader thread slow to start under load missed "End".
    let messages = MessageIterator::from(&client);
    std::thread::spawn(move || {
        for msg in messages {
            let Ok(msg) = msg else { return };
            let h = msg.header();
            if h.message_type() != Type::Signal {
                continue;
            }
            let member = h.member().map(|m| m.to_string()).unwrap_or_default();
            let arg0 = if member == "NameOwnerChanged" {
                msg.body()
                    .deserialize::<(String, String, String)>()
                    .map(|a| a.0)
                    .unwrap_or_default()
            } else {
                String::new()
            };
            if tx.send((member, arg0)).is_err() {
                return;
            }
        }
    });
    emit(&hidden, "FromHidden");
    let _late_hidden = service(&addr, "org.example.Hidden.Late");
    emit(&talk, "FromTalk");
    let _late_talk = service(&addr, "org.example.Talk.Late");
    emit(&hidden, "FromHidden");
    emit(&talk, "End");
    let mut seen = Vec::new();
    loop {
        let got = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the signals came");
        let end = got.0 == "End";
        seen.push(got);
        if end {
            break;
        }
    }
    assert!(seen.iter().any(|(m, _)| m == "FromTalk"), "{seen:?}");
    assert!(!seen.iter().any(|(m, _)| m == "FromHidden"), "{seen:?}");
    let changed: Vec<&str> = seen
        .iter()
        .filter(|(m, _)| m == "NameOwnerChanged")
        .map(|(_, n)| n.as_str())
        .collect();
    assert!(changed.contains(&"org.example.Talk.Late"), "{seen:?}");
    assert!(!changed.iter().any(|n| n.starts_with(HIDDEN)), "{seen:?}");

    drop(client);
    drop(until_w);
    relay.join().unwrap();
}
