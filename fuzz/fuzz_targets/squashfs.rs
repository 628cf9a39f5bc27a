//! The `.snap` reader on a hostile image: the superblock checks, backhand behind them, the walk that
//! reads `meta/`, and extraction (the fallback when loop mounts are not available). The image lives
//! in a memfd so no disk is touched; extraction goes to a tmpfs directory under /dev/shm.
//!
//! The reader runs backhand on a worker thread and turns its panics into errors. libFuzzer's panic
//! hook aborts before that guard runs, so a backhand panic is reported as a crash here: set
//! `SNAPSHELF_FUZZ_LENIENT=1` to let the guard do its job and look only for what gets past it
//! (stack overflows, hangs, memory blow-ups, escapes from the extraction directory).
#![no_main]

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use snapshelf_snap::squashfs::{EntryKind, SnapFile};

/// Extraction is tried only for images whose files add up to at most this much (tmpfs is RAM).
const EXTRACT_CAP: u64 = 4 << 20;

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = PathBuf::from(format!("/dev/shm/snapshelf-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("a scratch directory under /dev/shm");
        if std::env::var_os("SNAPSHELF_FUZZ_LENIENT").is_some() {
            let strict = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if std::thread::current().name() != Some("squashfs") {
                    strict(info);
                }
            }));
        }
        d
    })
}

/// Make the directory and everything in it removable again (extraction keeps snap modes).
fn remove_tree(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(rd) = std::fs::read_dir(p) {
        let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700));
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700));
    let _ = std::fs::remove_dir_all(p);
}

fuzz_target!(|data: &[u8]| {
    let scratch = scratch();
    // SAFETY: memfd_create takes a NUL-terminated name and flags; the fd is owned by `file` below.
    let fd = unsafe { libc::memfd_create(c"fuzz.snap".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
    // SAFETY: fd is a fresh descriptor nobody else owns.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(data).expect("writing the memfd");
    let path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));

    let Ok(snap) = SnapFile::open(&path) else {
        return;
    };
    let _ = snap.snap_yaml_text();
    let _ = snap.gui_files();
    let _ = snap.desktop_files();
    let _ = snap.icon();
    let _ = snap.theme_icons();

    let total: u64 = snap
        .entries()
        .iter()
        .map(|e| match e.kind {
            EntryKind::File { size } => size,
            _ => 0,
        })
        .fold(0u64, u64::saturating_add);
    if total <= EXTRACT_CAP && snap.entries().len() <= 4096 {
        let dest = scratch.join("x");
        let _ = snap.extract_to(&dest);
        // Whatever happened, nothing may have been written beside the destination.
        let stray: Vec<_> = std::fs::read_dir(scratch)
            .expect("reading the scratch directory")
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n != "x")
            .collect();
        assert!(
            stray.is_empty(),
            "extraction wrote outside its directory: {stray:?}"
        );
        remove_tree(&dest);
    }
});
