//! `dbus` connections as the profiles see them. A connection stays recorded while its ends
//! change (as snapd keeps one whose ends come back), but it grants its name only while the slot
//! is there with the plug's bus and name: a refresh of the slot's snap that drops the slot or
//! renames it takes the name away from the plug's next launch, and one that brings it back
//! gives it again. The snaps whose plugs use a slot are relinked when the slot's snap is.

use super::Engine;
use crate::error::Result;
use crate::state::SnapState;

/// Whether `plug` of `snap` and `slot` of `provider` name the same bus and name now.
fn holds(snap: &SnapState, plug: &str, provider: &SnapState, slot: &str) -> bool {
    let end = |s: &SnapState, plugs: bool, name: &str| {
        let yaml = super::files::parse_yaml(s, &s.current).ok()?;
        let map = if plugs { &yaml.plugs } else { &yaml.slots };
        let p = map.get(name).filter(|p| p.interface == "dbus")?;
        crate::dbus_iface::attrs(name, p).ok()
    };
    let (p, s) = (end(snap, true, plug), end(provider, false, slot));
    p.is_some() && p == s
}

impl Engine {
    /// `snap` with only the `dbus` connections that hold, for its profiles; `provider` is a
    /// slot's snap as it is about to be (a Link writes the files before the state).
    pub(crate) fn dbus_effective(
        &self,
        snap: &SnapState,
        provider: Option<&SnapState>,
    ) -> SnapState {
        let mut out = snap.clone();
        out.dbus.retain(|plug, to| {
            let found = match provider.filter(|p| p.name == to.snap) {
                Some(p) => Some(p.clone()),
                None => self.snap(&to.snap).ok().flatten(),
            };
            let ok = found.is_some_and(|p| holds(snap, plug, &p, &to.slot));
            if !ok {
                tracing::warn!(snap = %snap.name, plug, slot_snap = %to.snap, slot = %to.slot, "dbus connection left out: the slot is gone or names another bus or name");
            }
            ok
        });
        out
    }

    /// The installed snaps (other than `provider`) with a `dbus` plug connected to its slots.
    pub(crate) fn dbus_users(&self, provider: &str) -> Result<Vec<SnapState>> {
        Ok(self
            .installed()?
            .into_iter()
            .filter(|s| s.name != provider && s.dbus.values().any(|to| to.snap == provider))
            .collect())
    }
}
