//! Assertions in snapd's wire format: `HEADERS "\n\n" [BODY "\n\n"] SIGNATURE`, signed with an
//! OpenPGP v4 RSA signature over SHA-512, keys named by the SHA3-384 of their public-key packet.
//! Decode, encode, sign and verify, and a [`Database`] that checks signatures up to trusted roots.

mod database;
pub mod openpgp;

use std::fmt;

use base64::Engine as _;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::RsaPrivateKey;

pub use database::Database;
use openpgp::RsaKey;

const MAX_HEADERS: usize = 128 * 1024;
const MAX_BODY: usize = 2 * 1024 * 1024;
const MAX_SIGNATURE: usize = 128 * 1024;
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertError {
    #[error("malformed assertion: {0}")]
    Format(String),
    #[error("header {header:?}: {message}")]
    Header { header: String, message: String },
    #[error("assertion signature: {0}")]
    Signature(String),
    #[error("{0}")]
    Check(String),
    #[error("key: {0}")]
    Key(String),
}

fn format_err(m: impl Into<String>) -> AssertError {
    AssertError::Format(m.into())
}

fn header_err(h: &str, m: impl Into<String>) -> AssertError {
    AssertError::Header {
        header: h.to_string(),
        message: m.into(),
    }
}

/// A header value: text, a list, or a map, nested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    Str(String),
    List(Vec<HeaderValue>),
    Map(Vec<(String, HeaderValue)>),
}

impl HeaderValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            HeaderValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// The primary-key headers of each type, in order; optional ones with their default.
fn primary_keys(kind: &str) -> &'static [(&'static str, Option<&'static str>)] {
    match kind {
        "account" => &[("account-id", None)],
        "account-key" => &[("public-key-sha3-384", None)],
        "snap-declaration" => &[("series", None), ("snap-id", None)],
        "snap-revision" => &[
            ("snap-sha3-384", None),
            ("provenance", Some("global-upload")),
        ],
        "snap-build" => &[("snap-sha3-384", None)],
        "snap-developer" => &[("snap-id", None), ("publisher-id", None)],
        "base-declaration" => &[("series", None)],
        "validation-set" => &[
            ("series", None),
            ("account-id", None),
            ("name", None),
            ("sequence", None),
        ],
        "model" => &[("series", None), ("brand-id", None), ("model", None)],
        "serial" => &[("brand-id", None), ("model", None), ("serial", None)],
        "store" => &[("store", None)],
        _ => &[],
    }
}

/// A decoded (or freshly signed) assertion. Its encoding is kept byte for byte.
#[derive(Clone, PartialEq, Eq)]
pub struct Assertion {
    headers: Vec<(String, HeaderValue)>,
    body: Vec<u8>,
    /// Everything the signature covers.
    content: Vec<u8>,
    /// The signature text (base64, as written).
    signature: Vec<u8>,
}

impl fmt::Debug for Assertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Assertion({} {:?})",
            self.type_name(),
            self.primary_key()
        )
    }
}

// --- header text ------------------------------------------------------------------------------------

fn check_name(name: &str) -> Result<(), AssertError> {
    let ok = !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format_err(format!("invalid header name {name:?}")))
    }
}

