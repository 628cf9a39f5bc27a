//! The store client: the Snap Store API v2 subset as snapd speaks it (headers, request bodies),
//! with retries and backoff, and downloads that resume and hash while they stream.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use snapshelf_snap::digest::{Hasher, Sha3_384};
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

/// snapd's `defaultRetryStrategy`: up to 6 attempts, exponential from 0.5 s, factor 2.5.
const API_ATTEMPTS: u32 = 6;
/// Attempts of an API call when no connection can be made at all.
const CONNECT_ATTEMPTS: u32 = 2;
/// Downloads retry more (snapd: 7 attempts within 90 s).
const DOWNLOAD_ATTEMPTS: u32 = 7;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Icons bigger than this are refused, as snapd does.
pub const MAX_ICON_SIZE: u64 = 300_000;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached, or the connection broke, after every retry.
    #[error("cannot reach the store at {url}: {message}")]
    Network { url: String, message: String },
    /// The store answered with an error it named.
    #[error("the store said: {message} ({code})")]
    Store { code: String, message: String },
    #[error("snap {0:?} not found in the store")]
    NotFound(String),
    #[error("the store answered {status} for {url}")]
    Http { status: u16, url: String },
    #[error("the store's answer to {what} is malformed: {message}")]
    Malformed { what: String, message: String },
    #[error("cancelled")]
    Cancelled,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What snapd tells the store about one installed snap.
#[derive(Debug, Clone)]
pub struct ContextEntry {
    pub snap_id: String,
    pub revision: u32,
    pub tracking_channel: String,
    pub held: bool,
}

#[derive(Debug, Clone)]
pub enum Action {
    Install {
        name: String,
        channel: Option<String>,
        revision: Option<u32>,
    },
    Refresh {
        snap_id: String,
        channel: Option<String>,
    },
}

/// One per-item answer of `POST /v2/snaps/refresh`.
#[derive(Debug, Clone)]
pub enum ActionResult {
    Ok {
        name: String,
        snap_id: String,
        effective_channel: Option<String>,
        snap: Value,
    },
    Error {
        name: Option<String>,
        snap_id: Option<String>,
        code: String,
        message: String,
        /// Channels that do have a revision (`revision-not-found`).
        releases: Vec<String>,
    },
}

#[derive(Clone)]
pub struct StoreClient {
    base: String,
    http: reqwest::Client,
    architecture: String,
}

/// The dpkg name of this machine's architecture, as the store expects it.
pub fn dpkg_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "armhf",
        "x86" => "i386",
        "powerpc64" => "ppc64el",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

fn retryable_status(status: reqwest::StatusCode) -> bool {
    status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS
}

fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF.mul_f64(2.5f64.powi(attempt as i32))
}

/// The message of the first entry of an `error-list`, if the body has one.
fn error_list(body: &Value) -> Option<(String, String)> {
    let e = body.get("error-list")?.as_array()?.first()?;
    Some((
        e.get("code")?.as_str()?.to_string(),
        e.get("message")?.as_str().unwrap_or("").to_string(),
    ))
}

