//! Background work at low priority: a download the update agent asked for in the background
//! (`Refresh` options `download-only` and `background`) writes and hashes on threads set to the
//! idle I/O class and the lowest CPU priority, so that it takes only what a person's own work
//! leaves. Linux sets both per thread (`ioprio_set` and `setpriority` with a thread id).

/// `IOPRIO_WHO_PROCESS` (a thread id is a "process" here), `IOPRIO_CLASS_IDLE`, and where the
/// class sits in an I/O priority value (linux/ioprio.h).
const IOPRIO_WHO_PROCESS: libc::c_int = 1;
pub const IOPRIO_CLASS_IDLE: libc::c_int = 3;
const IOPRIO_CLASS_SHIFT: libc::c_int = 13;

/// The CPU priority of background work: the lowest.
pub const BACKGROUND_NICE: libc::c_int = 19;

/// The calling thread lowered until this is dropped (a thread of tokio's blocking pool goes on to
/// other work afterwards, which must not stay slowed).
pub struct Lowered {
    tid: libc::pid_t,
    ioprio: libc::c_int,
    nice: libc::c_int,
}

/// The I/O priority of thread `tid` as the kernel has it (class << 13 | level), or an error.
pub fn ioprio_of(tid: libc::pid_t) -> std::io::Result<libc::c_int> {
    // SAFETY: ioprio_get reads two integers and returns one; no memory is shared.
    let v = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, tid) };
    if v < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(v as libc::c_int)
}

fn set_ioprio(tid: libc::pid_t, value: libc::c_int) -> std::io::Result<()> {
    // SAFETY: as above; ioprio_set only reads its integer arguments.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid, value) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn set_nice(tid: libc::pid_t, nice: libc::c_int) -> std::io::Result<()> {
    // SAFETY: setpriority reads integers only.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn nice_of(tid: libc::pid_t) -> std::io::Result<libc::c_int> {
    // getpriority may return -1 as a value: errno tells.
    // SAFETY: errno is this thread's; getpriority reads integers only.
    unsafe {
        *libc::__errno_location() = 0;
        let n = libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t);
        if n == -1 && *libc::__errno_location() != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(n)
    }
}

impl Lowered {
    /// Put the calling thread in the idle I/O class at nice 19. `None` (logged) when the kernel
    /// refuses: the work then runs at its usual priority rather than not at all.
    pub fn this_thread() -> Option<Lowered> {
        // SAFETY: gettid has no arguments and cannot fail.
        let tid = unsafe { libc::gettid() };
        let before = ioprio_of(tid).and_then(|io| Ok((io, nice_of(tid)?)));
        let lowered = before.and_then(|(ioprio, nice)| {
            set_ioprio(tid, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT)?;
            set_nice(tid, BACKGROUND_NICE)?;
            Ok(Lowered { tid, ioprio, nice })
        });
        match lowered {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(error = %e, "cannot lower a background download's priority");
                None
            }
        }
    }
}

impl Drop for Lowered {
    fn drop(&mut self) {
        // Raising the priority again needs CAP_SYS_NICE: the helper runs as root.
        if let Err(e) =
            set_ioprio(self.tid, self.ioprio).and_then(|_| set_nice(self.tid, self.nice))
        {
            tracing::warn!(error = %e, "cannot restore a thread's priority after a background download");
        }
    }
}

/// The I/O class part of an I/O priority value.
pub fn ioprio_class(value: libc::c_int) -> libc::c_int {
    value >> IOPRIO_CLASS_SHIFT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_lowered_and_restored() {
        std::thread::spawn(|| {
            // SAFETY: gettid cannot fail.
            let tid = unsafe { libc::gettid() };
            let (io, nice) = (ioprio_of(tid).unwrap(), nice_of(tid).unwrap());
            {
                let Some(_low) = Lowered::this_thread() else {
                    // Only a thread without CAP_SYS_NICE that starts below 19 cannot come back.
                    panic!("the kernel refused ioprio_set/setpriority on our own thread");
                };
                assert_eq!(ioprio_class(ioprio_of(tid).unwrap()), IOPRIO_CLASS_IDLE);
                assert_eq!(nice_of(tid).unwrap(), BACKGROUND_NICE);
            }
            if nice_of(tid).unwrap() != nice {
                // Raising priority needs CAP_SYS_NICE; root has it.
                assert_ne!(
                    unsafe { libc::geteuid() },
                    0,
                    "root restores the nice value"
                );
                return;
            }
            assert_eq!(ioprio_of(tid).unwrap(), io);
        })
        .join()
        .unwrap();
    }
}
