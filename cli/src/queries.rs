//! The commands that only ask: find, info, list, connections, changes. Each reads the helper's
//! answer through the typed `snapshelf_dbus::types` for people, and prints the answer's own
//! dictionaries, key for key, with `--json`.

use gettextrs::gettext;
use serde_json::{json, Value};
use snapshelf_dbus::proxy::{Change1ProxyBlocking, Helper1ProxyBlocking};
use snapshelf_dbus::types::{
    Connection, Dict, FindOptions, FindResult, InstalledSnap, SnapDetails,
};

use crate::failure::{dbus_failure, Failure, Res};
use crate::output::{dict_json, table};
use crate::session::Ctl;

/// Read each dictionary of an answer as `T`; one that does not fit is the helper's fault.
fn typed<T>(list: &[Dict], read: fn(&Dict) -> Result<T, snapshelf_dbus::Error>) -> Res<Vec<T>> {
    list.iter()
        .map(|d| read(d).map_err(Failure::bad_answer))
        .collect()
}

fn json_list(list: &[Dict]) -> Value {
    Value::Array(list.iter().map(dict_json).collect())
}

pub(crate) fn find(
    ctl: &Ctl,
    h: &Helper1ProxyBlocking,
    query: Option<&str>,
    category: Option<&str>,
) -> Res<()> {
    let options = FindOptions {
        category: category.map(str::to_string),
        limit: None,
    };
    let found = h
        .find(query.unwrap_or(""), options.to_dict())
        .map_err(dbus_failure)?;
    let rows: Vec<Vec<String>> = typed(&found, FindResult::from_dict)?
        .into_iter()
        .map(|r| {
            let verified = if r.publisher_validation == "verified" {
                "✓"
            } else {
                ""
            };
            vec![
                r.name,
                r.version,
                format!("{}{verified}", r.publisher),
                r.summary,
            ]
        })
        .collect();
    let headers = [
        gettext("Name"),
        gettext("Version"),
        gettext("Publisher"),
        gettext("Summary"),
    ];
    ctl.print(table(&headers, &rows), json_list(&found));
    Ok(())
}

pub(crate) fn info(ctl: &Ctl, h: &Helper1ProxyBlocking, name: &str) -> Res<()> {
    let d = h.info(name).map_err(dbus_failure)?;
    let details = SnapDetails::from_dict(&d).map_err(Failure::bad_answer)?;
    let channels = details.channels().map_err(Failure::bad_answer)?;
    let mut human = describe(&details, &channels);
    let health = health_of(&d);
    if !health.is_empty() {
        human.push('\n');
        human.push_str(health.trim_end());
    }
    ctl.print(human, dict_json(&d));
    Ok(())
}

/// The `health:` lines of `info` (as `snap info`'s), from the answer's `health` entry: none for a
/// snap that never reported its health.
fn health_of(d: &Dict) -> String {
    let answer = dict_json(d);
    let Some(h) = answer.get("health").and_then(Value::as_object) else {
        return String::new();
    };
    let mut out = "health:\n".to_string();
    for key in ["status", "message", "code", "revision"] {
        if let Some(v) = h.get(key).and_then(Value::as_str).filter(|v| !v.is_empty()) {
            out.push_str(&format!("  {key}: {v}\n"));
        }
    }
    out
}

/// `info` for people: `key: value` lines (empty ones left out), the channels, the description.
fn describe(details: &SnapDetails, channels: &[snapshelf_dbus::types::ChannelInfo]) -> String {
    let (s, x) = (&details.summary, &details.extra);
    let fields = [
        ("name", s.name.clone()),
        ("title", s.title.clone()),
        ("summary", s.summary.clone()),
        ("version", s.version.clone()),
        ("publisher", s.publisher.clone()),
        ("license", s.license.clone()),
        ("installed-revision", x.installed_revision.clone()),
        ("tracking-channel", x.tracking_channel.clone()),
        ("held", x.held.to_string()),
        ("apps", x.apps.join(", ")),
        ("revisions", x.revisions.join(", ")),
        ("website", x.website.clone()),
    ];
    let mut human = String::new();
    for (key, v) in fields {
        if !v.is_empty() {
            human.push_str(&format!("{key}: {v}\n"));
        }
    }
    if !channels.is_empty() {
        human.push_str("channels:\n");
        for c in channels {
            human.push_str(&format!(
                "  {}: {} ({})\n",
                c.channel, c.version, c.revision
            ));
        }
    }
    let desc = x.description.trim();
    if !desc.is_empty() {
        human.push_str(&format!(
            "description: |\n  {}\n",
            desc.replace('\n', "\n  ")
        ));
    }
    human.trim_end().to_string()
}

pub(crate) fn list(ctl: &Ctl, h: &Helper1ProxyBlocking) -> Res<()> {
    let list = h.list_installed().map_err(dbus_failure)?;
    let rows: Vec<Vec<String>> = typed(&list, InstalledSnap::from_dict)?
        .into_iter()
        .map(|s| {
            let held = if s.held {
                // Translators: a snap kept at its revision (no updates).
                gettext("held")
            } else {
                String::new()
            };
            vec![s.name, s.version, s.revision, s.channel, held]
        })
        .collect();
    let headers = [
        gettext("Name"),
        gettext("Version"),
        gettext("Rev"),
        gettext("Tracking"),
        gettext("Notes"),
    ];
    ctl.print(table(&headers, &rows), json_list(&list));
    Ok(())
}

