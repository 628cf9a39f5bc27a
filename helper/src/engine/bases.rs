//! Which base a snap runs on. An app snap that names no `base:` (hello-world and most snaps made
//! before bases existed) runs on `core`, as snapd gives it (`overlord/snapstate/handlers.go`,
//! `doPrerequisites`: `defaultCoreSnapName` when `Base` is empty); `base: none` runs on nothing,
//! and bases, the OS, kernels, gadgets and snapd itself need no base.

/// The base snapd installs for an app snap without `base:`.
pub const DEFAULT_BASE: &str = "core";

/// The base snap a snap of type `snap_type` (as snap.yaml spells it) with `base:` set to `base`
/// needs installed, if any.
pub fn effective_base<'a>(snap_type: &str, base: Option<&'a str>) -> Option<&'a str> {
    match base {
        Some("none") => None,
        Some(b) => Some(b),
        None if snap_type == "app" => Some(DEFAULT_BASE),
        None => None,
    }
}

/// [`effective_base`] of a parsed snap.yaml.
pub fn of_yaml(yaml: &snapshelf_snap::yaml::SnapYaml) -> Option<&str> {
    effective_base(&yaml.snap_type.to_string(), yaml.base.as_deref())
}

/// [`effective_base`] of an installed snap.
pub fn of_snap(snap: &crate::state::SnapState) -> Option<&str> {
    effective_base(&snap.snap_type, snap.base.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_snaps_without_a_base_get_core_and_nothing_else_does() {
        assert_eq!(effective_base("app", None), Some("core"));
        assert_eq!(effective_base("app", Some("core22")), Some("core22"));
        assert_eq!(effective_base("app", Some("none")), None);
        for t in ["base", "os", "kernel", "gadget", "snapd"] {
            assert_eq!(effective_base(t, None), None, "{t}");
        }
        let y =
            snapshelf_snap::yaml::SnapYaml::parse("name: hello-world\nversion: '6.4'\n").unwrap();
        assert_eq!(of_yaml(&y), Some("core"));
        let y =
            snapshelf_snap::yaml::SnapYaml::parse("name: core\nversion: '16'\ntype: os\n").unwrap();
        assert_eq!(of_yaml(&y), None);
    }
}
