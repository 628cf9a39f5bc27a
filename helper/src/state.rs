//! The state database (`/var/lib/snapshelf/state.db`, SQLite in WAL mode, 0600): installed snaps with
//! their kept revisions, and changes with their tasks. A change and its tasks are written before any of
//! them runs; each task's status is written before and after it acts, so that a crash is recovered from
//! what the database says.

use std::path::Path;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::engine::task::Task;

mod docs;
mod health;
mod refresh_pending;
mod revision_config;
pub mod snaps_hold;

use docs::Docs;

pub use health::Health;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("state database holds malformed data: {0}")]
    Json(#[from] serde_json::Error),
    #[error("task {seq} of change {change} in the state database cannot be read: {source}")]
    Task {
        change: u64,
        seq: u32,
        source: serde_json::Error,
    },
    #[error("cannot set up the state database at {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, StateError>;

/// One kept revision of an installed snap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevisionState {
    /// `"12"`, or `"x1"` for a file installed without assertions.
    pub revision: String,
    pub version: String,
    /// The channel it came from (empty for local files).
    pub channel: String,
    pub size: u64,
    /// Lowercase hex SHA3-384 of the `.snap`.
    pub sha3_384: String,
    pub snap_yaml: String,
    /// True when the revision is extracted rather than loop-mounted.
    #[serde(default)]
    pub extracted: bool,
    pub installed_at: u64,
}

/// An installed snap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapState {
    pub name: String,
    /// Empty for snaps installed without assertions.
    pub snap_id: String,
    pub snap_type: String,
    pub publisher: String,
    pub publisher_validation: String,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub confinement: String,
    pub base: Option<String>,
    pub license: String,
    pub icon_url: String,
    pub tracking_channel: String,
    pub held: bool,
    pub current: String,
    /// Kept revisions, oldest first.
    pub sequence: Vec<RevisionState>,
    /// Revisions a plain refresh must not bring back (reverted from), as snapd blocks them.
    #[serde(default)]
    pub blocked: Vec<String>,
    /// A person's choices (Connect/Disconnect), plug → interface → connected; older states hold
    /// plug → connected (see `interfaces::PlugChoice`). Read and written only through
    /// `interfaces::{choice, set_choice}`. A plug without a choice for its interface follows the
    /// auto-connection policy. Carried through refresh and revert; gone with the snap.
    #[serde(default)]
    pub connections: std::collections::BTreeMap<String, crate::interfaces::PlugChoice>,
    /// Its aliases, manual and automatic (`engine::aliases`); carried through refresh and revert,
    /// gone with the snap.
    #[serde(
        default,
        skip_serializing_if = "crate::engine::aliases::SnapAliases::is_empty"
    )]
    pub aliases: crate::engine::aliases::SnapAliases,
    /// Content plugs connected to another snap's slot: plug → the slot. Written only by the
    /// content tasks (`engine/task/connect_content.rs`); left out of the JSON when empty.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub content: std::collections::BTreeMap<String, crate::engine::content::SlotRef>,
    /// `dbus` plugs connected to another snap's `dbus` slot (the same bus and name): plug → the
    /// slot. Written only by `engine/task/connect_dbus.rs`; left out of the JSON when empty.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub dbus: std::collections::BTreeMap<String, crate::engine::content::SlotRef>,
    /// Plugs of the current revision whose auto-connection the snap's own snap-declaration
    /// allows where the base declaration does not (`engine/auto_connect.rs`); set at link.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub declared_auto_connect: std::collections::BTreeSet<String>,
    /// The dynamic attributes prepare hooks set on a connection of a plug: plug → attributes.
    /// Written only by the connect tasks (`engine/iface_hooks.rs`); left out when empty.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub iface_attrs: std::collections::BTreeMap<String, crate::engine::iface_hooks::ConnAttrs>,
}

impl SnapState {
    pub fn current_revision(&self) -> Option<&RevisionState> {
        self.sequence.iter().find(|r| r.revision == self.current)
    }

