//! Switch: track another channel. Any well-formed name is accepted, as snapd does: the store's
//! channel map lists neither closed risks (served from a more stable one) nor branches. When the
//! map has the channel, its revision's confinement is checked as a refresh to it would be (the
//! refresh checks it again in any case).

use crate::lang::gettext;
use serde_json::json;

use super::*;

impl Engine {
    pub async fn switch(&self, name: &str, channel: &str, uid: u32) -> Result<u64> {
        check_names(&[name.to_string()])?;
        validate_channel(channel)?;
        let snap = self.snap(name)?.ok_or_else(|| not_installed(name))?;
        if snap.is_local() {
            return Err(Error::invalid(
                gettext("\"{snap}\" was installed from a file and tracks no channel")
                    .replace("{snap}", name),
            ));
        }
        let full = full_channel(channel);
        let info = match self.store().info(name).await {
            Ok(info) => Some(info),
            // Tracking is local: a store that cannot answer now does not stop it.
            Err(e) => {
                tracing::info!(
                    snap = name,
                    "switching without the store's channel map: {e}"
                );
                None
            }
        };
        let entry = info.as_ref().and_then(|i| {
            i.channel_map
                .iter()
                .find(|c| format!("{}/{}", c.channel.track, c.channel.risk) == full)
        });
        let confinement = entry.map(|e| e.revision.confinement.as_str()).unwrap_or("");
        // The next refresh would bring this channel's revision in: its confinement needs the
        // same consent as on install. Switch takes no options, so the consent for a revision
        // that turned classic is a Refresh with both `channel` and `classic`.
        match confinement {
            "classic" if snap.confinement != "classic" => {
                return Err(Error::new(
                    ErrorKind::NeedsClassic,
                    crate::lang::gettext("\"{snap}\" on {channel} needs classic confinement (no sandbox): refresh to that channel with the classic option instead")
                        .replace("{snap}", name)
                        .replace("{channel}", &full),
                ))
            }
            "devmode" => {
                crate::engine::snap_meta::check_confinement(
                    name,
                    snapshelf_snap::yaml::Confinement::Devmode,
                    Some(&snap),
                    false,
                )?;
            }
            _ => {}
        }
        self.start(
            "switch",
            &gettext("Switch \"{snap}\" to {channel}")
                .replace("{snap}", name)
                .replace("{channel}", &full),
            vec![name.to_string()],
            uid,
            json!({"name": name, "channel": full}),
            vec![Task::SwitchChannel(SwitchChannel {
                name: name.to_string(),
                channel: full,
                before: None,
            })],
        )
    }
}
