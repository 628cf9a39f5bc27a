//! A hostile store (issue 17, finding 10), as an attacker would run it: answers too large to hold,
//! downloads that lie about their size, never end or stall, and redirects to `file:`. Each test
//! runs a small HTTP server that misbehaves on purpose and checks that the helper's store client
//! refuses with a clear error, writes nothing past the signed size and leaves no partial file.
//!
//! The server is hand-written on a TCP socket: a well-behaved HTTP library would not send a
//! `Content-Length` it then breaks, which is the point here. No root needed.

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use snapshelf_helper::error::{Error, ErrorKind};
use snapshelf_helper::store::{partial_path, Limits, StoreClient, StoreError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// What the hostile server does with one request.
#[derive(Clone, Copy)]
enum Behaviour {
    /// 200 announcing `announced` bytes (none if `None`), then `sent` bytes, then close.
    Body { announced: Option<u64>, sent: u64 },
    /// 200 with no length, bytes forever (until the client hangs up).
    Endless,
    /// Headers, `sent` bytes, then nothing while the connection stays open.
    Stall { announced: u64, sent: u64 },
    /// A redirect to this address.
    Redirect(&'static str),
}

struct Hostile {
    url: String,
    /// Requests served, to show that a refusal came before any request.
    requests: Arc<AtomicUsize>,
    /// The largest body this server has sent in one response.
    sent_most: Arc<AtomicU64>,
}

async fn read_head(sock: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if sock.read(&mut byte).await.ok()? == 0 || head.len() > 64 << 10 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// Send `n` bytes of body; false when the client hung up first.
async fn send(sock: &mut TcpStream, n: u64, sent_most: &AtomicU64) -> bool {
    let chunk = [b' '; 16 << 10];
    let mut left = n;
    while left > 0 {
        let k = left.min(chunk.len() as u64) as usize;
        if sock.write_all(&chunk[..k]).await.is_err() {
            return false;
        }
        left -= k as u64;
        sent_most.fetch_max(n - left, Ordering::Relaxed);
    }
    true
}

async fn serve_one(mut sock: TcpStream, b: Behaviour, sent_most: Arc<AtomicU64>) {
    if read_head(&mut sock).await.is_none() {
        return;
    }
    match b {
        Behaviour::Body { announced, sent } => {
            let length = announced
                .map(|n| format!("Content-Length: {n}\r\n"))
                .unwrap_or_default();
            let head = format!("HTTP/1.1 200 OK\r\n{length}Connection: close\r\n\r\n");
            if sock.write_all(head.as_bytes()).await.is_ok() {
                send(&mut sock, sent, &sent_most).await;
            }
        }
        Behaviour::Endless => {
            let head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
            if sock.write_all(head.as_bytes()).await.is_ok() {
                send(&mut sock, u64::MAX, &sent_most).await;
            }
        }
        Behaviour::Stall { announced, sent } => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {announced}\r\n\r\n");
            if sock.write_all(head.as_bytes()).await.is_ok()
                && send(&mut sock, sent, &sent_most).await
            {
                tokio::time::sleep(Duration::from_secs(600)).await;
            }
        }
        Behaviour::Redirect(to) => {
            let head = format!(
                "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = sock.write_all(head.as_bytes()).await;
        }
    }
    let _ = sock.shutdown().await;
}

async fn hostile(b: Behaviour) -> Hostile {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let sent_most = Arc::new(AtomicU64::new(0));
    let (r, s) = (requests.clone(), sent_most.clone());
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            r.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(serve_one(sock, b, s.clone()));
        }
    });
    Hostile {
        url,
        requests,
        sent_most,
    }
}

fn client(url: &str, limits: Limits) -> StoreClient {
    StoreClient::with_limits(url, limits).unwrap()
}

fn small_limits() -> Limits {
    Limits {
        max_json: 64 << 10,
        read_timeout: Duration::from_millis(800),
        ..Limits::default()
    }
}

/// Download `size` signed bytes from the hostile server into `dir`; the error, the largest
/// progress the client reported, and whether anything was left on disk.
async fn download(h: &Hostile, dir: &Path, size: u64, limits: Limits) -> (StoreError, u64, bool) {
    let dest = dir.join("x_1.snap");
    let most = Arc::new(AtomicU64::new(0));
    let m = most.clone();
    let progress = move |done: u64, _total: u64| {
        m.fetch_max(done, Ordering::Relaxed);
    };
    let e = client(&h.url, limits)
        .download(
            &format!("{}/api/v1/snaps/download/x_1.snap", h.url),
            &dest,
            size,
            &CancellationToken::new(),
            &progress,
        )
        .await
        .expect_err("a hostile download must fail");
    let left = dest.exists() || partial_path(&dest).exists();
    (e, most.load(Ordering::Relaxed), left)
}

