//! The record of a running app, for the helper's `RunningApps` query (the update agent holds a
//! snap's update while any of its apps runs, as snapd's refresh-app-awareness does).
//!
//! `<root>/run/snapshelf/running/<snap>/<app>.<pid>` holds the start time (in clock ticks after
//! boot, `/proc/<pid>/stat` field 22) of the process that lives as long as the app: the launcher
//! (the monitor outside the sandbox), or the app itself for a classic snap (exec keeps the PID).
//! The helper trusts a record only while that PID lives with that start time, so a record left
//! by a crash or a reused PID never counts; it removes such records itself.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::capabilities::raise;
use crate::sandbox::Power;

/// Where the records of `snap` live under `root`.
pub fn snap_dir(root: &Path, snap: &str) -> PathBuf {
    root.join("run/snapshelf/running").join(snap)
}

/// The start time of `pid` from its `/proc/<pid>/stat`, if it lives.
pub fn start_time(pid: u32) -> Option<u64> {
    // procfs reports no size: room for a whole line, read in one call.
    let mut text = String::with_capacity(1024);
    std::fs::File::open(format!("/proc/{pid}/stat"))
        .ok()?
        .read_to_string(&mut text)
        .ok()?;
    snapshelf_snap::tracking::parse_proc_stat(&text).map(|s| s.start_time)
}

/// Record this process as `snap`'s `app`. Best effort: without the privilege to write the
/// root-owned directory (an unprivileged copy of confine) the app runs unrecorded.
pub fn record(root: &Path, power: Power, snap: &str, app: &str) {
    if raise(power).is_err() {
        return;
    }
    write_record(root, snap, app);
    // What follows (the user's data, the session) is done as the user: no capability in effect.
    if power == Power::Privileged && !nix::unistd::getuid().is_root() {
        let _ = caps::clear(None, caps::CapSet::Effective);
    }
}

/// Take back this process's record of `snap`'s `app` (a launch that found a refresh begun after
/// it recorded itself waits unrecorded, so that the refresh does not count it as running).
pub fn forget(root: &Path, power: Power, snap: &str, app: &str) {
    if raise(power).is_err() {
        return;
    }
    let path = snap_dir(root, snap).join(format!("{app}.{}", std::process::id()));
    let _ = std::fs::remove_file(path);
    if power == Power::Privileged && !nix::unistd::getuid().is_root() {
        let _ = caps::clear(None, caps::CapSet::Effective);
    }
}

fn write_record(root: &Path, snap: &str, app: &str) {
    let pid = std::process::id();
    let dir = snap_dir(root, snap);
    let made = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(&dir);
    if made.is_err() {
        return;
    }
    // Read only once the record can be written (a launch in a user namespace cannot).
    let Some(started) = start_time(pid) else {
        return;
    };
    // Root's, so that a user cannot remove or rewrite another launch's record: the snap's
    // folder and the folders above it this launch may have made (`running`, `run/snapshelf`),
    // never through a link; the launcher trusts only records in root's folders.
    let mut up = Some(dir.as_path());
    for _ in 0..3 {
        let Some(d) = up else { break };
        let (Some(parent), Some(name)) = (d.parent(), d.file_name()) else {
            break;
        };
        if let Ok(p) = std::fs::File::open(parent) {
            use std::os::fd::AsFd;
            let _ = crate::sys::chown_at(p.as_fd(), &name.to_string_lossy(), 0, 0);
        }
        up = Some(parent);
    }
    let path = dir.join(format!("{app}.{pid}"));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&path);
    if let Ok(mut f) = file {
        let _ = nix::unistd::fchown(&f, Some(0.into()), Some(0.into()));
        let _ = writeln!(f, "{started}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time_is_read() {
        let t = start_time(std::process::id()).expect("this process's start time");
        assert_eq!(start_time(std::process::id()), Some(t));
        assert_eq!(start_time(u32::MAX), None);
    }

    #[test]
    fn record_names_app_and_pid() {
        let root = tempfile::tempdir().unwrap();
        record(root.path(), Power::UserNamespace, "shelf-clock", "clock");
        let path =
            snap_dir(root.path(), "shelf-clock").join(format!("clock.{}", std::process::id()));
        let text = std::fs::read_to_string(&path).expect("the record");
        assert_eq!(
            text.trim().parse::<u64>().ok(),
            start_time(std::process::id())
        );
    }
}
