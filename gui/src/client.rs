//! The app's side of the D-Bus API: typed, async calls over the `snapshelf-dbus` proxies. Nothing
//! else in the app knows the wire; every call runs on Relm4's tokio runtime, off the main thread.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::OnceLock;

use futures_util::StreamExt;
use snapshelf_dbus::proxy::{Change1Proxy, Helper1Proxy};
use snapshelf_dbus::types::{
    ChannelInfo, Connection as Plug, FindResult, InstalledSnap, SnapDetails, UpdateInfo,
};
use snapshelf_dbus::{Dict, ErrorKind};
use tokio::sync::OnceCell;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

/// Why a call failed: a kind of the contract, or the helper could not be reached at all.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// `None`: no helper answered (not installed, not running, no bus).
    pub kind: Option<ErrorKind>,
    pub message: String,
}

impl Failure {
    pub fn of(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            kind: Some(kind),
            message: message.into(),
        }
    }

    fn unreachable(e: impl std::fmt::Display) -> Failure {
        Failure {
            kind: None,
            message: e.to_string(),
        }
    }

    fn from_zbus(e: zbus::Error) -> Failure {
        let (kind, message) = snapshelf_dbus::error::classify(&e);
        let ours =
            matches!(&e, zbus::Error::MethodError(n, ..) if n.starts_with("io.github.snapshelf."));
        if kind == ErrorKind::Internal && !ours {
            return Failure::unreachable(e);
        }
        Failure::of(kind, message)
    }

    fn bad_answer(e: snapshelf_dbus::Error) -> Failure {
        Failure::of(ErrorKind::Internal, e.message())
    }

    /// A dismissed polkit prompt: the person said no, which is not an error to show.
    pub fn is_dismissal(&self) -> bool {
        self.kind == Some(ErrorKind::AuthCancelled)
    }
}

pub type Res<T> = Result<T, Failure>;

static ADDRESS: OnceLock<Option<String>> = OnceLock::new();
static CONN: OnceCell<zbus::Connection> = OnceCell::const_new();

/// Use this bus instead of the system bus (`--bus-address`; tests and the demo). Call before any
/// other function here.
pub fn set_bus_address(address: Option<String>) {
    let _ = ADDRESS.set(address);
}

async fn connection() -> Res<&'static zbus::Connection> {
    CONN.get_or_try_init(|| async {
        let conn = match ADDRESS.get().cloned().flatten() {
            Some(a) => {
                zbus::connection::Builder::address(a.as_str())
                    .map_err(Failure::unreachable)?
                    .build()
                    .await
            }
            None => zbus::Connection::system().await,
        }
        .map_err(Failure::unreachable)?;
        set_locale(&conn).await;
        Ok(conn)
    })
    .await
}

/// Ask the helper for its summaries and errors in the person's language. Without it (a helper
/// that has no such method, a locale it refuses) its words come in its own: the app still works.
async fn set_locale(conn: &zbus::Connection) {
    let Some(locale) = snapshelf_i18n::messages_locale() else {
        return;
    };
    let set = async { Helper1Proxy::new(conn).await?.set_locale(&locale).await };
    if let Err(e) = set.await {
        tracing::warn!(%locale, error = %e, "the helper keeps its own language");
    }
}

async fn helper() -> Res<Helper1Proxy<'static>> {
    Helper1Proxy::new(connection().await?)
        .await
        .map_err(Failure::from_zbus)
}

fn opt(d: &mut Dict, key: &str, v: impl Into<Value<'static>>) {
    if let Ok(v) = OwnedValue::try_from(v.into()) {
        d.insert(key.to_string(), v);
    }
}

fn typed<T>(list: Vec<Dict>, f: impl Fn(&Dict) -> Result<T, snapshelf_dbus::Error>) -> Res<Vec<T>> {
    list.iter()
        .map(|d| f(d).map_err(Failure::bad_answer))
        .collect()
}

pub async fn find(query: &str, category: Option<&str>, limit: u32) -> Res<Vec<FindResult>> {
    let mut o = Dict::new();
    if let Some(c) = category {
        opt(&mut o, "category", c.to_string());
    }
    opt(&mut o, "limit", limit);
    let list = helper()
        .await?
        .find(query, o)
        .await
        .map_err(Failure::from_zbus)?;
    typed(list, FindResult::from_dict)
}

/// Whether the helper reached the store on the last read that needed it (it answers from what is
/// installed when it cannot). Read fresh, never from a property cache.
pub async fn store_reachable() -> Res<bool> {
    Helper1Proxy::builder(connection().await?)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .map_err(Failure::from_zbus)?
        .store_reachable()
        .await
        .map_err(Failure::from_zbus)
}

