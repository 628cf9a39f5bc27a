//! What the service tasks share: a snap's daemons as unit files (from the current revision's own
//! snap.yaml, through `crate::units`), where those files go, and the system's service manager.
//!
//! systemd is used when the helper manages `/` and `org.freedesktop.systemd1` is on the system bus.
//! Otherwise (no systemd as PID 1, or a test root) the unit files are still written, checked
//! exactly as they would be, but nothing is enabled or started: the services are inactive, and the
//! change's task says so (docs/services.md).

use std::path::{Path, PathBuf};

use snapshelf_snap::yaml::SnapYaml;

use super::{dbus_activation as activation, Engine};
use crate::error::{Error, ErrorKind, Result};
use crate::io::IoContext;
use crate::paths::Paths;
use crate::state::SnapState;
use crate::systemd::Systemd;
use crate::units::{self, Launch, Scope, Service};

/// `<root>/etc/systemd/system` or `<root>/etc/systemd/user`.
pub(crate) fn unit_dir(paths: &Paths, scope: Scope) -> PathBuf {
    paths.root().join(match scope {
        Scope::System => "etc/systemd/system",
        Scope::User => "etc/systemd/user",
    })
}

/// The daemons of the snap's current revision, every field checked; none for a revision without
/// a readable snap.yaml (bases and snaps kept from before snap.yaml was stored have no apps).
pub(crate) fn services_of(engine: &Engine, snap: &SnapState) -> Result<Vec<Service>> {
    let Some(rev) = snap.revision(&snap.current) else {
        return Ok(Vec::new());
    };
    if rev.snap_yaml.is_empty() {
        return Ok(Vec::new());
    }
    let yaml = SnapYaml::parse(&rev.snap_yaml).map_err(|e| {
        Error::new(
            ErrorKind::InvalidSnap,
            format!(
                "\"{}\" revision {}: snap.yaml: {e}",
                snap.name, rev.revision
            ),
        )
    })?;
    let launcher = &engine.inner.cfg.launcher;
    let launch = Launch {
        confine: &launcher.confine,
        root: launcher.root.as_deref(),
    };
    units::snap_services(&snap.name, &rev.revision, &yaml, &launch).map_err(|e| {
        Error::new(
            ErrorKind::InvalidSnap,
            // Translators: {why} says what is wrong with the services' snap.yaml, in English.
            crate::lang::gettext("\"{snap}\" revision {revision}: cannot make its services: {why}")
                .replace("{snap}", &snap.name)
                .replace("{revision}", &rev.revision)
                .replace("{why}", &e.to_string()),
        )
    })
}

/// The names of the files in the system and the user directory `dir` gives (unit files or D-Bus
/// activation files), each with its scope; a directory not made yet has none.
pub(crate) fn scope_files(
    paths: &Paths,
    dir: fn(&Paths, Scope) -> PathBuf,
) -> Result<Vec<(Scope, PathBuf, String)>> {
    let mut out = Vec::new();
    for scope in [Scope::System, Scope::User] {
        let dir = dir(paths, scope);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).what("read", &dir),
        };
        for entry in entries {
            // We write only UTF-8 names: another name is no file of ours.
            if let Ok(file) = entry.what("read", &dir)?.file_name().into_string() {
                out.push((scope, dir.clone(), file));
            }
        }
    }
    Ok(out)
}

/// The unit files of the snap now on disk, with their scope: `snap.<name>.*` in both directories.
pub(crate) fn files_on_disk(paths: &Paths, name: &str) -> Result<Vec<(Scope, String)>> {
    let prefix = format!("snap.{name}.");
    let mut out: Vec<(Scope, String)> = scope_files(paths, unit_dir)?
        .into_iter()
        .filter(|(_, _, file)| {
            let ours = [".service", ".timer", ".socket"]
                .iter()
                .any(|s| file.ends_with(s));
            // `snap.a.b.service` is snap `a`'s; snap `a.b` cannot exist (names have no dots).
            ours && file.strip_prefix(&prefix).is_some_and(|r| !r.is_empty())
        })
        .map(|(scope, _, file)| (scope, file))
        .collect();
    out.sort();
    Ok(out)
}

