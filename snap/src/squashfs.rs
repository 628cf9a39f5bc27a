//! `.snap` files: squashfs images, read without mounting (backhand) and packed from a directory.
//!
//! Nothing a snap contains is trusted. Reading checks the superblock against the file before
//! backhand allocates anything, runs backhand on a worker thread with a time limit and a panic
//! guard (a hostile image is an error, never a crash or a hang), reads only regular files from
//! `meta/`, never follows symlinks, and caps every size.

use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use backhand::compression::Compressor;
use backhand::{FilesystemCompressor, FilesystemReader, FilesystemWriter, InnerNode, NodeHeader};

pub const MAX_SNAP_YAML: u64 = 1024 * 1024;
pub const MAX_ICON: u64 = 300_000;
pub const MAX_DESKTOP_FILE: u64 = 64 * 1024;
pub const MAX_DESKTOP_FILES: usize = 32;
pub const MAX_THEME_ICONS: usize = 128;
/// More inodes than any real snap; bounds what backhand is asked to build.
pub const MAX_INODES: u32 = 1_000_000;
/// A whole-image operation that takes longer than this is treated as a hostile image.
const PARSE_TIME_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum SnapFileError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("not a valid squashfs image: {0}")]
    Corrupt(String),
    #[error("{path}: {message}")]
    Content { path: String, message: String },
    #[error("{0} is missing from the snap")]
    Missing(String),
}

fn corrupt(m: impl Into<String>) -> SnapFileError {
    SnapFileError::Corrupt(m.into())
}

fn content(path: &str, m: impl Into<String>) -> SnapFileError {
    SnapFileError::Content {
        path: path.to_string(),
        message: m.into(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File { size: u64 },
    Dir,
    Symlink { target: String },
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
}

/// One entry of the file list. `path` is relative, without a leading `/` (the root is "").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub kind: EntryKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icon {
    pub file_name: String,
    pub data: Vec<u8>,
}

/// A `.snap` file, its file list and its `meta/` contents read once at open.
#[derive(Debug, Clone)]
pub struct SnapFile {
    path: PathBuf,
    entries: Vec<Entry>,
    meta: BTreeMap<String, Result<Vec<u8>, String>>,
}

/// The superblock fields we check before trusting backhand with the image.
fn check_superblock(path: &Path) -> Result<(), SnapFileError> {
    let mut f = std::fs::File::open(path).map_err(|source| SnapFileError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let len = f
        .metadata()
        .map_err(|source| SnapFileError::Io {
            path: path.display().to_string(),
            source,
        })?
        .len();
    let mut sb = [0u8; 96];
    f.read_exact(&mut sb)
        .map_err(|_| corrupt("the file is shorter than a squashfs superblock"))?;
    if &sb[0..4] != b"hsqs" {
        return Err(corrupt("wrong magic (not a little-endian squashfs image)"));
    }
    let u16_at = |o: usize| u16::from_le_bytes([sb[o], sb[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(sb[o..o + 4].try_into().expect("4 bytes"));
    let u64_at = |o: usize| u64::from_le_bytes(sb[o..o + 8].try_into().expect("8 bytes"));
    let inodes = u32_at(4);
    let block_size = u32_at(12);
    let block_log = u16_at(22);
    let (major, minor) = (u16_at(28), u16_at(30));
    let bytes_used = u64_at(40);
    if (major, minor) != (4, 0) {
        return Err(corrupt(format!(
            "unsupported squashfs version {major}.{minor}"
        )));
    }
    if !(4096..=1 << 20).contains(&block_size)
        || !block_size.is_power_of_two()
        // Compared without shifting: a hostile block_log of 32 or more must not overflow a shift.
        || u32::from(block_log) != block_size.trailing_zeros()
    {
        return Err(corrupt(format!("invalid block size {block_size}")));
    }
    if inodes == 0 || inodes > MAX_INODES {
        return Err(corrupt(format!("implausible inode count {inodes}")));
    }
    if bytes_used > len {
        return Err(corrupt(format!(
            "the image claims {bytes_used} bytes but the file has {len} (truncated?)"
        )));
    }
    for (what, off) in [
        ("inode table", 64),
        ("directory table", 72),
        ("fragment table", 80),
        ("export table", 88),
        ("id table", 48),
    ] {
        let at = u64_at(off);
        if at != u64::MAX && at > bytes_used {
            return Err(corrupt(format!(
                "the {what} lies beyond the end of the image"
            )));
        }
    }
    Ok(())
}

/// Run `f` on a worker thread: a panic or an overrun becomes an error, the caller never hangs.
fn guarded<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> Result<T, SnapFileError> + Send + 'static,
) -> Result<T, SnapFileError> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("squashfs".into())
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        })
        .map_err(|e| corrupt(format!("cannot start a reader thread: {e}")))?;
    match rx.recv_timeout(PARSE_TIME_LIMIT) {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => Err(corrupt(format!("{what}: the image is malformed"))),
        Err(_) => Err(corrupt(format!(
            "{what}: gave up on an image that takes too long to read"
        ))),
    }
}

fn open_reader(path: &Path) -> Result<FilesystemReader<'static>, SnapFileError> {
    let f = std::fs::File::open(path).map_err(|source| SnapFileError::Io {
        path: path.display().to_string(),
        source,
    })?;
    FilesystemReader::from_reader(BufReader::new(f)).map_err(|e| corrupt(e.to_string()))
}

