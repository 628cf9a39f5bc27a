//! `snapctl` in the user-namespace mode (confine without privileges, `--root`: the dev and test
//! mode): the helper's snapctl directory is root's, which shows as the overflow uid once inside
//! the user namespace, so confine checks its owner before entering it.

mod common;

use std::path::{Path, PathBuf};

use common::sandbox::{install_file, launch_with, ok, pack, setup, write, Mode};
use common::RUNNER;

fn shell_snap(dir: &Path) -> PathBuf {
    let s = dir.join("nsctl");
    write(
        &s.join("meta/snap.yaml"),
        "name: nsctl\nversion: '1'\nsummary: Looks for snapctl\nbase: shelf-base\n\
         apps:\n  sh:\n    command: bin/sh\n",
        0o644,
    );
    write(&s.join("bin/sh"), "#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755);
    pack(&s, &dir.join("nsctl.snap"))
}

#[test]
fn snapctl_is_bound_in_the_user_namespace_mode_too() {
    if !common::require_root() {
        return;
    }
    let (env, work, _capable) = setup();
    install_file(&env, &shell_snap(work.path()));
    let snapctl_dir = env.root.join("run/snapshelf/snapctl");
    let script =
        "readlink -f \"$(command -v snapctl)\"; test -x /usr/lib/snapd/snapctl && echo bound; \
                  touch /usr/lib/snapd/planted 2>/dev/null || echo read-only";
    let want = "/usr/lib/snapd/snapctl\nbound\nread-only\n";
    for mode in [Mode::UserNs, Mode::Root] {
        let o = launch_with(&env, mode, RUNNER, "nsctl.sh", &["-c", script], &[]);
        assert_eq!(ok(&o, "nsctl.sh"), want, "{mode:?}");
    }
    // A snapctl directory others may write in is not bound, in any mode.
    use std::os::unix::fs::PermissionsExt;
    let mode_before = std::fs::metadata(&snapctl_dir).unwrap().permissions();
    std::fs::set_permissions(&snapctl_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = launch_with(
        &env,
        Mode::UserNs,
        RUNNER,
        "nsctl.sh",
        &["-c", "test -e /usr/lib/snapd/snapctl || echo absent"],
        &[],
    );
    std::fs::set_permissions(&snapctl_dir, mode_before).unwrap();
    assert_eq!(ok(&o, "nsctl.sh"), "absent\n");
}
