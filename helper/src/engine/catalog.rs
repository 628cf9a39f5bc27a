//! Read-only questions about the catalog: search, one snap's details, the updates available. Each
//! merges the store's answer with the local state and says whether the store could be reached:
//! offline, search looks through what is installed, details come from the state alone, and
//! nothing is known to be newer. Plain types; the D-Bus layer converts them.

use snapshelf_snap::store_api as api;

use super::{files, plan, Engine};
use crate::error::Result;
use crate::state::SnapState;
use crate::store::{Action, ActionResult, StoreError};

/// An answer, and whether the store took part in it (`StoreReachable`). A store that answered
/// with an error was reached; only a network failure means it was not.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<T> {
    pub value: T,
    pub store_reachable: bool,
}

/// A snap as a search result shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    pub name: String,
    pub title: String,
    pub summary: String,
    pub version: String,
    pub publisher: String,
    pub publisher_validation: String,
    pub icon_url: String,
    pub categories: Vec<String>,
    pub download_size: u64,
    pub channel: String,
    pub confinement: String,
    pub license: String,
    pub installed: bool,
}

/// One channel of a snap in the store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Channel {
    pub channel: String,
    pub version: String,
    pub revision: String,
    pub size: u64,
    pub released_at: String,
}

/// A snap's page: the listing and what the store and the state add.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Details {
    pub listing: Listing,
    pub description: String,
    pub screenshots: Vec<String>,
    pub website: String,
    pub contact: String,
    pub base: String,
    pub channels: Vec<Channel>,
    pub installed_revision: String,
    pub tracking_channel: String,
    pub held: bool,
    pub apps: Vec<String>,
    pub revisions: Vec<String>,
}

/// A newer revision the store offers for an installed snap.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub name: String,
    pub version: String,
    pub revision: String,
    pub channel: String,
    pub download_size: u64,
}

/// A store revision as text; a missing one (0) as nothing.
fn revision_text(r: u32) -> String {
    if r == 0 {
        String::new()
    } else {
        r.to_string()
    }
}

fn reached<T>(answer: &std::result::Result<T, StoreError>) -> bool {
    !matches!(answer, Err(StoreError::Network { .. }))
}

fn listing_from_store(r: &api::FindResult, installed: bool) -> Listing {
    let snap = &r.snap;
    let rev = &r.revision.revision;
    let icon = snap
        .media_urls("icon")
        .into_iter()
        .next()
        .unwrap_or_default();
    Listing {
        name: r.name.clone(),
        title: snap.title.clone(),
        summary: snap.summary.clone(),
        version: rev.version.clone(),
        publisher: snap.publisher.display_name.clone(),
        publisher_validation: snap.publisher.validation.clone(),
        icon_url: icon,
        categories: snap.category_names(),
        download_size: rev.download.size,
        channel: r.revision.channel.clone().unwrap_or_default(),
        confinement: rev.confinement.clone(),
        license: snap.license.clone().unwrap_or_default(),
        installed,
    }
}

/// An installed snap as a search result shows it, from the state alone.
pub fn listing_from_state(s: &SnapState) -> Listing {
    let rev = s.current_revision();
    Listing {
        name: s.name.clone(),
        title: s.title.clone(),
        summary: s.summary.clone(),
        version: rev.map(|r| r.version.clone()).unwrap_or_default(),
        publisher: s.publisher.clone(),
        publisher_validation: s.publisher_validation.clone(),
        icon_url: s.icon_url.clone(),
        categories: Vec::new(),
        download_size: rev.map(|r| r.size).unwrap_or(0),
        channel: s.tracking_channel.clone(),
        confinement: s.confinement.clone(),
        license: s.license.clone(),
        installed: true,
    }
}

/// The apps of the installed revision, from its snap.yaml.
pub fn apps_of(s: &SnapState) -> Vec<String> {
    files::parse_yaml(s, &s.current)
        .map(|y| y.apps.keys().cloned().collect())
        .unwrap_or_default()
}

impl Engine {
    /// The icon inside the installed revision, if it ships one: shown without the network.
    pub fn local_icon(&self, s: &SnapState) -> Option<String> {
        let icon = self
            .paths()
            .mount_point(&s.name, &s.current)
            .join("meta/gui/icon.png");
        icon.is_file().then(|| icon.display().to_string())
    }

