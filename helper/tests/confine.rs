//! Confine with the real parts: snaps installed through the helper (real bus, polkitd, store, loop
//! mounts), launched by `snapshelf-confine` as a real unprivileged user (user-namespace mode), as
//! root, and as the user with file capabilities (the packaged mode). The project's own test snaps
//! mirror snapd's `test-snapd-tools` and `test-snapd-layout`; when ../shared/compat is there, snapd's
//! own are packed and checked the same way.

mod common;

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{kind_of, Env};
use snapshelf_dbus::types::Dict;
use snapshelf_dbus::ErrorKind;

use common::sandbox::{
    capable_confine, compile_static, confine_bin, install_file, launch_with, ok, pack, setup,
    unsigned, write, Mode,
};
use common::RUNNER;

/// Our equivalent of snapd's test-snapd-tools.
fn tools_snap(dir: &Path) -> PathBuf {
    let s = dir.join("probe-tools");
    write(
        &s.join("meta/snap.yaml"),
        "name: probe-tools\nversion: '1.0'\nsummary: Tools for sandbox tests\nbase: shelf-base\n\
         environment:\n  EXTRA_GLOBAL: extra-global\n  EXTRA_CACHE_DIR: $SNAP_USER_DATA/.cache\n\
         apps:\n  env:\n    command: bin/env\n    environment:\n      EXTRA_LOCAL: extra-local\n      \
         EXTRA_LOCAL_NESTED: ${EXTRA_GLOBAL}-nested\n  success:\n    command: bin/success\n  \
         fail:\n    command: bin/fail\n  echo:\n    command: bin/echo\n",
        0o644,
    );
    write(&s.join("bin/env"), "#!/bin/sh\nexec env\n", 0o755);
    write(&s.join("bin/success"), "#!/bin/sh\nexit 0\n", 0o755);
    write(&s.join("bin/fail"), "#!/bin/sh\nexit 1\n", 0o755);
    write(&s.join("bin/echo"), "#!/bin/sh\necho \"$@\"\n", 0o755);
    pack(&s, &dir.join("probe-tools.snap"))
}

