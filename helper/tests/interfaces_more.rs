//! The interfaces of issue 15 (5) with their real effects, in the real sandbox: test snaps
//! installed through the helper and launched by confine as a user (user-namespace mode), as root,
//! and with file capabilities. snapd's `interfaces/builtin/<name>.go` is the reference for each.

mod common;

use std::collections::BTreeMap;

use common::sandbox::{self, Mode};
use common::{Env, RUNNER};

/// What the browser probe reports, `name=ok` or `name=EPERM`…
fn report(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What Chromium's and Firefox's sandboxes do at start: a child in new user, PID and network
/// namespaces; then this process in new user and mount namespaces, `chroot` there; and what must
/// stay refused even then (mount, setns).
const BROWSER_C: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *what, long r) {
    printf("%s=%s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
}

int main(void) {
    long c = syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0);
    if (c == 0) _exit(getpid() == 1 ? 0 : 3);
    int st = 0;
    if (c > 0) waitpid(c, &st, 0);
    report("clone-namespaces", c);
    if (c > 0) printf("child-was-pid-1=%s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "no");
    int ns = open("/proc/self/ns/net", O_RDONLY);
    long u = unshare(CLONE_NEWUSER | CLONE_NEWNS);
    report("unshare", u);
    if (u == 0) report("chroot", chroot("/"));
    report("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
    report("setns", setns(ns, 0));
    return 0;
}
"#;

fn browser_snap(work: &std::path::Path) -> std::path::PathBuf {
    let s = work.join("browser-probe");
    sandbox::write(
        &s.join("meta/snap.yaml"),
        "name: browser-probe\nversion: '1.0'\nsummary: Probes browser-support\nbase: shelf-base\n\
         plugs:\n  browser-sandbox:\n    interface: browser-support\n    allow-sandbox: true\n\
         apps:\n  sandboxed:\n    command: bin/probe\n    plugs: [browser-sandbox]\n  \
         plain:\n    command: bin/probe\n    plugs: [browser-support]\n  \
         none:\n    command: bin/probe\n",
        0o644,
    );
    sandbox::compile_static(BROWSER_C, work, &s.join("bin/probe"));
    sandbox::pack(&s, &work.join("browser-probe.snap"))
}

fn probe_in_every_mode(
    env: &Env,
    capable: &std::path::Path,
    app: &str,
) -> Vec<BTreeMap<String, String>> {
    [Mode::UserNs, Mode::Capable(capable), Mode::Root]
        .into_iter()
        .map(|mode| {
            let o = sandbox::launch_as(env, mode, RUNNER, &format!("browser-probe.{app}"), &[]);
            report(&sandbox::ok(&o, &format!("{app} in {mode:?}")))
        })
        .collect()
}

/// browser-support with `allow-sandbox: true` (snapd's `browserSupportConnectedPlugSecCompWithSandbox`):
/// namespaces, `unshare` and `chroot` allowed; mount and setns still refused. The plug waits for
/// a person (base declaration); a plain browser-support plug connects by itself and allows none
/// of it, and neither does an app without the plug.
#[test]
fn browser_support_allow_sandbox_lets_a_browser_make_its_sandbox() {
    if !common::require_root() {
        return;
    }
    common::runner();
    let (env, work, capable) = sandbox::setup();
    sandbox::install_file(&env, &browser_snap(work.path()));
    let c = sandbox::connected(&env, "browser-probe");
    assert_eq!(c.get("browser-sandbox"), Some(&false), "{c:?}");
    assert_eq!(c.get("browser-support"), Some(&true), "{c:?}");

    let closed = |r: &BTreeMap<String, String>, what: &str| {
        for call in ["clone-namespaces", "unshare", "mount", "setns"] {
            assert_eq!(r[call], "EPERM", "{what}: {call}: {r:?}");
        }
    };
    for app in ["sandboxed", "plain", "none"] {
        for r in probe_in_every_mode(&env, &capable, app) {
            closed(&r, &format!("{app} before connecting"));
        }
    }

    sandbox::switch(
        &env,
        "browser-probe",
        "browser-sandbox",
        "browser-support",
        true,
    );
    for r in probe_in_every_mode(&env, &capable, "sandboxed") {
        assert_eq!(r["clone-namespaces"], "ok", "{r:?}");
        assert_eq!(r["child-was-pid-1"], "yes", "{r:?}");
        assert_eq!(r["unshare"], "ok", "{r:?}");
        assert_eq!(r["chroot"], "ok", "{r:?}");
        // The kernel would allow these in the new namespaces: the filter still refuses them.
        assert_eq!(r["mount"], "EPERM", "{r:?}");
        assert_eq!(r["setns"], "EPERM", "{r:?}");
    }
    for app in ["plain", "none"] {
        for r in probe_in_every_mode(&env, &capable, app) {
            closed(&r, &format!("{app} with the other plug connected"));
        }
    }

    sandbox::switch(
        &env,
        "browser-probe",
        "browser-sandbox",
        "browser-support",
        false,
    );
    for r in probe_in_every_mode(&env, &capable, "sandboxed") {
        closed(&r, "sandboxed after disconnecting");
    }
}
