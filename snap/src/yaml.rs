//! `meta/snap.yaml`: the full schema snapd accepts, parsed from yaml-rust2's event stream into a tree
//! that keeps every scalar's written text, so `version: 1.0` is the version "1.0", not a number.
//!
//! Unknown keys, at any level, are accepted with a warning, as snapd accepts them (it unmarshals
//! into structs, which ignore what they do not name): a key from a newer snapcraft must not make a
//! snap uninstallable. Unknown top-level keys are also kept as written. Wrong types and invalid
//! values of known keys stay errors. Aliases are refused (no alias bombs), nesting is capped, and
//! every error names the field at fault.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::layout::{self, Layout};
use crate::naming;

/// Deeper than any real snap.yaml; protects the tree builder from hostile input.
const MAX_DEPTH: usize = 64;
const MAX_NODES: usize = 200_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct YamlError {
    /// The path of the field at fault, e.g. `apps.foo.command`; empty for syntax errors.
    pub field: String,
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

fn err(field: &str, message: impl Into<String>) -> YamlError {
    YamlError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// The most unknown keys named one by one; a hostile file with thousands gets a count instead.
const MAX_WARNINGS: usize = 32;

/// Unknown keys met while parsing, by path (`apps.foo.future-key`).
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    list: Vec<String>,
    more: usize,
}

impl Warnings {
    /// Note that the key at `path` was ignored.
    pub(crate) fn unknown_key(&mut self, path: &str) {
        if self.list.len() < MAX_WARNINGS {
            self.list
                .push(format!("{path}: unknown key, ignored (as snapd does)"));
        } else {
            self.more += 1;
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.more > 0 {
            self.list
                .push(format!("{} more unknown keys ignored", self.more));
        }
        self.list
    }
}

/// A YAML node with the written text of its scalars.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Scalar { text: String, quoted: bool },
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Node::Null => "nothing",
            Node::Scalar { .. } => "a single value",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a map",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
}

enum Frame {
    Seq(Vec<Node>),
    /// Entries in order, the key waiting for its value, and the keys seen (duplicates are found in
    /// constant time: a scan of the entries made a large map quadratic).
    Map(Vec<(String, Node)>, Option<String>, HashSet<String>),
}

struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    error: Option<YamlError>,
    nodes: usize,
    documents: usize,
}

fn at(mark: &Marker) -> String {
    format!("line {}, column {}", mark.line(), mark.col() + 1)
}

impl Builder {
    fn fail(&mut self, e: YamlError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    fn push_value(&mut self, node: Node, mark: &Marker) {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            self.fail(err("", "the document is too large"));
            return;
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq(items)) => items.push(node),
            Some(Frame::Map(entries, key, seen)) => match key.take() {
                None => match node {
                    Node::Scalar { text, .. } => {
                        if !seen.insert(text.clone()) {
                            let e = err(&text, format!("duplicate key at {}", at(mark)));
                            self.fail(e);
                        } else {
                            *key = Some(text);
                        }
                    }
                    Node::Null if seen.insert(String::new()) => *key = Some(String::new()),
                    Node::Null => {
                        let e = err("", format!("duplicate empty key at {}", at(mark)));
                        self.fail(e);
                    }
                    _ => self.fail(err(
                        "",
                        format!("a map key must be a plain value ({})", at(mark)),
                    )),
                },
                Some(k) => entries.push((k, node)),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.fail(err("", "snap.yaml must hold exactly one document"));
                }
            }
            Event::Alias(_) => self.fail(err(
                "",
                format!(
                    "aliases (*name) are not allowed in snap.yaml ({})",
                    at(&mark)
                ),
            )),
            Event::Scalar(text, style, _, _) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                let node =
                    if !quoted && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") {
                        Node::Null
                    } else {
                        Node::Scalar { text, quoted }
                    };
                self.push_value(node, &mark);
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if self.stack.len() >= MAX_DEPTH {
                    self.fail(err(
                        "",
                        format!("nesting deeper than {MAX_DEPTH} levels ({})", at(&mark)),
                    ));
                    return;
                }
                self.stack.push(if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq(Vec::new())
                } else {
                    Frame::Map(Vec::new(), None, HashSet::new())
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Frame::Seq(items)) => Node::Seq(items),
                    Some(Frame::Map(entries, _, _)) => Node::Map(entries),
                    None => return,
                };
                self.push_value(node, &mark);
            }
            _ => {}
        }
    }
}

/// Parse YAML text into a [`Node`] tree.
pub fn parse_node(text: &str) -> Result<Node, YamlError> {
    let mut b = Builder {
        stack: Vec::new(),
        root: None,
        error: None,
        nodes: 0,
        documents: 0,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut b, true) {
        return Err(err("", format!("invalid YAML: {e}")));
    }
    if let Some(e) = b.error {
        return Err(e);
    }
    Ok(b.root.unwrap_or(Node::Null))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapType {
    App,
    Base,
    Os,
    Kernel,
    Gadget,
    Snapd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confinement {
    Strict,
    Classic,
    Devmode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grade {
    Stable,
    Devel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    Simple,
    Forking,
    Oneshot,
    Notify,
    Dbus,
}

macro_rules! text_enum {
    ($ty:ident, $what:literal, $($variant:ident => $text:literal),+) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self { $($ty::$variant => $text),+ })
            }
        }
        impl $ty {
            fn parse(field: &str, text: &str) -> Result<Self, YamlError> {
                match text {
                    $($text => Ok($ty::$variant),)+
                    other => {
                        let all = [$($text),+];
                        let (last, rest) = all.split_last().expect("non-empty");
                        Err(err(field, format!(
                            "unknown {} {other:?} (expected {} or {last})", $what, rest.join(", ")
                        )))
                    }
                }
            }
        }
    };
}

