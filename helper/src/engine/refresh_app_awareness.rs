//! Refresh app awareness, snapd's rules (on by default since snapd 2.58): a refresh does not
//! replace a snap while its apps run (`crate::running::busy_apps`: not services, not
//! `refresh-mode: ignore-running`). A refresh a person asked for fails with snapd's words
//! (`snap "x" has running apps (a)`), unless `ignore-running`; an automatic one (the update
//! agent's, option `auto`) is put off and the snap's window of postponement opened, and once the
//! window is older than snapd's `refresh.max-inhibition-days` default (14 days, less a second) the
//! refresh goes ahead whatever runs. `PendingRefreshes` lists the snaps put off, with their apps.

use std::time::{SystemTime, UNIX_EPOCH};

use super::Engine;
use crate::error::Result;

/// snapd's `defaultMaxInhibitionDays`, less the second snapd takes off so that the first notice
/// does not say 14 days and the next at once 13.
pub const MAX_POSTPONEMENT_SECS: u64 = 14 * 24 * 60 * 60 - 1;

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// How long an automatic refresh first put off at `since` may still wait at `now`; `None`: it
/// has waited long enough and goes ahead.
pub fn remaining(since: u64, now: u64) -> Option<u64> {
    let waited = now.saturating_sub(since);
    (waited < MAX_POSTPONEMENT_SECS).then(|| MAX_POSTPONEMENT_SECS - waited)
}

/// A snap whose automatic refresh is put off.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub name: String,
    /// When it was first put off (seconds since the epoch).
    pub since: u64,
    /// Seconds left before the refresh goes ahead anyway.
    pub remaining: u64,
    /// Its apps that run now (empty: closed since; the next automatic refresh goes ahead).
    pub apps: Vec<String>,
}

impl Engine {
    /// Every installed snap with a postponed automatic refresh.
    pub fn pending_refreshes(&self) -> Result<Vec<Pending>> {
        let rows = super::lock(&self.inner.state).all_refresh_pending()?;
        let now = now();
        let mut out = Vec::new();
        for (name, since) in rows {
            let Some(snap) = self.snap(&name)? else {
                continue;
            };
            out.push(Pending {
                apps: crate::running::busy_apps(self.paths(), &snap)?,
                remaining: remaining(since, now).unwrap_or(0),
                name,
                since,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_waits_up_to_fourteen_days_less_a_second() {
        assert_eq!(remaining(1000, 1000), Some(MAX_POSTPONEMENT_SECS));
        assert_eq!(remaining(1000, 1000 + 86_400), Some(13 * 86_400 - 1));
        assert_eq!(remaining(1000, 1000 + MAX_POSTPONEMENT_SECS - 1), Some(1));
        assert_eq!(remaining(1000, 1000 + MAX_POSTPONEMENT_SECS), None);
        // A clock set back counts as no time waited.
        assert_eq!(remaining(1000, 10), Some(MAX_POSTPONEMENT_SECS));
    }
}
