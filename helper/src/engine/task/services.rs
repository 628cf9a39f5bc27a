//! A snap's services around the tasks that make a revision current or take it away (snapd's
//! `start-snap-services` and `stop-snap-services`). `StopServices` comes before a Link (refresh,
//! revert) or an Unlink (remove): it stops the running services (a refresh leaves the
//! `refresh-mode: endure` ones running), and for a remove takes the unit files away (a remove
//! first stops them all before its remove hook, as snapd's stop-snap-services).
//! `StartServices` comes after a Link: it writes the current revision's units, enables the new
//! ones (unless `install-mode: disable`) and starts every enabled one; a service someone disabled
//! stays disabled across a refresh.
//!
//! Each records what it is about to do before it does it; undo reverses exactly that. Undo runs in
//! reverse order, after the Link/Unlink undo has put the previous state back, so `StopServices`'s
//! undo writes the units of that state again and starts what it had stopped. An `endure` service
//! a refresh left running is left running by its undo too (`StartServices::endured`).

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::{words, Ctx};
use crate::engine::services::{self, manager};
use crate::error::Result;
use crate::systemd::{Job, Systemd};
use crate::systemd_user::UserManager;
use crate::units::{Scope, Service};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartServices {
    pub name: String,
    /// What the task decided (recorded before it acts); until then it has done nothing.
    #[serde(default)]
    pub captured: bool,
    /// Units it enabled and started (undo stops and disables them).
    #[serde(default)]
    pub enabled: Vec<String>,
    #[serde(default)]
    pub started: Vec<String>,
    /// The snap has daemons, but no systemd runs this system: units written, left inactive.
    #[serde(default)]
    pub inactive: bool,
    /// User units (`daemon-scope: user`) it started in the running user managers.
    #[serde(default)]
    pub user_started: Vec<String>,
    /// `refresh-mode: endure` units that were still running from before the refresh: neither
    /// started here nor stopped by undo, which leaves them running as they were.
    #[serde(default)]
    pub endured: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopServices {
    pub name: String,
    /// The snap is being removed: its unit files go too.
    pub remove: bool,
    /// The `refresh-mode: endure` services stop too (a remove's first stop, before its remove
    /// hook; its unit files stay until the stop before the Unlink).
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub captured: bool,
    /// Units that were running and that it stopped, and those that were enabled.
    #[serde(default)]
    pub stopped: Vec<String>,
    #[serde(default)]
    pub enabled: Vec<String>,
    /// User units that were running in a user manager and that it stopped there.
    #[serde(default)]
    pub user_stopped: Vec<String>,
    /// The revision the change makes current (refresh, revert): an `endure` service that is no
    /// daemon of it any more is stopped too (snapd's `removedSvcs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_revision: Option<String>,
}

impl StartServices {
    pub fn summary(&self) -> String {
        let t = if self.inactive {
            gettext("Write the services of \"{snap}\" (no systemd runs this system: left inactive)")
        } else {
            gettext("Start the services of \"{snap}\"")
        };
        words(t, &self.name, "")
    }

    pub(super) async fn run(self, cx: &Ctx) -> Result<Self> {
        if self.captured {
            let sd = manager(cx.paths()).await;
            return self.act(cx, sd.as_ref(), false).await;
        }
        let Some(snap) = cx.snap(&self.name)? else {
            return Ok(self);
        };
        // Every unit is made, and every field checked, before any file is written.
        let services = services::services_of(&cx.engine, &snap)?;
        let on_disk = services::files_on_disk(cx.paths(), &self.name)?;
        if services.is_empty() && on_disk.is_empty() {
            return Ok(StartServices {
                captured: true,
                ..self
            });
        }
        cx.progress(words(
            gettext("Starting the services of \"{snap}\""),
            &self.name,
            "",
        ));
        let sd = manager(cx.paths()).await;
        let mut done = StartServices {
            captured: true,
            inactive: sd.is_none() && !services.is_empty(),
            ..self
        };
        if let Some(sd) = &sd {
            done.decide(cx, sd, &services, &on_disk).await?;
        } else if !services.is_empty() {
            tracing::warn!(snap = %done.name, "no systemd on the system bus: services written, left inactive");
        }
        cx.record(&super::Task::StartServices(done.clone()))?;
        if let Some(sd) = &sd {
            disable_dropped(sd, &services, &on_disk).await?;
        }
        let gone = services::write_files(cx.paths(), &done.name, &services)?;
        for s in services.iter().filter(|s| s.scope == Scope::User) {
            for u in s.started_units() {
                services::user_enable(cx.paths(), &u, s.enable_at_install)?;
            }
        }
        done.act(cx, sd.as_ref(), !gone.is_empty()).await
    }

    /// Which units to enable and start. An endure service a refresh left running is enabled
    /// but not counted as started (snapd's undo would stop it, and then start the old revision's
    /// again: a restart the refresh-mode asked to avoid).
    async fn decide(
        &mut self,
        cx: &Ctx,
        sd: &Systemd,
        services: &[Service],
        on_disk: &[(Scope, String)],
    ) -> Result<()> {
        for s in services.iter().filter(|s| s.scope == Scope::System) {
            if wanted(sd, s, on_disk).await {
                let units = s.started_units();
                self.enabled.extend(units.clone());
                if s.endure && existed(&units, on_disk) && all_active(sd, &units).await? {
                    self.endured.extend(units);
                } else {
                    self.started.extend(units);
                }
            }
        }
        let users = UserManager::running(sd).await;
        for s in services.iter().filter(|s| s.scope == Scope::User) {
            if user_wanted(cx, s, on_disk) {
                let units = s.started_units();
                let running = s.endure && existed(&units, on_disk) && !users.is_empty();
                if running && all_active_in(&users, &units).await? {
                    self.endured.extend(units);
                } else {
                    self.user_started.extend(units);
                }
            }
        }
        Ok(())
    }

    /// Reload, enable and start what was decided (again, after a crash: each step is idempotent).
    async fn act(self, cx: &Ctx, sd: Option<&Systemd>, files_gone: bool) -> Result<Self> {
        if let Some(sd) = sd {
            // A daemon-reload costs systemd ~100-200 ms; units it has never seen it reads from disk
            // when they are first named (systemd ≥ 246 notices the unit folder changed), so only a
            // unit it already holds (a refresh, a re-install) needs one.
            let mut stale = files_gone;
            for f in services::files_on_disk(cx.paths(), &self.name)? {
                stale |= f.0 == Scope::System && sd.loaded(&f.1).await;
            }
            if stale {
                sd.reload().await?;
            }
            sd.enable(&self.enabled).await?;
            sd.jobs(Job::Start, &self.started).await?;
            if !self.user_started.is_empty() {
                for user in UserManager::running(sd).await {
                    // A user manager reads new files only at a reload (cheap: few units).
                    user.reload().await?;
                    user.start(&self.user_started).await?;
                }
            }
        }
        Ok(self)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        if !self.captured {
            return Ok(());
        }
        let paths = cx.paths().clone();
        let (enabled, started) = (self.enabled.clone(), self.started.clone());
        let user_started = self.user_started.clone();
        let name = self.name.clone();
        services::block(async move {
            let sd = manager(&paths).await;
            if let Some(sd) = &sd {
                stop_all(sd, &started).await?;
                sd.disable(&enabled).await?;
                stop_in_users(sd, &user_started).await?;
            }
            services::remove_files(&paths, &name)?;
            if let Some(sd) = &sd {
                sd.reload().await?;
                reload_users(sd, !user_started.is_empty()).await?;
            }
            Ok(())
        })
    }
}

/// The daemons of revision `rev` of `snap`, from its mounted `meta/snap.yaml`; `None` (logged)
/// when it cannot be read, so that endure services are left running as the old revision says.
fn daemons_of(cx: &Ctx, snap: &str, rev: &str) -> Option<std::collections::BTreeSet<String>> {
    let path = cx.paths().mount_point(snap, rev).join("meta/snap.yaml");
    let read = std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| snapshelf_snap::yaml::SnapYaml::parse(&t).map_err(|e| e.to_string()));
    match read {
        Ok(yaml) => Some(
            yaml.apps
                .into_iter()
                .filter(|(_, a)| a.daemon.is_some())
                .map(|(name, _)| name)
                .collect(),
        ),
        Err(e) => {
            tracing::warn!(file = %path.display(), "cannot read the coming revision's daemons: {e}");
            None
        }
    }
}

