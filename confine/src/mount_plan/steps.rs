//! The planner: the sandbox's parts in the order they are built, each a method that appends
//! operations and keeps the [`Model`] up to date so that later parts see what earlier ones made.

use nix::errno::Errno;
use snapshelf_snap::layout::{expand_source, SourceRoots};
use snapshelf_snap::profile::ProfileLayout;

use super::model::Model;
use super::{show, MimicEntry, Op, Origin, Plan, PlanInput, Probe, Source, Stat};
use crate::error::{Error, Result};
use crate::sandbox::Power;
use crate::sys::{self, Kind};

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

/// Host paths (relative to `/usr/share`) that `desktop` brings in.
const DESKTOP_SHARE: &[&str] = &["fonts", "icons", "themes"];

/// Whether a node of `/dev/snd` belongs to playback, to recording, or to both (controls, timer,
/// sequencer). PCM nodes end in `p` (playback) or `c` (capture).
fn snd_node_for(name: &str, playback: bool, record: bool) -> bool {
    if name.starts_with("pcmC") {
        (playback && name.ends_with('p')) || (record && name.ends_with('c'))
    } else {
        (playback || record) && (name.starts_with("controlC") || name == "timer" || name == "seq")
    }
}

fn parts(path: &str) -> Result<Vec<String>> {
    sys::components(std::path::Path::new(path)).map_err(Error::Invalid)
}

fn p(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn join(dir: &[String], name: &str) -> Vec<String> {
    let mut out = dir.to_vec();
    out.push(name.to_string());
    out
}

fn describe(k: Kind) -> &'static str {
    match k {
        Kind::Dir => "a directory",
        Kind::File => "a regular file",
        Kind::Symlink => "a symbolic link",
        Kind::CharDevice => "a device",
        Kind::Other => "a special file",
    }
}

pub(super) struct Planner<'a> {
    input: &'a PlanInput<'a>,
    model: Model<'a>,
    /// Sandbox paths under which the host's files may be created (the snap's own data).
    writable: Vec<Vec<String>>,
    plan: Plan,
}

