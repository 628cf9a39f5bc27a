//! What the snap page knows of one snap, and what follows from it: which buttons show, which
//! channel is picked, what Revert can go back to and what its dialog says. Pure, so it is tested
//! without a display.

use gettextrs::gettext;
use snapshelf_dbus::types::{ChannelInfo, InstalledSnap, SnapDetails, UpdateInfo};
use snapshelf_i18n::fill;

use super::safety::{Access, Brought, Facts};
use crate::words;

/// What the safety tiles need besides the snap's details, found when the page loads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SafetyData {
    /// Its plugs: connected now if installed; otherwise whether each connects by itself.
    /// `None` when they could not be found out.
    pub plugs: Option<Vec<Access>>,
    /// The base and content providers an install brings, not installed yet.
    pub brings: Vec<Brought>,
    /// A snap not installed: its apps that will run as background services.
    pub services: Vec<String>,
}

/// What the page knows of one snap. Pure; the buttons follow from it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapState {
    pub details: SnapDetails,
    pub channels: Vec<ChannelInfo>,
    pub installed: Option<InstalledSnap>,
    /// The channel a person picked on the page; the tracked one (or latest/stable) otherwise.
    pub picked: Option<String>,
    /// This snap's entry in the helper's `ListUpdates`, if it has one. Only the helper knows
    /// which revisions a person reverted from (it never offers those again), so the page asks
    /// it rather than comparing the channel map with the installed revision.
    pub update: Option<UpdateInfo>,
    pub safety: SafetyData,
}

impl SnapState {
    pub fn name(&self) -> &str {
        &self.details.summary.name
    }

    pub fn is_installed(&self) -> bool {
        self.installed.is_some()
    }

    pub fn tracking(&self) -> String {
        let t = &self.details.extra.tracking_channel;
        if t.is_empty() {
            "latest/stable".into()
        } else {
            t.clone()
        }
    }

    pub fn channel(&self) -> String {
        self.picked.clone().unwrap_or_else(|| self.tracking())
    }

    /// Installed, and the picked channel is not the one tracked: the page offers to switch.
    pub fn can_switch(&self) -> bool {
        self.is_installed() && self.channel() != self.tracking()
    }

    /// The helper's rule (`ListUpdates`): a snap from the store, not held, whose tracked channel
    /// holds a revision other than the current one and other than one it was reverted from. The
    /// first three are checked here as well, so an answer from before a change (a hold, an
    /// update done elsewhere) never shows a stale Update.
    pub fn has_update(&self) -> bool {
        let (Some(i), Some(u)) = (&self.installed, &self.update) else {
            return false;
        };
        !i.held && !is_local(&i.revision) && u.name == i.name && u.revision != i.revision
    }

    /// What the context tiles are made from. Before install the size is the picked channel's
    /// download (a snap is mounted as downloaded, so it is its size on disk too).
    pub fn facts(&self) -> Facts {
        let size = match &self.installed {
            Some(i) => i.installed_size,
            None => self
                .channels
                .iter()
                .find(|c| c.channel == self.channel())
                .map(|c| c.size)
                .unwrap_or(self.details.summary.download_size),
        };
        Facts {
            installed: self.is_installed(),
            confinement: self.details.summary.confinement.clone(),
            size,
            brings: if self.is_installed() {
                Vec::new()
            } else {
                self.safety.brings.clone()
            },
            plugs: self.safety.plugs.clone(),
        }
    }

    /// Install must first ask: the snap would run without the sandbox.
    pub fn needs_consent(&self) -> bool {
        !self.is_installed() && super::safety::unconfined(&self.details.summary.confinement)
    }

    /// What the consent dialog says.
    pub fn consent_body(&self) -> String {
        fill(&gettext("{title} is not sandboxed: it can read and change all your files, use every device and reach the network, like a program installed by hand. Install it only if you trust {publisher}."), &[("title", &self.title()), ("publisher", &self.details.summary.publisher)])
    }

    /// Kept revisions other than the current one, newest first: what Revert can go back to.
    pub fn revert_targets(&self) -> Vec<String> {
        let Some(i) = &self.installed else {
            return Vec::new();
        };
        let mut v: Vec<String> = i
            .revisions
            .iter()
            .filter(|r| **r != i.revision)
            .cloned()
            .collect();
        v.sort_by_key(|r| std::cmp::Reverse(revision_order(r)));
        v
    }

