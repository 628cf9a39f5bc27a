//! Remove, after the commit point: keep the snap's data as a snapshot (or delete it with purge).
//! Finished, not undone, after a crash.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::{words, Ctx, Task};
use crate::engine::data_dirs;
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscardData {
    pub name: String,
    pub purge: bool,
}

impl DiscardData {
    pub fn summary(&self) -> String {
        let template = if self.purge {
            gettext("Delete the data of \"{snap}\"")
        } else {
            gettext("Keep a snapshot of the data of \"{snap}\"")
        };
        words(template, &self.name, "")
    }

    pub(super) fn run(self, cx: &Ctx) -> Result<Self> {
        let (current, snap_id) = self.previous_current(cx)?;
        data_dirs::discard_data(cx.paths(), &self.name, self.purge, &current, &snap_id)?;
        Ok(self)
    }

    /// The revision that was current before this change's Unlink of the snap: its data is the
    /// one kept, keyed by the snap's snap-id.
    fn previous_current(&self, cx: &Ctx) -> Result<(String, String)> {
        let tasks = cx.state().tasks(cx.change)?;
        Ok(tasks
            .into_iter()
            .find_map(|t| match t.task {
                Task::Unlink(u) if u.name == self.name => u.before.map(|b| (b.current, b.snap_id)),
                _ => None,
            })
            .unwrap_or_default())
    }
}
