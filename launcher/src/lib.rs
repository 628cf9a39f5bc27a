//! `io.snapcraft.Launcher` on the session bus, as snapd's `usersession/userd/launcher.go` serves
//! it: the `xdg-open` of a core base (and GTK's fallback when no portal answers) asks it to open
//! a link or a file on the host. What it accepts is decided here, without side effects, so that
//! it is tested on its own; `main.rs` serves it and runs the host's `xdg-open`.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::stat::{fstat, stat, SFlag};

pub const BUS_NAME: &str = "io.snapcraft.Launcher";
pub const OBJECT_PATH: &str = "/io/snapcraft/Launcher";

/// snapd's allow-list (`allowedURLSchemes`): schemes whose handlers take no file path from the
/// URL. Others pass only when the desktop has a handler registered for them (as in snapd).
pub const ALLOWED_SCHEMES: &[&str] = &[
    "apt",
    "help",
    "http",
    "https",
    "mailto",
    "msteams",
    "slack",
    "snap",
    "zoommtg",
    "zoomphonecall",
    "zoomus",
];

/// Schemes never passed on, even with a handler: they open files (`xdg-open` would open the path)
/// or run code in whatever handles them.
pub const NEVER_SCHEMES: &[&str] = &["file", "javascript", "data", "vbscript"];

/// Why a request is not carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `org.freedesktop.DBus.Error.InvalidArgs`: not a URL at all.
    Invalid(String),
    /// `org.freedesktop.DBus.Error.AccessDenied`: a URL or a file the launcher will not open.
    Denied(String),
}

/// What to do with `addr`: `Ok(Some(scheme))` when the scheme is on the allow-list, `Ok(None)`
/// when it may pass only with a registered handler (the caller asks `xdg-mime`), or a refusal.
pub fn check_url(addr: &str) -> Result<Option<String>, Refusal> {
    if addr.chars().any(char::is_control) {
        return Err(Refusal::Invalid(format!("{addr:?} is not a URL")));
    }
    let parsed = match url::Url::parse(addr) {
        Ok(u) => u,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Err(Refusal::Denied(format!(
                "cannot open URL {addr:?} without a scheme"
            )))
        }
        Err(e) => return Err(Refusal::Invalid(format!("{addr:?} is not a URL: {e}"))),
    };
    let scheme = parsed.scheme().to_string();
    if NEVER_SCHEMES.contains(&scheme.as_str()) {
        return Err(Refusal::Denied(format!(
            "Supplied URL scheme \"{scheme}\" is not allowed"
        )));
    }
    Ok(ALLOWED_SCHEMES
        .contains(&scheme.as_str())
        .then_some(scheme.clone()))
}

/// Whether `xdg-mime query default x-scheme-handler/<scheme>`'s answer names a desktop file
/// (snapd's `validDesktopFileName`): then the desktop has a handler for the scheme.
pub fn names_desktop_file(answer: &str) -> bool {
    let name = answer.trim();
    let Some(stem) = name.strip_suffix(".desktop") else {
        return false;
    };
    let part_ok = |p: &str| {
        let mut chars = p.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '-' || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    !stem.is_empty() && stem.split('.').all(part_ok)
}

/// The path of the file behind a descriptor an app handed over (snapd's `fdToFilename`): not an
/// `O_PATH` descriptor (which grants no access), the path `/proc/self/fd/N` names must still be
/// the same inode, and only a regular file or a directory.
pub fn fd_to_filename(fd: BorrowedFd<'_>) -> Result<PathBuf, Refusal> {
    let denied = |why: String| Refusal::Denied(why);
    let flags = fcntl(fd, FcntlArg::F_GETFL).map_err(|e| denied(e.to_string()))?;
    if OFlag::from_bits_truncate(flags).contains(OFlag::O_PATH) {
        return Err(denied(
            "cannot use file descriptors opened using O_PATH".into(),
        ));
    }
    let path = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|e| denied(format!("cannot determine the file name: {e}")))?;
    let by_path = stat(&path).map_err(|e| denied(format!("{}: {e}", path.display())))?;
    let by_fd = fstat(fd).map_err(|e| denied(e.to_string()))?;
    if (by_path.st_dev, by_path.st_ino) != (by_fd.st_dev, by_fd.st_ino) {
        return Err(denied("cannot determine file name".into()));
    }
    let kind = SFlag::from_bits_truncate(by_path.st_mode & SFlag::S_IFMT.bits());
    if kind != SFlag::S_IFREG && kind != SFlag::S_IFDIR {
        return Err(denied(
            "cannot open anything other than regular files or directories".into(),
        ));
    }
    Ok(path)
}

/// Where `snapshelf-confine` records running apps (`running/<snap>/<app>.<pid>`, root's, holding
/// the start time of the process that lives as long as the app).
pub const RUNNING_DIR: &str = "/run/snapshelf/running";

/// The snap a caller on the session bus belongs to, from the process ID the bus reports for its
/// connection (snapd's userd asks the same, then reads the process's AppArmor label). A sandboxed
/// app's calls come from its launch's monitor, which connects to the bus for each of the app's
/// clients and filters them (a bus proxy, when one ran, was a child of it); a classic app calls
/// as itself. Either way confine's root-owned record of the monitor (or of the
/// classic app) names the snap, and only while that process lives with the recorded start time,
/// so a reused PID or a record left behind never names anyone. `None`: not an app of ours.
pub fn snap_of_caller(running: &Path, pid: u32) -> Option<String> {
    let mut candidates = vec![pid];
    candidates.extend(parent_of(pid));
    candidates
        .into_iter()
        .find_map(|p| recorded_snap(running, p))
}

