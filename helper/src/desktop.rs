//! Desktop integration: each installed snap's `meta/gui/*.desktop` files and icons, exported under
//! `/var/lib/snapshelf/desktop/` (`applications/`, `icons/`), which the packaging adds to
//! `XDG_DATA_DIRS`. Only regular files are read from the snap (through the squashfs reader, never
//! through the mount), and every name the helper writes is made here from checked parts, so nothing a
//! snap ships can make the helper write outside the export directory (snapd's CVE-2024-29068/29069).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use snapshelf_snap::squashfs::SnapFile;

use crate::engine::files::Launcher;
use crate::error::{Error, ErrorKind, Result};
use crate::io::IoContext;
use crate::paths::Paths;

/// Keys kept in `[Desktop Entry]` and `[Desktop Action …]` groups (with their `[locale]` forms for the
/// localizable ones). Everything else (`TryExec`, `Path`, `DBusActivatable`, `X-*` …) is dropped.
const KEYS: &[&str] = &[
    "Type",
    "Version",
    "Name",
    "GenericName",
    "NoDisplay",
    "Comment",
    "Icon",
    "Hidden",
    "OnlyShowIn",
    "NotShowIn",
    "Exec",
    "Terminal",
    "Actions",
    "MimeType",
    "Categories",
    "Keywords",
    "StartupNotify",
    "StartupWMClass",
    "PrefersNonDefaultGPU",
    "SingleMainWindow",
];
const LOCALIZABLE: &[&str] = &["Name", "GenericName", "Comment", "Keywords"];

/// At most this much of a desktop file is read.
const MAX_DESKTOP: usize = 64 << 10;

/// A theme icon bigger than this is not exported (snapd refuses store icons over 300 kB).
const MAX_THEME_ICON: usize = 512 * 1024;

/// What the export needs of a snap's apps.
#[derive(Debug, Clone, Default)]
pub struct GuiApps {
    pub apps: BTreeSet<String>,
    /// Daemons: a menu entry cannot start one (snapd writes `Exec=/usr/bin/false`).
    pub daemons: BTreeSet<String>,
    /// `<id>.desktop` names kept as they are (the `desktop` plugs' `desktop-file-ids`).
    pub file_ids: Vec<String>,
}

fn safe_component(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+@".contains(&b))
}

/// Quote one argument for a desktop file's `Exec` (the specification's double-quote rules).
fn quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| !c.is_whitespace() && !"\"'\\><~|&;$*?#()`".contains(c))
    {
        return arg.to_string();
    }
    let mut out = String::from("\"");
    for c in arg.chars() {
        if "\"`$\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// What an `Exec` value launches: `<snap>.<app>`, `<snap>` (its app of that name) or
/// `/snap/bin/…` of those. Returns the app and the rest of the line, or why not.
fn exec_target<'a>(
    snap: &str,
    apps: &BTreeSet<String>,
    exec: &'a str,
) -> std::result::Result<(String, &'a str), String> {
    let exec = exec.trim();
    // `env VAR=value … cmd` prefixes (snapcraft adds BAMF hints) are dropped, not trusted.
    let mut rest = exec;
    let mut first;
    loop {
        let (w, r) = rest
            .split_once(char::is_whitespace)
            .map(|(a, b)| (a, b.trim_start()))
            .unwrap_or((rest, ""));
        first = w;
        rest = r;
        if first == "env" || (first.contains('=') && !first.starts_with('/')) {
            if rest.is_empty() {
                return Err("Exec has no command".into());
            }
            continue;
        }
        break;
    }
    let cmd = first.strip_prefix("/snap/bin/").unwrap_or(first);
    let app = match cmd.split_once('.') {
        Some((s, a)) if s == snap => a.to_string(),
        None if cmd == snap => snap.to_string(),
        _ => return Err(format!("Exec runs {first:?}, not an app of {snap:?}")),
    };
    if !apps.contains(&app) {
        return Err(format!("Exec runs {first:?}: {snap:?} has no app {app:?}"));
    }
    Ok((app, rest))
}

