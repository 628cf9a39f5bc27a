//! Refresh app awareness and run inhibition against the real helper, store and confine: snapd's
//! spread tests `refresh-app-awareness`, `refresh-mode-ignore-running` and
//! `snap-run-inhibition-flow` with our own test snap (an app that holds the snap running by
//! reading its stdin until the test closes it, one with `refresh-mode: ignore-running`, one that
//! says its version), and the store's shelf-clock for automatic refreshes.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::sandbox::{install_unsigned, write, Blocked};
use common::Env;
use snapshelf_dbus::types::{Dict, PendingRefresh, RefreshOptions};

const BUSY: &str = "shelf-busy";

/// `shelf-busy` at `version`: `hold` and `free` (ignore-running) say the version and wait for
/// their stdin to close; `version` says it.
fn busy_snap(dir: &Path, version: u32) -> PathBuf {
    let s = dir.join(format!("{BUSY}-{version}"));
    let _ = std::fs::remove_dir_all(&s);
    write(
        &s.join("meta/snap.yaml"),
        &format!(
            "name: {BUSY}\nversion: '{version}'\nsummary: busy\nbase: shelf-base\napps:\n  \
             hold:\n    command: bin/hold\n  free:\n    command: bin/hold\n    \
             refresh-mode: ignore-running\n  version:\n    command: bin/version\n"
        ),
        0o644,
    );
    write(
        &s.join("bin/hold"),
        &format!("#!/bin/sh\necho v{version}\nread line\nexit 0\n"),
        0o755,
    );
    write(
        &s.join("bin/version"),
        &format!("#!/bin/sh\necho v{version}\n"),
        0o755,
    );
    common::sandbox::pack(&s, &dir.join(format!("{BUSY}-{version}.snap")))
}

