//! Background updates end to end: `snapshelf-update-agent` under a private session bus, with a
//! notification server the test runs (it records every `Notify`), against the real helper,
//! polkitd and store of `common`. shelf-clock tracks a channel with a newer revision; while a
//! sandboxed shelf-clock runs (blocked writing into a full pipe) the update is downloaded and
//! held, and applied once the app exits, from the downloaded file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::notifications::{start_agent, Session};
use common::sandbox::Blocked;
use common::Env;

const SNAP: &str = "shelf-clock";

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
