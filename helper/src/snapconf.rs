//! Per-snap configuration documents with snapd's rules (`overlord/configstate/config`): dotted
//! keys whose parts are lowercase words joined by single dashes, nested objects, `null` unsetting,
//! and a transaction that collects changes over the stored ("pristine") document and merges them
//! deterministically when it commits: a change to `a.b` merges into the object at `a`, a whole
//! value set at `a` replaces it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid option name: {0:?}")]
    InvalidKey(String),
    #[error("snap {snap:?} option {key:?} is not a map")]
    NotAMap { snap: String, key: String },
    #[error("snap {0:?} has no configuration")]
    NoConfig(String),
    #[error("snap {snap:?} has no {key:?} configuration option")]
    NoOption { snap: String, key: String },
}

impl ConfigError {
    /// Nothing is set at the key (or at all): `snapctl get` prints nothing, `GetConfig` answers
    /// `NoSuchOption`.
    pub fn is_no_option(&self) -> bool {
        matches!(
            self,
            ConfigError::NoConfig(_) | ConfigError::NoOption { .. }
        )
    }
}

pub type Result<T> = std::result::Result<T, ConfigError>;

/// snapd's `validKey`: `^(?:[a-z0-9]+-?)*[a-z](?:-?[a-z0-9])*$`, that is lowercase letters and
/// digits in dash-separated words, at least one letter, no leading, trailing or double dash.
pub fn valid_key_part(part: &str) -> bool {
    !part.is_empty()
        && part.bytes().any(|b| b.is_ascii_lowercase())
        && part
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !part.starts_with('-')
        && !part.ends_with('-')
        && !part.contains("--")
}

/// A dotted key as its parts; `""` is the whole document.
pub fn parse_key(key: &str) -> Result<Vec<String>> {
    if key.is_empty() {
        return Ok(Vec::new());
    }
    key.split('.')
        .map(|p| {
            if valid_key_part(p) {
                Ok(p.to_string())
            } else {
                Err(ConfigError::InvalidKey(p.to_string()))
            }
        })
        .collect()
}

/// The first object key anywhere in `value` that is not a valid option name. snapd refuses such
/// values for core26 bases and warns for older ones; the caller decides.
pub fn invalid_value_key(value: &Value) -> Option<String> {
    match value {
        Value::Object(m) => m.iter().find_map(|(k, v)| {
            if valid_key_part(k) {
                invalid_value_key(v)
            } else {
                Some(k.clone())
            }
        }),
        Value::Array(a) => a.iter().find_map(invalid_value_key),
        _ => None,
    }
}

/// One pending change: a value set whole (`null` unsets), or changes below a key.
#[derive(Debug, Clone, PartialEq)]
enum Change {
    Value(Value),
    Below(BTreeMap<String, Change>),
}

/// Changes to one snap's document, over the document as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    snap: String,
    pristine: Map<String, Value>,
    changes: BTreeMap<String, Change>,
}

