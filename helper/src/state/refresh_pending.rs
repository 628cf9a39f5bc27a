//! Automatic refreshes postponed because the snap's apps run (snapd's `RefreshInhibitedTime`):
//! when the first one was put off, per snap. Kept apart from the snap's own state so that Link's
//! captured states do not carry it; dropped when a refresh links the snap, or when it is removed.

use rusqlite::{params, OptionalExtension};

use super::{Result, State};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS refresh_pending (
    name TEXT PRIMARY KEY,
    since INTEGER NOT NULL
);
";

impl State {
    /// Since when (seconds since the epoch) automatic refreshes of `name` have been put off.
    pub fn refresh_pending(&self, name: &str) -> Result<Option<u64>> {
        let since: Option<i64> = self
            .conn
            .query_row(
                "SELECT since FROM refresh_pending WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        Ok(since.map(|s| s.max(0) as u64))
    }

    /// Every snap with a postponed refresh, by name.
    pub fn all_refresh_pending(&self) -> Result<Vec<(String, u64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, since FROM refresh_pending ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (name, since) = row?;
            out.push((name, since.max(0) as u64));
        }
        Ok(out)
    }

    /// Start the window (`Some`, kept when one is open already) or close it (`None`).
    pub fn set_refresh_pending(&self, name: &str, since: Option<u64>) -> Result<()> {
        match since {
            None => {
                self.conn
                    .execute("DELETE FROM refresh_pending WHERE name = ?1", [name])?;
            }
            Some(s) => {
                self.conn.execute(
                    "INSERT OR IGNORE INTO refresh_pending (name, since) VALUES (?1, ?2)",
                    params![name, s as i64],
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_postponement_is_kept_until_cleared() {
        let st = State::in_memory().unwrap();
        assert_eq!(st.refresh_pending("shelf-clock").unwrap(), None);
        st.set_refresh_pending("shelf-clock", Some(100)).unwrap();
        st.set_refresh_pending("shelf-clock", Some(200)).unwrap();
        assert_eq!(st.refresh_pending("shelf-clock").unwrap(), Some(100));
        st.set_refresh_pending("shelf-notes", Some(300)).unwrap();
        assert_eq!(
            st.all_refresh_pending().unwrap(),
            vec![
                ("shelf-clock".to_string(), 100),
                ("shelf-notes".to_string(), 300)
            ]
        );
        st.set_refresh_pending("shelf-clock", None).unwrap();
        assert_eq!(st.refresh_pending("shelf-clock").unwrap(), None);
    }
}
