//! Apps tracked in systemd scopes as snapd tracks them (confine/src/tracking.rs,
//! helper/src/running.rs), under a real `systemd --user` on the user's session bus: each launch
//! runs in `snap.<snap>.<app>-<uuid>.scope`, and the helper counts an app as running while its
//! scope holds a process, so a classic app whose first process exited while its child runs still
//! holds a refresh back (snapd's refresh-app-awareness; the record confine writes says it ended).
//!
//! The machine's init need not be systemd: the test gives the user's manager what a login gives
//! it, a delegated cgroup (on the unified hierarchy and, on a hybrid host, systemd's named one)
//! and, in a private mount namespace, the `/run/systemd/system` that tells it systemd booted.
//! The launch starts inside the delegated cgroup, as a session's processes do, so that the
//! unprivileged manager may move it.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::cgroups;
use common::sandbox::{self, write};
use snapshelf_dbus::types::Dict;
use zbus::zvariant::OwnedValue;

const USER: &str = "snapshelf-portal";

/// A user's service manager as a login gives it: its own cgroup in each hierarchy (`<name>`,
/// owned by the user), a session cgroup beside it for the launches (`<name>-session`), and
/// `systemd --user` on the session bus. Everything is killed and removed when dropped.
struct UserManager {
    manager: Child,
    cgroups: Vec<PathBuf>,
    session: Vec<PathBuf>,
}

impl UserManager {
    /// The manager of `uid`, with its own cgroup `<hierarchy>/<name>`; its session bus is the
    /// one it starts itself (dbus-user-session's `dbus.socket` at `/run/user/<uid>/bus`).
    fn start(name: &str, uid: u32) -> Option<UserManager> {
        let hier = cgroups::hierarchies();
        if hier.is_empty() {
            return None;
        }
        // One delegated subtree per hierarchy: the manager's cgroup and the session's below it,
        // so that the manager may move the session's processes (their common ancestor is its).
        let top: Vec<PathBuf> = hier.iter().map(|h| h.join(name)).collect();
        let session: Vec<PathBuf> = top.iter().map(|t| t.join("session")).collect();
        for dir in &session {
            std::fs::create_dir_all(dir).unwrap();
        }
        for t in &top {
            let st = Command::new("chown")
                .args(["-R", &format!("{uid}:{uid}")])
                .arg(t)
                .status()
                .unwrap();
            assert!(st.success(), "chown {}", t.display());
        }
        let join = cgroups::join_script(
            &top.iter()
                .map(|t| t.join("cgroup.procs"))
                .collect::<Vec<_>>(),
        );
        let script = format!(
            "{join} exec unshare -m --propagation private sh -c 'mkdir -p /run/systemd && \
             mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && \
             exec setpriv --reuid={uid} --regid={uid} --init-groups /usr/lib/systemd/systemd --user'"
        );
        let manager = Command::new("sh")
            .args(["-c", &script])
            .env("XDG_RUNTIME_DIR", format!("/run/user/{uid}"))
            .env("HOME", format!("/run/user/{uid}"))
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("systemd (Debian package systemd) is needed");
        let m = UserManager {
            manager,
            cgroups: top,
            session,
        };
        // The first client starts the bus (socket activation); the manager then joins it.
        let started = Instant::now();
        while !bus_lists(uid, "org.freedesktop.systemd1") {
            if started.elapsed() > Duration::from_secs(30) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(m)
    }

    /// A shell snippet that moves the shell running it into the session's cgroups.
    fn enter_session(&self) -> String {
        cgroups::join_script(
            &self
                .session
                .iter()
                .map(|s| s.join("cgroup.procs"))
                .collect::<Vec<_>>(),
        )
    }

    /// The units below the manager's cgroup (first hierarchy) whose name starts with `prefix`.
    fn units(&self, prefix: &str) -> Vec<String> {
        self.unit_dirs(prefix)
            .iter()
            .filter_map(|d| Some(d.file_name()?.to_string_lossy().into_owned()))
            .collect()
    }

    /// Their cgroups.
    fn unit_dirs(&self, prefix: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut dirs = vec![self.cgroups[0].clone()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    let n = e.file_name().to_string_lossy().into_owned();
                    if n.starts_with(prefix) {
                        out.push(e.path());
                    }
                    dirs.push(e.path());
                }
            }
        }
        out
    }
}