/// `snapshelf-confine --root ROOT <snap>.<app>` as root, stdin and stdout piped.
fn launch(env: &Env, target: &str) -> Child {
    Command::new(common::sandbox::confine_bin())
        .arg("--root")
        .arg(&env.root)
        .arg(target)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wait for a launch to end (two minutes at most): its status, stdout and stderr.
fn finish(mut child: Child) -> (bool, String, String) {
    drop(child.stdin.take());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("the launch did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.success(), out, err)
}

/// `shelf-busy.version`'s output, which must succeed.
fn version(env: &Env) -> String {
    let (ok, out, err) = finish(launch(env, &format!("{BUSY}.version")));
    assert!(ok, "version: {err}");
    out.trim().to_string()
}

/// An app of `snap` started and recorded as running.
fn hold(env: &Env, snap: &str, app: &str) -> Child {
    let child = launch(env, &format!("{snap}.{app}"));
    common::wait_until("the app to be recorded", Duration::from_secs(30), || {
        env.proxy()
            .running_apps(snap)
            .unwrap()
            .contains(&app.to_string())
    });
    child
}

fn lock_file(env: &Env, snap: &str) -> PathBuf {
    env.root
        .join(format!("var/lib/snapshelf/inhibit/{snap}.lock"))
}

fn pending(env: &Env) -> Vec<PendingRefresh> {
    env.proxy()
        .pending_refreshes()
        .unwrap()
        .iter()
        .map(|d| PendingRefresh::from_dict(d).unwrap())
        .collect()
}

fn setup() -> (Env, tempfile::TempDir) {
    let mut env = Env::new();
    env.start_helper();
    env.done(env.proxy().install(&["shelf-base"], Dict::new()));
    let work = tempfile::tempdir().unwrap();
    (env, work)
}

/// [`setup`] with `shelf-busy` 1 installed: the world, its work folder, `shelf-busy` 2's file
/// and the snap's run inhibition lock file.
fn setup_busy() -> (Env, tempfile::TempDir, PathBuf, PathBuf) {
    let (env, work) = setup();
    let v1 = busy_snap(work.path(), 1);
    let v2 = busy_snap(work.path(), 2);
    assert_eq!(install_unsigned(&env, &v1).0, "Done");
    let lock = lock_file(&env, BUSY);
    (env, work, v2, lock)
}

/// snapd's refresh-app-awareness and refresh-mode-ignore-running: a new revision of a snap whose
/// app runs is refused naming the app (a revert too), and goes in once it ended; an app with
/// `refresh-mode: ignore-running` does not hold it back.
#[test]
fn running_apps_refuse_a_refresh_and_ignore_running_apps_do_not() {
    if !common::require_root() {
        return;
    }
    let (env, work) = setup();
    let files: Vec<PathBuf> = (1..=3).map(|v| busy_snap(work.path(), v)).collect();
    assert_eq!(install_unsigned(&env, &files[0]).0, "Done");
    assert_eq!(version(&env), "v1");

    let app = hold(&env, BUSY, "hold");
    let (status, kind, err) = install_unsigned(&env, &files[1]);
    assert_eq!((status.as_str(), kind.as_str()), ("Error", "snap-in-use"));
    assert!(
        err.contains("snap \"shelf-busy\" has running apps (hold)"),
        "{err}"
    );
    assert_eq!(version(&env), "v1", "nothing changed");
    assert!(!lock_file(&env, BUSY).exists(), "the undo lets launches go");
    let (ok, out, _) = finish(app);
    assert!(ok && out.trim() == "v1");
    assert_eq!(install_unsigned(&env, &files[1]).0, "Done");
    assert_eq!(version(&env), "v2");
    // A revert switches revisions too (snapd's goes through unlink-current-snap): refused alike.
    let app = hold(&env, BUSY, "hold");
    let c = env.proxy().revert(BUSY, Dict::new()).unwrap();
    let (status, kind, err) = env.wait_change(c.as_str());
    assert_eq!(
        (status.as_str(), kind.as_str()),
        ("Error", "snap-in-use"),
        "{err}"
    );
    assert!(finish(app).0);
    assert_eq!(version(&env), "v2");

    let free = hold(&env, BUSY, "free");
    let (status, _, err) = install_unsigned(&env, &files[2]);
    assert_eq!(status, "Done", "{err}");
    assert_eq!(version(&env), "v3");
    assert!(finish(free).0);
    assert!(!lock_file(&env, BUSY).exists());
}

/// An automatic refresh (the update agent's `auto`) of a running snap is put off, listed by
/// `PendingRefreshes` with the app, and goes ahead once the app ended; a manual one fails;
/// `ignore-running` goes ahead whatever runs.
#[test]
fn an_automatic_refresh_waits_for_the_app_then_goes_ahead() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    let snap = "shelf-clock";
    env.done(env.proxy().install(&[snap], Dict::new()));
    env.done(env.proxy().switch(snap, "latest/candidate"));
    let app = Blocked::start(&env, "shelf-clock.shelf-clock");
    let auto = RefreshOptions {
        auto: true,
        ..Default::default()
    };
    let e = env.proxy().refresh(&[snap], auto.to_dict()).unwrap_err();
    let (kind, message) = snapshelf_dbus::error::classify(&e);
    assert_eq!(kind, snapshelf_dbus::ErrorKind::SnapInUse);
    assert!(
        message.contains("snap \"shelf-clock\" has running apps (shelf-clock)")
            && message.contains("at most 14 more days"),
        "{message}"
    );
    let rows = pending(&env);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].name, snap);
    assert_eq!(rows[0].apps, vec![snap.to_string()]);
    assert!(rows[0].remaining > 13 * 86_400 && rows[0].remaining < 14 * 86_400);
    // Put off again: the window stays the first one.
    let since = rows[0].since;
    assert!(env.proxy().refresh(&[snap], auto.to_dict()).is_err());
    assert_eq!(pending(&env)[0].since, since);
    // A person's refresh fails with snapd's words.
    let e = env.proxy().refresh(&[snap], Dict::new()).unwrap_err();
    assert_eq!(common::kind_of(e), snapshelf_dbus::ErrorKind::SnapInUse);
    assert_eq!(common::revision_of(&env, snap), "1");

    app.end();
    common::wait_until("the app to end", Duration::from_secs(30), || {
        env.proxy().running_apps(snap).unwrap().is_empty()
    });
    assert!(pending(&env)[0].apps.is_empty(), "closed: nothing holds it");
    env.done(env.proxy().refresh(&[snap], auto.to_dict()));
    assert_eq!(common::revision_of(&env, snap), "2");
    assert!(pending(&env).is_empty(), "the refresh closes the window");

    // ignore-running: a person's refresh goes ahead while the app runs (edge's revision 3).
    let app = Blocked::start(&env, "shelf-clock.shelf-clock");
    let ignore = RefreshOptions {
        ignore_running: true,
        channel: Some("latest/edge".into()),
        ..Default::default()
    };
    env.done(env.proxy().refresh(&[snap], ignore.to_dict()));
    assert_eq!(common::revision_of(&env, snap), "3");
    app.end();
}

