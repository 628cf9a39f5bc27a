//! GetConfig and SetConfig (DESIGN.md §11): a snap's configuration read as snapd's
//! `GET /v2/snaps/<name>/conf` answers it, and changed as `snap set` changes it: one change of
//! kind `configure` whose configure hook sees the patch and commits it by succeeding.

use serde_json::{Map, Value};

use super::*;
use crate::snapconf::{ConfigError, Transaction};

/// A patch is small: dotted keys and values, as on a command line.
const MAX_PATCH: usize = 1 << 20;

/// A configuration error in the caller's language (snapctl keeps `ConfigError`'s English words).
fn config_error(e: ConfigError) -> Error {
    let q = |s: &str| format!("{s:?}");
    let message = match &e {
        ConfigError::InvalidKey(key) => {
            gettext("invalid option name: {key}").replace("{key}", &q(key))
        }
        ConfigError::NotAMap { snap, key } => gettext("snap {snap} option {key} is not a map")
            .replace("{snap}", &q(snap))
            .replace("{key}", &q(key)),
        ConfigError::NoConfig(snap) => {
            gettext("snap {snap} has no configuration").replace("{snap}", &q(snap))
        }
        ConfigError::NoOption { snap, key } => {
            gettext("snap {snap} has no {key} configuration option")
                .replace("{snap}", &q(snap))
                .replace("{key}", &q(key))
        }
    };
    if e.is_no_option() {
        Error::new(ErrorKind::NoSuchOption, message)
    } else {
        Error::invalid(message)
    }
}

impl Engine {
    /// The values of `keys` (as given, dotted ones too) as a JSON object; no keys: the whole
    /// document (`{}` when nothing is set).
    pub fn get_config(&self, name: &str, keys: &[String]) -> Result<String> {
        check_names(&[name.to_string()])?;
        if self.snap(name)?.is_none() {
            return Err(not_installed(name));
        }
        let tx = Transaction::new(name, self.config(name)?);
        let mut out = Map::new();
        if keys.is_empty() {
            out = tx.document();
        }
        for k in keys {
            if k.is_empty() {
                return Err(Error::invalid(gettext("an empty configuration key")));
            }
            out.insert(k.clone(), tx.get(k).map_err(config_error)?);
        }
        Ok(Value::Object(out).to_string())
    }

    /// Start a `configure` change: `patch` (a JSON object of dotted keys to values, `null`
    /// unsets) applied for the snap's configure hook, committed when the hook succeeds.
    pub fn set_config(&self, name: &str, patch: &str, uid: u32) -> Result<u64> {
        check_names(&[name.to_string()])?;
        let snap = self.snap(name)?.ok_or_else(|| not_installed(name))?;
        let values = parse_patch(patch)?;
        // Every key and value checked now, against the stored document: a bad one starts nothing.
        let mut trial = Transaction::new(name, self.config(name)?);
        for (k, v) in &values {
            trial.set(k, v.clone()).map_err(config_error)?;
        }
        if !crate::engine::hooks::names(self.paths(), &snap)?.contains("configure") {
            return Err(Error::invalid(
                gettext("snap \"{snap}\" has no \"configure\" hook").replace("{snap}", name),
            ));
        }
        let task = RunHook {
            optional: false,
            patch: values,
            ..RunHook::new(name, "configure")
        };
        self.start(
            "configure",
            &gettext("Change configuration of \"{snap}\"").replace("{snap}", name),
            vec![name.to_string()],
            uid,
            serde_json::json!({"name": name, "patch": serde_json::from_str::<Value>(patch).unwrap_or(Value::Null)}),
            vec![Task::RunHook(task)],
        )
    }
}

/// The patch's keys and values, in order; the patch must be one JSON object.
fn parse_patch(patch: &str) -> Result<Vec<(String, Value)>> {
    if patch.len() > MAX_PATCH {
        return Err(Error::invalid(gettext(
            "the configuration patch is larger than 1 MiB",
        )));
    }
    let v: Value = serde_json::from_str(patch).map_err(|e| {
        // Translators: {why} is the JSON parser's message, in English.
        Error::invalid(
            gettext("the configuration patch is not valid JSON: {why}")
                .replace("{why}", &e.to_string()),
        )
    })?;
    let Value::Object(m) = v else {
        return Err(Error::invalid(gettext(
            "the configuration patch must be a JSON object of keys to values",
        )));
    };
    if m.is_empty() {
        return Err(Error::invalid(gettext(
            "the configuration patch sets nothing",
        )));
    }
    Ok(m.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_must_be_objects_of_values() {
        assert_eq!(
            parse_patch(r#"{"a.b": 1, "c": null}"#).unwrap(),
            vec![
                ("a.b".to_string(), Value::from(1)),
                ("c".to_string(), Value::Null)
            ]
        );
        for bad in ["", "[1]", "\"x\"", "{", "{}"] {
            let e = parse_patch(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn missing_options_and_bad_keys_are_told_apart() {
        let no = ConfigError::NoOption {
            snap: "s".into(),
            key: "k".into(),
        };
        assert_eq!(config_error(no).kind, ErrorKind::NoSuchOption);
        assert_eq!(
            config_error(ConfigError::InvalidKey("K".into())).kind,
            ErrorKind::InvalidArgument
        );
    }
}
