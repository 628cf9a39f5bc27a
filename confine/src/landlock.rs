//! Landlock, used on purpose: which of its features this kernel has, what confine asks of each,
//! and what takes its place where it is missing (docs/security.md has the table).
//!
//! - ABI 4 (Linux 6.7): TCP `bind` refused without `network-bind`; TCP `connect` refused without
//!   `network` (seccomp already refuses the socket; Landlock's hooks also see sockets that
//!   io_uring or a descriptor passed in made).
//! - ABI 6 (Linux 6.12): the abstract Unix socket scope (no connecting to an abstract socket made
//!   outside the sandbox: X11's `@/tmp/.X11-unix/X0`, session buses) and the signal scope (no
//!   signals to processes outside the sandbox).
//! - Any enforced ruleset also forbids ptrace-style access (`/proc/<pid>/mem`, `root`, …) to
//!   processes outside the sandbox; the PID namespace already hides them.
//!
//! Without the abstract-socket scope, an app without `network` gets a private network namespace
//! instead (abstract sockets belong to a network namespace); an app with `network` on such a
//! kernel shares the host's, abstract sockets included.
//!
//! With `x11` connected the abstract-socket scope is left out (the signal scope stays): Xorg and
//! Xwayland listen on `@/tmp/.X11-unix/X<n>` too, and libxcb tries that first and falls back to
//! the socket file only on ENOENT/ECONNREFUSED, never on the scope's EPERM. Such an app without
//! `network` gets the private network namespace instead, where the connect finds nothing
//! (ECONNREFUSED) and libxcb uses the file.

use landlock::{AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr, Scope};
use nix::errno::Errno;

use crate::error::{Error, Result};

/// What confine asks of Landlock for one app, and whether it needs a network namespace instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The kernel's Landlock ABI (0: none).
    pub abi: u32,
    pub deny_tcp_bind: bool,
    pub deny_tcp_connect: bool,
    /// Signals scoped to the sandbox.
    pub scopes: bool,
    /// Abstract Unix sockets scoped to the sandbox (not with `x11`: see the module's text).
    pub abstract_scope: bool,
    /// A private network namespace (for abstract sockets, where the scope is missing).
    pub private_network: bool,
}

impl Plan {
    pub fn new(abi: u32, network: bool, network_bind: bool, x11: bool) -> Plan {
        let net = abi >= 4;
        let scopes = abi >= 6;
        let abstract_scope = scopes && !x11;
        Plan {
            abi,
            deny_tcp_bind: net && !network_bind,
            deny_tcp_connect: net && !network,
            scopes,
            abstract_scope,
            private_network: !network && !abstract_scope,
        }
    }

    /// Whether there is a ruleset to apply at all.
    pub fn any(&self) -> bool {
        self.deny_tcp_bind || self.deny_tcp_connect || self.scopes
    }
}

/// The running kernel's Landlock ABI version, 0 when it has none (not built in, not enabled).
pub fn kernel_abi() -> u32 {
    // SAFETY: LANDLOCK_CREATE_RULESET_VERSION with a null attribute only returns a number.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    let abi = u32::try_from(v).unwrap_or(0);
    test_cap(abi)
}

/// Debug builds only: `SNAPSHELF_TEST_LANDLOCK_ABI=N` makes confine act as on a kernel with at
/// most ABI N, so the tests can exercise the older kernels' path (the network namespace). Release
/// builds never read it.
#[cfg(debug_assertions)]
fn test_cap(abi: u32) -> u32 {
    std::env::var("SNAPSHELF_TEST_LANDLOCK_ABI")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .map_or(abi, |cap| abi.min(cap))
}

#[cfg(not(debug_assertions))]
fn test_cap(abi: u32) -> u32 {
    abi
}

fn failed(e: impl std::fmt::Display) -> Error {
    Error::Unsupported {
        what: format!("cannot apply the Landlock ruleset: {e}"),
        errno: Errno::EINVAL,
    }
}

/// Restrict this process (and what it starts) as `plan` says. Everything the plan asks for is
/// something the kernel announced, so anything less than full enforcement is an error.
pub fn apply(plan: &Plan) -> Result<()> {
    if !plan.any() {
        return Ok(());
    }
    let mut net = landlock::BitFlags::<AccessNet>::empty();
    if plan.deny_tcp_bind {
        net |= AccessNet::BindTcp;
    }
    if plan.deny_tcp_connect {
        net |= AccessNet::ConnectTcp;
    }
    let mut r = Ruleset::default().set_compatibility(CompatLevel::HardRequirement);
    if !net.is_empty() {
        r = r.handle_access(net).map_err(failed)?;
    }
    if plan.scopes {
        let mut scopes = landlock::BitFlags::from(Scope::Signal);
        if plan.abstract_scope {
            scopes |= Scope::AbstractUnixSocket;
        }
        r = r.scope(scopes).map_err(failed)?;
    }
    let status = r
        .create()
        .map_err(failed)?
        .restrict_self()
        .map_err(failed)?;
    if status.ruleset != landlock::RulesetStatus::FullyEnforced {
        return Err(failed("the kernel did not enforce all of it"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kernel_gets_what_it_can_and_a_network_namespace_where_scopes_are_missing() {
        // Debian 12 (6.1, ABI 2): nothing from Landlock; no network → a network namespace.
        let p = Plan::new(2, false, false, false);
        assert!(!p.any() && p.private_network);
        // With network there is no namespace to give: the host's abstract sockets stay reachable.
        let p = Plan::new(2, true, true, false);
        assert!(!p.any() && !p.private_network);
        // 6.7 (ABI 4): TCP rules, still no scopes.
        let p = Plan::new(4, false, true, false);
        assert!(p.deny_tcp_connect && !p.deny_tcp_bind && !p.scopes && p.private_network);
        // 6.12 and later: scopes instead of the namespace.
        let p = Plan::new(7, false, false, false);
        assert!(p.deny_tcp_bind && p.deny_tcp_connect && p.scopes && p.abstract_scope);
        assert!(!p.private_network);
        let p = Plan::new(6, true, true, false);
        assert!(p.any() && !p.deny_tcp_bind && !p.deny_tcp_connect && p.abstract_scope);
        assert!(!Plan::new(0, true, true, false).any());
    }

    #[test]
    fn x11_keeps_the_signal_scope_but_not_the_abstract_one() {
        // Without network: the namespace keeps the host's abstract sockets out instead.
        let p = Plan::new(6, false, false, true);
        assert!(p.scopes && !p.abstract_scope && p.private_network);
        // With network: the host's abstract sockets are reachable (docs/security.md).
        let p = Plan::new(6, true, false, true);
        assert!(p.scopes && !p.abstract_scope && !p.private_network);
        // Older kernels: nothing changes with x11.
        assert_eq!(
            Plan::new(4, false, false, true),
            Plan::new(4, false, false, false)
        );
    }
}