/// `v` if the store answered the call that made it; a network failure if the helper answered
/// from local state instead, which for featured apps or updates would say something untrue.
pub async fn from_store<T>(v: T) -> Res<T> {
    if store_reachable().await? {
        Ok(v)
    } else {
        Err(Failure::of(
            ErrorKind::NetworkError,
            "the store cannot be reached; the helper answered from what is installed",
        ))
    }
}

pub async fn categories() -> Res<Vec<String>> {
    helper()
        .await?
        .categories()
        .await
        .map_err(Failure::from_zbus)
}

/// The store the helper uses and its name for this machine's architecture.
pub async fn store_address() -> Res<(String, String)> {
    let h = helper().await?;
    let url = h.store_url().await.map_err(Failure::from_zbus)?;
    let arch = h.architecture().await.map_err(Failure::from_zbus)?;
    Ok((url, arch))
}

/// Details and the channels, parsed.
pub async fn info(name: &str) -> Res<(SnapDetails, Vec<ChannelInfo>)> {
    let d = helper()
        .await?
        .info(name)
        .await
        .map_err(Failure::from_zbus)?;
    let details = SnapDetails::from_dict(&d).map_err(Failure::bad_answer)?;
    let channels = details.channels().map_err(Failure::bad_answer)?;
    Ok((details, channels))
}

pub async fn list_installed() -> Res<Vec<InstalledSnap>> {
    let list = helper()
        .await?
        .list_installed()
        .await
        .map_err(Failure::from_zbus)?;
    typed(list, InstalledSnap::from_dict)
}

pub async fn list_updates() -> Res<Vec<UpdateInfo>> {
    let list = helper()
        .await?
        .list_updates()
        .await
        .map_err(Failure::from_zbus)?;
    typed(list, UpdateInfo::from_dict)
}

/// The snaps whose automatic refresh waits for their apps to close.
pub async fn pending_refreshes() -> Res<Vec<snapshelf_dbus::types::PendingRefresh>> {
    let list = helper()
        .await?
        .pending_refreshes()
        .await
        .map_err(Failure::from_zbus)?;
    typed(list, snapshelf_dbus::types::PendingRefresh::from_dict)
}

pub async fn connections(name: &str) -> Res<Vec<Plug>> {
    let list = helper()
        .await?
        .connections(name)
        .await
        .map_err(Failure::from_zbus)?;
    typed(list, Plug::from_dict)
}

/// What `Connections()` rows add to the plain ones, each keyed by `snap:plug`: a content plug's
/// tag (DESIGN.md §11: content rows add `content` and `target`) and the slots a `dbus` plug may
/// be connected to (`slots`, `snap:slot` each).
#[derive(Debug, Default)]
pub struct RowExtras {
    pub tags: HashMap<String, String>,
    pub slots: HashMap<String, Vec<(String, String)>>,
}

/// `Connections()` rows with their [`RowExtras`].
pub async fn connections_with_content(name: &str) -> Res<(Vec<Plug>, RowExtras)> {
    let list = helper()
        .await?
        .connections(name)
        .await
        .map_err(Failure::from_zbus)?;
    let mut extras = RowExtras::default();
    for d in &list {
        let p = Plug::from_dict(d).map_err(Failure::bad_answer)?;
        let key = format!("{}:{}", p.plug_snap, p.plug);
        let tag = d
            .get("content")
            .and_then(|v| v.try_clone().ok())
            .and_then(|v| String::try_from(v).ok());
        if let Some(tag) = tag {
            extras.tags.insert(key.clone(), tag);
        }
        let slots = d
            .get("slots")
            .and_then(|v| v.try_clone().ok())
            .and_then(|v| Vec::<String>::try_from(v).ok());
        if let Some(slots) = slots {
            let pairs = slots.iter().filter_map(|s| s.split_once(':'));
            let pairs = pairs.map(|(a, b)| (a.to_string(), b.to_string())).collect();
            extras.slots.insert(key, pairs);
        }
    }
    Ok((typed(list, Plug::from_dict)?, extras))
}

/// Every interface the helper knows.
async fn interfaces() -> Res<Vec<snapshelf_dbus::types::InterfaceInfo>> {
    let list = helper()
        .await?
        .interfaces()
        .await
        .map_err(Failure::from_zbus)?;
    typed(list, snapshelf_dbus::types::InterfaceInfo::from_dict)
}

