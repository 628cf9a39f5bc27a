//! The interfaces of issue 15 (5) with their real effects, in the real sandbox: test snaps
//! installed through the helper and launched by confine as a user (user-namespace mode), as root,
//! and with file capabilities. snapd's `interfaces/builtin/<name>.go` is the reference for each.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::sandbox::{self, Mode};
use common::{Env, RUNNER};

/// What the browser probe reports, `name=ok` or `name=EPERM`…
fn report(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What Chromium's and Firefox's sandboxes do at start: a child in new user, PID and network
/// namespaces; then this process in new user and mount namespaces, `chroot` there; and what must
/// stay refused even then (mount, setns).
const BROWSER_C: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *what, long r) {
    printf("%s=%s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
}

int main(void) {
    long c = syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0);
    if (c == 0) _exit(getpid() == 1 ? 0 : 3);
    int st = 0;
    if (c > 0) waitpid(c, &st, 0);
    report("clone-namespaces", c);
    if (c > 0) printf("child-was-pid-1=%s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "no");
    int ns = open("/proc/self/ns/net", O_RDONLY);
    long u = unshare(CLONE_NEWUSER | CLONE_NEWNS);
    report("unshare", u);
    if (u == 0) report("chroot", chroot("/"));
    report("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
    report("setns", setns(ns, 0));
    return 0;
}
"#;

fn browser_snap(work: &std::path::Path) -> std::path::PathBuf {
    let s = work.join("browser-probe");
    sandbox::write(
        &s.join("meta/snap.yaml"),
        "name: browser-probe\nversion: '1.0'\nsummary: Probes browser-support\nbase: shelf-base\n\
         plugs:\n  browser-sandbox:\n    interface: browser-support\n    allow-sandbox: true\n\
         apps:\n  sandboxed:\n    command: bin/probe\n    plugs: [browser-sandbox]\n  \
         plain:\n    command: bin/probe\n    plugs: [browser-support]\n  \
         none:\n    command: bin/probe\n",
        0o644,
    );
    sandbox::compile_static(BROWSER_C, work, &s.join("bin/probe"));
    sandbox::pack(&s, &work.join("browser-probe.snap"))
}

fn probe_in_every_mode(
    env: &Env,
    capable: &std::path::Path,
    app: &str,
) -> Vec<BTreeMap<String, String>> {
    [Mode::UserNs, Mode::Capable(capable), Mode::Root]
        .into_iter()
        .map(|mode| {
            let o = sandbox::launch_as(env, mode, RUNNER, &format!("browser-probe.{app}"), &[]);
            report(&sandbox::ok(&o, &format!("{app} in {mode:?}")))
        })
        .collect()
}

/// browser-support with `allow-sandbox: true` (snapd's `browserSupportConnectedPlugSecCompWithSandbox`):
/// namespaces, `unshare` and `chroot` allowed; mount and setns still refused. The plug waits for
/// a person (base declaration); a plain browser-support plug connects by itself and allows none
/// of it, and neither does an app without the plug.
#[test]
fn browser_support_allow_sandbox_lets_a_browser_make_its_sandbox() {
    if !common::require_root() {
        return;
    }
    common::runner();
    let (env, work, capable) = sandbox::setup();
    sandbox::install_file(&env, &browser_snap(work.path()));
    let c = sandbox::connected(&env, "browser-probe");
    assert_eq!(c.get("browser-sandbox"), Some(&false), "{c:?}");
    assert_eq!(c.get("browser-support"), Some(&true), "{c:?}");

    let closed = |r: &BTreeMap<String, String>, what: &str| {
        for call in ["clone-namespaces", "unshare", "mount", "setns"] {
            assert_eq!(r[call], "EPERM", "{what}: {call}: {r:?}");
        }
    };
    for app in ["sandboxed", "plain", "none"] {
        for r in probe_in_every_mode(&env, &capable, app) {
            closed(&r, &format!("{app} before connecting"));
        }
    }

    sandbox::switch(
        &env,
        "browser-probe",
        "browser-sandbox",
        "browser-support",
        true,
    );
    for r in probe_in_every_mode(&env, &capable, "sandboxed") {
        assert_eq!(r["clone-namespaces"], "ok", "{r:?}");
        assert_eq!(r["child-was-pid-1"], "yes", "{r:?}");
        assert_eq!(r["unshare"], "ok", "{r:?}");
        assert_eq!(r["chroot"], "ok", "{r:?}");
        // The kernel would allow these in the new namespaces: the filter still refuses them.
        assert_eq!(r["mount"], "EPERM", "{r:?}");
        assert_eq!(r["setns"], "EPERM", "{r:?}");
    }
    for app in ["plain", "none"] {
        for r in probe_in_every_mode(&env, &capable, app) {
            closed(&r, &format!("{app} with the other plug connected"));
        }
    }

    sandbox::switch(
        &env,
        "browser-probe",
        "browser-sandbox",
        "browser-support",
        false,
    );
    for r in probe_in_every_mode(&env, &capable, "sandboxed") {
        closed(&r, "sandboxed after disconnecting");
    }
}

/// Reads and appends to each path given: `<path> r=ok|no w=ok|no`.
const FILES_SH: &str = "#!/bin/sh\nfor f in \"$@\"; do\n  r=no; w=no\n  \
    cat \"$f\" >/dev/null 2>&1 && r=ok\n  (echo w >> \"$f\") 2>/dev/null && w=ok\n  \
    echo \"$f r=$r w=$w\"\ndone\n";

fn files_snap(work: &std::path::Path, plugs: &str) -> std::path::PathBuf {
    let s = work.join("files-probe");
    let _ = std::fs::remove_dir_all(&s);
    sandbox::write(
        &s.join("meta/snap.yaml"),
        &format!(
            "name: files-probe\nversion: '1.0'\nsummary: Probes declared files\nbase: shelf-base\n\
             plugs:\n{plugs}apps:\n  files-probe:\n    command: bin/files\n  \
             with-home:\n    command: bin/files\n    plugs: [home]\n"
        ),
        0o644,
    );
    sandbox::write(&s.join("bin/files"), FILES_SH, 0o755);
    sandbox::pack(&s, &work.join("files-probe.snap"))
}

/// personal-files and system-files (snapd's `personal_files.go`, `system_files.go`): the declared
/// paths, and only those, appear when a person connects the plug; `read` ones read-only, `write`
/// ones writable; a snap declaring `..` or a path outside home for personal-files is refused at
/// install, naming the plug and the field, and nothing is installed.
#[test]
fn personal_and_system_files_grant_exactly_their_paths() {
    if !common::require_root() {
        return;
    }
    let (uid, home) = common::runner();
    let (env, work, capable) = sandbox::setup();

    for (bad, field) in [
        (
            "  dots:\n    interface: personal-files\n    read: [$HOME/../etc]\n",
            "plugs.dots.read",
        ),
        (
            "  dots:\n    interface: personal-files\n    write: [/etc/passwd]\n",
            "plugs.dots.write",
        ),
        (
            "  sys:\n    interface: system-files\n    read: [/etc/../root]\n",
            "plugs.sys.read",
        ),
    ] {
        let f = std::fs::File::open(files_snap(work.path(), bad)).unwrap();
        let c = env.proxy().install_file(
            zbus::zvariant::OwnedFd::from(std::os::fd::OwnedFd::from(f)),
            sandbox::unsigned(),
        );
        let err = match c {
            Err(e) => e.to_string(),
            Ok(path) => env.wait_change(path.as_str()).2,
        };
        assert!(err.contains(field), "{bad}: {err}");
        assert!(common::installed(&env)
            .iter()
            .all(|s| s.name != "files-probe"));
    }

    // The user's files: one to read, a folder to write in, one not declared.
    let base = home.join(".shelf-files-test");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(base.join("rw")).unwrap();
    for f in ["read.txt", "rw/file.txt", "other.txt"] {
        std::fs::write(base.join(f), "x\n").unwrap();
    }
    let st = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{uid}"))
        .arg(&base)
        .status()
        .unwrap();
    assert!(st.success());
    // A system folder the sandbox does not otherwise show.
    let sys_dir = std::path::Path::new("/srv/snapshelf-files-test");
    let _ = std::fs::remove_dir_all(sys_dir);
    std::fs::create_dir_all(sys_dir).unwrap();
    std::fs::write(sys_dir.join("conf"), "x\n").unwrap();
    std::fs::set_permissions(sys_dir.join("conf"), std::fs::Permissions::from_mode(0o666)).unwrap();

    let plugs = "  dots:\n    interface: personal-files\n    read: [$HOME/.shelf-files-test/read.txt]\n    \
                 write: [$HOME/.shelf-files-test/rw]\n  sys:\n    interface: system-files\n    \
                 read: [/srv/snapshelf-files-test]\n";
    sandbox::install_file(&env, &files_snap(work.path(), plugs));
    let c = sandbox::connected(&env, "files-probe");
    assert_eq!(
        (c["dots"], c["sys"]),
        (false, false),
        "a person decides: {c:?}"
    );
    let targets: Vec<String> = ["read.txt", "rw/file.txt", "other.txt"]
        .iter()
        .map(|f| base.join(f).display().to_string())
        .chain([sys_dir.join("conf").display().to_string()])
        .collect();
    let args: Vec<&str> = targets.iter().map(String::as_str).collect();
    let run = |mode: Mode<'_>, app: &str| {
        let o = sandbox::launch_as(&env, mode, RUNNER, app, &args);
        let out = sandbox::ok(&o, &format!("{app} in {mode:?}"));
        out.lines()
            .map(|l| {
                l.rsplit_once('/')
                    .map(|(_, r)| r.to_string())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
    };
    // With `home` too, the hidden folder stays hidden: only the declared paths show.
    let apps = ["files-probe", "files-probe.with-home"];
    for mode in [Mode::UserNs, Mode::Capable(&capable)] {
        for app in apps {
            assert_eq!(
                run(mode, app),
                [
                    "read.txt r=no w=no",
                    "file.txt r=no w=no",
                    "other.txt r=no w=no",
                    "conf r=no w=no"
                ],
                "{app} in {mode:?} before connecting"
            );
        }
    }
    sandbox::switch(&env, "files-probe", "dots", "personal-files", true);
    sandbox::switch(&env, "files-probe", "sys", "system-files", true);
    for mode in [Mode::UserNs, Mode::Capable(&capable)] {
        for app in apps {
            assert_eq!(
                run(mode, app),
                [
                    "read.txt r=ok w=no",
                    "file.txt r=ok w=ok",
                    "other.txt r=no w=no",
                    "conf r=ok w=no"
                ],
                "{app} in {mode:?} connected"
            );
        }
    }
    // What the app wrote went to the user's real folder, nowhere else.
    let written = std::fs::read_to_string(base.join("rw/file.txt")).unwrap();
    assert_eq!(written, "x\nw\nw\nw\nw\n");
    assert_eq!(
        std::fs::read_to_string(base.join("read.txt")).unwrap(),
        "x\n"
    );
    std::fs::remove_dir_all(&base).unwrap();
    std::fs::remove_dir_all(sys_dir).unwrap();
}

/// pulseaudio, joystick, cups-control, hardware-observe and gsettings, in the sandbox: each
/// brings in its socket, node or state when connected and nothing when not (snapd's
/// `pulseaudio.go`, `joystick.go`, `cups_control.go`, `hardware_observe.go`, `gsettings.go`).
#[test]
fn desktop_service_interfaces_show_their_effect_both_ways() {
    if !common::require_root() {
        return;
    }
    let (uid, home) = common::runner();
    let (env, work, capable) = sandbox::setup();
    let s = work.path().join("services-probe");
    sandbox::write(
        &s.join("meta/snap.yaml"),
        "name: services-probe\nversion: '1.0'\nsummary: Probes services\nbase: shelf-base\n\
         apps:\n  services-probe:\n    command: bin/sh\n    \
         plugs: [pulseaudio, joystick, cups-control, hardware-observe, gsettings]\n",
        0o644,
    );
    sandbox::write(&s.join("bin/sh"), "#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755);
    sandbox::install_file(&env, &sandbox::pack(&s, &work.path().join("services.snap")));

    let mut fx = sandbox::HostFixture::default();
    let run_user = PathBuf::from(format!("/run/user/{uid}"));
    fx.dir(&run_user, Some(uid), 0o700);
    fx.socket(&run_user.join("pulse/native"), Some(uid));
    fx.dir(&run_user.join("dconf"), Some(uid), 0o700);
    fx.node("/dev/input/js97");
    fx.node("/dev/snd/pcmC8D0c");
    fx.socket(Path::new("/run/cups/cups.sock"), None);
    fx.dir(Path::new("/run/udev/data"), None, 0o755);
    let dconf = home.join(".config/dconf/user");
    let had_dconf = dconf.exists();
    if !had_dconf {
        std::fs::create_dir_all(dconf.parent().unwrap()).unwrap();
        std::fs::write(&dconf, "settings").unwrap();
        let st = Command::new("chown")
            .arg("-R")
            .arg(format!("{uid}:{uid}"))
            .arg(home.join(".config"))
            .status()
            .unwrap();
        assert!(st.success());
    }
    let script = format!(
        "test -S /run/user/{uid}/pulse/native && echo pulse; \
         test -e /dev/snd/pcmC8D0c && echo capture; test -e /dev/input/js97 && echo joystick; \
         test -S /run/cups/cups.sock && echo cups; test -d /run/udev/data && echo udev; \
         test -d /run/user/{uid}/dconf && echo dconf-run; \
         test -f {dconf} && echo dconf-db; echo end",
        dconf = dconf.display()
    );
    let all = [
        "pulse",
        "capture",
        "joystick",
        "cups",
        "udev",
        "dconf-run",
        "dconf-db",
        "end",
    ];
    let run = |mode: Mode<'_>| -> Vec<String> {
        let o = sandbox::launch_as(&env, mode, RUNNER, "services-probe", &["-c", &script]);
        let out = sandbox::ok(&o, &format!("services-probe in {mode:?}"));
        out.lines().map(str::to_string).collect()
    };
    // Auto-connected: gsettings (base declaration); the others wait for a person.
    let c = sandbox::connected(&env, "services-probe");
    assert!(c["gsettings"], "{c:?}");
    for plug in ["pulseaudio", "joystick", "cups-control", "hardware-observe"] {
        assert!(!c[plug], "{plug}: {c:?}");
    }
    for mode in [Mode::UserNs, Mode::Capable(&capable)] {
        assert_eq!(
            run(mode),
            ["dconf-run", "dconf-db", "end"],
            "{mode:?} by default"
        );
    }
    for plug in ["pulseaudio", "joystick", "cups-control", "hardware-observe"] {
        sandbox::switch(&env, "services-probe", plug, plug, true);
    }
    for mode in [Mode::UserNs, Mode::Capable(&capable)] {
        assert_eq!(run(mode), all, "{mode:?} connected");
    }
    for plug in [
        "pulseaudio",
        "joystick",
        "cups-control",
        "hardware-observe",
        "gsettings",
    ] {
        sandbox::switch(&env, "services-probe", plug, plug, false);
    }
    for mode in [Mode::UserNs, Mode::Capable(&capable)] {
        assert_eq!(run(mode), ["end"], "{mode:?} disconnected");
    }
    if !had_dconf {
        let _ = std::fs::remove_file(&dconf);
    }
}

/// The D-Bus names the helper writes into a profile for the bus proxies: only those of connected
/// plugs, and the app's own MPRIS name from its slot; a connection changes them at once.
#[test]
fn profiles_carry_the_bus_names_of_connected_plugs_only() {
    if !common::require_root() {
        return;
    }
    let (env, work, _) = sandbox::setup();
    let s = work.path().join("player");
    sandbox::write(
        &s.join("meta/snap.yaml"),
        "name: shelf-player\nversion: '1.0'\nsummary: Plays\nbase: shelf-base\n\
         slots:\n  mpris:\n    interface: mpris\n    name: shelfplayer\n\
         apps:\n  shelf-player:\n    command: bin/sh\n    \
         plugs: [password-manager-service, screen-inhibit-control, upower-observe]\n    \
         slots: [mpris]\n  helper:\n    command: bin/sh\n",
        0o644,
    );
    sandbox::write(&s.join("bin/sh"), "#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755);
    sandbox::install_file(&env, &sandbox::pack(&s, &work.path().join("player.snap")));
    let profile = |app: &str| {
        let path = env.root.join(format!(
            "var/lib/snapshelf/profiles/shelf-player.{app}.json"
        ));
        snapshelf_snap::profile::Profile::from_json(&std::fs::read_to_string(&path).unwrap())
            .unwrap()
            .bus_names
    };
    let names = profile("shelf-player");
    // screen-inhibit-control and upower-observe connect by themselves; the password service
    // waits for a person.
    assert!(
        names
            .session_talk
            .contains(&"org.freedesktop.ScreenSaver".to_string()),
        "{names:?}"
    );
    assert!(
        !names.session_talk.iter().any(|n| n.contains("secrets")),
        "{names:?}"
    );
    assert!(
        names
            .system_call
            .iter()
            .any(|r| r.starts_with("org.freedesktop.UPower=")),
        "{names:?}"
    );
    assert_eq!(
        names.session_own,
        [
            "org.mpris.MediaPlayer2.shelfplayer",
            "org.mpris.MediaPlayer2.shelfplayer.*"
        ]
    );
    // The other app has no plug and no slot: no name at all.
    assert!(profile("helper").is_empty(), "{:?}", profile("helper"));

    sandbox::switch(
        &env,
        "shelf-player",
        "password-manager-service",
        "password-manager-service",
        true,
    );
    let names = profile("shelf-player");
    assert!(
        names
            .session_talk
            .contains(&"org.freedesktop.secrets".to_string()),
        "{names:?}"
    );
    sandbox::switch(
        &env,
        "shelf-player",
        "screen-inhibit-control",
        "screen-inhibit-control",
        false,
    );
    let names = profile("shelf-player");
    assert!(
        !names.session_talk.iter().any(|n| n.contains("ScreenSaver")),
        "{names:?}"
    );
    assert!(
        names
            .system_call
            .iter()
            .any(|r| r.starts_with("org.freedesktop.UPower=")),
        "{names:?}"
    );
}
