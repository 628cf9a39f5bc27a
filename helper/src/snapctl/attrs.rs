//! `snapctl get :<plug|slot> …` and `snapctl set :<plug|slot> key=value…` inside interface hooks,
//! with snapd's rules (`overlord/hookstate/ctlcmd/get.go`, `set.go`): any interface hook reads
//! its own side's attributes, or the other side's with `--plug`/`--slot`, static ones (snap.yaml)
//! before dynamic ones; only `prepare-plug-`/`prepare-slot-` hooks set their own side's dynamic
//! attributes, and never over a static one. The plug or slot named must be the hook's.

use serde_json::{Map, Value};

use super::hooks::HookContext;
use crate::engine::iface_hooks::IfaceAttrs;
use crate::snapconf::Transaction;

/// Which side a hook is on, and whether it may set attributes (prepare hooks).
fn hook_side(hook: &str) -> Option<(bool, bool)> {
    const PLUG: [&str; 4] = [
        "prepare-plug-",
        "unprepare-plug-",
        "connect-plug-",
        "disconnect-plug-",
    ];
    const SLOT: [&str; 4] = [
        "prepare-slot-",
        "unprepare-slot-",
        "connect-slot-",
        "disconnect-slot-",
    ];
    let prepare = hook.starts_with("prepare-");
    if PLUG.iter().any(|p| hook.starts_with(p)) {
        Some((true, prepare))
    } else if SLOT.iter().any(|p| hook.starts_with(p)) {
        Some((false, prepare))
    } else {
        None
    }
}

/// `:name` split and checked: the name, or snapd's words for what is wrong with the spec.
pub fn parse_spec(cmd: &str, spec: &str) -> Result<String, String> {
    let (snap, name) = spec.split_once(':').unwrap_or(("", spec));
    if name.is_empty() {
        return Err("plug or slot name not provided".into());
    }
    if !snap.is_empty() {
        return Err(format!(
            "\"snapctl {cmd} {spec}\" not supported, use \"snapctl {cmd} :{name}\" instead"
        ));
    }
    Ok(name.to_string())
}

/// The hook's attributes, after checking that `name` is its plug (or slot).
/// `prepare`: only prepare hooks may (checked first, as snapd does).
fn checked<'a>(
    hook: Option<&'a HookContext>,
    name: &str,
    (why, prepare_only): (&str, bool),
) -> Result<(&'a HookContext, bool), String> {
    let h = hook.ok_or_else(|| why.to_string())?;
    let (plug_side, prepare) = hook_side(&h.hook).ok_or_else(|| why.to_string())?;
    if prepare_only && !prepare {
        return Err(why.into());
    }
    let attrs = h.iface().ok_or_else(|| why.to_string())?;
    let own = if plug_side { &attrs.plug } else { &attrs.slot };
    if own != name {
        return Err(format!("unknown plug or slot {name:?}"));
    }
    Ok((h, plug_side))
}

/// The values of `keys` on one side (`force`: `Some(true)` `--plug`, `Some(false)` `--slot`).
pub fn get(
    hook: Option<&HookContext>,
    name: &str,
    keys: &[String],
    force: Option<bool>,
) -> Result<Map<String, Value>, String> {
    let why = "interface attributes can only be read during the execution of interface hooks";
    let (h, plug_side) = checked(hook, name, (why, false))?;
    let attrs = h.iface().ok_or(why)?;
    let plug = force.unwrap_or(plug_side);
    let (snap, stat, dynamic) = side(&attrs, plug);
    let (stat, dynamic) = (
        Transaction::new(snap, stat.clone()),
        Transaction::new(snap, dynamic.clone()),
    );
    let mut found = Map::new();
    for key in keys {
        let value = match stat.get(key) {
            Ok(v) => v,
            Err(e) if e.is_no_option() => match dynamic.get(key) {
                Ok(v) => v,
                Err(e) if e.is_no_option() => return Err(format!("no {key:?} attribute")),
                Err(e) => return Err(e.to_string()),
            },
            Err(e) => return Err(e.to_string()),
        };
        found.insert(key.clone(), value);
    }
    Ok(found)
}