/// The sanitised text of one desktop file, or why it is not exported.
/// `[Desktop Entry]`, or a `[Desktop Action <id>]` with a plain id: the groups that are kept.
fn kept_group(g: &str) -> bool {
    g == "Desktop Entry"
        || g.strip_prefix("Desktop Action ")
            .map(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(false)
}

/// A whitelisted key as (key, locale); `None` for a key that is left out.
fn allowed_key(key: &str) -> Option<(&str, Option<&str>)> {
    let (base, locale) = match key.split_once('[') {
        // `Name[de` or `Name[de]x` is not a localized key: left out, not copied as written.
        Some((b, l)) => match l.strip_suffix(']') {
            Some(l) if !l.contains(['[', ']']) => (b, Some(l)),
            _ => return None,
        },
        None => (key, None),
    };
    if !KEYS.contains(&base) {
        return None;
    }
    if let Some(l) = locale {
        let plain = l
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@.-".contains(c));
        if !LOCALIZABLE.contains(&base) || l.is_empty() || !plain {
            return None;
        }
    }
    Some((base, locale))
}

/// `Exec` through confine: `<confine> [--root R] <snap>.<app> <the app's arguments>`; for a
/// daemon `/usr/bin/false`, as snapd writes it (the service manager starts it, not a menu).
fn exec_line(
    snap: &str,
    apps: &GuiApps,
    value: &str,
    launcher: &Launcher,
) -> std::result::Result<String, String> {
    let (app, rest) = exec_target(snap, &apps.apps, value)?;
    if apps.daemons.contains(&app) {
        return Ok("/usr/bin/false".into());
    }
    let mut line = quote(&launcher.confine.display().to_string());
    if let Some(r) = &launcher.root {
        line.push_str(&format!(" --root {}", quote(&r.display().to_string())));
    }
    line.push_str(&format!(" {snap}.{app}"));
    if !rest.is_empty() {
        line.push(' ');
        line.push_str(rest);
    }
    Ok(line)
}

/// A path in the snap becomes the exported icon (if there is one); a theme name is kept.
fn icon_value(value: &str, exported: Option<&str>) -> Option<String> {
    if value.contains('/') || value.starts_with("${SNAP}") || value.starts_with("$SNAP") {
        exported.map(str::to_string)
    } else {
        safe_component(value).then(|| value.to_string())
    }
}

pub fn sanitise(
    snap: &str,
    apps: &GuiApps,
    text: &str,
    launcher: &Launcher,
    icon: Option<&str>,
) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut group: Option<String> = None;
    let mut in_main = false;
    let mut saw_main = false;
    let mut has_name = false;
    let mut has_exec = false;
    for raw in text.lines() {
        let line = raw.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(g) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let keep = kept_group(g);
            if in_main {
                out.push_str(&format!("X-SnapInstanceName={snap}\n"));
            }
            in_main = g == "Desktop Entry";
            if in_main {
                if saw_main {
                    return Err("two [Desktop Entry] groups".into());
                }
                saw_main = true;
            }
            group = keep.then(|| g.to_string());
            if keep {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&format!("[{g}]\n"));
            }
            continue;
        }
        let Some(g) = &group else { continue };
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("a line that is not key=value: {line:?}"));
        };
        let (key, value) = (key.trim(), value.trim());
        let Some((base, locale)) = allowed_key(key) else {
            continue;
        };
        if value.chars().any(|c| c.is_control()) {
            continue;
        }
        match base {
            "Exec" => {
                let line = exec_line(snap, apps, value, launcher)?;
                out.push_str(&format!("Exec={line}\n"));
                if g == "Desktop Entry" {
                    has_exec = true;
                }
            }
            "Icon" => {
                if let Some(i) = icon_value(value, icon) {
                    out.push_str(&format!("Icon={i}\n"));
                }
            }
            _ => {
                if base == "Name" && locale.is_none() && g == "Desktop Entry" {
                    has_name = true;
                }
                out.push_str(&format!("{key}={value}\n"));
            }
        }
    }
    if in_main {
        out.push_str(&format!("X-SnapInstanceName={snap}\n"));
    }
    complete(out, saw_main, has_name, has_exec)
}

