//! The loader's and libc's variables across a launcher with file capabilities, for classic snaps
//! (snapd's `snap run` and `snap-exec`: `osutil.Environment.ForExecEscapeUnsafe` and
//! `OSEnvironmentUnescapeUnsafe` with `SNAP_SAVED_`). The kernel starts a program with file
//! capabilities in glibc's secure mode, which drops these variables before `main`; a classic
//! app, which runs as its caller would, must still get them. So what starts confine saves each
//! one under `SNAP_SAVED_<NAME>`, which secure mode leaves alone, and confine gives a classic app
//! its original name back after dropping its capabilities. A strict app never sees them (confine
//! drops every `SNAP*` variable of the caller's).

/// The prefix a saved variable's name gets.
pub const SAVED_PREFIX: &str = "SNAP_SAVED_";

/// glibc's unsecure variables (`sysdeps/generic/unsecvars.h`): what secure mode drops.
pub const UNSAFE_ENV: &[&str] = &[
    "GCONV_PATH",
    "GETCONF_DIR",
    "GLIBC_TUNABLES",
    "HOSTALIASES",
    "LD_AUDIT",
    "LD_DEBUG",
    "LD_DEBUG_OUTPUT",
    "LD_DYNAMIC_WEAK",
    "LD_HWCAP_MASK",
    "LD_LIBRARY_PATH",
    "LD_ORIGIN_PATH",
    "LD_PRELOAD",
    "LD_PROFILE",
    "LD_SHOW_AUXV",
    "LD_USE_LOAD_BIAS",
    "LOCALDOMAIN",
    "LOCPATH",
    "MALLOC_TRACE",
    "NIS_PATH",
    "NLSPATH",
    "RESOLV_HOST_CONF",
    "RES_OPTIONS",
    "TMPDIR",
    "TZDIR",
];

/// The `SNAP_SAVED_<NAME>` copies of the unsafe variables among `vars`.
pub fn saved<K: AsRef<str>, V: Clone>(vars: impl IntoIterator<Item = (K, V)>) -> Vec<(String, V)> {
    vars.into_iter()
        .filter(|(k, _)| UNSAFE_ENV.contains(&k.as_ref()))
        .map(|(k, v)| (format!("{SAVED_PREFIX}{}", k.as_ref()), v))
        .collect()
}

/// The original name of a saved variable (`SNAP_SAVED_LD_PRELOAD` → `LD_PRELOAD`); only the
/// unsafe variables are ever given back, nothing else can be smuggled under the prefix.
pub fn restored_name(key: &str) -> Option<&str> {
    key.strip_prefix(SAVED_PREFIX)
        .filter(|name| UNSAFE_ENV.contains(name))
}

/// POSIX shell lines that save the unsafe variables set in the shell's environment (for the
/// `/snap/bin` launchers, which are shell scripts).
pub fn shell_save() -> String {
    format!(
        "for v in {}; do\n  eval \"[ -z \\\"\\${{$v+x}}\\\" ] || export {SAVED_PREFIX}$v=\\\"\\$$v\\\"\"\ndone\n",
        UNSAFE_ENV.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_and_restored_names() {
        let vars = [
            ("LD_LIBRARY_PATH", "/opt/lib"),
            ("PATH", "/usr/bin"),
            ("TMPDIR", "/var/tmp"),
        ];
        assert_eq!(
            saved(vars),
            [
                ("SNAP_SAVED_LD_LIBRARY_PATH".to_string(), "/opt/lib"),
                ("SNAP_SAVED_TMPDIR".to_string(), "/var/tmp"),
            ]
        );
        assert_eq!(restored_name("SNAP_SAVED_LD_PRELOAD"), Some("LD_PRELOAD"));
        assert_eq!(restored_name("SNAP_SAVED_PATH"), None);
        assert_eq!(restored_name("LD_PRELOAD"), None);
    }

    #[test]
    fn the_shell_saves_what_is_set_even_empty_and_nothing_else() {
        let script = format!("{}env", shell_save());
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", &script])
            .env_clear()
            .env("LD_LIBRARY_PATH", "/opt/a b:$(touch /tmp/no)\"'")
            .env("LD_PRELOAD", "")
            .env("HOME", "/h")
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.lines()
                .any(|l| l == "SNAP_SAVED_LD_LIBRARY_PATH=/opt/a b:$(touch /tmp/no)\"'"),
            "{out}"
        );
        assert!(out.lines().any(|l| l == "SNAP_SAVED_LD_PRELOAD="), "{out}");
        assert!(!out.contains("SNAP_SAVED_HOME") && !out.contains("SNAP_SAVED_TZDIR"));
    }
}
