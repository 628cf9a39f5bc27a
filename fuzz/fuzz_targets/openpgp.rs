//! The OpenPGP packet parser: public-key packets (account-key bodies) and v4 signature packets
//! (assertion signatures), then a signature check, with bytes straight from the fuzzer.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use snapshelf_snap::assert::{self, openpgp};

/// The real store root key, as a packet parser result; what a parsed signature is checked against.
fn root_key() -> &'static openpgp::RsaKey {
    static KEY: OnceLock<openpgp::RsaKey> = OnceLock::new();
    KEY.get_or_init(|| {
        use base64::Engine as _;
        let trusted = assert::canonical_trusted();
        let body = trusted
            .iter()
            .find(|a| a.type_name() == "account-key")
            .expect("the embedded trust root has an account-key")
            .body()
            .to_vec();
        let clean: Vec<u8> = body
            .into_iter()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(clean)
            .expect("the embedded root key is base64");
        openpgp::RsaKey::from_packet(&raw[1..]).expect("the embedded root key parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = openpgp::read_packet(data);
    if let Ok(k) = openpgp::RsaKey::from_packet(data) {
        // A parsed key must write back to a packet that parses to the same key.
        let again = openpgp::RsaKey::from_packet(&k.to_packet()).expect("a parsed key re-parses");
        assert_eq!(again, k);
        let _ = k.openpgp_key_id();
    }
    if let Ok(sig) = openpgp::Signature::from_packet(data) {
        let _ = sig.verify(b"type: fuzz\n", root_key());
    }
});
