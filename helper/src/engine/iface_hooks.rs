//! Interface hooks (snapd's `overlord/ifacestate`): the `prepare-`, `connect-` and
//! `disconnect-plug-<plug>`/`-slot-<slot>` hooks around the task that connects or disconnects,
//! in snapd's order, each with the hook that takes it back on undo, and the attributes they see
//! through `snapctl get/set :<plug|slot>`: the static ones of snap.yaml and the dynamic ones that
//! prepare hooks set, stored with the connection (`SnapState::iface_attrs`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use snapshelf_snap::yaml::{Node, PlugOrSlot, SnapYaml};

use super::task::{run_hook::RunHook, Ctx, Task};
use crate::error::Result;
use crate::paths::Paths;
use crate::state::SnapState;

/// What interface hooks of one connection read and write. A task's copy is the state of the
/// attributes when it ran; later tasks of the change start from the last one done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IfaceAttrs {
    pub plug_snap: String,
    pub plug: String,
    /// Empty for the system's slots, which have no hooks.
    pub slot_snap: String,
    pub slot: String,
    pub plug_static: Map<String, Value>,
    pub slot_static: Map<String, Value>,
    pub plug_dynamic: Map<String, Value>,
    pub slot_dynamic: Map<String, Value>,
}

/// The dynamic attributes stored with a connection of a plug.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnAttrs {
    #[serde(default)]
    pub plug: Map<String, Value>,
    #[serde(default)]
    pub slot: Map<String, Value>,
}

/// A YAML value as JSON, as snapd's attributes hold it: unquoted scalars typed as YAML types them.
pub fn node_json(node: &Node) -> Value {
    match node {
        Node::Null => Value::Null,
        Node::Scalar { text, quoted: true } => Value::String(text.clone()),
        Node::Scalar {
            text,
            quoted: false,
        } => match text.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" | "~" => Value::Null,
            t => t
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| t.parse::<f64>().map(Value::from))
                .unwrap_or_else(|_| Value::String(text.clone())),
        },
        Node::Seq(items) => Value::Array(items.iter().map(node_json).collect()),
        Node::Map(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), node_json(v)))
                .collect(),
        ),
    }
}

/// The static attributes of a plug or slot (all but `interface` and `label`).
fn static_attrs(p: Option<&PlugOrSlot>) -> Map<String, Value> {
    p.map(|p| {
        p.attrs
            .iter()
            .map(|(k, v)| (k.clone(), node_json(v)))
            .collect()
    })
    .unwrap_or_default()
}

fn yaml_of(snap: &SnapState) -> Result<SnapYaml> {
    super::files::parse_yaml(snap, &snap.current)
}

impl IfaceAttrs {
    /// The attributes of `plug_snap:plug` and `slot_snap:slot` (no slot snap: the system's),
    /// with the dynamic ones stored with their connection, if any.
    pub fn of(
        plug_snap: &SnapState,
        plug: &str,
        slot_snap: Option<&SnapState>,
        slot: &str,
    ) -> Result<IfaceAttrs> {
        let pyaml = yaml_of(plug_snap)?;
        let slot_static = match slot_snap {
            Some(s) => static_attrs(yaml_of(s)?.slots.get(slot)),
            None => Map::new(),
        };
        let stored = plug_snap.iface_attrs.get(plug).cloned().unwrap_or_default();
        Ok(IfaceAttrs {
            plug_snap: plug_snap.name.clone(),
            plug: plug.to_string(),
            slot_snap: slot_snap.map(|s| s.name.clone()).unwrap_or_default(),
            slot: slot.to_string(),
            plug_static: static_attrs(pyaml.plugs.get(plug)),
            slot_static,
            plug_dynamic: stored.plug,
            slot_dynamic: stored.slot,
        })
    }

    /// Fresh dynamic attributes, as a new connection starts.
    pub fn fresh(self) -> IfaceAttrs {
        IfaceAttrs {
            plug_dynamic: Map::new(),
            slot_dynamic: Map::new(),
            ..self
        }
    }
}

