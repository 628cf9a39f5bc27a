//! A snap's daemons as systemd unit files, with snapd's mapping (`wrappers/internal/
//! service_unit_gen.go`, `service_socket_gen.go`, `service_timer_gen.go`): one
//! `snap.<name>.<app>.service` per daemon, run through confine, plus its activators (a `.timer`, one
//! `.socket` per socket). Pure: nothing here touches the system, so every rule is a unit test.
//!
//! Nothing a snap.yaml says reaches a unit file as it is written: names are checked names, commands
//! never appear (the unit runs `snapshelf-confine`, which reads the app's profile), durations are
//! rewritten as microseconds, and every other value is held to a whitelist of characters. A value
//! that does not fit is refused with its field named, before any file is written.

pub mod activation;
pub mod timer;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use snapshelf_snap::naming;
use snapshelf_snap::yaml::{App, Daemon, SnapYaml};

use crate::dbus_iface::Activation;

/// A unit file: its name (`snap.hello.server.service`) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFile {
    pub name: String,
    pub text: String,
}

/// Where a daemon's units go and which manager runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    System,
    User,
}

impl Scope {
    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::System => "system",
            Scope::User => "user",
        }
    }
}

/// One daemon of a snap: its service unit and its activators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub app: String,
    pub daemon: String,
    pub scope: Scope,
    pub service: UnitFile,
    /// The `.timer` and `.socket` units that start the service; when there are any, they are what
    /// is enabled and started, not the service itself (as snapd does).
    pub activators: Vec<UnitFile>,
    /// Its D-Bus activation files (`activates-on`), `<bus name>.service`, for the bus of its scope.
    pub activation: Vec<UnitFile>,
    /// `install-mode: disable`: written, but neither enabled nor started at install.
    pub enable_at_install: bool,
    /// `refresh-mode: endure`: left running across a refresh.
    pub endure: bool,
    /// The snap's other daemons that must start before this one (its `after`, and those naming it
    /// in their `before`).
    pub after: Vec<String>,
}

impl Service {
    /// The units that are enabled and started: the activators, or else the service; none for a
    /// service only D-Bus activation starts (snapd leaves it to its first call).
    pub fn started_units(&self) -> Vec<String> {
        if self.activators.is_empty() && self.activation.is_empty() {
            vec![self.service.name.clone()]
        } else {
            self.activators.iter().map(|u| u.name.clone()).collect()
        }
    }

    /// Every file of this daemon.
    pub fn files(&self) -> impl Iterator<Item = &UnitFile> {
        std::iter::once(&self.service).chain(self.activators.iter())
    }
}

/// How a unit starts an app: the launcher, and `--root` when the helper manages another root.
#[derive(Debug, Clone)]
pub struct Launch<'a> {
    pub confine: &'a Path,
    pub root: Option<&'a Path>,
}

/// A field whose value cannot be put in a unit file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("snap.yaml field {field}: {message}")]
pub struct UnitError {
    pub field: String,
    pub message: String,
}

fn bad(field: impl Into<String>, message: impl Into<String>) -> UnitError {
    UnitError {
        field: field.into(),
        message: message.into(),
    }
}

/// The `snap.<name>.<app>.service` name of an app.
pub fn service_name(snap: &str, app: &str) -> String {
    format!("snap.{snap}.{app}.service")
}

