//! The store's JSON as the helper's client reads it: the body deserialized into the shared Snap
//! Store API types (`snapshelf_snap::store_api`, the same types `helper/src/store.rs` reads every
//! answer into), each kind of answer tried in turn, then what the client does with them next: the
//! media and category walks, per-snap errors, and the `snap-yaml` strings through our snap.yaml
//! parser, which is where unsigned store data meets our own code. An answer that does not fit a
//! type must be an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapshelf_snap::store_api::{
    CategoriesResponse, ErrorList, FindResponse, InfoResponse, RefreshResponse, SnapDetails,
    StoreSnap,
};
use snapshelf_snap::yaml::SnapYaml;

fn details(d: &SnapDetails) {
    let _ = d.media_urls("icon");
    let _ = d.media_urls("screenshot");
    let _ = d.category_names();
    let _ = d.publisher.shown_name();
}

fn snap_yaml(text: Option<&str>) {
    if let Some(t) = text {
        let _ = SnapYaml::parse(t);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = serde_json::from_slice::<InfoResponse>(data) {
        details(&info.snap);
        for c in &info.channel_map {
            snap_yaml(c.revision.snap_yaml.as_deref());
        }
    }
    if let Ok(find) = serde_json::from_slice::<FindResponse>(data) {
        for r in &find.results {
            details(&r.snap);
        }
    }
    if let Ok(refresh) = serde_json::from_slice::<RefreshResponse>(data) {
        for r in &refresh.results {
            if r.is_error() {
                let _ = r.error.as_ref().map(|e| (&e.code, &e.message));
                continue;
            }
            if let Some(s) = &r.snap {
                details(&s.details);
                snap_yaml(s.revision.snap_yaml.as_deref());
            }
        }
    }
    let _ = serde_json::from_slice::<CategoriesResponse>(data);
    let _ = serde_json::from_slice::<ErrorList>(data);
    // A bare per-revision record (compat's coreStoreJSON) is what a refresh result's `snap` holds.
    if let Ok(s) = serde_json::from_slice::<StoreSnap>(data) {
        details(&s.details);
        snap_yaml(s.revision.snap_yaml.as_deref());
    }
});
