//! Where an installed snap's metadata comes from, and the consent its confinement needs.
//!
//! The store's JSON (its `snap-yaml` included) is unsigned: any store, mirror or proxy can say
//! what it likes there. It is used to plan a change and to show what is on offer, never for what is
//! installed. Once the Verify task has checked a download against its signed assertions, it reads
//! the file's own `meta/snap.yaml`, refuses a file that disagrees with the plan where that matters
//! ([`check_against_plan`]), and keeps the text; the Link task then stores that text as the
//! revision's `snap_yaml` and takes the snap's metadata from it ([`apply_revision_yaml`]), so apps,
//! plugs, slots, confinement and base (and the profiles built from them) are the verified file's.

use std::path::Path;

use snapshelf_snap::yaml::{Confinement, SnapYaml};

use crate::error::{Error, ErrorKind, Result};
use crate::state::SnapState;

/// A `.snap`'s `meta/snap.yaml`, parsed, and its text.
pub fn read_snap_yaml(path: &Path) -> Result<(SnapYaml, String)> {
    let invalid = |m: String| Error::new(ErrorKind::InvalidSnap, m);
    let snap = snapshelf_snap::squashfs::SnapFile::open(path).map_err(|e| {
        // Translators: {why} is the squashfs reader's message, in English.
        invalid(
            crate::lang::gettext("{path}: not a valid snap: {why}")
                .replace("{path}", &path.display().to_string())
                .replace("{why}", &e.to_string()),
        )
    })?;
    let text = snap
        .snap_yaml_text()
        .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    let yaml = SnapYaml::parse(&text)
        .map_err(|e| invalid(format!("{}: meta/snap.yaml: {e}", path.display())))?;
    crate::plug_attrs::check(&yaml)
        .map_err(|e| invalid(format!("{}: meta/snap.yaml: {e}", path.display())))?;
    crate::dbus_iface::check(&yaml)
        .map_err(|e| invalid(format!("{}: meta/snap.yaml: {e}", path.display())))?;
    Ok((yaml, text))
}

/// The consent a revision's confinement needs before it is installed or refreshed to:
/// `classic` (no sandbox) only with the request's `classic` option, unless the installed snap
/// is classic already (consent given at its install); `devmode` (a sandbox that enforces
/// nothing) never.
pub fn check_confinement(
    name: &str,
    confinement: Confinement,
    installed: Option<&SnapState>,
    classic: bool,
) -> Result<()> {
    match confinement {
        Confinement::Strict => Ok(()),
        Confinement::Classic
            if classic || installed.is_some_and(|s| s.confinement == "classic") =>
        {
            Ok(())
        }
        Confinement::Classic => Err(Error::new(
            ErrorKind::NeedsClassic,
            crate::lang::gettext("\"{snap}\" needs classic confinement: it runs without a sandbox")
                .replace("{snap}", name),
        )),
        Confinement::Devmode => Err(devmode_refused(name)),
    }
}

/// Refuse a snap whose `assumes` names what Snapshelf does not have (snapd's `checkAssumes`),
/// naming the features; `revision` says which revision's snap.yaml asked. A snap that asks for
/// system users is refused first ([`check_system_usernames`]).
pub fn check_assumes(name: &str, revision: &str, yaml: &SnapYaml) -> Result<()> {
    check_system_usernames(name, yaml)?;
    let unmet = snapshelf_snap::assumes::unmet(&yaml.assumes, crate::store::dpkg_architecture());
    if unmet.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::AssumesNotMet,
        // Translators: {features} and {supported} are lists of snapd feature names, kept as they are.
        crate::lang::gettext("snap \"{snap}\" (revision {revision}) assumes unsupported features: {features} (meta/snap.yaml field \"assumes\"; Snapshelf has: {supported})")
            .replace("{snap}", name)
            .replace("{revision}", revision)
            .replace("{features}", &unmet.join(", "))
            .replace("{supported}", &supported_words()),
    ))
}

