//! CloudFront's verification of signed URLs and signed cookies, and the two
//! kinds of grant it separates.
//!
//! A request carries a grant: `Expires` or `Policy`, `Signature`,
//! `Key-Pair-Id` (and `Hash-Algorithm`), in the query or as `CloudFront-*`
//! cookies. Read from the request, it is an [`UnverifiedGrant`]: a claim.
//! Only [`UnverifiedGrant::verify`] — the signature checked with a trusted
//! public key, the policy checked against the URL, the time and the viewer
//! address — turns it into a [`VerifiedGrant`], and nothing else can make
//! one. Everything that issues signatures takes a `&VerifiedGrant`, so code
//! cannot sign on the strength of a claim (DESIGN §5.1).
//!
//! The checks follow CloudFront, and refuse where CloudFront's documented
//! behaviour leaves room for doubt:
//!
//! * a signed URL takes precedence over cookies: when the query holds any
//!   signing parameter, the cookies are not read at all;
//! * `Expires` is a plain decimal epoch second: no sign, no leading zero, no
//!   spaces (`+N`, `%2B0N` and `0N` are refused as `MalformedPolicy`: the
//!   policy CloudFront rebuilds from such text would not be the one signed);
//! * a signing parameter given twice with different values is refused (the
//!   code of the parameter's kind), never "last one wins"; an identical
//!   repeat (a browser holding the same cookie for two paths) is accepted;
//! * values are percent-decoded once (players such as hls.js re-encode `~`
//!   as `%7E`).
//!
//! Rejections carry CloudFront's error code and a reason for logs; neither
//! ever quotes a signature or key.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use crate::cf_base64;
use crate::keys::PublicKey;
use crate::policy::Policy;
use crate::signed_url::{SignatureParams, UrlParts};
use crate::signer::HashAlgorithm;

/// CloudFront's error codes for signed requests (the `<Code>` of its 403 body).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    MissingKey,
    InvalidKey,
    MalformedSignature,
    MalformedPolicy,
    AccessDenied,
}

impl ErrorCode {
    /// The code as CloudFront spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingKey => "MissingKey",
            Self::InvalidKey => "InvalidKey",
            Self::MalformedSignature => "MalformedSignature",
            Self::MalformedPolicy => "MalformedPolicy",
            Self::AccessDenied => "AccessDenied",
        }
    }

    /// CloudFront's `<Message>` for the code.
    pub fn message(self) -> &'static str {
        match self {
            Self::MissingKey => "Missing Key-Pair-Id query parameter or cookie value",
            Self::InvalidKey => "Unknown Key",
            Self::MalformedSignature => "Malformed signature",
            Self::MalformedPolicy => "Malformed Policy",
            Self::AccessDenied => "Access denied",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rejected request: CloudFront's code plus our explanation of why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {reason}")]
pub struct Rejection {
    pub code: ErrorCode,
    pub reason: String,
}

impl Rejection {
    pub(crate) fn new(code: ErrorCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }

    /// The XML body CloudFront returns with the 403.
    pub fn xml_body(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message></Error>",
            self.code.as_str(),
            self.code.message()
        )
    }
}

/// Where the signing parameters of a grant came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantSource {
    Query,
    Cookies,
}

/// The public keys CloudFront trusts (a key group), by key pair id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedKeys {
    keys: HashMap<String, PublicKey>,
}

impl TrustedKeys {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the key for `key_pair_id`.
    pub fn insert(&mut self, key_pair_id: &str, key: PublicKey) {
        self.keys.insert(key_pair_id.to_owned(), key);
    }

    /// Adds every key of `other` (its keys win for ids both hold).
    pub fn extend(&mut self, other: &TrustedKeys) {
        for (id, key) in &other.keys {
            self.keys.insert(id.clone(), key.clone());
        }
    }

    pub fn get(&self, key_pair_id: &str) -> Option<&PublicKey> {
        self.keys.get(key_pair_id)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key pair ids, sorted (for logs and messages).
    pub fn ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }
}

