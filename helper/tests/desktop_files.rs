//! Desktop file names and daemons' menu entries as snapd exports them (tests/main/desktop-file-ids,
//! wrappers/desktop.go): a file a `desktop` plug lists in `desktop-file-ids` keeps its own name
//! (a snap installed from a file; a store snap's would need its snap-declaration), any other is
//! `<snap>_<name>` with every character but letters, digits, `_`, `-` and `.` made `_`; a file
//! that names a daemon starts nothing (`Exec=/usr/bin/false`); another snap cannot take a kept
//! name; removal takes the snap's files, kept names too, and leaves others'. Bad
//! `desktop-file-ids` refuse the install in snapd's words.

mod common;

use std::path::{Path, PathBuf};

use common::sandbox::{self, start_install_file, unsigned, write};
use common::Env;
use snapshelf_dbus::types::RemoveOptions;

/// snapd's test-snapd-desktop-file-ids, reduced: `cmd` with `org.example.Foo.desktop` (listed),
/// `arbitrary.desktop` (not listed), the oddly named file of the spread test, and a daemon's
/// entry.
fn ids_snap(work: &Path, name: &str, ids: &str) -> PathBuf {
    let s = work.join(name);
    write(
        &s.join("meta/snap.yaml"),
        &format!(
            "name: {name}\nversion: '1'\nsummary: Desktop file ids\nbase: shelf-base\n\
             plugs:\n  desktop:\n    desktop-file-ids: {ids}\n\
             apps:\n  cmd:\n    command: bin/cmd\n    plugs: [desktop]\n  \
             server:\n    command: bin/cmd\n    daemon: simple\n"
        ),
        0o644,
    );
    write(&s.join("bin/cmd"), "#!/bin/sh\nsleep 1\n", 0o755);
    let entry = |title: &str, exec: &str| {
        format!("[Desktop Entry]\nType=Application\nName={title}\nExec={exec}\n")
    };
    for (file, exec) in [
        ("org.example.Foo.desktop", format!("{name}.cmd %U")),
        ("arbitrary.desktop", format!("{name}.cmd")),
        ("bad. ,?**[]{}^\\$#.desktop", format!("{name}.cmd")),
        ("server.desktop", format!("{name}.server --now")),
    ] {
        write(&s.join("meta/gui").join(file), &entry(file, &exec), 0o644);
    }
    sandbox::pack(&s, &work.join(format!("{name}.snap")))
}

fn exported(env: &Env) -> Vec<String> {
    let dir = env.root.join("var/lib/snapshelf/desktop/applications");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|f| f.ends_with(".desktop"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn desktop_file_ids_keep_their_names_and_daemons_start_nothing() {
    if !common::require_root() {
        return;
    }
    let (env, work) = sandbox::setup_with_confine();
    let apps = env.root.join("var/lib/snapshelf/desktop/applications");
    sandbox::install_file(
        &env,
        &ids_snap(
            work.path(),
            "ids-one",
            "[org.example.Foo, org.example.Missing]",
        ),
    );
    assert_eq!(
        exported(&env),
        [
            "ids-one_arbitrary.desktop",
            "ids-one_bad._____________.desktop",
            "ids-one_server.desktop",
            "org.example.Foo.desktop",
        ],
        "a declared id without its file is not made"
    );
    let foo = std::fs::read_to_string(apps.join("org.example.Foo.desktop")).unwrap();
    assert!(foo.contains("X-SnapInstanceName=ids-one\n"), "{foo}");
    assert!(foo.contains(" ids-one.cmd %U\n"), "{foo}");
    let server = std::fs::read_to_string(apps.join("ids-one_server.desktop")).unwrap();
    assert!(server.contains("\nExec=/usr/bin/false\n"), "{server}");

    // Another snap asking for the same name is refused; the first's file stays.
    let other = start_install_file(
        &env,
        &ids_snap(work.path(), "ids-two", "[org.example.Foo]"),
        unsigned(),
    );
    let (status, _, err) = env.wait_change(other.as_str());
    assert_eq!(status, "Error", "{err}");
    assert!(
        err.contains("\"org.example.Foo.desktop\"")
            && err.contains("already exists for another snap"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(apps.join("org.example.Foo.desktop")).unwrap(),
        foo
    );
    assert!(!exported(&env).iter().any(|f| f.starts_with("ids-two")));

    // Bad ids: refused before anything is installed, naming the field.
    for (ids, why) in [
        (
            "org.example.Foo",
            "\"desktop-file-ids\" must be a list of strings",
        ),
        (
            "['org/../x']",
            "desktop-file-ids entry \"org/../x\" is not a valid D-Bus well-known name",
        ),
    ] {
        let f = std::fs::File::open(ids_snap(work.path(), "ids-bad", ids)).unwrap();
        let fd = zbus::zvariant::OwnedFd::from(std::os::fd::OwnedFd::from(f));
        let err = match env.proxy().install_file(fd, unsigned()) {
            Ok(c) => env.wait_change(c.as_str()).2,
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("plugs.desktop.desktop-file-ids") && err.contains(why),
            "{ids}: {err}"
        );
    }

    // Removal takes the snap's files, its kept name too; a file of someone else's stays.
    std::fs::write(
        apps.join("someone-else.desktop"),
        "[Desktop Entry]\nName=X\nExec=x\n",
    )
    .unwrap();
    let c = env
        .proxy()
        .remove(&["ids-one"], RemoveOptions::default().to_dict())
        .unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    assert_eq!(exported(&env), ["someone-else.desktop"]);
}
