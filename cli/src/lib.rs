//! `snapshelfctl`: the command line over the helper's D-Bus API (DESIGN.md §1). Every command is a
//! call or two on `io.github.snapshelf.Helper1`; changes are waited for with a progress bar unless
//! `--no-wait`. Exit codes are in [`exit_code`] and docs/cli.md.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Duration;

use clap::{Parser, Subcommand};
use gettextrs::gettext;
use serde_json::{json, Value};
use snapshelf_dbus::proxy::{Change1ProxyBlocking, Helper1ProxyBlocking};
use snapshelf_dbus::types::Dict;
use snapshelf_dbus::ErrorKind;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value as ZValue};

#[derive(Parser, Debug)]
#[command(
    name = "snapshelfctl",
    version,
    about = "Find, install, update, revert and remove snaps, and switch their permissions"
)]
pub struct Cli {
    /// Machine-readable output (JSON), anywhere on the line.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print the change's path instead of waiting for it.
    #[arg(long, global = true)]
    pub no_wait: bool,
    /// Talk to this bus instead of the system bus.
    #[arg(long, global = true, value_name = "ADDRESS")]
    pub bus_address: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Search the store.
    Find {
        query: Option<String>,
        #[arg(long)]
        category: Option<String>,
    },
    /// Everything about one snap.
    Info { name: String },
    /// The installed snaps.
    List,
    /// Install snaps from the store, or a .snap file.
    Install {
        #[arg(required = true)]
        names: Vec<String>,
        #[arg(long)]
        channel: Option<String>,
        /// Allow a file without store signatures.
        #[arg(long)]
        unsigned: bool,
        #[arg(long)]
        classic: bool,
    },
    /// Remove snaps (their data is kept as a snapshot unless --purge).
    Remove {
        #[arg(required = true)]
        names: Vec<String>,
        #[arg(long)]
        purge: bool,
    },
    /// Update snaps (all with an update when none is named).
    Refresh {
        names: Vec<String>,
        #[arg(long)]
        channel: Option<String>,
    },
    /// Go back to a kept revision (the previous one by default).
    Revert {
        name: String,
        #[arg(long)]
        revision: Option<String>,
    },
    /// Track another channel from the next update on.
    Switch { name: String, channel: String },
    /// Keep snaps at their revision.
    Hold {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Let held snaps update again.
    Unhold {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// The permissions of a snap (or of all).
    Connections { name: Option<String> },
    /// Switch a permission on: `connect SNAP:PLUG [:SLOT]`.
    Connect { plug: String, slot: Option<String> },
    /// Switch a permission off: `disconnect SNAP:PLUG [:SLOT]`.
    Disconnect { plug: String, slot: Option<String> },
    /// Recent changes.
    Changes,
    /// Follow a change until it ends (its number or path).
    Watch { change: String },
    /// Run an app in its sandbox: `run SNAP.APP [ARGS]`.
    Run {
        app: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// Why a command failed: a kind from the helper, or our own.
#[derive(Debug)]
pub struct Failure {
    pub kind: Option<ErrorKind>,
    pub message: String,
    pub code: i32,
    /// Already printed, as part of the change's own JSON document.
    pub reported: bool,
}

impl Failure {
    fn of(kind: ErrorKind, message: String) -> Failure {
        Failure {
            reported: false,
            code: exit_code(kind),
            kind: Some(kind),
            message,
        }
    }
}

/// Exit codes by error kind (docs/cli.md).
pub fn exit_code(kind: ErrorKind) -> i32 {
    use ErrorKind::*;
    match kind {
        NotAuthorized | AuthCancelled => 3,
        NotFound | NotInstalled | ChannelNotAvailable | NoRevisionToRevert => 4,
        NetworkError | StoreError => 5,
        InvalidArgument | InvalidSnap | VerificationFailed | NeedsClassic => 6,
        ChangeConflict | SnapInUse => 7,
        AlreadyInstalled | NoUpdateAvailable | InterfacesUnchanged => 8,
        InsufficientSpace => 9,
        Cancelled => 1,
        Internal => 70,
    }
}

/// Plain words for each kind; the helper's message follows them.
pub fn words(kind: ErrorKind) -> String {
    use ErrorKind::*;
    match kind {
        NotAuthorized => gettext("You are not allowed to do this."),
        AuthCancelled => gettext("The authorization was dismissed."),
        NotFound => gettext("There is no such snap, plug or slot."),
        AlreadyInstalled => gettext("It is already installed."),
        NotInstalled => gettext("It is not installed."),
        InvalidArgument => gettext("That request is not valid."),
        ChangeConflict => gettext("Another change is working on this snap; wait for it to end."),
        NetworkError => gettext("The store cannot be reached; check the network connection."),
        StoreError => gettext("The store refused the request."),
        VerificationFailed => {
            gettext("The download does not match its signatures; nothing was installed.")
        }
        NoUpdateAvailable => gettext("There is no update."),
        NoRevisionToRevert => gettext("There is no other kept revision to go back to."),
        ChannelNotAvailable => gettext("The snap has no such channel."),
        NeedsClassic => gettext("This snap needs classic confinement (--classic)."),
        InsufficientSpace => gettext("There is not enough disk space."),
        SnapInUse => gettext("The snap is in use."),
        InvalidSnap => gettext("The snap file is not valid."),
        InterfacesUnchanged => gettext("The permission is already so."),
        Cancelled => gettext("The change was cancelled."),
        Internal => gettext("Something went wrong inside Snapshelf."),
    }
}

fn dbus_failure(e: zbus::Error) -> Failure {
    let (kind, message) = snapshelf_dbus::error::classify(&e);
    if kind == ErrorKind::Internal {
        if let zbus::Error::MethodError(name, ..) = &e {
            if !name.starts_with("io.github.snapshelf.") {
                return Failure {
                    reported: false,
                    kind: None,
                    message: format!("cannot talk to the Snapshelf helper: {e}"),
                    code: 10,
                };
            }
        } else {
            return Failure {
                reported: false,
                kind: None,
                message: format!("cannot talk to the Snapshelf helper: {e}"),
                code: 10,
            };
        }
    }
    Failure::of(kind, message)
}

type Res<T> = Result<T, Failure>;

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        reported: false,
        kind: None,
        message: message.into(),
        code: 2,
    }
}

/// A D-Bus value as JSON.
pub fn to_json(v: &ZValue<'_>) -> Value {
    match v {
        ZValue::Bool(b) => json!(b),
        ZValue::U8(n) => json!(n),
        ZValue::I16(n) => json!(n),
        ZValue::U16(n) => json!(n),
        ZValue::I32(n) => json!(n),
        ZValue::U32(n) => json!(n),
        ZValue::I64(n) => json!(n),
        ZValue::U64(n) => json!(n),
        ZValue::F64(n) => json!(n),
        ZValue::Str(s) => json!(s.as_str()),
        ZValue::ObjectPath(p) => json!(p.as_str()),
        ZValue::Signature(s) => json!(s.to_string()),
        ZValue::Value(v) => to_json(v),
        ZValue::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        ZValue::Dict(d) => {
            let mut m = serde_json::Map::new();
            for (k, v) in d.iter() {
                let key = match k {
                    ZValue::Str(s) => s.to_string(),
                    other => to_json(other).to_string(),
                };
                m.insert(key, to_json(v));
            }
            Value::Object(m)
        }
        ZValue::Structure(s) => Value::Array(s.fields().iter().map(to_json).collect()),
        ZValue::Fd(_) => Value::Null,
    }
}

pub fn dict_json(d: &Dict) -> Value {
    let sorted: BTreeMap<&String, &OwnedValue> = d.iter().collect();
    Value::Object(
        sorted
            .into_iter()
            .map(|(k, v)| (k.clone(), to_json(v)))
            .collect(),
    )
}

fn text(d: &Dict, key: &str) -> String {
    match d.get(key).map(|v| to_json(v)) {
        Some(Value::String(s)) => s,
        Some(Value::Null) | None => String::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(v) => v.to_string(),
    }
}

/// Rows as aligned columns.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let n = cells.len();
        cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if i + 1 == n {
                    c
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = line(headers.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out.push('\n');
        out.push_str(&line(r.clone()));
    }
    out
}

fn opt<T: Into<ZValue<'static>>>(d: &mut Dict, key: &str, v: T) {
    d.insert(
        key.to_string(),
        OwnedValue::try_from(v.into()).expect("plain values convert"),
    );
}

struct Ctl<'a> {
    cli: &'a Cli,
    conn: zbus::blocking::Connection,
}