/// Every daemon of revision `rev` of `snap`, or the first field that cannot be put in a unit.
pub fn snap_services(
    snap: &str,
    rev: &str,
    yaml: &SnapYaml,
    launch: &Launch,
) -> Result<Vec<Service>, UnitError> {
    naming::validate_instance_name(snap).map_err(|e| bad("name", e.to_string()))?;
    if !rev.bytes().all(|b| b.is_ascii_alphanumeric()) || rev.is_empty() {
        return Err(bad("revision", format!("{rev:?} is not a revision")));
    }
    let activations = crate::dbus_iface::activations(yaml).map_err(|e| {
        let (field, message) = e.split_once(": ").unwrap_or(("apps", e.as_str()));
        bad(field, message)
    })?;
    let mut out = Vec::new();
    for (name, app) in &yaml.apps {
        if let Some(daemon) = app.daemon {
            let acts: Vec<&Activation> = activations.iter().filter(|a| &a.app == name).collect();
            let mut s = service(snap, rev, name, app, daemon, &yaml.apps, launch, &acts)?;
            for act in acts {
                s.activation
                    .push(activation::file(snap, act, s.scope, launch)?);
            }
            out.push(s);
        }
    }
    start_order(out, "apps")
}

/// The daemons in an order that starts each after those it must follow: systemd orders only jobs
/// that are queued together, and a job queued alone may already be running when the next comes.
/// A cycle is refused.
fn start_order(mut left: Vec<Service>, field: &str) -> Result<Vec<Service>, UnitError> {
    let mut out: Vec<Service> = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let ready = left
            .iter()
            .position(|s| s.after.iter().all(|a| out.iter().any(|o| &o.app == a)))
            .ok_or_else(|| {
                let names: Vec<&str> = left.iter().map(|s| s.app.as_str()).collect();
                bad(
                    field,
                    format!("before/after of {} form a cycle", names.join(", ")),
                )
            })?;
        out.push(left.remove(ready));
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn service(
    snap: &str,
    rev: &str,
    name: &str,
    app: &App,
    daemon: Daemon,
    apps: &BTreeMap<String, App>,
    launch: &Launch,
    acts: &[&Activation],
) -> Result<Service, UnitError> {
    let field = format!("apps.{name}");
    naming::validate_app_name(name).map_err(|e| bad(&field, e.to_string()))?;
    let scope = match app.daemon_scope.as_deref() {
        None | Some("system") => Scope::System,
        Some("user") => Scope::User,
        Some(other) => return Err(bad(format!("{field}.daemon-scope"), format!("{other:?}"))),
    };
    let order = |key: &str, list: &[String]| -> Result<Vec<String>, UnitError> {
        list.iter()
            .map(|other| match apps.get(other) {
                Some(a) if a.daemon.is_some() && other != name => Ok(service_name(snap, other)),
                _ => Err(bad(
                    format!("{field}.{key}"),
                    format!("{other:?} is not another daemon of this snap"),
                )),
            })
            .collect()
    };
    let before = order("before", &app.before)?;
    let after = order("after", &app.after)?;
    let mut activators = Vec::new();
    if let Some(spec) = &app.timer {
        let on_calendar = timer::on_calendar(spec).map_err(|m| bad(format!("{field}.timer"), m))?;
        activators.push(timer_unit(snap, name, scope, &on_calendar));
    }
    for (sname, sock) in &app.sockets {
        let sfield = format!("{field}.sockets.{sname}");
        activators.push(socket_unit(snap, rev, name, sname, sock, scope, &sfield)?);
    }
    let daemonised = Daemonised {
        snap,
        rev,
        name,
        app,
        daemon,
        scope,
        launch,
        field: &field,
        // A `daemon: dbus` without `bus-name` waits for its last activating slot's name (snapd).
        bus_name: app
            .bus_name
            .as_deref()
            .or(acts.last().map(|a| a.name.as_str())),
    };
    // A daemon its activators or D-Bus activation start is wanted by no target (snapd).
    let install = activators.is_empty() && acts.is_empty();
    let text = service_text(&daemonised, &before, &after, install)?;
    Ok(Service {
        app: name.to_string(),
        daemon: daemon.to_string(),
        scope,
        service: UnitFile {
            name: service_name(snap, name),
            text,
        },
        activators,
        activation: Vec::new(),
        enable_at_install: app.install_mode.as_deref() != Some("disable"),
        after: follows(name, app, apps),
        endure: app.refresh_mode.as_deref() == Some("endure"),
    })
}

/// The snap's daemons `name` starts after: its `after`, and those naming it in their `before`.
fn follows(name: &str, app: &App, apps: &BTreeMap<String, App>) -> Vec<String> {
    app.after
        .iter()
        .cloned()
        .chain(
            apps.iter()
                .filter(|(_, a)| a.before.iter().any(|b| b == name))
                .map(|(n, _)| n.clone()),
        )
        .collect()
}

/// One daemon, as its unit's sections need it.
struct Daemonised<'a> {
    snap: &'a str,
    rev: &'a str,
    name: &'a str,
    app: &'a App,
    daemon: Daemon,
    scope: Scope,
    launch: &'a Launch<'a>,
    /// The app's field in snap.yaml, for errors (`apps.server`).
    field: &'a str,
    bus_name: Option<&'a str>,
}

