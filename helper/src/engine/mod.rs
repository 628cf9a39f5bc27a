//! Changes and their tasks: planning each operation, running it, undoing it on failure or cancel, and
//! settling whatever a crash interrupted. The D-Bus layer calls in here and observes progress; nothing
//! here knows the wire.

pub mod aliases;
pub mod auto_connect;
pub mod bases;
pub mod bus_policy;
pub mod catalog;
pub mod content;
pub mod content_policy;
pub mod data_dirs;
mod dbus_activation;
mod dbus_links;
pub mod dbus_policy;
mod declarations;
pub mod files;
pub mod gating;
pub mod hooks;
pub mod iface_hooks;
mod lanes;
pub mod plan;
pub mod refresh_app_awareness;
mod runner;
pub(crate) mod services;
pub mod snap_meta;
mod startup;
pub mod system;
pub mod task;
pub mod user_data;
pub mod verify;

/// The largest file `CheckFile` and `InstallFile` read (8 GiB): the biggest store snaps are a few
/// GiB; a larger (or sparse, or growing) file is refused before the helper spends hours on it.
pub const MAX_SNAP_FILE: u64 = 8 << 30;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use snapshelf_snap::assert::Assertion;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorKind, Result};
use crate::io::IoContext;
use crate::paths::Paths;
use crate::state::{ChangeRow, SnapState, State, TaskRow};
use crate::store::StoreClient;
use system::System;
use task::Task;

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
    sys: Arc<dyn System>,
    /// Hooks running now, by cookie (what `snapctl` inside them may see and change).
    pub(crate) hooks: crate::snapctl::hooks::Hooks,
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

impl Engine {
    /// Open the state and settle what a previous run left unfinished. Call before taking the bus
    /// name, so that no client ever sees a half-done change.
    pub async fn open(cfg: EngineConfig) -> Result<Engine> {
        let sys = Arc::new(system::Real {
            paths: cfg.paths.clone(),
            launcher: cfg.launcher.clone(),
            allow_loop: cfg.allow_loop,
        });
        Engine::open_with(cfg, sys).await
    }

    /// [`Engine::open`] on another system backend (the tests' recording one).
    pub async fn open_with(cfg: EngineConfig, sys: Arc<dyn System>) -> Result<Engine> {
        startup::ensure_root_tmp(&cfg.paths)?;
        startup::write_seccomp_filters(cfg.paths.root());
        let state = State::open(&cfg.paths.state_db())?;
        let engine = Engine {
            inner: Arc::new(Inner {
                cfg,
                state: Mutex::new(state),
                live: Mutex::new(HashMap::new()),
                busy: Mutex::new(HashMap::new()),
                observer: OnceLock::new(),
                sys,
                hooks: Default::default(),
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

    pub(crate) fn system(&self) -> &dyn System {
        self.inner.sys.as_ref()
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
            Some(_) => Err(Error::invalid(crate::lang::gettext(
                "the change has already made its changes and can no longer be cancelled",
            ))),
            None => Err(Error::invalid(crate::lang::gettext(
                "the change has finished",
            ))),
        }
    }

    /// Refuse early, before asking the store, when another change is working on one of `names`
    /// (`ChangeConflict`). It only checks: [`Engine::start`] takes the snaps, checking again.
    fn ensure_free(&self, names: &[String]) -> Result<()> {
        conflict(&lock(&self.inner.busy), names)
    }

    /// Record a planned change and start running it.
    pub(crate) fn start(
        &self,
        kind: &str,
        summary: &str,
        snaps: Vec<String>,
        uid: u32,
        request: serde_json::Value,
        tasks: Vec<Task>,
    ) -> Result<u64> {
        let tasks = self.with_services(tasks)?;
        let id = {
            let mut busy = lock(&self.inner.busy);
            conflict(&busy, &snaps)?;
            let id =
                lock(&self.inner.state).add_change(kind, summary, &snaps, uid, &request, &tasks)?;
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
        // The change speaks the language of the call that started it, to its end.
        let lang = crate::lang::current();
        tokio::spawn(crate::lang::scope(lang, async move {
            engine.run_change(id).await
        }));
        Ok(id)
    }

    pub(crate) fn set_progress(&self, id: u64, label: &str, done: u64, total: u64) {
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
    pub(crate) fn set_download_progress(
        &self,
        id: u64,
        seq: u32,
        label: &str,
        done: u64,
        total: u64,
    ) {
        if let Some(l) = lock(&self.inner.live).get_mut(&id) {
            l.parts.insert(seq, (done, total));
            let (d, t) = l.parts.values().fold((0, 0), |a, p| (a.0 + p.0, a.1 + p.1));
            let label = if l.parts.len() > 1 {
                crate::lang::ngettext(
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

    fn release(&self, id: u64) {
        lock(&self.inner.busy).retain(|_, c| *c != id);
        lock(&self.inner.live).remove(&id);
    }

    pub(crate) fn base_revision(&self, snap: &SnapState) -> String {
        bases::of_snap(snap)
            .and_then(|b| self.snap(b).ok().flatten())
            .map(|b| b.current)
            .unwrap_or_default()
    }

    pub fn hold(&self, names: &[String], hold: bool) -> Result<()> {
        let mut st = lock(&self.inner.state);
        let mut snaps = Vec::new();
        for n in names {
            let s = st.snap(n)?.ok_or_else(|| not_installed(n))?;
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
    std::fs::create_dir_all(&dir).what("create", &dir)?;
    Ok(dir)
}

/// `ChangeConflict` when a change in `busy` holds one of `names`.
fn conflict(busy: &HashMap<String, u64>, names: &[String]) -> Result<()> {
    match names.iter().find_map(|n| busy.get(n).map(|id| (n, id))) {
        Some((n, id)) => Err(Error::new(
            ErrorKind::ChangeConflict,
            crate::lang::gettext("change {id} is already working on \"{snap}\"")
                .replace("{id}", &id.to_string())
                .replace("{snap}", n),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;

pub(crate) fn not_installed(name: &str) -> Error {
    Error::new(
        ErrorKind::NotInstalled,
        crate::lang::gettext("\"{snap}\" is not installed").replace("{snap}", name),
    )
}
