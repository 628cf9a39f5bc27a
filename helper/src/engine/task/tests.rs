use super::*;

/// One task of every kind (and every optional shape) exactly as the helper wrote them before the
/// tasks were split by kind, captured from that helper's `serde_json::to_string`.
const OLDER_TASKS: &str = include_str!("older_tasks.jsonl");

#[test]
fn tasks_older_helpers_wrote_read_back_unchanged() {
    let mut kinds = std::collections::BTreeSet::new();
    for line in OLDER_TASKS.lines() {
        let task: Task = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let written: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(serde_json::to_value(&task).unwrap(), written, "{line}");
        // The same text, key order included: what the database holds does not change.
        assert_eq!(serde_json::to_string(&task).unwrap(), line);
        let tag = written["kind"].as_str().unwrap();
        assert!(
            task.kind() == tag || (tag == "connect" && task.kind() == "disconnect"),
            "{line}"
        );
        assert!(!task.summary().is_empty());
        kinds.insert(tag.to_string());
    }
    assert_eq!(kinds.len(), 12, "every kind has an older sample: {kinds:?}");
}

#[test]
fn the_commit_point_and_lanes_follow_the_kind() {
    let gc = Task::Gc(gc::Gc { name: "a".into() });
    assert!(gc.after_commit() && !gc.commits() && gc.lane().is_none());
    let mount = Task::Mount(mount::Mount {
        name: "a".into(),
        revision: "1".into(),
    });
    assert_eq!(mount.lane(), Some("a"));
    assert!(!mount.after_commit());
    let unlink = Task::Unlink(unlink::Unlink {
        name: "a".into(),
        before: None,
        captured: false,
    });
    assert!(unlink.commits());
    let data = Task::Data(data::Data {
        name: "a".into(),
        revision: "2".into(),
        copy_from: Some("1".into()),
        restore_snapshot: false,
        snap_id: String::new(),
        created_data: None,
        created_common: None,
        restored: None,
        user_copies: None,
    });
    assert!(data.summary().contains("revision 1"));
}
