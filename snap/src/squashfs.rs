//! `.snap` files: squashfs images, read without mounting (backhand) and packed from a directory.
//!
//! Nothing a snap contains is trusted. Reading checks the superblock against the file before
//! backhand allocates anything, walks the directory table without recursion to cap its depth,
//! entry count and declared size before backhand builds its (recursive) tree, runs backhand on a
//! worker thread with a time limit and a panic guard (a hostile image is an error, never a crash
//! or a hang), stops that thread's work when the time is up, reads only regular files from
//! `meta/`, never follows symlinks, and caps every size.

use std::collections::BTreeMap;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use backhand::compression::Compressor;
use backhand::v4::inode::InodeInner;
use backhand::{
    FilesystemCompressor, FilesystemReader, FilesystemWriter, InnerNode, NodeHeader, Squashfs,
};

pub const MAX_SNAP_YAML: u64 = 1024 * 1024;
pub const MAX_ICON: u64 = 300_000;
pub const MAX_DESKTOP_FILE: u64 = 64 * 1024;
pub const MAX_DESKTOP_FILES: usize = 32;
pub const MAX_THEME_ICONS: usize = 128;
/// More inodes than any real snap; bounds what backhand is asked to build.
pub const MAX_INODES: u32 = 1_000_000;
/// Deepest directory nesting read. backhand builds its tree recursively (one stack frame per
/// level: about 8000 levels overflow a debug build's 2 MiB thread stack); no path deeper than
/// this can even be opened by name on Linux (PATH_MAX 4096 with one-letter names).
pub const MAX_DEPTH: usize = 1024;
/// Directory entries (hard links counted each time): as many as the inode cap.
pub const MAX_ENTRIES: usize = MAX_INODES as usize;
/// The sum of the file sizes the image declares (sparse files count in full: that is what an
/// extraction would write). Far above any real snap.
pub const MAX_TOTAL_SIZE: u64 = 32 << 30;
/// A whole-image operation that takes longer than this is treated as a hostile image.
const PARSE_TIME_LIMIT: Duration = Duration::from_secs(30);
/// The most metadata blocks (at most 8 KiB each once decompressed) the inode table or the
/// directory table may have. backhand decompresses both whole into memory before anything can be
/// checked, and a block of zeros compresses a hundredfold: this bounds each to 64 MiB, far above
/// a real snap's (a few MiB for a hundred thousand files).
const MAX_METADATA_BLOCKS: u32 = 8192;
/// The reader thread's stack: room for backhand's recursion to MAX_DEPTH with a wide margin.
const READER_STACK: usize = 16 << 20;

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
    compression: Compression,
    entries: Vec<Entry>,
    meta: BTreeMap<String, Result<Vec<u8>, String>>,
}

/// How an image's blocks are compressed. snapd packs xz (its default) or lzo (firefox, chromium);
/// the kernel mounts the others too, so everything but the legacy lzma is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Lzo,
    Xz,
    Lz4,
    Zstd,
}

impl Compression {
    /// The superblock's compression id.
    fn from_id(id: u16) -> Result<Compression, SnapFileError> {
        Ok(match id {
            1 => Compression::Gzip,
            3 => Compression::Lzo,
            4 => Compression::Xz,
            5 => Compression::Lz4,
            6 => Compression::Zstd,
            2 => {
                return Err(corrupt(
                    "the image uses the legacy lzma compression, which neither snapd nor the \
                     kernel reads (snaps use xz or lzo)",
                ))
            }
            other => return Err(corrupt(format!("unknown compression id {other}"))),
        })
    }

