//! D-Bus service activation files for `activates-on` (snapd's `wrappers/dbus.go`): one
//! `<bus name>.service` per activating slot, in the session bus's service directory for a user
//! daemon and the system bus's for a system daemon (`/var/lib/snapshelf/dbus-1/services` and
//! `system-services`, which the packaged bus configuration snippets add). A bus run by systemd
//! starts the daemon's unit (`SystemdService=`); one that is not runs `Exec=`, the same launcher
//! the unit runs. The files carry the snap's name, so that its own are found again at removal.

use std::fmt::Write as _;

use super::{launcher, service_name, Scope, UnitError, UnitFile};
use crate::dbus_iface::Activation;

/// The line that says which snap's file it is.
pub const SNAP_KEY: &str = "X-Snapshelf-Snap";

/// The activation file of one `activates-on` slot of `snap`'s daemon. The bus name passed
/// `dbus_iface::check_name`, so it is a plain file name and a plain value.
pub fn file(
    snap: &str,
    act: &Activation,
    scope: Scope,
    launch: &super::Launch,
) -> Result<UnitFile, UnitError> {
    let tag = format!("{snap}.{}", act.app);
    let mut t = String::new();
    let _ = writeln!(t, "# Written by snapshelf-helper; removed with the snap.");
    let _ = writeln!(t, "[D-BUS Service]\nName={}", act.name);
    let _ = writeln!(t, "Comment=Bus name for snap application {tag}");
    let _ = writeln!(t, "SystemdService={}", service_name(snap, &act.app));
    let _ = writeln!(t, "Exec={}", launcher(launch, &tag)?);
    if scope == Scope::System {
        // The system bus needs a user for activation without systemd; the unit runs as root.
        let _ = writeln!(t, "User=root");
    }
    let _ = writeln!(t, "{SNAP_KEY}={snap}");
    Ok(UnitFile {
        name: format!("{}.service", act.name),
        text: t,
    })
}

/// The snap a file on disk was written for (its `X-Snapshelf-Snap=` line).
pub fn owner(text: &str) -> Option<&str> {
    text.lines()
        .find_map(|l| l.strip_prefix(SNAP_KEY)?.strip_prefix('='))
        .map(str::trim)
}
