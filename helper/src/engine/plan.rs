//! Planning: turning a request (install these names, revert that snap…) into the tasks of one change,
//! with everything checked that can be checked before anything is done.

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use gettextrs::gettext;
use serde_json::{json, Value};
use snapshelf_snap::naming::validate_snap_name;
use snapshelf_snap::yaml::SnapYaml;

use super::task::{adopt_file::AdoptFile, connect::Connect, data::Data, download::Download};
use super::task::{discard_data::DiscardData, discard_revisions::DiscardRevisions, unlink::Unlink};
use super::task::{gc::Gc, link::Link, mount::Mount, switch_channel::SwitchChannel};
use super::task::{verify::Verify, Task};
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
    snap: Value,
}

/// `stable` → `latest/stable`: the form the state and the API keep.
pub fn full_channel(channel: &str) -> String {
    if channel.contains('/') {
        channel.to_string()
    } else if ["stable", "candidate", "beta", "edge"].contains(&channel) {
        format!("latest/{channel}")
    } else {
        format!("{channel}/stable")
    }
}

pub fn validate_channel(channel: &str) -> Result<()> {
    let ok = !channel.is_empty()
        && channel.len() <= 64
        && channel.split('/').count() <= 3
        && channel.split('/').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!("invalid channel {channel:?}")))
    }
}

fn check_names(names: &[String]) -> Result<()> {
    if names.len() > 64 {
        return Err(Error::invalid("at most 64 snaps in one change"));
    }
    let mut seen = BTreeSet::new();
    for n in names {
        validate_snap_name(n)
            .map_err(|e| Error::invalid(format!("invalid snap name {n:?}: {e}")))?;
        if !seen.insert(n) {
            return Err(Error::invalid(format!("\"{n}\" is listed twice")));
        }
    }
    Ok(())
}

/// `"a"`, `"a" and "b"`, `"a", "b" and "c"`, in the service's language.
fn name_list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => {
            // Translators: joins the last two names of a list: "a", "b" and "c".
            gettext("{list} and {last}")
                .replace("{list}", &rest.join(", "))
                .replace("{last}", last)
        }
    }
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

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn resolved_from(result: ActionResult, requested: Option<&str>) -> Result<Resolved> {
    match result {
        ActionResult::Ok {
            name,
            snap_id,
            effective_channel,
            snap,
        } => {
            let yaml_text = str_at(&snap, "snap-yaml");
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
            let download = &snap["download"];
            let revision = snap["revision"]
                .as_u64()
                .filter(|r| *r >= 1 && *r <= u32::MAX as u64)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::StoreError,
                        format!("\"{name}\": no valid revision"),
                    )
                })? as u32;
            let sha3 = str_at(download, "sha3-384").to_string();
            if sha3.len() != 96 || !sha3.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::new(
                    ErrorKind::StoreError,
                    format!("\"{name}\": no valid download digest"),
                ));
            }
            let channel = effective_channel
                .as_deref()
                .or(requested)
                .map(full_channel)
                .unwrap_or_else(|| "latest/stable".into());
            Ok(Resolved {
                url: str_at(download, "url").to_string(),
                size: download["size"].as_u64().unwrap_or(0),
                sha3_384: sha3,
                name,
                snap_id,
                revision,
                channel,
                yaml,
                snap,
            })
        }
        ActionResult::Error {
            name,
            snap_id,
            code,
            message,
            releases,
        } => {
            let who = name.or(snap_id).unwrap_or_default();
            Err(match code.as_str() {
                "name-not-found" | "id-not-found" => Error::new(
                    ErrorKind::NotFound,
                    format!("snap \"{who}\" not found in the store"),
                ),
                "revision-not-found" if releases.is_empty() => Error::new(
                    ErrorKind::ChannelNotAvailable,
                    format!("\"{who}\" has no revision there: {message}"),
                ),
                "revision-not-found" => Error::new(
                    ErrorKind::ChannelNotAvailable,
                    format!(
                        "\"{who}\" is not available on that channel; it is on {}",
                        releases.join(", ")
                    ),
                ),
                _ => Error::new(
                    ErrorKind::StoreError,
                    format!("\"{who}\": {message} ({code})"),
                ),
            })
        }
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
    let s = &r.snap;
    let publisher = &s["publisher"];
    let icon = crate::store::media_urls(s, "icon")
        .into_iter()
        .next()
        .unwrap_or_default();
    SnapState {
        name: r.name.clone(),
        snap_id: r.snap_id.clone(),
        snap_type: r.yaml.snap_type.to_string(),
        // As Find and Info show it: the publisher's display name (their username where none).
        publisher: [
            str_at(publisher, "display-name"),
            str_at(publisher, "username"),
        ]
        .into_iter()
        .find(|n| !n.is_empty())
        .unwrap_or_default()
        .to_string(),
        publisher_validation: str_at(publisher, "validation").to_string(),
        title: r
            .yaml
            .title
            .clone()
            .unwrap_or_else(|| str_at(s, "title").to_string()),
        summary: r.yaml.summary.clone().unwrap_or_default(),
        description: r.yaml.description.clone().unwrap_or_default(),
        confinement: r.yaml.confinement.to_string(),
        base: r.yaml.base.clone(),
        license: str_at(s, "license").to_string(),
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
    }
}

