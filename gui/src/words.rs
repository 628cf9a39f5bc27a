//! What the app says: error kinds as sentences that say what to do, sizes, speeds, the
//! permission groups. Pure functions, tested without a display.

use gettextrs::{gettext, ngettext};
use snapshelf_dbus::ErrorKind;
use snapshelf_i18n::fill;

use crate::client::Failure;

/// The sentence for a failure: by kind, never by the helper's message text (that goes in details).
pub fn failure(f: &Failure) -> String {
    use ErrorKind::*;
    let Some(kind) = f.kind else {
        return gettext(
            "Snapshelf cannot reach its system service. Check that snapshelf-helper is installed, then try again.",
        );
    };
    match kind {
        NotAuthorized => gettext("You are not allowed to do this. Ask an administrator of this computer."),
        AuthCancelled => gettext("Authorization was dismissed; nothing was changed."),
        NotFound => gettext("The store does not know this app. Check the name and try again."),
        AlreadyInstalled => gettext("This app is already installed."),
        NotInstalled => gettext("This app is not installed any more. The list has been reloaded."),
        InvalidArgument => gettext("Snapshelf sent a request the system did not accept. Please report this."),
        ChangeConflict => gettext("Another change is working on this app. Wait for it to finish, then try again."),
        NetworkError => gettext("The store cannot be reached. Check your network connection and try again."),
        StoreError => gettext("The store could not answer. Try again later."),
        VerificationFailed => gettext("The download did not match its signature, so nothing was installed. Try again later."),
        NoUpdateAvailable => gettext("This app is already up to date."),
        NoRevisionToRevert => gettext("There is no earlier version kept to go back to."),
        ChannelNotAvailable => gettext("The app is not published in that channel. Choose another channel."),
        NeedsClassic => gettext("This app asks for full access to the system (classic confinement); it is installed only once you agree that it runs without a sandbox."),
        EpochMismatch => gettext("This update cannot read the data of the installed version, so it was not installed."),
        InsufficientSpace => gettext("There is not enough disk space. Free some space, then try again."),
        SnapInUse => gettext("The app is running. Close it, then try again."),
        InvalidSnap => gettext("This file is not a valid snap; nothing was installed."),
        InterfacesUnchanged => gettext("That permission was already set so."),
        NoSuchOption => gettext("This app has no such setting."),
        HookFailed => gettext("The app's own setup step failed, so the change was undone. The details say why."),
        Cancelled => gettext("The change was cancelled; everything is as it was before."),
        Internal => gettext("Something went wrong inside Snapshelf. The details may help when you report it."),
        AssumesNotMet => gettext("This app needs features of the snap system that Snapshelf does not have, so it was not installed."),
        ProviderInUse => gettext("Other apps use it, so it was not removed: see Details."),
        RefreshHeld => gettext("An app asked to put this automatic update off for now: see Details."),
    }
}

/// Bytes in units a person reads (SI, as GNOME does), with their locale's decimal separator.
pub fn size(bytes: u64) -> String {
    size_with(bytes, decimal_point())
}

/// The decimal separator of the person's `LC_NUMERIC` ("," in German), read once, after `main` has
/// called `setlocale`. glibc has it; no crate reads it without pulling in a locale database.
fn decimal_point() -> &'static str {
    static POINT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    POINT.get_or_init(|| {
        // SAFETY: localeconv returns a pointer to static data that stays valid until the next
        // setlocale; the string is copied at once, and the locale is set once, at start-up.
        unsafe {
            let lc = libc::localeconv();
            if lc.is_null() || (*lc).decimal_point.is_null() {
                return ".".to_string();
            }
            let p = std::ffi::CStr::from_ptr((*lc).decimal_point).to_string_lossy();
            if p.is_empty() {
                ".".to_string()
            } else {
                p.into_owned()
            }
        }
    })
}

fn size_with(bytes: u64, point: &str) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return fill(
            &ngettext("{n} byte", "{n} bytes", bytes as u32),
            &[("n", &bytes.to_string())],
        );
    }
    let mut v = bytes as f64 / 1000.0;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if v < 10.0 {
        format!("{v:.1} {}", UNITS[unit]).replacen('.', point, 1)
    } else {
        format!("{v:.0} {}", UNITS[unit])
    }
}

