//! Downloads sent with sendfile(2): the file goes from the page cache to the socket without
//! passing through the process, as nginx sends it. hyper owns the connections it serves, so the
//! connection stays here, a request head at a time: a plain `GET` of a download is answered on
//! the spot; a `GET` or `POST` with a plain body (API calls, media) is answered by the router
//! called as a service, so that a download after it on the same kept-alive connection still goes
//! out with sendfile; anything else (HEAD, chunked or oversized bodies, malformed requests, paced
//! or cut downloads) is handed to hyper with the bytes already read put back in front.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::server::{AppState, STORE_VERSION};

/// A request head larger than this is not a download: hyper answers it.
const MAX_HEAD: usize = 16 << 10;
/// A connection that sends no complete request head in this time is closed.
const HEAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// A request body larger than this goes to hyper (axum's own default limit for a body).
const MAX_BODY: usize = 2 << 20;
/// One sendfile call moves at most this much (Linux caps a call near 2 GiB anyway).
const SENDFILE_CHUNK: usize = 1 << 30;

/// A connection hyper serves: the bytes read while looking at it, then the socket.
pub struct Rewind {
    read: Vec<u8>,
    pos: usize,
    inner: TcpStream,
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos < self.read.len() {
            let n = buf.remaining().min(self.read.len() - self.pos);
            let start = self.pos;
            buf.put_slice(&self.read[start..start + n]);
            self.pos += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The connections left for axum, after downloads were taken out.
pub struct DownloadListener {
    rx: mpsc::Receiver<(Rewind, SocketAddr)>,
    local: SocketAddr,
}

impl axum::serve::Listener for DownloadListener {
    type Io = Rewind;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Rewind, SocketAddr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The acceptor ended (it never does while the listener lives): no more connections.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// Accept on `listener`, answering downloads here and passing everything else on.
pub fn listen(
    listener: TcpListener,
    state: Arc<AppState>,
    app: axum::Router,
) -> io::Result<DownloadListener> {
    let local = listener.local_addr()?;
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let serve = Serve {
                        state: state.clone(),
                        app: app.clone(),
                        tx: tx.clone(),
                    };
                    tokio::spawn(connection(stream, addr, serve));
                }
                Err(e) => {
                    // Out of descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    });
    Ok(DownloadListener { rx, local })
}

/// A download this module answers: the file, its part, and whether the connection stays open.
struct Download {
    path: std::path::PathBuf,
    size: u64,
    range: Option<(u64, u64)>,
    keep_alive: bool,
}

/// What a connection is served with.
struct Serve {
    state: Arc<AppState>,
    app: axum::Router,
    tx: mpsc::Sender<(Rewind, SocketAddr)>,
}

/// Serve the connection's requests here for as long as they are downloads or plain API calls;
/// the first other one hands the connection to hyper.
async fn connection(mut stream: TcpStream, addr: SocketAddr, serve: Serve) {
    let state = &serve.state;
    let direct = state.cdn_url.is_none()
        && state.download_rate.is_none()
        && state.cut_downloads_after.is_none();
    let mut read = Vec::new();
    loop {
        let head_len = if direct {
            match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream, &mut read)).await {
                Ok(Ok(Some(n))) => Some(n),
                Ok(Ok(None)) => None,
                // Gone, or silent for too long, before it asked anything.
                Ok(Err(_)) | Err(_) => return,
            }
        } else {
            None
        };
        let Some(n) = head_len else {
            return hand_over(stream, addr, read, &serve).await;
        };
        let kept = if let Some(download) = download_of(&read[..n], state) {
            read.drain(..n);
            let sent = send(&mut stream, &download).await;
            if let Err(e) = &sent {
                tracing::debug!(error = %e, "a download ended early");
            }
            sent.is_ok() && download.keep_alive
        } else if let Some(call) = call_of(&read[..n]) {
            match answer(&mut stream, &mut read, n, call, &serve.app).await {
                Ok(kept) => kept,
                Err(e) => {
                    tracing::debug!(error = %e, "a connection ended during an API call");
                    false
                }
            }
        } else {
            return hand_over(stream, addr, read, &serve).await;
        };
        if !kept {
            return;
        }
    }
}

/// Give the connection to hyper, the bytes read so far put back in front.
async fn hand_over(stream: TcpStream, addr: SocketAddr, read: Vec<u8>, serve: &Serve) {
    let rewind = Rewind {
        read,
        pos: 0,
        inner: stream,
    };
    let _ = serve.tx.send((rewind, addr)).await;
}

/// Read until the request head is complete. `Some(len)` of the head; `None` when it is not one
/// this module reads (too large, not HTTP) and hyper should; an error when the peer left first.
async fn read_head(stream: &mut TcpStream, read: &mut Vec<u8>) -> io::Result<Option<usize>> {
    loop {
        if let Some(end) = memchr::memmem::find(read, b"\r\n\r\n") {
            return Ok(Some(end + 4));
        }
        if read.len() >= MAX_HEAD {
            return Ok(None);
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return if read.is_empty() {
                Err(io::ErrorKind::UnexpectedEof.into())
            } else {
                Ok(None)
            };
        }
        read.extend_from_slice(&chunk[..n]);
    }
}

/// The download a request head asks for, if it is a plain `GET` of a file the store has with a
/// range it can serve; anything else is for hyper (which also writes the errors).
fn download_of(head: &[u8], state: &AppState) -> Option<Download> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    if !matches!(req.parse(head), Ok(httparse::Status::Complete(_))) {
        return None;
    }
    if req.method != Some("GET") {
        return None;
    }
    let file = req.path?.strip_prefix("/api/v1/snaps/download/")?;
    let (path, size) = state.model.downloads.get(file)?.clone();
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
    };
    if header("Transfer-Encoding").is_some() || header("Content-Length").is_some_and(|l| l != "0") {
        return None; // a body on a GET: let hyper deal with it
    }
    let mut map = axum::http::HeaderMap::new();
    if let Some(r) = header("Range") {
        map.insert(axum::http::header::RANGE, r.parse().ok()?);
    }
    let range = crate::server::parse_range(&map, size).ok()?;
    let connection = header("Connection").unwrap_or("").to_ascii_lowercase();
    let keep_alive = req.version == Some(1) && !connection.contains("close");
    Some(Download {
        path,
        size,
        range,
        keep_alive,
    })
}

