//! `assumes` in snap.yaml: the features a snap needs from the system that installs it (snapd's
//! `snap/naming/validate.go` `ValidateAssumes`, with its feature names from
//! `overlord/snapstate/check_snap.go`). A snap that assumes anything else is refused at install.

/// The features Snapshelf has, by snapd's names, each with what makes it true here. Only what
/// Snapshelf really does is listed: snapd's `kernel-assets` (gadget volumes) and `app-refresh-mode`
/// (`refresh-mode: ignore-running`) are not.
pub const FEATURES: &[(&str, &str)] = &[
    (
        "common-data-dir",
        "$SNAP_COMMON and $SNAP_USER_COMMON, kept across revisions",
    ),
    ("snap-env", "environment: in snap.yaml, global and per app"),
    ("command-chain", "command-chain: of apps"),
    ("snap-uid-envvars", "$SNAP_UID and $SNAP_EUID"),
];

/// The snapd version whose snap-visible features Snapshelf has: an `assumes` entry `snapdX.Y[.Z]`
/// up to it is met. "Snap-visible" is what a snap can rely on from the system: snap.yaml fields,
/// `snapctl` commands, the environment and the order of hooks and services; interfaces are not
/// counted (each is checked on its own when it connects). What each release from the one that
/// brought `command-chain` on added (snapd's changelog), and where Snapshelf has it:
///
/// - 2.36: `command-chain` for apps and hooks (`confine/src/env.rs`, `engine/hooks.rs`);
/// - 2.37: `snapctl services` (`helper/src/snapctl`), the snap's global plugs bound to its hooks
///   (`engine/hooks.rs`), `command-chain` in `assumes` (below);
/// - 2.38: `start-timeout` (`TimeoutStartSec=`, `units`), `snapctl get` in a hook seeing the
///   change's pending configuration (`plan/configure.rs`);
/// - 2.39, 2.40: nothing a snap sees beyond interface rules;
/// - 2.41: `system-usernames` (`snap_daemon`): NOT had — Snapshelf parses the field but makes no
///   such user, so `snapd2.41` and later are unmet (and a snap with `system-usernames` is refused:
///   helper `snap_meta::check_assumes`).
///
/// Older features Snapshelf lacks, which no version entry stands for as they leave a snap working
/// (docs/dbus.md says so too): `completer` (bash completion). (An app's `autostart` at login,
/// snapd 2.32.4, is had: `snapshelfctl autostart`.)
pub const SNAPD_VERSION: &str = "2.40";

/// The entries of `assumes` that are not met, in their order (empty: all are). `arch` is the
/// system's dpkg architecture: an `isa-<arch>-<isa>` entry for another architecture is skipped, as
/// snapd skips it; for this one Snapshelf checks no instruction set, so it is unmet.
pub fn unmet(assumes: &[String], arch: &str) -> Vec<String> {
    assumes
        .iter()
        .filter(|flag| !met(flag, arch))
        .cloned()
        .collect()
}

fn met(flag: &str, arch: &str) -> bool {
    if let Some(version) = flag.strip_prefix("snapd") {
        if let Some(ok) = snapd_version_met(version) {
            return ok;
        }
    }
    if let Some(rest) = flag.strip_prefix("isa-") {
        return match rest.split_once('-') {
            Some((a, isa)) if !isa.is_empty() => a != arch,
            _ => false,
        };
    }
    FEATURES.iter().any(|(name, _)| *name == flag)
}

/// `Some(met)` when `version` is a plain `X[.Y[.Z…]]` (snapd refuses modifiers such as `~pre1`
/// in an assumed version); `None` when it is not a version at all.
fn snapd_version_met(version: &str) -> Option<bool> {
    let req: Vec<u32> = version
        .split('.')
        .map(|p| {
            (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        })
        .collect::<Option<_>>()?;
    let cur: Vec<u32> = SNAPD_VERSION
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    for (i, r) in req.iter().enumerate() {
        let Some(c) = cur.get(i) else {
            return Some(false); // more precision asked for than the version has: not met
        };
        if c != r {
            return Some(c > r);
        }
    }
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn features_and_versions() {
        assert!(unmet(
            &v(&["command-chain", "common-data-dir", "snap-env"]),
            "amd64"
        )
        .is_empty());
        assert!(unmet(
            &v(&[
                "snapd2",
                "snapd2.40",
                "snapd2.36.1",
                "snapd2.35.9",
                "snapd1.99"
            ]),
            "amd64"
        )
        .is_empty());
        assert_eq!(
            unmet(
                &v(&[
                    "snapd2.40.1",
                    "snapd2.41",
                    "snapd2.45",
                    "snapd3",
                    "snapd2.36~pre1"
                ]),
                "amd64"
            ),
            v(&[
                "snapd2.40.1",
                "snapd2.41",
                "snapd2.45",
                "snapd3",
                "snapd2.36~pre1"
            ])
        );
        assert_eq!(
            unmet(
                &v(&["kernel-assets", "command-chain", "app-refresh-mode", "x"]),
                "amd64"
            ),
            v(&["kernel-assets", "app-refresh-mode", "x"])
        );
    }

    #[test]
    fn instruction_sets() {
        assert!(unmet(&v(&["isa-arm64-sve"]), "amd64").is_empty());
        assert_eq!(
            unmet(&v(&["isa-amd64-avx"]), "amd64"),
            v(&["isa-amd64-avx"])
        );
        assert_eq!(unmet(&v(&["isa-amd64"]), "amd64"), v(&["isa-amd64"]));
    }
}
