//! Snapshelf's per-user update agent: started with the session, it asks the helper for updates
//! on a schedule (four times a day at a random point of each quarter, as snapd's default
//! `refresh.timer`), downloads them as `download` changes, applies a snap's update only when
//! none of its apps runs (the helper's `RunningApps`), and says what happened through
//! `org.freedesktop.Notifications`. Paused by a key file; a metered connection (NetworkManager's
//! `Metered`) means no download.
//!
//! The pure parts (settings, schedule, words) are here; `agent` talks to the buses.

pub mod agent;
pub mod notify;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::Rng;

/// The settings file: `$XDG_CONFIG_HOME/snapshelf/updates.conf` (`~/.config/…` without it).
pub fn settings_path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".config"),
    };
    Some(base.join("snapshelf/updates.conf"))
}

/// Whether background updates are paused: `paused=true` in the `[updates]` group of the
/// settings file. No file: not paused. A file that cannot be read or a value that is not a
/// boolean is an error naming the file and the line.
pub fn read_paused(path: &Path) -> Result<bool, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut group = String::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(g) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            group = g.trim().to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if group == "updates" && key.trim() == "paused" {
            return match value.trim() {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err(format!(
                    "{} line {}: paused must be true or false, not {other:?}",
                    path.display(),
                    n + 1
                )),
            };
        }
    }
    Ok(false)
}

/// Write `paused` into the settings file, keeping its other lines.
pub fn write_paused(path: &Path, paused: bool) -> Result<(), String> {
    let old = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut out = Vec::new();
    let mut group = String::new();
    let mut done = false;
    for line in old.lines() {
        let t = line.trim();
        if let Some(g) = t.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            group = g.trim().to_string();
        } else if group == "updates" && t.split_once('=').map(|(k, _)| k.trim()) == Some("paused") {
            if !done {
                out.push(format!("paused={paused}"));
                done = true;
            }
            continue;
        }
        out.push(line.to_string());
        if group == "updates" && t == "[updates]" && !done {
            out.push(format!("paused={paused}"));
            done = true;
        }
    }
    if !done {
        out.push("[updates]".into());
        out.push(format!("paused={paused}"));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, out.join("\n") + "\n")
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// snapd's default: four checks a day.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(6 * 3600);

/// The checks' times: one at a random point of each window of `interval`, windows following
/// each other from the agent's start (so two checks are between 0 and 2 intervals apart, and
/// the machines of a fleet do not all ask at once).
#[derive(Debug, Clone)]
pub struct Schedule {
    pub interval: Duration,
    /// The offset of the current window's check from the window's start.
    offset: Duration,
}

impl Schedule {
    pub fn new(interval: Duration) -> Schedule {
        Schedule {
            interval,
            offset: Duration::ZERO,
        }
    }

    fn random_offset(&self) -> Duration {
        let max = self.interval.as_millis().max(1) as u64;
        Duration::from_millis(rand::thread_rng().gen_range(0..max))
    }

    /// The wait before the first check: a random point of the first window.
    pub fn first(&mut self) -> Duration {
        self.offset = self.random_offset();
        self.offset
    }

    /// The wait from a check to the next: the rest of this window, then a random point of the
    /// next.
    pub fn after_check(&mut self) -> Duration {
        let rest = self.interval.saturating_sub(self.offset);
        self.offset = self.random_offset();
        rest + self.offset
    }
}

/// NetworkManager's `NMMetered`: 1 (yes) and 3 (guessed yes) are metered; unknown (0) is not.
pub fn is_metered_value(v: u32) -> bool {
    v == 1 || v == 3
}

/// Whole days in `remaining` seconds, rounded up, at least one: a refresh put off for 13 days and
/// an hour more goes ahead "in 14 days", one due now at the next check, "in 1 day" at the latest.
pub fn days_left(remaining: u64) -> u64 {
    remaining.div_ceil(24 * 60 * 60).max(1)
}

/// What the notification says of a snap whose update waits for its apps to close: with the days
/// left before it is installed anyway (the helper's `PendingRefreshes` `remaining`), as snapd's
/// and GNOME Software's notices say; without them when the helper did not tell.
pub fn held_words(snap: &str, remaining: Option<u64>) -> String {
    let Some(remaining) = remaining else {
        // Translators: {snaps} is a list of snap names.
        let template =
            gettextrs::gettext("{snaps}: the update is installed when you close the app.");
        return snapshelf_i18n::fill(&template, &[("snaps", &snap)]);
    };
    let days = days_left(remaining);
    // Translators: {snap} is a snap's name, {days} a number of days.
    let template = gettextrs::ngettext(
        "{snap}: the update is installed when you close the app, or in {days} day even if it is still open.",
        "{snap}: the update is installed when you close the app, or in {days} days even if it is still open.",
        u32::try_from(days).unwrap_or(u32::MAX),
    );
    snapshelf_i18n::fill(&template, &[("snap", &snap), ("days", &days)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_rounded_up() {
        let day = 24 * 60 * 60;
        assert_eq!(days_left(14 * day - 1), 14);
        assert_eq!(days_left(14 * day), 14);
        assert_eq!(days_left(13 * day + 3600), 14);
        assert_eq!(days_left(day), 1);
        assert_eq!(days_left(1), 1);
        assert_eq!(days_left(0), 1);
    }

    #[test]
    fn paused_is_read_and_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("snapshelf/updates.conf");
        assert_eq!(read_paused(&p), Ok(false));
        write_paused(&p, true).unwrap();
        assert_eq!(read_paused(&p), Ok(true));
        std::fs::write(
            &p,
            "# mine\n[other]\npaused=true\n[updates]\npaused = false\n",
        )
        .unwrap();
        assert_eq!(read_paused(&p), Ok(false));
        write_paused(&p, true).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("# mine\n[other]\npaused=true\n[updates]\npaused=true\n"));
        assert_eq!(read_paused(&p), Ok(true));
        std::fs::write(&p, "[updates]\npaused=yes\n").unwrap();
        let e = read_paused(&p).unwrap_err();
        assert!(
            e.contains("updates.conf line 2") && e.contains("\"yes\""),
            "{e}"
        );
    }

    #[test]
    fn checks_fall_once_in_each_window() {
        let mut s = Schedule::new(Duration::from_secs(100));
        let mut at = s.first();
        assert!(at < Duration::from_secs(100));
        for window in 1..50u64 {
            at += s.after_check();
            assert!(
                at >= Duration::from_secs(window * 100),
                "{at:?} in window {window}"
            );
            assert!(
                at < Duration::from_secs((window + 1) * 100),
                "{at:?} in window {window}"
            );
        }
    }

    #[test]
    fn metered_values() {
        let metered: Vec<u32> = (0..5).filter(|v| is_metered_value(*v)).collect();
        assert_eq!(metered, vec![1, 3]);
    }
}
