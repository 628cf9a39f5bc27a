//! Hooks running now, by their cookie: what `snapctl` called from inside one may see and change
//! (the change's pending configuration, committed only when the hook succeeds).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::engine::iface_hooks::IfaceAttrs;
use crate::snapconf::Transaction;

pub struct HookContext {
    pub snap: String,
    pub hook: String,
    tx: Mutex<Transaction>,
    /// The connection's attributes, for interface hooks (`snapctl get/set :<plug|slot>`).
    iface: Option<Mutex<IfaceAttrs>>,
    /// Tasks `snapctl start|stop|restart` queued: added at the end of the hook's change when the
    /// hook succeeds (snapd's `queueCommand`).
    queued: Mutex<Vec<crate::engine::task::Task>>,
    /// What `snapctl set-health` reported: stored when the hook succeeds.
    health: Mutex<Option<crate::state::Health>>,
    /// A `gate-auto-refresh` hook's refresh (`snapctl refresh`, `engine/gating.rs`).
    gate: Option<Arc<crate::engine::gating::Gate>>,
}

impl HookContext {
    pub fn new(snap: &str, hook: &str, tx: Transaction) -> Self {
        HookContext {
            snap: snap.to_string(),
            hook: hook.to_string(),
            tx: Mutex::new(tx),
            iface: None,
            queued: Mutex::new(Vec::new()),
            health: Mutex::new(None),
            gate: None,
        }
    }

    pub fn with_gate(self, gate: Arc<crate::engine::gating::Gate>) -> Self {
        HookContext {
            gate: Some(gate),
            ..self
        }
    }

    pub fn gate(&self) -> Option<&crate::engine::gating::Gate> {
        self.gate.as_deref()
    }

    pub fn with_iface(self, attrs: Option<IfaceAttrs>) -> Self {
        HookContext {
            iface: attrs.map(Mutex::new),
            ..self
        }
    }

    pub fn queue(&self, tasks: Vec<crate::engine::task::Task>) {
        self.queued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(tasks);
    }

    pub fn take_queued(&self) -> Vec<crate::engine::task::Task> {
        std::mem::take(&mut *self.queued.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn set_health(&self, health: crate::state::Health) {
        *self.health.lock().unwrap_or_else(|e| e.into_inner()) = Some(health);
    }

    pub fn take_health(&self) -> Option<crate::state::Health> {
        self.health.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    pub fn tx(&self) -> MutexGuard<'_, Transaction> {
        self.tx.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn iface(&self) -> Option<MutexGuard<'_, IfaceAttrs>> {
        self.iface
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[derive(Default)]
pub struct Hooks {
    by_cookie: Mutex<HashMap<String, Arc<HookContext>>>,
}

impl Hooks {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Arc<HookContext>>> {
        self.by_cookie.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn register(&self, cookie: &str, ctx: Arc<HookContext>) {
        self.map().insert(cookie.to_string(), ctx);
    }

    pub fn unregister(&self, cookie: &str) {
        self.map().remove(cookie);
    }

    pub fn find(&self, cookie: &str) -> Option<Arc<HookContext>> {
        let map = self.map();
        map.iter()
            .find(|(k, _)| super::cookie::constant_time_eq(k.as_bytes(), cookie.as_bytes()))
            .map(|(_, v)| v.clone())
    }
}
