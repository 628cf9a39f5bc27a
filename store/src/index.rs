//! What the store knows about each `.snap` file in `<dir>/snaps/`, with an on-disk cache so that
//! a restart re-reads only the files that changed (size or mtime).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use snapshelf_snap::squashfs::SnapFile;
use snapshelf_snap::yaml::SnapYaml;

/// Bumped whenever [`RevisionRecord`] changes shape, so an old cache is rebuilt, not misread.
const CACHE_VERSION: u32 = 1;

/// One published revision, as read from its file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevisionRecord {
    pub file_name: String,
    pub name: String,
    pub revision: u32,
    pub size: u64,
    /// Lowercase hex, the form store JSON uses.
    pub sha3_384: String,
    pub snap_yaml: String,
    pub version: String,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub confinement: String,
    pub snap_type: String,
    pub base: Option<String>,
    pub architectures: Vec<String>,
    pub license: Option<String>,
    pub epoch: snapshelf_snap::store_api::Epoch,
    pub apps: Vec<String>,
    /// RFC 3339, from the file's modification time.
    pub created_at: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct CacheEntry {
    size: u64,
    mtime_ns: u128,
    result: Result<RevisionRecord, String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    entries: HashMap<String, CacheEntry>,
}

/// The outcome of a scan: the good revisions and, for the log, the files that were skipped.
#[derive(Debug, Default)]
pub struct Scan {
    pub revisions: Vec<RevisionRecord>,
    pub skipped: Vec<(String, String)>,
    /// How many files had to be read (not served from the cache).
    pub read: usize,
}

fn cache_path(dir: &Path) -> PathBuf {
    dir.join(".cache").join("index.json")
}

/// `<name>_<rev>.snap` → (name, rev).
pub fn parse_file_name(file_name: &str) -> Option<(&str, u32)> {
    let stem = file_name.strip_suffix(".snap")?;
    let (name, rev) = stem.rsplit_once('_')?;
    let rev: u32 = rev.parse().ok().filter(|r| *r >= 1)?;
    if rev.to_string() != stem.rsplit_once('_')?.1 {
        return None; // "01" and "+1" are not canonical revisions
    }
    Some((name, rev))
}

fn mtime_ns(meta: &std::fs::Metadata) -> u128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn rfc3339(ns: u128) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ns as i128)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Read one `.snap` file: its name and revision from the file name, checked against its snap.yaml.
pub fn read_revision(
    path: &Path,
    file_name: &str,
    mtime_ns: u128,
) -> Result<RevisionRecord, String> {
    let (name, revision) = parse_file_name(file_name)
        .ok_or_else(|| "file name is not <name>_<revision>.snap".to_string())?;
    let snap = SnapFile::open(path).map_err(|e| e.to_string())?;
    let text = snap.snap_yaml_text().map_err(|e| e.to_string())?;
    let yaml = SnapYaml::parse(&text).map_err(|e| format!("meta/snap.yaml: {e}"))?;
    if yaml.name != name {
        return Err(format!(
            "meta/snap.yaml names the snap {:?} but the file name says {name:?}",
            yaml.name
        ));
    }
    let (digest, size) =
        snapshelf_snap::digest::digest_file(path).map_err(|e| format!("cannot hash: {e}"))?;
    Ok(RevisionRecord {
        file_name: file_name.to_string(),
        name: name.to_string(),
        revision,
        size,
        sha3_384: digest.to_hex(),
        version: yaml.version.clone(),
        title: yaml.title.clone().unwrap_or_default(),
        summary: yaml.summary.clone().unwrap_or_default(),
        description: yaml.description.clone().unwrap_or_default(),
        confinement: yaml.confinement.to_string(),
        snap_type: yaml.snap_type.to_string(),
        base: yaml.base.clone(),
        architectures: if yaml.architectures.is_empty() {
            vec!["all".into()]
        } else {
            yaml.architectures.clone()
        },
        license: yaml.license.clone(),
        epoch: (&yaml.epoch).into(),
        apps: yaml.apps.keys().cloned().collect(),
        created_at: rfc3339(mtime_ns),
        snap_yaml: text,
    })
}

