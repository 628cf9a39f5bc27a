//! The commit point of one snap: its state becomes `after`, and the `current` links, profiles and
//! launchers point at it. What was there (`before`) is captured first; undo puts it back. The
//! metadata `after` is set from the revision's own snap.yaml (for a download, the one the Verify
//! task read from the verified file) before it is captured.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::{words, Ctx, Task};
use crate::engine::snap_meta;
use crate::error::Result;
use crate::state::SnapState;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub name: String,
    pub after: Box<SnapState>,
    pub before: Option<Box<SnapState>>,
    /// `before` has been read and saved: until then the task has done nothing.
    pub captured: bool,
}

impl Link {
    pub fn summary(&self) -> String {
        words(
            gettext("Make revision {revision} of \"{snap}\" current"),
            &self.name,
            &self.after.current,
        )
    }

    pub(super) fn run(self, cx: &Ctx) -> Result<Self> {
        cx.progress(gettext("Making \"{snap}\" available").replace("{snap}", &self.name));
        let done = if self.captured {
            self
        } else {
            // Its launchers must not take the place of another snap's alias.
            crate::engine::aliases::check_namespace(&cx.engine.installed()?, &self.name)?;
            let mut after = *self.after;
            // A downloaded revision's metadata is the verified file's, not the store's JSON.
            if let Some(text) = super::verify::verified_yaml(cx, &self.name, &after.current)? {
                if let Some(rev) = after
                    .sequence
                    .iter_mut()
                    .find(|r| r.revision == after.current)
                {
                    rev.snap_yaml = text;
                }
            }
            snap_meta::apply_revision_yaml(&mut after)?;
            // Best effort: without a readable declaration nothing more connects by itself.
            after.declared_auto_connect =
                declared_auto_connect(cx, &after).unwrap_or_else(|e| {
                    tracing::warn!(snap = %self.name, error = %e, "cannot read the snap-declaration's plug rules");
                    Default::default()
                });
            let captured = Link {
                after: Box::new(after),
                before: cx.snap(&self.name)?.map(Box::new),
                captured: true,
                ..self
            };
            cx.record(&Task::Link(captured.clone()))?;
            captured
        };
        cx.link(&done.after)?;
        let task = Task::Link(done.clone());
        cx.commit(&task, |st| st.put_snap(&done.after))?;
        Ok(done)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        if !self.captured {
            return Ok(()); // it never acted
        }
        restore(cx, &self.name, self.before.as_deref())
    }
}

/// The plugs the snap's own snap-declaration lets auto-connect (`engine/auto_connect.rs`); none
/// for a snap without store assertions.
fn declared_auto_connect(cx: &Ctx, snap: &SnapState) -> Result<std::collections::BTreeSet<String>> {
    if snap.snap_id.is_empty() {
        return Ok(Default::default());
    }
    let db = crate::engine::verify::local_database(
        &cx.engine.inner.cfg.trusted,
        &cx.paths().assertions_dir(),
    )?;
    let yaml = crate::engine::files::parse_yaml(snap, &snap.current)?;
    Ok(crate::engine::auto_connect::declared(&db, snap, &yaml))
}

/// Put a snap back as `before` says (or take it away when there was none).
pub(super) fn restore(cx: &Ctx, name: &str, before: Option<&SnapState>) -> Result<()> {
    match before {
        Some(b) => {
            cx.link(b)?;
            cx.state().put_snap(b)?;
        }
        None => {
            cx.sys().unlink(name)?;
            // A new snap taken back leaves no health behind (its check-health may have failed).
            cx.state().transaction(|st| {
                st.delete_snap(name)?;
                st.put_health(name, None)
            })?;
        }
    }
    Ok(())
}
