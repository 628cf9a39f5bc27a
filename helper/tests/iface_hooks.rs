//! Interface hooks against the real helper, confine and snapctl: our own ports of snapd's spread
//! tests `tests/main/interfaces-hooks` and `interfaces-hooks-disconnect`, with the test snaps
//! (`basic-iface-hooks-consumer`/`-producer`, `test-disconnect`/`-provider`) written here. snapd's
//! pair uses its test-only `empty` interface; here the pair connects over `content` (the one
//! interface between two snaps), with the same extra attributes and hooks. `snap connect` is
//! `Connect`, `snap set` is `SetConfig`. Bad input from inside the hooks: setting attributes
//! outside a prepare hook, a plug that is not the hook's, a forged cookie: snapd's errors, and
//! nothing stored.

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::Env;
use snapshelf_dbus::types::Dict;
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
    write(&s.join("import/.placeholder"), "", 0o644);
    write(&s.join("bin/sh"), "#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755);
    for (hook, script) in hooks {
        write(&s.join("meta/hooks").join(hook), script, 0o755);
    }
    let out = dir.join(format!("{name}.snap"));
    snapshelf_snap::squashfs::pack(&s, &out, &Default::default()).unwrap();
    out
}

/// Shell helpers every hook starts with: `expect CMD… -- WANT` fails the hook unless CMD prints
/// WANT; `refused CMD…` fails it unless CMD fails, and keeps CMD's error in `$SNAP_COMMON`.
const PRELUDE: &str = r#"#!/bin/sh
set -u
expect() {
    want=$1; shift
    got=$("$@") || { echo "$* failed"; exit 1; }
    [ "$got" = "$want" ] || { echo "$*: expected '$want', got '$got'"; exit 1; }
}
refused() {
    tag=$1; shift
    if "$@" 2> "$SNAP_COMMON/$tag.err"; then echo "$* was not refused"; exit 1; fi
}
"#;

fn hook(body: &str) -> String {
    format!("{PRELUDE}{body}")
}

fn consumer(dir: &Path) -> PathBuf {
    let prepare = hook(
        r#"expect consumer-value-1 snapctl get :consumer consumer-attr-1
snapctl set :consumer before-connect=consumer-value || exit 1
expect consumer-value snapctl get :consumer before-connect
count=$(snapctl get exec-count)
count=$((count + 1))
snapctl set "exec-count=$count"
snapctl set :consumer "exec-count=$count"
# A cookie nobody was given: no context, nothing set.
SNAP_COOKIE=0000000000000000000000000000000000000000000000000000000000000000 \
    refused forged snapctl set :consumer forged=1
touch "$SNAP_COMMON/prepare-plug-consumer-done"
"#,
    );
    let connect = hook(
        r#"expect producer-value-1 snapctl get --slot :consumer producer-attr-1
expect producer-value snapctl get --slot :consumer before-connect
expect consumer-value-1 snapctl get :consumer consumer-attr-1
expect consumer-value snapctl get :consumer before-connect
refused unknown snapctl get :unknown target
refused set-in-connect snapctl set :consumer consumer-attr-4=foo
if [ "$(snapctl get fail)" = connect ]; then echo "Failing connect hook as requested"; exit 1; fi
touch "$SNAP_COMMON/connect-plug-consumer-done"
"#,
    );
    let disconnect = hook(
        r#"expect producer-value-1 snapctl get --slot :consumer producer-attr-1
expect producer-value snapctl get --slot :consumer before-connect
expect consumer-value snapctl get :consumer before-connect
refused forged-stored snapctl get :consumer forged
refused app-set snapctl get :consumer from-app
refused connect-set snapctl get :consumer consumer-attr-4
refused set-in-disconnect snapctl set :consumer consumer-attr-4=foo
touch "$SNAP_COMMON/disconnect-plug-consumer-done"
"#,
    );
    snap(
        dir,
        "basic-iface-hooks-consumer",
        "apps:\n  sh:\n    command: bin/sh\nplugs:\n  consumer:\n    interface: content\n    content: iface-hooks\n    \
         target: $SNAP/import\n    consumer-attr-1: consumer-value-1\n    \
         consumer-attr-2: consumer-value-2\n",
        &[
            ("configure", "#!/bin/sh\n"),
            ("prepare-plug-consumer", &prepare),
            ("connect-plug-consumer", &connect),
            ("disconnect-plug-consumer", &disconnect),
            (
                "unprepare-plug-consumer",
                "#!/bin/sh\nsnapctl get :consumer before-connect > \
                 \"$SNAP_COMMON/unprepare-plug-consumer-done\"\n",
            ),
        ],
    )
}