impl Daemonised<'_> {
    /// `snap.yaml`'s field of this app named `key`, for errors.
    fn field(&self, key: &str) -> String {
        format!("{}.{key}", self.field)
    }

    /// `<snap>.<app>`: the syslog identifier and confine's target.
    fn tag(&self) -> String {
        format!("{}.{}", self.snap, self.name)
    }
}

/// The `[Unit]`, `[Service]` and `[Install]` sections of one daemon.
fn service_text(
    d: &Daemonised,
    before: &[String],
    after: &[String],
    install: bool,
) -> Result<String, UnitError> {
    let mut t = String::new();
    unit_section(&mut t, d, before, after);
    let _ = writeln!(t, "\n[Service]");
    exec_lines(&mut t, d)?;
    restart_lines(&mut t, d)?;
    command_lines(&mut t, d)?;
    timeout_lines(&mut t, d)?;
    type_lines(&mut t, d)?;
    stop_mode(&mut t, d.app.stop_mode.as_deref(), &d.field("stop-mode"))?;
    if install {
        let target = match d.scope {
            Scope::System => "multi-user.target",
            Scope::User => "default.target",
        };
        let _ = writeln!(t, "\n[Install]\nWantedBy={target}");
    }
    Ok(t)
}

/// `[Unit]`: the description and the ordering against the helper and the snap's other daemons.
fn unit_section(t: &mut String, d: &Daemonised, before: &[String], after: &[String]) {
    let _ = writeln!(
        t,
        "[Unit]\n# Written by snapshelf-helper; it is rewritten at each install and refresh."
    );
    let _ = writeln!(
        t,
        "Description=Service for snap application {}.{}",
        d.snap, d.name
    );
    let mut after_all: Vec<String> = Vec::new();
    if d.scope == Scope::System {
        // The helper mounts the snaps again at boot; the service needs its mount.
        let _ = writeln!(t, "Wants=network.target snapshelf-helper.service");
        after_all.extend(["snapshelf-helper.service".into(), "network.target".into()]);
    }
    after_all.extend(after.iter().cloned());
    let _ = writeln!(t, "After={}", after_all.join(" "));
    if !before.is_empty() {
        let _ = writeln!(t, "Before={}", before.join(" "));
    }
    let _ = writeln!(t, "X-Snapshelf=yes");
}

/// What runs: the app, through confine.
fn exec_lines(t: &mut String, d: &Daemonised) -> Result<(), UnitError> {
    let tag = d.tag();
    let _ = writeln!(t, "ExecStart={}", launcher(d.launch, &tag)?);
    let _ = writeln!(t, "SyslogIdentifier={tag}");
    Ok(())
}

