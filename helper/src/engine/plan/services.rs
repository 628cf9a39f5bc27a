//! Service tasks in snapd's places (`stop-snap-services`, `start-snap-services`). An install,
//! refresh or revert plans them itself ([`stop`], [`start`]), where snapd has them: the old
//! revision's services stop after its pre-refresh hook and before its data is copied, so no
//! daemon writes `$SNAP_DATA` while it is copied; the new revision's start after the install or
//! post-refresh hook (which may `snapctl start|stop` them first) and before the configure hook.
//! Undo runs in reverse: a failed hook in between leaves the old revision's services running again.
//!
//! [`Engine::with_services`] is the safety net every change goes through: a Link whose plan put no
//! `StartServices` for its snap gets them around it, and an Unlink (remove) is preceded by a
//! `StopServices` that also takes the unit files away. A remove stops the services first, before
//! its remove hook ([`stop_for_remove`]), as snapd. No operation that changes a snap's
//! revision can leave its services behind.

use crate::engine::task::services::{StartServices, StopServices};

use super::*;

impl Engine {
    pub(crate) fn with_services(&self, tasks: Vec<Task>) -> Result<Vec<Task>> {
        let planned: BTreeSet<String> = tasks
            .iter()
            .filter_map(|t| match t {
                Task::StartServices(s) => Some(s.name.clone()),
                _ => None,
            })
            .collect();
        let mut out = Vec::with_capacity(tasks.len() + 2);
        for t in tasks {
            match &t {
                Task::Link(l) if !planned.contains(&l.name) => {
                    let name = l.name.clone();
                    if self.snap(&name)?.is_some() {
                        out.push(Task::StopServices(stop_to(&name, &l.after.current)));
                    }
                    out.push(t);
                    out.push(start(&name));
                }
                Task::Unlink(u) => {
                    out.push(Task::StopServices(StopServices {
                        remove: true,
                        ..stop(&u.name)
                    }));
                    out.push(t);
                }
                _ => out.push(t),
            }
        }
        Ok(out)
    }
}

/// snapd's `stop-snap-services` for a refresh or revert: the unit files stay.
pub(super) fn stop(name: &str) -> StopServices {
    StopServices {
        name: name.to_string(),
        remove: false,
        all: false,
        captured: false,
        stopped: Vec::new(),
        enabled: Vec::new(),
        user_stopped: Vec::new(),
        to_revision: None,
    }
}

/// `stop`, for a refresh or revert to revision `rev`.
pub(super) fn stop_to(name: &str, rev: &str) -> StopServices {
    StopServices {
        to_revision: Some(rev.to_string()),
        ..stop(name)
    }
}

/// snapd's `stop-snap-services` for a remove, before the remove hook: every service stops
/// (`endure` ones too); the unit files go with the stop `Engine::with_services` puts before the
/// Unlink.
pub(super) fn stop_for_remove(name: &str) -> StopServices {
    StopServices {
        all: true,
        ..stop(name)
    }
}

/// snapd's `start-snap-services`: the current revision's units written, enabled and started.
pub(super) fn start(name: &str) -> Task {
    Task::StartServices(StartServices {
        name: name.to_string(),
        captured: false,
        enabled: Vec::new(),
        started: Vec::new(),
        inactive: false,
        user_started: Vec::new(),
        endured: Vec::new(),
    })
}
