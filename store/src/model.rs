//! The served view of a catalog: catalog entries joined with the revisions found on disk, channel
//! maps resolved, and everything the endpoints need to answer without touching the disk again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use snapshelf_snap::store_api::{
    self as api, Category, Download, FindResult, FindRevision, Media, RevisionDetails, SnapDetails,
    StoreSnap,
};

use crate::catalog::{
    derive_snap_id, parse_channel_ref, Catalog, ChannelRef, Publisher, Releases, SnapEntry, RISKS,
};
use crate::index::{self, RevisionRecord};

/// One open channel of a snap for one architecture (`all` for revisions built for every one).
/// Closed risks have no entry: resolution falls back to the next more stable risk.
#[derive(Debug, Clone)]
pub struct ChannelEntry {
    pub track: String,
    pub risk: String,
    pub branch: Option<String>,
    pub architecture: String,
    pub revision: u32,
    /// Earlier heads of this channel for this architecture, oldest first: where an epoch bridge
    /// is looked for when the head cannot read the installed data.
    pub history: Vec<u32>,
    pub released_at: String,
}

impl ChannelEntry {
    pub fn name(&self) -> String {
        match &self.branch {
            Some(b) => format!("{}/{}/{b}", self.track, self.risk),
            None => format!("{}/{}", self.track, self.risk),
        }
    }

    /// The name as the real store writes `effective-channel`: `latest/` left out.
    pub fn short_name(&self) -> String {
        let full = self.name();
        full.strip_prefix("latest/")
            .map(str::to_string)
            .unwrap_or(full)
    }

    pub fn serves(&self, arch: &str) -> bool {
        self.architecture == arch || self.architecture == "all"
    }
}

#[derive(Debug)]
pub struct SnapView {
    pub entry: SnapEntry,
    pub snap_id: String,
    pub publisher: Publisher,
    pub revisions: BTreeMap<u32, RevisionRecord>,
    /// Tracks in order of first appearance, `latest` first; risks stable → edge.
    pub channels: Vec<ChannelEntry>,
    /// This snap's `find` result with the default fields per architecture, serialised once and
    /// cut where the store's base URL goes (it is the address each client used).
    pub find_json: HashMap<String, Vec<String>>,
    /// The text `find` searches besides the name: title, summary, description, publisher.
    search_text: String,
}

impl SnapView {
    /// The open channel exactly so named for this architecture (its own revision before an
    /// `all` one).
    pub fn channel(
        &self,
        track: &str,
        risk: &str,
        branch: Option<&str>,
        arch: &str,
    ) -> Option<&ChannelEntry> {
        let named =
            |c: &&ChannelEntry| c.track == track && c.risk == risk && c.branch.as_deref() == branch;
        let mut matching = self.channels.iter().filter(named);
        matching
            .clone()
            .find(|c| c.architecture == arch)
            .or_else(|| matching.find(|c| c.architecture == "all"))
    }

    /// The track a channel without one stands for.
    pub fn default_track(&self) -> &str {
        self.entry.default_track.as_deref().unwrap_or("latest")
    }

    /// What serves a channel, as the real store resolves it: a branch that is not open falls
    /// back to its risk; a closed risk to the next more stable open one of its track.
    pub fn resolve(&self, channel: &ChannelRef, arch: &str) -> Option<&ChannelEntry> {
        let track = channel.track.as_deref().unwrap_or(self.default_track());
        if let Some(branch) = &channel.branch {
            if let Some(c) = self.channel(track, &channel.risk, Some(branch), arch) {
                return Some(c);
            }
        }
        let at = RISKS.iter().position(|r| *r == channel.risk)?;
        RISKS[..=at]
            .iter()
            .rev()
            .find_map(|risk| self.channel(track, risk, None, arch))
    }

