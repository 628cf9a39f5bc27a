//! systemd's manager over D-Bus (`org.freedesktop.systemd1`): the helper reloads, enables,
//! starts and stops units through it and reads their states, never by running or parsing
//! `systemctl`. A start or stop waits for its job to finish (the manager's `JobRemoved` signal), so
//! a change that says a service was started means systemd has started it.

use std::time::Duration;

use futures_util::StreamExt;
use zbus::proxy;
use zbus::zvariant::OwnedObjectPath;

use crate::error::{Error, ErrorKind, Result};

const SERVICE: &str = "org.freedesktop.systemd1";

/// The changes EnableUnitFiles and DisableUnitFiles made: (type, file, destination).
type Changes = Vec<(String, String, String)>;

#[proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1"
)]
trait Manager {
    fn reload(&self) -> zbus::Result<()>;
    fn subscribe(&self) -> zbus::Result<()>;
    fn enable_unit_files(
        &self,
        files: &[&str],
        runtime: bool,
        force: bool,
    ) -> zbus::Result<(bool, Changes)>;
    fn disable_unit_files(&self, files: &[&str], runtime: bool) -> zbus::Result<Changes>;
    fn start_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    fn stop_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    fn restart_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    fn reload_or_restart_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    fn load_unit(&self, name: &str) -> zbus::Result<OwnedObjectPath>;
    fn get_unit(&self, name: &str) -> zbus::Result<OwnedObjectPath>;
    fn get_unit_file_state(&self, file: &str) -> zbus::Result<String>;
    fn reset_failed_unit(&self, name: &str) -> zbus::Result<()>;
    #[zbus(signal)]
    fn job_removed(&self, id: u32, job: OwnedObjectPath, unit: String, result: String);
}

#[proxy(
    interface = "org.freedesktop.systemd1.Unit",
    default_service = "org.freedesktop.systemd1"
)]
trait Unit {
    #[zbus(property)]
    fn active_state(&self) -> zbus::Result<String>;
}

#[proxy(
    interface = "org.freedesktop.login1.Manager",
    default_service = "org.freedesktop.login1",
    default_path = "/org/freedesktop/login1"
)]
trait Login {
    fn list_users(&self) -> zbus::Result<Vec<(u32, String, OwnedObjectPath)>>;
}

/// What a unit job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Start,
    Stop,
    Restart,
    ReloadOrRestart,
}

/// The system's service manager.
#[derive(Clone)]
pub struct Systemd {
    conn: zbus::Connection,
    manager: ManagerProxy<'static>,
}

/// How long one unit job may take before the change fails (a unit's own timeouts are shorter by
/// default: systemd's 90 s start timeout).
const JOB_TIMEOUT: Duration = Duration::from_secs(180);

fn failed(op: &str, unit: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Internal, format!("systemd: {op} {unit}: {e}"))
}

impl Systemd {
    /// The manager on the system bus, or `None` when the bus has no systemd on it (PID 1 is
    /// another init, or there is no system bus at all).
    pub async fn connect() -> Option<Systemd> {
        let conn = zbus::Connection::system().await.ok()?;
        let dbus = zbus::fdo::DBusProxy::new(&conn).await.ok()?;
        let name = zbus::names::BusName::try_from(SERVICE).ok()?;
        if !dbus.name_has_owner(name).await.ok()? {
            return None;
        }
        let manager = ManagerProxy::new(&conn).await.ok()?;
        Some(Systemd { conn, manager })
    }

