//! The engine's plain answers as the wire's dictionaries (`snapshelf_dbus::types`), and the
//! caller's descriptor as a file.

use std::os::fd::AsRawFd;

use snapshelf_dbus::types::{ChannelInfo, FileCheck, FindResult, SnapDetails, UpdateInfo};
use zbus::zvariant::OwnedFd;

use super::to_dbus;
use crate::engine::catalog::{Details, Listing, Update};
use crate::engine::plan;
use crate::error::Error;
use crate::lang::gettext;

pub(super) fn find_result(l: Listing) -> FindResult {
    FindResult {
        name: l.name,
        title: l.title,
        summary: l.summary,
        version: l.version,
        publisher: l.publisher,
        publisher_validation: l.publisher_validation,
        icon_url: l.icon_url,
        categories: l.categories,
        download_size: l.download_size,
        channel: l.channel,
        confinement: l.confinement,
        license: l.license,
        installed: l.installed,
    }
}

pub(super) fn snap_details(d: Details) -> SnapDetails {
    let mut out = SnapDetails {
        summary: find_result(d.listing),
        ..Default::default()
    };
    let x = &mut out.extra;
    x.description = d.description;
    x.screenshots = d.screenshots;
    x.website = d.website;
    x.contact = d.contact;
    x.base = d.base;
    x.installed_revision = d.installed_revision;
    x.tracking_channel = d.tracking_channel;
    x.held = d.held;
    x.apps = d.apps;
    x.revisions = d.revisions;
    x.channels = d
        .channels
        .into_iter()
        .map(|c| {
            ChannelInfo {
                channel: c.channel,
                version: c.version,
                revision: c.revision,
                size: c.size,
                released_at: c.released_at,
            }
            .to_dict()
        })
        .collect();
    out
}

pub(super) fn update_info(u: Update) -> UpdateInfo {
    UpdateInfo {
        name: u.name,
        version: u.version,
        revision: u.revision,
        channel: u.channel,
        download_size: u.download_size,
    }
}

pub(super) fn file_check(c: plan::FileCheck) -> FileCheck {
    FileCheck {
        name: c.name,
        title: c.title,
        summary: c.summary,
        version: c.version,
        confinement: c.confinement,
        base: c.base,
        apps: c.apps,
        plugs: c.plugs,
        size: c.size,
        signed: c.signed,
        revision: c.revision,
        installed_revision: c.installed_revision,
    }
}

/// The caller's descriptor as a regular file, read from its start whatever the caller's offset.
/// Whether the file lives on a FUSE file system (`FUSE_SUPER_MAGIC`).
fn on_fuse(file: &std::fs::File) -> bool {
    const FUSE_SUPER_MAGIC: i64 = 0x6573_5546;
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatfs fills the struct we own from a descriptor we own.
    let ok = unsafe { libc::fstatfs(file.as_raw_fd(), &mut st) } == 0;
    ok && st.f_type as i64 == FUSE_SUPER_MAGIC
}

pub(super) fn regular_file(fd: OwnedFd) -> Result<std::fs::File, snapshelf_dbus::Error> {
    let raw: std::os::fd::OwnedFd = fd.into();
    let file = std::fs::File::from(raw);
    let meta = file.metadata().map_err(|e| {
        to_dbus(Error::invalid(
            gettext("cannot read the file descriptor: {why}").replace("{why}", &e.to_string()),
        ))
    })?;
    if !meta.is_file() {
        return Err(to_dbus(Error::invalid(gettext(
            "the file descriptor is not a regular file",
        ))));
    }
    if meta.len() > crate::engine::MAX_SNAP_FILE {
        return Err(to_dbus(Error::invalid(
            gettext("the file is {size} bytes, more than a snap may be ({max} bytes)")
                .replace("{size}", &meta.len().to_string())
                .replace("{max}", &crate::engine::MAX_SNAP_FILE.to_string()),
        )));
    }
    if on_fuse(&file) {
        // A FUSE file system's server can make a read block for ever, and a blocked read holds
        // one of the helper's threads: such files are refused, not read.
        return Err(to_dbus(Error::invalid(gettext(
            "the file is on a FUSE file system: copy it to a local folder first",
        ))));
    }
    // SAFETY: lseek on a descriptor we own; no memory is involved.
    let _ = unsafe { libc::lseek(file.as_raw_fd(), 0, libc::SEEK_SET) };
    Ok(file)
}

pub(super) fn service(s: plan::service_control::ServiceInfo) -> snapshelf_dbus::types::ServiceInfo {
    snapshelf_dbus::types::ServiceInfo {
        snap: s.snap,
        app: s.app,
        daemon: s.daemon,
        scope: s.scope,
        enabled: s.enabled,
        active: s.active,
        activators: s.activators,
    }
}
