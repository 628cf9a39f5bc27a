//! Downloads go out with sendfile(2) on any connection, also one kept alive that already carried
//! API calls: the store is run under `strace -f -e trace=sendfile`, and every byte of the
//! downloads on such a connection must have gone through sendfile, the answers in order.

mod common;

use common::read_response;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

/// The bytes sendfile(2) calls moved, from strace's log (`sendfile(…) = N` lines).
fn sendfile_bytes(log: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains("sendfile("))
        .filter_map(|l| {
            l.rsplit_once(" = ")?
                .1
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[test]
fn downloads_after_api_calls_on_a_kept_alive_connection_use_sendfile() {
    if Command::new("strace").arg("-V").output().is_err() {
        snapshelf_snap::testdata::record_skip(
            "downloads_after_api_calls_on_a_kept_alive_connection_use_sendfile",
            "strace is not installed (Debian package strace)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    common::sample_catalog(dir.path());
    let log = dir.path().join("strace.log");
    let mut strace = Command::new("strace");
    strace
        .args(["-f", "-qq", "-e", "trace=sendfile", "-o"])
        .arg(&log)
        .arg(common::BIN);
    let mut server = common::serve_under(strace, dir.path(), &[], Stdio::inherit());
    let addr = server.url.strip_prefix("http://").unwrap().to_string();

    let stream = TcpStream::connect(&addr).unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    // An API call first: before, it handed the whole connection to axum.
    write!(
        w,
        "GET /v2/snaps/info/shelf-hello HTTP/1.1\r\nHost: {addr}\r\nSnap-Device-Series: 16\r\n\r\n"
    )
    .unwrap();
    let (status, headers, body) = read_response(&mut r);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.iter().any(|(k, _)| k == "snap-store-version"),
        "{headers:?}"
    );
    let info: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let url = info["channel-map"][0]["download"]["url"].as_str().unwrap();
    let path = url
        .split_once("//")
        .unwrap()
        .1
        .split_once('/')
        .unwrap()
        .1
        .to_string();
    let whole = std::fs::read(dir.path().join("snaps/shelf-hello_1.snap")).unwrap();

    write!(w, "GET /{path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let (status, _, body) = read_response(&mut r);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body == whole, "the download's bytes are the file's");
    // A POST with a body, then a range of the file, still on the same connection.
    let refresh = br#"{"context":[],"actions":[{"action":"install","instance-key":"i","name":"shelf-hello","channel":"stable"}],"fields":["revision"]}"#;
    write!(
        w,
        "POST /v2/snaps/refresh HTTP/1.1\r\nHost: {addr}\r\nSnap-Device-Series: 16\r\n\
         Snap-Device-Architecture: amd64\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        refresh.len()
    )
    .unwrap();
    w.write_all(refresh).unwrap();
    let (status, _, body) = read_response(&mut r);
    assert_eq!(
        status,
        "HTTP/1.1 200 OK",
        "{}",
        String::from_utf8_lossy(&body)
    );
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["results"][0]["snap"]["revision"], 1, "{v}");
    write!(
        w,
        "GET /{path} HTTP/1.1\r\nHost: {addr}\r\nRange: bytes=100-1123\r\n\r\n"
    )
    .unwrap();
    let (status, _, body) = read_response(&mut r);
    assert_eq!(status, "HTTP/1.1 206 Partial Content");
    assert!(body == whole[100..1124], "the range's bytes");
    // Asked to close, the store answers and closes.
    write!(w, "GET /v2/snaps/categories HTTP/1.1\r\nHost: {addr}\r\nSnap-Device-Series: 16\r\nConnection: close\r\n\r\n").unwrap();
    let (status, headers, _) = read_response(&mut r);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains(&("connection".into(), "close".into())),
        "{headers:?}"
    );
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "nothing after the last answer");

    // The store (strace's child) told to stop; strace writes its log out and ends with it.
    let children = format!("/proc/{0}/task/{0}/children", server.pid());
    let store: i32 = std::fs::read_to_string(children)
        .unwrap()
        .split_whitespace()
        .next()
        .expect("strace runs the store")
        .parse()
        .unwrap();
    // SAFETY: a signal to the process this test started (through strace).
    unsafe { libc::kill(store, libc::SIGTERM) };
    server.wait();
    let traced = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        sendfile_bytes(&traced),
        whole.len() as u64 + 1024,
        "every downloaded byte went through sendfile:\n{traced}"
    );
}