impl Transaction {
    pub fn new(snap: &str, pristine: Map<String, Value>) -> Self {
        Transaction {
            snap: snap.to_string(),
            pristine,
            changes: BTreeMap::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Set `key` to `value` (`null` unsets) in the pending changes.
    pub fn set(&mut self, key: &str, value: Value) -> Result<()> {
        let parts = parse_key(key)?;
        if parts.is_empty() {
            return Err(ConfigError::InvalidKey(String::new()));
        }
        if let Some(bad) = invalid_value_key(&value) {
            tracing::warn!(snap = %self.snap, key, "option value has an invalid field name {bad:?}");
        }
        // As snapd: a nested key cannot go through a stored value that is not an object.
        if parts.len() > 1 {
            match lookup(&self.snap, &parts, &self.pristine) {
                Ok(_) => {}
                Err(e) if e.is_no_option() => {}
                Err(e) => return Err(e),
            }
        }
        patch(&self.snap, &parts, 0, &mut self.changes, value)
    }

    /// The value at `key` (`""`: the whole document) with the pending changes applied.
    pub fn get(&self, key: &str) -> Result<Value> {
        let parts = parse_key(key)?;
        lookup(&self.snap, &parts, &self.document())
    }

    /// The document as it will be once committed: changes merged, `null`s purged.
    pub fn document(&self) -> Map<String, Value> {
        let mut doc = self.pristine.clone();
        apply(&mut doc, &self.changes);
        purge_nulls(&mut doc);
        doc
    }
}

fn patch(
    snap: &str,
    parts: &[String],
    pos: usize,
    changes: &mut BTreeMap<String, Change>,
    value: Value,
) -> Result<()> {
    let key = &parts[pos];
    if pos + 1 == parts.len() {
        changes.insert(key.clone(), Change::Value(value));
        return Ok(());
    }
    match changes
        .entry(key.clone())
        .or_insert_with(|| Change::Below(BTreeMap::new()))
    {
        Change::Below(m) => patch(snap, parts, pos + 1, m, value),
        // A value set whole earlier in this transaction is changed inside and stays whole, as
        // snapd's raw values do: it still replaces what is stored when committed.
        Change::Value(v) => patch_value(snap, parts, pos, v, value),
    }
}

fn patch_value(
    snap: &str,
    parts: &[String],
    pos: usize,
    at: &mut Value,
    value: Value,
) -> Result<()> {
    if at.is_null() {
        *at = Value::Object(Map::new());
    }
    let Value::Object(m) = at else {
        return Err(ConfigError::NotAMap {
            snap: snap.to_string(),
            key: parts[..=pos].join("."),
        });
    };
    let next = &parts[pos + 1];
    if pos + 2 == parts.len() {
        m.insert(next.clone(), value);
        return Ok(());
    }
    patch_value(
        snap,
        parts,
        pos + 1,
        m.entry(next.clone()).or_insert(Value::Null),
        value,
    )
}

fn apply(doc: &mut Map<String, Value>, changes: &BTreeMap<String, Change>) {
    for (k, change) in changes {
        match change {
            Change::Value(v) => {
                doc.insert(k.clone(), v.clone());
            }
            Change::Below(below) => {
                let slot = doc.entry(k.clone()).or_insert(Value::Null);
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                if let Value::Object(m) = slot {
                    apply(m, below);
                }
            }
        }
    }
}

/// Drop `null` members of objects, at any depth (arrays keep theirs, as in snapd).
fn purge_nulls(doc: &mut Map<String, Value>) {
    doc.retain(|_, v| !v.is_null());
    for v in doc.values_mut() {
        if let Value::Object(m) = v {
            purge_nulls(m);
        }
    }
}

fn lookup(snap: &str, parts: &[String], doc: &Map<String, Value>) -> Result<Value> {
    if parts.is_empty() {
        if doc.is_empty() {
            return Err(ConfigError::NoConfig(snap.to_string()));
        }
        return Ok(Value::Object(doc.clone()));
    }
    let mut at = doc;
    for (i, part) in parts.iter().enumerate() {
        let Some(v) = at.get(part) else {
            return Err(ConfigError::NoOption {
                snap: snap.to_string(),
                key: parts[..=i].join("."),
            });
        };
        if i + 1 == parts.len() {
            return Ok(v.clone());
        }
        match v {
            Value::Object(m) => at = m,
            _ => {
                return Err(ConfigError::NotAMap {
                    snap: snap.to_string(),
                    key: parts[..=i].join("."),
                })
            }
        }
    }
    unreachable!("the loop returns at the last part")
}

/// A value as Go's `json.MarshalIndent(v, "", "\t")` writes it (what snapd prints): keys
/// sorted, tab indentation, `<`, `>` and `&` escaped.
pub fn go_indent(value: &Value) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(value, &mut ser).expect("a Value always serialises");
    go_escape(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

/// A value as Go's `json.Marshal` writes it (compact).
pub fn go_compact(value: &Value) -> String {
    go_escape(value.to_string())
}

fn go_escape(s: String) -> String {
    // Outside strings JSON has none of these characters, so replacing them everywhere is exact.
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn key_rules_are_snapds() {
        for good in ["a", "a1", "1a", "foo-bar", "a-1-b", "x0", "9-z"] {
            assert!(valid_key_part(good), "{good}");
        }
        for bad in ["", "1", "-a", "a-", "a--b", "A", "a_b", "a b", "12-34", "é"] {
            assert!(!valid_key_part(bad), "{bad}");
        }
        assert_eq!(parse_key("a.b-c").unwrap(), vec!["a", "b-c"]);
        assert_eq!(
            parse_key("a..b").unwrap_err().to_string(),
            "invalid option name: \"\""
        );
        assert_eq!(
            parse_key("Foo").unwrap_err().to_string(),
            "invalid option name: \"Foo\""
        );
        assert_eq!(parse_key("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn nested_sets_merge_and_whole_values_replace() {
        let mut tx = Transaction::new("s", doc(json!({"a": {"x": 1, "y": 2}, "k": "v"})));
        tx.set("a.z", json!(3)).unwrap();
        assert_eq!(tx.get("a").unwrap(), json!({"x": 1, "y": 2, "z": 3}));
        tx.set("a", json!({"w": 0})).unwrap();
        assert_eq!(tx.get("a").unwrap(), json!({"w": 0}));
        tx.set("a.v", json!(true)).unwrap();
        assert_eq!(tx.get("a").unwrap(), json!({"w": 0, "v": true}));
        assert_eq!(tx.get("k").unwrap(), json!("v"));
    }

    #[test]
    fn null_unsets_at_any_depth() {
        let mut tx = Transaction::new("s", doc(json!({"a": {"x": 1, "y": 2}, "k": "v"})));
        tx.set("a.x", Value::Null).unwrap();
        tx.set("k", Value::Null).unwrap();
        assert_eq!(tx.document(), doc(json!({"a": {"y": 2}})));
        tx.set("a", json!({"n": null, "m": 1})).unwrap();
        assert_eq!(tx.document(), doc(json!({"a": {"m": 1}})));
        let e = tx.get("k").unwrap_err();
        assert_eq!(
            e.to_string(),
            "snap \"s\" has no \"k\" configuration option"
        );
        assert!(e.is_no_option());
    }

    #[test]
    fn going_through_a_value_that_is_not_an_object_fails() {
        let mut tx = Transaction::new("s", doc(json!({"a": "text"})));
        assert_eq!(
            tx.set("a.b", json!(1)).unwrap_err().to_string(),
            "snap \"s\" option \"a\" is not a map"
        );
        tx.set("c", json!(5)).unwrap();
        assert!(matches!(
            tx.set("c.d", json!(1)),
            Err(ConfigError::NotAMap { .. })
        ));
        assert_eq!(
            tx.get("a.b").unwrap_err().to_string(),
            "snap \"s\" option \"a\" is not a map"
        );
        assert!(tx.set("a", json!({"b": 1})).is_ok());
    }

    #[test]
    fn an_empty_document_has_no_configuration() {
        let tx = Transaction::new("s", Map::new());
        assert_eq!(tx.get("").unwrap_err(), ConfigError::NoConfig("s".into()));
        assert_eq!(
            tx.get("a.b").unwrap_err().to_string(),
            "snap \"s\" has no \"a\" configuration option"
        );
    }

    #[test]
    fn merging_is_deterministic() {
        let mut a = Transaction::new("s", Map::new());
        let mut b = Transaction::new("s", Map::new());
        a.set("x.b", json!(1)).unwrap();
        a.set("x.a", json!(2)).unwrap();
        b.set("x.a", json!(2)).unwrap();
        b.set("x.b", json!(1)).unwrap();
        assert_eq!(
            serde_json::to_string(&a.document()).unwrap(),
            serde_json::to_string(&b.document()).unwrap()
        );
    }

    #[test]
    fn printing_follows_go() {
        let v = json!({"b": [1, "<x>"], "a": {"c": null}});
        assert_eq!(
            go_indent(&v),
            "{\n\t\"a\": {\n\t\t\"c\": null\n\t},\n\t\"b\": [\n\t\t1,\n\t\t\"\\u003cx\\u003e\"\n\t]\n}"
        );
        assert_eq!(go_compact(&json!({"k": "a&b"})), "{\"k\":\"a\\u0026b\"}");
    }

    #[test]
    fn invalid_keys_inside_values_are_found() {
        assert_eq!(
            invalid_value_key(&json!({"ok": [{"Bad": 1}]})),
            Some("Bad".into())
        );
        assert_eq!(invalid_value_key(&json!({"ok": {"fine-1": 2}})), None);
    }
}
