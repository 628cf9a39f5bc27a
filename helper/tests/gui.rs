//! The app end to end: the real `snapshelf` window under Xvfb, as a real unprivileged user whom
//! polkit grants the actions, against the real helper, bus, polkitd and store. Driven only by real
//! X input events (xdotool: keys and mnemonics, as a keyboard user would); every result is checked
//! through the D-Bus API, and each page is saved as a screenshot in `target/gui-results/`.
//! The app's `ui` log lines say when a page is drawn, so nothing here guesses with sleeps.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Env, RUNNER};
use snapshelf_dbus::types::Connection;

fn gui_bin() -> PathBuf {
    common::workspace_bin("snapshelf", "snapshelf")
}

/// `target/gui-results/<test>`: screenshots for people to look at.
fn results(test: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().to_path_buf();
    let dir = target.join("gui-results").join(test);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn need(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(
        found,
        "{tool} is needed (Debian packages xvfb xdotool imagemagick; scripts/test.sh installs them)"
    );
}

struct Gui {
    xvfb: Child,
    app: Option<Child>,
    display: String,
    log: PathBuf,
    results: PathBuf,
}

impl Gui {
    /// A fresh X server, and the app on it as RUNNER in `language`.
    fn start(env: &Env, test: &str, language: &str, args: &[&str]) -> Gui {
        let (uid, home) = common::runner();
        Gui::start_as(env, (RUNNER, uid, &home), test, language, args, None)
    }

    /// The same, as `user` (uid, home).
    fn start_as(
        env: &Env,
        who: (&str, u32, &Path),
        test: &str,
        language: &str,
        args: &[&str],
        // A session bus: the app's accessibility bridge is on (no `NO_AT_BRIDGE`).
        session_bus: Option<&str>,
    ) -> Gui {
        Gui::start_full(env, who, test, language, args, session_bus, None)
    }

    /// The same; with `packaged` (the packaged confine, file capabilities), the app runs where
    /// the root's folders are at the system's places and its Open starts that confine.
    fn start_full(
        env: &Env,
        (user, uid, home): (&str, u32, &Path),
        test: &str,
        language: &str,
        args: &[&str],
        session_bus: Option<&str>,
        packaged: Option<&Path>,
    ) -> Gui {
        for t in ["Xvfb", "xdotool", "import"] {
            need(t);
        }
        let mut xvfb = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1200x860x24",
                // Both the abstract socket and the file, as on a real desktop.
                "-nolisten",
                "tcp",
                "-ac",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb");
        let mut line = String::new();
        BufReader::new(xvfb.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let display = format!(":{}", line.trim());
        assert!(display.len() > 1, "Xvfb gave no display number");

        let runtime = PathBuf::from(format!("/run/user/{uid}"));
        std::fs::create_dir_all(&runtime).unwrap();
        std::os::unix::fs::chown(&runtime, Some(uid), Some(uid)).unwrap();
        std::fs::set_permissions(
            &runtime,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        // The runner must reach the binary and the translations wherever the checkout is.
        std::fs::set_permissions(
            env.dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let bin = env.dir.path().join("snapshelf");
        // Beside, then renamed: an app this test started before may still be running from `bin`
        // (writing into a running executable is ETXTBSY).
        let aside = env.dir.path().join(".snapshelf.new");
        std::fs::copy(gui_bin(), &aside).unwrap();
        std::fs::rename(&aside, &bin).unwrap();
        let results = results(test);
        let log = env.dir.path().join(format!("gui-{test}.log"));
        let locale = env.dir.path().join("locale");
        common::compile_translations(&locale);
        let mut gui = Gui {
            xvfb,
            app: None,
            display,
            log,
            results,
        };
        let bridge = match session_bus {
            Some(a) => format!("DBUS_SESSION_BUS_ADDRESS={a}"),
            None => "NO_AT_BRIDGE=1".to_string(),
        };
        // Packaged: the launcher the app's Open starts is the copy with file capabilities.
        let mut app = match packaged {
            Some(confine) => {
                let mut c = common::gnome::in_packaged_layout(env);
                c.args(["runuser", "-u", user, "--", "env", "-i"])
                    .arg(format!("SNAPSHELF_CONFINE={}", confine.display()));
                c
            }
            None => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--", "env", "-i"]);
                c
            }
        };
        let app = app
            .arg(format!("HOME={}", home.display()))
            .arg(format!("DISPLAY={}", gui.display))
            .arg(format!("XDG_RUNTIME_DIR={}", runtime.display()))
            .arg(format!("SNAPSHELF_LOCALEDIR={}", locale.display()))
            .arg("LANG=C.UTF-8")
            .arg(format!("LANGUAGE={language}"))
            .arg("RUST_LOG=ui=info,ui::focus=debug,warn")
            .arg(bridge)
            .arg("PATH=/usr/bin:/bin")
            .arg(&bin)
            .args(["--bus-address", &env.bus_address])
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&gui.log).unwrap())
            .spawn()
            .unwrap();
        gui.app = Some(app);
        gui.wait("window shown at", 1);
        // No window manager: the keyboard goes to the window under the pointer.
        gui.xdotool(&["mousemove", "600", "400"]);
        gui
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until the app's log has `needle` at least `count` times; returns that line.
    fn wait(&mut self, needle: &str, count: usize) -> String {
        self.wait_for(needle, count, 60)
    }

    /// `wait`, for up to `secs` (a download of a few dozen MB on a busy machine).
    fn wait_for(&mut self, needle: &str, count: usize, secs: u64) -> String {
        let start = Instant::now();
        loop {
            let text = self.log_text();
            let hits: Vec<&str> = text.lines().filter(|l| l.contains(needle)).collect();
            if hits.len() >= count {
                return hits[count - 1].to_string();
            }
            if let Some(Ok(Some(st))) = self.app.as_mut().map(|a| a.try_wait()) {
                panic!("the app exited ({st}) waiting for {needle:?}:\n{text}");
            }
            if start.elapsed() > Duration::from_secs(secs) {
                self.shot("timeout");
                panic!("no {needle:?} (x{count}) in the app's log:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn count(&self, needle: &str) -> usize {
        self.log_text()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }

    fn xdotool(&self, args: &[&str]) {
        let st = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.display)
            .status()
            .unwrap();
        assert!(st.success(), "xdotool {args:?}");
    }

    fn key(&self, keys: &str) {
        self.xdotool(&["key", "--delay", "60", keys]);
        // Let GTK handle the event before the next one (a mnemonic can change the page).
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Press Tab until the focus is on a widget whose focus line has `needle`, as a keyboard user
    /// looks for a control; fails if `max` presses do not reach it.
    fn tab_to(&mut self, needle: &str, max: usize) {
        let seen = |g: &Gui| {
            g.log_text()
                .lines()
                .rev()
                .find(|l| l.contains("focus: "))
                .is_some_and(|l| l.contains(needle))
        };
        for _ in 0..max {
            if seen(self) {
                return;
            }
            self.key("Tab");
        }
        assert!(
            seen(self),
            "Tab never reached {needle:?}:\n{}",
            self.log_text()
        );
    }

    fn type_text(&self, text: &str) {
        self.xdotool(&["type", "--delay", "40", text]);
    }

    fn shot(&self, name: &str) -> PathBuf {
        // One more frame, so what was just logged as drawn is on the screen.
        std::thread::sleep(Duration::from_millis(300));
        let path = self.results.join(format!("{name}.png"));
        let st = Command::new("import")
            .args(["-window", "root"])
            .arg(&path)
            .env("DISPLAY", &self.display)
            .status()
            .unwrap();
        assert!(st.success(), "import {name}");
        assert!(
            std::fs::metadata(&path).unwrap().len() > 5_000,
            "{name}: an empty screen?"
        );
        path
    }
}

impl Drop for Gui {
    fn drop(&mut self) {
        if let Some(a) = &mut self.app {
            let _ = a.kill();
            let _ = a.wait();
        }
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
    }
}

fn installed(env: &Env, name: &str) -> Option<snapshelf_dbus::types::InstalledSnap> {
    common::installed(env).into_iter().find(|s| s.name == name)
}

fn plug(env: &Env, snap: &str, plug: &str) -> Connection {
    env.proxy()
        .connections(snap)
        .unwrap()
        .iter()
        .map(|d| Connection::from_dict(d).unwrap())
        .find(|c| c.plug == plug)
        .unwrap_or_else(|| panic!("no plug {snap}:{plug}"))
}

fn is_png(p: &Path) -> bool {
    std::fs::read(p).unwrap().starts_with(b"\x89PNG")
}

#[test]
fn a_keyboard_user_installs_switches_reverts_toggles_and_removes() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    let mut gui = Gui::start(&env, "e2e", "en", &[]);
    gui.wait("explore loaded", 1);
    assert!(is_png(&gui.shot("explore")));

    // Search as you type; Enter opens the first result.
    gui.key("ctrl+f");
    gui.type_text("clock");
    gui.wait("results for \"clock\"", 1);
    gui.shot("search");
    gui.key("Return");
    gui.wait("app page shown: shelf-clock installed=false", 1);
    gui.shot("app-page");

    // Install (Alt+I): the base comes with it, in one change.
    gui.key("alt+i");
    gui.wait("app page shown: shelf-clock installed=true revision=1", 1);
    let clock = installed(&env, "shelf-clock").expect("shelf-clock installed");
    assert_eq!(
        (clock.revision.as_str(), clock.channel.as_str()),
        ("1", "latest/stable")
    );
    assert!(installed(&env, "shelf-base").is_some());
    gui.shot("app-page-installed");

    // Hold updates (Alt+H) and release them again, each checked with the helper.
    gui.key("alt+h");
    gui.wait("hold set: shelf-clock held=true", 1);
    assert!(installed(&env, "shelf-clock").unwrap().held);
    gui.key("alt+h");
    gui.wait("hold set: shelf-clock held=false", 1);
    assert!(!installed(&env, "shelf-clock").unwrap().held);

    // Pick the candidate channel (Alt+L, Down, Space) and switch to it (Alt+S).
    gui.key("alt+l");
    gui.key("Down");
    gui.key("space");
    gui.key("alt+s");
    gui.wait("app page shown: shelf-clock installed=true revision=2", 1);
    let clock = installed(&env, "shelf-clock").unwrap();
    assert_eq!(
        (clock.revision.as_str(), clock.channel.as_str()),
        ("2", "latest/candidate")
    );

    // Revert (Alt+V): the dialog says what happens; Enter confirms.
    let shown = gui.count("app page shown: shelf-clock installed=true revision=1 ");
    gui.key("alt+v");
    gui.wait("dialog shown: revert shelf-clock", 1);
    gui.shot("revert-dialog");
    gui.key("Return");
    let line = gui.wait(
        "app page shown: shelf-clock installed=true revision=1 ",
        shown + 1,
    );
    // Candidate still holds revision 2, the one reverted from: as for the helper's
    // ListUpdates, that is no update, and the page offers none.
    assert!(line.contains("update=false"), "{line}");
    assert!(env.proxy().list_updates().unwrap().is_empty());
    let clock = installed(&env, "shelf-clock").unwrap();
    assert_eq!(clock.revision, "1");
    assert!(
        clock.revisions.contains(&"2".to_string()),
        "the reverted-from revision is kept"
    );

    // Another app, its permissions: the switch turns home off, and the helper agrees.
    gui.key("Escape");
    gui.key("ctrl+f");
    gui.key("ctrl+a");
    gui.type_text("notes");
    gui.wait("results for \"notes\"", 1);
    gui.key("Return");
    gui.wait("app page shown: shelf-notes installed=false", 1);
    gui.key("alt+i");
    gui.wait("app page shown: shelf-notes installed=true", 1);
    assert!(
        plug(&env, "shelf-notes", "home").connected,
        "home auto-connects"
    );
    gui.key("alt+p");
    gui.wait("permissions shown: shelf-notes", 1);
    gui.shot("permissions");
    gui.key("space");
    gui.wait("permissions shown: shelf-notes", 2);
    let home = plug(&env, "shelf-notes", "home");
    assert!(!home.connected && home.manual, "{home:?}");
    gui.shot("permissions-changed");
    // And back on, by the same switch.
    gui.key("space");
    gui.wait("permissions shown: shelf-notes", 3);
    assert!(plug(&env, "shelf-notes", "home").connected);
    // Reset to Defaults (Alt+D): one call, one change, and the choice is forgotten.
    let changes = env.proxy().list_changes().unwrap().len();
    gui.key("alt+d");
    gui.wait("permissions reset: shelf-notes", 1);
    gui.wait("permissions shown: shelf-notes", 4);
    let home = plug(&env, "shelf-notes", "home");
    assert!(home.connected && !home.manual, "{home:?}");
    let list = env.proxy().list_changes().unwrap();
    assert_eq!(list.len(), changes + 1, "{list:?}");

    // Remove (Alt+R), confirmed in the dialog.
    gui.key("Escape");
    gui.wait("app page shown: shelf-notes installed=true", 2);
    gui.key("alt+r");
    gui.wait("dialog shown: remove shelf-notes", 1);
    gui.shot("remove-dialog");
    gui.key("Return");
    gui.wait("app page shown: shelf-notes installed=false", 2);
    assert!(installed(&env, "shelf-notes").is_none());

    // The other pages, by Alt+3 and Alt+4.
    gui.key("alt+3");
    gui.wait("installed drawn", 1);
    gui.shot("installed");
    // Another client moves the app to the edge channel: the Updates page follows the helper's
    // signal, and Update All (Alt+U) takes it in one change.
    let c = env.proxy().switch("shelf-clock", "latest/edge").unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    gui.key("alt+4");
    gui.wait("updates shown: 1", 1);
    gui.shot("updates");
    let before = gui.count("updates shown: 0");
    gui.key("alt+u");
    gui.wait("updates shown: 0", before + 1);
    assert_eq!(installed(&env, "shelf-clock").unwrap().revision, "3");
    gui.shot("updates-done");

    // A category from Explore, with words still in the search entry: the category is shown.
    gui.key("alt+1");
    gui.tab_to("GtkButton games", 40);
    gui.key("space");
    gui.wait("results for \"games\"", 1);
    gui.shot("category");
    assert!(
        !gui.log_text().contains("error shown"),
        "no error was expected:\n{}",
        gui.log_text()
    );
}

#[test]
fn a_local_snap_file_shows_what_is_inside_and_installs_unsigned() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    // A copy the runner can read, as a downloaded file would be.
    let file = env.dir.path().join("shelf-hello_1.snap");
    std::fs::copy(env.catalog.join("snaps/shelf-hello_1.snap"), &file).unwrap();
    let mut gui = Gui::start(&env, "local-file", "en", &[file.to_str().unwrap()]);
    // The helper has never seen this file's signatures: it says so before anything happens.
    gui.wait("file checked: shelf-hello signed=false", 1);
    gui.shot("local-file");
    assert!(installed(&env, "shelf-hello").is_none());
    gui.key("alt+i");
    gui.wait("app page shown: shelf-hello installed=true revision=x1", 1);
    assert_eq!(installed(&env, "shelf-hello").unwrap().revision, "x1");
    gui.shot("local-file-installed");
    assert_eq!(gui.count("error shown"), 0, "{}", gui.log_text());
}

#[test]
fn the_app_speaks_german() {
    if !common::require_root() {
        return;
    }
    // Downloads paced so that the progress of an install is seen.
    let mut env = Env::with_store_args(common::catalog(), &["--download-rate", "1000000"]);
    // The helper reads the same catalogues: the app's SetLocale asks it for German.
    let locales = env.dir.path().join("helper-locale");
    common::compile_translations(&locales);
    let mut helper = env.helper_command();
    helper.arg("--locale-dir").arg(&locales);
    env.start_helper_from(helper);
    let mut gui = Gui::start(&env, "german", "de", &[]);
    let line = gui.wait("window shown at", 1);
    assert!(
        line.contains("Entdecken | Suche | Installiert | Aktualisierungen"),
        "{line}"
    );
    gui.wait("explore loaded", 1);
    gui.shot("explore-de");
    // The app asks the helper (SetLocale) for German: its change summaries and stages come
    // translated: "2 Snaps werden heruntergeladen", "»shelf-base« wird eingehängt".
    gui.key("ctrl+f");
    gui.type_text("clock");
    gui.wait("results for \"clock\"", 1);
    gui.key("Return");
    gui.wait("app page shown: shelf-clock installed=false", 1);
    gui.key("alt+i");
    gui.wait("heruntergeladen", 1);
    gui.shot("progress-de");
    gui.wait("app page shown: shelf-clock installed=true", 1);
    gui.key("alt+3");
    gui.wait("installed drawn", 1);
    gui.shot("installed-de");
}

#[test]
fn cancel_stops_a_slow_install_and_leaves_nothing() {
    if !common::require_root() {
        return;
    }
    // A realistic link: the base (busybox) takes tens of seconds at 50 kB/s.
    let mut env = Env::with_store_args(common::catalog(), &["--download-rate", "50000"]);
    env.start_helper();
    let mut gui = Gui::start(&env, "cancel", "en", &[]);
    gui.wait("explore loaded", 1);
    gui.key("ctrl+f");
    gui.type_text("clock");
    gui.wait("results for \"clock\"", 1);
    gui.key("Return");
    gui.wait("app page shown: shelf-clock installed=false", 1);
    gui.key("alt+i");
    // Bytes are flowing: the page shows the stage, the bytes and the speed, then Alt+C cancels.
    gui.wait("change stage: Downloading", 1);
    std::thread::sleep(Duration::from_millis(1500));
    gui.shot("progress");
    gui.key("alt+c");
    let end = gui.wait("change ended:", 1);
    assert!(end.contains("Cancelled") || end.contains("Undone"), "{end}");
    gui.wait("error shown: Some(Cancelled)", 1);
    gui.shot("cancelled");
    assert!(installed(&env, "shelf-clock").is_none());
    assert!(installed(&env, "shelf-base").is_none());
    assert!(
        env.mounts_under_root().is_empty(),
        "{:?}",
        env.mounts_under_root()
    );
}

#[test]
fn a_person_polkit_refuses_is_told_so_and_nothing_changes() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    let out = Command::new("id")
        .args(["-u", common::DENIED])
        .output()
        .unwrap();
    let uid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let home = env.dir.path().join("denied-home");
    std::fs::create_dir_all(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(uid), Some(uid)).unwrap();
    let mut gui = Gui::start_as(
        &env,
        (common::DENIED, uid, &home),
        "denied",
        "en",
        &[],
        None,
    );
    gui.wait("explore loaded", 1);
    gui.key("ctrl+f");
    gui.type_text("clock");
    gui.wait("results for \"clock\"", 1);
    gui.key("Return");
    gui.wait("app page shown: shelf-clock installed=false", 1);
    gui.key("alt+i");
    gui.wait("error shown: Some(NotAuthorized)", 1);
    gui.shot("not-authorized");
    assert!(installed(&env, "shelf-clock").is_none());
    assert!(
        env.proxy().list_changes().unwrap().is_empty(),
        "no change was made"
    );
}

#[test]
fn the_file_chooser_opens_a_snap_file() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    let file = env.dir.path().join("shelf-dice_1.snap");
    std::fs::copy(env.catalog.join("snaps/shelf-dice_1.snap"), &file).unwrap();
    let mut gui = Gui::start(&env, "file-chooser", "en", &[]);
    gui.wait("explore loaded", 1);
    gui.key("ctrl+o");
    gui.wait("file chooser shown", 1);
    std::thread::sleep(Duration::from_millis(800));
    // No window manager: the dialog sits at the top left, and keys go where the pointer is.
    gui.xdotool(&["mousemove", "300", "150"]);
    // Typing a path that starts with "/" opens GTK's location entry.
    gui.type_text(file.to_str().unwrap());
    gui.shot("file-chooser");
    gui.key("Return");
    gui.wait("file checked: shelf-dice signed=false", 1);
    gui.shot("file-chosen");
    assert!(
        installed(&env, "shelf-dice").is_none(),
        "nothing is installed by looking"
    );
}

#[test]
fn each_update_has_its_own_button() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    env.done(env.proxy().install(&["shelf-clock"], Default::default()));
    env.done(env.proxy().switch("shelf-clock", "latest/edge"));
    let mut gui = Gui::start(&env, "update-one", "en", &["--page", "updates"]);
    gui.wait("updates shown: 1", 1);
    // The row's own button is reachable from the keyboard and says which app it updates.
    gui.tab_to("act:shelf-clock", 12);
    gui.shot("update-button-focused");
    gui.key("space");
    gui.wait("updates shown: 0", 1);
    assert_eq!(installed(&env, "shelf-clock").unwrap().revision, "3");
}

