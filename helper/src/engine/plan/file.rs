//! InstallFile and CheckFile: a `.snap` handed over by descriptor, copied (and hashed) into the
//! helper's own directory first, then checked against known signatures.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::lang::gettext;
use serde_json::json;

use snapshelf_snap::yaml::Confinement;

use super::*;
use crate::engine::verify::{self, Verified};
use crate::io::IoContext;

/// What the caller of `InstallFile` consented to: a file without signatures, a snap without a
/// sandbox.
#[derive(Debug, Clone, Copy)]
struct FileConsent {
    unsigned: bool,
    classic: bool,
}

impl Engine {
    /// Take a `.snap` from a file descriptor. The file is copied (and hashed) into the blob
    /// directory first: the caller's file could change under us, the copy cannot.
    pub async fn install_file(
        &self,
        mut file: std::fs::File,
        unsigned: bool,
        classic: bool,
        uid: u32,
    ) -> Result<u64> {
        let paths = self.paths().clone();
        let dir = crate::engine::blob_dir_ready(&paths)?;
        let tmp = dir.join(format!(
            ".incoming-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        // The copy's errors are in the caller's language: the blocking thread takes it along.
        let lang = crate::lang::current();
        let copy = tokio::task::spawn_blocking({
            let tmp = tmp.clone();
            move || -> Result<(snapshelf_snap::digest::Sha3_384, u64)> {
                lang.enter(|| {
                    let mut out = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(&tmp)
                        .what("create", &tmp)?;
                    let hashed = hash_reading(&mut file, Some(&mut out))?;
                    out.sync_all().what("write", &tmp)?;
                    Ok(hashed)
                })
            }
        })
        .await
        .map_err(Error::internal)?;
        let result = self
            .plan_file(&tmp, copy, FileConsent { unsigned, classic }, uid)
            .await;
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    async fn plan_file(
        &self,
        tmp: &Path,
        copied: Result<(snapshelf_snap::digest::Sha3_384, u64)>,
        consent: FileConsent,
        uid: u32,
    ) -> Result<u64> {
        let FileConsent { unsigned, classic } = consent;
        let (digest, size) = copied?;
        let (yaml, text) = crate::engine::snap_meta::read_snap_yaml(tmp)?;
        let name = yaml.name.clone();
        // snapd's `--classic` for a file: consent asked for, as for the store's snaps.
        if yaml.confinement == Confinement::Classic && !classic {
            return Err(Error::new(
                ErrorKind::NeedsClassic,
                crate::lang::gettext("\"{snap}\" needs classic confinement: it runs without a sandbox; install the file with the classic option to accept that")
                    .replace("{snap}", &name),
            ));
        }
        let verified = self.signatures(&digest, size, &name, unsigned)?;
        let before = self.snap(&name)?;
        self.ensure_free(std::slice::from_ref(&name))?;
        let revision = self.file_revision(&name, verified.as_ref(), before.as_ref())?;
        let rev_state = revision_state(&revision, &yaml.version, "", size, &digest.to_hex(), &text);
        let fresh = file_snap_state(&yaml, verified.as_ref(), rev_state);
        crate::engine::snap_meta::check_assumes(&name, &revision, &yaml)?;
        if let Some(b) = &before {
            check_epoch(&name, &revision, &yaml.epoch, b)?;
        }
        let after = state_after(before.as_ref(), fresh, false);
        let mut bases = self.file_bases(&yaml).await?;
        // Default content providers, with the bases they need (the file's own is in `bases`).
        let providers = self.file_providers(&yaml).await?;
        if !providers.is_empty() {
            bases.extend(providers);
            self.add_missing_bases(&mut bases).await?;
        }
        let mut tasks = Vec::new();
        for b in &bases {
            install_tasks(b, None, &mut tasks);
        }
        bring_in(Fetch::File(&yaml), before.as_ref(), after, &mut tasks);
        if before.is_some() {
            tasks.push(Task::Gc(Gc { name: name.clone() }));
        }
        let mut all: Vec<String> = bases.into_iter().map(|b| b.name).collect();
        all.push(name.clone());
        let blob = self.paths().blob(&name, &revision);
        std::fs::rename(tmp, &blob).what("move the file in to", &blob)?;
        let started = self.start(
            "install-file",
            &gettext("Install \"{snap}\" from a file").replace("{snap}", &name),
            all,
            uid,
            json!({"name": name, "revision": revision, "unsigned": unsigned, "classic": classic}),
            tasks,
        );
        if started.is_err() {
            let _ = std::fs::rename(&blob, tmp);
        }
        started
    }

    /// The file's signatures, if the helper knows them; none is an error unless the caller
    /// asked for an unsigned install.
    fn signatures(
        &self,
        digest: &snapshelf_snap::digest::Sha3_384,
        size: u64,
        name: &str,
        unsigned: bool,
    ) -> Result<Option<Verified>> {
        let db = verify::local_database(&self.inner.cfg.trusted, &self.paths().assertions_dir())?;
        let verified = verify::verify_local(&db, digest, size, name).transpose()?;
        if verified.is_none() && !unsigned {
            return Err(Error::new(
                ErrorKind::VerificationFailed,
                gettext("cannot find signatures for this file of \"{snap}\"; install it as unsigned to trust it anyway")
                    .replace("{snap}", name),
            ));
        }
        Ok(verified)
    }

    /// The signed revision, or the next local one (`x1`, `x2`…); refused when already installed.
    fn file_revision(
        &self,
        name: &str,
        verified: Option<&Verified>,
        before: Option<&SnapState>,
    ) -> Result<String> {
        let revision = match verified {
            Some(v) => v.revision.to_string(),
            None => crate::engine::lock(&self.inner.state).next_local_revision(name)?,
        };
        if before.and_then(|b| b.revision(&revision)).is_some() {
            return Err(Error::new(
                ErrorKind::AlreadyInstalled,
                crate::lang::gettext("revision {revision} of \"{snap}\" is already installed")
                    .replace("{revision}", &revision)
                    .replace("{snap}", name),
            ));
        }
        Ok(revision)
    }

    /// The base the file needs, from the store when it is not installed (placed first).
    async fn file_bases(&self, yaml: &SnapYaml) -> Result<Vec<Resolved>> {
        let Some(base) = crate::engine::bases::of_yaml(yaml) else {
            return Ok(Vec::new());
        };
        if self.snap(base)?.is_some() {
            return Ok(Vec::new());
        }
        let results = self.resolve_bases(&[base.to_string()]).await.map_err(|e| {
            Error::new(
                ErrorKind::NotFound,
                // Translators: {why} is the reason, itself a message of the helper's.
                crate::lang::gettext(
                    "base \"{base}\" is not installed and cannot be installed: {why}",
                )
                .replace("{base}", base)
                .replace("{why}", &e.message),
            )
        })?;
        results.into_iter().collect()
    }
}

/// A snap's state as a file installs it new: from its snap.yaml, and its signatures if known.
fn file_snap_state(yaml: &SnapYaml, verified: Option<&Verified>, rev: RevisionState) -> SnapState {
    SnapState {
        name: yaml.name.clone(),
        snap_id: verified.map(|v| v.snap_id.clone()).unwrap_or_default(),
        snap_type: yaml.snap_type.to_string(),
        publisher: verified.map(|v| v.publisher_id.clone()).unwrap_or_default(),
        publisher_validation: if verified.is_some() {
            "unproven".into()
        } else {
            String::new()
        },
        title: yaml.title.clone().unwrap_or_default(),
        summary: yaml.summary.clone().unwrap_or_default(),
        description: yaml.description.clone().unwrap_or_default(),
        confinement: yaml.confinement.to_string(),
        base: yaml.base.clone(),
        license: yaml.license.clone().unwrap_or_default(),
        icon_url: String::new(),
        tracking_channel: String::new(),
        held: false,
        current: rev.revision.clone(),
        sequence: vec![rev],
        blocked: Vec::new(),
        connections: Default::default(),
        aliases: Default::default(),
        content: Default::default(),
        dbus: Default::default(),
        declared_auto_connect: Default::default(),
        iface_attrs: Default::default(),
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// What a `.snap` file is, as `check_file` finds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileCheck {
    pub name: String,
    pub title: String,
    pub summary: String,
    pub version: String,
    pub confinement: String,
    pub base: String,
    pub apps: Vec<String>,
    pub plugs: Vec<String>,
    pub size: u64,
    /// Its signatures are known and fit it.
    pub signed: bool,
    /// The store revision the signatures give it (empty when not signed).
    pub revision: String,
    /// The current revision of the installed snap of that name (empty when none is).
    pub installed_revision: String,
}

impl Engine {
    /// What a `.snap` read from `file` is, and whether its signatures are known: what
    /// `InstallFile` would do with it, without doing it. Reads the file once, hashing as it goes.
    pub async fn check_file(&self, mut file: std::fs::File) -> Result<FileCheck> {
        use std::os::fd::AsRawFd;
        let invalid = |m: String| Error::new(ErrorKind::InvalidSnap, m);
        let (digest, size, file) = tokio::task::spawn_blocking(move || -> Result<_> {
            let (digest, n) = hash_reading(&mut file, None)?;
            Ok((digest, n, file))
        })
        .await
        .map_err(Error::internal)??;
        // The helper's own descriptor, by path: the squashfs reader wants a path.
        let path = std::path::PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        let (yaml, _file) = tokio::task::spawn_blocking(move || -> Result<_> {
            let snap = snapshelf_snap::squashfs::SnapFile::open(&path)
                .map_err(|e| invalid(format!("not a valid snap: {e}")))?;
            let text = snap.snap_yaml_text().map_err(|e| invalid(e.to_string()))?;
            let yaml =
                SnapYaml::parse(&text).map_err(|e| invalid(format!("meta/snap.yaml: {e}")))?;
            Ok((yaml, file))
        })
        .await
        .map_err(Error::internal)??;
        let db = crate::engine::verify::local_database(
            &self.inner.cfg.trusted,
            &self.paths().assertions_dir(),
        )?;
        let verified = match crate::engine::verify::verify_local(&db, &digest, size, &yaml.name) {
            Some(Ok(v)) => Some(v),
            // Signatures that do not fit the file: not signed, as InstallFile would find.
            Some(Err(_)) | None => None,
        };
        let installed = self.snap(&yaml.name)?;
        let mut plugs: Vec<String> = yaml.all_plugs().into_values().collect();
        plugs.sort();
        plugs.dedup();
        Ok(FileCheck {
            name: yaml.name.clone(),
            title: yaml.title.clone().unwrap_or_default(),
            summary: yaml.summary.clone().unwrap_or_default(),
            version: yaml.version.clone(),
            confinement: yaml.confinement.to_string(),
            base: yaml.base.clone().unwrap_or_default(),
            apps: yaml.apps.keys().cloned().collect(),
            plugs,
            size,
            signed: verified.is_some(),
            revision: verified.map(|v| v.revision.to_string()).unwrap_or_default(),
            installed_revision: installed.map(|s| s.current).unwrap_or_default(),
        })
    }
}

/// SHA3-384 and length of everything `file` gives from where it is, copied to `out` on the way.
fn hash_reading(
    file: &mut std::fs::File,
    mut out: Option<&mut std::fs::File>,
) -> Result<(snapshelf_snap::digest::Sha3_384, u64)> {
    let mut hasher = snapshelf_snap::digest::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        // Errors here are the caller's file's (by descriptor, no path) or the copy's.
        let k = file.read(&mut buf).map_err(|e| {
            Error::invalid(gettext("cannot read the file: {why}").replace("{why}", &e.to_string()))
        })?;
        if k == 0 {
            break;
        }
        if let Some(o) = out.as_deref_mut() {
            std::io::Write::write_all(o, &buf[..k])?; // ENOSPC keeps its kind
        }
        hasher.update(&buf[..k]);
        n += k as u64;
        // The file may grow while it is read: never more than a snap may be.
        if n > crate::engine::MAX_SNAP_FILE {
            return Err(Error::invalid(
                gettext("the file is larger than a snap may be ({max} bytes)")
                    .replace("{max}", &crate::engine::MAX_SNAP_FILE.to_string()),
            ));
        }
    }
    Ok((hasher.finalize(), n))
}

#[cfg(test)]
pub(super) mod tests_support {
    use super::*;

    /// A new snap's state as a file of revision `rev` with nothing but a name installs it.
    pub(in crate::engine::plan) fn state(name: &str, rev: &str) -> SnapState {
        let yaml = SnapYaml::parse(&format!("name: {name}\nversion: '1'\n")).unwrap();
        file_snap_state(&yaml, None, revision_state(rev, "1", "", 1, "", ""))
    }
}
