//! A desktop session's plumbing in a real sandbox (confine/src/session.rs and
//! confine/src/mount_plan/session.rs): an app installed through the helper and launched by
//! `snapshelf-confine` with file capabilities (the packaged mode) as a real user, on a host whose
//! `/etc/resolv.conf` is systemd-resolved's link into `/run` (made so only in the launch's own
//! mount namespace), with a real `dbus-daemon` session bus and an X11 cookie. Follows snapd's
//! `cmd/snap/cmd_run.go` (`migrateXauthority`) and its AppArmor D-Bus rules
//! (`interfaces/builtin/desktop.go`).

mod common;

use std::net::UdpSocket;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::sandbox::{self, capable_confine, install_file, write};
use common::session_bus::ReapedGroup;
use common::{Env, RUNNER};
use snapshelf_dbus::types::Dict;
use zbus::zvariant::OwnedValue;

/// The proxy launches started before confine filtered the buses itself: none must run now.
const DBUS_PROXY: &str = "xdg-dbus-proxy";

/// `sessprobe`: a shell with `network`, `x11` and `desktop`, one with `network` alone, and
/// `dbus-send` from the host run through its own loader.
fn session_snap(dir: &Path) -> PathBuf {
    let s = dir.join("sessprobe");
    write(
        &s.join("meta/snap.yaml"),
        "name: sessprobe\nversion: '1'\nsummary: Probes a desktop session\nbase: shelf-base\n\
         apps:\n  sh:\n    command: bin/sh\n    plugs: [network, x11, desktop]\n  \
         plain:\n    command: bin/sh\n    plugs: [network]\n",
        0o644,
    );
    write(&s.join("bin/sh"), "#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755);
    sandbox::add_host_commands(&s, &[("dbus-send", "/usr/bin/dbus-send", "")]);
    let out = dir.join("sessprobe.snap");
    snapshelf_snap::squashfs::pack(&s, &out, &Default::default()).unwrap();
    out
}

fn install(env: &Env, path: &Path) {
    let c = env.proxy().install(&["shelf-base"], Dict::new()).unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    install_file(env, path);
}

/// A DNS server for one name on 127.0.0.53 (where systemd-resolved's stub listens): answers
/// `snapshelf.test` with 192.0.2.7 and every other question with NXDOMAIN.
fn dns_server() -> UdpSocket {
    let sock = UdpSocket::bind("127.0.0.53:53").expect("127.0.0.53:53 is free");
    let server = sock.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = server.recv_from(&mut buf) {
            let q = &buf[..n];
            if n < 12 {
                continue;
            }
            // The question: labels up to the zero byte, then type and class.
            let mut at = 12;
            let mut name = Vec::new();
            while at < n && q[at] != 0 {
                let len = q[at] as usize;
                name.push(String::from_utf8_lossy(&q[at + 1..(at + 1 + len).min(n)]).to_string());
                at += 1 + len;
            }
            let end = (at + 5).min(n);
            let qtype = if end >= at + 3 {
                u16::from_be_bytes([q[at + 1], q[at + 2]])
            } else {
                0
            };
            let known = name.join(".").eq_ignore_ascii_case("snapshelf.test");
            let answer_a = known && qtype == 1;
            let mut r = q[..2].to_vec();
            r.extend([0x81, if known { 0x80 } else { 0x83 }]);
            r.extend([0, 1, 0, u8::from(answer_a), 0, 0, 0, 0]);
            r.extend(&q[12..end]);
            if answer_a {
                r.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
            }
            let _ = server.send_to(&r, from);
        }
    });
    sock
}

