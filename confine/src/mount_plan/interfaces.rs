//! What connected interfaces add to the sandbox's file system (their device nodes are in
//! `system.rs`, with the rest of `/dev`).

use super::planner::{join, p, parts, Planner};
use super::Origin;
use crate::error::Result;
use crate::sys::Kind;
use snapshelf_snap::profile::Profile;

/// Host paths (relative to `/usr/share`) that `desktop` brings in.
const DESKTOP_SHARE: &[&str] = &["fonts", "icons", "themes"];

impl Planner<'_> {
    /// `/media`, `/run/media` and `/mnt` from the host, with `removable-media`; the user's
    /// Wayland, PulseAudio and PipeWire sockets; `/usr/share/{fonts,icons,themes}` with
    /// `desktop`; the X11 sockets with `x11`.
    pub(super) fn interfaces(&mut self) -> Result<()> {
        let profile = self.input.profile;
        if profile.plug_connected("removable-media") {
            for top in ["media", "mnt"] {
                if self.present(Origin::Host, &p(&[top])) {
                    self.bind(Origin::Host, p(&[top]), p(&[top]), true);
                }
            }
            let run_media = p(&["run", "media"]);
            if self.present(Origin::Host, &run_media) {
                self.ensure(&run_media, false, 0o755)?;
                self.bind(Origin::Host, run_media.clone(), run_media, true);
            }
        }
        self.user_sockets()?;
        if profile.plug_connected("desktop") {
            for share in DESKTOP_SHARE {
                let at = p(&["usr", "share", share]);
                if self.present(Origin::Host, &at) {
                    self.ensure(&at, false, 0o755)?;
                    self.bind(Origin::Host, at.clone(), at.clone(), true);
                    self.read_only(at);
                }
            }
        }
        self.system_files()?;
        self.host_sockets_and_state()?;
        let x11 = p(&["tmp", ".X11-unix"]);
        if profile.plug_connected("x11")
            && self.present(Origin::Host, &x11)
            && self.model.stat(&x11).is_some()
        {
            self.bind(Origin::Host, x11.clone(), x11, false);
        }
        Ok(())
    }

    /// The sockets in the user's runtime directory that `wayland` and the audio interfaces
    /// grant, when they are the user's own.
    fn user_sockets(&mut self) -> Result<()> {
        let profile = self.input.profile;
        let uid = self.input.uid;
        let runtime = format!("/run/user/{uid}");
        let runtime_parts = parts(&runtime)?;
        let mut sockets: Vec<String> = Vec::new();
        let mut wanted: Vec<(String, Option<(&str, String)>)> = Vec::new();
        if profile.plug_connected("wayland") {
            let name = self.input.wayland_display.to_string();
            let var = format!("{runtime}/{name}");
            wanted.push((name, Some(("WAYLAND_DISPLAY", var))));
        }
        let audio = ["audio-playback", "audio-record", "pulseaudio"];
        if audio.iter().any(|i| profile.plug_connected(i)) {
            let var = format!("unix:{runtime}/pulse/native");
            wanted.push(("pulse/native".into(), Some(("PULSE_SERVER", var))));
            wanted.push(("pipewire-0".into(), None));
        }
        for (name, var) in wanted {
            let Ok(rel) = parts(&name) else { continue };
            let mut at = runtime_parts.clone();
            at.extend(rel);
            // Only the user's own sockets: the runtime directory is the user's to fill.
            let theirs = self
                .model
                .probe()
                .stat(Origin::Host, &at)
                .is_some_and(|s| s.uid == uid && s.kind == Kind::Other);
            if theirs {
                if let Some((k, v)) = var {
                    self.plan.env.push((k.to_string(), v));
                }
                sockets.push(name);
            }
        }
        for name in sockets {
            let mut at = runtime_parts.clone();
            at.extend(parts(&name)?);
            self.ensure(&at, true, 0o644)?;
            self.bind(Origin::Host, at.clone(), at, false);
        }
        Ok(())
    }

    /// What interfaces add inside the home, while its top level can still take entries:
    /// `personal-files`' paths, and `gsettings`' dconf database (`~/.config/dconf/user`, the
    /// file snapd's interface lets the app write).
    pub(super) fn home_interfaces(&mut self, home: &[String]) -> Result<()> {
        self.personal_files(home)?;
        if self.input.profile.plug_connected("gsettings") {
            let rel = p(&[".config", "dconf", "user"]);
            let at = home.iter().cloned().chain(rel.iter().cloned()).collect();
            self.declared_path(Origin::Home, rel, at, true)?;
        }
        Ok(())
    }

    /// `cups-control`: the CUPS socket; `hardware-observe`: udev's database (read-only);
    /// `gsettings`: the user's dconf runtime folder, when it is the user's.
    fn host_sockets_and_state(&mut self) -> Result<()> {
        let profile = self.input.profile;
        let cups = p(&["run", "cups", "cups.sock"]);
        if profile.plug_connected("cups-control")
            && self.probe_kind(Origin::Host, &cups) == Some(Kind::Other)
        {
            self.ensure(&cups, true, 0o644)?;
            self.bind(Origin::Host, cups.clone(), cups, false);
        }
        let udev = p(&["run", "udev", "data"]);
        if profile.plug_connected("hardware-observe")
            && self.probe_kind(Origin::Host, &udev) == Some(Kind::Dir)
        {
            self.ensure(&udev, false, 0o755)?;
            self.bind(Origin::Host, udev.clone(), udev.clone(), false);
            self.read_only(udev);
        }
        let dconf = parts(&format!("/run/user/{}/dconf", self.input.uid))?;
        let theirs = self
            .model
            .probe()
            .stat(Origin::Host, &dconf)
            .is_some_and(|s| s.uid == self.input.uid && s.kind == Kind::Dir);
        if profile.plug_connected("gsettings") && theirs {
            self.ensure(&dconf, false, 0o700)?;
            self.bind(Origin::Host, dconf.clone(), dconf, false);
        }
        Ok(())
    }

    /// Device nodes `INTERFACE_DEVICES` cannot name by prefix: `joystick`'s `/dev/input/js*`
    /// (snapd's `/dev/input/js[0-9]*`) and `u2f-devices`' security keys. Called while `/dev` is
    /// being made.
    pub(super) fn interface_nodes(&mut self) {
        if self.input.profile.plug_connected("u2f-devices") {
            self.u2f_nodes();
        }
        if !self.input.profile.plug_connected("joystick") {
            return;
        }
        let input = p(&["dev", "input"]);
        if self.probe_kind(Origin::Host, &input) != Some(Kind::Dir) {
            return;
        }
        let nodes: Vec<String> = self
            .model
            .probe()
            .list(Origin::Host, &input)
            .into_iter()
            .filter(|n| {
                n.strip_prefix("js")
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            })
            .collect();
        if nodes.is_empty() {
            return;
        }
        self.mkdir(input.clone(), 0o755, None);
        for n in nodes {
            let at = join(&input, &n);
            if self.probe_kind(Origin::Host, &at) == Some(Kind::CharDevice) {
                self.touch(at.clone(), 0o644, None);
                self.bind(Origin::Host, at.clone(), at, false);
            }
        }
    }

    /// `/dev/hidrawN` of the security keys snapd's `u2f-devices` lists, told by the USB vendor and
    /// product in the name of the HID device `/sys/class/hidraw/hidrawN` links to
    /// (`…/0003:1050:0407.0001/hidraw/hidraw0`); every other hidraw node (keyboards, mice) stays out.
    fn u2f_nodes(&mut self) {
        let class = p(&["sys", "class", "hidraw"]);
        let probe = self.model.probe();
        let keys: Vec<String> = probe
            .list(Origin::Host, &class)
            .into_iter()
            .filter(|n| n.starts_with("hidraw"))
            .filter(|n| {
                probe
                    .readlink(Origin::Host, &join(&class, n))
                    .is_some_and(|to| is_u2f_key(&to))
            })
            .collect();
        for n in keys {
            let at = p(&["dev", &n]);
            if self.probe_kind(Origin::Host, &at) == Some(Kind::CharDevice) {
                self.touch(at.clone(), 0o644, None);
                self.bind(Origin::Host, at.clone(), at, false);
            }
        }
    }

    /// `personal-files`: each declared `$HOME/…` path of the user's home that exists (and is no
    /// link) bound at its place, read-only unless the plug may write it. Called while the home's
    /// top level can still take entries.
    pub(super) fn personal_files(&mut self, home: &[String]) -> Result<()> {
        for (rel, write) in declared(self.input.profile, "personal-files", "$HOME/") {
            let at = home.iter().cloned().chain(rel.iter().cloned()).collect();
            self.declared_path(Origin::Home, rel, at, write)?;
        }
        Ok(())
    }

    /// `system-files`: each declared absolute path of the host that exists (and is no link),
    /// bound at the same place, read-only unless the plug may write it.
    fn system_files(&mut self) -> Result<()> {
        for (rel, write) in declared(self.input.profile, "system-files", "/") {
            self.declared_path(Origin::Host, rel.clone(), rel, write)?;
        }
        Ok(())
    }

    fn declared_path(
        &mut self,
        origin: Origin,
        src: Vec<String>,
        at: Vec<String>,
        write: bool,
    ) -> Result<()> {
        let kind = match self.probe_kind(origin, &src) {
            Some(k @ (Kind::Dir | Kind::File)) => k,
            // Missing, a link (never followed), or not a file or folder: nothing to grant.
            _ => return Ok(()),
        };
        self.ensure(&at, kind == Kind::File, 0o755)?;
        self.bind(origin, src, at.clone(), kind == Kind::Dir);
        if !write {
            self.read_only(at);
        }
        Ok(())
    }
}

