//! Signed URLs and signed cookies, and their verification as CloudFront does it.
//!
//! Signing turns a [`Policy`] into the three (or four) parameters CloudFront
//! reads: `Expires` *or* `Policy`, `Signature`, `Key-Pair-Id`, and
//! `Hash-Algorithm=SHA256` when SHA-256 is used. The canned form (`Expires`)
//! is used exactly when CloudFront can rebuild the same policy from the URL.
//!
//! Verification, the inverse, lives in [`crate::verify`].

use std::fmt;
use std::sync::Arc;

use crate::cf_base64;
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
    /// The cookies for signing parameters in query form
    /// (`Policy=…&Signature=…&Key-Pair-Id=…`, as [`SignatureParams::to_query`]
    /// writes them and the signature cache keeps them).
    pub fn from_query(query: &str) -> Self {
        Self {
            cookies: query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(name, value)| (format!("CloudFront-{name}"), value.to_owned()))
                .collect(),
        }
    }

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
}
