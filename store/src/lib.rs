//! `snapshelf-store`: a store server over a directory of `.snap` files that speaks the Snap Store
//! API v2 subset snapd uses. The embedded default for the demo and the tests, and an offline
//! mirror or private store in its own right.

pub mod catalog;
pub mod delta;
pub mod fields;
pub mod index;
pub mod model;
pub mod sample;
pub mod search;
pub mod sendfile;
pub mod server;
pub mod signing;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// Load (or prepare) a catalog directory and build the server state.
pub fn prepare(
    dir: &Path,
    key_bits: usize,
    public_url: Option<String>,
) -> anyhow::Result<server::AppState> {
    let model = model::Model::load(dir)?;
    let authority = model.catalog.store.authority_id.clone();
    signing::ensure_keys(dir, &authority, key_bits)?;
    let signer = signing::Signer::load(dir, &authority)?;
    Ok(server::AppState {
        model,
        signer,
        public_url,
        cut_downloads_after: None,
        download_rate: None,
        cdn_url: None,
    })
}

/// Serve until the process is told to stop. Prints `listening on http://<addr>` on stdout once the
/// socket is bound, so scripts and tests can wait for it (and learn the port of `:0`).
pub async fn serve(state: server::AppState, listen: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, snaps = state.model.snaps.len(), "store ready");
    println!("listening on http://{addr}");
    use std::io::Write;
    std::io::stdout().flush()?;
    let state = Arc::new(state);
    let app = server::router(state.clone());
    // Downloads are answered with sendfile(2) before axum sees their connection.
    let listener = sendfile::listen(listener, state, app.clone())?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        })
        .await?;
    Ok(())
}
