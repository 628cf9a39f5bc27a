//! Refresh deltas, as the real store offers them: when a refresh request says
//! `Snap-Accept-Delta-Format: xdelta3` and a refresh result goes from a revision the client has
//! (its context entry) to another the store holds, the result's `download.deltas` names a plain
//! xdelta3 delta between the two `.snap` files (snapd's `store/details_v2.go` `storeSnapDelta`;
//! made as snapd's `snap/squashfs/delta.go` makes the `xdelta3` format: `xdelta3 -3 -e -s`).
//! Deltas are computed on first demand with Debian's `xdelta3` and cached on disk under
//! `<dir>/.cache/deltas/`, named by the two files' digests (a changed file gets a new delta); a
//! delta no smaller than the full file is not offered. They are downloaded from
//! `/api/v1/snaps/delta/<snap-id>_<from>_<to>.xdelta3`: like every download, looked up, never a
//! path from the URL.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use snapshelf_snap::store_api::{action, ActionResult, ContextItem, Delta};

use crate::server::{error_list, AppState};

/// The one delta format this store makes.
pub const FORMAT: &str = "xdelta3";
const XDELTA3: [&str; 2] = ["/usr/bin/xdelta3", "/bin/xdelta3"];
/// A tenth of a second at the paced rate, at most this much, per chunk sent.
const CHUNK: usize = 1 << 20;

/// A delta on disk, ready to serve.
#[derive(Debug, Clone)]
pub struct Made {
    pub path: PathBuf,
    pub size: u64,
    pub sha3_384: String,
}

static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Offer deltas or not (`serve --no-deltas`).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, std::sync::atomic::Ordering::Relaxed);
}

fn xdelta3() -> Option<&'static Path> {
    XDELTA3.iter().map(Path::new).find(|p| p.is_file())
}

/// Whether the client accepts our format (`Snap-Accept-Delta-Format`, a comma-separated list).
pub fn accepted(headers: &HeaderMap) -> bool {
    ENABLED.load(std::sync::atomic::Ordering::Relaxed)
        && headers
            .get_all("snap-accept-delta-format")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|f| f.trim() == FORMAT)
}

/// One lock per delta being made, so two clients asking at once make it once.
fn making(key: &str) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut map = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry(key.to_string()).or_default().clone()
}

/// Digests of cached deltas, computed once per process.
fn known() -> &'static Mutex<HashMap<PathBuf, (u64, String)>> {
    static KNOWN: OnceLock<Mutex<HashMap<PathBuf, (u64, String)>>> = OnceLock::new();
    KNOWN.get_or_init(Default::default)
}

/// Both revisions' files and digests, from the index: `None` when the store lacks either.
fn revisions(
    state: &AppState,
    snap_id: &str,
    from: u32,
    to: u32,
) -> Option<[(PathBuf, String); 2]> {
    let model = &state.model;
    let snap = model.by_id.get(snap_id).and_then(|n| model.snaps.get(n))?;
    let one = |rev: u32| {
        let record = snap.revisions.get(&rev)?;
        let (path, _) = model.downloads.get(&format!("{snap_id}_{rev}.snap"))?;
        Some((path.clone(), record.sha3_384.clone()))
    };
    Some([one(from)?, one(to)?])
}

/// The cached delta between two files, made now if it is not there yet.
async fn ensure(
    cache: &Path,
    from: &(PathBuf, String),
    to: &(PathBuf, String),
) -> Result<Made, String> {
    let key = format!("{}_{}.{FORMAT}", from.1, to.1);
    let path = cache.join(&key);
    let lock = making(&key);
    let _held = lock.lock().await;
    let skipped = cache.join(format!("{key}.skipped"));
    if skipped.is_file() {
        return Err("making this delta took too long before; not tried again".into());
    }
    if !path.is_file() {
        let bin = xdelta3().ok_or("xdelta3 is not installed (Debian package xdelta3)")?;
        std::fs::create_dir_all(cache)
            .map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
        let tmp = cache.join(format!("{key}.tmp"));
        let (src, tgt) = (from.0.clone(), to.0.clone());
        let out = tmp.clone();
        let made = tokio::task::spawn_blocking(move || make(bin, &src, &tgt, &out))
            .await
            .map_err(|e| format!("the delta maker failed: {e}"))?;
        if let Err(e) = made {
            let _ = std::fs::remove_file(&tmp);
            if matches!(e, Unmade::TooSlow(_)) {
                let _ = std::fs::write(&skipped, b"");
            }
            return Err(e.to_string());
        }
        std::fs::rename(&tmp, &path)
            .map_err(|e| format!("cannot rename {}: {e}", tmp.display()))?;
    }
    let memo = known()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&path)
        .cloned();
    let (size, sha3_384) = match memo {
        Some(m) => m,
        None => {
            let p = path.clone();
            let (d, n) =
                tokio::task::spawn_blocking(move || snapshelf_snap::digest::digest_file(&p))
                    .await
                    .map_err(|e| format!("the digest failed: {e}"))?
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let m = (n, d.to_hex());
            known()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(path.clone(), m.clone());
            m
        }
    };
    Ok(Made {
        path,
        size,
        sha3_384,
    })
}

