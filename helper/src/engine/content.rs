//! Content connections between two snaps (snapd's content interface): which slot each content
//! plug is connected to (kept in the plug snap's state), what that mounts (the profile's
//! `content`), which snaps use a provider, and the directories snap-update-ns would make for the
//! mounts in the snaps' writable data.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use snapshelf_snap::content::{self, below_root, ContentPlug, ContentSlot, Root};
use snapshelf_snap::profile::{ProfileBind, ProfileContent};
use snapshelf_snap::yaml::SnapYaml;

use super::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::lang::gettext;
use crate::paths::Paths;
use crate::state::SnapState;

/// The slot a content plug is connected to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRef {
    pub snap: String,
    pub slot: String,
}

/// The content plug `plug` of a snap's snap.yaml, checked; `None` when it is not a content plug.
pub fn plug_of(yaml: &SnapYaml, plug: &str) -> Option<std::result::Result<ContentPlug, String>> {
    let p = yaml.plugs.get(plug).filter(|p| p.interface == "content")?;
    Some(ContentPlug::parse(
        &format!("meta/snap.yaml of {}: plugs.{plug}", yaml.name),
        plug,
        p,
    ))
}

/// The content slot `slot`, checked; `None` when the snap has no content slot of that name.
pub fn slot_of(yaml: &SnapYaml, slot: &str) -> Option<std::result::Result<ContentSlot, String>> {
    let s = yaml.slots.get(slot).filter(|s| s.interface == "content")?;
    Some(ContentSlot::parse(
        &format!("meta/snap.yaml of {}: slots.{slot}", yaml.name),
        slot,
        s,
    ))
}

/// Every content plug of the snap, checked or not.
pub fn plugs(yaml: &SnapYaml) -> Vec<(String, std::result::Result<ContentPlug, String>)> {
    yaml.plugs
        .keys()
        .filter_map(|n| plug_of(yaml, n).map(|p| (n.clone(), p)))
        .collect()
}

fn yaml_of(snap: &SnapState) -> Result<SnapYaml> {
    super::files::parse_yaml(snap, &snap.current)
}

/// What one connection mounts, checked from both snaps' current snap.yaml.
pub fn connection(
    consumer: &SnapState,
    plug: &str,
    provider: &SnapState,
    slot: &str,
) -> Result<ProfileContent> {
    let invalid = |m: String| Error::new(ErrorKind::InvalidArgument, m);
    let not_found = |m: String| Error::new(ErrorKind::NotFound, m);
    let p = plug_of(&yaml_of(consumer)?, plug)
        .ok_or_else(|| {
            not_found(
                gettext("\"{snap}\" has no content plug \"{plug}\"")
                    .replace("{snap}", &consumer.name)
                    .replace("{plug}", plug),
            )
        })?
        .map_err(invalid)?;
    let s = slot_of(&yaml_of(provider)?, slot)
        .ok_or_else(|| {
            not_found(
                gettext("\"{snap}\" has no content slot \"{slot}\"")
                    .replace("{snap}", &provider.name)
                    .replace("{slot}", slot),
            )
        })?
        .map_err(invalid)?;
    if p.content != s.content {
        return Err(invalid(
            gettext("cannot connect {snap}:{plug} (content \"{content}\") to {slot_snap}:{slot} (content \"{slot_content}\"): the content tags differ")
                .replace("{snap}", &consumer.name)
                .replace("{plug}", plug)
                .replace("{content}", &p.content)
                .replace("{slot_snap}", &provider.name)
                .replace("{slot}", slot)
                .replace("{slot_content}", &s.content),
        ));
    }
    Ok(ProfileContent {
        plug: plug.to_string(),
        provider: provider.name.clone(),
        slot: slot.to_string(),
        provider_revision: provider.current.clone(),
        binds: content::binds(&p, &s)
            .into_iter()
            .map(|b| ProfileBind {
                source: b.source,
                target: b.target,
                writable: b.writable,
            })
            .collect(),
    })
}

impl Engine {
    /// The content mounts of the snap's connected plugs. A connection that no longer holds (a
    /// refresh dropped the plug or the slot, or the provider is gone) mounts nothing and is
    /// logged; it stays recorded, as snapd keeps a connection whose ends come back.
    pub(crate) fn content_for(&self, snap: &SnapState) -> Vec<ProfileContent> {
        self.content_with(snap, None)
    }

