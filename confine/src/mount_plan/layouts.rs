//! The snap's layouts: binds, files, symbolic links and tmpfs mounts anywhere in the sandbox, their
//! mount points made (under writable mimics where needed) by `ensure`.

use snapshelf_snap::layout::{expand_source, SourceRoots};
use snapshelf_snap::profile::ProfileLayout;

use super::planner::{parts, Planner};
use crate::error::{Error, Result};
use crate::sys::Kind;

impl Planner<'_> {
    /// The snap's layouts, parents before children.
    pub(super) fn layouts(&mut self) -> Result<()> {
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
