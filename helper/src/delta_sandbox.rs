//! The sandbox `xdelta3` runs in: the helper is root, and a delta is the store's word, so the
//! program that reads it gets nothing it does not need. It runs as `nobody` (no supplementary
//! groups), in a network namespace of its own (no network), with no_new_privs and confine's
//! system-call filter, with only its three files open (the delta on stdin, the rebuilt file on
//! stdout, the source as fd 3) and stderr for its words, and under limits on CPU time, memory
//! and the size of what it writes. A hostile delta that writes without end is stopped by the
//! file-size limit; one that computes without end by the CPU limit.
//!
//! The source is handed over as an anonymous copy (`O_TMPFILE`, mode 0444) in the same directory:
//! xdelta3 opens its source by name (`/proc/self/fd/3`), and `nobody` may not reopen the
//! installed revision's own file (root's, 0600). The copy is gone when the last descriptor is.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The descriptor number the source is given as.
pub const SOURCE_FD: i32 = 3;

/// What the sandboxed program may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// RLIMIT_FSIZE: the largest file it may write.
    pub file_size: u64,
    /// RLIMIT_CPU, in seconds (SIGXCPU, then SIGKILL a second later).
    pub cpu_seconds: u64,
    /// RLIMIT_AS: its address space.
    pub memory: u64,
}

/// Who the program runs as: `nobody`, or 65534 where no such user is known.
fn nobody() -> (u32, u32) {
    match nix::unistd::User::from_name("nobody") {
        Ok(Some(u)) => (u.uid.as_raw(), u.gid.as_raw()),
        _ => (65534, 65534),
    }
}

/// confine's default filter (no network families, no namespaces, mounts or kernel calls),
/// compiled once: loading it after fork must not allocate.
fn compiled_filter() -> std::io::Result<&'static [u8]> {
    static FILTER: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    let made = FILTER.get_or_init(|| {
        let compile = || -> std::io::Result<Vec<u8>> {
            // SAFETY: a plain system call with a NUL-terminated name.
            let fd = unsafe { libc::memfd_create(c"xdelta3-filter".as_ptr(), libc::MFD_CLOEXEC) };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: the descriptor was just made and is owned here only.
            let mut file = unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
            let allow = snapshelf_confine::seccomp::Allowances::default();
            snapshelf_confine::seccomp::export(allow, &file).map_err(std::io::Error::other)?;
            use std::io::{Read, Seek};
            file.rewind()?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            Ok(bytes)
        };
        compile().map_err(|e| e.to_string())
    });
    match made {
        Ok(b) => Ok(b),
        Err(e) => Err(std::io::Error::other(format!(
            "cannot compile the system-call filter: {e}"
        ))),
    }
}

/// An anonymous copy of `source` that `nobody` may read, in `dir` (beside the files, so that the
/// copy can share their blocks where the file system can).
pub fn readable_copy(source: &Path, dir: &Path) -> std::io::Result<File> {
    let mut from = File::open(source)?;
    let mut copy = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o444)
        .custom_flags(libc::O_TMPFILE)
        .open(dir)?;
    std::io::copy(&mut from, &mut copy)?;
    Ok(copy)
}

/// `bin args…` set up to run in the sandbox: `input` on stdin, `output` on stdout, `source` as
/// fd 3, stderr piped.
pub fn command(
    bin: &Path,
    args: &[&str],
    input: File,
    output: File,
    source: File,
    limits: Limits,
) -> std::io::Result<Command> {
    let filter = compiled_filter()?;
    let (uid, gid) = nobody();
    let source: OwnedFd = source.into();
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::from(input))
        .stdout(Stdio::from(output))
        .stderr(Stdio::piped());
    let source_raw = source.as_raw_fd();
    // SAFETY: between fork and exec only async-signal-safe calls are made (no allocation: the
    // filter is compiled and every value computed before); `source` lives until the command is
    // spawned, as the closure holds it.
    unsafe {
        cmd.pre_exec(move || {
            let _keep = &source;
            enter(source_raw, uid, gid, limits, filter)
        });
    }
    Ok(cmd)
}

