//! Auto-refresh gating, snapd's `autorefresh_gating.go`: before an automatic refresh, each snap
//! the refresh affects that has a `gate-auto-refresh` hook runs it (`plan/gating.rs`); in it,
//! `snapctl refresh --pending` tells what is pending (`Pending`), `--hold` puts off the refresh of
//! the snaps that affect it (`hold`, within snapd's limits) and `--proceed` lets them go. A hold
//! is kept in the state (`state/snaps_hold.rs`) and heeded by automatic refreshes only
//! (`active_hold`); a refresh a person asks for ignores it, as snapd's does.
//!
//! Time is passed in (`now`, seconds since the epoch), so the limits are tested without waiting.

use std::sync::Mutex;

use crate::state::snaps_hold::Hold;
use crate::state::State;

/// snapd's `maxPostponement` (95 days) and `maxPostponementBuffer` (5 days): a snap may hold its
/// own refresh up to 90 days after it was last refreshed, and no hold counts past 95.
pub const MAX_POSTPONEMENT: u64 = 95 * 24 * 60 * 60;
pub const POSTPONEMENT_BUFFER: u64 = 5 * 24 * 60 * 60;
/// snapd's `maxOtherHoldDuration`: another snap (its base, a content provider) may be held 48
/// hours in all from when it was first held.
pub const MAX_OTHER_HOLD: u64 = 48 * 60 * 60;

/// What the hook asked for (snapd's `GateAutoRefreshAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Hold,
    Proceed,
}

/// What `snapctl refresh --pending` prints (snapd's `updateDetails`): `pending` is `ready`,
/// `none` or `inhibited`; the channel, version and revision are the update's when the gating
/// snap is itself refreshed, else its tracked channel alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pending {
    pub pending: String,
    pub channel: String,
    pub version: String,
    pub revision: u32,
    /// Its base is among the snaps refreshed.
    pub base: bool,
    /// The refresh restarts the system (a kernel or boot base: never, on Snapshelf).
    pub restart: bool,
}

/// A running `gate-auto-refresh` hook's side of the refresh: what is pending for its snap, the
/// snaps being refreshed that affect it (with when each was last refreshed), and its action.
#[derive(Debug)]
pub struct Gate {
    pub pending: Pending,
    pub affecting: Vec<(String, u64)>,
    action: Mutex<Option<Action>>,
}

impl Gate {
    pub fn new(pending: Pending, affecting: Vec<(String, u64)>) -> Self {
        Gate {
            pending,
            affecting,
            action: Mutex::new(None),
        }
    }

    pub fn set_action(&self, a: Action) {
        *self.action.lock().unwrap_or_else(|e| e.into_inner()) = Some(a);
    }