    /// Search the store; offline, search the installed snaps' names, titles and summaries.
    pub async fn find(
        &self,
        query: &str,
        category: Option<&str>,
        limit: usize,
    ) -> Result<Answer<Vec<Listing>>> {
        let installed = self.installed()?;
        let found = self.store().find(query, category).await;
        let store_reachable = reached(&found);
        let value = match found {
            Ok(results) => results
                .iter()
                .map(|r| listing_from_store(r, installed.iter().any(|s| s.name == r.name)))
                .take(limit)
                .collect(),
            Err(StoreError::Network { .. }) => {
                let q = query.to_lowercase();
                installed
                    .iter()
                    .filter(|s| {
                        s.name.contains(&q)
                            || s.title.to_lowercase().contains(&q)
                            || s.summary.to_lowercase().contains(&q)
                    })
                    .map(|s| {
                        let mut r = listing_from_state(s);
                        // The store's icon URL cannot be fetched now; the installed one can.
                        if let Some(icon) = self.local_icon(s) {
                            r.icon_url = icon;
                        }
                        r
                    })
                    .take(limit)
                    .collect()
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Answer {
            value,
            store_reachable,
        })
    }

    /// One snap's details: the state's for an installed snap, completed by the store's when it
    /// answers; the store's alone for another.
    pub async fn info(&self, name: &str) -> Result<Answer<Details>> {
        let local = self.snap(name)?;
        let answer = self.store().info(name).await;
        let store_reachable = reached(&answer);
        let store = match answer {
            Ok(v) => Some(v),
            Err(StoreError::Network { .. }) | Err(StoreError::NotFound(_)) if local.is_some() => {
                None
            }
            Err(e) => return Err(e.into()),
        };
        let mut details = Details::default();
        if let Some(s) = &local {
            details.listing = listing_from_state(s);
            details.installed_revision = s.current.clone();
            details.tracking_channel = s.tracking_channel.clone();
            details.held = s.held;
            details.revisions = s.sequence.iter().map(|r| r.revision.clone()).collect();
            details.description = s.description.clone();
            details.base = s.base.clone().unwrap_or_default();
            details.apps = apps_of(s);
        }
        if let Some(info) = store {
            merge_store_info(&mut details, &info, local.is_some());
        }
        Ok(Answer {
            value: details,
            store_reachable,
        })
    }

    /// The installed snaps (neither held nor from a file) the store has another revision of,
    /// leaving out what a person reverted from.
    pub async fn updates(&self) -> Result<Answer<Vec<Update>>> {
        let snaps = self.installed()?;
        let candidates: Vec<&SnapState> =
            snaps.iter().filter(|s| !s.is_local() && !s.held).collect();
        if candidates.is_empty() {
            return Ok(Answer {
                value: Vec::new(),
                store_reachable: true,
            });
        }
        let actions: Vec<Action> = candidates
            .iter()
            .map(|s| Action::Refresh {
                snap_id: s.snap_id.clone(),
                channel: None,
            })
            .collect();
        let answer = self
            .store()
            .snap_action(&plan::context(&snaps), &actions)
            .await;
        let store_reachable = reached(&answer);
        let results = match answer {
            Ok(r) => r,
            // Offline: nothing is known to be newer.
            Err(StoreError::Network { .. }) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let value = results
            .into_iter()
            .filter_map(|r| update_from(r, &candidates))
            .collect();
        Ok(Answer {
            value,
            store_reachable,
        })
    }

    /// The store's categories; none offline.
    pub async fn categories(&self) -> Result<Answer<Vec<String>>> {
        let answer = self.store().categories().await;
        let store_reachable = reached(&answer);
        let value = match answer {
            Ok(c) => c,
            Err(StoreError::Network { .. }) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        Ok(Answer {
            value,
            store_reachable,
        })
    }
}

/// What the store's `info` adds to (or, for a snap not installed, makes of) the details.
fn merge_store_info(details: &mut Details, info: &api::InfoResponse, installed: bool) {
    let snap = &info.snap;
    let map = &info.channel_map;
    let first = map.first().cloned().unwrap_or_default();
    let r = api::FindResult {
        name: info.name.clone(),
        snap_id: info.snap_id.clone(),
        snap: snap.clone(),
        revision: api::FindRevision {
            revision: first.revision.clone(),
            channel: Some(first.channel.name.clone()),
        },
    };
    let fresh = listing_from_store(&r, installed);
    if installed {
        details.listing.categories = fresh.categories;
        details.listing.icon_url = fresh.icon_url;
    } else {
        details.listing = fresh;
    }
    details.description = snap.description.clone();
    details.website = snap.website.clone().unwrap_or_default();
    details.contact = snap.contact.clone().unwrap_or_default();
    details.screenshots = snap.media_urls("screenshot");
    if details.base.is_empty() {
        details.base = first.revision.base.clone().unwrap_or_default();
    }
    if details.apps.is_empty() {
        let yaml = first.revision.snap_yaml.as_deref().unwrap_or("");
        if let Ok(y) = snapshelf_snap::yaml::SnapYaml::parse(yaml) {
            details.apps = y.apps.keys().cloned().collect();
        }
    }
    details.channels = map
        .iter()
        .map(|c| Channel {
            channel: format!("{}/{}", c.channel.track, c.channel.risk),
            version: c.revision.version.clone(),
            revision: revision_text(c.revision.revision),
            size: c.revision.download.size,
            released_at: c.channel.released_at.clone(),
        })
        .collect();
}

/// An update from one refresh answer, unless it is the current revision or a blocked one.
fn update_from(r: ActionResult, candidates: &[&SnapState]) -> Option<Update> {
    let ActionResult::Ok {
        name,
        snap_id,
        effective_channel,
        snap,
        ..
    } = r
    else {
        return None;
    };
    let s = candidates.iter().find(|s| s.snap_id == snap_id)?;
    let rev = revision_text(snap.revision.revision);
    if rev == s.current || s.blocked.contains(&rev) {
        return None;
    }
    Some(Update {
        name,
        version: snap.revision.version.clone(),
        revision: rev,
        channel: effective_channel
            .map(|c| plan::full_channel(&c))
            .unwrap_or_else(|| s.tracking_channel.clone()),
        download_size: snap.revision.download.size,
    })
}
