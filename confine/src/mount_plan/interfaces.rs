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

    /// Device nodes below `/dev` folders: `joystick`'s `/dev/input/js*` (snapd's
    /// `/dev/input/js[0-9]*`). Called while `/dev` is being made.
    pub(super) fn interface_nodes(&mut self) {
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
