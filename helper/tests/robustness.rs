//! What must hold when things go wrong: tampered downloads, files without signatures, and the helper
//! killed at any moment.

mod common;

use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Duration;

use common::{installed, kind_of, Env};
use snapshelf_dbus::types::{Dict, FileCheck};
use snapshelf_dbus::ErrorKind;
use zbus::zvariant::OwnedValue;

fn flag(key: &str, v: bool) -> Dict {
    [(key.to_string(), OwnedValue::from(v))]
        .into_iter()
        .collect()
}

/// The `channel` option of Install and Refresh.
fn channel(c: &str) -> Dict {
    [(
        "channel".to_string(),
        OwnedValue::try_from(zbus::zvariant::Value::from(c)).unwrap(),
    )]
    .into_iter()
    .collect()
}

#[test]
fn a_tampered_download_is_rejected_and_nothing_is_installed() {
    if !common::require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(common::catalog(), tmp.path());
    let mut env = Env::with_catalog(tmp.path());
    // The store read the file at start; change one byte now, keeping the size.
    let file = tmp.path().join("snaps/shelf-hello_1.snap");
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    env.start_helper();
    let change = env.proxy().install(&["shelf-hello"], Dict::new()).unwrap();
    let (status, kind, err) = env.wait_change(change.as_str());
    assert_eq!(
        (status.as_str(), kind.as_str()),
        ("Error", "verification-failed"),
        "{err}"
    );
    assert!(
        installed(&env).is_empty(),
        "the base installed in the same change is undone too"
    );
    assert!(env.mounts_under_root().is_empty());
    let blobs = env.root.join("var/lib/snapshelf/snaps");
    let left: Vec<_> = std::fs::read_dir(&blobs)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[test]
fn a_download_cut_in_the_middle_resumes() {
    if !common::require_root() {
        return;
    }
    // The store breaks off every download that does not ask for a Range: only a resume can finish.
    let mut env = Env::with_store_args(common::catalog(), &["--cut-downloads-after", "65536"]);
    env.start_helper();
    let change = env.proxy().install(&["shelf-eyes"], Dict::new()).unwrap();
    let (status, kind, err) = env.wait_change(change.as_str());
    assert_eq!(status, "Done", "{kind}: {err}");
    assert!(env.is_mounted("snap/shelf-eyes/1"));
    let size = std::fs::metadata(env.catalog.join("snaps/shelf-eyes_1.snap"))
        .unwrap()
        .len();
    assert!(
        size > 65536 * 4,
        "the test snap must be larger than the cut"
    );
}

#[test]
fn a_download_shorter_than_announced_is_rejected() {
    if !common::require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(common::catalog(), tmp.path());
    let mut env = Env::with_catalog(tmp.path());
    // The store announced the size at start; the file is now shorter.
    let file = tmp.path().join("snaps/shelf-hello_1.snap");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    env.start_helper();
    let started = std::time::Instant::now();
    let change = env.proxy().install(&["shelf-hello"], Dict::new()).unwrap();
    let (status, kind, err) = env.wait_change(change.as_str());
    assert_eq!(
        (status.as_str(), kind.as_str()),
        ("Error", "store-error"),
        "{err}"
    );
    assert!(err.contains("breaking off"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "gave up in {:?}",
        started.elapsed()
    );
    assert!(installed(&env).is_empty());
    assert!(env.mounts_under_root().is_empty());
}

fn pack_basic(dir: &Path, version: &str) -> std::path::PathBuf {
    let src = dir.join(format!("basic-{version}"));
    std::fs::create_dir_all(src.join("meta")).unwrap();
    std::fs::write(
        src.join("meta/snap.yaml"),
        format!("name: basic\nversion: '{version}'\nsummary: Basic\nbase: shelf-base\n"),
    )
    .unwrap();
    let out = dir.join(format!("basic_{version}.snap"));
    snapshelf_snap::squashfs::pack(&src, &out, &Default::default()).unwrap();
    out
}

fn fd(path: &Path) -> zbus::zvariant::OwnedFd {
    let f = std::fs::File::open(path).unwrap();
    zbus::zvariant::OwnedFd::from(OwnedFd::from(f))
}

#[test]
fn files_install_as_local_revisions_or_with_their_store_revision() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    let helper = env.proxy();
    let work = tempfile::tempdir().unwrap();
    let v1 = pack_basic(work.path(), "1.0");
    let v2 = pack_basic(work.path(), "2.0");

    // CheckFile says what is inside before anything happens, and that it is not signed.
    let check = FileCheck::from_dict(&helper.check_file(fd(&v1)).unwrap()).unwrap();
    assert_eq!(
        (check.name.as_str(), check.version.as_str(), check.signed),
        ("basic", "1.0", false)
    );
    assert!(check.revision.is_empty() && check.installed_revision.is_empty());
    assert!(
        env.link("snap/basic/current").is_none(),
        "CheckFile installs nothing"
    );

    // Without assertions, a file needs `unsigned`.
    let e = helper.install_file(fd(&v1), Dict::new()).unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::VerificationFailed);
    let c = helper
        .install_file(fd(&v1), flag("unsigned", true))
        .unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    assert_eq!(env.link("snap/basic/current").as_deref(), Some("x1"));
    assert!(
        env.is_mounted("snap/shelf-base/1"),
        "the base came from the store"
    );
    let c = helper
        .install_file(fd(&v2), flag("unsigned", true))
        .unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    assert_eq!(env.link("snap/basic/current").as_deref(), Some("x2"));
    let c = helper.revert("basic", Dict::new()).unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    assert_eq!(env.link("snap/basic/current").as_deref(), Some("x1"));

    // Not a snap at all.
    let junk = work.path().join("junk.snap");
    std::fs::write(&junk, b"definitely not squashfs").unwrap();
    let e = helper
        .install_file(fd(&junk), flag("unsigned", true))
        .unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::InvalidSnap);
    let e = helper.check_file(fd(&junk)).unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::InvalidSnap);
    let e = helper.check_file(fd(work.path())).unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::InvalidArgument, "a directory");

    // A store file whose assertions are known locally gets its store revision.
    let c = helper.install(&["shelf-hello"], Dict::new()).unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    let c = helper
        .remove(&["shelf-hello"], flag("purge", true))
        .unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    let hello = env.catalog.join("snaps/shelf-hello_1.snap");
    let check = FileCheck::from_dict(&helper.check_file(fd(&hello)).unwrap()).unwrap();
    assert!(check.signed && check.revision == "1", "{check:?}");
    assert_eq!(check.plugs, Vec::<String>::new());
    let c = helper.install_file(fd(&hello), Dict::new()).unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    assert_eq!(env.link("snap/shelf-hello/current").as_deref(), Some("1"));
}

