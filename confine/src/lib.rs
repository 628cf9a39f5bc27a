//! Snapshelf's launcher: runs an installed app in its sandbox (DESIGN.md §7). The binary is a thin
//! wrapper over [`run::run`], which gathers the launch's inputs first and then runs its steps, each
//! concept in a module of its own ([`args`], [`profile`], [`capabilities`], [`namespace`],
//! [`private`], [`user_dirs`]). The syscall layer is [`sys`]; the sandbox's file system is planned in
//! [`mount_plan`] and built by [`sandbox`]; [`env`](mod@env) makes the app's environment, [`seccomp`] its system-call filter and [`landlock`] its
//! Landlock ruleset; [`init`] is the monitor and the reaper around the app's PID namespace.

pub mod args;
pub mod auth_relay;
pub mod bus_filter;
pub mod bus_policy;
pub mod capabilities;
pub mod cookie;
pub mod env;
pub mod error;
pub mod inhibit;
pub mod init;
pub mod landlock;
pub mod mount_plan;
pub mod namespace;
pub mod owned_dir;
pub mod private;
pub mod profile;
pub mod run;
pub mod running;
pub mod sandbox;
pub mod seccomp;
pub mod session;
pub mod sys;
pub mod timing;
pub mod tracking;
pub mod user_dirs;

/// Taken by the unit tests that fork this test process without executing (the child holds a copy
/// of every descriptor of every test thread until it exits) and by those that count on who holds
/// their descriptors: one of them at a time.
#[cfg(test)]
pub(crate) fn fork_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub use error::{Error, Result};