/// The tasks that bring a resolved revision in, as a new snap or on top of `before`.
fn install_tasks(r: &Resolved, before: Option<&SnapState>, out: &mut Vec<Task>) {
    let rev = r.revision.to_string();
    let after = match before {
        Some(b) => {
            let mut a = b.clone();
            let fresh = new_snap_state(r);
            a.title = fresh.title;
            a.summary = fresh.summary;
            a.description = fresh.description;
            a.confinement = fresh.confinement;
            a.base = fresh.base;
            a.license = fresh.license;
            a.icon_url = fresh.icon_url;
            a.publisher = fresh.publisher;
            a.publisher_validation = fresh.publisher_validation;
            a.tracking_channel = r.channel.clone();
            if a.revision(&rev).is_none() {
                a.sequence.extend(fresh.sequence);
            }
            a.current = rev.clone();
            a
        }
        None => new_snap_state(r),
    };
    let kept = before.and_then(|b| b.revision(&rev)).is_some();
    if !kept {
        out.push(Task::Download(Download {
            name: r.name.clone(),
            revision: rev.clone(),
            url: r.url.clone(),
            sha3_384: r.sha3_384.clone(),
            size: r.size,
        }));
        out.push(Task::Verify(Verify {
            name: r.name.clone(),
            revision: rev.clone(),
            snap_id: r.snap_id.clone(),
            sha3_384: r.sha3_384.clone(),
            size: r.size,
        }));
        out.push(Task::Mount(Mount {
            name: r.name.clone(),
            revision: rev.clone(),
        }));
        out.push(Task::Data(Data {
            name: r.name.clone(),
            revision: rev.clone(),
            copy_from: before.map(|b| b.current.clone()),
            restore_snapshot: before.is_none(),
            created_data: None,
            created_common: None,
            restored: None,
        }));
    }
    out.push(Task::Link(Link {
        name: r.name.clone(),
        after: Box::new(after),
        before: None,
        captured: false,
    }));
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
            })
        })
        .collect()
}

impl Engine {
    fn context(&self) -> Result<Vec<ContextEntry>> {
        Ok(context(&self.installed()?))
    }

