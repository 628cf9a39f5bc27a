//! The small part of OpenPGP that assertions use: v4 RSA public-key packets and v4 signature
//! packets with SHA-256/SHA-512. Written here rather than taken from an OpenPGP crate because key
//! ids depend on the exact bytes of packets rebuilt with snapd's fixed creation time, and nothing
//! else of OpenPGP (armour, keyrings, encryption) is wanted.

use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256, Sha512};

/// snapd rebuilds every public key packet with this creation time (2016-01-01T00:00:00Z) before
/// computing key ids and fingerprints.
pub const FIXED_CREATION_TIME: u32 = 1_451_606_400;

const TAG_SIGNATURE: u8 = 2;
const TAG_PUBLIC_KEY: u8 = 6;
const ALGO_RSA: u8 = 1;
const HASH_SHA256: u8 = 8;
const HASH_SHA512: u8 = 10;
const SUB_CREATION_TIME: u8 = 2;
const SUB_ISSUER: u8 = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PacketError(pub String);

fn perr(m: impl Into<String>) -> PacketError {
    PacketError(m.into())
}

fn new_format_header(tag: u8, len: usize, out: &mut Vec<u8>) {
    out.push(0xC0 | tag);
    if len < 192 {
        out.push(len as u8);
    } else if len < 8384 {
        let l = len - 192;
        out.push(((l >> 8) as u8) + 192);
        out.push((l & 0xff) as u8);
    } else {
        out.push(0xff);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// Split one packet off `data`: (tag, body, rest). Old and new header formats.
pub fn read_packet(data: &[u8]) -> Result<(u8, &[u8], &[u8]), PacketError> {
    let first = *data.first().ok_or_else(|| perr("empty packet"))?;
    if first & 0x80 == 0 {
        return Err(perr("not an OpenPGP packet"));
    }
    let (tag, len, hdr): (u8, usize, usize) = if first & 0x40 != 0 {
        let tag = first & 0x3f;
        let b = |i: usize| {
            data.get(i)
                .copied()
                .ok_or_else(|| perr("truncated packet header"))
        };
        let l0 = b(1)? as usize;
        if l0 < 192 {
            (tag, l0, 2)
        } else if l0 < 224 {
            (tag, ((l0 - 192) << 8) + b(2)? as usize + 192, 3)
        } else if l0 == 255 {
            let l = u32::from_be_bytes([b(2)?, b(3)?, b(4)?, b(5)?]) as usize;
            (tag, l, 6)
        } else {
            return Err(perr("partial-length packets are not supported"));
        }
    } else {
        let tag = (first >> 2) & 0x0f;
        let b = |i: usize| {
            data.get(i)
                .copied()
                .ok_or_else(|| perr("truncated packet header"))
        };
        match first & 3 {
            0 => (tag, b(1)? as usize, 2),
            1 => (tag, u16::from_be_bytes([b(1)?, b(2)?]) as usize, 3),
            2 => (
                tag,
                u32::from_be_bytes([b(1)?, b(2)?, b(3)?, b(4)?]) as usize,
                5,
            ),
            _ => return Err(perr("indeterminate-length packets are not supported")),
        }
    };
    let end = hdr
        .checked_add(len)
        .filter(|e| *e <= data.len())
        .ok_or_else(|| perr("truncated packet"))?;
    Ok((tag, &data[hdr..end], &data[end..]))
}

fn read_mpi(data: &[u8]) -> Result<(BigUint, &[u8]), PacketError> {
    if data.len() < 2 {
        return Err(perr("truncated MPI"));
    }
    let bits = u16::from_be_bytes([data[0], data[1]]) as usize;
    let bytes = bits.div_ceil(8);
    let v = data
        .get(2..2 + bytes)
        .ok_or_else(|| perr("truncated MPI"))?;
    Ok((BigUint::from_bytes_be(v), &data[2 + bytes..]))
}

fn write_mpi(n: &BigUint, out: &mut Vec<u8>) {
    let bytes = n.to_bytes_be();
    let bits = if bytes == [0] {
        0
    } else {
        bytes.len() * 8 - bytes[0].leading_zeros() as usize
    };
    out.extend_from_slice(&(bits as u16).to_be_bytes());
    if bits > 0 {
        out.extend_from_slice(&bytes);
    }
}

/// An RSA public key as assertions carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaKey {
    pub key: RsaPublicKey,
}

impl RsaKey {
    /// Parse a v4 public-key packet (the bytes after the `0x01` of an account-key body).
    pub fn from_packet(data: &[u8]) -> Result<RsaKey, PacketError> {
        let (tag, body, rest) = read_packet(data)?;
        if tag != TAG_PUBLIC_KEY {
            return Err(perr(format!(
                "expected a public-key packet, found tag {tag}"
            )));
        }
        if !rest.is_empty() {
            return Err(perr("trailing bytes after the public-key packet"));
        }
        if body.len() < 6 || body[0] != 4 {
            return Err(perr("only v4 public keys are supported"));
        }
        if body[5] != ALGO_RSA {
            return Err(perr(format!(
                "only RSA keys are supported (algorithm {})",
                body[5]
            )));
        }
        let (n, r) = read_mpi(&body[6..])?;
        let (e, r) = read_mpi(r)?;
        if !r.is_empty() {
            return Err(perr("trailing bytes in the public-key packet"));
        }
        let key = RsaPublicKey::new_with_max_size(n, e, 16384)
            .map_err(|e| perr(format!("invalid RSA key: {e}")))?;
        Ok(RsaKey { key })
    }

    fn packet_body(&self) -> Vec<u8> {
        let mut body = vec![4];
        body.extend_from_slice(&FIXED_CREATION_TIME.to_be_bytes());
        body.push(ALGO_RSA);
        write_mpi(self.key.n(), &mut body);
        write_mpi(self.key.e(), &mut body);
        body
    }

    /// The serialised public-key packet with snapd's fixed creation time.
    pub fn to_packet(&self) -> Vec<u8> {
        let body = self.packet_body();
        let mut out = Vec::new();
        new_format_header(TAG_PUBLIC_KEY, body.len(), &mut out);
        out.extend_from_slice(&body);
        out
    }

    /// The OpenPGP v4 key id: the low 64 bits of the SHA-1 fingerprint.
    pub fn openpgp_key_id(&self) -> [u8; 8] {
        use sha1::Digest as _;
        let body = self.packet_body();
        let mut h = sha1::Sha1::new();
        h.update([0x99]);
        h.update((body.len() as u16).to_be_bytes());
        h.update(&body);
        let fp = h.finalize();
        fp[12..20].try_into().expect("20-byte fingerprint")
    }
}

/// A parsed v4 signature packet.
#[derive(Debug, Clone)]
pub struct Signature {
    pub hash_algo: u8,
    /// Version through the hashed subpackets: what the hash trailer covers.
    hashed_part: Vec<u8>,
    pub issuer: Option<[u8; 8]>,
    pub created: Option<u32>,
    left16: [u8; 2],
    value: BigUint,
}

fn parse_subpackets(mut data: &[u8], sig: &mut Signature) -> Result<(), PacketError> {
    while !data.is_empty() {
        let l0 = data[0] as usize;
        let (len, hdr) = if l0 < 192 {
            (l0, 1)
        } else if l0 < 255 {
            let b1 = *data.get(1).ok_or_else(|| perr("truncated subpacket"))? as usize;
            (((l0 - 192) << 8) + b1 + 192, 2)
        } else {
            let b = data.get(1..5).ok_or_else(|| perr("truncated subpacket"))?;
            (u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize, 5)
        };
        let body = data
            .get(hdr..hdr + len)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| perr("truncated subpacket"))?;
        let kind = body[0] & 0x7f;
        match kind {
            SUB_CREATION_TIME if body.len() == 5 => {
                sig.created = Some(u32::from_be_bytes([body[1], body[2], body[3], body[4]]));
            }
            SUB_ISSUER if body.len() == 9 => {
                sig.issuer = Some(body[1..9].try_into().expect("8 bytes"))
            }
            _ if body[0] & 0x80 != 0 => {
                return Err(perr(format!("unknown critical subpacket {kind}")))
            }
            _ => {}
        }
        data = &data[hdr + len..];
    }
    Ok(())
}

