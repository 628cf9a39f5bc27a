//! The parts every sandbox has: the base's top level and the host's `/etc`, `/sys`, `/var/tmp`,
//! `/proc`; `/dev`; the private `/tmp`, `/run`, `/snap`, `/var/snap/<name>`; the home.

use nix::errno::Errno;

use super::planner::{join, p, parts, Planner};
use super::{show, Op, Origin};
use crate::error::{Error, Result};
use crate::sys::Kind;

/// Top-level directories of the new root that are not taken from the base.
const OWN_TOP: &[&str] = &[
    "dev", "proc", "sys", "tmp", "run", "snap", "home", "root", "mnt", "media", "etc",
];

/// What of `/proc` is made read-only for an app run as root.
const PROC_READ_ONLY: &[&str] = &["sys", "sysrq-trigger", "irq", "bus"];

/// Files of the base put back over the host's `/etc` (as snap-confine does for core bases).
const BASE_ETC: &[&str] = &["nsswitch.conf", "alternatives"];

/// Device nodes every sandbox gets.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Device nodes (by prefix in `/dev`) that a connected interface adds.
const INTERFACE_DEVICES: &[(&str, &[&str])] =
    &[("camera", &["video"]), ("opengl", &["dri", "nvidia"])];

/// How many top-level entries of the home `home` presents (each is a mount).
const HOME_ENTRIES_MAX: usize = 2048;

/// Whether a node of `/dev/snd` belongs to playback, to recording, or to both (controls, timer,
/// sequencer). PCM nodes end in `p` (playback) or `c` (capture).
fn snd_node_for(name: &str, playback: bool, record: bool) -> bool {
    if name.starts_with("pcmC") {
        (playback && name.ends_with('p')) || (record && name.ends_with('c'))
    } else {
        (playback || record) && (name.starts_with("controlC") || name == "timer" || name == "seq")
    }
}

