//! Snap-declarations refreshed before a refresh (issue 13), as snapd does (`overlord/assertstate`
//! `RefreshSnapDeclarations`, one fetch-assertions round before `UpdateMany`; the round's shape in
//! snapd's `store/store_action_fetch_assertions_test.go`: no context, an action keyed `g1`, each
//! assertion with `if-newer-than`). snapshelf-store serves a declaration re-signed here with the
//! store's own key (revision 1): a new publisher is taken and the refresh goes on; a new name
//! stops the snap's refresh with the reason; a declaration the store no longer has (the real
//! store's `not-found`, played by a proxy) reports the snap as taken down.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{installed, kind_of, Env};
use snapshelf_dbus::types::Dict;
use snapshelf_dbus::ErrorKind;
use snapshelf_snap::assert::{decode_stream, sign, Assertion, HeaderValue, PrivateKey};
use zbus::zvariant::{OwnedValue, Value};

const SNAP: &str = "shelf-clock";

fn candidate() -> Dict {
    [(
        "channel".to_string(),
        OwnedValue::try_from(Value::from("candidate")).unwrap(),
    )]
    .into_iter()
    .collect()
}

fn store_key(catalog: &Path) -> PrivateKey {
    let pem = std::fs::read_to_string(catalog.join("keys/store.key")).unwrap();
    PrivateKey::from_pkcs8_pem(&pem).unwrap()
}

/// Where snapshelf-store caches the declaration it signed for `snap_id`.
fn store_declaration(catalog: &Path, snap_id: &str) -> PathBuf {
    let key_id = store_key(catalog).public_key().key_id();
    catalog
        .join(".cache/assertions")
        .join(key_id)
        .join(format!("snap-declaration/{snap_id}.assert"))
}

/// The declaration the helper keeps for `snap_id`.
fn kept_declaration(env: &Env, snap_id: &str) -> Assertion {
    let path = env.root.join(format!(
        "var/lib/snapshelf/assertions/snap-declaration/16_{snap_id}.assert"
    ));
    decode_stream(&std::fs::read(&path).unwrap())
        .unwrap()
        .remove(0)
}

/// Re-sign the store's declaration of `snap_id` as revision 1 with `changes` to its headers.
fn resign(catalog: &Path, snap_id: &str, changes: &[(&str, &str)]) {
    let path = store_declaration(catalog, snap_id);
    let old = decode_stream(&std::fs::read(&path).unwrap())
        .unwrap()
        .remove(0);
    let mut headers: Vec<(String, HeaderValue)> = old
        .headers()
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "type" | "sign-key-sha3-384" | "revision"))
        .cloned()
        .collect();
    headers.push(("revision".into(), HeaderValue::Str("1".into())));
    for (k, v) in changes {
        let slot = headers.iter_mut().find(|(n, _)| n == k).unwrap();
        slot.1 = HeaderValue::Str(v.to_string());
    }
    let new = sign("snap-declaration", headers, b"", &store_key(catalog)).unwrap();
    std::fs::write(&path, new.encode()).unwrap();
}

fn current(env: &Env) -> String {
    installed(env)
        .into_iter()
        .find(|s| s.name == SNAP)
        .map(|s| s.revision)
        .unwrap_or_default()
}

/// A fresh catalog and helper, `shelf-clock` installed from stable (its declaration signed by
/// the store in the process); its snap-id.
fn installed_clock(env_for: impl FnOnce(&Path) -> Env) -> (tempfile::TempDir, Env, String) {
    let catalog = tempfile::tempdir().unwrap();
    common::copy_dir(common::catalog(), catalog.path());
    let env = env_for(catalog.path());
    env.done(env.proxy().install(&[SNAP], Dict::new()));
    assert_eq!(current(&env), "1");
    let dir = env
        .root
        .join("var/lib/snapshelf/assertions/snap-declaration");
    let snap_id = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .find_map(|e| {
            let a = decode_stream(&std::fs::read(e.path()).ok()?)
                .ok()?
                .remove(0);
            (a.header_str("snap-name") == Some(SNAP))
                .then(|| a.header_str("snap-id").unwrap().to_string())
        })
        .expect("the helper keeps shelf-clock's declaration");
    (catalog, env, snap_id)
}

