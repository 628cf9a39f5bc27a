//! zbus proxies of the two interfaces. Raw `a{sv}` on the wire; [`crate::types`] converts.

use zbus::proxy;
use zbus::zvariant::{OwnedFd, OwnedObjectPath};

use crate::types::{Dict, Task};

#[proxy(
    interface = "io.github.snapshelf.Helper1",
    default_service = "io.github.snapshelf.Helper1",
    default_path = "/io/github/snapshelf/Helper1"
)]
pub trait Helper1 {
    fn find(&self, query: &str, options: Dict) -> zbus::Result<Vec<Dict>>;
    fn info(&self, name: &str) -> zbus::Result<Dict>;
    fn list_installed(&self) -> zbus::Result<Vec<Dict>>;
    fn list_updates(&self) -> zbus::Result<Vec<Dict>>;
    /// The apps of the snap that run now (checked against live processes).
    fn running_apps(&self, name: &str) -> zbus::Result<Vec<String>>;
    /// The snaps whose automatic refresh is put off while their apps run.
    fn pending_refreshes(&self) -> zbus::Result<Vec<Dict>>;
    /// The caller's language for the summaries and errors it gets (per connection).
    fn set_locale(&self, locale: &str) -> zbus::Result<()>;
    fn categories(&self) -> zbus::Result<Vec<String>>;
    fn connections(&self, name: &str) -> zbus::Result<Vec<Dict>>;
    fn list_changes(&self) -> zbus::Result<Vec<OwnedObjectPath>>;
    fn interfaces(&self) -> zbus::Result<Vec<Dict>>;
    #[zbus(allow_interactive_auth)]
    fn check_file(&self, fd: OwnedFd) -> zbus::Result<Dict>;
    /// Polkit may ask the person (the call allows interactive authorization).
    #[zbus(allow_interactive_auth)]
    fn install(&self, names: &[&str], options: Dict) -> zbus::Result<OwnedObjectPath>;
    /// Polkit may ask the person (the call allows interactive authorization).
    #[zbus(allow_interactive_auth)]
    fn install_file(&self, fd: OwnedFd, options: Dict) -> zbus::Result<OwnedObjectPath>;
    /// Polkit may ask the person (the call allows interactive authorization).
    #[zbus(allow_interactive_auth)]
    fn remove(&self, names: &[&str], options: Dict) -> zbus::Result<OwnedObjectPath>;
    /// Polkit may ask the person (the call allows interactive authorization).
    #[zbus(allow_interactive_auth)]
    fn refresh(&self, names: &[&str], options: Dict) -> zbus::Result<OwnedObjectPath>;
    fn services(&self, name: &str) -> zbus::Result<Vec<Dict>>;
    /// Polkit may ask the person (the call allows interactive authorization).
    #[zbus(allow_interactive_auth)]
    fn start_services(&self, services: &[&str], options: Dict) -> zbus::Result<OwnedObjectPath>;
    /// Polkit may ask the person (the call allows interactive authorization).
    #[zbus(allow_interactive_auth)]
    fn stop_services(&self, services: &[&str], options: Dict) -> zbus::Result<OwnedObjectPath>;
    /// Polkit may ask the person (the call allows interactive authorization).
    #[zbus(allow_interactive_auth)]
    fn restart_services(&self, services: &[&str], options: Dict) -> zbus::Result<OwnedObjectPath>;
    /// Polkit may ask the person (the call allows interactive authorization).
    #[zbus(allow_interactive_auth)]
    fn revert(&self, name: &str, options: Dict) -> zbus::Result<OwnedObjectPath>;
    /// Polkit may ask the person (the call allows interactive authorization).
    #[zbus(allow_interactive_auth)]
    fn switch(&self, name: &str, channel: &str) -> zbus::Result<OwnedObjectPath>;
    /// Polkit may ask the person (the call allows interactive authorization).
    #[zbus(allow_interactive_auth)]
    fn hold(&self, names: &[&str], hold: bool) -> zbus::Result<()>;
    /// Polkit may ask the person (the call allows interactive authorization).
    #[zbus(allow_interactive_auth)]
    fn connect(
        &self,
        plug_snap: &str,
        plug: &str,
        slot_snap: &str,
        slot: &str,
    ) -> zbus::Result<OwnedObjectPath>;
    /// Polkit may ask the person (the call allows interactive authorization).
    #[zbus(allow_interactive_auth)]
    fn disconnect(
        &self,
        plug_snap: &str,
        plug: &str,
        slot_snap: &str,
        slot: &str,
    ) -> zbus::Result<OwnedObjectPath>;
    fn get_config(&self, name: &str, keys: &[&str]) -> zbus::Result<String>;
    /// Polkit may ask the person (the call allows interactive authorization).
    #[zbus(allow_interactive_auth)]
    fn set_config(&self, name: &str, patch: &str) -> zbus::Result<OwnedObjectPath>;

    fn aliases(&self) -> zbus::Result<Vec<Dict>>;
    /// Polkit may ask the person (the call allows interactive authorization).
    #[zbus(allow_interactive_auth)]
    fn alias(&self, snap_app: &str, alias: &str) -> zbus::Result<OwnedObjectPath>;
    /// Polkit may ask the person (the call allows interactive authorization).
    #[zbus(allow_interactive_auth)]
    fn unalias(&self, alias: &str) -> zbus::Result<OwnedObjectPath>;
    /// Polkit may ask the person (the call allows interactive authorization).
    #[zbus(allow_interactive_auth)]
    fn reset_connections(&self, name: &str) -> zbus::Result<OwnedObjectPath>;

