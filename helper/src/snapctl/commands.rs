//! The commands `snapctl` runs, with snapd's syntax, output and exit codes
//! (`overlord/hookstate/ctlcmd/`): `get`, `set`, `unset`, `is-connected`, `system-mode`, help;
//! `services`, `start`, `stop`, `restart` are in `super::services`.
//! Apps may read; only hooks, and apps run as root, may change the configuration.

use std::sync::Arc;

use serde_json::Value;

use super::hooks::HookContext;
use super::Reply;
use crate::engine::Engine;
use crate::snapconf::{self, ConfigError, Transaction};

/// The caller, as the server established it.
pub struct Caller {
    pub snap: String,
    pub uid: u32,
    pub hook: Option<Arc<HookContext>>,
}

const HELP: &str = "Usage:
  snapctl [OPTIONS] <command>

The snapctl tool is used by snaps to communicate with snapd.

Help Options:
  -h, --help  Show this help message

Available commands:
  get           Print either configuration options or interface connection settings
  is-connected  Return success if the given plug or slot is connected, and failure otherwise
  restart       Restart services
  services      Query the status of services
  set           Set either configuration options or interface connection settings
  set-health    Report the health status of a snap
  start         Start services
  stop          Stop services
  system-mode   Get the current system mode and associated details
  unset         Remove configuration options
";

/// A failure of the command: printed as snapd's daemon words it, exit code 1.
#[derive(Debug)]
pub(super) struct Fail(pub(super) String);

/// A command line split: short flags, long flags, the rest.
pub(super) struct Split {
    pub(super) shorts: Vec<char>,
    pub(super) longs: Vec<String>,
    pub(super) pos: Vec<String>,
}

impl From<ConfigError> for Fail {
    fn from(e: ConfigError) -> Self {
        Fail(e.to_string())
    }
}

impl From<crate::error::Error> for Fail {
    fn from(e: crate::error::Error) -> Self {
        Fail(e.message)
    }
}

pub(super) type Out = Result<Reply, Fail>;

pub fn run(engine: &Engine, caller: &Caller, args: &[String]) -> Reply {
    let Some((cmd, rest)) = args.split_first() else {
        return Reply::err(
            1,
            "error: Please specify one command of: get, is-connected, restart, services, set, set-health, start, stop, system-mode or unset\n"
                .into(),
        );
    };
    let result = match cmd.as_str() {
        "-h" | "--help" | "help" => Ok(Reply::out(HELP.to_string())),
        "get" => get(engine, caller, rest),
        "set" => set(engine, caller, rest),
        "unset" => unset(engine, caller, rest),
        "is-connected" => is_connected(engine, caller, rest),
        "system-mode" => Ok(Reply::out("system-mode: run\n".into())),
        "set-health" => super::health::set_health(engine, caller, rest),
        "services" => super::services::services(engine, caller, rest),
        "start" | "stop" | "restart" => super::services::control(engine, caller, cmd, rest),
        "refresh" => super::refresh::refresh(engine, caller, rest),
        other => Err(Fail(format!(
            "unknown command {other:?}, see 'snapctl --help'"
        ))),
    };
    result.unwrap_or_else(|Fail(m)| Reply::err(1, format!("error: error running snapctl: {m}\n")))
}

/// Short flags (`-d`, `-dt`), long flags, and the rest, as go-flags splits them (`--` ends flags).
pub(super) fn split(args: &[String], short: &str, long: &[&str]) -> Result<Split, Fail> {
    let (mut shorts, mut longs, mut pos) = (Vec::new(), Vec::new(), Vec::new());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            pos.extend(it.by_ref().cloned());
        } else if let Some(l) = a.strip_prefix("--") {
            if !long.contains(&l) {
                return Err(Fail(format!("unknown flag `{l}'")));
            }
            longs.push(l.to_string());
        } else if a.len() > 1 && a.starts_with('-') {
            for c in a[1..].chars() {
                if !short.contains(c) {
                    return Err(Fail(format!("unknown flag `{c}'")));
                }
                shorts.push(c);
            }
        } else {
            pos.push(a.clone());
        }
    }
    Ok(Split { shorts, longs, pos })
}