/// Our equivalent of snapd's test-snapd-layout: the same layout entries.
fn layout_snap(dir: &Path) -> PathBuf {
    let s = dir.join("probe-layout");
    write(
        &s.join("meta/snap.yaml"),
        "name: probe-layout\nversion: '1.0'\nsummary: Layouts for sandbox tests\nbase: shelf-base\n\
         apps:\n  sh:\n    command: bin/sh\nlayout:\n  /etc/demo:\n    bind: $SNAP_COMMON/etc/demo\n  \
         /etc/demo.conf:\n    bind-file: $SNAP_COMMON/etc/demo.conf\n  /etc/demo.cfg:\n    \
         symlink: $SNAP_COMMON/etc/demo.conf\n  /usr/share/demo:\n    bind: $SNAP/usr/share/demo\n  \
         /var/lib/demo:\n    bind: $SNAP_DATA/var/lib/demo\n  /var/cache/demo:\n    \
         bind: $SNAP_DATA/var/cache/demo\n  /opt/demo:\n    bind: $SNAP/opt/demo\n  \
         /var/spool/rsyslog/demo:\n    bind: $SNAP_DATA/var/spool/rsyslog/demo\n  \
         /bin/very/weird/place:\n    bind: $SNAP/bin/very/weird/place\n  \
         /bin/very/weird/space:\n    bind: $SNAP/bin/very/weird/space\n",
        0o644,
    );
    write(&s.join("bin/sh"), "#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755);
    write(&s.join("usr/share/demo/file"), "demo file\n", 0o644);
    write(&s.join("opt/demo/file"), "opt file\n", 0o644);
    pack(&s, &dir.join("probe-layout.snap"))
}

const PROBE_C: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *what, long r) {
    printf("%s=%s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
}

int main(void) {
    report("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
    report("unshare-user", unshare(CLONE_NEWUSER));
    report("unshare-mount", unshare(CLONE_NEWNS));
    long c = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (c == 0) _exit(0);
    if (c > 0) waitpid(c, 0, 0);
    report("clone-newuser", c);
    pid_t child = fork();
    if (child == 0) { pause(); _exit(0); }
    report("ptrace", ptrace(PTRACE_ATTACH, child, 0, 0));
    kill(child, SIGKILL);
    waitpid(child, 0, 0);
    char ch = 'x';
    report("tiocsti", ioctl(0, TIOCSTI, &ch));
    report("tiocsti-high", syscall(SYS_ioctl, 0, 0x100000000UL | TIOCSTI, &ch));
    report("tioclinux", ioctl(0, TIOCLINUX, &ch));
    report("inet", socket(AF_INET, SOCK_STREAM, 0));
    report("inet6", socket(AF_INET6, SOCK_DGRAM, 0));
    report("unix", socket(AF_UNIX, SOCK_STREAM, 0));
    report("keyctl", syscall(SYS_keyctl, 0, -3, 0));
    report("bpf", syscall(SYS_bpf, 0, 0, 0));
    report("chroot", chroot("/"));
    report("getpid", getpid());
    return 0;
}
"#;

/// A snap with a static probe of what the sandbox denies, and a shell.
fn probe_snap(dir: &Path) -> PathBuf {
    let s = dir.join("probe-sandbox");
    write(
        &s.join("meta/snap.yaml"),
        "name: probe-sandbox\nversion: '1.0'\nsummary: Probes the sandbox\nbase: shelf-base\n\
         apps:\n  probe:\n    command: bin/probe\n  sh:\n    command: bin/sh\n",
        0o644,
    );
    write(&s.join("bin/sh"), "#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755);
    compile_static(PROBE_C, dir, &s.join("bin/probe"));
    pack(&s, &dir.join("probe-sandbox.snap"))
}

/// One of snapd's own test snaps, given the sample base.
fn compat_snap(dir: &Path, name: &str) -> Option<PathBuf> {
    // Missing samples are recorded as not run (and fail under CI=true); the project's own
    // equivalents are checked either way.
    let test = format!("compat_snaps_run_as_snapd_expects ({name})");
    let src = snapshelf_snap::testdata::compat_dir(&test)?
        .join("snapd-test-snaps")
        .join(name);
    assert!(
        src.is_dir(),
        "{} is missing from the samples",
        src.display()
    );
    let dest = dir.join(format!("compat-{name}"));
    let st = Command::new("cp")
        .arg("-a")
        .arg(&src)
        .arg(&dest)
        .status()
        .unwrap();
    assert!(st.success());
    let yaml = dest.join("meta/snap.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    std::fs::write(&yaml, format!("{text}\nbase: shelf-base\n")).unwrap();
    Some(pack(&dest, &dir.join(format!("{name}.snap"))))
}

fn install_base(env: &Env) {
    let c = env.proxy().install(&["shelf-base"], Dict::new()).unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
}

fn launch(env: &Env, mode: Mode<'_>, target: &str, args: &[&str]) -> Output {
    launch_with(env, mode, RUNNER, target, args, &[])
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn env_map(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn check_tools(env: &Env, mode: Mode<'_>, snap: &str, home: &str, uid: u32) {
    let out = ok(&launch(env, mode, &format!("{snap}.env"), &[]), "env");
    let e = env_map(&out);
    let get = |k: &str| e.get(k).map(String::as_str).unwrap_or("<unset>");
    assert_eq!(get("EXTRA_GLOBAL"), "extra-global", "{out}");
    assert_eq!(get("EXTRA_LOCAL"), "extra-local");
    assert_eq!(get("EXTRA_LOCAL_NESTED"), "extra-global-nested");
    assert_eq!(
        get("EXTRA_CACHE_DIR"),
        format!("{home}/snap/{snap}/x1/.cache")
    );
    assert_eq!(get("SNAP"), format!("/snap/{snap}/x1"));
    assert_eq!(get("SNAP_NAME"), snap);
    assert_eq!(get("SNAP_INSTANCE_NAME"), snap);
    assert_eq!(get("SNAP_REVISION"), "x1");
    assert_eq!(get("SNAP_VERSION"), "1.0");
    assert_eq!(get("SNAP_DATA"), format!("/var/snap/{snap}/x1"));
    assert_eq!(get("SNAP_COMMON"), format!("/var/snap/{snap}/common"));
    assert_eq!(get("SNAP_USER_DATA"), format!("{home}/snap/{snap}/x1"));
    assert_eq!(
        get("SNAP_USER_COMMON"),
        format!("{home}/snap/{snap}/common")
    );
    assert_eq!(get("SNAP_REAL_HOME"), home);
    assert_eq!(get("HOME"), format!("{home}/snap/{snap}/x1"));
    assert_eq!(get("SNAP_UID"), uid.to_string());
    assert_eq!(
        get("XDG_RUNTIME_DIR"),
        format!("/run/user/{uid}/snap.{snap}")
    );
    assert_eq!(get("TMPDIR"), "/tmp");
    assert!(!get("SNAP_ARCH").is_empty() && get("SNAP_ARCH") != "<unset>");
    ok(
        &launch(env, mode, &format!("{snap}.success"), &[]),
        "success",
    );
    let f = launch(env, mode, &format!("{snap}.fail"), &[]);
    assert_eq!(f.status.code(), Some(1), "fail exits 1");
    let echo = ok(
        &launch(
            env,
            mode,
            &format!("{snap}.echo"),
            &["hello", "sandboxed world"],
        ),
        "echo",
    );
    assert_eq!(echo.trim(), "hello sandboxed world");
    // The user data directories, made as the user, 0700.
    for d in [
        format!("{home}/snap/{snap}/x1"),
        format!("{home}/snap/{snap}/common"),
    ] {
        let m = std::fs::metadata(&d).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(m.uid(), uid, "{d}");
        assert_eq!(m.mode() & 0o777, 0o700, "{d}");
    }
}

const LAYOUT_SCRIPT: &str = r#"
for p in /etc/demo /etc/demo.conf /usr/share/demo /opt/demo /var/lib/demo /var/cache/demo \
         /var/spool/rsyslog/demo /bin/very/weird/place /bin/very/weird/space; do
  test -e "$p" && echo "exists $p"
done
echo "cfg $(readlink /etc/demo.cfg)"
echo "opt $(stat -f -c %T /opt) $(stat -c '%a %u %g' /opt)"
echo "share $(cat /usr/share/demo/file 2>/dev/null || cat /usr/share/demo/* 2>/dev/null | head -1)"
echo "$1" > /etc/demo/written 2>/dev/null && echo wrote-etc
echo "$1" > /var/lib/demo/written 2>/dev/null && echo wrote-var
true
"#;

fn check_layout(env: &Env, mode: Mode<'_>, snap: &str, writes: bool, root_owned_mimic: bool) {
    let token = format!("token-{}-{}", std::process::id(), snap);
    let out = ok(
        &launch(
            env,
            mode,
            &format!("{snap}.sh"),
            &["-c", LAYOUT_SCRIPT, "sh", &token],
        ),
        "layout script",
    );
    for p in [
        "/etc/demo",
        "/etc/demo.conf",
        "/usr/share/demo",
        "/opt/demo",
        "/var/lib/demo",
        "/var/cache/demo",
        "/var/spool/rsyslog/demo",
        "/bin/very/weird/place",
        "/bin/very/weird/space",
    ] {
        assert!(
            out.contains(&format!("exists {p}\n")),
            "{p} missing in\n{out}"
        );
    }
    assert!(
        out.contains(&format!("cfg /var/snap/{snap}/common/etc/demo.conf\n")),
        "{out}"
    );
    if root_owned_mimic {
        assert!(
            out.contains("opt tmpfs 755 0 0\n"),
            "the mimic of /opt: {out}"
        );
    } else {
        assert!(out.contains("opt tmpfs 755 "), "the mimic of /opt: {out}");
    }
    if writes {
        assert!(
            out.contains("wrote-etc") && out.contains("wrote-var"),
            "{out}"
        );
        let common = env
            .root
            .join(format!("var/snap/{snap}/common/etc/demo/written"));
        let data = env
            .root
            .join(format!("var/snap/{snap}/x1/var/lib/demo/written"));
        assert_eq!(std::fs::read_to_string(common).unwrap().trim(), token);
        assert_eq!(std::fs::read_to_string(data).unwrap().trim(), token);
    }
    // Nothing of it on the host.
    for p in [
        "/etc/demo",
        "/etc/demo.conf",
        "/etc/demo.cfg",
        "/opt/demo",
        "/usr/share/demo",
        "/var/lib/demo",
    ] {
        assert!(
            std::fs::symlink_metadata(p).is_err(),
            "{p} leaked to the host"
        );
    }
    assert!(!env.root.join(format!("snap/{snap}/x1/bin/very")).exists());
}

#[test]
fn compat_snaps_run_as_snapd_expects() {
    if !common::require_root() {
        return;
    }
    let (uid, home) = common::runner();
    let home = home.display().to_string();
    let (env, work, capable) = setup();

    let mut tools = vec!["probe-tools".to_string()];
    let mut layouts = vec!["probe-layout".to_string()];
    install_file(&env, &tools_snap(work.path()));
    install_file(&env, &layout_snap(work.path()));
    if let Some(p) = compat_snap(work.path(), "test-snapd-tools") {
        install_file(&env, &p);
        tools.push("test-snapd-tools".into());
    }
    if let Some(p) = compat_snap(work.path(), "test-snapd-layout") {
        install_file(&env, &p);
        layouts.push("test-snapd-layout".into());
    }
    for snap in &tools {
        check_tools(&env, Mode::UserNs, snap, &home, uid);
        check_tools(&env, Mode::Capable(&capable), snap, &home, uid);
        check_tools(&env, Mode::Root, snap, "/root", 0);
    }
    for snap in &layouts {
        check_layout(&env, Mode::UserNs, snap, false, false);
        check_layout(&env, Mode::Capable(&capable), snap, false, true);
        check_layout(&env, Mode::Root, snap, true, true);
    }
}

#[test]
fn the_sandbox_hides_the_host_and_denies_escapes() {
    if !common::require_root() {
        return;
    }
    let (uid, home) = common::runner();
    let (env, work, capable) = setup();
    install_file(&env, &probe_snap(work.path()));
    install_file(&env, &tools_snap(work.path()));
    // Another snap's data, and a file of the user's, that the probe must not see.
    std::fs::write(env.root.join("var/snap/probe-tools/common/secret"), "x").unwrap();
    let secret = home.join(format!("secret-{}", std::process::id()));
    std::fs::write(&secret, "private").unwrap();
    std::os::unix::fs::chown(&secret, Some(uid), Some(uid)).unwrap();
    ok(
        &launch(&env, Mode::UserNs, "probe-tools.success", &[]),
        "tools",
    );

    let script = format!(
        "test -e /usr/bin/apt-get && echo host-usr; test -x /usr/bin/env && echo base-usr; \
         ls /var/snap; test -e /var/snap/probe-tools && echo other-data; \
         test -e {secret} && echo user-file; ls $SNAP_REAL_HOME/snap; \
         test -e $SNAP_REAL_HOME/snap/probe-tools && echo other-user-data; \
         touch $SNAP_USER_DATA/mine && echo user-data-writable; \
         touch /tmp/mine && echo tmp-writable; touch /usr/x 2>/dev/null && echo usr-writable; \
         ls /dev | tr '\\n' ' '; echo",
        secret = secret.display()
    );
    for mode in [Mode::UserNs, Mode::Capable(&capable)] {
        let out = ok(
            &launch(&env, mode, "probe-sandbox.sh", &["-c", &script]),
            "hide",
        );
        assert!(
            !out.contains("host-usr"),
            "{mode:?}: the host's /usr shows: {out}"
        );
        assert!(
            out.contains("base-usr"),
            "{mode:?}: the base's /usr is missing: {out}"
        );
        assert!(
            !out.contains("other-data") && !out.contains("probe-tools"),
            "{mode:?}: {out}"
        );
        assert!(
            !out.contains("user-file"),
            "{mode:?}: the user's files show without home: {out}"
        );
        assert!(!out.contains("other-user-data"), "{mode:?}: {out}");
        assert!(
            out.contains("user-data-writable") && out.contains("tmp-writable"),
            "{mode:?}: {out}"
        );
        assert!(!out.contains("usr-writable"), "{mode:?}: {out}");
        for node in [
            "null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm",
        ] {
            assert!(
                out.contains(&format!("{node} ")),
                "{mode:?}: /dev/{node} missing: {out}"
            );
        }
        assert!(
            !out.contains("sda") && !out.contains("vda") && !out.contains("mem "),
            "{mode:?}: {out}"
        );

        let out = ok(&launch(&env, mode, "probe-sandbox.probe", &[]), "probe");
        let r = env_map(&out);
        for denied in [
            "mount",
            "unshare-user",
            "unshare-mount",
            "clone-newuser",
            "ptrace",
            "tiocsti",
            "tiocsti-high",
            "tioclinux",
            "keyctl",
            "bpf",
            "chroot",
            // network is not plugged
            "inet",
            "inet6",
        ] {
            assert_eq!(
                r.get(denied).map(String::as_str),
                Some("EPERM"),
                "{mode:?} {denied}: {out}"
            );
        }
        assert_eq!(r.get("unix").map(String::as_str), Some("ok"), "{out}");
        assert_eq!(r.get("getpid").map(String::as_str), Some("ok"), "{out}");
    }
    std::fs::remove_file(&secret).unwrap();
}

fn bad_layout_snap(dir: &Path, name: &str, layout: &str, top_files: &[(&str, &str)]) -> PathBuf {
    let s = dir.join(name);
    write(
        &s.join("meta/snap.yaml"),
        &format!(
            "name: {name}\nversion: '1'\nsummary: Hostile\nbase: shelf-base\napps:\n  sh:\n    command: bin/sh\nlayout:\n{layout}"
        ),
        0o644,
    );
    write(&s.join("bin/sh"), "#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755);
    for (link, target) in top_files {
        let p = s.join(link);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, p).unwrap();
    }
    pack(&s, &dir.join(format!("{name}.snap")))
}

#[test]
fn hostile_snaps_are_refused_and_failures_are_clear() {
    if !common::require_root() {
        return;
    }
    common::runner();
    let mut env = Env::new();
    env.start_helper();
    install_base(&env);
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let helper = env.proxy();
    let mut cases: Vec<(String, String)> = snapshelf_snap::layout::FORBIDDEN
        .iter()
        .map(|f| (format!("  {f}/x:\n    bind: $SNAP/x\n"), format!("{f}/x")))
        .collect();
    cases.extend(
        [
            ("  /usr/../etc/x:\n    bind: $SNAP/x\n", "/usr/../etc/x"),
            (
                "  /usr/share/x:\n    bind: $SNAP/../../etc\n",
                "/usr/share/x",
            ),
            ("  /usr/share/x:\n    bind: /etc\n", "/usr/share/x"),
            ("  /usr/share/x:\n    bind: $HOME/x\n", "/usr/share/x"),
            (
                "  /usr/share/x:\n    bind: $SNAP/x\n    symlink: $SNAP/y\n",
                "/usr/share/x",
            ),
            ("  /newtop:\n    bind: $SNAP/x\n", "/newtop"),
            ("  /newtop/deeper:\n    type: tmpfs\n", "/newtop/deeper"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string())),
    );
    for (i, (layout, field)) in cases.iter().enumerate() {
        let name = format!("hostile-{i}");
        let file = bad_layout_snap(work.path(), &name, layout, &[]);
        let f = std::fs::File::open(&file).unwrap();
        let e = helper
            .install_file(zbus::zvariant::OwnedFd::from(OwnedFd::from(f)), unsigned())
            .unwrap_err();
        let text = e.to_string();
        assert_eq!(kind_of(e), ErrorKind::InvalidSnap, "{layout}");
        assert!(
            text.contains(&format!("layout.{field}")),
            "{layout}: the field is not named: {text}"
        );
        assert!(
            !env.root.join(format!("snap/{name}")).exists(),
            "{name} left behind"
        );
        let blobs = std::fs::read_dir(env.root.join("var/lib/snapshelf/snaps"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().starts_with(&name))
                    .count()
            })
            .unwrap_or(0);
        assert_eq!(blobs, 0, "{name}: a blob was kept");
    }

    // A link in the snap to a host file, used as a bind source: installable, refused at launch.
    let file = bad_layout_snap(
        work.path(),
        "sneaky-link",
        "  /etc/sneaky.conf:\n    bind-file: $SNAP/conf/shadow\n  /usr/share/sneaky:\n    bind: $SNAP/hostdir\n",
        &[("conf/shadow", "/etc/shadow"), ("hostdir", "/root")],
    );
    install_file(&env, &file);
    for mode in [Mode::UserNs, Mode::Root] {
        let o = launch(
            &env,
            mode,
            "sneaky-link.sh",
            &["-c", "cat /etc/sneaky.conf; ls /usr/share/sneaky"],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(65), "{mode:?}: {err} {}", stdout(&o));
        assert!(err.contains("symbolic link"), "{err}");
        assert!(
            !stdout(&o).contains("root:"),
            "the host's shadow file leaked"
        );
    }

    // Clear failures with documented exit codes.
    let o = launch(&env, Mode::UserNs, "not-installed.app", &[]);
    assert_eq!(o.status.code(), Some(66));
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"not-installed\" is not installed"));
    let o = launch(&env, Mode::UserNs, "sneaky-link.nope", &[]);
    assert_eq!(o.status.code(), Some(66));
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no app \"nope\""));
    let o = launch(&env, Mode::UserNs, "Bad..Name", &[]);
    assert_eq!(o.status.code(), Some(64));
    let profile = env
        .root
        .join("var/lib/snapshelf/profiles/sneaky-link.sh.json");
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o666)).unwrap();
    let o = launch(&env, Mode::UserNs, "sneaky-link.sh", &["-c", "true"]);
    assert_eq!(o.status.code(), Some(77));
    assert!(String::from_utf8_lossy(&o.stderr).contains("writable by others"));
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o644)).unwrap();
    // With privileges, --root is refused to a user.
    let capable = capable_confine(work.path());
    let o = Command::new("runuser")
        .args(["-u", RUNNER, "--"])
        .arg(&capable)
        .arg("--root")
        .arg(&env.root)
        .arg("sneaky-link.sh")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(77));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--root"));
}