/// The paths of the connected plugs of `interface`, below `prefix`, as components, each with
/// whether it may be written (a path listed under both is writable). Paths that are not clean
/// are skipped (the helper refused them at install).
fn declared(profile: &Profile, interface: &str, prefix: &str) -> Vec<(Vec<String>, bool)> {
    let mut out: Vec<(Vec<String>, bool)> = Vec::new();
    for plug in profile.connected(interface) {
        let a = &plug.attrs;
        let all = a
            .write
            .iter()
            .map(|w| (w, true))
            .chain(a.read.iter().map(|r| (r, false)));
        for (path, write) in all {
            let Some(rest) = path.strip_prefix(prefix) else {
                continue;
            };
            let Ok(rel) = parts(&format!("/{rest}")) else {
                continue;
            };
            if rel.is_empty() || rel.iter().any(|c| c == "." || c == "..") {
                continue;
            }
            match out.iter_mut().find(|(r, _)| *r == rel) {
                Some((_, w)) => *w |= write,
                None => out.push((rel, write)),
            }
        }
    }
    out
}

/// snapd's `u2f-devices` list: USB vendor, and the products of that vendor that are keys.
const U2F_KEYS: &[(&str, &str)] = &[
    ("31bb", "0620|0621|0622|0625|0635|0711|0713"),
    ("0d7a", "0200"),
    (
        "1050",
        "0113|0114|0115|0116|0120|0121|0200|0402|0403|0406|0407|0410",
    ),
    ("2581", "f1d0"),
    ("1e0d", "f1d0|f1ae"),
    ("096e", "0880|0850|0852|0853|0854|0856|0858|085a|085b|085d"),
    ("2ccf", "0880|0854"),
    ("24dc", "0101|0501"),
    ("10c4", "8acf"),
    ("1a44", "00bb|1501|1502|1503|1506|1507|1508|1509|150a|150b"),
    ("2abe", "1002"),
    ("1ea8", "f025|f825|fc26|f829|fc25"),
    ("20a0", "4287|42b1|42b2|42f3|42d4"),
    ("18d1", "5026|9470"),
    ("0483", "cdab|a2ca|5741|a2ac"),
    ("1209", "5070|50b0|beee|53c0|53c1"),
    ("1d50", "60fc"),
    (
        "2c97",
        "0000|0001|0004|0005|0015|1005|1015|4005|4015|5005|5015|6005|6015",
    ),
    ("32a3", "3201|3203"),
    ("534c", "0001|0002"),
    ("16d0", "0e90"),
    (
        "349e",
        "0010|0011|0012|0013|0014|0015|0016|0020|0021|0022|0023|0024|0025|0026|0200|0201|0202|\
         0203|0204|0205|0206",
    ),
    ("1370", "0911"),
    ("15e1", "2019"),
    ("047d", "8055|00f2"),
    ("311f", "4a2a|a6e9"),
    ("3752", "0001"),
];