text_enum!(SnapType, "type", App => "app", Base => "base", Os => "os", Kernel => "kernel", Gadget => "gadget", Snapd => "snapd");
text_enum!(Confinement, "confinement", Strict => "strict", Classic => "classic", Devmode => "devmode");
text_enum!(Grade, "grade", Stable => "stable", Devel => "devel");
text_enum!(Daemon, "daemon type", Simple => "simple", Forking => "forking", Oneshot => "oneshot", Notify => "notify", Dbus => "dbus");

/// Which epochs a revision can read and write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Epoch {
    pub read: Vec<u32>,
    pub write: Vec<u32>,
}

impl Default for Epoch {
    fn default() -> Self {
        Epoch {
            read: vec![0],
            write: vec![0],
        }
    }
}

/// A plug or slot: its interface, optional label, and the other attributes as written.
#[derive(Debug, Clone, PartialEq)]
pub struct PlugOrSlot {
    pub interface: String,
    pub label: Option<String>,
    pub attrs: Vec<(String, Node)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Socket {
    pub listen_stream: String,
    pub socket_mode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct App {
    pub command: String,
    pub command_chain: Vec<String>,
    pub completer: Option<String>,
    pub daemon: Option<Daemon>,
    pub daemon_scope: Option<String>,
    pub stop_command: Option<String>,
    pub reload_command: Option<String>,
    pub post_stop_command: Option<String>,
    pub stop_timeout: Option<String>,
    pub start_timeout: Option<String>,
    pub watchdog_timeout: Option<String>,
    pub restart_condition: Option<String>,
    pub restart_delay: Option<String>,
    pub refresh_mode: Option<String>,
    pub stop_mode: Option<String>,
    pub install_mode: Option<String>,
    pub success_exit_status: Vec<String>,
    pub before: Vec<String>,
    pub after: Vec<String>,
    pub timer: Option<String>,
    pub sockets: BTreeMap<String, Socket>,
    pub activates_on: Vec<String>,
    pub bus_name: Option<String>,
    pub plugs: Vec<String>,
    pub slots: Vec<String>,
    pub environment: Vec<(String, String)>,
    pub aliases: Vec<String>,
    pub common_id: Option<String>,
    pub autostart: Option<String>,
    pub desktop: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hook {
    pub plugs: Vec<String>,
    pub slots: Vec<String>,
    pub environment: Vec<(String, String)>,
    pub command_chain: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SnapYaml {
    pub name: String,
    pub version: String,
    pub summary: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub base: Option<String>,
    pub snap_type: SnapType,
    pub confinement: Confinement,
    pub grade: Grade,
    pub architectures: Vec<String>,
    pub assumes: Vec<String>,
    pub epoch: Epoch,
    pub license: Option<String>,
    pub provenance: Option<String>,
    pub environment: Vec<(String, String)>,
    pub apps: BTreeMap<String, App>,
    pub hooks: BTreeMap<String, Hook>,
    pub plugs: BTreeMap<String, PlugOrSlot>,
    pub slots: BTreeMap<String, PlugOrSlot>,
    pub layout: Vec<Layout>,
    pub system_usernames: Vec<crate::system_usernames::SystemUsername>,
    pub links: BTreeMap<String, Vec<String>>,
    pub components: BTreeMap<String, Node>,
    /// Top-level keys this schema does not know, kept as written.
    pub extra: Vec<(String, Node)>,
    /// What was accepted but ignored (unknown keys, by path), for the helper and CLI to show;
    /// each is also logged when parsed.
    pub warnings: Vec<String>,
    raw: String,
}

// --- field readers ------------------------------------------------------------------------------

fn map<'a>(field: &str, node: &'a Node) -> Result<&'a [(String, Node)], YamlError> {
    match node {
        Node::Map(m) => Ok(m),
        Node::Null => Ok(&[]),
        other => Err(err(field, format!("must be a map, not {}", other.kind()))),
    }
}

fn string(field: &str, node: &Node) -> Result<String, YamlError> {
    match node {
        Node::Scalar { text, .. } => Ok(text.clone()),
        other => Err(err(
            field,
            format!("must be a single value, not {}", other.kind()),
        )),
    }
}

fn opt_string(field: &str, node: &Node) -> Result<Option<String>, YamlError> {
    match node {
        Node::Null => Ok(None),
        n => string(field, n).map(Some),
    }
}

/// A list of values; a single value is accepted as a list of one where snapd accepts it.
fn strings(field: &str, node: &Node) -> Result<Vec<String>, YamlError> {
    match node {
        Node::Null => Ok(Vec::new()),
        Node::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| string(&format!("{field}[{i}]"), n))
            .collect(),
        other => Err(err(field, format!("must be a list, not {}", other.kind()))),
    }
}

fn environment(field: &str, node: &Node) -> Result<Vec<(String, String)>, YamlError> {
    let mut out = Vec::new();
    for (k, v) in map(field, node)? {
        let f = format!("{field}.{k}");
        naming::validate_env_name(k).map_err(|e| err(&f, e.to_string()))?;
        let value = match v {
            Node::Null => String::new(),
            n => string(&f, n)?,
        };
        out.push((k.clone(), value));
    }
    Ok(out)
}

/// snapd's rule for commands: no shell metacharacters.
fn check_command(field: &str, cmd: &str) -> Result<(), YamlError> {
    if cmd.trim().is_empty() {
        return Err(err(field, "cannot be empty"));
    }
    if let Some(c) = cmd
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "/. _#:$-=+,@%".contains(*c)))
    {
        return Err(err(
            field,
            format!("contains {c:?}, which is not allowed in a command"),
        ));
    }
    if cmd
        .split(' ')
        .any(|part| part == ".." || part.starts_with("../") || part.contains("/../"))
    {
        return Err(err(field, "cannot refer to '..'"));
    }
    Ok(())
}

