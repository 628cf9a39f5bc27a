//! The D-Bus names each interface lets an app reach, for confine's bus filters. snapd's
//! AppArmor rules name D-Bus interfaces and object paths; a name-based filter needs the
//! well-known names of the services that serve them, listed here per interface. Only connected
//! plugs add names, so a snap cannot ask for a name it has no plug for; its `mpris` slot gives it
//! its own player name, as snapd's permanent slot rules do.

use snapshelf_snap::profile::{BusNames, ProfilePlug};
use snapshelf_snap::yaml::{Node, SnapYaml};

/// `(interface, session-bus names to talk to, system-bus names to talk to)`; the system bus
/// goes by [`SYSTEM`]'s narrower rules for every interface today.
const TALK: &[(&str, &[&str], &[&str])] = &[
    (
        "desktop-legacy",
        &[
            "org.a11y.Bus",
            "org.freedesktop.Notifications",
            "org.kde.StatusNotifierWatcher",
            "org.fcitx.Fcitx",
            "org.freedesktop.IBus",
            "org.gtk.vfs.*",
            "com.canonical.AppMenu.Registrar",
        ],
        &[],
    ),
    (
        "unity7",
        &[
            "org.a11y.Bus",
            "com.canonical.AppMenu.Registrar",
            "com.canonical.Unity",
            "com.canonical.indicator.*",
            "org.freedesktop.Notifications",
            "org.kde.StatusNotifierWatcher",
            "org.fcitx.Fcitx",
            "org.gnome.SettingsDaemon.MediaKeys",
            "org.gtk.vfs.*",
            "io.snapcraft.Launcher",
            "io.snapcraft.Settings",
        ],
        &[],
    ),
    ("gsettings", &["ca.desrt.dconf"], &[]),
    ("mpris", &["org.mpris.MediaPlayer2.*"], &[]),
    (
        "password-manager-service",
        &[
            "org.freedesktop.secrets",
            "org.kde.kwalletd5",
            "org.kde.kwalletd6",
        ],
        &[],
    ),
    (
        "screen-inhibit-control",
        &[
            "org.freedesktop.ScreenSaver",
            "org.gnome.ScreenSaver",
            "org.gnome.SessionManager",
            "org.mate.ScreenSaver",
            "org.freedesktop.PowerManagement",
        ],
        &[],
    ),
];