impl StoreClient {
    pub fn new(base: &str) -> Result<Self, StoreError> {
        let http = reqwest::Client::builder()
            .user_agent(format!(
                "snapshelf/{} (series 16; classic) linux ({})",
                env!("CARGO_PKG_VERSION"),
                dpkg_architecture()
            ))
            .connect_timeout(REQUEST_TIMEOUT)
            // A stalled transfer is retried (and resumed) rather than waited on forever.
            .read_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| StoreError::Network {
                url: base.to_string(),
                message: e.to_string(),
            })?;
        Ok(StoreClient {
            base: base.trim_end_matches('/').to_string(),
            http,
            architecture: dpkg_architecture().to_string(),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn v2(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.header("Snap-Device-Series", "16")
            .header("Snap-Device-Architecture", &self.architecture)
            .header("Snap-Classic", "true")
            .header("Snap-Device-Capabilities", "default-tracks")
            .header("Accept", "application/json")
            .timeout(REQUEST_TIMEOUT)
    }

    /// Send with retries on connection errors, 5xx and 429; returns the final status and body.
    async fn send_json(
        &self,
        what: &str,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, Value), StoreError> {
        let mut last = String::new();
        for attempt in 0..API_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt - 1)).await;
            }
            match make().send().await {
                Ok(resp) if retryable_status(resp.status()) => {
                    last = format!("HTTP {}", resp.status());
                    tracing::debug!(what, status = %resp.status(), attempt, "store busy; retrying");
                }
                Ok(resp) => {
                    let status = resp.status();
                    let bytes = resp.bytes().await.map_err(|e| StoreError::Network {
                        url: self.base.clone(),
                        message: e.to_string(),
                    })?;
                    let body: Value =
                        serde_json::from_slice(&bytes).map_err(|e| StoreError::Malformed {
                            what: what.to_string(),
                            message: format!("HTTP {status}, not JSON: {e}"),
                        })?;
                    return Ok((status, body));
                }
                Err(e) => {
                    last = e.to_string();
                    // No connection at all (refused, no route, no name) is an offline machine or
                    // a store that is down, not a hiccup: one quick retry, then the caller answers
                    // from local state instead of making a person wait half a minute.
                    if e.is_connect() && attempt + 1 >= CONNECT_ATTEMPTS {
                        break;
                    }
                    tracing::debug!(what, error = %e, attempt, "store unreachable; retrying");
                }
            }
        }
        Err(StoreError::Network {
            url: self.base.clone(),
            message: last,
        })
    }

    fn check(status: reqwest::StatusCode, body: &Value, url: &str) -> Result<(), StoreError> {
        if status.is_success() {
            return Ok(());
        }
        match error_list(body) {
            Some((code, message)) => Err(StoreError::Store { code, message }),
            None => Err(StoreError::Http {
                status: status.as_u16(),
                url: url.to_string(),
            }),
        }
    }

    /// `GET /v2/snaps/info/<name>`; an unknown snap (404, or an empty channel-map) is `NotFound`.
    pub async fn info(&self, name: &str) -> Result<Value, StoreError> {
        let url = format!("{}/v2/snaps/info/{}", self.base, urlencode(name));
        let (status, body) = self
            .send_json("info", || {
                self.v2(self.http.get(&url))
                    .query(&[("architecture", self.architecture.as_str())])
            })
            .await?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(StoreError::NotFound(name.to_string()));
        }
        Self::check(status, &body, &url)?;
        if body["channel-map"].as_array().is_none_or(|m| m.is_empty()) {
            return Err(StoreError::NotFound(name.to_string()));
        }
        Ok(body)
    }

    /// `GET /v2/snaps/find`: `query` empty lists a category (or the featured snaps).
    pub async fn find(
        &self,
        query: &str,
        category: Option<&str>,
    ) -> Result<Vec<Value>, StoreError> {
        let url = format!("{}/v2/snaps/find", self.base);
        let mut params: Vec<(&str, &str)> = vec![("architecture", &self.architecture)];
        if !query.is_empty() {
            params.push(("q", query));
        }
        match category {
            Some(c) => params.push(("category", c)),
            None if query.is_empty() => params.push(("category", "featured")),
            None => {}
        }
        let (status, body) = self
            .send_json("find", || self.v2(self.http.get(&url)).query(&params))
            .await?;
        Self::check(status, &body, &url)?;
        body["results"]
            .as_array()
            .cloned()
            .ok_or_else(|| StoreError::Malformed {
                what: "find".into(),
                message: "no results list".into(),
            })
    }

    pub async fn categories(&self) -> Result<Vec<String>, StoreError> {
        let url = format!("{}/v2/snaps/categories", self.base);
        let (status, body) = self
            .send_json("categories", || self.v2(self.http.get(&url)))
            .await?;
        Self::check(status, &body, &url)?;
        Ok(body["categories"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect())
    }

    /// `POST /v2/snaps/refresh` with snapd's body: `context` (never null), `actions`, `fields`.
    pub async fn snap_action(
        &self,
        context: &[ContextEntry],
        actions: &[Action],
    ) -> Result<Vec<ActionResult>, StoreError> {
        let url = format!("{}/v2/snaps/refresh", self.base);
        let ctx: Vec<Value> = context
            .iter()
            .map(|c| {
                let mut v = json!({
                    "snap-id": c.snap_id,
                    "instance-key": c.snap_id,
                    "revision": c.revision,
                    "tracking-channel": c.tracking_channel,
                    "epoch": {"read": [0], "write": [0]},
                });
                if c.held {
                    v["held"] = json!({"by": ["snapshelf"]});
                }
                v
            })
            .collect();
        let acts: Vec<Value> = actions
            .iter()
            .enumerate()
            .map(|(i, a)| match a {
                Action::Install {
                    name,
                    channel,
                    revision,
                } => {
                    let mut v = json!({
                        "action": "install",
                        "instance-key": format!("install-{}", i + 1),
                        "name": name,
                        // Tells the store we understand epochs, as snapd does.
                        "epoch": null,
                    });
                    if let Some(c) = channel {
                        v["channel"] = json!(c);
                    }
                    if let Some(r) = revision {
                        v["revision"] = json!(r);
                    }
                    v
                }
                Action::Refresh { snap_id, channel } => {
                    let mut v = json!({
                        "action": "refresh",
                        "instance-key": snap_id,
                        "snap-id": snap_id,
                    });
                    if let Some(c) = channel {
                        v["channel"] = json!(c);
                    }
                    v
                }
            })
            .collect();
        let body = json!({
            "context": ctx,
            "actions": acts,
            "fields": [
                "architectures", "base", "confinement", "contact", "created-at", "description",
                "download", "epoch", "license", "links", "media", "name", "prices", "private",
                "publisher", "revision", "snap-id", "snap-yaml", "summary", "title", "type",
                "version", "website", "store-url", "common-ids", "categories",
            ],
        });
        let (status, resp) = self
            .send_json("refresh", || {
                self.v2(self.http.post(&url))
                    .header("Content-Type", "application/json")
                    .json(&body)
            })
            .await?;
        Self::check(status, &resp, &url)?;
        let results = resp["results"]
            .as_array()
            .ok_or_else(|| StoreError::Malformed {
                what: "refresh".into(),
                message: "no results list".into(),
            })?;
        Ok(results.iter().map(parse_action_result).collect())
    }

    /// `GET /v2/assertions/<type>/<key…>`: an assertion stream.
    pub async fn assertion(&self, kind: &str, key: &[&str]) -> Result<Vec<u8>, StoreError> {
        let path: Vec<String> = key.iter().map(|k| urlencode(k)).collect();
        let url = format!("{}/v2/assertions/{}/{}", self.base, kind, path.join("/"));
        let mut last = String::new();
        for attempt in 0..API_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt - 1)).await;
            }
            let sent = self
                .http
                .get(&url)
                .header("Snap-Device-Series", "16")
                .header("Accept", "application/x.ubuntu.assertion")
                .timeout(REQUEST_TIMEOUT)
                .send()
                .await;
            match sent {
                Ok(resp) if retryable_status(resp.status()) => {
                    last = format!("HTTP {}", resp.status())
                }
                Ok(resp) if resp.status() == reqwest::StatusCode::NOT_FOUND => {
                    return Err(StoreError::Store {
                        code: "not-found".into(),
                        message: format!("no {kind} assertion {}", key.join("/")),
                    })
                }
                Ok(resp) if !resp.status().is_success() => {
                    return Err(StoreError::Http {
                        status: resp.status().as_u16(),
                        url,
                    })
                }
                Ok(resp) => match resp.bytes().await {
                    Ok(b) => return Ok(b.to_vec()),
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = e.to_string(),
            }
        }
        Err(StoreError::Network { url, message: last })
    }

    /// Download `url` into `dest`, through `dest.partial` (0600), resuming what a partial file holds,
    /// hashing while the bytes stream. `progress(done, total)` is called as bytes arrive. On success the
    /// partial file is fsynced and renamed to `dest`; the digest and size are returned for the caller
    /// to check against the assertion. A hash mismatch is not detected here (the caller knows the
    /// expected digest): see [`StoreClient::download_verified`].
    pub async fn download(
        &self,
        url: &str,
        dest: &Path,
        expected_size: u64,
        cancel: &CancellationToken,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<(Sha3_384, u64), StoreError> {
        let partial = partial_path(dest);
        let mut last = String::new();
        let partial_len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        // Attempts in a row that brought no new byte: a file shorter than the store claims, or a
        // store that keeps failing at the same place. Retrying those only wastes minutes.
        let mut stalled = 0;
        for attempt in 0..DOWNLOAD_ATTEMPTS {
            if attempt > 0 {
                tokio::select! {
                    _ = cancel.cancelled() => return Err(StoreError::Cancelled),
                    _ = tokio::time::sleep(backoff(attempt - 1)) => {}
                }
            }
            let before = partial_len(&partial);
            match self
                .download_once(url, &partial, expected_size, cancel, progress)
                .await
            {
                Ok(done) => {
                    let synced = std::time::Instant::now();
                    let file = tokio::fs::OpenOptions::new()
                        .write(true)
                        .open(&partial)
                        .await
                        .map_err(io(&partial))?;
                    file.sync_all().await.map_err(io(&partial))?;
                    tracing::debug!(ms = synced.elapsed().as_millis() as u64, "download synced");
                    tokio::fs::rename(&partial, dest).await.map_err(io(dest))?;
                    if let Some(dir) = dest.parent() {
                        if let Ok(d) = tokio::fs::File::open(dir).await {
                            let _ = d.sync_all().await;
                        }
                    }
                    return Ok(done);
                }
                Err(DownloadFailure::Fatal(e)) => return Err(e),
                Err(DownloadFailure::Retry(msg)) => {
                    tracing::info!(url, attempt, error = %msg, "download interrupted; resuming");
                    let now = partial_len(&partial);
                    stalled = if now > before { 0 } else { stalled + 1 };
                    if stalled >= 3 {
                        let _ = std::fs::remove_file(&partial);
                        return Err(StoreError::Malformed {
                            what: "download".into(),
                            message: format!(
                                "the store keeps breaking off at {now} of the {expected_size} bytes it announced ({msg})"
                            ),
                        });
                    }
                    last = msg;
                }
            }
        }
        Err(StoreError::Network {
            url: url.to_string(),
            message: last,
        })
    }

    /// [`download`](Self::download), then check digest and size; on a mismatch the file is deleted
    /// and fetched once more from scratch (a corrupted partial file), as snapd does.
    pub async fn download_verified(
        &self,
        url: &str,
        dest: &Path,
        expected_sha3_hex: &str,
        expected_size: u64,
        cancel: &CancellationToken,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<Result<Sha3_384, String>, StoreError> {
        for attempt in 0..2 {
            let (digest, size) = self
                .download(url, dest, expected_size, cancel, progress)
                .await?;
            if digest.to_hex() == expected_sha3_hex && size == expected_size {
                return Ok(Ok(digest));
            }
            let _ = tokio::fs::remove_file(dest).await;
            if attempt == 1 {
                return Ok(Err(format!(
                    "sha3-384 mismatch: got {} ({size} bytes) but expected {expected_sha3_hex} ({expected_size} bytes)",
                    digest.to_hex()
                )));
            }
            tracing::warn!(
                url,
                "downloaded file does not match its digest; fetching it again"
            );
        }
        unreachable!("the loop returns on its second pass")
    }

    async fn download_once(
        &self,
        url: &str,
        partial: &Path,
        expected_size: u64,
        cancel: &CancellationToken,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<(Sha3_384, u64), DownloadFailure> {
        let fatal = |e: StoreError| DownloadFailure::Fatal(e);
        // Seed the hash with what a previous attempt (or a crashed helper) already wrote.
        let mut hasher = Hasher::new();
        let mut have: u64 = 0;
        if let Ok(mut f) = tokio::fs::File::open(partial).await {
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = f.read(&mut buf).await.map_err(|e| fatal(io(partial)(e)))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                have += n as u64;
            }
        }
        if have > expected_size {
            // Longer than the file can be: start again.
            let _ = tokio::fs::remove_file(partial).await;
            return Err(DownloadFailure::Retry(
                "partial file longer than expected".into(),
            ));
        }
        let mut req = self.http.get(url);
        if have > 0 {
            req = req.header("Range", format!("bytes={have}-"));
        }
        if have == expected_size && expected_size > 0 {
            return Ok((hasher.finalize(), have));
        }
        let resp = req
            .send()
            .await
            .map_err(|e| DownloadFailure::Retry(e.to_string()))?;
        let status = resp.status();
        if retryable_status(status) {
            return Err(DownloadFailure::Retry(format!("HTTP {status}")));
        }
        let resumed = status == reqwest::StatusCode::PARTIAL_CONTENT;
        if !(status.is_success()) {
            return Err(fatal(StoreError::Http {
                status: status.as_u16(),
                url: url.to_string(),
            }));
        }
        let mut opts = tokio::fs::OpenOptions::new();
        opts.mode(0o600).create(true).write(true);
        if resumed {
            opts.append(true);
        } else {
            // A 200 is the whole file: whatever we had does not count.
            opts.truncate(true);
            hasher = Hasher::new();
            have = 0;
        }
        let file = opts
            .open(partial)
            .await
            .map_err(|e| fatal(io(partial)(e)))?
            .into_std()
            .await;
        progress(have, expected_size);
        // Hashing and writing run on threads of their own, fed by the network task: the next bytes
        // arrive while the last ones are hashed (SHA3 is the slowest part of a download) and written.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(256);
        let (htx, mut hrx) = tokio::sync::mpsc::channel::<bytes::Bytes>(256);
        let hashing = std::thread::spawn(move || {
            let mut hasher = hasher;
            while let Some(bytes) = hrx.blocking_recv() {
                hasher.update(&bytes);
            }
            hasher
        });
        let start_at = have;
        let worker = tokio::task::spawn_blocking(move || -> std::io::Result<Hasher> {
            let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
            let mut written = start_at;
            let mut flushed = start_at;
            while let Some(bytes) = rx.blocking_recv() {
                let n = bytes.len() as u64;
                std::io::Write::write_all(&mut out, &bytes)?;
                // Hand the same bytes (a reference count, not a copy) to the hashing thread.
                if htx.blocking_send(bytes).is_err() {
                    break;
                }
                written += n;
                // Start the write-back early, so that the final fsync has little left to wait for.
                if written - flushed >= WRITEBACK_CHUNK {
                    std::io::Write::flush(&mut out)?;
                    start_writeback(out.get_ref(), flushed, written - flushed);
                    flushed = written;
                }
            }
            std::io::Write::flush(&mut out)?;
            drop(htx);
            hashing
                .join()
                .map_err(|_| std::io::Error::other("the hashing thread panicked"))
        });
        let finish = |worker: tokio::task::JoinHandle<std::io::Result<Hasher>>| async move {
            match worker.await {
                Ok(Ok(h)) => Ok(h),
                Ok(Err(e)) => Err(fatal(io(partial)(e))),
                Err(e) => Err(fatal(StoreError::Malformed {
                    what: "download".into(),
                    message: format!("the hashing thread failed: {e}"),
                })),
            }
        };
        let mut stream = resp.bytes_stream();
        loop {
            let chunk = tokio::select! {
                _ = cancel.cancelled() => {
                    drop(tx);
                    finish(worker).await?;
                    return Err(fatal(StoreError::Cancelled));
                }
                c = stream.next() => c,
            };
            match chunk {
                None => break,
                Some(Err(e)) => {
                    drop(tx);
                    finish(worker).await?;
                    return Err(DownloadFailure::Retry(e.to_string()));
                }
                Some(Ok(bytes)) => {
                    if have + bytes.len() as u64 > expected_size {
                        drop(tx);
                        let _ = finish(worker).await;
                        let _ = tokio::fs::remove_file(partial).await;
                        return Err(fatal(StoreError::Malformed {
                            what: "download".into(),
                            message: format!(
                                "the store sent more than the expected {expected_size} bytes"
                            ),
                        }));
                    }
                    have += bytes.len() as u64;
                    if tx.send(bytes).await.is_err() {
                        // The worker stopped: its error says why.
                        break;
                    }
                    progress(have, expected_size);
                }
            }
        }
        drop(tx);
        let hasher = finish(worker).await?;
        if have < expected_size {
            return Err(DownloadFailure::Retry(format!(
                "connection closed after {have} of {expected_size} bytes"
            )));
        }
        Ok((hasher.finalize(), have))
    }

    /// Fetch a small file (an icon) with a size cap.
    pub async fn fetch_small(&self, url: &str, cap: u64) -> Result<Vec<u8>, StoreError> {
        let resp = self
            .http
            .get(url)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| StoreError::Network {
                url: url.to_string(),
                message: e.to_string(),
            })?;
        if !resp.status().is_success() {
            return Err(StoreError::Http {
                status: resp.status().as_u16(),
                url: url.to_string(),
            });
        }
        let mut out = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| StoreError::Network {
                url: url.to_string(),
                message: e.to_string(),
            })?;
            out.extend_from_slice(&chunk);
            if out.len() as u64 > cap {
                return Err(StoreError::Malformed {
                    what: url.to_string(),
                    message: format!("larger than {cap} bytes"),
                });
            }
        }
        Ok(out)
    }
}

