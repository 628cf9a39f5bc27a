//! `snapctl is-connected <slot>` from the providing snap: true while another snap's plug is
//! connected to the slot, as snapd answers (its `is-connected` looks at both ends).

mod common;

use std::path::{Path, PathBuf};

use common::sandbox::{install_file, launch_with, pack, setup, write, Mode};
use common::RUNNER;

fn snap(dir: &Path, name: &str, decl: &str) -> PathBuf {
    let s = dir.join(name);
    write(
        &s.join("meta/snap.yaml"),
        &format!(
            "name: {name}\nversion: '1'\nsummary: is-connected probe\nbase: shelf-base\n{decl}\
             apps:\n  sh:\n    command: bin/sh\n"
        ),
        0o644,
    );
    write(&s.join("bin/sh"), "#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755);
    std::fs::create_dir_all(s.join("shared")).unwrap();
    std::fs::create_dir_all(s.join("ext")).unwrap();
    pack(&s, &dir.join(format!("{name}.snap")))
}

#[test]
fn a_slot_is_connected_while_another_snaps_plug_is() {
    if !common::require_root() {
        return;
    }
    let (env, work, _) = setup();
    install_file(
        &env,
        &snap(
            work.path(),
            "slotprov",
            "slots:\n  data:\n    interface: content\n    content: shared-data\n    \
             read: [$SNAP/shared]\n  spare:\n    interface: content\n    content: other\n    \
             read: [$SNAP/shared]\n",
        ),
    );
    install_file(
        &env,
        &snap(
            work.path(),
            "slotuser",
            "plugs:\n  data:\n    interface: content\n    content: shared-data\n    \
             target: $SNAP/ext\n",
        ),
    );
    // Whether `slot` of slotprov is connected, as its app's snapctl says (exit code), and the
    // list.
    let ask = |slot: &str| {
        let script =
            format!("snapctl is-connected {slot}; echo \"code=$?\"; snapctl is-connected --list");
        let o = launch_with(
            &env,
            Mode::Root,
            RUNNER,
            "slotprov.sh",
            &["-c", &script],
            &[],
        );
        common::sandbox::ok(&o, "slotprov.sh")
    };
    let switch = |connect: bool| {
        let p = env.proxy();
        let c = if connect {
            p.connect("slotuser", "data", "slotprov", "data")
        } else {
            p.disconnect("slotuser", "data", "slotprov", "data")
        }
        .unwrap();
        let (status, _, err) = env.wait_change(c.as_str());
        assert_eq!(status, "Done", "{err}");
    };
    if common::sandbox::connected(&env, "slotuser").get("data") == Some(&true) {
        switch(false);
    }
    assert_eq!(ask("data"), "code=1\n");
    switch(true);
    assert_eq!(ask("data"), "code=0\ndata\n");
    assert_eq!(ask("spare"), "code=1\ndata\n");
    switch(false);
    assert_eq!(ask("data"), "code=1\n");
}