    /// The revision shown in search results and as "this one" in info: the default track's
    /// stable (or what it falls back to… nothing below stable, so the first open channel).
    pub fn default_channel(&self, arch: &str) -> Option<&ChannelEntry> {
        self.channel(self.default_track(), "stable", None, arch)
            .or_else(|| {
                self.channels
                    .iter()
                    .find(|c| c.branch.is_none() && c.serves(arch))
            })
    }

    /// Whether this snap has anything for this architecture.
    pub fn has_architecture(&self, arch: &str) -> bool {
        self.channels.iter().any(|c| c.serves(arch))
    }

    pub fn is_featured(&self) -> bool {
        self.entry.featured
    }
}

/// Stands for the store's base URL in precomputed JSON.
pub const BASE_PLACEHOLDER: &str = "@@snapshelf-store-base@@";

pub struct Model {
    pub catalog: Catalog,
    pub dir: PathBuf,
    pub snaps: BTreeMap<String, SnapView>,
    pub by_id: HashMap<String, String>,
    /// `<snap-id>_<rev>.snap` → the file on disk and its size.
    pub downloads: HashMap<String, (PathBuf, u64)>,
    /// Media paths named by the catalog → the file under `<dir>/media`.
    pub media: HashMap<String, PathBuf>,
    pub categories: Vec<String>,
    /// `find`'s word index, and the snaps' names in its numbering (name order).
    pub search: crate::search::SearchIndex,
    pub order: Vec<String>,
    /// The architectures of the catalog's revisions (and amd64), for listing `all` revisions.
    pub architectures: Vec<String>,
    pub skipped: Vec<(String, String)>,
    pub files_read: usize,
}

fn store_publisher(catalog: &Catalog) -> Publisher {
    Publisher {
        id: catalog.store.authority_id.clone(),
        username: None,
        display_name: catalog.store.display_name.clone(),
        validation: "verified".into(),
    }
}

/// The revision's architectures as channel keys: `all` stays `all`.
fn arch_keys(rev: &RevisionRecord) -> Vec<String> {
    if rev.architectures.is_empty() {
        vec!["all".into()]
    } else {
        rev.architectures.clone()
    }
}

/// The catalog's channel assignments as open channels, one entry per architecture the listed
/// revisions are built for. Closed risks get no entry (the real store's channel map has none);
/// resolution falls back to the more stable risk ([`SnapView::resolve`]).
fn resolve_channels(
    explicit: &BTreeMap<String, Releases>,
    revisions: &BTreeMap<u32, RevisionRecord>,
) -> Vec<ChannelEntry> {
    let mut listed: Vec<(ChannelRef, Vec<u32>)> = Vec::new();
    for (name, releases) in explicit {
        let Ok(channel) = parse_channel_ref(name) else {
            continue;
        };
        let mut revs = Vec::new();
        for rev in releases.revisions() {
            if revisions.contains_key(&rev) {
                revs.push(rev);
            } else {
                tracing::warn!(channel = %name, revision = rev, "channel names a revision with no file; left out");
            }
        }
        listed.push((channel, revs));
    }
    if explicit.is_empty() {
        // A snap dropped into the catalog without an entry: its newest revision is on stable.
        if let Some((rev, _)) = revisions.iter().next_back() {
            let stable = ChannelRef {
                track: None,
                risk: "stable".into(),
                branch: None,
            };
            listed.push((stable, vec![*rev]));
        }
    }
    let mut out = Vec::new();
    for (channel, revs) in listed {
        let mut by_arch: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for rev in revs {
            for arch in arch_keys(&revisions[&rev]) {
                by_arch.entry(arch).or_default().push(rev);
            }
        }
        for (architecture, mut history) in by_arch {
            let Some(revision) = history.pop() else {
                continue;
            };
            out.push(ChannelEntry {
                track: channel.track.clone().unwrap_or_else(|| "latest".into()),
                risk: channel.risk.clone(),
                branch: channel.branch.clone(),
                architecture,
                revision,
                history,
                released_at: revisions[&revision].created_at.clone(),
            });
        }
    }
    // The real store's order: track (`latest` first), risk, then architecture.
    let risk_index = |r: &str| RISKS.iter().position(|x| *x == r).unwrap_or(RISKS.len());
    out.sort_by(|a, b| {
        (
            a.track != "latest",
            &a.track,
            risk_index(&a.risk),
            &a.branch,
            &a.architecture,
        )
            .cmp(&(
                b.track != "latest",
                &b.track,
                risk_index(&b.risk),
                &b.branch,
                &b.architecture,
            ))
    });
    out
}

