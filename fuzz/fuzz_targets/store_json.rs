//! The store's JSON as the helper's client reads it (helper/src/store.rs, engine/plan.rs,
//! service.rs): the body is parsed with serde_json into a `Value` exactly as `send_json` does, then
//! walked the way each endpoint's answer is walked, and the `snap-yaml` strings the store sends go
//! through our snap.yaml parser, which is where unsigned store data meets our own code.
//!
//! The helper's walkers are private functions of a crate that cannot be built for fuzzing within
//! CI's budget (rusqlite, zbus, reqwest), so this target repeats their field accesses; when the
//! typed store API (`snapshelf_snap::store_api`) lands, deserialize into its types here instead.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use snapshelf_snap::yaml::SnapYaml;

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `store::media_urls`.
fn media_urls(snap: &Value, kind: &str) -> Vec<String> {
    snap["media"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["type"] == kind)
        .filter_map(|m| m["url"].as_str().map(str::to_string))
        .collect()
}

/// `store::error_list`.
fn error_list(body: &Value) -> Option<(String, String)> {
    let e = body.get("error-list")?.as_array()?.first()?;
    Some((
        e.get("code")?.as_str()?.to_string(),
        e.get("message")?.as_str().unwrap_or("").to_string(),
    ))
}

/// `store::parse_action_result` followed by `plan::resolved_from` for an answer that is not an error.
fn action_result(r: &Value) {
    if str_at(r, "result") == "error" {
        let err = &r["error"];
        let _ = (err["code"].as_str(), err["message"].as_str());
        let _: Vec<String> = err["extra"]["releases"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["channel"].as_str().map(str::to_string))
            .collect();
        return;
    }
    let snap = &r["snap"];
    let _ = (
        str_at(r, "name"),
        str_at(r, "snap-id"),
        str_at(r, "effective-channel"),
    );
    let _ = SnapYaml::parse(str_at(snap, "snap-yaml"));
    let download = &snap["download"];
    let _ = snap["revision"]
        .as_u64()
        .filter(|r| *r >= 1 && *r <= u64::from(u32::MAX));
    let sha3 = str_at(download, "sha3-384");
    let _ = sha3.len() == 96 && sha3.bytes().all(|b| b.is_ascii_hexdigit());
    let _ = (str_at(download, "url"), download["size"].as_u64());
}

/// `service::find_result_from_store` for a find result or an info answer's snap.
fn find_result(r: &Value) {
    let snap = &r["snap"];
    let rev = &r["revision"];
    let _ = media_urls(snap, "icon");
    let _ = media_urls(snap, "screenshot");
    for k in [
        "title",
        "summary",
        "license",
        "description",
        "website",
        "contact",
    ] {
        let _ = str_at(snap, k);
    }
    let _ = str_at(&snap["publisher"], "display-name");
    let _ = str_at(&snap["publisher"], "validation");
    let _: Vec<&str> = snap["categories"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let _ = (rev["download"]["size"].as_u64(), str_at(rev, "channel"));
}

/// `service` reading `GET /v2/snaps/info/<name>`.
fn info(body: &Value) {
    let map = body["channel-map"].as_array().cloned().unwrap_or_default();
    let first = map.first().cloned().unwrap_or(Value::Null);
    let r = serde_json::json!({"name": body["name"], "snap": body["snap"], "revision": {
        "version": first["version"], "confinement": first["confinement"],
        "download": first["download"], "channel": first["channel"]["name"]}});
    find_result(&r);
    let _ = SnapYaml::parse(str_at(&first, "snap-yaml"));
    for c in &map {
        let _ = format!(
            "{}/{}",
            str_at(&c["channel"], "track"),
            str_at(&c["channel"], "risk")
        );
        let _ = (c["revision"].as_u64(), c["download"]["size"].as_u64());
        let _ = str_at(&c["channel"], "released-at");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let _ = error_list(&body);
    info(&body);
    // find and refresh answers both carry `results`; categories carry `categories`.
    for r in body["results"].as_array().into_iter().flatten() {
        find_result(r);
        action_result(r);
    }
    let _: Vec<&str> = body["categories"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    // A bare per-revision record (compat's coreStoreJSON) is what `snap` holds.
    action_result(&serde_json::json!({"snap": body}));
});
