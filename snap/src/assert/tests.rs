use std::sync::OnceLock;

use super::*;

fn compat(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/compat/assertions")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| {
        panic!(
            "the real assertions are missing ({}): {e}; expected ../shared beside the checkout",
            p.display()
        )
    })
}

const ROOT_ID: &str = "-CvQKAwRQ5h3Ffn10FILJoEZUXOv6km9FwA80-Rcj-f-6jadQ89VRswHNiEB9Lxk";

#[test]
fn the_real_trust_root_decodes_reencodes_and_verifies() {
    let account_bytes = compat("canonical.account");
    let key_bytes = compat("canonical-root.account-key");
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
    let list = canonical_trusted();
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[1].encode(),
        compat("canonical-root.account-key")
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
    let account = compat("canonical.account");
    let key = compat("canonical-root.account-key");
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
    for name in [
        "developer1.account",
        "developer1.account-key",
        "testrootorg-store.account-key",
    ] {
        let a = Assertion::decode(&compat(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
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
