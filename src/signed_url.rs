//! Signed URLs and signed cookies, and their verification as CloudFront does it.
//!
//! Signing turns a [`Policy`] into the three (or four) parameters CloudFront
//! reads: `Expires` *or* `Policy`, `Signature`, `Key-Pair-Id`, and
//! `Hash-Algorithm=SHA256` when SHA-256 is used. The canned form (`Expires`)
//! is used exactly when CloudFront can rebuild the same policy from the URL.
//!
//! Verification is the inverse and the tool for the question "why 403?": it
//! takes the URL and cookies a viewer sent, the trusted public keys, the time
//! and the viewer address, and answers with CloudFront's own error codes.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use crate::cf_base64;
use crate::keys::PublicKey;
use crate::policy::Policy;
use crate::signer::{HashAlgorithm, KeyAlgorithm, SignError, Signer};

/// Query parameter names CloudFront reserves for signing; a URL to be signed
/// may not already use them.
pub const SIGNING_PARAMETERS: [&str; 5] = [
    "Expires",
    "Policy",
    "Signature",
    "Key-Pair-Id",
    "Hash-Algorithm",
];

/// Why a URL could not be signed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("`{0}` is not an absolute http:// or https:// URL")]
    NotAbsolute(String),
    #[error("the URL has a fragment (#...); sign the URL without it")]
    HasFragment,
    #[error("the URL already carries the CloudFront parameter `{0}`")]
    ReservedParameter(String),
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// Signs policies with one key pair and hash algorithm.
#[derive(Clone)]
pub struct UrlSigner {
    signer: Arc<dyn Signer>,
    key_pair_id: String,
    hash: HashAlgorithm,
}

impl fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UrlSigner")
            .field("backend", &self.signer.backend_name())
            .field("key_pair_id", &self.key_pair_id)
            .field("hash", &self.hash)
            .finish()
    }
}

/// The signing parameters for one policy, ready to append to any number of
/// URLs (a wildcard policy is signed once and shared).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SignatureParams {
    /// `Expires` value for a canned policy, or `None` for a custom one.
    pub expires: Option<u64>,
    /// CloudFront-Base64 policy JSON for a custom policy.
    pub policy: Option<String>,
    /// CloudFront-Base64 signature.
    pub signature: String,
    pub key_pair_id: String,
    pub hash: HashAlgorithm,
}

impl SignatureParams {
    /// The query-string form: `Expires=…&Signature=…&Key-Pair-Id=…`, in
    /// botocore's order, with `Hash-Algorithm` last when it is not SHA-1.
    pub fn to_query(&self) -> String {
        self.pairs("")
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Name/value pairs, each name prefixed (`CloudFront-` for cookies).
    fn pairs<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (String, String)> + 'a {
        let first = match (self.expires, &self.policy) {
            (Some(expires), _) => ("Expires", expires.to_string()),
            (None, policy) => ("Policy", policy.clone().unwrap_or_default()),
        };
        [
            Some(first),
            Some(("Signature", self.signature.clone())),
            Some(("Key-Pair-Id", self.key_pair_id.clone())),
            self.hash
                .parameter_value()
                .map(|v| ("Hash-Algorithm", v.to_owned())),
        ]
        .into_iter()
        .flatten()
        .map(move |(name, value)| (format!("{prefix}{name}"), value))
    }
}

/// Attributes for `Set-Cookie` headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieAttributes {
    pub domain: Option<String>,
    pub path: String,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: Option<String>,
}

impl Default for CookieAttributes {
    fn default() -> Self {
        Self {
            domain: None,
            path: "/".to_owned(),
            secure: true,
            http_only: true,
            same_site: None,
        }
    }
}

/// The cookies of a signed-cookie grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCookies {
    /// `(name, value)` pairs: `CloudFront-Expires|Policy`, `-Signature`,
    /// `-Key-Pair-Id` and `-Hash-Algorithm` when SHA-256 is used.
    pub cookies: Vec<(String, String)>,
}

