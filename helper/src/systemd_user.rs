//! The service managers of the users (`systemd --user`), for `daemon-scope: user` services: as
//! snapd's session agent does for `snap start --user`, the helper runs `systemctl --user` as each
//! user whom logind lists (logged in, or lingering), with the user's `XDG_RUNTIME_DIR`; it reads only
//! the exit status, never the output. The manager's own D-Bus socket is not used: it is peer to
//! peer and names its messages' sender `org.freedesktop.systemd1`, which zbus cannot read (it
//! expects a unique name there), and a user need not have a session bus.

use std::path::PathBuf;

use tokio::process::Command;

use crate::error::{Error, ErrorKind, Result};
use crate::systemd::Systemd;

/// One user's service manager.
pub struct UserManager {
    pub uid: u32,
    gid: u32,
    name: String,
}

impl UserManager {
    /// The running user managers: users logind knows whose manager listens
    /// (`/run/user/<uid>/systemd/private`).
    pub async fn running(sd: &Systemd) -> Vec<UserManager> {
        let mut out = Vec::new();
        for (uid, name) in sd.users().await {
            let socket = PathBuf::from(format!("/run/user/{uid}/systemd/private"));
            if !socket.exists() {
                continue;
            }
            let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid));
            match user {
                Ok(Some(u)) => out.push(UserManager {
                    uid,
                    gid: u.gid.as_raw(),
                    name,
                }),
                _ => tracing::warn!(uid, "a user logind lists has no password entry"),
            }
        }
        out
    }

    /// `systemctl --user <args>` as the user, with nothing of the helper's environment.
    async fn run(&self, args: &[&str]) -> Result<std::process::Output> {
        Command::new("systemctl")
            .arg("--user")
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("XDG_RUNTIME_DIR", format!("/run/user/{}", self.uid))
            .uid(self.uid)
            .gid(self.gid)
            .current_dir("/")
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| self.failed(args, &e.to_string()))
    }

    /// An error that names the user, the command and what systemctl said.
    fn failed(&self, args: &[&str], why: &str) -> Error {
        Error::new(
            ErrorKind::Internal,
            format!(
                "the service manager of user {} (uid {}): systemctl --user {}: {}",
                self.name,
                self.uid,
                args.join(" "),
                why.trim()
            ),
        )
    }

    /// Run a command that must succeed.
    async fn must(&self, args: &[&str]) -> Result<()> {
        let out = self.run(args).await?;
        if out.status.success() {
            Ok(())
        } else {
            Err(self.failed(args, &String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// Read the unit files again (new, changed or removed user units).
    pub async fn reload(&self) -> Result<()> {
        self.must(&["daemon-reload"]).await
    }

    /// Start units and wait for their jobs (`systemctl start` waits, as the system jobs do).
    pub async fn start(&self, units: &[String]) -> Result<()> {
        self.each("start", units).await
    }

    pub async fn stop(&self, units: &[String]) -> Result<()> {
        self.each("stop", units).await
    }

    async fn each(&self, verb: &str, units: &[String]) -> Result<()> {
        if units.is_empty() {
            return Ok(());
        }
        let mut args = vec![verb];
        args.extend(units.iter().map(String::as_str));
        self.must(&args).await
    }

    /// Whether the unit runs (or is on its way): `systemctl --user is-active` says so by its exit
    /// status alone.
    pub async fn active(&self, unit: &str) -> Result<bool> {
        Ok(self
            .run(&["is-active", "--quiet", unit])
            .await?
            .status
            .success())
    }
}
