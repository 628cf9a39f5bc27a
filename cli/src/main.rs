//! `snapshelfctl`: see docs/cli.md.

use clap::Parser;

fn main() {
    snapshelfctl::init_locale();
    let cli = snapshelfctl::Cli::parse();
    std::process::exit(snapshelfctl::run(cli));
}
