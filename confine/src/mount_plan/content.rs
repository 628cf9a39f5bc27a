//! The snap's connected content plugs (snapd's content interface, as snap-update-ns carries it
//! out): each bind of the profile from the providing snap (`$SNAP` under `/snap`, `$SNAP_DATA`
//! and `$SNAP_COMMON` under `/var/snap`) onto its target in this snap, read-only unless it is a
//! write path. A missing target is made by `ensure`, under a writable mimic in `$SNAP`.

use snapshelf_snap::content::{below_root, normalise, Root};
use snapshelf_snap::profile::{ProfileBind, ProfileContent};

use super::planner::{parts, Planner};
use super::Origin;
use crate::error::{Error, Result};
use crate::sys::Kind;

/// One path component that must not climb or be empty (a snap name, a revision).
fn component(what: &str, v: &str) -> Result<String> {
    match parts(v)?.as_slice() {
        [one] if one == v => Ok(one.clone()),
        _ => Err(Error::Invalid(format!(
            "content: {what} {v:?} is not a name"
        ))),
    }
}

impl Planner<'_> {
    /// Every content bind of the profile, in its order.
    pub(super) fn content(&mut self) -> Result<()> {
        let prof = self.input.profile;
        for c in &prof.content {
            for b in &c.binds {
                self.content_bind(c, b)?;
            }
        }
        Ok(())
    }

    fn content_bind(&mut self, c: &ProfileContent, b: &ProfileBind) -> Result<()> {
        let prof = self.input.profile;
        let what = format!("content plug {}:{}", prof.snap, c.plug);
        // The profile is root's, but checking again is cheap and keeps each path in its snap.
        let source =
            normalise("source", &b.source).map_err(|e| Error::Invalid(format!("{what}: {e}")))?;
        let target =
            normalise("target", &b.target).map_err(|e| Error::Invalid(format!("{what}: {e}")))?;
        let provider = component("provider", &c.provider)?;
        let provider_rev = component("provider revision", &c.provider_revision)?;
        let (root, rel) = below_root(&source);
        let (origin, mut from) = match root {
            Root::Snap => (Origin::SnapMounts, vec![provider, provider_rev]),
            Root::Data => (Origin::VarSnap, vec![provider, provider_rev]),
            Root::Common => (Origin::VarSnap, vec![provider, "common".to_string()]),
        };
        from.extend(rel);
        // Each step of the source is looked at: a link anywhere is refused, never followed.
        for i in 1..=from.len() {
            match self.probe_kind(origin, &from[..i]) {
                Some(Kind::Dir) => {}
                Some(Kind::Symlink) => {
                    return Err(Error::Invalid(format!(
                        "{what}: {} of {} is a symbolic link, which content never follows",
                        b.source, c.provider
                    )))
                }
                Some(_) => {
                    return Err(Error::Invalid(format!(
                        "{what}: {} of {} is not a directory",
                        b.source, c.provider
                    )))
                }
                None => {
                    // As snap-update-ns, a source that is not there is left out, not fatal.
                    eprintln!(
                        "snapshelf-confine: {what}: {} of {} is missing; not mounted",
                        b.source, c.provider
                    );
                    return Ok(());
                }
            }
        }
        let (troot, trel) = below_root(&target);
        let name = prof.snap.clone();
        let rev = prof.revision.clone();
        let mut to = match troot {
            Root::Snap => vec!["snap".to_string(), name, rev],
            Root::Data => vec!["var".to_string(), "snap".to_string(), name, rev],
            Root::Common => vec![
                "var".to_string(),
                "snap".to_string(),
                name,
                "common".to_string(),
            ],
        };
        to.extend(trel);
        self.ensure(&to, false, 0o755)?;
        self.bind(origin, from, to.clone(), true);
        if !b.writable {
            self.read_only(to);
        }
        Ok(())
    }
}
