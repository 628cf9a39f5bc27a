//! Aliases, as snapd's aliases v2 (`overlord/snapstate/aliasesv2.go`): an alias is another name
//! for a snap's app, a `/snap/bin/<alias>` link to its launcher. Automatic ones come from the
//! snap's signed snap-declaration (`aliases` header; the older `auto-aliases` header names aliases
//! that the snap.yaml's apps declare with `aliases:`), manual ones from `Alias`; a manual alias wins
//! over an automatic one of the same name; `Unalias` of a snap disables its automatic aliases and
//! removes its manual ones. What is on disk follows the snap's state (`sync_links`), so Link,
//! Unlink and their undos keep the links right without knowing about aliases.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use snapshelf_snap::assert::{Database, HeaderValue};

use crate::error::{Error, ErrorKind, Result};
use crate::io::IoContext;
use crate::lang::gettext;
use crate::paths::Paths;
use crate::state::SnapState;

/// The targets of one alias of a snap: the app of a manual alias, and of an automatic one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto: Option<String>,
}

/// A snap's aliases: every alias with its targets, and whether its automatic ones are disabled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapAliases {
    #[serde(default)]
    pub targets: BTreeMap<String, AliasTarget>,
    #[serde(default)]
    pub auto_disabled: bool,
}

/// One enabled alias, as `Aliases()` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasRow {
    pub snap: String,
    pub app: String,
    pub alias: String,
    pub auto: bool,
}

impl SnapAliases {
    /// Nothing set: what a snap without aliases has (and what older helpers' states read as).
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty() && !self.auto_disabled
    }

    /// The enabled aliases: alias → app (snapd's `AliasTarget.Effective`).
    pub fn effective(&self) -> BTreeMap<String, String> {
        self.targets
            .iter()
            .filter_map(|(alias, t)| {
                let app = t
                    .manual
                    .as_ref()
                    .or(t.auto.as_ref().filter(|_| !self.auto_disabled))?;
                Some((alias.clone(), app.clone()))
            })
            .collect()
    }
}

/// Directories of the system's `PATH` (as profile.d sets it, before `/snap/bin`): an alias must not
/// shadow a command found there.
pub const SYSTEM_PATH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
    "/usr/games",
    "/usr/local/games",
];

