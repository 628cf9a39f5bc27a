//! The environment an app starts with (reference: snapd's snapenv and snap-exec): the caller's
//! variables minus the unsafe ones, the `SNAP_*` set, then the snap's own `environment:` entries,
//! global first, each expanded against what came before.

use std::collections::BTreeMap;

use snapshelf_snap::profile::Profile;

/// Facts about the caller that the environment is made from.
#[derive(Debug, Clone)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    /// The home directory from the password database (never `$HOME`).
    pub home: String,
}

/// Where the snap's files are, as the app sees them.
#[derive(Debug, Clone)]
pub struct SnapPaths {
    pub snap: String,
    pub data: String,
    pub common: String,
    pub user_data: String,
    pub user_common: String,
    pub runtime_dir: String,
}

impl SnapPaths {
    pub fn new(mount_dir: &str, profile: &Profile, user: &User) -> SnapPaths {
        let (name, rev) = (&profile.snap, &profile.revision);
        SnapPaths {
            snap: format!("{mount_dir}/{name}/{rev}"),
            data: format!("/var/snap/{name}/{rev}"),
            common: format!("/var/snap/{name}/common"),
            user_data: format!("{}/snap/{name}/{rev}", user.home.trim_end_matches('/')),
            user_common: format!("{}/snap/{name}/common", user.home.trim_end_matches('/')),
            runtime_dir: format!("/run/user/{}/snap.{name}", user.uid),
        }
    }
}

/// Variables the dynamic loader or libc would act on, which must not reach a program from outside
/// (glibc's list of unsecure variables, every `LD_*`), and the caller's own `SNAP*`.
fn is_unsafe(name: &str) -> bool {
    name.starts_with("LD_")
        || name.starts_with("SNAP")
        || snapshelf_snap::saved_env::UNSAFE_ENV.contains(&name)
}

/// Display variables pass only with the interface that grants the display.
const DISPLAY_VARS: &[(&str, &str)] = &[
    ("DISPLAY", "x11"),
    ("XAUTHORITY", "x11"),
    ("WAYLAND_DISPLAY", "wayland"),
];

pub const PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/games:/usr/local/games";

/// Expand `$NAME` and `${NAME}` from `env`; unknown names expand to nothing, as in snap-exec.
pub fn expand(value: &str, env: &BTreeMap<String, String>) -> String {
    let b = value.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            let (name, next) = if b[i + 1] == b'{' {
                match value[i + 2..].find('}') {
                    Some(end) => (&value[i + 2..i + 2 + end], i + 3 + end),
                    None => (&value[i..i + 1], i + 1),
                }
            } else {
                let len = value[i + 1..]
                    .bytes()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    .count();
                (&value[i + 1..i + 1 + len], i + 1 + len)
            };
            if next > i + 1 && !name.is_empty() && name != "$" {
                out.push_str(env.get(name).map(String::as_str).unwrap_or(""));
                i = next;
                continue;
            }
        }
        let ch = value[i..].chars().next().unwrap_or('$');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// The whole environment of the app.
pub fn build(
    caller: impl IntoIterator<Item = (String, String)>,
    profile: &Profile,
    paths: &SnapPaths,
    user: &User,
    extra: &[(String, String)],
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = caller
        .into_iter()
        .filter(|(k, _)| !is_unsafe(k))
        .filter(|(k, _)| {
            DISPLAY_VARS
                .iter()
                .all(|(var, iface)| k != var || profile.plug_connected(iface))
        })
        .collect();
    let s = |v: &str| v.to_string();
    let set = [
        ("SNAP", s(&paths.snap)),
        ("SNAP_COMMON", s(&paths.common)),
        ("SNAP_DATA", s(&paths.data)),
        ("SNAP_NAME", s(&profile.snap)),
        ("SNAP_INSTANCE_NAME", s(&profile.snap)),
        ("SNAP_INSTANCE_KEY", String::new()),
        ("SNAP_VERSION", s(&profile.snap_version)),
        ("SNAP_REVISION", s(&profile.revision)),
        ("SNAP_ARCH", s(&profile.architecture)),
        (
            "SNAP_LIBRARY_PATH",
            s("/var/lib/snapd/lib/gl:/var/lib/snapd/lib/gl32"),
        ),
        ("SNAP_REEXEC", String::new()),
        ("SNAP_UID", user.uid.to_string()),
        ("SNAP_EUID", user.euid.to_string()),
        ("SNAP_APP_NAME", s(&profile.app)),
        ("SNAP_USER_DATA", s(&paths.user_data)),
        ("SNAP_USER_COMMON", s(&paths.user_common)),
        ("SNAP_REAL_HOME", s(&user.home)),
        ("HOME", s(&paths.user_data)),
        ("XDG_RUNTIME_DIR", s(&paths.runtime_dir)),
        (
            "PATH",
            format!(
                "{0}/usr/sbin:{0}/usr/bin:{0}/sbin:{0}/bin:{PATH}",
                paths.snap
            ),
        ),
        ("SHELL", s("/bin/sh")),
        ("TMPDIR", s("/tmp")),
        ("TEMPDIR", s("/tmp")),
    ];
    for (k, v) in set {
        env.insert(k.to_string(), v);
    }
    // What the sandbox's interfaces put in place (the display and sound sockets' paths).
    for (k, v) in extra {
        env.insert(k.clone(), v.clone());
    }
    for (k, v) in &profile.environment {
        let value = expand(v, &env);
        env.insert(k.clone(), value);
    }
    env
}

