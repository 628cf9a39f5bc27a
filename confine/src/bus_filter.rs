//! The D-Bus filter of one client connection: what the app sends to the bus and what the bus
//! sends back, message by message, decided by the app's [`Policy`] with xdg-dbus-proxy's
//! semantics (Flatpak's `flatpak-proxy.c`, read for the rules; this is our own code). The relay
//! frames the bytes ([`Framer`]); zbus parses each message and builds what the filter sends of its
//! own. Nothing here reads or writes a socket, so every decision is tested on real message bytes.
//!
//! Which unique name owns which allowed name is learnt on the client's own connection, as
//! xdg-dbus-proxy does: after `Hello` the filter sends its own `AddMatch` for `NameOwnerChanged`
//! of the allowed names, `GetNameOwner` for the exact ones and `ListNames` for the others, with
//! serials above [`MAX_CLIENT_SERIAL`] (a client serial above it drops the client), and never
//! passes their replies on. Done on the client's connection, the owner changes arrive in order
//! with the messages they concern; a watcher connection of the monitor's would race with them
//! (and would need a handshake and a connection of its own per bus).
//!
//! A call the filter refuses still goes to the bus, as a `Peer.Ping` with the call's serial, and
//! the filter answers the call when the bus answers the ping: the client's replies keep the
//! order the bus gives them, and every serial the client sees is the bus's.

use std::collections::{HashMap, HashSet, VecDeque};
use std::num::NonZeroU32;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use zbus::message::{Builder, Flags, Header, Message, Type};
use zbus::zvariant::serialized::{Context, Data};
use zbus::zvariant::Endian;

use crate::bus_policy::{Level, Names, Policy, BUS};

/// The longest message D-Bus allows.
pub const MAX_MESSAGE: usize = 128 << 20;

/// Serials above this are the filter's own (xdg-dbus-proxy's limit, so clients that work with it
/// work here).
pub const MAX_CLIENT_SERIAL: u32 = u32::MAX - 65536;

/// The most descriptors a connection may have sent ahead of the messages that carry them (the
/// session bus's own limit per message is 1024 by default): more would let one client take the
/// monitor's descriptors from the others.
pub const MAX_QUEUED_FDS: usize = 1024;

/// The fixed part of a message header: endianness, type, flags, version, body length, serial,
/// and the header fields array's length.
const FIXED_HEADER: usize = 16;

/// Bytes and descriptors from one side, cut into whole messages.
#[derive(Default)]
pub struct Framer {
    buf: Vec<u8>,
    start: usize,
    fds: VecDeque<OwnedFd>,
}

/// One message and exactly the descriptors that came with it.
#[derive(Debug)]
pub struct Frame {
    pub msg: Message,
    pub fds: Vec<OwnedFd>,
}

impl Framer {
    pub fn push(&mut self, bytes: &[u8], fds: Vec<OwnedFd>) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
        self.fds.extend(fds);
    }

    /// Nothing read and not yet taken: no message cut short.
    pub fn is_empty(&self) -> bool {
        self.start == self.buf.len()
    }

    /// The next whole message, `None` until one is there. An error: the stream cannot be read
    /// as D-Bus messages (the connection must end).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, String> {
        if self.fds.len() > MAX_QUEUED_FDS {
            return Err(format!(
                "{} descriptors came ahead of their messages",
                self.fds.len()
            ));
        }
        let pending = &self.buf[self.start..];
        let Some(len) = message_len(pending)? else {
            return Ok(None);
        };
        if pending.len() < len {
            return Ok(None);
        }
        let bytes = pending[..len].to_vec();
        self.start += len;
        if self.start == self.buf.len() {
            self.buf = Vec::new();
            self.start = 0;
        }
        let msg = parse(bytes)?;
        let n = msg.header().unix_fds().unwrap_or(0) as usize;
        if n > self.fds.len() {
            return Err(format!(
                "a message says it carries {n} descriptors, {} came",
                self.fds.len()
            ));
        }
        Ok(Some(Frame {
            msg,
            fds: self.fds.drain(..n).collect(),
        }))
    }
}

/// The length of the message at the start of `bytes`, once its fixed header is there.
pub fn message_len(bytes: &[u8]) -> Result<Option<usize>, String> {
    if bytes.len() < FIXED_HEADER {
        return Ok(None);
    }
    let little = match bytes[0] {
        b'l' => true,
        b'B' => false,
        b => {
            return Err(format!(
                "a message starts with byte {b:#04x}, not an endianness"
            ))
        }
    };
    if bytes[3] != 1 {
        return Err(format!("a message has protocol version {}", bytes[3]));
    }
    let u32_at = |at: usize| {
        let b = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        (if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }) as usize
    };
    let header = (FIXED_HEADER + u32_at(12)).next_multiple_of(8);
    let len = header + u32_at(4);
    if len > MAX_MESSAGE {
        return Err(format!("a message of {len} bytes is over D-Bus's limit"));
    }
    Ok(Some(len))
}

/// Parse one framed message with zbus.
pub fn parse(bytes: Vec<u8>) -> Result<Message, String> {
    let endian = if bytes.first() == Some(&b'B') {
        Endian::Big
    } else {
        Endian::Little
    };
    let data = Data::new(bytes, Context::new_dbus(endian, 0));
    // SAFETY: zbus reads the header with its checked deserialisers; the filter reads bodies only
    // through them too, and the message holds no descriptors (the relay keeps them).
    let msg = unsafe { Message::from_bytes(data) }
        .map_err(|e| format!("a message cannot be read: {e}"))?;
    // zbus checks some header fields (an object path's form) only when the header is first
    // built, by panicking: build it now, so that such a message is an error here.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(msg.header())))
        .map_err(|_| "a message has a malformed header field".to_string())?;
    Ok(msg)
}

