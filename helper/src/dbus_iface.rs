//! snapd's `dbus` interface: a slot names a well-known name on the session or system bus
//! (`bus:`, `name:`) that the slot's snap may own, permanently, without any connection; a plug
//! with the same bus and name, connected to that slot (a person's Connect: snapd's base
//! declaration never auto-connects it), may talk to it. The attributes are checked at install as
//! snapd's `SanitizeSlot`/`SanitizePlug` do.
//!
//! Session bus slots let the app own `<name>`, `<name>.*` and `<name>[-_]<N>` through its bus
//! filter (confine's `bus_policy` forms): snapd's AppArmor rules let it bind `<name>`,
//! `"<name>.*"` (Firefox's per-profile names), and `<name>-<N>`, `<name>_<N>[_<N>]` (KDE's and
//! Qt's per-PID names, N digits). A system bus slot gets a bus policy file
//! (`engine/bus_policy.rs`, snapd's `DBusPermanentSlot`), which lets root own exactly `<name>`,
//! and that name alone on the app's system bus filter. A connected plug may talk to `<name>` and
//! `<name>-<N>` on its bus (snapd's peer rules, the second for KDE's per-PID names).

use snapshelf_snap::yaml::{Node, PlugOrSlot, SnapYaml};

/// A `dbus` plug's or slot's bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bus {
    Session,
    System,
}

impl Bus {
    /// The word `bus:` says.
    pub fn as_str(self) -> &'static str {
        match self {
            Bus::Session => "session",
            Bus::System => "system",
        }
    }
}

fn attr<'a>(p: &'a PlugOrSlot, key: &str) -> Option<&'a Node> {
    p.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// A D-Bus well-known name as snapd accepts it: dot-separated elements of letters, digits, `_`
/// and `-`, at least two, none starting with a digit, at most 255 characters; not the bus
/// itself, and not ending in `-<number>` (that form is another instance's, see above).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the D-Bus name is empty".into());
    }
    if name.len() > 255 {
        return Err(format!(
            "the D-Bus name {name:?} is longer than 255 characters"
        ));
    }
    let element_ok = |e: &str| {
        !e.is_empty()
            && !e.starts_with(|c: char| c.is_ascii_digit())
            && e.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    let elements: Vec<&str> = name.split('.').collect();
    if elements.len() < 2 || !elements.iter().all(|e| element_ok(e)) {
        return Err(format!(
            "{name:?} is not a D-Bus well-known name (elements of letters, digits, '_' and '-', \
             separated by dots, at least two, none starting with a digit)"
        ));
    }
    if name == "org.freedesktop.DBus" {
        return Err("org.freedesktop.DBus is the bus's own name".into());
    }
    if let Some((_, tail)) = name.rsplit_once('-') {
        if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("the D-Bus name {name:?} must not end with -NUMBER"));
        }
    }
    Ok(())
}

/// The bus and name of a `dbus` plug or slot (`field`: `slots.<name>` or `plugs.<name>`, for the
/// error).
pub fn attrs(field: &str, p: &PlugOrSlot) -> Result<(Bus, String), String> {
    let text = |key: &str| match attr(p, key) {
        Some(Node::Scalar { text, .. }) => Ok(text.clone()),
        Some(_) => Err(format!("{field}.{key}: must be text")),
        None => Err(format!("{field}: the dbus interface needs \"{key}\"")),
    };
    let bus = match text("bus")?.as_str() {
        "session" => Bus::Session,
        "system" => Bus::System,
        other => {
            return Err(format!(
                "{field}.bus: {other:?} must be \"session\" or \"system\""
            ))
        }
    };
    let name = text("name")?;
    check_name(&name).map_err(|e| format!("{field}.name: {e}"))?;
    Ok((bus, name))
}