/// Refuse a snap that asks for system users (`system-usernames`, snapd's
/// `checkSystemUsernames`): a name or scope snapd does not support is an invalid snap, in snapd's
/// words; a supported one is a feature Snapshelf lacks (`AssumesNotMet`, as `assumes: [snapd2.41]`
/// would be), since it creates no system users yet and the snap would fail when it runs.
fn check_system_usernames(name: &str, yaml: &SnapYaml) -> Result<()> {
    for user in &yaml.system_usernames {
        if let Some(why) = snapshelf_snap::system_usernames::unsupported(user) {
            return Err(Error::new(
                ErrorKind::InvalidSnap,
                // Translators: {why} is snapd's reason, in English, e.g. unsupported system username "daemon".
                crate::lang::gettext(
                    "snap \"{snap}\" requires {why} (meta/snap.yaml field \"system-usernames\")",
                )
                .replace("{snap}", name)
                .replace("{why}", &why),
            ));
        }
    }
    if yaml.system_usernames.is_empty() {
        return Ok(());
    }
    let users: Vec<String> = yaml
        .system_usernames
        .iter()
        .map(|u| format!("\"{}\"", u.name))
        .collect();
    Err(Error::new(
        ErrorKind::AssumesNotMet,
        // Translators: {users} is a list of quoted user names, e.g. "snap_daemon".
        crate::lang::gettext("snap \"{snap}\" requires system username {users} (meta/snap.yaml field \"system-usernames\"): Snapshelf does not create system users yet")
            .replace("{snap}", name)
            .replace("{users}", &users.join(", ")),
    ))
}

/// What Snapshelf has, as the message says it: the features and the snapd version.
fn supported_words() -> String {
    let mut words: Vec<String> = snapshelf_snap::assumes::FEATURES
        .iter()
        .map(|(f, _)| f.to_string())
        .collect();
    words.push(format!("snapd{}", snapshelf_snap::assumes::SNAPD_VERSION));
    words.join(", ")
}

fn devmode_refused(name: &str) -> Error {
    Error::new(
        ErrorKind::InvalidSnap,
        crate::lang::gettext(
            "\"{snap}\" uses devmode confinement (its sandbox enforces nothing), which is not installed",
        )
        .replace("{snap}", name),
    )
}

/// A verified file's snap.yaml against the state its change planned from the store's word:
/// another name, type or base, or a confinement that turned classic or devmode, fails the change.
pub fn check_against_plan(file: &SnapYaml, name: &str, planned: &SnapState) -> Result<()> {
    let differs = |what: &str, file_says: &str, store_said: &str| {
        Error::new(
            ErrorKind::InvalidSnap,
            // Translators: {what} is "name", "type" or "base", kept in English as snap.yaml's field.
            crate::lang::gettext("\"{snap}\": the verified file's meta/snap.yaml says {what} {file_says}, the store said {store_said}")
                .replace("{snap}", name)
                .replace("{what}", what)
                .replace("{file_says}", file_says)
                .replace("{store_said}", store_said),
        )
    };
    if file.name != name {
        return Err(differs("name", &file.name, name));
    }
    let file_type = file.snap_type.to_string();
    if file_type != planned.snap_type {
        return Err(differs("type", &file_type, &planned.snap_type));
    }
    if file.base != planned.base {
        let show = |b: &Option<String>| b.clone().unwrap_or_else(|| "none given".into());
        return Err(differs("base", &show(&file.base), &show(&planned.base)));
    }
    match file.confinement {
        Confinement::Devmode => Err(devmode_refused(name)),
        // Consent was asked for what the store said: classic only if that was classic.
        Confinement::Classic if planned.confinement != "classic" => Err(Error::new(
            ErrorKind::NeedsClassic,
            // Translators: {confinement} is "strict" or "devmode", kept as snap.yaml says it.
            crate::lang::gettext("\"{snap}\": the verified file needs classic confinement (no sandbox), the store said {confinement}")
                .replace("{snap}", name)
                .replace("{confinement}", &planned.confinement),
        )),
        _ => Ok(()),
    }
}

