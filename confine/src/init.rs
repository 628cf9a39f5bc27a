//! The processes of a launch once the PID namespace is made: the launcher itself stays outside as
//! the *monitor* (it waits, passes signals on and serves the buses' filtering relays); its child is
//! PID 1 of the new namespace, builds the sandbox and then stays as the *reaper* of the app it
//! starts as PID 2. The app's exit status comes back through both: an exit code as the launcher's
//! exit code, a death by signal as the launcher's own death by the same signal.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::sys::signal::{self, SigHandler, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use crate::error::{Context, Error, Result};

/// Where forwarded signals go: the reaper's PID in the monitor; in the reaper the app's, then, once
/// the app is gone, -1: every process left in the sandbox (PID 1 is never among them).
static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

/// Signals sent to the launcher that belong to the app. The terminal's own (SIGINT, SIGQUIT,
/// SIGTSTP, SIGWINCH) reach the app directly: it stays in the terminal's foreground group.
const FORWARDED: &[Signal] = &[
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

extern "C" fn forward(sig: libc::c_int) {
    let pid = FORWARD_TO.load(Ordering::Relaxed);
    if pid != 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

fn forward_signals_to(pid: Pid) -> Result<()> {
    FORWARD_TO.store(pid.as_raw(), Ordering::Relaxed);
    for sig in FORWARDED {
        // SAFETY: the handler only calls kill.
        unsafe { signal::signal(*sig, SigHandler::Handler(forward)) }
            .what(|| format!("cannot forward {sig}"))?;
    }
    Ok(())
}

/// In the monitor: wait for the reaper and end as the app ended. `status` is the read end of the
/// pipe the reaper reports a death by signal on.
pub fn monitor(reaper: Pid, status: OwnedFd) -> ! {
    let _ = forward_signals_to(reaper);
    for sig in [Signal::SIGINT, Signal::SIGQUIT] {
        // The app gets these from the terminal itself; the monitor must outlive it.
        // SAFETY: ignoring a signal installs no handler.
        let _ = unsafe { signal::signal(sig, SigHandler::SigIgn) };
    }
    // The buses' filtering relays, until the reaper is gone (it holds the other end of `status`).
    crate::auth_relay::serve_until(status.as_fd());
    let code = loop {
        match waitpid(reaper, None) {
            Ok(WaitStatus::Exited(_, code)) => break code,
            Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => break 70,
        }
    };
    crate::timing::mark("monitor: reaper gone");
    let mut byte = [0u8; 1];
    // SAFETY: a one-byte read into our buffer; the write end is closed once the reaper is gone.
    let n = unsafe { libc::read(status.as_raw_fd(), byte.as_mut_ptr().cast(), 1) };
    if n == 1 {
        if let Ok(sig) = Signal::try_from(i32::from(byte[0])) {
            die_by(sig);
        }
    }
    std::process::exit(code)
}

/// End this process by `sig`, as the app did (without a core file of our own).
fn die_by(sig: Signal) {
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on our own process.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        let _ = signal::signal(sig, SigHandler::SigDfl);
        let _ = signal::sigprocmask(
            signal::SigmaskHow::SIG_UNBLOCK,
            Some(&signal::SigSet::from(sig)),
            None,
        );
        libc::raise(sig as libc::c_int);
    }
}

/// The variables by which systemd names the process it means, the service's main one (here the
/// launcher): `LISTEN_PID` with passed sockets (`sd_listen_fds`), `WATCHDOG_PID` with a watchdog
/// (`sd_watchdog_enabled`). The app heeds them only when they name the app itself.
const OWN_PID_VARS: [&[u8]; 2] = [b"LISTEN_PID=", b"WATCHDOG_PID="];

/// Start the app in a child. With `posix_spawn` (a vfork-style clone: no copy of the reaper's
/// memory, which a fork would make only for the exec to throw away), unless systemd named its
/// main process in [`OWN_PID_VARS`] (socket activation, a watchdog): only the child knows its PID
/// in the sandbox, so the child is forked, sets them to it and executes the app.
fn spawn(argv: &[CString], envp: &[CString]) -> std::result::Result<libc::pid_t, Errno> {
    let ptrs = |v: &[CString]| -> Vec<*mut libc::c_char> {
        v.iter()
            .map(|s| s.as_ptr().cast_mut())
            .chain(std::iter::once(std::ptr::null_mut()))
            .collect()
    };
    let own_pid: Vec<usize> = (0..envp.len())
        .filter(|&i| {
            OWN_PID_VARS
                .iter()
                .any(|v| envp[i].as_bytes().starts_with(v))
        })
        .collect();
    if own_pid.is_empty() {
        let (c_argv, c_envp) = (ptrs(argv), ptrs(envp));
        let mut pid: libc::pid_t = 0;
        // SAFETY: both arrays are NUL-terminated lists of pointers to C strings that outlive the
        // call; no file actions or attributes.
        let r = unsafe {
            libc::posix_spawn(
                &mut pid,
                c_argv[0],
                std::ptr::null(),
                std::ptr::null(),
                c_argv.as_ptr(),
                c_envp.as_ptr(),
            )
        };
        return if r == 0 {
            Ok(pid)
        } else {
            Err(Errno::from_raw(r))
        };
    }
    // The exec's failure comes back on a pipe that the exec itself closes.
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // SAFETY: the reaper is one thread; the child only builds its environment and executes.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => {
            drop(r);
            let mut envp = envp.to_vec();
            for i in own_pid {
                let name = envp[i]
                    .as_bytes()
                    .split(|b| *b == b'=')
                    .next()
                    .unwrap_or_default();
                let mut me = name.to_vec();
                me.extend(format!("={}", std::process::id()).bytes());
                envp[i] = CString::new(me).unwrap_or_default();
            }
            let (c_argv, c_envp) = (ptrs(argv), ptrs(&envp));
            // SAFETY: NUL-terminated arrays of C strings that live until the exec.
            unsafe { libc::execve(c_argv[0], c_argv.as_ptr().cast(), c_envp.as_ptr().cast()) };
            let errno = Errno::last_raw().to_ne_bytes();
            let _ = nix::unistd::write(&w, &errno);
            // SAFETY: leaving the child without running the reaper's exit handlers.
            unsafe { libc::_exit(127) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(w);
            let mut buf = [0u8; 4];
            let n = loop {
                match nix::unistd::read(&r, &mut buf) {
                    Err(Errno::EINTR) => continue,
                    other => break other.unwrap_or(0),
                }
            };
            if n == 4 {
                let _ = waitpid(child, None);
                return Err(Errno::from_raw(i32::from_ne_bytes(buf)));
            }
            Ok(child.as_raw())
        }
    }
}

