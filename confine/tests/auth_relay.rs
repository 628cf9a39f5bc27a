//! The relay in front of the bus proxy (confine/src/auth_relay.rs), between a client and a
//! stand-in for the proxy, in this process: a pipelined handshake (sd-bus's first write) reaches
//! the proxy's side without `BEGIN` until its three commands are answered, then `BEGIN` and the
//! first message; after it, bytes and descriptors pass unchanged, and the relay's sockets go
//! when the sandbox's first process (here: a pipe's write end) is gone. Its own test binary: the
//! relay changes the process's working directory.

use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags};
use snapshelf_confine::auth_relay;

/// Read from `s` until `want` bytes came (or fail after a while).
fn read_n(s: &mut UnixStream, want: usize) -> Vec<u8> {
    let mut got = vec![0u8; want];
    s.read_exact(&mut got).unwrap();
    got
}

/// The stand-in proxy: checks the handshake as it arrives, answers it, then echoes what comes,
/// reporting the inode of the one descriptor it gets.
fn proxy(listener: UnixListener) -> u64 {
    let (mut s, _) = listener.accept().unwrap();
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
    assert_eq!(read_n(&mut s, 12), b"BEGIN\r\nHELLO");
    // A descriptor with the next bytes.
    let mut buf = [0u8; 8];
    let mut space = nix::cmsg_space!([RawFd; 2]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = socket::recvmsg::<()>(s.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::empty())
        .unwrap();
    let mut ino = 0;
    for cmsg in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            let f = std::fs::File::from(unsafe_owned(fds[0]));
            ino = f.metadata().unwrap().ino();
        }
    }
    assert_eq!(msg.bytes, 4);
    assert_eq!(&buf[..4], b"FD!!");
    // Echo until the client is done.
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).unwrap();
        if n == 0 {
            return ino;
        }
        s.write_all(&chunk[..n]).unwrap();
    }
}

fn unsafe_owned(fd: RawFd) -> OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: a descriptor the kernel just passed to this process, owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Mean round trip of `rounds` 128-byte messages on `s` (echoed by the other side).
fn round_trip(s: &mut UnixStream, rounds: u32) -> Duration {
    let msg = [7u8; 128];
    let start = Instant::now();
    for _ in 0..rounds {
        s.write_all(&msg).unwrap();
        assert_eq!(read_n(s, msg.len()), msg);
    }
    start.elapsed() / rounds
}

#[test]
fn a_pipelined_handshake_waits_for_its_answers_then_everything_passes() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = dir.path().to_str().unwrap().to_string();
    let dirfd = OwnedFd::from(std::fs::File::open(dir.path()).unwrap());
    let listener = UnixListener::bind(dir.path().join("proxy")).unwrap();
    let proxy = std::thread::spawn(move || proxy(listener));
    let path = auth_relay::prepare(dirfd.as_fd(), &runtime, "relay.1", "proxy").unwrap();
    assert_eq!(path, format!("{runtime}/relay.1"));
    let (until_r, until_w) = nix::unistd::pipe().unwrap();
    let relay = std::thread::spawn(move || auth_relay::serve_until(until_r.as_fd()));

    let mut c = UnixStream::connect(&path).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // sd-bus's first write, with the start of its first message.
    c.write_all(b"\0AUTH EXTERNAL\r\nDATA\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\nHELLO")
        .unwrap();
    let answers = b"DATA\r\nOK 0123456789abcdef\r\nAGREE_UNIX_FD\r\n";
    assert_eq!(read_n(&mut c, answers.len()), answers);
    let file = std::fs::File::open("/proc/self/exe").unwrap();
    let raw = [file.as_raw_fd()];
    let rights = [ControlMessage::ScmRights(&raw)];
    let iov = [IoSlice::new(b"FD!!")];
    socket::sendmsg::<()>(c.as_raw_fd(), &iov, &rights, MsgFlags::empty(), None).unwrap();
    let through = round_trip(&mut c, 2000);
    drop(c);
    assert_eq!(proxy.join().unwrap(), file.metadata().unwrap().ino());

    // The same round trips on a direct connection, for the cost of the relay's hop.
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let echo = std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = b.read(&mut chunk) {
            if n == 0 || b.write_all(&chunk[..n]).is_err() {
                return;
            }
        }
    });
    let direct = round_trip(&mut a, 2000);
    drop(a);
    echo.join().unwrap();
    eprintln!("round trip of 128 bytes: {through:?} through the relay, {direct:?} direct");

    // The sandbox's first process gone: the relay ends and removes its socket.
    drop(until_w);
    relay.join().unwrap();
    assert!(!std::path::Path::new(&path).exists());
}
