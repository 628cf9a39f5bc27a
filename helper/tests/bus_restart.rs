//! A call made the moment a restarted helper owns its name is answered. The name must come only
//! after the object server takes method calls: one that arrives in between is dropped by zbus
//! and its caller waits forever (a test once hung 17 minutes on such a `ListChanges`). The window
//! is in zbus 5.19's connection/mod.rs (`start_object_server`) and socket_reader.rs.

mod common;

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::Env;
use snapshelf_dbus::names;

/// Each round kills the helper and starts it again: enough rounds to hit a window of a few
/// milliseconds on a busy machine, few enough to take seconds.
const ROUNDS: usize = 100;

/// Longer than any answer of an idle helper, even on a loaded machine.
const ANSWER_WITHIN: Duration = Duration::from_secs(15);

/// What the bus carried for the helper's name and its calls, kept for a failure's message.
struct Monitor {
    _child: common::gnome::Reaped,
    log: std::path::PathBuf,
}

impl Monitor {
    fn start(env: &Env) -> Monitor {
        let log = env.dir.path().join("monitor.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("dbus-monitor")
            .args(["--address", &env.bus_address])
            .arg(format!(
                "type='method_call',interface='{}'",
                names::INTERFACE
            ))
            .arg("type='method_return'")
            .arg("type='error'")
            .arg(format!(
                "type='signal',member='NameOwnerChanged',arg0='{}'",
                names::SERVICE
            ))
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .map(common::gnome::Reaped)
            .expect("dbus-monitor (Debian package dbus-bin) is needed");
        Monitor { _child: child, log }
    }

    /// The log's last lines.
    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }
}

/// Call `ListChanges` each time the helper's name gains an owner, as soon as the bus says so, and
/// send each outcome.
fn call_on_each_start(address: String, outcomes: mpsc::Sender<zbus::Result<usize>>) {
    let conn = zbus::blocking::connection::Builder::address(address.as_str())
        .unwrap()
        .method_timeout(ANSWER_WITHIN)
        .build()
        .unwrap();
    let dbus = zbus::blocking::fdo::DBusProxy::new(&conn).unwrap();
    let owners = dbus
        .receive_name_owner_changed_with_args(&[(0, names::SERVICE)])
        .unwrap();
    let helper = snapshelf_dbus::proxy::Helper1ProxyBlocking::builder(&conn)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .unwrap();
    for signal in owners {
        let gained = signal.args().is_ok_and(|a| a.new_owner().is_some());
        if gained
            && outcomes
                .send(helper.list_changes().map(|c| c.len()))
                .is_err()
        {
            return;
        }
    }
}

#[test]
fn a_call_the_moment_a_restarted_helper_owns_its_name_is_answered() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    let monitor = Monitor::start(&env);
    let (tx, rx) = mpsc::channel();
    let address = env.bus_address.clone();
    std::thread::spawn(move || call_on_each_start(address, tx));
    // The caller subscribes before the first start: give its AddMatch time to reach the bus.
    std::thread::sleep(Duration::from_millis(300));
    for round in 0..ROUNDS {
        env.start_helper();
        match rx.recv_timeout(ANSWER_WITHIN + Duration::from_secs(5)) {
            Ok(Ok(n)) => assert_eq!(n, 0, "round {round}: an idle helper has no changes"),
            Ok(Err(e)) => panic!(
                "round {round}: ListChanges right after the name was taken: {e}\n{}",
                monitor.tail()
            ),
            Err(e) => panic!("round {round}: no outcome: {e}\n{}", monitor.tail()),
        }
        env.kill_helper();
    }
    // The placeholder that made the object server subscribe first is gone once the name is
    // taken: clients see only the contract's objects.
    env.start_helper();
    let conn = env.connection();
    let xml = zbus::blocking::fdo::IntrospectableProxy::builder(&conn)
        .destination(names::SERVICE)
        .unwrap()
        .path(names::PATH)
        .unwrap()
        .build()
        .unwrap()
        .introspect()
        .unwrap();
    assert!(xml.contains(names::INTERFACE), "{xml}");
    assert!(!xml.contains(r#"<node name="starting""#), "{xml}");
}
