//! `Unalias`: one manual alias removed (kind `unalias`; an automatic alias of the same name stays),
//! or, for a snap, all its aliases disabled (kind `disable-aliases`: manual ones removed, automatic
//! ones off until it is installed again), as snapd's `snap unalias ALIAS|SNAP`. Undo puts the
//! aliases before back.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::alias::{alias_change, apply, captured, restore, AliasChange};
use super::{Ctx, Task};
use crate::engine::aliases::{self, SnapAliases};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unalias {
    pub name: String,
    /// The manual alias to remove; `None`: every alias of the snap.
    pub alias: Option<String>,
    pub before: Option<SnapAliases>,
    pub after: Option<SnapAliases>,
}

impl Unalias {
    pub fn summary(&self) -> String {
        match &self.alias {
            Some(a) => gettext("Remove manual alias \"{alias}\" for snap \"{snap}\"")
                .replace("{alias}", a)
                .replace("{snap}", &self.name),
            None => {
                gettext("Disable all aliases for snap \"{snap}\"").replace("{snap}", &self.name)
            }
        }
    }

    pub(super) fn run(self, cx: &Ctx) -> Result<Self> {
        let done = captured(self, cx, |t, snap| {
            Ok(match &t.alias {
                Some(a) => aliases::without_manual(&snap.aliases, a),
                None => aliases::all_disabled(&snap.aliases),
            })
        })?;
        apply(&done, cx)?;
        Ok(done)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        restore(self, cx)
    }
}

alias_change!(Unalias);
