//! The buses beside the session bus, in a real sandbox (confine/src/session.rs,
//! confine/src/mount_plan/session.rs, launcher/): the accessibility bus of at-spi2-core's own
//! `at-spi-bus-launcher` (snapd's `desktop-legacy`: `org.a11y.Bus` on the session bus and
//! `owner /run/user/*/at-spi/bus* rw`), a system bus filtered to what snapd's AppArmor rules of
//! the connected interfaces allow (`upower-observe`), and `io.snapcraft.Launcher` naming the snap
//! that asks to open a file (snapd's userd reads the caller's snap from its PID). Launched by
//! `snapshelf-confine` with file capabilities (the packaged mode) as a real user.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::sandbox::{self, launch_with, write, Mode};
use common::RUNNER;

/// Ask `io.snapcraft.Launcher` to open `argv[1]`, handing it over as a descriptor, through
/// libdbus as apps do (`sandbox::compile_with_libdbus` declares its API).
const OPEN_FILE_C: &str = r#"
#include <fcntl.h>
#include <stdio.h>
int main(int argc, char **argv) {
    DBusError err;
    dbus_error_init(&err);
    int fd = argc > 1 ? open(argv[1], O_RDONLY) : -1;
    if (fd < 0) { perror("open"); return 2; }
    DBusConnection *c = dbus_bus_get(0 /* the session bus */, &err);
    if (!c) { fprintf(stderr, "bus: %s\n", err.message); return 1; }
    DBusMessage *m = dbus_message_new_method_call("io.snapcraft.Launcher",
        "/io/snapcraft/Launcher", "io.snapcraft.Launcher", "OpenFile");
    const char *parent = "";
    dbus_message_append_args(m, 's', &parent, 'h', &fd, 0);
    if (!dbus_connection_send_with_reply_and_block(c, m, 60000, &err)) {
        fprintf(stderr, "OpenFile: %s: %s\n", err.name, err.message);
        return 1;
    }
    puts("opened");
    return 0;
}
"#;

