//! Launching apps in the real sandbox from a test: test snaps packed from files the test writes,
//! installed through the helper, run by `snapshelf-confine` in its three modes.

use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use snapshelf_dbus::types::Dict;
use zbus::zvariant::OwnedValue;

use super::Env;

pub fn confine_bin() -> PathBuf {
    super::workspace_bin("snapshelf-confine", "snapshelf-confine")
}

/// Compile a C probe statically (the base snap has no libc) into `out`.
pub fn compile_static(source: &str, work: &Path, out: &Path) {
    let c = work.join(format!("{}.c", out.file_name().unwrap().to_string_lossy()));
    std::fs::write(&c, source).unwrap();
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    gcc(&["-static", "-O2", "-o"], out, &c, &[]);
}

/// What `compile_with_libdbus` puts before a program: the part of libdbus's API the tests' programs
/// use, declared here (the machine has the library, not its headers).
const LIBDBUS_DECLARATIONS: &str = r#"
typedef struct { const char *name; const char *message; unsigned int dummy; void *padding1; } DBusError;
typedef struct DBusConnection DBusConnection;
typedef struct DBusMessage DBusMessage;
void dbus_error_init(DBusError *);
int dbus_error_is_set(const DBusError *);
DBusConnection *dbus_bus_get(int, DBusError *);
int dbus_bus_request_name(DBusConnection *, const char *, unsigned int, DBusError *);
int dbus_connection_read_write(DBusConnection *, int);
DBusMessage *dbus_connection_pop_message(DBusConnection *);
int dbus_message_get_type(DBusMessage *);
const char *dbus_message_get_member(DBusMessage *);
DBusMessage *dbus_message_new_method_return(DBusMessage *);
DBusMessage *dbus_message_new_method_call(const char *, const char *, const char *, const char *);
DBusMessage *dbus_connection_send_with_reply_and_block(DBusConnection *, DBusMessage *, int, DBusError *);
int dbus_message_get_args(DBusMessage *, DBusError *, int, ...);
int dbus_message_append_args(DBusMessage *, int, ...);
int dbus_connection_send(DBusConnection *, DBusMessage *, unsigned int *);
void dbus_connection_flush(DBusConnection *);
void dbus_message_unref(DBusMessage *);
void dbus_connection_set_exit_on_disconnect(DBusConnection *, int);
"#;

/// Compile a C program against the host's libdbus (the machine has the library, not its headers)
/// from `OUT.c` into `out`; a snap gets it with its libraries through `add_host_commands`.
pub fn compile_with_libdbus(source: &str, out: &Path) {
    let c = PathBuf::from(format!("{}.c", out.display()));
    std::fs::write(&c, format!("{LIBDBUS_DECLARATIONS}{source}")).unwrap();
    gcc(
        &["-O2", "-o"],
        out,
        &c,
        &["/usr/lib/x86_64-linux-gnu/libdbus-1.so.3"],
    );
}

