//! Snapshelf, the app: a Relm4 (GTK 4, libadwaita) software center over the helper's D-Bus API.
//! One component per file; `client` is the only module that talks to the helper, `words` holds
//! what the app says, `icons` loads and decodes images off the main thread.

pub mod a11y;
pub mod app;
pub mod bench;
pub mod client;
pub mod explore;
pub mod feature_card;
pub mod icons;
pub mod installed;
pub mod loadable;
pub mod local_file;
pub mod permissions;
pub mod progress;
pub mod search;
pub mod snap_page;
pub mod snap_row;
pub mod store_plugs;
pub mod timing;
pub mod ui;
pub mod updates;
pub mod words;

use std::path::PathBuf;

pub const APP_ID: &str = "io.github.snapshelf.Snapshelf";

/// Words in the person's language: the same set-up as the CLI's (`SNAPSHELF_LOCALEDIR` or the
/// system's catalogues).
pub use snapshelf_i18n::init_locale;

/// The launcher that opens an app in its sandbox: `SNAPSHELF_CONFINE`, the installed one, or the
/// one built beside this binary.
pub fn confine_path() -> PathBuf {
    if let Some(p) = std::env::var_os("SNAPSHELF_CONFINE") {
        return p.into();
    }
    for p in [
        "/usr/libexec/snapshelf/snapshelf-confine",
        "/usr/local/libexec/snapshelf/snapshelf-confine",
    ] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("snapshelf-confine")))
        .unwrap_or_else(|| "snapshelf-confine".into())
}

/// Without a GPU, GTK 4.8 draws with GL through Mesa's software rasteriser (llvmpipe): slower and
/// about 75 MB heavier than GTK's own cairo renderer (docs/benchmarks.md). Use cairo there, unless
/// the person chose a renderer (`GSK_RENDERER`). Call before GTK starts, while there is one thread.
pub fn choose_renderer() {
    let gpu = std::fs::read_dir("/dev/dri")
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
        })
        .unwrap_or(false);
    if std::env::var_os("GSK_RENDERER").is_none() && !gpu {
        std::env::set_var("GSK_RENDERER", "cairo");
    }
}