    /// Resolve bases the snaps need that are neither installed nor being installed.
    async fn add_missing_bases(&self, resolved: &mut Vec<Resolved>) -> Result<()> {
        let mut wanted: Vec<String> = Vec::new();
        for r in resolved.iter() {
            if let Some(base) = r.yaml.base.as_deref().filter(|b| *b != "none") {
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
        let actions: Vec<Action> = wanted
            .iter()
            .map(|b| Action::Install {
                name: b.clone(),
                channel: Some("stable".into()),
                revision: None,
            })
            .collect();
        let results = self.store().snap_action(&self.context()?, &actions).await?;
        let mut bases = Vec::new();
        for r in results {
            let b = resolved_from(r, Some("stable")).map_err(|e| {
                Error::new(
                    e.kind,
                    format!(
                        "cannot install a base snap the request needs: {}",
                        e.message
                    ),
                )
            })?;
            bases.push(b);
        }
        // Bases go first: their link must come before the apps that run on them.
        bases.append(resolved);
        *resolved = bases;
        Ok(())
    }

    pub async fn install(
        &self,
        names: &[String],
        channel: Option<&str>,
        revision: Option<&str>,
        classic: bool,
        uid: u32,
    ) -> Result<u64> {
        if names.is_empty() {
            return Err(Error::invalid("no snap named"));
        }
        check_names(names)?;
        if let Some(c) = channel {
            validate_channel(c)?;
        }
        let revision: Option<u32> = match revision {
            None => None,
            Some(r) => Some(r.parse().ok().filter(|r| *r >= 1).ok_or_else(|| {
                Error::invalid(format!(
                    "invalid revision {r:?} (a store revision is a number)"
                ))
            })?),
        };
        if revision.is_some() && names.len() > 1 {
            return Err(Error::invalid("a revision can be given for one snap only"));
        }
        for n in names {
            if self.snap(n)?.is_some() {
                return Err(Error::new(
                    ErrorKind::AlreadyInstalled,
                    format!("\"{n}\" is already installed"),
                ));
            }
        }
        self.ensure_free(names)?;
        let actions: Vec<Action> = names
            .iter()
            .map(|n| Action::Install {
                name: n.clone(),
                channel: channel.map(str::to_string),
                revision,
            })
            .collect();
        let results = self.store().snap_action(&self.context()?, &actions).await?;
        let mut resolved = Vec::new();
        for r in results {
            let res = resolved_from(r, channel)?;
            if res.yaml.confinement.to_string() == "classic" && !classic {
                return Err(Error::new(
                    ErrorKind::NeedsClassic,
                    format!(
                        "\"{}\" needs classic confinement: it runs without a sandbox",
                        res.name
                    ),
                ));
            }
            resolved.push(res);
        }
        for n in names {
            if !resolved.iter().any(|r| &r.name == n) {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("the store did not answer for \"{n}\""),
                ));
            }
        }
        self.add_missing_bases(&mut resolved).await?;
        let mut tasks = Vec::new();
        for r in &resolved {
            install_tasks(r, None, &mut tasks);
        }
        let all: Vec<String> = resolved.iter().map(|r| r.name.clone()).collect();
        self.start(
            "install",
            &summary("Install", names),
            all,
            uid,
            json!({"names": names, "channel": channel, "revision": revision, "classic": classic}),
            tasks,
        )
    }

