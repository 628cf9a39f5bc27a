//! The D-Bus face of the helper: `io.github.snapshelf.Helper1` and one `Change1` object per change.
//! Methods authorize, validate, delegate to the engine and map errors; nothing else.

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use snapshelf_dbus::names;
use snapshelf_dbus::types::{
    ChannelInfo, Connection as ConnectionDict, Dict, FindOptions, FindResult, InstallFileOptions,
    InstallOptions, InstalledSnap, InterfaceInfo, RefreshOptions, RemoveOptions, RevertOptions,
    SnapDetails, Task, UpdateInfo,
};
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedFd, OwnedObjectPath};
use zbus::{fdo, interface};

use crate::config::Config;
use crate::engine::{files::Launcher, Engine, EngineConfig, Observer};
use crate::error::{Error, ErrorKind};
use crate::paths::Paths;
use crate::polkit::{self, Authority};
use crate::state::SnapState;
use crate::state::{ChangeStatus, TaskStatus};
use crate::store::StoreClient;

pub struct Options {
    pub root: PathBuf,
    pub store_url: Option<String>,
    pub trust: Vec<PathBuf>,
    pub bus_address: Option<String>,
    pub confine: PathBuf,
    pub allow_loop: bool,
}

/// A started helper. Dropping it releases the bus name and the root.
pub struct Running {
    pub connection: zbus::Connection,
    _lock: std::fs::File,
}

fn to_dbus(e: Error) -> snapshelf_dbus::Error {
    snapshelf_dbus::Error::new(e.kind, e.message)
}

const MAX_NAME: usize = 256;

fn check_text(what: &str, s: &str) -> Result<(), snapshelf_dbus::Error> {
    if s.len() > MAX_NAME || s.chars().any(char::is_control) {
        return Err(to_dbus(Error::invalid(format!(
            "{what} is too long or has control characters"
        ))));
    }
    Ok(())
}

fn check_names(names: &[String]) -> Result<(), snapshelf_dbus::Error> {
    if names.len() > 64 {
        return Err(to_dbus(Error::invalid("at most 64 snaps in one call")));
    }
    names.iter().try_for_each(|n| check_text("a snap name", n))
}