const IFPROBE_C: &str = r#"
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) {
        printf("connect=%s\n", strerrorname_np(errno));
    } else {
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_port = htons(atoi(argv[1]));
        a.sin_addr.s_addr = htonl(0x7f000001);
        int r = connect(s, (struct sockaddr *)&a, sizeof a);
        printf("connect=%s\n", r < 0 ? strerrorname_np(errno) : "ok");
    }
    char p[4096];
    const char *home = getenv("SNAP_REAL_HOME");
    /* Into a folder of the home: with `home` the home's top level is read-only (docs/confine.md). */
    snprintf(p, sizeof p, "%s/snapshelf-ifprobe/written-by-ifprobe", home ? home : "/nonexistent");
    FILE *f = fopen(p, "w");
    printf("home-write=%s\n", f ? "ok" : strerrorname_np(errno));
    if (f) fclose(f);
    printf("camera=%s\n", access("/dev/video99", F_OK) == 0 ? "present" : "absent");
    snprintf(p, sizeof p, "/mnt/%s", argv[2]);
    printf("removable=%s\n", access(p, F_OK) == 0 ? "present" : "absent");
    return 0;
}
"#;

fn ifprobe_snap(dir: &Path, version: &str) -> PathBuf {
    let s = dir.join(format!("ifprobe-{version}"));
    write(
        &s.join("meta/snap.yaml"),
        &format!(
            "name: ifprobe\nversion: '{version}'\nsummary: Probes interfaces\nbase: shelf-base\n\
             plugs:\n  net:\n    interface: network\napps:\n  ifprobe:\n    command: bin/ifprobe\n    \
             plugs: [net, home, camera, removable-media]\n"
        ),
        0o644,
    );
    compile_static(IFPROBE_C, dir, &s.join("bin/ifprobe"));
    pack(&s, &dir.join(format!("ifprobe-{version}.snap")))
}

/// Connect or Disconnect as `user` through busctl; the change must end Done.
fn switch_plug(env: &Env, user: &str, method: &str, plug: &str, slot: &str) -> Result<(), String> {
    let (ok, text) = env.busctl_as(
        user,
        &[
            "--allow-interactive-authorization=no",
            method,
            "ssss",
            "ifprobe",
            plug,
            "",
            slot,
        ],
    );
    if !ok {
        return Err(text);
    }
    let path = text
        .trim()
        .trim_start_matches("o ")
        .trim_matches('"')
        .to_string();
    let (status, _, err) = env.wait_change(&path);
    assert_eq!(status, "Done", "{method} {plug}: {err}");
    Ok(())
}

fn connections(env: &Env) -> BTreeMap<String, (bool, bool, bool, String)> {
    env.proxy()
        .connections("ifprobe")
        .unwrap()
        .into_iter()
        .map(|d| {
            let c = snapshelf_dbus::types::Connection::from_dict(&d).unwrap();
            (c.plug, (c.connected, c.manual, c.auto, c.label))
        })
        .collect()
}

