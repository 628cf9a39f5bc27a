//! `snapshelfctl`: the command line over the helper's D-Bus API (DESIGN.md §1). Every command is a
//! call or two on `io.github.snapshelf.Helper1`; changes are waited for with a progress bar unless
//! `--no-wait`. Exit codes are in [`exit_code`] and docs/cli.md.
//!
//! `args` is the command line, `queries` the commands that ask, `changes` those that start a
//! change, `session` the connection and how a change is followed, `output` tables and JSON,
//! `failure` error kinds, words and exit codes, `run_app` the hand-over to the launcher, `routine` what other programs run (xdg-desktop-portal's
//! `snap routine portal-info`).

mod aliases;
mod args;
mod autostart;
mod changes;
mod config;
mod desktop_entry;
mod failure;
mod output;
mod queries;
mod routine;
mod run_app;
mod services;
mod session;
mod version;

use gettextrs::gettext;
use serde_json::json;

pub use args::{Cli, Command, Routine};
pub use failure::{exit_code, words, Failure};
pub use output::{dict_json, to_json};
pub use routine::as_snap;
/// Words in the person's language: the same set-up as the app's.
pub use snapshelf_i18n::init_locale;

use failure::Res;
use session::Ctl;

/// Run the command line. Returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    match execute(&cli) {
        Ok(()) => 0,
        Err(f) if f.reported => f.code,
        Err(f) => {
            match f.kind {
                Some(k) if !cli.json => {
                    eprintln!("{} {} {}", gettext("error:"), words(k), f.message)
                }
                Some(k) => println!(
                    "{}",
                    json!({"error-kind": k.as_kebab(), "error": f.message})
                ),
                None => eprintln!("error: {}", f.message),
            }
            f.code
        }
    }
}

