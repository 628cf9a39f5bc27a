//! The context tiles of the snap page, before install and after: how much it takes (with the
//! base and content providers it brings), and what it may do once installed, from its plugs and
//! the auto-connection policy; "not sandboxed" for classic snaps. Pure, so it is tested without
//! a display; the view only lays the tiles out.

use gettextrs::gettext;
use snapshelf_i18n::fill;

use crate::words;

/// What one plug gives, and whether it does from the start.
#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    pub interface: String,
    /// Not installed: the interface connects by itself (`Interfaces()` key `auto-connect`).
    /// Installed: the plug is connected now.
    pub on: bool,
}

/// Another snap an install brings along (the base, a content provider), not installed yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Brought {
    pub name: String,
    pub size: u64,
}

/// Everything the tiles are made from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub installed: bool,
    /// `strict`, `classic`, `devmode`.
    pub confinement: String,
    /// The picked channel's download; for an installed snap, its size on disk.
    pub size: u64,
    pub brings: Vec<Brought>,
    /// `None`: not known (the store could not be asked for the snap's plugs).
    pub plugs: Option<Vec<Access>>,
}

/// The five things people ask about, and the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Area {
    Network,
    Files,
    Devices,
    Display,
    Audio,
    Other,
}

impl Area {
    pub fn of(interface: &str) -> Area {
        match interface {
            "network" | "network-bind" | "network-observe" | "network-manager" => Area::Network,
            "home" | "removable-media" | "personal-files" | "system-files" => Area::Files,
            "camera" | "audio-record" | "raw-usb" | "serial-port" | "block-devices"
            | "raw-input" | "joystick" | "hardware-observe" | "hidraw" | "i2c" | "gpio" => {
                Area::Devices
            }
            "x11" | "wayland" | "desktop" | "desktop-legacy" | "opengl" | "unity7" => Area::Display,
            "audio-playback" | "pulseaudio" | "alsa" => Area::Audio,
            _ => Area::Other,
        }
    }

    fn title(self) -> String {
        match self {
            Area::Network => gettext("Network"),
            Area::Files => gettext("Files"),
            Area::Devices => gettext("Devices"),
            Area::Display => gettext("Display"),
            Area::Audio => gettext("Sound"),
            Area::Other => gettext("Other access"),
        }
    }

    fn icon(self) -> &'static str {
        match self {
            Area::Network => "network-wireless-symbolic",
            Area::Files => "folder-symbolic",
            Area::Devices => "camera-photo-symbolic",
            Area::Display => "video-display-symbolic",
            Area::Audio => "audio-speakers-symbolic",
            Area::Other => "preferences-system-symbolic",
        }
    }
}

/// What a plug of this interface lets the app do, in a person's words.
fn can(interface: &str) -> String {
    match interface {
        "network" => gettext("Can reach the internet and your local network"),
        "network-bind" => gettext("Can offer services to other computers"),
        "home" => gettext("Can read and change the files in your home folder"),
        "removable-media" => gettext("Can read and change files on USB drives and memory cards"),
        "camera" => gettext("Can use your cameras"),
        "audio-record" => gettext("Can record with your microphone"),
        "x11" => gettext("Can see and type into other apps' windows (X11)"),
        "wayland" | "desktop" | "desktop-legacy" | "unity7" => gettext("Shows windows"),
        "opengl" => gettext("Draws with the graphics card"),
        "audio-playback" | "pulseaudio" => gettext("Plays sound"),
        other => fill(&gettext("Uses {interface}"), &[("interface", &other)]),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Size,
    Sandbox,
    Area(Area),
}

/// One tile: an icon, a heading, a line per fact; `warning` ones are drawn in the warning colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Tile {
    pub kind: Kind,
    pub icon: &'static str,
    pub title: String,
    pub lines: Vec<String>,
    pub warning: bool,
}

/// Whether the snap runs without the sandbox, and so needs a person's consent to install.
pub fn unconfined(confinement: &str) -> bool {
    matches!(confinement, "classic" | "devmode")
}

pub fn tiles(f: &Facts) -> Vec<Tile> {
    let mut out = vec![size_tile(f), sandbox_tile(f)];
    // Without a sandbox, every area is open: the plugs say nothing more.
    if unconfined(&f.confinement) {
        return out;
    }
    let Some(plugs) = &f.plugs else {
        return out;
    };
    let mut areas: Vec<Area> = plugs.iter().map(|p| Area::of(&p.interface)).collect();
    areas.sort();
    areas.dedup();
    for area in areas {
        let mut lines: Vec<String> = Vec::new();
        for p in plugs.iter().filter(|p| Area::of(&p.interface) == area) {
            let state = match (f.installed, p.on) {
                (false, true) => gettext("allowed from the start"),
                (false, false) => gettext("only if you allow it"),
                (true, true) => gettext("allowed"),
                (true, false) => gettext("not allowed"),
            };
            let line = fill(
                &gettext("{what} ({state})"),
                &[("what", &can(&p.interface)), ("state", &state)],
            );
            if !lines.contains(&line) {
                lines.push(line);
            }
        }
        out.push(Tile {
            kind: Kind::Area(area),
            icon: area.icon(),
            title: area.title(),
            lines,
            // Seeing other windows and reaching devices without asking are what to look out for.
            warning: plugs.iter().any(|p| {
                p.on && Area::of(&p.interface) == area
                    && (p.interface == "x11" || area == Area::Devices)
            }),
        });
    }
    out
}

