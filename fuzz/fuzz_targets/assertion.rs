//! The assertion decoder, as a hostile store or a hostile `.assert` file feeds it: a stream is
//! split, every header read, and every signature parsed and checked against the real store root
//! key (the checks run; a forged one must fail, never panic).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use snapshelf_snap::assert::{self, Assertion, PublicKey};

fn root_key() -> &'static PublicKey {
    static KEY: OnceLock<PublicKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let trusted = assert::canonical_trusted();
        let key = trusted
            .iter()
            .find(|a| a.type_name() == "account-key")
            .expect("the embedded trust root has an account-key");
        PublicKey::from_body(key.body()).expect("the embedded root key parses")
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
    let _ = a.verify_with(root_key());
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
