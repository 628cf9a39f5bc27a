//! `snapshelfctl run SNAP.APP`: no D-Bus at all, the launcher takes over this process.

use std::path::Path;

use crate::failure::{Failure, Res};

/// `run [--shell] SNAP.APP`: hand over to the launcher (the same as `/snap/bin/<app>`). As for the app,
/// `$SNAPSHELF_CONFINE` names another launcher and `$SNAPSHELF_ROOT` another root (the demo's).
pub(crate) fn run_app(app: &str, shell: bool, args: &[String]) -> Res<()> {
    use std::os::unix::process::CommandExt;
    let mut cmd = confine_command(app, shell)?;
    let e = cmd.args(args).exec();
    Err(Failure::own(
        format!("cannot run {}: {e}", cmd.get_program().to_string_lossy()),
        126,
    ))
}

/// The launcher's command for `app` (its arguments still to be added): confine, `--root` for
/// another root, `--shell`, and the variables a classic app needs.
pub(crate) fn confine_command(app: &str, shell: bool) -> Res<std::process::Command> {
    let given = std::env::var("SNAPSHELF_CONFINE").ok();
    let confine = given
        .iter()
        .map(String::as_str)
        .chain([
            "/usr/libexec/snapshelf/snapshelf-confine",
            "/usr/local/libexec/snapshelf/snapshelf-confine",
        ])
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| Failure::own("snapshelf-confine is not installed", 10))?;
    let mut cmd = std::process::Command::new(confine);
    if let Some(root) = std::env::var_os("SNAPSHELF_ROOT") {
        cmd.arg("--root").arg(root);
    }
    if shell {
        cmd.arg("--shell");
    }
    // What a confine with file capabilities would not get, for a classic app (as `snap run`).
    let vars = std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v)));
    cmd.envs(snapshelf_snap::saved_env::saved(vars));
    cmd.arg(app);
    Ok(cmd)
}
