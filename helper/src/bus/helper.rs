//! `io.github.snapshelf.Helper1`. Each method checks the words it is given, asks polkit when it
//! changes something, calls the engine and maps its error: what to do is the engine's business.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use snapshelf_dbus::names;
use snapshelf_dbus::types::{
    Connection as ConnectionDict, Dict, FindOptions, InstallFileOptions, InstallOptions,
    InstalledSnap, InterfaceInfo, RefreshOptions, RemoveOptions, RevertOptions,
};
use snapshelf_dbus::types::{RestartServicesOptions, StartServicesOptions, StopServicesOptions};
use zbus::interface;
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedFd, OwnedObjectPath};

use super::change::ChangeObject;
use super::{check_names, check_text, convert, to_dbus};
use crate::engine::catalog::{self, Answer};
use crate::engine::task::service_control::ServiceOp;
use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result as EngineResult};
use crate::polkit::{self, Authority};
use crate::state::SnapState;

pub(super) struct Helper {
    engine: Engine,
    authority: Arc<Authority>,
    store_url: String,
    conn: zbus::Connection,
    /// The apps of each (snap, revision): a revision's snap.yaml never changes, and parsing it for
    /// every ListInstalled would be most of the call's time.
    apps: Mutex<HashMap<(String, String), Vec<String>>>,
    /// Whether the store answered the last read that needed it (`StoreReachable`).
    reachable: AtomicBool,
    /// Each connection's language (`SetLocale`), read by `bus/locale.rs`'s wrapper.
    pub(super) locales: Arc<super::locale::Locales>,
}

impl Helper {
    pub(super) fn new(
        engine: Engine,
        authority: Arc<Authority>,
        store_url: String,
        conn: zbus::Connection,
    ) -> Helper {
        let locales = super::locale::Locales::new(&conn);
        Helper {
            engine,
            authority,
            store_url,
            conn,
            apps: Mutex::default(),
            reachable: AtomicBool::new(true),
            locales,
        }
    }

    fn installed_dict(&self, s: &SnapState) -> Dict {
        let rev = s.current_revision();
        let key = (s.name.clone(), s.current.clone());
        let cached = self.apps.lock().ok().and_then(|m| m.get(&key).cloned());
        let apps = cached.unwrap_or_else(|| {
            let a = catalog::apps_of(s);
            if let Ok(mut m) = self.apps.lock() {
                if m.len() > 4096 {
                    m.clear();
                }
                m.insert(key, a.clone());
            }
            a
        });
        let mut d = InstalledSnap {
            name: s.name.clone(),
            title: s.title.clone(),
            summary: s.summary.clone(),
            version: rev.map(|r| r.version.clone()).unwrap_or_default(),
            revision: s.current.clone(),
            channel: s.tracking_channel.clone(),
            confinement: s.confinement.clone(),
            apps,
            icon_path: self.engine.local_icon(s).unwrap_or_default(),
            installed_size: s.sequence.iter().map(|r| r.size).sum(),
            revisions: s.sequence.iter().map(|r| r.revision.clone()).collect(),
            held: s.held,
        }
        .to_dict();
        super::health::add(&self.engine, &s.name, &mut d);
        d
    }

    /// Record whether the store answered (anything but a network failure is an answer), and tell
    /// clients when that changes: they say "offline" rather than "up to date". The answer's value.
    async fn note_store<T>(
        &self,
        answer: EngineResult<Answer<T>>,
        emitter: &SignalEmitter<'_>,
    ) -> Result<T, snapshelf_dbus::Error> {
        let reachable = match &answer {
            Ok(a) => a.store_reachable,
            Err(e) => e.kind != ErrorKind::NetworkError,
        };
        if self.reachable.swap(reachable, Ordering::Relaxed) != reachable {
            if let Err(e) = self.store_reachable_changed(emitter).await {
                tracing::warn!(error = %e, "cannot signal StoreReachable");
            }
        }
        answer.map(|a| a.value).map_err(to_dbus)
    }

