//! Auto-refresh gating, snapd's spread tests auto-refresh-gating and the
//! test-snapd-refresh-control snaps, with our own store snaps: before an automatic refresh
//! (`Refresh` option `auto`) each refreshed snap's `gate-auto-refresh` hook runs, reads
//! `snapctl refresh --pending`, and holds (`--hold`), lets go (`--proceed`), says nothing or
//! fails. A held snap is left out with the reason; a person's refresh ignores holds. `snapctl
//! refresh` outside that hook gets snapd's errors. (The limits of a hold, 90 days for itself and
//! 48 hours for others, with a clock the tests set: `engine/gating.rs`'s unit tests.)

mod common;

use std::path::Path;
use std::time::Duration;

use common::sandbox::{launch_with, write, Mode};
use common::{Env, RUNNER};
use snapshelf_dbus::types::{Dict, RefreshOptions};
use snapshelf_dbus::ErrorKind;

const GATE_HOOK: &str = "#!/bin/sh\n\
snapctl refresh --pending > \"$SNAP_COMMON/pending\" 2>&1\n\
case \"$(cat \"$SNAP_COMMON/mode\" 2>/dev/null)\" in\n\
  hold) snapctl refresh --hold > \"$SNAP_COMMON/hold\" 2>&1 ;;\n\
  proceed) snapctl refresh --proceed > \"$SNAP_COMMON/proceed\" 2>&1 ;;\n\
  fail) exit 1 ;;\n\
esac\n\
exit 0\n";

/// Another hook may not use `snapctl refresh`: what it was told is kept.
const CONFIGURE_HOOK: &str = "#!/bin/sh\n\
snapctl refresh --pending > \"$SNAP_COMMON/configure\" 2>&1\n\
exit 0\n";

/// Revision `rev` of `name` in the catalog at `dir`: a gate hook, a configure hook, a shell app.
fn pack(dir: &Path, name: &str, rev: u32) {
    let stage = dir.join(format!(".stage-{name}_{rev}"));
    write(
        &stage.join("meta/snap.yaml"),
        &format!(
            "name: {name}\nversion: '{rev}.0'\nsummary: gating probe\nbase: shelf-base\n\
             apps:\n  sh:\n    command: bin/sh\n"
        ),
        0o644,
    );
    write(
        &stage.join("bin/sh"),
        "#!/bin/sh\nexec /bin/sh \"$@\"\n",
        0o755,
    );
    write(
        &stage.join("meta/hooks/gate-auto-refresh"),
        GATE_HOOK,
        0o755,
    );
    write(&stage.join("meta/hooks/configure"), CONFIGURE_HOOK, 0o755);
    let out = dir.join("snaps").join(format!("{name}_{rev}.snap"));
    snapshelf_snap::squashfs::pack(&stage, &out, &Default::default()).unwrap();
    std::fs::remove_dir_all(&stage).unwrap();
}

/// The sample catalog with `gate-hold` and `gate-go`: revision 1 on stable, 2 on candidate, 3 on
/// edge.
/// A test world on `catalog` whose helper runs hooks with the workspace's confine.
fn start(catalog: &std::path::Path) -> Env {
    let mut env = Env::with_catalog(catalog);
    let mut c = env.helper_command();
    c.arg("--confine").arg(common::sandbox::confine_bin());
    env.start_helper_from(c);
    env
}

fn catalog() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(common::catalog(), tmp.path());
    let toml = tmp.path().join("catalog.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    for name in ["gate-hold", "gate-go"] {
        for rev in 1..=3 {
            pack(tmp.path(), name, rev);
        }
        text.push_str(&format!(
            "\n[[snap]]\nname = \"{name}\"\npublisher = \"snapshelf\"\n\
             channels = {{ \"latest/stable\" = 1, \"latest/candidate\" = 2, \"latest/edge\" = 3 }}\n"
        ));
    }
    std::fs::write(&toml, text).unwrap();
    tmp
}

fn current(env: &Env, snap: &str) -> String {
    common::installed(env)
        .into_iter()
        .find(|s| s.name == snap)
        .map(|s| s.revision)
        .unwrap()
}

fn common_file(env: &Env, snap: &str, file: &str) -> String {
    std::fs::read_to_string(env.root.join(format!("var/snap/{snap}/common/{file}")))
        .unwrap_or_default()
}