/// In the reaper (PID 1): start the app (`argv[0]` with `argv` and `envp`) in a child, pass
/// signals on to it, reap every process of the sandbox, and exit once none is left, with the app's
/// status. The child is made by [`spawn`].
pub fn reap(argv: &[CString], envp: &[CString], status: OwnedFd) -> Result<Infallible> {
    let pid = match spawn(argv, envp) {
        Ok(pid) => pid,
        Err(errno) => {
            // The exec's own failure, reported back by the child.
            let e = Error::Exec {
                path: argv[0].to_string_lossy().to_string(),
                errno,
            };
            eprintln!("snapshelf-confine: {e}");
            std::process::exit(e.exit_code());
        }
    };
    crate::timing::mark("spawn");
    let app = Pid::from_raw(pid);
    let _ = forward_signals_to(app);
    let mut app_status = None;
    loop {
        match waitpid(None::<Pid>, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == app => {
                app_status = Some(Ok(code));
                FORWARD_TO.store(-1, Ordering::Relaxed);
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == app => {
                app_status = Some(Err(sig));
                FORWARD_TO.store(-1, Ordering::Relaxed);
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    crate::timing::mark("reaped");
    let code = match app_status {
        Some(Ok(code)) => code,
        Some(Err(sig)) => {
            let byte = [sig as u8];
            // SAFETY: a one-byte write from our buffer.
            unsafe { libc::write(status.as_raw_fd(), byte.as_ptr().cast(), 1) };
            128 + sig as i32
        }
        None => 70,
    };
    std::process::exit(code)
}