enum DownloadFailure {
    Retry(String),
    Fatal(StoreError),
}

/// The URLs of a store snap's media of one type (`icon`, `screenshot`), in order.
pub fn media_urls(snap: &Value, kind: &str) -> Vec<String> {
    snap["media"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["type"] == kind)
        .filter_map(|m| m["url"].as_str().map(str::to_string))
        .collect()
}

/// How much is written before its write-back is started.
const WRITEBACK_CHUNK: u64 = 8 << 20;

/// Ask the kernel to start writing `len` bytes from `offset` to disk, without waiting.
fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: sync_file_range only reads its integer arguments; a failure just means no head start.
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

/// `<dest>.partial`: where a download lives until it is complete.
pub fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn parse_action_result(r: &Value) -> ActionResult {
    let s = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
    if s("result").as_deref() == Some("error") {
        let err = &r["error"];
        return ActionResult::Error {
            name: s("name"),
            snap_id: s("snap-id"),
            code: err["code"].as_str().unwrap_or("unknown").to_string(),
            message: err["message"].as_str().unwrap_or("").to_string(),
            releases: err["extra"]["releases"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x["channel"].as_str().map(str::to_string))
                .collect(),
        };
    }
    ActionResult::Ok {
        name: s("name").unwrap_or_default(),
        snap_id: s("snap-id").unwrap_or_default(),
        effective_channel: s("effective-channel"),
        snap: r["snap"].clone(),
    }
}

/// Percent-encode one URL path segment.
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_like_snapds() {
        assert_eq!(backoff(0), Duration::from_millis(500));
        assert_eq!(backoff(1), Duration::from_millis(1250));
        assert!(backoff(4) > Duration::from_secs(19));
    }

    #[test]
    fn error_results_keep_code_and_releases() {
        let r = json!({"result": "error", "instance-key": "install-1", "name": "x",
            "error": {"code": "revision-not-found", "message": "no", "extra": {"releases": [{"architecture": "amd64", "channel": "latest/beta"}]}}});
        match parse_action_result(&r) {
            ActionResult::Error {
                code,
                releases,
                name,
                ..
            } => {
                assert_eq!(code, "revision-not-found");
                assert_eq!(releases, vec!["latest/beta".to_string()]);
                assert_eq!(name.as_deref(), Some("x"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(urlencode("abc-1_2.x"), "abc-1_2.x");
        assert_eq!(urlencode("a/b"), "a%2Fb");
        assert_eq!(urlencode("../x"), "..%2Fx");
    }
}