/// When it is restarted, and which exit statuses count as success.
fn restart_lines(t: &mut String, d: &Daemonised) -> Result<(), UnitError> {
    let app = d.app;
    let restart = match (d.daemon, app.restart_condition.as_deref()) {
        (Daemon::Oneshot, _) => "no",
        (_, None) => "on-failure",
        (_, Some("never")) => "no",
        (_, Some(c)) => c,
    };
    let _ = writeln!(t, "Restart={restart}");
    if let Some(delay) = &app.restart_delay {
        let _ = writeln!(
            t,
            "RestartSec={}",
            micros(delay, &d.field("restart-delay"))?
        );
    }
    for s in &app.success_exit_status {
        check_exit_status(s, &d.field("success-exit-status"))?;
    }
    if !app.success_exit_status.is_empty() {
        let _ = writeln!(t, "SuccessExitStatus={}", app.success_exit_status.join(" "));
    }
    Ok(())
}

/// Where it runs, and its stop, reload and post-stop commands.
fn command_lines(t: &mut String, d: &Daemonised) -> Result<(), UnitError> {
    let app = d.app;
    if d.scope == Scope::System {
        let _ = writeln!(t, "WorkingDirectory=/var/snap/{}/{}", d.snap, d.rev);
    }
    // The other commands run through confine too (`--command=…`, which reads them from the
    // mounted snap.yaml), in the app's sandbox, as snapd's `snap run --command=…`.
    for (key, cmd, name) in [
        ("ExecStop", &app.stop_command, "stop"),
        ("ExecReload", &app.reload_command, "reload"),
        ("ExecStopPost", &app.post_stop_command, "post-stop"),
    ] {
        if cmd.is_some() {
            let _ = writeln!(t, "{key}={}", launcher_for(d.launch, &d.tag(), Some(name))?);
        }
    }
    Ok(())
}

/// How long stopping and starting may take.
fn timeout_lines(t: &mut String, d: &Daemonised) -> Result<(), UnitError> {
    let stop = d.app.stop_timeout.as_deref().unwrap_or("30s");
    let _ = writeln!(
        t,
        "TimeoutStopSec={}",
        micros(stop, &d.field("stop-timeout"))?
    );
    if let Some(start) = &d.app.start_timeout {
        let _ = writeln!(
            t,
            "TimeoutStartSec={}",
            micros(start, &d.field("start-timeout"))?
        );
    }
    Ok(())
}

/// The daemon's type and what goes with it: notify access, the bus name, the watchdog.
fn type_lines(t: &mut String, d: &Daemonised) -> Result<(), UnitError> {
    let (app, daemon) = (d.app, d.daemon);
    let _ = writeln!(t, "Type={daemon}");
    if daemon == Daemon::Oneshot && app.stop_command.is_some() {
        let _ = writeln!(t, "RemainAfterExit=yes");
    }
    if daemon == Daemon::Notify || app.watchdog_timeout.is_some() {
        // The app runs under confine's reaper, not as the main process systemd started: its
        // READY=1 or WATCHDOG=1 would be refused with systemd's default (`main` for a watchdog).
        let _ = writeln!(t, "NotifyAccess=all");
    }
    if daemon == Daemon::Dbus {
        let bus = d.bus_name.unwrap_or_default();
        check_bus_name(bus, &d.field("bus-name"))?;
        let _ = writeln!(t, "BusName={bus}");
    }
    if let Some(w) = &app.watchdog_timeout {
        let _ = writeln!(
            t,
            "WatchdogSec={}",
            micros(w, &d.field("watchdog-timeout"))?
        );
    }
    Ok(())
}

/// `stop-mode` as snapd maps it: a signal (`KillSignal`), and for the modes without `-all` only the
/// main process is signalled (`KillMode=process`).
fn stop_mode(t: &mut String, mode: Option<&str>, field: &str) -> Result<(), UnitError> {
    let Some(mode) = mode else { return Ok(()) };
    let (signal, all) = match mode.strip_suffix("-all") {
        Some(s) => (s, true),
        None => (mode, false),
    };
    if !["sigterm", "sighup", "sigusr1", "sigusr2", "sigint"].contains(&signal) {
        return Err(bad(field, format!("unknown stop mode {mode:?}")));
    }
    if !all {
        let _ = writeln!(t, "KillMode=process");
    }
    let _ = writeln!(t, "KillSignal={}", signal.to_ascii_uppercase());
    Ok(())
}

