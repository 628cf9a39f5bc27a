//! The real parts for the helper's tests: a private system bus (`dbus-daemon`), `polkitd` on it with
//! the project's policy and per-user rules, `snapshelf-store` serving the sample catalog on
//! 127.0.0.1, real unprivileged users, and the helper itself on a scratch root.

#![allow(dead_code)]

pub mod bus_server;
pub mod cgroups;
pub mod gnome;
pub mod notifications;
pub mod proxy;
pub mod sandbox;
pub mod session_bus;
pub mod users;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const GRANTED: &str = "snapshelf-granted";
pub const DENIED: &str = "snapshelf-denied";
/// The user apps run as in confine's tests (with a home); polkit grants it too, so that the person
/// who uses an app is the one who switches its permissions.
pub const RUNNER: &str = "snapshelf-runner";
pub const HELPER: &str = env!("CARGO_BIN_EXE_snapshelf-helper");

/// Root is needed for loop mounts, users and polkit. Under CI a missing root is a failure.
pub fn require_root() -> bool {
    // libtest names each test's thread after the test.
    let current = std::thread::current();
    snapshelf_snap::testdata::require_root(current.name().unwrap_or("a helper test"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A binary of this workspace's build, next to the test binaries (cargo builds every member's
/// binaries for `cargo test --workspace`; a test run of one package builds it here).
pub fn workspace_bin(package: &str, name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join(name);
    // `cargo test` builds only this package's binaries: another package's may be missing or older
    // than its sources. Build it once per test process (a no-op when it is current).
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    // scripts/test.sh builds every test and binary of the workspace before any test runs and says
    // so: a `cargo build -p` here would then only relink binaries other test processes execute
    // (its feature set differs from the workspace's).
    let prebuilt = std::env::var_os("SNAPSHELF_TEST_BINS_BUILT").is_some();
    if !prebuilt && !built.iter().any(|p| p == package) {
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "-q", "-p", package]);
        // The same profile as this test, whose directory the binary is looked for in.
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        let st = build.status().unwrap();
        assert!(st.success(), "cannot build {package}");
        built.push(package.to_string());
    }
    assert!(bin.exists(), "{name} not found at {}", bin.display());
    bin
}

/// `snapctl`, linked statically as it is packaged (it runs on bases without a C library), in a
/// target directory of its own so that the workspace's ordinary build never replaces it.
pub fn snapctl_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let target = std::process::Command::new("rustc")
                .args(["--print", "host-tuple"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_else(|| "x86_64-unknown-linux-gnu".into());
            let dir = repo().join("target/static");
            let mut build = Command::new(env!("CARGO"));
            build
                .args([
                    "build",
                    "-q",
                    "-p",
                    "snapshelf-snapctl",
                    "--target",
                    &target,
                ])
                .arg("--target-dir")
                .arg(&dir)
                .env("RUSTFLAGS", "-C target-feature=+crt-static");
            let profile = if cfg!(debug_assertions) {
                "debug"
            } else {
                build.arg("--release");
                "release"
            };
            assert!(build.status().unwrap().success(), "cannot build snapctl");
            dir.join(target).join(profile).join("snapctl")
        })
        .clone()
}

fn store_bin() -> PathBuf {
    workspace_bin("snapshelf-store", "snapshelf-store")
}

/// A `snapshelf-store` serving the catalog in `catalog` (with these extra arguments) on a free
/// port of 127.0.0.1: the process, and its base URL as it announces it.
pub fn start_store(catalog: &Path, args: &[&str]) -> (Child, String) {
    let store = Command::new(store_bin());
    snapshelf_snap::testdata::serve_store(store, catalog, args, Stdio::null())
}

fn ensure_user(name: &str) {
    if Command::new("id")
        .arg(name)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
    {
        return;
    }
    let st = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ])
        .status()
        .unwrap();
    assert!(st.success(), "useradd {name} failed");
}