    /// The name mksquashfs's `-comp` takes.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Lzo => "lzo",
            Compression::Xz => "xz",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The superblock fields we check before trusting backhand with the image.
fn check_superblock(path: &Path) -> Result<Compression, SnapFileError> {
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
    let compression = Compression::from_id(u16_at(20))?;
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
    let (inode_table, dir_table) = (u64_at(64), u64_at(72));
    if inode_table > dir_table {
        return Err(corrupt("the inode table starts after the directory table"));
    }
    count_metadata_blocks(&mut f, "inode table", inode_table, dir_table)?;
    // The directory table ends where the next table's blocks begin; the lookup tables of the
    // fragment, export and id tables come after their blocks, so the nearest one bounds it.
    let dir_end = [u64_at(80), u64_at(88), u64_at(48), bytes_used]
        .into_iter()
        .filter(|&at| at != u64::MAX && at >= dir_table)
        .min()
        .unwrap_or(bytes_used);
    count_metadata_blocks(&mut f, "directory table", dir_table, dir_end)?;
    Ok(compression)
}

/// Walk the metadata block headers from `start` to `end` (two bytes each, no decompression) and
/// refuse a table of more than [`MAX_METADATA_BLOCKS`] blocks.
fn count_metadata_blocks(
    f: &mut (impl Read + Seek),
    what: &str,
    start: u64,
    end: u64,
) -> Result<(), SnapFileError> {
    let (mut at, mut blocks) = (start, 0u32);
    while at < end {
        blocks += 1;
        if blocks > MAX_METADATA_BLOCKS {
            return Err(corrupt(format!(
                "the {what} has more than {MAX_METADATA_BLOCKS} metadata blocks"
            )));
        }
        let mut header = [0u8; 2];
        f.seek(SeekFrom::Start(at))
            .and_then(|_| f.read_exact(&mut header))
            .map_err(|_| corrupt(format!("the {what} is truncated at byte {at}")))?;
        let len = u16::from_le_bytes(header) & 0x7fff;
        if len > 8192 {
            return Err(corrupt(format!(
                "the {what} has a metadata block of {len} bytes at byte {at}"
            )));
        }
        at += 2 + u64::from(len);
    }
    Ok(())
}

/// Set when the caller of [`guarded`] has given up: the worker stops at its next check instead
/// of running on unobserved.
#[derive(Clone, Default)]
struct Cancel(Arc<AtomicBool>);

impl Cancel {
    fn check(&self) -> Result<(), SnapFileError> {
        if self.0.load(Ordering::Relaxed) {
            return Err(corrupt(
                "stopped: the time limit for reading the image ran out",
            ));
        }
        Ok(())
    }
}

/// A reader that fails once its [`Cancel`] is set, so a long copy stops with the caller.
struct CancelRead<R> {
    inner: R,
    cancel: Cancel,
}

impl<R: Read> Read for CancelRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cancel.0.load(Ordering::Relaxed) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the time limit for reading the image ran out",
            ));
        }
        self.inner.read(buf)
    }
}

/// Run `f` on a worker thread: a panic or an overrun becomes an error, the caller never hangs,
/// and on an overrun `f` is told to stop (it checks between entries and while copying; backhand's
/// own parse is bounded by the caps [`check_tree`] enforces before it).
fn guarded<T: Send + 'static>(
    what: &str,
    f: impl FnOnce(&Cancel) -> Result<T, SnapFileError> + Send + 'static,
) -> Result<T, SnapFileError> {
    guarded_with_limit(what, PARSE_TIME_LIMIT, f)
}

fn guarded_with_limit<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce(&Cancel) -> Result<T, SnapFileError> + Send + 'static,
) -> Result<T, SnapFileError> {
    let (tx, rx) = mpsc::channel();
    let cancel = Cancel::default();
    let worker_cancel = cancel.clone();
    std::thread::Builder::new()
        .name("squashfs".into())
        .stack_size(READER_STACK)
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&worker_cancel)));
            let _ = tx.send(r);
        })
        .map_err(|e| corrupt(format!("cannot start a reader thread: {e}")))?;
    match rx.recv_timeout(limit) {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => Err(corrupt(format!("{what}: the image is malformed"))),
        Err(_) => {
            cancel.0.store(true, Ordering::Relaxed);
            Err(corrupt(format!(
                "{what}: gave up on an image that takes too long to read"
            )))
        }
    }
}

