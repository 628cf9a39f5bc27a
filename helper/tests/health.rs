//! Snap health against the real helper: snapd's spread test `tests/main/health` with our own
//! equivalent of its test snap (a check-health hook that reports okay, a configure hook that
//! reports what `force-health` says, an app that runs `snapctl set-health "$@"`), and snapd's
//! health handler's cases: a check-health hook that reports nothing leaves the health unknown
//! (`snapd-hook-no-health-set`); one that fails fails the change (as snapd: the hook's error is
//! not ignored) and leaves the health unknown (`snapd-hook-failed`). The health is the `health`
//! entry of the snap's `ListInstalled` dictionary.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::sandbox::{confine_bin, write};
use common::Env;
use snapshelf_dbus::types::Dict;
use zbus::zvariant::OwnedValue;

/// A snap at `version` with the app `health` and the given check-health hook (none: no hook).
fn health_snap(dir: &Path, name: &str, version: u32, check_health: Option<&str>) -> PathBuf {
    let s = dir.join(format!("{name}-{version}"));
    let _ = std::fs::remove_dir_all(&s);
    write(
        &s.join("meta/snap.yaml"),
        &format!(
            "name: {name}\nversion: '{version}'\nsummary: health\nbase: shelf-base\n\
             apps:\n  health:\n    command: bin/health\n"
        ),
        0o644,
    );
    write(
        &s.join("bin/health"),
        "#!/bin/sh\nexec snapctl set-health \"$@\"\n",
        0o755,
    );
    write(
        &s.join("meta/hooks/configure"),
        "#!/bin/sh\nh=$(snapctl get force-health)\nif [ \"$h\" ]; then\n  snapctl set-health $h\nfi\n\
         snapctl set force-health=\"\"\n",
        0o755,
    );
    if let Some(script) = check_health {
        write(&s.join("meta/hooks/check-health"), script, 0o755);
    }
    let out = dir.join(format!("{name}-{version}.snap"));
    snapshelf_snap::squashfs::pack(&s, &out, &Default::default()).unwrap();
    out
}

fn install_file(env: &Env, path: &Path) -> (String, String, String) {
    common::sandbox::install_unsigned(env, path)
}

/// The `health` entry of the snap's `ListInstalled` dictionary, its strings (and the timestamp).
fn health(env: &Env, name: &str) -> Option<HashMap<String, String>> {
    let list = env.proxy().list_installed().unwrap();
    let d = list.iter().find(|d| {
        d.get("name")
            .and_then(|v| String::try_from(v.try_clone().unwrap()).ok())
            .as_deref()
            == Some(name)
    })?;
    let h: HashMap<String, OwnedValue> = d.get("health")?.try_clone().unwrap().try_into().unwrap();
    let mut out = HashMap::new();
    for (k, v) in h {
        let text = match String::try_from(v.try_clone().unwrap()) {
            Ok(s) => s,
            Err(_) => u64::try_from(v).unwrap().to_string(),
        };
        out.insert(k, text);
    }
    Some(out)
}

fn field(h: &Option<HashMap<String, String>>, key: &str) -> String {
    h.as_ref().expect("a health entry")[key].clone()
}

/// The snap's `health` app as root, with `args`.
fn app(env: &Env, name: &str, args: &[&str]) -> Output {
    Command::new("timeout")
        .args(["--signal=KILL", "60"])
        .arg(confine_bin())
        .arg("--root")
        .arg(&env.root)
        .arg(format!("{name}.health"))
        .args(args)
        .current_dir("/")
        .output()
        .unwrap()
}

fn setup() -> Option<(Env, tempfile::TempDir)> {
    if !common::require_root() {
        return None;
    }
    Some(common::sandbox::setup_with_confine())
}