/// The launcher's command line for an app. Paths are the
/// helper's own; a `%` is doubled so that systemd reads no specifier, and a path that would need
/// quoting is refused.
fn launcher(launch: &Launch, tag: &str) -> Result<String, UnitError> {
    launcher_for(launch, tag, None)
}

/// The launcher's command line for one of the app's other commands (`--command=stop`).
fn launcher_for(launch: &Launch, tag: &str, command: Option<&str>) -> Result<String, UnitError> {
    let mut words = vec![plain_path(launch.confine, "launcher")?];
    if let Some(root) = launch.root {
        words.push("--root".into());
        words.push(plain_path(root, "root")?);
    }
    if let Some(c) = command {
        words.push(format!("--command={c}"));
    }
    words.push(tag.to_string());
    Ok(words.join(" "))
}

fn plain_path(p: &Path, what: &str) -> Result<String, UnitError> {
    let s = p.to_str().unwrap_or_default();
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._+-".contains(&b))
    {
        return Err(bad(what, format!("{p:?} cannot be written in a unit file")));
    }
    Ok(s.to_string())
}

/// A Go duration (`1m30s`, `500ms`; checked by the snap.yaml parser) as systemd microseconds;
/// anything else, or one too long, refused.
pub fn micros(d: &str, field: &str) -> Result<String, UnitError> {
    let invalid = || bad(field, format!("invalid duration {d:?}"));
    let mut rest = d;
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let value: f64 = rest[..n].parse().map_err(|_| invalid())?;
        rest = &rest[n..];
        let u = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        let scale = match &rest[..u] {
            "ns" => 0.001,
            "us" => 1.0,
            "ms" => 1e3,
            "s" | "" => 1e6,
            "m" => 60e6,
            "h" => 3600e6,
            _ => return Err(invalid()),
        };
        rest = &rest[u..];
        total += value * scale;
    }
    if d.is_empty() || !total.is_finite() || total > 1e15 {
        return Err(invalid());
    }
    // systemd's smallest unit is the microsecond; a shorter positive value becomes 1us, as snapd does.
    let us = total.ceil() as u64;
    Ok(format!("{us}us"))
}

fn check_exit_status(s: &str, field: &str) -> Result<(), UnitError> {
    let number = s.parse::<u8>().is_ok();
    let signal = s.len() <= 10
        && s.starts_with("SIG")
        && s[3..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if number || signal {
        Ok(())
    } else {
        Err(bad(
            field,
            format!("{s:?} is neither an exit code (0-255) nor a signal name"),
        ))
    }
}

/// A well-known D-Bus name (`org.example.Service`), as the bus itself requires it.
fn check_bus_name(name: &str, field: &str) -> Result<(), UnitError> {
    let parts: Vec<&str> = name.split('.').collect();
    let ok = name.len() <= 255
        && parts.len() >= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && !p.as_bytes()[0].is_ascii_digit()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(bad(
            field,
            format!("{name:?} is not a well-known D-Bus name (a dbus daemon needs one)"),
        ))
    }
}

fn timer_unit(snap: &str, app: &str, scope: Scope, on_calendar: &[String]) -> UnitFile {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "[Unit]\nDescription=Timer {app} for snap application {snap}.{app}"
    );
    let _ = writeln!(
        t,
        "X-Snapshelf=yes\n\n[Timer]\nUnit={}",
        service_name(snap, app)
    );
    for c in on_calendar {
        let _ = writeln!(t, "OnCalendar={c}");
    }
    let _ = scope; // timers.target exists for both managers
    let _ = writeln!(t, "\n[Install]\nWantedBy=timers.target");
    UnitFile {
        name: format!("snap.{snap}.{app}.timer"),
        text: t,
    }
}

