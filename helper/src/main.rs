use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

/// The Snapshelf root helper: installs, refreshes, reverts and removes snaps on behalf of callers
/// on the system bus, authorised by polkit.
#[derive(Parser)]
// The last of a repeated option wins (tests give their own confine after the usual arguments).
#[command(name = "snapshelf-helper", version, args_override_self = true)]
struct Args {
    /// The root directory everything lives under (tests and the demo use a scratch directory).
    #[arg(long, default_value = "/")]
    root: PathBuf,
    /// The store to talk to (default: from <root>/etc/snapshelf/config.toml, else the Snap Store).
    #[arg(long)]
    store_url: Option<String>,
    /// An assertion stream of trusted account and account-key assertions (repeatable).
    #[arg(long = "trust")]
    trust: Vec<PathBuf>,
    /// Connect to this bus instead of the system bus.
    #[arg(long)]
    bus_address: Option<String>,
    /// The confine binary that launchers run.
    #[arg(long, default_value = "/usr/libexec/snapshelf/snapshelf-confine")]
    confine: PathBuf,
    /// Never use loop mounts: extract revisions instead (kernels without loop or squashfs).
    #[arg(long)]
    no_loop: bool,
    /// The `snapctl` binary that sandboxes find at /usr/lib/snapd/snapctl.
    #[arg(long, default_value = "/usr/libexec/snapshelf/snapctl")]
    snapctl: PathBuf,
    /// Where the translations are (`<dir>/<lang>/LC_MESSAGES/snapshelf.mo`).
    #[arg(long, default_value = "/usr/share/locale")]
    locale_dir: PathBuf,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    // Two malloc arenas are plenty for a service that is idle most of the time; one per thread
    // (glibc's default) keeps memory resident that a quiet helper never uses again.
    // SAFETY: mallopt only sets an allocator parameter, before any thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    // Words for people (permission labels, change summaries, errors) follow each caller's
    // locale; the service's own is for words said outside a call.
    snapshelf_helper::lang::init(&args.locale_dir);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Threads for file work come and go with changes; an idle helper keeps none for long.
        .thread_keep_alive(std::time::Duration::from_secs(1))
        .max_blocking_threads(32)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("snapshelf-helper: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("snapshelf-helper: {err:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let options = snapshelf_helper::bus::Options {
        root: args.root,
        store_url: args.store_url,
        trust: args.trust,
        bus_address: args.bus_address,
        confine: args.confine,
        allow_loop: !args.no_loop,
        snapctl: args.snapctl,
    };
    let running = snapshelf_helper::bus::start(options)
        .await
        .context("cannot start the helper")?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("stopping");
    drop(running);
    Ok(())
}
