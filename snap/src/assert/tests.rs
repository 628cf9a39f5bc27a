use std::sync::OnceLock;

use super::*;

/// snapd's recorded assertions, read for one test.
struct Samples(std::path::PathBuf);

impl Samples {
    /// `None` (the test recorded as not run) when the samples are not beside the checkout.
    fn for_test(test: &str) -> Option<Samples> {
        crate::testdata::compat_dir(test).map(|d| Samples(d.join("assertions")))
    }

    fn read(&self, name: &str) -> Vec<u8> {
        let p = self.0.join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("reading the sample {}: {e}", p.display()))
    }
}

const ROOT_ID: &str = "-CvQKAwRQ5h3Ffn10FILJoEZUXOv6km9FwA80-Rcj-f-6jadQ89VRswHNiEB9Lxk";

#[test]
fn the_real_trust_root_decodes_reencodes_and_verifies() {
    let Some(s) = Samples::for_test("the_real_trust_root_decodes_reencodes_and_verifies") else {
        return;
    };
    let account_bytes = s.read("canonical.account");
    let key_bytes = s.read("canonical-root.account-key");
    let account = Assertion::decode(&account_bytes).unwrap();
    let key = Assertion::decode(&key_bytes).unwrap();
    assert_eq!(account.type_name(), "account");
    assert_eq!(account.header_str("validation"), Some("certified"));
    assert_eq!(key.primary_key(), vec![ROOT_ID.to_string()]);
    assert_eq!(key.revision(), 2);
    // Byte-identical re-encoding (the files end with one newline).
    assert_eq!(account.encode(), account_bytes.strip_suffix(b"\n").unwrap());
    assert_eq!(key.encode(), key_bytes.strip_suffix(b"\n").unwrap());
    let public = PublicKey::from_body(key.body()).unwrap();
    assert_eq!(public.key_id(), ROOT_ID);
    account.verify_with(&public).unwrap();
    key.verify_with(&public).unwrap();
    let db = Database::new(vec![account, key]).unwrap();
    assert!(db.is_trusted_authority("canonical"));
    assert!(db.find("account", &["canonical"]).is_some());
}

#[test]
fn the_embedded_root_is_the_real_one() {
    let Some(s) = Samples::for_test("the_embedded_root_is_the_real_one") else {
        return;
    };
    let list = canonical_trusted();
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[1].encode(),
        s.read("canonical-root.account-key")
            .strip_suffix(b"\n")
            .unwrap()
    );
    Database::new(list).unwrap();
}

/// Does this byte string decode and verify as a trusted root pair?
fn root_pair_verifies(account: &[u8], key: &[u8]) -> bool {
    let Ok(a) = Assertion::decode(account) else {
        return false;
    };
    let Ok(k) = Assertion::decode(key) else {
        return false;
    };
    Database::new(vec![a, k]).is_ok()
}

#[test]
fn every_one_byte_change_of_the_root_is_refused() {
    let Some(s) = Samples::for_test("every_one_byte_change_of_the_root_is_refused") else {
        return;
    };
    let account = s.read("canonical.account");
    let key = s.read("canonical-root.account-key");
    let content_len = |b: &[u8]| b.len() - 1; // the final newline is not part of the assertion
    for pos in 0..content_len(&account) {
        let mut t = account.clone();
        t[pos] = if t[pos] == b'A' { b'B' } else { b'A' };
        assert!(
            !root_pair_verifies(&t, &key),
            "account byte {pos} changed and still verifies"
        );
    }
    for pos in 0..content_len(&key) {
        let mut t = key.clone();
        t[pos] = if t[pos] == b'A' { b'B' } else { b'A' };
        assert!(
            !root_pair_verifies(&account, &t),
            "account-key byte {pos} changed and still verifies"
        );
    }
}

