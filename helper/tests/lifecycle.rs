//! The helper as scripts see it: a real bus, polkitd, store and helper; calls as root, as a user
//! polkit grants, and as one it does not.

mod common;

use common::{installed, kind_of, Env, DENIED, GRANTED};
use snapshelf_dbus::types::Dict;
use snapshelf_dbus::ErrorKind;

fn opts(pairs: &[(&str, &str)]) -> Dict {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                zbus::zvariant::OwnedValue::try_from(zbus::zvariant::Value::from(*v)).unwrap(),
            )
        })
        .collect()
}

#[test]
fn install_refresh_revert_refresh_remove() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    let helper = env.proxy();

    // Install from stable: the base comes first, in the same change.
    let change = helper.install(&["shelf-clock"], Dict::new()).unwrap();
    let (status, kind, err) = env.wait_change(change.as_str());
    assert_eq!(status, "Done", "{kind}: {err}");
    assert!(env.is_mounted("snap/shelf-clock/1"));
    assert!(env.is_mounted("snap/shelf-base/1"));
    assert_eq!(env.link("snap/shelf-clock/current").as_deref(), Some("1"));
    assert_eq!(
        env.link("var/snap/shelf-clock/current").as_deref(),
        Some("1")
    );
    assert!(env.root.join("var/snap/shelf-clock/1").is_dir());
    assert!(env.root.join("var/snap/shelf-clock/common").is_dir());
    assert!(env
        .root
        .join("var/lib/snapshelf/profiles/shelf-clock.shelf-clock.json")
        .is_file());
    let names: Vec<String> = installed(&env).into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["shelf-base", "shelf-clock"]);
    std::fs::write(env.root.join("var/snap/shelf-clock/1/marker"), "kept").unwrap();
    std::fs::write(
        env.root.join("var/snap/shelf-clock/common/shared"),
        "common",
    )
    .unwrap();

    // Installing it again is refused.
    assert_eq!(
        kind_of(helper.install(&["shelf-clock"], Dict::new()).unwrap_err()),
        ErrorKind::AlreadyInstalled
    );

    // Refresh to candidate: revision 2, data copied, common untouched.
    let change = helper
        .refresh(&["shelf-clock"], opts(&[("channel", "candidate")]))
        .unwrap();
    let (status, kind, err) = env.wait_change(change.as_str());
    assert_eq!(status, "Done", "{kind}: {err}");
    assert_eq!(env.link("snap/shelf-clock/current").as_deref(), Some("2"));
    assert!(env.is_mounted("snap/shelf-clock/2"));
    assert!(
        env.is_mounted("snap/shelf-clock/1"),
        "the previous revision is kept for revert"
    );
    assert_eq!(
        std::fs::read_to_string(env.root.join("var/snap/shelf-clock/2/marker")).unwrap(),
        "kept"
    );
    let clock = installed(&env)
        .into_iter()
        .find(|s| s.name == "shelf-clock")
        .unwrap();
    assert_eq!(clock.channel, "latest/candidate");
    assert_eq!(clock.revisions, ["1", "2"]);

    // Revert: back to 1, no copy.
    std::fs::write(env.root.join("var/snap/shelf-clock/2/only-in-2"), "x").unwrap();
    let change = helper.revert("shelf-clock", Dict::new()).unwrap();
    let (status, kind, err) = env.wait_change(change.as_str());
    assert_eq!(status, "Done", "{kind}: {err}");
    assert_eq!(env.link("snap/shelf-clock/current").as_deref(), Some("1"));
    assert_eq!(
        env.link("var/snap/shelf-clock/current").as_deref(),
        Some("1")
    );
    assert!(!env.root.join("var/snap/shelf-clock/1/only-in-2").exists());

    // A plain refresh does not bring back the revision reverted from.
    let e = helper.refresh(&["shelf-clock"], Dict::new()).unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::NoUpdateAvailable);
    let e = helper.revert("shelf-clock", Dict::new()).unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::NoRevisionToRevert);

    // The base cannot go while an app needs it.
    assert_eq!(
        kind_of(helper.remove(&["shelf-base"], Dict::new()).unwrap_err()),
        ErrorKind::SnapInUse
    );

    // Remove: mounts and links gone, the data kept as a snapshot.
    let change = helper.remove(&["shelf-clock"], Dict::new()).unwrap();
    let (status, kind, err) = env.wait_change(change.as_str());
    assert_eq!(status, "Done", "{kind}: {err}");
    assert!(!env.is_mounted("snap/shelf-clock/1"));
    assert!(!env.is_mounted("snap/shelf-clock/2"));
    assert!(!env.root.join("snap/shelf-clock").exists());
    assert!(!env.root.join("var/snap/shelf-clock").exists());
    assert!(!env
        .root
        .join("var/lib/snapshelf/profiles/shelf-clock.shelf-clock.json")
        .exists());
    assert_eq!(installed(&env).len(), 1);

    // A re-install restores the data.
    let change = helper.install(&["shelf-clock"], Dict::new()).unwrap();
    assert_eq!(env.wait_change(change.as_str()).0, "Done");
    assert_eq!(
        std::fs::read_to_string(env.root.join("var/snap/shelf-clock/1/marker")).unwrap(),
        "kept"
    );
    assert_eq!(
        std::fs::read_to_string(env.root.join("var/snap/shelf-clock/common/shared")).unwrap(),
        "common"
    );

    // Purge deletes it.
    let change = helper
        .remove(
            &["shelf-clock"],
            opts(&[])
                .into_iter()
                .chain([("purge".to_string(), zbus::zvariant::OwnedValue::from(true))])
                .collect(),
        )
        .unwrap();
    assert_eq!(env.wait_change(change.as_str()).0, "Done");
    assert!(!env
        .root
        .join("var/lib/snapshelf/snapshots/shelf-clock")
        .exists());
}