impl Model {
    /// Load `<dir>/catalog.toml` and scan `<dir>/snaps`.
    pub fn load(dir: &Path) -> anyhow::Result<Model> {
        let catalog = Catalog::load(&dir.join("catalog.toml"))?;
        let scan = index::scan(dir)?;
        for (file, reason) in &scan.skipped {
            tracing::warn!(file = %file, reason = %reason, "skipping a snap file");
        }
        let mut by_name: BTreeMap<String, BTreeMap<u32, RevisionRecord>> = BTreeMap::new();
        for rec in scan.revisions {
            by_name
                .entry(rec.name.clone())
                .or_default()
                .insert(rec.revision, rec);
        }
        let entries: HashMap<&str, &SnapEntry> =
            catalog.snaps.iter().map(|s| (s.name.as_str(), s)).collect();
        let mut snaps = BTreeMap::new();
        let mut by_id = HashMap::new();
        let mut downloads = HashMap::new();
        let mut media = HashMap::new();
        let mut categories = BTreeSet::new();
        for (name, revisions) in by_name {
            let entry = entries
                .get(name.as_str())
                .map(|e| (*e).clone())
                .unwrap_or_else(|| SnapEntry {
                    name: name.clone(),
                    snap_id: None,
                    publisher: None,
                    categories: Vec::new(),
                    featured: false,
                    license: None,
                    website: None,
                    contact: None,
                    source: None,
                    issues: None,
                    donation: None,
                    icon: None,
                    screenshots: Vec::new(),
                    common_ids: Vec::new(),
                    default_track: None,
                    channels: BTreeMap::new(),
                    aliases: BTreeMap::new(),
                    auto_aliases: Vec::new(),
                    declaration_plugs: None,
                });
            let snap_id = entry
                .snap_id
                .clone()
                .unwrap_or_else(|| derive_snap_id(&name));
            let publisher = entry
                .publisher
                .as_deref()
                .and_then(|p| catalog.publisher(p).cloned())
                .unwrap_or_else(|| store_publisher(&catalog));
            let channels = resolve_channels(&entry.channels, &revisions);
            if channels.is_empty() {
                tracing::warn!(snap = %name, "no channel has a revision; not served");
                continue;
            }
            for rev in revisions.values() {
                downloads.insert(
                    format!("{snap_id}_{}.snap", rev.revision),
                    (dir.join("snaps").join(&rev.file_name), rev.size),
                );
            }
            for path in entry.icon.iter().chain(entry.screenshots.iter()) {
                let file = dir.join("media").join(path);
                if file.is_file() {
                    media.insert(path.clone(), file);
                } else {
                    tracing::warn!(snap = %name, media = %path, "media file missing");
                }
            }
            categories.extend(entry.categories.iter().cloned());
            let latest = &revisions[&channels
                .iter()
                .find(|c| c.track == entry.default_track.as_deref().unwrap_or("latest"))
                .unwrap_or(&channels[0])
                .revision];
            let search_text = format!(
                "{}\n{}\n{}\n{}",
                latest.title, latest.summary, latest.description, publisher.display_name
            );
            by_id.insert(snap_id.clone(), name.clone());
            snaps.insert(
                name.clone(),
                SnapView {
                    find_json: HashMap::new(),
                    search_text,
                    entry,
                    snap_id,
                    publisher,
                    revisions,
                    channels,
                },
            );
        }
        let mut categories: Vec<String> = categories.into_iter().collect();
        categories.retain(|c| c != "featured");
        categories.insert(0, "featured".into());
        // Every architecture a revision is built for; `all`-only catalogs serve amd64 devices
        // from their precomputed answers (others take the general path).
        let mut architectures: BTreeSet<String> = snaps
            .values()
            .flat_map(|s| s.channels.iter().map(|c| c.architecture.clone()))
            .filter(|a| a != "all")
            .collect();
        architectures.insert("amd64".into());
        let search = crate::search::SearchIndex::build(snaps.values().map(|s| {
            let featured = s.entry.featured.then_some("featured");
            crate::search::Entry {
                name: &s.entry.name,
                text: &s.search_text,
                categories: featured
                    .into_iter()
                    .chain(s.entry.categories.iter().map(String::as_str))
                    .collect(),
            }
        }));
        let order = snaps.keys().cloned().collect();
        let mut model = Model {
            search,
            order,
            architectures: architectures.into_iter().collect(),
            catalog,
            dir: dir.to_path_buf(),
            snaps,
            by_id,
            downloads,
            media,
            categories,
            skipped: scan.skipped,
            files_read: scan.read,
        };
        let defaults = crate::fields::default();
        let mut jsons: Vec<(String, String, String)> = Vec::new();
        for snap in model.snaps.values() {
            for arch in &model.architectures {
                let Some(entry) = snap.default_channel(arch) else {
                    continue;
                };
                let mut v = serde_json::to_value(model.find_result(snap, entry, BASE_PLACEHOLDER))
                    .expect("store types always serialise");
                crate::fields::project(&mut v["snap"], &defaults, &[]);
                crate::fields::project(&mut v["revision"], &defaults, &["channel"]);
                jsons.push((snap.entry.name.clone(), arch.clone(), v.to_string()));
            }
        }
        for (name, arch, json) in jsons {
            if let Some(s) = model.snaps.get_mut(&name) {
                let parts = json.split(BASE_PLACEHOLDER).map(str::to_string).collect();
                s.find_json.insert(arch, parts);
            }
        }
        Ok(model)
    }

