//! Connect (or disconnect) a `dbus` plug and another snap's `dbus` slot with the same bus and
//! name, then rewrite the plug snap's profiles so its next launch's bus filter may (or may no
//! longer) talk to the name. Undo puts back the connection it replaced.

use serde::{Deserialize, Serialize};

use super::{Ctx, Task};
use crate::engine::content::SlotRef;
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectDbus {
    /// The plug's snap.
    pub name: String,
    pub plug: String,
    pub slot_snap: String,
    pub slot: String,
    pub connect: bool,
    /// The plug's connection before the task, recorded when it ran: outer `None` until then.
    pub before: Option<Option<SlotRef>>,
    /// The dynamic attributes stored with the connection before the task (interface hooks),
    /// recorded when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attrs_before: Option<Option<crate::engine::iface_hooks::ConnAttrs>>,
}

impl ConnectDbus {
    pub fn summary(&self) -> String {
        super::connect_content::summary(
            self.connect,
            (&self.name, &self.plug),
            (&self.slot_snap, &self.slot),
        )
    }

    pub(super) fn run(self, cx: &Ctx) -> Result<Self> {
        let mut snap = cx
            .snap(&self.name)?
            .ok_or_else(|| crate::engine::not_installed(&self.name))?;
        // Run again after a crash: keep the `before` recorded the first time.
        let before = match &self.before {
            Some(b) => b.clone(),
            None => snap.dbus.get(&self.plug).cloned(),
        };
        if self.connect {
            let to = SlotRef {
                snap: self.slot_snap.clone(),
                slot: self.slot.clone(),
            };
            snap.dbus.insert(self.plug.clone(), to);
        } else {
            snap.dbus.remove(&self.plug);
        }
        // What the prepare hooks set goes with the connection (and away with it).
        let attrs = crate::engine::iface_hooks::store(cx, &mut snap, &self.plug, self.connect)?;
        let done = ConnectDbus {
            before: Some(before),
            attrs_before: Some(self.attrs_before.clone().unwrap_or(attrs)),
            ..self
        };
        cx.commit(&Task::ConnectDbus(done.clone()), |st| st.put_snap(&snap))?;
        // The profiles of the plug snap's apps, rewritten at once: the next launch sees it.
        cx.link(&snap)?;
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
            match before {
                Some(to) => s.dbus.insert(self.plug.clone(), to.clone()),
                None => s.dbus.remove(&self.plug),
            };
            if let Some(attrs) = &self.attrs_before {
                crate::engine::iface_hooks::put(&mut s, &self.plug, attrs.clone());
            }
            st.put_snap(&s)?;
            s
        };
        cx.link(&snap)
    }
}