/// Where a directory inode's listing is in the directory table, as backhand reads it.
fn dir_location(inode: &InodeInner) -> Option<(u64, u32, usize)> {
    match inode {
        InodeInner::BasicDirectory(d) => Some((
            u64::from(d.block_index),
            u32::from(d.file_size),
            usize::from(d.block_offset),
        )),
        InodeInner::ExtendedDirectory(d) => Some((
            u64::from(d.block_index),
            d.file_size,
            usize::from(d.block_offset),
        )),
        _ => None,
    }
}

/// One directory's entries as (inode number, basic inode type), read the way backhand reads
/// them: headers of at most 256 entries, until one does not parse. Any entry backhand would
/// follow is listed here, so the caps hold for what it builds.
fn dir_entries(sq: &Squashfs, dir: &InodeInner) -> Result<Vec<(u32, u16)>, SnapFileError> {
    let bad = || corrupt("a directory listing lies outside the directory table");
    let (block_index, file_size, block_offset) =
        dir_location(dir).ok_or_else(|| corrupt("a directory entry is not a directory inode"))?;
    if file_size < 4 {
        return Ok(Vec::new());
    }
    let offset = *sq.dir_blocks.0.get(&block_index).ok_or_else(bad)?;
    let bytes = usize::try_from(offset)
        .ok()
        .and_then(|o| sq.dir_blocks.1.get(o..))
        .and_then(|b| b.get(block_offset..))
        .and_then(|b| b.get(..file_size as usize - 3))
        .ok_or_else(bad)?;
    let u16_at = |b: &[u8], o: usize| b.get(o..o + 2).map(|x| u16::from_le_bytes([x[0], x[1]]));
    let u32_at = |b: &[u8], o: usize| {
        b.get(o..o + 4)
            .map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
    };
    let mut out = Vec::new();
    let mut at = 0usize;
    'headers: while let (Some(count), Some(inode_num)) = (u32_at(bytes, at), u32_at(bytes, at + 8))
    {
        if count > 256 {
            break;
        }
        let mut pos = at + 12;
        let mut these = Vec::new();
        for _ in 0..=count {
            let (Some(inode_offset), Some(kind), Some(name_size)) = (
                u16_at(bytes, pos + 2),
                u16_at(bytes, pos + 4),
                u16_at(bytes, pos + 6),
            ) else {
                break 'headers;
            };
            let end = pos + 8 + usize::from(name_size) + 1;
            if end > bytes.len() || !(1..=14).contains(&kind) {
                break 'headers;
            }
            let number = i64::from(inode_num) + i64::from(inode_offset as i16);
            let number = u32::try_from(number)
                .map_err(|_| corrupt("a directory entry has an invalid inode number"))?;
            these.push((number, kind));
            pos = end;
        }
        out.append(&mut these);
        at = pos;
    }
    Ok(out)
}