    pub async fn refresh(&self, names: &[String], channel: Option<&str>, uid: u32) -> Result<u64> {
        check_names(names)?;
        if let Some(c) = channel {
            validate_channel(c)?;
            if names.len() != 1 {
                return Err(Error::invalid(
                    "a channel can be given when refreshing one snap only",
                ));
            }
        }
        let installed = self.installed()?;
        let targets: Vec<SnapState> = if names.is_empty() {
            installed
                .iter()
                .filter(|s| !s.held && !s.is_local())
                .cloned()
                .collect()
        } else {
            let mut v = Vec::new();
            for n in names {
                let s = installed
                    .iter()
                    .find(|s| &s.name == n)
                    .ok_or_else(|| not_installed(n))?;
                if s.is_local() {
                    return Err(Error::new(
                        ErrorKind::NoUpdateAvailable,
                        format!("\"{n}\" was installed from a file; the store cannot update it"),
                    ));
                }
                v.push(s.clone());
            }
            v
        };
        let target_names: Vec<String> = targets.iter().map(|s| s.name.clone()).collect();
        self.ensure_free(&target_names)?;
        let actions: Vec<Action> = targets
            .iter()
            .map(|s| Action::Refresh {
                snap_id: s.snap_id.clone(),
                channel: channel.map(str::to_string),
            })
            .collect();
        let results = if actions.is_empty() {
            Vec::new()
        } else {
            self.store().snap_action(&self.context()?, &actions).await?
        };
        let mut resolved = Vec::new();
        for r in results {
            let res = resolved_from(r, channel)?;
            let Some(before) = targets.iter().find(|s| s.snap_id == res.snap_id) else {
                continue;
            };
            let rev = res.revision.to_string();
            // Never bring back what a person reverted from, unless they ask for another channel.
            if before.current == rev || (channel.is_none() && before.blocked.contains(&rev)) {
                continue;
            }
            resolved.push((res, before.clone()));
        }
        if resolved.is_empty() {
            let what = if names.is_empty() {
                "No snap has".to_string()
            } else {
                format!("{} has", name_list(names))
            };
            return Err(Error::new(
                ErrorKind::NoUpdateAvailable,
                format!("{what} an update available"),
            ));
        }
        let mut new: Vec<Resolved> = resolved.iter().map(|(r, _)| r.clone()).collect();
        self.add_missing_bases(&mut new).await?;
        let mut tasks = Vec::new();
        let mut all = Vec::new();
        for r in &new {
            let before = resolved
                .iter()
                .find(|(x, _)| x.name == r.name)
                .map(|(_, b)| b);
            install_tasks(r, before, &mut tasks);
            all.push(r.name.clone());
        }
        for r in &new {
            tasks.push(Task::Gc(Gc {
                name: r.name.clone(),
            }));
        }
        let refreshed: Vec<String> = resolved.iter().map(|(r, _)| r.name.clone()).collect();
        self.start(
            "refresh",
            &summary("Refresh", &refreshed),
            all,
            uid,
            json!({"names": names, "channel": channel}),
            tasks,
        )
    }

    pub fn revert(&self, name: &str, revision: Option<&str>, uid: u32) -> Result<u64> {
        check_names(&[name.to_string()])?;
        let before = self.snap(name)?.ok_or_else(|| not_installed(name))?;
        let pos = before
            .sequence
            .iter()
            .position(|r| r.revision == before.current)
            .ok_or_else(|| Error::internal("current revision missing from the sequence"))?;
        let target = match revision {
            Some(r) => {
                if r == before.current {
                    return Err(Error::new(
                        ErrorKind::NoRevisionToRevert,
                        format!("revision {r} of \"{name}\" is already current"),
                    ));
                }
                before
                    .revision(r)
                    .ok_or_else(|| {
                        let kept: Vec<&str> = before
                            .sequence
                            .iter()
                            .map(|r| r.revision.as_str())
                            .collect();
                        Error::new(
                            ErrorKind::NoRevisionToRevert,
                            format!(
                                "revision {r} of \"{name}\" is not kept (kept: {})",
                                kept.join(", ")
                            ),
                        )
                    })?
                    .revision
                    .clone()
            }
            None if pos == 0 => {
                return Err(Error::new(
                    ErrorKind::NoRevisionToRevert,
                    format!("\"{name}\" has no earlier revision to go back to"),
                ))
            }
            None => before.sequence[pos - 1].revision.clone(),
        };
        let mut after = before.clone();
        if !after.blocked.contains(&after.current) {
            after.blocked.push(after.current.clone());
        }
        after.blocked.retain(|r| r != &target);
        after.current = target.clone();
        let tasks = vec![Task::Link(Link {
            name: name.to_string(),
            after: Box::new(after),
            before: None,
            captured: false,
        })];
        self.start(
            "revert",
            &gettext("Revert \"{snap}\" to revision {revision}")
                .replace("{snap}", name)
                .replace("{revision}", &target.to_string()),
            vec![name.to_string()],
            uid,
            json!({"name": name, "revision": revision}),
            tasks,
        )
    }

