//! A relay in front of the bus proxy, for clients that pipeline their SASL handshake.
//!
//! sd-bus (`busctl`, systemd's tools) and zbus (Rust apps) send `BEGIN` before the bus has
//! answered their earlier commands (`AUTH`, `DATA`, `NEGOTIATE_UNIX_FD`), often with their first
//! message in the same write. xdg-dbus-proxy before 0.1.6 reads messages from the moment it sees
//! `BEGIN`, so it takes the bus's text answers still on their way for a message header and drops
//! the client (Debian 12 has 0.1.4). The relay holds the client's `BEGIN`, and what follows it,
//! until every command before it has its answer line from the proxy's side; the proxy then sees
//! the handshake as libdbus sends it. From there on it passes bytes and descriptors through
//! unchanged: it reads no message and filters nothing (the proxy does).
//!
//! The launch binds the relay's socket on the host (`prepare`), next to the proxy's. The monitor,
//! which lives as long as the app and keeps no privilege, serves it (`serve_until`) with one
//! `poll` loop until the sandbox's first process is gone (a process that made a PID namespace
//! cannot start threads), then removes the sockets.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags, Shutdown};

/// A relay bound by the launch: its listening socket, and the runtime directory holding both its
/// socket (`name`) and the proxy's (`upstream`).
struct Relay {
    listener: UnixListener,
    dir: OwnedFd,
    name: String,
    upstream: String,
}

static RELAYS: Mutex<Vec<Relay>> = Mutex::new(Vec::new());

/// The longest handshake a client may send before `BEGIN` is let through.
const MAX_HANDSHAKE: usize = 16 << 10;

/// How much one read takes, and how many descriptors may come with it (the kernel's limit).
const CHUNK: usize = 32 << 10;
const MAX_FDS: usize = 253;

