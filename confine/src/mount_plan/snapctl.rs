//! `snapctl` in every sandbox: the helper's snapctl directory (the `snapctl` binary and the
//! socket it talks to the helper over) bound read-only at `/usr/lib/snapd`, where a core base's
//! `/usr/bin/snapctl -> ../lib/snapd/snapctl` link expects it.

use super::planner::{p, Planner};
use super::Origin;
use crate::error::Result;
use crate::sys::Kind;

impl Planner<'_> {
    pub(super) fn snapctl(&mut self) -> Result<()> {
        // No helper directory (a root prepared by hand): nothing to bind, snapctl stays missing.
        if self
            .model
            .probe()
            .stat(Origin::Snapctl, &[])
            .map(|s| s.kind)
            != Some(Kind::Dir)
        {
            return Ok(());
        }
        let at = p(&["usr", "lib", "snapd"]);
        self.ensure(&at, false, 0o755)?;
        self.bind(Origin::Snapctl, Vec::new(), at.clone(), false);
        self.read_only(at);
        Ok(())
    }
}