    pub fn action(&self) -> Option<Action> {
        *self.action.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether a refresh of `refreshed` affects `snap` (snapd's `affectedByRefresh`, without kernels
/// and gadgets): `snap` itself, its base, or a content provider one of its plugs is connected to.
pub fn affects(snap: &crate::state::SnapState, refreshed: &str) -> bool {
    snap.name == refreshed
        || super::bases::of_snap(snap) == Some(refreshed)
        || snap.content.values().any(|to| to.snap == refreshed)
}

/// Hold the refreshes of `affecting` (name, last refreshed) for `holder` as long as snapd allows
/// (snapd's `HoldRefresh` with no duration): the time left, the least of them, in seconds. When
/// any of them may not be held any more, none is (the holder would be disrupted anyway) and the
/// answer is snapd's error.
pub fn hold(
    st: &State,
    holder: &str,
    affecting: &[(String, u64)],
    now: u64,
) -> crate::state::Result<Result<u64, String>> {
    let limit = MAX_POSTPONEMENT - POSTPONEMENT_BUFFER;
    let mut errors = Vec::new();
    let mut least: Option<u64> = None;
    for (held, last_refresh) in affecting {
        let first_held = st
            .holds_of(held)?
            .into_iter()
            .find(|(h, _)| h == holder)
            .map_or(now, |(_, hold)| hold.first_held);
        let max = if held == holder {
            limit
        } else {
            MAX_OTHER_HOLD
        };
        let end = (first_held + max).min(last_refresh + limit);
        if end <= now {
            errors.push(format!(
                "snap {holder:?} cannot hold snap {held:?} anymore, maximum refresh postponement exceeded"
            ));
            continue;
        }
        st.put_hold(
            held,
            holder,
            Hold {
                first_held,
                until: end,
            },
        )?;
        least = Some(least.map_or(end - now, |l| l.min(end - now)));
    }
    if errors.is_empty() {
        return Ok(Ok(least.unwrap_or(0)));
    }
    for (held, _) in affecting {
        st.drop_hold(held, holder)?;
    }
    Ok(Err(format!(
        "cannot hold some snaps:\n - {}",
        errors.join("\n - ")
    )))
}

/// The hold that puts off an automatic refresh of a snap last refreshed at `last_refresh`: the
/// one that lasts longest among those still running (snapd's `HeldSnaps`, which also lets none
/// count past `MAX_POSTPONEMENT` after the last refresh). `(holder, until)`.
pub fn active_hold(holds: &[(String, Hold)], last_refresh: u64, now: u64) -> Option<(String, u64)> {
    if last_refresh + MAX_POSTPONEMENT <= now {
        return None;
    }
    holds
        .iter()
        .filter(|(_, h)| h.until > now)
        .max_by_key(|(_, h)| h.until)
        .map(|(holder, h)| (holder.clone(), h.until))
}

/// A duration as Go prints a `time.Duration` of whole seconds (`47h59m59s`), as snapctl's
/// `hold:` line does.
pub fn go_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

impl super::Engine {
    /// `hold` on the helper's state, now.
    pub fn gate_hold(&self, holder: &str, affecting: &[(String, u64)]) -> Result<u64, String> {
        let now = super::refresh_app_awareness::now();
        let st = super::lock(&self.inner.state);
        hold(&st, holder, affecting, now).unwrap_or_else(|e| Err(format!("internal error: {e}")))
    }

    /// Whether an automatic refresh of `name` is put off while its apps run (`inhibited`).
    pub fn refresh_inhibited(&self, name: &str) -> crate::error::Result<bool> {
        Ok(super::lock(&self.inner.state)
            .refresh_pending(name)?
            .is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 24 * 60 * 60;

    #[test]
    fn a_snap_holds_itself_up_to_ninety_days_after_its_last_refresh() {
        let st = State::in_memory().unwrap();
        let t0 = 1_000 * DAY;
        let me = vec![("app".to_string(), t0)];
        assert_eq!(hold(&st, "app", &me, t0).unwrap(), Ok(90 * DAY));
        // Held again later: the same end, from the same first hold.
        assert_eq!(hold(&st, "app", &me, t0 + 30 * DAY).unwrap(), Ok(60 * DAY));
        let holds = st.holds_of("app").unwrap();
        assert_eq!(holds[0].1.first_held, t0);
        assert_eq!(
            active_hold(&holds, t0, t0 + 89 * DAY),
            Some(("app".into(), t0 + 90 * DAY))
        );
        // Expired: no longer heeded, and it cannot be held again.
        assert_eq!(active_hold(&holds, t0, t0 + 90 * DAY), None);
        let e = hold(&st, "app", &me, t0 + 90 * DAY).unwrap().unwrap_err();
        assert!(e.contains("maximum refresh postponement exceeded"), "{e}");
        assert!(st.holds_of("app").unwrap().is_empty());
    }

    #[test]
    fn another_snap_is_held_forty_eight_hours_in_all() {
        let st = State::in_memory().unwrap();
        let t0 = 1_000 * DAY;
        let base = vec![("base".to_string(), t0 - 10 * DAY)];
        assert_eq!(hold(&st, "app", &base, t0).unwrap(), Ok(48 * 3600));
        assert_eq!(hold(&st, "app", &base, t0 + 47 * 3600).unwrap(), Ok(3600));
        let holds = st.holds_of("base").unwrap();
        assert!(active_hold(&holds, t0 - 10 * DAY, t0 + 47 * 3600).is_some());
        assert_eq!(active_hold(&holds, t0 - 10 * DAY, t0 + 48 * 3600), None);
        // Past the limit for one, none of the affecting snaps is held.
        let both = vec![("base".to_string(), t0 - 10 * DAY), ("app".to_string(), t0)];
        let e = hold(&st, "app", &both, t0 + 49 * 3600)
            .unwrap()
            .unwrap_err();
        assert!(
            e.starts_with("cannot hold some snaps:\n - snap \"app\" cannot hold snap \"base\""),
            "{e}"
        );
        assert!(st.holds_of("base").unwrap().is_empty());
        assert!(st.holds_of("app").unwrap().is_empty());
    }

    #[test]
    fn a_hold_never_outlasts_the_last_refresh_by_ninety_days() {
        let st = State::in_memory().unwrap();
        let t0 = 1_000 * DAY;
        // Refreshed 89 days ago: one day is left, even for itself.
        let me = vec![("app".to_string(), t0 - 89 * DAY)];
        assert_eq!(hold(&st, "app", &me, t0).unwrap(), Ok(DAY));
    }

    #[test]
    fn a_snap_is_affected_by_itself_its_base_and_its_content_providers() {
        let mut snap: crate::state::SnapState = serde_json::from_value(serde_json::json!({
            "name": "app", "snap_id": "", "snap_type": "app", "publisher": "p",
            "publisher_validation": "", "title": "", "summary": "", "description": "",
            "confinement": "strict", "base": "shelf-base", "license": "", "icon_url": "",
            "tracking_channel": "latest/stable", "held": false, "current": "1", "sequence": [],
        }))
        .unwrap();
        snap.content.insert(
            "lib".into(),
            crate::engine::content::SlotRef {
                snap: "provider".into(),
                slot: "lib".into(),
            },
        );
        for refreshed in ["app", "shelf-base", "provider"] {
            assert!(affects(&snap, refreshed), "{refreshed}");
        }
        assert!(!affects(&snap, "other"));
        assert!(!affects(&snap, "core"));
        snap.base = None;
        assert!(affects(&snap, "core"), "an app without base: runs on core");
    }

    #[test]
    fn durations_print_as_go_does() {
        assert_eq!(go_duration(48 * 3600), "48h0m0s");
        assert_eq!(go_duration(90 * DAY - 1), "2159h59m59s");
        assert_eq!(go_duration(61), "1m1s");
        assert_eq!(go_duration(5), "5s");
    }
}
