//! A proxy in front of the real `snapshelf-store`, for tests that need the store to answer as the
//! real Snap Store does (or as a liar would): every request is relayed, and a test's [`Rewrite`]
//! may change a request's body and every successful JSON answer on the way.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a test does to the traffic. Both default to passing it through.
pub trait Rewrite: Send + Sync + 'static {
    /// The body of a request to `path`, as the store should see it.
    fn request(&self, _path: &str, body: Vec<u8>) -> Vec<u8> {
        body
    }
    /// A successful JSON answer to `path`, as the helper should see it.
    fn answer(&self, _path: &str, _answer: &mut serde_json::Value) {}
    /// Told of every answer relayed: its path and body size (tests that count the bytes fetched).
    fn relayed(&self, _path: &str, _bytes: usize) {}
}

/// Start the proxy on 127.0.0.1 on a thread of its own; its base URL.
pub fn start(upstream: String, rewrite: Arc<dyn Rewrite>) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(format!("http://{}", listener.local_addr().unwrap()))
                .unwrap();
            let http = reqwest::Client::new();
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(relay(sock, http.clone(), upstream.clone(), rewrite.clone()));
            }
        });
    });
    rx.recv().unwrap()
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

/// Relay one request (the answer says `Connection: close`).
async fn relay(
    mut sock: TcpStream,
    http: reqwest::Client,
    upstream: String,
    rewrite: Arc<dyn Rewrite>,
) {
    let Some(head) = read_head(&mut sock).await else {
        return;
    };
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let (method, path) = (first.next().unwrap_or("GET"), first.next().unwrap_or("/"));
    let mut req = http.request(method.parse().unwrap(), format!("{upstream}{path}"));
    let mut length = 0;
    for (k, v) in lines.filter_map(|l| l.split_once(':')) {
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("content-length") {
            length = v.parse().unwrap();
        } else if !k.eq_ignore_ascii_case("host") && !k.eq_ignore_ascii_case("connection") {
            req = req.header(k, v);
        }
    }
    let mut body = vec![0u8; length];
    if sock.read_exact(&mut body).await.is_err() {
        return;
    }
    let body = rewrite.request(path, body);
    let Ok(resp) = req.body(body).send().await else {
        return;
    };
    let status = resp.status();
    let kind = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let mut bytes = resp.bytes().await.unwrap().to_vec();
    if kind.contains("json") && status.is_success() {
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        rewrite.answer(path, &mut v);
        bytes = serde_json::to_vec(&v).unwrap();
    }
    rewrite.relayed(path, bytes.len());
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or(""),
        bytes.len()
    );
    let _ = sock.write_all(head.as_bytes()).await;
    let _ = sock.write_all(&bytes).await;
    let _ = sock.shutdown().await;
}

/// A refresh request's body with its `refresh` actions asking for `channel` (the snaps' other
/// revisions, published there), for a test's [`Rewrite::request`].
pub fn refresh_actions_on(body: Vec<u8>, channel: &str) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    for a in v["actions"].as_array_mut().into_iter().flatten() {
        if a["action"] == "refresh" {
            a["channel"] = channel.into();
        }
    }
    serde_json::to_vec(&v).unwrap()
}