#[test]
fn permissions_change_the_sandbox_and_survive_refresh_and_revert() {
    if !common::require_root() {
        return;
    }
    let _home = ifprobe_home_lock();
    let (uid, home) = common::runner();
    let mut env = Env::new();
    env.start_helper();
    install_base(&env);
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let v1 = ifprobe_snap(work.path(), "1");
    let v2 = ifprobe_snap(work.path(), "2");
    install_file(&env, &v1);

    // A server on 127.0.0.1, a camera node made for the test, a mounted stick's file.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || for _ in listener.incoming() {});
    let video = Path::new("/dev/video99");
    if !video.exists() {
        let st = Command::new("mknod")
            .args(["-m", "0666", "/dev/video99", "c", "1", "3"])
            .status()
            .unwrap();
        assert!(st.success(), "mknod /dev/video99");
    }
    let marker = format!("snapshelf-stick-{}", std::process::id());
    std::fs::write(Path::new("/mnt").join(&marker), "on the stick").unwrap();
    let folder = home.join("snapshelf-ifprobe");
    std::fs::create_dir_all(&folder).unwrap();
    std::os::unix::fs::chown(&folder, Some(uid), Some(uid)).unwrap();
    let written = folder.join("written-by-ifprobe");
    let _ = std::fs::remove_file(&written);
    let probe = |mode: Mode<'_>| {
        env_map(&ok(
            &launch(&env, mode, "ifprobe", &[&port, &marker]),
            "ifprobe",
        ))
    };
    let capable = capable_confine(work.path());
    let modes = [Mode::UserNs, Mode::Capable(&capable)];

    // Installed: network and home connect by themselves, camera and removable-media wait.
    let c = connections(&env);
    assert_eq!(c.len(), 4, "{c:?}");
    for (plug, (connected, manual, auto, label)) in &c {
        assert!(
            !label.is_empty() && !label.contains("interface"),
            "{plug}: {label}"
        );
        assert!(!manual);
        assert_eq!(*connected, plug == "net" || plug == "home", "{plug}");
        assert_eq!(auto, connected);
    }
    for mode in modes {
        let r = probe(mode);
        assert_eq!(r["connect"], "ok", "{mode:?} {r:?}");
        assert_eq!(r["home-write"], "ok", "{mode:?} {r:?}");
        assert_eq!(r["camera"], "absent");
        assert_eq!(r["removable"], "absent");
        assert!(written.exists());
        std::fs::remove_file(&written).unwrap();
    }

    // An ungranted user changes nothing.
    let e = switch_plug(&env, common::DENIED, "Disconnect", "net", "network").unwrap_err();
    assert!(e.contains("authentication is required"), "{e}");
    let e = switch_plug(&env, common::DENIED, "Connect", "camera", "camera").unwrap_err();
    assert!(e.contains("authentication is required"), "{e}");
    assert_eq!(connections(&env), c);

    // The user of the app, whom polkit allows, switches each one; the next launch sees it.
    switch_plug(&env, RUNNER, "Disconnect", "net", "network").unwrap();
    switch_plug(&env, RUNNER, "Disconnect", "home", "").unwrap();
    switch_plug(&env, RUNNER, "Connect", "camera", "camera").unwrap();
    switch_plug(&env, RUNNER, "Connect", "removable-media", "").unwrap();
    let helper = env.proxy();
    let kind = |r: zbus::Result<zbus::zvariant::OwnedObjectPath>| kind_of(r.unwrap_err());
    assert_eq!(
        kind(helper.connect("ifprobe", "camera", "", "camera")),
        ErrorKind::InterfacesUnchanged
    );
    assert_eq!(
        kind(helper.disconnect("ifprobe", "net", "", "network")),
        ErrorKind::InterfacesUnchanged
    );
    assert_eq!(
        kind(helper.connect("ifprobe", "nope", "", "")),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(helper.connect("ifprobe", "net", "", "home")),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(helper.connect("ifprobe", "net", "other-snap", "x")),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(helper.connect("not-there", "net", "", "")),
        ErrorKind::NotInstalled
    );
    assert_eq!(
        kind(helper.connect("ifprobe", "", "", "")),
        ErrorKind::InvalidArgument
    );
    let c2 = connections(&env);
    assert!(
        c2.values().all(|(_, manual, auto, _)| *manual && !auto),
        "{c2:?}"
    );
    let flipped = |r: &BTreeMap<String, String>| {
        assert_eq!(r["connect"], "EPERM", "{r:?}");
        assert_ne!(r["home-write"], "ok", "{r:?}");
        assert_eq!(r["camera"], "present", "{r:?}");
        assert_eq!(r["removable"], "present", "{r:?}");
    };
    for mode in modes {
        flipped(&probe(mode));
    }
    assert!(!written.exists());

    // A refresh (the next revision from a file) and a revert keep the person's choices.
    install_file(&env, &v2);
    assert_eq!(env.link("snap/ifprobe/current").as_deref(), Some("x2"));
    flipped(&probe(Mode::UserNs));
    let c = env.proxy().revert("ifprobe", Dict::new()).unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    assert_eq!(env.link("snap/ifprobe/current").as_deref(), Some("x1"));
    flipped(&probe(Mode::UserNs));
    assert_eq!(connections(&env), c2);

    // And back.
    switch_plug(&env, RUNNER, "Connect", "net", "network").unwrap();
    switch_plug(&env, RUNNER, "Connect", "home", "home").unwrap();
    let r = probe(Mode::UserNs);
    assert_eq!(r["connect"], "ok", "{r:?}");
    assert_eq!(r["home-write"], "ok", "{r:?}");
    let _ = std::fs::remove_file(&written);

    // Remove clears the choices: a new install follows the policy again.
    let c = env.proxy().remove(&["ifprobe"], Dict::new()).unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    install_file(&env, &v1);
    assert!(connections(&env).values().all(|(_, manual, ..)| !manual));
    let _ = std::fs::remove_dir(&folder);
    std::fs::remove_file(Path::new("/mnt").join(&marker)).unwrap();
    let _ = std::fs::remove_file(video);
}

const BINDPROBE_C: &str = r#"
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) { printf("bind=%s\n", strerrorname_np(errno)); return 0; }
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7f000001);
    int r = bind(s, (struct sockaddr *)&a, sizeof a);
    printf("bind=%s\n", r < 0 ? strerrorname_np(errno) : "ok");
    return 0;
}
"#;