struct Helper {
    engine: Engine,
    authority: Arc<Authority>,
    store_url: String,
    conn: zbus::Connection,
    /// The apps of each (snap, revision): a revision's snap.yaml never changes, and parsing it for
    /// every ListInstalled would be most of the call's time.
    apps: std::sync::Mutex<std::collections::HashMap<(String, String), Vec<String>>>,
    /// Whether the store answered the last read that needed it (`StoreReachable`).
    reachable: std::sync::atomic::AtomicBool,
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn find_result_from_store(r: &Value, installed: bool) -> FindResult {
    let snap = &r["snap"];
    let rev = &r["revision"];
    let icon = crate::store::media_urls(snap, "icon")
        .into_iter()
        .next()
        .unwrap_or_default();
    FindResult {
        name: str_at(r, "name").to_string(),
        title: str_at(snap, "title").to_string(),
        summary: str_at(snap, "summary").to_string(),
        version: str_at(rev, "version").to_string(),
        publisher: str_at(&snap["publisher"], "display-name").to_string(),
        publisher_validation: str_at(&snap["publisher"], "validation").to_string(),
        icon_url: icon,
        categories: snap["categories"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect(),
        download_size: rev["download"]["size"].as_u64().unwrap_or(0),
        channel: str_at(rev, "channel").to_string(),
        confinement: str_at(rev, "confinement").to_string(),
        license: str_at(snap, "license").to_string(),
        installed,
    }
}

fn find_result_from_state(s: &SnapState) -> FindResult {
    let rev = s.current_revision();
    FindResult {
        name: s.name.clone(),
        title: s.title.clone(),
        summary: s.summary.clone(),
        version: rev.map(|r| r.version.clone()).unwrap_or_default(),
        publisher: s.publisher.clone(),
        publisher_validation: s.publisher_validation.clone(),
        icon_url: s.icon_url.clone(),
        categories: Vec::new(),
        download_size: rev.map(|r| r.size).unwrap_or(0),
        channel: s.tracking_channel.clone(),
        confinement: s.confinement.clone(),
        license: s.license.clone(),
        installed: true,
    }
}

impl Helper {
    fn installed_names(&self) -> Vec<String> {
        self.engine
            .installed()
            .map(|l| l.into_iter().map(|s| s.name).collect())
            .unwrap_or_default()
    }

    fn installed_dict(&self, s: &SnapState) -> Dict {
        let rev = s.current_revision();
        let key = (s.name.clone(), s.current.clone());
        let cached = self.apps.lock().ok().and_then(|m| m.get(&key).cloned());
        let apps = match cached {
            Some(a) => a,
            None => {
                let a: Vec<String> = crate::engine::files::parse_yaml(s, &s.current)
                    .map(|y| y.apps.keys().cloned().collect())
                    .unwrap_or_default();
                if let Ok(mut m) = self.apps.lock() {
                    if m.len() > 4096 {
                        m.clear();
                    }
                    m.insert(key, a.clone());
                }
                a
            }
        };
        InstalledSnap {
            name: s.name.clone(),
            title: s.title.clone(),
            summary: s.summary.clone(),
            version: rev.map(|r| r.version.clone()).unwrap_or_default(),
            revision: s.current.clone(),
            channel: s.tracking_channel.clone(),
            confinement: s.confinement.clone(),
            apps,
            icon_path: self.local_icon(s).unwrap_or_default(),
            installed_size: s.sequence.iter().map(|r| r.size).sum(),
            revisions: s.sequence.iter().map(|r| r.revision.clone()).collect(),
            held: s.held,
        }
        .to_dict()
    }

    /// The icon inside the installed revision, if it ships one: shown without the network.
    fn local_icon(&self, s: &SnapState) -> Option<String> {
        let icon = self
            .engine
            .paths()
            .mount_point(&s.name, &s.current)
            .join("meta/gui/icon.png");
        icon.is_file().then(|| icon.display().to_string())
    }

    /// Serve a new change's object before its path is returned: a caller may ask for it at once.
    /// Record whether the store answered (anything but a network failure is an answer), and tell
    /// clients when that changes: they say "offline" rather than "up to date".
    async fn note_store<T>(
        &self,
        answer: &std::result::Result<T, crate::store::StoreError>,
        emitter: &SignalEmitter<'_>,
    ) {
        let reachable = !matches!(answer, Err(crate::store::StoreError::Network { .. }));
        let before = self
            .reachable
            .swap(reachable, std::sync::atomic::Ordering::Relaxed);
        if before != reachable {
            if let Err(e) = self.store_reachable_changed(emitter).await {
                tracing::warn!(error = %e, "cannot signal StoreReachable");
            }
        }
    }

    async fn served(&self, id: u64) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        let obj = ChangeObject {
            engine: self.engine.clone(),
            authority: self.authority.clone(),
            id,
        };
        self.conn
            .object_server()
            .at(names::change_path(id), obj)
            .await
            .map_err(|e| to_dbus(Error::internal(e)))?;
        Ok(names::change_path(id))
    }

    async fn authorize(
        &self,
        hdr: &Header<'_>,
        action: &str,
    ) -> Result<u32, snapshelf_dbus::Error> {
        self.authority.check(hdr, action).await.map_err(to_dbus)
    }

    /// Connect or Disconnect: check the words, ask polkit, then the engine decides.
    async fn connection_change(
        &self,
        hdr: &Header<'_>,
        [plug_snap, plug, slot_snap, slot]: [String; 4],
        connect: bool,
    ) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        for (what, v) in [
            ("the plug snap", &plug_snap),
            ("the plug", &plug),
            ("the slot snap", &slot_snap),
            ("the slot", &slot),
        ] {
            check_text(what, v)?;
        }
        let uid = self.authorize(hdr, polkit::MANAGE_INTERFACES).await?;
        let id = self
            .engine
            .connect((&plug_snap, &plug, &slot_snap, &slot), connect, uid)
            .map_err(to_dbus)?;
        self.served(id).await
    }
}

