//! The order hooks run in at install and refresh, against the real helper, compared with snapd's
//! (overlord/snapstate/snap.go: link-snap, auto-connect, aliases, then run-hook[install] or
//! run-hook[post-refresh]; overlord/ifacestate: auto-connect injects each connection's
//! prepare-plug/prepare-slot hooks, the connections, one setup-profiles for them all, then the
//! connect-slot/connect-plug hooks, before what follows auto-connect). A snap with a content plug
//! (to its default provider) and a system plug; every hook appends its name to
//! `$SNAP_COMMON/order`, and each snap's list is compared with snapd's.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::Env;
use snapshelf_dbus::types::Dict;

const PLUG_SNAP: &str = "order-plug";
const SLOT_SNAP: &str = "order-slot";

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A snap whose every hook in `hooks` appends its own name to `$SNAP_COMMON/order`.
fn snap(dir: &Path, name: &str, yaml: &str, hooks: &[&str]) -> PathBuf {
    let s = dir.join(name);
    let _ = std::fs::remove_dir_all(&s);
    write(
        &s.join("meta/snap.yaml"),
        &format!("name: {name}\nversion: '1.0'\nsummary: hook order\nbase: shelf-base\n{yaml}"),
        0o644,
    );
    for d in ["import", "import2"] {
        write(&s.join(d).join(".placeholder"), "", 0o644);
    }
    for hook in hooks {
        let script = "#!/bin/sh\necho \"${0##*/}\" >> \"$SNAP_COMMON/order\"\n";
        write(&s.join("meta/hooks").join(hook), script, 0o755);
    }
    let out = dir.join(format!("{name}.snap"));
    snapshelf_snap::squashfs::pack(&s, &out, &Default::default()).unwrap();
    out
}

fn content_plug(plug: &str, target: &str) -> String {
    format!(
        "  {plug}:\n    interface: content\n    content: order-lib\n    target: $SNAP/{target}\n    \
         default-provider: {SLOT_SNAP}\n"
    )
}

/// Revision 1 (stable) of the plug snap: a system plug and a content plug; revision 2 (edge)
/// adds one of each, whose connections are the refresh's new ones.
fn plug_snap(dir: &Path, refreshed: bool) -> PathBuf {
    let mut yaml = format!("plugs:\n  network:\n{}", content_plug("lib", "import"));
    let mut hooks = vec![
        "install",
        "configure",
        "pre-refresh",
        "post-refresh",
        "prepare-plug-network",
        "connect-plug-network",
        "prepare-plug-lib",
        "connect-plug-lib",
    ];
    if refreshed {
        yaml.push_str("  network-bind:\n");
        yaml.push_str(&content_plug("lib2", "import2"));
        hooks.extend([
            "prepare-plug-network-bind",
            "connect-plug-network-bind",
            "prepare-plug-lib2",
            "connect-plug-lib2",
        ]);
    }
    snap(dir, PLUG_SNAP, &yaml, &hooks)
}

fn slot_snap(dir: &Path) -> PathBuf {
    let yaml = "slots:\n  lib-slot:\n    interface: content\n    content: order-lib\n    \
                read: [$SNAP/import]\n";
    let hooks = [
        "install",
        "configure",
        "prepare-slot-lib-slot",
        "connect-slot-lib-slot",
    ];
    snap(dir, SLOT_SNAP, yaml, &hooks)
}

/// A store serving both snaps from the same publisher (so the content plugs auto-connect).
fn catalog(work: &Path, catalog: &Path) {
    common::copy_dir(common::catalog(), catalog);
    let mut toml = std::fs::read_to_string(catalog.join("catalog.toml")).unwrap();
    let snaps = catalog.join("snaps");
    std::fs::copy(
        plug_snap(work, false),
        snaps.join(format!("{PLUG_SNAP}_1.snap")),
    )
    .unwrap();
    std::fs::copy(
        plug_snap(work, true),
        snaps.join(format!("{PLUG_SNAP}_2.snap")),
    )
    .unwrap();
    std::fs::copy(slot_snap(work), snaps.join(format!("{SLOT_SNAP}_1.snap"))).unwrap();
    for (name, channels) in [
        (PLUG_SNAP, "{ \"latest/stable\" = 1, \"latest/edge\" = 2 }"),
        (SLOT_SNAP, "{ \"latest/stable\" = 1 }"),
    ] {
        toml.push_str(&format!(
            "\n[[snap]]\nname = \"{name}\"\npublisher = \"snapshelf\"\ncategories = \
             [\"development\"]\nlicense = \"MIT\"\nchannels = {channels}\n"
        ));
    }
    std::fs::write(catalog.join("catalog.toml"), toml).unwrap();
}

/// The hooks that ran, in order, and the file emptied for the next step.
fn take_order(env: &Env, snap: &str) -> Vec<String> {
    let path = env.root.join("var/snap").join(snap).join("common/order");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    text.lines().map(str::to_string).collect()
}

