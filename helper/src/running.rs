//! `RunningApps`: which apps of a snap run now. Two sources, either enough:
//! - the systemd units that track them (`snapshelf_snap::tracking`): each launch's scope
//!   `snap.<snap>.<app>-<uuid>.scope` and each service's unit, found in the cgroup hierarchy
//!   systemd tracks processes in, for every user; one counts while it holds a process, so an app
//!   whose first process ended while its children run still counts (snapd's
//!   refresh-app-awareness reads the same);
//! - the records confine writes at launch (`<root>/run/snapshelf/running/<snap>/<app>.<pid>`,
//!   holding the process's start time), for hosts without systemd. A record counts only while its
//!   PID lives with the same start time; any other record (the app ended, or the PID was reused)
//!   is stale and removed here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::io::IoContext;
use crate::paths::Paths;

/// The records of `snap`.
pub fn snap_dir(paths: &Paths, snap: &str) -> PathBuf {
    paths.root().join("run/snapshelf/running").join(snap)
}

/// What `/proc/<pid>/stat` says of `pid`, if it lives.
fn proc_stat(pid: u32) -> Option<snapshelf_snap::tracking::ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    snapshelf_snap::tracking::parse_proc_stat(&text)
}

/// The start time of `pid`, if it lives: with the PID, it names one process for good.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    proc_stat(pid).map(|s| s.start_time)
}

/// The parent of `pid`, if it lives.
pub(crate) fn parent_of(pid: u32) -> Option<u32> {
    proc_stat(pid).map(|s| s.parent)
}

/// The sorted names of `snap`'s apps that run now.
pub fn running_apps(paths: &Paths, snap: &str) -> Result<Vec<String>> {
    snapshelf_snap::naming::validate_snap_name(snap)
        .map_err(|e| Error::invalid(format!("invalid snap name {snap:?}: {e}")))?;
    let mut apps = tracked_apps(Path::new(CGROUP_ROOT), snap);
    let dir = snap_dir(paths, snap);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(apps.into_iter().collect())
        }
        Err(e) => return Err(e).what("list", &dir),
    };
    for entry in entries {
        let entry = entry.what("list", &dir)?;
        let path = entry.path();
        match live_app(&path) {
            Some(app) => {
                apps.insert(app);
            }
            None => remove_stale(&path),
        }
    }
    Ok(apps.into_iter().collect())
}

/// Where the kernel's cgroup hierarchies are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// How deep below a hierarchy's root units are looked for: a user's scopes are at
/// `user.slice/user-<uid>.slice/user@<uid>.service/app.slice/<scope>`.
const CGROUP_DEPTH: usize = 6;

/// The apps of `snap` whose tracking units hold a process, in the hierarchies systemd tracks
/// units in: the unified one (cgroup v2 at the root, or `unified` on a hybrid host) and systemd's
/// named v1 hierarchy (`systemd`, hybrid and legacy hosts). Unreadable or missing hierarchies
/// are skipped: the records are the fallback.
fn tracked_apps(cgroup_root: &Path, snap: &str) -> BTreeSet<String> {
    let mut apps = BTreeSet::new();
    let roots = [
        cgroup_root.to_path_buf(),
        cgroup_root.join("unified"),
        cgroup_root.join("systemd"),
    ];
    for root in roots.iter().filter(|r| r.join("cgroup.procs").is_file()) {
        walk_units(root, snap, CGROUP_DEPTH, &mut apps);
    }
    apps
}

fn walk_units(dir: &Path, snap: &str, depth: usize, apps: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        // Folders only: a cgroup's files (cgroup.procs, controllers' knobs) are plain files.
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = entry.path();
        let name = entry.file_name();
        match snapshelf_snap::tracking::tracked_unit(&name.to_string_lossy()) {
            Some(unit) if unit.snap == snap && holds_process(&path, CGROUP_DEPTH) => {
                apps.insert(unit.app);
            }
            // Another snap's unit, or an emptied one: nothing of this snap runs below it.
            Some(_) => {}
            None if depth > 0 => walk_units(&path, snap, depth - 1, apps),
            None => {}
        }
    }
}

/// Whether the cgroup at `dir`, or one below it, holds a process (an emptied scope is being
/// taken down by systemd).
fn holds_process(dir: &Path, depth: usize) -> bool {
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    if procs.lines().any(|l| !l.trim().is_empty()) {
        return true;
    }
    depth > 0
        && std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                e.file_type().is_ok_and(|t| t.is_dir()) && holds_process(&e.path(), depth - 1)
            })
        })
}

