//! `snapctl refresh` (snapd's `ctlcmd/refresh.go`): from a `gate-auto-refresh` hook, `--pending`
//! tells what the automatic refresh about to run would do to the snap, `--hold` puts off the
//! refreshes of the snaps that affect it and `--proceed` lets them go (`engine/gating.rs`); from
//! an app, `--tracking` (anyone) and `--pending` (root). Any other hook may not use it; `--hold`
//! and `--proceed` outside the hook get snapd's errors.

use super::commands::{split, Caller, Fail, Out, Split};
use super::Reply;
use crate::engine::gating::{go_duration, Action, Pending};
use crate::engine::Engine;

const GATE_HOOK: &str = "gate-auto-refresh";

pub(super) fn refresh(engine: &Engine, caller: &Caller, args: &[String]) -> Out {
    if caller.hook.as_ref().is_some_and(|h| h.hook != GATE_HOOK) {
        return Err(Fail(format!("can only be used from {GATE_HOOK} hook")));
    }
    let Split { longs, pos, .. } = split(args, "", &["pending", "proceed", "hold", "tracking"])?;
    if let Some(p) = pos.first() {
        return Err(Fail(format!("too many arguments for command: {p}")));
    }
    let has = |f: &str| longs.iter().any(|l| l == f);
    let mut which: Option<&str> = None;
    for opt in ["hold", "proceed", "tracking"] {
        if !has(opt) {
            continue;
        }
        if let Some(w) = which {
            return Err(Fail(format!("cannot use --{opt} and --{w} together")));
        }
        which = Some(opt);
    }
    if has("tracking") && has("pending") {
        return Err(Fail("--tracking cannot be used with --pending".into()));
    }
    if caller.uid != 0 && !has("tracking") {
        return Err(Fail(
            "non-root users can only use --tracking with the refresh command".into(),
        ));
    }
    let gate = caller.hook.as_ref().and_then(|h| h.gate());
    let mut out = String::new();
    // `--pending --proceed` is a longer `--proceed`.
    if has("pending") && !has("proceed") {
        let pending = match gate {
            Some(g) => g.pending.clone(),
            None => outside_hook(engine, &caller.snap)?,
        };
        out.push_str(&pending_yaml(&pending));
    }
    match which {
        Some("proceed") => match gate {
            // Acted on when the hook ends (`plan/gating.rs`), so that a later --hold in the same
            // hook cannot start its limits afresh.
            Some(g) => g.set_action(Action::Proceed),
            None => {
                return Err(Fail(
                    "cannot proceed: requires snap-refresh-control interface".into(),
                ))
            }
        },
        Some("hold") => {
            let Some(g) = gate else {
                return Err(Fail(format!("cannot hold outside of {GATE_HOOK} hook")));
            };
            g.set_action(Action::Hold);
            if g.affecting.is_empty() {
                return Err(Fail(format!(
                    "internal error: snap {:?} is not affected by any snaps",
                    caller.snap
                )));
            }
            let left = engine.gate_hold(&caller.snap, &g.affecting).map_err(Fail)?;
            out.push_str(&format!("hold: {}\n", go_duration(left)));
        }
        Some(_) => out.push_str(&tracking(engine, &caller.snap)?),
        None => {}
    }
    Ok(Reply::out(out))
}

/// `--pending` from an app: put off while its apps run (`inhibited`) or nothing known to be
/// pending (`none`; what the store offers is known only during an automatic refresh).
fn outside_hook(engine: &Engine, snap: &str) -> Result<Pending, Fail> {
    let state = engine
        .snap(snap)?
        .ok_or_else(|| Fail(format!("snap {snap:?} is not installed")))?;
    let inhibited = engine.refresh_inhibited(snap)?;
    Ok(Pending {
        pending: if inhibited { "inhibited" } else { "none" }.into(),
        channel: state.tracking_channel,
        ..Default::default()
    })
}

fn tracking(engine: &Engine, snap: &str) -> Result<String, Fail> {
    let state = engine
        .snap(snap)?
        .ok_or_else(|| Fail(format!("snap {snap:?} is not installed")))?;
    Ok(if state.tracking_channel.is_empty() {
        "channel: null\n".into()
    } else {
        format!("channel: {}\n", yaml_scalar(&state.tracking_channel))
    })
}

/// snapd's `updateDetails` as go-yaml writes it: empty strings and a zero revision left out,
/// `base` and `restart` always there.
pub(crate) fn pending_yaml(p: &Pending) -> String {
    let mut out = String::new();
    for (key, value) in [
        ("pending", &p.pending),
        ("channel", &p.channel),
        ("version", &p.version),
    ] {
        if !value.is_empty() {
            out.push_str(&format!("{key}: {}\n", yaml_scalar(value)));
        }
    }
    if p.revision != 0 {
        out.push_str(&format!("revision: {}\n", p.revision));
    }
    out.push_str(&format!("base: {}\nrestart: {}\n", p.base, p.restart));
    out
}

/// A string as go-yaml writes it: plain, or double-quoted when plain would read as another type
/// (a number, a boolean, null) or as YAML syntax.
fn yaml_scalar(s: &str) -> String {
    let special = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
    ];
    let reads_as_other = special.contains(&s.to_ascii_lowercase().as_str())
        || s.parse::<f64>().is_ok()
        || s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace())
        || s.ends_with(char::is_whitespace)
        || s.contains(": ")
        || s.contains(" #");
    if reads_as_other {
        format!("{s:?}")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_details_are_written_as_snapd_writes_them() {
        let p = Pending {
            pending: "ready".into(),
            channel: "stable".into(),
            version: "2".into(),
            revision: 3,
            base: false,
            restart: false,
        };
        assert_eq!(
            pending_yaml(&p),
            "pending: ready\nchannel: stable\nversion: \"2\"\nrevision: 3\nbase: false\nrestart: false\n"
        );
        let none = Pending {
            pending: "none".into(),
            channel: "latest/stable".into(),
            base: true,
            ..Default::default()
        };
        assert_eq!(
            pending_yaml(&none),
            "pending: none\nchannel: latest/stable\nbase: true\nrestart: false\n"
        );
        assert_eq!(yaml_scalar("1.0.2"), "1.0.2");
        assert_eq!(yaml_scalar("1.5"), "\"1.5\"");
        assert_eq!(yaml_scalar("true"), "\"true\"");
    }
}
