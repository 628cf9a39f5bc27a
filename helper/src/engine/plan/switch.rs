//! Switch: track another channel, checked to exist in the store first, and its revision's
//! confinement checked as a refresh to it would be.

use gettextrs::gettext;
use serde_json::json;

use super::*;

impl Engine {
    pub async fn switch(&self, name: &str, channel: &str, uid: u32) -> Result<u64> {
        check_names(&[name.to_string()])?;
        validate_channel(channel)?;
        let snap = self.snap(name)?.ok_or_else(|| not_installed(name))?;
        if snap.is_local() {
            return Err(Error::invalid(format!(
                "\"{name}\" was installed from a file and tracks no channel"
            )));
        }
        let full = full_channel(channel);
        // The channel must exist in the store, or refreshes would fail later for no visible reason.
        let info = self.store().info(name).await?;
        let Some(entry) = info
            .channel_map
            .iter()
            .find(|c| format!("{}/{}", c.channel.track, c.channel.risk) == full)
        else {
            return Err(Error::new(
                ErrorKind::ChannelNotAvailable,
                format!("\"{name}\" has no channel {full}"),
            ));
        };
        // The next refresh would bring this channel's revision in: its confinement needs the
        // same consent as on install. Switch takes no options, so the consent for a revision
        // that turned classic is a Refresh with both `channel` and `classic`.
        match entry.revision.confinement.as_str() {
            "classic" if snap.confinement != "classic" => {
                return Err(Error::new(
                    ErrorKind::NeedsClassic,
                    format!(
                        "\"{name}\" on {full} needs classic confinement (no sandbox): refresh \
                         to that channel with the classic option instead"
                    ),
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
