//! Snaps without `base:` (hello-world and most snaps made before bases existed) run on `core`, as
//! snapd gives them (`overlord/snapstate/handlers.go`, `doPrerequisites`; snapd's spread test
//! `tests/main/install-errors` and the hello-world snap it installs): installing one from the
//! store brings `core` in the same change, the app runs on `core`'s root, and `core` cannot be
//! removed while a snap runs on it. The store serves a `core` built like the sample base (the
//! sample base's tree under the name `core`, type `os`) and a base-less app, both packed here.

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{installed, kind_of, Env};
use snapshelf_dbus::types::Dict;
use snapshelf_dbus::ErrorKind;
use zbus::zvariant::OwnedValue;

const GREETING: &str = "Hello from a snap without a base";

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `core` revision 1: the sample base's files, with core's snap.yaml.
fn pack_core(work: &Path, catalog: &Path) {
    let stage = work.join("core");
    let base =
        snapshelf_snap::squashfs::SnapFile::open(&catalog.join("snaps/shelf-base_1.snap")).unwrap();
    base.extract_to(&stage).unwrap();
    write(
        &stage.join("meta/snap.yaml"),
        "name: core\nversion: '16-2.61'\nsummary: snapd runtime environment\ntype: os\n",
        0o644,
    );
    snapshelf_snap::squashfs::pack(
        &stage,
        &catalog.join("snaps/core_1.snap"),
        &Default::default(),
    )
    .unwrap();
}

/// A base-less app (like hello-world): its one app is a shell script, so it needs a base's `/bin/sh`.
fn hello_old(work: &Path) -> std::path::PathBuf {
    let stage = work.join("hello-old");
    write(
        &stage.join("meta/snap.yaml"),
        "name: hello-old\nversion: '6.4'\nsummary: The old hello world\n\
         apps:\n  hello-old:\n    command: bin/hello\n",
        0o644,
    );
    write(
        &stage.join("bin/hello"),
        &format!("#!/bin/sh\necho \"{GREETING}\"\ntest -x /bin/busybox && echo on-core-root\n"),
        0o755,
    );
    let out = work.join("hello-old_1.snap");
    snapshelf_snap::squashfs::pack(&stage, &out, &Default::default()).unwrap();
    out
}

/// A copy of the sample catalog that also serves `core` and `hello-old`.
fn catalog_with_core(work: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(common::catalog(), tmp.path());
    pack_core(work, tmp.path());
    std::fs::copy(hello_old(work), tmp.path().join("snaps/hello-old_1.snap")).unwrap();
    let toml = tmp.path().join("catalog.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str(
        "\n[[snap]]\nname = \"core\"\npublisher = \"snapshelf\"\n\
         channels = { \"latest/stable\" = 1 }\n\
         \n[[snap]]\nname = \"hello-old\"\npublisher = \"snapshelf\"\n\
         channels = { \"latest/stable\" = 1 }\n",
    );
    std::fs::write(&toml, text).unwrap();
    tmp
}

fn run_app(env: &Env, target: &str) -> String {
    let confine = common::workspace_bin("snapshelf-confine", "snapshelf-confine");
    let o = Command::new("timeout")
        .args(["--signal=KILL", "120"])
        .arg(confine)
        .arg("--root")
        .arg(&env.root)
        .arg(target)
        .current_dir("/")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{target}: exit {:?}\nstdout: {out}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn names(env: &Env) -> Vec<String> {
    let mut n: Vec<String> = installed(env).into_iter().map(|s| s.name).collect();
    n.sort();
    n
}

#[test]
fn a_snap_without_a_base_gets_core_and_runs_on_it() {
    if !common::require_root() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let catalog = catalog_with_core(work.path());
    let mut env = Env::with_catalog(catalog.path());
    env.start_helper();
    let helper = env.proxy();

    let c = helper.install(&["hello-old"], Dict::new()).unwrap();
    let (status, kind, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{kind}: {err}");
    assert_eq!(names(&env), ["core", "hello-old"], "core comes with it");
    assert!(env.is_mounted("snap/core/1"));
    assert_eq!(env.link("snap/core/current").as_deref(), Some("1"));

    let out = run_app(&env, "hello-old");
    assert!(out.contains(GREETING), "{out}");
    assert!(
        out.contains("on-core-root"),
        "the app sees core's files: {out}"
    );

    // core is in use: removing it alone is refused and changes nothing.
    let e = helper.remove(&["core"], Dict::new()).unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::SnapInUse);
    assert_eq!(names(&env), ["core", "hello-old"]);
    assert!(env.is_mounted("snap/core/1"));

    // Removing the app and core together is fine.
    let c = helper.remove(&["hello-old", "core"], Dict::new()).unwrap();
    let (status, kind, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{kind}: {err}");
    assert!(names(&env).is_empty());
    assert!(env.mounts_under_root().is_empty());

    // A base-less file (unsigned, installed from a descriptor) brings core from the store too.
    let f = std::fs::File::open(hello_old(work.path())).unwrap();
    let unsigned: Dict = [("unsigned".to_string(), OwnedValue::from(true))]
        .into_iter()
        .collect();
    let c = helper
        .install_file(zbus::zvariant::OwnedFd::from(OwnedFd::from(f)), unsigned)
        .unwrap();
    let (status, kind, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{kind}: {err}");
    assert_eq!(names(&env), ["core", "hello-old"]);
    assert!(run_app(&env, "hello-old").contains(GREETING));
}