    pub fn remove(&self, names: &[String], purge: bool, uid: u32) -> Result<u64> {
        if names.is_empty() {
            return Err(Error::invalid("no snap named"));
        }
        check_names(names)?;
        let installed = self.installed()?;
        let mut tasks = Vec::new();
        let mut post = Vec::new();
        for n in names {
            let s = installed
                .iter()
                .find(|s| &s.name == n)
                .ok_or_else(|| not_installed(n))?;
            if let Some(user) = installed
                .iter()
                .find(|o| o.base.as_deref() == Some(n.as_str()) && !names.contains(&o.name))
            {
                return Err(Error::new(
                    ErrorKind::SnapInUse,
                    format!(
                        "\"{n}\" is the base of \"{}\": remove that first",
                        user.name
                    ),
                ));
            }
            tasks.push(Task::Unlink(Unlink {
                name: n.clone(),
                before: None,
                captured: false,
            }));
            post.push(Task::DiscardData(DiscardData {
                name: n.clone(),
                purge,
            }));
            post.push(Task::DiscardRevisions(DiscardRevisions {
                name: n.clone(),
                revisions: s.sequence.iter().map(|r| r.revision.clone()).collect(),
            }));
        }
        tasks.extend(post);
        self.start(
            "remove",
            &summary("Remove", names),
            names.to_vec(),
            uid,
            json!({"names": names, "purge": purge}),
            tasks,
        )
    }

