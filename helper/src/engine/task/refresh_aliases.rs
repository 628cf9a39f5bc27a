//! After an install, refresh or revert links a revision: the snap's automatic aliases from its
//! snap-declaration, its manual ones kept where the revision still has their app (snapd's
//! `refreshAliases`). Aliases it newly enables are checked for conflicts first; one that conflicts
//! fails the change, which is then undone. Undo puts the aliases before back.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::alias::{alias_change, apply, captured, restore, AliasChange};
use super::{words, Ctx, Task};
use crate::engine::aliases::{self, SnapAliases};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshAliases {
    pub name: String,
    pub before: Option<SnapAliases>,
    pub after: Option<SnapAliases>,
}

impl RefreshAliases {
    pub fn summary(&self) -> String {
        words(gettext("Set up the aliases of \"{snap}\""), &self.name, "")
    }

    pub(super) fn run(self, cx: &Ctx) -> Result<Self> {
        let done = captured(self, cx, |_, snap| new_aliases(cx, snap))?;
        match (&done.before, &done.after) {
            // Nothing changes: no links to touch (and no snap.yaml to read).
            (Some(b), Some(a)) if b == a && a.targets.is_empty() => {
                cx.commit(&done.task(), |_| Ok(()))?
            }
            _ => apply(&done, cx)?,
        }
        Ok(done)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        restore(self, cx)
    }
}

alias_change!(RefreshAliases);

/// The aliases the snap's current revision gets, refused when one it newly enables conflicts.
fn new_aliases(cx: &Ctx, snap: &crate::state::SnapState) -> Result<SnapAliases> {
    if snap.snap_type != "app" {
        return Ok(snap.aliases.clone());
    }
    let auto = if snap.snap_id.is_empty() {
        Default::default()
    } else {
        let db = crate::engine::verify::local_database(
            &cx.engine.inner.cfg.trusted,
            &cx.paths().assertions_dir(),
        )?;
        aliases::declared(&db, snap)?
    };
    if auto.is_empty() && snap.aliases.targets.is_empty() {
        return Ok(snap.aliases.clone());
    }
    let after = aliases::refreshed(snap, &auto)?;
    // Only what this revision newly enables is checked: an alias the snap already had stays.
    let was = snap.aliases.effective();
    let mut fresh = after.clone();
    fresh.targets.retain(|alias, _| !was.contains_key(alias));
    let all = cx.engine.installed()?;
    aliases::check_conflicts(&all, &snap.name, &fresh, aliases::SYSTEM_PATH)?;
    Ok(after)
}
