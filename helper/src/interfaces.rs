//! The interfaces Snapshelf supports (DESIGN.md §8), with the auto-connection policy of snapd's base
//! declaration on a classic desktop: which connect by themselves and which wait for a person.

use std::collections::BTreeMap;

use crate::lang::gettext;

/// `(name, auto-connects)`, in the order people see them.
pub const INTERFACES: &[(&str, bool)] = &[
    ("network", true),
    ("network-bind", true),
    ("home", true),
    ("removable-media", false),
    ("camera", false),
    ("audio-playback", true),
    ("audio-record", false),
    ("x11", true),
    ("wayland", true),
    ("desktop", true),
    ("opengl", true),
    // Auto-connected unless the plug asks for `allow-sandbox: true` (see `policy`).
    ("browser-support", true),
    ("pulseaudio", false),
    ("desktop-legacy", true),
    ("unity7", true),
    ("gsettings", true),
    ("mpris", false),
    ("password-manager-service", false),
    ("cups-control", false),
    ("u2f-devices", false),
    ("joystick", false),
    ("hardware-observe", false),
    ("system-observe", false),
    ("screen-inhibit-control", true),
    ("upower-observe", true),
    ("network-observe", false),
    ("personal-files", false),
    ("system-files", false),
];

/// What the interface allows, in the words of snapd's own summaries (translated).
pub fn summary(interface: &str) -> String {
    match interface {
        "network" => gettext("allows access to the network"),
        "network-bind" => gettext("allows operating as a network service"),
        "home" => gettext("allows access to non-hidden files in the home directory"),
        "removable-media" => gettext("allows access to mounted removable storage"),
        "camera" => gettext("allows access to all cameras"),
        "audio-playback" => gettext("allows audio playback via supporting services"),
        "audio-record" => gettext("allows audio recording via supporting services"),
        "x11" => gettext("allows interacting with the X11 server"),
        "wayland" => gettext("allows access to compositors supporting wayland protocol"),
        "desktop" => gettext("allows access to basic graphical desktop resources"),
        "opengl" => gettext("allows access to OpenGL stack"),
        "browser-support" => gettext("allows access to various APIs needed by modern web browsers"),
        "pulseaudio" => gettext("allows operating as or interacting with the pulseaudio service"),
        "desktop-legacy" => gettext("allows privileged access to desktop legacy methods"),
        "unity7" => gettext("allows interacting with Unity 7 services"),
        "gsettings" => gettext("allows access to any gsettings item of current user"),
        "mpris" => gettext("allows operating as an MPRIS player"),
        "password-manager-service" => gettext("allows access to common password manager services"),
        "cups-control" => gettext("allows access to the CUPS control socket"),
        "u2f-devices" => gettext("allows access to u2f devices"),
        "joystick" => gettext("allows access to joystick devices"),
        "hardware-observe" => gettext("allows reading information about system hardware"),
        "system-observe" => gettext("allows observing all processes and drivers"),
        "screen-inhibit-control" => gettext("allows inhibiting the screen saver"),
        "upower-observe" => gettext("allows operating as or reading from the UPower service"),
        "network-observe" => gettext("allows querying network status"),
        "personal-files" => gettext("allows access to personal files or directories"),
        "system-files" => gettext("allows access to system files or directories"),
        other => other.to_string(),
    }
}

