//! Refresh app awareness at the switch (snapd's `hardEnsureNothingRunningDuringRefresh` in
//! unlink-current-snap, and link-snap's unlock): `inhibit-run` holds new launches of the snap
//! (`crate::inhibit`) from before its data is copied, then checks that none of its apps runs;
//! `uninhibit-run`, right after the new revision's Link, lets launches go ahead again.
//!
//! The hint is written before the running apps are read, and confine writes its running record
//! before it reads the hint (confine/src/inhibit.rs): a launch racing the check is either seen
//! here or sees the hint and waits, never neither.
//!
//! Undo: `inhibit-run` removes the hint; `uninhibit-run` puts it back, so that Link's undo also
//! happens behind it. A crash leaves none behind: the interrupted change is undone at start-up, and
//! start-up removes any hint still there (`engine/startup.rs`).

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::{Ctx, Task};
use crate::error::{Error, ErrorKind, Result};

/// What running apps do to the refresh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Busy {
    /// A refresh a person asked for fails (snapd's manual refresh).
    #[default]
    Refuse,
    /// An automatic refresh is put off, the window of postponement opened (snapd's auto-refresh).
    Postpone,
    /// Running apps do not matter: `ignore-running`, or an automatic refresh put off too long.
    Ignore,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InhibitRun {
    pub name: String,
    /// The revision being replaced (the hint's information file says it).
    pub previous: String,
    #[serde(default)]
    pub busy: Busy,
    /// Recorded before the hint is written: from then on undo removes it.
    #[serde(default)]
    pub locked: bool,
}

impl InhibitRun {
    pub fn new(name: &str, previous: &str) -> Self {
        InhibitRun {
            name: name.to_string(),
            previous: previous.to_string(),
            busy: Busy::Refuse,
            locked: false,
        }
    }

    pub fn summary(&self) -> String {
        gettext("Hold new launches of \"{snap}\" while it is refreshed")
            .replace("{snap}", &self.name)
    }

    pub(super) fn run(self, cx: &Ctx) -> Result<Self> {
        let done = InhibitRun {
            locked: true,
            ..self
        };
        if !self.locked {
            cx.record(&Task::InhibitRun(done.clone()))?;
        }
        crate::inhibit::lock(cx.paths(), &done.name, &done.previous)?;
        if done.busy != Busy::Ignore {
            if let Err(e) = check_idle(cx, &done) {
                crate::inhibit::unlock(cx.paths(), &done.name)?;
                return Err(e);
            }
        }
        cx.commit(&Task::InhibitRun(done.clone()), |_| Ok(()))?;
        Ok(done)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        if self.locked {
            crate::inhibit::unlock(cx.paths(), &self.name)?;
        }
        Ok(())
    }
}

/// Fails with snapd's words when apps of the snap run; an automatic refresh opens its window of
/// postponement then (kept when open already).
fn check_idle(cx: &Ctx, task: &InhibitRun) -> Result<()> {
    let Some(snap) = cx.snap(&task.name)? else {
        return Ok(());
    };
    let apps = crate::running::busy_apps(cx.paths(), &snap)?;
    if apps.is_empty() {
        return Ok(());
    }
    if task.busy == Busy::Postpone {
        cx.state().set_refresh_pending(
            &task.name,
            Some(crate::engine::refresh_app_awareness::now()),
        )?;
    }
    Err(busy_error(&task.name, &apps))
}

/// snapd's `BusySnapError`: `snap "x" has running apps (a, b)`.
pub fn busy_error(name: &str, apps: &[String]) -> Error {
    Error::new(
        ErrorKind::SnapInUse,
        // Translators: {snap} is a snap's name, {apps} a comma-separated list of its apps.
        gettext("snap \"{snap}\" has running apps ({apps})")
            .replace("{snap}", name)
            .replace("{apps}", &apps.join(", ")),
    )
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UninhibitRun {
    pub name: String,
    pub previous: String,
}

impl UninhibitRun {
    pub fn new(name: &str, previous: &str) -> Self {
        UninhibitRun {
            name: name.to_string(),
            previous: previous.to_string(),
        }
    }

    pub fn summary(&self) -> String {
        gettext("Let \"{snap}\" start again").replace("{snap}", &self.name)
    }

    /// The refresh happened: launches go ahead, and no refresh of the snap is pending any more,
    /// nor held by a gating snap (snapd's `resetGatingForRefreshed`).
    pub(super) fn run(self, cx: &Ctx) -> Result<Self> {
        crate::inhibit::unlock(cx.paths(), &self.name)?;
        let task = Task::UninhibitRun(self.clone());
        cx.commit(&task, |st| {
            st.set_refresh_pending(&self.name, None)?;
            st.drop_holds(&self.name, false)
        })?;
        Ok(self)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        crate::inhibit::lock(cx.paths(), &self.name, &self.previous)
    }
}
