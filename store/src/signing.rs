//! The store's key chain and the assertions it signs.
//!
//! `<dir>/keys/root.key` signs the store's `account` and both `account-key`s; `<dir>/keys/store.key`
//! signs publisher accounts, snap-declarations and snap-revisions. `<dir>/keys/trusted.assert` is the
//! public trust root a client needs (the store `account` and the root `account-key`).
//! Signed assertions are cached under `<dir>/.cache/assertions/<store key id>/` because signing
//! with RSA costs milliseconds and a catalog may hold thousands of revisions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use snapshelf_snap::assert::{self, Assertion, HeaderValue, PrivateKey};
use snapshelf_snap::digest::Sha3_384;

use crate::catalog::Publisher;

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Key { path: String, message: String },
    #[error("cannot sign {what}: {message}")]
    Sign { what: String, message: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SigningError + '_ {
    move |source| SigningError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn s(v: impl Into<String>) -> HeaderValue {
    HeaderValue::Str(v.into())
}

fn h(name: &str, v: impl Into<String>) -> (String, HeaderValue) {
    (name.to_string(), s(v))
}

/// The key chain of one catalog directory.
pub struct Signer {
    authority_id: String,
    store_key: PrivateKey,
    store_key_id: String,
    /// `trusted.assert` followed by the store's account-key.
    chain: Vec<Assertion>,
    cache_dir: PathBuf,
    /// Serialises signing of the same assertion by concurrent requests.
    lock: Mutex<()>,
}

pub struct KeyPaths {
    pub root_key: PathBuf,
    pub store_key: PathBuf,
    pub trusted: PathBuf,
    pub store_account_key: PathBuf,
}

pub fn key_paths(dir: &Path) -> KeyPaths {
    let keys = dir.join("keys");
    KeyPaths {
        root_key: keys.join("root.key"),
        store_key: keys.join("store.key"),
        trusted: keys.join("trusted.assert"),
        store_account_key: keys.join("store.assert"),
    }
}

fn write_private(path: &Path, pem: &str) -> Result<(), SigningError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    f.write_all(pem.as_bytes()).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

fn write_public(path: &Path, bytes: &[u8]) -> Result<(), SigningError> {
    // A name of our own: two stores may share a catalog directory.
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

fn sign(
    what: &str,
    kind: &str,
    headers: Vec<(String, HeaderValue)>,
    body: &[u8],
    key: &PrivateKey,
) -> Result<Assertion, SigningError> {
    assert::sign(kind, headers, body, key).map_err(|e| SigningError::Sign {
        what: what.to_string(),
        message: e.to_string(),
    })
}

/// Make the key chain of `dir` unless it is there already. Returns true when keys were made.
pub fn ensure_keys(dir: &Path, authority_id: &str, bits: usize) -> Result<bool, SigningError> {
    let paths = key_paths(dir);
    if paths.root_key.exists()
        && paths.store_key.exists()
        && paths.trusted.exists()
        && paths.store_account_key.exists()
    {
        return Ok(false);
    }
    let keys_dir = dir.join("keys");
    std::fs::create_dir_all(&keys_dir).map_err(io_err(&keys_dir))?;
    tracing::info!(bits, "generating the store's root and signing keys");
    let gen = |what: &str| {
        PrivateKey::generate(bits).map_err(|e| SigningError::Key {
            path: keys_dir.display().to_string(),
            message: format!("cannot generate the {what} key: {e}"),
        })
    };
    let root = gen("root")?;
    let store = gen("store")?;
    let now = now_rfc3339();
    let root_pub = root.public_key();
    let store_pub = store.public_key();

    let account = sign(
        "the store account",
        "account",
        vec![
            h("authority-id", authority_id),
            h("account-id", authority_id),
            h("display-name", authority_id),
            h("username", authority_id),
            h("validation", "verified"),
            h("timestamp", now.clone()),
        ],
        b"",
        &root,
    )?;
    let key_assertion = |name: &str, public: &assert::PublicKey| {
        sign(
            &format!("the {name} account-key"),
            "account-key",
            vec![
                h("authority-id", authority_id),
                h("account-id", authority_id),
                h("name", name),
                h("public-key-sha3-384", public.key_id()),
                h("since", now.clone()),
            ],
            public.to_body().as_bytes(),
            &root,
        )
    };
    let root_key = key_assertion("root", &root_pub)?;
    let store_key = key_assertion("store", &store_pub)?;

    write_private(&paths.root_key, &root.to_pkcs8_pem())?;
    write_private(&paths.store_key, &store.to_pkcs8_pem())?;
    write_public(&paths.trusted, &assert::encode_stream(&[account, root_key]))?;
    write_public(&paths.store_account_key, &store_key.encode())?;
    Ok(true)
}

fn read_stream(path: &Path) -> Result<Vec<Assertion>, SigningError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    assert::decode_stream(&bytes).map_err(|e| SigningError::Key {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

impl Signer {
    pub fn load(dir: &Path, authority_id: &str) -> Result<Self, SigningError> {
        let paths = key_paths(dir);
        let pem = std::fs::read_to_string(&paths.store_key).map_err(io_err(&paths.store_key))?;
        let store_key = PrivateKey::from_pkcs8_pem(&pem).map_err(|e| SigningError::Key {
            path: paths.store_key.display().to_string(),
            message: e.to_string(),
        })?;
        let store_key_id = store_key.public_key().key_id();
        let mut chain = read_stream(&paths.trusted)?;
        chain.extend(read_stream(&paths.store_account_key)?);
        // Refuse a chain that does not verify: clients would reject every download.
        let mut db = assert::Database::new(chain[..chain.len().min(2)].to_vec()).map_err(|e| {
            SigningError::Key {
                path: paths.trusted.display().to_string(),
                message: e.to_string(),
            }
        })?;
        for a in chain.iter().skip(2) {
            db.add(a.clone()).map_err(|e| SigningError::Key {
                path: paths.store_account_key.display().to_string(),
                message: e.to_string(),
            })?;
        }
        if chain.first().map(|a| a.header_str("account-id")) != Some(Some(authority_id)) {
            return Err(SigningError::Key {
                path: paths.trusted.display().to_string(),
                message: format!(
                    "the keys belong to another authority than {authority_id:?} (catalog store.authority-id)"
                ),
            });
        }
        if !chain
            .iter()
            .any(|a| a.header_str("public-key-sha3-384") == Some(store_key_id.as_str()))
        {
            return Err(SigningError::Key {
                path: paths.store_account_key.display().to_string(),
                message: "no account-key matches keys/store.key".into(),
            });
        }
        Ok(Signer {
            authority_id: authority_id.to_string(),
            cache_dir: dir.join(".cache").join("assertions").join(&store_key_id),
            store_key,
            store_key_id,
            chain,
            lock: Mutex::new(()),
        })
    }

    pub fn authority_id(&self) -> &str {
        &self.authority_id
    }

    pub fn store_key_id(&self) -> &str {
        &self.store_key_id
    }

    /// The fixed assertions: the store account and its two account-keys.
    pub fn chain(&self) -> &[Assertion] {
        &self.chain
    }

    /// Return the cached assertion for `key`, or sign it with `make` and cache it.
    fn cached(
        &self,
        kind: &str,
        key: &str,
        make: impl FnOnce() -> Result<Assertion, SigningError>,
    ) -> Result<Vec<u8>, SigningError> {
        let path = self.cache_dir.join(kind).join(format!("{key}.assert"));
        if let Ok(bytes) = std::fs::read(&path) {
            return Ok(bytes);
        }
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(bytes) = std::fs::read(&path) {
            return Ok(bytes);
        }
        let bytes = make()?.encode();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        write_public(&path, &bytes)?;
        Ok(bytes)
    }

    pub fn publisher_account(&self, p: &Publisher) -> Result<Vec<u8>, SigningError> {
        if p.id == self.authority_id {
            return Ok(self.chain[0].encode());
        }
        self.cached("account", &p.id, || {
            sign(
                &format!("account {}", p.id),
                "account",
                vec![
                    h("authority-id", self.authority_id.clone()),
                    h("account-id", p.id.clone()),
                    h("display-name", p.display_name.clone()),
                    h("username", p.username()),
                    h("validation", p.validation.clone()),
                    h("timestamp", now_rfc3339()),
                ],
                b"",
                &self.store_key,
            )
        })
    }

    /// A snap's declaration; `aliases` (alias → app) and `auto_aliases` become its `aliases` and
    /// `auto-aliases` headers when not empty.
    pub fn snap_declaration(
        &self,
        snap_id: &str,
        snap_name: &str,
        publisher_id: &str,
        (aliases, auto_aliases): (&BTreeMap<String, String>, &[String]),
        plugs: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>, SigningError> {
        let mut headers = vec![
            h("authority-id", self.authority_id.clone()),
            h("series", "16"),
            h("snap-id", snap_id),
            h("snap-name", snap_name),
            h("publisher-id", publisher_id),
        ];
        if !aliases.is_empty() {
            let list = aliases
                .iter()
                .map(|(name, target)| {
                    HeaderValue::Map(vec![
                        ("name".into(), s(name.clone())),
                        ("target".into(), s(target.clone())),
                    ])
                })
                .collect();
            headers.push(("aliases".into(), HeaderValue::List(list)));
        }
        if !auto_aliases.is_empty() {
            let list = auto_aliases.iter().map(|a| s(a.clone())).collect();
            headers.push(("auto-aliases".into(), HeaderValue::List(list)));
        }
        if let Some(plugs @ serde_json::Value::Object(_)) = plugs {
            headers.push(("plugs".into(), header_value(plugs)));
        }
        // The cache is keyed by what is signed: a catalog that changes the aliases gets a new one.
        let key = if headers.len() == 5 {
            snap_id.to_string()
        } else {
            let text = format!("{aliases:?}{auto_aliases:?}{plugs:?}");
            let digest = Sha3_384::of(text.as_bytes()).to_hex();
            format!("{snap_id}-{}", &digest[..16])
        };
        headers.push(h("timestamp", now_rfc3339()));
        self.cached("snap-declaration", &key, || {
            sign(
                &format!("the declaration of {snap_name}"),
                "snap-declaration",
                headers,
                b"",
                &self.store_key,
            )
        })
    }

    pub fn snap_revision(
        &self,
        digest_hex: &str,
        snap_id: &str,
        size: u64,
        revision: u32,
        developer_id: &str,
    ) -> Result<Vec<u8>, SigningError> {
        let digest = Sha3_384::from_hex(digest_hex).map_err(|e| SigningError::Sign {
            what: "a snap-revision".into(),
            message: e.to_string(),
        })?;
        let b64 = digest.to_base64url();
        self.cached("snap-revision", &b64.clone(), || {
            sign(
                &format!("revision {revision} of {snap_id}"),
                "snap-revision",
                vec![
                    h("authority-id", self.authority_id.clone()),
                    h("snap-sha3-384", b64),
                    h("snap-id", snap_id),
                    h("snap-size", size.to_string()),
                    h("snap-revision", revision.to_string()),
                    h("developer-id", developer_id),
                    h("timestamp", now_rfc3339()),
                ],
                b"",
                &self.store_key,
            )
        })
    }
}

/// A catalog's JSON-like value as an assertion header: maps, lists, and text (booleans and
/// numbers as their text, as snapd's declarations write `"true"`).
fn header_value(v: &serde_json::Value) -> HeaderValue {
    match v {
        serde_json::Value::Object(m) => HeaderValue::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), header_value(v)))
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            HeaderValue::List(items.iter().map(header_value).collect())
        }
        serde_json::Value::String(s) => HeaderValue::Str(s.clone()),
        serde_json::Value::Null => HeaderValue::Str(String::new()),
        other => HeaderValue::Str(other.to_string()),
    }
}
