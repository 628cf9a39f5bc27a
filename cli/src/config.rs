//! `get`, `set` and `unset`: a snap's configuration with `snap get/set/unset`'s syntax, output and
//! messages, over GetConfig and SetConfig.

use std::io::IsTerminal;

use serde_json::{Map, Value};
use snapshelf_dbus::proxy::Helper1ProxyBlocking;

use crate::failure::{dbus_failure, usage, Failure, Res};
use crate::session::Ctl;

/// How `get` prints: snap's `-d` (a JSON document), `-l` (a list), `-t` (strict typing).
#[derive(Debug, Clone, Copy, Default)]
pub struct GetFormat {
    pub document: bool,
    pub list: bool,
    pub typed: bool,
}

pub(crate) fn get(
    ctl: &Ctl,
    h: &Helper1ProxyBlocking,
    snap: &str,
    keys: &[String],
    f: GetFormat,
) -> Res<()> {
    if f.document && f.typed {
        return Err(usage("cannot use -d and -t together"));
    }
    if f.document && f.list {
        return Err(usage("cannot use -d and -l together"));
    }
    let keys_ref: Vec<&str> = keys.iter().map(String::as_str).collect();
    let answer = h.get_config(snap, &keys_ref).map_err(dbus_failure)?;
    let conf: Map<String, Value> = serde_json::from_str(&answer)
        .map_err(|e| Failure::own(format!("the helper's answer is not a JSON object: {e}"), 70))?;
    if ctl.cli.json || f.document {
        println!("{}", indent(&Value::Object(conf)));
        return Ok(());
    }
    if keys.is_empty() && conf.is_empty() {
        return Err(Failure::own(
            format!("snap \"{snap}\" has no configuration"),
            1,
        ));
    }
    if f.list {
        print!("{}", list(&conf, keys.is_empty()));
        return Ok(());
    }
    // One key whose value is not an object: the value alone, as snap prints it.
    let shown = match keys {
        [k] if !conf.get(k).is_some_and(Value::is_object) => conf.get(k).cloned(),
        _ => Some(Value::Object(conf)),
    };
    match shown {
        Some(Value::Object(m)) if std::io::stdout().is_terminal() => {
            print!("{}", list(&m, keys.is_empty()))
        }
        Some(v @ Value::Object(_)) => {
            eprintln!("WARNING: The output of 'snap get' will become a list with columns - use -d or -l to force the output format.");
            println!("{}", indent(&v));
        }
        Some(Value::String(s)) if !f.typed => println!("{s}"),
        Some(v) => println!("{}", indent(&v)),
        None if f.typed => println!("null"),
        None => println!(),
    }
    Ok(())
}

/// `key=value…` (or `key!`) for `set`, all nulls for `unset`: one SetConfig, then its change.
pub(crate) fn set(
    ctl: &Ctl,
    h: &Helper1ProxyBlocking,
    snap: &str,
    values: Vec<(String, Value)>,
) -> Res<()> {
    let patch: Map<String, Value> = values.into_iter().collect();
    ctl.change(h.set_config(snap, &Value::Object(patch).to_string()))
}

pub(crate) fn parse_set(args: &[String], string: bool, typed: bool) -> Res<Vec<(String, Value)>> {
    if string && typed {
        return Err(usage("cannot use -s and -t together"));
    }
    snapshelf_dbus::config::parse_values(args, string, typed).map_err(usage)
}

/// As Go's `json.MarshalIndent(v, "", "\t")`, which snap uses: `<`, `>`, `&` and the line and
/// paragraph separators escaped (outside strings JSON has none of them, so replacing them
/// everywhere is exact).
fn indent(v: &Value) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    let _ = serde::Serialize::serialize(v, &mut ser);
    String::from_utf8_lossy(&out)
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// snap's list: `Key  Value` rows, objects shown as `{...}` (one level down unless at the root),
/// sorted with a dotted path before its longer siblings.
fn list(conf: &Map<String, Value>, root: bool) -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    let shown = |v: &Value| match v {
        Value::Object(_) => "{...}".to_string(),
        Value::String(s) => s.clone(),
        other => go_value(other),
    };
    for (k, v) in conf {
        match v {
            Value::Object(inner) if !root => {
                for (kk, vv) in inner {
                    rows.push((format!("{k}.{kk}"), shown(vv)));
                }
            }
            _ => rows.push((k.clone(), shown(v))),
        }
    }
    rows.sort_by_key(|r| r.0.replace('.', "\u{0}"));
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(3);
    let mut out = format!("{:width$}  Value\n", "Key");
    for (k, v) in rows {
        out.push_str(&format!("{k:width$}  {v}\n"));
    }
    out
}

/// A value as Go's `%v` prints decoded JSON: arrays as `[a b]`, null as `<nil>`.
fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_value).collect::<Vec<_>>().join(" ")),
        Value::Object(_) => "{...}".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_look_like_snaps() {
        let conf = json!({"b": 1, "a": {"x": [1, "y"], "n": {"m": 1}}, "a-b": "t"});
        let m = conf.as_object().unwrap();
        assert_eq!(list(m, true), "Key  Value\na    {...}\na-b  t\nb    1\n");
        assert_eq!(
            list(m, false),
            "Key  Value\na.n  {...}\na.x  [1 y]\na-b  t\nb    1\n"
        );
    }

    #[test]
    fn documents_are_indented_with_tabs() {
        assert_eq!(indent(&json!({"k": "<"})), "{\n\t\"k\": \"\\u003c\"\n}");
        // Go escapes these two too (JavaScript reads them as line ends).
        assert_eq!(
            indent(&json!(["a\u{2028}b\u{2029}&"])),
            "[\n\t\"a\\u2028b\\u2029\\u0026\"\n]"
        );
    }
}
