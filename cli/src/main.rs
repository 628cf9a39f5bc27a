//! `snapshelfctl`: see docs/cli.md.

use clap::Parser;

fn main() {
    let cli = snapshelfctl::Cli::parse();
    std::process::exit(snapshelfctl::run(cli));
}
