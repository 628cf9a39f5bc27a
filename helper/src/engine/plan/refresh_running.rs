//! The refresh plan's part of refresh app awareness (`engine/refresh_app_awareness.rs`): snapd's
//! soft check, before anything is stopped or copied. A snap whose apps run is left out of the
//! change with its reason, as the plan leaves out a snap the store refuses (one named alone: its
//! error is the answer); the `inhibit-run` task checks again at the switch, as snapd's hard check.

use std::collections::BTreeMap;

use super::refresh::Failed;
use super::*;
use crate::engine::refresh_app_awareness::{now, remaining};
use crate::engine::task::inhibit_run::{busy_error, Busy};

/// The targets kept, and what each one's `inhibit-run` does about running apps.
type Checked = (Vec<(Resolved, SnapState)>, BTreeMap<String, Busy>);

/// How a refresh treats running apps: its `auto` and `ignore-running` options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Running {
    /// An automatic refresh (the update agent's): put off while apps run, up to snapd's limit.
    pub auto: bool,
    /// Running apps do not matter (snapd's `--ignore-running`).
    pub ignore: bool,
}

impl Engine {
    /// Keeps the targets that may be refreshed now, each with what its `inhibit-run` does about
    /// apps found running at the switch; the others go to `failed` with snapd's words.
    pub(super) fn check_running(
        &self,
        resolved: Vec<(Resolved, SnapState)>,
        running: Running,
        failed: &mut Vec<Failed>,
    ) -> Result<Checked> {
        let (mut kept, mut modes) = (Vec::new(), BTreeMap::new());
        for (r, before) in resolved {
            let name = r.name.clone();
            let apps = if running.ignore {
                Vec::new()
            } else {
                crate::running::busy_apps(self.paths(), &before)?
            };
            let mode = match (running, apps.is_empty()) {
                (Running { ignore: true, .. }, _) => Busy::Ignore,
                (Running { auto: false, .. }, true) => Busy::Refuse,
                (Running { auto: true, .. }, true) => Busy::Postpone,
                (Running { auto: false, .. }, false) => {
                    failed.push(Failed {
                        error: busy_error(&name, &apps),
                        name,
                    });
                    continue;
                }
                (Running { auto: true, .. }, false) => match self.postpone(&name, &apps)? {
                    Some(error) => {
                        failed.push(Failed { name, error });
                        continue;
                    }
                    None => Busy::Ignore,
                },
            };
            modes.insert(name, mode);
            kept.push((r, before));
        }
        Ok((kept, modes))
    }

    /// An automatic refresh of a busy snap: put off (its window opened when it is the first
    /// time), with the reason; `None` once it has been put off long enough: it goes ahead.
    fn postpone(&self, name: &str, apps: &[String]) -> Result<Option<Error>> {
        let now = now();
        let st = crate::engine::lock(&self.inner.state);
        let since = st.refresh_pending(name)?.unwrap_or(now);
        let Some(left) = remaining(since, now) else {
            tracing::warn!(snap = %name, ?apps, "refreshed although its apps run: put off since {since} for too long");
            return Ok(None);
        };
        st.set_refresh_pending(name, Some(since))?;
        let days = left.div_ceil(24 * 60 * 60);
        // Translators: {reason} is "snap "x" has running apps (a, b)", {days} a number.
        let template = crate::lang::ngettext(
            "{reason}; the refresh waits for them to close, at most {days} more day",
            "{reason}; the refresh waits for them to close, at most {days} more days",
            days as u32,
        );
        let message = template
            .replace("{reason}", &busy_error(name, apps).message)
            .replace("{days}", &days.to_string());
        Ok(Some(Error::new(ErrorKind::SnapInUse, message)))
    }
}

/// Gives each `inhibit-run` task of the change what its snap's check decided.
pub(super) fn apply_modes(tasks: &mut [Task], modes: &BTreeMap<String, Busy>) {
    for task in tasks {
        if let Task::InhibitRun(t) = task {
            if let Some(mode) = modes.get(&t.name) {
                t.busy = *mode;
            }
        }
    }
}