/// A snap plugging every display, sound, graphics and desktop interface, with a shell and a
/// TCP-bind probe.
fn desktop_probe_snap(dir: &Path) -> PathBuf {
    let s = dir.join("deskprobe");
    write(
        &s.join("meta/snap.yaml"),
        "name: deskprobe\nversion: '1'\nsummary: Probes desktop interfaces\nbase: shelf-base\n\
         apps:\n  sh:\n    command: bin/sh\n    plugs: [network, network-bind, x11, wayland, desktop, opengl, audio-playback, audio-record, home]\n  \
         bindprobe:\n    command: bin/bindprobe\n    plugs: [network, network-bind]\n",
        0o644,
    );
    write(&s.join("bin/sh"), "#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755);
    compile_static(BINDPROBE_C, dir, &s.join("bin/bindprobe"));
    pack(&s, &dir.join("deskprobe.snap"))
}

/// A fixture on the host that the test removes when it ends.
struct HostFixture(Vec<PathBuf>);

impl HostFixture {
    fn node(&mut self, path: &str) {
        let p = Path::new(path);
        if let Some(d) = p.parent() {
            if !d.exists() {
                std::fs::create_dir_all(d).unwrap();
                self.0.push(d.to_path_buf());
            }
        }
        if !p.exists() {
            let st = Command::new("mknod")
                .args(["-m", "0666", path, "c", "1", "3"])
                .status()
                .unwrap();
            assert!(st.success(), "mknod {path}");
        }
        self.0.push(p.to_path_buf());
    }

    fn socket(&mut self, path: &Path, owner: Option<u32>) -> std::os::unix::net::UnixListener {
        if let Some(d) = path.parent() {
            if !d.exists() {
                std::fs::create_dir_all(d).unwrap();
                if let Some(uid) = owner {
                    std::os::unix::fs::chown(d, Some(uid), Some(uid)).unwrap();
                }
                self.0.push(d.to_path_buf());
            }
        }
        let _ = std::fs::remove_file(path);
        let l = std::os::unix::net::UnixListener::bind(path).unwrap();
        if let Some(uid) = owner {
            std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
        }
        self.0.push(path.to_path_buf());
        l
    }
}

impl Drop for HostFixture {
    fn drop(&mut self) {
        for p in self.0.iter().rev() {
            let _ = std::fs::remove_file(p);
            let _ = std::fs::remove_dir(p);
        }
    }
}

#[test]
fn every_desktop_interface_shows_its_effect_both_ways() {
    if !common::require_root() {
        return;
    }
    let (uid, home) = common::runner();
    let mut env = Env::new();
    env.start_helper();
    install_base(&env);
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    install_file(&env, &desktop_probe_snap(work.path()));

    // The host's side: an X server's and a compositor's sockets, a sound server, a GPU and a sound
    // card, fonts; a dot-file in the home.
    let mut fx = HostFixture(Vec::new());
    if !Path::new("/tmp/.X11-unix").exists() {
        std::fs::create_dir_all("/tmp/.X11-unix").unwrap();
        std::fs::set_permissions("/tmp/.X11-unix", std::fs::Permissions::from_mode(0o1777))
            .unwrap();
    }
    let _x = fx.socket(Path::new("/tmp/.X11-unix/X97"), None);
    let run_user = PathBuf::from(format!("/run/user/{uid}"));
    if !run_user.exists() {
        std::fs::create_dir_all(&run_user).unwrap();
        std::os::unix::fs::chown(&run_user, Some(uid), Some(uid)).unwrap();
        std::fs::set_permissions(&run_user, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let _w = fx.socket(&run_user.join("wayland-97"), Some(uid));
    let _p = fx.socket(&run_user.join("pulse/native"), Some(uid));
    fx.node("/dev/dri/renderD197");
    fx.node("/dev/snd/pcmC9D0p");
    fx.node("/dev/snd/pcmC9D0c");
    fx.node("/dev/snd/controlC9");
    let dot = home.join(format!(".snapshelf-secret-{}", std::process::id()));
    std::fs::write(&dot, "secret").unwrap();
    std::os::unix::fs::chown(&dot, Some(uid), Some(uid)).unwrap();
    fx.0.push(dot.clone());
    let plain = home.join(format!("snapshelf-visible-{}", std::process::id()));
    std::fs::write(&plain, "visible").unwrap();
    std::os::unix::fs::chown(&plain, Some(uid), Some(uid)).unwrap();
    fx.0.push(plain.clone());

    let script = format!(
        "test -S /tmp/.X11-unix/X97 && echo x11-socket; echo \"display=$DISPLAY\"; \
         test -S \"$WAYLAND_DISPLAY\" && echo wayland-socket; \
         test -d /usr/share/fonts/truetype/dejavu && echo fonts; \
         test -e /dev/dri/renderD197 && echo dri; \
         test -S /run/user/{uid}/pulse/native && echo pulse; echo \"pulse-server=$PULSE_SERVER\"; \
         test -e /dev/snd/pcmC9D0p && echo snd-playback; test -e /dev/snd/pcmC9D0c && echo snd-capture; \
         test -e /dev/snd/controlC9 && echo snd-control; \
         cat {plain} 2>/dev/null; cat {dot} 2>/dev/null; echo",
        plain = plain.display(),
        dot = dot.display()
    );
    let run = |mode: Mode<'_>| -> (String, String) {
        let root = env.root.display().to_string();
        let o = match mode {
            Mode::UserNs => Command::new("runuser")
                .args(["-u", RUNNER, "--"])
                .arg(confine_bin())
                .args(["--root", &root, "deskprobe.sh", "-c", &script])
                .env("DISPLAY", ":97")
                .env("WAYLAND_DISPLAY", "wayland-97")
                .current_dir("/")
                .output()
                .unwrap(),
            _ => launch(&env, mode, "deskprobe.sh", &["-c", &script]),
        };
        let shell = ok(&o, "deskprobe.sh");
        let bind = ok(
            &launch(&env, Mode::UserNs, "deskprobe.bindprobe", &[]),
            "bindprobe",
        );
        (shell, bind)
    };

    // Installed: all but audio-record connect by themselves.
    let (out, bind) = run(Mode::UserNs);
    for present in [
        "x11-socket",
        "display=:97",
        "wayland-socket",
        "fonts",
        "dri",
        "pulse",
        &format!("pulse-server=unix:/run/user/{uid}/pulse/native"),
        "snd-playback",
        "snd-control",
        "visible",
    ] {
        assert!(out.contains(present), "{present} missing:\n{out}");
    }
    assert!(!out.contains("snd-capture"), "{out}");
    assert!(
        !out.contains("secret"),
        "a dot-file shows with home:\n{out}"
    );
    assert!(bind.contains("bind=ok"), "{bind}");

    // Each one switched the other way.
    for (plug, connect) in [
        ("x11", false),
        ("wayland", false),
        ("desktop", false),
        ("opengl", false),
        ("audio-playback", false),
        ("audio-record", true),
        ("network-bind", false),
        ("home", false),
    ] {
        let c = if connect {
            env.proxy().connect("deskprobe", plug, "", "")
        } else {
            env.proxy().disconnect("deskprobe", plug, "", "")
        }
        .unwrap();
        assert_eq!(env.wait_change(c.as_str()).0, "Done", "{plug}");
    }
    let (out, bind) = run(Mode::UserNs);
    for absent in [
        "x11-socket",
        "display=:97",
        "wayland-socket",
        "fonts",
        "dri",
        "snd-playback",
        "visible",
    ] {
        assert!(!out.contains(absent), "{absent} still there:\n{out}");
    }
    // Recording alone: the capture node and the sound server, not the playback node.
    assert!(
        out.contains("snd-capture") && out.contains("pulse\n"),
        "{out}"
    );
    assert!(
        bind.contains("bind=EACCES"),
        "TCP bind without network-bind: {bind}"
    );
}

/// The permission labels in people's language: the helper follows its locale, with the project's
/// catalogues compiled by msgfmt (which checks them).
#[test]
fn permission_labels_are_translated() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    let locale = env.dir.path().join("locale");
    common::compile_translations(&locale);
    for (lang, network, home) in [
        (
            "de",
            "Auf das Netzwerk zugreifen",
            "Dateien in Ihrem persönlichen Ordner lesen und schreiben",
        ),
        (
            "fr",
            "Accéder au réseau",
            "Lire et écrire des fichiers dans votre dossier personnel",
        ),
        (
            "es",
            "Acceder a la red",
            "Leer y escribir archivos en su carpeta personal",
        ),
    ] {
        let child = env
            .helper_command()
            .arg("--locale-dir")
            .arg(&locale)
            .env("LANG", "C.UTF-8")
            .env("LANGUAGE", lang)
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        env.helper = Some(child);
        let addr = env.bus_address.clone();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !common::name_has_owner(&addr, "io.github.snapshelf.Helper1") {
            assert!(
                std::time::Instant::now() < deadline,
                "the helper did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let labels: BTreeMap<String, String> = env
            .proxy()
            .interfaces()
            .unwrap()
            .into_iter()
            .map(|d| {
                let i = snapshelf_dbus::types::InterfaceInfo::from_dict(&d).unwrap();
                (i.name, i.label)
            })
            .collect();
        assert_eq!(labels["network"], network, "{lang}");
        assert_eq!(labels["home"], home, "{lang}");
        if lang == "de" {
            install_base(&env);
            let c = env.proxy().install(&["shelf-fetch"], Dict::new()).unwrap();
            assert_eq!(env.wait_change(c.as_str()).0, "Done");
            // The change's words for people are German too.
            let change = snapshelf_dbus::proxy::Change1ProxyBlocking::builder(&env.connection())
                .path(c)
                .unwrap()
                .build()
                .unwrap();
            assert_eq!(change.summary().unwrap(), "\"shelf-fetch\" installieren");
            let tasks = change.tasks().unwrap();
            assert!(
                tasks.iter().any(|t| t.1.contains("herunterladen")),
                "{tasks:?}"
            );
            let conns = env.proxy().connections("shelf-fetch").unwrap();
            let c = snapshelf_dbus::types::Connection::from_dict(&conns[0]).unwrap();
            assert_eq!(c.label, network);
        }
        env.kill_helper();
    }
}

/// Desktop files: exported sanitised, launching through confine, with their icon; what a snap must
/// not export is left out; a remove takes them away.
#[test]
fn desktop_files_are_exported_sanitised_and_launch_in_the_sandbox() {
    if !common::require_root() {
        return;
    }
    common::runner();
    let mut env = Env::new();
    env.start_helper();
    install_base(&env);
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = work.path().join("probe-desktop");
    write(
        &s.join("meta/snap.yaml"),
        "name: probe-desktop\nversion: '1'\nsummary: Desktop files\nbase: shelf-base\n\
         apps:\n  probe-desktop:\n    command: bin/hello\n",
        0o644,
    );
    write(
        &s.join("bin/hello"),
        "#!/bin/sh\necho \"hello from $SNAP_NAME $*\"\n",
        0o755,
    );
    write(
        &s.join("meta/gui/probe-desktop.desktop"),
        "[Desktop Entry]\nType=Application\nName=Probe Desktop\nName[de]=Probe-Schreibtisch\n\
         Comment=Says hello\nExec=probe-desktop %U\nIcon=${SNAP}/meta/gui/icon.png\nTerminal=true\n\
         Categories=Utility;\nX-Injected=/bin/evil\nTryExec=/bin/evil\n",
        0o644,
    );
    write(
        &s.join("meta/gui/shell.desktop"),
        "[Desktop Entry]\nType=Application\nName=Shell\nExec=/bin/sh -c evil\n",
        0o644,
    );
    std::fs::write(s.join("meta/gui/icon.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    // Theme icons: one under the snap's own prefix, one that would replace another app's.
    let theme = s.join("meta/gui/icons/hicolor/48x48/apps");
    std::fs::create_dir_all(&theme).unwrap();
    std::fs::write(theme.join("snap.probe-desktop.extra.png"), b"\x89PNGextra").unwrap();
    std::fs::write(theme.join("firefox.png"), b"\x89PNGnot mine").unwrap();
    std::os::unix::fs::symlink("/etc/shadow", s.join("meta/gui/leak.desktop")).unwrap();
    install_file(&env, &pack(&s, &work.path().join("probe-desktop.snap")));

    let apps = env.root.join("var/lib/snapshelf/desktop/applications");
    let icons = env.root.join("var/lib/snapshelf/desktop/icons");
    let exported: Vec<String> = std::fs::read_dir(&apps)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        exported,
        vec!["probe-desktop_probe-desktop.desktop"],
        "{exported:?}"
    );
    let file = apps.join("probe-desktop_probe-desktop.desktop");
    let text = std::fs::read_to_string(&file).unwrap();
    let icon = icons.join("probe-desktop_icon.png");
    assert!(icon.is_file());
    let theme_icon = icons.join("hicolor/48x48/apps/snap.probe-desktop.extra.png");
    assert_eq!(std::fs::read(&theme_icon).unwrap(), b"\x89PNGextra");
    assert!(!icons.join("hicolor/48x48/apps/firefox.png").exists());
    assert!(
        text.contains(&format!("Icon={}\n", icon.display())),
        "{text}"
    );
    assert!(text.contains("X-SnapInstanceName=probe-desktop\n"));
    assert!(text.contains("Name[de]=Probe-Schreibtisch\n"));
    assert!(
        !text.contains("evil") && !text.contains("TryExec"),
        "{text}"
    );
    let exec = text
        .lines()
        .find_map(|l| l.strip_prefix("Exec="))
        .unwrap()
        .to_string();
    assert!(
        exec.contains(" --root ") && exec.ends_with(" probe-desktop.probe-desktop %U"),
        "{exec}"
    );
    let v = Command::new("desktop-file-validate")
        .arg(&file)
        .output()
        .expect("desktop-file-validate (Debian package desktop-file-utils) is needed");
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));

    // What a desktop environment would run, run as the user: the app, in its sandbox.
    let confine = confine_bin().display().to_string();
    let argv: Vec<String> = exec
        .replace("/usr/libexec/snapshelf/snapshelf-confine", &confine)
        .split_whitespace()
        .map(|w| {
            if w == "%U" {
                "file:///x".to_string()
            } else {
                w.to_string()
            }
        })
        .collect();
    let o = Command::new("runuser")
        .args(["-u", RUNNER, "--"])
        .args(&argv)
        .current_dir("/")
        .output()
        .unwrap();
    assert_eq!(
        ok(&o, "desktop Exec").trim(),
        "hello from probe-desktop file:///x"
    );

    if let Some(p) = compat_snap(work.path(), "basic-desktop") {
        install_file(&env, &p);
        for f in [
            "basic-desktop_echo.desktop",
            "basic-desktop_io.snapcraft.echoecho.desktop",
        ] {
            let text = std::fs::read_to_string(apps.join(f)).unwrap();
            assert!(text.contains("basic-desktop.echo"), "{text}");
            assert!(text.contains(&icons.join("basic-desktop_icon.png").display().to_string()));
        }
    }

    let c = env.proxy().remove(&["probe-desktop"], Dict::new()).unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    assert!(
        !file.exists() && !icon.exists() && !theme_icon.exists(),
        "the export outlived the snap"
    );
}

/// A hostile snap's attacks on its sandbox (issue 17): through the host's `/proc`, io_uring,
/// socket families, abstract Unix sockets, and dot-files in the home.
const ESCAPE_C: &str = r#"
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static const char *res(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }
static void report(const char *what, long r) { printf("%s=%s\n", what, res(r)); }

int main(int argc, char **argv) {
    if (argc < 8) return 2;
    const char *home = argv[1], *secret = argv[2], *abstract = argv[4], *dotlink = argv[5];
    const char *docs = argv[6];
    int hostpid = atoi(argv[3]), port = atoi(argv[7]);
    char p[4096], q[4096];

    /* The escape of the review: another process's /proc/<pid>/root, to read a secret and plant
       a login script. */
    int n = 0, host_seen = 0, read_ok = 0, write_ok = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        n++;
        if (atoi(e->d_name) == hostpid) host_seen = 1;
        snprintf(p, sizeof p, "/proc/%s/root%s/%s", e->d_name, home, secret);
        int fd = open(p, O_RDONLY);
        if (fd >= 0) { read_ok = 1; close(fd); }
        snprintf(p, sizeof p, "/proc/%s/root%s/.bash_login", e->d_name, home);
        fd = open(p, O_WRONLY | O_CREAT, 0644);
        if (fd >= 0) { write_ok = 1; close(fd); }
    }
    printf("proc-pids=%d\n", n);
    printf("proc-host-pid=%s\n", host_seen ? "visible" : "absent");
    snprintf(p, sizeof p, "/proc/%d/root%s/%s", hostpid, home, secret);
    report("proc-direct", open(p, O_RDONLY));
    printf("proc-read-secret=%s\n", read_ok ? "ok" : "denied");
    printf("proc-write=%s\n", write_ok ? "ok" : "denied");
    report("proc-self", open("/proc/self/status", O_RDONLY));
    report("kill-host", kill(hostpid, 0));

    /* io_uring: IORING_OP_SOCKET made an internet socket behind the filter's back. */
    char params[120] = {0};
    report("io_uring_setup", syscall(SYS_io_uring_setup, 4, params));

    /* Socket families. */
    struct { const char *n; int f, t, p; } fam[] = {
        {"unix", AF_UNIX, SOCK_STREAM, 0},
        {"inet", AF_INET, SOCK_STREAM, 0},
        {"inet6", AF_INET6, SOCK_DGRAM, 0},
        {"netlink-route", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE},
        {"netlink-uevent", AF_NETLINK, SOCK_RAW, NETLINK_KOBJECT_UEVENT},
        {"netlink-audit", AF_NETLINK, SOCK_RAW, NETLINK_AUDIT},
        {"packet", AF_PACKET, SOCK_DGRAM, 0},
        {"vsock", AF_VSOCK, SOCK_STREAM, 0},
        {"alg", AF_ALG, SOCK_SEQPACKET, 0},
        {"bluetooth", AF_BLUETOOTH, SOCK_RAW, 0},
        {"can", AF_CAN, SOCK_RAW, 1},
        {"xdp", AF_XDP, SOCK_RAW, 0},
        {"tipc", AF_TIPC, SOCK_RDM, 0},
    };
    for (size_t i = 0; i < sizeof fam / sizeof fam[0]; i++) {
        int s = socket(fam[i].f, fam[i].t, fam[i].p);
        report(fam[i].n, s);
        if (s >= 0) close(s);
    }

    /* A host service on an abstract socket (as X11's @/tmp/.X11-unix/X0). */
    struct sockaddr_un a = {0};
    a.sun_family = AF_UNIX;
    strncpy(a.sun_path + 1, abstract, sizeof a.sun_path - 2);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    report("abstract",
           connect(s, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + 1 + strlen(abstract)));
    close(s);

    /* The network, where it is granted. */
    s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) {
        report("connect", s);
    } else {
        struct sockaddr_in in = {0};
        in.sin_family = AF_INET;
        in.sin_port = htons(port);
        in.sin_addr.s_addr = htonl(0x7f000001);
        report("connect", connect(s, (struct sockaddr *)&in, sizeof in));
        close(s);
    }

    /* Dot-files in the home: new ones, existing ones, a dot-symlink replaced, a rename. */
    snprintf(p, sizeof p, "%s/.bash_profile", home);
    report("home-create-dotfile", open(p, O_WRONLY | O_CREAT | O_EXCL, 0644));
    snprintf(p, sizeof p, "%s/.config", home);
    report("home-mkdir-config", mkdir(p, 0755));
    snprintf(p, sizeof p, "%s/.config/autostart", home);
    report("home-mkdir-autostart", mkdir(p, 0755));
    snprintf(p, sizeof p, "%s/.config/autostart/evil.desktop", home);
    report("home-autostart-file", open(p, O_WRONLY | O_CREAT, 0644));
    snprintf(p, sizeof p, "%s/%s", home, dotlink);
    report("home-unlink-dotlink", unlink(p));
    report("home-replace-dotlink", symlink("/tmp/evil", p));
    snprintf(q, sizeof q, "%s/%s/planted", home, docs);
    int fd = open(q, O_WRONLY | O_CREAT, 0644);
    report("home-write-docs", fd);
    if (fd >= 0) close(fd);
    snprintf(p, sizeof p, "%s/.bash_login", home);
    report("home-rename-to-dot", rename(q, p));
    snprintf(p, sizeof p, "%s/%s", home, docs);
    snprintf(q, sizeof q, "%s/.%s", home, docs);
    report("home-rename-dir-to-dot", rename(p, q));
    snprintf(p, sizeof p, "%s/new-top-level-file", home);
    report("home-create-top", open(p, O_WRONLY | O_CREAT, 0644));
    return 0;
}
"#;

