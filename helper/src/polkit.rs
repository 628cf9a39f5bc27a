//! Authorization of mutating calls with polkit (DESIGN.md §3): the caller is a `system-bus-name`
//! subject taken from the message header (never our own pid), interaction only when the message
//! allows it, uid 0 allowed without asking, and no polkit means no.

use std::collections::HashMap;

use zbus::message::{Flags, Header};
use zbus_polkit::policykit1::{AuthorityProxy, CheckAuthorizationFlags, Subject};

use crate::error::{Error, ErrorKind, Result};

pub const INSTALL: &str = "io.github.snapshelf.install";
pub const INSTALL_UNSIGNED: &str = "io.github.snapshelf.install-unsigned";
/// CheckFile: the root helper reads and hashes a caller's file, so not for just anyone
/// (a process outside any session cannot make it read on its behalf).
pub const CHECK_FILE: &str = "io.github.snapshelf.check-file";
pub const REMOVE: &str = "io.github.snapshelf.remove";
pub const REFRESH: &str = "io.github.snapshelf.refresh";
pub const REVERT: &str = "io.github.snapshelf.revert";
pub const MANAGE_INTERFACES: &str = "io.github.snapshelf.manage-interfaces";
pub const MANAGE_ALIASES: &str = "io.github.snapshelf.manage-aliases";
pub const CONFIGURE: &str = "io.github.snapshelf.configure";
pub const MANAGE_SERVICES: &str = "io.github.snapshelf.manage-services";

/// The action that guards changes of a kind (Cancel from another uid needs it).
pub fn action_for_kind(kind: &str) -> &'static str {
    match kind {
        "install" | "install-file" => INSTALL,
        "remove" => REMOVE,
        "revert" => REVERT,
        "connect" | "disconnect" => MANAGE_INTERFACES,
        "alias" => MANAGE_ALIASES,
        "configure" => CONFIGURE,
        _ => REFRESH,
    }
}

pub struct Authority {
    proxy: AuthorityProxy<'static>,
    dbus: zbus::fdo::DBusProxy<'static>,
}

impl Authority {
    pub async fn new(conn: &zbus::Connection) -> Result<Self> {
        let proxy = AuthorityProxy::new(conn)
            .await
            .map_err(|e| Error::internal(format!("cannot reach polkit: {e}")))?;
        let dbus = zbus::fdo::DBusProxy::new(conn)
            .await
            .map_err(|e| Error::internal(format!("cannot reach the bus: {e}")))?;
        Ok(Authority { proxy, dbus })
    }

    /// The uid of the message's sender, as the bus daemon knows it.
    pub async fn caller_uid(&self, header: &Header<'_>) -> Result<u32> {
        let sender = header.sender().ok_or_else(|| {
            Error::new(
                ErrorKind::NotAuthorized,
                crate::lang::gettext("the call has no sender"),
            )
        })?;
        self.dbus
            .get_connection_unix_user(sender.clone().into())
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::NotAuthorized,
                    crate::lang::gettext("cannot tell who is calling: {why}")
                        .replace("{why}", &e.to_string()),
                )
            })
    }

    /// Check `action` for the caller of `header`. Returns the caller's uid when allowed.
    pub async fn check(&self, header: &Header<'_>, action: &str) -> Result<u32> {
        let uid = self.caller_uid(header).await?;
        if uid == 0 {
            return Ok(0);
        }
        let subject = Subject::new_for_message_header(header).map_err(|e| {
            Error::new(
                ErrorKind::NotAuthorized,
                crate::lang::gettext("cannot identify the caller: {why}")
                    .replace("{why}", &e.to_string()),
            )
        })?;
        let interactive = header
            .primary()
            .flags()
            .contains(Flags::AllowInteractiveAuth);
        let flags = if interactive {
            CheckAuthorizationFlags::AllowUserInteraction.into()
        } else {
            Default::default()
        };
        let details: HashMap<&str, &str> = HashMap::new();
        let result = self
            .proxy
            .check_authorization(&subject, action, &details, flags, "")
            .await
            .map_err(|e| {
                // No polkit, or polkit failing, is a refusal: never fall back to allowing.
                Error::new(
                    ErrorKind::NotAuthorized,
                    crate::lang::gettext("polkit could not decide: {why}")
                        .replace("{why}", &e.to_string()),
                )
            })?;
        if result.is_authorized {
            return Ok(uid);
        }
        if result.details.get("polkit.dismissed").map(String::as_str) == Some("true") {
            return Err(Error::new(
                ErrorKind::AuthCancelled,
                crate::lang::gettext("the authentication dialog was dismissed"),
            ));
        }
        let why = if result.is_challenge && !interactive {
            crate::lang::gettext(
                "authentication is required, and this call does not allow interactive authorization",
            )
        } else {
            crate::lang::gettext("not authorized")
        };
        // The polkit action's id stays as it is: it is what an administrator's rule names.
        Err(Error::new(
            ErrorKind::NotAuthorized,
            format!("{why} ({action})"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_actions_follow_the_change_kind() {
        assert_eq!(action_for_kind("install-file"), INSTALL);
        assert_eq!(action_for_kind("remove"), REMOVE);
        assert_eq!(action_for_kind("switch"), REFRESH);
        assert_eq!(action_for_kind("disconnect"), MANAGE_INTERFACES);
        assert_eq!(action_for_kind("configure"), CONFIGURE);
    }
}
