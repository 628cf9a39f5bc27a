//! The GNOME-platform app's fixtures (`scripts/gnome-fixtures.sh`, cached) and what the tests
//! that run it look at: its window on a real X server and the libraries its process mapped.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use snapshelf_dbus::types::Connection;

use super::Env;

/// The fixtures' snaps, their files named `<snap>.snap`.
pub const SNAPS: [&str; 4] = [
    "shelf-bookworm",
    "gtk-common-themes",
    "gnome-43-bookworm",
    "gnome-calculator",
];

/// The folder with the four snaps, built (once) by the script; `None`, recorded as not run,
/// where it cannot be built here.
pub fn fixtures() -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/gnome-fixtures.sh");
    let o = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let dir = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
    if !o.status.success() || !SNAPS.iter().all(|s| dir.join(format!("{s}.snap")).exists()) {
        snapshelf_snap::testdata::record_skip(
            &snapshelf_snap::testdata::current_test(),
            "the GNOME fixtures could not be built (scripts/gnome-fixtures.sh: debootstrap and \
             apt-get need root and a Debian mirror)",
        );
        return None;
    }
    Some(dir)
}

/// The sample catalog plus the four snaps, from one publisher (so the content plugs connect by
/// themselves, as the store's declarations let the gnome platform's do).
pub fn catalog_with_gnome(dir: &Path, fixtures: &Path) {
    super::copy_dir(super::catalog(), dir);
    let mut toml = std::fs::read_to_string(dir.join("catalog.toml")).unwrap();
    for name in SNAPS {
        let from = fixtures.join(format!("{name}.snap"));
        let to = dir.join(format!("snaps/{name}_1.snap"));
        // The cache is on the same file system as the temporary folder on most machines.
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to).unwrap();
        }
        let category = if name == "gnome-calculator" {
            "utilities"
        } else {
            "development"
        };
        toml.push_str(&format!(
            "\n[[snap]]\nname = \"{name}\"\npublisher = \"snapshelf\"\ncategories = \
             [\"{category}\"]\nlicense = \"GPL-3.0-or-later\"\nchannels = {{ \"latest/stable\" = 1 \
             }}\n"
        ));
    }
    std::fs::write(dir.join("catalog.toml"), toml).unwrap();
}

pub fn plug(env: &Env, snap: &str, plug: &str) -> Connection {
    env.proxy()
        .connections(snap)
        .unwrap()
        .iter()
        .map(|d| Connection::from_dict(d).unwrap())
        .find(|c| c.plug == plug)
        .unwrap_or_else(|| panic!("no plug {snap}:{plug}"))
}

pub fn names(env: &Env) -> Vec<String> {
    let mut n: Vec<String> = super::installed(env).into_iter().map(|s| s.name).collect();
    n.sort();
    n
}

/// A fresh X server: (the server, its display).
pub fn xvfb() -> (Reaped, String) {
    let mut x = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1024x768x24",
            // Both the abstract socket and the file, as Xorg and Xwayland listen.
            "-nolisten",
            "tcp",
            "-ac",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb (Debian package xvfb) is needed");
    let mut line = String::new();
    BufReader::new(x.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(!line.trim().is_empty(), "Xvfb gave no display number");
    (Reaped(x), format!(":{}", line.trim()))
}

/// A child killed and waited for when dropped, a panicking test's too: a leaked Xvfb keeps its
/// abstract socket, and another test's server on that display number loses its clients to it.
pub struct Reaped(pub Child);

impl std::ops::Deref for Reaped {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The mapped windows of WM class `class` on `display`.
pub fn windows(display: &str, class: &str) -> Vec<String> {
    let o = Command::new("xdotool")
        .args(["search", "--onlyvisible", "--class", class])
        .env("DISPLAY", display)
        .output()
        .expect("xdotool (Debian package xdotool) is needed");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Wait (up to `secs`) for a mapped window of `class`; its id. `alive` is asked between looks, so
/// an app that died says so at once.
pub fn wait_window(
    display: &str,
    class: &str,
    secs: u64,
    alive: &mut dyn FnMut() -> bool,
) -> String {
    let start = Instant::now();
    loop {
        if let Some(w) = windows(display, class).into_iter().next() {
            return w;
        }
        assert!(alive(), "the app ended before its window was mapped");
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "no mapped {class} window within {secs} s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `xwininfo -id`: (map state, width, height).
pub fn window_info(display: &str, id: &str) -> (String, u32, u32) {
    let o = Command::new("xwininfo")
        .args(["-id", id])
        .env("DISPLAY", display)
        .output()
        .expect("xwininfo (Debian package x11-utils) is needed");
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(k).map(|v| v.trim().to_string()))
            .unwrap_or_default()
    };
    (
        field("Map State:"),
        field("Width:").parse().unwrap_or(0),
        field("Height:").parse().unwrap_or(0),
    )
}

/// The processes of `uid` whose executable's path ends with `suffix`.
pub fn processes(uid: u32, suffix: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let owned = e.metadata().is_ok_and(|m| m.uid() == uid);
        let exe = std::fs::read_link(e.path().join("exe")).unwrap_or_default();
        if owned && exe.to_string_lossy().ends_with(suffix) {
            out.push(pid);
        }
    }
    out
}

/// The mappings of `lib` in `pid`'s maps: (device "maj:min" as hex, inode, path).
pub fn mapped(pid: u32, lib: &str) -> Vec<(String, u64, String)> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    let mut out: Vec<(String, u64, String)> = maps
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 6 && f[5].contains(lib)).then(|| {
                (
                    f[3].to_string(),
                    f[4].parse().unwrap_or(0),
                    f[5].to_string(),
                )
            })
        })
        .collect();
    out.dedup();
    out
}

