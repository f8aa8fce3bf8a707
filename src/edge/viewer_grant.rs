//! The viewer's grant: found in the request as its entry point delivers it,
//! then verified — on every entry point — before anything is signed.
//!
//! # Why always verify
//!
//! Every signature the function writes is access to the distribution, so the
//! grant it transforms must be proven, not assumed (DESIGN §5.1):
//!
//! * **Function URL** (the deployed path). CloudFront checked the viewer's
//!   signed URL or cookies, but strips the signing parameters before calling
//!   an origin, and the origin request policy forwards no cookies. The
//!   distribution's CloudFront Function copies them into two headers
//!   (`x-hls-viewer-grant` for query parameters, `x-hls-viewer-cookies` for
//!   `CloudFront-*` cookies), deleting any value a viewer sent itself. A
//!   header is only a claim, so it is verified here with the key group.
//! * **Origin request.** CloudFront verified at the viewer stage, but the
//!   event only carries what the origin request policy forwards.
//! * **Viewer request.** CloudFront verified before the trigger ran — when
//!   the behaviour demands signed URLs. Verifying again costs one signature
//!   check and makes a misconfigured behaviour fail closed.
//!
//! A request without a grant, or whose grant does not verify (wrong or
//! unknown key, bad signature, expired, not yet valid, wrong address, the
//! policy not covering the URL) is refused with 403: never answered with
//! grants the viewer did not prove. As in CloudFront, query parameters take
//! precedence over cookies.
//!
//! One rule is stricter than CloudFront's ([`opens_manifest`]): a custom
//! policy opens a manifest only if it covers the manifest's URL with its `?`
//! characters read literally, and without a `*` reaching into the query.
//! The function issues `?` patterns for runs of segments and `*` patterns
//! for DASH templates; CloudFront's wildcards match any character, the
//! query's `?` included. Read as CloudFront reads them, `…/??????????.ts`
//! would cover `…/abc._m3u8?.ts` and `…/*/seg-*.m4s` would cover
//! `…/x._mpd?a=/seg-1.m4s`: the function would sign a manifest no listing
//! named.

use std::net::IpAddr;

use crate::policy::star_match;
use crate::signed_url::UrlParts;
use crate::verify::{
    parse_cookie_header, GrantSource, Rejection, TrustedKeys, UnverifiedGrant, VerifiedGrant,
    VerifiedSignatures,
};

use super::request::{PlaylistRequest, Trigger};

/// The request headers the deployment uses to carry the grant to a function
/// URL (configured; `None` when switched off).
#[derive(Clone, Copy, Debug)]
pub struct GrantHeaders<'a> {
    /// Holds the viewer's signing query parameters (`Policy=…&Signature=…`).
    pub query: Option<&'a str>,
    /// Holds the viewer's `CloudFront-*` cookies, in `Cookie` header syntax.
    pub cookies: Option<&'a str>,
}

/// Why no verified grant came with a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantRefusal {
    #[error("no viewer grant (signed URL or cookies) reached the function")]
    Missing,
    #[error("{0}")]
    Rejected(Rejection),
    /// The grant verifies only because a `?` in its Resource stands for some
    /// other character: the segment patterns the function issues. Such a
    /// grant never opens a playlist.
    #[error("the grant's Resource matches this manifest only through a wildcard")]
    WildcardOnly,
}

/// A verified grant and the URL it was verified for (the viewer's own query
/// kept, the signing parameters removed): the base the playlist's relative
/// URIs resolve against.
#[derive(Debug)]
pub struct Viewer {
    pub url: String,
    pub grant: VerifiedGrant,
}

impl Viewer {
    pub fn source_name(&self) -> &'static str {
        match self.grant.source() {
            GrantSource::Query => "query",
            GrantSource::Cookies => "cookies",
        }
    }
}

