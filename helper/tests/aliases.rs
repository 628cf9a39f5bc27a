//! Aliases, `assumes` and what goes with them, end to end: the real helper, bus, polkitd and
//! snapshelf-store, with test snaps packed here from the files the tests write.
//!
//! Follows snapd's spread tests `tests/main/alias`, `tests/main/auto-aliases` and
//! `tests/main/snap-run-alias` (with its test snaps `tests/lib/snaps/aliases` and
//! `test-snapd-auto-aliases`), and `overlord/snapstate/check_snap.go` for `assumes`.

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{blobs, installed, kind_of, Env};
use snapshelf_dbus::types::Dict;
use snapshelf_dbus::ErrorKind;
use zbus::zvariant::{OwnedValue, Value};

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn opts(pairs: &[(&str, Value<'_>)]) -> Dict {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), OwnedValue::try_from(v.clone()).unwrap()))
        .collect()
}

/// A snap tree with `yaml` as its snap.yaml and `bin/<cmd>` scripts that say `ok <cmd>`, packed to
/// `out`.
fn pack_snap(work: &Path, yaml: &str, cmds: &[&str], out: &Path) -> PathBuf {
    let src = work.join(format!(
        "src-{}",
        out.file_stem().unwrap().to_string_lossy()
    ));
    write(&src.join("meta/snap.yaml"), yaml, 0o644);
    for c in cmds {
        write(
            &src.join("bin").join(c),
            &format!("#!/bin/sh\necho \"ok {c} $*\"\n"),
            0o755,
        );
    }
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    snapshelf_snap::squashfs::pack(&src, out, &Default::default()).unwrap();
    out.to_path_buf()
}

/// The sample catalog with more snaps: `(name, channels TOML, extra catalog keys)`; their files
/// must already be in `dir/snaps/`.
fn add_to_catalog(dir: &Path, snaps: &[(&str, &str, &str)]) {
    let mut toml = std::fs::read_to_string(dir.join("catalog.toml")).unwrap();
    for (name, channels, extra) in snaps {
        toml.push_str(&format!(
            "\n[[snap]]\nname = \"{name}\"\npublisher = \"netcraft\"\ncategories = \
             [\"development\"]\nlicense = \"MIT\"\nchannels = {channels}\n{extra}\n"
        ));
    }
    std::fs::write(dir.join("catalog.toml"), toml).unwrap();
}

fn install_file(env: &Env, path: &Path) -> zbus::Result<zbus::zvariant::OwnedObjectPath> {
    let f = std::fs::File::open(path).unwrap();
    env.proxy().install_file(
        zbus::zvariant::OwnedFd::from(OwnedFd::from(f)),
        opts(&[("unsigned", Value::from(true))]),
    )
}

const NEEDY_1: &str = "name: shelf-needy\nversion: '1'\nsummary: Assumes what Snapshelf has\n\
    base: shelf-base\nassumes: [command-chain, common-data-dir, snapd2.30]\n\
    apps:\n  needy:\n    command: bin/needy\n";
const NEEDY_2: &str = "name: shelf-needy\nversion: '2'\nsummary: Assumes more\n\
    base: shelf-base\nassumes: [command-chain, snapd99.1, kernel-assets]\n\
    apps:\n  needy:\n    command: bin/needy\n";

/// `assumes` (snapd's `checkAssumes`): a revision that needs features Snapshelf lacks is refused
/// with `AssumesNotMet` naming them: at install before anything is downloaded, at refresh (the
/// installed revision stays), and for a file; one whose features are all there installs.
#[test]
fn unmet_assumes_are_refused_with_the_features_named() {
    if !common::require_root() {
        return;
    }
    let catalog = tempfile::tempdir().unwrap();
    common::copy_dir(common::catalog(), catalog.path());
    let work = tempfile::tempdir().unwrap();
    let snaps = catalog.path().join("snaps");
    pack_snap(
        work.path(),
        NEEDY_1,
        &["needy"],
        &snaps.join("shelf-needy_1.snap"),
    );
    let needy2 = pack_snap(
        work.path(),
        NEEDY_2,
        &["needy"],
        &snaps.join("shelf-needy_2.snap"),
    );
    add_to_catalog(
        catalog.path(),
        &[(
            "shelf-needy",
            "{ \"latest/stable\" = 1, \"latest/edge\" = 2 }",
            "",
        )],
    );
    let mut env = Env::with_catalog(catalog.path());
    env.start_helper();
    let h = env.proxy();

    let e = h
        .install(&["shelf-needy"], opts(&[("channel", Value::from("edge"))]))
        .unwrap_err();
    let (kind, message) = snapshelf_dbus::error::classify(&e);
    assert_eq!(kind, ErrorKind::AssumesNotMet, "{message}");
    assert!(message.contains("snapd99.1, kernel-assets"), "{message}");
    assert!(message.contains("assumes"), "{message}");
    let unmet = message.split(" (meta/snap.yaml").next().unwrap();
    assert!(!unmet.contains("command-chain"), "{message}");
    assert!(message.contains("field \"assumes\""), "{message}");
    assert!(installed(&env).is_empty());
    assert!(blobs(&env).is_empty(), "downloaded: {:?}", blobs(&env));

    // A file is held to the same.
    let e = install_file(&env, &needy2).unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::AssumesNotMet);
    assert!(installed(&env).is_empty());
    assert!(blobs(&env).is_empty(), "left: {:?}", blobs(&env));

    // What Snapshelf has installs; a refresh to what it lacks is refused and changes nothing.
    env.done(h.install(&["shelf-needy"], Dict::new()));
    let e = h
        .refresh(&["shelf-needy"], opts(&[("channel", Value::from("edge"))]))
        .unwrap_err();
    let (kind, message) = snapshelf_dbus::error::classify(&e);
    assert_eq!(kind, ErrorKind::AssumesNotMet, "{message}");
    assert_eq!(env.link("snap/shelf-needy/current").as_deref(), Some("1"));
    assert!(!blobs(&env).iter().any(|b| b == "shelf-needy_2.snap"));
}

fn ctl(env: &Env, user: Option<&str>, args: &[&str]) -> std::process::Output {
    let bin = common::workspace_bin("snapshelfctl", "snapshelfctl");
    let mut c = match user {
        Some(u) => {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", u, "--"]).arg(bin);
            c
        }
        None => std::process::Command::new(bin),
    };
    c.args(["--bus-address", &env.bus_address]).args(args);
    c.output().unwrap()
}

fn ok_text(o: &std::process::Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: {:?}\n{}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The helper with launchers that run the confine built here (the tests' usual command with its
/// `--confine` replaced), so that `/snap/bin` commands and aliases run as a person runs them.
fn start_helper_with_confine(env: &mut Env) {
    let confine = common::workspace_bin("snapshelf-confine", "snapshelf-confine");
    let usual = env.helper_command();
    let mut c = std::process::Command::new(usual.get_program());
    let mut args = usual.get_args();
    while let Some(a) = args.next() {
        c.arg(a);
        if a == "--confine" {
            args.next();
            c.arg(&confine);
        }
    }
    c.envs(usual.get_envs().filter_map(|(k, v)| Some((k, v?))));
    env.helper = Some(c.stdout(std::process::Stdio::null()).spawn().unwrap());
    let start = std::time::Instant::now();
    while !common::name_has_owner(&env.bus_address, "io.github.snapshelf.Helper1") {
        assert!(start.elapsed().as_secs() < 30, "the helper did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Run `/snap/bin/<command>` (a launcher or an alias) as root; its output.
fn run_command(env: &Env, command: &str) -> String {
    let path = env.root.join("snap/bin").join(command);
    let out = std::process::Command::new(&path)
        .current_dir("/")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ok_text(&out, command)
}

/// snapd's `tests/lib/snaps/aliases` (cmd1, cmd2 say "ok command N"), with `version`.
fn aliases_snap(work: &Path, version: &str, out: &Path) -> PathBuf {
    let yaml = format!(
        "name: aliases\nversion: '{version}'\nsummary: snapd's alias test snap\nbase: shelf-base\n\
         apps:\n  cmd1:\n    command: bin/cmd1\n    aliases: [alias1]\n  cmd2:\n    command: bin/cmd2\n    \
         aliases: [alias2]\n"
    );
    let p = pack_snap(work, &yaml, &[], out);
    // snapd's scripts say exactly this.
    let src = work.join(format!(
        "src-{}",
        out.file_stem().unwrap().to_string_lossy()
    ));
    for n in ["1", "2"] {
        write(
            &src.join(format!("bin/cmd{n}")),
            &format!("#!/bin/sh\necho \"ok command {n}\"\n"),
            0o755,
        );
    }
    std::fs::remove_file(&p).unwrap();
    snapshelf_snap::squashfs::pack(&src, out, &Default::default()).unwrap();
    p
}

fn alias_rows(env: &Env) -> Vec<(String, String, String, bool)> {
    let mut rows: Vec<_> = env
        .proxy()
        .aliases()
        .unwrap()
        .iter()
        .map(|d| {
            let a = snapshelf_dbus::types::AliasInfo::from_dict(d).unwrap();
            (a.snap, a.app, a.alias, a.auto)
        })
        .collect();
    rows.sort();
    rows
}

fn refused(e: zbus::Error, kind: ErrorKind, words: &[&str]) {
    let (k, message) = snapshelf_dbus::error::classify(&e);
    assert_eq!(k, kind, "{message}");
    for w in words {
        assert!(message.contains(w), "{w:?} in {message}");
    }
}

/// snapd's `tests/main/alias`, with `snapshelfctl alias/unalias/aliases`: manual aliases made,
/// listed, run, removed one by one and all at once, kept across a refresh, gone with the snap.
#[test]
fn manual_aliases_as_snapds_alias_test() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    start_helper_with_confine(&mut env);
    let work = tempfile::tempdir().unwrap();
    env.done(env.proxy().install(&["shelf-base"], Dict::new()));
    env.done(install_file(
        &env,
        &aliases_snap(work.path(), "1", &work.path().join("aliases_1.snap")),
    ));
    assert_eq!(run_command(&env, "aliases.cmd1").trim(), "ok command 1");
    assert_eq!(run_command(&env, "aliases.cmd2").trim(), "ok command 2");
    // snap.yaml's own `aliases:` enable nothing by themselves (as in snapd).
    assert!(alias_rows(&env).is_empty());

    let out = ok_text(
        &ctl(&env, None, &["alias", "aliases.cmd1", "alias1"]),
        "alias",
    );
    assert!(out.contains("Added:\n  - aliases.cmd1 as alias1"), "{out}");
    ok_text(
        &ctl(&env, None, &["alias", "aliases.cmd2", "alias2"]),
        "alias",
    );
    let bin = env.root.join("snap/bin");
    for (alias, target) in [("alias1", "aliases.cmd1"), ("alias2", "aliases.cmd2")] {
        assert_eq!(
            std::fs::read_link(bin.join(alias)).unwrap(),
            Path::new(target)
        );
    }
    assert_eq!(run_command(&env, "alias1").trim(), "ok command 1");
    assert_eq!(run_command(&env, "alias2").trim(), "ok command 2");
    let list = ok_text(&ctl(&env, None, &["aliases"]), "aliases");
    let lines: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["Command", "Alias", "Notes"]);
    assert!(
        lines.contains(&vec!["aliases.cmd1", "alias1", "manual"]),
        "{list}"
    );
    assert!(
        lines.contains(&vec!["aliases.cmd2", "alias2", "manual"]),
        "{list}"
    );

    let out = ok_text(&ctl(&env, None, &["unalias", "alias2"]), "unalias");
    assert!(
        out.contains("Removed:\n  - aliases.cmd2 as alias2"),
        "{out}"
    );
    assert!(bin.join("alias2").symlink_metadata().is_err());
    assert_eq!(run_command(&env, "alias1").trim(), "ok command 1");
    assert_eq!(
        alias_rows(&env),
        [("aliases".into(), "cmd1".into(), "alias1".into(), false)]
    );

    // Unalias of the snap: every alias of it goes.
    let out = ok_text(&ctl(&env, None, &["unalias", "aliases"]), "unalias all");
    assert!(out.contains("aliases.cmd1 as alias1"), "{out}");
    assert!(bin.join("alias1").symlink_metadata().is_err());
    assert!(alias_rows(&env).is_empty());
    let none = ctl(&env, None, &["aliases"]);
    assert!(String::from_utf8_lossy(&none.stderr).contains("No aliases are currently defined."));

    // Recreated, it survives a refresh to a new revision.
    env.done(env.proxy().alias("aliases.cmd1", "alias1"));
    env.done(install_file(
        &env,
        &aliases_snap(work.path(), "2", &work.path().join("aliases_2.snap")),
    ));
    assert_eq!(env.link("snap/aliases/current").as_deref(), Some("x2"));
    assert_eq!(run_command(&env, "alias1").trim(), "ok command 1");

    // Removing the snap removes its aliases.
    let c = env
        .proxy()
        .remove(&["aliases"], opts(&[("purge", Value::from(true))]));
    env.done(c);
    assert!(bin.join("alias1").symlink_metadata().is_err());
    assert!(alias_rows(&env).is_empty());
}

/// Bad input: an invalid alias name, an alias that takes another snap's command (or its own
/// namespace), another snap's alias, or a command on the system's PATH, an app that does not
/// exist, a caller polkit refuses: each refused with the owner or field named, nothing written.
#[test]
fn conflicting_and_invalid_aliases_are_refused() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    let work = tempfile::tempdir().unwrap();
    env.done(env.proxy().install(&["shelf-base"], Dict::new()));
    env.done(install_file(
        &env,
        &aliases_snap(work.path(), "1", &work.path().join("aliases_1.snap")),
    ));
    let other = "name: other-tool\nversion: '1'\nsummary: another snap\nbase: shelf-base\n\
                 apps:\n  other-tool:\n    command: bin/t\n  run:\n    command: bin/t\n";
    env.done(install_file(
        &env,
        &pack_snap(work.path(), other, &["t"], &work.path().join("other.snap")),
    ));
    env.done(env.proxy().alias("other-tool.run", "shared"));
    let bin = env.root.join("snap/bin");
    let listing = |bin: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(bin)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let before = listing(&bin);
    let h = env.proxy();
    let ls = SYSTEM_LS.iter().find(|p| Path::new(p).exists()).copied();
    for (alias, kind, words) in [
        (
            "bad/name",
            ErrorKind::InvalidArgument,
            vec!["invalid alias name"],
        ),
        (
            ".hidden",
            ErrorKind::InvalidArgument,
            vec!["invalid alias name"],
        ),
        (
            "other-tool",
            ErrorKind::InvalidArgument,
            vec!["command namespace of installed snap \"other-tool\""],
        ),
        (
            "other-tool.run",
            ErrorKind::InvalidArgument,
            vec!["installed snap \"other-tool\""],
        ),
        (
            "aliases.x",
            ErrorKind::InvalidArgument,
            vec!["installed snap \"aliases\""],
        ),
        (
            "shared",
            ErrorKind::InvalidArgument,
            vec!["\"shared\"", "already enabled for \"other-tool\""],
        ),
    ] {
        refused(h.alias("aliases.cmd1", alias).unwrap_err(), kind, &words);
    }
    if let Some(ls) = ls {
        refused(
            h.alias("aliases.cmd1", "ls").unwrap_err(),
            ErrorKind::InvalidArgument,
            &["system command", ls],
        );
    }
    refused(
        h.alias("aliases.nope", "fine").unwrap_err(),
        ErrorKind::NotFound,
        &["target application \"nope\" does not exist"],
    );
    refused(
        h.alias("missing.cmd1", "fine").unwrap_err(),
        ErrorKind::NotInstalled,
        &[],
    );
    refused(
        h.unalias("never-made").unwrap_err(),
        ErrorKind::NotFound,
        &["cannot find manual alias \"never-made\""],
    );
    // Polkit: the denied user may not, the granted one may.
    let denied = ctl(
        &env,
        Some(common::DENIED),
        &["alias", "aliases.cmd1", "fine"],
    );
    assert_eq!(denied.status.code(), Some(3), "{denied:?}");
    assert_eq!(listing(&bin), before, "nothing written for a refused alias");
    assert!(alias_rows(&env).iter().all(|r| r.2 != "fine"));
    ok_text(
        &ctl(
            &env,
            Some(common::GRANTED),
            &["alias", "aliases.cmd1", "fine"],
        ),
        "granted alias",
    );

    // A snap whose name is another snap's alias is not installed over it.
    let shadow = "name: fine\nversion: '1'\nsummary: named like an alias\nbase: shelf-base\n\
                  apps:\n  fine:\n    command: bin/f\n";
    let c = install_file(
        &env,
        &pack_snap(work.path(), shadow, &["f"], &work.path().join("fine.snap")),
    )
    .unwrap();
    let (status, kind, err) = env.wait_change(c.as_str());
    assert_eq!(
        (status.as_str(), kind.as_str()),
        ("Error", "invalid-argument")
    );
    assert!(
        err.contains("conflicts with alias \"fine\" for \"aliases\""),
        "{err}"
    );
    assert!(!installed(&env).iter().any(|s| s.name == "fine"));
    assert_eq!(
        std::fs::read_link(bin.join("fine")).unwrap(),
        Path::new("aliases.cmd1")
    );
}

const SYSTEM_LS: &[&str] = &["/usr/bin/ls", "/bin/ls"];

/// snapd's `tests/main/auto-aliases` with its `test-snapd-auto-aliases` snap: the store's
/// snap-declaration grants aliases (the older `auto-aliases` header, resolved through snap.yaml's
/// `aliases:`; and the `aliases` header's name/target maps); they are made at install, listed as
/// automatic, disabled by `unalias SNAP`, gone at remove. A snap whose granted alias is another's
/// is not installed.
#[test]
fn automatic_aliases_come_from_the_snap_declaration() {
    if !common::require_root() {
        return;
    }
    let catalog = tempfile::tempdir().unwrap();
    common::copy_dir(common::catalog(), catalog.path());
    let work = tempfile::tempdir().unwrap();
    let snaps = catalog.path().join("snaps");
    let auto =
        "name: test-snapd-auto-aliases\nversion: '1.0'\nsummary: snapd's auto-aliases snap\n\
                base: shelf-base\napps:\n  wellknown1:\n    command: bin/wellknown1\n    \
                aliases: [test_snapd_wellknown1]\n  wellknown2:\n    command: bin/wellknown2\n    \
                aliases: [test_snapd_wellknown2]\n";
    pack_snap(
        work.path(),
        auto,
        &["wellknown1", "wellknown2"],
        &snaps.join("test-snapd-auto-aliases_1.snap"),
    );
    let granted = "name: shelf-granted\nversion: '1'\nsummary: aliases header\nbase: shelf-base\n\
                   apps:\n  tool:\n    command: bin/tool\n";
    pack_snap(
        work.path(),
        granted,
        &["tool"],
        &snaps.join("shelf-granted_1.snap"),
    );
    let granted2 = granted.replace("version: '1'", "version: '2'");
    pack_snap(
        work.path(),
        &granted2,
        &["tool"],
        &snaps.join("shelf-granted_2.snap"),
    );
    let greedy = "name: shelf-greedy\nversion: '1'\nsummary: wants a taken alias\n\
                  base: shelf-base\napps:\n  grab:\n    command: bin/grab\n";
    pack_snap(
        work.path(),
        greedy,
        &["grab"],
        &snaps.join("shelf-greedy_1.snap"),
    );
    add_to_catalog(
        catalog.path(),
        &[
            (
                "test-snapd-auto-aliases",
                "{ \"latest/stable\" = 1 }",
                "auto-aliases = [\"test_snapd_wellknown1\", \"test_snapd_wellknown2\", \"not_in_yaml\"]",
            ),
            (
                "shelf-granted",
                "{ \"latest/stable\" = 1, \"latest/edge\" = 2 }",
                "aliases = { gtool = \"tool\", ghost = \"no-such-app\" }",
            ),
            (
                "shelf-greedy",
                "{ \"latest/stable\" = 1 }",
                "aliases = { gtool = \"grab\" }",
            ),
        ],
    );
    let mut env = Env::with_catalog(catalog.path());
    env.start_helper();
    let h = env.proxy();
    env.done(h.install(&["test-snapd-auto-aliases", "shelf-granted"], Dict::new()));
    let bin = env.root.join("snap/bin");
    for (alias, target) in [
        (
            "test_snapd_wellknown1",
            "test-snapd-auto-aliases.wellknown1",
        ),
        (
            "test_snapd_wellknown2",
            "test-snapd-auto-aliases.wellknown2",
        ),
        ("gtool", "shelf-granted.tool"),
    ] {
        assert_eq!(
            std::fs::read_link(bin.join(alias)).unwrap(),
            Path::new(target),
            "{alias}"
        );
    }
    assert!(bin.join("not_in_yaml").symlink_metadata().is_err());
    assert!(bin.join("ghost").symlink_metadata().is_err());
    let list = ok_text(&ctl(&env, None, &["aliases"]), "aliases");
    let lines: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(lines.contains(&vec![
        "test-snapd-auto-aliases.wellknown1",
        "test_snapd_wellknown1",
        "-"
    ]));
    assert!(
        lines.contains(&vec!["shelf-granted.tool", "gtool", "-"]),
        "{list}"
    );

    // Another snap granted the same alias is refused, naming the owner; nothing of it stays.
    let c = h.install(&["shelf-greedy"], Dict::new()).unwrap();
    let (status, kind, err) = env.wait_change(c.as_str());
    assert_eq!(
        (status.as_str(), kind.as_str()),
        ("Error", "invalid-argument")
    );
    assert!(
        err.contains("already enabled for \"shelf-granted\""),
        "{err}"
    );
    assert!(!installed(&env).iter().any(|s| s.name == "shelf-greedy"));
    assert!(!env.is_mounted("snap/shelf-greedy/1"));
    assert_eq!(
        std::fs::read_link(bin.join("gtool")).unwrap(),
        Path::new("shelf-granted.tool")
    );

    // A refresh from the store keeps the automatic alias and a manual one.
    env.done(h.alias("shelf-granted.tool", "gtool-manual"));
    env.done(h.refresh(
        &["shelf-granted"],
        opts(&[("channel", Value::from("edge"))]),
    ));
    assert_eq!(env.link("snap/shelf-granted/current").as_deref(), Some("2"));
    for alias in ["gtool", "gtool-manual"] {
        assert_eq!(
            std::fs::read_link(bin.join(alias)).unwrap(),
            Path::new("shelf-granted.tool"),
            "{alias}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_slice(&ctl(&env, None, &["aliases", "shelf-granted", "--json"]).stdout)
            .unwrap();
    let mut listed: Vec<(String, bool)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["alias"].as_str().unwrap().to_string(),
                a["auto"].as_bool().unwrap(),
            )
        })
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            ("gtool".to_string(), true),
            ("gtool-manual".to_string(), false)
        ]
    );

    // Unalias of the snap disables its automatic aliases; a manual one of the same name wins.
    env.done(h.unalias("test-snapd-auto-aliases"));
    assert!(bin
        .join("test_snapd_wellknown1")
        .symlink_metadata()
        .is_err());
    env.done(h.alias(
        "test-snapd-auto-aliases.wellknown2",
        "test_snapd_wellknown1",
    ));
    assert_eq!(
        std::fs::read_link(bin.join("test_snapd_wellknown1")).unwrap(),
        Path::new("test-snapd-auto-aliases.wellknown2")
    );

    // Removing the snaps removes their aliases.
    env.done(h.remove(&["test-snapd-auto-aliases", "shelf-granted"], Dict::new()));
    for alias in ["test_snapd_wellknown1", "test_snapd_wellknown2", "gtool"] {
        assert!(bin.join(alias).symlink_metadata().is_err(), "{alias}");
    }
    assert!(alias_rows(&env).is_empty());
}