/// snapd's order for one snap's hooks: the prepare hooks of all its new connections, then their
/// connect hooks, then `after`. snapd runs the connections of one auto-connect in no fixed order
/// (a map), so within each of those two groups the order is not compared.
fn assert_snapd_order(got: &[String], prepare: &[&str], connect: &[&str], after: &[&str]) {
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    let want = |v: &[&str]| sorted(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let (p, rest) = got.split_at(prepare.len().min(got.len()));
    let (c, rest) = rest.split_at(connect.len().min(rest.len()));
    assert_eq!(sorted(p), want(prepare), "prepare hooks first: {got:?}");
    assert_eq!(sorted(c), want(connect), "then connect hooks: {got:?}");
    assert_eq!(rest, after, "then: {got:?}");
}

/// A helper with confine (hooks run in the sandbox), crashing after `crash_after` task records.
fn start(env: &mut Env, crash_after: Option<usize>) {
    let mut c = env.helper_command();
    c.arg("--confine").arg(common::workspace_bin(
        "snapshelf-confine",
        "snapshelf-confine",
    ));
    if let Some(n) = crash_after {
        c.env("SNAPSHELF_CRASH_AFTER", n.to_string());
    }
    env.start_helper_from(c);
}

/// A store with both snaps, and a helper on it; `None` when not root (recorded).
fn setup() -> Option<(Env, tempfile::TempDir, tempfile::TempDir)> {
    if !common::require_root() {
        return None;
    }
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = tempfile::tempdir().unwrap();
    catalog(work.path(), store.path());
    let mut env = Env::with_catalog(store.path());
    start(&mut env, None);
    Some((env, work, store))
}

fn connected(env: &Env, snap: &str, plug: &str) -> bool {
    env.proxy().connections(snap).unwrap().iter().any(|d| {
        let c = snapshelf_dbus::types::Connection::from_dict(d).unwrap();
        c.plug == plug && c.connected
    })
}

#[test]
fn hooks_run_in_snapds_order_at_install_and_refresh() {
    let Some((env, _work, _store)) = setup() else {
        return;
    };

    // Install: the provider comes in first (with its own install and configure hooks); the
    // plug snap's connections' hooks run before its install hook.
    env.done(env.proxy().install(&[PLUG_SNAP], Dict::new()));
    assert_snapd_order(
        &take_order(&env, PLUG_SNAP),
        &["prepare-plug-network", "prepare-plug-lib"],
        &["connect-plug-network", "connect-plug-lib"],
        &["install", "configure"],
    );
    assert_eq!(
        take_order(&env, SLOT_SNAP),
        [
            "install",
            "configure",
            "prepare-slot-lib-slot",
            "connect-slot-lib-slot"
        ]
    );

    // Refresh to revision 2: pre-refresh, the hooks of the new connections only, then
    // post-refresh and configure.
    env.done(
        env.proxy()
            .refresh(&[PLUG_SNAP], common::refresh_on("edge")),
    );
    let got = take_order(&env, PLUG_SNAP);
    assert_eq!(
        got.first().map(String::as_str),
        Some("pre-refresh"),
        "{got:?}"
    );
    assert_snapd_order(
        &got[1..],
        &["prepare-plug-network-bind", "prepare-plug-lib2"],
        &["connect-plug-network-bind", "connect-plug-lib2"],
        &["post-refresh", "configure"],
    );
    assert_eq!(
        take_order(&env, SLOT_SNAP),
        ["prepare-slot-lib-slot", "connect-slot-lib-slot"]
    );
}

/// Run until the install change is ready or the helper is gone; whether it crashed.
fn crashed_during_install(env: &mut Env, n: usize) -> bool {
    let started = env.proxy().install(&[PLUG_SNAP], Dict::new());
    common::crashed_before_ready(env, &started, Duration::from_secs(90), n)
}

/// After a crash and the recovery at start: the change either finished (both snaps in, the
/// content plug connected, every interface hook's last run before the install hook's first) or
/// was undone whole (neither snap, nothing mounted).
fn check_consistent(env: &Env, n: usize) {
    let names: Vec<String> = common::installed(env).into_iter().map(|s| s.name).collect();
    let order = take_order(env, PLUG_SNAP);
    if names.iter().any(|s| s == PLUG_SNAP) {
        assert!(names.iter().any(|s| s == SLOT_SNAP), "run {n}: {names:?}");
        assert!(connected(env, PLUG_SNAP, "lib"), "run {n}");
        let first_install = order.iter().position(|h| h == "install");
        let last_iface = order.iter().rposition(|h| h.contains("-plug-"));
        assert!(
            first_install.is_some() && last_iface < first_install,
            "run {n}: {order:?}"
        );
    } else {
        assert!(!names.iter().any(|s| s == SLOT_SNAP), "run {n}: {names:?}");
        let mounts = env.mounts_under_root();
        assert!(
            !mounts.iter().any(|m| m.contains("/snap/order-")),
            "run {n}: {mounts:?}"
        );
    }
}

/// SIGKILL at every task boundary (and after every interface hook) of the install of a snap
/// with its default provider: recovery finishes or undoes the change whole.
#[test]
fn sigkill_at_every_task_boundary_of_an_install_with_auto_connections() {
    let Some((mut env, _work, _store)) = setup() else {
        return;
    };
    for n in 1..200 {
        for name in [PLUG_SNAP, SLOT_SNAP] {
            if common::installed(&env).iter().any(|s| s.name == name) {
                env.done(env.proxy().remove(&[name], Dict::new()));
            }
            take_order(&env, name);
        }
        env.kill_helper();
        start(&mut env, Some(n));
        let crashed = crashed_during_install(&mut env, n);
        env.kill_helper();
        start(&mut env, None);
        // Recovery runs at start, before the helper is on the bus.
        check_consistent(&env, n);
        if !crashed {
            assert!(n > 20, "the install has only {} boundaries", n - 1);
            return;
        }
    }
    panic!("the install never ran to its end");
}