/// Write every file of the services (atomically, 0644), then take away the snap's other unit
/// files (daemons the revision no longer has). Returns the files taken away.
pub(crate) fn write_files(paths: &Paths, name: &str, services: &[Service]) -> Result<Vec<String>> {
    activation::check_free(paths, name, services)?;
    let mut keep = Vec::new();
    for s in services {
        let dir = unit_dir(paths, s.scope);
        std::fs::create_dir_all(&dir).what("create", &dir)?;
        for f in s.files() {
            write_atomic(&dir.join(&f.name), &f.text)?;
            keep.push((s.scope, f.name.clone()));
        }
    }
    let mut gone = Vec::new();
    for (scope, file) in files_on_disk(paths, name)? {
        if !keep.contains(&(scope, file.clone())) {
            remove_file(&unit_dir(paths, scope).join(&file))?;
            gone.push(file);
        }
    }
    activation::sync(paths, name, services)?;
    Ok(gone)
}

/// Remove every unit file of the snap (and the user units' enablement links).
pub(crate) fn remove_files(paths: &Paths, name: &str) -> Result<()> {
    for (scope, file) in files_on_disk(paths, name)? {
        if scope == Scope::User {
            user_enable(paths, &file, false)?;
        }
        remove_file(&unit_dir(paths, scope).join(&file))?;
    }
    activation::sync(paths, name, &[])
}

pub(crate) fn write_atomic(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp~");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)
        .what("create", &tmp)?;
    f.write_all(text.as_bytes()).what("write", &tmp)?;
    f.sync_all().what("sync", &tmp)?;
    std::fs::rename(&tmp, path).what("rename into place", path)?;
    Ok(())
}

pub(crate) fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).what("remove", path),
        _ => Ok(()),
    }
}

/// User units are enabled for every user (`systemctl --global enable`): a link in
/// `/etc/systemd/user/<target>.wants/`; user sessions' managers start them at login.
pub(crate) fn user_enable(paths: &Paths, unit: &str, enable: bool) -> Result<()> {
    let target = if unit.ends_with(".timer") {
        "timers.target"
    } else if unit.ends_with(".socket") {
        "sockets.target"
    } else {
        "default.target"
    };
    let dir = unit_dir(paths, Scope::User).join(format!("{target}.wants"));
    let link = dir.join(unit);
    remove_file(&link)?;
    if enable {
        std::fs::create_dir_all(&dir).what("create", &dir)?;
        std::os::unix::fs::symlink(format!("../{unit}"), &link).what("link", &link)?;
    }
    Ok(())
}

/// Whether a user unit is enabled for every user (its link in `/etc/systemd/user/…wants/`).
pub(crate) fn user_enabled(paths: &Paths, unit: &str) -> bool {
    let target = if unit.ends_with(".timer") {
        "timers.target"
    } else if unit.ends_with(".socket") {
        "sockets.target"
    } else {
        "default.target"
    };
    let link = unit_dir(paths, Scope::User)
        .join(format!("{target}.wants"))
        .join(unit);
    link.symlink_metadata().is_ok()
}

/// The system's service manager when the helper manages `/` and systemd runs it.
pub(crate) async fn manager(paths: &Paths) -> Option<Systemd> {
    if paths.root() != Path::new("/") {
        return None;
    }
    Systemd::connect().await
}

/// Run async service work from a task's (synchronous) undo: on a thread of its own with its own
/// runtime, so that it works whichever runtime the undo is called from.
pub(crate) fn block<T: Send>(
    work: impl std::future::Future<Output = Result<T>> + Send,
) -> Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(Error::internal)?
                .block_on(work)
        })
        .join()
        .map_err(|_| Error::internal("the service work panicked"))?
    })
}