#[test]
fn offline_the_app_says_so_and_installed_apps_still_show() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    env.done(env.proxy().install(&["shelf-clock"], Default::default()));
    env.stop_store();
    let mut gui = Gui::start(&env, "offline", "en", &[]);
    // Not the installed apps dressed up as featured ones, nor "up to date": offline, in words.
    gui.wait("explore failed: Some(NetworkError)", 1);
    gui.wait("updates failed: Some(NetworkError)", 1);
    gui.shot("explore-offline");
    assert!(!env.proxy().store_reachable().unwrap());
    gui.key("alt+3");
    gui.wait("installed drawn: 1 apps", 1);
    gui.shot("installed-offline");
    gui.key("alt+4");
    gui.shot("updates-offline");
    // Search still finds what is installed, and says that is all it can do.
    gui.key("ctrl+f");
    gui.type_text("clock");
    gui.wait("results for \"clock\"", 1);
    gui.shot("search-offline");
    assert!(
        !gui.log_text().contains("explore loaded"),
        "{}",
        gui.log_text()
    );
}

/// The sample catalog plus `shelf-term`, a classic snap (the sample has none).
fn catalog_with_a_classic_snap(dir: &Path) {
    common::copy_dir(common::catalog(), dir);
    let src = dir.join("src/shelf-term");
    std::fs::create_dir_all(src.join("meta")).unwrap();
    std::fs::create_dir_all(src.join("bin")).unwrap();
    std::fs::write(
        src.join("meta/snap.yaml"),
        "name: shelf-term\nversion: '1.0'\ntitle: Shelf Term\nsummary: A terminal that reaches the whole system\ndescription: Runs outside the sandbox, as classic snaps do.\nbase: shelf-base\nconfinement: classic\ngrade: stable\napps:\n  shelf-term:\n    command: bin/term\n",
    )
    .unwrap();
    std::fs::write(src.join("bin/term"), "#!/bin/sh\necho term\n").unwrap();
    std::fs::set_permissions(
        src.join("bin/term"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    snapshelf_snap::squashfs::pack(
        &src,
        &dir.join("snaps/shelf-term_1.snap"),
        &Default::default(),
    )
    .unwrap();
    let mut toml = std::fs::read_to_string(dir.join("catalog.toml")).unwrap();
    toml.push_str("\n[[snap]]\nname = \"shelf-term\"\npublisher = \"netcraft\"\ncategories = [\"development\"]\nlicense = \"MIT\"\nchannels = { \"latest/stable\" = 1 }\n");
    std::fs::write(dir.join("catalog.toml"), toml).unwrap();
}

/// Open a snap's page by searching for its name.
fn open_page(gui: &mut Gui, name: &str) {
    gui.key("ctrl+f");
    gui.key("ctrl+a");
    gui.type_text(name);
    gui.wait(&format!("results for \"{name}\""), 1);
    gui.key("Return");
    gui.wait(&format!("app page shown: {name} installed=false"), 1);
}

#[test]
fn before_install_the_page_says_what_a_snap_may_do_and_asks_for_classic() {
    if !common::require_root() {
        return;
    }
    let catalog = tempfile::tempdir().unwrap();
    catalog_with_a_classic_snap(catalog.path());
    let mut env = Env::with_catalog(catalog.path());
    env.start_helper();
    let mut gui = Gui::start(&env, "safety", "en", &[]);
    gui.wait("explore loaded", 1);

    // shelf-backup asks for the home folder (connected by itself) and removable drives (not):
    // the tiles say both before install, with the size of the base it brings.
    open_page(&mut gui, "shelf-backup");
    let line = gui.wait("app page shown: shelf-backup installed=false", 1);
    assert!(
        line.contains("tiles=Size,Sandbox,Area(Files)"),
        "the plugs came from the store's snap-yaml: {line}"
    );
    assert!(is_png(&gui.shot("safety-tiles")));

    // A classic snap: Install asks first; Escape says no and nothing is installed.
    gui.key("Escape");
    open_page(&mut gui, "shelf-term");
    let line = gui.wait("app page shown: shelf-term installed=false", 1);
    assert!(line.trim_end().ends_with("tiles=Size,Sandbox"), "{line}");
    gui.key("alt+i");
    gui.wait("dialog shown: classic shelf-term", 1);
    assert!(is_png(&gui.shot("classic-warning")));
    gui.key("Escape");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        installed(&env, "shelf-term").is_none(),
        "no consent, no install"
    );
    // Asked again and answered "Install Anyway" (Alt+I in the dialog): installed, classic.
    gui.key("alt+i");
    gui.wait("dialog shown: classic shelf-term", 2);
    gui.key("alt+i");
    gui.wait("app page shown: shelf-term installed=true", 1);
    let term = installed(&env, "shelf-term").expect("installed after consent");
    assert_eq!(term.confinement, "classic");
    assert_eq!(gui.count("error shown"), 0, "{}", gui.log_text());
}

#[test]
fn the_desktop_s_search_opens_a_snap_page_or_the_search() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    // What the search provider starts for ActivateResult and LaunchSearch.
    let mut gui = Gui::start(&env, "search-provider", "en", &["--snap", "shelf-clock"]);
    gui.wait("app page shown: shelf-clock installed=false", 1);
    gui.shot("activated");
    drop(gui);
    let mut gui = Gui::start(&env, "search-provider", "en", &["--search", "clock"]);
    gui.wait("results for \"clock\"", 1);
    gui.shot("launched-search");
    assert_eq!(gui.count("error shown"), 0, "{}", gui.log_text());
}

