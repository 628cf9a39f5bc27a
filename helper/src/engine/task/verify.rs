//! Check the downloaded file against the store's signed assertions, chained to a trusted root.
//! It changes nothing, so there is nothing to undo.

use gettextrs::gettext;
use serde::{Deserialize, Serialize};

use super::{words, Ctx};
use crate::engine::verify::{verify_download, Expected};
use crate::error::{Error, ErrorKind, Result};
use crate::io::IoContext;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verify {
    pub name: String,
    pub revision: String,
    pub snap_id: String,
    pub sha3_384: String,
    pub size: u64,
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
                format!(
                    "\"{}\" is {n} bytes, the store said {}",
                    self.name, self.size
                ),
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
        Ok(self)
    }
}