fn escape_snap(dir: &Path) -> PathBuf {
    let s = dir.join("hostile-escape");
    write(
        &s.join("meta/snap.yaml"),
        "name: hostile-escape\nversion: '1'\nsummary: Tries to leave its sandbox\nbase: shelf-base\n\
         apps:\n  attack:\n    command: bin/attack\n    plugs: [home]\n  \
         attack-net:\n    command: bin/attack\n    plugs: [home, network, network-bind]\n  \
         sh:\n    command: bin/sh\n  noexec:\n    command: bin/not-executable\n",
        0o644,
    );
    write(&s.join("bin/sh"), "#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755);
    write(&s.join("bin/not-executable"), "#!/bin/sh\nexit 0\n", 0o644);
    compile_static(ESCAPE_C, dir, &s.join("bin/attack"));
    pack(&s, &dir.join("hostile-escape.snap"))
}

fn chown_to(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
}

/// Issue 17, findings 1, 4, 5 and 6, as attacks by a hostile snap in the packaged mode (file
/// capabilities) and the user-namespace mode: each now fails, and what the snap is granted still
/// works.
#[test]
fn a_hostile_snap_cannot_leave_its_sandbox_in_either_mode() {
    if !common::require_root() {
        return;
    }
    let (uid, home) = common::runner();
    let (env, work, capable) = setup();
    install_file(&env, &escape_snap(work.path()));

    // The host: a secret dot-file, a dot-symlink, a folder of the user's, and the user's
    // `.config` (an existing dot-directory); a process of the user's (what /proc/<pid>/root went
    // through), a host service on an abstract socket, one on TCP.
    let pid = std::process::id();
    let mut fx = HostFixture(Vec::new());
    let secret = format!(".snapshelf-secret-{pid}");
    std::fs::write(home.join(&secret), "host secret").unwrap();
    chown_to(&home.join(&secret), uid);
    fx.0.push(home.join(&secret));
    let dotlink = format!(".snapshelf-link-{pid}");
    std::os::unix::fs::symlink("snapshelf-target", home.join(&dotlink)).unwrap();
    chown_to(&home.join(&dotlink), uid);
    fx.0.push(home.join(&dotlink));
    let docs = format!("snapshelf-docs-{pid}");
    std::fs::create_dir(home.join(&docs)).unwrap();
    chown_to(&home.join(&docs), uid);
    fx.0.push(home.join(&docs));
    fx.0.push(home.join(&docs).join("planted"));
    if !home.join(".config").exists() {
        std::fs::create_dir(home.join(".config")).unwrap();
        chown_to(&home.join(".config"), uid);
        fx.0.push(home.join(".config"));
    }
    let planted = [".bash_login", ".bash_profile", "new-top-level-file"];
    for p in planted {
        assert!(
            !home.join(p).exists(),
            "{} exists before the test: it cannot tell a planted one",
            home.join(p).display()
        );
    }
    // Should an attack succeed (a regression), what it planted goes when the test ends.
    for p in planted {
        fx.0.push(home.join(p));
    }
    fx.0.push(home.join(format!(".{docs}")));
    fx.0.push(home.join(format!(".{docs}/planted")));
    let autostart_before = home.join(".config/autostart").exists();
    let mut sleeper = Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            "--clear-groups",
            "sleep",
            "600",
        ])
        .spawn()
        .expect("setpriv (util-linux) is needed");
    let abstract_name = format!("snapshelf-test-x11-{pid}");
    let _abstract = {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(&abstract_name).unwrap();
        std::os::unix::net::UnixListener::bind_addr(&addr).unwrap()
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || for _ in listener.incoming() {});
    let home_s = home.display().to_string();
    let host_pid = sleeper.id().to_string();
    let args = [
        home_s.as_str(),
        &secret,
        &host_pid,
        &abstract_name,
        &dotlink,
        &docs,
        &port,
    ];
    let abi = snapshelf_confine::landlock::kernel_abi();
    eprintln!("note: this kernel's Landlock ABI is {abi}");

    for mode in [Mode::UserNs, Mode::Capable(&capable)] {
        // (app, extra environment, network connected, what answers an abstract connect)
        let scoped = if abi >= 6 { "EPERM" } else { "ECONNREFUSED" };
        let mut runs = vec![
            ("hostile-escape.attack", vec![], false, Some(scoped)),
            // With network, abstract sockets are closed only by Landlock's scope (6.12+).
            (
                "hostile-escape.attack-net",
                vec![],
                true,
                (abi >= 6).then_some("EPERM"),
            ),
        ];
        // The older kernels' path, in a debug build: no Landlock, a private network namespace.
        runs.push((
            "hostile-escape.attack",
            vec![("SNAPSHELF_TEST_LANDLOCK_ABI", "0")],
            false,
            Some("ECONNREFUSED"),
        ));
        for (app, vars, network, abstract_answer) in runs {
            let o = launch_with(&env, mode, RUNNER, app, &args, &vars);
            let out = ok(&o, app);
            let r = env_map(&out);
            let get = |k: &str| r.get(k).map(String::as_str).unwrap_or("<missing>");
            let ctx = format!("{mode:?} {app} {vars:?}:\n{out}");
            // 1. /proc shows the sandbox's processes only: the reaper and the app.
            assert_eq!(get("proc-host-pid"), "absent", "{ctx}");
            let pids: u32 = get("proc-pids").parse().unwrap();
            assert!((1..=3).contains(&pids), "{pids} processes: {ctx}");
            assert_eq!(get("proc-read-secret"), "denied", "{ctx}");
            assert_eq!(get("proc-write"), "denied", "{ctx}");
            assert_ne!(get("proc-direct"), "ok", "{ctx}");
            assert_eq!(get("proc-self"), "ok", "{ctx}");
            assert_eq!(get("kill-host"), "ESRCH", "{ctx}");
            // 4. io_uring.
            assert_eq!(get("io_uring_setup"), "EPERM", "{ctx}");
            // 5. Socket families: AF_UNIX always, INET and NETLINK_ROUTE with network only.
            assert_eq!(get("unix"), "ok", "{ctx}");
            for f in [
                "netlink-uevent",
                "netlink-audit",
                "packet",
                "vsock",
                "alg",
                "bluetooth",
                "can",
                "xdp",
                "tipc",
            ] {
                assert_eq!(get(f), "EPERM", "{f}: {ctx}");
            }
            for f in ["inet", "inet6", "netlink-route"] {
                assert_eq!(get(f) == "ok", network, "{f}: {ctx}");
            }
            assert_eq!(get("connect") == "ok", network, "{ctx}");
            if let Some(answer) = abstract_answer {
                assert_eq!(get("abstract"), answer, "{ctx}");
            }
            // 6. The home: no dot-entry made, removed or replaced; the user's folders writable.
            for k in [
                "home-create-dotfile",
                "home-mkdir-config",
                "home-mkdir-autostart",
                "home-autostart-file",
                "home-unlink-dotlink",
                "home-replace-dotlink",
                "home-rename-to-dot",
                "home-rename-dir-to-dot",
                "home-create-top",
            ] {
                assert_ne!(get(k), "ok", "{k}: {ctx}");
            }
            assert_eq!(get("home-write-docs"), "ok", "{ctx}");
            assert!(!out.contains("host secret"), "{ctx}");
        }
    }
    // Nothing was planted on the host.
    for p in planted {
        assert!(!home.join(p).exists(), "{p} was planted in the home");
    }
    assert!(home.join(format!("{docs}/planted")).is_file());
    assert_eq!(
        std::fs::read_link(home.join(&dotlink)).unwrap(),
        Path::new("snapshelf-target")
    );
    assert_eq!(home.join(".config/autostart").exists(), autostart_before);
    let _ = sleeper.kill();
    let _ = sleeper.wait();

    // The app's exit status still comes back: an exit code, and a death by signal.
    use std::os::unix::process::ExitStatusExt;
    for mode in [Mode::UserNs, Mode::Capable(&capable)] {
        let o = launch(&env, mode, "hostile-escape.sh", &["-c", "exit 3"]);
        assert_eq!(o.status.code(), Some(3), "{mode:?}");
        // Through `runuser`, which reports its child's death by SIGTERM as "Terminated" and 143.
        let o = launch(&env, mode, "hostile-escape.sh", &["-c", "kill -TERM $$"]);
        assert_eq!(
            o.status.code(),
            Some(128 + libc::SIGTERM),
            "{mode:?}: {o:?}"
        );
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("Terminated"),
            "{mode:?}: {o:?}"
        );
        // Processes the app leaves behind are waited for (the reaper), then the status is the app's.
        let o = launch(
            &env,
            mode,
            "hostile-escape.sh",
            &["-c", "(sleep 1; echo orphan-done) & exit 4"],
        );
        assert_eq!(o.status.code(), Some(4), "{mode:?}");
        assert!(stdout(&o).contains("orphan-done"), "{mode:?}: {o:?}");
        // A command that cannot be executed: the reaper says so, with the documented code.
        let o = launch(&env, mode, "hostile-escape.noexec", &[]);
        assert_eq!(o.status.code(), Some(126), "{mode:?}: {o:?}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("cannot run"),
            "{mode:?}: {o:?}"
        );
    }
    // Run directly, the launcher itself dies by the app's signal.
    let o = Command::new(confine_bin())
        .arg("--root")
        .arg(&env.root)
        .args(["hostile-escape.sh", "-c", "kill -TERM $$"])
        .current_dir("/")
        .output()
        .unwrap();
    assert_eq!(o.status.signal(), Some(libc::SIGTERM), "{o:?}");
    // SIGTERM to the launcher once the app is gone ends what the app left behind: the launcher
    // returns with the app's status instead of waiting for it.
    let mut child = Command::new(confine_bin())
        .arg("--root")
        .arg(&env.root)
        .args(["hostile-escape.sh", "-c", "sleep 300 & exit 5"])
        .current_dir("/")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the leftover is waited for"
    );
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "SIGTERM did not end the sandbox"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(5), "{status:?}");
}

