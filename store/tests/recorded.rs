//! The recorded real Snap Store answers that store/tests/api.rs does not already compare
//! (issue 13, "answers match the recorded real responses key for key"): categories
//! (`MockCategoriesJSON.json`), the error shape of an unknown snap's info
//! (`MockNoDetailsJSON.json`) and a refresh result for a snap asked with the fields of core's
//! recorded answer (`coreStoreJSON.json`). info (`mockInfoJSON.json`), find
//! (`mockSearchJSONv2.json`) and refresh with snapd's fields (`thingyStoreJSON.json`) are in
//! api.rs. Each answer comes from a real `snapshelf-store` process serving the sample catalog.

use std::collections::BTreeSet;

use serde_json::Value;

mod common;

use common::{serve_sample as serve, Server};

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn get(s: &Server, path: &str) -> (u16, Value) {
    let r = common::get_request(s, path).send().unwrap();
    (r.status().as_u16(), r.json().unwrap())
}

#[test]
fn categories_and_the_not_found_error_have_the_recorded_shapes() {
    let (Some(cats), Some(missing)) = (
        snapshelf_snap::testdata::recorded_response("MockCategoriesJSON.json"),
        snapshelf_snap::testdata::recorded_response("MockNoDetailsJSON.json"),
    ) else {
        return;
    };
    let s = serve();
    let (status, ours) = get(&s, "/v2/snaps/categories");
    assert_eq!(status, 200);
    assert_eq!(keys(&ours), keys(&cats));
    let list = ours["categories"].as_array().unwrap();
    assert!(!list.is_empty());
    for c in list {
        assert_eq!(keys(c), keys(&cats["categories"][0]), "{c}");
    }
    // As recorded, `featured` comes first.
    assert_eq!(list[0]["name"], cats["categories"][0]["name"]);

    let (status, ours) = get(&s, "/v2/snaps/info/no-such-snap");
    assert_eq!(status, 404);
    assert_eq!(keys(&ours), keys(&missing));
    let (e, real) = (&ours["error-list"][0], &missing["error-list"][0]);
    assert_eq!(keys(e), keys(real), "{ours}");
    assert_eq!(e["code"], real["code"]);
    assert_eq!(ours["error-list"].as_array().unwrap().len(), 1);
}

/// core's recorded refresh answer (store/store_action_test.go): asked with exactly its keys as
/// `fields`, our result's snap has them all but `resources` (components, not served: docs/store.md).
#[test]
fn a_refresh_result_asked_with_cores_fields_has_cores_keys() {
    let Some(real) = snapshelf_snap::testdata::recorded_response("coreStoreJSON.json") else {
        return;
    };
    let s = serve();
    let fields: Vec<String> = keys(&real).into_iter().collect();
    let body = serde_json::json!({"context": [], "actions": [{"action": "install",
        "instance-key": "install-1", "name": "shelf-clock", "epoch": null}], "fields": fields});
    let r: Value = common::refresh_request(&s, "amd64")
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap()
        .json()
        .unwrap();
    let snap = &r["results"][0]["snap"];
    let mut expected = keys(&real);
    expected.remove("resources");
    assert_eq!(keys(snap), expected, "{snap}");
    assert_eq!(keys(&snap["epoch"]), keys(&real["epoch"]));
    assert_eq!(keys(&snap["publisher"]), keys(&real["publisher"]));
    // Download keys as recorded, `deltas` included: an empty list when none is offered.
    assert_eq!(keys(&snap["download"]), keys(&real["download"]));
    assert_eq!(snap["download"]["deltas"], real["download"]["deltas"]);
}
