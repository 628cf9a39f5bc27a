//! What linking a revision writes outside the state database: the `current` links, the sandbox
//! profiles confine reads, and the `/snap/bin` launchers. Every write is atomic (temporary file or
//! link, then rename), so a crash leaves either the old or the new file.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use snapshelf_snap::profile::{
    Profile, ProfileContent, ProfileLayout, ProfilePlug, PROFILE_VERSION,
};
use snapshelf_snap::yaml::SnapYaml;

use crate::error::{Error, ErrorKind, Result};
use crate::interfaces;
use crate::io::IoContext;
use crate::paths::Paths;
use crate::state::SnapState;

/// How launchers start confine.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub confine: PathBuf,
    /// Passed as `--root` when the helper manages a root other than `/`.
    pub root: Option<PathBuf>,
}

pub(crate) fn replace_symlink(link: &Path, target: &str) -> Result<()> {
    let tmp = link.with_file_name(format!(
        ".{}.tmp",
        link.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).what("create the link", &tmp)?;
    std::fs::rename(&tmp, link).what("rename a link to", link)?;
    Ok(())
}

pub(super) fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let mut f = std::fs::File::create(&tmp).what("create", &tmp)?;
    f.write_all(bytes).what("write", &tmp)?;
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    f.sync_all().what("write", &tmp)?;
    std::fs::rename(&tmp, path).what("rename a file to", path)?;
    Ok(())
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The command a launcher for `<snap>.<app>` is reached by: `snap` when the app has the snap's name.
pub fn command_name(snap: &str, app: &str) -> String {
    if snap == app {
        snap.to_string()
    } else {
        format!("{snap}.{app}")
    }
}

pub fn parse_yaml(snap: &SnapState, revision: &str) -> Result<SnapYaml> {
    let rev = snap.revision(revision).ok_or_else(|| {
        Error::internal(format!(
            "{} has no revision {revision} in its state",
            snap.name
        ))
    })?;
    SnapYaml::parse(&rev.snap_yaml)
        .map_err(|e| Error::new(ErrorKind::InvalidSnap, format!("meta/snap.yaml: {e}")))
}

/// The profiles of every app of the snap's current revision.
pub fn profiles_for(
    snap: &SnapState,
    base_revision: &str,
    content: &[ProfileContent],
) -> Result<Vec<Profile>> {
    let yaml = parse_yaml(snap, &snap.current)?;
    let common = ProfileCommon::of(snap, &yaml, base_revision, content)?;
    let mut out = Vec::new();
    for (app_name, app) in &yaml.apps {
        let mut env = yaml.environment.clone();
        env.extend(app.environment.iter().cloned());
        let plugs = yaml
            .plugs_for_app(app_name)
            .into_iter()
            .map(|(plug, interface)| common.plug(plug, interface))
            .collect();
        let command = app
            .command
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let chain = app.command_chain.clone();
        out.push(common.profile(app_name.clone(), (command, chain), env, plugs));
    }
    Ok(out)
}

/// What every profile of a snap's current revision shares, an app's or a hook's: the snap, its
/// revision, base, layouts and content mounts, and how a plug's connection and attributes are read.
pub(super) struct ProfileCommon<'a> {
    snap: &'a SnapState,
    yaml: &'a SnapYaml,
    snap_version: String,
    base_revision: &'a str,
    layouts: Vec<ProfileLayout>,
    content: &'a [ProfileContent],
}

impl<'a> ProfileCommon<'a> {
    pub(super) fn of(
        snap: &'a SnapState,
        yaml: &'a SnapYaml,
        base_revision: &'a str,
        content: &'a [ProfileContent],
    ) -> Result<Self> {
        let rev = snap
            .current_revision()
            .ok_or_else(|| Error::internal("no current revision"))?;
        Ok(ProfileCommon {
            snap,
            yaml,
            snap_version: rev.version.clone(),
            base_revision,
            layouts: layouts_of(yaml),
            content,
        })
    }

    /// One plug of the profile, with whether it is connected and its attributes.
    pub(super) fn plug(&self, plug: String, interface: String) -> ProfilePlug {
        ProfilePlug {
            // A content plug is connected when a provider's slot is (and still holds).
            connected: if interface == "content" {
                self.content.iter().any(|c| c.plug == plug)
            } else {
                interfaces::state_of(self.snap, &plug, &interface).0
            },
            attrs: self
                .yaml
                .plugs
                .get(&plug)
                .map(|p| crate::plug_attrs::for_profile(&interface, &p.attrs))
                .unwrap_or_default(),
            name: plug,
            interface,
        }
    }