/// "2.5 MB/s".
pub fn speed(bytes_per_second: f64) -> String {
    fill(
        &gettext("{size}/s"),
        &[("size", &size(bytes_per_second.max(0.0) as u64))],
    )
}

/// Download speed over a sliding window of (seconds, bytes) samples.
#[derive(Debug, Default, Clone)]
pub struct SpeedMeter {
    samples: std::collections::VecDeque<(f64, u64)>,
}

impl SpeedMeter {
    const WINDOW: f64 = 3.0;

    pub fn add(&mut self, at: f64, bytes: u64) {
        if let Some(&(_, last)) = self.samples.back() {
            if bytes < last {
                self.samples.clear();
            }
        }
        self.samples.push_back((at, bytes));
        while let Some(&(t, _)) = self.samples.front() {
            if at - t > Self::WINDOW && self.samples.len() > 2 {
                self.samples.pop_front();
            } else {
                break;
            }
        }
    }

    /// Bytes per second, once there is something to measure.
    pub fn rate(&self) -> Option<f64> {
        let (t0, b0) = *self.samples.front()?;
        let (t1, b1) = *self.samples.back()?;
        (t1 - t0 > 0.05 && b1 > b0).then(|| (b1 - b0) as f64 / (t1 - t0))
    }
}

/// Who published an app, with the mark the store gives them.
pub fn validation(v: &str) -> Option<String> {
    match v {
        "verified" => Some(gettext("Verified publisher")),
        "starred" => Some(gettext("Star developer")),
        _ => None,
    }
}

/// The groups of the permissions page, in the order they are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    Files,
    Devices,
    Network,
    DisplaySound,
    Other,
}

impl Group {
    pub fn of(interface: &str) -> Group {
        match interface {
            "home" | "removable-media" | "personal-files" | "system-files" => Group::Files,
            "camera" | "opengl" | "joystick" | "u2f-devices" | "cups-control"
            | "hardware-observe" => Group::Devices,
            "network" | "network-bind" | "network-observe" => Group::Network,
            "x11"
            | "wayland"
            | "desktop"
            | "audio-playback"
            | "audio-record"
            | "pulseaudio"
            | "desktop-legacy"
            | "unity7"
            | "gsettings"
            | "mpris"
            | "screen-inhibit-control" => Group::DisplaySound,
            _ => Group::Other,
        }
    }

    pub fn title(&self) -> String {
        match self {
            Group::Files => gettext("Files"),
            Group::Devices => gettext("Devices"),
            Group::Network => gettext("Network"),
            Group::DisplaySound => gettext("Display and sound"),
            Group::Other => gettext("Other"),
        }
    }
}

/// What a content tag (or, failing that, the provider's name) is, for people: "the GNOME 42
/// platform" for snapcraft's `gnome-42-2204`, the themes, the graphics drivers; otherwise the tag.
pub fn content_name(content: &str) -> String {
    let parts: Vec<&str> = content.split('-').collect();
    match parts.as_slice() {
        // gnome-42-2204, gnome-3-38-2004: the GNOME version, then the Ubuntu release.
        ["gnome", version @ .., ubuntu]
            if !version.is_empty()
                && ubuntu.len() == 4
                && version
                    .iter()
                    .chain([ubuntu])
                    .all(|p| p.chars().all(|c| c.is_ascii_digit())) =>
        {
            // Translators: {version} is a GNOME version such as 42.
            fill(
                &gettext("the GNOME {version} platform"),
                &[("version", &version.join("."))],
            )
        }
        ["kf5" | "kf6", ..] => fill(
            // Translators: {version} is 5 or 6.
            &gettext("the KDE Frameworks {version} platform"),
            &[("version", &&parts[0][2..])],
        ),
        ["gtk", "common", "themes"]
        | ["gtk", "3", "themes"]
        | ["icon", "themes"]
        | ["sound", "themes"] => gettext("the desktop themes"),
        ["mesa", ..] | ["graphics", ..] => gettext("the graphics drivers"),
        _ => fill(
            &gettext("the content “{content}”"),
            &[("content", &content)],
        ),
    }
}

