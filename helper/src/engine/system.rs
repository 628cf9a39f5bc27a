//! What tasks do to the system beyond the state database and their own data folders: mounts,
//! the links, profiles and launchers of a current revision, copies and removals of data trees.
//! Behind a trait so that the runner's order of run and undo, and recovery, are unit tests that
//! need no root ([`Recording`] in tests).

use snapshelf_snap::profile::ProfileContent;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::files::{self, Launcher};
use crate::error::Result;
use crate::paths::Paths;
use crate::state::SnapState;

pub trait System: Send + Sync {
    /// Refuse a revision being brought in that must never be mounted (setuid or setgid files).
    fn check_new(&self, blob: &Path) -> Result<()>;
    /// Mount `blob` at `dir` (made if missing). Idempotent.
    fn mount(&self, blob: &Path, dir: &Path) -> Result<()>;
    /// Unmount `dir` and remove it. Idempotent.
    fn unmount(&self, dir: &Path) -> Result<()>;
    /// Everything mounted under `dir`.
    fn mounts_under(&self, dir: &Path) -> Vec<PathBuf>;
    /// Point the `current` links, profiles and launchers at the snap's current revision.
    /// `content`: what the snap's connected content plugs mount (`Engine::content_for`).
    fn link(&self, snap: &SnapState, base_revision: &str, content: &[ProfileContent])
        -> Result<()>;
    /// Take the snap's links, profiles and launchers away.
    fn unlink(&self, name: &str) -> Result<()>;
    /// Copy a data tree keeping modes, owners and links; `to` appears whole or not at all.
    fn copy_data(&self, from: &Path, to: &Path) -> Result<()>;
    /// Delete a tree, read-only parts included, never following links. Idempotent.
    fn remove_tree(&self, dir: &Path) -> Result<()>;
    /// Make the snap's `/snap/bin` alias links exactly `links` (alias → app). Idempotent.
    fn aliases(&self, name: &str, links: &BTreeMap<String, String>) -> Result<()>;
}

/// The real system: loop mounts, files under the root, `cp -a`.
pub struct Real {
    pub paths: Paths,
    pub launcher: Launcher,
    pub allow_loop: bool,
}

impl System for Real {
    fn check_new(&self, blob: &Path) -> Result<()> {
        Ok(crate::mount::check_new(blob)?)
    }

    fn mount(&self, blob: &Path, dir: &Path) -> Result<()> {
        crate::mount::mount(blob, dir, self.allow_loop)?;
        Ok(())
    }

    fn unmount(&self, dir: &Path) -> Result<()> {
        Ok(crate::mount::unmount(dir)?)
    }

    fn mounts_under(&self, dir: &Path) -> Vec<PathBuf> {
        crate::mount::mounts_under(dir)
    }

    fn link(
        &self,
        snap: &SnapState,
        base_revision: &str,
        content: &[ProfileContent],
    ) -> Result<()> {
        files::apply(&self.paths, snap, base_revision, content, &self.launcher)
    }

    fn unlink(&self, name: &str) -> Result<()> {
        files::remove(&self.paths, name)
    }

    fn copy_data(&self, from: &Path, to: &Path) -> Result<()> {
        super::data_dirs::copy_tree(from, to)
    }

    fn remove_tree(&self, dir: &Path) -> Result<()> {
        Ok(crate::mount::remove_tree(dir)?)
    }

    fn aliases(&self, name: &str, links: &BTreeMap<String, String>) -> Result<()> {
        super::aliases::sync_links(&self.paths, name, links)
    }
}

#[cfg(test)]
pub use recording::Recording;

#[cfg(test)]
mod recording {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    use super::System;
    use crate::error::{Error, Result};
    use crate::state::SnapState;
    use snapshelf_snap::profile::ProfileContent;

    type Hook = Box<dyn Fn() + Send + Sync>;

