//! The HTTP API: the Snap Store v2 subset that snapd (and our helper) use, plus downloads and media.
//! Shapes follow the real store's responses (see docs/store.md).

// Helpers return a ready error `Response` as their `Err`: it is built once, on the cold path, and
// returned straight to axum; boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use snapshelf_snap::store_api::{
    self as api, action, ActionItem, ActionResult, CategoriesResponse, CategoryName, ErrorEntry,
    ErrorExtra, ErrorList, FindResponse, InfoResponse, RefreshRequest, RefreshResponse, Release,
};
use tokio::io::AsyncSeekExt;

use crate::model::{ChannelEntry, Model};
use crate::signing::Signer;

/// The API level we claim; snapd only compares it against old thresholds (≥ 20, ≥ 55).
pub const STORE_VERSION: &str = "60";
const ASSERTION_TYPE: &str = "application/x.ubuntu.assertion";
/// snapd refuses queries with these characters client-side; the store does too.
const FORBIDDEN_QUERY_CHARS: &str = "+=&|><!(){}[]^\"~*?:\\/";
/// Large enough for loopback throughput, small enough to start sending at once.
const DOWNLOAD_CHUNK: usize = 4 << 20;
/// Like the real store, find answers with the best matches, not the whole catalog.
const MAX_FIND_RESULTS: usize = 100;

pub struct AppState {
    pub model: Model,
    pub signer: Signer,
    /// Used in URLs when set; otherwise the request's Host header.
    pub public_url: Option<String>,
    /// Fault injection for clients' tests: a download without `Range` breaks off after this many
    /// bytes, as a flaky network would (snapd's fake store has the same knob).
    pub cut_downloads_after: Option<u64>,
    /// Pace every download at this many bytes a second: a realistic link on loopback (benchmarks,
    /// clients' progress and Cancel), or a mirror that must share its uplink.
    pub download_rate: Option<u64>,
    /// Answer downloads with `302 Location: <cdn_url><NAME>_<REV>.snap`, as the real store hands
    /// its downloads to a CDN; the files are then served from there.
    pub cdn_url: Option<String>,
}

type Shared = Arc<AppState>;

pub fn router(state: Shared) -> Router {
    let snaps = Router::new()
        .route("/v2/snaps/info/{name}", get(info))
        .route("/v2/snaps/find", get(find))
        .route("/v2/snaps/refresh", post(refresh))
        .route("/v2/snaps/categories", get(categories))
        .layer(middleware::from_fn(require_series));
    Router::new()
        .merge(snaps)
        .route("/v2/assertions/{*key}", get(assertions))
        .route("/api/v1/snaps/download/{file}", get(download))
        .route("/api/v1/snaps/delta/{file}", get(crate::delta::download))
        .route("/media/{*path}", get(media))
        .fallback(not_found)
        .layer(middleware::from_fn(store_headers))
        .with_state(state)
}

pub fn error_list(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, axum::Json(ErrorList::one(code, message))).into_response()
}

async fn not_found() -> Response {
    error_list(StatusCode::NOT_FOUND, "not-found", "no such resource")
}

async fn store_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(
        "Snap-Store-Version",
        HeaderValue::from_static(STORE_VERSION),
    );
    resp
}

/// `/v2/snaps/*` needs `Snap-Device-Series: 16`, as the real store insists.
async fn require_series(req: Request, next: Next) -> Response {
    match req
        .headers()
        .get("Snap-Device-Series")
        .map(|v| v.as_bytes())
    {
        Some(b"16") => next.run(req).await,
        Some(other) => error_list(
            StatusCode::BAD_REQUEST,
            "invalid-header",
            format!(
                "Snap-Device-Series {:?} is not supported (only 16)",
                String::from_utf8_lossy(other)
            ),
        ),
        None => error_list(
            StatusCode::BAD_REQUEST,
            "missing-header",
            "Missing Snap-Device-Series header",
        ),
    }
}

fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'))
        })
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// The `fields` of a query: those named, or the real store's default set.
fn query_fields(raw: Option<&String>) -> Result<HashSet<String>, Response> {
    crate::fields::parse(raw.map(|r| r.split(',')))
        .map_err(|e| error_list(StatusCode::BAD_REQUEST, "invalid-field", e))
}

/// The JSON of a store type. Our types hold only strings, numbers and maps with string keys, so
/// this cannot fail.
fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("store types always serialise")
}

