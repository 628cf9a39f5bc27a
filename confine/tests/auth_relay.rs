//! The relay between a client and the bus (confine/src/auth_relay.rs), with a stand-in bus in
//! this process that speaks D-Bus: a pipelined handshake (sd-bus's first write) reaches the bus
//! without `BEGIN` until its three commands are answered, then `BEGIN` and the first message;
//! after it, messages and their descriptors pass both ways as the app's rules allow, a client
//! that breaks the framing is dropped alone, and the relay's socket goes when the sandbox's first
//! process (here: a pipe's write end) is gone. Its own test binary: the relay changes the
//! process's working directory.

use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::num::NonZeroU32;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags};
use snapshelf_confine::auth_relay::{self, Upstream};
use snapshelf_confine::bus_filter::{Frame, Framer};
use snapshelf_confine::bus_policy::Policy;
use zbus::message::{Message, Type};
use zbus::zvariant::Fd;

const ECHO: &str = "org.example.Echo";
const ECHO_OWNER: &str = ":1.2";

/// Read from `s` until `want` bytes came (or fail after a while).
fn read_n(s: &mut UnixStream, want: usize) -> Vec<u8> {
    let mut got = vec![0u8; want];
    s.read_exact(&mut got).unwrap();
    got
}

/// The next whole message on `s`, with its descriptors.
fn read_msg(s: &UnixStream, framer: &mut Framer) -> Option<Frame> {
    loop {
        if let Some(frame) = framer.next_frame().unwrap() {
            return Some(frame);
        }
        let mut buf = [0u8; 4096];
        let mut space = nix::cmsg_space!([RawFd; 4]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg =
            socket::recvmsg::<()>(s.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::empty())
                .unwrap();
        let mut fds = Vec::new();
        for cmsg in msg.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(raw) = cmsg {
                fds.extend(raw.into_iter().map(owned));
            }
        }
        let n = msg.bytes;
        if n == 0 {
            return None;
        }
        framer.push(&buf[..n], fds);
    }
}

fn owned(fd: RawFd) -> OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: a descriptor the kernel just passed to this process, owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn send(s: &UnixStream, msg: &Message, fds: &[RawFd]) {
    let rights = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &rights };
    let iov = [IoSlice::new(msg.data().bytes())];
    socket::sendmsg::<()>(s.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None).unwrap();
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

/// The bus's answer to `call`, from `sender`, with `body`.
fn answer<B>(call: &Message, serial: u32, sender: &str, body: &B) -> Message
where
    B: zbus::export::serde::Serialize + zbus::zvariant::DynamicType,
{
    Message::method_return(&call.header())
        .unwrap()
        .sender(sender)
        .unwrap()
        .destination(":1.1")
        .unwrap()
        .serial(nz(serial))
        .build(body)
        .unwrap()
}

/// The stand-in bus for one client: checks the handshake as it arrives, answers it, then answers
/// the bus methods and echoes calls to `ECHO`, reporting the inode of the descriptor that came
/// with the first of them and what else reached it.
fn bus(mut s: UnixStream) -> (u64, Vec<String>) {
    let first = b"\0AUTH EXTERNAL\r\nDATA\r\nNEGOTIATE_UNIX_FD\r\n";
    assert_eq!(read_n(&mut s, first.len()), first);
    // Nothing more before the answers: BEGIN waits in the relay.
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut more = [0u8; 1];
    assert!(s.read(&mut more).is_err(), "BEGIN came before the answers");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // Two answers, then the last in two parts.
    s.write_all(b"DATA\r\nOK 0123456789abcdef\r").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(b"\nAGREE_UNIX_FD\r\n").unwrap();
    assert_eq!(read_n(&mut s, 7), b"BEGIN\r\n");
    let mut framer = Framer::default();
    let (mut ino, mut seen, mut serial) = (0, Vec::new(), 1000);
    while let Some(Frame { msg, fds }) = read_msg(&s, &mut framer) {
        let h = msg.header();
        let member = h.member().map(|m| m.to_string()).unwrap_or_default();
        serial += 1;
        let reply = match (
            h.destination().map(|d| d.to_string()).as_deref(),
            member.as_str(),
        ) {
            (Some("org.freedesktop.DBus"), "Hello") => {
                answer(&msg, serial, "org.freedesktop.DBus", &":1.1")
            }
            (Some("org.freedesktop.DBus"), "GetNameOwner") => {
                answer(&msg, serial, "org.freedesktop.DBus", &ECHO_OWNER)
            }
            (Some("org.freedesktop.DBus"), _) => answer(&msg, serial, "org.freedesktop.DBus", &()),
            (Some(ECHO), _) => {
                if ino == 0 {
                    let fd = fds.first().expect("the descriptor came with its message");
                    ino = std::fs::File::from(fd.try_clone().unwrap())
                        .metadata()
                        .unwrap()
                        .ino();
                }
                // A call with a descriptor is answered with the same descriptor (passed back
                // by hand: the relay's framer keeps descriptors out of zbus's message).
                if let Some(fd) = fds.first() {
                    let back = answer(&msg, serial, ECHO_OWNER, &("fd", Fd::from(fd.as_fd())));
                    send(&s, &back, &[fd.as_raw_fd()]);
                    continue;
                }
                let body: String = msg.body().deserialize().unwrap();
                answer(&msg, serial, ECHO_OWNER, &body)
            }
            (dest, _) => {
                seen.push(format!("{dest:?} {member}"));
                continue;
            }
        };
        if h.message_type() == Type::MethodCall {
            send(&s, &reply, &[]);
        }
    }
    (ino, seen)
}

/// The client's side: handshake done, a call to `dest` and its answer.
struct Client {
    s: UnixStream,
    framer: Framer,
    serial: u32,
}