/// The polkit policy and a rules file that grants every Snapshelf action to GRANTED only.
fn install_polkit_files() {
    std::fs::create_dir_all("/usr/share/polkit-1/actions").unwrap();
    // Written aside and renamed: a polkitd of another test binary may be reading the directory.
    let tmp = "/usr/share/polkit-1/actions/.io.github.snapshelf.policy.tmp";
    std::fs::copy(repo().join("polkit/io.github.snapshelf.policy"), tmp).unwrap();
    std::fs::rename(
        tmp,
        "/usr/share/polkit-1/actions/io.github.snapshelf.policy",
    )
    .unwrap();
    std::fs::create_dir_all("/etc/polkit-1/rules.d").unwrap();
    let tmp = "/etc/polkit-1/rules.d/.60-snapshelf-tests.rules.tmp";
    std::fs::write(
        tmp,
        format!(
            "// Written by Snapshelf's tests.\npolkit.addRule(function(action, subject) {{\n  if (action.id.indexOf(\"io.github.snapshelf.\") == 0 && (subject.user == \"{GRANTED}\" || subject.user == \"{RUNNER}\")) {{ return polkit.Result.YES; }}\n}});\n"
        ),
    )
    .unwrap();
    std::fs::rename(tmp, "/etc/polkit-1/rules.d/60-snapshelf-tests.rules").unwrap();
}