/// Issue 17, finding 11 (part): a user who stops a launch while it holds the snap's private-area
/// lock (SIGSTOP) stalls only their own launches. The stopped launch is stood in for by holding
/// that user's lock, and the snap's area directory itself (the old, shared lock), from here.
#[test]
fn a_stalled_launch_of_one_user_does_not_stall_anothers() {
    if !common::require_root() {
        return;
    }
    common::runner();
    let (env, work, capable) = setup();
    install_file(&env, &tools_snap(work.path()));
    let other_uid = {
        let o = Command::new("id")
            .args(["-u", common::DENIED])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse::<u32>()
            .unwrap()
    };
    for mode in [Mode::UserNs, Mode::Capable(&capable)] {
        // The other user's launch makes (and releases) its lock.
        let o = launch_with(&env, mode, common::DENIED, "probe-tools.success", &[], &[]);
        ok(&o, "the other user's launch");
        // Where this mode keeps the other user's area (docs/confine.md).
        let areas = match mode {
            Mode::Capable(_) => vec![PathBuf::from("/run/snapshelf-private/snap.probe-tools")],
            _ => vec![
                PathBuf::from(format!(
                    "/run/user/{other_uid}/snapshelf-private/snap.probe-tools"
                )),
                env.root.join(format!(
                    "tmp/snapshelf-private-{other_uid}/snap.probe-tools"
                )),
            ],
        };
        let lock = areas
            .into_iter()
            .map(|d| d.join(format!("lock.{other_uid}")))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{mode:?}: the other user's lock was not made"));
        let held: Vec<std::fs::File> = [lock.clone(), lock.parent().unwrap().to_path_buf()]
            .iter()
            .map(|p| {
                let f = std::fs::File::open(p).unwrap();
                use std::os::fd::AsRawFd;
                // SAFETY: flock on our own descriptor.
                assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
                f
            })
            .collect();
        let started = std::time::Instant::now();
        let o = launch(&env, mode, "probe-tools.echo", &["not stalled"]);
        assert_eq!(ok(&o, "launch").trim(), "not stalled", "{mode:?}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{mode:?}"
        );
        drop(held);
    }
}