/// Whether a service is to be enabled and started: one that existed before keeps its enablement
/// (someone may have disabled it), a new one follows its `install-mode`.
async fn wanted(sd: &Systemd, s: &Service, on_disk: &[(Scope, String)]) -> bool {
    let units = s.started_units();
    let existed = units.iter().any(|u| on_disk.iter().any(|(_, f)| f == u));
    if !existed {
        return s.enable_at_install;
    }
    for u in &units {
        if sd.file_state(u).await.as_deref() == Some("enabled") {
            return true;
        }
    }
    false
}

/// Whether a user service is started in the running user managers: a new one follows its
/// `install-mode`, one that existed before whether it is still enabled for every user.
fn user_wanted(cx: &Ctx, s: &Service, on_disk: &[(Scope, String)]) -> bool {
    let units = s.started_units();
    let existed = units.iter().any(|u| on_disk.iter().any(|(_, f)| f == u));
    if !existed {
        return s.enable_at_install;
    }
    units.iter().any(|u| services::user_enabled(cx.paths(), u))
}

/// Whether the units were there before (a refresh): asking systemd about a unit with no file yet
/// would have it cache the unit as not found.
fn existed(units: &[String], on_disk: &[(Scope, String)]) -> bool {
    units.iter().all(|u| on_disk.iter().any(|(_, f)| f == u))
}

