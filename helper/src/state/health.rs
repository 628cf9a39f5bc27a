//! A snap's health (snapd's `healthstate`): what `snapctl set-health` or the check-health hook
//! last said, kept per snap until it is removed.

use serde::{Deserialize, Serialize};

use super::{Docs, Result, State};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS health (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
";

const HEALTH: Docs = Docs {
    table: "health",
    keys: &["name"],
};

/// One health report, as snapd keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// The revision that was current when it was reported.
    pub revision: String,
    /// Seconds since the epoch.
    pub timestamp: u64,
    /// `okay`, `waiting`, `blocked`, `error`, or `unknown` (set by the helper only).
    pub status: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: String,
}

impl State {
    pub fn health(&self, name: &str) -> Result<Option<Health>> {
        self.doc(&HEALTH, &[name])
    }

    /// Keep a snap's health (`None`: forget it, the snap is gone).
    pub fn put_health(&self, name: &str, health: Option<&Health>) -> Result<()> {
        self.put_doc(&HEALTH, &[name], health)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_per_snap_and_forgotten() {
        let st = State::in_memory().unwrap();
        assert_eq!(st.health("ab").unwrap(), None);
        let h = Health {
            revision: "x1".into(),
            timestamp: 5,
            status: "waiting".into(),
            message: "for the network".into(),
            code: "no-net".into(),
        };
        st.put_health("ab", Some(&h)).unwrap();
        assert_eq!(st.health("ab").unwrap(), Some(h));
        st.put_health("ab", None).unwrap();
        assert_eq!(st.health("ab").unwrap(), None);
    }
}
