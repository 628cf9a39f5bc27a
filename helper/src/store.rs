//! The store client: the Snap Store API v2 subset as snapd speaks it (headers, request bodies),
//! with retries and backoff, and downloads that resume and hash while they stream.
//!
//! The JSON is read and written through `snapshelf_snap::store_api`, the types the store's server
//! uses too. The store is not trusted: answers are read with a size cap, redirects go to HTTP(S)
//! only, and a download is never written past the size its caller knows from a signed assertion.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use snapshelf_snap::digest::{Hasher, Sha3_384};
use snapshelf_snap::store_api::{
    action, assertion_max_format, ActionEpoch, ActionItem, CategoriesResponse, ContextItem, Epoch,
    ErrorList, FindResponse, FindResult, Held, InfoResponse, RefreshRequest, RefreshResponse,
    StoreSnap,
};
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
/// More redirects than this are a loop.
const MAX_REDIRECTS: usize = 10;

/// What a store may make the helper read, keep or wait for.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The largest JSON answer read. A refresh of 64 snaps with their snap.yaml is a few MiB.
    pub max_json: u64,
    /// The largest assertion stream read (an assertion and its keys: a few KiB).
    pub max_assertions: u64,
    /// How long a transfer may bring no byte before the attempt is given up (and resumed).
    pub read_timeout: Duration,
    /// Room left free on the disk after a download, for the state database and the mount.
    pub free_space_margin: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_json: 32 << 20,
            max_assertions: 4 << 20,
            read_timeout: Duration::from_secs(30),
            free_space_margin: 16 << 20,
        }
    }
}

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
    /// The store asked for something a client must not do (too much, elsewhere, forever).
    #[error("refused the store's answer to {what}: {message}")]
    Refused { what: String, message: String },
    #[error("not enough free space in {path} for {what}: {needed} bytes are needed, {available} are free")]
    NoSpace {
        path: PathBuf,
        what: String,
        needed: u64,
        available: u64,
    },
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
    /// The current revision's epoch, from its snap.yaml: the store answers a revision that can
    /// read its data (an epoch bridge first, when there is one).
    pub epoch: Epoch,
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

/// What a fetch-assertions round answered.
#[derive(Debug, Clone, Default)]
pub struct AssertionStreams {
    pub urls: Vec<String>,
    pub errors: Vec<AssertionError>,
}

/// One assertion the store could not give (`not-found` when it has none).
#[derive(Debug, Clone, Default)]
pub struct AssertionError {
    pub code: String,
    pub message: String,
    pub assertion_type: String,
    pub primary_key: Vec<String>,
}

/// One per-item answer of `POST /v2/snaps/refresh`.
#[derive(Debug, Clone)]
pub enum ActionResult {
    Ok {
        name: String,
        snap_id: String,
        effective_channel: Option<String>,
        /// The channel to track from now on, when the store says so (default tracks).
        redirect_channel: Option<String>,
        snap: Box<StoreSnap>,
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
    limits: Limits,
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

fn is_web_url(url: &reqwest::Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// A URL the store gave: only HTTP(S) is ever fetched (never `file:`, `ftp:`, …).
pub(crate) fn web_url(what: &str, url: &str) -> Result<reqwest::Url, StoreError> {
    let refused = |message: String| StoreError::Refused {
        what: what.to_string(),
        message,
    };
    let parsed =
        reqwest::Url::parse(url).map_err(|e| refused(format!("{url:?} is not a URL: {e}")))?;
    if !is_web_url(&parsed) {
        return Err(refused(format!(
            "{url:?} is not an HTTP(S) address; only those are fetched"
        )));
    }
    Ok(parsed)
}

/// The whole message of an error and its sources: reqwest hides a redirect's reason in a source.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(": ");
        out.push_str(&s.to_string());
        next = s.source();
    }
    out
}

/// A request error that retrying cannot fix: a redirect the policy refused.
fn refused_request(what: &str, e: &reqwest::Error) -> Option<StoreError> {
    e.is_redirect().then(|| StoreError::Refused {
        what: what.to_string(),
        message: error_chain(e),
    })
}

/// A redirect that reached us unfollowed: reqwest leaves one it cannot even turn into a request
/// address (`file:///…`) to the caller. Said as a refusal rather than as an HTTP status.
fn unfollowed_redirect(what: &str, resp: &reqwest::Response) -> Option<StoreError> {
    if !resp.status().is_redirection() {
        return None;
    }
    let to = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned())
        .unwrap_or_default();
    Some(StoreError::Refused {
        what: what.to_string(),
        message: format!(
            "the store redirected to {to:?}, which is not an HTTP(S) address; not followed"
        ),
    })
}

