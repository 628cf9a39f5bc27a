//! The app's way to a bus: a socket of the launch's own in the app's runtime directory, served by
//! the monitor, which connects each client straight to the real bus and filters what passes with
//! the app's [`Policy`] ([`crate::bus_filter`]). No proxy process runs.
//!
//! The handshake passes through as the client sends it, except that a pipelined `BEGIN` (sd-bus
//! and zbus send it, often with their first message, before the bus has answered their earlier
//! commands) is held until every command before it has its answer: from `BEGIN` on, both sides
//! speak in messages, which the relay frames and zbus parses. Bad framing or a broken protocol
//! ends that client's connection only.
//!
//! The launch binds the socket on the host (`prepare`) and opens there what the monitor connects
//! to later (the bus socket's directory, or spare sockets of the host's network namespace for an
//! abstract address): the monitor lives in the sandbox's mount namespace, and without `network`
//! in a network namespace of its own. The monitor, which lives as long as the app and keeps no
//! privilege, serves the relays (`serve_until`) with one `poll` loop until the sandbox's first
//! process is gone (a process that made a PID namespace cannot start threads), then removes the
//! sockets.

use std::collections::VecDeque;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags, Shutdown};
use nix::sys::stat::Mode;
use zbus::address::transport::{Transport, UnixSocket};
use zbus::message::Message;

use crate::bus_filter::{Filter, Framer, Out};
use crate::bus_policy::Policy;

/// Where a relay's clients are connected to: the bus's socket, opened on the host.
pub enum Upstream {
    /// A socket file: its directory, and its name there.
    Path { dir: OwnedFd, name: String },
    /// An abstract socket, and sockets made in the host's network namespace for it.
    Abstract { name: Vec<u8>, spare: Vec<OwnedFd> },
}

/// How many sockets are made ahead for an abstract bus address: without `network`, the monitor's
/// own are in the sandbox's network namespace, where the host's abstract sockets are not.
const SPARE_SOCKETS: usize = 16;

impl Upstream {
    /// The first Unix address in the D-Bus address list `addr`, opened now.
    pub fn open(addr: &str) -> Result<Upstream, String> {
        let mut why = format!("no Unix socket address in {addr:?}");
        for one in addr.split(';').filter(|a| !a.is_empty()) {
            let parsed = one
                .parse::<zbus::Address>()
                .map_err(|e| format!("cannot read the bus address {one:?}: {e}"));
            let socket = parsed.and_then(|a| match a.transport() {
                Transport::Unix(u) => Ok(u.path().clone()),
                _ => Err(format!("{one:?} is not a Unix socket address")),
            });
            match socket.and_then(|s| Upstream::open_socket(&s, one)) {
                Ok(up) => return Ok(up),
                Err(e) => why = e,
            }
        }
        Err(why)
    }

    fn open_socket(socket: &UnixSocket, addr: &str) -> Result<Upstream, String> {
        match socket {
            UnixSocket::File(path) => {
                let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                    return Err(format!("{} is not a socket's path", path.display()));
                };
                let dir = nix::fcntl::open(
                    parent,
                    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| format!("cannot open {}: {e}", parent.display()))?;
                let name = name
                    .to_str()
                    .ok_or_else(|| format!("{} is not UTF-8", path.display()))?;
                Ok(Upstream::Path {
                    dir,
                    name: name.to_string(),
                })
            }
            UnixSocket::Abstract(name) => {
                let spare = (0..SPARE_SOCKETS)
                    .map(|_| stream_socket())
                    .collect::<nix::Result<Vec<_>>>()
                    .map_err(|e| format!("cannot make sockets for {addr}: {e}"))?;
                Ok(Upstream::Abstract {
                    name: name.as_bytes().to_vec(),
                    spare,
                })
            }
            _ => Err(format!("{addr:?} is an address to listen on, not a bus")),
        }
    }

    /// A new connection to the bus.
    fn connect(&mut self) -> Result<UnixStream, Errno> {
        match self {
            // The sandbox may be the monitor's root by now: the socket is reached from its
            // directory, as the working directory (the monitor uses it for nothing else).
            Upstream::Path { dir, name } => {
                nix::unistd::fchdir(dir.as_fd())?;
                UnixStream::connect(name.as_str())
                    .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
            }
            Upstream::Abstract { name, spare } => {
                let fd = match spare.pop() {
                    Some(fd) => fd,
                    None => stream_socket()?,
                };
                let addr = socket::UnixAddr::new_abstract(name)?;
                socket::connect(fd.as_raw_fd(), &addr)?;
                Ok(UnixStream::from(fd))
            }
        }
    }
}

