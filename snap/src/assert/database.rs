//! A database of assertions that checks each one before accepting it: signed by a known
//! account-key of its authority, valid at its timestamp, signature verified, and the type's own
//! consistency rules. Trusted roots are given at creation.
//!
//! As in snapd, keys and accounts are vouched for only by a *directly trusted* authority (an
//! account given at creation): an `account-key` or `account` signed by anyone else is refused,
//! whatever key signed it. Without this, any key the database knows (every developer's) could
//! mint a key for the store's authority and sign what only the store may sign.

use std::collections::{BTreeSet, HashMap};

use super::{parse_time, AssertError, Assertion, PublicKey};

struct KeyEntry {
    account_id: String,
    /// The key's `name` header (empty when absent): one key per account and name.
    name: String,
    /// Given at creation: never replaced by a later assertion.
    trusted: bool,
    key: PublicKey,
    since: time::OffsetDateTime,
    until: Option<time::OffsetDateTime>,
    /// The issuer id the key's signatures carry. It may sit in the unsigned part of the OpenPGP
    /// packet, so the first one seen on an accepted assertion is pinned and any other refused:
    /// otherwise those bytes could be changed without anyone noticing. Signatures without one
    /// are accepted (snapd's own test store signed some with and some without).
    issuer: std::cell::Cell<Option<[u8; 8]>>,
}

pub struct Database {
    keys: HashMap<String, KeyEntry>,
    /// Accounts whose assertions (e.g. snap-revision) are trusted as store authorities.
    trusted_authorities: BTreeSet<String>,
    assertions: HashMap<(String, Vec<String>), Assertion>,
}

fn check(m: impl Into<String>) -> AssertError {
    AssertError::Check(m.into())
}

fn key_entry(a: &Assertion) -> Result<(String, KeyEntry), AssertError> {
    let key = PublicKey::from_body(a.body())?;
    let id = key.key_id();
    if a.header_str("public-key-sha3-384") != Some(id.as_str()) {
        return Err(check(
            "account-key: public-key-sha3-384 does not match the key in the body",
        ));
    }
    let since = parse_time(
        a.header_str("since")
            .ok_or_else(|| check("account-key: since is required"))?,
    )?;
    let until = a.header_str("until").map(parse_time).transpose()?;
    let account_id = a
        .header_str("account-id")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| check("account-key: account-id is required"))?
        .to_string();
    if until.is_some_and(|u| u <= since) {
        return Err(check(format!(
            "account-key {id}: until must be after since"
        )));
    }
    Ok((
        id,
        KeyEntry {
            account_id,
            name: a.header_str("name").unwrap_or("").to_string(),
            trusted: false,
            key,
            since,
            until,
            issuer: std::cell::Cell::new(None),
        },
    ))
}

impl Database {
    /// A database trusting `trusted`: account-keys (self-signed ones are checked against
    /// themselves) and the accounts they sign.
    pub fn new(trusted: Vec<Assertion>) -> Result<Database, AssertError> {
        let mut db = Database {
            keys: HashMap::new(),
            trusted_authorities: BTreeSet::new(),
            assertions: HashMap::new(),
        };
        let (keys, others): (Vec<_>, Vec<_>) = trusted
            .into_iter()
            .partition(|a| a.type_name() == "account-key");
        let mut pending = keys;
        // Self-signed roots first, then keys signed by them, until nothing more can be added.
        loop {
            let before = pending.len();
            let mut rest = Vec::new();
            for a in pending {
                let (id, mut entry) = key_entry(&a)?;
                entry.trusted = true;
                let signer = a.sign_key_id().to_string();
                let ok = if signer == id {
                    match a.verify_issuer(&entry.key) {
                        Ok(issuer) if entry.account_id == a.authority_id() => {
                            entry.issuer.set(issuer);
                            true
                        }
                        _ => false,
                    }
                } else {
                    db.keys.contains_key(&signer) && db.verify(&a).map(|i| db.pin(&a, i)).is_ok()
                };
                if ok {
                    db.trusted_authorities.insert(entry.account_id.clone());
                    db.keys.insert(id, entry);
                    db.store(a);
                } else {
                    rest.push(a);
                }
            }
            if rest.is_empty() {
                break;
            }
            if rest.len() == before {
                return Err(check(format!(
                    "trusted account-key {} is not signed by itself or another trusted key",
                    rest[0].header_str("public-key-sha3-384").unwrap_or("?")
                )));
            }
            pending = rest;
        }
        for a in others {
            let issuer = db.verify(&a)?;
            db.pin(&a, issuer);
            if a.type_name() == "account" {
                if let Some(id) = a.header_str("account-id") {
                    db.trusted_authorities.insert(id.to_string());
                }
            }
            db.store(a);
        }
        Ok(db)
    }