/// Every `dbus` plug and slot of the snap has valid attributes, and every `activates-on` names a
/// slot it may.
pub fn check(yaml: &SnapYaml) -> Result<(), String> {
    for (kind, map) in [("plugs", &yaml.plugs), ("slots", &yaml.slots)] {
        for (name, p) in map.iter().filter(|(_, p)| p.interface == "dbus") {
            attrs(&format!("{kind}.{name}"), p)?;
        }
    }
    activations(yaml).map(|_| ())
}

/// A daemon started by D-Bus activation (`activates-on: [slot]`): a call to the slot's name on
/// its bus starts the daemon's unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    pub app: String,
    pub slot: String,
    pub bus: Bus,
    pub name: String,
}

/// Every `activates-on` of the snap's apps, with snapd's refusals (`validateAppActivatesOn`, in its
/// words): the slot must exist, be a `dbus` slot on the bus of the daemon's scope (system daemons
/// on the system bus, user daemons on the session bus), and be activatable on one app only.
/// (The parser already refuses `activates-on` on an app that is not a daemon.)
pub fn activations(yaml: &SnapYaml) -> Result<Vec<Activation>, String> {
    let mut out: Vec<Activation> = Vec::new();
    for (app, a) in yaml.apps.iter().filter(|(_, a)| a.daemon.is_some()) {
        let field = format!("apps.{app}.activates-on");
        let scope = a.daemon_scope.as_deref().unwrap_or("system");
        for slot in &a.activates_on {
            let value = format!("{field}: invalid activates-on value {slot:?}");
            let Some(p) = yaml.slots.get(slot) else {
                return Err(format!("{value} on app {app:?}: slot not found"));
            };
            if p.interface != "dbus" {
                return Err(format!("{value}: slot does not use dbus interface"));
            }
            let (bus, name) = attrs(&format!("slots.{slot}"), p)?;
            let want = if scope == "user" {
                Bus::Session
            } else {
                Bus::System
            };
            if bus != want {
                return Err(format!(
                    "{value}: bus {:?} does not match daemon-scope {scope:?}",
                    bus.as_str()
                ));
            }
            if let Some(other) = out.iter().find(|o| &o.slot == slot) {
                return Err(format!(
                    "{value}: slot is also activatable on app {:?}",
                    other.app
                ));
            }
            out.push(Activation {
                app: app.clone(),
                slot: slot.clone(),
                bus,
                name,
            });
        }
    }
    Ok(out)
}

/// The `dbus` slots bound to `app` on `want`'s bus, with their names.
fn slot_names(yaml: &SnapYaml, app: &str, want: Bus) -> Vec<String> {
    yaml.slots_for_app(app)
        .into_iter()
        .filter(|(_, interface)| interface == "dbus")
        .filter_map(|(slot, _)| {
            let (bus, name) = attrs(&format!("slots.{slot}"), yaml.slots.get(&slot)?).ok()?;
            (bus == want).then_some(name)
        })
        .collect()
}

/// The session bus names `app`'s `dbus` slots let it own: each name, the names below it, and
/// its numbered forms.
pub fn session_own(yaml: &SnapYaml, app: &str) -> Vec<String> {
    slot_names(yaml, app, Bus::Session)
        .into_iter()
        .flat_map(|n| [format!("{n}.*"), format!("{n}[-_]<N>"), n])
        .collect()
}

/// The system bus names `app`'s `dbus` slots let it own: exactly what the policy file allows.
pub fn system_own(yaml: &SnapYaml, app: &str) -> Vec<String> {
    slot_names(yaml, app, Bus::System)
}

/// The snap's `bus: system` slots, `(slot, name)`, for its bus policy files.
pub fn system_slots(yaml: &SnapYaml) -> Vec<(String, String)> {
    yaml.slots
        .iter()
        .filter(|(_, p)| p.interface == "dbus")
        .filter_map(|(slot, p)| match attrs(&format!("slots.{slot}"), p) {
            Ok((Bus::System, name)) => Some((slot.clone(), name)),
            _ => None,
        })
        .collect()
}

