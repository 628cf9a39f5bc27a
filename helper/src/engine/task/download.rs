//! Fetch the `.snap` into the blob directory, resuming a partial file, hashing as it streams; undo
//! deletes it (and what a download left half done). On a refresh the store may offer a delta from
//! the installed revision (`crate::delta`): it is tried first, and anything wrong with it falls
//! back to the full file.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::{words, Ctx};
use crate::error::{Error, ErrorKind, Result};
use crate::io::IoContext;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Download {
    pub name: String,
    pub revision: String,
    pub url: String,
    pub sha3_384: String,
    pub size: u64,
    /// A delta from the installed revision, tried before the full file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<crate::delta::DeltaOffer>,
    /// Downloaded at low priority (`crate::priority`): the update agent's background downloads.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub background: bool,
}

impl Download {
    pub fn summary(&self) -> String {
        // Translators: {snap} is a snap's name, {revision} a revision such as 12 or x1.
        let template = gettext("Download \"{snap}\" (revision {revision})");
        words(template, &self.name, &self.revision)
    }

    pub(super) async fn run(self, cx: &Ctx) -> Result<Self> {
        let paths = cx.paths();
        let blobs = paths.blobs_dir();
        std::fs::create_dir_all(&blobs).what("create", &blobs)?;
        let dest = paths.blob(&self.name, &self.revision);
        if dest.exists() {
            // Done before (a run again after a crash): keep it if it is whole.
            let (d, n) = snapshelf_snap::digest::digest_file(&dest).what("read", &dest)?;
            if d.to_hex() == self.sha3_384 && n == self.size {
                return Ok(self);
            }
            std::fs::remove_file(&dest).what("remove", &dest)?;
        }
        self.check_signed_size(cx).await?;
        let label = gettext("Downloading \"{snap}\"").replace("{snap}", &self.name);
        let (engine, change, seq) = (cx.engine.clone(), cx.change, cx.seq);
        let progress = move |done: u64, total: u64| {
            engine.set_download_progress(change, seq, &label, done, total)
        };
        let background = self.background;
        let delta = self.try_delta(cx, &dest, &progress);
        if crate::store::in_background(background, delta).await? {
            return Ok(self);
        }
        let download = cx.engine.store().download_verified(
            &self.url,
            &dest,
            &self.sha3_384,
            self.size,
            &cx.cancel,
            &progress,
        );
        let verdict = crate::store::in_background(background, download)
            .await
            // The store's error says what was wrong; the change must also say for which snap.
            .map_err(|e| {
                let e = Error::from(e);
                Error::new(e.kind, format!("\"{}\": {}", self.name, e.message))
            })?;
        if let Err(why) = verdict {
            return Err(Error::new(
                ErrorKind::VerificationFailed,
                format!("\"{}\": {why}", self.name),
            ));
        }
        Ok(self)
    }

    /// Rebuild the file from the offered delta, if any: `true` when `dest` is now the signed file.
    /// A failed delta is logged and the full file downloaded instead, as snapd does.
    async fn try_delta(
        &self,
        cx: &Ctx,
        dest: &std::path::Path,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<bool> {
        let Some(offer) = &self.delta else {
            return Ok(false);
        };
        let source = cx.paths().blob(&self.name, &offer.source);
        let target = crate::delta::Target {
            dest,
            sha3_384: &self.sha3_384,
            size: self.size,
        };
        let store = cx.engine.store();
        match crate::delta::fetch_and_apply(store, &source, offer, &target, &cx.cancel, progress)
            .await
        {
            Ok(bytes) => {
                tracing::info!(
                    snap = %self.name,
                    revision = %self.revision,
                    from = %offer.source,
                    downloaded = bytes,
                    full = self.size,
                    "rebuilt from a delta"
                );
                Ok(true)
            }
            Err(crate::delta::DeltaError::Cancelled) => {
                Err(crate::store::StoreError::Cancelled.into())
            }
            Err(e) => {
                tracing::warn!(
                    snap = %self.name,
                    revision = %self.revision,
                    error = %e,
                    "cannot use the delta; downloading the full file"
                );
                Ok(false)
            }
        }
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        remove_blob(cx, &self.name, &self.revision)
    }

    /// The signed size, known before a byte is written: a store cannot make the helper write
    /// more than the file it signed.
    async fn check_signed_size(&self, cx: &Ctx) -> Result<()> {
        let digest = snapshelf_snap::digest::Sha3_384::from_hex(&self.sha3_384)
            .map_err(|e| Error::internal(format!("the task's digest: {e}")))?;
        let signed = crate::engine::verify::signed_size(
            cx.engine.store(),
            &cx.engine.inner.cfg.trusted,
            &cx.paths().assertions_dir(),
            &digest,
        )
        .await?;
        if signed != self.size {
            return Err(Error::new(
                ErrorKind::VerificationFailed,
                crate::lang::gettext("\"{snap}\": the store says the file is {size} bytes, its signed snap-revision says {signed}")
                    .replace("{snap}", &self.name)
                    .replace("{size}", &self.size.to_string())
                    .replace("{signed}", &signed.to_string()),
            ));
        }
        Ok(())
    }
}

/// Delete a revision's `.snap` and its `.partial`, if there.
pub(super) fn remove_blob(cx: &Ctx, name: &str, revision: &str) -> Result<()> {
    let blob = cx.paths().blob(name, revision);
    let delta = crate::delta::delta_path(&blob);
    for p in [
        crate::store::partial_path(&blob),
        crate::store::partial_path(&delta),
        delta,
        blob,
    ] {
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).what("remove", &p),
        }
    }
    Ok(())
}