/// Read a response body of at most `cap` bytes; a larger one (announced or sent) is refused
/// without reading the rest.
async fn read_capped(resp: reqwest::Response, cap: u64, what: &str) -> Result<Vec<u8>, StoreError> {
    let too_large = || StoreError::Refused {
        what: what.to_string(),
        message: format!("the answer is larger than {cap} bytes, the most a store answer may be"),
    };
    if resp.content_length().is_some_and(|n| n > cap) {
        return Err(too_large());
    }
    let url = resp.url().to_string();
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| StoreError::Network {
            url: url.clone(),
            message: error_chain(&e),
        })?;
        if out.len() as u64 + chunk.len() as u64 > cap {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Parse a JSON answer into the store types, naming the call when it does not fit.
fn parse<T: serde::de::DeserializeOwned>(
    what: &str,
    status: reqwest::StatusCode,
    body: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(body).map_err(|e| StoreError::Malformed {
        what: what.to_string(),
        message: format!("HTTP {status}: {e}"),
    })
}

/// Free space for `needed` more bytes in `dir`, with the margin on top.
fn ensure_space(dir: &Path, what: &str, needed: u64, margin: u64) -> Result<(), StoreError> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(|_| StoreError::Io {
        path: dir.to_path_buf(),
        source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
    })?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `st` a writable statvfs the call fills in.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io(dir)(std::io::Error::last_os_error()));
    }
    let available = (st.f_bavail as u64).saturating_mul(st.f_frsize as u64);
    let want = needed.saturating_add(margin);
    if available < want {
        return Err(StoreError::NoSpace {
            path: dir.to_path_buf(),
            what: what.to_string(),
            needed: want,
            available,
        });
    }
    Ok(())
}

impl StoreClient {
    pub fn new(base: &str) -> Result<Self, StoreError> {
        Self::with_limits(base, Limits::default())
    }

