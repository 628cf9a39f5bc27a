//! After the commit point: drop the oldest revisions beyond `retain`, never the current one.
//! Finished, not undone, after a crash.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::{words, Ctx};
use crate::error::Result;
use crate::io::IoContext;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gc {
    pub name: String,
}

impl Gc {
    pub fn summary(&self) -> String {
        words(
            gettext("Remove old revisions of \"{snap}\""),
            &self.name,
            "",
        )
    }

    pub(super) fn run(self, cx: &Ctx) -> Result<Self> {
        let retain = cx.engine.retain() as usize;
        let Some(mut snap) = cx.snap(&self.name)? else {
            return Ok(self);
        };
        if snap.sequence.len() <= retain {
            return Ok(self);
        }
        let excess = snap.sequence.len() - retain;
        let victims: Vec<String> = snap
            .sequence
            .iter()
            .filter(|r| r.revision != snap.current)
            .take(excess)
            .map(|r| r.revision.clone())
            .collect();
        // Files first, then the state: a crash in between leaves revisions the next gc removes.
        let paths = cx.paths();
        for rev in &victims {
            cx.sys().unmount(&paths.mount_point(&self.name, rev))?;
            let blob = paths.blob(&self.name, rev);
            if blob.exists() {
                std::fs::remove_file(&blob).what("remove", &blob)?;
            }
            cx.sys().remove_tree(&paths.data_dir(&self.name, rev))?;
            crate::engine::user_data::remove_everywhere(paths, &self.name, rev)?;
        }
        snap.sequence.retain(|r| !victims.contains(&r.revision));
        snap.blocked.retain(|r| !victims.contains(r));
        // A discarded revision's kept configuration goes with it (snapd's DiscardRevisionConfig).
        cx.state().transaction(|st| {
            st.put_snap(&snap)?;
            for rev in &victims {
                st.put_revision_config(&self.name, rev, None)?;
            }
            Ok(())
        })?;
        Ok(self)
    }
}