fn epoch(field: &str, node: &Node, w: &mut Warnings) -> Result<Epoch, YamlError> {
    let number = |f: &str, t: &str| -> Result<u32, YamlError> {
        if t.is_empty()
            || !t.bytes().all(|b| b.is_ascii_digit())
            || (t.len() > 1 && t.starts_with('0'))
        {
            return Err(err(f, format!("{t:?} is not a valid epoch")));
        }
        t.parse().map_err(|_| err(f, format!("{t:?} is too large")))
    };
    match node {
        Node::Null => Ok(Epoch::default()),
        Node::Scalar { text, .. } => {
            if let Some(n) = text.strip_suffix('*') {
                let n = number(field, n)?;
                if n == 0 {
                    return Err(err(field, "\"0*\" is not a valid epoch"));
                }
                Ok(Epoch {
                    read: vec![n - 1, n],
                    write: vec![n],
                })
            } else {
                let n = number(field, text)?;
                Ok(Epoch {
                    read: vec![n],
                    write: vec![n],
                })
            }
        }
        Node::Map(m) => {
            let mut e = Epoch {
                read: Vec::new(),
                write: Vec::new(),
            };
            for (k, v) in m {
                let f = format!("{field}.{k}");
                if k != "read" && k != "write" {
                    w.unknown_key(&f);
                    continue;
                }
                let list = strings(&f, v)?
                    .iter()
                    .map(|t| number(&f, t))
                    .collect::<Result<Vec<_>, _>>()?;
                if k == "read" {
                    e.read = list;
                } else {
                    e.write = list;
                }
            }
            if e.read.is_empty() {
                e.read = e.write.clone();
            }
            if e.write.is_empty() {
                e.write = e.read.clone();
            }
            if e.read.is_empty() {
                return Err(err(field, "read and write cannot both be empty"));
            }
            for list in [&e.read, &e.write] {
                if list.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(err(field, "epochs must be listed in increasing order"));
                }
            }
            Ok(e)
        }
        other => Err(err(
            field,
            format!("must be a value or a map, not {}", other.kind()),
        )),
    }
}

fn plug_or_slot(field: &str, name: &str, node: &Node) -> Result<PlugOrSlot, YamlError> {
    match node {
        Node::Null => Ok(PlugOrSlot {
            interface: name.to_string(),
            label: None,
            attrs: Vec::new(),
        }),
        Node::Scalar { text, .. } => {
            naming::validate_interface_name(text).map_err(|e| err(field, e.to_string()))?;
            Ok(PlugOrSlot {
                interface: text.clone(),
                label: None,
                attrs: Vec::new(),
            })
        }
        Node::Map(entries) => {
            let mut p = PlugOrSlot {
                interface: name.to_string(),
                label: None,
                attrs: Vec::new(),
            };
            for (k, v) in entries {
                let f = format!("{field}.{k}");
                match k.as_str() {
                    "interface" => {
                        p.interface = string(&f, v)?;
                        naming::validate_interface_name(&p.interface)
                            .map_err(|e| err(&f, e.to_string()))?;
                    }
                    "label" => p.label = opt_string(&f, v)?,
                    k if k.starts_with('$') => {
                        return Err(err(&f, "attribute names starting with '$' are reserved"))
                    }
                    _ => p.attrs.push((k.clone(), v.clone())),
                }
            }
            Ok(p)
        }
        Node::Seq(_) => Err(err(field, "must be an interface name or a map, not a list")),
    }
}

fn plugs_or_slots(field: &str, node: &Node) -> Result<BTreeMap<String, PlugOrSlot>, YamlError> {
    let mut out = BTreeMap::new();
    for (name, v) in map(field, node)? {
        let f = format!("{field}.{name}");
        let check = if field == "plugs" {
            naming::validate_plug_name(name)
        } else {
            naming::validate_slot_name(name)
        };
        check.map_err(|e| err(&f, e.to_string()))?;
        out.insert(name.clone(), plug_or_slot(&f, name, v)?);
    }
    Ok(out)
}

