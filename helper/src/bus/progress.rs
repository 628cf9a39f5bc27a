//! Engine events as D-Bus objects and signals. Progress is coalesced: a change's properties are
//! announced in one PropertiesChanged burst at most every 100 ms, however often the engine
//! reports (a download reports every chunk).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use snapshelf_dbus::names;
use zbus::object_server::SignalEmitter;

use super::change::ChangeObject;
use super::helper::Helper;
use crate::engine::{Engine, Observer};
use crate::polkit::Authority;

/// Turns engine events into objects and signals; progress is announced at most ten times a second.
pub(super) struct BusObserver {
    conn: zbus::Connection,
    engine: Engine,
    authority: Arc<Authority>,
    /// Changes being followed → whether something changed since the last burst.
    dirty: Mutex<HashMap<u64, bool>>,
}

impl BusObserver {
    pub(super) fn new(conn: zbus::Connection, engine: Engine, authority: Arc<Authority>) -> Self {
        BusObserver {
            conn,
            engine,
            authority,
            dirty: Mutex::new(HashMap::new()),
        }
    }

    /// Serve a change's object (at start-up, every change the state keeps).
    pub(super) async fn serve_change(&self, id: u64) {
        let obj = ChangeObject {
            engine: self.engine.clone(),
            authority: self.authority.clone(),
            id,
        };
        if let Err(e) = self
            .conn
            .object_server()
            .at(names::change_path(id), obj)
            .await
        {
            tracing::error!(change = id, error = %e, "cannot serve a change object");
        }
    }

    /// Until the change finishes, announce its progress at most every 100 ms, and only when
    /// something changed.
    async fn coalesce(&self, id: u64) {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let flag = self
                .dirty
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&id)
                .copied();
            match flag {
                None => break,
                Some(true) => {
                    self.dirty
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(id, false);
                    BusObserver::emit_progress(&self.conn, id).await;
                }
                Some(false) => {}
            }
        }
    }

    async fn emit_progress(conn: &zbus::Connection, id: u64) {
        let Ok(iface) = conn
            .object_server()
            .interface::<_, ChangeObject>(names::change_path(id))
            .await
        else {
            return;
        };
        let e = iface.signal_emitter();
        let obj = iface.get().await;
        let _ = obj.status_changed(e).await;
        let _ = obj.progress_changed(e).await;
        let _ = obj.progress_label_changed(e).await;
        let _ = obj.bytes_done_changed(e).await;
        let _ = obj.bytes_total_changed(e).await;
        let _ = obj.tasks_changed(e).await;
        let _ = obj.allow_cancel_changed(e).await;
    }
}

impl Observer for Arc<BusObserver> {
    fn change_added(&self, id: u64) {
        let me = self.clone();
        self.dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, false);
        tokio::spawn(async move {
            me.serve_change(id).await;
            if let Ok(emitter) = SignalEmitter::new(&me.conn, names::PATH) {
                let _ = Helper::change_added(&emitter, names::change_path(id)).await;
            }
            me.coalesce(id).await;
        });
    }

    fn change_updated(&self, id: u64) {
        if let Some(d) = self
            .dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&id)
        {
            *d = true;
        }
    }

    fn change_finished(&self, id: u64) {
        self.dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        let me = self.clone();
        tokio::spawn(async move {
            BusObserver::emit_progress(&me.conn, id).await;
            if let Ok(iface) = me
                .conn
                .object_server()
                .interface::<_, ChangeObject>(names::change_path(id))
                .await
            {
                let obj = iface.get().await;
                let _ = obj.ready_changed(iface.signal_emitter()).await;
                let _ = obj.error_kind_changed(iface.signal_emitter()).await;
                let _ = obj.error_changed(iface.signal_emitter()).await;
                let _ = obj.ready_time_changed(iface.signal_emitter()).await;
                if let Ok(Some(v)) = me.engine.change(id) {
                    let _ = ChangeObject::finished(
                        iface.signal_emitter(),
                        v.row.status.as_str(),
                        &v.row.error_kind,
                        &v.row.error,
                    )
                    .await;
                }
            }
        });
    }

    fn snaps_changed(&self, names: Vec<String>) {
        let conn = self.conn.clone();
        tokio::spawn(async move {
            if let Ok(emitter) = SignalEmitter::new(&conn, names::PATH) {
                let _ = Helper::snaps_changed(&emitter, names).await;
            }
        });
    }
}