    /// A system that writes down what is asked of it (`"mount snap/a/1"`, `"link a 1"`, paths
    /// relative to the root), keeps a set of what is "mounted", does the data-folder work for
    /// real (it needs no root) and fails, or runs a hook, on request.
    pub struct Recording {
        root: PathBuf,
        log: Mutex<Vec<String>>,
        mounted: Mutex<BTreeSet<PathBuf>>,
        fail: Mutex<Vec<String>>,
        hooks: Mutex<Vec<(String, Hook)>>,
    }

    impl Recording {
        pub fn new(root: &Path) -> Self {
            Recording {
                root: root.to_path_buf(),
                log: Mutex::default(),
                mounted: Mutex::default(),
                fail: Mutex::default(),
                hooks: Mutex::default(),
            }
        }

        /// What was asked, in order.
        pub fn log(&self) -> Vec<String> {
            self.log.lock().unwrap().clone()
        }

        pub fn clear(&self) {
            self.log.lock().unwrap().clear();
        }

        /// Every call whose entry starts with `prefix` fails (after being written down).
        pub fn fail_on(&self, prefix: &str) {
            self.fail.lock().unwrap().push(prefix.to_string());
        }

        /// Run `f` when a call whose entry starts with `prefix` is made, before it answers.
        pub fn on(&self, prefix: &str, f: impl Fn() + Send + Sync + 'static) {
            self.hooks
                .lock()
                .unwrap()
                .push((prefix.to_string(), Box::new(f)));
        }

        pub fn is_mounted(&self, dir: &Path) -> bool {
            self.mounted.lock().unwrap().contains(dir)
        }

        fn rel(&self, p: &Path) -> String {
            p.strip_prefix(&self.root)
                .unwrap_or(p)
                .display()
                .to_string()
        }

        fn call(&self, entry: String) -> Result<()> {
            self.log.lock().unwrap().push(entry.clone());
            for (prefix, hook) in self.hooks.lock().unwrap().iter() {
                if entry.starts_with(prefix.as_str()) {
                    hook();
                }
            }
            if self
                .fail
                .lock()
                .unwrap()
                .iter()
                .any(|p| entry.starts_with(p.as_str()))
            {
                return Err(Error::internal(format!("injected failure: {entry}")));
            }
            Ok(())
        }
    }

    impl System for Recording {
        fn check_new(&self, _blob: &Path) -> Result<()> {
            Ok(())
        }

        fn mount(&self, _blob: &Path, dir: &Path) -> Result<()> {
            self.call(format!("mount {}", self.rel(dir)))?;
            std::fs::create_dir_all(dir)?;
            self.mounted.lock().unwrap().insert(dir.to_path_buf());
            Ok(())
        }

        fn unmount(&self, dir: &Path) -> Result<()> {
            self.call(format!("unmount {}", self.rel(dir)))?;
            self.mounted.lock().unwrap().remove(dir);
            let _ = std::fs::remove_dir(dir);
            Ok(())
        }

        fn mounts_under(&self, dir: &Path) -> Vec<PathBuf> {
            let mounted = self.mounted.lock().unwrap();
            mounted
                .iter()
                .filter(|m| m.starts_with(dir))
                .cloned()
                .collect()
        }

        fn link(
            &self,
            snap: &SnapState,
            _base_revision: &str,
            _content: &[ProfileContent],
        ) -> Result<()> {
            self.call(format!("link {} {}", snap.name, snap.current))
        }

        fn unlink(&self, name: &str) -> Result<()> {
            self.call(format!("unlink {name}"))
        }

        fn copy_data(&self, from: &Path, to: &Path) -> Result<()> {
            self.call(format!("copy {} {}", self.rel(from), self.rel(to)))?;
            crate::engine::data_dirs::copy_tree(from, to)
        }

        fn remove_tree(&self, dir: &Path) -> Result<()> {
            self.call(format!("remove {}", self.rel(dir)))?;
            Ok(crate::mount::remove_tree(dir)?)
        }

        fn aliases(
            &self,
            name: &str,
            links: &std::collections::BTreeMap<String, String>,
        ) -> Result<()> {
            let list: Vec<String> = links.iter().map(|(a, app)| format!("{a}={app}")).collect();
            self.call(format!("aliases {name} {}", list.join(",")))
        }
    }
}
