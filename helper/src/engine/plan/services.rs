//! Service tasks around the tasks that change what is current (snapd's `stop-snap-services`
//! before and `start-snap-services` after): a Link is preceded by `StopServices` when the snap is
//! installed (refresh, revert) and followed by `StartServices` (after the install or post-refresh
//! and default-configure hooks, before the configure hook, when those follow); an Unlink (remove) is preceded by a
//! `StopServices` that also takes the unit files away. Added to every plan in one place, so that
//! no operation that changes a snap's revision can leave its services behind.

use crate::engine::task::services::{StartServices, StopServices};

use super::*;

impl Engine {
    pub(crate) fn with_services(&self, tasks: Vec<Task>) -> Result<Vec<Task>> {
        let mut out = Vec::with_capacity(tasks.len() + 2);
        // Snaps whose StartServices waits for their configure hook (snapd's order: the install or
        // post-refresh hook and default-configure see the services not yet started).
        let mut waiting: Vec<String> = Vec::new();
        for (i, t) in tasks.iter().enumerate() {
            match t {
                Task::Link(l) => {
                    let name = l.name.clone();
                    if self.snap(&name)?.is_some() {
                        out.push(Task::StopServices(stop(&name, false)));
                    }
                    out.push(t.clone());
                    if configure_follows(&tasks[i + 1..], &name) {
                        waiting.push(name);
                    } else {
                        out.push(start(name));
                    }
                }
                Task::Unlink(u) => {
                    out.push(Task::StopServices(stop(&u.name, true)));
                    out.push(t.clone());
                }
                Task::RunHook(h) if h.hook == "configure" && waiting.contains(&h.name) => {
                    waiting.retain(|n| n != &h.name);
                    out.push(start(h.name.clone()));
                    out.push(t.clone());
                }
                _ => out.push(t.clone()),
            }
        }
        Ok(out)
    }
}

/// Whether the tasks after a snap's Link run its configure hook before anything else links or
/// unlinks it.
fn configure_follows(rest: &[Task], name: &str) -> bool {
    for t in rest {
        match t {
            Task::RunHook(h) if h.name == name && h.hook == "configure" => return true,
            Task::Link(l) if l.name == name => return false,
            Task::Unlink(u) if u.name == name => return false,
            _ => {}
        }
    }
    false
}

fn start(name: String) -> Task {
    Task::StartServices(StartServices {
        name,
        captured: false,
        enabled: Vec::new(),
        started: Vec::new(),
        inactive: false,
        user_started: Vec::new(),
    })
}

fn stop(name: &str, remove: bool) -> StopServices {
    StopServices {
        name: name.to_string(),
        remove,
        captured: false,
        stopped: Vec::new(),
        enabled: Vec::new(),
        user_stopped: Vec::new(),
    }
}