/// Why a delta was not made.
#[derive(Debug, thiserror::Error)]
enum Unmade {
    #[error("{0}")]
    Failed(String),
    /// Revisions that share little take xdelta3 long for nothing; such a pair is not tried again.
    #[error("{0}")]
    TooSlow(String),
}

/// `xdelta3 -3 -f -e -B WINDOW -s FROM TO OUT`: snapd's tuning, with a source window that holds
/// the whole source file (up to 1 GiB) so that moved data is found too. Killed after two
/// seconds plus one per 10 MiB of the target: similar revisions take a fraction of that.
fn make(bin: &Path, from: &Path, to: &Path, out: &Path) -> Result<(), Unmade> {
    let size = std::fs::metadata(from).map(|m| m.len()).unwrap_or(0);
    let target = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    let window = size.next_power_of_two().clamp(1 << 26, 1 << 30);
    let limit = std::time::Duration::from_secs(2 + target / (10 << 20));
    let mut child = std::process::Command::new(bin)
        .args(["-3", "-f", "-e", "-B", &window.to_string(), "-s"])
        .arg(from)
        .arg(to)
        .arg(out)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| Unmade::Failed(format!("cannot run {}: {e}", bin.display())))?;
    let began = std::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(()),
            Ok(Some(st)) => {
                return Err(Unmade::Failed(format!(
                    "xdelta3 failed on {} → {}: {st}",
                    from.display(),
                    to.display()
                )))
            }
            Ok(None) if began.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Unmade::TooSlow(format!(
                    "xdelta3 took more than {limit:?} on {} → {}",
                    from.display(),
                    to.display()
                )));
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(20)),
            Err(e) => return Err(Unmade::Failed(format!("cannot wait for xdelta3: {e}"))),
        }
    }
}

/// Add to each refresh result the delta from the client's revision, where the store can make one
/// smaller than the file. A delta that cannot be made is logged and left out: the full file is
/// always there.
pub async fn offer(
    state: &AppState,
    context: &[ContextItem],
    results: &mut [ActionResult],
    base: &str,
) {
    let cache = state.model.dir.join(".cache/deltas");
    for r in results.iter_mut().filter(|r| r.result == action::REFRESH) {
        let Some(c) = context.iter().find(|c| c.instance_key == r.instance_key) else {
            continue;
        };
        let Some(snap) = r.snap.as_mut() else {
            continue;
        };
        let (from, to) = (c.revision, snap.revision.revision);
        if from == to {
            continue;
        }
        let Some([a, b]) = revisions(state, &c.snap_id, from, to) else {
            continue;
        };
        let made = match ensure(&cache, &a, &b).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(snap_id = %c.snap_id, from, to, error = %e, "no delta offered");
                continue;
            }
        };
        if made.size >= snap.revision.download.size {
            continue;
        }
        snap.revision
            .download
            .deltas
            .get_or_insert_with(Vec::new)
            .push(Delta {
                format: FORMAT.into(),
                source: from,
                target: to,
                url: format!(
                    "{base}/api/v1/snaps/delta/{}_{from}_{to}.{FORMAT}",
                    c.snap_id
                ),
                size: made.size,
                sha3_384: made.sha3_384,
            });
    }
}

/// `<snap-id>_<from>_<to>.xdelta3`, strictly.
fn parse_name(file: &str) -> Option<(&str, u32, u32)> {
    let stem = file.strip_suffix(&format!(".{FORMAT}"))?;
    let mut parts = stem.rsplitn(3, '_');
    let to = parts.next()?.parse().ok()?;
    let from = parts.next()?.parse().ok()?;
    let snap_id = parts.next()?;
    Some((snap_id, from, to))
}

