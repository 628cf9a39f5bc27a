//! Mount a revision's `.snap` at `/snap/<name>/<revision>`; undo unmounts it and removes the
//! snap's folder when nothing else is in it.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::{words, Ctx};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mount {
    pub name: String,
    pub revision: String,
}

impl Mount {
    pub fn summary(&self) -> String {
        let template = gettext("Mount \"{snap}\" (revision {revision})");
        words(template, &self.name, &self.revision)
    }

    pub(super) async fn run(self, cx: &Ctx) -> Result<Self> {
        cx.progress(gettext("Mounting \"{snap}\"").replace("{snap}", &self.name));
        let (name, revision) = (self.name.clone(), self.revision.clone());
        cx.blocking(move |cx| {
            let paths = cx.paths();
            let blob = paths.blob(&name, &revision);
            cx.sys().check_new(&blob)?;
            cx.sys().mount(&blob, &paths.mount_point(&name, &revision))
        })
        .await?;
        Ok(self)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        let paths = cx.paths();
        cx.sys()
            .unmount(&paths.mount_point(&self.name, &self.revision))?;
        // Only an empty folder goes: other revisions may still be there.
        let _ = std::fs::remove_dir(paths.snap_dir(&self.name));
        Ok(())
    }
}
