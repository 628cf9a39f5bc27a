//! Service tasks around the tasks that change what is current (snapd's `stop-snap-services`
//! before and `start-snap-services` after): a Link is preceded by `StopServices` when the snap is
//! installed (refresh, revert) and followed by `StartServices`; an Unlink (remove) is preceded by a
//! `StopServices` that also takes the unit files away. Added to every plan in one place, so that
//! no operation that changes a snap's revision can leave its services behind.

use crate::engine::task::services::{StartServices, StopServices};

use super::*;

impl Engine {
    pub(crate) fn with_services(&self, tasks: Vec<Task>) -> Result<Vec<Task>> {
        let mut out = Vec::with_capacity(tasks.len() + 2);
        for t in tasks {
            match &t {
                Task::Link(l) => {
                    let name = l.name.clone();
                    if self.snap(&name)?.is_some() {
                        out.push(Task::StopServices(stop(&name, false)));
                    }
                    out.push(t);
                    out.push(Task::StartServices(StartServices {
                        name,
                        captured: false,
                        enabled: Vec::new(),
                        started: Vec::new(),
                        inactive: false,
                        user_started: Vec::new(),
                    }));
                }
                Task::Unlink(u) => {
                    out.push(Task::StopServices(stop(&u.name, true)));
                    out.push(t);
                }
                _ => out.push(t),
            }
        }
        Ok(out)
    }
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
