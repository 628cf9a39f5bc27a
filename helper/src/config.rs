//! `/etc/snapshelf/config.toml`: the store URL, extra trusted keys and how many revisions to keep.
//!
//! ```toml
//! store-url = "http://127.0.0.1:8080"
//! trusted = ["/etc/snapshelf/trusted.d/mystore.assert"]
//! retain = 2
//! hook-timeout = 600   # seconds a hook may run (snapd's default)
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The real Snap Store, used when no store is configured.
pub const DEFAULT_STORE_URL: &str = "https://api.snapcraft.io";
pub const DEFAULT_RETAIN: u32 = 2;
/// snapd's maximum run time of a hook: ten minutes.
pub const DEFAULT_HOOK_TIMEOUT: u64 = 600;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ConfigToml {
    store_url: Option<String>,
    #[serde(default)]
    trusted: Vec<PathBuf>,
    retain: Option<u32>,
    hook_timeout: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub store_url: String,
    /// Assertion streams of trusted `account` + `account-key`s, besides the built-in real root.
    pub trusted: Vec<PathBuf>,
    /// How many revisions of each snap to keep (the current one included); at least 2.
    pub retain: u32,
    /// Seconds a hook may run before it is killed and fails.
    pub hook_timeout: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            store_url: DEFAULT_STORE_URL.into(),
            trusted: Vec::new(),
            retain: DEFAULT_RETAIN,
            hook_timeout: DEFAULT_HOOK_TIMEOUT,
        }
    }
}

impl Config {
    /// Read the file; a missing file means the defaults.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.into(),
                    source,
                })
            }
        };
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.into(),
            message,
        };
        let raw: ConfigToml = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let store_url = raw.store_url.unwrap_or_else(|| DEFAULT_STORE_URL.into());
        if !(store_url.starts_with("http://") || store_url.starts_with("https://")) {
            return Err(invalid(format!(
                "store-url {store_url:?} must start with http:// or https://"
            )));
        }
        let retain = raw.retain.unwrap_or(DEFAULT_RETAIN);
        if !(2..=20).contains(&retain) {
            return Err(invalid(format!(
                "retain = {retain}: keep between 2 and 20 revisions (revert needs the previous one)"
            )));
        }
        let hook_timeout = raw.hook_timeout.unwrap_or(DEFAULT_HOOK_TIMEOUT);
        if !(1..=86400).contains(&hook_timeout) {
            return Err(invalid(format!(
                "hook-timeout = {hook_timeout}: give between 1 and 86400 seconds"
            )));
        }
        Ok(Config {
            store_url,
            trusted: raw.trusted,
            retain,
            hook_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let p = Path::new("config.toml");
        assert_eq!(Config::parse("", p).unwrap(), Config::default());
        let c = Config::parse(
            "store-url = \"http://127.0.0.1:9\"\nretain = 3\ntrusted = [\"/a.assert\"]\n",
            p,
        )
        .unwrap();
        assert_eq!(c.store_url, "http://127.0.0.1:9");
        assert_eq!(c.retain, 3);
        assert_eq!(c.trusted, vec![PathBuf::from("/a.assert")]);
        assert_eq!(c.hook_timeout, DEFAULT_HOOK_TIMEOUT);
        let c = Config::parse("hook-timeout = 5\n", p).unwrap();
        assert_eq!(c.hook_timeout, 5);
    }

    #[test]
    fn bad_values_are_named() {
        let p = Path::new("config.toml");
        for (text, word) in [
            ("retain = 1", "retain"),
            ("store-url = \"ftp://x\"", "store-url"),
            ("colour = 1", "colour"),
            ("retain = \"two\"", "retain"),
            ("hook-timeout = 0", "hook-timeout"),
        ] {
            let e = Config::parse(text, p).unwrap_err().to_string();
            assert!(e.contains(word), "{e}");
        }
    }

    #[test]
    fn a_missing_file_is_the_defaults() {
        assert_eq!(
            Config::load(Path::new("/nonexistent/snapshelf.toml")).unwrap(),
            Config::default()
        );
    }
}
