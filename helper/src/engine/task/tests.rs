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

/// The three states of what a Connect task replaced, and the attributes it found (none: `null`,
/// kept apart from "not recorded", absent), read back as written; a value that is none of them
/// is refused with what was expected.
#[test]
fn what_a_connect_replaced_reads_back_in_each_state() {
    use connect::{Connect, Replaced};
    let task =
        |before: Replaced, attrs: Option<Option<crate::engine::iface_hooks::ConnAttrs>>| Connect {
            name: "a".into(),
            plug: "home".into(),
            interface: "home".into(),
            connect: true,
            before,
            reset: false,
            attrs_before: attrs,
        };
    for (before, json) in [
        (Replaced::NotYet, "null"),
        (Replaced::Policy, "\"policy\""),
        (Replaced::Choice(true), "true"),
        (Replaced::Choice(false), "false"),
    ] {
        for attrs in [None, Some(None), Some(Some(Default::default()))] {
            let t = task(before, attrs.clone());
            let text = serde_json::to_string(&Task::Connect(t.clone())).unwrap();
            assert!(text.contains(&format!("\"before\":{json}")), "{text}");
            assert_eq!(
                serde_json::from_str::<Task>(&text).unwrap(),
                Task::Connect(t)
            );
        }
    }
    // Only a done task's `null` (an older helper's) is the policy.
    assert_eq!(
        task(Replaced::NotYet, None).ran(true).before,
        Replaced::Policy
    );
    assert_eq!(
        task(Replaced::NotYet, None).ran(false).before,
        Replaced::NotYet
    );
    assert_eq!(
        task(Replaced::Choice(false), None).ran(true).before,
        Replaced::Choice(false)
    );
    let bad = r#"{"kind":"connect","name":"a","plug":"p","interface":"home","connect":true,"before":"maybe"}"#;
    let e = serde_json::from_str::<Task>(bad).unwrap_err().to_string();
    assert!(e.contains("maybe") && e.contains("policy"), "{e}");
}