    /// The profile of `app` (an app's name or a hook's `hook.<name>`), running `command` through
    /// `chain` (its command chain) with `environment` and `plugs`.
    pub(super) fn profile(
        &self,
        app: String,
        (command, chain): (Vec<String>, Vec<String>),
        environment: Vec<(String, String)>,
        plugs: Vec<ProfilePlug>,
    ) -> Profile {
        let snap = self.snap;
        let bus_names = crate::dbus_names::for_app(self.yaml, &snap.name, &app, &plugs);
        Profile {
            version: PROFILE_VERSION,
            snap: snap.name.clone(),
            app,
            revision: snap.current.clone(),
            snap_version: self.snap_version.clone(),
            confinement: snap.confinement.clone(),
            base: crate::engine::bases::of_snap(snap)
                .unwrap_or_default()
                .to_string(),
            base_revision: self.base_revision.to_string(),
            architecture: crate::store::dpkg_architecture().to_string(),
            command,
            command_chain: chain,
            environment,
            layouts: self.layouts.clone(),
            plugs,
            bus_names,
            content: self.content.to_vec(),
        }
    }
}

/// The snap's layouts as profiles carry them.
pub(super) fn layouts_of(yaml: &SnapYaml) -> Vec<ProfileLayout> {
    yaml.layout
        .iter()
        .map(|l| {
            use snapshelf_snap::layout::LayoutKind;
            let (kind, source) = match &l.kind {
                LayoutKind::Bind(s) => ("bind", s.clone()),
                LayoutKind::BindFile(s) => ("bind-file", s.clone()),
                LayoutKind::Symlink(s) => ("symlink", s.clone()),
                LayoutKind::Tmpfs => ("tmpfs", String::new()),
            };
            ProfileLayout {
                path: l.path.clone(),
                kind: kind.into(),
                source,
                mode: l.mode,
            }
        })
        .collect()
}

/// Profiles and launchers that belong to `name` (whatever revision wrote them).
fn owned_files(dir: &Path, name: &str, suffix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let file = e.file_name().into_string().ok()?;
            let stem = file.strip_suffix(suffix)?;
            (stem == name || stem.starts_with(&format!("{name}."))).then(|| e.path())
        })
        .collect()
}

/// The snap's apps as the desktop export needs them. `desktop-file-ids` keep a file's own name only
/// for a snap installed from a file: for a store snap snapd allows them only when its
/// snap-declaration does (the base declaration's `allow-installation` has `desktop-file-ids:
/// $MISSING`), which Snapshelf does not evaluate, so a store snap's names stay prefixed (a snap
/// could otherwise shadow another program's desktop file).
fn gui_apps(snap: &SnapState, profiles: &[Profile]) -> crate::desktop::GuiApps {
    let yaml = parse_yaml(snap, &snap.current).ok();
    let daemons = yaml
        .iter()
        .flat_map(|y| y.apps.iter())
        .filter(|(_, a)| a.daemon.is_some())
        .map(|(n, _)| n.clone())
        .collect();
    let file_ids = match &yaml {
        Some(y) if snap.is_local() => crate::plug_attrs::desktop_file_ids(y),
        _ => Vec::new(),
    };
    crate::desktop::GuiApps {
        apps: profiles.iter().map(|p| p.app.clone()).collect(),
        daemons,
        file_ids,
    }
}