    pub fn revision(&self, rev: &str) -> Option<&RevisionState> {
        self.sequence.iter().find(|r| r.revision == rev)
    }

    pub fn is_local(&self) -> bool {
        self.snap_id.is_empty()
    }
}

/// Where a task is. Stored as its name (`"Done"`), the same words the D-Bus API shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    Do,
    Doing,
    Done,
    Undoing,
    Undone,
    Error,
}

/// Where a change is. Stored as its name, the same words the D-Bus API shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeStatus {
    Do,
    Doing,
    Done,
    Undoing,
    Error,
    Cancelled,
}

/// Both status types are their names in the database; one place spells them.
macro_rules! status_words {
    ($ty:ident { $($variant:ident),* }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => stringify!($variant),)*
                }
            }

            pub fn parse(s: &str) -> Option<$ty> {
                match s {
                    $(stringify!($variant) => Some($ty::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $ty {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let text = value.as_str()?;
                $ty::parse(text).ok_or_else(|| {
                    FromSqlError::Other(
                        format!("unknown {} {text:?}", stringify!($ty)).into(),
                    )
                })
            }
        }
    };
}

status_words!(TaskStatus {
    Do,
    Doing,
    Done,
    Undoing,
    Undone,
    Error
});
status_words!(ChangeStatus {
    Do,
    Doing,
    Done,
    Undoing,
    Error,
    Cancelled
});

impl ChangeStatus {
    /// A change in one of these has not finished: recovery settles it.
    pub fn is_unfinished(self) -> bool {
        matches!(
            self,
            ChangeStatus::Do | ChangeStatus::Doing | ChangeStatus::Undoing
        )
    }
}

/// A row of the `changes` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRow {
    pub id: u64,
    pub kind: String,
    pub summary: String,
    pub status: ChangeStatus,
    pub snaps: Vec<String>,
    pub uid: u32,
    pub spawn_time: u64,
    pub ready_time: u64,
    pub error_kind: String,
    pub error: String,
    /// What the change was asked to do, for the operation code to read back after a crash.
    pub request: serde_json::Value,
}

/// A row of the `tasks` table. The `kind` column is the task's own kind (`Task::kind`).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    pub change_id: u64,
    pub seq: u32,
    pub summary: String,
    pub status: TaskStatus,
    /// What the task needs to do and undo itself, written before it acts (the `data` column).
    pub task: Task,
}