/// The test's session bus: a `dbus-daemon` any local user may use, on a socket in `dir`, that
/// starts `snapshelf-launcher` by activation from the packaged service file, with a `PATH` whose
/// `xdg-open` writes what it is asked to open into `dir/opened` and whose `zenity` says yes to
/// opening a file whose name has `may-open` in it.
fn session_bus(dir: &Path) -> (ReapedGroup, String) {
    let conf = dir.join("session.conf");
    let sock = dir.join("session-bus");
    let services = dir.join("services");
    let packaged = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../data/dbus-1/services/io.github.snapshelf.Launcher.service"),
    )
    .unwrap();
    let launcher = common::workspace_bin("snapshelf-launcher", "snapshelf-launcher");
    let service = packaged.replace(
        "/usr/libexec/snapshelf/snapshelf-launcher",
        &launcher.display().to_string(),
    );
    assert_ne!(
        service, packaged,
        "the service file starts the packaged path"
    );
    write(
        &services.join("io.github.snapshelf.Launcher.service"),
        &service,
        0o644,
    );
    let bin = dir.join("fakebin");
    write(
        &bin.join("xdg-open"),
        &format!("#!/bin/sh\necho \"$1\" >> {}/opened\n", dir.display()),
        0o755,
    );
    // The person's answer to "open this file?": yes for a file whose name says so.
    write(
        &bin.join("zenity"),
        "#!/bin/sh\ncase \"$*\" in *may-open*) exit 0 ;; *) exit 1 ;; esac\n",
        0o755,
    );
    std::fs::write(
        &conf,
        format!(
            "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" \
             \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n<busconfig>\
             <type>session</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>\
             <servicedir>{}</servicedir>\
             <policy context=\"default\"><allow user=\"*\"/><allow send_destination=\"*\"/>\
             <allow receive_sender=\"*\"/><allow own=\"*\"/></policy></busconfig>\n",
            sock.display(),
            services.display()
        ),
    )
    .unwrap();
    let child = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", conf.display()))
        .arg("--nofork")
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .stdout(Stdio::null())
        // Its own group, so the guard ends the launcher it activates with it.
        .process_group(0)
        .spawn()
        .map(ReapedGroup)
        .expect("dbus-daemon (Debian package dbus-daemon) is needed");
    let started = Instant::now();
    while !sock.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no session bus"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, format!("unix:path={}", sock.display()))
}