fn execute(cli: &Cli) -> Res<()> {
    if let Command::Run { shell, app, args } = &cli.command {
        return run_app::run_app(app, *shell, args);
    }
    if let Command::Autostart = &cli.command {
        return autostart::autostart();
    }
    if let Command::Version = &cli.command {
        return version::version(cli.json);
    }
    if let Command::Routine {
        routine: Routine::PortalInfo { pid, root },
    } = &cli.command
    {
        return routine::portal_info(*pid, root.as_deref());
    }
    let conn = match &cli.bus_address {
        Some(a) => zbus::blocking::connection::Builder::address(a.as_str()).and_then(|b| b.build()),
        None => zbus::blocking::Connection::system(),
    }
    .map_err(|e| Failure::own(format!("cannot reach the system bus: {e}"), 10))?;
    // The helper's summaries and errors in the person's language; without it (an older helper,
    // a locale it refuses), in its own.
    if let Some(locale) = snapshelf_i18n::messages_locale() {
        let _ = snapshelf_dbus::proxy::Helper1ProxyBlocking::new(&conn)
            .and_then(|h| h.set_locale(&locale));
    }
    let ctl = Ctl { cli, conn };
    let h = ctl.helper()?;
    match &cli.command {
        Command::Find { query, category } => {
            queries::find(&ctl, &h, query.as_deref(), category.as_deref())
        }
        Command::Info { name } => queries::info(&ctl, &h, name),
        Command::List => queries::list(&ctl, &h),
        Command::Connections { name } => queries::connections(&ctl, &h, name.as_deref()),
        Command::Changes => queries::changes(&ctl, &h),
        Command::Install {
            names,
            channel,
            unsigned,
            classic,
        } => changes::install(&ctl, &h, names, channel.as_ref(), *unsigned, *classic),
        Command::Remove {
            names,
            purge,
            disconnect_users,
        } => changes::remove(&ctl, &h, names, *purge, *disconnect_users),
        Command::Refresh {
            names,
            channel,
            classic,
            ignore_running,
        } => changes::refresh(
            &ctl,
            &h,
            names,
            channel.as_ref(),
            (*classic, *ignore_running),
        ),
        Command::Revert { name, revision } => changes::revert(&ctl, &h, name, revision.as_ref()),
        Command::Switch { name, channel } => ctl.change(h.switch(name, channel)),
        Command::Hold { names } => changes::hold(&ctl, &h, names, true),
        Command::Unhold { names } => changes::hold(&ctl, &h, names, false),
        Command::Connect { plug, slot } => changes::connect(&ctl, &h, plug, slot.as_deref(), true),
        Command::Disconnect { plug, slot } => {
            changes::connect(&ctl, &h, plug, slot.as_deref(), false)
        }
        Command::Watch { change } => ctl.watch(change),
        Command::Alias { snap_app, alias } => {
            aliases::change(&ctl, &h, |h| h.alias(snap_app, alias))
        }
        Command::Unalias { alias_or_snap } => {
            aliases::change(&ctl, &h, |h| h.unalias(alias_or_snap))
        }
        Command::Aliases { snap } => aliases::aliases(&ctl, &h, snap.as_deref()),
        Command::Get {
            document,
            list,
            typed,
            snap,
            keys,
        } => {
            let f = config::GetFormat {
                document: *document,
                list: *list,
                typed: *typed,
            };
            config::get(&ctl, &h, snap, keys, f)
        }
        Command::Set {
            string,
            typed,
            snap,
            values,
        } => config::set(&ctl, &h, snap, config::parse_set(values, *string, *typed)?),
        Command::Unset { snap, keys } => {
            let nulls = keys.iter().map(|k| (k.clone(), serde_json::Value::Null));
            config::set(&ctl, &h, snap, nulls.collect())
        }
        Command::Services { names } => services::list(&ctl, &h, names),
        Command::Start { services, enable } => {
            services::control(&ctl, &h, services, services::Op::Start { enable: *enable })
        }
        Command::Stop { services, disable } => {
            services::control(&ctl, &h, services, services::Op::Stop { disable: *disable })
        }
        Command::Restart { services, reload } => services::control(
            &ctl,
            &h,
            services,
            services::Op::Restart { reload: *reload },
        ),
        Command::Logs {
            services,
            lines,
            follow,
        } => services::logs(&h, services, *lines, *follow),
        Command::Run { .. } | Command::Version | Command::Autostart | Command::Routine { .. } => {
            unreachable!("handled before connecting")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use snapshelf_dbus::ErrorKind;

    #[test]
    fn json_goes_anywhere_on_the_line() {
        for line in [
            &["snapshelfctl", "--json", "list"][..],
            &["snapshelfctl", "list", "--json"],
            &[
                "snapshelfctl",
                "install",
                "--json",
                "a",
                "--channel",
                "edge",
            ],
        ] {
            let c = Cli::try_parse_from(line).unwrap();
            assert!(c.json, "{line:?}");
        }
        // For `run`, what follows the app's first argument (or `--`) is the app's.
        let c =
            Cli::try_parse_from(["snapshelfctl", "run", "--json", "hello.world", "-x"]).unwrap();
        assert!(c.json);
        let c =
            Cli::try_parse_from(["snapshelfctl", "run", "hello.world", "-x", "--json"]).unwrap();
        assert!(!c.json);
        let c = Cli::try_parse_from(["snapshelfctl", "run", "hello.world", "--", "--json", "-x"])
            .unwrap();
        assert!(!c.json);
        match c.command {
            Command::Run { app, args, shell } => {
                assert_eq!(app, "hello.world");
                assert_eq!(args, vec!["--json", "-x"]);
                assert!(!shell);
            }
            other => panic!("{other:?}"),
        }
        let c = Cli::try_parse_from(["snapshelfctl", "run", "--shell", "a.b", "-c", "echo $SNAP"])
            .unwrap();
        match c.command {
            Command::Run { app, args, shell } => {
                assert_eq!(app, "a.b");
                assert_eq!(args, vec!["-c", "echo $SNAP"]);
                assert!(shell);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_kind_has_words_and_its_own_code() {
        for k in ErrorKind::ALL {
            assert!(!words(*k).is_empty());
            assert!(exit_code(*k) != 0 && exit_code(*k) != 2 && exit_code(*k) != 10);
        }
        let t = output::table(&["A", "Bb"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "A    Bb\nxyz  1");
    }
}
