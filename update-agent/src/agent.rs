//! One check, and the wait for held snaps: ask the helper for updates, download them, apply
//! them as automatic refreshes (`Refresh` option `auto`): the helper puts off a snap whose apps
//! run (`SnapInUse`, snapd's refresh app awareness) and, after snapd's 14 days, refreshes it
//! anyway; tell the person.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::StreamExt;
use gettextrs::gettext;
use snapshelf_dbus::proxy::{Change1Proxy, Helper1Proxy};
use snapshelf_dbus::types::RefreshOptions;
use zbus::zvariant::OwnedObjectPath;

use crate::notify::Notifier;

/// A change that did not end Done: its error kind and message.
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: String,
    pub message: String,
}

impl From<zbus::Error> for Failure {
    fn from(e: zbus::Error) -> Failure {
        let kind = match &e {
            zbus::Error::MethodError(name, _, _) => name
                .as_str()
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_string(),
            _ => "Internal".into(),
        };
        let message = match &e {
            zbus::Error::MethodError(_, Some(m), _) => m.clone(),
            other => other.to_string(),
        };
        Failure { kind, message }
    }
}

pub struct Agent {
    pub helper: Helper1Proxy<'static>,
    /// The bus NetworkManager is asked on (the system bus).
    pub system: zbus::Connection,
    pub notifier: Option<Notifier>,
    pub settings: Option<std::path::PathBuf>,
    /// Downloaded updates waiting for their apps to close.
    pub held: BTreeSet<String>,
}

impl Agent {
    fn paused(&self) -> bool {
        let Some(path) = &self.settings else {
            return false;
        };
        crate::read_paused(path).unwrap_or_else(|e| {
            tracing::warn!("{e}; taken as not paused");
            false
        })
    }

    /// NetworkManager's `Metered`; no NetworkManager (or no answer) is not metered.
    async fn metered(&self) -> bool {
        let value: zbus::Result<u32> = async {
            let nm = zbus::Proxy::new(
                &self.system,
                "org.freedesktop.NetworkManager",
                "/org/freedesktop/NetworkManager",
                "org.freedesktop.NetworkManager",
            )
            .await?;
            nm.get_property("Metered").await
        }
        .await;
        match value {
            Ok(v) => crate::is_metered_value(v),
            Err(e) => {
                tracing::debug!("no metered state from NetworkManager ({e}); not metered");
                false
            }
        }
    }

    async fn notify(&self, summary: String, body: String) {
        tracing::info!("{summary}: {body}");
        if let Some(n) = &self.notifier {
            n.show(&summary, &body).await;
        }
    }