/// A sanitised file must have kept its main group, a `Name` and an `Exec`; `Type` defaults to
/// `Application`.
fn complete(
    out: String,
    saw_main: bool,
    has_name: bool,
    has_exec: bool,
) -> std::result::Result<String, String> {
    if !saw_main {
        return Err("no [Desktop Entry] group".into());
    }
    if !has_name {
        return Err("no Name".into());
    }
    if !has_exec {
        return Err("no Exec".into());
    }
    if out.contains("\nType=") {
        return Ok(out);
    }
    Ok(out.replacen(
        "[Desktop Entry]\n",
        "[Desktop Entry]\nType=Application\n",
        1,
    ))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, bytes).what("write", &tmp)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))
        .what("set the mode of", &tmp)?;
    std::fs::rename(&tmp, path).what("rename a file to", path)
}

fn applications(paths: &Paths) -> PathBuf {
    paths.desktop_dir().join("applications")
}

fn icons(paths: &Paths) -> PathBuf {
    paths.desktop_dir().join("icons")
}

/// Where a theme icon the snap ships under `meta/gui/icons/` goes below `icons/`, if it is one the
/// export takes: `hicolor/<N>x<N>|scalable/apps/snap.<name>.<icon>.png|svg`, the names snapd takes,
/// so a snap can only add icons under its own prefix, never replace another app's.
fn theme_icon_target(name: &str, rel: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = rel.split('/').collect();
    let ["hicolor", size, "apps", file] = parts[..] else {
        return None;
    };
    let sized = size == "scalable"
        || size.split_once('x').is_some_and(|(w, h)| {
            w == h && (1..=4).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_digit())
        });
    let (icon, ext) = file
        .strip_prefix(&format!("snap.{name}."))?
        .rsplit_once('.')?;
    (sized && matches!(ext, "png" | "svg") && safe_component(icon) && safe_component(file))
        .then(|| PathBuf::from(format!("hicolor/{size}/apps/{file}")))
}

/// The theme icons of `name` in the export.
fn owned_theme_icons(icons_dir: &Path, name: &str) -> Vec<PathBuf> {
    let prefix = format!("snap.{name}.");
    std::fs::read_dir(icons_dir.join("hicolor"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .flat_map(|size| {
            std::fs::read_dir(size.path().join("apps"))
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok())
                .map(|e| e.path())
        })
        .filter(|p| {
            p.file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with(&prefix))
        })
        .collect()
}

/// Not under `applications/` or `icons/`, which the desktop reads.
fn stamps(paths: &Paths) -> PathBuf {
    paths.desktop_dir().join(".exported")
}

/// The exported name of the snap's `meta/gui/<file>` (`file` ends in `.desktop`): as it is when a
/// `desktop` plug lists it in `desktop-file-ids`, else `<snap>_<file>` with every character but
/// letters, digits, `_`, `-` and `.` made `_` (snapd's `MangleDesktopFileName`). Either way a
/// plain file name: ids were checked at install to be D-Bus names.
fn export_name(snap: &str, file: &str, ids: &[String]) -> String {
    if ids.iter().any(|id| id == file) {
        return file.to_string();
    }
    let clean: String = file
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{snap}_{clean}")
}

/// Whether an exported desktop file says it is `name`'s (its `X-SnapInstanceName=` line).
fn says_owner(path: &Path, name: &str) -> bool {
    let want = format!("X-SnapInstanceName={name}");
    std::fs::read_to_string(path).is_ok_and(|t| t.lines().any(|l| l == want))
}

