//! The tasks a change is made of, one kind per file, each with its `run` beside its `undo` (as
//! snapd registers a do and an undo handler per kind). A task's data is written to the state
//! database before it acts, with what its undo needs; every `run` and `undo` is idempotent, so that
//! a crash at any point is settled by running `undo` (before the change's commit point) or `run`
//! again (after it).
//!
//! Adding a kind: its file here, its variant in [`Task`] (with its arms below), and the plan that
//! creates it.

pub mod adopt_file;
pub mod alias;
pub mod auto_connect_hooks;
pub mod connect;
pub mod connect_content;
pub mod connect_dbus;
pub mod data;
pub mod discard_data;
pub mod discard_revisions;
pub mod download;
pub mod gc;
pub mod inhibit_run;
pub mod link;
pub mod mount;
pub mod refresh_aliases;
pub mod revision_config;
pub mod run_hook;
pub mod service_control;
pub mod services;
pub mod switch_channel;
pub mod unalias;
pub mod unlink;
pub mod verify;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::system::System;
use super::{lock, Engine};
use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::state::{SnapState, State, TaskStatus};

/// One task. Internally tagged by `kind`: each newtype variant serialises exactly as the struct
/// variants older helpers wrote (`{"kind":"mount","name":…}`), so their changes still recover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Task {
    Download(download::Download),
    Verify(verify::Verify),
    AdoptFile(adopt_file::AdoptFile),
    Mount(mount::Mount),
    Data(data::Data),
    Link(link::Link),
    Unlink(unlink::Unlink),
    DiscardData(discard_data::DiscardData),
    DiscardRevisions(discard_revisions::DiscardRevisions),
    Gc(gc::Gc),
    SwitchChannel(switch_channel::SwitchChannel),
    Connect(connect::Connect),
    Alias(alias::Alias),
    Unalias(unalias::Unalias),
    RefreshAliases(refresh_aliases::RefreshAliases),
    ConnectContent(connect_content::ConnectContent),
    RunHook(run_hook::RunHook),
    StartServices(services::StartServices),
    StopServices(services::StopServices),
    ServiceControl(service_control::ServiceControl),
    AutoConnectHooks(auto_connect_hooks::AutoConnectHooks),
    ConnectDbus(connect_dbus::ConnectDbus),
    RevisionConfig(revision_config::RevisionConfig),
    InhibitRun(inhibit_run::InhibitRun),
    UninhibitRun(inhibit_run::UninhibitRun),
}

