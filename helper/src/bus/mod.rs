//! The D-Bus face of the helper: `io.github.snapshelf.Helper1` ([`helper`]) and one `Change1`
//! object per change ([`change`]). Methods check the words they are given, authorize, call the
//! engine and map its errors; [`convert`] turns the engine's plain types into the wire's
//! dictionaries. [`progress`] coalesces change signals, [`startup`] brings the service up.

mod change;
mod convert;
mod helper;
mod locale;
mod progress;
mod startup;

pub use startup::{start, Options, Running};

use crate::error::Error;

/// Every engine error becomes the D-Bus error of its kind, here and nowhere else.
fn to_dbus(e: Error) -> snapshelf_dbus::Error {
    snapshelf_dbus::Error::new(e.kind, e.message)
}

const MAX_NAME: usize = 256;

/// Refuse text no name or channel could be before it reaches the engine (or polkit).
fn check_text(what: &str, s: &str) -> Result<(), snapshelf_dbus::Error> {
    if s.len() > MAX_NAME || s.chars().any(char::is_control) {
        return Err(to_dbus(Error::invalid(format!(
            "{what} is too long or has control characters"
        ))));
    }
    Ok(())
}

fn check_names(names: &[String]) -> Result<(), snapshelf_dbus::Error> {
    if names.len() > 64 {
        return Err(to_dbus(Error::invalid("at most 64 snaps in one call")));
    }
    names.iter().try_for_each(|n| check_text("a snap name", n))
}
