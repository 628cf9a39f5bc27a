//! The syscall layer: every filesystem and mount operation the sandbox is built from, in one place,
//! each working on file descriptors. Paths are walked one component at a time with
//! `O_PATH|O_NOFOLLOW`, so a symbolic link is never followed, and mounts name their source and target
//! by those descriptors (binds with the fd-based mount calls, new file systems with `mount(2)` on
//! `/proc/self/fd/N`) so that what was checked is what gets mounted (snap-confine's lesson from
//! CVE-2021-44731 and CVE-2022-3328).

use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstat, fstatat, mkdirat, FileStat, Mode, SFlag};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use nix::unistd::{fchownat, symlinkat, Gid, Uid};

/// What an inode is, as far as the sandbox cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
    CharDevice,
    Other,
}

pub fn kind_of(st: &FileStat) -> Kind {
    match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFDIR => Kind::Dir,
        SFlag::S_IFREG => Kind::File,
        SFlag::S_IFLNK => Kind::Symlink,
        SFlag::S_IFCHR => Kind::CharDevice,
        _ => Kind::Other,
    }
}

/// `/proc/self/fd/N`: the path the kernel resolves to exactly the inode `fd` holds.
pub fn fd_path(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Open one entry of `dir` without following it, whatever it is.
pub fn open_path(dir: BorrowedFd<'_>, name: &str) -> nix::Result<OwnedFd> {
    openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Open a directory for reading its entries, refusing a symbolic link.
pub fn open_dir(dir: BorrowedFd<'_>, name: &str) -> nix::Result<OwnedFd> {
    openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Open an absolute host path that the caller chose and we trust (the root directory, `/dev`):
/// symbolic links are followed here, and only here.
pub fn open_trusted(path: &Path) -> nix::Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

pub fn stat(fd: BorrowedFd<'_>) -> nix::Result<FileStat> {
    fstat(fd)
}

pub fn stat_at(dir: BorrowedFd<'_>, name: &str) -> nix::Result<FileStat> {
    fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)
}

/// The components of a clean relative (or absolute, taken as relative) path.
pub fn components(path: &Path) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => out.push(
                n.to_str()
                    .ok_or_else(|| format!("{} is not UTF-8", path.display()))?
                    .to_string(),
            ),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(format!("{} climbs with '..'", path.display()))
            }
        }
    }
    Ok(out)
}

/// How a walk ended when it did not reach its goal.
#[derive(Debug, PartialEq, Eq)]
pub enum WalkError {
    /// Component `index` does not exist.
    Missing(usize),
    /// Component `index` is a symbolic link (or, before the last, not a directory).
    NotFollowed(usize),
    Errno(usize, Errno),
}

/// Walk `parts` from `root`, never following a symbolic link. Every component but the last must be
/// a directory; the last may be anything and is returned as an `O_PATH` descriptor.
pub fn walk(root: BorrowedFd<'_>, parts: &[String]) -> Result<OwnedFd, WalkError> {
    if let Some(fd) = walk_at_once(root, parts, 2, 0) {
        let st = stat(fd.as_fd()).map_err(|e| WalkError::Errno(parts.len() - 1, e))?;
        if kind_of(&st) == Kind::Symlink {
            return Err(WalkError::NotFollowed(parts.len() - 1));
        }
        return Ok(fd);
    }
    // `root` itself is duplicated only for an empty walk: a launch makes hundreds of walks.
    let mut cur: Option<OwnedFd> = None;
    for (i, p) in parts.iter().enumerate() {
        let dir = cur.as_ref().map_or(root, |fd| fd.as_fd());
        let next = match open_path(dir, p) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Err(WalkError::Missing(i)),
            Err(e) => return Err(WalkError::Errno(i, e)),
        };
        let st = stat(next.as_fd()).map_err(|e| WalkError::Errno(i, e))?;
        let k = kind_of(&st);
        if k == Kind::Symlink || (i + 1 < parts.len() && k != Kind::Dir) {
            return Err(WalkError::NotFollowed(i));
        }
        cur = Some(next);
    }
    match cur {
        Some(fd) => Ok(fd),
        None => root
            .try_clone_to_owned()
            .map_err(|_| WalkError::Errno(0, Errno::EMFILE)),
    }
}

