//! The runner with the recording system: order of run and undo, Cancel, recovery on both sides of
//! the commit point, idempotence. No root, no network, no store: the changes here are made of the
//! tasks an `InstallFile`, a refresh's clean-up and a remove use.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::files::Launcher;
use super::system::Recording;
use super::task::*;
use super::*;
use crate::state::{ChangeStatus, RevisionState, TaskStatus};

struct Fixture {
    _root: tempfile::TempDir,
    paths: Paths,
    sys: Arc<Recording>,
}

impl Fixture {
    fn new() -> Fixture {
        let root = tempfile::tempdir().unwrap();
        let paths = Paths::new(root.path());
        let sys = Arc::new(Recording::new(root.path()));
        Fixture {
            _root: root,
            paths,
            sys,
        }
    }

    async fn engine(&self) -> Engine {
        let cfg = EngineConfig {
            paths: self.paths.clone(),
            config: crate::config::Config::default(),
            // Nothing here downloads: a port nothing listens on.
            store: StoreClient::new("http://127.0.0.1:9").unwrap(),
            trusted: Vec::new(),
            launcher: Launcher {
                confine: "/nonexistent/snapshelf-confine".into(),
                root: Some(self.paths.root().to_path_buf()),
            },
            allow_loop: false,
        };
        Engine::open_with(cfg, self.sys.clone()).await.unwrap()
    }

    /// `"mount snap/a/1"`: the recording's words for a path.
    fn rel(&self, op: &str, p: &Path) -> String {
        format!(
            "{op} {}",
            p.strip_prefix(self.paths.root()).unwrap().display()
        )
    }

    /// The tasks of an `InstallFile` of revision `rev` of a new snap, its blob in place.
    fn install_file(&self, name: &str, rev: &str) -> Vec<Task> {
        std::fs::create_dir_all(self.paths.blobs_dir()).unwrap();
        std::fs::write(self.paths.blob(name, rev), "snap").unwrap();
        vec![
            Task::AdoptFile(adopt_file::AdoptFile {
                name: name.into(),
                revision: rev.into(),
            }),
            Task::Mount(mount::Mount {
                name: name.into(),
                revision: rev.into(),
            }),
            Task::Data(data::Data {
                name: name.into(),
                revision: rev.into(),
                copy_from: None,
                restore_snapshot: true,
                snap_id: String::new(),
                created_data: None,
                created_common: None,
                restored: None,
                user_copies: None,
            }),
            Task::Link(link::Link {
                name: name.into(),
                after: Box::new(snap(name, &[rev])),
                before: None,
                captured: false,
            }),
        ]
    }
}

fn snap(name: &str, revs: &[&str]) -> SnapState {
    SnapState {
        name: name.into(),
        snap_id: String::new(),
        snap_type: "app".into(),
        publisher: String::new(),
        publisher_validation: String::new(),
        title: name.into(),
        summary: String::new(),
        description: String::new(),
        confinement: "strict".into(),
        base: None,
        license: String::new(),
        icon_url: String::new(),
        tracking_channel: String::new(),
        held: false,
        current: revs.last().unwrap().to_string(),
        sequence: revs
            .iter()
            .map(|r| RevisionState {
                revision: r.to_string(),
                version: "1".into(),
                channel: String::new(),
                size: 4,
                sha3_384: String::new(),
                snap_yaml: String::new(),
                extracted: false,
                installed_at: 0,
            })
            .collect(),
        blocked: Vec::new(),
        connections: Default::default(),
        aliases: Default::default(),
        content: Default::default(),
        dbus: Default::default(),
        declared_auto_connect: Default::default(),
        iface_attrs: Default::default(),
    }
}

async fn start(engine: &Engine, names: &[&str], tasks: Vec<Task>) -> u64 {
    let names = names.iter().map(|n| n.to_string()).collect();
    engine
        .start("test", "test", names, 0, serde_json::Value::Null, tasks)
        .unwrap()
}