#[test]
fn polkit_decides_who_may_change_the_system() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();

    // Read methods work for anyone.
    let (ok, out) = env.busctl_as(DENIED, &["ListInstalled"]);
    assert!(ok, "{out}");
    let (ok, out) = env.busctl_as(DENIED, &["Find", "sa{sv}", "clock", "0"]);
    assert!(ok && out.contains("shelf-clock"), "{out}");

    // An ungranted user is refused and nothing changes.
    let (ok, out) = env.busctl_as(DENIED, &["Install", "asa{sv}", "1", "shelf-hello", "0"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("NotAuthorized")
            || out.contains("not authorized")
            || out.contains("Not authorized"),
        "{out}"
    );
    assert!(installed(&env).is_empty());
    assert!(!env.root.join("snap/shelf-hello").exists());

    // A granted user may.
    let (ok, out) = env.busctl_as(GRANTED, &["Install", "asa{sv}", "1", "shelf-hello", "0"]);
    assert!(ok, "{out}");
    let path = out.split('"').nth(1).unwrap().to_string();
    assert_eq!(env.wait_change(&path).0, "Done");
    assert!(env.is_mounted("snap/shelf-hello/1"));
    let (ok, out) = env.busctl_as(DENIED, &["Remove", "asa{sv}", "1", "shelf-hello", "0"]);
    assert!(!ok, "{out}");
    assert!(env.is_mounted("snap/shelf-hello/1"));
}