/// Everything the state says is there, and nothing else: the invariant after any crash.
fn check_consistent(env: &Env, run: usize, marker_written: bool) {
    let helper = env.proxy();
    for path in helper.list_changes().unwrap() {
        let (status, ..) = env.wait_change(path.as_str());
        assert!(
            ["Done", "Error", "Undone", "Cancelled"].contains(&status.as_str()),
            "run {run}: {path} {status}"
        );
    }
    let snaps = installed(env);
    let mut wanted = Vec::new();
    for s in &snaps {
        assert_eq!(
            env.link(&format!("snap/{}/current", s.name)).as_deref(),
            Some(s.revision.as_str()),
            "run {run}: {}",
            s.name
        );
        assert!(
            env.root
                .join(format!("var/snap/{}/{}", s.name, s.revision))
                .is_dir(),
            "run {run}: data of {}",
            s.name
        );
        for r in &s.revisions {
            let m = format!("snap/{}/{}", s.name, r);
            assert!(env.is_mounted(&m), "run {run}: {m} not mounted");
            wanted.push(env.root.join(m).display().to_string());
        }
    }
    let mut mounts = env.mounts_under_root();
    mounts.sort();
    wanted.sort();
    assert_eq!(mounts, wanted, "run {run}: stray or missing mounts");
    for name in ["shelf-clock", "shelf-hello"] {
        if !snaps.iter().any(|s| s.name == name) {
            let dir = env.root.join("snap").join(name);
            let left: Vec<String> = std::fs::read_dir(&dir)
                .map(|d| {
                    d.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            assert!(!dir.exists(), "run {run}: leftovers of {name}: {left:?}");
        }
    }
    if let Ok(d) = std::fs::read_dir(env.root.join("var/lib/snapshelf/snaps")) {
        for e in d.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            assert!(
                !n.ends_with(".partial") && !n.starts_with(".incoming"),
                "run {run}: {n} left behind"
            );
        }
    }
    // User data is never lost: once written, the marker is there whenever shelf-clock is installed
    // (a remove keeps it in a snapshot, a re-install brings it back).
    if marker_written && snaps.iter().any(|s| s.name == "shelf-clock") {
        assert!(
            env.root.join("var/snap/shelf-clock/common/marker").exists(),
            "run {run}: user data lost"
        );
    }
}

#[test]
fn sigkill_at_random_moments_leaves_a_consistent_system() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    let mut seed: u64 = 0x5eed_1234;
    let mut next = move |max: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % max
    };
    let runs = 56;
    let mut marker_written = false;
    for run in 0..runs {
        let helper = env.proxy();
        let have_clock = installed(&env).iter().any(|s| s.name == "shelf-clock");
        let have_hello = installed(&env).iter().any(|s| s.name == "shelf-hello");
        if have_clock {
            std::fs::write(
                env.root.join("var/snap/shelf-clock/common/marker"),
                "user data",
            )
            .unwrap();
            marker_written = true;
        }
        // Pick an operation that applies, cycling through install, refresh, revert and remove.
        let started = match run % 4 {
            0 if !have_hello => helper.install(&["shelf-hello"], Dict::new()),
            0 => helper.remove(&["shelf-hello"], Dict::new()),
            1 if !have_clock => helper.install(&["shelf-clock"], Dict::new()),
            1 => {
                let c = ["candidate", "edge", "stable"][(run / 4) % 3];
                helper.refresh(&["shelf-clock"], channel(c))
            }
            2 if have_clock => helper.revert("shelf-clock", Dict::new()),
            _ if have_clock => helper.remove(&["shelf-clock"], Dict::new()),
            _ => helper.install(&["shelf-clock"], Dict::new()),
        };
        // Some operations do not apply (nothing to revert to, no update): they change nothing.
        if started.is_ok() {
            std::thread::sleep(Duration::from_millis(next(400)));
        }
        env.kill_helper();
        env.start_helper();
        check_consistent(&env, run, marker_written);
    }
}

