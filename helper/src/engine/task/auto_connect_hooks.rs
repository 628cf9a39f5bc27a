//! The interface hooks of the connections an install makes by itself (snapd's `auto-connect`
//! task, which adds them to the change): the plugs connected by the policy on a first install
//! (new ones in a refresh) and by this change's content auto-connections before this task. As
//! snapd orders them, every connection's `prepare-plug-` and `prepare-slot-` hooks run first, then
//! (snapd's `setup-profiles` of all the connections stands between) every connection's
//! `connect-slot-` and `connect-plug-` hooks; all before the snap's install or post-refresh hook,
//! which the plan puts after this task. Only the hooks that exist run (the hooks a snap has are
//! known only once it is mounted). A failing hook fails the install; undo takes back, in reverse,
//! the hooks that ran (their undo hooks) and the attributes stored.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::run_hook::RunHook;
use super::{Ctx, Task};
use crate::engine::iface_hooks::{self, IfaceAttrs};
use crate::error::Result;
use crate::state::{SnapState, TaskStatus};

/// snapd's two steps of auto-connection hooks: the prepare hooks of every connection, then,
/// once every connection is made, their connect hooks.
#[derive(Debug, Clone, Copy)]
enum Phase {
    Prepare,
    Connect,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoConnectHooks {
    pub name: String,
    /// Only the content plugs this change auto-connected (as older helpers planned it, one task
    /// after the install hook); otherwise the plugs the policy connects (at the first install, or
    /// new in a refresh) and the content plugs auto-connected in this change before this task.
    pub content: bool,
    /// Plugs connected before a refresh: their connections are not new, no hooks run for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
    /// The hooks that ran so far, as done, recorded after each (for undo, also after a crash).
    #[serde(default)]
    pub ran: Vec<RunHook>,
    /// The plugs whose attributes this task stored; set once it is done.
    #[serde(default)]
    pub stored: Option<Vec<String>>,
}

impl AutoConnectHooks {
    pub fn new(name: &str, content: bool) -> Self {
        AutoConnectHooks {
            name: name.to_string(),
            content,
            except: Vec::new(),
            ran: Vec::new(),
            stored: None,
        }
    }

    pub fn summary(&self) -> String {
        // Translators: {snap} is a snap's name.
        gettext("Run the interface hooks of the automatic connections of \"{snap}\"")
            .replace("{snap}", &self.name)
    }

    pub(super) async fn run(self, cx: &Ctx) -> Result<Self> {
        if self.stored.is_some() {
            return Ok(self); // done before a crash
        }
        cx.blocking(move |cx| self.run_hooks(&cx)).await
    }

    fn run_hooks(mut self, cx: &Ctx) -> Result<Self> {
        let Some(mut snap) = cx.snap(&self.name)? else {
            return Ok(self);
        };
        let conns = self.connections(cx, &snap)?;
        let mut attrs = Vec::new();
        for (plug, provider, slot) in &conns {
            attrs.push(IfaceAttrs::of(&snap, plug, provider.as_ref(), slot)?.fresh());
        }
        // snapd: all the prepare hooks, then all the connect hooks.
        for phase in [Phase::Prepare, Phase::Connect] {
            for ((_, provider, _), a) in conns.iter().zip(attrs.iter_mut()) {
                *a = self.hooks_of(cx, phase, (&snap, provider.as_ref()), a.clone())?;
            }
        }
        let mut stored = Vec::new();
        for ((plug, _, _), a) in conns.into_iter().zip(attrs) {
            if !(a.plug_dynamic.is_empty() && a.slot_dynamic.is_empty()) {
                let dynamic = iface_hooks::ConnAttrs {
                    plug: a.plug_dynamic,
                    slot: a.slot_dynamic,
                };
                iface_hooks::put(&mut snap, &plug, Some(dynamic));
                stored.push(plug);
            }
        }
        self.stored = Some(stored);
        cx.commit(&Task::AutoConnectHooks(self.clone()), |st| {
            st.put_snap(&snap)
        })?;
        Ok(self)
    }

    /// The connections to run hooks for: (plug, the providing snap, its slot).
    fn connections(
        &self,
        cx: &Ctx,
        snap: &SnapState,
    ) -> Result<Vec<(String, Option<SnapState>, String)>> {
        let mut out = Vec::new();
        if !self.content {
            let yaml = crate::engine::files::parse_yaml(snap, &snap.current)?;
            for (plug, interface) in yaml.all_plugs() {
                let new = !self.except.contains(&plug);
                if new
                    && interface != "content"
                    && interface != "dbus"
                    && crate::interfaces::state_of(snap, &plug, &interface).0
                {
                    out.push((plug, None, interface));
                }
            }
        }
        // The rows first: the state's lock must be free again for `cx.snap` below.
        let rows = cx.state().tasks(cx.change)?;
        for row in rows {
            let Task::ConnectContent(c) = row.task else {
                continue;
            };
            let acted = row.status == TaskStatus::Done && c.before.is_some();
            if acted && c.auto && c.connect && c.name == self.name {
                out.push((c.plug, cx.snap(&c.slot_snap)?, c.slot));
            }
        }
        Ok(out)
    }

    /// Run one phase of a connection's hooks in snapd's order, each seeing what the one before
    /// set.
    fn hooks_of(
        &mut self,
        cx: &Ctx,
        phase: Phase,
        (snap, provider): (&SnapState, Option<&SnapState>),
        mut attrs: IfaceAttrs,
    ) -> Result<IfaceAttrs> {
        let (plug, slot) = (attrs.plug.clone(), attrs.slot.clone());
        let plug_end = |hook: &str, undo: &str| {
            (
                snap,
                format!("{hook}-plug-{plug}"),
                format!("{undo}-plug-{plug}"),
            )
        };
        let slot_end = |hook: &str, undo: &str| {
            provider.map(|p| {
                (
                    p,
                    format!("{hook}-slot-{slot}"),
                    format!("{undo}-slot-{slot}"),
                )
            })
        };
        let order: Vec<(&SnapState, String, String)> = match phase {
            Phase::Prepare => std::iter::once(plug_end("prepare", "unprepare"))
                .chain(slot_end("prepare", "unprepare"))
                .collect(),
            Phase::Connect => slot_end("connect", "disconnect")
                .into_iter()
                .chain([plug_end("connect", "disconnect")])
                .collect(),
        };
        for (owner, hook, undo) in order {
            // Run again after a crash: a hook recorded as done is not run twice.
            let earlier = self.ran.iter().find(|r| {
                r.name == owner.name
                    && r.hook == hook
                    && r.iface.as_ref().is_some_and(|a| a.plug == plug)
            });
            if let Some(done) = earlier {
                attrs = done.iface.clone().unwrap_or(attrs);
                continue;
            }
            let task = RunHook {
                iface: Some(attrs.clone()),
                undo_hook: Some(undo),
                ..RunHook::new(&owner.name, &hook)
            };
            if let Some(done) = task.run_inline(cx)? {
                attrs = done.iface.clone().unwrap_or(attrs);
                self.ran.push(done);
                cx.record(&Task::AutoConnectHooks(self.clone()))?;
            }
        }
        Ok(attrs)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        for hook in self.ran.iter().rev() {
            hook.undo(cx)?;
        }
        if let Some(plugs) = &self.stored {
            let st = cx.state();
            if let Some(mut snap) = st.snap(&self.name)? {
                for plug in plugs {
                    iface_hooks::put(&mut snap, plug, None);
                }
                st.put_snap(&snap)?;
            }
        }
        Ok(())
    }
}