impl Signature {
    pub fn from_packet(data: &[u8]) -> Result<Signature, PacketError> {
        let (tag, body, rest) = read_packet(data)?;
        if tag != TAG_SIGNATURE {
            return Err(perr(format!(
                "expected a signature packet, found tag {tag}"
            )));
        }
        if !rest.is_empty() {
            return Err(perr("trailing bytes after the signature packet"));
        }
        if body.len() < 6 || body[0] != 4 {
            return Err(perr("only v4 signatures are supported"));
        }
        if body[1] != 0 {
            return Err(perr("only binary-document signatures are supported"));
        }
        if body[2] != ALGO_RSA {
            return Err(perr("only RSA signatures are supported"));
        }
        let hashed_len = u16::from_be_bytes([body[4], body[5]]) as usize;
        let hashed_end = 6 + hashed_len;
        let hashed = body
            .get(6..hashed_end)
            .ok_or_else(|| perr("truncated hashed subpackets"))?;
        let ul = body
            .get(hashed_end..hashed_end + 2)
            .ok_or_else(|| perr("truncated signature"))?;
        let unhashed_len = u16::from_be_bytes([ul[0], ul[1]]) as usize;
        let un_start = hashed_end + 2;
        let unhashed = body
            .get(un_start..un_start + unhashed_len)
            .ok_or_else(|| perr("truncated unhashed subpackets"))?;
        let after = &body[un_start + unhashed_len..];
        if after.len() < 2 {
            return Err(perr("truncated signature"));
        }
        let (value, r) = read_mpi(&after[2..])?;
        if !r.is_empty() {
            return Err(perr("trailing bytes in the signature"));
        }
        let mut sig = Signature {
            hash_algo: body[3],
            hashed_part: body[..hashed_end].to_vec(),
            issuer: None,
            created: None,
            left16: [after[0], after[1]],
            value,
        };
        parse_subpackets(hashed, &mut sig)?;
        let mut unhashed_only = sig.clone();
        parse_subpackets(unhashed, &mut unhashed_only)?;
        sig.issuer = sig.issuer.or(unhashed_only.issuer);
        Ok(sig)
    }