/// The label people see for a permission (translated).
pub fn label(interface: &str) -> String {
    match interface {
        // Translators: a permission an app asks for, shown next to an on/off switch.
        "network" => gettext("Access the network"),
        "network-bind" => gettext("Run a network service"),
        "home" => gettext("Read and write files in your home folder"),
        "removable-media" => gettext("Read and write files on removable storage"),
        "camera" => gettext("Use your cameras"),
        "audio-playback" => gettext("Play sound"),
        "audio-record" => gettext("Record sound"),
        "x11" => gettext("Show windows on an X11 display"),
        "wayland" => gettext("Show windows on a Wayland display"),
        "desktop" => gettext("Use fonts, icons and desktop settings"),
        "opengl" => gettext("Use the graphics card (OpenGL)"),
        "browser-support" => gettext("Run as a web browser"),
        "pulseaudio" => gettext("Play and record sound"),
        "desktop-legacy" => gettext("Use accessibility tools and input methods"),
        "unity7" => gettext("Use menus, notifications and tray icons"),
        "gsettings" => gettext("Read and change your desktop settings"),
        "mpris" => gettext("Control media players"),
        "password-manager-service" => gettext("Use your saved passwords"),
        "cups-control" => gettext("Manage printers and print jobs"),
        "u2f-devices" => gettext("Use security keys"),
        "joystick" => gettext("Use game controllers"),
        "hardware-observe" => gettext("See details of your hardware"),
        "system-observe" => gettext("See the running processes"),
        "screen-inhibit-control" => gettext("Keep the screen on"),
        "upower-observe" => gettext("See the battery and power state"),
        "network-observe" => gettext("See network connections and status"),
        "personal-files" => gettext("Read and write chosen files in your home folder"),
        "system-files" => gettext("Read and write chosen system files"),
        // Translators: a dbus plug, connected to another snap's service (a D-Bus name).
        "dbus" => gettext("Talk to another app's service"),
        // Translators: {} is the technical name of a permission Snapshelf has no words for.
        other => gettext("Use the {} interface").replace("{}", other),
    }
}

pub fn is_supported(interface: &str) -> bool {
    INTERFACES.iter().any(|(n, ..)| *n == interface)
}

/// Whether a plug of this interface connects by itself to the system's slot at install.
/// Interfaces we do not support never connect.
pub fn auto_connects(interface: &str) -> bool {
    INTERFACES
        .iter()
        .any(|(n, auto, ..)| *n == interface && *auto)
}

/// A person's choices for one plug, as kept in the snap's state (`connections`, plug → this).
///
/// A choice holds for the plug *with the interface it was made for*: a refresh that re-declares
/// the plug with another interface starts from the policy again (issue 17), and a revert to the
/// old declaration finds the old choice. States written before choices were keyed by interface
/// hold a bare `true`/`false` per plug ([`PlugChoice::Legacy`]); see [`legacy_interface`] for
/// how those are read.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum PlugChoice {
    /// interface → connected.
    ByInterface(BTreeMap<String, bool>),
    /// A choice from an older state: the interface it was made for is not recorded.
    Legacy(bool),
}

/// The interface a legacy (plug-only) choice was made for, as far as the state can tell: the
/// plug's interface when every kept revision that declares the plug agrees on it. A choice is
/// only ever made for a plug of an installed revision, so while the kept revisions agree it was
/// made for that interface. When they disagree (a refresh already changed the interface), or a
/// revision's snap.yaml cannot be read, nothing is known and the choice applies to no interface:
/// the plug follows the policy until a person chooses again. (Not covered: an older helper that
/// refreshed to another interface *and* dropped every revision with the old one leaves nothing
/// to tell them apart; the choice then applies to the new interface, as it did before.)
pub fn legacy_interface(snap: &crate::state::SnapState, plug: &str) -> Option<String> {
    let mut found: Option<String> = None;
    for rev in &snap.sequence {
        let yaml = snapshelf_snap::yaml::SnapYaml::parse(&rev.snap_yaml).ok()?;
        if let Some(interface) = yaml.all_plugs().remove(plug) {
            match &found {
                Some(f) if *f != interface => return None,
                Some(_) => {}
                None => found = Some(interface),
            }
        }
    }
    found
}

/// A person's choice for `plug` with `interface`, if any.
pub fn choice(snap: &crate::state::SnapState, plug: &str, interface: &str) -> Option<bool> {
    match snap.connections.get(plug)? {
        PlugChoice::ByInterface(m) => m.get(interface).copied(),
        PlugChoice::Legacy(c) => {
            (legacy_interface(snap, plug).as_deref() == Some(interface)).then_some(*c)
        }
    }
}