impl Ctl<'_> {
    fn helper(&self) -> Res<Helper1ProxyBlocking<'static>> {
        Helper1ProxyBlocking::new(&self.conn).map_err(dbus_failure)
    }

    fn print(&self, human: String, machine: Value) {
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
    fn change(&self, path: zbus::Result<OwnedObjectPath>) -> Res<()> {
        let path = path.map_err(dbus_failure)?;
        if self.cli.no_wait {
            self.print(path.to_string(), json!({ "change": path.as_str() }));
            return Ok(());
        }
        self.wait(path)
    }

    fn wait(&self, path: OwnedObjectPath) -> Res<()> {
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

fn is_file(arg: &str) -> bool {
    arg.ends_with(".snap") || arg.contains('/')
}

/// Words in the person's language: `SNAPSHELF_LOCALEDIR` (tests, the demo) or the system's.
pub fn init_locale() {
    let dir = std::env::var_os("SNAPSHELF_LOCALEDIR").unwrap_or_else(|| "/usr/share/locale".into());
    let _ = gettextrs::setlocale(gettextrs::LocaleCategory::LcAll, "");
    let _ = gettextrs::bindtextdomain("snapshelf", std::path::PathBuf::from(dir));
    let _ = gettextrs::bind_textdomain_codeset("snapshelf", "UTF-8");
    let _ = gettextrs::textdomain("snapshelf");
}

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
    if let Command::Run { app, args } = &cli.command {
        return run_app(app, args);
    }
    let conn = match &cli.bus_address {
        Some(a) => zbus::blocking::connection::Builder::address(a.as_str()).and_then(|b| b.build()),
        None => zbus::blocking::Connection::system(),
    }
    .map_err(|e| Failure {
        reported: false,
        kind: None,
        message: format!("cannot reach the system bus: {e}"),
        code: 10,
    })?;
    let ctl = Ctl { cli, conn };
    let h = ctl.helper()?;
    match &cli.command {
        Command::Find { query, category } => {
            let mut o = Dict::new();
            if let Some(c) = category {
                opt(&mut o, "category", c.clone());
            }
            let found = h
                .find(query.as_deref().unwrap_or(""), o)
                .map_err(dbus_failure)?;
            let rows: Vec<Vec<String>> = found
                .iter()
                .map(|d| {
                    let verified = if text(d, "publisher-validation") == "verified" {
                        "✓"
                    } else {
                        ""
                    };
                    vec![
                        text(d, "name"),
                        text(d, "version"),
                        format!("{}{verified}", text(d, "publisher")),
                        text(d, "summary"),
                    ]
                })
                .collect();
            ctl.print(
                table(
                    &[
                        &gettext("Name"),
                        &gettext("Version"),
                        &gettext("Publisher"),
                        &gettext("Summary"),
                    ],
                    &rows,
                ),
                Value::Array(found.iter().map(dict_json).collect()),
            );
        }
        Command::Info { name } => {
            let d = h.info(name).map_err(dbus_failure)?;
            let mut human = String::new();
            for key in [
                "name",
                "title",
                "summary",
                "version",
                "publisher",
                "license",
                "installed-revision",
                "tracking-channel",
                "held",
                "apps",
                "revisions",
                "website",
            ] {
                let v = text(&d, key);
                if !v.is_empty() {
                    human.push_str(&format!("{key}: {v}\n"));
                }
            }
            if let Some(Value::Array(chs)) = d.get("channels").map(|v| to_json(v)) {
                human.push_str("channels:\n");
                for c in chs {
                    human.push_str(&format!(
                        "  {}: {} ({})\n",
                        c["channel"].as_str().unwrap_or(""),
                        c["version"].as_str().unwrap_or(""),
                        c["revision"].as_str().unwrap_or("")
                    ));
                }
            }
            let desc = text(&d, "description");
            if !desc.is_empty() {
                human.push_str(&format!(
                    "description: |\n  {}\n",
                    desc.trim().replace('\n', "\n  ")
                ));
            }
            ctl.print(human.trim_end().to_string(), dict_json(&d));
        }
        Command::List => {
            let list = h.list_installed().map_err(dbus_failure)?;
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|d| {
                    let held = if to_json(d.get("held").unwrap_or(&OwnedValue::from(false)))
                        == json!(true)
                    {
                        // Translators: a snap kept at its revision (no updates).
                        gettext("held")
                    } else {
                        String::new()
                    };
                    vec![
                        text(d, "name"),
                        text(d, "version"),
                        text(d, "revision"),
                        text(d, "channel"),
                        held,
                    ]
                })
                .collect();
            ctl.print(
                table(
                    &[
                        &gettext("Name"),
                        &gettext("Version"),
                        &gettext("Rev"),
                        &gettext("Tracking"),
                        &gettext("Notes"),
                    ],
                    &rows,
                ),
                Value::Array(list.iter().map(dict_json).collect()),
            );
        }
        Command::Install {
            names,
            channel,
            unsigned,
            classic,
        } => {
            if names.iter().any(|n| is_file(n)) {
                if names.len() != 1 {
                    return Err(usage("install one file at a time"));
                }
                // A file has no channel, and its sandbox is what it says: nothing to ignore quietly.
                if channel.is_some() || *classic {
                    return Err(usage("--channel and --classic are for names, not files"));
                }
                let f = std::fs::File::open(Path::new(&names[0]))
                    .map_err(|e| usage(format!("cannot open {}: {e}", names[0])))?;
                let mut o = Dict::new();
                if *unsigned {
                    opt(&mut o, "unsigned", true);
                }
                ctl.change(h.install_file(zbus::zvariant::OwnedFd::from(OwnedFd::from(f)), o))?;
            } else {
                if *unsigned {
                    return Err(usage(
                        "--unsigned is for a .snap file; the store signs what it serves",
                    ));
                }
                let mut o = Dict::new();
                if let Some(c) = channel {
                    opt(&mut o, "channel", c.clone());
                }
                if *classic {
                    opt(&mut o, "classic", true);
                }
                let n: Vec<&str> = names.iter().map(String::as_str).collect();
                ctl.change(h.install(&n, o))?;
            }
        }
        Command::Remove { names, purge } => {
            let mut o = Dict::new();
            if *purge {
                opt(&mut o, "purge", true);
            }
            let n: Vec<&str> = names.iter().map(String::as_str).collect();
            ctl.change(h.remove(&n, o))?;
        }
        Command::Refresh { names, channel } => {
            let mut o = Dict::new();
            if let Some(c) = channel {
                opt(&mut o, "channel", c.clone());
            }
            let n: Vec<&str> = names.iter().map(String::as_str).collect();
            ctl.change(h.refresh(&n, o))?;
        }
        Command::Revert { name, revision } => {
            let mut o = Dict::new();
            if let Some(r) = revision {
                opt(&mut o, "revision", r.clone());
            }
            ctl.change(h.revert(name, o))?;
        }
        Command::Switch { name, channel } => ctl.change(h.switch(name, channel))?,
        Command::Hold { names } | Command::Unhold { names } => {
            let hold = matches!(cli.command, Command::Hold { .. });
            let n: Vec<&str> = names.iter().map(String::as_str).collect();
            h.hold(&n, hold).map_err(dbus_failure)?;
            ctl.print(
                if hold {
                    gettext("Held: {snaps}")
                } else {
                    gettext("Released: {snaps}")
                }
                .replace("{snaps}", &names.join(", ")),
                json!({"names": names, "held": hold}),
            );
        }
        Command::Connections { name } => {
            let list = h
                .connections(name.as_deref().unwrap_or(""))
                .map_err(dbus_failure)?;
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|d| {
                    let on = to_json(d.get("connected").unwrap_or(&OwnedValue::from(false)))
                        == json!(true);
                    let manual =
                        to_json(d.get("manual").unwrap_or(&OwnedValue::from(false))) == json!(true);
                    vec![
                        format!("{}:{}", text(d, "plug-snap"), text(d, "plug")),
                        text(d, "interface"),
                        if on { gettext("on") } else { gettext("off") },
                        // Translators: who set a permission: the person, or the default policy.
                        if manual {
                            gettext("your choice")
                        } else {
                            gettext("default")
                        },
                        text(d, "label"),
                    ]
                })
                .collect();
            ctl.print(
                table(
                    &[
                        &gettext("Plug"),
                        &gettext("Interface"),
                        &gettext("State"),
                        // Translators: who set a permission: the person, or the default.
                        &gettext("Set by"),
                        &gettext("Permission"),
                    ],
                    &rows,
                ),
                Value::Array(list.iter().map(dict_json).collect()),
            );
        }
        Command::Connect { plug, slot } | Command::Disconnect { plug, slot } => {
            let (snap, plug) = split_plug(plug)?;
            let (slot_snap, slot) = split_slot(slot.as_deref());
            let path = if matches!(cli.command, Command::Connect { .. }) {
                h.connect(&snap, &plug, &slot_snap, &slot)
            } else {
                h.disconnect(&snap, &plug, &slot_snap, &slot)
            };
            ctl.change(path)?;
            return Ok(());
        }
        Command::Changes => {
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
                machine.push(
                    json!({"id": id, "status": status, "summary": summary, "path": p.as_str()}),
                );
                rows.push(vec![id, status, summary]);
            }
            ctl.print(
                table(
                    &[&gettext("ID"), &gettext("Status"), &gettext("Summary")],
                    &rows,
                ),
                Value::Array(machine),
            );
        }
        Command::Watch { change } => {
            let path = if change.starts_with('/') {
                change.clone()
            } else {
                format!("/io/github/snapshelf/Helper1/changes/{change}")
            };
            let path = OwnedObjectPath::try_from(path)
                .map_err(|e| usage(format!("{change:?} is not a change: {e}")))?;
            ctl.wait(path)?;
        }
        Command::Run { .. } => unreachable!("handled before connecting"),
    }
    Ok(())
}

