//! One session bus proxy for all the running instances of a snap that need the same one (the same
//! bus, the same rules), instead of one per launch: its memory is then shared among them.
//!
//! In the app's runtime directory (the user's, 0700): `.dbus-proxy-current.<key>`, a symbolic link
//! to the id of the proxy in use (`<pid of the launch that started it>-<random>`: a PID may be
//! reused while the proxy lives on), whose socket is `.dbus-proxy.<id>` and whose lifeline is the
//! FIFO `.dbus-proxy-life.<id>`. The proxy holds the FIFO's write end and
//! exits once it has no reader left; every launch that uses the proxy holds a reader until it ends.
//! Launches start, join and leave under the lock `.lock.dbus-proxy`, so the readers never all go
//! while a launch is joining: a proxy found with readers is one that stays.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag};

use crate::sys::{self, Kind};

const LOCK: &str = ".lock.dbus-proxy";

/// How long a launch waits for another to finish with the lock before it starts its own proxy.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// What the monitor needs to leave the shared proxy at the end of the launch.
struct Membership {
    dir: OwnedFd,
    key: String,
    id: String,
    reader: OwnedFd,
}

static MEMBERSHIP: Mutex<Option<Membership>> = Mutex::new(None);

/// A stable name for the proxy an app needs (FNV-1a of the bus address and the rules): launches
/// that need the same proxy find the same one.
pub fn key(addr: &str, rules: &[String]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in std::iter::once(addr).chain(rules.iter().map(String::as_str)) {
        for b in part.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The directory's lock, taken (or `None` when another launch holds it too long).
fn lock(dir: BorrowedFd<'_>) -> Option<OwnedFd> {
    let fd = nix::fcntl::openat(
        dir,
        LOCK,
        OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .ok()?;
    if sys::kind_of(&sys::stat(fd.as_fd()).ok()?) != Kind::File {
        return None;
    }
    let start = Instant::now();
    loop {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Some(fd);
        }
        if start.elapsed() > LOCK_WAIT {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn open_fifo(dir: BorrowedFd<'_>, name: &str, write: bool) -> nix::Result<OwnedFd> {
    let mode = if write {
        OFlag::O_WRONLY
    } else {
        OFlag::O_RDONLY
    };
    let fd = nix::fcntl::openat(
        dir,
        name,
        mode | OFlag::O_NONBLOCK | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let st = sys::stat(fd.as_fd())?;
    if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) != SFlag::S_IFIFO {
        return Err(Errno::EINVAL);
    }
    Ok(fd)
}

/// What [`join`] found.
enum Found {
    /// A reader of a proxy that is alive and stays so.
    Joined(OwnedFd),
    /// The proxy has gone, or is going: what it left may be removed.
    Gone,
    /// Something else (a descriptor refused, a file that is no FIFO): left alone.
    Unknown,
}

/// Join the proxy `id` if it is alive and stays so: other launches still hold readers (they leave
/// only under the lock we hold), and the proxy still holds the write end.
fn join(dir: BorrowedFd<'_>, id: &str) -> Found {
    let life = format!(".dbus-proxy-life.{id}");
    let open = |write| match open_fifo(dir, &life, write) {
        Ok(fd) => Ok(fd),
        // No reader left (ENXIO), or no lifeline at all: the proxy has gone or is going.
        Err(Errno::ENXIO | Errno::ENOENT) => Err(Found::Gone),
        Err(_) => Err(Found::Unknown),
    };
    let (before, reader) = match (open(true), open(false)) {
        (Ok(w), Ok(r)) => (w, r),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    // A writer opened after our reader, then closed: the reader reports a hang-up now unless
    // another writer (the proxy) is there.
    match open(true) {
        Ok(w) => drop(w),
        Err(e) => return e,
    }
    drop(before);
    let mut pfd = libc::pollfd {
        fd: reader.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd of ours, no waiting.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    if n == 0 || pfd.revents & libc::POLLHUP == 0 {
        Found::Joined(reader)
    } else {
        Found::Gone
    }
}

/// The proxy for `key` in `dir` (`runtime` is its path): joined when one runs, else started by
/// `start(socket, lifeline write end, lifeline reader)`. Returns the socket's path; this launch's
/// reader of the lifeline is kept in the process (the monitor and the reaper inherit it, the app
/// does not) until [`leave`]. `None` when the lock cannot be had: the caller starts a proxy of its
/// own.
pub fn obtain(
    dir: BorrowedFd<'_>,
    runtime: &str,
    key: &str,
    start: impl FnOnce(&str, OwnedFd, BorrowedFd<'_>) -> Result<(), String>,
) -> Option<Result<String, String>> {
    let _lock = lock(dir)?;
    let current = format!(".dbus-proxy-current.{key}");
    let found = sys::readlink_at(dir, &current)
        .ok()
        .and_then(|p| p.into_string().ok())
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'));
    if let Some(id) = &found {
        match join(dir, id) {
            Found::Joined(reader) => return Some(Ok(remember(dir, key, id, reader, runtime))),
            Found::Gone => remove(dir, id),
            Found::Unknown => {}
        }
    }
    let id = format!(
        "{}-{:08x}",
        std::process::id(),
        crate::owned_dir::random_u64() as u32
    );
    let life = format!(".dbus-proxy-life.{id}");
    let _ = nix::unistd::unlinkat(dir, life.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
    let made = nix::unistd::mkfifoat(dir, life.as_str(), Mode::from_bits_truncate(0o600));
    let opened = made.and_then(|()| {
        let reader = open_fifo(dir, &life, false)?;
        let writer = open_fifo(dir, &life, true)?;
        Ok((reader, writer))
    });
    let (reader, writer) = match opened {
        Ok(fds) => fds,
        Err(e) => return Some(Err(format!("cannot make its lifeline {life}: {e}"))),
    };
    let socket = format!("{runtime}/.dbus-proxy.{id}");
    if let Err(e) = start(&socket, writer, reader.as_fd()) {
        remove(dir, &id);
        return Some(Err(e));
    }
    // Put in place in one step: a launch reading the link sees the old proxy or the new one.
    let aside = format!("{current}.new-{id}");
    let _ = nix::unistd::unlinkat(dir, aside.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
    let linked = nix::unistd::symlinkat(id.as_str(), dir, aside.as_str())
        .and_then(|()| nix::fcntl::renameat(dir, aside.as_str(), dir, current.as_str()));
    if let Err(e) = linked {
        // It still serves this launch; later ones start their own.
        eprintln!("snapshelf-confine: warning: cannot share the session bus proxy: {e}");
    }
    Some(Ok(remember(dir, key, &id, reader, runtime)))
}

/// Keep the reader (the only descriptor of it: the FIFO counts a reader per open file, not per
/// copy) and what [`leave`] needs.
fn remember(dir: BorrowedFd<'_>, key: &str, id: &str, reader: OwnedFd, runtime: &str) -> String {
    let dir = dir.try_clone_to_owned();
    let mut m = MEMBERSHIP.lock().unwrap_or_else(|e| e.into_inner());
    match dir {
        Ok(dir) => {
            *m = Some(Membership {
                dir,
                key: key.to_string(),
                id: id.to_string(),
                reader,
            })
        }
        // Without a directory to leave by, the reader is simply held to the end.
        Err(_) => std::mem::forget(reader),
    }
    format!("{runtime}/.dbus-proxy.{id}")
}

/// The lifeline and the socket of the proxy `id` started, once that proxy is gone or going.
fn remove(dir: BorrowedFd<'_>, id: &str) {
    for name in [
        format!(".dbus-proxy-life.{id}"),
        format!(".dbus-proxy.{id}"),
    ] {
        let _ = nix::unistd::unlinkat(dir, name.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
    }
}

/// At the end of the launch (in the monitor, once the sandbox is gone, every other copy of the
/// reader with it): let go of the proxy under the lock; the last launch out removes what the
/// proxy leaves behind (the proxy removes its socket itself when it sees no reader).
pub fn leave() {
    let Some(m) = MEMBERSHIP.lock().ok().and_then(|mut m| m.take()) else {
        return;
    };
    let lock = lock(m.dir.as_fd());
    drop(m.reader);
    let life = format!(".dbus-proxy-life.{}", m.id);
    let none_left = matches!(open_fifo(m.dir.as_fd(), &life, true), Err(Errno::ENXIO));
    if lock.is_some() && none_left {
        let current = format!(".dbus-proxy-current.{}", m.key);
        let named = sys::readlink_at(m.dir.as_fd(), &current).ok();
        if named.as_deref().and_then(|p| p.to_str()) == Some(m.id.as_str()) {
            let _ = nix::unistd::unlinkat(
                m.dir.as_fd(),
                current.as_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
        let _ = nix::unistd::unlinkat(
            m.dir.as_fd(),
            life.as_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    #[test]
    fn keys_are_stable_and_follow_bus_and_rules() {
        let rules = vec!["--filter".to_string(), "--talk=a.b".to_string()];
        assert_eq!(key("unix:path=/b", &rules), key("unix:path=/b", &rules));
        assert_ne!(key("unix:path=/b", &rules), key("unix:path=/c", &rules));
        assert_ne!(
            key("unix:path=/b", &rules),
            key("unix:path=/b", &rules[..1])
        );
        // Parts are delimited: moving a byte between two parts gives another key.
        assert_ne!(key("ab", &["c".into()]), key("a", &["bc".into()]));
    }

    /// A stand-in for the proxy: says it is ready on the lifeline, then holds it.
    fn fake_proxy(writer: OwnedFd) -> std::process::Child {
        let fd = writer.as_raw_fd();
        let mut c = Command::new("sh");
        c.args(["-c", &format!("printf x >&{fd}; exec sleep 30")]);
        // SAFETY: only fcntl between fork and exec.
        unsafe {
            c.pre_exec(move || {
                libc::fcntl(fd, libc::F_SETFD, 0);
                Ok(())
            });
        }
        let child = c.spawn().unwrap();
        drop(writer);
        child
    }

    #[test]
    fn a_running_proxy_is_joined_and_a_gone_one_is_replaced() {
        // A test forking meanwhile would hold a copy of the lifeline's ends: the proxy would not
        // be gone when its process is, nor the last reader left.
        let _alone = crate::fork_lock();
        let t = tempfile::tempdir().unwrap();
        let dir = sys::open_trusted(t.path()).unwrap();
        let mut child = None;
        let socket = obtain(dir.as_fd(), "/rt", "k1", |socket, w, r| {
            assert!(socket.starts_with(&format!("/rt/.dbus-proxy.{}-", std::process::id())));
            child = Some(fake_proxy(w));
            let mut pfd = libc::pollfd {
                fd: r.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one pollfd of ours.
            assert_eq!(unsafe { libc::poll(&mut pfd, 1, 5000) }, 1);
            let mut b = [0u8; 1];
            assert_eq!(nix::unistd::read(r, &mut b), Ok(1));
            Ok(())
        })
        .expect("the lock")
        .expect("a proxy");
        let link = sys::readlink_at(dir.as_fd(), ".dbus-proxy-current.k1").unwrap();
        let id = link.into_string().unwrap();
        assert_eq!(socket, format!("/rt/.dbus-proxy.{id}"));
        // Another launch joins while this one still holds its reader and the proxy runs.
        let Found::Joined(joined) = join(dir.as_fd(), &id) else {
            panic!("the running proxy is not joined");
        };
        // The proxy gone: nobody joins it any more.
        let mut child = child.unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            matches!(join(dir.as_fd(), &id), Found::Gone),
            "a dead proxy is not seen gone"
        );
        drop(joined);
        // This launch leaves last: the lifeline and the link go.
        leave();
        let life = format!(".dbus-proxy-life.{id}");
        assert!(
            sys::stat_at(dir.as_fd(), &life).is_err(),
            "the lifeline is left"
        );
        assert!(sys::readlink_at(dir.as_fd(), ".dbus-proxy-current.k1").is_err());
    }
}
