//! Background updates end to end: `snapshelf-update-agent` under a private session bus, with a
//! notification server the test runs (it records every `Notify`), against the real helper,
//! polkitd and store of `common`. shelf-clock tracks a channel with a newer revision; while a
//! sandboxed shelf-clock runs (blocked writing into a full pipe) the update is downloaded and
//! held, and applied once the app exits, from the downloaded file.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::sandbox::Blocked;
use common::Env;

const SNAP: &str = "shelf-clock";

/// One `Notify` call: summary, body, actions.
type Shown = (String, String, Vec<String>);

/// `org.freedesktop.Notifications`, recording what is shown.
struct Server {
    shown: Arc<Mutex<Vec<Shown>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut shown = self.shown.lock().unwrap();
        shown.push((summary, body, actions));
        shown.len() as u32
    }

    #[zbus(signal)]
    async fn action_invoked(
        emitter: &zbus::object_server::SignalEmitter<'_>,
        id: u32,
        action_key: &str,
    ) -> zbus::Result<()>;
}

struct Session {
    // Killed on drop (first, as the first field), from its spawn on: a bus that never comes up
    // must not outlive the test either.
    _daemon: common::gnome::Reaped,
    address: String,
    conn: zbus::blocking::Connection,
    shown: Arc<Mutex<Vec<Shown>>>,
}

impl Session {
    fn start(dir: &Path) -> Session {
        std::fs::create_dir_all(dir).unwrap();
        let socket = dir.join("bus");
        let conf = dir.join("session.conf");
        std::fs::write(
            &conf,
            format!(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\" \
                 \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n<busconfig>\n\
                 <type>session</type>\n<listen>unix:path={}</listen>\n<auth>EXTERNAL</auth>\n\
                 <policy context=\"default\">\n<allow send_destination=\"*\" eavesdrop=\"true\"/>\n\
                 <allow eavesdrop=\"true\"/>\n<allow own=\"*\"/>\n\
                 </policy>\n</busconfig>\n",
                socket.display()
            ),
        )
        .unwrap();
        let daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .arg("--nofork")
            .stdout(Stdio::null())
            .spawn()
            .map(common::gnome::Reaped)
            .expect("dbus-daemon (Debian package dbus) is needed");
        let start = Instant::now();
        while !socket.exists() {
            assert!(start.elapsed() < Duration::from_secs(10), "no session bus");
            std::thread::sleep(Duration::from_millis(20));
        }
        let address = format!("unix:path={}", socket.display());
        let shown = Arc::new(Mutex::new(Vec::new()));
        // The socket's file appears at bind(), a moment before the daemon listens: try again
        // until it answers.
        let conn = loop {
            let attempt = zbus::blocking::connection::Builder::address(address.as_str())
                .unwrap()
                .serve_at(
                    "/org/freedesktop/Notifications",
                    Server {
                        shown: shown.clone(),
                    },
                )
                .unwrap()
                .name("org.freedesktop.Notifications")
                .unwrap()
                .build();
            match attempt {
                Ok(c) => break c,
                Err(e) if start.elapsed() < Duration::from_secs(10) => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("the session bus does not answer: {e}"),
            }
        };
        Session {
            _daemon: daemon,
            address,
            conn,
            shown,
        }
    }