/// [`walk`] to a directory: the same checks, and the last component must be a directory too.
pub fn walk_dir(root: BorrowedFd<'_>, parts: &[String]) -> Result<OwnedFd, WalkError> {
    // One call: O_DIRECTORY refuses a last component that is not a directory (a link included).
    if let Some(fd) = walk_at_once(root, parts, 1, libc::O_DIRECTORY) {
        return Ok(fd);
    }
    let fd = walk(root, parts)?;
    let last = parts.len().saturating_sub(1);
    if kind_of(&stat(fd.as_fd()).map_err(|e| WalkError::Errno(last, e))?) != Kind::Dir {
        return Err(WalkError::NotFollowed(last));
    }
    Ok(fd)
}

/// A walk of at least `min` components in one call (`openat2`, Linux 5.6; `flags` added to
/// `O_PATH | O_NOFOLLOW`) that follows no link anywhere (`RESOLVE_NO_SYMLINKS`; a link as the last
/// component is returned as itself) and never leaves `root` (`RESOLVE_BENEATH`): one system call
/// where a walk one component at a time makes two per component. `None` when it cannot be used or
/// fails: the walk one component at a time then says which component was wrong, and how.
fn walk_at_once(
    root: BorrowedFd<'_>,
    parts: &[String],
    min: usize,
    flags: libc::c_int,
) -> Option<OwnedFd> {
    let plain = |p: &String| !p.is_empty() && p != "." && p != ".." && !p.contains('/');
    if parts.len() < min.max(1) || !parts.iter().all(plain) {
        return None;
    }
    let path = std::ffi::CString::new(parts.join("/")).ok()?;
    // SAFETY: open_how is plain data; all-zero is its empty value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC | flags) as u64;
    how.resolve = libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_BENEATH;
    // SAFETY: openat2 with our descriptor, a C string and a struct that outlive the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    // SAFETY: a new descriptor from the kernel that nothing else owns.
    (fd >= 0).then(|| unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) })
}

pub fn mkdir_at(dir: BorrowedFd<'_>, name: &str, mode: u32) -> nix::Result<()> {
    match mkdirat(dir, name, Mode::from_bits_truncate(mode)) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Create an empty regular file (a bind target), keeping one that is already there.
pub fn touch_at(dir: BorrowedFd<'_>, name: &str, mode: u32) -> nix::Result<()> {
    match openat(
        dir,
        name,
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(mode),
    ) {
        Ok(_) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

pub fn symlink_at(target: &str, dir: BorrowedFd<'_>, name: &str) -> nix::Result<()> {
    symlinkat(target, dir, name)
}

pub fn readlink_at(dir: BorrowedFd<'_>, name: &str) -> nix::Result<OsString> {
    nix::fcntl::readlinkat(dir, name)
}

/// Give an entry we just made to `uid`:`gid` without following it.
pub fn chown_at(dir: BorrowedFd<'_>, name: &str, uid: u32, gid: u32) -> nix::Result<()> {
    fchownat(
        dir,
        name,
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
}

/// The mount flags of the mount `fd` is on that a bind must keep (a user namespace may not drop
/// them: the kernel locks them).
fn locked_flags(fd: BorrowedFd<'_>) -> nix::Result<(MsFlags, bool)> {
    let f = match fstatvfs(fd) {
        Ok(st) => st.flags(),
        // The flags are the mount's, but statfs(2) asks the file system too, and a FUSE one may
        // refuse (xdg-document-portal does for its per-app views): the mount table has them.
        Err(Errno::EPERM | Errno::EACCES | Errno::ENOSYS) => mount_table_flags(fd)?,
        Err(e) => return Err(e),
    };
    let mut out = MsFlags::empty();
    for (st, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(st) {
            out |= ms;
        }
    }
    Ok((out, f.contains(FsFlags::ST_RDONLY)))
}

/// The flags of the mount `fd` is on, from its line in `/proc/self/mountinfo` (found by the mount
/// ID `statx` gives), in statvfs's form.
fn mount_table_flags(fd: BorrowedFd<'_>) -> nix::Result<FsFlags> {
    // SAFETY: statx fills the zeroed buffer it is given; the path is a static empty C string.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    let r = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_MNT_ID,
            &mut stx,
        )
    };
    Errno::result(r)?;
    if stx.stx_mask & libc::STATX_MNT_ID == 0 {
        return Err(Errno::ENOSYS);
    }
    let table = std::fs::read_to_string("/proc/self/mountinfo").map_err(|_| Errno::ENOENT)?;
    let id = stx.stx_mnt_id.to_string();
    // `ID PARENT MAJ:MIN ROOT POINT OPTIONS …`: the sixth field is the mount's own options.
    let options = table
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&id.as_str()))
        .and_then(|f| f.get(5).map(|o| o.to_string()))
        .ok_or(Errno::ENOENT)?;
    Ok(mount_options_flags(&options))
}

