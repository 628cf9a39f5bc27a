//! The planner: the sandbox's parts in the order they are built (`system.rs`, `interfaces.rs`,
//! `layouts.rs`), each a method that appends operations and keeps the [`Model`] up to date so that
//! later parts see what earlier ones made. Here: what they share, and `ensure` and `mimic`, by which
//! a part gets a path to mount on.

use super::model::Model;
use super::{show, MimicEntry, Op, Origin, Plan, PlanInput, Probe, Source, Stat};
use crate::error::{Error, Result};
use crate::sandbox::Power;
use crate::sys::{self, Kind};

pub(super) fn parts(path: &str) -> Result<Vec<String>> {
    sys::components(std::path::Path::new(path)).map_err(Error::Invalid)
}

pub(super) fn p(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

pub(super) fn join(dir: &[String], name: &str) -> Vec<String> {
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
    pub(super) input: &'a PlanInput<'a>,
    pub(super) model: Model<'a>,
    /// Sandbox paths under which the host's files may be created (the snap's own data).
    writable: Vec<Vec<String>>,
    pub(super) plan: Plan,
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
        self.session()?;
        // Content before layouts, as snapd orders them: a layout may use what content brings.
        self.content()?;
        self.layouts()?;
        self.notify_socket()?;
        // Last: a mimic made for a layout would cover it.
        self.snapctl()?;
        Ok(self.plan)
    }

    pub(super) fn privileged(&self) -> bool {
        self.input.power == Power::Privileged
    }

    /// Entries we create belong to root in the privileged mode (we run with the user's ids and
    /// only borrow capabilities), to the user in a user namespace (where root does not exist).
    pub(super) fn own(&self) -> Option<(u32, u32)> {
        (self.privileged() && self.input.euid != 0).then_some((0, 0))
    }

    /// The owner to give a tmpfs that belongs to root (unnamed in a user namespace).
    pub(super) fn root_owner(&self) -> Option<(u32, u32)> {
        self.privileged().then_some((0, 0))
    }

    pub(super) fn user(&self) -> (u32, u32) {
        (self.input.uid, self.input.gid)
    }

    /// What an entry the plan makes will look like: created with our effective uid unless it is
    /// given away.
    pub(super) fn made_stat(&self, kind: Kind, mode: u32, chown: Option<(u32, u32)>) -> Stat {
        let (uid, gid) = chown.unwrap_or((self.input.euid, self.input.gid));
        Stat {
            kind,
            mode,
            uid,
            gid,
        }
    }

    pub(super) fn mkdir(&mut self, path: Vec<String>, mode: u32, chown: Option<(u32, u32)>) {
        let st = self.made_stat(Kind::Dir, mode, chown);
        self.model.record(&path, st, None);
        self.plan.ops.push(Op::Mkdir { path, mode, chown });
    }

    pub(super) fn touch(&mut self, path: Vec<String>, mode: u32, chown: Option<(u32, u32)>) {
        let st = self.made_stat(Kind::File, mode, chown);
        self.model.record(&path, st, None);
        self.plan.ops.push(Op::Touch { path, mode, chown });
    }

    pub(super) fn symlink(&mut self, path: Vec<String>, to: &str, chown: Option<(u32, u32)>) {
        let st = self.made_stat(Kind::Symlink, 0o777, chown);
        self.model.record(&path, st, Some(to.to_string()));
        self.plan.ops.push(Op::Symlink {
            path,
            to: to.to_string(),
            chown,
        });
    }

    pub(super) fn tmpfs(
        &mut self,
        target: Vec<String>,
        mode: u32,
        owner: Option<(u32, u32)>,
        ours: bool,
    ) {
        self.tmpfs_with(target, mode, owner, ours, false);
    }

    /// A tmpfs; `ours` when the plan may create entries in it without a mimic.
    pub(super) fn tmpfs_with(
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
    pub(super) fn bind(
        &mut self,
        origin: Origin,
        path: Vec<String>,
        target: Vec<String>,
        recursive: bool,
    ) {
        self.model.bind_origin(origin, &path, &target);
        self.plan.ops.push(Op::Bind {
            source: Source { origin, path },
            target,
            recursive,
        });
    }

    /// Bind the sandbox's own `from` onto `target`.
    pub(super) fn bind_within(&mut self, from: Vec<String>, target: Vec<String>, recursive: bool) {
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

    pub(super) fn read_only(&mut self, target: Vec<String>) {
        self.plan.ops.push(Op::ReadOnly { target });
    }

    pub(super) fn probe_kind(&self, origin: Origin, path: &[String]) -> Option<Kind> {
        self.model.probe().stat(origin, path).map(|s| s.kind)
    }

    /// Whether `path` under `origin` can be the source of a bind (there, and not a link).
    pub(super) fn present(&self, origin: Origin, path: &[String]) -> bool {
        matches!(self.probe_kind(origin, path), Some(k) if k != Kind::Symlink)
    }

    pub(super) fn may_create_in(&self, dir: &[String]) -> bool {
        self.model.is_ours(dir) || self.writable.iter().any(|w| dir.starts_with(w))
    }

    /// Make sure `path` exists as a directory (or, with `file`, a regular file as its last part),
    /// creating what is missing, and covering with a writable mimic any directory that is not
    /// ours to write.
    pub(super) fn ensure(&mut self, path: &[String], file: bool, mode: u32) -> Result<()> {
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
    pub(super) fn mimic(&mut self, path: &[String]) -> Result<()> {
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