struct Echo(&'static str);

#[zbus::interface(name = "org.snapshelf.Test")]
impl Echo {
    fn ping(&self) -> String {
        format!("pong from {}", self.0)
    }
}

/// Services on the session bus: a portal, a notification server, and a name no plug grants.
fn services(rt: &tokio::runtime::Runtime, addr: &str) -> Vec<zbus::Connection> {
    [
        "org.freedesktop.portal.Desktop",
        "org.freedesktop.Notifications",
        "org.example.Unplugged",
    ]
    .into_iter()
    .map(|name| {
        rt.block_on(async {
            zbus::connection::Builder::address(addr)
                .unwrap()
                .name(name)
                .unwrap()
                .serve_at("/org/snapshelf/Test", Echo(name))
                .unwrap()
                .build()
                .await
                .unwrap()
        })
    })
    .collect()
}

/// Launch `app` in the packaged mode as the runner, in a mount namespace of its own where
/// `/etc/resolv.conf` is systemd-resolved's link to `/run/systemd/resolve/stub-resolv.conf`.
fn launch(
    env: &Env,
    capable: &Path,
    etc: &Path,
    app: &str,
    script: &str,
    vars: &[(&str, &str)],
) -> Output {
    launch_command(env, capable, etc, app, script, vars)
        .output()
        .unwrap()
}

/// The command [`launch`] runs.
fn launch_command(
    env: &Env,
    capable: &Path,
    etc: &Path,
    app: &str,
    script: &str,
    vars: &[(&str, &str)],
) -> Command {
    let root = env.root.display().to_string();
    let setup = format!(
        "mount --rbind {root}/snap /snap && mount --rbind {root}/var/snap /var/snap && \
         mount --bind {root}/var/lib/snapshelf /var/lib/snapshelf && \
         mount --bind {etc} /etc && mount -t tmpfs -o mode=755 tmpfs /run/systemd && \
         mkdir /run/systemd/resolve && \
         echo 'nameserver 127.0.0.53' > /run/systemd/resolve/stub-resolv.conf && \
         exec runuser -u {RUNNER} -- \"$@\"",
        etc = etc.display()
    );
    let mut c = Command::new("timeout");
    c.args([
        "--signal=KILL",
        "120",
        "unshare",
        "-m",
        "--propagation",
        "private",
    ])
    .args(["sh", "-c", &setup, "sh"])
    .arg(capable)
    .args([app, "-c", script])
    .env_remove("DBUS_SESSION_BUS_ADDRESS")
    .env_remove("XAUTHORITY")
    .envs(vars.iter().copied())
    .current_dir("/");
    c
}

/// Bus proxy processes running for the runtime directory `runtime`.
fn proxies_for(runtime: &Path) -> usize {
    let dir = runtime.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(DBUS_PROXY) && c.contains(&dir))
        .count()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

/// An Xauthority file of one entry, in Xau's format.
fn xauthority(cookie: u8) -> Vec<u8> {
    let mut out = 256u16.to_be_bytes().to_vec();
    for f in [&b"host"[..], b"0", b"MIT-MAGIC-COOKIE-1", &[cookie; 16]] {
        out.extend((f.len() as u16).to_be_bytes());
        out.extend(f);
    }
    out
}

const PROBE: &str = "nslookup snapshelf.test 2>&1 | grep -q 192.0.2.7 && echo dns-ok; \
    readlink /etc/resolv.conf; \
    test -f \"$XAUTHORITY\" && echo \"xauth=$XAUTHORITY $(md5sum < \"$XAUTHORITY\")\"; \
    echo \"bus=$DBUS_SESSION_BUS_ADDRESS\"; \
    for n in org.freedesktop.portal.Desktop org.freedesktop.Notifications org.example.Unplugged; do \
      $SNAP/bin/dbus-send --session --print-reply --dest=$n /org/snapshelf/Test \
        org.snapshelf.Test.Ping 2>&1 | grep -q \"pong from $n\" && echo \"reached $n\" \
        || echo \"refused $n\"; done; \
    $SNAP/bin/dbus-send --session --print-reply --dest=org.freedesktop.DBus \
      /org/freedesktop/DBus org.freedesktop.DBus.RequestName string:org.example.Mine uint32:4 \
      >/dev/null 2>&1 && echo owned-a-name || echo no-name; true";

#[test]
fn a_desktop_session_reaches_the_sandbox_through_its_own_doors() {
    if !common::require_root() {
        return;
    }
    let (uid, _) = common::runner();
    let mut env = Env::new();
    env.start_helper();
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    install(&env, &session_snap(work.path()));
    let capable = capable_confine(work.path());

    // The host as an Ubuntu desktop has it, in the launch's namespace only.
    let etc = work.path().join("etc");
    let st = Command::new("cp")
        .arg("-a")
        .arg("/etc")
        .arg(&etc)
        .status()
        .unwrap();
    assert!(st.success());
    let _ = std::fs::remove_file(etc.join("resolv.conf"));
    std::os::unix::fs::symlink(
        "../run/systemd/resolve/stub-resolv.conf",
        etc.join("resolv.conf"),
    )
    .unwrap();
    let made_run_systemd = !Path::new("/run/systemd").exists();
    std::fs::create_dir_all("/run/systemd").unwrap();
    let run_user = PathBuf::from(format!("/run/user/{uid}"));
    if !run_user.exists() {
        std::fs::create_dir_all(&run_user).unwrap();
        std::os::unix::fs::chown(&run_user, Some(uid), Some(uid)).unwrap();
        std::fs::set_permissions(&run_user, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let runtime = run_user.join("snap.sessprobe");
    let _dns = dns_server();
    let (bus, addr) = session_bus(work.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _services = services(&rt, &addr);
    let cookie = work.path().join("xauth");
    std::fs::write(&cookie, xauthority(7)).unwrap();
    std::os::unix::fs::chown(&cookie, Some(uid), Some(uid)).unwrap();
    let cookie_s = cookie.display().to_string();
    let md5 = |b: &[u8]| {
        let o = Command::new("md5sum")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        o.stdin.as_ref().unwrap().write_all(b).unwrap();
        String::from_utf8_lossy(&o.wait_with_output().unwrap().stdout).to_string()
    };

    let vars = [
        ("DBUS_SESSION_BUS_ADDRESS", addr.as_str()),
        ("XAUTHORITY", cookie_s.as_str()),
        ("DISPLAY", ":97"),
    ];
    let o = launch(&env, &capable, &etc, "sessprobe.sh", PROBE, &vars);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(
        out.contains("dns-ok"),
        "no name lookup through the stub-resolv link:\n{out}\n{err}"
    );
    assert!(
        out.contains("../run/systemd/resolve/stub-resolv.conf"),
        "{out}"
    );
    let inside = format!("{}/.Xauthority", runtime.display());
    assert!(
        out.contains(&format!("xauth={inside} {}", md5(&xauthority(7)).trim())),
        "the cookie is not in the runtime directory:\n{out}\n{err}"
    );
    assert!(
        // The launch's filtering relay (confine/src/auth_relay.rs, bus_filter.rs).
        out.contains(&format!("bus=unix:path={}/.dbus-relay.", runtime.display())),
        "{out}"
    );
    for reached in [
        "org.freedesktop.portal.Desktop",
        "org.freedesktop.Notifications",
    ] {
        assert!(
            out.contains(&format!("reached {reached}")),
            "{reached}:\n{out}\n{err}"
        );
    }
    assert!(out.contains("refused org.example.Unplugged"), "{out}");
    assert!(
        out.contains("no-name"),
        "the app owned a name no plug grants:\n{out}"
    );

    // Two running instances of the app: no proxy process for either (each launch's monitor
    // filters its own clients), and the second is filtered as the first is.
    let first = launch_command(
        &env,
        &capable,
        &etc,
        "sessprobe.sh",
        "echo \"bus=$DBUS_SESSION_BUS_ADDRESS\"; sleep 8",
        &vars,
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let started = Instant::now();
    let relays = || {
        std::fs::read_dir(&runtime).map_or(0, |d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with(".dbus-relay"))
                .count()
        })
    };
    while relays() == 0 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(relays(), 1, "the first instance has no relay");
    assert_eq!(proxies_for(&runtime), 0, "a proxy process runs for the app");
    let o = launch(&env, &capable, &etc, "sessprobe.sh", PROBE, &vars);
    let (second, err) = text(&o);
    assert_eq!(
        proxies_for(&runtime),
        0,
        "the second instance started a proxy process"
    );
    assert!(
        second.contains("reached org.freedesktop.Notifications")
            && second.contains("refused org.example.Unplugged")
            && second.contains("no-name"),
        "the second instance is filtered differently:\n{second}\n{err}"
    );
    let first = first.wait_with_output().unwrap();
    let (out, err) = text(&first);
    let bus_line = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("bus="))
            .map(str::to_string)
    };
    assert!(bus_line(&out).is_some(), "{out}\n{err}");
    // Each launch through a relay of its own.
    let relay = format!("bus=unix:path={}/.dbus-relay.", runtime.display());
    for line in [bus_line(&out), bus_line(&second)] {
        assert!(
            line.is_some_and(|l| l.starts_with(&relay)),
            "{out}\n{second}"
        );
    }
    assert_ne!(
        bus_line(&out),
        bus_line(&second),
        "one relay for two launches"
    );

    // Links open on the host through io.snapcraft.Launcher, started by activation; what snapd's
    // allow-list does not take is refused, and the opener never hears of it.
    let open = "for u in https://example.org/page?x=1 file:///etc/passwd 'javascript:alert(1)' \
        snapshelf-unknown:thing mailto:ann@example.org; do \
        if $SNAP/bin/dbus-send --session --print-reply --dest=io.snapcraft.Launcher \
          /io/snapcraft/Launcher io.snapcraft.Launcher.OpenURL \"string:$u\" >/tmp/r 2>&1; \
        then echo \"opened $u\"; else echo \"refused $u: $(cat /tmp/r)\"; fi; done";
    let o = launch(&env, &capable, &etc, "sessprobe.sh", open, &vars);
    let (out, err) = text(&o);
    for opened in ["https://example.org/page?x=1", "mailto:ann@example.org"] {
        assert!(
            out.contains(&format!("opened {opened}")),
            "{opened}:\n{out}\n{err}"
        );
    }
    for refused in [
        "file:///etc/passwd",
        "javascript:alert(1)",
        "snapshelf-unknown:thing",
    ] {
        assert!(
            out.contains(&format!(
                "refused {refused}: Error org.freedesktop.DBus.Error.AccessDenied"
            )),
            "{refused}:\n{out}\n{err}"
        );
    }
    let opened = std::fs::read_to_string(work.path().join("opened")).unwrap();
    assert_eq!(
        opened,
        "https://example.org/page?x=1\nmailto:ann@example.org\n"
    );
    // OpenFile: a file the person agrees to, one they refuse, and descriptors snapd's launcher
    // refuses (O_PATH, a device).
    let open_file = |fd: std::os::fd::BorrowedFd<'_>| -> Result<(), String> {
        rt.block_on(async {
            let conn = zbus::connection::Builder::address(addr.as_str())
                .unwrap()
                .build()
                .await
                .unwrap();
            conn.call_method(
                Some("io.snapcraft.Launcher"),
                "/io/snapcraft/Launcher",
                Some("io.snapcraft.Launcher"),
                "OpenFile",
                &("", zbus::zvariant::Fd::from(fd)),
            )
            .await
            .map(drop)
            .map_err(|e| e.to_string())
        })
    };
    let yes = work.path().join("may-open.txt");
    let no = work.path().join("secret.txt");
    std::fs::write(&yes, "a").unwrap();
    std::fs::write(&no, "b").unwrap();
    use std::os::fd::AsFd;
    open_file(std::fs::File::open(&yes).unwrap().as_fd()).unwrap();
    let e = open_file(std::fs::File::open(&no).unwrap().as_fd()).unwrap_err();
    assert!(
        e.contains("AccessDenied") && e.contains("permission denied"),
        "{e}"
    );
    let o_path = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH)
            .open(&yes)
            .unwrap()
    };
    let e = open_file(o_path.as_fd()).unwrap_err();
    assert!(e.contains("O_PATH"), "{e}");
    let e = open_file(std::fs::File::open("/dev/null").unwrap().as_fd()).unwrap_err();
    assert!(e.contains("regular files or directories"), "{e}");
    let opened = std::fs::read_to_string(work.path().join("opened")).unwrap();
    assert_eq!(
        opened,
        format!(
            "https://example.org/page?x=1\nmailto:ann@example.org\n{}\n",
            yes.display()
        )
    );
    // Without desktop, the launcher is not even there.
    let o = launch(&env, &capable, &etc, "sessprobe.plain", open, &vars);
    let (out, _) = text(&o);
    assert!(!out.contains("opened"), "{out}");

    // The same doors in the user-namespace mode (the binary without privileges).
    let o = Command::new("timeout")
        .args(["--signal=KILL", "120", "runuser", "-u", RUNNER, "--"])
        .arg(common::workspace_bin(
            "snapshelf-confine",
            "snapshelf-confine",
        ))
        .arg("--root")
        .arg(&env.root)
        .args(["sessprobe.sh", "-c", PROBE])
        .envs(vars.iter().copied())
        .current_dir("/")
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(
        out.contains("reached org.freedesktop.portal.Desktop")
            && out.contains("refused org.example.Unplugged")
            && out.contains(&format!("xauth={inside} {}", md5(&xauthority(7)).trim())),
        "user-namespace mode:\n{out}\n{err}"
    );

    // Without desktop: the portal only.
    let o = launch(&env, &capable, &etc, "sessprobe.plain", PROBE, &vars);
    let (out, err) = text(&o);
    assert!(
        out.contains("reached org.freedesktop.portal.Desktop"),
        "{out}\n{err}"
    );
    assert!(
        out.contains("refused org.freedesktop.Notifications"),
        "{out}"
    );
    assert!(!out.contains("xauth="), "x11 is not plugged, yet: {out}");
    // The relays ended with their apps, and took their sockets with them.
    let started = Instant::now();
    let proxies = || {
        std::fs::read_dir(&runtime)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| {
                        let name = e.file_name().to_string_lossy().to_string();
                        name.starts_with(".dbus-proxy") || name.starts_with(".dbus-relay")
                    })
                    .count()
            })
            .unwrap_or(0)
    };
    while proxies() > 0 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(proxies(), 0, "a relay outlived its app");

    // A cookie that is a symbolic link, or a FIFO, is not copied (nor read: the FIFO would
    // block), and the launch goes on.
    let link = work.path().join("xauth-link");
    std::os::unix::fs::symlink(&cookie, &link).unwrap();
    let fifo = work.path().join("xauth-fifo");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    std::os::unix::fs::chown(&fifo, Some(uid), Some(uid)).unwrap();
    for (bad, why) in [
        (&link, "is a symbolic link"),
        (&fifo, "is not a regular file"),
    ] {
        let _ = std::fs::remove_file(runtime.join(".Xauthority"));
        let bad_s = bad.display().to_string();
        let vars = [("XAUTHORITY", bad_s.as_str()), ("DISPLAY", ":97")];
        let o = launch(
            &env,
            &capable,
            &etc,
            "sessprobe.sh",
            "echo ran; ls -a $XDG_RUNTIME_DIR",
            &vars,
        );
        let (out, err) = text(&o);
        assert!(out.contains("ran"), "{out}\n{err}");
        assert!(err.contains(why), "{bad_s}: {err}");
        assert!(!out.contains(".Xauthority"), "{bad_s} was copied: {out}");
        assert!(!runtime.join(".Xauthority").exists());
    }

    drop(bus);
    let _ = std::fs::remove_dir_all(&runtime);
    if made_run_systemd {
        let _ = std::fs::remove_dir("/run/systemd");
    }
}

