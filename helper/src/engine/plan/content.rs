//! Connect and Disconnect between two snaps: a content plug and a content slot of another snap
//! (snapd's `snap connect plug-snap:plug slot-snap[:slot]`), checked before the change starts.

use crate::lang::gettext;
use serde_json::json;

use super::*;
use crate::engine::content::{self, SlotRef};
use crate::engine::iface_hooks;
use crate::engine::task::connect_content::ConnectContent;

fn unchanged(m: String) -> Error {
    Error::new(ErrorKind::InterfacesUnchanged, m)
}

/// The slot `plug` of `snap` is connected to (`now`), for a Disconnect that may name it
/// (`slot_snap`, `slot`; empty: whatever it is): content and dbus alike.
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

impl Engine {
    /// A content plug of `snap`; `slot_snap` and `slot` may be empty on Disconnect (the plug's
    /// connection, whatever it is) and `slot` on Connect (the provider's one slot with the plug's
    /// content tag, as snapd picks it).
    pub(super) fn connect_content(
        &self,
        snap: &SnapState,
        (plug, slot_snap, slot): (&str, &str, &str),
        connect: bool,
        uid: u32,
    ) -> Result<u64> {
        let yaml = crate::engine::files::parse_yaml(snap, &snap.current)?;
        let p = content::plug_of(&yaml, plug)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    gettext("\"{snap}\" has no content plug \"{plug}\": only content plugs connect to another snap")
                        .replace("{snap}", &snap.name)
                        .replace("{plug}", plug),
                )
            })?
            .map_err(Error::invalid)?;
        let to = if connect {
            self.content_slot(snap, &p, slot_snap, slot)?
        } else {
            connected_to(snap, plug, snap.content.get(plug), (slot_snap, slot))?
        };
        let kind = if connect { "connect" } else { "disconnect" };
        let summary = crate::engine::task::connect_content::summary(
            connect,
            (&snap.name, plug),
            (&to.snap, &to.slot),
        );
        let provider = self.snap(&to.snap)?;
        let attrs = iface_hooks::IfaceAttrs::of(snap, plug, provider.as_ref(), &to.slot)?;
        let task = Task::ConnectContent(ConnectContent {
            name: snap.name.clone(),
            plug: plug.to_string(),
            slot_snap: to.snap.clone(),
            slot: to.slot.clone(),
            connect,
            auto: false,
            before: None,
        });
        let ends = (snap, provider.as_ref());
        let tasks = iface_hooks::around(self.paths(), ends, attrs, (task, connect));
        self.start(
            kind,
            &summary,
            vec![snap.name.clone(), to.snap.clone()],
            uid,
            json!({"plug-snap": snap.name, "plug": plug, "slot-snap": to.snap, "slot": to.slot}),
            tasks,
        )
    }

    /// The slot a Connect names, checked: installed, a content slot, the same tag, both ends'
    /// paths valid, and not the connection there is already.
    fn content_slot(
        &self,
        snap: &SnapState,
        p: &snapshelf_snap::content::ContentPlug,
        slot_snap: &str,
        slot: &str,
    ) -> Result<SlotRef> {
        if slot_snap.is_empty() || slot_snap == "system" {
            return Err(Error::invalid(
                gettext("name the snap that provides {snap}:{plug} (content \"{content}\")")
                    .replace("{snap}", &snap.name)
                    .replace("{plug}", &p.name)
                    .replace("{content}", &p.content),
            ));
        }
        check_names(&[slot_snap.to_string()])?;
        let provider = self
            .snap(slot_snap)?
            .ok_or_else(|| not_installed(slot_snap))?;
        let slot = if slot.is_empty() {
            let pyaml = crate::engine::files::parse_yaml(&provider, &provider.current)?;
            let same: Vec<String> = pyaml
                .slots
                .keys()
                .filter(|s| {
                    content::slot_of(&pyaml, s)
                        .is_some_and(|r| r.is_ok_and(|c| c.content == p.content))
                })
                .cloned()
                .collect();
            match same.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(Error::new(
                        ErrorKind::NotFound,
                        gettext("\"{snap}\" has no content slot with content \"{content}\"")
                            .replace("{snap}", slot_snap)
                            .replace("{content}", &p.content),
                    ))
                }
                _ => return Err(Error::invalid(
                    gettext(
                        "\"{snap}\" has several content slots with content \"{content}\": name one",
                    )
                    .replace("{snap}", slot_snap)
                    .replace("{content}", &p.content),
                )),
            }
        } else {
            slot.to_string()
        };
        // Checks both ends and the tags; the mounts themselves are made at the next launch.
        content::connection(snap, &p.name, &provider, &slot)?;
        match snap.content.get(&p.name) {
            Some(now) if now.snap == slot_snap && now.slot == slot => Err(unchanged(
                gettext("{snap}:{plug} is already connected to {slot_snap}:{slot}")
                    .replace("{snap}", &snap.name)
                    .replace("{plug}", &p.name)
                    .replace("{slot_snap}", slot_snap)
                    .replace("{slot}", &slot),
            )),
            Some(now) => Err(Error::invalid(
                gettext("{snap}:{plug} is connected to {slot_snap}:{slot}: disconnect it first")
                    .replace("{snap}", &snap.name)
                    .replace("{plug}", &p.name)
                    .replace("{slot_snap}", &now.snap)
                    .replace("{slot}", &now.slot),
            )),
            None => Ok(SlotRef {
                snap: slot_snap.to_string(),
                slot,
            }),
        }
    }
}
