//! `RunningApps`: which apps of a snap run now, from the records confine writes at launch
//! (`<root>/run/snapshelf/running/<snap>/<app>.<pid>`, holding the process's start time). A record
//! counts only while its PID lives with the same start time; any other record (the app ended,
//! or the PID was reused) is stale and removed here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::io::IoContext;
use crate::paths::Paths;

/// The records of `snap`.
pub fn snap_dir(paths: &Paths, snap: &str) -> PathBuf {
    paths.root().join("run/snapshelf/running").join(snap)
}

/// The start time of `pid` (`/proc/<pid>/stat` field 22), if it lives.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
    let rest = &text[text.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The sorted names of `snap`'s apps that run now.
pub fn running_apps(paths: &Paths, snap: &str) -> Result<Vec<String>> {
    snapshelf_snap::naming::validate_snap_name(snap)
        .map_err(|e| Error::invalid(format!("invalid snap name {snap:?}: {e}")))?;
    let dir = snap_dir(paths, snap);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).what("list", &dir),
    };
    let mut apps = BTreeSet::new();
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
}
