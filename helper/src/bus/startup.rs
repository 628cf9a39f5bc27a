//! Bringing the service up: lock the root, read the configuration and the trusted keys, open the
//! engine (which settles interrupted changes and remounts every revision), serve the objects,
//! and only then take the bus name, so that no client ever sees a half-done state.

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use snapshelf_dbus::names;

use super::helper::Helper;
use super::progress::BusObserver;
use crate::config::Config;
use crate::engine::{files::Launcher, Engine, EngineConfig};
use crate::paths::Paths;
use crate::polkit::Authority;
use crate::store::StoreClient;

pub struct Options {
    pub root: PathBuf,
    pub store_url: Option<String>,
    pub trust: Vec<PathBuf>,
    pub bus_address: Option<String>,
    pub confine: PathBuf,
    pub allow_loop: bool,
    /// The `snapctl` binary put beside the snapctl socket for sandboxes.
    pub snapctl: PathBuf,
}

/// A started helper. Dropping it releases the bus name and the root.
pub struct Running {
    pub connection: zbus::Connection,
    _lock: std::fs::File,
    _snapctl: tokio_util::task::AbortOnDropHandle<()>,
}

/// Refuse a root that another Snapshelf helper or snapd manages.
fn lock_root(paths: &Paths) -> anyhow::Result<std::fs::File> {
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
    let state_dir = paths.state_dir();
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("cannot create {}", state_dir.display()))?;
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

/// The built-in trusted roots and those the configuration and the command line add, checked to
/// verify before anything relies on them.
fn trusted_keys(
    config: &Config,
    extra: &[PathBuf],
) -> anyhow::Result<Vec<snapshelf_snap::assert::Assertion>> {
    let mut trusted = snapshelf_snap::assert::canonical_trusted();
    for f in config.trusted.iter().chain(extra.iter()) {
        let bytes = std::fs::read(f)
            .with_context(|| format!("cannot read trusted keys {}", f.display()))?;
        let list = snapshelf_snap::assert::decode_stream(&bytes)
            .with_context(|| format!("{}", f.display()))?;
        trusted.extend(list);
    }
    snapshelf_snap::assert::Database::new(trusted.clone())
        .context("the trusted keys do not verify")?;
    Ok(trusted)
}

/// Lock the root and open the engine on it: interrupted changes are settled in here.
async fn open_engine(o: &Options) -> anyhow::Result<(Engine, String, std::fs::File)> {
    let root = o
        .root
        .canonicalize()
        .with_context(|| format!("root {} does not exist", o.root.display()))?;
    let paths = Paths::new(&root);
    let lock = lock_root(&paths)?;
    let mut config = Config::load(&paths.config_file())?;
    if let Some(url) = &o.store_url {
        config.store_url = url.clone();
    }
    let trusted = trusted_keys(&config, &o.trust)?;
    let store = StoreClient::new(&config.store_url)?;
    let store_url = config.store_url.clone();
    let launcher = Launcher {
        confine: o.confine.clone(),
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
    Ok((engine, store_url, lock))
}

/// Where [`Starting`] is served while the helper starts.
const STARTING_PATH: &str = "/io/github/snapshelf/Helper1/starting";

/// An empty interface, served only until the helper takes its name (see [`connect`]).
struct Starting;

#[zbus::interface(name = "io.github.snapshelf.Starting")]
impl Starting {}

/// Connect to the bus with the object server already subscribed to method calls.
///
/// zbus subscribes its object server on a task of its own, a moment after the server is first
/// used, and a call that arrives before that is dropped: its caller never gets an answer. Taking
/// the name only after `object_server().at()` does not close that window (a test's call, made
/// the instant the name was taken, hung). Only a connection builder with something to serve
/// waits for the subscription, so the builder serves a placeholder, taken down just before the
/// name is requested.
async fn connect(address: Option<&str>) -> anyhow::Result<zbus::Connection> {
    let builder = match address {
        Some(a) => zbus::connection::Builder::address(a)?,
        None => zbus::connection::Builder::system()?,
    };
    builder
        .serve_at(STARTING_PATH, Starting)?
        .build()
        .await
        .context("cannot connect to the bus")
}

/// How long a taken name is asked for again before the helper gives up.
const NAME_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Take the service's name. A helper restarted at once (systemd, a test) can find its predecessor
/// still owning it for a moment: the process is gone, but the bus daemon has not yet read the
/// closed socket. The root's lock already proved no other helper runs here, so the name is asked
/// for again for a few seconds before the helper gives up.
async fn take_name(conn: &zbus::Connection) -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    let mut warned = false;
    loop {
        match conn
            .request_name_with_flags(
                names::SERVICE,
                zbus::fdo::RequestNameFlags::DoNotQueue.into(),
            )
            .await
        {
            Err(zbus::Error::NameTaken) if start.elapsed() < NAME_WAIT => {
                if !warned {
                    warned = true;
                    tracing::warn!("{} is still owned on the bus: asking again", names::SERVICE);
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            r => {
                r.context("cannot own io.github.snapshelf.Helper1 (is another helper running on this bus?)")?;
                return Ok(());
            }
        }
    }
}

/// Start the helper: lock the root, settle interrupted changes, then serve and take the name.
pub async fn start(o: Options) -> anyhow::Result<Running> {
    let (engine, store_url, lock) = open_engine(&o).await?;
    let listener = crate::snapctl::listen(engine.paths(), &o.snapctl)
        .map_err(|e| anyhow::anyhow!("cannot serve snapctl: {e}"))?;
    let snapctl = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(crate::snapctl::serve(
        engine.clone(),
        listener,
    )));
    crate::engine::bus_policy::set_system_bus(o.bus_address.clone());
    let conn = connect(o.bus_address.as_deref()).await?;
    let authority = Arc::new(
        Authority::new(&conn)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let helper = Helper::new(engine.clone(), authority.clone(), store_url, conn.clone());
    // Each method call runs in its caller's language (bus/locale.rs).
    let locales = helper.locales.clone();
    let helper = super::locale::Localised {
        inner: helper,
        locales,
    };
    conn.object_server().at(names::PATH, helper).await?;
    let observer = Arc::new(BusObserver::new(conn.clone(), engine.clone(), authority));
    for id in engine.change_ids()? {
        observer.serve_change(id).await;
    }
    engine.set_observer(Arc::new(observer));
    tokio::spawn(crate::memory::trim_when_quiet(zbus::MessageStream::from(
        &conn,
    )));
    conn.object_server()
        .remove::<Starting, _>(STARTING_PATH)
        .await
        .context("cannot take down the start-up placeholder")?;
    take_name(&conn).await?;
    tracing::info!(root = %engine.paths().root().display(), "snapshelf-helper ready");
    Ok(Running {
        connection: conn,
        _lock: lock,
        _snapctl: snapctl,
    })
}
