//! Remove: take the snap out of use (its state, links, profiles, launchers). What was there is
//! captured first; undo puts it back.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::{link::restore, words, Ctx, Task};
use crate::error::Result;
use crate::state::SnapState;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unlink {
    pub name: String,
    pub before: Option<Box<SnapState>>,
    /// `before` has been read and saved: until then the task has done nothing.
    pub captured: bool,
}

impl Unlink {
    pub fn summary(&self) -> String {
        words(gettext("Stop using \"{snap}\""), &self.name, "")
    }

    pub(super) fn run(self, cx: &Ctx) -> Result<Self> {
        let done = if self.captured {
            self
        } else {
            let captured = Unlink {
                before: cx.snap(&self.name)?.map(Box::new),
                captured: true,
                ..self
            };
            cx.record(&Task::Unlink(captured.clone()))?;
            captured
        };
        cx.sys().unlink(&done.name)?;
        let task = Task::Unlink(done.clone());
        // The configuration goes with the snap, as in snapd (the commit point: never undone).
        cx.commit(&task, |st| {
            st.delete_snap(&done.name)?;
            st.delete_revision_configs(&done.name)?;
            st.put_health(&done.name, None)?;
            st.set_config(&done.name, None)
        })?;
        Ok(done)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        if !self.captured {
            return Ok(());
        }
        restore(cx, &self.name, self.before.as_deref())
    }
}
