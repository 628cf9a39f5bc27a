//! Running a change's tasks: each in order (those in different lanes side by side first), each
//! marked `Doing` before and `Done` after; on failure or Cancel every task that did (or may have
//! done) something is undone, in reverse. Once every task before the commit point is done the
//! change is finished, not undone. At start-up, changes a crash interrupted are settled the same
//! way. Nothing here knows what the tasks do: only [`Task`]'s `run`, `undo`, `lane`,
//! `after_commit` and `commits`.

use tokio_util::sync::CancellationToken;

use super::task::{Ctx, Task};
use super::{lock, Engine};
use crate::error::{Error, ErrorKind, Result};
use crate::state::{ChangeStatus, TaskRow, TaskStatus};

fn cancelled() -> Error {
    Error::new(ErrorKind::Cancelled, "cancelled")
}

impl Engine {
    /// Run a change to its end (done, or undone), record how it ended and tell the observer.
    pub(super) async fn run_change(&self, id: u64) {
        let cancel = lock(&self.inner.live)
            .get(&id)
            .map(|l| l.cancel.clone())
            .unwrap_or_default();
        let outcome = self.run_tasks(id, &cancel).await;
        let (status, kind, message) = match outcome {
            Ok(()) => (ChangeStatus::Done, String::new(), String::new()),
            Err(e) => {
                let _ = lock(&self.inner.state).set_change_status(id, ChangeStatus::Undoing);
                self.updated(id);
                self.undo_tasks(id);
                let status = if e.kind == ErrorKind::Cancelled {
                    ChangeStatus::Cancelled
                } else {
                    ChangeStatus::Error
                };
                (status, e.kind.as_kebab().to_string(), e.message)
            }
        };
        // The snaps are free before the change shows as ready: a client that starts the next
        // change on them the moment this one is Done must not meet a conflict.
        lock(&self.inner.busy).retain(|_, c| *c != id);
        if let Err(e) = lock(&self.inner.state).finish_change(id, status, &kind, &message) {
            tracing::error!(change = id, error = %e, "cannot record the end of a change");
        }
        self.release(id);
        if let Some(o) = self.observer() {
            o.change_finished(id);
            if let Ok(Some(c)) = lock(&self.inner.state).change(id) {
                o.snaps_changed(c.snaps);
            }
        }
        tracing::info!(change = id, %status, error = %message, "change finished");
        if lock(&self.inner.live).is_empty() {
            // Idle again: give the download buffers and caches back to the system.
            crate::memory::give_back();
        }
    }

    /// Run every task not yet done. Errors of clean-up tasks (after the commit point) are logged,
    /// not returned: the change has happened.
    pub(super) async fn run_tasks(&self, id: u64, cancel: &CancellationToken) -> Result<()> {
        lock(&self.inner.state).set_change_status(id, ChangeStatus::Doing)?;
        self.updated(id);
        self.run_lanes(id, cancel).await?;
        // A task may add tasks at the end of the change (`snapctl start` from a hook): the list is
        // read again until it has nothing this run has not seen.
        let mut seen = std::collections::HashSet::new();
        loop {
            let tasks: Vec<_> = lock(&self.inner.state)
                .tasks(id)?
                .into_iter()
                .filter(|r| r.status != TaskStatus::Done && seen.insert(r.seq))
                .collect();
            if tasks.is_empty() {
                return Ok(());
            }
            self.run_serial(id, tasks, cancel).await?;
        }
    }

