use serde_json::{json, Value};

use super::*;

fn recorded(name: &str) -> Option<Value> {
    crate::testdata::recorded_response(name)
}

fn is_default(v: &Value) -> bool {
    // An absent epoch means epoch 0.
    if *v == json!({"read": [0], "write": [0]}) {
        return true;
    }
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_u64() == Some(0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_default),
    }
}

/// What our types wrote back must agree with the real answer: every key we model that the real
/// answer has carries the same value, and a key the real answer lacks is only ever a default.
fn agrees(ours: &Value, real: &Value, at: &str) {
    match (ours, real) {
        (Value::Object(o), Value::Object(r)) => {
            for (k, v) in o {
                match r.get(k) {
                    Some(rv) => agrees(v, rv, &format!("{at}.{k}")),
                    None => assert!(is_default(v), "{at}.{k}: invented {v}"),
                }
            }
        }
        (Value::Array(o), Value::Array(r)) => {
            assert_eq!(o.len(), r.len(), "{at}: length");
            for (i, (a, b)) in o.iter().zip(r).enumerate() {
                agrees(a, b, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(ours, real, "{at}"),
    }
}

fn round_trip<T: serde::de::DeserializeOwned + Serialize>(real: &Value) -> T {
    let parsed: T = serde_json::from_value(real.clone()).expect("parses");
    agrees(&serde_json::to_value(&parsed).unwrap(), real, "$");
    parsed
}

#[test]
fn the_real_info_answer_reads_and_writes_back() {
    let Some(real) = recorded("mockInfoJSON.json") else {
        return;
    };
    let info: InfoResponse = round_trip(&real);
    assert_eq!(info.name, "hello-world");
    assert_eq!(info.snap_id, "buPKUD3TKqCOgLEjjHx5kSiCpIs5cMuQ");
    assert_eq!(info.default_track, None);
    assert_eq!(info.channel_map.len(), 4);
    let stable = &info.channel_map[0];
    assert_eq!(stable.channel.risk, "stable");
    assert_eq!(stable.channel.track, "latest");
    assert_eq!(
        stable.channel.released_at,
        "2019-04-17T16:47:59.117114+00:00"
    );
    assert_eq!(stable.revision.revision, 29);
    assert_eq!(stable.revision.base.as_deref(), Some("bogus-base"));
    assert_eq!(info.channel_map[1].revision.base, None);
    assert_eq!(stable.revision.epoch, Epoch::default());
    assert_eq!(stable.revision.download.size, 20480);
    assert_eq!(stable.revision.download.deltas, Some(vec![]));
    assert!(stable
        .revision
        .snap_yaml
        .as_deref()
        .unwrap()
        .starts_with("name: hello-world"));
    assert_eq!(info.channel_map[3].revision.revision, 30);
    assert_eq!(info.snap.publisher.shown_name(), "Canonical");
    assert_eq!(info.snap.license.as_deref(), Some("MIT"));
    assert_eq!(info.snap.website, None);
    assert_eq!(info.snap.media_urls("screenshot").len(), 1);
    assert_eq!(info.snap.media[2].width, None);
    assert_eq!(info.snap.category_names(), ["featured", "productivity"]);
    assert_eq!(info.snap.prices["EUR"], "0.99");
}

#[test]
fn the_real_find_answer_reads_and_writes_back() {
    let Some(real) = recorded("mockSearchJSONv2.json") else {
        return;
    };
    let found: FindResponse = round_trip(&real);
    let r = &found.results[0];
    assert_eq!(r.name, "hello-world");
    assert_eq!(r.revision.channel.as_deref(), Some("stable"));
    assert_eq!(r.revision.revision.revision, 27);
    assert_eq!(r.revision.revision.download.size, 20480);
    assert_eq!(r.revision.revision.download.url, None);
    assert_eq!(r.revision.revision.common_ids, ["aaa", "bbb"]);
    assert_eq!(r.snap.links["website"], ["https://ubuntu.com"]);
    assert_eq!(
        r.snap.store_url.as_deref(),
        Some("https://snapcraft.io/hello-world")
    );
}

#[test]
fn the_real_categories_and_errors_read_and_write_back() {
    let Some(real) = recorded("MockCategoriesJSON.json") else {
        return;
    };
    let cats: CategoriesResponse = round_trip(&real);
    let names: Vec<&str> = cats.categories.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["featured", "database"]);
    let Some(real) = recorded("MockNoDetailsJSON.json") else {
        return;
    };
    let errors: ErrorList = round_trip(&real);
    assert_eq!(errors.error_list[0].code, "resource-not-found");
    assert!(errors.error_list[0].message.contains("no:such:package"));
}

#[test]
fn the_real_store_snaps_carry_epochs_and_deltas() {
    let Some(thingy) = recorded("thingyStoreJSON.json") else {
        return;
    };
    let s: StoreSnap = round_trip(&thingy);
    assert_eq!(s.details.name, "thingy");
    assert_eq!(s.revision.revision, 21);
    assert_eq!(
        s.revision.epoch,
        Epoch {
            read: vec![0, 1],
            write: vec![1]
        }
    );
    let deltas = s.revision.download.deltas.as_ref().unwrap();
    assert_eq!(deltas[0].format, "xdelta3");
    assert_eq!((deltas[0].source, deltas[0].target), (19, 21));
    assert_eq!(deltas[0].size, 9999);
    assert_eq!(s.details.links["empty"], Vec::<String>::new());
    assert_eq!(s.details.publisher.validation, "unproven");
    let Some(core) = recorded("coreStoreJSON.json") else {
        return;
    };
    let s: StoreSnap = round_trip(&core);
    assert_eq!(s.revision.snap_type, "os");
    assert_eq!(s.revision.base, None);
    assert_eq!(s.details.license, None);
}

#[test]
fn input_is_lenient() {
    // Unknown keys, nulls for everything, missing keys: all read as defaults.
    let s: StoreSnap = serde_json::from_value(json!({
        "name": "x", "summary": null, "media": null, "publisher": null, "epoch": {"read": null},
        "download": {"size": 3, "future-key": 1}, "revision": null, "brand-new": {"a": 1},
    }))
    .unwrap();
    assert_eq!(s.details.name, "x");
    assert_eq!(s.details.summary, "");
    assert!(s.details.media.is_empty());
    assert_eq!(s.revision.epoch, Epoch::default());
    assert_eq!(s.revision.download.size, 3);
    assert_eq!(s.revision.revision, 0);
    let r: RefreshResponse = serde_json::from_value(json!({"results": null})).unwrap();
    assert!(r.results.is_empty() && r.error_list.is_empty());
    // A wrong type is still an error, naming where.
    let e = serde_json::from_str::<InfoResponse>(r#"{"channel-map": 3}"#).unwrap_err();
    assert!(e.to_string().contains("invalid type"), "{e}");
}

#[test]
fn refresh_requests_say_epoch_null_only_where_snapd_does() {
    let req = RefreshRequest {
        context: vec![ContextItem {
            snap_id: "id".into(),
            instance_key: "id".into(),
            revision: 3,
            tracking_channel: "latest/stable".into(),
            held: Some(Held {
                by: vec!["snapshelf".into()],
            }),
            ..Default::default()
        }],
        actions: vec![
            ActionItem {
                action: action::INSTALL.into(),
                instance_key: "install-1".into(),
                name: Some("a".into()),
                epoch: ActionEpoch::Null,
                ..Default::default()
            },
            ActionItem {
                action: action::REFRESH.into(),
                instance_key: "id".into(),
                snap_id: Some("id".into()),
                ..Default::default()
            },
        ],
        fields: vec!["revision".into()],
        assertion_max_formats: None,
    };
    let v = serde_json::to_value(&req).unwrap();
    assert_eq!(
        v,
        json!({
            "context": [{"snap-id": "id", "instance-key": "id", "revision": 3,
                "tracking-channel": "latest/stable", "epoch": {"read": [0], "write": [0]},
                "held": {"by": ["snapshelf"]}}],
            "actions": [
                {"action": "install", "instance-key": "install-1", "name": "a", "epoch": null},
                {"action": "refresh", "instance-key": "id", "snap-id": "id"},
            ],
            "fields": ["revision"],
        })
    );
    let back: RefreshRequest = serde_json::from_value(v).unwrap();
    assert_eq!(back, req);
}

#[test]
fn per_snap_errors_keep_code_and_releases() {
    let r: RefreshResponse = serde_json::from_value(json!({"results": [
        {"result": "error", "instance-key": "install-1", "name": "x",
         "error": {"code": "revision-not-found", "message": "no",
                   "extra": {"releases": [{"architecture": "amd64", "channel": "latest/beta"}]}}},
        {"result": "refresh", "instance-key": "id", "snap-id": "id", "name": "y",
         "effective-channel": "candidate", "redirect-channel": "2.0/stable",
         "released-at": "2024-01-01T00:00:00Z", "snap": {"revision": 4}},
    ]}))
    .unwrap();
    let e = &r.results[0];
    assert!(e.is_error());
    let err = e.error.as_ref().unwrap();
    assert_eq!(err.code, "revision-not-found");
    assert_eq!(
        err.extra.as_ref().unwrap().releases[0].channel,
        "latest/beta"
    );
    let ok = &r.results[1];
    assert!(!ok.is_error());
    assert_eq!(ok.redirect_channel.as_deref(), Some("2.0/stable"));
    assert_eq!(ok.snap.as_ref().unwrap().revision.revision, 4);
}