/// A mountinfo options field (`rw,nosuid,nodev,relatime`) in statvfs's form.
fn mount_options_flags(options: &str) -> FsFlags {
    let mut f = FsFlags::empty();
    for o in options.split(',') {
        f |= match o {
            "ro" => FsFlags::ST_RDONLY,
            "nosuid" => FsFlags::ST_NOSUID,
            "nodev" => FsFlags::ST_NODEV,
            "noexec" => FsFlags::ST_NOEXEC,
            "noatime" => FsFlags::ST_NOATIME,
            "nodiratime" => FsFlags::ST_NODIRATIME,
            "relatime" => FsFlags::ST_RELATIME,
            _ => FsFlags::empty(),
        };
    }
    f
}

/// Open `name` in `parent` again, by name: unlike an old descriptor, a lookup by name crosses a
/// mount just made there, so the result is the new mount's root.
pub fn reopen(parent: BorrowedFd<'_>, name: &str) -> nix::Result<OwnedFd> {
    open_path(parent, name)
}

fn mount_on(
    parent: BorrowedFd<'_>,
    name: &str,
    source: Option<&str>,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> nix::Result<OwnedFd> {
    let target = open_path(parent, name)?;
    if kind_of(&stat(target.as_fd())?) == Kind::Symlink {
        return Err(Errno::ELOOP);
    }
    mount(
        source,
        fd_path(target.as_fd()).as_str(),
        fstype,
        flags,
        data,
    )?;
    reopen(parent, name)
}

/// The new mount API (Linux 5.2; `mount_setattr` 5.12), from linux/mount.h: it names sources and
/// targets by descriptor, where `mount(2)` needs a `/proc/self/fd/N` path the kernel resolves
/// through procfs at every call (a good part of a launch's time in `mount`).
mod fd_mount {
    use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

    use nix::errno::Errno;

    const OPEN_TREE_CLONE: libc::c_uint = 1;
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x04;
    const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    const MOUNT_ATTR_NOSUID: u64 = 0x2;

    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }

    /// A detached copy of the mount at `src` (with its submounts when `recursive`), as a
    /// descriptor: dropped before it is attached, it is unmounted.
    pub fn clone_tree(src: BorrowedFd<'_>, recursive: bool) -> nix::Result<OwnedFd> {
        let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
        flags |= libc::AT_EMPTY_PATH as libc::c_uint;
        if recursive {
            flags |= libc::AT_RECURSIVE as libc::c_uint;
        }
        // SAFETY: open_tree with our descriptor, an empty C string and plain flags.
        let fd =
            unsafe { libc::syscall(libc::SYS_open_tree, src.as_raw_fd(), c"".as_ptr(), flags) };
        let fd = Errno::result(fd)?;
        // SAFETY: the kernel returned a new descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
    }

    /// A detached copy of the mount at the entry `name` of `dir` (one name, no slash), looked up
    /// by the call itself without following a link: no descriptor of the source is needed.
    pub fn clone_tree_at(
        dir: BorrowedFd<'_>,
        name: &std::ffi::CStr,
        recursive: bool,
    ) -> nix::Result<OwnedFd> {
        let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
        flags |= libc::AT_SYMLINK_NOFOLLOW as libc::c_uint;
        if recursive {
            flags |= libc::AT_RECURSIVE as libc::c_uint;
        }
        // SAFETY: open_tree with our descriptor, a C string that outlives the call, plain flags.
        let fd =
            unsafe { libc::syscall(libc::SYS_open_tree, dir.as_raw_fd(), name.as_ptr(), flags) };
        let fd = Errno::result(fd)?;
        // SAFETY: the kernel returned a new descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
    }

    /// Attach the detached `tree` on the entry `name` of `dir`. move_mount never follows a link
    /// at the target unless asked to (MOVE_MOUNT_T_SYMLINKS).
    pub fn attach_at(
        tree: BorrowedFd<'_>,
        dir: BorrowedFd<'_>,
        name: &std::ffi::CStr,
    ) -> nix::Result<()> {
        // SAFETY: move_mount with our descriptors, C strings that outlive the call, plain flags.
        let r = unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                tree.as_raw_fd(),
                c"".as_ptr(),
                dir.as_raw_fd(),
                name.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            )
        };
        Errno::result(r).map(drop)
    }

    /// Attach the detached `tree` on `target` (the very inode the descriptor holds).
    pub fn attach(tree: BorrowedFd<'_>, target: BorrowedFd<'_>) -> nix::Result<()> {
        let flags = MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH;
        // SAFETY: move_mount with our descriptors, empty C strings and plain flags.
        let r = unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                tree.as_raw_fd(),
                c"".as_ptr(),
                target.as_raw_fd(),
                c"".as_ptr(),
                flags,
            )
        };
        Errno::result(r).map(drop)
    }

    /// Make the mount whose root `fd` is read-only and nosuid; its other flags (the locked ones
    /// among them) stay as they are.
    pub fn set_read_only(fd: BorrowedFd<'_>) -> nix::Result<()> {
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID,
            attr_clr: 0,
            propagation: 0,
            userns_fd: 0,
        };
        // SAFETY: mount_setattr reads `attr`, ours, of the size given.
        let r = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                fd.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_EMPTY_PATH as libc::c_uint,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        };
        Errno::result(r).map(drop)
    }
}