    /// The same, with `provider` as it is about to be (a Link writes the files before the state).
    pub(crate) fn content_with(
        &self,
        snap: &SnapState,
        provider: Option<&SnapState>,
    ) -> Vec<ProfileContent> {
        let mut out = Vec::new();
        for (plug, to) in &snap.content {
            let found = match provider.filter(|p| p.name == to.snap) {
                Some(p) => Ok(Some(p.clone())),
                None => self.snap(&to.snap),
            };
            let provider = match found {
                Ok(Some(p)) => p,
                _ => {
                    tracing::warn!(snap = %snap.name, plug, provider = %to.snap, "content provider not installed");
                    continue;
                }
            };
            match connection(snap, plug, &provider, &to.slot) {
                Ok(c) => out.push(c),
                Err(e) => {
                    tracing::warn!(snap = %snap.name, plug, error = %e, "content connection left out")
                }
            }
        }
        out
    }

    /// The installed snaps with a content plug connected to `provider`, with those plugs.
    pub(crate) fn content_users(&self, provider: &str) -> Result<Vec<(SnapState, Vec<String>)>> {
        let mut out = Vec::new();
        for s in self.installed()? {
            let plugs: Vec<String> = s
                .content
                .iter()
                .filter(|(_, to)| to.snap == provider)
                .map(|(p, _)| p.clone())
                .collect();
            if !plugs.is_empty() && s.name != provider {
                out.push((s, plugs));
            }
        }
        Ok(out)
    }
}

/// Where an unexpanded path of `snap` at `rev` is on the host, for its writable roots only.
fn writable_dir(paths: &Paths, snap: &str, rev: &str, path: &str) -> Option<PathBuf> {
    let (root, rel) = below_root(path);
    let mut dir = match root {
        Root::Snap => return None,
        Root::Data => paths.data_dir(snap, rev),
        Root::Common => paths.common_dir(snap),
    };
    dir.extend(rel);
    Some(dir)
}

/// Make `dir` and what is missing above it, down from `top` (which must exist). A link met on
/// the way stops it: the mount then finds nothing there and confine says so.
fn make_below(top: &Path, dir: &Path) {
    let Ok(rel) = dir.strip_prefix(top) else {
        return;
    };
    let mut cur = top.to_path_buf();
    if !cur.is_dir() {
        return;
    }
    for c in rel.components() {
        cur.push(c);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                tracing::warn!(path = %cur.display(), "a content directory meets a symbolic link; not created");
                return;
            }
            Ok(_) => {}
            Err(_) => {
                if let Err(e) = std::fs::create_dir(&cur) {
                    tracing::warn!(path = %cur.display(), error = %e, "cannot create a content directory");
                    return;
                }
            }
        }
    }
}

/// What snap-update-ns makes when it mounts content: the sources in the provider's writable data
/// and the targets in the consumer's.
pub fn make_dirs(paths: &Paths, consumer: &SnapState, c: &ProfileContent) {
    for b in &c.binds {
        let (Ok(src), Ok(dst)) = (
            content::normalise("source", &b.source),
            content::normalise("target", &b.target),
        ) else {
            continue;
        };
        if let Some(dir) = writable_dir(paths, &c.provider, &c.provider_revision, &src) {
            make_below(&paths.data_root(&c.provider), &dir);
        }
        if let Some(dir) = writable_dir(paths, &consumer.name, &consumer.current, &dst) {
            make_below(&paths.data_root(&consumer.name), &dir);
        }
    }
}

/// After a disconnect: the targets made in the consumer's data go if they are empty (snapd's
/// "the content interface is fully undoable").
pub fn remove_targets(paths: &Paths, consumer: &SnapState, c: &ProfileContent) {
    for b in &c.binds {
        let Ok(dst) = content::normalise("target", &b.target) else {
            continue;
        };
        if let Some(dir) = writable_dir(paths, &consumer.name, &consumer.current, &dst) {
            // Only an empty directory; never through a link (remove_dir does not follow one).
            let _ = std::fs::remove_dir(&dir);
        }
    }
}
