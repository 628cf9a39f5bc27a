//! Planning: turning a request (install these names, revert that snap…) into the tasks of one change,
//! with everything checked that can be checked before anything is done. One file per operation;
//! what they share is here: the checks, the store's answers read into [`Resolved`], the state a
//! snap will have, the chain of tasks that brings a revision in, and the bases it needs.

mod alias;
mod configure;
mod connect;
mod content;
mod dbus;
mod download;
mod file;
mod gating;
mod install;
mod providers;
mod refresh;
pub mod refresh_running;
mod remove;
mod revert;
pub mod service_control;
mod services;
mod snap_connection;
mod switch;

pub use file::FileCheck;

use std::collections::BTreeSet;

use crate::lang::gettext;
use snapshelf_snap::naming::validate_snap_name;
use snapshelf_snap::store_api::StoreSnap;
use snapshelf_snap::yaml::{Epoch, SnapYaml};

use super::task::inhibit_run::{InhibitRun, UninhibitRun};
use super::task::{adopt_file::AdoptFile, connect::Connect, data::Data, download::Download};
use super::task::{
    auto_connect_hooks::AutoConnectHooks, revision_config::RevisionConfig, run_hook::RunHook,
    verify::Verify, Task,
};
use super::task::{discard_data::DiscardData, discard_revisions::DiscardRevisions, unlink::Unlink};
use super::task::{gc::Gc, link::Link, mount::Mount, switch_channel::SwitchChannel};
use super::{not_installed, Engine};
use crate::error::{Error, ErrorKind, Result};
use crate::state::RevisionState;
use crate::state::SnapState;
use crate::store::{Action, ActionResult, ContextEntry};

/// A snap the store resolved for install or refresh.
#[derive(Debug, Clone)]
struct Resolved {
    name: String,
    snap_id: String,
    revision: u32,
    channel: String,
    url: String,
    sha3_384: String,
    size: u64,
    yaml: SnapYaml,
    snap: Box<StoreSnap>,
}

const RISKS: [&str; 4] = ["stable", "candidate", "beta", "edge"];

/// A channel name's parts, as snapd's `channel.Parse` reads them: `risk`, `track`,
/// `track/risk`, `risk/branch` or `track/risk/branch`.
#[derive(Debug, PartialEq)]
struct ChannelName<'a> {
    track: &'a str,
    risk: &'a str,
    branch: Option<&'a str>,
}

fn parse_channel(channel: &str) -> std::result::Result<ChannelName<'_>, String> {
    if channel.is_empty() || channel.len() > 128 {
        return Err("a channel name has 1 to 128 characters".into());
    }
    let parts: Vec<&str> = channel.split('/').collect();
    for p in &parts {
        let ok = !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !ok {
            return Err(format!(
                "{p:?} is not a valid part (letters, digits, '.', '-' and '_')"
            ));
        }
    }
    let is_risk = |p: &str| RISKS.contains(&p);
    let not_a_risk = |p: &str| format!("{p:?} is not a risk (stable, candidate, beta or edge)");
    match parts.as_slice() {
        [one] if is_risk(one) => Ok(ChannelName {
            track: "latest",
            risk: one,
            branch: None,
        }),
        [track] => Ok(ChannelName {
            track,
            risk: "stable",
            branch: None,
        }),
        [risk, branch] if is_risk(risk) => Ok(ChannelName {
            track: "latest",
            risk,
            branch: Some(branch),
        }),
        [track, risk] if is_risk(risk) => Ok(ChannelName {
            track,
            risk,
            branch: None,
        }),
        [_, risk] => Err(not_a_risk(risk)),
        [track, risk, branch] if is_risk(risk) && !is_risk(track) => Ok(ChannelName {
            track,
            risk,
            branch: Some(branch),
        }),
        [track, risk, _] if is_risk(track) => Err(format!("{track:?} is a risk, not a track")),
        [_, risk, _] => Err(not_a_risk(risk)),
        _ => Err("a channel has at most three parts: track/risk/branch".into()),
    }
}

/// `stable` → `latest/stable`, `beta/fix` → `latest/beta/fix`: the form the state and the API
/// keep. A name that does not parse is kept as it is (only the store's own answers get here
/// unchecked).
pub fn full_channel(channel: &str) -> String {
    match parse_channel(channel) {
        Ok(ChannelName {
            track,
            risk,
            branch: Some(b),
        }) => format!("{track}/{risk}/{b}"),
        Ok(ChannelName { track, risk, .. }) => format!("{track}/{risk}"),
        Err(_) => channel.to_string(),
    }
}

/// Any well-formed channel name: closed risks and branches are not in the store's channel map,
/// so a name is refused only when it cannot be a channel at all.
pub fn validate_channel(channel: &str) -> Result<()> {
    parse_channel(channel).map(|_| ()).map_err(|e| {
        // Translators: {channel} is the name given, in quotes; {why} says what is wrong, in English.
        Error::invalid(
            gettext("invalid channel {channel}: {why}")
                .replace("{channel}", &format!("{channel:?}"))
                .replace("{why}", &e.to_string()),
        )
    })
}

