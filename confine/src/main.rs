//! `snapshelf-confine [--root DIR] <snap>.<app> [ARGS...]`: see docs/confine.md.

fn main() {
    snapshelf_confine::timing::init();
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if matches!(args.first().and_then(|a| a.to_str()), Some("--help" | "-h")) {
        println!("{}", snapshelf_confine::run::USAGE);
        return;
    }
    let err = match snapshelf_confine::run::parse_args(args) {
        Ok(inv) => match snapshelf_confine::run::run(inv) {
            Ok(never) => match never {},
            Err(e) => e,
        },
        Err(e) => e,
    };
    eprintln!("snapshelf-confine: {err}");
    std::process::exit(err.exit_code());
}
