//! Refreshes held by gating snaps (snapd's `snaps-hold`): the snap held, the snap that holds it
//! (its `gate-auto-refresh` hook called `snapctl refresh --hold`), when that snap first held it
//! and until when. Only automatic refreshes heed them (`engine/gating.rs`); a hold goes when the
//! holder proceeds, when the held snap is refreshed, or when either snap is removed.

use rusqlite::params;

use super::{Result, State};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS snaps_hold (
    held TEXT NOT NULL,
    holder TEXT NOT NULL,
    first_held INTEGER NOT NULL,
    hold_until INTEGER NOT NULL,
    PRIMARY KEY (held, holder)
);
";

/// One hold: times in seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    pub first_held: u64,
    pub until: u64,
}

impl State {
    /// The holds on `held`, by holder.
    pub fn holds_of(&self, held: &str) -> Result<Vec<(String, Hold)>> {
        let mut stmt = self.conn.prepare(
            "SELECT holder, first_held, hold_until FROM snaps_hold WHERE held = ?1 ORDER BY holder",
        )?;
        let rows = stmt.query_map([held], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (holder, first, until) = row?;
            let hold = Hold {
                first_held: first.max(0) as u64,
                until: until.max(0) as u64,
            };
            out.push((holder, hold));
        }
        Ok(out)
    }

    /// Set (or replace) `holder`'s hold on `held`.
    pub fn put_hold(&self, held: &str, holder: &str, hold: Hold) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO snaps_hold (held, holder, first_held, hold_until) \
             VALUES (?1, ?2, ?3, ?4)",
            params![held, holder, hold.first_held as i64, hold.until as i64],
        )?;
        Ok(())
    }

    /// Drop `holder`'s holds on `held` (snapd's `ProceedWithRefresh`).
    pub fn drop_hold(&self, held: &str, holder: &str) -> Result<()> {
        self.conn.execute(
            "DELETE FROM snaps_hold WHERE held = ?1 AND holder = ?2",
            [held, holder],
        )?;
        Ok(())
    }

    /// Drop every hold on `held` (refreshed, as snapd's `resetGatingForRefreshed`), and, with
    /// `as_holder`, those it has on others too (removed).
    pub fn drop_holds(&self, name: &str, as_holder: bool) -> Result<()> {
        self.conn
            .execute("DELETE FROM snaps_hold WHERE held = ?1", [name])?;
        if as_holder {
            self.conn
                .execute("DELETE FROM snaps_hold WHERE holder = ?1", [name])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_are_kept_per_held_and_holder_and_dropped() {
        let st = State::in_memory().unwrap();
        let h = |f, u| Hold {
            first_held: f,
            until: u,
        };
        st.put_hold("base", "app", h(1, 10)).unwrap();
        st.put_hold("base", "other", h(2, 20)).unwrap();
        st.put_hold("app", "app", h(3, 30)).unwrap();
        st.put_hold("base", "app", h(1, 15)).unwrap();
        assert_eq!(
            st.holds_of("base").unwrap(),
            vec![("app".into(), h(1, 15)), ("other".into(), h(2, 20))]
        );
        st.drop_hold("base", "other").unwrap();
        assert_eq!(st.holds_of("base").unwrap().len(), 1);
        st.drop_holds("base", false).unwrap();
        assert!(st.holds_of("base").unwrap().is_empty());
        assert_eq!(st.holds_of("app").unwrap().len(), 1);
        st.put_hold("base", "app", h(1, 15)).unwrap();
        st.drop_holds("app", true).unwrap();
        assert!(st.holds_of("app").unwrap().is_empty());
        assert!(st.holds_of("base").unwrap().is_empty());
    }
}