/// Wait for a change to end; its row and its tasks' statuses.
async fn finished(engine: &Engine, id: u64) -> (ChangeRow, Vec<TaskStatus>) {
    for _ in 0..1000 {
        let v = engine.change(id).unwrap().unwrap();
        if !v.row.status.is_unfinished() && lock(&engine.inner.live).get(&id).is_none() {
            return (v.row, v.tasks.iter().map(|t| t.status).collect());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("change {id} did not finish");
}

#[tokio::test]
async fn a_change_runs_its_tasks_in_order() {
    let f = Fixture::new();
    let engine = f.engine().await;
    let id = start(&engine, &["a"], f.install_file("a", "x1")).await;
    let (row, statuses) = finished(&engine, id).await;
    assert_eq!(row.status, ChangeStatus::Done, "{}", row.error);
    assert!(statuses.iter().all(|s| *s == TaskStatus::Done));
    let mount = f.paths.mount_point("a", "x1");
    assert_eq!(
        f.sys.log(),
        vec![f.rel("mount", &mount), "link a x1".into()]
    );
    assert!(f.sys.is_mounted(&mount));
    assert!(f.paths.data_dir("a", "x1").is_dir());
    assert!(f.paths.common_dir("a").is_dir());
    assert_eq!(engine.snap("a").unwrap().unwrap().current, "x1");
}

#[tokio::test]
async fn a_failure_undoes_every_task_in_reverse() {
    let f = Fixture::new();
    let engine = f.engine().await;
    f.sys.fail_on("link a");
    let id = start(&engine, &["a"], f.install_file("a", "x1")).await;
    let (row, statuses) = finished(&engine, id).await;
    assert_eq!(row.status, ChangeStatus::Error);
    assert_eq!(row.error_kind, "internal");
    assert!(
        row.error.contains("injected failure: link a x1"),
        "{}",
        row.error
    );
    // The services' start after the link never ran.
    assert_eq!(statuses[..4], vec![TaskStatus::Undone; 4]);
    assert_eq!(statuses[4], TaskStatus::Do);
    let mount = f.paths.mount_point("a", "x1");
    assert_eq!(
        f.sys.log(),
        vec![
            f.rel("mount", &mount),
            "link a x1".into(),
            // Undo, last task first: the link (nothing was there before), the data, the mount.
            "unlink a".into(),
            f.rel("remove", &f.paths.data_dir("a", "x1")),
            f.rel("remove", &f.paths.common_dir("a")),
            f.rel("unmount", &mount),
        ]
    );
    assert!(engine.snap("a").unwrap().is_none());
    assert!(!f.paths.data_root("a").exists());
    assert!(!f.paths.blob("a", "x1").exists());
    assert!(!f.sys.is_mounted(&mount));
    // The snap is free again for another change.
    assert!(engine.ensure_free(&["a".into()]).is_ok());
}

#[tokio::test]
async fn cancel_undoes_what_was_done_and_stops_the_rest() {
    let f = Fixture::new();
    let engine = f.engine().await;
    let e = engine.clone();
    // Cancel while the mount runs, as a person pressing Cancel would.
    f.sys.on("mount", move || {
        for id in e.change_ids().unwrap() {
            let _ = e.cancel(id);
        }
    });
    let id = start(&engine, &["a"], f.install_file("a", "x1")).await;
    let (row, statuses) = finished(&engine, id).await;
    assert_eq!(row.status, ChangeStatus::Cancelled);
    assert_eq!(row.error_kind, "cancelled");
    let mount = f.paths.mount_point("a", "x1");
    assert_eq!(
        f.sys.log(),
        vec![f.rel("mount", &mount), f.rel("unmount", &mount)]
    );
    use TaskStatus::*;
    assert_eq!(statuses, vec![Undone, Undone, Do, Do, Do]);
    assert!(engine.snap("a").unwrap().is_none());
}

#[tokio::test]
async fn cancel_is_refused_after_the_commit_point() {
    let f = Fixture::new();
    let engine = f.engine().await;
    lock(&engine.inner.state)
        .put_snap(&snap("a", &["1", "2", "3"]))
        .unwrap();
    let after = snap("a", &["1", "2", "3", "x1"]);
    let mut tasks = f.install_file("a", "x1");
    tasks.pop();
    tasks.push(Task::Link(link::Link {
        name: "a".into(),
        after: Box::new(after),
        before: None,
        captured: false,
    }));
    tasks.push(Task::Gc(gc::Gc { name: "a".into() }));
    let answer = Arc::new(Mutex::new(None));
    let (e, a) = (engine.clone(), answer.clone());
    // Gc unmounts the oldest revision: by then the change has happened.
    f.sys.on("unmount", move || {
        let id = e.change_ids().unwrap()[0];
        *a.lock().unwrap() = Some(e.cancel(id).map_err(|e| e.kind));
    });
    let id = start(&engine, &["a"], tasks).await;
    let (row, _) = finished(&engine, id).await;
    assert_eq!(row.status, ChangeStatus::Done, "{}", row.error);
    assert_eq!(
        *answer.lock().unwrap(),
        Some(Err(ErrorKind::InvalidArgument))
    );
    let kept: Vec<String> = engine
        .snap("a")
        .unwrap()
        .unwrap()
        .sequence
        .iter()
        .map(|r| r.revision.clone())
        .collect();
    assert_eq!(
        kept,
        vec!["3", "x1"],
        "retain keeps two, the current one included"
    );
}

/// Write a change as a helper that crashed would have left it.
fn interrupted(f: &Fixture, status: ChangeStatus, tasks: &[(TaskStatus, Task)]) -> u64 {
    let mut st = crate::state::State::open(&f.paths.state_db()).unwrap();
    let all: Vec<Task> = tasks.iter().map(|(_, t)| t.clone()).collect();
    let id = st
        .add_change(
            "test",
            "test",
            &["a".into()],
            0,
            &serde_json::Value::Null,
            &all,
        )
        .unwrap();
    for (seq, (s, t)) in tasks.iter().enumerate() {
        st.set_task(id, seq as u32, *s, t).unwrap();
    }
    st.set_change_status(id, status).unwrap();
    id
}

#[tokio::test]
async fn recovery_before_the_commit_point_undoes_in_reverse() {
    let f = Fixture::new();
    let mut tasks = f.install_file("a", "x1");
    // The data task had decided, and made its folders, when the helper died.
    let Task::Data(d) = &mut tasks[2] else {
        unreachable!()
    };
    d.created_data = Some(true);
    d.created_common = Some(true);
    d.restored = Some(false);
    std::fs::create_dir_all(f.paths.data_dir("a", "x1")).unwrap();
    std::fs::create_dir_all(f.paths.common_dir("a")).unwrap();
    std::fs::create_dir_all(f.paths.mount_point("a", "x1")).unwrap();
    use TaskStatus::*;
    let statuses = [Done, Done, Doing, Do];
    let rows: Vec<_> = statuses.into_iter().zip(tasks).collect();
    let id = interrupted(&f, ChangeStatus::Doing, &rows);
    let engine = f.engine().await;
    let mount = f.paths.mount_point("a", "x1");
    assert_eq!(
        f.sys.log(),
        vec![
            f.rel("remove", &f.paths.data_dir("a", "x1")),
            f.rel("remove", &f.paths.common_dir("a")),
            f.rel("unmount", &mount),
        ]
    );
    let v = engine.change(id).unwrap().unwrap();
    assert_eq!(v.row.status, ChangeStatus::Error);
    assert!(v.row.error.contains("everything it did was undone"));
    let got: Vec<TaskStatus> = v.tasks.iter().map(|t| t.status).collect();
    assert_eq!(got, vec![Undone, Undone, Undone, Do]);
    assert!(!f.paths.blob("a", "x1").exists());
    assert!(!f.paths.snap_dir("a").exists());
}

#[tokio::test]
async fn recovery_after_the_commit_point_finishes_the_change() {
    let f = Fixture::new();
    let before = snap("a", &["1", "2"]);
    let after = snap("a", &["1", "2", "3"]);
    {
        let st = crate::state::State::open(&f.paths.state_db()).unwrap();
        st.put_snap(&after).unwrap();
    }
    use TaskStatus::*;
    let link = Task::Link(link::Link {
        name: "a".into(),
        after: Box::new(after),
        before: Some(Box::new(before)),
        captured: true,
    });
    let gc = Task::Gc(gc::Gc { name: "a".into() });
    let id = interrupted(&f, ChangeStatus::Doing, &[(Done, link), (Doing, gc)]);
    let engine = f.engine().await;
    let v = engine.change(id).unwrap().unwrap();
    assert_eq!(v.row.status, ChangeStatus::Done, "{}", v.row.error);
    assert_eq!(v.tasks[1].status, Done);
    let log = f.sys.log();
    // Gc finished (revision 1 went), then start-up mounted what is kept and linked the snap.
    assert_eq!(log[0], f.rel("unmount", &f.paths.mount_point("a", "1")));
    assert_eq!(log[1], f.rel("remove", &f.paths.data_dir("a", "1")));
    assert!(log.contains(&f.rel("mount", &f.paths.mount_point("a", "3"))));
    assert_eq!(log.last().unwrap(), "link a 3");
    let kept = engine.snap("a").unwrap().unwrap().sequence.len();
    assert_eq!(kept, 2);
}

#[tokio::test]
async fn a_change_that_cannot_be_read_does_not_stop_start_up() {
    let f = Fixture::new();
    let id = interrupted(&f, ChangeStatus::Doing, &[]);
    {
        let st = rusqlite::Connection::open(f.paths.state_db()).unwrap();
        st.execute(
            "INSERT INTO tasks VALUES (?1, 0, 'hook', 'a newer kind', 'Doing', '{\"kind\":\"hook\"}')",
            [id as i64],
        )
        .unwrap();
    }
    let engine = f.engine().await;
    let row = lock(&engine.inner.state).change(id).unwrap().unwrap();
    assert_eq!(row.status, ChangeStatus::Error);
    assert!(row.error.contains("task 0 of change"), "{}", row.error);
}

#[tokio::test]
async fn runs_and_undos_are_idempotent() {
    let f = Fixture::new();
    let engine = f.engine().await;
    lock(&engine.inner.state)
        .put_snap(&snap("a", &["1"]))
        .unwrap();
    std::fs::create_dir_all(f.paths.data_dir("a", "1")).unwrap();
    std::fs::write(f.paths.data_dir("a", "1").join("kept"), "yes").unwrap();
    let mut tasks = f.install_file("a", "2");
    tasks.remove(0);
    let Task::Data(d) = &mut tasks[1] else {
        unreachable!()
    };
    d.copy_from = Some("1".into());
    d.restore_snapshot = false;
    tasks[2] = Task::Link(link::Link {
        name: "a".into(),
        after: Box::new(snap("a", &["1", "2"])),
        before: None,
        captured: false,
    });
    let mut conf = serde_json::Map::new();
    conf.insert("v".into(), 1.into());
    lock(&engine.inner.state)
        .set_config("a", Some(&conf))
        .unwrap();
    tasks.push(Task::RevisionConfig(revision_config::RevisionConfig::new(
        "a", "1", None,
    )));
    let id = lock(&engine.inner.state)
        .add_change("test", "test", &[], 0, &serde_json::Value::Null, &tasks)
        .unwrap();
    let cx = |seq| Ctx {
        engine: engine.clone(),
        change: id,
        seq,
        cancel: CancellationToken::new(),
    };
    for (seq, task) in tasks.iter().enumerate() {
        let cx = cx(seq as u32);
        let once = task.clone().run(&cx).await.unwrap();
        // Run again, as recovery would after a crash right after the first run: same outcome.
        let twice = once.clone().run(&cx).await.unwrap();
        assert_eq!(once, twice);
        lock(&engine.inner.state)
            .set_task(id, seq as u32, TaskStatus::Done, &once)
            .unwrap();
    }
    let copied = f.paths.data_dir("a", "2").join("kept");
    assert_eq!(std::fs::read_to_string(&copied).unwrap(), "yes");
    let kept = lock(&engine.inner.state).revision_config("a", "1").unwrap();
    assert_eq!(kept.as_ref(), Some(&conf));
    assert_eq!(engine.snap("a").unwrap().unwrap().current, "2");
    let done: Vec<Task> = lock(&engine.inner.state)
        .tasks(id)
        .unwrap()
        .into_iter()
        .map(|t| t.task)
        .collect();
    for (seq, task) in done.iter().enumerate().rev() {
        task.undo(&cx(seq as u32)).unwrap();
        task.undo(&cx(seq as u32)).unwrap();
    }
    let s = engine.snap("a").unwrap().unwrap();
    assert_eq!(s.current, "1", "the link's undo put the snap back");
    assert!(!f.paths.data_dir("a", "2").exists());
    assert!(f.paths.data_dir("a", "1").join("kept").exists());
    assert!(!f.sys.is_mounted(&f.paths.mount_point("a", "2")));
    let st = lock(&engine.inner.state);
    assert!(st.revision_configs("a").unwrap().is_empty());
    assert_eq!(st.config("a").unwrap(), conf);
}

/// A removed snap's snapshot goes back only into a snap with its snap-id: a local file of the
/// same name, or another publisher's snap, starts with empty data and leaves the snapshot alone.
#[tokio::test]
async fn a_snapshot_is_restored_only_into_the_same_snap_id() {
    for (installing, restored) in [("", false), ("id-other", false), ("id-a", true)] {
        let f = Fixture::new();
        let engine = f.engine().await;
        std::fs::create_dir_all(f.paths.data_dir("a", "1")).unwrap();
        std::fs::write(f.paths.data_dir("a", "1").join("secret"), "kept").unwrap();
        data_dirs::discard_data(&f.paths, "a", false, "1", "id-a").unwrap();
        let mut tasks = f.install_file("a", "x1");
        let Task::Data(d) = &mut tasks[2] else {
            unreachable!()
        };
        d.snap_id = installing.into();
        let id = start(&engine, &["a"], tasks).await;
        let (row, _) = finished(&engine, id).await;
        assert_eq!(row.status, ChangeStatus::Done, "{}", row.error);
        let secret = f.paths.data_dir("a", "x1").join("secret");
        assert_eq!(secret.exists(), restored, "installing {installing:?}");
        assert_eq!(
            f.paths.snapshot_dir("a").join("data/secret").exists(),
            !restored,
            "installing {installing:?}: the snapshot is kept for its owner"
        );
    }
}

/// The alias tasks on the recording system: each records the aliases before and after, runs and
/// undoes idempotently, and a failure after them (here: the links cannot be made) puts the aliases
/// before back in the state and on disk.
#[tokio::test]
async fn alias_tasks_record_undo_and_are_idempotent() {
    let f = Fixture::new();
    let engine = f.engine().await;
    let mut s = snap("ab", &["1"]);
    s.sequence[0].snap_yaml =
        "name: ab\nversion: '1'\napps:\n  cmd:\n    command: bin/cmd\n  d:\n    command: bin/d\n    daemon: simple\n"
            .into();
    lock(&engine.inner.state).put_snap(&s).unwrap();
    let alias = |name: &str| {
        Task::Alias(alias::Alias {
            name: "ab".into(),
            app: "cmd".into(),
            alias: name.into(),
            before: None,
            after: None,
        })
    };
    let tasks = vec![
        alias("one"),
        alias("two"),
        Task::Unalias(unalias::Unalias {
            name: "ab".into(),
            alias: Some("one".into()),
            before: None,
            after: None,
        }),
    ];
    let id = lock(&engine.inner.state)
        .add_change("alias", "test", &[], 0, &serde_json::Value::Null, &tasks)
        .unwrap();
    let cx = |seq| Ctx {
        engine: engine.clone(),
        change: id,
        seq,
        cancel: CancellationToken::new(),
    };
    let mut done = Vec::new();
    for (seq, task) in tasks.iter().enumerate() {
        let once = task.clone().run(&cx(seq as u32)).await.unwrap();
        let twice = once.clone().run(&cx(seq as u32)).await.unwrap();
        assert_eq!(once, twice);
        done.push(once);
    }
    let now = engine.snap("ab").unwrap().unwrap().aliases.effective();
    assert_eq!(
        now.into_iter().collect::<Vec<_>>(),
        [("two".to_string(), "cmd".to_string())]
    );
    assert_eq!(f.sys.log().last().unwrap(), "aliases ab two=cmd");
    for (seq, task) in done.iter().enumerate().rev() {
        task.undo(&cx(seq as u32)).unwrap();
        task.undo(&cx(seq as u32)).unwrap();
    }
    assert!(engine.snap("ab").unwrap().unwrap().aliases.is_empty());
    assert_eq!(f.sys.log().last().unwrap(), "aliases ab ");

    // A daemon is no alias target; refused before anything is recorded or written.
    f.sys.clear();
    let daemon = Task::Alias(alias::Alias {
        name: "ab".into(),
        app: "d".into(),
        alias: "dd".into(),
        before: None,
        after: None,
    });
    let e = daemon.run(&cx(0)).await.unwrap_err();
    assert!(e.message.contains("is a daemon"), "{e:?}");
    assert!(f.sys.log().is_empty());

    // Links that cannot be made fail the change, which leaves the aliases as they were.
    f.sys.fail_on("aliases ab");
    let c = start(&engine, &["ab"], vec![alias("three")]).await;
    let (row, statuses) = finished(&engine, c).await;
    assert_eq!(row.status, ChangeStatus::Error);
    assert_eq!(statuses, [TaskStatus::Error]);
    assert!(engine.snap("ab").unwrap().unwrap().aliases.is_empty());
}

/// A content connection's task: run twice (recovery) is the same as once, undo twice puts the
/// plug back unconnected, and the user's profile follows (the recording links it each time).
#[tokio::test]
async fn content_connections_run_and_undo_idempotently() {
    use crate::engine::content::SlotRef;
    let f = Fixture::new();
    let engine = f.engine().await;
    let mut user = snap("user", &["1"]);
    user.sequence[0].snap_yaml = "name: user\nversion: '1'\napps:\n  sh:\n    command: bin/sh\nplugs:\n  lib:\n    interface: content\n    target: $SNAP_DATA/lib\n".into();
    let mut provider = snap("provider", &["3"]);
    provider.sequence[0].snap_yaml = "name: provider\nversion: '1'\nslots:\n  lib:\n    interface: content\n    write: [$SNAP_DATA/lib]\n".into();
    for s in [&user, &provider] {
        lock(&engine.inner.state).put_snap(s).unwrap();
    }
    std::fs::create_dir_all(f.paths.data_dir("user", "1")).unwrap();
    std::fs::create_dir_all(f.paths.data_dir("provider", "3")).unwrap();
    let task = Task::ConnectContent(connect_content::ConnectContent {
        name: "user".into(),
        plug: "lib".into(),
        slot_snap: "provider".into(),
        slot: "lib".into(),
        connect: true,
        auto: false,
        before: None,
    });
    let id = lock(&engine.inner.state)
        .add_change(
            "test",
            "test",
            &[],
            0,
            &serde_json::Value::Null,
            std::slice::from_ref(&task),
        )
        .unwrap();
    let cx = Ctx {
        engine: engine.clone(),
        change: id,
        seq: 0,
        cancel: CancellationToken::new(),
    };
    let once = task.run(&cx).await.unwrap();
    let twice = once.clone().run(&cx).await.unwrap();
    assert_eq!(once, twice);
    let s = engine.snap("user").unwrap().unwrap();
    assert_eq!(
        s.content.get("lib"),
        Some(&SlotRef {
            snap: "provider".into(),
            slot: "lib".into()
        })
    );
    let c = engine.content_for(&s);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].provider_revision, "3");
    assert_eq!(engine.content_users("provider").unwrap().len(), 1);
    once.undo(&cx).unwrap();
    once.undo(&cx).unwrap();
    let s = engine.snap("user").unwrap().unwrap();
    assert!(s.content.is_empty() && s.connections.is_empty(), "{s:?}");
    assert!(engine.content_users("provider").unwrap().is_empty());
}

