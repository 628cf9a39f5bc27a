//! What a snap not yet installed will ask for: its plugs and the content providers it names,
//! read from the `snap-yaml` the store publishes with each revision (the store the helper uses,
//! `StoreUrl`, asked for the helper's `Architecture`). `Info` carries neither, and the app must
//! say before Install what the snap may do. Public data, read-only, like the icons.

use std::collections::BTreeSet;

use snapshelf_snap::yaml::{Node, SnapYaml};

/// What the snap's `snap.yaml` says it needs from others.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Needs {
    /// The interface of each plug, once each, in name order.
    pub interfaces: Vec<String>,
    /// Snaps named as `default-provider` of its content plugs.
    pub providers: Vec<String>,
    /// Its apps that are background services (`daemon:`), in name order.
    pub services: Vec<String>,
}

/// At most this much of the store's answer is read.
const MAX_ANSWER: usize = 4 << 20;

/// The plugs of the revision `channel` holds (the first one listed if that channel is not).
pub async fn needs(
    store: &str,
    architecture: &str,
    name: &str,
    channel: &str,
) -> Result<Needs, String> {
    let url = format!("{}/v2/snaps/info/{}", store.trim_end_matches('/'), name);
    let answer = crate::icons::http()
        .get(&url)
        .header("Snap-Device-Series", "16")
        // The real store's default fields have no snap-yaml: name it, as snapd names its fields.
        .query(&[("architecture", architecture), ("fields", "snap-yaml")])
        .send()
        .await
        .map_err(|e| format!("asking {url} for {name}'s plugs: {e}"))?;
    if !answer.status().is_success() {
        return Err(format!("{url} answered {}", answer.status()));
    }
    if answer
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER as u64)
    {
        return Err(format!(
            "{url}: the answer is larger than {MAX_ANSWER} bytes"
        ));
    }
    let body = answer
        .bytes()
        .await
        .map_err(|e| format!("reading {url}: {e}"))?;
    let json: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("{url}: not JSON: {e}"))?;
    let yaml = snap_yaml_of(&json, channel)
        .ok_or_else(|| format!("{url}: no snap-yaml in the channel-map"))?;
    let y = SnapYaml::parse(yaml).map_err(|e| format!("{name}'s snap-yaml from {url}: {e}"))?;
    Ok(needs_of(&y))
}

/// The `snap-yaml` of the channel-map entry for `channel` ("track/risk"), or of the first entry.
fn snap_yaml_of<'a>(info: &'a serde_json::Value, channel: &str) -> Option<&'a str> {
    let map = info["channel-map"].as_array()?;
    let of = |c: &serde_json::Value| {
        format!(
            "{}/{}",
            c["channel"]["track"].as_str().unwrap_or(""),
            c["channel"]["risk"].as_str().unwrap_or("")
        )
    };
    map.iter()
        .find(|c| of(c) == channel)
        .or_else(|| map.first())?["snap-yaml"]
        .as_str()
}

pub fn needs_of(y: &SnapYaml) -> Needs {
    let interfaces: BTreeSet<String> = y.all_plugs().into_values().collect();
    let mut providers = BTreeSet::new();
    for p in y.plugs.values().filter(|p| p.interface == "content") {
        for (k, v) in &p.attrs {
            if let (true, Node::Scalar { text, .. }) = (k == "default-provider", v) {
                // "provider" or the older "provider:slot".
                let name = text.split(':').next().unwrap_or_default().trim();
                if !name.is_empty() {
                    providers.insert(name.to_string());
                }
            }
        }
    }
    Needs {
        interfaces: interfaces.into_iter().collect(),
        providers: providers.into_iter().collect(),
        services: y
            .apps
            .iter()
            .filter(|(_, a)| a.daemon.is_some())
            .map(|(n, _)| n.clone())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugs_and_content_providers_come_from_the_snap_yaml() {
        let y = SnapYaml::parse(
            "name: painter\nversion: '1'\nplugs:\n  gtk-3-themes:\n    interface: content\n    target: $SNAP/share/themes\n    default-provider: gtk-common-themes:gtk-3-themes\n  files:\n    interface: home\napps:\n  painter:\n    command: bin/p\n    plugs: [network, x11, files]\n",
        )
        .unwrap();
        let n = needs_of(&y);
        assert_eq!(n.interfaces, ["content", "home", "network", "x11"]);
        assert_eq!(n.providers, ["gtk-common-themes"]);
    }

    #[test]
    fn the_picked_channel_s_revision_is_read_or_else_the_first() {
        let info = serde_json::json!({"channel-map": [
            {"channel": {"track": "latest", "risk": "stable"}, "snap-yaml": "stable"},
            {"channel": {"track": "latest", "risk": "edge"}, "snap-yaml": "edge"},
        ]});
        assert_eq!(snap_yaml_of(&info, "latest/edge"), Some("edge"));
        assert_eq!(snap_yaml_of(&info, "2.0/beta"), Some("stable"));
        assert_eq!(snap_yaml_of(&serde_json::json!({}), "latest/edge"), None);
    }
}
