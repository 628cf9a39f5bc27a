//! The store as a client sees it: a real `snapshelf-store` process on 127.0.0.1 serving the sample
//! catalog, spoken to over HTTP, with the answers checked against the real Snap Store's shapes.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

use reqwest::blocking::Client;
use serde_json::Value;
use snapshelf_snap::assert::{decode_stream, Database};
use snapshelf_snap::digest::Sha3_384;

mod common;

use common::{serve, Server};

/// A recorded real store response, or `None` (recorded as not run) when the samples are not
/// beside the checkout; under `CI=true` they must be there.
fn recorded(name: &str) -> Option<Value> {
    snapshelf_snap::testdata::recorded_response(name)
}

/// The sample catalog, built once per test binary with a small (fast) test key chain.
fn catalog() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        common::sample_catalog(dir.path());
        dir
    })
    .path()
}

fn client() -> Client {
    Client::new()
}

fn get(s: &Server, path: &str) -> reqwest::blocking::Response {
    common::get_request(s, path).send().unwrap()
}

fn json(resp: reqwest::blocking::Response) -> Value {
    assert_eq!(
        resp.headers()["content-type"],
        "application/json",
        "snapd insists on exactly application/json"
    );
    resp.json().unwrap()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn error_code(v: &Value) -> &str {
    v["error-list"][0]["code"].as_str().unwrap_or("")
}

/// The fields snapd names in `info` (store.go's InfoFields, and snap-yaml as the helper adds it).
const SNAPD_INFO_FIELDS: &str = "architectures,base,confinement,links,contact,created-at,description,download,epoch,license,name,prices,private,publisher,revision,snap-id,summary,title,type,version,website,store-url,resources,media,common-ids,categories,snap-yaml";
/// The fields snapd names in `find`.
const SNAPD_FIND_FIELDS: &str = "base,confinement,links,contact,description,download,license,prices,private,publisher,revision,summary,title,type,version,website,store-url,media,common-ids,categories,channel";

/// The snap of the sample catalog with distinct revisions on stable, candidate and edge, and its
/// info as snapd asks for it.
fn three_channel_snap(s: &Server) -> (String, Value) {
    let cat = snapshelf_store::catalog::Catalog::load(&catalog().join("catalog.toml")).unwrap();
    for snap in &cat.snaps {
        let info = json(get(
            s,
            &format!("/v2/snaps/info/{}?fields={SNAPD_INFO_FIELDS}", snap.name),
        ));
        let revs: BTreeSet<u64> = info["channel-map"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["revision"].as_u64().unwrap())
            .collect();
        if revs.len() >= 3 {
            return (snap.name.clone(), info);
        }
    }
    panic!("the sample catalog has no snap with three revisions");
}

#[test]
fn info_has_the_real_store_shape() {
    let s = serve(catalog());
    let (name, info) = three_channel_snap(&s);
    for entry in info["channel-map"].as_array().unwrap() {
        assert_eq!(entry["download"]["sha3-384"].as_str().unwrap().len(), 96);
    }
    if let Some(real) = recorded("mockInfoJSON.json") {
        assert_eq!(keys(&info), keys(&real), "top-level keys");
        let real_entry = &real["channel-map"][0];
        for entry in info["channel-map"].as_array().unwrap() {
            assert_eq!(keys(entry), keys(real_entry), "channel-map entry keys");
            assert_eq!(keys(&entry["channel"]), keys(&real_entry["channel"]));
            assert_eq!(keys(&entry["download"]), keys(&real_entry["download"]));
            assert_eq!(keys(&entry["epoch"]), keys(&real_entry["epoch"]));
        }
        let real_snap_keys = keys(&real["snap"]);
        let ours = keys(&info["snap"]);
        let missing: Vec<_> = real_snap_keys.difference(&ours).collect();
        assert!(missing.is_empty(), "snap object lacks {missing:?}");
    }
    let risks: Vec<&str> = info["channel-map"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["channel"]["risk"].as_str().unwrap())
        .collect();
    assert_eq!(
        risks,
        ["stable", "candidate", "edge"],
        "{name}: beta is closed, so absent"
    );

    // Without `fields`, the real store's default set: no description, media or snap-yaml.
    let plain = json(get(&s, &format!("/v2/snaps/info/{name}")));
    let defaults: BTreeSet<String> = snapshelf_store::fields::DEFAULT
        .iter()
        .map(|f| f.to_string())
        .collect();
    for entry in plain["channel-map"].as_array().unwrap() {
        let mut expected: BTreeSet<String> = keys(&info["channel-map"][0])
            .intersection(&defaults)
            .cloned()
            .collect();
        expected.insert("channel".into());
        assert_eq!(keys(entry), expected, "default channel-map keys");
    }
    let snap_keys = keys(&plain["snap"]);
    assert!(snap_keys.is_subset(&defaults), "{snap_keys:?}");
    for key in [
        "name",
        "snap-id",
        "title",
        "summary",
        "publisher",
        "license",
        "prices",
    ] {
        assert!(snap_keys.contains(key), "default snap keys lack {key}");
    }

    // `fields` narrows the answer, as snapd's existence check relies on.
    let narrow = json(get(
        &s,
        &format!("/v2/snaps/info/{name}?fields=revision,version"),
    ));
    assert_eq!(
        keys(&narrow["channel-map"][0]),
        ["channel", "revision", "version"]
            .map(String::from)
            .into_iter()
            .collect()
    );

    let missing = get(&s, "/v2/snaps/info/no-such-snap");
    assert_eq!(missing.status(), 404);
    let body = json(missing);
    assert_eq!(error_code(&body), "resource-not-found");
}

#[test]
fn downloads_match_their_digest_and_support_ranges() {
    let s = serve(catalog());
    let (_, info) = three_channel_snap(&s);
    let entry = &info["channel-map"][0];
    let url = entry["download"]["url"].as_str().unwrap();
    let size = entry["download"]["size"].as_u64().unwrap();
    // Downloads need no series header.
    let resp = client().get(url).send().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["accept-ranges"], "bytes");
    let body = resp.bytes().unwrap();
    assert_eq!(body.len() as u64, size);
    let (digest, n) = snapshelf_snap::digest::digest_reader(&body[..]).unwrap();
    assert_eq!(n, size);
    assert_eq!(
        digest.to_hex(),
        entry["download"]["sha3-384"].as_str().unwrap()
    );

    let part = client()
        .get(url)
        .header("Range", "bytes=100-")
        .send()
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 100-{}/{size}", size - 1).as_str()
    );
    assert_eq!(&part.bytes().unwrap()[..], &body[100..]);

    let mid = client()
        .get(url)
        .header("Range", "bytes=10-19")
        .send()
        .unwrap();
    assert_eq!(mid.status(), 206);
    assert_eq!(&mid.bytes().unwrap()[..], &body[10..20]);

    let bad = client()
        .get(url)
        .header("Range", format!("bytes={size}-"))
        .send()
        .unwrap();
    assert_eq!(bad.status(), 416);
    assert_eq!(
        bad.headers()["content-range"],
        format!("bytes */{size}").as_str()
    );
}

