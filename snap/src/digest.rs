//! SHA3-384 digests of snap files: lowercase hex in store JSON, unpadded base64url in assertions.

use std::io::Read;
use std::path::Path;

use base64::Engine as _;
use sha3::{Digest, Sha3_384 as Sha3};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("a SHA3-384 digest in hex is 96 hex digits, got {0:?}")]
    Hex(String),
    #[error("a SHA3-384 digest in base64url is 64 characters without padding, got {0:?}")]
    Base64(String),
}

/// A SHA3-384 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha3_384(pub [u8; 48]);

impl Sha3_384 {
    pub fn of(bytes: &[u8]) -> Self {
        let mut h = Hasher::new();
        h.update(bytes);
        h.finalize()
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Result<Self, DigestError> {
        let err = || DigestError::Hex(text.chars().take(100).collect());
        if text.len() != 96 {
            return Err(err());
        }
        let bytes = hex::decode(text).map_err(|_| err())?;
        Ok(Sha3_384(bytes.try_into().map_err(|_| err())?))
    }

    pub fn to_base64url(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0)
    }

    pub fn from_base64url(text: &str) -> Result<Self, DigestError> {
        let err = || DigestError::Base64(text.chars().take(100).collect());
        if text.len() != 64 {
            return Err(err());
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| err())?;
        Ok(Sha3_384(bytes.try_into().map_err(|_| err())?))
    }
}

impl std::fmt::Display for Sha3_384 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::fmt::Debug for Sha3_384 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sha3_384({})", self.to_hex())
    }
}

/// A streaming SHA3-384 hasher (also an `io::Write`, to hash what is copied through it).
#[derive(Clone, Default)]
pub struct Hasher(Sha3);

impl Hasher {
    pub fn new() -> Self {
        Hasher(Sha3::new())
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finalize(self) -> Sha3_384 {
        Sha3_384(self.0.finalize().into())
    }
}

impl std::io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// 1 MiB: large reads keep the hash, not the syscalls, the bottleneck.
const BUF: usize = 1 << 20;

/// Hash everything `r` yields; returns the digest and the byte count.
pub fn digest_reader(mut r: impl Read) -> std::io::Result<(Sha3_384, u64)> {
    let mut h = Hasher::new();
    let mut buf = vec![0u8; BUF];
    let mut n = 0u64;
    loop {
        let k = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((h.finalize(), n))
}

pub fn digest_file(path: &Path) -> std::io::Result<(Sha3_384, u64)> {
    digest_reader(std::fs::File::open(path)?)
}

/// A writer that hashes what passes through it (downloads hash while they stream).
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    written: u64,
}

impl<W: std::io::Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self::resume(inner, Hasher::new(), 0)
    }

    /// Continue a hash over bytes already written elsewhere (a resumed download).
    pub fn resume(inner: W, hasher: Hasher, written: u64) -> Self {
        HashingWriter {
            inner,
            hasher,
            written,
        }
    }

    pub fn finish(self) -> (W, Sha3_384, u64) {
        (self.inner, self.hasher.finalize(), self.written)
    }
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn known_vectors() {
        assert_eq!(
            Sha3_384::of(b"").to_hex(),
            "0c63a75b845e4f7d01107d852e4c2485c51a50aaaa94fc61995e71bbee983a2ac3713831264adb47fb6bd1e058d5f004"
        );
        assert_eq!(
            Sha3_384::of(b"abc").to_hex(),
            "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b298d88cea927ac7f539f1edf228376d25"
        );
    }

    #[test]
    fn hex_and_base64url_round_trip() {
        let hex = "b07bdb78e762c2e6020c75fafc92055b323a6f8da3ab42a3963da5ade386aba11f77e3c8f919b8aa23f3aa5c06c844f9";
        let d = Sha3_384::from_hex(hex).unwrap();
        let b = d.to_base64url();
        assert_eq!(b.len(), 64);
        assert!(!b.contains('=') && !b.contains('+') && !b.contains('/'));
        assert_eq!(Sha3_384::from_base64url(&b).unwrap(), d);
        assert_eq!(d.to_hex(), hex);
        assert!(Sha3_384::from_hex("xyz").is_err());
        assert!(Sha3_384::from_hex(&"g".repeat(96)).is_err());
        assert!(Sha3_384::from_base64url(&"!".repeat(64)).is_err());
        assert!(Sha3_384::from_base64url("abc").is_err());
    }

    #[test]
    fn streaming_equals_one_shot() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let (d, n) = digest_reader(&data[..]).unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(d, Sha3_384::of(&data));
        // Resuming: the first half hashed earlier, the rest through the writer.
        let mut h = Hasher::new();
        h.update(&data[..1000]);
        let mut w = HashingWriter::resume(Vec::new(), h, 1000);
        w.write_all(&data[1000..]).unwrap();
        let (out, d2, n2) = w.finish();
        assert_eq!(out.len(), data.len() - 1000);
        assert_eq!((d2, n2), (d, n));
    }
}
