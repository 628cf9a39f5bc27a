//! `system-usernames` in snap.yaml, end to end: the real helper, bus, polkitd and snapshelf-store,
//! with test snaps packed here from the files the tests write.
//!
//! snapd (`overlord/snapstate/check_snap.go`, spread tests `tests/main/system-usernames*`) creates
//! the users it supports and refuses other names and scopes. Snapshelf creates no system users
//! yet, so it refuses every such snap before anything changes, rather than install one that fails
//! when it runs; names and scopes snapd refuses are an invalid snap, in snapd's words.

mod common;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use common::{blobs, installed, Env};
use snapshelf_dbus::types::Dict;
use snapshelf_dbus::ErrorKind;
use zbus::zvariant::{OwnedValue, Value};

const APP: &str = "base: shelf-base\napps:\n  users:\n    command: bin/users\n";

fn snap_yaml(revision: &str, extra: &str) -> String {
    format!("name: shelf-users\nversion: '{revision}'\nsummary: System users\n{APP}{extra}")
}

/// A snap tree with `yaml` as its snap.yaml and a `bin/users` script, packed to `out`.
fn pack_snap(work: &Path, yaml: &str, out: &Path) -> PathBuf {
    let src = work.join(format!(
        "src-{}",
        out.file_stem().unwrap().to_string_lossy()
    ));
    std::fs::create_dir_all(src.join("meta")).unwrap();
    std::fs::create_dir_all(src.join("bin")).unwrap();
    std::fs::write(src.join("meta/snap.yaml"), yaml).unwrap();
    std::fs::write(src.join("bin/users"), "#!/bin/sh\necho ok\n").unwrap();
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    snapshelf_snap::squashfs::pack(&src, out, &Default::default()).unwrap();
    out.to_path_buf()
}

fn opts(pairs: &[(&str, Value<'_>)]) -> Dict {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), OwnedValue::try_from(v.clone()).unwrap()))
        .collect()
}

fn install_file(env: &Env, path: &Path) -> zbus::Result<zbus::zvariant::OwnedObjectPath> {
    let f = std::fs::File::open(path).unwrap();
    env.proxy().install_file(
        zbus::zvariant::OwnedFd::from(OwnedFd::from(f)),
        opts(&[("unsigned", Value::from(true))]),
    )
}

/// The store's sample catalog with `shelf-users` revision 1 (no system users) on stable and
/// revision 2 (`snap_daemon: shared`) on edge.
fn catalog_with_users(catalog: &Path, work: &Path) -> PathBuf {
    common::copy_dir(common::catalog(), catalog);
    let snaps = catalog.join("snaps");
    pack_snap(work, &snap_yaml("1", ""), &snaps.join("shelf-users_1.snap"));
    let two = pack_snap(
        work,
        &snap_yaml("2", "system-usernames:\n  snap_daemon: shared\n"),
        &snaps.join("shelf-users_2.snap"),
    );
    let mut toml = std::fs::read_to_string(catalog.join("catalog.toml")).unwrap();
    toml.push_str(
        "\n[[snap]]\nname = \"shelf-users\"\npublisher = \"netcraft\"\ncategories = \
         [\"development\"]\nlicense = \"MIT\"\nchannels = { \"latest/stable\" = 1, \
         \"latest/edge\" = 2 }\n",
    );
    std::fs::write(catalog.join("catalog.toml"), toml).unwrap();
    two
}

fn assert_refused_for_users(e: zbus::Error) {
    let (kind, message) = snapshelf_dbus::error::classify(&e);
    assert_eq!(kind, ErrorKind::AssumesNotMet, "{message}");
    for words in [
        "snap \"shelf-users\"",
        "system username \"snap_daemon\"",
        "field \"system-usernames\"",
        "does not create system users yet",
    ] {
        assert!(message.contains(words), "{words}: {message}");
    }
}

/// A snap asking for `snap_daemon` is refused at install before anything is downloaded, as a
/// file, and at refresh (the installed revision stays); the revision without it installs.
#[test]
fn a_snap_asking_for_system_users_is_refused_and_nothing_changes() {
    if !common::require_root() {
        return;
    }
    let catalog = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let two = catalog_with_users(catalog.path(), work.path());
    let mut env = Env::with_catalog(catalog.path());
    env.start_helper();
    let h = env.proxy();

    let e = h
        .install(&["shelf-users"], opts(&[("channel", Value::from("edge"))]))
        .unwrap_err();
    assert_refused_for_users(e);
    assert!(installed(&env).is_empty());
    assert!(blobs(&env).is_empty(), "downloaded: {:?}", blobs(&env));
    assert!(!env.root.join("snap/shelf-users").exists());

    assert_refused_for_users(install_file(&env, &two).unwrap_err());
    assert!(installed(&env).is_empty());
    assert!(blobs(&env).is_empty(), "left: {:?}", blobs(&env));

    // Without system-usernames the snap installs as ever; the refresh to revision 2 is refused.
    env.done(h.install(&["shelf-users"], Dict::new()));
    let before = installed(&env);
    assert!(before.iter().any(|s| s.name == "shelf-users"), "{before:?}");
    let e = h
        .refresh(&["shelf-users"], opts(&[("channel", Value::from("edge"))]))
        .unwrap_err();
    assert_refused_for_users(e);
    assert_eq!(env.link("snap/shelf-users/current").as_deref(), Some("1"));
    assert!(!blobs(&env).iter().any(|b| b == "shelf-users_2.snap"));
    assert_eq!(installed(&env), before);
}

/// Forms snapd refuses are an invalid snap whose message names the field; nothing is installed.
#[test]
fn malformed_system_usernames_are_refused_naming_the_field() {
    if !common::require_root() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let mut env = Env::new();
    env.start_helper();
    for (i, (extra, words)) in [
        (
            "system-usernames:\n  daemon: shared\n",
            "requires unsupported system username \"daemon\"",
        ),
        (
            "system-usernames:\n  snap_daemon: private\n",
            "requires unsupported user scope \"private\" for this version of snapd",
        ),
        (
            "system-usernames:\n  snap_daemon:\n    scope: everyone\n",
            "requires unsupported user scope \"everyone\"",
        ),
        (
            "system-usernames:\n  snap_daemon: [shared]\n",
            "system-usernames.snap_daemon: system username \"snap_daemon\" has malformed definition",
        ),
        (
            "system-usernames:\n  snap_daemon:\n    attributes: {}\n",
            "does not specify scope",
        ),
    ]
    .iter()
    .enumerate()
    {
        let file = pack_snap(
            work.path(),
            &snap_yaml("1", extra),
            &work.path().join(format!("bad{i}/shelf-users_1.snap")),
        );
        let (kind, message) =
            snapshelf_dbus::error::classify(&install_file(&env, &file).unwrap_err());
        assert_eq!(kind, ErrorKind::InvalidSnap, "{extra}: {message}");
        assert!(message.contains(words), "{extra}: {message}");
        assert!(message.contains("system-usernames"), "{extra}: {message}");
        assert!(installed(&env).is_empty(), "{extra}");
        assert!(blobs(&env).is_empty(), "{extra}: left {:?}", blobs(&env));
    }
}