/// A copy of a directory tree (a catalog a test changes without touching the shared one).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// The sample catalog, built once per test binary with a 2048-bit key chain.
pub fn catalog() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(store_bin())
            .args(["sample-catalog", "--key-bits", "2048"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sample-catalog: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
    .path()
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub bus_address: String,
    pub store_url: String,
    pub catalog: PathBuf,
    // Reaped from the moment each is spawned: a setup step that panics (polkitd never on the bus,
    // the store not answering) must not leak the daemons started before it.
    bus: gnome::Reaped,
    polkit: gnome::Reaped,
    store: gnome::Reaped,
    pub helper: Option<Child>,
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Env {
    /// Everything but the helper, which [`Env::start_helper`] starts.
    pub fn new() -> Env {
        Self::with_catalog(catalog())
    }

    pub fn with_catalog(catalog: &Path) -> Env {
        Self::with_store_args(catalog, &[])
    }

    /// A store started with extra arguments (fault injection).
    pub fn with_store_args(catalog: &Path, store_args: &[&str]) -> Env {
        // Once per test binary: tests run on parallel threads and must not race on users or files.
        static SETUP: std::sync::Once = std::sync::Once::new();
        SETUP.call_once(|| {
            ensure_user(GRANTED);
            ensure_user(DENIED);
            install_polkit_files();
        });
        let dir = tempfile::tempdir().unwrap();
        // Test users must reach the bus socket inside.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        let socket = dir.path().join("bus");
        let conf = dir.path().join("bus.conf");
        std::fs::write(
            &conf,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.PolicyKit1"/>
  </policy>
  <policy user="root">
    <allow own="org.freedesktop.PolicyKit1"/>
    <allow send_destination="*"/>
  </policy>
  <policy user="polkitd">
    <allow own="org.freedesktop.PolicyKit1"/>
  </policy>
  <include>{}</include>
  <includedir>{}</includedir>
</busconfig>
"#,
                socket.display(),
                repo().join("flatpak-free-packaging/io.github.snapshelf.Helper1.conf").canonicalize().unwrap().display(),
                // The helper's policy files for `dbus` slots on the system bus, as the real
                // system bus reads /etc/dbus-1/system.d.
                root.join("etc/dbus-1/system.d").display()
            ),
        )
        .unwrap();
        let bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .arg("--nofork")
            .stdout(Stdio::null())
            .spawn()
            .map(gnome::Reaped)
            .expect("dbus-daemon (Debian package dbus) is needed");
        wait_for("the bus socket", Duration::from_secs(10), || {
            socket.exists()
        });
        let bus_address = format!("unix:path={}", socket.display());
        let polkit = Command::new("/usr/lib/polkit-1/polkitd")
            .arg("--no-debug")
            .env("DBUS_SYSTEM_BUS_ADDRESS", &bus_address)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(gnome::Reaped)
            .expect("polkitd (Debian package polkitd) is needed");
        let addr = bus_address.clone();
        wait_for("polkitd on the bus", Duration::from_secs(20), || {
            name_has_owner(&addr, "org.freedesktop.PolicyKit1")
        });

        let (store, store_url) = start_store(catalog, store_args);
        let store = gnome::Reaped(store);
        Env {
            dir,
            root,
            bus_address,
            store_url,
            catalog: catalog.to_path_buf(),
            bus,
            polkit,
            store,
            helper: None,
        }
    }

    pub fn helper_command(&self) -> Command {
        let mut c = Command::new(HELPER);
        c.arg("--root")
            .arg(&self.root)
            .args(["--store-url", &self.store_url])
            .arg("--trust")
            .arg(self.catalog.join("keys/trusted.assert"))
            .args(["--bus-address", &self.bus_address])
            .args(["--confine", "/usr/libexec/snapshelf/snapshelf-confine"])
            .arg("--snapctl")
            .arg(snapctl_bin())
            .env("RUST_LOG", "warn");
        c
    }

    pub fn start_helper(&mut self) {
        self.start_helper_with(&[]);
    }

    /// Start the helper with extra environment (the debug build's `SNAPSHELF_CRASH_AFTER`).
    pub fn start_helper_with(&mut self, vars: &[(&str, &str)]) {
        let mut c = self.helper_command();
        c.envs(vars.iter().copied());
        self.helper = Some(c.stdout(Stdio::null()).spawn().unwrap());
        let addr = self.bus_address.clone();
        wait_for("the helper on the bus", Duration::from_secs(30), || {
            name_has_owner(&addr, "io.github.snapshelf.Helper1")
        });
    }

    /// Start the helper from a command [`Env::helper_command`] made and the test changed (a
    /// later option wins over the same one before it).
    pub fn start_helper_from(&mut self, mut c: Command) {
        self.helper = Some(c.stdout(Stdio::null()).spawn().unwrap());
        let addr = self.bus_address.clone();
        wait_for("the helper on the bus", Duration::from_secs(30), || {
            name_has_owner(&addr, "io.github.snapshelf.Helper1")
        });
    }

    /// Stop the store, as a network that went away: the helper must answer from local state.
    pub fn stop_store(&mut self) {
        let _ = self.store.kill();
        let _ = self.store.wait();
    }

    /// Whether the helper process has ended (reaped if so).
    pub fn helper_exited(&mut self) -> bool {
        match self.helper.as_mut().map(|h| h.try_wait()) {
            Some(Ok(Some(_))) => {
                self.helper = None;
                true
            }
            Some(_) => false,
            None => true,
        }
    }

    /// SIGKILL the helper, as a crash would.
    pub fn kill_helper(&mut self) {
        if let Some(mut h) = self.helper.take() {
            let _ = h.kill();
            let _ = h.wait();
        }
        let addr = self.bus_address.clone();
        wait_for("the name to be released", Duration::from_secs(10), || {
            !name_has_owner(&addr, "io.github.snapshelf.Helper1")
        });
    }

    /// A connection to the test's bus. Its calls time out after two minutes: an answer that
    /// never comes fails the test, naming the call, instead of hanging the whole suite.
    pub fn connection(&self) -> zbus::blocking::Connection {
        zbus::blocking::connection::Builder::address(self.bus_address.as_str())
            .unwrap()
            .method_timeout(Duration::from_secs(120))
            .build()
            .unwrap()
    }

    pub fn proxy(&self) -> snapshelf_dbus::proxy::Helper1ProxyBlocking<'static> {
        snapshelf_dbus::proxy::Helper1ProxyBlocking::new(&self.connection()).unwrap()
    }

    /// A change just started, followed to its end, which must be Done.
    pub fn done(&self, started: zbus::Result<zbus::zvariant::OwnedObjectPath>) {
        let c = started.expect("the change starts");
        let (status, kind, error) = self.wait_change(c.as_str());
        assert_eq!(status, "Done", "{c}: {kind} {error}");
    }

    /// Wait until a change is ready; returns (status, error kind, error message).
    pub fn wait_change(&self, path: &str) -> (String, String, String) {
        let conn = self.connection();
        let change = snapshelf_dbus::proxy::Change1ProxyBlocking::builder(&conn)
            .path(path.to_string())
            .unwrap()
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .unwrap();
        let start = Instant::now();
        loop {
            if change.ready().unwrap() {
                return (
                    change.status().unwrap(),
                    change.error_kind().unwrap(),
                    change.error().unwrap(),
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "change {path} did not finish"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `busctl call` on our bus as `user`; returns (success, stdout + stderr).
    pub fn busctl_as(&self, user: &str, args: &[&str]) -> (bool, String) {
        let out = Command::new("runuser")
            .args([
                "-u",
                user,
                "--",
                "busctl",
                "--address",
                &self.bus_address,
                "call",
                "io.github.snapshelf.Helper1",
                "/io/github/snapshelf/Helper1",
                "io.github.snapshelf.Helper1",
            ])
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    pub fn is_mounted(&self, rel: &str) -> bool {
        let p = self.root.join(rel);
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(p.to_str().unwrap()))
    }

    pub fn mounts_under_root(&self) -> Vec<String> {
        let prefix = self.root.to_str().unwrap().to_string();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&prefix))
            .map(str::to_string)
            .collect()
    }

    pub fn link(&self, rel: &str) -> Option<String> {
        std::fs::read_link(self.root.join(rel))
            .ok()
            .map(|p| p.display().to_string())
    }
}

/// What `ListInstalled` says.
pub fn installed(env: &Env) -> Vec<snapshelf_dbus::types::InstalledSnap> {
    env.proxy()
        .list_installed()
        .unwrap()
        .iter()
        .map(|d| snapshelf_dbus::types::InstalledSnap::from_dict(d).unwrap())
        .collect()
}

/// The revision of installed `snap` (which must be installed).
pub fn revision_of(env: &Env, snap: &str) -> String {
    installed(env)
        .into_iter()
        .find(|s| s.name == snap)
        .map(|s| s.revision)
        .unwrap_or_else(|| panic!("{snap} is not installed"))
}

/// The error kind of a failed call.
pub fn kind_of(e: zbus::Error) -> snapshelf_dbus::ErrorKind {
    snapshelf_dbus::error::classify(&e).0
}

pub fn name_has_owner(address: &str, name: &str) -> bool {
    let Ok(conn) = zbus::blocking::connection::Builder::address(address).and_then(|b| b.build())
    else {
        return false;
    };
    let Ok(dbus) = zbus::blocking::fdo::DBusProxy::new(&conn) else {
        return false;
    };
    let Ok(name) = zbus::names::BusName::try_from(name) else {
        return false;
    };
    dbus.name_has_owner(name).unwrap_or(false)
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(mut h) = self.helper.take() {
            let _ = h.kill();
            let _ = h.wait();
        }
        // Deepest first: unmount what the helper mounted under our root.
        let mut mounts = self.mounts_under_root();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
        for c in [&mut self.store, &mut self.polkit, &mut self.bus] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The project's translations compiled with `msgfmt --check` into `<dir>/<lang>/LC_MESSAGES/`;
/// returns the languages.
pub fn compile_translations(dir: &Path) -> Vec<String> {
    let po = repo().join("po");
    let linguas = std::fs::read_to_string(po.join("LINGUAS")).unwrap();
    let mut out = Vec::new();
    for lang in linguas.split_whitespace() {
        let d = dir.join(lang).join("LC_MESSAGES");
        std::fs::create_dir_all(&d).unwrap();
        let o = Command::new("msgfmt")
            .args(["--check", "--statistics", "-o"])
            .arg(d.join("snapshelf.mo"))
            .arg(po.join(format!("{lang}.po")))
            .output()
            .expect("msgfmt (Debian package gettext) is needed");
        let stats = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(o.status.success(), "{lang}: {stats}");
        assert!(
            !stats.contains("untranslated") && !stats.contains("fuzzy"),
            "{lang} is incomplete: {stats}"
        );
        out.push(lang.to_string());
    }
    out
}

/// A real user with a home directory; returns (uid, home).
pub fn runner() -> (u32, PathBuf) {
    static ONCE: OnceLock<(u32, PathBuf)> = OnceLock::new();
    ONCE.get_or_init(|| {
        let known = Command::new("id")
            .arg(RUNNER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        if !known {
            let st = Command::new("useradd")
                .args(["--create-home", "--shell", "/bin/sh", RUNNER])
                .status()
                .unwrap();
            assert!(st.success(), "useradd {RUNNER} failed");
        }
        let out = Command::new("getent")
            .args(["passwd", RUNNER])
            .output()
            .unwrap();
        let line = String::from_utf8(out.stdout).unwrap();
        let f: Vec<&str> = line.trim().split(':').collect();
        let (uid, home) = (f[2].parse::<u32>().unwrap(), PathBuf::from(f[5]));
        if !home.exists() {
            std::fs::create_dir_all(&home).unwrap();
            std::os::unix::fs::chown(&home, Some(uid), Some(uid)).unwrap();
        }
        (uid, home)
    })
    .clone()
}

/// Poll `f` every 50 ms until it holds; past `timeout` the test fails naming `what`.
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A pipe whose buffer is already full: a writer blocks until the read end is drained (an app
/// that writes into it keeps running). Close-on-exec: no other child may hold the write end.
pub fn full_pipe() -> (std::fs::File, std::os::fd::OwnedFd) {
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two descriptors, which are then owned here.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let set_nonblocking = |on: bool| {
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            let flags = libc::fcntl(w.as_raw_fd(), libc::F_GETFL);
            let flags = if on {
                flags | libc::O_NONBLOCK
            } else {
                flags & !libc::O_NONBLOCK
            };
            assert_eq!(libc::fcntl(w.as_raw_fd(), libc::F_SETFL, flags), 0);
        }
    };
    set_nonblocking(true);
    let mut wf = std::fs::File::from(w.try_clone().unwrap());
    while wf.write(&[b'x'; 4096]).is_ok() {}
    drop(wf);
    set_nonblocking(false);
    (std::fs::File::from(r), w)
}

/// The snap files the helper keeps (`var/lib/snapshelf/snaps`), sorted.
pub fn blobs(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(env.root.join("var/lib/snapshelf/snaps"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `snapshelfctl ARGS…` as root against the test's helper.
pub fn ctl(env: &Env, args: &[&str]) -> std::process::Output {
    Command::new(workspace_bin("snapshelfctl", "snapshelfctl"))
        .args(["--bus-address", &env.bus_address])
        .args(args)
        .output()
        .unwrap()
}

/// A change that failed in `hook`'s run: status Error, kind hook-failed, and the error naming the
/// hook and its exit status 1.
#[track_caller]
pub fn assert_hook_failed(status: &str, kind: &str, err: &str, hook: &str) {
    assert_eq!((status, kind), ("Error", "hook-failed"), "{err}");
    assert!(
        err.starts_with(&format!("run hook \"{hook}\": exit status 1")),
        "{err}"
    );
}

/// Wait until the `started` change (of crash-test run `n`) is ready or the helper is gone, for
/// `limit` at most: whether the helper crashed (it may still be on its way to the crash point
/// when the change is over, so that is looked at again a moment later).
pub fn crashed_before_ready(
    env: &mut Env,
    started: &zbus::Result<zbus::zvariant::OwnedObjectPath>,
    limit: Duration,
    n: usize,
) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if env.helper_exited() {
            return true;
        }
        let ready = started.as_ref().ok().and_then(|c| {
            snapshelf_dbus::proxy::Change1ProxyBlocking::builder(&env.connection())
                .path(c.as_str().to_string())
                .ok()?
                .cache_properties(zbus::proxy::CacheProperties::No)
                .build()
                .ok()?
                .ready()
                .ok()
        });
        if ready == Some(true) {
            std::thread::sleep(Duration::from_millis(100));
            return env.helper_exited();
        }
        assert!(Instant::now() < deadline, "run {n}: stuck");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The snap-id the store at `store` gives `name`.
pub fn snap_id(store: &str, name: &str) -> String {
    let v: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{store}/v2/snaps/info/{name}"))
        .header("Snap-Device-Series", "16")
        .send()
        .unwrap()
        .json()
        .unwrap();
    v["snap-id"]
        .as_str()
        .expect("info has a snap-id")
        .to_string()
}

/// Every path under `dir` whose name mentions `what` (a revision's blob, a partial download).
pub fn files_naming(dir: &Path, what: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_name().to_string_lossy().contains(what) {
            found.push(p.display().to_string());
        }
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(files_naming(&p, what));
        }
    }
    found
}

/// `Refresh` options asking for `channel`.
pub fn refresh_on(channel: &str) -> snapshelf_dbus::types::Dict {
    refresh_options(channel, false)
}

/// `Refresh` options asking for `channel`, with the consent to classic confinement or not.
pub fn refresh_options(channel: &str, classic: bool) -> snapshelf_dbus::types::Dict {
    let o = snapshelf_dbus::types::RefreshOptions {
        channel: Some(channel.to_string()),
        classic,
        ..Default::default()
    };
    o.to_dict()
}

/// Bytes no compressor shrinks, the same for the same seed (xorshift), so a packed file is as big
/// as its payload.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
