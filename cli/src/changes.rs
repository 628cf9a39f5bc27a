//! The commands that change something: each is one call that starts a change, with its options
//! as the typed `snapshelf_dbus::types` structs, then followed to its end (session.rs).

use std::os::fd::OwnedFd;

use gettextrs::gettext;
use serde_json::json;
use snapshelf_dbus::proxy::Helper1ProxyBlocking;
use snapshelf_dbus::types::{
    InstallFileOptions, InstallOptions, RefreshOptions, RemoveOptions, RevertOptions,
};
use snapshelf_i18n::fill;

use crate::failure::{dbus_failure, usage, Res};
use crate::session::Ctl;

fn strs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

/// A name with a `/` or ending in `.snap` is a file.
pub(crate) fn is_file(arg: &str) -> bool {
    arg.ends_with(".snap") || arg.contains('/')
}

/// `install NAME…` from the store, or `install FILE.snap`.
pub(crate) fn install(
    ctl: &Ctl,
    h: &Helper1ProxyBlocking,
    names: &[String],
    channel: Option<&String>,
    unsigned: bool,
    classic: bool,
) -> Res<()> {
    if names.iter().any(|n| is_file(n)) {
        if names.len() != 1 {
            return Err(usage("install one file at a time"));
        }
        // A file has no channel: nothing to ignore quietly.
        if channel.is_some() {
            return Err(usage("--channel is for names, not files"));
        }
        let f = std::fs::File::open(&names[0])
            .map_err(|e| usage(format!("cannot open {}: {e}", names[0])))?;
        let options = InstallFileOptions {
            unsigned: unsigned.then_some(true),
            classic: classic.then_some(true),
        };
        let fd = zbus::zvariant::OwnedFd::from(OwnedFd::from(f));
        return ctl.change(h.install_file(fd, options.to_dict()));
    }
    if unsigned {
        return Err(usage(
            "--unsigned is for a .snap file; the store signs what it serves",
        ));
    }
    let options = InstallOptions {
        channel: channel.cloned(),
        revision: None,
        classic,
    };
    ctl.change(h.install(&strs(names), options.to_dict()))
}

pub(crate) fn remove(
    ctl: &Ctl,
    h: &Helper1ProxyBlocking,
    names: &[String],
    purge: bool,
    disconnect_users: bool,
) -> Res<()> {
    let options = RemoveOptions {
        purge: purge.then_some(true),
        disconnect_users: disconnect_users.then_some(true),
    };
    ctl.change(h.remove(&strs(names), options.to_dict()))
}

pub(crate) fn refresh(
    ctl: &Ctl,
    h: &Helper1ProxyBlocking,
    names: &[String],
    channel: Option<&String>,
    (classic, ignore_running): (bool, bool),
) -> Res<()> {
    let options = RefreshOptions {
        channel: channel.cloned(),
        classic,
        download_only: false,
        // A person's own refresh: at the helper's usual priority.
        background: false,
        // A person's: a snap whose apps run is refused (SnapInUse), not put off.
        auto: false,
        ignore_running,
    };
    ctl.change(h.refresh(&strs(names), options.to_dict()))
}

pub(crate) fn revert(
    ctl: &Ctl,
    h: &Helper1ProxyBlocking,
    name: &str,
    revision: Option<&String>,
) -> Res<()> {
    let options = RevertOptions {
        revision: revision.cloned(),
    };
    ctl.change(h.revert(name, options.to_dict()))
}

/// `hold` and `unhold`: no change to follow, the helper answers at once.
pub(crate) fn hold(ctl: &Ctl, h: &Helper1ProxyBlocking, names: &[String], hold: bool) -> Res<()> {
    h.hold(&strs(names), hold).map_err(dbus_failure)?;
    let template = if hold {
        gettext("Held: {snaps}")
    } else {
        gettext("Released: {snaps}")
    };
    ctl.print(
        fill(&template, &[("snaps", &names.join(", "))]),
        json!({"names": names, "held": hold}),
    );
    Ok(())
}

/// `connect SNAP:PLUG [[SNAP]:SLOT]`, and `disconnect` the same way.
pub(crate) fn connect(
    ctl: &Ctl,
    h: &Helper1ProxyBlocking,
    plug: &str,
    slot: Option<&str>,
    connect: bool,
) -> Res<()> {
    let (snap, plug) = split_plug(plug)?;
    let (slot_snap, slot) = split_slot(slot);
    let path = if connect {
        h.connect(&snap, &plug, &slot_snap, &slot)
    } else {
        h.disconnect(&snap, &plug, &slot_snap, &slot)
    };
    ctl.change(path)
}

fn split_plug(s: &str) -> Res<(String, String)> {
    s.split_once(':')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .ok_or_else(|| usage(format!("{s:?}: expected SNAP:PLUG")))
}

/// `[SNAP]:SLOT`, or a bare slot of the system.
fn split_slot(s: Option<&str>) -> (String, String) {
    match s {
        None => (String::new(), String::new()),
        Some(s) => match s.split_once(':') {
            Some((snap, slot)) => (snap.to_string(), slot.to_string()),
            None => (String::new(), s.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugs_slots_and_files() {
        assert_eq!(split_plug("a:b").unwrap(), ("a".into(), "b".into()));
        assert!(split_plug("ab").is_err());
        assert!(split_plug(":b").is_err());
        assert_eq!(
            split_slot(Some(":network")),
            (String::new(), "network".into())
        );
        assert_eq!(split_slot(Some("home")), (String::new(), "home".into()));
        assert!(is_file("./x.snap") && is_file("x.snap") && !is_file("shelf-hello"));
    }

    /// The typed options put on the wire what the hand-built dictionaries did: only what was
    /// asked for, so the helper's strict parsing sees no key it does not expect.
    #[test]
    fn options_carry_only_what_was_asked() {
        assert!(RemoveOptions {
            purge: false.then_some(true),
            ..Default::default()
        }
        .to_dict()
        .is_empty());
        let d = RemoveOptions {
            purge: true.then_some(true),
            ..Default::default()
        }
        .to_dict();
        assert_eq!(RemoveOptions::parse(&d).unwrap().purge, Some(true));
        let d = InstallOptions {
            channel: Some("edge".into()),
            revision: None,
            classic: false,
        }
        .to_dict();
        let mut keys: Vec<_> = d.keys().collect();
        keys.sort();
        assert_eq!(keys, ["channel"]);
        assert!(InstallFileOptions {
            unsigned: None,
            classic: None
        }
        .to_dict()
        .is_empty());
    }
}
