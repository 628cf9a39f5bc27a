//! A change's failure lanes (snapd's task lanes in a multi-snap refresh): groups of snaps whose
//! tasks stand or fall together. When a task of a lane fails, only that lane's tasks are undone
//! and the rest of the change goes on; a task of a snap in no lane (a base or a default provider
//! brought in for the others) fails the whole change, as everything may run on it.
//!
//! The plan writes the lanes into the change's request (`"lanes": [["a"], ["b", "c"]]`); a change
//! without them (every kind but a refresh of several snaps, and changes older helpers wrote) is
//! one lane: all or nothing. Which lanes have failed is read back from the tasks themselves (a
//! task of the lane `Undone` or `Error` while the change is not being undone), so that a restart
//! finds them.

use crate::state::{TaskRow, TaskStatus};

use super::task::Task;

/// The change request's key that holds the lanes.
pub(crate) const KEY: &str = "lanes";

#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Lanes(Vec<Vec<String>>);

impl Lanes {
    /// The lanes a change's request names; none (one lane) when it names fewer than two.
    pub(crate) fn of_request(request: &serde_json::Value) -> Lanes {
        let lanes: Vec<Vec<String>> = request
            .get(KEY)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        if lanes.len() < 2 {
            return Lanes::default();
        }
        Lanes(lanes)
    }

    /// The lane of a task's snap, if it has one of its own.
    pub(crate) fn lane(&self, task: &Task) -> Option<usize> {
        let snap = task.snap();
        self.0.iter().position(|l| l.iter().any(|n| n == snap))
    }

    /// The snaps of a lane, for messages.
    pub(crate) fn names(&self, lane: usize) -> String {
        self.0[lane]
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The lanes a previous run already gave up (their tasks undone, or an undo that failed).
    pub(crate) fn failed(&self, tasks: &[TaskRow]) -> Vec<usize> {
        let mut out = Vec::new();
        for t in tasks {
            if !matches!(t.status, TaskStatus::Undone | TaskStatus::Error) {
                continue;
            }
            if let Some(l) = self.lane(&t.task) {
                if !out.contains(&l) {
                    out.push(l);
                }
            }
        }
        out
    }
}

/// The lanes of a refresh: one per refreshed snap, merged where one snap runs on another of them
/// (its base) or names another as a content provider, since undoing one alone would leave the
/// other on something it was not refreshed with. `deps` is each snap with the snaps it needs.
pub(crate) fn plan(deps: &[(String, Vec<String>)]) -> Vec<Vec<String>> {
    let mut lanes: Vec<Vec<String>> = deps.iter().map(|(n, _)| vec![n.clone()]).collect();
    for (name, needs) in deps {
        for need in needs {
            let a = lanes.iter().position(|l| l.contains(name));
            let b = lanes.iter().position(|l| l.contains(need));
            if let (Some(a), Some(b)) = (a, b) {
                if a != b {
                    let moved = lanes.remove(a.max(b));
                    lanes[a.min(b)].extend(moved);
                }
            }
        }
    }
    lanes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::task::gc::Gc;

    fn gc(name: &str) -> Task {
        Task::Gc(Gc { name: name.into() })
    }

    #[test]
    fn snaps_that_run_on_one_another_share_a_lane() {
        let deps = vec![
            ("core24".to_string(), vec![]),
            ("app".to_string(), vec!["core24".to_string()]),
            ("other".to_string(), vec!["core22".to_string()]),
            ("tool".to_string(), vec![]),
        ];
        assert_eq!(
            plan(&deps),
            vec![
                vec!["core24".to_string(), "app".to_string()],
                vec!["other".to_string()],
                vec!["tool".to_string()],
            ]
        );
    }

    #[test]
    fn fewer_than_two_lanes_are_one_change() {
        let one = serde_json::json!({ "lanes": [["a", "b"]] });
        assert_eq!(Lanes::of_request(&one), Lanes::default());
        assert_eq!(
            Lanes::of_request(&serde_json::Value::Null),
            Lanes::default()
        );
        let two = Lanes::of_request(&serde_json::json!({ "lanes": [["a"], ["b", "c"]] }));
        assert_eq!(two.lane(&gc("c")), Some(1));
        assert_eq!(two.lane(&gc("core")), None);
        assert_eq!(two.names(1), "\"b\", \"c\"");
    }
}
