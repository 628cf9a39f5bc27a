//! Changes and their tasks: planning each operation, running it, undoing it on failure or cancel, and
//! settling whatever a crash interrupted. The D-Bus layer calls in here and observes progress; nothing
//! here knows the wire.

pub mod files;
pub mod plan;
pub mod tasks;
pub mod verify;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use snapshelf_snap::assert::Assertion;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorKind, Result};
use crate::mount;
use crate::paths::Paths;
use crate::state::{ChangeRow, SnapState, State, TaskRow};
use crate::store::StoreClient;
use tasks::TaskData;

/// Told about changes as they happen; the D-Bus layer turns these into signals.
pub trait Observer: Send + Sync {
    fn change_added(&self, id: u64);
    /// Status, tasks or progress changed.
    fn change_updated(&self, id: u64);
    fn change_finished(&self, id: u64);
    fn snaps_changed(&self, names: Vec<String>);
}

#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub label: String,
    pub done: u64,
    pub total: u64,
}

struct Live {
    cancel: CancellationToken,
    progress: Progress,
    /// Bytes of each download running in parallel (task seq → done, total).
    parts: std::collections::BTreeMap<u32, (u64, u64)>,
    /// Cancel is refused once a snap has been linked: the change is then finished, not undone.
    committed: bool,
}

pub struct EngineConfig {
    pub paths: Paths,
    pub config: crate::config::Config,
    pub store: StoreClient,
    pub trusted: Vec<Assertion>,
    pub launcher: files::Launcher,
    pub allow_loop: bool,
}

pub(crate) struct Inner {
    pub(crate) cfg: EngineConfig,
    pub(crate) state: Mutex<State>,
    live: Mutex<HashMap<u64, Live>>,
    /// Snap name → the change that holds it.
    busy: Mutex<HashMap<String, u64>>,
    observer: OnceLock<Arc<dyn Observer>>,
}

#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

/// A change as the API shows it.
#[derive(Debug, Clone)]
pub struct ChangeView {
    pub row: ChangeRow,
    pub tasks: Vec<TaskRow>,
    pub progress: Progress,
    pub allow_cancel: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Compile confine's system-call filters once, for every launch to read (root-owned, 0644). A
/// failure only costs launches the time to compile their own.
fn write_seccomp_filters(root: &std::path::Path) {
    use snapshelf_confine::seccomp;
    let dir = seccomp::COMPILED_DIR
        .iter()
        .fold(root.to_path_buf(), |p, c| p.join(c));
    let written = (|| -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
        for (name, allow) in seccomp::variants() {
            let tmp = dir.join(format!(".{name}.tmp"));
            let f = std::fs::File::create(&tmp)?;
            seccomp::export(allow, &f).map_err(std::io::Error::other)?;
            f.sync_all()?;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))?;
            std::fs::rename(&tmp, dir.join(name))?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        tracing::warn!(error = %e, "cannot write the compiled system-call filters");
    }
}

