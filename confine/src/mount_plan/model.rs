//! What the sandbox will look like after the operations planned so far: a mount table and the
//! entries the plan made, over what the [`Probe`] says the sources hold. The planner asks it
//! whether a path exists, what it is, and whether it is ours to write in.

use std::collections::BTreeMap;

use super::{Origin, Probe, Stat};

/// What a mount shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Backing {
    /// A tmpfs the plan mounts (index into `Model::tmpfs`).
    Tmpfs(usize),
    /// A source outside the sandbox.
    Src(Origin),
    /// A file system whose content the plan does not need to know (devpts).
    Opaque,
}

#[derive(Debug, Clone)]
struct Mount {
    target: Vec<String>,
    backing: Backing,
    /// The path inside the backing that the mount shows.
    rel: Vec<String>,
}

#[derive(Debug, Clone)]
struct Made {
    stat: Stat,
    link: Option<String>,
}

pub(super) struct Model<'a> {
    probe: &'a dyn Probe,
    /// Visible mounts, in the order made; a mount hides every earlier one at or under its target.
    mounts: Vec<Mount>,
    /// Entries the plan creates, by where they live (so that a later bind of that place shows
    /// them too).
    made: BTreeMap<(Backing, Vec<String>), Made>,
    /// Each tmpfs's root, and whether it counts as ours to write in.
    tmpfs: Vec<(Stat, bool)>,
}

fn under(path: &[String], dir: &[String]) -> bool {
    path.len() > dir.len() && path.starts_with(dir)
}

impl<'a> Model<'a> {
    /// The sandbox's root: a tmpfs of ours.
    pub(super) fn new(probe: &'a dyn Probe, root: Stat) -> Model<'a> {
        Model {
            probe,
            mounts: vec![Mount {
                target: Vec::new(),
                backing: Backing::Tmpfs(0),
                rel: Vec::new(),
            }],
            made: BTreeMap::new(),
            tmpfs: vec![(root, true)],
        }
    }

    pub(super) fn probe(&self) -> &'a dyn Probe {
        self.probe
    }

    /// The mount that shows `path`, and the path inside its backing.
    pub(super) fn resolve(&self, path: &[String]) -> (Backing, Vec<String>) {
        let m = self
            .mounts
            .iter()
            .filter(|m| path.starts_with(&m.target))
            .max_by_key(|m| m.target.len())
            .expect("the root mount covers every path");
        let mut rel = m.rel.clone();
        rel.extend_from_slice(&path[m.target.len()..]);
        (m.backing, rel)
    }

    /// What is at `path`, without following a link.
    pub(super) fn stat(&self, path: &[String]) -> Option<Stat> {
        let (backing, rel) = self.resolve(path);
        if let Some(m) = self.made.get(&(backing, rel.clone())) {
            return Some(m.stat);
        }
        match backing {
            Backing::Tmpfs(id) => rel.is_empty().then_some(self.tmpfs[id].0),
            Backing::Src(origin) => self.probe.stat(origin, &rel),
            Backing::Opaque => None,
        }
    }

    pub(super) fn readlink(&self, path: &[String]) -> Option<String> {
        let (backing, rel) = self.resolve(path);
        if let Some(m) = self.made.get(&(backing, rel.clone())) {
            return m.link.clone();
        }
        match backing {
            Backing::Src(origin) => self.probe.readlink(origin, &rel),
            _ => None,
        }
    }

    /// The names in the directory `path`, sorted.
    pub(super) fn children(&self, path: &[String]) -> Vec<String> {
        let (backing, rel) = self.resolve(path);
        let mut names = match backing {
            Backing::Src(origin) => self.probe.list(origin, &rel),
            _ => Vec::new(),
        };
        names.extend(
            self.made
                .keys()
                .filter(|(b, r)| *b == backing && r.len() == rel.len() + 1 && r.starts_with(&rel))
                .map(|(_, r)| r[rel.len()].clone()),
        );
        names.sort();
        names.dedup();
        names
    }

    /// Whether `path` is on a tmpfs of ours.
    pub(super) fn is_ours(&self, path: &[String]) -> bool {
        matches!(self.resolve(path).0, Backing::Tmpfs(id) if self.tmpfs[id].1)
    }

    pub(super) fn record(&mut self, path: &[String], stat: Stat, link: Option<String>) {
        let key = self.resolve(path);
        self.made.insert(key, Made { stat, link });
    }

    fn mount(&mut self, target: &[String], backing: Backing, rel: Vec<String>) {
        self.mounts.retain(|m| !m.target.starts_with(target));
        self.mounts.push(Mount {
            target: target.to_vec(),
            backing,
            rel,
        });
    }

    pub(super) fn mount_tmpfs(&mut self, target: &[String], root: Stat, ours: bool) {
        self.tmpfs.push((root, ours));
        let id = self.tmpfs.len() - 1;
        self.mount(target, Backing::Tmpfs(id), Vec::new());
    }

    pub(super) fn mount_opaque(&mut self, target: &[String]) {
        self.mount(target, Backing::Opaque, Vec::new());
    }

    pub(super) fn bind_origin(&mut self, origin: Origin, rel: &[String], target: &[String]) {
        self.mount(target, Backing::Src(origin), rel.to_vec());
    }

    /// What a bind of the sandbox's `from` would carry: its mount, and with `recursive` the
    /// mounts under it (relative to `from`).
    pub(super) fn capture(&self, from: &[String], recursive: bool) -> Captured {
        let (backing, rel) = self.resolve(from);
        let subs = if recursive {
            self.mounts
                .iter()
                .filter(|m| under(&m.target, from))
                .map(|m| Mount {
                    target: m.target[from.len()..].to_vec(),
                    ..m.clone()
                })
                .collect()
        } else {
            Vec::new()
        };
        Captured { backing, rel, subs }
    }

    /// Put what was captured on `target`.
    pub(super) fn place(&mut self, captured: Captured, target: &[String]) {
        self.mount(target, captured.backing, captured.rel);
        for mut m in captured.subs {
            let mut t = target.to_vec();
            t.append(&mut m.target);
            m.target = t;
            self.mounts.push(m);
        }
    }
}

/// A mount (with what is mounted under it) taken from one place of the sandbox, to be put at
/// another.
pub(super) struct Captured {
    backing: Backing,
    rel: Vec<String>,
    subs: Vec<Mount>,
}
