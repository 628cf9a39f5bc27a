//! The command line: `snapshelf-confine [--root DIR] [--shell | --command=NAME] <snap>.<app> [ARGS...]`.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::error::{Error, Result};

pub const USAGE: &str =
    "usage: snapshelf-confine [--root DIR] [--shell | --command=stop|reload|post-stop] <snap>.<app> [ARGS...]";

/// The other commands of a daemon that `--command` runs, as snapd's `snap run --command=…`.
pub const COMMANDS: [&str; 3] = ["stop", "reload", "post-stop"];

/// The command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub root: Option<PathBuf>,
    pub snap: String,
    pub app: String,
    /// `--shell`: a shell in the app's sandbox (after its command chain) instead of its command,
    /// as `snap run --shell`; the arguments go to the shell.
    pub shell: bool,
    /// `--command=stop|reload|post-stop`: the daemon's `stop-command`, `reload-command` or
    /// `post-stop-command` (read from the snap's `meta/snap.yaml`) instead of its command, in the
    /// same sandbox; systemd runs them as `ExecStop=`, `ExecReload=` and `ExecStopPost=`.
    pub command: Option<String>,
    pub args: Vec<String>,
}

/// Parse the command line (without the program name). Options end at the first non-option: what
/// follows `<snap>.<app>` belongs to the app.
pub fn parse_args(args: Vec<OsString>) -> Result<Invocation> {
    let mut it = args.into_iter().map(|a| {
        a.into_string()
            .map_err(|_| Error::Usage("arguments must be UTF-8".into()))
    });
    let mut root = None;
    let mut shell = false;
    let mut command = None;
    let target = loop {
        match it.next().transpose()? {
            None => return Err(Error::Usage(USAGE.into())),
            Some(a) if a == "--root" => {
                let dir = it
                    .next()
                    .transpose()?
                    .ok_or_else(|| Error::Usage("--root needs a directory".into()))?;
                root = Some(PathBuf::from(dir));
            }
            Some(a) if a.starts_with("--root=") => root = Some(PathBuf::from(&a[7..])),
            Some(a) if a == "--shell" => shell = true,
            Some(a) if a == "--command" || a.starts_with("--command=") => {
                let name = match a.strip_prefix("--command=") {
                    Some(n) => n.to_string(),
                    None => it
                        .next()
                        .transpose()?
                        .ok_or_else(|| Error::Usage("--command needs a name".into()))?,
                };
                if !COMMANDS.contains(&name.as_str()) {
                    return Err(Error::Usage(format!(
                        "unknown command {name:?} (expected one of {})",
                        COMMANDS.join(", ")
                    )));
                }
                command = Some(name);
            }
            Some(a) if a.starts_with('-') => {
                return Err(Error::Usage(format!("unknown option {a}\n{USAGE}")))
            }
            Some(a) => break a,
        }
    };
    let (snap, app) = target
        .split_once('.')
        .map(|(s, a)| (s.to_string(), a.to_string()))
        .unwrap_or_else(|| (target.clone(), target.clone()));
    snapshelf_snap::naming::validate_snap_name(&snap)
        .map_err(|e| Error::Usage(format!("{target:?}: {e}")))?;
    // `<snap>.hook.<hook>`: a hook, run by the helper with the hook's own profile.
    match app.strip_prefix("hook.") {
        Some(hook) => snapshelf_snap::naming::validate_hook_name(hook),
        None => snapshelf_snap::naming::validate_app_name(&app),
    }
    .map_err(|e| Error::Usage(format!("{target:?}: {e}")))?;
    if shell && command.is_some() {
        return Err(Error::Usage(
            "--shell and --command exclude each other".into(),
        ));
    }
    if command.is_some() && app.starts_with("hook.") {
        return Err(Error::Usage(format!(
            "{target:?}: a hook has no other commands"
        )));
    }
    let args = it.collect::<Result<Vec<_>>>()?;
    Ok(Invocation {
        root,
        snap,
        app,
        shell,
        command,
        args,
    })
}