/// `dev` as /proc/<pid>/maps prints it.
pub fn maps_dev(dev: u64) -> String {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    format!("{major:02x}:{minor:02x}")
}

/// Check that the calculator's window on `display` is a real one and that the process drawing
/// it (of `uid`) mapped the platform's GTK 4 from the content mounted at `$SNAP/gnome-platform`
/// (the same file: device and inode), not the host's; its window id.
pub fn check_window_and_gtk(env: &Env, display: &str, id: &str, uid: u32) {
    let (state, w, h) = window_info(display, id);
    assert_eq!(state, "IsViewable", "window {id}");
    assert!(w >= 200 && h >= 200, "a real window, {w}x{h}");
    let pids = processes(uid, "/usr/bin/gnome-calculator");
    assert_eq!(pids.len(), 1, "one calculator: {pids:?}");
    let gtk = mapped(pids[0], "libgtk-4.so");
    assert!(!gtk.is_empty(), "libgtk-4 is not mapped");
    let dir = env
        .root
        .join("snap/gnome-43-bookworm/current/usr/lib/x86_64-linux-gnu");
    let platform_lib = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.starts_with("libgtk-4.so.1.") && !p.is_symlink()
        })
        .expect("the platform has libgtk-4.so.1.*");
    let meta = std::fs::metadata(&platform_lib).unwrap();
    for (dev, ino, path) in &gtk {
        assert_eq!(
            (dev.as_str(), *ino),
            (maps_dev(meta.dev()).as_str(), meta.ino()),
            "{path} is not {}",
            platform_lib.display()
        );
        assert!(path.contains("/gnome-platform/"), "{path}");
    }
}

/// A command that runs what is appended to it (program and arguments) in a mount namespace of
/// its own where the root's `/snap`, `/var/snap`, `/var/lib/snapshelf` and the helper's snapctl
/// folder are at the system's places: where the packaged confine (file capabilities, no
/// `--root`) finds them, as on an installed system.
pub fn in_packaged_layout(env: &Env) -> Command {
    let root = env.root.display();
    for d in [
        "/snap",
        "/var/snap",
        "/var/lib/snapshelf",
        "/run/snapshelf/snapctl",
    ] {
        std::fs::create_dir_all(d).unwrap();
    }
    let script = format!(
        "mount --rbind {root}/snap /snap && mount --rbind {root}/var/snap /var/snap && \
         mount --bind {root}/var/lib/snapshelf /var/lib/snapshelf && \
         mount --bind {root}/run/snapshelf/snapctl /run/snapshelf/snapctl && exec \"$@\""
    );
    let mut c = Command::new("unshare");
    // Slave: what the helper mounts later under a shared `<root>/snap` (share_snap_mounts)
    // still comes in.
    c.args(["-m", "--propagation", "slave", "sh", "-c", &script, "sh"]);
    c
}

/// Make `<root>/snap` a shared mount of its own, so that snaps the helper mounts after a
/// process entered `in_packaged_layout` reach that process's `/snap` too (as on a system whose
/// root is shared, systemd's default).
pub fn share_snap_mounts(env: &Env) {
    let snap = env.root.join("snap");
    // Made before the first install, for in_packaged_layout's binds.
    for d in [
        "snap",
        "var/snap",
        "var/lib/snapshelf",
        "run/snapshelf/snapctl",
    ] {
        std::fs::create_dir_all(env.root.join(d)).unwrap();
    }
    for args in [&["--bind"][..], &["--make-shared"][..]] {
        let mut c = Command::new("mount");
        c.args(args);
        if args[0] == "--bind" {
            c.arg(&snap);
        }
        let st = c.arg(&snap).status().unwrap();
        assert!(st.success(), "mount {args:?} {}", snap.display());
    }
}

/// The runner's `/run/user/<uid>`, made as a login makes it.
pub fn runtime_dir(uid: u32) -> PathBuf {
    let runtime = PathBuf::from(format!("/run/user/{uid}"));
    std::fs::create_dir_all(&runtime).unwrap();
    std::os::unix::fs::chown(&runtime, Some(uid), Some(uid)).unwrap();
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    runtime
}
