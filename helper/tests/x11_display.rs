//! X11 apps in their sandbox against an X server that listens as Xorg and Xwayland do: on the
//! abstract socket `@/tmp/.X11-unix/X<n>` and on the socket file. libxcb tries the abstract one
//! first and falls back to the file only on ENOENT/ECONNREFUSED, so Landlock's abstract-socket
//! scope (EPERM, kernels 6.12+) must not apply to an app with `x11` (docs/security.md). snapd's
//! reference: `interfaces/builtin/x11.go` (its AppArmor rule for `@/tmp/.X11-unix/X[0-9]*`).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::sandbox::{install_file, launch_with, ok, pack, setup, write, Mode};
use common::RUNNER;

/// Reports what an abstract connect to display `argv[1]`'s socket answers, then connects to
/// `$DISPLAY` with the real libxcb (statically linked) and reports the first screen's width.
const XCLIENT_C: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xcb/xcb.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    struct sockaddr_un a = {0};
    a.sun_family = AF_UNIX;
    int n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "/tmp/.X11-unix/X%s", argv[1]);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    int r = connect(s, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + 1 + n);
    printf("abstract=%s\n", r < 0 ? strerrorname_np(errno) : "ok");
    close(s);
    if (!getenv("DISPLAY")) { printf("xcb=no-display\n"); return 0; }
    int screen;
    xcb_connection_t *c = xcb_connect(NULL, &screen);
    int err = xcb_connection_has_error(c);
    if (err) { printf("xcb=error-%d\n", err); return 0; }
    xcb_screen_t *root = xcb_setup_roots_iterator(xcb_get_setup(c)).data;
    printf("xcb=ok\nwidth=%u\n", root->width_in_pixels);
    xcb_disconnect(c);
    return 0;
}
"#;

fn xclient_snap(dir: &Path) -> PathBuf {
    let s = dir.join("xclient");
    write(
        &s.join("meta/snap.yaml"),
        "name: xclient\nversion: '1'\nsummary: Connects to the X server\nbase: shelf-base\n\
         apps:\n  draw:\n    command: bin/xclient\n    plugs: [x11]\n  \
         draw-net:\n    command: bin/xclient\n    plugs: [x11, network]\n  \
         blind:\n    command: bin/xclient\n  \
         blind-net:\n    command: bin/xclient\n    plugs: [network]\n",
        0o644,
    );
    let c = dir.join("xclient.c");
    std::fs::write(&c, XCLIENT_C).unwrap();
    std::fs::create_dir_all(s.join("bin")).unwrap();
    let o = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(s.join("bin/xclient"))
        .arg(&c)
        .args(["-lxcb", "-lXau", "-lXdmcp"])
        .output()
        .expect("gcc (Debian package build-essential) is needed");
    assert!(
        o.status.success(),
        "gcc (Debian package libxcb1-dev is needed): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    pack(&s, &dir.join("xclient.snap"))
}

/// Xvfb listening on both the abstract socket and the file, as a real X server does.
struct Xvfb(Child, String);

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn xvfb() -> Xvfb {
    let mut x = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "640x480x24"])
        .args(["-nolisten", "tcp", "-ac"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb (Debian package xvfb) is needed");
    let mut line = String::new();
    BufReader::new(x.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let x = Xvfb(x, format!(":{}", line.trim()));
    assert!(x.1.len() > 1, "Xvfb gave no display number");
    // Both sockets are there: the test is about the abstract one.
    let n = &x.1[1..];
    let unix = std::fs::read_to_string("/proc/net/unix").unwrap();
    for name in [
        format!(" /tmp/.X11-unix/X{n}\n"),
        format!(" @/tmp/.X11-unix/X{n}\n"),
    ] {
        assert!(unix.contains(&name), "Xvfb does not listen on {name:?}");
    }
    x
}

/// (app, extra environment, what answers the abstract connect, whether libxcb connects)
type Run<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str, bool);

/// An app with `x11` reaches a display that listens on both sockets, with and without `network`,
/// in both modes; an app without `x11` cannot reach the X server's abstract socket (nor its file).
#[test]
fn an_x11_app_reaches_a_display_listening_on_the_abstract_socket_too() {
    if !common::require_root() {
        return;
    }
    let (env, work, capable) = setup();
    install_file(&env, &xclient_snap(work.path()));
    let x = xvfb();
    let abi = snapshelf_confine::landlock::kernel_abi();
    let scoped = abi >= 6;
    eprintln!(
        "note: this kernel's Landlock ABI is {abi}: {}",
        if scoped {
            "the abstract-socket scope path (6.12+) is exercised"
        } else {
            "no abstract-socket scope; only the network namespace path is exercised"
        }
    );
    let refused = if scoped { "EPERM" } else { "ECONNREFUSED" };
    let runs: Vec<Run> = vec![
        // Own network namespace: nothing there; libxcb falls back to the file.
        ("xclient.draw", vec![], "ECONNREFUSED", true),
        // The host's network namespace and no scope: the X server's abstract socket itself.
        ("xclient.draw-net", vec![], "ok", true),
        // No x11: the scope refuses (6.12+), else the namespace hides it.
        ("xclient.blind", vec![], refused, false),
        // With network and without x11, only the scope keeps it out (older kernels: reachable,
        // docs/security.md).
        (
            "xclient.blind-net",
            vec![],
            if scoped { "EPERM" } else { "ok" },
            false,
        ),
        // The older kernels' path, in a debug build.
        (
            "xclient.draw",
            vec![("SNAPSHELF_TEST_LANDLOCK_ABI", "0")],
            "ECONNREFUSED",
            true,
        ),
    ];
    for mode in [Mode::UserNs, Mode::Capable(&capable)] {
        for (app, extra, abstract_answer, reaches) in &runs {
            let mut vars = vec![("DISPLAY", x.1.as_str())];
            vars.extend(extra.iter().copied());
            let o = launch_with(&env, mode, RUNNER, app, &[&x.1[1..]], &vars);
            let out = ok(&o, app);
            let ctx = format!("{mode:?} {app} {extra:?}:\n{out}");
            assert!(
                out.contains(&format!("abstract={abstract_answer}\n")),
                "{ctx}"
            );
            if *reaches {
                assert!(out.contains("xcb=ok\nwidth=640\n"), "{ctx}");
            } else {
                // Without x11 confine does not pass DISPLAY (nor bind the socket file).
                assert!(out.contains("xcb=no-display\n"), "{ctx}");
            }
        }
    }
}
