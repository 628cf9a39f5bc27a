//! The interfaces Snapshelf supports (DESIGN.md §8), with the auto-connection policy of snapd's base
//! declaration on a classic desktop: which connect by themselves and which wait for a person.

/// `(name, auto-connects, summary, label for people)`.
pub const INTERFACES: &[(&str, bool, &str, &str)] = &[
    (
        "network",
        true,
        "allows access to the network",
        "Access the network",
    ),
    (
        "network-bind",
        true,
        "allows operating as a network service",
        "Run a network service",
    ),
    (
        "home",
        true,
        "allows access to non-hidden files in the home directory",
        "Read and write files in your home folder",
    ),
    (
        "removable-media",
        false,
        "allows access to mounted removable storage",
        "Read and write files on removable storage",
    ),
    (
        "camera",
        false,
        "allows access to all cameras",
        "Use your cameras",
    ),
    (
        "audio-playback",
        true,
        "allows audio playback via supporting services",
        "Play sound",
    ),
    (
        "audio-record",
        false,
        "allows audio recording via supporting services",
        "Record sound",
    ),
    (
        "x11",
        true,
        "allows interacting with the X11 server",
        "Show windows on an X11 display",
    ),
    (
        "wayland",
        true,
        "allows access to compositors supporting wayland protocol",
        "Show windows on a Wayland display",
    ),
    (
        "desktop",
        true,
        "allows access to basic graphical desktop resources",
        "Use fonts, icons and desktop settings",
    ),
    (
        "opengl",
        true,
        "allows access to OpenGL stack",
        "Use the graphics card (OpenGL)",
    ),
];

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

/// The label people see for an interface.
pub fn label(interface: &str) -> String {
    INTERFACES
        .iter()
        .find(|(n, ..)| *n == interface)
        .map(|(.., l)| l.to_string())
        .unwrap_or_else(|| format!("Use the {interface} interface"))
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
        assert!(!is_supported("content"));
    }
}
