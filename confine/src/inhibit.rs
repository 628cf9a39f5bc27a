//! Waiting while a refresh replaces the snap (snapd's `snap run` over `runinhibit`): the helper
//! writes the hint `refresh` into `<root>/var/lib/snapshelf/inhibit/<snap>.lock` from before it
//! copies the snap's data until the new revision is linked (helper/src/inhibit.rs). A launch that
//! finds it says so on stderr once, waits until the file is empty or gone, and only then reads the
//! profile, so it runs the new revision and never a half-switched one.
//!
//! The file is trusted only as root's regular file that no one else may write, read without
//! following a link; anything else (a link, another owner, a hint that is not `refresh`) refuses
//! the launch naming the file, and the file is left as it is.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// How often a held launch looks again (snapd's `snap run` looks every 500 ms).
const POLL: Duration = Duration::from_millis(500);

/// The hint file of `snap` under `root`.
pub fn lock_file(root: &Path, snap: &str) -> PathBuf {
    root.join("var/lib/snapshelf/inhibit")
        .join(format!("{snap}.lock"))
}

/// Whether a refresh of `snap` holds its launches now.
pub fn inhibited(root: &Path, snap: &str) -> Result<bool> {
    let path = lock_file(root, snap);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Error::Untrusted(format!(
                "{} is a symbolic link: not a run inhibition the helper wrote",
                path.display()
            )))
        }
        Err(e) => {
            return Err(Error::Invalid(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    };
    let meta = file
        .metadata()
        .map_err(|e| Error::Invalid(format!("cannot read {}: {e}", path.display())))?;
    if !meta.is_file() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(Error::Untrusted(format!(
            "{} is not a regular file of root's that only root may write",
            path.display()
        )));
    }
    // The hint is a short word: more than a few bytes is not one.
    let mut text = Vec::with_capacity(16);
    file.take(64)
        .read_to_end(&mut text)
        .map_err(|e| Error::Invalid(format!("cannot read {}: {e}", path.display())))?;
    match text.as_slice() {
        b"" => Ok(false),
        b"refresh" => Ok(true),
        other => Err(Error::Invalid(format!(
            "{}: unknown run inhibition hint {:?} (expected \"refresh\" or nothing)",
            path.display(),
            String::from_utf8_lossy(other)
        ))),
    }
}

/// Wait while a refresh holds `snap`'s launches, saying so on stderr once. Returns whether it
/// waited (then what was read before, the profile above all, must be read again).
pub fn wait(root: &Path, snap: &str) -> Result<bool> {
    let mut waited = false;
    while inhibited(root, snap)? {
        if !waited {
            eprintln!("snap package \"{snap}\" is being refreshed, please wait");
            waited = true;
        }
        std::thread::sleep(POLL);
    }
    Ok(waited)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(root: &Path, snap: &str, text: &str) -> PathBuf {
        let path = lock_file(root, snap);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn as_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    #[test]
    fn nothing_or_an_empty_hint_is_no_inhibition() {
        let root = tempfile::tempdir().unwrap();
        assert!(!inhibited(root.path(), "shelf-clock").unwrap());
        assert!(!wait(root.path(), "shelf-clock").unwrap());
        let path = hint(root.path(), "shelf-clock", "");
        if as_root() {
            assert!(!inhibited(root.path(), "shelf-clock").unwrap());
            std::fs::write(&path, "refresh").unwrap();
            assert!(inhibited(root.path(), "shelf-clock").unwrap());
        } else {
            // Not root's: refused.
            assert!(matches!(
                inhibited(root.path(), "shelf-clock"),
                Err(Error::Untrusted(_))
            ));
        }
    }

    #[test]
    fn a_launch_waits_until_the_hint_goes() {
        if !as_root() {
            return; // the file must be root's
        }
        let root = tempfile::tempdir().unwrap();
        let path = hint(root.path(), "shelf-clock", "refresh");
        let remover = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(700));
            std::fs::write(&path, "").unwrap();
        });
        let started = std::time::Instant::now();
        assert!(wait(root.path(), "shelf-clock").unwrap());
        assert!(started.elapsed() >= Duration::from_millis(700));
        remover.join().unwrap();
    }

    #[test]
    fn links_garbage_and_loose_modes_are_refused_and_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let victim = root.path().join("victim");
        std::fs::write(&victim, "refresh").unwrap();
        let path = lock_file(root.path(), "shelf-clock");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let e = inhibited(root.path(), "shelf-clock").unwrap_err();
        assert!(matches!(e, Error::Untrusted(_)), "{e}");
        assert!(e.to_string().contains("shelf-clock.lock"), "{e}");
        assert!(std::fs::symlink_metadata(&path).unwrap().is_symlink());
        std::fs::remove_file(&path).unwrap();
        if as_root() {
            hint(root.path(), "shelf-clock", "\u{0}garbage");
            let e = inhibited(root.path(), "shelf-clock").unwrap_err();
            assert!(matches!(e, Error::Invalid(_)), "{e}");
            assert!(e.to_string().contains("unknown run inhibition hint"), "{e}");
            assert_eq!(std::fs::read(&path).unwrap(), b"\0garbage");
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(&path, "refresh").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
            let e = inhibited(root.path(), "shelf-clock").unwrap_err();
            assert!(matches!(e, Error::Untrusted(_)), "{e}");
        }
    }
}
