//! `snapctl is-connected --pid PID <slot>` (snapd's `ctlcmd/is_connected.go`): whether the
//! caller's slot is connected to the snap the process `PID` belongs to. snapd's exit codes: 0
//! connected, 1 not, 10 not connected and that snap is classic, 11 the process is no snap's.
//! As in snapd, only slots of `pulseaudio`, `audio-record` and `cups-control` may be asked
//! about, and the PID is the host's (as the bus's `GetConnectionUnixProcessID` gives it).
//! `--apparmor-label` is refused: Snapshelf confines without AppArmor, so no label names a snap.
//!
//! A process's snap is found as the launcher finds a caller's: confine's root-owned record
//! `run/snapshelf/running/<snap>/<app>.<pid>` of the launch (the monitor outside the sandbox, or a
//! classic app itself), checked against the process's start time, for the PID or the nearest of
//! its ancestors (the app runs below the monitor, in its own PID namespace).

use std::collections::HashMap;

use super::commands::{Caller, Fail, Out};
use super::Reply;
use crate::engine::Engine;
use crate::paths::Paths;

/// snapd's `classicSnapCode` and `notASnapCode`.
const CLASSIC: i32 = 10;
const NOT_A_SNAP: i32 = 11;

/// The interfaces whose slots `--pid` may be asked about (snapd's `isConnectedPidCheckAllowed`).
const PID_CHECK_INTERFACES: [&str; 3] = ["pulseaudio", "audio-record", "cups-control"];

/// How far up the process tree a record is looked for: deeper trees are no launch of ours.
const MAX_ANCESTORS: usize = 256;

/// The `--pid` and `--apparmor-label` values, taken out of the arguments (`--pid N` or
/// `--pid=N`, as go-flags reads them), and the other arguments.
#[derive(Debug)]
pub(super) struct Other {
    pub(super) pid: Option<i32>,
    pub(super) label: Option<String>,
    pub(super) rest: Vec<String>,
}

pub(super) fn take_flags(args: &[String]) -> Result<Other, Fail> {
    let mut out = Other {
        pid: None,
        label: None,
        rest: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            out.rest.push(a.clone());
            out.rest.extend(it.by_ref().cloned());
            break;
        }
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (a.as_str(), None),
        };
        if flag != "--pid" && flag != "--apparmor-label" {
            out.rest.push(a.clone());
            continue;
        }
        let value = match inline.or_else(|| it.next().cloned()) {
            Some(v) => v,
            None => return Err(Fail(format!("expected argument for flag `{flag}'"))),
        };
        if flag == "--pid" {
            let pid = value.parse::<i32>().map_err(|_| {
                Fail(format!(
                    "invalid argument for flag `--pid' (expected int): {value:?} is not a number"
                ))
            })?;
            out.pid = Some(pid);
        } else {
            out.label = Some(value);
        }
    }
    Ok(out)
}

/// The answer for `--pid` or `--apparmor-label` about `slot` (`None`: neither was given, or
/// `--pid 0`, which snapd reads as not given).
pub(super) fn answer(
    engine: &Engine,
    caller: &Caller,
    other: &Other,
    slot: Option<&str>,
    slot_interface: Option<&str>,
) -> Option<Out> {
    if other.label.is_some() {
        return Some(Err(Fail(
            "cannot use --apparmor-label: this system confines snaps without AppArmor, so no \
             label names a snap; use --pid"
                .into(),
        )));
    }
    let pid = other.pid.filter(|p| *p != 0)?;
    let Some(slot) = slot else {
        return Some(Err(Fail("cannot use --pid check without plug/slot".into())));
    };
    if !slot_interface.is_some_and(|i| PID_CHECK_INTERFACES.contains(&i)) {
        return Some(Err(Fail(format!(
            "cannot use --pid check with {}:{slot}",
            caller.snap
        ))));
    }
    Some(connected_to_pid(engine, &caller.snap, slot, pid))
}