/// Bind the relay's socket `name` in the runtime directory `dir` (at `runtime`) for the proxy's
/// socket `upstream` in the same directory, and keep it for the monitor. Returns its path.
pub fn prepare(
    dir: BorrowedFd<'_>,
    runtime: &str,
    name: &str,
    upstream: &str,
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
        upstream: upstream.to_string(),
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
    let relays = std::mem::take(&mut *RELAYS.lock().unwrap_or_else(|e| e.into_inner()));
    if relays.is_empty() {
        return;
    }
    let mut conns: Vec<Conn> = Vec::new();
    while poll_once(Some(until), &relays, &mut conns, -1) {}
    // What the app's last processes wrote before they ended still goes on to the proxy (a reply
    // sent just before exiting), for a short while at most.
    let deadline = Instant::now() + DRAIN;
    loop {
        conns.retain(|c| !c.to_up.shut);
        let left = deadline.saturating_duration_since(Instant::now());
        if conns.is_empty() || left.is_zero() {
            break;
        }
        let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
        poll_once(None, &[], &mut conns, ms.max(1));
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
    relays: &[Relay],
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
    for (relay, pfd) in relays.iter().zip(&fds[1..]) {
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

/// Take the clients waiting on `relay`, each connected to the proxy.
fn accept(relay: &Relay, conns: &mut Vec<Conn>) {
    while conns.len() < MAX_CONNS {
        let Ok((client, _)) = relay.listener.accept() else {
            return;
        };
        // The sandbox is built in the monitor's mount namespace, so its root may be the sandbox's
        // by now: the proxy's socket is reached from the runtime directory's descriptor, as the
        // working directory (the monitor uses it for nothing else).
        let up = nix::unistd::fchdir(relay.dir.as_fd())
            .map_err(std::io::Error::from)
            .and_then(|()| UnixStream::connect(&relay.upstream));
        let (Ok(up), Ok(())) = (up, client.set_nonblocking(true)) else {
            continue;
        };
        if up.set_nonblocking(true).is_ok() {
            conns.push(Conn::new(client, up));
        }
    }
}

/// Bytes and descriptors read from one side, not yet written to the other; `eof`: that side
/// has no more, `shut`: the other has been told.
#[derive(Default)]
struct Flow {
    bytes: Vec<u8>,
    fds: Vec<OwnedFd>,
    eof: bool,
    shut: bool,
}

/// The client's handshake as far as the relay has seen it.
#[derive(Debug, Default, PartialEq)]
struct Handshake {
    /// The credentials byte (a NUL) has gone by.
    started: bool,
    /// Commands passed on, and answer lines seen from the proxy's side.
    commands: usize,
    answers: usize,
    /// What the client sent that is not passed on yet: a line cut short, or `BEGIN` and all
    /// after it.
    held: Vec<u8>,
    /// `BEGIN` is in `held`, waiting for the answers.
    begin: bool,
    /// `BEGIN` has been passed on: the rest is relayed as it comes.
    open: bool,
    /// The last byte from the proxy's side (an answer's `\r\n` may be split between reads).
    last: u8,
}

impl Handshake {
    /// The client sent `bytes`: what may go on to the proxy now is appended to `out`. `EPROTO`:
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

    /// The proxy's side sent `bytes` (answers, while the handshake lasts).
    fn proxy_sent(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.open || bytes.is_empty() {
            return;
        }
        let split = usize::from(self.last == b'\r' && bytes[0] == b'\n');
        self.answers += split + bytes.windows(2).filter(|w| *w == b"\r\n").count();
        self.last = bytes[bytes.len() - 1];
        self.release(out);
    }

    /// `BEGIN` and what follows, once every command before it is answered.
    fn release(&mut self, out: &mut Vec<u8>) {
        if self.begin && !self.open && self.answers >= self.commands {
            self.open = true;
            out.append(&mut self.held);
        }
    }
}

/// One client's connection and the relay's connection to the proxy for it.
struct Conn {
    client: UnixStream,
    up: UnixStream,
    to_up: Flow,
    to_client: Flow,
    handshake: Handshake,
}

impl Conn {
    fn new(client: UnixStream, up: UnixStream) -> Conn {
        Conn {
            client,
            up,
            to_up: Flow::default(),
            to_client: Flow::default(),
            handshake: Handshake::default(),
        }
    }

    /// Read a side only once what it sent before is written (a flow holds one read at most),
    /// and the client not while its `BEGIN` waits.
    fn client_events(&self) -> libc::c_short {
        let held = self.handshake.begin && !self.handshake.open;
        let read = self.to_up.bytes.is_empty() && !self.to_up.eof && !held;
        flags(read, !self.to_client.bytes.is_empty())
    }

    fn up_events(&self) -> libc::c_short {
        let read = self.to_client.bytes.is_empty() && !self.to_client.eof;
        flags(read, !self.to_up.bytes.is_empty())
    }

    /// Act on what poll said of the two sockets; false once the connection is over.
    fn step(&mut self, client: libc::c_short, up: libc::c_short) -> bool {
        self.try_step(client, up).is_ok() && !(self.to_up.shut && self.to_client.shut)
    }

    fn try_step(&mut self, client: libc::c_short, up: libc::c_short) -> nix::Result<()> {
        let ready =
            |revents: libc::c_short| revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0;
        if ready(client) && self.client_events() & libc::POLLIN != 0 {
            let Some((bytes, fds)) = receive(self.client.as_fd())? else {
                return Ok(());
            };
            self.to_up.eof = bytes.is_empty();
            self.to_up.fds.extend(fds);
            if self.handshake.open {
                self.to_up.bytes = bytes;
            } else {
                self.handshake.client_sent(&bytes, &mut self.to_up.bytes)?;
            }
        }
        if ready(up) && self.up_events() & libc::POLLIN != 0 {
            let Some((bytes, fds)) = receive(self.up.as_fd())? else {
                return Ok(());
            };
            self.to_client.eof = bytes.is_empty();
            self.to_client.fds.extend(fds);
            self.handshake.proxy_sent(&bytes, &mut self.to_up.bytes);
            self.to_client.bytes = bytes;
        }
        flush(&mut self.to_up, self.up.as_fd())?;
        flush(&mut self.to_client, self.client.as_fd())
    }
}

fn flags(read: bool, write: bool) -> libc::c_short {
    (if read { libc::POLLIN } else { 0 }) | (if write { libc::POLLOUT } else { 0 })
}

/// Write what `flow` holds to `to`, as far as it takes it now; tell `to` when the flow has ended.
fn flush(flow: &mut Flow, to: BorrowedFd<'_>) -> nix::Result<()> {
    while !flow.bytes.is_empty() {
        let raw: Vec<RawFd> = flow.fds.iter().map(|f| f.as_raw_fd()).collect();
        let rights = [ControlMessage::ScmRights(&raw)];
        let cmsgs: &[ControlMessage<'_>] = if raw.is_empty() { &[] } else { &rights };
        let iov = [IoSlice::new(&flow.bytes)];
        let flags = MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT;
        match socket::sendmsg::<()>(to.as_raw_fd(), &iov, cmsgs, flags, None) {
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return Ok(()),
            Err(e) => return Err(e),
            Ok(n) => {
                // The descriptors went with the first byte; ours are closed.
                flow.fds.clear();
                flow.bytes.drain(..n);
            }
        }
    }
    // An idle connection keeps no read buffer.
    flow.bytes = Vec::new();
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
        h.proxy_sent(b"DATA\r\nOK 1234\r", &mut out);
        assert!(out.is_empty() && !h.open);
        // The last answer's line end split between two reads.
        h.proxy_sent(b"\nAGREE_UNIX_FD", &mut out);
        assert!(out.is_empty() && !h.open);
        h.proxy_sent(b"\r\n", &mut out);
        assert_eq!(out, b"BEGIN\r\nl\x01\0\x01");
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
        h.proxy_sent(b"OK 1234\r\n", &mut out);
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
        h.proxy_sent(b"OK 1\r\n", &mut out);
        assert!(h.open);
    }
}
