//! Cancel, conflicts, the extraction fallback, and the refusal to share a root.

mod common;

use std::process::Stdio;

use common::{installed, kind_of, Env};
use snapshelf_dbus::types::Dict;
use snapshelf_dbus::ErrorKind;

#[test]
fn cancel_undoes_and_a_second_change_on_the_same_snap_conflicts() {
    if !common::require_root() {
        return;
    }
    // A store that breaks off first downloads makes the install slow enough to catch in flight.
    let mut env = Env::with_store_args(common::catalog(), &["--cut-downloads-after", "65536"]);
    env.start_helper();
    let helper = env.proxy();
    let change = helper.install(&["shelf-eyes"], Dict::new()).unwrap();
    let e = helper.install(&["shelf-eyes"], Dict::new()).unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::ChangeConflict);
    let conn = env.connection();
    let proxy = snapshelf_dbus::proxy::Change1ProxyBlocking::builder(&conn)
        .path(change.clone())
        .unwrap()
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .unwrap();
    assert!(proxy.allow_cancel().unwrap());
    proxy.cancel().unwrap();
    let (status, kind, _) = env.wait_change(change.as_str());
    assert_eq!((status.as_str(), kind.as_str()), ("Cancelled", "cancelled"));
    assert!(
        installed(&env).is_empty(),
        "the base of the cancelled change is undone too"
    );
    assert!(env.mounts_under_root().is_empty());
    // The snap is free again.
    let change = helper.install(&["shelf-hello"], Dict::new()).unwrap();
    assert_eq!(env.wait_change(change.as_str()).0, "Done");
}

#[test]
fn without_loop_devices_revisions_are_extracted_read_only() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    let child = env
        .helper_command()
        .arg("--no-loop")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    env.helper = Some(child);
    let addr = env.bus_address.clone();
    let start = std::time::Instant::now();
    while !common::name_has_owner(&addr, "io.github.snapshelf.Helper1") {
        assert!(start.elapsed().as_secs() < 30, "the helper did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let helper = env.proxy();
    let change = helper.install(&["shelf-hello"], Dict::new()).unwrap();
    let (status, kind, err) = env.wait_change(change.as_str());
    assert_eq!(status, "Done", "{kind}: {err}");
    assert!(
        env.mounts_under_root().is_empty(),
        "nothing is loop-mounted"
    );
    let dir = env.root.join("snap/shelf-hello/1");
    assert!(dir.join("meta/snap.yaml").is_file());
    assert!(dir.join("bin/hello").is_file());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("bin/hello"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o222, 0, "extracted files are read-only");
    let change = helper.remove(&["shelf-hello"], Dict::new()).unwrap();
    assert_eq!(env.wait_change(change.as_str()).0, "Done");
    assert!(!env.root.join("snap/shelf-hello").exists());
}

#[test]
fn a_root_is_managed_by_one_helper_only() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    let out = env.helper_command().output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another snapshelf-helper already manages"),
        "{err}"
    );

    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(other.path().join("var/lib/snapd")).unwrap();
    std::fs::write(other.path().join("var/lib/snapd/state.json"), "{}").unwrap();
    let out = std::process::Command::new(common::HELPER)
        .arg("--root")
        .arg(other.path())
        .args(["--bus-address", &env.bus_address])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("snapd manages"), "{err}");
}

/// A helper restarted at once can find the bus still giving its name to the one before (the bus
/// daemon has not read the closed socket yet): it asks again for a few seconds, then takes it.
/// When the name stays taken, it gives up with a clear error instead of running nameless.
#[test]
fn a_name_released_a_moment_late_is_taken_and_one_never_released_is_refused() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    let hold = |env: &Env| {
        let c = env.connection();
        c.request_name("io.github.snapshelf.Helper1").unwrap();
        c
    };
    // Released after a second: the helper waits for it and serves.
    let holder = hold(&env);
    let start = std::time::Instant::now();
    let child = env.helper_command().stdout(Stdio::null()).spawn().unwrap();
    env.helper = Some(child);
    std::thread::sleep(std::time::Duration::from_secs(1));
    drop(holder);
    let addr = env.bus_address.clone();
    while !common::name_has_owner(&addr, "io.github.snapshelf.Helper1") {
        assert!(
            start.elapsed().as_secs() < 30,
            "the helper did not take the released name"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(env.proxy().list_changes().is_ok(), "the helper answers");
    let mut first = env.helper.take().unwrap();
    assert!(
        first.try_wait().unwrap().is_none(),
        "the helper that took the name runs"
    );
    first.kill().unwrap();
    first.wait().unwrap();

    // Never released: the helper gives up and says why.
    let _holder = hold(&env);
    let start = std::time::Instant::now();
    let out = env.helper_command().output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot own io.github.snapshelf.Helper1"),
        "{err}"
    );
    assert!(
        start.elapsed() >= std::time::Duration::from_secs(4),
        "it asked again for a while first: {:?}",
        start.elapsed()
    );
}