/// Point everything at the snap's current revision.
pub fn apply(
    paths: &Paths,
    snap: &SnapState,
    base_revision: &str,
    content: &[ProfileContent],
    launcher: &Launcher,
) -> Result<()> {
    let name = &snap.name;
    let snap_dir = paths.snap_dir(name);
    std::fs::create_dir_all(&snap_dir).what("create", &snap_dir)?;
    replace_symlink(&paths.snap_dir(name).join("current"), &snap.current)?;
    let data_root = paths.data_root(name);
    std::fs::create_dir_all(&data_root).what("create", &data_root)?;
    replace_symlink(&paths.data_root(name).join("current"), &snap.current)?;
    crate::snapctl::cookie::ensure(paths, name)?;

    let profiles = if snap.snap_type == "app" {
        profiles_for(snap, base_revision, content)?
    } else {
        Vec::new()
    };
    for c in content {
        crate::engine::content::make_dirs(paths, snap, c);
    }
    if let Some(p) = profiles.first() {
        layout_sources(paths, snap, &p.layouts);
    }
    if snap.snap_type == "app" {
        let apps = gui_apps(snap, &profiles);
        crate::desktop::export(
            paths,
            name,
            &apps,
            &paths.blob(name, &snap.current),
            launcher,
        )?;
    }
    let pdir = paths.profiles_dir();
    std::fs::create_dir_all(&pdir).what("create", &pdir)?;
    std::fs::set_permissions(&pdir, std::fs::Permissions::from_mode(0o755))
        .what("set the mode of", &pdir)?;
    let bin = paths.bin_dir();
    std::fs::create_dir_all(&bin).what("create", &bin)?;
    let mut keep_profiles = BTreeSet::new();
    let mut keep_launchers = BTreeSet::new();
    for p in &profiles {
        let file = pdir.join(Profile::file_name(name, &p.app));
        write_atomic(&file, p.to_json().as_bytes(), 0o644)?;
        keep_profiles.insert(file);
        let cmd = command_name(name, &p.app);
        let launcher_path = bin.join(&cmd);
        write_atomic(
            &launcher_path,
            launcher_script(launcher, name, &p.app, p.confinement == "classic").as_bytes(),
            0o755,
        )?;
        keep_launchers.insert(launcher_path);
    }
    // Hooks: a profile each (run by the helper through confine), no launcher.
    let hooks = if snap.snap_type == "app" {
        super::hooks::profiles(paths, snap, base_revision, content)?
    } else {
        Vec::new()
    };
    for p in hooks {
        let file = pdir.join(Profile::file_name(name, &p.app));
        write_atomic(&file, p.to_json().as_bytes(), 0o644)?;
        keep_profiles.insert(file);
    }
    for stale in owned_files(&pdir, name, ".json") {
        if !keep_profiles.contains(&stale) {
            remove_if_exists(&stale)?;
        }
    }
    for stale in owned_files(&bin, name, "") {
        if !keep_launchers.contains(&stale) {
            remove_if_exists(&stale)?;
        }
    }
    // The system bus's policy for the revision's `dbus` slots on it (only the current
    // revision's: a revert or an undo that links the old one writes the old ones back).
    let slots = if snap.snap_type == "app" {
        crate::dbus_iface::system_slots(&parse_yaml(snap, &snap.current)?)
    } else {
        Vec::new()
    };
    super::bus_policy::sync(paths, name, &slots)?;
    // The aliases' links follow the revision's apps. A link that cannot be made does not stop the
    // snap's own: the change's refresh-aliases task reports it (and start-up logs it).
    let aliases = if snap.snap_type == "app" {
        super::aliases::usable(snap)?
    } else {
        Default::default()
    };
    if let Err(e) = super::aliases::sync_links(paths, name, &aliases) {
        tracing::warn!(snap = %name, error = %e.message, "alias links not made");
    }
    Ok(())
}

