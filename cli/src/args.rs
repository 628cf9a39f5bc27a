//! The command line itself: one clap command per D-Bus method (docs/cli.md).

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "snapshelfctl",
    version,
    about = "Find, install, update, revert and remove snaps, and switch their permissions"
)]
pub struct Cli {
    /// Machine-readable output (JSON), anywhere on the line.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print the change's path instead of waiting for it.
    #[arg(long, global = true)]
    pub no_wait: bool,
    /// Talk to this bus instead of the system bus.
    #[arg(long, global = true, value_name = "ADDRESS")]
    pub bus_address: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Search the store.
    Find {
        query: Option<String>,
        #[arg(long)]
        category: Option<String>,
    },
    /// Everything about one snap.
    Info { name: String },
    /// The installed snaps.
    List,
    /// Install snaps from the store, or a .snap file.
    Install {
        #[arg(required = true)]
        names: Vec<String>,
        #[arg(long)]
        channel: Option<String>,
        /// Allow a file without store signatures.
        #[arg(long)]
        unsigned: bool,
        #[arg(long)]
        classic: bool,
    },
    /// Remove snaps (their data is kept as a snapshot unless --purge).
    Remove {
        #[arg(required = true)]
        names: Vec<String>,
        #[arg(long)]
        purge: bool,
        /// Disconnect the snaps that use a content provider first, instead of refusing.
        #[arg(long)]
        disconnect_users: bool,
    },
    /// Update snaps (all with an update when none is named).
    Refresh {
        names: Vec<String>,
        #[arg(long)]
        channel: Option<String>,
        /// Consent to a new revision that is not sandboxed (it turned classic).
        #[arg(long)]
        classic: bool,
        /// Refresh even while the snap's apps run (snapd's --ignore-running).
        #[arg(long)]
        ignore_running: bool,
    },
    /// Go back to a kept revision (the previous one by default).
    Revert {
        name: String,
        #[arg(long)]
        revision: Option<String>,
    },
    /// Track another channel from the next update on.
    Switch { name: String, channel: String },
    /// Keep snaps at their revision.
    Hold {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Let held snaps update again.
    Unhold {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// The permissions of a snap (or of all).
    Connections { name: Option<String> },
    /// Switch a permission on: `connect SNAP:PLUG [:SLOT]`.
    Connect { plug: String, slot: Option<String> },
    /// Switch a permission off: `disconnect SNAP:PLUG [:SLOT]`.
    Disconnect { plug: String, slot: Option<String> },
    /// Recent changes.
    Changes,
    /// Follow a change until it ends (its number or path).
    Watch { change: String },
    /// Print a snap's configuration: `get [-d|-l] [-t] SNAP [KEY...]`.
    Get {
        /// Always a JSON document, even for one key.
        #[arg(short = 'd')]
        document: bool,
        /// Always a list of keys and values.
        #[arg(short = 'l')]
        list: bool,
        /// Strict typing: strings quoted, null shown.
        #[arg(short = 't')]
        typed: bool,
        snap: String,
        keys: Vec<String>,
    },
    /// Change a snap's configuration: `set [-s|-t] SNAP KEY=VALUE|KEY!...`.
    Set {
        /// Take every value as text.
        #[arg(short = 's')]
        string: bool,
        /// Take every value as JSON (an error otherwise).
        #[arg(short = 't')]
        typed: bool,
        snap: String,
        #[arg(required = true)]
        values: Vec<String>,
    },
    /// Remove options from a snap's configuration: `unset SNAP KEY...`.
    Unset {
        snap: String,
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// The background services of snaps (of all when none is named).
    Services { names: Vec<String> },
    /// Start services (`SNAP` or `SNAP.APP`).
    Start {
        #[arg(required = true)]
        services: Vec<String>,
        /// Also start them at boot from now on.
        #[arg(long)]
        enable: bool,
    },
    /// Stop services (`SNAP` or `SNAP.APP`).
    Stop {
        #[arg(required = true)]
        services: Vec<String>,
        /// Also no longer start them at boot.
        #[arg(long)]
        disable: bool,
    },
    /// Restart services (`SNAP` or `SNAP.APP`).
    Restart {
        #[arg(required = true)]
        services: Vec<String>,
        /// Reload those that can reload instead of restarting them.
        #[arg(long)]
        reload: bool,
    },
    /// The journal of services (`SNAP` or `SNAP.APP`).
    Logs {
        #[arg(required = true)]
        services: Vec<String>,
        /// How many lines to show.
        #[arg(short = 'n', default_value_t = 10)]
        lines: u32,
        /// Keep printing new lines.
        #[arg(short = 'f', long)]
        follow: bool,
    },
    /// Run an app in its sandbox: `run SNAP.APP [ARGS]`.
    Run {
        /// A shell in the app's sandbox instead of the app (for debugging); ARGS go to the shell.
        #[arg(long)]
        shell: bool,
        app: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// This program's version and the `assumes` features snaps may rely on.
    Version,
    /// Another name for an app: `alias SNAP.APP ALIAS` (a /snap/bin/ALIAS link).
    Alias { snap_app: String, alias: String },
    /// Remove a manual alias, or (naming a snap) disable all its aliases.
    Unalias { alias_or_snap: String },
    /// The enabled aliases (of one snap).
    Aliases { snap: Option<String> },
    /// Start the apps snaps ask to start with the session (run at login by our XDG autostart entry).
    Autostart,
    /// Commands other programs run (xdg-desktop-portal runs `snap routine portal-info`).
    Routine {
        #[command(subcommand)]
        routine: Routine,
    },
}

/// `snapshelfctl routine …`.
#[derive(Subcommand, Debug)]
pub enum Routine {
    /// Which snap and app a process belongs to, as a keyfile (snapd's, for xdg-desktop-portal).
    PortalInfo {
        /// The process ID.
        pid: u32,
        /// Read the installed snaps under this root instead of `/` (tests).
        #[arg(long, value_name = "DIR")]
        root: Option<std::path::PathBuf>,
    },
}