fn plain_env(catalog: &Path) -> Env {
    let mut env = Env::with_catalog(catalog);
    env.start_helper();
    env
}

#[test]
fn a_new_publisher_is_taken_and_the_refresh_goes_on() {
    if !common::require_root() {
        return;
    }
    let (catalog, env, snap_id) = installed_clock(plain_env);
    assert_eq!(kept_declaration(&env, &snap_id).revision(), 0);
    resign(catalog.path(), &snap_id, &[("publisher-id", "paperworks")]);
    env.done(env.proxy().refresh(&[SNAP], candidate()));
    assert_eq!(current(&env), "2");
    let kept = kept_declaration(&env, &snap_id);
    assert_eq!(kept.revision(), 1, "the newer declaration is kept");
    assert_eq!(kept.header_str("publisher-id"), Some("paperworks"));
}

#[test]
fn a_renamed_snap_is_reported_and_not_refreshed() {
    if !common::require_root() {
        return;
    }
    let (catalog, env, snap_id) = installed_clock(plain_env);
    resign(
        catalog.path(),
        &snap_id,
        &[("snap-name", "shelf-timepiece")],
    );
    let e = env.proxy().refresh(&[SNAP], candidate()).unwrap_err();
    let message = e.to_string();
    assert_eq!(kind_of(e), ErrorKind::VerificationFailed);
    assert!(
        message.contains("shelf-timepiece") && message.contains("renamed"),
        "{message}"
    );
    assert_eq!(current(&env), "1", "nothing changed");
    assert_eq!(env.link("snap/shelf-clock/current").as_deref(), Some("1"));
    let kept = kept_declaration(&env, &snap_id);
    assert_eq!(kept.header_str("snap-name"), Some("shelf-timepiece"));
}

/// The real store's answer for a declaration it no longer has: no stream, a `not-found` error
/// naming it.
struct TakenDown;

impl common::proxy::Rewrite for TakenDown {
    /// The store streams only declarations newer than the one kept (`if-newer-than`): ask for it
    /// whatever its revision, so that there is a stream to turn into `not-found`.
    fn request(&self, path: &str, body: Vec<u8>) -> Vec<u8> {
        if !path.starts_with("/v2/snaps/refresh") {
            return body;
        }
        let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body) else {
            return body;
        };
        for a in v["actions"].as_array_mut().into_iter().flatten() {
            // `get_mut`, not indexing: indexing would add `"assertions": null` to other actions.
            let wanted = a.get_mut("assertions").and_then(|w| w.as_array_mut());
            for want in wanted.into_iter().flatten() {
                if let Some(o) = want.as_object_mut() {
                    o.remove("if-newer-than");
                }
            }
        }
        serde_json::to_vec(&v).unwrap()
    }

    fn answer(&self, path: &str, v: &mut serde_json::Value) {
        if !path.starts_with("/v2/snaps/refresh") {
            return;
        }
        for r in v["results"].as_array_mut().into_iter().flatten() {
            if r["result"] != "fetch-assertions" {
                continue;
            }
            let urls = std::mem::take(&mut r["assertion-stream-urls"]);
            let errors: Vec<serde_json::Value> = urls
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|u| u.as_str()?.split("/v2/assertions/snap-declaration/").nth(1))
                .map(|key| {
                    serde_json::json!({"code": "not-found", "message": "not found",
                        "type": "snap-declaration", "primary-key": key.split('/').collect::<Vec<_>>()})
                })
                .collect();
            r["assertion-stream-urls"] = serde_json::json!([]);
            r["error-list"] = errors.into();
        }
    }
}

#[test]
fn a_snap_the_store_no_longer_declares_is_reported_as_taken_down() {
    if !common::require_root() {
        return;
    }
    let (_catalog, env, _) = installed_clock(|catalog| {
        let mut env = Env::with_catalog(catalog);
        env.store_url = common::proxy::start(env.store_url.clone(), Arc::new(TakenDown));
        env.start_helper();
        env
    });
    let e = env.proxy().refresh(&[SNAP], candidate()).unwrap_err();
    let message = e.to_string();
    assert_eq!(kind_of(e), ErrorKind::NotFound, "{message}");
    assert!(message.contains("taken down"), "{message}");
    assert_eq!(current(&env), "1");
}