/// Each interface and whether the system connects it by itself (its default).
pub async fn interface_defaults() -> Res<HashMap<String, bool>> {
    Ok(interfaces()
        .await?
        .into_iter()
        .map(|i| (i.name, i.auto_connect))
        .collect())
}

/// Each interface's human words ("Read and write files in your home folder").
pub async fn interface_labels() -> Res<HashMap<String, String>> {
    Ok(interfaces()
        .await?
        .into_iter()
        .map(|i| (i.name, i.label))
        .collect())
}

/// What a person asked the helper to do. Each becomes one call and, but for `Hold`, one change.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Install {
        names: Vec<String>,
        channel: Option<String>,
        classic: bool,
    },
    Remove {
        name: String,
        purge: bool,
    },
    /// An empty list: every snap with an update, one change and one authorization.
    Refresh {
        names: Vec<String>,
        channel: Option<String>,
    },
    Revert {
        name: String,
        revision: Option<String>,
    },
    Switch {
        name: String,
        channel: String,
    },
    Connect {
        plug: Plug,
        connect: bool,
    },
    /// Reset to Defaults: forget every choice made for the snap's plugs, one change.
    ResetConnections {
        name: String,
    },
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Start a change. Every mutating call allows interactive authorization (the proxies say so), so
/// the system's polkit agent asks the person where polkit wants to.
pub async fn start(action: &Action) -> Res<OwnedObjectPath> {
    let h = helper().await?;
    let r = match action {
        Action::Install {
            names,
            channel,
            classic,
        } => {
            let mut o = Dict::new();
            if let Some(c) = channel {
                opt(&mut o, "channel", c.clone());
            }
            if *classic {
                opt(&mut o, "classic", true);
            }
            h.install(&strs(names), o).await
        }
        Action::Remove { name, purge } => {
            let mut o = Dict::new();
            if *purge {
                opt(&mut o, "purge", true);
            }
            h.remove(&[name.as_str()], o).await
        }
        Action::Refresh { names, channel } => {
            let mut o = Dict::new();
            if let Some(c) = channel {
                opt(&mut o, "channel", c.clone());
            }
            h.refresh(&strs(names), o).await
        }
        Action::Revert { name, revision } => {
            let mut o = Dict::new();
            if let Some(r) = revision {
                opt(&mut o, "revision", r.clone());
            }
            h.revert(name, o).await
        }
        Action::Switch { name, channel } => h.switch(name, channel).await,
        Action::Connect { plug, connect } => {
            let args = (&plug.plug_snap, &plug.plug, &plug.slot_snap, &plug.slot);
            if *connect {
                h.connect(args.0, args.1, args.2, args.3).await
            } else {
                h.disconnect(args.0, args.1, args.2, args.3).await
            }
        }
        Action::ResetConnections { name } => h.reset_connections(name).await,
    };
    r.map_err(Failure::from_zbus)
}

pub async fn install_file(fd: OwnedFd, unsigned: bool, classic: bool) -> Res<OwnedObjectPath> {
    let mut o = Dict::new();
    if unsigned {
        opt(&mut o, "unsigned", true);
    }
    if classic {
        opt(&mut o, "classic", true);
    }
    helper()
        .await?
        .install_file(fd.into(), o)
        .await
        .map_err(Failure::from_zbus)
}

/// What a `.snap` is and whether the helper knows its signatures (nothing is installed).
pub async fn check_file(fd: OwnedFd) -> Res<snapshelf_dbus::types::FileCheck> {
    let d = helper()
        .await?
        .check_file(fd.into())
        .await
        .map_err(Failure::from_zbus)?;
    snapshelf_dbus::types::FileCheck::from_dict(&d).map_err(Failure::bad_answer)
}

pub async fn hold(name: &str, hold: bool) -> Res<()> {
    helper()
        .await?
        .hold(&[name], hold)
        .await
        .map_err(Failure::from_zbus)
}

pub async fn cancel(path: &str) -> Res<()> {
    let c = change_proxy(path).await?;
    c.cancel().await.map_err(Failure::from_zbus)
}

async fn change_proxy(path: &str) -> Res<Change1Proxy<'static>> {
    Change1Proxy::builder(connection().await?)
        .path(path.to_string())
        .map_err(Failure::from_zbus)?
        .build()
        .await
        .map_err(Failure::from_zbus)
}

/// A change as the app shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeState {
    pub path: String,
    pub summary: String,
    pub status: String,
    pub ready: bool,
    pub progress: f64,
    pub label: String,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub allow_cancel: bool,
    pub error_kind: Option<ErrorKind>,
    pub error: String,
    pub snaps: Vec<String>,
}

