//! Remove, after the commit point: unmount and delete every revision of the snap. Finished, not
//! undone, after a crash.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::{words, Ctx};
use crate::error::Result;
use crate::io::IoContext;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscardRevisions {
    pub name: String,
    pub revisions: Vec<String>,
}

impl DiscardRevisions {
    pub fn summary(&self) -> String {
        words(gettext("Remove the files of \"{snap}\""), &self.name, "")
    }

    pub(super) fn run(self, cx: &Ctx) -> Result<Self> {
        let paths = cx.paths();
        for rev in &self.revisions {
            cx.sys().unmount(&paths.mount_point(&self.name, rev))?;
            let blob = paths.blob(&self.name, rev);
            if blob.exists() {
                std::fs::remove_file(&blob).what("remove", &blob)?;
            }
        }
        let _ = std::fs::remove_dir(paths.snap_dir(&self.name));
        Ok(self)
    }
}
