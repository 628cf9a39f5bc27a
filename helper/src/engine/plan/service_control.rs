//! A snap's services as the API shows them (`Services`), and changes of kind `services` that start,
//! stop or restart them. A service is named `snap` (all its daemons) or `snap.app`.

use serde_json::json;

use crate::engine::services::{manager, services_of, user_enabled};
use crate::engine::task::service_control::{ServiceControl, ServiceOp};
use crate::systemd_user::UserManager;
use crate::units::Service;

use super::*;

/// One daemon of an installed snap, and what systemd says of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceInfo {
    pub snap: String,
    pub app: String,
    pub daemon: String,
    pub scope: String,
    pub enabled: bool,
    pub active: bool,
    /// Its timer and socket units, which start it.
    pub activators: Vec<String>,
}

impl Engine {
    /// The daemons of an installed snap; without systemd, each neither enabled nor active.
    pub async fn services(&self, name: &str) -> Result<Vec<ServiceInfo>> {
        let snap = self.snap(name)?.ok_or_else(|| not_installed(name))?;
        let sd = manager(self.paths()).await;
        let mut out = Vec::new();
        for s in services_of(self, &snap)? {
            let (mut enabled, mut active) = (false, false);
            match (&sd, s.scope) {
                (Some(sd), crate::units::Scope::System) => {
                    for u in s.started_units() {
                        enabled |= sd.file_state(&u).await.as_deref() == Some("enabled");
                        active |= sd.active(&u).await?;
                    }
                    active |= sd.active(&s.service.name).await?;
                }
                // A user service: enabled for every user; active in some user's manager.
                (Some(sd), crate::units::Scope::User) => {
                    let units = s.started_units();
                    enabled = units.iter().any(|u| user_enabled(self.paths(), u));
                    for user in UserManager::running(sd).await {
                        for u in units.iter().chain([&s.service.name]) {
                            active |= user.active(u).await?;
                        }
                    }
                }
                (None, _) => {}
            }
            // D-Bus activation is its start-up: snapd says such a service is enabled.
            enabled |= sd.is_some() && !s.activation.is_empty();
            out.push(ServiceInfo {
                snap: name.to_string(),
                app: s.app.clone(),
                daemon: s.daemon.clone(),
                scope: s.scope.as_str().to_string(),
                enabled,
                active,
                activators: s.activators.iter().map(|u| u.name.clone()).collect(),
            });
        }
        Ok(out)
    }

    /// One change of kind `services`: one task per snap named.
    pub fn control_services(
        &self,
        targets: &[String],
        op: ServiceOp,
        flag: bool,
        uid: u32,
    ) -> Result<u64> {
        let (names, tasks) = self.service_tasks(targets, op, flag)?;
        let verb = match op {
            ServiceOp::Start => "Start services of",
            ServiceOp::Stop => "Stop services of",
            ServiceOp::Restart => "Restart services of",
        };
        self.start(
            "services",
            &summary(verb, &names),
            names,
            uid,
            json!({"services": targets, "op": op, "flag": flag}),
            tasks,
        )
    }

    /// The snaps named and one `ServiceControl` task per snap, every name checked first.
    pub(crate) fn service_tasks(
        &self,
        targets: &[String],
        op: ServiceOp,
        flag: bool,
    ) -> Result<(Vec<String>, Vec<Task>)> {
        if targets.is_empty() {
            return Err(Error::invalid(gettext("no service named")));
        }
        let mut per_snap: Vec<(String, Vec<String>)> = Vec::new();
        for t in targets {
            let (name, app) = match t.split_once('.') {
                Some((n, a)) => (n, Some(a)),
                None => (t.as_str(), None),
            };
            validate_snap_name(name).map_err(|e| invalid_name(t, &e.to_string()))?;
            let snap = self.snap(name)?.ok_or_else(|| not_installed(name))?;
            let units = units_of(&services_of(self, &snap)?, name, app, op)?;
            match per_snap.iter_mut().find(|(n, _)| n == name) {
                Some((_, u)) => {
                    for x in units {
                        if !u.contains(&x) {
                            u.push(x);
                        }
                    }
                }
                None => per_snap.push((name.to_string(), units)),
            }
        }
        let names: Vec<String> = per_snap.iter().map(|(n, _)| n.clone()).collect();
        let tasks = per_snap
            .into_iter()
            .map(|(name, units)| {
                Task::ServiceControl(ServiceControl {
                    name,
                    op,
                    units,
                    flag,
                    before: Vec::new(),
                })
            })
            .collect();
        Ok((names, tasks))
    }
}

/// The units an operation on a daemon acts on: its activators, or its service; a service D-Bus
/// activation starts is left to it by a start (snapd starts none), and stopped or restarted itself.
fn controlled(s: &Service, op: ServiceOp) -> Vec<String> {
    let mut units = s.started_units();
    if !s.activation.is_empty() && op != ServiceOp::Start {
        units.push(s.service.name.clone());
    }
    units
}

/// The units one target names: every system daemon of the snap, or the one app's.
fn units_of(
    services: &[Service],
    snap: &str,
    app: Option<&str>,
    op: ServiceOp,
) -> Result<Vec<String>> {
    let system: Vec<&Service> = services
        .iter()
        .filter(|s| s.scope == crate::units::Scope::System)
        .collect();
    let units: Vec<String> = match app {
        None => system.iter().flat_map(|s| controlled(s, op)).collect(),
        Some(a) => match services.iter().find(|s| s.app == a) {
            Some(s) if s.scope == crate::units::Scope::System => controlled(s, op),
            Some(_) => {
                return Err(Error::invalid(
                    gettext("\"{snap}.{app}\" is a user service: each user's session runs it")
                        .replace("{snap}", snap)
                        .replace("{app}", a),
                ))
            }
            None => {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    gettext("\"{snap}\" has no service \"{app}\"")
                        .replace("{snap}", snap)
                        .replace("{app}", a),
                ))
            }
        },
    };
    // Nothing to do is fine for a start of services D-Bus activation starts; otherwise the snap
    // has no system service.
    let activated = system.iter().any(|s| !s.activation.is_empty());
    if units.is_empty() && app.is_none() && !activated {
        return Err(Error::new(
            ErrorKind::NotFound,
            gettext("\"{snap}\" has no services").replace("{snap}", snap),
        ));
    }
    Ok(units)
}