    /// One `find` result: `{name, snap-id, snap, revision}` with the revision's channel name and
    /// only the download's size, as the real store answers.
    pub fn find_result(&self, snap: &SnapView, entry: &ChannelEntry, base: &str) -> FindResult {
        let rev = &snap.revisions[&entry.revision];
        let mut revision = self.revision_details(snap, rev, base);
        revision.snap_yaml = None;
        revision.download = Download {
            size: rev.size,
            ..Default::default()
        };
        FindResult {
            name: snap.entry.name.clone(),
            snap_id: snap.snap_id.clone(),
            snap: self.snap_details(snap, rev, base),
            revision: FindRevision {
                revision,
                channel: Some(entry.short_name()),
            },
        }
    }

    /// Snaps matching a find query, best first (see [`crate::search`]): exact name, name
    /// prefix, name substring, then the query's words beginning words of the snap's text.
    pub fn find(
        &self,
        q: Option<&str>,
        name_prefix: Option<&str>,
        category: Option<&str>,
    ) -> Vec<&SnapView> {
        let category = category.map(|c| self.search.category(c));
        self.search
            .find(q, name_prefix, category)
            .into_iter()
            .filter_map(|no| self.snaps.get(self.order.get(no as usize)?))
            .collect()
    }

    pub fn publisher(p: &Publisher) -> api::Publisher {
        api::Publisher {
            id: p.id.clone(),
            username: p.username().to_string(),
            display_name: p.display_name.clone(),
            validation: p.validation.clone(),
        }
    }

