//! Check the downloaded file against the store's signed assertions, chained to a trusted root,
//! then read its own `meta/snap.yaml`: checked against what the change planned from the store's
//! unsigned word, and kept in the task for the Link task to install (see `engine::snap_meta`).
//! It changes nothing, so there is nothing to undo.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::{words, Ctx, Task};
use crate::engine::snap_meta;
use crate::engine::verify::{verify_download, Expected};
use crate::error::{Error, ErrorKind, Result};
use crate::io::IoContext;
use crate::state::SnapState;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verify {
    pub name: String,
    pub revision: String,
    pub snap_id: String,
    pub sha3_384: String,
    pub size: u64,
    /// The verified file's `meta/snap.yaml`, once read (older tasks have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snap_yaml: Option<String>,
    /// A `download` change: no link task to check against; the refresh that later uses the
    /// file verifies it again, against its plan, before anything is mounted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub download_only: bool,
}

impl Verify {
    pub fn summary(&self) -> String {
        let template = gettext("Verify the signatures of \"{snap}\" (revision {revision})");
        words(template, &self.name, &self.revision)
    }

    pub(super) async fn run(self, cx: &Ctx) -> Result<Self> {
        cx.progress(gettext("Verifying \"{snap}\"").replace("{snap}", &self.name));
        let paths = cx.paths();
        let blob = paths.blob(&self.name, &self.revision);
        // The download hashed the file as it streamed and refused any other digest, so the
        // digest is the one in the task; only the size is read again.
        let digest = snapshelf_snap::digest::Sha3_384::from_hex(&self.sha3_384)
            .map_err(|e| Error::internal(format!("the task's digest: {e}")))?;
        let n = std::fs::metadata(&blob).what("read", &blob)?.len();
        let rev: u32 = self.revision.parse().map_err(|_| {
            Error::internal(format!(
                "store revision {:?} is not a number",
                self.revision
            ))
        })?;
        if n != self.size {
            return Err(Error::new(
                ErrorKind::VerificationFailed,
                crate::lang::gettext("\"{snap}\" is {size} bytes, the store said {expected}")
                    .replace("{snap}", &self.name)
                    .replace("{size}", &n.to_string())
                    .replace("{expected}", &self.size.to_string()),
            ));
        }
        verify_download(
            cx.engine.store(),
            &cx.engine.inner.cfg.trusted,
            &paths.assertions_dir(),
            Expected {
                name: &self.name,
                snap_id: &self.snap_id,
                revision: rev,
                digest: &digest,
                size: n,
            },
        )
        .await?;
        // Read only now: until the signatures fit, the file is nobody's word.
        let (yaml, text) = cx
            .blocking(move |_| snap_meta::read_snap_yaml(&blob))
            .await?;
        match planned(cx, &self.name)? {
            Some(p) => snap_meta::check_against_plan(&yaml, &self.name, &p)?,
            None if self.download_only => {}
            None => {
                return Err(Error::internal(format!(
                    "the change has no link task for \"{}\"",
                    self.name
                )))
            }
        }
        snap_meta::check_assumes(&self.name, &self.revision, &yaml)?;
        // The plan checked the store's word; the file's own epoch decides (a lying store must not
        // bring in a revision that cannot read the current data).
        if let Some(current) = cx.engine.snap(&self.name)? {
            crate::engine::plan::check_epoch(&self.name, &self.revision, &yaml.epoch, &current)?;
        }
        Ok(Verify {
            snap_yaml: Some(text),
            ..self
        })
    }
}

/// The state the change's Link task of `name` planned for it.
fn planned(cx: &Ctx, name: &str) -> Result<Option<SnapState>> {
    let tasks = cx.state().tasks(cx.change)?;
    Ok(tasks.into_iter().find_map(|t| match t.task {
        Task::Link(l) if l.name == name => Some(*l.after),
        _ => None,
    }))
}

/// The snap.yaml the change's Verify task read from the verified file of `name` `revision`;
/// `None` when the revision was not downloaded by this change.
pub(super) fn verified_yaml(cx: &Ctx, name: &str, revision: &str) -> Result<Option<String>> {
    let tasks = cx.state().tasks(cx.change)?;
    let verify = tasks.into_iter().find_map(|t| match t.task {
        Task::Verify(v) if v.name == name && v.revision == revision => Some(v),
        _ => None,
    });
    match verify {
        None => Ok(None),
        Some(Verify {
            snap_yaml: Some(text),
            ..
        }) => Ok(Some(text)),
        // Verified by an older helper that kept no snap.yaml: the file, verified, is in place.
        Some(_) => {
            let blob = cx.paths().blob(name, revision);
            Ok(Some(snap_meta::read_snap_yaml(&blob)?.1))
        }
    }
}
