//! Snapshelf in GNOME Shell's search: `org.gnome.Shell.SearchProvider2` on the session bus,
//! answered from the helper's `ListInstalled` (installed snaps, first) and `Find` (the store).
//! The result IDs are snap names; activating one opens the app on that snap's page.
//!
//! `matches` and `Meta` are pure; `provider` is the D-Bus object.

pub mod provider;

use std::path::{Path, PathBuf};

use sha3::{Digest, Sha3_256};

/// The bus name, object path and interface, as `data/gnome-shell/search-providers/*.ini` says.
pub const BUS_NAME: &str = "io.github.snapshelf.Snapshelf.SearchProvider";
pub const OBJECT_PATH: &str = "/io/github/snapshelf/Snapshelf/SearchProvider";
/// The app's icon, for results that have none of their own.
pub const APP_ICON: &str = "io.github.snapshelf.Snapshelf";

/// What the Shell shows for one result.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub id: String,
    pub name: String,
    pub description: String,
    /// A file (an installed snap's icon, or a store icon already fetched), a URL to fetch, or
    /// empty.
    pub icon: String,
    pub installed: bool,
}

impl Meta {
    /// A result shown by its title (its name where it has none), found by its name.
    pub fn new(
        name: String,
        title: String,
        summary: String,
        icon: String,
        installed: bool,
    ) -> Meta {
        Meta {
            name: if title.is_empty() {
                name.clone()
            } else {
                title
            },
            id: name,
            description: summary,
            icon,
            installed,
        }
    }
}

/// Whether every term is in the snap's name, title or summary (case-insensitive), as the Shell
/// narrows results word by word.
pub fn matches(terms: &[String], name: &str, title: &str, summary: &str) -> bool {
    let hay = format!("{name}\n{title}\n{summary}").to_lowercase();
    terms
        .iter()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .all(|t| hay.contains(&t))
}

/// The terms as one query for the store.
pub fn query(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Installed results first (in the order given), then the store's, each name once, at most `max`.
pub fn merge(installed: Vec<Meta>, store: Vec<Meta>, max: usize) -> Vec<Meta> {
    let mut out: Vec<Meta> = Vec::new();
    for m in installed.into_iter().chain(store) {
        if out.len() == max {
            break;
        }
        if !out.iter().any(|o| o.id == m.id) {
            out.push(m);
        }
    }
    out
}

/// The app's image cache (`$XDG_CACHE_HOME/snapshelf/images`, named by the URL's SHA3-256), which
/// the provider shares so that an icon fetched by either is there for both.
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("snapshelf/images")
}

pub fn cache_path(dir: &Path, url: &str) -> PathBuf {
    dir.join(hex::encode(Sha3_256::digest(url.as_bytes())))
}

pub fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str, installed: bool) -> Meta {
        Meta {
            id: id.into(),
            name: id.into(),
            description: String::new(),
            icon: String::new(),
            installed,
        }
    }

    #[test]
    fn every_term_must_match_somewhere() {
        let t = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(matches(
            &t(&["Shelf", "notes"]),
            "shelf-notes",
            "Shelf Notes",
            "Jot down notes"
        ));
        assert!(matches(
            &t(&["jot"]),
            "shelf-notes",
            "Shelf Notes",
            "Jot down notes"
        ));
        assert!(!matches(&t(&["notes", "clock"]), "shelf-notes", "", ""));
        assert!(matches(&t(&[" ", ""]), "x", "", ""), "no words: everything");
        assert_eq!(query(&t(&[" shelf ", "", "clock"])), "shelf clock");
    }

    #[test]
    fn installed_first_each_once_and_capped() {
        let m = merge(
            vec![meta("a", true), meta("b", true)],
            vec![meta("b", false), meta("c", false), meta("d", false)],
            3,
        );
        let ids: Vec<(&str, bool)> = m.iter().map(|m| (m.id.as_str(), m.installed)).collect();
        assert_eq!(ids, [("a", true), ("b", true), ("c", false)]);
    }

    #[test]
    fn the_cache_is_the_app_s() {
        let p = cache_path(Path::new("/c"), "http://x/icon.png");
        assert_eq!(p.parent(), Some(Path::new("/c")));
        assert_eq!(p.file_name().unwrap().len(), 64);
        assert!(is_url("https://a") && !is_url("/snap/x/icon.png"));
    }
}