/// Desktop files of the export that belong to `name`: its prefixed ones, and those kept under
/// their own name (`desktop-file-ids`) that say they are its.
fn owned_desktop(dir: &Path, name: &str) -> Vec<PathBuf> {
    let prefix = format!("{name}_");
    let mut out = owned(dir, name);
    out.extend(
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter(|e| {
                let f = e.file_name().to_string_lossy().into_owned();
                f.ends_with(".desktop") && !f.starts_with(&prefix)
            })
            .map(|e| e.path())
            .filter(|p| says_owner(p, name)),
    );
    out
}

/// Files of the export that belong to `name`.
fn owned(dir: &Path, name: &str) -> Vec<PathBuf> {
    let prefix = format!("{name}_");
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

/// Export the desktop files and icons of `name`'s revision `blob`, replacing what it had.
/// The theme icons under `meta/gui/icons/` that fit the snap's own prefix, written below
/// `icons_dir`; the others are logged and left out.
fn export_theme_icons(
    snap: &SnapFile,
    name: &str,
    icons_dir: &Path,
    keep: &mut BTreeSet<PathBuf>,
) -> Result<()> {
    let list = match snap.theme_icons() {
        Ok(list) => list,
        Err(e) => {
            tracing::warn!(snap = name, error = %e, "theme icons not exported");
            return Ok(());
        }
    };
    for (rel, data) in list {
        match theme_icon_target(name, &rel) {
            Some(t) if data.len() <= MAX_THEME_ICON => {
                // Every component of `t` was checked: it stays below icons/.
                let p = icons_dir.join(t);
                if let Some(dir) = p.parent() {
                    std::fs::create_dir_all(dir).what("create", dir)?;
                }
                write_atomic(&p, &data)?;
                keep.insert(p);
            }
            _ => tracing::warn!(snap = name, icon = %rel, "theme icon not exported"),
        }
    }
    Ok(())
}

/// What an export was made from. The first line is the export's own version: a helper that
/// exports more (theme icons) or differently does it again for snaps already installed.
fn export_stamp(blob: &Path, launcher: &Launcher) -> String {
    format!(
        "export 3\n{}\n{}\n{}\n",
        blob.display(),
        launcher.confine.display(),
        launcher
            .root
            .as_deref()
            .map(|r| r.display().to_string())
            .unwrap_or_default()
    )
}

pub fn export(
    paths: &Paths,
    name: &str,
    apps: &GuiApps,
    blob: &Path,
    launcher: &Launcher,
) -> Result<()> {
    let apps_dir = applications(paths);
    let icons_dir = icons(paths);
    std::fs::create_dir_all(&apps_dir).what("create", &apps_dir)?;
    std::fs::create_dir_all(&icons_dir).what("create", &icons_dir)?;
    // What was exported, and for which revision and launcher: the helper applies every snap's files
    // at each start, and reading every blob again there would only slow the start down.
    let stamp = stamps(paths).join(name);
    let wanted_stamp = export_stamp(blob, launcher);
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted_stamp.as_str()) {
        return Ok(());
    }
    let snap = match SnapFile::open(blob) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(snap = name, error = %e, "cannot read the snap's desktop files");
            return Ok(());
        }
    };
    let mut keep: BTreeSet<PathBuf> = BTreeSet::new();
    let mut icon_path = None;
    if let Ok(Some(icon)) = snap.icon() {
        let p = icons_dir.join(format!("{name}_{}", icon.file_name));
        write_atomic(&p, &icon.data)?;
        icon_path = Some(p.display().to_string());
        keep.insert(p);
    }
    export_theme_icons(&snap, name, &icons_dir, &mut keep)?;
    let icon = icon_path.as_deref();
    export_desktop_files(&snap, name, apps, launcher, icon, &apps_dir, &mut keep)?;
    for stale in owned_desktop(&apps_dir, name)
        .into_iter()
        .chain(owned(&icons_dir, name))
        .chain(owned_theme_icons(&icons_dir, name))
    {
        if !keep.contains(&stale) {
            let _ = std::fs::remove_file(stale);
        }
    }
    let stamp_dir = stamps(paths);
    std::fs::create_dir_all(&stamp_dir).what("create", &stamp_dir)?;
    write_atomic(&stamp, wanted_stamp.as_bytes())?;
    Ok(())
}