fn size_tile(f: &Facts) -> Tile {
    let total = f.size + f.brings.iter().map(|b| b.size).sum::<u64>();
    let (title, mut lines) = if f.installed {
        (
            words::size(f.size),
            vec![gettext("Used on disk by this version")],
        )
    } else {
        (
            words::size(total),
            vec![fill(
                &gettext("Download {size}"),
                &[("size", &words::size(f.size))],
            )],
        )
    };
    if !f.installed {
        for b in &f.brings {
            lines.push(fill(
                &gettext("With {snap}, which it needs: {size}"),
                &[("snap", &b.name), ("size", &words::size(b.size))],
            ));
        }
        lines.push(fill(
            &gettext("Needs {size} on disk"),
            &[("size", &words::size(total))],
        ));
    }
    Tile {
        kind: Kind::Size,
        icon: "drive-harddisk-symbolic",
        title,
        lines,
        warning: false,
    }
}

fn sandbox_tile(f: &Facts) -> Tile {
    let (title, line, warning, icon) = if unconfined(&f.confinement) {
        (
            gettext("Not sandboxed"),
            gettext("It can read and change all your files, use every device and reach the network, like a program installed by hand"),
            true,
            "dialog-warning-symbolic",
        )
    } else {
        let line = match &f.plugs {
            None => gettext("What it asks for could not be found out"),
            Some(p) if p.is_empty() => gettext("It asks for no access beyond its own files"),
            Some(_) => gettext("It reaches only what is listed here"),
        };
        (gettext("Sandboxed"), line, false, "security-high-symbolic")
    };
    Tile {
        kind: Kind::Sandbox,
        icon,
        title,
        lines: vec![line],
        warning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(interface: &str, on: bool) -> Access {
        Access {
            interface: interface.into(),
            on,
        }
    }

    #[test]
    fn a_snap_not_installed_says_what_it_brings_and_may_do() {
        let f = Facts {
            installed: false,
            confinement: "strict".into(),
            size: 2_000_000,
            brings: vec![Brought {
                name: "shelf-base".into(),
                size: 3_000_000,
            }],
            plugs: Some(vec![
                access("home", true),
                access("camera", false),
                access("network", true),
                access("x11", true),
                access("audio-playback", true),
                access("audio-record", false),
            ]),
        };
        let t = tiles(&f);
        let kinds: Vec<Kind> = t.iter().map(|t| t.kind).collect();
        assert_eq!(
            kinds,
            [
                Kind::Size,
                Kind::Sandbox,
                Kind::Area(Area::Network),
                Kind::Area(Area::Files),
                Kind::Area(Area::Devices),
                Kind::Area(Area::Display),
                Kind::Area(Area::Audio),
            ]
        );
        assert_eq!(t[0].title, "5.0 MB", "the base is counted in");
        assert_eq!(
            t[0].lines,
            [
                "Download 2.0 MB",
                "With shelf-base, which it needs: 3.0 MB",
                "Needs 5.0 MB on disk"
            ]
        );
        assert_eq!((t[1].title.as_str(), t[1].warning), ("Sandboxed", false));
        let devices = &t[4];
        assert_eq!(
            devices.lines,
            [
                "Can use your cameras (only if you allow it)",
                "Can record with your microphone (only if you allow it)"
            ]
        );
        assert!(!devices.warning, "nothing reaches a device without asking");
        assert!(t[5].warning, "X11 lets it see other windows from the start");
        assert_eq!(
            t[3].lines,
            ["Can read and change the files in your home folder (allowed from the start)"]
        );
    }

    #[test]
    fn a_classic_snap_is_not_sandboxed_whatever_its_plugs() {
        let f = Facts {
            confinement: "classic".into(),
            size: 1000,
            plugs: Some(vec![access("home", true)]),
            ..Default::default()
        };
        assert!(unconfined("classic") && unconfined("devmode") && !unconfined("strict"));
        let t = tiles(&f);
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].title, "Not sandboxed");
        assert!(t[1].warning);
        assert_eq!(t[1].icon, "dialog-warning-symbolic");
    }

    #[test]
    fn installed_snaps_say_what_is_connected_now_and_their_size_on_disk() {
        let f = Facts {
            installed: true,
            confinement: "strict".into(),
            size: 4096,
            brings: vec![],
            plugs: Some(vec![access("camera", true), access("network", false)]),
        };
        let t = tiles(&f);
        assert_eq!(t[0].title, "4.1 kB");
        assert_eq!(t[0].lines, ["Used on disk by this version"]);
        assert_eq!(
            t[2].lines,
            ["Can reach the internet and your local network (not allowed)"]
        );
        assert_eq!(t[3].lines, ["Can use your cameras (allowed)"]);
        assert!(t[3].warning, "a camera in use is worth a look");
    }

    #[test]
    fn unknown_plugs_are_said_to_be_unknown_and_no_plugs_is_said_too() {
        let f = Facts {
            confinement: "strict".into(),
            plugs: None,
            ..Default::default()
        };
        let t = tiles(&f);
        assert_eq!(t.len(), 2);
        assert!(t[1].lines[0].contains("could not be found out"));
        let f = Facts {
            plugs: Some(vec![]),
            ..f
        };
        assert!(tiles(&f)[1].lines[0].contains("no access"));
        assert_eq!(Area::of("bluez"), Area::Other);
        let f = Facts {
            plugs: Some(vec![access("bluez", false)]),
            ..f
        };
        assert_eq!(tiles(&f)[2].lines, ["Uses bluez (only if you allow it)"]);
    }
}