/// Start a change of `tasks` with failure lanes, as a refresh of several snaps does.
fn start_in_lanes(
    engine: &Engine,
    lanes: serde_json::Value,
    names: &[&str],
    tasks: Vec<Task>,
) -> u64 {
    let names = names.iter().map(|n| n.to_string()).collect();
    let request = serde_json::json!({ "lanes": lanes });
    engine
        .start("test", "test", names, 0, request, tasks)
        .unwrap()
}

#[tokio::test]
async fn a_failure_in_one_lane_undoes_only_that_lane() {
    let f = Fixture::new();
    let engine = f.engine().await;
    f.sys.fail_on("link b");
    let mut tasks = f.install_file("a", "x1");
    tasks.extend(f.install_file("b", "x1"));
    tasks.extend(f.install_file("c", "x1"));
    let lanes = serde_json::json!([["a"], ["b"], ["c"]]);
    let id = start_in_lanes(&engine, lanes, &["a", "b", "c"], tasks);
    let (row, _) = finished(&engine, id).await;
    assert_eq!(row.status, ChangeStatus::Error);
    assert_eq!(row.error_kind, "internal");
    assert!(
        row.error
            .contains("undone for \"b\": injected failure: link b x1"),
        "{}",
        row.error
    );
    assert!(
        row.error.contains("the rest of the change is done"),
        "{}",
        row.error
    );
    // a and c are installed; b's tasks were taken back (and its services' start never ran).
    assert_eq!(engine.snap("a").unwrap().unwrap().current, "x1");
    assert_eq!(engine.snap("c").unwrap().unwrap().current, "x1");
    assert!(engine.snap("b").unwrap().is_none());
    assert!(!f.paths.data_root("b").exists());
    assert!(!f.sys.is_mounted(&f.paths.mount_point("b", "x1")));
    assert!(f.sys.is_mounted(&f.paths.mount_point("c", "x1")));
    let v = engine.change(id).unwrap().unwrap();
    for t in &v.tasks {
        let want = if t.task.snap() == "b" {
            TaskStatus::Undone
        } else {
            TaskStatus::Done
        };
        assert_eq!(t.status, want, "{} of {}", t.task.kind(), t.task.snap());
    }
    assert!(engine.ensure_free(&["b".into()]).is_ok());
}

