//! The D-Bus face of the helper: `io.github.snapshelf.Helper1` ([`helper`]) and one `Change1`
//! object per change ([`change`]). Methods check the words they are given, authorize, call the
//! engine and map its errors; [`convert`] turns the engine's plain types into the wire's
//! dictionaries. [`progress`] coalesces change signals, [`startup`] brings the service up.

mod change;
mod convert;
mod health;
mod helper;
mod locale;
mod progress;
mod startup;

pub use startup::{start, Options, Running};

use crate::error::Error;
use crate::lang::gettext;

/// Every engine error becomes the D-Bus error of its kind, here and nowhere else.
fn to_dbus(e: Error) -> snapshelf_dbus::Error {
    snapshelf_dbus::Error::new(e.kind, e.message)
}

const MAX_NAME: usize = 256;

/// Refuse text no name or channel could be before it reaches the engine (or polkit).
fn check_text(what: &str, s: &str) -> Result<(), snapshelf_dbus::Error> {
    if s.len() > MAX_NAME || s.chars().any(char::is_control) {
        // Translators: {what} is one of the phrases below, such as "the snap name".
        return Err(to_dbus(Error::invalid(
            gettext("{what} is too long or has control characters")
                .replace("{what}", &what_words(what)),
        )));
    }
    Ok(())
}

/// The phrase `check_text` was given, in the caller's language (the callers name the field in
/// English; each phrase they use is here, so the catalogues have it).
fn what_words(what: &str) -> String {
    match what {
        "a snap name" => gettext("a snap name"),
        "the snap name" => gettext("the snap name"),
        "the name" => gettext("the name"),
        "the plug snap" => gettext("the plug snap"),
        "the plug" => gettext("the plug"),
        "the slot snap" => gettext("the slot snap"),
        "the slot" => gettext("the slot"),
        "the service" => gettext("the service"),
        "the query" => gettext("the query"),
        "the category" => gettext("the category"),
        "the channel" => gettext("the channel"),
        "a configuration key" => gettext("a configuration key"),
        "the app" => gettext("the app"),
        "the alias" => gettext("the alias"),
        other => other.to_string(),
    }
}

fn check_names(names: &[String]) -> Result<(), snapshelf_dbus::Error> {
    if names.len() > 64 {
        return Err(to_dbus(Error::invalid(gettext(
            "at most 64 snaps in one call",
        ))));
    }
    names.iter().try_for_each(|n| check_text("a snap name", n))
}