fn set_mode(env: &Env, snap: &str, mode: &str) {
    let dir = env.root.join(format!("var/snap/{snap}/common"));
    for f in ["pending", "hold", "proceed"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    std::fs::write(dir.join("mode"), mode).unwrap();
}

fn auto() -> Dict {
    RefreshOptions {
        auto: true,
        ..Default::default()
    }
    .to_dict()
}

#[test]
fn gate_hooks_hold_or_let_an_automatic_refresh_go() {
    if !common::require_root() {
        return;
    }
    let catalog = catalog();
    let env = start(catalog.path());
    for snap in ["gate-hold", "gate-go"] {
        let c = env.proxy().install(&[snap], Dict::new()).unwrap();
        let (status, _, err) = env.wait_change(c.as_str());
        assert_eq!(status, "Done", "install {snap}: {err}");
        env.done(env.proxy().switch(snap, "latest/candidate"));
    }
    // The configure hook (at install) may not use it.
    let told = common_file(&env, "gate-go", "configure");
    assert!(
        told.contains("can only be used from gate-auto-refresh hook"),
        "{told:?}"
    );

    // One holds, one lets go: the second is refreshed, the first left out with the reason.
    set_mode(&env, "gate-hold", "hold");
    set_mode(&env, "gate-go", "proceed");
    env.done(env.proxy().refresh(&["gate-hold", "gate-go"], auto()));
    assert_eq!(current(&env, "gate-go"), "2");
    assert_eq!(current(&env, "gate-hold"), "1");
    let pending = common_file(&env, "gate-hold", "pending");
    assert_eq!(
        pending,
        "pending: ready\nchannel: latest/candidate\nversion: \"2.0\"\nrevision: 2\n\
         base: false\nrestart: false\n"
    );
    // Held for as long as snapd lets a snap hold itself: 90 days after its last refresh.
    let hold = common_file(&env, "gate-hold", "hold");
    assert!(
        hold.starts_with("hold: 215") && hold.ends_with("s\n"),
        "{hold:?}"
    );
    assert_eq!(common_file(&env, "gate-go", "proceed"), "");

    // Alone, the held snap's automatic refresh fails with the holder and the end of the hold.
    let e = env.proxy().refresh(&["gate-hold"], auto()).unwrap_err();
    let (kind, message) = snapshelf_dbus::error::classify(&e);
    assert_eq!(kind, ErrorKind::RefreshHeld, "{message}");
    assert!(
        message.contains("held by its gate-auto-refresh hook until"),
        "{message}"
    );
    assert_eq!(current(&env, "gate-hold"), "1");

    // A hook that fails holds too; one that says nothing lets go (snapd's defaults).
    set_mode(&env, "gate-hold", "fail");
    assert!(env.proxy().refresh(&["gate-hold"], auto()).is_err());
    assert_eq!(current(&env, "gate-hold"), "1");
    set_mode(&env, "gate-hold", "");
    env.done(env.proxy().refresh(&["gate-hold"], auto()));
    assert_eq!(current(&env, "gate-hold"), "2");

    // A person's refresh ignores a hold.
    env.done(env.proxy().switch("gate-hold", "latest/edge"));
    set_mode(&env, "gate-hold", "hold");
    assert!(env.proxy().refresh(&["gate-hold"], auto()).is_err());
    env.done(env.proxy().refresh(&["gate-hold"], Dict::new()));
    assert_eq!(current(&env, "gate-hold"), "3");

    // From an app: --hold and --proceed are refused as snapd refuses them, --tracking answers.
    let ask = |args: &str| {
        let script = format!("snapctl refresh {args} 2>&1; echo \"code=$?\"");
        let o = launch_with(
            &env,
            Mode::Root,
            RUNNER,
            "gate-go.sh",
            &["-c", &script],
            &[],
        );
        common::sandbox::ok(&o, "gate-go.sh")
    };
    let out = ask("--hold");
    assert!(
        out.contains("cannot hold outside of gate-auto-refresh hook"),
        "{out}"
    );
    assert!(out.ends_with("code=1\n"), "{out}");
    let out = ask("--proceed");
    assert!(
        out.contains("requires snap-refresh-control interface"),
        "{out}"
    );
    assert_eq!(ask("--tracking"), "channel: latest/candidate\ncode=0\n");
    assert_eq!(
        ask("--pending"),
        "pending: none\nchannel: latest/candidate\nbase: false\nrestart: false\ncode=0\n"
    );
    let out = ask("--hold --proceed");
    assert!(
        out.contains("cannot use --proceed and --hold together"),
        "{out}"
    );
    let out = ask("--tracking --pending");
    assert!(
        out.contains("--tracking cannot be used with --pending"),
        "{out}"
    );
}

/// The update agent shows why: a held snap's update is "put off", naming the hook and the end of
/// the hold, and it is not refreshed.
#[test]
fn the_update_agent_says_an_update_is_put_off_by_a_gate_hook() {
    if !common::require_root() {
        return;
    }
    let catalog = catalog();
    let env = start(catalog.path());
    let c = env.proxy().install(&["gate-hold"], Dict::new()).unwrap();
    let (status, _, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "install: {err}");
    env.done(env.proxy().switch("gate-hold", "latest/candidate"));
    set_mode(&env, "gate-hold", "hold");

    let session = common::notifications::Session::start(&env.dir.path().join("session"));
    let config = env.dir.path().join("config");
    let app = env.dir.path().join("no-app");
    let mut agent = common::notifications::start_agent(&env, &session, &config, &app)
        .spawn()
        .unwrap();
    let (_, body, _) = session.wait_shown("Update put off", Duration::from_secs(120));
    let _ = agent.kill();
    let _ = agent.wait();
    assert!(
        body.starts_with(
            "gate-hold: the automatic refresh of \"gate-hold\" is held by its \
                          gate-auto-refresh hook until "
        ),
        "{body}"
    );
    assert_eq!(current(&env, "gate-hold"), "1");
    assert!(common_file(&env, "gate-hold", "hold").starts_with("hold: "));
}