#[tokio::test]
async fn a_failure_while_lanes_run_side_by_side_gives_up_its_lane() {
    let f = Fixture::new();
    let engine = f.engine().await;
    f.sys
        .fail_on(&f.rel("mount", &f.paths.mount_point("a", "x1")));
    let mut tasks = f.install_file("a", "x1");
    tasks.extend(f.install_file("b", "x1"));
    let id = start_in_lanes(
        &engine,
        serde_json::json!([["a"], ["b"]]),
        &["a", "b"],
        tasks,
    );
    let (row, _) = finished(&engine, id).await;
    assert_eq!(row.status, ChangeStatus::Error);
    assert!(row.error.contains("undone for \"a\""), "{}", row.error);
    assert!(engine.snap("a").unwrap().is_none());
    assert!(!f.sys.is_mounted(&f.paths.mount_point("a", "x1")));
    assert!(!f.paths.data_root("a").exists());
    assert_eq!(engine.snap("b").unwrap().unwrap().current, "x1");
}

#[tokio::test]
async fn a_failure_of_a_snap_in_no_lane_undoes_the_whole_change() {
    let f = Fixture::new();
    let engine = f.engine().await;
    f.sys.fail_on("link base");
    let mut tasks = f.install_file("base", "x1");
    tasks.extend(f.install_file("a", "x1"));
    tasks.extend(f.install_file("b", "x1"));
    let id = start_in_lanes(
        &engine,
        serde_json::json!([["a"], ["b"]]),
        &["base", "a", "b"],
        tasks,
    );
    let (row, statuses) = finished(&engine, id).await;
    assert_eq!(row.status, ChangeStatus::Error);
    assert!(!row.error.contains("undone for"), "{}", row.error);
    assert!(statuses.iter().all(|s| *s != TaskStatus::Done));
    for n in ["base", "a", "b"] {
        assert!(engine.snap(n).unwrap().is_none(), "{n}");
    }
}