/// The system bus, where snapd's rules name methods and object paths, not whole services:
/// `(interface, NAME=RULE calls, NAME=RULE signals)` in `xdg-dbus-proxy`'s `--call` and
/// `--broadcast` form, which confine's filter reads (a path ending in `/*` is it and everything
/// below; AppArmor's `[0-9]*` globs within a path element become that subtree, the closest the
/// form can say).
const SYSTEM: &[(&str, &[&str], &[&str])] = &[
    (
        "unity7",
        &[
            "org.freedesktop.Accounts=org.freedesktop.DBus.Introspectable.Introspect@/org/freedesktop/Accounts",
            "org.freedesktop.Accounts=org.freedesktop.Accounts.FindUserById@/org/freedesktop/Accounts",
            "org.freedesktop.Accounts=org.freedesktop.DBus.Properties.Get@/org/freedesktop/Accounts/*",
        ],
        &["org.freedesktop.Accounts=org.freedesktop.DBus.Properties.PropertiesChanged@/org/freedesktop/Accounts/*"],
    ),
    (
        "screen-inhibit-control",
        &[
            "com.canonical.Unity.Screen=org.freedesktop.DBus.Introspectable.Introspect@/com/canonical/Unity/Screen",
            "com.canonical.Unity.Screen=com.canonical.Unity.Screen.keepDisplayOn@/com/canonical/Unity/Screen",
            "com.canonical.Unity.Screen=com.canonical.Unity.Screen.removeDisplayOnRequest@/com/canonical/Unity/Screen",
        ],
        &[],
    ),
    (
        "upower-observe",
        &[
            "org.freedesktop.UPower=org.freedesktop.UPower.EnumerateDevices@/org/freedesktop/UPower",
            "org.freedesktop.UPower=org.freedesktop.UPower.GetCriticalAction@/org/freedesktop/UPower",
            "org.freedesktop.UPower=org.freedesktop.UPower.GetDisplayDevice@/org/freedesktop/UPower",
            "org.freedesktop.UPower=org.freedesktop.DBus.Properties.Get@/org/freedesktop/UPower/*",
            "org.freedesktop.UPower=org.freedesktop.DBus.Properties.GetAll@/org/freedesktop/UPower/*",
            "org.freedesktop.UPower=org.freedesktop.UPower.Device.GetHistory@/org/freedesktop/UPower/devices/*",
            "org.freedesktop.UPower=org.freedesktop.UPower.Device.Refresh@/org/freedesktop/UPower/devices/*",
            "org.freedesktop.UPower=org.freedesktop.DBus.Introspectable.Introspect@/org/freedesktop/UPower",
        ],
        &["org.freedesktop.UPower=org.freedesktop.DBus.Properties.PropertiesChanged@/org/freedesktop/UPower/*"],
    ),
    (
        "system-observe",
        &[
            "org.freedesktop.hostname1=org.freedesktop.DBus.Properties.Get@/org/freedesktop/hostname1",
            "org.freedesktop.hostname1=org.freedesktop.DBus.Properties.GetAll@/org/freedesktop/hostname1",
            "org.freedesktop.hostname1=org.freedesktop.DBus.Introspectable.Introspect@/org/freedesktop/hostname1",
            "org.freedesktop.systemd1=org.freedesktop.DBus.Properties.Get@/org/freedesktop/systemd1/*",
            "org.freedesktop.systemd1=org.freedesktop.DBus.Properties.GetAll@/org/freedesktop/systemd1/*",
            "org.freedesktop.systemd1=org.freedesktop.systemd1.Manager.GetUnit@/org/freedesktop/systemd1",
            "org.freedesktop.systemd1=org.freedesktop.systemd1.Manager.ListUnits@/org/freedesktop/systemd1",
        ],
        &[],
    ),
    (
        "network-observe",
        &[
            "org.freedesktop.resolve1=org.freedesktop.resolve1.Manager.ResolveAddress@/org/freedesktop/resolve1",
            "org.freedesktop.resolve1=org.freedesktop.resolve1.Manager.ResolveHostname@/org/freedesktop/resolve1",
            "org.freedesktop.resolve1=org.freedesktop.resolve1.Manager.ResolveRecord@/org/freedesktop/resolve1",
            "org.freedesktop.resolve1=org.freedesktop.resolve1.Manager.ResolveService@/org/freedesktop/resolve1",
            "org.freedesktop.network1=org.freedesktop.DBus.Properties.Get@/org/freedesktop/network1/link/*",
            "org.freedesktop.network1=org.freedesktop.DBus.Properties.GetAll@/org/freedesktop/network1/link/*",
            "org.freedesktop.network1=org.freedesktop.network1.Manager.ListLinks@/org/freedesktop/network1",
            "org.freedesktop.network1=org.freedesktop.network1.Manager.GetLinkByName@/org/freedesktop/network1",
            "org.freedesktop.network1=org.freedesktop.network1.Manager.DescribeLink@/org/freedesktop/network1",
            "org.freedesktop.network1=org.freedesktop.network1.Manager.Describe@/org/freedesktop/network1",
        ],
        &["org.freedesktop.network1=org.freedesktop.DBus.Properties.PropertiesChanged@/org/freedesktop/network1/*"],
    ),
    (
        "cups-control",
        &[
            "org.freedesktop.ColorManager=org.freedesktop.ColorManager.*@/org/freedesktop/ColorManager",
            "org.cups.cupsd.Notifier=org.cups.cupsd.Notifier.*@/org/cups/cupsd/Notifier",
        ],
        &[
            "org.freedesktop.ColorManager=org.freedesktop.ColorManager.*@/org/freedesktop/ColorManager",
            "org.cups.cupsd.Notifier=org.cups.cupsd.Notifier.*@/org/cups/cupsd/Notifier",
        ],
    ),
];