/// Bind `src` onto `name` in `parent`; `recursive` carries the submounts along. The new mount is
/// read-only when its source was. Returns the new mount's root, and whether it is known to be
/// read-only (`false`: not looked at, as the source was writable).
pub fn bind(
    src: BorrowedFd<'_>,
    parent: BorrowedFd<'_>,
    name: &str,
    recursive: bool,
) -> nix::Result<(OwnedFd, bool)> {
    let (_, src_ro) = locked_flags(src)?;
    match fd_mount::clone_tree(src, recursive) {
        Ok(tree) => {
            let target = open_path(parent, name)?;
            if kind_of(&stat(target.as_fd())?) == Kind::Symlink {
                return Err(Errno::ELOOP);
            }
            // Read-only before it is attached when its source was: a copy made by open_tree
            // keeps the source mount's flags and shares its file system (a read-only one either
            // way), so there is nothing to set and nothing to check again.
            fd_mount::attach(tree.as_fd(), target.as_fd())?;
            Ok((tree, src_ro))
        }
        // An older kernel (or a filter that does not know the call): mount(2) by path.
        Err(Errno::ENOSYS | Errno::EPERM) => {
            let mut flags = MsFlags::MS_BIND;
            if recursive {
                flags |= MsFlags::MS_REC;
            }
            let src_path = fd_path(src);
            let top = mount_on(parent, name, Some(src_path.as_str()), None, flags, None)?;
            if src_ro && !locked_flags(top.as_fd())?.1 {
                remount_read_only(top.as_fd())?;
            }
            Ok((top, src_ro))
        }
        Err(e) => Err(e),
    }
}