/// The running apps that hold a refresh of `snap` back (snapd's `refreshAppsCheck`): its current
/// revision's apps that are not services and not `refresh-mode: ignore-running`. A record of a
/// name that is no app of that revision (a hook's) does not count.
pub fn busy_apps(paths: &Paths, snap: &crate::state::SnapState) -> Result<Vec<String>> {
    let running = running_apps(paths, &snap.name)?;
    if running.is_empty() {
        return Ok(running);
    }
    let yaml = crate::engine::files::parse_yaml(snap, &snap.current)?;
    Ok(running
        .into_iter()
        .filter(|name| {
            yaml.apps.get(name).is_some_and(|app| {
                app.daemon.is_none() && app.refresh_mode.as_deref() != Some("ignore-running")
            })
        })
        .collect())
}

/// The app a record names, when its process still lives with the recorded start time.
fn live_app(path: &Path) -> Option<String> {
    let file = path.file_name()?.to_str()?;
    let (app, pid) = file.rsplit_once('.')?;
    let pid: u32 = pid.parse().ok()?;
    let recorded: u64 = std::fs::read_to_string(path).ok()?.trim().parse().ok()?;
    (start_time(pid)? == recorded && !app.is_empty()).then(|| app.to_string())
}

fn remove_stale(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::debug!(record = %path.display(), "removed a stale running-app record"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(record = %path.display(), "cannot remove a stale record: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(paths: &Paths, snap: &str, file: &str, text: &str) -> PathBuf {
        let dir = snap_dir(paths, snap);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(file);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn live_records_count_and_stale_ones_go() {
        let root = tempfile::tempdir().unwrap();
        let paths = Paths::new(root.path());
        let me = std::process::id();
        let started = start_time(me).unwrap();
        record(
            &paths,
            "shelf-clock",
            &format!("clock.{me}"),
            &format!("{started}\n"),
        );
        record(
            &paths,
            "shelf-clock",
            &format!("alarm.{me}"),
            &format!("{started}\n"),
        );
        // The same PID with another start time: a reused PID, not the app.
        let reused = record(&paths, "shelf-clock", &format!("timer.{me}"), "1\n");
        let gone = record(&paths, "shelf-clock", "timer.4294967295", "5\n");
        let junk = record(&paths, "shelf-clock", "junk", "x");
        let apps = running_apps(&paths, "shelf-clock").unwrap();
        assert_eq!(apps, vec!["alarm".to_string(), "clock".to_string()]);
        assert!(!reused.exists() && !gone.exists() && !junk.exists());
    }

    #[test]
    fn nothing_recorded_is_nothing_running_and_bad_names_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let paths = Paths::new(root.path());
        assert!(running_apps(&paths, "shelf-clock").unwrap().is_empty());
        let e = running_apps(&paths, "../etc").unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::InvalidArgument);
    }

    /// A fake hierarchy: `units` are (path below the root, the `cgroup.procs` text).
    fn hierarchy(units: &[(&str, &str)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for (rel, procs) in units {
            let dir = root.path().join(rel);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("cgroup.procs"), procs).unwrap();
        }
        root
    }

    #[test]
    fn scopes_and_services_holding_a_process_count() {
        const U: &str = "4706fe54-7802-4808-aa7e-ae8b567239e0";
        let user = "user.slice/user-1000.slice/user@1000.service/app.slice";
        let units = [
            (String::new(), "1\n".to_string()),
            // A launch whose first process ended: its child is in a cgroup below the scope.
            (
                format!("{user}/snap.shelf-clock.clock-{U}.scope"),
                String::new(),
            ),
            (
                format!("{user}/snap.shelf-clock.clock-{U}.scope/child"),
                "42\n".into(),
            ),
            // An emptied scope systemd is taking down.
            (
                format!("{user}/snap.shelf-clock.alarm-{U}.scope"),
                String::new(),
            ),
            (
                "system.slice/snap.shelf-clock.daemon.service".into(),
                "7\n".into(),
            ),
            // Another snap's, and a name that only looks alike.
            (
                format!("{user}/snap.shelf-clocks.timer-{U}.scope"),
                "8\n".into(),
            ),
            (
                format!("{user}/app-shelf-clock.timer-{U}.scope"),
                "9\n".into(),
            ),
        ];
        let units: Vec<(&str, &str)> = units
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let unified = hierarchy(&units);
        let apps = tracked_apps(unified.path(), "shelf-clock");
        assert_eq!(apps.into_iter().collect::<Vec<_>>(), ["clock", "daemon"]);
        // A hybrid host: systemd's named hierarchy below the root.
        let hybrid = hierarchy(&[
            ("systemd", "1\n"),
            (
                &format!("systemd/{user}/snap.shelf-clock.alarm-{U}.scope"),
                "5\n",
            ),
        ]);
        let apps = tracked_apps(hybrid.path(), "shelf-clock");
        assert_eq!(apps.into_iter().collect::<Vec<_>>(), ["alarm"]);
        // No hierarchy at all: nothing, and no error (the records answer).
        let none = tempfile::tempdir().unwrap();
        assert!(tracked_apps(&none.path().join("missing"), "shelf-clock").is_empty());
    }
}
