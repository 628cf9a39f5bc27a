//! A store that lies in its unsigned JSON (issue 17, finding 7; issue 13): the installed snap's
//! metadata must be the verified file's own `meta/snap.yaml`, and a revision's confinement must
//! get the consent install asks for, on Refresh and Switch too. The real store runs behind a proxy
//! that rewrites the `snap-yaml` of refresh answers and the confinement in info answers; the files
//! and their signatures are the real store's, untouched.
//!
//! What snapd does, to check these against: the installed snap's info is read from the mounted
//! file (`overlord/snapstate/handlers.go`, `doMountSnap` → `snap.ReadInfoFromSnapFile`), and
//! classic or devmode revisions need the same flags on refresh as on install
//! (`overlord/snapstate/check_snap.go`, `ErrSnapNeedsClassic`).

mod common;

use std::sync::{Arc, Mutex};

use common::{installed, kind_of, Env};
use snapshelf_dbus::types::Dict;
use snapshelf_dbus::ErrorKind;

/// What the proxy says instead of the truth: text replacements in every `snap-yaml`, and a
/// confinement put in every channel-map entry of `info` answers.
#[derive(Default, Clone)]
struct Lies {
    yaml: Vec<(String, String)>,
    channel_confinement: Option<String>,
}

type Shared = Arc<Mutex<Lies>>;

fn lying_proxy(upstream: String, lies: Shared) -> String {
    common::proxy::start(upstream, lies)
}

impl common::proxy::Rewrite for Mutex<Lies> {
    fn answer(&self, path: &str, answer: &mut serde_json::Value) {
        let lies = self.lock().unwrap().clone();
        lie_about(answer, path, &lies);
    }
}

fn lie_about(v: &mut serde_json::Value, path: &str, lies: &Lies) {
    let yamls: Vec<&mut serde_json::Value> = if path.starts_with("/v2/snaps/refresh") {
        v["results"]
            .as_array_mut()
            .into_iter()
            .flatten()
            .filter_map(|r| r.pointer_mut("/snap/snap-yaml"))
            .collect()
    } else {
        Vec::new()
    };
    for y in yamls {
        let mut text = y.as_str().unwrap_or_default().to_string();
        for (from, to) in &lies.yaml {
            text = text.replace(from, to);
        }
        *y = text.into();
    }
    if let (true, Some(c)) = (
        path.starts_with("/v2/snaps/info/"),
        &lies.channel_confinement,
    ) {
        for e in v["channel-map"].as_array_mut().into_iter().flatten() {
            e["confinement"] = c.clone().into();
        }
    }
}

/// Relay one request (answered with `Connection: close`), rewriting JSON answers as `lies` say.
fn lies(yaml: &[(&str, &str)], channel_confinement: Option<&str>) -> Lies {
    Lies {
        yaml: yaml
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        channel_confinement: channel_confinement.map(str::to_string),
    }
}

fn env_behind_a_liar() -> (Env, Shared) {
    let mut env = Env::new();
    let shared = Shared::default();
    env.store_url = lying_proxy(env.store_url.clone(), shared.clone());
    env.start_helper();
    (env, shared)
}

fn classic_option() -> Dict {
    let o = snapshelf_dbus::types::InstallOptions {
        classic: true,
        ..Default::default()
    };
    o.to_dict()
}

fn clock(env: &Env) -> snapshelf_dbus::types::InstalledSnap {
    installed(env)
        .into_iter()
        .find(|s| s.name == "shelf-clock")
        .expect("shelf-clock is installed")
}