    fn media(&self, snap: &SnapView, base: &str) -> Vec<Media> {
        let url = |p: &str| format!("{base}/media/{p}");
        let icon = snap
            .entry
            .icon
            .as_deref()
            .filter(|p| self.media.contains_key(*p))
            .map(|icon| Media {
                kind: "icon".into(),
                url: url(icon),
                width: Some(256),
                height: Some(256),
            });
        let shots = snap
            .entry
            .screenshots
            .iter()
            .filter(|p| self.media.contains_key(*p))
            .map(|shot| Media {
                kind: "screenshot".into(),
                url: url(shot),
                width: None,
                height: None,
            });
        icon.into_iter().chain(shots).collect()
    }

    /// The snap-level half of a `storeSnap` (what does not change per revision).
    pub fn snap_details(&self, snap: &SnapView, rev: &RevisionRecord, base: &str) -> SnapDetails {
        let e = &snap.entry;
        let links = [
            ("contact", &e.contact),
            ("website", &e.website),
            ("source", &e.source),
            ("issues", &e.issues),
            ("donation", &e.donation),
        ]
        .into_iter()
        .filter_map(|(key, v)| Some((key.to_string(), vec![v.clone()?])))
        .collect();
        let featured = e.featured.then(|| Category {
            featured: true,
            name: "featured".into(),
        });
        let categories = featured
            .into_iter()
            .chain(e.categories.iter().map(|c| Category {
                featured: false,
                name: c.clone(),
            }))
            .collect();
        SnapDetails {
            name: e.name.clone(),
            snap_id: snap.snap_id.clone(),
            title: if rev.title.is_empty() {
                e.name.clone()
            } else {
                rev.title.clone()
            },
            summary: rev.summary.clone(),
            description: rev.description.clone(),
            license: e.license.clone().or_else(|| rev.license.clone()),
            contact: e.contact.clone(),
            website: e.website.clone(),
            links,
            media: self.media(snap, base),
            categories,
            prices: Default::default(),
            private: false,
            publisher: Self::publisher(&snap.publisher),
            store_url: Some(format!("{base}/snaps/{}", e.name)),
        }
    }

    /// The per-revision half of a `storeSnap`, with the full download (URL, digest, deltas).
    pub fn revision_details(
        &self,
        snap: &SnapView,
        rev: &RevisionRecord,
        base: &str,
    ) -> RevisionDetails {
        RevisionDetails {
            architectures: rev.architectures.clone(),
            base: rev.base.clone(),
            common_ids: snap.entry.common_ids.clone(),
            confinement: rev.confinement.clone(),
            created_at: rev.created_at.clone(),
            download: Download {
                size: rev.size,
                url: Some(format!(
                    "{base}/api/v1/snaps/download/{}_{}.snap",
                    snap.snap_id, rev.revision
                )),
                sha3_384: Some(rev.sha3_384.clone()),
                deltas: Some(Vec::new()),
            },
            epoch: rev.epoch.clone(),
            revision: rev.revision,
            snap_yaml: Some(rev.snap_yaml.clone()),
            snap_type: rev.snap_type.clone(),
            version: rev.version.clone(),
        }
    }

