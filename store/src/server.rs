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

use crate::catalog::parse_channel;
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

/// Every key a client may ask for in `fields`.
const KNOWN_FIELDS: &[&str] = &[
    "architectures",
    "base",
    "categories",
    "channel",
    "common-ids",
    "confinement",
    "contact",
    "created-at",
    "description",
    "download",
    "epoch",
    "integrity",
    "license",
    "links",
    "media",
    "name",
    "prices",
    "private",
    "publisher",
    "resources",
    "revision",
    "snap-id",
    "snap-yaml",
    "store-url",
    "summary",
    "title",
    "type",
    "version",
    "website",
];

/// `None` means "everything we have".
fn parse_fields(raw: Option<&str>) -> Result<Option<HashSet<String>>, Response> {
    let Some(raw) = raw else { return Ok(None) };
    let mut set = HashSet::new();
    for f in raw.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        if !KNOWN_FIELDS.contains(&f) {
            return Err(error_list(
                StatusCode::BAD_REQUEST,
                "invalid-field",
                format!("unknown field {f:?}"),
            ));
        }
        set.insert(f.to_string());
    }
    Ok(Some(set))
}

/// Apply a `fields` projection to one object of an answer already written through the store
/// types: keys not asked for go, except those in `keep` (which the real store always sends).
fn project(v: &mut Value, fields: &Option<HashSet<String>>, keep: &[&str]) {
    if let (Some(fields), Value::Object(m)) = (fields, v) {
        m.retain(|k, _| fields.contains(k) || keep.contains(&k.as_str()));
    }
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

fn architecture(params: &HashMap<String, String>) -> String {
    params
        .get("architecture")
        .cloned()
        .unwrap_or_else(|| "amd64".into())
}

fn channel(c: &ChannelEntry, arch: &str) -> api::Channel {
    api::Channel {
        architecture: arch.to_string(),
        name: c.risk.clone(),
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
    let fields = match parse_fields(params.get("fields").map(String::as_str)) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(snap) = state.model.snaps.get(&name) else {
        return snap_not_found(&name);
    };
    let base = base_url(&state, &headers);
    let arch = architecture(&params);
    let model = &state.model;
    let channel_map = snap
        .channels
        .iter()
        .map(|c| api::ChannelMapEntry {
            revision: model.revision_details(snap, &snap.revisions[&c.revision], &base),
            channel: channel(c, &arch),
        })
        .collect();
    let default = snap.default_channel().map(|c| &snap.revisions[&c.revision]);
    let Some(default) = default else {
        return snap_not_found(&name);
    };
    let answer = InfoResponse {
        channel_map,
        default_track: None,
        name: snap.entry.name.clone(),
        snap: model.snap_details(snap, default, &base),
        snap_id: snap.snap_id.clone(),
    };
    let mut body = to_json(&answer);
    if let Some(entries) = body["channel-map"].as_array_mut() {
        entries
            .iter_mut()
            .for_each(|e| project(e, &fields, &["channel"]));
    }
    project(&mut body["snap"], &fields, &["name", "snap-id"]);
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
    let fields = match parse_fields(params.get("fields").map(String::as_str)) {
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
        Some(c) if !wide => match parse_channel(c) {
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
    // The common case (default fields, default channel) is served from JSON made at start-up.
    if fields.is_none() && channel.is_none() && confinements.is_none() {
        let mut body = String::from("{\"results\":[");
        for (i, snap) in hits
            .iter()
            .filter(|s| !s.find_json.is_empty())
            .take(MAX_FIND_RESULTS)
            .enumerate()
        {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&snap.find_json);
        }
        body.push_str("]}");
        let body = body.replace(crate::model::BASE_PLACEHOLDER, &base);
        return ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    let mut results = Vec::new();
    for snap in hits {
        let entry = match &channel {
            Some((track, risk)) => snap.channel(track, risk),
            None => snap.default_channel(),
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
        project(&mut r["snap"], &fields, &[]);
        project(&mut r["revision"], &fields, &["channel"]);
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

fn short_channel(track: &str, risk: &str) -> String {
    if track == "latest" {
        risk.to_string()
    } else {
        format!("{track}/{risk}")
    }
}

/// Keys a refresh request may have; anything else is refused, as the real store does.
const REFRESH_KEYS: &[&str] = &["context", "actions", "fields", "assertion-max-formats"];

/// Parse the body of `POST /v2/snaps/refresh` into the shared types, refusing what the real store
/// refuses (unknown top-level keys, a missing context, entries without their keys). `fields` is
/// `None` when the request has no `fields` key (everything), `Some` of the set otherwise.
fn parse_refresh(body: &[u8]) -> Result<(RefreshRequest, Option<HashSet<String>>), Response> {
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
    let fields = if has_fields {
        let mut set = HashSet::new();
        for f in &req.fields {
            if !KNOWN_FIELDS.contains(&f.as_str()) {
                return Err(error_list(
                    StatusCode::BAD_REQUEST,
                    "invalid-field",
                    format!("unknown field {f:?}"),
                ));
            }
            set.insert(f.clone());
        }
        Some(set)
    } else {
        None
    };
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
        let what = format!("actions[{i}]");
        if a.action.is_empty() || a.instance_key.is_empty() {
            return Err(bad_request(format!(
                "{what}: \"action\" and \"instance-key\" must be strings"
            )));
        }
        if a.revision == Some(0) {
            return Err(bad_request(format!(
                "{what}: \"revision\" must be a positive integer"
            )));
        }
    }
    Ok((req, fields))
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
                },
            )
        })
        .collect();
    let base = base_url(&state, &headers);
    let mut results = Vec::new();
    for (i, a) in req.actions.iter().enumerate() {
        match resolve_action(&state, &ctx, a, &base, &format!("actions[{i}]")) {
            Ok(Some(r)) => results.push(r),
            Ok(None) => {}
            Err(r) => return r,
        }
    }
    let mut body = to_json(&RefreshResponse {
        results,
        error_list: Vec::new(),
    });
    for r in body["results"].as_array_mut().into_iter().flatten() {
        if let Some(snap) = r.get_mut("snap") {
            project(snap, &fields, &["name", "snap-id", "revision", "download"]);
        }
    }
    axum::Json(body).into_response()
}

/// The result of one action: `None` when a refresh finds the snap up to date (the real store
/// leaves it out), `Err` for a request the store refuses as a whole.
fn resolve_action(
    state: &AppState,
    ctx: &HashMap<&str, ContextEntry>,
    a: &ActionItem,
    base: &str,
    what: &str,
) -> Result<Option<ActionResult>, Response> {
    let model = &state.model;
    let instance_key = a.instance_key.as_str();
    let (snap, channel_text, current) = match a.action.as_str() {
        action::INSTALL | action::DOWNLOAD => {
            let Some(name) = a.name.as_deref() else {
                return Err(bad_request(format!("{what}: \"name\" must be a string")));
            };
            match model.snaps.get(name) {
                Some(s) => (s, a.channel.clone().unwrap_or_else(|| "stable".into()), None),
                None => {
                    return Ok(Some(result_error(
                        instance_key,
                        Some(name),
                        None,
                        ErrorEntry::new("name-not-found", format!("No snap named '{name}' found")),
                    )))
                }
            }
        }
        action::REFRESH => {
            let Some(snap_id) = a.snap_id.as_deref() else {
                return Err(bad_request(format!("{what}: \"snap-id\" must be a string")));
            };
            let Some(c) = ctx.get(instance_key) else {
                return Err(bad_request(format!(
                    "{what}: instance-key {instance_key:?} is not in the context"
                )));
            };
            if c.snap_id != snap_id {
                return Err(bad_request(format!(
                    "{what}: snap-id does not match the context entry"
                )));
            }
            match model.by_id.get(snap_id).and_then(|n| model.snaps.get(n)) {
                Some(s) => (
                    s,
                    a.channel.clone().unwrap_or_else(|| c.tracking.clone()),
                    Some(c.revision),
                ),
                None => {
                    return Ok(Some(result_error(
                        instance_key,
                        None,
                        Some(snap_id),
                        ErrorEntry::new(
                            "id-not-found",
                            format!("No snap with id '{snap_id}' found"),
                        ),
                    )))
                }
            }
        }
        action::FETCH_ASSERTIONS => return Ok(Some(fetch_assertions(state, a, base))),
        other => {
            return Err(bad_request(format!(
                "{what}: unknown action {other:?} (expected install, download, refresh or fetch-assertions)"
            )))
        }
    };
    let (track, risk) = parse_channel(&channel_text)
        .map_err(|e| error_list(StatusCode::BAD_REQUEST, "invalid-channel", e))?;
    let chosen = match a.revision {
        Some(r) if snap.revisions.contains_key(&r) => Some((r, snap.channel(&track, &risk))),
        Some(_) => None,
        None => snap.channel(&track, &risk).map(|c| (c.revision, Some(c))),
    };
    let Some((rev_no, channel)) = chosen else {
        return Ok(Some(revision_not_found(
            snap,
            instance_key,
            a.revision,
            &channel_text,
        )));
    };
    if a.action == action::REFRESH && current == Some(rev_no) {
        // Up to date: the real store leaves it out of the results.
        return Ok(None);
    }
    let rev = &snap.revisions[&rev_no];
    Ok(Some(ActionResult {
        result: a.action.clone(),
        instance_key: instance_key.to_string(),
        snap_id: Some(snap.snap_id.clone()),
        name: Some(snap.entry.name.clone()),
        effective_channel: channel.map(|c| short_channel(&c.track, &c.risk)),
        snap: Some(model.store_snap(snap, rev, base)),
        ..Default::default()
    }))
}

/// No revision for what was asked: the error names the channels that do have one.
fn revision_not_found(
    snap: &crate::model::SnapView,
    instance_key: &str,
    revision: Option<u32>,
    channel: &str,
) -> ActionResult {
    let releases = snap
        .channels
        .iter()
        .map(|c| Release {
            architecture: "amd64".into(),
            channel: c.name(),
        })
        .collect();
    let message = match revision {
        Some(r) => format!("No revision {r} of '{}'", snap.entry.name),
        None => format!("No revision of '{}' in channel {channel}", snap.entry.name),
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

fn fetch_assertions(state: &AppState, a: &ActionItem, base: &str) -> ActionResult {
    let mut urls = Vec::new();
    let mut errors = Vec::new();
    for want in &a.assertions {
        let kind = want.assertion_type.as_str();
        let pk = &want.primary_key;
        match lookup_assertion(state, kind, pk) {
            Ok(Some(_)) => urls.push(format!("{base}/v2/assertions/{kind}/{}", pk.join("/"))),
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
        error_list: Some(errors),
        ..Default::default()
    }
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
fn parse_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
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