/// A classic snap: its app reports what it runs with.
fn classic_snap(dir: &Path) -> PathBuf {
    let s = dir.join("classicprobe");
    write(
        &s.join("meta/snap.yaml"),
        "name: classicprobe\nversion: '1'\nsummary: Runs without a sandbox\nbase: shelf-base\n\
         confinement: classic\napps:\n  sh:\n    command: bin/sh\n",
        0o644,
    );
    write(&s.join("bin/sh"), "#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755);
    let out = dir.join("classicprobe.snap");
    snapshelf_snap::squashfs::pack(&s, &out, &Default::default()).unwrap();
    out
}

fn install_file_with(env: &Env, path: &Path, classic: bool) -> Result<(), String> {
    let f = std::fs::File::open(path).unwrap();
    let mut opts: Dict = Dict::new();
    opts.insert("unsigned".into(), OwnedValue::from(true));
    if classic {
        opts.insert("classic".into(), OwnedValue::from(true));
    }
    let c = env
        .proxy()
        .install_file(zbus::zvariant::OwnedFd::from(OwnedFd::from(f)), opts)
        .map_err(|e| format!("{:?}: {e}", common::kind_of(e.clone())))?;
    let (status, kind, err) = env.wait_change(c.as_str());
    (status == "Done")
        .then_some(())
        .ok_or(format!("{kind}: {err}"))
}

#[test]
fn a_classic_snap_runs_as_its_caller_would() {
    if !common::require_root() {
        return;
    }
    let (uid, home) = common::runner();
    let mut env = Env::new();
    env.start_helper();
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let c = env.proxy().install(&["shelf-base"], Dict::new()).unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    let snap = classic_snap(work.path());
    // Without the consent a file that runs without a sandbox is refused, and nothing is left.
    let refused = install_file_with(&env, &snap, false).unwrap_err();
    assert!(
        refused.contains("NeedsClassic") && refused.contains("without a sandbox"),
        "{refused}"
    );
    assert!(!env.root.join("snap/classicprobe").exists());
    install_file_with(&env, &snap, true).unwrap();
    let capable = capable_confine(work.path());

    // A set-uid program of the host's, as `sudo` is.
    let suid = work.path().join("id-suid");
    std::fs::copy("/usr/bin/id", &suid).unwrap();
    std::fs::set_permissions(&suid, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let root = env.root.display().to_string();
    let setup = format!(
        "mount --rbind {root}/snap /snap && mount --rbind {root}/var/snap /var/snap && \
         mount --bind {root}/var/lib/snapshelf /var/lib/snapshelf && \
         exec setpriv --reuid={uid} --regid={uid} --init-groups \"$@\""
    );
    let script = format!(
        "echo \"home=$HOME\"; echo \"path=$PATH\"; echo \"display=$DISPLAY\"; \
         echo \"snap=$SNAP\"; echo \"user-data=$SNAP_USER_DATA\"; echo \"runtime=$XDG_RUNTIME_DIR\"; \
         grep NoNewPrivs /proc/self/status; {} -u; \
         echo \"filter=$(grep Seccomp: /proc/self/status)\"",
        suid.display()
    );
    let path = "/opt/caller/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    let home_s = home.display().to_string();
    let o = Command::new("timeout")
        .args([
            "--signal=KILL",
            "120",
            "unshare",
            "-m",
            "--propagation",
            "private",
        ])
        .args(["sh", "-c", &setup, "sh"])
        .arg(&capable)
        .args(["classicprobe.sh", "-c", &script])
        .env("HOME", &home_s)
        .env("PATH", path)
        .env("DISPLAY", ":42")
        .env("SNAP_NAME", "forged")
        .current_dir("/")
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    for want in [
        format!("home={home_s}"),
        format!("path={path}"),
        "display=:42".to_string(),
        "snap=/snap/classicprobe/x1".to_string(),
        format!("user-data={home_s}/snap/classicprobe/x1"),
        format!("runtime=/run/user/{uid}/snap.classicprobe"),
        "NoNewPrivs:\t0".to_string(),
        "filter=Seccomp:\t0".to_string(),
    ] {
        assert!(out.contains(&want), "{want:?} missing:\n{out}\n{err}");
    }
    // The set-uid bit took effect (effective uid 0), on a program in the host's /tmp: no
    // private /tmp, no sandbox.
    assert!(
        out.lines().any(|l| l == "0"),
        "set-uid did not work:\n{out}"
    );
    let _ = std::fs::remove_dir_all(format!("/run/user/{uid}/snap.classicprobe"));
}

/// `ssl-base`: the sample base with certificates of its own in `/etc/ssl`.
fn ssl_base(env: &Env, dir: &Path) -> PathBuf {
    let s = dir.join("ssl-base");
    let st = Command::new("cp")
        .arg("-a")
        .arg(env.root.join("snap/shelf-base/current/."))
        .arg(&s)
        .status()
        .unwrap();
    assert!(st.success());
    write(
        &s.join("meta/snap.yaml"),
        "name: ssl-base\nversion: '1'\nsummary: A base with its own certificates\ntype: base\n",
        0o644,
    );
    write(
        &s.join("etc/ssl/certs/from-the-base.pem"),
        "base's CA\n",
        0o644,
    );
    let out = dir.join("ssl-base.snap");
    snapshelf_snap::squashfs::pack(&s, &out, &Default::default()).unwrap();
    out
}

fn host_snap(dir: &Path) -> PathBuf {
    let s = dir.join("hostprobe");
    write(
        &s.join("meta/snap.yaml"),
        "name: hostprobe\nversion: '1'\nsummary: Probes host integration\nbase: ssl-base\n\
         apps:\n  sh:\n    command: bin/sh\n    plugs: [desktop, opengl]\n",
        0o644,
    );
    write(&s.join("bin/sh"), "#!/bin/sh\nexec /bin/sh \"$@\"\n", 0o755);
    let out = dir.join("hostprobe.snap");
    snapshelf_snap::squashfs::pack(&s, &out, &Default::default()).unwrap();
    out
}

#[test]
fn the_hosts_fonts_settings_gpu_libraries_and_certificates_as_snapd_offers_them() {
    if !common::require_root() {
        return;
    }
    let (uid, home) = common::runner();
    let mut env = Env::new();
    env.start_helper();
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let c = env.proxy().install(&["shelf-base"], Dict::new()).unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    install_file_with(&env, &ssl_base(&env, work.path()), false).unwrap();
    install_file_with(&env, &host_snap(work.path()), false).unwrap();
    let capable = capable_confine(work.path());

    // The user's GTK settings and folders, made for the test and removed after it.
    let config = home.join(".config");
    let made_config = !config.exists();
    let gtk = config.join("gtk-3.0");
    let made_gtk = !gtk.exists();
    let settings = gtk.join(format!("snapshelf-test-{}.ini", std::process::id()));
    let dirs = config.join("user-dirs.dirs");
    let had_dirs = dirs.exists();
    std::fs::create_dir_all(&gtk).unwrap();
    std::fs::write(&settings, "[Settings]\ngtk-theme-name=Adwaita\n").unwrap();
    if !had_dirs {
        std::fs::write(&dirs, "XDG_MUSIC_DIR=\"$HOME/Musik\"\n").unwrap();
    }
    for p in [&config, &gtk, &settings, &dirs] {
        std::os::unix::fs::chown(p, Some(uid), Some(uid)).unwrap();
    }
    // A fake NVIDIA library, in the launch's namespace only (an overlay on the host's library
    // directory): what the sandbox shows is what the host has there.
    let upper = work.path().join("upper");
    let lib = format!("libnvidia-snapshelf-test.so.{}", std::process::id());
    write(&upper.join(&lib), "not really a library\n", 0o644);
    std::fs::create_dir_all(work.path().join("ovl-work")).unwrap();
    let root = env.root.display().to_string();
    let setup = format!(
        "mount --rbind {root}/snap /snap && mount --rbind {root}/var/snap /var/snap && \
         mount --bind {root}/var/lib/snapshelf /var/lib/snapshelf && \
         mount -t overlay overlay -o lowerdir=/usr/lib/x86_64-linux-gnu,upperdir={up},workdir={w} \
         /usr/lib/x86_64-linux-gnu && exec runuser -u {RUNNER} -- \"$@\"",
        up = upper.display(),
        w = work.path().join("ovl-work").display()
    );
    let script = format!(
        "test -d /usr/local/share/fonts && echo local-fonts; \
         test -d /var/cache/fontconfig && echo font-cache; \
         cat {settings}; cat {dirs} >/dev/null && echo user-dirs; \
         echo x > {settings}.new 2>/dev/null || echo read-only; \
         cat /var/lib/snapd/lib/gl/{lib}; echo \"library-path=$SNAP_LIBRARY_PATH\"; \
         cat /etc/ssl/certs/from-the-base.pem",
        settings = settings.display(),
        dirs = dirs.display()
    );
    let o = Command::new("timeout")
        .args([
            "--signal=KILL",
            "120",
            "unshare",
            "-m",
            "--propagation",
            "private",
        ])
        .args(["sh", "-c", &setup, "sh"])
        .arg(&capable)
        .args(["hostprobe.sh", "-c", &script])
        .current_dir("/")
        .output()
        .unwrap();
    let (out, err) = text(&o);

    let _ = std::fs::remove_file(&settings);
    if made_gtk {
        let _ = std::fs::remove_dir(&gtk);
    }
    if !had_dirs {
        let _ = std::fs::remove_file(&dirs);
    }
    if made_config {
        let _ = std::fs::remove_dir(&config);
    }
    let _ = std::fs::remove_dir_all(format!("/run/user/{uid}/snap.hostprobe"));

    assert!(o.status.success(), "{out}\n{err}");
    for want in [
        "local-fonts",
        "font-cache",
        "gtk-theme-name=Adwaita",
        "user-dirs",
        "read-only",
        "not really a library",
        "library-path=/var/lib/snapd/lib/gl:/var/lib/snapd/lib/gl32",
        // Debian's host with a base not named core*: the base's certificates (snap-confine).
        "base's CA",
    ] {
        assert!(out.contains(want), "{want:?} missing:\n{out}\n{err}");
    }
}