/// The store adds an app with plugs, rewrites the summary and claims classic confinement: what is
/// installed is the verified file's (one app, its summary, strict), not the store's word.
#[test]
fn a_lying_snap_yaml_is_not_what_gets_installed() {
    if !common::require_root() {
        return;
    }
    let (env, liar) = env_behind_a_liar();
    *liar.lock().unwrap() = lies(
        &[
            ("summary: \"Tells the time, in words\"", "summary: LIES"),
            (
                "confinement: strict",
                "confinement: classic\nplugs:\n  home: null\n",
            ),
            (
                "apps:\n",
                "apps:\n  evil:\n    command: bin/clock\n    plugs: [home, network]\n",
            ),
        ],
        None,
    );
    let helper = env.proxy();
    // The store says classic: install asks for the consent it says it needs...
    assert_eq!(
        kind_of(helper.install(&["shelf-clock"], Dict::new()).unwrap_err()),
        ErrorKind::NeedsClassic
    );
    // ...but what is installed is the file's: strict, one app, its own summary.
    let change = helper.install(&["shelf-clock"], classic_option()).unwrap();
    let (status, kind, err) = env.wait_change(change.as_str());
    assert_eq!(status, "Done", "{kind}: {err}");
    let c = clock(&env);
    assert_eq!(c.confinement, "strict");
    assert_eq!(c.summary, "Tells the time, in words");
    let profiles = env.root.join("var/lib/snapshelf/profiles");
    assert!(profiles.join("shelf-clock.shelf-clock.json").is_file());
    assert!(
        !profiles.join("shelf-clock.evil.json").exists(),
        "an app only the store's JSON declares got a profile"
    );
    assert_eq!(c.apps, ["shelf-clock"]);
    let plugs = format!("{:?}", helper.connections("shelf-clock").unwrap());
    assert!(
        !plugs.contains("network"),
        "plugs from the store's JSON: {plugs}"
    );
}

/// The store hides the file's base (`base: none`: without any `base:` the plan would want `core`):
/// the plan needs no base, the verified file does. The change fails as an invalid snap once the
/// file is read, and is undone: nothing installed or mounted.
#[test]
fn a_file_that_disagrees_with_the_store_is_refused_and_undone() {
    if !common::require_root() {
        return;
    }
    let (env, liar) = env_behind_a_liar();
    *liar.lock().unwrap() = lies(&[("base: shelf-base\n", "base: none\n")], None);
    let helper = env.proxy();
    let change = helper.install(&["shelf-clock"], Dict::new()).unwrap();
    let (status, kind, err) = env.wait_change(change.as_str());
    assert_eq!((status.as_str(), kind.as_str()), ("Error", "invalid-snap"));
    assert!(
        err.contains("verified file") && err.contains("base shelf-base"),
        "{err}"
    );
    assert!(installed(&env).is_empty());
    assert!(
        env.mounts_under_root().is_empty(),
        "{:?}",
        env.mounts_under_root()
    );
    assert!(!env.root.join("var/snap/shelf-clock").exists());
}

/// A refresh to a revision that turned classic needs the `classic` option, as install does; a
/// devmode one is refused; Switch to a channel whose revision is classic is refused.
#[test]
fn refresh_and_switch_ask_for_consent_to_classic() {
    if !common::require_root() {
        return;
    }
    let (env, liar) = env_behind_a_liar();
    let helper = env.proxy();
    let change = helper.install(&["shelf-clock"], Dict::new()).unwrap();
    let (status, kind, err) = env.wait_change(change.as_str());
    assert_eq!(status, "Done", "{kind}: {err}");

    *liar.lock().unwrap() = lies(&[("confinement: strict", "confinement: devmode")], None);
    let e = helper
        .refresh(&["shelf-clock"], common::refresh_options("candidate", true))
        .unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::InvalidSnap);

    *liar.lock().unwrap() = lies(&[], Some("classic"));
    let e = helper.switch("shelf-clock", "candidate").unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::NeedsClassic);
    assert_eq!(clock(&env).channel, "latest/stable");

    *liar.lock().unwrap() = lies(&[("confinement: strict", "confinement: classic")], None);
    let e = helper
        .refresh(
            &["shelf-clock"],
            common::refresh_options("candidate", false),
        )
        .unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::NeedsClassic);
    assert_eq!(clock(&env).revision, "1");
    // With consent the refresh goes ahead, and the file (strict) is what gets installed.
    let change = helper
        .refresh(&["shelf-clock"], common::refresh_options("candidate", true))
        .unwrap();
    let (status, kind, err) = env.wait_change(change.as_str());
    assert_eq!(status, "Done", "{kind}: {err}");
    let c = clock(&env);
    assert_eq!(
        (c.revision.as_str(), c.confinement.as_str()),
        ("2", "strict")
    );
}