    /// Serve a new change's object before its path is returned: a caller may ask for it at once.
    async fn served(
        &self,
        id: EngineResult<u64>,
    ) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        let id = id.map_err(to_dbus)?;
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
            .connect((&plug_snap, &plug, &slot_snap, &slot), connect, uid);
        self.served(id).await
    }

    /// StartServices, StopServices, RestartServices: check the words, ask polkit, then the engine.
    async fn service_change(
        &self,
        hdr: &Header<'_>,
        services: Vec<String>,
        op: ServiceOp,
        flag: bool,
    ) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        for s in &services {
            check_text("the service", s)?;
        }
        let uid = self.authorize(hdr, polkit::MANAGE_SERVICES).await?;
        let id = self.engine.control_services(&services, op, flag, uid);
        self.served(id).await
    }

    /// Every plug of `name` (every installed snap when empty) with its state.
    fn connection_dicts(&self, name: &str) -> EngineResult<Vec<Dict>> {
        let snaps = self.engine.installed()?;
        if !name.is_empty() && !snaps.iter().any(|s| s.name == name) {
            return Err(crate::engine::not_installed(name));
        }
        let mut out = Vec::new();
        for s in snaps.iter().filter(|s| name.is_empty() || s.name == name) {
            let Ok(y) = crate::engine::files::parse_yaml(s, &s.current) else {
                continue;
            };
            for (plug, interface) in y.all_plugs() {
                if interface == "content" {
                    out.push(content_row(s, &y, plug));
                    continue;
                }
                if interface == "dbus" {
                    out.push(dbus_row(s, plug, Some((&y, &snaps))));
                    continue;
                }
                let (connected, manual) = crate::interfaces::state_of(s, &plug, &interface);
                let d = ConnectionDict {
                    label: crate::interfaces::label(&interface),
                    interface: interface.clone(),
                    plug_snap: s.name.clone(),
                    plug,
                    slot_snap: String::new(),
                    slot: interface,
                    connected,
                    manual,
                    // Connected by the auto-connection policy, not by a person.
                    auto: connected && !manual,
                };
                out.push(d.to_dict());
            }
        }
        // A snap's dbus slots are listed too, as the plugs of other snaps connected to them.
        if !name.is_empty() {
            for s in snaps.iter().filter(|s| s.name != name) {
                for (plug, _) in s.dbus.iter().filter(|(_, to)| to.snap == name) {
                    out.push(dbus_row(s, plug.clone(), None));
                }
            }
        }
        Ok(out)
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
        let answer = self
            .engine
            .find(&query, opts.category.as_deref(), limit)
            .await;
        let found = self.note_store(answer, &emitter).await?;
        Ok(found
            .into_iter()
            .map(|l| convert::find_result(l).to_dict())
            .collect())
    }

    async fn info(
        &self,
        name: String,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> Result<Dict, snapshelf_dbus::Error> {
        check_text("the name", &name)?;
        let answer = self.engine.info(&name).await;
        let details = self.note_store(answer, &emitter).await?;
        let mut d = convert::snap_details(details).to_dict();
        super::health::add(&self.engine, &name, &mut d);
        Ok(d)
    }

    async fn list_installed(&self) -> Result<Vec<Dict>, snapshelf_dbus::Error> {
        let snaps = self.engine.installed().map_err(to_dbus)?;
        Ok(snaps.iter().map(|s| self.installed_dict(s)).collect())
    }

    async fn list_updates(
        &self,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> Result<Vec<Dict>, snapshelf_dbus::Error> {
        let answer = self.engine.updates().await;
        let updates = self.note_store(answer, &emitter).await?;
        Ok(updates
            .into_iter()
            .map(|u| convert::update_info(u).to_dict())
            .collect())
    }

    async fn running_apps(&self, name: String) -> Result<Vec<String>, snapshelf_dbus::Error> {
        check_text("the name", &name)?;
        crate::running::running_apps(self.engine.paths(), &name).map_err(to_dbus)
    }

    async fn pending_refreshes(&self) -> Result<Vec<Dict>, snapshelf_dbus::Error> {
        let pending = self.engine.pending_refreshes().map_err(to_dbus)?;
        Ok(pending
            .into_iter()
            .map(|p| {
                snapshelf_dbus::types::PendingRefresh {
                    name: p.name,
                    apps: p.apps,
                    since: p.since,
                    remaining: p.remaining,
                }
                .to_dict()
            })
            .collect())
    }

    async fn categories(
        &self,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> Result<Vec<String>, snapshelf_dbus::Error> {
        let answer = self.engine.categories().await;
        self.note_store(answer, &emitter).await
    }

    async fn connections(&self, name: String) -> Result<Vec<Dict>, snapshelf_dbus::Error> {
        check_text("the name", &name)?;
        self.connection_dicts(&name).map_err(to_dbus)
    }

    async fn list_changes(&self) -> Result<Vec<OwnedObjectPath>, snapshelf_dbus::Error> {
        let ids = self.engine.change_ids().map_err(to_dbus)?;
        Ok(ids.into_iter().map(names::change_path).collect())
    }

    /// Read-only: what a `.snap` is and whether its signatures are known, before installing it.
    async fn check_file(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        fd: OwnedFd,
    ) -> Result<Dict, snapshelf_dbus::Error> {
        self.authorize(&hdr, polkit::CHECK_FILE).await?;
        let file = convert::regular_file(fd)?;
        let check = self.engine.check_file(file).await.map_err(to_dbus)?;
        Ok(convert::file_check(check).to_dict())
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
        let (channel, revision) = (o.channel.as_deref(), o.revision.as_deref());
        let id = self
            .engine
            .install(&names, channel, revision, o.classic, uid)
            .await;
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
        let classic = o.classic.unwrap_or(false);
        // A file without a sandbox asks for as much trust as one without signatures.
        let action = if unsigned || classic {
            polkit::INSTALL_UNSIGNED
        } else {
            polkit::INSTALL
        };
        let uid = self.authorize(&hdr, action).await?;
        let file = convert::regular_file(fd)?;
        let id = self.engine.install_file(file, unsigned, classic, uid).await;
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
        let id = self.engine.remove(
            &names,
            (
                o.purge.unwrap_or(false),
                o.disconnect_users.unwrap_or(false),
            ),
            uid,
        );
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
            .refresh(
                &names,
                o.channel.as_deref(),
                o.classic,
                (o.download_only, o.background),
                crate::engine::plan::refresh_running::Running {
                    auto: o.auto,
                    ignore: o.ignore_running,
                },
                uid,
            )
            .await;
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
        let id = self.engine.revert(&name, o.revision.as_deref(), uid);
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
        let id = self.engine.switch(&name, &channel, uid).await;
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

    /// A snap's configuration: the values of `keys` as a JSON object (DESIGN.md §11).
    async fn get_config(
        &self,
        name: String,
        keys: Vec<String>,
    ) -> Result<String, snapshelf_dbus::Error> {
        check_text("the snap name", &name)?;
        if keys.len() > 256 {
            return Err(to_dbus(Error::invalid(crate::lang::gettext(
                "at most 256 keys in one call",
            ))));
        }
        for k in &keys {
            check_text("a configuration key", k)?;
        }
        let engine = self.engine.clone();
        // The blocking thread answers in the caller's language too.
        let lang = crate::lang::current();
        tokio::task::spawn_blocking(move || lang.enter(|| engine.get_config(&name, &keys)))
            .await
            .map_err(|e| to_dbus(Error::internal(e)))?
            .map_err(to_dbus)
    }

    /// Change a snap's configuration through its configure hook: a `configure` change.
    async fn set_config(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        name: String,
        patch: String,
    ) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        check_text("the snap name", &name)?;
        let uid = self.authorize(&hdr, polkit::CONFIGURE).await?;
        let id = self.engine.set_config(&name, &patch, uid);
        self.served(id).await
    }

    /// Reset to Defaults: every choice a person made for `name`'s plugs forgotten, one change.
    async fn reset_connections(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        name: String,
    ) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        check_text("the name", &name)?;
        let uid = self.authorize(&hdr, polkit::MANAGE_INTERFACES).await?;
        let id = self.engine.reset_connections(&name, uid);
        self.served(id).await
    }

    async fn hold(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        names: Vec<String>,
        hold: bool,
    ) -> Result<(), snapshelf_dbus::Error> {
        check_names(&names)?;
        if names.is_empty() {
            return Err(to_dbus(Error::invalid(crate::lang::gettext(
                "no snap named",
            ))));
        }
        for n in &names {
            snapshelf_snap::naming::validate_snap_name(n)
                .map_err(|e| to_dbus(crate::engine::plan::invalid_name(n, &e.to_string())))?;
        }
        self.authorize(&hdr, polkit::REFRESH).await?;
        self.engine.hold(&names, hold).map_err(to_dbus)
    }

    async fn aliases(&self) -> Result<Vec<Dict>, snapshelf_dbus::Error> {
        let rows = self.engine.aliases().map_err(to_dbus)?;
        Ok(rows
            .into_iter()
            .map(|r| {
                snapshelf_dbus::types::AliasInfo {
                    snap: r.snap,
                    app: r.app,
                    alias: r.alias,
                    auto: r.auto,
                }
                .to_dict()
            })
            .collect())
    }

    async fn alias(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        snap_app: String,
        alias: String,
    ) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        check_text("the app", &snap_app)?;
        check_text("the alias", &alias)?;
        let uid = self.authorize(&hdr, polkit::MANAGE_ALIASES).await?;
        let id = self.engine.alias(&snap_app, &alias, uid);
        self.served(id).await
    }

    async fn unalias(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        alias: String,
    ) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        check_text("the alias", &alias)?;
        let uid = self.authorize(&hdr, polkit::MANAGE_ALIASES).await?;
        let id = self.engine.unalias(&alias, uid);
        self.served(id).await
    }

    async fn services(&self, name: String) -> Result<Vec<Dict>, snapshelf_dbus::Error> {
        check_text("the name", &name)?;
        let list = self.engine.services(&name).await.map_err(to_dbus)?;
        Ok(list
            .into_iter()
            .map(|s| convert::service(s).to_dict())
            .collect())
    }

    async fn start_services(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        services: Vec<String>,
        options: Dict,
    ) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        let o = StartServicesOptions::parse(&options)?;

        let flag = o.enable.unwrap_or(false);
        self.service_change(&hdr, services, ServiceOp::Start, flag)
            .await
    }

    async fn stop_services(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        services: Vec<String>,
        options: Dict,
    ) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        let o = StopServicesOptions::parse(&options)?;

        let flag = o.disable.unwrap_or(false);
        self.service_change(&hdr, services, ServiceOp::Stop, flag)
            .await
    }

    async fn restart_services(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        services: Vec<String>,
        options: Dict,
    ) -> Result<OwnedObjectPath, snapshelf_dbus::Error> {
        let o = RestartServicesOptions::parse(&options)?;

        let flag = o.reload.unwrap_or(false);
        self.service_change(&hdr, services, ServiceOp::Restart, flag)
            .await
    }

    /// The language of every summary and error this connection gets from now on (an options
    /// `locale` still wins for its call); forgotten when the connection leaves the bus.
    async fn set_locale(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        locale: String,
    ) -> Result<(), snapshelf_dbus::Error> {
        let lang = crate::lang::Lang::of(&locale).map_err(to_dbus)?;
        let sender = hdr.sender().ok_or_else(|| {
            to_dbus(Error::invalid(crate::lang::gettext(
                "SetLocale needs a caller on a message bus",
            )))
        })?;
        self.locales.set(sender.as_str(), lang);
        Ok(())
    }

    #[zbus(signal)]
    pub(super) async fn change_added(
        emitter: &SignalEmitter<'_>,
        change: OwnedObjectPath,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    pub(super) async fn snaps_changed(
        emitter: &SignalEmitter<'_>,
        names: Vec<String>,
    ) -> zbus::Result<()>;

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
        self.reachable.load(Ordering::Relaxed)
    }
}

