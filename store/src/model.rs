//! The served view of a catalog: catalog entries joined with the revisions found on disk, channel
//! maps resolved, and everything the endpoints need to answer without touching the disk again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use snapshelf_snap::store_api::{
    self as api, Category, Download, FindResult, FindRevision, Media, RevisionDetails, SnapDetails,
    StoreSnap,
};

use crate::catalog::{derive_snap_id, parse_channel, Catalog, Publisher, SnapEntry, RISKS};
use crate::index::{self, RevisionRecord};

/// One channel of a snap's channel map.
#[derive(Debug, Clone)]
pub struct ChannelEntry {
    pub track: String,
    pub risk: String,
    pub revision: u32,
    pub released_at: String,
}

impl ChannelEntry {
    pub fn name(&self) -> String {
        format!("{}/{}", self.track, self.risk)
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
    /// This snap's `find` result with the default fields, serialised once; URLs start with
    /// [`BASE_PLACEHOLDER`], replaced per response by the address the client used.
    pub find_json: String,
    /// Lower-cased text searched by `find`.
    search_name: String,
    search_text: String,
}

impl SnapView {
    pub fn channel(&self, track: &str, risk: &str) -> Option<&ChannelEntry> {
        self.channels
            .iter()
            .find(|c| c.track == track && c.risk == risk)
    }