fn check_params(params: &HashMap<String, String>, allowed: &[&str]) -> Result<(), Response> {
    for key in params.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(error_list(
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                format!("unknown parameter {key:?}"),
            ));
        }
    }
    Ok(())
}

/// The architecture of a query, if it names one.
fn architecture(params: &HashMap<String, String>) -> Option<&str> {
    params.get("architecture").map(String::as_str)
}

/// The device's architecture for `/v2/snaps/refresh`, which the real store requires.
fn device_architecture(headers: &HeaderMap) -> Result<String, Response> {
    match headers.get("Snap-Device-Architecture").map(|v| v.to_str()) {
        Some(Ok(a))
            if !a.is_empty() && a.len() <= 32 && a.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            Ok(a.to_string())
        }
        Some(_) => Err(error_list(
            StatusCode::BAD_REQUEST,
            "invalid-header",
            "Snap-Device-Architecture is not an architecture name",
        )),
        None => Err(error_list(
            StatusCode::BAD_REQUEST,
            "missing-header",
            "Missing Snap-Device-Architecture header",
        )),
    }
}

/// A channel-map `channel`: the name is `track/risk`, or the risk alone on `latest` (as recorded).
fn channel(c: &ChannelEntry, arch: &str) -> api::Channel {
    api::Channel {
        architecture: arch.to_string(),
        name: c.short_name(),
        released_at: c.released_at.clone(),
        risk: c.risk.clone(),
        track: c.track.clone(),
    }
}

fn snap_not_found(name: &str) -> Response {
    error_list(
        StatusCode::NOT_FOUND,
        "resource-not-found",
        format!("No snap named '{name}' found in series '16'."),
    )
}

async fn info(
    State(state): State<Shared>,
    UrlPath(name): UrlPath<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_params(&params, &["fields", "architecture"]) {
        return r;
    }
    let fields = match query_fields(params.get("fields")) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(snap) = state.model.snaps.get(&name) else {
        return snap_not_found(&name);
    };
    let base = base_url(&state, &headers);
    let model = &state.model;
    let wanted = architecture(&params);
    // Branches are never listed; an `all` revision is listed once per architecture.
    let mut channel_map = Vec::new();
    for c in snap.channels.iter().filter(|c| c.branch.is_none()) {
        let archs: Vec<&str> = match wanted {
            Some(a) if c.serves(a) => vec![a],
            Some(_) => continue,
            None if c.architecture == "all" => {
                model.architectures.iter().map(String::as_str).collect()
            }
            None => vec![c.architecture.as_str()],
        };
        for arch in archs {
            channel_map.push(api::ChannelMapEntry {
                revision: model.revision_details(snap, &snap.revisions[&c.revision], &base),
                channel: channel(c, arch),
            });
        }
    }
    let shown = snap
        .default_channel(wanted.unwrap_or("amd64"))
        .or_else(|| snap.channels.first());
    let Some(shown) = shown else {
        return snap_not_found(&name);
    };
    let answer = InfoResponse {
        channel_map,
        default_track: snap.entry.default_track.clone(),
        name: snap.entry.name.clone(),
        snap: model.snap_details(snap, &snap.revisions[&shown.revision], &base),
        snap_id: snap.snap_id.clone(),
    };
    let mut body = to_json(&answer);
    if let Some(entries) = body["channel-map"].as_array_mut() {
        entries
            .iter_mut()
            .for_each(|e| crate::fields::project(e, &fields, &["channel"]));
    }
    crate::fields::project(&mut body["snap"], &fields, &["name", "snap-id"]);
    axum::Json(body).into_response()
}