impl<'a> Planner<'a> {
    pub(super) fn new(input: &'a PlanInput<'a>, probe: &'a dyn Probe) -> Result<Planner<'a>> {
        let prof = input.profile;
        let root = Stat {
            kind: Kind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
        };
        Ok(Planner {
            input,
            model: Model::new(probe, root),
            writable: vec![
                parts(&format!("/var/snap/{}/{}", prof.snap, prof.revision))?,
                parts(&format!("/var/snap/{}/common", prof.snap))?,
            ],
            plan: Plan::default(),
        })
    }

    /// Every part, in the order the sandbox is built.
    pub(super) fn run(mut self) -> Result<Plan> {
        self.populate()?;
        self.dev()?;
        self.snap_dirs()?;
        self.home()?;
        self.interfaces()?;
        self.layouts()?;
        Ok(self.plan)
    }

    fn privileged(&self) -> bool {
        self.input.power == Power::Privileged
    }

    /// Entries we create belong to root in the privileged mode (we run with the user's ids and
    /// only borrow capabilities), to the user in a user namespace (where root does not exist).
    fn own(&self) -> Option<(u32, u32)> {
        (self.privileged() && self.input.euid != 0).then_some((0, 0))
    }

    /// The owner to give a tmpfs that belongs to root (unnamed in a user namespace).
    fn root_owner(&self) -> Option<(u32, u32)> {
        self.privileged().then_some((0, 0))
    }

    fn user(&self) -> (u32, u32) {
        (self.input.uid, self.input.gid)
    }

    /// What an entry the plan makes will look like: created with our effective uid unless it is
    /// given away.
    fn made_stat(&self, kind: Kind, mode: u32, chown: Option<(u32, u32)>) -> Stat {
        let (uid, gid) = chown.unwrap_or((self.input.euid, self.input.gid));
        Stat {
            kind,
            mode,
            uid,
            gid,
        }
    }

    fn mkdir(&mut self, path: Vec<String>, mode: u32, chown: Option<(u32, u32)>) {
        let st = self.made_stat(Kind::Dir, mode, chown);
        self.model.record(&path, st, None);
        self.plan.ops.push(Op::Mkdir { path, mode, chown });
    }

    fn touch(&mut self, path: Vec<String>, mode: u32, chown: Option<(u32, u32)>) {
        let st = self.made_stat(Kind::File, mode, chown);
        self.model.record(&path, st, None);
        self.plan.ops.push(Op::Touch { path, mode, chown });
    }

    fn symlink(&mut self, path: Vec<String>, to: &str, chown: Option<(u32, u32)>) {
        let st = self.made_stat(Kind::Symlink, 0o777, chown);
        self.model.record(&path, st, Some(to.to_string()));
        self.plan.ops.push(Op::Symlink {
            path,
            to: to.to_string(),
            chown,
        });
    }

    fn tmpfs(&mut self, target: Vec<String>, mode: u32, owner: Option<(u32, u32)>, ours: bool) {
        self.tmpfs_with(target, mode, owner, ours, false);
    }

    /// A tmpfs; `ours` when the plan may create entries in it without a mimic.
    fn tmpfs_with(
        &mut self,
        target: Vec<String>,
        mode: u32,
        owner: Option<(u32, u32)>,
        ours: bool,
        noexec: bool,
    ) {
        // Unnamed in a user namespace: the tmpfs is then the user's.
        let (uid, gid) = owner.unwrap_or(self.user());
        let st = Stat {
            kind: Kind::Dir,
            mode,
            uid,
            gid,
        };
        self.model.mount_tmpfs(&target, st, ours);
        self.plan.ops.push(Op::Tmpfs {
            target,
            mode,
            owner,
            noexec,
        });
    }

    /// Bind `path` under `origin` (not the sandbox) onto `target`.
    fn bind(&mut self, origin: Origin, path: Vec<String>, target: Vec<String>, recursive: bool) {
        self.model.bind_origin(origin, &path, &target);
        self.plan.ops.push(Op::Bind {
            source: Source { origin, path },
            target,
            recursive,
        });
    }

    /// Bind the sandbox's own `from` onto `target`.
    fn bind_within(&mut self, from: Vec<String>, target: Vec<String>, recursive: bool) {
        let captured = self.model.capture(&from, recursive);
        self.model.place(captured, &target);
        self.plan.ops.push(Op::Bind {
            source: Source {
                origin: Origin::Sandbox,
                path: from,
            },
            target,
            recursive,
        });
    }

    fn read_only(&mut self, target: Vec<String>) {
        self.plan.ops.push(Op::ReadOnly { target });
    }

    fn probe_kind(&self, origin: Origin, path: &[String]) -> Option<Kind> {
        self.model.probe().stat(origin, path).map(|s| s.kind)
    }

    /// Whether `path` under `origin` can be the source of a bind (there, and not a link).
    fn present(&self, origin: Origin, path: &[String]) -> bool {
        matches!(self.probe_kind(origin, path), Some(k) if k != Kind::Symlink)
    }

    fn may_create_in(&self, dir: &[String]) -> bool {
        self.model.is_ours(dir) || self.writable.iter().any(|w| dir.starts_with(w))
    }

    /// Make sure `path` exists as a directory (or, with `file`, a regular file as its last part),
    /// creating what is missing, and covering with a writable mimic any directory that is not
    /// ours to write.
    fn ensure(&mut self, path: &[String], file: bool, mode: u32) -> Result<()> {
        if path.is_empty() {
            return Err(Error::Invalid(
                "the sandbox's root cannot be a target".into(),
            ));
        }
        for i in 0..path.len() {
            let is_last = i + 1 == path.len();
            let want = if is_last && file {
                Kind::File
            } else {
                Kind::Dir
            };
            let here = &path[..=i];
            if let Some(st) = self.model.stat(here) {
                if st.kind != want {
                    let link = if st.kind == Kind::Symlink {
                        ": the sandbox never follows links there"
                    } else {
                        ""
                    };
                    return Err(Error::Invalid(format!(
                        "{} is {} where {} is needed{link}",
                        show(here),
                        describe(st.kind),
                        describe(want),
                    )));
                }
                continue;
            }
            if !self.may_create_in(&path[..i]) {
                self.mimic(&path[..i])?;
            }
            let own = self.own();
            if want == Kind::File {
                self.touch(here.to_vec(), 0o644, own);
            } else {
                self.mkdir(here.to_vec(), if is_last { mode } else { 0o755 }, own);
            }
        }
        Ok(())
    }

    /// Cover the directory `path` with a tmpfs of the same mode and owner, and put its entries
    /// back: directories and files bound from the original, symbolic links recreated.
    fn mimic(&mut self, path: &[String]) -> Result<()> {
        if path.is_empty() {
            return Err(Error::Invalid("cannot mimic the sandbox's root".into()));
        }
        let st = self
            .model
            .stat(path)
            .filter(|s| s.kind == Kind::Dir)
            .ok_or_else(|| Error::Invalid(format!("{} is not a directory to mimic", show(path))))?;
        let owner = match self.input.power {
            Power::Privileged => Some((st.uid, st.gid)),
            Power::UserNamespace => ((st.uid, st.gid) == self.user()).then_some((st.uid, st.gid)),
        };
        let mut entries = Vec::new();
        // What each entry will show once put back: a bind of the original, or a new link.
        let mut placed = Vec::new();
        for name in self.model.children(path) {
            let at = join(path, &name);
            let Some(est) = self.model.stat(&at) else {
                continue;
            };
            match est.kind {
                Kind::Dir | Kind::File => {
                    let dir = est.kind == Kind::Dir;
                    placed.push((at.clone(), Ok(self.model.capture(&at, dir)), dir));
                    entries.push(if dir {
                        MimicEntry::Dir(name)
                    } else {
                        MimicEntry::File(name)
                    });
                }
                Kind::Symlink => {
                    let to = self
                        .model
                        .readlink(&at)
                        .ok_or_else(|| Error::Invalid(format!("{} is not UTF-8", show(&at))))?;
                    let chown =
                        (owner.is_some() && self.privileged()).then_some((est.uid, est.gid));
                    placed.push((at.clone(), Err((est, to.clone())), false));
                    entries.push(MimicEntry::Symlink { name, to, chown });
                }
                // Device nodes, sockets and pipes are not part of what a layout may need.
                Kind::CharDevice | Kind::Other => {}
            }
        }
        let (uid, gid) = owner.unwrap_or(self.user());
        let root = Stat { uid, gid, ..st };
        self.model.mount_tmpfs(path, root, true);
        for (at, what, dir) in placed {
            match what {
                Ok(captured) => {
                    let st = if dir {
                        self.made_stat(Kind::Dir, 0o755, None)
                    } else {
                        self.made_stat(Kind::File, 0o644, None)
                    };
                    self.model.record(&at, st, None);
                    self.model.place(captured, &at);
                }
                Err((est, to)) => self.model.record(&at, est, Some(to)),
            }
        }
        self.plan.ops.push(Op::Mimic {
            target: path.to_vec(),
            mode: st.mode,
            owner,
            entries,
        });
        Ok(())
    }
}

/// The parts of the sandbox, in the order [`Planner::run`] plans them.
impl Planner<'_> {
    /// The base snap's top level, the host's `/etc`, `/sys`, `/var/tmp`, and a procfs of the
    /// sandbox's own PID namespace.
    fn populate(&mut self) -> Result<()> {
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
    fn dev(&mut self) -> Result<()> {
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
        let playback = profile.plug_connected("audio-playback");
        let record = profile.plug_connected("audio-record");
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
    fn snap_dirs(&mut self) -> Result<()> {
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
    fn home(&mut self) -> Result<()> {
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
            self.read_only(home);
        } else {
            self.ensure(&mine, false, 0o755)?;
            self.bind(Origin::UserSnap, Vec::new(), mine, true);
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

/// What the interfaces add, and the layouts.
impl Planner<'_> {
    /// `/media`, `/run/media` and `/mnt` from the host, with `removable-media`; the user's
    /// Wayland, PulseAudio and PipeWire sockets; `/usr/share/{fonts,icons,themes}` with
    /// `desktop`; the X11 sockets with `x11`.
    fn interfaces(&mut self) -> Result<()> {
        let profile = self.input.profile;
        if profile.plug_connected("removable-media") {
            for top in ["media", "mnt"] {
                if self.present(Origin::Host, &p(&[top])) {
                    self.bind(Origin::Host, p(&[top]), p(&[top]), true);
                }
            }
            let run_media = p(&["run", "media"]);
            if self.present(Origin::Host, &run_media) {
                self.ensure(&run_media, false, 0o755)?;
                self.bind(Origin::Host, run_media.clone(), run_media, true);
            }
        }
        self.user_sockets()?;
        if profile.plug_connected("desktop") {
            for share in DESKTOP_SHARE {
                let at = p(&["usr", "share", share]);
                if self.present(Origin::Host, &at) {
                    self.ensure(&at, false, 0o755)?;
                    self.bind(Origin::Host, at.clone(), at.clone(), true);
                    self.read_only(at);
                }
            }
        }
        let x11 = p(&["tmp", ".X11-unix"]);
        if profile.plug_connected("x11")
            && self.present(Origin::Host, &x11)
            && self.model.stat(&x11).is_some()
        {
            self.bind(Origin::Host, x11.clone(), x11, false);
        }
        Ok(())
    }

    /// The sockets in the user's runtime directory that `wayland` and the audio interfaces
    /// grant, when they are the user's own.
    fn user_sockets(&mut self) -> Result<()> {
        let profile = self.input.profile;
        let uid = self.input.uid;
        let runtime = format!("/run/user/{uid}");
        let runtime_parts = parts(&runtime)?;
        let mut sockets: Vec<String> = Vec::new();
        let mut wanted: Vec<(String, Option<(&str, String)>)> = Vec::new();
        if profile.plug_connected("wayland") {
            let name = self.input.wayland_display.to_string();
            let var = format!("{runtime}/{name}");
            wanted.push((name, Some(("WAYLAND_DISPLAY", var))));
        }
        if profile.plug_connected("audio-playback") || profile.plug_connected("audio-record") {
            let var = format!("unix:{runtime}/pulse/native");
            wanted.push(("pulse/native".into(), Some(("PULSE_SERVER", var))));
            wanted.push(("pipewire-0".into(), None));
        }
        for (name, var) in wanted {
            let Ok(rel) = parts(&name) else { continue };
            let mut at = runtime_parts.clone();
            at.extend(rel);
            // Only the user's own sockets: the runtime directory is the user's to fill.
            let theirs = self
                .model
                .probe()
                .stat(Origin::Host, &at)
                .is_some_and(|s| s.uid == uid && s.kind == Kind::Other);
            if theirs {
                if let Some((k, v)) = var {
                    self.plan.env.push((k.to_string(), v));
                }
                sockets.push(name);
            }
        }
        for name in sockets {
            let mut at = runtime_parts.clone();
            at.extend(parts(&name)?);
            self.ensure(&at, true, 0o644)?;
            self.bind(Origin::Host, at.clone(), at, false);
        }
        Ok(())
    }

    /// The snap's layouts, parents before children.
    fn layouts(&mut self) -> Result<()> {
        let prof = self.input.profile;
        let roots = SourceRoots {
            snap: format!("/snap/{}/{}", prof.snap, prof.revision).into(),
            data: format!("/var/snap/{}/{}", prof.snap, prof.revision).into(),
            common: format!("/var/snap/{}/common", prof.snap).into(),
        };
        let mut layouts: Vec<&ProfileLayout> = prof.layouts.iter().collect();
        layouts.sort_by(|a, b| a.path.cmp(&b.path));
        for l in layouts {
            self.layout(l, &roots)?;
        }
        Ok(())
    }

    fn layout(&mut self, l: &ProfileLayout, roots: &SourceRoots) -> Result<()> {
        let target = parts(&l.path)?;
        let source = || -> Result<String> {
            let s = expand_source(&l.source, roots)
                .map_err(|e| Error::Invalid(format!("layout {}: {e}", l.path)))?;
            Ok(s.to_string_lossy().to_string())
        };
        match l.kind.as_str() {
            "bind" | "bind-file" => {
                let file = l.kind == "bind-file";
                let src = parts(&source()?)?;
                self.ensure(&src, file, 0o755)?;
                self.ensure(&target, file, l.mode)?;
                self.bind_within(src, target, !file);
            }
            "symlink" => {
                let src = source()?;
                let Some((_, dir)) = target.split_last() else {
                    return Err(Error::Invalid("a layout cannot target /".into()));
                };
                self.ensure(dir, false, 0o755)?;
                match self.model.stat(&target).map(|s| s.kind) {
                    Some(Kind::Symlink) if self.model.readlink(&target) == Some(src.clone()) => {
                        return Ok(())
                    }
                    Some(Kind::Symlink) => {
                        return Err(Error::Invalid(format!(
                            "layout {}: a different symbolic link is already there",
                            l.path
                        )))
                    }
                    Some(_) => {
                        return Err(Error::Invalid(format!(
                            "layout {}: something that is not a symbolic link is already there",
                            l.path
                        )))
                    }
                    None => {}
                }
                if !self.may_create_in(dir) {
                    self.mimic(dir)?;
                }
                let own = self.own();
                self.symlink(target, &src, own);
            }
            "tmpfs" => {
                self.ensure(&target, false, l.mode)?;
                let owner = self.root_owner();
                self.tmpfs(target, l.mode, owner, true);
            }
            other => {
                return Err(Error::Invalid(format!(
                    "layout {}: unknown kind {other:?}",
                    l.path
                )))
            }
        }
        Ok(())
    }
}