    /// The revision shown in search results and as "this one" in info: latest/stable, else the
    /// first channel.
    pub fn default_channel(&self) -> Option<&ChannelEntry> {
        self.channel("latest", "stable")
            .or_else(|| self.channels.first())
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

/// Resolve explicit channel assignments into a full channel map: a risk with no revision of its own
/// follows the next more stable risk of its track, as the real store's closed channels do.
fn resolve_channels(
    explicit: &BTreeMap<String, u32>,
    revisions: &BTreeMap<u32, RevisionRecord>,
) -> Vec<ChannelEntry> {
    let mut tracks: Vec<String> = Vec::new();
    let mut set: HashMap<(String, String), u32> = HashMap::new();
    for (name, rev) in explicit {
        let Ok((track, risk)) = parse_channel(name) else {
            continue;
        };
        if !revisions.contains_key(rev) {
            tracing::warn!(channel = %name, revision = rev, "channel names a revision with no file; closed");
            continue;
        }
        if !tracks.contains(&track) {
            tracks.push(track.clone());
        }
        set.insert((track, risk), *rev);
    }
    if explicit.is_empty() {
        // A snap dropped into the catalog without an entry: its newest revision is on stable.
        if let Some((rev, _)) = revisions.iter().next_back() {
            tracks.push("latest".into());
            set.insert(("latest".into(), "stable".into()), *rev);
        }
    }
    tracks.sort_by_key(|t| (t != "latest", t.clone()));
    let mut out = Vec::new();
    for track in tracks {
        let mut current: Option<u32> = None;
        for risk in RISKS {
            if let Some(rev) = set.get(&(track.clone(), risk.to_string())) {
                current = Some(*rev);
            }
            if let Some(rev) = current {
                out.push(ChannelEntry {
                    track: track.clone(),
                    risk: risk.to_string(),
                    revision: rev,
                    released_at: revisions[&rev].created_at.clone(),
                });
            }
        }
    }
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
                    channels: BTreeMap::new(),
                    aliases: BTreeMap::new(),
                    auto_aliases: Vec::new(),
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
            let latest = &revisions[&channels[0].revision];
            let search_text = format!(
                "{}\n{}\n{}\n{}",
                latest.title, latest.summary, latest.description, publisher.display_name
            )
            .to_lowercase();
            by_id.insert(snap_id.clone(), name.clone());
            snaps.insert(
                name.clone(),
                SnapView {
                    find_json: String::new(),
                    search_name: name.to_lowercase(),
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
        let mut model = Model {
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
        let jsons: Vec<(String, String)> = model
            .snaps
            .values()
            .filter_map(|snap| {
                let entry = snap.default_channel()?;
                Some((
                    snap.entry.name.clone(),
                    serde_json::to_string(&model.find_result(snap, entry, BASE_PLACEHOLDER))
                        .expect("store types always serialise"),
                ))
            })
            .collect();
        for (name, json) in jsons {
            if let Some(s) = model.snaps.get_mut(&name) {
                s.find_json = json;
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
                channel: Some(entry.risk.clone()),
            },
        }
    }

    /// Snaps matching a find query, best first: exact name, name prefix, name substring, then
    /// title/summary/description/publisher text.
    pub fn find(
        &self,
        q: Option<&str>,
        name_prefix: Option<&str>,
        category: Option<&str>,
    ) -> Vec<&SnapView> {
        let q = q.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
        let prefix = name_prefix
            .map(|s| s.trim().trim_end_matches('*').to_lowercase())
            .filter(|s| !s.is_empty());
        // One SIMD searcher per word, built once per query and run over every snap's text.
        let words: Vec<memchr::memmem::Finder<'_>> = q
            .as_deref()
            .map(|q| {
                q.split_whitespace()
                    .map(memchr::memmem::Finder::new)
                    .collect()
            })
            .unwrap_or_default();
        let mut hits: Vec<(u8, &SnapView)> = Vec::new();
        for snap in self.snaps.values() {
            if let Some(cat) = category {
                let in_cat = if cat == "featured" {
                    snap.is_featured()
                } else {
                    snap.entry.categories.iter().any(|c| c == cat)
                };
                if !in_cat {
                    continue;
                }
            }
            if let Some(p) = &prefix {
                if !snap.search_name.starts_with(p.as_str()) {
                    continue;
                }
            }
            let rank = match &q {
                None => 5,
                Some(q) if snap.search_name == *q => 0,
                Some(q) if snap.search_name.starts_with(q.as_str()) => 1,
                Some(q) if snap.search_name.contains(q.as_str()) => 2,
                Some(_) => {
                    if words.iter().all(|w| {
                        w.find(snap.search_name.as_bytes()).is_some()
                            || w.find(snap.search_text.as_bytes()).is_some()
                    }) {
                        3
                    } else {
                        continue;
                    }
                }
            };
            hits.push((rank, snap));
        }
        hits.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| a.1.entry.name.cmp(&b.1.entry.name))
        });
        hits.into_iter().map(|(_, s)| s).collect()
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

    #[test]
    fn closed_risks_follow_the_more_stable_one() {
        let revs: BTreeMap<u32, RevisionRecord> =
            [1, 2, 3].into_iter().map(|r| (r, rec(r))).collect();
        let explicit: BTreeMap<String, u32> = [
            ("latest/stable".to_string(), 1),
            ("latest/edge".to_string(), 3),
            ("2.0/candidate".to_string(), 2),
        ]
        .into_iter()
        .collect();
        let map: Vec<(String, u32)> = resolve_channels(&explicit, &revs)
            .iter()
            .map(|c| (c.name(), c.revision))
            .collect();
        assert_eq!(
            map,
            vec![
                ("latest/stable".into(), 1),
                ("latest/candidate".into(), 1),
                ("latest/beta".into(), 1),
                ("latest/edge".into(), 3),
                ("2.0/candidate".into(), 2),
                ("2.0/beta".into(), 2),
                ("2.0/edge".into(), 2),
            ]
        );
    }

    #[test]
    fn unlisted_snaps_get_their_newest_revision_on_stable() {
        let revs: BTreeMap<u32, RevisionRecord> = [4, 7].into_iter().map(|r| (r, rec(r))).collect();
        let map = resolve_channels(&BTreeMap::new(), &revs);
        assert_eq!(map[0].name(), "latest/stable");
        assert_eq!(map[0].revision, 7);
        assert_eq!(map.len(), 4);
    }
}