/// Disable the system units the new revision no longer has, while their files are still there
/// to say which links are theirs (the files go next); undo's `StopServices` enables them again.
async fn disable_dropped(
    sd: &Systemd,
    services: &[Service],
    on_disk: &[(Scope, String)],
) -> Result<()> {
    let kept: Vec<&str> = services
        .iter()
        .flat_map(|s| s.files().map(|f| f.name.as_str()))
        .collect();
    let dropped: Vec<String> = on_disk
        .iter()
        .filter(|(scope, f)| *scope == Scope::System && !kept.contains(&f.as_str()))
        .map(|(_, f)| f.clone())
        .collect();
    if !dropped.is_empty() {
        sd.disable(&dropped).await?;
    }
    Ok(())
}

/// Whether every one of `units` is active in the system manager.
async fn all_active(sd: &Systemd, units: &[String]) -> Result<bool> {
    for u in units {
        if !sd.active(u).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether every one of `units` is active in every running user manager.
async fn all_active_in(users: &[UserManager], units: &[String]) -> Result<bool> {
    for user in users {
        for u in units {
            if !user.active(u).await? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Stop user units in every running user manager, activators first.
async fn stop_in_users(sd: &Systemd, units: &[String]) -> Result<()> {
    if units.is_empty() {
        return Ok(());
    }
    let (services, activators): (Vec<String>, Vec<String>) =
        units.iter().cloned().partition(|u| u.ends_with(".service"));
    for user in UserManager::running(sd).await {
        user.stop(&activators).await?;
        user.stop(&services).await?;
    }
    Ok(())
}

/// Reload the running user managers (after their unit files changed).
async fn reload_users(sd: &Systemd, any: bool) -> Result<()> {
    if any {
        for user in UserManager::running(sd).await {
            user.reload().await?;
        }
    }
    Ok(())
}

/// Stop units, activators (timers, sockets) before the services they start, as snapd does.
async fn stop_all(sd: &Systemd, units: &[String]) -> Result<()> {
    let (services, activators): (Vec<String>, Vec<String>) =
        units.iter().cloned().partition(|u| u.ends_with(".service"));
    sd.jobs(Job::Stop, &activators).await?;
    sd.jobs(Job::Stop, &services).await
}

impl StopServices {
    pub fn summary(&self) -> String {
        words(gettext("Stop the services of \"{snap}\""), &self.name, "")
    }

    pub(super) async fn run(self, cx: &Ctx) -> Result<Self> {
        if self.captured {
            return self.act(cx).await;
        }
        let on_disk = services::files_on_disk(cx.paths(), &self.name)?;
        if on_disk.is_empty() {
            return Ok(StopServices {
                captured: true,
                ..self
            });
        }
        cx.progress(words(
            gettext("Stopping the services of \"{snap}\""),
            &self.name,
            "",
        ));
        // `refresh-mode: endure` services keep running across a refresh or revert, not a remove,
        // unless the revision coming has them no more.
        let kept = self
            .to_revision
            .as_deref()
            .and_then(|r| daemons_of(cx, &self.name, r));
        let endure: Vec<String> = match cx.snap(&self.name)? {
            Some(snap) if !self.remove && !self.all => services::services_of(&cx.engine, &snap)
                .unwrap_or_default()
                .into_iter()
                .filter(|s| s.endure && kept.as_ref().is_none_or(|k| k.contains(&s.app)))
                .flat_map(|s| s.files().map(|f| f.name.clone()).collect::<Vec<_>>())
                .collect(),
            _ => Vec::new(),
        };
        let mut done = StopServices {
            captured: true,
            ..self
        };
        if let Some(sd) = manager(cx.paths()).await {
            for (_, u) in on_disk.iter().filter(|(s, _)| *s == Scope::System) {
                if sd.file_state(u).await.as_deref() == Some("enabled") {
                    done.enabled.push(u.clone());
                }
                if !endure.contains(u) && sd.active(u).await? {
                    done.stopped.push(u.clone());
                }
            }
            let users = UserManager::running(&sd).await;
            for (_, u) in on_disk.iter().filter(|(s, _)| *s == Scope::User) {
                if endure.contains(u) {
                    continue;
                }
                for user in &users {
                    if user.active(u).await? {
                        done.user_stopped.push(u.clone());
                        break;
                    }
                }
            }
        }
        cx.record(&super::Task::StopServices(done.clone()))?;
        done.act(cx).await
    }

    async fn act(self, cx: &Ctx) -> Result<Self> {
        let sd = manager(cx.paths()).await;
        if let Some(sd) = &sd {
            stop_all(sd, &self.stopped).await?;
            stop_in_users(sd, &self.user_stopped).await?;
            if self.remove {
                sd.disable(&self.enabled).await?;
            }
        }
        if self.remove {
            let files = services::files_on_disk(cx.paths(), &self.name)?;
            let had_user_units = files.iter().any(|(s, _)| *s == Scope::User);
            services::remove_files(cx.paths(), &self.name)?;
            if let Some(sd) = &sd {
                sd.reload().await?;
                // A service that had failed (a watchdog, a crash) would stay loaded, `not-found`.
                let system: Vec<String> = files
                    .into_iter()
                    .filter(|(s, _)| *s == Scope::System)
                    .map(|(_, f)| f)
                    .collect();
                sd.reset_failed(&system).await;
                reload_users(sd, had_user_units).await?;
            }
        }
        Ok(self)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        if !self.captured {
            return Ok(());
        }
        // The state is the one before the change again: its units, enabled and running as they were.
        let Some(snap) = cx.snap(&self.name)? else {
            return Ok(());
        };
        let list = services::services_of(&cx.engine, &snap)?;
        services::write_files(cx.paths(), &self.name, &list)?;
        for s in list.iter().filter(|s| s.scope == Scope::User) {
            for u in s.started_units() {
                services::user_enable(cx.paths(), &u, s.enable_at_install)?;
            }
        }
        let paths = cx.paths().clone();
        let (enabled, stopped) = (self.enabled.clone(), self.stopped.clone());
        let user_stopped = self.user_stopped.clone();
        services::block(async move {
            if let Some(sd) = manager(&paths).await {
                sd.reload().await?;
                sd.enable(&enabled).await?;
                sd.jobs(Job::Start, &stopped).await?;
                if !user_stopped.is_empty() {
                    for user in UserManager::running(&sd).await {
                        user.reload().await?;
                        user.start(&user_stopped).await?;
                    }
                }
            }
            Ok(())
        })
    }
}