#[test]
fn snapds_test_authorities_decode() {
    let Some(s) = Samples::for_test("snapds_test_authorities_decode") else {
        return;
    };
    for name in [
        "developer1.account",
        "developer1.account-key",
        "testrootorg-store.account-key",
    ] {
        let a = Assertion::decode(&s.read(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        if a.type_name() == "account-key" {
            let k = PublicKey::from_body(a.body()).unwrap();
            assert_eq!(
                Some(k.key_id().as_str()),
                a.header_str("public-key-sha3-384"),
                "{name}"
            );
        }
    }
}

struct Chain {
    root: PrivateKey,
    store: PrivateKey,
    trusted: Vec<Assertion>,
    store_key: Assertion,
}

fn h(k: &str, v: &str) -> (String, HeaderValue) {
    (k.to_string(), HeaderValue::Str(v.to_string()))
}

/// One RSA-2048 chain for all tests (key generation is the slow part).
fn chain() -> &'static Chain {
    static C: OnceLock<Chain> = OnceLock::new();
    C.get_or_init(|| {
        let root = PrivateKey::generate(2048).unwrap();
        let store = PrivateKey::generate(2048).unwrap();
        let now = "2026-01-01T00:00:00Z";
        let account = sign(
            "account",
            vec![
                h("authority-id", "test"),
                h("account-id", "test"),
                h("display-name", "Test"),
                h("username", "test"),
                h("validation", "verified"),
                h("timestamp", now),
            ],
            b"",
            &root,
        )
        .unwrap();
        let key = |name: &str, k: &PrivateKey| {
            sign(
                "account-key",
                vec![
                    h("authority-id", "test"),
                    h("account-id", "test"),
                    h("name", name),
                    h("public-key-sha3-384", &k.public_key().key_id()),
                    h("since", now),
                ],
                k.public_key().to_body().as_bytes(),
                &root,
            )
            .unwrap()
        };
        let root_key = key("root", &root);
        let store_key = key("store", &store);
        Chain {
            trusted: vec![account, root_key],
            store_key,
            root,
            store,
        }
    })
}

fn revision(size: &str) -> Assertion {
    let digest = crate::digest::Sha3_384::of(b"a snap").to_base64url();
    sign(
        "snap-revision",
        vec![
            h("authority-id", "test"),
            h("snap-sha3-384", &digest),
            h("snap-id", "abcdefghijklmnopqrstuvwxyz012345"),
            h("snap-size", size),
            h("snap-revision", "7"),
            h("developer-id", "dev"),
            h("timestamp", "2026-02-01T00:00:00Z"),
        ],
        b"",
        &chain().store,
    )
    .unwrap()
}

#[test]
fn a_generated_chain_signs_and_verifies() {
    let c = chain();
    let mut db = Database::new(c.trusted.clone()).unwrap();
    let rev = revision("6");
    assert!(
        db.add(rev.clone()).is_err(),
        "the store key is not known yet"
    );
    db.add(c.store_key.clone()).unwrap();
    db.add(rev.clone()).unwrap();
    assert_eq!(
        db.find("snap-revision", &[rev.primary_key()[0].as_str()]),
        Some(&rev)
    );
    // Headers come out in snapd's order.
    let names: Vec<&str> = rev.headers().iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "type",
            "authority-id",
            "snap-sha3-384",
            "developer-id",
            "snap-id",
            "snap-revision",
            "snap-size",
            "timestamp",
            "sign-key-sha3-384"
        ]
    );
    // A stream round-trips.
    let stream = encode_stream(&[c.store_key.clone(), rev.clone()]);
    assert_eq!(
        decode_stream(&stream).unwrap(),
        vec![c.store_key.clone(), rev]
    );
}