#[test]
fn snap_revision_assertion_verifies_against_the_trust_root() {
    let s = serve(catalog());
    let (name, info) = three_channel_snap(&s);
    let entry = &info["channel-map"][0];
    let digest = Sha3_384::from_hex(entry["download"]["sha3-384"].as_str().unwrap()).unwrap();
    let size = entry["download"]["size"].as_u64().unwrap();
    let fetch = |path: String| {
        let resp = client()
            .get(format!("{}{path}", s.url))
            .header("X-Ubuntu-Series", "16") // the older header is accepted for assertions
            .header("Accept", "application/x.ubuntu.assertion")
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(
            resp.headers()["content-type"],
            "application/x.ubuntu.assertion"
        );
        decode_stream(&resp.bytes().unwrap()).unwrap()
    };
    let trusted =
        decode_stream(&std::fs::read(catalog().join("keys/trusted.assert")).unwrap()).unwrap();
    let mut db = Database::new(trusted).unwrap();

    let rev = fetch(format!(
        "/v2/assertions/snap-revision/{}",
        digest.to_base64url()
    ))
    .remove(0);
    assert_eq!(
        rev.header_str("snap-sha3-384"),
        Some(digest.to_base64url().as_str())
    );
    assert_eq!(rev.header_str("snap-size"), Some(size.to_string().as_str()));
    assert_eq!(
        rev.header_str("snap-revision"),
        Some(entry["revision"].to_string().as_str())
    );
    let key = fetch(format!("/v2/assertions/account-key/{}", rev.sign_key_id())).remove(0);
    let snap_id = info["snap-id"].as_str().unwrap();
    let decl = fetch(format!("/v2/assertions/snap-declaration/16/{snap_id}")).remove(0);
    assert_eq!(decl.header_str("snap-name"), Some(name.as_str()));
    let publisher = decl.header_str("publisher-id").unwrap().to_string();
    let account = fetch(format!("/v2/assertions/account/{publisher}")).remove(0);
    db.add(key).unwrap();
    db.add(account).unwrap();
    db.add(decl).unwrap();
    db.add(rev.clone()).unwrap();

    // A tampered copy does not verify.
    let mut bytes = rev.encode();
    let pos = bytes.windows(9).position(|w| w == b"snap-size").unwrap() + 11;
    bytes[pos] = if bytes[pos] == b'1' { b'2' } else { b'1' };
    let tampered = snapshelf_snap::assert::Assertion::decode(&bytes).unwrap();
    assert!(db.add(tampered).is_err());

    let missing = client()
        .get(format!(
            "{}/v2/assertions/snap-revision/{}",
            s.url,
            "A".repeat(64)
        ))
        .header("Snap-Device-Series", "16")
        .send()
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
}

