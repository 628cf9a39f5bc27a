//! Real users for tests, each with its home in the test's scratch root (where confine, reading
//! the password database as snap-confine does, finds it), held by one test at a time.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// The user `name`, held by this test until the returned lock is dropped: the same test run from
/// another worktree (the users are the machine's) waits instead of re-pointing the home.
pub fn hold_user(name: &str) -> std::fs::File {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::create(std::env::temp_dir().join(format!("{name}.test-lock"))).unwrap();
    // SAFETY: flock on our own descriptor.
    assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
    f
}

/// A real user whose home is `<root>/home/<name>` (so the helper, on its scratch root, finds it
/// where snapd looks: under `/home`). Returns its uid; the caller holds the user (`hold_user`).
pub fn user_with_home(root: &Path, name: &str) -> u32 {
    let home = root.join("home").join(name);
    let known = Command::new("id")
        .arg(name)
        .output()
        .unwrap()
        .status
        .success();
    if !known {
        let st = Command::new("useradd")
            .args(["--no-create-home", "--shell", "/bin/sh", "--home-dir"])
            .arg(&home)
            .arg(name)
            .status()
            .unwrap();
        assert!(st.success(), "useradd {name}");
    } else {
        let st = Command::new("usermod")
            .arg("--home")
            .arg(&home)
            .arg(name)
            .status()
            .unwrap();
        assert!(st.success(), "usermod {name}");
    }
    let out = Command::new("id").args(["-u", name]).output().unwrap();
    let uid: u32 = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::fs::create_dir_all(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(uid), Some(uid)).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    uid
}