/// Parse the value of `name` whose first line (after `name:`) is `first`, continuing at `lines[*i]`,
/// at indentation `indent`.
fn parse_value(
    name: &str,
    first: &str,
    lines: &[&str],
    i: &mut usize,
    indent: usize,
    depth: usize,
) -> Result<HeaderValue, AssertError> {
    if depth > MAX_DEPTH {
        return Err(header_err(name, "nested too deeply"));
    }
    if let Some(v) = first.strip_prefix(' ') {
        if v.is_empty() {
            return Err(header_err(name, "empty value"));
        }
        return Ok(HeaderValue::Str(v.to_string()));
    }
    if !first.is_empty() {
        return Err(header_err(name, "expected a space after ':'"));
    }
    let pad = |n: usize| " ".repeat(n);
    let next = lines
        .get(*i)
        .copied()
        .ok_or_else(|| header_err(name, "value missing"))?;
    let text_prefix = pad(indent + 4);
    let list_prefix = format!("{}-", pad(indent + 2));
    let map_prefix = pad(indent + 2);
    if next.starts_with(&list_prefix) {
        let mut items = Vec::new();
        while let Some(line) = lines.get(*i) {
            let Some(rest) = line.strip_prefix(&list_prefix) else {
                break;
            };
            *i += 1;
            items.push(parse_value(name, rest, lines, i, indent + 2, depth + 1)?);
        }
        return Ok(HeaderValue::List(items));
    }
    if next.starts_with(&text_prefix) {
        let mut parts = Vec::new();
        while let Some(line) = lines.get(*i) {
            let Some(rest) = line.strip_prefix(&text_prefix) else {
                break;
            };
            parts.push(rest);
            *i += 1;
        }
        return Ok(HeaderValue::Str(parts.join("\n")));
    }
    if let Some(rest) = next.strip_prefix(&map_prefix) {
        if !rest.starts_with(' ') {
            let mut entries: Vec<(String, HeaderValue)> = Vec::new();
            while let Some(line) = lines.get(*i) {
                let Some(rest) = line.strip_prefix(&map_prefix) else {
                    break;
                };
                if rest.starts_with(' ') || rest.starts_with('-') {
                    break;
                }
                let (k, v) = rest
                    .split_once(':')
                    .ok_or_else(|| header_err(name, format!("malformed map entry {rest:?}")))?;
                *i += 1;
                if entries.iter().any(|(e, _)| e == k) {
                    return Err(header_err(name, format!("repeated map key {k:?}")));
                }
                let value = parse_value(name, v, lines, i, indent + 2, depth + 1)?;
                entries.push((k.to_string(), value));
            }
            return Ok(HeaderValue::Map(entries));
        }
    }
    Err(header_err(name, "value missing or wrongly indented"))
}

fn parse_headers(text: &str) -> Result<Vec<(String, HeaderValue)>, AssertError> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out: Vec<(String, HeaderValue)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        let (name, rest) = line
            .split_once(':')
            .ok_or_else(|| format_err(format!("header line {line:?} has no ':'")))?;
        check_name(name)?;
        if out.iter().any(|(n, _)| n == name) {
            return Err(header_err(name, "repeated"));
        }
        let value = parse_value(name, rest, &lines, &mut i, 0, 0)?;
        out.push((name.to_string(), value));
    }
    Ok(out)
}

fn encode_value(v: &HeaderValue, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        HeaderValue::Str(s) if !s.contains('\n') => {
            out.push(' ');
            out.push_str(s);
        }
        HeaderValue::Str(s) => {
            for line in s.split('\n') {
                out.push('\n');
                out.push_str(&pad);
                out.push_str("    ");
                out.push_str(line);
            }
        }
        HeaderValue::List(items) => {
            for item in items {
                out.push('\n');
                out.push_str(&pad);
                out.push_str("  -");
                encode_value(item, indent + 2, out);
            }
        }
        HeaderValue::Map(entries) => {
            for (k, item) in entries {
                out.push('\n');
                out.push_str(&pad);
                out.push_str("  ");
                out.push_str(k);
                out.push(':');
                encode_value(item, indent + 2, out);
            }
        }
    }
}