/// A snap name refused: the lead in the caller's language, snapd's reason (English) after it.
pub(crate) fn invalid_name(name: &str, why: &str) -> Error {
    // Translators: {snap} is the name given, in quotes; {why} says what is wrong, in English.
    Error::invalid(
        gettext("invalid snap name {snap}: {why}")
            .replace("{snap}", &format!("{name:?}"))
            .replace("{why}", why),
    )
}

fn check_names(names: &[String]) -> Result<()> {
    if names.len() > 64 {
        return Err(Error::invalid(gettext("at most 64 snaps in one change")));
    }
    let mut seen = BTreeSet::new();
    for n in names {
        validate_snap_name(n).map_err(|e| invalid_name(n, &e.to_string()))?;
        if !seen.insert(n) {
            return Err(Error::invalid(
                gettext("\"{snap}\" is listed twice").replace("{snap}", n),
            ));
        }
    }
    Ok(())
}

/// `"a"`, `"a" and "b"`, `"a", "b" and "c"`, in the caller's language.
fn name_list(names: &[String]) -> String {
    crate::lang::name_list(names)
}

/// A change's summary, for people (the `Summary` property).
fn summary(verb: &str, names: &[String]) -> String {
    let template = match (verb, names.is_empty()) {
        ("Refresh", true) => return gettext("Refresh all snaps"),
        // Translators: {snaps} is a list of quoted snap names.
        ("Install", _) => gettext("Install {snaps}"),
        ("Refresh", _) => gettext("Refresh {snaps}"),
        ("Remove", _) => gettext("Remove {snaps}"),
        _ => format!("{verb} {{snaps}}"),
    };
    template.replace("{snaps}", &name_list(names))
}

/// What the store's answer for one snap says, checked. `requested`: the channel asked for (a
/// refresh without one asks for the tracked channel).
fn resolved_from(result: ActionResult, requested: Option<&str>) -> Result<Resolved> {
    match result {
        ActionResult::Ok {
            name,
            snap_id,
            redirect_channel,
            snap,
            ..
        } => resolved_revision(name, snap_id, redirect_channel, snap, requested),
        ActionResult::Error {
            name,
            snap_id,
            code,
            message,
            releases,
        } => Err(store_refusal(
            &name.or(snap_id).unwrap_or_default(),
            &code,
            &message,
            &releases,
        )),
    }
}

/// A revision the store offers, checked: its snap.yaml names the snap asked for, its revision and
/// digest are well formed, and the channel to track is the one asked for or the store's redirect.
fn resolved_revision(
    name: String,
    snap_id: String,
    redirect_channel: Option<String>,
    snap: Box<StoreSnap>,
    requested: Option<&str>,
) -> Result<Resolved> {
    let yaml_text = snap.revision.snap_yaml.as_deref().unwrap_or("");
    let yaml = SnapYaml::parse(yaml_text).map_err(|e| {
        Error::new(
            ErrorKind::InvalidSnap,
            format!("\"{name}\": the store's snap.yaml: {e}"),
        )
    })?;
    if yaml.name != name {
        return Err(Error::new(
            ErrorKind::StoreError,
            format!(
                "the store answered for \"{}\" when asked for \"{name}\"",
                yaml.name
            ),
        ));
    }
    // Before anything is downloaded: the store's word is enough to refuse (Verify checks the
    // file's own snap.yaml again).
    crate::engine::snap_meta::check_assumes(&name, &snap.revision.revision.to_string(), &yaml)?;
    let download = &snap.revision.download;
    let revision = Some(snap.revision.revision)
        .filter(|r| *r >= 1)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::StoreError,
                format!("\"{name}\": no valid revision"),
            )
        })?;
    let sha3 = download.sha3_384.clone().unwrap_or_default();
    if sha3.len() != 96 || !sha3.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::new(
            ErrorKind::StoreError,
            format!("\"{name}\": no valid download digest"),
        ));
    }
    // Checked here, for this snap alone: met in the download task, it would undo the whole change.
    let url = download.url.clone().unwrap_or_default();
    crate::store::web_url("download", &url).map_err(|e| {
        let e = Error::from(e);
        Error::new(e.kind, format!("\"{name}\": {}", e.message))
    })?;
    // Tracked: what was asked for, or where the store redirects a default track (snapd); never
    // `effective-channel`, the risk that happened to serve (a closed `beta` is served from
    // `candidate`, and must stay tracked as beta).
    let channel = redirect_channel
        .as_deref()
        .filter(|c| validate_channel(c).is_ok())
        .or(requested)
        .map(full_channel)
        .unwrap_or_else(|| "latest/stable".into());
    Ok(Resolved {
        url,
        size: download.size,
        sha3_384: sha3,
        name,
        snap_id,
        revision,
        channel,
        yaml,
        snap,
    })
}

