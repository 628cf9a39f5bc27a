//! Refresh: the store's newer revisions of installed snaps, brought in on top of the current ones,
//! then old revisions beyond `retain` dropped.

use serde_json::json;

use super::*;

/// Each refreshed snap with the snaps its new revision runs on or takes content from.
fn lane_needs(resolved: &[(Resolved, SnapState)]) -> Vec<(String, Vec<String>)> {
    resolved
        .iter()
        .map(|(r, _)| {
            let mut needs: Vec<String> = crate::engine::bases::of_yaml(&r.yaml)
                .map(str::to_string)
                .into_iter()
                .collect();
            let plugs = crate::engine::content::plugs(&r.yaml);
            needs.extend(
                plugs
                    .into_iter()
                    .filter_map(|(_, p)| p.ok()?.default_provider),
            );
            (r.name.clone(), needs)
        })
        .collect()
}

impl Engine {
    /// `classic`: consent for revisions that turned classic (a strict snap's refresh to one
    /// fails with NeedsClassic without it); devmode revisions are refused, as on install.
    /// `download_only`: see `plan/download.rs`; `background` (with it): at low priority.
    /// `running`: what apps that run do to it (`plan/refresh_running.rs`).
    pub async fn refresh(
        &self,
        names: &[String],
        channel: Option<&str>,
        classic: bool,
        (download_only, background): (bool, bool),
        running: refresh_running::Running,
        uid: u32,
    ) -> Result<u64> {
        if background && !download_only {
            return Err(Error::invalid(gettext(
                "option \"background\" is for download-only refreshes (the update agent's)",
            )));
        }
        let targets = self.refresh_targets(names, channel)?;
        let target_names: Vec<String> = targets.iter().map(|s| s.name.clone()).collect();
        self.ensure_free(&target_names)?;
        // Newer declarations first, as snapd does: a renamed or taken-down snap is left out.
        let refused = self.refresh_declarations(&targets).await?;
        let targets: Vec<SnapState> = targets
            .into_iter()
            .filter(|s| !refused.iter().any(|(n, _)| n == &s.name))
            .collect();
        let results = self.refresh_results(&targets, channel).await?;
        let (resolved, mut failed) = sort_results(results, &targets, channel);
        failed.extend(
            refused
                .into_iter()
                .map(|(name, error)| Failed { name, error }),
        );
        let refresh_all = names.is_empty();
        // Confinement is a precondition: a refresh of everything leaves such a snap as it is and
        // says so (as snapd's UpdateMany does); a named snap fails the request.
        let mut kept = Vec::new();
        for (r, before) in resolved {
            let checked = crate::engine::snap_meta::check_confinement(
                &r.name,
                r.yaml.confinement,
                Some(&before),
                classic,
            );
            match checked {
                Ok(()) => kept.push((r, before)),
                Err(e) if !refresh_all => return Err(e),
                Err(error) => failed.push(Failed {
                    name: r.name.clone(),
                    error,
                }),
            }
        }
        let mut resolved = self.keep_signed_sizes(kept, &mut failed).await;
        // Gating hooks first (plan/gating.rs): only an automatic refresh heeds their holds.
        if running.auto && !download_only {
            resolved = self.gate_auto_refresh(resolved, &mut failed).await?;
        }
        // A download changes nothing that runs: snapd downloads a busy snap's update too.
        let (resolved, modes) = if download_only {
            (resolved, Default::default())
        } else {
            self.check_running(resolved, running, &mut failed)?
        };
        // One named snap: its error is the answer (snapd's Update). Several: the others refresh and
        // the change names those that could not be (snapd's UpdateMany logs and goes on).
        if names.len() == 1 {
            if let Some(f) = failed.first() {
                return Err(f.error.clone());
            }
        }
        if resolved.is_empty() {
            return Err(nothing_to_refresh(names, &failed));
        }
        for f in &failed {
            tracing::warn!(snap = %f.name, kind = ?f.error.kind, "not refreshed: {}", f.error.message);
        }
        let mut new: Vec<Resolved> = resolved.iter().map(|(r, _)| r.clone()).collect();
        if download_only {
            return self.start_download(names, channel, &resolved, &failed, (uid, background));
        }
        self.add_missing_bases(&mut new).await?;
        providers::providers_first(&mut new);
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
        refresh_running::apply_modes(&mut tasks, &modes);
        for r in &new {
            tasks.push(Task::Gc(Gc {
                name: r.name.clone(),
            }));
        }
        let refreshed: Vec<String> = resolved.iter().map(|(r, _)| r.name.clone()).collect();
        let not_refreshed: Vec<serde_json::Value> = failed
            .iter()
            .map(|f| json!({"name": f.name, "error-kind": f.error.kind.as_kebab(), "error": f.error.message}))
            .collect();
        // Each refreshed snap fails alone (snapd's lanes in UpdateMany); the bases and providers
        // brought in for them are in no lane: everything may need them.
        let lanes = crate::engine::lanes::plan(&lane_needs(&resolved));
        self.start(
            "refresh",
            &refresh_summary(&refreshed, &failed),
            all,
            uid,
            json!({"names": names, "channel": channel, "classic": classic,
                   "not-refreshed": not_refreshed, (crate::engine::lanes::KEY): lanes}),
            tasks,
        )
    }