/// Where a message goes.
#[derive(Debug)]
pub enum Out {
    Bus(Message, Vec<OwnedFd>),
    Client(Message, Vec<OwnedFd>),
}

/// The answer the filter gives a refused call when the bus answers its ping.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Answer {
    Error(&'static str),
    False,
}

/// What a reply from the bus is to.
enum Expect {
    /// A call of the client's, passed on.
    Call,
    /// The client's `Hello`: the reply says its unique name.
    Hello,
    /// The client's `ListNames`/`ListActivatableNames`: the reply is filtered.
    ListNames,
    /// A refused call of the client's, sent as a ping.
    Refused(Message, Answer),
    /// The filter's own calls.
    OwnMatch,
    OwnListNames,
    OwnGetNameOwner(String),
}

/// What the filter makes of a client's call.
enum Verdict {
    Pass,
    /// Refused: the name looks absent (`Hide`) or the call is denied; answered so.
    Refuse(Answer),
}

const ACCESS_DENIED: &str = "org.freedesktop.DBus.Error.AccessDenied";
const NO_OWNER: &str = "org.freedesktop.DBus.Error.NameHasNoOwner";
const UNKNOWN: &str = "org.freedesktop.DBus.Error.ServiceUnknown";

/// One client connection's filter.
pub struct Filter {
    policy: Arc<Policy>,
    hello: bool,
    /// The client's unique name, once the bus has said it.
    unique: Option<String>,
    /// Unique names the client may reach without owning a name: itself (TALK) and the peers that
    /// sent it something (SEE, so it can follow their lifetime).
    peers: HashMap<String, Level>,
    /// The allowed well-known names each unique name owns.
    owned: HashMap<String, HashSet<String>>,
    /// Replies the bus may send: to the client's calls, and to the filter's own.
    expect: HashMap<u32, Expect>,
    /// Calls from peers the client may answer: (sender, serial).
    calls_in: HashSet<(String, u32)>,
    own_serial: u32,
    /// The client is not read while the filter's `ListNames` is out.
    paused: bool,
}

impl Filter {
    pub fn new(policy: Arc<Policy>) -> Filter {
        Filter {
            policy,
            hello: false,
            unique: None,
            peers: HashMap::new(),
            owned: HashMap::new(),
            expect: HashMap::new(),
            calls_in: HashSet::new(),
            own_serial: MAX_CLIENT_SERIAL,
            paused: false,
        }
    }

    /// Whether the client's next message must wait.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// The client's unique name, once known.
    pub fn unique_name(&self) -> Option<&str> {
        self.unique.as_deref()
    }

    /// A message from the client. An error: the client broke the protocol and is dropped.
    pub fn from_client(&mut self, frame: Frame) -> Result<Vec<Out>, String> {
        let Frame { msg, fds } = frame;
        let h = msg.header();
        let serial = h.primary().serial_num().get();
        if serial > MAX_CLIENT_SERIAL {
            return Err(format!(
                "the client used serial {serial}, above {MAX_CLIENT_SERIAL}"
            ));
        }
        let is_hello = is_bus_call(&h) && member(&h) == Some("Hello");
        if !self.hello {
            if !is_hello {
                return Err("the client's first message is not Hello".into());
            }
            self.hello = true;
            self.expect.insert(serial, Expect::Hello);
            let mut out = vec![Out::Bus(msg.clone(), fds)];
            out.extend(self.initial_name_ops()?);
            return Ok(out);
        }
        if let Some(to) = h.reply_serial() {
            // A reply: only to a call a peer made to the client.
            let key = (dest(&h).unwrap_or_default().to_string(), to.get());
            if !self.calls_in.remove(&key) {
                return Ok(Vec::new());
            }
            return Ok(vec![Out::Bus(msg.clone(), fds)]);
        }
        let (verdict, expect) = if is_hello {
            (Verdict::Refuse(Answer::Error(ACCESS_DENIED)), Expect::Call)
        } else {
            self.judge(&msg, &h)
        };
        let wants_reply = h.message_type() == Type::MethodCall
            && !h.primary().flags().contains(Flags::NoReplyExpected);
        match verdict {
            Verdict::Pass => {
                if wants_reply {
                    self.expect.insert(serial, expect);
                }
                Ok(vec![Out::Bus(msg.clone(), fds)])
            }
            Verdict::Refuse(_) if !wants_reply => Ok(Vec::new()),
            Verdict::Refuse(answer) => {
                let ping = Message::method_call("/org/freedesktop/DBus", "Ping")
                    .and_then(|b| b.destination(BUS))
                    .and_then(|b| b.interface("org.freedesktop.DBus.Peer"))
                    .and_then(|b| b.serial(h.primary().serial_num()).build(&()))
                    .map_err(|e| format!("cannot build a ping: {e}"))?;
                self.expect
                    .insert(serial, Expect::Refused(msg.clone(), answer));
                Ok(vec![Out::Bus(ping, Vec::new())])
            }
        }
    }

    /// The level of a name, well-known or unique.
    fn level(&self, name: &str) -> Level {
        if !name.starts_with(':') {
            return self.policy.level(name);
        }
        let peer = self.peers.get(name).copied().unwrap_or_default();
        let owned = self.owned.get(name).into_iter().flatten();
        owned.map(|n| self.policy.level(n)).fold(peer, Level::max)
    }

