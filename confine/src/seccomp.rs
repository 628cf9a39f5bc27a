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
    // io_uring runs operations (IORING_OP_SOCKET, opens, connects) in kernel threads that the
    // filter never sees: with it a snap made an internet socket without `network`.
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
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
    /// `network`: AF_INET and AF_INET6 sockets, and AF_NETLINK with NETLINK_ROUTE (what
    /// `getaddrinfo` and `getifaddrs` read the interfaces' addresses through).
    pub inet: bool,
    /// `browser-support` with `allow-sandbox: true`: what snapd's interface lifts for a browser's
    /// own sandbox (Chromium's namespace sandbox, Firefox's): `unshare`, `clone` with namespace
    /// flags, `chroot` and `quotactl`. Mounting, `setns` and the rest stay denied.
    pub sandbox: bool,
}

/// The calls of [`DENIED`] that `allow-sandbox` allows.
const SANDBOX_ALLOWS: &[&str] = &["unshare", "chroot", "quotactl"];

/// The socket families a sandbox may create: AF_UNIX always, the rest per interface. Every other
/// family (packet, vsock, bluetooth, alg, can, xdp, other netlink protocols, …) is refused.
pub fn allowed_families(allow: Allowances) -> Vec<(i32, Option<i32>)> {
    let mut v = vec![(libc::AF_UNIX, None)];
    if allow.inet {
        v.push((libc::AF_INET, None));
        v.push((libc::AF_INET6, None));
        v.push((libc::AF_NETLINK, Some(libc::NETLINK_ROUTE)));
    }
    v
}

