//! A snap's data folders: `/var/snap/<name>/<revision>` (`$SNAP_DATA`), `common`
//! (`$SNAP_COMMON`), and the snapshot a remove keeps under the state directory. Each operation is
//! idempotent, so a task can run it again after a crash.
//!
//! A snapshot is keyed by the removed snap's snap-id (a `snap-id` file beside `data` and
//! `common`): it is restored only into a later install with that same store identity, never into
//! another publisher's snap or a local file that merely has the same name. A snap installed from a
//! file has no snap-id, so its snapshot is never restored, and it never gets a store snap's.
//! Snapshots written before the key existed carry no `snap-id` file: with the snap's state gone
//! there is nothing to check them against, so they are not restored (they stay on disk until the
//! next remove of that name replaces them, or a purge deletes them).

use std::path::Path;

use crate::error::{Error, Result};
use crate::io::IoContext;
use crate::paths::Paths;

/// Copy a tree keeping modes, owners and links (`cp -a`: it handles every file type and xattrs).
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let tmp = to.with_file_name(format!(
        ".{}.copying",
        to.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    crate::mount::remove_tree(&tmp)?;
    let out = std::process::Command::new("cp")
        .arg("-a")
        .arg("--")
        .arg(from)
        .arg(&tmp)
        .output()
        .what("run cp -a to copy", from)?;
    if !out.status.success() {
        let _ = crate::mount::remove_tree(&tmp);
        return Err(Error::internal(format!(
            "cannot copy {} to {}: {}",
            from.display(),
            to.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    std::fs::rename(&tmp, to).what("rename the copy to", to)?;
    Ok(())
}

fn move_if_present(from: &Path, to: &Path) -> Result<()> {
    if std::fs::symlink_metadata(from).is_ok() && std::fs::symlink_metadata(to).is_err() {
        if let Some(p) = to.parent() {
            std::fs::create_dir_all(p).what("create", p)?;
        }
        std::fs::rename(from, to).what(&format!("move {} to", from.display()), to)?;
    }
    Ok(())
}

/// The file in a snapshot that names the snap-id it was taken from.
const SNAP_ID_FILE: &str = "snap-id";

/// Whether the snapshot kept for `name` may be restored into a snap whose snap-id is `snap_id`:
/// only when both are the same store snap (see the module's words).
pub fn snapshot_matches(paths: &Paths, name: &str, snap_id: &str) -> bool {
    if snap_id.is_empty() {
        return false;
    }
    let file = paths.snapshot_dir(name).join(SNAP_ID_FILE);
    match std::fs::read_to_string(&file) {
        Ok(kept) => kept.trim_end() == snap_id,
        Err(_) => false,
    }
}

/// Record whose data a snapshot holds (empty for a snap installed from a file).
fn write_snap_id(dir: &Path, snap_id: &str) -> Result<()> {
    let file = dir.join(SNAP_ID_FILE);
    let tmp = dir.join(".snap-id.new");
    std::fs::write(&tmp, format!("{snap_id}\n")).what("write", &tmp)?;
    std::fs::rename(&tmp, &file).what("rename to", &file)?;
    Ok(())
}

/// Put a removed snap's kept data back as the data of `revision`.
pub fn restore_snapshot(paths: &Paths, name: &str, revision: &str) -> Result<()> {
    let snap = paths.snapshot_dir(name);
    move_if_present(&snap.join("data"), &paths.data_dir(name, revision))?;
    move_if_present(&snap.join("common"), &paths.common_dir(name))?;
    // The key goes last: a crash before this leaves it, and the task's recorded decision, in place.
    let _ = std::fs::remove_file(snap.join(SNAP_ID_FILE));
    let _ = std::fs::remove_dir(&snap);
    Ok(())
}

/// The reverse of [`restore_snapshot`] (undoing a re-install of the snap `snap_id`).
pub fn save_snapshot(paths: &Paths, name: &str, revision: &str, snap_id: &str) -> Result<()> {
    let snap = paths.snapshot_dir(name);
    std::fs::create_dir_all(&snap).what("create", &snap)?;
    write_snap_id(&snap, snap_id)?;
    move_if_present(&paths.data_dir(name, revision), &snap.join("data"))?;
    move_if_present(&paths.common_dir(name), &snap.join("common"))?;
    Ok(())
}

/// After a remove: keep the current revision's data and `common` as a snapshot (or delete all with
/// purge), then delete the rest of `/var/snap/<name>`. The snapshot is keyed by `snap_id`, the
/// removed snap's. Idempotent.
pub fn discard_data(
    paths: &Paths,
    name: &str,
    purge: bool,
    current: &str,
    snap_id: &str,
) -> Result<()> {
    if purge {
        crate::mount::remove_tree(&paths.snapshot_dir(name))?;
    } else if !current.is_empty() {
        let snap = paths.snapshot_dir(name);
        // A snapshot from an earlier remove is replaced by the newer data; with no data to keep
        // (a crash after the moves below), the snapshot, and its key, stay as they are.
        if paths.data_dir(name, current).exists() || paths.common_dir(name).exists() {
            crate::mount::remove_tree(&snap)?;
            std::fs::create_dir_all(&snap).what("create", &snap)?;
            // Keyed before the data moves in: a snapshot never holds data without its owner's id.
            write_snap_id(&snap, snap_id)?;
            move_if_present(&paths.data_dir(name, current), &snap.join("data"))?;
            move_if_present(&paths.common_dir(name), &snap.join("common"))?;
        }
    }
    crate::mount::remove_tree(&paths.data_root(name))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_move_data_and_come_back() {
        let root = tempfile::tempdir().unwrap();
        let paths = Paths::new(root.path());
        std::fs::create_dir_all(paths.data_dir("a", "3")).unwrap();
        std::fs::write(paths.data_dir("a", "3").join("f"), "kept").unwrap();
        std::fs::create_dir_all(paths.common_dir("a")).unwrap();
        std::fs::create_dir_all(paths.data_dir("a", "2")).unwrap();
        discard_data(&paths, "a", false, "3", "id-a").unwrap();
        discard_data(&paths, "a", false, "3", "id-a").unwrap(); // idempotent
        assert!(!paths.data_root("a").exists());
        assert!(paths.snapshot_dir("a").join("data/f").exists());
        assert!(snapshot_matches(&paths, "a", "id-a"));
        restore_snapshot(&paths, "a", "7").unwrap();
        assert_eq!(
            std::fs::read_to_string(paths.data_dir("a", "7").join("f")).unwrap(),
            "kept"
        );
        assert!(paths.common_dir("a").exists());
        assert!(!paths.snapshot_dir("a").exists());
        discard_data(&paths, "a", true, "7", "id-a").unwrap();
        assert!(!paths.data_root("a").exists());
        assert!(!paths.snapshot_dir("a").exists());
    }

    #[test]
    fn snapshots_go_back_only_to_the_same_store_snap() {
        let root = tempfile::tempdir().unwrap();
        let paths = Paths::new(root.path());
        let keep = |id: &str| {
            std::fs::create_dir_all(paths.data_dir("a", "3")).unwrap();
            discard_data(&paths, "a", false, "3", id).unwrap();
        };
        // A store snap's data: only that snap-id gets it, not another publisher's snap of the
        // same name, nor a local file (no snap-id).
        keep("id-a");
        assert!(snapshot_matches(&paths, "a", "id-a"));
        assert!(!snapshot_matches(&paths, "a", "id-other"));
        assert!(!snapshot_matches(&paths, "a", ""));
        assert!(!snapshot_matches(&paths, "b", "id-a"));
        // A local snap's data goes to no one, not even a store snap or another local file.
        keep("");
        assert!(!snapshot_matches(&paths, "a", "id-a"));
        assert!(!snapshot_matches(&paths, "a", ""));
        // A snapshot from before the key (no snap-id file) is not restored.
        keep("id-a");
        std::fs::remove_file(paths.snapshot_dir("a").join(SNAP_ID_FILE)).unwrap();
        assert!(!snapshot_matches(&paths, "a", "id-a"));
        // Undoing a restore keys the snapshot again.
        save_snapshot(&paths, "a", "3", "id-a").unwrap();
        assert!(snapshot_matches(&paths, "a", "id-a"));
        restore_snapshot(&paths, "a", "3").unwrap();
        assert!(!paths.snapshot_dir("a").exists());
    }

    #[test]
    fn copy_tree_copies_everything() {
        let root = tempfile::tempdir().unwrap();
        let from = root.path().join("from");
        std::fs::create_dir_all(from.join("sub")).unwrap();
        std::fs::write(from.join("sub/f"), "x").unwrap();
        std::os::unix::fs::symlink("sub/f", from.join("link")).unwrap();
        let to = root.path().join("to");
        copy_tree(&from, &to).unwrap();
        assert_eq!(std::fs::read_to_string(to.join("sub/f")).unwrap(), "x");
        assert!(std::fs::symlink_metadata(to.join("link"))
            .unwrap()
            .file_type()
            .is_symlink());
    }
}
