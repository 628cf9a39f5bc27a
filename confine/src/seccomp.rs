//! The system-call filter, in the spirit of snapd's template: everything is allowed but what lets a
//! program leave or reshape its sandbox, reach into the kernel, or type into another terminal.
//! Denied calls fail with `EPERM` (never a kill, so programs can fall back). Connected interfaces
//! lift their part of the list.

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};

use crate::error::{Error, Result};

/// Calls denied outright.
pub const DENIED: &[&str] = &[
    // Mounts and namespaces: the sandbox's shape is fixed once it is built.
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    // The kernel itself.
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "reboot",
    "swapon",
    "swapoff",
    "syslog",
    "acct",
    "quotactl",
    "quotactl_fd",
    "lookup_dcookie",
    "iopl",
    "ioperm",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "stime",
    "vhangup",
    "nfsservctl",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    // Keyrings are shared with the host session.
    "keyctl",
    "add_key",
    "request_key",
    // File handles bypass the mount namespace (the "shocker" escape).
    "open_by_handle_at",
    "name_to_handle_at",
    // Other processes.
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
];

/// The namespace flags `clone` may not carry.
const CLONE_NS_FLAGS: &[u64] = &[
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWCGROUP as u64,
];

/// What connected interfaces allow beyond the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allowances {
    /// `network`: AF_INET and AF_INET6 sockets.
    pub inet: bool,
}

fn syscall(name: &str) -> Option<ScmpSyscall> {
    // A name this architecture does not have is simply not there to deny.
    ScmpSyscall::from_name(name).ok()
}

fn fail(what: &str, e: libseccomp::error::SeccompError) -> Error {
    Error::Unsupported {
        what: format!("cannot build the system-call filter ({what}: {e})"),
        errno: nix::errno::Errno::EINVAL,
    }
}

/// Build the filter (not loaded yet).
pub fn filter(allow: Allowances) -> Result<ScmpFilterContext> {
    let eperm = ScmpAction::Errno(libc::EPERM);
    let mut ctx = ScmpFilterContext::new(ScmpAction::Allow).map_err(|e| fail("context", e))?;
    // The other ABIs of this machine obey the same rules (an i386 `int 0x80` is not a way around).
    #[cfg(target_arch = "x86_64")]
    for arch in [ScmpArch::X86, ScmpArch::X32] {
        ctx.add_arch(arch).map_err(|e| fail("architecture", e))?;
    }
    for name in DENIED {
        if let Some(sc) = syscall(name) {
            ctx.add_rule(eperm, sc).map_err(|e| fail(name, e))?;
        }
    }
    if let Some(sc) = syscall("ptrace") {
        // Tracing another process is denied; a process may still ask to be traced.
        ctx.add_rule_conditional(
            eperm,
            sc,
            &[ScmpArgCompare::new(
                0,
                ScmpCompareOp::NotEqual,
                libc::PTRACE_TRACEME as u64,
            )],
        )
        .map_err(|e| fail("ptrace", e))?;
    }
    if let Some(sc) = syscall("clone") {
        for flag in CLONE_NS_FLAGS {
            ctx.add_rule_conditional(
                eperm,
                sc,
                &[ScmpArgCompare::new(
                    0,
                    ScmpCompareOp::MaskedEqual(*flag),
                    *flag,
                )],
            )
            .map_err(|e| fail("clone", e))?;
        }
    }
    if let Some(sc) = syscall("clone3") {
        // Its flags are behind a pointer that a filter cannot read: say "not here" and let libc
        // fall back to clone, whose flags we can check.
        ctx.add_rule(ScmpAction::Errno(libc::ENOSYS), sc)
            .map_err(|e| fail("clone3", e))?;
    }
    if let Some(sc) = syscall("ioctl") {
        // Compared at full width: the high bits of the request must not sneak past (CVE-2019-7303).
        for request in [libc::TIOCSTI, libc::TIOCLINUX] {
            ctx.add_rule_conditional(
                eperm,
                sc,
                &[ScmpArgCompare::new(
                    1,
                    ScmpCompareOp::MaskedEqual(0xffff_ffff),
                    request,
                )],
            )
            .map_err(|e| fail("ioctl", e))?;
        }
    }
    if !allow.inet {
        if let Some(sc) = syscall("socket") {
            for family in [libc::AF_INET, libc::AF_INET6] {
                ctx.add_rule_conditional(
                    eperm,
                    sc,
                    &[ScmpArgCompare::new(0, ScmpCompareOp::Equal, family as u64)],
                )
                .map_err(|e| fail("socket", e))?;
            }
        }
        if let Some(sc) = syscall("socketcall") {
            ctx.add_rule(eperm, sc).map_err(|e| fail("socketcall", e))?;
        }
    }
    // We set no_new_privs ourselves, before loading.
    ctx.set_ctl_nnp(false).map_err(|e| fail("nnp", e))?;
    Ok(ctx)
}

/// Load the filter into this thread (it is inherited across exec).
pub fn load(allow: Allowances) -> Result<()> {
    filter(allow)?.load().map_err(|e| Error::Unsupported {
        what: format!("cannot load the system-call filter: {e}"),
        errno: nix::errno::Errno::EINVAL,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_builds_with_and_without_network() {
        let a = filter(Allowances { inet: false }).unwrap();
        let b = filter(Allowances { inet: true }).unwrap();
        let bpf = |f: &ScmpFilterContext| {
            let file = tempfile::tempfile().unwrap();
            f.export_bpf(&file).unwrap();
            file.metadata().unwrap().len()
        };
        let (a, b) = (bpf(&a), bpf(&b));
        assert!(a > 0);
        assert!(a > b, "the network rules add instructions");
    }
}
