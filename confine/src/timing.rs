//! Opt-in timing of a launch's steps, for profiling: with `SNAPSHELF_CONFINE_TIMING=1` each step
//! prints `snapshelf-confine: timing <pid> <µs since main> <step>` on stderr. Off by default, and
//! then a step costs one load of a flag. It shows only when steps end (nothing the user could not
//! time from outside), so a privileged launcher may print it too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

static ON: AtomicBool = AtomicBool::new(false);
static START: OnceLock<Instant> = OnceLock::new();

/// Called first thing in `main`: reads the variable once.
pub fn init() {
    if std::env::var_os("SNAPSHELF_CONFINE_TIMING").is_some_and(|v| v == "1") {
        START.get_or_init(Instant::now);
        ON.store(true, Ordering::Relaxed);
    }
}

/// The step `what` has just ended (the clock is kept across `fork`: a child goes on counting).
pub fn mark(what: &str) {
    if !ON.load(Ordering::Relaxed) {
        return;
    }
    if let Some(start) = START.get() {
        eprintln!(
            "snapshelf-confine: timing {} {} {what}",
            std::process::id(),
            start.elapsed().as_micros()
        );
    }
}
