//! Open: start the snap's first app in its sandbox, as its desktop file would, through the
//! launcher (`crate::confine_path`). The app outlives nothing of ours: it is only reaped.

use std::process::{Command, Stdio};

/// What the launcher is asked to run: `snap` for the app named like its snap, `snap.app` else.
pub fn target(snap: &str, app: &str) -> String {
    if app == snap {
        app.to_string()
    } else {
        format!("{snap}.{app}")
    }
}

/// Start `target`; the error says what could not be started.
pub fn launch(target: &str) -> Result<(), String> {
    let mut cmd = Command::new(crate::confine_path());
    if let Some(root) = std::env::var_os("SNAPSHELF_ROOT") {
        cmd.arg("--root").arg(root);
    }
    cmd.arg(target).stdin(Stdio::null());
    tracing::info!(target: "ui", "launching {target}");
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {target}: {e}"))?;
    // Reap it when it ends, so no zombie is left behind.
    std::thread::spawn(move || child.wait());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_named_like_its_snap_is_the_snap() {
        assert_eq!(target("shelf-clock", "shelf-clock"), "shelf-clock");
        assert_eq!(target("shelf-clock", "alarm"), "shelf-clock.alarm");
    }

    #[test]
    fn a_launcher_that_cannot_start_is_an_error_that_names_it() {
        std::env::set_var("SNAPSHELF_CONFINE", "/nonexistent/snapshelf-confine");
        let e = launch("shelf-clock").unwrap_err();
        assert!(e.contains("cannot start shelf-clock"), "{e}");
    }
}
