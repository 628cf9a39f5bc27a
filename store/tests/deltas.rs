//! Refresh deltas and snapd's fetch-assertions action, as a client sees them: a real
//! `snapshelf-store` serving the sample catalog, spoken to over HTTP. The delta's shape is the real
//! store's (snapd's `store/details_v2.go` `storeSnapDelta`), and what it serves rebuilds the new
//! revision with Debian's `xdelta3`, as snapd's `applyPlainXdelta3Delta` applies it.

use std::path::Path;
use std::process::Command;

use reqwest::blocking::Client;
use serde_json::{json, Value};

mod common;

use common::{serve_sample as serve, Server};

const XDELTA3: &str = "/usr/bin/xdelta3";

fn refresh(s: &Server, body: &Value, accept_delta: bool) -> Value {
    let mut req = common::refresh_request(s, "amd64").json(body);
    if accept_delta {
        req = req.header("Snap-Accept-Delta-Format", "xdelta3");
    }
    let resp = req.send().unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    resp.json().unwrap()
}

fn clock_id(s: &Server) -> String {
    let v: Value = common::get_request(s, "/v2/snaps/info/shelf-clock")
        .send()
        .unwrap()
        .json()
        .unwrap();
    v["snap-id"].as_str().unwrap().to_string()
}

fn refresh_body(id: &str) -> Value {
    json!({
        "context": [{"snap-id": id, "instance-key": id, "revision": 1, "tracking-channel": "stable"}],
        "actions": [{"action": "refresh", "instance-key": id, "snap-id": id, "channel": "candidate"}],
        "fields": ["download", "revision"]
    })
}

fn get(url: &str, range: Option<&str>) -> reqwest::blocking::Response {
    let mut req = Client::new().get(url);
    if let Some(r) = range {
        req = req.header("Range", r);
    }
    req.send().unwrap()
}

#[test]
fn a_refresh_that_accepts_xdelta3_gets_a_delta_that_rebuilds_the_new_revision() {
    if !Path::new(XDELTA3).is_file() {
        snapshelf_snap::testdata::record_skip("store deltas", "xdelta3 is not installed");
        return;
    }
    let s = serve();
    let id = clock_id(&s);
    let plain = refresh(&s, &refresh_body(&id), false);
    let d = &plain["results"][0]["snap"]["download"];
    assert_eq!(d["deltas"], json!([]), "no header, no delta");

    let v = refresh(&s, &refresh_body(&id), true);
    let d = &v["results"][0]["snap"]["download"];
    let delta = &d["deltas"][0];
    assert_eq!(delta["format"], "xdelta3");
    assert_eq!(
        (delta["source"].as_u64(), delta["target"].as_u64()),
        (Some(1), Some(2))
    );
    let url = delta["url"].as_str().unwrap();
    assert!(
        url.ends_with(&format!("/api/v1/snaps/delta/{id}_1_2.xdelta3")),
        "{url}"
    );
    let size = delta["size"].as_u64().unwrap();
    assert!(size > 0 && size < d["size"].as_u64().unwrap());

    let bytes = get(url, None).bytes().unwrap().to_vec();
    assert_eq!(bytes.len() as u64, size);
    let digest = snapshelf_snap::digest::digest_reader(&bytes[..]).unwrap().0;
    assert_eq!(digest.to_hex(), delta["sha3-384"].as_str().unwrap());
    // A resume gets the rest.
    let rest = get(url, Some("bytes=10-"));
    assert_eq!(rest.status(), 206);
    assert_eq!(rest.bytes().unwrap().to_vec(), bytes[10..].to_vec());
    assert_eq!(get(url, Some(&format!("bytes={size}-"))).status(), 416);

    // xdelta3 -d with revision 1 gives revision 2, byte for byte.
    let work = tempfile::tempdir().unwrap();
    let (src, dl, out) = (
        work.path().join("1.snap"),
        work.path().join("d"),
        work.path().join("2.snap"),
    );
    let full = |rev: u32| {
        get(
            &format!("{}/api/v1/snaps/download/{id}_{rev}.snap", s.url),
            None,
        )
        .bytes()
        .unwrap()
        .to_vec()
    };
    std::fs::write(&src, full(1)).unwrap();
    std::fs::write(&dl, &bytes).unwrap();
    let st = Command::new(XDELTA3)
        .args(["-d", "-s"])
        .arg(&src)
        .arg(&dl)
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(std::fs::read(&out).unwrap(), full(2));

    // Names that are not an offered pair are not found.
    for bad in [
        format!("{id}_9_2.xdelta3"),
        format!("{id}_1_2.snap"),
        "x_1_2.xdelta3".into(),
    ] {
        assert_eq!(
            get(&format!("{}/api/v1/snaps/delta/{bad}", s.url), None).status(),
            404,
            "{bad}"
        );
    }
}

/// snapd's fetch-assertions action (`store/store_action_fetch_assertions_test.go`): no context,
/// a `key` and no instance-key; the answer echoes the key and names the stream (no
/// `if-newer-than`: whatever revision the store holds is wanted).
#[test]
fn snapds_fetch_assertions_action_is_answered() {
    let s = serve();
    let id = clock_id(&s);
    let body = json!({
        "context": [],
        "actions": [{"action": "fetch-assertions", "key": "g1",
                     "assertions": [{"type": "snap-declaration", "primary-key": ["16", id]}]}],
        "assertion-max-formats": {"snap-declaration": 6}
    });
    let v = refresh(&s, &body, false);
    let r = &v["results"][0];
    assert_eq!(r["result"], "fetch-assertions");
    assert_eq!(r["key"], "g1");
    let urls = r["assertion-stream-urls"].as_array().unwrap();
    assert_eq!(urls.len(), 1);
    assert!(urls[0]
        .as_str()
        .unwrap()
        .ends_with(&format!("/v2/assertions/snap-declaration/16/{id}")));
}