/// Parses a `Cookie` request header into name/value pairs.
pub fn parse_cookie_header(header: &str) -> Vec<(String, String)> {
    header
        .split(';')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// The signing parameters found in one place (query or cookies), decoded.
#[derive(Default)]
struct FoundParams {
    expires: Option<String>,
    policy: Option<String>,
    signature: Option<String>,
    key_pair_id: Option<String>,
    hash: Option<String>,
}

impl FoundParams {
    fn is_empty(&self) -> bool {
        self.expires.is_none()
            && self.policy.is_none()
            && self.signature.is_none()
            && self.key_pair_id.is_none()
            && self.hash.is_none()
    }

    /// Records one parameter; a second, different value for the same name
    /// is a rejection (code by the parameter's kind).
    fn set(&mut self, name: &str, value: String) -> Result<(), Rejection> {
        let (slot, code) = match name {
            "Expires" => (&mut self.expires, ErrorCode::MalformedPolicy),
            "Policy" => (&mut self.policy, ErrorCode::MalformedPolicy),
            "Signature" => (&mut self.signature, ErrorCode::MalformedSignature),
            "Key-Pair-Id" => (&mut self.key_pair_id, ErrorCode::InvalidKey),
            "Hash-Algorithm" => (&mut self.hash, ErrorCode::MalformedSignature),
            _ => return Ok(()),
        };
        match slot {
            Some(existing) if *existing != value => Err(Rejection::new(
                code,
                format!("{name} is given twice with different values"),
            )),
            Some(_) => Ok(()),
            None => {
                *slot = Some(value);
                Ok(())
            }
        }
    }
}

/// A grant as read from a request: a claim whose signature nobody has
/// checked yet. It can be inspected, but only [`UnverifiedGrant::verify`]
/// turns it into something the signer accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnverifiedGrant {
    key_pair_id: String,
    policy: Policy,
    canned: bool,
    hash: HashAlgorithm,
    source: GrantSource,
    /// The exact policy bytes the signature must cover.
    policy_json: Vec<u8>,
    signature: Vec<u8>,
    /// The URL the grant was read for, without signing parameters.
    url: String,
}

/// A grant whose signature was checked with a trusted key and whose policy
/// admitted the request it came with. Made only by
/// [`UnverifiedGrant::verify`] (or [`verify_request`]); its fields cannot be
/// changed afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedGrant {
    key_pair_id: String,
    policy: Policy,
    canned: bool,
    hash: HashAlgorithm,
    source: GrantSource,
    params: SignatureParams,
}

impl VerifiedGrant {
    /// The policy the viewer proved (for a canned grant, the one CloudFront
    /// rebuilt from the URL).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether the viewer used the canned (`Expires`) form.
    pub fn canned(&self) -> bool {
        self.canned
    }

    pub fn key_pair_id(&self) -> &str {
        &self.key_pair_id
    }

    pub fn hash(&self) -> HashAlgorithm {
        self.hash
    }

    pub fn source(&self) -> GrantSource {
        self.source
    }

    /// The viewer's own signing parameters, re-serialisable (propagation
    /// hands them on unchanged).
    pub fn params(&self) -> &SignatureParams {
        &self.params
    }
}

impl UnverifiedGrant {
    /// Reads the signing parameters a request for `url` carries — from the
    /// query when it holds any, else from the `CloudFront-*` cookies — and
    /// decodes them, without checking the signature.
    pub fn read(url: &str, cookies: &[(String, String)]) -> Result<Self, Rejection> {
        use ErrorCode::*;
        let parts = UrlParts::split(url);
        let mut found = FoundParams::default();
        for (name, value) in parts.query_pairs() {
            found.set(name, percent_decode(value))?;
        }
        let mut source = GrantSource::Query;
        if found.is_empty() {
            source = GrantSource::Cookies;
            for (name, value) in cookies {
                if let Some(name) = name.strip_prefix("CloudFront-") {
                    found.set(name, value.clone())?;
                }
            }
        }
        let key_pair_id = found
            .key_pair_id
            .ok_or_else(|| Rejection::new(MissingKey, "no Key-Pair-Id in the query or cookies"))?;
        let signature_text = found
            .signature
            .ok_or_else(|| Rejection::new(MalformedSignature, "no Signature"))?;
        let signature = cf_base64::decode(&signature_text).ok_or_else(|| {
            Rejection::new(
                MalformedSignature,
                "Signature is not CloudFront Base64 (A-Z a-z 0-9 - ~ _)",
            )
        })?;
        let hash = match found.hash.as_deref() {
            None => HashAlgorithm::Sha1,
            Some(value) => HashAlgorithm::from_parameter(value).ok_or_else(|| {
                Rejection::new(
                    MalformedSignature,
                    "Hash-Algorithm is neither SHA1 nor SHA256",
                )
            })?,
        };
        let url = parts.without_signing_parameters();
        let (policy, policy_json, canned) = match (found.expires, found.policy) {
            (Some(_), Some(_)) => {
                return Err(Rejection::new(
                    MalformedPolicy,
                    "both Expires and Policy are present",
                ))
            }
            (None, None) => {
                return Err(Rejection::new(
                    MalformedPolicy,
                    "neither Expires nor Policy is present",
                ))
            }
            (Some(expires), None) => {
                let expires = parse_expires(&expires).ok_or_else(|| {
                    Rejection::new(
                        MalformedPolicy,
                        "Expires is not a plain decimal epoch second",
                    )
                })?;
                let policy = Policy::canned(&url, expires);
                let json = policy.to_json().into_bytes();
                (policy, json, true)
            }
            (None, Some(encoded)) => {
                let json = cf_base64::decode(&encoded).ok_or_else(|| {
                    Rejection::new(MalformedPolicy, "Policy is not CloudFront Base64")
                })?;
                let policy = Policy::from_json(&json)
                    .map_err(|e| Rejection::new(MalformedPolicy, e.to_string()))?;
                (policy, json, false)
            }
        };
        Ok(Self {
            key_pair_id,
            policy,
            canned,
            hash,
            source,
            policy_json,
            signature,
            url,
        })
    }