/// snapd's snap-run-inhibition-flow: a launch while the snap is held for a refresh says so, waits
/// with no output, and once the refresh ended runs the new revision.
#[test]
fn a_launch_in_the_window_waits_then_runs_the_new_revision() {
    if !common::require_root() {
        return;
    }
    let (env, _work, v2, lock) = setup_busy();
    // The hint as the helper writes it, as the spread test mocks it: a refresh has begun.
    write(&lock, "refresh", 0o644);
    write(
        &lock.with_extension("refresh"),
        r#"{"previous":"x1"}"#,
        0o644,
    );
    let waiting = launch(&env, &format!("{BUSY}.version"));
    std::thread::sleep(Duration::from_millis(1500));
    let mut waiting = waiting;
    assert!(waiting.try_wait().unwrap().is_none(), "the launch waits");
    assert!(
        env.proxy().running_apps(BUSY).unwrap().is_empty(),
        "unrecorded while it waits"
    );
    // The refresh itself, which ends the window.
    assert_eq!(install_unsigned(&env, &v2).0, "Done");
    let (ok, out, err) = finish(waiting);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "v2", "the new revision runs");
    assert_eq!(
        err.matches("snap package \"shelf-busy\" is being refreshed, please wait")
            .count(),
        1,
        "said once: {err}"
    );
    assert!(!lock.exists() && !lock.with_extension("refresh").exists());
}

/// The helper killed (SIGKILL) while it holds launches: a launch waiting then goes ahead once the
/// helper is back (the interrupted refresh undone, the hint cleared).
#[test]
fn a_helper_killed_in_the_window_leaves_no_launch_waiting() {
    if !common::require_root() {
        return;
    }
    let (mut env, _work, v2, lock) = setup_busy();
    for n in 1..60 {
        env.kill_helper();
        env.start_helper_with(&[("SNAPSHELF_CRASH_AFTER", &n.to_string())]);
        let started = Ok(common::sandbox::start_install_file(
            &env,
            &v2,
            common::sandbox::unsigned(),
        ));
        if !common::crashed_before_ready(&mut env, &started, Duration::from_secs(60), n) {
            panic!("the refresh ended before the helper was killed inside the window");
        }
        if !lock.exists() {
            env.start_helper();
            continue;
        }
        // Inside the window: a launch waits …
        let mut waiting = launch(&env, &format!("{BUSY}.version"));
        std::thread::sleep(Duration::from_millis(1000));
        assert!(
            waiting.try_wait().unwrap().is_none(),
            "run {n}: the launch waits"
        );
        // … until the helper is back.
        env.start_helper();
        let (ok, out, err) = finish(waiting);
        assert!(ok, "run {n}: {err}");
        assert!(err.contains("is being refreshed"), "{err}");
        assert_eq!(
            out.trim(),
            "v1",
            "run {n}: the interrupted refresh is undone"
        );
        assert!(!lock.exists(), "run {n}: no hint is left");
        assert_eq!(version(&env), "v1");
        return;
    }
    panic!("no crash point inside the window");
}

/// A hint file that is a link, or garbage, refuses the launch naming the file and changes
/// nothing; the helper replaces a link without following it, and clears garbage at start-up.
#[test]
fn bad_inhibition_files_are_refused_without_harm() {
    if !common::require_root() {
        return;
    }
    let (mut env, work, v2, lock) = setup_busy();
    let victim = work.path().join("victim");
    std::fs::write(&victim, "refresh").unwrap();
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    let (ok, _, err) = finish(launch(&env, &format!("{BUSY}.version")));
    assert!(
        !ok && err.contains("shelf-busy.lock") && err.contains("symbolic link"),
        "{err}"
    );
    assert!(
        std::fs::symlink_metadata(&lock).unwrap().is_symlink(),
        "left as it was"
    );
    // A refresh replaces the link, never writing through it, and removes it at the end.
    assert_eq!(install_unsigned(&env, &v2).0, "Done");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "refresh");
    assert!(std::fs::symlink_metadata(&lock).is_err());
    assert_eq!(version(&env), "v2");

    write(&lock, "\u{0}garbage\n", 0o644);
    let (ok, _, err) = finish(launch(&env, &format!("{BUSY}.version")));
    assert!(!ok && err.contains("unknown run inhibition hint"), "{err}");
    assert_eq!(
        std::fs::read(&lock).unwrap(),
        b"\0garbage\n",
        "left as it was"
    );
    // Nothing is being refreshed when the helper starts: what is there goes.
    env.kill_helper();
    env.start_helper();
    assert!(std::fs::symlink_metadata(&lock).is_err());
    assert_eq!(version(&env), "v2");
}
