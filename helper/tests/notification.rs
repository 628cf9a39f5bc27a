//! The update agent's notification on a real notification server: Debian's `dunst` on a private
//! session bus under Xvfb shows the agent's "Updates ready" (shelf-clock has an update and runs),
//! and the screen is saved as `target/gui-results/notification/updates-ready.png` (the README's
//! screenshot, `docs/screenshots/notification.png`, is a copy).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::sandbox::Blocked;
use common::Env;

const SNAP: &str = "shelf-clock";

/// Children ended when the test ends, however it ends.
struct Reaped(Vec<Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        for c in self.0.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// dunst's look for the screenshot: GNOME's light colours and font, top right, never expiring.
const DUNSTRC: &str = r##"[global]
    font = Cantarell 12
    width = 460
    origin = top-right
    offset = 24x24
    padding = 14
    horizontal_padding = 18
    frame_width = 1
    frame_color = "#c0bfbc"
    corner_radius = 10
    icon_position = off
    show_indicators = no
    format = "<b>%s</b>\n%b"
[urgency_low]
    background = "#fafafa"
    foreground = "#241f31"
    timeout = 0
[urgency_normal]
    background = "#fafafa"
    foreground = "#241f31"
    timeout = 0
[urgency_critical]
    background = "#fafafa"
    foreground = "#241f31"
    timeout = 0
"##;

fn have_tools() -> bool {
    let missing: Vec<&str> = ["Xvfb", "dunst", "dunstctl", "import", "convert", "identify"]
        .into_iter()
        .filter(|t| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if !missing.is_empty() {
        snapshelf_snap::testdata::record_skip(
            "notification::updates_ready_on_a_real_notification_server",
            &format!("{missing:?} not installed (Debian packages xvfb dunst imagemagick)"),
        );
    }
    missing.is_empty()
}

/// An X server on a free display; its name.
fn xvfb(children: &mut Reaped) -> String {
    let mut x = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1024x600x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(x.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    children.0.push(x);
    assert!(!line.trim().is_empty(), "Xvfb gave no display number");
    format!(":{}", line.trim())
}

/// A session bus with dunst on it (it owns `org.freedesktop.Notifications`); its address.
fn session(dir: &Path, display: &str, children: &mut Reaped) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let address = format!("unix:path={}", dir.join("bus").display());
    children.0.push(
        Command::new("dbus-daemon")
            .args(["--session", "--nofork"])
            .arg(format!("--address={address}"))
            .stdout(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian package dbus) is needed"),
    );
    common::wait_until("the session bus", Duration::from_secs(10), || {
        common::name_has_owner(&address, "org.freedesktop.DBus")
    });
    let rc = dir.join("dunstrc");
    std::fs::write(&rc, DUNSTRC).unwrap();
    children.0.push(
        Command::new("dunst")
            .arg("-config")
            .arg(&rc)
            .env("DISPLAY", display)
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    common::wait_until("dunst on the session bus", Duration::from_secs(10), || {
        common::name_has_owner(&address, "org.freedesktop.Notifications")
    });
    address
}

/// `dunstctl count displayed`: what dunst shows now.
fn displayed(address: &str) -> u32 {
    let out = Command::new("dunstctl")
        .args(["count", "displayed"])
        .env("DBUS_SESSION_BUS_ADDRESS", address)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

fn results() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe
        .ancestors()
        .nth(3)
        .unwrap()
        .join("gui-results/notification");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn updates_ready_on_a_real_notification_server() {
    if !common::require_root() || !have_tools() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    env.done(env.proxy().install(&[SNAP], Default::default()));
    // Track candidate without refreshing: revision 2 is an update.
    env.done(env.proxy().switch(SNAP, "latest/candidate"));
    let mut children = Reaped(Vec::new());
    let app = Blocked::start(&env, &format!("{SNAP}.{SNAP}"));

    let display = xvfb(&mut children);
    let address = session(&env.dir.path().join("session"), &display, &mut children);
    assert_eq!(displayed(&address), 0);
    let config = env.dir.path().join("config");
    children.0.push(
        Command::new(common::workspace_bin(
            "snapshelf-update-agent",
            "snapshelf-update-agent",
        ))
        .args(["--bus-address", &env.bus_address, "--first-check", "0"])
        .args(["--interval", "3600", "--held-retry", "3600"])
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .env("XDG_CONFIG_HOME", &config)
        .env("LANGUAGE", "en")
        .spawn()
        .unwrap(),
    );
    common::wait_until(
        "dunst to show a notification",
        Duration::from_secs(120),
        || displayed(&address) == 1,
    );
    // dunst draws on its next frame.
    std::thread::sleep(Duration::from_millis(500));
    let screen = results().join("screen.png");
    let shot = results().join("updates-ready.png");
    let ok = Command::new("import")
        .args(["-display", &display, "-window", "root"])
        .arg(&screen)
        .status()
        .unwrap();
    assert!(ok.success(), "import failed");
    // The black screen around the notification cut away, a margin of GNOME's dark grey added.
    let ok = Command::new("convert")
        .arg(&screen)
        .args([
            "-trim",
            "+repage",
            "-bordercolor",
            "#3d3846",
            "-border",
            "24",
        ])
        .arg(&shot)
        .status()
        .unwrap();
    assert!(ok.success(), "convert failed");
    let size = Command::new("identify")
        .args(["-format", "%w %h"])
        .arg(&shot)
        .output()
        .unwrap();
    let size = String::from_utf8_lossy(&size.stdout).to_string();
    let (w, h) = size.split_once(' ').unwrap();
    let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
    // The notification's box, not an empty screen (trimmed to nothing) nor the whole screen.
    assert!(
        (300..1000).contains(&w) && (60..400).contains(&h),
        "{w}x{h}"
    );
    assert!(
        env.proxy().running_apps(SNAP).unwrap() == [SNAP],
        "held while the app runs"
    );
    // Let the app finish: it was blocked writing.
    app.end();
}
