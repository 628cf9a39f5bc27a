//! The interfaces Snapshelf supports (DESIGN.md §8), with the auto-connection policy of snapd's base
//! declaration on a classic desktop: which connect by themselves and which wait for a person.

use gettextrs::gettext;

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

/// Whether a plug is connected, and whether a person chose so: a person's choice wins, otherwise
/// the auto-connection policy decides.
pub fn state_of(snap: &crate::state::SnapState, plug: &str, interface: &str) -> (bool, bool) {
    match snap.connections.get(plug) {
        Some(c) => (*c, true),
        None => (auto_connects(interface), false),
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
}