/// The session bus address of `uid`.
fn bus_of(uid: u32) -> String {
    format!("unix:path=/run/user/{uid}/bus")
}

/// Whether `name` has an owner on the session bus of `uid` (asked as the user: the bus lets in
/// no one else).
fn bus_lists(uid: u32, name: &str) -> bool {
    let out = Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            "--init-groups",
        ])
        .args([
            "busctl",
            "--address",
            &bus_of(uid),
            "list",
            "--no-legend",
            "--acquired",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

impl Drop for UserManager {
    fn drop(&mut self) {
        // SAFETY: a signal to the group this test made.
        unsafe { libc::kill(-(self.manager.id() as i32), libc::SIGKILL) };
        let _ = self.manager.wait();
        for c in &self.cgroups {
            cgroups::kill_and_remove(c);
        }
    }
}

fn snaps(dir: &Path) -> (PathBuf, PathBuf) {
    let strict = dir.join("tracked-app");
    write(
        &strict.join("meta/snap.yaml"),
        "name: tracked-app\nversion: '1'\nsummary: Runs a while\nbase: shelf-base\n\
         apps:\n  tracked-app:\n    command: bin/wait\n",
        0o644,
    );
    write(
        &strict.join("meta/gui/tracked-app.desktop"),
        "[Desktop Entry]\nType=Application\nName=Tracked\nExec=tracked-app\n",
        0o644,
    );
    write(
        &strict.join("bin/wait"),
        "#!/bin/sh\ncat /proc/self/cgroup\nread line\n",
        0o755,
    );
    let classic = dir.join("tracked-classic");
    write(
        &classic.join("meta/snap.yaml"),
        "name: tracked-classic\nversion: '1'\nsummary: Leaves a child behind\n\
         base: shelf-base\nconfinement: classic\napps:\n  bg:\n    command: bin/bg\n",
        0o644,
    );
    // The first process ends at once; its child goes on (a browser's launcher does this).
    write(
        &classic.join("bin/bg"),
        "#!/bin/sh\nsleep 300 </dev/null >/dev/null 2>&1 &\necho started\n",
        0o755,
    );
    (
        sandbox::pack(&strict, &dir.join("tracked-app.snap")),
        sandbox::pack(&classic, &dir.join("tracked-classic.snap")),
    )
}

/// `tracked-classic` again, version 2.
fn classic_v2(dir: &Path) -> PathBuf {
    let classic = dir.join("tracked-classic");
    let yaml = classic.join("meta/snap.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    write(&yaml, &text.replace("version: '1'", "version: '2'"), 0o644);
    sandbox::pack(&classic, &dir.join("tracked-classic-2.snap"))
}

/// Launch `target` as the test user with the capable confine, from the session's cgroups, with
/// the session bus: stdin piped, stdout captured.
fn launch(env: &common::Env, capable: &Path, m: &UserManager, target: &str) -> Child {
    launch_command(env, capable, m, target).spawn().unwrap()
}

/// The command [`launch`] runs.
fn launch_command(env: &common::Env, capable: &Path, m: &UserManager, target: &str) -> Command {
    let root = env.root.display().to_string();
    for d in ["/snap", "/var/snap", "/var/lib/snapshelf"] {
        std::fs::create_dir_all(d).unwrap();
    }
    let script = format!(
        "{} exec unshare -m --propagation private sh -c 'mount --rbind {root}/snap /snap && \
         mount --rbind {root}/var/snap /var/snap && \
         mount --bind {root}/var/lib/snapshelf /var/lib/snapshelf && \
         exec runuser -u {USER} -- \"$@\"' sh {} {target}",
        m.enter_session(),
        capable.display()
    );
    let uid = user_uid();
    let mut c = Command::new("sh");
    c.args(["-c", &script])
        .env("DBUS_SESSION_BUS_ADDRESS", bus_of(uid))
        .env("XDG_RUNTIME_DIR", format!("/run/user/{uid}"))
        .env("SNAPSHELF_CONFINE_DEBUG", "1")
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// `snap routine portal-info` (snapshelfctl run as `snap`, as xdg-desktop-portal runs it) for a
/// process of the launch's scope: snapd's keyfile; for a process of no snap, a PID that does not
/// run, or garbage: an error and a non-zero exit.
fn portal_info_answers(env: &common::Env, scope: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snap");
    std::os::unix::fs::symlink(common::workspace_bin("snapshelfctl", "snapshelfctl"), &snap)
        .unwrap();
    let root = env.root.display().to_string();
    let info = |pid: &str| {
        let o = Command::new(&snap)
            .args(["routine", "portal-info", "--root", &root, pid])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            err,
        )
    };
    let procs = std::fs::read_to_string(scope.join("cgroup.procs")).unwrap();
    let pid = procs.lines().next().expect("a process in the scope");
    let (code, out, err) = info(pid);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        "[Snap Info]\nInstanceName=tracked-app\nAppName=tracked-app\n\
         DesktopFile=tracked-app_tracked-app.desktop\nHasNetworkStatus=false\n"
    );
    let (code, _, err) = info(&std::process::id().to_string());
    assert_eq!(code, Some(1));
    assert!(err.contains("is not part of a snap"), "{err}");
    let (code, _, err) = info("4294967295");
    assert_eq!(code, Some(1));
    assert!(err.contains("no process 4294967295 runs"), "{err}");
    assert_ne!(info("garbage").0, Some(0));
    // Only `routine` is answered as `snap`.
    let o = Command::new(&snap).args(["install", "x"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("snapshelfctl"));
}

/// The test user logged in: a test world, their runtime directory and their own `systemd --user`.
struct Session {
    _held: std::fs::File,
    env: common::Env,
    work: tempfile::TempDir,
    capable: PathBuf,
    uid: u32,
    runtime: PathBuf,
    manager: UserManager,
}

impl Session {
    /// `None` (recorded NOT RUN, a failure under CI) where no user manager can run.
    fn start(test: &str) -> Option<Session> {
        let _held = common::users::hold_user(USER);
        let (env, work, capable) = sandbox::setup();
        common::users::user_with_home(&env.root, USER);
        let uid = user_uid();
        let runtime = PathBuf::from(format!("/run/user/{uid}"));
        std::fs::create_dir_all(&runtime).unwrap();
        std::os::unix::fs::chown(&runtime, Some(uid), Some(uid)).unwrap();
        let Some(manager) = UserManager::start(&format!("snapshelf-test-{uid}"), uid) else {
            not_run(
                test,
                "systemd --user could not be started here (no cgroup hierarchy it can be delegated)",
            );
            return None;
        };
        Some(Session {
            _held,
            env,
            work,
            capable,
            uid,
            runtime,
            manager,
        })
    }
}

fn user_uid() -> u32 {
    let out = Command::new("id").args(["-u", USER]).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn classic_opts() -> Dict {
    [
        ("unsigned".to_string(), OwnedValue::from(true)),
        ("classic".to_string(), OwnedValue::from(true)),
    ]
    .into_iter()
    .collect()
}

fn not_run(test: &str, why: &str) {
    snapshelf_snap::testdata::record_skip(test, why);
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: {why}"
    );
}

/// A launch runs in its own scope while it runs; the helper counts it from the scope; a classic
/// app's child keeps the app counted after its first process (and its record) ended, and a new
/// revision is refused (`snap-in-use`) until the child ends.
#[test]
fn launches_run_in_their_scopes_and_count_while_any_process_runs() {
    const TEST: &str = "launches_run_in_their_scopes_and_count_while_any_process_runs";
    if !common::require_root() {
        return;
    }
    let Some(Session {
        _held,
        env,
        work,
        capable,
        uid: _,
        runtime,
        manager: m,
    }) = Session::start(TEST)
    else {
        return;
    };
    let (strict, classic) = snaps(work.path());
    sandbox::install_file(&env, &strict);
    let c = sandbox::start_install_file(&env, &classic, classic_opts());
    let (status, _, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{err}");

    // The strict app runs until told to end: its scope exists and counts it.
    let mut app = launch(&env, &capable, &m, "tracked-app");
    let started = Instant::now();
    while m.units("snap.tracked-app.tracked-app-").is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no scope for the launch; stderr: {}",
            {
                let _ = app.kill();
                let o = app.wait_with_output().unwrap();
                String::from_utf8_lossy(&o.stderr).into_owned()
            }
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let scopes = m.units("snap.tracked-app.tracked-app-");
    assert_eq!(scopes.len(), 1, "{scopes:?}");
    assert!(scopes[0].ends_with(".scope"), "{scopes:?}");
    let running = env.proxy().running_apps("tracked-app").unwrap();
    assert_eq!(running, ["tracked-app"]);
    portal_info_answers(&env, &m.unit_dirs("snap.tracked-app.tracked-app-")[0]);
    // The app itself (PID 2 of its namespace) sees the scope in its own cgroup file.
    use std::io::Write;
    app.stdin.take().unwrap().write_all(b"end\n").unwrap();
    let out = app.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(&format!("/{}", scopes[0])), "{text}");
    // systemd answered and moved the launch: nothing to say even when asked to
    // (SNAPSHELF_CONFINE_DEBUG=1).
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("untracked"), "{err}");
    // Ended: systemd takes the emptied scope down, and nothing counts.
    let started = Instant::now();
    while !env.proxy().running_apps("tracked-app").unwrap().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(10), "still running");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The classic app's first process ends at once; its child runs on in the scope.
    let bg = launch(&env, &capable, &m, "tracked-classic.bg");
    let out = bg.wait_with_output().unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("started"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = env.root.join("run/snapshelf/running/tracked-classic");
    let live_records = std::fs::read_dir(&records)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .rsplit_once('.')?
                .1
                .parse::<i32>()
                .ok()
        })
        .filter(|pid| Path::new(&format!("/proc/{pid}")).exists())
        .count();
    assert_eq!(
        live_records, 0,
        "the launcher's record names an ended process"
    );
    assert_eq!(m.units("snap.tracked-classic.bg-").len(), 1);
    assert_eq!(
        env.proxy().running_apps("tracked-classic").unwrap(),
        ["bg"],
        "the child in the scope keeps the app running"
    );
    // So a new revision is refused while the child runs (snapd's refresh app awareness).
    let v2 = classic_v2(work.path());
    let c = sandbox::start_install_file(&env, &v2, classic_opts());
    let (status, kind, err) = env.wait_change(c.as_str());
    assert_eq!(
        (status.as_str(), kind.as_str()),
        ("Error", "snap-in-use"),
        "{err}"
    );
    assert!(err.contains("has running apps (bg)"), "{err}");
    // Its child killed, the scope empties and the app no longer counts.
    for dir in m.unit_dirs("snap.tracked-classic.bg-") {
        cgroups::kill_and_remove(&dir);
    }
    let started = Instant::now();
    while !env
        .proxy()
        .running_apps("tracked-classic")
        .unwrap()
        .is_empty()
    {
        assert!(started.elapsed() < Duration::from_secs(10), "still running");
        std::thread::sleep(Duration::from_millis(50));
    }
    let c = sandbox::start_install_file(&env, &v2, classic_opts());
    let (status, _, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{err}");
    drop(m);
    // The user is this test's: what its manager left in its runtime folder goes too.
    let _ = std::fs::remove_dir_all(&runtime);
}

/// `adddoc FILE`: `Documents.Add` of FILE for the caller, whose app the portal works out; prints
/// the document's id. Against the host's libdbus (`sandbox::compile_with_libdbus` declares its API).
const ADD_DOC_C: &str = r#"
#include <fcntl.h>
#include <stdio.h>
int main(int argc, char **argv) {
    DBusError err;
    dbus_error_init(&err);
    int fd = argc > 1 ? open(argv[1], O_RDONLY) : -1;
    if (fd < 0) { perror("open"); return 2; }
    DBusConnection *c = dbus_bus_get(0 /* the session bus */, &err);
    if (!c) { fprintf(stderr, "bus: %s\n", err.message); return 1; }
    DBusMessage *m = dbus_message_new_method_call("org.freedesktop.portal.Documents",
        "/org/freedesktop/portal/documents", "org.freedesktop.portal.Documents", "Add");
    int no = 0;
    dbus_message_append_args(m, 'h', &fd, 'b', &no, 'b', &no, 0);
    DBusMessage *r = dbus_connection_send_with_reply_and_block(c, m, 60000, &err);
    if (!r) { fprintf(stderr, "%s: %s\n", err.name, err.message); return 1; }
    char *id = 0;
    if (!dbus_message_get_args(r, &err, 's', &id, 0)) {
        fprintf(stderr, "answer: %s\n", err.message);
        return 1;
    }
    printf("\"%s\"\n", id);
    return 0;
}
"#;

/// What a file chooser does (python3-dbus, passing the descriptor): `Documents.AddFull` of
/// `argv[1]` for the app `argv[2]`, readable; prints the document's id.
const ADD_FULL_PY: &str = "import dbus, os, sys\n\
p = dbus.SessionBus().get_object('org.freedesktop.portal.Documents', '/org/freedesktop/portal/documents')\n\
fd = dbus.types.UnixFd(os.open(sys.argv[1], os.O_RDONLY))\n\
ids, _ = p.AddFull([fd], dbus.UInt32(0), sys.argv[2], ['read'], dbus_interface='org.freedesktop.portal.Documents')\n\
print('\"%s\"' % ids[0])\n";

/// `bin/probe add` gives the document portal a file of the snap's own and prints the answer;
/// `bin/probe read PATH` prints a file.
fn portal_snap(dir: &Path, name: &str, adddoc: &Path) -> PathBuf {
    let s = dir.join(name);
    write(
        &s.join("meta/snap.yaml"),
        &format!(
            "name: {name}\nversion: '1'\nsummary: Uses the document portal\nbase: shelf-base\n\
             apps:\n  probe:\n    command: bin/probe\n    plugs: [desktop]\n"
        ),
        0o644,
    );
    write(
        &s.join("bin/probe"),
        "#!/bin/sh\ncase \"$1\" in\n\
         add) echo mine > \"$SNAP_USER_DATA/own.txt\"; \
         exec \"$SNAP/bin/adddoc\" \"$SNAP_USER_DATA/own.txt\" ;;\n\
         read) exec cat \"$2\" ;;\nesac\nexit 2\n",
        0o755,
    );
    sandbox::add_host_commands(&s, &[("adddoc", &adddoc.display().to_string(), "")]);
    sandbox::pack(&s, &dir.join(format!("{name}.snap")))
}

/// Run `argv` as the test user with its session bus: (success, stdout, stderr).
fn as_user(uid: u32, script: &str) -> (bool, String, String) {
    let out = Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            "--init-groups",
        ])
        .args(["sh", "-c", script])
        .env("DBUS_SESSION_BUS_ADDRESS", bus_of(uid))
        .env("XDG_RUNTIME_DIR", format!("/run/user/{uid}"))
        .current_dir("/")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The first double-quoted word of an answer (a document's id).
fn first_quoted(answer: &str) -> String {
    answer
        .split('"')
        .nth(1)
        .unwrap_or_else(|| panic!("no id in {answer:?}"))
        .to_string()
}

/// xdg-document-portal (Debian's xdg-desktop-portal), run for the user on its session bus with
/// `snap` on its `PATH` answering `snap routine portal-info` from the test root; killed with its
/// process group when dropped.
struct DocumentPortal(Child, Option<u32>);

impl DocumentPortal {
    fn start(uid: u32, work: &Path, root: &Path) -> Option<DocumentPortal> {
        let portal = Path::new("/usr/libexec/xdg-document-portal");
        if !portal.exists() {
            return None;
        }
        let bin = work.join("portal-bin");
        let ctl = common::workspace_bin("snapshelfctl", "snapshelfctl");
        // The portal runs `snap routine portal-info PID` (and `routine file-access`, which
        // Snapshelf does not answer: the portal then decides by itself).
        write(
            &bin.join("snap"),
            &format!(
                "#!/bin/sh\n[ \"$1\" = routine ] && [ \"$2\" = portal-info ] || exit 1\n\
                 exec {} routine portal-info --root {} \"$3\"\n",
                ctl.display(),
                root.display()
            ),
            0o755,
        );
        // fusermount3 opens /dev/fuse as the user: udev's rule (50-udev-default.rules) makes it
        // 0666 on every Debian system; a container without udev leaves the kernel's 0600.
        let fuse_mode = std::fs::metadata("/dev/fuse").ok()?.permissions().mode() & 0o777;
        if fuse_mode != 0o666 {
            std::fs::set_permissions("/dev/fuse", std::fs::Permissions::from_mode(0o666)).ok()?;
        }
        let log = std::fs::File::create(work.join("document-portal.log")).unwrap();
        let child = Command::new("setpriv")
            .args([
                &format!("--reuid={uid}"),
                &format!("--regid={uid}"),
                "--init-groups",
            ])
            .arg(portal)
            .arg("--replace")
            .env("DBUS_SESSION_BUS_ADDRESS", bus_of(uid))
            .env("XDG_RUNTIME_DIR", format!("/run/user/{uid}"))
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("HOME", format!("/run/user/{uid}"))
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        let p = DocumentPortal(child, (fuse_mode != 0o666).then_some(fuse_mode));
        let started = Instant::now();
        while !as_user(uid, &format!("test -d /run/user/{uid}/doc/by-app")).0 {
            if started.elapsed() > Duration::from_secs(20) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(p)
    }
}

impl Drop for DocumentPortal {
    fn drop(&mut self) {
        // SAFETY: a signal to the group this test made.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGTERM) };
        let _ = self.0.wait();
        // The device as it was (the test user is held: no other run of this test uses it now).
        if let Some(mode) = self.1 {
            let _ = std::fs::set_permissions("/dev/fuse", std::fs::Permissions::from_mode(mode));
        }
    }
}

/// The document portal knows a sandboxed app as `snap.<name>` (from its scope, through
/// `snap routine portal-info`), and the app sees at `/run/user/<uid>/doc` what the portal gave
/// it and nothing given to another snap.
#[test]
fn the_document_portal_knows_the_snap_and_shows_it_its_documents_only() {
    const TEST: &str = "the_document_portal_knows_the_snap_and_shows_it_its_documents_only";
    if !common::require_root() {
        return;
    }
    let Some(Session {
        _held,
        env,
        work,
        capable,
        uid,
        runtime,
        manager: m,
    }) = Session::start(TEST)
    else {
        return;
    };
    let Some(portal) = DocumentPortal::start(uid, work.path(), &env.root) else {
        let log = std::fs::read_to_string(work.path().join("document-portal.log"));
        return not_run(
            TEST,
            &format!(
                "xdg-document-portal (Debian package xdg-desktop-portal) and FUSE (fuse3) are \
                 needed: {log:?}"
            ),
        );
    };
    let add_full = work.path().join("add_full.py");
    write(&add_full, ADD_FULL_PY, 0o644);
    let adddoc = work.path().join("adddoc");
    sandbox::compile_with_libdbus(ADD_DOC_C, &adddoc);
    for name in ["portal-app", "portal-other"] {
        sandbox::install_file(&env, &portal_snap(work.path(), name, &adddoc));
    }
    // A file only the user (the host's file chooser) can read: the sandboxes have their own /tmp.
    let secret = work.path().join("chosen/secret.txt");
    write(&secret, "for portal-app only\n", 0o600);
    for p in [secret.parent().unwrap(), secret.as_path()] {
        std::os::unix::fs::chown(p, Some(uid), Some(uid)).unwrap();
    }
    let (ok, out, err) = as_user(
        uid,
        &format!(
            "python3 {} {} snap.portal-app",
            add_full.display(),
            secret.display()
        ),
    );
    assert!(ok, "AddFull: {out}{err}");
    let id = first_quoted(&out);
    let path = format!("/run/user/{uid}/doc/{id}/secret.txt");
    let run = |snap: &str, args: &str| {
        let script_target = format!("{snap}.probe {args}");
        let o = launch(&env, &capable, &m, &script_target)
            .wait_with_output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (ok, out, err) = run("portal-app", &format!("read {path}"));
    assert!(ok && out == "for portal-app only\n", "{out}{err}");
    let (ok, out, _) = run("portal-other", &format!("read {path}"));
    assert!(
        !ok && out.is_empty(),
        "another snap reads the document: {out}"
    );

    // The app hands the portal a file of its own: the portal files it under the app's id.
    let (ok, out, err) = run("portal-app", "add");
    assert!(ok, "Add from the sandbox: {out}{err}");
    let own = first_quoted(&out);
    let (ok, text, err) = as_user(
        uid,
        &format!("cat /run/user/{uid}/doc/by-app/snap.portal-app/{own}/own.txt"),
    );
    assert!(
        ok && text == "mine\n",
        "the portal did not file it for snap.portal-app: {err}"
    );
    let (ok, _, _) = as_user(
        uid,
        &format!("test -e /run/user/{uid}/doc/by-app/snap.portal-other/{own}/own.txt"),
    );
    assert!(!ok, "another snap's view has the document");
    drop(portal);
    drop(m);
    let _ = Command::new("umount")
        .arg("-l")
        .arg(runtime.join("doc"))
        .status();
    let _ = std::fs::remove_dir_all(&runtime);
}

/// Benchmark (scripts/bench.sh tracking; release build): what the tracking scope adds to a launch,
/// under a real `systemd --user`. A strict app that ends at once, launched as the test user:
/// confine's own `tracking` step (its `SNAPSHELF_CONFINE_TIMING` marks: from the step before to
/// the scope confirmed in `/proc/self/cgroup`), against the peer, `systemd-run --user --scope`
/// asking the same manager for the same kind of scope (its run less the same command without
/// it); medians of interleaved rounds.
#[test]
#[ignore]
fn bench_tracking_scope() {
    const TEST: &str = "bench_tracking_scope";
    const ROUNDS: usize = 30;
    if !common::require_root() {
        return;
    }
    let Some(Session {
        _held,
        env,
        work,
        capable,
        uid,
        runtime: _,
        manager: m,
    }) = Session::start(TEST)
    else {
        return;
    };
    let (strict, _) = snaps(work.path());
    sandbox::install_file(&env, &strict);
    let user_cmd = |cmd: &str| {
        let script = format!(
            "{} exec setpriv --reuid={uid} --regid={uid} --init-groups {cmd}",
            m.enter_session()
        );
        let t = Instant::now();
        let st = Command::new("sh")
            .args(["-c", &script])
            .env("DBUS_SESSION_BUS_ADDRESS", bus_of(uid))
            .env("XDG_RUNTIME_DIR", format!("/run/user/{uid}"))
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "{cmd}");
        t.elapsed().as_secs_f64() * 1000.0
    };
    let (mut step, mut launch_ms, mut peer, mut plain) = (vec![], vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let mut c = launch_command(&env, &capable, &m, "tracked-app");
        let mut child = c.env("SNAPSHELF_CONFINE_TIMING", "1").spawn().unwrap();
        drop(child.stdin.take()); // the app's `read` ends it at once
        let out = child.wait_with_output().unwrap();
        launch_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let err = String::from_utf8_lossy(&out.stderr);
        // The app prints its cgroup (then its `read` fails at the end of input).
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("/snap.tracked-app.tracked-app-"),
            "the app did not run in its scope: {text}\n{err}"
        );
        // `snapshelf-confine: timing <pid> <µs> <step>`: the tracking step less the one before.
        let marks: Vec<(u64, &str)> = err
            .lines()
            .filter_map(|l| {
                let mut f = l.strip_prefix("snapshelf-confine: timing ")?.splitn(3, ' ');
                let (_, us, what) = (f.next()?, f.next()?.parse().ok()?, f.next()?);
                Some((us, what))
            })
            .collect();
        let i = marks
            .iter()
            .position(|(_, w)| *w == "tracking")
            .unwrap_or_else(|| panic!("no tracking mark: {err}"));
        let before = if i == 0 { 0 } else { marks[i - 1].0 };
        step.push((marks[i].0 - before) as f64 / 1000.0);
        peer.push(user_cmd("systemd-run --user --scope --quiet true"));
        plain.push(user_cmd("true"));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (step, launch_ms) = (median(&mut step), median(&mut launch_ms));
    let (peer, plain) = (median(&mut peer), median(&mut plain));
    println!(
        "confine's tracking step (scope requested and confirmed): {step:.2} ms, median of {ROUNDS} launches (whole launch of an app that ends at once: {launch_ms:.1} ms)"
    );
    println!(
        "systemd-run --user --scope: {:.2} ms ({peer:.1} ms less {plain:.1} ms for the same command without it), median of {ROUNDS}",
        peer - plain
    );
}