fn stream_socket() -> nix::Result<OwnedFd> {
    socket::socket(
        socket::AddressFamily::Unix,
        socket::SockType::Stream,
        socket::SockFlag::SOCK_CLOEXEC,
        None,
    )
}

/// A relay bound by the launch: its listening socket, the runtime directory holding it, the bus
/// and the app's rules for it.
struct Relay {
    listener: UnixListener,
    dir: OwnedFd,
    name: String,
    upstream: Upstream,
    policy: Arc<Policy>,
}

static RELAYS: Mutex<Vec<Relay>> = Mutex::new(Vec::new());

/// The longest handshake a client may send before `BEGIN` is let through.
const MAX_HANDSHAKE: usize = 16 << 10;

/// How much one read takes, and how many descriptors may come with it (the kernel's limit).
const CHUNK: usize = 32 << 10;
const MAX_FDS: usize = 253;

/// Bind the relay's socket `name` in the runtime directory `dir` (at `runtime`) for the bus
/// `upstream` with `policy`, and keep it for the monitor. Returns its path.
pub fn prepare(
    dir: BorrowedFd<'_>,
    runtime: &str,
    name: &str,
    upstream: Upstream,
    policy: Policy,
) -> Result<String, String> {
    let path = format!("{runtime}/{name}");
    // A socket of an earlier launch with this PID that was killed before it could remove it.
    let _ = nix::unistd::unlinkat(dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
    let listener = UnixListener::bind(&path).map_err(|e| format!("cannot bind {path}: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot set up {path}: {e}"))?;
    let dir = dir
        .try_clone_to_owned()
        .map_err(|e| format!("cannot keep {runtime}: {e}"))?;
    let relay = Relay {
        listener,
        dir,
        name: name.to_string(),
        upstream,
        policy: Arc::new(policy),
    };
    RELAYS.lock().unwrap_or_else(|e| e.into_inner()).push(relay);
    Ok(path)
}

/// In the sandbox's first process: the listening sockets are the monitor's alone.
pub fn forget() {
    RELAYS.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// In the monitor: relay every connection to the prepared relays until `until` hangs up (the
/// sandbox's first process holds its other end), then remove the relays' sockets. Returns at
/// once when the launch prepared none.
pub fn serve_until(until: BorrowedFd<'_>) {
    let mut relays = std::mem::take(&mut *RELAYS.lock().unwrap_or_else(|e| e.into_inner()));
    if relays.is_empty() {
        return;
    }
    let mut conns: Vec<Conn> = Vec::new();
    while poll_once(Some(until), &mut relays, &mut conns, -1) {}
    // What the app's last processes wrote before they ended still goes on to the bus (a reply
    // sent just before exiting), for a short while at most.
    let deadline = Instant::now() + DRAIN;
    loop {
        conns.retain(|c| !c.to_up.shut);
        let left = deadline.saturating_duration_since(Instant::now());
        if conns.is_empty() || left.is_zero() {
            break;
        }
        let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
        poll_once(None, &mut [], &mut conns, ms.max(1));
    }
    for relay in &relays {
        let _ = nix::unistd::unlinkat(
            relay.dir.as_fd(),
            relay.name.as_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
    }
}

/// The most connections served at once.
const MAX_CONNS: usize = 256;

/// How long the relays pass on what the app sent once it has ended.
const DRAIN: Duration = Duration::from_secs(2);

/// One round: wait up to `timeout` ms (-1: no limit) for any of `conns` or `relays`, and act on
/// it. False once `until` has hung up, or when poll fails for another reason than a signal.
fn poll_once(
    until: Option<BorrowedFd<'_>>,
    relays: &mut [Relay],
    conns: &mut Vec<Conn>,
    timeout: libc::c_int,
) -> bool {
    // `until` is polled for nothing: a hang-up is reported anyway, its one data byte is not ours.
    let mut fds = vec![libc::pollfd {
        fd: until.map_or(-1, |u| u.as_raw_fd()),
        events: 0,
        revents: 0,
    }];
    // Past MAX_CONNS new clients wait in the listener's backlog (two descriptors each).
    let listen = if conns.len() < MAX_CONNS {
        libc::POLLIN
    } else {
        0
    };
    fds.extend(
        relays
            .iter()
            .map(|r| pollfd(r.listener.as_raw_fd(), listen)),
    );
    for c in conns.iter() {
        fds.push(pollfd(c.client.as_raw_fd(), c.client_events()));
        fds.push(pollfd(c.up.as_raw_fd(), c.up_events()));
    }
    // SAFETY: pollfds of ours, as many as given.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
    if n < 0 {
        // A forwarded signal; anything else would repeat, so the relays end.
        return Errno::last() == Errno::EINTR;
    }
    if fds[0].revents != 0 {
        return false;
    }
    // The connections polled first (one pair of entries each, in order), then new ones.
    let mut events = fds[1 + relays.len()..].chunks(2);
    conns.retain_mut(|c| match events.next() {
        Some([client, up]) => c.step(client.revents, up.revents),
        _ => true,
    });
    for (relay, pfd) in relays.iter_mut().zip(&fds[1..]) {
        if pfd.revents != 0 {
            accept(relay, conns);
        }
    }
    true
}

/// A descriptor to poll for `events`; none: not polled at all (a hang-up is reported even when
/// not asked for, and would wake the loop again and again).
fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd: if events == 0 { -1 } else { fd },
        events,
        revents: 0,
    }
}

/// Take the clients waiting on `relay`, each connected to the bus.
fn accept(relay: &mut Relay, conns: &mut Vec<Conn>) {
    while conns.len() < MAX_CONNS {
        let Ok((client, _)) = relay.listener.accept() else {
            return;
        };
        let up = match relay.upstream.connect() {
            Ok(up) => up,
            Err(e) => {
                eprintln!("snapshelf-confine: warning: a D-Bus client is turned away: cannot reach the bus: {e}");
                continue;
            }
        };
        let ready = client
            .set_nonblocking(true)
            .and_then(|()| up.set_nonblocking(true));
        if ready.is_ok() {
            conns.push(Conn::new(client, up, Arc::clone(&relay.policy)));
        }
    }
}

/// What is passed on to a side: the handshake's lines, or a message.
enum Bytes {
    Raw(Vec<u8>),
    Msg(Message),
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Raw(v) => v,
            Bytes::Msg(m) => m.data().bytes(),
        }
    }
}