    /// "version 1.0 (revision 1)" where the store says which version a revision is.
    pub fn describe_revision(&self, revision: &str) -> String {
        match self.channels.iter().find(|c| c.revision == revision) {
            Some(c) => fill(
                &gettext("version {version} (revision {revision})"),
                &[("version", &c.version), ("revision", &revision)],
            ),
            None => fill(&gettext("revision {revision}"), &[("revision", &revision)]),
        }
    }

    /// What the Revert dialog says will happen.
    pub fn revert_body(&self, target: &str) -> String {
        fill(&gettext("{title} goes back to {revision}. Its data goes back to how it was with that version; the current version stays kept, so you can come back to it. Updates wait until you update it yourself."), &[("title", &self.title()), ("revision", &self.describe_revision(target))])
    }

    pub fn title(&self) -> String {
        let t = &self.details.summary.title;
        if t.is_empty() {
            self.name().to_string()
        } else {
            t.clone()
        }
    }
}

/// A revision installed from a file (`x1`, `x2`…): the store has no updates for it.
fn is_local(revision: &str) -> bool {
    revision.starts_with('x')
}

/// Store revisions are numbers, local ones x1, x2…; order by number within each kind.
fn revision_order(r: &str) -> (bool, u64) {
    match r.strip_prefix('x') {
        Some(n) => (false, n.parse().unwrap_or(0)),
        None => (true, r.parse().unwrap_or(0)),
    }
}

impl SnapState {
    /// The Version row: what is installed and the channel it tracks, or the store's version.
    pub fn version_words(&self) -> String {
        match &self.installed {
            Some(i) => fill(
                &gettext("{version} (revision {revision}), tracking {channel}"),
                &[
                    ("version", &i.version),
                    ("revision", &i.revision),
                    ("channel", &self.tracking()),
                ],
            ),
            None => self.details.summary.version.clone(),
        }
    }

    /// A channel's row: version, revision and size, and whether it is the one tracked.
    pub fn channel_words(&self, c: &ChannelInfo) -> String {
        let words = fill(
            &gettext("{version} · revision {revision} · {size}"),
            &[
                ("version", &c.version),
                ("revision", &c.revision),
                ("size", &words::size(c.size)),
            ],
        );
        if self.is_installed() && c.channel == self.tracking() {
            fill(&gettext("{details} · tracked"), &[("details", &words)])
        } else {
            words
        }
    }

    /// The first app of an installed snap: what Open starts.
    pub fn first_app(&self) -> Option<&str> {
        self.installed.as_ref()?.apps.first().map(String::as_str)
    }