/// Finds the grant `request` carries for `base_url` (`https://host/path`)
/// and verifies it with `keys` at `now`.
pub fn verified_viewer(
    request: &PlaylistRequest,
    base_url: &str,
    headers: GrantHeaders<'_>,
    keys: &TrustedKeys,
    now: u64,
    cache: Option<&VerifiedSignatures>,
) -> Result<Viewer, GrantRefusal> {
    let mut query_parts = vec![request.query.as_str()];
    let mut cookie_text = request.joined_header("cookie", "; ").unwrap_or_default();
    if request.trigger == Trigger::FunctionUrl {
        if let Some(grant) = headers.query.and_then(|name| request.header(name)) {
            query_parts.push(grant);
        }
        if let Some(cookies) = headers.cookies.and_then(|name| request.header(name)) {
            cookie_text.push_str("; ");
            cookie_text.push_str(cookies);
        }
    }
    let url = with_query(base_url, &query_parts);
    let cookies = parse_cookie_header(&cookie_text);
    let carries = UrlParts::split(&url).carries_signing_parameters()
        || cookies
            .iter()
            .any(|(name, _)| name.starts_with("CloudFront-"));
    if !carries {
        return Err(GrantRefusal::Missing);
    }
    let client_ip: Option<IpAddr> = request.client_ip;
    let grant = UnverifiedGrant::read(&url, &cookies)
        .and_then(|claim| claim.verify(keys, now, client_ip, cache))
        .map_err(GrantRefusal::Rejected)?;
    let url = UrlParts::split(&url).without_signing_parameters();
    if !grant.canned() && !opens_manifest(grant.policy().resource(), &url) {
        return Err(GrantRefusal::WildcardOnly);
    }
    Ok(Viewer { url, grant })
}

/// Whether a custom policy's `resource` opens the manifest at `url` (its
/// signing parameters removed): it covers the URL without its query, or it
/// names the URL's path literally and covers the whole URL. Either way `?`
/// is read literally ([`star_match`]).
///
/// A segment pattern the function issues never passes: `?` patterns do not
/// match a routing suffix read literally, and a `*` pattern ending in a
/// segment extension matches a manifest's URL only by reaching into its
/// query, which the first clause leaves out and the second does not allow
/// (its path before `?` is not the manifest's path).
pub fn opens_manifest(resource: &str, url: &str) -> bool {
    let path_only = &url[..url.find('?').unwrap_or(url.len())];
    if star_match(resource, path_only) {
        return true;
    }
    let resource_path = &resource[..resource.find('?').unwrap_or(resource.len())];
    resource_path == path_only && star_match(resource, url)
}

/// `url` with the non-empty query parts joined by `&`.
fn with_query(url: &str, parts: &[&str]) -> String {
    let parts: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        url.to_owned()
    } else {
        format!("{url}?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::opens_manifest;

    #[test]
    fn grants_that_name_the_manifest_open_it() {
        let url = "https://h/v/index._m3u8";
        assert!(opens_manifest("https://h/v/index._m3u8", url));
        assert!(opens_manifest("https://h/v/*", url));
        assert!(opens_manifest("https://h/v/index._m3u8*", url));
        assert!(opens_manifest(
            "https://h/v/index._m3u8*",
            &format!("{url}?_HLS_msn=4")
        ));
        assert!(opens_manifest(
            "https://h/v/index._m3u8?t=1",
            &format!("{url}?t=1")
        ));
        assert!(opens_manifest(
            "https://h/v/index._m3u8?*",
            &format!("{url}?t=1")
        ));
        assert!(opens_manifest("https://h/*", "https://h/v/stream._mpd?x=1"));
    }

    #[test]
    fn segment_patterns_never_open_a_manifest() {
        // `?` patterns, read literally.
        assert!(!opens_manifest(
            "https://h/v/??????????.ts",
            "https://h/v/abc._m3u8?.ts"
        ));
        assert!(!opens_manifest(
            "https://h/v/seg-?????.ts",
            "https://h/v/seg-abcde.ts"
        ));
        // `*` template patterns reaching into the query.
        assert!(!opens_manifest(
            "https://h/v/*/seg-*.m4s",
            "https://h/v/x._mpd?a=/seg-1.m4s"
        ));
        assert!(!opens_manifest(
            "https://h/v/seg-*.m4s",
            "https://h/v/seg-x._mpd?.m4s"
        ));
        // A grant with a query opens only its own path.
        assert!(!opens_manifest(
            "https://h/v/a._mpd?t=1",
            "https://h/v/b._mpd?t=1"
        ));
        assert!(!opens_manifest(
            "https://h/v/index._m3u8?t=1",
            "https://h/v/index._m3u8?t=2"
        ));
    }
}
