//! Track another channel. The channel it replaced is saved with the new one; undo puts it back.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::{words, Ctx, Task};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwitchChannel {
    pub name: String,
    pub channel: String,
    /// The channel tracked before, recorded when the task ran.
    pub before: Option<String>,
}

impl SwitchChannel {
    pub fn summary(&self) -> String {
        // Translators: {channel} is a channel such as latest/stable.
        words(gettext("Make \"{snap}\" track {channel}"), &self.name, "")
            .replace("{channel}", &self.channel)
    }

    pub(super) fn run(self, cx: &Ctx) -> Result<Self> {
        let mut snap = cx
            .snap(&self.name)?
            .ok_or_else(|| crate::engine::not_installed(&self.name))?;
        let done = SwitchChannel {
            before: Some(snap.tracking_channel.clone()),
            ..self
        };
        snap.tracking_channel = done.channel.clone();
        cx.commit(&Task::SwitchChannel(done.clone()), |st| st.put_snap(&snap))?;
        Ok(done)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        let Some(channel) = &self.before else {
            return Ok(()); // it never acted
        };
        let st = cx.state();
        if let Some(mut s) = st.snap(&self.name)? {
            s.tracking_channel = channel.clone();
            st.put_snap(&s)?;
        }
        Ok(())
    }
}