/// The plugs of the snap's current revision connected to the system's slots (before a refresh).
pub fn connected_plugs(snap: &SnapState) -> Vec<String> {
    let Some(yaml) = snap
        .current_revision()
        .and_then(|r| SnapYaml::parse(&r.snap_yaml).ok())
    else {
        return Vec::new();
    };
    yaml.all_plugs()
        .into_iter()
        .filter(|(p, i)| i != "content" && i != "dbus" && crate::interfaces::state_of(snap, p, i).0)
        .map(|(p, _)| p)
        .collect()
}

/// One hook task of a connection, with the hook that takes it back on undo.
fn hook_task(
    paths: &Paths,
    snap: &SnapState,
    (hook, undo): (String, String),
    attrs: &IfaceAttrs,
    ignore_error: bool,
) -> Option<Task> {
    let names = super::hooks::names(paths, snap).ok()?;
    names.contains(&hook).then(|| {
        Task::RunHook(RunHook {
            ignore_error,
            iface: Some(attrs.clone()),
            undo_hook: Some(undo),
            ..RunHook::new(&snap.name, &hook)
        })
    })
}

/// The tasks of a Connect (`connect`) or Disconnect: `task` with the hooks around it, the
/// attributes `attrs` (a new connection starts without dynamic ones).
pub fn around(
    paths: &Paths,
    ends: (&SnapState, Option<&SnapState>),
    attrs: IfaceAttrs,
    (task, connect): (Task, bool),
) -> Vec<Task> {
    if connect {
        connect_tasks(paths, ends, &attrs.fresh(), task)
    } else {
        disconnect_tasks(paths, ends, &attrs, task)
    }
}

/// snapd's connect: prepare-plug, prepare-slot, the connection, connect-slot, connect-plug.
/// Prepare and connect hooks that fail undo the connection; their undo hooks (`unprepare-*`,
/// `disconnect-*`) run as the change is undone, their own failures ignored.
pub fn connect_tasks(
    paths: &Paths,
    (plug_snap, slot_snap): (&SnapState, Option<&SnapState>),
    attrs: &IfaceAttrs,
    connect: Task,
) -> Vec<Task> {
    let (plug, slot) = (&attrs.plug, &attrs.slot);
    let pair = |a: &str, b: &str, n: &str| (format!("{a}-{n}"), format!("{b}-{n}"));
    let mut out = Vec::new();
    out.extend(hook_task(
        paths,
        plug_snap,
        pair("prepare-plug", "unprepare-plug", plug),
        attrs,
        false,
    ));
    if let Some(s) = slot_snap {
        let hooks = pair("prepare-slot", "unprepare-slot", slot);
        out.extend(hook_task(paths, s, hooks, attrs, false));
    }
    out.push(connect);
    if let Some(s) = slot_snap {
        let hooks = pair("connect-slot", "disconnect-slot", slot);
        out.extend(hook_task(paths, s, hooks, attrs, false));
    }
    out.extend(hook_task(
        paths,
        plug_snap,
        pair("connect-plug", "disconnect-plug", plug),
        attrs,
        false,
    ));
    out
}

/// snapd's disconnect: disconnect-slot, disconnect-plug, then the disconnection. As in snapd,
/// a disconnect hook that fails is logged and the disconnection goes on.
pub fn disconnect_tasks(
    paths: &Paths,
    ends: (&SnapState, Option<&SnapState>),
    attrs: &IfaceAttrs,
    disconnect: Task,
) -> Vec<Task> {
    let mut out = disconnect_hooks(paths, ends, attrs);
    out.push(disconnect);
    out
}

/// The disconnect hooks alone: disconnect-slot, then disconnect-plug.
fn disconnect_hooks(
    paths: &Paths,
    (plug_snap, slot_snap): (&SnapState, Option<&SnapState>),
    attrs: &IfaceAttrs,
) -> Vec<Task> {
    let (plug, slot) = (&attrs.plug, &attrs.slot);
    let mut out = Vec::new();
    if let Some(s) = slot_snap {
        let hooks = (
            format!("disconnect-slot-{slot}"),
            format!("connect-slot-{slot}"),
        );
        out.extend(hook_task(paths, s, hooks, attrs, true));
    }
    let hooks = (
        format!("disconnect-plug-{plug}"),
        format!("connect-plug-{plug}"),
    );
    out.extend(hook_task(paths, plug_snap, hooks, attrs, true));
    out
}