/// Scan `<dir>/snaps`, using and refreshing `<dir>/.cache/index.json`.
pub fn scan(dir: &Path) -> std::io::Result<Scan> {
    let snaps_dir = dir.join("snaps");
    let mut cache: HashMap<String, CacheEntry> = std::fs::read(cache_path(dir))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<CacheFile>(&bytes).ok())
        .filter(|c| c.version == CACHE_VERSION)
        .map(|c| c.entries)
        .unwrap_or_default();

    let mut todo = Vec::new();
    let mut fresh: HashMap<String, CacheEntry> = HashMap::new();
    let entries = match std::fs::read_dir(&snaps_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Scan::default());
        }
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let Ok(file_name) = entry.file_name().into_string() else {
            continue;
        };
        if !file_name.ends_with(".snap") {
            continue;
        }
        // DirEntry::metadata does not follow symlinks: a link in the catalog could point anywhere.
        let meta = entry.metadata()?;
        if !meta.file_type().is_file() {
            fresh.insert(
                file_name,
                CacheEntry {
                    size: 0,
                    mtime_ns: 0,
                    result: Err("not a regular file".into()),
                },
            );
            continue;
        }
        let (size, mtime) = (meta.len(), mtime_ns(&meta));
        match cache.remove(&file_name) {
            Some(hit) if hit.size == size && hit.mtime_ns == mtime => {
                fresh.insert(file_name, hit);
            }
            _ => todo.push((file_name, size, mtime)),
        }
    }

    let read = todo.len();
    // Hashing dominates a cold scan; spread it over the cores.
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(todo.len().max(1));
    let chunk = todo.len().div_ceil(workers.max(1)).max(1);
    let results: Vec<(String, CacheEntry)> = std::thread::scope(|s| {
        let handles: Vec<_> = todo
            .chunks(chunk)
            .map(|part| {
                let snaps_dir = &snaps_dir;
                s.spawn(move || {
                    part.iter()
                        .map(|(file_name, size, mtime)| {
                            let result =
                                read_revision(&snaps_dir.join(file_name), file_name, *mtime);
                            (
                                file_name.clone(),
                                CacheEntry {
                                    size: *size,
                                    mtime_ns: *mtime,
                                    result,
                                },
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    fresh.extend(results);

    if read > 0 || !cache.is_empty() {
        write_cache(dir, &fresh)?;
    }

    let mut scan = Scan {
        read,
        ..Scan::default()
    };
    for (file_name, entry) in fresh {
        match entry.result {
            Ok(record) => scan.revisions.push(record),
            Err(reason) => scan.skipped.push((file_name, reason)),
        }
    }
    scan.revisions
        .sort_by(|a, b| (&a.name, a.revision).cmp(&(&b.name, b.revision)));
    scan.skipped.sort();
    Ok(scan)
}

fn write_cache(dir: &Path, entries: &HashMap<String, CacheEntry>) -> std::io::Result<()> {
    #[derive(Serialize)]
    struct CacheFileRef<'a> {
        version: u32,
        entries: &'a HashMap<String, CacheEntry>,
    }
    let path = cache_path(dir);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let bytes = serde_json::to_vec(&CacheFileRef {
        version: CACHE_VERSION,
        entries,
    })
    .map_err(std::io::Error::other)?;
    // A name of our own: two stores may share a catalog directory.
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(parse_file_name("hello_1.snap"), Some(("hello", 1)));
        assert_eq!(parse_file_name("my-app_42.snap"), Some(("my-app", 42)));
        assert_eq!(parse_file_name("hello_0.snap"), None);
        assert_eq!(parse_file_name("hello_01.snap"), None);
        assert_eq!(parse_file_name("hello_x1.snap"), None);
        assert_eq!(parse_file_name("hello.snap"), None);
        assert_eq!(parse_file_name("hello_1.snap.partial"), None);
    }
}
