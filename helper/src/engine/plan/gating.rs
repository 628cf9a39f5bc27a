//! The automatic refresh's gating (snapd's `autorefresh_gating.go`, `engine/gating.rs`): before
//! an automatic refresh is planned, each installed snap it affects that has a `gate-auto-refresh`
//! hook runs it; then the targets a hook holds are left out, each with the holder and the end of
//! its hold. A snap is affected by the refresh of itself, of its base and of a content provider
//! it is connected to (snapd's `affectedByRefresh`, without kernels and gadgets).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::refresh::Failed;
use super::*;
use crate::engine::gating::{self, Action, Gate, Pending};
use crate::engine::refresh_app_awareness::now;
use crate::engine::task::{run_hook::RunHook, Ctx};
use crate::snapctl::hooks::HookContext;

const GATE_HOOK: &str = "gate-auto-refresh";

/// When a snap was last refreshed: its current revision's install time.
fn last_refreshed(snap: &SnapState) -> u64 {
    snap.sequence
        .iter()
        .find(|r| r.revision == snap.current)
        .map_or(0, |r| r.installed_at)
}

impl Engine {
    /// Run the gate hooks, then keep the targets no hold puts off; the others go to `failed`.
    pub(super) async fn gate_auto_refresh(
        &self,
        resolved: Vec<(Resolved, SnapState)>,
        failed: &mut Vec<Failed>,
    ) -> Result<Vec<(Resolved, SnapState)>> {
        for gating in self.installed()? {
            // One snap whose hooks cannot be read must not stop every automatic refresh.
            let hooks = crate::engine::hooks::names(self.paths(), &gating).unwrap_or_else(|e| {
                tracing::warn!(snap = %gating.name, "cannot list its hooks: {}", e.message);
                Default::default()
            });
            if !hooks.contains(GATE_HOOK) {
                continue;
            }
            let affecting: Vec<&(Resolved, SnapState)> = resolved
                .iter()
                .filter(|(r, _)| gating::affects(&gating, &r.name))
                .collect();
            if affecting.is_empty() {
                continue;
            }
            let gate = Arc::new(Gate::new(
                self.pending_for(&gating, &affecting)?,
                affecting
                    .iter()
                    .map(|(r, before)| (r.name.clone(), last_refreshed(before)))
                    .collect(),
            ));
            let outcome = self.run_gate_hook(&gating.name, gate.clone()).await;
            self.after_gate_hook(&gating.name, &gate, outcome)?;
        }
        let now = now();
        let mut kept = Vec::new();
        for (r, before) in resolved {
            let holds = crate::engine::lock(&self.inner.state).holds_of(&r.name)?;
            match gating::active_hold(&holds, last_refreshed(&before), now) {
                Some((holder, until)) => failed.push(Failed {
                    error: held(&r.name, &holder, until),
                    name: r.name.clone(),
                }),
                None => kept.push((r, before)),
            }
        }
        Ok(kept)
    }

    /// What `snapctl refresh --pending` tells `gating`'s hook (snapd's `getUpdateDetails`).
    fn pending_for(
        &self,
        gating: &SnapState,
        affecting: &[&(Resolved, SnapState)],
    ) -> Result<Pending> {
        let base = crate::engine::bases::of_snap(gating);
        let mut p = Pending {
            pending: "none".into(),
            channel: gating.tracking_channel.clone(),
            base: affecting.iter().any(|(r, _)| Some(r.name.as_str()) == base),
            ..Default::default()
        };
        if let Some((r, _)) = affecting.iter().find(|(r, _)| r.name == gating.name) {
            let inhibited = self.refresh_inhibited(&gating.name)?;
            p.pending = if inhibited { "inhibited" } else { "ready" }.into();
            p.channel = r.channel.clone();
            p.version = r.yaml.version.clone();
            p.revision = r.revision;
        }
        Ok(p)
    }

    /// Run `snap`'s gate hook with `gate` for `snapctl refresh`, on a blocking thread.
    async fn run_gate_hook(&self, snap: &str, gate: Arc<Gate>) -> Result<bool> {
        let engine = self.clone();
        let snap = snap.to_string();
        tokio::task::spawn_blocking(move || {
            let config = engine.config(&snap)?;
            let tx = crate::snapconf::Transaction::new(&snap, config);
            let ctx = Arc::new(HookContext::new(&snap, GATE_HOOK, tx).with_gate(gate));
            let cx = Ctx {
                engine,
                change: 0,
                seq: 0,
                cancel: CancellationToken::new(),
            };
            RunHook::new(&snap, GATE_HOOK).run_detached(&cx, ctx)
        })
        .await
        .map_err(|e| Error::internal(format!("the {GATE_HOOK} hook: {e}")))?
    }

    /// snapd's hook handler: a hook that ends without a word, or with `--proceed`, lets the
    /// snaps go; one that fails holds them (as long as it still may), unless it held them.
    fn after_gate_hook(&self, snap: &str, gate: &Gate, outcome: Result<bool>) -> Result<()> {
        let proceed = match (&outcome, gate.action()) {
            (Ok(_), Some(Action::Hold)) | (Err(_), Some(Action::Hold)) => false,
            (Ok(_), _) => true,
            (Err(e), _) => {
                tracing::warn!(
                    snap,
                    "{GATE_HOOK} hook failed, holding its refresh: {}",
                    e.message
                );
                if let Err(why) = self.gate_hold(snap, &gate.affecting) {
                    tracing::warn!(snap, "cannot hold: {why}");
                    true
                } else {
                    false
                }
            }
        };
        if proceed {
            let st = crate::engine::lock(&self.inner.state);
            for (held, _) in &gate.affecting {
                st.drop_hold(held, snap)?;
            }
        }
        Ok(())
    }
}

/// Why a target is left out: held by `holder`'s hook until `until` (seconds since the epoch).
fn held(name: &str, holder: &str, until: u64) -> Error {
    let until =
        httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(until));
    let message = if holder == name {
        // Translators: {until} is a date and time in UTC.
        gettext("the automatic refresh of \"{snap}\" is held by its gate-auto-refresh hook until {until}")
            .replace("{snap}", name)
            .replace("{until}", &until)
    } else {
        // Translators: {holder} is the name of the snap whose hook holds the refresh of {snap}.
        gettext("the automatic refresh of \"{snap}\" is held by the gate-auto-refresh hook of \"{holder}\" until {until}")
            .replace("{snap}", name)
            .replace("{holder}", holder)
            .replace("{until}", &until)
    };
    Error::new(ErrorKind::RefreshHeld, message)
}