/// CheckFile as `user`, through python3-dbus (busctl cannot pass a descriptor): the D-Bus error
/// name, or "ok".
fn check_file_as(env: &Env, user: &str, file: &std::path::Path) -> String {
    let script = "import dbus, os, sys\n\
bus = dbus.bus.BusConnection(sys.argv[1])\n\
h = dbus.Interface(bus.get_object('io.github.snapshelf.Helper1', '/io/github/snapshelf/Helper1'), 'io.github.snapshelf.Helper1')\n\
fd = os.open(sys.argv[2], os.O_RDONLY)\n\
try:\n    h.CheckFile(dbus.types.UnixFd(fd)); print('ok')\n\
except dbus.exceptions.DBusException as e:\n    print(e.get_dbus_name())\n";
    let out = std::process::Command::new("runuser")
        .args(["-u", user, "--", "/usr/bin/python3", "-c", script])
        .arg(&env.bus_address)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python3-dbus as {user}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The root helper reads and hashes whatever CheckFile is given: only callers polkit allows,
/// and never a file larger than a snap may be.
#[test]
fn check_file_is_authorized_and_capped() {
    use std::os::unix::fs::PermissionsExt;
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let snap = work.path().join("hello.snap");
    std::fs::copy(env.catalog.join("snaps/shelf-hello_1.snap"), &snap).unwrap();
    std::fs::set_permissions(&snap, std::fs::Permissions::from_mode(0o644)).unwrap();

    let denied = check_file_as(&env, DENIED, &snap);
    assert!(denied.ends_with("NotAuthorized"), "{denied}");
    assert_eq!(check_file_as(&env, GRANTED, &snap), "ok");

    // A sparse file past the cap (it takes no room on disk) is refused before a byte is read.
    let huge = work.path().join("huge.snap");
    let f = std::fs::File::create(&huge).unwrap();
    f.set_len(9 << 30).unwrap();
    let helper = env.proxy();
    let fd = zbus::zvariant::OwnedFd::from(std::os::fd::OwnedFd::from(
        std::fs::File::open(&huge).unwrap(),
    ));
    let e = helper.check_file(fd).unwrap_err();
    assert_eq!(kind_of(e.clone()), ErrorKind::InvalidArgument, "{e}");
    assert!(e.to_string().contains("more than a snap may be"), "{e}");
}

#[test]
fn bad_arguments_are_invalid_argument() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    let helper = env.proxy();
    let long = "a".repeat(5000);
    for names in [vec![""], vec!["Bad_Name"], vec![long.as_str()], vec!["x"]] {
        let e = helper.install(&names, Dict::new()).unwrap_err();
        assert_eq!(kind_of(e), ErrorKind::InvalidArgument, "{names:?}");
    }
    let e = helper
        .install(&["shelf-hello"], opts(&[("colour", "red")]))
        .unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::InvalidArgument);
    let e = helper
        .install(&["shelf-hello"], opts(&[("channel", "no such/chan nel")]))
        .unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::InvalidArgument);
    let e = helper.find("x", opts(&[("limit", "ten")])).unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::InvalidArgument);
    let e = helper
        .remove(&["shelf-hello"], opts(&[("purge", "yes")]))
        .unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::InvalidArgument);
    let e = helper.revert("", Dict::new()).unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::InvalidArgument);
    let e = helper.switch("shelf-hello", "bad channel!").unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::InvalidArgument);
    let e = helper.hold(&[], true).unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::InvalidArgument);
    assert_eq!(
        kind_of(helper.install(&["no-such-snap"], Dict::new()).unwrap_err()),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind_of(helper.remove(&["shelf-hello"], Dict::new()).unwrap_err()),
        ErrorKind::NotInstalled
    );
    // Non-UTF-8 cannot even be sent as a D-Bus string; the bus refuses it before us.
    assert!(installed(&env).is_empty());
}

#[test]
fn the_live_interface_matches_the_checked_in_xml() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    let conn = env.connection();
    let intro = zbus::blocking::fdo::IntrospectableProxy::builder(&conn)
        .destination("io.github.snapshelf.Helper1")
        .unwrap()
        .path("/io/github/snapshelf/Helper1")
        .unwrap()
        .build()
        .unwrap();
    let live = zbus_xml::Node::from_reader(intro.introspect().unwrap().as_bytes()).unwrap();
    let want = zbus_xml::Node::from_reader(snapshelf_dbus::helper1_xml().as_bytes()).unwrap();
    let summary = |n: &zbus_xml::Node| {
        let i = n
            .interfaces()
            .iter()
            .find(|i| i.name() == "io.github.snapshelf.Helper1")
            .unwrap();
        let mut m: Vec<String> = i
            .methods()
            .iter()
            .map(|m| {
                let args: Vec<String> = m
                    .args()
                    .iter()
                    .map(|a| format!("{:?}{}", a.direction(), a.ty().to_string()))
                    .collect();
                format!("{}({})", m.name(), args.join(","))
            })
            .chain(i.signals().iter().map(|s| {
                let args: Vec<String> = s.args().iter().map(|a| a.ty().to_string()).collect();
                format!("signal {}({})", s.name(), args.join(","))
            }))
            .chain(
                i.properties()
                    .iter()
                    .map(|p| format!("property {} {}", p.name(), p.ty().to_string())),
            )
            .collect();
        m.sort();
        m
    };
    assert_eq!(summary(&live), summary(&want));
}
