//! Verification of a snap file against the store's signed assertions: snap-revision (digest, size,
//! revision) → snap-declaration (name) → publisher account, each signed by an account-key chained to a
//! trusted root. Fetched assertions are kept under `/var/lib/snapshelf/assertions/` so that a later
//! `InstallFile` of the same file is recognised as signed.

use std::path::{Path, PathBuf};

use snapshelf_snap::assert::{decode_stream, Assertion, Database};
use snapshelf_snap::digest::Sha3_384;

use crate::error::{Error, ErrorKind, Result};
use crate::io::IoContext;
use crate::store::StoreClient;

/// How many account-keys may stand between an assertion and a trusted root.
const MAX_KEY_CHAIN: usize = 4;

/// What the assertions say about a verified file.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub snap_id: String,
    pub name: String,
    pub revision: u32,
    pub publisher_id: String,
}

fn failed(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::VerificationFailed, message)
}

fn store_path(dir: &Path, a: &Assertion) -> PathBuf {
    let key: Vec<String> = a
        .primary_key()
        .iter()
        .map(|k| k.replace('/', "%2F"))
        .collect();
    dir.join(a.type_name())
        .join(format!("{}.assert", key.join("_")))
}

/// Save an assertion that passed the database checks.
pub fn keep(dir: &Path, a: &Assertion) -> Result<()> {
    let path = store_path(dir, a);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).what("create", parent)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, a.encode()).what("write", &tmp)?;
    std::fs::rename(&tmp, &path).what("rename an assertion to", &path)?;
    Ok(())
}

/// Every assertion kept on disk, for a database to be filled from.
pub fn kept(dir: &Path) -> Vec<Assertion> {
    let mut out = Vec::new();
    let Ok(types) = std::fs::read_dir(dir) else {
        return out;
    };
    for t in types.flatten() {
        let Ok(files) = std::fs::read_dir(t.path()) else {
            continue;
        };
        for f in files.flatten() {
            if let Ok(bytes) = std::fs::read(f.path()) {
                if let Ok(mut list) = decode_stream(&bytes) {
                    out.append(&mut list);
                }
            }
        }
    }
    out
}

/// Add `list` to `db`, in an order that satisfies signatures: keys before what they sign. Returns
/// the assertions that were added.
fn add_all(db: &mut Database, mut list: Vec<Assertion>) -> Vec<Assertion> {
    let mut added = Vec::new();
    loop {
        let before = list.len();
        let mut rest = Vec::new();
        for a in list {
            match db.add(a.clone()) {
                Ok(()) => added.push(a),
                Err(_) => rest.push(a),
            }
        }
        if rest.len() == before || rest.is_empty() {
            return added;
        }
        list = rest;
    }
}

/// A database of the trusted roots plus every assertion kept on disk that still verifies.
pub fn local_database(trusted: &[Assertion], dir: &Path) -> Result<Database> {
    let mut db = Database::new(trusted.to_vec())
        .map_err(|e| Error::internal(format!("the trusted keys do not verify: {e}")))?;
    add_all(&mut db, kept(dir));
    Ok(db)
}

/// Fetch one assertion and the account-keys needed to check its signature.
async fn fetch_with_keys(
    store: &StoreClient,
    db: &mut Database,
    dir: &Path,
    kind: &str,
    key: &[&str],
) -> Result<Assertion> {
    let bytes = store.assertion(kind, key).await.map_err(|e| match e {
        crate::store::StoreError::Store { code, .. } if code == "not-found" => failed(format!(
            "the store has no {kind} assertion for {}: no matching signatures found",
            key.join("/")
        )),
        other => other.into(),
    })?;
    admit(store, db, dir, &bytes, kind, key).await
}

/// Add an assertion stream the store sent (its first assertion the one asked for: `kind` with
/// primary key `key`) to `db` and keep what verifies, fetching the account-keys its signature
/// needs; the first assertion.
pub(crate) async fn admit(
    store: &StoreClient,
    db: &mut Database,
    dir: &Path,
    bytes: &[u8],
    kind: &str,
    key: &[&str],
) -> Result<Assertion> {
    let mut list = decode_stream(bytes)
        .map_err(|e| failed(format!("the store sent a malformed {kind}: {e}")))?;
    if list.is_empty() {
        return Err(failed(format!("the store sent an empty {kind} stream")));
    }
    let main = list.remove(0);
    // Walk up the key chain until a key the database knows signs the last one fetched.
    let mut pending = vec![main.clone()];
    pending.extend(list);
    let mut signer = main.sign_key_id().to_string();
    for _ in 0..MAX_KEY_CHAIN {
        if db.find("account-key", &[signer.as_str()]).is_some()
            || pending.iter().any(|a| {
                a.type_name() == "account-key"
                    && a.header_str("public-key-sha3-384") == Some(signer.as_str())
            })
        {
            break;
        }
        let key_bytes = store.assertion("account-key", &[signer.as_str()]).await?;
        let keys =
            decode_stream(&key_bytes).map_err(|e| failed(format!("malformed account-key: {e}")))?;
        let Some(first) = keys.first() else { break };
        signer = first.sign_key_id().to_string();
        pending.extend(keys);
    }
    let added = add_all(db, pending);
    for a in &added {
        keep(dir, a)?;
    }
    if !added.iter().any(|a| a == &main)
        && db
            .find(
                main.type_name(),
                &main
                    .primary_key()
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            )
            .is_none()
    {
        return Err(failed(format!(
            "the {kind} assertion for {} does not verify against the trusted keys",
            key.join("/")
        )));
    }
    Ok(main)
}