/// snapd's auto-disconnect as a snap is removed: the disconnect hooks of every connected plug
/// of `snap` (and of the slot it is connected to), failures ignored. The connections go with
/// the snap's state.
pub fn removal_hooks(paths: &Paths, snap: &SnapState, installed: &[SnapState]) -> Vec<Task> {
    let Ok(yaml) = yaml_of(snap) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (plug, interface) in yaml.all_plugs() {
        let (provider, slot) = if interface == "content" || interface == "dbus" {
            let links = if interface == "content" {
                &snap.content
            } else {
                &snap.dbus
            };
            let Some(to) = links.get(&plug) else {
                continue;
            };
            let provider = installed.iter().find(|s| s.name == to.snap);
            (provider, to.slot.clone())
        } else if crate::interfaces::state_of(snap, &plug, &interface).0 {
            (None, interface.clone())
        } else {
            continue;
        };
        if let Ok(attrs) = IfaceAttrs::of(snap, &plug, provider, &slot) {
            out.extend(disconnect_hooks(paths, (snap, provider), &attrs));
        }
    }
    out
}

/// The attributes as the last interface hook of this change for `plug_snap:plug` left them.
pub(crate) fn gathered(cx: &Ctx, plug_snap: &str, plug: &str) -> Result<Option<IfaceAttrs>> {
    let rows = cx.state().tasks(cx.change)?;
    Ok(rows
        .into_iter()
        .filter(|r| r.seq < cx.seq && r.status == crate::state::TaskStatus::Done)
        .filter_map(|r| match r.task {
            Task::RunHook(h) => h.iface,
            _ => None,
        })
        .rfind(|a| a.plug_snap == plug_snap && a.plug == plug))
}

/// Store (or, disconnecting, forget) the dynamic attributes of `snap`'s plug with its
/// connection; the answer is what was stored before, for undo.
pub(crate) fn store(
    cx: &Ctx,
    snap: &mut SnapState,
    plug: &str,
    connect: bool,
) -> Result<Option<ConnAttrs>> {
    let before = snap.iface_attrs.get(plug).cloned();
    let now = if connect {
        gathered(cx, &snap.name, plug)?.map(|a| ConnAttrs {
            plug: a.plug_dynamic,
            slot: a.slot_dynamic,
        })
    } else {
        None
    };
    put(snap, plug, now);
    Ok(before)
}