/// Whether a hidraw node's sysfs link names a HID device (`BUS:VENDOR:PRODUCT.N`, just above
/// `hidraw/hidrawN`) that is a listed security key.
fn is_u2f_key(link: &str) -> bool {
    let parts: Vec<&str> = link.split('/').collect();
    let Some(hid) = parts.len().checked_sub(3).map(|i| parts[i]) else {
        return false;
    };
    let mut ids = hid.split(['.', ':']);
    let (Some(_bus), Some(vendor), Some(product)) = (ids.next(), ids.next(), ids.next()) else {
        return false;
    };
    // The kernel writes each id as four (vendor, product: eight with leading zeros) hex digits.
    let short = |id: &str| id.to_ascii_lowercase().trim_start_matches('0').to_string();
    U2F_KEYS.iter().any(|(v, products)| {
        short(v) == short(vendor) && products.split('|').any(|p| short(p) == short(product))
    })
}

#[cfg(test)]
mod tests {
    use super::is_u2f_key;

    #[test]
    fn security_keys_are_told_from_other_hid_devices() {
        let key = "../../devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.1/0003:1050:0407.0002/hidraw/hidraw1";
        assert!(is_u2f_key(key));
        let long = "../../devices/x/0003:00001050:00000407.0002/hidraw/hidraw1";
        assert!(is_u2f_key(long));
        let keyboard = "../../devices/x/0003:046D:C52B.0001/hidraw/hidraw0";
        assert!(!is_u2f_key(keyboard));
        // A listed vendor's other product is not a key.
        assert!(!is_u2f_key(
            "../../devices/x/0003:1050:9999.0003/hidraw/hidraw2"
        ));
        assert!(!is_u2f_key("hidraw0"));
        assert!(!is_u2f_key(""));
    }
}