#[test]
fn find_and_categories() {
    let s = serve(catalog());
    let cats = json(get(&s, "/v2/snaps/categories"));
    let names: Vec<&str> = cats["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names[0], "featured");
    assert!(names.len() > 3);

    let all = json(get(
        &s,
        &format!("/v2/snaps/find?category=featured&fields={SNAPD_FIND_FIELDS}"),
    ));
    let featured = all["results"].as_array().unwrap();
    assert!(!featured.is_empty());
    if let Some(real) = recorded("mockSearchJSONv2.json") {
        let real_result = &real["results"][0];
        assert_eq!(keys(&featured[0]), keys(real_result));
        let missing: Vec<_> = keys(&real_result["snap"])
            .difference(&keys(&featured[0]["snap"]))
            .cloned()
            .collect();
        assert!(missing.is_empty(), "find snap object lacks {missing:?}");
    }
    assert_eq!(
        keys(&featured[0]["revision"]["download"]),
        ["size".to_string()].into()
    );

    // Without `fields`, the default set: no description or media.
    let plain = json(get(&s, "/v2/snaps/find?category=featured"));
    let first = &plain["results"][0];
    assert!(first["snap"].get("description").is_none());
    assert!(first["snap"].get("media").is_none());
    assert!(first["snap"].get("title").is_some());
    assert_eq!(first["revision"]["channel"], "stable");
    assert!(first["revision"]["download"]["size"].as_u64().unwrap() > 0);

    // Search by a word of a snap's name finds it first.
    let first = featured[0]["name"].as_str().unwrap().to_string();
    let found = json(get(&s, &format!("/v2/snaps/find?q={first}")));
    assert_eq!(found["results"][0]["name"], first.as_str());
    let prefix = &first[..3];
    let by_name = json(get(&s, &format!("/v2/snaps/find?name={prefix}")));
    assert!(by_name["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["name"].as_str().unwrap().starts_with(prefix)));
    let none = json(get(&s, "/v2/snaps/find?q=zzzznothingmatcheszzzz"));
    assert_eq!(none["results"].as_array().unwrap().len(), 0);

    for bad in ["q=a%2Bb", "q=(x)", "q=a:b", "q=%22x%22", "name=a/b"] {
        let r = get(&s, &format!("/v2/snaps/find?{bad}"));
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(error_code(&json(r)), "bad-query");
    }
    let r = get(&s, "/v2/snaps/find?q=x&nonsense=1");
    assert_eq!(r.status(), 400);
    let r = get(&s, "/v2/snaps/find?q=x&fields=bogus");
    assert_eq!(r.status(), 400);
}

#[test]
fn series_header_is_required() {
    let s = serve(catalog());
    for path in [
        "/v2/snaps/find?q=a",
        "/v2/snaps/categories",
        "/v2/snaps/info/shelf-base",
    ] {
        let r = client().get(format!("{}{path}", s.url)).send().unwrap();
        assert_eq!(r.status(), 400, "{path}");
        assert_eq!(error_code(&json(r)), "missing-header");
    }
    let r = client()
        .get(format!("{}/v2/snaps/categories", s.url))
        .header("Snap-Device-Series", "15")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = client()
        .get(format!("{}/v2/assertions/account/nobody", s.url))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
}

fn post_refresh(s: &Server, body: &str) -> reqwest::blocking::Response {
    common::refresh_request(s, "amd64")
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap()
}

#[test]
fn refresh_endpoint_installs_refreshes_and_reports_errors() {
    let s = serve(catalog());
    let (name, info) = three_channel_snap(&s);
    let snap_id = info["snap-id"].as_str().unwrap();
    let rev_of = |risk: &str| {
        info["channel-map"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["channel"]["risk"] == risk)
            .unwrap()["revision"]
            .as_u64()
            .unwrap()
    };
    let body = format!(
        r#"{{"context":[],"actions":[
            {{"action":"install","instance-key":"install-1","name":"{name}","channel":"candidate","epoch":null}},
            {{"action":"download","instance-key":"download-1","name":"{name}","revision":{},"epoch":null}},
            {{"action":"install","instance-key":"install-2","name":"no-such-snap","epoch":null}},
            {{"action":"install","instance-key":"install-3","name":"{name}","channel":"9.9/stable","epoch":null}}
        ],"fields":["revision","version","snap-yaml","download","publisher"]}}"#,
        rev_of("edge")
    );
    let r = json(post_refresh(&s, &body));
    let results = r["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0]["result"], "install");
    assert_eq!(results[0]["effective-channel"], "candidate");
    assert_eq!(
        results[0]["snap"]["revision"].as_u64().unwrap(),
        rev_of("candidate")
    );
    assert!(results[0]["snap"]["snap-yaml"]
        .as_str()
        .unwrap()
        .contains(&name));
    assert!(results[0]["snap"]["download"]["url"]
        .as_str()
        .unwrap()
        .starts_with("http://"));
    assert_eq!(results[1]["result"], "download");
    assert_eq!(
        results[1]["snap"]["revision"].as_u64().unwrap(),
        rev_of("edge")
    );
    assert_eq!(results[2]["result"], "error");
    assert_eq!(results[2]["error"]["code"], "name-not-found");
    assert_eq!(results[3]["error"]["code"], "revision-not-found");
    assert!(!results[3]["error"]["extra"]["releases"]
        .as_array()
        .unwrap()
        .is_empty());

    // Refresh: stable → edge gives a result; a snap already at the channel's revision gives none.
    let refresh = |rev: u64, channel: &str| {
        format!(
            r#"{{"context":[{{"snap-id":"{snap_id}","instance-key":"{snap_id}","revision":{rev},"tracking-channel":"{channel}","epoch":{{"read":[0],"write":[0]}}}}],
               "actions":[{{"action":"refresh","instance-key":"{snap_id}","snap-id":"{snap_id}"}}]}}"#
        )
    };
    let r = json(post_refresh(&s, &refresh(rev_of("stable"), "latest/edge")));
    assert_eq!(r["results"][0]["result"], "refresh");
    assert_eq!(
        r["results"][0]["snap"]["revision"].as_u64().unwrap(),
        rev_of("edge")
    );
    let r = json(post_refresh(&s, &refresh(rev_of("edge"), "latest/edge")));
    assert_eq!(r["results"].as_array().unwrap().len(), 0);
    // Beta is closed: it follows candidate, and effective-channel says so.
    let r = json(post_refresh(&s, &refresh(rev_of("stable"), "beta")));
    assert_eq!(r["results"][0]["effective-channel"], "candidate");
    assert_eq!(
        r["results"][0]["snap"]["revision"].as_u64().unwrap(),
        rev_of("candidate")
    );
    assert!(r["results"][0]["released-at"].as_str().is_some());

    // snapd's fetch-assertions has a key and no instance-key (store_action_fetch_assertions_test).
    let fetch = format!(
        r#"{{"context":[],"actions":[{{"action":"fetch-assertions","key":"g1","assertions":[
            {{"type":"snap-declaration","primary-key":["16","{snap_id}"]}},
            {{"type":"snap-declaration","primary-key":["16","AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]}}]}}],
            "assertion-max-formats":{{"snap-declaration":6}}}}"#
    );
    let r = json(post_refresh(&s, &fetch));
    let result = &r["results"][0];
    assert_eq!(result["result"], "fetch-assertions");
    assert_eq!(result["key"], "g1");
    assert!(result.get("instance-key").is_none(), "{result}");
    let urls = result["assertion-stream-urls"].as_array().unwrap();
    assert_eq!(urls.len(), 1);
    assert!(urls[0]
        .as_str()
        .unwrap()
        .ends_with(&format!("/v2/assertions/snap-declaration/16/{snap_id}")));
    assert_eq!(result["error-list"][0]["code"], "not-found");
    assert_eq!(
        result["error-list"][0]["primary-key"][1],
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    );

    // if-newer-than (snapd's TestUpdateIfNewerThan): nothing newer is an empty list, not an error.
    let authority = snapshelf_store::catalog::Catalog::load(&catalog().join("catalog.toml"))
        .unwrap()
        .store
        .authority_id;
    let newer = |known: Option<u32>| {
        let mut want = serde_json::json!({"type": "account", "primary-key": [authority]});
        if let Some(k) = known {
            want["if-newer-than"] = k.into();
        }
        let body = serde_json::json!({"context": [], "actions": [{"action": "fetch-assertions",
            "key": "g2", "assertions": [want]}]});
        json(post_refresh(&s, &body.to_string()))["results"][0].clone()
    };
    // The store's account is at revision 0: a client that has it gets nothing, one that asks
    // without if-newer-than gets its URL.
    let current = newer(Some(0));
    assert_eq!(current["assertion-stream-urls"], serde_json::json!([]));
    assert!(current.get("error-list").is_none(), "{current}");
    let fresh = newer(None);
    assert_eq!(
        fresh["assertion-stream-urls"].as_array().unwrap().len(),
        1,
        "{fresh}"
    );

    // The real store needs the device's architecture.
    let r = client()
        .post(format!("{}/v2/snaps/refresh", s.url))
        .header("Snap-Device-Series", "16")
        .header("Content-Type", "application/json")
        .body(refresh(rev_of("stable"), "stable"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(&json(r)), "missing-header");

    for (bad, why) in [
        ("{not json", "malformed JSON"),
        ("[]", "not an object"),
        (
            r#"{"context":[],"actions":[{"action":"explode","instance-key":"x"}]}"#,
            "unknown action",
        ),
        (r#"{"actions":[]}"#, "no context"),
        (r#"{"context":[{"snap-id":1}],"actions":[]}"#, "bad context"),
        (
            r#"{"context":[],"actions":[{"action":"refresh","instance-key":"nope","snap-id":"x"}]}"#,
            "refresh outside the context",
        ),
        (r#"{"context":[],"actions":[],"surprise":1}"#, "unknown key"),
    ] {
        let r = post_refresh(&s, bad);
        assert_eq!(r.status(), 400, "{why}");
        assert!(json(r)["error-list"][0]["message"].is_string(), "{why}");
    }
}

#[test]
fn hostile_paths_get_json_errors_and_the_server_stays_up() {
    let s = serve(catalog());
    for path in [
        "/api/v1/snaps/download/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/v1/snaps/download/../../etc/passwd",
        "/api/v1/snaps/download/%2Fetc%2Fpasswd",
        "/media/..%2F..%2Fkeys%2Froot.key",
        "/media/../keys/root.key",
        "/keys/root.key",
        "/v2/snaps/info/..%2F..%2Fetc%2Fpasswd",
    ] {
        let r = get(&s, path);
        assert!(r.status().is_client_error(), "{path}: {}", r.status());
        let body: Value = r.json().unwrap_or(Value::Null);
        assert!(body["error-list"].is_array(), "{path}: {body}");
    }
    assert_eq!(get(&s, "/v2/snaps/categories").status(), 200);
}

#[test]
fn media_is_served_with_etags() {
    let s = serve(catalog());
    let (_, info) = three_channel_snap(&s);
    let icon = info["snap"]["media"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "icon")
        .expect("the sample snaps have icons");
    let url = icon["url"].as_str().unwrap();
    let r = client().get(url).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let png = r.bytes().unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let again = client()
        .get(url)
        .header("If-None-Match", etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

#[test]
fn a_corrupt_snap_is_skipped_and_the_rest_served_and_restarts_use_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(catalog(), tmp.path());
    std::fs::write(
        tmp.path().join("snaps/broken_1.snap"),
        b"hsqs this is not squashfs",
    )
    .unwrap();
    let good = std::fs::read(tmp.path().join("snaps/shelf-base_1.snap")).unwrap();
    std::fs::write(
        tmp.path().join("snaps/truncated_1.snap"),
        &good[..good.len() / 2],
    )
    .unwrap();
    {
        let s = serve(tmp.path());
        assert_eq!(get(&s, "/v2/snaps/info/broken").status(), 404);
        assert_eq!(get(&s, "/v2/snaps/info/truncated").status(), 404);
        assert_eq!(get(&s, "/v2/snaps/info/shelf-base").status(), 200);
    }
    // Every file is now in the cache: a rescan reads none of them.
    let scan = snapshelf_store::index::scan(tmp.path()).unwrap();
    assert_eq!(scan.read, 0);
    assert!(scan.skipped.iter().any(|(f, _)| f == "broken_1.snap"));
    // A changed file is read again.
    std::fs::write(
        tmp.path().join("snaps/broken_1.snap"),
        b"still broken, other size",
    )
    .unwrap();
    let scan = snapshelf_store::index::scan(tmp.path()).unwrap();
    assert_eq!(scan.read, 1);
}

/// The client reads what the server writes through the same types: every endpoint's answer parses
/// into `snapshelf_snap::store_api` with the values the raw JSON has.
#[test]
fn answers_read_back_through_the_shared_types() {
    use snapshelf_snap::store_api as api;
    let s = serve(catalog());
    let (name, raw) = three_channel_snap(&s);
    let info: api::InfoResponse = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(info.name, name);
    assert_eq!(info.snap.name, name);
    assert_eq!(info.snap_id, raw["snap-id"].as_str().unwrap());
    assert_eq!(
        info.channel_map.len(),
        3,
        "stable, candidate, edge; beta is closed"
    );
    for (entry, raw) in info
        .channel_map
        .iter()
        .zip(raw["channel-map"].as_array().unwrap())
    {
        assert_eq!(entry.channel.risk, raw["channel"]["risk"].as_str().unwrap());
        assert_eq!(
            u64::from(entry.revision.revision),
            raw["revision"].as_u64().unwrap()
        );
        assert_eq!(
            entry.revision.download.size,
            raw["download"]["size"].as_u64().unwrap()
        );
        assert!(entry
            .revision
            .download
            .url
            .as_deref()
            .unwrap()
            .starts_with("http://"));
        assert_eq!(entry.revision.epoch, api::Epoch::default());
        assert!(!entry.channel.released_at.is_empty());
    }

    let cats: api::CategoriesResponse =
        serde_json::from_value(json(get(&s, "/v2/snaps/categories"))).unwrap();
    assert_eq!(cats.categories[0].name, "featured");
    let found: api::FindResponse = serde_json::from_value(json(get(
        &s,
        &format!("/v2/snaps/find?q={name}&fields={SNAPD_FIND_FIELDS}"),
    )))
    .unwrap();
    let first = &found.results[0];
    assert_eq!(first.name, name);
    assert!(first.revision.channel.is_some());
    assert!(
        first.revision.revision.snap_yaml.is_none(),
        "find carries no snap.yaml"
    );
    assert!(first.revision.revision.download.size > 0);

    // A request built with the types, as the helper builds it, and the answer read with them.
    let req = api::RefreshRequest {
        actions: vec![
            api::ActionItem {
                action: api::action::INSTALL.into(),
                instance_key: "install-1".into(),
                name: Some(name.clone()),
                channel: Some("edge".into()),
                epoch: api::ActionEpoch::Null,
                ..Default::default()
            },
            api::ActionItem {
                action: api::action::INSTALL.into(),
                instance_key: "install-2".into(),
                name: Some("no-such-snap".into()),
                epoch: api::ActionEpoch::Null,
                ..Default::default()
            },
        ],
        fields: ["name", "revision", "download", "snap-yaml"]
            .map(String::from)
            .to_vec(),
        ..Default::default()
    };
    let answer: api::RefreshResponse = serde_json::from_value(json(post_refresh(
        &s,
        &serde_json::to_string(&req).unwrap(),
    )))
    .unwrap();
    let ok = &answer.results[0];
    assert_eq!(ok.result, "install");
    assert_eq!(ok.effective_channel.as_deref(), Some("edge"));
    let snap = ok.snap.as_ref().unwrap();
    assert_eq!(snap.details.name, name);
    assert!(snap.revision.snap_yaml.as_deref().unwrap().contains(&name));
    assert_eq!(
        snap.revision.download.sha3_384.as_deref().unwrap().len(),
        96
    );
    let err = &answer.results[1];
    assert!(err.is_error());
    assert_eq!(err.error.as_ref().unwrap().code, "name-not-found");
    assert_eq!(err.name.as_deref(), Some("no-such-snap"));
}

/// A refresh result's snap, asked with snapd's SnapActionFields, has the keys of the real store's
/// `storeSnap` (store/details_v2_test.go's thingy), but for components and dm-verity data, which
/// this store does not serve (docs/store.md).
#[test]
fn refresh_results_have_the_real_store_snap_keys() {
    let Some(real) = recorded("thingyStoreJSON.json") else {
        return;
    };
    let s = serve(catalog());
    let (name, _) = three_channel_snap(&s);
    let fields: Vec<String> = keys(&real).into_iter().collect();
    let body = serde_json::json!({"context": [], "actions": [{"action": "install",
        "instance-key": "install-1", "name": name, "epoch": null}], "fields": fields});
    let r = json(post_refresh(&s, &body.to_string()));
    let snap = &r["results"][0]["snap"];
    let mut expected = keys(&real);
    for unserved in ["resources", "integrity"] {
        expected.remove(unserved);
    }
    assert_eq!(keys(snap), expected);
    assert_eq!(keys(&snap["download"]), keys(&real["download"]));
    assert_eq!(keys(&snap["epoch"]), keys(&real["epoch"]));
    assert_eq!(keys(&snap["publisher"]), keys(&real["publisher"]));
}