    /// Run tasks one after the other.
    async fn run_serial(
        &self,
        id: u64,
        tasks: Vec<TaskRow>,
        cancel: &CancellationToken,
    ) -> Result<()> {
        for row in tasks {
            let after_commit = row.task.after_commit();
            if cancel.is_cancelled() && !after_commit {
                return Err(cancelled());
            }
            match self.start_task(&row, cancel).await? {
                Ok(done) => {
                    lock(&self.inner.state).set_task(id, row.seq, TaskStatus::Done, &done)?;
                    if done.commits() {
                        self.mark_committed(id)?;
                    }
                    self.updated(id);
                }
                Err(e) if after_commit => {
                    tracing::warn!(change = id, task = row.seq, error = %e, "clean-up task failed");
                    lock(&self.inner.state).set_task(id, row.seq, TaskStatus::Error, &row.task)?;
                }
                Err(e) => {
                    // Keep what the task recorded while it ran: its undo needs it.
                    let current = self.task_now(id, row.seq)?.unwrap_or(row.task);
                    lock(&self.inner.state).set_task(id, row.seq, TaskStatus::Error, &current)?;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// The task as the database holds it now.
    fn task_now(&self, id: u64, seq: u32) -> Result<Option<Task>> {
        Ok(lock(&self.inner.state)
            .tasks(id)?
            .into_iter()
            .find(|t| t.seq == seq)
            .map(|t| t.task))
    }

    /// Run the tasks that have a lane, the lanes side by side and each lane in order (every
    /// snap's download, verify and mount: the slowest snap, not their sum, sets the pace). The
    /// tasks that follow find them done. Nothing to gain with fewer than two lanes.
    async fn run_lanes(&self, id: u64, cancel: &CancellationToken) -> Result<()> {
        let mut lanes: Vec<(String, Vec<TaskRow>)> = Vec::new();
        for row in lock(&self.inner.state).tasks(id)? {
            let Some(lane) = row.task.lane().map(str::to_string) else {
                continue;
            };
            if row.status == TaskStatus::Done {
                continue;
            }
            match lanes.iter_mut().find(|(l, _)| *l == lane) {
                Some((_, rows)) => rows.push(row),
                None => lanes.push((lane, vec![row])),
            }
        }
        if lanes.len() < 2 {
            return Ok(());
        }
        let runs = lanes.iter().map(|(_, rows)| async move {
            for row in rows {
                if cancel.is_cancelled() {
                    return Err(cancelled());
                }
                match self.start_task(row, cancel).await? {
                    Ok(done) => {
                        lock(&self.inner.state).set_task(id, row.seq, TaskStatus::Done, &done)?;
                        self.updated(id);
                    }
                    Err(e) => {
                        lock(&self.inner.state).set_task(
                            id,
                            row.seq,
                            TaskStatus::Error,
                            &row.task,
                        )?;
                        return Err(e);
                    }
                }
            }
            Ok(())
        });
        let results = futures_util::future::join_all(runs).await;
        self.updated(id);
        results.into_iter().collect::<Result<Vec<()>>>().map(drop)
    }

    /// Mark a task Doing and run it. The outer error is the state's; the inner one the task's.
    async fn start_task(&self, row: &TaskRow, cancel: &CancellationToken) -> Result<Result<Task>> {
        let id = row.change_id;
        lock(&self.inner.state).set_task(id, row.seq, TaskStatus::Doing, &row.task)?;
        self.updated(id);
        let started = std::time::Instant::now();
        let cx = Ctx {
            engine: self.clone(),
            change: id,
            seq: row.seq,
            cancel: cancel.clone(),
        };
        let kind = row.task.kind();
        let result = row.task.clone().run(&cx).await;
        tracing::debug!(
            change = id,
            task = kind,
            ms = started.elapsed().as_millis() as u64,
            "task ran"
        );
        Ok(result)
    }

    /// A commit task is done: once every task before the commit point is, Cancel is refused.
    fn mark_committed(&self, id: u64) -> Result<()> {
        let tasks = lock(&self.inner.state).tasks(id)?;
        let all_done = tasks
            .iter()
            .all(|t| t.status == TaskStatus::Done || t.task.after_commit());
        if let Some(l) = lock(&self.inner.live).get_mut(&id) {
            l.committed = l.committed || all_done;
        }
        Ok(())
    }

    /// Undo, in reverse, every task that did (or may have done) something. An undo that fails is
    /// logged and marked Error; the others still run.
    pub(super) fn undo_tasks(&self, id: u64) {
        let tasks = match lock(&self.inner.state).tasks(id) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(change = id, error = %e, "cannot read tasks to undo");
                return;
            }
        };
        let cx = |seq| Ctx {
            engine: self.clone(),
            change: id,
            seq,
            cancel: CancellationToken::new(),
        };
        for row in tasks.iter().rev() {
            let acted = matches!(
                row.status,
                TaskStatus::Done | TaskStatus::Doing | TaskStatus::Error | TaskStatus::Undoing
            );
            if !acted || row.task.after_commit() {
                continue;
            }
            let set = |status| {
                let _ = lock(&self.inner.state).set_task(id, row.seq, status, &row.task);
            };
            set(TaskStatus::Undoing);
            match row.task.undo(&cx(row.seq)) {
                Ok(()) => set(TaskStatus::Undone),
                Err(e) => {
                    tracing::error!(change = id, task = row.seq, error = %e, "undo failed");
                    set(TaskStatus::Error);
                }
            }
            self.updated(id);
        }
    }

    /// Settle the changes a crash interrupted: finish those past their commit point, undo the
    /// rest. A change whose tasks cannot be read (written by a newer helper) is closed as an
    /// error, untouched, rather than keeping the helper from starting.
    pub(super) async fn recover(&self) -> Result<()> {
        let unfinished = lock(&self.inner.state).unfinished_changes()?;
        for change in unfinished {
            let id = change.id;
            // Read apart from the match: its guard must be gone before the error arm locks.
            let read = lock(&self.inner.state).tasks(id);
            let tasks = match read {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(change = id, error = %e, "cannot settle an interrupted change");
                    let message = format!("interrupted, and cannot be settled: {e}");
                    lock(&self.inner.state).finish_change(
                        id,
                        ChangeStatus::Error,
                        ErrorKind::Internal.as_kebab(),
                        &message,
                    )?;
                    continue;
                }
            };
            let committed = change.status != ChangeStatus::Undoing
                && tasks
                    .iter()
                    .all(|t| t.status == TaskStatus::Done || t.task.after_commit());
            if committed {
                tracing::info!(
                    change = id,
                    "finishing a change interrupted after its commit"
                );
                let result = self.run_tasks(id, &CancellationToken::new()).await;
                let (status, kind, msg) = match result {
                    Ok(()) => (ChangeStatus::Done, String::new(), String::new()),
                    Err(e) => (
                        ChangeStatus::Error,
                        e.kind.as_kebab().to_string(),
                        e.message,
                    ),
                };
                lock(&self.inner.state).finish_change(id, status, &kind, &msg)?;
            } else {
                tracing::info!(change = id, "undoing a change interrupted by a restart");
                self.undo_tasks(id);
                lock(&self.inner.state).finish_change(
                    id,
                    ChangeStatus::Error,
                    ErrorKind::Internal.as_kebab(),
                    "interrupted by a restart of the helper; everything it did was undone",
                )?;
            }
        }
        Ok(())
    }
}