impl Task {
    /// The `kind` column and the `Tasks` property's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Task::Download(_) => "download",
            Task::Verify(_) => "verify",
            Task::AdoptFile(_) => "adopt-file",
            Task::Mount(_) => "mount",
            Task::Data(_) => "data",
            Task::Link(_) => "link",
            Task::Unlink(_) => "unlink",
            Task::DiscardData(_) => "discard-data",
            Task::DiscardRevisions(_) => "discard-revisions",
            Task::Gc(_) => "gc",
            Task::SwitchChannel(_) => "switch-channel",
            Task::Connect(c) if c.connect => "connect",
            Task::Connect(_) => "disconnect",
            Task::Alias(_) => "alias",
            Task::Unalias(u) if u.alias.is_some() => "unalias",
            Task::Unalias(_) => "disable-aliases",
            Task::RefreshAliases(_) => "refresh-aliases",
            Task::ConnectContent(c) if c.connect => "connect-content",
            Task::ConnectContent(_) => "disconnect-content",
            Task::RunHook(_) => "run-hook",
            Task::StartServices(_) => "start-services",
            Task::StopServices(_) => "stop-services",
            Task::ServiceControl(_) => "service-control",
            Task::AutoConnectHooks(_) => "auto-connect-hooks",
            Task::ConnectDbus(c) if c.connect => "connect-dbus",
            Task::ConnectDbus(_) => "disconnect-dbus",
            Task::RevisionConfig(_) => "revision-config",
            Task::InhibitRun(_) => "inhibit-run",
            Task::UninhibitRun(_) => "uninhibit-run",
        }
    }

    /// Tasks after the commit point are finished, not undone, when a crash interrupts them: the
    /// change has already happened from the user's point of view.
    pub fn after_commit(&self) -> bool {
        matches!(
            self,
            Task::DiscardData(_) | Task::DiscardRevisions(_) | Task::Gc(_)
        )
    }

    /// A task that puts something in use (or takes it out): once every task before the commit
    /// point is done, the change can no longer be cancelled.
    pub fn commits(&self) -> bool {
        matches!(
            self,
            Task::Link(_) | Task::Unlink(_) | Task::StartServices(_)
        )
    }

    /// Tasks that share a lane run in order; different lanes may run side by side (each snap's
    /// download, verify and mount). `None`: the task runs alone, in sequence.
    pub fn lane(&self) -> Option<&str> {
        match self {
            Task::Download(t) => Some(&t.name),
            Task::Verify(t) => Some(&t.name),
            Task::Mount(t) => Some(&t.name),
            _ => None,
        }
    }

    /// The snap the task works on.
    pub fn snap(&self) -> &str {
        match self {
            Task::Download(t) => &t.name,
            Task::Verify(t) => &t.name,
            Task::AdoptFile(t) => &t.name,
            Task::Mount(t) => &t.name,
            Task::Data(t) => &t.name,
            Task::Link(t) => &t.name,
            Task::Unlink(t) => &t.name,
            Task::DiscardData(t) => &t.name,
            Task::DiscardRevisions(t) => &t.name,
            Task::Gc(t) => &t.name,
            Task::SwitchChannel(t) => &t.name,
            Task::Connect(t) => &t.name,
            Task::Alias(t) => &t.name,
            Task::Unalias(t) => &t.name,
            Task::RefreshAliases(t) => &t.name,
            Task::ConnectContent(t) => &t.name,
            Task::RunHook(t) => &t.name,
            Task::StartServices(t) => &t.name,
            Task::StopServices(t) => &t.name,
            Task::ServiceControl(t) => &t.name,
            Task::AutoConnectHooks(t) => &t.name,
            Task::ConnectDbus(t) => &t.name,
            Task::RevisionConfig(t) => &t.name,
            Task::InhibitRun(t) => &t.name,
            Task::UninhibitRun(t) => &t.name,
        }
    }

    /// Words for people (the change's `Tasks` property).
    pub fn summary(&self) -> String {
        match self {
            Task::Download(t) => t.summary(),
            Task::Verify(t) => t.summary(),
            Task::AdoptFile(t) => t.summary(),
            Task::Mount(t) => t.summary(),
            Task::Data(t) => t.summary(),
            Task::Link(t) => t.summary(),
            Task::Unlink(t) => t.summary(),
            Task::DiscardData(t) => t.summary(),
            Task::DiscardRevisions(t) => t.summary(),
            Task::Gc(t) => t.summary(),
            Task::SwitchChannel(t) => t.summary(),
            Task::Connect(t) => t.summary(),
            Task::Alias(t) => t.summary(),
            Task::Unalias(t) => t.summary(),
            Task::RefreshAliases(t) => t.summary(),
            Task::ConnectContent(t) => t.summary(),
            Task::RunHook(t) => t.summary(),
            Task::StartServices(t) => t.summary(),
            Task::StopServices(t) => t.summary(),
            Task::ServiceControl(t) => t.summary(),
            Task::AutoConnectHooks(t) => t.summary(),
            Task::ConnectDbus(t) => t.summary(),
            Task::RevisionConfig(t) => t.summary(),
            Task::InhibitRun(t) => t.summary(),
            Task::UninhibitRun(t) => t.summary(),
        }
    }

    /// Do the task; the answer is the task as it is now done (with what its undo needs).
    pub(crate) async fn run(self, cx: &Ctx) -> Result<Task> {
        match self {
            Task::Download(t) => t.run(cx).await.map(Task::Download),
            Task::Verify(t) => t.run(cx).await.map(Task::Verify),
            Task::AdoptFile(t) => Ok(Task::AdoptFile(t)),
            Task::Mount(t) => t.run(cx).await.map(Task::Mount),
            Task::Data(t) => t.run(cx).await.map(Task::Data),
            Task::Link(t) => t.run(cx).map(Task::Link),
            Task::Unlink(t) => t.run(cx).map(Task::Unlink),
            Task::DiscardData(t) => t.run(cx).map(Task::DiscardData),
            Task::DiscardRevisions(t) => t.run(cx).map(Task::DiscardRevisions),
            Task::Gc(t) => t.run(cx).map(Task::Gc),
            Task::SwitchChannel(t) => t.run(cx).map(Task::SwitchChannel),
            Task::Connect(t) => t.run(cx).map(Task::Connect),
            Task::Alias(t) => t.run(cx).map(Task::Alias),
            Task::Unalias(t) => t.run(cx).map(Task::Unalias),
            Task::RefreshAliases(t) => t.run(cx).map(Task::RefreshAliases),
            Task::ConnectContent(t) => t.run(cx).map(Task::ConnectContent),
            Task::RunHook(t) => t.run(cx).await.map(Task::RunHook),
            Task::StartServices(t) => t.run(cx).await.map(Task::StartServices),
            Task::StopServices(t) => t.run(cx).await.map(Task::StopServices),
            Task::ServiceControl(t) => t.run(cx).await.map(Task::ServiceControl),
            Task::AutoConnectHooks(t) => t.run(cx).await.map(Task::AutoConnectHooks),
            Task::ConnectDbus(t) => t.run(cx).map(Task::ConnectDbus),
            Task::RevisionConfig(t) => t.run(cx).map(Task::RevisionConfig),
            Task::InhibitRun(t) => t.run(cx).map(Task::InhibitRun),
            Task::UninhibitRun(t) => t.run(cx).map(Task::UninhibitRun),
        }
    }

    /// Take back what the task did, or may have done; nothing when it did nothing.
    pub(crate) fn undo(&self, cx: &Ctx) -> Result<()> {
        match self {
            Task::Download(t) => t.undo(cx),
            Task::AdoptFile(t) => t.undo(cx),
            Task::Mount(t) => t.undo(cx),
            Task::Data(t) => t.undo(cx),
            Task::Link(t) => t.undo(cx),
            Task::Unlink(t) => t.undo(cx),
            Task::SwitchChannel(t) => t.undo(cx),
            Task::Connect(t) => t.undo(cx),
            Task::Alias(t) => t.undo(cx),
            Task::Unalias(t) => t.undo(cx),
            Task::RefreshAliases(t) => t.undo(cx),
            Task::ConnectContent(t) => t.undo(cx),
            Task::RunHook(t) => t.undo(cx),
            Task::StartServices(t) => t.undo(cx),
            Task::StopServices(t) => t.undo(cx),
            Task::ServiceControl(t) => t.undo(cx),
            Task::AutoConnectHooks(t) => t.undo(cx),
            Task::ConnectDbus(t) => t.undo(cx),
            Task::RevisionConfig(t) => t.undo(cx),
            Task::InhibitRun(t) => t.undo(cx),
            Task::UninhibitRun(t) => t.undo(cx),
            // Verify changes nothing; the clean-up tasks come after the commit point.
            Task::Verify(_) | Task::DiscardData(_) | Task::DiscardRevisions(_) | Task::Gc(_) => {
                Ok(())
            }
        }
    }
}