/// A refusal whose message says all of `says`, reported over D-Bus as a store error.
fn refused(e: StoreError, says: &[&str]) {
    let text = e.to_string();
    assert!(
        matches!(e, StoreError::Refused { .. }) && says.iter().all(|s| text.contains(s)),
        "expected a refusal saying {says:?}, got: {text}"
    );
    assert_eq!(Error::from(e).kind, ErrorKind::StoreError);
}

#[tokio::test]
async fn an_answer_announcing_more_than_the_cap_is_refused_unread() {
    let h = hostile(Behaviour::Body {
        announced: Some(1 << 40),
        sent: 1 << 20,
    })
    .await;
    let e = client(&h.url, Limits::default())
        .info("hello")
        .await
        .unwrap_err();
    refused(e, &["larger than 33554432 bytes", "answer to info"]);
    assert_eq!(
        h.requests.load(Ordering::Relaxed),
        1,
        "refused at once, not retried"
    );
}

#[tokio::test]
async fn an_answer_without_a_length_is_cut_at_the_cap() {
    for b in [
        Behaviour::Body {
            announced: None,
            sent: 5 << 20,
        },
        Behaviour::Endless,
    ] {
        let h = hostile(b).await;
        let started = Instant::now();
        let c = client(&h.url, small_limits());
        let cap = "larger than 65536";
        refused(c.find("x", None).await.unwrap_err(), &[cap, "find"]);
        refused(
            c.snap_action(&[], &[]).await.unwrap_err(),
            &[cap, "refresh"],
        );
        refused(c.categories().await.unwrap_err(), &[cap, "categories"]);
        // Assertion streams have a cap of their own.
        let e = c.assertion("account", &["x"]).await.unwrap_err();
        refused(e, &["larger than 4194304", "account assertion"]);
        assert!(started.elapsed() < Duration::from_secs(20));
    }
}

#[tokio::test]
async fn redirects_to_other_schemes_are_refused() {
    // `file:///…` has no host: reqwest cannot follow it at all. `ftp://host/…` is one it could
    // follow, and the redirect policy refuses.
    for to in ["file:///etc/shadow", "ftp://127.0.0.1/etc/shadow"] {
        let h = hostile(Behaviour::Redirect(to)).await;
        let c = client(&h.url, Limits::default());
        let e = c.find("x", None).await.unwrap_err();
        refused(e, &[to, "not an HTTP(S) address"]);
        let e = c.assertion("account", &["x"]).await.unwrap_err();
        refused(e, &[to, "not an HTTP(S) address"]);
        assert_eq!(h.requests.load(Ordering::Relaxed), 2, "{to}: none retried");

        let dir = tempfile::tempdir().unwrap();
        let (e, _, left) = download(&h, dir.path(), 1000, Limits::default()).await;
        refused(e, &[to, "not an HTTP(S) address"]);
        assert!(!left, "{to}: nothing written");
    }
}

#[tokio::test]
async fn a_download_address_that_is_not_http_is_never_fetched() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("x_1.snap");
    for url in [
        "file:///etc/shadow",
        "ftp://example.com/x.snap",
        "not a url",
    ] {
        let e = client("http://127.0.0.1:9", Limits::default())
            .download(url, &dest, 10, &CancellationToken::new(), &|_, _| {})
            .await
            .unwrap_err();
        refused(e, &[url]);
        assert!(!dest.exists() && !partial_path(&dest).exists());
    }
}

