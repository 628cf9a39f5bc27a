//! How an app's processes are tracked, as snapd tracks them (`sandbox/cgroup/tracking.go`): each
//! launch moves itself into a transient systemd scope `snap.<snap>.<app>-<uuid>.scope` (a hook's
//! is `snap.<snap>.hook.<hook>-<uuid>.scope`), a service runs in its unit's
//! `snap.<snap>.<app>.service`. These names are read back from the cgroup hierarchy (the helper's
//! running apps) and from `/proc/<pid>/cgroup` (`snapshelfctl routine portal-info`).
//!
//! Pure parsing: the callers read the files.

/// The scope unit name for one launch of `tag` (`snap.<snap>.<app>` or `snap.<snap>.hook.<hook>`).
pub fn scope_name(tag: &str, uuid: &str) -> String {
    format!("{tag}-{uuid}.scope")
}

/// A tracked process's snap and app (for a hook, `hook.<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub snap: String,
    pub app: String,
    /// A service's unit rather than a launch's scope.
    pub service: bool,
}

/// Whether `s` is a UUID in its text form (8-4-4-4-12 hexadecimal digits).
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The snap and app a cgroup's name (its last path component) tracks, if it is one of the
/// names above.
pub fn tracked_unit(name: &str) -> Option<Tracked> {
    let (tag, service) = if let Some(scope) = name.strip_suffix(".scope") {
        // The UUID is the last 36 characters, after a '-'.
        let cut = scope.len().checked_sub(37)?;
        let (tag, rest) = scope.split_at(cut);
        (is_uuid(rest.strip_prefix('-')?)).then_some(())?;
        (tag, false)
    } else {
        (name.strip_suffix(".service")?, true)
    };
    let rest = tag.strip_prefix("snap.")?;
    let (snap, app) = rest.split_once('.')?;
    let app_ok = match app.strip_prefix("hook.") {
        Some(hook) => !service && crate::naming::validate_hook_name(hook).is_ok(),
        None => crate::naming::validate_app_name(app).is_ok(),
    };
    if crate::naming::validate_instance_name(snap).is_err() || !app_ok {
        return None;
    }
    Some(Tracked {
        snap: snap.to_string(),
        app: app.to_string(),
        service,
    })
}

/// The tracked unit a process is in, from the text of its `/proc/<pid>/cgroup`: the unified
/// hierarchy's line (`0::<path>`) or, on a hybrid or legacy host, systemd's own
/// (`<n>:name=systemd:<path>`), the two systemd tracks units in (xdg-desktop-portal reads the
/// same lines).
pub fn tracked_process(cgroup_file: &str) -> Option<Tracked> {
    cgroup_file.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        if !controllers.is_empty() && controllers != "name=systemd" {
            return None;
        }
        tracked_unit(path.rsplit('/').next()?)
    })
}

/// What tracking reads of a process's `/proc/<pid>/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 4: the parent's PID.
    pub parent: u32,
    /// Field 22: the start time in clock ticks after boot, which tells a process from a later
    /// one given the same PID.
    pub start_time: u64,
}

/// The fields of a `/proc/<pid>/stat` line tracking needs. The command name (field 2) is in
/// parentheses and may hold spaces or parentheses itself: fields are counted from its last ')'.
pub fn parse_proc_stat(text: &str) -> Option<ProcStat> {
    let mut rest = text[text.rfind(')')? + 1..].split_whitespace();
    // After the name: state (3), parent (4), then 17 more before the start time (22).
    let parent = rest.nth(1)?.parse().ok()?;
    let start_time = rest.nth(17)?.parse().ok()?;
    Some(ProcStat { parent, start_time })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_parent_and_start_time_whatever_the_name() {
        let tail = "S 4242 1 1 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        for name in ["sh", "a b", "x) S 1 (y", ")"] {
            let line = format!("77 ({name}) {tail}");
            assert_eq!(
                parse_proc_stat(&line),
                Some(ProcStat {
                    parent: 4242,
                    start_time: 987654
                }),
                "{line}"
            );
        }
        assert_eq!(parse_proc_stat("77 (sh) S 4242"), None);
        assert_eq!(parse_proc_stat("77 sh S 1 2"), None);
        assert_eq!(parse_proc_stat(""), None);
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        let me = parse_proc_stat(&own).unwrap();
        assert_eq!(me.parent, std::os::unix::process::parent_id());
    }

    const UUID: &str = "4706fe54-7802-4808-aa7e-ae8b567239e0";

    fn t(snap: &str, app: &str, service: bool) -> Option<Tracked> {
        Some(Tracked {
            snap: snap.into(),
            app: app.into(),
            service,
        })
    }

    #[test]
    fn scope_and_service_names_are_read_back() {
        let scope = scope_name("snap.hello-world.sh", UUID);
        assert_eq!(scope, format!("snap.hello-world.sh-{UUID}.scope"));
        assert_eq!(tracked_unit(&scope), t("hello-world", "sh", false));
        let hook = scope_name("snap.shelf-clock.hook.configure", UUID);
        assert_eq!(
            tracked_unit(&hook),
            t("shelf-clock", "hook.configure", false)
        );
        assert_eq!(
            tracked_unit("snap.shelf-clock.daemon.service"),
            t("shelf-clock", "daemon", true)
        );
        // An app name with dashes keeps them.
        let dashed = scope_name("snap.ab.my-app", UUID);
        assert_eq!(tracked_unit(&dashed), t("ab", "my-app", false));
    }

    #[test]
    fn other_names_are_not_tracked() {
        for name in [
            "snap.hello-world.sh.scope",
            "snap.hello-world.sh-1234.scope",
            &format!("snap.hello-world-{UUID}.scope"),
            &format!("app-gnome-firefox-{UUID}.scope"),
            &format!("snap.Bad.sh-{UUID}.scope"),
            "snap-hello.mount",
            "session-2.scope",
            "user@1000.service",
            "snap.hello.hook.configure.service",
            "",
        ] {
            assert_eq!(tracked_unit(name), None, "{name}");
        }
    }

    #[test]
    fn a_process_is_found_by_the_unified_or_the_systemd_line() {
        let unified = format!(
            "0::/user.slice/user-1000.slice/user@1000.service/app.slice/snap.ab.b-{UUID}.scope\n"
        );
        assert_eq!(tracked_process(&unified), t("ab", "b", false));
        let hybrid = format!(
            "12:pids:/user.slice\n1:name=systemd:/user.slice/snap.ab.b-{UUID}.scope\n0::/\n"
        );
        assert_eq!(tracked_process(&hybrid), t("ab", "b", false));
        // Another controller's hierarchy is not where systemd tracks units.
        let other = format!("4:memory:/snap.ab.b-{UUID}.scope\n0::/\n");
        assert_eq!(tracked_process(&other), None);
        assert_eq!(tracked_process("0::/user.slice/session-2.scope\n"), None);
        assert_eq!(tracked_process("garbage"), None);
    }
}