/// The alias in the state and the link on disk agree: both there (pointing at `target`) or neither.
fn alias_consistent(env: &Env, alias: &str, target: &str, run: usize) -> bool {
    let listed = alias_rows(env).iter().any(|r| r.2 == alias);
    let link = std::fs::read_link(env.root.join("snap/bin").join(alias)).ok();
    match link {
        Some(t) => {
            assert!(listed, "run {run}: a link without its alias");
            assert_eq!(t, Path::new(target), "run {run}");
        }
        None => assert!(!listed, "run {run}: an alias without its link"),
    }
    listed
}

/// SIGKILL of the helper right after each task status an Alias, then an Unalias change records
/// (the debug build's `SNAPSHELF_CRASH_AFTER`): the restarted helper settles the change, and the
/// state and `/snap/bin` agree.
#[test]
fn a_crash_during_alias_or_unalias_leaves_state_and_links_in_agreement() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    env.start_helper();
    let work = tempfile::tempdir().unwrap();
    env.done(env.proxy().install(&["shelf-base"], Dict::new()));
    env.done(install_file(
        &env,
        &aliases_snap(work.path(), "1", &work.path().join("aliases_1.snap")),
    ));
    for unalias in [false, true] {
        let mut crashed_runs = 0;
        for n in 1..20 {
            // Start from the state the operation expects.
            let has = alias_consistent(&env, "alias1", "aliases.cmd1", n);
            if unalias && !has {
                env.done(env.proxy().alias("aliases.cmd1", "alias1"));
            } else if !unalias && has {
                env.done(env.proxy().unalias("alias1"));
            }
            env.kill_helper();
            env.start_helper_with(&[("SNAPSHELF_CRASH_AFTER", &n.to_string())]);
            let started = if unalias {
                env.proxy().unalias("alias1")
            } else {
                env.proxy().alias("aliases.cmd1", "alias1")
            };
            let t = std::time::Instant::now();
            let crashed = loop {
                if env.helper_exited() {
                    break true;
                }
                if let Ok(c) = &started {
                    let ready =
                        snapshelf_dbus::proxy::Change1ProxyBlocking::builder(&env.connection())
                            .path(c.as_str().to_string())
                            .unwrap()
                            .cache_properties(zbus::proxy::CacheProperties::No)
                            .build()
                            .and_then(|c| c.ready());
                    if let Ok(true) = ready {
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        break env.helper_exited();
                    }
                }
                assert!(
                    t.elapsed().as_secs() < 30,
                    "run {n} neither ended nor crashed"
                );
                std::thread::sleep(std::time::Duration::from_millis(10));
            };
            env.kill_helper();
            env.start_helper();
            alias_consistent(&env, "alias1", "aliases.cmd1", n);
            if !crashed {
                break;
            }
            crashed_runs += 1;
        }
        assert!(
            crashed_runs >= 2,
            "unalias={unalias}: only {crashed_runs} boundaries"
        );
    }
}
