//! Classic and devmode on refresh, with revisions whose own files are classic or devmode, served
//! by snapshelf-store as published (issue 13): a refresh to a revision that turned classic needs
//! the `classic` option, as install does (NeedsClassic without it, nothing changed); with it the
//! refresh goes on and the snap is classic; a devmode revision is refused whatever the options.
//! snapd: `overlord/snapstate/check_snap.go` (`validateFlagsForInfo`, `ErrSnapNeedsClassic`),
//! checked on every update (`overlord/snapstate/snapstate.go`, `checkInstallPreconditions`).
//! verified_metadata.rs plays the same with a proxy that lies in the JSON; here nothing lies.

mod common;

use std::path::Path;

use common::{installed, kind_of, Env};
use snapshelf_dbus::types::Dict;
use snapshelf_dbus::ErrorKind;

const NAME: &str = "turncoat";

/// `turncoat` revision `rev`: shelf-clock's files under another name, with this confinement.
fn pack(catalog: &Path, work: &Path, rev: u32, confinement: &str) {
    let stage = work.join(format!("{NAME}-{rev}"));
    snapshelf_snap::squashfs::SnapFile::open(&catalog.join("snaps/shelf-clock_1.snap"))
        .unwrap()
        .extract_to(&stage)
        .unwrap();
    let yaml = stage.join("meta/snap.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    assert!(text.contains("confinement: strict\n"), "{text}");
    let text = text
        .replacen("name: shelf-clock", &format!("name: {NAME}"), 1)
        .replacen("version: '1.0'", &format!("version: '{rev}.0'"), 1)
        .replacen(
            "confinement: strict",
            &format!("confinement: {confinement}"),
            1,
        );
    // devmode snaps are published with grade devel, as snapcraft requires.
    let text = if confinement == "devmode" {
        text.replacen("grade: stable", "grade: devel", 1)
    } else {
        text
    };
    std::fs::write(&yaml, text).unwrap();
    let out = catalog.join(format!("snaps/{NAME}_{rev}.snap"));
    snapshelf_snap::squashfs::pack(&stage, &out, &Default::default()).unwrap();
}

/// The sample catalog plus `turncoat`: strict on stable, classic on candidate, devmode on edge.
fn catalog(work: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(common::catalog(), tmp.path());
    pack(tmp.path(), work, 1, "strict");
    pack(tmp.path(), work, 2, "classic");
    pack(tmp.path(), work, 3, "devmode");
    let toml = tmp.path().join("catalog.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str(&format!(
        "\n[[snap]]\nname = \"{NAME}\"\npublisher = \"snapshelf\"\n\
         channels = {{ \"latest/stable\" = 1, \"latest/candidate\" = 2, \"latest/edge\" = 3 }}\n"
    ));
    std::fs::write(&toml, text).unwrap();
    tmp
}

/// (revision, confinement, tracked channel) of the installed turncoat.
fn state(env: &Env) -> (String, String, String) {
    let s = installed(env)
        .into_iter()
        .find(|s| s.name == NAME)
        .expect("turncoat is installed");
    (s.revision, s.confinement, s.channel)
}

fn st(rev: &str, confinement: &str, channel: &str) -> (String, String, String) {
    (rev.into(), confinement.into(), channel.into())
}

#[test]
fn a_revision_that_turned_classic_needs_consent_and_devmode_is_refused() {
    if !common::require_root() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let catalog = catalog(work.path());
    let mut env = Env::with_catalog(catalog.path());
    env.start_helper();
    let helper = env.proxy();
    env.done(helper.install(&[NAME], Dict::new()));
    assert_eq!(state(&env), st("1", "strict", "latest/stable"));

    // Candidate's revision is classic: without consent, refused and nothing changed.
    let e = helper
        .refresh(&[NAME], common::refresh_options("candidate", false))
        .unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::NeedsClassic);
    assert_eq!(state(&env), st("1", "strict", "latest/stable"));
    assert_eq!(env.link("snap/turncoat/current").as_deref(), Some("1"));

    // Edge's revision is devmode: refused, even with the classic option.
    let e = helper
        .refresh(&[NAME], common::refresh_options("edge", true))
        .unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::InvalidSnap);
    assert_eq!(state(&env), st("1", "strict", "latest/stable"));

    // With consent the refresh to the classic revision goes on.
    env.done(helper.refresh(&[NAME], common::refresh_options("candidate", true)));
    assert_eq!(state(&env), st("2", "classic", "latest/candidate"));
    assert_eq!(env.link("snap/turncoat/current").as_deref(), Some("2"));
}
