//! `services`, `start`, `stop`, `restart` and `logs`: a snap's background services, as `snap
//! services` and its kin do. A service is named `SNAP` (all of it) or `SNAP.APP`. Logs are read
//! from the journal by `journalctl` (the units' syslog identifier is `SNAP.APP`), which prints them
//! itself.

use std::process::Command;

use gettextrs::gettext;
use serde_json::Value;
use snapshelf_dbus::proxy::Helper1ProxyBlocking;
use snapshelf_dbus::types::{
    RestartServicesOptions, ServiceInfo, StartServicesOptions, StopServicesOptions,
};

use crate::failure::{dbus_failure, Failure, Res};
use crate::output::{dict_json, table};
use crate::session::Ctl;

/// `services [SNAP]`: every daemon of the named snaps, or of all installed snaps.
pub(crate) fn list(ctl: &Ctl, h: &Helper1ProxyBlocking, names: &[String]) -> Res<()> {
    let names: Vec<String> = if names.is_empty() {
        let installed = h.list_installed().map_err(dbus_failure)?;
        installed
            .iter()
            .filter_map(|d| d.get("name").and_then(|v| String::try_from(v.clone()).ok()))
            .collect()
    } else {
        names.to_vec()
    };
    let mut rows = Vec::new();
    let mut machine = Vec::new();
    for n in &names {
        let list = h.services(n).map_err(dbus_failure)?;
        for d in &list {
            let s = ServiceInfo::from_dict(d).map_err(Failure::bad_answer)?;
            rows.push(row(&s));
            machine.push(dict_json(d));
        }
    }
    let headers = [
        gettext("Service"),
        // Translators: whether a service starts at boot.
        gettext("Startup"),
        // Translators: whether a service runs now.
        gettext("Current"),
        gettext("Notes"),
    ];
    ctl.print(table(&headers, &rows), Value::Array(machine));
    Ok(())
}

fn row(s: &ServiceInfo) -> Vec<String> {
    let mut notes: Vec<String> = s
        .activators
        .iter()
        .map(|a| {
            if a.ends_with(".timer") {
                gettext("timer-activated")
            } else {
                gettext("socket-activated")
            }
        })
        .collect();
    notes.dedup();
    if s.scope == "user" {
        notes.push(gettext("user"));
    }
    vec![
        format!("{}.{}", s.snap, s.app),
        if s.enabled {
            gettext("enabled")
        } else {
            gettext("disabled")
        },
        if s.active {
            gettext("active")
        } else {
            gettext("inactive")
        },
        if notes.is_empty() {
            "-".to_string()
        } else {
            notes.join(",")
        },
    ]
}

/// What `start`, `stop` and `restart` do.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    Start { enable: bool },
    Stop { disable: bool },
    Restart { reload: bool },
}

pub(crate) fn control(ctl: &Ctl, h: &Helper1ProxyBlocking, services: &[String], op: Op) -> Res<()> {
    let names: Vec<&str> = services.iter().map(String::as_str).collect();
    let flag = |b: bool| b.then_some(true);
    let call = match op {
        Op::Start { enable } => {
            let o = StartServicesOptions {
                enable: flag(enable),
            };
            h.start_services(&names, o.to_dict())
        }
        Op::Stop { disable } => {
            let o = StopServicesOptions {
                disable: flag(disable),
            };
            h.stop_services(&names, o.to_dict())
        }
        Op::Restart { reload } => {
            let o = RestartServicesOptions {
                reload: flag(reload),
            };
            h.restart_services(&names, o.to_dict())
        }
    };
    ctl.change(call)
}

/// `logs SERVICE [-n N] [-f]`: the journal of the named services (`SNAP` or `SNAP.APP`).
pub(crate) fn logs(
    h: &Helper1ProxyBlocking,
    services: &[String],
    lines: u32,
    follow: bool,
) -> Res<()> {
    let mut cmd = Command::new("journalctl");
    cmd.args(["--no-pager", "-o", "short-iso", "-n", &lines.to_string()]);
    if follow {
        cmd.arg("-f");
    }
    for s in services {
        let (snap, app) = match s.split_once('.') {
            Some((n, a)) => (n, Some(a)),
            None => (s.as_str(), None),
        };
        // The helper knows which apps are services; a name it does not know is refused here.
        let list = h.services(snap).map_err(dbus_failure)?;
        let mut found = false;
        for d in &list {
            let info = ServiceInfo::from_dict(d).map_err(Failure::bad_answer)?;
            if app.is_none_or(|a| a == info.app) {
                cmd.arg(format!("SYSLOG_IDENTIFIER={}.{}", info.snap, info.app));
                found = true;
            }
        }
        if !found {
            let msg = gettext("\"{service}\" is not a service").replace("{service}", s);
            return Err(Failure::own(msg, 2));
        }
    }
    let status = cmd.status().map_err(|e| {
        Failure::own(
            gettext("cannot run journalctl: {error}").replace("{error}", &e.to_string()),
            1,
        )
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(Failure::own(gettext("journalctl failed"), 1))
    }
}