/// A content plug in words: "Uses the GNOME 42 platform from gnome-42-2204".
pub fn content_use(content: &str, provider: &str, connected: bool) -> String {
    let what = content_name(content);
    if connected {
        // Translators: {what} is e.g. "the GNOME 42 platform", {provider} a snap's name.
        fill(
            &gettext("Uses {what} from {provider}"),
            &[("what", &what), ("provider", &provider)],
        )
    } else {
        // Translators: {what} is e.g. "the GNOME 42 platform".
        fill(
            &gettext("Would use {what}: not connected"),
            &[("what", &what)],
        )
    }
}

/// "Installed 12 MB · on hold".
pub fn confinement(c: &str) -> String {
    match c {
        "strict" => gettext("Runs in a sandbox"),
        "devmode" => gettext("Development mode: not sandboxed"),
        "classic" => gettext("Classic: full access to the system"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_sentence() {
        let mut seen = std::collections::HashSet::new();
        for k in ErrorKind::ALL {
            let s = failure(&Failure::of(*k, "helper text"));
            assert!(!s.contains("helper text"), "{k:?} leaks the helper's words");
            assert!(s.ends_with('.'), "{k:?}: {s}");
            assert!(seen.insert(s), "{k:?} shares its sentence");
        }
        let unreachable = failure(&Failure {
            kind: None,
            message: "no bus".into(),
        });
        assert!(unreachable.contains("snapshelf-helper"));
    }

    #[test]
    fn sizes_read_like_gnome() {
        assert_eq!(size(1), "1 byte");
        assert_eq!(size(999), "999 bytes");
        assert_eq!(size(1000), "1.0 kB");
        assert_eq!(size(123_456), "123 kB");
        assert_eq!(size(5_300_000), "5.3 MB");
        assert_eq!(size(104_857_600), "105 MB");
        assert_eq!(size(3_000_000_000), "3.0 GB");
        assert_eq!(size_with(5_300_000, ","), "5,3 MB");
        assert_eq!(speed(2_500_000.0), "2.5 MB/s");
    }

    #[test]
    fn speed_over_a_window() {
        let mut m = SpeedMeter::default();
        assert_eq!(m.rate(), None);
        m.add(0.0, 0);
        assert_eq!(m.rate(), None);
        m.add(1.0, 1_000_000);
        assert_eq!(m.rate(), Some(1_000_000.0));
        for i in 2..10 {
            m.add(i as f64, i * 2_000_000);
        }
        // Only the last three seconds count: 2 MB/s now, whatever came before.
        assert_eq!(m.rate(), Some(2_000_000.0));
        // A new download (fewer bytes than before) starts a new measurement.
        m.add(10.0, 10);
        assert_eq!(m.rate(), None);
    }

    #[test]
    fn groups_cover_every_interface_in_order() {
        for i in [
            "home",
            "removable-media",
            "camera",
            "opengl",
            "network",
            "network-bind",
            "x11",
            "wayland",
            "desktop",
            "audio-playback",
            "audio-record",
            "personal-files",
            "system-files",
            "joystick",
            "u2f-devices",
            "cups-control",
            "hardware-observe",
            "network-observe",
            "pulseaudio",
            "desktop-legacy",
            "unity7",
            "gsettings",
            "mpris",
            "screen-inhibit-control",
        ] {
            assert_ne!(Group::of(i), Group::Other, "{i}");
        }
        // What is about the system or the browser as a whole stays under Other.
        for i in [
            "browser-support",
            "system-observe",
            "upower-observe",
            "password-manager-service",
        ] {
            assert_eq!(Group::of(i), Group::Other, "{i}");
        }
        assert!(Group::Files < Group::Devices && Group::Network < Group::DisplaySound);
        assert_eq!(Group::of("bluez"), Group::Other);
        assert_eq!(
            validation("verified").as_deref(),
            Some("Verified publisher")
        );
        assert_eq!(validation("unproven"), None);
    }
}