#[test]
fn health_is_set_by_check_health_by_other_hooks_and_by_apps() {
    let Some((env, work)) = setup() else { return };
    let name = "test-snapd-health";
    let okay = "#!/bin/sh\nsnapctl set-health okay\n";
    assert_eq!(health(&env, name), None);
    let (status, _, err) = install_file(&env, &health_snap(work.path(), name, 1, Some(okay)));
    assert_eq!(status, "Done", "{err}");
    let h = health(&env, name);
    assert_eq!(field(&h, "status"), "okay");
    assert_eq!(field(&h, "revision"), "x1");
    assert_eq!(field(&h, "message"), "");
    assert!(field(&h, "timestamp").parse::<u64>().unwrap() > 0);

    // An app may report it (snapd's words and exit codes for what it may not say).
    let o = app(
        &env,
        name,
        &["error", "Something went wrong", "--code=went-wrong"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let h = health(&env, name);
    assert_eq!(field(&h, "status"), "error");
    assert_eq!(field(&h, "message"), "Something went wrong");
    assert_eq!(field(&h, "code"), "went-wrong");
    for (args, words) in [
        (
            &["okay", "but with words"][..],
            "when status is \"okay\", message and code must be empty",
        ),
        (
            &["error", "short"],
            "message must be at least 7 characters long (got 5)",
        ),
        (
            &["unknown", "who can tell"],
            "status cannot be manually set to \"unknown\"",
        ),
        (
            &["error", "it is broken", "--code=Xyz"],
            "invalid code \"Xyz\"",
        ),
    ] {
        let o = app(&env, name, args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(words), "{args:?}: {stderr}");
    }
    assert_eq!(
        field(&health(&env, name), "message"),
        "Something went wrong"
    );

    // Another hook (configure, through SetConfig) may report it too.
    let c = env
        .proxy()
        .set_config(name, r#"{"force-health": "okay"}"#)
        .unwrap();
    let (status, _, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{err}");
    assert_eq!(field(&health(&env, name), "status"), "okay");

    // A refresh whose check-health hook fails fails (snapd does not ignore the hook's error),
    // and the health says so.
    let failing = "#!/bin/sh\necho cannot tell; exit 1\n";
    let (status, kind, err) = install_file(&env, &health_snap(work.path(), name, 2, Some(failing)));
    common::assert_hook_failed(&status, &kind, &err, "check-health");
    let installed = common::installed(&env);
    assert_eq!(
        installed.iter().find(|s| s.name == name).unwrap().revision,
        "x1"
    );
    let h = health(&env, name);
    assert_eq!(
        (field(&h, "status"), field(&h, "code"), field(&h, "message")),
        (
            "unknown".into(),
            "snapd-hook-failed".into(),
            "hook failed".into()
        )
    );

    // A check-health hook that reports nothing leaves it unknown.
    let silent = "#!/bin/sh\nexit 0\n";
    let (status, _, err) = install_file(&env, &health_snap(work.path(), name, 3, Some(silent)));
    assert_eq!(status, "Done", "{err}");
    let h = health(&env, name);
    assert_eq!(
        (field(&h, "status"), field(&h, "code"), field(&h, "message")),
        (
            "unknown".into(),
            "snapd-hook-no-health-set".into(),
            "hook did not call set-health".into()
        )
    );

    // A revert runs the health check of the revision it goes back to (as snapd's revert).
    let c = env.proxy().revert(name, Dict::new()).unwrap();
    let (status, _, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{err}");
    let h = health(&env, name);
    assert_eq!(
        (field(&h, "status"), field(&h, "revision")),
        ("okay".into(), "x1".into())
    );

    // Removal forgets it, and so does a first install that fails its check-health hook; a snap
    // without the hook has none.
    env.done(env.proxy().remove(&[name], Dict::new()));
    let (status, _, err) = install_file(&env, &health_snap(work.path(), name, 2, Some(failing)));
    assert_eq!(status, "Error", "{err}");
    let (status, _, err) = install_file(&env, &health_snap(work.path(), name, 1, None));
    assert_eq!(status, "Done", "{err}");
    assert_eq!(health(&env, name), None);
}