    /// A size the signed snap-revision contradicts is that snap's error, found before the change
    /// starts: met by the download task instead, it would undo the other snaps' refreshes too.
    /// The snap-revision fetched here is kept, so the download task finds it locally.
    async fn keep_signed_sizes(
        &self,
        resolved: Vec<(Resolved, SnapState)>,
        failed: &mut Vec<Failed>,
    ) -> Vec<(Resolved, SnapState)> {
        let mut kept = Vec::new();
        for (r, before) in resolved {
            let signed = match snapshelf_snap::digest::Sha3_384::from_hex(&r.sha3_384) {
                Ok(digest) => {
                    let dir = self.paths().assertions_dir();
                    let trusted = &self.inner.cfg.trusted;
                    crate::engine::verify::signed_size(self.store(), trusted, &dir, &digest).await
                }
                Err(e) => Err(Error::new(
                    ErrorKind::StoreError,
                    format!("\"{}\": the store's digest: {e}", r.name),
                )),
            };
            let error = match signed {
                Ok(size) if size == r.size => {
                    kept.push((r, before));
                    continue;
                }
                Ok(size) => Error::new(
                    ErrorKind::VerificationFailed,
                    gettext("\"{snap}\": the store says the file is {size} bytes, its signed snap-revision says {signed}")
                        .replace("{snap}", &r.name)
                        .replace("{size}", &r.size.to_string())
                        .replace("{signed}", &size.to_string()),
                ),
                Err(e) => e,
            };
            failed.push(Failed {
                name: r.name.clone(),
                error,
            });
        }
        kept
    }

    /// The snaps a refresh of `names` (every installed one from the store, not held, when
    /// empty) works on.
    fn refresh_targets(&self, names: &[String], channel: Option<&str>) -> Result<Vec<SnapState>> {
        check_names(names)?;
        if let Some(c) = channel {
            validate_channel(c)?;
            if names.len() != 1 {
                return Err(Error::invalid(gettext(
                    "a channel can be given when refreshing one snap only",
                )));
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
                    gettext("\"{snap}\" was installed from a file; the store cannot update it")
                        .replace("{snap}", n),
                ));
            }
            v.push(s.clone());
        }
        Ok(v)
    }

    /// The store's answer for every target: one result per snap, a revision or that snap's error.
    async fn refresh_results(
        &self,
        targets: &[SnapState],
        channel: Option<&str>,
    ) -> Result<Vec<ActionResult>> {
        let actions: Vec<Action> = targets
            .iter()
            .map(|s| Action::Refresh {
                snap_id: s.snap_id.clone(),
                channel: channel.map(str::to_string),
            })
            .collect();
        if actions.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.store().snap_action(&self.context()?, &actions).await?)
    }
}

/// A target the refresh leaves as it is, and why.
#[derive(Debug, Clone)]
pub(super) struct Failed {
    pub(super) name: String,
    pub(super) error: Error,
}