async fn find(
    State(state): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    const ALLOWED: &[&str] = &[
        "q",
        "name",
        "category",
        "fields",
        "architecture",
        "channel",
        "confinement",
        "scope",
        "private",
        "common-id",
    ];
    if let Err(r) = check_params(&params, ALLOWED) {
        return r;
    }
    let named_fields = params.contains_key("fields");
    let fields = match query_fields(params.get("fields")) {
        Ok(f) => f,
        Err(r) => return r,
    };
    for key in ["q", "name"] {
        if let Some(v) = params.get(key) {
            let trimmed = if key == "name" {
                v.trim_end_matches('*')
            } else {
                v
            };
            if trimmed.chars().any(|c| FORBIDDEN_QUERY_CHARS.contains(c)) || v.len() > 256 {
                return error_list(StatusCode::BAD_REQUEST, "bad-query", "bad query");
            }
        }
    }
    if params.get("private").map(String::as_str) == Some("true") {
        return error_list(
            StatusCode::UNAUTHORIZED,
            "user-authorization-required",
            "private snaps need a signed-in user; this store has none",
        );
    }
    let category = params.get("category").map(String::as_str);
    if let Some(cat) = category {
        if !state.model.categories.iter().any(|c| c == cat) {
            return axum::Json(FindResponse::default()).into_response();
        }
    }
    let wide = params.get("scope").map(String::as_str) == Some("wide");
    let channel = match params.get("channel") {
        Some(c) if !wide => match crate::catalog::parse_channel_ref(c) {
            Ok(c) => Some(c),
            Err(e) => return error_list(StatusCode::BAD_REQUEST, "invalid-channel", e),
        },
        _ => None,
    };
    let confinements: Option<Vec<&str>> = params
        .get("confinement")
        .map(|c| c.split(',').map(str::trim).collect());
    if let Some(list) = &confinements {
        if let Some(bad) = list
            .iter()
            .find(|c| !["strict", "classic", "devmode"].contains(c))
        {
            return error_list(
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                format!("unknown confinement {bad:?}"),
            );
        }
    }
    let base = base_url(&state, &headers);
    let model = &state.model;
    let hits = model.find(
        params.get("q").map(String::as_str),
        params.get("name").map(String::as_str),
        category,
    );
    let arch = architecture(&params).unwrap_or("amd64");
    // The common case (default fields, default channel) is served from JSON made at start-up.
    let precomputed = state.model.architectures.iter().any(|a| a == arch);
    if precomputed && !named_fields && channel.is_none() && confinements.is_none() {
        let mut body = String::with_capacity(64 << 10);
        body.push_str("{\"results\":[");
        for (i, parts) in hits
            .iter()
            .filter_map(|s| s.find_json.get(arch))
            .take(MAX_FIND_RESULTS)
            .enumerate()
        {
            if i > 0 {
                body.push(',');
            }
            for (j, part) in parts.iter().enumerate() {
                if j > 0 {
                    body.push_str(&base);
                }
                body.push_str(part);
            }
        }
        body.push_str("]}");
        return ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    let mut results = Vec::new();
    for snap in hits {
        let entry = match &channel {
            Some(c) => snap.resolve(c, arch),
            None => snap.default_channel(arch),
        };
        let Some(entry) = entry else { continue };
        let rev = &snap.revisions[&entry.revision];
        if let Some(list) = &confinements {
            if !list.contains(&rev.confinement.as_str()) {
                continue;
            }
        }
        results.push(model.find_result(snap, entry, &base));
        if results.len() >= MAX_FIND_RESULTS {
            break;
        }
    }
    let mut body = to_json(&FindResponse { results });
    for r in body["results"].as_array_mut().into_iter().flatten() {
        crate::fields::project(&mut r["snap"], &fields, &[]);
        crate::fields::project(&mut r["revision"], &fields, &["channel"]);
    }
    axum::Json(body).into_response()
}

async fn categories(State(state): State<Shared>) -> Response {
    let categories = state
        .model
        .categories
        .iter()
        .map(|c| CategoryName { name: c.clone() })
        .collect();
    axum::Json(CategoriesResponse { categories }).into_response()
}

fn bad_request(message: impl Into<String>) -> Response {
    error_list(StatusCode::BAD_REQUEST, "invalid-request", message)
}

struct ContextEntry {
    snap_id: String,
    revision: u32,
    tracking: String,
    epoch: api::Epoch,
}

/// A per-snap error result.
fn result_error(
    instance_key: &str,
    name: Option<&str>,
    snap_id: Option<&str>,
    error: ErrorEntry,
) -> ActionResult {
    ActionResult {
        result: ActionResult::ERROR.into(),
        instance_key: instance_key.to_string(),
        name: name.map(str::to_string),
        snap_id: snap_id.map(str::to_string),
        error: Some(error),
        ..Default::default()
    }
}

/// Keys a refresh request may have; anything else is refused, as the real store does.
const REFRESH_KEYS: &[&str] = &["context", "actions", "fields", "assertion-max-formats"];

/// Parse the body of `POST /v2/snaps/refresh` into the shared types, refusing what the real store
/// refuses (unknown top-level keys, a missing context, entries without their keys). The fields
/// are those named, or the real store's default set when the request has no `fields` key.
fn parse_refresh(body: &[u8]) -> Result<(RefreshRequest, HashSet<String>), Response> {
    let req: Value = serde_json::from_slice(body)
        .map_err(|e| bad_request(format!("the request body is not valid JSON: {e}")))?;
    let Some(obj) = req.as_object() else {
        return Err(bad_request("the request body must be a JSON object"));
    };
    if let Some(key) = obj.keys().find(|k| !REFRESH_KEYS.contains(&k.as_str())) {
        return Err(bad_request(format!("unknown key {key:?}")));
    }
    if !obj.get("context").is_some_and(Value::is_array) {
        return Err(bad_request(
            "context must be a list (empty when nothing is installed)",
        ));
    }
    if !obj.get("actions").is_some_and(Value::is_array) {
        return Err(bad_request("actions must be a list"));
    }
    let has_fields = obj.contains_key("fields");
    let req: RefreshRequest =
        serde_json::from_value(req).map_err(|e| bad_request(format!("the request body: {e}")))?;
    let fields = crate::fields::parse(has_fields.then(|| req.fields.iter().map(String::as_str)))
        .map_err(|e| error_list(StatusCode::BAD_REQUEST, "invalid-field", e))?;
    for (i, c) in req.context.iter().enumerate() {
        let what = format!("context[{i}]");
        for (key, v) in [
            ("snap-id", &c.snap_id),
            ("instance-key", &c.instance_key),
            ("tracking-channel", &c.tracking_channel),
        ] {
            if v.is_empty() {
                return Err(bad_request(format!("{what}: {key:?} must be a string")));
            }
        }
        if c.revision == 0 {
            return Err(bad_request(format!(
                "{what}: \"revision\" must be a positive integer"
            )));
        }
    }
    for (i, a) in req.actions.iter().enumerate() {
        check_action(a, &format!("actions[{i}]"))?;
    }
    Ok((req, fields))
}

/// An action has its keys: snap actions an `instance-key`, `fetch-assertions` a `key` (snapd
/// sends it no instance-key).
fn check_action(a: &ActionItem, what: &str) -> Result<(), Response> {
    if a.action.is_empty() {
        return Err(bad_request(format!("{what}: \"action\" must be a string")));
    }
    if a.action == action::FETCH_ASSERTIONS {
        if a.key.as_deref().unwrap_or("").is_empty() && a.instance_key.is_empty() {
            return Err(bad_request(format!(
                "{what}: \"key\" must be a string for fetch-assertions"
            )));
        }
    } else if a.instance_key.is_empty() {
        return Err(bad_request(format!(
            "{what}: \"instance-key\" must be a string"
        )));
    }
    if a.revision == Some(0) {
        return Err(bad_request(format!(
            "{what}: \"revision\" must be a positive integer"
        )));
    }
    Ok(())
}

async fn refresh(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.starts_with("application/json"))
    {
        return error_list(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid-request",
            "the request body must be application/json",
        );
    }
    let arch = match device_architecture(&headers) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let (req, fields) = match parse_refresh(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let ctx: HashMap<&str, ContextEntry> = req
        .context
        .iter()
        .map(|c| {
            (
                c.instance_key.as_str(),
                ContextEntry {
                    snap_id: c.snap_id.clone(),
                    revision: c.revision,
                    tracking: c.tracking_channel.clone(),
                    epoch: c.epoch.clone(),
                },
            )
        })
        .collect();
    let ask = Ask {
        state: &state,
        ctx: &ctx,
        base: base_url(&state, &headers),
        arch,
    };
    let mut results = Vec::new();
    for (i, a) in req.actions.iter().enumerate() {
        match resolve_action(&ask, a, &format!("actions[{i}]")) {
            Ok(Some(r)) => results.push(r),
            Ok(None) => {}
            Err(r) => return r,
        }
    }
    if crate::delta::accepted(&headers) {
        crate::delta::offer(&state, &req.context, &mut results, &ask.base).await;
    }
    let mut body = to_json(&RefreshResponse {
        results,
        error_list: Vec::new(),
    });
    for r in body["results"].as_array_mut().into_iter().flatten() {
        if let Some(snap) = r.get_mut("snap") {
            crate::fields::project(snap, &fields, &["name", "snap-id", "revision"]);
        }
    }
    axum::Json(body).into_response()
}

/// What every action of one refresh request is resolved against.
struct Ask<'a> {
    state: &'a AppState,
    ctx: &'a HashMap<&'a str, ContextEntry>,
    base: String,
    arch: String,
}