/// `gcc FLAGS… OUT SOURCE LIBS…`, which must succeed.
fn gcc(flags: &[&str], out: &Path, source: &Path, libs: &[&str]) {
    let o = Command::new("gcc")
        .args(flags)
        .arg(out)
        .arg(source)
        .args(libs)
        .output()
        .expect("gcc (Debian package build-essential) is needed");
    assert!(
        o.status.success(),
        "gcc: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The confine binary with the file capabilities the package gives it, in a root-owned directory.
pub fn capable_confine(dir: &Path) -> PathBuf {
    let d = dir.join("libexec");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = d.join("snapshelf-confine");
    std::fs::copy(confine_bin(), &bin).unwrap();
    let st = Command::new("setcap")
        .args(["cap_sys_admin,cap_chown,cap_dac_override,cap_dac_read_search,cap_fowner=p"])
        .arg(&bin)
        .status()
        .expect("setcap (Debian package libcap2-bin) is needed");
    assert!(st.success(), "setcap failed");
    bin
}

/// Write `text` at `path` (its folders made) with permissions `mode`.
pub fn write(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Pack the snap tree `src` into `out`, which is returned.
pub fn pack(src: &Path, out: &Path) -> PathBuf {
    snapshelf_snap::squashfs::pack(src, out, &Default::default()).unwrap();
    out.to_path_buf()
}

/// An app kept running: its launch by root (`snapshelf-confine --root ROOT SNAP.APP`), whose
/// output goes into a full pipe, so that it blocks until [`Blocked::end`] drains the pipe.
pub struct Blocked {
    child: std::process::Child,
    reader: std::fs::File,
}

impl Blocked {
    /// Launch `SNAP.APP` (`target`) and wait until the helper's `RunningApps` lists `app`.
    pub fn start(env: &Env, target: &str) -> Blocked {
        let (reader, writer) = super::full_pipe();
        let child = Command::new(confine_bin())
            .arg("--root")
            .arg(&env.root)
            .arg(target)
            .current_dir("/")
            .stdout(std::process::Stdio::from(writer))
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let (snap, app) = target.split_once('.').unwrap();
        super::wait_until(
            &format!("{target} to be recorded as running"),
            std::time::Duration::from_secs(20),
            || env.proxy().running_apps(snap).unwrap() == vec![app.to_string()],
        );
        Blocked { child, reader }
    }

    /// Let the app write its output and end; it must succeed.
    pub fn end(self) {
        let Blocked {
            mut child,
            mut reader,
        } = self;
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        assert!(child.wait().unwrap().success());
    }
}

/// Start installing the snap file at `path` with `opts`: the change's path.
pub fn start_install_file(env: &Env, path: &Path, opts: Dict) -> zbus::zvariant::OwnedObjectPath {
    let f = std::fs::File::open(path).unwrap();
    env.proxy()
        .install_file(zbus::zvariant::OwnedFd::from(OwnedFd::from(f)), opts)
        .unwrap()
}

/// Install the unsigned snap file at `path`: the change's (status, error kind, error).
pub fn install_unsigned(env: &Env, path: &Path) -> (String, String, String) {
    env.wait_change(start_install_file(env, path, unsigned()).as_str())
}

pub fn unsigned() -> Dict {
    [("unsigned".to_string(), OwnedValue::from(true))]
        .into_iter()
        .collect()
}

/// Install a `.snap` file; the change must end Done.
pub fn install_file(env: &Env, path: &Path) {
    let f = std::fs::File::open(path).unwrap();
    let c = env
        .proxy()
        .install_file(zbus::zvariant::OwnedFd::from(OwnedFd::from(f)), unsigned())
        .unwrap();
    let (status, _, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{}: {err}", path.display());
}

/// The helper on a scratch root with the base installed, a work folder the test user may read,
/// and in it a copy of confine with file capabilities (the packaged mode).
pub fn setup() -> (Env, tempfile::TempDir, PathBuf) {
    let mut env = Env::new();
    env.start_helper();
    let c = env.proxy().install(&["shelf-base"], Dict::new()).unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let capable = capable_confine(work.path());
    (env, work, capable)
}

/// The helper on a scratch root, launching apps and hooks with this workspace's confine, with the
/// base installed, and a work folder the test user may read.
pub fn setup_with_confine() -> (Env, tempfile::TempDir) {
    let mut env = Env::new();
    let mut c = env.helper_command();
    c.arg("--confine").arg(confine_bin());
    env.start_helper_from(c);
    env.done(env.proxy().install(&["shelf-base"], Dict::new()));
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    (env, work)
}

/// The test user's runtime folder (`/run/user/UID`, where its session bus relay goes) must be there.
pub fn require_runner_runtime_dir() {
    let (uid, _) = super::runner();
    assert!(
        Path::new(&format!("/run/user/{uid}")).is_dir(),
        "/run/user/{uid} is needed"
    );
}

/// How to launch: who, and with which binary.
#[derive(Clone, Copy, Debug)]
pub enum Mode<'a> {
    /// A real unprivileged user, the binary without privileges: a user namespace.
    UserNs,
    /// Root.
    Root,
    /// A real unprivileged user, the binary with file capabilities, the root's directories bound
    /// over the system's in a private mount namespace (`--root` is refused with privileges).
    Capable(&'a Path),
}

/// Launch as `user` (Root mode: as root); a launch that does not end within two minutes is
/// killed (a stalled launch shows as a failure, not a hang).
pub fn launch_as(env: &Env, mode: Mode<'_>, user: &str, target: &str, args: &[&str]) -> Output {
    launch_with(env, mode, user, target, args, &[])
}

/// `launch_as`, with `vars` added to the environment.
pub fn launch_with(
    env: &Env,
    mode: Mode<'_>,
    user: &str,
    target: &str,
    args: &[&str],
    vars: &[(&str, &str)],
) -> Output {
    let root = env.root.display().to_string();
    let confine = confine_bin().display().to_string();
    let mut cmd = Command::new("timeout");
    cmd.args(["--signal=KILL", "120"]);
    match mode {
        Mode::UserNs => {
            cmd.args([
                "runuser", "-u", user, "--", &confine, "--root", &root, target,
            ]);
        }
        Mode::Root => {
            cmd.args([&confine, "--root", &root, target]);
        }
        Mode::Capable(bin) => {
            for d in ["/snap", "/var/snap", "/var/lib/snapshelf"] {
                std::fs::create_dir_all(d).unwrap();
            }
            let script = format!(
                "mount --rbind {root}/snap /snap && mount --rbind {root}/var/snap /var/snap && \
                 mount --bind {root}/var/lib/snapshelf /var/lib/snapshelf && \
                 exec runuser -u {user} -- \"$@\""
            );
            cmd.args([
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
                "sh",
            ])
            .arg(bin)
            .arg(target);
        }
    }
    cmd.args(args)
        .envs(vars.iter().copied())
        .current_dir("/")
        .output()
        .unwrap()
}

/// The standard output of a launch that must succeed.
pub fn ok(o: &Output, what: &str) -> String {
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{what}: exit {:?}\nstdout: {out}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// `snap connect` (`true`) / `snap disconnect` of `plug` (snap, plug) and `slot` (snap, slot), as
/// root: the change must end Done.
pub fn connect(env: &Env, connect: bool, plug: (&str, &str), slot: (&str, &str)) {
    let p = env.proxy();
    let c = if connect {
        p.connect(plug.0, plug.1, slot.0, slot.1)
    } else {
        p.disconnect(plug.0, plug.1, slot.0, slot.1)
    }
    .unwrap_or_else(|e| panic!("connect {connect} {plug:?} {slot:?}: {e}"));
    let (status, _, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{err}");
}

/// Connect (`true`) or disconnect a plug of `snap` to the system's slot, as root; Done.
pub fn switch(env: &Env, snap: &str, plug: &str, slot: &str, connect: bool) {
    let p = env.proxy();
    let c = if connect {
        p.connect(snap, plug, "", slot)
    } else {
        p.disconnect(snap, plug, "", slot)
    }
    .unwrap();
    let (status, _, err) = env.wait_change(c.as_str());
    assert_eq!(status, "Done", "{snap}:{plug} {connect}: {err}");
}

/// plug → connected, from the helper's Connections.
pub fn connected(env: &Env, snap: &str) -> std::collections::BTreeMap<String, bool> {
    env.proxy()
        .connections(snap)
        .unwrap()
        .into_iter()
        .map(|d| {
            let c = snapshelf_dbus::types::Connection::from_dict(&d).unwrap();
            (c.plug, c.connected)
        })
        .collect()
}

/// Things a test puts on the host (device nodes, sockets, folders), removed again, newest first,
/// when it is dropped; what was there before is left alone.
#[derive(Default)]
pub struct HostFixture {
    made: Vec<PathBuf>,
    listeners: Vec<std::os::unix::net::UnixListener>,
}

impl HostFixture {
    fn parents(&mut self, path: &Path, owner: Option<u32>) {
        let mut missing = Vec::new();
        let mut d = path.parent();
        while let Some(dir) = d.filter(|d| !d.exists()) {
            missing.push(dir.to_path_buf());
            d = dir.parent();
        }
        for dir in missing.into_iter().rev() {
            std::fs::create_dir(&dir).unwrap();
            if let Some(uid) = owner {
                std::os::unix::fs::chown(&dir, Some(uid), Some(uid)).unwrap();
            }
            self.made.push(dir);
        }
    }

    /// A character device node (the null device's numbers) at `path`.
    pub fn node(&mut self, path: &str) {
        let p = Path::new(path);
        self.parents(p, None);
        if !p.exists() {
            let st = Command::new("mknod")
                .args(["-m", "0666", path, "c", "1", "3"])
                .status()
                .unwrap();
            assert!(st.success(), "mknod {path}");
            self.made.push(p.to_path_buf());
        }
    }

    /// A listening socket at `path` (replacing none that exists), owned by `owner`.
    pub fn socket(&mut self, path: &Path, owner: Option<u32>) {
        self.parents(path, owner);
        if path.exists() {
            return;
        }
        let l = std::os::unix::net::UnixListener::bind(path).unwrap();
        if let Some(uid) = owner {
            std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
        }
        self.made.push(path.to_path_buf());
        self.listeners.push(l);
    }

    /// A folder at `path`, owned by `owner`.
    pub fn dir(&mut self, path: &Path, owner: Option<u32>, mode: u32) {
        self.parents(path, owner);
        if path.exists() {
            return;
        }
        std::fs::create_dir(path).unwrap();
        if let Some(uid) = owner {
            std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        self.made.push(path.to_path_buf());
    }
}

impl Drop for HostFixture {
    fn drop(&mut self) {
        self.listeners.clear();
        for p in self.made.iter().rev() {
            if p.is_dir() && !p.is_symlink() {
                let _ = std::fs::remove_dir_all(p);
            } else {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

/// Copy host binaries into the snap tree `s` with every library `ldd` lists, at their own paths;
/// the folders of those libraries.
pub fn add_host_binaries<P: AsRef<Path>>(s: &Path, bins: &[P]) -> Vec<String> {
    let mut dirs = Vec::new();
    for bin in bins {
        let bin = bin.as_ref();
        let out = Command::new("ldd").arg(bin).output().unwrap();
        assert!(out.status.success(), "ldd {}", bin.display());
        let mut files = vec![bin.display().to_string()];
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let lib = match line.split_once("=>") {
                Some((_, rest)) => rest.trim().split(' ').next().unwrap_or(""),
                None => line.trim().split(' ').next().unwrap_or(""),
            };
            if lib.starts_with('/') {
                files.push(lib.to_string());
            }
        }
        for f in files {
            let dest = s.join(f.trim_start_matches('/'));
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(&f, &dest).unwrap();
            let dir = Path::new(&f).parent().unwrap().display().to_string();
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    dirs
}

/// Host binaries in the snap tree `s` (with their libraries, `add_host_binaries`), each `(NAME,
/// BIN, ARGS)` run by `bin/NAME`: a script starting BIN with the copied loader and libraries,
/// ARGS before the script's own.
pub fn add_host_commands(s: &Path, commands: &[(&str, &str, &str)]) {
    let bins: Vec<&str> = commands.iter().map(|c| c.1).collect();
    let dirs = add_host_binaries(s, &bins);
    let lib_path: Vec<String> = dirs.iter().map(|d| format!("$SNAP{d}")).collect();
    for (name, bin, args) in commands {
        write(
            &s.join("bin").join(name),
            &format!(
                "#!/bin/sh\nexec \"$SNAP/lib64/ld-linux-x86-64.so.2\" --library-path \"{}\" \
                 \"$SNAP{bin}\"{args} \"$@\"\n",
                lib_path.join(":")
            ),
            0o755,
        );
    }
}

/// `busapp MODE BUS NAME` (BUS `session` or `system`): `own` asks for NAME and says what the
/// bus answered; `serve` does too and, owning it, answers every method call with "pong" until
/// one named `Quit` (or 100 s pass); `call` calls NAME's `Ping` and prints the reply or the
/// error's name. Against the host's libdbus
/// ([`compile_with_libdbus`] declares its API).
const BUSAPP_C: &str = r#"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 4) return 2;
    DBusError err;
    dbus_error_init(&err);
    DBusConnection *c = dbus_bus_get(strcmp(argv[2], "system") == 0 ? 1 : 0, &err);
    if (!c) { printf("bus=%s\n", err.name); return 1; }
    dbus_connection_set_exit_on_disconnect(c, 0);
    if (strcmp(argv[1], "call") == 0) {
        /* One interface for every name: `<name>-<N>` is no interface name. */
        DBusMessage *m = dbus_message_new_method_call(argv[3], "/", "org.example.ShelfPeer", "Ping");
        DBusMessage *r = dbus_connection_send_with_reply_and_block(c, m, 10000, &err);
        if (!r) { printf("error=%s\n", err.name); return 0; }
        const char *s = 0;
        if (!dbus_message_get_args(r, &err, 's', &s, 0)) { printf("args=%s\n", err.name); return 1; }
        printf("reply=%s\n", s);
        return 0;
    }
    int r = dbus_bus_request_name(c, argv[3], 4 /* DO_NOT_QUEUE */, &err);
    if (dbus_error_is_set(&err)) { printf("request=%s\n", err.name); fflush(stdout); return 0; }
    printf("request=%d\n", r);
    fflush(stdout);
    if (r != 1 || strcmp(argv[1], "serve") != 0) return 0;
    time_t end = time(NULL) + 100;
    while (time(NULL) < end) {
        if (!dbus_connection_read_write(c, 200)) { puts("disconnected"); return 1; }
        DBusMessage *m;
        while ((m = dbus_connection_pop_message(c))) {
            if (dbus_message_get_type(m) != 1 /* a method call */) { dbus_message_unref(m); continue; }
            int quit = strcmp(dbus_message_get_member(m), "Quit") == 0;
            DBusMessage *reply = dbus_message_new_method_return(m);
            const char *pong = "pong";
            dbus_message_append_args(reply, 's', &pong, 0);
            dbus_connection_send(c, reply, NULL);
            dbus_connection_flush(c);
            dbus_message_unref(reply);
            dbus_message_unref(m);
            /* The reply goes through the proxy, which stops when the app ends: let it pass. */
            if (quit) { puts("quit"); fflush(stdout); usleep(500000); return 0; }
        }
    }
    puts("timeout");
    return 0;
}
"#;

/// The compiled `busapp`, once per test (per `work` folder).
pub fn busapp(work: &Path) -> PathBuf {
    let bin = work.join("busapp");
    if bin.exists() {
        return bin;
    }
    compile_with_libdbus(BUSAPP_C, &bin);
    bin
}
