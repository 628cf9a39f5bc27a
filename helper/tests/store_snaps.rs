//! Snaps as the real store holds them, installed end to end from snapshelf-store (issue 13):
//! - LZO-compressed (firefox, chromium): installed, mounted, with their menu entry and icon;
//! - a `meta/snap.yaml` with keys this version does not know (every new snapcraft key): the snap
//!   installs and each unknown key is logged as a warning, as snapd ignores them
//!   (`snap/info_snap_yaml.go` decodes into structs, so unknown keys are dropped).
//!
//! The snap is packed here with Debian's `mksquashfs -comp lzo`, as snapcraft packs LZO snaps.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{installed, Env};
use snapshelf_dbus::types::Dict;
use snapshelf_snap::squashfs::{Compression, SnapFile};

const NAME: &str = "shelf-lzo";

fn write(path: &Path, bytes: &[u8], mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `shelf-lzo` revision 1, LZO-compressed, with a menu entry, an icon and unknown keys at the
/// top level, in an app and in a hook.
fn pack_lzo(work: &Path, icon: &[u8]) -> std::path::PathBuf {
    let stage = work.join(NAME);
    write(
        &stage.join("meta/snap.yaml"),
        b"name: shelf-lzo\nversion: '1.0'\nsummary: An LZO-compressed snap\n\
          description: Packed the way firefox and chromium are.\n\
          base: shelf-base\nconfinement: strict\ngrade: stable\n\
          future-top-level: yes\n\
          apps:\n  shelf-lzo:\n    command: bin/lzo\n    future-app-key: 3\n\
          hooks:\n  configure:\n    future-hook-key: [a, b]\n",
        0o644,
    );
    write(&stage.join("bin/lzo"), b"#!/bin/sh\necho lzo\n", 0o755);
    write(&stage.join("meta/hooks/configure"), b"#!/bin/sh\n", 0o755);
    write(&stage.join("meta/gui/icon.png"), icon, 0o644);
    write(
        &stage.join("meta/gui/shelf-lzo.desktop"),
        b"[Desktop Entry]\nType=Application\nName=Shelf LZO\n\
          Exec=shelf-lzo %U\nIcon=${SNAP}/meta/gui/icon.png\n",
        0o644,
    );
    let out = work.join("shelf-lzo_1.snap");
    let st = Command::new("mksquashfs")
        .arg(&stage)
        .arg(&out)
        .args([
            "-noappend",
            "-comp",
            "lzo",
            "-no-fragments",
            "-all-root",
            "-no-xattrs",
            "-quiet",
        ])
        .stdout(Stdio::null())
        .status()
        .expect("mksquashfs (Debian package squashfs-tools) is needed");
    assert!(st.success(), "mksquashfs -comp lzo failed");
    let packed = SnapFile::open(&out).unwrap();
    assert_eq!(packed.compression(), Compression::Lzo, "packed as LZO");
    out
}

/// A copy of the sample catalog that also serves `shelf-lzo` on latest/stable.
fn catalog_with_lzo(work: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(common::catalog(), tmp.path());
    let icon = SnapFile::open(&tmp.path().join("snaps/shelf-notes_1.snap"))
        .unwrap()
        .icon()
        .unwrap()
        .expect("the sample shelf-notes has an icon")
        .data;
    let snap = pack_lzo(work, &icon);
    std::fs::copy(snap, tmp.path().join("snaps/shelf-lzo_1.snap")).unwrap();
    let toml = tmp.path().join("catalog.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str(
        "\n[[snap]]\nname = \"shelf-lzo\"\npublisher = \"snapshelf\"\n\
         channels = { \"latest/stable\" = 1 }\n",
    );
    std::fs::write(&toml, text).unwrap();
    tmp
}

/// Start the helper with its log (RUST_LOG=warn) going to `log`, to read its warnings.
fn start_helper_logging(env: &mut Env, log: &Path) {
    let file = std::fs::File::create(log).unwrap();
    // The workspace's confine: the snap's hook runs through it at install.
    let confine = common::workspace_bin("snapshelf-confine", "snapshelf-confine");
    let child = env
        .helper_command()
        .arg("--confine")
        .arg(confine)
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap();
    env.helper = Some(child);
    let start = Instant::now();
    while !common::name_has_owner(&env.bus_address, "io.github.snapshelf.Helper1") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "helper on the bus"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_lzo_snap_with_unknown_keys_installs_from_the_store_with_its_menu_entry() {
    if !common::require_root() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let catalog = catalog_with_lzo(work.path());
    let mut env = Env::with_catalog(catalog.path());
    let log = work.path().join("helper.log");
    start_helper_logging(&mut env, &log);
    let helper = env.proxy();

    let c = helper.install(&[NAME], Dict::new()).unwrap();
    let (status, kind, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{kind}: {err}");
    let snap = installed(&env)
        .into_iter()
        .find(|s| s.name == NAME)
        .expect("shelf-lzo is installed");
    assert_eq!(
        (snap.revision.as_str(), snap.version.as_str()),
        ("1", "1.0")
    );
    assert!(
        env.is_mounted("snap/shelf-lzo/1"),
        "the LZO image is mounted"
    );
    assert_eq!(
        std::fs::read_to_string(env.root.join("snap/shelf-lzo/1/bin/lzo")).unwrap(),
        "#!/bin/sh\necho lzo\n",
        "its files read through the mount"
    );

    // The menu entry and the icon were read out of the LZO image.
    let desktop = env.root.join("var/lib/snapshelf/desktop");
    let entry = std::fs::read_to_string(desktop.join("applications/shelf-lzo_shelf-lzo.desktop"))
        .expect("a menu entry for the LZO snap");
    assert!(entry.contains("Name=Shelf LZO"), "{entry}");
    let icon = desktop.join("icons/shelf-lzo_icon.png");
    assert!(
        entry.contains(&format!("Icon={}", icon.display())),
        "the entry names the exported icon: {entry}"
    );
    let want = SnapFile::open(&catalog.path().join("snaps/shelf-lzo_1.snap"))
        .unwrap()
        .icon()
        .unwrap()
        .unwrap()
        .data;
    assert_eq!(std::fs::read(&icon).unwrap(), want, "the icon's bytes");

    // Each unknown key was logged as a warning naming the snap and the key.
    let text = std::fs::read_to_string(&log).unwrap();
    for key in [
        "future-top-level",
        "apps.shelf-lzo.future-app-key",
        "hooks.configure.future-hook-key",
    ] {
        assert!(
            text.lines().any(|l| l.contains("WARN")
                && l.contains(NAME)
                && l.contains(&format!("{key}: unknown key, ignored"))),
            "no warning for {key} in the helper's log:\n{text}"
        );
    }
}