#[test]
fn tampering_and_wrong_keys_fail() {
    let c = chain();
    let mut db = Database::new(c.trusted.clone()).unwrap();
    db.add(c.store_key.clone()).unwrap();
    let rev = revision("6");
    let text = String::from_utf8(rev.encode())
        .unwrap()
        .replace("snap-size: 6", "snap-size: 9");
    let tampered = Assertion::decode(text.as_bytes()).unwrap();
    assert!(matches!(db.add(tampered), Err(AssertError::Signature(_))));
    // Signed by the root key but claiming the store key: refused.
    let mut headers: Vec<(String, HeaderValue)> =
        rev.headers()[1..rev.headers().len() - 1].to_vec();
    headers.retain(|(k, _)| k != "type");
    let by_root = sign("snap-revision", headers, b"", &c.root).unwrap();
    let swapped = String::from_utf8(by_root.encode()).unwrap().replace(
        &c.root.public_key().key_id(),
        &c.store.public_key().key_id(),
    );
    assert!(db
        .add(Assertion::decode(swapped.as_bytes()).unwrap())
        .is_err());
    // A revision from an authority that is not trusted.
    let stranger = PrivateKey::generate(2048).unwrap();
    let other = sign(
        "snap-revision",
        vec![
            h("authority-id", "stranger"),
            h("snap-sha3-384", &"A".repeat(64)),
            h("snap-id", "x"),
            h("snap-size", "1"),
            h("snap-revision", "1"),
            h("developer-id", "d"),
            h("timestamp", "2026-02-01T00:00:00Z"),
        ],
        b"",
        &stranger,
    )
    .unwrap();
    assert!(db.add(other).is_err());
}

