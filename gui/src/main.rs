//! `snapshelf [FILE.snap]`: the software center. See README.md.

use std::path::PathBuf;

use clap::Parser;
use relm4::gtk::gio;
use relm4::gtk::gio::prelude::FileExt;
use relm4::{adw, RelmApp};

use snapshelf::app::{App, AppInit};

#[derive(Parser, Debug)]
#[command(name = "snapshelf", version, about = "A software center for snaps")]
struct Cli {
    /// A .snap file to show (and offer to install).
    file: Option<PathBuf>,
    /// Talk to the helper on this bus instead of the system bus.
    #[arg(long, value_name = "ADDRESS")]
    bus_address: Option<String>,
    /// The page to start on: explore, search, installed or updates.
    #[arg(long, value_parser = ["explore", "search", "installed", "updates"])]
    page: Option<String>,
    /// Open this snap's page (what the desktop's search opens).
    #[arg(long, value_name = "NAME")]
    snap: Option<String>,
    /// Search for these words at once.
    #[arg(long, value_name = "WORDS")]
    search: Option<String>,
    /// Benchmark: open N snap pages one after another, log the memory used, quit.
    #[arg(long, value_name = "N", hide = true)]
    bench_browse: Option<usize>,
}

fn main() {
    snapshelf::timing::mark_start();
    snapshelf::choose_renderer();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    snapshelf::init_locale();
    let cli = Cli::parse();
    snapshelf::client::set_bus_address(cli.bus_address.clone());

    // A file manager may hand over a file:// URI instead of a path.
    let file = cli.file.map(|f| match f.to_str() {
        Some(uri) if uri.starts_with("file://") => gio::File::for_uri(uri).path().unwrap_or(f),
        _ => std::path::absolute(&f).unwrap_or(f),
    });
    // Several windows may run side by side (a file opened from the file manager while the app is
    // open): each is its own process.
    let app = adw::Application::builder()
        .application_id(snapshelf::APP_ID)
        .flags(gio::ApplicationFlags::NON_UNIQUE)
        .build();
    let relm = RelmApp::from_app(app).with_args(Vec::new());
    relm.run::<App>(AppInit {
        page: cli.page,
        file,
        snap: cli.snap,
        search: cli.search,
        browse: cli.bench_browse,
    });
}