    /// Wait for a notification whose summary is `summary`; its index, body and actions.
    fn wait_shown(&self, summary: &str, timeout: Duration) -> (u32, String, Vec<String>) {
        let start = Instant::now();
        loop {
            let shown = self.shown.lock().unwrap().clone();
            if let Some(i) = shown.iter().position(|(s, _, _)| s == summary) {
                return (i as u32 + 1, shown[i].1.clone(), shown[i].2.clone());
            }
            assert!(
                start.elapsed() < timeout,
                "no {summary:?} notification; shown: {shown:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn invoke_default(&self, id: u32) {
        let server = self
            .conn
            .object_server()
            .interface::<_, Server>("/org/freedesktop/Notifications")
            .unwrap();
        zbus::block_on(Server::action_invoked(
            server.signal_emitter(),
            id,
            "default",
        ))
        .unwrap();
    }
}

/// The agent, checking at once and looking at held updates every second.
fn start_agent(env: &Env, session: &Session, config: &Path, app: &Path) -> Command {
    let agent = common::workspace_bin("snapshelf-update-agent", "snapshelf-update-agent");
    let mut cmd = Command::new(agent);
    cmd.args(["--bus-address", &env.bus_address, "--first-check", "0"])
        .args(["--interval", "3600", "--held-retry", "1", "--app"])
        .arg(app)
        .env("DBUS_SESSION_BUS_ADDRESS", &session.address)
        .env("XDG_CONFIG_HOME", config)
        .env("LANGUAGE", "en")
        .env("RUST_LOG", "info");
    cmd
}

fn running(env: &Env) -> Vec<String> {
    env.proxy().running_apps(SNAP).unwrap()
}

/// The changes of `kind`, as (bytes done, status).
fn changes_of(env: &Env, kind: &str) -> Vec<(u64, String)> {
    let conn = env.connection();
    let mut v = Vec::new();
    for path in env.proxy().list_changes().unwrap() {
        let c = snapshelf_dbus::proxy::Change1ProxyBlocking::builder(&conn)
            .path(path)
            .unwrap()
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .unwrap();
        if c.kind().unwrap() == kind {
            v.push((c.bytes_done().unwrap(), c.status().unwrap()));
        }
    }
    v
}

/// The app the notifications open: a script that writes its arguments down.
fn recording_app(dir: &Path) -> (PathBuf, PathBuf) {
    let app = dir.join("snapshelf-app");
    let out = dir.join("app-args");
    std::fs::write(
        &app,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", out.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&app, std::fs::Permissions::from_mode(0o755)).unwrap();
    (app, out)
}

#[test]
fn updates_are_downloaded_held_while_the_app_runs_and_applied_after() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    env.done(env.proxy().install(&[SNAP], Default::default()));
    assert_eq!(common::revision_of(&env, SNAP), "1");
    // Track candidate without refreshing: revision 2 is an update.
    env.done(env.proxy().switch(SNAP, "latest/candidate"));
    assert!(running(&env).is_empty());

    // A sandboxed shelf-clock that cannot finish: its output goes into a full pipe.
    let app = Blocked::start(&env, &format!("{SNAP}.{SNAP}"));

    let session = Session::start(&env.dir.path().join("session"));
    let config = env.dir.path().join("config");
    let (app_bin, app_args) = recording_app(env.dir.path());
    let mut agent = start_agent(&env, &session, &config, &app_bin)
        .spawn()
        .unwrap();

    let (ready, body, actions) = session.wait_shown("Updates ready", Duration::from_secs(120));
    // Put off for the first time just now: snapd's 14 days (less a second) are left.
    assert_eq!(
        body,
        format!("{SNAP}: the update is installed when you close the app, or in 14 days even if it is still open.")
    );
    assert_eq!(actions.first().map(String::as_str), Some("default"));
    assert_eq!(actions.get(1).map(String::as_str), Some("Open Updates"));
    let downloads = changes_of(&env, "download");
    assert_eq!(downloads.len(), 1, "{downloads:?}");
    assert_eq!(downloads[0].1, "Done");
    let blob = env.root.join("var/lib/snapshelf/snaps/shelf-clock_2.snap");
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&blob).unwrap());
    assert_eq!(
        common::revision_of(&env, SNAP),
        "1",
        "held while the app runs"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(common::revision_of(&env, SNAP), "1", "still held");

    // The app ends once its output is read.
    app.end();
    assert!(running(&env).is_empty(), "a finished app is not running");

    let (_, body, _) = session.wait_shown("Apps updated", Duration::from_secs(60));
    assert_eq!(body, format!("Updated {SNAP}."));
    assert_eq!(common::revision_of(&env, SNAP), "2");
    let refreshes = changes_of(&env, "refresh");
    assert_eq!(refreshes.len(), 1, "{refreshes:?}");
    assert_eq!(refreshes[0].1, "Done");
    // A new download would have renamed a new file into place.
    let after = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&blob).unwrap());
    assert_eq!(after, inode, "applied from the downloaded file");

    // The notification's default action opens the app on Updates.
    session.invoke_default(ready);
    common::wait_until("the app to open", Duration::from_secs(10), || {
        std::fs::read_to_string(&app_args).is_ok_and(|t| !t.is_empty())
    });
    let args = std::fs::read_to_string(&app_args).unwrap();
    assert_eq!(
        args.trim(),
        format!("--page updates --bus-address {}", env.bus_address)
    );
    let _ = agent.kill();
    let _ = agent.wait();
}

#[test]
fn a_paused_agent_does_not_check() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    env.done(env.proxy().install(&[SNAP], Default::default()));
    env.done(env.proxy().switch(SNAP, "latest/candidate"));
    let session = Session::start(&env.dir.path().join("session"));
    let config = env.dir.path().join("config");
    let agent_bin = common::workspace_bin("snapshelf-update-agent", "snapshelf-update-agent");
    let st = Command::new(&agent_bin)
        .arg("--pause")
        .env("XDG_CONFIG_HOME", &config)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(
        std::fs::read_to_string(config.join("snapshelf/updates.conf")).unwrap(),
        "[updates]\npaused=true\n"
    );
    let (app_bin, _) = recording_app(env.dir.path());
    let mut agent = start_agent(&env, &session, &config, &app_bin)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(5));
    assert!(changes_of(&env, "download").is_empty());
    assert_eq!(common::revision_of(&env, SNAP), "1");
    assert!(session.shown.lock().unwrap().is_empty());
    let _ = agent.kill();
    let _ = agent.wait();
}

/// NetworkManager's `Metered` property, as the real one answers it (1: yes).
struct FakeNetworkManager;

#[zbus::interface(name = "org.freedesktop.NetworkManager")]
impl FakeNetworkManager {
    #[zbus(property)]
    fn metered(&self) -> u32 {
        1
    }
}

#[test]
fn a_metered_connection_means_no_download() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    env.done(env.proxy().install(&[SNAP], Default::default()));
    env.done(env.proxy().switch(SNAP, "latest/candidate"));
    // The test's own service at NetworkManager's name and path, on a bus of its own (the
    // test's system bus lets nobody take that name).
    let nm_bus = Session::start(&env.dir.path().join("network"));
    let _nm = zbus::blocking::connection::Builder::address(nm_bus.address.as_str())
        .unwrap()
        .serve_at("/org/freedesktop/NetworkManager", FakeNetworkManager)
        .unwrap()
        .name("org.freedesktop.NetworkManager")
        .unwrap()
        .build()
        .unwrap();
    let session = Session::start(&env.dir.path().join("session"));
    let config = env.dir.path().join("config");
    let (app_bin, _) = recording_app(env.dir.path());
    let mut agent = start_agent(&env, &session, &config, &app_bin)
        .args(["--network-bus-address", &nm_bus.address])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(5));
    assert!(changes_of(&env, "download").is_empty());
    assert_eq!(common::revision_of(&env, SNAP), "1");
    assert!(session.shown.lock().unwrap().is_empty());
    let _ = agent.kill();
    let _ = agent.wait();
}