pub(crate) fn connections(ctl: &Ctl, h: &Helper1ProxyBlocking, name: Option<&str>) -> Res<()> {
    let list = h.connections(name.unwrap_or("")).map_err(dbus_failure)?;
    let typed_list = typed(&list, Connection::from_dict)?;
    let rows: Vec<Vec<String>> = typed_list
        .iter()
        .zip(&list)
        .map(|(c, d)| {
            let tag = d.get("content").and_then(|v| <&str>::try_from(&**v).ok());
            connection_row(c, tag)
        })
        .collect();
    // snapd's `snap connections` columns first, then ours for people.
    let headers = [
        gettext("Interface"),
        gettext("Plug"),
        gettext("Slot"),
        gettext("State"),
        // Translators: who set a permission: the person, or the default.
        gettext("Set by"),
        gettext("Permission"),
    ];
    ctl.print(table(&headers, &rows), json_list(&list));
    Ok(())
}

/// One row of `connections`. As in snapd's `snap connections`: a content interface with its tag
/// (`content[tag]`), a system slot as `:slot`, and `-` for the slot of a plug not connected.
fn connection_row(c: &Connection, content_tag: Option<&str>) -> Vec<String> {
    let interface = match content_tag.filter(|t| !t.is_empty()) {
        Some(tag) => format!("{}[{tag}]", c.interface),
        None => c.interface.clone(),
    };
    let slot = if !c.connected {
        "-".to_string()
    } else {
        format!("{}:{}", c.slot_snap, c.slot)
    };
    vec![
        interface,
        format!("{}:{}", c.plug_snap, c.plug),
        slot,
        if c.connected {
            gettext("on")
        } else {
            gettext("off")
        },
        // Translators: who set a permission: the person, or the default policy.
        if c.manual {
            gettext("your choice")
        } else {
            gettext("default")
        },
        c.label.clone(),
    ]
}

pub(crate) fn changes(ctl: &Ctl, h: &Helper1ProxyBlocking) -> Res<()> {
    let paths = h.list_changes().map_err(dbus_failure)?;
    let mut rows = Vec::new();
    let mut machine = Vec::new();
    for p in paths {
        let c = Change1ProxyBlocking::builder(&ctl.conn)
            .path(p.clone())
            .map_err(dbus_failure)?
            .build()
            .map_err(dbus_failure)?;
        let (id, status, summary) = (
            c.id().map_err(dbus_failure)?,
            c.status().map_err(dbus_failure)?,
            c.summary().map_err(dbus_failure)?,
        );
        machine.push(json!({"id": id, "status": status, "summary": summary, "path": p.as_str()}));
        rows.push(vec![id, status, summary]);
    }
    let headers = [gettext("ID"), gettext("Status"), gettext("Summary")];
    ctl.print(table(&headers, &rows), Value::Array(machine));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapshelf_dbus::types::{ChannelInfo, FindResult, InfoExtra};

    #[test]
    fn a_connection_row_names_its_slot_as_snapd_does() {
        let mut c = Connection {
            interface: "network".into(),
            plug_snap: "shelf-clock".into(),
            plug: "network".into(),
            slot_snap: String::new(),
            slot: "network".into(),
            connected: true,
            manual: false,
            label: "Network".into(),
            auto: true,
        };
        let row = connection_row(&c, None);
        assert_eq!(row[..3], ["network", "shelf-clock:network", ":network"]);
        c.connected = false;
        assert_eq!(connection_row(&c, None)[2], "-");
        let content = Connection {
            interface: "content".into(),
            plug_snap: "app".into(),
            plug: "themes".into(),
            slot_snap: "gtk-themes".into(),
            slot: "gtk-3-themes".into(),
            connected: true,
            manual: true,
            label: "Content".into(),
            auto: false,
        };
        let row = connection_row(&content, Some("gtk-3-themes"));
        assert_eq!(
            row[..3],
            [
                "content[gtk-3-themes]",
                "app:themes",
                "gtk-themes:gtk-3-themes"
            ]
        );
    }

    #[test]
    fn info_for_people_leaves_out_what_is_empty() {
        let details = SnapDetails {
            summary: FindResult {
                name: "shelf-clock".into(),
                version: "1.0".into(),
                ..Default::default()
            },
            extra: InfoExtra {
                apps: vec!["clock".into(), "alarm".into()],
                description: "A clock.\nWith alarms.\n".into(),
                ..Default::default()
            },
        };
        let channels = [ChannelInfo {
            channel: "latest/stable".into(),
            version: "1.0".into(),
            revision: "1".into(),
            ..Default::default()
        }];
        assert_eq!(
            describe(&details, &channels),
            "name: shelf-clock\nversion: 1.0\nheld: false\napps: clock, alarm\n\
             channels:\n  latest/stable: 1.0 (1)\n\
             description: |\n  A clock.\n  With alarms."
        );
    }

    #[test]
    fn info_shows_the_health_when_there_is_one() {
        use zbus::zvariant::{OwnedValue, Value as ZValue};
        let mut d = Dict::new();
        assert_eq!(health_of(&d), "");
        let h: std::collections::HashMap<String, OwnedValue> = [
            ("status", "waiting"),
            ("message", "for the network"),
            ("code", ""),
            ("revision", "x1"),
        ]
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                OwnedValue::try_from(ZValue::from(v)).unwrap(),
            )
        })
        .collect();
        d.insert(
            "health".into(),
            OwnedValue::try_from(ZValue::from(h)).unwrap(),
        );
        assert_eq!(
            health_of(&d),
            "health:\n  status: waiting\n  message: for the network\n  revision: x1\n"
        );
    }
}