fn refused(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// snapd's `ValidateAlias`: `^[a-zA-Z0-9][-_.a-zA-Z0-9]*$`.
pub fn validate_alias(alias: &str) -> Result<()> {
    match snapshelf_snap::naming::validate_alias_name(alias) {
        Ok(()) => Ok(()),
        // The caller's language, not the library's words.
        Err(_) => Err(refused(
            gettext("invalid alias name: {alias}").replace("{alias}", &format!("{alias:?}")),
        )),
    }
}

/// The apps of the snap's current revision that an alias may point at (daemons may not).
pub fn alias_apps(snap: &SnapState) -> Result<BTreeSet<String>> {
    let yaml = super::files::parse_yaml(snap, &snap.current)?;
    Ok(yaml
        .apps
        .iter()
        .filter(|(_, app)| app.daemon.is_none())
        .map(|(name, _)| name.clone())
        .collect())
}

/// The enabled aliases of `snap` whose app its current revision still has.
pub fn usable(snap: &SnapState) -> Result<BTreeMap<String, String>> {
    let apps = alias_apps(snap)?;
    let mut out = snap.aliases.effective();
    out.retain(|_, app| apps.contains(app));
    Ok(out)
}

/// `snap`'s aliases with a manual `alias` for `app` (snapd's `manualAlias`).
pub fn with_manual(snap: &SnapState, app: &str, alias: &str) -> Result<SnapAliases> {
    validate_alias(alias)?;
    if !alias_apps(snap)?.contains(app) {
        let yaml = super::files::parse_yaml(snap, &snap.current)?;
        let message = if yaml.apps.contains_key(app) {
            gettext("cannot enable alias {alias} for {snap}, target application {app} is a daemon")
        } else {
            gettext(
                "cannot enable alias {alias} for {snap}, target application {app} does not exist",
            )
        };
        return Err(Error::new(
            ErrorKind::NotFound,
            message
                .replace("{alias}", &format!("{alias:?}"))
                .replace("{snap}", &format!("{:?}", snap.name))
                .replace("{app}", &format!("{app:?}")),
        ));
    }
    let mut new = snap.aliases.clone();
    new.targets.entry(alias.to_string()).or_default().manual = Some(app.to_string());
    Ok(new)
}

/// `cur` without the manual alias `alias` (an automatic one of that name stays).
pub fn without_manual(cur: &SnapAliases, alias: &str) -> SnapAliases {
    let mut new = cur.clone();
    if let Some(t) = new.targets.get_mut(alias) {
        t.manual = None;
        if t.auto.is_none() {
            new.targets.remove(alias);
        }
    }
    new
}

/// `cur` with every alias disabled: manual ones removed, automatic ones kept but disabled.
pub fn all_disabled(cur: &SnapAliases) -> SnapAliases {
    SnapAliases {
        targets: cur
            .targets
            .iter()
            .filter_map(|(a, t)| {
                let auto = t.auto.clone()?;
                Some((
                    a.clone(),
                    AliasTarget {
                        manual: None,
                        auto: Some(auto),
                    },
                ))
            })
            .collect(),
        auto_disabled: true,
    }
}

/// The aliases after an install or refresh (snapd's `refreshAliases`): the declaration's
/// automatic ones for apps the revision has, and the manual ones whose app is still there.
pub fn refreshed(snap: &SnapState, auto: &BTreeMap<String, String>) -> Result<SnapAliases> {
    let apps = alias_apps(snap)?;
    let mut targets: BTreeMap<String, AliasTarget> = auto
        .iter()
        .filter(|(_, app)| apps.contains(*app))
        .map(|(a, app)| {
            let t = AliasTarget {
                manual: None,
                auto: Some(app.clone()),
            };
            (a.clone(), t)
        })
        .collect();
    for (alias, t) in &snap.aliases.targets {
        if let Some(app) = t.manual.as_ref().filter(|a| apps.contains(*a)) {
            targets.entry(alias.clone()).or_default().manual = Some(app.clone());
        }
    }
    Ok(SnapAliases {
        targets,
        auto_disabled: snap.aliases.auto_disabled,
    })
}

/// The automatic aliases the snap's kept snap-declaration grants, alias → app (snapd's
/// `assertstate.AutoAliases`): the `aliases` header's `name`/`target` maps, or else the older
/// `auto-aliases` list, resolved through the snap.yaml apps' own `aliases:`. A snap without
/// store assertions has none.
pub fn declared(db: &Database, snap: &SnapState) -> Result<BTreeMap<String, String>> {
    if snap.snap_id.is_empty() {
        return Ok(BTreeMap::new());
    }
    let Some(decl) = db.find("snap-declaration", &["16", &snap.snap_id]) else {
        // Verification keeps it; without it there is nothing that grants an alias.
        tracing::warn!(snap = %snap.name, "no snap-declaration kept: no automatic aliases");
        return Ok(BTreeMap::new());
    };
    let mut out = BTreeMap::new();
    if let Some(HeaderValue::List(items)) = decl.header("aliases") {
        for item in items {
            let HeaderValue::Map(fields) = item else {
                continue;
            };
            let get = |k: &str| {
                fields
                    .iter()
                    .find(|(n, _)| n == k)
                    .and_then(|(_, v)| v.as_str())
            };
            if let (Some(name), Some(target)) = (get("name"), get("target")) {
                if validate_alias(name).is_ok() {
                    out.insert(name.to_string(), target.to_string());
                }
            }
        }
        return Ok(out);
    }
    if let Some(HeaderValue::List(items)) = decl.header("auto-aliases") {
        let yaml = super::files::parse_yaml(snap, &snap.current)?;
        for alias in items.iter().filter_map(HeaderValue::as_str) {
            let app = yaml
                .apps
                .iter()
                .find(|(_, a)| a.aliases.iter().any(|x| x == alias));
            if let (Some((app, _)), Ok(())) = (app, validate_alias(alias)) {
                out.insert(alias.to_string(), app.clone());
            }
        }
    }
    Ok(out)
}

/// Refuse `cand` (the aliases `snap` would have) when one of its enabled aliases takes an installed
/// snap's command namespace (`<snap>` or `<snap>.…`, its own included), is another snap's enabled
/// alias, or a command on the system's `PATH` (snapd's `checkAliasesConflicts`, and the last our
/// own: such an alias would never run, or would hide the system's command).
pub fn check_conflicts(
    all: &[SnapState],
    snap: &str,
    cand: &SnapAliases,
    path_dirs: &[&str],
) -> Result<()> {
    let enabled = cand.effective();
    for alias in enabled.keys() {
        let namespace = alias.split('.').next().unwrap_or(alias);
        if all.iter().any(|s| s.name == namespace) {
            return Err(refused(
                gettext("cannot enable alias {alias} for {snap}, it conflicts with the command namespace of installed snap {other}")
                    .replace("{alias}", &format!("{alias:?}"))
                    .replace("{snap}", &format!("{snap:?}"))
                    .replace("{other}", &format!("{namespace:?}")),
            ));
        }
        if let Some(found) = path_dirs
            .iter()
            .map(|d| Path::new(d).join(alias))
            .find(|p| p.symlink_metadata().is_ok())
        {
            return Err(refused(
                gettext("cannot enable alias {alias} for {snap}, it would shadow the system command {path}")
                    .replace("{alias}", &format!("{alias:?}"))
                    .replace("{snap}", &format!("{snap:?}"))
                    .replace("{path}", &found.display().to_string()),
            ));
        }
    }
    let mut conflicts: Vec<String> = Vec::new();
    for other in all.iter().filter(|s| s.name != snap) {
        let theirs = other.aliases.effective();
        let clash: Vec<String> = enabled
            .keys()
            .filter(|a| theirs.contains_key(*a))
            .map(|a| format!("{a:?}"))
            .collect();
        if !clash.is_empty() {
            conflicts.push(
                crate::lang::ngettext(
                    "alias {aliases} already enabled for {snap}",
                    "aliases {aliases} already enabled for {snap}",
                    clash.len() as u32,
                )
                .replace("{aliases}", &clash.join(", "))
                .replace("{snap}", &format!("{:?}", other.name)),
            );
        }
    }
    if conflicts.is_empty() {
        return Ok(());
    }
    let all = conflicts
        .into_iter()
        .reduce(|list, next| {
            // Translators: joins two conflicts: alias "a" already enabled for "x" nor alias …
            gettext("{list} nor {next}")
                .replace("{list}", &list)
                .replace("{next}", &next)
        })
        .unwrap_or_default();
    // Translators: {conflicts} is the list above; {snap} the snap's name, in quotes.
    Err(refused(
        gettext("cannot enable {conflicts} (for {snap})")
            .replace("{conflicts}", &all)
            .replace("{snap}", &format!("{snap:?}")),
    ))
}

/// Refuse to install `name` when another snap has an enabled alias in its command namespace
/// (snapd's `checkSnapAliasConflict`): its launchers would take the alias's place.
pub fn check_namespace(all: &[SnapState], name: &str) -> Result<()> {
    let prefix = format!("{name}.");
    for other in all.iter().filter(|s| s.name != name) {
        if let Some(alias) = other
            .aliases
            .effective()
            .into_keys()
            .find(|a| a == name || a.starts_with(&prefix))
        {
            return Err(refused(
                gettext(
                    "snap {snap} command namespace conflicts with alias {alias} for {other} snap",
                )
                .replace("{snap}", &format!("{name:?}"))
                .replace("{alias}", &format!("{alias:?}"))
                .replace("{other}", &format!("{:?}", other.name)),
            ));
        }
    }
    Ok(())
}

/// Whether a `/snap/bin` link points at one of `snap`'s launchers.
fn points_at(target: &Path, snap: &str) -> bool {
    let t = target.to_string_lossy();
    t == snap || t.strip_prefix(snap).is_some_and(|r| r.starts_with('.'))
}

/// Make `/snap/bin` hold exactly `aliases` (alias → app) of `snap`: a relative link
/// `<alias> -> <snap>.<app>` (or `<snap>`) each, as snapd writes them; links of `snap` not in it
/// removed. An entry that is not a link of this snap is never replaced.
pub fn sync_links(paths: &Paths, snap: &str, aliases: &BTreeMap<String, String>) -> Result<()> {
    let bin = paths.bin_dir();
    for (alias, app) in aliases {
        let link = bin.join(alias);
        let target = super::files::command_name(snap, app);
        match std::fs::read_link(&link) {
            Ok(t) if t == Path::new(&target) => continue,
            Ok(t) if points_at(&t, snap) => {}
            Err(_) if link.symlink_metadata().is_err() => {}
            _ => {
                return Err(refused(
                    gettext("cannot enable alias {alias} for {snap}: {path} is already there and not one of its links")
                        .replace("{alias}", &format!("{alias:?}"))
                        .replace("{snap}", &format!("{snap:?}"))
                        .replace("{path}", &link.display().to_string()),
                ))
            }
        }
        std::fs::create_dir_all(&bin).what("create", &bin)?;
        super::files::replace_symlink(&link, &target)?;
    }
    for (file, target) in links_in(&bin) {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
        if points_at(&target, snap) && !name.is_some_and(|n| aliases.contains_key(&n)) {
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).what("remove the alias", &file),
            }
        }
    }
    Ok(())
}