impl SignedCookies {
    /// One ready `Set-Cookie` header value per cookie.
    pub fn set_cookie_headers(&self, attributes: &CookieAttributes) -> Vec<String> {
        self.cookies
            .iter()
            .map(|(name, value)| {
                let mut header = format!("{name}={value}");
                if let Some(domain) = &attributes.domain {
                    header.push_str(&format!("; Domain={domain}"));
                }
                header.push_str(&format!("; Path={}", attributes.path));
                if attributes.secure {
                    header.push_str("; Secure");
                }
                if attributes.http_only {
                    header.push_str("; HttpOnly");
                }
                if let Some(same_site) = &attributes.same_site {
                    header.push_str(&format!("; SameSite={same_site}"));
                }
                header
            })
            .collect()
    }
}

impl UrlSigner {
    /// A signer for `key_pair_id` with `hash`; refuses combinations the key
    /// cannot sign (ECDSA with SHA-1) now rather than on the first request.
    pub fn new(
        signer: Arc<dyn Signer>,
        key_pair_id: &str,
        hash: HashAlgorithm,
    ) -> Result<Self, SignError> {
        if signer.key_algorithm() == KeyAlgorithm::EcdsaP256 && hash == HashAlgorithm::Sha1 {
            return Err(SignError::EcdsaNeedsSha256);
        }
        Ok(Self {
            signer,
            key_pair_id: key_pair_id.to_owned(),
            hash,
        })
    }

    pub fn key_pair_id(&self) -> &str {
        &self.key_pair_id
    }

    pub fn hash(&self) -> HashAlgorithm {
        self.hash
    }

    /// The backend's name, for logs.
    pub fn backend_name(&self) -> &'static str {
        self.signer.backend_name()
    }

    /// Signs `policy`. `canned` selects the `Expires=` form, which is only
    /// valid when the policy is the canned policy of the URL it is used on.
    pub fn sign_policy(&self, policy: &Policy, canned: bool) -> Result<SignatureParams, SignError> {
        let json = policy.to_json();
        let signature = cf_base64::encode(&self.signer.sign(json.as_bytes(), self.hash)?);
        Ok(SignatureParams {
            expires: canned.then(|| policy.expires()),
            policy: (!canned).then(|| cf_base64::encode(json.as_bytes())),
            signature,
            key_pair_id: self.key_pair_id.clone(),
            hash: self.hash,
        })
    }

    /// Signs `url` under `policy`: canned when the policy is just the URL and
    /// an expiry, custom otherwise.
    pub fn sign_url(&self, url: &str, policy: &Policy) -> Result<String, UrlError> {
        let parts = UrlParts::split(url);
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(UrlError::NotAbsolute(url.to_owned()));
        }
        if parts.fragment.is_some() {
            return Err(UrlError::HasFragment);
        }
        if let Some(name) = parts
            .query_pairs()
            .map(|(name, _)| name)
            .find(|name| SIGNING_PARAMETERS.contains(name))
        {
            return Err(UrlError::ReservedParameter(name.to_owned()));
        }
        let params = self.sign_policy(policy, policy.is_canned_for(url))?;
        let separator = if parts.query.is_some() { '&' } else { '?' };
        Ok(format!("{url}{separator}{}", params.to_query()))
    }

    /// Signs `policy` as cookies (always the custom form unless the policy
    /// names a single URL with only an expiry, where `CloudFront-Expires` works).
    pub fn sign_cookies(&self, policy: &Policy) -> Result<SignedCookies, SignError> {
        let canned = policy.conditions().len() == 1 && !policy.resource().contains(['*', '?']);
        let params = self.sign_policy(policy, canned)?;
        Ok(SignedCookies {
            cookies: params.pairs("CloudFront-").collect(),
        })
    }
}

/// A URL cut into the pieces signing and verification care about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// Everything before `?` (or `#`).
    pub base: &'a str,
    /// The query without its `?`.
    pub query: Option<&'a str>,
    /// The fragment without its `#`.
    pub fragment: Option<&'a str>,
}