/// `GET /api/v1/snaps/delta/<snap-id>_<from>_<to>.xdelta3`: the delta, paced like downloads;
/// a `Range` asks for the rest of it.
pub async fn download(
    State(state): State<Arc<AppState>>,
    UrlPath(file): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let not_found = || {
        error_list(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no delta named {file:?}"),
        )
    };
    let Some([a, b]) = parse_name(&file).and_then(|(id, from, to)| revisions(&state, id, from, to))
    else {
        return not_found();
    };
    let made = match ensure(&state.model.dir.join(".cache/deltas"), &a, &b).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(file, error = %e, "cannot make a delta");
            return not_found();
        }
    };
    let start = match resume_from(&headers, made.size) {
        Ok(s) => s,
        Err(()) => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{}", made.size))],
            )
                .into_response()
        }
    };
    let Ok(bytes) = tokio::fs::read(&made.path).await else {
        return not_found();
    };
    if bytes.len() as u64 != made.size {
        return error_list(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "the delta changed on disk",
        );
    }
    stream(bytes, start, state.download_rate)
}

/// The start of a `bytes=N-` range (what clients send to resume); `Ok(0)` for none.
fn resume_from(headers: &HeaderMap, size: u64) -> Result<u64, ()> {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Ok(0);
    };
    let start: u64 = spec
        .strip_suffix('-')
        .ok_or(())?
        .trim()
        .parse()
        .map_err(|_| ())?;
    if start >= size {
        return Err(());
    }
    Ok(start)
}

fn stream(bytes: Vec<u8>, start: u64, rate: Option<u64>) -> Response {
    let size = bytes.len() as u64;
    let body = axum::body::Bytes::from(bytes).slice(start as usize..);
    let len = body.len() as u64;
    let rate = rate.filter(|r| *r > 0);
    let chunk = rate.map_or(CHUNK, |r| (r as usize / 10).clamp(1, CHUNK));
    let began = tokio::time::Instant::now();
    let pieces = futures_util::stream::unfold(0usize, move |sent| {
        let body = body.clone();
        async move {
            if sent >= body.len() {
                return None;
            }
            if let Some(r) = rate {
                let due = std::time::Duration::from_secs_f64(sent as f64 / r as f64);
                tokio::time::sleep_until(began + due).await;
            }
            let end = (sent + chunk).min(body.len());
            Some((Ok::<_, std::io::Error>(body.slice(sent..end)), end))
        }
    });
    let mut resp = Response::new(Body::from_stream(pieces));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if start > 0 {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{size}", size - 1)) {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_headers() {
        assert_eq!(parse_name("abc_DEF_1_2.xdelta3"), Some(("abc_DEF", 1, 2)));
        assert_eq!(parse_name("abc_1_2.snap"), None);
        assert_eq!(parse_name("abc_x_2.xdelta3"), None);
        assert_eq!(parse_name("_1_2.xdelta3"), Some(("", 1, 2)));
        let mut h = HeaderMap::new();
        assert!(!accepted(&h));
        h.insert(
            "Snap-Accept-Delta-Format",
            HeaderValue::from_static("snap-1-1-xdelta3, xdelta3"),
        );
        assert!(accepted(&h));
        h.insert(
            "Snap-Accept-Delta-Format",
            HeaderValue::from_static("bsdiff"),
        );
        assert!(!accepted(&h));
        let mut r = HeaderMap::new();
        assert_eq!(resume_from(&r, 10), Ok(0));
        r.insert(header::RANGE, HeaderValue::from_static("bytes=4-"));
        assert_eq!(resume_from(&r, 10), Ok(4));
        r.insert(header::RANGE, HeaderValue::from_static("bytes=10-"));
        assert_eq!(resume_from(&r, 10), Err(()));
    }

    #[tokio::test]
    async fn a_delta_is_made_once_and_rebuilds_the_target() {
        let Some(bin) = xdelta3() else {
            snapshelf_snap::testdata::record_skip("store delta", "xdelta3 is not installed");
            return;
        };
        let t = tempfile::tempdir().unwrap();
        let a: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 253) as u8).collect();
        let mut b = a.clone();
        b[1000..1100].fill(1);
        let (pa, pb) = (t.path().join("a"), t.path().join("b"));
        std::fs::write(&pa, &a).unwrap();
        std::fs::write(&pb, &b).unwrap();
        let cache = t.path().join("cache");
        let from = (pa.clone(), "aa".to_string());
        let to = (pb.clone(), "bb".to_string());
        let made = ensure(&cache, &from, &to).await.unwrap();
        assert!(made.size < 10_000, "{}", made.size);
        assert_eq!(made.path, cache.join("aa_bb.xdelta3"));
        let again = ensure(&cache, &from, &to).await.unwrap();
        assert_eq!(
            (again.size, again.sha3_384),
            (made.size, made.sha3_384.clone())
        );
        let out = t.path().join("out");
        let st = std::process::Command::new(bin)
            .args(["-d", "-s"])
            .arg(&pa)
            .arg(&made.path)
            .arg(&out)
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(std::fs::read(out).unwrap(), b);
    }
}
