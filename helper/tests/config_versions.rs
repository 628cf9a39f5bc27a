//! Configuration per revision against the real helper: snapd's spread test
//! `tests/main/config-versions` with our own equivalents of its test snaps. A refresh carries the
//! configuration over; a revert brings back what the target revision had when it was replaced;
//! a failed refresh leaves the configuration as it was.

mod common;

use std::path::{Path, PathBuf};

use common::sandbox::{install_file, install_unsigned, pack, write};
use common::Env;
use snapshelf_dbus::types::Dict;
use zbus::zvariant::OwnedValue;

/// Our config-versions snap at `version`. With `markers`, its configure and post-refresh hooks
/// leave markers naming the version, and the configure hook fails when `fail-configure` is set
/// and the version is not 1 (so that a refresh to it fails, as snapd's v2 does); without, its
/// configure and pre-refresh hooks set nothing, so the snap has no configuration until one is
/// set, and the configure hook of version 3 and later fails.
fn config_versions(dir: &Path, version: u32, markers: bool) -> PathBuf {
    let s = dir.join(format!("config-versions-v{version}-{markers}"));
    let _ = std::fs::remove_dir_all(&s);
    write(
        &s.join("meta/snap.yaml"),
        &format!(
            "name: config-versions\nversion: '{version}'\nsummary: config versions\n\
             base: shelf-base\napps:\n  app:\n    command: bin/true\n"
        ),
        0o644,
    );
    write(&s.join("bin/true"), "#!/bin/sh\nexit 0\n", 0o755);
    let configure = if markers {
        format!(
            "#!/bin/sh\nif [ {version} != 1 ] && [ \"$(snapctl get fail-configure)\" = yes ]; then\n  \
             echo failing as asked; exit 1\nfi\nsnapctl set configure-marker=executed-for-v{version}\n"
        )
    } else {
        format!("#!/bin/sh\nif [ {version} -ge 3 ]; then echo failing as asked; exit 1; fi\n")
    };
    write(&s.join("meta/hooks/configure"), &configure, 0o755);
    if !markers {
        // A hook that sets nothing, run (and undone) before a refresh's configuration is kept.
        write(
            &s.join("meta/hooks/pre-refresh"),
            "#!/bin/sh\nexit 0\n",
            0o755,
        );
    } else {
        write(
            &s.join("meta/hooks/post-refresh"),
            &format!("#!/bin/sh\nsnapctl set post-refresh-hook-marker=executed-for-v{version}\n"),
            0o755,
        );
    }
    pack(
        &s,
        &dir.join(format!("config-versions-v{version}-{markers}.snap")),
    )
}

/// The snap's whole configuration.
fn whole(env: &Env) -> serde_json::Value {
    serde_json::from_str(&env.proxy().get_config("config-versions", &[]).unwrap()).unwrap()
}

fn get(env: &Env, key: &str) -> serde_json::Value {
    let text = env.proxy().get_config("config-versions", &[key]).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v[key].clone()
}