/// Where shelf-clock stands before an operation of the boundary tests.
#[derive(Clone, Copy)]
enum Before {
    Absent,
    Stable,
    Candidate,
}

/// Bring shelf-clock (and its base) to `before` with the plain helper, writing the user-data marker
/// when it is installed; returns whether the marker was written.
fn set_up(env: &Env, before: Before) -> bool {
    let helper = env.proxy();
    let run = |r| env.done(r);
    let names: Vec<String> = installed(env).into_iter().map(|s| s.name).collect();
    if names.iter().any(|n| n == "shelf-clock") {
        run(helper.remove(&["shelf-clock"], flag("purge", true)));
    }
    if matches!(before, Before::Absent) {
        if names.iter().any(|n| n == "shelf-base") {
            run(helper.remove(&["shelf-base"], flag("purge", true)));
        }
        return false;
    }
    run(helper.install(&["shelf-clock"], Dict::new()));
    if matches!(before, Before::Candidate) {
        run(helper.refresh(&["shelf-clock"], channel("candidate")));
    }
    std::fs::write(
        env.root.join("var/snap/shelf-clock/common/marker"),
        "user data",
    )
    .unwrap();
    true
}

/// SIGKILL the helper right after each task status it records during `op`, one boundary per run
/// (the debug build's `SNAPSHELF_CRASH_AFTER`), until the operation runs to its end; after each
/// crash a fresh helper must recover a consistent system. Returns how many boundaries there were.
fn crash_at_every_boundary(
    before: Before,
    op: impl Fn(
        &snapshelf_dbus::proxy::Helper1ProxyBlocking<'static>,
    ) -> zbus::Result<zbus::zvariant::OwnedObjectPath>,
) -> usize {
    let mut env = Env::new();
    env.start_helper();
    for n in 1..200 {
        let marker = set_up(&env, before);
        env.kill_helper();
        env.start_helper_with(&[("SNAPSHELF_CRASH_AFTER", &n.to_string())]);
        // The change starts before its path is sent back: the helper may die before it answers.
        let change = match op(&env.proxy()) {
            Ok(c) => c,
            Err(e) => {
                let t = std::time::Instant::now();
                while !env.helper_exited() {
                    assert!(t.elapsed() < Duration::from_secs(10), "run {n}: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
                env.start_helper();
                check_consistent(&env, n, marker);
                continue;
            }
        };
        let start = std::time::Instant::now();
        let crashed = loop {
            if env.helper_exited() {
                break true;
            }
            let ready = snapshelf_dbus::proxy::Change1ProxyBlocking::builder(&env.connection())
                .path(change.as_str().to_string())
                .unwrap()
                .cache_properties(zbus::proxy::CacheProperties::No)
                .build()
                .and_then(|c| c.ready());
            if let Ok(true) = ready {
                // It may still crash while it finishes: the boundary count decides.
                std::thread::sleep(Duration::from_millis(100));
                break env.helper_exited();
            }
            assert!(start.elapsed() < Duration::from_secs(60), "run {n}: stuck");
            std::thread::sleep(Duration::from_millis(10));
        };
        if !crashed {
            check_consistent(&env, n, marker);
            eprintln!("{} boundaries, each crashed at and recovered from", n - 1);
            return n - 1;
        }
        env.kill_helper();
        env.start_helper();
        check_consistent(&env, n, marker);
    }
    panic!("the operation never ran to its end");
}

#[test]
fn sigkill_at_every_task_boundary_of_install() {
    if !common::require_root() {
        return;
    }
    let n = crash_at_every_boundary(Before::Absent, |h| h.install(&["shelf-clock"], Dict::new()));
    assert!(n >= 10, "install of an app and its base has {n} boundaries");
}

#[test]
fn sigkill_at_every_task_boundary_of_refresh() {
    if !common::require_root() {
        return;
    }
    let n = crash_at_every_boundary(Before::Stable, |h| {
        h.refresh(&["shelf-clock"], channel("candidate"))
    });
    assert!(n >= 6, "refresh has {n} boundaries");
}

#[test]
fn sigkill_at_every_task_boundary_of_revert() {
    if !common::require_root() {
        return;
    }
    let n = crash_at_every_boundary(Before::Candidate, |h| h.revert("shelf-clock", Dict::new()));
    assert!(n >= 2, "revert has {n} boundaries");
}

#[test]
fn sigkill_at_every_task_boundary_of_remove() {
    if !common::require_root() {
        return;
    }
    let n = crash_at_every_boundary(Before::Stable, |h| h.remove(&["shelf-clock"], Dict::new()));
    assert!(n >= 4, "remove has {n} boundaries");
}
