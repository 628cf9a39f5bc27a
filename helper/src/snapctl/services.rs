//! `snapctl services|start|stop|restart` (snapd's `ctlcmd/services.go`, `start.go`, `stop.go`,
//! `restart.go`): a snap lists and controls its own services only (`<snap>` for all of them, or
//! `<snap>.<app>`). From a hook, an action is queued at the end of the hook's change: it runs once
//! the hook has succeeded and is undone with the change (snapd's `queueCommand`). From an app it
//! is a change of its own, which snapctl waits for. Starting, stopping and restarting need root
//! outside hooks, as in snapd.

use std::time::{Duration, Instant};

use super::commands::{may_change, split, Caller, Fail, Out};
use super::Reply;
use crate::engine::plan::service_control::ServiceInfo;
use crate::engine::task::service_control::ServiceOp;
use crate::engine::Engine;
use crate::state::ChangeStatus;

/// How long snapctl waits for its change from an app (snapd: half the configure hook's timeout).
const WAIT: Duration = Duration::from_secs(150);

/// The caller's services that `names` pick (all of them when none is named); a name that is not
/// one of the caller's own services is refused with snapd's words.
fn own_services(
    engine: &Engine,
    caller: &Caller,
    names: &[String],
) -> Result<Vec<ServiceInfo>, Fail> {
    let snap = caller.snap.clone();
    let all = crate::engine::services::block(async { engine.services(&snap).await })?;
    if names.is_empty() || names.contains(&caller.snap) {
        return Ok(all);
    }
    let mut out = Vec::new();
    for n in names {
        let app = n.strip_prefix(&format!("{}.", caller.snap));
        match app.and_then(|a| all.iter().find(|s| s.app == a)) {
            Some(s) => out.push(s.clone()),
            None => return Err(Fail(format!("unknown service: {n:?}"))),
        }
    }
    Ok(out)
}

/// `snapctl services [<snap>[.<app>]…]`: snapd's table (Service, Startup, Current, Notes).
pub(super) fn services(engine: &Engine, caller: &Caller, args: &[String]) -> Out {
    let names = split(args, "", &[])?.pos;
    let list = own_services(engine, caller, &names)?;
    let mut rows = vec![[
        "Service".to_string(),
        "Startup".into(),
        "Current".into(),
        "Notes".into(),
    ]];
    for s in &list {
        let notes = if s.activators.iter().any(|a| a.ends_with(".timer")) {
            "timer-activated"
        } else if s.activators.iter().any(|a| a.ends_with(".socket")) {
            "socket-activated"
        } else if s.scope == "user" {
            "user"
        } else {
            "-"
        };
        rows.push([
            format!("{}.{}", s.snap, s.app),
            if s.enabled { "enabled" } else { "disabled" }.into(),
            if s.active { "active" } else { "inactive" }.into(),
            notes.into(),
        ]);
    }
    Ok(Reply::out(table(&rows)))
}

/// Columns as snapd's tabwriter lays them out: at least five wide, two spaces between.
fn table(rows: &[[String; 4]]) -> String {
    let mut widths = [0usize; 4];
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count() + 2).max(5);
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 < r.len() {
                line.push_str(&format!("{c:<w$}", w = widths[i]));
            } else {
                line.push_str(c);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `snapctl start [--enable]`, `stop [--disable]`, `restart [--reload]` `<snap>[.<app>]…`.
pub(super) fn control(engine: &Engine, caller: &Caller, cmd: &str, args: &[String]) -> Out {
    let (op, flag_name) = match cmd {
        "start" => (ServiceOp::Start, "enable"),
        "stop" => (ServiceOp::Stop, "disable"),
        _ => (ServiceOp::Restart, "reload"),
    };
    let parsed = split(args, "", &[flag_name])?;
    if parsed.pos.is_empty() {
        return Err(Fail(
            "the required argument `<service> (at least 1 argument)` was not provided".into(),
        ));
    }
    may_change(caller, cmd)?;
    let flag = parsed.longs.iter().any(|l| l == flag_name);
    own_services(engine, caller, &parsed.pos)?;
    match &caller.hook {
        Some(hook) => {
            let (_, tasks) = engine.service_tasks(&parsed.pos, op, flag)?;
            hook.queue(tasks);
            Ok(Reply::out(String::new()))
        }
        None => {
            let id = engine.control_services(&parsed.pos, op, flag, caller.uid)?;
            wait(engine, id, cmd)
        }
    }
}

/// Wait for the change; its error is the command's.
fn wait(engine: &Engine, id: u64, cmd: &str) -> Out {
    let started = Instant::now();
    loop {
        if let Some(c) = engine.change(id)? {
            match c.row.status {
                ChangeStatus::Done => return Ok(Reply::out(String::new())),
                ChangeStatus::Error | ChangeStatus::Cancelled => return Err(Fail(c.row.error)),
                _ => {}
            }
        }
        if started.elapsed() > WAIT {
            return Err(Fail(format!("{cmd} command is taking too long")));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_laid_out_as_snapds() {
        let row = |a: &str, b: &str, c: &str, d: &str| [a.into(), b.into(), c.into(), d.into()];
        let t = table(&[
            row("Service", "Startup", "Current", "Notes"),
            row("x.a", "enabled", "active", "-"),
            row("x.long-name", "disabled", "inactive", "timer-activated"),
        ]);
        assert_eq!(
            t,
            "Service      Startup   Current   Notes\n\
             x.a          enabled   active    -\n\
             x.long-name  disabled  inactive  timer-activated\n"
        );
    }
}