/// The families refused below the highest allowed one, as `(mask, value)` blocks (`family & mask ==
/// value`, aligned powers of two, as CIDR blocks), and the number from which every family is
/// refused. 0 (`AF_UNSPEC`) is left to the kernel, which refuses it.
fn refused_families(allowed: &[(i32, Option<i32>)]) -> (Vec<(u64, u64)>, u64) {
    let ok: Vec<u64> = allowed.iter().map(|(f, _)| *f as u64).collect();
    let top = ok.iter().copied().max().unwrap_or(0);
    let mut blocks = Vec::new();
    let mut x = 1u64;
    while x < top {
        if ok.contains(&x) {
            x += 1;
            continue;
        }
        // The largest aligned block starting at x that holds no allowed family and ends below top.
        let mut size = 1u64;
        while x % (size * 2) == 0
            && x + size * 2 <= top
            && !(x..x + size * 2).any(|f| ok.contains(&f))
        {
            size *= 2;
        }
        blocks.push((!(size - 1), x));
        x += size;
    }
    (blocks, top + 1)
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
        if allow.sandbox && SANDBOX_ALLOWS.contains(name) {
            continue;
        }
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
    if let Some(sc) = syscall("clone").filter(|_| !allow.sandbox) {
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
    // Socket families: an allow-list, as few rules as can say it (each costs every socket call).
    // Compared at full width: a family with high bits set (the kernel reads an int) is refused.
    let families = allowed_families(allow);
    let (blocks, refused_from) = refused_families(&families);
    for name in ["socket", "socketpair"] {
        let Some(sc) = syscall(name) else { continue };
        let mut rules: Vec<Vec<ScmpArgCompare>> = blocks
            .iter()
            .map(|&(mask, value)| {
                vec![ScmpArgCompare::new(
                    0,
                    ScmpCompareOp::MaskedEqual(mask),
                    value,
                )]
            })
            .collect();
        rules.push(vec![ScmpArgCompare::new(
            0,
            ScmpCompareOp::GreaterEqual,
            refused_from,
        )]);
        for (family, protocol) in &families {
            if let Some(protocol) = protocol {
                rules.push(vec![
                    ScmpArgCompare::new(0, ScmpCompareOp::Equal, *family as u64),
                    ScmpArgCompare::new(2, ScmpCompareOp::NotEqual, *protocol as u64),
                ]);
            }
        }
        for rule in rules {
            ctx.add_rule_conditional(eperm, sc, &rule)
                .map_err(|e| fail(name, e))?;
        }
    }
    if let Some(sc) = syscall("socketcall") {
        // The i386 multiplexer hides the family behind a pointer: creating sockets through it is
        // refused (the direct calls, filtered above, exist on i386 since Linux 4.3).
        for call in [1u64, 8] {
            // SYS_SOCKET, SYS_SOCKETPAIR
            ctx.add_rule_conditional(
                eperm,
                sc,
                &[ScmpArgCompare::new(0, ScmpCompareOp::Equal, call)],
            )
            .map_err(|e| fail("socketcall", e))?;
        }
    }
    // We set no_new_privs ourselves, before loading.
    ctx.set_ctl_nnp(false).map_err(|e| fail("nnp", e))?;
    // A binary tree of system calls rather than a list: every call of the app runs the filter, and
    // the kernel runs it for each call number of each ABI when it is loaded (its action cache).
    ctx.set_ctl_optimize(2).map_err(|e| fail("optimize", e))?;
    Ok(ctx)
}

/// Load the filter into this thread (it is inherited across exec).
pub fn load(allow: Allowances) -> Result<()> {
    filter(allow)?.load().map_err(|e| Error::Unsupported {
        what: format!("cannot load the system-call filter: {e}"),
        errno: nix::errno::Errno::EINVAL,
    })
}

/// The compiled filters the helper keeps under `/var/lib/snapshelf/seccomp/` (compiling one takes
/// libseccomp about a millisecond; reading it takes microseconds).
pub const COMPILED_DIR: &[&str] = &["var", "lib", "snapshelf", "seccomp"];

/// Every set of allowances a profile can ask for, with its file name. The names carry the filter's
/// version: a launcher never loads a filter an older helper compiled with older rules.
pub fn variants() -> [(&'static str, Allowances); 4] {
    let v = |inet, sandbox| {
        let a = Allowances { inet, sandbox };
        (variant_file(a), a)
    };
    [
        v(false, false),
        v(true, false),
        v(false, true),
        v(true, true),
    ]
}

pub fn variant_file(allow: Allowances) -> &'static str {
    match (allow.inet, allow.sandbox) {
        (false, false) => "v2-default.bpf",
        (true, false) => "v2-network.bpf",
        (false, true) => "v2-sandbox.bpf",
        (true, true) => "v2-network-sandbox.bpf",
    }
}

/// Compile the filter for `allow` into `out` (raw BPF, as the kernel takes it).
pub fn export(allow: Allowances, out: &std::fs::File) -> Result<()> {
    filter(allow)?
        .export_bpf(out)
        .map_err(|e| Error::Unsupported {
            what: format!("cannot compile the system-call filter: {e}"),
            errno: nix::errno::Errno::EINVAL,
        })
}

/// Check that `bytes` can be a BPF program (whole instructions, within the kernel's limit).
pub fn check_compiled(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.len() % 8 == 0 && bytes.len() / 8 <= 4096
}

/// Load a compiled filter (no_new_privs must be set).
pub fn load_compiled(bytes: &[u8]) -> Result<()> {
    if !check_compiled(bytes) {
        return Err(Error::Invalid(
            "the compiled system-call filter is malformed".into(),
        ));
    }
    // The kernel reads the instructions through this pointer during the call only.
    let prog = libc::sock_fprog {
        len: (bytes.len() / 8) as u16,
        filter: bytes.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `len` whole instructions that outlive the call.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const libc::sock_fprog,
            0,
            0,
        )
    };
    nix::errno::Errno::result(r)
        .map(drop)
        .map_err(|errno| Error::Unsupported {
            what: "cannot load the system-call filter".into(),
            errno,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_compiled_filter_denies_in_a_child() {
        let file = tempfile::tempfile().unwrap();
        export(Allowances::default(), &file).unwrap();
        let bytes = {
            use std::io::{Read, Seek};
            let mut f = &file;
            f.seek(std::io::SeekFrom::Start(0)).unwrap();
            let mut v = Vec::new();
            f.read_to_end(&mut v).unwrap();
            v
        };
        assert!(check_compiled(&bytes));
        assert!(!check_compiled(&bytes[..bytes.len() - 3]));
        assert!(load_compiled(&[]).is_err());
        let _forking = crate::fork_lock();
        // SAFETY: the child only makes system calls and exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                // SAFETY: constant arguments.
                unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
                let code = match load_compiled(&bytes) {
                    Err(_) => 10,
                    Ok(()) => {
                        // SAFETY: plain system calls.
                        let inet = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
                        let errno = std::io::Error::last_os_error().raw_os_error();
                        let unix = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) };
                        if inet < 0 && errno == Some(libc::EPERM) && unix >= 0 {
                            0
                        } else {
                            11
                        }
                    }
                };
                // SAFETY: leaving the forked child without running the parent's destructors.
                unsafe { libc::_exit(code) };
            }
            nix::unistd::ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(st, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }

    type Call = (&'static str, Box<dyn Fn() -> libc::c_long>);

    /// Load the filter for `allow` in a forked child and report what each call answered there.
    fn in_filtered_child(allow: Allowances) -> Vec<(&'static str, i32)> {
        let calls: Vec<Call> = vec![
            (
                "io_uring_setup",
                Box::new(|| {
                    let mut params = [0u8; 120];
                    // SAFETY: a buffer the size of struct io_uring_params.
                    unsafe { libc::syscall(libc::SYS_io_uring_setup, 4, params.as_mut_ptr()) }
                }),
            ),
            (
                "io_uring_enter",
                // SAFETY: a bad descriptor; the call has no memory effects.
                Box::new(|| unsafe { libc::syscall(libc::SYS_io_uring_enter, -1, 0, 0, 0, 0, 0) }),
            ),
            ("unix", Box::new(|| sock(libc::AF_UNIX, 0))),
            ("inet", Box::new(|| sock(libc::AF_INET, 0))),
            (
                "route",
                Box::new(|| sock(libc::AF_NETLINK, libc::NETLINK_ROUTE)),
            ),
            (
                "uevent",
                Box::new(|| sock(libc::AF_NETLINK, libc::NETLINK_KOBJECT_UEVENT)),
            ),
            ("packet", Box::new(|| sock(libc::AF_PACKET, 0))),
            ("vsock", Box::new(|| sock(libc::AF_VSOCK, 0))),
            ("alg", Box::new(|| sock(libc::AF_ALG, 0))),
            ("bluetooth", Box::new(|| sock(libc::AF_BLUETOOTH, 0))),
            ("can", Box::new(|| sock(libc::AF_CAN, 0))),
            (
                "inet-high-bits",
                // SAFETY: plain system call with integer arguments.
                Box::new(|| unsafe {
                    libc::syscall(
                        libc::SYS_socket,
                        0x1_0000_0000u64 | libc::AF_INET as u64,
                        libc::SOCK_STREAM,
                        0,
                    )
                }),
            ),
            (
                "pair-inet",
                Box::new(|| {
                    let mut fds = [0; 2];
                    // SAFETY: `fds` has room for two descriptors.
                    unsafe {
                        libc::socketpair(libc::AF_INET, libc::SOCK_STREAM, 0, fds.as_mut_ptr())
                            as libc::c_long
                    }
                }),
            ),
            (
                "clone-newuser",
                // SAFETY: the new process exits at once, touching nothing.
                Box::new(|| unsafe {
                    let flags = (libc::CLONE_NEWUSER | libc::CLONE_NEWPID | libc::SIGCHLD) as u64;
                    let pid = libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0);
                    if pid == 0 {
                        libc::_exit(0);
                    }
                    if pid > 0 {
                        libc::waitpid(pid as i32, std::ptr::null_mut(), 0);
                    }
                    pid
                }),
            ),
            // Last: they change this process. In a new user and mount namespace the kernel would
            // allow the mount, so a refusal is the filter's.
            (
                "unshare",
                // SAFETY: plain system call.
                Box::new(|| unsafe {
                    libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) as libc::c_long
                }),
            ),
            (
                "mount",
                // SAFETY: constant C strings; in the child's own mount namespace when allowed.
                Box::new(|| unsafe {
                    libc::mount(
                        c"none".as_ptr(),
                        c"/tmp".as_ptr(),
                        c"tmpfs".as_ptr(),
                        0,
                        std::ptr::null(),
                    ) as libc::c_long
                }),
            ),
            (
                "setns",
                // SAFETY: a bad descriptor; the call has no effect.
                Box::new(|| unsafe { libc::setns(-1, 0) as libc::c_long }),
            ),
        ];
        let (r, w) = nix::unistd::pipe().unwrap();
        let _forking = crate::fork_lock();
        // SAFETY: the child only makes system calls, writes to a pipe and exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                drop(r);
                // SAFETY: constant arguments.
                unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
                let mut out = Vec::new();
                if load(allow).is_ok() {
                    for (_, call) in &calls {
                        let v = call();
                        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
                        out.extend_from_slice(&(if v < 0 { errno } else { 0 }).to_le_bytes());
                    }
                }
                let _ = nix::unistd::write(&w, &out);
                // SAFETY: leaving the forked child without running the parent's destructors.
                unsafe { libc::_exit(0) };
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(w);
                let mut bytes = Vec::new();
                std::fs::File::from(r).read_to_end(&mut bytes).unwrap();
                nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(bytes.len(), calls.len() * 4, "the filter did not load");
                calls
                    .iter()
                    .zip(bytes.chunks(4))
                    .map(|((n, _), b)| (*n, i32::from_le_bytes(b.try_into().unwrap())))
                    .collect()
            }
        }
    }

    fn sock(family: i32, protocol: i32) -> libc::c_long {
        // SAFETY: plain system call with integer arguments.
        let fd = unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, protocol) };
        if fd >= 0 {
            // SAFETY: our own new descriptor.
            unsafe { libc::close(fd) };
        }
        fd as libc::c_long
    }

    #[test]
    fn refused_families_are_few_blocks_that_cover_exactly_the_gaps() {
        for allow in [
            Allowances::default(),
            Allowances {
                inet: true,
                sandbox: false,
            },
        ] {
            let fams = allowed_families(allow);
            let (blocks, from) = refused_families(&fams);
            for f in 1u64..200 {
                let refused = f >= from || blocks.iter().any(|&(m, v)| f & m == v);
                let allowed = fams.iter().any(|(a, _)| *a as u64 == f);
                assert_eq!(refused, !allowed, "family {f} with {allow:?}");
            }
            assert!(blocks.len() <= 6, "{blocks:?}");
        }
        let (blocks, from) = refused_families(&allowed_families(Allowances::default()));
        assert!(blocks.is_empty() && from == 2, "AF_UNIX only: one rule");
    }

    #[test]
    fn io_uring_and_unlisted_socket_families_are_refused() {
        use std::collections::BTreeMap;
        let eperm = libc::EPERM;
        let without: BTreeMap<_, _> = in_filtered_child(Allowances::default())
            .into_iter()
            .collect();
        let with: BTreeMap<_, _> = in_filtered_child(Allowances {
            inet: true,
            sandbox: false,
        })
        .into_iter()
        .collect();
        for r in [&without, &with] {
            for denied in [
                "io_uring_setup",
                "io_uring_enter",
                "uevent",
                "packet",
                "vsock",
                "alg",
                "bluetooth",
                "can",
            ] {
                assert_eq!(r[denied], eperm, "{denied}: {r:?}");
            }
            assert_eq!(r["unix"], 0, "{r:?}");
        }
        for denied in ["inet", "route", "inet-high-bits", "pair-inet"] {
            assert_eq!(without[denied], eperm, "{denied}: {without:?}");
        }
        assert_eq!(with["inet"], 0, "{with:?}");
        assert_eq!(with["route"], 0, "{with:?}");
        // Allowed through the filter: the kernel's own answer (no socket pairs for AF_INET).
        assert_eq!(with["pair-inet"], libc::EOPNOTSUPP, "{with:?}");
        // A family the kernel reads as AF_INET but with high bits set is refused, not let through.
        assert_eq!(with["inet-high-bits"], eperm, "{with:?}");
    }

    /// browser-support's `allow-sandbox` lets a browser make its own namespaces, as snapd's
    /// interface does; without it they are refused, and mounts and `setns` stay refused either way.
    #[test]
    fn allow_sandbox_lifts_namespaces_and_nothing_else() {
        use std::collections::BTreeMap;
        let eperm = libc::EPERM;
        for inet in [false, true] {
            let closed: BTreeMap<_, _> = in_filtered_child(Allowances {
                inet,
                sandbox: false,
            })
            .into_iter()
            .collect();
            let open: BTreeMap<_, _> = in_filtered_child(Allowances {
                inet,
                sandbox: true,
            })
            .into_iter()
            .collect();
            for call in [
                "clone-newuser",
                "unshare",
                "mount",
                "setns",
                "io_uring_setup",
            ] {
                assert_eq!(
                    closed[call], eperm,
                    "{call} without the sandbox: {closed:?}"
                );
            }
            assert_eq!(open["clone-newuser"], 0, "{open:?}");
            assert_eq!(open["unshare"], 0, "{open:?}");
            assert_eq!(open["mount"], eperm, "{open:?}");
            assert_eq!(open["setns"], eperm, "{open:?}");
            assert_eq!(open["io_uring_setup"], eperm, "{open:?}");
            assert_eq!(open["inet"] == 0, inet, "{open:?}");
        }
        let names: Vec<&str> = variants().iter().map(|(n, _)| *n).collect();
        for (name, allow) in variants() {
            assert_eq!(variant_file(allow), name);
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 4, "{names:?}");
    }

    #[test]
    fn the_filter_builds_with_and_without_network() {
        let a = filter(Allowances::default()).unwrap();
        let b = filter(Allowances {
            inet: true,
            sandbox: false,
        })
        .unwrap();
        let bpf = |f: &ScmpFilterContext| {
            let file = tempfile::tempfile().unwrap();
            f.export_bpf(&file).unwrap();
            file.metadata().unwrap().len()
        };
        let (a, b) = (bpf(&a), bpf(&b));
        assert!(a > 0 && b > 0);
        assert_ne!(a, b, "the network allowances change the program");
    }
}
