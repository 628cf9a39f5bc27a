//! Refresh deltas end to end: snapshelf-store makes an xdelta3 delta between the installed
//! revision and the new one, the helper downloads it instead of the file and rebuilds the new
//! revision; a delta that is corrupt, rebuilds another file, does not match its digest, or has no
//! installed file to apply to falls back to the full download and installs the right revision.
//! Traffic goes through a proxy that counts the bytes of every answer.
//!
//! The cases follow snapd's `store/store_download_test.go` (`TestDownloadDelta`,
//! `TestApplyDelta`: a delta is tried first, any error means the full download, a missing
//! source revision is such an error); its format-selection table is ported in the helper's
//! `delta.rs` unit tests.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::{installed, Env};
use snapshelf_dbus::types::Dict;
use zbus::zvariant::{OwnedValue, Value};

/// The size of the snaps' payload: big enough that a delta is a small part of it.
const PAYLOAD: usize = 6 << 20;

fn has_xdelta3(test: &str) -> bool {
    let ok = Path::new("/usr/bin/xdelta3").is_file();
    if !ok {
        snapshelf_snap::testdata::record_skip(
            test,
            "xdelta3 is not installed (Debian package xdelta3)",
        );
    }
    ok
}

/// Pack revision `rev` of `name`: a payload that changes 64 KiB from one revision to the next.
fn pack_revision(work: &Path, out_dir: &Path, name: &str, rev: u32, tweak: u8) -> PathBuf {
    let stage = work.join(format!("{name}-{rev}-{tweak}"));
    std::fs::create_dir_all(stage.join("meta")).unwrap();
    std::fs::write(
        stage.join("meta/snap.yaml"),
        format!("name: {name}\nversion: '{rev}.0'\nsummary: Deltas\nbase: shelf-base\n"),
    )
    .unwrap();
    let mut payload = common::noise(PAYLOAD, 7);
    if rev > 1 {
        let at = PAYLOAD / 2;
        payload[at..at + 65536].copy_from_slice(&common::noise(65536, 1000 + rev as u64));
    }
    payload[0] ^= tweak;
    std::fs::write(stage.join("payload.bin"), payload).unwrap();
    let out = out_dir.join(format!("{name}_{rev}.snap"));
    snapshelf_snap::squashfs::pack(&stage, &out, &Default::default()).unwrap();
    out
}

fn sha3(path: &Path) -> String {
    snapshelf_snap::digest::digest_file(path)
        .unwrap()
        .0
        .to_hex()
}

/// A copy of the sample catalog with `name` at revision 1 on stable and 2 on edge.
fn catalog_with(work: &Path, name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(common::catalog(), tmp.path());
    let snaps = tmp.path().join("snaps");
    pack_revision(work, &snaps, name, 1, 0);
    pack_revision(work, &snaps, name, 2, 0);
    let toml = tmp.path().join("catalog.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str(&format!(
        "\n[[snap]]\nname = \"{name}\"\npublisher = \"snapshelf\"\n\
         channels = {{ \"latest/stable\" = 1, \"latest/edge\" = 2 }}\n"
    ));
    std::fs::write(&toml, text).unwrap();
    tmp
}

/// Where the store caches the delta from revision 1 to 2 of `name`.
fn cached_delta(catalog: &Path, name: &str) -> PathBuf {
    let snaps = catalog.join("snaps");
    catalog.join(".cache/deltas").join(format!(
        "{}_{}.xdelta3",
        sha3(&snaps.join(format!("{name}_1.snap"))),
        sha3(&snaps.join(format!("{name}_2.snap")))
    ))
}

/// What the proxy does: send downloads through itself, count bytes per kind of answer, and
/// optionally lie about the deltas' digests.
#[derive(Default)]
struct Counter {
    store: String,
    me: Mutex<String>,
    bytes: Mutex<HashMap<&'static str, usize>>,
    lie_about_delta_digest: bool,
}