/// The snap's `meta/gui/*.desktop`, sanitised, under their exported names. A file kept under its
/// own name (`desktop-file-ids`) that another snap exported already is refused, as snapd does; a
/// name two files come to after mangling is the first's.
fn export_desktop_files(
    snap: &SnapFile,
    name: &str,
    apps: &GuiApps,
    launcher: &Launcher,
    icon: Option<&str>,
    apps_dir: &Path,
    keep: &mut BTreeSet<PathBuf>,
) -> Result<()> {
    for (rel, content) in snap.gui_files() {
        if !rel.ends_with(".desktop") {
            continue;
        }
        let clean = content.and_then(|bytes| {
            if rel.contains('/') {
                return Err("it is in a subfolder of meta/gui".into());
            }
            if bytes.len() > MAX_DESKTOP {
                return Err("too large".into());
            }
            let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
            sanitise(name, apps, text, launcher, icon)
        });
        let clean = match clean {
            Ok(c) => c,
            Err(why) => {
                tracing::warn!(snap = name, file = %rel, reason = %why, "desktop file not exported");
                continue;
            }
        };
        let base = export_name(name, &rel, &apps.file_ids);
        let p = apps_dir.join(&base);
        if keep.contains(&p) {
            tracing::warn!(snap = name, file = %rel, name = %base, "a duplicate desktop file name after mangling: not exported");
            continue;
        }
        if !base.starts_with(&format!("{name}_")) && p.exists() && !says_owner(&p, name) {
            return Err(Error::new(
                ErrorKind::InvalidSnap,
                format!(
                    "cannot install {base:?}: {:?} already exists for another snap",
                    p.display().to_string()
                ),
            ));
        }
        write_atomic(&p, clean.as_bytes())?;
        keep.insert(p);
    }
    Ok(())
}