/// The symbolic links in `dir` with their targets.
fn links_in(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| Some((e.path(), std::fs::read_link(e.path()).ok()?)))
        .collect()
}

/// Every enabled alias of the installed snaps, by snap then alias.
pub fn rows(all: &[SnapState]) -> Vec<AliasRow> {
    let mut out = Vec::new();
    for s in all {
        for (alias, t) in &s.aliases.targets {
            let auto_on = t.auto.clone().filter(|_| !s.aliases.auto_disabled);
            let (app, auto) = match (&t.manual, auto_on) {
                (Some(app), _) => (app.clone(), false),
                (None, Some(app)) => (app, true),
                (None, None) => continue,
            };
            out.push(AliasRow {
                snap: s.name.clone(),
                app,
                alias: alias.clone(),
                auto,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(manual: Option<&str>, auto: Option<&str>) -> AliasTarget {
        AliasTarget {
            manual: manual.map(str::to_string),
            auto: auto.map(str::to_string),
        }
    }

    #[test]
    fn alias_names_are_snapds() {
        for ok in ["a", "alias1", "A.b-c_d", "9lives"] {
            assert!(validate_alias(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", ".a", "_a", "a/b", "a b", "ä", "a\n", "../x"] {
            let e = validate_alias(bad).unwrap_err();
            assert!(e.message.contains("invalid alias name"), "{bad:?}: {e:?}");
        }
    }

    #[test]
    fn manual_wins_and_disabling_keeps_only_automatic_ones() {
        let mut a = SnapAliases::default();
        a.targets
            .insert("x".into(), target(Some("m"), Some("auto")));
        a.targets.insert("y".into(), target(None, Some("auto")));
        a.targets.insert("z".into(), target(Some("m"), None));
        let e = a.effective();
        assert_eq!(e["x"], "m");
        assert_eq!(e["y"], "auto");
        assert_eq!(e["z"], "m");
        let d = all_disabled(&a);
        assert!(d.effective().is_empty());
        assert_eq!(d.targets.len(), 2);
        let w = without_manual(&a, "x");
        assert_eq!(w.effective()["x"], "auto");
        assert!(!without_manual(&a, "z").targets.contains_key("z"));
    }

    #[test]
    fn links_of_other_snaps_are_told_apart() {
        assert!(points_at(Path::new("hello"), "hello"));
        assert!(points_at(Path::new("hello.env"), "hello"));
        assert!(!points_at(Path::new("hello-world"), "hello"));
        assert!(!points_at(Path::new("/usr/bin/hello"), "hello"));
    }
}