/// The store's results sorted into what each target gets: a revision that is neither its current
/// one nor (on the same channel) one a person reverted from, with the target it replaces; or that
/// snap's own error (snapd keeps per-snap errors apart: one snap taken down or off a channel does
/// not stop the others).
fn sort_results(
    results: Vec<ActionResult>,
    targets: &[SnapState],
    channel: Option<&str>,
) -> (Vec<(Resolved, SnapState)>, Vec<Failed>) {
    let mut resolved = Vec::new();
    let mut failed = Vec::new();
    for r in results {
        let snap_id = match &r {
            ActionResult::Ok { snap_id, .. } => snap_id.clone(),
            ActionResult::Error { snap_id, .. } => snap_id.clone().unwrap_or_default(),
        };
        let Some(before) = targets.iter().find(|s| s.snap_id == snap_id) else {
            continue;
        };
        // The store's error results may carry only the snap-id: name the snap as it is known here.
        let r = match r {
            ActionResult::Error {
                code,
                message,
                releases,
                snap_id,
                ..
            } => ActionResult::Error {
                name: Some(before.name.clone()),
                snap_id,
                code,
                message,
                releases,
            },
            ok => ok,
        };
        let tracked = Some(before.tracking_channel.as_str()).filter(|c| !c.is_empty());
        let res = match resolved_from(r, channel.or(tracked)) {
            Ok(res) => res,
            Err(error) => {
                failed.push(Failed {
                    name: before.name.clone(),
                    error,
                });
                continue;
            }
        };
        let rev = res.revision.to_string();
        // Never bring back what a person reverted from, unless they ask for another channel.
        if before.current == rev || (channel.is_none() && before.blocked.contains(&rev)) {
            continue;
        }
        if let Err(error) = check_epoch(&res.name, &rev, &res.yaml.epoch, before) {
            failed.push(Failed {
                name: before.name.clone(),
                error,
            });
            continue;
        }
        resolved.push((res, before.clone()));
    }
    (resolved, failed)
}

/// The error of a refresh that has nothing to do: no update, or only snaps that cannot be. A
/// refresh of everything is not failed by one snap's error: it has no update, and says why.
fn nothing_to_refresh(names: &[String], failed: &[Failed]) -> Error {
    let reasons: Vec<String> = failed.iter().map(|f| f.error.message.clone()).collect();
    if names.is_empty() && !failed.is_empty() {
        return Error::new(
            ErrorKind::NoUpdateAvailable,
            // Translators: {reasons} are the helper's messages for each snap, joined by "; ".
            gettext("No snap has an update that can be installed: {reasons}")
                .replace("{reasons}", &reasons.join("; ")),
        );
    }
    if let Some(first) = failed.first() {
        return Error::new(
            first.error.kind,
            gettext("nothing could be refreshed: {reasons}")
                .replace("{reasons}", &reasons.join("; ")),
        );
    }
    let message = if names.is_empty() {
        gettext("No snap has an update available")
    } else {
        crate::lang::ngettext(
            "{snaps} has no update available",
            "{snaps} have no update available",
            names.len() as u32,
        )
        .replace("{snaps}", &name_list(names))
    };
    Error::new(ErrorKind::NoUpdateAvailable, message)
}

