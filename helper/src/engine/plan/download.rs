//! A download-only refresh (`Refresh` option `download-only`, change kind `download`): the new
//! revisions a refresh would bring in are downloaded and verified, nothing else. The files wait
//! in the blob directory; the Download task of a later refresh to the same revision finds the
//! whole, signed file there and does not fetch it again. The update agent uses it to download in
//! the background and apply only when the snap's apps are closed.

use serde_json::json;

use super::refresh::Failed;
use super::*;

impl Engine {
    /// Start the `download` change for what a refresh resolved (`resolved`: new revision, the
    /// installed snap it replaces); `failed`: the targets left as they are, logged. `background`:
    /// its downloads run at low priority (`crate::priority`).
    pub(super) fn start_download(
        &self,
        names: &[String],
        channel: Option<&str>,
        resolved: &[(Resolved, SnapState)],
        failed: &[Failed],
        (uid, background): (u32, bool),
    ) -> Result<u64> {
        for f in failed {
            tracing::warn!(snap = %f.name, kind = ?f.error.kind, "not downloaded: {}", f.error.message);
        }
        let mut tasks = Vec::new();
        for (r, before) in resolved {
            install_tasks(r, Some(before), &mut tasks);
        }
        tasks.retain(|t| matches!(t, Task::Download(_) | Task::Verify(_)));
        for t in &mut tasks {
            match t {
                Task::Verify(v) => v.download_only = true,
                Task::Download(d) => d.background = background,
                _ => {}
            }
        }
        let snaps: Vec<String> = resolved.iter().map(|(r, _)| r.name.clone()).collect();
        let revisions: Vec<serde_json::Value> = resolved
            .iter()
            .map(|(r, _)| json!({"name": r.name, "revision": r.revision.to_string()}))
            .collect();
        // Translators: {snaps} is a list of quoted snap names.
        let summary =
            gettext("Download updates for {snaps}").replace("{snaps}", &name_list(&snaps));
        self.start(
            "download",
            &summary,
            snaps,
            uid,
            json!({"names": names, "channel": channel, "download-only": true,
                   "background": background, "revisions": revisions}),
            tasks,
        )
    }
}
