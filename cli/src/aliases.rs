//! `alias SNAP.APP ALIAS`, `unalias ALIAS|SNAP`, `aliases [SNAP]`: snapd's `snap alias`, `snap
//! unalias` and `snap aliases`, with their words. What a change added or removed is what
//! `Aliases()` says after it against before (the helper's messages are never read).

use gettextrs::gettext;
use serde_json::Value;
use snapshelf_dbus::proxy::Helper1ProxyBlocking;
use snapshelf_dbus::types::AliasInfo;
use snapshelf_i18n::fill;

use crate::failure::{dbus_failure, Failure, Res};
use crate::output::{dict_json, table};
use crate::session::Ctl;

/// `snap` or `snap.app`: how an app is called on the command line.
fn command(snap: &str, app: &str) -> String {
    if snap == app {
        snap.to_string()
    } else {
        format!("{snap}.{app}")
    }
}

fn current(h: &Helper1ProxyBlocking) -> Res<Vec<AliasInfo>> {
    let list = h.aliases().map_err(dbus_failure)?;
    list.iter()
        .map(|d| AliasInfo::from_dict(d).map_err(Failure::bad_answer))
        .collect()
}

/// `aliases [SNAP]`: Command, Alias, Notes (`manual`, or `-` for an automatic alias).
pub(crate) fn aliases(ctl: &Ctl, h: &Helper1ProxyBlocking, snap: Option<&str>) -> Res<()> {
    let list = h.aliases().map_err(dbus_failure)?;
    let mut rows: Vec<(AliasInfo, Value)> = list
        .iter()
        .map(|d| {
            Ok((
                AliasInfo::from_dict(d).map_err(Failure::bad_answer)?,
                dict_json(d),
            ))
        })
        .collect::<Res<_>>()?;
    rows.retain(|(a, _)| snap.is_none_or(|s| a.snap == s));
    rows.sort_by(|(a, _), (b, _)| (&a.snap, &a.app, &a.alias).cmp(&(&b.snap, &b.app, &b.alias)));
    if ctl.cli.json {
        ctl.print(
            String::new(),
            Value::Array(rows.into_iter().map(|(_, v)| v).collect()),
        );
        return Ok(());
    }
    if rows.is_empty() {
        match snap {
            Some(s) => eprintln!(
                "{}",
                fill(
                    &gettext("No aliases are currently defined for snap \"{snap}\"."),
                    &[("snap", &s)]
                )
            ),
            None => eprintln!("{}", gettext("No aliases are currently defined.")),
        }
        eprintln!(
            "\n{}",
            gettext("Use 'snapshelfctl alias SNAP.APP ALIAS' to create aliases manually.")
        );
        return Ok(());
    }
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(a, _)| {
            let notes = if a.auto {
                "-".to_string()
            } else {
                gettext("manual")
            };
            vec![command(&a.snap, &a.app), a.alias.clone(), notes]
        })
        .collect();
    let headers = [gettext("Command"), gettext("Alias"), gettext("Notes")];
    println!("{}", table(&headers, &table_rows));
    Ok(())
}

/// `alias SNAP.APP ALIAS` and `unalias ALIAS|SNAP`: the change, then what it added and removed.
pub(crate) fn change(
    ctl: &Ctl,
    h: &Helper1ProxyBlocking,
    start: impl FnOnce(&Helper1ProxyBlocking) -> zbus::Result<zbus::zvariant::OwnedObjectPath>,
) -> Res<()> {
    let before = current(h)?;
    ctl.change(start(h))?;
    if ctl.cli.json || ctl.cli.no_wait {
        return Ok(());
    }
    let after = current(h)?;
    let missing = |from: &[AliasInfo], to: &[AliasInfo]| -> Vec<AliasInfo> {
        from.iter().filter(|a| !to.contains(a)).cloned().collect()
    };
    for (label, list) in [
        // Translators: introduces a list of aliases that were added.
        (gettext("Added"), missing(&after, &before)),
        // Translators: introduces a list of aliases that were removed.
        (gettext("Removed"), missing(&before, &after)),
    ] {
        if list.is_empty() {
            continue;
        }
        println!("{label}:");
        for a in list {
            // Translators: {command} is a snap's command (hello-world.echo), {alias} the alias.
            let line = fill(
                &gettext("  - {command} as {alias}"),
                &[("command", &command(&a.snap, &a.app)), ("alias", &a.alias)],
            );
            println!("{line}");
        }
    }
    Ok(())
}
