//! snapshelf-store as a replica of the real Snap Store's behaviour, not only its key names: closed
//! risks, branches, default tracks, epoch bridges, architectures and CDN redirects, each checked
//! value for value against what the real store answers (api.snapcraft.io's documentation of
//! `snap_info` and `snap_refresh`, and snapd's store/store_action_test.go expectations).

use std::io::BufReader;
use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;

use reqwest::blocking::Client;
use serde_json::{json, Value};
use snapshelf_snap::testdata::pack_store_revision;

mod common;

use common::{read_response, Server};

const CATALOG: &str = r#"
[store]
authority-id = "replica"
display-name = "Replica Store"

[[snap]]
name = "bridged"
channels = { "stable" = [1, 2, 3] }

[[snap]]
name = "tracked"
default-track = "2.0"
channels = { "2.0/stable" = 1, "2.0/edge" = 3, "latest/stable" = 2 }

[[snap]]
name = "branched"
channels = { "stable" = 1, "stable/hotfix" = 2, "edge" = 3 }

[[snap]]
name = "multi"
channels = { "stable" = [1, 2], "candidate" = 2, "edge" = 3 }
"#;

/// The catalog of these tests, built once per test binary.
fn catalog() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("snaps")).unwrap();
        std::fs::write(d.join("catalog.toml"), CATALOG).unwrap();
        // Epoch 0, then the bridge (reads 0 and 1, writes 1), then epoch 2 (reads 1 and 2).
        pack_store_revision(d, "bridged", 1, "");
        pack_store_revision(d, "bridged", 2, "epoch: 1*\n");
        pack_store_revision(d, "bridged", 3, "epoch: 2*\n");
        for rev in 1..=3 {
            pack_store_revision(d, "tracked", rev, "");
            pack_store_revision(d, "branched", rev, "");
        }
        pack_store_revision(d, "multi", 1, "architectures: [amd64]\n");
        pack_store_revision(d, "multi", 2, "architectures: [arm64]\n");
        pack_store_revision(d, "multi", 3, "architectures: [arm64]\n");
        // The key chain is made by the first serve: once, before tests start stores in parallel.
        drop(serve(d, &[]));
        dir
    })
    .path()
}

fn serve(dir: &Path, extra: &[&str]) -> Server {
    common::serve_with(dir, extra, Stdio::null())
}

fn store() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| serve(catalog(), &[]))
}