    /// The state after a reload: a channel picked before is kept if it is still there and not
    /// the one now tracked.
    pub fn reloaded(self, picked: Option<String>) -> SnapState {
        let picked = picked
            .filter(|p| self.channels.iter().any(|c| &c.channel == p) && *p != self.tracking());
        SnapState { picked, ..self }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn channel(c: &str, v: &str, r: &str) -> ChannelInfo {
        ChannelInfo {
            channel: c.into(),
            version: v.into(),
            revision: r.into(),
            size: 1000,
            released_at: String::new(),
        }
    }

    fn clock(installed: Option<(&str, &[&str], bool)>, tracking: &str) -> SnapState {
        let mut s = SnapState::default();
        s.details.summary.name = "shelf-clock".into();
        s.details.summary.title = "Shelf Clock".into();
        s.details.extra.tracking_channel = tracking.into();
        s.channels = vec![
            channel("latest/stable", "1.0", "1"),
            channel("latest/candidate", "1.1~rc1", "2"),
        ];
        // What the helper's ListUpdates says for a snap tracking candidate at revision 1.
        s.update = (tracking == "latest/candidate").then(|| UpdateInfo {
            name: "shelf-clock".into(),
            revision: "2".into(),
            channel: tracking.into(),
            ..Default::default()
        });
        s.installed = installed.map(|(rev, revs, held)| InstalledSnap {
            name: "shelf-clock".into(),
            revision: rev.into(),
            revisions: revs.iter().map(|r| r.to_string()).collect(),
            held,
            ..Default::default()
        });
        s
    }

    #[test]
    fn buttons_follow_the_state() {
        let s = clock(None, "");
        assert!(!s.is_installed() && !s.has_update() && !s.can_switch());
        assert_eq!(s.channel(), "latest/stable");
        assert!(s.revert_targets().is_empty());

        let mut s = clock(Some(("1", &["1"], false)), "latest/stable");
        assert!(!s.has_update());
        s.picked = Some("latest/candidate".into());
        assert!(s.can_switch());

        let s = clock(Some(("1", &["1"], false)), "latest/candidate");
        assert!(s.has_update(), "candidate holds revision 2");
        let s = clock(Some(("1", &["1"], true)), "latest/candidate");
        assert!(!s.has_update(), "held apps wait");
    }

    #[test]
    fn a_revision_reverted_from_is_not_an_update() {
        // Refreshed to candidate (2), reverted to 1: candidate still holds 2, which is kept and
        // newer, but the helper's ListUpdates leaves it out, and so does the page.
        let mut s = clock(Some(("1", &["1", "2"], false)), "latest/candidate");
        s.update = None;
        assert!(!s.has_update());
        // An answer from before the revert (the update is the installed revision): no Update.
        let mut s = clock(Some(("2", &["1", "2"], false)), "latest/candidate");
        assert!(!s.has_update());
        // A local revision has no store updates whatever an answer says.
        s.installed.as_mut().unwrap().revision = "x1".into();
        assert!(!s.has_update());
        // Not installed: Install, never Update.
        let s = clock(None, "latest/candidate");
        assert!(!s.has_update());
    }

    #[test]
    fn revert_offers_kept_revisions_newest_first_and_says_what_happens() {
        let s = clock(
            Some(("3", &["1", "x2", "2", "3", "10"], false)),
            "latest/stable",
        );
        assert_eq!(s.revert_targets(), ["10", "2", "1", "x2"]);
        assert_eq!(s.describe_revision("1"), "version 1.0 (revision 1)");
        assert_eq!(s.describe_revision("x2"), "revision x2");
        let body = s.revert_body("1");
        assert!(body.starts_with("Shelf Clock goes back to version 1.0 (revision 1)."));
        assert!(body.contains("stays kept"));
    }

    #[test]
    fn rows_say_what_each_channel_holds() {
        let s = clock(Some(("1", &["1"], false)), "latest/stable");
        assert_eq!(
            s.channel_words(&s.channels[0]),
            "1.0 · revision 1 · 1.0 kB · tracked"
        );
        assert_eq!(
            s.channel_words(&s.channels[1]),
            "1.1~rc1 · revision 2 · 1.0 kB"
        );
        assert!(s.version_words().contains("tracking latest/stable"));
        let s = clock(None, "");
        assert!(!s.channel_words(&s.channels[0]).contains("tracked"));
    }

    #[test]
    fn the_tiles_follow_the_picked_channel_and_classic_needs_consent() {
        let mut s = clock(None, "");
        s.details.summary.confinement = "strict".into();
        s.channels[1].size = 5000;
        s.safety.brings = vec![Brought {
            name: "shelf-base".into(),
            size: 2000,
        }];
        assert_eq!(s.facts().size, 1000);
        s.picked = Some("latest/candidate".into());
        assert_eq!(s.facts().size, 5000, "the candidate's download");
        assert_eq!(s.facts().brings.len(), 1);
        assert!(!s.needs_consent());
        s.details.summary.confinement = "classic".into();
        s.details.summary.publisher = "Netcraft".into();
        assert!(s.needs_consent());
        assert!(s.consent_body().contains("trust Netcraft"));
        // Installed: its size on disk, nothing more to bring, no question.
        let mut s = clock(Some(("1", &["1"], false)), "latest/stable");
        s.installed.as_mut().unwrap().installed_size = 777;
        s.safety.brings = vec![Brought {
            name: "shelf-base".into(),
            size: 2000,
        }];
        s.details.summary.confinement = "classic".into();
        assert_eq!((s.facts().size, s.facts().brings.len()), (777, 0));
        assert!(!s.needs_consent());
    }

    #[test]
    fn a_reload_keeps_a_pick_that_still_means_something() {
        let s = clock(Some(("1", &["1"], false)), "latest/stable");
        let kept = s.clone().reloaded(Some("latest/candidate".into()));
        assert_eq!(kept.picked.as_deref(), Some("latest/candidate"));
        let tracked = s.clone().reloaded(Some("latest/stable".into()));
        assert_eq!(tracked.picked, None, "the tracked channel needs no pick");
        let gone = s.reloaded(Some("latest/edge".into()));
        assert_eq!(gone.picked, None);
    }
}