fn app(field: &str, node: &Node, w: &mut Warnings) -> Result<App, YamlError> {
    let mut a = App::default();
    let mut daemon_only = Vec::new();
    for (k, v) in map(field, node)? {
        let f = format!("{field}.{k}");
        match k.as_str() {
            "command" => {
                a.command = string(&f, v)?;
                check_command(&f, &a.command)?;
            }
            "command-chain" => {
                a.command_chain = strings(&f, v)?;
                for (i, c) in a.command_chain.iter().enumerate() {
                    check_command(&format!("{f}[{i}]"), c)?;
                }
            }
            "completer" => a.completer = opt_string(&f, v)?,
            "daemon" => a.daemon = Some(Daemon::parse(&f, &string(&f, v)?)?),
            "daemon-scope" => {
                let s = string(&f, v)?;
                if s != "system" && s != "user" {
                    return Err(err(
                        &f,
                        format!("unknown daemon scope {s:?} (expected system or user)"),
                    ));
                }
                a.daemon_scope = Some(s);
                daemon_only.push(k.clone());
            }
            "stop-command" | "reload-command" | "post-stop-command" => {
                let c = string(&f, v)?;
                check_command(&f, &c)?;
                daemon_only.push(k.clone());
                match k.as_str() {
                    "stop-command" => a.stop_command = Some(c),
                    "reload-command" => a.reload_command = Some(c),
                    _ => a.post_stop_command = Some(c),
                }
            }
            "stop-timeout" | "start-timeout" | "watchdog-timeout" | "restart-delay" => {
                let t = string(&f, v)?;
                check_duration(&f, &t)?;
                daemon_only.push(k.clone());
                match k.as_str() {
                    "stop-timeout" => a.stop_timeout = Some(t),
                    "start-timeout" => a.start_timeout = Some(t),
                    "watchdog-timeout" => a.watchdog_timeout = Some(t),
                    _ => a.restart_delay = Some(t),
                }
            }
            "restart-condition" => {
                let s = string(&f, v)?;
                const OK: &[&str] = &[
                    "always",
                    "on-success",
                    "on-failure",
                    "on-abnormal",
                    "on-abort",
                    "on-watchdog",
                    "never",
                ];
                if !OK.contains(&s.as_str()) {
                    return Err(err(
                        &f,
                        format!(
                            "unknown restart condition {s:?} (expected one of {})",
                            OK.join(", ")
                        ),
                    ));
                }
                a.restart_condition = Some(s);
                daemon_only.push(k.clone());
            }
            "refresh-mode" => {
                let s = string(&f, v)?;
                if !["endure", "restart", "ignore-running"].contains(&s.as_str()) {
                    return Err(err(&f, format!("unknown refresh mode {s:?} (expected endure, restart or ignore-running)")));
                }
                a.refresh_mode = Some(s);
            }
            "stop-mode" => {
                let s = string(&f, v)?;
                const OK: &[&str] = &[
                    "sigterm",
                    "sigterm-all",
                    "sighup",
                    "sighup-all",
                    "sigusr1",
                    "sigusr1-all",
                    "sigusr2",
                    "sigusr2-all",
                    "sigint",
                    "sigint-all",
                ];
                if !OK.contains(&s.as_str()) {
                    return Err(err(&f, format!("unknown stop mode {s:?}")));
                }
                a.stop_mode = Some(s);
                daemon_only.push(k.clone());
            }
            "install-mode" => {
                let s = string(&f, v)?;
                if s != "enable" && s != "disable" {
                    return Err(err(
                        &f,
                        format!("unknown install mode {s:?} (expected enable or disable)"),
                    ));
                }
                a.install_mode = Some(s);
                daemon_only.push(k.clone());
            }
            "success-exit-status" => {
                a.success_exit_status = strings(&f, v)?;
                daemon_only.push(k.clone());
            }
            "before" => {
                a.before = strings(&f, v)?;
                daemon_only.push(k.clone());
            }
            "after" => {
                a.after = strings(&f, v)?;
                daemon_only.push(k.clone());
            }
            "timer" => {
                a.timer = opt_string(&f, v)?;
                daemon_only.push(k.clone());
            }
            "sockets" => {
                for (sname, s) in map(&f, v)? {
                    let sf = format!("{f}.{sname}");
                    let mut sock = Socket {
                        listen_stream: String::new(),
                        socket_mode: None,
                    };
                    for (sk, sv) in map(&sf, s)? {
                        match sk.as_str() {
                            "listen-stream" => {
                                sock.listen_stream = string(&format!("{sf}.{sk}"), sv)?
                            }
                            "socket-mode" => {
                                sock.socket_mode = opt_string(&format!("{sf}.{sk}"), sv)?
                            }
                            _ => w.unknown_key(&format!("{sf}.{sk}")),
                        }
                    }
                    if sock.listen_stream.is_empty() {
                        return Err(err(&format!("{sf}.listen-stream"), "is required"));
                    }
                    a.sockets.insert(sname.clone(), sock);
                }
                daemon_only.push(k.clone());
            }
            "activates-on" => {
                a.activates_on = strings(&f, v)?;
                daemon_only.push(k.clone());
            }
            "bus-name" => a.bus_name = opt_string(&f, v)?,
            "plugs" => a.plugs = strings(&f, v)?,
            "slots" => a.slots = strings(&f, v)?,
            "environment" => a.environment = environment(&f, v)?,
            "aliases" => a.aliases = strings(&f, v)?,
            "common-id" => a.common_id = opt_string(&f, v)?,
            "autostart" => a.autostart = opt_string(&f, v)?,
            "desktop" => a.desktop = opt_string(&f, v)?,
            _ => w.unknown_key(&f),
        }
    }
    if a.command.is_empty() {
        return Err(err(&format!("{field}.command"), "is required"));
    }
    if a.daemon.is_none() {
        if let Some(k) = daemon_only.first() {
            return Err(err(
                &format!("{field}.{k}"),
                "is only valid for daemons (set `daemon`)",
            ));
        }
    }
    for (i, p) in a.plugs.iter().enumerate() {
        naming::validate_plug_name(p)
            .map_err(|e| err(&format!("{field}.plugs[{i}]"), e.to_string()))?;
    }
    for (i, s) in a.slots.iter().enumerate() {
        naming::validate_slot_name(s)
            .map_err(|e| err(&format!("{field}.slots[{i}]"), e.to_string()))?;
    }
    Ok(a)
}

/// systemd-style durations: `10s`, `1m30s`, `500ms`, or a bare number of seconds.
fn check_duration(field: &str, t: &str) -> Result<(), YamlError> {
    let mut rest = t;
    if rest.is_empty() {
        return Err(err(field, "empty duration"));
    }
    while !rest.is_empty() {
        let digits = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        if digits == 0 {
            return Err(err(field, format!("invalid duration {t:?}")));
        }
        rest = &rest[digits..];
        let unit = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        if !["", "ns", "us", "ms", "s", "m", "h"].contains(&&rest[..unit]) {
            return Err(err(field, format!("invalid duration {t:?}")));
        }
        rest = &rest[unit..];
    }
    Ok(())
}

fn hook(field: &str, node: &Node, w: &mut Warnings) -> Result<Hook, YamlError> {
    let mut h = Hook::default();
    for (k, v) in map(field, node)? {
        let f = format!("{field}.{k}");
        match k.as_str() {
            "plugs" => h.plugs = strings(&f, v)?,
            "slots" => h.slots = strings(&f, v)?,
            "environment" => h.environment = environment(&f, v)?,
            "command-chain" => {
                h.command_chain = strings(&f, v)?;
                for (i, c) in h.command_chain.iter().enumerate() {
                    check_command(&format!("{f}[{i}]"), c)?;
                }
            }
            _ => w.unknown_key(&f),
        }
    }
    Ok(h)
}

