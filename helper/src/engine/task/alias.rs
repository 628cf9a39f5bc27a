//! A manual alias (`Alias`): `<alias>` for `<snap>.<app>`, checked against every other snap's
//! commands and aliases and the system's `PATH` when it runs. The aliases before and after are
//! recorded before anything is written; undo puts the ones before back.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::{Ctx, Task};
use crate::engine::aliases::{self, SnapAliases};
use crate::error::Result;
use crate::state::SnapState;

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
        let done = captured(self, cx, |t, snap| {
            let after = aliases::with_manual(snap, &t.app, &t.alias)?;
            // The new alias alone is checked: the snap's others are already there.
            let mut new = after.clone();
            new.targets.retain(|a, _| a == &t.alias);
            let all = cx.engine.installed()?;
            aliases::check_conflicts(&all, &t.name, &new, aliases::SYSTEM_PATH)?;
            Ok(after)
        })?;
        apply(&done, cx)?;
        Ok(done)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        restore(self, cx)
    }
}

/// `AliasChange` for a task kind with `name`, `before` and `after` fields, its `Task` variant
/// named as the type.
macro_rules! alias_change {
    ($kind:ident) => {
        impl AliasChange for $kind {
            fn snap_name(&self) -> &str {
                &self.name
            }
            fn recorded(&self) -> (Option<&SnapAliases>, Option<&SnapAliases>) {
                (self.before.as_ref(), self.after.as_ref())
            }
            fn with(self, before: SnapAliases, after: SnapAliases) -> Self {
                let (before, after) = (Some(before), Some(after));
                $kind {
                    before,
                    after,
                    ..self
                }
            }
            fn task(&self) -> Task {
                Task::$kind(self.clone())
            }
        }
    };
}
pub(super) use alias_change;

alias_change!(Alias);

/// A task that changes one snap's aliases (Alias, Unalias, RefreshAliases). It works out the
/// aliases before and after once and records them before it acts, so that a re-run after a crash
/// sets the same ones; undo puts the ones before back.
pub(super) trait AliasChange: Sized {
    fn snap_name(&self) -> &str;
    /// The aliases before and after, `None` until the task has worked them out.
    fn recorded(&self) -> (Option<&SnapAliases>, Option<&SnapAliases>);
    fn with(self, before: SnapAliases, after: SnapAliases) -> Self;
    fn task(&self) -> Task;
}

/// `task` with its aliases before and after: the recorded ones, or else the snap's now and
/// `after_of` them, recorded before anything is written.
pub(super) fn captured<T: AliasChange>(
    task: T,
    cx: &Ctx,
    after_of: impl FnOnce(&T, &SnapState) -> Result<SnapAliases>,
) -> Result<T> {
    if task.recorded().1.is_some() {
        return Ok(task);
    }
    let name = task.snap_name();
    let snap = cx
        .snap(name)?
        .ok_or_else(|| crate::engine::not_installed(name))?;
    let after = after_of(&task, &snap)?;
    let captured = task.with(snap.aliases, after);
    cx.record(&captured.task())?;
    Ok(captured)
}

/// Set the aliases after, with the task marked Done in the same transaction.
pub(super) fn apply<T: AliasChange>(task: &T, cx: &Ctx) -> Result<()> {
    match task.recorded().1 {
        Some(after) => set_aliases(cx, task.snap_name(), after, Some(&task.task())),
        None => Ok(()),
    }
}

/// Undo: put the aliases before back (none recorded: the task never acted).
pub(super) fn restore<T: AliasChange>(task: &T, cx: &Ctx) -> Result<()> {
    match task.recorded().0 {
        Some(before) => set_aliases(cx, task.snap_name(), before, None),
        None => Ok(()),
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
