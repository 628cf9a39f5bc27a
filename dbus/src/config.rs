//! `SetConfig`'s patch from the arguments of `snap set` and `snapctl set`: `key=value` (the value
//! read as JSON, or else kept as text; `-s`: always text; `-t`: JSON or an error) and `key!`
//! (unset), as snapd's `clientutil.ParseConfigValues` reads them. Keys are checked by the helper.

use serde_json::Value;

/// The keys and values, in order; the error is snapd's words.
pub fn parse_values(
    args: &[String],
    string: bool,
    typed: bool,
) -> Result<Vec<(String, Value)>, String> {
    let mut out = Vec::new();
    for a in args {
        let Some((k, v)) = a.split_once('=') else {
            if let Some(k) = a.strip_suffix('!') {
                if k.is_empty() {
                    return Err(
                        "configuration keys cannot be empty (use key! to unset a key)".into(),
                    );
                }
                out.push((k.to_string(), Value::Null));
                continue;
            }
            return Err(format!("invalid configuration: {a:?} (want key=value)"));
        };
        if k.is_empty() {
            return Err("configuration keys cannot be empty".into());
        }
        let value = if string {
            Value::String(v.to_string())
        } else {
            match serde_json::from_str::<Value>(v) {
                Ok(j) => j,
                Err(e) if typed => return Err(format!("failed to parse JSON: {e}")),
                Err(_) => Value::String(v.to_string()),
            }
        };
        out.push((k.to_string(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn values_parse_as_snapd_parses_them() {
        let v = parse_values(
            &s(&["a=1", "b=x y", "c={\"d\":true}", "e!", "f="]),
            false,
            false,
        )
        .unwrap();
        assert_eq!(
            v,
            vec![
                ("a".into(), json!(1)),
                ("b".into(), json!("x y")),
                ("c".into(), json!({"d": true})),
                ("e".into(), Value::Null),
                ("f".into(), json!("")),
            ]
        );
        assert_eq!(
            parse_values(&s(&["a=1"]), true, false).unwrap()[0].1,
            json!("1")
        );
        assert!(parse_values(&s(&["a=nope"]), false, true)
            .unwrap_err()
            .starts_with("failed to parse JSON"));
        assert_eq!(
            parse_values(&s(&["a"]), false, false).unwrap_err(),
            "invalid configuration: \"a\" (want key=value)"
        );
        assert_eq!(
            parse_values(&s(&["=1"]), false, false).unwrap_err(),
            "configuration keys cannot be empty"
        );
        assert_eq!(
            parse_values(&s(&["!"]), false, false).unwrap_err(),
            "configuration keys cannot be empty (use key! to unset a key)"
        );
    }
}
