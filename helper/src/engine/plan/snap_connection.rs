//! What a Connect or Disconnect between one snap's plug and another snap's slot shares, whatever
//! the interface (content, dbus; snapd's `snap connect plug-snap:plug slot-snap[:slot]`): the
//! providing snap named and installed, the connection there is now against the one asked for,
//! and the change itself, the connect task between both ends' interface hooks.

use crate::lang::gettext;
use serde_json::json;

use super::*;
use crate::engine::content::SlotRef;
use crate::engine::iface_hooks;

pub(super) fn unchanged(m: String) -> Error {
    Error::new(ErrorKind::InterfacesUnchanged, m)
}

/// The slot `plug` of `snap` is connected to (`now`), for a Disconnect that may name it
/// (`slot_snap`, `slot`; empty: whatever it is).
pub(super) fn connected_to(
    snap: &SnapState,
    plug: &str,
    now: Option<&SlotRef>,
    (slot_snap, slot): (&str, &str),
) -> Result<SlotRef> {
    let now = now.cloned().ok_or_else(|| {
        unchanged(
            gettext("{snap}:{plug} is not connected")
                .replace("{snap}", &snap.name)
                .replace("{plug}", plug),
        )
    })?;
    if (!slot_snap.is_empty() && slot_snap != now.snap) || (!slot.is_empty() && slot != now.slot) {
        return Err(unchanged(
            gettext("{snap}:{plug} is not connected to {slot_snap}:{slot} (it is connected to {now_snap}:{now_slot})")
                .replace("{snap}", &snap.name)
                .replace("{plug}", plug)
                .replace("{slot_snap}", slot_snap)
                .replace("{slot}", slot)
                .replace("{now_snap}", &now.snap)
                .replace("{now_slot}", &now.slot),
        ));
    }
    Ok(now)
}

/// For a Connect of `plug` to `to`: `to`, unless the plug is connected already (`now`), to it
/// or to another slot (one plug, one connection: it is disconnected first).
pub(super) fn not_yet_connected(
    snap: &SnapState,
    plug: &str,
    now: Option<&SlotRef>,
    to: SlotRef,
) -> Result<SlotRef> {
    match now {
        Some(now) if *now == to => Err(unchanged(
            gettext("{snap}:{plug} is already connected to {slot_snap}:{slot}")
                .replace("{snap}", &snap.name)
                .replace("{plug}", plug)
                .replace("{slot_snap}", &to.snap)
                .replace("{slot}", &to.slot),
        )),
        Some(now) => Err(Error::invalid(
            gettext("{snap}:{plug} is connected to {slot_snap}:{slot}: disconnect it first")
                .replace("{snap}", &snap.name)
                .replace("{plug}", plug)
                .replace("{slot_snap}", &now.snap)
                .replace("{slot}", &now.slot),
        )),
        None => Ok(to),
    }
}

impl Engine {
    /// The installed snap a Connect names as the provider; `unnamed` is the error when it names
    /// none (or the system, which has no slots of these interfaces).
    pub(super) fn provider_named(
        &self,
        slot_snap: &str,
        unnamed: impl FnOnce() -> String,
    ) -> Result<SnapState> {
        if slot_snap.is_empty() || slot_snap == "system" {
            return Err(Error::invalid(unnamed()));
        }
        check_names(&[slot_snap.to_string()])?;
        self.snap(slot_snap)?
            .ok_or_else(|| not_installed(slot_snap))
    }

    /// Start the change that connects (`connect`) or disconnects `plug` of `snap` and `to`:
    /// `task` with the interface hooks of both ends around it, in snapd's order.
    pub(super) fn start_snap_connection(
        &self,
        (snap, plug): (&SnapState, &str),
        to: &SlotRef,
        (task, connect): (Task, bool),
        uid: u32,
    ) -> Result<u64> {
        let kind = if connect { "connect" } else { "disconnect" };
        let summary = crate::engine::task::connect_content::summary(
            connect,
            (&snap.name, plug),
            (&to.snap, &to.slot),
        );
        let mut snaps = vec![snap.name.clone()];
        if to.snap != snap.name {
            snaps.push(to.snap.clone());
        }
        let provider = self.snap(&to.snap)?;
        let attrs = iface_hooks::IfaceAttrs::of(snap, plug, provider.as_ref(), &to.slot)?;
        let ends = (snap, provider.as_ref());
        let tasks = iface_hooks::around(self.paths(), ends, attrs, (task, connect));
        self.start(
            kind,
            &summary,
            snaps,
            uid,
            json!({"plug-snap": snap.name, "plug": plug, "slot-snap": to.snap, "slot": to.slot}),
            tasks,
        )
    }
}
