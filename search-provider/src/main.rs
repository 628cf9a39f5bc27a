//! `snapshelf-search-provider`: started by D-Bus activation when GNOME Shell first searches (see
//! `data/gnome-shell/search-providers/io.github.snapshelf.Snapshelf.SearchProvider.ini`); exits
//! after a minute without a call, as activated services do.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use futures_util::StreamExt;
use snapshelf_search_provider::provider::Provider;
use snapshelf_search_provider::{cache_dir, BUS_NAME, OBJECT_PATH};

#[derive(Parser, Debug)]
#[command(
    name = "snapshelf-search-provider",
    version,
    about = "Snapshelf's results in GNOME Shell's search"
)]
struct Cli {
    /// Ask the helper on this bus instead of the system bus (tests, the demo).
    #[arg(long, value_name = "ADDRESS")]
    bus_address: Option<String>,
    /// The app to open results in.
    #[arg(long, value_name = "PATH", default_value = "/usr/bin/snapshelf")]
    app: PathBuf,
    /// Exit after this many seconds without a call; 0: never.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    idle_exit: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let helper = match &cli.bus_address {
        Some(a) => {
            zbus::connection::Builder::address(a.as_str())?
                .build()
                .await
        }
        None => zbus::Connection::system().await,
    }
    .context("connecting to the bus of the Snapshelf helper")?;
    let provider = Provider::new(helper, cli.app, cli.bus_address, cache_dir());
    let last_used = provider.last_used.clone();
    let session = zbus::connection::Builder::session()
        .context("the session bus")?
        .serve_at(OBJECT_PATH, provider)?
        .name(BUS_NAME)?
        .build()
        .await
        .with_context(|| format!("taking {BUS_NAME} on the session bus"))?;
    tracing::info!("serving {BUS_NAME}");
    // The session ends (its bus goes) or another provider takes the name: nothing left to do.
    let mut lost = zbus::fdo::DBusProxy::new(&session)
        .await?
        .receive_name_lost()
        .await?;
    let idle = Duration::from_secs(cli.idle_exit);
    loop {
        tokio::select! {
            l = lost.next() => {
                let why = match l {
                    Some(_) => "the bus name was lost",
                    None => "the session bus went away",
                };
                tracing::info!("{why}, exiting");
                return Ok(());
            }
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let since = last_used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed();
        if cli.idle_exit > 0 && since >= idle {
            tracing::info!("idle for {}s, exiting", since.as_secs());
            return Ok(());
        }
    }
}
