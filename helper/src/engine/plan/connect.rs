//! Connect and Disconnect: a person's choice for one plug and the system's slot.

use crate::lang::gettext;
use serde_json::json;

use crate::engine::task::connect::Replaced;

use super::*;

impl Engine {
    /// Connect (`connect`) or disconnect a plug of `plug_snap` and the system's slot of its
    /// interface. The system's slots are named after their interface; an empty slot snap (or
    /// "system") names the system. Content plugs, and any other slot snap, go to
    /// `connect_content`.
    pub fn connect(
        &self,
        (plug_snap, plug, slot_snap, slot): (&str, &str, &str, &str),
        connect: bool,
        uid: u32,
    ) -> Result<u64> {
        check_names(&[plug_snap.to_string()])?;
        if plug.is_empty() {
            return Err(Error::invalid(gettext("no plug named")));
        }
        let snap = self
            .snap(plug_snap)?
            .ok_or_else(|| not_installed(plug_snap))?;
        let yaml = crate::engine::files::parse_yaml(&snap, &snap.current)?;
        // A dbus plug connects to another snap's dbus slot (plan/dbus.rs).
        if yaml.plugs.get(plug).is_some_and(|p| p.interface == "dbus") {
            return self.connect_dbus(&snap, (plug, slot_snap, slot), connect, uid);
        }
        // A content plug connects to another snap's slot (plan/content.rs).
        if yaml
            .plugs
            .get(plug)
            .is_some_and(|p| p.interface == "content")
            || (!slot_snap.is_empty() && slot_snap != "system")
        {
            return self.connect_content(&snap, (plug, slot_snap, slot), connect, uid);
        }
        let interface = yaml.all_plugs().get(plug).cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                gettext("\"{snap}\" has no plug \"{plug}\"")
                    .replace("{snap}", plug_snap)
                    .replace("{plug}", plug),
            )
        })?;
        if !crate::interfaces::is_supported(&interface) {
            return Err(Error::new(
                ErrorKind::NotFound,
                // Translators: {interface} is an interface's name, such as camera.
                gettext("the system has no slot for the {interface} interface")
                    .replace("{interface}", &interface),
            ));
        }
        if !slot.is_empty() && slot != interface {
            return Err(Error::new(
                ErrorKind::NotFound,
                gettext("the system has no slot \"{slot}\" for {snap}:{plug} (its slot is \"{interface}\")")
                    .replace("{slot}", slot)
                    .replace("{snap}", plug_snap)
                    .replace("{plug}", plug)
                    .replace("{interface}", &interface),
            ));
        }
        let (connected, _) = crate::interfaces::state_of(&snap, plug, &interface);
        if connected == connect {
            return Err(Error::new(
                ErrorKind::InterfacesUnchanged,
                if connect {
                    gettext("{snap}:{plug} is already connected to the system's {interface}")
                } else {
                    gettext("{snap}:{plug} is not connected to the system's {interface}")
                }
                .replace("{snap}", plug_snap)
                .replace("{plug}", plug)
                .replace("{interface}", &interface),
            ));
        }
        let (kind, template) = if connect {
            // Translators: {plug} is snap:plug, {permission} the permission's label.
            ("connect", gettext("Allow {plug}: {permission}"))
        } else {
            ("disconnect", gettext("Deny {plug}: {permission}"))
        };
        self.start(
            kind,
            &template
                .replace("{plug}", &format!("{plug_snap}:{plug}"))
                .replace("{permission}", &crate::interfaces::label(&interface)),
            vec![plug_snap.to_string()],
            uid,
            json!({"plug-snap": plug_snap, "plug": plug, "slot-snap": "", "slot": interface}),
            self.system_tasks(&snap, plug, &interface, connect)?,
        )
    }
}

impl Engine {
    /// The Connect (or Disconnect) task of a plug and the system's slot, with the plug's hooks
    /// around it (the system's slot has none).
    fn system_tasks(
        &self,
        snap: &SnapState,
        plug: &str,
        interface: &str,
        connect: bool,
    ) -> Result<Vec<Task>> {
        let task = Task::Connect(Connect {
            name: snap.name.clone(),
            plug: plug.to_string(),
            interface: interface.to_string(),
            connect,
            before: Replaced::NotYet,
            reset: false,
            attrs_before: None,
        });
        let attrs = crate::engine::iface_hooks::IfaceAttrs::of(snap, plug, None, interface)?;
        let ends = (snap, None);
        Ok(crate::engine::iface_hooks::around(
            self.paths(),
            ends,
            attrs,
            (task, connect),
        ))
    }

    /// Reset to Defaults: forget every choice a person made for the plugs of `name`, as one
    /// change (one task per plug, undone together if one fails). Nothing to forget is
    /// `InterfacesUnchanged`.
    pub fn reset_connections(&self, name: &str, uid: u32) -> Result<u64> {
        check_names(&[name.to_string()])?;
        let snap = self.snap(name)?.ok_or_else(|| not_installed(name))?;
        let yaml = crate::engine::files::parse_yaml(&snap, &snap.current)?;
        let tasks: Vec<Task> = yaml
            .all_plugs()
            .into_iter()
            .filter(|(plug, interface)| crate::interfaces::choice(&snap, plug, interface).is_some())
            .map(|(plug, interface)| {
                Task::Connect(Connect {
                    name: name.to_string(),
                    plug,
                    connect: crate::interfaces::auto_connects(&interface),
                    interface,
                    before: Replaced::NotYet,
                    reset: true,
                    attrs_before: None,
                })
            })
            .collect();
        if tasks.is_empty() {
            return Err(Error::new(
                ErrorKind::InterfacesUnchanged,
                gettext("the permissions of {snap} are already the defaults")
                    .replace("{snap}", name),
            ));
        }
        self.start(
            "reset-connections",
            // Translators: {snap} is a snap's name.
            &gettext("Reset the permissions of {snap} to the defaults").replace("{snap}", name),
            vec![name.to_string()],
            uid,
            json!({"name": name}),
            tasks,
        )
    }
}