#[test]
fn f5_shows_what_another_client_changed() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    let mut gui = Gui::start(&env, "f5", "en", &[]);
    gui.wait("explore loaded", 1);
    open_page(&mut gui, "shelf-hello");
    // F5 reloads the page shown (and the lists behind it) from the helper.
    let shown = gui.count("app page shown: shelf-hello installed=false");
    let explore = gui.count("explore loaded");
    gui.key("F5");
    gui.wait("app page shown: shelf-hello installed=false", shown + 1);
    gui.wait("explore loaded", explore + 1);
    // Another client installs it: the page says so (through the helper's signal, or F5 at the
    // latest).
    let c = env
        .proxy()
        .install(&["shelf-hello"], Default::default())
        .unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    gui.key("F5");
    gui.wait("app page shown: shelf-hello installed=true", 1);
    gui.shot("after-f5");
    assert_eq!(gui.count("error shown"), 0, "{}", gui.log_text());
}

/// The sample catalog plus a GNOME-style app and its content snap `gnome-42-2204` (one
/// publisher, so the plug connects by itself when the app's install brings the provider).
/// Pack the snap `name` (its `snap.yaml` and executable `files`) into the catalog copy at `dir`,
/// revision 1 on latest/stable, its entry ending with the TOML lines `extra`.
fn add_to_catalog(dir: &Path, name: &str, yaml: &str, files: &[(&str, &str)], extra: &str) {
    let src = dir.join("src").join(name);
    std::fs::create_dir_all(src.join("meta")).unwrap();
    std::fs::write(src.join("meta/snap.yaml"), yaml).unwrap();
    for (path, text) in files {
        let p = src.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    snapshelf_snap::squashfs::pack(
        &src,
        &dir.join(format!("snaps/{name}_1.snap")),
        &Default::default(),
    )
    .unwrap();
    let mut toml = std::fs::read_to_string(dir.join("catalog.toml")).unwrap();
    toml.push_str(&format!("\n[[snap]]\nname = \"{name}\"\npublisher = \"snapshelf\"\ncategories = [\"development\"]\nlicense = \"MIT\"\nchannels = {{ \"latest/stable\" = 1 }}\n{extra}"));
    std::fs::write(dir.join("catalog.toml"), toml).unwrap();
}

fn catalog_with_content(dir: &Path) {
    common::copy_dir(common::catalog(), dir);
    add_to_catalog(
        dir,
        "gnome-42-2204",
        "name: gnome-42-2204\nversion: '0+git.1'\nsummary: Shared GNOME 42 Ubuntu stack\nbase: shelf-base\nslots:\n  gnome-42-2204:\n    interface: content\n    read: [$SNAP/usr]\n",
        &[("usr/share/gnome-stack", "gtk\n")],
        "",
    );
    add_to_catalog(
        dir,
        "shelf-gnome-app",
        "name: shelf-gnome-app\nversion: '1.0'\ntitle: Shelf GNOME App\nsummary: Built on the GNOME 42 platform\nbase: shelf-base\napps:\n  shelf-gnome-app:\n    command: bin/app\nplugs:\n  gnome-42-2204:\n    interface: content\n    target: $SNAP/gnome-platform\n    default-provider: gnome-42-2204\n",
        &[("bin/app", "#!/bin/sh\nls $SNAP/gnome-platform\n")],
        "",
    );
}

/// Content in the app's words (issue 14, 6): Permissions says "Uses the GNOME 42 platform from
/// gnome-42-2204" (here in German), Installed lists the platform apart from the apps with the
/// app that uses it, and a refused removal of the provider says why.
#[test]
fn content_providers_are_shown_in_words() {
    if !common::require_root() {
        return;
    }
    let catalog = tempfile::tempdir().unwrap();
    catalog_with_content(catalog.path());
    let mut env = Env::with_catalog(catalog.path());
    env.start_helper();
    let c = env
        .proxy()
        .install(&["shelf-gnome-app"], snapshelf_dbus::types::Dict::new())
        .unwrap();
    let (status, _, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{err}");
    assert!(plug(&env, "shelf-gnome-app", "gnome-42-2204").connected);

    let mut gui = Gui::start(&env, "content", "de", &[]);
    gui.key("alt+3");
    let line = gui.wait("installed platforms:", 1);
    assert!(
        line.contains("gnome-42-2204 used by [shelf-gnome-app]") && line.contains("shelf-base"),
        "{line}"
    );
    gui.wait("installed drawn: 1 apps", 1);
    gui.shot("installed-platforms-de");

    open_installed_page(&mut gui, "shelf-gnome-app");
    // German mnemonics: _Berechtigungen, _Entfernen.
    gui.key("alt+b");
    let line = gui.wait("permissions shown: shelf-gnome-app", 1);
    assert!(
        line.contains("content: Nutzt die GNOME-42-Plattform von gnome-42-2204"),
        "{line}"
    );
    gui.shot("permissions-content-de");

    // Removing the provider the app uses: refused, and said so.
    gui.key("Escape");
    gui.key("Escape");
    open_installed_page(&mut gui, "gnome-42-2204");
    gui.key("alt+e");
    gui.wait("dialog shown: remove gnome-42-2204", 1);
    gui.key("Return");
    let line = gui.wait("error shown: Some(ProviderInUse)", 1);
    assert!(line.contains("shelf-gnome-app:gnome-42-2204"), "{line}");
    gui.shot("provider-in-use-de");
    assert!(installed(&env, "gnome-42-2204").is_some());
}

/// Open an installed snap's page by searching for its name.
fn open_installed_page(gui: &mut Gui, name: &str) {
    gui.key("ctrl+f");
    gui.key("ctrl+a");
    gui.type_text(name);
    gui.wait(&format!("results for \"{name}\""), 1);
    gui.key("Return");
    gui.wait(&format!("app page shown: {name} installed=true"), 1);
}

/// A GTK 4 window whose label starts an XDND drag of one file (its URI in argv[1]), as a file
/// manager would: the test moves the pointer with xdotool, so the drop is made of real events.
const DRAG_SOURCE_PY: &str = r#"
import sys, gi
gi.require_version("Gtk", "4.0")
gi.require_version("Gdk", "4.0")
from gi.repository import Gtk, Gdk, Gio, GLib
uri = sys.argv[1]
def provider(*_):
    files = Gdk.FileList.new_from_list([Gio.File.new_for_uri(uri)])
    return Gdk.ContentProvider.new_union([
        Gdk.ContentProvider.new_for_value(files),
        Gdk.ContentProvider.new_for_bytes("text/uri-list", GLib.Bytes.new((uri + "\r\n").encode())),
    ])
# A plain window, no GtkApplication: nothing on D-Bus.
w = Gtk.Window(title="snapshelf-drag-source")
w.set_default_size(200, 200)
label = Gtk.Label(label="drag me")
src = Gtk.DragSource(actions=Gdk.DragAction.COPY)
src.connect("prepare", provider)
label.add_controller(src)
w.set_child(label)
w.present()
GLib.MainLoop().run()
"#;

#[test]
fn a_snap_file_dropped_on_the_window_opens_it() {
    if !common::require_root() {
        return;
    }
    let gi = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import gi; gi.require_version('Gtk', '4.0'); from gi.repository import Gtk",
        ])
        .status();
    if !gi.is_ok_and(|s| s.success()) {
        snapshelf_snap::testdata::record_skip(
            "gui::drag_and_drop_of_a_snap",
            "no drag source: python3-gi with gir1.2-gtk-4.0 is not installed",
        );
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    let file = env.dir.path().join("shelf-hello_1.snap");
    std::fs::copy(env.catalog.join("snaps/shelf-hello_1.snap"), &file).unwrap();
    let script = env.dir.path().join("drag-source.py");
    std::fs::write(&script, DRAG_SOURCE_PY).unwrap();
    let mut gui = Gui::start(&env, "drag-and-drop", "en", &[]);
    gui.wait("explore loaded", 1);
    let uri = format!("file://{}", file.display());
    let mut source = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(&uri)
        .env("DISPLAY", &gui.display)
        .env("GDK_BACKEND", "x11")
        .env("NO_AT_BRIDGE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Its window, mapped after the app's, lies on top of it at the top left (no window manager).
    let mut id = String::new();
    for _ in 0..100 {
        let o = Command::new("xdotool")
            .args(["search", "--name", "snapshelf-drag-source"])
            .env("DISPLAY", &gui.display)
            .output()
            .unwrap();
        id = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if !id.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!id.is_empty(), "the drag source's window never showed");
    gui.xdotool(&["windowmove", "--sync", &id, "0", "0"]);
    gui.xdotool(&["mousemove", "100", "100", "mousedown", "1"]);
    for (x, y) in [
        (120, 110),
        (160, 140),
        (250, 200),
        (400, 300),
        (550, 400),
        (600, 420),
    ] {
        std::thread::sleep(Duration::from_millis(150));
        gui.xdotool(&["mousemove", &x.to_string(), &y.to_string()]);
    }
    std::thread::sleep(Duration::from_millis(500));
    gui.xdotool(&["mouseup", "1"]);
    // The app opens the dropped file as it opens one from the file chooser.
    gui.wait("file checked: shelf-hello signed=false", 1);
    let _ = source.kill();
    let _ = source.wait();
    gui.shot("dropped-file");
    assert!(installed(&env, "shelf-hello").is_none());
    assert_eq!(gui.count("error shown"), 0, "{}", gui.log_text());
}

/// Walks the app's accessibility tree through AT-SPI as a screen reader does and prints every
/// visible control (role, name, focusable) as JSON.
const ATSPI_WALK_PY: &str = r#"
import json, sys, time, gi
gi.require_version("Atspi", "2.0")
from gi.repository import Atspi
R = Atspi.Role
CONTROLS = {R.PUSH_BUTTON, R.TOGGLE_BUTTON, R.CHECK_BOX, R.RADIO_BUTTON, R.ENTRY, R.PASSWORD_TEXT,
            R.COMBO_BOX, R.MENU_ITEM, R.LINK, R.SPIN_BUTTON, R.SLIDER, R.PAGE_TAB, R.LIST_ITEM}
def app_named(name):
    for _ in range(200):
        d = Atspi.get_desktop(0)
        for i in range(d.get_child_count()):
            a = d.get_child_at_index(i)
            if a is not None and a.get_name() == name:
                return a
        time.sleep(0.1)
    sys.exit("no application named %r on the accessibility bus" % name)
def walk(node, path, out):
    states = node.get_state_set()
    # The application node itself has no VISIBLE state; its windows and widgets do.
    if node.get_role() != R.APPLICATION and not states.contains(Atspi.StateType.VISIBLE):
        return
    if node.get_role() in CONTROLS:
        out.append({"role": node.get_role_name(), "name": node.get_name() or "", "path": path,
                    "focusable": states.contains(Atspi.StateType.FOCUSABLE)})
    for i in range(node.get_child_count()):
        c = node.get_child_at_index(i)
        if c is not None:
            walk(c, path + "/" + c.get_role_name(), out)
out = []
walk(app_named(sys.argv[1]), "", out)
print(json.dumps(out))
"#;

/// Every control has a name a screen reader can say once, and the keyboard reaches it.
fn assert_usable(controls: &[serde_json::Value]) {
    let bad: Vec<_> = controls
        .iter()
        .filter(|c| {
            let name = c["name"].as_str().unwrap_or("");
            // No name, a class name GTK falls back to, a mnemonic's underscore read aloud, or
            // the same words twice ("Try Again Try Again").
            name.trim().is_empty()
                || name.starts_with("Gtk")
                || name.starts_with("Adw")
                || name.starts_with('_')
                || said_twice(name)
                || c["focusable"] != true
        })
        .collect();
    assert!(
        bad.is_empty(),
        "controls a screen reader cannot use: {bad:#?}"
    );
}

/// "Try Again Try Again": a name that is one text, a space, and the same text again.
fn said_twice(name: &str) -> bool {
    let half = name.len() / 2;
    name.len() % 2 == 1
        && name.is_char_boundary(half)
        && name[half..].starts_with(' ')
        && name[..half] == name[half + 1..]
}

#[test]
fn names_said_twice_are_found() {
    assert!(said_twice("Try Again Try Again"));
    assert!(said_twice("Update Update"));
    assert!(!said_twice("Try Again"));
    assert!(!said_twice("Update: Clock"));
    assert!(!said_twice(""));
}

#[test]
fn every_control_has_a_role_a_name_and_the_keyboard() {
    if !common::require_root() {
        return;
    }
    let atspi = Command::new("/usr/bin/python3")
        .args(["-c", "import gi; gi.require_version('Atspi', '2.0')"])
        .status();
    if !atspi.is_ok_and(|s| s.success()) || !Path::new("/usr/libexec/at-spi-bus-launcher").exists()
    {
        snapshelf_snap::testdata::record_skip(
            "gui::accessibility_tree",
            "no AT-SPI: at-spi2-core or gir1.2-atspi-2.0 is not installed",
        );
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    // Installed snaps: the Installed page has rows to walk too.
    let c = env
        .proxy()
        .install(&["shelf-hello"], Default::default())
        .unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    // The person's session bus, on which at-spi-bus-launcher and at-spi2-registryd are activated.
    let (uid, home) = common::runner();
    let dir = env.dir.path().join("session");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(uid), None).unwrap();
    let address = format!("unix:path={}", dir.join("bus").display());
    // setpriv execs: the child is the daemon itself, so killing it ends the bus, and with it the
    // launcher and registry it activated.
    let bus = Command::new("setpriv")
        .args(["--reuid", RUNNER, "--regid", RUNNER, "--init-groups"])
        .args(["dbus-daemon", "--session", "--nofork"])
        .arg(format!("--address={address}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(common::gnome::Reaped)
        .unwrap();
    for _ in 0..100 {
        if dir.join("bus").exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut gui = Gui::start_as(
        &env,
        (RUNNER, uid, &home),
        "atspi",
        "en",
        &[],
        Some(&address),
    );
    gui.wait("explore loaded", 1);
    let script = env.dir.path().join("atspi-walk.py");
    std::fs::write(&script, ATSPI_WALK_PY).unwrap();
    let walk = |gui: &Gui| -> Vec<serde_json::Value> {
        let out = Command::new("runuser")
            .args(["-u", RUNNER, "--", "env", "-i"])
            .arg(format!("DISPLAY={}", gui.display))
            .arg(format!("DBUS_SESSION_BUS_ADDRESS={address}"))
            .arg(format!("HOME={}", home.display()))
            .args(["/usr/bin/python3"])
            .arg(&script)
            .arg("snapshelf")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let controls = walk(&gui);
    // The main pages' controls: the page tabs, the header's buttons, the search entry, rows.
    assert!(controls.len() >= 15, "{controls:?}");
    for role in ["page tab", "push button", "entry"] {
        assert!(
            controls.iter().any(|c| c["role"] == role),
            "no {role}: {controls:?}"
        );
    }
    assert_usable(&controls);
    // Offline, Explore fails and says so with "Try Again", a mnemonic button: GTK 4.8 named such
    // buttons twice ("Try Again Try Again") until a11y::set_label dropped their label relation.
    env.stop_store();
    gui.key("F5");
    gui.wait("explore failed", 1);
    let offline = walk(&gui);
    drop(bus);
    assert!(
        offline
            .iter()
            .any(|c| c["role"] == "push button" && c["name"] == "Try Again"),
        "no \"Try Again\" button: {offline:#?}"
    );
    assert_usable(&offline);
    assert_eq!(gui.count("error shown"), 0, "{}", gui.log_text());
}

/// Issue 15, item 7, as a person does it: the GNOME calculator (Debian's, in the store's
/// desktop-snap shape: `common::gnome`) found in the app, installed with one Install (its base,
/// platform and themes come in the same change), then Open: the calculator's real window
/// appears, drawn with the platform's GTK 4. The packaged confine (file capabilities) starts it,
/// as an installed system's would.
#[test]
fn a_gnome_app_from_the_store_opens_its_real_window() {
    if !common::require_root() {
        return;
    }
    let Some(fixtures) = common::gnome::fixtures() else {
        return;
    };
    let catalog = tempfile::tempdir().unwrap();
    common::gnome::catalog_with_gnome(catalog.path(), &fixtures);
    let mut env = Env::with_catalog(catalog.path());
    env.start_helper();
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        work.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let capable = common::sandbox::capable_confine(work.path());
    let (uid, home) = common::runner();
    common::gnome::share_snap_mounts(&env);
    let mut gui = Gui::start_full(
        &env,
        (RUNNER, uid, &home),
        "gnome-app",
        "en",
        &[],
        None,
        Some(&capable),
    );
    gui.wait("explore loaded", 1);
    open_page(&mut gui, "gnome-calculator");
    gui.shot("gnome-app-page");

    let changes = env.proxy().list_changes().unwrap().len();
    gui.key("alt+i");
    gui.wait_for("app page shown: gnome-calculator installed=true", 1, 300);
    let mut names = common::gnome::names(&env);
    names.retain(|n| common::gnome::SNAPS.contains(&n.as_str()));
    assert_eq!(
        names.len(),
        4,
        "base, platform and themes came with it: {names:?}"
    );
    assert_eq!(
        env.proxy().list_changes().unwrap().len(),
        changes + 1,
        "in one change"
    );
    assert!(plug(&env, "gnome-calculator", "gnome-43-bookworm").connected);
    gui.shot("gnome-app-installed");

    // Open (Alt+O): the calculator's own window, from its sandbox.
    gui.key("alt+o");
    gui.wait("launching gnome-calculator", 1);
    let display = gui.display.clone();
    let id = common::gnome::wait_window(&display, "gnome-calculator", 120, &mut || true);
    common::gnome::check_window_and_gtk(&env, &display, &id, uid);
    // The calculator is drawn at the top left, over the app's window (no window manager).
    let shot = gui.shot("gnome-app-open");
    assert!(is_png(&shot));
    assert_eq!(gui.count("error shown"), 0, "{}", gui.log_text());
    for pid in common::gnome::processes(uid, "/usr/bin/gnome-calculator") {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
}

/// Two installed snaps offer the service a `dbus` plug asks for (snapd's `snap connect plug
/// snap:slot` lets a person choose): the permissions page shows a picker of them, the keyboard
/// picks the second, and the switch connects the plug to that slot.
#[test]
fn a_dbus_plug_with_several_providers_connects_to_the_one_picked() {
    if !common::require_root() {
        return;
    }
    let catalog = tempfile::tempdir().unwrap();
    common::copy_dir(common::catalog(), catalog.path());
    let bin = [("bin/run", "#!/bin/sh\nexit 0\n")];
    for (name, title) in [("shelf-peer-a", "Peer A"), ("shelf-peer-b", "Peer B")] {
        add_to_catalog(
            catalog.path(),
            name,
            &format!(
                "name: {name}\nversion: '1.0'\ntitle: {title}\nsummary: Offers org.example.ShelfPeer\n\
                 base: shelf-base\napps:\n  serve:\n    command: bin/run\n    slots: [peer]\n\
                 slots:\n  peer:\n    interface: dbus\n    bus: session\n    name: org.example.ShelfPeer\n"
            ),
            &bin,
            "",
        );
    }
    add_to_catalog(
        catalog.path(),
        "shelf-caller",
        "name: shelf-caller\nversion: '1.0'\ntitle: Shelf Caller\nsummary: Talks to org.example.ShelfPeer\n\
         base: shelf-base\napps:\n  shelf-caller:\n    command: bin/run\n    plugs: [peer]\n\
         plugs:\n  peer:\n    interface: dbus\n    bus: session\n    name: org.example.ShelfPeer\n",
        &bin,
        // snapd's base declaration denies dbus connections; the store's declaration allows it.
        "declaration-plugs = { dbus = { allow-connection = \"true\" } }\n",
    );
    let mut env = Env::with_catalog(catalog.path());
    env.start_helper();
    env.done(env.proxy().install(
        &["shelf-peer-a", "shelf-peer-b", "shelf-caller"],
        snapshelf_dbus::types::Dict::new(),
    ));
    let peer = plug(&env, "shelf-caller", "peer");
    assert!(!peer.connected && peer.slot_snap.is_empty(), "{peer:?}");

    let mut gui = Gui::start(&env, "dbus-picker", "en", &[]);
    open_installed_page(&mut gui, "shelf-caller");
    gui.key("alt+p");
    gui.wait("permissions shown: shelf-caller", 1);
    // The keyboard starts on the plug's row: Enter opens its list of providers.
    gui.tab_to("AdwComboRow peer", 10);
    gui.key("Return");
    std::thread::sleep(Duration::from_millis(500));
    assert!(is_png(&gui.shot("permissions-dbus-picker")));
    gui.key("Down");
    gui.key("Return");
    gui.wait("permission slot selected: shelf-caller:peer -> 1", 1);
    gui.shot("permissions-dbus-chosen");
    // Tab to the row's switch; Space connects the plug to the slot picked.
    gui.tab_to("GtkSwitch switch-peer", 10);
    gui.key("space");
    gui.wait(
        "permission slot picked: shelf-caller:peer -> shelf-peer-b:peer",
        1,
    );
    gui.wait("permissions shown: shelf-caller", 2);
    let peer = plug(&env, "shelf-caller", "peer");
    assert!(
        peer.connected && peer.manual,
        "{peer:?}\n{}",
        gui.log_text()
    );
    assert_eq!(
        (peer.slot_snap.as_str(), peer.slot.as_str()),
        ("shelf-peer-b", "peer")
    );
    gui.shot("permissions-dbus-picked");
    assert_eq!(gui.count("error shown"), 0, "{}", gui.log_text());
}