pub struct State {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS snaps (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    summary TEXT NOT NULL,
    status TEXT NOT NULL,
    snaps TEXT NOT NULL,
    uid INTEGER NOT NULL,
    spawn_time INTEGER NOT NULL,
    ready_time INTEGER NOT NULL DEFAULT 0,
    error_kind TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    request TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
    change_id INTEGER NOT NULL REFERENCES changes(id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    summary TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (change_id, seq)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS config (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
";

const SNAPS: Docs = Docs {
    table: "snaps",
    keys: &["name"],
};

/// A snap's configuration document (a row, even `{}`, only once it has one).
const CONFIG: Docs = Docs {
    table: "config",
    keys: &["name"],
};

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl State {
    /// Open (or create) the database; the file is made 0600 before anything is written to it.
    pub fn open(path: &Path) -> Result<State> {
        use std::os::unix::fs::OpenOptionsExt;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| StateError::Io {
                path: path.display().to_string(),
                source,
            })?;
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a change recorded as done must survive a power cut, not only a crash.
        conn.pragma_update(None, "synchronous", "FULL")?;
        // The state is small: a 512 KiB page cache holds it, and keeps an idle helper small.
        conn.pragma_update(None, "cache_size", -512)?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(revision_config::SCHEMA)?;
        conn.execute_batch(health::SCHEMA)?;
        conn.execute_batch(refresh_pending::SCHEMA)?;
        conn.execute_batch(snaps_hold::SCHEMA)?;
        Ok(State { conn })
    }

    pub fn in_memory() -> Result<State> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(revision_config::SCHEMA)?;
        conn.execute_batch(health::SCHEMA)?;
        conn.execute_batch(refresh_pending::SCHEMA)?;
        conn.execute_batch(snaps_hold::SCHEMA)?;
        Ok(State { conn })
    }

    // --- snaps -----------------------------------------------------------------------------------

    pub fn snap(&self, name: &str) -> Result<Option<SnapState>> {
        self.doc(&SNAPS, &[name])
    }

    pub fn snaps(&self) -> Result<Vec<SnapState>> {
        let mut stmt = self.conn.prepare("SELECT data FROM snaps ORDER BY name")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(serde_json::from_str(&row?)?);
        }
        Ok(out)
    }

    pub fn put_snap(&self, snap: &SnapState) -> Result<()> {
        self.put_doc(&SNAPS, &[&snap.name], Some(snap))
    }

    pub fn delete_snap(&self, name: &str) -> Result<()> {
        self.put_doc::<SnapState>(&SNAPS, &[name], None)?;
        self.drop_holds(name, true)?;
        self.set_refresh_pending(name, None)
    }

    /// A snap's configuration document (empty when nothing is set).
    pub fn config(&self, name: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
        Ok(self.config_entry(name)?.unwrap_or_default())
    }

    // --- changes and tasks -------------------------------------------------------------------------

    /// Record a new change with its tasks, all `Do`, in one transaction. Returns its id.
    pub fn add_change(
        &mut self,
        kind: &str,
        summary: &str,
        snaps: &[String],
        uid: u32,
        request: &serde_json::Value,
        tasks: &[Task],
    ) -> Result<u64> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO changes (kind, summary, status, snaps, uid, spawn_time, request)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                kind,
                summary,
                ChangeStatus::Do,
                serde_json::to_string(snaps)?,
                uid,
                now() as i64,
                serde_json::to_string(request)?
            ],
        )?;
        let id = tx.last_insert_rowid() as u64;
        for (seq, task) in tasks.iter().enumerate() {
            tx.execute(
                "INSERT INTO tasks (change_id, seq, kind, summary, status, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id as i64,
                    seq as i64,
                    task.kind(),
                    task.summary(),
                    TaskStatus::Do,
                    serde_json::to_string(task)?
                ],
            )?;
        }
        tx.commit()?;
        Ok(id)
    }

    /// Add tasks at the end of a change, `Do` (what `snapctl` queues from a hook: snapd's
    /// `queueCommand`). Call inside the hook task's own transaction.
    pub fn append_tasks(&self, change_id: u64, tasks: &[Task]) -> Result<()> {
        let next: i64 = self.conn.query_row(
            "SELECT COALESCE(MAX(seq) + 1, 0) FROM tasks WHERE change_id = ?1",
            params![change_id as i64],
            |r| r.get(0),
        )?;
        for (i, task) in tasks.iter().enumerate() {
            self.conn.execute(
                "INSERT INTO tasks (change_id, seq, kind, summary, status, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    change_id as i64,
                    next + i as i64,
                    task.kind(),
                    task.summary(),
                    TaskStatus::Do,
                    serde_json::to_string(task)?
                ],
            )?;
        }
        Ok(())
    }

    fn change_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(ChangeRow, String, String)> {
        Ok((
            ChangeRow {
                id: r.get::<_, i64>(0)? as u64,
                kind: r.get(1)?,
                summary: r.get(2)?,
                status: r.get(3)?,
                snaps: Vec::new(),
                uid: r.get::<_, i64>(5)? as u32,
                spawn_time: r.get::<_, i64>(6)? as u64,
                ready_time: r.get::<_, i64>(7)? as u64,
                error_kind: r.get(8)?,
                error: r.get(9)?,
                request: serde_json::Value::Null,
            },
            r.get(4)?,
            r.get(10)?,
        ))
    }

    const CHANGE_COLUMNS: &'static str =
        "id, kind, summary, status, snaps, uid, spawn_time, ready_time, error_kind, error, request";

    pub fn change(&self, id: u64) -> Result<Option<ChangeRow>> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {} FROM changes WHERE id = ?1", Self::CHANGE_COLUMNS),
                [id as i64],
                Self::change_from_row,
            )
            .optional()?;
        row.map(|(mut c, snaps, request)| {
            c.snaps = serde_json::from_str(&snaps)?;
            c.request = serde_json::from_str(&request)?;
            Ok(c)
        })
        .transpose()
    }

    pub fn changes(&self) -> Result<Vec<ChangeRow>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {} FROM changes ORDER BY id",
            Self::CHANGE_COLUMNS
        ))?;
        let rows = stmt.query_map([], Self::change_from_row)?;
        let mut out = Vec::new();
        for row in rows {
            let (mut c, snaps, request) = row?;
            c.snaps = serde_json::from_str(&snaps)?;
            c.request = serde_json::from_str(&request)?;
            out.push(c);
        }
        Ok(out)
    }

    /// Changes that had not finished: what recovery must settle.
    pub fn unfinished_changes(&self) -> Result<Vec<ChangeRow>> {
        Ok(self
            .changes()?
            .into_iter()
            .filter(|c| c.status.is_unfinished())
            .collect())
    }

    pub fn set_change_status(&self, id: u64, status: ChangeStatus) -> Result<()> {
        self.conn.execute(
            "UPDATE changes SET status = ?2 WHERE id = ?1",
            params![id as i64, status],
        )?;
        Ok(())
    }

    /// Record why part of a running change failed (a lane given up), before it ends: a restart
    /// that finishes the change reports it.
    pub fn note_change_error(&self, id: u64, error_kind: &str, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE changes SET error_kind = ?2, error = ?3 WHERE id = ?1",
            params![id as i64, error_kind, error],
        )?;
        Ok(())
    }

    pub fn finish_change(
        &self,
        id: u64,
        status: ChangeStatus,
        error_kind: &str,
        error: &str,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE changes SET status = ?2, error_kind = ?3, error = ?4, ready_time = ?5 WHERE id = ?1",
            params![id as i64, status, error_kind, error, now() as i64],
        )?;
        Ok(())
    }

    pub fn tasks(&self, change_id: u64) -> Result<Vec<TaskRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, summary, status, data FROM tasks WHERE change_id = ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map([change_id as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, TaskStatus>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, summary, status, data) = row?;
            let seq = seq as u32;
            let task = serde_json::from_str(&data).map_err(|source| StateError::Task {
                change: change_id,
                seq,
                source,
            })?;
            out.push(TaskRow {
                change_id,
                seq,
                summary,
                status,
                task,
            });
        }
        Ok(out)
    }

    /// Record a task's status together with its data (what its undo needs, as it is now).
    pub fn set_task(
        &self,
        change_id: u64,
        seq: u32,
        status: TaskStatus,
        task: &Task,
    ) -> Result<()> {
        self.conn.execute(
            // The summary follows what the task decided (a service start that found no systemd).
            "UPDATE tasks SET status = ?3, data = ?4, summary = ?5 WHERE change_id = ?1 AND seq = ?2",
            params![
                change_id as i64,
                seq as i64,
                status,
                serde_json::to_string(task)?,
                task.summary()
            ],
        )?;
        crash_point();
        Ok(())
    }

    /// Run `f` in one transaction: a task's final status and the snap state it changed are written
    /// together, or not at all.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&State) -> Result<T>) -> Result<T> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        match f(self) {
            Ok(v) => {
                self.conn.execute_batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    pub fn next_local_revision(&self, name: &str) -> Result<String> {
        let used = self
            .snap(name)?
            .map(|s| {
                s.sequence
                    .iter()
                    .filter_map(|r| r.revision.strip_prefix('x')?.parse::<u32>().ok())
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        // Also never reuse a local revision a removed-but-snapshotted install had.
        let key = format!("local-revision:{name}");
        let last: u32 = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [&key], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let next = used.max(last) + 1;
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, next.to_string()],
        )?;
        Ok(format!("x{next}"))
    }
}

