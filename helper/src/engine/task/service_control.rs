//! Start, stop or restart some of a snap's services on request (`StartServices`, `StopServices`,
//! `RestartServices`; snapd's `service-control`). What each unit was (active, enabled) is recorded
//! before anything is done; undo puts exactly that back.

use crate::lang::gettext;
use serde::{Deserialize, Serialize};

use super::{words, Ctx, Task};
use crate::engine::services::{self, manager};
use crate::error::{Error, ErrorKind, Result};
use crate::systemd::Job;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceOp {
    Start,
    Stop,
    Restart,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceControl {
    pub name: String,
    pub op: ServiceOp,
    /// The units to act on: each app's activators, or its service.
    pub units: Vec<String>,
    /// Start: enable too; stop: disable too; restart: reload where the service can.
    pub flag: bool,
    /// Each unit as it was: (unit, active, enabled); empty until recorded.
    #[serde(default)]
    pub before: Vec<(String, bool, bool)>,
}

impl ServiceControl {
    pub fn summary(&self) -> String {
        let t = match self.op {
            ServiceOp::Start => gettext("Start services of \"{snap}\""),
            ServiceOp::Stop => gettext("Stop services of \"{snap}\""),
            ServiceOp::Restart => gettext("Restart services of \"{snap}\""),
        };
        words(t, &self.name, "")
    }

    pub(super) async fn run(self, cx: &Ctx) -> Result<Self> {
        let Some(sd) = manager(cx.paths()).await else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                crate::lang::gettext("the services of \"{snap}\" cannot be controlled: systemd does not run this system")
                    .replace("{snap}", &self.name),
            ));
        };
        cx.progress(self.summary());
        let mut done = self;
        if done.before.is_empty() {
            for u in &done.units {
                let enabled = sd.file_state(u).await.as_deref() == Some("enabled");
                done.before.push((u.clone(), sd.active(u).await?, enabled));
            }
            cx.record(&Task::ServiceControl(done.clone()))?;
        }
        match done.op {
            ServiceOp::Start => {
                if done.flag {
                    sd.enable(&done.units).await?;
                }
                sd.jobs(Job::Start, &done.units).await?;
            }
            ServiceOp::Stop => {
                sd.jobs(Job::Stop, &done.units).await?;
                if done.flag {
                    sd.disable(&done.units).await?;
                }
            }
            ServiceOp::Restart => {
                let job = if done.flag {
                    Job::ReloadOrRestart
                } else {
                    Job::Restart
                };
                sd.jobs(job, &done.units).await?;
            }
        }
        Ok(done)
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        if self.before.is_empty() || self.op == ServiceOp::Restart {
            return Ok(()); // nothing recorded, or nothing a restart changed that can be put back
        }
        let paths = cx.paths().clone();
        let before = self.before.clone();
        services::block(async move {
            let Some(sd) = manager(&paths).await else {
                return Ok(());
            };
            let pick = |f: fn(&(String, bool, bool)) -> bool| -> Vec<String> {
                before
                    .iter()
                    .filter(|b| f(b))
                    .map(|b| b.0.clone())
                    .collect()
            };
            sd.jobs(Job::Stop, &pick(|b| !b.1)).await?;
            sd.disable(&pick(|b| !b.2)).await?;
            sd.enable(&pick(|b| b.2)).await?;
            sd.jobs(Job::Start, &pick(|b| b.1)).await
        })
    }
}
