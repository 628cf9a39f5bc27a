//! The content interface end to end, against the real helper, store, loop mounts and confine:
//! our own ports of snapd's spread tests `tests/main/interfaces-content`,
//! `interfaces-content-mimic` and `interfaces-content-mkdir-writable` (and, with the store,
//! `interfaces-content-default-provider`), with snapd's test snaps `test-snapd-content-plug`,
//! `test-snapd-content-slot`, `test-snapd-content-advanced-plug/slot` and the mimic pair, written
//! here as snapd has them (given the sample base). `snap install --dangerous` is
//! `InstallFile` with `unsigned`; `snap connect` is `Connect`; the apps run through
//! `snapshelf-confine`. Then the bad input: paths that climb out, unknown variables, another
//! content tag, links.

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{kind_of, Env, RUNNER};
use snapshelf_dbus::types::{Connection, Dict};
use snapshelf_dbus::ErrorKind;
use zbus::zvariant::OwnedValue;

fn confine_bin() -> PathBuf {
    common::workspace_bin("snapshelf-confine", "snapshelf-confine")
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A snap from `files` (path, text, mode) with the sample base added to its snap.yaml.
fn snap(dir: &Path, name: &str, yaml: &str, files: &[(&str, &str, u32)]) -> PathBuf {
    let s = dir.join(name);
    let _ = std::fs::remove_dir_all(&s);
    write(
        &s.join("meta/snap.yaml"),
        &format!("{yaml}base: shelf-base\n"),
        0o644,
    );
    for (path, text, mode) in files {
        write(&s.join(path), text, *mode);
    }
    let out = dir.join(format!("{name}.snap"));
    snapshelf_snap::squashfs::pack(&s, &out, &Default::default()).unwrap();
    out
}

const SH: (&str, &str, u32) = (
    "bin/sh",
    "#!/bin/sh\nPS1='$ '\nexec /bin/sh \"$@\"\n",
    0o755,
);

/// snapd's tests/lib/snaps/test-snapd-content-plug (the default provider optional).
fn content_plug(dir: &Path, default_provider: bool) -> PathBuf {
    let provider = if default_provider {
        "        default-provider: test-snapd-content-slot\n"
    } else {
        ""
    };
    snap(
        dir,
        "test-snapd-content-plug",
        &format!(
            "name: test-snapd-content-plug\nversion: 1.0\napps:\n    content-plug:\n        \
             command: bin/content-plug\n        plugs: [shared-content-plug]\nplugs:\n    \
             shared-content-plug:\n        interface: content\n        target: import\n        \
             content: mylib\n{provider}"
        ),
        &[
            (
                "bin/content-plug",
                "#!/bin/sh\n\nset -e\n\ncat \"$SNAP/import/shared-content\"\n",
                0o755,
            ),
            ("import/.placeholder", "", 0o644),
        ],
    )
}

/// snapd's tests/lib/snaps/test-snapd-content-slot.
fn content_slot(dir: &Path) -> PathBuf {
    snap(
        dir,
        "test-snapd-content-slot",
        "name: test-snapd-content-slot\nversion: 1.0\nslots:\n    shared-content-slot:\n        \
         interface: content\n        content: mylib\n        read:\n            - /\n",
        &[("shared-content", "Some shared content\n\nIs here!\n", 0o644)],
    )
}

fn unsigned() -> Dict {
    [("unsigned".to_string(), OwnedValue::from(true))]
        .into_iter()
        .collect()
}

fn install_file(env: &Env, path: &Path) {
    let f = std::fs::File::open(path).unwrap();
    let c = env
        .proxy()
        .install_file(zbus::zvariant::OwnedFd::from(OwnedFd::from(f)), unsigned())
        .unwrap();
    let (status, _, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{}: {err}", path.display());
}

fn setup() -> (Env, tempfile::TempDir) {
    let mut env = Env::new();
    env.start_helper();
    let c = env.proxy().install(&["shelf-base"], Dict::new()).unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    (env, work)
}

/// `snap connect` / `snap disconnect`: the change must end Done.
fn connect(env: &Env, connect: bool, plug: (&str, &str), slot: (&str, &str)) {
    let p = env.proxy();
    let c = if connect {
        p.connect(plug.0, plug.1, slot.0, slot.1)
    } else {
        p.disconnect(plug.0, plug.1, slot.0, slot.1)
    }
    .unwrap_or_else(|e| panic!("connect {connect} {plug:?} {slot:?}: {e}"));
    let (status, _, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{err}");
}

/// A Connect that must be refused: its kind and message.
fn refused(env: &Env, plug: (&str, &str), slot: (&str, &str)) -> (ErrorKind, String) {
    match env.proxy().connect(plug.0, plug.1, slot.0, slot.1) {
        Ok(c) => panic!("{plug:?} to {slot:?} was accepted: {}", c.as_str()),
        Err(e) => {
            let text = e.to_string();
            (kind_of(e), text)
        }
    }
}

/// The content row of `snap:plug` in `Connections()`, with its `content` and `target`.
fn row(env: &Env, snap: &str, plug: &str) -> (Connection, String, String) {
    let rows = env.proxy().connections(snap).unwrap();
    let d = rows
        .iter()
        .find(|d| Connection::from_dict(d).unwrap().plug == plug)
        .unwrap_or_else(|| panic!("no row for {snap}:{plug}"));
    let s = |k: &str| {
        d.get(k)
            .and_then(|v| String::try_from(v.try_clone().unwrap()).ok())
            .unwrap_or_default()
    };
    (Connection::from_dict(d).unwrap(), s("content"), s("target"))
}

/// Run `snap.app args…` in its sandbox as root (snapd's spread tests run as root), or as the
/// test user in a user namespace.
fn run(env: &Env, as_user: bool, target: &str, args: &[&str]) -> Output {
    let root = env.root.display().to_string();
    let confine = confine_bin().display().to_string();
    let mut cmd = Command::new("timeout");
    cmd.args(["--signal=KILL", "120"]);
    if as_user {
        cmd.args(["runuser", "-u", RUNNER, "--"]);
    }
    cmd.args([&confine, "--root", &root, target])
        .args(args)
        .current_dir("/")
        .output()
        .unwrap()
}

fn sh(env: &Env, snap: &str, script: &str) -> Output {
    run(env, false, &format!("{snap}.sh"), &["-c", script])
}

/// `snap.sh -c script` must succeed.
fn sh_ok(env: &Env, snap: &str, script: &str) {
    let o = sh(env, snap, script);
    assert!(
        o.status.success(),
        "{snap}: {script}: exit {:?}\n{}{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// snapd's tests/main/interfaces-content: the plug is listed with its provider, the content is
/// read through it, and it goes and comes back with Disconnect and Connect.
#[test]
fn interfaces_content() {
    if !common::require_root() {
        return;
    }
    common::runner();
    let (env, work) = setup();
    install_file(&env, &content_slot(work.path()));
    install_file(&env, &content_plug(work.path(), true));
    let plug = ("test-snapd-content-plug", "shared-content-plug");
    let slot = ("test-snapd-content-slot", "shared-content-slot");
    // Local snaps carry no publisher: nothing connects them by itself.
    let (c, content, target) = row(&env, plug.0, plug.1);
    assert!(!c.connected);
    assert_eq!(
        (content.as_str(), target.as_str()),
        ("mylib", "$SNAP/import")
    );
    let o = run(&env, false, "test-snapd-content-plug.content-plug", &[]);
    assert!(!o.status.success(), "{}", text(&o));

    // `snap connect plug-snap:plug slot-snap` picks the slot with the same content.
    connect(&env, true, plug, (slot.0, ""));
    let (c, content, target) = row(&env, plug.0, plug.1);
    assert!(c.connected && c.manual && !c.auto);
    assert_eq!((c.slot_snap.as_str(), c.slot.as_str()), slot);
    assert_eq!(
        (content.as_str(), target.as_str()),
        ("mylib", "$SNAP/import")
    );
    let profile = env
        .root
        .join("var/lib/snapshelf/profiles/test-snapd-content-plug.content-plug.json");
    let p = std::fs::read_to_string(&profile).unwrap();
    assert!(
        p.contains("\"provider\": \"test-snapd-content-slot\""),
        "{p}"
    );
    for as_user in [false, true] {
        let o = run(&env, as_user, "test-snapd-content-plug.content-plug", &[]);
        assert!(o.status.success(), "user {as_user}: {}", text(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("Some shared content"));
    }
    connect(&env, false, plug, slot);
    assert!(!row(&env, plug.0, plug.1).0.connected);
    assert!(!std::fs::read_to_string(&profile)
        .unwrap()
        .contains("test-snapd-content-slot"));
    let o = run(&env, false, "test-snapd-content-plug.content-plug", &[]);
    assert!(!o.status.success(), "{}", text(&o));
    let (kind, _) = match env.proxy().disconnect(plug.0, plug.1, slot.0, slot.1) {
        Ok(_) => panic!("a second disconnect was accepted"),
        Err(e) => (kind_of(e), ()),
    };
    assert_eq!(kind, ErrorKind::InterfacesUnchanged);

    connect(&env, true, plug, slot);
    let o = run(&env, false, "test-snapd-content-plug.content-plug", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let (kind, _) = refused(&env, plug, slot);
    assert_eq!(kind, ErrorKind::InterfacesUnchanged);
}

/// snapd's tests/main/interfaces-content-mimic: `$SNAP/content` is not in the snap; connecting
/// makes it under a writable mimic of `$SNAP` that keeps the file, the directory and the link
/// that were there; disconnecting leaves no trace.
#[test]
fn interfaces_content_mimic() {
    if !common::require_root() {
        return;
    }
    let (env, work) = setup();
    let plug_snap = snap(
        work.path(),
        "test-snapd-content-mimic-plug",
        "name: test-snapd-content-mimic-plug\nsummary: A snap designed to test the writable \
         mimic\nversion: 1.0\napps:\n    sh:\n        command: bin/sh\nplugs:\n    content:\n        \
         interface: content\n        content: mimic\n        target: $SNAP/content\n",
        &[
            SH,
            ("dir/stuff-in-dir", "", 0o644),
            ("file", "content-of-file\n", 0o644),
            ("symlink-target", "", 0o644),
        ],
    );
    // The link is made in the tree before packing (squashfs keeps it as a link).
    let tree = work.path().join("test-snapd-content-mimic-plug");
    std::os::unix::fs::symlink("symlink-target", tree.join("symlink")).unwrap();
    snapshelf_snap::squashfs::pack(&tree, &plug_snap, &Default::default()).unwrap();
    let slot_snap = snap(
        work.path(),
        "test-snapd-content-mimic-slot",
        "name: test-snapd-content-mimic-slot\nsummary: A snap designed to test the writable \
         mimic\nversion: 1.0\napps:\n    sh:\n        command: bin/sh\nslots:\n    content:\n        \
         interface: content\n        content: mimic\n        write: [$SNAP/source]\n",
        &[SH, ("source/canary", "", 0o644)],
    );
    install_file(&env, &plug_snap);
    install_file(&env, &slot_snap);
    let p = "test-snapd-content-mimic-plug";
    let check_existing_files = || {
        sh_ok(&env, p, "test -f $SNAP/file");
        sh_ok(&env, p, "test -d $SNAP/dir");
        sh_ok(&env, p, "test -h $SNAP/symlink");
        sh_ok(&env, p, "cat $SNAP/file | grep -q content-of-file");
        sh_ok(&env, p, "ls $SNAP/dir | grep -q stuff-in-dir");
        sh_ok(&env, p, "readlink $SNAP/symlink | grep -q symlink-target");
    };
    check_existing_files();
    sh_ok(&env, p, "test ! -e $SNAP/content");
    connect(
        &env,
        true,
        (p, "content"),
        ("test-snapd-content-mimic-slot", "content"),
    );
    check_existing_files();
    sh_ok(&env, p, "test -d $SNAP/content");
    sh_ok(&env, p, "test -e $SNAP/content/canary");
    connect(
        &env,
        false,
        (p, "content"),
        ("test-snapd-content-mimic-slot", "content"),
    );
    check_existing_files();
    sh_ok(&env, p, "test ! -e $SNAP/content");
}

/// snapd's tests/main/interfaces-content-mkdir-writable, its three variants: targets in
/// `$SNAP_DATA`, `$SNAP_COMMON` and `$SNAP` are made when the plug connects, the slot's sources
/// in its writable data too; what the slot writes the plug sees; a disconnect takes the
/// targets away and keeps the slot's data.
#[test]
fn interfaces_content_mkdir_writable() {
    if !common::require_root() {
        return;
    }
    let (env, work) = setup();
    install_file(
        &env,
        &snap(
            work.path(),
            "test-snapd-content-advanced-plug",
            "name: test-snapd-content-advanced-plug\nsummary: A more complex snap for testing \
             content interface\nversion: 1.0\napps:\n    sh:\n        command: bin/sh\nplugs:\n    \
             data:\n        interface: content\n        target: $SNAP_DATA/target\n    common:\n        \
             interface: content\n        target: $SNAP_COMMON/target\n    snap:\n        \
             interface: content\n        target: $SNAP/target\n",
            &[SH],
        ),
    );
    install_file(
        &env,
        &snap(
            work.path(),
            "test-snapd-content-advanced-slot",
            "name: test-snapd-content-advanced-slot\nsummary: A more complex snap for testing \
             content interface\nversion: 1.0\napps:\n    sh:\n        command: bin/sh\nslots:\n    \
             data:\n        interface: content\n        write: [$SNAP_DATA/source]\n    common:\n        \
             interface: content\n        write: [$SNAP_COMMON/source]\n    snap:\n        \
             interface: content\n        write: [$SNAP/source]\n",
            &[SH, ("source/canary", "", 0o644)],
        ),
    );
    let (ps, ss) = (
        "test-snapd-content-advanced-plug",
        "test-snapd-content-advanced-slot",
    );
    for (name, var) in [
        ("data", "SNAP_DATA"),
        ("common", "SNAP_COMMON"),
        ("snap", "SNAP"),
    ] {
        sh_ok(&env, ps, &format!("test ! -e ${var}/target"));
        if var != "SNAP" {
            sh_ok(&env, ss, &format!("test ! -e ${var}/source"));
        } else {
            sh_ok(&env, ss, &format!("test -d ${var}/source"));
        }
        connect(&env, true, (ps, name), (ss, name));
        sh_ok(&env, ps, &format!("test -d ${var}/target"));
        sh_ok(&env, ss, &format!("test -d ${var}/source"));
        if var != "SNAP" {
            sh_ok(&env, ss, &format!("touch ${var}/source/canary"));
        }
        sh_ok(&env, ps, &format!("test -f ${var}/target/canary"));
        if var != "SNAP" {
            // A write path is read-write through the plug.
            sh_ok(&env, ps, &format!("touch ${var}/target/from-plug"));
            sh_ok(&env, ss, &format!("test -f ${var}/source/from-plug"));
        }
        connect(&env, false, (ps, name), (ss, name));
        sh_ok(&env, ps, &format!("test ! -d ${var}/target"));
        sh_ok(&env, ps, &format!("test ! -e ${var}/target/canary"));
        sh_ok(&env, ss, &format!("test -d ${var}/source"));
        sh_ok(&env, ss, &format!("test -e ${var}/source/canary"));
        connect(&env, true, (ps, name), (ss, name));
        sh_ok(&env, ps, &format!("test -e ${var}/target/canary"));
    }
}

/// Bad input: each refused with a clear error naming the snap.yaml field, nothing connected, no
/// profile changed; links in the provider are never followed and nothing is mounted from them.
#[test]
fn bad_content_is_refused_and_mounts_nothing() {
    if !common::require_root() {
        return;
    }
    let (env, work) = setup();
    let plug_yaml = |name: &str, plugs: &str| {
        format!(
            "name: {name}\nversion: 1.0\napps:\n    sh:\n        command: bin/sh\nplugs:\n{plugs}"
        )
    };
    install_file(
        &env,
        &snap(
            work.path(),
            "bad-content-plug",
            &plug_yaml(
                "bad-content-plug",
                "    climbs:\n        interface: content\n        content: lib\n        target: \
                 $SNAP_DATA/../../../etc\n    unknown:\n        interface: content\n        \
                 content: lib\n        target: $HOME/x\n    other:\n        interface: content\n        \
                 content: not-lib\n        target: $SNAP/other\n    good:\n        interface: \
                 content\n        content: lib\n        target: $SNAP_DATA/good\n    linked:\n        \
                 interface: content\n        content: linked\n        target: $SNAP_DATA/linked\n    \
                 data:\n        interface: content\n        content: data\n        target: \
                 $SNAP_DATA/data\n",
            ),
            &[SH],
        ),
    );
    let slot_tree = snap(
        work.path(),
        "bad-content-slot",
        "name: bad-content-slot\nversion: 1.0\nslots:\n    lib:\n        interface: content\n        \
         read: [$SNAP/lib]\n    escape:\n        interface: content\n        content: lib2\n        \
         read: [$SNAP_DATA/../../../../etc]\n    linked:\n        interface: content\n        \
         read: [$SNAP/link]\n    data:\n        interface: content\n        write: \
         [$SNAP_DATA/shared]\n",
        &[("lib/file", "lib\n", 0o644)],
    );
    let tree = work.path().join("bad-content-slot");
    std::os::unix::fs::symlink("/etc", tree.join("link")).unwrap();
    snapshelf_snap::squashfs::pack(&tree, &slot_tree, &Default::default()).unwrap();
    install_file(&env, &slot_tree);
    let profile = env
        .root
        .join("var/lib/snapshelf/profiles/bad-content-plug.sh.json");
    let before = std::fs::read_to_string(&profile).unwrap();
    let slot = |s: &'static str| ("bad-content-slot", s);
    for (plug, s, kind, says) in [
        (
            "climbs",
            "lib",
            ErrorKind::InvalidArgument,
            "plugs.climbs.target: content interface path is not clean",
        ),
        (
            "unknown",
            "lib",
            ErrorKind::InvalidArgument,
            "unknown variable \"$HOME\"",
        ),
        (
            "other",
            "lib",
            ErrorKind::InvalidArgument,
            "the content tags differ",
        ),
        (
            "good",
            "escape",
            ErrorKind::InvalidArgument,
            "slots.escape.read[0]: content interface path is not clean",
        ),
        (
            "good",
            "nothing",
            ErrorKind::NotFound,
            "has no content slot \"nothing\"",
        ),
        (
            "sh",
            "lib",
            ErrorKind::NotFound,
            "has no content plug \"sh\"",
        ),
    ] {
        let (k, m) = refused(&env, ("bad-content-plug", plug), slot(s));
        assert_eq!(k, kind, "{plug} to {s}: {m}");
        assert!(m.contains(says), "{plug} to {s}: {m}");
        assert!(m.contains("bad-content"), "the message names the snap: {m}");
        assert!(plug == "sh" || !row(&env, "bad-content-plug", plug).0.connected);
    }
    let (k, m) = refused(&env, ("bad-content-plug", "good"), ("", ""));
    assert_eq!(k, ErrorKind::InvalidArgument, "{m}");
    assert!(m.contains("name the snap that provides"), "{m}");
    assert_eq!(std::fs::read_to_string(&profile).unwrap(), before);

    // A link in the provider's snap: connected, but the launch refuses it and mounts nothing.
    connect(&env, true, ("bad-content-plug", "linked"), slot("linked"));
    let o = sh(&env, "bad-content-plug", "ls $SNAP_DATA/linked");
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("is a symbolic link, which content never follows"),
        "{}",
        text(&o)
    );
    connect(&env, false, ("bad-content-plug", "linked"), slot("linked"));
    // A link put in the provider's writable data later: never followed either.
    let shared = env.root.join("var/snap/bad-content-slot/x1/shared");
    std::fs::create_dir_all(shared.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink("/etc", &shared).unwrap();
    connect(&env, true, ("bad-content-plug", "data"), slot("data"));
    assert!(std::fs::symlink_metadata(&shared)
        .unwrap()
        .file_type()
        .is_symlink());
    let o = sh(&env, "bad-content-plug", "ls $SNAP_DATA/data");
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("symbolic link"), "{}", text(&o));
    // The host's /etc was not touched through it.
    assert!(!Path::new("/etc/canary-from-content").exists());
}