/// Whether a revision of epoch `new` can read the data an installed revision of epoch `old`
/// wrote: snapd's rule (one of `new.read` is in `old.write`).
fn can_read(new: &api::Epoch, old: &api::Epoch) -> bool {
    new.read.iter().any(|r| old.write.contains(r))
}

/// The snap an action is about, the channel asked for and what is installed, or its result
/// when the store has no such snap.
type Target<'a> = (&'a crate::model::SnapView, String, Option<&'a ContextEntry>);

fn action_target<'a>(
    ask: &Ask<'a>,
    a: &ActionItem,
    what: &str,
) -> Result<Result<Target<'a>, ActionResult>, Response> {
    let model = &ask.state.model;
    let instance_key = a.instance_key.as_str();
    if a.action == action::REFRESH {
        let Some(snap_id) = a.snap_id.as_deref() else {
            return Err(bad_request(format!("{what}: \"snap-id\" must be a string")));
        };
        let Some(c) = ask.ctx.get(instance_key) else {
            return Err(bad_request(format!(
                "{what}: instance-key {instance_key:?} is not in the context"
            )));
        };
        if c.snap_id != snap_id {
            return Err(bad_request(format!(
                "{what}: snap-id does not match the context entry"
            )));
        }
        return Ok(
            match model.by_id.get(snap_id).and_then(|n| model.snaps.get(n)) {
                Some(s) => Ok((
                    s,
                    a.channel.clone().unwrap_or_else(|| c.tracking.clone()),
                    Some(c),
                )),
                None => Err(result_error(
                    instance_key,
                    None,
                    Some(snap_id),
                    ErrorEntry::new("id-not-found", format!("No snap with id '{snap_id}' found")),
                )),
            },
        );
    }
    let Some(name) = a.name.as_deref() else {
        return Err(bad_request(format!("{what}: \"name\" must be a string")));
    };
    Ok(match model.snaps.get(name) {
        Some(s) => Ok((
            s,
            a.channel.clone().unwrap_or_else(|| "stable".into()),
            None,
        )),
        None => Err(result_error(
            instance_key,
            Some(name),
            None,
            ErrorEntry::new("name-not-found", format!("No snap named '{name}' found")),
        )),
    })
}

