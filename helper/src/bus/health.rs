//! The `health` entry of `ListInstalled` and `Info` (an installed snap that reported its health):
//! `a{sv}` with `status`, `message`, `code`, `revision` (strings) and `timestamp` (t, seconds
//! since the epoch), as snapd's `health` of `snap info`.

use snapshelf_dbus::types::Dict;
use zbus::zvariant::{OwnedValue, Value};

use crate::engine::Engine;
use crate::state::Health;

pub const KEY: &str = "health";

fn owned(v: Value<'_>) -> OwnedValue {
    OwnedValue::try_from(v).expect("values without file descriptors always convert")
}

pub fn to_value(h: &Health) -> OwnedValue {
    let mut d: std::collections::HashMap<String, OwnedValue> = Default::default();
    for (k, v) in [
        ("status", &h.status),
        ("message", &h.message),
        ("code", &h.code),
        ("revision", &h.revision),
    ] {
        d.insert(k.into(), owned(Value::from(v.as_str())));
    }
    d.insert("timestamp".into(), owned(Value::from(h.timestamp)));
    owned(Value::from(d))
}

/// Add the snap's health to its dictionary; nothing when it never reported one (or the state
/// cannot be read: the rest of the answer is still right, and the error is logged).
pub fn add(engine: &Engine, name: &str, d: &mut Dict) {
    match engine.health(name) {
        Ok(Some(h)) => {
            d.insert(KEY.into(), to_value(&h));
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(snap = %name, "cannot read the health: {}", e.message),
    }
}