/// Take everything of `name` out of the export.
pub fn unexport(paths: &Paths, name: &str) {
    let _ = std::fs::remove_file(stamps(paths).join(name));
    for f in owned_desktop(&applications(paths), name)
        .into_iter()
        .chain(owned(&icons(paths), name))
        .chain(owned_theme_icons(&icons(paths), name))
    {
        let _ = std::fs::remove_file(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theme_icons_only_under_the_snaps_own_prefix() {
        let t = |rel| theme_icon_target("hello", rel);
        assert_eq!(
            t("hicolor/48x48/apps/snap.hello.big.png"),
            Some(PathBuf::from("hicolor/48x48/apps/snap.hello.big.png"))
        );
        assert!(t("hicolor/scalable/apps/snap.hello.x.svg").is_some());
        for bad in [
            "hicolor/48x48/apps/firefox.png",
            "hicolor/48x48/apps/snap.other.x.png",
            "hicolor/48x32/apps/snap.hello.x.png",
            "hicolor/48x48/mimetypes/snap.hello.x.png",
            "Adwaita/48x48/apps/snap.hello.x.png",
            "hicolor/../../apps/snap.hello.x.png",
            "hicolor/48x48/apps/snap.hello..png",
            "hicolor/48x48/apps/snap.hello.x.sh",
            "hicolor/48x48/apps/sub/snap.hello.x.png",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    fn launcher() -> Launcher {
        Launcher {
            confine: "/usr/libexec/snapshelf/snapshelf-confine".into(),
            root: None,
        }
    }

    fn apps() -> GuiApps {
        GuiApps {
            apps: ["hello", "tool", "server"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            daemons: ["server".to_string()].into(),
            file_ids: vec!["org.example.Foo.desktop".into()],
        }
    }

    #[test]
    fn sanitised_with_exec_through_confine() {
        let text = "# a comment\n[Desktop Entry]\nName=Hello\nName[de]=Hallo\nName[fr=Oops\nName[x]y=Z\nX-Evil=1\nTryExec=/bin/sh\n\
                    Exec=env BAMF_DESKTOP_FILE_HINT=x hello.tool %U\nIcon=${SNAP}/meta/gui/icon.png\n\
                    Actions=New;\nPath=/root\n\n[Desktop Action New]\nName=New\nExec=hello --new\n\n\
                    [Other Group]\nExec=/bin/rm -rf /\n";
        let out = sanitise(
            "hello",
            &apps(),
            text,
            &launcher(),
            Some("/x/hello_icon.png"),
        )
        .unwrap();
        assert_eq!(
            out,
            "[Desktop Entry]\nType=Application\nName=Hello\nName[de]=Hallo\n\
             Exec=/usr/libexec/snapshelf/snapshelf-confine hello.tool %U\nIcon=/x/hello_icon.png\n\
             Actions=New;\nX-SnapInstanceName=hello\n\n[Desktop Action New]\nName=New\n\
             Exec=/usr/libexec/snapshelf/snapshelf-confine hello.hello --new\n"
        );
        let with_root = Launcher {
            confine: "/opt/my confine".into(),
            root: Some("/tmp/r".into()),
        };
        let out = sanitise(
            "hello",
            &apps(),
            "[Desktop Entry]\nName=H\nExec=/snap/bin/hello\n",
            &with_root,
            None,
        )
        .unwrap();
        assert!(
            out.contains("Exec=\"/opt/my confine\" --root /tmp/r hello.hello\n"),
            "{out}"
        );
    }

    #[test]
    fn what_is_refused() {
        let l = launcher();
        for (text, why) in [
            (
                "[Desktop Entry]\nName=A\nExec=/bin/sh -c evil\n",
                "not an app",
            ),
            ("[Desktop Entry]\nName=A\nExec=other.app\n", "not an app"),
            ("[Desktop Entry]\nName=A\nExec=hello.nope\n", "no app"),
            ("[Desktop Entry]\nExec=hello\n", "no Name"),
            ("[Desktop Entry]\nName=A\n", "no Exec"),
            ("Name=A\n", "no [Desktop Entry]"),
            (
                "[Desktop Entry]\nName=A\nExec=hello\n[Desktop Entry]\nName=B\n",
                "two",
            ),
            ("[Desktop Entry]\nName=A\nnonsense\n", "key=value"),
        ] {
            let e = sanitise("hello", &apps(), text, &l, None).unwrap_err();
            assert!(e.contains(why), "{text:?}: {e}");
        }
        // A theme icon name is kept only when it is a plain name; a path leaves no icon.
        let out = sanitise(
            "hello",
            &apps(),
            "[Desktop Entry]\nName=A\nExec=hello\nIcon=../../etc/x\n",
            &l,
            None,
        )
        .unwrap();
        assert!(!out.contains("Icon="));
        assert_eq!(quote("a b\"$"), "\"a b\\\"\\$\"");
        assert!(
            !safe_component("../x") && !safe_component("a/b") && safe_component("hello_1.desktop")
        );
    }

    #[test]
    fn a_daemons_menu_entry_starts_nothing() {
        let out = sanitise(
            "hello",
            &apps(),
            "[Desktop Entry]\nName=Server\nExec=hello.server --flag\n",
            &launcher(),
            None,
        )
        .unwrap();
        assert!(out.contains("\nExec=/usr/bin/false\n"), "{out}");
    }

    #[test]
    fn names_are_mangled_as_snapd_does_unless_listed_in_desktop_file_ids() {
        let ids = apps().file_ids;
        assert_eq!(
            export_name("hello", "org.example.Foo.desktop", &ids),
            "org.example.Foo.desktop"
        );
        assert_eq!(
            export_name("hello", "org.example.Bar.desktop", &ids),
            "hello_org.example.Bar.desktop"
        );
        // snapd's desktop-file-ids test file.
        assert_eq!(
            export_name("hello", "bad. ,?**[]{}^\\$#.desktop", &ids),
            "hello_bad._____________.desktop"
        );
        assert_eq!(
            export_name("hello", "a+b@c/d.desktop", &[]),
            "hello_a_b_c_d.desktop"
        );
    }
}