/// The revision a channel offers to what is installed: its head when that can read the
/// installed data, else the newest earlier head that can (an epoch bridge), else none.
fn offered(
    snap: &crate::model::SnapView,
    entry: &ChannelEntry,
    installed: Option<&ContextEntry>,
) -> Option<u32> {
    let Some(installed) = installed else {
        return Some(entry.revision);
    };
    std::iter::once(&entry.revision)
        .chain(entry.history.iter().rev())
        .copied()
        .find(|r| can_read(&snap.revisions[r].epoch, &installed.epoch))
}

/// The result of one action: `None` when a refresh finds the snap up to date (the real store
/// leaves it out), `Err` for a request the store refuses as a whole.
fn resolve_action(
    ask: &Ask<'_>,
    a: &ActionItem,
    what: &str,
) -> Result<Option<ActionResult>, Response> {
    match a.action.as_str() {
        action::INSTALL | action::DOWNLOAD | action::REFRESH => {}
        action::FETCH_ASSERTIONS => return Ok(Some(fetch_assertions(ask.state, a, &ask.base))),
        other => {
            return Err(bad_request(format!(
                "{what}: unknown action {other:?} (expected install, download, refresh or fetch-assertions)"
            )))
        }
    }
    let (snap, channel_text, current) = match action_target(ask, a, what)? {
        Ok(t) => t,
        Err(result) => return Ok(Some(result)),
    };
    let instance_key = a.instance_key.as_str();
    let asked = crate::catalog::parse_channel_ref(&channel_text)
        .map_err(|e| error_list(StatusCode::BAD_REQUEST, "invalid-channel", e))?;
    let entry = snap.resolve(&asked, &ask.arch);
    let chosen = match a.revision {
        Some(r) if snap.revisions.contains_key(&r) => Some((r, entry)),
        Some(_) => None,
        None => entry.and_then(|e| offered(snap, e, current).map(|r| (r, Some(e)))),
    };
    let Some((rev_no, entry)) = chosen else {
        if a.revision.is_none() && entry.is_some() {
            // Open, but nothing in it can read the installed data: no update for this snap.
            return Ok(None);
        }
        return Ok(Some(revision_not_found(
            snap,
            instance_key,
            a.revision,
            &channel_text,
            &ask.arch,
        )));
    };
    if a.action == action::REFRESH && current.map(|c| c.revision) == Some(rev_no) {
        // Up to date: the real store leaves it out of the results.
        return Ok(None);
    }
    // A channel without a track on a snap with a default track: tell the client where it went.
    let redirect = match (&asked.track, &snap.entry.default_track) {
        (None, Some(track)) => Some(match &asked.branch {
            Some(b) => format!("{track}/{}/{b}", asked.risk),
            None => format!("{track}/{}", asked.risk),
        }),
        _ => None,
    };
    let rev = &snap.revisions[&rev_no];
    Ok(Some(ActionResult {
        result: a.action.clone(),
        instance_key: instance_key.to_string(),
        snap_id: Some(snap.snap_id.clone()),
        name: Some(snap.entry.name.clone()),
        effective_channel: entry.map(|c| c.short_name()),
        redirect_channel: redirect,
        released_at: entry.map(|c| c.released_at.clone()),
        snap: Some(ask.state.model.store_snap(snap, rev, &ask.base)),
        ..Default::default()
    }))
}