fn wrap76(text: &str) -> String {
    let bytes = text.as_bytes();
    bytes
        .chunks(76)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn b64(text: &[u8]) -> Result<Vec<u8>, String> {
    let clean: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_err(|e| format!("invalid base64: {e}"))
}

impl Assertion {
    /// Decode one assertion (a trailing newline is allowed).
    pub fn decode(data: &[u8]) -> Result<Assertion, AssertError> {
        let (a, rest) = Self::decode_prefix(data)?;
        if rest.iter().any(|b| !b.is_ascii_whitespace()) {
            return Err(format_err("trailing data after the signature"));
        }
        Ok(a)
    }

    /// Decode the first assertion of `data`; returns it and what follows its signature.
    fn decode_prefix(data: &[u8]) -> Result<(Assertion, &[u8]), AssertError> {
        let hdr_end =
            find(data, b"\n\n").ok_or_else(|| format_err("no blank line after the headers"))?;
        if hdr_end > MAX_HEADERS {
            return Err(format_err("headers are too long"));
        }
        let hdr_text = std::str::from_utf8(&data[..hdr_end])
            .map_err(|_| format_err("headers are not UTF-8"))?;
        let headers = parse_headers(hdr_text)?;
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v);
        let body_len = match get("body-length") {
            None => 0,
            Some(HeaderValue::Str(s)) => parse_uint("body-length", s)? as usize,
            Some(_) => return Err(header_err("body-length", "must be a number")),
        };
        if body_len > MAX_BODY {
            return Err(header_err("body-length", "body is too long"));
        }
        let mut pos = hdr_end + 2;
        let (body, content_end) = if body_len > 0 {
            let end = pos
                .checked_add(body_len)
                .filter(|e| *e <= data.len())
                .ok_or_else(|| format_err("body shorter than body-length"))?;
            let body = data[pos..end].to_vec();
            if data.get(end..end + 2) != Some(b"\n\n") {
                return Err(format_err(
                    "body is not followed by a blank line (wrong body-length?)",
                ));
            }
            pos = end + 2;
            (body, end)
        } else {
            (Vec::new(), hdr_end)
        };
        let sig_end = find(&data[pos..], b"\n\n")
            .map(|e| pos + e)
            .unwrap_or(data.len());
        let mut signature = data[pos..sig_end].to_vec();
        while signature.last() == Some(&b'\n') {
            signature.pop();
        }
        if signature.is_empty() {
            return Err(format_err("signature missing"));
        }
        if signature.len() > MAX_SIGNATURE {
            return Err(format_err("signature is too long"));
        }
        let a = Assertion {
            headers,
            body,
            content: data[..content_end].to_vec(),
            signature,
        };
        a.check_shape()?;
        Ok((a, &data[sig_end.min(data.len())..]))
    }

    /// Mandatory headers and primary keys.
    fn check_shape(&self) -> Result<(), AssertError> {
        for h in ["type", "authority-id", "sign-key-sha3-384"] {
            if self.header_str(h).is_none_or(str::is_empty) {
                return Err(header_err(h, "is required"));
            }
        }
        for (k, default) in primary_keys(self.type_name()) {
            match self.header(k) {
                Some(HeaderValue::Str(v)) if !v.is_empty() && !v.contains('/') => {}
                None if default.is_some() => {}
                Some(HeaderValue::Str(_)) => {
                    return Err(header_err(
                        k,
                        "a primary key cannot be empty or contain '/'",
                    ))
                }
                _ => return Err(header_err(k, "primary key is required")),
            }
        }
        for h in ["revision", "format"] {
            if let Some(v) = self.header(h) {
                let s = v
                    .as_str()
                    .ok_or_else(|| header_err(h, "must be a number"))?;
                parse_uint(h, s)?;
            }
        }
        Ok(())
    }

    /// The exact bytes: content, blank line, signature.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.content.clone();
        out.extend_from_slice(b"\n\n");
        out.extend_from_slice(&self.signature);
        out
    }

    pub fn type_name(&self) -> &str {
        self.header_str("type").unwrap_or("")
    }

    pub fn authority_id(&self) -> &str {
        self.header_str("authority-id").unwrap_or("")
    }

    pub fn sign_key_id(&self) -> &str {
        self.header_str("sign-key-sha3-384").unwrap_or("")
    }

    pub fn revision(&self) -> u64 {
        self.header_str("revision")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    pub fn format(&self) -> u64 {
        self.header_str("format")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(HeaderValue::as_str)
    }

    pub fn headers(&self) -> &[(String, HeaderValue)] {
        &self.headers
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The signed bytes.
    pub fn content(&self) -> &[u8] {
        &self.content
    }

    pub fn primary_key(&self) -> Vec<String> {
        primary_keys(self.type_name())
            .iter()
            .filter_map(|(k, default)| match (self.header_str(k), default) {
                (Some(v), Some(d)) if v == *d => None,
                (Some(v), _) => Some(v.to_string()),
                (None, _) => None,
            })
            .collect()
    }

    /// The time the assertion speaks for: `timestamp`, or `since` for account-keys.
    pub fn timestamp(&self) -> Option<time::OffsetDateTime> {
        let t = self
            .header_str("timestamp")
            .or_else(|| self.header_str("since"))?;
        parse_time(t).ok()
    }

    /// Check the signature against `key` (the caller knows the key is the one named).
    pub fn verify_with(&self, key: &PublicKey) -> Result<(), AssertError> {
        self.verify_issuer(key).map(|_| ())
    }

    /// Verify, and return the issuer key id the signature names (not covered by the signature).
    pub(crate) fn verify_issuer(&self, key: &PublicKey) -> Result<Option<[u8; 8]>, AssertError> {
        let raw = b64(&self.signature).map_err(AssertError::Signature)?;
        let (&v, packet) = raw
            .split_first()
            .ok_or_else(|| AssertError::Signature("empty".into()))?;
        if v != 1 {
            return Err(AssertError::Signature(format!(
                "unsupported signature format {v}"
            )));
        }
        let sig =
            openpgp::Signature::from_packet(packet).map_err(|e| AssertError::Signature(e.0))?;
        sig.verify(&self.content, &key.rsa)
            .map_err(|e| AssertError::Signature(e.0))?;
        Ok(sig.issuer)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_uint(name: &str, s: &str) -> Result<u64, AssertError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return Err(header_err(name, format!("{s:?} is not a number")));
    }
    s.parse().map_err(|_| header_err(name, "number too large"))
}

pub(crate) fn parse_time(s: &str) -> Result<time::OffsetDateTime, AssertError> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|_| format_err(format!("{s:?} is not an RFC 3339 time")))
}