/// What a running task may use: the engine's paths, the system backend, the state, and its own
/// row, to record what it decided before it acts.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) engine: Engine,
    pub(crate) change: u64,
    pub(crate) seq: u32,
    pub(crate) cancel: CancellationToken,
}

impl Ctx {
    pub(crate) fn paths(&self) -> &Paths {
        self.engine.paths()
    }

    pub(crate) fn sys(&self) -> &dyn System {
        self.engine.system()
    }

    pub(crate) fn snap(&self, name: &str) -> Result<Option<SnapState>> {
        self.engine.snap(name)
    }

    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.engine.inner.state)
    }

    /// Show what the change is doing now.
    pub(crate) fn progress(&self, label: String) {
        self.engine.set_progress(self.change, &label, 0, 0);
    }

    /// Write what the task decided (still `Doing`) before it acts on it.
    pub(crate) fn record(&self, task: &Task) -> Result<()> {
        self.state()
            .set_task(self.change, self.seq, TaskStatus::Doing, task)?;
        Ok(())
    }

    /// Change the state and mark the task `Done` in one transaction: both happen, or neither.
    pub(crate) fn commit(
        &self,
        done: &Task,
        f: impl FnOnce(&State) -> crate::state::Result<()>,
    ) -> Result<()> {
        self.state().transaction(|st| {
            f(st)?;
            st.set_task(self.change, self.seq, TaskStatus::Done, done)
        })?;
        Ok(())
    }

    /// Point links, profiles and launchers at the snap's current revision.
    /// Write the snap's links, profiles and launchers; then the profiles of the snaps whose
    /// content comes from it, so that they mount its current revision.
    pub(crate) fn link(&self, snap: &SnapState) -> Result<()> {
        let base_rev = self.engine.base_revision(snap);
        let own = self.engine.dbus_effective(snap, None);
        self.sys()
            .link(&own, &base_rev, &self.engine.content_for(snap))?;
        let mut relinked = Vec::new();
        for (user, _) in self.engine.content_users(&snap.name)? {
            let base_rev = self.engine.base_revision(&user);
            let content = self.engine.content_with(&user, Some(snap));
            let user = self.engine.dbus_effective(&user, Some(snap));
            self.sys().link(&user, &base_rev, &content)?;
            relinked.push(user.name);
        }
        // The snaps whose dbus plugs use its slots (engine/dbus_links.rs).
        for user in self.engine.dbus_users(&snap.name)? {
            if relinked.contains(&user.name) {
                continue;
            }
            let base_rev = self.engine.base_revision(&user);
            let content = self.engine.content_for(&user);
            let user = self.engine.dbus_effective(&user, Some(snap));
            self.sys().link(&user, &base_rev, &content)?;
        }
        Ok(())
    }

    /// Run blocking work off the async threads.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(Ctx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let cx = self.clone();
        let lang = crate::lang::current();
        tokio::task::spawn_blocking(move || lang.enter(|| f(cx)))
            .await
            .map_err(Error::internal)?
    }
}

/// `template` with `{snap}` and `{revision}` filled in.
pub(crate) fn words(template: String, name: &str, revision: &str) -> String {
    template
        .replace("{snap}", name)
        .replace("{revision}", revision)
}

#[cfg(test)]
mod tests;
