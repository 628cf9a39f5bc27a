//! Copies of a snap's configuration per revision (snapd's `revision-config`): the configuration
//! a revision had when another one took its place, put back when that revision is reverted to,
//! dropped with the revision.

use serde_json::{Map, Value};

use super::{Docs, Result, State};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS revision_config (
    name TEXT NOT NULL,
    revision TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (name, revision)
);
";

const REVISION_CONFIG: Docs = Docs {
    table: "revision_config",
    keys: &["name", "revision"],
};

impl State {
    /// The configuration kept for a revision of a snap, if any.
    pub fn revision_config(
        &self,
        name: &str,
        revision: &str,
    ) -> Result<Option<Map<String, Value>>> {
        self.doc(&REVISION_CONFIG, &[name, revision])
    }

    /// Keep `doc` as the configuration of a revision (`None`: keep nothing for it).
    pub fn put_revision_config(
        &self,
        name: &str,
        revision: &str,
        doc: Option<&Map<String, Value>>,
    ) -> Result<()> {
        self.put_doc(&REVISION_CONFIG, &[name, revision], doc)
    }

    /// A snap's configuration, `None` when it has none at all (never set, or removed with the
    /// snap), which snapd tells from an empty one: only a configuration is kept per revision.
    pub fn config_entry(&self, name: &str) -> Result<Option<Map<String, Value>>> {
        self.doc(&super::CONFIG, &[name])
    }

    /// Make a snap's configuration exactly `doc`, an empty one included (`None`: it has none).
    pub fn set_config(&self, name: &str, doc: Option<&Map<String, Value>>) -> Result<()> {
        self.put_doc(&super::CONFIG, &[name], doc)
    }

    /// The revisions of a snap that have a configuration kept.
    pub fn revision_configs(&self, name: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT revision FROM revision_config WHERE name = ?1 ORDER BY revision")?;
        let rows = stmt.query_map([name], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Drop every kept configuration of a snap (it is removed).
    pub fn delete_revision_configs(&self, name: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM revision_config WHERE name = ?1", [name])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_per_revision_and_dropped() {
        let st = State::in_memory().unwrap();
        let mut doc = Map::new();
        doc.insert("value".into(), Value::from(100));
        assert_eq!(st.revision_config("ab", "1").unwrap(), None);
        st.put_revision_config("ab", "1", Some(&doc)).unwrap();
        st.put_revision_config("ab", "2", Some(&Map::new()))
            .unwrap();
        st.put_revision_config("cd", "1", Some(&doc)).unwrap();
        assert_eq!(st.revision_config("ab", "1").unwrap(), Some(doc.clone()));
        assert_eq!(st.revision_config("ab", "2").unwrap(), Some(Map::new()));
        assert_eq!(st.revision_configs("ab").unwrap(), ["1", "2"]);
        st.put_revision_config("ab", "2", None).unwrap();
        assert_eq!(st.revision_configs("ab").unwrap(), ["1"]);
        st.delete_revision_configs("ab").unwrap();
        assert!(st.revision_configs("ab").unwrap().is_empty());
        assert_eq!(st.revision_config("cd", "1").unwrap(), Some(doc));
    }

    #[test]
    fn an_emptied_configuration_is_one_and_none_is_none() {
        let st = State::in_memory().unwrap();
        let mut doc = Map::new();
        doc.insert("value".into(), Value::from(100));
        assert_eq!(st.config_entry("ab").unwrap(), None);
        assert_eq!(st.config("ab").unwrap(), Map::new());
        st.set_config("ab", Some(&doc)).unwrap();
        assert_eq!(st.config_entry("ab").unwrap(), Some(doc.clone()));
        // Unsetting the last key leaves an empty configuration, as snapd's `{}`.
        st.set_config("ab", Some(&Map::new())).unwrap();
        assert_eq!(st.config_entry("ab").unwrap(), Some(Map::new()));
        assert_eq!(st.config("ab").unwrap(), Map::new());
        st.set_config("ab", None).unwrap();
        assert_eq!(st.config_entry("ab").unwrap(), None);
    }
}
