//! The package: built with cargo-deb, installed on this machine with dpkg, the helper started by
//! D-Bus activation on the system bus at the first call, then removed cleanly. And `install.sh` with
//! DESTDIR and PREFIX.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?}: {text}");
    text
}

/// The machine's system bus, started for the test when there is none (as Debian's dbus does).
struct SystemBus {
    started: bool,
}

impl SystemBus {
    fn ensure() -> SystemBus {
        let socket = Path::new("/run/dbus/system_bus_socket");
        if socket.exists()
            && Command::new("busctl")
                .args(["--system", "status"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        {
            return SystemBus { started: false };
        }
        let _ = std::fs::remove_file(socket);
        let _ = std::fs::remove_file("/run/dbus/pid");
        std::fs::create_dir_all("/run/dbus").unwrap();
        run(Command::new("dbus-daemon").args(["--system", "--fork"]));
        let t = Instant::now();
        while !socket.exists() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the system bus did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SystemBus { started: true }
    }
}

impl Drop for SystemBus {
    fn drop(&mut self) {
        if self.started {
            if let Ok(pid) = std::fs::read_to_string("/run/dbus/pid") {
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
            let _ = std::fs::remove_file("/run/dbus/pid");
        }
    }
}

const FILES: &[&str] = &[
    "/usr/libexec/snapshelf/snapshelf-helper",
    "/usr/libexec/snapshelf/snapshelf-confine",
    "/usr/bin/snapshelfctl",
    "/usr/bin/snapshelf-store",
    "/usr/bin/snapshelf",
    "/usr/libexec/snapshelf/snapshelf-search-provider",
    "/usr/share/gnome-shell/search-providers/io.github.snapshelf.Snapshelf.SearchProvider.ini",
    "/usr/share/dbus-1/services/io.github.snapshelf.Snapshelf.SearchProvider.service",
    "/usr/libexec/snapshelf/snapshelf-launcher",
    "/usr/share/dbus-1/services/io.github.snapshelf.Launcher.service",
    "/usr/share/applications/io.github.snapshelf.Snapshelf.desktop",
    "/usr/share/metainfo/io.github.snapshelf.Snapshelf.metainfo.xml",
    "/usr/share/icons/hicolor/scalable/apps/io.github.snapshelf.Snapshelf.svg",
    "/usr/share/icons/hicolor/symbolic/apps/io.github.snapshelf.Snapshelf-symbolic.svg",
    "/usr/share/locale/de/LC_MESSAGES/snapshelf.mo",
    "/usr/share/dbus-1/system.d/io.github.snapshelf.Helper1.conf",
    "/usr/share/dbus-1/system-services/io.github.snapshelf.Helper1.service",
    "/usr/share/polkit-1/actions/io.github.snapshelf.policy",
    "/usr/lib/systemd/system/snapshelf-helper.service",
    "/usr/lib/environment.d/90-snapshelf.conf",
    "/etc/profile.d/snapshelf.sh",
    "/usr/libexec/snapshelf/snapctl",
];

#[test]
fn the_deb_installs_activates_and_removes_cleanly() {
    if !common::require_root() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let deb = out.path().join("snapshelf.deb");
    // The test build's binaries (cargo test builds every member's); a release is `cargo deb` alone.
    let cargo_deb = Command::new(env!("CARGO"))
        .args(["deb", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        cargo_deb,
        "cargo-deb is needed (scripts/test.sh installs it: cargo install cargo-deb --locked)"
    );
    common::compile_translations(&workspace().join("target/locale"));
    for p in [
        "snapshelf-confine",
        "snapshelfctl",
        "snapshelf-store",
        "snapshelf",
        "snapshelf-search-provider",
        "snapshelf-launcher",
        "snapshelf-update-agent",
    ] {
        run(Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", p])
            .current_dir(workspace()));
    }
    // snapctl as packaged: static (built apart), where cargo-deb takes it from.
    let snapctl = workspace().join("target/debug/snapctl");
    std::fs::copy(common::snapctl_bin(), &snapctl).unwrap();
    run(Command::new(env!("CARGO"))
        .args([
            "deb",
            "-p",
            "snapshelf-helper",
            "--no-build",
            "--profile",
            "dev",
            "-o",
        ])
        .arg(&deb)
        .current_dir(workspace()));
    let info = run(Command::new("dpkg-deb").arg("-I").arg(&deb));
    assert!(
        info.contains("Package: snapshelf") && info.contains("Depends:"),
        "{info}"
    );
    // It answers as `snap` (below): the package cannot sit beside snapd's.
    assert!(info.contains("Conflicts: snapd"), "{info}");

    let _bus = SystemBus::ensure();
    run(Command::new("dpkg")
        .arg("-i")
        .arg(&deb)
        .env("DEBIAN_FRONTEND", "noninteractive"));
    for f in FILES {
        assert!(Path::new(f).exists(), "{f} is not installed");
    }
    let caps = run(Command::new("getcap").arg("/usr/libexec/snapshelf/snapshelf-confine"));
    assert!(
        caps.contains("cap_sys_admin"),
        "confine has no capabilities: {caps}"
    );
    let version = run(Command::new("/usr/bin/snapshelfctl").arg("--version"));
    assert!(version.contains("snapshelfctl"));
    // xdg-desktop-portal runs `snap routine portal-info PID`: the link is ours, answers `routine`
    // (here: a PID of no snap, refused) and nothing else.
    let snap = Path::new("/usr/bin/snap");
    assert_eq!(
        std::fs::read_link(snap).ok(),
        Some(PathBuf::from("snapshelfctl"))
    );
    let o = Command::new(snap)
        .args(["routine", "portal-info", &std::process::id().to_string()])
        .output()
        .unwrap();
    assert!(!o.status.success(), "this test is no snap's process");
    let o = Command::new(snap).arg("list").output().unwrap();
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("snapshelfctl"),
        "{o:?}"
    );

    // Started at boot, to mount the installed snaps again; and in the host's mount namespace:
    // an option that gives the service one of its own would hide its mounts from everyone.
    let wants = Path::new("/etc/systemd/system/multi-user.target.wants/snapshelf-helper.service");
    assert!(wants.symlink_metadata().is_ok(), "the unit is not enabled");
    let unit = std::fs::read_to_string("/usr/lib/systemd/system/snapshelf-helper.service").unwrap();
    for option in [
        "ProtectSystem=",
        "ProtectHome=",
        "PrivateTmp=",
        "PrivateMounts=",
        "ProtectKernelTunables=",
        "ProtectKernelLogs=",
        "ProtectKernelModules=",
        "ProtectControlGroups=",
        "ReadOnlyPaths=",
        "InaccessiblePaths=",
        "TemporaryFileSystem=",
    ] {
        assert!(
            !unit.lines().any(|l| l.trim_start().starts_with(option)),
            "{option} would put the helper's mounts in a namespace of its own"
        );
    }

    // Nothing runs yet: the first call starts the helper (D-Bus activation) and is answered.
    let answer = run(Command::new("busctl").args([
        "--system",
        "--timeout=60",
        "call",
        "io.github.snapshelf.Helper1",
        "/io/github/snapshelf/Helper1",
        "io.github.snapshelf.Helper1",
        "Interfaces",
    ]));
    // Every interface the helper knows, each with its name (the list grows with each milestone).
    let count: usize = answer
        .strip_prefix("aa{sv} ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(count >= 11, "{answer}");
    for name in ["network", "home", "browser-support", "personal-files"] {
        assert!(
            answer.contains(&format!("\"name\" s \"{name}\"")),
            "{name}: {answer}"
        );
    }
    let version = run(Command::new("busctl").args([
        "--system",
        "get-property",
        "io.github.snapshelf.Helper1",
        "/io/github/snapshelf/Helper1",
        "io.github.snapshelf.Helper1",
        "Version",
    ]));
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");

    run(Command::new("dpkg").args(["--purge", "snapshelf"]));
    for f in FILES {
        assert!(!Path::new(f).exists(), "{f} is still there after remove");
    }
    assert!(!Path::new("/usr/libexec/snapshelf").exists());
    assert!(
        snap.symlink_metadata().is_err(),
        "/usr/bin/snap is still there after remove"
    );
    assert!(
        wants.symlink_metadata().is_err(),
        "still enabled after purge"
    );
    let t = Instant::now();
    while Command::new("pgrep")
        .args(["-x", "snapshelf-helpe"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
    {
        // A zombie until the bus reaps it is fine; a running helper after remove is not.
        let ps = Command::new("ps")
            .args(["-o", "stat=", "-C", "snapshelf-helpe"])
            .output()
            .unwrap();
        // ps finding none (it exits 1) means it ended between the two looks.
        let state = String::from_utf8_lossy(&ps.stdout).into_owned();
        if !ps.status.success() || state.trim().chars().all(|c| c == 'Z' || c.is_whitespace()) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the helper still runs after remove: {state}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn install_sh_honours_destdir_and_prefix() {
    if !common::require_root() {
        return;
    }
    for p in [
        "snapshelf-helper",
        "snapshelf-confine",
        "snapshelfctl",
        "snapshelf-store",
        "snapshelf",
        "snapshelf-search-provider",
        "snapshelf-launcher",
        "snapshelf-update-agent",
    ] {
        run(Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", p])
            .current_dir(workspace()));
    }
    let dest = tempfile::tempdir().unwrap();
    let target = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let script = workspace().join("flatpak-free-packaging/install.sh");
    let text = run(Command::new("sh")
        .arg(&script)
        .env("DESTDIR", dest.path())
        .env("PREFIX", "/usr/local")
        .env("SNAPSHELF_BIN", &target));
    assert!(
        text.contains("setcap"),
        "the capabilities step is explained: {text}"
    );
    for f in [
        "usr/local/libexec/snapshelf/snapshelf-helper",
        "usr/local/libexec/snapshelf/snapshelf-confine",
        "usr/local/bin/snapshelfctl",
        "usr/local/bin/snapshelf",
        "usr/local/libexec/snapshelf/snapshelf-search-provider",
        "usr/local/share/gnome-shell/search-providers/io.github.snapshelf.Snapshelf.SearchProvider.ini",
        "usr/local/share/dbus-1/services/io.github.snapshelf.Snapshelf.SearchProvider.service",
        "usr/local/libexec/snapshelf/snapshelf-launcher",
        "usr/local/share/dbus-1/services/io.github.snapshelf.Launcher.service",
        "usr/local/libexec/snapshelf/snapshelf-update-agent",
        "etc/xdg/autostart/io.github.snapshelf.Snapshelf.UpdateAgent.desktop",
        "etc/xdg/autostart/io.github.snapshelf.Snapshelf.Autostart.desktop",
        "etc/dbus-1/system.d/snapshelf.system-services.conf",
        "etc/dbus-1/session.d/snapshelf.session-services.conf",
        "usr/local/share/applications/io.github.snapshelf.Snapshelf.desktop",
        "usr/local/share/locale/fr/LC_MESSAGES/snapshelf.mo",
        "usr/local/share/dbus-1/system-services/io.github.snapshelf.Helper1.service",
        "usr/local/lib/systemd/system/snapshelf-helper.service",
        "etc/profile.d/snapshelf.sh",
        // Where dbus-daemon and polkitd look, whatever the prefix.
        "etc/dbus-1/system.d/io.github.snapshelf.Helper1.conf",
        "usr/share/polkit-1/actions/io.github.snapshelf.policy",
    ] {
        assert!(dest.path().join(f).exists(), "{f}");
    }
    let service = std::fs::read_to_string(
        dest.path()
            .join("usr/local/share/dbus-1/system-services/io.github.snapshelf.Helper1.service"),
    )
    .unwrap();
    assert!(
        service.contains(
            "Exec=/usr/local/libexec/snapshelf/snapshelf-helper \
             --confine /usr/local/libexec/snapshelf/snapshelf-confine \
             --locale-dir /usr/local/share/locale"
        ),
        "the helper is told where the launcher is: {service}"
    );
    let unit = std::fs::read_to_string(
        dest.path()
            .join("usr/local/lib/systemd/system/snapshelf-helper.service"),
    )
    .unwrap();
    assert!(
        unit.contains("--confine /usr/local/libexec/snapshelf/snapshelf-confine"),
        "{unit}"
    );
    let autostart = std::fs::read_to_string(
        dest.path()
            .join("etc/xdg/autostart/io.github.snapshelf.Snapshelf.UpdateAgent.desktop"),
    )
    .unwrap();
    assert!(
        autostart.contains(
            "Exec=/usr/local/libexec/snapshelf/snapshelf-update-agent --app /usr/local/bin/snapshelf"
        ),
        "the agent opens the app installed beside it: {autostart}"
    );
    run(Command::new("sh")
        .arg(&script)
        .arg("--uninstall")
        .env("DESTDIR", dest.path())
        .env("PREFIX", "/usr/local"));
    assert!(!dest.path().join("usr/local/bin/snapshelfctl").exists());
    assert!(!dest
        .path()
        .join("etc/xdg/autostart/io.github.snapshelf.Snapshelf.UpdateAgent.desktop")
        .exists());
    assert!(!dest
        .path()
        .join("etc/dbus-1/system.d/io.github.snapshelf.Helper1.conf")
        .exists());
    assert!(!dest
        .path()
        .join("usr/local/share/locale/fr/LC_MESSAGES/snapshelf.mo")
        .exists());
}

/// The app's desktop file and AppStream metainfo are valid, and the icons are SVG.
#[test]
fn desktop_and_metainfo_files_validate() {
    let data = workspace().join("data");
    let desktop = data.join("io.github.snapshelf.Snapshelf.desktop");
    let out = Command::new("desktop-file-validate")
        .arg(&desktop)
        .output()
        .expect("desktop-file-validate (Debian package desktop-file-utils) is needed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // `.snap` files open in the app: the MIME type it claims is one the system knows by name
    // (shared-mime-info >= 2.2, which the .deb depends on).
    let globs = std::fs::read_to_string("/usr/share/mime/globs2").unwrap_or_default();
    assert!(
        globs
            .lines()
            .any(|l| l.ends_with("application/vnd.snap:*.snap")),
        "the MIME database does not map *.snap to application/vnd.snap"
    );
    let text = std::fs::read_to_string(&desktop).unwrap();
    assert!(text.contains("MimeType=application/vnd.snap;"));
    let out = Command::new("appstreamcli")
        .args(["validate", "--no-net"])
        .arg(data.join("io.github.snapshelf.Snapshelf.metainfo.xml"))
        .output()
        .expect("appstreamcli (Debian package appstream) is needed");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for icon in [
        "icons/hicolor/scalable/apps/io.github.snapshelf.Snapshelf.svg",
        "icons/hicolor/symbolic/apps/io.github.snapshelf.Snapshelf-symbolic.svg",
    ] {
        let svg = std::fs::read_to_string(data.join(icon)).unwrap();
        assert!(svg.contains("<svg") && svg.contains("viewBox"), "{icon}");
    }
}

/// Every source file that calls gettext is in `po/POTFILES`, and every string xgettext finds in
/// them now is translated in each language: a new string cannot slip past the catalogue.
#[test]
fn every_string_in_the_sources_is_translated() {
    let ws = workspace();
    let potfiles = std::fs::read_to_string(ws.join("po/POTFILES")).unwrap();
    let listed: Vec<&str> = potfiles.lines().map(str::trim).collect();
    let mut missing = Vec::new();
    for krate in [
        "helper",
        "cli",
        "gui",
        "dbus",
        "snap",
        "store",
        "confine",
        "launcher",
        "update-agent",
    ] {
        let src = ws.join(krate).join("src");
        let mut stack = vec![src];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&p).unwrap();
                    let rel = p.strip_prefix(&ws).unwrap().to_string_lossy().to_string();
                    if text.contains("gettext(") && !listed.contains(&rel.as_str()) {
                        missing.push(rel);
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "not in po/POTFILES: {missing:?}");

    let dir = tempfile::tempdir().unwrap();
    let pot = dir.path().join("now.pot");
    // Rust is not one of xgettext's languages; C reads its string literals and calls the same way.
    let st = Command::new("xgettext")
        .args([
            "--language=C",
            "--from-code=UTF-8",
            "--keyword=gettext",
            "--keyword=ngettext:1,2",
            "--add-comments=Translators:",
            "-f",
            "po/POTFILES",
            "-o",
        ])
        .arg(&pot)
        .current_dir(&ws)
        .stderr(Stdio::null())
        .status()
        .expect("xgettext (Debian package gettext) is needed");
    assert!(st.success() && pot.exists(), "xgettext failed");
    let linguas = std::fs::read_to_string(ws.join("po/LINGUAS")).unwrap();
    for lang in linguas.split_whitespace() {
        // msgcmp fails for every string of the sources that the catalogue lacks or leaves empty.
        run(Command::new("msgcmp")
            .arg(ws.join(format!("po/{lang}.po")))
            .arg(&pot));
    }
}

/// The translation template parses (merges of po files have dropped a `msgstr` before), and every
/// language's catalogue has every message of the template (`msgcmp`, Debian package gettext).
#[test]
fn the_translation_template_parses_and_every_language_covers_it() {
    let po = workspace().join("po");
    let out = Command::new("msgfmt")
        .args(["-o", "/dev/null"])
        .arg(po.join("snapshelf.pot"))
        .output()
        .expect("msgfmt (Debian package gettext) is needed");
    assert!(
        out.status.success(),
        "po/snapshelf.pot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let langs = std::fs::read_to_string(po.join("LINGUAS")).unwrap();
    for lang in langs.split_whitespace() {
        let out = Command::new("msgcmp")
            .arg(po.join(format!("{lang}.po")))
            .arg(po.join("snapshelf.pot"))
            .output()
            .expect("msgcmp (Debian package gettext) is needed");
        assert!(
            out.status.success(),
            "po/{lang}.po lacks messages of the template: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
