//! Connect and Disconnect between two snaps: a content plug and a content slot of another snap
//! (snapd's `snap connect plug-snap:plug slot-snap[:slot]`), checked before the change starts.

use crate::lang::gettext;

use super::snap_connection::{connected_to, not_yet_connected};
use super::*;
use crate::engine::content::{self, SlotRef};
use crate::engine::task::connect_content::ConnectContent;

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
        let task = Task::ConnectContent(ConnectContent {
            name: snap.name.clone(),
            plug: plug.to_string(),
            slot_snap: to.snap.clone(),
            slot: to.slot.clone(),
            connect,
            auto: false,
            before: None,
        });
        self.start_snap_connection((snap, plug), &to, (task, connect), uid)
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
        let provider = self.provider_named(slot_snap, || {
            gettext("name the snap that provides {snap}:{plug} (content \"{content}\")")
                .replace("{snap}", &snap.name)
                .replace("{plug}", &p.name)
                .replace("{content}", &p.content)
        })?;
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
        let to = SlotRef {
            snap: slot_snap.to_string(),
            slot,
        };
        not_yet_connected(snap, &p.name, snap.content.get(&p.name), to)
    }
}