impl<'a> UrlParts<'a> {
    pub fn split(url: &'a str) -> Self {
        let (rest, fragment) = match url.split_once('#') {
            Some((rest, fragment)) => (rest, Some(fragment)),
            None => (url, None),
        };
        let (base, query) = match rest.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (rest, None),
        };
        Self {
            base,
            query,
            fragment,
        }
    }

    /// Just a query string (without `?`), as request events carry it.
    pub fn query_only(query: &'a str) -> Self {
        Self {
            base: "",
            query: Some(query),
            fragment: None,
        }
    }

    /// Whether the query carries any CloudFront signing parameter.
    pub fn carries_signing_parameters(&self) -> bool {
        self.query_pairs()
            .any(|(name, _)| SIGNING_PARAMETERS.contains(&name))
    }

    /// The raw query pairs that are not signing parameters, in order.
    pub fn own_pairs(&self) -> impl Iterator<Item = &'a str> {
        self.query.unwrap_or("").split('&').filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(name, _)| name);
            !pair.is_empty() && !SIGNING_PARAMETERS.contains(&name)
        })
    }

    /// Raw `name=value` pairs of the query (empty segments skipped).
    pub fn query_pairs(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.query
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
    }

    /// The URL CloudFront checks the policy against: the same URL with the
    /// signing parameters removed and everything else kept in order.
    pub fn without_signing_parameters(&self) -> String {
        let kept: Vec<&str> = self.own_pairs().collect();
        if kept.is_empty() {
            self.base.to_owned()
        } else {
            format!("{}?{}", self.base, kept.join("&"))
        }
    }
}

// ------------------------------------------------------------------ verification

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
    fn new(code: ErrorCode, reason: impl Into<String>) -> Self {
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

/// Where the signing parameters of an accepted request came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantSource {
    Query,
    Cookies,
}

/// What a verified request is allowed: the policy it proved, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub key_pair_id: String,
    pub policy: Policy,
    /// Whether the viewer used the canned (`Expires`) form.
    pub canned: bool,
    pub hash: HashAlgorithm,
    pub source: GrantSource,
    /// The viewer's signing parameters, re-serialisable for propagation.
    pub params: SignatureParams,
}

/// The public keys CloudFront trusts (a key group), by key pair id.
#[derive(Clone, Debug, Default)]
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

    pub fn get(&self, key_pair_id: &str) -> Option<&PublicKey> {
        self.keys.get(key_pair_id)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
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
    }

    fn set(&mut self, name: &str, value: String) {
        let slot = match name {
            "Expires" => &mut self.expires,
            "Policy" => &mut self.policy,
            "Signature" => &mut self.signature,
            "Key-Pair-Id" => &mut self.key_pair_id,
            "Hash-Algorithm" => &mut self.hash,
            _ => return,
        };
        *slot = Some(value);
    }
}

/// A grant as read from a request, before its signature is checked.
struct ParsedGrant {
    grant: Grant,
    /// The exact policy bytes the signature must cover.
    policy_json: Vec<u8>,
    signature: Vec<u8>,
}

/// Reads and decodes the signing parameters a request carries — from the
/// query when any are there, else from the cookies — without checking the
/// signature. Use it only for requests CloudFront has already verified (a
/// Lambda@Edge trigger behind a trusted key group); [`verify_request`] is the
/// checking version.
pub fn read_grant(url: &str, cookies: &[(String, String)]) -> Result<Grant, Rejection> {
    parse_grant(url, cookies).map(|parsed| parsed.grant)
}

