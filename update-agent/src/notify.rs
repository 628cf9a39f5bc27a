//! `org.freedesktop.Notifications` on the session bus: what the agent tells the person, each
//! with a default action that opens the app on its Updates page.

use std::collections::HashMap;
use std::path::PathBuf;

use futures_util::StreamExt;
use gettextrs::gettext;
use zbus::zvariant::Value;

#[zbus::proxy(
    interface = "org.freedesktop.Notifications",
    default_service = "org.freedesktop.Notifications",
    default_path = "/org/freedesktop/Notifications"
)]
pub trait Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: &str,
        replaces_id: u32,
        app_icon: &str,
        summary: &str,
        body: &str,
        actions: &[&str],
        hints: HashMap<&str, &Value<'_>>,
        expire_timeout: i32,
    ) -> zbus::Result<u32>;

    #[zbus(signal)]
    fn action_invoked(&self, id: u32, action_key: String) -> zbus::Result<()>;
}

/// The app's icon and desktop entry, as the notification's sender.
pub const APP_ID: &str = "io.github.snapshelf.Snapshelf";

/// How the app is opened on its Updates page.
#[derive(Debug, Clone)]
pub struct Opener {
    pub app: PathBuf,
    pub bus_address: Option<String>,
}

impl Opener {
    pub fn args(&self) -> Vec<String> {
        let mut v = vec!["--page".to_string(), "updates".to_string()];
        if let Some(a) = &self.bus_address {
            v.push("--bus-address".into());
            v.push(a.clone());
        }
        v
    }

    fn open(&self) {
        match tokio::process::Command::new(&self.app)
            .args(self.args())
            .spawn()
        {
            // Reaped by tokio when it ends; the agent does not wait for the app.
            Ok(child) => drop(child),
            Err(e) => tracing::warn!(app = %self.app.display(), "cannot open the app: {e}"),
        }
    }
}

/// The person's notification server. A session without one is logged, not fatal: updates
/// still happen.
#[derive(Clone)]
pub struct Notifier {
    proxy: NotificationsProxy<'static>,
}

impl Notifier {
    /// Connect, and open the app whenever the default action of any notification is invoked.
    pub async fn new(session: &zbus::Connection, opener: Opener) -> zbus::Result<Notifier> {
        let proxy = NotificationsProxy::new(session).await?;
        let mut actions = proxy.receive_action_invoked().await?;
        tokio::spawn(async move {
            while let Some(signal) = actions.next().await {
                // The server sends every client's actions: only the default action of ours is
                // acted on (the ids are checked by the server's own numbering; a stranger's
                // "default" opening our Updates page is harmless).
                if let Ok(args) = signal.args() {
                    if args.action_key == "default" {
                        opener.open();
                    }
                }
            }
        });
        Ok(Notifier { proxy })
    }

    /// Show `summary` and `body`; the failure to show is logged.
    pub async fn show(&self, summary: &str, body: &str) {
        let open = gettext("Open Updates");
        let entry = Value::from(APP_ID);
        let hints = HashMap::from([("desktop-entry", &entry)]);
        let sent = self
            .proxy
            .notify(
                "Snapshelf",
                0,
                APP_ID,
                summary,
                body,
                &["default", open.as_str()],
                hints,
                -1,
            )
            .await;
        if let Err(e) = sent {
            tracing::warn!("cannot show the notification {summary:?}: {e}");
        }
    }
}
