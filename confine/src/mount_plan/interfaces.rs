//! What connected interfaces add to the sandbox's file system (their device nodes are in
//! `system.rs`, with the rest of `/dev`).

use super::planner::{p, parts, Planner};
use super::Origin;
use crate::error::Result;
use crate::sys::Kind;

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
}
