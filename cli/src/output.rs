//! What the CLI prints: aligned columns for people, JSON (`--json`) for programs.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use snapshelf_dbus::types::Dict;
use zbus::zvariant::{OwnedValue, Value as ZValue};

/// A D-Bus value as JSON.
pub fn to_json(v: &ZValue<'_>) -> Value {
    match v {
        ZValue::Bool(b) => json!(b),
        ZValue::U8(n) => json!(n),
        ZValue::I16(n) => json!(n),
        ZValue::U16(n) => json!(n),
        ZValue::I32(n) => json!(n),
        ZValue::U32(n) => json!(n),
        ZValue::I64(n) => json!(n),
        ZValue::U64(n) => json!(n),
        ZValue::F64(n) => json!(n),
        ZValue::Str(s) => json!(s.as_str()),
        ZValue::ObjectPath(p) => json!(p.as_str()),
        ZValue::Signature(s) => json!(s.to_string()),
        ZValue::Value(v) => to_json(v),
        ZValue::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        ZValue::Dict(d) => {
            let mut m = serde_json::Map::new();
            for (k, v) in d.iter() {
                let key = match k {
                    ZValue::Str(s) => s.to_string(),
                    other => to_json(other).to_string(),
                };
                m.insert(key, to_json(v));
            }
            Value::Object(m)
        }
        ZValue::Structure(s) => Value::Array(s.fields().iter().map(to_json).collect()),
        ZValue::Fd(_) => Value::Null,
    }
}

pub fn dict_json(d: &Dict) -> Value {
    let sorted: BTreeMap<&String, &OwnedValue> = d.iter().collect();
    Value::Object(
        sorted
            .into_iter()
            .map(|(k, v)| (k.clone(), to_json(v)))
            .collect(),
    )
}

/// Rows as aligned columns.
pub(crate) fn table(headers: &[impl AsRef<str>], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.as_ref().chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let n = cells.len();
        cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if i + 1 == n {
                    c
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = line(headers.iter().map(|h| h.as_ref().to_string()).collect());
    for r in rows {
        out.push('\n');
        out.push_str(&line(r.clone()));
    }
    out
}
