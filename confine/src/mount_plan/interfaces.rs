//! What connected interfaces add to the sandbox's file system (their device nodes are in
//! `system.rs`, with the rest of `/dev`).

use super::planner::{p, parts, Planner};
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
        if profile.plug_connected("audio-playback") || profile.plug_connected("audio-record") {
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