impl common::proxy::Rewrite for Counter {
    fn answer(&self, path: &str, v: &mut serde_json::Value) {
        if !path.starts_with("/v2/snaps/refresh") {
            return;
        }
        let me = self.me.lock().unwrap().clone();
        for r in v["results"].as_array_mut().into_iter().flatten() {
            let Some(d) = r.pointer_mut("/snap/download") else {
                continue;
            };
            if let Some(u) = d["url"].as_str() {
                d["url"] = u.replace(&self.store, &me).into();
            }
            for delta in d["deltas"].as_array_mut().into_iter().flatten() {
                let u = delta["url"]
                    .as_str()
                    .unwrap_or_default()
                    .replace(&self.store, &me);
                delta["url"] = u.into();
                if self.lie_about_delta_digest {
                    delta["sha3-384"] = "0".repeat(96).into();
                }
            }
        }
    }

    fn relayed(&self, path: &str, bytes: usize) {
        let kind = if path.starts_with("/api/v1/snaps/delta/") {
            "delta"
        } else if path.starts_with("/api/v1/snaps/download/") {
            "full"
        } else {
            "other"
        };
        *self.bytes.lock().unwrap().entry(kind).or_default() += bytes;
    }
}

impl Counter {
    fn take(&self) -> (usize, usize) {
        let mut b = self.bytes.lock().unwrap();
        let out = (
            b.get("delta").copied().unwrap_or(0),
            b.get("full").copied().unwrap_or(0),
        );
        b.clear();
        out
    }
}

fn channel(c: &str) -> Dict {
    [(
        "channel".to_string(),
        OwnedValue::try_from(Value::from(c)).unwrap(),
    )]
    .into_iter()
    .collect()
}

/// The store for `catalog` behind a counting proxy, and the helper talking to the proxy.
fn env_behind_counter(catalog: &Path, lie: bool) -> (Env, Arc<Counter>) {
    let mut env = Env::with_catalog(catalog);
    let counter = Arc::new(Counter {
        store: env.store_url.clone(),
        lie_about_delta_digest: lie,
        ..Default::default()
    });
    let url = common::proxy::start(env.store_url.clone(), counter.clone());
    *counter.me.lock().unwrap() = url.clone();
    env.store_url = url;
    env.start_helper();
    (env, counter)
}

fn run(env: &Env, started: zbus::Result<zbus::zvariant::OwnedObjectPath>) {
    let (status, kind, err) = env.wait_change(started.unwrap().as_str());
    assert_eq!(status, "Done", "{kind}: {err}");
}

fn revision(env: &Env, name: &str) -> String {
    installed(env)
        .into_iter()
        .find(|s| s.name == name)
        .map(|s| s.revision)
        .unwrap_or_default()
}

/// The blob directory holds the two revisions' files and nothing else (no delta, no partial).
fn only_blobs(env: &Env, name: &str) {
    let dir = env.root.join("var/lib/snapshelf/snaps");
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.starts_with(name))
        .collect();
    left.sort();
    assert_eq!(left, [format!("{name}_1.snap"), format!("{name}_2.snap")]);
}

/// Install revision 1, refresh to 2: the bytes fetched as (delta, full file) during the refresh.
fn install_then_refresh(env: &Env, counter: &Counter, name: &str) -> (usize, usize) {
    let helper = env.proxy();
    run(env, helper.install(&[name], channel("stable")));
    assert_eq!(revision(env, name), "1");
    counter.take();
    run(env, helper.refresh(&[name], channel("edge")));
    assert_eq!(revision(env, name), "2");
    assert!(env.is_mounted(&format!("snap/{name}/2")));
    only_blobs(env, name);
    counter.take()
}

fn file_size(catalog: &Path, name: &str) -> usize {
    std::fs::metadata(catalog.join(format!("snaps/{name}_2.snap")))
        .unwrap()
        .len() as usize
}

