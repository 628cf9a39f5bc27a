//! snapd's dbus-activation-session-legacy: a session bus that systemd does not run (one a
//! session started itself, as `dbus-launch` does) starts an `activates-on` user daemon by the
//! activation file's `Exec=` line, the launcher: the app runs as the user in its sandbox, owns its
//! name through its bus proxy, and answers. The systemd buses' side is in services.rs.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::sandbox::{self, write};
use common::session_bus::ReapedGroup;
use common::RUNNER;

const NAME: &str = "io.example.ShelfLegacy";

/// A snap whose user daemon `srv` is activated by its session slot.
fn legacy_snap(work: &Path) -> PathBuf {
    let program = work.join("activated");
    sandbox::compile_with_libdbus(common::bus_server::ACTIVATED_C, &program);
    let s = work.join("legacy");
    write(
        &s.join("meta/snap.yaml"),
        &format!(
            "name: svc-legacy\nversion: '1'\nsummary: legacy activation\nbase: shelf-base\n\
             slots:\n  ses:\n    interface: dbus\n    bus: session\n    name: {NAME}\n\
             apps:\n  srv:\n    command: bin/activated\n    daemon: simple\n    \
             daemon-scope: user\n    activates-on: [ses]\n"
        ),
        0o644,
    );
    let args = format!(" session {NAME}");
    sandbox::add_host_commands(&s, &[("activated", program.to_str().unwrap(), &args)]);
    sandbox::pack(&s, &work.join("legacy.snap"))
}

/// The user's own session bus, reading the snaps' session service directory of `root`.
fn user_bus(dir: &Path, root: &Path, uid: u32) -> (ReapedGroup, String) {
    std::fs::create_dir_all(dir).unwrap();
    std::os::unix::fs::chown(dir, Some(uid), Some(uid)).unwrap();
    let sock = dir.join("bus");
    let conf = dir.join("bus.conf");
    std::fs::write(
        &conf,
        format!(
            "<busconfig><type>session</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>\
             <servicedir>{}</servicedir><policy context=\"default\"><allow send_destination=\"*\"/>\
             <allow receive_sender=\"*\"/><allow own=\"*\"/></policy></busconfig>\n",
            sock.display(),
            root.join("var/lib/snapshelf/dbus-1/services").display()
        ),
    )
    .unwrap();
    let child = Command::new("runuser")
        .args([
            "-u",
            RUNNER,
            "--",
            "env",
            &format!("XDG_RUNTIME_DIR=/run/user/{uid}"),
        ])
        .arg("dbus-daemon")
        .arg(format!("--config-file={}", conf.display()))
        .args(["--nofork", "--nopidfile"])
        .stdout(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("dbus-daemon (Debian package dbus-daemon) is needed");
    let t = Instant::now();
    while !sock.exists() {
        assert!(t.elapsed() < Duration::from_secs(10), "no session bus");
        std::thread::sleep(Duration::from_millis(20));
    }
    (ReapedGroup(child), format!("unix:path={}", sock.display()))
}

#[test]
fn a_session_bus_without_systemd_starts_the_daemon_by_its_exec_line() {
    if !common::require_root() {
        return;
    }
    sandbox::require_runner_runtime_dir();
    let (uid, _) = common::runner();
    let (env, work) = sandbox::setup_with_confine();
    sandbox::install_file(&env, &legacy_snap(work.path()));
    let file = env
        .root
        .join(format!("var/lib/snapshelf/dbus-1/services/{NAME}.service"));
    let text = std::fs::read_to_string(&file).expect("the activation file is written");
    assert!(
        text.contains(&format!(
            "Exec={} --root {} svc-legacy.srv\n",
            sandbox::confine_bin().display(),
            env.root.display()
        )),
        "{text}"
    );
    let (_bus, address) = user_bus(&work.path().join("bus"), &env.root, uid);
    let call = |timeout: &str| {
        Command::new("runuser")
            .args(["-u", RUNNER, "--", "env"])
            .arg(format!("DBUS_SESSION_BUS_ADDRESS={address}"))
            .args(["dbus-send", "--session", "--print-reply", timeout])
            .arg(format!("--dest={NAME}"))
            .args(["/", &format!("{NAME}.Ping")])
            .output()
            .unwrap()
    };
    let o = call("--reply-timeout=60000");
    let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && out.contains("hello from"), "{out}");
    // The app runs as the user (the bus ran the launcher as its own user).
    let app = Command::new("pgrep")
        .args(["-u", RUNNER, "-f", "/snap/svc-legacy/x1/lib64/ld-linux"])
        .output()
        .unwrap();
    assert!(app.status.success(), "the daemon is not the user's");

    // Removed: the file goes, and the bus no longer knows the name (the running app is ended by
    // the bus going away with the test).
    let c = env
        .proxy()
        .remove(&["svc-legacy"], Default::default())
        .unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    assert!(!file.exists(), "the activation file stayed");
}