    fn store(&mut self, a: Assertion) {
        let key = (a.type_name().to_string(), a.primary_key());
        match self.assertions.get(&key) {
            Some(old) if old.revision() > a.revision() => {}
            _ => {
                self.assertions.insert(key, a);
            }
        }
    }

    /// Pin the issuer id of `a`'s signing key, once `a` has been accepted.
    fn pin(&self, a: &Assertion, issuer: Option<[u8; 8]>) {
        if let (Some(entry), Some(issuer)) = (self.keys.get(a.sign_key_id()), issuer) {
            entry.issuer.set(Some(issuer));
        }
    }

    /// Check the signature of `a` with a known key of its authority, valid at its time; the
    /// issuer id the signature names, for [`Database::pin`] once `a` is accepted.
    fn verify(&self, a: &Assertion) -> Result<Option<[u8; 8]>, AssertError> {
        let entry = self.keys.get(a.sign_key_id()).ok_or_else(|| {
            check(format!(
                "no known account-key {} signs this {}",
                a.sign_key_id(),
                a.type_name()
            ))
        })?;
        if entry.account_id != a.authority_id() {
            return Err(check(format!(
                "the signing key belongs to {:?}, not to the authority {:?}",
                entry.account_id,
                a.authority_id()
            )));
        }
        if let Some(t) = a.timestamp() {
            if t < entry.since || entry.until.is_some_and(|u| t >= u) {
                return Err(check(
                    "the signing key was not valid at the assertion's time",
                ));
            }
        } else if a.header("timestamp").is_some() || a.header("since").is_some() {
            return Err(check("the assertion's time is malformed"));
        }
        let issuer = a.verify_issuer(&entry.key)?;
        match (entry.issuer.get(), issuer) {
            (Some(pinned), Some(issuer)) if pinned != issuer => Err(AssertError::Signature(
                "the signature names another issuer than the key's other signatures".into(),
            )),
            _ => Ok(issuer),
        }
    }

    /// snapd's rule for account-keys: signed by a directly trusted authority, for an account the
    /// database has, and not in conflict with a key it already has.
    fn check_account_key(&self, a: &Assertion) -> Result<(String, KeyEntry), AssertError> {
        let (id, entry) = key_entry(a)?;
        if !self.is_trusted_authority(a.authority_id()) {
            return Err(check(format!(
                "account-key {id} for {:?} is not signed by a directly trusted authority: {:?}",
                entry.account_id,
                a.authority_id()
            )));
        }
        if self.find("account", &[entry.account_id.as_str()]).is_none() {
            return Err(check(format!(
                "account-key {id} for {:?} has no matching account assertion",
                entry.account_id
            )));
        }
        if let Some(old) = self.keys.get(&id) {
            if old.trusted {
                return Err(check(format!(
                    "account-key {id} is a trusted root and cannot be replaced"
                )));
            }
            if old.account_id != entry.account_id {
                return Err(check(format!(
                    "account-key {id} is already known for {:?}, not {:?}",
                    old.account_id, entry.account_id
                )));
            }
        }
        if !entry.name.is_empty() {
            if let Some((other, _)) = self.keys.iter().find(|(k, e)| {
                **k != id && e.account_id == entry.account_id && e.name == entry.name
            }) {
                return Err(check(format!(
                    "account-key {id}: {:?} already has a key named {:?} ({other})",
                    entry.account_id, entry.name
                )));
            }
        }
        Ok((id, entry))
    }

