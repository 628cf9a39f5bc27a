//! Hooks and configuration against the real helper, confine and snapctl: the scenarios of snapd's
//! spread tests `tests/main/install-refresh-remove-hooks`, `snap-set` and `snap-get`, with our own
//! equivalents of snapd's test snaps `snap-hooks` and `snapctl-hooks` (and snapd's own
//! `basic-hooks` from ../shared/compat when it is there). `snap get/set` is GetConfig/SetConfig.
//! Bad input: malformed patches and keys, a hook that never ends, a hook that floods its output,
//! a broken install hook, a helper killed while a hook runs: a clear error, nothing changed.

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{kind_of, Env};
use snapshelf_dbus::types::Dict;
use snapshelf_dbus::ErrorKind;
use zbus::zvariant::OwnedValue;

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A snap from `yaml` (the base added) and its hooks (name, script).
fn snap(dir: &Path, name: &str, yaml: &str, hooks: &[(&str, &str)]) -> PathBuf {
    let s = dir.join(name);
    let _ = std::fs::remove_dir_all(&s);
    write(
        &s.join("meta/snap.yaml"),
        &format!("name: {name}\nversion: '1.0'\nsummary: hooks\nbase: shelf-base\n{yaml}"),
        0o644,
    );
    write(&s.join("bin/true"), "#!/bin/sh\nexit 0\n", 0o755);
    for (hook, script) in hooks {
        write(&s.join("meta/hooks").join(hook), script, 0o755);
    }
    let out = dir.join(format!("{name}.snap"));
    snapshelf_snap::squashfs::pack(&s, &out, &Default::default()).unwrap();
    out
}

/// Our snap-hooks: each hook leaves a trace in the configuration, as snapd's does.
fn snap_hooks(dir: &Path, name: &str) -> PathBuf {
    snap(
        dir,
        name,
        "hooks:\n  remove:\n    plugs: [home]\napps:\n  app:\n    command: bin/true\n",
        &[
            ("install", "#!/bin/sh\nsnapctl set installed=1\n"),
            ("configure", "#!/bin/sh\nsnapctl set foo=bar\n"),
            (
                "pre-refresh",
                "#!/bin/sh\nsnapctl set prerefreshed=\"pre-refresh at revision $SNAP_REVISION\"\n",
            ),
            (
                "post-refresh",
                "#!/bin/sh\nsnapctl set postrefreshed=\"post-refresh at revision $SNAP_REVISION\"\n",
            ),
            (
                "remove",
                "#!/bin/sh\ncode=$(snapctl get exitcode)\necho \"$code\" > /tmp/remove-hook-executed\n\
                 exit \"$code\"\n",
            ),
        ],
    )
}

/// Our snapctl-hooks: the configure hook does what the `command` option asks.
const CTL_CONFIGURE: &str = r#"#!/bin/sh
case "$(snapctl get command)" in
  set-foo) snapctl set foo=bar 'bar={"a":{"aa":1,"ab":2},"b":3}' ;;
  check-foo) [ "$(snapctl get foo)" = bar ] || { echo "foo is '$(snapctl get foo)'"; exit 1; } ;;
  check-nested)
    want=$(printf '{\n\t"key1": "a",\n\t"key2": "b"\n}')
    [ "$(snapctl get root)" = "$want" ] || { echo "root is $(snapctl get root)"; exit 1; } ;;
  unset-key2) snapctl unset root.key2 ;;
  check-missing) [ -z "$(snapctl get non-existing)" ] || exit 1 ;;
  fail) snapctl set foo=from-the-failing-hook; echo "failing as asked"; exit 1 ;;
  flood) i=0; while [ $i -lt 20000 ]; do echo "flood line $i of a hook that talks too much"; i=$((i+1)); done; echo "the last words"; exit 3 ;;
  never-end) exec sleep 3599 ;;
esac
"#;

fn ctl_hooks(dir: &Path) -> PathBuf {
    snap(
        dir,
        "ctl-hooks",
        "apps:\n  app:\n    command: bin/true\n",
        &[("configure", CTL_CONFIGURE)],
    )
}

