//! systemd's notification socket in a service's sandbox: a `daemon: notify` app tells systemd it
//! is ready (`READY=1`, `sd_notify`) on `$NOTIFY_SOCKET`, a socket in the host's `/run` that the
//! sandbox's own `/run` hides. The socket alone is bound in at the same path, so the variable
//! stays true; systemd accepts the message because the unit says `NotifyAccess=all` and the
//! sandbox stays in the service's cgroup.

use super::planner::{parts, Planner};
use super::Origin;
use crate::error::Result;
use crate::sys::Kind;

impl Planner<'_> {
    pub(super) fn notify_socket(&mut self) -> Result<()> {
        let Some(path) = self.input.notify_socket else {
            return Ok(());
        };
        // A path socket under /run only: an abstract one (`@…`) needs no mount, anything else
        // is not systemd's.
        let Ok(at) = parts(path) else { return Ok(()) };
        if at.len() < 2 || at[0] != "run" {
            return Ok(());
        }
        if self.probe_kind(Origin::Host, &at) != Some(Kind::Other) {
            return Ok(());
        }
        self.ensure(&at, true, 0o644)?;
        self.bind(Origin::Host, at.clone(), at, false);
        Ok(())
    }
}
