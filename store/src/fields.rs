//! `fields=`: which keys of a snap and of its revisions an answer carries. Without it the real
//! store answers a small default set (api.snapcraft.io's documentation of `snap_info`), not
//! everything: no description, media, categories, epoch or snap-yaml.

use std::collections::HashSet;

use serde_json::Value;

/// Every key a client may ask for in `fields`.
pub const KNOWN: &[&str] = &[
    "architectures",
    "base",
    "categories",
    "channel",
    "common-ids",
    "confinement",
    "contact",
    "created-at",
    "description",
    "download",
    "epoch",
    "integrity",
    "license",
    "links",
    "media",
    "name",
    "prices",
    "private",
    "publisher",
    "resources",
    "revision",
    "snap-id",
    "snap-yaml",
    "store-url",
    "summary",
    "title",
    "type",
    "version",
    "website",
];

/// What the real store answers when a request names no `fields`.
pub const DEFAULT: &[&str] = &[
    "created-at",
    "download",
    "license",
    "name",
    "prices",
    "publisher",
    "revision",
    "snap-id",
    "store-url",
    "summary",
    "title",
    "type",
    "version",
];

/// The fields of a request: those named (each checked), or the default set.
pub fn parse<'a>(named: Option<impl Iterator<Item = &'a str>>) -> Result<HashSet<String>, String> {
    let Some(named) = named else {
        return Ok(default());
    };
    let mut set = HashSet::new();
    for f in named.map(str::trim).filter(|f| !f.is_empty()) {
        if !KNOWN.contains(&f) {
            return Err(format!("unknown field {f:?}"));
        }
        set.insert(f.to_string());
    }
    Ok(set)
}

pub fn default() -> HashSet<String> {
    DEFAULT.iter().map(|f| f.to_string()).collect()
}

/// Keep only the keys asked for in one object of an answer, and those in `keep` (which the
/// real store always sends).
pub fn project(v: &mut Value, fields: &HashSet<String>, keep: &[&str]) {
    if let Value::Object(m) = v {
        m.retain(|k, _| fields.contains(k) || keep.contains(&k.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_named_sets() {
        let d = parse(None::<std::str::Split<'_, char>>).unwrap();
        assert!(d.contains("download") && !d.contains("description") && !d.contains("media"));
        let named = parse(Some("revision, snap-yaml".split(','))).unwrap();
        assert_eq!(named.len(), 2);
        let err = parse(Some("revision,colour".split(','))).unwrap_err();
        assert!(err.contains("colour"), "{err}");
        let mut v = serde_json::json!({"name": "a", "description": "b", "channel": "c"});
        project(&mut v, &d, &["channel"]);
        assert_eq!(v, serde_json::json!({"name": "a", "channel": "c"}));
    }
}
