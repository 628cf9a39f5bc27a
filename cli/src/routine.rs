//! `snapshelfctl routine …`: commands other programs run, not people. `portal-info PID` is what
//! xdg-desktop-portal runs (as `snap routine portal-info PID`, hence the `snap` name the package
//! links to this program) to learn which snap a process belongs to: snapd's keyfile
//! (`cmd/snapd/cli/cmd_routine_portal_info.go`), from the process's tracking cgroup
//! (`snapshelf_snap::tracking`) and the installed app's profile and exported desktop file. Read
//! from local files, as confine reads them: the portal asks on every call it resolves, and the
//! answer must not wait for the helper.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use snapshelf_snap::profile::Profile;
use snapshelf_snap::tracking::{tracked_process, Tracked};

use crate::failure::{Failure, Res};

/// Where the helper exports desktop files (`helper/src/desktop.rs`).
const APPLICATIONS: &str = "var/lib/snapshelf/desktop/applications";
/// Where the helper writes the apps' profiles.
const PROFILES: &str = "var/lib/snapshelf/profiles";

/// `routine portal-info PID`: the keyfile on stdout, or exit code 1 and why.
pub(crate) fn portal_info(pid: u32, root: Option<&Path>) -> Res<()> {
    let root = root.unwrap_or(Path::new("/"));
    print!("{}", portal_keyfile(pid, root)?);
    Ok(())
}

fn portal_keyfile(pid: u32, root: &Path) -> Res<String> {
    let fail = |m: String| Failure::own(m, 1);
    if pid == 0 {
        return Err(fail("0 is not a process ID".into()));
    }
    let file = format!("/proc/{pid}/cgroup");
    let text = std::fs::read_to_string(&file).map_err(|e| {
        fail(match e.kind() {
            std::io::ErrorKind::NotFound => format!("no process {pid} runs (no {file})"),
            _ => format!("cannot read {file}: {e}"),
        })
    })?;
    let Some(t) = tracked_process(&text) else {
        return Err(fail(format!(
            "process {pid} is not part of a snap: {file} names no snap.<snap>.<app> unit"
        )));
    };
    let profile = read_profile(root, &t)?;
    Ok(keyfile(&t, desktop_file(root, &t).as_deref(), &profile))
}

/// The app's profile, which says what is connected (`network-status`, as snapd reports it).
fn read_profile(root: &Path, t: &Tracked) -> Res<Profile> {
    let path = root
        .join(PROFILES)
        .join(Profile::file_name(&t.snap, &t.app));
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Failure::own(
            format!(
                "cannot read the profile of {}.{} ({}): {e}; is snap {:?} installed?",
                t.snap,
                t.app,
                path.display(),
                t.snap
            ),
            1,
        )
    })?;
    Profile::from_json(&text).map_err(|e| {
        Failure::own(
            format!("cannot read the profile {}: {e}", path.display()),
            1,
        )
    })
}

/// The desktop file id of the app: among the snap's exported desktop files (named `<snap>_…`, or
/// saying `X-SnapInstanceName=<snap>`), the one whose `Exec` launches `<snap>.<app>`,
/// `<snap>_<app>.desktop` first.
fn desktop_file(root: &Path, t: &Tracked) -> Option<String> {
    let dir = root.join(APPLICATIONS);
    let launch = format!("{}.{}", t.snap, t.app);
    let owner = format!("X-SnapInstanceName={}", t.snap);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".desktop"))
        .collect();
    names.sort();
    let preferred = format!("{}_{}.desktop", t.snap, t.app);
    if let Some(i) = names.iter().position(|n| *n == preferred) {
        let first = names.remove(i);
        names.insert(0, first);
    }
    names.into_iter().find(|name| {
        let Ok(text) = std::fs::read_to_string(dir.join(name)) else {
            return false;
        };
        let ours = name.starts_with(&format!("{}_", t.snap)) || text.lines().any(|l| l == owner);
        ours && launches(&text, &launch)
    })
}

/// Whether the `[Desktop Entry]` group's `Exec` runs `launch` (`<snap>.<app>`).
fn launches(text: &str, launch: &str) -> bool {
    let mut in_entry = false;
    for line in text.lines() {
        if line.starts_with('[') {
            in_entry = line == "[Desktop Entry]";
        } else if let Some(exec) = line.strip_prefix("Exec=").filter(|_| in_entry) {
            return exec.split_whitespace().any(|w| w == launch);
        }
    }
    false
}

/// snapd's keyfile: group `[Snap Info]`, the keys xdg-desktop-portal reads.
fn keyfile(t: &Tracked, desktop: Option<&str>, profile: &Profile) -> String {
    let mut out = format!("[Snap Info]\nInstanceName={}\n", t.snap);
    // A hook is no app: snapd names no app then.
    if !t.app.starts_with("hook.") {
        let _ = writeln!(out, "AppName={}", t.app);
    }
    if let Some(d) = desktop {
        let _ = writeln!(out, "DesktopFile={d}");
    }
    let _ = writeln!(
        out,
        "HasNetworkStatus={}",
        profile.plug_connected("network-status")
    );
    out
}

