//! Making a revision's files appear at `/snap/<name>/<rev>`: a read-only loop mount of the squashfs,
//! or, where the kernel cannot (no loop devices, no squashfs), a read-only extraction with backhand.
//!
//! Loop set-up is left to util-linux's `mount` (it finds a free loop device, sets it up with
//! autoclear and tears it down on unmount), which is what snapd's mount units do too.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("cannot mount {file} at {dir}: {message}")]
    Mount {
        file: PathBuf,
        dir: PathBuf,
        message: String,
    },
    #[error("cannot unmount {dir}: {message}")]
    Unmount { dir: PathBuf, message: String },
    #[error("cannot extract {file}: {message}")]
    Extract { file: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MountError + '_ {
    move |source| MountError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// How a revision was made visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    Loop,
    Extracted,
}

/// Decode the octal escapes mountinfo uses for spaces and the like.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                out.push(v as u8);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points currently in this mount namespace, from `/proc/self/mountinfo`.
pub fn mount_points() -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .collect()
}

pub fn is_mounted(dir: &Path) -> bool {
    mount_points().iter().any(|p| p == dir)
}

/// Mount points at or below `dir` (deepest first), for clean-up.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = mount_points()
        .into_iter()
        .filter(|p| p.starts_with(dir))
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    v.dedup();
    v
}

/// Make `file` visible read-only at `dir`. Idempotent: an existing mount or extraction is kept.
/// `allow_loop = false` forces extraction (tests of the fallback, kernels without loop devices).
pub fn mount(file: &Path, dir: &Path, allow_loop: bool) -> Result<MountKind, MountError> {
    if is_mounted(dir) {
        return Ok(MountKind::Loop);
    }
    if extraction_complete(dir) {
        return Ok(MountKind::Extracted);
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    if allow_loop {
        let out = Command::new("mount")
            .args(["-t", "squashfs", "-o", "loop,ro,nodev"])
            .arg(file)
            .arg(dir)
            .output()
            .map_err(|e| MountError::Mount {
                file: file.into(),
                dir: dir.into(),
                message: format!("cannot run mount: {e}"),
            })?;
        if out.status.success() {
            return Ok(MountKind::Loop);
        }
        tracing::warn!(
            file = %file.display(),
            error = %String::from_utf8_lossy(&out.stderr).trim(),
            "the kernel cannot mount this snap; extracting it instead"
        );
    }
    extract(file, dir)?;
    Ok(MountKind::Extracted)
}

/// Marker written last into an extracted revision: without it the extraction is incomplete.
const EXTRACTED_MARKER: &str = ".snapshelf-extracted";

fn marker_dir(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.with_file_name(format!(".{name}{EXTRACTED_MARKER}"))
}

fn extraction_complete(dir: &Path) -> bool {
    marker_dir(dir).exists() && dir.is_dir()
}

fn extract(file: &Path, dir: &Path) -> Result<(), MountError> {
    // Extract next to the target and rename, so a crash never leaves a half tree at the target.
    let staging = dir.with_file_name(format!(
        ".{}.extracting",
        dir.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    if staging.exists() {
        remove_tree(&staging)?;
    }
    let snap = snapshelf_snap::squashfs::SnapFile::open(file).map_err(|e| MountError::Extract {
        file: file.into(),
        message: e.to_string(),
    })?;
    snap.extract_to(&staging).map_err(|e| MountError::Extract {
        file: file.into(),
        message: e.to_string(),
    })?;
    make_read_only(&staging)?;
    if dir.exists() {
        std::fs::remove_dir(dir).map_err(io(dir))?;
    }
    std::fs::rename(&staging, dir).map_err(io(dir))?;
    std::fs::write(marker_dir(dir), b"").map_err(io(dir))?;
    Ok(())
}

fn make_read_only(dir: &Path) -> Result<(), MountError> {
    for entry in walk(dir)? {
        let meta = std::fs::symlink_metadata(&entry).map_err(io(&entry))?;
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode() & !0o222;
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode))
            .map_err(io(&entry))?;
    }
    Ok(())
}

/// Every path under `dir`, children before their directory (so modes can be tightened bottom-up).
fn walk(dir: &Path) -> Result<Vec<PathBuf>, MountError> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), false)];
    while let Some((p, visited)) = stack.pop() {
        if visited {
            out.push(p);
            continue;
        }
        let meta = std::fs::symlink_metadata(&p).map_err(io(&p))?;
        if meta.is_dir() {
            stack.push((p.clone(), true));
            for e in std::fs::read_dir(&p).map_err(io(&p))? {
                let e = e.map_err(io(&p))?;
                stack.push((e.path(), false));
            }
        } else {
            out.push(p);
        }
    }
    Ok(out)
}

/// Delete a tree we made, read-only parts included. Never follows symlinks.
pub fn remove_tree(dir: &Path) -> Result<(), MountError> {
    if std::fs::symlink_metadata(dir).is_err() {
        return Ok(());
    }
    for p in walk(dir)?.iter().rev() {
        // Directories first need their write bit back so that their entries can go.
        if let Ok(meta) = std::fs::symlink_metadata(p) {
            if meta.is_dir() {
                let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700));
            }
        }
    }
    std::fs::remove_dir_all(dir).map_err(io(dir))
}

/// Undo [`mount`]: unmount (or delete the extraction) and remove the mount point. Idempotent.
pub fn unmount(dir: &Path) -> Result<(), MountError> {
    if is_mounted(dir) {
        let out = Command::new("umount")
            .arg(dir)
            .output()
            .map_err(|e| MountError::Unmount {
                dir: dir.into(),
                message: format!("cannot run umount: {e}"),
            })?;
        if !out.status.success() {
            // Busy (an app is running from it): detach lazily so the change can finish; the loop
            // device goes away with the last user.
            let lazy = Command::new("umount").arg("-l").arg(dir).output();
            if !lazy.map(|o| o.status.success()).unwrap_or(false) {
                return Err(MountError::Unmount {
                    dir: dir.into(),
                    message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
                });
            }
        }
    }
    let marker = marker_dir(dir);
    if marker.exists() {
        remove_tree(dir)?;
        let _ = std::fs::remove_file(&marker);
    }
    let staging = dir.with_file_name(format!(
        ".{}.extracting",
        dir.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    remove_tree(&staging)?;
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(MountError::Io {
            path: dir.into(),
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert_eq!(unescape_mountinfo("/end\\"), "/end\\");
    }

    #[test]
    fn our_root_is_a_mount_point() {
        assert!(mount_points().iter().any(|p| p == Path::new("/")));
    }
}