/// No revision for what was asked: the error names the channels of this architecture that do
/// have one (the real store's `extra.releases`).
fn revision_not_found(
    snap: &crate::model::SnapView,
    instance_key: &str,
    revision: Option<u32>,
    channel: &str,
    arch: &str,
) -> ActionResult {
    let releases = snap
        .channels
        .iter()
        .filter(|c| c.serves(arch))
        .map(|c| Release {
            architecture: arch.to_string(),
            channel: c.name(),
        })
        .collect();
    let message = match revision {
        Some(r) => format!("No revision {r} of '{}'", snap.entry.name),
        None => format!(
            "No revision of '{}' in channel {channel} for architecture {arch}",
            snap.entry.name
        ),
    };
    let mut error = ErrorEntry::new("revision-not-found", message);
    error.extra = Some(ErrorExtra { releases });
    result_error(
        instance_key,
        Some(&snap.entry.name),
        Some(&snap.snap_id),
        error,
    )
}

/// A `fetch-assertions` action: a stream URL per assertion the store holds that is newer than
/// `if-newer-than`, a `not-found` error for the others, the action's `key` echoed.
fn fetch_assertions(state: &AppState, a: &ActionItem, base: &str) -> ActionResult {
    let mut urls = Vec::new();
    let mut errors = Vec::new();
    for want in &a.assertions {
        let kind = want.assertion_type.as_str();
        let pk = &want.primary_key;
        match lookup_assertion(state, kind, pk) {
            Ok(Some(bytes)) => {
                let revision = assertion_revision(&bytes);
                if want.if_newer_than.is_none_or(|known| revision > known) {
                    urls.push(format!("{base}/v2/assertions/{kind}/{}", pk.join("/")));
                }
            }
            Ok(None) | Err(_) => errors.push(ErrorEntry {
                assertion_type: Some(kind.to_string()),
                primary_key: Some(pk.clone()),
                ..ErrorEntry::new("not-found", format!("{kind} {pk:?} not found"))
            }),
        }
    }
    ActionResult {
        result: action::FETCH_ASSERTIONS.into(),
        instance_key: a.instance_key.clone(),
        key: Some(a.key.clone().unwrap_or_else(|| a.instance_key.clone())),
        assertion_stream_urls: Some(urls),
        error_list: (!errors.is_empty()).then_some(errors),
        ..Default::default()
    }
}

/// The `revision` header of an encoded assertion (0 when it has none, as the format says).
fn assertion_revision(bytes: &[u8]) -> u32 {
    let headers = bytes.split(|b| *b == b'\n').take_while(|l| !l.is_empty());
    headers
        .filter_map(|l| {
            std::str::from_utf8(l)
                .ok()?
                .strip_prefix("revision: ")?
                .parse()
                .ok()
        })
        .next()
        .unwrap_or(0)
}