/// Decode a stream of assertions (separated by blank lines).
pub fn decode_stream(data: &[u8]) -> Result<Vec<Assertion>, AssertError> {
    let mut out = Vec::new();
    let mut rest = data;
    loop {
        let start = rest.iter().position(|b| !b.is_ascii_whitespace());
        let Some(start) = start else { break };
        let (a, r) = Assertion::decode_prefix(&rest[start..])?;
        out.push(a);
        rest = r;
    }
    Ok(out)
}

pub fn encode_stream(list: &[Assertion]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, a) in list.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\n\n");
        }
        out.extend_from_slice(&a.encode());
    }
    out.push(b'\n');
    out
}

// --- keys ------------------------------------------------------------------------------------------

/// An RSA public key of an account-key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    rsa: RsaKey,
}

impl PublicKey {
    /// From an account-key body: base64 of `0x01 || public-key packet`.
    pub fn from_body(body: &[u8]) -> Result<PublicKey, AssertError> {
        let raw = b64(body).map_err(AssertError::Key)?;
        let (&v, packet) = raw
            .split_first()
            .ok_or_else(|| AssertError::Key("empty key".into()))?;
        if v != 1 {
            return Err(AssertError::Key(format!("unsupported key format {v}")));
        }
        Ok(PublicKey {
            rsa: RsaKey::from_packet(packet).map_err(|e| AssertError::Key(e.0))?,
        })
    }

    fn encoded(&self) -> Vec<u8> {
        let mut raw = vec![1u8];
        raw.extend_from_slice(&self.rsa.to_packet());
        raw
    }

    /// The account-key body text (base64, wrapped at 76 columns).
    pub fn to_body(&self) -> String {
        wrap76(&base64::engine::general_purpose::STANDARD.encode(self.encoded()))
    }

    /// snapd's key id: base64url (no padding) of SHA3-384 over `0x01 || packet`.
    pub fn key_id(&self) -> String {
        crate::digest::Sha3_384::of(&self.encoded()).to_base64url()
    }
}

/// An RSA private key that signs assertions. Stored as PKCS#8 PEM.
pub struct PrivateKey {
    rsa: RsaPrivateKey,
    public: PublicKey,
}

impl PrivateKey {
    pub fn generate(bits: usize) -> Result<PrivateKey, AssertError> {
        if !(2048..=8192).contains(&bits) {
            return Err(AssertError::Key(format!(
                "{bits}-bit keys are not supported (2048 to 8192)"
            )));
        }
        let rsa = RsaPrivateKey::new(&mut rand::thread_rng(), bits)
            .map_err(|e| AssertError::Key(e.to_string()))?;
        Ok(Self::from_rsa(rsa))
    }

    fn from_rsa(rsa: RsaPrivateKey) -> PrivateKey {
        let public = PublicKey {
            rsa: RsaKey {
                key: rsa.to_public_key(),
            },
        };
        PrivateKey { rsa, public }
    }