/// A path inside the image as a clean relative path, or None if it is not one.
fn relative(p: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in p.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(s) => parts.push(s.to_str()?.to_string()),
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

fn read_capped(r: impl Read, cap: u64, path: &str) -> Result<Vec<u8>, SnapFileError> {
    let mut out = Vec::new();
    r.take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| content(path, format!("cannot read: {e}")))?;
    if out.len() as u64 > cap {
        return Err(content(path, format!("is larger than {cap} bytes")));
    }
    Ok(out)
}

/// Which files under `meta/` are read at open, and their caps.
fn meta_cap(path: &str) -> Option<u64> {
    if path == "meta/snap.yaml" {
        return Some(MAX_SNAP_YAML);
    }
    if let Some(name) = path.strip_prefix("meta/gui/") {
        if !name.contains('/') && name.ends_with(".desktop") {
            return Some(MAX_DESKTOP_FILE);
        }
        if name == "icon.svg" || name == "icon.png" {
            return Some(MAX_ICON);
        }
        if name.starts_with("icons/") && (name.ends_with(".png") || name.ends_with(".svg")) {
            return Some(MAX_ICON);
        }
    }
    None
}

impl SnapFile {
    pub fn open(path: &Path) -> Result<SnapFile, SnapFileError> {
        check_superblock(path)?;
        let owned = path.to_path_buf();
        guarded("reading the file list", move || {
            let fs = open_reader(&owned)?;
            let mut entries = Vec::new();
            let mut meta = BTreeMap::new();
            let mut desktop = 0usize;
            let mut themed = 0usize;
            for node in fs.files() {
                let rel = relative(&node.fullpath).ok_or_else(|| {
                    corrupt(format!("unsafe path {:?} in the image", node.fullpath))
                })?;
                let kind = match &node.inner {
                    InnerNode::File(f) => EntryKind::File {
                        size: f.file_len() as u64,
                    },
                    InnerNode::Dir(_) => EntryKind::Dir,
                    InnerNode::Symlink(s) => EntryKind::Symlink {
                        target: s.link.to_string_lossy().into_owned(),
                    },
                    InnerNode::CharacterDevice(_) => EntryKind::CharDevice,
                    InnerNode::BlockDevice(_) => EntryKind::BlockDevice,
                    InnerNode::NamedPipe => EntryKind::Fifo,
                    InnerNode::Socket => EntryKind::Socket,
                };
                if let Some(cap) = meta_cap(&rel) {
                    let is_desktop = rel.ends_with(".desktop");
                    let is_themed = rel.starts_with("meta/gui/icons/");
                    let allowed = (!is_desktop || desktop < MAX_DESKTOP_FILES)
                        && (!is_themed || themed < MAX_THEME_ICONS);
                    if allowed {
                        desktop += usize::from(is_desktop);
                        themed += usize::from(is_themed);
                        let value = match &node.inner {
                            InnerNode::File(f) => read_capped(fs.file(f).reader(), cap, &rel)
                                .map_err(|e| e.to_string()),
                            InnerNode::Symlink(_) => {
                                Err(format!("{rel}: is a symlink; only regular files are read"))
                            }
                            _ => Err(format!("{rel}: is not a regular file")),
                        };
                        meta.insert(rel.clone(), value);
                    }
                }
                entries.push(Entry {
                    path: rel,
                    kind,
                    mode: u32::from(node.header.permissions),
                    uid: node.header.uid,
                    gid: node.header.gid,
                });
            }
            Ok(SnapFile {
                path: owned,
                entries,
                meta,
            })
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry of the image, the root included (path "").
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn meta_file(&self, rel: &str) -> Result<Option<&[u8]>, SnapFileError> {
        match self.meta.get(rel) {
            None => Ok(None),
            Some(Ok(bytes)) => Ok(Some(bytes)),
            Some(Err(m)) => Err(SnapFileError::Content {
                path: rel.to_string(),
                message: m.trim_start_matches(&format!("{rel}: ")).to_string(),
            }),
        }
    }

    /// `meta/snap.yaml` as text: a regular file of at most 1 MiB, UTF-8.
    pub fn snap_yaml_text(&self) -> Result<String, SnapFileError> {
        let bytes = self
            .meta_file("meta/snap.yaml")?
            .ok_or_else(|| SnapFileError::Missing("meta/snap.yaml".into()))?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| content("meta/snap.yaml", "is not valid UTF-8"))
    }

    /// Every file read from `meta/gui/` (path below it): its contents, or why it was not read (not
    /// a regular file, too large). For exporting what is good and skipping the rest.
    pub fn gui_files(&self) -> Vec<(String, Result<&[u8], String>)> {
        self.meta
            .iter()
            .filter_map(|(rel, v)| {
                let p = rel.strip_prefix("meta/gui/")?;
                Some((
                    p.to_string(),
                    v.as_ref().map(|b| b.as_slice()).map_err(Clone::clone),
                ))
            })
            .collect()
    }

    /// `meta/gui/*.desktop`: (file name, contents), regular files only.
    pub fn desktop_files(&self) -> Result<Vec<(String, Vec<u8>)>, SnapFileError> {
        let mut out = Vec::new();
        for (rel, v) in &self.meta {
            if let Some(name) = rel
                .strip_prefix("meta/gui/")
                .filter(|n| n.ends_with(".desktop"))
            {
                match v {
                    Ok(b) => out.push((name.to_string(), b.clone())),
                    Err(m) => return Err(content(rel, m.clone())),
                }
            }
        }
        Ok(out)
    }

    /// The snap's icon: `meta/gui/icon.svg`, else `icon.png`.
    pub fn icon(&self) -> Result<Option<Icon>, SnapFileError> {
        for name in ["icon.svg", "icon.png"] {
            if let Some(data) = self.meta_file(&format!("meta/gui/{name}"))? {
                return Ok(Some(Icon {
                    file_name: name.to_string(),
                    data: data.to_vec(),
                }));
            }
        }
        Ok(None)
    }

    /// Theme icons under `meta/gui/icons/` (path below `meta/gui/icons/`, contents).
    pub fn theme_icons(&self) -> Result<Vec<(String, Vec<u8>)>, SnapFileError> {
        let mut out = Vec::new();
        for (rel, v) in &self.meta {
            if let Some(p) = rel.strip_prefix("meta/gui/icons/") {
                match v {
                    Ok(b) => out.push((p.to_string(), b.clone())),
                    Err(m) => return Err(content(rel, m.clone())),
                }
            }
        }
        Ok(out)
    }

    /// Any regular file of the image, at most `cap` bytes.
    pub fn read_regular_file(&self, rel: &str, cap: u64) -> Result<Vec<u8>, SnapFileError> {
        let entry = self
            .entries
            .iter()
            .find(|e| e.path == rel)
            .ok_or_else(|| SnapFileError::Missing(rel.to_string()))?;
        if !matches!(entry.kind, EntryKind::File { .. }) {
            return Err(content(rel, "is not a regular file"));
        }
        let path = self.path.clone();
        let want = rel.to_string();
        guarded("reading a file", move || {
            let fs = open_reader(&path)?;
            for node in fs.files() {
                if relative(&node.fullpath).as_deref() == Some(want.as_str()) {
                    if let InnerNode::File(f) = &node.inner {
                        return read_capped(fs.file(f).reader(), cap, &want);
                    }
                }
            }
            Err(SnapFileError::Missing(want))
        })
    }

    /// Extract the whole image under `dest` (which must not exist). Paths are rebuilt component by
    /// component under `dest`; symlinks are created as symlinks and never followed; device nodes are
    /// skipped; setuid and setgid bits are dropped.
    pub fn extract_to(&self, dest: &Path) -> Result<(), SnapFileError> {
        let io = |p: &Path| {
            let p = p.display().to_string();
            move |source| SnapFileError::Io { path: p, source }
        };
        std::fs::create_dir(dest).map_err(io(dest))?;
        let path = self.path.clone();
        let dest_owned = dest.to_path_buf();
        guarded("extracting", move || {
            let fs = open_reader(&path)?;
            let mut dirs = Vec::new();
            for node in fs.files() {
                let rel = relative(&node.fullpath)
                    .ok_or_else(|| corrupt(format!("unsafe path {:?}", node.fullpath)))?;
                let target = if rel.is_empty() {
                    dest_owned.clone()
                } else {
                    dest_owned.join(&rel)
                };
                // Parents were made by earlier nodes (backhand lists parents first); refuse to write
                // through anything that is not a real directory.
                if let Some(parent) = target.parent() {
                    let meta = std::fs::symlink_metadata(parent).map_err(io(parent))?;
                    if !meta.is_dir() {
                        return Err(corrupt(format!("{rel}: its parent is not a directory")));
                    }
                }
                let mode = u32::from(node.header.permissions) & 0o1777;
                match &node.inner {
                    InnerNode::Dir(_) => {
                        if !rel.is_empty() {
                            std::fs::create_dir(&target).map_err(io(&target))?;
                        }
                        dirs.push((target, mode));
                    }
                    InnerNode::File(f) => {
                        let mut out = std::fs::OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .open(&target)
                            .map_err(io(&target))?;
                        std::io::copy(&mut fs.file(f).reader(), &mut out)
                            .map_err(|e| corrupt(format!("{rel}: {e}")))?;
                        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
                            .map_err(io(&target))?;
                    }
                    InnerNode::Symlink(s) => {
                        std::os::unix::fs::symlink(&s.link, &target).map_err(io(&target))?;
                    }
                    _ => {
                        tracing::warn!(path = %rel, "skipping a device node, fifo or socket in a snap")
                    }
                }
            }
            // Directory modes last, deepest first, so read-only directories can still be filled.
            for (d, mode) in dirs.iter().rev() {
                std::fs::set_permissions(d, std::fs::Permissions::from_mode(*mode))
                    .map_err(io(d))?;
            }
            Ok(())
        })
    }
}

/// How [`pack`] writes.
#[derive(Debug, Clone, Default)]
pub struct PackOptions {
    /// Every inode's mtime and the image's: a fixed value gives reproducible snaps.
    pub mtime: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackStats {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub bytes: u64,
}

/// Pack `src` into a `.snap` at `out` (via `out.tmp`, then rename): xz, 128 KiB blocks, every
/// inode owned by root, no xattrs, symlinks stored as symlinks, entries in sorted order.
pub fn pack(src: &Path, out: &Path, opts: &PackOptions) -> Result<PackStats, SnapFileError> {
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| SnapFileError::Io { path: p, source }
    };
    let mut w = FilesystemWriter::default();
    w.set_time(opts.mtime);
    w.set_root_mode(0o755);
    w.set_root_uid(0);
    w.set_root_gid(0);
    w.set_only_root_id();
    w.set_compressor(
        FilesystemCompressor::new(Compressor::Xz, None).map_err(|e| corrupt(e.to_string()))?,
    );
    let mut stats = PackStats {
        files: 0,
        dirs: 0,
        symlinks: 0,
        bytes: 0,
    };
    let root_meta = std::fs::symlink_metadata(src).map_err(io(src))?;
    if !root_meta.is_dir() {
        return Err(content(&src.display().to_string(), "is not a directory"));
    }
    w.set_root_mode((root_meta.mode() & 0o7777) as u16);
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = src.join(&rel);
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .map_err(io(&dir))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io(&dir))?;
        names.sort();
        let mut subdirs = Vec::new();
        for name in names {
            let rel_path = rel.join(&name);
            let full = src.join(&rel_path);
            let meta = std::fs::symlink_metadata(&full).map_err(io(&full))?;
            let header = NodeHeader::new((meta.mode() & 0o7777) as u16, 0, 0, opts.mtime);
            let target = Path::new("/").join(&rel_path);
            let ft = meta.file_type();
            let r = if ft.is_symlink() {
                stats.symlinks += 1;
                let link = std::fs::read_link(&full).map_err(io(&full))?;
                w.push_symlink(link, &target, header)
            } else if ft.is_dir() {
                stats.dirs += 1;
                subdirs.push(rel_path.clone());
                w.push_dir(&target, header)
            } else if ft.is_file() {
                stats.files += 1;
                stats.bytes += meta.len();
                w.push_file_from_path(full.clone(), &target, header)
            } else {
                tracing::warn!(path = %full.display(), "not packing a device node, fifo or socket");
                continue;
            };
            r.map_err(|e| corrupt(format!("{}: {e}", rel_path.display())))?;
        }
        // Depth-first in sorted order: push the subdirectories reversed onto the stack.
        stack.extend(subdirs.into_iter().rev());
    }
    let tmp = out.with_extension("snap.tmp");
    let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    let mut bw = std::io::BufWriter::with_capacity(1 << 20, file);
    let result = w
        .write(&mut bw)
        .map_err(|e| corrupt(format!("cannot write the image: {e}")));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let file = bw.into_inner().map_err(|e| SnapFileError::Io {
        path: tmp.display().to_string(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, out).map_err(io(out))?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn tree(dir: &Path) {
        std::fs::create_dir_all(dir.join("meta/gui")).unwrap();
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::create_dir_all(dir.join("a/b/c")).unwrap();
        std::fs::write(dir.join("meta/snap.yaml"), "name: packed\nversion: 1.0\n").unwrap();
        std::fs::write(
            dir.join("meta/gui/app.desktop"),
            "[Desktop Entry]\nName=App\n",
        )
        .unwrap();
        std::fs::write(dir.join("meta/gui/icon.png"), b"\x89PNG fake").unwrap();
        std::fs::write(dir.join("bin/run"), "#!/bin/sh\necho hi\n").unwrap();
        std::fs::set_permissions(dir.join("bin/run"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::write(dir.join("a/b/c/empty"), "").unwrap();
        std::fs::write(dir.join("a/secret"), "s").unwrap();
        std::fs::set_permissions(dir.join("a/secret"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        let big: Vec<u8> = (0..1_048_576u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        std::fs::write(dir.join("a/big"), &big).unwrap();
        std::os::unix::fs::symlink("../bin/run", dir.join("a/link")).unwrap();
    }

    fn packed() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        tree(&src);
        let out = t.path().join("packed.snap");
        pack(&src, &out, &PackOptions::default()).unwrap();
        (t, out)
    }

    /// (path, kind, mode, content) of every entry of a tree on disk.
    fn listing(dir: &Path) -> Vec<(String, String, u32, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                let m = std::fs::symlink_metadata(&p).unwrap();
                if m.file_type().is_symlink() {
                    out.push((
                        rel,
                        "link".into(),
                        0,
                        std::fs::read_link(&p)
                            .unwrap()
                            .display()
                            .to_string()
                            .into_bytes(),
                    ));
                } else if m.is_dir() {
                    out.push((rel, "dir".into(), m.mode() & 0o7777, vec![]));
                    stack.push(p);
                } else {
                    out.push((
                        rel,
                        "file".into(),
                        m.mode() & 0o7777,
                        std::fs::read(&p).unwrap(),
                    ));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn packs_and_reads_back() {
        let (t, out) = packed();
        let snap = SnapFile::open(&out).unwrap();
        assert_eq!(
            snap.snap_yaml_text().unwrap(),
            "name: packed\nversion: 1.0\n"
        );
        assert_eq!(snap.desktop_files().unwrap()[0].0, "app.desktop");
        assert_eq!(snap.icon().unwrap().unwrap().file_name, "icon.png");
        let link = snap.entries().iter().find(|e| e.path == "a/link").unwrap();
        assert_eq!(
            link.kind,
            EntryKind::Symlink {
                target: "../bin/run".into()
            }
        );
        assert!(snap.entries().iter().all(|e| e.uid == 0 && e.gid == 0));
        let run = snap.entries().iter().find(|e| e.path == "bin/run").unwrap();
        assert_eq!(run.mode, 0o755);
        assert_eq!(
            snap.read_regular_file("a/big", 2 << 20).unwrap(),
            std::fs::read(t.path().join("src/a/big")).unwrap()
        );
        assert!(snap.read_regular_file("a/big", 1000).is_err());
        let dest = t.path().join("extracted");
        snap.extract_to(&dest).unwrap();
        assert_eq!(listing(&dest), listing(&t.path().join("src")));
    }

    #[test]
    fn packing_is_reproducible() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        tree(&src);
        pack(&src, &t.path().join("1.snap"), &PackOptions::default()).unwrap();
        pack(&src, &t.path().join("2.snap"), &PackOptions::default()).unwrap();
        assert_eq!(
            std::fs::read(t.path().join("1.snap")).unwrap(),
            std::fs::read(t.path().join("2.snap")).unwrap()
        );
    }

    fn require_root() -> bool {
        if unsafe { libc::geteuid() } == 0 {
            return true;
        }
        assert!(
            std::env::var("CI").is_err(),
            "this test needs root (loop mounts) and CI=true is set"
        );
        eprintln!("skipping: needs root");
        false
    }

    #[test]
    fn the_kernel_and_unsquashfs_read_what_we_pack() {
        if !require_root() {
            return;
        }
        let (t, out) = packed();
        let src = t.path().join("src");
        let mnt = t.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let st = Command::new("mount")
            .args(["-t", "squashfs", "-o", "loop,ro"])
            .arg(&out)
            .arg(&mnt)
            .status()
            .unwrap();
        assert!(st.success(), "mount failed");
        let mounted = listing(&mnt);
        let _ = Command::new("umount").arg(&mnt).status();
        assert_eq!(mounted, listing(&src));
        let un = t.path().join("un");
        let st = Command::new("unsquashfs")
            .arg("-q")
            .arg("-n")
            .arg("-d")
            .arg(&un)
            .arg(&out)
            .status()
            .expect("unsquashfs (squashfs-tools) is needed");
        assert!(st.success());
        assert_eq!(listing(&un), listing(&src));
    }

    #[test]
    fn hostile_images_are_errors() {
        let (t, out) = packed();
        let good = std::fs::read(&out).unwrap();
        let bad = t.path().join("bad.snap");
        let started = std::time::Instant::now();
        // Truncations at many lengths, and single-byte flips across the image.
        for len in (0..good.len()).step_by(good.len() / 40 + 1) {
            std::fs::write(&bad, &good[..len]).unwrap();
            let _ = SnapFile::open(&bad).and_then(|s| s.snap_yaml_text());
        }
        for pos in (0..good.len()).step_by(good.len() / 150 + 1) {
            let mut b = good.clone();
            b[pos] ^= 0x5a;
            std::fs::write(&bad, &b).unwrap();
            if let Ok(s) = SnapFile::open(&bad) {
                let _ = s.snap_yaml_text();
                let _ = s.read_regular_file("a/big", 2 << 20);
            }
        }
        assert!(started.elapsed() < Duration::from_secs(120));
        std::fs::write(&bad, b"hsqs but nothing else").unwrap();
        assert!(matches!(
            SnapFile::open(&bad),
            Err(SnapFileError::Corrupt(_))
        ));
        std::fs::write(&bad, b"").unwrap();
        assert!(SnapFile::open(&bad).is_err());
    }

    #[test]
    fn symlinked_and_oversized_meta_files_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("meta/gui")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("meta/snap.yaml")).unwrap();
        std::fs::write(
            src.join("meta/gui/icon.png"),
            vec![0u8; MAX_ICON as usize + 1],
        )
        .unwrap();
        let out = t.path().join("x.snap");
        pack(&src, &out, &PackOptions::default()).unwrap();
        let snap = SnapFile::open(&out).unwrap();
        assert!(snap
            .snap_yaml_text()
            .unwrap_err()
            .to_string()
            .contains("symlink"));
        assert!(snap.icon().unwrap_err().to_string().contains("larger than"));
        let dest = t.path().join("x");
        snap.extract_to(&dest).unwrap();
        assert!(std::fs::symlink_metadata(dest.join("meta/snap.yaml"))
            .unwrap()
            .file_type()
            .is_symlink());
    }
}