fn producer(dir: &Path) -> PathBuf {
    let prepare = hook(
        r#"snapctl set :producer before-connect=producer-value || exit 1
expect producer-value snapctl get :producer before-connect
expect consumer-value snapctl get --plug :producer before-connect
refused overwrite snapctl set :producer producer-attr-1=other
refused other-side snapctl set :consumer x=1
touch "$SNAP_COMMON/prepare-slot-producer-done"
"#,
    );
    let connect = hook(
        r#"expect consumer-value-1 snapctl get --plug :producer consumer-attr-1
expect producer-value snapctl get :producer before-connect
expect consumer-value snapctl get --plug :producer before-connect
expect 1 snapctl get :producer producer-num-1
refused unknown snapctl get :unknown consumer-attr-1
refused set-in-connect snapctl set :producer consumer-attr-4=foo
touch "$SNAP_COMMON/connect-slot-producer-done"
"#,
    );
    let disconnect = connect.replace(
        "connect-slot-producer-done",
        "disconnect-slot-producer-done",
    );
    snap(
        dir,
        "basic-iface-hooks-producer",
        "slots:\n  producer:\n    interface: content\n    content: iface-hooks\n    \
         read: [$SNAP/import]\n    producer-attr-1: producer-value-1\n    \
         producer-attr-2: producer-value-2\n    producer-num-1: 1\n",
        &[
            ("configure", "#!/bin/sh\n"),
            ("prepare-slot-producer", &prepare),
            ("connect-slot-producer", &connect),
            ("disconnect-slot-producer", &disconnect),
            (
                "unprepare-slot-producer",
                "#!/bin/sh\ntouch \"$SNAP_COMMON/unprepare-slot-producer-done\"\n",
            ),
        ],
    )
}

fn unsigned() -> Dict {
    [("unsigned".to_string(), OwnedValue::from(true))]
        .into_iter()
        .collect()
}

