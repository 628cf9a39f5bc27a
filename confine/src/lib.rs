//! Snapshelf's launcher: runs an installed app in its sandbox (DESIGN.md §7). The binary is a thin
//! wrapper over [`run::run`], which gathers the launch's inputs first and then runs its steps, each
//! concept in a module of its own ([`args`], [`profile`], [`capabilities`], [`namespace`],
//! [`private`], [`user_dirs`]). The syscall layer is [`sys`]; the sandbox's file system is planned in
//! [`mount_plan`] and built by [`sandbox`]; [`env`](mod@env) makes the app's environment, [`seccomp`] its system-call filter and [`landlock`] its
//! Landlock ruleset; [`init`] is the monitor and the reaper around the app's PID namespace.

pub mod args;
pub mod auth_relay;
pub mod capabilities;
pub mod cookie;
pub mod env;
pub mod error;
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
pub mod shared_proxy;
pub mod sys;
pub mod timing;
pub mod user_dirs;

pub use error::{Error, Result};
