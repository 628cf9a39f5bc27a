//! A snap's data folders: `/var/snap/<name>/<revision>` (`$SNAP_DATA`), `common`
//! (`$SNAP_COMMON`), and the snapshot a remove keeps under the state directory. Each operation is
//! idempotent, so a task can run it again after a crash.

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

/// Put a removed snap's kept data back as the data of `revision`.
pub fn restore_snapshot(paths: &Paths, name: &str, revision: &str) -> Result<()> {
    let snap = paths.snapshot_dir(name);
    move_if_present(&snap.join("data"), &paths.data_dir(name, revision))?;
    move_if_present(&snap.join("common"), &paths.common_dir(name))?;
    let _ = std::fs::remove_dir(&snap);
    Ok(())
}

/// The reverse of [`restore_snapshot`] (undoing a re-install).
pub fn save_snapshot(paths: &Paths, name: &str, revision: &str) -> Result<()> {
    let snap = paths.snapshot_dir(name);
    std::fs::create_dir_all(&snap).what("create", &snap)?;
    move_if_present(&paths.data_dir(name, revision), &snap.join("data"))?;
    move_if_present(&paths.common_dir(name), &snap.join("common"))?;
    Ok(())
}

/// After a remove: keep the current revision's data and `common` as a snapshot (or delete all with
/// purge), then delete the rest of `/var/snap/<name>`. Idempotent.
pub fn discard_data(paths: &Paths, name: &str, purge: bool, current: &str) -> Result<()> {
    if purge {
        crate::mount::remove_tree(&paths.snapshot_dir(name))?;
    } else if !current.is_empty() {
        let snap = paths.snapshot_dir(name);
        // A snapshot from an earlier remove is replaced by the newer data.
        if paths.data_dir(name, current).exists() || paths.common_dir(name).exists() {
            crate::mount::remove_tree(&snap)?;
        }
        std::fs::create_dir_all(&snap).what("create", &snap)?;
        move_if_present(&paths.data_dir(name, current), &snap.join("data"))?;
        move_if_present(&paths.common_dir(name), &snap.join("common"))?;
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
        discard_data(&paths, "a", false, "3").unwrap();
        discard_data(&paths, "a", false, "3").unwrap(); // idempotent
        assert!(!paths.data_root("a").exists());
        assert!(paths.snapshot_dir("a").join("data/f").exists());
        restore_snapshot(&paths, "a", "7").unwrap();
        assert_eq!(
            std::fs::read_to_string(paths.data_dir("a", "7").join("f")).unwrap(),
            "kept"
        );
        assert!(paths.common_dir("a").exists());
        assert!(!paths.snapshot_dir("a").exists());
        discard_data(&paths, "a", true, "7").unwrap();
        assert!(!paths.data_root("a").exists());
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
