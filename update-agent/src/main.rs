//! `snapshelf-update-agent`: started with the session (`data/autostart/…UpdateAgent.desktop`),
//! it lives as long as the session bus, asleep on a timer between checks.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use futures_util::StreamExt;
use snapshelf_dbus::proxy::Helper1Proxy;
use snapshelf_update_agent::agent::Agent;
use snapshelf_update_agent::notify::{Notifier, Opener};
use snapshelf_update_agent::{settings_path, write_paused, Schedule, DEFAULT_INTERVAL};
use tokio::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "snapshelf-update-agent",
    version,
    about = "Snapshelf's background updates for this session"
)]
struct Cli {
    /// Ask the helper (and NetworkManager) on this bus instead of the system bus (tests, the demo).
    #[arg(long, value_name = "ADDRESS")]
    bus_address: Option<String>,
    /// Ask NetworkManager on this bus (tests); default: the helper's bus.
    #[arg(long, value_name = "ADDRESS")]
    network_bus_address: Option<String>,
    /// The app that notifications open.
    #[arg(long, value_name = "PATH", default_value = "/usr/bin/snapshelf")]
    app: PathBuf,
    /// Seconds between checks: one at a random point of each such window (default: 6 hours).
    #[arg(long, value_name = "SECONDS")]
    interval: Option<u64>,
    /// Seconds before the first check, instead of a random point of the first window.
    #[arg(long, value_name = "SECONDS")]
    first_check: Option<u64>,
    /// Seconds between looks at updates held because their apps run.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    held_retry: u64,
    /// Pause background updates (written to the settings file), then exit.
    #[arg(long, conflicts_with = "resume")]
    pause: bool,
    /// Resume background updates, then exit.
    #[arg(long)]
    resume: bool,
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
    let cli = Cli::parse();
    let settings = settings_path();
    if cli.pause || cli.resume {
        let path = settings.context("neither XDG_CONFIG_HOME nor HOME is set")?;
        write_paused(&path, cli.pause).map_err(anyhow::Error::msg)?;
        return Ok(());
    }
    let system = match &cli.bus_address {
        Some(a) => {
            zbus::connection::Builder::address(a.as_str())?
                .build()
                .await
        }
        None => zbus::Connection::system().await,
    }
    .context("connecting to the bus of the Snapshelf helper")?;
    let session = zbus::Connection::session()
        .await
        .context("connecting to the session bus")?;
    let opener = Opener {
        app: cli.app.clone(),
        bus_address: cli.bus_address.clone(),
    };
    let notifier = match Notifier::new(&session, opener).await {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!("no notifications: {e}");
            None
        }
    };
    let network = match &cli.network_bus_address {
        Some(a) => {
            zbus::connection::Builder::address(a.as_str())?
                .build()
                .await?
        }
        None => system.clone(),
    };
    let mut agent = Agent {
        helper: Helper1Proxy::new(&system).await?,
        system: network,
        notifier,
        settings,
        held: BTreeSet::new(),
    };
    let mut schedule = Schedule::new(cli.interval.map_or(DEFAULT_INTERVAL, Duration::from_secs));
    let first = cli
        .first_check
        .map_or_else(|| schedule.first(), Duration::from_secs);
    run(
        &mut agent,
        &session,
        &mut schedule,
        first,
        Duration::from_secs(cli.held_retry),
    )
    .await
}

/// Sleep until the next check (or, while updates are held, the next look at them); end with the
/// session bus.
async fn run(
    agent: &mut Agent,
    session: &zbus::Connection,
    schedule: &mut Schedule,
    first: Duration,
    held_retry: Duration,
) -> anyhow::Result<()> {
    let mut gone = zbus::fdo::DBusProxy::new(session)
        .await?
        .receive_name_lost()
        .await?;
    let mut next_check = Instant::now() + first;
    tracing::info!("first check in {}s", first.as_secs());
    loop {
        let wake = if agent.held.is_empty() {
            next_check
        } else {
            next_check.min(Instant::now() + held_retry)
        };
        tokio::select! {
            // No name is ours: the stream only ends, with the connection.
            signal = gone.next() => {
                if signal.is_none() {
                    tracing::info!("the session bus went away, exiting");
                    return Ok(());
                }
                continue;
            }
            _ = tokio::time::sleep_until(wake) => {}
        }
        if Instant::now() >= next_check {
            agent.check().await;
            next_check += schedule.after_check();
            // A check that took longer than a window: the next one from now.
            next_check = next_check.max(Instant::now());
        } else {
            agent.retry_held().await;
        }
    }
}
