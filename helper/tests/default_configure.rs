//! The default-configure hook against the real helper, as snapd runs it (overlord/snapstate
//! snap.go; the test snap of tests/core/gadget-config-defaults-to-snaps, our own equivalent):
//! on first install only, after the install hook, before the services start and before the
//! configure hook; what it sets with `snapctl set` is the snap's configuration.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::Env;
use snapshelf_dbus::types::Dict;

const NAME: &str = "with-default-configure";

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Each of the default-configure and configure hooks appends its mark to `a`; the install hook
/// sets `a` first; the default-configure hook counts its runs in `runs`.
fn snap(dir: &Path) -> PathBuf {
    let s = dir.join(NAME);
    let _ = std::fs::remove_dir_all(&s);
    write(
        &s.join("meta/snap.yaml"),
        &format!(
            "name: {NAME}\nversion: '4.0'\nsummary: default-configure\nbase: shelf-base\n\
             apps:\n  some:\n    command: bin/service\n    daemon: simple\n"
        ),
        0o644,
    );
    write(
        &s.join("bin/service"),
        "#!/bin/sh\nexec sleep 3600\n",
        0o755,
    );
    let hooks = [
        ("install", "#!/bin/sh -e\nsnapctl set a=A b=B\n".to_string()),
        (
            "default-configure",
            "#!/bin/sh -e\nruns=$(snapctl get runs)\n\
             snapctl set a=\"$(snapctl get a)+defaultConfigureHook\" runs=$((${runs:-0}+1))\n"
                .to_string(),
        ),
        (
            "configure",
            "#!/bin/sh -e\nsnapctl set a=\"$(snapctl get a)+configureHook\"\n".to_string(),
        ),
    ];
    for (hook, script) in hooks {
        write(&s.join("meta/hooks").join(hook), &script, 0o755);
    }
    let out = dir.join(format!("{NAME}.snap"));
    snapshelf_snap::squashfs::pack(&s, &out, &Default::default()).unwrap();
    out
}

/// Install the file; the change's status, error and tasks as "kind summary".
fn install_file(env: &Env, path: &Path) -> (String, String, Vec<String>) {
    let c = common::sandbox::start_install_file(env, path, common::sandbox::unsigned());
    let (status, _, err) = env.wait_change(c.as_str());
    let change = snapshelf_dbus::proxy::Change1ProxyBlocking::builder(&env.connection())
        .path(c.to_string())
        .unwrap()
        .build()
        .unwrap();
    let tasks = change.tasks().unwrap();
    let tasks = tasks
        .into_iter()
        .map(|t| format!("{} {}", t.0, t.1))
        .collect();
    (status, err, tasks)
}

fn get(env: &Env, key: &str) -> serde_json::Value {
    let text = env.proxy().get_config(NAME, &[key]).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v[key].clone()
}

/// Where in the change's tasks the first one starting with `what` is.
fn at(tasks: &[String], what: &str) -> usize {
    tasks
        .iter()
        .position(|t| t.starts_with(what))
        .unwrap_or_else(|| panic!("no {what:?} in {tasks:#?}"))
}

#[test]
fn default_configure_runs_on_first_install_before_services_and_configure() {
    if !common::require_root() {
        return;
    }
    let (env, work) = common::sandbox::setup_with_confine();
    let file = snap(work.path());

    let (status, err, tasks) = install_file(&env, &file);
    assert_eq!(status, "Done", "{err}");
    // What each hook saw: install's value, then default-configure's, then configure's.
    assert_eq!(get(&env, "a"), "A+defaultConfigureHook+configureHook");
    assert_eq!(get(&env, "b"), "B");
    assert_eq!(get(&env, "runs"), 1);
    // snapd's order: install hook, default-configure, services started, configure.
    let install = at(&tasks, "run-hook Run install hook");
    let default = at(&tasks, "run-hook Run default-configure hook");
    let start = at(&tasks, "start-services");
    let configure = at(&tasks, "run-hook Run configure hook");
    assert!(
        install < default && default < start && start < configure,
        "{tasks:#?}"
    );

    // A refresh does not run it again (the configure hook does run).
    let (status, err, tasks) = install_file(&env, &file);
    assert_eq!(status, "Done", "{err}");
    assert!(
        !tasks
            .iter()
            .any(|t| t.contains("Run default-configure hook")),
        "{tasks:#?}"
    );
    assert_eq!(get(&env, "runs"), 1);
    assert_eq!(
        get(&env, "a"),
        "A+defaultConfigureHook+configureHook+configureHook"
    );
    env.done(env.proxy().remove(&[NAME], Dict::new()));
}
