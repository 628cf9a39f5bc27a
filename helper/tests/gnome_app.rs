//! A real GNOME-platform app end to end (issue 15, item 7): the store serves the shapes of the
//! real store's desktop snaps, built from Debian's packages by `scripts/gnome-fixtures.sh` (and
//! cached): a usr-merged debootstrap base, the GTK 4 + libadwaita platform as a content snap,
//! the icon themes shaped as `gtk-common-themes`, and Debian's gnome-calculator in snapcraft's
//! gnome-extension shape with our own command chain. Installing the app brings the base and both
//! default providers in the same change; run in its sandbox as an unprivileged user under Xvfb,
//! it maps a real window, drawn with the platform's GTK (checked in the process's own mappings).
//! It runs with a real session bus, as on a desktop: GtkApplication registers
//! `org.gnome.Calculator` through the app's bus filter, which its `dbus` slot allows.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::gnome::{catalog_with_gnome, fixtures, names, plug, wait_window, xvfb, SNAPS};
use common::{Env, RUNNER};
use snapshelf_dbus::types::Dict;

/// The app in its sandbox as the runner, started as its desktop file would start it: the
/// packaged confine (file capabilities) on `display`, with the session bus at `bus`.
fn start_app(
    env: &Env,
    capable: &Path,
    (display, bus): (&str, &str),
    runtime: &Path,
    home: &Path,
) -> Child {
    common::gnome::in_packaged_layout(env)
        .args(["runuser", "-u", RUNNER, "--", "env", "-i"])
        .arg(format!("HOME={}", home.display()))
        .arg(format!("DISPLAY={display}"))
        .arg(format!("DBUS_SESSION_BUS_ADDRESS={bus}"))
        .arg(format!("XDG_RUNTIME_DIR={}", runtime.display()))
        .args(["LANG=C.UTF-8", "PATH=/usr/bin:/bin", "GSK_RENDERER=cairo"])
        .arg(capable)
        .arg("gnome-calculator")
        .current_dir("/")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(env.dir.path().join("calculator.log")).unwrap())
        .spawn()
        .unwrap()
}

/// The actions GtkApplication exports at /org/gnome/Calculator, from whichever connection on
/// the bus at `address` serves them.
fn calculator_actions(address: &str) -> Option<Vec<String>> {
    let conn = zbus::blocking::connection::Builder::address(address)
        .ok()?
        .build()
        .ok()?;
    let names = zbus::blocking::fdo::DBusProxy::new(&conn)
        .ok()?
        .list_names()
        .ok()?;
    let me = conn.unique_name()?.to_string();
    names
        .iter()
        .map(|n| n.to_string())
        .filter(|n| n.starts_with(':') && *n != me)
        .find_map(|n| {
            let reply = conn
                .call_method(
                    Some(n.as_str()),
                    "/org/gnome/Calculator",
                    Some("org.gtk.Actions"),
                    "List",
                    &(),
                )
                .ok()?;
            reply.body().deserialize::<Vec<String>>().ok()
        })
}

/// The names on the bus at `address` (for a failure's message).
fn bus_names(address: &str) -> Vec<String> {
    zbus::blocking::connection::Builder::address(address)
        .and_then(|b| b.build())
        .and_then(|c| Ok(zbus::blocking::fdo::DBusProxy::new(&c)?.list_names()?))
        .map(|n| n.into_iter().map(|n| n.to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn a_gnome_platform_app_installs_with_its_providers_and_shows_its_window() {
    if !common::require_root() {
        return;
    }
    let Some(fixtures) = fixtures() else {
        return;
    };
    let catalog = tempfile::tempdir().unwrap();
    catalog_with_gnome(catalog.path(), &fixtures);
    let mut env = Env::with_catalog(catalog.path());
    env.start_helper();

    // One install, one change: the base and both default providers come with the app.
    let before = env.proxy().list_changes().unwrap().len();
    let c = env
        .proxy()
        .install(&["gnome-calculator"], Dict::new())
        .unwrap();
    let (status, kind, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{kind}: {err}");
    assert_eq!(env.proxy().list_changes().unwrap().len(), before + 1);
    assert_eq!(names(&env), {
        let mut s = SNAPS.map(String::from).to_vec();
        s.sort();
        s
    });
    for p in [
        "gnome-43-bookworm",
        "icon-themes",
        "gtk-3-themes",
        "sound-themes",
    ] {
        let c = plug(&env, "gnome-calculator", p);
        assert!(c.connected, "{p} is connected by itself: {c:?}");
    }
    assert_eq!(
        plug(&env, "gnome-calculator", "gnome-43-bookworm").slot_snap,
        "gnome-43-bookworm"
    );
    for p in ["x11", "desktop", "wayland"] {
        assert!(plug(&env, "gnome-calculator", p).connected, "{p}");
    }

    // Run it, as a person would, under a real X server.
    let (uid, home) = common::runner();
    let runtime = common::gnome::runtime_dir(uid);
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        work.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let capable = common::sandbox::capable_confine(work.path());
    let (mut x, display) = xvfb();
    let bus = common::session_bus::start(work.path());
    let mut app = start_app(&env, &capable, (&display, &bus.1), &runtime, &home);
    let log = env.dir.path().join("calculator.log");
    let mut alive = || matches!(app.try_wait(), Ok(None));
    let id = {
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_window(&display, "gnome-calculator", 120, &mut alive)
        }));
        match found {
            Ok(id) => id,
            Err(e) => {
                let _ = x.kill();
                panic!(
                    "{}\nthe app's output:\n{}",
                    e.downcast_ref::<String>().cloned().unwrap_or_default(),
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        }
    };
    // The process that owns it draws with the platform's GTK 4, not the host's.
    common::gnome::check_window_and_gtk(&env, &display, &id, uid);
    // GtkApplication registered on the host's session bus through the app's filter: its actions
    // at /org/gnome/Calculator answer a host client. gnome-calculator is a NON_UNIQUE
    // application, so it never asks for org.gnome.Calculator (its `dbus` slot would let it).
    let actions = {
        let started = std::time::Instant::now();
        loop {
            let found = calculator_actions(&bus.1);
            if found.is_some() || started.elapsed() > std::time::Duration::from_secs(10) {
                break found;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let actions = actions.unwrap_or_else(|| {
        panic!(
            "no connection on the session bus serves /org/gnome/Calculator (names: {:?}); the \
             app's output:\n{}",
            bus_names(&bus.1),
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    assert!(actions.iter().any(|a| a == "quit"), "{actions:?}");
    assert_eq!(common::gnome::window_info(&display, &id).0, "IsViewable");
    // For people to look at: target/gui-results/gnome-app/calculator.png.
    let exe = std::env::current_exe().unwrap();
    let results = exe
        .ancestors()
        .nth(3)
        .unwrap()
        .join("gui-results/gnome-app");
    std::fs::create_dir_all(&results).unwrap();
    let screenshot = results.join("calculator.png");
    let st = Command::new("import")
        .args(["-window", "root"])
        .arg(&screenshot)
        .env("DISPLAY", &display)
        .status()
        .unwrap();
    assert!(st.success() && std::fs::metadata(&screenshot).unwrap().len() > 5_000);
    let _ = x.kill();
    let _ = x.wait();
    let _ = app.wait();
}