#[test]
fn a_refresh_downloads_a_delta_instead_of_the_file() {
    if !common::require_root() || !has_xdelta3("deltas::a_refresh_downloads_a_delta") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let catalog = catalog_with(work.path(), "delta-ok");
    let (env, counter) = env_behind_counter(catalog.path(), false);
    let (delta, full) = install_then_refresh(&env, &counter, "delta-ok");
    let size = file_size(catalog.path(), "delta-ok");
    assert_eq!(full, 0, "the full file was not fetched");
    assert!(
        delta > 0 && delta * 20 < size,
        "delta {delta} bytes for a {size}-byte file"
    );
    assert!(cached_delta(catalog.path(), "delta-ok").is_file());
}

#[test]
fn a_corrupt_delta_falls_back_to_the_full_file() {
    if !common::require_root() || !has_xdelta3("deltas::a_corrupt_delta") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let catalog = catalog_with(work.path(), "delta-bad");
    // The store's cache holds garbage for this pair: it serves it with its true digest.
    let cached = cached_delta(catalog.path(), "delta-bad");
    std::fs::create_dir_all(cached.parent().unwrap()).unwrap();
    std::fs::write(&cached, common::noise(4096, 3)).unwrap();
    let (env, counter) = env_behind_counter(catalog.path(), false);
    let (delta, full) = install_then_refresh(&env, &counter, "delta-bad");
    assert_eq!(delta, 4096, "the delta was tried");
    assert_eq!(
        full,
        file_size(catalog.path(), "delta-bad"),
        "then the file"
    );
}

#[test]
fn a_delta_that_rebuilds_another_file_falls_back_to_the_full_file() {
    if !common::require_root() || !has_xdelta3("deltas::a_delta_that_rebuilds_another_file") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let name = "delta-wrong";
    let catalog = catalog_with(work.path(), name);
    // A valid delta from revision 1 to a file one byte away from revision 2.
    let other = pack_revision(work.path(), work.path(), name, 2, 0x55);
    let cached = cached_delta(catalog.path(), name);
    std::fs::create_dir_all(cached.parent().unwrap()).unwrap();
    let st = std::process::Command::new("/usr/bin/xdelta3")
        .args(["-e", "-f", "-s"])
        .arg(catalog.path().join(format!("snaps/{name}_1.snap")))
        .arg(&other)
        .arg(&cached)
        .status()
        .unwrap();
    assert!(st.success());
    let (env, counter) = env_behind_counter(catalog.path(), false);
    let (delta, full) = install_then_refresh(&env, &counter, name);
    assert!(delta > 0, "the delta was tried");
    assert_eq!(full, file_size(catalog.path(), name), "then the file");
}

#[test]
fn a_delta_without_its_digest_or_its_source_falls_back_to_the_full_file() {
    if !common::require_root() || !has_xdelta3("deltas::a_delta_without_its_digest") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let name = "delta-lie";
    let catalog = catalog_with(work.path(), name);
    // The refresh answer lies about the delta's sha3-384.
    let (env, counter) = env_behind_counter(catalog.path(), true);
    let (delta, full) = install_then_refresh(&env, &counter, name);
    assert!(delta > 0, "the delta was tried");
    assert_eq!(full, file_size(catalog.path(), name), "then the file");

    // Back to revision 1 with revision 2 gone, and revision 1's file removed: nothing to apply a
    // delta to (snapd: "snap %q revision %d not found").
    let helper = env.proxy();
    run(&env, helper.remove(&[name], Dict::new()));
    run(&env, helper.install(&[name], channel("stable")));
    std::fs::remove_file(
        env.root
            .join(format!("var/lib/snapshelf/snaps/{name}_1.snap")),
    )
    .unwrap();
    counter.take();
    run(&env, helper.refresh(&[name], channel("edge")));
    assert_eq!(revision(&env, name), "2");
    let (delta, full) = counter.take();
    assert_eq!(delta, 0, "no delta without its source");
    assert_eq!(full, file_size(catalog.path(), name));
}
