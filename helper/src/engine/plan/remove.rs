//! Remove: each snap taken out of use, then (after the commit point) its data kept as a snapshot
//! or purged, and its revisions deleted.

use serde_json::json;

use super::*;

impl Engine {
    pub fn remove(&self, names: &[String], purge: bool, uid: u32) -> Result<u64> {
        if names.is_empty() {
            return Err(Error::invalid("no snap named"));
        }
        check_names(names)?;
        let installed = self.installed()?;
        let mut tasks = Vec::new();
        let mut post = Vec::new();
        for n in names {
            let s = installed
                .iter()
                .find(|s| &s.name == n)
                .ok_or_else(|| not_installed(n))?;
            if let Some(user) = installed
                .iter()
                .find(|o| o.base.as_deref() == Some(n.as_str()) && !names.contains(&o.name))
            {
                return Err(Error::new(
                    ErrorKind::SnapInUse,
                    format!(
                        "\"{n}\" is the base of \"{}\": remove that first",
                        user.name
                    ),
                ));
            }
            if s.snap_type == "app" {
                // As snapd: a failing remove hook is logged, and the removal goes on.
                tasks.push(Task::RunHook(RunHook {
                    ignore_error: true,
                    ..RunHook::new(n, "remove")
                }));
            }
            tasks.push(Task::Unlink(Unlink {
                name: n.clone(),
                before: None,
                captured: false,
            }));
            post.push(Task::DiscardData(DiscardData {
                name: n.clone(),
                purge,
            }));
            post.push(Task::DiscardRevisions(DiscardRevisions {
                name: n.clone(),
                revisions: s.sequence.iter().map(|r| r.revision.clone()).collect(),
            }));
        }
        tasks.extend(post);
        self.start(
            "remove",
            &summary("Remove", names),
            names.to_vec(),
            uid,
            json!({"names": names, "purge": purge}),
            tasks,
        )
    }
}