    /// Connect (`connect`) or disconnect a plug of `plug_snap` and the system's slot of its
    /// interface. The system's slots are named after their interface; an empty slot snap (or
    /// "system") names the system.
    pub fn connect(
        &self,
        (plug_snap, plug, slot_snap, slot): (&str, &str, &str, &str),
        connect: bool,
        uid: u32,
    ) -> Result<u64> {
        check_names(&[plug_snap.to_string()])?;
        if plug.is_empty() {
            return Err(Error::invalid("no plug named"));
        }
        let snap = self
            .snap(plug_snap)?
            .ok_or_else(|| not_installed(plug_snap))?;
        if !slot_snap.is_empty() && slot_snap != "system" {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "\"{slot_snap}\" offers no slot Snapshelf can connect: only the system's slots \
                     (an empty slot snap) are supported"
                ),
            ));
        }
        let yaml = super::files::parse_yaml(&snap, &snap.current)?;
        let interface = yaml.all_plugs().get(plug).cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("\"{plug_snap}\" has no plug \"{plug}\""),
            )
        })?;
        if !crate::interfaces::is_supported(&interface) {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("the system has no slot for the {interface} interface"),
            ));
        }
        if !slot.is_empty() && slot != interface {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "the system has no slot \"{slot}\" for {plug_snap}:{plug} (its slot is \"{interface}\")"
                ),
            ));
        }
        let (connected, _) = crate::interfaces::state_of(&snap, plug, &interface);
        if connected == connect {
            return Err(Error::new(
                ErrorKind::InterfacesUnchanged,
                format!(
                    "{plug_snap}:{plug} is {} the system's {interface}",
                    if connect {
                        "already connected to"
                    } else {
                        "not connected to"
                    }
                ),
            ));
        }
        let (kind, template) = if connect {
            // Translators: {plug} is snap:plug, {permission} the permission's label.
            ("connect", gettext("Allow {plug}: {permission}"))
        } else {
            ("disconnect", gettext("Deny {plug}: {permission}"))
        };
        self.start(
            kind,
            &template
                .replace("{plug}", &format!("{plug_snap}:{plug}"))
                .replace("{permission}", &crate::interfaces::label(&interface)),
            vec![plug_snap.to_string()],
            uid,
            json!({"plug-snap": plug_snap, "plug": plug, "slot-snap": "", "slot": interface}),
            vec![Task::Connect(Connect {
                name: plug_snap.to_string(),
                plug: plug.to_string(),
                interface,
                connect,
                before: None,
            })],
        )
    }

    pub async fn switch(&self, name: &str, channel: &str, uid: u32) -> Result<u64> {
        check_names(&[name.to_string()])?;
        validate_channel(channel)?;
        let snap = self.snap(name)?.ok_or_else(|| not_installed(name))?;
        if snap.is_local() {
            return Err(Error::invalid(format!(
                "\"{name}\" was installed from a file and tracks no channel"
            )));
        }
        let full = full_channel(channel);
        // The channel must exist in the store, or refreshes would fail later for no visible reason.
        let info = self.store().info(name).await?;
        let known = info["channel-map"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| {
                let ch = &c["channel"];
                format!("{}/{}", str_at(ch, "track"), str_at(ch, "risk")) == full
            });
        if !known {
            return Err(Error::new(
                ErrorKind::ChannelNotAvailable,
                format!("\"{name}\" has no channel {full}"),
            ));
        }
        self.start(
            "switch",
            &gettext("Switch \"{snap}\" to {channel}")
                .replace("{snap}", name)
                .replace("{channel}", &full),
            vec![name.to_string()],
            uid,
            json!({"name": name, "channel": full}),
            vec![Task::SwitchChannel(SwitchChannel {
                name: name.to_string(),
                channel: full,
                before: None,
            })],
        )
    }

    /// Take a `.snap` from a file descriptor. The file is copied (and hashed) into the blob
    /// directory first: the caller's file could change under us, the copy cannot.
    pub async fn install_file(
        &self,
        mut file: std::fs::File,
        unsigned: bool,
        uid: u32,
    ) -> Result<u64> {
        let paths = self.paths().clone();
        let dir = super::blob_dir_ready(&paths)?;
        let tmp = dir.join(format!(
            ".incoming-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        let copy = tokio::task::spawn_blocking({
            let tmp = tmp.clone();
            move || -> Result<(snapshelf_snap::digest::Sha3_384, u64)> {
                let mut out = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&tmp)?;
                let hashed = hash_reading(&mut file, Some(&mut out))?;
                out.sync_all()?;
                Ok(hashed)
            }
        })
        .await
        .map_err(Error::internal)?;
        let result = self.plan_file(&tmp, copy, unsigned, uid).await;
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    async fn plan_file(
        &self,
        tmp: &Path,
        copied: Result<(snapshelf_snap::digest::Sha3_384, u64)>,
        unsigned: bool,
        uid: u32,
    ) -> Result<u64> {
        let (digest, size) = copied?;
        let invalid = |m: String| Error::new(ErrorKind::InvalidSnap, m);
        let snap = snapshelf_snap::squashfs::SnapFile::open(tmp)
            .map_err(|e| invalid(format!("not a valid snap: {e}")))?;
        let text = snap.snap_yaml_text().map_err(|e| invalid(e.to_string()))?;
        let yaml = SnapYaml::parse(&text).map_err(|e| invalid(format!("meta/snap.yaml: {e}")))?;
        let name = yaml.name.clone();
        let paths = self.paths().clone();
        let db = super::verify::local_database(&self.inner.cfg.trusted, &paths.assertions_dir())?;
        let verified = match super::verify::verify_local(&db, &digest, size, &name) {
            Some(v) => Some(v?),
            None => None,
        };
        if verified.is_none() && !unsigned {
            return Err(Error::new(
                ErrorKind::VerificationFailed,
                format!("cannot find signatures for this file of \"{name}\"; install it as unsigned to trust it anyway"),
            ));
        }
        let before = self.snap(&name)?;
        self.ensure_free(std::slice::from_ref(&name))?;
        let revision = match &verified {
            Some(v) => v.revision.to_string(),
            None => self
                .inner
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .next_local_revision(&name)?,
        };
        if before
            .as_ref()
            .and_then(|b| b.revision(&revision))
            .is_some()
        {
            return Err(Error::new(
                ErrorKind::AlreadyInstalled,
                format!("revision {revision} of \"{name}\" is already installed"),
            ));
        }
        let rev_state = revision_state(&revision, &yaml.version, "", size, &digest.to_hex(), &text);
        let after = match &before {
            Some(b) => {
                let mut a = b.clone();
                a.sequence.push(rev_state);
                a.current = revision.clone();
                a.title = yaml.title.clone().unwrap_or_default();
                a.summary = yaml.summary.clone().unwrap_or_default();
                a.description = yaml.description.clone().unwrap_or_default();
                a.confinement = yaml.confinement.to_string();
                a.base = yaml.base.clone();
                if let Some(v) = &verified {
                    a.snap_id = v.snap_id.clone();
                }
                a
            }
            None => SnapState {
                name: name.clone(),
                snap_id: verified
                    .as_ref()
                    .map(|v| v.snap_id.clone())
                    .unwrap_or_default(),
                snap_type: yaml.snap_type.to_string(),
                publisher: verified
                    .as_ref()
                    .map(|v| v.publisher_id.clone())
                    .unwrap_or_default(),
                publisher_validation: if verified.is_some() {
                    "unproven".into()
                } else {
                    String::new()
                },
                title: yaml.title.clone().unwrap_or_default(),
                summary: yaml.summary.clone().unwrap_or_default(),
                description: yaml.description.clone().unwrap_or_default(),
                confinement: yaml.confinement.to_string(),
                base: yaml.base.clone(),
                license: yaml.license.clone().unwrap_or_default(),
                icon_url: String::new(),
                tracking_channel: String::new(),
                held: false,
                current: revision.clone(),
                sequence: vec![rev_state],
                blocked: Vec::new(),
                connections: Default::default(),
            },
        };
        if yaml.confinement.to_string() == "classic" {
            return Err(Error::new(
                ErrorKind::NeedsClassic,
                format!(
                    "\"{name}\" needs classic confinement, which files cannot be installed with"
                ),
            ));
        }
        let blob = paths.blob(&name, &revision);
        std::fs::rename(tmp, &blob)?;
        let mut tasks = vec![
            Task::AdoptFile(AdoptFile {
                name: name.clone(),
                revision: revision.clone(),
            }),
            Task::Mount(Mount {
                name: name.clone(),
                revision: revision.clone(),
            }),
            Task::Data(Data {
                name: name.clone(),
                revision: revision.clone(),
                copy_from: before.as_ref().map(|b| b.current.clone()),
                restore_snapshot: before.is_none(),
                created_data: None,
                created_common: None,
                restored: None,
            }),
            Task::Link(Link {
                name: name.clone(),
                after: Box::new(after),
                before: None,
                captured: false,
            }),
        ];
        if before.is_some() {
            tasks.push(Task::Gc(Gc { name: name.clone() }));
        }
        let mut all = vec![name.clone()];
        if let Some(base) = yaml.base.as_deref().filter(|b| *b != "none") {
            if self.snap(base)?.is_none() {
                // A base from the store: resolved like an install of it, placed first.
                let results = self
                    .store()
                    .snap_action(
                        &self.context()?,
                        &[Action::Install {
                            name: base.to_string(),
                            channel: Some("stable".into()),
                            revision: None,
                        }],
                    )
                    .await
                    .map_err(|e| {
                        let _ = std::fs::rename(&blob, tmp);
                        Error::new(
                            ErrorKind::NotFound,
                            format!(
                                "base \"{base}\" is not installed and cannot be installed: {e}"
                            ),
                        )
                    })?;
                let mut base_tasks = Vec::new();
                for r in results {
                    let res = resolved_from(r, Some("stable")).inspect_err(|_| {
                        let _ = std::fs::rename(&blob, tmp);
                    })?;
                    install_tasks(&res, None, &mut base_tasks);
                    all.insert(0, res.name);
                }
                base_tasks.append(&mut tasks);
                tasks = base_tasks;
            }
        }
        let started = self.start(
            "install-file",
            &gettext("Install \"{snap}\" from a file").replace("{snap}", &name),
            all,
            uid,
            json!({"name": name, "revision": revision, "unsigned": unsigned}),
            tasks,
        );
        if started.is_err() {
            let _ = std::fs::rename(&blob, tmp);
        }
        started
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// What a `.snap` file is, as `check_file` finds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileCheck {
    pub name: String,
    pub title: String,
    pub summary: String,
    pub version: String,
    pub confinement: String,
    pub base: String,
    pub apps: Vec<String>,
    pub plugs: Vec<String>,
    pub size: u64,
    /// Its signatures are known and fit it.
    pub signed: bool,
    /// The store revision the signatures give it (empty when not signed).
    pub revision: String,
    /// The current revision of the installed snap of that name (empty when none is).
    pub installed_revision: String,
}

