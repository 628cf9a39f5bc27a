//! The tasks a change is made of. Each task's data is written to the state database before it acts
//! (with what its undo needs), every `run` and `undo` is idempotent, so that a crash at any point can
//! be settled by running `undo` (before the change committed) or `run` again (after).

use gettextrs::gettext;
use serde::{Deserialize, Serialize};

use crate::state::{RevisionState, SnapState};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TaskData {
    /// Fetch the `.snap` into the blob directory, resuming a partial file, hashing as it streams.
    Download {
        name: String,
        revision: String,
        url: String,
        sha3_384: String,
        size: u64,
    },
    /// Check the file against the store's signed assertions, chained to a trusted root.
    Verify {
        name: String,
        revision: String,
        snap_id: String,
        sha3_384: String,
        size: u64,
    },
    /// A file handed over by `InstallFile`, already in the blob directory; undo removes it.
    AdoptFile {
        name: String,
        revision: String,
    },
    Mount {
        name: String,
        revision: String,
    },
    /// Create `$SNAP_DATA` for the revision (copying `copy_from`'s, or restoring a snapshot) and
    /// `$SNAP_COMMON`. `created_*` are decided and saved before anything is made.
    Data {
        name: String,
        revision: String,
        copy_from: Option<String>,
        restore_snapshot: bool,
        created_data: Option<bool>,
        created_common: Option<bool>,
        restored: Option<bool>,
    },
    /// The commit point of one snap: state, `current` links, profiles, launchers.
    Link {
        name: String,
        after: Box<SnapState>,
        before: Option<Box<SnapState>>,
        captured: bool,
    },
    /// Remove: take the snap out of use (state, links, profiles, launchers).
    Unlink {
        name: String,
        before: Option<Box<SnapState>>,
        captured: bool,
    },
    /// Remove, after the commit: keep the data as a snapshot (or delete it with purge).
    DiscardData {
        name: String,
        purge: bool,
    },
    /// Remove, after the commit: unmount and delete every revision.
    DiscardRevisions {
        name: String,
        revisions: Vec<String>,
    },
    /// After the commit: drop revisions beyond `retain`.
    Gc {
        name: String,
    },
    /// Track another channel.
    SwitchChannel {
        name: String,
        channel: String,
        before: Option<String>,
    },
    /// Connect (or disconnect) a plug to the system's slot, as a person's choice. `before` is the
    /// choice it replaced (none: the policy decided), recorded when the task ran.
    Connect {
        name: String,
        plug: String,
        interface: String,
        connect: bool,
        before: Option<Option<bool>>,
    },
}

impl TaskData {
    pub fn kind(&self) -> &'static str {
        match self {
            TaskData::Download { .. } => "download",
            TaskData::Verify { .. } => "verify",
            TaskData::AdoptFile { .. } => "adopt-file",
            TaskData::Mount { .. } => "mount",
            TaskData::Data { .. } => "data",
            TaskData::Link { .. } => "link",
            TaskData::Unlink { .. } => "unlink",
            TaskData::DiscardData { .. } => "discard-data",
            TaskData::DiscardRevisions { .. } => "discard-revisions",
            TaskData::Gc { .. } => "gc",
            TaskData::SwitchChannel { .. } => "switch-channel",
            TaskData::Connect { connect: true, .. } => "connect",
            TaskData::Connect { .. } => "disconnect",
        }
    }

    /// Tasks after the commit point are finished, not undone, when a crash interrupts them: the
    /// change has already happened from the user's point of view.
    pub fn after_commit(&self) -> bool {
        matches!(
            self,
            TaskData::DiscardData { .. } | TaskData::DiscardRevisions { .. } | TaskData::Gc { .. }
        )
    }

    pub fn snap(&self) -> &str {
        match self {
            TaskData::Download { name, .. }
            | TaskData::Verify { name, .. }
            | TaskData::AdoptFile { name, .. }
            | TaskData::Mount { name, .. }
            | TaskData::Data { name, .. }
            | TaskData::Link { name, .. }
            | TaskData::Unlink { name, .. }
            | TaskData::DiscardData { name, .. }
            | TaskData::DiscardRevisions { name, .. }
            | TaskData::Gc { name }
            | TaskData::SwitchChannel { name, .. }
            | TaskData::Connect { name, .. } => name,
        }
    }

    /// Words for people (the change's `Tasks` property).
    pub fn summary(&self) -> String {
        // Translators: {snap} is a snap's name, {revision} a revision such as 12 or x1.
        let t = |template: String, name: &str, revision: &str| {
            template
                .replace("{snap}", name)
                .replace("{revision}", revision)
        };
        match self {
            TaskData::Download { name, revision, .. } => t(
                gettext("Download \"{snap}\" (revision {revision})"),
                name,
                revision,
            ),
            TaskData::Verify { name, revision, .. } => t(
                gettext("Verify the signatures of \"{snap}\" (revision {revision})"),
                name,
                revision,
            ),
            TaskData::AdoptFile { name, revision } => t(
                gettext("Take in the file of \"{snap}\" (revision {revision})"),
                name,
                revision,
            ),
            TaskData::Mount { name, revision } => t(
                gettext("Mount \"{snap}\" (revision {revision})"),
                name,
                revision,
            ),
            TaskData::Data {
                name,
                copy_from: Some(from),
                ..
            } => t(
                gettext("Copy the data of \"{snap}\" from revision {revision}"),
                name,
                from,
            ),
            TaskData::Data { name, .. } => {
                t(gettext("Set up the data folders of \"{snap}\""), name, "")
            }
            TaskData::Link { name, after, .. } => t(
                gettext("Make revision {revision} of \"{snap}\" current"),
                name,
                &after.current,
            ),
            TaskData::Unlink { name, .. } => t(gettext("Stop using \"{snap}\""), name, ""),
            TaskData::DiscardData { name, purge: true } => {
                t(gettext("Delete the data of \"{snap}\""), name, "")
            }
            TaskData::DiscardData { name, .. } => t(
                gettext("Keep a snapshot of the data of \"{snap}\""),
                name,
                "",
            ),
            TaskData::DiscardRevisions { name, .. } => {
                t(gettext("Remove the files of \"{snap}\""), name, "")
            }
            TaskData::Gc { name } => t(gettext("Remove old revisions of \"{snap}\""), name, ""),
            TaskData::SwitchChannel { name, channel, .. } => {
                // Translators: {channel} is a channel such as latest/stable.
                t(gettext("Make \"{snap}\" track {channel}"), name, "")
                    .replace("{channel}", channel)
            }
            TaskData::Connect {
                name,
                plug,
                interface,
                connect,
                ..
            } => {
                let template = if *connect {
                    // Translators: {plug} is snap:plug, {interface} a technical interface name.
                    gettext("Connect {plug} to the system's {interface}")
                } else {
                    gettext("Disconnect {plug} from the system's {interface}")
                };
                template
                    .replace("{plug}", &format!("{name}:{plug}"))
                    .replace("{interface}", interface)
            }
        }
    }
}

/// What a download needs to know about the revision it installs, kept until the link.
pub fn revision_state(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_data_round_trips_through_json() {
        let t = TaskData::Data {
            name: "a".into(),
            revision: "2".into(),
            copy_from: Some("1".into()),
            restore_snapshot: false,
            created_data: Some(true),
            created_common: None,
            restored: None,
        };
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(v["kind"], "data");
        assert_eq!(serde_json::from_value::<TaskData>(v).unwrap(), t);
        assert!(!t.after_commit());
        assert!(TaskData::Gc { name: "a".into() }.after_commit());
        assert!(t.summary().contains("revision 1"));
    }
}
