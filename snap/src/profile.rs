//! The sandbox profile of one app: written by the helper at install (and whenever a connection
//! changes), read by confine at every launch. One JSON file per app under
//! `/var/lib/snapshelf/profiles/<snap>.<app>.json`, root-owned and 0644.
//!
//! The profile is complete: confine needs nothing else from the helper's state to build the sandbox.

use serde::{Deserialize, Serialize};

/// Bumped on incompatible changes; confine refuses profiles of another version.
pub const PROFILE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Profile {
    pub version: u32,
    pub snap: String,
    pub app: String,
    pub revision: String,
    pub snap_version: String,
    pub confinement: String,
    /// The base snap's name and the revision current when the profile was written.
    pub base: String,
    pub base_revision: String,
    pub architecture: String,
    /// `command` split on spaces, relative to `$SNAP`.
    pub command: Vec<String>,
    pub command_chain: Vec<String>,
    /// Global `environment` then the app's, unexpanded, in order.
    pub environment: Vec<(String, String)>,
    pub layouts: Vec<ProfileLayout>,
    /// Every plug of the app, connected or not; confine grants only the connected ones.
    pub plugs: Vec<ProfilePlug>,
    /// The D-Bus names the app's connected interfaces (and its slots, such as `mpris`) let it
    /// reach, for the filtering bus proxies; empty in profiles written before there were any.
    #[serde(default, skip_serializing_if = "BusNames::is_empty")]
    pub bus_names: BusNames,
    /// The snap's connected content plugs, with what each mounts (the snap's mount namespace is
    /// shared by its apps, so every app's profile holds all of them, as in snapd). Left out of
    /// the JSON when empty, so profiles without content read as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<ProfileContent>,
}

/// One connected content plug: the providing snap's revision and the binds from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ProfileContent {
    pub plug: String,
    pub provider: String,
    pub slot: String,
    pub provider_revision: String,
    pub binds: Vec<ProfileBind>,
}

/// `source` (unexpanded, in the provider) onto `target` (unexpanded, in this snap); both are
/// checked again with `crate::content::normalise` before use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ProfileBind {
    pub source: String,
    pub target: String,
    pub writable: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ProfileLayout {
    pub path: String,
    /// `bind`, `bind-file`, `symlink` or `tmpfs`.
    pub kind: String,
    /// The unexpanded source (`$SNAP/...`), empty for tmpfs.
    pub source: String,
    pub mode: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ProfilePlug {
    pub name: String,
    pub interface: String,
    pub connected: bool,
    /// The attributes confine acts on, as the helper checked them; absent when there are none.
    #[serde(default, skip_serializing_if = "PlugAttrs::is_empty")]
    pub attrs: PlugAttrs,
}

/// A plug's attributes that change the sandbox.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PlugAttrs {
    /// `browser-support`'s `allow-sandbox: true`: the browser may make its own namespaces.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_sandbox: bool,
    /// `personal-files` and `system-files`: the absolute paths (`$HOME` expanded at launch) the
    /// plug may read, and those it may also write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write: Vec<String>,
}

impl PlugAttrs {
    pub fn is_empty(&self) -> bool {
        *self == PlugAttrs::default()
    }
}

/// D-Bus names, per bus, in the text form confine's bus filter reads (`bus_policy::Names`): a
/// well-known name, `X.*` (X and every name below it), `X-<N>` or `X[-_]<N>` (X with a number:
/// `X-N`; `X-N`, `X_N` or `X_N_N`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BusNames {
    /// Session bus: names the app may call and receive from (TALK).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub session_talk: Vec<String>,
    /// Session bus: names the app may own (OWN).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub session_own: Vec<String>,
    /// System bus: names the app may call (TALK).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_talk: Vec<String>,
    /// System bus: names the app may own (OWN; a `dbus` slot with `bus: system`, which the
    /// bus itself allows only through the policy file the helper writes for it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_own: Vec<String>,
    /// System bus: `NAME=RULE` method calls the app may make (xdg-dbus-proxy's `--call=`; RULE is
    /// `[INTERFACE.METHOD|INTERFACE.*|*][@PATH[/*]]`), what snapd's AppArmor rules allow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_call: Vec<String>,
    /// System bus: `NAME=RULE` signals the app may receive (xdg-dbus-proxy's `--broadcast=`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_broadcast: Vec<String>,
}

impl BusNames {
    pub fn is_empty(&self) -> bool {
        *self == BusNames::default()
    }