/// A classic snap's environment, as `snap run` makes it for one (snapd's `snapenv`): the
/// caller's variables as they are (`HOME`, `PATH`, the display, the bus…), the caller's own
/// `SNAP*` aside (its `SNAP_SAVED_<NAME>` loader variables back under their names), with the
/// `SNAP_*` set and `XDG_RUNTIME_DIR` added; then the snap's
/// `environment:` entries, expanded against that.
pub fn build_classic(
    caller: impl IntoIterator<Item = (String, String)>,
    profile: &Profile,
    paths: &SnapPaths,
    user: &User,
) -> BTreeMap<String, String> {
    let strict = build(std::iter::empty(), profile, paths, user, &[]);
    let own: Vec<&String> = profile.environment.iter().map(|(k, _)| k).collect();
    let caller: Vec<(String, String)> = caller.into_iter().collect();
    let mut env: BTreeMap<String, String> = caller
        .iter()
        .filter(|(k, _)| !k.starts_with("SNAP"))
        .cloned()
        .collect();
    // What secure mode took from a launcher with file capabilities, saved by what started it
    // (`snapshelf_snap::saved_env`), under its own name again, as snap-exec gives it back.
    for (k, v) in &caller {
        if let Some(name) = snapshelf_snap::saved_env::restored_name(k) {
            env.insert(name.to_string(), v.clone());
        }
    }
    for (k, v) in strict {
        if (k.starts_with("SNAP") || k == "XDG_RUNTIME_DIR") && !own.contains(&&k) {
            env.insert(k, v);
        }
    }
    for (k, v) in &profile.environment {
        let value = expand(v, &env);
        env.insert(k.clone(), value);
    }
    env
}

/// The command line to execute: the command chain, then the command, then the caller's arguments.
/// Every entry of the chain and the command's program are under `$SNAP`; the command's arguments
/// are expanded.
pub fn argv(
    profile: &Profile,
    snap_dir: &str,
    env: &BTreeMap<String, String>,
    args: &[String],
) -> Vec<String> {
    let mut out: Vec<String> = profile
        .command_chain
        .iter()
        .map(|c| format!("{snap_dir}/{}", c.trim_start_matches('/')))
        .collect();
    let mut command = profile.command.iter();
    if let Some(program) = command.next() {
        out.push(format!("{snap_dir}/{}", program.trim_start_matches('/')));
    }
    out.extend(command.map(|a| expand(a, env)));
    out.extend(args.iter().cloned());
    out
}

/// The command line of `--shell`: the command chain, then `shell` (instead of the app's command),
/// then the caller's arguments, as snapd's `snap run --shell` runs the chain and then a shell.
pub fn shell_argv(profile: &Profile, snap_dir: &str, shell: &str, args: &[String]) -> Vec<String> {
    let mut out: Vec<String> = profile
        .command_chain
        .iter()
        .map(|c| format!("{snap_dir}/{}", c.trim_start_matches('/')))
        .collect();
    out.push(shell.to_string());
    out.extend(args.iter().cloned());
    out
}