fn info(name: &str, query: &str) -> Value {
    common::get_request(store(), &format!("/v2/snaps/info/{name}?{query}"))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn action(arch: &str, context: Value, actions: Value) -> Vec<Value> {
    let body = json!({"context": context, "actions": actions,
        "fields": ["revision", "version", "epoch", "download"]});
    let r: Value = common::refresh_request(store(), arch)
        .json(&body)
        .send()
        .unwrap()
        .json()
        .unwrap();
    r["results"].as_array().unwrap().clone()
}

fn install(name: &str, channel: &str) -> Value {
    let a = json!([{"action": "install", "instance-key": "install-1", "name": name,
        "channel": channel, "epoch": null}]);
    action("amd64", json!([]), a).remove(0)
}

fn snap_id(name: &str) -> String {
    info(name, "fields=revision")["snap-id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A refresh of `name` installed at `rev` with `epoch`, tracking `tracking`.
fn refresh(name: &str, rev: u32, tracking: &str, epoch: Value) -> Vec<Value> {
    let id = snap_id(name);
    let ctx = json!([{"snap-id": id, "instance-key": id, "revision": rev,
        "tracking-channel": tracking, "epoch": epoch}]);
    let a = json!([{"action": "refresh", "instance-key": id, "snap-id": id}]);
    action("amd64", ctx, a)
}

fn channel_names(info: &Value) -> Vec<String> {
    info["channel-map"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}/{}@{}",
                c["channel"]["track"].as_str().unwrap(),
                c["channel"]["risk"].as_str().unwrap(),
                c["channel"]["architecture"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn closed_risks_and_branches_are_absent_from_the_channel_map() {
    let i = info("branched", "fields=revision&architecture=amd64");
    assert_eq!(
        channel_names(&i),
        ["latest/stable@amd64", "latest/edge@amd64"],
        "candidate and beta are closed; the branch is not listed"
    );
    // A closed risk is served by the next more stable open one, and effective-channel says so.
    for (asked, served, rev) in [
        ("candidate", "stable", 1),
        ("beta", "stable", 1),
        ("edge", "edge", 3),
        ("stable/hotfix", "stable/hotfix", 2),
        ("latest/stable/hotfix", "stable/hotfix", 2),
        ("stable/expired", "stable", 1),
    ] {
        let r = install("branched", asked);
        assert_eq!(r["result"], "install", "{asked}: {r}");
        assert_eq!(r["effective-channel"], served, "{asked}");
        assert_eq!(r["snap"]["revision"], rev, "{asked}");
        assert!(
            r.get("redirect-channel").is_none(),
            "{asked}: no default track"
        );
        let released = r["released-at"].as_str().unwrap();
        assert!(
            released.contains('T') && released.ends_with('Z'),
            "{asked}: released-at {released:?} is not RFC 3339 UTC"
        );
    }
}

#[test]
fn a_default_track_redirects_channels_without_a_track() {
    let i = info("tracked", "fields=revision&architecture=amd64");
    assert_eq!(i["default-track"], "2.0");
    // Channels are named track/risk, `latest/` left out, whatever the default track.
    let names: Vec<&str> = i["channel-map"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["channel"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["stable", "2.0/stable", "2.0/edge"]);
    let r = install("tracked", "stable");
    assert_eq!(r["redirect-channel"], "2.0/stable");
    assert_eq!(r["effective-channel"], "2.0/stable");
    assert_eq!(r["snap"]["revision"], 1);
    let r = install("tracked", "beta");
    assert_eq!(r["redirect-channel"], "2.0/beta");
    assert_eq!(r["effective-channel"], "2.0/stable", "beta is closed");
    // Naming the track is taken as it is.
    let r = install("tracked", "latest/stable");
    assert!(r.get("redirect-channel").is_none(), "{r}");
    assert_eq!(r["snap"]["revision"], 2);
    assert!(info("branched", "fields=revision")["default-track"].is_null());
}

#[test]
fn refreshes_honour_epochs_through_a_bridge() {
    let zero = json!({"read": [0], "write": [0]});
    let one = json!({"read": [0, 1], "write": [1]});
    let two = json!({"read": [1, 2], "write": [2]});
    // The head (epoch 2*) cannot read epoch 0 data: the bridge is offered.
    let r = refresh("bridged", 1, "stable", zero.clone());
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["snap"]["revision"], 2, "{}", r[0]);
    assert_eq!(r[0]["snap"]["epoch"], one);
    // From the bridge, the head.
    let r = refresh("bridged", 2, "stable", one);
    assert_eq!(r[0]["snap"]["revision"], 3);
    assert_eq!(r[0]["snap"]["epoch"], two.clone());
    // At the head: nothing.
    assert!(refresh("bridged", 3, "stable", two).is_empty());
    // Data of an epoch nothing in the channel reads: no update rather than a revision that
    // cannot read it.
    assert!(refresh("bridged", 1, "stable", json!({"read": [7], "write": [7]})).is_empty());
    // A new install has no data: the head.
    assert_eq!(install("bridged", "stable")["snap"]["revision"], 3);
}

#[test]
fn the_device_architecture_decides() {
    let multi = |arch: &str, channel: &str| {
        let a = json!([{"action": "install", "instance-key": "install-1", "name": "multi",
            "channel": channel, "epoch": null}]);
        action(arch, json!([]), a).remove(0)
    };
    assert_eq!(multi("amd64", "stable")["snap"]["revision"], 1);
    assert_eq!(multi("arm64", "stable")["snap"]["revision"], 2);
    assert_eq!(multi("arm64", "edge")["snap"]["revision"], 3);
    // amd64 has only stable: edge falls back to it.
    assert_eq!(multi("amd64", "edge")["effective-channel"], "stable");
    // No revision for this architecture: the error lists only this architecture's channels.
    let r = multi("riscv64", "stable");
    assert_eq!(r["error"]["code"], "revision-not-found");
    assert_eq!(r["error"]["extra"]["releases"], json!([]));
    let r = multi("amd64", "9.9/stable");
    assert_eq!(
        r["error"]["extra"]["releases"],
        json!([{"architecture": "amd64", "channel": "latest/stable"}])
    );
    // info without `architecture` lists every architecture's channels; with it, only those.
    assert_eq!(
        channel_names(&info("multi", "fields=revision")),
        [
            "latest/stable@amd64",
            "latest/stable@arm64",
            "latest/candidate@arm64",
            "latest/edge@arm64"
        ]
    );
    assert_eq!(
        channel_names(&info("multi", "fields=revision&architecture=arm64")),
        [
            "latest/stable@arm64",
            "latest/candidate@arm64",
            "latest/edge@arm64"
        ]
    );
    let find = |arch: &str| -> Value {
        Client::new()
            .get(format!(
                "{}/v2/snaps/find?q=multi&architecture={arch}",
                store().url
            ))
            .header("Snap-Device-Series", "16")
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    assert_eq!(find("amd64")["results"][0]["revision"]["revision"], 1);
    assert_eq!(find("arm64")["results"][0]["revision"]["revision"], 2);
    assert_eq!(find("s390x")["results"], json!([]));
}

#[test]
fn downloads_redirect_to_the_cdn() {
    let s = serve(catalog(), &["--cdn-url", "http://cdn.invalid/snaps/"]);
    let r: Value = Client::new()
        .post(format!("{}/v2/snaps/refresh", s.url))
        .header("Snap-Device-Series", "16")
        .header("Snap-Device-Architecture", "amd64")
        .json(&json!({"context": [], "actions": [{"action": "install",
            "instance-key": "install-1", "name": "branched", "epoch": null}],
            "fields": ["download"]}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let url = r["results"][0]["snap"]["download"]["url"].as_str().unwrap();
    let no_follow = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_follow.get(url).send().unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(
        resp.headers()["location"],
        "http://cdn.invalid/snaps/branched_1.snap"
    );
}

/// Downloads go out with sendfile(2) on the connection they came on; the same connection then
/// carries an API request (to axum) and the answers stay in order.
#[test]
fn downloads_and_api_calls_share_a_kept_alive_connection() {
    use std::io::Write;
    let a = json!([{"action": "install", "instance-key": "install-1", "name": "branched",
        "channel": "stable", "epoch": null}]);
    let r = action("amd64", json!([]), a).remove(0);
    let url = r["snap"]["download"]["url"].as_str().unwrap().to_string();
    let size = r["snap"]["download"]["size"].as_u64().unwrap() as usize;
    let path = url.split_once("//").unwrap().1.split_once('/').unwrap().1;
    let addr = store().url.strip_prefix("http://").unwrap();
    let stream = std::net::TcpStream::connect(addr).unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let whole = std::fs::read(catalog().join("snaps/branched_1.snap")).unwrap();
    assert_eq!(whole.len(), size);
    write!(w, "GET /{path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let (status, headers, body) = read_response(&mut r);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(headers.contains(&("accept-ranges".into(), "bytes".into())));
    assert_eq!(body, whole);
    write!(
        w,
        "GET /{path} HTTP/1.1\r\nHost: {addr}\r\nRange: bytes=100-199\r\n\r\n"
    )
    .unwrap();
    let (status, headers, body) = read_response(&mut r);
    assert_eq!(status, "HTTP/1.1 206 Partial Content");
    assert!(headers.contains(&("content-range".into(), format!("bytes 100-199/{size}"))));
    assert_eq!(body, &whole[100..200]);
    write!(
        w,
        "GET /v2/snaps/categories HTTP/1.1\r\nHost: {addr}\r\nSnap-Device-Series: 16\r\n\r\n"
    )
    .unwrap();
    let (status, _, body) = read_response(&mut r);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(String::from_utf8(body).unwrap().contains("featured"));
    // An unsatisfiable range is hyper's to refuse, with the store's error.
    write!(
        w,
        "GET /{path} HTTP/1.1\r\nHost: {addr}\r\nRange: bytes={size}-\r\n\r\n"
    )
    .unwrap();
    let (status, _, _) = read_response(&mut r);
    assert_eq!(status, "HTTP/1.1 416 Range Not Satisfiable");
}