/// `run SNAP.APP`: hand over to the launcher (the same as `/snap/bin/<app>`). As for the app,
/// `$SNAPSHELF_CONFINE` names another launcher and `$SNAPSHELF_ROOT` another root (the demo's).
fn run_app(app: &str, args: &[String]) -> Res<()> {
    use std::os::unix::process::CommandExt;
    let given = std::env::var("SNAPSHELF_CONFINE").ok();
    let confine = given
        .iter()
        .map(String::as_str)
        .chain([
            "/usr/libexec/snapshelf/snapshelf-confine",
            "/usr/local/libexec/snapshelf/snapshelf-confine",
        ])
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| Failure {
            reported: false,
            kind: None,
            message: "snapshelf-confine is not installed".into(),
            code: 10,
        })?;
    let mut cmd = std::process::Command::new(confine);
    if let Some(root) = std::env::var_os("SNAPSHELF_ROOT") {
        cmd.arg("--root").arg(root);
    }
    let e = cmd.arg(app).args(args).exec();
    Err(Failure {
        reported: false,
        kind: None,
        message: format!("cannot run {confine}: {e}"),
        code: 126,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
            Command::Run { app, args } => {
                assert_eq!(app, "hello.world");
                assert_eq!(args, vec!["--json", "-x"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plugs_slots_and_codes() {
        assert_eq!(split_plug("a:b").unwrap(), ("a".into(), "b".into()));
        assert!(split_plug("ab").is_err());
        assert!(split_plug(":b").is_err());
        assert_eq!(
            split_slot(Some(":network")),
            (String::new(), "network".into())
        );
        assert_eq!(split_slot(Some("home")), (String::new(), "home".into()));
        assert!(is_file("./x.snap") && is_file("x.snap") && !is_file("shelf-hello"));
        for k in ErrorKind::ALL {
            assert!(!words(*k).is_empty());
            assert!(exit_code(*k) != 0 && exit_code(*k) != 2 && exit_code(*k) != 10);
        }
        let t = table(&["A", "Bb"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "A    Bb\nxyz  1");
    }
}
