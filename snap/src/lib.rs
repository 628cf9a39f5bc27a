//! The snap format: `meta/snap.yaml`, `.snap` files (squashfs), SHA3-384 digests and assertions.
//!
//! Nothing here touches the system: it reads and writes bytes and files that the caller names.

pub mod assert;
pub mod assumes;
pub mod content;
pub mod digest;
pub mod layout;
pub mod naming;
pub mod profile;
pub mod saved_env;
pub mod squashfs;
pub mod store_api;
pub mod system_usernames;
#[cfg(any(test, feature = "testdata"))]
pub mod testdata;
pub mod tracking;
pub mod yaml;