    pub fn with_limits(base: &str, limits: Limits) -> Result<Self, StoreError> {
        // Redirects (a CDN, a mirror) are followed to HTTP(S) addresses only.
        let redirects = reqwest::redirect::Policy::custom(|attempt| {
            if !is_web_url(attempt.url()) {
                let to = attempt.url().to_string();
                attempt.error(format!(
                    "the store redirected to {to:?}, which is not an HTTP(S) address"
                ))
            } else if attempt.previous().len() >= MAX_REDIRECTS {
                attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
            } else {
                attempt.follow()
            }
        });
        let http = reqwest::Client::builder()
            .user_agent(format!(
                "snapshelf/{} (series 16; classic) linux ({})",
                env!("CARGO_PKG_VERSION"),
                dpkg_architecture()
            ))
            .connect_timeout(REQUEST_TIMEOUT)
            // A stalled transfer is retried (and resumed) rather than waited on forever.
            .read_timeout(limits.read_timeout)
            .redirect(redirects)
            .build()
            .map_err(|e| StoreError::Network {
                url: base.to_string(),
                message: e.to_string(),
            })?;
        Ok(StoreClient {
            base: base.trim_end_matches('/').to_string(),
            http,
            architecture: dpkg_architecture().to_string(),
            limits,
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

    /// Send with retries on connection errors, 5xx and 429; returns the final status and body
    /// (read with the JSON cap).
    async fn send_json(
        &self,
        what: &str,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), StoreError> {
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
                    if let Some(refused) = unfollowed_redirect(what, &resp) {
                        return Err(refused);
                    }
                    let status = resp.status();
                    let body = read_capped(resp, self.limits.max_json, what).await?;
                    return Ok((status, body));
                }
                Err(e) => {
                    if let Some(refused) = refused_request(what, &e) {
                        return Err(refused);
                    }
                    last = error_chain(&e);
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

    /// A failed call's error: the store's own `error-list` when it sent one.
    fn check(status: reqwest::StatusCode, body: &[u8], url: &str) -> Result<(), StoreError> {
        if status.is_success() {
            return Ok(());
        }
        let first = serde_json::from_slice::<ErrorList>(body)
            .ok()
            .and_then(|l| l.error_list.into_iter().next());
        match first {
            Some(e) => Err(StoreError::Store {
                code: e.code,
                message: e.message,
            }),
            None => Err(StoreError::Http {
                status: status.as_u16(),
                url: url.to_string(),
            }),
        }
    }

    /// `GET /v2/snaps/info/<name>`; an unknown snap (404, or an empty channel-map) is `NotFound`.
    pub async fn info(&self, name: &str) -> Result<InfoResponse, StoreError> {
        let url = format!("{}/v2/snaps/info/{}", self.base, urlencode(name));
        let (status, body) = self
            .send_json("info", || {
                self.v2(self.http.get(&url)).query(&[
                    ("fields", INFO_FIELDS.join(",").as_str()),
                    ("architecture", self.architecture.as_str()),
                ])
            })
            .await?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(StoreError::NotFound(name.to_string()));
        }
        Self::check(status, &body, &url)?;
        let info: InfoResponse = parse("info", status, &body)?;
        if info.channel_map.is_empty() {
            return Err(StoreError::NotFound(name.to_string()));
        }
        Ok(info)
    }

    /// `GET /v2/snaps/find`: `query` empty lists a category (or the featured snaps).
    pub async fn find(
        &self,
        query: &str,
        category: Option<&str>,
    ) -> Result<Vec<FindResult>, StoreError> {
        let url = format!("{}/v2/snaps/find", self.base);
        let fields = FIND_FIELDS.join(",");
        let mut params: Vec<(&str, &str)> =
            vec![("fields", &fields), ("architecture", &self.architecture)];
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
        Ok(parse::<FindResponse>("find", status, &body)?.results)
    }

    pub async fn categories(&self) -> Result<Vec<String>, StoreError> {
        let url = format!("{}/v2/snaps/categories", self.base);
        let (status, body) = self
            .send_json("categories", || self.v2(self.http.get(&url)))
            .await?;
        Self::check(status, &body, &url)?;
        let answer: CategoriesResponse = parse("categories", status, &body)?;
        Ok(answer.categories.into_iter().map(|c| c.name).collect())
    }

    /// `POST /v2/snaps/refresh` with snapd's body: `context` (never null), `actions`, `fields`.
    pub async fn snap_action(
        &self,
        context: &[ContextEntry],
        actions: &[Action],
    ) -> Result<Vec<ActionResult>, StoreError> {
        let url = format!("{}/v2/snaps/refresh", self.base);
        let body = refresh_request(context, actions);
        let (status, resp) = self
            .send_json("refresh", || {
                let req = self
                    .v2(self.http.post(&url))
                    .header("Content-Type", "application/json");
                // snapd offers the delta formats it can apply (`store/store_action.go`).
                let req = match crate::delta::accepted_formats() {
                    Some(f) => req.header("Snap-Accept-Delta-Format", f),
                    None => req,
                };
                req.json(&body)
            })
            .await?;
        Self::check(status, &resp, &url)?;
        let answer: RefreshResponse = parse("refresh", status, &resp)?;
        answer
            .results
            .into_iter()
            .filter(|r| r.result != action::FETCH_ASSERTIONS)
            .map(action_result)
            .collect()
    }

    /// snapd's fetch-assertions round (`store/store_action.go`, as `RefreshSnapDeclarations`
    /// sends it): no context, one action keyed `g1` asking for each assertion if newer than the
    /// revision held. The stream URLs to fetch, and the assertions the store does not have.
    pub async fn fetch_assertions(
        &self,
        wanted: &[snapshelf_snap::store_api::AssertionRef],
    ) -> Result<AssertionStreams, StoreError> {
        let url = format!("{}/v2/snaps/refresh", self.base);
        let body = fetch_assertions_request(wanted);
        let (status, resp) = self
            .send_json("fetch-assertions", || {
                self.v2(self.http.post(&url))
                    .header("Content-Type", "application/json")
                    .json(&body)
            })
            .await?;
        Self::check(status, &resp, &url)?;
        let answer: RefreshResponse = parse("fetch-assertions", status, &resp)?;
        let mut out = AssertionStreams::default();
        for r in answer.results {
            if r.result != action::FETCH_ASSERTIONS {
                continue;
            }
            out.urls.extend(r.assertion_stream_urls.unwrap_or_default());
            for e in r.error_list.unwrap_or_default() {
                out.errors.push(AssertionError {
                    code: e.code,
                    message: e.message,
                    assertion_type: e.assertion_type.unwrap_or_default(),
                    primary_key: e.primary_key.unwrap_or_default(),
                });
            }
        }
        Ok(out)
    }

    /// One stream a fetch-assertions result named (HTTP(S) only, capped like every assertion
    /// stream).
    pub async fn assertion_stream(&self, url: &str) -> Result<Vec<u8>, StoreError> {
        let what = "an assertion stream";
        let parsed = web_url(what, url)?;
        let (status, body) = self
            .send_json(what, || {
                self.http
                    .get(parsed.clone())
                    .header("Snap-Device-Series", "16")
                    .header("Accept", "application/x.ubuntu.assertion")
                    .timeout(REQUEST_TIMEOUT)
            })
            .await?;
        Self::check(status, &body, url)?;
        if body.len() as u64 > self.limits.max_assertions {
            return Err(StoreError::Refused {
                what: what.into(),
                message: format!("more than {} bytes", self.limits.max_assertions),
            });
        }
        Ok(body)
    }

    /// `GET /v2/assertions/<type>/<key…>`: an assertion stream.
    pub async fn assertion(&self, kind: &str, key: &[&str]) -> Result<Vec<u8>, StoreError> {
        let path: Vec<String> = key.iter().map(|k| urlencode(k)).collect();
        let url = format!("{}/v2/assertions/{}/{}", self.base, kind, path.join("/"));
        let what = format!("the {kind} assertion request");
        let mut last = String::new();
        for attempt in 0..API_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt - 1)).await;
            }
            let sent = self
                .http
                .get(&url)
                .query(&[("max-format", assertion_max_format(kind))])
                .header("Snap-Device-Series", "16")
                .header("Accept", "application/x.ubuntu.assertion")
                .timeout(REQUEST_TIMEOUT)
                .send()
                .await;
            match sent {
                Ok(resp) if retryable_status(resp.status()) => {
                    last = format!("HTTP {}", resp.status())
                }
                Ok(resp) if resp.status().is_redirection() => {
                    return Err(
                        unfollowed_redirect(&what, &resp).unwrap_or(StoreError::Http {
                            status: resp.status().as_u16(),
                            url,
                        }),
                    )
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
                Ok(resp) => match read_capped(resp, self.limits.max_assertions, &what).await {
                    Ok(b) => return Ok(b),
                    Err(StoreError::Network { message, .. }) => last = message,
                    Err(e) => return Err(e),
                },
                Err(e) => {
                    if let Some(refused) = refused_request(&what, &e) {
                        return Err(refused);
                    }
                    last = error_chain(&e)
                }
            }
        }
        Err(StoreError::Network { url, message: last })
    }

