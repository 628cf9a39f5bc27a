//! Each user's `~/snap/<name>/<revision>` through refresh and revert, with snapd's copy semantics
//! (`overlord/snapstate/backend/copydata.go`, spread test `tests/main/refresh-undo` and
//! `revert`'s data checks): two real unprivileged users run the app (confine makes their folders),
//! write settings, the snap is refreshed (each user's folder copied to the new revision, owned by
//! the user, `common` shared and not copied), then reverted (the old revision's folder as it was).
//! A user who planted a symlink in place of a revision's folder gets nothing copied from where it
//! points, and nothing written there.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::sandbox::{self, Mode};
use common::users::{hold_user, user_with_home};
use common::Env;
use snapshelf_dbus::types::Dict;

// A user's home is in the system's password database, where confine reads it (as snap-confine
// does), and each test points it into its own scratch root. So no two tests may share a user: the
// tests of this file run in parallel, and one re-pointing a shared user's home sent the other's
// app into its root (its settings read, its `common` and `current` made there).
const USERS: [&str; 2] = ["snapshelf-data-a", "snapshelf-data-b"];
/// The user of the killed-refresh test, no other test's.
const KILLED_USER: &str = "snapshelf-data-c";

/// An app that prints its settings and then writes new ones: `notes <text>`.
fn notes_snap(work: &Path, version: &str) -> PathBuf {
    let s = work.join(format!("notes-{version}"));
    sandbox::write(
        &s.join("meta/snap.yaml"),
        &format!(
            "name: shelf-notes\nversion: '{version}'\nsummary: Keeps notes\nbase: shelf-base\n\
             apps:\n  shelf-notes:\n    command: bin/notes\n"
        ),
        0o644,
    );
    sandbox::write(
        &s.join("bin/notes"),
        "#!/bin/sh\nset -e\ncat \"$SNAP_USER_DATA/settings\" 2>/dev/null || echo none\n\
         mkdir -p \"$SNAP_USER_DATA/.config\"\n\
         printf '%s\\n' \"$1\" > \"$SNAP_USER_DATA/settings\"\n\
         printf '%s\\n' \"$1\" > \"$SNAP_USER_DATA/.config/app.conf\"\n\
         chmod 600 \"$SNAP_USER_DATA/.config/app.conf\"\n\
         echo \"$1\" >> \"$SNAP_USER_COMMON/log\"\n",
        0o755,
    );
    sandbox::pack(&s, &work.join(format!("notes-{version}.snap")))
}

/// Run the app as `user`: what it found, then it writes `text`.
fn notes(env: &Env, user: &str, text: &str) -> String {
    let o = sandbox::launch_as(env, Mode::UserNs, user, "shelf-notes", &[text]);
    sandbox::ok(&o, &format!("shelf-notes as {user}"))
        .trim()
        .to_string()
}

fn current(env: &Env) -> String {
    common::installed(env)
        .into_iter()
        .find(|s| s.name == "shelf-notes")
        .unwrap()
        .revision
}

#[test]
fn each_users_data_follows_refresh_and_revert() {
    if !common::require_root() {
        return;
    }
    let _held: Vec<_> = USERS.iter().map(|u| hold_user(u)).collect();
    let (env, work, _) = sandbox::setup();
    let root = env.root.clone();
    let uids: Vec<u32> = USERS.iter().map(|u| user_with_home(&root, u)).collect();
    let home = |i: usize| root.join("home").join(USERS[i]);
    let dir = |i: usize, rev: &str| home(i).join("snap/shelf-notes").join(rev);

    sandbox::install_file(&env, &notes_snap(work.path(), "1"));
    let r1 = current(&env);
    assert_eq!(notes(&env, USERS[0], "a-one"), "none");
    assert_eq!(notes(&env, USERS[1], "b-one"), "none");

    // Refresh: each user's folder is copied to the new revision, theirs, modes kept.
    sandbox::install_file(&env, &notes_snap(work.path(), "2"));
    let r2 = current(&env);
    assert_ne!(r1, r2);
    for (i, uid) in uids.iter().enumerate() {
        let conf = dir(i, &r2).join(".config/app.conf");
        let meta = std::fs::symlink_metadata(&conf).unwrap();
        assert_eq!(
            (meta.uid(), meta.mode() & 0o777),
            (*uid, 0o600),
            "{USERS:?}[{i}]"
        );
        assert_eq!(std::fs::metadata(dir(i, &r2)).unwrap().uid(), *uid);
        // `common` is one folder, never copied into a revision.
        assert!(!dir(i, &r2).join("common").exists());
    }
    assert_eq!(notes(&env, USERS[0], "a-two"), "a-one");
    assert_eq!(notes(&env, USERS[1], "b-two"), "b-one");

    // Revert: the old revision's folder, as it was left.
    let c = env.proxy().revert("shelf-notes", Dict::new()).unwrap();
    let (status, _, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{err}");
    assert_eq!(current(&env), r1);
    assert_eq!(notes(&env, USERS[0], "a-back"), "a-one");
    assert_eq!(notes(&env, USERS[1], "b-back"), "b-one");
    // The newer revision keeps its own.
    let kept = std::fs::read_to_string(dir(0, &r2).join("settings")).unwrap();
    assert_eq!(kept.trim(), "a-two");
    let log = std::fs::read_to_string(home(0).join("snap/shelf-notes/common/log")).unwrap();
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        ["a-one", "a-two", "a-back"]
    );

    // User b plants a symlink in place of the current revision's folder, pointing at a folder
    // only root may read; user a does nothing unusual. The refresh copies a's folder and
    // neither reads nor writes where b's link points.
    let secret = root.join("secret");
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::write(secret.join("key"), "root only").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o700)).unwrap();
    let planted = dir(1, &r1);
    std::fs::rename(&planted, home(1).join("moved-away")).unwrap();
    std::os::unix::fs::symlink(&secret, &planted).unwrap();
    std::os::unix::fs::lchown(&planted, Some(uids[1]), Some(uids[1])).unwrap();

    sandbox::install_file(&env, &notes_snap(work.path(), "3"));
    let r3 = current(&env);
    assert_eq!(
        std::fs::read_to_string(dir(0, &r3).join("settings"))
            .unwrap()
            .trim(),
        "a-back"
    );
    assert!(
        std::fs::symlink_metadata(dir(1, &r3)).is_err(),
        "nothing is made from a planted link"
    );
    let in_secret: Vec<_> = std::fs::read_dir(&secret)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(in_secret, ["key"], "the link's target is untouched");
    assert_eq!(std::fs::metadata(&secret).unwrap().uid(), 0);

    // b's app starts afresh at r3 (nothing was copied for b).
    assert_eq!(notes(&env, USERS[1], "b-three"), "none");

    // A folder for the next revision planted as a link to a root folder, before the refresh
    // that brings that revision in: nothing is written through it.
    let next = format!("x{}", r3[1..].parse::<u32>().unwrap() + 1);
    std::os::unix::fs::symlink(&secret, dir(1, &next)).unwrap();
    sandbox::install_file(&env, &notes_snap(work.path(), "4"));
    assert_eq!(current(&env), next);
    let in_secret: Vec<_> = std::fs::read_dir(&secret)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(in_secret, ["key"], "nothing was written through the link");
    assert!(std::fs::symlink_metadata(dir(1, &next))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read_to_string(dir(0, &next).join("settings"))
            .unwrap()
            .trim(),
        "a-back"
    );
}