fn install(env: &Env, path: &Path) {
    let f = std::fs::File::open(path).unwrap();
    let c = env
        .proxy()
        .install_file(zbus::zvariant::OwnedFd::from(OwnedFd::from(f)), unsigned())
        .unwrap();
    let (status, kind, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{}: {kind} {err}", path.display());
}

/// The helper with the workspace's confine (which runs the hooks).
fn start(env: &mut Env) {
    let mut c = env.helper_command();
    c.arg("--confine").arg(common::workspace_bin(
        "snapshelf-confine",
        "snapshelf-confine",
    ));
    env.start_helper_from(c);
}

fn setup() -> Option<(Env, tempfile::TempDir)> {
    if !common::require_root() {
        return None;
    }
    let mut env = Env::new();
    start(&mut env);
    env.done(env.proxy().install(&["shelf-base"], Dict::new()));
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    Some((env, work))
}

/// Connect or disconnect; the change's status, error, and its tasks' summaries.
fn connect(
    env: &Env,
    on: bool,
    plug: (&str, &str),
    slot: (&str, &str),
) -> (String, String, Vec<String>) {
    let p = env.proxy();
    let c = if on {
        p.connect(plug.0, plug.1, slot.0, slot.1)
    } else {
        p.disconnect(plug.0, plug.1, slot.0, slot.1)
    }
    .unwrap();
    finish(env, c.as_str())
}

/// Wait for a change: its status, error, and its tasks as "kind summary".
fn finish(env: &Env, path: &str) -> (String, String, Vec<String>) {
    let (status, _, err) = env.wait_change(path);
    let change = snapshelf_dbus::proxy::Change1ProxyBlocking::builder(&env.connection())
        .path(path.to_string())
        .unwrap()
        .build()
        .unwrap();
    let tasks = change.tasks().unwrap();
    (
        status,
        err,
        tasks
            .into_iter()
            .map(|t| format!("{} {}", t.0, t.1))
            .collect(),
    )
}

fn common_dir(env: &Env, snap: &str) -> PathBuf {
    env.root.join("var/snap").join(snap).join("common")
}

fn markers(env: &Env, snap: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(common_dir(env, snap))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with("-done"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn clear_markers(env: &Env, snap: &str) {
    for m in markers(env, snap) {
        std::fs::remove_file(common_dir(env, snap).join(m)).unwrap();
    }
}

fn err_text(env: &Env, snap: &str, tag: &str) -> String {
    std::fs::read_to_string(common_dir(env, snap).join(format!("{tag}.err")))
        .unwrap_or_else(|e| panic!("{snap}: {tag}.err: {e}"))
}

fn set_config(env: &Env, name: &str, patch: &str) {
    let c = env.proxy().set_config(name, patch).unwrap();
    let (status, _, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{err}");
}

fn connected(env: &Env, snap: &str, plug: &str) -> bool {
    env.proxy().connections(snap).unwrap().iter().any(|d| {
        let c = snapshelf_dbus::types::Connection::from_dict(d).unwrap();
        c.plug == plug && c.connected
    })
}

/// Where each hook's task stands in a change: its index among the tasks.
fn at(tasks: &[String], needle: &str) -> usize {
    tasks
        .iter()
        .position(|t| t.contains(needle))
        .unwrap_or_else(|| panic!("no task with {needle:?} in {tasks:#?}"))
}

/// snapd's tests/main/interfaces-hooks.
#[test]
fn interfaces_hooks() {
    let Some((mut env, work)) = setup() else {
        return;
    };
    let (c, p) = ("basic-iface-hooks-consumer", "basic-iface-hooks-producer");
    install(&env, &consumer(work.path()));
    install(&env, &producer(work.path()));
    let (plug, slot) = ((c, "consumer"), (p, "producer"));

    // Connect runs prepare-plug, prepare-slot, the connection, connect-slot, connect-plug.
    let (status, err, tasks) = connect(&env, true, plug, slot);
    assert_eq!(status, "Done", "{err}");
    let order = [
        "prepare-plug-consumer",
        "prepare-slot-producer",
        "connect-content",
        "connect-slot-producer",
        "connect-plug-consumer",
    ]
    .map(|n| at(&tasks, n));
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{tasks:#?}");
    assert_eq!(
        markers(&env, c),
        ["connect-plug-consumer-done", "prepare-plug-consumer-done"]
    );
    assert_eq!(
        markers(&env, p),
        ["connect-slot-producer-done", "prepare-slot-producer-done"]
    );
    assert!(connected(&env, c, "consumer"));
    // snapd's words for what the hooks were refused.
    let e = |s, t| err_text(&env, s, t);
    assert!(
        e(c, "unknown").contains("unknown plug or slot \"unknown\""),
        "{}",
        e(c, "unknown")
    );
    assert!(e(p, "unknown").contains("unknown plug or slot \"unknown\""));
    for (s, tag) in [(c, "set-in-connect"), (p, "set-in-connect")] {
        assert!(
            e(s, tag).contains(
                "interface attributes can only be set during the execution of prepare hooks"
            ),
            "{s} {tag}: {}",
            e(s, tag)
        );
    }
    assert!(
        e(c, "forged").contains("no context for the given cookie"),
        "{}",
        e(c, "forged")
    );
    assert!(e(p, "overwrite").contains("attribute \"producer-attr-1\" cannot be overwritten"));
    assert!(e(p, "other-side").contains("unknown plug or slot \"consumer\""));
    // The hook's own configuration was committed with it.
    let conf: serde_json::Value =
        serde_json::from_str(&env.proxy().get_config(c, &["exec-count"]).unwrap()).unwrap();
    assert_eq!(conf["exec-count"], 1);

    // Apps, even as root, neither read nor set attributes; nothing is stored.
    let out = common::sandbox::launch_as(
        &env,
        common::sandbox::Mode::Root,
        common::RUNNER,
        &format!("{c}.sh"),
        &[
            "-c",
            "snapctl get :consumer consumer-attr-1; snapctl set :consumer from-app=1",
        ],
    );
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains(
            "interface attributes can only be read during the execution of interface hooks"
        ),
        "{text}"
    );
    assert!(
        text.contains("interface attributes can only be set during the execution of prepare hooks"),
        "{text}"
    );

    // The dynamic attributes were stored with the connection: a helper started afresh gives
    // them to the disconnect hooks (which check them), in snapd's order.
    clear_markers(&env, c);
    clear_markers(&env, p);
    env.kill_helper();
    start(&mut env);
    let (status, err, tasks) = connect(&env, false, plug, slot);
    assert_eq!(status, "Done", "{err}");
    let order = [
        "disconnect-slot-producer",
        "disconnect-plug-consumer",
        "disconnect-content",
    ]
    .map(|n| at(&tasks, n));
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{tasks:#?}");
    assert_eq!(markers(&env, c), ["disconnect-plug-consumer-done"]);
    assert_eq!(markers(&env, p), ["disconnect-slot-producer-done"]);
    let e = |s, t| err_text(&env, s, t);
    assert!(e(c, "forged-stored").contains("no \"forged\" attribute"));
    assert!(!connected(&env, c, "consumer"));

    // A failing connect hook undoes the connection and runs the undo hooks.
    clear_markers(&env, c);
    clear_markers(&env, p);
    set_config(&env, c, r#"{"fail": "connect"}"#);
    let (status, err, _) = connect(&env, true, plug, slot);
    assert_eq!(status, "Error", "{err}");
    assert!(err.contains("Failing connect hook as requested"), "{err}");
    assert_eq!(
        markers(&env, c),
        ["prepare-plug-consumer-done", "unprepare-plug-consumer-done"]
    );
    assert_eq!(
        markers(&env, p),
        [
            "connect-slot-producer-done",
            "disconnect-slot-producer-done",
            "prepare-slot-producer-done",
            "unprepare-slot-producer-done"
        ]
    );
    let unprepared =
        std::fs::read_to_string(common_dir(&env, c).join("unprepare-plug-consumer-done")).unwrap();
    assert_eq!(unprepared.trim(), "consumer-value");
    assert!(!connected(&env, c, "consumer"));
    // The failed change's configuration was not kept: the prepare hook counted once more in
    // vain, and counts again from what was committed.
    let conf: serde_json::Value =
        serde_json::from_str(&env.proxy().get_config(c, &["exec-count"]).unwrap()).unwrap();
    assert_eq!(conf["exec-count"], 1);

    set_config(&env, c, r#"{"fail": "none"}"#);
    let (status, err, _) = connect(&env, true, plug, slot);
    assert_eq!(status, "Done", "{err}");
    assert!(connected(&env, c, "consumer"));
}

/// snapd's test-disconnect: a disconnect-plug hook for each of its plugs, failing when asked.
fn test_disconnect(dir: &Path) -> PathBuf {
    let body = |plug: &str| {
        format!(
            "#!/bin/sh\ntouch \"$SNAP_COMMON/disconnect-plug-{plug}-done\"\n\
             if [ -e \"$SNAP_COMMON/disconnect-fail\" ]; then echo failing as asked; exit 1; fi\n"
        )
    };
    snap(
        dir,
        "test-disconnect",
        "plugs:\n  home:\n  network:\n  shared-content:\n    interface: content\n    \
         content: shared\n    target: $SNAP/import\n",
        &[
            ("disconnect-plug-home", &body("home")),
            ("disconnect-plug-network", &body("network")),
            ("disconnect-plug-shared-content", &body("shared-content")),
        ],
    )
}

fn test_disconnect_provider(dir: &Path) -> PathBuf {
    snap(
        dir,
        "test-disconnect-provider",
        "slots:\n  shared-content:\n    interface: content\n    content: shared\n    \
         read: [$SNAP/import]\n",
        &[(
            "disconnect-slot-shared-content",
            "#!/bin/sh\ntouch \"$SNAP_COMMON/disconnect-slot-shared-content-done\"\n",
        )],
    )
}

/// snapd's tests/main/interfaces-hooks-disconnect: disconnect hooks run on Disconnect, for the
/// system's slots and another snap's, and on removal; their failures are ignored.
#[test]
fn interfaces_hooks_disconnect() {
    let Some((env, work)) = setup() else {
        return;
    };
    let (plug_snap, slot_snap) = ("test-disconnect", "test-disconnect-provider");
    install(&env, &test_disconnect_provider(work.path()));
    install(&env, &test_disconnect(work.path()));
    let content = ((plug_snap, "shared-content"), (slot_snap, "shared-content"));
    let system = |plug| ((plug_snap, plug), ("", ""));
    let done = |(status, err, tasks): (String, String, Vec<String>)| {
        assert_eq!(status, "Done", "{err}");
        tasks
    };
    let clear = || {
        clear_markers(&env, plug_snap);
        clear_markers(&env, slot_snap);
    };

    // Network and home are connected by the policy; the content plug by hand.
    assert!(connected(&env, plug_snap, "network"));
    assert!(connected(&env, plug_snap, "home"));
    done(connect(&env, true, content.0, content.1));

    let tasks = done(connect(&env, false, content.0, content.1));
    assert!(
        at(&tasks, "disconnect-slot-shared-content") < at(&tasks, "disconnect-plug-shared-content")
    );
    assert_eq!(
        markers(&env, plug_snap),
        ["disconnect-plug-shared-content-done"]
    );
    assert_eq!(
        markers(&env, slot_snap),
        ["disconnect-slot-shared-content-done"]
    );
    clear();
    for plug in ["home", "network"] {
        let (p, s) = system(plug);
        let tasks = done(connect(&env, false, p, s));
        at(&tasks, &format!("disconnect-plug-{plug}"));
        assert_eq!(
            markers(&env, plug_snap),
            [format!("disconnect-plug-{plug}-done")]
        );
        assert!(!connected(&env, plug_snap, plug));
        clear();
    }

    // A failing disconnect hook: the disconnection goes on.
    done(connect(&env, true, content.0, content.1));
    for plug in ["home", "network"] {
        let (p, s) = system(plug);
        done(connect(&env, true, p, s));
    }
    std::fs::write(common_dir(&env, plug_snap).join("disconnect-fail"), "").unwrap();
    done(connect(&env, false, content.0, content.1));
    for plug in ["home", "network"] {
        let (p, s) = system(plug);
        done(connect(&env, false, p, s));
    }
    for plug in ["shared-content", "home", "network"] {
        assert!(!connected(&env, plug_snap, plug), "{plug}");
    }
    assert_eq!(
        markers(&env, plug_snap),
        [
            "disconnect-plug-home-done",
            "disconnect-plug-network-done",
            "disconnect-plug-shared-content-done"
        ]
    );
    clear();

    // Removal runs the disconnect hooks of every connection, failing ones too, and goes on.
    done(connect(&env, true, content.0, content.1));
    for plug in ["home", "network"] {
        let (p, s) = system(plug);
        done(connect(&env, true, p, s));
    }
    let c = env.proxy().remove(&[plug_snap], Dict::new()).unwrap();
    let tasks = done(finish(&env, c.as_str()));
    for hook in [
        "disconnect-slot-shared-content",
        "disconnect-plug-shared-content",
        "disconnect-plug-home",
        "disconnect-plug-network",
    ] {
        assert!(at(&tasks, hook) < at(&tasks, "unlink"), "{tasks:#?}");
    }
    assert_eq!(
        markers(&env, slot_snap),
        ["disconnect-slot-shared-content-done"]
    );
    assert!(common::installed(&env).iter().all(|s| s.name != plug_snap));
}

/// Auto-connection at install (snapd's auto-connect): the prepare- and connect-plug hooks of a
/// plug the policy connects run once the snap is linked, before its install hook, the
/// attributes passing from one to the other; a failing one fails the install, undone.
#[test]
fn auto_connection_at_install_runs_the_plugs_hooks() {
    let Some((env, work)) = setup() else {
        return;
    };
    let name = "auto-hooks";
    let yaml = "plugs:\n  network:\n    extra: static-value\n";
    let prepare = hook(
        r#"expect static-value snapctl get :network extra
snapctl set :network chosen=by-prepare || exit 1
refused overwrite snapctl set :network extra=other
touch "$SNAP_COMMON/prepare-plug-network-done"
"#,
    );
    let connect = hook(
        r#"expect by-prepare snapctl get :network chosen
[ -e "$SNAP_COMMON/install-done" ] && { echo "the install hook ran first"; exit 1; }
touch "$SNAP_COMMON/connect-plug-network-done"
"#,
    );
    let install_hook = "#!/bin/sh\ntouch \"$SNAP_COMMON/install-done\"\n";
    let built = snap(
        work.path(),
        name,
        yaml,
        &[
            ("prepare-plug-network", &prepare),
            ("connect-plug-network", &connect),
            ("install", install_hook),
        ],
    );
    let f = std::fs::File::open(built).unwrap();
    let c = env
        .proxy()
        .install_file(zbus::zvariant::OwnedFd::from(OwnedFd::from(f)), unsigned())
        .unwrap();
    let (status, err, tasks) = finish(&env, c.as_str());
    assert_eq!(status, "Done", "{err}");
    assert!(
        at(&tasks, "auto-connect-hooks") < at(&tasks, "install hook"),
        "{tasks:#?}"
    );
    assert_eq!(
        markers(&env, name),
        [
            "connect-plug-network-done",
            "install-done",
            "prepare-plug-network-done"
        ]
    );
    assert!(err_text(&env, name, "overwrite").contains("cannot be overwritten"));

    // A refresh that adds a plug runs the hooks of that new connection only.
    clear_markers(&env, name);
    let bind = "#!/bin/sh\ntouch \"$SNAP_COMMON/connect-plug-network-bind-done\"\n";
    let refreshed = snap(
        work.path(),
        name,
        "plugs:\n  network:\n    extra: static-value\n  network-bind:\n",
        &[
            ("prepare-plug-network", &prepare),
            ("connect-plug-network", &connect),
            ("connect-plug-network-bind", bind),
        ],
    );
    install(&env, &refreshed);
    assert_eq!(markers(&env, name), ["connect-plug-network-bind-done"]);
    env.done(env.proxy().remove(&[name], Dict::new()));

    // A connect hook that fails: the install is undone.
    let bad = hook("echo 'failing connect-plug-network as asked'; exit 1\n");
    let s = snap(
        work.path(),
        "auto-hooks-bad",
        yaml,
        &[
            ("prepare-plug-network", &prepare),
            ("connect-plug-network", &bad),
        ],
    );
    let f = std::fs::File::open(s).unwrap();
    let c = env
        .proxy()
        .install_file(zbus::zvariant::OwnedFd::from(OwnedFd::from(f)), unsigned())
        .unwrap();
    let (status, err, _) = finish(&env, c.as_str());
    assert_eq!(status, "Error", "{err}");
    assert!(
        err.contains("failing connect-plug-network as asked"),
        "{err}"
    );
    assert!(common::installed(&env)
        .iter()
        .all(|s| s.name != "auto-hooks-bad"));
    assert!(!env.is_mounted("snap/auto-hooks-bad/x1"));
}

/// A default provider's content auto-connection at install (from the store, same publisher)
/// runs the hooks of both ends, the plug's prepare hook's attributes reaching the slot's connect
/// hook.
#[test]
fn a_default_providers_auto_connection_runs_both_ends_hooks() {
    if !common::require_root() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    std::fs::set_permissions(w, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (pn, sn) = ("hooked-content-plug", "hooked-content-slot");
    let prepare = hook(
        r#"snapctl set :shared-content-plug from-prepare=yes || exit 1
touch "$SNAP_COMMON/prepare-plug-done"
"#,
    );
    let connect_plug = hook(
        r#"expect mylib snapctl get --slot :shared-content-plug content
expect yes snapctl get :shared-content-plug from-prepare
touch "$SNAP_COMMON/connect-plug-done"
"#,
    );
    let plug = snap(
        w,
        pn,
        &format!(
            "plugs:\n  shared-content-plug:\n    interface: content\n    content: mylib\n    \
             target: $SNAP/import\n    default-provider: {sn}\n"
        ),
        &[
            ("prepare-plug-shared-content-plug", &prepare),
            ("connect-plug-shared-content-plug", &connect_plug),
        ],
    );
    let connect_slot = hook(
        r#"expect yes snapctl get --plug :shared-content-slot from-prepare
touch "$SNAP_COMMON/connect-slot-done"
"#,
    );
    let slot = snap(
        w,
        sn,
        "slots:\n  shared-content-slot:\n    interface: content\n    content: mylib\n    \
         read: [$SNAP/import]\n",
        &[("connect-slot-shared-content-slot", &connect_slot)],
    );
    let catalog = tempfile::tempdir().unwrap();
    common::copy_dir(common::catalog(), catalog.path());
    let mut toml = std::fs::read_to_string(catalog.path().join("catalog.toml")).unwrap();
    for (name, file) in [(pn, plug), (sn, slot)] {
        std::fs::copy(file, catalog.path().join(format!("snaps/{name}_1.snap"))).unwrap();
        toml.push_str(&format!(
            "\n[[snap]]\nname = \"{name}\"\npublisher = \"snapshelf\"\ncategories = \
             [\"development\"]\nlicense = \"MIT\"\nchannels = {{ \"latest/stable\" = 1 }}\n"
        ));
    }
    std::fs::write(catalog.path().join("catalog.toml"), toml).unwrap();
    let mut env = Env::with_catalog(catalog.path());
    start(&mut env);

    let c = env.proxy().install(&[pn], Dict::new()).unwrap();
    let (status, err, tasks) = finish(&env, c.as_str());
    assert_eq!(status, "Done", "{err}");
    assert!(connected(&env, pn, "shared-content-plug"));
    let hooks = tasks
        .iter()
        .rposition(|t| t.starts_with("auto-connect-hooks") && t.contains(pn));
    assert!(
        hooks.is_some_and(|h| h > at(&tasks, "connect-content")),
        "{tasks:#?}"
    );
    assert_eq!(
        markers(&env, pn),
        ["connect-plug-done", "prepare-plug-done"]
    );
    assert_eq!(markers(&env, sn), ["connect-slot-done"]);
}
