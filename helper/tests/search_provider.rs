//! The GNOME Shell search provider end to end: a private session bus (`dbus-daemon --session`
//! with a service directory) D-Bus-activates `snapshelf-search-provider` from its service file,
//! and the test calls it as GNOME Shell does, at the bus name and path the `.ini` gives, against
//! the real helper, bus, polkitd and store of `common`.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Env;
use zbus::zvariant::OwnedValue;

const IFACE: &str = "org.gnome.Shell.SearchProvider2";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `BusName`, `ObjectPath` and `Version` of the installed `.ini`, checked as the Shell reads it.
fn ini() -> (String, String) {
    let path = repo()
        .join("data/gnome-shell/search-providers/io.github.snapshelf.Snapshelf.SearchProvider.ini");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("[Shell Search Provider]\n"), "{text}");
    let key = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} missing in {}", path.display()))
            .to_string()
    };
    assert_eq!(key("Version"), "2");
    let desktop = key("DesktopId");
    assert!(
        repo().join("data").join(&desktop).exists(),
        "DesktopId {desktop} is not the app's desktop file"
    );
    (key("BusName"), key("ObjectPath"))
}

/// A session bus whose service directory starts the provider on demand, pointed at `env`'s
/// helper and opening results in `app` (a script that records how it was started).
struct SessionBus {
    // Killed on drop, from its spawn on (a bus that never comes up too); the provider exits
    // with its bus.
    _daemon: common::gnome::Reaped,
    address: String,
}