/// The parent of `pid`, from `/proc/<pid>/stat` (field 4, after the parenthesised name).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// `/proc/<pid>/stat` field 22, the start time in clock ticks after boot.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// The snap whose record names `pid` with its current start time; records and their folders
/// must be root's and writable by nobody else (a user cannot claim a snap's name).
fn recorded_snap(running: &Path, pid: u32) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let trusted = |m: &std::fs::Metadata| m.uid() == 0 && m.mode() & 0o022 == 0;
    // `running` and the folder holding it: whoever may rename in them could relabel a record.
    let parent = running.parent().unwrap_or(Path::new("/"));
    for dir in [running, parent] {
        if !trusted(&std::fs::symlink_metadata(dir).ok()?) {
            return None;
        }
    }
    let started = start_time(pid)?;
    let suffix = format!(".{pid}");
    for snap in std::fs::read_dir(running).ok()?.flatten() {
        let meta = snap.metadata().ok()?;
        if !meta.is_dir() || !trusted(&meta) {
            continue;
        }
        for entry in std::fs::read_dir(snap.path()).ok()?.flatten() {
            let named = entry.file_name().to_string_lossy().ends_with(&suffix);
            let Ok(meta) = entry.metadata() else { continue };
            if !named || !meta.is_file() || !trusted(&meta) {
                continue;
            }
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            if text.trim().parse::<u64>().ok() == Some(started) {
                return Some(snap.file_name().to_string_lossy().into_owned());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn callers_are_named_by_root_owned_records_of_live_processes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let running = dir.path().join("running");
        std::fs::create_dir_all(running.join("shelf-player")).unwrap();
        let me = std::process::id();
        let record = running.join(format!("shelf-player/player.{me}"));
        let started = start_time(me).unwrap();
        std::fs::write(&record, format!("{started}\n")).unwrap();
        let root = nix::unistd::getuid().is_root();
        // Records count only when root's (the test can make them so only as root).
        assert_eq!(
            snap_of_caller(&running, me),
            root.then(|| "shelf-player".to_string())
        );
        // A child of the recorded process is named too (a bus proxy, when confine ran one).
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        assert_eq!(
            snap_of_caller(&running, child.id()),
            root.then(|| "shelf-player".to_string())
        );
        let _ = child.kill();
        let _ = child.wait();
        // Another start time: a reused PID names nobody.
        std::fs::write(&record, format!("{}\n", started + 1)).unwrap();
        assert_eq!(snap_of_caller(&running, me), None);
        // A record anybody may write names nobody.
        std::fs::write(&record, format!("{started}\n")).unwrap();
        std::fs::set_permissions(&record, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(snap_of_caller(&running, me), None);
        assert_eq!(snap_of_caller(&dir.path().join("missing"), me), None);
    }

    #[test]
    fn the_allow_list_and_what_is_never_passed() {
        assert_eq!(
            check_url("https://example.org/a?b=c"),
            Ok(Some("https".into()))
        );
        assert_eq!(
            check_url("mailto:ann@example.org"),
            Ok(Some("mailto".into()))
        );
        assert_eq!(check_url("HTTP://EXAMPLE.ORG"), Ok(Some("http".into())));
        assert_eq!(check_url("snap:shelf-hello"), Ok(Some("snap".into())));
        // Unknown: only with a handler.
        assert_eq!(check_url("tg://resolve?domain=x"), Ok(None));
        for never in [
            "file:///etc/passwd",
            "FILE:///home",
            "javascript:alert(1)",
            "data:text/html,x",
        ] {
            assert!(
                matches!(check_url(never), Err(Refusal::Denied(_))),
                "{never}"
            );
        }
        assert!(
            matches!(check_url("example.org"), Err(Refusal::Denied(m)) if m.contains("without a scheme"))
        );
        assert!(matches!(
            check_url("https://a\nb"),
            Err(Refusal::Invalid(_))
        ));
        assert!(matches!(check_url("http://[::1"), Err(Refusal::Invalid(_))));
    }

    #[test]
    fn handlers_are_desktop_file_names() {
        assert!(names_desktop_file("org.telegram.desktop.desktop\n"));
        assert!(names_desktop_file("firefox.desktop"));
        assert!(!names_desktop_file(""));
        assert!(!names_desktop_file(".desktop"));
        assert!(!names_desktop_file("../evil.desktop"));
        assert!(!names_desktop_file("1abc.desktop"));
        assert!(!names_desktop_file("xdg-mime: no default"));
    }

    #[test]
    fn descriptors_name_their_files_or_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.txt");
        std::fs::write(&file, "x").unwrap();
        let f = std::fs::File::open(&file).unwrap();
        assert_eq!(fd_to_filename(f.as_fd()).unwrap(), file);
        let d = std::fs::File::open(dir.path()).unwrap();
        assert_eq!(fd_to_filename(d.as_fd()).unwrap(), dir.path());
        // Followed through a rename; removed and replaced, its name no longer leads to it.
        std::fs::rename(&file, dir.path().join("b.txt")).unwrap();
        assert_eq!(fd_to_filename(f.as_fd()).unwrap(), dir.path().join("b.txt"));
        std::fs::remove_file(dir.path().join("b.txt")).unwrap();
        std::fs::write(dir.path().join("b.txt"), "y").unwrap();
        assert!(fd_to_filename(f.as_fd()).is_err());
        let p = nix::fcntl::open(
            &dir.path().join("b.txt"),
            OFlag::O_PATH | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        assert!(
            matches!(fd_to_filename(p.as_fd()), Err(Refusal::Denied(m)) if m.contains("O_PATH"))
        );
        let null = std::fs::File::open("/dev/null").unwrap();
        assert!(fd_to_filename(null.as_fd()).is_err());
    }
}