impl Engine {
    /// What a `.snap` read from `file` is, and whether its signatures are known: what
    /// `InstallFile` would do with it, without doing it. Reads the file once, hashing as it goes.
    pub async fn check_file(&self, mut file: std::fs::File) -> Result<FileCheck> {
        use std::os::fd::AsRawFd;
        let invalid = |m: String| Error::new(ErrorKind::InvalidSnap, m);
        let (digest, size, file) = tokio::task::spawn_blocking(move || -> Result<_> {
            let (digest, n) = hash_reading(&mut file, None)?;
            Ok((digest, n, file))
        })
        .await
        .map_err(Error::internal)??;
        // The helper's own descriptor, by path: the squashfs reader wants a path.
        let path = std::path::PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        let (yaml, _file) = tokio::task::spawn_blocking(move || -> Result<_> {
            let snap = snapshelf_snap::squashfs::SnapFile::open(&path)
                .map_err(|e| invalid(format!("not a valid snap: {e}")))?;
            let text = snap.snap_yaml_text().map_err(|e| invalid(e.to_string()))?;
            let yaml =
                SnapYaml::parse(&text).map_err(|e| invalid(format!("meta/snap.yaml: {e}")))?;
            Ok((yaml, file))
        })
        .await
        .map_err(Error::internal)??;
        let db =
            super::verify::local_database(&self.inner.cfg.trusted, &self.paths().assertions_dir())?;
        let verified = match super::verify::verify_local(&db, &digest, size, &yaml.name) {
            Some(Ok(v)) => Some(v),
            // Signatures that do not fit the file: not signed, as InstallFile would find.
            Some(Err(_)) | None => None,
        };
        let installed = self.snap(&yaml.name)?;
        let mut plugs: Vec<String> = yaml.all_plugs().into_values().collect();
        plugs.sort();
        plugs.dedup();
        Ok(FileCheck {
            name: yaml.name.clone(),
            title: yaml.title.clone().unwrap_or_default(),
            summary: yaml.summary.clone().unwrap_or_default(),
            version: yaml.version.clone(),
            confinement: yaml.confinement.to_string(),
            base: yaml.base.clone().unwrap_or_default(),
            apps: yaml.apps.keys().cloned().collect(),
            plugs,
            size,
            signed: verified.is_some(),
            revision: verified.map(|v| v.revision.to_string()).unwrap_or_default(),
            installed_revision: installed.map(|s| s.current).unwrap_or_default(),
        })
    }
}

/// SHA3-384 and length of everything `file` gives from where it is, copied to `out` on the way.
fn hash_reading(
    file: &mut std::fs::File,
    mut out: Option<&mut std::fs::File>,
) -> Result<(snapshelf_snap::digest::Sha3_384, u64)> {
    let mut hasher = snapshelf_snap::digest::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = file.read(&mut buf)?;
        if k == 0 {
            break;
        }
        if let Some(o) = out.as_deref_mut() {
            std::io::Write::write_all(o, &buf[..k])?;
        }
        hasher.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hasher.finalize(), n))
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
        assert!(validate_channel("latest/stable").is_ok());
        assert!(validate_channel("a b").is_err());
        assert!(validate_channel("").is_err());
        assert!(validate_channel("a//b").is_err());
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
}