/// Create the layout sources that live in the snap's data directories (`$SNAP_DATA`,
/// `$SNAP_COMMON`), so that confine finds them even when it runs without privileges. Links are never
/// followed: a path that meets one is left alone (confine then reports it).
fn layout_sources(paths: &Paths, snap: &SnapState, layouts: &[ProfileLayout]) {
    use snapshelf_snap::layout::{expand_source, SourceRoots};
    let name = &snap.name;
    let data = paths.data_dir(name, &snap.current);
    let common = paths.common_dir(name);
    let roots = SourceRoots {
        // $SNAP is the read-only snap itself: nothing to create there.
        snap: PathBuf::from("/nonexistent"),
        data: data.clone(),
        common: common.clone(),
    };
    for l in layouts {
        if !matches!(l.kind.as_str(), "bind" | "bind-file") || l.source.starts_with("$SNAP/") {
            continue;
        }
        let Ok(src) = expand_source(&l.source, &roots) else {
            continue;
        };
        let (base, rel) = if let Ok(r) = src.strip_prefix(&data) {
            (data.clone(), r.to_path_buf())
        } else if let Ok(r) = src.strip_prefix(&common) {
            (common.clone(), r.to_path_buf())
        } else {
            continue;
        };
        let parts: Vec<_> = rel.components().collect();
        let mut cur = base;
        for (i, c) in parts.iter().enumerate() {
            cur.push(c);
            let last = i + 1 == parts.len();
            match std::fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => {
                    tracing::warn!(path = %cur.display(), "a layout source meets a symbolic link; not created");
                    break;
                }
                Ok(_) => {}
                Err(_) if last && l.kind == "bind-file" => {
                    let _ = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&cur);
                }
                Err(_) => {
                    if std::fs::create_dir(&cur).is_err() {
                        break;
                    }
                }
            }
        }
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The `/snap/bin` launcher. A classic app's also saves the loader's variables, which a confine
/// with file capabilities would not get (`snapshelf_snap::saved_env`, as `snap run` does).
fn launcher_script(l: &Launcher, snap: &str, app: &str, classic: bool) -> String {
    let root = l
        .root
        .as_ref()
        .map(|r| format!(" --root {}", shell_quote(&r.display().to_string())))
        .unwrap_or_default();
    let save = if classic {
        snapshelf_snap::saved_env::shell_save()
    } else {
        String::new()
    };
    format!(
        "#!/bin/sh\n# Written by snapshelf-helper: runs {snap}.{app} in its sandbox.\n{save}exec {}{root} {} \"$@\"\n",
        shell_quote(&l.confine.display().to_string()),
        shell_quote(&format!("{snap}.{app}"))
    )
}

/// Take the snap out of use: links, profiles, launchers, aliases. Idempotent.
pub fn remove(paths: &Paths, name: &str) -> Result<()> {
    crate::desktop::unexport(paths, name);
    super::aliases::sync_links(paths, name, &Default::default())?;
    crate::snapctl::cookie::remove(paths, name)?;
    remove_if_exists(&paths.snap_dir(name).join("current"))?;
    remove_if_exists(&paths.data_root(name).join("current"))?;
    for f in owned_files(&paths.profiles_dir(), name, ".json") {
        remove_if_exists(&f)?;
    }
    for f in owned_files(&paths.bin_dir(), name, "") {
        remove_if_exists(&f)?;
    }
    super::bus_policy::sync(paths, name, &[])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_names() {
        assert_eq!(command_name("hello", "hello"), "hello");
        assert_eq!(command_name("hello", "env"), "hello.env");
    }

    #[test]
    fn launchers_quote_everything() {
        let l = Launcher {
            confine: PathBuf::from("/usr/libexec/snapshelf-confine"),
            root: Some(PathBuf::from("/tmp/it's here")),
        };
        let s = launcher_script(&l, "hello", "env", false);
        assert!(s.contains("'/tmp/it'\\''s here'"));
        assert!(s.contains("'hello.env' \"$@\""));
        assert!(!s.contains("SNAP_SAVED_"));
    }

    #[test]
    fn classic_launchers_save_the_loaders_variables() {
        let dir = tempfile::tempdir().unwrap();
        // A stand-in for confine that shows what it was given.
        let confine = dir.path().join("confine");
        std::fs::write(&confine, "#!/bin/sh\necho \"args=$*\"; env\n").unwrap();
        std::fs::set_permissions(&confine, std::fs::Permissions::from_mode(0o755)).unwrap();
        let l = Launcher {
            confine: confine.clone(),
            root: None,
        };
        let script = dir.path().join("tool");
        std::fs::write(&script, launcher_script(&l, "tool", "tool", true)).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = std::process::Command::new(&script)
            .arg("--flag")
            .env("LD_LIBRARY_PATH", "/opt/tool/lib")
            .env_remove("LD_PRELOAD")
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&out.stdout);
        assert!(out.contains("args=tool.tool --flag"), "{out}");
        assert!(
            out.lines()
                .any(|l| l == "SNAP_SAVED_LD_LIBRARY_PATH=/opt/tool/lib"),
            "{out}"
        );
        assert!(!out.contains("SNAP_SAVED_LD_PRELOAD"), "{out}");
    }

    #[test]
    fn owned_files_match_the_snap_only() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "hello.json",
            "hello.env.json",
            "hello-world.json",
            "other.json",
        ] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        let mut found: Vec<String> = owned_files(dir.path(), "hello", ".json")
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        found.sort();
        assert_eq!(found, ["hello.env.json", "hello.json"]);
    }
}