/// The arguments `snap ARGS…` stands for, when this program runs as `snap`: only `routine`
/// commands (what xdg-desktop-portal runs); anything else is refused with a pointer to
/// `snapshelfctl`.
pub fn as_snap(args: Vec<std::ffi::OsString>) -> Result<Vec<std::ffi::OsString>, String> {
    let is_snap = args
        .first()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n == "snap"))
        .unwrap_or(false);
    if !is_snap {
        return Ok(args);
    }
    if args.get(1).is_some_and(|a| a == "routine") {
        let mut out = vec![std::ffi::OsString::from("snapshelfctl")];
        out.extend(args.into_iter().skip(1));
        return Ok(out);
    }
    Err(
        "this snap command is Snapshelf's: it answers only `snap routine …` (for \
         xdg-desktop-portal); use snapshelfctl for everything else (see snapshelfctl --help)"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn only_routine_is_answered_as_snap() {
        let plain = os(&["snapshelfctl", "list"]);
        assert_eq!(as_snap(plain.clone()).unwrap(), plain);
        assert_eq!(
            as_snap(os(&["/usr/bin/snap", "routine", "portal-info", "12"])).unwrap(),
            os(&["snapshelfctl", "routine", "portal-info", "12"])
        );
        let e = as_snap(os(&["snap", "install", "hello"])).unwrap_err();
        assert!(e.contains("snapshelfctl"), "{e}");
        assert!(as_snap(os(&["snap"])).is_err());
    }

    #[test]
    fn the_keyfile_is_snapds() {
        let t = Tracked {
            snap: "shelf-clock".into(),
            app: "clock".into(),
            service: false,
        };
        let p = Profile::from_json(&sample_profile(true)).unwrap();
        assert_eq!(
            keyfile(&t, Some("shelf-clock_clock.desktop"), &p),
            "[Snap Info]\nInstanceName=shelf-clock\nAppName=clock\n\
             DesktopFile=shelf-clock_clock.desktop\nHasNetworkStatus=true\n"
        );
        let hook = Tracked {
            app: "hook.configure".into(),
            ..t
        };
        let p = Profile::from_json(&sample_profile(false)).unwrap();
        assert_eq!(
            keyfile(&hook, None, &p),
            "[Snap Info]\nInstanceName=shelf-clock\nHasNetworkStatus=false\n"
        );
    }

    fn sample_profile(connected: bool) -> String {
        let mut p = serde_json::json!({
            "version": snapshelf_snap::profile::PROFILE_VERSION,
            "snap": "shelf-clock", "app": "clock", "revision": "1", "snap-version": "1",
            "confinement": "strict", "base": "core22", "base-revision": "1",
            "architecture": "amd64", "command": ["bin/clock"], "command-chain": [],
            "environment": [], "layouts": [], "plugs": [],
        });
        p["plugs"] = serde_json::json!([{
            "name": "network-status", "interface": "network-status", "connected": connected,
        }]);
        p.to_string()
    }

    #[test]
    fn the_desktop_file_is_the_one_launching_the_app() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(APPLICATIONS);
        std::fs::create_dir_all(&dir).unwrap();
        let entry = |exec: &str, owner: &str| {
            format!("[Desktop Entry]\nName=x\n{owner}Exec=/c {exec} %U\n[Desktop Action n]\nExec=/c shelf-clock.clock\n")
        };
        std::fs::write(
            dir.join("shelf-clock_alarm.desktop"),
            entry("shelf-clock.alarm", ""),
        )
        .unwrap();
        std::fs::write(
            dir.join("org.example.Clock.desktop"),
            entry("shelf-clock.clock", "X-SnapInstanceName=shelf-clock\n"),
        )
        .unwrap();
        // Another snap's file that launches a look-alike.
        std::fs::write(dir.join("a.desktop"), entry("shelf-clock.clock", "")).unwrap();
        let t = |app: &str| Tracked {
            snap: "shelf-clock".into(),
            app: app.into(),
            service: false,
        };
        assert_eq!(
            desktop_file(root.path(), &t("clock")).as_deref(),
            Some("org.example.Clock.desktop")
        );
        assert_eq!(
            desktop_file(root.path(), &t("alarm")).as_deref(),
            Some("shelf-clock_alarm.desktop")
        );
        assert_eq!(desktop_file(root.path(), &t("timer")), None);
    }

    #[test]
    fn bad_processes_are_refused_with_why() {
        let root = tempfile::tempdir().unwrap();
        let e = portal_keyfile(0, root.path()).unwrap_err();
        assert_eq!(e.code, 1);
        // This test's own process is no snap's.
        let e = portal_keyfile(std::process::id(), root.path()).unwrap_err();
        assert!(e.message.contains("is not part of a snap"), "{}", e.message);
        let e = portal_keyfile(u32::MAX, root.path()).unwrap_err();
        assert!(e.message.contains("no process"), "{}", e.message);
    }
}
