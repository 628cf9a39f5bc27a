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
    /// The choice this task replaced, recorded when it ran.
    pub before: Replaced,
    /// Forget the person's choice instead of recording one (Reset to Defaults): the policy
    /// decides again, and `connect` is what it decides. Absent in older records.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
    /// The dynamic attributes stored with the connection before this task (interface hooks),
    /// recorded when it ran: absent until then or for a reset, `null` when there were none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub attrs_before: Option<Option<crate::engine::iface_hooks::ConnAttrs>>,
}

/// What a Connect task found, and its undo puts back. In the JSON: `null` until it ran, the
/// person's choice as `true`/`false`, and `"policy"` when no choice stood. Older helpers wrote
/// `null` for both "not yet" and "policy" (an `Option<Option<bool>>`); [`Connect::ran`] tells
/// them apart by the task's status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Replaced {
    /// The task has not acted: nothing to undo.
    #[default]
    NotYet,
    /// No person had chosen; the policy decided, and decides again after undo.
    Policy,
    /// A person's choice stood: connected (`true`) or not.
    Choice(bool),
}

const POLICY: &str = "policy";

impl Serialize for Replaced {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Replaced::NotYet => s.serialize_none(),
            Replaced::Policy => s.serialize_str(POLICY),
            Replaced::Choice(b) => s.serialize_bool(*b),
        }
    }
}

impl<'de> Deserialize<'de> for Replaced {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Choice(bool),
            Word(String),
        }
        match Option::<Raw>::deserialize(d)? {
            None => Ok(Replaced::NotYet),
            Some(Raw::Choice(b)) => Ok(Replaced::Choice(b)),
            Some(Raw::Word(w)) if w == POLICY => Ok(Replaced::Policy),
            Some(Raw::Word(w)) => Err(serde::de::Error::invalid_value(
                serde::de::Unexpected::Str(&w),
                &"true, false, \"policy\" or null",
            )),
        }
    }
}

impl From<Option<bool>> for Replaced {
    fn from(choice: Option<bool>) -> Self {
        choice.map_or(Replaced::Policy, Replaced::Choice)
    }
}

/// A field that is present reads as `Some`, even when it is `null` (absent: `None`, by
/// `default`), so `Some(None)` survives the JSON.
fn present<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl Connect {
    /// The task as its undo must see it, given its status: a task recorded as done by an older
    /// helper with `before: null` had acted (its record and the state are written in one
    /// transaction), and that `null` was the policy.
    pub fn ran(mut self, done: bool) -> Self {
        if done && self.before == Replaced::NotYet {
            self.before = Replaced::Policy;
        }
        self
    }

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
            before: before.into(),
            attrs_before,
            ..self
        };
        cx.commit(&Task::Connect(done.clone()), |st| st.put_snap(&snap))?;
        // The profiles of the snap's apps, rewritten at once: the next launch sees it.
        cx.link(&snap)?;
        Ok(done)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        let before = match self.before {
            Replaced::NotYet => return Ok(()), // it never acted
            Replaced::Policy => None,
            Replaced::Choice(c) => Some(c),
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
