//! What a desktop session's apps need from the host beyond the interfaces' own mounts: the
//! resolver's real file when the host's `/etc/resolv.conf` points into `/run` (systemd-resolved's
//! `stub-resolv.conf`, NetworkManager's, resolvconf's); for `desktop` the host's local fonts and
//! font cache (snapd's desktop interface binds the same paths) and the user's GTK settings and
//! `user-dirs.dirs`, read-only (what snapd's desktop rules let an app read); for `opengl` the
//! host's NVIDIA libraries at `/var/lib/snapd/lib/gl` (snap-confine's `mount-support-nvidia.c`);
//! and `/etc/ssl` from the base, as snap-confine chooses it.

use super::planner::{join, p, parts, Planner};
use super::{show, Op, Origin};
use crate::error::Result;
use crate::sys::Kind;

/// How many links deep `/etc/resolv.conf` is followed (resolvconf chains two).
const RESOLV_HOPS: usize = 4;

/// Host paths `desktop` adds beside `/usr/share/{fonts,icons,themes}`: the administrator's fonts
/// and fontconfig's cache, so that fonts need not be scanned again in every sandbox.
const DESKTOP_HOST: &[&[&str]] = &[
    &["usr", "local", "share", "fonts"],
    &["var", "cache", "fontconfig"],
];

/// The user's desktop settings under `~/.config` that `desktop` lets an app read (directories
/// end in `/`).
const DESKTOP_CONFIG: &[&str] = &["gtk-3.0/", "gtk-4.0/", "user-dirs.dirs", "user-dirs.locale"];

/// snap-confine's `nvidia_globs` and `glvnd_globs` (each a prefix followed by `*`).
const NVIDIA_LIBS: &[&str] = &[
    "libnvidia-",
    "libEGL_nvidia.so",
    "libGLESv1_CM_nvidia.so",
    "libGLESv2_nvidia.so",
    "libGLX_nvidia.so",
    "libXvMCNVIDIA",
    "libnvoptix.so",
    "libnvdc.so",
    "libnvos.so",
    "libnvrm",
    "libnvimp.so",
    "libcuda.so",
    "libcudart.so",
    "libnvcuvid.so",
    "libcufft.so",
    "libcublas.so",
    "libcublasLt.so",
    "libcusolver.so",
    "libcuparse.so",
    "libcurand.so",
    "libnpp",
    "libnvrtc",
    "libnvToolsExt.so",
    "libcudnn",
    "libvdpau_nvidia.so",
    "libEGL.so",
    "libGL.so",
    "libOpenGL.so",
    "libGLESv1_CM.so",
    "libGLESv2.so",
    "libGLX_indirect.so",
    "libGLX.so",
    "libGLdispatch.so",
    "libGLU.so",
];

/// Where the host keeps native and 32-bit libraries, per snap architecture, and where
/// snap-confine offers them.
fn nvidia_dirs(arch: &str) -> Vec<(&'static str, &'static str)> {
    match arch {
        "amd64" => vec![
            ("usr/lib/x86_64-linux-gnu", "gl"),
            ("usr/lib/i386-linux-gnu", "gl32"),
        ],
        "arm64" => vec![("usr/lib/aarch64-linux-gnu", "gl")],
        "armhf" => vec![("usr/lib/arm-linux-gnueabihf", "gl")],
        "ppc64el" => vec![("usr/lib/powerpc64le-linux-gnu", "gl")],
        "s390x" => vec![("usr/lib/s390x-linux-gnu", "gl")],
        "riscv64" => vec![("usr/lib/riscv64-linux-gnu", "gl")],
        _ => Vec::new(),
    }
}

/// `link` (the target of the link at `at`) as a path from the root, `..` resolved; `None` when it
/// climbs above the root.
fn resolve_link(at: &[String], link: &str) -> Option<Vec<String>> {
    let mut out: Vec<String> = if link.starts_with('/') {
        Vec::new()
    } else {
        at[..at.len().saturating_sub(1)].to_vec()
    };
    for part in link.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            name => out.push(name.to_string()),
        }
    }
    Some(out)
}

