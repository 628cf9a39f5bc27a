//! `snapshelfctl`: see docs/cli.md.

use clap::Parser;

fn main() {
    snapshelfctl::init_locale();
    // Run as `snap` (the package's link, for xdg-desktop-portal): `snap routine …` only.
    let args = match snapshelfctl::as_snap(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let cli = snapshelfctl::Cli::parse_from(args);
    std::process::exit(snapshelfctl::run(cli));
}
