//! `io.github.snapshelf.Change1`: one object per change, its properties read from the engine's
//! view of it. Cancel is the starter's (or root's) without asking; anyone else needs the
//! change's own polkit action.

use std::sync::Arc;

use snapshelf_dbus::types::Task;
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::{fdo, interface};

use super::to_dbus;
use crate::engine::Engine;
use crate::error::Error;
use crate::polkit::{self, Authority};
use crate::state::{ChangeStatus, TaskStatus};

pub(super) struct ChangeObject {
    pub(super) engine: Engine,
    pub(super) authority: Arc<Authority>,
    pub(super) id: u64,
}

impl ChangeObject {
    fn view(&self) -> fdo::Result<crate::engine::ChangeView> {
        self.engine
            .change(self.id)
            .map_err(|e| fdo::Error::Failed(e.to_string()))?
            .ok_or_else(|| fdo::Error::UnknownObject(format!("change {} is gone", self.id)))
    }
}

#[interface(name = "io.github.snapshelf.Change1")]
impl ChangeObject {
    async fn cancel(&self, #[zbus(header)] hdr: Header<'_>) -> Result<(), snapshelf_dbus::Error> {
        let view = self.view().map_err(|e| to_dbus(Error::internal(e)))?;
        let caller = self.authority.caller_uid(&hdr).await.map_err(to_dbus)?;
        if caller != 0 && caller != view.row.uid {
            self.authority
                .check(&hdr, polkit::action_for_kind(&view.row.kind))
                .await
                .map_err(to_dbus)?;
        }
        self.engine.cancel(self.id).map_err(to_dbus)
    }

    #[zbus(signal)]
    pub(super) async fn finished(
        emitter: &SignalEmitter<'_>,
        status: &str,
        error_kind: &str,
        error_message: &str,
    ) -> zbus::Result<()>;

    #[zbus(property)]
    async fn id(&self) -> String {
        self.id.to_string()
    }
    #[zbus(property)]
    async fn kind(&self) -> fdo::Result<String> {
        Ok(self.view()?.row.kind)
    }
    #[zbus(property)]
    async fn summary(&self) -> fdo::Result<String> {
        Ok(self.view()?.row.summary)
    }
    #[zbus(property)]
    async fn status(&self) -> fdo::Result<String> {
        Ok(self.view()?.row.status.as_str().to_string())
    }
    #[zbus(property)]
    async fn ready(&self) -> fdo::Result<bool> {
        Ok(!self.view()?.row.status.is_unfinished())
    }
    #[zbus(property)]
    async fn progress(&self) -> fdo::Result<f64> {
        let v = self.view()?;
        if v.row.status == ChangeStatus::Done {
            return Ok(1.0);
        }
        if v.progress.total > 0 {
            return Ok(v.progress.done as f64 / v.progress.total as f64);
        }
        let n = v.tasks.len().max(1) as f64;
        let done = v
            .tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Done)
            .count() as f64;
        Ok(if v.tasks.is_empty() { -1.0 } else { done / n })
    }
    #[zbus(property)]
    async fn progress_label(&self) -> fdo::Result<String> {
        Ok(self.view()?.progress.label)
    }
    #[zbus(property)]
    async fn bytes_done(&self) -> fdo::Result<u64> {
        Ok(self.view()?.progress.done)
    }
    #[zbus(property)]
    async fn bytes_total(&self) -> fdo::Result<u64> {
        Ok(self.view()?.progress.total)
    }
    #[zbus(property)]
    async fn snaps(&self) -> fdo::Result<Vec<String>> {
        Ok(self.view()?.row.snaps)
    }
    #[zbus(property)]
    async fn allow_cancel(&self) -> fdo::Result<bool> {
        Ok(self.view()?.allow_cancel)
    }
    #[zbus(property)]
    async fn error_kind(&self) -> fdo::Result<String> {
        Ok(self.view()?.row.error_kind)
    }
    #[zbus(property)]
    async fn error(&self) -> fdo::Result<String> {
        Ok(self.view()?.row.error)
    }
    #[zbus(property)]
    async fn tasks(&self) -> fdo::Result<Vec<Task>> {
        Ok(self
            .view()?
            .tasks
            .into_iter()
            .map(|t| {
                let kind = t.task.kind().to_string();
                (kind, t.summary, t.status.as_str().to_string())
            })
            .collect())
    }
    #[zbus(property)]
    async fn spawn_time(&self) -> fdo::Result<u64> {
        Ok(self.view()?.row.spawn_time)
    }
    #[zbus(property)]
    async fn ready_time(&self) -> fdo::Result<u64> {
        Ok(self.view()?.row.ready_time)
    }
}