    /// The key pair id the grant names.
    pub fn key_pair_id(&self) -> &str {
        &self.key_pair_id
    }

    /// The policy the grant claims (not proven).
    pub fn claimed_policy(&self) -> &Policy {
        &self.policy
    }

    pub fn source(&self) -> GrantSource {
        self.source
    }

    /// Checks the grant as CloudFront does: the key is trusted, the signature
    /// covers the policy bytes, and the policy admits the request's URL at
    /// `now` from `client_ip`. `cache` remembers valid signatures (see
    /// [`VerifiedSignatures`]).
    pub fn verify(
        self,
        keys: &TrustedKeys,
        now: u64,
        client_ip: Option<IpAddr>,
        cache: Option<&VerifiedSignatures>,
    ) -> Result<VerifiedGrant, Rejection> {
        let key = keys.get(&self.key_pair_id).ok_or_else(|| {
            Rejection::new(
                ErrorCode::InvalidKey,
                format!(
                    "key pair id `{}` is not among the trusted keys",
                    printable(&self.key_pair_id)
                ),
            )
        })?;
        let fingerprint = cache.map(|_| VerifiedSignatures::fingerprint(&self, key));
        let known = matches!((cache, &fingerprint), (Some(c), Some(f)) if c.contains(f));
        if !known && !key.verify(&self.policy_json, &self.signature, self.hash) {
            return Err(Rejection::new(
                ErrorCode::AccessDenied,
                format!(
                    "the signature does not match the policy under key `{}` with {}",
                    printable(&self.key_pair_id),
                    self.hash
                ),
            ));
        }
        self.policy
            .admits(&self.url, now, client_ip)
            .map_err(|denial| Rejection::new(ErrorCode::AccessDenied, denial.to_string()))?;
        if let (Some(cache), Some(fingerprint), false) = (cache, fingerprint, known) {
            cache.insert(fingerprint);
        }
        let params = SignatureParams {
            expires: self.canned.then(|| self.policy.expires()),
            policy: (!self.canned).then(|| cf_base64::encode(&self.policy_json)),
            signature: cf_base64::encode(&self.signature),
            key_pair_id: self.key_pair_id.clone(),
            hash: self.hash,
        };
        Ok(VerifiedGrant {
            key_pair_id: self.key_pair_id,
            policy: self.policy,
            canned: self.canned,
            hash: self.hash,
            source: self.source,
            params,
        })
    }
}

/// `Expires` as CloudFront writes it: decimal digits, no sign, no leading
/// zero, within `u64`.
fn parse_expires(text: &str) -> Option<u64> {
    let plain = !text.is_empty()
        && text.len() <= 20
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    plain.then(|| text.parse().ok()).flatten()
}

