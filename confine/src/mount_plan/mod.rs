//! The sandbox's file system as a list of operations, computed before anything is mounted: a
//! tmpfs root populated from the base snap, the host directories the app may see, a private
//! `/tmp`, a minimal `/dev`, `/snap` and the snap's own `/var/snap/<name>`, the user's
//! `~/snap/<name>`, the interfaces' mounts, then the layouts. [`plan`] reads the sources through a
//! [`Probe`] only (the launch gives it the host's descriptors, tests a tree of their own) and
//! [`crate::sandbox::perform`] carries the list out.
//!
//! Nothing planned here writes to the host outside the snap's own data directories: where a path
//! must be made inside a directory that is not ours (the base, `$SNAP`, the host's `/etc`), that
//! directory is covered by a "writable mimic": a tmpfs with the original's mode and owner, the
//! original's entries bound back.

mod content;
mod interfaces;
mod layouts;
mod model;
mod notify;
mod planner;
mod session;
mod snapctl;
mod system;

use std::fmt;

use snapshelf_snap::profile::Profile;

use crate::error::Result;
use crate::sandbox::Power;
use crate::sys::Kind;

/// Where the source of a bind is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// The host's `/` (in the new mount namespace, before `pivot_root`).
    Host,
    /// The base snap's current revision.
    Base,
    /// `<root>/snap`.
    SnapMounts,
    /// `<root>/var/snap/<name>`.
    SnapData,
    /// `<root>/var/snap`: the data of the snaps that provide content.
    VarSnap,
    /// `~/snap/<name>`.
    UserSnap,
    /// The user's home.
    Home,
    /// `/run/user/<uid>/snap.<name>`.
    Runtime,
    /// The snap's private `/tmp`.
    PrivateTmp,
    /// The sandbox being built, as the operations before left it.
    Sandbox,
    /// `<root>/run/snapshelf/snapctl`: the helper's `snapctl` binary and socket.
    Snapctl,
}

impl Origin {
    fn label(self) -> &'static str {
        match self {
            Origin::Host => "host",
            Origin::Base => "base",
            Origin::SnapMounts => "snap-mounts",
            Origin::SnapData => "snap-data",
            Origin::UserSnap => "user-snap",
            Origin::Home => "home",
            Origin::Runtime => "runtime",
            Origin::PrivateTmp => "private-tmp",
            Origin::VarSnap => "var-snap",
            Origin::Sandbox => "sandbox",
            Origin::Snapctl => "snapctl",
        }
    }
}

/// A path under an [`Origin`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub origin: Origin,
    pub path: Vec<String>,
}

/// One entry a writable mimic puts back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MimicEntry {
    /// Made and bound (recursively) from the original.
    Dir(String),
    /// Made and bound from the original.
    File(String),
    /// Recreated, given `chown` as owner when set.
    Symlink {
        name: String,
        to: String,
        chown: Option<(u32, u32)>,
    },
}

/// One step of building the sandbox. Paths are components from the sandbox's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Tmpfs {
        target: Vec<String>,
        mode: u32,
        owner: Option<(u32, u32)>,
        noexec: bool,
    },
    Bind {
        source: Source,
        target: Vec<String>,
        recursive: bool,
    },
    /// Remount the mount at `target` read-only (unless it already is).
    ReadOnly { target: Vec<String> },
    /// A directory (kept if it exists), given `chown` as owner when set.
    Mkdir {
        path: Vec<String>,
        mode: u32,
        chown: Option<(u32, u32)>,
    },
    /// An empty regular file (a mount point for a file).
    Touch {
        path: Vec<String>,
        mode: u32,
        chown: Option<(u32, u32)>,
    },
    Symlink {
        path: Vec<String>,
        to: String,
        chown: Option<(u32, u32)>,
    },
    Chown {
        path: Vec<String>,
        owner: (u32, u32),
    },
    /// A procfs of the sandbox's PID namespace.
    Proc { target: Vec<String> },
    /// A new devpts instance.
    Devpts {
        target: Vec<String>,
        tty_gid: Option<u32>,
    },
    /// Cover the directory `target` with a tmpfs of `mode` and `owner` and put `entries` back.
    Mimic {
        target: Vec<String>,
        mode: u32,
        owner: Option<(u32, u32)>,
        entries: Vec<MimicEntry>,
    },
}

impl Op {
    /// Where the operation mounts something, hiding what was there.
    pub fn mounts_on(&self) -> Option<&[String]> {
        match self {
            Op::Tmpfs { target, .. }
            | Op::Bind { target, .. }
            | Op::Proc { target }
            | Op::Devpts { target, .. }
            | Op::Mimic { target, .. } => Some(target),
            Op::ReadOnly { .. }
            | Op::Mkdir { .. }
            | Op::Touch { .. }
            | Op::Symlink { .. }
            | Op::Chown { .. } => None,
        }
    }
}

