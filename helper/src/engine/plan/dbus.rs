//! Connect and Disconnect of a `dbus` plug and another snap's `dbus` slot (snapd's `snap connect
//! plug-snap:plug slot-snap[:slot]`), checked before the change starts; and the disconnection of
//! a removed snap's slots from the plugs of the snaps that stay.
//!
//! Policy, as snapd's base declaration for `dbus` says: never auto-connected
//! (`deny-auto-connection: true`); a person's connection is denied (`deny-connection` for any
//! `name`) unless a snap-declaration allows it (`engine/dbus_policy.rs`). snapd checks that only
//! when both snaps have a snap-declaration: a snap installed from a file has none, and then the
//! connection is allowed.

use super::snap_connection::{connected_to, not_yet_connected};
use super::*;
use crate::dbus_iface::{self, Bus};
use crate::engine::content::SlotRef;
use crate::engine::iface_hooks;
use crate::engine::task::connect_dbus::ConnectDbus;
use snapshelf_snap::yaml::PlugOrSlot;

/// The bus and name of one end, or the install-time error (which names the field).
fn ends_attrs(what: &str, p: &PlugOrSlot) -> Result<(Bus, String)> {
    dbus_iface::attrs(what, p).map_err(Error::invalid)
}

impl Engine {
    /// A `dbus` plug of `snap`; `slot_snap` and `slot` may be empty on Disconnect (the plug's
    /// connection, whatever it is) and `slot` on Connect (the provider's `dbus` slot with the
    /// plug's bus and name).
    pub(super) fn connect_dbus(
        &self,
        snap: &SnapState,
        (plug, slot_snap, slot): (&str, &str, &str),
        connect: bool,
        uid: u32,
    ) -> Result<u64> {
        let to = if connect {
            self.dbus_slot(snap, plug, slot_snap, slot)?
        } else {
            connected_to(snap, plug, snap.dbus.get(plug), (slot_snap, slot))?
        };
        let task = Task::ConnectDbus(ConnectDbus {
            name: snap.name.clone(),
            plug: plug.to_string(),
            slot_snap: to.snap.clone(),
            slot: to.slot.clone(),
            connect,
            before: None,
            attrs_before: None,
        });
        self.start_snap_connection((snap, plug), &to, (task, connect), uid)
    }

    /// The slot a Connect names, checked: installed, a `dbus` slot with the plug's bus and name,
    /// the policy, and not the connection there is already.
    fn dbus_slot(
        &self,
        snap: &SnapState,
        plug: &str,
        slot_snap: &str,
        slot: &str,
    ) -> Result<SlotRef> {
        let yaml = crate::engine::files::parse_yaml(snap, &snap.current)?;
        let p = yaml
            .plugs
            .get(plug)
            .ok_or_else(|| Error::internal("no plug"))?;
        let plug_ref = format!("{}:{plug}", snap.name);
        let (bus, name) = ends_attrs(&plug_ref, p)?;
        let provider = self.provider_named(slot_snap, || {
            gettext("name the snap whose dbus slot {snap}:{plug} connects to ({bus} bus, {name})")
                .replace("{snap}", &snap.name)
                .replace("{plug}", plug)
                .replace("{bus}", bus.as_str())
                .replace("{name}", &name)
        })?;
        let pyaml = crate::engine::files::parse_yaml(&provider, &provider.current)?;
        let (slot_name, s) = pick_slot(&pyaml, slot_snap, slot, (bus, &name))?;
        let slot_ref = format!("{slot_snap}:{slot_name}");
        let (sbus, sname) = ends_attrs(&slot_ref, s)?;
        if (sbus, &sname) != (bus, &name) {
            return Err(Error::invalid(
                // Translators: a dbus plug and slot must name the same bus and D-Bus name.
                gettext("{plug} (bus {plug_bus}, name {plug_name}) does not match {slot} (bus {slot_bus}, name {slot_name}): a dbus plug connects only to a slot with the same bus and name")
                    .replace("{plug}", &plug_ref)
                    .replace("{plug_bus}", bus.as_str())
                    .replace("{plug_name}", &name)
                    .replace("{slot}", &slot_ref)
                    .replace("{slot_bus}", sbus.as_str())
                    .replace("{slot_name}", &sname),
            ));
        }
        if !crate::engine::dbus_policy::may_connect(self.paths(), snap, &provider) {
            return Err(Error::invalid(
                gettext("snapd's base declaration denies connecting {plug} to {slot}, and neither snap's declaration allows it")
                    .replace("{plug}", &plug_ref)
                    .replace("{slot}", &slot_ref),
            ));
        }
        let to = SlotRef {
            snap: slot_snap.to_string(),
            slot: slot_name,
        };
        not_yet_connected(snap, plug, snap.dbus.get(plug), to)
    }

    /// For a removal: each `dbus` plug of a snap that stays, connected to a slot of a removed
    /// snap, is disconnected first (snapd's auto-disconnect), undone with the change.
    pub(super) fn dbus_slot_users(
        &self,
        removed: &[String],
        installed: &[SnapState],
        tasks: &mut Vec<Task>,
        snaps: &mut Vec<String>,
    ) -> Result<()> {
        for user in installed.iter().filter(|u| !removed.contains(&u.name)) {
            for (plug, to) in user
                .dbus
                .iter()
                .filter(|(_, to)| removed.contains(&to.snap))
            {
                let task = Task::ConnectDbus(ConnectDbus {
                    name: user.name.clone(),
                    plug: plug.clone(),
                    slot_snap: to.snap.clone(),
                    slot: to.slot.clone(),
                    connect: false,
                    before: None,
                    attrs_before: None,
                });
                // With the disconnect hooks of both ends, as snapd's auto-disconnect.
                let provider = installed.iter().find(|s| s.name == to.snap);
                let attrs = iface_hooks::IfaceAttrs::of(user, plug, provider, &to.slot)?;
                let ends = (user, provider);
                let paths = self.paths();
                tasks.extend(iface_hooks::disconnect_tasks(paths, ends, &attrs, task));
                if !snaps.contains(&user.name) {
                    snaps.push(user.name.clone());
                }
            }
        }
        Ok(())
    }
}

/// The provider's `dbus` slot for a Connect: the one named, or without a name the one whose bus
/// and name match the plug's (else its only `dbus` slot, so that the mismatch is what the error
/// says).
fn pick_slot<'a>(
    pyaml: &'a snapshelf_snap::yaml::SnapYaml,
    slot_snap: &str,
    slot: &str,
    (bus, name): (Bus, &str),
) -> Result<(String, &'a PlugOrSlot)> {
    let slots: Vec<(&String, &PlugOrSlot)> = pyaml
        .slots
        .iter()
        .filter(|(n, s)| s.interface == "dbus" && (slot.is_empty() || *n == slot))
        .collect();
    let chosen = slots
        .iter()
        .find(|(n, s)| {
            dbus_iface::attrs(&format!("{slot_snap}:{n}"), s)
                .is_ok_and(|(b, m)| b == bus && m == name)
        })
        .or(if slots.len() == 1 {
            slots.first()
        } else {
            None
        });
    match chosen {
        Some((n, s)) => Ok(((*n).clone(), *s)),
        None => Err(Error::new(
            ErrorKind::NotFound,
            if slot.is_empty() {
                gettext("\"{snap}\" has no dbus slot for the {bus} bus name {name}")
            } else {
                gettext("\"{snap}\" has no dbus slot \"{slot}\"")
            }
            .replace("{snap}", slot_snap)
            .replace("{slot}", slot)
            .replace("{bus}", bus.as_str())
            .replace("{name}", name),
        )),
    }
}