/// What goes to one side, not yet written: whole pieces, each with its own descriptors (sent
/// with its first byte), `at` bytes of the first written; `eof`: the other side has no more,
/// `shut`: this side has been told.
#[derive(Default)]
struct Flow {
    queue: VecDeque<(Bytes, Vec<OwnedFd>)>,
    at: usize,
    eof: bool,
    shut: bool,
}

impl Flow {
    fn push(&mut self, bytes: Bytes, fds: Vec<OwnedFd>) {
        if !bytes.as_slice().is_empty() {
            self.queue.push_back((bytes, fds));
        }
    }

    fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// The client's handshake as far as the relay has seen it.
#[derive(Debug, Default, PartialEq)]
struct Handshake {
    /// The credentials byte (a NUL) has gone by.
    started: bool,
    /// Commands passed on, and answer lines seen from the bus's side.
    commands: usize,
    answers: usize,
    /// What the client sent that is not passed on yet: a line cut short, or `BEGIN` and all
    /// after it.
    held: Vec<u8>,
    /// `BEGIN` is in `held`, waiting for the answers.
    begin: bool,
    /// `BEGIN` has been passed on: the rest is messages.
    open: bool,
    /// What the client sent after `BEGIN`, once open: its first messages.
    after: Vec<u8>,
    /// The last byte from the bus's side (an answer's `\r\n` may be split between reads).
    last: u8,
}

impl Handshake {
    /// The client sent `bytes`: what may go on to the bus now is appended to `out`. `EPROTO`:
    /// a handshake longer than any real one.
    fn client_sent(&mut self, mut bytes: &[u8], out: &mut Vec<u8>) -> nix::Result<()> {
        if !self.started && !bytes.is_empty() {
            self.started = true;
            out.push(bytes[0]);
            bytes = &bytes[1..];
        }
        self.held.extend_from_slice(bytes);
        while !self.begin {
            let Some(end) = self.held.windows(2).position(|w| w == b"\r\n") else {
                break;
            };
            let line = &self.held[..end];
            if line == b"BEGIN" || line.starts_with(b"BEGIN ") || line.starts_with(b"BEGIN\t") {
                self.begin = true;
            } else {
                self.commands += 1;
                out.extend(self.held.drain(..end + 2));
            }
        }
        self.release(out);
        if !self.open && self.held.len() > MAX_HANDSHAKE {
            return Err(Errno::EPROTO);
        }
        Ok(())
    }

