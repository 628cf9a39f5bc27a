//! Revert: a kept revision made current again, the one left blocked from plain refreshes.

use crate::lang::gettext;
use serde_json::json;

use super::*;

impl Engine {
    pub fn revert(&self, name: &str, revision: Option<&str>, uid: u32) -> Result<u64> {
        check_names(&[name.to_string()])?;
        let before = self.snap(name)?.ok_or_else(|| not_installed(name))?;
        let pos = before
            .sequence
            .iter()
            .position(|r| r.revision == before.current)
            .ok_or_else(|| Error::internal("current revision missing from the sequence"))?;
        let target = match revision {
            Some(r) => {
                if r == before.current {
                    return Err(Error::new(
                        ErrorKind::NoRevisionToRevert,
                        gettext("revision {revision} of \"{snap}\" is already current")
                            .replace("{revision}", r)
                            .replace("{snap}", name),
                    ));
                }
                before
                    .revision(r)
                    .ok_or_else(|| {
                        let kept: Vec<&str> = before
                            .sequence
                            .iter()
                            .map(|r| r.revision.as_str())
                            .collect();
                        Error::new(
                            ErrorKind::NoRevisionToRevert,
                            // Translators: {kept} is a list of revision numbers.
                            gettext("revision {revision} of \"{snap}\" is not kept (kept: {kept})")
                                .replace("{revision}", r)
                                .replace("{snap}", name)
                                .replace("{kept}", &kept.join(", ")),
                        )
                    })?
                    .revision
                    .clone()
            }
            None if pos == 0 => {
                return Err(Error::new(
                    ErrorKind::NoRevisionToRevert,
                    gettext("\"{snap}\" has no earlier revision to go back to")
                        .replace("{snap}", name),
                ))
            }
            None => before.sequence[pos - 1].revision.clone(),
        };
        let mut after = before.clone();
        if !after.blocked.contains(&after.current) {
            after.blocked.push(after.current.clone());
        }
        after.blocked.retain(|r| r != &target);
        after.current = target.clone();
        let mut tasks = vec![Task::Link(Link {
            name: name.to_string(),
            after: Box::new(after),
            before: None,
            captured: false,
        })];
        // The target revision's configuration comes back with it (snapd's RestoreRevisionConfig).
        tasks.push(Task::RevisionConfig(
            crate::engine::task::revision_config::RevisionConfig::new(
                name,
                &before.current,
                Some(&target),
            ),
        ));
        tasks.push(super::refresh_aliases(name.to_string()));
        self.start(
            "revert",
            &gettext("Revert \"{snap}\" to revision {revision}")
                .replace("{snap}", name)
                .replace("{revision}", &target.to_string()),
            vec![name.to_string()],
            uid,
            json!({"name": name, "revision": revision}),
            tasks,
        )
    }
}