/// Write the response head, then the file with sendfile(2).
async fn send(stream: &mut TcpStream, d: &Download) -> io::Result<()> {
    let file = std::fs::File::open(&d.path)?;
    let (status, start, len) = match d.range {
        Some((a, b)) => ("206 Partial Content", a, b - a + 1),
        None => ("200 OK", 0, d.size),
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/octet-stream\r\naccept-ranges: bytes\r\ncontent-length: {len}\r\nsnap-store-version: {STORE_VERSION}\r\ndate: {}\r\n",
        httpdate::fmt_http_date(std::time::SystemTime::now())
    );
    if d.range.is_some() {
        head.push_str(&format!(
            "content-range: bytes {start}-{}/{}\r\n",
            start + len - 1,
            d.size
        ));
    }
    if !d.keep_alive {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    let mut offset = start as libc::off_t;
    let end = (start + len) as libc::off_t;
    while offset < end {
        let want = ((end - offset) as usize).min(SENDFILE_CHUNK);
        stream.writable().await?;
        let sent = stream.try_io(Interest::WRITABLE, || {
            // SAFETY: both descriptors are open for the whole call (the file and the stream are
            // borrowed here), and `offset` is a valid off_t the kernel advances.
            let n =
                unsafe { libc::sendfile(stream.as_raw_fd(), file.as_raw_fd(), &mut offset, want) };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        });
        match sent {
            Ok(0) => {
                // The file shrank since it was indexed: the promised length cannot be sent.
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{} is shorter than indexed", d.path.display()),
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// An API call this module answers: its request without the body, the body's length, and
/// whether the connection stays open after it.
struct Call {
    request: axum::http::request::Builder,
    body_len: usize,
    keep_alive: bool,
}

/// A `GET` or `POST` over HTTP/1.1 with no body or a `Content-Length` one, and nothing that asks
/// more of the connection (`Expect`, `Upgrade`, chunked bodies): those are hyper's.
fn call_of(head: &[u8]) -> Option<Call> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    if !matches!(req.parse(head), Ok(httparse::Status::Complete(_))) {
        return None;
    }
    if !matches!(req.method, Some("GET") | Some("POST")) || req.version != Some(1) {
        return None;
    }
    let mut request = axum::http::Request::builder()
        .method(req.method?)
        .uri(req.path?)
        .version(axum::http::Version::HTTP_11);
    let (mut body_len, mut keep_alive) = (0, true);
    for h in req.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        let value = std::str::from_utf8(h.value).ok();
        match name.as_str() {
            "transfer-encoding" | "expect" | "upgrade" => return None,
            "content-length" => body_len = value?.trim().parse().ok()?,
            "connection" => keep_alive = !value?.to_ascii_lowercase().contains("close"),
            _ => {}
        }
        request = request.header(h.name, h.value);
    }
    if body_len > MAX_BODY {
        return None;
    }
    Some(Call {
        request,
        body_len,
        keep_alive,
    })
}

/// Read the call's body, have the router answer it and write the answer. Whether the connection
/// stays open.
async fn answer(
    stream: &mut TcpStream,
    read: &mut Vec<u8>,
    head_len: usize,
    call: Call,
    app: &axum::Router,
) -> io::Result<bool> {
    use tower::ServiceExt;
    let need = head_len + call.body_len;
    while read.len() < need {
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(HEAD_TIMEOUT, stream.read(&mut chunk))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        read.extend_from_slice(&chunk[..n]);
    }
    let body = read[head_len..need].to_vec();
    read.drain(..need);
    let request = call
        .request
        .body(axum::body::Body::from(body))
        .map_err(io::Error::other)?;
    let Ok(response) = app.clone().oneshot(request).await;
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(io::Error::other)?;
    let status = parts.status;
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (k, v) in &parts.headers {
        if matches!(
            k.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        head.extend_from_slice(k.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(v.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    if !parts.headers.contains_key(axum::http::header::DATE) {
        let date = httpdate::fmt_http_date(std::time::SystemTime::now());
        head.extend_from_slice(format!("date: {date}\r\n").as_bytes());
    }
    // No body, and no length, where HTTP allows none.
    let bodiless = status.is_informational()
        || status == axum::http::StatusCode::NO_CONTENT
        || status == axum::http::StatusCode::NOT_MODIFIED;
    if !bodiless {
        head.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    if !call.keep_alive {
        head.extend_from_slice(b"connection: close\r\n");
    }
    head.extend_from_slice(b"\r\n");
    stream.write_all(&head).await?;
    if !bodiless {
        stream.write_all(&body).await?;
    }
    Ok(call.keep_alive)
}
