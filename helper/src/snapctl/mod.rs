//! The helper's side of `snapctl`: a root-owned Unix socket, `/run/snapshelf/snapctl/snapctl.socket`,
//! that confine binds into every sandbox beside the `snapctl` binary (at `/usr/lib/snapd`). A
//! request is one JSON object, `{"cookie": …, "args": […]}`, then end of stream; the answer is
//! `{"stdout": …, "stderr": …, "exit-code": …}`. The caller is known by its cookie (a snap's, or a
//! running hook's) and by the kernel's word on the process (`peer`): never by what it claims.

pub mod attrs;
pub mod commands;
pub mod cookie;
mod health;
pub mod hooks;
pub mod peer;
mod pid;
mod refresh;
mod services;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use crate::engine::Engine;
use crate::error::Result;
use crate::io::IoContext;
use crate::paths::Paths;

/// A request is small: arguments and a cookie.
const MAX_REQUEST: u64 = 1 << 20;
/// A client that sends nothing is dropped after this.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize)]
struct Request {
    cookie: String,
    args: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reply {
    pub stdout: String,
    pub stderr: String,
    #[serde(rename = "exit-code")]
    pub code: i32,
}

impl Reply {
    pub fn out(stdout: String) -> Self {
        Reply {
            stdout,
            stderr: String::new(),
            code: 0,
        }
    }

    pub fn err(code: i32, stderr: String) -> Self {
        Reply {
            stdout: String::new(),
            stderr,
            code,
        }
    }
}

/// `/run/snapshelf/snapctl`: the directory confine binds at `/usr/lib/snapd` in each sandbox.
pub fn dir(paths: &Paths) -> PathBuf {
    paths.root().join("run/snapshelf/snapctl")
}

pub fn socket(paths: &Paths) -> PathBuf {
    dir(paths).join("snapctl.socket")
}

/// Make the directory, put the `snapctl` binary in it (when the helper has one) and listen.
pub fn listen(paths: &Paths, binary: &Path) -> Result<UnixListener> {
    let d = dir(paths);
    std::fs::create_dir_all(&d).what("create", &d)?;
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755))
        .what("set the mode of", &d)?;
    if binary.exists() {
        // A copy of our own, root-owned, so that no file outside the root is bound into sandboxes.
        let tmp = d.join(".snapctl.new");
        std::fs::copy(binary, &tmp).what("copy the snapctl binary to", &tmp)?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
            .what("set the mode of", &tmp)?;
        let to = d.join("snapctl");
        std::fs::rename(&tmp, &to).what("rename into place", &to)?;
    } else {
        tracing::warn!(binary = %binary.display(), "no snapctl binary: snaps will not find snapctl");
    }
    let sock = socket(paths);
    match std::fs::remove_file(&sock) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e).what("remove", &sock),
        _ => {}
    }
    let listener = UnixListener::bind(&sock).what("listen on", &sock)?;
    // Anyone in a sandbox may connect; the cookie and the peer's credentials decide.
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666))
        .what("set the mode of", &sock)?;
    Ok(listener)
}

/// Answer connections until the listener is dropped with the task.
pub async fn serve(engine: Engine, listener: UnixListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let engine = engine.clone();
                tokio::spawn(async move {
                    if let Err(e) = answer(engine, stream).await {
                        tracing::debug!("snapctl connection: {e}");
                    }
                });
            }
            Err(e) => {
                tracing::warn!("snapctl socket: cannot accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn answer(engine: Engine, mut stream: UnixStream) -> std::io::Result<()> {
    let cred = stream.peer_cred()?;
    let mut buf = Vec::new();
    let mut limited = (&mut stream).take(MAX_REQUEST);
    let read = limited.read_to_end(&mut buf);
    let reply = match tokio::time::timeout(READ_TIMEOUT, read).await {
        Err(_) => Reply::err(1, "error: the request did not arrive in time\n".into()),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(_)) => match serde_json::from_slice::<Request>(&buf) {
            Err(e) => Reply::err(1, format!("error: malformed snapctl request: {e}\n")),
            Ok(req) => {
                let (uid, pid) = (cred.uid(), cred.pid());
                tokio::task::spawn_blocking(move || handle(&engine, uid, pid, &req))
                    .await
                    .unwrap_or_else(|e| Reply::err(1, format!("error: internal error: {e}\n")))
            }
        },
    };
    let text = serde_json::to_vec(&reply).map_err(std::io::Error::other)?;
    stream.write_all(&text).await?;
    stream.shutdown().await
}

/// Who calls (cookie, then peer credentials), then the command.
fn handle(engine: &Engine, uid: u32, pid: Option<i32>, req: &Request) -> Reply {
    let paths = engine.paths();
    let caller = if let Some(h) = engine.hooks().find(&req.cookie) {
        // Hooks run as root; a hook cookie in anyone else's hands is refused.
        if uid != 0 {
            return Reply::err(1, "error: error running snapctl: invalid context\n".into());
        }
        commands::Caller {
            snap: h.snap.clone(),
            uid,
            hook: Some(h),
        }
    } else if let Some(snap) = cookie::snap_of(paths, &req.cookie) {
        commands::Caller {
            snap,
            uid,
            hook: None,
        }
    } else {
        // As snapd: an unknown cookie is no context at all.
        return Reply::err(
            1,
            "error: error running snapctl: no context for the given cookie\n".into(),
        );
    };
    if let Err(why) = peer::check_sandbox(paths, pid, &caller.snap) {
        tracing::warn!(snap = %caller.snap, uid, ?pid, "snapctl refused: {why}");
        return Reply::err(1, format!("error: error running snapctl: {why}\n"));
    }
    commands::run(engine, &caller, &req.args)
}

impl Engine {
    /// A snap's configuration document as stored (empty when nothing is set).
    pub fn config(&self, name: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
        let st = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        Ok(st.config(name)?)
    }

    /// Store a snap's configuration document at once (root's `snapctl set` outside hooks): a
    /// configuration, `{}` included, as snapd's commit leaves one for any set or unset.
    pub fn put_config(
        &self,
        name: &str,
        doc: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        let st = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        Ok(st.set_config(name, Some(doc))?)
    }

    pub(crate) fn hooks(&self) -> &hooks::Hooks {
        &self.inner.hooks
    }
}
