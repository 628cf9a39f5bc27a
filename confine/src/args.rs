//! The command line: `snapshelf-confine [--root DIR] [--shell] <snap>.<app> [ARGS...]`.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::error::{Error, Result};

pub const USAGE: &str = "usage: snapshelf-confine [--root DIR] [--shell] <snap>.<app> [ARGS...]";

/// The command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub root: Option<PathBuf>,
    pub snap: String,
    pub app: String,
    /// `--shell`: a shell in the app's sandbox (after its command chain) instead of its command,
    /// as `snap run --shell`; the arguments go to the shell.
    pub shell: bool,
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
    let args = it.collect::<Result<Vec<_>>>()?;
    Ok(Invocation {
        root,
        snap,
        app,
        shell,
        args,
    })
}