fn set(env: &Env, patch: &str) {
    let c = env.proxy().set_config("config-versions", patch).unwrap();
    let (status, kind, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{patch}: {kind} {err}");
}

fn revert(env: &Env, revision: Option<&str>) {
    let opts: Dict = revision
        .map(|r| {
            (
                "revision".to_string(),
                OwnedValue::from(zbus::zvariant::Str::from(r)),
            )
        })
        .into_iter()
        .collect();
    let c = env.proxy().revert("config-versions", opts).unwrap();
    let (status, kind, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "revert to {revision:?}: {kind} {err}");
}

fn current(env: &Env) -> String {
    common::revision_of(env, "config-versions")
}

#[test]
fn configuration_is_kept_per_revision_and_restored_on_revert() {
    if !common::require_root() {
        return;
    }
    let (env, work) = common::sandbox::setup_with_confine();
    let (v1, v2) = (
        config_versions(work.path(), 1, true),
        config_versions(work.path(), 2, true),
    );

    install_file(&env, &v1);
    assert_eq!(get(&env, "configure-marker"), "executed-for-v1");
    set(&env, r#"{"value": 100}"#);

    // A refresh carries the configuration over.
    install_file(&env, &v2);
    assert_eq!(current(&env), "x2");
    assert_eq!(get(&env, "configure-marker"), "executed-for-v2");
    assert_eq!(get(&env, "post-refresh-hook-marker"), "executed-for-v2");
    assert_eq!(get(&env, "value"), 100);
    set(&env, r#"{"value": 200}"#);
    assert_eq!(get(&env, "value"), 200);

    // A revert brings back what revision x1 had when x2 replaced it, and keeps x2's.
    revert(&env, None);
    assert_eq!(current(&env), "x1");
    assert_eq!(get(&env, "value"), 100);
    // All of it: the markers too are x1's again.
    assert_eq!(get(&env, "configure-marker"), "executed-for-v1");
    set(&env, r#"{"value": 300}"#);
    revert(&env, Some("x2"));
    assert_eq!(current(&env), "x2");
    assert_eq!(get(&env, "value"), 200);
    revert(&env, Some("x1"));
    assert_eq!(get(&env, "value"), 300);

    // A refresh that fails (v3's configure hook) leaves the configuration as it was.
    set(&env, r#"{"fail-configure": "yes"}"#);
    let before = whole(&env);
    let v3 = config_versions(work.path(), 3, true);
    let (status, kind, err) = install_unsigned(&env, &v3);
    assert_eq!(
        (status.as_str(), kind.as_str()),
        ("Error", "hook-failed"),
        "{err}"
    );
    assert!(err.contains("failing as asked"), "{err}");
    assert_eq!(current(&env), "x1");
    let after = whole(&env);
    assert_eq!(after, before);
    assert_eq!(get(&env, "value"), 300);

    // Removal drops the kept copies with the snap: a new install starts afresh.
    env.done(env.proxy().remove(&["config-versions"], Dict::new()));
    install_file(&env, &v1);
    let all = whole(&env);
    assert_eq!(
        all,
        serde_json::json!({"configure-marker": "executed-for-v1"})
    );
}

/// snapd's SaveRevisionConfig keeps nothing for a snap without configuration, and its
/// RestoreRevisionConfig leaves the current configuration when the target revision has no copy:
/// a revert to a revision replaced before anything was set keeps what is set now. A configuration
/// emptied by unsetting its last key is still one, kept and brought back empty.
#[test]
fn a_revert_to_a_revision_that_had_no_configuration_keeps_the_current_one() {
    if !common::require_root() {
        return;
    }
    let (env, work) = common::sandbox::setup_with_confine();
    let (v1, v2) = (
        config_versions(work.path(), 1, false),
        config_versions(work.path(), 2, false),
    );
    for v in [&v1, &v2] {
        install_file(&env, v);
    }
    assert_eq!(current(&env), "x2");
    assert_eq!(whole(&env), serde_json::json!({}));
    set(&env, r#"{"value": 200}"#);

    // x1 was replaced with no configuration: nothing of it comes back, x2's stays.
    revert(&env, Some("x1"));
    assert_eq!(current(&env), "x1");
    assert_eq!(whole(&env), serde_json::json!({"value": 200}));
    set(&env, r#"{"value": 300}"#);
    revert(&env, Some("x2"));
    assert_eq!(whole(&env), serde_json::json!({"value": 200}));

    // Unset to nothing, x2's configuration is an empty one: x1's comes back, and x2's empty
    // one when x2 is reverted to again.
    set(&env, r#"{"value": null}"#);
    assert_eq!(whole(&env), serde_json::json!({}));
    revert(&env, Some("x1"));
    assert_eq!(whole(&env), serde_json::json!({"value": 300}));
    revert(&env, Some("x2"));
    assert_eq!(whole(&env), serde_json::json!({}));
}

/// A configuration emptied is `{}`, which snapd keeps and brings back as such: a failed refresh
/// leaves it `{}` (the undo of the old revision's pre-refresh hook, which ran over `{}`, puts
/// `{}` back, not "no configuration"), and an unset on a snap without configuration makes it
/// `{}` too (snapd's commit stores the snap's document for any change). Seen through a revert:
/// only a configuration is kept as the replaced revision's and brought back.
#[test]
fn an_empty_configuration_survives_a_failed_refresh_and_comes_back() {
    if !common::require_root() {
        return;
    }
    let (env, work) = common::sandbox::setup_with_confine();
    let files: Vec<PathBuf> = (1..=3)
        .map(|v| config_versions(work.path(), v, false))
        .collect();
    // The current revision's `{}` kept when the older one is reverted to, and brought back when
    // it is reverted to again.
    let comes_back_empty = |what: &str| {
        let now = current(&env);
        let installed = common::installed(&env);
        let snap = installed.iter().find(|s| s.name == "config-versions");
        let older = snap.unwrap().revisions.iter().find(|r| **r != now).unwrap();
        revert(&env, Some(older));
        assert_eq!(whole(&env), serde_json::json!({}), "{what}");
        set(&env, r#"{"value": 7}"#);
        revert(&env, Some(&now));
        assert_eq!(whole(&env), serde_json::json!({}), "{what}");
    };

    install_file(&env, &files[0]);
    install_file(&env, &files[1]);
    set(&env, r#"{"value": 1}"#);
    set(&env, r#"{"value": null}"#);
    let (status, kind, err) = install_unsigned(&env, &files[2]);
    assert_eq!(
        (status.as_str(), kind.as_str()),
        ("Error", "hook-failed"),
        "{err}"
    );
    assert_eq!(current(&env), "x2");
    comes_back_empty("emptied, then a failed refresh");

    // Removed, the snap has no configuration; unsetting a key it never had makes it `{}`.
    env.done(env.proxy().remove(&["config-versions"], Dict::new()));
    install_file(&env, &files[0]);
    install_file(&env, &files[1]);
    set(&env, r#"{"absent": null}"#);
    comes_back_empty("an unset on no configuration");
}