impl ChangeState {
    fn from_props(path: &str, p: &HashMap<String, OwnedValue>) -> ChangeState {
        fn s(p: &HashMap<String, OwnedValue>, k: &str) -> String {
            p.get(k)
                .and_then(|v| String::try_from(v.clone()).ok())
                .unwrap_or_default()
        }
        let kind = s(p, "ErrorKind");
        ChangeState {
            path: path.to_string(),
            summary: s(p, "Summary"),
            status: s(p, "Status"),
            ready: p
                .get("Ready")
                .and_then(|v| bool::try_from(v).ok())
                .unwrap_or(false),
            progress: p
                .get("Progress")
                .and_then(|v| f64::try_from(v).ok())
                .unwrap_or(-1.0),
            label: s(p, "ProgressLabel"),
            bytes_done: p
                .get("BytesDone")
                .and_then(|v| u64::try_from(v).ok())
                .unwrap_or(0),
            bytes_total: p
                .get("BytesTotal")
                .and_then(|v| u64::try_from(v).ok())
                .unwrap_or(0),
            allow_cancel: p
                .get("AllowCancel")
                .and_then(|v| bool::try_from(v).ok())
                .unwrap_or(false),
            error_kind: if kind.is_empty() {
                None
            } else {
                Some(ErrorKind::from_kebab(&kind).unwrap_or(ErrorKind::Internal))
            },
            error: s(p, "Error"),
            snaps: p
                .get("Snaps")
                .and_then(|v| Vec::<String>::try_from(v.clone()).ok())
                .unwrap_or_default(),
        }
    }

    /// Ended, and not as the person wanted.
    pub fn failed(&self) -> bool {
        self.ready && self.status != "Done"
    }
}

/// Follow a change: `each` gets its state at once and after every PropertiesChanged, until it is
/// ready. Returns the last state.
pub async fn follow(path: &str, mut each: impl FnMut(ChangeState)) -> Res<ChangeState> {
    let conn = connection().await?;
    let props = zbus::fdo::PropertiesProxy::builder(conn)
        .destination(snapshelf_dbus::names::SERVICE)
        .map_err(Failure::from_zbus)?
        .path(path.to_string())
        .map_err(Failure::from_zbus)?
        .build()
        .await
        .map_err(Failure::from_zbus)?;
    // Subscribe first, then read: nothing said between the two is lost.
    let mut changed = props
        .receive_properties_changed()
        .await
        .map_err(Failure::from_zbus)?;
    let iface = zbus::names::InterfaceName::from_static_str_unchecked(
        snapshelf_dbus::names::CHANGE_INTERFACE,
    );
    loop {
        let all = props
            .get_all(iface.clone())
            .await
            .map_err(|e| Failure::from_zbus(e.into()))?;
        let state = ChangeState::from_props(path, &all);
        let ready = state.ready;
        each(state.clone());
        if ready {
            return Ok(state);
        }
        // Coalesce a burst of signals into one read.
        if changed.next().await.is_none() {
            return Err(Failure::unreachable("the helper went away"));
        }
        while let Some(Some(_)) = changed.next().now_or_never() {}
    }
}

/// Names of snaps whose state changed, as the helper announces them (`SnapsChanged`).
pub async fn snaps_changed(mut each: impl FnMut(Vec<String>)) -> Res<()> {
    let h = helper().await?;
    let mut s = h
        .receive_snaps_changed()
        .await
        .map_err(Failure::from_zbus)?;
    while let Some(sig) = s.next().await {
        if let Ok(a) = sig.args() {
            each(a.names);
        }
    }
    Ok(())
}

use futures_util::FutureExt;

/// The background services of an installed snap.
pub async fn services(name: &str) -> Res<Vec<snapshelf_dbus::types::ServiceInfo>> {
    let list = helper()
        .await?
        .services(name)
        .await
        .map_err(Failure::from_zbus)?;
    list.iter()
        .map(|d| {
            snapshelf_dbus::types::ServiceInfo::from_dict(d)
                .map_err(|e| Failure::of(ErrorKind::Internal, e.message()))
        })
        .collect()
}

/// Start a service and enable it at boot (`on`), or stop and disable it: one change.
pub async fn switch_service(service: &str, on: bool) -> Res<OwnedObjectPath> {
    let h = helper().await?;
    let mut o = Dict::new();
    let r = if on {
        opt(&mut o, "enable", true);
        h.start_services(&[service], o).await
    } else {
        opt(&mut o, "disable", true);
        h.stop_services(&[service], o).await
    };
    r.map_err(Failure::from_zbus)
}
