//! A database of assertions that checks each one before accepting it: signed by a known
//! account-key of its authority, valid at its timestamp, signature verified, and the type's own
//! consistency rules. Trusted roots are given at creation.

use std::collections::{BTreeSet, HashMap};

use super::{parse_time, AssertError, Assertion, PublicKey};

struct KeyEntry {
    account_id: String,
    key: PublicKey,
    since: time::OffsetDateTime,
    until: Option<time::OffsetDateTime>,
    /// The issuer id the key's signatures carry. It sits in the unsigned part of the OpenPGP
    /// packet, so it is pinned at the key's first verified signature and must not vary after:
    /// otherwise those bytes could be changed without anyone noticing.
    issuer: std::cell::Cell<Option<Option<[u8; 8]>>>,
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
        .ok_or_else(|| check("account-key: account-id is required"))?
        .to_string();
    Ok((
        id,
        KeyEntry {
            account_id,
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
                let (id, entry) = key_entry(&a)?;
                let signer = a.sign_key_id().to_string();
                let ok = if signer == id {
                    match a.verify_issuer(&entry.key) {
                        Ok(issuer) if entry.account_id == a.authority_id() => {
                            entry.issuer.set(Some(issuer));
                            true
                        }
                        _ => false,
                    }
                } else {
                    db.keys.contains_key(&signer) && db.verify(&a).is_ok()
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
            db.verify(&a)?;
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

    /// Check the signature of `a` with a known key of its authority, valid at its time.
    fn verify(&self, a: &Assertion) -> Result<(), AssertError> {
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
        match entry.issuer.get() {
            None => entry.issuer.set(Some(issuer)),
            Some(pinned) if pinned == issuer => {}
            Some(_) => {
                return Err(AssertError::Signature(
                    "the signature names another issuer than the key's other signatures".into(),
                ))
            }
        }
        Ok(())
    }

    /// Check and keep `a`.
    pub fn add(&mut self, a: Assertion) -> Result<(), AssertError> {
        self.verify(&a)?;
        match a.type_name() {
            "account-key" => {
                let (id, entry) = key_entry(&a)?;
                self.keys.insert(id, entry);
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
        self.store(a);
        Ok(())
    }

    pub fn find(&self, kind: &str, key: &[&str]) -> Option<&Assertion> {
        let key: Vec<String> = key.iter().map(|s| s.to_string()).collect();
        self.assertions.get(&(kind.to_string(), key))
    }

    pub fn is_trusted_authority(&self, account_id: &str) -> bool {
        self.trusted_authorities.contains(account_id)
    }
}