/// A `dbus` plug's row of `Connections`: the snap and slot it is connected to. Only a person
/// connects it (snapd's base declaration denies auto-connection).
/// A `dbus` plug's row of `Connections`: the slot it is connected to; when it is not, the one
/// installed snap's slot it could connect to (same bus and name), so that the app's switch has a
/// slot to name; none (or several) leaves the slot empty. The plug's own rows add `slots`, every
/// such slot as `snap:slot`, so that a person can pick one when several snaps offer the service
/// (snapd's `snap connect plug snap:slot`).
fn dbus_row(
    s: &crate::state::SnapState,
    plug: String,
    candidates: Option<(&snapshelf_snap::yaml::SnapYaml, &[crate::state::SnapState])>,
) -> Dict {
    let link = s.dbus.get(&plug);
    let offered = candidates.map(|(y, snaps)| dbus_candidates(s, y, &plug, snaps));
    let (slot_snap, slot) = match (link, offered.as_deref()) {
        (Some(l), _) => (l.snap.clone(), l.slot.clone()),
        (None, Some([only])) => only.clone(),
        (None, _) => Default::default(),
    };
    let mut d = ConnectionDict {
        label: crate::interfaces::label("dbus"),
        interface: "dbus".into(),
        plug_snap: s.name.clone(),
        plug,
        slot_snap,
        slot,
        connected: link.is_some(),
        manual: link.is_some(),
        auto: false,
    }
    .to_dict();
    if let Some(offered) = offered {
        let names: Vec<String> = offered.iter().map(|(o, s)| format!("{o}:{s}")).collect();
        d.insert(
            "slots".into(),
            snapshelf_dbus::types::DictValue::to_value(&names),
        );
    }
    d
}