/// A snap whose app has a command chain that marks the environment, for `run --shell`.
fn chain_snap(dir: &Path) -> PathBuf {
    let s = dir.join("probe-shell");
    write(
        &s.join("meta/snap.yaml"),
        "name: probe-shell\nversion: '1.0'\nsummary: A command chain for run --shell\n\
         base: shelf-base\napps:\n  app:\n    command: bin/app\n    command-chain: [bin/chain]\n",
        0o644,
    );
    write(
        &s.join("bin/chain"),
        "#!/bin/sh\nexport CHAIN_RAN=yes\nexec \"$@\"\n",
        0o755,
    );
    write(&s.join("bin/app"), "#!/bin/sh\necho the-app-ran\n", 0o755);
    pack(&s, &dir.join("probe-shell.snap"))
}

/// `snapshelfctl run --shell SNAP.APP -c …` (snapd's `snap run --shell`; snapd has no spread test
/// of its own for it, its `cmd/snap/cmd_run.go` is the reference): the app's command chain runs, then a shell
/// instead of the app, inside the sandbox (PID 2 of its own PID namespace, the host's /tmp hidden,
/// `$SNAP_USER_DATA` writable), as root and as a user.
#[test]
fn run_shell_starts_a_shell_in_the_apps_sandbox() {
    if !common::require_root() {
        return;
    }
    let (env, work, _capable) = setup();
    install_file(&env, &chain_snap(work.path()));
    let host_marker = tempfile::Builder::new()
        .prefix("snapshelf-host-only")
        .tempfile_in("/tmp")
        .unwrap();
    let script = format!(
        "echo name=$SNAP_NAME; echo app=$SNAP_APP_NAME; echo chain=$CHAIN_RAN; echo pid=$$; \
         test -w \"$SNAP_USER_DATA\" && echo user-data=writable; \
         test -e {} || echo host-tmp=hidden",
        host_marker.path().display()
    );
    let ctl = common::workspace_bin("snapshelfctl", "snapshelfctl");
    let confine = confine_bin().display().to_string();
    let root = env.root.display().to_string();
    for user in [None, Some(RUNNER)] {
        let mut cmd = Command::new("timeout");
        cmd.args(["--signal=KILL", "120"]);
        if let Some(u) = user {
            cmd.args(["runuser", "-u", u, "--"]);
        }
        let out = cmd
            .arg("env")
            .arg(format!("SNAPSHELF_CONFINE={confine}"))
            .arg(format!("SNAPSHELF_ROOT={root}"))
            .arg(&ctl)
            .args(["run", "--shell", "probe-shell.app", "-c", &script])
            .current_dir("/")
            .output()
            .unwrap();
        let text = ok(&out, &format!("run --shell as {user:?}"));
        for line in [
            "name=probe-shell",
            "app=app",
            "chain=yes",
            "pid=2",
            "user-data=writable",
            "host-tmp=hidden",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in {text}");
        }
        assert!(!text.contains("the-app-ran"), "{text}");
    }
    // Without --shell the same launch runs the app.
    let out = launch(&env, Mode::Root, "probe-shell.app", &[]);
    assert_eq!(ok(&out, "run the app").trim(), "the-app-ran");
}

/// Reset to Defaults is one call and one change: every choice a person made is forgotten by one
/// change object holding a task per plug, and the policy decides again.
#[test]
fn reset_to_defaults_is_one_change() {
    if !common::require_root() {
        return;
    }
    let _home = ifprobe_home_lock();
    let mut env = Env::new();
    env.start_helper();
    install_base(&env);
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    install_file(&env, &ifprobe_snap(work.path(), "1"));
    let policy = connections(&env);
    let helper = env.proxy();

    // Nothing chosen yet: nothing to reset, and no change made.
    let before = helper.list_changes().unwrap().len();
    assert_eq!(
        kind_of(helper.reset_connections("ifprobe").unwrap_err()),
        ErrorKind::InterfacesUnchanged
    );
    assert_eq!(
        kind_of(helper.reset_connections("not-there").unwrap_err()),
        ErrorKind::NotInstalled
    );
    assert_eq!(helper.list_changes().unwrap().len(), before);

    switch_plug(&env, RUNNER, "Disconnect", "net", "network").unwrap();
    switch_plug(&env, RUNNER, "Connect", "camera", "camera").unwrap();
    switch_plug(&env, RUNNER, "Connect", "removable-media", "").unwrap();
    // An ungranted user resets nothing.
    let (allowed, text) = env.busctl_as(
        common::DENIED,
        &[
            "--allow-interactive-authorization=no",
            "ResetConnections",
            "s",
            "ifprobe",
        ],
    );
    assert!(
        !allowed && text.contains("authentication is required"),
        "{text}"
    );
    assert!(connections(&env)["net"].1, "the choices are still there");

    let (started, text) = env.busctl_as(RUNNER, &["ResetConnections", "s", "ifprobe"]);
    assert!(started, "{text}");
    let path = text.trim().trim_start_matches("o ").trim_matches('"');
    let (status, _, err) = env.wait_change(path);
    assert_eq!(status, "Done", "{err}");
    let change = snapshelf_dbus::proxy::Change1ProxyBlocking::builder(&env.connection())
        .path(path.to_string())
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(change.kind().unwrap(), "reset-connections");
    assert!(change.summary().unwrap().contains("ifprobe"));
    let tasks = change.tasks().unwrap();
    // One task per chosen plug: net back on, camera and removable-media back off.
    assert_eq!(tasks.len(), 3, "{tasks:?}");
    assert_eq!(
        tasks.iter().filter(|t| t.0 == "connect").count(),
        1,
        "{tasks:?}"
    );
    assert_eq!(helper.list_changes().unwrap().len(), before + 4);
    // Back to what the policy decides, with no choice left.
    assert_eq!(connections(&env), policy);
    // The sandbox follows at once: the network is back for the next launch.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || for _ in listener.incoming() {});
    let out = launch(&env, Mode::UserNs, "ifprobe", &[&port, "no-such-stick"]);
    let r = env_map(&ok(&out, "ifprobe"));
    assert_eq!(r["connect"], "ok", "{r:?}");
    assert_eq!(
        kind_of(helper.reset_connections("ifprobe").unwrap_err()),
        ErrorKind::InterfacesUnchanged
    );
    let c = helper.remove(&["ifprobe"], Dict::new()).unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
}

/// The tests that launch `ifprobe` as the runner share the runner's home and its
/// `snapshelf-ifprobe` folder; they take turns so that one's writes are not seen by the other.
fn ifprobe_home_lock() -> std::sync::MutexGuard<'static, ()> {
    static HOME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HOME.lock().unwrap_or_else(|e| e.into_inner())
}