/// Record (`Some`) or forget (`None`) a person's choice for `plug` with `interface`. A legacy
/// entry for the plug is first rewritten for the interface it can be tied to (or dropped).
pub fn set_choice(
    snap: &mut crate::state::SnapState,
    plug: &str,
    interface: &str,
    value: Option<bool>,
) {
    let legacy = match snap.connections.get(plug) {
        Some(PlugChoice::Legacy(c)) => Some((legacy_interface(snap, plug), *c)),
        _ => None,
    };
    let mut by = match snap.connections.remove(plug) {
        Some(PlugChoice::ByInterface(m)) => m,
        _ => BTreeMap::new(),
    };
    if let Some((Some(i), c)) = legacy {
        by.insert(i, c);
    }
    match value {
        Some(c) => by.insert(interface.to_string(), c),
        None => by.remove(interface),
    };
    if !by.is_empty() {
        snap.connections
            .insert(plug.to_string(), PlugChoice::ByInterface(by));
    }
}

/// Whether a plug is connected, and whether a person chose so: a person's choice for this plug
/// and this interface wins, otherwise the auto-connection policy decides.
pub fn state_of(snap: &crate::state::SnapState, plug: &str, interface: &str) -> (bool, bool) {
    // A `dbus` plug connects only to another snap's slot, and only by a person (snapd's base
    // declaration denies its auto-connection): connected is chosen.
    if interface == "dbus" {
        let c = snap.dbus.contains_key(plug);
        return (c, c);
    }
    match choice(snap, plug, interface) {
        Some(c) => (c, true),
        None => (policy(snap, plug, interface), false),
    }
}