/// A key pair id as it may appear in a log line: short, printable ASCII.
fn printable(id: &str) -> String {
    id.chars()
        .take(64)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

/// Decides, as CloudFront would, whether a request for `url` carrying
/// `cookies` is allowed at `now` from `client_ip`. Signed-URL parameters take
/// precedence over cookies; the policy is checked against `url` without its
/// signing parameters.
pub fn verify_request(
    url: &str,
    cookies: &[(String, String)],
    keys: &TrustedKeys,
    now: u64,
    client_ip: Option<IpAddr>,
) -> Result<VerifiedGrant, Rejection> {
    UnverifiedGrant::read(url, cookies)?.verify(keys, now, client_ip, None)
}

/// Signatures already found valid, so a busy verifier (the emulator under
/// load) checks each (public key, policy, signature) once. Only successes are
/// remembered, keyed by a SHA-256 of everything the signature check covered —
/// the trusted public key's own bytes included, so a key id that comes to
/// name another key is checked afresh. The policy's conditions (time,
/// resource, IP) are still evaluated on every request, so caching never
/// admits what a fresh check would refuse.
pub struct VerifiedSignatures {
    seen: std::sync::Mutex<std::collections::HashSet<[u8; 32]>>,
    capacity: usize,
}

impl VerifiedSignatures {
    pub fn new(capacity: usize) -> Self {
        Self {
            seen: std::sync::Mutex::new(std::collections::HashSet::new()),
            capacity,
        }
    }

    fn fingerprint(grant: &UnverifiedGrant, key: &PublicKey) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for part in [
            grant.key_pair_id.as_bytes(),
            key.der_bytes(),
            grant.hash.to_string().as_bytes(),
            &grant.policy_json,
            &grant.signature,
        ] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        hash.finalize().into()
    }

    fn contains(&self, fingerprint: &[u8; 32]) -> bool {
        self.seen
            .lock()
            .is_ok_and(|seen| seen.contains(fingerprint))
    }

    fn insert(&self, fingerprint: [u8; 32]) {
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() >= self.capacity {
                seen.clear(); // crude but bounded; refills with live grants
            }
            seen.insert(fingerprint);
        }
    }
}

/// Decodes `%XX` escapes (players such as hls.js re-encode `~` as `%7E`).
/// Invalid escapes are kept literally, as the later Base64 check rejects them.
pub fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%7Eb%7e"), "a~b~");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn cookie_header() {
        assert_eq!(
            parse_cookie_header("a=1; CloudFront-Signature=x_y; junk"),
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("CloudFront-Signature".to_owned(), "x_y".to_owned())
            ]
        );
    }

    #[test]
    fn rejection_body_is_cloudfronts() {
        let r = Rejection::new(ErrorCode::InvalidKey, "x");
        assert!(r
            .xml_body()
            .ends_with("<Error><Code>InvalidKey</Code><Message>Unknown Key</Message></Error>"));
    }

    #[test]
    fn expires_is_plain_decimal() {
        assert_eq!(parse_expires("1800000000"), Some(1_800_000_000));
        assert_eq!(parse_expires("0"), Some(0));
        for bad in [
            "+1800000000",
            "01800000000",
            "",
            " 1",
            "1 ",
            "-1",
            "1e9",
            "99999999999999999999",
        ] {
            assert_eq!(parse_expires(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn duplicate_parameters_with_different_values_are_refused() {
        let read = |query: &str| {
            UnverifiedGrant::read(&format!("https://h/a.ts?{query}"), &[]).map(|_| ())
        };
        assert_eq!(
            read("Expires=5&Expires=6&Signature=AA&Key-Pair-Id=K")
                .unwrap_err()
                .code,
            ErrorCode::MalformedPolicy
        );
        assert_eq!(
            read("Expires=5&Signature=AA&Signature=AB&Key-Pair-Id=K")
                .unwrap_err()
                .code,
            ErrorCode::MalformedSignature
        );
        assert_eq!(
            read("Expires=5&Signature=AA&Key-Pair-Id=K&Key-Pair-Id=L")
                .unwrap_err()
                .code,
            ErrorCode::InvalidKey
        );
        // An identical repeat is harmless.
        assert!(read("Expires=5&Signature=AAAA&Key-Pair-Id=K&Key-Pair-Id=K").is_ok());
        // Cookies are read only when the query holds no signing parameter.
        let cookies = [
            ("CloudFront-Key-Pair-Id".to_owned(), "A".to_owned()),
            ("CloudFront-Key-Pair-Id".to_owned(), "B".to_owned()),
        ];
        assert_eq!(
            UnverifiedGrant::read("https://h/a.ts", &cookies)
                .unwrap_err()
                .code,
            ErrorCode::InvalidKey
        );
    }
}