    /// One scheduled check: find, download, apply what can be.
    pub async fn check(&mut self) {
        if self.paused() {
            tracing::info!("background updates are paused; no check");
            return;
        }
        let updates = match self.helper.list_updates().await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!("cannot ask the helper for updates: {e}");
                return;
            }
        };
        let names: Vec<String> = updates
            .iter()
            .filter_map(|d| d.get("name").and_then(|v| String::try_from(v.clone()).ok()))
            .collect();
        if names.is_empty() {
            tracing::info!("no updates");
            return;
        }
        if self.metered().await {
            tracing::info!("the connection is metered; not downloading {names:?}");
            return;
        }
        if let Err(f) = self.download(&names).await {
            self.failed(&names, &f).await;
            return;
        }
        self.apply(names).await;
    }

    async fn download(&self, names: &[String]) -> Result<(), Failure> {
        let options = RefreshOptions {
            download_only: true,
            // At low priority: a person's own installs go first.
            background: true,
            ..Default::default()
        };
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let change = self.helper.refresh(&refs, options.to_dict()).await?;
        self.wait(change).await
    }

    /// Refresh each of `names`; those the helper puts off while their apps run wait in `held`,
    /// said once.
    pub async fn apply(&mut self, names: Vec<String>) {
        let (mut applied, mut newly_held) = (Vec::new(), Vec::new());
        for name in names {
            match self.refresh_one(&name).await {
                Ok(()) => {
                    self.held.remove(&name);
                    applied.push(name);
                }
                Err(f) if f.kind == "SnapInUse" => {
                    tracing::info!(snap = %name, "held until its apps close: {}", f.message);
                    if self.held.insert(name.clone()) {
                        newly_held.push(name);
                    }
                }
                // A snap's gate-auto-refresh hook put it off: the next check asks again.
                Err(f) if f.kind == "RefreshHeld" => {
                    self.held.remove(&name);
                    tracing::info!(snap = %name, "held by a gate-auto-refresh hook: {}", f.message);
                    let body = snapshelf_i18n::fill(
                        &gettext("{snaps}: {reason}"),
                        &[("snaps", &name), ("reason", &f.message)],
                    );
                    self.notify(gettext("Update put off"), body).await;
                }
                // Someone refreshed it meanwhile.
                Err(f) if f.kind == "NoUpdateAvailable" => {
                    self.held.remove(&name);
                }
                Err(f) => {
                    self.held.remove(&name);
                    self.failed(std::slice::from_ref(&name), &f).await;
                }
            }
        }
        if !newly_held.is_empty() {
            let remaining = self.remaining().await;
            let lines: Vec<String> = newly_held
                .iter()
                .map(|name| crate::held_words(name, remaining.get(name).copied()))
                .collect();
            self.notify(gettext("Updates ready"), lines.join("\n"))
                .await;
        }
        if !applied.is_empty() {
            // Translators: {snaps} is a list of snap names.
            let body = snapshelf_i18n::fill(
                &gettext("Updated {snaps}."),
                &[("snaps", &applied.join(", "))],
            );
            self.notify(gettext("Apps updated"), body).await;
        }
    }

    async fn refresh_one(&self, name: &str) -> Result<(), Failure> {
        let options = RefreshOptions {
            auto: true,
            ..Default::default()
        };
        let change = self.helper.refresh(&[name], options.to_dict()).await?;
        self.wait(change).await
    }

    async fn failed(&self, names: &[String], f: &Failure) {
        tracing::warn!(snaps = ?names, kind = %f.kind, "{}", f.message);
        // Translators: {snaps} is a list of snap names, {reason} the helper's error message.
        let body = snapshelf_i18n::fill(
            &gettext("{snaps}: {reason}"),
            &[("snaps", &names.join(", ")), ("reason", &f.message)],
        );
        self.notify(gettext("Updates failed"), body).await;
    }

    /// Until the change is ready: Done, or its error.
    async fn wait(&self, path: OwnedObjectPath) -> Result<(), Failure> {
        let change = Change1Proxy::builder(self.helper.inner().connection())
            .path(path)?
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await?;
        // Subscribed before the first look, so that an end between the two is not missed.
        let mut finished = change.receive_finished().await?;
        if !change.ready().await? {
            finished.next().await;
        }
        match change.status().await?.as_str() {
            "Done" => Ok(()),
            _ => Err(Failure {
                kind: change.error_kind().await?,
                message: change.error().await?,
            }),
        }
    }

    /// The seconds before each put-off refresh goes ahead although its apps run (`PendingRefreshes`);
    /// empty when the helper cannot say: the notification then leaves the days out.
    async fn remaining(&self) -> BTreeMap<String, u64> {
        match self.helper.pending_refreshes().await {
            Ok(rows) => rows
                .iter()
                .filter_map(|d| snapshelf_dbus::types::PendingRefresh::from_dict(d).ok())
                .map(|p| (p.name, p.remaining))
                .collect(),
            Err(e) => {
                tracing::warn!("cannot ask the helper for pending refreshes: {e}");
                BTreeMap::new()
            }
        }
    }

    /// Between checks: apply the held updates whose apps have closed since (asked of
    /// `PendingRefreshes`, which needs no store, before a refresh is tried).
    pub async fn retry_held(&mut self) {
        let busy: BTreeSet<String> = match self.helper.pending_refreshes().await {
            Ok(rows) => rows
                .iter()
                .filter_map(|d| snapshelf_dbus::types::PendingRefresh::from_dict(d).ok())
                .filter(|p| !p.apps.is_empty())
                .map(|p| p.name)
                .collect(),
            Err(e) => {
                tracing::warn!("cannot ask the helper for pending refreshes: {e}");
                return;
            }
        };
        let names: Vec<String> = self.held.difference(&busy).cloned().collect();
        if !names.is_empty() {
            self.apply(names).await;
        }
    }
}