    /// Download `url` into `dest`, through `dest.partial` (0600), resuming what a partial file holds,
    /// hashing while the bytes stream. `progress(done, total)` is called as bytes arrive. On success the
    /// partial file is fsynced and renamed to `dest`; the digest and size are returned for the caller
    /// to check against the assertion. A hash mismatch is not detected here (the caller knows the
    /// expected digest): see [`StoreClient::download_verified`].
    ///
    /// `expected_size` must be the size a signed snap-revision states: nothing past it is written,
    /// a store that announces or sends more is refused, and the disk must have room for it first.
    /// A refused or abandoned download leaves no partial file behind.
    pub async fn download(
        &self,
        url: &str,
        dest: &Path,
        expected_size: u64,
        cancel: &CancellationToken,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<(Sha3_384, u64), StoreError> {
        let partial = partial_path(dest);
        let partial_len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let refuse = |e: StoreError| {
            let _ = std::fs::remove_file(&partial);
            e
        };
        web_url("download", url).map_err(refuse)?;
        let dir = dest.parent().unwrap_or(Path::new("."));
        let needed = expected_size.saturating_sub(partial_len(&partial));
        let what = format!("the download of {}", dest.display());
        ensure_space(dir, &what, needed, self.limits.free_space_margin).map_err(refuse)?;
        let mut last = String::new();
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
                Err(DownloadFailure::Fatal(e @ StoreError::Cancelled)) => return Err(e),
                // Refused, failed to write, or broken: what was written cannot be trusted to
                // resume from.
                Err(DownloadFailure::Fatal(e)) => return Err(refuse(e)),
                Err(DownloadFailure::Retry(msg)) => {
                    tracing::info!(url, attempt, error = %msg, "download interrupted; resuming");
                    let now = partial_len(&partial);
                    stalled = if now > before { 0 } else { stalled + 1 };
                    if stalled >= 3 {
                        let _ = std::fs::remove_file(&partial);
                        return Err(StoreError::Malformed {
                            what: "download".into(),
                            message: format!(
                                "the store keeps breaking off at {now} of the file's {expected_size} bytes ({msg})"
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

    // Longer than this crate's usual ~80 lines: one pass over the body is one state machine (the
    // partial file, the writer thread and its channel, the byte count, Cancel); split, each part
    // would hand all of it to the next.
    async fn download_once(
        &self,
        url: &str,
        partial: &Path,
        expected_size: u64,
        cancel: &CancellationToken,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<(Sha3_384, u64), DownloadFailure> {
        let fatal = |e: StoreError| DownloadFailure::Fatal(e);
        let (mut hasher, mut have) = hash_partial(partial).await?;
        if have > expected_size {
            // Longer than the file can be: start again.
            let _ = tokio::fs::remove_file(partial).await;
            return Err(DownloadFailure::Retry(
                "partial file longer than expected".into(),
            ));
        }
        if have == expected_size && expected_size > 0 {
            return Ok((hasher.finalize(), have));
        }
        let (resp, resumed) = self.request_from(url, have, expected_size).await?;
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
        let (tx, worker) = spawn_writer(file, hasher, have);
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
                    return Err(DownloadFailure::Retry(error_chain(&e)));
                }
                Some(Ok(bytes)) => {
                    // Checked before the bytes go to the writer: nothing past the signed size
                    // reaches the disk.
                    if have + bytes.len() as u64 > expected_size {
                        drop(tx);
                        let _ = finish(worker).await;
                        let _ = tokio::fs::remove_file(partial).await;
                        return Err(fatal(StoreError::Refused {
                            what: "download".into(),
                            message: format!(
                                "the store sent more than the {expected_size} bytes the file has"
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

    /// Ask for the file from byte `have` on. The answer and whether it resumes (206) or is the
    /// whole file (200). Refused before a byte is written: a redirect elsewhere than HTTP(S), or
    /// a body announced longer than the signed size.
    async fn request_from(
        &self,
        url: &str,
        have: u64,
        expected_size: u64,
    ) -> Result<(reqwest::Response, bool), DownloadFailure> {
        let fatal = |e: StoreError| DownloadFailure::Fatal(e);
        let mut req = self.http.get(url);
        if have > 0 {
            req = req.header("Range", format!("bytes={have}-"));
        }
        let resp = req
            .send()
            .await
            .map_err(|e| match refused_request("download", &e) {
                Some(refused) => fatal(refused),
                None => DownloadFailure::Retry(error_chain(&e)),
            })?;
        if let Some(refused) = unfollowed_redirect("download", &resp) {
            return Err(fatal(refused));
        }
        let status = resp.status();
        if retryable_status(status) {
            return Err(DownloadFailure::Retry(format!("HTTP {status}")));
        }
        if !status.is_success() {
            return Err(fatal(StoreError::Http {
                status: status.as_u16(),
                url: url.to_string(),
            }));
        }
        let resumed = status == reqwest::StatusCode::PARTIAL_CONTENT;
        let start = if resumed { have } else { 0 };
        if let Some(n) = resp
            .content_length()
            .filter(|n| start.saturating_add(*n) > expected_size)
        {
            return Err(fatal(StoreError::Refused {
                what: "download".into(),
                message: format!(
                    "the store announces {n} bytes from byte {start}, but the file is {expected_size} bytes"
                ),
            }));
        }
        Ok((resp, resumed))
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

/// Seed a hash with what a previous attempt (or a crashed helper) already wrote.
async fn hash_partial(partial: &Path) -> Result<(Hasher, u64), DownloadFailure> {
    let mut hasher = Hasher::new();
    let mut have: u64 = 0;
    if let Ok(mut f) = tokio::fs::File::open(partial).await {
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f
                .read(&mut buf)
                .await
                .map_err(|e| DownloadFailure::Fatal(io(partial)(e)))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            have += n as u64;
        }
    }
    Ok((hasher, have))
}

tokio::task_local! {
    /// Set for a download in the background (`crate::priority`): its threads run at low priority.
    static BACKGROUND: bool;
}

/// Run `f` (downloads) in the background when `background`: the threads that write and hash it
/// run in the idle I/O class at nice 19.
pub async fn in_background<F: std::future::Future>(background: bool, f: F) -> F::Output {
    BACKGROUND.scope(background, f).await
}

/// Hashing and writing on threads of their own, fed by the network task: the next bytes arrive
/// while the last ones are hashed (SHA3 is the slowest part of a download) and written. Dropping
/// the sender ends both; the handle gives the hash of everything written.
fn spawn_writer(
    file: std::fs::File,
    hasher: Hasher,
    start_at: u64,
) -> (
    tokio::sync::mpsc::Sender<bytes::Bytes>,
    tokio::task::JoinHandle<std::io::Result<Hasher>>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(256);
    let (htx, mut hrx) = tokio::sync::mpsc::channel::<bytes::Bytes>(256);
    let background = BACKGROUND.try_with(|b| *b).unwrap_or(false);
    let lower = move || {
        background
            .then(crate::priority::Lowered::this_thread)
            .flatten()
    };
    let hashing = std::thread::spawn(move || {
        let _low = lower();
        let mut hasher = hasher;
        while let Some(bytes) = hrx.blocking_recv() {
            hasher.update(&bytes);
        }
        hasher
    });
    let worker = tokio::task::spawn_blocking(move || -> std::io::Result<Hasher> {
        // Back to the thread's own priority when this ends: the pool reuses it.
        let _low = lower();
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
    (tx, worker)
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

/// The fields `info` asks for: snapd's (store.go's `InfoFields`: every `storeSnap` key but
/// `snap-yaml` and `integrity`), plus `snap-yaml` for the apps an app page lists before the snap
/// is installed. The real store's default set without `fields=` has no description or media.
const INFO_FIELDS: &[&str] = &[
    "architectures",
    "base",
    "confinement",
    "links",
    "contact",
    "created-at",
    "description",
    "download",
    "epoch",
    "license",
    "name",
    "prices",
    "private",
    "publisher",
    "revision",
    "snap-id",
    "summary",
    "title",
    "type",
    "version",
    "website",
    "store-url",
    "resources",
    "media",
    "common-ids",
    "categories",
    "snap-yaml",
];

/// The fields `find` asks for: snapd's (every `storeSnap` key but `architectures`, `created-at`,
/// `epoch`, `name`, `snap-id`, `snap-yaml`, `resources` and `integrity`, plus `channel`).
const FIND_FIELDS: &[&str] = &[
    "base",
    "confinement",
    "links",
    "contact",
    "description",
    "download",
    "license",
    "prices",
    "private",
    "publisher",
    "revision",
    "summary",
    "title",
    "type",
    "version",
    "website",
    "store-url",
    "media",
    "common-ids",
    "categories",
    "channel",
];

/// The fields every result's snap carries: what installing and showing a snap needs.
const REFRESH_FIELDS: &[&str] = &[
    "architectures",
    "base",
    "confinement",
    "contact",
    "created-at",
    "description",
    "download",
    "epoch",
    "license",
    "links",
    "media",
    "name",
    "prices",
    "private",
    "publisher",
    "revision",
    "snap-id",
    "snap-yaml",
    "summary",
    "title",
    "type",
    "version",
    "website",
    "store-url",
    "common-ids",
    "categories",
];

/// snapd's fetch-assertions request: no context, one action keyed `g1` (no instance-key), the
/// highest format understood of each type asked for.
fn fetch_assertions_request(wanted: &[snapshelf_snap::store_api::AssertionRef]) -> RefreshRequest {
    let formats = wanted
        .iter()
        .map(|w| {
            let t = w.assertion_type.clone();
            let f = assertion_max_format(&t);
            (t, f)
        })
        .collect();
    RefreshRequest {
        context: Vec::new(),
        actions: vec![ActionItem {
            action: action::FETCH_ASSERTIONS.into(),
            key: Some("g1".into()),
            assertions: wanted.to_vec(),
            ..Default::default()
        }],
        fields: REFRESH_FIELDS.iter().map(|f| f.to_string()).collect(),
        assertion_max_formats: Some(formats),
    }
}

/// snapd's refresh request for these installed snaps and actions.
fn refresh_request(context: &[ContextEntry], actions: &[Action]) -> RefreshRequest {
    let context = context
        .iter()
        .map(|c| ContextItem {
            snap_id: c.snap_id.clone(),
            instance_key: c.snap_id.clone(),
            revision: c.revision,
            tracking_channel: c.tracking_channel.clone(),
            epoch: c.epoch.clone(),
            held: c.held.then(|| Held {
                by: vec!["snapshelf".into()],
            }),
            ..Default::default()
        })
        .collect();
    let actions = actions
        .iter()
        .enumerate()
        .map(|(i, a)| match a {
            Action::Install {
                name,
                channel,
                revision,
            } => ActionItem {
                action: action::INSTALL.into(),
                instance_key: format!("install-{}", i + 1),
                name: Some(name.clone()),
                channel: channel.clone(),
                revision: *revision,
                // `null`: tells the store we understand epochs, as snapd does.
                epoch: ActionEpoch::Null,
                ..Default::default()
            },
            Action::Refresh { snap_id, channel } => ActionItem {
                action: action::REFRESH.into(),
                instance_key: snap_id.clone(),
                snap_id: Some(snap_id.clone()),
                channel: channel.clone(),
                ..Default::default()
            },
        })
        .collect();
    RefreshRequest {
        context,
        actions,
        fields: REFRESH_FIELDS.iter().map(|f| f.to_string()).collect(),
        assertion_max_formats: None,
    }
}

/// One result as the engine sees it: a snap, or that snap's own error.
fn action_result(r: snapshelf_snap::store_api::ActionResult) -> Result<ActionResult, StoreError> {
    if r.is_error() {
        let err = r.error.unwrap_or_default();
        return Ok(ActionResult::Error {
            name: r.name,
            snap_id: r.snap_id,
            code: if err.code.is_empty() {
                "unknown".into()
            } else {
                err.code
            },
            message: err.message,
            releases: err
                .extra
                .into_iter()
                .flat_map(|x| x.releases)
                // The real store lists every architecture's channels; only this one's can serve.
                .filter(|rel| {
                    rel.architecture.is_empty() || rel.architecture == dpkg_architecture()
                })
                .map(|rel| rel.channel)
                .collect(),
        });
    }
    let Some(snap) = r.snap else {
        return Err(StoreError::Malformed {
            what: "refresh".into(),
            message: format!("the {:?} result {:?} has no snap", r.result, r.instance_key),
        });
    };
    Ok(ActionResult::Ok {
        name: r.name.unwrap_or_default(),
        snap_id: r.snap_id.unwrap_or_default(),
        effective_channel: r.effective_channel,
        redirect_channel: r.redirect_channel,
        snap: Box::new(snap),
    })
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
        let other = if dpkg_architecture() == "s390x" {
            "riscv64"
        } else {
            "s390x"
        };
        let r = serde_json::from_value(
            serde_json::json!({"result": "error", "instance-key": "install-1", "name": "x",
            "error": {"code": "revision-not-found", "message": "no", "extra": {"releases": [
                {"architecture": dpkg_architecture(), "channel": "latest/beta"},
                {"architecture": other, "channel": "latest/edge"}]}}}),
        )
        .unwrap();
        match action_result(r).unwrap() {
            ActionResult::Error {
                code,
                releases,
                name,
                ..
            } => {
                assert_eq!(code, "revision-not-found");
                // Another architecture's channel is not one this device could switch to.
                assert_eq!(releases, vec!["latest/beta".to_string()]);
                assert_eq!(name.as_deref(), Some("x"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_refresh_request_is_snapds() {
        let body = refresh_request(
            &[ContextEntry {
                snap_id: "id1".into(),
                revision: 7,
                tracking_channel: "latest/stable".into(),
                held: true,
                epoch: Epoch {
                    read: vec![1, 2],
                    write: vec![2],
                },
            }],
            &[
                Action::Refresh {
                    snap_id: "id1".into(),
                    channel: None,
                },
                Action::Install {
                    name: "b".into(),
                    channel: Some("beta".into()),
                    revision: None,
                },
            ],
        );
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(
            v["context"],
            serde_json::json!([{"snap-id": "id1", "instance-key": "id1", "revision": 7,
                "tracking-channel": "latest/stable", "epoch": {"read": [1, 2], "write": [2]},
                "held": {"by": ["snapshelf"]}}])
        );
        assert_eq!(
            v["actions"],
            serde_json::json!([
                {"action": "refresh", "instance-key": "id1", "snap-id": "id1"},
                {"action": "install", "instance-key": "install-2", "name": "b",
                 "channel": "beta", "epoch": null},
            ])
        );
        assert!(v["fields"]
            .as_array()
            .unwrap()
            .contains(&"snap-yaml".into()));
    }

    #[test]
    fn results_carry_redirects_and_a_result_without_a_snap_is_malformed() {
        let ok = serde_json::from_value(serde_json::json!({"result": "refresh",
            "instance-key": "id1", "snap-id": "id1", "name": "a", "effective-channel": "stable",
            "redirect-channel": "2.0/stable", "snap": {"revision": 9, "version": "2"}}))
        .unwrap();
        match action_result(ok).unwrap() {
            ActionResult::Ok {
                redirect_channel,
                snap,
                ..
            } => {
                assert_eq!(redirect_channel.as_deref(), Some("2.0/stable"));
                assert_eq!(snap.revision.revision, 9);
            }
            other => panic!("{other:?}"),
        }
        let empty =
            serde_json::from_value(serde_json::json!({"result": "install", "instance-key": "k"}))
                .unwrap();
        let e = action_result(empty).unwrap_err();
        assert!(e.to_string().contains("has no snap"), "{e}");
    }

    /// The request line of the one request `call` makes, answered with a 404.
    async fn request_line<F, Fut>(call: F) -> String
    where
        F: FnOnce(StoreClient) -> Fut,
        Fut: std::future::Future,
    {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client =
            StoreClient::new(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                sock.read_exact(&mut byte).await.unwrap();
                head.push(byte[0]);
            }
            sock.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await
            .unwrap();
            String::from_utf8(head)
                .unwrap()
                .lines()
                .next()
                .unwrap()
                .to_string()
        });
        call(client).await;
        server.await.unwrap()
    }

    fn query_fields(line: &str) -> Vec<String> {
        let url =
            reqwest::Url::parse(&format!("http://x{}", line.split(' ').nth(1).unwrap())).unwrap();
        let fields = url
            .query_pairs()
            .find(|(k, _)| k == "fields")
            .expect("a fields parameter")
            .1;
        fields.split(',').map(str::to_string).collect()
    }

    #[tokio::test]
    async fn info_and_find_name_their_fields_as_snapd_does() {
        let line = request_line(|c| async move { c.info("hello").await.unwrap_err() }).await;
        assert!(line.starts_with("GET /v2/snaps/info/hello?"), "{line}");
        let fields = query_fields(&line);
        // What an app page shows, which the real store's default set leaves out.
        for f in [
            "description",
            "media",
            "snap-yaml",
            "license",
            "publisher",
            "categories",
        ] {
            assert!(fields.iter().any(|x| x == f), "info lacks {f}: {line}");
        }
        let line = request_line(|c| async move { c.find("tool", None).await.unwrap_err() }).await;
        assert!(line.starts_with("GET /v2/snaps/find?"), "{line}");
        let fields = query_fields(&line);
        for f in ["description", "media", "channel", "revision", "download"] {
            assert!(fields.iter().any(|x| x == f), "find lacks {f}: {line}");
        }
        // snapd's find set leaves out what a listing does not need.
        for f in ["snap-yaml", "epoch", "architectures"] {
            assert!(!fields.iter().any(|x| x == f), "find asks for {f}: {line}");
        }
    }

    #[tokio::test]
    async fn assertion_requests_carry_max_format() {
        for (kind, key, want) in [
            ("snap-declaration", "16/abc", "max-format=6"),
            ("account-key", "k1", "max-format=1"),
            ("snap-revision", "d1", "max-format=0"),
        ] {
            let keys: Vec<&str> = key.split('/').collect();
            let line =
                request_line(|c| async move { c.assertion(kind, &keys).await.unwrap_err() }).await;
            assert!(
                line.starts_with(&format!("GET /v2/assertions/{kind}/{key}?{want} ")),
                "{line}"
            );
        }
    }

    /// snapd's `store/store_action_fetch_assertions_test.go`: no context, a `fetch-assertions`
    /// action with a key and no instance-key, `if-newer-than` where a revision is held.
    #[test]
    fn the_fetch_assertions_request_is_snapds() {
        use snapshelf_snap::store_api::AssertionRef;
        let wanted = [
            AssertionRef {
                assertion_type: "snap-declaration".into(),
                primary_key: vec!["16".into(), "iEr2EpvaIaqrXxoM2JyHOmuXQYvSzUt5".into()],
                if_newer_than: Some(0),
            },
            AssertionRef {
                assertion_type: "snap-declaration".into(),
                primary_key: vec!["16".into(), "CSO04Jhav2yK0uz97cr0ipQRyqg0qQL6".into()],
                if_newer_than: None,
            },
        ];
        let v = serde_json::to_value(fetch_assertions_request(&wanted)).unwrap();
        assert_eq!(v["context"], serde_json::json!([]));
        assert_eq!(
            v["actions"],
            serde_json::json!([{
                "action": "fetch-assertions",
                "key": "g1",
                "assertions": [
                    {"type": "snap-declaration",
                     "primary-key": ["16", "iEr2EpvaIaqrXxoM2JyHOmuXQYvSzUt5"],
                     "if-newer-than": 0},
                    {"type": "snap-declaration",
                     "primary-key": ["16", "CSO04Jhav2yK0uz97cr0ipQRyqg0qQL6"]}
                ]
            }])
        );
        assert_eq!(
            v["assertion-max-formats"],
            serde_json::json!({"snap-declaration": 6})
        );
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(urlencode("abc-1_2.x"), "abc-1_2.x");
        assert_eq!(urlencode("a/b"), "a%2Fb");
        assert_eq!(urlencode("../x"), "..%2Fx");
    }
}