    /// The bus's side sent `bytes` (answers, while the handshake lasts).
    fn bus_sent(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.open || bytes.is_empty() {
            return;
        }
        let split = usize::from(self.last == b'\r' && bytes[0] == b'\n');
        self.answers += split + bytes.windows(2).filter(|w| *w == b"\r\n").count();
        self.last = bytes[bytes.len() - 1];
        self.release(out);
    }

    /// `BEGIN` once every command before it is answered; what follows it is kept in `after`.
    fn release(&mut self, out: &mut Vec<u8>) {
        if self.begin && !self.open && self.answers >= self.commands {
            self.open = true;
            let end = self
                .held
                .windows(2)
                .position(|w| w == b"\r\n")
                .map_or(0, |e| e + 2);
            out.extend(self.held.drain(..end));
            self.after = std::mem::take(&mut self.held);
        }
    }
}

/// One client's connection, the relay's connection to the bus for it, and its filter.
struct Conn {
    client: UnixStream,
    up: UnixStream,
    to_up: Flow,
    to_client: Flow,
    handshake: Handshake,
    from_client: Framer,
    from_up: Framer,
    filter: Filter,
}

impl Conn {
    fn new(client: UnixStream, up: UnixStream, policy: Arc<Policy>) -> Conn {
        Conn {
            client,
            up,
            to_up: Flow::default(),
            to_client: Flow::default(),
            handshake: Handshake::default(),
            from_client: Framer::default(),
            from_up: Framer::default(),
            filter: Filter::new(policy),
        }
    }

    /// Read a side only once what goes the other way is written, the client not while its
    /// `BEGIN` waits nor while the filter holds its messages.
    fn client_events(&self) -> libc::c_short {
        let held = self.handshake.begin && !self.handshake.open;
        let read = self.to_up.is_empty() && !self.to_up.eof && !held && !self.filter.paused();
        flags(read, !self.to_client.is_empty())
    }

    fn up_events(&self) -> libc::c_short {
        let read = self.to_client.is_empty() && !self.to_client.eof;
        flags(read, !self.to_up.is_empty())
    }

    /// Act on what poll said of the two sockets; false once the connection is over.
    fn step(&mut self, client: libc::c_short, up: libc::c_short) -> bool {
        match self.try_step(client, up) {
            Ok(()) => !(self.to_up.shut && self.to_client.shut),
            Err(e) => {
                if let Some(why) = e {
                    eprintln!("snapshelf-confine: warning: a D-Bus client is dropped: {why}");
                }
                false
            }
        }
    }