/// A store's per-snap error in words, with its kind.
fn store_refusal(who: &str, code: &str, message: &str, releases: &[String]) -> Error {
    match code {
        "name-not-found" | "id-not-found" => Error::new(
            ErrorKind::NotFound,
            gettext("snap \"{snap}\" not found in the store").replace("{snap}", who),
        ),
        "revision-not-found" if releases.is_empty() => Error::new(
            ErrorKind::ChannelNotAvailable,
            // Translators: {why} is the store's own message, in English.
            gettext("\"{snap}\" has no revision there: {why}")
                .replace("{snap}", who)
                .replace("{why}", message),
        ),
        "revision-not-found" => Error::new(
            ErrorKind::ChannelNotAvailable,
            // Translators: {channels} is a list of channel names such as latest/stable.
            gettext("\"{snap}\" is not available on that channel; it is on {channels}")
                .replace("{snap}", who)
                .replace("{channels}", &releases.join(", ")),
        ),
        _ => Error::new(
            ErrorKind::StoreError,
            format!("\"{who}\": {message} ({code})"),
        ),
    }
}

/// What a download needs to know about the revision it installs, kept until the link.
fn revision_state(
    revision: &str,
    version: &str,
    channel: &str,
    size: u64,
    sha3_384: &str,
    snap_yaml: &str,
) -> RevisionState {
    RevisionState {
        revision: revision.to_string(),
        version: version.to_string(),
        channel: channel.to_string(),
        size,
        sha3_384: sha3_384.to_string(),
        snap_yaml: snap_yaml.to_string(),
        extracted: false,
        installed_at: crate::state::now(),
    }
}

/// A new snap's state from what the store said about it.
fn new_snap_state(r: &Resolved) -> SnapState {
    let s = &r.snap.details;
    let publisher = &s.publisher;
    let icon = s.media_urls("icon").into_iter().next().unwrap_or_default();
    SnapState {
        name: r.name.clone(),
        snap_id: r.snap_id.clone(),
        snap_type: r.yaml.snap_type.to_string(),
        // As Find and Info show it: the publisher's display name (their username where none).
        publisher: publisher.shown_name().to_string(),
        publisher_validation: publisher.validation.clone(),
        title: r.yaml.title.clone().unwrap_or_else(|| s.title.clone()),
        summary: r.yaml.summary.clone().unwrap_or_default(),
        description: r.yaml.description.clone().unwrap_or_default(),
        confinement: r.yaml.confinement.to_string(),
        base: r.yaml.base.clone(),
        license: s.license.clone().unwrap_or_default(),
        icon_url: icon,
        tracking_channel: r.channel.clone(),
        held: false,
        current: r.revision.to_string(),
        sequence: vec![revision_state(
            &r.revision.to_string(),
            &r.yaml.version,
            &r.channel,
            r.size,
            &r.sha3_384,
            r.yaml.raw(),
        )],
        blocked: Vec::new(),
        connections: Default::default(),
        aliases: Default::default(),
        content: Default::default(),
        dbus: Default::default(),
        declared_auto_connect: Default::default(),
        iface_attrs: Default::default(),
    }
}

/// The state a snap has once the revision `fresh` describes (as if newly installed) is current:
/// a new snap is `fresh`; an installed one keeps its choices and kept revisions and takes the new
/// revision's metadata, and from the store also its listing (publisher, icon, license, channel).
fn state_after(before: Option<&SnapState>, fresh: SnapState, from_store: bool) -> SnapState {
    let Some(b) = before else {
        return fresh;
    };
    let mut a = b.clone();
    a.title = fresh.title;
    a.summary = fresh.summary;
    a.description = fresh.description;
    a.confinement = fresh.confinement;
    a.base = fresh.base;
    if !fresh.snap_id.is_empty() {
        a.snap_id = fresh.snap_id;
    }
    if from_store {
        a.license = fresh.license;
        a.icon_url = fresh.icon_url;
        a.publisher = fresh.publisher;
        a.publisher_validation = fresh.publisher_validation;
        a.tracking_channel = fresh.tracking_channel;
    }
    if a.revision(&fresh.current).is_none() {
        a.sequence.extend(fresh.sequence);
    }
    a.current = fresh.current;
    a
}