/// Bind the entry `name` of `dir` onto the entry of the same name in `into`, both looked up by
/// the mount calls themselves and never through a link; `recursive` carries the submounts along.
/// For a writable mimic's entries, listed in `dir` and just made in `into` (a tmpfs of the
/// launch's own): two system calls where [`bind`] needs eight. The copy keeps its source's flags,
/// read-only among them.
pub fn bind_entry(
    dir: BorrowedFd<'_>,
    name: &str,
    into: BorrowedFd<'_>,
    recursive: bool,
) -> nix::Result<()> {
    if name.contains('/') || name == "." || name == ".." {
        return Err(Errno::EINVAL);
    }
    let c_name = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
    match fd_mount::clone_tree_at(dir, &c_name, recursive) {
        Ok(tree) => fd_mount::attach_at(tree.as_fd(), into, &c_name),
        // An older kernel (or a filter that does not know the call): by descriptors and paths.
        Err(Errno::ENOSYS | Errno::EPERM) => {
            let src = open_path(dir, name)?;
            bind(src.as_fd(), into, name, recursive).map(drop)
        }
        Err(e) => Err(e),
    }
}

/// Whether writes to what `fd` names fail for being read-only (the mount or its file system).
pub fn is_read_only(fd: BorrowedFd<'_>) -> nix::Result<bool> {
    Ok(locked_flags(fd)?.1)
}

/// Make the mount whose root `fd` is read-only (and nosuid), keeping the flags the kernel locks.
pub fn remount_read_only(fd: BorrowedFd<'_>) -> nix::Result<()> {
    match fd_mount::set_read_only(fd) {
        Err(Errno::ENOSYS) => {}
        done => return done,
    }
    let (locked, _) = locked_flags(fd)?;
    mount(
        None::<&str>,
        fd_path(fd).as_str(),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | locked,
        None::<&str>,
    )
}

/// Mount a tmpfs on `name` in `parent`. `owner` is given only when the kernel can express it (in a
/// user namespace only our own ids are mapped). Returns the new mount's root.
pub fn mount_tmpfs(
    parent: BorrowedFd<'_>,
    name: &str,
    mode: u32,
    owner: Option<(u32, u32)>,
    extra: MsFlags,
) -> nix::Result<OwnedFd> {
    let mut data = format!("mode={:o}", mode & 0o7777);
    if let Some((u, g)) = owner {
        data.push_str(&format!(",uid={u},gid={g}"));
    }
    mount_on(
        parent,
        name,
        Some("tmpfs"),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | extra,
        Some(data.as_str()),
    )
}

/// A new procfs on `name` in `parent`: it shows the PID namespace of the caller, which must be
/// in it (PID 1 of the sandbox).
pub fn mount_proc(parent: BorrowedFd<'_>, name: &str) -> nix::Result<OwnedFd> {
    mount_on(
        parent,
        name,
        Some("proc"),
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )
}