/// `busprobe`: `desk` with `desktop`, `desktop-legacy` and `upower-observe` (all auto-connected),
/// `plain` with `network` alone; both with the host's `dbus-send`, and `openfile` (`OPEN_FILE_C`), run through their own
/// loader.
fn probe_snap(dir: &Path) -> PathBuf {
    let s = dir.join("busprobe");
    write(
        &s.join("meta/snap.yaml"),
        "name: busprobe\nversion: '1'\nsummary: Probes the buses\nbase: shelf-base\n\
         apps:\n  desk:\n    command: bin/sh\n    \
         plugs: [desktop, desktop-legacy, upower-observe]\n  \
         plain:\n    command: bin/sh\n    plugs: [network]\n",
        0o644,
    );
    write(&s.join("bin/sh"), "#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755);
    let open_file = dir.join("openfile");
    sandbox::compile_with_libdbus(OPEN_FILE_C, &open_file);
    let open_file = open_file.display().to_string();
    sandbox::add_host_commands(
        &s,
        &[
            ("dbus-send", "/usr/bin/dbus-send", ""),
            ("openfile", &open_file, ""),
        ],
    );
    sandbox::pack(&s, &dir.join("busprobe.snap"))
}

/// A process started in a process group of its own, which is killed whole when this is dropped
/// (on a failing assertion too): the buses and what they start, the accessibility bus launcher
/// and its `dbus-daemon`.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: a signal to the group this test made.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// A `dbus-daemon` any local user may use, listening on `dir/<name>`, with `services` for
/// activation and `path` as the `PATH` of what it starts.
fn bus(dir: &Path, name: &str, services: Option<&Path>, path: &str) -> (Group, String) {
    let sock = dir.join(name);
    let conf = dir.join(format!("{name}.conf"));
    let servicedir = services
        .map(|s| format!("<servicedir>{}</servicedir>", s.display()))
        .unwrap_or_default();
    std::fs::write(
        &conf,
        format!(
            "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" \
             \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n<busconfig>\
             <type>session</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>{servicedir}\
             <policy context=\"default\"><allow user=\"*\"/><allow send_destination=\"*\"/>\
             <allow receive_sender=\"*\"/><allow own=\"*\"/></policy></busconfig>\n",
            sock.display()
        ),
    )
    .unwrap();
    let child = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", conf.display()))
        .arg("--nofork")
        .env("PATH", path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(Group)
        .expect("dbus-daemon (Debian package dbus-daemon) is needed");
    let started = Instant::now();
    while !sock.exists() {
        assert!(started.elapsed() < Duration::from_secs(10), "no {name}");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, format!("unix:path={}", sock.display()))
}

/// The session bus: `snapshelf-launcher` by activation from the packaged service file, with an
/// `xdg-open` that notes what it opens in `dir/opened` and a `zenity` that notes each question
/// in `dir/asked` and says yes.
fn session_bus(dir: &Path) -> (Group, String) {
    let services = dir.join("services");
    let packaged = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../data/dbus-1/services/io.github.snapshelf.Launcher.service"),
    )
    .unwrap();
    let launcher = common::workspace_bin("snapshelf-launcher", "snapshelf-launcher");
    let service = packaged.replace(
        "/usr/libexec/snapshelf/snapshelf-launcher",
        &launcher.display().to_string(),
    );
    write(
        &services.join("io.github.snapshelf.Launcher.service"),
        &service,
        0o644,
    );
    let bin = dir.join("fakebin");
    let d = dir.display();
    write(
        &bin.join("xdg-open"),
        &format!("#!/bin/sh\necho \"$1\" >> {d}/opened\n"),
        0o755,
    );
    write(
        &bin.join("zenity"),
        &format!("#!/bin/sh\nfor a; do case \"$a\" in --text=*) echo \"${{a#--text=}}\" >> {d}/asked ;; esac; done\nexit 0\n"),
        0o755,
    );
    let path = format!("{}:/usr/bin:/bin", bin.display());
    bus(dir, "session-bus", Some(&services), &path)
}

struct UPower;

/// A method `upower-observe` allows (`EnumerateDevices`) and one it does not (`Suspend`).
#[zbus::interface(name = "org.freedesktop.UPower")]
impl UPower {
    fn enumerate_devices(&self) -> String {
        "devices from UPower".into()
    }
    fn suspend(&self) -> String {
        "suspended by UPower".into()
    }
}

struct Login;

#[zbus::interface(name = "org.freedesktop.login1.Manager")]
impl Login {
    fn power_off(&self) -> String {
        "powered off by login1".into()
    }
}

/// The system services: UPower, and logind (no plug of the probe names it).
fn system_services(rt: &tokio::runtime::Runtime, addr: &str) -> Vec<zbus::Connection> {
    rt.block_on(async {
        let upower = zbus::connection::Builder::address(addr)
            .unwrap()
            .name("org.freedesktop.UPower")
            .unwrap()
            .serve_at("/org/freedesktop/UPower", UPower)
            .unwrap()
            .build()
            .await
            .unwrap();
        let login = zbus::connection::Builder::address(addr)
            .unwrap()
            .name("org.freedesktop.login1")
            .unwrap()
            .serve_at("/org/freedesktop/login1", Login)
            .unwrap()
            .build()
            .await
            .unwrap();
        vec![upower, login]
    })
}

const PROBE: &str = "echo \"system=$DBUS_SYSTEM_BUS_ADDRESS\"; \
    a=$($SNAP/bin/dbus-send --session --print-reply=literal --dest=org.a11y.Bus /org/a11y/bus \
      org.a11y.Bus.GetAddress 2>&1); echo \"a11y=$a\"; \
    addr=$(echo $a); \
    case \"$addr\" in unix:*) \
      $SNAP/bin/dbus-send --bus=\"$addr\" --print-reply --dest=org.freedesktop.DBus \
        /org/freedesktop/DBus org.freedesktop.DBus.GetId >/dev/null 2>&1 \
        && echo a11y-connected || echo a11y-unreachable ;; \
    *) echo a11y-no-address ;; esac; \
    call() { $SNAP/bin/dbus-send --system --print-reply --dest=$1 $2 $3 2>&1 | grep -q \"$4\" \
      && echo \"reached $3\" || echo \"refused $3\"; }; \
    call org.freedesktop.UPower /org/freedesktop/UPower org.freedesktop.UPower.EnumerateDevices \
      'devices from'; \
    call org.freedesktop.UPower /org/freedesktop/UPower org.freedesktop.UPower.Suspend 'suspended by'; \
    call org.freedesktop.login1 /org/freedesktop/login1 org.freedesktop.login1.Manager.PowerOff \
      'powered off'; true";

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

/// at-spi2-core's bus launcher, as the user, on the test's session bus: it takes `org.a11y.Bus`
/// and starts the accessibility bus in `/run/user/<uid>/at-spi` when first asked.
fn at_spi(addr: &str, uid: u32) -> Group {
    const LAUNCHER: &str = "/usr/libexec/at-spi-bus-launcher";
    assert!(
        Path::new(LAUNCHER).exists(),
        "{LAUNCHER} is missing: apt-get install at-spi2-core"
    );
    let child = Command::new(LAUNCHER)
        .uid(uid)
        .gid(uid)
        .env("DBUS_SESSION_BUS_ADDRESS", addr)
        .env("XDG_RUNTIME_DIR", format!("/run/user/{uid}"))
        .env("HOME", common::runner().1)
        .env_remove("DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(Group)
        .unwrap();
    let started = Instant::now();
    while !common::name_has_owner(addr, "org.a11y.Bus") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "at-spi-bus-launcher took no org.a11y.Bus"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

#[test]
fn the_accessibility_and_system_buses_and_the_launcher_know_the_snap() {
    if !common::require_root() {
        return;
    }
    let (uid, _) = common::runner();
    let (env, work, capable) = sandbox::setup();
    sandbox::install_file(&env, &probe_snap(work.path()));
    let run_user = PathBuf::from(format!("/run/user/{uid}"));
    assert!(run_user.is_dir(), "{} is needed", run_user.display());
    let a11y_dir = run_user.join("at-spi");
    let had_a11y = a11y_dir.exists();
    let runtime = run_user.join("snap.busprobe");

    let (session, addr) = session_bus(work.path());
    let (system, system_addr) = bus(work.path(), "system-bus", None, "/usr/bin:/bin");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _services = system_services(&rt, &system_addr);
    let at_spi = at_spi(&addr, uid);
    let vars = [
        ("DBUS_SESSION_BUS_ADDRESS", addr.as_str()),
        ("DBUS_SYSTEM_BUS_ADDRESS", system_addr.as_str()),
    ];
    let mode = Mode::Capable(&capable);

    let o = launch_with(&env, mode, RUNNER, "busprobe.desk", &["-c", PROBE], &vars);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    // The accessibility bus: its address from the session bus, and a connection to it.
    assert!(
        out.contains(&format!("unix:path={}/bus", a11y_dir.display())),
        "{out}\n{err}"
    );
    assert!(out.contains("a11y-connected"), "{out}\n{err}");
    // The system bus through its own proxy, with what upower-observe allows only.
    assert!(
        out.contains(&format!(
            "system=unix:path={}/.dbus-system-relay.",
            runtime.display()
        )),
        "{out}\n{err}"
    );
    assert!(
        out.contains("reached org.freedesktop.UPower.EnumerateDevices"),
        "{out}\n{err}"
    );
    assert!(
        out.contains("refused org.freedesktop.UPower.Suspend"),
        "{out}"
    );
    assert!(
        out.contains("refused org.freedesktop.login1.Manager.PowerOff"),
        "{out}"
    );

    // Without those plugs: no accessibility bus, no system bus at all.
    let o = launch_with(&env, mode, RUNNER, "busprobe.plain", &["-c", PROBE], &vars);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("a11y-no-address"), "{out}\n{err}");
    assert!(!out.contains("system=unix:path=/run"), "{out}");
    for refused in ["EnumerateDevices", "Suspend", "PowerOff"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with("refused") && l.ends_with(refused)),
            "{refused}: {out}"
        );
    }

    // The launcher names the snap whose app asks to open a file (through the app's own proxy);
    // a caller outside any app is not named.
    let (_, home) = common::runner();
    let report = home.join("snap/busprobe/x1/report.txt");
    let script = "echo r > \"$SNAP_USER_DATA/report.txt\"; \
                  $SNAP/bin/openfile \"$SNAP_USER_DATA/report.txt\"";
    let o = launch_with(&env, mode, RUNNER, "busprobe.desk", &["-c", script], &vars);
    let (out, err) = text(&o);
    assert!(out.contains("opened"), "{out}\n{err}");
    rt.block_on(async {
        let conn = zbus::connection::Builder::address(addr.as_str())
            .unwrap()
            .build()
            .await
            .unwrap();
        let f = std::fs::File::open(&report).unwrap();
        use std::os::fd::AsFd;
        conn.call_method(
            Some("io.snapcraft.Launcher"),
            "/io/snapcraft/Launcher",
            Some("io.snapcraft.Launcher"),
            "OpenFile",
            &("", zbus::zvariant::Fd::from(f.as_fd())),
        )
        .await
        .unwrap();
    });
    let asked = std::fs::read_to_string(work.path().join("asked")).unwrap_or_default();
    let shown = report.display();
    assert_eq!(
        asked,
        format!(
            "Allow busprobe to open “{shown}” with its default application?\n\
             Allow an app to open “{shown}” with its default application?\n"
        )
    );
    let opened = std::fs::read_to_string(work.path().join("opened")).unwrap_or_default();
    assert_eq!(opened, format!("{shown}\n{shown}\n"));

    drop((at_spi, system, session));
    if !had_a11y {
        let _ = std::fs::remove_dir_all(&a11y_dir);
    }
    let _ = std::fs::remove_dir_all(&runtime);
}
