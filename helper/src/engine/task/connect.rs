//! Connect (or disconnect) a plug to the system's slot, as a person's choice, and rewrite the
//! snap's profiles so the next launch sees it. Undo puts back the choice it replaced.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::{Ctx, Task};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connect {
    pub name: String,
    pub plug: String,
    pub interface: String,
    pub connect: bool,
    /// The choice this task replaced, recorded when it ran: outer `None` until then, inner
    /// `None` when the policy decided. (The JSON keeps the shape older helpers wrote; see
    /// `tests::connect_before_policy_reads_back_as_not_run`.)
    pub before: Option<Option<bool>>,
    /// Forget the person's choice instead of recording one (Reset to Defaults): the policy
    /// decides again, and `connect` is what it decides. Absent in older records.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
    /// The dynamic attributes stored with the connection before this task (interface hooks),
    /// recorded when it ran; outer `None` until then or for a reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attrs_before: Option<Option<crate::engine::iface_hooks::ConnAttrs>>,
}

impl Connect {
    pub fn summary(&self) -> String {
        let template = if self.connect {
            // Translators: {plug} is snap:plug, {interface} a technical interface name.
            gettext("Connect {plug} to the system's {interface}")
        } else {
            gettext("Disconnect {plug} from the system's {interface}")
        };
        template
            .replace("{plug}", &format!("{}:{}", self.name, self.plug))
            .replace("{interface}", &self.interface)
    }

    pub(super) fn run(self, cx: &Ctx) -> Result<Self> {
        let mut snap = cx
            .snap(&self.name)?
            .ok_or_else(|| crate::engine::not_installed(&self.name))?;
        let before = crate::interfaces::choice(&snap, &self.plug, &self.interface);
        let value = (!self.reset).then_some(self.connect);
        crate::interfaces::set_choice(&mut snap, &self.plug, &self.interface, value);
        let attrs_before = if self.reset {
            None
        } else {
            Some(crate::engine::iface_hooks::store(
                cx,
                &mut snap,
                &self.plug,
                self.connect,
            )?)
        };
        let done = Connect {
            before: Some(before),
            attrs_before,
            ..self
        };
        cx.commit(&Task::Connect(done.clone()), |st| st.put_snap(&snap))?;
        // The profiles of the snap's apps, rewritten at once: the next launch sees it.
        cx.link(&snap)?;
        Ok(done)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        let Some(before) = self.before else {
            return Ok(()); // it never acted
        };
        let snap = {
            let st = cx.state();
            let Some(mut s) = st.snap(&self.name)? else {
                return Ok(());
            };
            crate::interfaces::set_choice(&mut s, &self.plug, &self.interface, before);
            if let Some(attrs) = &self.attrs_before {
                crate::engine::iface_hooks::put(&mut s, &self.plug, attrs.clone());
            }
            st.put_snap(&s)?;
            s
        };
        cx.link(&snap)
    }
}