/// The change's summary: what is refreshed, and which snaps are not and why.
fn refresh_summary(refreshed: &[String], failed: &[Failed]) -> String {
    let mut out = summary("Refresh", refreshed);
    for f in failed {
        // Translators: {snap} is a quoted snap name, {reason} the error that kept it back.
        out.push_str(
            &gettext("; \"{snap}\" not refreshed: {reason}")
                .replace("{snap}", &f.name)
                .replace("{reason}", &f.error.message),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed(name: &str, id: &str, rev: &str) -> SnapState {
        let mut s = tests_state(name, rev);
        s.snap_id = id.into();
        s
    }

    fn offered(name: &str, id: &str, rev: u32) -> ActionResult {
        let snap = serde_json::from_value(json!({
            "revision": rev, "version": "2",
            "snap-yaml": format!("name: {name}\nversion: '2'\n"),
            "download": {"url": "http://s/x.snap", "size": 4096, "sha3-384": "a".repeat(96)},
        }))
        .unwrap();
        ActionResult::Ok {
            name: name.into(),
            snap_id: id.into(),
            effective_channel: Some("stable".into()),
            redirect_channel: None,
            snap: Box::new(snap),
        }
    }

    fn store_error(id: &str, code: &str) -> ActionResult {
        ActionResult::Error {
            name: None,
            snap_id: Some(id.into()),
            code: code.into(),
            message: "no such thing".into(),
            releases: Vec::new(),
        }
    }

    #[test]
    fn one_snaps_error_leaves_the_others_refreshing() {
        let targets = [
            installed("aa", "id-a", "1"),
            installed("bb", "id-b", "1"),
            installed("cc", "id-c", "1"),
        ];
        let results = vec![
            offered("aa", "id-a", 2),
            store_error("id-b", "id-not-found"),
            store_error("id-c", "revision-not-found"),
        ];
        let (resolved, failed) = sort_results(results, &targets, None);
        let names: Vec<&str> = resolved.iter().map(|(r, _)| r.name.as_str()).collect();
        assert_eq!(names, ["aa"]);
        let why: Vec<(&str, ErrorKind)> = failed
            .iter()
            .map(|f| (f.name.as_str(), f.error.kind))
            .collect();
        assert_eq!(
            why,
            [
                ("bb", ErrorKind::NotFound),
                ("cc", ErrorKind::ChannelNotAvailable)
            ]
        );
        // Named from the state although the store's error carried only the snap-id.
        assert!(
            failed[0].error.message.contains("\"bb\""),
            "{}",
            failed[0].error.message
        );
        let s = refresh_summary(&["aa".into()], &failed);
        assert!(
            s.starts_with("Refresh \"aa\"; \"bb\" not refreshed: snap \"bb\" not found"),
            "{s}"
        );
        assert!(s.contains("\"cc\" not refreshed:"), "{s}");
    }

    #[test]
    fn a_malformed_answer_for_one_snap_is_that_snaps_error() {
        let targets = [installed("aa", "id-a", "1"), installed("bb", "id-b", "1")];
        let mut bad = offered("bb", "id-b", 3);
        if let ActionResult::Ok { snap, .. } = &mut bad {
            snap.revision.download.sha3_384 = Some("short".into());
        }
        let (resolved, failed) = sort_results(vec![offered("aa", "id-a", 2), bad], &targets, None);
        assert_eq!(resolved.len(), 1);
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].error.kind, ErrorKind::StoreError);
    }

    #[test]
    fn current_and_reverted_from_revisions_are_not_updates() {
        let mut b = installed("bb", "id-b", "1");
        b.blocked = vec!["3".into()];
        let targets = [installed("aa", "id-a", "2"), b];
        let results = vec![offered("aa", "id-a", 2), offered("bb", "id-b", 3)];
        let (resolved, failed) = sort_results(results.clone(), &targets, None);
        assert!(resolved.is_empty() && failed.is_empty());
        // Asking for a channel brings back even a revision reverted from.
        let (resolved, _) = sort_results(results, &targets, Some("stable"));
        assert_eq!(resolved.len(), 1);
    }

    #[test]
    fn a_revision_of_an_epoch_that_cannot_read_the_data_is_that_snaps_error() {
        let mut a = installed("aa", "id-a", "1");
        a.sequence[0].snap_yaml = "name: aa\nversion: '1'\nepoch: 1\n".into();
        let targets = [a, installed("bb", "id-b", "1")];
        // The store offers aa at epoch 0, which cannot read epoch 1's data.
        let results = vec![offered("aa", "id-a", 2), offered("bb", "id-b", 2)];
        let (resolved, failed) = sort_results(results, &targets, None);
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].0.name, "bb");
        assert_eq!(failed[0].name, "aa");
        assert_eq!(failed[0].error.kind, ErrorKind::EpochMismatch);
    }

    #[test]
    fn nothing_to_refresh_says_why() {
        let e = nothing_to_refresh(&[], &[]);
        assert_eq!(e.kind, ErrorKind::NoUpdateAvailable);
        let failed = [Failed {
            name: "bb".into(),
            error: Error::new(ErrorKind::NotFound, "snap \"bb\" not found in the store"),
        }];
        let e = nothing_to_refresh(&["bb".into(), "cc".into()], &failed);
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert!(e.message.contains("\"bb\" not found"), "{}", e.message);
        // Everything: no update, and why.
        let e = nothing_to_refresh(&[], &failed);
        assert_eq!(e.kind, ErrorKind::NoUpdateAvailable);
        assert!(e.message.contains("\"bb\" not found"), "{}", e.message);
    }
}
