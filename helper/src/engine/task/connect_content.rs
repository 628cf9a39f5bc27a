//! Connect (or disconnect) a content plug and another snap's content slot, then rewrite the plug
//! snap's profiles so that its next launch mounts (or no longer mounts) the content. Undo puts
//! back the connection and the choice it replaced.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::{Ctx, Task};
use crate::engine::content::{self, SlotRef};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectContent {
    pub name: String,
    pub plug: String,
    pub slot_snap: String,
    pub slot: String,
    pub connect: bool,
    /// Made by the helper (a default provider's auto-connection), not a person's choice.
    #[serde(default)]
    pub auto: bool,
    /// What the task replaced, recorded when it ran; `None` until then.
    pub before: Option<Before>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Before {
    pub link: Option<SlotRef>,
    pub choice: Option<bool>,
    /// The dynamic attributes stored with the connection (interface hooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attrs: Option<crate::engine::iface_hooks::ConnAttrs>,
}

/// "Connect snap:plug to snap:slot" (or Disconnect …) for a connection between two snaps, the
/// words of its change and its task (content and dbus alike).
pub(crate) fn summary(connect: bool, plug: (&str, &str), slot: (&str, &str)) -> String {
    let template = if connect {
        // Translators: {plug} is snap:plug, {slot} snap:slot (a connection between two snaps).
        gettext("Connect {plug} to {slot}")
    } else {
        gettext("Disconnect {plug} from {slot}")
    };
    template
        .replace("{plug}", &format!("{}:{}", plug.0, plug.1))
        .replace("{slot}", &format!("{}:{}", slot.0, slot.1))
}

impl ConnectContent {
    pub fn summary(&self) -> String {
        summary(
            self.connect,
            (&self.name, &self.plug),
            (&self.slot_snap, &self.slot),
        )
    }

    pub(super) fn run(self, cx: &Ctx) -> Result<Self> {
        let mut snap = cx
            .snap(&self.name)?
            .ok_or_else(|| crate::engine::not_installed(&self.name))?;
        // Run again after a crash: do what was recorded, with the `before` it recorded.
        if self.before.is_some() {
            return self.act(cx, &mut snap);
        }
        let this = if self.auto {
            match auto_slot(cx, &snap, &self) {
                Some(slot) => ConnectContent { slot, ..self },
                // Not allowed, or already decided: nothing done, nothing to undo.
                None => return Ok(self),
            }
        } else {
            self
        };
        this.act(cx, &mut snap)
    }

    fn act(self, cx: &Ctx, snap: &mut crate::state::SnapState) -> Result<Self> {
        let before = self.before.clone().unwrap_or_else(|| Before {
            link: snap.content.get(&self.plug).cloned(),
            choice: crate::interfaces::choice(snap, &self.plug, "content"),
            attrs: snap.iface_attrs.get(&self.plug).cloned(),
        });
        // What the connection mounted, for the directories a disconnect takes away.
        let mounted = cx
            .engine
            .content_for(snap)
            .into_iter()
            .find(|c| c.plug == self.plug);
        if self.connect {
            snap.content.insert(
                self.plug.clone(),
                SlotRef {
                    snap: self.slot_snap.clone(),
                    slot: self.slot.clone(),
                },
            );
        } else {
            snap.content.remove(&self.plug);
        }
        if !self.auto {
            crate::interfaces::set_choice(snap, &self.plug, "content", Some(self.connect));
        }
        crate::engine::iface_hooks::store(cx, snap, &self.plug, self.connect)?;
        let done = ConnectContent {
            before: Some(before),
            ..self
        };
        cx.commit(&Task::ConnectContent(done.clone()), |st| st.put_snap(snap))?;
        cx.link(snap)?;
        if let (false, Some(m)) = (done.connect, mounted) {
            content::remove_targets(cx.paths(), snap, &m);
        }
        Ok(done)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        let Some(before) = &self.before else {
            return Ok(()); // it never acted
        };
        let snap = {
            let st = cx.state();
            let Some(mut s) = st.snap(&self.name)? else {
                return Ok(());
            };
            match &before.link {
                Some(l) => s.content.insert(self.plug.clone(), l.clone()),
                None => s.content.remove(&self.plug),
            };
            crate::interfaces::set_choice(&mut s, &self.plug, "content", before.choice);
            crate::engine::iface_hooks::put(&mut s, &self.plug, before.attrs.clone());
            st.put_snap(&s)?;
            s
        };
        cx.link(&snap)
    }
}

/// For an auto-connection: the provider's one content slot with the plug's tag, when the plug is
/// not connected, no person chose for it, and the policy allows it (`content_policy`).
fn auto_slot(cx: &Ctx, snap: &crate::state::SnapState, t: &ConnectContent) -> Option<String> {
    if snap.content.contains_key(&t.plug)
        || crate::interfaces::choice(snap, &t.plug, "content").is_some()
    {
        return None;
    }
    let provider = cx.snap(&t.slot_snap).ok()??;
    let plug = content::plug_of(
        &crate::engine::files::parse_yaml(snap, &snap.current).ok()?,
        &t.plug,
    )?
    .ok()?;
    let pyaml = crate::engine::files::parse_yaml(&provider, &provider.current).ok()?;
    let slots: Vec<_> = pyaml
        .slots
        .keys()
        .filter_map(|n| content::slot_of(&pyaml, n)?.ok())
        .filter(|s| s.content == plug.content)
        .collect();
    let [slot] = slots.as_slice() else {
        tracing::info!(snap = %snap.name, plug = %t.plug, provider = %t.slot_snap, "no single content slot to auto-connect");
        return None;
    };
    let allowed = crate::engine::content_policy::may_auto_connect(
        cx.paths(),
        (snap, &plug),
        (&provider, slot),
    );
    if !allowed {
        tracing::info!(snap = %snap.name, plug = %t.plug, provider = %t.slot_snap, "the policy does not auto-connect it");
    }
    allowed.then(|| slot.name.clone())
}