    /// Whether the app reaches the system bus at all (it is given one only then).
    pub fn uses_system_bus(&self) -> bool {
        !(self.system_talk.is_empty() && self.system_call.is_empty() && self.system_own.is_empty())
    }
}

impl Profile {
    pub fn file_name(snap: &str, app: &str) -> String {
        format!("{snap}.{app}.json")
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("profiles always serialise")
    }

    pub fn from_json(text: &str) -> Result<Profile, String> {
        let p: Profile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if p.version != PROFILE_VERSION {
            return Err(format!(
                "profile version {} is not supported (expected {PROFILE_VERSION})",
                p.version
            ));
        }
        Ok(p)
    }

    pub fn plug_connected(&self, interface: &str) -> bool {
        self.plugs
            .iter()
            .any(|p| p.interface == interface && p.connected)
    }

    /// The connected plugs of `interface`.
    pub fn connected(&self, interface: &str) -> impl Iterator<Item = &ProfilePlug> {
        let interface = interface.to_string();
        self.plugs
            .iter()
            .filter(move |p| p.interface == interface && p.connected)
    }

    /// Whether a connected `browser-support` plug has `allow-sandbox: true`.
    pub fn browser_sandbox(&self) -> bool {
        self.connected("browser-support")
            .any(|p| p.attrs.allow_sandbox)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_version_check() {
        let p = Profile {
            version: PROFILE_VERSION,
            snap: "hello".into(),
            app: "hello".into(),
            revision: "3".into(),
            snap_version: "1.0".into(),
            confinement: "strict".into(),
            base: "shelf-base".into(),
            base_revision: "1".into(),
            architecture: "amd64".into(),
            command: vec!["bin/hello".into()],
            command_chain: vec![],
            environment: vec![("A".into(), "$SNAP/a".into())],
            layouts: vec![ProfileLayout {
                path: "/usr/share/foo".into(),
                kind: "bind".into(),
                source: "$SNAP/usr/share/foo".into(),
                mode: 0o755,
            }],
            plugs: vec![
                ProfilePlug {
                    name: "network".into(),
                    interface: "network".into(),
                    connected: true,
                    attrs: PlugAttrs::default(),
                },
                ProfilePlug {
                    name: "browser-sandbox".into(),
                    interface: "browser-support".into(),
                    connected: true,
                    attrs: PlugAttrs {
                        allow_sandbox: true,
                        ..PlugAttrs::default()
                    },
                },
            ],
            bus_names: BusNames {
                session_talk: vec!["org.mpris.MediaPlayer2.*".into()],
                session_own: vec!["org.mpris.MediaPlayer2.hello".into()],
                system_call: vec![
                    "org.freedesktop.UPower=org.freedesktop.UPower.EnumerateDevices@/org/freedesktop/UPower".into(),
                ],
                ..BusNames::default()
            },
            content: vec![],
        };
        let back = Profile::from_json(&p.to_json()).unwrap();
        assert_eq!(back, p);
        assert!(back.plug_connected("network"));
        assert!(!back.plug_connected("home"));
        assert!(back.browser_sandbox());
        assert!(back.bus_names.uses_system_bus());
        assert!(!BusNames::default().uses_system_bus());
        // Profiles written before attributes and bus names existed still read.
        let mut older = serde_json::to_value(&p).unwrap();
        older.as_object_mut().unwrap().remove("bus-names");
        older["plugs"][1].as_object_mut().unwrap().remove("attrs");
        let older = Profile::from_json(&older.to_string()).unwrap();
        assert!(older.bus_names.is_empty() && !older.browser_sandbox());
        // Empty attributes are not written.
        assert!(!p.to_json().contains("\"attrs\": {}"));
        let old = p.to_json().replace("\"version\": 1", "\"version\": 99");
        assert!(Profile::from_json(&old).unwrap_err().contains("version"));
        assert!(Profile::from_json("{}").is_err());
        assert!(
            !p.to_json().contains("content"),
            "no key when nothing is connected"
        );
        let with = Profile {
            content: vec![ProfileContent {
                plug: "p".into(),
                provider: "prov".into(),
                slot: "s".into(),
                provider_revision: "2".into(),
                binds: vec![ProfileBind {
                    source: "$SNAP".into(),
                    target: "$SNAP/import".into(),
                    writable: false,
                }],
            }],
            ..p
        };
        assert_eq!(Profile::from_json(&with.to_json()).unwrap(), with);
    }
}
