//! `snapshelfctl` against the real helper (real bus, polkitd, store): a whole install, refresh,
//! revert, remove, with `--json` and the documented exit codes.

mod common;

use std::process::{Command, Output};

use common::Env;
use serde_json::Value;

fn ctl_bin() -> std::path::PathBuf {
    common::workspace_bin("snapshelfctl", "snapshelfctl")
}

fn ctl(env: &Env, user: Option<&str>, args: &[&str]) -> Output {
    let mut c = match user {
        Some(u) => {
            let mut c = Command::new("runuser");
            c.args(["-u", u, "--"]).arg(ctl_bin());
            c
        }
        None => Command::new(ctl_bin()),
    };
    c.args(["--bus-address", &env.bus_address]).args(args);
    c.output().unwrap()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn installed_revision(env: &Env, name: &str) -> Option<String> {
    let list = json(&ctl(env, None, &["list", "--json"]));
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .map(|s| s["revision"].as_str().unwrap().to_string())
}

#[test]
fn snapshelfctl_drives_install_refresh_revert_remove() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();

    let found = json(&ctl(&env, None, &["find", "clock", "--json"]));
    assert!(
        found
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "shelf-clock"),
        "{found}"
    );
    let human = ctl(&env, None, &["find", "clock"]);
    assert!(
        String::from_utf8_lossy(&human.stdout).starts_with("Name"),
        "a table with headers"
    );

    let o = ctl(&env, None, &["install", "shelf-clock"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        installed_revision(&env, "shelf-clock").as_deref(),
        Some("1")
    );

    // Hold and switch, each seen by the helper; `run` starts an app in its sandbox on this root.
    let o = ctl(&env, None, &["hold", "shelf-clock"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(common::installed(&env)
        .iter()
        .any(|s| s.name == "shelf-clock" && s.held));
    let o = ctl(&env, None, &["unhold", "shelf-clock"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = ctl(&env, None, &["switch", "shelf-clock", "edge"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(common::installed(&env)
        .iter()
        .any(|s| s.name == "shelf-clock" && s.channel == "latest/edge" && s.revision == "1"));
    let o = ctl(&env, None, &["switch", "shelf-clock", "stable"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(ctl_bin())
        .args(["run", "shelf-clock.shelf-clock"])
        .env(
            "SNAPSHELF_CONFINE",
            common::workspace_bin("snapshelf-confine", "snapshelf-confine"),
        )
        .env("SNAPSHELF_ROOT", &env.root)
        .current_dir("/")
        .output()
        .unwrap();
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).starts_with("It is "),
        "run: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let o = ctl(
        &env,
        None,
        &["--json", "refresh", "shelf-clock", "--channel", "candidate"],
    );
    assert!(o.status.success());
    assert_eq!(json(&o)["status"], "Done");
    assert_eq!(
        installed_revision(&env, "shelf-clock").as_deref(),
        Some("2")
    );
    let o = ctl(&env, None, &["revert", "shelf-clock"]);
    assert!(o.status.success());
    assert_eq!(
        installed_revision(&env, "shelf-clock").as_deref(),
        Some("1")
    );
    let info = json(&ctl(&env, None, &["info", "shelf-clock", "--json"]));
    assert_eq!(info["installed-revision"], "1");
    let conns = json(&ctl(&env, None, &["connections", "shelf-clock", "--json"]));
    assert!(conns.as_array().is_some());

    // --no-wait prints the change; watch follows it.
    let o = ctl(
        &env,
        None,
        &["remove", "shelf-clock", "--no-wait", "--json"],
    );
    assert!(o.status.success());
    let path = json(&o)["change"].as_str().unwrap().to_string();
    let o = ctl(&env, None, &["watch", &path]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(installed_revision(&env, "shelf-clock"), None);
    let changes = json(&ctl(&env, None, &["changes", "--json"]));
    assert!(changes.as_array().unwrap().len() >= 4);

    // Errors by kind, in plain words, with their exit codes.
    let o = ctl(&env, None, &["install", "no-such-snap-anywhere"]);
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("There is no such snap"));
    let o = ctl(&env, None, &["--json", "revert", "shelf-clock"]);
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(json(&o)["error-kind"], "not-installed");
    let o = ctl(&env, Some(common::DENIED), &["install", "shelf-hello"]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("not allowed"));
    let o = ctl(&env, None, &["connect", "nocolon"]);
    assert_eq!(o.status.code(), Some(2));
    // Options that do not apply are refused, not ignored.
    let o = ctl(&env, None, &["install", "shelf-hello", "--unsigned"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--unsigned"));
    let o = ctl(
        &env,
        None,
        &["install", "./shelf-hello_1.snap", "--channel", "edge"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(installed_revision(&env, "shelf-hello"), None);

    // In German, French and Spanish.
    let locale = env.dir.path().join("locale");
    common::compile_translations(&locale);
    for (lang, words) in [
        (
            "de",
            "Fehler: Diesen Snap, Anschluss oder Steckplatz gibt es nicht.",
        ),
        (
            "fr",
            "erreur : Ce snap, ce connecteur ou cet emplacement n’existe pas.",
        ),
        ("es", "error: No existe ese snap, conector o ranura."),
    ] {
        let o = Command::new(ctl_bin())
            .args([
                "--bus-address",
                &env.bus_address,
                "install",
                "no-such-snap-anywhere",
            ])
            .env("SNAPSHELF_LOCALEDIR", &locale)
            .env("LANG", "C.UTF-8")
            .env("LANGUAGE", lang)
            .env_remove("LC_ALL")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(4));
        assert!(
            String::from_utf8_lossy(&o.stderr).starts_with(words),
            "{lang}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
