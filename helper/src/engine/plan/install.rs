//! Install: names resolved by the store (with the bases they need), each brought in as a new snap.

use serde_json::json;

use crate::engine::snap_meta;

use super::*;

impl Engine {
    pub async fn install(
        &self,
        names: &[String],
        channel: Option<&str>,
        revision: Option<&str>,
        classic: bool,
        uid: u32,
    ) -> Result<u64> {
        let revision = check_request(names, channel, revision)?;
        for n in names {
            if self.snap(n)?.is_some() {
                return Err(Error::new(
                    ErrorKind::AlreadyInstalled,
                    crate::lang::gettext("\"{snap}\" is already installed").replace("{snap}", n),
                ));
            }
        }
        self.ensure_free(names)?;
        let mut resolved = self.resolve(names, channel, revision, classic).await?;
        self.add_missing_bases(&mut resolved).await?;
        providers::providers_first(&mut resolved);
        let mut tasks = Vec::new();
        for r in &resolved {
            install_tasks(r, None, &mut tasks);
        }
        let all: Vec<String> = resolved.iter().map(|r| r.name.clone()).collect();
        self.start(
            "install",
            &summary("Install", names),
            all,
            uid,
            json!({"names": names, "channel": channel, "revision": revision, "classic": classic}),
            tasks,
        )
    }

    /// What the store answers for each name; a snap that needs classic confinement only when
    /// the request allows it, a devmode one never (the verified file is held to the same).
    async fn resolve(
        &self,
        names: &[String],
        channel: Option<&str>,
        revision: Option<u32>,
        classic: bool,
    ) -> Result<Vec<Resolved>> {
        let actions: Vec<Action> = names
            .iter()
            .map(|n| Action::Install {
                name: n.clone(),
                channel: channel.map(str::to_string),
                revision,
            })
            .collect();
        let results = self.store().snap_action(&self.context()?, &actions).await?;
        let mut resolved = Vec::new();
        for r in results {
            let res = resolved_from(r, channel)?;
            snap_meta::check_confinement(&res.name, res.yaml.confinement, None, classic)?;
            resolved.push(res);
        }
        for n in names {
            if !resolved.iter().any(|r| &r.name == n) {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    gettext("the store did not answer for \"{snap}\"").replace("{snap}", n),
                ));
            }
        }
        Ok(resolved)
    }
}

/// The request's own checks; the revision as a number.
fn check_request(
    names: &[String],
    channel: Option<&str>,
    revision: Option<&str>,
) -> Result<Option<u32>> {
    if names.is_empty() {
        return Err(Error::invalid(gettext("no snap named")));
    }
    check_names(names)?;
    if let Some(c) = channel {
        validate_channel(c)?;
    }
    let revision: Option<u32> = match revision {
        None => None,
        Some(r) => Some(r.parse().ok().filter(|r| *r >= 1).ok_or_else(|| {
            Error::invalid(
                gettext("invalid revision {revision} (a store revision is a number)")
                    .replace("{revision}", &format!("{r:?}")),
            )
        })?),
    };
    if revision.is_some() && names.len() > 1 {
        return Err(Error::invalid(gettext(
            "a revision can be given for one snap only",
        )));
    }
    Ok(revision)
}