    #[zbus(signal)]
    fn change_added(&self, change: OwnedObjectPath) -> zbus::Result<()>;
    #[zbus(signal)]
    fn snaps_changed(&self, names: Vec<String>) -> zbus::Result<()>;

    #[zbus(property)]
    fn version(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn store_url(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn architecture(&self) -> zbus::Result<String>;
    /// False when the last read that needed the store answered from local state instead.
    #[zbus(property)]
    fn store_reachable(&self) -> zbus::Result<bool>;
}

#[proxy(
    interface = "io.github.snapshelf.Change1",
    default_service = "io.github.snapshelf.Helper1"
)]
pub trait Change1 {
    /// Polkit may ask the person (the call allows interactive authorization).
    #[zbus(allow_interactive_auth)]
    fn cancel(&self) -> zbus::Result<()>;

    #[zbus(signal)]
    fn finished(
        &self,
        status: String,
        error_kind: String,
        error_message: String,
    ) -> zbus::Result<()>;

    #[zbus(property)]
    fn id(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn kind(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn summary(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn status(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn ready(&self) -> zbus::Result<bool>;
    #[zbus(property)]
    fn progress(&self) -> zbus::Result<f64>;
    #[zbus(property)]
    fn progress_label(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn bytes_done(&self) -> zbus::Result<u64>;
    #[zbus(property)]
    fn bytes_total(&self) -> zbus::Result<u64>;
    #[zbus(property)]
    fn snaps(&self) -> zbus::Result<Vec<String>>;
    #[zbus(property)]
    fn allow_cancel(&self) -> zbus::Result<bool>;
    #[zbus(property)]
    fn error_kind(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn error(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn tasks(&self) -> zbus::Result<Vec<Task>>;
    #[zbus(property)]
    fn spawn_time(&self) -> zbus::Result<u64>;
    #[zbus(property)]
    fn ready_time(&self) -> zbus::Result<u64>;
}

/// (method, in-signature, out-signature) of `Helper1`, as the proxies above declare them; a test
/// holds the XML to the same table, and the helper's test holds its live object to the XML.
pub const HELPER1_METHODS: &[(&str, &str, &str)] = &[
    ("Find", "sa{sv}", "aa{sv}"),
    ("Info", "s", "a{sv}"),
    ("ListInstalled", "", "aa{sv}"),
    ("ListUpdates", "", "aa{sv}"),
    ("Categories", "", "as"),
    ("Connections", "s", "aa{sv}"),
    ("ListChanges", "", "ao"),
    ("Interfaces", "", "aa{sv}"),
    ("CheckFile", "h", "a{sv}"),
    ("Install", "asa{sv}", "o"),
    ("InstallFile", "ha{sv}", "o"),
    ("Remove", "asa{sv}", "o"),
    ("Refresh", "asa{sv}", "o"),
    ("Revert", "sa{sv}", "o"),
    ("Switch", "ss", "o"),
    ("Hold", "asb", ""),
    ("Connect", "ssss", "o"),
    ("Disconnect", "ssss", "o"),
    ("Aliases", "", "aa{sv}"),
    ("Alias", "ss", "o"),
    ("Unalias", "s", "o"),
    ("GetConfig", "sas", "s"),
    ("SetConfig", "ss", "o"),
    ("ResetConnections", "s", "o"),
    ("Services", "s", "aa{sv}"),
    ("StartServices", "asa{sv}", "o"),
    ("StopServices", "asa{sv}", "o"),
    ("RestartServices", "asa{sv}", "o"),
    ("RunningApps", "s", "as"),
    ("SetLocale", "s", ""),
    ("PendingRefreshes", "", "aa{sv}"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use zbus_xml::Node;

    fn sig(args: &[&zbus_xml::Arg], dir: zbus_xml::ArgDirection) -> String {
        args.iter()
            .filter(|a| a.direction() == Some(dir))
            .map(|a| a.ty().to_string())
            .collect()
    }

    #[test]
    fn the_xml_matches_the_proxies() {
        let node = Node::from_reader(crate::helper1_xml().as_bytes()).unwrap();
        let iface = node
            .interfaces()
            .iter()
            .find(|i| i.name() == "io.github.snapshelf.Helper1")
            .unwrap();
        let mut methods: Vec<(String, String, String)> = iface
            .methods()
            .iter()
            .map(|m| {
                let args: Vec<&zbus_xml::Arg> = m.args().iter().collect();
                (
                    m.name().to_string(),
                    sig(&args, zbus_xml::ArgDirection::In),
                    sig(&args, zbus_xml::ArgDirection::Out),
                )
            })
            .collect();
        let mut want: Vec<(String, String, String)> = HELPER1_METHODS
            .iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect();
        methods.sort();
        want.sort();
        assert_eq!(methods, want);
        let signals: Vec<String> = iface
            .signals()
            .iter()
            .map(|s| s.name().to_string())
            .collect();
        assert_eq!(signals, ["ChangeAdded", "SnapsChanged"]);
        let props: Vec<String> = iface
            .properties()
            .iter()
            .map(|p| p.name().to_string())
            .collect();
        assert_eq!(
            props,
            ["Version", "StoreUrl", "Architecture", "StoreReachable"]
        );

        let node = Node::from_reader(crate::change1_xml().as_bytes()).unwrap();
        let change = &node.interfaces()[0];
        assert_eq!(change.methods().len(), 1);
        assert_eq!(change.properties().len(), 16);
        let tasks = change
            .properties()
            .iter()
            .find(|p| p.name() == "Tasks")
            .unwrap();
        assert_eq!(tasks.ty().to_string(), "a(sss)");
    }
}