/// The `dbus` slots among the other installed snaps that `plug` of `s` matches (same bus and
/// name), as (snap, slot), in the snaps' order.
fn dbus_candidates(
    s: &crate::state::SnapState,
    y: &snapshelf_snap::yaml::SnapYaml,
    plug: &str,
    snaps: &[crate::state::SnapState],
) -> Vec<(String, String)> {
    let Some(p) = y.plugs.get(plug) else {
        return Vec::new();
    };
    let Ok((bus, name)) = crate::dbus_iface::attrs(&format!("plugs.{plug}"), p) else {
        return Vec::new();
    };
    snaps
        .iter()
        .filter(|o| o.name != s.name)
        .flat_map(|o| {
            let oy = crate::engine::files::parse_yaml(o, &o.current).ok();
            oy.map(|oy| crate::dbus_iface::matching_slots(&oy, (bus, &name)))
                .unwrap_or_default()
                .into_iter()
                .map(|slot| (o.name.clone(), slot))
        })
        .collect()
}

/// A content plug's row of `Connections`: the providing snap and slot when connected, and the
/// plug's `content` tag and `target` (DESIGN.md §11).
fn content_row(
    s: &crate::state::SnapState,
    y: &snapshelf_snap::yaml::SnapYaml,
    plug: String,
) -> Dict {
    let checked = crate::engine::content::plug_of(y, &plug).and_then(|p| p.ok());
    let link = s.content.get(&plug);
    let manual = crate::interfaces::choice(s, &plug, "content").is_some();
    let mut d = ConnectionDict {
        label: crate::interfaces::label("content"),
        interface: "content".into(),
        plug_snap: s.name.clone(),
        plug,
        slot_snap: link.map(|l| l.snap.clone()).unwrap_or_default(),
        slot: link.map(|l| l.slot.clone()).unwrap_or_default(),
        connected: link.is_some(),
        manual,
        auto: link.is_some() && !manual,
    }
    .to_dict();
    let (content, target) = checked.map(|p| (p.content, p.target)).unwrap_or_default();
    d.insert(
        "content".into(),
        snapshelf_dbus::types::DictValue::to_value(&content),
    );
    d.insert(
        "target".into(),
        snapshelf_dbus::types::DictValue::to_value(&target),
    );
    d
}