/// Find or sign the assertion with that type and primary key.
fn lookup_assertion(
    state: &AppState,
    kind: &str,
    pk: &[String],
) -> Result<Option<Vec<u8>>, String> {
    let model = &state.model;
    let signer = &state.signer;
    let err = |e: crate::signing::SigningError| e.to_string();
    match (kind, pk) {
        ("account", [id]) => {
            if id == signer.authority_id() {
                return Ok(Some(signer.chain()[0].encode()));
            }
            match model.catalog.publisher(id) {
                Some(p) => signer.publisher_account(p).map(Some).map_err(err),
                None => Ok(None),
            }
        }
        ("account-key", [key_id]) => Ok(signer
            .chain()
            .iter()
            .find(|a| {
                a.type_name() == "account-key"
                    && a.header_str("public-key-sha3-384") == Some(key_id.as_str())
            })
            .map(|a| a.encode())),
        ("snap-declaration", [series, snap_id]) if series == "16" => {
            match model.by_id.get(snap_id).and_then(|n| model.snaps.get(n)) {
                Some(s) => signer
                    .snap_declaration(
                        &s.snap_id,
                        &s.entry.name,
                        &s.publisher.id,
                        (&s.entry.aliases, &s.entry.auto_aliases),
                        s.entry.declaration_plugs.as_ref(),
                    )
                    .map(Some)
                    .map_err(err),
                None => Ok(None),
            }
        }
        ("snap-revision", [digest]) | ("snap-revision", [digest, _]) => {
            if pk.len() == 2 && pk[1] != "global-upload" {
                return Ok(None);
            }
            let Ok(d) = snapshelf_snap::digest::Sha3_384::from_base64url(digest) else {
                return Ok(None);
            };
            let hex = d.to_hex();
            for snap in model.snaps.values() {
                if let Some(rev) = snap.revisions.values().find(|r| r.sha3_384 == hex) {
                    return signer
                        .snap_revision(
                            &hex,
                            &snap.snap_id,
                            rev.size,
                            rev.revision,
                            &snap.publisher.id,
                        )
                        .map(Some)
                        .map_err(err);
                }
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}

fn assertion_not_found(kind: &str, pk: &[String]) -> Response {
    let body = ErrorList::one(
        "not-found",
        format!("{kind} with primary key {pk:?} not found"),
    );
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/problem+json")],
        to_json(&body).to_string(),
    )
        .into_response()
}

async fn assertions(
    State(state): State<Shared>,
    UrlPath(key): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let series = headers
        .get("Snap-Device-Series")
        .or_else(|| headers.get("X-Ubuntu-Series"));
    match series.map(|v| v.as_bytes()) {
        Some(b"16") => {}
        Some(_) => {
            return error_list(
                StatusCode::BAD_REQUEST,
                "invalid-header",
                "only series 16 is supported",
            )
        }
        None => {
            return error_list(
                StatusCode::BAD_REQUEST,
                "missing-header",
                "Missing Snap-Device-Series (or X-Ubuntu-Series) header",
            )
        }
    }
    let mut parts = key.split('/').map(str::to_string);
    let kind = parts.next().unwrap_or_default();
    let pk: Vec<String> = parts.collect();
    if pk.is_empty() || pk.iter().any(|p| p.is_empty() || p.len() > 256) {
        return error_list(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "malformed assertion primary key",
        );
    }
    // Signing may touch the disk; keep it off the async workers.
    let st = state.clone();
    let (kind2, pk2) = (kind.clone(), pk.clone());
    let found = tokio::task::spawn_blocking(move || lookup_assertion(&st, &kind2, &pk2)).await;
    match found {
        Ok(Ok(Some(bytes))) => ([(header::CONTENT_TYPE, ASSERTION_TYPE)], bytes).into_response(),
        Ok(Ok(None)) => assertion_not_found(&kind, &pk),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot produce an assertion");
            error_list(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal-error",
                "cannot sign the assertion",
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "assertion task failed");
            error_list(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal-error",
                "internal error",
            )
        }
    }
}

/// Parse a single `bytes=` range against `size`. `Ok(None)`: no usable Range header (send it all).
pub(crate) fn parse_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(value) = headers.get(header::RANGE) else {
        return Ok(None);
    };
    let Some(spec) = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Ok(None); // other units are ignored, as RFC 9110 allows
    };
    if spec.contains(',') {
        return Ok(None); // multipart ranges are not worth serving; the whole file is a valid answer
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        (size.saturating_sub(n), size.checked_sub(1).ok_or(())?)
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end: u64 = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse().map_err(|_| ())?
        };
        (start, end.min(size.saturating_sub(1)))
    };
    if range.0 >= size || range.0 > range.1 {
        return Err(());
    }
    Ok(Some(range))
}

