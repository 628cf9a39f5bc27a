//! Configuration per revision, as snapd's link-snap keeps it: when a revision takes the place of
//! the current one, the configuration is kept as that revision's (`SaveRevisionConfig`); a revert
//! makes the target revision's kept configuration current again (`RestoreRevisionConfig`); a
//! refresh carries the configuration over unchanged. A snap with no configuration at all keeps no
//! copy (an earlier copy for that revision stays), and a revert to a revision without a copy
//! leaves the current configuration: never an empty one in its place. Undo puts both back as they
//! were, so a failed refresh or revert leaves the configuration as it found it.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{words, Ctx, Task};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevisionConfig {
    pub name: String,
    /// The revision that was current: the configuration is kept as its own.
    pub from: String,
    /// A revert's target: its kept configuration (if any) becomes the current one.
    pub restore: Option<String>,
    /// What was there before the task acted, recorded before it does.
    #[serde(default)]
    pub before: Option<Captured>,
}

/// The current configuration and the copy kept for `from`, before the task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Captured {
    /// `None`: the snap had no configuration at all (tasks recorded before this knew no such
    /// case and hold a document, read as `Some`).
    pub config: Option<Map<String, Value>>,
    pub kept: Option<Map<String, Value>>,
}

impl RevisionConfig {
    pub fn new(name: &str, from: &str, restore: Option<&str>) -> Self {
        RevisionConfig {
            name: name.to_string(),
            from: from.to_string(),
            restore: restore.map(str::to_string),
            before: None,
        }
    }

    pub fn summary(&self) -> String {
        match &self.restore {
            Some(rev) => words(
                gettext("Restore the configuration of revision {revision} of \"{snap}\""),
                &self.name,
                rev,
            ),
            None => words(
                gettext("Keep the configuration of revision {revision} of \"{snap}\""),
                &self.name,
                &self.from,
            ),
        }
    }

    pub(super) fn run(self, cx: &Ctx) -> Result<Self> {
        let done = match self.before {
            Some(_) => self,
            None => {
                let captured = {
                    let st = cx.state();
                    Captured {
                        config: st.config_entry(&self.name)?,
                        kept: st.revision_config(&self.name, &self.from)?,
                    }
                };
                let done = RevisionConfig {
                    before: Some(captured),
                    ..self
                };
                cx.record(&Task::RevisionConfig(done.clone()))?;
                done
            }
        };
        let Some(before) = &done.before else {
            unreachable!("captured above")
        };
        let task = Task::RevisionConfig(done.clone());
        cx.commit(&task, |st| {
            // Nothing to keep when there is no configuration (snapd's SaveRevisionConfig).
            if let Some(config) = &before.config {
                st.put_revision_config(&done.name, &done.from, Some(config))?;
            }
            if let Some(rev) = &done.restore {
                // A revision with no kept configuration leaves the current one (as snapd); a
                // kept empty one is brought back as such.
                if let Some(doc) = st.revision_config(&done.name, rev)? {
                    st.set_config(&done.name, Some(&doc))?;
                }
            }
            Ok(())
        })?;
        Ok(done)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        let Some(before) = &self.before else {
            return Ok(()); // it never acted
        };
        cx.state().transaction(|st| {
            st.set_config(&self.name, before.config.as_ref())?;
            st.put_revision_config(&self.name, &self.from, before.kept.as_ref())
        })?;
        Ok(())
    }
}