/// Fault injection for the crash tests, in debug builds only: with `SNAPSHELF_CRASH_AFTER=n` the
/// helper kills itself with SIGKILL, as a crash would, right after the n-th task status it
/// records, so a test can stop it at every task boundary in turn. Release builds have no switch.
#[cfg(debug_assertions)]
fn crash_point() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static SEEN: AtomicU64 = AtomicU64::new(0);
    static LIMIT: OnceLock<Option<u64>> = OnceLock::new();
    let limit = LIMIT.get_or_init(|| {
        std::env::var("SNAPSHELF_CRASH_AFTER")
            .ok()
            .and_then(|v| v.parse().ok())
    });
    if let Some(n) = *limit {
        if SEEN.fetch_add(1, Ordering::SeqCst) + 1 == n {
            // SAFETY: raising a signal at ourselves; SIGKILL ends the process on the spot.
            unsafe {
                libc::raise(libc::SIGKILL);
            }
        }
    }
}

#[cfg(not(debug_assertions))]
fn crash_point() {}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(name: &str, revs: &[&str]) -> SnapState {
        SnapState {
            name: name.into(),
            snap_id: "id".into(),
            snap_type: "app".into(),
            publisher: "p".into(),
            publisher_validation: "verified".into(),
            title: "T".into(),
            summary: "S".into(),
            description: String::new(),
            confinement: "strict".into(),
            base: Some("shelf-base".into()),
            license: String::new(),
            icon_url: String::new(),
            tracking_channel: "latest/stable".into(),
            held: false,
            current: revs.last().unwrap().to_string(),
            sequence: revs
                .iter()
                .map(|r| RevisionState {
                    revision: r.to_string(),
                    version: "1".into(),
                    channel: "latest/stable".into(),
                    size: 1,
                    sha3_384: String::new(),
                    snap_yaml: String::new(),
                    extracted: false,
                    installed_at: 0,
                })
                .collect(),
            blocked: vec![],
            connections: Default::default(),
            aliases: Default::default(),
            content: Default::default(),
            dbus: Default::default(),
            declared_auto_connect: Default::default(),
            iface_attrs: Default::default(),
        }
    }

    #[test]
    fn snaps_round_trip() {
        let st = State::in_memory().unwrap();
        let s = snap("hello", &["1", "2"]);
        st.put_snap(&s).unwrap();
        assert_eq!(st.snap("hello").unwrap().unwrap(), s);
        assert_eq!(st.snaps().unwrap().len(), 1);
        st.delete_snap("hello").unwrap();
        assert!(st.snap("hello").unwrap().is_none());
    }

    #[test]
    fn changes_and_tasks_are_recorded_before_they_run() {
        use crate::engine::task;
        let mut st = State::in_memory().unwrap();
        let mount = Task::Mount(task::mount::Mount {
            name: "hello".into(),
            revision: "1".into(),
        });
        let id = st
            .add_change(
                "install",
                "Install \"hello\"",
                &["hello".into()],
                1000,
                &serde_json::json!({"names": ["hello"]}),
                &[
                    mount.clone(),
                    Task::Gc(task::gc::Gc {
                        name: "hello".into(),
                    }),
                ],
            )
            .unwrap();
        assert_eq!(st.unfinished_changes().unwrap().len(), 1);
        let tasks = st.tasks(id).unwrap();
        assert_eq!(tasks.len(), 2);
        assert!(tasks.iter().all(|t| t.status == TaskStatus::Do));
        assert_eq!(tasks[0].task, mount);
        let kind: String = st
            .conn
            .query_row("SELECT kind FROM tasks WHERE seq = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kind, "gc");
        let other = Task::Mount(task::mount::Mount {
            name: "hello".into(),
            revision: "2".into(),
        });
        st.set_task(id, 0, TaskStatus::Done, &other).unwrap();
        assert_eq!(st.tasks(id).unwrap()[0].task, other);
        assert_eq!(st.tasks(id).unwrap()[0].status, TaskStatus::Done);
        st.finish_change(id, ChangeStatus::Done, "", "").unwrap();
        assert!(st.unfinished_changes().unwrap().is_empty());
        let c = st.change(id).unwrap().unwrap();
        assert_eq!(c.snaps, vec!["hello".to_string()]);
        assert_eq!(c.status, ChangeStatus::Done);
        assert!(c.ready_time > 0);
    }

    /// What `snapctl` queues from a hook goes after the change's last task, `Do`.
    #[test]
    fn tasks_are_appended_after_the_last() {
        let mut st = State::in_memory().unwrap();
        let gc = |n: &str| Task::Gc(crate::engine::task::gc::Gc { name: n.into() });
        let id = st
            .add_change(
                "install",
                "s",
                &["a".into()],
                0,
                &serde_json::json!({}),
                &[gc("a"), gc("b")],
            )
            .unwrap();
        st.set_task(id, 1, TaskStatus::Done, &gc("b")).unwrap();
        st.append_tasks(id, &[gc("c"), gc("d")]).unwrap();
        let tasks = st.tasks(id).unwrap();
        let seqs: Vec<(u32, TaskStatus)> = tasks.iter().map(|t| (t.seq, t.status)).collect();
        assert_eq!(
            seqs,
            [
                (0, TaskStatus::Do),
                (1, TaskStatus::Done),
                (2, TaskStatus::Do),
                (3, TaskStatus::Do)
            ]
        );
        assert_eq!(tasks[3].task, gc("d"));
    }

    #[test]
    fn statuses_are_stored_as_their_names() {
        let st = State::in_memory().unwrap();
        for s in ["Do", "Doing", "Done", "Undoing", "Undone", "Error"] {
            let back: TaskStatus = st.conn.query_row("SELECT ?1", [s], |r| r.get(0)).unwrap();
            assert_eq!(back.as_str(), s);
        }
        let bad = st
            .conn
            .query_row("SELECT 'Finished'", [], |r| r.get::<_, TaskStatus>(0));
        assert!(bad.unwrap_err().to_string().contains("Finished"));
        assert_eq!(
            ChangeStatus::parse("Cancelled"),
            Some(ChangeStatus::Cancelled)
        );
        assert!(!ChangeStatus::Error.is_unfinished());
    }

    #[test]
    fn an_unreadable_task_is_named() {
        let mut st = State::in_memory().unwrap();
        let id = st
            .add_change("x", "x", &[], 0, &serde_json::Value::Null, &[])
            .unwrap();
        st.conn
            .execute(
                "INSERT INTO tasks VALUES (?1, 0, 'future', 's', 'Do', '{\"kind\":\"future\"}')",
                [id as i64],
            )
            .unwrap();
        let e = st.tasks(id).unwrap_err().to_string();
        assert!(e.contains(&format!("task 0 of change {id}")), "{e}");
    }

    #[test]
    fn a_failed_transaction_changes_nothing() {
        let mut st = State::in_memory().unwrap();
        let r: Result<()> = st.transaction(|st| {
            st.put_snap(&snap("a", &["1"]))?;
            Err(StateError::Json(
                serde_json::from_str::<u8>("x").unwrap_err(),
            ))
        });
        assert!(r.is_err());
        assert!(st.snap("a").unwrap().is_none());
    }

    #[test]
    fn local_revisions_count_up_and_are_never_reused() {
        let st = State::in_memory().unwrap();
        assert_eq!(st.next_local_revision("basic").unwrap(), "x1");
        st.put_snap(&snap("basic", &["x1"])).unwrap();
        assert_eq!(st.next_local_revision("basic").unwrap(), "x2");
        st.delete_snap("basic").unwrap();
        assert_eq!(st.next_local_revision("basic").unwrap(), "x3");
    }
}