    /// A call (or a signal sent to one peer) of the client's, to anyone but the bus's own
    /// methods: allowed at TALK, or by a matching call rule.
    fn judge(&self, msg: &Message, h: &Header<'_>) -> (Verdict, Expect) {
        let Some(dest) = dest(h) else {
            // To no one in particular: the client's own broadcast signals.
            return (Verdict::Pass, Expect::Call);
        };
        if dest == BUS {
            return self.judge_bus_call(msg, h);
        }
        let level = self.level(dest);
        if level < Level::See {
            let flags = h.primary().flags();
            let absent = if dest.starts_with(':') || flags.contains(Flags::NoAutoStart) {
                NO_OWNER
            } else {
                UNKNOWN
            };
            return (Verdict::Refuse(Answer::Error(absent)), Expect::Call);
        }
        let (path, iface, member) = (
            h.path().map(|p| p.as_str()),
            h.interface().map(|i| i.as_str()),
            member(h),
        );
        let names: Vec<&str> = if dest.starts_with(':') {
            self.owned
                .get(dest)
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect()
        } else {
            vec![dest]
        };
        let allowed = level == Level::Own
            || (dest.starts_with(':') && self.peers.get(dest) >= Some(&Level::Talk))
            || names
                .iter()
                .any(|n| self.policy.allows_call(n, path, iface, member));
        if allowed {
            (Verdict::Pass, Expect::Call)
        } else {
            (Verdict::Refuse(Answer::Error(ACCESS_DENIED)), Expect::Call)
        }
    }

    /// A call to the bus itself.
    fn judge_bus_call(&self, msg: &Message, h: &Header<'_>) -> (Verdict, Expect) {
        let deny = (Verdict::Refuse(Answer::Error(ACCESS_DENIED)), Expect::Call);
        let pass = (Verdict::Pass, Expect::Call);
        if h.message_type() != Type::MethodCall {
            return deny;
        }
        let iface = h.interface().map(|i| i.as_str());
        if iface == Some("org.freedesktop.DBus.Introspectable") {
            return pass;
        }
        if iface != Some(BUS) {
            return deny;
        }
        let arg0 = || name_arg(msg);
        // The level a name argument needs, and the answer when it is hidden or below it.
        let (need, hidden, below) = match member(h).unwrap_or_default() {
            "RemoveMatch" | "GetId" => return pass,
            "ListNames" | "ListActivatableNames" => return (Verdict::Pass, Expect::ListNames),
            "AddMatch" => {
                return match arg0() {
                    Some(rule) if !eavesdrops(&rule) => pass,
                    _ => deny,
                };
            }
            "RequestName" | "ReleaseName" => (Level::Own, ACCESS_DENIED, ACCESS_DENIED),
            "ListQueuedOwners" => (Level::Own, NO_OWNER, ACCESS_DENIED),
            "NameHasOwner" => {
                return match arg0() {
                    Some(n) if self.level(&n) >= Level::See => pass,
                    _ => (Verdict::Refuse(Answer::False), Expect::Call),
                };
            }
            "GetNameOwner"
            | "GetConnectionUnixProcessID"
            | "GetConnectionCredentials"
            | "GetAdtAuditSessionData"
            | "GetConnectionSELinuxSecurityContext"
            | "GetConnectionUnixUser" => (Level::See, NO_OWNER, NO_OWNER),
            "StartServiceByName" => (Level::Talk, UNKNOWN, ACCESS_DENIED),
            // UpdateActivationEnvironment, BecomeMonitor, and anything newer.
            _ => return deny,
        };
        let level = arg0().map_or(Level::None, |n| self.level(&n));
        if level >= need {
            pass
        } else if level < Level::See {
            (Verdict::Refuse(Answer::Error(hidden)), Expect::Call)
        } else {
            (Verdict::Refuse(Answer::Error(below)), Expect::Call)
        }
    }

