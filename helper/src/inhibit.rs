//! Run inhibition (snapd's `runinhibit`): while a refresh replaces a snap's revision, from before
//! its data is copied until the new revision is linked, `<root>/var/lib/snapshelf/inhibit/<snap>.lock`
//! holds the hint `refresh` and `<snap>.refresh` the revision being replaced (`{"previous":"<rev>"}`),
//! in snapd's shape. `snapshelf-confine` reads the lock before it reads the app's profile and makes
//! a new launch wait while the hint is there (confine/src/inhibit.rs), so that no launch sees a
//! half-switched revision.
//!
//! Files are written beside their final name and renamed over it, so a symbolic link (or anything
//! else) found there is replaced, never followed; release removes both names, a link itself and
//! not what it points at. The directory is root's (0755) and the files 0644: confine, running as
//! the user, trusts them only so.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::io::IoContext;
use crate::paths::Paths;

/// The hint a refresh writes (snapd's `HintInhibitedForRefresh`).
pub const HINT_REFRESH: &str = "refresh";

/// `/var/lib/snapshelf/inhibit`
pub fn dir(paths: &Paths) -> PathBuf {
    paths.state_dir().join("inhibit")
}

/// The hint file of `snap`: empty or missing when its launches may go ahead.
pub fn lock_file(paths: &Paths, snap: &str) -> PathBuf {
    dir(paths).join(format!("{snap}.lock"))
}

/// The information file beside it: which revision is being replaced.
pub fn info_file(paths: &Paths, snap: &str) -> PathBuf {
    dir(paths).join(format!("{snap}.{HINT_REFRESH}"))
}

/// Make new launches of `snap` wait: its revision `previous` is being replaced.
pub fn lock(paths: &Paths, snap: &str, previous: &str) -> Result<()> {
    let d = dir(paths);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(&d)
        .what("create", &d)?;
    let info = serde_json::json!({ "previous": previous }).to_string();
    replace(&info_file(paths, snap), info.as_bytes())?;
    // The hint last: a launch that sees it finds the information already there.
    replace(&lock_file(paths, snap), HINT_REFRESH.as_bytes())
}

/// Let launches of `snap` go ahead again (nothing to do when none were held).
pub fn unlock(paths: &Paths, snap: &str) -> Result<()> {
    // The hint first: once it is gone, launches go ahead whatever else is left.
    remove(&lock_file(paths, snap))?;
    remove(&info_file(paths, snap))
}

/// Whether launches of `snap` are held now (for the engine's tests and the helper's own checks).
pub fn is_locked(paths: &Paths, snap: &str) -> bool {
    let path = lock_file(paths, snap);
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => std::fs::read(&path).is_ok_and(|b| b == HINT_REFRESH.as_bytes()),
        _ => false,
    }
}

/// At start-up, once interrupted changes are settled, nothing is being refreshed: every hint left
/// by a crash goes, so no launch waits for a refresh that will never end.
pub fn clear_all(paths: &Paths) -> Result<()> {
    let d = dir(paths);
    let entries = match std::fs::read_dir(&d) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).what("list", &d),
    };
    for entry in entries {
        let path = entry.what("list", &d)?.path();
        // A directory there is not ours to take apart; anything else (a file, a link) goes.
        if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_dir()) {
            tracing::info!(file = %path.display(), "removed a run inhibition left by an interrupted refresh");
            remove(&path)?;
        }
    }
    Ok(())
}

fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp~");
    remove(&tmp)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .what("create", &tmp)?;
    f.write_all(bytes).what("write", &tmp)?;
    f.sync_all().what("sync", &tmp)?;
    drop(f);
    std::fs::rename(&tmp, path).what(&format!("rename {} to", tmp.display()), path)
}

fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).what("remove", path),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_writes_snapds_shape_and_unlock_removes_it() {
        let root = tempfile::tempdir().unwrap();
        let paths = Paths::new(root.path());
        assert!(!is_locked(&paths, "shelf-clock"));
        lock(&paths, "shelf-clock", "3").unwrap();
        assert!(is_locked(&paths, "shelf-clock"));
        let lock_text = std::fs::read_to_string(lock_file(&paths, "shelf-clock")).unwrap();
        assert_eq!(lock_text, "refresh");
        let info = std::fs::read_to_string(info_file(&paths, "shelf-clock")).unwrap();
        assert_eq!(info, r#"{"previous":"3"}"#);
        // Again: idempotent, as a task run twice after a crash must be.
        lock(&paths, "shelf-clock", "3").unwrap();
        unlock(&paths, "shelf-clock").unwrap();
        unlock(&paths, "shelf-clock").unwrap();
        assert!(!is_locked(&paths, "shelf-clock"));
        assert_eq!(std::fs::read_dir(dir(&paths)).unwrap().count(), 0);
    }

    #[test]
    fn a_planted_link_is_replaced_never_followed() {
        let root = tempfile::tempdir().unwrap();
        let paths = Paths::new(root.path());
        let victim = root.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        std::fs::create_dir_all(dir(&paths)).unwrap();
        std::os::unix::fs::symlink(&victim, lock_file(&paths, "shelf-clock")).unwrap();
        std::os::unix::fs::symlink(&victim, info_file(&paths, "shelf-clock")).unwrap();
        // A link is not a held launch.
        assert!(!is_locked(&paths, "shelf-clock"));
        lock(&paths, "shelf-clock", "3").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert!(is_locked(&paths, "shelf-clock"));
        std::os::unix::fs::symlink(&victim, lock_file(&paths, "other")).unwrap();
        clear_all(&paths).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert_eq!(std::fs::read_dir(dir(&paths)).unwrap().count(), 0);
    }

    #[test]
    fn garbage_is_not_a_hint_and_clear_all_removes_it() {
        let root = tempfile::tempdir().unwrap();
        let paths = Paths::new(root.path());
        std::fs::create_dir_all(dir(&paths)).unwrap();
        std::fs::write(lock_file(&paths, "shelf-clock"), b"\x00\xffgarbage").unwrap();
        assert!(!is_locked(&paths, "shelf-clock"));
        clear_all(&paths).unwrap();
        assert!(!lock_file(&paths, "shelf-clock").exists());
        // No directory at all is nothing to clear.
        std::fs::remove_dir(dir(&paths)).unwrap();
        clear_all(&paths).unwrap();
    }
}
