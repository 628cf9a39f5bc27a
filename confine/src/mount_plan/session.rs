//! What a desktop session's apps need from the host beyond the interfaces' own mounts: the
//! resolver's real file when the host's `/etc/resolv.conf` points into `/run` (systemd-resolved's
//! `stub-resolv.conf`, NetworkManager's, resolvconf's), and the host's local fonts and font cache
//! for `desktop` (snapd's desktop interface binds the same paths).

use super::planner::{p, Planner};
use super::{show, Origin};
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
        }
        Ok(())
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