/// The auto-connection policy for one plug of the snap's current revision: the interface's, but
/// as snapd's base declaration says, a `browser-support` plug with `allow-sandbox: true` does not
/// connect by itself (a person may connect it) unless the snap's own snap-declaration allows it
/// (`SnapState::declared_auto_connect`, from `engine/auto_connect.rs`).
pub fn policy(snap: &crate::state::SnapState, plug: &str, interface: &str) -> bool {
    if !auto_connects(interface) {
        return false;
    }
    if interface != "browser-support" {
        return true;
    }
    let attrs = snap
        .current_revision()
        .and_then(|r| snapshelf_snap::yaml::SnapYaml::parse(&r.snap_yaml).ok())
        .and_then(|y| y.plugs.get(plug).map(|p| p.attrs.clone()));
    match attrs {
        Some(attrs) => {
            !crate::plug_attrs::allow_sandbox(&attrs) || snap.declared_auto_connect.contains(plug)
        }
        // An implicit plug has no attributes; an unreadable snap.yaml connects nothing.
        None => snap
            .current_revision()
            .is_some_and(|r| snapshelf_snap::yaml::SnapYaml::parse(&r.snap_yaml).is_ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_matches_the_design_table() {
        for i in [
            "network",
            "network-bind",
            "home",
            "audio-playback",
            "x11",
            "wayland",
            "desktop",
            "opengl",
        ] {
            assert!(auto_connects(i), "{i}");
        }
        for i in [
            "removable-media",
            "camera",
            "audio-record",
            "content",
            "unknown",
        ] {
            assert!(!auto_connects(i), "{i}");
        }
        assert!(is_supported("camera"));
        for (name, _) in INTERFACES {
            assert_ne!(label(name), summary(name), "{name}");
            assert!(!label(name).contains("interface"), "{name} has no words");
        }
        assert!(!is_supported("content"));
    }

    use crate::state::{RevisionState, SnapState};

    fn yaml(plug_interface: &str) -> String {
        format!(
            "name: cam\nversion: '1'\nplugs:\n  eye:\n    interface: {plug_interface}\napps:\n  cam:\n    command: bin/cam\n    plugs: [eye, network]\n"
        )
    }

    fn rev(n: &str, plug_interface: &str) -> RevisionState {
        RevisionState {
            revision: n.into(),
            version: "1".into(),
            channel: "stable".into(),
            size: 1,
            sha3_384: String::new(),
            snap_yaml: yaml(plug_interface),
            extracted: false,
            installed_at: 0,
        }
    }

    /// A snap in the state format, as JSON, with `connections` as given.
    fn snap_with(connections: serde_json::Value, revs: &[RevisionState]) -> SnapState {
        serde_json::from_value(serde_json::json!({
            "name": "cam", "snap_id": "id", "snap_type": "app", "publisher": "p",
            "publisher_validation": "", "title": "", "summary": "", "description": "",
            "confinement": "strict", "base": null, "license": "", "icon_url": "",
            "tracking_channel": "stable", "held": false,
            "current": revs.last().unwrap().revision,
            "sequence": revs,
            "connections": connections,
        }))
        .unwrap()
    }

    fn refresh(snap: &mut SnapState, r: RevisionState) {
        snap.current = r.revision.clone();
        snap.sequence.push(r);
    }

    /// Issue 17 (9) as an attack: a person connects `eye` (removable-media); a refresh
    /// re-declares `eye` as camera. The camera does not inherit the choice, and the old choice
    /// is still there for a revert.
    #[test]
    fn a_refresh_that_changes_a_plugs_interface_does_not_inherit_the_choice() {
        let mut snap = snap_with(serde_json::json!({}), &[rev("1", "removable-media")]);
        assert_eq!(state_of(&snap, "eye", "removable-media"), (false, false));
        set_choice(&mut snap, "eye", "removable-media", Some(true));
        assert_eq!(state_of(&snap, "eye", "removable-media"), (true, true));
        refresh(&mut snap, rev("2", "camera"));
        assert_eq!(state_of(&snap, "eye", "camera"), (false, false));
        assert_eq!(state_of(&snap, "eye", "removable-media"), (true, true));
        // A denial does not carry over either: the new interface follows its own policy.
        set_choice(&mut snap, "eye", "camera", Some(false));
        refresh(&mut snap, rev("3", "home"));
        assert_eq!(state_of(&snap, "eye", "home"), (true, false));
        assert_eq!(state_of(&snap, "eye", "camera"), (false, true));
        // Stored keyed by plug and interface; it reads back the same.
        let json = serde_json::to_value(&snap).unwrap();
        assert_eq!(
            json["connections"],
            serde_json::json!({"eye": {"camera": false, "removable-media": true}})
        );
        let back: SnapState = serde_json::from_value(json).unwrap();
        assert_eq!(back, snap);
    }

    /// Every supported interface has its label and summary translated in each language.
    #[test]
    fn every_interface_speaks_four_languages() {
        let catalogues = [
            ("de", include_str!("../../po/de.po")),
            ("fr", include_str!("../../po/fr.po")),
            ("es", include_str!("../../po/es.po")),
        ];
        for (name, _) in INTERFACES {
            for text in [label(name), summary(name)] {
                let id = format!("msgid \"{}\"\nmsgstr \"", text.replace('"', "\\\""));
                for (lang, po) in catalogues {
                    let at = po.find(&id).unwrap_or_else(|| panic!("{lang}: {text:?}"));
                    // An empty msgstr not continued on the next line.
                    let rest = &po[at + id.len()..];
                    let empty = rest.starts_with("\"\n") && !rest[2..].starts_with('"');
                    assert!(!empty, "{lang}: {text:?} is untranslated");
                }
            }
        }
    }

    /// snapd's base declaration: browser-support connects by itself, but not a plug that asks
    /// for `allow-sandbox: true`; a person's choice still wins.
    #[test]
    fn a_browser_sandbox_waits_for_a_person() {
        let mut r = rev("1", "camera");
        r.snap_yaml = "name: cam\nversion: '1'\nplugs:\n  browser-sandbox:\n    \
                       interface: browser-support\n    allow-sandbox: true\n  plain:\n    \
                       interface: browser-support\napps:\n  cam:\n    command: bin/cam\n    \
                       plugs: [browser-sandbox, plain, browser-support]\n"
            .into();
        let mut snap = snap_with(serde_json::json!({}), &[r]);
        let sandbox = "browser-sandbox";
        assert_eq!(state_of(&snap, sandbox, "browser-support"), (false, false));
        assert_eq!(state_of(&snap, "plain", "browser-support"), (true, false));
        assert_eq!(
            state_of(&snap, "browser-support", "browser-support"),
            (true, false)
        );
        set_choice(&mut snap, sandbox, "browser-support", Some(true));
        assert_eq!(state_of(&snap, sandbox, "browser-support"), (true, true));
        for (name, auto) in [
            ("pulseaudio", false),
            ("unity7", true),
            ("system-files", false),
        ] {
            assert!(is_supported(name));
            assert_eq!(auto_connects(name), auto, "{name}");
        }
    }

    /// Undoing a Connect puts back exactly what `choice` saw before it.
    #[test]
    fn forgetting_a_choice_restores_the_policy() {
        let mut snap = snap_with(serde_json::json!({}), &[rev("1", "camera")]);
        let before = choice(&snap, "eye", "camera");
        set_choice(&mut snap, "eye", "camera", Some(true));
        set_choice(&mut snap, "eye", "camera", before);
        assert_eq!(state_of(&snap, "eye", "camera"), (false, false));
        assert!(snap.connections.is_empty());
        set_choice(&mut snap, "network", "network", Some(false));
        assert_eq!(state_of(&snap, "network", "network"), (false, true));
    }

    /// Old states (plug → bool) still read. While every kept revision declares the plug with
    /// one interface, the choice holds for that interface; once they disagree it holds for none
    /// and the plug follows the policy.
    #[test]
    fn legacy_choices_apply_only_to_the_interface_the_plug_had() {
        let old = serde_json::json!({"eye": true, "network": false});
        let mut snap = snap_with(
            old.clone(),
            &[rev("1", "removable-media"), rev("2", "removable-media")],
        );
        assert_eq!(snap.connections["eye"], PlugChoice::Legacy(true));
        assert_eq!(
            legacy_interface(&snap, "eye").as_deref(),
            Some("removable-media")
        );
        assert_eq!(state_of(&snap, "eye", "removable-media"), (true, true));
        assert_eq!(state_of(&snap, "eye", "camera"), (false, false));
        // An implicit plug (named after its interface) too.
        assert_eq!(state_of(&snap, "network", "network"), (false, true));
        // The refresh that re-declares the plug: the legacy allow is not inherited, and with the
        // revisions disagreeing it no longer holds for the old interface either.
        refresh(&mut snap, rev("3", "camera"));
        assert_eq!(legacy_interface(&snap, "eye"), None);
        assert_eq!(state_of(&snap, "eye", "camera"), (false, false));
        assert_eq!(state_of(&snap, "eye", "removable-media"), (false, false));
        assert_eq!(state_of(&snap, "network", "network"), (false, true));

        // A new choice on a plug with a legacy entry keeps the legacy one for its interface.
        let mut snap = snap_with(old, &[rev("1", "removable-media")]);
        set_choice(&mut snap, "eye", "camera", Some(false));
        assert_eq!(
            serde_json::to_value(&snap.connections).unwrap(),
            serde_json::json!({"eye": {"camera": false, "removable-media": true}, "network": false})
        );
        // An unreadable revision makes the legacy interface unknown: the choice holds for none.
        let mut broken = rev("4", "camera");
        broken.snap_yaml = "not: [valid".into();
        let mut snap = snap_with(
            serde_json::json!({"eye": true}),
            &[rev("1", "camera"), broken],
        );
        assert_eq!(state_of(&snap, "eye", "camera"), (false, false));
        set_choice(&mut snap, "eye", "camera", None);
        assert!(snap.connections.is_empty());
    }
}