#[interface(name = "io.github.snapshelf.Helper1")]
impl Helper {
    async fn find(
        &self,
        query: String,
        options: Dict,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> Result<Vec<Dict>, snapshelf_dbus::Error> {
        check_text("the query", &query)?;
        let opts = FindOptions::parse(&options)?;
        if let Some(c) = &opts.category {
            check_text("the category", c)?;
        }
        let limit = opts.limit.unwrap_or(u32::MAX) as usize;
        let installed = self.installed_names();
        let found = self
            .engine
            .store()
            .find(&query, opts.category.as_deref())
            .await;
        self.note_store(&found, &emitter).await;
        match found {
            Ok(results) => Ok(results
                .iter()
                .map(|r| {
                    find_result_from_store(r, installed.contains(&str_at(r, "name").to_string()))
                        .to_dict()
                })
                .take(limit)
                .collect()),
            Err(crate::store::StoreError::Network { .. }) => {
                // Offline: search what is installed.
                let q = query.to_lowercase();
                Ok(self
                    .engine
                    .installed()
                    .map_err(to_dbus)?
                    .iter()
                    .filter(|s| {
                        s.name.contains(&q)
                            || s.title.to_lowercase().contains(&q)
                            || s.summary.to_lowercase().contains(&q)
                    })
                    .map(|s| {
                        let mut r = find_result_from_state(s);
                        // The store's icon URL cannot be fetched now; the installed one can.
                        if let Some(icon) = self.local_icon(s) {
                            r.icon_url = icon;
                        }
                        r.to_dict()
                    })
                    .take(limit)
                    .collect())
            }
            Err(e) => Err(to_dbus(e.into())),
        }
    }

    async fn info(
        &self,
        name: String,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> Result<Dict, snapshelf_dbus::Error> {
        check_text("the name", &name)?;
        let local = self.engine.snap(&name).map_err(to_dbus)?;
        let answer = self.engine.store().info(&name).await;
        self.note_store(&answer, &emitter).await;
        let store = match answer {
            Ok(v) => Some(v),
            Err(crate::store::StoreError::Network { .. })
            | Err(crate::store::StoreError::NotFound(_))
                if local.is_some() =>
            {
                None
            }
            Err(e) => return Err(to_dbus(e.into())),
        };
        let mut details = SnapDetails::default();
        if let Some(s) = &local {
            details.summary = find_result_from_state(s);
            details.extra.installed_revision = s.current.clone();
            details.extra.tracking_channel = s.tracking_channel.clone();
            details.extra.held = s.held;
            details.extra.revisions = s.sequence.iter().map(|r| r.revision.clone()).collect();
            details.extra.description = s.description.clone();
            details.extra.base = s.base.clone().unwrap_or_default();
            details.extra.apps = crate::engine::files::parse_yaml(s, &s.current)
                .map(|y| y.apps.keys().cloned().collect())
                .unwrap_or_default();
        }
        if let Some(info) = store {
            let snap = &info["snap"];
            let map = info["channel-map"].as_array().cloned().unwrap_or_default();
            let first = map.first().cloned().unwrap_or(Value::Null);
            let r = serde_json::json!({"name": info["name"], "snap": snap, "revision": {
                "version": first["version"], "confinement": first["confinement"],
                "download": first["download"], "channel": first["channel"]["name"]}});
            let fresh = find_result_from_store(&r, local.is_some());
            if local.is_none() {
                details.summary = fresh;
            } else {
                details.summary.categories = fresh.categories;
                details.summary.icon_url = fresh.icon_url;
            }
            details.extra.description = str_at(snap, "description").to_string();
            details.extra.website = str_at(snap, "website").to_string();
            details.extra.contact = str_at(snap, "contact").to_string();
            details.extra.screenshots = crate::store::media_urls(snap, "screenshot");
            if details.extra.base.is_empty() {
                details.extra.base = str_at(&first, "base").to_string();
            }
            if details.extra.apps.is_empty() {
                if let Ok(y) = snapshelf_snap::yaml::SnapYaml::parse(str_at(&first, "snap-yaml")) {
                    details.extra.apps = y.apps.keys().cloned().collect();
                }
            }
            details.extra.channels = map
                .iter()
                .map(|c| {
                    ChannelInfo {
                        channel: format!(
                            "{}/{}",
                            str_at(&c["channel"], "track"),
                            str_at(&c["channel"], "risk")
                        ),
                        version: str_at(c, "version").to_string(),
                        revision: c["revision"]
                            .as_u64()
                            .map(|r| r.to_string())
                            .unwrap_or_default(),
                        size: c["download"]["size"].as_u64().unwrap_or(0),
                        released_at: str_at(&c["channel"], "released-at").to_string(),
                    }
                    .to_dict()
                })
                .collect();
        }
        Ok(details.to_dict())
    }

    async fn list_installed(&self) -> Result<Vec<Dict>, snapshelf_dbus::Error> {
        let snaps = self.engine.installed().map_err(to_dbus)?;
        Ok(snaps.iter().map(|s| self.installed_dict(s)).collect())
    }

    async fn list_updates(
        &self,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> Result<Vec<Dict>, snapshelf_dbus::Error> {
        let snaps = self.engine.installed().map_err(to_dbus)?;
        let candidates: Vec<&SnapState> =
            snaps.iter().filter(|s| !s.is_local() && !s.held).collect();
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let context: Vec<crate::store::ContextEntry> = snaps
            .iter()
            .filter(|s| !s.is_local())
            .filter_map(|s| {
                Some(crate::store::ContextEntry {
                    snap_id: s.snap_id.clone(),
                    revision: s.current.parse().ok()?,
                    tracking_channel: s.tracking_channel.clone(),
                    held: s.held,
                })
            })
            .collect();
        let actions: Vec<crate::store::Action> = candidates
            .iter()
            .map(|s| crate::store::Action::Refresh {
                snap_id: s.snap_id.clone(),
                channel: None,
            })
            .collect();
        let answer = self.engine.store().snap_action(&context, &actions).await;
        self.note_store(&answer, &emitter).await;
        let results = match answer {
            Ok(r) => r,
            // Offline: nothing is known to be newer.
            Err(crate::store::StoreError::Network { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(to_dbus(e.into())),
        };
        let mut out = Vec::new();
        for r in results {
            if let crate::store::ActionResult::Ok {
                name,
                snap_id,
                effective_channel,
                snap,
            } = r
            {
                let Some(s) = candidates.iter().find(|s| s.snap_id == snap_id) else {
                    continue;
                };
                let rev = snap["revision"]
                    .as_u64()
                    .map(|r| r.to_string())
                    .unwrap_or_default();
                if rev == s.current || s.blocked.contains(&rev) {
                    continue;
                }
                out.push(
                    UpdateInfo {
                        name,
                        version: str_at(&snap, "version").to_string(),
                        revision: rev,
                        channel: effective_channel
                            .map(|c| crate::engine::plan::full_channel(&c))
                            .unwrap_or_else(|| s.tracking_channel.clone()),
                        download_size: snap["download"]["size"].as_u64().unwrap_or(0),
                    }
                    .to_dict(),
                );
            }
        }
        Ok(out)
    }

    async fn categories(
        &self,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> Result<Vec<String>, snapshelf_dbus::Error> {
        let answer = self.engine.store().categories().await;
        self.note_store(&answer, &emitter).await;
        match answer {
            Ok(c) => Ok(c),
            Err(crate::store::StoreError::Network { .. }) => Ok(Vec::new()),
            Err(e) => Err(to_dbus(e.into())),
        }
    }

    async fn connections(&self, name: String) -> Result<Vec<Dict>, snapshelf_dbus::Error> {
        check_text("the name", &name)?;
        let snaps = self.engine.installed().map_err(to_dbus)?;
        if !name.is_empty() && !snaps.iter().any(|s| s.name == name) {
            return Err(to_dbus(Error::new(
                ErrorKind::NotInstalled,
                format!("\"{name}\" is not installed"),
            )));
        }
        let mut out = Vec::new();
        for s in snaps.iter().filter(|s| name.is_empty() || s.name == name) {
            let Ok(y) = crate::engine::files::parse_yaml(s, &s.current) else {
                continue;
            };
            for (plug, interface) in y.all_plugs() {
                let label = crate::interfaces::label(&interface);
                let (connected, manual) = crate::interfaces::state_of(s, &plug, &interface);
                out.push(
                    ConnectionDict {
                        interface: interface.clone(),
                        plug_snap: s.name.clone(),
                        plug,
                        slot_snap: String::new(),
                        slot: interface,
                        connected,
                        manual,
                        label,
                        // Connected by the auto-connection policy, not by a person.
                        auto: connected && !manual,
                    }
                    .to_dict(),
                );
            }
        }
        Ok(out)
    }

    async fn list_changes(&self) -> Result<Vec<OwnedObjectPath>, snapshelf_dbus::Error> {
        Ok(self
            .engine
            .change_ids()
            .map_err(to_dbus)?
            .into_iter()
            .map(names::change_path)
            .collect())
    }

    /// Read-only: what a `.snap` is and whether its signatures are known, before installing it.
    async fn check_file(&self, fd: OwnedFd) -> Result<Dict, snapshelf_dbus::Error> {
        let file = regular_file(fd)?;
        let c = self.engine.check_file(file).await.map_err(to_dbus)?;
        Ok(snapshelf_dbus::types::FileCheck {
            name: c.name,
            title: c.title,
            summary: c.summary,
            version: c.version,
            confinement: c.confinement,
            base: c.base,
            apps: c.apps,
            plugs: c.plugs,
            size: c.size,
            signed: c.signed,
            revision: c.revision,
            installed_revision: c.installed_revision,
        }
        .to_dict())
    }

    async fn interfaces(&self) -> Result<Vec<Dict>, snapshelf_dbus::Error> {
        Ok(crate::interfaces::INTERFACES
            .iter()
            .map(|(name, _)| {
                InterfaceInfo {
                    name: name.to_string(),
                    summary: crate::interfaces::summary(name),
                    label: crate::interfaces::label(name),
                    auto_connect: crate::interfaces::auto_connects(name),
                }
                .to_dict()
            })
            .collect())
    }

    async fn install(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        names: Vec<String>,
        options: Dict,
    ) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        check_names(&names)?;
        let o = InstallOptions::parse(&options)?;
        let uid = self.authorize(&hdr, polkit::INSTALL).await?;
        let id = self
            .engine
            .install(
                &names,
                o.channel.as_deref(),
                o.revision.as_deref(),
                o.classic,
                uid,
            )
            .await
            .map_err(to_dbus)?;
        self.served(id).await
    }

    async fn install_file(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        fd: OwnedFd,
        options: Dict,
    ) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        let o = InstallFileOptions::parse(&options)?;
        let unsigned = o.unsigned.unwrap_or(false);
        let action = if unsigned {
            polkit::INSTALL_UNSIGNED
        } else {
            polkit::INSTALL
        };
        let uid = self.authorize(&hdr, action).await?;
        let file = regular_file(fd)?;
        let id = self
            .engine
            .install_file(file, unsigned, uid)
            .await
            .map_err(to_dbus)?;
        self.served(id).await
    }

    async fn remove(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        names: Vec<String>,
        options: Dict,
    ) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        check_names(&names)?;
        let o = RemoveOptions::parse(&options)?;
        let uid = self.authorize(&hdr, polkit::REMOVE).await?;
        let id = self
            .engine
            .remove(&names, o.purge.unwrap_or(false), uid)
            .map_err(to_dbus)?;
        self.served(id).await
    }

    async fn refresh(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        names: Vec<String>,
        options: Dict,
    ) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        check_names(&names)?;
        let o = RefreshOptions::parse(&options)?;
        let uid = self.authorize(&hdr, polkit::REFRESH).await?;
        let id = self
            .engine
            .refresh(&names, o.channel.as_deref(), uid)
            .await
            .map_err(to_dbus)?;
        self.served(id).await
    }

    async fn revert(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        name: String,
        options: Dict,
    ) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        check_text("the name", &name)?;
        let o = RevertOptions::parse(&options)?;
        let uid = self.authorize(&hdr, polkit::REVERT).await?;
        let id = self
            .engine
            .revert(&name, o.revision.as_deref(), uid)
            .map_err(to_dbus)?;
        self.served(id).await
    }

    async fn switch(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        name: String,
        channel: String,
    ) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        check_text("the name", &name)?;
        check_text("the channel", &channel)?;
        let uid = self.authorize(&hdr, polkit::REFRESH).await?;
        let id = self
            .engine
            .switch(&name, &channel, uid)
            .await
            .map_err(to_dbus)?;
        self.served(id).await
    }