/// A crash in the middle of a lane's undo: start-up finishes that undo, keeps the other lane's
/// refresh and ends the change with the error the lane was given up with.
#[tokio::test]
async fn recovery_finishes_a_lane_undo_and_keeps_the_other_lanes() {
    let f = Fixture::new();
    let a = f.install_file("a", "x1");
    let b = f.install_file("b", "x1");
    std::fs::create_dir_all(f.paths.mount_point("b", "x1")).unwrap();
    use TaskStatus::*;
    let id = {
        let mut st = crate::state::State::open(&f.paths.state_db()).unwrap();
        st.put_snap(&snap("a", &["x1"])).unwrap();
        let all: Vec<Task> = a.iter().chain(b.iter()).cloned().collect();
        let request = serde_json::json!({ "lanes": [["a"], ["b"]] });
        let id = st
            .add_change("test", "test", &["a".into(), "b".into()], 0, &request, &all)
            .unwrap();
        let statuses = [Done, Done, Done, Done, Done, Done, Undone, Undone];
        for (seq, (s, t)) in statuses.iter().zip(&all).enumerate() {
            st.set_task(id, seq as u32, *s, t).unwrap();
        }
        st.set_change_status(id, ChangeStatus::Doing).unwrap();
        st.note_change_error(id, "hook-failed", "\"b\": the hook failed")
            .unwrap();
        id
    };
    let engine = f.engine().await;
    let v = engine.change(id).unwrap().unwrap();
    assert_eq!(v.row.status, ChangeStatus::Error);
    assert_eq!(v.row.error_kind, "hook-failed");
    assert_eq!(
        v.row.error,
        "undone for \"b\": the hook failed; the rest of the change is done"
    );
    let got: Vec<TaskStatus> = v.tasks.iter().map(|t| t.status).collect();
    assert_eq!(
        got,
        vec![Done, Done, Done, Done, Undone, Undone, Undone, Undone]
    );
    assert!(f
        .sys
        .log()
        .contains(&f.rel("unmount", &f.paths.mount_point("b", "x1"))));
    assert!(!f.paths.blob("b", "x1").exists());
    assert_eq!(engine.snap("a").unwrap().unwrap().current, "x1");
    assert!(engine.snap("b").unwrap().is_none());
}