#[test]
fn headers_round_trip_with_lists_maps_and_multiline_text() {
    let c = chain();
    let a = sign(
        "snap-declaration",
        vec![
            h("authority-id", "test"),
            h("series", "16"),
            h("snap-id", "id1"),
            h("snap-name", "x"),
            h("publisher-id", "p"),
            h("timestamp", "2026-02-01T00:00:00Z"),
            (
                "refresh-control".into(),
                HeaderValue::List(vec![
                    HeaderValue::Str("a".into()),
                    HeaderValue::Str("b".into()),
                ]),
            ),
            (
                "plugs".into(),
                HeaderValue::Map(vec![(
                    "home".into(),
                    HeaderValue::Map(vec![(
                        "allow-auto-connection".into(),
                        HeaderValue::Str("true".into()),
                    )]),
                )]),
            ),
            h("notes", "line one\nline two"),
        ],
        b"a body\n\nwith a blank line",
        &c.store,
    )
    .unwrap();
    let back = Assertion::decode(&a.encode()).unwrap();
    assert_eq!(back, a);
    assert_eq!(back.header_str("notes"), Some("line one\nline two"));
    assert_eq!(back.body(), b"a body\n\nwith a blank line");
    assert_eq!(back.primary_key(), ["16", "id1"]);
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let c = chain();
    let good = c.store_key.encode();
    for len in 0..good.len() {
        let _ = Assertion::decode(&good[..len]);
    }
    for pos in (0..good.len()).step_by(7) {
        let mut b = good.clone();
        b[pos] ^= 0xff;
        let _ = Assertion::decode(&b).map(|a| a.verify_with(&c.root.public_key()));
    }
    for bad in [
        &b""[..],
        b"\n\n",
        b"type: account\n\nsig",
        b"type account\n\nx",
        b"type: account\nauthority-id: x\nsign-key-sha3-384: k\nbody-length: 99\n\nshort\n\nsig",
        b"type:\n  -\n\nsig",
    ] {
        assert!(
            Assertion::decode(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(PublicKey::from_body(b"not base64!").is_err());
    assert!(PublicKey::from_body(b"AA==").is_err());
}

#[test]
fn private_keys_round_trip_through_pem() {
    let k = &chain().store;
    let pem = k.to_pkcs8_pem();
    let back = PrivateKey::from_pkcs8_pem(&pem).unwrap();
    assert_eq!(back.public_key(), k.public_key());
    assert!(PrivateKey::from_pkcs8_pem("nonsense").is_err());
    assert!(PrivateKey::generate(1024).is_err());
}

/// A developer's account, and an account-key for it signed by the store: what the real store
/// gives every developer, so the database of every client knows such a key.
fn developer(c: &Chain, id: &str, key: &PrivateKey) -> (Assertion, Assertion) {
    let account = sign(
        "account",
        vec![
            h("authority-id", "test"),
            h("account-id", id),
            h("display-name", id),
            h("username", id),
            h("validation", "unproven"),
            h("timestamp", "2026-01-02T00:00:00Z"),
        ],
        b"",
        &c.store,
    )
    .unwrap();
    let account_key = sign(
        "account-key",
        vec![
            h("authority-id", "test"),
            h("account-id", id),
            h("name", "default"),
            h("public-key-sha3-384", &key.public_key().key_id()),
            h("since", "2026-01-02T00:00:00Z"),
        ],
        key.public_key().to_body().as_bytes(),
        &c.root,
    )
    .unwrap();
    (account, account_key)
}

fn minted_key(authority: &str, account: &str, key: &PrivateKey, by: &PrivateKey) -> Assertion {
    sign(
        "account-key",
        vec![
            h("authority-id", authority),
            h("account-id", account),
            h("name", "minted"),
            h("public-key-sha3-384", &key.public_key().key_id()),
            h("since", "2026-01-03T00:00:00Z"),
        ],
        key.public_key().to_body().as_bytes(),
        by,
    )
    .unwrap()
}

fn declaration(by: &PrivateKey) -> Assertion {
    sign(
        "snap-declaration",
        vec![
            h("authority-id", "test"),
            h("series", "16"),
            h("snap-id", "abcdefghijklmnopqrstuvwxyz012345"),
            h("snap-name", "victim"),
            h("publisher-id", "mallory"),
            h("timestamp", "2026-02-01T00:00:00Z"),
        ],
        b"",
        by,
    )
    .unwrap()
}

fn revision_by(by: &PrivateKey) -> Assertion {
    sign(
        "snap-revision",
        vec![
            h("authority-id", "test"),
            h(
                "snap-sha3-384",
                &crate::digest::Sha3_384::of(b"evil").to_base64url(),
            ),
            h("snap-id", "abcdefghijklmnopqrstuvwxyz012345"),
            h("snap-size", "4"),
            h("snap-revision", "99"),
            h("developer-id", "mallory"),
            h("timestamp", "2026-02-01T00:00:00Z"),
        ],
        b"",
        by,
    )
    .unwrap()
}

/// The attack of issue 17 (2): a developer whose key the database knows mints an account-key for
/// the store's authority and signs a snap-declaration and a snap-revision with it. Every link of
/// the forged chain must be refused, and nothing signed by the minted key accepted.
#[test]
fn a_forged_chain_from_a_developer_key_is_refused() {
    let c = chain();
    let mallory = PrivateKey::generate(2048).unwrap();
    let minted = PrivateKey::generate(2048).unwrap();
    let mut db = Database::new(c.trusted.clone()).unwrap();
    db.add(c.store_key.clone()).unwrap();
    let (account, account_key) = developer(c, "mallory", &mallory);
    db.add(account).unwrap();
    db.add(account_key).unwrap();

    // The developer as authority, the store as the key's account: signature fine, authority not
    // trusted.
    let forged = minted_key("mallory", "test", &minted, &mallory);
    let err = db.add(forged).unwrap_err().to_string();
    assert!(err.contains("directly trusted authority"), "{err}");
    // Claiming the store's authority outright: the signing key is not the store's.
    let forged = minted_key("test", "test", &minted, &mallory);
    let err = db.add(forged).unwrap_err().to_string();
    assert!(err.contains("belongs to"), "{err}");
    // A key for the developer's own account, minted by the developer: refused all the same.
    let forged = minted_key("mallory", "mallory", &minted, &mallory);
    assert!(db.add(forged).is_err());
    assert!(db
        .find("account-key", &[minted.public_key().key_id().as_str()])
        .is_none());

    // What the minted key signs in the store's name is refused.
    for a in [declaration(&minted), revision_by(&minted)] {
        let err = db.add(a.clone()).unwrap_err().to_string();
        assert!(
            err.contains("no known account-key"),
            "{}: {err}",
            a.type_name()
        );
    }
    // And so is what the developer's real key signs in the store's name.
    for a in [declaration(&mallory), revision_by(&mallory)] {
        assert!(db.add(a).is_err());
    }
    // An account signed by a developer (a "verified" publisher of their own making) is refused.
    let fake_account = sign(
        "account",
        vec![
            h("authority-id", "mallory"),
            h("account-id", "famous"),
            h("display-name", "Famous"),
            h("username", "famous"),
            h("validation", "verified"),
            h("timestamp", "2026-01-02T00:00:00Z"),
        ],
        b"",
        &mallory,
    )
    .unwrap();
    let err = db.add(fake_account).unwrap_err().to_string();
    assert!(err.contains("directly trusted authority"), "{err}");

    // The store's own chain still signs both.
    db.add(declaration(&c.store)).unwrap();
    db.add(revision_by(&c.store)).unwrap();
}

#[test]
fn account_keys_need_their_account_and_cannot_displace_others() {
    let c = chain();
    let dev = PrivateKey::generate(2048).unwrap();
    let mut db = Database::new(c.trusted.clone()).unwrap();
    db.add(c.store_key.clone()).unwrap();
    let (account, account_key) = developer(c, "dev", &dev);
    let err = db.add(account_key.clone()).unwrap_err().to_string();
    assert!(err.contains("no matching account assertion"), "{err}");
    db.add(account).unwrap();
    db.add(account_key).unwrap();
    // The trusted root cannot be re-described, even by its own authority.
    let again = minted_key("test", "dev", &c.root, &c.root);
    let err = db.add(again).unwrap_err().to_string();
    assert!(err.contains("trusted root"), "{err}");
    // A second key of the same account under a name it already has.
    let other = PrivateKey::generate(2048).unwrap();
    let dup = sign(
        "account-key",
        vec![
            h("authority-id", "test"),
            h("account-id", "dev"),
            h("name", "default"),
            h("public-key-sha3-384", &other.public_key().key_id()),
            h("since", "2026-01-02T00:00:00Z"),
        ],
        other.public_key().to_body().as_bytes(),
        &c.root,
    )
    .unwrap();
    let err = db.add(dup).unwrap_err().to_string();
    assert!(err.contains("already has a key named"), "{err}");
}

/// snapd's test authority chain as recorded: the test store's key (its own root is not
/// published, so it is trusted as given, as snapd's compiled-in roots are) vouches for
/// developer1's account and key, which then verify under the new rules.
#[test]
fn snapds_recorded_developer_chain_verifies() {
    let Some(s) = Samples::for_test("snapds_recorded_developer_chain_verifies") else {
        return;
    };
    let store_key = Assertion::decode(&s.read("testrootorg-store.account-key")).unwrap();
    let mut db = Database::new(canonical_trusted()).unwrap();
    db.trust_key_as_given(store_key).unwrap();
    let account = Assertion::decode(&s.read("developer1.account")).unwrap();
    let key = Assertion::decode(&s.read("developer1.account-key")).unwrap();
    // Order matters: the key needs its account.
    assert!(db.add(key.clone()).is_err());
    db.add(account).unwrap();
    db.add(key).unwrap();
    assert!(db
        .find(
            "account-key",
            &["EAD4DbLxK_kn0gzNCXOs3kd6DeMU3f-L6BEsSEuJGBqCORR0gXkdDxMbOm11mRFu"]
        )
        .is_some());
    assert!(!db.is_trusted_authority("developer1"));
}
