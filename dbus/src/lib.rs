//! The D-Bus contract between `snapshelf-helper` and its clients (the app, `snapshelf-cli`,
//! scripts): names, the checked-in introspection XML, zbus proxies, the typed error and the
//! typed dictionaries. This is the only crate that knows the wire.

pub mod config;
pub mod error;
pub mod names;
pub mod proxy;
pub mod types;

pub use error::{Error, ErrorKind};
pub use types::Dict;

/// The introspection XML of `io.github.snapshelf.Helper1`.
pub fn helper1_xml() -> &'static str {
    include_str!("../xml/io.github.snapshelf.Helper1.xml")
}

/// The introspection XML of `io.github.snapshelf.Change1`.
pub fn change1_xml() -> &'static str {
    include_str!("../xml/io.github.snapshelf.Change1.xml")
}