impl Client {
    fn call(&mut self, dest: &str, body: &str, fd: Option<BorrowedFd<'_>>) -> Message {
        self.call_fds(dest, body, fd).msg
    }

    /// The answer with the descriptors that came with it.
    fn call_fds(&mut self, dest: &str, body: &str, fd: Option<BorrowedFd<'_>>) -> Frame {
        self.serial += 1;
        let b = Message::method_call("/", "Echo")
            .unwrap()
            .destination(dest.to_string())
            .unwrap()
            .interface("org.example.Echo")
            .unwrap()
            .serial(nz(self.serial));
        let (msg, raw) = match fd {
            Some(fd) => (
                b.build(&(body, Fd::from(fd))).unwrap(),
                vec![fd.as_raw_fd()],
            ),
            None => (b.build(&body).unwrap(), Vec::new()),
        };
        send(&self.s, &msg, &raw);
        read_msg(&self.s, &mut self.framer).expect("an answer")
    }
}

fn hello() -> Message {
    Message::method_call("/org/freedesktop/DBus", "Hello")
        .unwrap()
        .destination("org.freedesktop.DBus")
        .unwrap()
        .interface("org.freedesktop.DBus")
        .unwrap()
        .serial(nz(1))
        .build(&())
        .unwrap()
}

#[test]
fn a_pipelined_handshake_waits_for_its_answers_then_the_filter_passes_what_the_rules_allow() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = dir.path().to_str().unwrap().to_string();
    let dirfd = OwnedFd::from(std::fs::File::open(dir.path()).unwrap());
    let listener = UnixListener::bind(dir.path().join("bus")).unwrap();
    let bus = std::thread::spawn(move || {
        let (a, _) = listener.accept().unwrap();
        let first = std::thread::spawn(move || bus(a));
        // The second client breaks the framing once its handshake is answered.
        let (mut b, _) = listener.accept().unwrap();
        assert_eq!(read_n(&mut b, 16), b"\0AUTH EXTERNAL\r\n");
        b.write_all(b"OK 0123456789abcdef\r\n").unwrap();
        let mut rest = Vec::new();
        let _ = b.read_to_end(&mut rest);
        assert!(
            !String::from_utf8_lossy(&rest).contains("GARBAGE"),
            "{rest:?}"
        );
        first.join().unwrap()
    });
    let up = Upstream::open(&format!("unix:path={runtime}/bus")).unwrap();
    let policy = Policy::from_proxy_args(&[format!("--talk={ECHO}")]).unwrap();
    let path = auth_relay::prepare(dirfd.as_fd(), &runtime, "relay.1", up, policy).unwrap();
    assert_eq!(path, format!("{runtime}/relay.1"));
    let (until_r, until_w) = nix::unistd::pipe().unwrap();
    let relay = std::thread::spawn(move || auth_relay::serve_until(until_r.as_fd()));

    let mut s = UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // sd-bus's first write, with its first message.
    let mut first = b"\0AUTH EXTERNAL\r\nDATA\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n".to_vec();
    first.extend_from_slice(hello().data().bytes());
    s.write_all(&first).unwrap();
    let answers = b"DATA\r\nOK 0123456789abcdef\r\nAGREE_UNIX_FD\r\n";
    assert_eq!(read_n(&mut s, answers.len()), answers);
    let mut c = Client {
        s,
        framer: Framer::default(),
        serial: 1,
    };
    let welcome = read_msg(&c.s, &mut c.framer).unwrap().msg;
    assert_eq!(welcome.body().deserialize::<String>().unwrap(), ":1.1");
    // A descriptor with a call.
    let file = std::fs::File::open("/proc/self/exe").unwrap();
    let got = c.call_fds(ECHO, "with a descriptor", Some(file.as_fd()));
    assert_eq!(got.msg.header().unix_fds(), Some(1));
    // And back: the answer carries the same file, exactly one descriptor.
    assert_eq!(got.fds.len(), 1);
    let back = std::fs::File::from(got.fds.into_iter().next().unwrap());
    assert_eq!(
        back.metadata().unwrap().ino(),
        file.metadata().unwrap().ino()
    );
    // A name the rules do not give: answered by the filter, never reaching the bus.
    let refused = c.call("org.example.Hidden", "no", None);
    assert_eq!(
        refused.header().error_name().unwrap().as_str(),
        "org.freedesktop.DBus.Error.ServiceUnknown"
    );

    // Another client breaks the framing after its handshake: dropped, alone, and nothing of its
    // garbage reaches the bus.
    let mut bad = UnixStream::connect(&path).unwrap();
    bad.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    bad.write_all(b"\0AUTH EXTERNAL\r\nBEGIN\r\nGARBAGE, NOT A MESSAGE")
        .unwrap();
    let mut ended = Vec::new();
    bad.read_to_end(&mut ended)
        .expect("the relay ends the connection");
    let start = Instant::now();
    let through = {
        let rounds = 500;
        let t = Instant::now();
        for i in 0..rounds {
            let body = format!("round {i}");
            let got = c.call(ECHO, &body, None);
            assert_eq!(got.body().deserialize::<String>().unwrap(), body);
        }
        t.elapsed() / rounds
    };
    eprintln!(
        "round trip of a call through the filtering relay: {through:?} ({:?} in all)",
        start.elapsed()
    );
    drop(c);
    let (ino, seen) = bus.join().unwrap();
    assert_eq!(ino, file.metadata().unwrap().ino());
    // Only the filter's ping for the refused call reached the bus besides the echo calls.
    assert!(seen.is_empty(), "{seen:?}");

    // The sandbox's first process gone: the relay ends and removes its socket.
    drop(until_w);
    relay.join().unwrap();
    assert!(!std::path::Path::new(&path).exists());
}
