//! Remove: each snap taken out of use, then (after the commit point) its data kept as a snapshot
//! or purged, and its revisions deleted.

use serde_json::json;

use super::*;
use crate::engine::task::connect_content::ConnectContent;

impl Engine {
    /// `disconnect_users`: a content provider in use is removed after its users are
    /// disconnected (otherwise `ProviderInUse`).
    pub fn remove(
        &self,
        names: &[String],
        (purge, disconnect_users): (bool, bool),
        uid: u32,
    ) -> Result<u64> {
        if names.is_empty() {
            return Err(Error::invalid(gettext("no snap named")));
        }
        check_names(names)?;
        let installed = self.installed()?;
        let mut tasks = Vec::new();
        let mut post = Vec::new();
        let mut snaps = names.to_vec();
        for n in names {
            self.provider_users(n, names, disconnect_users, &mut tasks, &mut snaps)?;
        }
        self.dbus_slot_users(names, &installed, &mut tasks, &mut snaps)?;
        for n in names {
            let s = installed
                .iter()
                .find(|s| &s.name == n)
                .ok_or_else(|| not_installed(n))?;
            if let Some(user) = installed.iter().find(|o| {
                crate::engine::bases::of_snap(o) == Some(n.as_str()) && !names.contains(&o.name)
            }) {
                return Err(Error::new(
                    ErrorKind::SnapInUse,
                    crate::lang::gettext("\"{snap}\" is the base of \"{user}\": remove that first")
                        .replace("{snap}", n)
                        .replace("{user}", &user.name),
                ));
            }
            // snapd's removeTasks: the services stop first, so that the remove hook and the
            // disconnect hooks run with the snap's daemons stopped.
            tasks.push(Task::StopServices(super::services::stop_for_remove(n)));
            if s.snap_type == "app" {
                // As snapd: a failing remove hook is logged, and the removal goes on.
                tasks.push(Task::RunHook(RunHook {
                    ignore_error: true,
                    ..RunHook::new(n, "remove")
                }));
                // Then, as snapd's auto-disconnect, the disconnect hooks of its connections.
                let hooks = crate::engine::iface_hooks::removal_hooks(self.paths(), s, &installed);
                tasks.extend(hooks);
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
            snaps,
            uid,
            json!({"names": names, "purge": purge, "disconnect-users": disconnect_users}),
            tasks,
        )
    }
}

impl Engine {
    /// The snaps (not removed with it) whose content plugs use `provider`: refused with their
    /// names (`ProviderInUse`), or, with `disconnect`, each disconnected first.
    fn provider_users(
        &self,
        provider: &str,
        removed: &[String],
        disconnect: bool,
        tasks: &mut Vec<Task>,
        snaps: &mut Vec<String>,
    ) -> Result<()> {
        let users: Vec<(SnapState, Vec<String>)> = self
            .content_users(provider)?
            .into_iter()
            .filter(|(u, _)| !removed.contains(&u.name))
            .collect();
        if users.is_empty() {
            return Ok(());
        }
        if !disconnect {
            let named: Vec<String> = users
                .iter()
                .flat_map(|(u, plugs)| plugs.iter().map(move |p| format!("{}:{p}", u.name)))
                .collect();
            return Err(Error::new(
                ErrorKind::ProviderInUse,
                // Translators: {plugs} is a list of snap:plug names.
                crate::lang::gettext("cannot remove \"{snap}\": its content is used by {plugs} (disconnect them first, or remove with the disconnect-users option)")
                    .replace("{snap}", provider)
                    .replace("{plugs}", &crate::lang::name_list(&named)),
            ));
        }
        for (user, plugs) in users {
            let provider_state = self.snap(provider)?;
            for plug in plugs {
                let to = user.content[&plug].clone();
                let attrs = crate::engine::iface_hooks::IfaceAttrs::of(
                    &user,
                    &plug,
                    provider_state.as_ref(),
                    &to.slot,
                )?;
                let task = Task::ConnectContent(ConnectContent {
                    name: user.name.clone(),
                    plug,
                    slot_snap: to.snap,
                    slot: to.slot,
                    connect: false,
                    auto: false,
                    before: None,
                });
                let ends = (&user, provider_state.as_ref());
                tasks.extend(crate::engine::iface_hooks::disconnect_tasks(
                    self.paths(),
                    ends,
                    &attrs,
                    task,
                ));
            }
            if !snaps.contains(&user.name) {
                snaps.push(user.name);
            }
        }
        Ok(())
    }
}