fn side(a: &IfaceAttrs, plug: bool) -> (&str, &Map<String, Value>, &Map<String, Value>) {
    if plug {
        (&a.plug_snap, &a.plug_static, &a.plug_dynamic)
    } else {
        (&a.slot_snap, &a.slot_static, &a.slot_dynamic)
    }
}

/// Set `key=value` pairs on the hook's own side, all or none.
pub fn set(hook: Option<&HookContext>, name: &str, pairs: &[String]) -> Result<(), String> {
    let why = "interface attributes can only be set during the execution of prepare hooks";
    let (h, plug_side) = checked(hook, name, (why, true))?;
    let mut attrs = h.iface().ok_or(why)?;
    let (snap, stat, dynamic) = side(&attrs, plug_side);
    let mut tx = Transaction::new(snap, dynamic.clone());
    for pair in pairs {
        let (key, raw) = pair
            .split_once('=')
            .ok_or_else(|| format!("invalid parameter: {pair:?} (want key=value)"))?;
        let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.into()));
        let top = key.split('.').next().unwrap_or(key);
        if stat.contains_key(top) {
            return Err(format!(
                "cannot set attribute: attribute {key:?} cannot be overwritten"
            ));
        }
        tx.set(key, value)
            .map_err(|e| format!("cannot set attribute: {e}"))?;
    }
    let doc = tx.document();
    if plug_side {
        attrs.plug_dynamic = doc;
    } else {
        attrs.slot_dynamic = doc;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs() -> IfaceAttrs {
        IfaceAttrs {
            plug_snap: "consumer".into(),
            plug: "c".into(),
            slot_snap: "producer".into(),
            slot: "p".into(),
            plug_static: json!({"a": "plug-a"}).as_object().unwrap().clone(),
            slot_static: json!({"a": "slot-a", "n": {"m": 1}})
                .as_object()
                .unwrap()
                .clone(),
            plug_dynamic: Map::new(),
            slot_dynamic: Map::new(),
        }
    }

    fn hook(name: &str) -> HookContext {
        HookContext::new("consumer", name, Transaction::new("consumer", Map::new()))
            .with_iface(Some(attrs()))
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn prepare_hooks_set_their_own_side_and_others_read_it() {
        let h = hook("prepare-plug-c");
        set(Some(&h), "c", &s(&["b=1", "c.d=x"])).unwrap();
        assert_eq!(
            get(Some(&h), "c", &s(&["a", "b", "c.d"]), None).unwrap(),
            *json!({"a": "plug-a", "b": 1, "c.d": "x"})
                .as_object()
                .unwrap()
        );
        assert_eq!(
            get(Some(&h), "c", &s(&["n.m"]), Some(false)).unwrap(),
            *json!({"n.m": 1}).as_object().unwrap()
        );
        assert_eq!(
            get(Some(&h), "c", &s(&["zz"]), None).unwrap_err(),
            "no \"zz\" attribute"
        );
    }

    #[test]
    fn snapds_refusals_leave_the_attributes_as_they_were() {
        let h = hook("prepare-plug-c");
        assert_eq!(
            set(Some(&h), "c", &s(&["ok=1", "a=2"])).unwrap_err(),
            "cannot set attribute: attribute \"a\" cannot be overwritten"
        );
        assert!(h.iface().unwrap().plug_dynamic.is_empty());
        assert_eq!(
            set(Some(&h), "other", &s(&["x=1"])).unwrap_err(),
            "unknown plug or slot \"other\""
        );
        assert!(set(Some(&h), "c", &s(&["novalue"]))
            .unwrap_err()
            .contains("want key=value"));
        let connect = hook("connect-plug-c");
        assert_eq!(
            set(Some(&connect), "c", &s(&["x=1"])).unwrap_err(),
            "interface attributes can only be set during the execution of prepare hooks"
        );
        let configure = hook("configure");
        assert!(get(Some(&configure), "c", &s(&["a"]), None)
            .unwrap_err()
            .contains("only be read during the execution of interface hooks"));
        assert!(get(None, "c", &s(&["a"]), None).is_err());
        assert_eq!(
            parse_spec("get", "snap:c").unwrap_err(),
            "\"snapctl get snap:c\" not supported, use \"snapctl get :c\" instead"
        );
        assert_eq!(
            parse_spec("set", ":").unwrap_err(),
            "plug or slot name not provided"
        );
    }
}