fn unsigned() -> Dict {
    [("unsigned".to_string(), OwnedValue::from(true))]
        .into_iter()
        .collect()
}

/// Install a file; the change's (status, error kind, error).
fn install_file(env: &Env, path: &Path) -> (String, String, String) {
    common::sandbox::install_unsigned(env, path)
}

fn installed_ok(env: &Env, path: &Path) {
    let (status, kind, err) = install_file(env, path);
    assert_eq!(status, "Done", "{}: {kind} {err}", path.display());
}

/// SetConfig as root; the change's (status, error kind, error).
fn set(env: &Env, name: &str, patch: &str) -> (String, String, String) {
    let c = env.proxy().set_config(name, patch).unwrap();
    env.wait_change(c.as_str())
}

fn set_ok(env: &Env, name: &str, patch: &str) {
    let (status, kind, err) = set(env, name, patch);
    assert_eq!(status, "Done", "{patch}: {kind} {err}");
}

fn get(env: &Env, name: &str, keys: &[&str]) -> Result<serde_json::Value, (ErrorKind, String)> {
    env.proxy()
        .get_config(name, keys)
        .map(|s| serde_json::from_str(&s).unwrap())
        .map_err(|e| (kind_of(e.clone()), e.to_string()))
}

fn get_one(env: &Env, name: &str, key: &str) -> serde_json::Value {
    get(env, name, &[key]).unwrap()[key].clone()
}

fn confine_bin() -> PathBuf {
    common::workspace_bin("snapshelf-confine", "snapshelf-confine")
}

/// The helper with the workspace's confine (which runs the hooks) and `config` as its config.toml.
fn start(env: &mut Env, config: &str) {
    write(&env.root.join("etc/snapshelf/config.toml"), config, 0o644);
    let mut c = env.helper_command();
    c.arg("--confine").arg(confine_bin());
    env.start_helper_from(c);
}

fn setup(config: &str) -> Option<(Env, tempfile::TempDir)> {
    if !common::require_root() {
        return None;
    }
    let mut env = Env::new();
    start(&mut env, config);
    env.done(env.proxy().install(&["shelf-base"], Dict::new()));
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    Some((env, work))
}

/// What the remove hook wrote in the snap's private /tmp (wherever the private area is).
fn remove_hook_output(root: &Path) -> Option<String> {
    let out = std::process::Command::new("find")
        .arg(root)
        .args(["-xdev", "-name", "remove-hook-executed"])
        .output()
        .unwrap();
    let path = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()?
        .to_string();
    let text = std::fs::read_to_string(&path).ok();
    let _ = std::fs::remove_file(&path);
    text
}

