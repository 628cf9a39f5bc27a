//! Running a change's tasks: each in order (those in different lanes side by side first), each
//! marked `Doing` before and `Done` after; on failure or Cancel every task that did (or may have
//! done) something is undone, in reverse. Once every task before the commit point is done the
//! change is finished, not undone. At start-up, changes a crash interrupted are settled the same
//! way. A change with failure lanes (`lanes.rs`: each snap of a refresh of several) gives up only
//! the lane of a failed task: its tasks are undone, the rest goes on, and the change ends `Error`
//! naming what was undone. Nothing here knows what the tasks do: only [`Task`]'s `run`, `undo`,
//! `lane`, `snap`, `after_commit` and `commits`.

use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use super::lanes::Lanes;
use super::task::{Ctx, Task};
use super::{lock, Engine};
use crate::error::{Error, ErrorKind, Result};
use crate::state::{ChangeStatus, TaskRow, TaskStatus};

fn cancelled() -> Error {
    Error::new(ErrorKind::Cancelled, crate::lang::gettext("cancelled"))
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
            Ok(None) => (ChangeStatus::Done, String::new(), String::new()),
            // Some lanes were undone, the others are done: nothing more to undo.
            Ok(Some(e)) => (
                ChangeStatus::Error,
                e.kind.as_kebab().to_string(),
                e.message,
            ),
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
    /// not returned: the change has happened. `Ok(Some(e))`: lanes were given up (and undone), the
    /// rest is done; `e` says which and why.
    pub(super) async fn run_tasks(
        &self,
        id: u64,
        cancel: &CancellationToken,
    ) -> Result<Option<Error>> {
        lock(&self.inner.state).set_change_status(id, ChangeStatus::Doing)?;
        self.updated(id);
        let run = self.lane_run(id)?;
        self.run_lanes(id, cancel, &run).await?;
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
                return Ok(run.error());
            }
            self.run_serial(id, tasks, cancel, &run).await?;
        }
    }

    /// Run tasks one after the other; a failure gives up its lane (undone) or, outside any lane,
    /// fails the change.
    async fn run_serial(
        &self,
        id: u64,
        tasks: Vec<TaskRow>,
        cancel: &CancellationToken,
        run: &LaneRun,
    ) -> Result<()> {
        for row in tasks {
            // Checked as it comes: an earlier task of this list may have given up its lane.
            if run.given_up(&row.task) {
                continue;
            }
            let after_commit = row.task.after_commit();
            if cancel.is_cancelled() && !after_commit {
                return Err(cancelled());
            }
            match self.start_task(&row, cancel).await? {
                Ok(done) => {
                    lock(&self.inner.state).set_task(id, row.seq, TaskStatus::Done, &done)?;
                    if done.commits() {
                        self.mark_committed(id, run)?;
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
                    let lane = self.give_up(id, run, &current, e)?;
                    self.undo_lane(id, &run.lanes, lane);
                }
            }
        }
        Ok(())
    }

    /// The change's lanes and those a previous run gave up. A crash may have cut their undo
    /// short: it is finished now (undo is idempotent), before anything else runs.
    fn lane_run(&self, id: u64) -> Result<LaneRun> {
        let (change, tasks) = {
            let st = lock(&self.inner.state);
            (st.change(id)?, st.tasks(id)?)
        };
        let Some(change) = change else {
            return Ok(LaneRun::default());
        };
        let lanes = Lanes::of_request(&change.request);
        let failed = lanes.failed(&tasks);
        let mut errors = Vec::new();
        if !failed.is_empty() {
            let kind = ErrorKind::from_kebab(&change.error_kind).unwrap_or(ErrorKind::Internal);
            errors.push(Error::new(kind, change.error.clone()));
        }
        for &l in &failed {
            self.undo_lane(id, &lanes, l);
        }
        Ok(LaneRun {
            lanes,
            failed: Mutex::new(failed),
            errors: Mutex::new(errors),
        })
    }

    /// A task of `task`'s lane failed with `e`: give the lane up, if it has one (and the failure
    /// is not a Cancel, which takes back the whole change); its error joins the change's. The
    /// error itself when the whole change must be undone.
    fn give_up(&self, id: u64, run: &LaneRun, task: &Task, e: Error) -> Result<usize> {
        let lane = match run.lanes.lane(task) {
            Some(l) if e.kind != ErrorKind::Cancelled => l,
            _ => return Err(e),
        };
        tracing::warn!(change = id, lane = %run.lanes.names(lane), error = %e, "giving up a lane");
        // Most errors already name their snap first; it is not said twice.
        let names = run.lanes.names(lane);
        let message = if e.message.starts_with(&names) {
            e.message
        } else {
            format!("{names}: {}", e.message)
        };
        lock(&run.errors).push(Error::new(e.kind, message));
        lock(&run.failed).push(lane);
        if let Some(all) = run.joined() {
            lock(&self.inner.state).note_change_error(id, all.kind.as_kebab(), &all.message)?;
        }
        Ok(lane)
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
    /// tasks that follow find them done. Nothing to gain with fewer than two lanes. A failure
    /// gives up its failure lane once every lane has stopped (a task of the same lane may still
    /// be running elsewhere: its undo must come after it).
    async fn run_lanes(&self, id: u64, cancel: &CancellationToken, run: &LaneRun) -> Result<()> {
        let mut lanes: Vec<(String, Vec<TaskRow>)> = Vec::new();
        for row in lock(&self.inner.state).tasks(id)? {
            let Some(lane) = row.task.lane().map(str::to_string) else {
                continue;
            };
            if row.status == TaskStatus::Done || run.given_up(&row.task) {
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
        let before = lock(&run.failed).len();
        let runs = lanes
            .iter()
            .map(|(_, rows)| self.run_lane(id, rows, cancel, run));
        let results = futures_util::future::join_all(runs).await;
        let given_up: Vec<usize> = lock(&run.failed)[before..].to_vec();
        for l in given_up {
            self.undo_lane(id, &run.lanes, l);
        }
        self.updated(id);
        results.into_iter().collect::<Result<Vec<()>>>().map(drop)
    }

    /// One side-by-side lane, in order; it stops when its failure lane is given up.
    async fn run_lane(
        &self,
        id: u64,
        rows: &[TaskRow],
        cancel: &CancellationToken,
        run: &LaneRun,
    ) -> Result<()> {
        for row in rows {
            if cancel.is_cancelled() {
                return Err(cancelled());
            }
            if run.given_up(&row.task) {
                return Ok(());
            }
            match self.start_task(row, cancel).await? {
                Ok(done) => {
                    lock(&self.inner.state).set_task(id, row.seq, TaskStatus::Done, &done)?;
                    self.updated(id);
                }
                Err(e) => {
                    let current = self.task_now(id, row.seq)?.unwrap_or(row.task.clone());
                    lock(&self.inner.state).set_task(id, row.seq, TaskStatus::Error, &current)?;
                    self.give_up(id, run, &current, e)?;
                    return Ok(());
                }
            }
        }
        Ok(())
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

    /// A commit task is done: once every task before the commit point is (or is in a lane given
    /// up), Cancel is refused.
    fn mark_committed(&self, id: u64, run: &LaneRun) -> Result<()> {
        let tasks = lock(&self.inner.state).tasks(id)?;
        let all_done = tasks.iter().all(|t| {
            t.status == TaskStatus::Done || t.task.after_commit() || run.given_up(&t.task)
        });
        if let Some(l) = lock(&self.inner.live).get_mut(&id) {
            l.committed = l.committed || all_done;
        }
        Ok(())
    }

    /// Undo, in reverse, every task that did (or may have done) something. An undo that fails is
    /// logged and marked Error; the others still run.
    pub(super) fn undo_tasks(&self, id: u64) {
        self.undo_where(id, |_| true);
    }

    /// Undo a given-up lane's tasks, in reverse; those that never ran are marked Undone too:
    /// they never will.
    fn undo_lane(&self, id: u64, lanes: &Lanes, lane: usize) {
        let ours = |t: &Task| lanes.lane(t) == Some(lane);
        self.undo_where(id, ours);
        let tasks = lock(&self.inner.state).tasks(id).unwrap_or_default();
        for row in tasks.iter().filter(|r| ours(&r.task)) {
            if row.status == TaskStatus::Do {
                let state = lock(&self.inner.state);
                if let Err(e) = state.set_task(id, row.seq, TaskStatus::Undone, &row.task) {
                    tracing::error!(change = id, task = row.seq, error = %e, "cannot record a task given up");
                }
            }
        }
        self.updated(id);
    }

    /// Undo, in reverse, the tasks `which` picks that did (or may have done) something.
    fn undo_where(&self, id: u64, which: impl Fn(&Task) -> bool) {
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
            if !acted || row.task.after_commit() || !which(&row.task) {
                continue;
            }
            let task = match row.task.clone() {
                Task::Connect(c) => Task::Connect(c.ran(row.status == TaskStatus::Done)),
                t => t,
            };
            let set = |status| {
                let _ = lock(&self.inner.state).set_task(id, row.seq, status, &task);
            };
            set(TaskStatus::Undoing);
            match task.undo(&cx(row.seq)) {
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
            // A lane given up is settled: its tasks are (or will be, first thing) undone.
            let lanes = Lanes::of_request(&change.request);
            let failed = lanes.failed(&tasks);
            let settled = |t: &TaskRow| {
                t.status == TaskStatus::Done
                    || t.task.after_commit()
                    || lanes.lane(&t.task).is_some_and(|l| failed.contains(&l))
            };
            let committed = change.status != ChangeStatus::Undoing && tasks.iter().all(settled);
            if committed {
                tracing::info!(
                    change = id,
                    "finishing a change interrupted after its commit"
                );
                let result = self.run_tasks(id, &CancellationToken::new()).await;
                let (status, kind, msg) = match result {
                    Ok(None) => (ChangeStatus::Done, String::new(), String::new()),
                    Ok(Some(e)) | Err(e) => (
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

/// What a run knows of its failure lanes: which there are, which were given up and why.
#[derive(Default)]
struct LaneRun {
    lanes: Lanes,
    failed: Mutex<Vec<usize>>,
    errors: Mutex<Vec<Error>>,
}

impl LaneRun {
    fn given_up(&self, task: &Task) -> bool {
        self.lanes
            .lane(task)
            .is_some_and(|l| lock(&self.failed).contains(&l))
    }

    /// The lanes given up so far, as one error: the first one's kind, every message (what is
    /// kept in the change's row while it runs, and read back after a restart).
    fn joined(&self) -> Option<Error> {
        let errors = lock(&self.errors);
        let first = errors.first()?;
        let message = errors
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        Some(Error::new(first.kind, message))
    }

    /// How the change ends when lanes were given up.
    fn error(&self) -> Option<Error> {
        let e = self.joined()?;
        // Translators: {why} is the failed parts' errors, joined by "; ".
        let message = crate::lang::gettext("undone for {why}; the rest of the change is done")
            .replace("{why}", &e.message);
        Some(Error::new(e.kind, message))
    }
}