/// `~/snap/shelf-notes/<rev>` for the killed-refresh test's user, as if the app had run: a
/// settings file, theirs.
fn user_folder(root: &Path, uid: u32, rev: &str) {
    let snap = root.join("home").join(KILLED_USER).join("snap");
    let _ = std::fs::remove_dir_all(&snap);
    let dir = snap.join("shelf-notes").join(rev);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("settings"), "kept\n").unwrap();
    let st = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{uid}"))
        .arg(&snap)
        .status()
        .unwrap();
    assert!(st.success());
}

/// The copy is part of the change: a helper killed at every task boundary of a refresh leaves,
/// once a new helper has recovered, either the old revision with no copy (nor half a copy) in
/// the user's folder, or the new revision with the whole copy.
#[test]
fn a_refresh_killed_at_any_point_leaves_the_users_data_whole() {
    if !common::require_root() {
        return;
    }
    let _held = hold_user(KILLED_USER);
    let (mut env, work, _) = sandbox::setup();
    let root = env.root.clone();
    let uid = user_with_home(&root, KILLED_USER);
    let folder = root.join("home").join(KILLED_USER).join("snap/shelf-notes");
    let (v1, v2) = (notes_snap(work.path(), "1"), notes_snap(work.path(), "2"));
    let mut outcomes = Vec::new();
    for n in 1..60 {
        sandbox::install_file(&env, &v1);
        let old = current(&env);
        user_folder(&root, uid, &old);
        env.kill_helper();
        env.start_helper_with(&[("SNAPSHELF_CRASH_AFTER", &n.to_string())]);
        let f = std::fs::File::open(&v2).unwrap();
        let started = env.proxy().install_file(
            zbus::zvariant::OwnedFd::from(std::os::fd::OwnedFd::from(f)),
            sandbox::unsigned(),
        );
        let finished = match started {
            Ok(c) => {
                let t = std::time::Instant::now();
                loop {
                    if env.helper_exited() {
                        break false;
                    }
                    let change =
                        snapshelf_dbus::proxy::Change1ProxyBlocking::builder(&env.connection())
                            .path(c.as_str().to_string())
                            .unwrap()
                            .cache_properties(zbus::proxy::CacheProperties::No)
                            .build()
                            .unwrap();
                    // The helper may die while it answers.
                    if change.ready().unwrap_or(false) {
                        assert_eq!(change.status().unwrap(), "Done", "run {n}");
                        break true;
                    }
                    assert!(t.elapsed().as_secs() < 120, "run {n}: no end");
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
            Err(_) => false,
        };
        if !finished {
            let t = std::time::Instant::now();
            while !env.helper_exited() {
                assert!(
                    t.elapsed().as_secs() < 10,
                    "run {n}: the helper did not stop"
                );
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        env.kill_helper();
        env.start_helper();
        let names: Vec<String> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        let now = current(&env);
        if now == old {
            assert_eq!(
                names,
                std::slice::from_ref(&old),
                "run {n}: undone, nothing of the new one left"
            );
        } else {
            let mut names = names;
            names.sort();
            let mut want = vec![old.clone(), now.clone()];
            want.sort();
            assert_eq!(names, want, "run {n}");
            let copied = std::fs::read_to_string(folder.join(&now).join("settings")).unwrap();
            assert_eq!(copied, "kept\n", "run {n}");
            let meta = std::fs::metadata(folder.join(&now).join("settings")).unwrap();
            assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), uid);
        }
        outcomes.push(now != old);
        let c = env.proxy().remove(&["shelf-notes"], Dict::new()).unwrap();
        assert_eq!(env.wait_change(c.as_str()).0, "Done");
        if finished {
            break;
        }
    }
    // Some runs were undone, and the last one (with no crash) refreshed.
    assert!(outcomes.contains(&false), "{outcomes:?}");
    // AdoptFile, Mount, Data, Link… each with at least two statuses.
    assert!(outcomes.len() >= 6, "{outcomes:?}");
    assert_eq!(outcomes.last(), Some(&true), "{outcomes:?}");
}
