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

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::sandbox::{connect, install_file, launch_as, write, Mode};
use common::{ctl, kind_of, Env, RUNNER};
use snapshelf_dbus::types::{Connection, Dict};
use snapshelf_dbus::ErrorKind;
use zbus::zvariant::OwnedValue;

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

fn setup() -> (Env, tempfile::TempDir) {
    let mut env = Env::new();
    env.start_helper();
    let c = env.proxy().install(&["shelf-base"], Dict::new()).unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    (env, work)
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
    let mode = if as_user { Mode::UserNs } else { Mode::Root };
    launch_as(env, mode, RUNNER, target, args)
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

    // A new revision of the provider: the plug snap's profile follows it at once.
    let newer = snap(
        &work.path().join("v2"),
        "test-snapd-content-slot",
        "name: test-snapd-content-slot\nversion: 2.0\nslots:\n    shared-content-slot:\n        \
         interface: content\n        content: mylib\n        read:\n            - /\n",
        &[("shared-content", "Newer shared content\n", 0o644)],
    );
    install_file(&env, &newer);
    let p = std::fs::read_to_string(&profile).unwrap();
    assert!(p.contains("\"provider-revision\": \"x2\""), "{p}");
    let o = run(&env, false, "test-snapd-content-plug.content-plug", &[]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("Newer shared content"),
        "{}",
        text(&o)
    );
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

/// A copy of the sample catalog with snapd's content test snaps added: `(file stem, tree from
/// snap(), catalog entry)`.
fn catalog_with(dir: &Path, snaps: &[(&str, PathBuf, &str)]) {
    common::copy_dir(common::catalog(), dir);
    let mut toml = std::fs::read_to_string(dir.join("catalog.toml")).unwrap();
    for (stem, file, entry) in snaps {
        std::fs::copy(file, dir.join(format!("snaps/{stem}.snap"))).unwrap();
        toml.push_str(entry);
    }
    std::fs::write(dir.join("catalog.toml"), toml).unwrap();
}

fn entry(name: &str, publisher: &str, channels: &str) -> String {
    format!(
        "\n[[snap]]\nname = \"{name}\"\npublisher = \"{publisher}\"\ncategories = \
         [\"development\"]\nlicense = \"MIT\"\nchannels = {{ {channels} }}\n"
    )
}

fn installed_names(env: &Env) -> Vec<String> {
    common::installed(env).into_iter().map(|s| s.name).collect()
}

fn remove(env: &Env, name: &str, disconnect_users: bool) -> Result<(), (ErrorKind, String)> {
    let o = snapshelf_dbus::types::RemoveOptions {
        purge: None,
        disconnect_users: disconnect_users.then_some(true),
    };
    match env.proxy().remove(&[name], o.to_dict()) {
        Ok(c) => {
            let (status, _, err) = env.wait_change(c.as_str());
            assert_eq!(status, "Done", "{err}");
            Ok(())
        }
        Err(e) => {
            let text = e.to_string();
            Err((kind_of(e), text))
        }
    }
}

/// snapd's tests/main/interfaces-content (from the store) and
/// interfaces-content-default-provider: installing the plug snap pulls in its default provider
/// in the same change, from stable, and auto-connects it (same publisher); a refresh to a
/// revision that names a default provider pulls it in too; another publisher's provider is
/// installed but not connected. Removing a provider in use is refused with `ProviderInUse`
/// naming its users, and with `disconnect-users` they are disconnected first.
#[test]
fn default_providers_come_with_install_and_refresh() {
    if !common::require_root() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let with = content_plug(&w.join("a"), true);
    let slot = content_slot(w);
    // The same plug snap under another name and publisher, naming the same provider.
    let other = snap(
        w,
        "other-content-plug",
        "name: other-content-plug\nversion: 1.0\napps:\n    content-plug:\n        command: \
         bin/content-plug\nplugs:\n    shared-content-plug:\n        interface: content\n        \
         target: import\n        content: mylib\n        default-provider: \
         test-snapd-content-slot\n",
        &[(
            "bin/content-plug",
            "#!/bin/sh\ncat \"$SNAP/import/shared-content\"\n",
            0o755,
        )],
    );
    let refreshing = snap(
        &w.join("c"),
        "refresh-content-plug",
        "name: refresh-content-plug\nversion: 2.0\napps:\n    content-plug:\n        command: \
         bin/content-plug\nplugs:\n    shared-content-plug:\n        interface: content\n        \
         target: import\n        content: mylib\n        default-provider: \
         test-snapd-content-slot\n",
        &[(
            "bin/content-plug",
            "#!/bin/sh\ncat \"$SNAP/import/shared-content\"\n",
            0o755,
        )],
    );
    let refreshing_v1 = snap(
        w,
        "refresh-content-plug",
        "name: refresh-content-plug\nversion: 1.0\napps:\n    content-plug:\n        command: \
         bin/content-plug\nplugs:\n    shared-content-plug:\n        interface: content\n        \
         target: import\n        content: mylib\n",
        &[("bin/content-plug", "#!/bin/sh\nexit 0\n", 0o755)],
    );
    let catalog = tempfile::tempdir().unwrap();
    catalog_with(
        catalog.path(),
        &[
            (
                "test-snapd-content-plug_1",
                with,
                &entry(
                    "test-snapd-content-plug",
                    "snapshelf",
                    "\"latest/edge\" = 1",
                ),
            ),
            (
                "test-snapd-content-slot_1",
                slot,
                &entry(
                    "test-snapd-content-slot",
                    "snapshelf",
                    "\"latest/stable\" = 1",
                ),
            ),
            (
                "other-content-plug_1",
                other,
                &entry("other-content-plug", "netcraft", "\"latest/stable\" = 1"),
            ),
            (
                "refresh-content-plug_1",
                refreshing_v1,
                &entry(
                    "refresh-content-plug",
                    "snapshelf",
                    "\"latest/stable\" = 1, \"latest/edge\" = 2",
                ),
            ),
            ("refresh-content-plug_2", refreshing, ""),
        ],
    );
    let mut env = Env::with_catalog(catalog.path());
    env.start_helper();

    // interfaces-content: "When a snap declaring a content sharing plug is installed … then
    // this pulls in the default provider … then the snap is listed as connected".
    let opts: Dict = [(
        "channel".to_string(),
        OwnedValue::from(zbus::zvariant::Str::from("edge")),
    )]
    .into_iter()
    .collect();
    let c = env
        .proxy()
        .install(&["test-snapd-content-plug"], opts)
        .unwrap();
    let (status, _, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{err}");
    let names = installed_names(&env);
    for n in [
        "shelf-base",
        "test-snapd-content-slot",
        "test-snapd-content-plug",
    ] {
        assert!(names.contains(&n.to_string()), "{n} in {names:?}");
    }
    let (row_, content, target) = row(&env, "test-snapd-content-plug", "shared-content-plug");
    assert!(row_.connected && row_.auto && !row_.manual, "{row_:?}");
    assert_eq!(
        (row_.slot_snap.as_str(), row_.slot.as_str()),
        ("test-snapd-content-slot", "shared-content-slot")
    );
    assert_eq!(
        (content.as_str(), target.as_str()),
        ("mylib", "$SNAP/import")
    );
    let o = run(&env, false, "test-snapd-content-plug.content-plug", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Some shared content"));

    // Another publisher: the provider is there, but nothing connects by itself.
    let c = env
        .proxy()
        .install(&["other-content-plug"], Dict::new())
        .unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    assert!(
        !row(&env, "other-content-plug", "shared-content-plug")
            .0
            .connected
    );
    connect(
        &env,
        true,
        ("other-content-plug", "shared-content-plug"),
        ("test-snapd-content-slot", "shared-content-slot"),
    );

    // Removing the provider in use is refused, naming its users; nothing changes.
    let (kind, m) = remove(&env, "test-snapd-content-slot", false).unwrap_err();
    assert_eq!(kind, ErrorKind::ProviderInUse, "{m}");
    assert!(
        m.contains("test-snapd-content-plug:shared-content-plug")
            && m.contains("other-content-plug:shared-content-plug"),
        "{m}"
    );
    assert!(installed_names(&env).contains(&"test-snapd-content-slot".to_string()));
    // With disconnect-users: the users are disconnected, then the provider goes.
    remove(&env, "test-snapd-content-slot", true).unwrap();
    assert!(!installed_names(&env).contains(&"test-snapd-content-slot".to_string()));
    for user in ["test-snapd-content-plug", "other-content-plug"] {
        assert!(
            !row(&env, user, "shared-content-plug").0.connected,
            "{user}"
        );
    }
    let o = run(&env, false, "test-snapd-content-plug.content-plug", &[]);
    assert!(!o.status.success(), "{}", text(&o));

    // interfaces-content-default-provider: a revision with no default provider installs alone;
    // the refresh to one that names it brings the provider in.
    let c = env
        .proxy()
        .install(&["refresh-content-plug"], Dict::new())
        .unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    assert!(!installed_names(&env).contains(&"test-snapd-content-slot".to_string()));
    let opts: Dict = [(
        "channel".to_string(),
        OwnedValue::from(zbus::zvariant::Str::from("edge")),
    )]
    .into_iter()
    .collect();
    let c = env
        .proxy()
        .refresh(&["refresh-content-plug"], opts)
        .unwrap();
    let (status, _, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{err}");
    assert!(installed_names(&env).contains(&"test-snapd-content-slot".to_string()));
    assert!(
        row(&env, "refresh-content-plug", "shared-content-plug")
            .0
            .connected
    );
    let o = run(&env, false, "refresh-content-plug.content-plug", &[]);
    assert!(o.status.success(), "{}", text(&o));

    // A local file (`snap install --dangerous`) brings its default provider from the store too;
    // unsigned, it is not auto-connected.
    remove(&env, "test-snapd-content-slot", true).unwrap();
    let file = snap(
        w,
        "file-content-plug",
        "name: file-content-plug\nversion: 1.0\napps:\n    content-plug:\n        command: \
         bin/content-plug\nplugs:\n    shared-content-plug:\n        interface: content\n        \
         target: import\n        content: mylib\n        default-provider: \
         test-snapd-content-slot\n",
        &[("bin/content-plug", "#!/bin/sh\nexit 0\n", 0o755)],
    );
    install_file(&env, &file);
    assert!(installed_names(&env).contains(&"test-snapd-content-slot".to_string()));
    assert!(
        !row(&env, "file-content-plug", "shared-content-plug")
            .0
            .connected
    );
}

/// The same through `snapshelfctl`, as `snap connect` / `snap remove` are used: `connect
/// SNAP:PLUG SNAP:` picks the provider's slot, `connections` shows it, a provider in use is
/// refused (exit 7) naming the user, and `--disconnect-users` removes it.
#[test]
fn the_cli_connects_content_and_removes_a_provider_in_use() {
    if !common::require_root() {
        return;
    }
    let (env, work) = setup();
    install_file(&env, &content_slot(work.path()));
    install_file(&env, &content_plug(work.path(), true));
    let o = ctl(
        &env,
        &[
            "connect",
            "test-snapd-content-plug:shared-content-plug",
            "test-snapd-content-slot:",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = ctl(&env, &["--json", "connections", "test-snapd-content-plug"]);
    assert!(o.status.success(), "{}", text(&o));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["plug"] == "shared-content-plug")
        .unwrap_or_else(|| panic!("{rows}"));
    assert_eq!(row["slot-snap"], "test-snapd-content-slot", "{row}");
    assert_eq!(row["content"], "mylib", "{row}");
    assert_eq!(row["connected"], true, "{row}");

    let o = ctl(&env, &["remove", "test-snapd-content-slot"]);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert!(
        text(&o).contains("test-snapd-content-plug:shared-content-plug"),
        "{}",
        text(&o)
    );
    let o = ctl(
        &env,
        &["remove", "test-snapd-content-slot", "--disconnect-users"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(!row_connected(&env));
}

fn row_connected(env: &Env) -> bool {
    row(env, "test-snapd-content-plug", "shared-content-plug")
        .0
        .connected
}