fn socket_unit(
    snap: &str,
    rev: &str,
    app: &str,
    sname: &str,
    sock: &snapshelf_snap::yaml::Socket,
    scope: Scope,
    field: &str,
) -> Result<UnitFile, UnitError> {
    naming::validate_app_name(sname).map_err(|e| bad(field, e.to_string()))?;
    let listen = listen_stream(
        snap,
        rev,
        &sock.listen_stream,
        scope,
        &format!("{field}.listen-stream"),
    )?;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "[Unit]\nDescription=Socket {sname} for snap application {snap}.{app}"
    );
    let _ = writeln!(
        t,
        "X-Snapshelf=yes\n\n[Socket]\nService={}",
        service_name(snap, app)
    );
    let _ = writeln!(t, "FileDescriptorName={sname}\nListenStream={listen}");
    if let Some(mode) = &sock.socket_mode {
        let m = parse_mode(mode).ok_or_else(|| {
            bad(
                format!("{field}.socket-mode"),
                format!("{mode:?} is not a file mode"),
            )
        })?;
        let _ = writeln!(t, "SocketMode={m:04o}");
    }
    let _ = writeln!(t, "\n[Install]\nWantedBy=sockets.target");
    Ok(UnitFile {
        name: format!("snap.{snap}.{app}.{sname}.socket"),
        text: t,
    })
}

fn parse_mode(m: &str) -> Option<u32> {
    let v = if let Some(o) = m.strip_prefix("0o") {
        u32::from_str_radix(o, 8).ok()?
    } else if m.starts_with('0') && m.len() > 1 {
        u32::from_str_radix(&m[1..], 8).ok()?
    } else {
        m.parse().ok()?
    };
    (v <= 0o777).then_some(v)
}

/// snapd's `listen-stream`: a path under `$SNAP_DATA`, `$SNAP_COMMON` or `$XDG_RUNTIME_DIR` (the
/// snap's own run directory for system daemons), or `[address:]port`.
fn listen_stream(
    snap: &str,
    rev: &str,
    s: &str,
    scope: Scope,
    field: &str,
) -> Result<String, UnitError> {
    let safe = |v: &str| {
        !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-/:[]".contains(&b))
    };
    let path = match (s.split_once('/'), scope) {
        (Some(("$SNAP_DATA", rest)), Scope::System) => {
            Some(format!("/var/snap/{snap}/{rev}/{rest}"))
        }
        (Some(("$SNAP_COMMON", rest)), Scope::System) => {
            Some(format!("/var/snap/{snap}/common/{rest}"))
        }
        (Some(("$XDG_RUNTIME_DIR", rest)), Scope::System) => {
            Some(format!("/run/snap.{snap}/{rest}"))
        }
        (Some(("$XDG_RUNTIME_DIR", rest)), Scope::User) => Some(format!("%t/snap.{snap}/{rest}")),
        (Some(("$SNAP_USER_DATA", rest)), Scope::User) => {
            Some(format!("%h/snap/{snap}/{rev}/{rest}"))
        }
        (Some(("$SNAP_USER_COMMON", rest)), Scope::User) => {
            Some(format!("%h/snap/{snap}/common/{rest}"))
        }
        _ => None,
    };
    if let Some(p) = path {
        let rest = s.split_once('/').map(|x| x.1).unwrap_or_default();
        if !safe(rest)
            || rest
                .split('/')
                .any(|c| c == ".." || c == "." || c.is_empty())
        {
            return Err(bad(
                field,
                format!("{s:?} is not a plain path under the snap's directories"),
            ));
        }
        return Ok(p);
    }
    let port = s.rsplit_once(':').map_or(s, |(_, p)| p);
    let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0);
    if port_ok && safe(s) && !s.contains('/') {
        return Ok(s.to_string());
    }
    Err(bad(
        field,
        format!("{s:?} is neither a path under $SNAP_DATA, $SNAP_COMMON or $XDG_RUNTIME_DIR nor [address:]port"),
    ))
}

#[cfg(test)]
mod tests;