/// A dbus connection's task: run twice (recovery) is the same as once, undo twice puts the plug
/// back unconnected; removing the slot's snap disconnects the plug in the same change, and a
/// removal that fails puts the connection back.
#[tokio::test]
async fn dbus_connections_run_undo_and_follow_the_slots_removal() {
    use crate::engine::content::SlotRef;
    let f = Fixture::new();
    let engine = f.engine().await;
    let mut user = snap("user", &["1"]);
    user.sequence[0].snap_yaml = "name: user\nversion: '1'\napps:\n  sh:\n    command: bin/sh\nplugs:\n  peer:\n    interface: dbus\n    bus: session\n    name: org.a.B\n".into();
    let mut provider = snap("provider", &["3"]);
    provider.sequence[0].snap_yaml = "name: provider\nversion: '1'\nslots:\n  peer:\n    interface: dbus\n    bus: session\n    name: org.a.B\n".into();
    for s in [&user, &provider] {
        lock(&engine.inner.state).put_snap(s).unwrap();
    }
    let to = SlotRef {
        snap: "provider".into(),
        slot: "peer".into(),
    };
    let task = Task::ConnectDbus(connect_dbus::ConnectDbus {
        name: "user".into(),
        plug: "peer".into(),
        slot_snap: "provider".into(),
        slot: "peer".into(),
        connect: true,
        before: None,
        attrs_before: None,
    });
    let id = lock(&engine.inner.state)
        .add_change(
            "test",
            "test",
            &[],
            0,
            &serde_json::Value::Null,
            std::slice::from_ref(&task),
        )
        .unwrap();
    let cx = Ctx {
        engine: engine.clone(),
        change: id,
        seq: 0,
        cancel: CancellationToken::new(),
    };
    let once = task.run(&cx).await.unwrap();
    let twice = once.clone().run(&cx).await.unwrap();
    assert_eq!(once, twice);
    let s = engine.snap("user").unwrap().unwrap();
    assert_eq!(s.dbus.get("peer"), Some(&to));
    assert_eq!(
        crate::interfaces::state_of(&s, "peer", "dbus"),
        (true, true)
    );
    // The profiles see it while the slot holds; a slot renamed by a refresh grants nothing,
    // though the connection stays recorded.
    assert_eq!(engine.dbus_effective(&s, None).dbus.len(), 1);
    assert_eq!(engine.dbus_users("provider").unwrap().len(), 1);
    let mut renamed = provider.clone();
    renamed.sequence[0].snap_yaml = renamed.sequence[0].snap_yaml.replace("org.a.B", "org.a.C");
    assert!(engine.dbus_effective(&s, Some(&renamed)).dbus.is_empty());
    assert_eq!(engine.dbus_effective(&s, Some(&provider)).dbus.len(), 1);
    once.undo(&cx).unwrap();
    once.undo(&cx).unwrap();
    assert!(engine.snap("user").unwrap().unwrap().dbus.is_empty());
    assert!(engine.dbus_users("provider").unwrap().is_empty());

    // Connected again; a removal of the provider that fails leaves the connection.
    once.run(&cx).await.unwrap();
    f.sys.fail_on("unlink provider");
    let c = engine
        .remove(&["provider".to_string()], (false, false), 0)
        .unwrap();
    let (row, _) = finished(&engine, c).await;
    assert_eq!(row.status, ChangeStatus::Error);
    assert_eq!(
        engine.snap("user").unwrap().unwrap().dbus.get("peer"),
        Some(&to)
    );
    let tasks = lock(&engine.inner.state).tasks(c).unwrap();
    let dbus: Vec<_> = tasks
        .iter()
        .filter(|t| t.task.kind() == "disconnect-dbus")
        .map(|t| t.status)
        .collect();
    assert_eq!(dbus, [TaskStatus::Undone]);
}