/// A new devpts instance on `name` in `parent`, with `ptmx` usable by everyone.
pub fn mount_devpts(
    parent: BorrowedFd<'_>,
    name: &str,
    tty_gid: Option<u32>,
) -> nix::Result<OwnedFd> {
    let mut data = "newinstance,ptmxmode=0666,mode=0620".to_string();
    if let Some(g) = tty_gid {
        data.push_str(&format!(",gid={g}"));
    }
    mount_on(
        parent,
        name,
        Some("devpts"),
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some(data.as_str()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn the_mount_table_gives_the_flags_statvfs_gives() {
        assert_eq!(
            mount_options_flags("ro,nosuid,nodev,noexec,relatime,x-other"),
            FsFlags::ST_RDONLY
                | FsFlags::ST_NOSUID
                | FsFlags::ST_NODEV
                | FsFlags::ST_NOEXEC
                | FsFlags::ST_RELATIME
        );
        // The same answer both ways for the mounts this test can see.
        for path in ["/", "/proc", "/dev"] {
            let fd = open_trusted(Path::new(path)).unwrap();
            let want = fstatvfs(fd.as_fd()).unwrap().flags();
            let keep = FsFlags::ST_RDONLY
                | FsFlags::ST_NOSUID
                | FsFlags::ST_NODEV
                | FsFlags::ST_NOEXEC
                | FsFlags::ST_NOATIME
                | FsFlags::ST_NODIRATIME
                | FsFlags::ST_RELATIME;
            assert_eq!(
                mount_table_flags(fd.as_fd()).unwrap(),
                want & keep,
                "{path}"
            );
        }
    }

    #[test]
    fn walks_never_follow_links() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("a/b")).unwrap();
        std::fs::write(t.path().join("a/b/f"), b"x").unwrap();
        symlink("/etc", t.path().join("a/link")).unwrap();
        symlink("b", t.path().join("a/rel")).unwrap();
        let root = open_trusted(t.path()).unwrap();
        let parts = |p: &str| components(Path::new(p)).unwrap();
        let f = walk(root.as_fd(), &parts("a/b/f")).unwrap();
        assert_eq!(kind_of(&stat(f.as_fd()).unwrap()), Kind::File);
        assert_eq!(
            walk(root.as_fd(), &parts("a/link")).unwrap_err(),
            WalkError::NotFollowed(1)
        );
        assert_eq!(
            walk(root.as_fd(), &parts("a/link/passwd")).unwrap_err(),
            WalkError::NotFollowed(1)
        );
        assert_eq!(
            walk(root.as_fd(), &parts("a/rel/f")).unwrap_err(),
            WalkError::NotFollowed(1)
        );
        assert_eq!(
            walk(root.as_fd(), &parts("a/b/f/x")).unwrap_err(),
            WalkError::NotFollowed(2)
        );
        assert_eq!(
            walk(root.as_fd(), &parts("a/none/x")).unwrap_err(),
            WalkError::Missing(1)
        );
        assert!(components(Path::new("/a/../b")).is_err());
        assert_eq!(parts("/usr/share"), vec!["usr", "share"]);
    }

    #[test]
    fn walks_to_a_directory_refuse_anything_else() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("a/b")).unwrap();
        std::fs::write(t.path().join("a/f"), b"x").unwrap();
        symlink("b", t.path().join("a/link")).unwrap();
        let root = open_trusted(t.path()).unwrap();
        let parts = |p: &str| components(Path::new(p)).unwrap();
        for ok in ["a", "a/b"] {
            let d = walk_dir(root.as_fd(), &parts(ok)).unwrap();
            assert_eq!(kind_of(&stat(d.as_fd()).unwrap()), Kind::Dir, "{ok}");
        }
        for (bad, err) in [
            ("a/f", WalkError::NotFollowed(1)),
            ("a/link", WalkError::NotFollowed(1)),
            ("a/link/x", WalkError::NotFollowed(1)),
            ("a/none", WalkError::Missing(1)),
            ("none", WalkError::Missing(0)),
        ] {
            assert_eq!(
                walk_dir(root.as_fd(), &parts(bad)).unwrap_err(),
                err,
                "{bad}"
            );
        }
    }

    #[test]
    fn creation_keeps_what_exists_and_never_follows() {
        let t = tempfile::tempdir().unwrap();
        let root = open_trusted(t.path()).unwrap();
        mkdir_at(root.as_fd(), "d", 0o700).unwrap();
        mkdir_at(root.as_fd(), "d", 0o700).unwrap();
        touch_at(root.as_fd(), "f", 0o644).unwrap();
        std::fs::write(t.path().join("f"), b"kept").unwrap();
        touch_at(root.as_fd(), "f", 0o644).unwrap();
        assert_eq!(std::fs::read(t.path().join("f")).unwrap(), b"kept");
        symlink_at("/nowhere", root.as_fd(), "l").unwrap();
        // O_CREAT|O_EXCL|O_NOFOLLOW on a dangling link must not create its target.
        assert!(touch_at(root.as_fd(), "l", 0o644).is_ok());
        assert!(!Path::new("/nowhere").exists());
        assert_eq!(readlink_at(root.as_fd(), "l").unwrap(), "/nowhere");
        assert_eq!(kind_of(&stat_at(root.as_fd(), "d").unwrap()), Kind::Dir);
        assert!(open_dir(root.as_fd(), "l").is_err());
    }
}