    fn trailer(hashed_part: &[u8]) -> Vec<u8> {
        let mut t = hashed_part.to_vec();
        t.extend_from_slice(&[0x04, 0xff]);
        t.extend_from_slice(&(hashed_part.len() as u32).to_be_bytes());
        t
    }

    /// Check the signature of `content` with `key`.
    pub fn verify(&self, content: &[u8], key: &RsaKey) -> Result<(), PacketError> {
        if self.hashed_part.is_empty() {
            return Err(perr("empty signature"));
        }
        let trailer = Self::trailer(&self.hashed_part);
        let (digest, scheme) = match self.hash_algo {
            HASH_SHA512 => {
                let mut h = Sha512::new();
                h.update(content);
                h.update(&trailer);
                (h.finalize().to_vec(), Pkcs1v15Sign::new::<Sha512>())
            }
            HASH_SHA256 => {
                let mut h = Sha256::new();
                h.update(content);
                h.update(&trailer);
                (h.finalize().to_vec(), Pkcs1v15Sign::new::<Sha256>())
            }
            other => return Err(perr(format!("unsupported hash algorithm {other}"))),
        };
        if digest[..2] != self.left16 {
            return Err(perr("signature does not match the content"));
        }
        // The key is chosen by the assertion's sign-key-sha3-384, as snapd does; the issuer
        // subpacket is informational (the real root's does not match its rebuilt fingerprint).
        let size = key.key.size();
        let mut sig = self.value.to_bytes_be();
        if sig.len() > size {
            return Err(perr("signature is longer than the key"));
        }
        // The MPI drops leading zero bytes; RSA wants the full modulus width.
        let mut padded = vec![0u8; size - sig.len()];
        padded.append(&mut sig);
        key.key
            .verify(scheme, &digest, &padded)
            .map_err(|_| perr("signature does not verify"))
    }
}

/// Sign `content`: a v4 binary signature packet, RSA PKCS#1 v1.5 over SHA-512, with the creation
/// time and the issuer key id in the hashed area.
pub fn sign(
    content: &[u8],
    key: &RsaPrivateKey,
    public: &RsaKey,
    created: u32,
) -> Result<Vec<u8>, PacketError> {
    let mut hashed_sub = Vec::new();
    hashed_sub.extend_from_slice(&[5, SUB_CREATION_TIME]);
    hashed_sub.extend_from_slice(&created.to_be_bytes());
    hashed_sub.extend_from_slice(&[9, SUB_ISSUER]);
    hashed_sub.extend_from_slice(&public.openpgp_key_id());
    let mut hashed_part = vec![4, 0, ALGO_RSA, HASH_SHA512];
    hashed_part.extend_from_slice(&(hashed_sub.len() as u16).to_be_bytes());
    hashed_part.extend_from_slice(&hashed_sub);
    let mut h = Sha512::new();
    h.update(content);
    h.update(Signature::trailer(&hashed_part));
    let digest = h.finalize();
    let value = key
        .sign_with_rng(
            &mut rand::thread_rng(),
            Pkcs1v15Sign::new::<Sha512>(),
            &digest,
        )
        .map_err(|e| perr(format!("cannot sign: {e}")))?;
    let mut body = hashed_part;
    body.extend_from_slice(&0u16.to_be_bytes()); // no unhashed subpackets
    body.extend_from_slice(&digest[..2]);
    write_mpi(&BigUint::from_bytes_be(&value), &mut body);
    let mut out = Vec::new();
    new_format_header(TAG_SIGNATURE, body.len(), &mut out);
    out.extend_from_slice(&body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_headers_round_trip() {
        for len in [0usize, 1, 191, 192, 1000, 8383, 8384, 70000] {
            let mut out = Vec::new();
            new_format_header(6, len, &mut out);
            out.extend(std::iter::repeat_n(7u8, len));
            let (tag, body, rest) = read_packet(&out).unwrap();
            assert_eq!((tag, body.len(), rest.len()), (6, len, 0));
        }
        assert!(read_packet(&[]).is_err());
        assert!(read_packet(&[0xC6, 200]).is_err());
        assert!(read_packet(&[0x00]).is_err());
    }

    #[test]
    fn mpis_round_trip() {
        for v in [0u64, 1, 255, 256, 65537] {
            let mut out = Vec::new();
            write_mpi(&BigUint::from(v), &mut out);
            let (back, rest) = read_mpi(&out).unwrap();
            assert_eq!(back, BigUint::from(v));
            assert!(rest.is_empty());
        }
    }
}