    pub fn from_pkcs8_pem(pem: &str) -> Result<PrivateKey, AssertError> {
        let rsa = RsaPrivateKey::from_pkcs8_pem(pem)
            .map_err(|e| AssertError::Key(format!("not a PKCS#8 RSA key: {e}")))?;
        Ok(Self::from_rsa(rsa))
    }

    pub fn to_pkcs8_pem(&self) -> String {
        self.rsa
            .to_pkcs8_pem(LineEnding::LF)
            .map(|s| s.to_string())
            .expect("an RSA key always encodes")
    }

    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }
}

/// Sign an assertion. `headers` are everything but `type`, `sign-key-sha3-384` and `body-length`,
/// which are set here; they are emitted in snapd's order (type, format, authority-id, revision,
/// primary keys, the rest sorted, body-length, sign-key-sha3-384).
pub fn sign(
    kind: &str,
    headers: Vec<(String, HeaderValue)>,
    body: &[u8],
    key: &PrivateKey,
) -> Result<Assertion, AssertError> {
    let mut rest: Vec<(String, HeaderValue)> = Vec::new();
    for (k, v) in headers {
        check_name(&k)?;
        if matches!(k.as_str(), "type" | "sign-key-sha3-384" | "body-length") {
            return Err(header_err(&k, "is set by the signer"));
        }
        if rest.iter().any(|(e, _)| *e == k) {
            return Err(header_err(&k, "repeated"));
        }
        rest.push((k, v));
    }
    let mut ordered = vec![("type".to_string(), HeaderValue::Str(kind.to_string()))];
    fn take(
        rest: &mut Vec<(String, HeaderValue)>,
        name: &str,
        ordered: &mut Vec<(String, HeaderValue)>,
    ) {
        if let Some(pos) = rest.iter().position(|(k, _)| k == name) {
            ordered.push(rest.remove(pos));
        }
    }
    take(&mut rest, "format", &mut ordered);
    take(&mut rest, "authority-id", &mut ordered);
    take(&mut rest, "revision", &mut ordered);
    for (k, default) in primary_keys(kind) {
        if let Some(pos) = rest.iter().position(|(n, _)| n == k) {
            if default.is_some() && rest[pos].1.as_str() == *default {
                rest.remove(pos); // an optional primary key at its default is left out
            } else {
                take(&mut rest, k, &mut ordered);
            }
        }
    }
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    ordered.extend(rest);
    if !body.is_empty() {
        ordered.push((
            "body-length".into(),
            HeaderValue::Str(body.len().to_string()),
        ));
    }
    ordered.push((
        "sign-key-sha3-384".into(),
        HeaderValue::Str(key.public.key_id()),
    ));
    let mut text = String::new();
    for (i, (k, v)) in ordered.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        text.push_str(k);
        text.push(':');
        encode_value(v, 0, &mut text);
    }
    let mut content = text.into_bytes();
    if !body.is_empty() {
        content.extend_from_slice(b"\n\n");
        content.extend_from_slice(body);
    }
    let created = time::OffsetDateTime::now_utc()
        .unix_timestamp()
        .clamp(0, u32::MAX as i64) as u32;
    let packet = openpgp::sign(&content, &key.rsa, &key.public.rsa, created)
        .map_err(|e| AssertError::Signature(e.0))?;
    let mut raw = vec![1u8];
    raw.extend_from_slice(&packet);
    let signature = wrap76(&base64::engine::general_purpose::STANDARD.encode(raw)).into_bytes();
    let a = Assertion {
        headers: ordered,
        body: body.to_vec(),
        content,
        signature,
    };
    // What we sign must decode to the same thing: catch encoder bugs here, not in a client.
    let back = Assertion::decode(&a.encode())?;
    if back != a {
        return Err(format_err("the signed assertion does not decode to itself"));
    }
    Ok(a)
}

/// The real Snap Store's trust root: the `canonical` account and its root account-key.
pub fn canonical_trusted() -> Vec<Assertion> {
    decode_stream(include_bytes!("../../trusted/canonical.assert"))
        .expect("the embedded trust root decodes")
}

#[cfg(test)]
mod tests;
