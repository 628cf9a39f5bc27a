//! Refresh: the store's newer revisions of installed snaps, brought in on top of the current ones,
//! then old revisions beyond `retain` dropped.

use serde_json::json;

use super::*;

impl Engine {
    /// `classic`: consent for revisions that turned classic (a strict snap's refresh to one
    /// fails with NeedsClassic without it); devmode revisions are refused, as on install.
    pub async fn refresh(
        &self,
        names: &[String],
        channel: Option<&str>,
        classic: bool,
        uid: u32,
    ) -> Result<u64> {
        let targets = self.refresh_targets(names, channel)?;
        let target_names: Vec<String> = targets.iter().map(|s| s.name.clone()).collect();
        self.ensure_free(&target_names)?;
        let resolved = self.newer_revisions(&targets, channel).await?;
        for (r, before) in &resolved {
            crate::engine::snap_meta::check_confinement(
                &r.name,
                r.yaml.confinement,
                Some(before),
                classic,
            )?;
        }
        if resolved.is_empty() {
            let what = if names.is_empty() {
                "No snap has".to_string()
            } else {
                format!("{} has", name_list(names))
            };
            return Err(Error::new(
                ErrorKind::NoUpdateAvailable,
                format!("{what} an update available"),
            ));
        }
        let mut new: Vec<Resolved> = resolved.iter().map(|(r, _)| r.clone()).collect();
        self.add_missing_bases(&mut new).await?;
        let mut tasks = Vec::new();
        let mut all = Vec::new();
        for r in &new {
            let before = resolved
                .iter()
                .find(|(x, _)| x.name == r.name)
                .map(|(_, b)| b);
            install_tasks(r, before, &mut tasks);
            all.push(r.name.clone());
        }
        for r in &new {
            tasks.push(Task::Gc(Gc {
                name: r.name.clone(),
            }));
        }
        let refreshed: Vec<String> = resolved.iter().map(|(r, _)| r.name.clone()).collect();
        self.start(
            "refresh",
            &summary("Refresh", &refreshed),
            all,
            uid,
            json!({"names": names, "channel": channel, "classic": classic}),
            tasks,
        )
    }

    /// The snaps a refresh of `names` (every installed one from the store, not held, when
    /// empty) works on.
    fn refresh_targets(&self, names: &[String], channel: Option<&str>) -> Result<Vec<SnapState>> {
        check_names(names)?;
        if let Some(c) = channel {
            validate_channel(c)?;
            if names.len() != 1 {
                return Err(Error::invalid(
                    "a channel can be given when refreshing one snap only",
                ));
            }
        }
        let installed = self.installed()?;
        if names.is_empty() {
            return Ok(installed
                .into_iter()
                .filter(|s| !s.held && !s.is_local())
                .collect());
        }
        let mut v = Vec::new();
        for n in names {
            let s = installed
                .iter()
                .find(|s| &s.name == n)
                .ok_or_else(|| not_installed(n))?;
            if s.is_local() {
                return Err(Error::new(
                    ErrorKind::NoUpdateAvailable,
                    format!("\"{n}\" was installed from a file; the store cannot update it"),
                ));
            }
            v.push(s.clone());
        }
        Ok(v)
    }

    /// What the store offers for each target that is neither its current revision nor (on the
    /// same channel) one a person reverted from, with the target it replaces.
    async fn newer_revisions(
        &self,
        targets: &[SnapState],
        channel: Option<&str>,
    ) -> Result<Vec<(Resolved, SnapState)>> {
        let actions: Vec<Action> = targets
            .iter()
            .map(|s| Action::Refresh {
                snap_id: s.snap_id.clone(),
                channel: channel.map(str::to_string),
            })
            .collect();
        let results = if actions.is_empty() {
            Vec::new()
        } else {
            self.store().snap_action(&self.context()?, &actions).await?
        };
        let mut resolved = Vec::new();
        for r in results {
            let res = resolved_from(r, channel)?;
            let Some(before) = targets.iter().find(|s| s.snap_id == res.snap_id) else {
                continue;
            };
            let rev = res.revision.to_string();
            // Never bring back what a person reverted from, unless they ask for another channel.
            if before.current == rev || (channel.is_none() && before.blocked.contains(&rev)) {
                continue;
            }
            resolved.push((res, before.clone()));
        }
        Ok(resolved)
    }
}
