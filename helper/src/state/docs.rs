//! Tables of JSON documents, one per key (a snap's name, or its name and a revision): the one
//! way the snaps, their configurations, the configurations kept per revision and their health
//! are read, replaced and forgotten.

use rusqlite::{params_from_iter, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Result, State};

/// A table with a `data` column of JSON and the key columns named.
pub(super) struct Docs {
    pub table: &'static str,
    pub keys: &'static [&'static str],
}

impl Docs {
    /// `k1 = ?1 AND k2 = ?2 …`
    fn key_match(&self) -> String {
        let terms: Vec<String> = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} = ?{}", i + 1))
            .collect();
        terms.join(" AND ")
    }
}

impl State {
    /// The document kept under `key`, if any.
    pub(super) fn doc<T: DeserializeOwned>(&self, docs: &Docs, key: &[&str]) -> Result<Option<T>> {
        let sql = format!("SELECT data FROM {} WHERE {}", docs.table, docs.key_match());
        let data: Option<String> = self
            .conn
            .query_row(&sql, params_from_iter(key), |r| r.get(0))
            .optional()?;
        Ok(match data {
            Some(d) => Some(serde_json::from_str(&d)?),
            None => None,
        })
    }

    /// Make the document under `key` exactly `doc` (`None`: keep none).
    pub(super) fn put_doc<T: Serialize>(
        &self,
        docs: &Docs,
        key: &[&str],
        doc: Option<&T>,
    ) -> Result<()> {
        let Some(doc) = doc else {
            let sql = format!("DELETE FROM {} WHERE {}", docs.table, docs.key_match());
            self.conn.execute(&sql, params_from_iter(key))?;
            return Ok(());
        };
        let columns = docs.keys.join(", ");
        let places: Vec<String> = (1..=docs.keys.len() + 1).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {table} ({columns}, data) VALUES ({places})
             ON CONFLICT({columns}) DO UPDATE SET data = excluded.data",
            table = docs.table,
            places = places.join(", "),
        );
        let data = serde_json::to_string(doc)?;
        let values = key.iter().copied().chain([data.as_str()]);
        self.conn.execute(&sql, params_from_iter(values))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::StateError;
    use super::*;

    #[test]
    fn keys_of_two_columns_are_matched_in_order() {
        let two = Docs {
            table: "t",
            keys: &["name", "revision"],
        };
        assert_eq!(two.key_match(), "name = ?1 AND revision = ?2");
    }

    #[test]
    fn a_malformed_document_is_an_error_not_a_missing_one() {
        let st = State::in_memory().unwrap();
        st.conn
            .execute(
                "INSERT INTO snaps (name, data) VALUES ('ab', '{not json')",
                [],
            )
            .unwrap();
        assert!(matches!(st.snap("ab"), Err(StateError::Json(_))));
        // Forgetting it needs no reading.
        st.delete_snap("ab").unwrap();
        assert!(st.snap("ab").unwrap().is_none());
    }
}