/// The transaction the caller reads and writes: the running hook's, or one over the stored
/// document (committed at once, for root outside hooks).
fn transaction(engine: &Engine, caller: &Caller) -> Result<Transaction, Fail> {
    let doc = engine.config(&caller.snap)?;
    Ok(Transaction::new(&caller.snap, doc))
}

fn get(engine: &Engine, caller: &Caller, args: &[String]) -> Out {
    let Split {
        shorts,
        longs,
        pos: keys,
    } = split(args, "dt", &["plug", "slot"])?;
    if keys.is_empty() {
        return Err(Fail("get which option?".into()));
    }
    let (document, typed) = (shorts.contains(&'d'), shorts.contains(&'t'));
    if typed && document {
        return Err(Fail("cannot use -d and -t together".into()));
    }
    if keys[0].contains(':') {
        let name = super::attrs::parse_spec("get", &keys[0]).map_err(Fail)?;
        if keys.len() == 1 {
            return Err(Fail("get which attribute?".into()));
        }
        let (plug, slot) = (
            longs.iter().any(|l| l == "plug"),
            longs.iter().any(|l| l == "slot"),
        );
        if plug && slot {
            return Err(Fail("cannot use --plug and --slot together".into()));
        }
        let force = (plug || slot).then_some(plug);
        let found =
            super::attrs::get(caller.hook.as_deref(), &name, &keys[1..], force).map_err(Fail)?;
        return Ok(print(found, &keys[1..], document, typed));
    }
    if !longs.is_empty() {
        return Err(Fail(
            "cannot use --plug or --slot without <snap>:<plug|slot> argument".into(),
        ));
    }
    // What the caller sees: its hook's pending configuration, or the stored one.
    let tx = match &caller.hook {
        Some(h) => h.tx().clone(),
        None => transaction(engine, caller)?,
    };
    let mut found = serde_json::Map::new();
    for key in &keys {
        match tx.get(key) {
            Ok(v) => {
                found.insert(key.clone(), v);
            }
            Err(e) if e.is_no_option() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(print(found, &keys, document, typed))
}

/// What `get` prints, as snapd prints it: one value bare (strings unquoted unless `-t`), several
/// keys (or `-d`) as a document.
fn print(
    mut found: serde_json::Map<String, Value>,
    keys: &[String],
    document: bool,
    typed: bool,
) -> Reply {
    let shown = if !document && keys.len() == 1 {
        found.remove(&keys[0])
    } else {
        Some(Value::Object(found))
    };
    Reply::out(match shown {
        None if typed => "null\n".into(),
        None => "\n".into(),
        Some(Value::String(s)) if !typed => format!("{s}\n"),
        Some(v) => format!("{}\n", snapconf::go_indent(&v)),
    })
}

pub(super) fn may_change(caller: &Caller, cmd: &str) -> Result<(), Fail> {
    if caller.hook.is_none() && caller.uid != 0 {
        return Err(Fail(format!(
            "cannot use {cmd:?} with uid {}, try with sudo",
            caller.uid
        )));
    }
    Ok(())
}

/// Apply `values` to the hook's transaction, or commit them at once for root outside hooks.
fn change(engine: &Engine, caller: &Caller, values: Vec<(String, Value)>) -> Out {
    match &caller.hook {
        Some(h) => {
            let mut tx = h.tx();
            // All or nothing: a later bad key leaves the earlier ones unset too.
            let mut trial = tx.clone();
            for (k, v) in values {
                trial.set(&k, v)?;
            }
            *tx = trial;
        }
        None => {
            let mut tx = transaction(engine, caller)?;
            for (k, v) in values {
                tx.set(&k, v)?;
            }
            engine.put_config(&caller.snap, &tx.document())?;
        }
    }
    Ok(Reply::out(String::new()))
}

fn set(engine: &Engine, caller: &Caller, args: &[String]) -> Out {
    let Split { shorts, pos, .. } = split(args, "st", &[])?;
    if pos.is_empty() {
        return Err(Fail("set which option?".into()));
    }
    may_change(caller, "set")?;
    let (string, typed) = (shorts.contains(&'s'), shorts.contains(&'t'));
    if string && typed {
        return Err(Fail("cannot use -t and -s together".into()));
    }
    if pos[0].contains(':') && !pos[0].contains('=') {
        let name = super::attrs::parse_spec("set", &pos[0]).map_err(Fail)?;
        super::attrs::set(caller.hook.as_deref(), &name, &pos[1..]).map_err(Fail)?;
        return Ok(Reply::out(String::new()));
    }
    let values = snapshelf_dbus::config::parse_values(&pos, string, typed).map_err(Fail)?;
    change(engine, caller, values)
}

fn unset(engine: &Engine, caller: &Caller, args: &[String]) -> Out {
    let keys = split(args, "", &[])?.pos;
    if keys.is_empty() {
        return Err(Fail("unset which option?".into()));
    }
    may_change(caller, "unset")?;
    change(
        engine,
        caller,
        keys.into_iter().map(|k| (k, Value::Null)).collect(),
    )
}

fn is_connected(engine: &Engine, caller: &Caller, args: &[String]) -> Out {
    let other = super::pid::take_flags(args)?;
    let Split { longs, pos, .. } = split(&other.rest, "", &["list"])?;
    let list = longs.iter().any(|l| l == "list");
    if list && !pos.is_empty() {
        return Err(Fail(
            "cannot specify both a plug/slot name and --list".into(),
        ));
    }
    if !list && pos.len() != 1 {
        return Err(Fail(
            "must specify either a plug/slot name or --list".into(),
        ));
    }
    let snap = engine
        .snap(&caller.snap)?
        .ok_or_else(|| Fail(format!("snap {:?} is not installed", caller.snap)))?;
    let yaml = crate::engine::files::parse_yaml(&snap, &snap.current)?;
    let plugs = yaml.all_plugs();
    // A content plug is connected to another snap's slot (its link), not to the system's.
    let connected = |plug: &str, iface: &str| match iface {
        "content" => snap.content.contains_key(plug),
        _ => crate::interfaces::state_of(&snap, plug, iface).0,
    };
    // A slot is connected when another snap's plug is linked to it (snapd's answer for slots).
    let linked = slots_linked(engine, &caller.snap)?;
    if list {
        if let Some(out) = super::pid::answer(engine, caller, &other, None, None) {
            return out;
        }
        let names: String = plugs
            .iter()
            .filter(|(p, i)| connected(p, i))
            .map(|(p, _)| p)
            .chain(yaml.slots.keys().filter(|s| linked.contains(*s)))
            .map(|n| format!("{n}\n"))
            .collect();
        return Ok(Reply::out(names));
    }
    let name = &pos[0];
    // `--pid`/`--apparmor-label` (snapctl/pid.rs) about a plug or slot the snap has.
    if plugs.contains_key(name) || yaml.slots.contains_key(name) {
        let slot_iface = yaml.slots.get(name).map(|s| s.interface.as_str());
        if let Some(out) = super::pid::answer(engine, caller, &other, Some(name), slot_iface) {
            return out;
        }
    }
    match plugs.get(name) {
        Some(iface) if connected(name, iface) => Ok(Reply::out(String::new())),
        Some(_) => Ok(Reply::err(1, String::new())),
        None if linked.contains(name) => Ok(Reply::out(String::new())),
        None if yaml.slots.contains_key(name) => Ok(Reply::err(1, String::new())),
        None => Err(Fail(format!(
            "snap {:?} has no plug or slot named {name:?}",
            caller.snap
        ))),
    }
}

/// The slots of `snap` that another installed snap's plug is connected to.
fn slots_linked(engine: &Engine, snap: &str) -> Result<std::collections::BTreeSet<String>, Fail> {
    Ok(engine
        .installed()?
        .into_iter()
        .flat_map(|other| other.content.into_values())
        .filter(|to| to.snap == snap)
        .map(|to| to.slot)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn flags_split_as_go_flags_does() {
        let got = split(&s(&["-dt", "a", "--plug", "--", "-x"]), "dt", &["plug"]).unwrap();
        assert_eq!(got.shorts, vec!['d', 't']);
        assert_eq!(got.longs, vec!["plug"]);
        assert_eq!(got.pos, s(&["a", "-x"]));
        assert!(split(&s(&["-q"]), "dt", &[]).is_err());
    }
}