/// Walk the directory tree without recursion and refuse an image that is nested deeper than
/// [`MAX_DEPTH`], lists more than [`MAX_ENTRIES`] entries, declares more than
/// [`MAX_TOTAL_SIZE`] bytes of files, or lists a directory twice (a loop). Runs before
/// backhand's recursive tree building, which it makes safe.
fn check_tree(sq: &Squashfs, cancel: &Cancel) -> Result<(), SnapFileError> {
    const DIR: u16 = 1;
    const EXT_DIR: u16 = 8;
    const FILE: u16 = 2;
    const EXT_FILE: u16 = 9;
    let mut seen = std::collections::HashSet::new();
    seen.insert(sq.root_inode.header.inode_number);
    let mut stack = vec![(&sq.root_inode.inner, 0usize)];
    let (mut entries, mut total) = (0usize, 0u64);
    while let Some((dir, depth)) = stack.pop() {
        if seen.len() % 1024 == 0 {
            cancel.check()?;
        }
        for (number, kind) in dir_entries(sq, dir)? {
            entries += 1;
            if entries > MAX_ENTRIES {
                return Err(corrupt(format!(
                    "the image lists more than {MAX_ENTRIES} entries"
                )));
            }
            let inode = sq.inodes.get(&number).ok_or_else(|| {
                corrupt(format!("a directory entry names a missing inode {number}"))
            })?;
            match kind {
                DIR | EXT_DIR => {
                    if depth + 1 > MAX_DEPTH {
                        return Err(corrupt(format!(
                            "directories are nested deeper than {MAX_DEPTH} levels"
                        )));
                    }
                    if !seen.insert(number) {
                        return Err(corrupt(format!(
                            "directory inode {number} is listed twice (a loop or a hard-linked directory)"
                        )));
                    }
                    stack.push((&inode.inner, depth + 1));
                }
                FILE | EXT_FILE => {
                    let size = match &inode.inner {
                        InodeInner::BasicFile(f) => u64::from(f.file_size),
                        InodeInner::ExtendedFile(f) => f.file_size,
                        _ => 0,
                    };
                    total = total.saturating_add(size);
                    if total > MAX_TOTAL_SIZE {
                        return Err(corrupt(format!(
                            "the image declares more than {MAX_TOTAL_SIZE} bytes of files"
                        )));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn open_reader(path: &Path, cancel: &Cancel) -> Result<FilesystemReader<'static>, SnapFileError> {
    let f = std::fs::File::open(path).map_err(|source| SnapFileError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let sq = Squashfs::from_reader(BufReader::new(f)).map_err(|e| corrupt(e.to_string()))?;
    cancel.check()?;
    check_tree(&sq, cancel)?;
    sq.into_filesystem_reader()
        .map_err(|e| corrupt(e.to_string()))
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

fn read_capped(
    r: impl Read,
    cap: u64,
    path: &str,
    cancel: &Cancel,
) -> Result<Vec<u8>, SnapFileError> {
    let mut out = Vec::new();
    let r = CancelRead {
        inner: r,
        cancel: cancel.clone(),
    };
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
        let compression = check_superblock(path)?;
        let owned = path.to_path_buf();
        guarded("reading the file list", move |cancel| {
            let fs = open_reader(&owned, cancel)?;
            let mut entries = Vec::new();
            let mut meta = BTreeMap::new();
            let mut desktop = 0usize;
            let mut themed = 0usize;
            for node in fs.files() {
                cancel.check()?;
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
                            InnerNode::File(f) => {
                                read_capped(fs.file(f).reader(), cap, &rel, cancel)
                                    .map_err(|e| e.to_string())
                            }
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
                compression,
                entries,
                meta,
            })
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How the image is compressed.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Every entry of the image, the root included (path "").
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Entries that would run with another identity: anything but a directory with the setuid or
    /// setgid bit (a setgid directory only passes its group to new files, and nothing can be
    /// created in a snap).
    pub fn setid_entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| e.kind != EntryKind::Dir && e.mode & 0o6000 != 0)
    }

    /// Refuse a snap carrying setuid or setgid files, naming the first one: a snap must not be
    /// able to hand a local user another identity (issue 17). Mounts are `nosuid` as well; this
    /// makes the refusal visible at install instead of silent.
    pub fn refuse_setid(&self) -> Result<(), SnapFileError> {
        let mut found = self.setid_entries();
        let Some(first) = found.next() else {
            return Ok(());
        };
        let what = match (first.mode & 0o4000 != 0, first.mode & 0o2000 != 0) {
            (true, true) => "setuid and setgid",
            (true, false) => "setuid",
            _ => "setgid",
        };
        let owner = if first.mode & 0o4000 != 0 && first.uid == 0 {
            " root"
        } else {
            ""
        };
        let more = found.count();
        let others = match more {
            0 => String::new(),
            n => format!(" ({n} other such entries too)"),
        };
        Err(content(
            &first.path,
            format!(
                "is {what}{owner} (mode {:04o}): snaps may not contain setuid or setgid files{others}",
                first.mode & 0o7777
            ),
        ))
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
        guarded("reading a file", move |cancel| {
            let fs = open_reader(&path, cancel)?;
            for node in fs.files() {
                if relative(&node.fullpath).as_deref() == Some(want.as_str()) {
                    if let InnerNode::File(f) = &node.inner {
                        return read_capped(fs.file(f).reader(), cap, &want, cancel);
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
        guarded("extracting", move |cancel| {
            let fs = open_reader(&path, cancel)?;
            let mut dirs = Vec::new();
            for node in fs.files() {
                cancel.check()?;
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
                        let mut from = CancelRead {
                            inner: fs.file(f).reader(),
                            cancel: cancel.clone(),
                        };
                        std::io::copy(&mut from, &mut out)
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

    /// Run mksquashfs as the project's docs pack snaps, plus `extra` arguments.
    fn mksquashfs(src: &Path, out: &Path, extra: &[&str]) {
        mksquashfs_with(src, out, "xz", extra)
    }

    /// Run mksquashfs as snapd's `snap pack` does, with compression `comp`.
    fn mksquashfs_with(src: &Path, out: &Path, comp: &str, extra: &[&str]) {
        let st = Command::new("mksquashfs")
            .arg(src)
            .arg(out)
            .args([
                "-noappend",
                "-comp",
                comp,
                "-no-fragments",
                "-all-root",
                "-no-xattrs",
                "-quiet",
                "-no-progress",
            ])
            .args(extra)
            .status()
            .expect("mksquashfs (squashfs-tools) is needed for this test");
        assert!(st.success(), "mksquashfs failed");
    }

    /// Every compression snapd packs (xz, lzo) or the kernel mounts (gzip, lz4, zstd), in the
    /// variants mksquashfs writes (compressor options, fragments): read by us as mksquashfs wrote
    /// it, metadata, a file's bytes and a whole extraction.
    #[test]
    fn every_compression_mksquashfs_writes_is_read() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        tree(&src);
        let big = std::fs::read(src.join("a/big")).unwrap();
        let cases: &[(&str, &[&str], Compression)] = &[
            ("xz", &[], Compression::Xz),
            (
                "xz",
                &["-Xbcj", "x86", "-Xdict-size", "50%"],
                Compression::Xz,
            ),
            ("lzo", &[], Compression::Lzo),
            ("lzo", &["-Xalgorithm", "lzo1x_1"], Compression::Lzo),
            ("lzo", &["-Xcompression-level", "1"], Compression::Lzo),
            ("gzip", &[], Compression::Gzip),
            ("lz4", &[], Compression::Lz4),
            ("lz4", &["-Xhc"], Compression::Lz4),
            ("zstd", &[], Compression::Zstd),
            ("zstd", &["-Xcompression-level", "19"], Compression::Zstd),
            // Fragments (mksquashfs's default, snapd turns them off) pack small files together.
            ("lzo", &["-always-use-fragments"], Compression::Lzo),
            ("xz", &["-always-use-fragments"], Compression::Xz),
        ];
        for (i, (comp, extra, want)) in cases.iter().enumerate() {
            let what = format!("-comp {comp} {}", extra.join(" "));
            let out = t.path().join(format!("{i}-{comp}.snap"));
            mksquashfs_with(&src, &out, comp, extra);
            let snap = SnapFile::open(&out).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(snap.compression(), *want, "{what}");
            assert_eq!(
                snap.snap_yaml_text().unwrap(),
                "name: packed\nversion: 1.0\n",
                "{what}"
            );
            assert_eq!(snap.desktop_files().unwrap()[0].0, "app.desktop", "{what}");
            assert_eq!(
                snap.icon().unwrap().unwrap().data,
                b"\x89PNG fake",
                "{what}"
            );
            assert_eq!(
                snap.read_regular_file("a/big", 2 << 20).unwrap(),
                big,
                "{what}"
            );
            let dest = t.path().join(format!("{i}-extracted"));
            snap.extract_to(&dest)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(listing(&dest), listing(&src), "{what}");
        }
    }

    /// Damaged images of every compression are errors, never a crash or a hang: each
    /// decompressor (rust-lzo, lz4_flex, libzstd, flate2, liblzma) gets truncated and flipped blocks.
    #[test]
    fn damaged_images_of_every_compression_are_errors() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        tree(&src);
        let bad = t.path().join("bad.snap");
        let started = std::time::Instant::now();
        for comp in ["lzo", "lz4", "zstd", "gzip", "xz"] {
            let out = t.path().join(format!("{comp}.snap"));
            mksquashfs_with(&src, &out, comp, &[]);
            let good = std::fs::read(&out).unwrap();
            for len in (0..good.len()).step_by(good.len() / 20 + 1) {
                std::fs::write(&bad, &good[..len]).unwrap();
                let _ = SnapFile::open(&bad).and_then(|s| s.snap_yaml_text());
            }
            let mut refused = 0;
            for pos in (96..good.len()).step_by(good.len() / 100 + 1) {
                let mut b = good.clone();
                b[pos] ^= 0x5a;
                std::fs::write(&bad, &b).unwrap();
                match SnapFile::open(&bad) {
                    Ok(s) => {
                        if s.read_regular_file("a/big", 2 << 20).is_err() {
                            refused += 1;
                        }
                    }
                    Err(_) => refused += 1,
                }
            }
            // Most flips land in a/big's compressed blocks: a decompressor that noticed none of
            // them would not be checking its input.
            assert!(refused > 0, "-comp {comp}: no damaged image was refused");
        }
        assert!(started.elapsed() < Duration::from_secs(180));
    }

    /// squashfs's legacy lzma (not xz) is refused up front, by name, as snapd's kernel would.
    #[test]
    fn legacy_lzma_is_refused_by_name() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        tree(&src);
        let out = t.path().join("lzma.snap");
        mksquashfs_with(&src, &out, "lzma", &[]);
        let e = SnapFile::open(&out).unwrap_err().to_string();
        assert!(e.contains("legacy lzma"), "{e}");
        // A compression id squashfs does not define.
        let mut bytes = std::fs::read(&out).unwrap();
        bytes[20..22].copy_from_slice(&9u16.to_le_bytes());
        std::fs::write(&out, &bytes).unwrap();
        let e = SnapFile::open(&out).unwrap_err().to_string();
        assert!(e.contains("unknown compression id 9"), "{e}");
    }

    /// An image with `depth` nested directories `d/d/…`, made by mksquashfs from a pseudo file
    /// (a tree on disk cannot be deeper than PATH_MAX allows mksquashfs to read).
    fn nested(t: &Path, depth: usize) -> PathBuf {
        let src = t.join(format!("src{depth}"));
        std::fs::create_dir_all(src.join("meta")).unwrap();
        std::fs::write(src.join("meta/snap.yaml"), "name: deep\nversion: '1'\n").unwrap();
        let mut pseudo = String::new();
        let mut p = String::new();
        for _ in 0..depth {
            if !p.is_empty() {
                p.push('/');
            }
            p.push('d');
            pseudo.push_str(&p);
            pseudo.push_str(" d 755 0 0\n");
        }
        let pf = t.join(format!("pseudo{depth}"));
        std::fs::write(&pf, pseudo).unwrap();
        let out = t.join(format!("deep{depth}.snap"));
        mksquashfs(&src, &out, &["-pf", pf.to_str().unwrap()]);
        out
    }

    /// Issue 17 (8): a deeply nested squashfs aborted the helper with a stack overflow in
    /// backhand's recursive tree building. The depth is now checked before that recursion: an
    /// error naming the limit, and a tree at the limit still reads.
    #[test]
    fn deeply_nested_images_are_an_error_not_a_crash() {
        let t = tempfile::tempdir().unwrap();
        let at_limit = nested(t.path(), MAX_DEPTH);
        let snap = SnapFile::open(&at_limit).unwrap();
        assert_eq!(snap.entries().len(), 3 + MAX_DEPTH);
        let over = nested(t.path(), MAX_DEPTH + 1);
        let e = SnapFile::open(&over).unwrap_err().to_string();
        assert!(e.contains(&format!("deeper than {MAX_DEPTH}")), "{e}");
        // The depth that overflowed an unchecked debug build (8 000 levels on a 2 MiB stack);
        // mksquashfs's pseudo-file lines stop a little above it.
        let hostile = nested(t.path(), 8150);
        let e = SnapFile::open(&hostile).unwrap_err().to_string();
        assert!(e.contains("deeper than"), "{e}");
        let dest = t.path().join("x");
        assert!(SnapFile::open(&hostile)
            .and_then(|s| s.extract_to(&dest))
            .is_err());
    }

    /// Issue 17 (3): a snap with a setuid-root file is refused, naming the file.
    #[test]
    fn setuid_and_setgid_files_are_found_and_named() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        tree(&src);
        let out = t.path().join("plain.snap");
        mksquashfs(&src, &out, &[]);
        SnapFile::open(&out).unwrap().refuse_setid().unwrap();
        // A setgid directory is allowed (it grants nothing).
        std::fs::set_permissions(src.join("a"), std::fs::Permissions::from_mode(0o2755)).unwrap();
        std::fs::write(src.join("bin/rootshell"), "#!/bin/sh\nexec /bin/sh -p\n").unwrap();
        std::fs::set_permissions(
            src.join("bin/rootshell"),
            std::fs::Permissions::from_mode(0o4755),
        )
        .unwrap();
        std::fs::write(src.join("bin/groupy"), "x").unwrap();
        std::fs::set_permissions(
            src.join("bin/groupy"),
            std::fs::Permissions::from_mode(0o2755),
        )
        .unwrap();
        let out = t.path().join("setuid.snap");
        mksquashfs(&src, &out, &[]);
        let snap = SnapFile::open(&out).unwrap();
        let found: Vec<&str> = snap.setid_entries().map(|e| e.path.as_str()).collect();
        assert_eq!(found, ["bin/groupy", "bin/rootshell"]);
        let e = snap.refuse_setid().unwrap_err().to_string();
        assert!(e.starts_with("bin/groupy: is setgid (mode 2755)"), "{e}");
        assert!(e.contains("1 other"), "{e}");
        std::fs::remove_file(src.join("bin/groupy")).unwrap();
        mksquashfs(&src, &out, &[]);
        let e = SnapFile::open(&out)
            .unwrap()
            .refuse_setid()
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "bin/rootshell: is setuid root (mode 4755): snaps may not contain setuid or setgid files"
        );
        // Our own packer keeps the bits too (it is what a hostile publisher could use).
        pack(&src, &out, &PackOptions::default()).unwrap();
        assert!(SnapFile::open(&out).unwrap().refuse_setid().is_err());
    }

    /// A table of many tiny metadata blocks (each would decompress to up to 8 KiB) is refused
    /// before backhand inflates it; a real image passes.
    #[test]
    fn metadata_tables_are_bounded_before_decompression() {
        let n = MAX_METADATA_BLOCKS as usize + 1;
        // Stored blocks of length 0: two bytes each.
        let table: Vec<u8> = [0x00, 0x80].repeat(n);
        let mut c = std::io::Cursor::new(&table);
        let e = count_metadata_blocks(&mut c, "inode table", 0, table.len() as u64)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than 8192 metadata blocks"), "{e}");
        count_metadata_blocks(&mut c, "inode table", 0, table.len() as u64 - 2).unwrap();
        let mut short = std::io::Cursor::new(&table[..4]);
        let e = count_metadata_blocks(&mut short, "inode table", 0, 10)
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated"), "{e}");
        let (_t, out) = packed();
        check_superblock(&out).unwrap();
    }

    /// A worker that outlives its time limit is told to stop and does, instead of running on.
    #[test]
    fn a_timed_out_reader_stops() {
        let (done_tx, done_rx) = mpsc::channel();
        let r: Result<(), _> = guarded_with_limit("test", Duration::from_millis(50), move |c| {
            let endless = CancelRead {
                inner: std::io::repeat(0),
                cancel: c.clone(),
            };
            let r = std::io::copy(&mut endless.take(u64::MAX), &mut std::io::sink());
            let _ = done_tx.send(r.map_err(|e| e.kind()));
            Ok(())
        });
        assert!(r.unwrap_err().to_string().contains("too long"));
        let stopped = done_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the reader thread kept running after its time limit");
        assert_eq!(stopped.unwrap_err(), std::io::ErrorKind::TimedOut);
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