impl Engine {
    /// Open the state and settle what a previous run left unfinished. Call before taking the bus
    /// name, so that no client ever sees a half-done change.
    pub async fn open(cfg: EngineConfig) -> Result<Engine> {
        // Confine keeps each snap's private /tmp under the root's /tmp (a scratch root has none).
        let tmp = cfg.paths.root().join("tmp");
        if !tmp.exists() {
            std::fs::create_dir_all(&tmp)?;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777))?;
        }
        write_seccomp_filters(cfg.paths.root());
        let state = State::open(&cfg.paths.state_db())?;
        let engine = Engine {
            inner: Arc::new(Inner {
                cfg,
                state: Mutex::new(state),
                live: Mutex::new(HashMap::new()),
                busy: Mutex::new(HashMap::new()),
                observer: OnceLock::new(),
            }),
        };
        engine.recover().await?;
        engine.restore_system()?;
        Ok(engine)
    }

    pub fn set_observer(&self, o: Arc<dyn Observer>) {
        let _ = self.inner.observer.set(o);
    }

    fn observer(&self) -> Option<&Arc<dyn Observer>> {
        self.inner.observer.get()
    }

    pub fn paths(&self) -> &Paths {
        &self.inner.cfg.paths
    }

    pub fn store(&self) -> &StoreClient {
        &self.inner.cfg.store
    }

    pub fn retain(&self) -> u32 {
        self.inner.cfg.config.retain
    }

    pub fn installed(&self) -> Result<Vec<SnapState>> {
        Ok(lock(&self.inner.state).snaps()?)
    }

    pub fn snap(&self, name: &str) -> Result<Option<SnapState>> {
        Ok(lock(&self.inner.state).snap(name)?)
    }

    pub fn change_ids(&self) -> Result<Vec<u64>> {
        Ok(lock(&self.inner.state)
            .changes()?
            .into_iter()
            .map(|c| c.id)
            .collect())
    }

    pub fn change(&self, id: u64) -> Result<Option<ChangeView>> {
        let st = lock(&self.inner.state);
        let Some(row) = st.change(id)? else {
            return Ok(None);
        };
        let tasks = st.tasks(id)?;
        drop(st);
        let live = lock(&self.inner.live);
        let (progress, allow_cancel) = match live.get(&id) {
            Some(l) => (l.progress.clone(), !l.committed),
            None => (Progress::default(), false),
        };
        Ok(Some(ChangeView {
            row,
            tasks,
            progress,
            allow_cancel,
        }))
    }

    /// The uid that started a change (Cancel from that uid needs no further authorization).
    pub fn change_uid(&self, id: u64) -> Result<Option<u32>> {
        Ok(lock(&self.inner.state).change(id)?.map(|c| c.uid))
    }

    pub fn cancel(&self, id: u64) -> Result<()> {
        let live = lock(&self.inner.live);
        match live.get(&id) {
            Some(l) if !l.committed => {
                l.cancel.cancel();
                Ok(())
            }
            Some(_) => Err(Error::invalid(
                "the change has already made its changes and can no longer be cancelled",
            )),
            None => Err(Error::invalid("the change has finished")),
        }
    }

    /// Claim snaps for a new change; `ChangeConflict` if another change holds one of them.
    fn claim(&self, names: &[String]) -> Result<()> {
        let busy = lock(&self.inner.busy);
        for n in names {
            if let Some(id) = busy.get(n) {
                return Err(Error::new(
                    ErrorKind::ChangeConflict,
                    format!("change {id} is already working on \"{n}\""),
                ));
            }
        }
        Ok(())
    }

    /// Record a planned change and start running it.
    pub(crate) fn start(
        &self,
        kind: &str,
        summary: &str,
        snaps: Vec<String>,
        uid: u32,
        request: serde_json::Value,
        tasks: Vec<TaskData>,
    ) -> Result<u64> {
        let rows: Vec<(String, String, serde_json::Value)> = tasks
            .iter()
            .map(|t| {
                Ok((
                    t.kind().to_string(),
                    t.summary(),
                    serde_json::to_value(t).map_err(Error::internal)?,
                ))
            })
            .collect::<Result<_>>()?;
        let id = {
            let mut busy = lock(&self.inner.busy);
            for n in &snaps {
                if let Some(id) = busy.get(n) {
                    return Err(Error::new(
                        ErrorKind::ChangeConflict,
                        format!("change {id} is already working on \"{n}\""),
                    ));
                }
            }
            let id =
                lock(&self.inner.state).add_change(kind, summary, &snaps, uid, &request, &rows)?;
            for n in &snaps {
                busy.insert(n.clone(), id);
            }
            id
        };
        lock(&self.inner.live).insert(
            id,
            Live {
                cancel: CancellationToken::new(),
                progress: Progress::default(),
                parts: Default::default(),
                committed: false,
            },
        );
        if let Some(o) = self.observer() {
            o.change_added(id);
        }
        let engine = self.clone();
        tokio::spawn(async move { engine.run(id).await });
        Ok(id)
    }

    fn set_progress(&self, id: u64, label: &str, done: u64, total: u64) {
        if let Some(l) = lock(&self.inner.live).get_mut(&id) {
            l.progress = Progress {
                label: label.to_string(),
                done,
                total,
            };
        }
        if let Some(o) = self.observer() {
            o.change_updated(id);
        }
    }

    /// Progress of one of several downloads: the change shows their sum.
    fn set_download_progress(&self, id: u64, seq: u32, label: &str, done: u64, total: u64) {
        if let Some(l) = lock(&self.inner.live).get_mut(&id) {
            l.parts.insert(seq, (done, total));
            let (d, t) = l.parts.values().fold((0, 0), |a, p| (a.0 + p.0, a.1 + p.1));
            let label = if l.parts.len() > 1 {
                gettextrs::ngettext(
                    "Downloading {n} snap",
                    "Downloading {n} snaps",
                    l.parts.len() as u32,
                )
                .replace("{n}", &l.parts.len().to_string())
            } else {
                label.to_string()
            };
            l.progress = Progress {
                label,
                done: d,
                total: t,
            };
        }
        if let Some(o) = self.observer() {
            o.change_updated(id);
        }
    }

    fn updated(&self, id: u64) {
        if let Some(o) = self.observer() {
            o.change_updated(id);
        }
    }

    async fn run(&self, id: u64) {
        let cancel = lock(&self.inner.live)
            .get(&id)
            .map(|l| l.cancel.clone())
            .unwrap_or_default();
        let outcome = self.run_tasks(id, &cancel).await;
        let (status, kind, message) = match outcome {
            Ok(()) => ("Done".to_string(), String::new(), String::new()),
            Err(e) => {
                let _ = lock(&self.inner.state).set_change_status(id, "Undoing");
                self.updated(id);
                self.undo_tasks(id);
                let status = if e.kind == ErrorKind::Cancelled {
                    "Cancelled"
                } else {
                    "Error"
                };
                (status.to_string(), e.kind.as_kebab().to_string(), e.message)
            }
        };
        if let Err(e) = lock(&self.inner.state).finish_change(id, &status, &kind, &message) {
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
            // SAFETY: malloc_trim only walks the allocator's own free lists.
            unsafe {
                libc::malloc_trim(0);
            }
        }
    }

    fn release(&self, id: u64) {
        lock(&self.inner.busy).retain(|_, c| *c != id);
        lock(&self.inner.live).remove(&id);
    }

    async fn run_tasks(&self, id: u64, cancel: &CancellationToken) -> Result<()> {
        lock(&self.inner.state).set_change_status(id, "Doing")?;
        self.updated(id);
        self.download_in_parallel(id, cancel).await?;
        let tasks = lock(&self.inner.state).tasks(id)?;
        for task in tasks {
            if task.status == "Done" {
                continue;
            }
            let data: TaskData =
                serde_json::from_value(task.data.clone()).map_err(Error::internal)?;
            if cancel.is_cancelled() && !data.after_commit() {
                return Err(Error::new(ErrorKind::Cancelled, "cancelled"));
            }
            let result = self.start_task(id, &task, &data, cancel).await?;
            match result {
                Ok(new) => {
                    let value = serde_json::to_value(&new).map_err(Error::internal)?;
                    lock(&self.inner.state).set_task(id, task.seq, "Done", &value)?;
                    if matches!(new, TaskData::Link { .. } | TaskData::Unlink { .. }) {
                        if let Some(l) = lock(&self.inner.live).get_mut(&id) {
                            // The first snap is live: from here on the change is finished, not undone.
                            l.committed = l.committed || self.all_pre_commit_done(id)?;
                        }
                    }
                    self.updated(id);
                }
                Err(e) if data.after_commit() => {
                    // The change has happened; a failed clean-up is logged, not undone.
                    tracing::warn!(change = id, task = task.seq, error = %e, "clean-up task failed");
                    let v = serde_json::to_value(&data).map_err(Error::internal)?;
                    lock(&self.inner.state).set_task(id, task.seq, "Error", &v)?;
                }
                Err(e) => {
                    let current = lock(&self.inner.state)
                        .tasks(id)?
                        .into_iter()
                        .find(|t| t.seq == task.seq)
                        .map(|t| t.data)
                        .unwrap_or(task.data.clone());
                    lock(&self.inner.state).set_task(id, task.seq, "Error", &current)?;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Bring every snap of the change in at once, up to its mount: each snap's download, verify
    /// and mount run in order, the snaps side by side. They are independent, and the slowest one,
    /// not their sum, should set the pace. The tasks that follow find them done.
    async fn download_in_parallel(&self, id: u64, cancel: &CancellationToken) -> Result<()> {
        let mut groups: Vec<(String, Vec<(TaskRow, TaskData)>)> = Vec::new();
        for t in lock(&self.inner.state).tasks(id)? {
            if t.status == "Done" {
                continue;
            }
            let Ok(d) = serde_json::from_value::<TaskData>(t.data.clone()) else {
                continue;
            };
            if !matches!(
                d,
                TaskData::Download { .. } | TaskData::Verify { .. } | TaskData::Mount { .. }
            ) {
                continue;
            }
            let snap = d.snap().to_string();
            match groups.iter_mut().find(|(n, _)| *n == snap) {
                Some((_, g)) => g.push((t, d)),
                None => groups.push((snap, vec![(t, d)])),
            }
        }
        if groups.len() < 2 {
            return Ok(());
        }
        let runs = groups.iter().map(|(_, group)| async move {
            for (t, d) in group {
                if cancel.is_cancelled() {
                    return Err(Error::new(ErrorKind::Cancelled, "cancelled"));
                }
                match self.start_task(id, t, d, cancel).await? {
                    Ok(done) => {
                        let v = serde_json::to_value(&done).map_err(Error::internal)?;
                        lock(&self.inner.state).set_task(id, t.seq, "Done", &v)?;
                        self.updated(id);
                    }
                    Err(e) => {
                        lock(&self.inner.state).set_task(id, t.seq, "Error", &t.data)?;
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
    async fn start_task(
        &self,
        id: u64,
        task: &TaskRow,
        data: &TaskData,
        cancel: &CancellationToken,
    ) -> Result<Result<TaskData>> {
        lock(&self.inner.state).set_task(id, task.seq, "Doing", &task.data)?;
        self.updated(id);
        let started = std::time::Instant::now();
        let result = self.run_task(id, task.seq, data.clone(), cancel).await;
        tracing::debug!(
            change = id,
            task = data.kind(),
            snap = data.snap(),
            ms = started.elapsed().as_millis() as u64,
            "task ran"
        );
        Ok(result)
    }

    fn all_pre_commit_done(&self, id: u64) -> Result<bool> {
        let tasks = lock(&self.inner.state).tasks(id)?;
        Ok(tasks.iter().all(|t| {
            t.status == "Done"
                || serde_json::from_value::<TaskData>(t.data.clone())
                    .map(|d| d.after_commit())
                    .unwrap_or(false)
        }))
    }

    /// Undo, in reverse, every task that did (or may have done) something.
    fn undo_tasks(&self, id: u64) {
        let tasks = match lock(&self.inner.state).tasks(id) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(change = id, error = %e, "cannot read tasks to undo");
                return;
            }
        };
        for task in tasks.iter().rev() {
            if !matches!(task.status.as_str(), "Done" | "Doing" | "Error" | "Undoing") {
                continue;
            }
            let Ok(data) = serde_json::from_value::<TaskData>(task.data.clone()) else {
                continue;
            };
            if data.after_commit() {
                continue;
            }
            let _ = lock(&self.inner.state).set_task(id, task.seq, "Undoing", &task.data);
            match self.undo_task(&data) {
                Ok(()) => {
                    let _ = lock(&self.inner.state).set_task(id, task.seq, "Undone", &task.data);
                }
                Err(e) => {
                    tracing::error!(change = id, task = task.seq, error = %e, "undo failed");
                    let _ = lock(&self.inner.state).set_task(id, task.seq, "Error", &task.data);
                }
            }
            self.updated(id);
        }
    }

    /// Settle the changes a crash interrupted: finish those past their commit point, undo the rest.
    async fn recover(&self) -> Result<()> {
        let unfinished = lock(&self.inner.state).unfinished_changes()?;
        for change in unfinished {
            let tasks = lock(&self.inner.state).tasks(change.id)?;
            let parsed: Vec<(TaskRow, Option<TaskData>)> = tasks
                .into_iter()
                .map(|t| {
                    let d = serde_json::from_value(t.data.clone()).ok();
                    (t, d)
                })
                .collect();
            let committed = parsed.iter().all(|(t, d)| {
                t.status == "Done" || d.as_ref().map(|d| d.after_commit()).unwrap_or(false)
            }) && change.status != "Undoing";
            if committed {
                tracing::info!(
                    change = change.id,
                    "finishing a change interrupted after its commit"
                );
                let cancel = CancellationToken::new();
                let result = self.run_tasks(change.id, &cancel).await;
                let (status, kind, msg) = match result {
                    Ok(()) => ("Done", String::new(), String::new()),
                    Err(e) => ("Error", e.kind.as_kebab().to_string(), e.message),
                };
                lock(&self.inner.state).finish_change(change.id, status, &kind, &msg)?;
            } else {
                tracing::info!(
                    change = change.id,
                    "undoing a change interrupted by a restart"
                );
                self.undo_tasks(change.id);
                lock(&self.inner.state).finish_change(
                    change.id,
                    "Error",
                    ErrorKind::Internal.as_kebab(),
                    "interrupted by a restart of the helper; everything it did was undone",
                )?;
            }
        }
        Ok(())
    }

    /// Mounts do not survive a reboot and links may be stale after a crash: bring every installed
    /// snap back to what the state says. Leftover downloads and stray mounts are removed.
    fn restore_system(&self) -> Result<()> {
        let paths = self.paths().clone();
        let snaps = self.installed()?;
        let mut wanted = std::collections::HashSet::new();
        for snap in &snaps {
            for rev in &snap.sequence {
                let dir = paths.mount_point(&snap.name, &rev.revision);
                wanted.insert(dir.clone());
                let blob = paths.blob(&snap.name, &rev.revision);
                if let Err(e) = mount::mount(&blob, &dir, self.inner.cfg.allow_loop) {
                    tracing::error!(snap = %snap.name, revision = %rev.revision, error = %e, "cannot mount");
                }
            }
        }
        for snap in &snaps {
            let base_rev = self.base_revision(snap);
            if let Err(e) = files::apply(&paths, snap, &base_rev, &self.inner.cfg.launcher) {
                tracing::error!(snap = %snap.name, error = %e, "cannot restore links and profiles");
            }
        }
        // Mounts under /snap that the state does not know about are leftovers of an undone change.
        for m in mount::mounts_under(&paths.snap_mount_dir()) {
            if !wanted.contains(&m) {
                tracing::info!(mount = %m.display(), "removing a stray mount");
                let _ = mount::unmount(&m);
            }
        }
        // Folders under /snap of snaps the state does not know (what an undo interrupted by a
        // crash can leave: an empty mount point, a `current` link) go, unless something is mounted.
        let known: std::collections::HashSet<&str> =
            snaps.iter().map(|s| s.name.as_str()).collect();
        if let Ok(entries) = std::fs::read_dir(paths.snap_mount_dir()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let dir = e.path();
                if name == "bin"
                    || known.contains(name.as_str())
                    || !mount::mounts_under(&dir).is_empty()
                {
                    continue;
                }
                if std::fs::symlink_metadata(&dir)
                    .map(|m| m.is_dir())
                    .unwrap_or(false)
                {
                    tracing::info!(dir = %dir.display(), "removing what an interrupted change left");
                    let _ = mount::remove_tree(&dir);
                }
            }
        }
        if let Ok(entries) = std::fs::read_dir(paths.blobs_dir()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".partial") || name.starts_with(".incoming-") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }

    pub(crate) fn base_revision(&self, snap: &SnapState) -> String {
        snap.base
            .as_deref()
            .and_then(|b| self.snap(b).ok().flatten())
            .map(|b| b.current)
            .unwrap_or_default()
    }

    // --- tasks ----------------------------------------------------------------------------------

    fn save_task(&self, id: u64, seq: u32, status: &str, data: &TaskData) -> Result<()> {
        let v = serde_json::to_value(data).map_err(Error::internal)?;
        lock(&self.inner.state).set_task(id, seq, status, &v)?;
        Ok(())
    }

    async fn run_task(
        &self,
        id: u64,
        seq: u32,
        data: TaskData,
        cancel: &CancellationToken,
    ) -> Result<TaskData> {
        let paths = self.paths().clone();
        match data {
            TaskData::Download {
                ref name,
                ref revision,
                ref url,
                ref sha3_384,
                size,
            } => {
                std::fs::create_dir_all(paths.blobs_dir())?;
                let dest = paths.blob(name, revision);
                if dest.exists() {
                    let (d, n) = snapshelf_snap::digest::digest_file(&dest)?;
                    if d.to_hex() == *sha3_384 && n == size {
                        return Ok(data);
                    }
                    std::fs::remove_file(&dest)?;
                }
                // The signed size, known before a byte is written: a store cannot make the helper
                // write more than the file it signed.
                let digest = snapshelf_snap::digest::Sha3_384::from_hex(sha3_384)
                    .map_err(|e| Error::internal(format!("the task's digest: {e}")))?;
                let signed = verify::signed_size(
                    self.store(),
                    &self.inner.cfg.trusted,
                    &paths.assertions_dir(),
                    &digest,
                )
                .await?;
                if signed != size {
                    return Err(Error::new(
                        ErrorKind::VerificationFailed,
                        format!("\"{name}\": the store says the file is {size} bytes, its signed snap-revision says {signed}"),
                    ));
                }
                let label = gettextrs::gettext("Downloading \"{snap}\"").replace("{snap}", name);
                let engine = self.clone();
                let progress = move |done: u64, total: u64| {
                    engine.set_download_progress(id, seq, &label, done, total)
                };
                let verdict = self
                    .store()
                    .download_verified(url, &dest, sha3_384, size, cancel, &progress)
                    .await?;
                if let Err(why) = verdict {
                    return Err(Error::new(
                        ErrorKind::VerificationFailed,
                        format!("\"{name}\": {why}"),
                    ));
                }
                Ok(data)
            }
            TaskData::Verify {
                ref name,
                ref revision,
                ref snap_id,
                ref sha3_384,
                size,
            } => {
                self.set_progress(
                    id,
                    &gettextrs::gettext("Verifying \"{snap}\"").replace("{snap}", name),
                    0,
                    0,
                );
                let blob = paths.blob(name, revision);
                // The download hashed the file as it streamed and refused any other digest, so the
                // digest is the one in the task; only the size is read again.
                let digest = snapshelf_snap::digest::Sha3_384::from_hex(sha3_384)
                    .map_err(|e| Error::internal(format!("the task's digest: {e}")))?;
                let n = std::fs::metadata(&blob)?.len();
                let rev: u32 = revision.parse().map_err(|_| {
                    Error::internal(format!("store revision {revision:?} is not a number"))
                })?;
                if n != size {
                    return Err(Error::new(
                        ErrorKind::VerificationFailed,
                        format!("\"{name}\" is {n} bytes, the store said {size}"),
                    ));
                }
                verify::verify_download(
                    self.store(),
                    &self.inner.cfg.trusted,
                    &paths.assertions_dir(),
                    verify::Expected {
                        name,
                        snap_id,
                        revision: rev,
                        digest: &digest,
                        size: n,
                    },
                )
                .await?;
                Ok(data)
            }
            TaskData::AdoptFile { .. } => Ok(data),
            TaskData::Mount {
                ref name,
                ref revision,
            } => {
                self.set_progress(
                    id,
                    &gettextrs::gettext("Mounting \"{snap}\"").replace("{snap}", name),
                    0,
                    0,
                );
                let blob = paths.blob(name, revision);
                let dir = paths.mount_point(name, revision);
                let allow = self.inner.cfg.allow_loop;
                tokio::task::spawn_blocking(move || mount::mount_new(&blob, &dir, allow))
                    .await
                    .map_err(Error::internal)??;
                Ok(data)
            }
            TaskData::Data { .. } => {
                let engine = self.clone();
                tokio::task::spawn_blocking(move || engine.do_data(id, seq, data))
                    .await
                    .map_err(Error::internal)?
            }
            TaskData::Link {
                ref name,
                ref after,
                before,
                captured,
            } => {
                self.set_progress(
                    id,
                    &gettextrs::gettext("Making \"{snap}\" available").replace("{snap}", name),
                    0,
                    0,
                );
                let before = if captured {
                    before
                } else {
                    let b = self.snap(name)?.map(Box::new);
                    let d = TaskData::Link {
                        name: name.clone(),
                        after: after.clone(),
                        before: b.clone(),
                        captured: true,
                    };
                    self.save_task(id, seq, "Doing", &d)?;
                    b
                };
                let base_rev = self.base_revision(after);
                files::apply(&paths, after, &base_rev, &self.inner.cfg.launcher)?;
                let done = TaskData::Link {
                    name: name.clone(),
                    after: after.clone(),
                    before,
                    captured: true,
                };
                let v = serde_json::to_value(&done).map_err(Error::internal)?;
                lock(&self.inner.state).transaction(|st| {
                    st.put_snap(after)?;
                    st.set_task(id, seq, "Done", &v)
                })?;
                Ok(done)
            }
            TaskData::Unlink {
                ref name,
                before,
                captured,
            } => {
                let before = if captured {
                    before
                } else {
                    let b = self.snap(name)?.map(Box::new);
                    self.save_task(
                        id,
                        seq,
                        "Doing",
                        &TaskData::Unlink {
                            name: name.clone(),
                            before: b.clone(),
                            captured: true,
                        },
                    )?;
                    b
                };
                files::remove(&paths, name)?;
                let done = TaskData::Unlink {
                    name: name.clone(),
                    before,
                    captured: true,
                };
                let v = serde_json::to_value(&done).map_err(Error::internal)?;
                lock(&self.inner.state).transaction(|st| {
                    st.delete_snap(name)?;
                    st.set_task(id, seq, "Done", &v)
                })?;
                Ok(done)
            }
            TaskData::DiscardData { ref name, purge } => {
                plan::discard_data(&paths, name, purge, &self.previous_current(id)?)?;
                Ok(data)
            }
            TaskData::DiscardRevisions {
                ref name,
                ref revisions,
            } => {
                for rev in revisions {
                    mount::unmount(&paths.mount_point(name, rev))?;
                    let blob = paths.blob(name, rev);
                    if blob.exists() {
                        std::fs::remove_file(&blob)?;
                    }
                }
                let _ = std::fs::remove_dir(paths.snap_dir(name));
                Ok(data)
            }
            TaskData::Gc { ref name } => {
                self.gc(name)?;
                Ok(data)
            }
            TaskData::Connect {
                ref name,
                ref plug,
                ref interface,
                connect,
                ..
            } => {
                let (snap, done) = {
                    let mut st = lock(&self.inner.state);
                    let mut snap = st.snap(name)?.ok_or_else(|| {
                        Error::new(
                            ErrorKind::NotInstalled,
                            format!("\"{name}\" is not installed"),
                        )
                    })?;
                    let before = crate::interfaces::choice(&snap, plug, interface);
                    crate::interfaces::set_choice(&mut snap, plug, interface, Some(connect));
                    let done = TaskData::Connect {
                        name: name.clone(),
                        plug: plug.clone(),
                        interface: interface.clone(),
                        connect,
                        before: Some(before),
                    };
                    let v = serde_json::to_value(&done).map_err(Error::internal)?;
                    st.transaction(|st| {
                        st.put_snap(&snap)?;
                        st.set_task(id, seq, "Done", &v)
                    })?;
                    (snap, done)
                };
                // The profiles of the snap's apps, rewritten at once: the next launch sees it.
                let base_rev = self.base_revision(&snap);
                files::apply(self.paths(), &snap, &base_rev, &self.inner.cfg.launcher)?;
                Ok(done)
            }
            TaskData::SwitchChannel {
                ref name,
                ref channel,
                ..
            } => {
                let mut st = lock(&self.inner.state);
                let before = st.snap(name)?.map(|s| s.tracking_channel);
                let mut snap = st.snap(name)?.ok_or_else(|| {
                    Error::new(
                        ErrorKind::NotInstalled,
                        format!("\"{name}\" is not installed"),
                    )
                })?;
                snap.tracking_channel = channel.clone();
                let done = TaskData::SwitchChannel {
                    name: name.clone(),
                    channel: channel.clone(),
                    before,
                };
                let v = serde_json::to_value(&done).map_err(Error::internal)?;
                st.transaction(|st| {
                    st.put_snap(&snap)?;
                    st.set_task(id, seq, "Done", &v)
                })?;
                Ok(done)
            }
        }
    }

    /// The revision that was current before an Unlink of this change (remove's data snapshot).
    fn previous_current(&self, id: u64) -> Result<String> {
        let tasks = lock(&self.inner.state).tasks(id)?;
        for t in tasks {
            if let Ok(TaskData::Unlink {
                before: Some(b), ..
            }) = serde_json::from_value::<TaskData>(t.data)
            {
                return Ok(b.current);
            }
        }
        Ok(String::new())
    }

    fn do_data(&self, id: u64, seq: u32, data: TaskData) -> Result<TaskData> {
        let TaskData::Data {
            name,
            revision,
            copy_from,
            restore_snapshot,
            created_data,
            created_common,
            restored,
        } = data
        else {
            return Err(Error::internal("do_data on another task"));
        };
        let paths = self.paths();
        let data_dir = paths.data_dir(&name, &revision);
        let common = paths.common_dir(&name);
        let snapshot = paths.snapshot_dir(&name);
        // Decide, and write down, what this task will create before creating it.
        let created_data = created_data.unwrap_or(!data_dir.exists());
        let created_common = created_common.unwrap_or(!common.exists());
        let restored = restored.unwrap_or(restore_snapshot && snapshot.exists() && created_data);
        let decided = TaskData::Data {
            name: name.clone(),
            revision: revision.clone(),
            copy_from: copy_from.clone(),
            restore_snapshot,
            created_data: Some(created_data),
            created_common: Some(created_common),
            restored: Some(restored),
        };
        self.save_task(id, seq, "Doing", &decided)?;
        std::fs::create_dir_all(paths.data_root(&name))?;
        if restored {
            plan::restore_snapshot(paths, &name, &revision)?;
        }
        if created_data && !data_dir.exists() {
            match &copy_from {
                Some(from) if paths.data_dir(&name, from).exists() => {
                    plan::copy_tree(&paths.data_dir(&name, from), &data_dir)?;
                }
                _ => std::fs::create_dir_all(&data_dir)?,
            }
        }
        std::fs::create_dir_all(&common)?;
        Ok(decided)
    }

    fn undo_task(&self, data: &TaskData) -> Result<()> {
        let paths = self.paths();
        match data {
            TaskData::Download { name, revision, .. } | TaskData::AdoptFile { name, revision } => {
                let blob = paths.blob(name, revision);
                for p in [crate::store::partial_path(&blob), blob] {
                    match std::fs::remove_file(&p) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(())
            }
            TaskData::Verify { .. } => Ok(()),
            TaskData::Mount { name, revision } => {
                mount::unmount(&paths.mount_point(name, revision))?;
                let _ = std::fs::remove_dir(paths.snap_dir(name));
                Ok(())
            }
            TaskData::Data {
                name,
                revision,
                created_data,
                created_common,
                restored,
                ..
            } => {
                if *restored == Some(true) {
                    plan::save_snapshot(paths, name, revision)?;
                } else if *created_data == Some(true) {
                    mount::remove_tree(&paths.data_dir(name, revision))?;
                }
                if *created_common == Some(true) {
                    mount::remove_tree(&paths.common_dir(name))?;
                }
                let root = paths.data_root(name);
                if std::fs::read_dir(&root)
                    .map(|mut d| d.next().is_none())
                    .unwrap_or(false)
                {
                    let _ = std::fs::remove_dir(&root);
                }
                Ok(())
            }
            TaskData::Link {
                name,
                before,
                captured,
                ..
            } => {
                if !captured {
                    return Ok(()); // it never acted
                }
                self.restore(name, before.as_deref())
            }
            TaskData::Unlink {
                name,
                before,
                captured,
            } => {
                if !captured {
                    return Ok(());
                }
                self.restore(name, before.as_deref())
            }
            TaskData::SwitchChannel {
                name,
                before: Some(channel),
                ..
            } => {
                let st = lock(&self.inner.state);
                if let Some(mut s) = st.snap(name)? {
                    s.tracking_channel = channel.clone();
                    st.put_snap(&s)?;
                }
                Ok(())
            }
            TaskData::Connect {
                name,
                plug,
                interface,
                before: Some(before),
                ..
            } => {
                let snap = {
                    let st = lock(&self.inner.state);
                    let Some(mut s) = st.snap(name)? else {
                        return Ok(());
                    };
                    crate::interfaces::set_choice(&mut s, plug, interface, *before);
                    st.put_snap(&s)?;
                    s
                };
                let base_rev = self.base_revision(&snap);
                files::apply(self.paths(), &snap, &base_rev, &self.inner.cfg.launcher)
            }
            TaskData::Connect { .. }
            | TaskData::SwitchChannel { .. }
            | TaskData::DiscardData { .. }
            | TaskData::DiscardRevisions { .. }
            | TaskData::Gc { .. } => Ok(()),
        }
    }

    /// Put a snap back as `before` says (or take it away when there was none).
    fn restore(&self, name: &str, before: Option<&SnapState>) -> Result<()> {
        let paths = self.paths();
        match before {
            Some(b) => {
                let base_rev = self.base_revision(b);
                files::apply(paths, b, &base_rev, &self.inner.cfg.launcher)?;
                lock(&self.inner.state).put_snap(b)?;
            }
            None => {
                files::remove(paths, name)?;
                lock(&self.inner.state).delete_snap(name)?;
            }
        }
        Ok(())
    }

    /// Drop the oldest revisions beyond `retain`, never the current one.
    fn gc(&self, name: &str) -> Result<()> {
        let retain = self.retain() as usize;
        let Some(mut snap) = self.snap(name)? else {
            return Ok(());
        };
        if snap.sequence.len() <= retain {
            return Ok(());
        }
        let excess = snap.sequence.len() - retain;
        let victims: Vec<String> = snap
            .sequence
            .iter()
            .filter(|r| r.revision != snap.current)
            .take(excess)
            .map(|r| r.revision.clone())
            .collect();
        // Files first, then the state: a crash in between leaves revisions the next gc removes.
        let paths = self.paths();
        for rev in &victims {
            mount::unmount(&paths.mount_point(name, rev))?;
            let blob = paths.blob(name, rev);
            if blob.exists() {
                std::fs::remove_file(&blob)?;
            }
            mount::remove_tree(&paths.data_dir(name, rev))?;
        }
        snap.sequence.retain(|r| !victims.contains(&r.revision));
        snap.blocked.retain(|r| !victims.contains(r));
        lock(&self.inner.state).put_snap(&snap)?;
        Ok(())
    }

    pub fn hold(&self, names: &[String], hold: bool) -> Result<()> {
        let mut st = lock(&self.inner.state);
        let mut snaps = Vec::new();
        for n in names {
            let s = st.snap(n)?.ok_or_else(|| {
                Error::new(ErrorKind::NotInstalled, format!("\"{n}\" is not installed"))
            })?;
            snaps.push(s);
        }
        st.transaction(|st| {
            for mut s in snaps {
                s.held = hold;
                st.put_snap(&s)?;
            }
            Ok(())
        })?;
        drop(st);
        if let Some(o) = self.observer() {
            o.snaps_changed(names.to_vec());
        }
        Ok(())
    }
}

pub fn blob_dir_ready(paths: &Paths) -> Result<PathBuf> {
    let dir = paths.blobs_dir();
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