#[test]
fn install_refresh_and_remove_run_their_hooks_in_snapds_order() {
    let Some((env, work)) = setup("") else { return };
    let name = "snap-hooks";
    installed_ok(&env, &snap_hooks(work.path(), name));
    // The install and configure hooks ran, the refresh hooks did not.
    assert_eq!(get_one(&env, name, "installed"), 1);
    assert_eq!(get_one(&env, name, "foo"), "bar");
    for k in ["prerefreshed", "postrefreshed"] {
        let (kind, msg) = get(&env, name, &[k]).unwrap_err();
        assert_eq!(kind, ErrorKind::NoSuchOption, "{msg}");
        assert!(msg.contains(&format!(
            "snap \"{name}\" has no \"{k}\" configuration option"
        )));
    }
    // The install hook runs only once; a refresh runs pre-refresh on the old revision and
    // post-refresh on the new one.
    set_ok(&env, name, r#"{"installed": 2}"#);
    installed_ok(&env, &snap_hooks(work.path(), name));
    assert_eq!(get_one(&env, name, "installed"), 2);
    assert_eq!(
        get_one(&env, name, "prerefreshed"),
        "pre-refresh at revision x1"
    );
    assert_eq!(
        get_one(&env, name, "postrefreshed"),
        "post-refresh at revision x2"
    );

    // The remove hook runs on removal; its failure is logged and the removal goes on.
    set_ok(&env, name, r#"{"exitcode": 0}"#);
    let opts: Dict = [("purge".to_string(), OwnedValue::from(true))]
        .into_iter()
        .collect();
    env.done(env.proxy().remove(&[name], opts));
    assert_eq!(remove_hook_output(&env.root).as_deref(), Some("0\n"));
    installed_ok(&env, &snap_hooks(work.path(), name));
    assert_eq!(
        get_one(&env, name, "installed"),
        1,
        "a new install starts afresh"
    );
    set_ok(&env, name, r#"{"exitcode": 1}"#);
    env.done(env.proxy().remove(&[name], Dict::new()));
    assert_eq!(remove_hook_output(&env.root).as_deref(), Some("1\n"));
    assert!(common::installed(&env).iter().all(|s| s.name != name));

    // A broken install hook undoes the install, with the hook's words in the error.
    let broken = snap(
        work.path(),
        "snap-hook-broken",
        "apps:\n  app:\n    command: bin/true\n",
        &[(
            "install",
            "#!/bin/sh\necho 'cannot set up: no luck'\nexit 1\n",
        )],
    );
    let (status, kind, err) = install_file(&env, &broken);
    common::assert_hook_failed(&status, &kind, &err, "install");
    assert!(err.contains("cannot set up: no luck"), "{err}");
    assert!(common::installed(&env)
        .iter()
        .all(|s| s.name != "snap-hook-broken"));
    assert!(!env.is_mounted("snap/snap-hook-broken/x1"));
    assert!(!env
        .root
        .join("var/lib/snapshelf/cookies/snap.snap-hook-broken")
        .exists());
}

#[test]
fn configuration_goes_through_the_configure_hook_as_snap_set_does() {
    let Some((env, work)) = setup("") else { return };
    installed_ok(&env, &ctl_hooks(work.path()));
    let n = "ctl-hooks";
    // snapctl set inside the hook: committed when the hook succeeds.
    set_ok(&env, n, r#"{"command": "set-foo"}"#);
    assert_eq!(
        get(&env, n, &["foo"]).unwrap(),
        serde_json::json!({"foo": "bar"})
    );
    assert_eq!(
        get(&env, n, &["bar.a.aa", "bar.b"]).unwrap(),
        serde_json::json!({"bar.a.aa": 1, "bar.b": 3})
    );
    set_ok(&env, n, r#"{"command": "check-foo"}"#);
    set_ok(&env, n, r#"{"command": "check-missing"}"#);
    // Nested documents as snapctl prints them; unsetting one key keeps its sibling.
    set_ok(
        &env,
        n,
        r#"{"root.key1": "a", "root.key2": "b", "command": "check-nested"}"#,
    );
    set_ok(&env, n, r#"{"command": "unset-key2"}"#);
    assert_eq!(get_one(&env, n, "root"), serde_json::json!({"key1": "a"}));
    // null unsets; the whole document is what is left.
    set_ok(&env, n, r#"{"bar": null, "root": null, "command": null}"#);
    assert_eq!(
        get(&env, n, &[]).unwrap(),
        serde_json::json!({"foo": "bar"})
    );

    // A failing hook: its error (and words), nothing of the patch or of its own sets kept.
    let (status, kind, err) = set(&env, n, r#"{"command": "fail", "other": 1}"#);
    assert_eq!((status.as_str(), kind.as_str()), ("Error", "hook-failed"));
    assert!(
        err.starts_with("run hook \"configure\": exit status 1"),
        "{err}"
    );
    assert!(err.contains("failing as asked"), "{err}");
    assert_eq!(
        get(&env, n, &[]).unwrap(),
        serde_json::json!({"foo": "bar"})
    );

    // A hook that floods its output: the error keeps its end only.
    let (_, kind, err) = set(&env, n, r#"{"command": "flood"}"#);
    assert_eq!(kind, "hook-failed");
    assert!(
        err.contains("exit status 3") && err.contains("the last words"),
        "{err}"
    );
    assert!(err.len() < 4096, "{} bytes of error", err.len());

    // Bad input: refused before any change starts, nothing changed.
    let changes = env.proxy().list_changes().unwrap().len();
    for (patch, words) in [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ("{}", "sets nothing"),
        (r#"{"Bad": 1}"#, "invalid option name: \"Bad\""),
        (r#"{"a..b": 1}"#, "invalid option name: \"\""),
        (
            r#"{"foo.x": 1}"#,
            "snap \"ctl-hooks\" option \"foo\" is not a map",
        ),
    ] {
        let e = env.proxy().set_config(n, patch).unwrap_err();
        assert!(e.to_string().contains(words), "{patch}: {e}");
        assert_eq!(kind_of(e), ErrorKind::InvalidArgument, "{patch}");
    }
    let e = env.proxy().get_config(n, &["Bad"]).unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::InvalidArgument);
    let e = env.proxy().get_config("not-there", &[]).unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::NotInstalled);
    assert_eq!(env.proxy().list_changes().unwrap().len(), changes);
    assert_eq!(
        get(&env, n, &[]).unwrap(),
        serde_json::json!({"foo": "bar"})
    );

    // A snap without a configure hook cannot be configured (DESIGN.md §11).
    let plain = snap(
        work.path(),
        "no-hooks",
        "apps:\n  app:\n    command: bin/true\n",
        &[],
    );
    installed_ok(&env, &plain);
    let e = env
        .proxy()
        .set_config("no-hooks", r#"{"a": 1}"#)
        .unwrap_err();
    assert!(e.to_string().contains("has no \"configure\" hook"), "{e}");
    assert_eq!(kind_of(e), ErrorKind::InvalidArgument);
    assert_eq!(get(&env, "no-hooks", &[]).unwrap(), serde_json::json!({}));

    // snapshelfctl get/set/unset speak as snap get/set/unset.
    let bin = common::workspace_bin("snapshelfctl", "snapshelfctl");
    let ctl = |args: &[&str]| {
        let o = std::process::Command::new(&bin)
            .arg("--bus-address")
            .arg(&env.bus_address)
            .args(args)
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
        (o.status.code(), text(&o.stdout), text(&o.stderr))
    };
    assert_eq!(
        ctl(&["set", n, "greeting=hello world", "num=3", "doc.a=1"]).0,
        Some(0)
    );
    assert_eq!(ctl(&["get", n, "greeting"]).1, "hello world\n");
    assert_eq!(ctl(&["get", "-t", n, "greeting"]).1, "\"hello world\"\n");
    assert_eq!(ctl(&["get", "-d", n, "num"]).1, "{\n\t\"num\": 3\n}\n");
    let (_, out, err) = ctl(&["get", n, "doc"]);
    assert_eq!(out, "{\n\t\"doc\": {\n\t\t\"a\": 1\n\t}\n}\n");
    assert!(
        err.starts_with("WARNING: The output of 'snap get' will become a list"),
        "{err}"
    );
    assert_eq!(ctl(&["get", "-l", n, "doc"]).1, "Key    Value\ndoc.a  1\n");
    assert_eq!(ctl(&["set", "-s", n, "num=4"]).0, Some(0));
    assert_eq!(ctl(&["get", "-t", n, "num"]).1, "\"4\"\n");
    assert_eq!(ctl(&["unset", n, "greeting"]).0, Some(0));
    let (code, _, err) = ctl(&["get", n, "greeting"]);
    assert_eq!(code, Some(4), "{err}");
    assert!(
        err.contains("snap \"ctl-hooks\" has no \"greeting\" configuration option"),
        "{err}"
    );
    let (code, _, err) = ctl(&["set", n, "Bad=1"]);
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("invalid option name: \"Bad\""), "{err}");
    let (code, _, err) = ctl(&["set", n, "novalue"]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("invalid configuration: \"novalue\" (want key=value)"),
        "{err}"
    );
    let (code, _, err) = ctl(&["get", "no-hooks"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("snap \"no-hooks\" has no configuration"),
        "{err}"
    );
}

/// Processes of the host running the never-ending hook.
/// The tests that look for hook processes left behind (`hook_sleepers`, machine-wide) take turns
/// with the one whose hook sleeps on purpose.
fn sleepers_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn hook_sleepers() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == b"sleep\x003599\x00")
        })
        .collect()
}

#[test]
fn a_hook_that_never_ends_is_stopped_and_a_crash_during_a_hook_is_recovered() {
    let _sleepers = sleepers_lock();
    let Some((mut env, work)) = setup("hook-timeout = 3\n") else {
        return;
    };
    installed_ok(&env, &ctl_hooks(work.path()));
    let n = "ctl-hooks";
    set_ok(&env, n, r#"{"foo": "kept"}"#);
    let started = Instant::now();
    let (status, kind, err) = set(&env, n, r#"{"command": "never-end", "foo": "lost"}"#);
    assert_eq!((status.as_str(), kind.as_str()), ("Error", "hook-failed"));
    assert_eq!(
        err,
        "run hook \"configure\": exceeded maximum runtime of 3s"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(get_one(&env, n, "foo"), "kept");
    assert!(
        hook_sleepers().is_empty(),
        "the hook outlived its time limit"
    );

    // SIGKILL while the hook runs: at start the change is undone, the hook is gone.
    env.kill_helper();
    start(&mut env, "hook-timeout = 600\n");
    let c = env
        .proxy()
        .set_config(n, r#"{"command": "never-end", "foo": "lost"}"#)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while hook_sleepers().is_empty() {
        assert!(Instant::now() < deadline, "the hook never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    env.kill_helper();
    start(&mut env, "hook-timeout = 600\n");
    let (status, _, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Error", "{err}");
    assert!(err.contains("interrupted"), "{err}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !hook_sleepers().is_empty() {
        assert!(Instant::now() < deadline, "the hook survived the crash");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get_one(&env, n, "foo"), "kept");
    let (kind, _) = get(&env, n, &["command"]).unwrap_err();
    assert_eq!(
        kind,
        ErrorKind::NoSuchOption,
        "nothing of the undone patch is kept"
    );
    assert!(!env
        .root
        .join("var/lib/snapshelf/cookies/hook.ctl-hooks")
        .exists());
    // The helper works on: the snap can be configured again.
    set_ok(&env, n, r#"{"command": "set-foo"}"#);
    assert_eq!(get_one(&env, n, "foo"), "bar");
}

#[test]
fn snapds_basic_hooks_run_with_their_environment() {
    let Some((env, work)) = setup("") else { return };
    let Some(compat) =
        snapshelf_snap::testdata::compat_dir("snapds_basic_hooks_run_with_their_environment")
    else {
        return;
    };
    let dest = work.path().join("basic-hooks");
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(compat.join("snapd-test-snaps/basic-hooks"))
        .arg(&dest)
        .status()
        .unwrap();
    assert!(st.success());
    let yaml = dest.join("meta/snap.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    std::fs::write(&yaml, format!("{text}\nbase: shelf-base\n")).unwrap();
    let file = work.path().join("basic-hooks.snap");
    snapshelf_snap::squashfs::pack(&dest, &file, &Default::default()).unwrap();
    installed_ok(&env, &file);
    // Only the hooks snapd knows get a profile: `invalid-hook` is never run.
    let profiles = env.root.join("var/lib/snapshelf/profiles");
    assert!(profiles.join("basic-hooks.hook.configure.json").exists());
    assert!(!profiles.join("basic-hooks.hook.invalid-hook.json").exists());
    set_ok(&env, "basic-hooks", r#"{"command": "dump-env"}"#);
    let dumped =
        std::fs::read_to_string(env.root.join("var/snap/basic-hooks/x1/hooks-env")).unwrap();
    for line in [
        "TEST_SNAP=/snap/basic-hooks/x1",
        "TEST_COMMON=/var/snap/basic-hooks/common",
        "TEST_DATA=/var/snap/basic-hooks/x1",
        "TEST_EXTRA=extra-stuff",
        "SNAP_NAME=basic-hooks",
    ] {
        assert!(
            dumped.lines().any(|l| l == line),
            "{line} not in:\n{dumped}"
        );
    }
    assert!(dumped
        .lines()
        .any(|l| l.starts_with("SNAP_COOKIE=") && l.len() == 12 + 64));
}

/// The configuration stored for `name`, read from the state database itself.
fn stored_config(env: &Env, name: &str) -> Option<String> {
    let db = rusqlite::Connection::open_with_flags(
        env.root.join("var/lib/snapshelf/state.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.query_row("SELECT data FROM config WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .ok()
}

/// After a crash and a restart: the snap is either installed with what its hooks set, or not
/// installed with nothing of it left (configuration, mounts, cookies, profiles).
fn check_hooks_snap_consistent(env: &Env, n: usize) {
    let name = "snap-hooks";
    let snap = common::installed(env).into_iter().find(|s| s.name == name);
    let installed = snap.is_some();
    let cookie = env
        .root
        .join(format!("var/lib/snapshelf/cookies/snap.{name}"));
    let hook_cookie = env
        .root
        .join(format!("var/lib/snapshelf/cookies/hook.{name}"));
    assert!(
        !hook_cookie.exists(),
        "run {n}: a hook cookie outlived its hook"
    );
    assert!(hook_sleepers().is_empty());
    if installed {
        assert_eq!(get_one(env, name, "installed"), 1, "run {n}");
        assert_eq!(get_one(env, name, "foo"), "bar", "run {n}");
        assert!(cookie.exists(), "run {n}");
        let rev = snap.map(|s| s.revision).unwrap_or_default();
        assert!(env.is_mounted(&format!("snap/{name}/{rev}")), "run {n}");
    } else {
        assert_eq!(
            stored_config(env, name),
            None,
            "run {n}: configuration left behind"
        );
        assert!(!cookie.exists(), "run {n}: a cookie left behind");
        let mounts = env.mounts_under_root();
        assert!(
            !mounts.iter().any(|m| m.contains("/snap/snap-hooks/")),
            "run {n}: {mounts:?}"
        );
        let profiles = env.root.join("var/lib/snapshelf/profiles");
        let left: Vec<_> = std::fs::read_dir(&profiles)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            !left
                .iter()
                .any(|f| f.to_string_lossy().starts_with("snap-hooks.")),
            "run {n}: profiles left behind: {left:?}"
        );
    }
}

#[test]
fn sigkill_at_every_task_boundary_of_an_install_with_hooks() {
    let _sleepers = sleepers_lock();
    let Some((mut env, work)) = setup("") else {
        return;
    };
    let file = snap_hooks(work.path(), "snap-hooks");
    for n in 1..100 {
        if common::installed(&env)
            .iter()
            .any(|s| s.name == "snap-hooks")
        {
            env.done(env.proxy().remove(&["snap-hooks"], Dict::new()));
        }
        env.kill_helper();
        let mut c = env.helper_command();
        c.arg("--confine")
            .arg(confine_bin())
            .env("SNAPSHELF_CRASH_AFTER", n.to_string());
        env.start_helper_from(c);
        let f = std::fs::File::open(&file).unwrap();
        let started = env
            .proxy()
            .install_file(zbus::zvariant::OwnedFd::from(OwnedFd::from(f)), unsigned());
        let crashed = common::crashed_before_ready(&mut env, &started, Duration::from_secs(60), n);
        env.kill_helper();
        start(&mut env, "");
        check_hooks_snap_consistent(&env, n);
        if !crashed {
            assert!(
                n > 10,
                "an install with hooks has only {} boundaries",
                n - 1
            );
            return;
        }
    }
    panic!("the install never ran to its end");
}