/// What the store said a download is.
pub struct Expected<'a> {
    pub name: &'a str,
    pub snap_id: &'a str,
    pub revision: u32,
    pub digest: &'a Sha3_384,
    pub size: u64,
}

/// Verify a downloaded file: its digest and size against the signed snap-revision, and the
/// declaration's name against the snap being installed.
pub async fn verify_download(
    store: &StoreClient,
    trusted: &[Assertion],
    dir: &Path,
    want: Expected<'_>,
) -> Result<Verified> {
    let mut db = local_database(trusted, dir)?;
    let b64 = want.digest.to_base64url();
    let rev = match db.find("snap-revision", &[b64.as_str()]).cloned() {
        Some(a) => a,
        None => fetch_with_keys(store, &mut db, dir, "snap-revision", &[b64.as_str()]).await?,
    };
    let decl = match db.find("snap-declaration", &["16", want.snap_id]).cloned() {
        Some(a) => a,
        None => {
            fetch_with_keys(
                store,
                &mut db,
                dir,
                "snap-declaration",
                &["16", want.snap_id],
            )
            .await?
        }
    };
    let publisher = decl.header_str("publisher-id").unwrap_or("").to_string();
    if !publisher.is_empty() && db.find("account", &[publisher.as_str()]).is_none() {
        fetch_with_keys(store, &mut db, dir, "account", &[publisher.as_str()]).await?;
    }
    cross_check(
        &rev,
        &decl,
        want.name,
        Some(want.snap_id),
        Some(want.revision),
        want.digest,
        want.size,
    )
}

/// The size the signed snap-revision of the file with this digest states, fetched (and kept)
/// before its download starts: no byte past it is ever written, whatever the store announces.
pub async fn signed_size(
    store: &StoreClient,
    trusted: &[Assertion],
    dir: &Path,
    digest: &Sha3_384,
) -> Result<u64> {
    let mut db = local_database(trusted, dir)?;
    let b64 = digest.to_base64url();
    let rev = match db.find("snap-revision", &[b64.as_str()]).cloned() {
        Some(a) => a,
        None => fetch_with_keys(store, &mut db, dir, "snap-revision", &[b64.as_str()]).await?,
    };
    rev.header_str("snap-size")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| failed(format!("the snap-revision {b64} has no valid snap-size")))
}

/// Check a file against assertions already in the database (InstallFile of a known file).
pub fn verify_local(
    db: &Database,
    digest: &Sha3_384,
    size: u64,
    name: &str,
) -> Option<Result<Verified>> {
    let b64 = digest.to_base64url();
    let rev = db.find("snap-revision", &[b64.as_str()])?;
    let snap_id = rev.header_str("snap-id").unwrap_or("");
    let Some(decl) = db.find("snap-declaration", &["16", snap_id]) else {
        return Some(Err(failed(format!(
            "no snap-declaration is known for snap id {snap_id}"
        ))));
    };
    Some(cross_check(rev, decl, name, None, None, digest, size))
}

fn cross_check(
    rev: &Assertion,
    decl: &Assertion,
    name: &str,
    snap_id: Option<&str>,
    revision: Option<u32>,
    digest: &Sha3_384,
    size: u64,
) -> Result<Verified> {
    let h = |a: &Assertion, k: &str| a.header_str(k).unwrap_or("").to_string();
    if h(rev, "snap-sha3-384") != digest.to_base64url() {
        return Err(failed("the snap-revision assertion is for another file"));
    }
    if h(rev, "snap-size") != size.to_string() {
        return Err(failed(format!(
            "the file is {size} bytes but its snap-revision says {}: download is broken or tampered",
            h(rev, "snap-size")
        )));
    }
    let rev_id = h(rev, "snap-id");
    if let Some(id) = snap_id {
        if rev_id != id {
            return Err(failed(format!(
                "the file belongs to snap id {rev_id}, not {id}"
            )));
        }
    }
    let rev_no: u32 = h(rev, "snap-revision")
        .parse()
        .map_err(|_| failed("the snap-revision assertion has no valid revision"))?;
    if let Some(r) = revision {
        if rev_no != r {
            return Err(failed(format!(
                "the file is revision {rev_no}, the store said {r}"
            )));
        }
    }
    if h(decl, "snap-id") != rev_id {
        return Err(failed(
            "the snap-declaration does not match the snap-revision",
        ));
    }
    if h(decl, "snap-name") != name {
        return Err(failed(format!(
            "the snap is declared as {:?}, not {name:?} (is it being renamed?)",
            h(decl, "snap-name")
        )));
    }
    Ok(Verified {
        snap_id: rev_id,
        name: name.to_string(),
        revision: rev_no,
        publisher_id: h(decl, "publisher-id"),
    })
}
