//! A manual alias (`Alias`): `<alias>` for `<snap>.<app>`, checked against every other snap's
//! commands and aliases and the system's `PATH` when it runs. The aliases before and after are
//! recorded before anything is written; undo puts the ones before back.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::{Ctx, Task};
use crate::engine::aliases::{self, SnapAliases};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    pub name: String,
    pub app: String,
    pub alias: String,
    /// The snap's aliases before and after, recorded before it acts: `None` until then.
    pub before: Option<SnapAliases>,
    pub after: Option<SnapAliases>,
}

impl Alias {
    pub fn summary(&self) -> String {
        gettext("Set up alias \"{alias}\" for \"{app}\"")
            .replace("{alias}", &self.alias)
            .replace(
                "{app}",
                &crate::engine::files::command_name(&self.name, &self.app),
            )
    }

    pub(super) fn run(self, cx: &Ctx) -> Result<Self> {
        let done = match self.after {
            Some(_) => self,
            None => {
                let snap = cx
                    .snap(&self.name)?
                    .ok_or_else(|| crate::engine::not_installed(&self.name))?;
                let after = aliases::with_manual(&snap, &self.app, &self.alias)?;
                // The new alias alone is checked: the snap's others are already there.
                let mut new = after.clone();
                new.targets.retain(|a, _| a == &self.alias);
                let all = cx.engine.installed()?;
                aliases::check_conflicts(&all, &self.name, &new, aliases::SYSTEM_PATH)?;
                let captured = Alias {
                    before: Some(snap.aliases.clone()),
                    after: Some(after),
                    ..self
                };
                cx.record(&Task::Alias(captured.clone()))?;
                captured
            }
        };
        if let Some(after) = &done.after {
            set_aliases(cx, &done.name, after, Some(&Task::Alias(done.clone())))?;
        }
        Ok(done)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        match &self.before {
            Some(before) => set_aliases(cx, &self.name, before, None),
            None => Ok(()), // it never acted
        }
    }
}

/// Give `name` the aliases `to`: the links in `/snap/bin` first, then its state (with `done`
/// marked Done in the same transaction, when given). A snap that is gone has nothing to set.
pub(super) fn set_aliases(
    cx: &Ctx,
    name: &str,
    to: &SnapAliases,
    done: Option<&Task>,
) -> Result<()> {
    let Some(mut snap) = cx.snap(name)? else {
        return Ok(());
    };
    snap.aliases = to.clone();
    let links = if snap.snap_type == "app" && !to.effective().is_empty() {
        aliases::usable(&snap)?
    } else {
        Default::default()
    };
    cx.sys().aliases(name, &links)?;
    match done {
        Some(task) => cx.commit(task, |st| st.put_snap(&snap)),
        None => {
            cx.state().put_snap(&snap)?;
            Ok(())
        }
    }
}