    /// A whole `storeSnap`, as a refresh result carries it.
    pub fn store_snap(&self, snap: &SnapView, rev: &RevisionRecord, base: &str) -> StoreSnap {
        StoreSnap {
            details: self.snap_details(snap, rev, base),
            revision: self.revision_details(snap, rev, base),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(rev: u32) -> RevisionRecord {
        RevisionRecord {
            file_name: format!("x_{rev}.snap"),
            name: "x".into(),
            revision: rev,
            size: 1,
            sha3_384: String::new(),
            snap_yaml: String::new(),
            version: "1".into(),
            title: String::new(),
            summary: String::new(),
            description: String::new(),
            confinement: "strict".into(),
            snap_type: "app".into(),
            base: None,
            architectures: vec!["all".into()],
            license: None,
            epoch: Default::default(),
            apps: vec![],
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn view(explicit: &[(&str, Releases)], revs: BTreeMap<u32, RevisionRecord>) -> SnapView {
        let explicit: BTreeMap<String, Releases> = explicit
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let channels = resolve_channels(&explicit, &revs);
        SnapView {
            entry: SnapEntry {
                name: "x".into(),
                snap_id: None,
                publisher: None,
                categories: vec![],
                featured: false,
                license: None,
                website: None,
                contact: None,
                source: None,
                issues: None,
                donation: None,
                icon: None,
                screenshots: vec![],
                common_ids: vec![],
                default_track: None,
                channels: explicit,
                aliases: BTreeMap::new(),
                auto_aliases: vec![],
                declaration_plugs: None,
            },
            snap_id: "x".into(),
            publisher: Publisher {
                id: "p".into(),
                username: None,
                display_name: "P".into(),
                validation: "unproven".into(),
            },
            revisions: revs,
            channels,
            find_json: HashMap::new(),
            search_text: String::new(),
        }
    }

    fn at(text: &str) -> ChannelRef {
        parse_channel_ref(text).unwrap()
    }

    #[test]
    fn closed_risks_are_absent_and_resolve_to_the_more_stable_one() {
        let revs: BTreeMap<u32, RevisionRecord> =
            [1, 2, 3, 4].into_iter().map(|r| (r, rec(r))).collect();
        let v = view(
            &[
                ("latest/stable", Releases::One(1)),
                ("latest/edge", Releases::One(3)),
                ("2.0/candidate", Releases::One(2)),
                ("stable/fix", Releases::One(4)),
            ],
            revs,
        );
        let map: Vec<(String, u32)> = v.channels.iter().map(|c| (c.name(), c.revision)).collect();
        assert_eq!(
            map,
            vec![
                ("latest/stable".into(), 1),
                ("latest/stable/fix".into(), 4),
                ("latest/edge".into(), 3),
                ("2.0/candidate".into(), 2),
            ]
        );
        let served = |c: &str| {
            v.resolve(&at(c), "amd64")
                .map(|e| (e.short_name(), e.revision))
        };
        assert_eq!(served("beta"), Some(("stable".into(), 1)));
        assert_eq!(served("edge"), Some(("edge".into(), 3)));
        assert_eq!(served("2.0/edge"), Some(("2.0/candidate".into(), 2)));
        assert_eq!(served("2.0/stable"), None, "nothing more stable is open");
        assert_eq!(served("stable/fix"), Some(("stable/fix".into(), 4)));
        assert_eq!(
            served("beta/gone"),
            Some(("stable".into(), 1)),
            "a closed branch falls back"
        );
    }

    #[test]
    fn architectures_and_history() {
        let mut revs: BTreeMap<u32, RevisionRecord> =
            [1, 2, 3].into_iter().map(|r| (r, rec(r))).collect();
        revs.get_mut(&1).unwrap().architectures = vec!["amd64".into()];
        revs.get_mut(&2).unwrap().architectures = vec!["arm64".into()];
        revs.get_mut(&3).unwrap().architectures = vec!["amd64".into()];
        let v = view(&[("stable", Releases::History(vec![1, 2, 3]))], revs);
        let amd = v.resolve(&at("stable"), "amd64").unwrap();
        assert_eq!((amd.revision, amd.history.clone()), (3, vec![1]));
        assert_eq!(v.resolve(&at("stable"), "arm64").unwrap().revision, 2);
        assert!(v.resolve(&at("stable"), "riscv64").is_none());
        assert!(!v.has_architecture("riscv64"));
    }

    #[test]
    fn unlisted_snaps_get_their_newest_revision_on_stable() {
        let revs: BTreeMap<u32, RevisionRecord> = [4, 7].into_iter().map(|r| (r, rec(r))).collect();
        let map = resolve_channels(&BTreeMap::new(), &revs);
        assert_eq!(map.len(), 1);
        assert_eq!(map[0].name(), "latest/stable");
        assert_eq!(map[0].revision, 7);
    }
}