impl Planner<'_> {
    /// The base snap's top level, the host's `/etc`, `/sys`, `/var/tmp`, and a procfs of the
    /// sandbox's own PID namespace.
    pub(super) fn populate(&mut self) -> Result<()> {
        let own = self.own();
        for top in OWN_TOP {
            self.mkdir(p(&[top]), 0o755, own);
        }
        let probe = self.model.probe();
        for name in probe.list(Origin::Base, &[]) {
            if name == "meta" || OWN_TOP.contains(&name.as_str()) {
                continue;
            }
            let at = p(&[&name]);
            match probe.stat(Origin::Base, &at).map(|s| s.kind) {
                Some(Kind::Dir) => {
                    self.mkdir(at.clone(), 0o755, own);
                    // Read-only: a squashfs is so already (the bind keeps that); an extracted
                    // base (kernels without loop devices) is made so here.
                    self.bind(Origin::Base, at.clone(), at.clone(), true);
                    self.read_only(at);
                }
                Some(Kind::Symlink) => {
                    if let Some(to) = probe.readlink(Origin::Base, &at) {
                        self.symlink(at, &to, own);
                    }
                }
                _ => {}
            }
        }
        // The host's /etc, with the base's own name-service configuration over it.
        self.bind(Origin::Host, p(&["etc"]), p(&["etc"]), true);
        self.read_only(p(&["etc"]));
        for name in BASE_ETC {
            let at = p(&["etc", name]);
            let (base, host) = (
                self.probe_kind(Origin::Base, &at),
                self.probe_kind(Origin::Host, &at),
            );
            if let (Some(k), true) = (base, base == host) {
                if matches!(k, Kind::Dir | Kind::File) {
                    self.bind(Origin::Base, at.clone(), at, k == Kind::Dir);
                }
            }
        }
        // The sandbox's own procfs: the PID namespace's processes only, never the host's (whose
        // /proc/<pid>/root would lead out of the sandbox).
        self.plan.ops.push(Op::Proc {
            target: p(&["proc"]),
        });
        self.model
            .bind_origin(Origin::Host, &p(&["proc"]), &p(&["proc"]));
        if self.input.uid == 0 {
            // An app run as root keeps its uid: the kernel's knobs stay read-only for it.
            for knob in PROC_READ_ONLY {
                let at = p(&["proc", knob]);
                if let Some(k) = self.probe_kind(Origin::Host, &at) {
                    if k != Kind::Symlink {
                        self.bind_within(at.clone(), at.clone(), k == Kind::Dir);
                        self.read_only(at);
                    }
                }
            }
        }
        self.bind(Origin::Host, p(&["sys"]), p(&["sys"]), true);
        self.read_only(p(&["sys"]));
        // /var/tmp is the host's, as in snapd, when the base has the mount point.
        let var_tmp = p(&["var", "tmp"]);
        if self.model.stat(&var_tmp).is_some() && self.present(Origin::Host, &var_tmp) {
            self.bind(Origin::Host, var_tmp.clone(), var_tmp, true);
        }
        Ok(())
    }

    /// A minimal `/dev`: the basic nodes bound from the host, a new devpts, a private `/dev/shm`,
    /// and the nodes that connected interfaces grant.
    pub(super) fn dev(&mut self) -> Result<()> {
        let owner = self.root_owner();
        // Not counted as ours: nothing is ever created in /dev but what is listed here. No file
        // in it is ever run.
        self.tmpfs_with(p(&["dev"]), 0o755, owner, false, true);
        let probe = self.model.probe();
        let profile = self.input.profile;
        let mut nodes: Vec<String> = DEVICES.iter().map(|s| s.to_string()).collect();
        let granted: Vec<&str> = INTERFACE_DEVICES
            .iter()
            .filter(|(iface, _)| profile.plug_connected(iface))
            .flat_map(|(_, prefixes)| prefixes.iter().copied())
            .collect();
        if !granted.is_empty() {
            nodes.extend(
                probe
                    .list(Origin::Host, &p(&["dev"]))
                    .into_iter()
                    .filter(|n| granted.iter().any(|g| n.starts_with(g))),
            );
        }
        for node in nodes {
            let at = p(&["dev", &node]);
            match self.probe_kind(Origin::Host, &at) {
                Some(Kind::CharDevice) => self.touch(at.clone(), 0o644, None),
                Some(Kind::Dir) => self.mkdir(at.clone(), 0o755, None),
                _ => continue,
            }
            self.bind(Origin::Host, at.clone(), at, true);
        }
        // `pulseaudio` on a classic system plays and records, as snapd's does.
        let pulse = profile.plug_connected("pulseaudio");
        let playback = pulse || profile.plug_connected("audio-playback");
        let record = pulse || profile.plug_connected("audio-record");
        let snd = p(&["dev", "snd"]);
        if (playback || record) && self.probe_kind(Origin::Host, &snd) == Some(Kind::Dir) {
            self.mkdir(snd.clone(), 0o755, None);
            for n in probe.list(Origin::Host, &snd) {
                let at = join(&snd, &n);
                if snd_node_for(&n, playback, record)
                    && self.probe_kind(Origin::Host, &at) == Some(Kind::CharDevice)
                {
                    self.touch(at.clone(), 0o644, None);
                    self.bind(Origin::Host, at.clone(), at, false);
                }
            }
        }
        self.interface_nodes();
        for dir in ["pts", "shm"] {
            self.mkdir(p(&["dev", dir]), 0o755, None);
        }
        // gid 5 is the tty group on Debian; a user namespace cannot name it.
        let tty_gid = self.privileged().then_some(5);
        self.plan.ops.push(Op::Devpts {
            target: p(&["dev", "pts"]),
            tty_gid,
        });
        self.model.mount_opaque(&p(&["dev", "pts"]));
        self.tmpfs(p(&["dev", "shm"]), 0o1777, None, true);
        let own = self.own();
        for (name, to) in [
            ("ptmx", "pts/ptmx"),
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ] {
            self.symlink(p(&["dev", name]), to, own);
        }
        self.read_only(p(&["dev"]));
        Ok(())
    }

    /// `/tmp` (the snap's private one), `/run` (with the app's runtime directory), `/snap`, and
    /// `/var/snap/<name>` alone.
    pub(super) fn snap_dirs(&mut self) -> Result<()> {
        self.bind(Origin::PrivateTmp, Vec::new(), p(&["tmp"]), false);
        let name = self.input.profile.snap.clone();
        let owner = self.root_owner();
        self.tmpfs(p(&["run"]), 0o755, owner, true);
        let runtime = parts(&format!("/run/user/{}/snap.{name}", self.input.uid))?;
        self.ensure(&runtime, false, 0o700)?;
        if self.privileged() {
            self.plan.ops.push(Op::Chown {
                path: runtime.clone(),
                owner: self.user(),
            });
        }
        if self.input.runtime {
            self.bind(Origin::Runtime, Vec::new(), runtime, false);
        }
        self.bind(Origin::SnapMounts, Vec::new(), p(&["snap"]), true);
        self.read_only(p(&["snap"]));
        // Other snaps' data is not there: /var/snap holds this snap's directory only.
        self.ensure(&p(&["var", "snap"]), false, 0o755)?;
        self.tmpfs(p(&["var", "snap"]), 0o755, owner, true);
        let own = self.own();
        self.mkdir(p(&["var", "snap", &name]), 0o755, own);
        self.bind(
            Origin::SnapData,
            Vec::new(),
            p(&["var", "snap", &name]),
            true,
        );
        Ok(())
    }

    /// The user's home: all of it with `home` connected (but `~/snap` holding this snap only),
    /// otherwise just `~/snap/<name>`.
    pub(super) fn home(&mut self) -> Result<()> {
        if !self.input.user_snap {
            return Ok(());
        }
        let home = parts(self.input.home.trim_end_matches('/'))?;
        if home.is_empty() {
            return Ok(());
        }
        let name = self.input.profile.snap.clone();
        let mine = join(&join(&home, "snap"), &name);
        if let Some(names) = self.input.home_entries {
            self.ensure(&home, false, 0o755)?;
            self.home_view(&home, names)?;
            self.tmpfs(join(&home, "snap"), 0o700, Some(self.user()), true);
            self.mkdir(mine.clone(), 0o755, None);
            self.bind(Origin::UserSnap, Vec::new(), mine, true);
            self.home_interfaces(&home)?;
            self.read_only(home);
        } else {
            self.ensure(&mine, false, 0o755)?;
            self.bind(Origin::UserSnap, Vec::new(), mine, true);
            self.home_interfaces(&home)?;
        }
        Ok(())
    }

    /// `home` grants the non-hidden files (snapd's `owner @{HOME}/[^.]**`). The home's top level
    /// is the sandbox's own tmpfs (made read-only once `~/snap` is in it) with each non-hidden
    /// entry of the real home bound in: directories and files stay writable, but no entry can be
    /// made, removed or replaced at the top, so no dot-file or dot-directory
    /// (`~/.bash_profile`, `~/.config/autostart`) can be planted, whether it existed or not. The
    /// price: new top-level files cannot be made either (they go into the existing folders), and
    /// entries the user adds to the top while the app runs do not show in it.
    fn home_view(&mut self, home: &[String], names: &[String]) -> Result<()> {
        let probe = self.model.probe();
        let mode = probe
            .stat(Origin::Home, &[])
            .map(|s| s.mode & 0o777)
            .ok_or_else(|| Error::setup(format!("cannot stat {}", show(home)), Errno::ENOENT))?;
        self.tmpfs(home.to_vec(), mode, Some(self.user()), true);
        self.mkdir(join(home, "snap"), 0o700, None);
        if names.len() > HOME_ENTRIES_MAX {
            eprintln!(
                "snapshelf-confine: the home has {} entries at its top level; the app sees the \
                 first {HOME_ENTRIES_MAX}",
                names.len()
            );
        }
        for n in names.iter().take(HOME_ENTRIES_MAX) {
            let src = p(&[n]);
            let at = join(home, n);
            match probe.stat(Origin::Home, &src).map(|s| s.kind) {
                Some(Kind::Dir) => {
                    self.mkdir(at.clone(), 0o755, None);
                    self.bind(Origin::Home, src, at, true);
                }
                Some(Kind::File) => {
                    self.touch(at.clone(), 0o644, None);
                    self.bind(Origin::Home, src, at, false);
                }
                Some(Kind::Symlink) => {
                    if let Some(to) = probe.readlink(Origin::Home, &src) {
                        self.symlink(at, &to, None);
                    }
                }
                // Devices, sockets and pipes at the top of a home are not the user's files.
                _ => {}
            }
        }
        Ok(())
    }
}
