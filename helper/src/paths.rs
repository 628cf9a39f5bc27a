//! Every path the helper writes, under one root directory (`/` in production; a temporary directory
//! in tests and the demo, so that they never touch the host). The shape is snapd's, because real snaps
//! depend on it (DESIGN.md §4).

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Paths {
    root: PathBuf,
}

impl Paths {
    pub fn new(root: &Path) -> Self {
        Paths {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn under(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// `/snap`
    pub fn snap_mount_dir(&self) -> PathBuf {
        self.under("snap")
    }

    /// `/snap/<name>`
    pub fn snap_dir(&self, name: &str) -> PathBuf {
        self.snap_mount_dir().join(name)
    }

    /// `/snap/<name>/<rev>`: where a revision is mounted.
    pub fn mount_point(&self, name: &str, rev: &str) -> PathBuf {
        self.snap_dir(name).join(rev)
    }

    /// `/snap/bin`: the launchers.
    pub fn bin_dir(&self) -> PathBuf {
        self.snap_mount_dir().join("bin")
    }

    /// `/var/snap/<name>`
    pub fn data_root(&self, name: &str) -> PathBuf {
        self.under("var/snap").join(name)
    }

    /// `/var/snap/<name>/<rev>`: `$SNAP_DATA`.
    pub fn data_dir(&self, name: &str, rev: &str) -> PathBuf {
        self.data_root(name).join(rev)
    }

    /// `/var/snap/<name>/common`: `$SNAP_COMMON`.
    pub fn common_dir(&self, name: &str) -> PathBuf {
        self.data_root(name).join("common")
    }

    /// `/var/lib/snapshelf`
    pub fn state_dir(&self) -> PathBuf {
        self.under("var/lib/snapshelf")
    }

    pub fn state_db(&self) -> PathBuf {
        self.state_dir().join("state.db")
    }

    /// `/var/lib/snapshelf/snaps`: the `.snap` files, kept for revert and remount.
    pub fn blobs_dir(&self) -> PathBuf {
        self.state_dir().join("snaps")
    }

    pub fn blob(&self, name: &str, rev: &str) -> PathBuf {
        self.blobs_dir().join(format!("{name}_{rev}.snap"))
    }

    pub fn assertions_dir(&self) -> PathBuf {
        self.state_dir().join("assertions")
    }

    /// Where revisions that the kernel could not mount are extracted instead.
    pub fn extracted_dir(&self) -> PathBuf {
        self.state_dir().join("extracted")
    }

    pub fn profiles_dir(&self) -> PathBuf {
        self.state_dir().join("profiles")
    }

    /// `/etc/dbus-1/system.d`: the system bus's policy files, for `dbus` slots on the system bus
    /// (`engine/bus_policy.rs`; snapd's `SnapDBusSystemPolicyDir`).
    pub fn dbus_system_policy_dir(&self) -> PathBuf {
        self.under("etc/dbus-1/system.d")
    }

    /// `/var/lib/snapshelf/dbus-1/{services,system-services}`: D-Bus activation files of snaps'
    /// daemons (`activates-on`), for the session or system bus.
    pub fn dbus_activation_dir(&self, system: bool) -> PathBuf {
        self.state_dir().join(if system {
            "dbus-1/system-services"
        } else {
            "dbus-1/services"
        })
    }

    /// `/var/lib/snapshelf/snapshots/<name>`: the data kept when a snap is removed without purge.
    pub fn snapshot_dir(&self, name: &str) -> PathBuf {
        self.state_dir().join("snapshots").join(name)
    }

    pub fn desktop_dir(&self) -> PathBuf {
        self.state_dir().join("desktop")
    }

    /// `/var/lib/snapshelf/lock`: one helper per root.
    pub fn lock_file(&self) -> PathBuf {
        self.state_dir().join("helper.lock")
    }

    /// `/etc/snapshelf/config.toml`
    pub fn config_file(&self) -> PathBuf {
        self.under("etc/snapshelf/config.toml")
    }

    /// snapd's state directory: if it exists under this root, snapd manages it.
    pub fn snapd_state(&self) -> PathBuf {
        self.under("var/lib/snapd/state.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_stays_under_the_root() {
        let p = Paths::new(Path::new("/tmp/r"));
        for path in [
            p.mount_point("hello", "x1"),
            p.data_dir("hello", "3"),
            p.common_dir("hello"),
            p.state_db(),
            p.blob("hello", "3"),
            p.profiles_dir(),
            p.config_file(),
            p.bin_dir(),
        ] {
            assert!(path.starts_with("/tmp/r"), "{}", path.display());
        }
        assert_eq!(
            p.mount_point("hello", "3"),
            Path::new("/tmp/r/snap/hello/3")
        );
        assert_eq!(
            p.blob("hello", "x2"),
            Path::new("/tmp/r/var/lib/snapshelf/snaps/hello_x2.snap")
        );
    }
}
