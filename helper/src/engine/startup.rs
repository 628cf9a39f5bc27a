//! What the engine does once at start-up, after settling interrupted changes and before the
//! helper takes its bus name: the root's scratch folders, confine's compiled filters, and every
//! installed snap brought back to what the state says (mounts do not survive a reboot; links may
//! be stale after a crash), with what an undone change left removed.

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::Engine;
use crate::error::Result;
use crate::io::IoContext;
use crate::paths::Paths;

/// Confine keeps each snap's private /tmp under the root's /tmp (a scratch root has none).
pub(super) fn ensure_root_tmp(paths: &Paths) -> Result<()> {
    let tmp = paths.root().join("tmp");
    if !tmp.exists() {
        std::fs::create_dir_all(&tmp).what("create", &tmp)?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777))
            .what("set the mode of", &tmp)?;
    }
    Ok(())
}

/// Compile confine's system-call filters once, for every launch to read (root-owned, 0644). A
/// failure only costs launches the time to compile their own.
pub(super) fn write_seccomp_filters(root: &Path) {
    use snapshelf_confine::seccomp;
    let dir = seccomp::COMPILED_DIR
        .iter()
        .fold(root.to_path_buf(), |p, c| p.join(c));
    let written = (|| -> Result<()> {
        std::fs::create_dir_all(&dir).what("create", &dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .what("set the mode of", &dir)?;
        for (name, allow) in seccomp::variants() {
            let tmp = dir.join(format!(".{name}.tmp"));
            let f = std::fs::File::create(&tmp).what("create", &tmp)?;
            seccomp::export(allow, &f)
                .map_err(std::io::Error::other)
                .what("export a filter to", &tmp)?;
            f.sync_all().what("write", &tmp)?;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))
                .what("set the mode of", &tmp)?;
            let dest = dir.join(name);
            std::fs::rename(&tmp, &dest).what("rename a filter to", &dest)?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        tracing::warn!(error = %e, "cannot write the compiled system-call filters");
    }
}

impl Engine {
    /// Mount every kept revision and point each snap's links at its current one; remove stray
    /// mounts, folders of snaps the state does not know, and leftover downloads.
    pub(super) fn restore_system(&self) -> Result<()> {
        let paths = self.paths().clone();
        let sys = self.system();
        let snaps = self.installed()?;
        let mut wanted = HashSet::new();
        for snap in &snaps {
            for rev in &snap.sequence {
                let dir = paths.mount_point(&snap.name, &rev.revision);
                wanted.insert(dir.clone());
                let blob = paths.blob(&snap.name, &rev.revision);
                if let Err(e) = sys.mount(&blob, &dir) {
                    tracing::error!(snap = %snap.name, revision = %rev.revision, error = %e, "cannot mount");
                }
            }
        }
        for snap in &snaps {
            let linked = self.dbus_effective(snap, None);
            if let Err(e) = sys.link(&linked, &self.base_revision(snap), &self.content_for(snap)) {
                tracing::error!(snap = %snap.name, error = %e, "cannot restore links and profiles");
            }
        }
        // Mounts under /snap that the state does not know about are leftovers of an undone change.
        for m in sys.mounts_under(&paths.snap_mount_dir()) {
            if !wanted.contains(&m) {
                tracing::info!(mount = %m.display(), "removing a stray mount");
                let _ = sys.unmount(&m);
            }
        }
        let known: HashSet<&str> = snaps.iter().map(|s| s.name.as_str()).collect();
        self.remove_unknown_snap_dirs(&known);
        remove_leftover_downloads(&paths);
        // Interrupted changes are settled and the links restored: no launch has a refresh to
        // wait for any more (a hint a crash left would hold it for ever).
        if let Err(e) = crate::inhibit::clear_all(&paths) {
            tracing::error!(error = %e, "cannot clear run inhibitions");
        }
        Ok(())
    }

    /// Folders under /snap of snaps the state does not know (what an undo interrupted by a crash
    /// can leave: an empty mount point, a `current` link) go, unless something is mounted there.
    fn remove_unknown_snap_dirs(&self, known: &HashSet<&str>) {
        let paths = self.paths();
        let Ok(entries) = std::fs::read_dir(paths.snap_mount_dir()) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let dir = e.path();
            if name == "bin"
                || known.contains(name.as_str())
                || !self.system().mounts_under(&dir).is_empty()
            {
                continue;
            }
            if std::fs::symlink_metadata(&dir)
                .map(|m| m.is_dir())
                .unwrap_or(false)
            {
                tracing::info!(dir = %dir.display(), "removing what an interrupted change left");
                let _ = self.system().remove_tree(&dir);
            }
        }
    }
}

/// Partial downloads and files `InstallFile` was still taking in when the helper stopped.
fn remove_leftover_downloads(paths: &Paths) {
    let Ok(entries) = std::fs::read_dir(paths.blobs_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".partial") || name.starts_with(".incoming-") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