    /// An error: the connection ends, said when it is the protocol's fault.
    fn try_step(&mut self, client: libc::c_short, up: libc::c_short) -> Result<(), Option<String>> {
        let ready =
            |revents: libc::c_short| revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0;
        if ready(client) && self.client_events() & libc::POLLIN != 0 {
            if let Some((bytes, fds)) = receive(self.client.as_fd()).map_err(|_| None)? {
                self.to_up.eof = bytes.is_empty();
                self.client_sent(bytes, fds).map_err(Some)?;
            }
        }
        if ready(up) && self.up_events() & libc::POLLIN != 0 {
            if let Some((bytes, fds)) = receive(self.up.as_fd()).map_err(|_| None)? {
                self.to_client.eof = bytes.is_empty();
                self.bus_sent(bytes, fds).map_err(Some)?;
            }
        }
        self.pump().map_err(Some)?;
        flush(&mut self.to_up, self.up.as_fd()).map_err(|_| None)?;
        flush(&mut self.to_client, self.client.as_fd()).map_err(|_| None)
    }

    fn client_sent(&mut self, bytes: Vec<u8>, fds: Vec<OwnedFd>) -> Result<(), String> {
        if self.handshake.open {
            self.from_client.push(&bytes, fds);
            return Ok(());
        }
        let mut raw = Vec::new();
        self.handshake
            .client_sent(&bytes, &mut raw)
            .map_err(|_| "its handshake is longer than any real one".to_string())?;
        self.to_up.push(Bytes::Raw(raw), Vec::new());
        // Descriptors come with messages only, never with the handshake's lines.
        self.from_client
            .push(&std::mem::take(&mut self.handshake.after), fds);
        Ok(())
    }

    fn bus_sent(&mut self, bytes: Vec<u8>, fds: Vec<OwnedFd>) -> Result<(), String> {
        if self.handshake.open {
            self.from_up.push(&bytes, fds);
            return Ok(());
        }
        let mut raw = Vec::new();
        self.handshake.bus_sent(&bytes, &mut raw);
        self.to_up.push(Bytes::Raw(raw), Vec::new());
        self.from_client
            .push(&std::mem::take(&mut self.handshake.after), Vec::new());
        self.to_client.push(Bytes::Raw(bytes), Vec::new());
        Ok(())
    }

    /// Filter the whole messages read so far, the bus's first (its replies may let the client's
    /// held messages go).
    fn pump(&mut self) -> Result<(), String> {
        // A message that made zbus or the filter panic ends this connection, not the monitor
        // (which the whole sandbox depends on).
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.pump_frames()))
            .unwrap_or_else(|_| Err("a message could not be handled".into()))
    }

    fn pump_frames(&mut self) -> Result<(), String> {
        loop {
            let mut moved = false;
            while let Some(frame) = self.from_up.next_frame()? {
                let out = self.filter.from_bus(frame)?;
                self.route(out);
                moved = true;
            }
            while !self.filter.paused() {
                let Some(frame) = self.from_client.next_frame()? else {
                    break;
                };
                let out = self.filter.from_client(frame)?;
                self.route(out);
                moved = true;
            }
            if !moved {
                return Ok(());
            }
        }
    }

    fn route(&mut self, out: Vec<Out>) {
        for o in out {
            match o {
                Out::Bus(m, fds) => self.to_up.push(Bytes::Msg(m), fds),
                Out::Client(m, fds) => self.to_client.push(Bytes::Msg(m), fds),
            }
        }
    }
}

fn flags(read: bool, write: bool) -> libc::c_short {
    (if read { libc::POLLIN } else { 0 }) | (if write { libc::POLLOUT } else { 0 })
}