    async fn connect(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        plug_snap: String,
        plug: String,
        slot_snap: String,
        slot: String,
    ) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        self.connection_change(&hdr, [plug_snap, plug, slot_snap, slot], true)
            .await
    }

    async fn disconnect(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        plug_snap: String,
        plug: String,
        slot_snap: String,
        slot: String,
    ) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        self.connection_change(&hdr, [plug_snap, plug, slot_snap, slot], false)
            .await
    }

    async fn hold(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        names: Vec<String>,
        hold: bool,
    ) -> Result<(), snapshelf_dbus::Error> {
        check_names(&names)?;
        if names.is_empty() {
            return Err(to_dbus(Error::invalid("no snap named")));
        }
        for n in &names {
            snapshelf_snap::naming::validate_snap_name(n)
                .map_err(|e| to_dbus(Error::invalid(e.to_string())))?;
        }
        self.authorize(&hdr, polkit::REFRESH).await?;
        self.engine.hold(&names, hold).map_err(to_dbus)
    }

    #[zbus(signal)]
    async fn change_added(emitter: &SignalEmitter<'_>, change: OwnedObjectPath)
        -> zbus::Result<()>;

    #[zbus(signal)]
    async fn snaps_changed(emitter: &SignalEmitter<'_>, names: Vec<String>) -> zbus::Result<()>;

    #[zbus(property)]
    async fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    #[zbus(property)]
    async fn store_url(&self) -> String {
        self.store_url.clone()
    }

    #[zbus(property)]
    async fn architecture(&self) -> String {
        crate::store::dpkg_architecture().to_string()
    }

    #[zbus(property)]
    async fn store_reachable(&self) -> bool {
        self.reachable.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The caller's descriptor as a regular file, read from its start whatever the caller's offset.
fn regular_file(fd: OwnedFd) -> Result<std::fs::File, snapshelf_dbus::Error> {
    let raw: std::os::fd::OwnedFd = fd.into();
    let file = std::fs::File::from(raw);
    let meta = file.metadata().map_err(|e| {
        to_dbus(Error::invalid(format!(
            "cannot read the file descriptor: {e}"
        )))
    })?;
    if !meta.is_file() {
        return Err(to_dbus(Error::invalid(
            "the file descriptor is not a regular file",
        )));
    }
    let _ = nix_lseek0(file.as_raw_fd());
    Ok(file)
}

fn nix_lseek0(fd: i32) -> i64 {
    // SAFETY: lseek on a descriptor we own; no memory is involved.
    unsafe { libc::lseek(fd, 0, libc::SEEK_SET) }
}

struct ChangeObject {
    engine: Engine,
    authority: Arc<Authority>,
    id: u64,
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
    async fn finished(
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

/// Turns engine events into objects and signals; progress is announced at most ten times a second.
struct BusObserver {
    conn: zbus::Connection,
    engine: Engine,
    authority: Arc<Authority>,
    dirty: Mutex<HashMap<u64, bool>>,
}

impl BusObserver {
    async fn serve_change(&self, id: u64) {
        let obj = ChangeObject {
            engine: self.engine.clone(),
            authority: self.authority.clone(),
            id,
        };
        if let Err(e) = self
            .conn
            .object_server()
            .at(names::change_path(id), obj)
            .await
        {
            tracing::error!(change = id, error = %e, "cannot serve a change object");
        }
    }

    async fn emit_progress(conn: &zbus::Connection, id: u64) {
        let Ok(iface) = conn
            .object_server()
            .interface::<_, ChangeObject>(names::change_path(id))
            .await
        else {
            return;
        };
        let e = iface.signal_emitter();
        let obj = iface.get().await;
        let _ = obj.status_changed(e).await;
        let _ = obj.progress_changed(e).await;
        let _ = obj.progress_label_changed(e).await;
        let _ = obj.bytes_done_changed(e).await;
        let _ = obj.bytes_total_changed(e).await;
        let _ = obj.tasks_changed(e).await;
        let _ = obj.allow_cancel_changed(e).await;
    }
}

impl Observer for Arc<BusObserver> {
    fn change_added(&self, id: u64) {
        let me = self.clone();
        self.dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, false);
        tokio::spawn(async move {
            me.serve_change(id).await;
            if let Ok(emitter) = SignalEmitter::new(&me.conn, names::PATH) {
                let _ = Helper::change_added(&emitter, names::change_path(id)).await;
            }
            // Coalesce progress: at most one PropertiesChanged burst every 100 ms.
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let flag = me
                    .dirty
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&id)
                    .copied();
                match flag {
                    None => break,
                    Some(true) => {
                        me.dirty
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(id, false);
                        BusObserver::emit_progress(&me.conn, id).await;
                    }
                    Some(false) => {}
                }
            }
        });
    }

    fn change_updated(&self, id: u64) {
        if let Some(d) = self
            .dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&id)
        {
            *d = true;
        }
    }

    fn change_finished(&self, id: u64) {
        self.dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        let me = self.clone();
        tokio::spawn(async move {
            BusObserver::emit_progress(&me.conn, id).await;
            if let Ok(iface) = me
                .conn
                .object_server()
                .interface::<_, ChangeObject>(names::change_path(id))
                .await
            {
                let obj = iface.get().await;
                let _ = obj.ready_changed(iface.signal_emitter()).await;
                let _ = obj.error_kind_changed(iface.signal_emitter()).await;
                let _ = obj.error_changed(iface.signal_emitter()).await;
                let _ = obj.ready_time_changed(iface.signal_emitter()).await;
                if let Ok(Some(v)) = me.engine.change(id) {
                    let _ = ChangeObject::finished(
                        iface.signal_emitter(),
                        v.row.status.as_str(),
                        &v.row.error_kind,
                        &v.row.error,
                    )
                    .await;
                }
            }
        });
    }

    fn snaps_changed(&self, names: Vec<String>) {
        let conn = self.conn.clone();
        tokio::spawn(async move {
            if let Ok(emitter) = SignalEmitter::new(&conn, names::PATH) {
                let _ = Helper::snaps_changed(&emitter, names).await;
            }
        });
    }
}

/// Refuse a root that another Snapshelf helper or snapd manages.
fn claim_root(paths: &Paths) -> anyhow::Result<std::fs::File> {
    if paths.root() == std::path::Path::new("/")
        && std::path::Path::new("/run/snapd.socket").exists()
    {
        anyhow::bail!("snapd is running on this system (/run/snapd.socket): two snap systems cannot manage one root");
    }
    if paths.snapd_state().exists() {
        anyhow::bail!(
            "snapd manages {} ({} exists): two snap systems cannot manage one root",
            paths.root().display(),
            paths.snapd_state().display()
        );
    }
    std::fs::create_dir_all(paths.state_dir())?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(paths.lock_file())
        .with_context(|| format!("cannot open {}", paths.lock_file().display()))?;
    // SAFETY: flock on a descriptor we own.
    let r = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r != 0 {
        anyhow::bail!(
            "another snapshelf-helper already manages {}",
            paths.root().display()
        );
    }
    Ok(lock)
}

/// Start the helper: claim the root, settle interrupted changes, then serve and take the name.
/// Give freed memory back to the system once the bus has been quiet for a second: a helper that
/// answered a hundred ListInstalled calls keeps no heap for them. No timer runs while nothing
/// happens; the stream only wakes this task when a message arrives.
async fn trim_when_quiet(mut messages: zbus::MessageStream) {
    use futures_util::StreamExt;
    let mut dirty = false;
    loop {
        let next = if dirty {
            match tokio::time::timeout(Duration::from_secs(1), messages.next()).await {
                Ok(m) => m,
                Err(_) => {
                    // SAFETY: malloc_trim only walks the allocator's own free lists.
                    unsafe {
                        libc::malloc_trim(0);
                    }
                    dirty = false;
                    continue;
                }
            }
        } else {
            messages.next().await
        };
        match next {
            Some(_) => dirty = true,
            None => return,
        }
    }
}

pub async fn start(o: Options) -> anyhow::Result<Running> {
    let root = o
        .root
        .canonicalize()
        .with_context(|| format!("root {} does not exist", o.root.display()))?;
    let paths = Paths::new(&root);
    let lock = claim_root(&paths)?;
    let mut config = Config::load(&paths.config_file())?;
    if let Some(url) = o.store_url {
        config.store_url = url;
    }
    let mut trusted = snapshelf_snap::assert::canonical_trusted();
    for f in config.trusted.iter().chain(o.trust.iter()) {
        let bytes = std::fs::read(f)
            .with_context(|| format!("cannot read trusted keys {}", f.display()))?;
        let list = snapshelf_snap::assert::decode_stream(&bytes)
            .with_context(|| format!("{}", f.display()))?;
        trusted.extend(list);
    }
    snapshelf_snap::assert::Database::new(trusted.clone())
        .context("the trusted keys do not verify")?;
    let store = StoreClient::new(&config.store_url)?;
    let store_url = config.store_url.clone();
    let launcher = Launcher {
        confine: o.confine,
        root: (root != std::path::Path::new("/")).then(|| root.clone()),
    };
    let engine = Engine::open(EngineConfig {
        paths,
        config,
        store,
        trusted,
        launcher,
        allow_loop: o.allow_loop,
    })
    .await
    .context("cannot recover the state")?;

    let builder = match &o.bus_address {
        Some(a) => zbus::connection::Builder::address(a.as_str())?,
        None => zbus::connection::Builder::system()?,
    };
    let conn = builder.build().await.context("cannot connect to the bus")?;
    let authority = Arc::new(
        Authority::new(&conn)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let helper = Helper {
        engine: engine.clone(),
        authority: authority.clone(),
        store_url,
        conn: conn.clone(),
        apps: Default::default(),
        reachable: std::sync::atomic::AtomicBool::new(true),
    };
    conn.object_server().at(names::PATH, helper).await?;
    let observer = Arc::new(BusObserver {
        conn: conn.clone(),
        engine: engine.clone(),
        authority: authority.clone(),
        dirty: Mutex::new(HashMap::new()),
    });
    for id in engine.change_ids()? {
        observer.serve_change(id).await;
    }
    engine.set_observer(Arc::new(observer));
    tokio::spawn(trim_when_quiet(zbus::MessageStream::from(&conn)));
    conn.request_name_with_flags(
        names::SERVICE,
        zbus::fdo::RequestNameFlags::DoNotQueue.into(),
    )
    .await
    .context("cannot own io.github.snapshelf.Helper1 (is another helper running on this bus?)")?;
    tracing::info!(root = %root.display(), "snapshelf-helper ready");
    Ok(Running {
        connection: conn,
        _lock: lock,
    })
}
