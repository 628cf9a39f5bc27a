//! `snapctl` inside sandboxes, against the real helper: the scenarios of snapd's spread tests
//! `tests/main/snapctl` and `tests/main/snap-get`/`snap-set` as far as they run from an app (the
//! hooks' side is in hooks.rs), and the refusals: a forged cookie, another snap's cookie, a caller
//! outside any sandbox, a malformed request. Snaps are launched as root (who may change the
//! configuration outside hooks, as in snapd) and as a user with the packaged confine (who may
//! only read).

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::sandbox::{capable_confine, confine_bin, install_file, write};
use common::{Env, RUNNER};
use snapshelf_dbus::types::Dict;

/// A snap with a shell app, a plug that auto-connects (network), one that does not (camera).
fn ctl_snap(dir: &Path, name: &str) -> PathBuf {
    let s = dir.join(name);
    write(
        &s.join("meta/snap.yaml"),
        &format!(
            "name: {name}\nversion: '1.0'\nsummary: snapctl probe\nbase: shelf-base\n\
             plugs:\n  cam:\n    interface: camera\n\
             apps:\n  sh:\n    command: bin/sh\n    plugs: [network, cam]\n"
        ),
        0o644,
    );
    write(&s.join("bin/sh"), "#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755);
    let out = dir.join(format!("{name}.snap"));
    snapshelf_snap::squashfs::pack(&s, &out, &Default::default()).unwrap();
    out
}

/// `sh -c SCRIPT` in the snap's sandbox: as root (`capable` None), or as the test user with the
/// capable confine over the root's directories bound at the system's places.
fn sh(env: &Env, capable: Option<&Path>, snap: &str, script: &str) -> Output {
    let root = env.root.display().to_string();
    let target = format!("{snap}.sh");
    let mut cmd = Command::new("timeout");
    cmd.args(["--signal=KILL", "60"]);
    match capable {
        None => {
            cmd.arg(confine_bin()).args(["--root", &root, &target]);
        }
        Some(bin) => {
            for d in [
                "/snap",
                "/var/snap",
                "/var/lib/snapshelf",
                "/run/snapshelf/snapctl",
            ] {
                std::fs::create_dir_all(d).unwrap();
            }
            let bind = format!(
                "mount --rbind {root}/snap /snap && mount --rbind {root}/var/snap /var/snap && \
                 mount --bind {root}/var/lib/snapshelf /var/lib/snapshelf && \
                 mount --bind {root}/run/snapshelf/snapctl /run/snapshelf/snapctl && \
                 exec runuser -u {RUNNER} -- \"$@\""
            );
            cmd.args([
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                &bind,
                "sh",
            ])
            .arg(bin)
            .arg(&target);
        }
    }
    cmd.args(["-c", script]).current_dir("/").output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

/// Run and expect `code`; returns stdout.
fn expect(o: Output, code: i32, what: &str) -> (String, String) {
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(
        o.status.code(),
        Some(code),
        "{what}\nstdout: {out}\nstderr: {err}"
    );
    (out, err)
}

fn setup() -> Option<(Env, tempfile::TempDir)> {
    if !common::require_root() {
        return None;
    }
    common::runner();
    let mut env = Env::new();
    env.start_helper();
    env.done(env.proxy().install(&["shelf-base"], Dict::new()));
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    Some((env, work))
}

#[test]
fn snapctl_reads_and_root_sets_configuration_as_snapd_does() {
    let Some((env, work)) = setup() else { return };
    install_file(&env, &ctl_snap(work.path(), "ctl-one"));
    let run = |script: &str, code: i32| expect(sh(&env, None, "ctl-one", script), code, script);

    // The base's /usr/bin/snapctl link reaches ours; the cookie is set as snap-confine sets it.
    let (out, _) = run("readlink -f $(command -v snapctl); echo ${#SNAP_COOKIE}", 0);
    assert_eq!(out, "/usr/lib/snapd/snapctl\n64\n");

    // snap-set / snap-get: values parse as JSON or else stay text; dotted keys nest.
    run(
        r#"snapctl set foo=bar num=42 nested.a=1 'nested.list=[1,"<b>"]' 'obj={"k":"v"}' 'txt=one two'"#,
        0,
    );
    assert_eq!(run("snapctl get foo", 0).0, "bar\n");
    assert_eq!(run("snapctl get num", 0).0, "42\n");
    assert_eq!(run("snapctl get txt", 0).0, "one two\n");
    assert_eq!(
        run("snapctl get nested", 0).0,
        "{\n\t\"a\": 1,\n\t\"list\": [\n\t\t1,\n\t\t\"\\u003cb\\u003e\"\n\t]\n}\n"
    );
    assert_eq!(run("snapctl get nested.a", 0).0, "1\n");
    assert_eq!(run("snapctl get -d foo", 0).0, "{\n\t\"foo\": \"bar\"\n}\n");
    assert_eq!(
        run("snapctl get foo num", 0).0,
        "{\n\t\"foo\": \"bar\",\n\t\"num\": 42\n}\n"
    );
    assert_eq!(run("snapctl get -t foo", 0).0, "\"bar\"\n");
    // Missing: an empty line (or null with -t), success, as snapd.
    assert_eq!(run("snapctl get missing", 0).0, "\n");
    assert_eq!(run("snapctl get -t missing", 0).0, "null\n");
    assert_eq!(
        run("snapctl get foo missing", 0).0,
        "{\n\t\"foo\": \"bar\"\n}\n"
    );
    // -s keeps text, -t insists on JSON.
    run("snapctl set -s str=42", 0);
    assert_eq!(run("snapctl get -t str", 0).0, "\"42\"\n");
    let (_, err) = run("snapctl set -t bad=nope", 1);
    assert!(
        err.starts_with("error: error running snapctl: failed to parse JSON"),
        "{err}"
    );
    // Unsetting: key!, unset, null; a nested unset keeps the siblings.
    run("snapctl set foo! nested.a=null", 0);
    run("snapctl unset num", 0);
    assert_eq!(run("snapctl get foo", 0).0, "\n");
    assert_eq!(
        run("snapctl get -d nested obj", 0).0,
        "{\n\t\"nested\": {\n\t\t\"list\": [\n\t\t\t1,\n\t\t\t\"\\u003cb\\u003e\"\n\t\t]\n\t},\n\t\"obj\": {\n\t\t\"k\": \"v\"\n\t}\n}\n"
    );

    // Bad input: clear words, exit 1, nothing changed.
    let (_, err) = run("snapctl set Foo=1", 1);
    assert_eq!(
        err,
        "error: error running snapctl: invalid option name: \"Foo\"\n"
    );
    let (_, err) = run("snapctl set txt.sub=1", 1);
    assert_eq!(
        err,
        "error: error running snapctl: snap \"ctl-one\" option \"txt\" is not a map\n"
    );
    let (_, err) = run("snapctl set ok=1 a..b=2", 1);
    assert_eq!(
        err,
        "error: error running snapctl: invalid option name: \"\"\n"
    );
    assert_eq!(
        run("snapctl get ok", 0).0,
        "\n",
        "a failed set changes nothing"
    );
    let (_, err) = run("snapctl set novalue", 1);
    assert_eq!(
        err,
        "error: error running snapctl: invalid configuration: \"novalue\" (want key=value)\n"
    );
    assert_eq!(
        run("snapctl get", 1).1,
        "error: error running snapctl: get which option?\n"
    );
    assert_eq!(
        run("snapctl set", 1).1,
        "error: error running snapctl: set which option?\n"
    );
    assert_eq!(
        run("snapctl unset", 1).1,
        "error: error running snapctl: unset which option?\n"
    );
    assert_eq!(
        run("snapctl get -d -t foo", 1).1,
        "error: error running snapctl: cannot use -d and -t together\n"
    );
    assert_eq!(
        run("snapctl set -t -s a=1", 1).1,
        "error: error running snapctl: cannot use -t and -s together\n"
    );

    // is-connected: 0 connected, 1 not, an error for a plug the snap does not have.
    run("snapctl is-connected network", 0);
    run("snapctl is-connected cam", 1);
    let (_, err) = run("snapctl is-connected nope", 1);
    assert_eq!(
        err,
        "error: error running snapctl: snap \"ctl-one\" has no plug or slot named \"nope\"\n"
    );
    assert_eq!(run("snapctl is-connected --list", 0).0, "network\n");
    assert_eq!(run("snapctl system-mode", 0).0, "system-mode: run\n");
    assert!(run("snapctl --help", 0).0.contains("Available commands:"));

    // A user may read, not change (as snapd: set is root's outside hooks).
    let capable = capable_confine(work.path());
    let as_user =
        |script: &str, code: i32| expect(sh(&env, Some(&capable), "ctl-one", script), code, script);
    assert_eq!(as_user("snapctl get txt", 0).0, "one two\n");
    let (uid, _) = common::runner();
    let (_, err) = as_user("snapctl set txt=mine", 1);
    assert_eq!(
        err,
        format!("error: error running snapctl: cannot use \"set\" with uid {uid}, try with sudo\n")
    );
    assert_eq!(as_user("snapctl get txt", 0).0, "one two\n");

    // The cookie goes with the snap.
    let cookie = env.root.join("var/lib/snapshelf/cookies/snap.ctl-one");
    let mode = std::fs::metadata(&cookie).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    env.done(env.proxy().remove(&["ctl-one"], Dict::new()));
    assert!(!cookie.exists(), "the cookie outlived its snap");
    // And so does its configuration.
    install_file(&env, &ctl_snap(work.path(), "ctl-one"));
    assert_eq!(
        run("snapctl get -d txt obj", 0).0,
        "{}
"
    );
}

/// Send a raw request to the helper's socket from this process (outside any sandbox).
fn raw_request(env: &Env, body: &[u8]) -> serde_json::Value {
    let sock = env.root.join("run/snapshelf/snapctl/snapctl.socket");
    let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    s.write_all(body).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap()
}

#[test]
fn snapctl_refuses_forged_foreign_and_outside_callers() {
    let Some((env, work)) = setup() else { return };
    install_file(&env, &ctl_snap(work.path(), "ctl-a"));
    install_file(&env, &ctl_snap(work.path(), "ctl-b"));
    let a = |script: &str, code: i32| expect(sh(&env, None, "ctl-a", script), code, script);
    a("snapctl set secret=kept", 0);
    let cookie_b =
        std::fs::read_to_string(env.root.join("var/lib/snapshelf/cookies/snap.ctl-b")).unwrap();
    let cookie_a =
        std::fs::read_to_string(env.root.join("var/lib/snapshelf/cookies/snap.ctl-a")).unwrap();
    assert_ne!(cookie_a, cookie_b);

    // A forged cookie is no context.
    let forged = "0".repeat(64);
    let (_, err) = a(
        &format!("SNAP_COOKIE={forged} snapctl set secret=forged"),
        1,
    );
    assert_eq!(
        err,
        "error: error running snapctl: no context for the given cookie\n"
    );
    let (_, err) = a("SNAP_COOKIE= snapctl get secret", 1);
    assert_eq!(
        err,
        "error: error running snapctl: no context for the given cookie\n"
    );

    // Another snap's cookie, used from this snap's sandbox, is refused by the kernel's word.
    let (_, err) = a(&format!("SNAP_COOKIE={cookie_b} snapctl set taken=1"), 1);
    assert_eq!(
        err,
        "error: error running snapctl: the caller is not running in the sandbox of snap \"ctl-b\"\n"
    );
    assert_eq!(
        expect(sh(&env, None, "ctl-b", "snapctl get -d taken"), 0, "b").0,
        "{}\n"
    );

    // A real cookie from outside any sandbox (root on the host) is refused too.
    let req = serde_json::json!({"cookie": cookie_a, "args": ["set", "secret=outside"]});
    let v = raw_request(&env, req.to_string().as_bytes());
    assert_eq!(v["exit-code"], 1);
    assert_eq!(
        v["stderr"],
        "error: error running snapctl: snapctl can only be used from inside a snap\n"
    );
    // Malformed requests: an error, nothing else.
    let v = raw_request(&env, b"{not json");
    assert_eq!(v["exit-code"], 1);
    assert!(v["stderr"]
        .as_str()
        .unwrap()
        .starts_with("error: malformed snapctl request"));

    assert_eq!(a("snapctl get secret", 0).0, "kept\n", "nothing changed");
    // The socket and the binary are root's; the socket alone is open to all.
    let dir = env.root.join("run/snapshelf/snapctl");
    for (name, mode) in [("snapctl", 0o755), ("snapctl.socket", 0o666)] {
        let m = std::fs::symlink_metadata(dir.join(name)).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::uid(&m), 0);
        assert_eq!(m.permissions().mode() & 0o777, mode, "{name}");
    }
}