async fn download(
    State(state): State<Shared>,
    UrlPath(file): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    // Only names the index produced are served: nothing in the URL becomes a path.
    let Some((path, size)) = state.model.downloads.get(&file).cloned() else {
        return error_list(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no download named {file:?}"),
        );
    };
    if let Some(cdn) = &state.cdn_url {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        return match HeaderValue::from_str(&format!("{cdn}{name}")) {
            Ok(to) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
            Err(_) => error_list(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal-error",
                "the CDN address is not a valid header value",
            ),
        };
    }
    let range = match parse_range(&headers, size) {
        Ok(r) => r,
        Err(()) => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{size}"))],
                axum::Json(ErrorList::one("invalid-range", "range not satisfiable")),
            )
                .into_response()
        }
    };
    let mut f = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(file = %path.display(), error = %e, "cannot open a snap for download");
            return error_list(StatusCode::NOT_FOUND, "not-found", "the file is gone");
        }
    };
    let (status, start, len) = match range {
        Some((a, b)) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        None => (StatusCode::OK, 0, size),
    };
    if start > 0 {
        if let Err(e) = f.seek(std::io::SeekFrom::Start(start)).await {
            tracing::error!(error = %e, "seek failed");
            return error_list(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal-error",
                "cannot read the file",
            );
        }
    }
    // A reader thread fills large chunks ahead of the socket: tokio's File would hop to the blocking
    // pool for every 2 MiB read, which costs a fifth of the throughput on loopback.
    let file = f.into_std().await;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<axum::body::Bytes>>(4);
    let cut = match (state.cut_downloads_after, range) {
        (Some(n), None) if n < len => Some(n),
        _ => None,
    };
    let rate = state.download_rate.filter(|r| *r > 0);
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let want = cut.unwrap_or(len);
        let mut reader = file.take(want);
        let mut sent = 0u64;
        // Paced: a tenth of a second's worth at a time, each sent when the rate says it is due.
        let chunk = rate.map_or(DOWNLOAD_CHUNK, |r| {
            (r as usize / 10).clamp(1, DOWNLOAD_CHUNK)
        });
        let began = std::time::Instant::now();
        loop {
            if let Some(r) = rate {
                let due = std::time::Duration::from_secs_f64(sent as f64 / r as f64);
                if let Some(wait) = due.checked_sub(began.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            let mut buf = vec![0u8; chunk];
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            };
            buf.truncate(n);
            sent += n as u64;
            if tx.blocking_send(Ok(axum::body::Bytes::from(buf))).is_err() {
                break; // the client went away
            }
        }
        if cut.is_some() || sent < want {
            // Cut on purpose, or the file shrank since it was indexed: the response cannot be
            // completed. Let the bytes reach the client before the connection is torn down (an
            // immediate abort could discard them in the socket buffer), so a resume starts after them.
            std::thread::sleep(std::time::Duration::from_millis(200));
            let _ = tx.blocking_send(Err(std::io::Error::other(
                "the download cannot be completed",
            )));
        }
    });
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{size}", start + len - 1)) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    resp
}

async fn media(
    State(state): State<Shared>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let Some(file) = state.model.media.get(&path).cloned() else {
        return error_list(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no media named {path:?}"),
        );
    };
    let bytes = match tokio::fs::read(&file).await {
        Ok(b) => b,
        Err(_) => return error_list(StatusCode::NOT_FOUND, "not-found", "the file is gone"),
    };
    let etag = format!(
        "\"{}\"",
        &hex::encode(sha3::Digest::finalize(sha3::Digest::chain_update(
            sha3::Sha3_256::default(),
            &bytes
        )))[..32]
    );
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let mime = match path.rsplit('.').next() {
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("jpg") | Some("jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        _ => "application/octet-stream",
    };
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (header::ETAG, etag),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(v: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
        parse_range(&h, size)
    }

    #[test]
    fn ranges() {
        assert_eq!(range("bytes=0-99", 1000), Ok(Some((0, 99))));
        assert_eq!(range("bytes=900-", 1000), Ok(Some((900, 999))));
        assert_eq!(range("bytes=-100", 1000), Ok(Some((900, 999))));
        assert_eq!(range("bytes=990-2000", 1000), Ok(Some((990, 999))));
        assert_eq!(range("bytes=1000-", 1000), Err(()));
        assert_eq!(range("bytes=5-4", 1000), Err(()));
        assert_eq!(range("bytes=x-4", 1000), Err(()));
        assert_eq!(range("bytes=-0", 1000), Err(()));
        assert_eq!(range("items=0-1", 1000), Ok(None));
        assert_eq!(range("bytes=0-1,5-6", 1000), Ok(None));
    }
}
