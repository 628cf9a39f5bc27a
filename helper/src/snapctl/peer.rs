//! Who is at the other end of the socket, by what the kernel says (SO_PEERCRED), never by what
//! the caller claims: a process in another mount namespace than the helper's whose root shows
//! the snap's own `/var/snap/<name>`, the very directory confine binds into that snap's sandbox
//! alone.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::paths::Paths;

/// Why a peer is refused; the words go back to the caller.
pub fn check_sandbox(paths: &Paths, pid: Option<i32>, snap: &str) -> Result<(), String> {
    let pid = pid
        .filter(|p| *p > 0)
        .ok_or("cannot tell which process is calling")?;
    let ns = |p: &str| std::fs::metadata(p).map(|m| (m.dev(), m.ino())).ok();
    let theirs = ns(&format!("/proc/{pid}/ns/mnt")).ok_or("cannot inspect the calling process")?;
    if Some(theirs) == ns("/proc/self/ns/mnt") {
        return Err("snapctl can only be used from inside a snap".into());
    }
    let host = paths.data_root(snap);
    let inside = Path::new(&format!("/proc/{pid}/root"))
        .join("var/snap")
        .join(snap);
    let same = match (
        std::fs::symlink_metadata(&host),
        std::fs::symlink_metadata(&inside),
    ) {
        (Ok(h), Ok(i)) => i.is_dir() && (h.dev(), h.ino()) == (i.dev(), i.ino()),
        _ => false,
    };
    if !same {
        return Err(format!(
            "the caller is not running in the sandbox of snap {snap:?}"
        ));
    }
    Ok(())
}
