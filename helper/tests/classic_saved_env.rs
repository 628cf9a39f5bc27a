//! A classic app keeps the loader's variables its caller set, though `snapshelf-confine` with file
//! capabilities starts in glibc's secure mode, which drops them (snapd: `snap run` saves them as
//! `SNAP_SAVED_<NAME>`, snap-exec gives them back; here the `/snap/bin` launcher or `snapshelfctl
//! run` saves them, confine gives them back). Run in the packaged mode, as a real user.

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::sandbox::write;
use common::RUNNER;
use snapshelf_dbus::types::Dict;
use zbus::zvariant::OwnedValue;

fn classic_snap(dir: &Path) -> PathBuf {
    let s = dir.join("classicenv");
    write(
        &s.join("meta/snap.yaml"),
        "name: classicenv\nversion: '1'\nsummary: Shows its loader variables\n\
         base: shelf-base\nconfinement: classic\napps:\n  classicenv:\n    command: bin/show\n",
        0o644,
    );
    write(
        &s.join("bin/show"),
        "#!/bin/sh\necho \"ld=$LD_LIBRARY_PATH\"; echo \"tz=$TZDIR\"; \
         echo \"saved=$SNAP_SAVED_LD_LIBRARY_PATH\"; echo \"snap=$SNAP_NAME\"\n",
        0o755,
    );
    let out = dir.join("classicenv.snap");
    snapshelf_snap::squashfs::pack(&s, &out, &Default::default()).unwrap();
    out
}

/// confine with the package's file capabilities; `None` when this file system cannot hold them.
fn capable_confine(dir: &Path) -> Option<PathBuf> {
    let d = dir.join("libexec");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = d.join("snapshelf-confine");
    std::fs::copy(common::sandbox::confine_bin(), &bin).unwrap();
    let st = Command::new("setcap")
        .args(["cap_sys_admin,cap_chown,cap_dac_override,cap_dac_read_search,cap_fowner=p"])
        .arg(&bin)
        .status()
        .ok()?;
    st.success().then_some(bin)
}

/// Run `argv` as the test user in a mount namespace where the test root's directories are the
/// system's (the capable binary refuses `--root`).
fn run(env: &common::Env, argv: &[&str], vars: &[(&str, &str)]) -> Output {
    let root = env.root.display().to_string();
    let setup = format!(
        "mount --rbind {root}/snap /snap && mount --rbind {root}/var/snap /var/snap && \
         mount --bind {root}/var/lib/snapshelf /var/lib/snapshelf && \
         exec runuser -u {RUNNER} -- \"$@\""
    );
    Command::new("timeout")
        .args([
            "--signal=KILL",
            "120",
            "unshare",
            "-m",
            "--propagation",
            "private",
        ])
        .args(["sh", "-c", &setup, "sh"])
        .args(argv)
        .envs(vars.iter().copied())
        .current_dir("/")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

#[test]
fn a_classic_app_keeps_the_callers_loader_variables_through_the_capable_launcher() {
    if !common::require_root() {
        return;
    }
    let mut env = common::Env::new();
    env.start_helper();
    let c = env.proxy().install(&["shelf-base"], Dict::new()).unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let Some(capable) = capable_confine(work.path()) else {
        snapshelf_snap::testdata::record_skip(
            "a_classic_app_keeps_the_callers_loader_variables_through_the_capable_launcher",
            "setcap failed: this file system cannot hold file capabilities, so the packaged \
             mode (glibc's secure mode) cannot be run",
        );
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the packaged mode must run under CI"
        );
        return;
    };
    let f = std::fs::File::open(classic_snap(work.path())).unwrap();
    let opts: Dict = [
        ("unsigned".to_string(), OwnedValue::from(true)),
        ("classic".to_string(), OwnedValue::from(true)),
    ]
    .into_iter()
    .collect();
    let c = env
        .proxy()
        .install_file(zbus::zvariant::OwnedFd::from(OwnedFd::from(f)), opts)
        .unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    let capable_s = capable.display().to_string();
    let vars = [
        ("LD_LIBRARY_PATH", "/opt/caller/lib"),
        ("TZDIR", "/opt/zones"),
    ];

    // Straight to the capable binary, nothing saved: secure mode took them (what this is about).
    let out = stdout(&run(&env, &[&capable_s, "classicenv"], &vars));
    assert!(out.contains("ld=\n") && out.contains("tz=\n"), "{out}");

    // The launcher the helper wrote in /snap/bin, pointed at the capable binary.
    let script = std::fs::read_to_string(env.root.join("snap/bin/classicenv")).unwrap();
    // Its last line starts confine (`exec CONFINE --root ROOT 'classicenv.classicenv' "$@"`).
    let exec = script
        .lines()
        .find(|l| l.starts_with("exec "))
        .unwrap_or_else(|| panic!("no exec line:\n{script}"));
    let start = format!("exec '{capable_s}' 'classicenv.classicenv' \"$@\"");
    assert!(exec.ends_with(" 'classicenv.classicenv' \"$@\""), "{exec}");
    let launcher = work.path().join("classicenv-launcher");
    write(&launcher, &script.replace(exec, &start), 0o755);
    let launcher_s = launcher.display().to_string();
    let out = stdout(&run(&env, &[&launcher_s], &vars));
    assert!(out.contains("ld=/opt/caller/lib\n"), "{out}");
    assert!(out.contains("tz=/opt/zones\n"), "{out}");
    assert!(
        out.contains("saved=\n"),
        "the saved copy stays with confine: {out}"
    );
    assert!(out.contains("snap=classicenv\n"), "{out}");

    let ctl = common::workspace_bin("snapshelfctl", "snapshelfctl");
    let ctl_s = ctl.display().to_string();
    let mut ctl_vars = vars.to_vec();
    ctl_vars.push(("SNAPSHELF_CONFINE", &capable_s));
    let out = stdout(&run(&env, &[&ctl_s, "run", "classicenv"], &ctl_vars));
    assert!(
        out.contains("ld=/opt/caller/lib\n"),
        "snapshelfctl run: {out}"
    );
    assert!(out.contains("tz=/opt/zones\n"), "snapshelfctl run: {out}");
    let (uid, _) = common::runner();
    let _ = std::fs::remove_dir_all(format!("/run/user/{uid}/snap.classicenv"));
}