impl SessionBus {
    fn start(env: &Env, app: &Path, cache: &Path) -> SessionBus {
        let dir = env.dir.path().join("session");
        let services = dir.join("services");
        std::fs::create_dir_all(&services).unwrap();
        let provider =
            common::workspace_bin("snapshelf-search-provider", "snapshelf-search-provider");
        // The packaged service file, with the test's helper bus and app on its Exec line.
        let packaged = std::fs::read_to_string(
            repo()
                .join("data/dbus-1/services/io.github.snapshelf.Snapshelf.SearchProvider.service"),
        )
        .unwrap();
        let exec = format!(
            "Exec={} --bus-address {} --app {}",
            provider.display(),
            env.bus_address,
            app.display()
        );
        let service: String = packaged
            .lines()
            .map(|l| {
                if l.starts_with("Exec=") {
                    exec.as_str()
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(
            services.join("io.github.snapshelf.Snapshelf.SearchProvider.service"),
            service + "\n",
        )
        .unwrap();
        let socket = dir.join("bus");
        let conf = dir.join("session.conf");
        std::fs::write(
            &conf,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket.display(),
                services.display()
            ),
        )
        .unwrap();
        let daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .arg("--nofork")
            // Activated services inherit the daemon's environment: the provider's icon cache.
            .env("XDG_CACHE_HOME", cache)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .spawn()
            .map(common::gnome::Reaped)
            .expect("dbus-daemon (Debian package dbus) is needed");
        let start = Instant::now();
        while !socket.exists() {
            assert!(start.elapsed() < Duration::from_secs(10), "no session bus");
            std::thread::sleep(Duration::from_millis(20));
        }
        SessionBus {
            _daemon: daemon,
            address: format!("unix:path={}", socket.display()),
        }
    }
}

/// GNOME Shell's side: calls on the session bus at the `.ini`'s name and path.
struct Shell {
    conn: zbus::blocking::Connection,
    name: String,
    path: String,
}

impl Shell {
    fn call<B, R>(&self, method: &str, body: &B) -> R
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
        R: for<'d> zbus::zvariant::DynamicDeserialize<'d>,
    {
        self.conn
            .call_method(
                Some(self.name.as_str()),
                self.path.as_str(),
                Some(IFACE),
                method,
                body,
            )
            .unwrap_or_else(|e| panic!("{method}: {e}"))
            .body()
            .deserialize()
            .unwrap_or_else(|e| panic!("{method}'s answer: {e}"))
    }

    fn search(&self, terms: &[&str]) -> Vec<String> {
        self.call("GetInitialResultSet", &(terms.to_vec(),))
    }
}

fn text(m: &HashMap<String, OwnedValue>, key: &str) -> String {
    String::try_from(
        m.get(key)
            .unwrap_or_else(|| panic!("no {key} in {m:?}"))
            .clone(),
    )
    .unwrap()
}

/// Wait for the recorder to have been started `n` times; its arguments, one call per entry.
fn started(dir: &Path, n: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let mut calls: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("call."))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect();
        if calls.len() >= n && calls.iter().all(|c| c.ends_with("end\n")) {
            calls.sort();
            return calls;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the app was not started {n} times: {calls:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_shell_finds_installed_and_store_snaps_and_opens_their_page() {
    if !common::require_root() {
        return;
    }
    let (name, path) = ini();
    let mut env = Env::new();
    env.start_helper();
    for snap in ["shelf-notes", "shelf-hello"] {
        let c = env.proxy().install(&[snap], Default::default()).unwrap();
        assert_eq!(env.wait_change(c.as_str()).0, "Done", "{snap}");
    }
    // The app, as the provider starts it: a script that writes down its arguments.
    let calls = env.dir.path().join("calls");
    std::fs::create_dir_all(&calls).unwrap();
    let app = env.dir.path().join("snapshelf-app");
    std::fs::write(
        &app,
        format!(
            "#!/bin/sh\nf={}/call.$$\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >\"$f.tmp\"\necho end >>\"$f.tmp\"\nmv \"$f.tmp\" \"$f\"\n",
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&app, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cache = env.dir.path().join("cache");
    let bus = SessionBus::start(&env, &app, &cache);
    let shell = Shell {
        conn: zbus::blocking::connection::Builder::address(bus.address.as_str())
            .unwrap()
            .build()
            .unwrap(),
        name,
        path,
    };

    // The first call starts the provider by D-Bus activation.
    let notes = shell.search(&["notes"]);
    assert_eq!(
        notes.first().map(String::as_str),
        Some("shelf-notes"),
        "{notes:?}"
    );
    // Installed first (the base came with them), then the store's.
    let shelf = shell.search(&["shelf"]);
    let mut first: Vec<&str> = shelf.iter().take(3).map(String::as_str).collect();
    first.sort();
    assert_eq!(
        first,
        ["shelf-base", "shelf-hello", "shelf-notes"],
        "{shelf:?}"
    );
    assert!(shelf.len() > 3, "the store's follow: {shelf:?}");
    // Narrowed as the person types on.
    let clo = shell.search(&["clo"]);
    let clock: Vec<String> = shell.call("GetSubsearchResultSet", &(clo, vec!["clock"]));
    assert_eq!(
        clock.first().map(String::as_str),
        Some("shelf-clock"),
        "{clock:?}"
    );
    assert!(shell.search(&["no-such-snap-anywhere"]).is_empty());

    // What the Shell shows: title, summary, an icon it can load.
    let metas: Vec<HashMap<String, OwnedValue>> =
        shell.call("GetResultMetas", &(vec!["shelf-notes", "shelf-clock"],));
    assert_eq!(metas.len(), 2);
    assert_eq!(text(&metas[0], "id"), "shelf-notes");
    assert_eq!(text(&metas[0], "name"), "Shelf Notes");
    assert!(!text(&metas[0], "description").is_empty());
    assert_eq!(text(&metas[1], "name"), "Shelf Clock");
    for m in &metas {
        let icon = text(m, "gicon");
        // A file the Shell loads (an installed snap's own icon, or the store's, fetched into the
        // app's cache), or the app's themed icon.
        assert!(
            icon == "io.github.snapshelf.Snapshelf" || Path::new(&icon).is_file(),
            "{icon}"
        );
    }
    let store_icon = text(&metas[1], "gicon");
    assert!(
        store_icon.starts_with(&cache.join("snapshelf/images").to_string_lossy().to_string()),
        "the store's icon is fetched into the app's cache: {store_icon}"
    );
    assert!(std::fs::read(&store_icon).unwrap().starts_with(b"\x89PNG"));

    // Activating a result opens the app on its page; "more results" opens its search.
    let () = shell.call("ActivateResult", &("shelf-clock", vec!["clock"], 0u32));
    let () = shell.call("LaunchSearch", &(vec!["shelf", "clock"], 0u32));
    let calls = started(&calls, 2);
    let lines: Vec<Vec<&str>> = calls.iter().map(|c| c.lines().collect()).collect();
    let bus_args = ["--bus-address", env.bus_address.as_str()];
    assert!(
        lines
            .iter()
            .any(|l| l[..] == [&bus_args[..], &["--snap", "shelf-clock", "end"]].concat()),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l[..] == [&bus_args[..], &["--search", "shelf clock", "end"]].concat()),
        "{lines:?}"
    );

    // Warm: the answer with the provider running, as the Shell sees it at each key press.
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let r = shell.search(&["shelf"]);
        times.push(t.elapsed());
        assert!(!r.is_empty());
    }
    times.sort();
    eprintln!(
        "search provider: median {:?} over 20 queries (debug build)",
        times[10]
    );
}
