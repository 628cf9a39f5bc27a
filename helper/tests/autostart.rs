//! Apps that start with the desktop session, as snapd's `snap userd --autostart` starts them
//! (tests/main/snap-userd-desktop-app-autostart, snap-user-dir-perms-fixed): `snapshelfctl
//! autostart`, run at login by our XDG autostart entry, starts the app whose `autostart:` names a
//! file in `~/snap/<snap>/current/.config/autostart/`, in its sandbox, with the file's `Exec`
//! arguments (its command replaced by the app's); files the session should not start are left
//! alone, a file no app names is reported; `~/snap` open to others is made 0700 again, there and
//! at every launch. Real unprivileged user, real sandbox (confine in a user namespace).

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::sandbox::{self, Mode};
use common::users::{hold_user, user_with_home};
use common::Env;

/// This file's user (no other test's: its home is pointed into this test's root).
const USER: &str = "snapshelf-autostart";
const SNAP: &str = "shelf-autostart";

/// `greeter` starts with the session (`autostart: greeter.desktop`); both apps write their name
/// and arguments to `$SNAP_USER_DATA/started`.
fn autostart_snap(work: &Path) -> PathBuf {
    let s = work.join("src");
    sandbox::write(
        &s.join("meta/snap.yaml"),
        &format!(
            "name: {SNAP}\nversion: '1'\nsummary: Starts with the session\nbase: shelf-base\n\
             apps:\n  greeter:\n    command: bin/started\n    autostart: greeter.desktop\n  \
             other:\n    command: bin/started\n"
        ),
        0o644,
    );
    sandbox::write(
        &s.join("bin/started"),
        "#!/bin/sh\nprintf '%s\\n' \"$SNAP_APP_NAME\" \"$@\" > \"$SNAP_USER_DATA/started.tmp\"\n\
         mv \"$SNAP_USER_DATA/started.tmp\" \"$SNAP_USER_DATA/started\"\n",
        0o755,
    );
    sandbox::pack(&s, &work.join("autostart.snap"))
}

struct World {
    env: Env,
    _work: tempfile::TempDir,
    _user: std::fs::File,
    uid: u32,
    home: PathBuf,
}

fn world() -> Option<World> {
    if !common::require_root() {
        return None;
    }
    let user = hold_user(USER);
    let (env, work) = sandbox::setup_with_confine();
    let uid = user_with_home(&env.root, USER);
    sandbox::install_file(&env, &autostart_snap(work.path()));
    let home = env.root.join("home").join(USER);
    Some(World {
        env,
        _work: work,
        _user: user,
        uid,
        home,
    })
}

impl World {
    fn mode(&self, p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().mode() & 0o7777
    }

    /// Write a file as the user would (owned by the user).
    fn user_file(&self, p: &Path, text: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        for a in p.ancestors().take_while(|a| a.starts_with(&self.home)) {
            std::os::unix::fs::chown(a, Some(self.uid), Some(self.uid)).unwrap();
        }
    }

    fn started(&self) -> PathBuf {
        self.home.join(format!("snap/{SNAP}/current/started"))
    }

    /// `snapshelfctl autostart` as the user in a GNOME session: (success, stderr).
    fn autostart(&self) -> (bool, String) {
        let ctl = common::workspace_bin("snapshelfctl", "snapshelfctl");
        let o = Command::new("runuser")
            .args(["-u", USER, "--", "env"])
            .arg(format!("SNAPSHELF_ROOT={}", self.env.root.display()))
            .arg(format!(
                "SNAPSHELF_CONFINE={}",
                sandbox::confine_bin().display()
            ))
            .arg("XDG_CURRENT_DESKTOP=ubuntu:GNOME")
            .arg(ctl)
            .arg("autostart")
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    /// What the app wrote, once it has (it runs on after autostart returns).
    fn wait_started(&self) -> String {
        let t = Instant::now();
        loop {
            if let Ok(s) = std::fs::read_to_string(self.started()) {
                return s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "the app did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// snap-user-dir-perms-fixed, at launch: a `~/snap` found 0755 is 0700 after the app ran.
#[test]
fn a_launch_makes_an_open_snap_folder_private_again() {
    let Some(w) = world() else { return };
    let snap_dir = w.home.join("snap");
    w.user_file(&snap_dir.join(".keep"), "");
    std::fs::set_permissions(&snap_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = sandbox::launch_as(&w.env, Mode::UserNs, USER, &format!("{SNAP}.other"), &["x"]);
    sandbox::ok(&o, "other");
    assert_eq!(w.mode(&snap_dir), 0o700);
    assert_eq!(std::fs::read_to_string(w.started()).unwrap(), "other\nx\n");
}

/// snap-userd-desktop-app-autostart and snap-user-dir-perms-fixed: the app whose `autostart:`
/// names the file starts with the file's arguments (not its command); a hidden file starts
/// nothing; a file no app names is reported, and does not keep the others from starting.
#[test]
fn autostart_starts_the_app_its_desktop_file_names() {
    let Some(w) = world() else { return };
    // The user ran the app once (its folders are there), and ~/snap was opened up since.
    let o = sandbox::launch_as(&w.env, Mode::UserNs, USER, &format!("{SNAP}.other"), &[]);
    sandbox::ok(&o, "other");
    std::fs::remove_file(w.started()).unwrap();
    std::fs::set_permissions(w.home.join("snap"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let dir = w
        .home
        .join(format!("snap/{SNAP}/current/.config/autostart"));
    w.user_file(
        &dir.join("greeter.desktop"),
        "[Desktop Entry]\nType=Application\nName=Greeter\n\
         Exec=/usr/bin/anything-else --flag \"two words\" %U\n",
    );
    w.user_file(
        &dir.join("stray.desktop"),
        "[Desktop Entry]\nType=Application\nName=Stray\nExec=stray\n",
    );
    let (ok, err) = w.autostart();
    assert!(!ok, "a file no app names must be reported");
    assert!(
        err.contains(
            "\"stray.desktop\": cannot match desktop file with snap shelf-autostart applications"
        ),
        "{err}"
    );
    assert_eq!(w.wait_started(), "greeter\n--flag\ntwo words\n");
    assert_eq!(w.mode(&w.home.join("snap")), 0o700);

    // Hidden (the user switched it off), and GNOME's own switch: nothing starts.
    std::fs::remove_file(dir.join("stray.desktop")).unwrap();
    for off in ["Hidden=true", "X-GNOME-Autostart-enabled=false"] {
        std::fs::remove_file(w.started()).unwrap_or_default();
        w.user_file(
            &dir.join("greeter.desktop"),
            &format!("[Desktop Entry]\nType=Application\nName=Greeter\nExec=greeter\n{off}\n"),
        );
        let (ok, err) = w.autostart();
        assert!(ok, "{off}: {err}");
        // A started app writes within a second or two (the first run above shows how long).
        std::thread::sleep(Duration::from_secs(3));
        assert!(!w.started().exists(), "{off}: the app started");
    }
}
