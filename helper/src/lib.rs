//! `snapshelf-helper`: the privileged half of Snapshelf and the only process that changes the
//! system. It serves the D-Bus API of DESIGN.md §2 on the system bus, checks polkit for every
//! mutating call, and runs changes made of tasks that can be undone.

pub mod bus;
pub mod config;
pub mod delta;
pub mod delta_sandbox;
pub mod desktop;
pub mod engine;
pub mod error;
pub mod inhibit;
pub mod interfaces;
pub mod io;
pub mod lang;
pub mod memory;
pub mod mount;
pub mod paths;
pub mod polkit;
pub mod priority;
pub mod running;

pub mod dbus_iface;
pub mod dbus_names;
pub mod plug_attrs;
pub mod snapconf;
pub mod snapctl;
pub mod state;
pub mod store;
pub mod systemd;
pub mod systemd_user;
pub mod units;
