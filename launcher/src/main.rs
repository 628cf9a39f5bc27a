//! `snapshelf-launcher`: `io.snapcraft.Launcher` on the session bus, started by D-Bus activation
//! (`data/dbus-1/services/io.github.snapshelf.Launcher.service`) when a sandboxed app's
//! `xdg-open` first calls it; exits after a minute without a call. The rules are in `lib.rs`.

use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use gettextrs::gettext;
use snapshelf_launcher::RUNNING_DIR;
use snapshelf_launcher::{check_url, fd_to_filename, names_desktop_file, snap_of_caller, Refusal};
use snapshelf_launcher::{BUS_NAME, OBJECT_PATH};
use tokio::process::Command;
use zbus::fdo;

/// How long a person has to answer whether a file may be opened (snapd's five minutes).
const ASK_SECONDS: u32 = 300;

/// Exit after this long without a call, as activated services do.
const IDLE: Duration = Duration::from_secs(60);

struct Launcher {
    last_used: Arc<Mutex<Instant>>,
}

fn refused(r: Refusal) -> fdo::Error {
    match r {
        Refusal::Invalid(m) => fdo::Error::InvalidArgs(m),
        Refusal::Denied(m) => fdo::Error::AccessDenied(m),
    }
}

/// Run the host's `xdg-open` on `what`, in the session's environment: nothing from the app's
/// sandbox reaches it but the argument (snapd's warning about CVE-2020-11934).
async fn xdg_open(what: &std::ffi::OsStr) -> fdo::Result<()> {
    let st = Command::new("xdg-open")
        .arg(what)
        .status()
        .await
        .map_err(|e| fdo::Error::Failed(format!("cannot run xdg-open: {e}")))?;
    if !st.success() {
        return Err(fdo::Error::Failed(format!(
            "xdg-open could not open it ({st})"
        )));
    }
    Ok(())
}

/// Whether the desktop has a handler for `scheme` (snapd's `schemeHasHandler`).
async fn has_handler(scheme: &str) -> bool {
    let out = Command::new("xdg-mime")
        .args(["query", "default", &format!("x-scheme-handler/{scheme}")])
        .output()
        .await;
    match out {
        Ok(o) if o.status.success() => names_desktop_file(&String::from_utf8_lossy(&o.stdout)),
        Ok(_) | Err(_) => false,
    }
}

/// The snap of the caller of the message `hdr` (see `snap_of_caller`), if it is one of ours.
async fn caller_snap(conn: &zbus::Connection, hdr: &zbus::message::Header<'_>) -> Option<String> {
    let sender = hdr.sender()?.to_owned();
    let bus = fdo::DBusProxy::new(conn).await.ok()?;
    let pid = bus
        .get_connection_unix_process_id(sender.into())
        .await
        .ok()?;
    snap_of_caller(std::path::Path::new(RUNNING_DIR), pid)
}

/// Ask the person (zenity, as snapd's `ui` does) whether `file` may be opened, naming the snap
/// that asks when it is known; no way to ask means no.
async fn person_allows(file: &std::path::Path, snap: Option<&str>) -> fdo::Result<bool> {
    let question = match snap {
        Some(snap) => snapshelf_i18n::fill(
            // Translators: {snap} is the name of an installed app (a snap).
            &gettext("Allow {snap} to open “{file}” with its default application?"),
            &[("snap", &snap), ("file", &file.display())],
        ),
        None => snapshelf_i18n::fill(
            &gettext("Allow an app to open “{file}” with its default application?"),
            &[("file", &file.display())],
        ),
    };
    let st = Command::new("zenity")
        .args(["--question", "--modal", "--no-markup"])
        .arg(format!("--timeout={ASK_SECONDS}"))
        .arg(format!("--text={question}"))
        .status()
        .await
        .map_err(|e| {
            fdo::Error::AccessDenied(format!(
                "cannot ask whether to open {}: zenity: {e}",
                file.display()
            ))
        })?;
    Ok(st.success())
}

#[zbus::interface(name = "io.snapcraft.Launcher")]
impl Launcher {
    /// Open a link with the host's handler, when its scheme is allowed.
    #[zbus(name = "OpenURL")]
    async fn open_url(&self, url: String) -> fdo::Result<()> {
        self.touch();
        tracing::info!("open url: {url:?}");
        let allowed = match check_url(&url).map_err(refused)? {
            Some(_) => true,
            None => {
                let scheme = url.split(':').next().unwrap_or("").to_ascii_lowercase();
                has_handler(&scheme).await
            }
        };
        if !allowed {
            let scheme = url.split(':').next().unwrap_or("");
            return Err(fdo::Error::AccessDenied(format!(
                "Supplied URL scheme \"{scheme}\" is not allowed"
            )));
        }
        xdg_open(url.as_ref()).await
    }

    /// Open the file behind `fd` with its default application, once the person agrees.
    #[zbus(name = "OpenFile")]
    async fn open_file(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] hdr: zbus::message::Header<'_>,
        _parent_window: String,
        fd: zbus::zvariant::OwnedFd,
    ) -> fdo::Result<()> {
        self.touch();
        let file = fd_to_filename(fd.as_fd()).map_err(refused)?;
        drop(fd);
        let snap = caller_snap(conn, &hdr).await;
        tracing::info!("open file for {:?}: {}", snap, file.display());
        if !person_allows(&file, snap.as_deref()).await? {
            return Err(fdo::Error::AccessDenied("permission denied".into()));
        }
        xdg_open(file.as_os_str()).await
    }
}

impl Launcher {
    fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    snapshelf_i18n::init_locale();
    let last_used = Arc::new(Mutex::new(Instant::now()));
    let launcher = Launcher {
        last_used: last_used.clone(),
    };
    // Activation names the bus that started us; otherwise the session's.
    let builder = match std::env::var("DBUS_STARTER_ADDRESS") {
        Ok(a) if !a.is_empty() => zbus::connection::Builder::address(a.as_str())?,
        _ => zbus::connection::Builder::session()?,
    };
    let conn = builder
        .serve_at(OBJECT_PATH, launcher)?
        .name(BUS_NAME)?
        .build()
        .await
        .with_context(|| format!("taking {BUS_NAME} on the session bus"))?;
    tracing::info!("serving {BUS_NAME}");
    let bus = fdo::DBusProxy::new(&conn).await?;
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let idle = last_used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed();
        if idle >= IDLE {
            tracing::info!("idle for {}s: exiting", idle.as_secs());
            return Ok(());
        }
        // The session ended: nothing can call any more.
        if bus.get_id().await.is_err() {
            tracing::info!("the session bus is gone: exiting");
            return Ok(());
        }
    }
}
