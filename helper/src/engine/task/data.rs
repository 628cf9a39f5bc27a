//! Create `$SNAP_DATA` for the revision (a copy of `copy_from`'s, or a removed snap's snapshot
//! restored) and `$SNAP_COMMON`; on a refresh, copy each user's `~/snap/<name>/<copy_from>` to
//! the new revision's (`engine/user_data.rs`). What it will create is decided and saved before
//! anything is made, so undo removes exactly that, even after a crash half way.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::{words, Ctx, Task};
use crate::engine::data_dirs;
use crate::engine::user_data::{self, UserCopy};
use crate::error::Result;
use crate::io::IoContext;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Data {
    pub name: String,
    pub revision: String,
    pub copy_from: Option<String>,
    pub restore_snapshot: bool,
    /// The snap-id of the snap being brought in: a removed snap's snapshot is restored only
    /// when it was taken from this same snap-id (empty for a file: never). Older tasks have
    /// none, and restore nothing.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub snap_id: String,
    /// `None` until the task has decided (and saved) what it creates.
    pub created_data: Option<bool>,
    pub created_common: Option<bool>,
    pub restored: Option<bool>,
    /// The users whose `~/snap/<name>/<copy_from>` is copied to the new revision; `None` until
    /// decided (and in tasks of older helpers, which copied none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_copies: Option<Vec<UserCopy>>,
}

impl Data {
    pub fn summary(&self) -> String {
        match &self.copy_from {
            Some(from) => words(
                gettext("Copy the data of \"{snap}\" from revision {revision}"),
                &self.name,
                from,
            ),
            None => words(
                gettext("Set up the data folders of \"{snap}\""),
                &self.name,
                "",
            ),
        }
    }

    pub(super) async fn run(self, cx: &Ctx) -> Result<Self> {
        cx.blocking(move |cx| self.run_blocking(&cx)).await
    }

    fn run_blocking(self, cx: &Ctx) -> Result<Self> {
        let paths = cx.paths();
        let name = &self.name.clone();
        let data_dir = paths.data_dir(name, &self.revision);
        let common = paths.common_dir(name);
        let snapshot = paths.snapshot_dir(name);
        // Decide, and write down, what this task will create before creating it. A run again
        // after a crash keeps the first decision.
        let created_data = self.created_data.unwrap_or(!data_dir.exists());
        let restored = self.restored.unwrap_or_else(|| {
            self.restore_snapshot
                && snapshot.exists()
                && created_data
                && data_dirs::snapshot_matches(paths, name, &self.snap_id)
        });
        let user_copies = match (&self.user_copies, &self.copy_from) {
            (Some(decided), _) => decided.clone(),
            (None, Some(from)) => user_data::plan(paths, name, from, &self.revision),
            (None, None) => Vec::new(),
        };
        let decided = Data {
            created_data: Some(created_data),
            created_common: Some(self.created_common.unwrap_or(!common.exists())),
            restored: Some(restored),
            user_copies: Some(user_copies),
            ..self
        };
        cx.record(&Task::Data(decided.clone()))?;
        let root = paths.data_root(name);
        std::fs::create_dir_all(&root).what("create", &root)?;
        if restored {
            data_dirs::restore_snapshot(paths, name, &decided.revision)?;
        }
        if created_data && !data_dir.exists() {
            match &decided.copy_from {
                Some(from) if paths.data_dir(name, from).exists() => {
                    cx.sys().copy_data(&paths.data_dir(name, from), &data_dir)?;
                }
                _ => std::fs::create_dir_all(&data_dir).what("create", &data_dir)?,
            }
        }
        std::fs::create_dir_all(&common).what("create", &common)?;
        if let Some(from) = &decided.copy_from {
            for c in decided.user_copies.iter().flatten() {
                user_data::copy(c, name, from, &decided.revision)?;
            }
        }
        Ok(decided)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        let paths = cx.paths();
        let name = &self.name;
        for c in self.user_copies.iter().flatten() {
            user_data::remove(c, name, &self.revision)?;
        }
        if self.restored == Some(true) {
            data_dirs::save_snapshot(paths, name, &self.revision, &self.snap_id)?;
        } else if self.created_data == Some(true) {
            cx.sys()
                .remove_tree(&paths.data_dir(name, &self.revision))?;
        }
        if self.created_common == Some(true) {
            cx.sys().remove_tree(&paths.common_dir(name))?;
        }
        let root = paths.data_root(name);
        if std::fs::read_dir(&root)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false)
        {
            let _ = std::fs::remove_dir(&root);
        }
        Ok(())
    }
}