/// The names of `app`, from its connected `plugs` and the snap's slots bound to it.
pub fn for_app(yaml: &SnapYaml, snap: &str, app: &str, plugs: &[ProfilePlug]) -> BusNames {
    let mut out = BusNames::default();
    for (interface, session, system) in TALK {
        if plugs
            .iter()
            .any(|p| p.connected && p.interface == *interface)
        {
            out.session_talk
                .extend(session.iter().map(|s| s.to_string()));
            out.system_talk.extend(system.iter().map(|s| s.to_string()));
        }
    }
    for (interface, calls, signals) in SYSTEM {
        if plugs
            .iter()
            .any(|p| p.connected && p.interface == *interface)
        {
            out.system_call.extend(calls.iter().map(|s| s.to_string()));
            out.system_broadcast
                .extend(signals.iter().map(|s| s.to_string()));
        }
    }
    for (slot, interface) in yaml.slots_for_app(app) {
        if interface == "mpris" {
            let name = yaml
                .slots
                .get(&slot)
                .and_then(|s| s.attrs.iter().find(|(k, _)| k == "name"))
                .and_then(|(_, v)| match v {
                    Node::Scalar { text, .. } if valid_element(text) => Some(text.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| snap.replace('-', "_"));
            // The player's name, and its instances (`….instance123`), as snapd's slot allows.
            out.session_own
                .push(format!("org.mpris.MediaPlayer2.{name}"));
            out.session_own
                .push(format!("org.mpris.MediaPlayer2.{name}.*"));
        }
    }
    // The `dbus` interface's slots: their name, without any connection; its connected plugs:
    // the name of the slot each is connected to (the same as the plug's own).
    out.session_own
        .extend(crate::dbus_iface::session_own(yaml, app));
    out.system_own
        .extend(crate::dbus_iface::system_own(yaml, app));
    let connected: Vec<&str> = plugs
        .iter()
        .filter(|p| p.connected && p.interface == "dbus")
        .map(|p| p.name.as_str())
        .collect();
    let (session, system) = crate::dbus_iface::talk(yaml, &connected);
    out.session_talk.extend(session);
    out.system_talk.extend(system);
    for v in [
        &mut out.session_talk,
        &mut out.session_own,
        &mut out.system_talk,
        &mut out.system_own,
        &mut out.system_call,
        &mut out.system_broadcast,
    ] {
        v.sort();
        v.dedup();
    }
    out
}

/// A D-Bus name element: letters, digits and `_`, not starting with a digit (snapd's check of
/// the `mpris` slot's `name`; anything else falls back to the snap's name).
fn valid_element(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plug(interface: &str, connected: bool) -> ProfilePlug {
        ProfilePlug {
            name: interface.into(),
            interface: interface.into(),
            connected,
            ..Default::default()
        }
    }

    #[test]
    fn only_connected_plugs_and_the_own_player_name_are_listed() {
        let y = SnapYaml::parse(
            "name: my-player\nversion: '1'\nslots:\n  player:\n    interface: mpris\n\
             apps:\n  play:\n    command: bin/p\n    slots: [player]\n  other:\n    command: bin/o\n",
        )
        .unwrap();
        let plugs = [
            plug("password-manager-service", true),
            plug("upower-observe", true),
            plug("gsettings", false),
        ];
        let n = for_app(&y, "my-player", "play", &plugs);
        assert!(n
            .session_talk
            .contains(&"org.freedesktop.secrets".to_string()));
        assert!(!n.session_talk.contains(&"ca.desrt.dconf".to_string()));
        assert!(n.system_talk.is_empty());
        // The system bus: the methods snapd's upower-observe rules name, nothing else of UPower.
        assert!(n.system_call.contains(
            &"org.freedesktop.UPower=org.freedesktop.UPower.EnumerateDevices@/org/freedesktop/UPower"
                .to_string()
        ));
        assert!(n
            .system_call
            .iter()
            .all(|r| r.starts_with("org.freedesktop.UPower=")));
        assert_eq!(n.system_broadcast.len(), 1);
        assert_eq!(
            n.session_own,
            [
                "org.mpris.MediaPlayer2.my_player",
                "org.mpris.MediaPlayer2.my_player.*"
            ]
        );
        // The app without the slot owns nothing; nothing connected, nothing to talk to.
        let n = for_app(&y, "my-player", "other", &[plug("gsettings", false)]);
        assert!(n.is_empty(), "{n:?}");
        // A slot's own `name` is used when it is a valid element, and ignored otherwise.
        let named = |name: &str| {
            let y = SnapYaml::parse(&format!(
                "name: pp\nversion: '1'\nslots:\n  m:\n    interface: mpris\n    name: '{name}'\n\
                 apps:\n  p:\n    command: bin/p\n    slots: [m]\n"
            ))
            .unwrap();
            for_app(&y, "pp", "p", &[]).session_own[0].clone()
        };
        assert_eq!(named("vlc"), "org.mpris.MediaPlayer2.vlc");
        assert_eq!(named("a.b"), "org.mpris.MediaPlayer2.pp");
        assert_eq!(named("*"), "org.mpris.MediaPlayer2.pp");
    }
}