/// Where the file of a revision comes from.
enum Fetch<'a> {
    /// Downloaded from the store, then verified against its assertions.
    Store(&'a Resolved),
    /// Handed over by `InstallFile`, already in the blob directory; its snap.yaml.
    File(&'a SnapYaml),
}

/// The tasks that bring revision `after.current` in and make it current: its file, mount and data
/// (unless the revision is kept), then the link, with the services stopped and started where
/// snapd does (`services.rs`). Every install and refresh, from the store or from a file, goes
/// this one way.
fn bring_in(fetch: Fetch, before: Option<&SnapState>, after: SnapState, out: &mut Vec<Task>) {
    let (name, rev) = (after.name.clone(), after.current.clone());
    let kept = before.and_then(|b| b.revision(&rev)).is_some();
    // Hooks as snapd orders them: pre-refresh on the old revision before its data is copied;
    // install (or post-refresh), then configure, once the new one is current. Only apps have
    // hooks here; a revision without the hook skips it.
    let hooks = after.snap_type == "app";
    let yaml = match fetch {
        Fetch::Store(r) => &r.yaml,
        Fetch::File(yaml) => yaml,
    };
    if !kept {
        match fetch {
            Fetch::Store(r) => {
                out.push(Task::Download(Download {
                    name: name.clone(),
                    revision: rev.clone(),
                    url: r.url.clone(),
                    sha3_384: r.sha3_384.clone(),
                    size: r.size,
                    delta: before.and_then(|b| {
                        let deltas = r.snap.revision.download.deltas.as_deref()?;
                        crate::delta::choose(deltas, &b.current, r.revision, r.size)
                    }),
                    background: false,
                }));
                out.push(Task::Verify(Verify {
                    name: name.clone(),
                    revision: rev.clone(),
                    snap_id: r.snap_id.clone(),
                    sha3_384: r.sha3_384.clone(),
                    size: r.size,
                    snap_yaml: None,
                    download_only: false,
                }));
            }
            Fetch::File(_) => out.push(Task::AdoptFile(AdoptFile {
                name: name.clone(),
                revision: rev.clone(),
            })),
        }
        out.push(Task::Mount(Mount {
            name: name.clone(),
            revision: rev.clone(),
        }));
        if hooks && before.is_some() {
            out.push(Task::RunHook(RunHook::new(&name, "pre-refresh")));
        }
        if let Some(b) = before {
            // Stopped before the copy: a running daemon would change $SNAP_DATA under it.
            out.push(Task::StopServices(services::stop_to(&name, &rev)));
            // New launches wait from here to the Link (snapd's unlink-current-snap).
            out.push(Task::InhibitRun(InhibitRun::new(&name, &b.current)));
        }
        out.push(Task::Data(Data {
            name: name.clone(),
            revision: rev,
            copy_from: before.map(|b| b.current.clone()),
            restore_snapshot: before.is_none(),
            snap_id: after.snap_id.clone(),
            created_data: None,
            created_common: None,
            restored: None,
            user_copies: None,
        }));
    } else if let Some(b) = before {
        out.push(Task::StopServices(services::stop_to(&name, &rev)));
        out.push(Task::InhibitRun(InhibitRun::new(&name, &b.current)));
    }
    out.push(Task::Link(Link {
        name: name.clone(),
        after: Box::new(after),
        before: None,
        captured: false,
    }));
    // snapd's link-snap keeps the configuration as the replaced revision's.
    if let Some(b) = before {
        out.push(Task::UninhibitRun(UninhibitRun::new(&name, &b.current)));
        let keep = RevisionConfig::new(&name, &b.current, None);
        out.push(Task::RevisionConfig(keep));
    }
    out.push(refresh_aliases(name.clone()));
    // snapd's auto-connect: the content plugs' connections, then the interface hooks of those and
    // of the plugs the policy connects (new ones, in a refresh), once the snap is linked and
    // before its install or post-refresh hook.
    providers::content_connect_tasks(&name, yaml, out);
    hooks_after_link(&name, before, hooks, out);
}

/// After the link, in snapd's order: the auto-connect interface hooks, the install (or
/// post-refresh) hook and, on a first install, default-configure, which may `snapctl
/// start|stop` the services and set defaults while they are not running yet; then
/// start-snap-services; then the configure hook and check-health. A snap without hooks (a base)
/// gets only its services started.
fn hooks_after_link(name: &str, before: Option<&SnapState>, hooks: bool, out: &mut Vec<Task>) {
    if hooks {
        out.push(Task::AutoConnectHooks(AutoConnectHooks {
            except: before
                .map(crate::engine::iface_hooks::connected_plugs)
                .unwrap_or_default(),
            ..AutoConnectHooks::new(name, false)
        }));
        let first = if before.is_some() {
            "post-refresh"
        } else {
            "install"
        };
        out.push(Task::RunHook(RunHook::new(name, first)));
        if before.is_none() {
            out.push(Task::RunHook(RunHook::new(name, "default-configure")));
        }
    }
    out.push(services::start(name));
    if hooks {
        out.push(Task::RunHook(RunHook::new(name, "configure")));
        out.push(Task::RunHook(RunHook::new(
            name,
            super::task::run_hook::CHECK_HEALTH,
        )));
    }
}

/// The task that sets a snap's aliases up after its revision is linked.
pub(crate) fn refresh_aliases(name: String) -> Task {
    Task::RefreshAliases(super::task::refresh_aliases::RefreshAliases {
        name,
        before: None,
        after: None,
    })
}

/// The tasks that bring a resolved revision in, as a new snap or on top of `before`.
fn install_tasks(r: &Resolved, before: Option<&SnapState>, out: &mut Vec<Task>) {
    let after = state_after(before, new_snap_state(r), true);
    bring_in(Fetch::Store(r), before, after, out);
}

/// What the store is told about the installed snaps with every request (snapd's `context`).
pub(crate) fn context(snaps: &[SnapState]) -> Vec<ContextEntry> {
    snaps
        .iter()
        .filter(|s| !s.is_local())
        .filter_map(|s| {
            Some(ContextEntry {
                revision: s.current.parse().ok()?,
                snap_id: s.snap_id.clone(),
                tracking_channel: s.tracking_channel.clone(),
                held: s.held,
                epoch: (&installed_epoch(s)).into(),
            })
        })
        .collect()
}

/// The epoch of a snap's current revision, from the snap.yaml of its verified file. A revision
/// kept without one (written by an older helper) or whose snap.yaml no longer parses is taken as
/// epoch 0, snapd's default, and said in the log.
pub(crate) fn installed_epoch(s: &SnapState) -> Epoch {
    let text = s
        .revision(&s.current)
        .map(|r| r.snap_yaml.as_str())
        .unwrap_or("");
    if text.is_empty() {
        return Epoch::default();
    }
    match SnapYaml::parse(text) {
        Ok(y) => y.epoch,
        Err(e) => {
            tracing::warn!(snap = %s.name, revision = %s.current,
                "the kept snap.yaml does not parse ({e}); its epoch is taken as 0");
            Epoch::default()
        }
    }
}

/// snapd's `Epoch.CanRead`: a revision of epoch `new` can read the data a revision of epoch
/// `current` wrote when it reads one of the epochs that one writes.
fn can_read(new: &Epoch, current: &Epoch) -> bool {
    new.read.iter().any(|r| current.write.contains(r))
}

/// An epoch as a person reads it: `1`, or `read 0,1 write 1`.
fn show_epoch(e: &Epoch) -> String {
    let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    if e.read == e.write {
        list(&e.read)
    } else {
        format!("read {} write {}", list(&e.read), list(&e.write))
    }
}

/// Refuse a revision that cannot read the data of the snap's current one (snapd's
/// `checkEpochs`): its data would be lost or misread.
pub(crate) fn check_epoch(
    name: &str,
    revision: &str,
    new: &Epoch,
    before: &SnapState,
) -> Result<()> {
    let current = installed_epoch(before);
    if can_read(new, &current) {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::EpochMismatch,
        // Translators: an epoch is the version of a snap's data format, such as 1 or 2*.
        gettext("cannot refresh \"{snap}\" to revision {revision} (epoch {epoch}): it cannot read the data of the installed revision {current} (epoch {current_epoch})")
            .replace("{snap}", name)
            .replace("{revision}", revision)
            .replace("{epoch}", &show_epoch(new))
            .replace("{current}", &before.current)
            .replace("{current_epoch}", &show_epoch(&current)),
    ))
}

