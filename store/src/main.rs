use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// A store that speaks the Snap Store API, over a directory of .snap files.
#[derive(Parser)]
#[command(name = "snapshelf-store", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the embedded sample catalog (snaps, media, catalog.toml and keys) into DIR.
    SampleCatalog {
        dir: PathBuf,
        /// RSA key size for a new key chain (kept if DIR/keys exists).
        #[arg(long, default_value_t = 4096)]
        key_bits: usize,
    },
    /// Generate a synthetic catalog of COUNT tiny snaps into DIR (for benchmarks).
    Generate {
        dir: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        #[arg(long, default_value_t = 2048)]
        key_bits: usize,
    },
    /// Serve a catalog directory.
    Serve {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Base URL written into download and media links (default: from the request's Host).
        #[arg(long)]
        public_url: Option<String>,
        /// RSA key size used if the catalog has no keys yet.
        #[arg(long, default_value_t = 4096)]
        key_bits: usize,
        /// For testing clients: break off every download without Range after this many bytes.
        #[arg(long, hide = true)]
        cut_downloads_after: Option<u64>,
        /// Pace every download at this many bytes a second (a realistic link on loopback).
        #[arg(long, value_name = "BYTES")]
        download_rate: Option<u64>,
        /// Offer no refresh deltas (they are made on demand, and cost CPU time).
        #[arg(long)]
        no_deltas: bool,
        /// Answer downloads with a redirect to URL<NAME>_<REV>.snap (files served from there).
        #[arg(long, value_name = "URL")]
        cdn_url: Option<String>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("snapshelf-store: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn make_keys(dir: &std::path::Path, bits: usize) -> anyhow::Result<()> {
    let catalog = snapshelf_store::catalog::Catalog::load(&dir.join("catalog.toml"))?;
    snapshelf_store::signing::ensure_keys(dir, &catalog.store.authority_id, bits)?;
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::SampleCatalog { dir, key_bits } => {
            snapshelf_store::sample::build(&dir).context("cannot build the sample catalog")?;
            make_keys(&dir, key_bits)?;
            println!("sample catalog ready in {}", dir.display());
            Ok(())
        }
        Command::Generate {
            dir,
            count,
            key_bits,
        } => {
            snapshelf_store::sample::build_generated(&dir, count)
                .context("cannot generate the catalog")?;
            make_keys(&dir, key_bits)?;
            println!("{count} snaps generated in {}", dir.display());
            Ok(())
        }
        Command::Serve {
            dir,
            listen,
            public_url,
            key_bits,
            cut_downloads_after,
            download_rate,
            no_deltas,
            cdn_url,
        } => {
            snapshelf_store::delta::set_enabled(!no_deltas);
            let mut state = snapshelf_store::prepare(&dir, key_bits, public_url)
                .with_context(|| format!("cannot serve {}", dir.display()))?;
            state.cut_downloads_after = cut_downloads_after;
            state.download_rate = download_rate;
            state.cdn_url = cdn_url;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(snapshelf_store::serve(state, listen))
        }
    }
}