/// The `dbus` slots of `yaml` a plug with `bus` and `name` may connect to (same bus and name).
pub fn matching_slots(yaml: &SnapYaml, (bus, name): (Bus, &str)) -> Vec<String> {
    yaml.slots
        .iter()
        .filter(|(_, p)| p.interface == "dbus")
        .filter(|(slot, p)| {
            attrs(&format!("slots.{slot}"), p).is_ok_and(|(b, n)| b == bus && n == name)
        })
        .map(|(slot, _)| slot.clone())
        .collect()
}

/// The names `connected` `dbus` plugs (of the app) let it talk to: `(session, system)`.
pub fn talk(yaml: &SnapYaml, connected: &[&str]) -> (Vec<String>, Vec<String>) {
    let (mut session, mut system) = (Vec::new(), Vec::new());
    for plug in connected {
        let Some(p) = yaml.plugs.get(*plug).filter(|p| p.interface == "dbus") else {
            continue;
        };
        let (list, name) = match attrs(&format!("plugs.{plug}"), p) {
            Ok((Bus::Session, name)) => (&mut session, name),
            Ok((Bus::System, name)) => (&mut system, name),
            Err(_) => continue,
        };
        list.push(format!("{name}-<N>"));
        list.push(name);
    }
    (session, system)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(slot_attrs: &str) -> Result<SnapYaml, String> {
        let y = SnapYaml::parse(&format!(
            "name: calc\nversion: '1'\nslots:\n  svc:\n    interface: dbus\n{slot_attrs}\
             apps:\n  calc:\n    command: bin/c\n    slots: [svc]\n  other:\n    command: bin/o\n"
        ))
        .unwrap();
        check(&y).map(|_| y)
    }

    #[test]
    fn a_plug_matches_the_slots_with_its_bus_and_name_only() {
        let y = yaml("    bus: session\n    name: org.gnome.Calculator\n").unwrap();
        let name = "org.gnome.Calculator";
        assert_eq!(matching_slots(&y, (Bus::Session, name)), ["svc"]);
        assert!(matching_slots(&y, (Bus::System, name)).is_empty());
        assert!(matching_slots(&y, (Bus::Session, "org.gnome.Calculator.Other")).is_empty());
    }

    #[test]
    fn a_session_slot_owns_its_name_for_its_app_only() {
        let y = yaml("    bus: session\n    name: org.gnome.Calculator\n").unwrap();
        // The name and the names below it (snapd's `"<name>.*"` bind rule).
        assert_eq!(
            session_own(&y, "calc"),
            [
                "org.gnome.Calculator.*",
                "org.gnome.Calculator[-_]<N>",
                "org.gnome.Calculator"
            ]
        );
        assert!(session_own(&y, "other").is_empty());
        assert!(system_own(&y, "calc").is_empty());
        assert!(system_slots(&y).is_empty());
        // A system bus slot owns nothing on the session bus, and exactly its name on the system
        // bus (what the policy file allows).
        let y = yaml("    bus: system\n    name: org.example.Service\n").unwrap();
        assert!(session_own(&y, "calc").is_empty());
        assert_eq!(system_own(&y, "calc"), ["org.example.Service"]);
        assert!(system_own(&y, "other").is_empty());
        assert_eq!(
            system_slots(&y),
            [("svc".to_string(), "org.example.Service".to_string())]
        );
    }

    #[test]
    fn bad_attributes_are_refused_naming_the_field() {
        let err = |a: &str| yaml(a).unwrap_err();
        assert!(err("    name: org.a.B\n").contains("slots.svc: the dbus interface needs \"bus\""));
        assert!(err("    bus: user\n    name: org.a.B\n").contains("slots.svc.bus"));
        assert!(err("    bus: session\n").contains("needs \"name\""));
        for bad in [
            "org",
            "org..a",
            "org.1a",
            ":1.2",
            "org.a*",
            "org.freedesktop.DBus",
            "org.kde.foo-123",
        ] {
            let e = err(&format!("    bus: session\n    name: '{bad}'\n"));
            assert!(e.starts_with("slots.svc.name: "), "{bad}: {e}");
        }
        let long = format!("org.{}", "a".repeat(260));
        assert!(err(&format!("    bus: session\n    name: {long}\n")).contains("255"));
        // What snapd accepts.
        for good in ["org.gnome.Calculator", "a.b", "org.kde.foo-bar", "_x.y-1z"] {
            check_name(good).unwrap();
        }
    }

    #[test]
    fn connected_plugs_talk_to_their_name_on_their_bus() {
        let y = SnapYaml::parse(
            "name: cc\nversion: '1'\nplugs:\n  s:\n    interface: dbus\n    bus: session\n    \
             name: org.a.S\n  y:\n    interface: dbus\n    bus: system\n    name: org.a.Y\n  \
             n:\n    interface: network\napps:\n  a:\n    command: bin/a\n",
        )
        .unwrap();
        check(&y).unwrap();
        let both = |n: &str| vec![format!("{n}-<N>"), n.to_string()];
        assert_eq!(
            talk(&y, &["s", "y", "n"]),
            (both("org.a.S"), both("org.a.Y"))
        );
        assert_eq!(talk(&y, &[]), (vec![], vec![]));
    }

    /// A snap with a session and a system slot, a network slot, and `apps` as given.
    fn activating(apps: &str) -> Result<Vec<Activation>, String> {
        let y = SnapYaml::parse(&format!(
            "name: act\nversion: '1'\nslots:\n  ses:\n    interface: dbus\n    bus: session\n    \
             name: org.a.Ses\n  sys:\n    interface: dbus\n    bus: system\n    name: org.a.Sys\n  \
             net:\n    interface: network-manager\napps:\n{apps}"
        ))
        .unwrap();
        check(&y).and_then(|_| activations(&y))
    }

    #[test]
    fn activates_on_names_a_dbus_slot_on_the_daemons_bus() {
        let got = activating(
            "  sys:\n    command: bin/s\n    daemon: simple\n    activates-on: [sys]\n  \
             usr:\n    command: bin/u\n    daemon: dbus\n    daemon-scope: user\n    \
             activates-on: [ses]\n",
        )
        .unwrap();
        let names: Vec<(&str, Bus, &str)> = got
            .iter()
            .map(|a| (a.app.as_str(), a.bus, a.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("sys", Bus::System, "org.a.Sys"),
                ("usr", Bus::Session, "org.a.Ses")
            ]
        );
    }

    #[test]
    fn bad_activates_on_is_refused_in_snapds_words() {
        let daemon = |extra: &str, on: &str| {
            activating(&format!(
                "  d:\n    command: bin/d\n    daemon: simple\n{extra}    activates-on: [{on}]\n"
            ))
            .unwrap_err()
        };
        assert_eq!(
            daemon("", "nope"),
            "apps.d.activates-on: invalid activates-on value \"nope\" on app \"d\": slot not found"
        );
        assert_eq!(
            daemon("", "net"),
            "apps.d.activates-on: invalid activates-on value \"net\": slot does not use dbus interface"
        );
        assert_eq!(
            daemon("", "ses"),
            "apps.d.activates-on: invalid activates-on value \"ses\": bus \"session\" does not match daemon-scope \"system\""
        );
        assert_eq!(
            daemon("    daemon-scope: user\n", "sys"),
            "apps.d.activates-on: invalid activates-on value \"sys\": bus \"system\" does not match daemon-scope \"user\""
        );
        let twice = activating(
            "  a:\n    command: bin/a\n    daemon: simple\n    activates-on: [sys]\n  \
             b:\n    command: bin/b\n    daemon: simple\n    activates-on: [sys]\n",
        )
        .unwrap_err();
        assert_eq!(
            twice,
            "apps.b.activates-on: invalid activates-on value \"sys\": slot is also activatable on app \"a\""
        );
    }
}