fn connected_to_pid(engine: &Engine, snap: &str, slot: &str, pid: i32) -> Out {
    let Some(name) = u32::try_from(pid)
        .ok()
        .and_then(|p| snap_of_pid(engine.paths(), p))
    else {
        return Ok(Reply::err(NOT_A_SNAP, String::new()));
    };
    let other = engine.snap(&name)?.ok_or_else(|| {
        Fail(format!(
            "internal error: cannot get snap info for pid {pid}: snap {name:?} is not installed"
        ))
    })?;
    // A plug of the other snap connected to this slot (the connections between snaps that
    // Snapshelf makes: content and dbus).
    let linked = other
        .content
        .values()
        .chain(other.dbus.values())
        .any(|to| to.snap == snap && to.slot == slot);
    if linked {
        Ok(Reply::out(String::new()))
    } else if other.confinement == "classic" {
        Ok(Reply::err(CLASSIC, String::new()))
    } else {
        Ok(Reply::err(1, String::new()))
    }
}

/// The snap whose launch `pid` is part of: a live record of the PID or of its nearest recorded
/// ancestor.
pub fn snap_of_pid(paths: &Paths, pid: u32) -> Option<String> {
    let records = records(paths);
    let mut p = pid;
    for _ in 0..MAX_ANCESTORS {
        if p <= 1 {
            return None;
        }
        if let Some((snap, started)) = records.get(&p) {
            // A record of a PID that now names another process (reused) names nobody.
            if crate::running::start_time(p) == Some(*started) {
                return Some(snap.clone());
            }
        }
        p = crate::running::parent_of(p)?;
    }
    None
}

/// Every record: PID → (snap, recorded start time). Unreadable or malformed ones are skipped.
fn records(paths: &Paths) -> HashMap<u32, (String, u64)> {
    let mut out = HashMap::new();
    let top = paths.root().join("run/snapshelf/running");
    let Ok(snaps) = std::fs::read_dir(&top) else {
        return out;
    };
    for snap in snaps.flatten() {
        let Some(name) = snap.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Ok(entries) = std::fs::read_dir(snap.path()) else {
            continue;
        };
        for e in entries.flatten() {
            let file = e.file_name();
            let Some((_, pid)) = file.to_str().and_then(|f| f.rsplit_once('.')) else {
                continue;
            };
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            if let (Ok(pid), Ok(started)) = (pid.parse(), text.trim().parse()) {
                out.insert(pid, (name.clone(), started));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn pid_and_label_flags_take_values_both_ways() {
        let o = take_flags(&s(&["--pid", "42", "slot"])).unwrap();
        assert_eq!((o.pid, o.rest), (Some(42), s(&["slot"])));
        let o = take_flags(&s(&["slot", "--pid=7", "--apparmor-label=x"])).unwrap();
        assert_eq!((o.pid, o.label.as_deref()), (Some(7), Some("x")));
        assert_eq!(o.rest, s(&["slot"]));
        assert!(take_flags(&s(&["--pid"]))
            .unwrap_err()
            .0
            .contains("expected argument"));
        assert!(take_flags(&s(&["--pid", "x1", "slot"]))
            .unwrap_err()
            .0
            .contains("expected int"));
        // After `--`, a flag is a name.
        let o = take_flags(&s(&["--", "--pid"])).unwrap();
        assert_eq!((o.pid, o.rest), (None, s(&["--", "--pid"])));
    }

    #[test]
    fn a_process_belongs_to_the_snap_of_its_nearest_recorded_ancestor() {
        let root = tempfile::tempdir().unwrap();
        let paths = Paths::new(root.path());
        let dir = root.path().join("run/snapshelf/running/shelf-clock");
        std::fs::create_dir_all(&dir).unwrap();
        // This test's parent stands for the launch's monitor; a child of ours for the app.
        let me = std::process::id();
        let parent = crate::running::parent_of(me).unwrap();
        let started = crate::running::start_time(parent).unwrap();
        std::fs::write(dir.join(format!("clock.{parent}")), format!("{started}\n")).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        assert_eq!(snap_of_pid(&paths, me).as_deref(), Some("shelf-clock"));
        assert_eq!(
            snap_of_pid(&paths, child.id()).as_deref(),
            Some("shelf-clock")
        );
        assert_eq!(snap_of_pid(&paths, 1), None);
        // The same PID with another start time: reused, no snap's.
        std::fs::write(dir.join(format!("clock.{parent}")), "1\n").unwrap();
        assert_eq!(snap_of_pid(&paths, me), None);
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