impl Engine {
    fn context(&self) -> Result<Vec<ContextEntry>> {
        Ok(context(&self.installed()?))
    }

    /// Resolve base snaps from the store's stable channel: the outer error is the store's, each
    /// inner one what was wrong with its answer for one base.
    async fn resolve_bases(&self, names: &[String]) -> Result<Vec<Result<Resolved>>> {
        let actions: Vec<Action> = names
            .iter()
            .map(|b| Action::Install {
                name: b.clone(),
                channel: Some("stable".into()),
                revision: None,
            })
            .collect();
        let results = self.store().snap_action(&self.context()?, &actions).await?;
        Ok(results
            .into_iter()
            .map(|r| resolved_from(r, Some("stable")))
            .collect())
    }

    /// Resolve the prerequisites the snaps need that are neither installed nor being installed:
    /// their default content providers (`providers.rs`), then the bases of all of them.
    async fn add_missing_bases(&self, resolved: &mut Vec<Resolved>) -> Result<()> {
        self.add_default_providers(resolved).await?;
        let mut wanted: Vec<String> = Vec::new();
        for r in resolved.iter() {
            if let Some(base) = crate::engine::bases::of_yaml(&r.yaml) {
                if self.snap(base)?.is_none()
                    && !resolved.iter().any(|x| x.name == base)
                    && !wanted.iter().any(|w| w == base)
                {
                    wanted.push(base.to_string());
                }
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let mut bases = Vec::new();
        for b in self.resolve_bases(&wanted).await? {
            let b = b.map_err(|e| {
                let message = format!(
                    "cannot install a base snap the request needs: {}",
                    e.message
                );
                Error::new(e.kind, message)
            })?;
            bases.push(b);
        }
        // Bases go first: their link must come before the apps that run on them.
        bases.append(resolved);
        *resolved = bases;
        Ok(())
    }
}

/// A new snap's state as a file of revision `rev` with nothing but a name installs it.
#[cfg(test)]
pub(crate) fn tests_state(name: &str, rev: &str) -> SnapState {
    file::tests_support::state(name, rev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_kept_in_full() {
        assert_eq!(full_channel("stable"), "latest/stable");
        assert_eq!(full_channel("candidate"), "latest/candidate");
        assert_eq!(full_channel("2.0"), "2.0/stable");
        assert_eq!(full_channel("2.0/edge"), "2.0/edge");
        assert_eq!(full_channel("beta/fix-1"), "latest/beta/fix-1");
        assert_eq!(full_channel("2.0/beta/fix-1"), "2.0/beta/fix-1");
        assert_eq!(full_channel("latest/stable"), "latest/stable");
        // Closed risks and branches are valid names although no channel map lists them.
        for ok in [
            "edge/hotfix",
            "1.x/candidate/pr-12",
            "insider",
            "latest/edge",
        ] {
            assert!(validate_channel(ok).is_ok(), "{ok}");
        }
        for bad in ["2.0/nightly", "a/b/c/d", "stable/beta/x", "1/nope/x", "a/"] {
            assert!(validate_channel(bad).is_err(), "{bad}");
        }
        assert!(validate_channel("latest/stable").is_ok());
        assert!(validate_channel("a b").is_err());
        assert!(validate_channel("").is_err());
        assert!(validate_channel("a//b").is_err());
    }

    fn epoch(read: &[u32], write: &[u32]) -> Epoch {
        Epoch {
            read: read.to_vec(),
            write: write.to_vec(),
        }
    }

    /// An installed snap whose current revision's snap.yaml has `epoch_line`.
    fn with_epoch(epoch_line: &str) -> SnapState {
        let mut s = state("ab", &["1"]);
        s.snap_id = "id-ab".into();
        s.sequence[0].snap_yaml = format!("name: ab\nversion: '1'\n{epoch_line}");
        s
    }

    #[test]
    fn epochs_are_read_as_snapd_reads_them() {
        // snapd's epoch tests: a revision reads another's data when it reads an epoch that one writes.
        assert!(can_read(&epoch(&[0], &[0]), &epoch(&[0], &[0])));
        assert!(can_read(&epoch(&[0, 1], &[1]), &epoch(&[0], &[0])));
        assert!(!can_read(&epoch(&[1], &[1]), &epoch(&[0], &[0])));
        assert!(!can_read(&epoch(&[0], &[0]), &epoch(&[0, 1], &[1])));
        assert!(can_read(&epoch(&[1, 2], &[2]), &epoch(&[0, 1], &[1])));
        assert_eq!(show_epoch(&epoch(&[1], &[1])), "1");
        assert_eq!(show_epoch(&epoch(&[0, 1], &[1])), "read 0,1 write 1");
    }

    #[test]
    fn the_context_sends_the_installed_epoch() {
        let snaps = [with_epoch("epoch: 1*\n"), {
            let mut s = with_epoch("");
            s.name = "cd".into();
            s.snap_id = "id-cd".into();
            s
        }];
        let ctx = context(&snaps);
        assert_eq!(ctx[0].epoch.read, [0, 1]);
        assert_eq!(ctx[0].epoch.write, [1]);
        // No epoch in snap.yaml, or no snap.yaml kept at all: epoch 0.
        assert_eq!(
            (ctx[1].epoch.read.as_slice(), ctx[1].epoch.write.as_slice()),
            (&[0][..], &[0][..])
        );
        let mut old = with_epoch("epoch: 3\n");
        old.sequence[0].snap_yaml.clear();
        assert_eq!(installed_epoch(&old), Epoch::default());
    }

    #[test]
    fn a_revision_that_cannot_read_the_current_data_is_refused() {
        let installed = with_epoch("epoch: 1\n");
        let e = check_epoch("ab", "7", &epoch(&[2], &[2]), &installed).unwrap_err();
        assert_eq!(e.kind, ErrorKind::EpochMismatch);
        assert!(
            e.message.contains("revision 7 (epoch 2)") && e.message.contains("(epoch 1)"),
            "{}",
            e.message
        );
        assert!(check_epoch("ab", "7", &epoch(&[1, 2], &[2]), &installed).is_ok());
    }

    #[test]
    fn summaries_name_the_snaps() {
        assert_eq!(summary("Install", &["a".into()]), "Install \"a\"");
        assert_eq!(
            summary("Install", &["a".into(), "b".into(), "c".into()]),
            "Install \"a\", \"b\" and \"c\""
        );
        assert_eq!(summary("Refresh", &[]), "Refresh all snaps");
    }

    #[test]
    fn names_are_checked() {
        assert!(check_names(&["hello".into()]).is_ok());
        assert_eq!(
            check_names(&["Hello".into()]).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            check_names(&["a1".into(), "a1".into()]).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            check_names(&["".into()]).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
    }

    fn state(name: &str, revs: &[&str]) -> SnapState {
        let mut s = file::tests_support::state(name, revs.last().unwrap());
        s.sequence = revs
            .iter()
            .map(|r| revision_state(r, "1", "", 1, "", ""))
            .collect();
        s
    }

    fn kinds(tasks: &[Task]) -> Vec<&'static str> {
        tasks.iter().map(Task::kind).collect()
    }

    fn yaml(extra: &str) -> SnapYaml {
        SnapYaml::parse(&format!("name: ab\nversion: '1'\n{extra}")).unwrap()
    }

    #[test]
    fn a_file_and_the_store_bring_a_revision_in_the_same_way() {
        let yaml = yaml("");
        let mut out = Vec::new();
        bring_in(Fetch::File(&yaml), None, state("ab", &["x1"]), &mut out);
        assert_eq!(
            kinds(&out),
            [
                "adopt-file",
                "mount",
                "data",
                "link",
                "refresh-aliases",
                "auto-connect-hooks",
                "run-hook",
                "run-hook",
                "start-services",
                "run-hook",
                "run-hook"
            ]
        );
        assert_eq!(
            hooks(&out),
            ["install", "default-configure", "configure", "check-health"]
        );
        let Task::Data(d) = &out[2] else {
            unreachable!()
        };
        assert!(d.restore_snapshot && d.copy_from.is_none());
        // On top of an installed revision: its data is copied; a kept revision is only linked.
        let before = state("ab", &["1", "2"]);
        let mut out = Vec::new();
        let after = state_after(Some(&before), state("ab", &["x1"]), false);
        bring_in(Fetch::File(&yaml), Some(&before), after.clone(), &mut out);
        assert_eq!(
            hooks(&out),
            ["pre-refresh", "post-refresh", "configure", "check-health"]
        );
        // Launches wait from before the copy until the new revision is linked.
        let k = kinds(&out);
        assert_eq!(k[3..6], ["stop-services", "inhibit-run", "data"]);
        assert_eq!(k[6..8], ["link", "uninhibit-run"]);
        let Task::Data(d) = &out[5] else {
            unreachable!()
        };
        assert_eq!(d.copy_from.as_deref(), Some("2"));
        let revs: Vec<&str> = after.sequence.iter().map(|r| r.revision.as_str()).collect();
        assert_eq!(revs, ["1", "2", "x1"]);
        let mut out = Vec::new();
        bring_in(
            Fetch::File(&yaml),
            Some(&before),
            state("ab", &["1"]),
            &mut out,
        );
        assert_eq!(
            kinds(&out),
            [
                "stop-services",
                "inhibit-run",
                "link",
                "uninhibit-run",
                "revision-config",
                "refresh-aliases",
                "auto-connect-hooks",
                "run-hook",
                "start-services",
                "run-hook",
                "run-hook"
            ]
        );
        // A base has no hooks.
        let mut base = state("ab", &["x1"]);
        base.snap_type = "base".into();
        let mut out = Vec::new();
        bring_in(Fetch::File(&yaml), None, base, &mut out);
        assert!(hooks(&out).is_empty());
    }

    /// snapd's doInstall: link-snap, auto-connect (whose connections and their interface hooks
    /// it injects before what follows), aliases, then the install or post-refresh hook; the
    /// content plugs' connections are among auto-connect's, not after the hooks.
    #[test]
    fn content_plugs_connect_before_the_install_hook() {
        let yaml = yaml(
            "plugs:\n  gtk:\n    interface: content\n    target: $SNAP/gtk\n    \
             default-provider: gtk-provider\n",
        );
        let after_link = |out: &[Task]| -> Vec<&'static str> {
            let link = out.iter().position(|t| t.kind() == "link").unwrap();
            kinds(&out[link..])
        };
        let mut out = Vec::new();
        bring_in(Fetch::File(&yaml), None, state("ab", &["x1"]), &mut out);
        let want = [
            "link",
            "refresh-aliases",
            "connect-content",
            "auto-connect-hooks",
            "run-hook",
            "start-services",
            "run-hook",
            "run-hook",
        ];
        // A first install's default-configure runs before the services start.
        let mut first = want.to_vec();
        first.insert(5, "run-hook");
        assert_eq!(after_link(&out), first);
        assert_eq!(
            hooks(&out),
            ["install", "default-configure", "configure", "check-health"]
        );
        let before = state("ab", &["1"]);
        let mut out = Vec::new();
        let after = state_after(Some(&before), state("ab", &["x1"]), false);
        bring_in(Fetch::File(&yaml), Some(&before), after, &mut out);
        let mut want = want.to_vec();
        want.insert(1, "uninhibit-run");
        want.insert(2, "revision-config");
        assert_eq!(after_link(&out), want);
        assert_eq!(
            hooks(&out),
            ["pre-refresh", "post-refresh", "configure", "check-health"]
        );
    }

    /// snapd's doInstall around a refresh: pre-refresh hook, stop-snap-services, copy-snap-data,
    /// link-snap … post-refresh hook, start-snap-services, configure hook. The daemons are
    /// stopped before their data is copied and start after the hook that may disable them.
    #[test]
    fn services_stop_before_the_copy_and_start_after_the_refresh_hook() {
        let yaml = yaml("");
        let before = state("ab", &["1"]);
        let after = state_after(Some(&before), state("ab", &["x1"]), false);
        let mut out = Vec::new();
        bring_in(Fetch::File(&yaml), Some(&before), after, &mut out);
        let at = |kind: &str, hook: Option<&str>| {
            out.iter()
                .position(|t| match t {
                    Task::RunHook(h) => Some(h.hook.as_str()) == hook,
                    t => hook.is_none() && t.kind() == kind,
                })
                .unwrap_or_else(|| panic!("no {kind} {hook:?} in {:?}", kinds(&out)))
        };
        let order = [
            at("", Some("pre-refresh")),
            at("stop-services", None),
            at("data", None),
            at("link", None),
            at("", Some("post-refresh")),
            at("start-services", None),
            at("", Some("configure")),
        ];
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{:?}", kinds(&out));
        // A first install has nothing to stop; a base has no hooks but its services start.
        let mut base = state("ab", &["x1"]);
        base.snap_type = "base".into();
        let mut out = Vec::new();
        bring_in(Fetch::File(&yaml), None, base, &mut out);
        assert_eq!(
            kinds(&out),
            [
                "adopt-file",
                "mount",
                "data",
                "link",
                "refresh-aliases",
                "start-services"
            ]
        );
    }

    /// A refresh of several snaps: each snap's service tasks are in its own chain, so in its own
    /// failure lane (a failed post-refresh hook of one undoes only its stop, restarting its old
    /// daemons, while the others' refresh stays done).
    #[test]
    fn each_snaps_service_tasks_are_in_its_own_lane() {
        let yaml = yaml("");
        let mut out = Vec::new();
        for name in ["ab", "cd"] {
            let before = state(name, &["1"]);
            let fresh = state(name, &["2"]);
            bring_in(
                Fetch::File(&yaml),
                Some(&before),
                state_after(Some(&before), fresh, false),
                &mut out,
            );
        }
        let lanes = crate::engine::lanes::Lanes::of_request(&serde_json::json!({
            "lanes": [["ab"], ["cd"]]
        }));
        let services: Vec<(usize, Option<usize>)> = out
            .iter()
            .enumerate()
            .filter(|(_, t)| matches!(t, Task::StopServices(_) | Task::StartServices(_)))
            .map(|(i, t)| (i, lanes.lane(t)))
            .collect();
        assert_eq!(services.len(), 4, "{:?}", kinds(&out));
        assert_eq!(
            services.iter().map(|s| s.1).collect::<Vec<_>>(),
            [Some(0), Some(0), Some(1), Some(1)]
        );
        // Each between its own snap's link and hooks, never another's.
        for (i, lane) in services {
            let link = out
                .iter()
                .position(|t| t.kind() == "link" && lanes.lane(t) == lane)
                .unwrap();
            let first = out.iter().position(|t| lanes.lane(t) == lane).unwrap();
            let last = out.iter().rposition(|t| lanes.lane(t) == lane).unwrap();
            assert!(first < i && i < last && i != link, "{:?}", kinds(&out));
        }
    }

    fn hooks(tasks: &[Task]) -> Vec<&str> {
        tasks
            .iter()
            .filter_map(|t| match t {
                Task::RunHook(h) => Some(h.hook.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_file_keeps_what_only_the_store_knows() {
        let mut before = state("ab", &["1"]);
        before.license = "MIT".into();
        before.publisher = "Someone".into();
        before.tracking_channel = "latest/stable".into();
        crate::interfaces::set_choice(&mut before, "home", "home", Some(false));
        let mut fresh = state("ab", &["x1"]);
        fresh.title = "New title".into();
        let after = state_after(Some(&before), fresh.clone(), false);
        assert_eq!(after.title, "New title");
        assert_eq!(after.current, "x1");
        assert_eq!(
            (after.license.as_str(), after.publisher.as_str()),
            ("MIT", "Someone")
        );
        assert_eq!(after.tracking_channel, "latest/stable");
        assert_eq!(after.connections, before.connections);
        let from_store = state_after(Some(&before), fresh, true);
        assert_eq!(from_store.license, "");
    }
}