/// Connect tasks older helpers wrote (`before` an `Option<Option<bool>>`, whose "the policy
/// decided" was written as `null`, like "not run yet"): recovery reads a done one's `null` as the
/// policy and gives the plug back to it; a `null` in a task that had not finished means it never
/// acted, and the person's choice it would have replaced stays.
#[tokio::test]
async fn recovery_undoes_an_older_helpers_connect_that_replaced_the_policy() {
    let f = Fixture::new();
    let mut a = snap("a", &["1"]);
    a.sequence[0].snap_yaml =
        "name: a\nversion: '1'\nplugs:\n  home:\n  network:\napps:\n  sh:\n    command: bin/sh\n"
            .into();
    // The first task ran (the person's "off" replaced the policy); the second had not.
    crate::interfaces::set_choice(&mut a, "home", "home", Some(false));
    crate::interfaces::set_choice(&mut a, "network", "network", Some(true));
    {
        let st = crate::state::State::open(&f.paths.state_db()).unwrap();
        st.put_snap(&a).unwrap();
    }
    let older = |plug: &str| -> Task {
        let line = format!(
            r#"{{"kind":"connect","name":"a","plug":"{plug}","interface":"{plug}","connect":false,"before":null}}"#
        );
        serde_json::from_str(&line).unwrap()
    };
    use TaskStatus::*;
    let id = interrupted(
        &f,
        ChangeStatus::Doing,
        &[(Done, older("home")), (Doing, older("network"))],
    );
    let engine = f.engine().await;
    let a = engine.snap("a").unwrap().unwrap();
    assert_eq!(crate::interfaces::choice(&a, "home", "home"), None);
    assert_eq!(
        crate::interfaces::choice(&a, "network", "network"),
        Some(true)
    );
    let v = engine.change(id).unwrap().unwrap();
    assert_eq!(v.row.status, ChangeStatus::Error);
    // The undone task is kept with what it replaced in the new words.
    let Task::Connect(c) = &v.tasks[0].task else {
        unreachable!()
    };
    assert_eq!(c.before, connect::Replaced::Policy);
}

/// A revert's `revision-config` keeps the current configuration as the replaced revision's and
/// brings the target's back; when the change fails after it, undo puts both back.
#[tokio::test]
async fn revision_config_keeps_and_restores_and_undoes() {
    use serde_json::{json, Map, Value};
    let doc = |v: Value| -> Map<String, Value> { v.as_object().unwrap().clone() };
    for fail in [false, true] {
        let f = Fixture::new();
        let engine = f.engine().await;
        {
            let st = lock(&engine.inner.state);
            st.put_snap(&snap("a", &["1", "2"])).unwrap();
            st.set_config("a", Some(&doc(json!({"value": 400}))))
                .unwrap();
            st.put_revision_config("a", "1", Some(&doc(json!({"value": 300}))))
                .unwrap();
        }
        let row = revert_to_1(&f, &engine, &["1", "2"], fail).await;
        let st = lock(&engine.inner.state);
        if fail {
            assert_eq!(row.status, ChangeStatus::Error);
            assert_eq!(st.config("a").unwrap(), doc(json!({"value": 400})));
            assert_eq!(st.revision_configs("a").unwrap(), ["1"]);
        } else {
            assert_eq!(row.status, ChangeStatus::Done, "{}", row.error);
            assert_eq!(st.config("a").unwrap(), doc(json!({"value": 300})));
            let kept = st.revision_config("a", "2").unwrap();
            assert_eq!(kept, Some(doc(json!({"value": 400}))));
        }
    }
}

/// `revision-config` then `link` of snap `a` (revisions `revs`, the last one current) back to
/// revision 1, the link failing when `fail`: a revert's configuration part. Its change's row.
async fn revert_to_1(f: &Fixture, engine: &Engine, revs: &[&str], fail: bool) -> ChangeRow {
    let mut after = snap("a", revs);
    after.current = "1".into();
    if fail {
        f.sys.fail_on("link a");
    }
    let from = revs.last().unwrap();
    let tasks = vec![
        Task::RevisionConfig(revision_config::RevisionConfig::new("a", from, Some("1"))),
        Task::Link(link::Link {
            name: "a".into(),
            after: Box::new(after),
            before: None,
            captured: false,
        }),
    ];
    let id = start(engine, &["a"], tasks).await;
    finished(engine, id).await.0
}

/// A snap without configuration keeps no copy for the replaced revision (its earlier copy stays),
/// a revert to a revision without a copy keeps the current configuration, and undo leaves the
/// snap without configuration again (snapd's Save/RestoreRevisionConfig).
#[tokio::test]
async fn revision_config_keeps_nothing_of_no_configuration() {
    use serde_json::{json, Map, Value};
    let doc = |v: Value| -> Map<String, Value> { v.as_object().unwrap().clone() };
    for fail in [false, true] {
        let f = Fixture::new();
        let engine = f.engine().await;
        {
            let st = lock(&engine.inner.state);
            st.put_snap(&snap("a", &["1", "2", "3"])).unwrap();
            st.put_revision_config("a", "3", Some(&doc(json!({"value": 100}))))
                .unwrap();
        }
        let row = revert_to_1(&f, &engine, &["1", "2", "3"], fail).await;
        let st = lock(&engine.inner.state);
        assert_eq!(st.config_entry("a").unwrap(), None, "fail: {fail}");
        assert_eq!(st.revision_configs("a").unwrap(), ["3"], "fail: {fail}");
        assert_eq!(
            st.revision_config("a", "3").unwrap(),
            Some(doc(json!({"value": 100})))
        );
        let want = if fail {
            ChangeStatus::Error
        } else {
            ChangeStatus::Done
        };
        assert_eq!(row.status, want, "{}", row.error);
    }
    // With a configuration and none kept for the target, the current one stays.
    let f = Fixture::new();
    let engine = f.engine().await;
    {
        let st = lock(&engine.inner.state);
        st.put_snap(&snap("a", &["1", "2"])).unwrap();
        st.set_config("a", Some(&doc(json!({"value": 200}))))
            .unwrap();
    }
    let tasks = vec![Task::RevisionConfig(revision_config::RevisionConfig::new(
        "a",
        "2",
        Some("1"),
    ))];
    let id = start(&engine, &["a"], tasks).await;
    let (row, _) = finished(&engine, id).await;
    assert_eq!(row.status, ChangeStatus::Done, "{}", row.error);
    let st = lock(&engine.inner.state);
    assert_eq!(st.config("a").unwrap(), doc(json!({"value": 200})));
    assert_eq!(
        st.revision_config("a", "2").unwrap(),
        Some(doc(json!({"value": 200})))
    );
}