impl SnapYaml {
    /// Parse and validate a `meta/snap.yaml`.
    pub fn parse(text: &str) -> Result<SnapYaml, YamlError> {
        let root = parse_node(text)?;
        let Node::Map(entries) = &root else {
            return Err(err(
                "",
                format!("snap.yaml must be a map, not {}", root.kind()),
            ));
        };
        let mut y = SnapYaml {
            name: String::new(),
            version: String::new(),
            summary: None,
            title: None,
            description: None,
            base: None,
            snap_type: SnapType::App,
            confinement: Confinement::Strict,
            grade: Grade::Stable,
            architectures: Vec::new(),
            assumes: Vec::new(),
            epoch: Epoch::default(),
            license: None,
            provenance: None,
            environment: Vec::new(),
            apps: BTreeMap::new(),
            hooks: BTreeMap::new(),
            plugs: BTreeMap::new(),
            slots: BTreeMap::new(),
            layout: Vec::new(),
            system_usernames: Vec::new(),
            links: BTreeMap::new(),
            components: BTreeMap::new(),
            extra: Vec::new(),
            warnings: Vec::new(),
            raw: text.to_string(),
        };
        let mut w = Warnings::default();
        for (k, v) in entries {
            let f = k.as_str();
            match f {
                "name" => y.name = string(f, v)?,
                "version" => y.version = opt_string(f, v)?.unwrap_or_default(),
                "summary" => y.summary = opt_string(f, v)?,
                "title" => y.title = opt_string(f, v)?,
                "description" => y.description = opt_string(f, v)?,
                "base" => y.base = opt_string(f, v)?,
                "type" => y.snap_type = SnapType::parse(f, &string(f, v)?)?,
                "confinement" => y.confinement = Confinement::parse(f, &string(f, v)?)?,
                "grade" => y.grade = Grade::parse(f, &string(f, v)?)?,
                "architectures" => y.architectures = strings(f, v)?,
                "assumes" => y.assumes = strings(f, v)?,
                "epoch" => y.epoch = epoch(f, v, &mut w)?,
                "license" => y.license = opt_string(f, v)?,
                "provenance" => y.provenance = opt_string(f, v)?,
                "environment" => y.environment = environment(f, v)?,
                "apps" => {
                    for (name, a) in map(f, v)? {
                        let af = format!("apps.{name}");
                        naming::validate_app_name(name).map_err(|e| err(&af, e.to_string()))?;
                        y.apps.insert(name.clone(), app(&af, a, &mut w)?);
                    }
                }
                "hooks" => {
                    for (name, h) in map(f, v)? {
                        let hf = format!("hooks.{name}");
                        naming::validate_hook_name(name).map_err(|e| err(&hf, e.to_string()))?;
                        y.hooks.insert(name.clone(), hook(&hf, h, &mut w)?);
                    }
                }
                "plugs" => y.plugs = plugs_or_slots(f, v)?,
                "slots" => y.slots = plugs_or_slots(f, v)?,
                "layout" => {
                    for (path, l) in map(f, v)? {
                        y.layout.push(layout::parse(path, l, &mut w)?);
                    }
                }
                "layouts" => {
                    return Err(err(
                        f,
                        "typo detected: use the singular \"layout:\" instead of \"layouts:\"",
                    ))
                }
                "system-usernames" => y.system_usernames = crate::system_usernames::parse(f, v)?,
                "links" => {
                    for (lk, lv) in map(f, v)? {
                        y.links
                            .insert(lk.clone(), strings(&format!("links.{lk}"), lv)?);
                    }
                }
                "components" => y.components = map(f, v)?.iter().cloned().collect(),
                _ => {
                    w.unknown_key(f);
                    y.extra.push((k.clone(), v.clone()));
                }
            }
        }
        if y.name.is_empty() {
            return Err(err("name", "is required"));
        }
        naming::validate_snap_name(&y.name).map_err(|e| err("name", e.to_string()))?;
        if y.version.len() > 32 {
            return Err(err("version", "cannot be longer than 32 characters"));
        }
        if let Some(c) = y
            .version
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || ".:~+-_".contains(*c)))
        {
            return Err(err(
                "version",
                format!("contains {c:?}; allowed are letters, digits and . : ~ + - _"),
            ));
        }
        if y.summary.as_ref().is_some_and(|s| s.chars().count() > 128) {
            return Err(err("summary", "cannot be longer than 128 characters"));
        }
        if y.title.as_ref().is_some_and(|s| s.chars().count() > 40) {
            return Err(err("title", "cannot be longer than 40 characters"));
        }
        if let Some(base) = &y.base {
            if base != "none" {
                naming::validate_snap_name(base).map_err(|e| err("base", e.to_string()))?;
            }
            if matches!(y.snap_type, SnapType::Base | SnapType::Os | SnapType::Snapd)
                && base != "none"
            {
                return Err(err(
                    "base",
                    format!("a snap of type {} cannot have a base", y.snap_type),
                ));
            }
        }
        for (i, a) in y.architectures.iter().enumerate() {
            if a.is_empty() || !a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(err(
                    &format!("architectures[{i}]"),
                    format!("invalid architecture {a:?}"),
                ));
            }
        }
        for (name, a) in &y.apps {
            for (list, what) in [(&a.before, "before"), (&a.after, "after")] {
                for other in list {
                    if !y.apps.contains_key(other) {
                        return Err(err(
                            &format!("apps.{name}.{what}"),
                            format!("names an unknown app {other:?}"),
                        ));
                    }
                }
            }
        }
        layout::validate_layouts(&y.layout, &y.name)?;
        y.warnings = w.finish();
        for warning in &y.warnings {
            tracing::warn!(snap = %y.name, "meta/snap.yaml: {warning}");
        }
        Ok(y)
    }

    /// The text this was parsed from (the store serves it as `snap-yaml`).
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Plugs listed by no app or hook: snapd binds them to every app and hook.
    fn unscoped(&self, plugs: bool) -> BTreeSet<&str> {
        let declared = if plugs { &self.plugs } else { &self.slots };
        declared
            .keys()
            .filter(|name| {
                !self.apps.values().any(|a| {
                    let list = if plugs { &a.plugs } else { &a.slots };
                    // `activates-on` binds its slots to the app too, as snapd does.
                    let activates = if plugs { &[][..] } else { &a.activates_on[..] };
                    list.iter().chain(activates).any(|p| p == *name)
                }) && !self.hooks.values().any(|h| {
                    let list = if plugs { &h.plugs } else { &h.slots };
                    list.iter().any(|p| p == *name)
                })
            })
            .map(String::as_str)
            .collect()
    }

    fn bound(&self, app: &str, plugs: bool) -> Vec<(String, String)> {
        let declared = if plugs { &self.plugs } else { &self.slots };
        let mut names: BTreeSet<String> = self
            .unscoped(plugs)
            .into_iter()
            .map(str::to_string)
            .collect();
        if let Some(a) = self.apps.get(app) {
            names.extend(if plugs {
                a.plugs.clone()
            } else {
                a.slots.iter().chain(&a.activates_on).cloned().collect()
            });
        }
        names
            .into_iter()
            .map(|n| {
                // A name an app lists without declaring it is an implicit plug of that interface.
                let interface = declared
                    .get(&n)
                    .map(|p| p.interface.clone())
                    .unwrap_or_else(|| n.clone());
                (n, interface)
            })
            .collect()
    }

    /// `(plug name, interface)` for every plug bound to `app`.
    pub fn plugs_for_app(&self, app: &str) -> Vec<(String, String)> {
        self.bound(app, true)
    }

    /// `(slot name, interface)` for every slot bound to `app`.
    pub fn slots_for_app(&self, app: &str) -> Vec<(String, String)> {
        self.bound(app, false)
    }

    /// Every plug of the snap, declared or implicit, with its interface.
    pub fn all_plugs(&self) -> BTreeMap<String, String> {
        let mut out: BTreeMap<String, String> = self
            .plugs
            .iter()
            .map(|(n, p)| (n.clone(), p.interface.clone()))
            .collect();
        for a in self.apps.values() {
            for p in &a.plugs {
                out.entry(p.clone()).or_insert_with(|| p.clone());
            }
        }
        for h in self.hooks.values() {
            for p in &h.plugs {
                out.entry(p.clone()).or_insert_with(|| p.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
name: my-snap
version: 1.0
title: My Snap
summary: Does things
description: |
  Several lines
  of text.
base: shelf-base
type: app
confinement: strict
grade: devel
architectures: [amd64, arm64]
epoch: 2*
license: GPL-3.0-or-later
environment:
  GLOBAL: $SNAP/global
  NESTED: $GLOBAL/nested
plugs:
  home:
  net: network
  shared:
    interface: content
    content: lib
    target: $SNAP/lib
    default-provider: other
  dotless:
    interface: removable-media
    label: Removable
slots:
  provided: content
apps:
  my-snap:
    command: bin/run --flag
    command-chain: [bin/chain]
    plugs: [net, x11]
    environment:
      LOCAL: local
  server:
    command: bin/server
    daemon: simple
    restart-condition: on-failure
    stop-timeout: 10s
    after: [my-snap]
    sockets:
      sock:
        listen-stream: $SNAP_DATA/sock
hooks:
  configure:
    plugs: [net]
layout:
  /var/lib/foo:
    bind: $SNAP_DATA/var/lib/foo
  /usr/share/foo:
    bind: $SNAP/usr/share/foo
  /etc/foo.conf:
    bind-file: $SNAP_DATA/etc/foo.conf
x-unknown-key:
  kept: true
"#;

    #[test]
    fn the_full_schema_parses() {
        let y = SnapYaml::parse(FULL).unwrap();
        assert_eq!(y.name, "my-snap");
        assert_eq!(y.version, "1.0");
        assert_eq!(y.title.as_deref(), Some("My Snap"));
        assert_eq!(y.description.as_deref(), Some("Several lines\nof text.\n"));
        assert_eq!(y.grade, Grade::Devel);
        assert_eq!(
            y.epoch,
            Epoch {
                read: vec![1, 2],
                write: vec![2]
            }
        );
        assert_eq!(y.environment[1], ("NESTED".into(), "$GLOBAL/nested".into()));
        assert_eq!(y.plugs["home"].interface, "home");
        assert_eq!(y.plugs["net"].interface, "network");
        assert_eq!(y.plugs["shared"].attrs.len(), 3);
        assert_eq!(y.plugs["dotless"].label.as_deref(), Some("Removable"));
        assert_eq!(y.apps["my-snap"].command, "bin/run --flag");
        assert_eq!(y.apps["server"].daemon, Some(Daemon::Simple));
        assert_eq!(y.layout.len(), 3);
        assert_eq!(y.extra.len(), 1);
        assert_eq!(y.extra[0].0, "x-unknown-key");
        assert_eq!(
            y.warnings,
            ["x-unknown-key: unknown key, ignored (as snapd does)"]
        );
        assert_eq!(y.raw(), FULL);
        // Unscoped plugs (home, shared, dotless) go to every app; listed ones only where listed.
        let p: Vec<String> = y
            .plugs_for_app("my-snap")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(p, ["dotless", "home", "net", "shared", "x11"]);
        let p: Vec<(String, String)> = y.plugs_for_app("server");
        assert!(p.iter().all(|(n, _)| n != "net" && n != "x11"));
        assert!(y
            .plugs_for_app("my-snap")
            .contains(&("x11".into(), "x11".into())));
        assert_eq!(y.all_plugs().len(), 5);
    }

    /// A snap.yaml as a newer snapcraft writes it: keys snapd knows (some we do not use) and keys
    /// nobody knows yet, at every level. snapd ignores the unknown ones; so do we, with a warning.
    const NEWER_SNAPCRAFT: &str = r#"
name: newer
version: '2.0'
base: core24
future-top-level: {a: [1, 2]}
links:
  website: [https://example.org]
  contact: [mailto:someone@example.org]
components:
  extra-stuff:
    type: standard
    summary: More
    description: Even more
    hooks:
      install:
        plugs: [network]
epoch:
  read: [1, 2]
  write: [2]
  future-epoch-key: 3
apps:
  x:
    command: bin/x
    completer: share/x.bash
    refresh-mode: endure
    future-key: [anything, {at: all}]
    passthrough:
      some-systemd-option: true
  svc:
    command: bin/svc
    daemon: dbus
    bus-name: org.example.Svc
    activates-on: [dbus-slot]
    install-mode: disable
    refresh-mode: restart
    sockets:
      sock:
        listen-stream: $SNAP_COMMON/sock
        socket-group: users
hooks:
  configure:
    plugs: [network]
    future-hook-key: true
slots:
  dbus-slot:
    interface: dbus
    bus: system
    name: org.example.Svc
layout:
  /usr/share/x:
    bind: $SNAP/usr/share/x
    future-layout-key: value
"#;

    #[test]
    fn keys_of_a_newer_snapcraft_are_accepted_with_warnings() {
        let y = SnapYaml::parse(NEWER_SNAPCRAFT).unwrap();
        // Known keys are still parsed.
        assert_eq!(y.apps["x"].completer.as_deref(), Some("share/x.bash"));
        assert_eq!(y.apps["x"].refresh_mode.as_deref(), Some("endure"));
        assert_eq!(y.apps["svc"].activates_on, ["dbus-slot"]);
        // `activates-on` binds the slot to its app only, as snapd does.
        let bound = |app: &str| {
            y.slots_for_app(app)
                .into_iter()
                .map(|s| s.0)
                .collect::<Vec<_>>()
        };
        assert_eq!(bound("svc"), ["dbus-slot"]);
        assert!(bound("x").is_empty());
        assert_eq!(y.apps["svc"].install_mode.as_deref(), Some("disable"));
        assert_eq!(y.apps["svc"].daemon, Some(Daemon::Dbus));
        assert_eq!(
            y.apps["svc"].sockets["sock"].listen_stream,
            "$SNAP_COMMON/sock"
        );
        assert_eq!(y.links["website"], ["https://example.org"]);
        assert!(y.components.contains_key("extra-stuff"));
        assert_eq!(
            y.epoch,
            Epoch {
                read: vec![1, 2],
                write: vec![2]
            }
        );
        assert_eq!(y.hooks["configure"].plugs, ["network"]);
        assert_eq!(y.layout.len(), 1);
        // Unknown keys, named with where they are; the top-level one is also kept.
        let named: Vec<&str> = y
            .warnings
            .iter()
            .map(|w| {
                w.strip_suffix(": unknown key, ignored (as snapd does)")
                    .unwrap()
            })
            .collect();
        assert_eq!(
            named,
            [
                "future-top-level",
                "epoch.future-epoch-key",
                "apps.x.future-key",
                "apps.x.passthrough",
                "apps.svc.sockets.sock.socket-group",
                "hooks.configure.future-hook-key",
                "layout./usr/share/x.future-layout-key",
            ]
        );
        assert_eq!(y.extra.len(), 1);
        assert_eq!(y.extra[0].0, "future-top-level");
        // A file with nothing unknown has no warnings.
        assert!(SnapYaml::parse(
            "name: ab
version: 1
"
        )
        .unwrap()
        .warnings
        .is_empty());
    }

    #[test]
    fn thousands_of_unknown_keys_give_a_bounded_list() {
        let mut text = String::from(
            "name: ab
apps:
  a:
    command: x
",
        );
        for i in 0..5000 {
            text.push_str(&format!(
                "    k{i}: v
"
            ));
        }
        let y = SnapYaml::parse(&text).unwrap();
        assert_eq!(y.warnings.len(), MAX_WARNINGS + 1);
        assert_eq!(
            y.warnings[0],
            "apps.a.k0: unknown key, ignored (as snapd does)"
        );
        assert_eq!(
            y.warnings[MAX_WARNINGS],
            format!("{} more unknown keys ignored", 5000 - MAX_WARNINGS)
        );
    }

    /// Ignoring unknown keys does not loosen known ones: wrong types and invalid values of keys
    /// snapd knows are still refused, however many unknown keys surround them.
    #[test]
    fn known_keys_are_still_checked_beside_unknown_ones() {
        let with = |body: &str| {
            format!(
                "name: ab
future: 1
apps:
  a:
    future-key: 1
{body}"
            )
        };
        bad(
            &with(
                "    command: x
    refresh-mode: sometimes
",
            ),
            "apps.a.refresh-mode",
            "unknown refresh mode",
        );
        bad(
            &with(
                "    command: x
    daemon: simple
    install-mode: maybe
",
            ),
            "apps.a.install-mode",
            "unknown install mode",
        );
        bad(
            &with(
                "    command: x
    completer: [a, b]
",
            ),
            "apps.a.completer",
            "must be a single value",
        );
        bad(
            &with(
                "    command: x
    activates-on: [a]
",
            ),
            "apps.a.activates-on",
            "only valid for daemons",
        );
        bad(
            &with(
                "    command: x
    daemon: simple
    sockets:
      s:
        socket-group: g
",
            ),
            "apps.a.sockets.s.listen-stream",
            "required",
        );
        bad(
            &with(
                "    future-only: 1
",
            ),
            "apps.a.command",
            "required",
        );
        bad(
            "name: ab
links: [a]
",
            "links",
            "must be a map",
        );
        bad(
            "name: ab
links:
  website: {a: b}
",
            "links.website",
            "must be a list",
        );
        bad(
            "name: ab
epoch:
  read: [x]
  unknown: 1
",
            "epoch.read",
            "not a valid epoch",
        );
        bad(
            "name: ab
hooks:
  configure:
    future: 1
    plugs: {a: b}
",
            "hooks.configure.plugs",
            "must be a list",
        );
    }

    #[test]
    fn values_keep_their_written_text() {
        for (v, want) in [
            ("1.0", "1.0"),
            ("01", "01"),
            ("1.10", "1.10"),
            ("'2.0'", "2.0"),
            ("1e3", "1e3"),
            ("true", "true"),
        ] {
            let y = SnapYaml::parse(&format!("name: abc\nversion: {v}\n")).unwrap();
            assert_eq!(y.version, want);
        }
    }

    fn bad(text: &str, field: &str, words: &str) {
        let e = SnapYaml::parse(text).unwrap_err();
        assert_eq!(e.field, field, "{e}");
        assert!(
            e.to_string().contains(words),
            "{e} should contain {words:?}"
        );
    }

    #[test]
    fn errors_name_the_field() {
        bad("version: 1\n", "name", "required");
        bad("name: Bad_Name\n", "name", "only lowercase");
        bad("name: ab\ntype: thing\n", "type", "unknown type");
        bad("name: ab\nconfinement: loose\n", "confinement", "strict");
        bad(
            "name: ab\napps:\n  foo:\n    daemon: sometimes\n    command: x\n",
            "apps.foo.daemon",
            "unknown daemon type \"sometimes\"",
        );
        bad(
            "name: ab\napps:\n  foo:\n    command: x; rm -rf /\n",
            "apps.foo.command",
            "not allowed",
        );
        bad(
            "name: ab\napps:\n  foo: {}\n",
            "apps.foo.command",
            "required",
        );
        bad(
            "name: ab\napps:\n  foo:\n    command: x\n    stop-timeout: 5s\n",
            "apps.foo.stop-timeout",
            "only valid for daemons",
        );
        bad("name: ab\nlayouts: {}\n", "layouts", "typo detected");
        bad("name: ab\nepoch: 1x\n", "epoch", "not a valid epoch");
        bad(
            "name: ab\nplugs:\n  p:\n    $x: 1\n",
            "plugs.p.$x",
            "reserved",
        );
        bad(
            "name: ab\nenvironment:\n  1BAD: x\n",
            "environment.1BAD",
            "environment variable",
        );
        bad(
            "name: ab\nhooks:\n  invalid-hook: {}\n",
            "hooks.invalid-hook",
            "not a valid hook",
        );
        bad(
            "name: ab\napps:\n  a:\n    command: x\n    daemon: simple\n    after: [nope]\n",
            "apps.a.after",
            "unknown app",
        );
        bad("name: ab\nversion: 1 2\n", "version", "contains");
        bad("name: ab\nbase: Core\n", "base", "lowercase");
        bad("name: ab\nname: cd\n", "name", "duplicate key");
    }

    #[test]
    fn hostile_input_is_an_error_not_a_crash() {
        assert!(SnapYaml::parse("").is_err());
        assert!(SnapYaml::parse("- a\n- b\n").is_err());
        assert!(SnapYaml::parse("name: [unclosed\n").is_err());
        assert!(SnapYaml::parse("name: ab\n---\nname: cd\n").is_err());
        let deep = format!("name: ab\nx: {}{}\n", "[".repeat(500), "]".repeat(500));
        let e = SnapYaml::parse(&deep).unwrap_err().to_string();
        assert!(e.contains("nesting") || e.contains("recursion"), "{e}");
        let bomb = "name: ab\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n";
        assert!(SnapYaml::parse(bomb)
            .unwrap_err()
            .to_string()
            .contains("aliases"));
        assert!(SnapYaml::parse("\u{0}\u{1}\u{2}garbage: : :").is_err());
        assert!(SnapYaml::parse("name: ab\n\tversion: 1\n").is_err());
    }

    #[test]
    fn snapds_test_snaps_parse() {
        let Some(compat) = crate::testdata::compat_dir("snapds_test_snaps_parse") else {
            return;
        };
        let dir = compat.join("snapd-test-snaps");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path().join("meta/snap.yaml");
            let text = std::fs::read_to_string(&path).unwrap();
            let y = SnapYaml::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!y.name.is_empty());
            n += 1;
        }
        assert!(n >= 10);
        let layout = SnapYaml::parse(
            &std::fs::read_to_string(
                compat.join("snapd-test-snaps/test-snapd-layout/meta/snap.yaml"),
            )
            .unwrap(),
        )
        .unwrap();
        assert!(layout.layout.len() >= 6);
    }

    #[test]
    fn the_stores_hello_world_parses() {
        let Some(compat) = crate::testdata::compat_dir("the_stores_hello_world_parses") else {
            return;
        };
        let json =
            std::fs::read_to_string(compat.join("store-responses/mockInfoJSON.json")).unwrap();
        let start = json.find("\"snap-yaml\": \"").unwrap() + 14;
        let end = start + json[start..].find("\",\n").unwrap();
        let text: String = serde_json::from_str(&format!("\"{}\"", &json[start..end])).unwrap();
        let y = SnapYaml::parse(&text).unwrap();
        assert_eq!(y.name, "hello-world");
        assert_eq!(y.version, "6.4");
        assert_eq!(y.plugs["shared-content-plug"].interface, "content");
        assert_eq!(y.apps.len(), 5);
    }
}