/// Set `snap`'s metadata from its current revision's own snap.yaml (the verified file's, or the
/// file a person installed): what the store said only stays where the file says nothing (title,
/// summary, description). A revision with no snap.yaml kept (states older than it) is left as is.
pub fn apply_revision_yaml(snap: &mut SnapState) -> Result<()> {
    let name = snap.name.clone();
    let Some(rev) = snap
        .sequence
        .iter_mut()
        .find(|r| r.revision == snap.current)
    else {
        return Ok(());
    };
    if rev.snap_yaml.is_empty() {
        return Ok(());
    }
    let yaml = SnapYaml::parse(&rev.snap_yaml).map_err(|e| {
        Error::new(
            ErrorKind::InvalidSnap,
            format!("\"{name}\" revision {}: meta/snap.yaml: {e}", rev.revision),
        )
    })?;
    rev.version = yaml.version.clone();
    snap.snap_type = yaml.snap_type.to_string();
    snap.confinement = yaml.confinement.to_string();
    snap.base = yaml.base.clone();
    if let Some(t) = yaml.title {
        snap.title = t;
    }
    if let Some(s) = yaml.summary {
        snap.summary = s;
    }
    if let Some(d) = yaml.description {
        snap.description = d;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::RevisionState;

    fn yaml(extra: &str) -> SnapYaml {
        let text = format!("name: ab\nversion: '2'\nbase: core22\n{extra}");
        SnapYaml::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn planned(confinement: &str) -> SnapState {
        let mut s = crate::engine::plan::tests_state("ab", "5");
        s.confinement = confinement.into();
        s.base = Some("core22".into());
        s
    }

    #[test]
    fn a_file_that_disagrees_with_the_store_where_it_matters_is_refused() {
        let strict = planned("strict");
        assert!(check_against_plan(&yaml(""), "ab", &strict).is_ok());
        let e = check_against_plan(&yaml("confinement: classic\n"), "ab", &strict).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NeedsClassic);
        assert!(e.message.contains("verified file"), "{}", e.message);
        let e = check_against_plan(&yaml("confinement: devmode\n"), "ab", &strict).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidSnap);
        // Consent given for classic: the file may be classic, or stricter.
        let classic = planned("classic");
        assert!(check_against_plan(&yaml("confinement: classic\n"), "ab", &classic).is_ok());
        assert!(check_against_plan(&yaml(""), "ab", &classic).is_ok());
        let e = check_against_plan(&yaml(""), "other", &strict).unwrap_err();
        assert!(e.message.contains("name ab"), "{}", e.message);
        let other_base = SnapYaml::parse("name: ab\nversion: '2'\nbase: core18\n").unwrap();
        let e = check_against_plan(&other_base, "ab", &strict).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidSnap);
        assert!(e.message.contains("base core18"), "{}", e.message);
        let a_base = SnapYaml::parse("name: ab\nversion: '2'\ntype: base\n").unwrap();
        let e = check_against_plan(&a_base, "ab", &strict).unwrap_err();
        assert!(e.message.contains("type base"), "{}", e.message);
    }

    #[test]
    fn confinement_needs_consent_on_install_and_refresh() {
        let strict = planned("strict");
        let classic = planned("classic");
        assert!(check_confinement("ab", Confinement::Strict, None, false).is_ok());
        let e = check_confinement("ab", Confinement::Classic, None, false).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NeedsClassic);
        assert!(check_confinement("ab", Confinement::Classic, None, true).is_ok());
        // A refresh that turns a strict snap classic asks again; a classic snap stays classic.
        let e = check_confinement("ab", Confinement::Classic, Some(&strict), false).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NeedsClassic);
        assert!(check_confinement("ab", Confinement::Classic, Some(&classic), false).is_ok());
        for installed in [None, Some(&strict), Some(&classic)] {
            let e = check_confinement("ab", Confinement::Devmode, installed, true).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidSnap);
        }
    }

    #[test]
    fn metadata_comes_from_the_revisions_own_snap_yaml() {
        let mut s = planned("strict");
        s.title = "Store title".into();
        s.summary = "Store summary".into();
        s.sequence = vec![RevisionState {
            snap_yaml: "name: ab\nversion: '9'\nsummary: File summary\nconfinement: classic\n"
                .into(),
            ..s.sequence[0].clone()
        }];
        s.current = s.sequence[0].revision.clone();
        apply_revision_yaml(&mut s).unwrap();
        assert_eq!(s.confinement, "classic");
        assert_eq!(s.base, None);
        assert_eq!(s.summary, "File summary");
        assert_eq!(s.title, "Store title"); // the file has none
        assert_eq!(s.sequence[0].version, "9");
        // A revision without a kept snap.yaml is left alone; a broken one is named.
        let mut old = planned("strict");
        old.sequence[0].snap_yaml.clear();
        apply_revision_yaml(&mut old).unwrap();
        assert_eq!(old.confinement, "strict");
        old.sequence[0].snap_yaml = "name: [".into();
        let e = apply_revision_yaml(&mut old).unwrap_err();
        assert!(e.message.contains("revision 5"), "{}", e.message);
    }
}
