//! Per-snap cookies (`SNAP_COOKIE`): a random secret made when a snap is first linked, kept 0600
//! under `/var/lib/snapshelf/cookies/snap.<name>` for confine to hand to the snap's processes, and
//! removed with the snap. A running hook gets a cookie of its own (`hook.<name>`), tied to its
//! change's pending configuration, for as long as the hook runs.

use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::io::IoContext;
use crate::paths::Paths;

pub fn dir(paths: &Paths) -> PathBuf {
    paths.state_dir().join("cookies")
}

pub fn snap_file(paths: &Paths, name: &str) -> PathBuf {
    dir(paths).join(format!("snap.{name}"))
}

pub fn hook_file(paths: &Paths, name: &str) -> PathBuf {
    dir(paths).join(format!("hook.{name}"))
}

/// 32 random bytes from the kernel, in hex.
pub fn random() -> Result<String> {
    let mut buf = [0u8; 32];
    let path = Path::new("/dev/urandom");
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut buf))
        .what("read", path)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Write `cookie` to `file`, 0600, replacing what was there in one step.
pub fn write(file: &Path, cookie: &str) -> Result<()> {
    let d = file.parent().expect("cookie files are in a directory");
    std::fs::create_dir_all(d).what("create", d)?;
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))
        .what("set the mode of", d)?;
    let tmp = file.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .what("create", &tmp)?;
    std::io::Write::write_all(&mut f, cookie.as_bytes()).what("write", &tmp)?;
    f.sync_all().what("sync", &tmp)?;
    std::fs::rename(&tmp, file).what("rename into place", file)?;
    Ok(())
}

/// The snap's cookie, made now if it has none (kept across refreshes and restarts).
pub fn ensure(paths: &Paths, name: &str) -> Result<()> {
    let file = snap_file(paths, name);
    match std::fs::symlink_metadata(&file) {
        Ok(m) if m.is_file() && m.len() == 64 => Ok(()),
        _ => write(&file, &random()?),
    }
}

/// Forget the snap's cookies. Idempotent.
pub fn remove(paths: &Paths, name: &str) -> Result<()> {
    for f in [snap_file(paths, name), hook_file(paths, name)] {
        match std::fs::remove_file(&f) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).what("remove", &f);
            }
            _ => {}
        }
    }
    Ok(())
}

/// The snap whose cookie `cookie` is, if any.
pub fn snap_of(paths: &Paths, cookie: &str) -> Option<String> {
    if cookie.len() != 64 {
        return None;
    }
    let d = dir(paths);
    for entry in std::fs::read_dir(&d).ok()?.flatten() {
        let file = entry.file_name().into_string().ok()?;
        let Some(name) = file.strip_prefix("snap.") else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        if constant_time_eq(text.as_bytes(), cookie.as_bytes()) {
            return Some(name.to_string());
        }
    }
    None
}

/// Compare secrets without telling by the time taken how much of them matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_made_once_private_and_found_by_value() {
        let t = tempfile::tempdir().unwrap();
        let paths = Paths::new(t.path());
        ensure(&paths, "one").unwrap();
        let c1 = std::fs::read_to_string(snap_file(&paths, "one")).unwrap();
        ensure(&paths, "one").unwrap();
        assert_eq!(
            std::fs::read_to_string(snap_file(&paths, "one")).unwrap(),
            c1
        );
        let mode = std::fs::metadata(snap_file(&paths, "one"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        ensure(&paths, "two").unwrap();
        assert_eq!(snap_of(&paths, &c1).as_deref(), Some("one"));
        assert_eq!(snap_of(&paths, &"0".repeat(64)), None);
        assert_eq!(snap_of(&paths, ""), None);
        remove(&paths, "one").unwrap();
        remove(&paths, "one").unwrap();
        assert_eq!(snap_of(&paths, &c1), None);
    }
}
