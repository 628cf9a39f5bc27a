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

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::sandbox::{self, write};
use snapshelf_dbus::types::Dict;
use zbus::zvariant::OwnedValue;

const USER: &str = "snapshelf-portal";

/// The cgroup hierarchies systemd tracks units in on this host: systemd's named v1 hierarchy and
/// the unified one on a hybrid host, the unified one alone at `/sys/fs/cgroup` on a v2 host.
fn hierarchies() -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    let hybrid: Vec<PathBuf> = ["systemd", "unified"]
        .iter()
        .map(|h| base.join(h))
        .filter(|h| h.join("cgroup.procs").is_file())
        .collect();
    if !hybrid.is_empty() {
        return hybrid;
    }
    if base.join("cgroup.controllers").is_file() {
        return vec![base.to_path_buf()];
    }
    Vec::new()
}

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
        let hier = hierarchies();
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
        let join = join_script(
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
        join_script(
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

fn join_script(procs: &[PathBuf]) -> String {
    procs
        .iter()
        .map(|p| format!("echo $$ > {} &&", p.display()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every process in `dir` and below, killed; then the cgroups removed, deepest first.
fn kill_and_remove(dir: &Path) {
    let mut all = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(e.path());
            }
        }
        all.push(d);
    }
    for _ in 0..50 {
        let mut any = false;
        for d in &all {
            let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                any = true;
                // SAFETY: a signal to a process of the test's own cgroup.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        if !any {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    all.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in all {
        let _ = std::fs::remove_dir(&d);
    }
}

impl Drop for UserManager {
    fn drop(&mut self) {
        // SAFETY: a signal to the group this test made.
        unsafe { libc::kill(-(self.manager.id() as i32), libc::SIGKILL) };
        let _ = self.manager.wait();
        for c in &self.cgroups {
            kill_and_remove(c);
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

/// Launch `target` as the test user with the capable confine, from the session's cgroups, with
/// the session bus: stdin piped, stdout captured.
fn launch(env: &common::Env, capable: &Path, m: &UserManager, target: &str) -> Child {
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
    Command::new("sh")
        .args(["-c", &script])
        .env("DBUS_SESSION_BUS_ADDRESS", bus_of(uid))
        .env("XDG_RUNTIME_DIR", format!("/run/user/{uid}"))
        .env("SNAPSHELF_CONFINE_DEBUG", "1")
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
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
/// app's child keeps the app counted after its first process (and its record) ended.
#[test]
fn launches_run_in_their_scopes_and_count_while_any_process_runs() {
    const TEST: &str = "launches_run_in_their_scopes_and_count_while_any_process_runs";
    if !common::require_root() {
        return;
    }
    let _held = common::users::hold_user(USER);
    let (env, work, capable) = sandbox::setup();
    common::users::user_with_home(&env.root, USER);
    let uid = user_uid();
    let runtime = PathBuf::from(format!("/run/user/{uid}"));
    std::fs::create_dir_all(&runtime).unwrap();
    std::os::unix::fs::chown(&runtime, Some(uid), Some(uid)).unwrap();
    let Some(m) = UserManager::start(&format!("snapshelf-test-{uid}"), uid) else {
        return not_run(
            TEST,
            "systemd --user could not be started here (no cgroup hierarchy it can be delegated)",
        );
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
    // Its child killed, the scope empties and the app no longer counts.
    for dir in m.unit_dirs("snap.tracked-classic.bg-") {
        kill_and_remove(&dir);
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
    drop(m);
    // The user is this test's: what its manager left in its runtime folder goes too.
    let _ = std::fs::remove_dir_all(&runtime);
}
