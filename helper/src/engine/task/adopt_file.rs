//! A file handed over by `InstallFile`, already in the blob directory when the change starts: run
//! has nothing left to do; undo removes the file.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::{download::remove_blob, words, Ctx};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdoptFile {
    pub name: String,
    pub revision: String,
}

impl AdoptFile {
    pub fn summary(&self) -> String {
        let template = gettext("Take in the file of \"{snap}\" (revision {revision})");
        words(template, &self.name, &self.revision)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        remove_blob(cx, &self.name, &self.revision)
    }
}
