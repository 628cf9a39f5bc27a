//! The assertion decoder, as a hostile store or a hostile `.assert` file feeds it: a stream is
//! split, every header read, and every signature parsed and checked (a forged one must fail, never
//! panic).
#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use snapshelf_snap::assert::{self, openpgp::RsaKey, Assertion, PublicKey};

/// The key every signature is checked against: a 2048-bit modulus that is not anyone's key. Checking
/// against the real 4096-bit root key spent nine tenths of the time in RSA arithmetic (not our code)
/// whenever a mutation kept the signed content; this key still takes every signature through the
/// decoding, the digest and the size checks. `openpgp` and the unit tests cover a check that passes.
fn check_key() -> &'static PublicKey {
    static KEY: OnceLock<PublicKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut n = vec![0xa5u8; 256];
        n[0] = 0xc3;
        n[255] = 0x01;
        let key = rsa::RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(&n),
            rsa::BigUint::from(65537u32),
        )
        .expect("a 2048-bit modulus with e = 65537 is a valid public key");
        let mut raw = vec![1u8];
        raw.extend_from_slice(&RsaKey { key }.to_packet());
        let body = base64::engine::general_purpose::STANDARD.encode(raw);
        PublicKey::from_body(body.as_bytes()).expect("the check key parses")
    })
}

fn exercise(a: &Assertion) {
    let _ = a.primary_key();
    let _ = a.timestamp();
    let _ = (a.type_name(), a.authority_id(), a.sign_key_id());
    let _ = (a.revision(), a.format());
    for (name, _) in a.headers() {
        let _ = a.header_str(name);
    }
    if a.type_name() == "account-key" {
        if let Ok(k) = PublicKey::from_body(a.body()) {
            let _ = k.key_id();
            let _ = k.to_body();
        }
    }
    let _ = a.verify_with(check_key());
    // What decodes must encode to something that decodes to the same assertion.
    let again = Assertion::decode(&a.encode()).expect("an accepted assertion re-decodes");
    assert_eq!(again.content(), a.content());
}

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = Assertion::decode(data) {
        exercise(&a);
    }
    if let Ok(list) = assert::decode_stream(data) {
        for a in &list {
            exercise(a);
        }
    }
});
