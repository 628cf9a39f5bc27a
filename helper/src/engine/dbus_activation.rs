//! The D-Bus activation files of a snap's `activates-on` daemons (`units::activation`) on disk:
//! written with the snap's units, taken away with them (so at link and unlink, and by the same
//! tasks' undo), one bus name activating one snap's daemon only (snapd's
//! `checkDBusServiceConflicts`). The system bus is asked to reload (`ReloadConfig`); a session
//! bus looks into its service directories again when a name it does not know is called.

use std::path::PathBuf;

use super::services::{remove_file, scope_files, write_atomic};
use crate::error::{Error, ErrorKind, Result};
use crate::io::IoContext;
use crate::paths::Paths;
use crate::units::{activation, Scope, Service};

fn dir(paths: &Paths, scope: Scope) -> PathBuf {
    paths.dbus_activation_dir(scope == Scope::System)
}

/// `(scope, file, owner)` of every activation file in the two directories.
fn on_disk(paths: &Paths) -> Result<Vec<(Scope, String, String)>> {
    let mut out = Vec::new();
    for (scope, dir, file) in scope_files(paths, self::dir)? {
        if !file.ends_with(".service") {
            continue;
        }
        let path = dir.join(&file);
        let text = std::fs::read_to_string(&path).what("read", &path)?;
        if let Some(owner) = activation::owner(&text) {
            out.push((scope, file, owner.to_string()));
        }
    }
    Ok(out)
}

/// Refuse, before anything is written, a bus name another snap's daemon is activated by.
pub(crate) fn check_free(paths: &Paths, snap: &str, services: &[Service]) -> Result<()> {
    let taken = on_disk(paths)?;
    for s in services {
        for f in &s.activation {
            let other = taken
                .iter()
                .find(|(scope, file, owner)| *scope == s.scope && file == &f.name && owner != snap);
            if let Some((_, _, owner)) = other {
                let bus = if s.scope == Scope::System {
                    "system"
                } else {
                    "session"
                };
                let name = f.name.trim_end_matches(".service");
                return Err(Error::new(
                    ErrorKind::InvalidSnap,
                    format!(
                        "snap {snap:?} requesting to activate on {bus} bus name {name:?} \
                         conflicts with snap {owner:?} use"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Make the snap's activation files exactly those of `services` (none: take them all away), then
/// have the system bus reload when its directory changed.
pub(crate) fn sync(paths: &Paths, snap: &str, services: &[Service]) -> Result<()> {
    let mut system_changed = false;
    let mut keep = Vec::new();
    for s in services {
        for f in &s.activation {
            let dir = dir(paths, s.scope);
            let path = dir.join(&f.name);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(f.text.as_str()) {
                std::fs::create_dir_all(&dir).what("create", &dir)?;
                write_atomic(&path, &f.text)?;
                system_changed |= s.scope == Scope::System;
            }
            keep.push((s.scope, f.name.clone()));
        }
    }
    for (scope, file, owner) in on_disk(paths)? {
        if owner == snap && !keep.contains(&(scope, file.clone())) {
            remove_file(&dir(paths, scope).join(&file))?;
            system_changed |= scope == Scope::System;
        }
    }
    if system_changed {
        super::bus_policy::reload();
    }
    Ok(())
}
