//! `snapshelfctl autostart`: run at the start of each desktop session (our XDG autostart entry,
//! `data/autostart/io.github.snapshelf.Snapshelf.Autostart.desktop`), as snapd's
//! `snap userd --autostart`: `~/snap` is made private (0700) again when it is open to others
//! (snap-user-dir-perms-fixed), then each `~/snap/<snap>/current/.config/autostart/<file>.desktop`
//! that an app of the snap names in its `autostart:` key starts that app, in its sandbox, with the
//! arguments of the file's `Exec` line (the command itself is replaced by the app's launch: a snap
//! cannot have the session run anything else). Files the session should not start (`Hidden`,
//! `OnlyShowIn`, `NotShowIn`, GNOME's `X-GNOME-Autostart-enabled`) are left alone.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use gettextrs::gettext;
use snapshelf_snap::yaml::SnapYaml;

use crate::failure::{Failure, Res};

/// Fix `~/snap`, then start every autostart file's app; the files that could not be started are
/// reported together at the end (one bad file does not keep the others from starting).
pub(crate) fn autostart() -> Res<()> {
    let home = home_dir()?;
    let snap_dir = home.join("snap");
    if let Err(e) = make_private(&snap_dir) {
        eprintln!("{e}");
    }
    let desktops = current_desktops();
    let mut failed = Vec::new();
    for (snap, file) in autostart_files(&snap_dir) {
        if let Err(why) = start(&snap, &file, &desktops) {
            failed.push(format!("- {:?}: {why}", file_name(&file)));
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(Failure::own(
        format!("{}\n{}", gettext("autostart failed:"), failed.join("\n")),
        1,
    ))
}

/// The user's home as the password database has it (snapd's `user.Current()`), else `$HOME`.
fn home_dir() -> Res<PathBuf> {
    let uid = nix::unistd::getuid();
    if let Ok(Some(u)) = nix::unistd::User::from_uid(uid) {
        return Ok(u.dir);
    }
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .ok_or_else(|| Failure::own(gettext("cannot find the home folder"), 1))
}

/// `~/snap` at mode 0700 when it is the user's own folder open to others; a link or another's
/// folder is left alone.
fn make_private(dir: &Path) -> Result<(), String> {
    let Ok(meta) = dir.symlink_metadata() else {
        return Ok(());
    };
    use std::os::unix::fs::MetadataExt;
    if !meta.is_dir() || meta.uid() != nix::unistd::getuid().as_raw() || meta.mode() & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
        gettext("cannot make {path} private: {why}")
            .replace("{path}", &dir.display().to_string())
            .replace("{why}", &e.to_string())
    })
}

/// `(snap, file)` for each `<snap_dir>/<snap>/current/.config/autostart/*.desktop`, sorted.
fn autostart_files(snap_dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(snaps) = std::fs::read_dir(snap_dir) else {
        return out;
    };
    for snap in snaps.flatten() {
        // Only folders named as snaps are looked into (the name goes into a path).
        let Some(name) = snap
            .file_name()
            .into_string()
            .ok()
            .filter(|n| snapshelf_snap::naming::validate_instance_name(n).is_ok())
        else {
            continue;
        };
        let dir = snap.path().join("current/.config/autostart");
        let Ok(files) = std::fs::read_dir(&dir) else {
            continue;
        };
        for f in files.flatten() {
            if f.file_name().to_string_lossy().ends_with(".desktop") {
                out.push((name.clone(), f.path()));
            }
        }
    }
    out.sort();
    out
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `$XDG_CURRENT_DESKTOP`'s names.
fn current_desktops() -> Vec<String> {
    std::env::var("XDG_CURRENT_DESKTOP")
        .unwrap_or_default()
        .split(':')
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect()
}

/// Start the app of `snap` whose `autostart:` is the file's name, with the file's arguments.
fn start(snap: &str, file: &Path, desktops: &[String]) -> Result<(), String> {
    let app = autostart_app(snap, &file_name(file))?;
    let text = std::fs::read_to_string(file).map_err(|e| read_error(file, &e.to_string()))?;
    let entry = crate::desktop_entry::Entry::parse(&text).map_err(|e| read_error(file, &e))?;
    if !entry.should_autostart(desktops) {
        return Ok(());
    }
    let argv = entry.exec_args().map_err(|e| read_error(file, &e))?;
    let tag = format!("{snap}.{app}");
    let mut cmd = crate::run_app::confine_command(&tag, false).map_err(|f| f.message)?;
    cmd.args(argv.iter().skip(1));
    cmd.spawn().map(drop).map_err(|e| {
        gettext("cannot autostart {file}: {why}")
            .replace("{file}", &file_name(file))
            .replace("{why}", &e.to_string())
    })
}

fn read_error(file: &Path, why: &str) -> String {
    gettext("cannot read {path}: {why}")
        .replace("{path}", &file.display().to_string())
        .replace("{why}", why)
}

/// The app of the snap's current revision whose `autostart:` names `file`.
fn autostart_app(snap: &str, file: &str) -> Result<String, String> {
    let root = std::env::var_os("SNAPSHELF_ROOT").map_or_else(|| PathBuf::from("/"), PathBuf::from);
    let yaml_path = root.join("snap").join(snap).join("current/meta/snap.yaml");
    let text =
        std::fs::read_to_string(&yaml_path).map_err(|e| read_error(&yaml_path, &e.to_string()))?;
    let yaml = SnapYaml::parse(&text).map_err(|e| read_error(&yaml_path, &e.to_string()))?;
    yaml.apps
        .iter()
        .find(|(_, a)| a.autostart.as_deref() == Some(file))
        .map(|(name, _)| name.clone())
        .ok_or_else(|| {
            gettext("cannot match desktop file with snap {snap} applications")
                .replace("{snap}", snap)
        })
}
