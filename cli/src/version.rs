//! `snapshelfctl version`: this program's version and what snaps may `assume` of Snapshelf (the
//! one list in `snapshelf_snap::assumes`), as `snap version` shows snapd's. No D-Bus: it answers
//! when the helper is not running too.

use serde_json::json;
use snapshelf_snap::assumes::{FEATURES, SNAPD_VERSION};

use crate::failure::Res;

/// The `assumes` entries a snap may use: the features, then the snapd version they amount to.
pub(crate) fn assumes_entries() -> Vec<String> {
    FEATURES
        .iter()
        .map(|(f, _)| f.to_string())
        .chain([format!("snapd{SNAPD_VERSION}")])
        .collect()
}

pub(crate) fn version(json: bool) -> Res<()> {
    let version = env!("CARGO_PKG_VERSION");
    if json {
        println!(
            "{}",
            json!({"version": version, "assumes": assumes_entries(), "snapd-version": SNAPD_VERSION})
        );
    } else {
        let rows = vec![vec!["assumes".to_string(), assumes_entries().join(" ")]];
        println!(
            "{}",
            crate::output::table(&["snapshelfctl", version], &rows)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_entries_end_with_the_snapd_version() {
        let e = super::assumes_entries();
        assert!(e.contains(&"command-chain".to_string()));
        assert_eq!(e.last().unwrap(), "snapd2.40");
    }
}