/// In the child: descriptors, namespaces, limits, identity, no_new_privs, then the filter last
/// (it would refuse `unshare` and `setgroups`).
fn enter(source: i32, uid: u32, gid: u32, limits: Limits, filter: &[u8]) -> std::io::Result<()> {
    let check = |r: libc::c_int| {
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    // SAFETY: plain system calls on this (single-threaded, forked) process.
    unsafe {
        if source != SOURCE_FD {
            check(libc::dup2(source, SOURCE_FD))?;
        }
        // Everything but stdin, stdout, stderr and the source is closed.
        check(libc::syscall(libc::SYS_close_range, SOURCE_FD + 1, u32::MAX, 0) as libc::c_int)?;
        check(libc::unshare(libc::CLONE_NEWNET | libc::CLONE_NEWIPC))?;
        let set = |what, value: u64| {
            let lim = libc::rlimit {
                rlim_cur: value,
                rlim_max: value,
            };
            check(libc::setrlimit(what, &lim))
        };
        set(libc::RLIMIT_FSIZE, limits.file_size)?;
        set(libc::RLIMIT_AS, limits.memory)?;
        set(libc::RLIMIT_NOFILE, 16)?;
        set(libc::RLIMIT_CORE, 0)?;
        // The soft limit sends SIGXCPU; the hard one, a second later, SIGKILL.
        let cpu = libc::rlimit {
            rlim_cur: limits.cpu_seconds,
            rlim_max: limits.cpu_seconds + 1,
        };
        check(libc::setrlimit(libc::RLIMIT_CPU, &cpu))?;
        check(libc::setgroups(0, std::ptr::null()))?;
        check(libc::setresgid(gid, gid, gid))?;
        check(libc::setresuid(uid, uid, uid))?;
        check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
    }
    snapshelf_confine::seccomp::load_compiled(filter).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_root(test: &str) -> bool {
        let root = nix::unistd::geteuid().is_root();
        if !root {
            snapshelf_snap::testdata::record_skip(test, "needs root (namespaces, setuid)");
        }
        root
    }

    /// What a program sees in the sandbox: nobody, no network, no_new_privs, the filter, and only
    /// its three files (and stderr) open.
    #[test]
    fn the_sandbox_holds_what_it_says() {
        if !is_root("the_sandbox_holds_what_it_says") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("in"), "delta").unwrap();
        std::fs::write(dir.path().join("source"), "source bytes").unwrap();
        let source = readable_copy(&dir.path().join("source"), dir.path()).unwrap();
        let out_path = dir.path().join("out");
        let out = File::create(&out_path).unwrap();
        let script = "id -u; id -G; ls /proc/self/fd; grep -E '^(NoNewPrivs|Seccomp):' \
                      /proc/self/status; readlink /proc/self/ns/net; cat /proc/self/fd/3; echo; \
                      cat; echo; grep -E '^Max (file size|cpu time)' /proc/self/limits";
        let limits = Limits {
            file_size: 1 << 20,
            cpu_seconds: 5,
            memory: 1 << 30,
        };
        let input = File::open(dir.path().join("in")).unwrap();
        let mut cmd = command(
            Path::new("/bin/sh"),
            &["-c", script],
            input,
            out,
            source,
            limits,
        )
        .unwrap();
        let status = cmd.status().unwrap();
        assert!(status.success(), "{status}");
        let text = std::fs::read_to_string(&out_path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "65534", "{text}");
        assert_eq!(lines[1], "65534", "no supplementary groups: {text}");
        // ls's own descriptor for the directory it lists is the one extra.
        let fds: Vec<&str> = lines[2..]
            .iter()
            .take_while(|l| l.parse::<u32>().is_ok())
            .copied()
            .collect();
        assert_eq!(fds, vec!["0", "1", "2", "3", "4"], "{text}");
        assert!(text.contains("NoNewPrivs:\t1"), "{text}");
        assert!(text.contains("Seccomp:\t2"), "{text}");
        let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
        assert!(
            !text.contains(&ours.display().to_string()),
            "a network namespace of its own"
        );
        assert!(text.contains("source bytes\ndelta\n"), "{text}");
        let limit = |name: &str| {
            let line = lines.iter().find(|l| l.starts_with(name)).unwrap();
            line.split_whitespace()
                .skip(3)
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(limit("Max file size"), "1048576 1048576", "{text}");
        assert_eq!(limit("Max cpu time"), "5 6", "{text}");
    }
}