/// `/a/b` for the components `a`, `b`.
pub fn show(parts: &[String]) -> String {
    format!("/{}", parts.join("/"))
}

fn show_owner(o: &Option<(u32, u32)>) -> String {
    o.map(|(u, g)| format!(" {u}:{g}")).unwrap_or_default()
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.origin.label(), show(&self.path))
    }
}

/// One line per operation, as the plan's tests read it: `tmpfs /run 755 0:0`, `rbind
/// base:/usr /usr`, `ro /usr`, `mkdir /home/u 755`, `mimic /opt 755 0:0 [bin/ lib/ x->y]`.
impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Tmpfs {
                target,
                mode,
                owner,
                noexec,
            } => {
                let noexec = if *noexec { " noexec" } else { "" };
                let owner = show_owner(owner);
                write!(f, "tmpfs {} {mode:o}{owner}{noexec}", show(target))
            }
            Op::Bind {
                source,
                target,
                recursive,
            } => {
                let kind = if *recursive { "rbind" } else { "bind" };
                write!(f, "{kind} {source} {}", show(target))
            }
            Op::ReadOnly { target } => write!(f, "ro {}", show(target)),
            Op::Mkdir { path, mode, chown } => {
                write!(f, "mkdir {} {mode:o}{}", show(path), show_owner(chown))
            }
            Op::Touch { path, mode, chown } => {
                write!(f, "touch {} {mode:o}{}", show(path), show_owner(chown))
            }
            Op::Symlink { path, to, chown } => {
                write!(f, "symlink {} -> {to}{}", show(path), show_owner(chown))
            }
            Op::Chown { path, owner } => {
                write!(f, "chown {}{}", show(path), show_owner(&Some(*owner)))
            }
            Op::Proc { target } => write!(f, "proc {}", show(target)),
            Op::Devpts { target, tty_gid } => {
                let gid = tty_gid.map(|g| format!(" gid={g}")).unwrap_or_default();
                write!(f, "devpts {}{gid}", show(target))
            }
            Op::Mimic {
                target,
                mode,
                owner,
                entries,
            } => {
                let entries: Vec<String> = entries
                    .iter()
                    .map(|e| match e {
                        MimicEntry::Dir(n) => format!("{n}/"),
                        MimicEntry::File(n) => n.clone(),
                        MimicEntry::Symlink { name, to, .. } => format!("{name}->{to}"),
                    })
                    .collect();
                let owner = show_owner(owner);
                let mode = mode & 0o7777;
                write!(
                    f,
                    "mimic {} {mode:o}{owner} [{}]",
                    show(target),
                    entries.join(" ")
                )
            }
        }
    }
}

/// What an entry is, as the planner needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Read-only questions about the sources. Paths never follow a symbolic link: one on the way
/// answers "nothing there".
pub trait Probe {
    /// What `path` under `origin` is.
    fn stat(&self, origin: Origin, path: &[String]) -> Option<Stat>;
    /// The names in the directory `path` under `origin` (without `.` and `..`).
    fn list(&self, origin: Origin, path: &[String]) -> Vec<String>;
    /// The target of the symbolic link `path` under `origin`, when it is UTF-8.
    fn readlink(&self, origin: Origin, path: &[String]) -> Option<String>;
}

/// Everything the plan is computed from, apart from what the [`Probe`] answers.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    pub power: Power,
    pub uid: u32,
    pub gid: u32,
    /// Our effective uid: when it is not root, what we create is given to root.
    pub euid: u32,
    /// The user's home, as the password database has it.
    pub home: &'a str,
    pub profile: &'a Profile,
    /// The name of the Wayland socket in the user's runtime directory.
    pub wayland_display: &'a str,
    /// Whether `~/snap/<name>` is there (it is made before, as the user).
    pub user_snap: bool,
    /// The non-hidden entries at the top of the home, when `home` is connected.
    pub home_entries: Option<&'a [String]>,
    /// Whether the app has a runtime directory on the host.
    pub runtime: bool,
    /// systemd's `$NOTIFY_SOCKET` when a service manager started the app (bound in when it is a
    /// socket under `/run`).
    pub notify_socket: Option<&'a str>,
}

/// The operations in order, and the variables the app needs to find what they put in place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub ops: Vec<Op>,
    pub env: Vec<(String, String)>,
}

impl Plan {
    /// The operations as text, one per line (see [`Op`]'s `Display`).
    pub fn lines(&self) -> Vec<String> {
        self.ops.iter().map(|op| op.to_string()).collect()
    }
}

/// Compute the sandbox's file system. Fails, before anything is mounted, on a layout that cannot
/// be laid out (a link on the way, a file where a directory is needed).
pub fn plan(input: &PlanInput<'_>, probe: &dyn Probe) -> Result<Plan> {
    planner::Planner::new(input, probe)?.run()
}
