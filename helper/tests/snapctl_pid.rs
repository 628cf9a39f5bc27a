//! `snapctl is-connected --pid PID <slot>`, snapd's spread test snapctl-is-connected-pid with our
//! own snaps: a snap with a `cups-control` slot asks about the process of a strict snap (1: not
//! connected), of a classic snap (10), and of no snap (11: PID 1, this test); the flags' errors
//! are snapd's, and `--apparmor-label` is refused as not applicable.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::sandbox::{install_file, launch_with, pack, setup, write, Mode};
use common::{Env, RUNNER};
use snapshelf_dbus::types::Dict;
use zbus::zvariant::OwnedValue;

fn snap(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let s = dir.join(name);
    write(
        &s.join("meta/snap.yaml"),
        &format!(
            "name: {name}\nversion: '1'\nsummary: is-connected --pid probe\nbase: shelf-base\n\
             {extra}apps:\n  sh:\n    command: bin/sh\n  wait:\n    command: bin/wait\n"
        ),
        0o644,
    );
    write(&s.join("bin/sh"), "#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755);
    write(
        &s.join("bin/wait"),
        "#!/bin/sh\necho up\nread line\nexit 0\n",
        0o755,
    );
    std::fs::create_dir_all(s.join("shared")).unwrap();
    pack(&s, &dir.join(format!("{name}.snap")))
}

/// `snapshelf-confine --root ROOT <snap>.wait` as root, once its app said it is up.
fn start_waiting(env: &Env, snap: &str) -> Child {
    let mut child = Command::new(common::sandbox::confine_bin())
        .arg("--root")
        .arg(&env.root)
        .arg(format!("{snap}.wait"))
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "up\n", "{snap}.wait did not start");
    child
}

/// The deepest process below `pid` (the app, below confine's monitor and reaper).
fn deepest(pid: u32) -> u32 {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    match children.split_whitespace().next() {
        Some(c) => deepest(c.parse().unwrap()),
        None => pid,
    }
}

fn stop(mut child: Child) {
    drop(child.stdin.take());
    child.wait().unwrap();
}

#[test]
fn is_connected_pid_tells_a_snaps_process_from_a_classic_ones_and_from_no_snaps() {
    if !common::require_root() {
        return;
    }
    let (env, work, _) = setup();
    let slots = "slots:\n  foo-slot:\n    interface: cups-control\n  spare:\n    \
                 interface: content\n    content: spare\n    read: [$SNAP/shared]\n";
    install_file(&env, &snap(work.path(), "pidslot", slots));
    let plug = "plugs:\n  foo-plug:\n    interface: cups-control\n";
    install_file(&env, &snap(work.path(), "pidplug", plug));
    let classic = snap(
        work.path(),
        "pidclassic",
        &format!("confinement: classic\n{plug}"),
    );
    let opts: Dict = [
        ("unsigned".to_string(), OwnedValue::from(true)),
        ("classic".to_string(), OwnedValue::from(true)),
    ]
    .into_iter()
    .collect();
    let f = std::fs::File::open(&classic).unwrap();
    let c = env
        .proxy()
        .install_file(
            zbus::zvariant::OwnedFd::from(std::os::fd::OwnedFd::from(f)),
            opts,
        )
        .unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");

    // What pidslot's app gets from `snapctl is-connected ARGS`: output and exit code.
    let ask = |args: &str| {
        let script = format!("snapctl is-connected {args} 2>&1; echo \"code=$?\"");
        let o = launch_with(
            &env,
            Mode::Root,
            RUNNER,
            "pidslot.sh",
            &["-c", &script],
            &[],
        );
        common::sandbox::ok(&o, "pidslot.sh")
    };
    let strict = start_waiting(&env, "pidplug");
    let monitor = strict.id();
    let app = deepest(monitor);
    assert_ne!(app, monitor, "the app runs below its launcher");
    // Not connected: cups-control between two snaps is not a connection Snapshelf makes.
    assert_eq!(ask(&format!("--pid {app} foo-slot")), "code=1\n");
    assert_eq!(ask(&format!("--pid={monitor} foo-slot")), "code=1\n");
    // No snap's process.
    assert_eq!(ask("--pid 1 foo-slot"), "code=11\n");
    assert_eq!(
        ask(&format!("--pid {} foo-slot", std::process::id())),
        "code=11\n"
    );
    assert_eq!(ask("--pid 2147483647 foo-slot"), "code=11\n");

    let classic = start_waiting(&env, "pidclassic");
    let classic_pid = deepest(classic.id());
    assert_eq!(ask(&format!("--pid {classic_pid} foo-slot")), "code=10\n");

    // The flags' errors, as snapd words them.
    let out = ask(&format!("--pid {app} spare"));
    assert!(
        out.contains("cannot use --pid check with pidslot:spare"),
        "{out}"
    );
    assert!(out.ends_with("code=1\n"), "{out}");
    let out = ask(&format!("--list --pid {app}"));
    assert!(
        out.contains("cannot use --pid check without plug/slot"),
        "{out}"
    );
    let out = ask("--pid x foo-slot");
    assert!(out.contains("invalid argument for flag `--pid'"), "{out}");
    let out = ask(&format!("--pid {app} nope"));
    assert!(out.contains("has no plug or slot named \"nope\""), "{out}");
    let out = ask("--apparmor-label snap.pidplug.wait foo-slot");
    assert!(out.contains("cannot use --apparmor-label"), "{out}");
    assert!(out.contains("AppArmor"), "{out}");
    assert!(out.ends_with("code=1\n"), "{out}");
    // Without --pid, the slot's own state, as before.
    assert_eq!(ask("foo-slot"), "code=1\n");

    stop(strict);
    stop(classic);
    // Once the app ended, its PID names no snap.
    assert_eq!(ask(&format!("--pid {app} foo-slot")), "code=11\n");
}
