//! The system bus's policy files for `dbus` slots with `bus: system` (snapd's
//! `DBusPermanentSlot`): root — a snap's daemons — may own the slot's name, and anyone may send
//! to it (who actually reaches it from a sandbox is the bus filter's business: only apps with a
//! connected plug may talk to it). One file per slot,
//! `/etc/dbus-1/system.d/snapshelf.<snap>.<slot>.conf`, written when the snap is linked and
//! removed when it is unlinked (a failed change's undo links or unlinks again, so the files
//! follow). The bus is then asked to reload its configuration (`ReloadConfig`), so the name can
//! be owned without a restart.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use crate::error::Result;
use crate::io::IoContext;
use crate::paths::Paths;

/// The system bus the helper serves on (`None`: D-Bus's default), set once at start-up: the bus
/// whose configuration includes the policy directory.
static SYSTEM_BUS: OnceLock<Option<String>> = OnceLock::new();

/// Remember the system bus's address for [`reload`].
pub fn set_system_bus(address: Option<String>) {
    let _ = SYSTEM_BUS.set(address);
}

/// The file of `snap`'s `slot`.
pub fn file_name(snap: &str, slot: &str) -> String {
    format!("snapshelf.{snap}.{slot}.conf")
}

/// The policy for one name. `name` passed `dbus_iface::check_name` (letters, digits, `_`, `-`
/// and dots only), so it goes into the XML as it is.
pub fn policy(name: &str) -> String {
    format!(
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\"\n \
         \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
         <!-- Written by snapshelf-helper for a snap's dbus slot; removed with the snap. -->\n\
         <busconfig>\n  <policy user=\"root\">\n    <allow own=\"{name}\"/>\n    \
         <allow send_destination=\"{name}\"/>\n  </policy>\n  <policy context=\"default\">\n    \
         <allow send_destination=\"{name}\"/>\n  </policy>\n</busconfig>\n"
    )
}

/// The snap's files now in the directory (snap and slot names hold no dots).
fn existing(dir: &Path, snap: &str) -> Vec<String> {
    let prefix = format!("snapshelf.{snap}.");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| {
            f.strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(".conf"))
                .is_some_and(|slot| !slot.is_empty() && !slot.contains('.'))
        })
        .collect()
}

/// Make `snap`'s policy files exactly those of `slots` (`(slot, name)`), then, when anything
/// changed, ask the bus to reload.
pub fn sync(paths: &Paths, snap: &str, slots: &[(String, String)]) -> Result<()> {
    let dir = paths.dbus_system_policy_dir();
    let want: BTreeMap<String, String> = slots
        .iter()
        .map(|(slot, name)| (file_name(snap, slot), policy(name)))
        .collect();
    let mut changed = false;
    if !want.is_empty() {
        std::fs::create_dir_all(&dir).what("create", &dir)?;
    }
    for (file, text) in &want {
        let path = dir.join(file);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            super::files::write_atomic(&path, text.as_bytes(), 0o644)?;
            changed = true;
        }
    }
    for file in existing(&dir, snap) {
        if !want.contains_key(&file) {
            let path = dir.join(&file);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).what("remove", &path)
                }
                _ => changed = true,
            }
        }
    }
    if changed {
        reload();
    }
    Ok(())
}

/// Ask the system bus to read its configuration again. A bus that cannot be reached is logged,
/// not an error: dbus-daemon also notices the directory's changes by itself (inotify), and the
/// files are right either way.
pub(crate) fn reload() {
    let address = SYSTEM_BUS.get().cloned().flatten();
    // On a thread of its own: this runs both in and outside the helper's async runtime.
    let done = std::thread::spawn(move || -> std::result::Result<(), String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let builder = match &address {
                Some(a) => zbus::connection::Builder::address(a.as_str()),
                None => zbus::connection::Builder::system(),
            }
            .map_err(|e| e.to_string())?;
            let call = async {
                let conn = builder.build().await?;
                conn.call_method(
                    Some("org.freedesktop.DBus"),
                    "/org/freedesktop/DBus",
                    Some("org.freedesktop.DBus"),
                    "ReloadConfig",
                    &(),
                )
                .await
                .map(|_| ())
            };
            match tokio::time::timeout(Duration::from_secs(10), call).await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err("no answer within 10 s".into()),
            }
        })
    })
    .join();
    match done {
        Ok(Ok(())) => tracing::debug!("the system bus reloaded its configuration"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot ask the system bus to reload its configuration")
        }
        Err(_) => tracing::warn!("the system bus reload panicked"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_follow_the_slots_and_other_snaps_files_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path());
        // No bus to reload in a unit test: point it at nothing so the reload only logs.
        set_system_bus(Some("unix:path=/nonexistent/bus".into()));
        let pdir = paths.dbus_system_policy_dir();
        sync(&paths, "svc", &[]).unwrap();
        assert!(!pdir.exists(), "nothing to write, nothing made");
        let slots = [("a".to_string(), "org.example.A".to_string())];
        sync(&paths, "svc", &slots).unwrap();
        let file = pdir.join("snapshelf.svc.a.conf");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("<allow own=\"org.example.A\"/>"), "{text}");
        assert!(text.contains("<policy context=\"default\">"), "{text}");
        // Another snap's file, and one of a snap whose name starts the same, stay.
        std::fs::write(pdir.join("snapshelf.svc-two.b.conf"), "x").unwrap();
        std::fs::write(pdir.join("other.conf"), "x").unwrap();
        sync(&paths, "svc", &[]).unwrap();
        assert!(!file.exists());
        assert!(pdir.join("snapshelf.svc-two.b.conf").exists());
        assert!(pdir.join("other.conf").exists());
    }
}