    /// The users logind knows (logged in, or lingering): (uid, name).
    pub async fn users(&self) -> Vec<(u32, String)> {
        match LoginProxy::new(&self.conn).await {
            Ok(login) => login
                .list_users()
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|(uid, name, _)| (uid, name))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    pub async fn reload(&self) -> Result<()> {
        self.manager
            .reload()
            .await
            .map_err(|e| failed("reload", "", e))
    }

    pub async fn enable(&self, units: &[String]) -> Result<()> {
        if units.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = units.iter().map(String::as_str).collect();
        self.manager
            .enable_unit_files(&names, false, true)
            .await
            .map_err(|e| failed("enable", &units.join(" "), e))?;
        Ok(())
    }

    pub async fn disable(&self, units: &[String]) -> Result<()> {
        if units.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = units.iter().map(String::as_str).collect();
        self.manager
            .disable_unit_files(&names, false)
            .await
            .map_err(|e| failed("disable", &units.join(" "), e))?;
        Ok(())
    }

    /// Forget that units failed (`systemctl reset-failed`), so that systemd unloads them once
    /// their files are gone; a failed unit stays loaded otherwise. Best effort: a unit systemd
    /// does not have (or has not failed) is the usual case, and any error is only logged.
    pub async fn reset_failed(&self, units: &[String]) {
        for unit in units {
            match self.manager.reset_failed_unit(unit).await {
                Ok(()) => {}
                Err(zbus::Error::MethodError(name, _, _))
                    if name.as_str() == "org.freedesktop.systemd1.NoSuchUnit" => {}
                Err(e) => tracing::warn!(unit = %unit, "cannot reset its failed state: {e}"),
            }
        }
    }

    /// Whether systemd has the unit in memory (loaded, or remembered as not found): only then can
    /// a file written since be out of date for it.
    pub async fn loaded(&self, unit: &str) -> bool {
        self.manager.get_unit(unit).await.is_ok()
    }

    /// `enabled`, `disabled`, `static`, … of a unit file; `None` when systemd does not know it.
    pub async fn file_state(&self, unit: &str) -> Option<String> {
        self.manager.get_unit_file_state(unit).await.ok()
    }

    /// Whether the unit is active (or on its way: activating, reloading).
    pub async fn active(&self, unit: &str) -> Result<bool> {
        let path = self
            .manager
            .load_unit(unit)
            .await
            .map_err(|e| failed("load", unit, e))?;
        let proxy = UnitProxy::builder(&self.conn)
            .path(path)
            .map_err(|e| failed("read", unit, e))?
            .build()
            .await
            .map_err(|e| failed("read", unit, e))?;
        let state = proxy
            .active_state()
            .await
            .map_err(|e| failed("read", unit, e))?;
        Ok(matches!(
            state.as_str(),
            "active" | "activating" | "reloading"
        ))
    }

    /// Run one job on each unit and wait for all of them to end; a job that does not end `done`
    /// is an error naming the unit and systemd's result (`failed`, `timeout`, `dependency`, …).
    /// The jobs are queued together, so that systemd orders them by their units' `After=` and
    /// `Before=`, as it does for `systemctl start a b c`.
    pub async fn jobs(&self, job: Job, units: &[String]) -> Result<()> {
        if units.is_empty() {
            return Ok(());
        }
        let op = match job {
            Job::Start => "start",
            Job::Stop => "stop",
            Job::Restart => "restart",
            Job::ReloadOrRestart => "reload",
        };
        let all = units.join(" ");
        // Subscribed before the calls, so that the end of a quick job is not missed.
        // A connection stays subscribed: a second job list on it is told so, which is fine.
        match self.manager.subscribe().await {
            Err(zbus::Error::MethodError(name, _, _))
                if name.as_str() == "org.freedesktop.systemd1.AlreadySubscribed" => {}
            r => r.map_err(|e| failed("subscribe", &all, e))?,
        }
        let mut ends = self
            .manager
            .receive_job_removed()
            .await
            .map_err(|e| failed(op, &all, e))?;
        let mut pending = std::collections::HashMap::new();
        for unit in units {
            let call = match job {
                Job::Start => self.manager.start_unit(unit, "replace").await,
                Job::Stop => self.manager.stop_unit(unit, "replace").await,
                Job::Restart => self.manager.restart_unit(unit, "replace").await,
                Job::ReloadOrRestart => self.manager.reload_or_restart_unit(unit, "replace").await,
            };
            pending.insert(call.map_err(|e| failed(op, unit, e))?, unit.clone());
        }
        let wait = async {
            let mut first_error = None;
            while !pending.is_empty() {
                let Some(sig) = ends.next().await else {
                    return Err(failed(op, &all, "systemd went away"));
                };
                let Ok(args) = sig.args() else { continue };
                if let Some(unit) = pending.remove(args.job()) {
                    if args.result() != "done" && first_error.is_none() {
                        first_error = Some(failed(
                            op,
                            &unit,
                            format!("the job ended {:?}", args.result()),
                        ));
                    }
                }
            }
            first_error.map_or(Ok(()), Err)
        };
        match tokio::time::timeout(JOB_TIMEOUT, wait).await {
            Ok(r) => r,
            Err(_) => Err(failed(op, &all, "no answer in 180 s")),
        }
    }
}