fn parse_grant(url: &str, cookies: &[(String, String)]) -> Result<ParsedGrant, Rejection> {
    use ErrorCode::*;
    let parts = UrlParts::split(url);
    let mut found = FoundParams::default();
    for (name, value) in parts.query_pairs() {
        found.set(name, percent_decode(value));
    }
    let mut source = GrantSource::Query;
    if found.is_empty() {
        source = GrantSource::Cookies;
        for (name, value) in cookies {
            if let Some(name) = name.strip_prefix("CloudFront-") {
                found.set(name, value.clone());
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
                format!("Hash-Algorithm `{value}` is neither SHA1 nor SHA256"),
            )
        })?,
    };
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
            let expires: u64 = expires.parse().map_err(|_| {
                Rejection::new(
                    MalformedPolicy,
                    format!("Expires `{expires}` is not an epoch second"),
                )
            })?;
            let policy = Policy::canned(&parts.without_signing_parameters(), expires);
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
    let params = SignatureParams {
        expires: canned.then(|| policy.expires()),
        policy: (!canned).then(|| cf_base64::encode(&policy_json)),
        signature: cf_base64::encode(&signature),
        key_pair_id: key_pair_id.clone(),
        hash,
    };
    Ok(ParsedGrant {
        grant: Grant {
            key_pair_id,
            policy,
            canned,
            hash,
            source,
            params,
        },
        policy_json,
        signature,
    })
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
) -> Result<Grant, Rejection> {
    verify_request_cached(url, cookies, keys, now, client_ip, None)
}

/// Signatures already found valid, so a busy verifier (the emulator under
/// load) checks each (key, policy, signature) once. Only successes are
/// remembered, keyed by a SHA-256 of everything the check covered; the
/// policy's conditions (time, resource, IP) are still evaluated on every
/// request, so caching never admits what a fresh check would refuse.
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

    fn fingerprint(grant: &Grant, policy_json: &[u8], signature: &[u8]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for part in [
            grant.key_pair_id.as_bytes(),
            grant.hash.to_string().as_bytes(),
            policy_json,
            signature,
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

/// [`verify_request`], remembering valid signatures in `cache`.
pub fn verify_request_cached(
    url: &str,
    cookies: &[(String, String)],
    keys: &TrustedKeys,
    now: u64,
    client_ip: Option<IpAddr>,
    cache: Option<&VerifiedSignatures>,
) -> Result<Grant, Rejection> {
    let parsed = parse_grant(url, cookies)?;
    let fingerprint = cache.map(|_| {
        VerifiedSignatures::fingerprint(&parsed.grant, &parsed.policy_json, &parsed.signature)
    });
    let grant = parsed.grant;
    let key = keys.get(&grant.key_pair_id).ok_or_else(|| {
        Rejection::new(
            ErrorCode::InvalidKey,
            format!(
                "key pair id `{}` is not among the trusted keys",
                grant.key_pair_id
            ),
        )
    })?;
    let known = matches!((cache, &fingerprint), (Some(c), Some(f)) if c.contains(f));
    if !known && !key.verify(&parsed.policy_json, &parsed.signature, grant.hash) {
        return Err(Rejection::new(
            ErrorCode::AccessDenied,
            format!(
                "the signature does not match the policy under key `{}` with {}",
                grant.key_pair_id, grant.hash
            ),
        ));
    }
    grant
        .policy
        .admits(
            &UrlParts::split(url).without_signing_parameters(),
            now,
            client_ip,
        )
        .map_err(|denial| Rejection::new(ErrorCode::AccessDenied, denial.to_string()))?;
    if let (Some(cache), Some(fingerprint), false) = (cache, fingerprint, known) {
        cache.insert(fingerprint);
    }
    Ok(grant)
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
    fn url_parts() {
        let parts = UrlParts::split("https://h/p?a=1&Expires=2&b#frag");
        assert_eq!(parts.base, "https://h/p");
        assert_eq!(parts.query, Some("a=1&Expires=2&b"));
        assert_eq!(parts.fragment, Some("frag"));
        assert_eq!(parts.without_signing_parameters(), "https://h/p?a=1&b");
        assert_eq!(
            UrlParts::split("https://h/p?Signature=x").without_signing_parameters(),
            "https://h/p"
        );
    }

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
}