    /// The filter's own calls after `Hello`: a match for the allowed names' owner changes, and
    /// their current owners.
    fn initial_name_ops(&mut self) -> Result<Vec<Out>, String> {
        let mut out = Vec::new();
        let mut listed = false;
        let policy = Arc::clone(&self.policy);
        let mut seen = HashSet::new();
        for rule in &policy.rules {
            let names = &rule.names;
            if names.base() == BUS || !seen.insert(names.to_string()) {
                continue;
            }
            let mut rule_text =
                format!("type='signal',sender='{BUS}',interface='{BUS}',member='NameOwnerChanged'");
            match names {
                Names::Exact(x) => rule_text += &format!(",arg0='{x}'"),
                Names::Subtree(x) => rule_text += &format!(",arg0namespace='{x}'"),
                // `X-N` is not below X: the match takes X's parent (a well-known name has one),
                // the names are sorted here.
                Names::Dashed(x) | Names::Numbered(x) => {
                    if let Some((parent, _)) = x.rsplit_once('.') {
                        rule_text += &format!(",arg0namespace='{parent}'");
                    }
                }
            }
            out.push(self.own_call("AddMatch", Some(&rule_text), Expect::OwnMatch)?);
            if let Names::Exact(x) = names {
                let expect = Expect::OwnGetNameOwner(x.clone());
                out.push(self.own_call("GetNameOwner", Some(x), expect)?);
            } else {
                listed = true;
            }
        }
        if listed {
            out.push(self.own_call("ListNames", None, Expect::OwnListNames)?);
            self.paused = true;
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// A call of the filter's own to the bus, `None` once its serials are used up (they are not
    /// reused: a late reply must never be taken for another's).
    fn own_call(
        &mut self,
        method: &str,
        arg: Option<&str>,
        expect: Expect,
    ) -> Result<Option<Out>, String> {
        let Some(serial) = self.own_serial.checked_add(1).and_then(NonZeroU32::new) else {
            return Ok(None);
        };
        self.own_serial = serial.get();
        let msg = Message::method_call("/org/freedesktop/DBus", method)
            .and_then(|b| b.destination(BUS))
            .and_then(|b| b.interface(BUS))
            .map(|b| b.serial(serial))
            .and_then(|b| match arg {
                Some(arg) => b.build(&arg),
                None => b.build(&()),
            })
            .map_err(|e| format!("cannot build {method}: {e}"))?;
        self.expect.insert(serial.get(), expect);
        Ok(Some(Out::Bus(msg, Vec::new())))
    }

    /// A message from the bus. An error: it cannot be handled (the connection ends).
    pub fn from_bus(&mut self, frame: Frame) -> Result<Vec<Out>, String> {
        let Frame { msg, fds } = frame;
        let h = msg.header();
        if let Some(to) = h.reply_serial() {
            return self.reply_from_bus(&msg, &h, to.get(), fds);
        }
        let ty = h.message_type();
        if ty == Type::MethodReturn || ty == Type::Error {
            return Ok(Vec::new());
        }
        let sender = h.sender().map(|s| s.as_str()).unwrap_or_default();
        if ty == Type::Signal && sender == BUS && member(&h) == Some("NameOwnerChanged") {
            if !self.owner_changed(&msg) {
                return Ok(Vec::new());
            }
        } else if ty == Type::Signal && dest(&h).is_none() && !self.allows_signal(sender, &h) {
            return Ok(Vec::new());
        }
        if sender.starts_with(':') {
            let peer = self.peers.entry(sender.to_string()).or_default();
            *peer = (*peer).max(Level::See);
        }
        if ty == Type::MethodCall && !h.primary().flags().contains(Flags::NoReplyExpected) {
            self.calls_in
                .insert((sender.to_string(), h.primary().serial_num().get()));
        }
        Ok(vec![Out::Client(msg.clone(), fds)])
    }

    /// Whether a broadcast signal from `sender` reaches the client: it owns a name the client
    /// talks to, or one with a matching broadcast rule.
    fn allows_signal(&self, sender: &str, h: &Header<'_>) -> bool {
        let (path, iface, member) = (
            h.path().map(|p| p.as_str()),
            h.interface().map(|i| i.as_str()),
            member(h),
        );
        if !sender.starts_with(':') {
            return self.policy.allows_signal(sender, path, iface, member);
        }
        self.peers.get(sender) >= Some(&Level::Talk)
            || self.owned.get(sender).into_iter().flatten().any(|n| {
                self.policy.level(n) == Level::Own
                    || self.policy.allows_signal(n, path, iface, member)
            })
    }

    /// `NameOwnerChanged`: noted when the name is visible, and then passed on.
    fn owner_changed(&mut self, msg: &Message) -> bool {
        let Ok((name, old, new)) = msg.body().deserialize::<(String, String, String)>() else {
            return false;
        };
        if self.level(&name) < Level::See {
            return false;
        }
        if !name.starts_with(':') {
            if let Some(names) = self.owned.get_mut(&old) {
                names.remove(&name);
            }
            if !new.is_empty() {
                self.owned.entry(new).or_default().insert(name);
            }
        }
        true
    }

    fn reply_from_bus(
        &mut self,
        msg: &Message,
        h: &Header<'_>,
        to: u32,
        fds: Vec<OwnedFd>,
    ) -> Result<Vec<Out>, String> {
        let Some(expect) = self.expect.remove(&to) else {
            // No call of the client's is waiting for it.
            return Ok(Vec::new());
        };
        let returned = h.message_type() == Type::MethodReturn;
        let pass = vec![Out::Client(msg.clone(), fds)];
        match expect {
            Expect::Call => Ok(pass),
            Expect::Hello => {
                if let Some(name) = returned
                    .then(|| msg.body().deserialize::<String>().ok())
                    .flatten()
                {
                    self.peers.insert(name.clone(), Level::Talk);
                    self.unique = Some(name);
                }
                Ok(pass)
            }
            Expect::ListNames if returned => {
                let names: Vec<String> = msg
                    .body()
                    .deserialize::<Vec<String>>()
                    .map_err(|e| format!("a ListNames reply cannot be read: {e}"))?;
                let visible: Vec<&String> = names
                    .iter()
                    .filter(|n| self.level(n) >= Level::See)
                    .collect();
                let filtered = Builder::from(h.clone())
                    .build(&visible)
                    .map_err(|e| format!("cannot build a ListNames reply: {e}"))?;
                Ok(vec![Out::Client(filtered, Vec::new())])
            }
            Expect::ListNames => Ok(pass),
            Expect::Refused(call, answer) => {
                let built = match answer {
                    Answer::Error(name) => Message::error(&call.header(), name)
                        .map(|b| b.serial(h.primary().serial_num()))
                        .and_then(|b| b.build(&format!("{name}: refused by the snap's bus rules"))),
                    Answer::False => Message::method_return(&call.header())
                        .map(|b| b.serial(h.primary().serial_num()))
                        .and_then(|b| b.build(&false)),
                };
                let built = built.map_err(|e| format!("cannot build an answer: {e}"))?;
                Ok(vec![Out::Client(built, Vec::new())])
            }
            Expect::OwnMatch => Ok(Vec::new()),
            Expect::OwnGetNameOwner(name) => {
                if let Some(owner) = returned
                    .then(|| msg.body().deserialize::<String>().ok())
                    .flatten()
                {
                    self.owned.entry(owner).or_default().insert(name);
                }
                Ok(Vec::new())
            }
            Expect::OwnListNames => {
                self.paused = false;
                let names = msg.body().deserialize::<Vec<String>>().unwrap_or_default();
                let mut out = Vec::new();
                for name in names {
                    // The bus owns its own name; unique names own themselves.
                    let asked = !name.starts_with(':') && name != BUS;
                    if asked && self.policy.level(&name) > Level::None {
                        let expect = Expect::OwnGetNameOwner(name.clone());
                        out.extend(self.own_call("GetNameOwner", Some(&name), expect)?);
                    }
                }
                Ok(out)
            }
        }
    }
}

fn dest<'a>(h: &'a Header<'_>) -> Option<&'a str> {
    h.destination().map(|d| d.as_str())
}

fn member<'a>(h: &'a Header<'_>) -> Option<&'a str> {
    h.member().map(|m| m.as_str())
}

/// A method of the bus's own interface, sent to the bus.
fn is_bus_call(h: &Header<'_>) -> bool {
    h.message_type() == Type::MethodCall
        && dest(h) == Some(BUS)
        && h.interface().map(|i| i.as_str()) == Some(BUS)
}

/// The name (or match rule) a bus method takes first, for the signatures the bus's methods have.
fn name_arg(msg: &Message) -> Option<String> {
    let body = msg.body();
    match body.signature().to_string_no_parens().as_str() {
        "s" => body.deserialize::<String>().ok(),
        "su" => body.deserialize::<(String, u32)>().ok().map(|(s, _)| s),
        _ => None,
    }
}

/// A match rule that asks for other connections' messages: any `eavesdrop` key, spaced or not
/// (the bus would take `eavesdrop = 'true'` too).
fn eavesdrops(rule: &str) -> bool {
    rule.match_indices("eavesdrop")
        .any(|(at, key)| rule[at + key.len()..].trim_start().starts_with('='))
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::message::Builder;

    const ME: &str = ":1.7";
    const PORTAL: &str = ":1.20";
    const HIDDEN: &str = ":1.30";

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    /// A message as it comes off a socket: its bytes, framed again.
    fn frame(msg: Message) -> Frame {
        let mut f = Framer::default();
        f.push(msg.data().bytes(), Vec::new());
        let frame = f.next_frame().unwrap().expect("a whole message");
        assert!(f.is_empty());
        frame
    }

    fn call(serial: u32, dest: &str, iface: &str, member: &str) -> Builder<'static> {
        Message::method_call("/org/example", member.to_string())
            .unwrap()
            .destination(dest.to_string())
            .unwrap()
            .interface(iface.to_string())
            .unwrap()
            .serial(nz(serial))
    }

    fn bus_call<B>(serial: u32, member: &str, body: &B) -> Frame
    where
        B: zbus::export::serde::Serialize + zbus::zvariant::DynamicType,
    {
        frame(call(serial, BUS, BUS, member).build(body).unwrap())
    }

    /// The bus's reply to the client's (or the filter's) call `to`.
    fn reply<B>(serial: u32, to: u32, from: &str, body: &B) -> Frame
    where
        B: zbus::export::serde::Serialize + zbus::zvariant::DynamicType,
    {
        let call = call(to, BUS, BUS, "X").build(&()).unwrap();
        let b = Message::method_return(&call.header()).unwrap();
        frame(
            b.sender(from)
                .unwrap()
                .destination(ME)
                .unwrap()
                .serial(nz(serial))
                .build(body)
                .unwrap(),
        )
    }

    fn signal(serial: u32, from: &str, iface: &str, member: &str) -> Builder<'static> {
        Message::signal("/org/example", iface.to_string(), member.to_string())
            .unwrap()
            .sender(from.to_string())
            .unwrap()
            .serial(nz(serial))
    }

