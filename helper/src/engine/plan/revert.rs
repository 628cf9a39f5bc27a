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
        let tasks = revert_tasks(&before, &target);
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

/// Make `target` current, as snapd's revert (doInstall with the revert flag): the services
/// stopped, the link, the target's configuration back (snapd's RestoreRevisionConfig), the
/// aliases, the services started; for an app, no refresh hooks but its configure hook and its
/// health check.
fn revert_tasks(before: &SnapState, target: &str) -> Vec<Task> {
    use crate::engine::task::inhibit_run::{InhibitRun, UninhibitRun};
    use crate::engine::task::{revision_config::RevisionConfig, run_hook};
    let name = before.name.as_str();
    let mut after = before.clone();
    if !after.blocked.contains(&after.current) {
        after.blocked.push(after.current.clone());
    }
    after.blocked.retain(|r| r != target);
    after.current = target.to_string();
    // As snapd's revert goes through unlink-current-snap: refused while apps run, and new launches
    // wait for the switch (engine/task/inhibit_run.rs).
    let mut tasks = vec![
        Task::StopServices(super::services::stop_to(name, target)),
        Task::InhibitRun(InhibitRun::new(name, &before.current)),
        Task::Link(Link {
            name: name.to_string(),
            after: Box::new(after),
            before: None,
            captured: false,
        }),
        Task::UninhibitRun(UninhibitRun::new(name, &before.current)),
        Task::RevisionConfig(RevisionConfig::new(name, &before.current, Some(target))),
        super::refresh_aliases(name.to_string()),
        super::services::start(name),
    ];
    if before.snap_type == "app" {
        for hook in ["configure", run_hook::CHECK_HEALTH] {
            tasks.push(Task::RunHook(run_hook::RunHook::new(name, hook)));
        }
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revert_restores_the_configuration_then_configures_and_checks_health() {
        let mut before = super::super::tests_state("ab", "2");
        before.sequence.insert(0, before.sequence[0].clone());
        before.sequence[0].revision = "1".into();
        before.snap_type = "app".into();
        let tasks = revert_tasks(&before, "1");
        let kinds: Vec<&str> = tasks.iter().map(Task::kind).collect();
        assert_eq!(
            kinds,
            [
                "stop-services",
                "inhibit-run",
                "link",
                "uninhibit-run",
                "revision-config",
                "refresh-aliases",
                "start-services",
                "run-hook",
                "run-hook"
            ]
        );
        let Task::RevisionConfig(rc) = &tasks[4] else {
            unreachable!()
        };
        assert_eq!((rc.from.as_str(), rc.restore.as_deref()), ("2", Some("1")));
        let Task::Link(l) = &tasks[2] else {
            unreachable!()
        };
        assert_eq!(
            (l.after.current.as_str(), l.after.blocked.clone()),
            ("1", vec!["2".to_string()])
        );
        before.snap_type = "base".into();
        assert_eq!(revert_tasks(&before, "1").len(), 7);
    }
}
