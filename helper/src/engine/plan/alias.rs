//! Alias and Unalias (snapd's `snap alias SNAP.APP ALIAS`, `snap unalias ALIAS|SNAP`): checked
//! here first, so that a refused request starts no change; the tasks check again when they run.

use crate::lang::gettext;
use serde_json::json;

use super::*;
use crate::engine::aliases::{self, AliasRow};
use crate::engine::task::{alias::Alias, unalias::Unalias};

impl Engine {
    /// Every enabled alias of the installed snaps.
    pub fn aliases(&self) -> Result<Vec<AliasRow>> {
        Ok(aliases::rows(&self.installed()?))
    }

    /// A manual alias `alias` for `snap_app` (`<snap>.<app>`, or `<snap>` for its app of the
    /// same name).
    pub fn alias(&self, snap_app: &str, alias: &str, uid: u32) -> Result<u64> {
        let (name, app) = snap_app.split_once('.').unwrap_or((snap_app, snap_app));
        check_names(&[name.to_string()])?;
        snapshelf_snap::naming::validate_app_name(app).map_err(|e| {
            // Translators: {target} is the snap.app given, in quotes; {why} is in English.
            Error::invalid(
                gettext("the app of {target}: {why}")
                    .replace("{target}", &format!("{snap_app:?}"))
                    .replace("{why}", &e.to_string()),
            )
        })?;
        aliases::validate_alias(alias)?;
        let snap = self.snap(name)?.ok_or_else(|| not_installed(name))?;
        let mut new = aliases::with_manual(&snap, app, alias)?;
        new.targets.retain(|a, _| a == alias);
        aliases::check_conflicts(&self.installed()?, name, &new, aliases::SYSTEM_PATH)?;
        self.start(
            "alias",
            &gettext("Set up alias \"{alias}\" for \"{app}\"")
                .replace("{alias}", alias)
                .replace("{app}", &crate::engine::files::command_name(name, app)),
            vec![name.to_string()],
            uid,
            json!({"snap-app": snap_app, "alias": alias}),
            vec![Task::Alias(Alias {
                name: name.to_string(),
                app: app.to_string(),
                alias: alias.to_string(),
                before: None,
                after: None,
            })],
        )
    }

    /// Remove the manual alias `alias`, or, when it names an installed snap, disable all of that
    /// snap's aliases.
    pub fn unalias(&self, alias: &str, uid: u32) -> Result<u64> {
        let all = self.installed()?;
        let (name, which) = if all.iter().any(|s| s.name == alias) {
            (alias.to_string(), None)
        } else {
            aliases::validate_alias(alias)?;
            let owner = all
                .iter()
                .find(|s| {
                    s.aliases
                        .targets
                        .get(alias)
                        .is_some_and(|t| t.manual.is_some())
                })
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::NotFound,
                        gettext("cannot find manual alias {alias} in any snap")
                            .replace("{alias}", &format!("{alias:?}")),
                    )
                })?;
            (owner.name.clone(), Some(alias.to_string()))
        };
        let summary = match &which {
            Some(a) => gettext("Remove manual alias \"{alias}\" for snap \"{snap}\"")
                .replace("{alias}", a)
                .replace("{snap}", &name),
            None => gettext("Disable all aliases for snap \"{snap}\"").replace("{snap}", &name),
        };
        self.start(
            "alias",
            &summary,
            vec![name.clone()],
            uid,
            json!({"alias": alias}),
            vec![Task::Unalias(Unalias {
                name,
                alias: which,
                before: None,
                after: None,
            })],
        )
    }
}