#[tokio::test]
async fn a_download_announcing_more_than_its_signed_size_is_refused_before_writing() {
    let h = hostile(Behaviour::Body {
        announced: Some(10 << 20),
        sent: 10 << 20,
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (e, progressed, left) = download(&h, dir.path(), 1000, Limits::default()).await;
    refused(e, &["announces 10485760 bytes", "the file is 1000 bytes"]);
    assert_eq!(progressed, 0, "not a byte taken in");
    assert!(!left, "no partial file");
    assert_eq!(h.requests.load(Ordering::Relaxed), 1, "not retried");
}

#[tokio::test]
async fn a_download_that_never_ends_is_cut_at_its_signed_size() {
    let h = hostile(Behaviour::Endless).await;
    let dir = tempfile::tempdir().unwrap();
    let signed = 300_000;
    let (e, progressed, left) = download(&h, dir.path(), signed, Limits::default()).await;
    refused(e, &["sent more than the 300000 bytes the file has"]);
    assert!(progressed <= signed, "wrote {progressed} of {signed}");
    assert!(!left, "the partial file is removed");
}

#[tokio::test]
async fn a_download_that_lies_short_gives_up_and_removes_the_partial_file() {
    let h = hostile(Behaviour::Body {
        announced: Some(200_000),
        sent: 50_000,
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (e, progressed, left) = download(&h, dir.path(), 200_000, Limits::default()).await;
    assert!(
        e.to_string()
            .contains("keeps breaking off at 50000 of the file's 200000 bytes"),
        "{e}"
    );
    assert_eq!(progressed, 50_000);
    assert!(!left, "the partial file is removed");
    assert!(h.requests.load(Ordering::Relaxed) <= 7, "bounded retries");
}

#[tokio::test]
async fn a_stalled_download_is_given_up_and_removes_the_partial_file() {
    let h = hostile(Behaviour::Stall {
        announced: 100_000,
        sent: 0,
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (e, _, left) = download(&h, dir.path(), 100_000, small_limits()).await;
    assert!(e.to_string().contains("keeps breaking off at 0 of"), "{e}");
    assert!(!left, "nothing left behind");
    // Three attempts with no byte, each waited on for the read timeout, then backoff.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn free_space_is_checked_before_a_download_starts() {
    let h = hostile(Behaviour::Body {
        announced: Some(10),
        sent: 10,
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    // More than any disk this runs on has.
    let signed = 1 << 60;
    let (e, _, left) = download(&h, dir.path(), signed, Limits::default()).await;
    assert!(matches!(e, StoreError::NoSpace { .. }), "{e}");
    assert!(
        e.to_string().contains("not enough free space in")
            && e.to_string().contains(&dir.path().display().to_string()),
        "{e}"
    );
    assert_eq!(Error::from(e).kind, ErrorKind::InsufficientSpace);
    assert_eq!(
        h.requests.load(Ordering::Relaxed),
        0,
        "checked before asking"
    );
    assert!(!left);
    assert_eq!(h.sent_most.load(Ordering::Relaxed), 0);
}

mod common;

/// A store that lies about sizes in its JSON, run as a proxy in front of the real one: every
/// refresh result's download size is multiplied by four (a store filling the disk), and download
/// addresses point back at the proxy so that it counts them.
struct SizeLiar {
    upstream: String,
    me: std::sync::OnceLock<String>,
    downloads: AtomicUsize,
}

impl common::proxy::Rewrite for SizeLiar {
    fn request(&self, path: &str, body: Vec<u8>) -> Vec<u8> {
        if path.starts_with("/api/v1/snaps/download/") {
            self.downloads.fetch_add(1, Ordering::Relaxed);
        }
        body
    }

    fn answer(&self, path: &str, answer: &mut serde_json::Value) {
        if !path.starts_with("/v2/snaps/refresh") {
            return;
        }
        let me = self
            .me
            .get()
            .expect("the proxy's address is set before the helper starts");
        for r in answer["results"].as_array_mut().into_iter().flatten() {
            let Some(d) = r.pointer_mut("/snap/download") else {
                continue;
            };
            d["size"] = (d["size"].as_u64().unwrap() * 4).into();
            let url = d["url"].as_str().unwrap().replacen(&self.upstream, me, 1);
            d["url"] = url.into();
        }
    }
}

fn lying_proxy(upstream: String) -> (String, Arc<SizeLiar>) {
    let liar = Arc::new(SizeLiar {
        upstream: upstream.clone(),
        me: std::sync::OnceLock::new(),
        downloads: AtomicUsize::new(0),
    });
    let me = common::proxy::start(upstream, liar.clone());
    liar.me.set(me.clone()).unwrap();
    (me, liar)
}

/// The whole helper against a store whose JSON lies about a file's size: the install fails as a
/// verification failure naming the signed size, before anything is downloaded or written.
#[test]
fn the_helper_downloads_nothing_a_signed_size_does_not_back() {
    if !common::require_root() {
        return;
    }
    let mut env = common::Env::new();
    let (proxy, liar) = lying_proxy(env.store_url.clone());
    env.store_url = proxy;
    env.start_helper();
    let change = env
        .proxy()
        .install(&["shelf-hello"], snapshelf_dbus::types::Dict::new())
        .unwrap();
    let (status, kind, err) = env.wait_change(change.as_str());
    assert_eq!(
        (status.as_str(), kind.as_str()),
        ("Error", "verification-failed"),
        "{err}"
    );
    assert!(err.contains("its signed snap-revision says"), "{err}");
    assert_eq!(
        liar.downloads.load(Ordering::Relaxed),
        0,
        "nothing was fetched"
    );
    assert!(common::installed(&env).is_empty());
    let blobs = env.root.join("var/lib/snapshelf/snaps");
    let left: Vec<_> = std::fs::read_dir(&blobs)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "files left behind: {left:?}");
}
