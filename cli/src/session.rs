//! One run of the CLI against the helper: the connection, how to print, and how a change is
//! followed (a progress bar, polling the change object) until it ends.

use std::time::Duration;

use serde_json::{json, Value};
use snapshelf_dbus::proxy::{Change1ProxyBlocking, Helper1ProxyBlocking};
use snapshelf_dbus::ErrorKind;
use zbus::zvariant::OwnedObjectPath;

use crate::args::Cli;
use crate::failure::{dbus_failure, usage, Failure, Res};

pub(crate) struct Ctl<'a> {
    pub(crate) cli: &'a Cli,
    pub(crate) conn: zbus::blocking::Connection,
}

impl Ctl<'_> {
    pub(crate) fn helper(&self) -> Res<Helper1ProxyBlocking<'static>> {
        Helper1ProxyBlocking::new(&self.conn).map_err(dbus_failure)
    }

    pub(crate) fn print(&self, human: String, machine: Value) {
        if self.cli.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&machine).unwrap_or_default()
            );
        } else if !human.is_empty() {
            println!("{human}");
        }
    }

    /// Wait for a change (or just print its path with --no-wait).
    pub(crate) fn change(&self, path: zbus::Result<OwnedObjectPath>) -> Res<()> {
        let path = path.map_err(dbus_failure)?;
        if self.cli.no_wait {
            self.print(path.to_string(), json!({ "change": path.as_str() }));
            return Ok(());
        }
        self.wait(path)
    }

    /// `watch N` or `watch /io/github/snapshelf/Helper1/changes/N`.
    pub(crate) fn watch(&self, change: &str) -> Res<()> {
        let path = if change.starts_with('/') {
            change.to_string()
        } else {
            format!("/io/github/snapshelf/Helper1/changes/{change}")
        };
        let path = OwnedObjectPath::try_from(path)
            .map_err(|e| usage(format!("{change:?} is not a change: {e}")))?;
        self.wait(path)
    }

    pub(crate) fn wait(&self, path: OwnedObjectPath) -> Res<()> {
        let change = Change1ProxyBlocking::builder(&self.conn)
            .path(path.clone())
            .map_err(dbus_failure)?
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .map_err(dbus_failure)?;
        let summary = change.summary().map_err(dbus_failure)?;
        let bar = if self.cli.json {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(1000)
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {percent:>3}%")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(summary.clone());
        loop {
            if change.ready().map_err(dbus_failure)? {
                break;
            }
            let p = change.progress().map_err(dbus_failure)?;
            let label = change.progress_label().map_err(dbus_failure)?;
            if p >= 0.0 {
                bar.set_position((p * 1000.0) as u64);
            }
            if !label.is_empty() {
                bar.set_message(label);
            }
            bar.tick();
            std::thread::sleep(Duration::from_millis(100));
        }
        bar.finish_and_clear();
        let status = change.status().map_err(dbus_failure)?;
        let kind = change.error_kind().map_err(dbus_failure)?;
        let error = change.error().map_err(dbus_failure)?;
        self.print(
            format!("{summary}: {status}"),
            json!({"change": path.as_str(), "summary": summary, "status": status,
                   "error-kind": kind, "error": error}),
        );
        if status == "Done" {
            return Ok(());
        }
        let kind = ErrorKind::from_kebab(&kind).unwrap_or(ErrorKind::Internal);
        Err(Failure {
            // With --json the change's document above already says how it ended: one document.
            reported: self.cli.json,
            code: 1,
            kind: Some(kind),
            message: error,
        })
    }
}
