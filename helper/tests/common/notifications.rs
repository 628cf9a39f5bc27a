//! A private session bus with a notification server that records every `Notify`
//! (`org.freedesktop.Notifications`), for the update agent's tests.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One `Notify` call: summary, body, actions.
pub type Shown = (String, String, Vec<String>);

/// `org.freedesktop.Notifications`, recording what is shown.
pub struct Server {
    shown: Arc<Mutex<Vec<Shown>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut shown = self.shown.lock().unwrap();
        shown.push((summary, body, actions));
        shown.len() as u32
    }

    #[zbus(signal)]
    async fn action_invoked(
        emitter: &zbus::object_server::SignalEmitter<'_>,
        id: u32,
        action_key: &str,
    ) -> zbus::Result<()>;
}

pub struct Session {
    // Killed on drop (first, as the first field), from its spawn on: a bus that never comes up
    // must not outlive the test either.
    _daemon: super::gnome::Reaped,
    pub address: String,
    conn: zbus::blocking::Connection,
    pub shown: Arc<Mutex<Vec<Shown>>>,
}

impl Session {
    pub fn start(dir: &Path) -> Session {
        std::fs::create_dir_all(dir).unwrap();
        let socket = dir.join("bus");
        let conf = dir.join("session.conf");
        std::fs::write(
            &conf,
            format!(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\" \
                 \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n<busconfig>\n\
                 <type>session</type>\n<listen>unix:path={}</listen>\n<auth>EXTERNAL</auth>\n\
                 <policy context=\"default\">\n<allow send_destination=\"*\" eavesdrop=\"true\"/>\n\
                 <allow eavesdrop=\"true\"/>\n<allow own=\"*\"/>\n\
                 </policy>\n</busconfig>\n",
                socket.display()
            ),
        )
        .unwrap();
        let daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .arg("--nofork")
            .stdout(Stdio::null())
            .spawn()
            .map(super::gnome::Reaped)
            .expect("dbus-daemon (Debian package dbus) is needed");
        let start = Instant::now();
        while !socket.exists() {
            assert!(start.elapsed() < Duration::from_secs(10), "no session bus");
            std::thread::sleep(Duration::from_millis(20));
        }
        let address = format!("unix:path={}", socket.display());
        let shown = Arc::new(Mutex::new(Vec::new()));
        // The socket's file appears at bind(), a moment before the daemon listens: try again
        // until it answers.
        let conn = loop {
            let attempt = zbus::blocking::connection::Builder::address(address.as_str())
                .unwrap()
                .serve_at(
                    "/org/freedesktop/Notifications",
                    Server {
                        shown: shown.clone(),
                    },
                )
                .unwrap()
                .name("org.freedesktop.Notifications")
                .unwrap()
                .build();
            match attempt {
                Ok(c) => break c,
                Err(e) if start.elapsed() < Duration::from_secs(10) => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("the session bus does not answer: {e}"),
            }
        };
        Session {
            _daemon: daemon,
            address,
            conn,
            shown,
        }
    }

    /// Wait for a notification whose summary is `summary`; its index, body and actions.
    pub fn wait_shown(&self, summary: &str, timeout: Duration) -> (u32, String, Vec<String>) {
        let start = Instant::now();
        loop {
            let shown = self.shown.lock().unwrap().clone();
            if let Some(i) = shown.iter().position(|(s, _, _)| s == summary) {
                return (i as u32 + 1, shown[i].1.clone(), shown[i].2.clone());
            }
            assert!(
                start.elapsed() < timeout,
                "no {summary:?} notification; shown: {shown:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn invoke_default(&self, id: u32) {
        let server = self
            .conn
            .object_server()
            .interface::<_, Server>("/org/freedesktop/Notifications")
            .unwrap();
        zbus::block_on(Server::action_invoked(
            server.signal_emitter(),
            id,
            "default",
        ))
        .unwrap();
    }
}

/// The agent, checking at once and looking at held updates every second.
pub fn start_agent(env: &super::Env, session: &Session, config: &Path, app: &Path) -> Command {
    let agent = super::workspace_bin("snapshelf-update-agent", "snapshelf-update-agent");
    let mut cmd = Command::new(agent);
    cmd.args(["--bus-address", &env.bus_address, "--first-check", "0"])
        .args(["--interval", "3600", "--held-retry", "1", "--app"])
        .arg(app)
        .env("DBUS_SESSION_BUS_ADDRESS", &session.address)
        .env("XDG_CONFIG_HOME", config)
        .env("LANGUAGE", "en")
        .env("RUST_LOG", "info");
    cmd
}
