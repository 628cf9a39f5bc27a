//! Bus names, object paths and interface names of the contract.

use zbus::zvariant::OwnedObjectPath;

pub const SERVICE: &str = "io.github.snapshelf.Helper1";
pub const PATH: &str = "/io/github/snapshelf/Helper1";
pub const INTERFACE: &str = "io.github.snapshelf.Helper1";
pub const CHANGE_INTERFACE: &str = "io.github.snapshelf.Change1";
pub const CHANGE_PATH_PREFIX: &str = "/io/github/snapshelf/Helper1/changes/";
pub const ERROR_PREFIX: &str = "io.github.snapshelf.Error";

/// The object path of change `id`.
pub fn change_path(id: u64) -> OwnedObjectPath {
    OwnedObjectPath::try_from(format!("{CHANGE_PATH_PREFIX}{id}"))
        .expect("a number makes a valid path element")
}

/// The id of a change from its object path.
pub fn change_id(path: &str) -> Option<u64> {
    path.strip_prefix(CHANGE_PATH_PREFIX)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_paths_round_trip() {
        let p = change_path(42);
        assert_eq!(p.as_str(), "/io/github/snapshelf/Helper1/changes/42");
        assert_eq!(change_id(p.as_str()), Some(42));
        assert_eq!(change_id("/elsewhere/42"), None);
    }
}
