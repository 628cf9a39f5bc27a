//! Aliases, `assumes` and what goes with them, end to end: the real helper, bus, polkitd and
//! snapshelf-store, with test snaps packed here from the files the tests write.
//!
//! Follows snapd's spread tests `tests/main/alias`, `tests/main/auto-aliases` and
//! `tests/main/snap-run-alias` (with its test snaps `tests/lib/snaps/aliases` and
//! `test-snapd-auto-aliases`), and `overlord/snapstate/check_snap.go` for `assumes`.

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{installed, kind_of, Env};
use snapshelf_dbus::types::Dict;
use snapshelf_dbus::ErrorKind;
use zbus::zvariant::{OwnedValue, Value};

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn opts(pairs: &[(&str, Value<'_>)]) -> Dict {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), OwnedValue::try_from(v.clone()).unwrap()))
        .collect()
}

/// A snap tree with `yaml` as its snap.yaml and `bin/<cmd>` scripts that say `ok <cmd>`, packed to
/// `out`.
fn pack_snap(work: &Path, yaml: &str, cmds: &[&str], out: &Path) -> PathBuf {
    let src = work.join(format!(
        "src-{}",
        out.file_stem().unwrap().to_string_lossy()
    ));
    write(&src.join("meta/snap.yaml"), yaml, 0o644);
    for c in cmds {
        write(
            &src.join("bin").join(c),
            &format!("#!/bin/sh\necho \"ok {c} $*\"\n"),
            0o755,
        );
    }
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    snapshelf_snap::squashfs::pack(&src, out, &Default::default()).unwrap();
    out.to_path_buf()
}

/// The sample catalog with more snaps: `(name, channels TOML, extra catalog keys)`; their files
/// must already be in `dir/snaps/`.
fn add_to_catalog(dir: &Path, snaps: &[(&str, &str, &str)]) {
    let mut toml = std::fs::read_to_string(dir.join("catalog.toml")).unwrap();
    for (name, channels, extra) in snaps {
        toml.push_str(&format!(
            "\n[[snap]]\nname = \"{name}\"\npublisher = \"netcraft\"\ncategories = \
             [\"development\"]\nlicense = \"MIT\"\nchannels = {channels}\n{extra}\n"
        ));
    }
    std::fs::write(dir.join("catalog.toml"), toml).unwrap();
}

fn blobs(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(env.root.join("var/lib/snapshelf/snaps"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn install_file(env: &Env, path: &Path) -> zbus::Result<zbus::zvariant::OwnedObjectPath> {
    let f = std::fs::File::open(path).unwrap();
    env.proxy().install_file(
        zbus::zvariant::OwnedFd::from(OwnedFd::from(f)),
        opts(&[("unsigned", Value::from(true))]),
    )
}

const NEEDY_1: &str = "name: shelf-needy\nversion: '1'\nsummary: Assumes what Snapshelf has\n\
    base: shelf-base\nassumes: [command-chain, common-data-dir, snapd2.30]\n\
    apps:\n  needy:\n    command: bin/needy\n";
const NEEDY_2: &str = "name: shelf-needy\nversion: '2'\nsummary: Assumes more\n\
    base: shelf-base\nassumes: [command-chain, snapd99.1, kernel-assets]\n\
    apps:\n  needy:\n    command: bin/needy\n";

/// `assumes` (snapd's `checkAssumes`): a revision that needs features Snapshelf lacks is refused
/// with `AssumesNotMet` naming them: at install before anything is downloaded, at refresh (the
/// installed revision stays), and for a file; one whose features are all there installs.
#[test]
fn unmet_assumes_are_refused_with_the_features_named() {
    if !common::require_root() {
        return;
    }
    let catalog = tempfile::tempdir().unwrap();
    common::copy_dir(common::catalog(), catalog.path());
    let work = tempfile::tempdir().unwrap();
    let snaps = catalog.path().join("snaps");
    pack_snap(
        work.path(),
        NEEDY_1,
        &["needy"],
        &snaps.join("shelf-needy_1.snap"),
    );
    let needy2 = pack_snap(
        work.path(),
        NEEDY_2,
        &["needy"],
        &snaps.join("shelf-needy_2.snap"),
    );
    add_to_catalog(
        catalog.path(),
        &[(
            "shelf-needy",
            "{ \"latest/stable\" = 1, \"latest/edge\" = 2 }",
            "",
        )],
    );
    let mut env = Env::with_catalog(catalog.path());
    env.start_helper();
    let h = env.proxy();

    let e = h
        .install(&["shelf-needy"], opts(&[("channel", Value::from("edge"))]))
        .unwrap_err();
    let (kind, message) = snapshelf_dbus::error::classify(&e);
    assert_eq!(kind, ErrorKind::AssumesNotMet, "{message}");
    assert!(message.contains("snapd99.1, kernel-assets"), "{message}");
    assert!(message.contains("assumes"), "{message}");
    let unmet = message.split(" (meta/snap.yaml").next().unwrap();
    assert!(!unmet.contains("command-chain"), "{message}");
    assert!(message.contains("field \"assumes\""), "{message}");
    assert!(installed(&env).is_empty());
    assert!(blobs(&env).is_empty(), "downloaded: {:?}", blobs(&env));

    // A file is held to the same.
    let e = install_file(&env, &needy2).unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::AssumesNotMet);
    assert!(installed(&env).is_empty());
    assert!(blobs(&env).is_empty(), "left: {:?}", blobs(&env));

    // What Snapshelf has installs; a refresh to what it lacks is refused and changes nothing.
    env.done(h.install(&["shelf-needy"], Dict::new()));
    let e = h
        .refresh(&["shelf-needy"], opts(&[("channel", Value::from("edge"))]))
        .unwrap_err();
    let (kind, message) = snapshelf_dbus::error::classify(&e);
    assert_eq!(kind, ErrorKind::AssumesNotMet, "{message}");
    assert_eq!(env.link("snap/shelf-needy/current").as_deref(), Some("1"));
    assert!(!blobs(&env).iter().any(|b| b == "shelf-needy_2.snap"));
}