/// The shell `--shell` starts: snapd's `/bin/bash` where the base (or, for a classic snap, the
/// host) has it, else the POSIX `/bin/sh` every base has.
pub fn shell_program(exists: impl Fn(&str) -> bool) -> &'static str {
    if exists("/bin/bash") {
        "/bin/bash"
    } else {
        "/bin/sh"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapshelf_snap::profile::{ProfilePlug, PROFILE_VERSION};

    fn profile() -> Profile {
        Profile {
            version: PROFILE_VERSION,
            snap: "test-snapd-tools".into(),
            app: "env".into(),
            revision: "x1".into(),
            snap_version: "1.0".into(),
            confinement: "strict".into(),
            base: "shelf-base".into(),
            base_revision: "1".into(),
            architecture: "amd64".into(),
            command: vec!["bin/env".into(), "--from=$SNAP_NAME".into()],
            command_chain: vec!["bin/chain".into()],
            environment: vec![
                ("EXTRA_GLOBAL".into(), "extra-global".into()),
                ("EXTRA_CACHE_DIR".into(), "$SNAP_USER_DATA/.cache".into()),
                ("EXTRA_LOCAL".into(), "extra-local".into()),
                ("EXTRA_LOCAL_NESTED".into(), "${EXTRA_GLOBAL}-nested".into()),
                (
                    "EXTRA_LOCAL_PATH".into(),
                    "$SNAP/bin:$SNAP/usr/bin:/usr/bin".into(),
                ),
            ],
            layouts: vec![],
            plugs: vec![ProfilePlug {
                name: "x11".into(),
                interface: "x11".into(),
                connected: false,
                ..Default::default()
            }],
            bus_names: Default::default(),
            content: vec![],
        }
    }

    fn user() -> User {
        User {
            uid: 1000,
            gid: 1000,
            euid: 1000,
            home: "/home/ann".into(),
        }
    }

    #[test]
    fn the_compat_environment() {
        let p = profile();
        let paths = SnapPaths::new("/snap", &p, &user());
        let caller = [
            ("LANG", "de_DE.UTF-8"),
            ("LD_PRELOAD", "/evil.so"),
            ("SNAP", "/fake"),
            ("SNAP_NAME", "fake"),
            ("TMPDIR", "/elsewhere"),
            ("DISPLAY", ":0"),
            ("HOME", "/home/ann"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let env = build(
            caller,
            &p,
            &paths,
            &user(),
            &[(
                "PULSE_SERVER".into(),
                "unix:/run/user/1000/pulse/native".into(),
            )],
        );
        assert_eq!(
            env.get("PULSE_SERVER").map(String::as_str),
            Some("unix:/run/user/1000/pulse/native")
        );
        let get = |k: &str| env.get(k).map(String::as_str);
        assert_eq!(get("EXTRA_GLOBAL"), Some("extra-global"));
        assert_eq!(get("EXTRA_LOCAL"), Some("extra-local"));
        assert_eq!(get("EXTRA_LOCAL_NESTED"), Some("extra-global-nested"));
        assert_eq!(
            get("EXTRA_CACHE_DIR"),
            Some("/home/ann/snap/test-snapd-tools/x1/.cache")
        );
        assert_eq!(
            get("EXTRA_LOCAL_PATH"),
            Some("/snap/test-snapd-tools/x1/bin:/snap/test-snapd-tools/x1/usr/bin:/usr/bin")
        );
        assert_eq!(get("SNAP"), Some("/snap/test-snapd-tools/x1"));
        assert_eq!(get("SNAP_NAME"), Some("test-snapd-tools"));
        assert_eq!(get("SNAP_DATA"), Some("/var/snap/test-snapd-tools/x1"));
        assert_eq!(
            get("SNAP_COMMON"),
            Some("/var/snap/test-snapd-tools/common")
        );
        assert_eq!(
            get("SNAP_USER_COMMON"),
            Some("/home/ann/snap/test-snapd-tools/common")
        );
        assert_eq!(get("HOME"), Some("/home/ann/snap/test-snapd-tools/x1"));
        assert_eq!(get("SNAP_REAL_HOME"), Some("/home/ann"));
        assert_eq!(
            get("XDG_RUNTIME_DIR"),
            Some("/run/user/1000/snap.test-snapd-tools")
        );
        assert_eq!(get("TMPDIR"), Some("/tmp"));
        assert_eq!(get("LANG"), Some("de_DE.UTF-8"));
        assert_eq!(get("LD_PRELOAD"), None);
        // x11 is not connected: the display does not pass.
        assert_eq!(get("DISPLAY"), None);
        assert!(get("PATH")
            .unwrap()
            .starts_with("/snap/test-snapd-tools/x1/usr/sbin:"));

        let argv = argv(&p, &paths.snap, &env, &["a b".into()]);
        assert_eq!(
            argv,
            vec![
                "/snap/test-snapd-tools/x1/bin/chain",
                "/snap/test-snapd-tools/x1/bin/env",
                "--from=test-snapd-tools",
                "a b"
            ]
        );
    }

    #[test]
    fn a_classic_snap_keeps_the_callers_environment() {
        let mut p = profile();
        p.confinement = "classic".into();
        let paths = SnapPaths::new("/snap", &p, &user());
        let caller = [
            ("HOME", "/home/ann"),
            ("PATH", "/home/ann/bin:/usr/bin"),
            ("DISPLAY", ":0"),
            ("LANG", "de_DE.UTF-8"),
            ("SNAP_NAME", "fake"),
            ("SNAP_FAKE", "fake"),
            ("SNAP_SAVED_LD_LIBRARY_PATH", "/opt/lib"),
            ("SNAP_SAVED_PATH", "/evil"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let env = build_classic(caller, &p, &paths, &user());
        let get = |k: &str| env.get(k).map(String::as_str);
        // A saved loader variable is back under its name; no other name can be set that way.
        assert_eq!(get("LD_LIBRARY_PATH"), Some("/opt/lib"));
        assert_eq!(get("SNAP_SAVED_LD_LIBRARY_PATH"), None);
        assert_eq!(get("SNAP_SAVED_PATH"), None);
        assert_eq!(get("HOME"), Some("/home/ann"));
        assert_eq!(get("PATH"), Some("/home/ann/bin:/usr/bin"));
        // Classic snaps declare no x11 plug: the display is theirs anyway.
        assert_eq!(get("DISPLAY"), Some(":0"));
        assert_eq!(get("LANG"), Some("de_DE.UTF-8"));
        assert_eq!(get("SNAP_NAME"), Some("test-snapd-tools"));
        assert_eq!(get("SNAP_FAKE"), None);
        assert_eq!(get("SNAP"), Some("/snap/test-snapd-tools/x1"));
        assert_eq!(
            get("SNAP_USER_DATA"),
            Some("/home/ann/snap/test-snapd-tools/x1")
        );
        assert_eq!(
            get("XDG_RUNTIME_DIR"),
            Some("/run/user/1000/snap.test-snapd-tools")
        );
        assert_eq!(
            get("EXTRA_CACHE_DIR"),
            Some("/home/ann/snap/test-snapd-tools/x1/.cache")
        );
        assert_eq!(get("EXTRA_LOCAL_NESTED"), Some("extra-global-nested"));
        assert_eq!(get("TMPDIR"), None);
        assert_eq!(get("SHELL"), None);
    }

    #[test]
    fn expansion_edge_cases() {
        let mut env = BTreeMap::new();
        env.insert("A".to_string(), "1".to_string());
        assert_eq!(expand("$A$A", &env), "11");
        assert_eq!(expand("${A}x", &env), "1x");
        assert_eq!(expand("$UNKNOWN-x", &env), "-x");
        assert_eq!(expand("cost $", &env), "cost $");
        assert_eq!(expand("${unclosed", &env), "${unclosed");
        assert_eq!(expand("$$", &env), "$$");
        assert_eq!(expand("ü$A€", &env), "ü1€");
    }

    #[test]
    fn a_shell_runs_after_the_command_chain_instead_of_the_command() {
        let p = profile();
        let argv = shell_argv(&p, "/snap/t/x1", "/bin/sh", &["-c".into(), "id".into()]);
        assert_eq!(argv, ["/snap/t/x1/bin/chain", "/bin/sh", "-c", "id"]);
        assert_eq!(shell_program(|_| true), "/bin/bash");
        assert_eq!(shell_program(|p| p != "/bin/bash"), "/bin/sh");
    }
}
