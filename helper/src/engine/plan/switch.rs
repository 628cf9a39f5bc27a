//! Switch: track another channel, checked to exist in the store first.

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
        let known = info
            .channel_map
            .iter()
            .any(|c| format!("{}/{}", c.channel.track, c.channel.risk) == full);
        if !known {
            return Err(Error::new(
                ErrorKind::ChannelNotAvailable,
                format!("\"{name}\" has no channel {full}"),
            ));
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