    fn owner_changed(serial: u32, name: &str, old: &str, new: &str) -> Frame {
        let b = signal(serial, BUS, BUS, "NameOwnerChanged");
        frame(b.build(&(name, old, new)).unwrap())
    }

    fn to_bus(out: &[Out]) -> Vec<&Message> {
        out.iter()
            .filter_map(|o| match o {
                Out::Bus(m, _) => Some(m),
                Out::Client(..) => None,
            })
            .collect()
    }

    fn to_client(out: &[Out]) -> Vec<&Message> {
        out.iter()
            .filter_map(|o| match o {
                Out::Client(m, _) => Some(m),
                Out::Bus(..) => None,
            })
            .collect()
    }

    fn members(msgs: &[&Message]) -> Vec<String> {
        msgs.iter()
            .map(|m| {
                m.header()
                    .member()
                    .map(|m| m.to_string())
                    .unwrap_or_default()
            })
            .collect()
    }

    fn policy(args: &[&str]) -> Arc<Policy> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Arc::new(Policy::from_proxy_args(&args).unwrap())
    }

    /// A filter past Hello, its own calls answered: the portal's name owned by PORTAL, a hidden
    /// name by HIDDEN.
    fn connected(args: &[&str]) -> Filter {
        let mut f = Filter::new(policy(args));
        let out = f.from_client(bus_call(1, "Hello", &())).unwrap();
        let own: Vec<(u32, String)> = to_bus(&out)[1..]
            .iter()
            .map(|m| {
                (
                    m.header().primary().serial_num().get(),
                    m.header().member().unwrap().to_string(),
                )
            })
            .collect();
        assert!(own.iter().all(|(s, _)| *s > MAX_CLIENT_SERIAL));
        let hello = f.from_bus(reply(1, 1, BUS, &ME)).unwrap();
        assert_eq!(to_client(&hello).len(), 1);
        assert_eq!(f.unique_name(), Some(ME));
        let mut serial = 100;
        for (s, member) in own {
            serial += 1;
            let out = match member.as_str() {
                "ListNames" => {
                    let names = [
                        "org.freedesktop.DBus",
                        "org.freedesktop.portal.Desktop",
                        "org.example.Hidden",
                        PORTAL,
                    ];
                    f.from_bus(reply(serial, s, BUS, &names.to_vec())).unwrap()
                }
                "GetNameOwner" => f.from_bus(reply(serial, s, BUS, &PORTAL)).unwrap(),
                _ => f.from_bus(reply(serial, s, BUS, &())).unwrap(),
            };
            assert!(
                to_client(&out).is_empty(),
                "the filter's replies are its own"
            );
            for m in to_bus(&out) {
                let name: String = m.body().deserialize().unwrap();
                assert_eq!(
                    name, "org.freedesktop.portal.Desktop",
                    "only allowed names are asked for"
                );
                let s = m.header().primary().serial_num().get();
                f.from_bus(reply(serial + 50, s, BUS, &PORTAL)).unwrap();
            }
        }
        assert!(!f.paused());
        f
    }

    /// The client sends `msg`; the filter pings instead; the bus answers the ping: what the
    /// client then gets.
    fn refused(f: &mut Filter, msg: Frame) -> Message {
        let serial = msg.msg.header().primary().serial_num().get();
        let out = f.from_client(msg).unwrap();
        let sent = to_bus(&out);
        assert_eq!(members(&sent), ["Ping"], "refused calls go as a ping");
        assert_eq!(sent[0].header().primary().serial_num().get(), serial);
        let back = f.from_bus(reply(900, serial, BUS, &())).unwrap();
        let got = to_client(&back);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].header().reply_serial(), Some(nz(serial)));
        assert_eq!(got[0].header().primary().serial_num().get(), 900);
        got[0].clone()
    }

    fn error_name(m: &Message) -> String {
        m.header()
            .error_name()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    const RULES: &[&str] = &[
        "--filter",
        "--talk=org.freedesktop.portal.*",
        "--own=org.mpris.MediaPlayer2.player.*",
        "--own=org.kde.player[-_]<N>",
    ];

    #[test]
    fn hello_comes_first_and_once() {
        let mut f = Filter::new(policy(RULES));
        let early = frame(
            call(1, "org.freedesktop.portal.Desktop", "a.b", "C")
                .build(&())
                .unwrap(),
        );
        assert!(f.from_client(early).unwrap_err().contains("Hello"));
        let mut f = connected(RULES);
        let again = refused(&mut f, bus_call(2, "Hello", &()));
        assert_eq!(error_name(&again), ACCESS_DENIED);
        let high = bus_call(MAX_CLIENT_SERIAL + 1, "GetId", &());
        assert!(f.from_client(high).is_err());
    }

    #[test]
    fn the_filter_learns_owners_on_the_clients_connection() {
        let mut f = Filter::new(policy(&[
            "--talk=org.example.Exact",
            "--talk=org.freedesktop.portal.*",
        ]));
        let out = f.from_client(bus_call(1, "Hello", &())).unwrap();
        let sent = to_bus(&out);
        assert_eq!(
            members(&sent),
            ["Hello", "AddMatch", "GetNameOwner", "AddMatch", "ListNames"]
        );
        let rule: String = sent[3].body().deserialize().unwrap();
        assert!(
            rule.ends_with(",arg0namespace='org.freedesktop.portal'"),
            "{rule}"
        );
        // The client waits while the filter lists the names.
        assert!(f.paused());
    }

    #[test]
    fn a_hidden_name_is_not_listed_reported_or_reached() {
        let mut f = connected(RULES);
        // ListNames: only what the app may see.
        let out = f.from_client(bus_call(2, "ListNames", &())).unwrap();
        assert_eq!(members(&to_bus(&out)), ["ListNames"]);
        let all = vec![
            BUS,
            "org.freedesktop.portal.Desktop",
            "org.example.Hidden",
            ME,
            HIDDEN,
        ];
        let out = f.from_bus(reply(300, 2, BUS, &all)).unwrap();
        let listed: Vec<String> = to_client(&out)[0].body().deserialize().unwrap();
        assert_eq!(listed, [BUS, "org.freedesktop.portal.Desktop", ME]);
        assert_eq!(to_client(&out)[0].header().reply_serial(), Some(nz(2)));
        // NameOwnerChanged: the hidden name's change is dropped, the portal's passed on.
        let out = f
            .from_bus(owner_changed(301, "org.example.Hidden", "", HIDDEN))
            .unwrap();
        assert!(out.is_empty());
        let out = f
            .from_bus(owner_changed(
                302,
                "org.freedesktop.portal.Flatpak",
                "",
                ":1.21",
            ))
            .unwrap();
        assert_eq!(to_client(&out).len(), 1);
        // Calls: it looks absent.
        let absent = refused(
            &mut f,
            frame(
                call(3, "org.example.Hidden", "a.b", "C")
                    .build(&())
                    .unwrap(),
            ),
        );
        assert_eq!(error_name(&absent), UNKNOWN);
        let absent = refused(
            &mut f,
            frame(call(4, HIDDEN, "a.b", "C").build(&()).unwrap()),
        );
        assert_eq!(error_name(&absent), NO_OWNER);
        let owner = refused(&mut f, bus_call(5, "GetNameOwner", &"org.example.Hidden"));
        assert_eq!(error_name(&owner), NO_OWNER);
        let has = refused(&mut f, bus_call(6, "NameHasOwner", &"org.example.Hidden"));
        assert!(!has.body().deserialize::<bool>().unwrap());
        let pid = refused(&mut f, bus_call(7, "GetConnectionUnixProcessID", &HIDDEN));
        assert_eq!(error_name(&pid), NO_OWNER);
        let start = refused(
            &mut f,
            bus_call(8, "StartServiceByName", &("org.example.Hidden", 0u32)),
        );
        assert_eq!(error_name(&start), UNKNOWN);
        // What the app may reach passes, by name and by its owner's unique name.
        for (serial, dest) in [(9, "org.freedesktop.portal.Desktop"), (10, PORTAL)] {
            let out = f
                .from_client(frame(call(serial, dest, "a.b", "C").build(&()).unwrap()))
                .unwrap();
            assert_eq!(members(&to_bus(&out)), ["C"]);
        }
        let out = f
            .from_client(bus_call(
                11,
                "GetNameOwner",
                &"org.freedesktop.portal.Desktop",
            ))
            .unwrap();
        assert_eq!(members(&to_bus(&out)), ["GetNameOwner"]);
    }

    #[test]
    fn names_are_owned_only_under_own_rules() {
        let mut f = connected(RULES);
        for (serial, name) in [
            (2, "org.mpris.MediaPlayer2.player"),
            (3, "org.mpris.MediaPlayer2.player.instance42"),
            (4, "org.kde.player-4242"),
            (5, "org.kde.player_3_1"),
        ] {
            let out = f
                .from_client(bus_call(serial, "RequestName", &(name, 4u32)))
                .unwrap();
            assert_eq!(members(&to_bus(&out)), ["RequestName"], "{name}");
        }
        for (serial, name) in [
            (6, "org.mpris.MediaPlayer2.vlc"),
            (7, "org.freedesktop.portal.Desktop"),
            (8, "org.kde.player-x"),
            (9, "org.example.Hidden"),
        ] {
            let denied = refused(&mut f, bus_call(serial, "RequestName", &(name, 4u32)));
            assert_eq!(error_name(&denied), ACCESS_DENIED, "{name}");
        }
        let denied = refused(
            &mut f,
            bus_call(10, "ReleaseName", &"org.freedesktop.portal.Desktop"),
        );
        assert_eq!(error_name(&denied), ACCESS_DENIED);
        // Watching other connections' traffic, and changing the bus's environment: never.
        let spy = "type='method_call',eavesdrop = 'true'";
        assert_eq!(
            error_name(&refused(&mut f, bus_call(11, "AddMatch", &spy))),
            ACCESS_DENIED
        );
        let out = f
            .from_client(bus_call(
                12,
                "AddMatch",
                &"type='signal',sender='org.freedesktop.portal.Desktop'",
            ))
            .unwrap();
        assert_eq!(members(&to_bus(&out)), ["AddMatch"]);
        let monitor = bus_call(13, "BecomeMonitor", &(vec!["type='signal'"], 0u32));
        assert_eq!(error_name(&refused(&mut f, monitor)), ACCESS_DENIED);
        let env = bus_call(
            14,
            "UpdateActivationEnvironment",
            &HashMap::from([("A", "B")]),
        );
        assert_eq!(error_name(&refused(&mut f, env)), ACCESS_DENIED);
        // Refused calls that want no reply are just dropped.
        let quiet = call(15, BUS, BUS, "RequestName")
            .with_flags(Flags::NoReplyExpected)
            .unwrap();
        assert!(f
            .from_client(frame(quiet.build(&("org.example.Hidden", 0u32)).unwrap()))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn replies_only_to_calls_made_and_signals_only_from_allowed_senders() {
        let mut f = connected(RULES);
        // A reply to a call the client never made, and one to the client's call: only the second.
        assert!(f
            .from_bus(reply(400, 77, PORTAL, &"forged"))
            .unwrap()
            .is_empty());
        f.from_client(frame(call(2, PORTAL, "a.b", "C").build(&()).unwrap()))
            .unwrap();
        assert_eq!(
            to_client(&f.from_bus(reply(401, 2, PORTAL, &"ok")).unwrap()).len(),
            1
        );
        assert!(f
            .from_bus(reply(402, 2, PORTAL, &"twice"))
            .unwrap()
            .is_empty());
        // Broadcast signals: from the portal's owner yes, from a hidden sender no.
        let from_portal = signal(
            403,
            PORTAL,
            "org.freedesktop.portal.Settings",
            "SettingChanged",
        );
        assert_eq!(
            f.from_bus(frame(from_portal.build(&()).unwrap()))
                .unwrap()
                .len(),
            1
        );
        let from_hidden = signal(404, HIDDEN, "org.example.Hidden", "Changed");
        assert!(f
            .from_bus(frame(from_hidden.build(&()).unwrap()))
            .unwrap()
            .is_empty());
        // A peer's call reaches the client, which may answer it, once.
        let incoming = call(405, ME, "org.mpris.MediaPlayer2", "Play")
            .sender(HIDDEN)
            .unwrap();
        assert_eq!(
            f.from_bus(frame(incoming.build(&()).unwrap()))
                .unwrap()
                .len(),
            1
        );
        let answer = |serial| {
            let c = call(405, ME, "a.b", "Play")
                .sender(HIDDEN)
                .unwrap()
                .build(&())
                .unwrap();
            frame(
                Message::method_return(&c.header())
                    .unwrap()
                    .serial(nz(serial))
                    .build(&())
                    .unwrap(),
            )
        };
        assert_eq!(f.from_client(answer(3)).unwrap().len(), 1);
        assert!(f.from_client(answer(4)).unwrap().is_empty());
        // Having called the client, the peer is seen, not talked to.
        let pid = f
            .from_client(bus_call(5, "GetConnectionUnixProcessID", &HIDDEN))
            .unwrap();
        assert_eq!(members(&to_bus(&pid)), ["GetConnectionUnixProcessID"]);
        let denied = refused(
            &mut f,
            frame(call(6, HIDDEN, "a.b", "C").build(&()).unwrap()),
        );
        assert_eq!(error_name(&denied), ACCESS_DENIED);
        // When the portal's name moves on, its old owner is hidden again.
        f.from_bus(owner_changed(
            406,
            "org.freedesktop.portal.Desktop",
            PORTAL,
            "",
        ))
        .unwrap();
        let gone = signal(
            407,
            PORTAL,
            "org.freedesktop.portal.Settings",
            "SettingChanged",
        );
        assert!(f
            .from_bus(frame(gone.build(&()).unwrap()))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn call_rules_allow_their_methods_only() {
        let rule =
            "--call=org.freedesktop.UPower=org.freedesktop.UPower.EnumerateDevices@/org/example";
        let mut f = connected(&[rule]);
        let ok = call(
            2,
            "org.freedesktop.UPower",
            "org.freedesktop.UPower",
            "EnumerateDevices",
        );
        assert_eq!(
            f.from_client(frame(ok.build(&()).unwrap())).unwrap().len(),
            1
        );
        let other = call(
            3,
            "org.freedesktop.UPower",
            "org.freedesktop.UPower",
            "Suspend",
        );
        assert_eq!(
            error_name(&refused(&mut f, frame(other.build(&()).unwrap()))),
            ACCESS_DENIED
        );
    }

    #[test]
    fn framing_takes_whole_messages_with_their_descriptors() {
        let a = call(1, BUS, BUS, "Hello").build(&()).unwrap();
        let b = call(2, "org.example.A", "a.b", "C")
            .build(&zbus::zvariant::Fd::from(std::os::fd::AsFd::as_fd(
                &std::io::stdin(),
            )))
            .unwrap();
        assert_eq!(b.header().unix_fds(), Some(1));
        let (r, w) = nix::unistd::pipe().unwrap();
        let mut f = Framer::default();
        let mut bytes = a.data().bytes().to_vec();
        bytes.extend_from_slice(b.data().bytes());
        // Cut anywhere, with the descriptor arriving with the first part.
        f.push(&bytes[..5], vec![r]);
        assert!(f.next_frame().unwrap().is_none());
        f.push(&bytes[5..bytes.len() - 1], vec![w]);
        let first = f.next_frame().unwrap().unwrap();
        assert!(first.fds.is_empty());
        assert!(f.next_frame().unwrap().is_none());
        f.push(&bytes[bytes.len() - 1..], Vec::new());
        let second = f.next_frame().unwrap().unwrap();
        assert_eq!(second.fds.len(), 1);
        assert_eq!(second.msg.header().member().unwrap().as_str(), "C");
        assert!(f.is_empty());
        // Descriptors piling up with no message to carry them (the soft limit of open files
        // raised to the hard one first: 1024 is a common default).
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: reading and setting this process's own limit, with a struct of ours.
        unsafe {
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
        let mut f = Framer::default();
        let many = (0..=MAX_QUEUED_FDS)
            .map(|_| std::fs::File::open("/dev/null").unwrap().into())
            .collect();
        f.push(b"l", many);
        assert!(f.next_frame().unwrap_err().contains("ahead"));
        // A message saying it carries a descriptor that never came.
        let mut f = Framer::default();
        f.push(b.data().bytes(), Vec::new());
        assert!(f.next_frame().unwrap_err().contains("descriptors"));
    }

    #[test]
    fn bad_framing_is_an_error() {
        let mut f = Framer::default();
        f.push(b"GET / HTTP/1.1\r\n\r\n", Vec::new());
        assert!(f.next_frame().unwrap_err().contains("endianness"));
        let mut big = call(1, BUS, BUS, "Hello")
            .build(&())
            .unwrap()
            .data()
            .bytes()
            .to_vec();
        big[4..8].copy_from_slice(&(MAX_MESSAGE as u32).to_le_bytes());
        let mut f = Framer::default();
        f.push(&big, Vec::new());
        assert!(f.next_frame().unwrap_err().contains("limit"));
        let mut v2 = call(1, BUS, BUS, "Hello")
            .build(&())
            .unwrap()
            .data()
            .bytes()
            .to_vec();
        v2[3] = 2;
        assert!(message_len(&v2).unwrap_err().contains("version"));
        // Garbage where the header fields should be.
        let mut junk = call(1, BUS, BUS, "Hello")
            .build(&())
            .unwrap()
            .data()
            .bytes()
            .to_vec();
        for b in &mut junk[16..] {
            *b = 0xff;
        }
        let mut f = Framer::default();
        f.push(&junk, Vec::new());
        assert!(f.next_frame().is_err());
        // Big-endian messages are read too.
        let be = call(1, BUS, BUS, "Hello")
            .endian(Endian::Big)
            .build(&())
            .unwrap();
        let mut f = Framer::default();
        f.push(be.data().bytes(), Vec::new());
        assert_eq!(
            f.next_frame()
                .unwrap()
                .unwrap()
                .msg
                .header()
                .member()
                .unwrap()
                .as_str(),
            "Hello"
        );
    }

    #[test]
    fn damaged_messages_are_errors_or_decisions_never_panics() {
        // Valid messages of both sides, each byte after the fixed header changed in turn (and
        // some at random), framed and filtered: an error or a decision, whatever the bytes.
        let samples: Vec<(bool, Vec<u8>)> = vec![
            (
                true,
                bus_call(2, "RequestName", &("org.kde.player-1", 4u32)).msg,
            ),
            (true, bus_call(3, "AddMatch", &"type='signal'").msg),
            (
                true,
                frame(call(4, PORTAL, "a.b", "C").build(&("x", 7u32)).unwrap()).msg,
            ),
            (
                false,
                owner_changed(500, "org.freedesktop.portal.Desktop", PORTAL, ":1.99").msg,
            ),
            (false, reply(501, 2, BUS, &vec!["a.b", "c.d"]).msg),
        ]
        .into_iter()
        .map(|(c, m)| (c, m.data().bytes().to_vec()))
        .collect();
        let mut seed: u32 = 0x9e37_79b9;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        let mut filter = connected(RULES);
        for (from_client, bytes) in &samples {
            for at in FIXED_HEADER..bytes.len() {
                for value in [0u8, 0xff, (rand() & 0xff) as u8] {
                    let mut bad = bytes.clone();
                    bad[at] = value;
                    let mut f = Framer::default();
                    f.push(&bad, Vec::new());
                    let Ok(Some(frame)) = f.next_frame() else {
                        continue;
                    };
                    // The serial is kept below the filter's own, so the decision is reached.
                    let _ = if *from_client {
                        filter.from_client(frame)
                    } else {
                        filter.from_bus(frame)
                    };
                }
            }
        }
    }
}