    /// Check and keep `a`.
    pub fn add(&mut self, a: Assertion) -> Result<(), AssertError> {
        let issuer = self.verify(&a)?;
        match a.type_name() {
            "account-key" => {
                let (id, entry) = self.check_account_key(&a)?;
                // An older revision of a known key changes nothing.
                let newer = self
                    .find("account-key", &[id.as_str()])
                    .is_none_or(|old| old.revision() <= a.revision());
                if newer {
                    let pinned = self.keys.get(&id).and_then(|e| e.issuer.get());
                    let entry = KeyEntry {
                        // The pinned issuer stays with the key, whatever revision describes it.
                        issuer: std::cell::Cell::new(pinned),
                        ..entry
                    };
                    self.keys.insert(id, entry);
                }
            }
            "account" => {
                if !self.is_trusted_authority(a.authority_id()) {
                    return Err(check(format!(
                        "account {:?} is not signed by a directly trusted authority: {:?}",
                        a.header_str("account-id").unwrap_or("?"),
                        a.authority_id()
                    )));
                }
                if a.header_str("account-id").is_none_or(str::is_empty) {
                    return Err(check("account: account-id is required"));
                }
            }
            "snap-revision" => {
                if !self.trusted_authorities.contains(a.authority_id()) {
                    return Err(check(format!(
                        "{:?} is not a trusted store authority",
                        a.authority_id()
                    )));
                }
                for h in ["snap-id", "snap-size", "snap-revision", "developer-id"] {
                    if a.header_str(h).is_none() {
                        return Err(check(format!("snap-revision: {h} is required")));
                    }
                }
                let size = a.header_str("snap-size").unwrap_or("");
                let rev = a.header_str("snap-revision").unwrap_or("");
                if size.parse::<u64>().is_err()
                    || rev.parse::<u32>().map(|r| r == 0).unwrap_or(true)
                {
                    return Err(check(
                        "snap-revision: snap-size and snap-revision must be numbers (revision ≥ 1)",
                    ));
                }
                crate::digest::Sha3_384::from_base64url(
                    a.header_str("snap-sha3-384").unwrap_or(""),
                )
                .map_err(|e| check(format!("snap-revision: {e}")))?;
            }
            "snap-declaration" => {
                if !self.trusted_authorities.contains(a.authority_id()) {
                    return Err(check(format!(
                        "{:?} is not a trusted store authority",
                        a.authority_id()
                    )));
                }
                for h in ["snap-name", "publisher-id"] {
                    if a.header_str(h).is_none() {
                        return Err(check(format!("snap-declaration: {h} is required")));
                    }
                }
            }
            _ => {}
        }
        self.pin(&a, issuer);
        self.store(a);
        Ok(())
    }

    pub fn find(&self, kind: &str, key: &[&str]) -> Option<&Assertion> {
        let key: Vec<String> = key.iter().map(|s| s.to_string()).collect();
        self.assertions.get(&(kind.to_string(), key))
    }

    /// Trust an account-key as given, without a signature check, as snapd's trusted set is taken
    /// (its own roots are compiled in, not verified). Only for tests whose real roots' private
    /// parts, or their signers, are not published: snapd's `testrootorg`.
    #[cfg(test)]
    pub(crate) fn trust_key_as_given(&mut self, a: Assertion) -> Result<(), AssertError> {
        let (id, mut entry) = key_entry(&a)?;
        entry.trusted = true;
        self.trusted_authorities.insert(entry.account_id.clone());
        self.keys.insert(id, entry);
        self.store(a);
        Ok(())
    }

    pub fn is_trusted_authority(&self, account_id: &str) -> bool {
        self.trusted_authorities.contains(account_id)
    }
}
