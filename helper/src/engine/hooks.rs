//! The hooks of a revision and their sandbox profiles: the hooks snap.yaml declares and the
//! executables in `meta/hooks/` (snapd's implicit hooks), each with the profile of a
//! `hook.<name>` app: `meta/hooks/<name>` as its command, the hook's command chain and
//! environment, and the plugs bound to it (its own and the snap's top-level ones).

use std::collections::BTreeSet;

use snapshelf_snap::profile::Profile;

use crate::error::Result;
use crate::paths::Paths;
use crate::state::SnapState;

/// The app name of a hook's profile (`snapshelf-confine <snap>.hook.<name>`).
pub fn app_name(hook: &str) -> String {
    format!("hook.{hook}")
}

/// The hooks snapd runs (others in `meta/hooks/` are ignored, as snapd ignores them).
const SUPPORTED: &[&str] = &[
    "install",
    "configure",
    "default-configure",
    "pre-refresh",
    "post-refresh",
    "remove",
    "check-health",
    "gate-auto-refresh",
];
const SUPPORTED_PREFIXES: &[&str] = &[
    "prepare-plug-",
    "prepare-slot-",
    "connect-plug-",
    "connect-slot-",
    "disconnect-plug-",
    "disconnect-slot-",
    "unprepare-plug-",
    "unprepare-slot-",
];

pub fn supported(name: &str) -> bool {
    snapshelf_snap::naming::validate_hook_name(name).is_ok()
        && (SUPPORTED.contains(&name) || SUPPORTED_PREFIXES.iter().any(|p| name.starts_with(p)))
}

/// The names of the hooks of the snap's current revision.
pub fn names(paths: &Paths, snap: &SnapState) -> Result<BTreeSet<String>> {
    let yaml = super::files::parse_yaml(snap, &snap.current)?;
    let mut out: BTreeSet<String> = yaml
        .hooks
        .keys()
        .filter(|h| supported(h))
        .cloned()
        .collect();
    let dir = paths
        .mount_point(&snap.name, &snap.current)
        .join("meta/hooks");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            let regular = e.file_type().map(|t| t.is_file()).unwrap_or(false);
            if regular && supported(&name) {
                out.insert(name);
            }
        }
    }
    // A hook declared without its file cannot run: snapd leaves it out too.
    out.retain(|h| dir.join(h).is_file());
    Ok(out)
}

/// The profiles of the current revision's hooks.
/// Hooks share the snap's mount namespace in snapd, so they get its content mounts too.
pub fn profiles(
    paths: &Paths,
    snap: &SnapState,
    base_revision: &str,
    content: &[snapshelf_snap::profile::ProfileContent],
) -> Result<Vec<Profile>> {
    let yaml = super::files::parse_yaml(snap, &snap.current)?;
    let common = super::files::ProfileCommon::of(snap, &yaml, base_revision, content)?;
    let all = yaml.all_plugs();
    let mut out = Vec::new();
    for name in names(paths, snap)? {
        let declared = yaml.hooks.get(&name);
        let mut env = yaml.environment.clone();
        let mut chain = Vec::new();
        let mut plug_names: BTreeSet<String> = yaml.plugs.keys().cloned().collect();
        if let Some(h) = declared {
            env.extend(h.environment.iter().cloned());
            chain = h.command_chain.clone();
            plug_names.extend(h.plugs.iter().cloned());
        }
        let plugs = plug_names
            .into_iter()
            .map(|plug| {
                let interface = all.get(&plug).cloned().unwrap_or_else(|| plug.clone());
                common.plug(plug, interface)
            })
            .collect();
        let command = vec![format!("meta/hooks/{name}")];
        out.push(common.profile(app_name(&name), (command, chain), env, plugs));
    }
    Ok(out)
}