pub(crate) fn put(snap: &mut SnapState, plug: &str, attrs: Option<ConnAttrs>) {
    match attrs {
        Some(a) if !(a.plug.is_empty() && a.slot.is_empty()) => {
            snap.iface_attrs.insert(plug.to_string(), a);
        }
        _ => {
            snap.iface_attrs.remove(plug);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snap of revision 1 with `yaml` and executable hooks `hooks` under its mount point.
    fn snap(paths: &Paths, name: &str, yaml: &str, hooks: &[&str]) -> SnapState {
        let mut s = crate::engine::plan::tests_state(name, "1");
        s.sequence[0].snap_yaml = format!("name: {name}\nversion: '1'\n{yaml}");
        let dir = paths.mount_point(name, "1").join("meta/hooks");
        std::fs::create_dir_all(&dir).unwrap();
        for h in hooks {
            std::fs::write(dir.join(h), "#!/bin/sh\n").unwrap();
        }
        s
    }

    fn hooks(tasks: &[Task]) -> Vec<String> {
        tasks
            .iter()
            .map(|t| match t {
                Task::RunHook(h) => format!(
                    "{}:{}/{}{}",
                    h.name,
                    h.hook,
                    h.undo_hook.as_deref().unwrap_or(""),
                    if h.ignore_error { " (ignored)" } else { "" }
                ),
                other => other.kind().to_string(),
            })
            .collect()
    }

    #[test]
    fn connections_get_snapds_hook_order_with_undo_hooks_and_attributes() {
        let t = tempfile::tempdir().unwrap();
        let paths = Paths::new(t.path());
        let plug = snap(
            &paths,
            "pp",
            "plugs:\n  c:\n    interface: content\n    target: $SNAP/x\n    n: 1\n",
            &["prepare-plug-c", "connect-plug-c", "disconnect-plug-c"],
        );
        let slot = snap(
            &paths,
            "ss",
            "slots:\n  d:\n    interface: content\n    read: [$SNAP/x]\n",
            &["prepare-slot-d", "connect-slot-d", "disconnect-slot-d"],
        );
        let attrs = IfaceAttrs::of(&plug, "c", Some(&slot), "d").unwrap();
        assert_eq!(attrs.plug_static["n"], 1);
        assert_eq!(attrs.slot_static["read"], serde_json::json!(["$SNAP/x"]));
        let core = Task::Gc(crate::engine::task::gc::Gc { name: "pp".into() });
        let ends = (&plug, Some(&slot));
        assert_eq!(
            hooks(&connect_tasks(&paths, ends, &attrs, core.clone())),
            [
                "pp:prepare-plug-c/unprepare-plug-c",
                "ss:prepare-slot-d/unprepare-slot-d",
                "gc",
                "ss:connect-slot-d/disconnect-slot-d",
                "pp:connect-plug-c/disconnect-plug-c",
            ]
        );
        assert_eq!(
            hooks(&disconnect_tasks(&paths, ends, &attrs, core.clone())),
            [
                "ss:disconnect-slot-d/connect-slot-d (ignored)",
                "pp:disconnect-plug-c/connect-plug-c (ignored)",
                "gc",
            ]
        );
        // The system's slot has no hooks; a hook the snap lacks is left out.
        let attrs = IfaceAttrs::of(&plug, "c", None, "c").unwrap();
        assert_eq!(
            hooks(&connect_tasks(&paths, (&plug, None), &attrs, core)),
            [
                "pp:prepare-plug-c/unprepare-plug-c",
                "gc",
                "pp:connect-plug-c/disconnect-plug-c",
            ]
        );
    }

    #[test]
    fn removing_a_snap_runs_the_disconnect_hooks_of_its_dbus_connection_at_both_ends() {
        let t = tempfile::tempdir().unwrap();
        let paths = Paths::new(t.path());
        let mut plug = snap(
            &paths,
            "pp",
            "plugs:\n  b:\n    interface: dbus\n    bus: session\n    name: org.a.B\n",
            &["disconnect-plug-b"],
        );
        let slot = snap(
            &paths,
            "ss",
            "slots:\n  s:\n    interface: dbus\n    bus: session\n    name: org.a.B\n",
            &["disconnect-slot-s"],
        );
        let installed = [plug.clone(), slot.clone()];
        // Not connected: no hooks.
        assert!(removal_hooks(&paths, &plug, &installed).is_empty());
        plug.dbus.insert(
            "b".into(),
            crate::engine::content::SlotRef {
                snap: "ss".into(),
                slot: "s".into(),
            },
        );
        assert_eq!(
            hooks(&removal_hooks(&paths, &plug, &installed)),
            [
                "ss:disconnect-slot-s/connect-slot-s (ignored)",
                "pp:disconnect-plug-b/connect-plug-b (ignored)",
            ]
        );
        // It is not a connection to the system's slot.
        assert!(connected_plugs(&plug).is_empty());
    }

    #[test]
    fn yaml_scalars_become_typed_json() {
        let node = snapshelf_snap::yaml::parse_node(
            "a: x\nb: 1\nc: true\nd: \"1\"\ne: [1, y]\nf: {g: 2.5}\n",
        )
        .unwrap();
        assert_eq!(
            node_json(&node),
            serde_json::json!({"a": "x", "b": 1, "c": true, "d": "1", "e": [1, "y"], "f": {"g": 2.5}})
        );
    }
}