/// `inhibit-run` and `uninhibit-run` on the recording system: each runs and undoes twice with the
/// same outcome; the hint is there exactly between them; the run of `uninhibit-run` ends a
/// postponement. With an app running, a person's refresh is refused and an automatic one opens
/// its postponement; neither leaves the hint behind; `ignore` goes ahead.
#[tokio::test]
async fn run_inhibition_is_idempotent_and_checks_running_apps() {
    use crate::engine::task::inhibit_run::{Busy, InhibitRun, UninhibitRun};
    let f = Fixture::new();
    let engine = f.engine().await;
    let mut a = snap("ab", &["1"]);
    a.sequence[0].snap_yaml =
        "name: ab\nversion: '1'\napps:\n  app:\n    command: x\n  svc:\n    command: x\n    daemon: simple\n"
            .into();
    lock(&engine.inner.state).put_snap(&a).unwrap();
    lock(&engine.inner.state)
        .set_refresh_pending("ab", Some(5))
        .unwrap();
    let tasks = vec![
        Task::InhibitRun(InhibitRun::new("ab", "1")),
        Task::UninhibitRun(UninhibitRun::new("ab", "1")),
    ];
    let id = lock(&engine.inner.state)
        .add_change("test", "test", &[], 0, &serde_json::Value::Null, &tasks)
        .unwrap();
    let cx = |seq| Ctx {
        engine: engine.clone(),
        change: id,
        seq,
        cancel: CancellationToken::new(),
    };
    let locked = || crate::inhibit::is_locked(&f.paths, "ab");
    let pending = || lock(&engine.inner.state).refresh_pending("ab").unwrap();
    let inhibit = tasks[0].clone().run(&cx(0)).await.unwrap();
    assert_eq!(inhibit, inhibit.clone().run(&cx(0)).await.unwrap());
    assert!(locked());
    let uninhibit = tasks[1].clone().run(&cx(1)).await.unwrap();
    assert_eq!(uninhibit, uninhibit.clone().run(&cx(1)).await.unwrap());
    assert!(!locked() && pending().is_none());
    for _ in 0..2 {
        uninhibit.undo(&cx(1)).unwrap();
    }
    assert!(locked(), "Link's undo happens behind the hint");
    for _ in 0..2 {
        inhibit.undo(&cx(0)).unwrap();
    }
    assert!(!locked());

    // The app (not the service) runs: this process, recorded as confine records it.
    let me = std::process::id();
    let started = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
    let started = started[started.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_string();
    let records = crate::running::snap_dir(&f.paths, "ab");
    std::fs::create_dir_all(&records).unwrap();
    std::fs::write(records.join(format!("svc.{me}")), &started).unwrap();
    let mut busy = InhibitRun::new("ab", "1");
    assert!(
        Task::InhibitRun(busy.clone()).run(&cx(0)).await.is_ok(),
        "a service does not count"
    );
    std::fs::write(records.join(format!("app.{me}")), &started).unwrap();
    let e = Task::InhibitRun(busy.clone())
        .run(&cx(0))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::SnapInUse);
    assert_eq!(e.message, "snap \"ab\" has running apps (app)");
    assert!(!locked() && pending().is_none());
    busy.busy = Busy::Postpone;
    assert!(Task::InhibitRun(busy.clone()).run(&cx(0)).await.is_err());
    assert!(!locked() && pending().is_some(), "put off from now on");
    busy.busy = Busy::Ignore;
    assert!(Task::InhibitRun(busy).run(&cx(0)).await.is_ok());
    assert!(locked());
}

/// Root's `snapctl set`/`unset` outside hooks stores the document it leaves, `{}` included: an
/// unset on a snap without configuration, or of its last key, leaves `{}` (snapd's commit),
/// which a refresh then keeps as the replaced revision's.
#[tokio::test]
async fn snapctl_outside_hooks_leaves_an_empty_configuration() {
    use serde_json::{json, Map};
    let f = Fixture::new();
    let engine = f.engine().await;
    lock(&engine.inner.state)
        .put_snap(&snap("a", &["1"]))
        .unwrap();
    assert_eq!(lock(&engine.inner.state).config_entry("a").unwrap(), None);
    engine.put_config("a", &Map::new()).unwrap();
    assert_eq!(
        lock(&engine.inner.state).config_entry("a").unwrap(),
        Some(Map::new())
    );
    let doc = json!({"k": 1}).as_object().unwrap().clone();
    engine.put_config("a", &doc).unwrap();
    engine.put_config("a", &Map::new()).unwrap();
    assert_eq!(
        lock(&engine.inner.state).config_entry("a").unwrap(),
        Some(Map::new())
    );
}