impl Planner<'_> {
    /// The session's host files, after the interfaces' mounts.
    pub(super) fn session(&mut self) -> Result<()> {
        if self.input.profile.plug_connected("network") {
            self.resolver()?;
        }
        if self.input.profile.plug_connected("desktop") {
            for path in DESKTOP_HOST {
                let at = p(path);
                if self.present(Origin::Host, &at) {
                    self.ensure(&at, false, 0o755)?;
                    self.bind(Origin::Host, at.clone(), at.clone(), true);
                    self.read_only(at);
                }
            }
            self.desktop_config()?;
            self.document_portal()?;
        }
        if self.input.profile.plug_connected("opengl") {
            self.nvidia()?;
        }
        if self.input.profile.plug_connected("desktop-legacy") {
            self.accessibility_bus()?;
        }
        self.etc_ssl();
        Ok(())
    }

    /// `desktop-legacy`: the accessibility bus's folder `/run/user/<uid>/at-spi`, whose
    /// `bus_<display>` socket `org.a11y.Bus.GetAddress` names (snapd's
    /// `owner /run/user/[0-9]*/at-spi/bus* rw`). The folder, not the socket: the bus may start
    /// after the sandbox is built (confine makes the folder beforehand). Only the user's own.
    fn accessibility_bus(&mut self) -> Result<()> {
        let uid = self.input.uid;
        let at = parts(&format!("/run/user/{uid}/{}", crate::session::AT_SPI))?;
        let theirs = self
            .model
            .probe()
            .stat(Origin::Host, &at)
            .is_some_and(|s| s.uid == uid && s.kind == Kind::Dir);
        if theirs {
            self.ensure(&at, false, 0o700)?;
            self.bind(Origin::Host, at.clone(), at, false);
        }
        Ok(())
    }

    /// `desktop`: the document portal's view for this snap, `/run/user/<uid>/doc/by-app/snap.<name>`,
    /// at `/run/user/<uid>/doc` where the portal's answers point (snapd's desktop interface mounts
    /// the same, ignored when missing). Only when xdg-document-portal runs for the user: the view is
    /// then a folder of its FUSE file system, which the portal fills with the documents this snap
    /// was given and nothing else.
    fn document_portal(&mut self) -> Result<()> {
        let uid = self.input.uid;
        let name = &self.input.profile.snap;
        let view = parts(&format!("/run/user/{uid}/doc/by-app/snap.{name}"))?;
        let theirs = self
            .model
            .probe()
            .stat(Origin::Host, &view)
            .is_some_and(|s| s.uid == uid && s.kind == Kind::Dir);
        if theirs {
            let at = parts(&format!("/run/user/{uid}/doc"))?;
            self.ensure(&at, false, 0o700)?;
            self.bind(Origin::Host, view, at, false);
        }
        Ok(())
    }

    /// `~/.config/gtk-3.0`, `gtk-4.0`, `user-dirs.dirs` and `user-dirs.locale` of the user's real
    /// home, read-only at their own paths (the app's `$HOME` is `~/snap/<name>/<rev>`; launchers
    /// such as snapcraft's link them from there). Never through a link: `~/.config` or an entry
    /// that is one is left out. With `home`, the home's top level is made read-only once built:
    /// these go in before that.
    fn desktop_config(&mut self) -> Result<()> {
        let home = parts(self.input.home.trim_end_matches('/'))?;
        if home.is_empty() {
            return Ok(());
        }
        let start = self.plan.ops.len();
        for entry in DESKTOP_CONFIG {
            let dir = entry.ends_with('/');
            let at = join(&join(&home, ".config"), entry.trim_end_matches('/'));
            let kind = if dir { Kind::Dir } else { Kind::File };
            if self.probe_kind(Origin::Host, &at) != Some(kind) {
                continue;
            }
            self.ensure(&at, !dir, 0o755)?;
            self.bind(Origin::Host, at.clone(), at.clone(), dir);
            self.read_only(at);
        }
        let home_read_only = Op::ReadOnly {
            target: home.clone(),
        };
        if let Some(i) = self.plan.ops[..start]
            .iter()
            .position(|op| *op == home_read_only)
        {
            let ours: Vec<Op> = self.plan.ops.drain(start..).collect();
            self.plan.ops.splice(i..i, ours);
        }
        Ok(())
    }

    /// The host's NVIDIA userspace (and GLVND's dispatch libraries beside it) at
    /// `/var/lib/snapd/lib/gl` (`gl32` for 32-bit), where `$SNAP_LIBRARY_PATH` points: each
    /// library file bound in read-only, each link between them recreated. Only when the host
    /// has NVIDIA's libraries, as snap-confine.
    fn nvidia(&mut self) -> Result<()> {
        for (libdir, target) in nvidia_dirs(&self.input.profile.architecture) {
            let src = parts(libdir)?;
            let names: Vec<String> = self
                .model
                .probe()
                .list(Origin::Host, &src)
                .into_iter()
                .filter(|n| NVIDIA_LIBS.iter().any(|g| n.starts_with(g)))
                .collect();
            if !names
                .iter()
                .any(|n| n.contains("nvidia") || n.contains("NVIDIA"))
            {
                continue;
            }
            let gl = p(&["var", "lib", "snapd", "lib", target]);
            self.ensure(&gl, false, 0o755)?;
            let own = self.own();
            for name in names {
                let from = join(&src, &name);
                let at = join(&gl, &name);
                match self.probe_kind(Origin::Host, &from) {
                    Some(Kind::File) => {
                        self.touch(at.clone(), 0o644, own);
                        self.bind(Origin::Host, from, at.clone(), false);
                        self.read_only(at);
                    }
                    Some(Kind::Symlink) => {
                        let to = self.model.probe().readlink(Origin::Host, &from);
                        // Only a link to a sibling: anything else would lead out of the farm.
                        if let Some(to) = to.filter(|t| !t.contains('/')) {
                            self.symlink(at, &to, own);
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// snap-confine puts the base's `/etc/ssl` over the host's, except on a Debian-like host
    /// with a `core*` base (the host's own certificates then, for local CA set-ups). The host is
    /// Debian-like when it has `/etc/debian_version` (snap-confine reads `ID`/`ID_LIKE` from
    /// `os-release`; every Debian derivative ships that file).
    fn etc_ssl(&mut self) {
        let ssl = p(&["etc", "ssl"]);
        let debian_like =
            self.probe_kind(Origin::Host, &p(&["etc", "debian_version"])) == Some(Kind::File);
        if debian_like && self.input.profile.base.starts_with("core") {
            return;
        }
        let base = self.probe_kind(Origin::Base, &ssl);
        if matches!(base, Some(Kind::Dir | Kind::File))
            && base == self.probe_kind(Origin::Host, &ssl)
        {
            self.bind(Origin::Base, ssl.clone(), ssl, base == Some(Kind::Dir));
        }
    }

    /// The sandbox's `/run` is its own, so a host `/etc/resolv.conf` that links into `/run` would
    /// dangle: the directory holding each file of the chain under `/run` is bound in, read-only.
    /// The directory, not the file: the resolver replaces the file by a rename, which a bind of
    /// the file would not show.
    fn resolver(&mut self) -> Result<()> {
        let mut at = p(&["etc", "resolv.conf"]);
        let mut bound: Vec<Vec<String>> = Vec::new();
        for _ in 0..RESOLV_HOPS {
            if self.probe_kind(Origin::Host, &at) != Some(Kind::Symlink) {
                return Ok(());
            }
            let Some(to) = self.model.probe().readlink(Origin::Host, &at) else {
                return Ok(());
            };
            let Some(next) = resolve_link(&at, &to) else {
                return Ok(());
            };
            // Only a file in a directory of its own under /run: /run itself stays ours.
            if next.len() >= 3 && next[0] == "run" {
                let dir = next[..next.len() - 1].to_vec();
                if self.probe_kind(Origin::Host, &dir) != Some(Kind::Dir) {
                    eprintln!(
                        "snapshelf-confine: /etc/resolv.conf leads to {}, whose directory is \
                         not a plain directory: it is left out",
                        show(&next)
                    );
                    return Ok(());
                }
                if !bound.contains(&dir) {
                    self.ensure(&dir, false, 0o755)?;
                    self.bind(Origin::Host, dir.clone(), dir.clone(), false);
                    self.read_only(dir.clone());
                    bound.push(dir);
                }
            }
            at = next;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::resolve_link;

    fn v(s: &str) -> Vec<String> {
        s.split('/')
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect()
    }

    #[test]
    fn links_resolve_from_their_directory() {
        let at = v("etc/resolv.conf");
        assert_eq!(
            resolve_link(&at, "../run/systemd/resolve/stub-resolv.conf"),
            Some(v("run/systemd/resolve/stub-resolv.conf"))
        );
        assert_eq!(
            resolve_link(&at, "/run/NetworkManager/./resolv.conf"),
            Some(v("run/NetworkManager/resolv.conf"))
        );
        assert_eq!(
            resolve_link(&at, "resolv.conf.real"),
            Some(v("etc/resolv.conf.real"))
        );
        assert_eq!(resolve_link(&at, "../../../x"), None);
    }
}