/// Write what `flow` holds to `to`, as far as it takes it now; tell `to` when the flow has ended.
fn flush(flow: &mut Flow, to: BorrowedFd<'_>) -> nix::Result<()> {
    while let Some((bytes, fds)) = flow.queue.front_mut() {
        let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
        let rights = [ControlMessage::ScmRights(&raw)];
        let cmsgs: &[ControlMessage<'_>] = if raw.is_empty() { &[] } else { &rights };
        let iov = [IoSlice::new(&bytes.as_slice()[flow.at..])];
        let flags = MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT;
        match socket::sendmsg::<()>(to.as_raw_fd(), &iov, cmsgs, flags, None) {
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return Ok(()),
            Err(e) => return Err(e),
            Ok(n) => {
                // The descriptors went with the first byte; ours are closed.
                fds.clear();
                flow.at += n;
                if flow.at == bytes.as_slice().len() {
                    flow.queue.pop_front();
                    flow.at = 0;
                }
            }
        }
    }
    if flow.eof && !flow.shut {
        flow.shut = true;
        let _ = socket::shutdown(to.as_raw_fd(), Shutdown::Write);
    }
    Ok(())
}

/// One read, with the descriptors that came with it (owned: closed once passed on). Empty: the
/// other end is done; `None`: nothing to read after all.
fn receive(from: BorrowedFd<'_>) -> nix::Result<Option<(Vec<u8>, Vec<OwnedFd>)>> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let flags = MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_DONTWAIT;
        let got = socket::recvmsg::<()>(from.as_raw_fd(), &mut iov, Some(&mut space), flags);
        let msg = match got {
            Err(Errno::EINTR) => continue,
            // Woken for nothing after all.
            Err(Errno::EAGAIN) => return Ok(None),
            other => other?,
        };
        let mut fds = Vec::new();
        for cmsg in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(raw) = cmsg {
                // SAFETY: the kernel just gave us these descriptors; nobody else owns them.
                fds.extend(
                    raw.into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        let n = msg.bytes;
        buf.truncate(n);
        return Ok(Some((buf, fds)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begin_waits_for_every_answer_of_a_pipelined_handshake() {
        // sd-bus's first write: all of it but BEGIN and the message after it goes on at once.
        let mut h = Handshake::default();
        let mut out = Vec::new();
        let sent = b"\0AUTH EXTERNAL\r\nDATA\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\nl\x01\0\x01";
        h.client_sent(sent, &mut out).unwrap();
        assert_eq!(out, b"\0AUTH EXTERNAL\r\nDATA\r\nNEGOTIATE_UNIX_FD\r\n");
        out.clear();
        h.bus_sent(b"DATA\r\nOK 1234\r", &mut out);
        assert!(out.is_empty() && !h.open);
        // The last answer's line end split between two reads.
        h.bus_sent(b"\nAGREE_UNIX_FD", &mut out);
        assert!(out.is_empty() && !h.open);
        h.bus_sent(b"\r\n", &mut out);
        assert_eq!(out, b"BEGIN\r\n");
        // What came after BEGIN is the first message's start, for the framer.
        assert_eq!(h.after, b"l\x01\0\x01");
        assert!(h.open);
    }

    #[test]
    fn a_handshake_one_line_at_a_time_passes_as_it_comes() {
        // libdbus and GDBus: each command after the answer to the one before.
        let mut h = Handshake::default();
        let mut out = Vec::new();
        h.client_sent(b"\0", &mut out).unwrap();
        h.client_sent(b"AUTH EXTERNAL 31303030\r", &mut out)
            .unwrap();
        assert_eq!(out, b"\0");
        h.client_sent(b"\n", &mut out).unwrap();
        assert_eq!(out, b"\0AUTH EXTERNAL 31303030\r\n");
        h.bus_sent(b"OK 1234\r\n", &mut out);
        h.client_sent(b"BEGIN\r\n", &mut out).unwrap();
        assert!(h.open);
        assert_eq!(out, b"\0AUTH EXTERNAL 31303030\r\nBEGIN\r\n");
    }

    #[test]
    fn a_handshake_that_never_ends_is_refused() {
        let mut h = Handshake::default();
        let mut out = Vec::new();
        h.client_sent(b"\0AUTH ", &mut out).unwrap();
        let endless = vec![b'A'; MAX_HANDSHAKE + 1];
        assert!(h.client_sent(&endless, &mut out).is_err());
        // BEGIN held past the limit, with a long first message behind it, is fine once open.
        let mut h = Handshake::default();
        let mut out = Vec::new();
        h.client_sent(b"\0AUTH EXTERNAL\r\nBEGIN\r\n", &mut out)
            .unwrap();
        h.bus_sent(b"OK 1\r\n", &mut out);
        assert!(h.open);
    }
}
