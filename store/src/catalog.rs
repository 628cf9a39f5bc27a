//! The human-written catalog file (`<dir>/catalog.toml`): publishers, and per snap its channels,
//! categories, links and media. What a snap *is* (title, version, apps…) comes from its `.snap` files.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Deserialize;
use sha3::{Digest, Sha3_256};
use snapshelf_snap::naming::validate_snap_name;

/// The risks of a track, most stable first.
pub const RISKS: [&str; 4] = ["stable", "candidate", "beta", "edge"];

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("{path}: {field}: {message}")]
    Invalid {
        path: String,
        field: String,
        message: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct StoreSection {
    pub authority_id: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Publisher {
    pub id: String,
    #[serde(default)]
    pub username: Option<String>,
    pub display_name: String,
    #[serde(default = "default_validation")]
    pub validation: String,
}

fn default_validation() -> String {
    "unproven".into()
}

impl Publisher {
    pub fn username(&self) -> &str {
        self.username.as_deref().unwrap_or(&self.id)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SnapEntry {
    pub name: String,
    #[serde(default)]
    pub snap_id: Option<String>,
    #[serde(default)]
    pub publisher: Option<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub featured: bool,
    #[serde(default)]
    pub license: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub contact: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub issues: Option<String>,
    #[serde(default)]
    pub donation: Option<String>,
    #[serde(default)]
    pub icon: Option<String>,
    #[serde(default)]
    pub screenshots: Vec<String>,
    #[serde(default)]
    pub common_ids: Vec<String>,
    /// The track a channel without one (`stable`, `beta`) stands for; answers then carry
    /// `redirect-channel`, as the real store does for snaps with a default track.
    #[serde(default)]
    pub default_track: Option<String>,
    /// `"<track>/<risk>[/<branch>]"` (or `"<risk>"`, meaning track `latest`) → a revision, or the
    /// channel's release history, oldest first: for each architecture the last revision built for
    /// it is the channel's head there, the earlier ones are what epoch bridges are chosen from.
    #[serde(default)]
    pub channels: BTreeMap<String, Releases>,
    /// Automatic aliases the snap-declaration grants: alias → app (its `aliases` header).
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
    /// The older form: alias names the snap.yaml's apps declare (its `auto-aliases` header).
    #[serde(default)]
    pub auto_aliases: Vec<String>,
    /// The snap-declaration's `plugs` header: interface → its rules, as snapd writes them
    /// (`browser-support = { allow-auto-connection = { plug-attributes = { allow-sandbox =
    /// "true" } } }`); booleans and numbers become text.
    #[serde(default)]
    pub declaration_plugs: Option<serde_json::Value>,
}

/// What a catalog channel holds: one revision, or its release history (oldest first).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Releases {
    One(u32),
    History(Vec<u32>),
}

impl Releases {
    pub fn revisions(&self) -> Vec<u32> {
        match self {
            Releases::One(r) => vec![*r],
            Releases::History(h) => h.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct CatalogFileToml {
    store: StoreSection,
    #[serde(default, rename = "publisher")]
    publishers: Vec<Publisher>,
    #[serde(default, rename = "snap")]
    snaps: Vec<SnapEntry>,
}

/// A validated catalog file.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub store: StoreSection,
    pub publishers: Vec<Publisher>,
    pub snaps: Vec<SnapEntry>,
}

/// A channel as `(track, risk)`.
pub type Channel = (String, String);

/// A channel as a client names it: the track only when it was named (a snap's default track
/// stands in for a missing one), the risk, and a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRef {
    pub track: Option<String>,
    pub risk: String,
    pub branch: Option<String>,
}

fn valid_track(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 28
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// Branch names as snapd allows them: letters, digits, `.`, `-`, `_`, not starting with `-`.
fn valid_branch(b: &str) -> bool {
    !b.is_empty()
        && b.len() <= 128
        && !b.starts_with('-')
        && b.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// Parse a full channel name as snapd does: `risk`, `track`, `track/risk`, `risk/branch`,
/// `track/risk/branch`.
pub fn parse_channel_ref(text: &str) -> Result<ChannelRef, String> {
    let parts: Vec<&str> = text.split('/').collect();
    let risk = |r: &str| RISKS.contains(&r);
    let (track, risk_name, branch) = match parts.as_slice() {
        [one] if risk(one) => (None, *one, None),
        [one] if valid_track(one) => (Some(*one), "stable", None),
        [r, b] if risk(r) && valid_branch(b) => (None, *r, Some(*b)),
        [t, r] if valid_track(t) && risk(r) => (Some(*t), *r, None),
        [t, r, b] if valid_track(t) && risk(r) && valid_branch(b) => (Some(*t), *r, Some(*b)),
        _ => {
            return Err(format!(
                "invalid channel {text:?} (expected [<track>/]<risk>[/<branch>] with risk stable, candidate, beta or edge)"
            ))
        }
    };
    Ok(ChannelRef {
        track: track.map(str::to_string),
        risk: risk_name.to_string(),
        branch: branch.map(str::to_string),
    })
}

/// Parse `latest/stable`, `stable`, `2.0`, `2.0/edge` the way snapd reads a channel name.
/// A lone word that is a risk means track `latest`; a lone other word is a track at risk `stable`.
/// Branches are refused here (see [`parse_channel_ref`]).
pub fn parse_channel(text: &str) -> Result<Channel, String> {
    match parse_channel_ref(text)? {
        ChannelRef {
            track,
            risk,
            branch: None,
        } => Ok((track.unwrap_or_else(|| "latest".into()), risk)),
        _ => Err(format!(
            "invalid channel {text:?} (expected <track>/<risk> with risk stable, candidate, beta or edge)"
        )),
    }
}

/// A stable snap id derived from the name: 32 characters of `[A-Za-z0-9]`, like the real store's ids.
pub fn derive_snap_id(name: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let digest = Sha3_256::digest(format!("snapshelf-snap-id:{name}").as_bytes());
    digest
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

fn valid_account_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Catalog {
    pub fn load(path: &Path) -> Result<Self, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, path: &str) -> Result<Self, CatalogError> {
        let raw: CatalogFileToml = toml::from_str(text).map_err(|e| CatalogError::Syntax {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        let invalid = |field: String, message: String| CatalogError::Invalid {
            path: path.to_string(),
            field,
            message,
        };
        if !valid_account_id(&raw.store.authority_id) {
            return Err(invalid(
                "store.authority-id".into(),
                "must be 1-64 characters of letters, digits, '-' or '_'".into(),
            ));
        }
        let mut publisher_ids = HashSet::new();
        for (i, p) in raw.publishers.iter().enumerate() {
            if !valid_account_id(&p.id) {
                return Err(invalid(
                    format!("publisher[{i}].id"),
                    "must be 1-64 characters of letters, digits, '-' or '_'".into(),
                ));
            }
            if !["verified", "starred", "unproven"].contains(&p.validation.as_str()) {
                return Err(invalid(
                    format!("publisher[{i}].validation"),
                    format!(
                        "unknown validation {:?} (expected verified, starred or unproven)",
                        p.validation
                    ),
                ));
            }
            if !publisher_ids.insert(p.id.clone()) {
                return Err(invalid(
                    format!("publisher[{i}].id"),
                    format!("duplicate publisher {:?}", p.id),
                ));
            }
        }
        let mut names = HashSet::new();
        let mut ids = HashSet::new();
        let mut snaps = raw.snaps;
        for snap in &mut snaps {
            let field = |f: &str| format!("snap.{}.{f}", snap.name);
            validate_snap_name(&snap.name)
                .map_err(|e| invalid(format!("snap.{}", snap.name), e.to_string()))?;
            if !names.insert(snap.name.clone()) {
                return Err(invalid(
                    format!("snap.{}", snap.name),
                    "listed twice".into(),
                ));
            }
            let id = snap
                .snap_id
                .get_or_insert_with(|| derive_snap_id(&snap.name))
                .clone();
            if id.len() != 32 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(invalid(
                    field("snap-id"),
                    "must be 32 letters or digits".into(),
                ));
            }
            if !ids.insert(id) {
                return Err(invalid(field("snap-id"), "used by another snap".into()));
            }
            if let Some(p) = &snap.publisher {
                if !publisher_ids.contains(p) && p != &raw.store.authority_id {
                    return Err(invalid(
                        field("publisher"),
                        format!("unknown publisher {p:?} (add a [[publisher]] entry)"),
                    ));
                }
            }
            for (alias, app) in &snap.aliases {
                snapshelf_snap::naming::validate_alias_name(alias)
                    .map_err(|e| invalid(field("aliases"), e.0))?;
                snapshelf_snap::naming::validate_app_name(app)
                    .map_err(|e| invalid(field("aliases"), format!("{alias}: {e}")))?;
            }
            for alias in &snap.auto_aliases {
                snapshelf_snap::naming::validate_alias_name(alias)
                    .map_err(|e| invalid(field("auto-aliases"), e.0))?;
            }
            for (channel, releases) in &snap.channels {
                parse_channel_ref(channel).map_err(|e| invalid(field("channels"), e))?;
                let revs = releases.revisions();
                if revs.contains(&0) || revs.is_empty() {
                    return Err(invalid(
                        field("channels"),
                        format!("{channel:?} needs revisions of 1 or more"),
                    ));
                }
            }
            if let Some(track) = &snap.default_track {
                if !valid_track(track) {
                    return Err(invalid(
                        field("default-track"),
                        format!("{track:?} is not a track name"),
                    ));
                }
            }
            for (key, path) in snap
                .icon
                .iter()
                .map(|p| ("icon", p))
                .chain(snap.screenshots.iter().map(|p| ("screenshots", p)))
            {
                if !is_safe_relative(path) {
                    return Err(invalid(
                        field(key),
                        format!("{path:?} must be a relative path inside media/ without '..'"),
                    ));
                }
            }
        }
        Ok(Catalog {
            store: raw.store,
            publishers: raw.publishers,
            snaps,
        })
    }

    pub fn publisher(&self, id: &str) -> Option<&Publisher> {
        self.publishers.iter().find(|p| p.id == id)
    }
}

/// A media path is served from `<dir>/media/`; it may not climb out of it.
pub fn is_safe_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[store]
authority-id = "teststore"
display-name = "Test Store"

[[publisher]]
id = "acme"
display-name = "Acme"
validation = "verified"

[[snap]]
name = "hello"
publisher = "acme"
categories = ["utilities"]
icon = "hello/icon.png"
default-track = "2.0"
channels = { "latest/stable" = 1, "edge" = 3, "2.0/candidate" = [1, 2], "stable/fix" = 2 }
"#;

    #[test]
    fn parses_and_derives_ids() {
        let c = Catalog::parse(GOOD, "catalog.toml").unwrap();
        assert_eq!(c.snaps.len(), 1);
        let id = c.snaps[0].snap_id.clone().unwrap();
        assert_eq!(id.len(), 32);
        assert_eq!(id, derive_snap_id("hello"), "ids are stable");
        assert_ne!(derive_snap_id("hello"), derive_snap_id("hellp"));
        assert_eq!(c.publisher("acme").unwrap().username(), "acme");
    }

    #[test]
    fn channels_parse_like_snapd() {
        assert_eq!(
            parse_channel("stable").unwrap(),
            ("latest".into(), "stable".into())
        );
        assert_eq!(
            parse_channel("2.0").unwrap(),
            ("2.0".into(), "stable".into())
        );
        assert_eq!(
            parse_channel("2.0/edge").unwrap(),
            ("2.0".into(), "edge".into())
        );
        assert!(parse_channel("latest/sometimes").is_err());
        assert!(parse_channel("a/b/c/d").is_err());
        assert!(parse_channel("").is_err());
        assert!(
            parse_channel("stable/hotfix").is_err(),
            "branches need parse_channel_ref"
        );
        let r = parse_channel_ref("stable/hotfix-1").unwrap();
        assert_eq!(
            (r.track, r.risk, r.branch.as_deref()),
            (None, "stable".into(), Some("hotfix-1"))
        );
        let r = parse_channel_ref("2.0/beta/fix").unwrap();
        assert_eq!(r.track.as_deref(), Some("2.0"));
        assert_eq!(r.branch.as_deref(), Some("fix"));
        assert_eq!(
            parse_channel_ref("beta").unwrap().track,
            None,
            "a missing track is kept missing"
        );
        assert!(parse_channel_ref("2.0/beta/-x").is_err());
        assert!(parse_channel_ref("2.0/beta/a/b").is_err());
    }

    #[test]
    fn rejects_bad_entries_naming_the_field() {
        let cases = [
            (
                GOOD.replace("\"acme\"\ncategories", "\"nobody\"\ncategories"),
                "publisher",
            ),
            (GOOD.replace("hello/icon.png", "../../etc/passwd"), "icon"),
            (
                GOOD.replace("\"edge\" = 3", "\"latest/sometimes\" = 3"),
                "channels",
            ),
            (
                GOOD.replace("name = \"hello\"", "name = \"Hello--\""),
                "snap.Hello--",
            ),
            (GOOD.replace("verified", "royal"), "validation"),
            (GOOD.replace("categories", "categorys"), "unknown field"),
            (GOOD.replace("\"edge\" = 3", "\"edge\" = 0"), "channels"),
            (GOOD.replace("\"edge\" = 3", "\"edge\" = []"), "channels"),
            (GOOD.replace("= \"2.0\"", "= \"no/slash\""), "default-track"),
        ];
        for (text, expect) in cases {
            let err = Catalog::parse(&text, "catalog.toml")
                .unwrap_err()
                .to_string();
            assert!(err.contains(expect), "{err:?} should mention {expect:?}");
        }
    }

    #[test]
    fn safe_relative_paths() {
        assert!(is_safe_relative("a/b.png"));
        for bad in ["", "/etc/passwd", "a/../b", "./a", "a//b", "a\\b", ".."] {
            assert!(!is_safe_relative(bad), "{bad}");
        }
    }
}
